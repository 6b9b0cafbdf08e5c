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
//! Not here yet: `crm-identity-updates`, hot reload, metrics, wiring.

mod index;
mod normalize;
mod snapshot;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{Field, TimestampMillisecondType};
use serde::{Deserialize, Serialize};

pub use index::{attr, customer_schema, Hit, IdentityIndex, AMBIGUOUS};
pub use normalize::{
    kind_by_shape, lookup_for_channel, normalize, normalize_email, normalize_handle,
    normalize_phone, IdentityKind, Lookup,
};
pub use snapshot::{list_versions, load_snapshot, parse_version_name, Snapshot};

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
            Self::NoSnapshot => "no_snapshot",
        }
    }
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
    /// Misses: no snapshot loaded.
    pub no_snapshot: u64,
    /// Rows older than every kept version (joined to the oldest).
    pub before_oldest_version: u64,
}

/// The identity-join operator.
#[derive(Debug)]
pub struct IdentityJoin {
    cfg: IdentityJoinConfig,
    /// Sorted by valid-from, ascending; at most `keep_versions`.
    versions: Vec<Arc<Snapshot>>,
    stats: Mutex<JoinStats>,
}

impl IdentityJoin {
    /// A join with no snapshot yet (every mention misses with `no_snapshot`).
    pub fn new(cfg: IdentityJoinConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            versions: Vec::new(),
            stats: Mutex::new(JoinStats::default()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &IdentityJoinConfig {
        &self.cfg
    }

    /// Adds a version (replacing one with the same valid-from), keeping the
    /// newest `keep_versions`.
    pub fn add_snapshot(&mut self, snapshot: Snapshot) {
        let s = Arc::new(snapshot);
        match self
            .versions
            .binary_search_by_key(&s.valid_from_ms, |v| v.valid_from_ms)
        {
            Ok(i) => self.versions[i] = s,
            Err(i) => self.versions.insert(i, s),
        }
        let excess = self.versions.len().saturating_sub(self.cfg.keep_versions);
        self.versions.drain(..excess);
    }

    /// Kept versions, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &Snapshot> {
        self.versions.iter().map(|s| s.as_ref())
    }

    /// Returns and resets the counters.
    pub fn take_stats(&self) -> JoinStats {
        std::mem::take(&mut *self.stats.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The version for an event time: `(index, before_oldest)`.
    fn version_for(&self, t: Option<i64>) -> Option<(usize, bool)> {
        if self.versions.is_empty() {
            return None;
        }
        let Some(t) = t else {
            return Some((self.versions.len() - 1, false));
        };
        let n = self.versions.partition_point(|v| v.valid_from_ms <= t);
        Some(if n == 0 { (0, true) } else { (n - 1, false) })
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
        let mut b_cid = StringBuilder::with_capacity(n, n * 8);
        let mut b_seg = StringBuilder::with_capacity(n, n * 8);
        let mut b_tier = StringBuilder::with_capacity(n, n * 8);
        let mut b_region = StringBuilder::with_capacity(n, n * 8);
        let mut b_vuln = BooleanBuilder::with_capacity(n);
        let mut b_status = StringBuilder::with_capacity(n, n * 8);
        let mut b_matched = BooleanBuilder::with_capacity(n);
        let mut b_via = StringBuilder::with_capacity(n, n * 8);
        let mut b_snap = StringBuilder::with_capacity(n, n * 20);
        let mut b_miss = StringBuilder::with_capacity(n, n * 8);
        let mut b_before = BooleanBuilder::with_capacity(n);
        let mut st = JoinStats {
            rows: n as u64,
            ..Default::default()
        };
        let cc = self.cfg.default_country_code.as_str();

        for i in 0..n {
            let t = time.is_valid(i).then(|| time.value(i));
            let outcome: std::result::Result<(u32, &'static str), MissReason>;
            let mut before = false;
            let mut snap: Option<&Snapshot> = None;
            match self.version_for(t) {
                None => outcome = Err(MissReason::NoSnapshot),
                Some((vi, b)) => {
                    before = b;
                    let s = self.versions[vi].as_ref();
                    snap = Some(s);
                    let ch = get(channel, i).unwrap_or("");
                    let key: Option<(IdentityKind, &str, &'static str)> =
                        match lookup_for_channel(ch) {
                            Lookup::Handle(k) => get(handle, i).map(|h| (k, h, via_of(k))),
                            Lookup::AuthorId(k) => get(author_id, i).map(|h| (k, h, via_of(k))),
                            Lookup::ByShape => get(handle, i)
                                .and_then(|h| kind_by_shape(h).map(|k| (k, h, via_of(k)))),
                        };
                    let norm = key.and_then(|(k, v, via)| normalize(k, v, cc).map(|v| (k, v, via)));
                    outcome = match norm {
                        None => Err(MissReason::NoIdentity),
                        Some((k, v, via)) => match s.index.get(k, &v) {
                            None => Err(MissReason::UnknownIdentity),
                            Some(Hit::Ambiguous) => Err(MissReason::AmbiguousIdentity),
                            Some(Hit::Row(r)) => Ok((r, via)),
                        },
                    };
                }
            }
            b_snap.append_option(snap.map(|s| s.name.as_str()));
            b_before.append_value(before);
            st.before_oldest_version += before as u64;
            match (outcome, snap) {
                (Ok((r, via)), Some(s)) => {
                    let ix = &s.index;
                    b_cid.append_option(ix.str_attr(0, r));
                    b_seg.append_option(ix.str_attr(1, r));
                    b_tier.append_option(ix.str_attr(2, r));
                    b_region.append_option(ix.str_attr(3, r));
                    b_vuln.append_option(ix.vulnerable(r));
                    b_status.append_option(ix.str_attr(5, r));
                    b_matched.append_value(true);
                    b_via.append_value(via);
                    b_miss.append_null();
                    st.hits += 1;
                }
                (res, _) => {
                    let reason = res.err().unwrap_or(MissReason::NoSnapshot);
                    b_cid.append_null();
                    b_seg.append_null();
                    b_tier.append_null();
                    b_region.append_null();
                    b_vuln.append_null();
                    b_status.append_null();
                    b_matched.append_value(false);
                    b_via.append_null();
                    b_miss.append_value(reason.as_str());
                    match reason {
                        MissReason::NoIdentity => st.no_identity += 1,
                        MissReason::UnknownIdentity => st.unknown_identity += 1,
                        MissReason::AmbiguousIdentity => st.ambiguous_identity += 1,
                        MissReason::NoSnapshot => st.no_snapshot += 1,
                    }
                }
            }
        }

        let f = |name: &str, a: ArrayRef, nullable: bool| {
            (Field::new(name, a.data_type().clone(), nullable), a)
        };
        let out = crate::classify::append_columns(
            batch,
            vec![
                f(col::CUSTOMER_ID, Arc::new(b_cid.finish()), true),
                f(col::CUSTOMER_SEGMENT, Arc::new(b_seg.finish()), true),
                f(col::CUSTOMER_TIER, Arc::new(b_tier.finish()), true),
                f(col::CUSTOMER_REGION, Arc::new(b_region.finish()), true),
                f(col::CUSTOMER_VULNERABLE, Arc::new(b_vuln.finish()), true),
                f(
                    col::CUSTOMER_ACCOUNT_STATUS,
                    Arc::new(b_status.finish()),
                    true,
                ),
                f(col::IDENTITY_MATCHED, Arc::new(b_matched.finish()), false),
                f(col::IDENTITY_VIA, Arc::new(b_via.finish()), true),
                f(col::IDENTITY_SNAPSHOT, Arc::new(b_snap.finish()), true),
                f(col::IDENTITY_MISS_REASON, Arc::new(b_miss.finish()), true),
                f(
                    col::IDENTITY_BEFORE_OLDEST_VERSION,
                    Arc::new(b_before.finish()),
                    false,
                ),
            ],
        )?;

        let mut acc = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        acc.rows += st.rows;
        acc.hits += st.hits;
        acc.no_identity += st.no_identity;
        acc.unknown_identity += st.unknown_identity;
        acc.ambiguous_identity += st.ambiguous_identity;
        acc.no_snapshot += st.no_snapshot;
        acc.before_oldest_version += st.before_oldest_version;
        Ok(out)
    }
}

fn get(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn via_of(k: IdentityKind) -> &'static str {
    match k {
        IdentityKind::Twitter => "twitter:handle",
        IdentityKind::Facebook => "facebook:author_id",
        IdentityKind::Instagram => "instagram:handle",
        IdentityKind::Email => "email",
        IdentityKind::Phone => "phone",
    }
}

fn str_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .ok_or_else(|| OperatorError::Input(format!("no column `{name}`")))?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| OperatorError::Input(format!("`{name}` is not Utf8")))
}
