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
//! method takes `&self`): worker threads call `Operator::process_batch`
//! concurrently while a reloader thread calls
//! [`IdentityJoin::add_snapshot`] (the heavy [`load_snapshot`] runs outside
//! any lock; the swap is atomic: a batch sees either the old or the new set
//! of versions) and an updates thread calls [`IdentityJoin::apply_update`].

mod config;
mod index;
mod normalize;
mod output;
mod snapshot;
mod stats;
#[cfg(test)]
mod tests;
pub mod updates;
mod versions;

use std::sync::{Arc, Mutex, RwLock};

use arrow::array::RecordBatch;

pub use config::IdentityJoinConfig;
pub use index::{attr, customer_schema, Hit, IdentityIndex, AMBIGUOUS};
pub use normalize::{
    kind_by_shape, lookup_for_channel, normalize, normalize_email, normalize_handle,
    normalize_into, normalize_phone, IdentityKind, Lookup, CHANNEL_LABELS,
};
pub use snapshot::{
    code as snapshot_code, list_versions, load_snapshot, parse_version_name, Snapshot,
};
pub use stats::{channel_label, JoinStats, OUTCOME_LABELS};
pub use updates::{parse_update, IdentityUpdate, UpdateOp, UpdateRecord, UpdateRejection};

use normalize::key_into;
use versions::{Inner, RowKeys};

use crate::columns::time_column;
use crate::operator::{names, Operator};
use crate::schema::col;

pub use crate::error::{OperatorError, Result};

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

/// The identity-join operator; share it as `Arc<IdentityJoin>`.
#[derive(Debug)]
pub struct IdentityJoin {
    cfg: IdentityJoinConfig,
    inner: RwLock<Inner>,
    stats: Mutex<JoinStats>,
}

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
    /// `process_batch` calls; cheap (the snapshot is already loaded).
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
}

impl IdentityJoinConfig {
    /// Validates the settings and builds a join with no snapshot yet.
    pub fn build(&self) -> Result<IdentityJoin> {
        IdentityJoin::new(self.clone())
    }
}

impl Operator for IdentityJoin {
    fn name(&self) -> &'static str {
        names::IDENTITY_JOIN
    }

    /// Appends the identity columns (`customer_*`, `identity_*` of
    /// [`crate::schema::col`]) to a mention batch.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let time = time_column(batch, col::EVENT_TIME)?
            .ok_or_else(|| OperatorError::Input(format!("no column `{}`", col::EVENT_TIME)))?;
        // Phase 0, lock-free: the lookup keys. Phase 1, under the read lock:
        // version, outcome and customer row per row. Phase 2, lock-free:
        // the output columns.
        let keys = RowKeys::of(batch, &self.cfg.default_country_code)?;
        let found = self.read().lookup(&keys, time);
        let out = output::append(batch, &keys, &found)?;
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).merge(
            &found.by_channel(&keys),
            keys.len() as u64,
            found.n_before,
        );
        Ok(out)
    }
}
