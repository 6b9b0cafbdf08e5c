//! Kafka's size limits, read from the cluster at startup, and the keyed
//! stage's internal topics, created when missing.
//!
//! A record batch the broker stores may not exceed the topic's
//! `max.message.bytes` (which defaults to the broker's `message.max.bytes`),
//! and librdkafka refuses a record larger than the producer's own
//! `message.max.bytes`. [`Limits::read`] takes the minimum of the three per
//! output topic (`DescribeConfigs` through the admin client); each
//! [`super::events::EventSink`] then bounds what it writes to its topic's
//! [`Limits::record_capacity`] and caps its producer's `batch.size` so that
//! librdkafka never packs records into a batch the topic refuses. A broker
//! that does not answer `DescribeConfigs` (librdkafka's mock cluster, a
//! principal without `DescribeConfigs` rights) leaves the producer's limit.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, NewTopic, OwnedResourceSpecifier, ResourceSpecifier,
    TopicReplication,
};
use std::sync::Mutex;

use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use tracing::{info, warn};

use crate::config::Config;
use crate::error::{PipelineError, Result};

/// librdkafka's default `message.max.bytes` (and `batch.size`).
pub const LIBRDKAFKA_MAX_BYTES: usize = 1_000_000;

/// Bytes kept free for the record batch's framing (61-byte header, varints,
/// header keys) and for compression's worst case, beyond 1 % of the limit.
const FRAMING_BYTES: usize = 512;

/// The byte limits of the topics a process writes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The producer's `message.max.bytes`.
    producer: usize,
    /// The broker's `message.max.bytes`, when it could be read.
    broker: Option<usize>,
    /// Each topic's `max.message.bytes`, when it could be read.
    topics: BTreeMap<String, usize>,
}

impl Limits {
    /// The producer's limit only (no broker asked): for tools and tests.
    pub fn producer_only(config: &Config) -> Self {
        Self {
            producer: producer_max_bytes(config),
            broker: None,
            topics: BTreeMap::new(),
        }
    }

    /// Reads the broker's and each topic's limit; what cannot be read is
    /// logged once and left to the producer's limit.
    pub fn read(config: &Config, topics: &[&str]) -> Self {
        let mut limits = Self::producer_only(config);
        let admin = match Admin::new(config) {
            Ok(a) => a,
            Err(e) => {
                warn_once(&e);
                return limits;
            }
        };
        let mut wanted: Vec<&str> = topics.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        match admin.describe(&wanted) {
            Ok((broker, per_topic)) => {
                limits.broker = broker;
                limits.topics = per_topic;
                info!(
                    producer_bytes = limits.producer,
                    broker_bytes = ?limits.broker,
                    topics = ?limits.topics,
                    "size limits read from the cluster"
                );
            }
            Err(e) => warn_once(&e),
        }
        limits
    }

    /// The largest record batch `topic` accepts from this producer.
    pub fn max_bytes(&self, topic: &str) -> usize {
        let mut m = self.producer;
        if let Some(b) = self.broker {
            m = m.min(b);
        }
        if let Some(t) = self.topics.get(topic) {
            m = m.min(*t);
        }
        m
    }

    /// What one record's key, value and headers together may hold on
    /// `topic`: its limit less the batch framing and 1 % for compression.
    pub fn record_capacity(&self, topic: &str) -> usize {
        let m = self.max_bytes(topic);
        m.saturating_sub(FRAMING_BYTES + m / 100).max(64)
    }

    /// The `batch.size` for a producer writing `topics`: the smallest limit,
    /// so a batch librdkafka builds is one every topic accepts.
    pub fn batch_size(&self, topics: &[&str]) -> usize {
        topics
            .iter()
            .map(|t| self.max_bytes(t).saturating_sub(FRAMING_BYTES))
            .min()
            .unwrap_or(LIBRDKAFKA_MAX_BYTES)
            .clamp(1_000, LIBRDKAFKA_MAX_BYTES)
    }
}

/// Logs once per process that the limits could not be read (every sink
/// asks; librdkafka's mock cluster never answers `DescribeConfigs`).
fn warn_once(e: &PipelineError) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        warn!(error = %e, "cannot read the topics' size limits from the cluster; using the producer's message.max.bytes");
    }
}

