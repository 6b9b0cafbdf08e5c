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
//!        │           → Enricher (language, sentiment, category)
//!        │           → IdentityJoin (as-of CRM snapshot + identity updates)
//!        │ rejected records ──► DlqSink ──► `mentions-dlq`
//!        ▼ RowChannel (capacity in rows: backpressure)
//!  sb-downstream   : terminal stage (acknowledges batches; later: join,
//!                    score, correlate, route, work-item sink)
//! ```
//!
//! Beside them, `CrmState` (`state/crm.rs`) loads CRM snapshot versions
//! (thread `sb-crm`, hot reload) and `UpdatesReader`
//! (`source/identity_updates.rs`, thread `sb-crm-updates`) applies
//! `crm-identity-updates`; both feed the one shared `IdentityJoin`.
//!
//! Offsets are committed by the control thread only when every output of a
//! source batch (its Arrow batch downstream, its DLQ records) is acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use switchboard_operators::classify::Classifier;
use switchboard_operators::language::LanguageDetector;
use switchboard_operators::sentiment::SentimentAnalyzer;
use switchboard_operators::spam::{self, SpamDetector};
use tracing::{error, info};

use crate::channel::{row_channel, Recv, RowReceiver};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self as m, Health, SourceMetrics};
use crate::sink::dlq::DlqSink;
use crate::source::kafka::KafkaSource;
use crate::source::parse_worker::{MentionEnvelope, ParseWorker, PipelineStats};
use crate::state::crm::CrmState;

/// The stateless enrichment operators, applied in every source worker right
/// after parse (so they run on all cores): language → sentiment → category.
/// Built once from config and shared.
pub struct Enricher {
    enabled: bool,
    language: LanguageDetector,
    sentiment: SentimentAnalyzer,
    classify: Classifier,
}

impl Enricher {
    /// Builds (and so validates) the operators of a config.
    pub fn build(config: &Config) -> Result<Arc<Self>> {
        use crate::config::prefix_key;
        let language =
            LanguageDetector::new(&config.language).map_err(|e| prefix_key("language", e))?;
        let sentiment =
            SentimentAnalyzer::new(config.sentiment.mode, config.sentiment.telco.clone())
                .map_err(|e| prefix_key("sentiment", e))?;
        let classify = Classifier::new(&config.classify).map_err(|e| prefix_key("classify", e))?;
        Ok(Arc::new(Self {
            enabled: config.pipeline.enrich,
            language,
            sentiment,
            classify,
        }))
    }

    /// Appends the language, sentiment and category columns.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.enabled {
            return Ok(batch.clone());
        }
        let b = self.language.detect_batch(batch)?;
        let b = self.sentiment.score_batch(&b)?;
        Ok(self.classify.classify_batch(&b)?)
    }

    /// The sentiment analyzer (for `score`).
    pub fn sentiment(&self) -> &SentimentAnalyzer {
        &self.sentiment
    }

    /// The classifier (for `score`).
    pub fn classifier(&self) -> &Classifier {
        &self.classify
    }

    /// The language detector (for `score`).
    pub fn language(&self) -> &LanguageDetector {
        &self.language
    }
}

/// Something that looks at each acknowledged batch (demo examples, tests).
pub type BatchObserver = Box<dyn FnMut(&RecordBatch) + Send>;

/// A built pipeline, ready to run.
pub struct Pipeline {
    config: Config,
    enricher: Arc<Enricher>,
    source: KafkaSource,
    dlq: Arc<DlqSink>,
    stats: Arc<PipelineStats>,
    health: Arc<Health>,
    workers: usize,
    crm: Option<Arc<CrmState>>,
}

impl Pipeline {
    /// Builds the runtime parts from a validated config.
    pub fn build(config: &Config, health: Arc<Health>) -> Result<Self> {
        let workers = config.source.worker_count();
        let enricher = Enricher::build(config)?;
        SpamDetector::new(config.spam.clone()).map_err(|e| crate::config::prefix_key("spam", e))?;
        let dlq = Arc::new(DlqSink::new(config)?);
        // Snapshots are loaded (and identity updates read) before the group
        // is joined, so the first mention already meets its customer.
        let crm = CrmState::start(config)?.map(Arc::new);
        let source = KafkaSource::subscribe(
            config,
            &config.kafka.group_id,
            &config.topics.mentions,
            workers,
            health.clone(),
        )?;
        Ok(Self {
            config: config.clone(),
            enricher,
            source,
            dlq,
            stats: Arc::new(PipelineStats::default()),
            health,
            workers,
            crm,
        })
    }

