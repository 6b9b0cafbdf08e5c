//! The keyed worker's input: per assigned partition, its stateful
//! operators (restored from the changelog when the partition is new to the
//! worker), fed the partition's mention batches and contacts in arrival
//! order; what they produce goes through the [`Emitter`]. Checkpoints and
//! transactions are `checkpoint.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::ContactEvent;
use switchboard_operators::parse::DlqReason;
use switchboard_operators::repartition::decode_ipc;
use tracing::{error, warn};

use super::{events_tp, Input, KeyedShared, KeyedWorker, Part, RESTORE_TIMEOUT};
use crate::metrics as m;
use crate::source::batch::MessageBatch;
use crate::source::kafka::WorkerHandler;
use crate::stage::emit::{Emitter, Sinks};
use crate::stage::parse_worker::{dlq_record, read_contact};
use crate::stage::stateful::StatefulOperators;
use crate::state::changelog;
use crate::state::offsets::{Ack, OffsetTracker};

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
            let id = t.ids.get(index)?.clone();
            Some((outputs, t.group.clone(), id, t.rejoin.clone()))
        });
        let (out, txn_group, txn_id, rejoin) = match txn {
            Some((o, g, id, r)) => (o, Some(g), Some(id), Some(r)),
            None => (shared.outputs.clone(), None, None, None),
        };
        let events = OffsetTracker::new();
        events.assign([events_tp()]);
        let interval_ack = events.begin(&[(events_tp(), 1)]);
        let checkpoint_every = Duration::from_millis(shared.config.pipeline.checkpoint_interval_ms);
        let drain_timeout = Duration::from_millis(shared.config.source.drain_timeout_ms);
        let emitter = Emitter::new(shared.stats.clone());
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
            polled: Vec::new(),
            offsets: Vec::new(),
            emitter,
            empty: RecordBatch::new_empty(Arc::new(Schema::empty())),
            changelog_records: metrics::counter!(m::STATE_CHANGELOG_RECORDS),
            drain_timeout,
            out,
            txn_group,
            txn_id,
            rejoin,
            txn_offsets: Vec::new(),
            poisoned: BTreeMap::new(),
            txn_failures: 0,
        }
    }

    pub(super) fn generation(&self, tracker: &OffsetTracker, p: i32) -> Option<u64> {
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
            ops.track_changes(true);
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
    pub(super) fn process(
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
        let events = self.emitter.take_events();
        if self.part(tracker, p).is_none() {
            ack.fail();
            if self.txn_group.is_some() {
                // Its offsets must not ride on the next transaction: the
                // partition goes back to its last commit.
                if let Some(g) = self.generation(tracker, p) {
                    self.poisoned.insert(p, g);
                }
                self.request_rejoin();
            }
            return;
        }
        let Some(part) = self.parts.get_mut(&p) else {
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
        let sinks = Sinks {
            work_items: Some(&self.out.work_items),
            incidents: Some(&self.out.incidents),
        };
        self.emitter
            .emit(batch.num_rows(), processed, sinks, &self.interval_ack);
    }
}

impl WorkerHandler for KeyedWorker {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        self.inputs.clear();
        self.polled.clear();
        let contacts_topic = self.shared.contacts_topic.clone();
        let stats = self.shared.stats.clone();
        let bounds =
            (self.shared.config.parse).event_time_bounds(chrono::Utc::now().timestamp_millis());
        let mut dead = Vec::new();
        batch.for_each(|msg, topic| match msg {
            Ok(msg) => {
                let first = self.polled.last().map_or(0, |m| m.end);
                if **topic == *contacts_topic {
                    if let Some(ev) = read_contact(&msg, topic, &stats, bounds, &mut dead) {
                        self.inputs.push((msg.partition, Input::Contact(ev)));
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
                            dead.push(dlq_record(
                                &msg,
                                topic,
                                DlqReason::UnknownFormat,
                                format!("repartition record: {e}"),
                            ));
                        }
                    }
                }
                let p = msg.partition;
                self.inputs
                    .extend(dead.drain(..).map(|rec| (p, Input::Dead(rec))));
                self.note_polled(tracker, topic, p, msg.offset + 1, first);
            }
            Err((code, text)) => {
                stats.fetch_error();
                warn!(code, error = %text, "consumer error in keyed fetch stream");
            }
        });
        self.process_polled(tracker);
    }

    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>) {
        if now.duration_since(self.last_checkpoint) >= self.checkpoint_every {
            self.close_interval(tracker);
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
