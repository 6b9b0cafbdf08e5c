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
    /// A CRM snapshot version (or one of its files) could not be loaded.
    #[error("snapshot {}: {reason}", path.display())]
    Snapshot {
        /// The directory or file at fault.
        path: std::path::PathBuf,
        /// Bounded failure code for metrics: `missing_file`,
        /// `missing_column`, `wrong_type`, `empty` or `unreadable` (corrupt
        /// file, I/O or DataFusion error, bad directory name).
        code: &'static str,
        /// What is wrong, naming the column where relevant.
        reason: String,
    },
    /// An input batch lacks a column or has the wrong type.
    #[error("input batch: {0}")]
    Input(String),
    /// An operator was configured with an invalid value.
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// The offending key, dotted (`parse.max_record_bytes`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl OperatorError {
    /// The bounded failure code of a [`OperatorError::Snapshot`] error
    /// (`missing_file`, `missing_column`, `wrong_type`, `empty`,
    /// `unreadable`); `None` for other errors.
    pub fn snapshot_code(&self) -> Option<&'static str> {
        match self {
            Self::Snapshot { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A [`OperatorError::Config`] for `key` (dotted, e.g. `route.rules[2].when`).
pub(crate) fn config_err(key: impl Into<String>, reason: impl Into<String>) -> OperatorError {
    OperatorError::Config {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Result alias for operator code.
pub type Result<T, E = OperatorError> = std::result::Result<T, E>;
