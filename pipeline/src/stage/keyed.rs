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

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::{parse_contact, ContactEvent};
use switchboard_operators::parse::DlqReason;
use switchboard_operators::repartition::decode_ipc;
use switchboard_operators::spam;
use tracing::{error, warn};

use tracing::info;

use super::parse_worker::contact_dlq_record;
use super::stateful::{
    emit, Downstream, EmitScratch, Observers, StatefulOperators, WorkItemTotals,
};
use crate::config::{Config, Delivery};
use crate::error::Result;
use crate::metrics::{self as m, Health, PipelineStats};
use crate::sink::dlq::{DlqRecord, DlqSink};
use crate::sink::events::{EventSink, Kind};
use crate::source::kafka::{GroupMetadata, KafkaSource, MessageBatch, WorkerHandler};
use crate::state::changelog::{self, WATERMARK_KEY};
use crate::state::offsets::{note_next_offset, Ack, OffsetTracker, TopicPartition};

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
    /// Work-item totals.
    pub totals: Arc<Mutex<WorkItemTotals>>,
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

/// One interval's state changes, waiting for the interval's events.
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
    observers: Observers,
    scratch: EmitScratch,
    empty: RecordBatch,
    spam_by_reason: [metrics::Counter; spam::reason::ALL.len()],
    stage: m::StatefulStageCounters,
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

impl KeyedWorker {
    /// Worker `index`, with no partitions yet.
    pub fn new(shared: Arc<KeyedShared>, index: usize) -> Self {
        let txn = shared.transactions.as_ref().and_then(|t| {
            let outputs = t
                .outputs
                .lock()
                .expect("outputs poisoned")
                .get_mut(index)?
                .take()?;
            Some((outputs, t.group.clone()))
        });
        let (out, txn_group) = match txn {
            Some((o, g)) => (o, Some(g)),
            None => (shared.outputs.clone(), None),
        };
        let events = OffsetTracker::new();
        events.assign([events_tp()]);
        let interval_ack = events.begin(&[(events_tp(), 1)]);
        let checkpoint_every = Duration::from_millis(shared.config.pipeline.checkpoint_interval_ms);
        let drain_timeout = Duration::from_millis(shared.config.source.drain_timeout_ms);
        Self {
            shared,
            parts: BTreeMap::new(),
            events,
            interval: 1,
            interval_ack,
            input_acks: Vec::new(),
            last_checkpoint: Instant::now(),
            checkpoint_every,
            pending: VecDeque::new(),
            events_done: 0,
            inputs: Vec::new(),
            offsets: Vec::new(),
            dlq_pending: Vec::new(),
            observers: Observers::default(),
            scratch: EmitScratch::default(),
            empty: RecordBatch::new_empty(Arc::new(Schema::empty())),
            spam_by_reason: spam::reason::ALL
                .map(|r| metrics::counter!(m::SPAM_DROPPED, "reason" => r)),
            stage: m::StatefulStageCounters::default(),
            changelog_records: metrics::counter!(m::STATE_CHANGELOG_RECORDS),
            drain_timeout,
            out,
            txn_group,
            txn_offsets: Vec::new(),
            poisoned: BTreeMap::new(),
            txn_failures: 0,
        }
    }

    fn generation(&self, tracker: &OffsetTracker, p: i32) -> Option<u64> {
        tracker
            .generation(&(self.shared.repartition_topic.clone(), p))
            .or_else(|| tracker.generation(&(self.shared.contacts_topic.clone(), p)))
    }

    /// The partition's operators, restored from the changelog when the
    /// partition is new to this worker or was assigned again since.
    fn part(&mut self, tracker: &OffsetTracker, p: i32) -> Option<&mut Part> {
        let generation = self.generation(tracker, p)?;
        let fresh = self
            .parts
            .get(&p)
            .is_some_and(|x| x.generation == generation);
        if !fresh {
            self.parts.remove(&p);
            let mut ops = match StatefulOperators::build(&self.shared.config) {
                Ok(ops) => ops,
                Err(e) => {
                    error!(error = %e, partition = p, "cannot build the stateful operators");
                    return None;
                }
            };
            ops.correlator_mut().set_track_dirty(true);
            if let Err(e) = changelog::restore(
                &self.shared.config,
                p,
                ops.correlator_mut(),
                RESTORE_TIMEOUT,
            ) {
                error!(error = %e, partition = p, "state restore failed; input not acknowledged");
                return None;
            }
            self.parts.insert(p, Part { ops, generation });
            metrics::gauge!(m::STATE_PARTITIONS).set(self.parts.len() as f64);
        }
        self.parts.get_mut(&p)
    }

