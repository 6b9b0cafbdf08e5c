//! Switchboard runtime: Kafka sources and sinks, topology, state, config,
//! metrics and the CLI. Operators live in `switchboard_operators`.
//! `docs/ARCHITECTURE.md` walks through build → wire → run.

pub mod channel;
pub mod cli;
pub mod config;
pub mod error;
pub mod metrics;
pub mod sink;
pub mod source;
pub mod stage;
pub mod state;
pub mod topology;

pub use error::{PipelineError, Result};
