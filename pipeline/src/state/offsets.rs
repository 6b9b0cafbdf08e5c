//! Offset tracking: an input offset becomes committable only once everything
//! produced from the records before it has been acknowledged.
//!
//! A source worker calls [`OffsetTracker::begin`] for each flushed batch with
//! the next offset per partition that the batch covers, and gets an [`Ack`].
//! Every output derived from the batch (the Arrow batch sent downstream, each
//! DLQ record in flight) holds a clone of the `Ack`. When the last clone is
//! dropped the batch is complete; if any holder called [`Ack::fail`] the
//! partition stalls at that batch (nothing after it is committed) so that a
//! restart reprocesses it: at-least-once is the floor.
//!
//! Completion is in any order; per partition the committable offset advances
//! over the contiguous prefix of completed batches only.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A (topic, partition) pair.
pub type TopicPartition = (Arc<str>, i32);

/// Raises `tp`'s entry in `offsets` to at least `next` (adding it when
/// missing): the next offset to read per topic-partition over a batch.
/// Records come in runs per partition, so the entry at `*hint` is tried
/// first, then a linear scan (a worker owns few partitions); `*hint` is
/// left on the entry.
pub fn note_next_offset(
    offsets: &mut Vec<(TopicPartition, i64)>,
    hint: &mut usize,
    topic: &Arc<str>,
    partition: i32,
    next: i64,
) {
    let hit = |(tp, _): &(TopicPartition, i64)| tp.1 == partition && *tp.0 == **topic;
    let i = match offsets.get(*hint) {
        Some(e) if hit(e) => *hint,
        _ => match offsets.iter().position(hit) {
            Some(i) => i,
            None => {
                offsets.push(((topic.clone(), partition), next));
                offsets.len() - 1
            }
        },
    };
    *hint = i;
    let e = &mut offsets[i];
    e.1 = e.1.max(next);
}

#[derive(Debug, Default)]
struct PartitionTrack {
    /// In-flight batches by sequence: (next offset after the batch, done).
    pending: BTreeMap<u64, (i64, bool)>,
    /// Highest next-offset that is safe to commit and has not been drained.
    committable: Option<i64>,
    /// Highest offset drained for a commit so far: a failed commit hands
    /// its offset back only if no later one was drained meanwhile (whose
    /// own commit then decides), so a late failure never moves it back.
    last_drained: Option<i64>,
    /// A batch failed: never advance past it.
    stalled: bool,
    /// Which assignment this partition belongs to (grows with every
    /// assignment): a keyed stage restores its state when it changes.
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    next_generation: u64,
    partitions: HashMap<TopicPartition, PartitionTrack>,
    /// When each in-flight batch began (by sequence), for stall detection.
    begun: BTreeMap<u64, Instant>,
}

/// Tracks in-flight batches per partition; shared by the source workers, the
/// sinks (through [`Ack`]) and the source's control thread, which drains
/// committable offsets into the consumer's offset store.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    inner: Mutex<Inner>,
}

impl OffsetTracker {
    /// Creates an empty tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Starts tracking partitions (on assignment). Existing state is kept.
    pub fn assign(&self, parts: impl IntoIterator<Item = TopicPartition>) {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        inner.next_generation += 1;
        let generation = inner.next_generation;
        for tp in parts {
            inner.partitions.entry(tp).or_default().generation = generation;
        }
    }

    /// The assignment generation of a partition, `None` when it is not
    /// assigned. A partition revoked and assigned again gets a new one.
    pub fn generation(&self, tp: &TopicPartition) -> Option<u64> {
        let inner = self.inner.lock().expect("offset tracker poisoned");
        inner.partitions.get(tp).map(|t| t.generation)
    }

    /// Stops tracking partitions (on revocation). Acks that arrive later for
    /// them are ignored: the new owner reprocesses from the last commit.
    pub fn revoke(&self, parts: impl IntoIterator<Item = TopicPartition>) {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        for tp in parts {
            inner.partitions.remove(&tp);
        }
    }

    /// Registers a batch covering, per partition, offsets up to (excluding)
    /// the given next offset. Partitions that are not assigned are skipped.
    pub fn begin(self: &Arc<Self>, parts: &[(TopicPartition, i64)]) -> Ack {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.begun.insert(seq, Instant::now());
        let mut tracked = Vec::with_capacity(parts.len());
        for (tp, next) in parts {
            if let Some(track) = inner.partitions.get_mut(tp) {
                track.pending.insert(seq, (*next, false));
                tracked.push(tp.clone());
            }
        }
        Ack(Arc::new(AckInner {
            seq,
            parts: tracked,
            failed: AtomicBool::new(false),
            tracker: self.clone(),
            children: Vec::new(),
        }))
    }