    /// Runs one partition's consecutive inputs through its operators.
    fn process(
        &mut self,
        tracker: &OffsetTracker,
        p: i32,
        batch: Option<RecordBatch>,
        contacts: &[ContactEvent],
        ack: &Ack,
    ) {
        let batch = batch.unwrap_or_else(|| self.empty.clone());
        if self
            .poisoned
            .get(&p)
            .is_some_and(|g| Some(*g) == self.generation(tracker, p))
        {
            ack.fail();
            return;
        }
        let events = self.scratch.take_events();
        let Some(part) = self.part(tracker, p) else {
            ack.fail();
            return;
        };
        let processed = match part.ops.process(&batch, contacts, events) {
            Ok(x) => x,
            Err(e) => {
                error!(error = %e, partition = p, "keyed stage failed; batch not acknowledged");
                ack.fail();
                return;
            }
        };
        let s = &self.shared;
        self.stage.spam_in.increment(batch.num_rows() as u64);
        s.stats
            .spam_dropped
            .fetch_add(processed.spam, Ordering::Relaxed);
        for (c, n) in self.spam_by_reason.iter().zip(processed.spam_by_reason) {
            if n > 0 {
                c.increment(n);
            }
        }
        let rows = processed.batch.as_ref().map_or(0, |b| b.num_rows()) as u64;
        self.stage.passed_spam(rows);
        emit(
            Some(&self.out.work_items),
            Some(&self.out.incidents),
            &s.totals,
            &mut self.scratch,
            &mut self.observers,
            processed,
            &self.interval_ack,
        );
        self.stage.sink_out.increment(rows);
        s.stats.mentions_out.fetch_add(rows, Ordering::Relaxed);
    }

    /// The keys changed since the last call in the partitions this worker
    /// still owns, as changelog records (with each partition's watermark).
    fn take_state(&mut self, tracker: &OffsetTracker) -> Vec<StateRecord> {
        let owned: Vec<(i32, Option<u64>)> = self
            .parts
            .keys()
            .map(|&p| (p, self.generation(tracker, p)))
            .collect();
        let mut records = Vec::new();
        for (p, generation) in owned {
            let Some(part) = self.parts.get_mut(&p) else {
                continue;
            };
            if generation != Some(part.generation) {
                continue;
            }
            let corr = part.ops.correlator_mut();
            let dirty = corr.take_dirty();
            if dirty.is_empty() {
                continue;
            }
            for (k, v) in dirty {
                records.push((p, part.generation, k, v));
            }
            if let Some(ms) = corr.max_event_time_ms() {
                records.push((
                    p,
                    part.generation,
                    WATERMARK_KEY.into(),
                    Some(ms.to_string().into_bytes()),
                ));
            }
        }
        records
    }

    /// Closes the interval: the changed keys become a pending checkpoint.
    fn checkpoint(&mut self, tracker: &OffsetTracker) {
        self.last_checkpoint = Instant::now();
        let records = self.take_state(tracker);
        if records.is_empty() && self.input_acks.is_empty() {
            return;
        }
        self.pending.push_back(Checkpoint {
            seq: self.interval,
            records,
            acks: std::mem::take(&mut self.input_acks),
        });
        self.next_interval();
    }

    /// Starts the next interval: later events hold its ack.
    fn next_interval(&mut self) {
        self.interval += 1;
        let next = self.events.begin(&[(events_tp(), self.interval)]);
        drop(std::mem::replace(&mut self.interval_ack, next));
    }

