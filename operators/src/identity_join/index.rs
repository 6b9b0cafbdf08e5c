//! The compact in-memory identity index of one snapshot version.
//!
//! `(kind, normalised value) → customer row`, with the customer attributes
//! kept columnar in one Arrow [`RecordBatch`]. A value claimed by two
//! different customers is stored as [`AMBIGUOUS`] and never resolved.
//!
//! Layout (built for a million customers in well under a second and a few
//! tens of bytes per identity): every key — the kind's code byte followed by
//! the normalised value — lives in one byte arena; an open-addressing hash
//! table of `u64` slots (32 hash bits as a tag, entry number + 1) points into
//! it. A second table of the same kind maps `customer_id` → row over the
//! customers batch's own `customer_id` column (no copy), for identity
//! updates that name a customer.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::normalize::IdentityKind;

/// Marker row for a value claimed by more than one customer.
pub const AMBIGUOUS: u32 = u32::MAX;

/// Customer attribute columns of [`IdentityIndex::customers`], in order.
pub mod attr {
    /// Customer id.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// `consumer`, `business`, `wholesale`.
    pub const SEGMENT: &str = "segment";
    /// `standard`, `plus`, `premier`.
    pub const TIER: &str = "tier";
    /// Region.
    pub const REGION: &str = "region";
    /// Vulnerable-customer flag.
    pub const VULNERABLE: &str = "vulnerable";
    /// `active`, `in_arrears`, `suspended`, `closed`.
    pub const ACCOUNT_STATUS: &str = "account_status";
}

/// Schema of the customer attribute batch.
pub fn customer_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(attr::CUSTOMER_ID, DataType::Utf8, false),
        Field::new(attr::SEGMENT, DataType::Utf8, true),
        Field::new(attr::TIER, DataType::Utf8, true),
        Field::new(attr::REGION, DataType::Utf8, true),
        Field::new(attr::VULNERABLE, DataType::Boolean, true),
        Field::new(attr::ACCOUNT_STATUS, DataType::Utf8, true),
    ]))
}

/// Result of one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// The customer at this row of [`IdentityIndex::customers`].
    Row(u32),
    /// Claimed by more than one customer.
    Ambiguous,
}

/// The fixed-seed hasher of both tables (foldhash: fast on short strings).
const HASHER: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x5b17_c4a2_9e3d_0f61);

#[inline]
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    let mut h = HASHER.build_hasher();
    h.write(key);
    h.finish()
}

/// Open-addressing (linear probing) table of entry numbers; keys live
/// elsewhere and are compared through a closure. Load factor ≤ 3/4.
#[derive(Debug, Clone, Default)]
struct Slots {
    /// `0` = empty; else `tag << 32 | (entry + 1)`.
    slots: Vec<u64>,
    len: usize,
}

impl Slots {
    fn with_capacity(n: usize) -> Self {
        let cap = (n.max(8) * 4 / 3 + 1).next_power_of_two();
        Self {
            slots: vec![0; cap],
            len: 0,
        }
    }

    #[inline]
    fn tag(h: u64) -> u64 {
        h >> 32
    }

