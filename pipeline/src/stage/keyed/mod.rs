//! The keyed stage (`pipeline.keyed_stage`): the stateful operators, run
//! per partition of the repartition topic, with their correlation state in
//! a changelog topic.
//!
//! ```text
//! topics.repartition p (Arrow IPC, by customer) ─┐  one consumer group
//! topics.crm_contacts p (JSON, by customer)   ───┴► `<group_id>-keyed`, range
//!        assignment: partition p of both topics goes to the same member and,
//!        through the source's forwarding, to worker p % workers
//!   KeyedWorker (`worker.rs`): per assigned partition one StatefulOperators (spam →
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

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::ContactEvent;

use super::emit::Emitter;
use super::stateful::StatefulOperators;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::PipelineStats;
use crate::sink::dlq::{DlqRecord, DlqSink};
use crate::sink::events::{EventSink, Kind};
use crate::source::kafka::GroupMetadata;
use crate::state::offsets::{Ack, OffsetTracker, TopicPartition};

mod checkpoint;
mod parts;
mod worker;

pub use parts::KeyedStage;

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
    /// The keyed consumer's group metadata.
    pub group: GroupMetadata,
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
    offsets: Vec<(TopicPartition, i64)>,
    dlq_pending: Vec<DlqRecord>,
    emitter: Emitter,
    empty: RecordBatch,
    changelog_records: metrics::Counter,
    drain_timeout: Duration,
    out: Outputs,
    /// `exactly_once`: the group metadata the transactions commit under.
    txn_group: Option<GroupMetadata>,
    /// `exactly_once`: the interval's input offsets (next offset to read)
    /// with the partition's generation when they were read.
    txn_offsets: Vec<(TopicPartition, i64, u64)>,
    /// `exactly_once`: partitions (and generation) whose transaction was
    /// aborted: their input is no longer processed nor committed until
    /// they are assigned again (the next owner replays it).
    poisoned: BTreeMap<i32, u64>,
    /// `exactly_once`: transactions that failed (logged sparsely).
    txn_failures: u64,
}
