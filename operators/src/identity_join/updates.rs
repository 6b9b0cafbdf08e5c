//! Identity updates between snapshots: the `crm-identity-updates` topic.
//!
//! # Record format
//!
//! The topic is compacted; one record per change of one identity.
//!
//! - **key**: `"<kind>:<value>"`, e.g. `twitter:@Jane_D` (UTF-8). It is
//!   informational for updates, but producers must set it to the identity
//!   so that compaction and tombstones work. For a tombstone it is the
//!   identity to forget.
//! - **value**: JSON
//!   ```json
//!   {"op":"add","kind":"twitter","value":"@Jane_D",
//!    "customer_id":"C0000123","valid_from":"2026-11-22T10:00:00Z"}
//!   ```
//!   - `op`: `add` | `change` (the identity now belongs to `customer_id`)
//!     or `remove` (it belongs to nobody);
//!   - `kind`: `twitter` | `facebook` | `instagram` | `email` | `phone`
//!     (case-insensitive);
//!   - `value`: the identity as written anywhere (normalised like mentions:
//!     handles case-insensitively without `@`, emails lower-case, phones to
//!     E.164);
//!   - `customer_id`: required for `add`/`change`, ignored for `remove`;
//!   - `valid_from`: RFC 3339, the event time from which the change holds.
//!
//!   Unknown fields are ignored.
//! - **null value** (tombstone) with key `kind:value`: forget every update
//!   of that identity; the snapshots' value applies again.
//!
//! Rejections ([`UpdateRejection::reason`]): `invalid_json` (not UTF-8, not
//! JSON, not an object), `missing_field`, `unknown_kind`, `unknown_op`,
//! `invalid_time`, `invalid_value` (empty or non-string `value` /
//! `customer_id`, or a value that does not normalise — checked by
//! [`super::IdentityJoin::apply_update`]), `invalid_key` (a tombstone
//! without a `kind:value` key).
//!
//! # Semantics
//!
//! As of event time, whatever the arrival order: a mention at time `t`
//! joined against version `V` (see [`super::IdentityJoin`]) is decided by
//! the newest update of its identity with `V.valid_from < valid_from ≤ t`
//! (an update at or before `V`'s valid-from is assumed to be in `V`);
//! without one, `V`'s index decides. A mention without an event time sees
//! every update newer than `V`. Updates at or before the oldest kept
//! version are dropped (they are in every kept snapshot); the same identity
//! and valid-from replaces an earlier update (replays are idempotent).

use std::collections::HashMap;
use std::sync::Arc;

use simd_json::prelude::*;

use super::index::hash_key;
use super::normalize::IdentityKind;

/// What an update does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOp {
    /// A new identity of `customer_id`.
    Add,
    /// The identity moves to `customer_id`.
    Change,
    /// The identity belongs to nobody.
    Remove,
}

/// One parsed update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityUpdate {
    /// What it does.
    pub op: UpdateOp,
    /// Identity kind.
    pub kind: IdentityKind,
    /// Identity value as written (normalised when applied).
    pub value: String,
    /// The customer for `add`/`change`; `None` for `remove`.
    pub customer_id: Option<String>,
    /// Valid from (epoch ms).
    pub valid_from_ms: i64,
}

