//! `switchboard run --config FILE`: production mode until SIGTERM/SIGINT,
//! then drain in-flight work, commit and leave the group.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::info;

use crate::config::Config;
use crate::metrics::{self, Health};
use crate::topology::Pipeline;

/// Runs the pipeline until a termination signal.
pub fn run(args: super::RunArgs) -> crate::Result<()> {
    let config = Config::load(&args.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("sb-io")
        .build()
        .map_err(|e| crate::PipelineError::Runtime(format!("tokio runtime: {e}")))?;
    let handle = metrics::install();
    let health = Health::new();
    if !config.metrics.addr.is_empty() {
        let (addr, _task) =
            rt.block_on(metrics::serve(&config.metrics.addr, handle, health.clone()))?;
        info!(%addr, "serving /metrics, /healthz, /readyz");
    }
    let stop = Arc::new(AtomicBool::new(false));
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
            info!("signal received: draining");
            stop.store(true, Ordering::Release);
        });
    }
    let pipeline = Pipeline::build(&config, health)?;
    pipeline.run(stop, None)
}
