//! Reader of the compacted `crm-identity-updates` topic.
//!
//! Every instance needs every identity, whatever mention partitions it owns,
//! so the topic is read like a table: all partitions assigned (no group
//! membership, no commits) from the beginning at each start, and each
//! record applied to the shared [`IdentityJoin`] overlay. Arrival order does
//! not matter: the overlay orders updates by their valid-from time.
//!
//! A record that cannot be applied (bad JSON, unknown kind, bad time, …) is
//! a counted drop (`switchboard_identity_updates_rejected_total{reason}`),
//! summarised in the log at most every 10 s — never per record.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use switchboard_operators::identity_join::{parse_update, IdentityJoin, UpdateOp, UpdateRecord};
use tracing::{info, warn};

use crate::config::Config;
use crate::error::Result;
use crate::metrics as m;

/// Client context of a reader that reads partitions to their end (identity
/// updates, state restore): reaching the end is how it knows it caught up,
/// not an error worth a log line. Holds what the reader reads, for logs.
pub struct UpdatesContext(pub &'static str);

impl rdkafka::ClientContext for UpdatesContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !eof {
            warn!(error = %error, reason, reader = self.0, "consumer error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for UpdatesContext {}

/// Reads the updates topic into the join until stopped.
pub struct UpdatesReader {
    consumer: BaseConsumer<UpdatesContext>,
    topic: String,
    join: Arc<IdentityJoin>,
    caught_up: Arc<AtomicBool>,
}

impl UpdatesReader {
    /// Creates the (not yet assigned) consumer.
    pub fn new(
        config: &Config,
        join: Arc<IdentityJoin>,
        caught_up: Arc<AtomicBool>,
    ) -> Result<Self> {
        let mut c = config.client_properties();
        c.set(
            "group.id",
            format!("{}-identity-updates", config.kafka.group_id),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
        Ok(Self {
            consumer: c.create_with_context(UpdatesContext("identity updates"))?,
            topic: config.topics.crm_identity_updates.clone(),
            join,
            caught_up,
        })
    }

    fn assign(&self) -> std::result::Result<usize, String> {
        let md = self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let Some(t) = md.topics().iter().find(|t| t.name() == self.topic) else {
            return Err("not in metadata".into());
        };
        if let Some(e) = t.error() {
            return Err(format!("{:?}", RDKafkaErrorCode::from(e)));
        }
        if t.partitions().is_empty() {
            return Err("no partitions".into());
        }
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            tpl.add_partition_offset(&self.topic, p.id(), Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        self.consumer.assign(&tpl).map_err(|e| e.to_string())?;
        Ok(t.partitions().len())
    }

    /// Runs until `stop` is set.
    pub fn run(self, stop: Arc<AtomicBool>) {
        let applied: [(UpdateOp, metrics::Counter); 3] =
            [UpdateOp::Add, UpdateOp::Change, UpdateOp::Remove].map(|op| {
                let label = match op {
                    UpdateOp::Add => "add",
                    UpdateOp::Change => "change",
                    UpdateOp::Remove => "remove",
                };
                (op, metrics::counter!(m::IDENTITY_UPDATES, "op" => label))
            });
        let tombstones = metrics::counter!(m::IDENTITY_UPDATES, "op" => "tombstone");
        let caught_gauge = metrics::gauge!(m::IDENTITY_UPDATES_CAUGHT_UP);
        caught_gauge.set(0.0);

        // Find the topic; a missing topic means nothing to apply (yet).
        let partitions = loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            match self.assign() {
                Ok(n) => break n,
                Err(e) => {
                    if !self.caught_up.swap(true, Ordering::AcqRel) {
                        warn!(topic = %self.topic, error = %e,
                            "identity updates topic unavailable; snapshots only until it appears");
                    }
                    let until = Instant::now() + Duration::from_secs(10);
                    while Instant::now() < until && !stop.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        };
        info!(topic = %self.topic, partitions, "reading identity updates");
        let mut at_end: HashSet<i32> = HashSet::new();
        let mut rejected = 0u64;
        let mut rejected_logged = 0u64;
        let mut last_reject: Option<(String, i32, i64)> = None;
        let mut next_log = Instant::now();
        while !stop.load(Ordering::Acquire) {
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(msg)) => {
                    at_end.remove(&msg.partition());
                    match parse_update(msg.key(), msg.payload()) {
                        Ok(UpdateRecord::Update(u)) => match self.join.apply_update(&u) {
                            Ok(()) => {
                                if let Some((_, c)) = applied.iter().find(|(op, _)| *op == u.op) {
                                    c.increment(1);
                                }
                            }
                            Err(rej) => {
                                rejected += 1;
                                metrics::counter!(m::IDENTITY_UPDATES_REJECTED, "reason" => rej.reason)
                                    .increment(1);
                                last_reject = Some((rej.detail, msg.partition(), msg.offset()));
                            }
                        },
                        Ok(UpdateRecord::Tombstone { kind, value }) => {
                            self.join.forget_identity(kind, &value);
                            tombstones.increment(1);
                        }
                        Err(rej) => {
                            rejected += 1;
                            metrics::counter!(m::IDENTITY_UPDATES_REJECTED, "reason" => rej.reason)
                                .increment(1);
                            last_reject = Some((rej.detail, msg.partition(), msg.offset()));
                        }
                    }
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                    if at_end.len() >= partitions && !self.caught_up.swap(true, Ordering::AcqRel) {
                        caught_gauge.set(1.0);
                    }
                }
                Some(Err(e)) => {
                    metrics::counter!(m::SOURCE_ERRORS, "kind" => "identity_updates").increment(1);
                    warn!(topic = %self.topic, error = %e, "identity updates consumer error");
                }
            }
            if self.caught_up.load(Ordering::Acquire) {
                caught_gauge.set(1.0);
            }
            if rejected > rejected_logged && Instant::now() >= next_log {
                if let Some((detail, p, o)) = &last_reject {
                    warn!(topic = %self.topic, rejected_since_last = rejected - rejected_logged,
                        last_partition = p, last_offset = o, last_detail = %detail,
                        "identity updates rejected (counted)");
                }
                rejected_logged = rejected;
                next_log = Instant::now() + Duration::from_secs(10);
            }
        }
    }
}
