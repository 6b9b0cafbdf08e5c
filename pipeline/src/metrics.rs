//! Every metric Switchboard exports is named here, and only here:
//! `switchboard_<area>_<name>_<unit>[_total]`. Labels take small fixed value
//! sets (stage, format, reason, topic, partition), never ids or handles.
//!
//! Also serves `/metrics`, `/healthz` and `/readyz`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use metrics::{describe_counter, describe_gauge, describe_histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_operators::parse::{DlqReason, Format, ParseStats};

use crate::error::{PipelineError, Result};

/// Records read from Kafka, by topic.
pub const SOURCE_RECORDS: &str = "switchboard_source_records_total";
/// Bytes read from Kafka (payloads), by topic.
pub const SOURCE_BYTES: &str = "switchboard_source_bytes_total";
/// Consumer errors reported by librdkafka, by kind.
pub const SOURCE_ERRORS: &str = "switchboard_source_errors_total";
/// Consumer lag per partition (high watermark − committed/consumed), from librdkafka statistics.
pub const SOURCE_CONSUMER_LAG: &str = "switchboard_source_consumer_lag_records";
/// Partitions currently assigned to this instance.
pub const SOURCE_ASSIGNED_PARTITIONS: &str = "switchboard_source_assigned_partitions";
/// Records in to a stage, by stage.
pub const STAGE_RECORDS_IN: &str = "switchboard_stage_records_in_total";
/// Records (rows) out of a stage, by stage.
pub const STAGE_RECORDS_OUT: &str = "switchboard_stage_records_out_total";
/// Rows per batch leaving a stage, by stage.
pub const STAGE_BATCH_ROWS: &str = "switchboard_stage_batch_rows";
/// Records parsed, by detected format.
pub const PARSE_RECORDS: &str = "switchboard_parse_records_total";
/// Entries inside valid records that carry no mention (counted drop), by reason.
pub const PARSE_DROPPED: &str = "switchboard_parse_dropped_total";
/// Mentions dropped as spam (counted drop), by reason; a mention counts once for every reason that fired.
pub const SPAM_DROPPED: &str = "switchboard_spam_dropped_total";
/// Distinct texts held by the spam detector's repetition window.
pub const SPAM_TRACKED_TEXTS: &str = "switchboard_spam_tracked_texts";
/// Records delivered to the dead-letter topic, by reason.
pub const DLQ_RECORDS: &str = "switchboard_dlq_records_total";
/// Dead-letter deliveries that failed for good (the partition stalls).
pub const DLQ_FAILURES: &str = "switchboard_dlq_delivery_failures_total";
/// Offsets committed to the consumer group (commit calls that succeeded).
pub const OFFSET_COMMITS: &str = "switchboard_source_offset_commits_total";
/// Offset commits that failed.
pub const OFFSET_COMMIT_FAILURES: &str = "switchboard_source_offset_commit_failures_total";
/// Source batches still in flight (not yet acknowledged).
pub const IN_FLIGHT_BATCHES: &str = "switchboard_pipeline_in_flight_batches";
/// Rows queued between the parse workers and the downstream stage.
pub const CHANNEL_ROWS: &str = "switchboard_pipeline_channel_rows";
/// End-to-end latency: Kafka record timestamp → output acknowledged.
pub const E2E_LATENCY: &str = "switchboard_pipeline_end_to_end_latency_seconds";
/// Processing latency: record consumed → output acknowledged.
pub const PROCESSING_LATENCY: &str = "switchboard_pipeline_processing_latency_seconds";
/// Resident set of the process, read by the source's flow control.
pub const MEMORY_RSS: &str = "switchboard_pipeline_memory_rss_bytes";
/// The configured memory budget (`pipeline.memory_budget_mb`).
pub const MEMORY_BUDGET: &str = "switchboard_pipeline_memory_budget_bytes";
/// 1 while consumption is paused because memory is over budget.
pub const SOURCE_PAUSED: &str = "switchboard_source_paused";
/// 1 while the pipeline is ready (consuming, nothing stalled).
pub const READY: &str = "switchboard_pipeline_ready";
/// Identity-join lookups, by channel (a fixed set) and result (`hit` or the miss reason).
pub const IDENTITY_LOOKUPS: &str = "switchboard_identity_lookups_total";
/// Mentions older than every kept snapshot version (joined to the oldest).
pub const IDENTITY_BEFORE_OLDEST: &str = "switchboard_identity_before_oldest_version_total";
/// Snapshot versions loaded and swapped in.
pub const IDENTITY_SNAPSHOT_LOADS: &str = "switchboard_identity_snapshot_loads_total";
/// Snapshot versions that failed to load (the previous version stays in service), by reason.
pub const IDENTITY_SNAPSHOT_LOAD_FAILURES: &str =
    "switchboard_identity_snapshot_load_failures_total";
