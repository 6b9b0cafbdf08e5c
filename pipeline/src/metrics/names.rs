//! The name of every metric Switchboard exports, and the label values of
//! the `stage` label: `switchboard_<area>_<name>_<unit>[_total]`.

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
/// CRM contact events dropped (counted drop), by reason (`bad_timestamp`: outside the accepted event times).
pub const CONTACTS_DROPPED: &str = "switchboard_contacts_dropped_total";
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
/// 1 while the pipeline is live (`/healthz` answers 200): no pipeline
/// thread died, no partition stalled longer than `pipeline.liveness_stall_ms`.
pub const LIVE: &str = "switchboard_pipeline_live";
/// Panics in the process's threads, by thread (its name without the
/// worker number: `sb-source`, `sb-downstream`, `sb-crm`, `main`, …).
pub const PANICS: &str = "switchboard_pipeline_panics_total";
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
/// Records over their topic's size limit (read from the cluster at
/// startup), by sink and outcome: `split` (a repartition batch written as
/// several records), `truncated` (a DLQ copy cut to fit, header
/// `error.truncated_from_bytes`), `tombstone` (a changelog state too large:
/// the key restarts empty after a takeover), `dropped` (not written).
pub const SINK_OVERSIZE: &str = "switchboard_sink_oversize_records_total";
/// Records sent again after their delivery failed retriably (timed out
/// after `sink.message_timeout_ms`, no leader, not enough replicas), by
/// sink (`sink/resend.rs`).
pub const SINK_RETRIES: &str = "switchboard_sink_retries_total";
/// Records waiting for their backoff before being sent again.
pub const SINK_RESEND_PENDING: &str = "switchboard_sink_resend_pending_records";
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
/// Rows into an operator, by operator (`switchboard_operators::operator::names`).
pub const OPERATOR_ROWS_IN: &str = "switchboard_operator_rows_in_total";
/// Rows out of an operator (into the next one), by operator.
pub const OPERATOR_ROWS_OUT: &str = "switchboard_operator_rows_out_total";
/// Time spent inside an operator (its batch and watermark calls), by
/// operator. A float sum, exported as a gauge that only grows (the
/// `metrics` crate's counters are integers): `rate()` it like a counter.
pub const OPERATOR_BUSY: &str = "switchboard_operator_busy_seconds_total";
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
