//! Reading the enriched mention batch, row by row.

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Int64Type, TimeUnit};

use crate::columns::{bool_column, cast_column, StrColumn};
use crate::error::{OperatorError, Result};
use crate::schema::col;

/// Severity reasons: a list column or newline-joined text.
enum Reasons<'a> {
    /// The list, and its values when they are strings (viewed once per
    /// batch: slicing the list per row allocated).
    List(&'a arrow::array::ListArray, Option<StrColumn<'a>>),
    Text(StrColumn<'a>),
}

/// Column views of one batch.
pub(super) struct Cols<'a> {
    mention_id: StrColumn<'a>,
    channel: StrColumn<'a>,
    text: StrColumn<'a>,
    event_time: ArrayRef,
    handle: Option<StrColumn<'a>>,
    author_id: Option<StrColumn<'a>>,
    category: Option<StrColumn<'a>>,
    customer_id: Option<StrColumn<'a>>,
    segment: Option<StrColumn<'a>>,
    tier: Option<StrColumn<'a>>,
    region: Option<StrColumn<'a>>,
    status: Option<StrColumn<'a>>,
    vulnerable: Option<&'a BooleanArray>,
    matched: Option<&'a BooleanArray>,
    via: Option<StrColumn<'a>>,
    snapshot: Option<StrColumn<'a>>,
    sentiment: Option<ArrayRef>,
    points: Option<ArrayRef>,
    reasons: Option<Reasons<'a>>,
    queue: Option<StrColumn<'a>>,
    incident: Option<StrColumn<'a>>,
    source_partition: Option<&'a arrow::array::Int32Array>,
    source_offset: Option<&'a arrow::array::Int64Array>,
}

/// One mention row.
pub(super) struct Row<'a> {
    pub mention_id: &'a str,
    pub channel: &'a str,
    pub text: &'a str,
    pub at_ms: i64,
    pub handle: Option<&'a str>,
    pub author_id: Option<&'a str>,
    pub category: &'a str,
    pub customer_id: Option<&'a str>,
    pub segment: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub region: Option<&'a str>,
    pub account_status: Option<&'a str>,
    pub vulnerable: Option<bool>,
    pub matched: bool,
    pub via: Option<&'a str>,
    pub snapshot: Option<&'a str>,
    pub sentiment: Option<f32>,
    pub points: i32,
    pub reasons: Vec<&'a str>,
    pub queue: Option<&'a str>,
    pub incident: Option<&'a str>,
    /// Source (partition, offset) in the mention topic, when the batch
    /// carries them (replay detection).
    pub source: Option<(i32, i64)>,
}

