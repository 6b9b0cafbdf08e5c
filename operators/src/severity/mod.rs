//! Severity: an explainable, configurable additive score per mention.
//!
//! Design:
//! - **Additive points.** Each factor found adds (or removes) a fixed,
//!   configured number of points and writes one reason line, formatted
//!   `"{points:+} {label}"` (`+30 vulnerable customer`, `+15 outage stated:
//!   3 days`, `-10 category: praise`). Factors worth 0 points write no line,
//!   so the lines always sum to [`col::SEVERITY_POINTS`].
//! - **Priority and severity.** `priority = clamp(points, 0, 100)`;
//!   `P1` when `priority >= p1_min_priority` (70), `P2` when `>= p2_min_priority`
//!   (45), `P3` when `>= p3_min_priority` (25), else `P4`. SLA due time =
//!   event time + `sla_pN_ms` (defaults 1 h, 4 h, 24 h, 72 h; SPEC).
//! - **Stateless factors** (`Operator::process_batch`, [`Severity::score_row`]):
//!   primary category, sentiment compound, reach (followers, verified,
//!   retweets), vulnerable flag, tier, segment, regulatory words in the text,
//!   stated outage length, missed engineer appointment stated in the text.
//!   A missing input column means the factor is absent (no points), never an
//!   error: without the identity join there are simply no customer factors.
//! - **Stateful factors** (repeat contacts, open cases, forms and calls,
//!   CRM-reported missed appointments) are the correlator's: it owns that
//!   state and their points are in `[correlate]`.
//! - **Text factors** are phrase matches (one Aho-Corasick automaton, ASCII
//!   case-insensitive, word boundaries, `'` also matching `’`). Outage length
//!   and missed-appointment phrases only count when the row's categories
//!   (`categories`, else `category`) include a `fault_categories` entry, so
//!   "my parcel didn't turn up" or "£5 a week" on a billing complaint score
//!   nothing; without category columns they always count.
//! - **Stated outage length** ([`stated_outage`]): a number (digits, `a`/`an`,
//!   `one`…`twelve`, `couple`, `few`, `several`) followed by a unit (hour/hr/h,
//!   day, week/wk, fortnight, optionally with `of`/`more`/`whole`/`full`/
//!   `entire`/`straight` between), or `since yesterday` (24 h), `since last
//!   night` (12 h), `since the weekend` (48 h), `since last week` (168 h).
//!   Months and years are deliberately not units ("12 month contract", "£30 a
//!   month"); neither are weekday names ("since Monday" needs the event's
//!   weekday: a later refinement). Frequencies are skipped ("twice a day",
//!   "3 times a week", "every 2 hours", "5 a week"). The longest duration not
//!   above `outage_max_hours` wins.
//! - **Reasons column** is `List<Utf8>` (non-null list of non-null lines), so
//!   the work-item sink writes it as the `reasons` JSON array unchanged.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, ListBuilder, StringBuilder, UInt8Builder,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

mod config;
mod outage;
#[cfg(test)]
mod tests;
mod urgency;

pub use config::{SeverityConfig, Step};
pub use outage::{stated_outage, StatedOutage};

use crate::classify::{check_category, Category};
use crate::columns::{append_columns, bool_at, cast_numeric, str_at, StrColumn};
use crate::error::{config_err, OperatorError, Result};
use crate::operator::{names, Operator};
use crate::schema::col;
use crate::text::{boundaries, is_whole_match, phrase_automaton};

/// The four severities of the SPEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SeverityLevel {
    /// Act now.
    P1,
    /// Same working session.
    P2,
    /// Same day.
    P3,
    /// When convenient.
    P4,
}

impl SeverityLevel {
    /// All levels, most severe first.
    pub const ALL: [SeverityLevel; 4] = [Self::P1, Self::P2, Self::P3, Self::P4];

    /// `P1` … `P4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }

