//! Produces generated records to a Kafka topic with an rdkafka
//! [`BaseProducer`], optionally paced to a rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::contacts::ContactEvent;
use super::mentions::GeneratedRecord;
use crate::error::{Result, ToolsError};

/// A record that can be produced: an optional key and a payload.
pub trait KafkaRecord {
    /// Record key, if any.
    fn key(&self) -> Option<&[u8]>;
    /// Record value.
    fn payload(&self) -> &[u8];
}

/// A record as bytes: what a topic holds, to produce again or compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawRecord {
    /// Record key, if any.
    pub key: Option<Vec<u8>>,
    /// Record value.
    pub payload: Vec<u8>,
}

impl KafkaRecord for RawRecord {
    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
    fn payload(&self) -> &[u8] {
        &self.payload
    }
}

impl KafkaRecord for GeneratedRecord {
    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
    fn payload(&self) -> &[u8] {
        &self.payload
    }
}

impl KafkaRecord for ContactEvent {
    fn key(&self) -> Option<&[u8]> {
        Some(&self.key)
    }
    fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// Counts delivery reports.
#[derive(Default)]
struct DeliveryCounter {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

/// Produces up to `count` records from `records` to `topic` on `brokers`
/// (idempotent producer, `linger.ms=5`, `batch.num.messages=10000`, no
/// compression), paced to `rate_per_sec` records per second when given,
/// retrying while the local queue is full, and flushing at the end.
///
/// Returns the number of records delivered; an error if any delivery
/// failed (with the count and the first error) or a send failed outright.
pub fn produce_to_topic<R: KafkaRecord>(
    brokers: &str,
    topic: &str,
    records: impl Iterator<Item = R>,
    count: u64,
    rate_per_sec: Option<f64>,
) -> Result<u64> {
    produce_to_topic_with(brokers, topic, records, count, rate_per_sec, &[])
}

/// [`produce_to_topic`] with extra librdkafka producer properties (they
/// override the defaults above).
pub fn produce_to_topic_with<R: KafkaRecord>(
    brokers: &str,
    topic: &str,
    records: impl Iterator<Item = R>,
    count: u64,
    rate_per_sec: Option<f64>,
    extra: &[(&str, &str)],
) -> Result<u64> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("compression.type", "none")
        .set("enable.idempotence", "true")
        .set("queue.buffering.max.messages", "200000")
        // Kafka's default (Java) partitioner, murmur2 of the key, as the
        // producers of a real `crm-contacts` use: the keyed stage relies on
        // it to co-partition contacts with repartitioned mentions.
        .set("partitioner", "murmur2_random");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    produce_with_config(config, topic, records, count, rate_per_sec)
}

fn produce_with_config<R: KafkaRecord>(
    config: ClientConfig,
    topic: &str,
    records: impl Iterator<Item = R>,
    count: u64,
    rate_per_sec: Option<f64>,
) -> Result<u64> {
    let producer: BaseProducer<DeliveryCounter> =
        config.create_with_context(DeliveryCounter::default())?;
    let rate = rate_per_sec.filter(|r| r.is_finite() && *r > 0.0);
    let start = Instant::now();
    let mut sent = 0u64;
    for rec in records.take(usize::try_from(count).unwrap_or(usize::MAX)) {
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                producer.poll((due - now).min(Duration::from_millis(20)));
            }
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).payload(rec.payload());
        if let Some(k) = rec.key() {
            record = record.key(k);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(20));
                }
                Err((e, _)) => {
                    let _ = producer.flush(Duration::from_secs(5));
                    return Err(ToolsError::Kafka(e));
                }
            }
        }
        sent += 1;
        if sent & 1023 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let flushed = producer.flush(Duration::from_secs(60));
    let ctx = producer.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = ctx
            .first_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_default();
        return Err(ToolsError::Runtime(format!(
            "{failed} of {sent} records to topic `{topic}` failed delivery (first error: {first})"
        )));
    }
    flushed?;
    if delivered < sent {
        return Err(ToolsError::Runtime(format!(
            "only {delivered} of {sent} records to topic `{topic}` were confirmed delivered"
        )));
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::mentions::{MentionGenConfig, MentionGenerator};

    #[test]
    fn nothing_to_send_is_ok() {
        let n = produce_to_topic(
            "127.0.0.1:1",
            "mentions",
            std::iter::empty::<GeneratedRecord>(),
            10,
            None,
        )
        .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn unreachable_broker_reports_failed_deliveries() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("message.timeout.ms", "300")
            .set("linger.ms", "1");
        let recs = MentionGenerator::new(MentionGenConfig::default());
        let err = produce_with_config(config, "mentions", recs, 5, Some(1_000.0)).unwrap_err();
        assert!(err.to_string().contains("5 of 5 records"), "{err}");
    }
}
