//! Runtime state, and what fills and restores it:
//!
//! - [`offsets`]: input offset tracking and acknowledgements ([`offsets::Ack`]):
//!   offsets commit only after what they produced is acknowledged;
//! - [`crm`]: the CRM state of the identity join: snapshot versions loaded
//!   from disk (hot reload) and the identity updates read from their
//!   compacted topic ([`identity_updates`], read like a table: every
//!   partition, from the beginning, no group);
//! - [`changelog`]: the keyed stage's correlation state, restored from its
//!   changelog topic (read the same way).
//!
//! State imports neither sources nor stages: they import it.

pub mod changelog;
pub mod crm;
pub mod identity_updates;
pub mod offsets;
