//! `switchboard bench`: loops measured in turn on one data set, repeated
//! (medians reported), each repetition on a fresh embedded broker holding
//! only the input:
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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use simd_json::{Buffers, Tape};

use super::fmt_count;
use crate::config::Config;
use crate::metrics::Health;
use crate::source::kafka::{KafkaSource, MessageBatch, WorkerHandler};
use crate::state::offsets::OffsetTracker;
use crate::topology::{wait_until, Pipeline};
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::kafka::RawRecord;
use switchboard_tools::generate::mentions::{MentionGenConfig, MentionGenerator};

/// Issue 4's target for the + enrichment loop, as a share of the limit
/// loop's rate; the bench prints the enrichment budget it leaves.
const ENRICH_TARGET: f64 = 0.5;

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
    /// Only measure the state restore: write the correlation state of this
    /// many active customers to a changelog topic and time reading it back
    /// (0: skip).
    #[arg(long, default_value_t = 0)]
    pub restore_customers: usize,
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

impl LimitLoop {
    /// Parses every message of the batch; returns how many were read.
    fn parse_batch(&mut self, batch: &mut MessageBatch) -> u64 {
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

/// The work-item events of the full loop, read back from their topic: the
/// output the ceiling loop produces again.
struct Output {
    events: Vec<RawRecord>,
    /// Events the full loop produced (the topic's high watermarks); more
    /// than `events.len()` only if the broker's retention dropped some, and
    /// then the read ones are produced again in turn.
    produced: u64,
}

/// Reads every record of `topic` (all partitions, from the beginning).
fn read_output(config: &Config, topic: &str, partitions: i32) -> crate::Result<Output> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = config
        .client_properties()
        .set("group.id", "bench-read-output")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    let (mut produced, mut remaining) = (0u64, 0i64);
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        produced += high as u64;
        remaining += high - low;
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut events = Vec::with_capacity(remaining.max(0) as usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while (events.len() as i64) < remaining {
        if Instant::now() > deadline {
            return Err(crate::PipelineError::Runtime(format!(
                "read back {} of {remaining} records of {topic}",
                events.len()
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => events.push(RawRecord {
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().unwrap_or_default().to_vec(),
            }),
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(Output { events, produced })
}

/// The output ceiling: the limit loop, and the full loop's work-item events
/// produced again, through the pipeline's own producer settings, spread
/// evenly over the input (record k of N sends events k·E/N … (k+1)·E/N).
/// Any topology that reads this input and writes this output does at least
/// this much; what it does besides (operators, hand-offs) comes on top.
struct CeilingLoop {
    limit: LimitLoop,
    output: Arc<Output>,
    sink: Arc<crate::sink::events::EventSink>,
    total: u64,
    next: Arc<AtomicU64>,
}

impl WorkerHandler for CeilingLoop {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        let n = self.limit.parse_batch(batch);
        // Counted when parsed, as the pipeline counts records in.
        self.limit.progress.records.fetch_add(n, Ordering::Relaxed);
        let r0 = self.next.fetch_add(n, Ordering::Relaxed);
        let e = self.output.produced;
        let (from, to) = (
            (r0 as u128 * e as u128 / self.total as u128) as u64,
            (((r0 + n).min(self.total)) as u128 * e as u128 / self.total as u128) as u64,
        );
        let ack = tracker.begin(&[]);
        for i in from..to {
            let e = &self.output.events[(i % self.output.events.len() as u64) as usize];
            self.sink
                .send_to(None, e.key.as_deref(), Some(&e.payload), ack.clone());
        }
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

/// One pipeline loop: its steady rate, and the mention rows its stateful
/// stage saw.
fn run_pipeline(
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

/// The output ceiling loop (see [`CeilingLoop`]) after a full loop: returns
/// its steady rate and the events produced, checked on the broker.
fn run_ceiling(
    config: &Config,
    kafka: &EmbeddedKafka,
    group: &str,
    total: u64,
    partitions: i32,
) -> crate::Result<(f64, u64)> {
    let output = Arc::new(read_output(config, &config.topics.work_items, partitions)?);
    if output.events.is_empty() {
        return Err(crate::PipelineError::Runtime(
            "the full loop produced no work-item events".into(),
        ));
    }
    let topic = format!("{group}-out");
    kafka.create_topic(&topic, partitions)?;
    let sink = Arc::new(crate::sink::events::EventSink::new(
        config,
        &topic,
        crate::sink::events::Kind::WorkItems,
    )?);
    let next = Arc::new(AtomicU64::new(0));
    let rate = {
        let (output, sink, next) = (output.clone(), sink.clone(), next.clone());
        run_bare(config, group, total, move |p| CeilingLoop {
            limit: LimitLoop::new(p),
            output: output.clone(),
            sink: sink.clone(),
            total,
            next: next.clone(),
        })?
    };
    // Not timed, but required: every event delivered.
    sink.flush(Duration::from_secs(120));
    let mut delivered = 0u64;
    {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = config.client_properties().create()?;
        for p in 0..partitions {
            delivered += c.fetch_watermarks(&topic, p, Duration::from_secs(10))?.1 as u64;
        }
    }
    if delivered != output.produced {
        return Err(crate::PipelineError::Runtime(format!(
            "{group}: {delivered} of {} events delivered",
            output.produced
        )));
    }
    Ok((rate, delivered))
}

/// The keyed topology with `instances` pipelines in one group; the rate is
/// the keyed stage's steady state over `rows` mention rows (what the full
/// loop's stateful stage saw), so it covers both stages.
fn run_keyed(
    config: &Config,
    group: &str,
    rows: u64,
    instances: usize,
    delivery: crate::config::Delivery,
) -> crate::Result<f64> {
    let mut config = config.clone();
    config.pipeline.delivery = delivery;
    config.kafka.group_id = group.to_string();
    config.pipeline.keyed_stage = true;
    config.topics.repartition = format!("{group}-repartition");
    config.topics.changelog = format!("{group}-changelog");
    let mut pipelines = Vec::new();
    let mut stats = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    for i in 0..instances {
        // Instances in one process need their own transactional ids.
        config.pipeline.instance_id = format!("bench-{i}");
        let pipeline = Pipeline::build(&config, Health::new())?;
        stats.push(pipeline.stats());
        pipelines.push(pipeline);
    }
    // All built first, then started together: they join the group within
    // its initial rebalance delay, so one assignment serves the whole run.
    // (Started one by one as they were built, a late instance could join
    // after the others had begun, and the rebalance it causes fell inside
    // the measured window: 22k/s for 3 instances in one run.)
    let runners: Vec<_> = pipelines
        .into_iter()
        .map(|pipeline| {
            let stop = stop.clone();
            std::thread::spawn(move || pipeline.run(stop, None))
        })
        .collect();
    let out = || {
        stats
            .iter()
            .map(|s| s.mentions_out.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let rate = steady_rate(rows, out, Duration::from_secs(600));
    stop.store(true, Ordering::Release);
    for r in runners {
        r.join()
            .map_err(|_| crate::PipelineError::Runtime("pipeline panicked".into()))??;
    }
    rate.ok_or_else(|| {
        crate::PipelineError::Runtime(format!(
            "keyed pipeline processed only {} of {rows} rows",
            out()
        ))
    })
}

/// Writes the state of `customers` active customers (one open work item
/// from one tweet, one CRM call each) to `topic`, spread by key like the
/// keyed stage does; returns the records written.
fn write_state(
    config: &Config,
    topic: &str,
    partitions: i32,
    customers: usize,
) -> crate::Result<u64> {
    use arrow::array::{ArrayRef, Int32Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use switchboard_operators::correlate::{ContactEvent, ContactKind, Correlator};
    let sink =
        crate::sink::events::EventSink::new(config, topic, crate::sink::events::Kind::Changelog)?;
    let tracker = OffsetTracker::new();
    let t0 = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let tweet = "@AlbionHelp my broadband has been down since yesterday evening and nobody has called me back. Sort it out!";
    let schema = Arc::new(Schema::new(vec![
        Field::new("mention_id", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "event_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("author_handle", DataType::Utf8, true),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("severity_points", DataType::Int32, true),
    ]));
    let mut written = 0u64;
    let chunk = 20_000;
    let mut start = 0;
    while start < customers {
        let n = chunk.min(customers - start);
        let ids: Vec<usize> = (start..start + n).collect();
        let mut corr = Correlator::with_defaults(config.correlate.clone())?;
        corr.set_track_dirty(true);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("m{i}")),
            )),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|_| "twitter"))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|_| tweet))),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(
                    ids.iter().map(|i| t0 + *i as i64 % 60_000),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("user{i}")),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("C{i:08}")),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|_| "broadband_fault"),
            )),
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|_| 45))),
        ];
        let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), cols)?;
        corr.on_mentions(&batch)?;
        for i in &ids {
            corr.on_contact(&ContactEvent {
                event_id: format!("E{i}"),
                customer_id: format!("C{i:08}"),
                kind: ContactKind::Call,
                case_id: None,
                category: Some("broadband_fault".into()),
                occurred_at_ms: t0 + 60_000,
                channel: Some("phone".into()),
                note: None,
            });
        }
        for (key, value) in corr.take_dirty() {
            let p = switchboard_operators::repartition::partition_for(key.as_bytes(), partitions);
            sink.send_to(
                Some(p),
                Some(key.as_bytes()),
                value.as_deref(),
                tracker.begin(&[]),
            );
            written += 1;
        }
        start += n;
    }
    sink.flush(Duration::from_secs(120));
    Ok(written)
}