/// Time to load one snapshot version (read, normalise, index).
pub const IDENTITY_SNAPSHOT_LOAD_DURATION: &str =
    "switchboard_identity_snapshot_load_duration_seconds";
/// Valid-from time of the newest snapshot version in service, Unix seconds (0 when none).
pub const IDENTITY_SNAPSHOT_VALID_FROM: &str =
    "switchboard_identity_snapshot_valid_from_timestamp_seconds";
/// Age of the newest snapshot version in service: now − its valid-from.
pub const IDENTITY_SNAPSHOT_AGE: &str = "switchboard_identity_snapshot_age_seconds";
/// Snapshot versions kept in memory for as-of joins.
pub const IDENTITY_SNAPSHOT_VERSIONS: &str = "switchboard_identity_snapshot_versions";
/// Identity index entries of the newest version (ambiguous ones included).
pub const IDENTITY_INDEX_ENTRIES: &str = "switchboard_identity_index_entries";
/// Approximate memory of every kept version's index and customer attributes.
pub const IDENTITY_INDEX_BYTES: &str = "switchboard_identity_index_bytes";
/// Identities of the newest version claimed by several customers.
pub const IDENTITY_AMBIGUOUS_ENTRIES: &str = "switchboard_identity_ambiguous_entries";
/// Identity updates applied, by op (`add`, `change`, `remove`, `tombstone`).
pub const IDENTITY_UPDATES: &str = "switchboard_identity_updates_total";
/// Identity updates rejected (counted drop, logged), by reason.
pub const IDENTITY_UPDATES_REJECTED: &str = "switchboard_identity_updates_rejected_total";
/// Identities with updates held on top of the snapshots.
pub const IDENTITY_OVERLAY_ENTRIES: &str = "switchboard_identity_overlay_entries";
/// 1 once the updates topic was read to the end it had at start.
pub const IDENTITY_UPDATES_CAUGHT_UP: &str = "switchboard_identity_updates_caught_up";
/// Events delivered by an output sink, by sink (`work_items`, `incidents`).
pub const SINK_RECORDS: &str = "switchboard_sink_records_total";
/// Events an output sink failed to deliver for good, by sink.
pub const SINK_FAILURES: &str = "switchboard_sink_delivery_failures_total";
/// Work-item events produced, by queue, severity and action.
pub const WORK_ITEM_EVENTS: &str = "switchboard_workitems_events_total";
/// Incident events produced, by action (`opened`, `closed`).
pub const INCIDENT_EVENTS: &str = "switchboard_incidents_events_total";
/// Incidents open now.
pub const INCIDENTS_OPEN: &str = "switchboard_incidents_open";
/// Keys (customers or unidentified authors) holding correlation state.
pub const CORRELATE_KEYS: &str = "switchboard_correlate_state_keys";
/// Open work items held by the correlator.
pub const CORRELATE_OPEN_ITEMS: &str = "switchboard_correlate_open_items";
/// Open work items not yet linked to a CRM case (not taken up), by severity.
pub const CORRELATE_OPEN_ITEMS_WITHOUT_CASE: &str = "switchboard_correlate_open_items_without_case";
/// Approximate bytes of correlation and contact-window state.
pub const CORRELATE_STATE_BYTES: &str = "switchboard_correlate_state_bytes";
/// Records later than the watermark (still processed), by kind (`mention`, `contact`).
pub const CORRELATE_LATE: &str = "switchboard_correlate_late_records_total";
/// Records the correlator skipped as duplicates (a counted drop), by kind (`mention`, `contact`).
pub const CORRELATE_DUPLICATES: &str = "switchboard_correlate_duplicate_records_total";
/// Wall clock minus the correlator's event-time watermark.
pub const CORRELATE_WATERMARK_LAG: &str = "switchboard_correlate_watermark_lag_seconds";
/// Keyed stage: time to restore one partition's state from the changelog.
pub const STATE_RESTORE_DURATION: &str = "switchboard_state_restore_duration_seconds";
/// Keyed stage: changelog records read while restoring.
pub const STATE_RESTORED_RECORDS: &str = "switchboard_state_restored_records_total";
/// Keyed stage: keys held after the last restore of a partition, by partition.
pub const STATE_RESTORED_KEYS: &str = "switchboard_state_restored_keys";
/// Keyed stage: changelog records written (state updates and tombstones).
pub const STATE_CHANGELOG_RECORDS: &str = "switchboard_state_changelog_records_total";
/// Keyed stage: partitions whose state is held (restored and owned).
pub const STATE_PARTITIONS: &str = "switchboard_state_partitions";
/// Keyed stage, `exactly_once`: transactions ended, by result
/// (`committed`, `aborted`).
pub const STATE_TRANSACTIONS: &str = "switchboard_state_transactions_total";
/// Keyed stage, `exactly_once`: time to send the offsets and commit one
/// transaction.
pub const STATE_TRANSACTION_DURATION: &str = "switchboard_state_transaction_duration_seconds";
/// Build information; value 1.
pub const BUILD_INFO: &str = "switchboard_build_info";

