//! The help text and unit of every metric, given to the recorder once.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

use super::names::*;

/// Describes every metric.
pub(super) fn describe() {
    source_and_stages();
    outputs_and_state();
    identity();
    operators();
    describe_gauge!(BUILD_INFO, Unit::Count, "Build information");
}

/// The per-operator metrics (`stage::measured::Measured`).
fn operators() {
    describe_counter!(
        OPERATOR_ROWS_IN,
        Unit::Count,
        "Rows into an operator, by operator"
    );
    describe_counter!(
        OPERATOR_ROWS_OUT,
        Unit::Count,
        "Rows out of an operator, by operator"
    );
    describe_gauge!(
        OPERATOR_BUSY,
        Unit::Seconds,
        "Time spent inside an operator, by operator (only grows: rate() it)"
    );
}

/// The source, the stages, the DLQ, offsets and the pipeline's health.
fn source_and_stages() {
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
        CONTACTS_DROPPED,
        Unit::Count,
        "CRM contact events dropped, by reason"
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
        SINK_RESEND_PENDING,
        Unit::Count,
        "Records waiting for their backoff before being sent again"
    );
    describe_gauge!(
        SOURCE_PAUSED,
        Unit::Count,
        "1 while consumption is paused for memory"
    );
}

/// The sinks, work items, incidents, correlation and keyed-stage state.
fn outputs_and_state() {
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
        SINK_RETRIES,
        Unit::Count,
        "Records sent again after their delivery failed retriably (an output outage longer than message.timeout.ms), by sink"
    );
    describe_counter!(
        SINK_OVERSIZE,
        Unit::Count,
        "Records over their topic's size limit, by sink and outcome (split, truncated, tombstone, dropped)"
    );
}

/// The identity join: lookups, snapshots, updates.
fn identity() {
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
    describe_gauge!(
        LIVE,
        Unit::Count,
        "1 while the pipeline is live (no thread died, no partition stalled too long)"
    );
    describe_counter!(
        PANICS,
        Unit::Count,
        "Panics in the process's threads, by thread name (worker number removed)"
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
}
