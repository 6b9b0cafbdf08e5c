//! Switchboard operators: pure functions and state machines over Arrow
//! [`RecordBatch`](arrow::record_batch::RecordBatch)es. No network code lives
//! here; the runtime in the `switchboard` crate wires these into stages.
//!
//! Data flow (one module per operator, in the order the runtime runs them):
//!
//! ```text
//! parse ─► language ─► sentiment ─► classify ─► identity_join ─► severity ─► abuse   (stateless, every source worker)
//!       ─► [repartition by customer] ─► spam ─► incident ─► route ─► correlate (stateful, one owner)
//! ```
//!
//! Every operator has the one shape of [`operator`]: [`operator::Operator`]
//! (batch in, batch out) or [`operator::StatefulOperator`] (batches, event
//! time, checkpoints), a name, and a config that validates itself and
//! builds it. The modules under "shared" are what operators build on; they
//! import no operator.

// ---- shared: what operators build on (they import no operator)
mod columns;
pub mod error;
pub mod operator;
pub mod panic_guard;
pub mod schema;
mod text;
pub mod time;

// ---- operators, in data-flow order (rustfmt keeps groups apart)

// Raw record bytes → mention rows.
pub mod parse;

// Language of each mention.
pub mod language;

// VADER sentiment with the telco layer.
pub mod sentiment;

// Categories of the SPEC taxonomy.
pub mod classify;

// The CRM customer, as of the mention's time.
pub mod identity_join;

// Points, priority, severity and their reasons.
pub mod severity;

// Threats, insults and profanity flagged in the reasons (agent safety).
pub mod abuse;

// The keyed stage's partitioning (by customer).
pub mod repartition;

// Spam and bot verdicts (a counted drop).
pub mod spam;

// Regional outage spikes.
pub mod incident;

// The queue of each mention.
pub mod route;

// Work items: one per customer issue, revised as it develops.
pub mod correlate;

/// The operators' names: the bounded `operator` label of the runtime's
/// per-operator metrics, in pipeline order (also [`operator::names`]). A
/// new operator adds its module above and its name here.
pub mod names {
    /// [`crate::language::LanguageDetector`].
    pub const LANGUAGE: &str = "language";
    /// [`crate::sentiment::SentimentAnalyzer`].
    pub const SENTIMENT: &str = "sentiment";
    /// [`crate::classify::Classifier`].
    pub const CLASSIFY: &str = "classify";
    /// [`crate::identity_join::IdentityJoin`].
    pub const IDENTITY_JOIN: &str = "identity_join";
    /// [`crate::severity::Severity`].
    pub const SEVERITY: &str = "severity";
    /// [`crate::abuse::AbuseFlagger`].
    pub const ABUSE: &str = "abuse";
    /// [`crate::spam::SpamDetector`].
    pub const SPAM: &str = "spam";
    /// [`crate::incident::IncidentDetector`].
    pub const INCIDENT: &str = "incident";
    /// [`crate::route::Router`].
    pub const ROUTE: &str = "route";
    /// [`crate::correlate::Correlator`].
    pub const CORRELATE: &str = "correlate";
    /// Every name, in pipeline order.
    pub const ALL: [&str; 10] = [
        LANGUAGE,
        SENTIMENT,
        CLASSIFY,
        IDENTITY_JOIN,
        SEVERITY,
        ABUSE,
        SPAM,
        INCIDENT,
        ROUTE,
        CORRELATE,
    ];
}

pub use error::{OperatorError, Result};
pub use operator::{EventClock, Operator, StatefulOperator};

// The cargo-fuzz targets' entry points (also replayed by `cargo test`).
#[doc(hidden)]
pub mod fuzzing;
