//! Runtime state. Today: input offset tracking. Window and correlation state
//! (keyed by customer, persisted to changelog topics) will live beside it.

pub mod offsets;
