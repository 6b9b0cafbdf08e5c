//! `switchboard bench`: loops measured in turn on one data set, repeated
//! (medians reported), each repetition on a fresh embedded broker holding
//! only the input, or with `--brokers` on an external cluster, on topics
//! and groups of that repetition's own, deleted after it (`broker.rs`):
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
//!   work items (and incidents) to their topics;
//! - `output ceiling`: the limit loop plus producing, spread evenly over
//!   the input, the work-item events the full loop wrote (read back from
//!   its topic), with the pipeline's producer settings: what reading this
//!   input and writing this output costs before any operator runs;
//! - `keyed, N instance(s)` (`--keyed-instances`): the scale-out topology
//!   (`pipeline.keyed_stage`: repartition topic, keyed stage, state
//!   changelog) with 1…N pipelines in this process sharing the groups; its
//!   rate is the keyed stage's, over the mention rows the full loop's
//!   stateful stage saw.
//!
//! `--restore-customers N` measures only the state restore: the correlation
//! state of N active customers is written to a changelog topic and read back
//! on one thread and on all workers.
//!
//! Each loop's rate is its steady state: records between 10 % and 90 % of
//! the data set over the time between those two points, so the group join
//! and the last partial batches count the same (not at all) for every loop.
//! The ratios pipeline/limit and limit/consume are what the targets are
//! stated in; absolute rates depend on the machine and its neighbours.
//!
//! Files: `broker.rs` (embedded or external broker, names, cleanup),
//! `loops.rs` (consume, limit, pipeline loops; steady rates),
//! `ceiling.rs`, `keyed.rs`, `restore.rs`, `input.rs` (broker, firehose,
//! CRM snapshot), `report.rs` (medians, ratios, the table).

use clap::Args;

use crate::cli::format::fmt_count;
use crate::config::{Config, Delivery};

mod broker;
mod ceiling;
mod input;
mod keyed;
mod loops;
mod report;
mod restore;

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
    /// Run the keyed topology with `pipeline.delivery = "exactly_once"`
    /// (Kafka transactions) instead of `at_least_once`.
    #[arg(long)]
    pub exactly_once: bool,
    /// Also measure the keyed topology (`pipeline.keyed_stage`: repartition
    /// topic, keyed stage, state changelog) with 1, 2, … this many
    /// instances in this process (0: not measured).
    #[arg(long, default_value_t = 1)]
    pub keyed_instances: usize,
    /// Run on the external Kafka cluster at these bootstrap servers
    /// instead of a fresh embedded broker per run: on topics and consumer
    /// groups named `switchboard-bench-<unix ms>-<pid>-r<run>-…`, created
    /// for each run and deleted at its end (also on an error, Ctrl-C or
    /// SIGTERM). Client settings such as SASL come from
    /// `SWITCHBOARD__KAFKA__PROPERTIES__…`.
    #[arg(long, value_name = "HOST:PORT")]
    pub brokers: Option<String>,
    /// Only measure the state restore: write the correlation state of this
    /// many active customers to a changelog topic and time reading it back
    /// (0: skip).
    #[arg(long, default_value_t = 0)]
    pub restore_customers: usize,
}

/// Runs the bench and prints the rates and ratios.
pub fn run(args: BenchArgs) -> crate::Result<()> {
    let result = run_bench(args);
    broker::hold_if_interrupted();
    result
}

fn run_bench(args: BenchArgs) -> crate::Result<()> {
    if args.records == 0 || args.runs == 0 {
        return Err(crate::PipelineError::Usage(
            "--records and --runs must be at least 1".into(),
        ));
    }
    let mut config = bench_config(&args)?;
    let _ = crate::metrics::install();
    let target = broker::Target::new(args.brokers.as_deref());
    if let broker::Target::External { brokers, prefix } = &target {
        eprintln!("bench: on {brokers}; topic and group names start with {prefix}-");
        broker::cleanup_on_signal(&config, &target);
    }
    if args.restore_customers > 0 {
        let kafka = broker::Broker::start(&mut config, &target, 0, args.partitions)?;
        return restore::bench_restore(
            &config,
            &kafka,
            args.restore_customers,
            args.partitions,
            config.source.worker_count(),
        );
    }
    let crm_dir = input::write_crm(args.customers, args.seed)?;
    config.identity.snapshot_dir = crm_dir.display().to_string();
    config.identity.read_updates = false;
    let delivery = if args.exactly_once {
        Delivery::ExactlyOnce
    } else {
        Delivery::AtLeastOnce
    };
    let rates = measure(&args, &mut config, &target, delivery);
    let _ = std::fs::remove_dir_all(&crm_dir);
    report::print(&rates?, args.runs, delivery, args.json);
    Ok(())
}