/// The producer's `message.max.bytes` (`[kafka.properties]`, else
/// librdkafka's default).
fn producer_max_bytes(config: &Config) -> usize {
    config
        .kafka
        .properties
        .get("message.max.bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(LIBRDKAFKA_MAX_BYTES)
}

/// The admin client's context: keeps the last client error (a failed
/// SASL handshake, a TLS failure) so that startup can name it.
#[derive(Default)]
pub(crate) struct StartupContext {
    /// (error, is it an authentication failure).
    last: Mutex<Option<(String, bool)>>,
}

impl ClientContext for StartupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let auth = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
        );
        if let Ok(mut l) = self.last.lock() {
            *l = Some((format!("{error}: {reason}"), auth));
        }
    }
}

/// Reaches the cluster once before anything else, so that an unreachable
/// broker or refused credentials fail startup within `timeout` with one
/// line naming the problem, instead of clients retrying in silence. An
/// authentication failure ends the wait at once.
pub fn check_cluster(config: &Config, timeout: Duration) -> Result<()> {
    let mut c = config.client_properties();
    c.set("allow.auto.create.topics", "false");
    // A producer's poll serves the main queue, where librdkafka reports
    // client errors (the admin client's thread polls only its results).
    let client: BaseProducer<StartupContext> = c.create_with_context(StartupContext::default())?;
    let deadline = std::time::Instant::now() + timeout;
    let last = loop {
        let res = client
            .client()
            .fetch_metadata(None, Duration::from_millis(1_000));
        client.poll(Duration::ZERO);
        match res {
            Ok(_) => return Ok(()),
            Err(e) => {
                let seen = client.context().last.lock().ok().and_then(|l| l.clone());
                let auth = seen.as_ref().is_some_and(|(_, a)| *a);
                if auth || std::time::Instant::now() >= deadline {
                    break seen.map_or_else(|| e.to_string(), |(m, _)| m);
                }
            }
        }
    };
    Err(PipelineError::Runtime(format!(
        "cannot use Kafka at {}: {last}",
        config.kafka.brokers
    )))
}

impl rdkafka::producer::ProducerContext for StartupContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

/// A short-lived admin client (startup; and the bench's topics).
pub(crate) struct Admin {
    pub(crate) client: AdminClient<StartupContext>,
    /// Runs the admin calls' futures.
    pub(crate) rt: tokio::runtime::Runtime,
    /// Request and operation timeout.
    pub(crate) timeout: Duration,
}

impl Admin {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let mut c = config.client_properties();
        // A metadata request must not create a topic with the broker's
        // defaults (`auto.create.topics.enable`): wrong partition count,
        // no compaction.
        c.set("allow.auto.create.topics", "false");
        let client = c.create_with_context(StartupContext::default())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| PipelineError::Runtime(format!("admin runtime: {e}")))?;
        Ok(Self {
            client,
            rt,
            timeout: Duration::from_secs(10),
        })
    }

    pub(crate) fn opts(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }

    /// The broker's `message.max.bytes` (of one broker: they share it in
    /// practice) and each existing topic's `max.message.bytes`.
    fn describe(&self, topics: &[&str]) -> Result<(Option<usize>, BTreeMap<String, usize>)> {
        let md = self.client.inner().fetch_metadata(None, self.timeout)?;
        let broker_id = md.brokers().first().map(|b| b.id());
        let existing: Vec<&str> = topics
            .iter()
            .copied()
            .filter(|t| {
                md.topics()
                    .iter()
                    .any(|m| m.name() == *t && m.error().is_none())
            })
            .collect();
        let mut specs: Vec<ResourceSpecifier<'_>> = existing
            .iter()
            .map(|t| ResourceSpecifier::Topic(t))
            .collect();
        if let Some(id) = broker_id {
            specs.push(ResourceSpecifier::Broker(id));
        }
        let res = self
            .rt
            .block_on(self.client.describe_configs(&specs, &self.opts()))?;
        let mut broker = None;
        let mut out = BTreeMap::new();
        for r in res {
            let r = r.map_err(|e| PipelineError::Runtime(format!("describe configs: {e}")))?;
            match &r.specifier {
                OwnedResourceSpecifier::Topic(t) => {
                    if let Some(v) = int_entry(&r, "max.message.bytes") {
                        out.insert(t.clone(), v);
                    }
                }
                OwnedResourceSpecifier::Broker(_) => broker = int_entry(&r, "message.max.bytes"),
                _ => {}
            }
        }
        Ok((broker, out))
    }

    /// Partition count of `topic`, None if it does not exist.
    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        let md = self
            .client
            .inner()
            .fetch_metadata(Some(topic), self.timeout)?;
        Ok(md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len() as i32))
    }

    fn create(&self, topic: &str, partitions: i32, configs: &[(&str, &str)]) -> Result<()> {
        let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let res = self
            .rt
            .block_on(self.client.create_topics([&t], &self.opts()))?;
        for r in res {
            if let Err((_, code)) = r {
                if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                    return Err(PipelineError::Runtime(code.to_string()));
                }
            }
        }
        Ok(())
    }
}

