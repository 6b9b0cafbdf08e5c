//! Sources. Today: the Kafka mention source.

pub mod kafka;
pub mod parse_worker;