    /// Parses `P1` … `P4`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for SeverityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stateless inputs of one mention, as read from the enriched columns.
/// `None` = factor absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct MentionFactors<'a> {
    /// Mention text.
    pub text: &'a str,
    /// Primary category label (`category`).
    pub category: Option<&'a str>,
    /// Every category that scored, comma-joined (`categories`).
    pub categories: Option<&'a str>,
    /// Sentiment compound in −1…1 (`sentiment_compound`).
    pub sentiment_compound: Option<f64>,
    /// Author follower count (`author_followers`).
    pub followers: Option<i64>,
    /// Author verified flag (`author_verified`).
    pub verified: Option<bool>,
    /// Retweet/share count (`retweet_count`).
    pub retweets: Option<i64>,
    /// Vulnerable customer (`customer_vulnerable`).
    pub vulnerable: Option<bool>,
    /// Customer tier (`customer_tier`).
    pub tier: Option<&'a str>,
    /// Customer segment (`customer_segment`).
    pub segment: Option<&'a str>,
}

/// The score of one mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowScore {
    /// Additive score before clamping (the sum of the reason lines' points).
    pub points: i32,
    /// `clamp(points, 0, 100)`.
    pub priority: u8,
    /// Severity from the configured thresholds.
    pub severity: SeverityLevel,
    /// One line per factor, `"+30 vulnerable customer"`.
    pub reasons: Vec<String>,
}

/// Where [`Severity`]'s reason lines (`"+30 vulnerable customer"`) go: a
/// `String` each for [`RowScore`], or straight into the list column's
/// string builder in `Operator::process_batch` (no allocation per line).
trait ReasonSink {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display);
}

impl ReasonSink for Vec<String> {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display) {
        self.push(format!("{points:+} {label}"));
    }
}

impl ReasonSink for StringBuilder {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display) {
        use std::fmt::Write;
        // Writing into a String builder cannot fail; the value is ended by
        // appending the empty string.
        let _ = write!(self, "{points:+} {label}");
        self.append_value("");
    }
}

/// Label of the text-stated missed appointment line.
const MISSED_STATED: &str = "missed engineer appointment (stated)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhraseKind {
    Regulatory,
    MissedAppointment,
    Loss,
    Repetition,
    Leaving,
    Vulnerability,
    Harm,
}

/// Urgency phrase kinds after the regulatory and missed-appointment ones,
/// in [`TextHits::first`] order.
const URGENCY: [PhraseKind; 5] = [
    PhraseKind::Loss,
    PhraseKind::Repetition,
    PhraseKind::Leaving,
    PhraseKind::Vulnerability,
    PhraseKind::Harm,
];

/// What the phrase scan of one text found.
#[derive(Debug, Default)]
struct TextHits<'a> {
    regulatory: Vec<&'a str>,
    missed: bool,
    /// First phrase of each [`URGENCY`] kind, in text order.
    first: [Option<&'a str>; 5],
}

/// The severity operator. Cheap to share (`&self` everywhere).
#[derive(Debug, Clone)]
pub struct Severity {
    cfg: Arc<SeverityConfig>,
    ac: Arc<AhoCorasick>,
    /// Automaton pattern id → (kind, canonical phrase).
    patterns: Arc<[(PhraseKind, Box<str>)]>,
    category_points: [i32; 10],
    fault: [bool; 10],
}