    /// The entry whose key `eq` accepts, if any.
    #[inline]
    fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return None;
        }
        let tag = Self::tag(h);
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == tag {
                let e = (s as u32) - 1;
                if eq(e) {
                    return Some(e);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts an entry known to be absent; grows (re-hashing every entry
    /// through `hash_of`) when needed.
    fn insert(&mut self, h: u64, entry: u32, hash_of: impl Fn(u32) -> u64) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![0; (old.len() * 2).max(16)];
            for s in old.into_iter().filter(|&s| s != 0) {
                let e = (s as u32) - 1;
                self.put(hash_of(e), e);
            }
        }
        self.put(h, entry);
        self.len += 1;
    }

    fn put(&mut self, h: u64, entry: u32) {
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (Self::tag(h) << 32) | (entry as u64 + 1);
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// Customer columns ([`customer_schema`] positions) packed as byte codes:
/// segment, tier, region, account_status.
pub(crate) const PACKED_COLS: [usize; 4] = [1, 2, 3, 5];
/// Byte code of a null (or of a column with too many distinct values).
pub(crate) const NULL_CODE: u8 = u8::MAX;

/// The low-cardinality customer attributes packed per row, so that the join
/// reads one `u64` per matched customer instead of gathering four string
/// columns: byte `k` is the code of [`PACKED_COLS`]`[k]` in `dicts[k]`
/// ([`NULL_CODE`] = null), byte 4 is `vulnerable` (0 null, 1 false, 2
/// true).
#[derive(Debug, Clone, Default)]
pub(crate) struct Packed {
    pub(crate) rows: Vec<u64>,
    /// Distinct values per packed column; `None` when there are more than
    /// 254 (the join then gathers that column from the batch).
    pub(crate) dicts: [Option<Vec<Box<str>>>; 4],
}

impl Packed {
    fn build(customers: &RecordBatch) -> Self {
        let n = customers.num_rows();
        let mut rows = vec![0u64; n];
        let mut dicts: [Option<Vec<Box<str>>>; 4] = Default::default();
        for (k, &c) in PACKED_COLS.iter().enumerate() {
            let a = customers.column(c).as_string::<i32>();
            let mut codes: std::collections::HashMap<&str, u8, foldhash::fast::FixedState> =
                Default::default();
            let mut dict: Vec<Box<str>> = Vec::new();
            let mut ok = true;
            for (r, slot) in rows.iter_mut().enumerate() {
                let code = if a.is_null(r) || !ok {
                    NULL_CODE
                } else {
                    let v = a.value(r);
                    match codes.get(v) {
                        Some(&code) => code,
                        None if dict.len() < NULL_CODE as usize => {
                            let code = dict.len() as u8;
                            codes.insert(v, code);
                            dict.push(v.into());
                            code
                        }
                        None => {
                            ok = false;
                            NULL_CODE
                        }
                    }
                };
                *slot |= (code as u64) << (8 * k);
            }
            dicts[k] = ok.then_some(dict);
        }
        let vul = customers.column(4).as_boolean();
        for (r, slot) in rows.iter_mut().enumerate() {
            let v = if vul.is_null(r) {
                0
            } else {
                1 + vul.value(r) as u64
            };
            *slot |= v << 32;
        }
        Self { rows, dicts }
    }

    fn bytes(&self) -> usize {
        self.rows.capacity() * 8
            + self
                .dicts
                .iter()
                .flatten()
                .flatten()
                .map(|s| s.len() + 16)
                .sum::<usize>()
    }
}

/// Asks the CPU to start loading `*r` into cache (a hint; nothing on
/// targets other than x86-64).
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no architectural effect; the
    // address comes from a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((r as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Lookup keys of a batch of mentions: row `i`'s key (kind code byte and
/// normalised value, empty when none) and its [`hash_key`].
#[derive(Debug, Default)]
pub(crate) struct KeyBatch {
    /// Keys back to back (the kind code bytes are ASCII, so this is UTF-8).
    bytes: String,
    /// Row `i`'s key is `bytes[ends[i - 1]..ends[i]]` (from 0 for row 0).
    ends: Vec<usize>,
    pub(crate) hash: Vec<u64>,
}

impl KeyBatch {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Self {
            bytes: String::with_capacity(rows * 24),
            ends: Vec::with_capacity(rows),
            hash: Vec::with_capacity(rows),
        }
    }

    /// The key buffer to append the next row's key to (see
    /// [`Self::end_row`]).
    pub(crate) fn buf(&mut self) -> &mut String {
        &mut self.bytes
    }

    /// Ends the current row's key (empty when nothing was appended) and
    /// records its hash.
    pub(crate) fn end_row(&mut self) {
        let start = self.ends.last().copied().unwrap_or(0);
        let end = self.bytes.len();
        self.ends.push(end);
        let key = &self.bytes.as_bytes()[start..end];
        self.hash
            .push(if key.is_empty() { 0 } else { hash_key(key) });
    }

    /// Row `i`'s key.
    #[inline]
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes.as_bytes()[start..self.ends[i]]
    }
}

/// Identity index of one snapshot version.
#[derive(Debug, Clone)]
pub struct IdentityIndex {
    /// Key hash table over [`Self::arena`].
    slots: Slots,
    /// Every key back to back.
    arena: Vec<u8>,
    /// Entry `e`'s key is `arena[offsets[e]..offsets[e + 1]]`.
    offsets: Vec<u32>,
    /// Entry `e`'s customer row, or [`AMBIGUOUS`].
    rows: Vec<u32>,
    ambiguous: usize,
    customers: RecordBatch,
    /// `customers`' `customer_id` column.
    customer_ids: StringArray,
    /// `customer_id` → row over [`Self::customer_ids`].
    by_customer: Slots,
    /// Packed low-cardinality attributes.
    pub(crate) packed: Packed,
}

/// Builds an [`IdentityIndex`] incrementally (used by the loader).
#[derive(Debug)]
pub(crate) struct IndexBuilder {
    ix: IdentityIndex,
}

