//! The one error type of the tooling crate.

use std::path::PathBuf;

/// Errors raised by the generators and the embedded broker.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// A Kafka client call failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// File I/O failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Arrow failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A generator or the broker could not do what was asked.
    #[error("{0}")]
    Runtime(String),
}

impl ToolsError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ToolsError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for tooling code.
pub type Result<T, E = ToolsError> = std::result::Result<T, E>;