/// Stage label values.
pub mod stage {
    /// Parse operator.
    pub const PARSE: &str = "parse";
    /// Dead-letter sink.
    pub const DLQ: &str = "dlq";
    /// Stateless enrichment (language, sentiment, category).
    pub const ENRICH: &str = "enrich";
    /// Spam filter.
    pub const SPAM: &str = "spam";
    /// Identity join (CRM).
    pub const IDENTITY: &str = "identity";
    /// Terminal sink of the pipeline as built today.
    pub const SINK: &str = "sink";
}

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

/// `switchboard_stage_records_{in,out}_total` of the stages on the stateful
/// side (the downstream thread, or a keyed worker): the spam filter and the
/// sinks.
pub struct StatefulStageCounters {
    /// Rows into the spam filter.
    pub spam_in: Counter,
    /// Rows out of the spam filter.
    pub spam_out: Counter,
    /// Rows into the sinks.
    pub sink_in: Counter,
    /// Rows out of the sinks.
    pub sink_out: Counter,
}

impl StatefulStageCounters {
    /// `rows` left the spam filter for the sinks.
    pub fn passed_spam(&self, rows: u64) {
        self.spam_out.increment(rows);
        self.sink_in.increment(rows);
    }
}

impl Default for StatefulStageCounters {
    fn default() -> Self {
        Self {
            spam_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::SPAM),
            spam_out: metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::SPAM),
            sink_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::SINK),
            sink_out: metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::SINK),
        }
    }
}

/// Totals shared by all workers and stages, for progress lines, summaries
/// and tests (the Prometheus metrics carry the same facts).
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Records consumed from the mention topic.
    pub records_in: AtomicU64,
    /// Payload bytes consumed.
    pub bytes_in: AtomicU64,
    /// Records parsed, by format index.
    pub parsed_by_format: [AtomicU64; 4],
    /// Mention rows produced by parse.
    pub mentions: AtomicU64,
    /// Records sent to the DLQ, by reason index.
    pub dlq_by_reason: [AtomicU64; 5],
    /// Non-actionable entries dropped (counted).
    pub non_actionable: AtomicU64,
    /// Mentions dropped as spam (counted).
    pub spam_dropped: AtomicU64,
    /// Enrichment failures (batch left unacknowledged).
    pub enrich_errors: AtomicU64,
    /// Mention rows acknowledged by the terminal stage.
    pub mentions_out: AtomicU64,
    /// Consumer errors delivered in-band.
    pub consumer_errors: AtomicU64,
    /// CRM contact events consumed (parsed).
    pub contacts_in: AtomicU64,
    /// CRM contact records sent to the DLQ.
    pub contacts_rejected: AtomicU64,
}