    fn complete(&self, seq: u64, parts: &[TopicPartition], ok: bool) {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        inner.begun.remove(&seq);
        for tp in parts {
            let Some(track) = inner.partitions.get_mut(tp) else {
                continue;
            };
            if !ok {
                track.stalled = true;
            }
            if let Some(entry) = track.pending.get_mut(&seq) {
                entry.1 = ok;
            }
            if track.stalled {
                continue;
            }
            while let Some(entry) = track.pending.first_entry() {
                if !entry.get().1 {
                    break;
                }
                let (next, _) = entry.remove();
                track.committable = Some(track.committable.map_or(next, |c| c.max(next)));
            }
        }
    }

    /// Takes the offsets that became committable since the last call.
    pub fn drain_committable(&self) -> Vec<(TopicPartition, i64)> {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        inner
            .partitions
            .iter_mut()
            .filter_map(|(tp, track)| {
                let o = track.committable.take()?;
                track.last_drained = Some(track.last_drained.map_or(o, |d| d.max(o)));
                Some((tp.clone(), o))
            })
            .collect()
    }

    /// Hands back offsets taken by [`drain_committable`](Self::drain_committable)
    /// whose commit failed (synchronously, or later in the commit callback),
    /// so that the next drain offers them again — unless a higher one became
    /// committable or was drained meanwhile. Revoked partitions are skipped.
    /// Without this, a failed commit of a partition's last offsets (a
    /// rebalance in progress, say) was never retried once its input ended.
    pub fn restore_committable(&self, done: Vec<(TopicPartition, i64)>) {
        let mut inner = self.inner.lock().expect("offset tracker poisoned");
        for (tp, next) in done {
            if let Some(track) = inner.partitions.get_mut(&tp) {
                if track.last_drained.is_some_and(|d| d > next) {
                    continue;
                }
                track.committable = Some(track.committable.map_or(next, |c| c.max(next)));
            }
        }
    }

    /// Number of batches still in flight over all partitions.
    pub fn in_flight(&self) -> usize {
        let inner = self.inner.lock().expect("offset tracker poisoned");
        inner.partitions.values().map(|t| t.pending.len()).sum()
    }

    /// Age of the oldest batch not yet acknowledged (None when none is in
    /// flight): how long the output side has been holding the input back.
    pub fn oldest_in_flight_age(&self) -> Option<Duration> {
        let inner = self.inner.lock().expect("offset tracker poisoned");
        inner.begun.values().next().map(|t| t.elapsed())
    }

