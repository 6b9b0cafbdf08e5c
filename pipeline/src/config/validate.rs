//! [`Config::validate`]: the checks serde cannot make, section by section;
//! the first problem is returned, naming its key. The operators' sections
//! are checked by building their operators (`operators.rs`): each
//! operator's config validates itself.

use std::net::SocketAddr;

use super::{Config, Delivery};
use crate::error::{PipelineError, Result};

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

fn bad(key: &str, reason: impl Into<String>) -> Result<()> {
    Err(PipelineError::Config {
        key: key.into(),
        reason: reason.into(),
    })
}

impl Config {
    /// Checks values serde cannot; the first problem is returned, naming its key.
    pub fn validate(&self) -> Result<()> {
        self.validate_kafka()?;
        self.validate_topics()?;
        self.validate_wiring()?;
        self.validate_outputs()?;
        self.validate_identity()?;
        self.build_operators()
    }

    fn validate_kafka(&self) -> Result<()> {
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
        super::librdkafka::check(&self.client_properties())
    }

    fn validate_topics(&self) -> Result<()> {
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
        Ok(())
    }

    /// The source, parse and pipeline sections: batching, bounds and the
    /// topology switches.
    fn validate_wiring(&self) -> Result<()> {
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
        if switchboard_operators::time::parse_rfc3339(&self.parse.min_event_time).is_none() {
            return bad("parse.min_event_time", "is not an RFC 3339 time");
        }
        if self.pipeline.channel_capacity_rows == 0 {
            return bad("pipeline.channel_capacity_rows", "must be at least 1");
        }
        if self.pipeline.memory_budget_mb < 64 {
            return bad("pipeline.memory_budget_mb", "must be at least 64");
        }
        if self.pipeline.output_stall_ms == 0 {
            return bad("pipeline.output_stall_ms", "must be at least 1");
        }
        if self.pipeline.shutdown_timeout_ms == 0 {
            return bad("pipeline.shutdown_timeout_ms", "must be at least 1");
        }
        if self.pipeline.liveness_stall_ms < self.pipeline.output_stall_ms {
            return bad(
                "pipeline.liveness_stall_ms",
                format!(
                    "must be at least pipeline.output_stall_ms ({})",
                    self.pipeline.output_stall_ms
                ),
            );
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
        Ok(())
    }

    /// The sink and metrics sections.
    fn validate_outputs(&self) -> Result<()> {
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
        Ok(())
    }

    /// The identity section: its own keys, then the join's (which the
    /// operator names under `identity_join`).
    fn validate_identity(&self) -> Result<()> {
        if self.identity.poll_interval_ms == 0 {
            return bad("identity.poll_interval_ms", "must be at least 1");
        }
        self.identity.join_config().validate().map_err(|e| match e {
            switchboard_operators::OperatorError::Config { key, reason } => PipelineError::Config {
                key: format!(
                    "identity.{}",
                    key.strip_prefix("identity_join.").unwrap_or(&key)
                ),
                reason,
            },
            other => PipelineError::Operator(other),
        })
    }
}
