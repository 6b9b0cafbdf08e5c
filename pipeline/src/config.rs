//! Configuration: serde structs with `deny_unknown_fields`, units in names,
//! loaded from TOML with environment overrides (`SWITCHBOARD__KAFKA__BROKERS`
//! overrides `kafka.brokers`), validated so that every error names its key.
//! The runtime objects are built from these structs, never the reverse.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use switchboard_operators::classify::ClassifyConfig;
use switchboard_operators::correlate::CorrelateConfig;
use switchboard_operators::identity_join::IdentityJoinConfig;
use switchboard_operators::incident::IncidentConfig;
use switchboard_operators::language::LanguageConfig;
use switchboard_operators::route::RouteConfig;
use switchboard_operators::sentiment::{SentimentMode, TelcoRules};
use switchboard_operators::severity::SeverityConfig;
use switchboard_operators::spam::SpamConfig;

use crate::error::{PipelineError, Result};

/// The whole Switchboard configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Kafka connection and client settings.
    pub kafka: KafkaConfig,
    /// Topic names.
    pub topics: TopicsConfig,
    /// The mention source (consumer threads, batching).
    pub source: SourceConfig,
    /// The parse operator.
    pub parse: ParseSection,
    /// The sentiment operator (VADER, or VADER plus the telco layer).
    pub sentiment: SentimentSection,
    /// The category classifier (phrase rules).
    pub classify: ClassifyConfig,
    /// Spam and bot heuristics.
    pub spam: SpamConfig,
    /// Language detection.
    pub language: LanguageConfig,
    /// The identity join: CRM snapshots and identity updates.
    pub identity: IdentitySection,
    /// Severity scoring: points, priority, P1–P4, SLAs.
    pub severity: SeverityConfig,
    /// Regional outage incident detection.
    pub incident: IncidentConfig,
    /// Routing rules (SQL predicates) and the taxonomy's default queues.
    pub route: RouteConfig,
    /// Correlation: contacts window, one work item per customer issue.
    pub correlate: CorrelateConfig,
    /// Output producers.
    pub sink: SinkConfig,
    /// Wiring between stages.
    pub pipeline: PipelineSection,
    /// Metrics and health endpoints.
    pub metrics: MetricsConfig,
}

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
    /// customer (Arrow IPC), co-partitioned with `crm_contacts` — create it
    /// with the same partition count.
    pub repartition: String,
    /// Internal (with `pipeline.keyed_stage`), compacted: the correlation
    /// state per customer, restored when a partition is assigned — create it
    /// with `cleanup.policy=compact` and the same partition count as
    /// `crm_contacts`.
    pub changelog: String,
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
            repartition: "switchboard-repartition".into(),
            changelog: "switchboard-correlate-changelog".into(),
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
}

impl Default for ParseSection {
    fn default() -> Self {
        Self {
            max_record_bytes: 64 * 1024,
        }
    }
}