impl PipelineStats {
    /// Records sent to the DLQ, all reasons.
    pub fn dlq_total(&self) -> u64 {
        self.dlq_by_reason
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Records parsed, all formats.
    pub fn parsed_total(&self) -> u64 {
        self.parsed_by_format
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and describes every
/// metric. Later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ])
                .expect("static buckets are valid")
                // A row count, not seconds: the default buckets would put
                // every batch in +Inf.
                .set_buckets_for_metric(
                    Matcher::Full(STAGE_BATCH_ROWS.to_string()),
                    &[
                        1.0, 16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 65536.0,
                    ],
                )
                .expect("static buckets are valid")
                .install_recorder()
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle());
            describe();
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            // Exported at 0 from the start, so that `increase()` sees the
            // first event (a series born at 1 shows no increase).
            for action in ["opened", "closed"] {
                metrics::counter!(INCIDENT_EVENTS, "action" => action).absolute(0);
            }
            for kind in ["mention", "contact"] {
                metrics::counter!(CORRELATE_DUPLICATES, "kind" => kind).absolute(0);
            }
            use switchboard_operators::identity_join::snapshot_code as code;
            for reason in [
                code::MISSING_FILE,
                code::MISSING_COLUMN,
                code::WRONG_TYPE,
                code::EMPTY,
                code::UNREADABLE,
            ] {
                metrics::counter!(IDENTITY_SNAPSHOT_LOAD_FAILURES, "reason" => reason).absolute(0);
            }
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(SOURCE_RECORDS, Unit::Count, "Records read from Kafka");
    describe_counter!(SOURCE_BYTES, Unit::Bytes, "Payload bytes read from Kafka");
    describe_counter!(
        SOURCE_ERRORS,
        Unit::Count,
        "Consumer errors reported by librdkafka"
    );
    describe_gauge!(
        SOURCE_CONSUMER_LAG,
        Unit::Count,
        "Consumer lag per partition in records"
    );
    describe_gauge!(
        SOURCE_ASSIGNED_PARTITIONS,
        Unit::Count,
        "Partitions assigned to this instance"
    );
    describe_counter!(STAGE_RECORDS_IN, Unit::Count, "Records into a stage");
    describe_counter!(STAGE_RECORDS_OUT, Unit::Count, "Records out of a stage");
    describe_histogram!(
        STAGE_BATCH_ROWS,
        Unit::Count,
        "Rows per batch leaving a stage"
    );
    describe_counter!(PARSE_RECORDS, Unit::Count, "Records parsed, by format");
    describe_counter!(
        PARSE_DROPPED,
        Unit::Count,
        "Counted drops inside valid records, by reason"
    );
    describe_counter!(
        SPAM_DROPPED,
        Unit::Count,
        "Mentions dropped as spam, by reason"
    );
    describe_gauge!(
        SPAM_TRACKED_TEXTS,
        Unit::Count,
        "Texts tracked by the spam repetition window"
    );
    describe_counter!(
        DLQ_RECORDS,
        Unit::Count,
        "Records delivered to the dead-letter topic, by reason"
    );
    describe_counter!(
        DLQ_FAILURES,
        Unit::Count,
        "Dead-letter deliveries that failed for good"
    );
    describe_counter!(OFFSET_COMMITS, Unit::Count, "Successful offset commits");
    describe_counter!(OFFSET_COMMIT_FAILURES, Unit::Count, "Failed offset commits");
    describe_gauge!(
        IN_FLIGHT_BATCHES,
        Unit::Count,
        "Source batches not yet acknowledged"
    );
    describe_gauge!(
        CHANNEL_ROWS,
        Unit::Count,
        "Rows queued between parse and the downstream stage"
    );
    describe_histogram!(
        E2E_LATENCY,
        Unit::Seconds,
        "Kafka record timestamp to output acknowledged"
    );
    describe_histogram!(
        PROCESSING_LATENCY,
        Unit::Seconds,
        "Record consumed to output acknowledged"
    );
    describe_gauge!(READY, Unit::Count, "1 while ready");
    describe_gauge!(MEMORY_RSS, Unit::Bytes, "Resident set of the process");
    describe_gauge!(
        MEMORY_BUDGET,
        Unit::Bytes,
        "Configured memory budget (pipeline.memory_budget_mb)"
    );
    describe_gauge!(
        SOURCE_PAUSED,
        Unit::Count,
        "1 while consumption is paused for memory"
    );
    describe_counter!(SINK_RECORDS, Unit::Count, "Events delivered, by sink");
    describe_counter!(
        WORK_ITEM_EVENTS,
        Unit::Count,
        "Work-item events by queue, severity and action"
    );
    describe_counter!(INCIDENT_EVENTS, Unit::Count, "Incident events by action");
    describe_gauge!(INCIDENTS_OPEN, Unit::Count, "Incidents open now");
    describe_gauge!(
        CORRELATE_KEYS,
        Unit::Count,
        "Keys holding correlation state"
    );
    describe_gauge!(
        CORRELATE_OPEN_ITEMS,
        Unit::Count,
        "Open work items held by the correlator"
    );
    describe_gauge!(
        CORRELATE_OPEN_ITEMS_WITHOUT_CASE,
        Unit::Count,
        "Open work items not yet linked to a CRM case, by severity"
    );
    describe_gauge!(
        CORRELATE_STATE_BYTES,
        Unit::Bytes,
        "Approximate bytes of correlation state"
    );
    describe_counter!(
        CORRELATE_LATE,
        Unit::Count,
        "Records later than the watermark, by kind"
    );
    describe_counter!(
        CORRELATE_DUPLICATES,
        Unit::Count,
        "Records skipped as duplicates (counted drops), by kind"
    );
    describe_gauge!(
        CORRELATE_WATERMARK_LAG,
        Unit::Seconds,
        "Wall clock minus the event-time watermark"
    );
    describe_histogram!(
        STATE_RESTORE_DURATION,
        Unit::Seconds,
        "Time to restore one partition's correlation state from the changelog"
    );
    describe_counter!(
        STATE_RESTORED_RECORDS,
        Unit::Count,
        "Changelog records read while restoring state"
    );
    describe_gauge!(
        STATE_RESTORED_KEYS,
        Unit::Count,
        "Keys held after the last restore of a partition"
    );
    describe_counter!(
        STATE_CHANGELOG_RECORDS,
        Unit::Count,
        "Changelog records written (state updates and tombstones)"
    );
    describe_gauge!(
        STATE_PARTITIONS,
        Unit::Count,
        "Keyed-stage partitions whose state this instance holds"
    );
    describe_counter!(
        STATE_TRANSACTIONS,
        Unit::Count,
        "Keyed-stage transactions ended (exactly_once), by result"
    );
    describe_histogram!(
        STATE_TRANSACTION_DURATION,
        Unit::Seconds,
        "Time to send the offsets and commit one keyed-stage transaction"
    );
    describe_counter!(
        SINK_FAILURES,
        Unit::Count,
        "Events that failed delivery for good, by sink"
    );
    describe_counter!(
        IDENTITY_LOOKUPS,
        Unit::Count,
        "Identity-join lookups by channel and result"
    );
    describe_counter!(
        IDENTITY_BEFORE_OLDEST,
        Unit::Count,
        "Mentions older than every kept snapshot version"
    );
    describe_counter!(
        IDENTITY_SNAPSHOT_LOADS,
        Unit::Count,
        "CRM snapshot versions loaded"
    );
    describe_counter!(
        IDENTITY_SNAPSHOT_LOAD_FAILURES,
        Unit::Count,
        "CRM snapshot versions that failed to load, by reason"
    );
    describe_histogram!(
        IDENTITY_SNAPSHOT_LOAD_DURATION,
        Unit::Seconds,
        "Time to load one CRM snapshot version"
    );
    describe_gauge!(
        IDENTITY_SNAPSHOT_VALID_FROM,
        Unit::Seconds,
        "Valid-from of the newest CRM snapshot in service (Unix time)"
    );
    describe_gauge!(
        IDENTITY_SNAPSHOT_AGE,
        Unit::Seconds,
        "Age of the newest CRM snapshot in service"
    );
    describe_gauge!(
        IDENTITY_SNAPSHOT_VERSIONS,
        Unit::Count,
        "CRM snapshot versions kept"
    );
    describe_gauge!(
        IDENTITY_INDEX_ENTRIES,
        Unit::Count,
        "Identity index entries of the newest version"
    );
    describe_gauge!(
        IDENTITY_INDEX_BYTES,
        Unit::Bytes,
        "Approximate memory of the kept identity indexes"
    );
    describe_gauge!(
        IDENTITY_AMBIGUOUS_ENTRIES,
        Unit::Count,
        "Identities claimed by several customers in the newest version"
    );
    describe_counter!(IDENTITY_UPDATES, Unit::Count, "Identity updates applied");
    describe_counter!(
        IDENTITY_UPDATES_REJECTED,
        Unit::Count,
        "Identity updates rejected, by reason"
    );
    describe_gauge!(
        IDENTITY_OVERLAY_ENTRIES,
        Unit::Count,
        "Identities with updates held on top of the snapshots"
    );
    describe_gauge!(
        IDENTITY_UPDATES_CAUGHT_UP,
        Unit::Count,
        "1 once the identity updates topic was read to its end"
    );
    describe_gauge!(BUILD_INFO, Unit::Count, "Build information");
}

/// Pre-resolved handles for the hot path of one source worker: resolving a
/// metric by name and labels costs a hash lookup, so do it once.
#[derive(Clone)]
pub struct SourceMetrics {
    records: Counter,
    bytes: Counter,
    parse_in: Counter,
    parse_out: Counter,
    parse_by_format: [Counter; 4],
    rejected_by_reason: [Counter; 5],
    non_actionable: Counter,
    batch_rows: Histogram,
}

impl SourceMetrics {
    /// Resolves the handles for a topic.
    pub fn new(topic: &str) -> Self {
        let topic = topic.to_string();
        Self {
            records: metrics::counter!(SOURCE_RECORDS, "topic" => topic.clone()),
            bytes: metrics::counter!(SOURCE_BYTES, "topic" => topic),
            parse_in: metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::PARSE),
            parse_out: metrics::counter!(STAGE_RECORDS_OUT, "stage" => stage::PARSE),
            parse_by_format: Format::ALL.map(|f| metrics::counter!(PARSE_RECORDS, "format" => f.as_str())),
            rejected_by_reason: DlqReason::ALL.map(|r| metrics::counter!(STAGE_RECORDS_IN, "stage" => stage::DLQ, "reason" => r.as_str())),
            non_actionable: metrics::counter!(PARSE_DROPPED, "reason" => "non_actionable"),
            batch_rows: metrics::histogram!(STAGE_BATCH_ROWS, "stage" => stage::PARSE),
        }
    }

