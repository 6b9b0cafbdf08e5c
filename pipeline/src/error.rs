//! The one error type of the runtime crate. `anyhow` is used only at the
//! binary's edge (`main.rs`).

use std::path::PathBuf;

/// Errors raised by the Switchboard runtime.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A configuration value is invalid; `key` is the dotted path.
    #[error("config key `{key}`: {reason}")]
    Config {
        /// Dotted key, e.g. `kafka.brokers`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration could not be read or deserialised.
    #[error("{0}")]
    ConfigLoad(String),
    /// A Kafka client call failed.
    #[error("kafka: {0}")]
    Kafka(rdkafka::error::KafkaError),
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
    /// An operator failed.
    #[error(transparent)]
    Operator(#[from] switchboard_operators::OperatorError),
    /// Bad command-line input (a value the user typed).
    #[error("{0}")]
    Usage(String),
    /// The pipeline was stopped or a stage ended unexpectedly.
    #[error("pipeline: {0}")]
    Runtime(String),
}

impl PipelineError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A librdkafka configuration error names the property (as a config key)
/// and never its value; any other Kafka error is kept as it is.
impl From<rdkafka::error::KafkaError> for PipelineError {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        match e {
            rdkafka::error::KafkaError::ClientConfig(_, desc, key, value) => {
                let mut reason = desc;
                if !value.is_empty() {
                    reason = reason.replace(&value, crate::config::secrets::MASK);
                }
                PipelineError::Config {
                    key: format!("kafka.properties.\"{key}\""),
                    reason: crate::config::secrets::redact(&reason),
                }
            }
            other => PipelineError::Kafka(other),
        }
    }
}

/// Result alias for runtime code.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
