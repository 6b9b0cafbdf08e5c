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
mod fields;
mod nodes;
mod record;
mod twitter_v1;
mod twitter_v2;

#[cfg(test)]
mod tests;

pub use record::{DlqReason, Format, ParseConfig, ParseStats, Rejection, SourceMeta};

use builder::Columns;
use fields::{clip, FieldErr, Out, Problem, Top};

/// Parses records into a buffered mention batch.
///
/// Each record is copied into a reused, padded scratch buffer and parsed
/// into a reused simd-json tape; the tape is walked once and the mention
/// fields are appended straight into reused Arrow builders.
pub struct MentionParser {
    config: ParseConfig,
    /// Accepted event times, inclusive (from the config and the clock).
    event_time_bounds: (i64, i64),
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

impl MentionParser {
    /// Creates a parser with empty buffers.
    pub fn new(config: ParseConfig) -> Self {
        Self {
            // Until a clock is set, the latest time RFC 3339 can write.
            event_time_bounds: config.event_time_bounds(i64::MAX),
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
                        event_time_bounds: self.event_time_bounds,
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
                                    reason: if e.problem == Problem::OutOfRange {
                                        DlqReason::BadTimestamp
                                    } else {
                                        DlqReason::MissingField
                                    },
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

    /// Sets the clock that bounds event times: later than `now_ms` plus
    /// `max_event_time_ahead_ms` is refused (the runtime calls it with the
    /// wall clock for every batch of records).
    pub fn set_clock(&mut self, now_ms: i64) {
        self.event_time_bounds = self.config.event_time_bounds(now_ms);
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
        DlqReason::BadTimestamp => 5,
    }
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
