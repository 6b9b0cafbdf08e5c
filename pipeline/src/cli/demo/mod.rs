//! `switchboard demo`: an embedded broker, synthetic CRM and firehose, the
//! whole pipeline as it exists today, live progress, `/metrics`, a summary
//! (`summary.rs`) of what the pipeline did and produced (`observed.rs`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Args;
use switchboard_operators::incident::DENSE_MENTIONS_PER_WINDOW;
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::contacts::{ContactGenConfig, ContactGenerator};
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::kafka::produce_to_topic;
use switchboard_tools::generate::mentions::{MentionGenConfig, MentionGenerator};

use crate::cli::format::fmt_count;
use crate::config::{Config, TopicsConfig};
use crate::metrics::{self, Health, PipelineStats};
use crate::state::crm::CrmState;
use crate::state::offsets::OffsetTracker;
use crate::topology::{wait_until, Pipeline};

mod observed;
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
    let (addr, _server) =
        rt.block_on(metrics::serve(&args.metrics_addr, handle, health.clone()))?;

    let kafka = EmbeddedKafka::start(1)?;
    let mut config = demo_config(&args, &kafka, &addr.to_string());
    create_topics(&kafka, &config.topics, args.partitions)?;
    let crm_dir = match &args.crm_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("switchboard-demo-crm-{}", std::process::id())),
    };
    let t = Instant::now();
    let now = chrono::Utc::now();
    let version = write_snapshot(&args, &crm_dir, now - chrono::Duration::days(1))?;
    print_header(&args, &config, &addr.to_string(), &version, t.elapsed());

    config.identity.snapshot_dir = crm_dir.display().to_string();
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

    // Produce only once the pipeline holds its partitions: the embedded
    // broker's retention is small, records must not age out before the join.
    if !wait_until(Duration::from_secs(60), || health.is_ready()) {
        return Err(crate::PipelineError::Runtime(
            "the pipeline did not join its consumer group within 60 s".into(),
        ));
    }
    let producers = Producers::start(&args, &config, now.timestamp_millis());
    let mut progress = Progress::new(
        stats.clone(),
        crm.clone(),
        tracker,
        producers.produced.clone(),
    );
    let second_version = feed(&args, &crm_dir, &producers, &mut progress)?;
    let (sent, contacts_sent) = producers.join()?;
    let caught_up = wait_until(Duration::from_secs(60), || {
        progress.every_second();
        stats.records_in.load(Ordering::Relaxed) >= sent
            && stats.contacts_in.load(Ordering::Relaxed)
                + stats.contacts_rejected.load(Ordering::Relaxed)
                >= contacts_sent
            && progress.tracker.in_flight() == 0
    });
    let elapsed = progress.start.elapsed();
    progress.print(true);
    stop.store(true, Ordering::Release);
    runner
        .join()
        .map_err(|_| crate::PipelineError::Runtime("pipeline thread panicked".into()))??;

    summary::print(&summary::Run {
        sent,
        elapsed,
        caught_up,
        stats: &stats,
        crm: crm.as_deref(),
        second_version,
        observed: &observed,
    });
    if args.crm_dir.is_none() {
        let _ = std::fs::remove_dir_all(&crm_dir);
    }
    drop(kafka);
    Ok(())
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
        "  incidents         spikes over {} ms windows against a {} ms baseline (scaled to the demo's event-time rate)",
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

/// The firehose and the CRM contact events, each produced by its thread.
struct Producers {
    mentions: JoinHandle<switchboard_tools::Result<u64>>,
    contacts: JoinHandle<switchboard_tools::Result<u64>>,
    /// Mentions produced so far.
    produced: Arc<AtomicU64>,
}

