//! Parse operator: raw Kafka record bytes → normalized mention rows in an
//! Arrow [`RecordBatch`] with [`crate::schema::mention_schema`].
//!
//! Formats are detected per record (see SPEC "Mention formats"). A record
//! that cannot be parsed is returned as a [`Rejection`] (DLQ data), never a
//! panic or an `Err`.
//!
//! API CONTRACT (the runtime codes against this; keep it stable):
//! - `MentionParser::new(ParseConfig)`
//! - `push(&mut self, payload: &[u8], meta: &SourceMeta, ingest_time_ms: i64) -> Result<u32, Rejection>`
//!   appends 0..n rows (n > 1 for a Facebook webhook carrying several mentions),
//!   returns the number of rows appended, or a Rejection (nothing appended).
//! - `rows(&self) -> usize` rows buffered since the last `finish`.
//! - `finish(&mut self) -> RecordBatch` hands over the buffered rows and resets.
//! - `take_stats(&mut self) -> ParseStats` counters since the last call.

use arrow::record_batch::RecordBatch;
use simd_json::{Buffers, Node, Tape};

mod builder;
mod envelope;
mod facebook;
mod nodes;
pub mod time;
mod twitter_v1;
mod twitter_v2;

#[cfg(test)]
mod tests;

use builder::{Columns, Row};
use nodes::Val;

/// Parser settings (built from the `[parse]` config section by the runtime).
#[derive(Debug, Clone)]
pub struct ParseConfig {
    /// Records larger than this many bytes are rejected with `too_large`.
    pub max_record_bytes: usize,
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self {
            max_record_bytes: 64 * 1024,
        }
    }
}

/// Where a record came from; copied into every row it produces.
#[derive(Debug, Clone, Copy)]
pub struct SourceMeta<'a> {
    /// Kafka topic, or the input file name in `process` mode.
    pub topic: &'a str,
    /// Kafka partition (`-1` for files).
    pub partition: i32,
    /// Kafka offset (line number for files).
    pub offset: i64,
}

/// Detected wire format of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Twitter API v1.1 status object.
    TwitterV1,
    /// Twitter/X API v2 response (`data`, `includes.users`).
    TwitterV2,
    /// Facebook Graph page webhook (`entry[].changes[].value`).
    Facebook,
    /// The canonical envelope (web forms, app chat, email bridges).
    Envelope,
}

impl Format {
    /// All formats, in metric-label order.
    pub const ALL: [Format; 4] = [
        Format::TwitterV1,
        Format::TwitterV2,
        Format::Facebook,
        Format::Envelope,
    ];

    /// Stable label used in the `format` column and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::TwitterV1 => "twitter_v1",
            Format::TwitterV2 => "twitter_v2",
            Format::Facebook => "facebook",
            Format::Envelope => "envelope",
        }
    }

    /// Index into per-format counter arrays (`ParseStats::records_by_format`).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a record went to the dead-letter queue (`error.reason` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DlqReason {
    /// Not JSON at all, or truncated.
    InvalidJson,
    /// Valid JSON that matches no supported format.
    UnknownFormat,
    /// A required field (text, time, id) is missing or has the wrong type.
    MissingField,
    /// Larger than `max_record_bytes`.
    TooLarge,
    /// Bytes are not UTF-8.
    InvalidUtf8,
}

impl DlqReason {
    /// All reasons, in metric-label order.
    pub const ALL: [DlqReason; 5] = [
        DlqReason::InvalidJson,
        DlqReason::UnknownFormat,
        DlqReason::MissingField,
        DlqReason::TooLarge,
        DlqReason::InvalidUtf8,
    ];

    /// The short code written to the `error.reason` header.
    pub fn as_str(self) -> &'static str {
        match self {
            DlqReason::InvalidJson => "invalid_json",
            DlqReason::UnknownFormat => "unknown_format",
            DlqReason::MissingField => "missing_field",
            DlqReason::TooLarge => "too_large",
            DlqReason::InvalidUtf8 => "invalid_utf8",
        }
    }
}

/// A record the parser refused: goes to the DLQ with these headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Short code (`error.reason`).
    pub reason: DlqReason,
    /// Human-readable detail (`error.detail`), at most a few hundred bytes.
    pub detail: String,
}

/// Counters accumulated by the parser; the runtime drains them into metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Records parsed successfully, by [`Format::index`].
    pub records_by_format: [u64; 4],
    /// Mention rows produced.
    pub rows: u64,
    /// Records rejected, by position in [`DlqReason::ALL`].
    pub rejected_by_reason: [u64; 5],
    /// Entries inside an otherwise valid record that carry no mention
    /// (e.g. a Facebook reaction or a deleted comment): a counted drop.
    pub non_actionable_entries: u64,
}

