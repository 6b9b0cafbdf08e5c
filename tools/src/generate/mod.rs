//! Synthetic data and load generator (`switchboard generate …`, `demo`).
//!
//! - [`crm`]: a CRM snapshot (`customers.parquet`, `identities.parquet`)
//!   whose every value is a pure function of `(seed, customer index)`;
//! - [`mentions`]: an infinite, seed-deterministic mention firehose in all
//!   supported formats, with ground truth ([`Expect`]) per record;
//! - [`contacts`]: CRM contact events with consistent case lifecycles for
//!   the same customers;
//! - [`kafka`]: produces any of the above to a Kafka topic, optionally
//!   paced to a rate.
//!
//! Using the same `seed` and `customers` for the CRM snapshot, the mentions
//! and the contacts makes ~80 % of mention authors and all contact events
//! join real customers.

pub mod contacts;
pub mod crm;
mod enc;
pub mod kafka;
pub mod mentions;
mod skew;
mod text;

pub use contacts::{write_contacts_jsonl, ContactEvent, ContactGenConfig, ContactGenerator};
pub use crm::{write_crm_snapshot, CrmGenConfig, IdentityKind};
pub use kafka::{produce_to_topic, KafkaRecord};
pub use mentions::{
    write_mentions_jsonl, Expect, GeneratedRecord, MentionGenConfig, MentionGenerator,
};