    /// Partitions stalled by a failed batch.
    pub fn stalled(&self) -> Vec<TopicPartition> {
        let inner = self.inner.lock().expect("offset tracker poisoned");
        inner
            .partitions
            .iter()
            .filter(|(_, t)| t.stalled)
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

#[derive(Debug)]
struct AckInner {
    seq: u64,
    parts: Vec<TopicPartition>,
    failed: AtomicBool,
    tracker: Arc<OffsetTracker>,
    /// Acks completed (or failed) with this one.
    children: Vec<Ack>,
}

impl Drop for AckInner {
    fn drop(&mut self) {
        let ok = !self.failed.load(Ordering::Acquire);
        if !ok {
            for c in &self.children {
                c.fail();
            }
        }
        self.children.clear();
        self.tracker.complete(self.seq, &self.parts, ok);
    }
}

/// Acknowledgement handle of one source batch. Clone it into every output
/// derived from the batch; the batch completes when the last clone drops.
#[derive(Debug, Clone)]
pub struct Ack(Arc<AckInner>);

impl Ack {
    /// Marks the batch failed: its partitions stop committing at this batch.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }

    /// One ack standing for several: the bundled acks complete when the
    /// bundle does, and fail if it fails. `None` for an empty list.
    pub fn bundle(acks: Vec<Ack>) -> Option<Ack> {
        let tracker = acks.first()?.0.tracker.clone();
        let seq = {
            let mut inner = tracker.inner.lock().expect("offset tracker poisoned");
            let seq = inner.next_seq;
            inner.next_seq += 1;
            seq
        };
        Some(Ack(Arc::new(AckInner {
            seq,
            parts: Vec::new(),
            failed: AtomicBool::new(false),
            tracker,
            children: acks,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        (Arc::from("mentions"), p)
    }

    #[test]
    fn note_next_offset_keeps_the_highest_per_partition() {
        let topic: Arc<str> = Arc::from("mentions");
        let other: Arc<str> = Arc::from("crm-contacts");
        let mut offsets = Vec::new();
        let mut hint = 0;
        for (t, p, next) in [
            (&topic, 0, 5),
            (&topic, 0, 3),
            (&topic, 1, 9),
            (&other, 0, 2),
            (&topic, 0, 7),
        ] {
            note_next_offset(&mut offsets, &mut hint, t, p, next);
        }
        assert_eq!(offsets, vec![(tp(0), 7), (tp(1), 9), ((other, 0), 2)]);
        assert_eq!(hint, 0, "left on the last entry noted");
    }

    #[test]
    fn commits_only_contiguous_completed_prefix() {
        let t = OffsetTracker::new();
        t.assign([tp(0)]);
        let a = t.begin(&[(tp(0), 10)]);
        let b = t.begin(&[(tp(0), 20)]);
        let c = t.begin(&[(tp(0), 30)]);
        drop(b);
        assert!(t.drain_committable().is_empty(), "b done but a pending");
        drop(a);
        assert_eq!(t.drain_committable(), vec![(tp(0), 20)]);
        let c2 = c.clone();
        drop(c);
        assert!(t.drain_committable().is_empty(), "a clone is still held");
        drop(c2);
        assert_eq!(t.drain_committable(), vec![(tp(0), 30)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn failure_stalls_the_partition_only() {
        let t = OffsetTracker::new();
        t.assign([tp(0), tp(1)]);
        let a = t.begin(&[(tp(0), 5)]);
        let b = t.begin(&[(tp(0), 9), (tp(1), 3)]);
        a.fail();
        drop(a);
        drop(b);
        let got = t.drain_committable();
        assert_eq!(got, vec![(tp(1), 3)]);
        assert_eq!(t.stalled(), vec![tp(0)]);
    }

    #[test]
    fn failed_commits_are_offered_again_even_with_batches_in_flight() {
        let t = OffsetTracker::new();
        t.assign([tp(0)]);
        drop(t.begin(&[(tp(0), 10)]));
        let pending = t.begin(&[(tp(0), 20)]);
        let done = t.drain_committable();
        assert_eq!(done, vec![(tp(0), 10)]);
        t.restore_committable(done);
        assert_eq!(
            t.drain_committable(),
            vec![(tp(0), 10)],
            "not held back by the batch in flight"
        );
        drop(pending);
        t.restore_committable(vec![(tp(0), 10)]);
        assert_eq!(
            t.drain_committable(),
            vec![(tp(0), 20)],
            "a higher offset wins"
        );
    }

    #[test]
    fn a_late_failure_of_an_older_commit_never_moves_the_offset_back() {
        let t = OffsetTracker::new();
        t.assign([tp(0)]);
        drop(t.begin(&[(tp(0), 10)]));
        let first = t.drain_committable();
        drop(t.begin(&[(tp(0), 20)]));
        let second = t.drain_committable();
        assert_eq!(second, vec![(tp(0), 20)]);
        // The first (async) commit fails after the second was sent.
        t.restore_committable(first);
        assert_eq!(t.drain_committable(), vec![], "20 decides, not 10");
        // The second fails too: it is offered again, and only it.
        t.restore_committable(second);
        assert_eq!(t.drain_committable(), vec![(tp(0), 20)]);
    }

    #[test]
    fn bundles_complete_and_fail_together() {
        let t = OffsetTracker::new();
        t.assign([tp(0), tp(1)]);
        let a = t.begin(&[(tp(0), 10)]);
        let b = t.begin(&[(tp(1), 7)]);
        let bundle = Ack::bundle(vec![a, b]).unwrap();
        assert_eq!(t.in_flight(), 2);
        let held = bundle.clone();
        drop(bundle);
        assert!(t.drain_committable().is_empty(), "a clone still holds them");
        drop(held);
        let mut got = t.drain_committable();
        got.sort();
        assert_eq!(got, vec![(tp(0), 10), (tp(1), 7)]);
        let c = t.begin(&[(tp(0), 20)]);
        let bundle = Ack::bundle(vec![c]).unwrap();
        bundle.fail();
        drop(bundle);
        assert!(t.drain_committable().is_empty());
        assert_eq!(t.stalled(), vec![tp(0)]);
        assert!(Ack::bundle(Vec::new()).is_none());
    }

    #[test]
    fn generations_change_with_each_assignment() {
        let t = OffsetTracker::new();
        assert_eq!(t.generation(&tp(0)), None);
        t.assign([tp(0), tp(1)]);
        let g = t.generation(&tp(0)).unwrap();
        assert_eq!(t.generation(&tp(1)), Some(g));
        t.revoke([tp(0)]);
        assert_eq!(t.generation(&tp(0)), None);
        t.assign([tp(0)]);
        assert!(t.generation(&tp(0)).unwrap() > g);
    }

    #[test]
    fn revoked_partitions_ignore_late_acks() {
        let t = OffsetTracker::new();
        t.assign([tp(0)]);
        let a = t.begin(&[(tp(0), 5)]);
        t.revoke([tp(0)]);
        drop(a);
        assert!(t.drain_committable().is_empty());
        let b = t.begin(&[(tp(0), 7)]);
        drop(b);
        assert!(
            t.drain_committable().is_empty(),
            "unassigned partitions are not tracked"
        );
    }
}
