//! Dead-letter sink: every record that could not be processed goes to the
//! DLQ topic with its original key and bytes unchanged and the headers of
//! SPEC (`error.reason`, `error.detail`, `source.topic`, `source.partition`,
//! `source.offset`). The record's source batch stays unacknowledged until the
//! broker confirms the write; a write that fails for good stalls the source
//! partition (never committed, so it is reprocessed after a restart).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use switchboard_operators::parse::DlqReason;

use super::events::{headers_len, EventSink, Kind};

/// The header a truncated DLQ copy carries: the original value's length.
pub const TRUNCATED_HEADER: &str = "error.truncated_from_bytes";
use crate::config::Config;
use crate::error::Result;
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

/// The dead-letter producer (thread-safe; shared by all workers).
pub struct DlqSink {
    sink: EventSink,
}

impl DlqSink {
    /// Creates the idempotent DLQ producer.
    pub fn new(config: &Config) -> Result<Self> {
        Ok(Self {
            sink: EventSink::new(config, &config.topics.dlq, Kind::Dlq(DlqReason::ALL[0]))?,
        })
    }

    /// Dead letters to `topic` through another sink's producer (a
    /// transactional one puts them in its transactions).
    pub fn through(sink: &EventSink, topic: &str) -> Self {
        Self {
            sink: sink.sibling(topic, Kind::Dlq(DlqReason::ALL[0])),
        }
    }

    /// Queues one record; blocks (with the producer polling in its own thread)
    /// while librdkafka's queue is full. A record over the DLQ topic's size
    /// limit goes with its value cut to fit and the header
    /// `error.truncated_from_bytes` (the original length); the key and the
    /// other headers are kept.
    pub fn send(&self, rec: &DlqRecord, ack: Ack) {
        let partition = rec.source_partition.to_string();
        let offset = rec.source_offset.to_string();
        let headers = OwnedHeaders::new_with_capacity(6)
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
        let original = rec.payload.len().to_string();
        let base = rec.key.as_ref().map_or(0, Vec::len) + headers_len(&headers);
        let kind = Kind::Dlq(rec.reason);
        let (payload, headers) = if base + rec.payload.len() <= self.sink.capacity() {
            (&rec.payload[..], headers)
        } else {
            self.sink
                .count_oversize(kind, "truncated", rec.payload.len());
            let headers = headers.insert(Header {
                key: TRUNCATED_HEADER,
                value: Some(original.as_str()),
            });
            let room = self
                .sink
                .capacity()
                .saturating_sub(base + TRUNCATED_HEADER.len() + original.len() + 2);
            (&rec.payload[..room.min(rec.payload.len())], headers)
        };
        self.sink.send_record(
            None,
            rec.key.as_deref(),
            Some(payload),
            Some(&headers),
            kind,
            ack,
        );
    }

    /// Waits for queued records to be delivered.
    pub fn flush(&self, timeout: Duration) {
        self.sink.flush(timeout);
    }
}
