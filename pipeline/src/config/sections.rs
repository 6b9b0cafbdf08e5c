//! The configuration's sections, other than the operators' own (those are
//! the operators' config types, from `switchboard_operators`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_operators::identity_join::IdentityJoinConfig;
use switchboard_operators::sentiment::{SentimentMode, TelcoRules};

/// Kafka connection settings shared by consumers and producers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated (`host:port,host:port`).
    pub brokers: String,
    /// `client.id` reported to the brokers.
    pub client_id: String,
    /// Consumer group of the mention source.
    pub group_id: String,
    /// Where a new group starts: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Extra librdkafka properties passed through to every client, for
    /// security and tuning (`security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `ssl.ca.location`, …). Keys Switchboard manages
    /// itself (offset storing and committing, idempotence) are refused.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "switchboard".into(),
            group_id: "switchboard".into(),
            auto_offset_reset: "earliest".into(),
            properties: BTreeMap::new(),
        }
    }
}

/// Topic names (SPEC defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Input: one mention per record.
    pub mentions: String,
    /// Output: records that could not be processed, unchanged, with error headers.
    pub dlq: String,
    /// Input: CRM contact events keyed by customer id.
    pub crm_contacts: String,
    /// Input (compacted): identity changes between snapshots.
    pub crm_identity_updates: String,
    /// Output: work-item events.
    pub work_items: String,
    /// Output: detected outage incidents.
    pub incidents: String,
    /// Internal (with `pipeline.keyed_stage`): enriched mentions re-keyed by
    /// customer (Arrow IPC), co-partitioned with `crm_contacts` (same
    /// partition count). Unset: `<kafka.group_id>-repartition`, so two
    /// deployments with different groups never share it.
    pub repartition: String,
    /// Internal (with `pipeline.keyed_stage`), compacted: the correlation
    /// state per customer, restored when a partition is assigned
    /// (`cleanup.policy=compact`, same partition count as `crm_contacts`).
    /// Unset: `<kafka.group_id>-correlate-changelog`.
    pub changelog: String,
    /// With `pipeline.keyed_stage`: `run` creates a missing internal topic
    /// (`repartition`, `changelog`) with `crm_contacts`' partition count,
    /// the broker's default replication factor and its `cleanup.policy`.
    /// Off (or refused by the broker): startup fails naming what is missing.
    pub create_internal: bool,
}

impl TopicsConfig {
    /// The default repartition topic of consumer group `group`.
    pub fn default_repartition(group: &str) -> String {
        format!("{group}-repartition")
    }

    /// The default changelog topic of consumer group `group`.
    pub fn default_changelog(group: &str) -> String {
        format!("{group}-correlate-changelog")
    }
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            mentions: "mentions".into(),
            dlq: "mentions-dlq".into(),
            crm_contacts: "crm-contacts".into(),
            crm_identity_updates: "crm-identity-updates".into(),
            work_items: "work-items".into(),
            incidents: "incidents".into(),
            // Named after the default group (`kafka.group_id`); a loaded
            // config names them after its own group unless it sets them.
            repartition: Self::default_repartition("switchboard"),
            changelog: Self::default_changelog("switchboard"),
            create_internal: true,
        }
    }
}

/// The Kafka mention source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// Worker threads that consume and parse; partitions are spread over them.
    /// 0 means one per available core.
    pub workers: usize,
    /// Most records taken from librdkafka in one batched poll.
    pub max_poll_records: usize,
    /// A worker flushes its Arrow batch downstream at this many rows.
    pub max_batch_rows: usize,
    /// … or when its oldest buffered record is this old, in milliseconds.
    pub batch_linger_ms: u64,
    /// How often stored offsets are committed to the group, in milliseconds.
    pub commit_interval_ms: u64,
    /// How long to wait for in-flight batches when partitions are revoked or
    /// on shutdown before committing what is done, in milliseconds.
    pub drain_timeout_ms: u64,
    /// librdkafka statistics interval (consumer lag metrics), in milliseconds.
    pub stats_interval_ms: u64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            max_poll_records: 2048,
            max_batch_rows: 8192,
            batch_linger_ms: 50,
            commit_interval_ms: 1000,
            drain_timeout_ms: 10_000,
            stats_interval_ms: 5000,
        }
    }
}

impl SourceConfig {
    /// Effective number of workers.
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            self.workers
        }
    }
}

/// The parse operator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ParseSection {
    /// Records larger than this many bytes go to the DLQ as `too_large`.
    pub max_record_bytes: usize,
    /// Earliest accepted event time (RFC 3339). An earlier mention goes to
    /// the DLQ as `bad_timestamp`; an earlier CRM contact is a counted drop
    /// (`switchboard_contacts_dropped_total{reason="bad_timestamp"}`).
    pub min_event_time: String,
    /// How far an event time may run ahead of the clock (the wall clock in
    /// `run`, `--now` or the wall clock in `process`), in milliseconds;
    /// later is refused like an early one. Years past 9999 are always refused.
    pub max_event_time_ahead_ms: u64,
}

