//! Event sink: JSON events (work items, incidents) to their output topic,
//! keyed by their id, through the shared idempotent producer settings.
//!
//! Each record holds an [`Ack`] clone of the source batch that produced it:
//! the input offsets are committed only once the broker has confirmed every
//! event derived from them. A delivery that fails for good fails the batch
//! (its partition stalls and `/readyz` turns not-ready), so nothing is lost.

use std::time::Duration;

use metrics::Counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tracing::error;

use crate::config::Config;
use crate::error::Result;
use crate::metrics as m;
use crate::state::offsets::Ack;

/// Producer context: counts deliveries, fails the source batch on error.
pub struct EventContext {
    delivered: Counter,
    failed: Counter,
    kind: &'static str,
}

impl ClientContext for EventContext {}

impl ProducerContext for EventContext {
    type DeliveryOpaque = Box<Ack>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Self::DeliveryOpaque) {
        match result {
            Ok(_) => self.delivered.increment(1),
            Err((e, _)) => {
                self.failed.increment(1);
                error!(error = %e, sink = self.kind, "event delivery failed; source partition stalls");
                (*ack).fail();
            }
        }
    }
}

/// A producer of JSON events to one topic (thread-safe).
pub struct EventSink {
    producer: ThreadedProducer<EventContext>,
    topic: String,
}

impl EventSink {
    /// Creates the producer for `topic`; `kind` labels its metrics
    /// (`work_items`, `incidents`).
    pub fn new(config: &Config, topic: &str, kind: &'static str) -> Result<Self> {
        let ctx = EventContext {
            delivered: metrics::counter!(m::SINK_RECORDS, "sink" => kind),
            failed: metrics::counter!(m::SINK_FAILURES, "sink" => kind),
            kind,
        };
        let producer = super::producer_config(config).create_with_context(ctx)?;
        Ok(Self {
            producer,
            topic: topic.to_string(),
        })
    }

    /// Queues one event; blocks while librdkafka's queue is full (the
    /// producer polls in its own thread), which is backpressure upstream.
    pub fn send(&self, key: &str, payload: &[u8], ack: Ack) {
        self.send_to(None, Some(key.as_bytes()), Some(payload), ack);
    }

    /// Queues one record to an explicit partition (or the partitioner's,
    /// `None`), with an optional key and value (`None`: a tombstone);
    /// blocks like [`EventSink::send`].
    pub fn send_to(
        &self,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        ack: Ack,
    ) {
        let mut opaque = Box::new(ack);
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], Box<Ack>> =
                BaseRecord::with_opaque_to(&self.topic, opaque);
            if let Some(v) = payload {
                record = record.payload(v);
            }
            if let Some(k) = key {
                record = record.key(k);
            }
            if let Some(p) = partition {
                record = record.partition(p);
            }
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    opaque = r.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, r)) => {
                    error!(error = %e, topic = %self.topic, "event enqueue failed; source partition stalls");
                    (*r.delivery_opaque).fail();
                    return;
                }
            }
        }
    }

    /// The topic's partition count, from the broker's metadata.
    pub fn partition_count(&self, timeout: Duration) -> Result<i32> {
        self.partition_count_of(&self.topic, timeout)
    }

    /// Another topic's partition count, through this sink's connection.
    pub fn partition_count_of(&self, topic: &str, timeout: Duration) -> Result<i32> {
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(topic), timeout)?;
        let n = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len() as i32);
        if n == 0 {
            return Err(crate::PipelineError::Runtime(format!(
                "topic `{topic}` does not exist or has no partitions"
            )));
        }
        Ok(n)
    }

    /// The topic this sink writes.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits for queued events to be delivered.
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}