    /// `exactly_once`: closes the interval in one transaction: the state
    /// changes join the interval's events and dead letters, the input
    /// offsets of partitions still owned (and not poisoned) are sent to the
    /// transaction, and it commits. Aborted, the interval's partitions are
    /// poisoned: their input fails (stalls) until they are reassigned.
    fn commit_transaction(&mut self, tracker: &Arc<OffsetTracker>, group: &GroupMetadata) {
        self.last_checkpoint = Instant::now();
        let records = self.take_state(tracker);
        if records.is_empty() && self.input_acks.is_empty() {
            return;
        }
        let no_ack = tracker.begin(&[]);
        for (p, _, key, value) in &records {
            self.out.changelog.send_to(
                Some(*p),
                Some(key.as_bytes()),
                value.as_deref(),
                no_ack.clone(),
            );
        }
        let mut offsets: Vec<(TopicPartition, i64)> = Vec::new();
        for ((topic, p), next, generation) in self.txn_offsets.drain(..) {
            let owned = tracker.generation(&(topic.clone(), p)) == Some(generation)
                && self.poisoned.get(&p) != Some(&generation);
            if owned {
                note_next_offset(&mut offsets, &mut 0, &topic, p, next);
            }
        }
        if records.is_empty() && offsets.is_empty() {
            // Only input of poisoned or revoked partitions: nothing to commit.
            self.input_acks.clear();
            return;
        }
        let started = Instant::now();
        let result = match group.get() {
            Some(g) => self
                .out
                .work_items
                .commit_transaction(&offsets, &g, self.drain_timeout),
            None => Err(crate::PipelineError::Runtime(
                "the keyed consumer is gone".into(),
            )),
        };
        metrics::histogram!(m::STATE_TRANSACTION_DURATION).record(started.elapsed().as_secs_f64());
        let acks = std::mem::take(&mut self.input_acks);
        // The interval trackers only matter to at_least_once: keep them empty.
        self.next_interval();
        self.events.drain_committable();
        match result {
            Ok(()) => {
                metrics::counter!(m::STATE_TRANSACTIONS, "result" => "committed").increment(1);
                self.changelog_records.increment(records.len() as u64);
                // The offsets are committed: the source only tracks them.
                drop(acks);
            }
            Err(e) => {
                metrics::counter!(m::STATE_TRANSACTIONS, "result" => "aborted").increment(1);
                self.txn_failures += 1;
                let log = self.txn_failures.is_power_of_two();
                if log {
                    error!(error = %e, failures = self.txn_failures, "transaction failed; aborting it, the interval's partitions stall until reassigned");
                }
                if let Err(e) = self.out.work_items.abort_transaction(self.drain_timeout) {
                    if log {
                        error!(error = %e, "transaction abort failed");
                    }
                }
                for (p, part) in std::mem::take(&mut self.parts) {
                    self.poisoned.insert(p, part.generation);
                }
                for ((_, p), _) in offsets {
                    if let Some(g) = self.generation(tracker, p) {
                        self.poisoned.insert(p, g);
                    }
                }
                metrics::gauge!(m::STATE_PARTITIONS).set(0.0);
                for a in &acks {
                    a.fail();
                }
            }
        }
    }

    /// Produces the checkpoints whose events are all acknowledged, in order.
    fn release(&mut self, tracker: &Arc<OffsetTracker>) {
        if !self.events.stalled().is_empty() {
            // An event was not delivered: nothing of it may commit.
            error!("work-item or incident delivery failed; keyed input partitions stall");
            for cp in self.pending.drain(..) {
                for a in &cp.acks {
                    a.fail();
                }
            }
            for a in self.input_acks.drain(..) {
                a.fail();
            }
            let events = OffsetTracker::new();
            events.assign([events_tp()]);
            self.interval += 1;
            self.interval_ack = events.begin(&[(events_tp(), self.interval)]);
            self.events_done = self.interval - 1;
            self.events = events;
            return;
        }
        for (_, done) in self.events.drain_committable() {
            self.events_done = self.events_done.max(done);
        }
        while self
            .pending
            .front()
            .is_some_and(|c| c.seq <= self.events_done)
        {
            let cp = self.pending.pop_front().expect("checked");
            let bundle = Ack::bundle(cp.acks).unwrap_or_else(|| tracker.begin(&[]));
            for (p, generation, key, value) in cp.records {
                // Never write state for a partition that moved on: its new
                // owner restored without it and writes its own.
                if self.generation(tracker, p) != Some(generation) {
                    continue;
                }
                self.out.changelog.send_to(
                    Some(p),
                    Some(key.as_bytes()),
                    value.as_deref(),
                    bundle.clone(),
                );
                self.changelog_records.increment(1);
            }
        }
    }

    fn forget_revoked(&mut self, tracker: &OffsetTracker) {
        let before = self.parts.len();
        let gone: Vec<i32> = self
            .parts
            .iter()
            .filter(|(p, part)| self.generation(tracker, **p) != Some(part.generation))
            .map(|(p, _)| *p)
            .collect();
        for p in gone {
            self.parts.remove(&p);
        }
        if self.parts.len() != before {
            metrics::gauge!(m::STATE_PARTITIONS).set(self.parts.len() as f64);
        }
    }
}