/// `--restore-customers`: time the restore of a changelog holding that many
/// customers' state, on one thread and on `workers` threads.
fn bench_restore(
    config: &Config,
    kafka: &EmbeddedKafka,
    customers: usize,
    partitions: i32,
    workers: usize,
) -> crate::Result<()> {
    use switchboard_operators::correlate::Correlator;
    let mut config = config.clone();
    config.topics.changelog = "bench-restore-changelog".into();
    kafka.create_topic(&config.topics.changelog, partitions)?;
    let t = Instant::now();
    let written = write_state(&config, &config.topics.changelog, partitions, customers)?;
    kafka.check_retained(&config.topics.changelog, partitions)?;
    eprintln!(
        "bench: state of {} customers ({} changelog records, {} partitions) written in {:.1}s",
        fmt_count(customers as u64),
        fmt_count(written),
        partitions,
        t.elapsed().as_secs_f64()
    );
    let restore_all = |threads: usize| -> crate::Result<(f64, usize)> {
        let t = Instant::now();
        let keys = std::sync::atomic::AtomicUsize::new(0);
        let next = std::sync::atomic::AtomicI32::new(0);
        std::thread::scope(|s| -> crate::Result<()> {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> crate::Result<()> {
                        loop {
                            let p = next.fetch_add(1, Ordering::Relaxed);
                            if p >= partitions {
                                return Ok(());
                            }
                            let mut c = Correlator::with_defaults(config.correlate.clone())?;
                            let r = crate::state::changelog::restore(
                                &config,
                                p,
                                &mut c,
                                Duration::from_secs(600),
                            )?;
                            keys.fetch_add(r.keys, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| crate::PipelineError::Runtime("restore panicked".into()))??;
            }
            Ok(())
        })?;
        Ok((t.elapsed().as_secs_f64(), keys.load(Ordering::Relaxed)))
    };
    let (one, keys) = restore_all(1)?;
    let (many, keys_many) = restore_all(workers.max(1))?;
    if keys != customers || keys_many != customers {
        return Err(crate::PipelineError::Runtime(format!(
            "restored {keys} / {keys_many} keys of {customers}"
        )));
    }
    println!(
        "state restore, {} active customers ({} partitions): {one:.2} s on 1 thread ({}/s), {many:.2} s on {} threads ({}/s)",
        fmt_count(customers as u64),
        partitions,
        fmt_count((keys as f64 / one) as u64),
        workers.max(1),
        fmt_count((keys as f64 / many) as u64),
    );
    Ok(())
}

/// A fresh directory under the system temp dir, named after the process.
fn tempfile_dir(prefix: &str) -> crate::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| crate::PipelineError::io(&d, e))?;
    Ok(d)
}

