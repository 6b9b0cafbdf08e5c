//! Runtime state: input offset tracking and the CRM state of the identity
//! join. Window and correlation state (keyed by customer, persisted to
//! changelog topics) will live beside them.

pub mod crm;
pub mod offsets;