    /// Records one flushed batch.
    pub fn flush(&self, records: u64, bytes: u64, rows: usize, stats: &ParseStats) {
        self.records.increment(records);
        self.bytes.increment(bytes);
        self.parse_in.increment(records);
        self.parse_out.increment(stats.rows);
        for (c, n) in self.parse_by_format.iter().zip(stats.records_by_format) {
            if n > 0 {
                c.increment(n);
            }
        }
        for (c, n) in self.rejected_by_reason.iter().zip(stats.rejected_by_reason) {
            if n > 0 {
                c.increment(n);
            }
        }
        if stats.non_actionable_entries > 0 {
            self.non_actionable.increment(stats.non_actionable_entries);
        }
        if rows > 0 {
            self.batch_rows.record(rows as f64);
        }
    }
}

/// Liveness and readiness, shared by the pipeline and the HTTP endpoints.
///
/// Readiness has a base state (`starting`, `consuming N partition(s)`,
/// `stopped`) set by the source, and named conditions that each hold the
/// pipeline not ready while present (`stalled`, `memory`, `backpressure`).
/// A condition is set and cleared by its own owner, so one clearing never
/// hides another.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    base_ready: bool,
    base_reason: String,
    conditions: std::collections::BTreeMap<&'static str, String>,
}

impl Health {
    /// A new, not yet ready, health state.
    pub fn new() -> Arc<Self> {
        let h = Arc::new(Self::default());
        h.set_ready(false, "starting");
        h
    }

