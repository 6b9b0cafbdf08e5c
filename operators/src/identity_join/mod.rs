//! Identity join: enriches mentions with the CRM customer they come from.
//!
//! Snapshot versions (see the SPEC's "CRM snapshots") are loaded with
//! [`load_snapshot`] (DataFusion over Parquet/CSV) into a compact
//! [`IdentityIndex`]; [`IdentityJoin`] keeps the newest `keep_versions` of
//! them and joins each mention *as of* its event time: the newest version
//! whose valid-from is not after the mention. A mention older than every
//! kept version uses the oldest and is flagged
//! ([`col::IDENTITY_BEFORE_OLDEST_VERSION`]).
//!
//! The lookup key comes from the channel: `twitter`/`instagram` → the
//! handle, `facebook` → the author id, envelope channels (web form, app
//! chat, email, SMS, …) → the handle as an email or phone number by its
//! shape. A value claimed by two customers is ambiguous and never guessed.
//!
//! Identity updates from `crm-identity-updates` ([`updates`]) are kept in an
//! overlay over the snapshots, also as of event time (see
//! [`IdentityJoin::apply_update`]).
//!
//! [`IdentityJoin`] is shared between threads (`Arc<IdentityJoin>`, every
//! method takes `&self`): worker threads call [`IdentityJoin::join_batch`]
//! concurrently while a reloader thread calls
//! [`IdentityJoin::add_snapshot`] (the heavy [`load_snapshot`] runs outside
//! any lock; the swap is atomic: a batch sees either the old or the new set
//! of versions) and an updates thread calls [`IdentityJoin::apply_update`].

mod index;
mod normalize;
mod snapshot;
#[cfg(test)]
mod tests;
pub mod updates;

use std::sync::{Arc, Mutex, RwLock};

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray,
    StringBuilder, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, TimestampMillisecondType};
use serde::{Deserialize, Serialize};

pub use index::{attr, customer_schema, Hit, IdentityIndex, AMBIGUOUS};
pub use normalize::{
    kind_by_shape, lookup_for_channel, normalize, normalize_email, normalize_handle,
    normalize_into, normalize_phone, IdentityKind, Lookup, CHANNEL_LABELS,
};
pub use snapshot::{
    code as snapshot_code, list_versions, load_snapshot, parse_version_name, Snapshot,
};
pub use updates::{parse_update, IdentityUpdate, UpdateOp, UpdateRecord, UpdateRejection};

use index::KeyBatch;
use normalize::{channel_index, key_into, lookup_of, push_key};
use updates::Overlay;

use crate::schema::col as mcol;

/// Columns appended to the mention batch by [`IdentityJoin::join_batch`].
pub mod col {
    /// Matched customer id (null when unmatched).
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Customer segment (null when unmatched).
    pub const CUSTOMER_SEGMENT: &str = "customer_segment";
    /// Customer tier (null when unmatched).
    pub const CUSTOMER_TIER: &str = "customer_tier";
    /// Customer region (null when unmatched).
    pub const CUSTOMER_REGION: &str = "customer_region";
    /// Vulnerable-customer flag (null when unmatched).
    pub const CUSTOMER_VULNERABLE: &str = "customer_vulnerable";
    /// Account status (null when unmatched).
    pub const CUSTOMER_ACCOUNT_STATUS: &str = "customer_account_status";
    /// True when a customer was found.
    pub const IDENTITY_MATCHED: &str = "identity_matched";
    /// How: `twitter:handle`, `facebook:author_id`, `instagram:handle`,
    /// `email`, `phone`; null when unmatched.
    pub const IDENTITY_VIA: &str = "identity_via";
    /// Directory name of the snapshot version used (null if none loaded).
    pub const IDENTITY_SNAPSHOT: &str = "identity_snapshot";
    /// Null when matched; else a [`super::MissReason`] string.
    pub const IDENTITY_MISS_REASON: &str = "identity_miss_reason";
    /// True when the mention is older than every kept version (the oldest
    /// was used).
    pub const IDENTITY_BEFORE_OLDEST_VERSION: &str = "identity_before_oldest_version";
}

pub use crate::error::{OperatorError, Result};

