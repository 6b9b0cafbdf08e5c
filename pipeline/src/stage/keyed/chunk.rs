//! A keyed worker's poll, worked through in chunks of at most
//! [`CHUNK_ROWS`] rows under one ack each, committing (`exactly_once`) or
//! checkpointing between them when the interval is due; each message is
//! processed only in the assignment generation it was polled in.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use switchboard_operators::correlate::ContactEvent;

use super::{Input, KeyedWorker, Polled};
use crate::source::kafka::WorkerHandler;
use crate::state::offsets::{note_next_offset, OffsetTracker};

/// How many rows a chunk of a poll holds at most (a message is never
/// split): the keyed stage commits (`exactly_once`) or checkpoints between
/// chunks when the interval is due, so one transaction never spans a whole
/// poll — up to `source.max_poll_records` repartition records of up to
/// `source.max_batch_rows` rows each — which in a catch-up outlasted the
/// transaction timeout and got the producer fenced.
pub(super) const CHUNK_ROWS: usize = 4_096;

impl KeyedWorker {
    /// Notes a polled message whose inputs are `self.inputs[first..]`.
    pub(super) fn note_polled(
        &mut self,
        tracker: &OffsetTracker,
        topic: &Arc<str>,
        partition: i32,
        next: i64,
        first: usize,
    ) {
        let rows = self.inputs[first..]
            .iter()
            .map(|(_, i)| match i {
                Input::Mentions(b) => b.num_rows(),
                _ => 1,
            })
            .sum();
        // The assignment the message was fetched in (looked up once per run
        // of a partition's messages).
        let generation = match self.polled.last() {
            Some(m) if m.partition == partition && m.topic == *topic => m.generation,
            _ => tracker.generation(&(topic.clone(), partition)),
        };
        self.polled.push(Polled {
            topic: topic.clone(),
            partition,
            next,
            end: self.inputs.len(),
            rows,
            generation,
        });
    }

    /// Works the noted poll through, chunk by chunk.
    pub(super) fn process_polled(&mut self, tracker: &Arc<OffsetTracker>) {
        let polled = std::mem::take(&mut self.polled);
        let mut inputs = std::mem::take(&mut self.inputs).into_iter();
        let (mut from, mut start) = (0, 0);
        while from < polled.len() {
            // The chunk: messages up to CHUNK_ROWS rows (at least one).
            let mut rows = 0;
            let mut to = from;
            while to < polled.len() && (to == from || rows + polled[to].rows <= CHUNK_ROWS) {
                rows += polled[to].rows;
                to += 1;
            }
            let end = polled[to - 1].end;
            self.process_chunk(tracker, &polled[from..to], start, &mut inputs);
            if to < polled.len() {
                // Commit or checkpoint between chunks when due.
                self.on_tick(Instant::now(), tracker);
            }
            from = to;
            start = end;
        }
        self.polled = polled;
        self.polled.clear();
    }

    /// Runs one chunk of a poll — the messages `polled` with their inputs,
    /// in order — under one ack: the chunk's input offsets, its dead
    /// letters, and each partition's inputs through its operators.
    fn process_chunk(
        &mut self,
        tracker: &Arc<OffsetTracker>,
        polled: &[Polled],
        first: usize,
        inputs: &mut impl Iterator<Item = (i32, Input)>,
    ) {
        // A message is processed only in the assignment it was fetched in:
        // a rebalance while a poll is worked through (revoked and assigned
        // again, perhaps to this member) moves the partition back to its
        // committed offset, and the rest of the poll is stale.
        let live = |m: &Polled| {
            m.generation.is_some()
                && tracker.generation(&(m.topic.clone(), m.partition)) == m.generation
        };
        self.offsets.clear();
        for m in polled.iter().filter(|m| live(m)) {
            note_next_offset(&mut self.offsets, &mut 0, &m.topic, m.partition, m.next);
        }
        if self.offsets.is_empty() {
            let n = polled.last().map_or(first, |m| m.end) - first;
            inputs.by_ref().take(n).for_each(drop);
            return;
        }
        if self.txn_group.is_some() {
            // A restore can take seconds: not inside an open transaction,
            // whose timeout counts from its first record.
            let restores = polled
                .iter()
                .any(|m| self.needs_restore(tracker, m.partition));
            if restores {
                self.close_interval(tracker);
            }
        }
        let ack = tracker.begin(&self.offsets);
        if self.txn_group.is_some() {
            for (tp, next) in &self.offsets {
                if let Some(g) = tracker.generation(tp) {
                    self.txn_offsets.push((tp.clone(), *next, g));
                }
            }
        }
        // Per partition, in arrival order: contacts queue up until the next
        // mention batch of the partition (they were read before it).
        let mut contacts: BTreeMap<i32, Vec<ContactEvent>> = BTreeMap::new();
        let mut from = first;
        for m in polled {
            let n = m.end - from;
            from = m.end;
            let live = live(m);
            for (p, input) in inputs.by_ref().take(n) {
                if !live {
                    continue;
                }
                match input {
                    Input::Dead(rec) => self.out.dlq.send(&rec, ack.clone()),
                    Input::Contact(ev) => contacts.entry(p).or_default().push(ev),
                    Input::Mentions(b) => {
                        let before = contacts.remove(&p).unwrap_or_default();
                        self.process(tracker, p, Some(b), &before, &ack);
                    }
                }
            }
        }
        for (p, cs) in contacts {
            self.process(tracker, p, None, &cs, &ack);
        }
        self.input_acks.push(ack);
    }

    /// Whether partition `p` is assigned and its state not restored for
    /// this assignment yet.
    fn needs_restore(&self, tracker: &OffsetTracker, p: i32) -> bool {
        self.generation(tracker, p)
            .is_some_and(|g| self.parts.get(&p).is_none_or(|x| x.generation != g))
    }

    /// Ends the interval: commits the transaction (`exactly_once`) or
    /// queues the checkpoint.
    pub(super) fn close_interval(&mut self, tracker: &Arc<OffsetTracker>) {
        self.forget_revoked(tracker);
        match self.txn_group.clone() {
            Some(g) => self.commit_transaction(tracker, &g),
            None => self.checkpoint(tracker),
        }
    }
}