/// Parses records into a buffered mention batch.
///
/// Each record is copied into a reused, padded scratch buffer and parsed
/// into a reused simd-json tape; the tape is walked once and the mention
/// fields are appended straight into reused Arrow builders.
pub struct MentionParser {
    config: ParseConfig,
    stats: ParseStats,
    /// Padded copy of the current record (simd-json unescapes in place).
    scratch: Vec<u8>,
    /// simd-json stage-1/2 scratch, reused across records.
    buffers: Buffers,
    /// Tape allocation, reused across records (empty between calls).
    tape: Tape<'static>,
    cols: Columns,
}

/// Rows per batch the builders are first sized for.
const INITIAL_ROWS: usize = 1024;
/// Longest `error.detail` written.
const MAX_DETAIL: usize = 200;

impl MentionParser {
    /// Creates a parser with empty buffers.
    pub fn new(config: ParseConfig) -> Self {
        Self {
            config,
            stats: ParseStats::default(),
            scratch: Vec::new(),
            buffers: Buffers::default(),
            tape: Tape(Vec::new()),
            cols: Columns::with_capacity(INITIAL_ROWS, INITIAL_ROWS * 160),
        }
    }

    /// Parses one record, appending its mention rows.
    ///
    /// Returns the number of rows appended (0 for a record that carries only
    /// non-actionable entries), or a [`Rejection`], in which case nothing was
    /// appended.
    pub fn push(
        &mut self,
        payload: &[u8],
        meta: &SourceMeta<'_>,
        ingest_time_ms: i64,
    ) -> Result<u32, Rejection> {
        let result = self.push_inner(payload, meta, ingest_time_ms);
        if let Err(r) = &result {
            self.stats.rejected_by_reason[reason_index(r.reason)] += 1;
        }
        result
    }

    fn push_inner(
        &mut self,
        payload: &[u8],
        meta: &SourceMeta<'_>,
        ingest_time_ms: i64,
    ) -> Result<u32, Rejection> {
        let len = payload.len();
        if len > self.config.max_record_bytes {
            return Err(Rejection {
                reason: DlqReason::TooLarge,
                detail: format!(
                    "record is {len} bytes, over the {}-byte limit",
                    self.config.max_record_bytes
                ),
            });
        }
        let need = len + simd_json::INPUT_PADDING;
        if self.scratch.len() < need {
            self.scratch.resize(need, 0);
        }
        self.scratch[..len].copy_from_slice(payload);

        // Recycle the tape allocation for this record's lifetime.
        let mut tape: Tape<'_> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let result =
            match simd_json::fill_tape_padded(&mut self.scratch, len, &mut self.buffers, &mut tape)
            {
                Err(e) => Err(json_rejection(payload, &e)),
                Ok(()) => {
                    let mut out = Out {
                        cols: &mut self.cols,
                        meta,
                        ingest_time_ms,
                        rows: 0,
                        skipped: 0,
                        bad: 0,
                        first_err: None,
                    };
                    match dispatch(&tape.0, &mut out) {
                        Err(r) => Err(r),
                        Ok(format) => {
                            let (rows, skipped, bad) = (out.rows, out.skipped, out.bad);
                            if rows == 0 && bad > 0 {
                                let e = out.first_err.unwrap_or(FieldErr::missing(""));
                                Err(Rejection {
                                    reason: DlqReason::MissingField,
                                    detail: e.detail(format),
                                })
                            } else {
                                // Malformed entries next to good ones are a counted drop.
                                self.stats.non_actionable_entries += skipped + bad;
                                self.stats.records_by_format[format.index()] += 1;
                                self.stats.rows += u64::from(rows);
                                Ok(rows)
                            }
                        }
                    }
                }
            };
        self.tape = tape.reset();
        result
    }

    /// Rows buffered since the last [`finish`](Self::finish).
    pub fn rows(&self) -> usize {
        self.cols.rows()
    }

    /// Hands over the buffered rows as one batch and resets the buffers.
    pub fn finish(&mut self) -> RecordBatch {
        self.cols.finish()
    }

    /// Counters since the last call.
    pub fn take_stats(&mut self) -> ParseStats {
        std::mem::take(&mut self.stats)
    }
}

#[inline]
fn reason_index(r: DlqReason) -> usize {
    match r {
        DlqReason::InvalidJson => 0,
        DlqReason::UnknownFormat => 1,
        DlqReason::MissingField => 2,
        DlqReason::TooLarge => 3,
        DlqReason::InvalidUtf8 => 4,
    }
}