/// Configuration of the identity join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityJoinConfig {
    /// Country calling code (digits, no `+`) given to national phone
    /// numbers written with a trunk `0`, e.g. `"44"`: `07700 900123` →
    /// `+447700900123`.
    pub default_country_code: String,
    /// How many snapshot versions to keep for as-of joins of late mentions
    /// (at least 1).
    pub keep_versions: usize,
}

impl Default for IdentityJoinConfig {
    fn default() -> Self {
        Self {
            default_country_code: "44".into(),
            keep_versions: 2,
        }
    }
}

impl IdentityJoinConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let cc = &self.default_country_code;
        if cc.is_empty()
            || cc.len() > 3
            || !cc.bytes().all(|b| b.is_ascii_digit())
            || cc.starts_with('0')
        {
            return Err(OperatorError::Config {
                key: "identity_join.default_country_code".into(),
                reason: format!("`{cc}` is not a country calling code (1–3 digits, no `+`)"),
            });
        }
        if self.keep_versions == 0 {
            return Err(OperatorError::Config {
                key: "identity_join.keep_versions".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// Why a mention did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissReason {
    /// The mention carries no usable identity (no handle/id, or an envelope
    /// handle that is neither an email nor a phone number).
    NoIdentity,
    /// The identity is not in the snapshot.
    UnknownIdentity,
    /// The identity is claimed by more than one customer.
    AmbiguousIdentity,
    /// An identity update removed the identity (after the snapshot).
    IdentityRemoved,
    /// No snapshot version is loaded.
    NoSnapshot,
}

impl MissReason {
    /// Column spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoIdentity => "no_identity",
            Self::UnknownIdentity => "unknown_identity",
            Self::AmbiguousIdentity => "ambiguous_identity",
            Self::IdentityRemoved => "identity_removed",
            Self::NoSnapshot => "no_snapshot",
        }
    }
}

/// Outcome labels of [`JoinStats::iter`], indexed by outcome code.
pub const OUTCOME_LABELS: [&str; 6] = [
    "hit",
    "no_identity",
    "unknown_identity",
    "ambiguous_identity",
    "identity_removed",
    "no_snapshot",
];

const O_HIT: u8 = 0;
const O_NO_IDENTITY: u8 = 1;
const O_UNKNOWN: u8 = 2;
const O_AMBIGUOUS: u8 = 3;
const O_REMOVED: u8 = 4;
const O_NO_SNAPSHOT: u8 = 5;

const N_CHANNELS: usize = CHANNEL_LABELS.len();
const N_OUTCOMES: usize = OUTCOME_LABELS.len();

/// The bounded metrics label of a mention channel: one of `twitter`
/// (also `x`), `facebook`, `instagram`, `web_form`, `app_chat`, `email`,
/// `sms`, `other` (trimmed, case-insensitive).
pub fn channel_label(channel: &str) -> &'static str {
    CHANNEL_LABELS[channel_index(channel)]
}

/// Counters since the last [`IdentityJoin::take_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinStats {
    /// Mention rows joined.
    pub rows: u64,
    /// Rows matched to a customer.
    pub hits: u64,
    /// Misses: no usable identity.
    pub no_identity: u64,
    /// Misses: identity not in the snapshot.
    pub unknown_identity: u64,
    /// Misses: identity claimed by several customers.
    pub ambiguous_identity: u64,
    /// Misses: identity removed by an update.
    pub identity_removed: u64,
    /// Misses: no snapshot loaded.
    pub no_snapshot: u64,
    /// Rows older than every kept version (joined to the oldest).
    pub before_oldest_version: u64,
    /// `[channel][outcome]` counts ([`CHANNEL_LABELS`] × [`OUTCOME_LABELS`]).
    by_channel: [[u64; N_OUTCOMES]; N_CHANNELS],
}