impl ParseSection {
    /// Builds the operator's runtime settings.
    pub fn build(&self) -> switchboard_operators::parse::ParseConfig {
        switchboard_operators::parse::ParseConfig {
            max_record_bytes: self.max_record_bytes,
        }
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
    /// milliseconds (0 = forever). A failed output stalls the input offsets.
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

/// librdkafka properties Switchboard sets itself and that config may not override.
const MANAGED_PROPERTIES: &[&str] = &[
    "enable.auto.offset.store",
    "enable.auto.commit",
    "enable.idempotence",
    "group.id",
    "bootstrap.servers",
    "auto.offset.reset",
    "transactional.id",
];

impl Config {
    /// Loads a config file (TOML) with `SWITCHBOARD__…` environment overrides,
    /// then validates it.
    pub fn load(path: &Path) -> Result<Config> {
        if !path.is_file() {
            return Err(PipelineError::ConfigLoad(format!(
                "config file {}: not found or not a file",
                path.display()
            )));
        }
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::prefixed("SWITCHBOARD__").split("__"));
        Self::extract(figment)
    }

    /// Defaults with `SWITCHBOARD__…` environment overrides (no file).
    pub fn from_env() -> Result<Config> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Env::prefixed("SWITCHBOARD__").split("__")),
        )
    }

    /// Parses a TOML string (no environment), then validates it.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    fn extract(figment: Figment) -> Result<Config> {
        let config: Config = figment.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(describe_figment_error).collect();
            PipelineError::ConfigLoad(msgs.join("; "))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot; the first problem is returned, naming its key.
    pub fn validate(&self) -> Result<()> {
        fn bad(key: &str, reason: impl Into<String>) -> Result<()> {
            Err(PipelineError::Config {
                key: key.into(),
                reason: reason.into(),
            })
        }
        if self.kafka.brokers.trim().is_empty() {
            return bad("kafka.brokers", "must list at least one host:port");
        }
        for b in self.kafka.brokers.split(',') {
            let b = b.trim();
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return bad("kafka.brokers", format!("`{b}` is not host:port"));
            }
        }
        if self.kafka.group_id.trim().is_empty() {
            return bad("kafka.group_id", "must not be empty");
        }
        if !matches!(self.kafka.auto_offset_reset.as_str(), "earliest" | "latest") {
            return bad(
                "kafka.auto_offset_reset",
                format!(
                    "`{}` is not `earliest` or `latest`",
                    self.kafka.auto_offset_reset
                ),
            );
        }
        for key in self.kafka.properties.keys() {
            if MANAGED_PROPERTIES.contains(&key.as_str()) {
                return bad(
                    &format!("kafka.properties.\"{key}\""),
                    "is managed by Switchboard and cannot be overridden",
                );
            }
        }
        let topics = [
            ("topics.mentions", &self.topics.mentions),
            ("topics.dlq", &self.topics.dlq),
            ("topics.crm_contacts", &self.topics.crm_contacts),
            (
                "topics.crm_identity_updates",
                &self.topics.crm_identity_updates,
            ),
            ("topics.work_items", &self.topics.work_items),
            ("topics.incidents", &self.topics.incidents),
            ("topics.repartition", &self.topics.repartition),
            ("topics.changelog", &self.topics.changelog),
        ];
        for (i, (key, name)) in topics.iter().enumerate() {
            if name.is_empty()
                || name.len() > 249
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return bad(key, format!("`{name}` is not a valid Kafka topic name"));
            }
            if let Some((other, _)) = topics[..i].iter().find(|(_, n)| n == name) {
                return bad(key, format!("`{name}` is already used by {other}"));
            }
        }
        if self.source.max_poll_records == 0 {
            return bad("source.max_poll_records", "must be at least 1");
        }
        if self.source.max_batch_rows == 0 {
            return bad("source.max_batch_rows", "must be at least 1");
        }
        if self.source.workers > 256 {
            return bad("source.workers", "must be at most 256");
        }
        if self.parse.max_record_bytes < 64 {
            return bad("parse.max_record_bytes", "must be at least 64");
        }
        if self.pipeline.channel_capacity_rows == 0 {
            return bad("pipeline.channel_capacity_rows", "must be at least 1");
        }
        if self.pipeline.memory_budget_mb < 64 {
            return bad("pipeline.memory_budget_mb", "must be at least 64");
        }
        if self.pipeline.shutdown_timeout_ms < self.source.drain_timeout_ms {
            return bad(
                "pipeline.shutdown_timeout_ms",
                format!(
                    "must be at least source.drain_timeout_ms ({})",
                    self.source.drain_timeout_ms
                ),
            );
        }
        if self.pipeline.keyed_stage && !(self.pipeline.enrich && self.pipeline.work_items) {
            return bad(
                "pipeline.keyed_stage",
                "needs pipeline.enrich and pipeline.work_items (it runs the work-item operators)",
            );
        }
        if self.pipeline.checkpoint_interval_ms == 0 {
            return bad("pipeline.checkpoint_interval_ms", "must be at least 1");
        }
        if self.pipeline.delivery == Delivery::ExactlyOnce && !self.pipeline.keyed_stage {
            return bad(
                "pipeline.delivery",
                "exactly_once needs pipeline.keyed_stage (the transactions are the keyed stage's)",
            );
        }
        if !matches!(
            self.sink.compression.as_str(),
            "none" | "gzip" | "snappy" | "lz4" | "zstd"
        ) {
            return bad(
                "sink.compression",
                format!(
                    "`{}` is not one of none, gzip, snappy, lz4, zstd",
                    self.sink.compression
                ),
            );
        }
        if !self.metrics.addr.is_empty() && self.metrics.addr.parse::<SocketAddr>().is_err() {
            return bad(
                "metrics.addr",
                format!("`{}` is not an ip:port address", self.metrics.addr),
            );
        }
        if self.identity.poll_interval_ms == 0 {
            return bad("identity.poll_interval_ms", "must be at least 1");
        }
        // Operators validate their own sections: build them once.
        self.identity
            .join_config()
            .validate()
            .map_err(|e| match e {
                // The operator names its own section `identity_join`.
                switchboard_operators::OperatorError::Config { key, reason } => {
                    PipelineError::Config {
                        key: format!(
                            "identity.{}",
                            key.strip_prefix("identity_join.").unwrap_or(&key)
                        ),
                        reason,
                    }
                }
                other => PipelineError::Operator(other),
            })?;
        crate::stage::stateless::Enricher::build(self)?;
        crate::stage::stateful::StatefulOperators::build(self)?;
        Ok(())
    }

    /// The librdkafka properties common to every client.
    pub fn client_properties(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.kafka.brokers)
            .set("client.id", &self.kafka.client_id);
        for (k, v) in &self.kafka.properties {
            c.set(k, v);
        }
        c
    }

    /// Sets a librdkafka property that `[kafka.properties]` may override:
    /// Switchboard's default, unless the config gives the key itself.
    pub fn client_default(
        &self,
        c: &mut rdkafka::ClientConfig,
        key: &str,
        value: impl Into<String>,
    ) {
        if !self.kafka.properties.contains_key(key) {
            c.set(key, value);
        }
    }
}

