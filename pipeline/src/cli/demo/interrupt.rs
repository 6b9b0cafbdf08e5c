//! Ctrl-C (SIGINT) and SIGTERM during the demo: the first stops the
//! firehose and the pipeline cleanly and the summary so far is printed;
//! a second one leaves at once (exit 130), removing the temporary CRM
//! directory first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

/// Exit status after a second signal (128 + SIGINT).
pub(super) const EXIT_SECOND_SIGNAL: i32 = 130;

/// Whether a stop was asked for, and by which signal.
#[derive(Clone, Default)]
pub(super) struct Interrupt {
    asked: Arc<AtomicBool>,
    /// 2 for SIGINT, 15 for SIGTERM.
    signal: Arc<AtomicU8>,
}

impl Interrupt {
    /// Listens for SIGINT and SIGTERM on `rt` (the handlers are installed
    /// before this returns). `temp_dir` is removed before a second signal
    /// ends the process.
    pub(super) fn listen(
        rt: &tokio::runtime::Runtime,
        temp_dir: Option<PathBuf>,
    ) -> crate::Result<Self> {
        let _entered = rt.enter();
        let handler = |kind| {
            signal(kind).map_err(|e| crate::PipelineError::Runtime(format!("signal handler: {e}")))
        };
        let (mut int, mut term) = (
            handler(SignalKind::interrupt())?,
            handler(SignalKind::terminate())?,
        );
        let me = Self::default();
        let this = me.clone();
        rt.spawn(async move {
            loop {
                let number = tokio::select! {
                    _ = int.recv() => 2,
                    _ = term.recv() => 15,
                };
                if this.asked() {
                    if let Some(dir) = &temp_dir {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                    std::process::exit(EXIT_SECOND_SIGNAL);
                }
                this.signal.store(number, Ordering::Release);
                this.asked.store(true, Ordering::Release);
            }
        });
        Ok(me)
    }

    /// Whether a signal asked the demo to stop.
    pub(super) fn asked(&self) -> bool {
        self.asked.load(Ordering::Acquire)
    }

    /// The flag the producers stop on.
    pub(super) fn flag(&self) -> Arc<AtomicBool> {
        self.asked.clone()
    }

    /// The signal's name, once one arrived.
    pub(super) fn name(&self) -> Option<&'static str> {
        match self.signal.load(Ordering::Acquire) {
            2 => Some("SIGINT"),
            15 => Some("SIGTERM"),
            _ if self.asked() => Some("a signal"),
            _ => None,
        }
    }
}