impl JoinStats {
    /// Non-zero `(channel label, outcome label, count)` triples.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.by_channel.iter().enumerate().flat_map(|(c, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(move |(o, &n)| (CHANNEL_LABELS[c], OUTCOME_LABELS[o], n))
        })
    }

    /// The count of one `(channel label, outcome label)`; 0 for unknown
    /// labels.
    pub fn count(&self, channel: &str, outcome: &str) -> u64 {
        let c = CHANNEL_LABELS.iter().position(|l| *l == channel);
        let o = OUTCOME_LABELS.iter().position(|l| *l == outcome);
        match (c, o) {
            (Some(c), Some(o)) => self.by_channel[c][o],
            _ => 0,
        }
    }

    fn merge(&mut self, by_channel: &[[u64; N_OUTCOMES]; N_CHANNELS], rows: u64, before: u64) {
        self.rows += rows;
        self.before_oldest_version += before;
        let mut per_outcome = [0u64; N_OUTCOMES];
        for (acc, row) in self.by_channel.iter_mut().zip(by_channel) {
            for o in 0..N_OUTCOMES {
                acc[o] += row[o];
                per_outcome[o] += row[o];
            }
        }
        self.hits += per_outcome[O_HIT as usize];
        self.no_identity += per_outcome[O_NO_IDENTITY as usize];
        self.unknown_identity += per_outcome[O_UNKNOWN as usize];
        self.ambiguous_identity += per_outcome[O_AMBIGUOUS as usize];
        self.identity_removed += per_outcome[O_REMOVED as usize];
        self.no_snapshot += per_outcome[O_NO_SNAPSHOT as usize];
    }
}

/// One kept snapshot version, for [`JoinStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Directory name.
    pub name: String,
    /// Valid from (epoch ms).
    pub valid_from_ms: i64,
    /// Customers.
    pub customers: usize,
    /// Identity entries (ambiguous ones included).
    pub entries: usize,
    /// Entries claimed by several customers.
    pub ambiguous_entries: usize,
    /// Approximate heap bytes of the index.
    pub approx_bytes: usize,
}

/// What the join holds, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinStatus {
    /// Kept versions, oldest first.
    pub versions: Vec<VersionInfo>,
    /// Identity updates held in the overlay.
    pub overlay_entries: usize,
}

/// The state swapped under the lock.
#[derive(Debug, Default)]
struct Inner {
    /// Sorted by valid-from, ascending; at most `keep_versions`.
    versions: Vec<Arc<Snapshot>>,
    /// Identity updates newer than the oldest kept version.
    overlay: Overlay,
}

impl Inner {
    /// Drops updates already contained in every kept snapshot.
    fn prune(&mut self) {
        if let Some(oldest) = self.versions.first() {
            self.overlay.prune(oldest.valid_from_ms);
        }
    }
}

/// The identity-join operator; share it as `Arc<IdentityJoin>`.
#[derive(Debug)]
pub struct IdentityJoin {
    cfg: IdentityJoinConfig,
    inner: RwLock<Inner>,
    stats: Mutex<JoinStats>,
}

/// Per-row result of the lookup phase.
const NO_VERSION: u8 = u8::MAX;
const NO_ROW: u32 = u32::MAX;

