//! `switchboard bench`: one run, one embedded broker, one data set, three
//! loops measured in turn (and repeated, medians reported):
//!
//! - `consume`: the source's batched poll only (touch each payload);
//! - `limit`: the fastest bare consume-and-parse loop — the same batched
//!   poll on the same worker threads, each payload copied into a reused
//!   padded buffer and parsed to a simd-json tape with reused buffers, no
//!   per-record allocation;
//! - `pipeline, ingest only`: the real topology with enrichment off (parse
//!   to Arrow, DLQ, downstream stage, offset tracking and commits, metrics);
//! - `pipeline, ingest + identity join`: the same plus the as-of identity
//!   join against a generated CRM snapshot (`--customers`);
//! - `pipeline, + enrichment`: + language, sentiment, category and spam
//!   (`pipeline.work_items = false`);
//! - `pipeline, full`: the real topology with every operator, producing
//!   work items (and incidents) to their topics.
//!
//! Each loop's rate is its steady state: records between 10 % and 90 % of
//! the data set over the time between those two points, so the group join
//! and the last partial batches count the same (not at all) for every loop.
//! The ratios pipeline/limit and limit/consume are what the targets are
//! stated in; absolute rates depend on the machine and its neighbours.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use simd_json::{Buffers, Tape};

use super::fmt_count;
use crate::config::Config;
use crate::embedded::EmbeddedKafka;
use crate::generate::mentions::{MentionGenConfig, MentionGenerator};
use crate::metrics::Health;
use crate::source::kafka::{KafkaSource, MessageBatch, WorkerHandler};
use crate::state::offsets::OffsetTracker;
use crate::topology::{wait_until, Pipeline};

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Records produced once and read by every loop.
    #[arg(long, default_value_t = 300_000)]
    pub records: u64,
    /// Partitions of the bench topic. The embedded broker keeps about 5 MB per
    /// partition, so records × ~1 KB must fit in partitions × 5 MB.
    #[arg(long, default_value_t = 96)]
    pub partitions: i32,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Repetitions of each loop; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Customers in the generated CRM snapshot (the firehose's authors are
    /// drawn from the same customers, about 80 % of them known).
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Also print one JSON line with the figures.
    #[arg(long)]
    pub json: bool,
}

/// Counts records seen by a bench handler.
#[derive(Default)]
struct Progress {
    records: AtomicU64,
    parsed: AtomicU64,
}

struct ConsumeOnly {
    progress: Arc<Progress>,
    sink: u64,
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

struct LimitLoop {
    progress: Arc<Progress>,
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl LimitLoop {
    fn new(progress: Arc<Progress>) -> Self {
        Self {
            progress,
            scratch: Vec::with_capacity(64 * 1024),
            buffers: Buffers::new(4096),
            tape: Some(Tape::null()),
        }
    }
}

impl WorkerHandler for LimitLoop {
    fn on_batch(&mut self, batch: &mut MessageBatch, _t: &Arc<OffsetTracker>) {
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
        self.progress.records.fetch_add(n, Ordering::Relaxed);
        self.progress.parsed.fetch_add(ok, Ordering::Relaxed);
    }
    fn on_tick(&mut self, _: Instant, _: &Arc<OffsetTracker>) {}
    fn on_stop(&mut self, _: &Arc<OffsetTracker>) {}
}

/// Watches a record counter until `total` and returns the steady-state rate:
/// records between 10 % and 90 % of `total` divided by the time between the
/// two crossings. Warm-up (group join, first fetches) and drain (last
/// partial batches) are excluded the same way for every loop.
fn steady_rate(total: u64, count: impl Fn() -> u64, timeout: Duration) -> Option<f64> {
    let (lo, hi) = (total / 10, total - total / 10);
    let deadline = Instant::now() + timeout;
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
            return Some(if secs > 0.0 {
                (n - n0) as f64 / secs
            } else {
                f64::NAN
            });
        }
        if now >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn run_bare<H: WorkerHandler + 'static>(
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

fn run_pipeline(
    config: &Config,
    group: &str,
    total: u64,
    enrich: bool,
    join: bool,
    work_items: bool,
) -> crate::Result<f64> {
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
        Some(r) if ok => Ok(r),
        _ => Err(crate::PipelineError::Runtime(format!(
            "pipeline read only {} of {total} records",
            stats.records_in.load(Ordering::Relaxed)
        ))),
    }
}

/// A fresh directory under the system temp dir, named after the process.
fn tempfile_dir(prefix: &str) -> crate::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| crate::PipelineError::io(&d, e))?;
    Ok(d)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// Runs the bench and prints the rates and ratios.