impl WorkerHandler for KeyedWorker {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        self.inputs.clear();
        self.offsets.clear();
        let contacts_topic = self.shared.contacts_topic.clone();
        let stats = self.shared.stats.clone();
        batch.for_each(|msg, topic| match msg {
            Ok(msg) => {
                note_next_offset(&mut self.offsets, &mut 0, topic, msg.partition, msg.offset + 1);
                if **topic == *contacts_topic {
                    match parse_contact(msg.payload) {
                        Ok(ev) => {
                            stats.contacts_in.fetch_add(1, Ordering::Relaxed);
                            self.inputs.push((msg.partition, Input::Contact(ev)));
                        }
                        Err(rej) => {
                            stats.contacts_rejected.fetch_add(1, Ordering::Relaxed);
                            self.dlq_pending.push(contact_dlq_record(&msg, topic, &rej));
                        }
                    }
                } else {
                    match decode_ipc(msg.payload) {
                        Ok(batches) => self.inputs.extend(
                            batches
                                .into_iter()
                                .map(|b| (msg.partition, Input::Mentions(b))),
                        ),
                        Err(e) => {
                            // Only Switchboard writes this topic: a record it
                            // cannot read is a fault, kept for inspection.
                            warn!(error = %e, partition = msg.partition, offset = msg.offset, "unreadable repartition record to the DLQ");
                            self.dlq_pending.push(DlqRecord {
                                key: msg.key.map(|k| k.to_vec()),
                                payload: msg.payload.to_vec(),
                                reason: DlqReason::UnknownFormat,
                                detail: format!("repartition record: {e}"),
                                source_topic: topic.clone(),
                                source_partition: msg.partition,
                                source_offset: msg.offset,
                            });
                        }
                    }
                }
            }
            Err((code, text)) => {
                stats.consumer_errors.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(m::SOURCE_ERRORS, "kind" => "fetch").increment(1);
                warn!(code, error = %text, "consumer error in keyed fetch stream");
            }
        });
        if self.offsets.is_empty() {
            return;
        }
        let ack = tracker.begin(&self.offsets);
        if self.txn_group.is_some() {
            for (tp, next) in &self.offsets {
                if let Some(g) = tracker.generation(tp) {
                    self.txn_offsets.push((tp.clone(), *next, g));
                }
            }
        }
        for rec in self.dlq_pending.drain(..) {
            self.out.dlq.send(&rec, ack.clone());
        }
        // Per partition, in arrival order: contacts queue up until the next
        // mention batch of the partition (they were read before it).
        let inputs = std::mem::take(&mut self.inputs);
        let mut contacts: BTreeMap<i32, Vec<ContactEvent>> = BTreeMap::new();
        for (p, input) in inputs {
            match input {
                Input::Contact(ev) => contacts.entry(p).or_default().push(ev),
                Input::Mentions(b) => {
                    let before = contacts.remove(&p).unwrap_or_default();
                    self.process(tracker, p, Some(b), &before, &ack);
                }
            }
        }
        for (p, cs) in contacts {
            self.process(tracker, p, None, &cs, &ack);
        }
        self.input_acks.push(ack);
    }

    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>) {
        if now.duration_since(self.last_checkpoint) >= self.checkpoint_every {
            self.forget_revoked(tracker);
            match self.txn_group.clone() {
                Some(g) => self.commit_transaction(tracker, &g),
                None => self.checkpoint(tracker),
            }
        }
        if self.txn_group.is_none() {
            self.release(tracker);
        }
    }

    fn on_stop(&mut self, tracker: &Arc<OffsetTracker>) {
        if let Some(g) = self.txn_group.clone() {
            self.commit_transaction(tracker, &g);
            return;
        }
        self.checkpoint(tracker);
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            self.release(tracker);
            if self.pending.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if !self.pending.is_empty() {
            warn!(
                checkpoints = self.pending.len(),
                "keyed stage stopped with state not yet written; its input will be replayed"
            );
        }
    }
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
        totals: &Arc<Mutex<WorkItemTotals>>,
        health: &Arc<Health>,
        workers: usize,
    ) -> Result<Self> {
        let timeout = Duration::from_secs(10);
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
            let outputs = (0..workers.max(1))
                .map(|i| {
                    Outputs::transactional(config, &format!("{group_id}-{instance}-w{i}")).map(Some)
                })
                .collect::<Result<Vec<_>>>()?;
            info!(
                producers = outputs.len(),
                "keyed stage writes in Kafka transactions"
            );
            Some(Transactions {
                outputs: Mutex::new(outputs),
                group: source.group_metadata(),
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
            totals: totals.clone(),
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
