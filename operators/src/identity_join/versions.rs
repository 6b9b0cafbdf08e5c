//! The kept snapshot versions and the updates overlay (the state swapped
//! under the join's lock), and the first two phases of a join: the lookup
//! key of every row (lock-free), then, under the read lock, the version,
//! outcome and customer row of every row.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::index::{Hit, KeyBatch};
use super::normalize::{channel_index, kind_by_shape, lookup_of, push_key, Lookup, CHANNEL_LABELS};
use super::snapshot::Snapshot;
use super::stats::{
    N_CHANNELS, N_OUTCOMES, O_AMBIGUOUS, O_HIT, O_NO_IDENTITY, O_NO_SNAPSHOT, O_REMOVED, O_UNKNOWN,
};
use super::updates::Overlay;
use crate::columns::{utf8, utf8_at, I64View};
use crate::error::Result;
use crate::schema::col;

/// Version of a row that has none (no snapshot loaded).
pub(super) const NO_VERSION: u8 = u8::MAX;
/// Customer row of a row that matched none.
pub(super) const NO_ROW: u32 = u32::MAX;

/// The state swapped under the lock.
#[derive(Debug, Default)]
pub(super) struct Inner {
    /// Sorted by valid-from, ascending; at most `keep_versions`.
    pub(super) versions: Vec<Arc<Snapshot>>,
    /// Identity updates newer than the oldest kept version.
    pub(super) overlay: Overlay,
}

impl Inner {
    /// Drops updates already contained in every kept snapshot.
    pub(super) fn prune(&mut self) {
        if let Some(oldest) = self.versions.first() {
            self.overlay.prune(oldest.valid_from_ms);
        }
    }
}

/// Phase 0: per row the channel, the identity kind code (0: none) and the
/// lookup key (kind code byte + normalised value, empty when there is
/// none) with its hash, all keys in one reused buffer.
pub(super) struct RowKeys {
    pub(super) chan: Vec<u8>,
    pub(super) via: Vec<u8>,
    pub(super) keys: KeyBatch,
}

impl RowKeys {
    /// The keys of a mention batch (`channel`, `author_handle`, `author_id`).
    pub(super) fn of(batch: &RecordBatch, country_code: &str) -> Result<Self> {
        let channel = utf8(batch, col::CHANNEL)?;
        let handle = utf8(batch, col::AUTHOR_HANDLE)?;
        let author_id = utf8(batch, col::AUTHOR_ID)?;
        let n = batch.num_rows();
        let mut chan = Vec::with_capacity(n);
        let mut via = Vec::with_capacity(n);
        let mut keys = KeyBatch::with_capacity(n);
        for i in 0..n {
            let ci = match utf8_at(channel, i) {
                Some(c) => channel_index(c),
                None => CHANNEL_LABELS.len() - 1,
            };
            chan.push(ci as u8);
            let found = match lookup_of(ci) {
                Lookup::Handle(k) => utf8_at(handle, i).map(|h| (k, h)),
                Lookup::AuthorId(k) => utf8_at(author_id, i).map(|h| (k, h)),
                Lookup::ByShape => {
                    utf8_at(handle, i).and_then(|h| kind_by_shape(h).map(|k| (k, h)))
                }
            };
            via.push(match found {
                Some((k, v)) if push_key(k, v, country_code, keys.buf()) => k.code(),
                _ => 0,
            });
            keys.end_row();
        }
        Ok(Self { chan, via, keys })
    }

    /// Rows.
    pub(super) fn len(&self) -> usize {
        self.chan.len()
    }
}

/// Phase 1: per row the version used, the outcome code and the customer
/// row in that version.
pub(super) struct Found {
    /// The versions the rows index (a snapshot of the kept ones).
    pub(super) versions: Vec<Arc<Snapshot>>,
    pub(super) ver: Vec<u8>,
    pub(super) outcome: Vec<u8>,
    pub(super) rows: Vec<u32>,
    /// Older than every kept version (the oldest was used).
    pub(super) before: Vec<bool>,
    /// Overlay hits on customers absent from their version.
    pub(super) foreign: Vec<(usize, Arc<str>)>,
    pub(super) n_before: u64,
}

impl Found {
    /// Outcome counts by channel.
    pub(super) fn by_channel(&self, keys: &RowKeys) -> [[u64; N_OUTCOMES]; N_CHANNELS] {
        let mut by_channel = [[0u64; N_OUTCOMES]; N_CHANNELS];
        for (&c, &o) in keys.chan.iter().zip(&self.outcome) {
            by_channel[c as usize][o as usize] += 1;
        }
        by_channel
    }
}

impl Inner {
    /// Phase 1: each row joined as of its event time (`time`, null: the
    /// newest version): the overlay decides first, then the version's index.
    pub(super) fn lookup(&self, keys: &RowKeys, time: I64View<'_>) -> Found {
        let n = keys.len();
        let mut f = Found {
            versions: self.versions.clone(),
            ver: vec![NO_VERSION; n],
            outcome: vec![O_NO_SNAPSHOT; n],
            rows: vec![NO_ROW; n],
            before: vec![false; n],
            foreign: Vec::new(),
            n_before: 0,
        };
        let nv = f.versions.len();
        if nv == 0 {
            return f;
        }
        let versions = &self.versions;
        let use_overlay = !self.overlay.is_empty();
        let newest_ms = versions[nv - 1].valid_from_ms;
        // Rows left to the index of each version.
        let mut todo: Vec<Vec<u32>> = vec![Vec::new(); nv];
        todo[nv - 1].reserve(n);
        for i in 0..n {
            let t = time.get(i);
            let vi = match t {
                None => nv - 1,
                Some(t) if t >= newest_ms => nv - 1,
                Some(t) => {
                    let k = versions.partition_point(|v| v.valid_from_ms <= t);
                    if k == 0 {
                        f.before[i] = true;
                        f.n_before += 1;
                        0
                    } else {
                        k - 1
                    }
                }
            };
            f.ver[i] = vi as u8;
            let kb = keys.keys.key(i);
            if kb.is_empty() {
                f.outcome[i] = O_NO_IDENTITY;
                continue;
            }
            let snap = &versions[vi];
            let decided = if use_overlay {
                let at = t.unwrap_or(i64::MAX);
                self.overlay
                    .decide(kb, keys.keys.hash[i], snap.valid_from_ms, at)
            } else {
                None
            };
            f.outcome[i] = match decided {
                Some(None) => O_REMOVED,
                Some(Some(cid)) => {
                    match snap.index.customer_row(cid) {
                        Some(r) => f.rows[i] = r,
                        None => f.foreign.push((i, cid.clone())),
                    }
                    O_HIT
                }
                None => {
                    todo[vi].push(i as u32);
                    O_UNKNOWN
                }
            };
        }
        let mut hits: Vec<Option<Hit>> = vec![None; n];
        for (v, todo) in versions.iter().zip(&todo) {
            v.index.get_many(&keys.keys, todo, &mut hits);
        }
        for &i in todo.iter().flatten() {
            let i = i as usize;
            match hits[i] {
                None => {}
                Some(Hit::Ambiguous) => f.outcome[i] = O_AMBIGUOUS,
                Some(Hit::Row(r)) => {
                    f.rows[i] = r;
                    f.outcome[i] = O_HIT;
                }
            }
        }
        f
    }
}
