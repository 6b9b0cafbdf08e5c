//! The keyed stage (`pipeline.keyed_stage`): the stateful operators, run
//! per partition of the repartition topic, with their correlation state in
//! a changelog topic.
//!
//! ```text
//! topics.repartition p (Arrow IPC, by customer) ─┐  one consumer group
//! topics.crm_contacts p (JSON, by customer)   ───┴► `<group_id>-keyed`, range
//!        assignment: partition p of both topics goes to the same member and,
//!        through the source's forwarding, to worker p % workers
//!   KeyedWorker: per assigned partition one StatefulOperators (spam →
//!   incidents → route → correlate), restored from topics.changelog p when
//!   the partition is (re)assigned
//!        ├─► work-items / incidents (events hold the interval's ack)
//!        └─► every pipeline.checkpoint_interval_ms: the keys changed in the
//!            interval → topics.changelog p — produced only once every event
//!            of the interval is acknowledged, in interval order; the input
//!            batches' acks ride on those records, so input offsets commit
//!            after the outputs *and* the state they caused.
//! ```
//!
//! After a crash the next owner restores the state and re-reads the input
//! from the last commit. A key's state remembers the highest mention offset
//! it applied per source partition and its contacts by event id, so a
//! replayed record the state already holds is skipped; one the state does
//! not hold is processed again and yields the same events (ids and
//! revisions are deterministic), which the latest-revision view absorbs.
//!
//! Here: the stage's parts and how they are built ([`KeyedStage`]), what
//! its workers share; `worker.rs`: [`KeyedWorker`]'s input and operators;
//! `chunk.rs`: a poll worked through in chunks, each message only in the
//! assignment it was polled in; `checkpoint.rs`: its changelog checkpoints
//! and transactions, and the recovery from an aborted one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::ContactEvent;
use tracing::info;

use super::downstream::Downstream;
use super::emit::Emitter;
use super::stateful::StatefulOperators;
use crate::config::{Config, Delivery};
use crate::error::Result;
use crate::metrics::{Health, PipelineStats};
use crate::sink::dlq::{DlqRecord, DlqSink};
use crate::sink::events::{EventSink, Kind};
use crate::sink::limits::{ensure_internal_topics, InternalTopic};
use crate::source::kafka::{GroupMetadata, KafkaSource, Rejoin};
use crate::state::offsets::{Ack, OffsetTracker, TopicPartition};

mod checkpoint;
mod chunk;
mod worker;

/// One polled message: where it came from, the index in
/// `KeyedWorker::inputs` past its last input, and its rows.
struct Polled {
    topic: Arc<str>,
    partition: i32,
    next: i64,
    end: usize,
    rows: usize,
    /// The partition's assignment generation when the message was polled.
    generation: Option<u64>,
}

/// How long a partition's restore may take before the worker gives up on it
/// (the partition's input then stays uncommitted and is retried).
const RESTORE_TIMEOUT: Duration = Duration::from_secs(300);

/// What every keyed worker shares.
pub struct KeyedShared {
    /// The configuration the operators are built from.
    pub config: Config,
    /// `topics.repartition`.
    pub repartition_topic: Arc<str>,
    /// `topics.crm_contacts`.
    pub contacts_topic: Arc<str>,
    /// The shared (non-transactional) outputs, used by every worker unless
    /// it has transactional ones.
    pub outputs: Outputs,
    /// Shared totals.
    pub stats: Arc<PipelineStats>,
    /// `exactly_once`: each worker's transactional outputs (taken by worker
    /// i from slot i) and the group metadata their offsets commit under.
    pub transactions: Option<Transactions>,
}

/// The keyed stage's transactional outputs (`pipeline.delivery =
/// "exactly_once"`).
pub struct Transactions {
    /// One set per worker, taken when the worker starts.
    pub outputs: Mutex<Vec<Option<Outputs>>>,
    /// Each worker's `transactional.id` (to replace a fenced producer).
    pub ids: Vec<String>,
    /// The keyed consumer's group metadata.
    pub group: GroupMetadata,
    /// Makes the keyed consumer rejoin its group after an aborted
    /// transaction.
    pub rejoin: Rejoin,
}

