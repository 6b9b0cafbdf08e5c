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
//!  sb-downstream   : the stateful operators (spam, incidents, route,
//!                    correlate) → `work-items`, `incidents`
//! ```
//!
//! With `pipeline.keyed_stage` the workers send each enriched batch, split
//! by customer, to `topics.repartition` instead of the channel, and a second
//! source (group `<group_id>-keyed`, thread `sb-keyed` plus its workers)
//! runs [`KeyedWorker`](crate::source::keyed::KeyedWorker)s over the
//! repartition topic and `crm-contacts`, with state in `topics.changelog`.
//!
//! Beside them, `CrmState` (`state/crm.rs`) loads CRM snapshot versions
//! (thread `sb-crm`, hot reload) and `UpdatesReader`
//! (`source/identity_updates.rs`, thread `sb-crm-updates`) applies
//! `crm-identity-updates`; both feed the one shared `IdentityJoin`.
//!
//! Offsets are committed by the control thread only when every output of a
//! source batch (its Arrow batch downstream, its DLQ records) is acknowledged.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use switchboard_operators::classify::Classifier;
use switchboard_operators::identity_join::IdentityJoin;
use switchboard_operators::language::LanguageDetector;
use switchboard_operators::sentiment::SentimentAnalyzer;
use switchboard_operators::severity::Severity;
use tracing::info;