fn opt_nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl<'a> Cols<'a> {
    pub(super) fn new(batch: &'a RecordBatch) -> Result<Self> {
        let et = batch
            .column_by_name(col::EVENT_TIME)
            .ok_or_else(|| OperatorError::Input(format!("no column `{}`", col::EVENT_TIME)))?;
        let event_time = match et.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64 => {
                arrow::compute::cast(et, &DataType::Int64)?
            }
            other => {
                return Err(OperatorError::Input(format!(
                    "`{}` must be a millisecond timestamp, found {other}",
                    col::EVENT_TIME
                )))
            }
        };
        let reasons = match batch.column_by_name(col::SEVERITY_REASONS) {
            None => None,
            Some(c) => match c.data_type() {
                DataType::List(_) => {
                    let l = c.as_list::<i32>();
                    let values = match l.value_type() {
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                            Some(StrColumn::of(l.values().as_ref(), col::SEVERITY_REASONS)?)
                        }
                        _ => None,
                    };
                    Some(Reasons::List(l, values))
                }
                _ => Some(Reasons::Text(StrColumn::get(batch, col::SEVERITY_REASONS)?)),
            },
        };
        Ok(Self {
            mention_id: StrColumn::get(batch, col::MENTION_ID)?,
            channel: StrColumn::get(batch, col::CHANNEL)?,
            text: StrColumn::get(batch, col::TEXT)?,
            event_time,
            handle: StrColumn::opt(batch, col::AUTHOR_HANDLE)?,
            author_id: StrColumn::opt(batch, col::AUTHOR_ID)?,
            category: StrColumn::opt(batch, col::CATEGORY)?,
            customer_id: StrColumn::opt(batch, col::CUSTOMER_ID)?,
            segment: StrColumn::opt(batch, col::CUSTOMER_SEGMENT)?,
            tier: StrColumn::opt(batch, col::CUSTOMER_TIER)?,
            region: StrColumn::opt(batch, col::CUSTOMER_REGION)?,
            status: StrColumn::opt(batch, col::CUSTOMER_ACCOUNT_STATUS)?,
            vulnerable: bool_column(batch, col::CUSTOMER_VULNERABLE)?,
            matched: bool_column(batch, col::IDENTITY_MATCHED)?,
            via: StrColumn::opt(batch, col::IDENTITY_VIA)?,
            snapshot: StrColumn::opt(batch, col::IDENTITY_SNAPSHOT)?,
            sentiment: cast_column(batch, col::SENTIMENT_COMPOUND, &DataType::Float32)?,
            points: cast_column(batch, col::SEVERITY_POINTS, &DataType::Int64)?,
            reasons,
            queue: StrColumn::opt(batch, col::QUEUE)?,
            incident: StrColumn::opt(batch, col::INCIDENT_ID)?,
            source_partition: batch
                .column_by_name(col::SOURCE_PARTITION)
                .and_then(|c| c.as_primitive_opt::<arrow::datatypes::Int32Type>()),
            source_offset: batch
                .column_by_name(col::SOURCE_OFFSET)
                .and_then(|c| c.as_primitive_opt::<Int64Type>()),
        })
    }

    pub(super) fn row(&self, i: usize) -> Result<Row<'a>>
    where
        Self: 'a,
    {
        let s = |c: &Option<StrColumn<'a>>| opt_nonempty(c.as_ref().and_then(|c| c.value(i)));
        let req = |c: &StrColumn<'a>, name: &str| {
            c.value(i)
                .ok_or_else(|| OperatorError::Input(format!("`{name}` is null in row {i}")))
        };
        let et = self.event_time.as_primitive::<Int64Type>();
        if et.is_null(i) {
            return Err(OperatorError::Input(format!(
                "`{}` is null in row {i}",
                col::EVENT_TIME
            )));
        }
        let customer_id = s(&self.customer_id);
        let reasons = match &self.reasons {
            None => Vec::new(),
            Some(Reasons::List(l, values)) if l.is_valid(i) => {
                let Some(sc) = values else {
                    return Err(OperatorError::Input(format!(
                        "`{}` must be a list of strings, found list of {}",
                        col::SEVERITY_REASONS,
                        l.value_type()
                    )));
                };
                let offs = l.value_offsets();
                (offs[i] as usize..offs[i + 1] as usize)
                    .filter_map(|j| sc.value(j))
                    .filter(|r| !r.is_empty())
                    .collect()
            }
            Some(Reasons::List(..)) => Vec::new(),
            Some(Reasons::Text(t)) => t
                .value(i)
                .map(|t| t.split('\n').filter(|r| !r.is_empty()).collect())
                .unwrap_or_default(),
        };
        let points = self
            .points
            .as_ref()
            .map(|p| p.as_primitive::<Int64Type>())
            .and_then(|p| p.is_valid(i).then(|| p.value(i)))
            .unwrap_or(0)
            .clamp(i64::from(i32::MIN / 4), i64::from(i32::MAX / 4)) as i32;
        Ok(Row {
            mention_id: req(&self.mention_id, col::MENTION_ID)?,
            channel: req(&self.channel, col::CHANNEL)?,
            text: self.text.value(i).unwrap_or(""),
            at_ms: et.value(i),
            handle: s(&self.handle),
            author_id: s(&self.author_id),
            category: s(&self.category).unwrap_or("general_enquiry"),
            customer_id,
            segment: s(&self.segment),
            tier: s(&self.tier),
            region: s(&self.region),
            account_status: s(&self.status),
            vulnerable: self
                .vulnerable
                .and_then(|b| b.is_valid(i).then(|| b.value(i))),
            matched: self
                .matched
                .and_then(|b| b.is_valid(i).then(|| b.value(i)))
                .unwrap_or(customer_id.is_some()),
            via: s(&self.via),
            snapshot: s(&self.snapshot),
            sentiment: self
                .sentiment
                .as_ref()
                .map(|a| a.as_primitive::<Float32Type>())
                .and_then(|a| a.is_valid(i).then(|| a.value(i)))
                .filter(|v| v.is_finite()),
            points,
            reasons,
            queue: s(&self.queue),
            incident: s(&self.incident),
            source: match (self.source_partition, self.source_offset) {
                (Some(p), Some(o)) if p.is_valid(i) && o.is_valid(i) => {
                    Some((p.value(i), o.value(i)))
                }
                _ => None,
            },
        })
    }
}
