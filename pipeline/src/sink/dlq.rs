//! Dead-letter sink: every record that could not be processed goes to the
//! DLQ topic with its original key and bytes unchanged and the headers of
//! SPEC (`error.reason`, `error.detail`, `source.topic`, `source.partition`,
//! `source.offset`). The record's source batch stays unacknowledged until the
//! broker confirms the write; a write that fails for good stalls the source
//! partition (never committed, so it is reprocessed after a restart).

use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use switchboard_operators::parse::DlqReason;
use tracing::error;

use crate::config::Config;
use crate::error::Result;
use crate::metrics as m;
use crate::state::offsets::Ack;

/// One record bound for the DLQ.
#[derive(Debug, Clone)]
pub struct DlqRecord {
    /// Original key, unchanged.
    pub key: Option<Vec<u8>>,
    /// Original value, unchanged.
    pub payload: Vec<u8>,
    /// Why it was rejected.
    pub reason: DlqReason,
    /// Human-readable detail.
    pub detail: String,
    /// Where it came from.
    pub source_topic: Arc<str>,
    /// Source partition.
    pub source_partition: i32,
    /// Source offset.
    pub source_offset: i64,
}

/// Delivery state carried through librdkafka for one DLQ record.
pub struct DlqDelivery {
    reason: DlqReason,
    ack: Ack,
}

/// Producer context counting deliveries and failing the source batch on error.
pub struct DlqContext {
    delivered: [Counter; 5],
    failed: Counter,
}

impl ClientContext for DlqContext {}

impl ProducerContext for DlqContext {
    type DeliveryOpaque = Box<DlqDelivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                let i = DlqReason::ALL
                    .iter()
                    .position(|r| *r == d.reason)
                    .unwrap_or(0);
                self.delivered[i].increment(1);
            }
            Err((e, _)) => {
                self.failed.increment(1);
                error!(error = %e, reason = d.reason.as_str(), "DLQ delivery failed; source partition stalls");
                d.ack.fail();
            }
        }
    }
}

/// The dead-letter producer (thread-safe; shared by all workers).
pub struct DlqSink {
    producer: ThreadedProducer<DlqContext>,
    topic: String,
}

impl DlqSink {
    /// Creates the idempotent DLQ producer.
    pub fn new(config: &Config) -> Result<Self> {
        let ctx = DlqContext {
            delivered: DlqReason::ALL
                .map(|r| metrics::counter!(m::DLQ_RECORDS, "reason" => r.as_str())),
            failed: metrics::counter!(m::DLQ_FAILURES),
        };
        let producer = super::producer_config(config).create_with_context(ctx)?;
        Ok(Self {
            producer,
            topic: config.topics.dlq.clone(),
        })
    }

    /// Queues one record; blocks (with the producer polling in its own thread)
    /// while librdkafka's queue is full.
    pub fn send(&self, rec: &DlqRecord, ack: Ack) {
        let partition = rec.source_partition.to_string();
        let offset = rec.source_offset.to_string();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: "error.reason",
                value: Some(rec.reason.as_str()),
            })
            .insert(Header {
                key: "error.detail",
                value: Some(rec.detail.as_str()),
            })
            .insert(Header {
                key: "source.topic",
                value: Some(&*rec.source_topic),
            })
            .insert(Header {
                key: "source.partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "source.offset",
                value: Some(offset.as_str()),
            });
        let mut opaque = Box::new(DlqDelivery {
            reason: rec.reason,
            ack,
        });
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], Box<DlqDelivery>> =
                BaseRecord::with_opaque_to(&self.topic, opaque)
                    .payload(&rec.payload[..])
                    .headers(headers.clone());
            if let Some(k) = &rec.key {
                record = record.key(&k[..]);
            }
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    opaque = r.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, r)) => {
                    error!(error = %e, "DLQ enqueue failed; source partition stalls");
                    r.delivery_opaque.ack.fail();
                    return;
                }
            }
        }
    }

    /// Waits for queued records to be delivered.
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}
