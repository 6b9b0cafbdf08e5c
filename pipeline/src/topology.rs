//! Build → wire → run.
//!
//! [`Pipeline::build`] turns a validated [`Config`] into runtime parts (DLQ
//! producer, consumer, channel); [`Pipeline::run`] wires them into threads
//! and runs until the stop flag is set, then drains and commits:
//!
//! ```text
//!  Kafka `mentions` ──► KafkaSource (group consumer, control thread)
//!        │ partition queues forwarded to N worker queues
//!        ▼
//!  sb-source-i  ×N : batched poll → ParseWorker (MentionParser → Arrow)
//!        │ rejected records ──► DlqSink ──► `mentions-dlq`
//!        ▼ RowChannel (capacity in rows: backpressure)
//!  sb-downstream   : terminal stage (acknowledges batches; later: join,
//!                    score, correlate, route, work-item sink)
//! ```
//!
//! Offsets are committed by the control thread only when every output of a
//! source batch (its Arrow batch downstream, its DLQ records) is acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use tracing::info;

use crate::channel::{row_channel, Recv, RowReceiver};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self as m, Health, SourceMetrics};
use crate::sink::dlq::DlqSink;
use crate::source::kafka::KafkaSource;
use crate::source::parse_worker::{MentionEnvelope, ParseWorker, PipelineStats};

/// Something that looks at each acknowledged batch (demo examples, tests).
pub type BatchObserver = Box<dyn FnMut(&RecordBatch) + Send>;

/// A built pipeline, ready to run.
pub struct Pipeline {
    config: Config,
    source: KafkaSource,
    dlq: Arc<DlqSink>,
    stats: Arc<PipelineStats>,
    health: Arc<Health>,
    workers: usize,
}

impl Pipeline {
    /// Builds the runtime parts from a validated config.
    pub fn build(config: &Config, health: Arc<Health>) -> Result<Self> {
        let workers = config.source.worker_count();
        let dlq = Arc::new(DlqSink::new(config)?);
        let source = KafkaSource::subscribe(config, &config.kafka.group_id, &config.topics.mentions, workers, health.clone())?;
        Ok(Self { config: config.clone(), source, dlq, stats: Arc::new(PipelineStats::default()), health, workers })
    }

    /// Shared totals (live while running).
    pub fn stats(&self) -> Arc<PipelineStats> {
        self.stats.clone()
    }

    /// Offset tracker (in-flight batches), for progress displays.
    pub fn in_flight(&self) -> Arc<crate::state::offsets::OffsetTracker> {
        self.source.tracker().clone()
    }

    /// Runs until `stop` is set, then drains in-flight work and commits.
    pub fn run(self, stop: Arc<AtomicBool>, observer: Option<BatchObserver>) -> Result<()> {
        let Pipeline { config, source, dlq, stats, health, workers } = self;
        let (tx, rx) = row_channel::<MentionEnvelope>(config.pipeline.channel_capacity_rows);
        let downstream = {
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("sb-downstream".into())
                .spawn(move || terminal_stage(rx, stats, observer))
                .map_err(|e| crate::PipelineError::Runtime(format!("cannot spawn downstream: {e}")))?
        };
        let topic = config.topics.mentions.clone();
        let parse = config.parse.build();
        let max_rows = config.source.max_batch_rows;
        let linger = Duration::from_millis(config.source.batch_linger_ms);
        info!(workers, topic = %topic, group = %config.kafka.group_id, "pipeline running");
        let dlq_for_workers = dlq.clone();
        let stats_for_workers = stats.clone();
        let result = source.run(
            stop,
            config.source.max_poll_records,
            move |_i| {
                ParseWorker::new(
                    parse.clone(),
                    max_rows,
                    linger,
                    tx.clone(),
                    dlq_for_workers.clone(),
                    SourceMetrics::new(&topic),
                    stats_for_workers.clone(),
                )
            },
            |timeout| dlq.flush(timeout),
        );
        // The handler factory (and its sender) is dropped by now; the workers'
        // senders went with their threads, so the downstream stage sees Closed.
        let _ = downstream.join();
        health.set_ready(false, "stopped");
        result
    }
}

/// The last stage as built today: acknowledges batches and records latency.
fn terminal_stage(rx: RowReceiver<MentionEnvelope>, stats: Arc<PipelineStats>, mut observer: Option<BatchObserver>) {
    let out = metrics::counter!(m::STAGE_RECORDS_OUT, "stage" => m::stage::SINK);
    let inn = metrics::counter!(m::STAGE_RECORDS_IN, "stage" => m::stage::SINK);
    let e2e = metrics::histogram!(m::E2E_LATENCY);
    let proc = metrics::histogram!(m::PROCESSING_LATENCY);
    let channel_rows = metrics::gauge!(m::CHANNEL_ROWS);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Recv::Item(env) => {
                let rows = env.batch.num_rows() as u64;
                inn.increment(rows);
                if let Some(obs) = observer.as_mut() {
                    obs(&env.batch);
                }
                out.increment(rows);
                stats.mentions_out.fetch_add(rows, Ordering::Relaxed);
                proc.record(env.consumed_at.elapsed().as_secs_f64());
                if let Some(ts) = env.oldest_record_ms {
                    let now = chrono::Utc::now().timestamp_millis();
                    e2e.record(((now - ts).max(0) as f64) / 1000.0);
                }
                drop(env.ack);
            }
            Recv::Timeout => {}
            Recv::Closed => break,
        }
        channel_rows.set(rx.queued_rows() as f64);
    }
}

/// Waits until `cond` holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}