    /// Sets the base readiness with a short reason shown by `/readyz`.
    pub fn set_ready(&self, ready: bool, reason: &str) {
        let mut st = self.state.lock().expect("health poisoned");
        st.base_ready = ready;
        st.base_reason = reason.to_string();
        self.publish(&st);
    }

    /// Sets (`Some(reason)`) or clears (`None`) a named not-ready condition.
    pub fn set_condition(&self, name: &'static str, reason: Option<String>) {
        let mut st = self.state.lock().expect("health poisoned");
        let changed = match reason {
            Some(r) => st.conditions.insert(name, r.clone()).as_deref() != Some(r.as_str()),
            None => st.conditions.remove(name).is_some(),
        };
        if changed {
            self.publish(&st);
        }
    }

    fn publish(&self, st: &HealthState) {
        let ready = st.base_ready && st.conditions.is_empty();
        self.ready.store(ready, Ordering::Release);
        metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    }

    /// Whether the pipeline is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The base reason, then every condition as `name: reason`.
    pub fn reason(&self) -> String {
        let st = self.state.lock().expect("health poisoned");
        let mut out = st.base_reason.clone();
        for (name, r) in &st.conditions {
            out.push_str(&format!("; {name}: {r}"));
        }
        out
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the task is
/// aborted. Returns the bound address (useful with port 0).
pub async fn serve(
    addr: &str,
    handle: PrometheusHandle,
    health: Arc<Health>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener =
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| PipelineError::Config {
                key: "metrics.addr".into(),
                reason: format!("cannot bind {addr}: {e}"),
            })?;
    let local = listener
        .local_addr()
        .map_err(|e| PipelineError::io(addr, e))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let health = health.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let resp = respond(req.uri().path(), &handle, &health);
                    async move { Ok::<_, Infallible>(resp) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok((local, task))
}

fn respond(path: &str, handle: &PrometheusHandle, health: &Health) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match path {
        "/metrics" => {
            handle.run_upkeep();
            (StatusCode::OK, "text/plain; version=0.0.4", handle.render())
        }
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/readyz" => {
            if health.is_ready() {
                (
                    StatusCode::OK,
                    "text/plain",
                    format!("ready: {}\n", health.reason()),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready: {}\n", health.reason()),
                )
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz or /readyz\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_hold_readiness_until_their_owner_clears_them() {
        let h = Health::new();
        assert!(!h.is_ready(), "starting");
        h.set_ready(true, "consuming 4 partition(s)");
        assert!(h.is_ready());
        h.set_condition("stalled", Some("1 partition(s) stalled".into()));
        h.set_condition("memory", Some("over budget".into()));
        // A rebalance sets the base state again: the conditions stay.
        h.set_ready(true, "consuming 6 partition(s)");
        assert!(!h.is_ready());
        let r = h.reason();
        assert!(r.starts_with("consuming 6 partition(s)"), "{r}");
        assert!(
            r.contains("memory: over budget") && r.contains("stalled: 1 partition(s) stalled"),
            "{r}"
        );
        h.set_condition("memory", None);
        assert!(!h.is_ready(), "stalled still holds");
        h.set_condition("stalled", None);
        assert!(h.is_ready());
        h.set_ready(false, "stopped");
        assert!(!h.is_ready());
        // Clearing a condition that is not set changes nothing.
        h.set_condition("backpressure", None);
        assert_eq!(h.reason(), "stopped");
    }

    #[test]
    fn readyz_answers_503_with_the_reasons() {
        let handle = install();
        let h = Health::new();
        h.set_ready(true, "consuming 1 partition(s)");
        assert_eq!(respond("/readyz", &handle, &h).status(), StatusCode::OK);
        h.set_condition("backpressure", Some("oldest batch 31 s old".into()));
        let resp = respond("/readyz", &handle, &h);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
