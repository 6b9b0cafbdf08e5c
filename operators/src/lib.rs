//! Switchboard operators: pure functions and state machines over Arrow
//! [`RecordBatch`](arrow::record_batch::RecordBatch)es. No network code lives
//! here; the runtime in the `switchboard` crate wires these into a topology.
//!
//! Data flow (one module per operator):
//! `parse` → `identity_join` → `sentiment` / `classify` / `spam` / `language`
//! → `severity` → `correlate` → `route`.

pub mod classify;
pub mod correlate;
pub mod error;
pub mod identity_join;
pub mod incident;
pub mod language;
pub mod parse;
pub mod repartition;
pub mod route;
pub mod schema;
pub mod sentiment;
pub mod severity;
pub mod spam;

pub use error::{OperatorError, Result};