impl Severity {
    /// Validates the config and compiles the phrase automaton.
    pub fn new(config: &SeverityConfig) -> Result<Self> {
        config.validate()?;
        let mut category_points = [0; 10];
        for (label, p) in &config.category_points {
            category_points[check_category(String::new(), label)?.index()] = *p;
        }
        let mut fault = [false; 10];
        for label in &config.fault_categories {
            fault[check_category(String::new(), label)?.index()] = true;
        }
        let mut pats: Vec<String> = Vec::new();
        let mut infos: Vec<(PhraseKind, Box<str>)> = Vec::new();
        for (kind, list) in [
            (PhraseKind::Regulatory, &config.regulatory_phrases),
            (
                PhraseKind::MissedAppointment,
                &config.missed_appointment_phrases,
            ),
            (PhraseKind::Loss, &config.loss_phrases),
            (PhraseKind::Repetition, &config.repetition_phrases),
            (PhraseKind::Leaving, &config.leaving_phrases),
            (PhraseKind::Vulnerability, &config.vulnerability_phrases),
            (PhraseKind::Harm, &config.harm_phrases),
        ] {
            for p in list {
                let canon = p.split_whitespace().collect::<Vec<_>>().join(" ");
                let canon = canon.to_ascii_lowercase();
                if canon.contains('\'') {
                    pats.push(canon.replace('\'', "\u{2019}"));
                    infos.push((kind, canon.clone().into()));
                }
                pats.push(canon.clone());
                infos.push((kind, canon.into()));
            }
        }
        let ac = phrase_automaton(&pats)
            .map_err(|e| config_err("severity.regulatory_phrases", e.to_string()))?;
        Ok(Self {
            cfg: Arc::new(config.clone()),
            ac: Arc::new(ac),
            patterns: infos.into(),
            category_points,
            fault,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SeverityConfig {
        &self.cfg
    }

    /// Priority and severity for an additive score.
    pub fn grade(&self, points: i32) -> (u8, SeverityLevel) {
        let priority = points.clamp(0, 100) as u8;
        let c = &self.cfg;
        let level = if priority >= c.p1_min_priority {
            SeverityLevel::P1
        } else if priority >= c.p2_min_priority {
            SeverityLevel::P2
        } else if priority >= c.p3_min_priority {
            SeverityLevel::P3
        } else {
            SeverityLevel::P4
        };
        (priority, level)
    }

    /// The SLA of a severity, milliseconds.
    pub fn sla_ms(&self, level: SeverityLevel) -> u64 {
        match level {
            SeverityLevel::P1 => self.cfg.sla_p1_ms,
            SeverityLevel::P2 => self.cfg.sla_p2_ms,
            SeverityLevel::P3 => self.cfg.sla_p3_ms,
            SeverityLevel::P4 => self.cfg.sla_p4_ms,
        }
    }

    /// When a work item of this severity is due: event time + its SLA
    /// (milliseconds since the epoch, saturating).
    pub fn sla_due_ms(&self, level: SeverityLevel, event_time_ms: i64) -> i64 {
        event_time_ms.saturating_add(self.sla_ms(level) as i64)
    }

    fn finish(&self, points: i32, reasons: Vec<String>) -> RowScore {
        let (priority, severity) = self.grade(points);
        RowScore {
            points,
            priority,
            severity,
            reasons,
        }
    }

    /// Scores one mention from its stateless factors.
    pub fn score_row(&self, m: &MentionFactors<'_>) -> RowScore {
        let mut reasons = Vec::new();
        let points = self.score_lines(m, &mut reasons);
        self.finish(points, reasons)
    }

    /// The additive score of one mention; its reason lines go to `sink`.
    fn score_lines(&self, m: &MentionFactors<'_>, sink: &mut dyn ReasonSink) -> i32 {
        let c = &self.cfg;
        let mut points = 0i32;
        let mut add = |p: i32, label: &dyn std::fmt::Display| {
            if p != 0 {
                points = points.saturating_add(p);
                sink.line(p, label);
            }
        };

        let primary = m.category.and_then(Category::parse);
        if let Some(cat) = primary {
            add(
                self.category_points[cat.index()],
                &format_args!("category: {cat}"),
            );
        }
        if let Some(s) = m.sentiment_compound.filter(|s| s.is_finite()) {
            if s <= c.negative_sentiment_threshold as f64 {
                let p = (-s * c.negative_sentiment_max_points as f64).round() as i32;
                add(p, &format_args!("negative sentiment ({s:.2})"));
            } else if s >= c.positive_sentiment_threshold as f64
                && !self.is_fault(m.category, m.categories)
                && !is_problem(primary)
            {
                // Sarcasm ("no service again. Thank goodness for …") never
                // lowers a problem's priority: positive words score only on
                // praise and chatter.
                add(
                    c.positive_sentiment_points,
                    &format_args!("positive sentiment ({s:.2})"),
                );
            }
        }
        if let Some(f) = m.followers {
            if let Some(p) = step_points(&c.followers_points, f) {
                add(p, &format_args!("reach: {f} followers"));
            }
        }
        if m.verified == Some(true) {
            add(c.verified_points, &"reach: verified author");
        }
        if let Some(r) = m.retweets {
            if let Some(p) = step_points(&c.retweets_points, r) {
                add(p, &format_args!("spreading: {r} retweets"));
            }
        }
        if m.vulnerable == Some(true) {
            add(c.vulnerable_points, &"vulnerable customer");
        }
        if let Some(t) = m.tier {
            if let Some(&p) = c.tier_points.get(t) {
                add(p, &format_args!("tier: {t}"));
            }
        }
        if let Some(s) = m.segment {
            if let Some(&p) = c.segment_points.get(s) {
                add(p, &format_args!("segment: {s}"));
            }
        }

        // Text factors.
        let hits = self.scan(m.text);
        if !hits.regulatory.is_empty() {
            add(
                c.regulatory_points,
                &format_args!("regulatory threat: {}", hits.regulatory.join(", ")),
            );
        }
        let fault = self.is_fault(m.category, m.categories);
        if fault {
            if let Some(o) = stated_outage(m.text, c.outage_max_hours) {
                if let Some(p) = step_points(&c.outage_hours_points, o.hours as i64) {
                    add(p, &format_args!("outage stated: {}", o.phrase));
                }
            }
            if hits.missed {
                add(c.missed_appointment_points, &MISSED_STATED);
            }
        }
        let problem = is_problem(primary);
        let urgency = [
            (fault, c.loss_points, "service loss stated"),
            (fault, c.repetition_points, "repetition stated"),
            (fault, c.leaving_points, "threat to leave over a fault"),
            (problem, c.vulnerability_points, "vulnerability stated"),
            (problem, c.harm_points, "money or security harm"),
        ];
        for ((on, p, label), phrase) in urgency.into_iter().zip(hits.first) {
            if let (true, Some(phrase)) = (on, phrase) {
                add(p, &format_args!("{label}: {phrase}"));
            }
        }
        points
    }

    /// Whether outage length / missed-appointment phrases count for a row.
    fn is_fault(&self, category: Option<&str>, categories: Option<&str>) -> bool {
        match (categories, category) {
            (Some(list), _) if !list.is_empty() => list
                .split(',')
                .filter_map(|l| Category::parse(l.trim()))
                .any(|c| self.fault[c.index()]),
            (_, Some(cat)) => Category::parse(cat).is_some_and(|c| self.fault[c.index()]),
            (Some(_), None) => false,
            (None, None) => true,
        }
    }

    /// Distinct regulatory phrases (text order), whether a missed
    /// appointment is stated and the first phrase of each urgency kind.
    fn scan<'a>(&'a self, text: &str) -> TextHits<'a> {
        let mut hits = TextHits::default();
        for m in self.ac.find_overlapping_iter(text) {
            let (start, end) = (m.start(), m.end());
            let (kind, phrase) = &self.patterns[m.pattern().as_usize()];
            if !is_whole_match(text, start, end, boundaries(phrase)) {
                continue;
            }
            match kind {
                PhraseKind::MissedAppointment => hits.missed = true,
                PhraseKind::Regulatory => {
                    // "ombudsman services" also contains "ombudsman": keep the shorter
                    // name once.
                    if !hits
                        .regulatory
                        .iter()
                        .any(|r| r.contains(&**phrase) || phrase.contains(*r))
                    {
                        hits.regulatory.push(phrase);
                    }
                }
                k => {
                    if let Some(i) = URGENCY.iter().position(|u| u == k) {
                        hits.first[i].get_or_insert(phrase);
                    }
                }
            }
        }
        hits
    }

    /// Reads the stateless score of row `row` back from a batch produced by
    /// `Operator::process_batch` (for callers that need one row's score).
    pub fn row_score(&self, batch: &RecordBatch, row: usize) -> Result<RowScore> {
        let missing = |name: &str| OperatorError::Input(format!("no usable column `{name}`"));
        let points = batch
            .column_by_name(col::SEVERITY_POINTS)
            .and_then(|a| a.as_primitive_opt::<arrow::datatypes::Int32Type>())
            .ok_or_else(|| missing(col::SEVERITY_POINTS))?;
        let reasons = batch
            .column_by_name(col::SEVERITY_REASONS)
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| missing(col::SEVERITY_REASONS))?;
        if row >= batch.num_rows() {
            return Err(OperatorError::Input(format!(
                "row {row} out of range ({} rows)",
                batch.num_rows()
            )));
        }
        let lines = reasons.value(row);
        let lines = lines
            .as_string_opt::<i32>()
            .ok_or_else(|| missing(col::SEVERITY_REASONS))?;
        let reasons = lines.iter().flatten().map(str::to_owned).collect();
        Ok(self.finish(points.value(row), reasons))
    }
}