/// One record of the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateRecord {
    /// An update.
    Update(IdentityUpdate),
    /// Forget every update of this identity.
    Tombstone {
        /// Identity kind.
        kind: IdentityKind,
        /// Identity value as written in the key.
        value: String,
    },
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRejection {
    /// Bounded code: `invalid_json`, `missing_field`, `unknown_kind`,
    /// `unknown_op`, `invalid_time`, `invalid_value`, `invalid_key`.
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl UpdateRejection {
    pub(crate) fn new(reason: &'static str, detail: String) -> Self {
        Self { reason, detail }
    }
}

impl std::fmt::Display for UpdateRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for UpdateRejection {}

fn rej(reason: &'static str, detail: impl Into<String>) -> UpdateRejection {
    UpdateRejection::new(reason, detail.into())
}

/// Parses one record of `crm-identity-updates` (see the module doc).
pub fn parse_update(
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
) -> Result<UpdateRecord, UpdateRejection> {
    let Some(payload) = payload else {
        return tombstone(key);
    };
    let mut buf = payload.to_vec();
    let doc = simd_json::to_borrowed_value(&mut buf)
        .map_err(|e| rej("invalid_json", format!("not JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(rej("invalid_json", "not a JSON object"));
    };
    let field = |name: &'static str| {
        obj.get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| rej("missing_field", format!("no `{name}`")))
    };
    let op = field("op")?;
    let op = match op.as_str() {
        Some("add") => UpdateOp::Add,
        Some("change") => UpdateOp::Change,
        Some("remove") => UpdateOp::Remove,
        _ => {
            return Err(rej(
                "unknown_op",
                format!("`op` {op} is not add, change or remove"),
            ))
        }
    };
    let kind = field("kind")?;
    let kind = kind.as_str().and_then(IdentityKind::parse).ok_or_else(|| {
        rej(
            "unknown_kind",
            format!("`kind` {kind} is not an identity kind"),
        )
    })?;
    let value = field("value")?;
    let value = match value.as_str() {
        Some(v) if !v.trim().is_empty() => v.to_owned(),
        _ => {
            return Err(rej(
                "invalid_value",
                format!("`value` {value} is not a non-empty string"),
            ))
        }
    };
    let customer_id = match op {
        UpdateOp::Remove => None,
        UpdateOp::Add | UpdateOp::Change => {
            let c = field("customer_id")?;
            match c.as_str() {
                Some(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                _ => {
                    return Err(rej(
                        "invalid_value",
                        format!("`customer_id` {c} is not a non-empty string"),
                    ))
                }
            }
        }
    };
    let vf = field("valid_from")?;
    let valid_from_ms = vf
        .as_str()
        .and_then(crate::time::parse_rfc3339)
        .ok_or_else(|| rej("invalid_time", format!("`valid_from` {vf} is not RFC 3339")))?;
    Ok(UpdateRecord::Update(IdentityUpdate {
        op,
        kind,
        value,
        customer_id,
        valid_from_ms,
    }))
}

fn tombstone(key: Option<&[u8]>) -> Result<UpdateRecord, UpdateRejection> {
    let key = key.ok_or_else(|| rej("invalid_key", "tombstone without a key"))?;
    let key = std::str::from_utf8(key).map_err(|_| rej("invalid_key", "key is not UTF-8"))?;
    let (kind, value) = key
        .split_once(':')
        .ok_or_else(|| rej("invalid_key", format!("key `{key}` is not `kind:value`")))?;
    let kind = IdentityKind::parse(kind).ok_or_else(|| {
        rej(
            "unknown_kind",
            format!("key kind `{kind}` is not an identity kind"),
        )
    })?;
    if value.trim().is_empty() {
        return Err(rej(
            "invalid_key",
            format!("key `{key}` has an empty value"),
        ));
    }
    Ok(UpdateRecord::Tombstone {
        kind,
        value: value.to_owned(),
    })
}

/// One held update: valid-from and customer (`None` = removed).
type Update = (i64, Option<Arc<str>>);

/// Updates per identity key (kind code byte + normalised value), each list
/// sorted by valid-from; `None` customer = removed.
///
/// A bit filter over the keys' [`hash_key`] (about 16 bits per key, so
/// a few per cent false positives) lets the join skip the map lookup for
/// the vast majority of mentions, whose identity has no update.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    map: HashMap<Box<[u8]>, Vec<Update>, foldhash::fast::FixedState>,
    entries: usize,
    /// Bit `hash_key(key) & (bits - 1)` set for every key of `map` (and
    /// possibly of forgotten keys). Empty while `map` is.
    filter: Vec<u64>,
}

/// Minimum filter size in bits.
const FILTER_MIN_BITS: usize = 1 << 12;

impl Overlay {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    #[inline]
    fn filter_bit(filter: &[u64], h: u64) -> (usize, u64) {
        let bits = filter.len() * 64;
        let b = (h as usize) & (bits - 1);
        (b / 64, 1u64 << (b % 64))
    }

    /// `false` when no update of the key with hash `h` is held.
    #[inline]
    pub(crate) fn may_contain(&self, h: u64) -> bool {
        if self.filter.is_empty() {
            return false;
        }
        let (w, m) = Self::filter_bit(&self.filter, h);
        self.filter[w] & m != 0
    }

    /// Rebuilds the filter for the keys held (about 16 bits per key).
    fn rebuild_filter(&mut self) {
        if self.map.is_empty() {
            self.filter = Vec::new();
            return;
        }
        let bits = (self.map.len() * 16)
            .next_power_of_two()
            .max(FILTER_MIN_BITS);
        let mut filter = vec![0u64; bits / 64];
        for k in self.map.keys() {
            let (w, m) = Self::filter_bit(&filter, hash_key(k));
            filter[w] |= m;
        }
        self.filter = filter;
    }

    /// Updates held.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Inserts (or replaces, same valid-from) one update.
    pub(crate) fn upsert(&mut self, key: &[u8], valid_from_ms: i64, customer: Option<Arc<str>>) {
        let list = match self.map.get_mut(key) {
            Some(l) => l,
            None => {
                self.map.insert(key.into(), Vec::new());
                if self.filter.len() * 64 < self.map.len() * 8 {
                    // Below 8 bits per key: grow to 16.
                    self.rebuild_filter();
                } else {
                    let (w, m) = Self::filter_bit(&self.filter, hash_key(key));
                    self.filter[w] |= m;
                }
                self.map.get_mut(key).expect("just inserted")
            }
        };
        match list.binary_search_by_key(&valid_from_ms, |e| e.0) {
            Ok(i) => list[i].1 = customer,
            Err(i) => {
                list.insert(i, (valid_from_ms, customer));
                self.entries += 1;
            }
        }
    }

    /// Drops every update of one identity.
    pub(crate) fn forget(&mut self, key: &[u8]) {
        if let Some(l) = self.map.remove(key) {
            self.entries -= l.len();
        }
    }

    /// Drops updates at or before `oldest_ms`.
    pub(crate) fn prune(&mut self, oldest_ms: i64) {
        let mut removed = 0;
        self.map.retain(|_, l| {
            let k = l.partition_point(|e| e.0 <= oldest_ms);
            removed += k;
            l.drain(..k);
            !l.is_empty()
        });
        self.entries -= removed;
        if removed > 0 {
            self.rebuild_filter();
        }
    }

    /// The deciding update for a mention at `t` joined against a version
    /// valid from `version_ms`: the newest with `version_ms < valid_from ≤
    /// t`. `Some(None)` = removed, `Some(Some(customer))`, `None` = the
    /// version decides.
    /// `h` is the key's [`hash_key`].
    #[inline]
    pub(crate) fn decide(
        &self,
        key: &[u8],
        h: u64,
        version_ms: i64,
        t: i64,
    ) -> Option<Option<&Arc<str>>> {
        if !self.may_contain(h) {
            return None;
        }
        let l = self.map.get(key)?;
        let k = l.partition_point(|e| e.0 <= t);
        let (vf, c) = l.get(k.checked_sub(1)?)?;
        (*vf > version_ms).then_some(c.as_ref())
    }
}
