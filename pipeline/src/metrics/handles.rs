//! Pre-resolved handles for the hot paths: resolving a metric by name and
//! labels costs a hash lookup, so each worker does it once. Facts a
//! pipeline also totals for its summaries are [`Tally`]s.

use metrics::{Counter, Histogram};
use switchboard_operators::parse::{DlqReason, Format, ParseStats};
use switchboard_operators::spam;

use super::names::*;
use super::stats::{PipelineStats, Tally, Total};

/// `switchboard_stage_records_{in,out}_total` of the stages a source worker
/// runs after parsing: the stateless enrichment and the identity join.
pub struct WorkerStageCounters {
    /// Rows into the enrichment.
    pub enrich_in: Counter,
    /// Rows out of the enrichment.
    pub enrich_out: Counter,
    /// Rows into the identity join (when a CRM snapshot is configured).
    pub identity_in: Counter,
    /// Rows out of the identity join.
    pub identity_out: Counter,
}

impl Default for WorkerStageCounters {
    fn default() -> Self {
        Self {
            enrich_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::ENRICH),
            enrich_out: metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::ENRICH),
            identity_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::IDENTITY),
            identity_out: metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::IDENTITY),
        }
    }
}

/// The spam filter and the sinks on the stateful side (the downstream
/// thread, or a keyed worker): `switchboard_stage_records_{in,out}_total`
/// of the `spam` and `sink` stages, `switchboard_spam_dropped_total`, and
/// the pipeline's `spam_dropped` and `mentions_out`.
pub struct StatefulStageCounters {
    spam_in: Counter,
    spam_by_reason: [Counter; spam::reason::ALL.len()],
    spam_dropped: Total,
    /// Rows past the spam filter: out of it, into the sinks and, once
    /// sent, out of them.
    passed: Tally,
}

impl StatefulStageCounters {
    /// The handles, counting into `stats`.
    pub fn new(stats: &PipelineStats) -> Self {
        Self {
            spam_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::SPAM),
            spam_by_reason: spam::reason::ALL
                .map(|r| metrics::counter!(SPAM_DROPPED, "reason" => r)),
            spam_dropped: stats.spam_dropped.clone(),
            passed: Tally::new(
                &stats.mentions_out,
                [
                    metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::SPAM),
                    metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::SINK),
                    metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::SINK),
                ],
            ),
        }
    }

    /// `rows_in` rows went into the spam filter, `spam` of them were
    /// dropped (`by_reason`: once per reason that fired), `rows_out` were
    /// sent on.
    pub fn count(
        &self,
        rows_in: u64,
        spam: u64,
        by_reason: [u64; spam::reason::ALL.len()],
        rows_out: u64,
    ) {
        self.spam_in.increment(rows_in);
        self.spam_dropped
            .fetch_add(spam, std::sync::atomic::Ordering::Relaxed);
        for (c, n) in self.spam_by_reason.iter().zip(by_reason) {
            if n > 0 {
                c.increment(n);
            }
        }
        self.passed.add(rows_out);
    }
}

/// The source and parse counts of one source worker: records and bytes
/// read, records parsed by format, rejected by reason, non-actionable
/// entries dropped, rows out of parse.
#[derive(Clone)]
pub struct SourceMetrics {
    records: Tally,
    bytes: Tally,
    rows: Tally,
    parsed_by_format: [Tally; 4],
    rejected_by_reason: [Tally; 6],
    non_actionable: Tally,
    batch_rows: Histogram,
}

impl SourceMetrics {
    /// Resolves the handles for a topic, counting into `stats`.
    pub fn new(topic: &str, stats: &PipelineStats) -> Self {
        let topic = topic.to_string();
        let by_format = |i: usize| {
            let f = Format::ALL[i];
            Tally::new(
                &stats.parsed_by_format[i],
                [metrics::counter!(PARSE_RECORDS, "format" => f.as_str())],
            )
        };
        let by_reason = |i: usize| {
            let r = DlqReason::ALL[i];
            Tally::new(
                &stats.dlq_by_reason[i],
                [
                    metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::DLQ, "reason" => r.as_str()),
                ],
            )
        };
        Self {
            records: Tally::new(
                &stats.records_in,
                [
                    metrics::counter!(SOURCE_RECORDS, "topic" => topic.clone()),
                    metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::PARSE),
                ],
            ),
            bytes: Tally::new(
                &stats.bytes_in,
                [metrics::counter!(SOURCE_BYTES, "topic" => topic)],
            ),
            rows: Tally::new(
                &stats.mentions,
                [metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::PARSE)],
            ),
            parsed_by_format: std::array::from_fn(by_format),
            rejected_by_reason: std::array::from_fn(by_reason),
            non_actionable: Tally::new(
                &stats.non_actionable,
                [metrics::counter!(PARSE_DROPPED, "reason" => "non_actionable")],
            ),
            batch_rows: metrics::histogram!(STAGE_BATCH_ROWS, "stage" => stage::PARSE),
        }
    }

    /// Records one flushed batch.
    pub fn flush(&self, records: u64, bytes: u64, rows: usize, stats: &ParseStats) {
        self.records.add(records);
        self.bytes.add(bytes);
        self.rows.add(stats.rows);
        for (c, n) in self.parsed_by_format.iter().zip(stats.records_by_format) {
            c.add(n);
        }
        for (c, n) in self.rejected_by_reason.iter().zip(stats.rejected_by_reason) {
            c.add(n);
        }
        self.non_actionable.add(stats.non_actionable_entries);
        if rows > 0 {
            self.batch_rows.record(rows as f64);
        }
    }
}