impl IdentityJoin {
    /// A join with no snapshot yet (every mention misses with `no_snapshot`).
    pub fn new(cfg: IdentityJoinConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            inner: RwLock::new(Inner::default()),
            stats: Mutex::new(JoinStats::default()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &IdentityJoinConfig {
        &self.cfg
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a version (replacing one with the same valid-from), keeping the
    /// newest `keep_versions`, and prunes the overlay of updates at or
    /// before the oldest kept version. Atomic for concurrent
    /// [`Self::join_batch`] calls; cheap (the snapshot is already loaded).
    pub fn add_snapshot(&self, snapshot: Snapshot) {
        let s = Arc::new(snapshot);
        let mut inner = self.write();
        let versions = &mut inner.versions;
        match versions.binary_search_by_key(&s.valid_from_ms, |v| v.valid_from_ms) {
            Ok(i) => versions[i] = s,
            Err(i) => versions.insert(i, s),
        }
        let excess = versions.len().saturating_sub(self.cfg.keep_versions);
        let dropped: Vec<_> = versions.drain(..excess).collect();
        inner.prune();
        drop(inner);
        // Free dropped versions outside the lock.
        drop(dropped);
    }

    /// Kept versions, oldest first.
    pub fn versions(&self) -> Vec<Arc<Snapshot>> {
        self.read().versions.clone()
    }

    /// Kept versions and overlay size.
    pub fn status(&self) -> JoinStatus {
        let inner = self.read();
        JoinStatus {
            versions: inner
                .versions
                .iter()
                .map(|v| VersionInfo {
                    name: v.name.clone(),
                    valid_from_ms: v.valid_from_ms,
                    customers: v.index.customer_count(),
                    entries: v.index.entries(),
                    ambiguous_entries: v.index.ambiguous_entries(),
                    approx_bytes: v.index.approx_bytes(),
                })
                .collect(),
            overlay_entries: inner.overlay.len(),
        }
    }

    /// Returns and resets the counters.
    pub fn take_stats(&self) -> JoinStats {
        std::mem::take(&mut *self.stats.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies one identity update (see [`updates`]): the value is
    /// normalised as mentions are (`invalid_value` if it does not);
    /// `add`/`change` need a `customer_id` (`missing_field`). An update at
    /// or before the oldest kept version is already in every kept snapshot
    /// and is dropped (`Ok`). Same identity and valid-from replaces.
    pub fn apply_update(&self, u: &IdentityUpdate) -> std::result::Result<(), UpdateRejection> {
        let mut key = String::with_capacity(u.value.len() + 8);
        if !key_into(u.kind, &u.value, &self.cfg.default_country_code, &mut key) {
            return Err(UpdateRejection::new(
                "invalid_value",
                format!("`{}` is not a valid {} identity", u.value, u.kind.as_str()),
            ));
        }
        let customer: Option<Arc<str>> = match u.op {
            UpdateOp::Remove => None,
            UpdateOp::Add | UpdateOp::Change => match u.customer_id.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => Some(c.into()),
                _ => {
                    return Err(UpdateRejection::new(
                        "missing_field",
                        "`customer_id` is required for add and change".into(),
                    ))
                }
            },
        };
        let mut inner = self.write();
        if inner
            .versions
            .first()
            .is_some_and(|v| u.valid_from_ms <= v.valid_from_ms)
        {
            return Ok(());
        }
        inner
            .overlay
            .upsert(key.as_bytes(), u.valid_from_ms, customer);
        Ok(())
    }

    /// Forgets every update of an identity (a tombstone): the snapshots'
    /// value applies again. A value that does not normalise is ignored.
    pub fn forget_identity(&self, kind: IdentityKind, value: &str) {
        let mut key = String::with_capacity(value.len() + 8);
        if key_into(kind, value, &self.cfg.default_country_code, &mut key) {
            self.write().overlay.forget(key.as_bytes());
        }
    }

    /// Appends the identity columns ([`col`]) to a mention batch.
    pub fn join_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let channel = str_col(batch, mcol::CHANNEL)?;
        let handle = str_col(batch, mcol::AUTHOR_HANDLE)?;
        let author_id = str_col(batch, mcol::AUTHOR_ID)?;
        let time = batch
            .column_by_name(mcol::EVENT_TIME)
            .ok_or_else(|| OperatorError::Input(format!("no column `{}`", mcol::EVENT_TIME)))?
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| {
                OperatorError::Input(format!("`{}` is not a ms timestamp", mcol::EVENT_TIME))
            })?;
        let n = batch.num_rows();
        let cc = self.cfg.default_country_code.as_str();

        // Phase 0, lock-free: per row the channel, the lookup key (kind
        // code byte + normalised value, empty when there is none) and its
        // hash, all keys in one reused buffer.
        let mut chan = Vec::with_capacity(n);
        let mut via = Vec::with_capacity(n);
        let mut keys = KeyBatch::with_capacity(n);
        for i in 0..n {
            let ci = if channel.is_valid(i) {
                channel_index(channel.value(i))
            } else {
                CHANNEL_LABELS.len() - 1
            };
            chan.push(ci as u8);
            let found = match lookup_of(ci) {
                Lookup::Handle(k) => get(handle, i).map(|h| (k, h)),
                Lookup::AuthorId(k) => get(author_id, i).map(|h| (k, h)),
                Lookup::ByShape => get(handle, i).and_then(|h| kind_by_shape(h).map(|k| (k, h))),
            };
            via.push(match found {
                Some((k, v)) if push_key(k, v, cc, keys.buf()) => k.code(),
                _ => 0,
            });
            keys.end_row();
        }

        // Phase 1, under the read lock: per row the version, outcome and
        // customer row.
        let mut ver = vec![NO_VERSION; n];
        let mut outcome = vec![O_NO_SNAPSHOT; n];
        let mut rows = vec![NO_ROW; n];
        let mut before = vec![false; n];
        // Overlay hits on customers absent from their version.
        let mut foreign: Vec<(usize, Arc<str>)> = Vec::new();
        let mut n_before = 0u64;
        let versions: Vec<Arc<Snapshot>>;
        {
            let inner = self.read();
            versions = inner.versions.clone();
            let overlay = &inner.overlay;
            let use_overlay = !overlay.is_empty();
            let nv = versions.len();
            if nv > 0 {
                let newest_ms = versions[nv - 1].valid_from_ms;
                // Rows left to the index of each version.
                let mut todo: Vec<Vec<u32>> = vec![Vec::new(); nv];
                todo[nv - 1].reserve(n);
                for i in 0..n {
                    let t = time.is_valid(i).then(|| time.value(i));
                    let vi = match t {
                        None => nv - 1,
                        Some(t) if t >= newest_ms => nv - 1,
                        Some(t) => {
                            let k = versions.partition_point(|v| v.valid_from_ms <= t);
                            if k == 0 {
                                before[i] = true;
                                n_before += 1;
                                0
                            } else {
                                k - 1
                            }
                        }
                    };
                    ver[i] = vi as u8;
                    let kb = keys.key(i);
                    if kb.is_empty() {
                        outcome[i] = O_NO_IDENTITY;
                        continue;
                    }
                    let snap = &versions[vi];
                    let decided = if use_overlay {
                        overlay.decide(kb, keys.hash[i], snap.valid_from_ms, t.unwrap_or(i64::MAX))
                    } else {
                        None
                    };
                    outcome[i] = match decided {
                        Some(None) => O_REMOVED,
                        Some(Some(cid)) => {
                            match snap.index.customer_row(cid) {
                                Some(r) => rows[i] = r,
                                None => foreign.push((i, cid.clone())),
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
                    v.index.get_many(&keys, todo, &mut hits);
                }
                for &i in todo.iter().flatten() {
                    let i = i as usize;
                    match hits[i] {
                        None => {}
                        Some(Hit::Ambiguous) => outcome[i] = O_AMBIGUOUS,
                        Some(Hit::Row(r)) => {
                            rows[i] = r;
                            outcome[i] = O_HIT;
                        }
                    }
                }
            }
        }
        let mut by_channel = [[0u64; N_OUTCOMES]; N_CHANNELS];
        for (&c, &o) in chan.iter().zip(&outcome) {
            by_channel[c as usize][o as usize] += 1;
        }
        // The version of the matched customer rows: one, several, or none.
        let mut hit_version = NO_VERSION;
        let mut multi_version = false;
        for (&r, &v) in rows.iter().zip(&ver) {
            if r != NO_ROW && v != hit_version {
                multi_version |= hit_version != NO_VERSION;
                hit_version = v;
            }
        }

        // Phase 2, lock-free: the output columns.
        let attrs = attributes(&versions, &ver, &rows, multi_version, hit_version, &foreign)?;
        let names: Vec<&str> = versions.iter().map(|v| v.name.as_str()).collect();
        let a_via = utf8_from_codes(&VIA_LABELS, n, |i| match outcome[i] {
            O_HIT => via[i] as u32,
            _ => NULL_CODE,
        })?;
        let a_miss = utf8_from_codes(&OUTCOME_LABELS, n, |i| match outcome[i] {
            O_HIT => NULL_CODE,
            o => o as u32,
        })?;
        let a_snap = utf8_from_codes(&names, n, |i| match ver[i] {
            NO_VERSION => NULL_CODE,
            v => v as u32,
        })?;
        let matched = BooleanArray::new(
            BooleanBuffer::collect_bool(n, |i| outcome[i] == O_HIT),
            None,
        );
        let before = BooleanArray::new(BooleanBuffer::collect_bool(n, |i| before[i]), None);

        let f = |name: &str, a: ArrayRef, nullable: bool| {
            (Field::new(name, a.data_type().clone(), nullable), a)
        };
        let [a_cid, a_seg, a_tier, a_region, a_vuln, a_status] = attrs;
        let out = crate::classify::append_columns(
            batch,
            vec![
                f(col::CUSTOMER_ID, a_cid, true),
                f(col::CUSTOMER_SEGMENT, a_seg, true),
                f(col::CUSTOMER_TIER, a_tier, true),
                f(col::CUSTOMER_REGION, a_region, true),
                f(col::CUSTOMER_VULNERABLE, a_vuln, true),
                f(col::CUSTOMER_ACCOUNT_STATUS, a_status, true),
                f(col::IDENTITY_MATCHED, Arc::new(matched), false),
                f(col::IDENTITY_VIA, a_via, true),
                f(col::IDENTITY_SNAPSHOT, a_snap, true),
                f(col::IDENTITY_MISS_REASON, a_miss, true),
                f(col::IDENTITY_BEFORE_OLDEST_VERSION, Arc::new(before), false),
            ],
        )?;

        self.stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(&by_channel, n as u64, n_before);
        Ok(out)
    }
}

/// Code of a null in [`utf8_from_codes`].
const NULL_CODE: u32 = u32::MAX;

/// A Utf8 column of `n` rows with `dict[code(i)]` at row `i`, null where
/// the code is not in `dict` ([`NULL_CODE`]): two tight passes (offsets,
/// then bytes) instead of a builder call per row. `code` is called up to
/// three times per row, so it should be cheap.
fn utf8_from_codes(dict: &[&str], n: usize, code: impl Fn(usize) -> u32) -> Result<ArrayRef> {
    match dict.iter().map(|s| s.len()).max().unwrap_or(0) {
        0..=16 => utf8_padded::<16>(dict, n, code),
        17..=32 => utf8_padded::<32>(dict, n, code),
        _ => utf8_padded::<0>(dict, n, code),
    }
}

/// [`utf8_from_codes`] with every entry of `dict` padded to `W` bytes, so
/// that a value is copied as one fixed-size move (then the length trimmed
/// back); `W = 0` copies each value as is.
fn utf8_padded<const W: usize>(
    dict: &[&str],
    n: usize,
    code: impl Fn(usize) -> u32,
) -> Result<ArrayRef> {
    let padded: Vec<([u8; W], usize)> = dict
        .iter()
        .map(|s| {
            let mut p = [0u8; W];
            if W > 0 {
                p[..s.len()].copy_from_slice(s.as_bytes());
            }
            (p, s.len())
        })
        .collect();
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut end = 0usize;
    let mut nulls = 0usize;
    for i in 0..n {
        match padded.get(code(i) as usize) {
            Some((_, len)) => end += len,
            None => nulls += 1,
        }
        offsets.push(end as i32);
    }
    if end > i32::MAX as usize {
        return Err(OperatorError::Input(
            "identity join output column over 2 GiB".into(),
        ));
    }
    let mut values: Vec<u8> = Vec::with_capacity(end + W);
    for i in 0..n {
        let c = code(i) as usize;
        if let Some((p, len)) = padded.get(c) {
            if W > 0 {
                let at = values.len();
                values.extend_from_slice(p);
                values.truncate(at + len);
            } else {
                values.extend_from_slice(dict[c].as_bytes());
            }
        }
    }
    let nulls = (nulls > 0).then(|| {
        NullBuffer::new(BooleanBuffer::collect_bool(n, |i| {
            (code(i) as usize) < dict.len()
        }))
    });
    Ok(Arc::new(StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        nulls,
    )?))
}

/// The six customer attribute columns for the rows (`rows[i]` of version
/// `ver[i]`, null where `rows[i] == NO_ROW`), plus the customer ids of
/// overlay hits on customers absent from their version.
fn attributes(
    versions: &[Arc<Snapshot>],
    ver: &[u8],
    rows: &[u32],
    multi_version: bool,
    hit_version: u8,
    foreign: &[(usize, Arc<str>)],
) -> Result<[ArrayRef; 6]> {
    let n = rows.len();
    let schema = customer_schema();
    if hit_version == NO_VERSION {
        let mut out: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), n))
            .collect();
        if !foreign.is_empty() {
            out[0] = with_foreign(&out[0], foreign);
        }
        return out
            .try_into()
            .map_err(|_| OperatorError::Input("customer attribute columns".into()));
    }
    // Gathers one column of the customers batch(es).
    let idx = (!multi_version).then(|| {
        let valid = BooleanBuffer::collect_bool(n, |i| rows[i] != NO_ROW);
        let values: ScalarBuffer<u32> = rows
            .iter()
            .map(|&r| if r == NO_ROW { 0 } else { r })
            .collect();
        UInt32Array::new(values, Some(NullBuffer::new(valid)))
    });
    let gather = |c: usize| -> Result<ArrayRef> {
        if let Some(idx) = &idx {
            // One version: `take` with a null index for every miss.
            let customers = versions[hit_version as usize].index.customers();
            return Ok(arrow::compute::take(
                customers.column(c).as_ref(),
                idx,
                None,
            )?);
        }
        // Several versions: interleave, with a one-row all-null source last.
        let ix: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                if rows[i] == NO_ROW {
                    (versions.len(), 0)
                } else {
                    (ver[i] as usize, rows[i] as usize)
                }
            })
            .collect();
        let null = new_null_array(schema.field(c).data_type(), 1);
        let mut srcs: Vec<&dyn Array> = versions
            .iter()
            .map(|v| v.index.customers().column(c).as_ref())
            .collect();
        srcs.push(null.as_ref());
        Ok(arrow::compute::interleave(&srcs, &ix)?)
    };
    let mut cid = gather(0)?;
    if !foreign.is_empty() {
        cid = with_foreign(&cid, foreign);
    }
    // The packed attributes: one random read per matched row.
    let packed: Vec<u64> = (0..n)
        .map(|i| match rows[i] {
            NO_ROW => 0,
            r => versions[ver[i] as usize].index.packed.rows[r as usize],
        })
        .collect();
    let mut strs: Vec<ArrayRef> = Vec::with_capacity(4);
    let mut dict: Vec<&str> = Vec::new();
    let mut base: Vec<(u32, u32)> = Vec::with_capacity(versions.len());
    for (k, &c) in index::PACKED_COLS.iter().enumerate() {
        if versions.iter().any(|v| v.index.packed.dicts[k].is_none()) {
            strs.push(gather(c)?);
            continue;
        }
        // Every version's dictionary back to back: row `i`'s value is
        // entry `base[ver[i]] + code`.
        dict.clear();
        base.clear();
        for v in versions {
            let d = v.index.packed.dicts[k].as_deref().unwrap_or_default();
            base.push((dict.len() as u32, d.len() as u32));
            dict.extend(d.iter().map(|s| &**s));
        }
        strs.push(utf8_from_codes(&dict, n, |i| {
            if rows[i] == NO_ROW {
                return NULL_CODE;
            }
            let code = ((packed[i] >> (8 * k)) & 0xff) as u32;
            let (b, len) = base[ver[i] as usize];
            if code < len {
                b + code
            } else {
                NULL_CODE
            }
        })?);
    }
    let vul = BooleanArray::new(
        BooleanBuffer::collect_bool(n, |i| (packed[i] >> 32) & 3 == 2),
        Some(NullBuffer::new(BooleanBuffer::collect_bool(n, |i| {
            (packed[i] >> 32) & 3 != 0
        }))),
    );
    let [seg, tier, region, status]: [ArrayRef; 4] = strs
        .try_into()
        .map_err(|_| OperatorError::Input("customer attribute columns".into()))?;
    debug_assert_eq!(cid.data_type(), &DataType::Utf8);
    Ok([cid, seg, tier, region, Arc::new(vul), status])
}

/// `ids` with the customer ids of overlay hits on customers absent from
/// their version put in.
fn with_foreign(ids: &ArrayRef, foreign: &[(usize, Arc<str>)]) -> ArrayRef {
    let n = ids.len();
    let ids = ids.as_string_opt::<i32>();
    let mut b = StringBuilder::with_capacity(n, n * 10);
    let mut next = foreign.iter().peekable();
    for i in 0..n {
        match next.peek() {
            Some((fi, id)) if *fi == i => {
                b.append_value(id.as_ref());
                next.next();
            }
            _ => b.append_option(ids.and_then(|a| a.is_valid(i).then(|| a.value(i)))),
        }
    }
    Arc::new(b.finish())
}

fn get(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// [`col::IDENTITY_VIA`] by identity kind code.
const VIA_LABELS: [&str; 5] = [
    "twitter:handle",
    "facebook:author_id",
    "instagram:handle",
    "email",
    "phone",
];

fn str_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .ok_or_else(|| OperatorError::Input(format!("no column `{name}`")))?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| OperatorError::Input(format!("`{name}` is not Utf8")))
}