/// Where one keyed worker writes.
#[derive(Clone)]
pub struct Outputs {
    /// Work-item events.
    pub work_items: Arc<EventSink>,
    /// Incident events.
    pub incidents: Arc<EventSink>,
    /// The state changelog.
    pub changelog: Arc<EventSink>,
    /// Rejected contacts.
    pub dlq: Arc<DlqSink>,
}

impl Outputs {
    /// One transactional producer (`transactional.id` = `id`) writing all
    /// four topics.
    pub fn transactional(config: &Config, id: &str) -> Result<Self> {
        let t = &config.topics;
        let work_items = EventSink::transactional(
            config,
            id,
            &t.work_items,
            Kind::WorkItems,
            &[&t.incidents, &t.changelog, &t.dlq],
            Duration::from_secs(30),
        )?;
        Ok(Self {
            incidents: Arc::new(work_items.sibling(&t.incidents, Kind::Incidents)),
            changelog: Arc::new(work_items.sibling(&t.changelog, Kind::Changelog)),
            dlq: Arc::new(DlqSink::through(&work_items, &t.dlq)),
            work_items: Arc::new(work_items),
        })
    }
}

struct Part {
    ops: StatefulOperators,
    generation: u64,
}

enum Input {
    Mentions(RecordBatch),
    Contact(ContactEvent),
    /// A record that goes to the DLQ.
    Dead(DlqRecord),
}

/// One changelog record: (partition, generation, key, value or tombstone).
type StateRecord = (i32, u64, Box<str>, Option<Vec<u8>>);

/// One interval's state changes, waiting for the interval's events
/// (`checkpoint.rs`).
struct Checkpoint {
    /// Interval number: released once the events tracker has completed it.
    seq: i64,
    records: Vec<StateRecord>,
    /// The input batches processed in the interval.
    acks: Vec<Ack>,
}

/// The pseudo-partition of the per-worker events tracker.
fn events_tp() -> TopicPartition {
    (Arc::from("__events"), 0)
}

/// Worker handler of the keyed stage.
pub struct KeyedWorker {
    shared: Arc<KeyedShared>,
    parts: BTreeMap<i32, Part>,
    /// Completion of each interval's events, in interval order.
    events: Arc<OffsetTracker>,
    interval: i64,
    interval_ack: Ack,
    input_acks: Vec<Ack>,
    last_checkpoint: Instant,
    checkpoint_every: Duration,
    pending: VecDeque<Checkpoint>,
    events_done: i64,
    inputs: Vec<(i32, Input)>,
    polled: Vec<Polled>,
    offsets: Vec<(TopicPartition, i64)>,
    emitter: Emitter,
    empty: RecordBatch,
    changelog_records: metrics::Counter,
    drain_timeout: Duration,
    out: Outputs,
    /// `exactly_once`: the group metadata the transactions commit under.
    txn_group: Option<GroupMetadata>,
    /// `exactly_once`: this worker's `transactional.id`.
    txn_id: Option<String>,
    /// `exactly_once`: makes the keyed consumer rejoin its group.
    rejoin: Option<Rejoin>,
    /// `exactly_once`: the interval's input offsets (next offset to read)
    /// with the partition's generation when they were read.
    txn_offsets: Vec<(TopicPartition, i64, u64)>,
    /// `exactly_once`: partitions (and generation) whose transaction was
    /// aborted (or whose state could not be restored): their input is no
    /// longer processed nor committed until they are assigned again (the
    /// worker has the consumer rejoin its group; the next owner restores
    /// and replays).
    poisoned: BTreeMap<i32, u64>,
    /// `exactly_once`: transactions that failed (logged sparsely).
    txn_failures: u64,
}

/// The keyed stage's parts (`pipeline.keyed_stage`).
pub struct KeyedStage {
    /// The keyed consumer (repartition and contacts topics).
    pub source: KafkaSource,
    /// What every keyed worker shares.
    pub shared: Arc<KeyedShared>,
    /// The repartition topic's sink, for the parse workers.
    pub repartition: Arc<EventSink>,
    /// Partitions of the co-partitioned topics.
    pub partitions: i32,
}

