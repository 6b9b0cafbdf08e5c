//! Salts of the per-customer hashes: one per independent attribute, so that
//! no two attributes draw from the same hash.

pub(super) const S_SEGMENT: u64 = 1;
pub(super) const S_TIER: u64 = 2;
pub(super) const S_REGION: u64 = 3;
pub(super) const S_AREA: u64 = 4;
pub(super) const S_DISTRICT: u64 = 5;
pub(super) const S_PRODUCTS: u64 = 6;
pub(super) const S_VULNERABLE: u64 = 7;
pub(super) const S_STATUS: u64 = 8;
pub(super) const S_FIRST: u64 = 9;
pub(super) const S_LAST: u64 = 10;
pub(super) const S_BUSINESS: u64 = 11;
pub(super) const S_HAS: u64 = 20; // + kind index
pub(super) const S_STYLE: u64 = 30; // + kind index
pub(super) const S_CASE: u64 = 40; // + kind index
pub(super) const S_DOMAIN: u64 = 50;
pub(super) const S_OFFSET: u64 = 60;
