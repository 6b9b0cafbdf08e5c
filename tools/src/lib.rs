//! Switchboard tooling, kept apart from the runtime (which never imports
//! it): the synthetic data and load generators and the embedded broker.
//! The `switchboard` CLI's `demo`, `bench` and `generate` commands and the
//! tests use them.

pub mod embedded;
pub mod error;
pub mod generate;

pub use error::{Result, ToolsError};