use crate::channel::row_channel;
use crate::config::{Config, Delivery};
use crate::downstream::Downstream;
use crate::error::Result;
use crate::metrics::{Health, SourceMetrics};
use crate::sink::dlq::DlqSink;
use crate::sink::events::{EventSink, Kind};
use crate::source::kafka::KafkaSource;
use crate::source::keyed::{KeyedShared, KeyedWorker, Outputs, Transactions};
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

    /// The whole stateless chain a worker runs after parse: enrichment, then
    /// the identity join and severity when given (the stream and `process`
    /// both call this, so they cannot drift apart).
    pub fn apply_chain(
        &self,
        batch: &RecordBatch,
        join: Option<&IdentityJoin>,
        severity: Option<&Severity>,
    ) -> Result<RecordBatch> {
        let mut b = self.apply(batch)?;
        if let Some(j) = join {
            b = j.join_batch(&b)?;
        }
        if let Some(s) = severity {
            b = s.score_batch(&b)?;
        }
        Ok(b)
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

pub use crate::downstream::{BatchObserver, Observers, WorkItemTotals};

/// A built pipeline, ready to run.
pub struct Pipeline {
    config: Config,
    enricher: Arc<Enricher>,
    severity: Option<Arc<Severity>>,
    source: KafkaSource,
    dlq: Arc<DlqSink>,
    downstream: Downstream,
    stats: Arc<PipelineStats>,
    totals: Arc<Mutex<WorkItemTotals>>,
    health: Arc<Health>,
    workers: usize,
    crm: Option<Arc<CrmState>>,
    keyed: Option<KeyedStage>,
}

/// The keyed stage's parts (`pipeline.keyed_stage`).
struct KeyedStage {
    source: KafkaSource,
    shared: Arc<KeyedShared>,
    repartition: Arc<EventSink>,
    partitions: i32,
}

impl KeyedStage {
    fn build(
        config: &Config,
        downstream: &Downstream,
        dlq: &Arc<DlqSink>,
        stats: &Arc<PipelineStats>,
        totals: &Arc<Mutex<WorkItemTotals>>,
        health: &Arc<Health>,
        workers: usize,
    ) -> Result<Self> {
        let timeout = Duration::from_secs(10);
        let repartition = Arc::new(EventSink::new(
            config,
            &config.topics.repartition,
            Kind::Repartition,
        )?);
        let changelog = Arc::new(EventSink::new(
            config,
            &config.topics.changelog,
            Kind::Changelog,
        )?);
        let partitions = repartition.partition_count(timeout)?;
        // Co-partitioning: partition p of all three holds the same customers.
        for (key, topic) in [
            ("topics.changelog", &config.topics.changelog),
            ("topics.crm_contacts", &config.topics.crm_contacts),
        ] {
            let n = repartition.partition_count_of(topic, timeout)?;
            if n != partitions {
                return Err(crate::PipelineError::Config {
                    key: key.into(),
                    reason: format!(
                        "`{topic}` has {n} partitions but `{}` has {partitions}: the keyed stage needs them co-partitioned (equal counts)",
                        config.topics.repartition
                    ),
                });
            }
        }
        let (work_items, incidents) = match downstream.sinks().as_slice() {
            [w, i] => (w.clone(), i.clone()),
            _ => {
                return Err(crate::PipelineError::Runtime(
                    "keyed stage needs the work-item and incident sinks".into(),
                ))
            }
        };
        // Range assignment gives one member partition p of both topics.
        let mut kc = config.clone();
        kc.kafka
            .properties
            .insert("partition.assignment.strategy".into(), "range".into());
        let group_id = format!("{}-keyed", config.kafka.group_id);
        let source = KafkaSource::subscribe(
            &kc,
            &group_id,
            &[&config.topics.repartition, &config.topics.crm_contacts],
            workers,
            health.clone(),
        )?;
        let transactions = if config.pipeline.delivery == Delivery::ExactlyOnce {
            source.commit_by_transactions();
            // One transactional producer per worker (pipeline.instance_id).
            let instance = match config.pipeline.instance_id.as_str() {
                "" => format!("{}-{}", host_name(), std::process::id()),
                id => id.to_string(),
            };
            let outputs = (0..workers.max(1))
                .map(|i| {
                    Outputs::transactional(config, &format!("{group_id}-{instance}-w{i}")).map(Some)
                })
                .collect::<Result<Vec<_>>>()?;
            info!(
                producers = outputs.len(),
                "keyed stage writes in Kafka transactions"
            );
            Some(Transactions {
                outputs: Mutex::new(outputs),
                group: source.group_metadata(),
            })
        } else {
            None
        };
        let shared = Arc::new(KeyedShared {
            config: config.clone(),
            repartition_topic: Arc::from(config.topics.repartition.as_str()),
            contacts_topic: Arc::from(config.topics.crm_contacts.as_str()),
            outputs: Outputs {
                work_items,
                incidents,
                changelog,
                dlq: dlq.clone(),
            },
            stats: stats.clone(),
            totals: totals.clone(),
            transactions,
        });
        Ok(Self {
            source,
            shared,
            repartition,
            partitions,
        })
    }
}

impl Pipeline {
    /// Builds the runtime parts from a validated config.
    pub fn build(config: &Config, health: Arc<Health>) -> Result<Self> {
        let workers = config.source.worker_count();
        let enricher = Enricher::build(config)?;
        let severity = if config.pipeline.enrich && config.pipeline.work_items {
            Some(Arc::new(
                Severity::new(&config.severity)
                    .map_err(|e| crate::config::prefix_key("severity", e))?,
            ))
        } else {
            None
        };
        let stats = Arc::new(PipelineStats::default());
        let totals = Arc::new(Mutex::new(WorkItemTotals::default()));
        let downstream =
            Downstream::build(config, stats.clone(), totals.clone(), Observers::default())?;
        let dlq = Arc::new(DlqSink::new(config)?);
        // Snapshots are loaded (and identity updates read) before the group
        // is joined, so the first mention already meets its customer.
        let crm = CrmState::start(config)?.map(Arc::new);
        // Contacts are read by the same group when work items are produced:
        // their offsets ride with the mentions' through the same tracker.
        let mut topics = vec![config.topics.mentions.as_str()];
        let keyed_stage = config.pipeline.keyed_stage;
        if config.pipeline.enrich && config.pipeline.work_items && !keyed_stage {
            topics.push(config.topics.crm_contacts.as_str());
        }
        let keyed = if keyed_stage {
            Some(KeyedStage::build(
                config,
                &downstream,
                &dlq,
                &stats,
                &totals,
                &health,
                workers,
            )?)
        } else {
            None
        };
        let source = KafkaSource::subscribe(
            config,
            &config.kafka.group_id,
            &topics,
            workers,
            health.clone(),
        )?;
        Ok(Self {
            config: config.clone(),
            enricher,
            severity,
            source,
            dlq,
            downstream,
            stats,
            totals,
            health,
            workers,
            crm,
            keyed,
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

    /// Work-item and incident totals (live while running).
    pub fn work_item_totals(&self) -> Arc<Mutex<WorkItemTotals>> {
        self.totals.clone()
    }

    /// Sets observers of what the downstream stage produces.
    pub fn observe(&mut self, observers: Observers) {
        self.downstream.set_observers(observers);
    }

    /// The offset tracker (in-flight batches), for progress displays and tests.
    pub fn tracker(&self) -> Arc<crate::state::offsets::OffsetTracker> {
        self.source.tracker().clone()
    }

    /// Runs until `stop` is set, then drains in-flight work and commits.
    /// `observer`, when given, sees each batch after the spam filter.
    pub fn run(self, stop: Arc<AtomicBool>, observer: Option<BatchObserver>) -> Result<()> {
        let Pipeline {
            config,
            enricher,
            severity,
            source,
            dlq,
            mut downstream,
            stats,
            totals: _,
            health,
            workers,
            crm,
            keyed,
        } = self;
        if observer.is_some() {
            downstream.set_batch_observer(observer);
        }
        let join = crm.as_ref().map(|c| c.join().clone());
        let sinks = downstream.sinks();
        let (tx, rx) = row_channel::<MentionEnvelope>(config.pipeline.channel_capacity_rows);
        let downstream = std::thread::Builder::new()
            .name("sb-downstream".into())
            .spawn(move || downstream.run(rx))
            .map_err(|e| crate::PipelineError::Runtime(format!("cannot spawn downstream: {e}")))?;
        let topic = config.topics.mentions.clone();
        let contacts_topic =
            (config.pipeline.enrich && config.pipeline.work_items && keyed.is_none())
                .then(|| config.topics.crm_contacts.clone());
        let repartition = keyed
            .as_ref()
            .map(|k| (k.repartition.clone(), k.partitions));
        let keyed_thread = match keyed {
            Some(k) => {
                let stop = stop.clone();
                let max_poll = config.source.max_poll_records;
                let shared = k.shared.clone();
                info!(partitions = k.partitions, "keyed stage running");
                Some(
                    std::thread::Builder::new()
                        .name("sb-keyed".into())
                        .spawn(move || {
                            let flush = shared.clone();
                            k.source.run(
                                stop,
                                max_poll,
                                move |i| KeyedWorker::new(shared.clone(), i),
                                move |timeout| {
                                    let o = &flush.outputs;
                                    o.dlq.flush(timeout);
                                    o.work_items.flush(timeout);
                                    o.incidents.flush(timeout);
                                    o.changelog.flush(timeout);
                                },
                            )
                        })
                        .map_err(|e| {
                            crate::PipelineError::Runtime(format!("cannot spawn keyed stage: {e}"))
                        })?,
                )
            }
            None => None,
        };
        let repartition_flush = repartition.as_ref().map(|(s, _)| s.clone());
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
                let w = ParseWorker::new(
                    parse.clone(),
                    enricher.clone(),
                    join.clone(),
                    severity.clone(),
                    contacts_topic.as_deref(),
                    max_rows,
                    linger,
                    tx.clone(),
                    dlq_for_workers.clone(),
                    SourceMetrics::new(&topic),
                    stats_for_workers.clone(),
                );
                match &repartition {
                    Some((sink, n)) => w.with_repartition(sink.clone(), *n),
                    None => w,
                }
            },
            |timeout| {
                dlq.flush(timeout);
                if let Some(r) = &repartition_flush {
                    r.flush(timeout);
                }
                for s in &sinks {
                    s.flush(timeout);
                }
            },
        );
        // The handler factory (and its sender) is dropped by now; the workers'
        // senders went with their threads, so the downstream stage sees Closed.
        let _ = downstream.join();
        let result = match keyed_thread.map(|t| t.join()) {
            Some(Ok(Err(e))) if result.is_ok() => Err(e),
            Some(Err(_)) if result.is_ok() => {
                Err(crate::PipelineError::Runtime("keyed stage panicked".into()))
            }
            _ => result,
        };
        if let Some(crm) = &crm {
            crm.shutdown();
        }
        health.set_ready(false, "stopped");
        result
    }
}

/// This machine's name (for transactional ids), `switchboard` if unknown.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
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