fn int_entry(r: &rdkafka::admin::ConfigResource, key: &str) -> Option<usize> {
    r.get(key)
        .and_then(|e| e.value.as_deref())
        .and_then(|v| v.parse().ok())
}

/// One internal topic of the keyed stage.
pub struct InternalTopic<'a> {
    /// The config key that names it (for messages).
    pub key: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Topic configs it is created with (`cleanup.policy`, retention).
    pub configs: &'a [(&'a str, &'a str)],
}

/// Creates the internal topics that do not exist yet with the partition
/// count of `like` (the broker's default replication factor) when `create`
/// is on; otherwise, or when the broker refuses, a one-line error names
/// what is missing and how to create it.
pub fn ensure_internal_topics(
    config: &Config,
    topics: &[InternalTopic<'_>],
    like: &str,
    create: bool,
) -> Result<()> {
    let admin = Admin::new(config)?;
    let Some(partitions) = admin.partitions(like)? else {
        return Err(PipelineError::Runtime(format!(
            "topic `{like}` does not exist or has no partitions"
        )));
    };
    for t in topics {
        if admin.partitions(t.name)?.is_some() {
            continue;
        }
        let how = format!(
            "create it with {partitions} partitions{}",
            t.configs
                .iter()
                .map(|(k, v)| format!(", {k}={v}"))
                .collect::<String>()
        );
        if !create {
            return Err(PipelineError::Config {
                key: t.key.into(),
                reason: format!(
                    "internal topic `{}` is missing and topics.create_internal is off: {how}",
                    t.name
                ),
            });
        }
        match admin.create(t.name, partitions, t.configs) {
            Ok(()) => info!(topic = t.name, partitions, "created internal topic"),
            Err(e) => {
                return Err(PipelineError::Config {
                    key: t.key.into(),
                    reason: format!(
                        "internal topic `{}` is missing and could not be created ({e}): {how}",
                        t.name
                    ),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_cluster_fails_startup_in_one_line() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = Config::default();
        c.kafka.brokers = format!("127.0.0.1:{port}");
        let t0 = std::time::Instant::now();
        let e = check_cluster(&c, Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert!(
            e.contains(&format!("cannot use Kafka at 127.0.0.1:{port}")),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn the_smallest_limit_wins_and_leaves_room_for_framing() {
        let mut c = Config::default();
        c.kafka
            .properties
            .insert("message.max.bytes".into(), "500000".into());
        let mut l = Limits::producer_only(&c);
        assert_eq!(l.max_bytes("any"), 500_000);
        l.broker = Some(1_048_588);
        l.topics.insert("small".into(), 10_000);
        assert_eq!(l.max_bytes("small"), 10_000);
        assert_eq!(l.max_bytes("other"), 500_000);
        assert_eq!(l.record_capacity("small"), 10_000 - 512 - 100);
        assert_eq!(l.batch_size(&["small", "other"]), 10_000 - 512);
        assert_eq!(l.batch_size(&[]), LIBRDKAFKA_MAX_BYTES);
    }
}
