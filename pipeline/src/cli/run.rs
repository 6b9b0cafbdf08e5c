//! `switchboard run --config FILE`: production mode until SIGTERM/SIGINT,
//! then drain in-flight work, commit and leave the group.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info};

use crate::config::Config;
use crate::metrics::{self, Health};
use crate::topology::Pipeline;

/// Runs the pipeline until a termination signal.
pub fn run(args: super::RunArgs) -> crate::Result<()> {
    let config = Config::load(&args.config)?;
    let rt = metrics::io_runtime()?;
    let handle = metrics::install();
    let health = Health::new();
    if !config.metrics.addr.is_empty() {
        let (addr, _task) =
            rt.block_on(metrics::serve(&config.metrics.addr, handle, health.clone()))?;
        info!(%addr, "serving /metrics, /healthz, /readyz");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let shutdown_timeout = Duration::from_millis(config.pipeline.shutdown_timeout_ms);
    {
        let stop = stop.clone();
        rt.spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            info!(
                timeout_ms = shutdown_timeout.as_millis() as u64,
                "signal received: draining"
            );
            stop.store(true, Ordering::Release);
            // The hard bound: a drain that cannot finish (broker gone, output
            // stuck) must not keep the instance from being replaced.
            tokio::time::sleep(shutdown_timeout).await;
            error!(
                timeout_ms = shutdown_timeout.as_millis() as u64,
                "shutdown timeout: exiting with uncommitted input (it is reprocessed)"
            );
            std::process::exit(EXIT_SHUTDOWN_TIMEOUT);
        });
    }
    let pipeline = Pipeline::build(&config, health)?;
    let stats = pipeline.stats();
    let result = pipeline.run(stop, None);
    // One line with what this instance did, for operators and for the
    // multi-process tests that account for every input record.
    let t = stats.work_items();
    let events: u64 = t.by_action.values().sum();
    info!(
        records_in = stats.records_in.load(Ordering::Relaxed),
        mentions = stats.mentions.load(Ordering::Relaxed),
        dlq = stats.dlq_total(),
        non_actionable = stats.non_actionable.load(Ordering::Relaxed),
        spam_dropped = stats.spam_dropped.load(Ordering::Relaxed),
        mentions_correlated = t.mentions_correlated,
        duplicate_mentions = t.duplicate_mentions,
        contacts_in = stats.contacts_in.load(Ordering::Relaxed),
        contacts_rejected = stats.contacts_rejected.load(Ordering::Relaxed),
        work_item_events = events,
        "pipeline stopped"
    );
    result
}

/// Exit status when a graceful shutdown overran `pipeline.shutdown_timeout_ms`.
pub const EXIT_SHUTDOWN_TIMEOUT: i32 = 3;