/// Cuts `s` to at most [`MAX_DETAIL`] bytes on a char boundary.
fn clip(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cold]
fn json_rejection(payload: &[u8], e: &simd_json::Error) -> Rejection {
    // simd-json reports a syntax error before a UTF-8 error when a record has
    // both, so bad UTF-8 is checked on the original bytes.
    if let Err(u) = std::str::from_utf8(payload) {
        return Rejection {
            reason: DlqReason::InvalidUtf8,
            detail: format!("invalid UTF-8 at byte {}", u.valid_up_to()),
        };
    }
    if matches!(e.error(), simd_json::ErrorType::InvalidUtf8) {
        return Rejection {
            reason: DlqReason::InvalidUtf8,
            detail: format!("invalid UTF-8 at byte {}", e.index()),
        };
    }
    Rejection {
        reason: DlqReason::InvalidJson,
        detail: clip(format!(
            "invalid JSON at byte {}: {:?}",
            e.index(),
            e.error()
        )),
    }
}

#[cold]
fn unknown(detail: &str) -> Rejection {
    Rejection {
        reason: DlqReason::UnknownFormat,
        detail: detail.to_owned(),
    }
}

/// What is wrong with a required field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Missing,
    WrongType,
    Invalid,
}

/// A required field that is missing, mistyped or unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldErr {
    pub field: &'static str,
    pub problem: Problem,
}

impl FieldErr {
    #[inline]
    pub(crate) const fn missing(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::Missing,
        }
    }
    #[inline]
    pub(crate) const fn wrong_type(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::WrongType,
        }
    }
    #[inline]
    pub(crate) const fn invalid(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::Invalid,
        }
    }

    #[cold]
    fn detail(self, format: Format) -> String {
        let f = format.as_str();
        let field = self.field;
        clip(match self.problem {
            Problem::Missing => format!("{f}: missing `{field}`"),
            Problem::WrongType => format!("{f}: `{field}` has the wrong type"),
            Problem::Invalid => format!("{f}: invalid `{field}`"),
        })
    }
}

/// A required string: absent or null is `Missing`, another type `WrongType`.
#[inline]
pub(crate) fn req_str<'i>(
    v: Option<Val<'_, 'i>>,
    field: &'static str,
) -> Result<&'i str, FieldErr> {
    match v {
        Some(v) if !nodes::is_null(v) => nodes::as_str(v).ok_or(FieldErr::wrong_type(field)),
        _ => Err(FieldErr::missing(field)),
    }
}

/// An optional string: anything but a string is treated as absent.
#[inline]
pub(crate) fn opt_str<'i>(v: Option<Val<'_, 'i>>) -> Option<&'i str> {
    v.and_then(nodes::as_str)
}

#[inline]
pub(crate) fn opt_i64(v: Option<Val<'_, '_>>) -> Option<i64> {
    v.and_then(nodes::as_i64)
}

#[inline]
pub(crate) fn opt_bool(v: Option<Val<'_, '_>>) -> Option<bool> {
    v.and_then(nodes::as_bool)
}

/// An id given as a string or a non-negative integer.
#[inline]
pub(crate) fn opt_id<'i>(v: Option<Val<'_, 'i>>) -> Option<builder::Id<'i>> {
    let v = v?;
    match nodes::as_str(v) {
        Some(s) => Some(builder::Id::Str(s)),
        None => nodes::as_u64(v).map(builder::Id::Num),
    }
}

/// A required id (string or non-negative integer).
#[inline]
pub(crate) fn req_id<'i>(
    v: Option<Val<'_, 'i>>,
    field: &'static str,
) -> Result<builder::Id<'i>, FieldErr> {
    match v {
        Some(x) if !nodes::is_null(x) => opt_id(v).ok_or(FieldErr::wrong_type(field)),
        _ => Err(FieldErr::missing(field)),
    }
}

/// Where a record's rows go, with per-entry bookkeeping.
pub(crate) struct Out<'c, 'm> {
    cols: &'c mut Columns,
    meta: &'m SourceMeta<'m>,
    ingest_time_ms: i64,
    /// Rows appended for this record.
    pub rows: u32,
    /// Entries that carry no mention (reactions, removals, empty messages).
    pub skipped: u64,
    /// Entries that looked like mentions but lacked a required field.
    pub bad: u64,
    /// The first such problem, for the rejection detail.
    pub first_err: Option<FieldErr>,
}

impl Out<'_, '_> {
    #[inline]
    pub(crate) fn row(&mut self, r: &Row<'_>) {
        self.cols.append(r, self.meta, self.ingest_time_ms);
        self.rows = self.rows.saturating_add(1);
    }

    /// Appends `r`, or records why there is no row.
    #[inline]
    pub(crate) fn entry(&mut self, r: Result<Row<'_>, FieldErr>) {
        match r {
            Ok(r) => self.row(&r),
            Err(e) => self.bad(e),
        }
    }

    #[inline]
    pub(crate) fn bad(&mut self, e: FieldErr) {
        self.bad += 1;
        if self.first_err.is_none() {
            self.first_err = Some(e);
        }
    }

    #[inline]
    pub(crate) fn skip(&mut self) {
        self.skipped += 1;
    }
}

