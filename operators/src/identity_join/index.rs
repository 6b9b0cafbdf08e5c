//! The compact in-memory identity index of one snapshot version.
//!
//! `(kind, normalised value) → customer row`, with the customer attributes
//! kept columnar in one Arrow [`RecordBatch`]. A value claimed by two
//! different customers is stored as [`AMBIGUOUS`] and never resolved.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
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

/// Identity index of one snapshot version.
#[derive(Debug, Clone)]
pub struct IdentityIndex {
    map: HashMap<(u8, Box<str>), u32>,
    customers: RecordBatch,
    ambiguous: usize,
}

impl IdentityIndex {
    /// Builds the index. `customers` must have [`customer_schema`];
    /// `identities` are `(kind, normalised value, customer row)`.
    pub fn build(
        customers: RecordBatch,
        identities: impl IntoIterator<Item = (IdentityKind, String, u32)>,
    ) -> Self {
        let mut map: HashMap<(u8, Box<str>), u32> = HashMap::new();
        let mut ambiguous = 0;
        for (kind, value, row) in identities {
            let slot = map
                .entry((kind.code(), value.into_boxed_str()))
                .or_insert(row);
            if *slot != row && *slot != AMBIGUOUS {
                *slot = AMBIGUOUS;
                ambiguous += 1;
            }
        }
        map.shrink_to_fit();
        Self {
            map,
            customers,
            ambiguous,
        }
    }

    /// Looks up a normalised value.
    pub fn get(&self, kind: IdentityKind, value: &str) -> Option<Hit> {
        // The key is a `(u8, Box<str>)`; a borrowed lookup would need a
        // custom key type, so allocate one small box per probe.
        let key = (kind.code(), Box::<str>::from(value));
        self.map.get(&key).map(|&r| {
            if r == AMBIGUOUS {
                Hit::Ambiguous
            } else {
                Hit::Row(r)
            }
        })
    }

    /// Customer attributes, columnar ([`customer_schema`]).
    pub fn customers(&self) -> &RecordBatch {
        &self.customers
    }

    /// Number of `(kind, value)` entries, ambiguous ones included.
    pub fn entries(&self) -> usize {
        self.map.len()
    }

    /// Number of entries marked ambiguous.
    pub fn ambiguous_entries(&self) -> usize {
        self.ambiguous
    }

    /// Approximate heap bytes: hash table slots, key strings and the
    /// customer batch.
    pub fn approx_bytes(&self) -> usize {
        let slot = std::mem::size_of::<((u8, Box<str>), u32)>() + 1;
        let keys: usize = self.map.keys().map(|(_, v)| v.len()).sum();
        self.map.capacity() * slot + keys + self.customers.get_array_memory_size()
    }

    /// String attribute of a customer row.
    pub(crate) fn str_attr(&self, col: usize, row: u32) -> Option<&str> {
        let a = self.customers.column(col);
        let a = a.as_any().downcast_ref::<StringArray>()?;
        a.is_valid(row as usize).then(|| a.value(row as usize))
    }

    /// `vulnerable` of a customer row.
    pub(crate) fn vulnerable(&self, row: u32) -> Option<bool> {
        let a = self.customers.column(4);
        let a = a.as_any().downcast_ref::<BooleanArray>()?;
        a.is_valid(row as usize).then(|| a.value(row as usize))
    }
}