/// Defaults with `SWITCHBOARD__…` overrides, so that settings can be
/// compared in one build (`SWITCHBOARD__SINK__LINGER_MS=5 switchboard bench`);
/// brokers, topics, groups and the options below are the bench's own.
fn bench_config(args: &BenchArgs) -> crate::Result<Config> {
    let mut config = Config::from_env()?;
    config.source.workers = args.workers;
    config.metrics.addr = String::new();
    // The embedded broker's log lives in this process: its resident set is
    // not the pipeline's, so the memory guard must not pause on it.
    // (Kept on an external cluster too, so that both run the same settings.)
    config.pipeline.memory_budget_mb = 64 * 1024;
    Ok(config)
}

/// Every loop, `args.runs` times, in turn on the same data set.
fn measure(
    args: &BenchArgs,
    config: &mut Config,
    target: &broker::Target,
    delivery: Delivery,
) -> crate::Result<report::Rates> {
    let start_ms = chrono::Utc::now().timestamp_millis();
    let firehose = input::Firehose {
        records: args.records,
        partitions: args.partitions,
        seed: args.seed,
        customers: args.customers,
    };
    let mut rates = report::Rates {
        keyed: vec![Vec::new(); args.keyed_instances],
        broker: target.describe(),
        ..report::Rates::default()
    };
    for run in 0..args.runs {
        // Every run on a fresh broker holding only its input: a broker that
        // keeps the earlier runs' outputs and groups made later runs slower
        // (docs/performance.md, "Bench runs"). On an external cluster: fresh
        // topics and groups, deleted when `kafka` is dropped (also on `?`).
        let kafka = broker::Broker::start(config, target, run, args.partitions)?;
        let (sent, avg) = input::produce_input(config, &kafka, &firehose, args.runs, start_ms)?;
        (rates.sent, rates.avg_bytes) = (sent, avg);
        let c = loops::run_bare(config, &kafka.name("consume"), sent, |p| {
            loops::ConsumeOnly {
                progress: p,
                sink: 0,
            }
        })?;
        let l = loops::run_bare(config, &kafka.name("limit"), sent, loops::LimitLoop::new)?;
        let g = |name: &str| kafka.name(name);
        let (i, _) = loops::run_pipeline(config, &g("ingest"), sent, false, false, false)?;
        let (j, _) = loops::run_pipeline(config, &g("join"), sent, false, true, false)?;
        let (e, _) = loops::run_pipeline(config, &g("enrich"), sent, true, true, false)?;
        let (f, rows) = loops::run_pipeline(config, &g("full"), sent, true, true, true)?;
        let x = ceiling::run_ceiling(config, &kafka, &g("ceiling"), sent, args.partitions)?;
        for (k, keyed_rates) in rates.keyed.iter_mut().enumerate() {
            let name = g(&format!("keyed{}", k + 1));
            let r = keyed::run_keyed_on(
                config,
                &kafka,
                args.partitions,
                &name,
                rows,
                k + 1,
                delivery,
            )?;
            eprintln!(
                "  run {}: keyed, {} instance(s) {:>9}/s",
                run + 1,
                k + 1,
                fmt_count(r as u64)
            );
            keyed_rates.push(r);
        }
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
        eprintln!(
            "  run {}: output ceiling {:>9}/s (limit loop + the full loop's {} work-item events produced again)",
            run + 1,
            fmt_count(x.0 as u64),
            fmt_count(x.1)
        );
        rates.ceiling.push(x.0);
        rates.consume.push(c);
        rates.limit.push(l);
        rates.ingest.push(i);
        rates.join.push(j);
        rates.enrich.push(e);
        rates.full.push(f);
        drop(kafka);
    }
    Ok(rates)
}
