//! `switchboard demo`: an embedded broker, synthetic CRM and firehose
//! (`producers.rs`), the whole pipeline as it exists today, a live status
//! line (`progress.rs`), `/metrics`, a summary (`summary.rs`) of what the
//! pipeline did and produced (`observed.rs`). Ctrl-C or SIGTERM stops it
//! cleanly with the summary so far (`interrupt.rs`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use switchboard_operators::incident::DENSE_MENTIONS_PER_WINDOW;
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};

use crate::cli::format::fmt_count;
use crate::config::{Config, TopicsConfig};
use crate::metrics::exposition::Scrape;
use crate::metrics::{self, Health, PipelineStats};
use crate::state::crm::CrmState;
use crate::state::offsets::OffsetTracker;
use crate::topology::{wait_until, Pipeline};
use interrupt::Interrupt;
use producers::Producers;
use progress::Progress;

mod interrupt;
mod observed;
mod producers;
mod progress;
mod summary;

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to produce the firehose (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = super::format::parse_duration)]
    pub duration: Duration,
    /// Mentions produced per second.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Customers in the synthetic CRM.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9898")]
    pub metrics_addr: String,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Partitions of the mentions topic (the embedded broker keeps about 5 MB
    /// per partition, so more partitions tolerate more lag).
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// Where to write the CRM snapshot (default: a temporary directory).
    #[arg(long)]
    pub crm_dir: Option<PathBuf>,
}

/// Creates the topics of a pipeline on the embedded broker: the inputs and
/// outputs with `partitions` partitions, `incidents` with one (the demo's
/// layout, also the tests').
pub fn create_topics(
    kafka: &EmbeddedKafka,
    topics: &TopicsConfig,
    partitions: i32,
) -> crate::Result<()> {
    let t = topics;
    kafka.create_topics(
        &[
            &t.mentions,
            &t.dlq,
            &t.crm_contacts,
            &t.crm_identity_updates,
            &t.work_items,
        ],
        partitions,
    )?;
    kafka.create_topic(&t.incidents, 1)?;
    Ok(())
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> crate::Result<()> {
    if args.rate == 0 {
        return Err(crate::PipelineError::Usage(
            "--rate must be at least 1".into(),
        ));
    }
    let rt = metrics::io_runtime()?;
    let handle = metrics::install();
    let health = Health::new();
    let (addr, _server) = rt.block_on(metrics::serve(
        &args.metrics_addr,
        handle.clone(),
        health.clone(),
    ))?;
    let crm_dir = CrmDir::new(args.crm_dir.clone())?;
    let interrupt = Interrupt::listen(&rt, crm_dir.temporary())?;

    let kafka = EmbeddedKafka::start(1)?;
    let mut config = demo_config(&args, &kafka, &addr.to_string());
    create_topics(&kafka, &config.topics, args.partitions)?;
    let t = Instant::now();
    let now = chrono::Utc::now();
    let version = write_snapshot(&args, crm_dir.path(), now - chrono::Duration::days(1))?;
    print_header(&args, &config, &addr.to_string(), &version, t.elapsed());

    config.identity.snapshot_dir = crm_dir.path().display().to_string();
    config.identity.poll_interval_ms = 1000;
    let mut pipeline = Pipeline::build(&config, health.clone())?;
    let crm = pipeline.crm();
    let observed = Arc::new(observed::Observed::default());
    let (observers, batch_observer) = observed.observers();
    pipeline.observe(observers);
    let stats = pipeline.stats();
    let tracker = pipeline.tracker();
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = stop.clone();
        std::thread::spawn(move || pipeline.run(stop, Some(batch_observer)))
    };
    let fed = drive(
        &Driven {
            args: &args,
            config: &config,
            crm_dir: crm_dir.path(),
            health: &health,
            interrupt: &interrupt,
            tracker: &tracker,
            start_ms: now.timestamp_millis(),
        },
        stats.clone(),
        crm.clone(),
    );
    // Stopped on every way out of `drive`: the pipeline drains what is in
    // flight and commits.
    stop.store(true, Ordering::Release);
    let ran = runner
        .join()
        .map_err(|_| crate::PipelineError::Runtime("pipeline thread panicked".into()))?;
    let fed = fed?;
    ran?;

    summary::print(&summary::Run {
        sent: fed.sent,
        elapsed: fed.elapsed,
        caught_up: fed.caught_up,
        interrupted: interrupt.name(),
        stats: &stats,
        crm: crm.as_deref(),
        second_version: fed.second_version,
        observed: &observed,
        scrape: &Scrape::parse(&handle.render()),
    });
    drop(kafka);
    Ok(())
}

/// Where the CRM snapshots go: the directory `--crm-dir` names, or a
/// temporary `switchboard-demo-crm-<pid>-…` removed on every way out
/// (errors and signals included).
enum CrmDir {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl CrmDir {
    fn new(given: Option<PathBuf>) -> crate::Result<Self> {
        match given {
            Some(dir) => Ok(Self::Given(dir)),
            None => tempfile::Builder::new()
                .prefix(&format!("switchboard-demo-crm-{}-", std::process::id()))
                .tempdir()
                .map(Self::Temporary)
                .map_err(|e| crate::PipelineError::io(std::env::temp_dir(), e)),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Self::Given(dir) => dir,
            Self::Temporary(t) => t.path(),
        }
    }