    /// The CRM state of the identity join (None when it is off).
    pub fn crm(&self) -> Option<Arc<CrmState>> {
        self.crm.clone()
    }

    /// Shared totals (live while running).
    pub fn stats(&self) -> Arc<PipelineStats> {
        self.stats.clone()
    }

    /// The offset tracker (in-flight batches), for progress displays and tests.
    pub fn tracker(&self) -> Arc<crate::state::offsets::OffsetTracker> {
        self.source.tracker().clone()
    }

    /// Runs until `stop` is set, then drains in-flight work and commits.
    pub fn run(self, stop: Arc<AtomicBool>, observer: Option<BatchObserver>) -> Result<()> {
        let Pipeline {
            config,
            enricher,
            source,
            dlq,
            stats,
            health,
            workers,
            crm,
        } = self;
        let join = crm.as_ref().map(|c| c.join().clone());
        let spam = SpamDetector::new(config.spam.clone())
            .map_err(|e| crate::config::prefix_key("spam", e))?;
        let (tx, rx) = row_channel::<MentionEnvelope>(config.pipeline.channel_capacity_rows);
        let downstream = {
            let stats = stats.clone();
            let config_enrich = config.pipeline.enrich;
            std::thread::Builder::new()
                .name("sb-downstream".into())
                .spawn(move || terminal_stage(rx, spam, config_enrich, stats, observer))
                .map_err(|e| {
                    crate::PipelineError::Runtime(format!("cannot spawn downstream: {e}"))
                })?
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
                    enricher.clone(),
                    join.clone(),
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
        if let Some(crm) = &crm {
            crm.shutdown();
        }
        health.set_ready(false, "stopped");
        result
    }
}

/// The last stage as built today: drops spam (counted), acknowledges batches
/// and records latency.
fn terminal_stage(
    rx: RowReceiver<MentionEnvelope>,
    mut spam: SpamDetector,
    enrich: bool,
    stats: Arc<PipelineStats>,
    mut observer: Option<BatchObserver>,
) {
    let spam_in = metrics::counter!(m::STAGE_RECORDS_IN, "stage" => m::stage::SPAM);
    let spam_by_reason =
        spam::reason::ALL.map(|r| metrics::counter!(m::SPAM_DROPPED, "reason" => r));
    let spam_tracked = metrics::gauge!(m::SPAM_TRACKED_TEXTS);
    let out = metrics::counter!(m::STAGE_RECORDS_OUT, "stage" => m::stage::SINK);
    let inn = metrics::counter!(m::STAGE_RECORDS_IN, "stage" => m::stage::SINK);
    let e2e = metrics::histogram!(m::E2E_LATENCY);
    let proc = metrics::histogram!(m::PROCESSING_LATENCY);
    let channel_rows = metrics::gauge!(m::CHANNEL_ROWS);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Recv::Item(env) => {
                spam_in.increment(env.batch.num_rows() as u64);
                let batch = match if enrich {
                    drop_spam(&mut spam, &env.batch)
                } else {
                    Ok(env.batch.clone())
                } {
                    Ok(b) => b,
                    Err(e) => {
                        // A programming fault, not data: keep the input uncommitted.
                        error!(error = %e, "spam stage failed; batch not acknowledged");
                        env.ack.fail();
                        continue;
                    }
                };
                let st = spam.take_stats();
                stats.spam_dropped.fetch_add(st.spam, Ordering::Relaxed);
                for (c, n) in spam_by_reason.iter().zip(st.spam_by_reason) {
                    if n > 0 {
                        c.increment(n);
                    }
                }
                spam_tracked.set(spam.tracked_texts() as f64);
                let rows = batch.num_rows() as u64;
                inn.increment(rows);
                if let Some(obs) = observer.as_mut() {
                    obs(&batch);
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

/// Runs the spam detector and removes the spam rows.
fn drop_spam(spam: &mut SpamDetector, batch: &RecordBatch) -> Result<RecordBatch> {
    let marked = spam.detect_batch(batch)?;
    let is_spam = marked
        .column_by_name(spam::col::IS_SPAM)
        .and_then(|c| c.as_boolean_opt().cloned())
        .ok_or_else(|| {
            crate::PipelineError::Runtime("spam stage produced no is_spam column".into())
        })?;
    if is_spam.true_count() == 0 {
        return Ok(marked);
    }
    let keep = arrow::compute::not(&is_spam)?;
    Ok(arrow::compute::filter_record_batch(&marked, &keep)?)
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
