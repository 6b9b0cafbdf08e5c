//! The loops without operators (`consume`, `limit`) and the pipeline
//! loops, and how a loop's rate is measured: its steady state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use simd_json::{Buffers, Tape};

use crate::config::Config;
use crate::metrics::Health;
use crate::source::batch::MessageBatch;
use crate::source::kafka::{KafkaSource, WorkerHandler};
use crate::state::offsets::OffsetTracker;
use crate::topology::{wait_until, Pipeline};

/// Counts records seen by a bench handler.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) records: AtomicU64,
    parsed: AtomicU64,
}

/// The `consume` loop: the source's batched poll only.
pub(super) struct ConsumeOnly {
    pub(super) progress: Arc<Progress>,
    pub(super) sink: u64,
}

impl WorkerHandler for ConsumeOnly {
    fn on_batch(&mut self, batch: &mut MessageBatch, _t: &Arc<OffsetTracker>) {
        let mut n = 0;
        batch.for_each(|m, _| {
            if let Ok(m) = m {
                // Touch the payload so the loop cannot skip reading it.
                self.sink = self.sink.wrapping_add(
                    m.payload.len() as u64 + m.payload.first().copied().unwrap_or(0) as u64,
                );
                n += 1;
            }
        });
        self.progress.records.fetch_add(n, Ordering::Relaxed);
    }
    fn on_tick(&mut self, _: Instant, _: &Arc<OffsetTracker>) {}
    fn on_stop(&mut self, _: &Arc<OffsetTracker>) {
        std::hint::black_box(self.sink);
    }
}

/// The `limit` loop: the same poll, each payload parsed to a simd-json
/// tape with reused buffers.
pub(super) struct LimitLoop {
    pub(super) progress: Arc<Progress>,
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl LimitLoop {
    pub(super) fn new(progress: Arc<Progress>) -> Self {
        Self {
            progress,
            scratch: Vec::with_capacity(64 * 1024),
            buffers: Buffers::new(4096),
            tape: Some(Tape::null()),
        }
    }
}

impl LimitLoop {
    /// Parses every message of the batch; returns how many were read.
    pub(super) fn parse_batch(&mut self, batch: &mut MessageBatch) -> u64 {
        let (mut n, mut ok) = (0u64, 0u64);
        batch.for_each(|m, _| {
            let Ok(m) = m else { return };
            n += 1;
            let len = m.payload.len();
            self.scratch.clear();
            self.scratch.extend_from_slice(m.payload);
            self.scratch.resize(len + simd_json::INPUT_PADDING, 0);
            let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
            if simd_json::fill_tape_padded(&mut self.scratch, len, &mut self.buffers, &mut tape)
                .is_ok()
            {
                ok += 1;
                std::hint::black_box(tape.0.len());
            }
            self.tape = Some(tape.reset());
        });
        self.progress.parsed.fetch_add(ok, Ordering::Relaxed);
        n
    }
}

impl WorkerHandler for LimitLoop {
    fn on_batch(&mut self, batch: &mut MessageBatch, _t: &Arc<OffsetTracker>) {
        let n = self.parse_batch(batch);
        self.progress.records.fetch_add(n, Ordering::Relaxed);
    }
    fn on_tick(&mut self, _: Instant, _: &Arc<OffsetTracker>) {}
    fn on_stop(&mut self, _: &Arc<OffsetTracker>) {}
}

/// Watches a record counter until `total` and returns the steady-state rate:
/// records between 10 % and 90 % of `total` divided by the time between the
/// two crossings. Warm-up (group join, first fetches) and drain (last
/// partial batches) are excluded the same way for every loop. When both
/// crossings fall in one poll, the rate over the whole wait instead.
pub(super) fn steady_rate(total: u64, count: impl Fn() -> u64, timeout: Duration) -> Option<f64> {
    let (lo, hi) = (total / 10, total - total / 10);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut t_lo = None;
    loop {
        let n = count();
        let now = Instant::now();
        if t_lo.is_none() && n >= lo {
            t_lo = Some((now, n));
        }
        if n >= hi {
            let (t0, n0) = t_lo.unwrap_or((now, n));
            let secs = now.duration_since(t0).as_secs_f64();
            return Some(if secs > 0.0 && n > n0 {
                (n - n0) as f64 / secs
            } else {
                // The middle 80 % arrived in one poll (a small input on a
                // real broker: one fetch held it all): the rate over the
                // whole wait, start-up included, a lower bound.
                n as f64 / now.duration_since(start).as_secs_f64().max(1e-6)
            });
        }
        if now >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Runs a bare loop (handlers made by `make`) over `total` records of the
/// mention topic; returns its steady rate.
pub(super) fn run_bare<H: WorkerHandler + 'static>(
    config: &Config,
    group: &str,
    total: u64,
    make: impl Fn(Arc<Progress>) -> H,
) -> crate::Result<f64> {
    let progress = Arc::new(Progress::default());
    let workers = config.source.worker_count();
    let source = KafkaSource::subscribe(
        config,
        group,
        &[config.topics.mentions.as_str()],
        workers,
        Health::new(),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (progress, stop) = (progress.clone(), stop.clone());
        std::thread::spawn(move || {
            let rate = steady_rate(
                total,
                || progress.records.load(Ordering::Relaxed),
                Duration::from_secs(300),
            );
            let all = wait_until(Duration::from_secs(60), || {
                progress.records.load(Ordering::Relaxed) >= total
            });
            stop.store(true, Ordering::Release);
            rate.filter(|_| all)
        })
    };
    let p = progress.clone();
    source.run(
        stop,
        config.source.max_poll_records,
        move |_| make(p.clone()),
        |_| {},
    )?;
    watcher.join().ok().flatten().ok_or_else(|| {
        crate::PipelineError::Runtime(format!(
            "{group}: read only {} of {total} records",
            progress.records.load(Ordering::Relaxed)
        ))
    })
}

/// One pipeline loop: its steady rate, and the mention rows its stateful
/// stage saw.
pub(super) fn run_pipeline(
    config: &Config,
    group: &str,
    total: u64,
    enrich: bool,
    join: bool,
    work_items: bool,
) -> crate::Result<(f64, u64)> {
    let mut config = config.clone();
    config.kafka.group_id = group.to_string();
    config.pipeline.enrich = enrich;
    config.pipeline.work_items = work_items;
    if !join {
        config.identity.snapshot_dir = String::new();
    }
    let pipeline = Pipeline::build(&config, Health::new())?;
    let stats = pipeline.stats();
    let tracker = pipeline.tracker();
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = stop.clone();
        std::thread::spawn(move || pipeline.run(stop, None))
    };
    let rate = steady_rate(
        total,
        || stats.records_in.load(Ordering::Relaxed),
        Duration::from_secs(300),
    );
    // Not timed, but required: every record processed and acknowledged.
    let ok = wait_until(Duration::from_secs(60), || {
        stats.records_in.load(Ordering::Relaxed) >= total && tracker.in_flight() == 0
    });
    stop.store(true, Ordering::Release);
    runner
        .join()
        .map_err(|_| crate::PipelineError::Runtime("pipeline panicked".into()))??;
    match rate {
        Some(r) if ok => Ok((r, stats.mentions_out.load(Ordering::Relaxed))),
        _ => Err(crate::PipelineError::Runtime(format!(
            "pipeline read only {} of {total} records",
            stats.records_in.load(Ordering::Relaxed)
        ))),
    }
}
