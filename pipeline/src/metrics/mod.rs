//! Every metric Switchboard exports is named in this module, and only here
//! ([`names`]): `switchboard_<area>_<name>_<unit>[_total]`. Labels take
//! small fixed value sets (stage, format, reason, topic, partition), never
//! ids or handles.
//!
//! - [`handles`]: pre-resolved handles of the hot paths;
//! - [`stats`]: each pipeline's own totals ([`PipelineStats`]), counted
//!   together with the exported counters through [`Tally`];
//! - [`exposition`]: the text format read back (demo summary, `top`);
//! - [`health`]: liveness, readiness and the `/metrics`, `/healthz` and
//!   `/readyz` endpoints.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

mod describe;
pub mod exposition;
pub mod handles;
pub mod health;
pub mod names;
pub mod panics;
pub mod stats;

pub use handles::{SourceMetrics, StatefulStageCounters, WorkerStageCounters};
pub use health::{io_runtime, serve, Health};
pub use names::*;
pub use stats::{PipelineStats, Tally, Total, WorkItemTotals};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Histogram buckets (seconds) of long operations: snapshot loads and
/// keyed-stage restores, from 10 ms to 20 minutes.
pub const LONG_OPERATION_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
];

/// Installs the Prometheus recorder once per process and describes every
/// metric. Later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ])
                .expect("static buckets are valid")
                // A row count, not seconds: the default buckets would put
                // every batch in +Inf.
                .set_buckets_for_metric(
                    Matcher::Full(STAGE_BATCH_ROWS.to_string()),
                    &[
                        1.0, 16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 65536.0,
                    ],
                )
                .expect("static buckets are valid")
                // Long operations (a snapshot load, a partition restore)
                // take seconds to minutes: the default set would put them
                // in +Inf.
                .set_buckets_for_metric(
                    Matcher::Full(IDENTITY_SNAPSHOT_LOAD_DURATION.to_string()),
                    LONG_OPERATION_BUCKETS,
                )
                .expect("static buckets are valid")
                .set_buckets_for_metric(
                    Matcher::Full(STATE_RESTORE_DURATION.to_string()),
                    LONG_OPERATION_BUCKETS,
                )
                .expect("static buckets are valid")
                .install_recorder()
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle());
            describe::describe();
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            // Exported at 0 from the start, so that `increase()` sees the
            // first event (a series born at 1 shows no increase).
            for action in ["opened", "closed"] {
                metrics::counter!(INCIDENT_EVENTS, "action" => action).absolute(0);
            }
            for op in switchboard_operators::operator::names::ALL {
                metrics::counter!(OPERATOR_ROWS_IN, "operator" => op).absolute(0);
                metrics::counter!(OPERATOR_ROWS_OUT, "operator" => op).absolute(0);
                metrics::gauge!(OPERATOR_BUSY, "operator" => op).increment(0.0);
            }
            // The keyed stage's, for its dashboard panels (0 while it is off).
            for result in ["committed", "aborted"] {
                metrics::counter!(STATE_TRANSACTIONS, "result" => result).absolute(0);
            }
            metrics::counter!(STATE_RESTORED_RECORDS).absolute(0);
            for kind in ["mention", "contact"] {
                metrics::counter!(CORRELATE_DUPLICATES, "kind" => kind).absolute(0);
            }
            use switchboard_operators::identity_join::snapshot_code as code;
            for reason in [
                code::MISSING_FILE,
                code::MISSING_COLUMN,
                code::WRONG_TYPE,
                code::EMPTY,
                code::UNREADABLE,
            ] {
                metrics::counter!(IDENTITY_SNAPSHOT_LOAD_FAILURES, "reason" => reason).absolute(0);
            }
            handle
        })
        .clone()
}
