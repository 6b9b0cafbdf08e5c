//! Sources: the Kafka mention source (group consumer, parse workers), the
//! keyed stage's source (repartitioned mentions and CRM contacts) and the
//! identity-updates reader.

pub mod flow;
pub mod kafka;
