//! The one error type of the operators crate.
//!
//! A malformed mention is *data* (see [`crate::parse::Rejection`]) and never
//! an `Err`: these errors are for programming and configuration faults only.

/// Errors raised by operators.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Building or reading an Arrow batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// An operator was configured with an invalid value.
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// The offending key, dotted (`parse.max_record_bytes`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result alias for operator code.
pub type Result<T, E = OperatorError> = std::result::Result<T, E>;