/// The top-level keys any format cares about, collected in one pass.
#[derive(Default, Clone, Copy)]
pub(crate) struct Top<'t, 'i> {
    pub id_str: Option<Val<'t, 'i>>,
    pub id: Option<Val<'t, 'i>>,
    pub created_at: Option<Val<'t, 'i>>,
    pub text: Option<Val<'t, 'i>>,
    pub full_text: Option<Val<'t, 'i>>,
    pub extended_tweet: Option<Val<'t, 'i>>,
    pub user: Option<Val<'t, 'i>>,
    pub retweeted_status: Option<Val<'t, 'i>>,
    pub in_reply_to_status_id_str: Option<Val<'t, 'i>>,
    pub lang: Option<Val<'t, 'i>>,
    pub place: Option<Val<'t, 'i>>,
    pub retweet_count: Option<Val<'t, 'i>>,
    pub statuses: Option<Val<'t, 'i>>,
    pub data: Option<Val<'t, 'i>>,
    pub includes: Option<Val<'t, 'i>>,
    pub object: Option<Val<'t, 'i>>,
    pub entry: Option<Val<'t, 'i>>,
    pub channel: Option<Val<'t, 'i>>,
    pub author: Option<Val<'t, 'i>>,
    pub in_reply_to: Option<Val<'t, 'i>>,
    pub url: Option<Val<'t, 'i>>,
}

impl<'t, 'i> Top<'t, 'i> {
    /// Collects the keys of object `v` (None if `v` is not an object).
    /// A repeated key keeps its last value.
    #[inline]
    pub(crate) fn collect(v: Val<'t, 'i>) -> Option<Self> {
        let mut t = Top::default();
        for (k, v) in nodes::object(v)? {
            let slot = match k {
                "id_str" => &mut t.id_str,
                "id" => &mut t.id,
                "created_at" => &mut t.created_at,
                "text" => &mut t.text,
                "full_text" => &mut t.full_text,
                "extended_tweet" => &mut t.extended_tweet,
                "user" => &mut t.user,
                "retweeted_status" => &mut t.retweeted_status,
                "in_reply_to_status_id_str" => &mut t.in_reply_to_status_id_str,
                "lang" => &mut t.lang,
                "place" => &mut t.place,
                "retweet_count" => &mut t.retweet_count,
                "statuses" => &mut t.statuses,
                "data" => &mut t.data,
                "includes" => &mut t.includes,
                "object" => &mut t.object,
                "entry" => &mut t.entry,
                "channel" => &mut t.channel,
                "author" => &mut t.author,
                "in_reply_to" => &mut t.in_reply_to,
                "url" => &mut t.url,
                _ => continue,
            };
            *slot = Some(v);
        }
        Some(t)
    }

    /// Looks like a Twitter v1.1 status.
    #[inline]
    fn is_twitter_v1(&self) -> bool {
        self.id_str.is_some()
            || self.user.is_some()
            || self.extended_tweet.is_some()
            || self.full_text.is_some()
            || self.retweeted_status.is_some()
            || self.in_reply_to_status_id_str.is_some()
    }
}

/// Detects the format of the parsed record and emits its rows into `out`.
fn dispatch<'t, 'i>(tape: &'t [Node<'i>], out: &mut Out<'_, '_>) -> Result<Format, Rejection> {
    let Some(top) = Top::collect(tape) else {
        return Err(unknown("top-level JSON value is not an object"));
    };
    if top.is_twitter_v1() {
        out.entry(twitter_v1::row(&top));
        return Ok(Format::TwitterV1);
    }
    if let Some(statuses) = top.statuses.and_then(nodes::array) {
        // A v1.1 search response: one mention per status.
        for status in statuses {
            match Top::collect(status) {
                Some(t) => out.entry(twitter_v1::row(&t)),
                None => out.bad(FieldErr::wrong_type("statuses[]")),
            }
        }
        return Ok(Format::TwitterV1);
    }
    if let Some(data) = top.data {
        twitter_v2::rows(data, top.includes, out);
        return Ok(Format::TwitterV2);
    }
    if top.entry.is_some() || top.object.is_some() {
        match top.object.map(nodes::as_str) {
            None | Some(Some("page")) => {}
            Some(Some(other)) => {
                let mut d = String::from("webhook object `");
                d.push_str(&other[..floor_char_boundary(other, 64)]);
                d.push_str("` is not supported");
                return Err(unknown(&d));
            }
            Some(None) => return Err(unknown("webhook `object` is not a string")),
        }
        facebook::rows(top.entry, out);
        return Ok(Format::Facebook);
    }
    if top.channel.is_some() || top.author.is_some() {
        out.entry(envelope::row(&top));
        return Ok(Format::Envelope);
    }
    Err(unknown("JSON object matches no mention format"))
}

/// Largest char boundary of `s` that is ≤ `max`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}