/// Core-microseconds per record of a loop running at `rate` records/s with
/// `cores` busy cores. The bench's loops are CPU-bound on their host (every
/// core busy), so this is what one record costs in that loop.
fn core_us_per_record(cores: f64, rate: f64) -> f64 {
    cores * 1e6 / rate
}

/// The enrichment stage's cost and budget, in core-µs per record: what the
/// enrichment loop spends over the identity-join loop, and what it may spend
/// for the enrichment loop to reach `target` × the limit loop's rate
/// (negative when even the join loop is below the target).
fn enrichment_cost_and_budget(
    cores: f64,
    limit: f64,
    join: f64,
    enrich: f64,
    target: f64,
) -> (f64, f64) {
    let join_us = core_us_per_record(cores, join);
    (
        core_us_per_record(cores, enrich) - join_us,
        core_us_per_record(cores, target * limit) - join_us,
    )
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
    // Defaults with `SWITCHBOARD__…` overrides, so that settings can be
    // compared in one build (`SWITCHBOARD__SINK__LINGER_MS=5 switchboard bench`);
    // brokers, topics and the options below are the bench's own.
    let mut config = Config::from_env()?;
    config.source.workers = args.workers;
    config.metrics.addr = String::new();
    // The embedded broker's log lives in this process: its resident set is
    // not the pipeline's, so the memory guard must not pause on it.
    config.pipeline.memory_budget_mb = 64 * 1024;
    let delivery = if args.exactly_once {
        crate::config::Delivery::ExactlyOnce
    } else {
        crate::config::Delivery::AtLeastOnce
    };
    config.topics.mentions = "bench-mentions".into();
    config.topics.dlq = "bench-mentions-dlq".into();
    config.topics.crm_contacts = "bench-crm-contacts".into();
    config.topics.work_items = "bench-work-items".into();
    config.topics.incidents = "bench-incidents".into();
    config.topics.crm_identity_updates = "bench-crm-identity-updates".into();
    let _ = crate::metrics::install();
    if args.restore_customers > 0 {
        let kafka = start_broker(&mut config, args.partitions)?;
        return bench_restore(
            &config,
            &kafka,
            args.restore_customers,
            args.partitions,
            config.source.worker_count(),
        );
    }

    let crm_dir = tempfile_dir("switchboard-bench-crm")?;
    let t = Instant::now();
    switchboard_tools::generate::crm::write_crm_snapshot(
        &crm_dir,
        &switchboard_tools::generate::crm::CrmGenConfig {
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
    let start_ms = chrono::Utc::now().timestamp_millis();
    let mut sent = 0;
    let mut avg = 0.0;

    let mut ceiling = Vec::new();
    let (mut consume, mut limit, mut ingest, mut joined, mut enriched, mut full) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    // keyed[k]: rates with k + 1 instances.
    let mut keyed: Vec<Vec<f64>> = vec![Vec::new(); args.keyed_instances];
    for run in 0..args.runs {
        // Every run on a fresh broker holding only its input: a broker that
        // keeps the earlier runs' outputs and groups made later runs slower
        // (docs/decisions.md, "Bench runs").
        let kafka = start_broker(&mut config, args.partitions)?;
        (sent, avg) = produce_input(&config, &kafka, &args, start_ms)?;
        let c = run_bare(&config, &format!("bench-consume-{run}"), sent, |p| {
            ConsumeOnly {
                progress: p,
                sink: 0,
            }
        })?;
        let l = run_bare(&config, &format!("bench-limit-{run}"), sent, LimitLoop::new)?;
        let g = |name: &str| format!("bench-{name}-{run}");
        let (i, _) = run_pipeline(&config, &g("ingest"), sent, false, false, false)?;
        let (j, _) = run_pipeline(&config, &g("join"), sent, false, true, false)?;
        let (e, _) = run_pipeline(&config, &g("enrich"), sent, true, true, false)?;
        let (f, rows) = run_pipeline(&config, &g("full"), sent, true, true, true)?;
        let x = run_ceiling(&config, &kafka, &g("ceiling"), sent, args.partitions)?;
        for (k, rates) in keyed.iter_mut().enumerate() {
            let name = g(&format!("keyed{}", k + 1));
            for t in ["repartition", "changelog"] {
                kafka.create_topic(&format!("{name}-{t}"), args.partitions)?;
            }
            let r = run_keyed(&config, &name, rows, k + 1, delivery)?;
            for t in ["repartition", "changelog"] {
                kafka.check_retained(&format!("{name}-{t}"), args.partitions)?;
            }
            eprintln!(
                "  run {}: keyed, {} instance(s) {:>9}/s",
                run + 1,
                k + 1,
                fmt_count(r as u64)
            );
            rates.push(r);
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
        ceiling.push(x.0);
        consume.push(c);
        limit.push(l);
        ingest.push(i);
        joined.push(j);
        enriched.push(e);
        full.push(f);
        drop(kafka);
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
    let x = median(&ceiling);
    println!(
        "  output ceiling            {:>12}   (limit loop + producing the full loop's work-item events)",
        fmt_count(x as u64)
    );
    println!("  ingest/limit              {:>11.1} %", 100.0 * i / l);
    println!("  ingest+join/limit         {:>11.1} %", 100.0 * j / l);
    println!("  +enrichment/limit         {:>11.1} %", 100.0 * e / l);
    println!("  full/limit                {:>11.1} %", 100.0 * f / l);
    println!("  output ceiling/limit      {:>11.1} %", 100.0 * x / l);
    println!("  full/output ceiling       {:>11.1} %", 100.0 * f / x);
    let keyed_medians: Vec<f64> = keyed.iter().map(|r| median(r)).collect();
    for (k, r) in keyed_medians.iter().enumerate() {
        println!(
            "  keyed, {} instance(s)      {:>12}   ({:.1} % of limit; repartition + keyed stage + changelog, {:?})",
            k + 1,
            fmt_count(*r as u64),
            100.0 * r / l,
            delivery
        );
    }
    println!("  limit/consume             {:>11.1} %", 100.0 * l / c);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (enrich_us, budget_us) = enrichment_cost_and_budget(cores, l, j, e, ENRICH_TARGET);
    println!(
        "  enrichment cost           {:>11.2} core-µs/record   ({cores} cores × (1/+enrichment − 1/+join))",
        enrich_us
    );
    println!(
        "  enrichment budget         {:>11.2} core-µs/record   (for +enrichment at {:.0} % of limit)",
        budget_us,
        100.0 * ENRICH_TARGET
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({"records": sent, "avg_bytes": avg, "runs": args.runs, "consume_per_s": c, "limit_per_s": l,
                "ingest_per_s": i, "join_per_s": j, "enrich_per_s": e, "full_per_s": f, "ingest_over_limit": i / l, "join_over_limit": j / l, "enrich_over_limit": e / l,
                "full_over_limit": f / l, "limit_over_consume": l / c,
                "ceiling_per_s": x, "ceiling_over_limit": x / l, "ceiling_runs": ceiling,
                "cores": cores, "enrich_core_us_per_record": enrich_us, "enrich_budget_core_us_per_record": budget_us,
                "consume_runs": consume, "limit_runs": limit, "ingest_runs": ingest, "join_runs": joined, "enrich_runs": enriched, "full_runs": full,
                "keyed_per_s_by_instances": keyed_medians, "keyed_runs": keyed})
        );
    }
    Ok(())
}

/// A fresh embedded broker with the bench's topics; points `config` at it.
fn start_broker(config: &mut Config, partitions: i32) -> crate::Result<EmbeddedKafka> {
    let kafka = EmbeddedKafka::start(1)?;
    config.kafka.brokers = kafka.bootstrap_servers();
    let t = &config.topics;
    // Contacts are co-partitioned with the keyed stage's topics; work items
    // are about as many as mentions: spread them like the input.
    for topic in [&t.mentions, &t.dlq, &t.crm_contacts, &t.work_items] {
        kafka.create_topic(topic, partitions)?;
    }
    kafka.create_topic(&t.incidents, 1)?;
    Ok(kafka)
}

/// Produces the bench's input (the same records for every run: same seed,
/// same start time); returns the count and the average record size.
fn produce_input(
    config: &Config,
    kafka: &EmbeddedKafka,
    args: &BenchArgs,
    start_ms: i64,
) -> crate::Result<(u64, f64)> {
    let gen_cfg = MentionGenConfig {
        seed: args.seed,
        customers: args.customers,
        start_ms,
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
    let sent = switchboard_tools::generate::kafka::produce_to_topic(
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
    Ok((sent, avg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ceiling loop produces each event of the full loop's output once,
    /// whatever the batches' sizes, and its rate counts the input records.
    #[test]
    fn ceiling_produces_every_output_event_once() {
        let mut config = Config::default();
        config.source.workers = 2;
        config.metrics.addr = String::new();
        config.topics.mentions = "bench-mentions".into();
        config.topics.work_items = "bench-work-items".into();
        let partitions = 4;
        let kafka = start_broker(&mut config, partitions).unwrap();
        let input = MentionGenerator::new(MentionGenConfig::default()).take(1_000);
        let sent = switchboard_tools::generate::kafka::produce_to_topic(
            &config.kafka.brokers,
            &config.topics.mentions,
            input,
            1_000,
            None,
        )
        .unwrap();
        assert_eq!(sent, 1_000);
        let events: Vec<RawRecord> = (0..1_537)
            .map(|i| RawRecord {
                key: Some(format!("w{}", i % 300).into_bytes()),
                payload: format!("{{\"work_item_id\":\"w{}\",\"revision\":{i}}}", i % 300)
                    .into_bytes(),
            })
            .collect();
        let mut expected = events.clone();
        switchboard_tools::generate::kafka::produce_to_topic(
            &config.kafka.brokers,
            &config.topics.work_items,
            events.into_iter(),
            1_537,
            None,
        )
        .unwrap();
        let (rate, delivered) =
            run_ceiling(&config, &kafka, "bench-ceiling-t", sent, partitions).unwrap();
        assert!(rate > 0.0, "{rate}");
        assert_eq!(delivered, 1_537);
        let mut got = read_output(&config, "bench-ceiling-t-out", partitions)
            .unwrap()
            .events;
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn enrichment_cost_and_budget_from_rates() {
        // 2 cores: join 500k/s = 4 µs, enrich 250k/s = 8 µs, limit 800k/s,
        // so 50 % of it is 400k/s = 5 µs: cost 4 µs, budget 1 µs.
        let (cost, budget) = super::enrichment_cost_and_budget(2.0, 800e3, 500e3, 250e3, 0.5);
        assert!((cost - 4.0).abs() < 1e-9, "{cost}");
        assert!((budget - 1.0).abs() < 1e-9, "{budget}");
        // A join loop already under the target leaves a negative budget.
        let (_, budget) = super::enrichment_cost_and_budget(2.0, 800e3, 300e3, 250e3, 0.5);
        assert!(budget < 0.0, "{budget}");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