impl KeyedStage {
    /// Builds the keyed stage's sinks and consumer; checks the
    /// co-partitioning of its topics.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        config: &Config,
        downstream: &Downstream,
        dlq: &Arc<DlqSink>,
        stats: &Arc<PipelineStats>,
        health: &Arc<Health>,
        workers: usize,
    ) -> Result<Self> {
        let timeout = Duration::from_secs(10);
        let t = &config.topics;
        ensure_internal_topics(
            config,
            &[
                InternalTopic {
                    key: "topics.repartition",
                    name: &t.repartition,
                    // Read within seconds; a day covers any outage.
                    configs: &[("retention.ms", "86400000")],
                },
                InternalTopic {
                    key: "topics.changelog",
                    name: &t.changelog,
                    configs: &[("cleanup.policy", "compact")],
                },
            ],
            &t.crm_contacts,
            t.create_internal,
        )?;
        let repartition = Arc::new(EventSink::new(
            config,
            &config.topics.repartition,
            Kind::Repartition,
        )?);
        let changelog = Arc::new(EventSink::new(
            config,
            &config.topics.changelog,
            Kind::Changelog,
        )?);
        let partitions = repartition.partition_count(timeout)?;
        // Co-partitioning: partition p of all three holds the same customers.
        for (key, topic) in [
            ("topics.changelog", &config.topics.changelog),
            ("topics.crm_contacts", &config.topics.crm_contacts),
        ] {
            let n = repartition.partition_count_of(topic, timeout)?;
            if n != partitions {
                return Err(crate::PipelineError::Config {
                    key: key.into(),
                    reason: format!(
                        "`{topic}` has {n} partitions but `{}` has {partitions}: the keyed stage needs them co-partitioned (equal counts)",
                        config.topics.repartition
                    ),
                });
            }
        }
        let (work_items, incidents) = match downstream.sinks().as_slice() {
            [w, i] => (w.clone(), i.clone()),
            _ => {
                return Err(crate::PipelineError::Runtime(
                    "keyed stage needs the work-item and incident sinks".into(),
                ))
            }
        };
        // Range assignment gives one member partition p of both topics.
        let mut kc = config.clone();
        kc.kafka
            .properties
            .insert("partition.assignment.strategy".into(), "range".into());
        let group_id = format!("{}-keyed", config.kafka.group_id);
        let source = KafkaSource::subscribe(
            &kc,
            &group_id,
            &[&config.topics.repartition, &config.topics.crm_contacts],
            workers,
            health.clone(),
        )?;
        let transactions = if config.pipeline.delivery == Delivery::ExactlyOnce {
            source.commit_by_transactions();
            // One transactional producer per worker (pipeline.instance_id).
            let instance = match config.pipeline.instance_id.as_str() {
                "" => format!("{}-{}", host_name(), std::process::id()),
                id => id.to_string(),
            };
            let ids: Vec<String> = (0..workers.max(1))
                .map(|i| format!("{group_id}-{instance}-w{i}"))
                .collect();
            let outputs = ids
                .iter()
                .map(|id| Outputs::transactional(config, id).map(Some))
                .collect::<Result<Vec<_>>>()?;
            info!(
                producers = outputs.len(),
                "keyed stage writes in Kafka transactions"
            );
            Some(Transactions {
                outputs: Mutex::new(outputs),
                ids,
                group: source.group_metadata(),
                rejoin: source.rejoin_handle(),
            })
        } else {
            None
        };
        let shared = Arc::new(KeyedShared {
            config: config.clone(),
            repartition_topic: Arc::from(config.topics.repartition.as_str()),
            contacts_topic: Arc::from(config.topics.crm_contacts.as_str()),
            outputs: Outputs {
                work_items,
                incidents,
                changelog,
                dlq: dlq.clone(),
            },
            stats: stats.clone(),
            transactions,
        });
        Ok(Self {
            source,
            shared,
            repartition,
            partitions,
        })
    }
}

/// This machine's name (for transactional ids), `switchboard` if unknown.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
}