impl Producers {
    /// `--rate` mentions per second for `--duration`, and CRM contact
    /// events for the same customers at a fortieth of the rate.
    fn start(args: &DemoArgs, config: &Config, start_ms: i64) -> Self {
        let total = args.rate.saturating_mul(args.duration.as_secs().max(1));
        let produced = Arc::new(AtomicU64::new(0));
        let mentions = {
            let brokers = config.kafka.brokers.clone();
            let topic = config.topics.mentions.clone();
            let gen_cfg = MentionGenConfig {
                seed: args.seed,
                customers: args.customers,
                start_ms,
                events_per_sec: args.rate as f64,
                ..MentionGenConfig::default()
            };
            let produced = produced.clone();
            let rate = args.rate as f64;
            std::thread::spawn(move || {
                let gen = MentionGenerator::new(gen_cfg).inspect(|_| {
                    produced.fetch_add(1, Ordering::Relaxed);
                });
                produce_to_topic(&brokers, &topic, gen, total, Some(rate))
            })
        };
        let contacts = {
            let brokers = config.kafka.brokers.clone();
            let topic = config.topics.crm_contacts.clone();
            let rate = (args.rate as f64 / 40.0).max(1.0);
            let count = (total / 40).max(1);
            let cfg = ContactGenConfig {
                seed: args.seed,
                customers: args.customers,
                start_ms,
                events_per_sec: rate,
            };
            std::thread::spawn(move || {
                produce_to_topic(
                    &brokers,
                    &topic,
                    ContactGenerator::new(cfg),
                    count,
                    Some(rate),
                )
            })
        };
        Self {
            mentions,
            contacts,
            produced,
        }
    }

    /// Mentions and contact events sent.
    fn join(self) -> crate::Result<(u64, u64)> {
        let sent = self
            .mentions
            .join()
            .map_err(|_| crate::PipelineError::Runtime("producer thread panicked".into()))??;
        let contacts = self
            .contacts
            .join()
            .map_err(|_| crate::PipelineError::Runtime("contacts producer panicked".into()))??;
        Ok((sent, contacts))
    }
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
) -> crate::Result<Option<(PathBuf, f64)>> {
    let mut second_version = None;
    while !producers.mentions.is_finished() {
        std::thread::sleep(Duration::from_millis(250));
        let at = progress.start.elapsed();
        if second_version.is_none() && at >= args.duration / 2 {
            let v = write_snapshot(args, crm_dir, chrono::Utc::now())?;
            second_version = Some((v, at.as_secs_f64()));
        }
        progress.every_second();
    }
    Ok(second_version)
}

/// The live progress line.
struct Progress {
    stats: Arc<PipelineStats>,
    crm: Option<Arc<CrmState>>,
    tracker: Arc<OffsetTracker>,
    produced: Arc<AtomicU64>,
    start: Instant,
    /// When the last line was printed, and the records consumed then.
    last: (Instant, u64),
    tty: bool,
}

impl Progress {
    fn new(
        stats: Arc<PipelineStats>,
        crm: Option<Arc<CrmState>>,
        tracker: Arc<OffsetTracker>,
        produced: Arc<AtomicU64>,
    ) -> Self {
        Self {
            stats,
            crm,
            tracker,
            produced,
            start: Instant::now(),
            last: (Instant::now(), 0),
            tty: std::io::stdout().is_terminal(),
        }
    }

    /// Prints a line if the last one is a second old.
    fn every_second(&mut self) {
        if self.last.0.elapsed() >= Duration::from_secs(1) {
            self.print(false);
        }
    }

    /// Prints a line (over the last one on a terminal, unless final).
    fn print(&mut self, final_line: bool) {
        let stats = &self.stats;
        let n = stats.records_in.load(Ordering::Relaxed);
        let dt = self.last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = (n - self.last.1) as f64 / dt;
        self.last = (Instant::now(), n);
        let matched = self
            .crm
            .as_ref()
            .map(|c| c.totals().hit_rate() * 100.0)
            .unwrap_or(0.0);
        let items = stats
            .work_items()
            .by_action
            .get("created")
            .copied()
            .unwrap_or(0);
        let line = format!(
            "[{:>4.0}s] produced {:>10} | consumed {:>10} ({:>8}/s) | mentions {:>10} | matched {:>5.1} % | work items {:>8} | DLQ {:>7} | in flight {:>3}",
            self.start.elapsed().as_secs_f64(),
            fmt_count(self.produced.load(Ordering::Relaxed)),
            fmt_count(n),
            fmt_count(rate as u64),
            fmt_count(stats.mentions_out.load(Ordering::Relaxed)),
            matched,
            fmt_count(items),
            fmt_count(stats.dlq_total()),
            self.tracker.in_flight()
        );
        if self.tty && !final_line {
            print!("\r{line}");
        } else {
            println!("{line}");
        }
        let _ = std::io::stdout().flush();
    }
}
