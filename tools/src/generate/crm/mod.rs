//! Synthetic CRM snapshot: `customers.parquet` and `identities.parquet`
//! (see SPEC "CRM snapshots").
//!
//! Every attribute of customer `i` is a pure function of `(seed, i)`, so the
//! mention and contact generators can pick real customers (and write their
//! handles, e-mail addresses and phone numbers the way the CRM holds them, or
//! differently spelt) without reading the files back.
//!
//! Identity values are unique per kind across customers (after the join's
//! normalisation: case-insensitive, no leading `@`, phones in E.164), and the
//! values given to unknown authors by the mention generator never collide
//! with them.
//!
//! Files: `customers.rs` (attributes), `identities.rs`, `regions.rs`,
//! `salts.rs`, `snapshot.rs` (the Parquet files).

mod customers;
mod identities;
mod regions;
mod salts;
mod snapshot;
#[cfg(test)]
mod tests;

pub use customers::*;
pub use identities::*;
pub use regions::*;
pub use snapshot::*;