impl IndexBuilder {
    /// Starts an index over `customers` ([`customer_schema`], customer ids
    /// unique: a repeated id keeps its first row), expecting about
    /// `identities` entries.
    pub(crate) fn new(customers: RecordBatch, identities: usize) -> Self {
        let customer_ids = customers.column(0).as_string::<i32>().clone();
        let mut by_customer = Slots::with_capacity(customer_ids.len());
        for row in 0..customer_ids.len() {
            if customer_ids.is_null(row) {
                continue;
            }
            let id = customer_ids.value(row).as_bytes();
            let h = hash_key(id);
            let ids = &customer_ids;
            if by_customer
                .find(h, |r| ids.value(r as usize).as_bytes() == id)
                .is_none()
            {
                by_customer.insert(h, row as u32, |r| {
                    hash_key(ids.value(r as usize).as_bytes())
                });
            }
        }
        let mut offsets = Vec::with_capacity(identities + 1);
        offsets.push(0);
        let packed = Packed::build(&customers);
        Self {
            ix: IdentityIndex {
                slots: Slots::with_capacity(identities),
                arena: Vec::with_capacity(identities * 16),
                offsets,
                rows: Vec::with_capacity(identities),
                ambiguous: 0,
                customers,
                customer_ids,
                by_customer,
                packed,
            },
        }
    }

    /// The row of a customer id.
    pub(crate) fn customer_row(&self, customer_id: &str) -> Option<u32> {
        self.ix.customer_row(customer_id)
    }

    /// Adds `key` (kind code byte + normalised value) → `row`. `false` when
    /// the key arena would exceed 4 GiB (the entry is not added).
    pub(crate) fn push(&mut self, key: &[u8], row: u32) -> bool {
        let h = hash_key(key);
        let ix = &mut self.ix;
        let found = {
            let (arena, offsets) = (&ix.arena, &ix.offsets);
            ix.slots.find(h, |e| {
                &arena[offsets[e as usize] as usize..offsets[e as usize + 1] as usize] == key
            })
        };
        if let Some(e) = found {
            let slot = &mut ix.rows[e as usize];
            if *slot != row && *slot != AMBIGUOUS {
                *slot = AMBIGUOUS;
                ix.ambiguous += 1;
            }
            return true;
        }
        let Ok(end) = u32::try_from(ix.arena.len() + key.len()) else {
            return false;
        };
        let e = ix.rows.len() as u32;
        ix.arena.extend_from_slice(key);
        ix.offsets.push(end);
        ix.rows.push(row);
        let (arena, offsets) = (&ix.arena, &ix.offsets);
        ix.slots.insert(h, e, |e| {
            hash_key(&arena[offsets[e as usize] as usize..offsets[e as usize + 1] as usize])
        });
        true
    }

    /// The finished index.
    pub(crate) fn finish(mut self) -> IdentityIndex {
        self.ix.arena.shrink_to_fit();
        self.ix.offsets.shrink_to_fit();
        self.ix.rows.shrink_to_fit();
        self.ix
    }
}

impl IdentityIndex {
    /// Builds the index. `customers` must have [`customer_schema`];
    /// `identities` are `(kind, normalised value, customer row)`.
    ///
    /// # Panics
    /// When the keys exceed 4 GiB.
    pub fn build(
        customers: RecordBatch,
        identities: impl IntoIterator<Item = (IdentityKind, String, u32)>,
    ) -> Self {
        let it = identities.into_iter();
        let mut b = IndexBuilder::new(customers, it.size_hint().0);
        let mut key = Vec::new();
        for (kind, value, row) in it {
            key.clear();
            key.push(kind.code());
            key.extend_from_slice(value.as_bytes());
            assert!(b.push(&key, row), "identity keys exceed 4 GiB");
        }
        b.finish()
    }

    /// Looks up a normalised value.
    pub fn get(&self, kind: IdentityKind, value: &str) -> Option<Hit> {
        let mut stack = [0u8; 64];
        if value.len() < stack.len() {
            stack[0] = kind.code();
            stack[1..=value.len()].copy_from_slice(value.as_bytes());
            self.get_key(&stack[..=value.len()])
        } else {
            let mut key = Vec::with_capacity(value.len() + 1);
            key.push(kind.code());
            key.extend_from_slice(value.as_bytes());
            self.get_key(&key)
        }
    }

    /// Looks up a key: the kind's code byte followed by the normalised value.
    #[inline]
    pub(crate) fn get_key(&self, key: &[u8]) -> Option<Hit> {
        self.get_key_hashed(key, hash_key(key))
    }

    /// [`Self::get_key`] with the key's [`hash_key`] already computed.
    #[inline]
    pub(crate) fn get_key_hashed(&self, key: &[u8], h: u64) -> Option<Hit> {
        let (arena, offsets) = (&self.arena, &self.offsets);
        let e = self.slots.find(h, |e| {
            let (a, b) = (
                offsets[e as usize] as usize,
                offsets[e as usize + 1] as usize,
            );
            arena.get(a..b) == Some(key)
        })?;
        let r = self.rows[e as usize];
        Some(if r == AMBIGUOUS {
            Hit::Ambiguous
        } else {
            Hit::Row(r)
        })
    }

