//! The parser's contract types: its settings, where a record came from,
//! the formats it knows, and why a record is refused.

/// Parser settings (built from the `[parse]` config section by the runtime).
#[derive(Debug, Clone)]
pub struct ParseConfig {
    /// Records larger than this many bytes are rejected with `too_large`.
    pub max_record_bytes: usize,
    /// Mentions dated before this (epoch ms) are rejected with
    /// `bad_timestamp`.
    pub min_event_time_ms: i64,
    /// Mentions dated more than this many ms after the clock
    /// ([`MentionParser::set_clock`](super::MentionParser::set_clock)) are
    /// rejected with `bad_timestamp`. Years past 9999 always are.
    pub max_event_time_ahead_ms: i64,
}

impl ParseConfig {
    /// The accepted event times, inclusive, when the clock reads `now_ms`;
    /// never outside what RFC 3339 can write (years 0000–9999).
    pub fn event_time_bounds(&self, now_ms: i64) -> (i64, i64) {
        use crate::time::{MAX_RFC3339_MS, MIN_RFC3339_MS};
        (
            self.min_event_time_ms.clamp(MIN_RFC3339_MS, MAX_RFC3339_MS),
            now_ms
                .saturating_add(self.max_event_time_ahead_ms)
                .clamp(MIN_RFC3339_MS, MAX_RFC3339_MS),
        )
    }
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self {
            max_record_bytes: 64 * 1024,
            min_event_time_ms: crate::time::DEFAULT_MIN_EVENT_TIME_MS,
            max_event_time_ahead_ms: 86_400_000,
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
    /// The event time is outside the accepted bounds (before
    /// `parse.min_event_time`, or more than `parse.max_event_time_ahead_ms`
    /// ahead of the clock).
    BadTimestamp,
}

impl DlqReason {
    /// All reasons, in metric-label order.
    pub const ALL: [DlqReason; 6] = [
        DlqReason::InvalidJson,
        DlqReason::UnknownFormat,
        DlqReason::MissingField,
        DlqReason::TooLarge,
        DlqReason::InvalidUtf8,
        DlqReason::BadTimestamp,
    ];

    /// The short code written to the `error.reason` header.
    pub fn as_str(self) -> &'static str {
        match self {
            DlqReason::InvalidJson => "invalid_json",
            DlqReason::UnknownFormat => "unknown_format",
            DlqReason::MissingField => "missing_field",
            DlqReason::TooLarge => "too_large",
            DlqReason::InvalidUtf8 => "invalid_utf8",
            DlqReason::BadTimestamp => "bad_timestamp",
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
    pub rejected_by_reason: [u64; 6],
    /// Entries inside an otherwise valid record that carry no mention
    /// (e.g. a Facebook reaction or a deleted comment): a counted drop.
    pub non_actionable_entries: u64,
}
