//! The keyed worker's checkpoints: every `pipeline.checkpoint_interval_ms`
//! the keys changed in the interval become changelog records, produced only
//! once every event of the interval is acknowledged, in interval order,
//! holding the interval's input acks (`at_least_once`); or, with
//! `exactly_once`, one Kafka transaction per interval holds the events, the
//! state and the input offsets.

use std::sync::Arc;
use std::time::Instant;

use tracing::{error, warn};

use super::{events_tp, Checkpoint, KeyedWorker, Outputs, StateRecord};
use crate::metrics as m;
use crate::source::kafka::GroupMetadata;
use crate::state::offsets::{note_next_offset, Ack, OffsetTracker, TopicPartition};

impl KeyedWorker {
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
            // The changed keys, then the clock (`changelog::WATERMARK_KEY`).
            for (k, v) in part.ops.checkpoint() {
                records.push((p, part.generation, k, v));
            }
        }
        records
    }

    /// Closes the interval: the changed keys become a pending checkpoint.
    pub(super) fn checkpoint(&mut self, tracker: &OffsetTracker) {
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
    /// transaction, and it commits. Aborted (also when a partition it
    /// processed was revoked meanwhile), the interval's partitions are
    /// poisoned: their input fails until they are reassigned (the worker
    /// has the consumer rejoin its group: [`Self::recover_from_abort`]).
    pub(super) fn commit_transaction(
        &mut self,
        tracker: &Arc<OffsetTracker>,
        group: &GroupMetadata,
    ) {
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
        // A partition processed in this transaction and revoked since (a
        // rebalance that did not wait for this commit): its events are in
        // the transaction, its state and offsets may no longer be. The
        // transaction must not commit, nor stay open for the next one.
        let mut revoked = false;
        for ((topic, p), next, generation) in self.txn_offsets.drain(..) {
            let current = tracker.generation(&(topic.clone(), p)) == Some(generation);
            revoked |= !current;
            if current && self.poisoned.get(&p) != Some(&generation) {
                note_next_offset(&mut offsets, &mut 0, &topic, p, next);
            }
        }
        if !revoked && records.is_empty() && offsets.is_empty() {
            // Only input of poisoned partitions: nothing to commit.
            self.input_acks.clear();
            return;
        }
        let started = Instant::now();
        let result = match group.get() {
            _ if revoked => Err(crate::PipelineError::Runtime(
                "a partition of the transaction was revoked before its commit".into(),
            )),
            Some(g) => self
                .out
                .work_items
                .commit_transaction(&offsets, g, self.drain_timeout),
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
            Err(e) => self.recover_from_abort(tracker, e, &offsets, &acks),
        }
    }

    /// `exactly_once`: a transaction failed: aborts it (or replaces a
    /// producer that cannot abort), poisons its partitions, fails its
    /// input, and has the consumer rejoin its group so that partitions
    /// still assigned go back to their last commit.
    fn recover_from_abort(
        &mut self,
        tracker: &OffsetTracker,
        e: crate::PipelineError,
        offsets: &[(TopicPartition, i64)],
        acks: &[Ack],
    ) {
        metrics::counter!(m::STATE_TRANSACTIONS, "result" => "aborted").increment(1);
        self.txn_failures += 1;
        let log = self.txn_failures.is_power_of_two();
        if log {
            error!(error = %e, failures = self.txn_failures, "transaction failed; aborting it, its partitions go back to their last commit (the consumer rejoins its group)");
        }
        // A fenced producer, or one in a fatal state, cannot abort: a new
        // one of the same id fences it and aborts its transaction.
        let fatal = matches!(&e, crate::PipelineError::Kafka(rdkafka::error::KafkaError::Transaction(t)) if t.is_fatal());
        let aborted = !fatal
            && match self.out.work_items.abort_transaction(self.drain_timeout) {
                Ok(()) => true,
                Err(e) => {
                    if log {
                        error!(error = %e, "transaction abort failed");
                    }
                    false
                }
            };
        if !aborted {
            self.renew_producer();
        }
        for (p, part) in std::mem::take(&mut self.parts) {
            self.poisoned.insert(p, part.generation);
        }
        for ((_, p), _) in offsets {
            if let Some(g) = self.generation(tracker, *p) {
                self.poisoned.insert(*p, g);
            }
        }
        metrics::gauge!(m::STATE_PARTITIONS).set(0.0);
        for a in acks {
            a.fail();
        }
        // Partitions still assigned in the same generation must go back to
        // their last commit: a rejoin reassigns them (revoked ones come
        // back with a new generation anyway).
        let current = self
            .poisoned
            .iter()
            .any(|(p, g)| self.generation(tracker, *p) == Some(*g));
        if current {
            self.request_rejoin();
        }
    }

    /// `exactly_once`: has the keyed consumer rejoin its group, so that
    /// the poisoned partitions are assigned again (to this member or
    /// another), restored and replayed from their last commit.
    pub(super) fn request_rejoin(&self) {
        if let Some(r) = &self.rejoin {
            r.request();
        }
    }

    /// `exactly_once`: replaces the transactional producer (fenced, in a
    /// fatal state, or unable to abort) with a new one of the same
    /// `transactional.id`; registering it fences the old one and aborts
    /// its open transaction. On failure the old one stays, and the next
    /// failed transaction tries again.
    fn renew_producer(&mut self) {
        let Some(id) = self.txn_id.clone() else {
            return;
        };
        match Outputs::transactional(&self.shared.config, &id) {
            Ok(out) => {
                warn!(transactional_id = %id, "transactional producer replaced");
                self.out = out;
            }
            Err(e) => {
                error!(error = %e, transactional_id = %id, "cannot replace the transactional producer; tried again after the next failed transaction")
            }
        }
    }

    /// Produces the checkpoints whose events are all acknowledged, in order.
    pub(super) fn release(&mut self, tracker: &Arc<OffsetTracker>) {
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

    pub(super) fn forget_revoked(&mut self, tracker: &OffsetTracker) {
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
