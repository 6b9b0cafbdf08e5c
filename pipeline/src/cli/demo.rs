//! `switchboard demo`: an embedded broker, synthetic CRM and firehose, the
//! whole pipeline as it exists today, live progress, `/metrics`, a summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use clap::Args;
use switchboard_operators::parse::Format;
use switchboard_operators::schema::col;

use super::fmt_count;
use crate::config::Config;
use crate::embedded::EmbeddedKafka;
use crate::generate::crm::{write_crm_snapshot, CrmGenConfig};
use crate::generate::mentions::{MentionGenConfig, MentionGenerator};
use crate::metrics::{self, Health};
use crate::source::parse_worker::dlq_reason_label;
use crate::topology::{wait_until, Observers, Pipeline};
use switchboard_operators::correlate::WorkItemEvent;
use switchboard_operators::incident::IncidentEvent;

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to produce the firehose (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = super::parse_duration)]
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

/// Runs the demo.
pub fn run(args: DemoArgs) -> crate::Result<()> {
    if args.rate == 0 {
        return Err(crate::PipelineError::Usage(
            "--rate must be at least 1".into(),
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("sb-io")
        .build()
        .map_err(|e| crate::PipelineError::Runtime(format!("tokio runtime: {e}")))?;
    let handle = metrics::install();
    let health = Health::new();
    let (addr, _server) =
        rt.block_on(metrics::serve(&args.metrics_addr, handle, health.clone()))?;

    let kafka = EmbeddedKafka::start(1)?;
    let mut config = Config::default();
    config.kafka.brokers = kafka.bootstrap_servers();
    config.kafka.group_id = "switchboard-demo".into();
    config.metrics.addr = addr.to_string();
    config.source.stats_interval_ms = 1000;
    // The demo's firehose is far denser in event time than real traffic
    // (`--rate` mentions per second of event time), so the incident windows
    // are scaled to hold about 5,000 mentions, not ten minutes.
    let window_ms = (5_000_000 / args.rate.max(1)).clamp(100, 600_000) as i64;
    config.incident.window_ms = window_ms;
    config.incident.bucket_ms = (window_ms / 8).max(1);
    config.incident.baseline_ms = window_ms * 10;
    config.incident.warmup_ms = window_ms * 3;
    config.incident.max_out_of_orderness_ms = window_ms / 2;
    config.incident.min_mentions = 50;
    config.incident.spike_ratio = 3.0;
    config.incident.close_below_mentions = 10;
    kafka.create_topics(&config.topics, args.partitions)?;

    let tmp;
    let crm_dir = match &args.crm_dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("switchboard-demo-crm-{}", std::process::id()));
            tmp.clone()
        }
    };
    let t = Instant::now();
    let now = chrono::Utc::now();
    let version = write_crm_snapshot(
        &crm_dir,
        &CrmGenConfig {
            customers: args.customers,
            seed: args.seed,
            valid_from: now - chrono::Duration::days(1),
        },
    )?;
    println!("Switchboard demo");
    println!("  embedded broker   {}", config.kafka.brokers);
    println!("  metrics           http://{addr}/metrics  (/healthz, /readyz)");
    println!(
        "  CRM snapshot      {} customers → {} ({:.1}s)",
        fmt_count(args.customers as u64),
        version.display(),
        t.elapsed().as_secs_f64()
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

    config.identity.snapshot_dir = crm_dir.display().to_string();
    config.identity.poll_interval_ms = 1000;
    let mut pipeline = Pipeline::build(&config, health.clone())?;
    let crm = pipeline.crm();
    let work_totals = pipeline.work_item_totals();
    let item_examples: Arc<Mutex<Vec<WorkItemEvent>>> = Arc::default();
    let incident_log: Arc<Mutex<Vec<IncidentEvent>>> = Arc::default();
    {
        let (ex, inc) = (item_examples.clone(), incident_log.clone());
        pipeline.observe(Observers {
            batches: None,
            work_items: Some(Box::new(move |e: &WorkItemEvent| {
                let mut ex = ex.lock().expect("examples poisoned");
                // Keep a few urgent ones, and one of each other severity.
                let urgent = matches!(e.severity.as_str(), "P1" | "P2") && ex.len() < 4;
                let new_sev = !ex.iter().any(|x| x.severity == e.severity) && ex.len() < 6;
                if e.revision >= 2 && (urgent || new_sev) && !e.reasons.is_empty() {
                    ex.push(e.clone());
                }
            })),
            incidents: Some(Box::new(move |e: &IncidentEvent| {
                inc.lock().expect("incidents poisoned").push(e.clone());
            })),
        });
    }
    let stats = pipeline.stats();
    let tracker = pipeline.tracker();
    let stop = Arc::new(AtomicBool::new(false));
    let examples: Arc<Mutex<Vec<String>>> = Arc::default();
    let tallies: Arc<Mutex<Tallies>> = Arc::default();
    let observer = {
        let (examples, tallies) = (examples.clone(), tallies.clone());
        Box::new(move |b: &arrow::record_batch::RecordBatch| {
            tallies.lock().expect("tallies poisoned").add(b);
            let mut ex = examples.lock().expect("examples poisoned");
            if ex.len() < 6 && b.num_rows() > 0 {
                ex.push(describe_row(b, 0));
            }
        })
    };
    let runner = {
        let stop = stop.clone();
        std::thread::spawn(move || pipeline.run(stop, Some(observer)))
    };

    // Produce only once the pipeline holds its partitions: the embedded
    // broker's retention is small, records must not age out before the join.
    if !wait_until(Duration::from_secs(60), || health.is_ready()) {
        return Err(crate::PipelineError::Runtime(
            "the pipeline did not join its consumer group within 60 s".into(),
        ));
    }
    let total = args.rate.saturating_mul(args.duration.as_secs().max(1));
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let producer = {
        let brokers = config.kafka.brokers.clone();
        let topic = config.topics.mentions.clone();
        let gen_cfg = MentionGenConfig {
            seed: args.seed,
            customers: args.customers,
            start_ms: now.timestamp_millis(),
            events_per_sec: args.rate as f64,
            ..MentionGenConfig::default()
        };
        let produced = produced.clone();
        let rate = args.rate as f64;
        std::thread::spawn(move || {
            let gen = MentionGenerator::new(gen_cfg).inspect(|_| {
                produced.fetch_add(1, Ordering::Relaxed);
            });
            crate::generate::kafka::produce_to_topic(&brokers, &topic, gen, total, Some(rate))
        })
    };

    // CRM contact events for the same customers, at a fortieth of the rate.
    let contacts_producer = {
        let brokers = config.kafka.brokers.clone();
        let topic = config.topics.crm_contacts.clone();
        let rate = (args.rate as f64 / 40.0).max(1.0);
        let count = (total / 40).max(1);
        let cfg = crate::generate::contacts::ContactGenConfig {
            seed: args.seed,
            customers: args.customers,
            start_ms: now.timestamp_millis(),
            events_per_sec: rate,
        };
        std::thread::spawn(move || {
            crate::generate::kafka::produce_to_topic(
                &brokers,
                &topic,
                crate::generate::contacts::ContactGenerator::new(cfg),
                count,
                Some(rate),
            )
        })
    };
    let start = Instant::now();
    let tty = std::io::stdout().is_terminal();
    let mut last = (Instant::now(), 0u64);
    let progress = |final_line: bool, last: &mut (Instant, u64)| {
        let n = stats.records_in.load(Ordering::Relaxed);
        let dt = last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = (n - last.1) as f64 / dt;
        *last = (Instant::now(), n);
        let matched = crm
            .as_ref()
            .map(|c| c.totals().hit_rate() * 100.0)
            .unwrap_or(0.0);
        let items = work_totals
            .lock()
            .map(|t| t.by_action.get("created").copied().unwrap_or(0))
            .unwrap_or(0);
        let line = format!(
            "[{:>4.0}s] produced {:>10} | consumed {:>10} ({:>8}/s) | mentions {:>10} | matched {:>5.1} % | work items {:>8} | DLQ {:>7} | in flight {:>3}",
            start.elapsed().as_secs_f64(),
            fmt_count(produced.load(Ordering::Relaxed)),
            fmt_count(n),
            fmt_count(rate as u64),
            fmt_count(stats.mentions_out.load(Ordering::Relaxed)),
            matched,
            fmt_count(items),
            fmt_count(stats.dlq_total()),
            tracker.in_flight()
        );
        if tty && !final_line {
            print!("\r{line}");
        } else {
            println!("{line}");
        }
        let _ = std::io::stdout().flush();
    };
    // Halfway through, the CRM publishes a new snapshot version: it is
    // picked up while running and mentions written after its valid-from
    // join it (as-of), the earlier ones keep the first version.
    let mut second_version: Option<(PathBuf, f64)> = None;
    while !producer.is_finished() {
        std::thread::sleep(Duration::from_millis(250));
        if second_version.is_none() && start.elapsed() >= args.duration / 2 {
            let at = start.elapsed().as_secs_f64();
            let v = write_crm_snapshot(
                &crm_dir,
                &CrmGenConfig {
                    customers: args.customers,
                    seed: args.seed,
                    valid_from: chrono::Utc::now(),
                },
            )?;
            second_version = Some((v, at));
        }
        if last.0.elapsed() >= Duration::from_secs(1) {
            progress(false, &mut last);
        }
    }
    let sent = producer
        .join()
        .map_err(|_| crate::PipelineError::Runtime("producer thread panicked".into()))??;
    let contacts_sent = contacts_producer
        .join()
        .map_err(|_| crate::PipelineError::Runtime("contacts producer panicked".into()))??;
    let caught_up = wait_until(Duration::from_secs(60), || {
        if last.0.elapsed() >= Duration::from_secs(1) {
            progress(false, &mut last);
        }
        stats.records_in.load(Ordering::Relaxed) >= sent
            && stats.contacts_in.load(Ordering::Relaxed)
                + stats.contacts_rejected.load(Ordering::Relaxed)
                >= contacts_sent
            && tracker.in_flight() == 0
    });
    let elapsed = start.elapsed();
    progress(true, &mut last);
    stop.store(true, Ordering::Release);
    runner
        .join()
        .map_err(|_| crate::PipelineError::Runtime("pipeline thread panicked".into()))??;

    let consumed = stats.records_in.load(Ordering::Relaxed);
    println!();
    println!("Summary");
    println!(
        "  produced {} · consumed {} in {:.1}s · {} records/s on average{}",
        fmt_count(sent),
        fmt_count(consumed),
        elapsed.as_secs_f64(),
        fmt_count((consumed as f64 / elapsed.as_secs_f64()) as u64),
        if caught_up {
            ""
        } else {
            " (did not catch up within 60 s)"
        }
    );
    println!(
        "  mentions out      {}",
        fmt_count(stats.mentions_out.load(Ordering::Relaxed))
    );
    for f in Format::ALL {
        println!(
            "    {:<16}{:>10} records",
            f.as_str(),
            fmt_count(stats.parsed_by_format[f.index()].load(Ordering::Relaxed))
        );
    }
    println!("  counted drops     {} non-actionable entries (reactions, deletions), {} spam/bot mentions", fmt_count(stats.non_actionable.load(Ordering::Relaxed)), fmt_count(stats.spam_dropped.load(Ordering::Relaxed)));
    println!("  dead-letter queue {}", fmt_count(stats.dlq_total()));
    for (i, c) in stats.dlq_by_reason.iter().enumerate() {
        let n = c.load(Ordering::Relaxed);
        if n > 0 {
            println!("    {:<16}{:>10}", dlq_reason_label(i), fmt_count(n));
        }
    }
    let accounted = stats.parsed_total() + stats.dlq_total();
    println!(
        "  accounted         {} of {} records (parsed + DLQ)",
        fmt_count(accounted),
        fmt_count(consumed)
    );
    if let Some(crm) = &crm {
        let it = crm.totals();
        println!(
            "  identity join     {} of {} mentions matched to a CRM customer ({:.1} %)",
            fmt_count(it.hits),
            fmt_count(it.rows),
            it.hit_rate() * 100.0
        );
        let mut by_channel: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
        for ((ch, res), n) in &it.by_channel_result {
            let e = by_channel.entry(ch).or_default();
            e.1 += n;
            if *res == "hit" {
                e.0 += n;
            }
        }
        for (ch, (hits, rows)) in by_channel {
            println!(
                "    {:<16}{:>10} of {:>10} matched ({:.1} %)",
                ch,
                fmt_count(hits),
                fmt_count(rows),
                100.0 * hits as f64 / rows.max(1) as f64
            );
        }
        for (res, n) in it.by_result() {
            if res != "hit" {
                println!("    miss: {:<10}{:>10}", res, fmt_count(n));
            }
        }
        let versions: Vec<String> = crm
            .join()
            .status()
            .versions
            .iter()
            .map(|v| v.name.clone())
            .collect();
        println!(
            "    snapshot versions loaded {} (in service: {}){}",
            it.snapshot_loads,
            versions.join(", "),
            match &second_version {
                Some((v, at)) => format!(
                    "; {} written at {:.0}s and swapped in while running",
                    v.file_name().unwrap_or_default().to_string_lossy(),
                    at
                ),
                None => String::new(),
            }
        );
    }
    {
        let w = work_totals.lock().expect("totals poisoned");
        let created = w.by_action.get("created").copied().unwrap_or(0);
        println!(
            "  work items        {} created from {} mentions and {} CRM contact events; revisions: {}",
            fmt_count(created),
            fmt_count(w.mentions_correlated - w.duplicate_mentions),
            fmt_count(stats.contacts_in.load(Ordering::Relaxed)),
            w.by_action
                .iter()
                .map(|(a, n)| format!("{a} {}", fmt_count(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut queues: std::collections::BTreeMap<&str, [u64; 4]> = Default::default();
        for ((q, sev), n) in &w.created_by_queue_severity {
            let i = switchboard_operators::severity::SeverityLevel::parse(sev)
                .map_or(3, |l| l as usize);
            queues.entry(q.as_str()).or_default()[i] += n;
        }
        println!(
            "    {:<24}{:>8}{:>8}{:>8}{:>8}",
            "queue (created)", "P1", "P2", "P3", "P4"
        );
        for (q, c) in &queues {
            println!(
                "    {:<24}{:>8}{:>8}{:>8}{:>8}",
                q,
                fmt_count(c[0]),
                fmt_count(c[1]),
                fmt_count(c[2]),
                fmt_count(c[3])
            );
        }
        println!(
            "  incidents         {} opened, {} closed",
            w.incidents_opened, w.incidents_closed
        );
        for e in incident_log
            .lock()
            .expect("incidents poisoned")
            .iter()
            .filter(|e| e.action == "opened")
            .take(5)
        {
            println!(
                "    {} in {} from {} ({} outage mentions in the window, baseline {:.1})",
                e.incident_id, e.region, e.opened_at, e.window_mentions, e.baseline_per_window
            );
        }
        println!(
            "  accounted         {} mentions = {} in work items + {} duplicates + {} spam (DLQ and non-actionable above)",
            fmt_count(stats.mentions.load(Ordering::Relaxed)),
            fmt_count(w.mentions_correlated - w.duplicate_mentions),
            fmt_count(w.duplicate_mentions),
            fmt_count(stats.spam_dropped.load(Ordering::Relaxed))
        );
    }
    println!("  example work items");
    for e in item_examples.lock().expect("examples poisoned").iter() {
        let who = e
            .customer
            .as_ref()
            .map(|c| {
                format!(
                    "{} ({}, {}{})",
                    c.customer_id,
                    c.segment.as_deref().unwrap_or("?"),
                    c.tier.as_deref().unwrap_or("?"),
                    if c.vulnerable == Some(true) {
                        ", vulnerable"
                    } else {
                        ""
                    }
                )
            })
            .unwrap_or_else(|| "unidentified".into());
        println!(
            "    {} rev {} {} → {} · {} priority {} · {} · {} mention(s){}",
            e.work_item_id,
            e.revision,
            e.action.as_str(),
            e.queue,
            e.severity,
            e.priority,
            who,
            e.mentions.len(),
            e.related_case_id
                .as_deref()
                .map(|c| format!(" · case {c}"))
                .unwrap_or_default()
        );
        for r in &e.reasons {
            println!("        {r}");
        }
    }
    let t = tallies.lock().expect("tallies poisoned");
    let total = t.rows.max(1) as f64;
    println!(
        "  sentiment         {:.1} % negative · {:.1} % neutral · {:.1} % positive · {:.1} % not English",
        100.0 * t.negative as f64 / total,
        100.0 * (t.rows - t.negative - t.positive) as f64 / total,
        100.0 * t.positive as f64 / total,
        100.0 * t.non_english as f64 / total
    );
    println!("  categories");
    let mut cats: Vec<_> = t.categories.iter().collect();
    cats.sort_by(|a, b| b.1.cmp(a.1));
    for (c, n) in cats {
        println!("    {:<24}{:>10}", c, fmt_count(*n));
    }
    drop(t);
    println!("  example mentions");
    for e in examples.lock().expect("examples poisoned").iter() {
        println!("    {e}");
    }
    if args.crm_dir.is_none() {
        let _ = std::fs::remove_dir_all(&crm_dir);
    }
    drop(kafka);
    Ok(())
}

/// Running totals over the mentions that left the pipeline.
#[derive(Default)]
struct Tallies {
    rows: u64,
    negative: u64,
    positive: u64,
    non_english: u64,
    categories: std::collections::HashMap<String, u64>,
}

impl Tallies {
    fn add(&mut self, b: &arrow::record_batch::RecordBatch) {
        use arrow::datatypes::Float32Type;
        self.rows += b.num_rows() as u64;
        if let Some(c) = b
            .column_by_name(col::SENTIMENT_COMPOUND)
            .and_then(|c| c.as_primitive_opt::<Float32Type>())
        {
            self.negative += c.iter().flatten().filter(|v| *v <= -0.05).count() as u64;
            self.positive += c.iter().flatten().filter(|v| *v >= 0.05).count() as u64;
        }
        if let Some(e) = b
            .column_by_name(col::IS_ENGLISH)
            .and_then(|c| c.as_boolean_opt())
        {
            self.non_english += (e.len() - e.true_count()) as u64;
        }
        if let Some(c) = b
            .column_by_name(col::CATEGORY)
            .and_then(|c| c.as_string_opt::<i32>())
        {
            for v in c.iter().flatten() {
                *self.categories.entry(v.to_string()).or_default() += 1;
            }
        }
    }
}

fn describe_row(b: &arrow::record_batch::RecordBatch, i: usize) -> String {
    let s = |name: &str| -> String {
        b.column_by_name(name)
            .and_then(|c| {
                c.as_string_opt::<i32>().map(|a| {
                    if a.is_null(i) {
                        "-".to_string()
                    } else {
                        a.value(i).to_string()
                    }
                })
            })
            .unwrap_or_default()
    };
    let mut text = s(col::TEXT).replace('\n', " ");
    if text.chars().count() > 90 {
        text = text.chars().take(87).collect::<String>() + "…";
    }
    let author = {
        let h = s(col::AUTHOR_HANDLE);
        if h == "-" {
            s(col::AUTHOR_ID)
        } else {
            h
        }
    };
    let who = match s(col::CUSTOMER_ID).as_str() {
        "-" | "" => "unmatched".to_string(),
        id => format!(
            "{id}, {} {}",
            s(col::CUSTOMER_SEGMENT),
            s(col::CUSTOMER_TIER)
        ),
    };
    format!("[{}] {} ({}): {}", s(col::CHANNEL), author, who, text)
}