    /// The directory to remove, when it is a temporary one.
    fn temporary(&self) -> Option<PathBuf> {
        match self {
            Self::Given(_) => None,
            Self::Temporary(t) => Some(t.path().to_path_buf()),
        }
    }
}

/// What [`drive`] works with.
struct Driven<'a> {
    args: &'a DemoArgs,
    config: &'a Config,
    crm_dir: &'a Path,
    health: &'a Health,
    interrupt: &'a Interrupt,
    tracker: &'a OffsetTracker,
    /// Event time of the first mention.
    start_ms: i64,
}

/// What the firehose did.
struct Fed {
    /// Mentions produced.
    sent: u64,
    /// From the first record produced until the pipeline caught up (or a
    /// signal stopped the demo).
    elapsed: Duration,
    caught_up: bool,
    second_version: Option<(PathBuf, f64)>,
}

/// Waits for the pipeline to join its group, produces the firehose with
/// the live line running, then waits (at most 60 s) for the pipeline to
/// catch up; a signal cuts each step short.
fn drive(
    d: &Driven<'_>,
    stats: Arc<PipelineStats>,
    crm: Option<Arc<CrmState>>,
) -> crate::Result<Fed> {
    let interrupt = d.interrupt;
    // Produce only once the pipeline holds its partitions: the embedded
    // broker's retention is small, records must not age out before the join.
    if !wait_until(Duration::from_secs(60), || {
        d.health.is_ready() || interrupt.asked()
    }) {
        return Err(crate::PipelineError::Runtime(
            "the pipeline did not join its consumer group within 60 s".into(),
        ));
    }
    let plan = producers::Plan {
        rate: d.args.rate,
        duration: d.args.duration,
        seed: d.args.seed,
        customers: d.args.customers,
    };
    let producers = Producers::start(&plan, d.config, d.start_ms, interrupt.flag());
    let mut progress = Progress::new(progress::Sources {
        stats: stats.clone(),
        crm,
        produced: producers.produced.clone(),
    });
    let second_version = feed(d.args, d.crm_dir, &producers, &mut progress, interrupt)?;
    if let Some(signal) = interrupt.name() {
        progress.note(&format!(
            "{signal}: stopping the firehose and the pipeline; the summary follows (again to quit at once)"
        ));
    }
    let (sent, contacts_sent) = producers.join()?;
    let caught_up = wait_until(Duration::from_secs(60), || {
        progress.tick();
        interrupt.asked()
            || (stats.records_in.load(Ordering::Relaxed) >= sent
                && stats.contacts_in.load(Ordering::Relaxed)
                    + stats.contacts_rejected.load(Ordering::Relaxed)
                    >= contacts_sent
                && d.tracker.in_flight() == 0)
    }) && !interrupt.asked();
    let elapsed = progress.start.elapsed();
    progress.finish();
    Ok(Fed {
        sent,
        elapsed,
        caught_up,
        second_version,
    })
}

/// The demo's config: the embedded broker, its own group, `/metrics` at
/// `addr`, and incident windows scaled to its event-time rate.
fn demo_config(args: &DemoArgs, kafka: &EmbeddedKafka, addr: &str) -> Config {
    let mut config = Config::default();
    config.kafka.brokers = kafka.bootstrap_servers();
    config.kafka.group_id = "switchboard-demo".into();
    config.metrics.addr = addr.to_string();
    config.source.stats_interval_ms = 1000;
    // The demo's firehose is far denser in event time than real traffic
    // (`--rate` mentions per second of event time), so the incident windows
    // are scaled to hold about 5,000 mentions, not ten minutes.
    config.incident = config
        .incident
        .scaled_to_rate(args.rate as f64, DENSE_MENTIONS_PER_WINDOW);
    config
}

/// Writes a CRM snapshot version of the demo's customers.
fn write_snapshot(
    args: &DemoArgs,
    crm_dir: &Path,
    valid_from: chrono::DateTime<chrono::Utc>,
) -> crate::Result<PathBuf> {
    Ok(write_crm_snapshot(
        crm_dir,
        &CrmGenConfig {
            customers: args.customers,
            seed: args.seed,
            valid_from,
        },
    )?)
}

fn print_header(args: &DemoArgs, config: &Config, addr: &str, version: &Path, took: Duration) {
    println!("Switchboard demo");
    println!("  embedded broker   {}", config.kafka.brokers);
    println!("  metrics           http://{addr}/metrics  (/healthz, /readyz)");
    println!(
        "  CRM snapshot      {} customers → {} ({:.1}s)",
        fmt_count(args.customers as u64),
        version.display(),
        took.as_secs_f64()
    );
    println!(
        "  incidents         {} ms windows, {} ms baseline (scaled to the demo's rate)",
        config.incident.window_ms, config.incident.baseline_ms
    );
    println!(
        "  firehose          {} mentions/s for {:?} into `{}` ({} partitions)",
        fmt_count(args.rate),
        args.duration,
        config.topics.mentions,
        args.partitions
    );
    println!();
}

/// Shows progress while the firehose runs; halfway through, the CRM
/// publishes a new snapshot version: it is picked up while running and
/// mentions written after its valid-from join it (as-of), the earlier ones
/// keep the first version. Returns that version and when it was written.
fn feed(
    args: &DemoArgs,
    crm_dir: &Path,
    producers: &Producers,
    progress: &mut Progress,
    interrupt: &Interrupt,
) -> crate::Result<Option<(PathBuf, f64)>> {
    let mut second_version = None;
    while !producers.mentions.is_finished() && !interrupt.asked() {
        std::thread::sleep(Duration::from_millis(250));
        let at = progress.start.elapsed();
        if second_version.is_none() && at >= args.duration / 2 {
            let v = write_snapshot(args, crm_dir, chrono::Utc::now())?;
            second_version = Some((v, at.as_secs_f64()));
        }
        progress.tick();
    }
    Ok(second_version)
}
