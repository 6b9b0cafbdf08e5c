//! Sources: the Kafka mention source (group consumer, parse workers) and the
//! identity-updates reader.

pub mod flow;
pub mod identity_updates;
pub mod kafka;
pub mod parse_worker;