impl Default for ParseSection {
    fn default() -> Self {
        Self {
            max_record_bytes: 64 * 1024,
            min_event_time: "2006-01-01T00:00:00Z".into(),
            max_event_time_ahead_ms: 86_400_000,
        }
    }
}

impl ParseSection {
    /// Builds the operator's runtime settings.
    pub fn build(&self) -> switchboard_operators::parse::ParseConfig {
        switchboard_operators::parse::ParseConfig {
            max_record_bytes: self.max_record_bytes,
            min_event_time_ms: self.min_event_time_ms(),
            max_event_time_ahead_ms: i64::try_from(self.max_event_time_ahead_ms)
                .unwrap_or(i64::MAX),
        }
    }

    /// `parse.min_event_time` in epoch ms (validation has checked it; the
    /// default bound if it does not parse).
    pub fn min_event_time_ms(&self) -> i64 {
        switchboard_operators::time::parse_rfc3339(&self.min_event_time)
            .unwrap_or(switchboard_operators::time::DEFAULT_MIN_EVENT_TIME_MS)
    }

    /// The accepted event times, inclusive, when the clock reads `now_ms`.
    pub fn event_time_bounds(&self, now_ms: i64) -> (i64, i64) {
        self.build().event_time_bounds(now_ms)
    }
}

/// The sentiment operator.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SentimentSection {
    /// `telco` (VADER plus the domain layer; default) or `vader` (plain VADER 3.3.2).
    pub mode: SentimentMode,
    /// The telco domain layer (phrases, emoji, sarcasm); a list given here
    /// replaces the built-in list of the same name.
    pub telco: TelcoRules,
}

/// The identity join (SPEC "CRM snapshots").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// Directory of versioned CRM snapshots (one sub-directory per version,
    /// named by its valid-from time). Empty switches the join off: mentions
    /// carry no customer columns.
    pub snapshot_dir: String,
    /// How often the directory is checked for new versions, in milliseconds.
    pub poll_interval_ms: u64,
    /// Country calling code (digits, no `+`) given to national phone
    /// numbers written with a trunk `0` (`07700 900123` → `+447700900123`).
    pub default_country_code: String,
    /// Snapshot versions kept for as-of joins of late mentions (at least 1).
    pub keep_versions: usize,
    /// Apply the compacted `topics.crm_identity_updates` topic on top of the
    /// snapshots.
    pub read_updates: bool,
    /// At start, how long to wait for the updates topic to be read to its
    /// end before mentions are consumed, in milliseconds (then carry on and
    /// catch up while running).
    pub startup_wait_ms: u64,
}

impl Default for IdentitySection {
    fn default() -> Self {
        let j = IdentityJoinConfig::default();
        Self {
            snapshot_dir: String::new(),
            poll_interval_ms: 5_000,
            default_country_code: j.default_country_code,
            keep_versions: j.keep_versions,
            read_updates: true,
            startup_wait_ms: 10_000,
        }
    }
}

impl IdentitySection {
    /// Whether the join is on.
    pub fn enabled(&self) -> bool {
        !self.snapshot_dir.trim().is_empty()
    }

    /// The operator's configuration.
    pub fn join_config(&self) -> IdentityJoinConfig {
        IdentityJoinConfig {
            default_country_code: self.default_country_code.clone(),
            keep_versions: self.keep_versions,
        }
    }
}

/// Output producers (DLQ today; work items and incidents later).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// Producer linger, in milliseconds: how long a producer waits to fill
    /// a batch (docs/decisions.md, "Producer linger").
    pub linger_ms: u64,
    /// How long librdkafka retries a record before reporting it failed, in
    /// milliseconds (0 = forever). A record that failed retriably (timed
    /// out, no leader, not enough replicas) is then sent again after a
    /// backoff (0.5 s doubling to 30 s, `switchboard_sink_retries_total`);
    /// one that failed for good stalls its input offsets.
    pub message_timeout_ms: u64,
    /// Compression codec for outputs: none, gzip, snappy, lz4, zstd.
    pub compression: String,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            linger_ms: 5,
            message_timeout_ms: 300_000,
            compression: "lz4".into(),
        }
    }
}