pub fn run(args: BenchArgs) -> crate::Result<()> {
    if args.records == 0 || args.runs == 0 {
        return Err(crate::PipelineError::Usage(
            "--records and --runs must be at least 1".into(),
        ));
    }
    let kafka = EmbeddedKafka::start(1)?;
    let mut config = Config::default();
    config.kafka.brokers = kafka.bootstrap_servers();
    config.source.workers = args.workers;
    config.metrics.addr = String::new();
    config.topics.mentions = "bench-mentions".into();
    config.topics.dlq = "bench-mentions-dlq".into();
    kafka.create_topic(&config.topics.mentions, args.partitions)?;
    kafka.create_topic(&config.topics.dlq, args.partitions)?;
    config.topics.crm_contacts = "bench-crm-contacts".into();
    config.topics.work_items = "bench-work-items".into();
    config.topics.incidents = "bench-incidents".into();
    config.topics.crm_identity_updates = "bench-crm-identity-updates".into();
    kafka.create_topic(&config.topics.crm_contacts, 4)?;
    // Work items are about as many as mentions: spread them like the input.
    kafka.create_topic(&config.topics.work_items, args.partitions)?;
    kafka.create_topic(&config.topics.incidents, 1)?;
    let _ = crate::metrics::install();

    let crm_dir = tempfile_dir("switchboard-bench-crm")?;
    let t = Instant::now();
    crate::generate::crm::write_crm_snapshot(
        &crm_dir,
        &crate::generate::crm::CrmGenConfig {
            customers: args.customers,
            seed: args.seed,
            valid_from: chrono::Utc::now() - chrono::Duration::days(1),
        },
    )?;
    eprintln!(
        "bench: CRM snapshot of {} customers written in {:.1}s",
        fmt_count(args.customers as u64),
        t.elapsed().as_secs_f64()
    );
    config.identity.snapshot_dir = crm_dir.display().to_string();
    config.identity.read_updates = false;
    let gen_cfg = MentionGenConfig {
        seed: args.seed,
        customers: args.customers,
        start_ms: chrono::Utc::now().timestamp_millis(),
        ..MentionGenConfig::default()
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let b2 = bytes.clone();
    // Keyed by sequence number, so the records spread evenly over the
    // partitions (authors are skewed, and unkeyed records are batched into one
    // partition at a time: either would overfill partitions of the embedded broker).
    let mut seq = 0u64;
    let gen = MentionGenerator::new(gen_cfg).map(move |mut r| {
        b2.fetch_add(r.payload.len() as u64, Ordering::Relaxed);
        seq += 1;
        r.key = Some(seq.to_string().into_bytes());
        r
    });
    let t = Instant::now();
    let sent = crate::generate::kafka::produce_to_topic(
        &config.kafka.brokers,
        &config.topics.mentions,
        gen,
        args.records,
        None,
    )?;
    let avg = bytes.load(Ordering::Relaxed) as f64 / sent.max(1) as f64;
    kafka.check_retained(&config.topics.mentions, args.partitions)?;
    eprintln!(
        "bench: {} records ({avg:.0} bytes on average) in {} partitions, produced in {:.1}s; {} worker(s); {} run(s) each",
        fmt_count(sent),
        args.partitions,
        t.elapsed().as_secs_f64(),
        config.source.worker_count(),
        args.runs
    );

    let (mut consume, mut limit, mut ingest, mut joined, mut enriched, mut full) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for run in 0..args.runs {
        let c = run_bare(&config, &format!("bench-consume-{run}"), sent, |p| {
            ConsumeOnly {
                progress: p,
                sink: 0,
            }
        })?;
        let l = run_bare(&config, &format!("bench-limit-{run}"), sent, LimitLoop::new)?;
        let g = |name: &str| format!("bench-{name}-{run}");
        let i = run_pipeline(&config, &g("ingest"), sent, false, false, false)?;
        let j = run_pipeline(&config, &g("join"), sent, false, true, false)?;
        let e = run_pipeline(&config, &g("enrich"), sent, true, true, false)?;
        let f = run_pipeline(&config, &g("full"), sent, true, true, true)?;
        eprintln!(
            "  run {}: consume {:>9}/s  limit {:>9}/s  ingest {:>9}/s  +join {:>9}/s  +enrich {:>9}/s  full {:>9}/s",
            run + 1,
            fmt_count(c as u64),
            fmt_count(l as u64),
            fmt_count(i as u64),
            fmt_count(j as u64),
            fmt_count(e as u64),
            fmt_count(f as u64)
        );
        consume.push(c);
        limit.push(l);
        ingest.push(i);
        joined.push(j);
        enriched.push(e);
        full.push(f);
    }
    let _ = std::fs::remove_dir_all(&crm_dir);
    let (c, l, i, j, e, f) = (
        median(&consume),
        median(&limit),
        median(&ingest),
        median(&joined),
        median(&enriched),
        median(&full),
    );
    println!(
        "records/s (median of {} runs, {} records of {avg:.0} B avg):",
        args.runs,
        fmt_count(sent)
    );
    println!("  consume-only              {:>12}", fmt_count(c as u64));
    println!("  limit loop                {:>12}", fmt_count(l as u64));
    println!(
        "  pipeline, ingest only     {:>12}   (parse to Arrow, DLQ, offset tracking, commits)",
        fmt_count(i as u64)
    );
    println!(
        "  pipeline, + identity join {:>12}   (ingest + as-of CRM join)",
        fmt_count(j as u64)
    );
    println!(
        "  pipeline, + enrichment    {:>12}   (+ language, sentiment, category, spam)",
        fmt_count(e as u64)
    );
    println!(
        "  pipeline, full            {:>12}   (+ severity, incidents, routing, correlation, work-item sink)",
        fmt_count(f as u64)
    );
    println!("  ingest/limit              {:>11.1} %", 100.0 * i / l);
    println!("  ingest+join/limit         {:>11.1} %", 100.0 * j / l);
    println!("  +enrichment/limit         {:>11.1} %", 100.0 * e / l);
    println!("  full/limit                {:>11.1} %", 100.0 * f / l);
    println!("  limit/consume             {:>11.1} %", 100.0 * l / c);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"records": sent, "avg_bytes": avg, "runs": args.runs, "consume_per_s": c, "limit_per_s": l,
                "ingest_per_s": i, "join_per_s": j, "enrich_per_s": e, "full_per_s": f, "ingest_over_limit": i / l, "join_over_limit": j / l, "enrich_over_limit": e / l,
                "full_over_limit": f / l, "limit_over_consume": l / c,
                "consume_runs": consume, "limit_runs": limit, "ingest_runs": ingest, "join_runs": joined, "enrich_runs": enriched, "full_runs": full})
        );
    }
    drop(kafka);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