/// Prefixes an operator's config error key with its section name, unless the
/// operator already did.
pub fn prefix_key(section: &str, e: switchboard_operators::OperatorError) -> PipelineError {
    match e {
        switchboard_operators::OperatorError::Config { key, reason } => {
            let key = if key.starts_with(section) {
                key
            } else {
                format!("{section}.{key}")
            };
            PipelineError::Config { key, reason }
        }
        other => PipelineError::Operator(other),
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    let key = e.path.join(".");
    let kind = e.kind.to_string();
    let origin = e
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_default();
    let mut s = if key.is_empty() {
        kind
    } else {
        format!("config key `{key}`: {kind}")
    };
    if !origin.is_empty() {
        s.push_str(&format!(" (from {origin})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = Config::default();
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::from_toml_str(&text).unwrap(), c);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[kafka]\nbrokerz = \"x:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("brokerz"), "{err}");
        assert!(err.contains("kafka"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::from_toml_str("[source]\nmax_batch_rows = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("source.max_batch_rows"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        for (toml, key) in [
            ("[kafka]\nbrokers = \"nohost\"\n", "kafka.brokers"),
            (
                "[kafka]\nauto_offset_reset = \"middle\"\n",
                "kafka.auto_offset_reset",
            ),
            (
                "[kafka.properties]\n\"enable.auto.commit\" = \"true\"\n",
                "kafka.properties.\"enable.auto.commit\"",
            ),
            ("[topics]\ndlq = \"mentions\"\n", "topics.dlq"),
            ("[identity]\nkeep_versions = 0\n", "identity.keep_versions"),
            (
                "[identity]\ndefault_country_code = \"+44\"\n",
                "identity.default_country_code",
            ),
            (
                "[identity]\npoll_interval_ms = 0\n",
                "identity.poll_interval_ms",
            ),
            (
                "[topics]\nwork_items = \"bad topic\"\n",
                "topics.work_items",
            ),
            ("[source]\nmax_batch_rows = 0\n", "source.max_batch_rows"),
            ("[metrics]\naddr = \"localhost\"\n", "metrics.addr"),
            ("[sink]\ncompression = \"brotli\"\n", "sink.compression"),
            (
                "[pipeline]\ndelivery = \"exactly_once\"\n",
                "pipeline.delivery",
            ),
            (
                "[kafka.properties]\n\"transactional.id\" = \"x\"\n",
                "transactional.id",
            ),
        ] {
            let err = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[kafka]\nbrokers = \"a:1\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD__KAFKA__BROKERS", "b:2");
            let c = Config::load(&path).unwrap();
            assert_eq!(c.kafka.brokers, "b:2");
            Ok(())
        });
    }

    #[test]
    fn delivery_modes_parse() {
        let c =
            Config::from_toml_str("[pipeline]\nkeyed_stage = true\ndelivery = \"exactly_once\"\n")
                .unwrap();
        assert_eq!(c.pipeline.delivery, Delivery::ExactlyOnce);
        assert_eq!(Config::default().pipeline.delivery, Delivery::AtLeastOnce);
        let err = Config::from_toml_str("[pipeline]\ndelivery = \"at_most_once\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pipeline.delivery"), "{err}");
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Path::new("/nonexistent/switchboard.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/switchboard.toml"), "{err}");
    }
}

#[cfg(test)]
mod example_tests {
    #[test]
    fn shipped_example_config_is_valid() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/switchboard.example.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let c = super::Config::from_toml_str(&text).unwrap();
        assert_eq!(c.metrics.addr, "0.0.0.0:9898");
    }
}