/// Wiring between stages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// Capacity of the channel between the parse workers and the downstream
    /// stage, in rows: the bound that turns a slow output into paused input.
    pub channel_capacity_rows: usize,
    /// Run the enrichment and work-item operators (language, sentiment,
    /// category, severity, spam, incidents, routing, correlation, work-item
    /// and incident outputs). Turning this off leaves the ingest path alone
    /// (parse, identity join, DLQ, commits); `switchboard bench` uses it to
    /// measure each stage's cost.
    pub enrich: bool,
    /// Produce work items: severity, incidents, routing, correlation and the
    /// `work-items`/`incidents` outputs (needs `enrich`). Off, enriched
    /// mentions are spam-filtered and acknowledged; `switchboard bench` uses
    /// it to measure the enrichment operators alone.
    pub work_items: bool,
    /// Memory budget of the process (resident set), in MiB. librdkafka's
    /// prefetch and producer queues are sized from it (an eighth each);
    /// above 90 % of it consumption pauses and `/readyz` turns not-ready,
    /// below 75 % it resumes.
    pub memory_budget_mb: u64,
    /// `/readyz` turns not-ready (condition `backpressure`) while the oldest
    /// unacknowledged input batch is older than this, in milliseconds: the
    /// output side (broker throttling, sink unavailable) holds input back.
    pub output_stall_ms: u64,
    /// `/healthz` fails (the platform restarts the process) once a stall
    /// has lasted this long, in milliseconds: the oldest unacknowledged
    /// input batch is this old (an output that kept retrying), or a
    /// partition has been stalled this long by an output that failed for
    /// good. At least `output_stall_ms`.
    pub liveness_stall_ms: u64,
    /// Hard bound on a graceful shutdown (SIGTERM or SIGINT until exit:
    /// drain, final commit, leaving the group), in milliseconds. Past it the
    /// process exits with status 3 and uncommitted input is reprocessed by
    /// the next owner.
    pub shutdown_timeout_ms: u64,
    /// Scale-out topology: the stateless stage re-keys enriched mentions by
    /// customer through `topics.repartition`; a keyed stage (consumer group
    /// `<kafka.group_id>-keyed`, on `topics.repartition` and
    /// `topics.crm_contacts`) runs the stateful operators per partition,
    /// writes the correlation state to `topics.changelog` and restores it on
    /// assignment, so instances can come and go. Off: one process-local
    /// stateful stage (state lost on restart).
    pub keyed_stage: bool,
    /// With `keyed_stage`: how often the changed correlation state is
    /// written to the changelog, in milliseconds. Input offsets commit only
    /// after the state written for them (and the events before it) is
    /// acknowledged, so this also bounds how much is replayed after a crash.
    pub checkpoint_interval_ms: u64,
    /// Delivery guarantee of the keyed stage: `at_least_once` (outputs,
    /// then state, then input offsets, each after the previous is
    /// acknowledged; a crash replays, and the deterministic ids and
    /// revisions make the replay harmless to a latest-revision reader) or
    /// `exactly_once` (needs `keyed_stage`: each keyed worker writes one
    /// Kafka transaction per checkpoint interval holding the interval's
    /// work items, incidents, contact DLQ records, state changes and input
    /// offsets; needs a broker with transactions). The stateless stage is
    /// at-least-once either way; the keyed stage's state skips what it
    /// already applied.
    pub delivery: Delivery,
    /// With `exactly_once`: this instance's name in the keyed stage's
    /// transactional ids (`<kafka.group_id>-keyed-<instance_id>-w<worker>`).
    /// A restarted instance with the same name fences its predecessor's
    /// producers and aborts their open transactions at once (a stable pod
    /// name in a StatefulSet is ideal); two live instances must never
    /// share one. Empty: host name and process id, unique but never reused,
    /// so a crashed instance's open transactions end only when the broker
    /// times them out (`transaction.timeout.ms`, 10 s by default here).
    pub instance_id: String,
}

/// Delivery guarantee (`pipeline.delivery`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Acknowledgement chain; replays after a crash.
    #[default]
    AtLeastOnce,
    /// Kafka transactions in the keyed stage.
    ExactlyOnce,
}

impl PipelineSection {
    /// The memory budget in KiB, the unit of librdkafka's queue limits.
    pub fn memory_budget_kb(&self) -> u64 {
        self.memory_budget_mb.saturating_mul(1024)
    }
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            channel_capacity_rows: 65_536,
            enrich: true,
            work_items: true,
            memory_budget_mb: 2048,
            output_stall_ms: 30_000,
            liveness_stall_ms: 600_000,
            shutdown_timeout_ms: 30_000,
            keyed_stage: false,
            checkpoint_interval_ms: 1_000,
            delivery: Delivery::AtLeastOnce,
            instance_id: String::new(),
        }
    }
}

/// Metrics and health endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address serving `/metrics`, `/healthz` and `/readyz`; empty disables it.
    pub addr: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:9898".into(),
        }
    }
}