/// Points of the highest step reached.
fn step_points(steps: &[Step], v: i64) -> Option<i32> {
    steps
        .iter()
        .rev()
        .find(|s| v >= s.at_least)
        .map(|s| s.points)
}

impl SeverityConfig {
    /// Validates the settings and builds the operator.
    pub fn build(&self) -> Result<Severity> {
        Severity::new(self)
    }
}

impl Operator for Severity {
    fn name(&self) -> &'static str {
        names::SEVERITY
    }

    /// Appends [`col::SEVERITY_POINTS`], [`col::PRIORITY`], [`col::SEVERITY`]
    /// and [`col::SEVERITY_REASONS`] (replacing same-named columns). Reads,
    /// when present: `text`, `category`, `categories`, `sentiment_compound`,
    /// `author_followers`, `author_verified`, `retweet_count`,
    /// `customer_vulnerable`, `customer_tier`, `customer_segment`; a missing
    /// column is an absent factor. A column of an unusable type is an error.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::opt(batch, col::TEXT)?;
        let category = StrColumn::opt(batch, col::CATEGORY)?;
        let categories = StrColumn::opt(batch, col::CATEGORIES)?;
        let compound = cast_numeric(batch, col::SENTIMENT_COMPOUND, &DataType::Float64)?;
        let compound = compound.as_ref().map(|a| a.as_primitive::<Float64Type>());
        let followers = cast_numeric(batch, col::AUTHOR_FOLLOWERS, &DataType::Int64)?;
        let followers = followers.as_ref().map(|a| a.as_primitive::<Int64Type>());
        let retweets = cast_numeric(batch, col::RETWEET_COUNT, &DataType::Int64)?;
        let retweets = retweets.as_ref().map(|a| a.as_primitive::<Int64Type>());
        let verified = cast_numeric(batch, col::AUTHOR_VERIFIED, &DataType::Boolean)?;
        let verified = verified.as_ref().map(|a| a.as_boolean());
        let vulnerable = cast_numeric(batch, col::CUSTOMER_VULNERABLE, &DataType::Boolean)?;
        let vulnerable = vulnerable.as_ref().map(|a| a.as_boolean());
        let tier = StrColumn::opt(batch, col::CUSTOMER_TIER)?;
        let segment = StrColumn::opt(batch, col::CUSTOMER_SEGMENT)?;

        let n = batch.num_rows();
        let mut points_b = Int32Builder::with_capacity(n);
        let mut prio_b = UInt8Builder::with_capacity(n);
        let mut sev_b = StringBuilder::with_capacity(n, n * 2);
        let mut reasons_b = ListBuilder::with_capacity(StringBuilder::new(), n)
            .with_field(Field::new("item", DataType::Utf8, false));
        for i in 0..n {
            let m = MentionFactors {
                text: str_at(&text, i).unwrap_or(""),
                category: str_at(&category, i),
                categories: str_at(&categories, i),
                sentiment_compound: compound.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                followers: followers.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                verified: bool_at(verified, i),
                retweets: retweets.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                vulnerable: bool_at(vulnerable, i),
                tier: str_at(&tier, i),
                segment: str_at(&segment, i),
            };
            let points = self.score_lines(&m, reasons_b.values());
            let (priority, severity) = self.grade(points);
            points_b.append_value(points);
            prio_b.append_value(priority);
            sev_b.append_value(severity.as_str());
            reasons_b.append(true);
        }
        let reasons: ArrayRef = Arc::new(reasons_b.finish());
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::SEVERITY_POINTS, DataType::Int32, false),
                    Arc::new(points_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::PRIORITY, DataType::UInt8, false),
                    Arc::new(prio_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::SEVERITY, DataType::Utf8, false),
                    Arc::new(sev_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::SEVERITY_REASONS, reasons.data_type().clone(), false),
                    reasons,
                ),
            ],
        )
    }
}

/// Whether a primary category names a problem (not praise or chatter).
fn is_problem(primary: Option<Category>) -> bool {
    !matches!(
        primary,
        None | Some(Category::Praise) | Some(Category::GeneralEnquiry)
    )
}