    /// Looks up the keys of `keys` at the rows `todo`, writing `out[row]`
    /// (as [`Self::get_key_hashed`] would).
    ///
    /// Staged over chunks of keys so that the cache misses of different
    /// keys overlap instead of each lookup waiting for its own chain (slot,
    /// then entry bounds and row, then the key bytes): on a table of a few
    /// megabytes almost every step is a miss.
    pub(crate) fn get_many(&self, keys: &KeyBatch, todo: &[u32], out: &mut [Option<Hit>]) {
        const CHUNK: usize = 32;
        let slots = &self.slots.slots;
        if slots.is_empty() {
            for &i in todo {
                out[i as usize] = None;
            }
            return;
        }
        let mask = slots.len() - 1;
        // Per key of the chunk: the first slot's entry + 1 when its tag
        // matches (0: empty slot, u32::MAX: probe on), then the entry's key
        // bounds and row.
        let mut first = [0u32; CHUNK];
        let mut bounds = [(0u32, 0u32, 0u32); CHUNK];
        let slot_of = |i: u32| &slots[keys.hash[i as usize] as usize & mask];
        for &i in todo.iter().take(CHUNK) {
            prefetch(slot_of(i));
        }
        for (c, chunk) in todo.chunks(CHUNK).enumerate() {
            // The next chunk's slots load while this one is resolved.
            for &i in todo.iter().skip((c + 1) * CHUNK).take(CHUNK) {
                prefetch(slot_of(i));
            }
            for (f, &i) in first.iter_mut().zip(chunk) {
                let h = keys.hash[i as usize];
                let s = slots[h as usize & mask];
                *f = if s == 0 {
                    0
                } else if s >> 32 == Slots::tag(h) {
                    s as u32
                } else {
                    u32::MAX
                };
            }
            for (b, &f) in bounds.iter_mut().zip(&first[..chunk.len()]) {
                if f != 0 && f != u32::MAX {
                    let e = (f - 1) as usize;
                    *b = (self.offsets[e], self.offsets[e + 1], self.rows[e]);
                }
            }
            // Load the first byte of every candidate key, so that the
            // compares below find them in cache.
            let mut touch = 0u8;
            for (&f, &(a, _, _)) in first[..chunk.len()].iter().zip(&bounds) {
                if f != 0 && f != u32::MAX {
                    touch ^= self.arena.get(a as usize).copied().unwrap_or(0);
                }
            }
            std::hint::black_box(touch);
            for ((&i, &f), &(a, b, r)) in chunk.iter().zip(&first).zip(&bounds) {
                let key = keys.key(i as usize);
                out[i as usize] = if f == 0 {
                    None
                } else if f != u32::MAX && self.arena.get(a as usize..b as usize) == Some(key) {
                    Some(if r == AMBIGUOUS {
                        Hit::Ambiguous
                    } else {
                        Hit::Row(r)
                    })
                } else {
                    // A tag collision or a key further along the probe.
                    self.get_key_hashed(key, keys.hash[i as usize])
                };
            }
        }
    }

    /// The row of a customer id in [`Self::customers`].
    pub fn customer_row(&self, customer_id: &str) -> Option<u32> {
        let id = customer_id.as_bytes();
        let ids = &self.customer_ids;
        self.by_customer
            .find(hash_key(id), |r| ids.value(r as usize).as_bytes() == id)
    }

    /// Customer attributes, columnar ([`customer_schema`]).
    pub fn customers(&self) -> &RecordBatch {
        &self.customers
    }

    /// Number of customers.
    pub fn customer_count(&self) -> usize {
        self.customers.num_rows()
    }

    /// Number of `(kind, value)` entries, ambiguous ones included.
    pub fn entries(&self) -> usize {
        self.rows.len()
    }

    /// Number of entries marked ambiguous.
    pub fn ambiguous_entries(&self) -> usize {
        self.ambiguous
    }

    /// Approximate heap bytes: hash tables, keys, rows and the customer
    /// batch.
    pub fn approx_bytes(&self) -> usize {
        self.slots.bytes()
            + self.by_customer.bytes()
            + self.arena.capacity()
            + self.offsets.capacity() * 4
            + self.rows.capacity() * 4
            + self.packed.bytes()
            + self.customers.get_array_memory_size()
    }

    /// String attribute of a customer row.
    #[cfg(test)]
    pub(crate) fn str_attr(&self, col: usize, row: u32) -> Option<&str> {
        let a = self.customers.column(col);
        let a = a.as_any().downcast_ref::<StringArray>()?;
        a.is_valid(row as usize).then(|| a.value(row as usize))
    }

    /// `vulnerable` of a customer row.
    #[cfg(test)]
    pub(crate) fn vulnerable(&self, row: u32) -> Option<bool> {
        let a = self.customers.column(4);
        let a = a.as_any().downcast_ref::<arrow::array::BooleanArray>()?;
        a.is_valid(row as usize).then(|| a.value(row as usize))
    }
}
