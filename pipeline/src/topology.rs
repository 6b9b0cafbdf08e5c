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
//! runs [`KeyedWorker`](crate::stage::keyed::KeyedWorker)s over the
//! repartition topic and `crm-contacts`, with state in `topics.changelog`.
//!
//! Beside them, `CrmState` (`state/crm.rs`) loads CRM snapshot versions
//! (thread `sb-crm`, hot reload) and `UpdatesReader`
//! (`state/identity_updates.rs`, thread `sb-crm-updates`) applies
//! `crm-identity-updates`; both feed the one shared `IdentityJoin`.
//!
//! Offsets are committed by the control thread only when every output of a
//! source batch (its Arrow batch downstream, its DLQ records) is acknowledged.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_operators::severity::Severity;
use tracing::info;

use crate::channel::row_channel;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{Health, PipelineStats, SourceMetrics};
use crate::sink::dlq::DlqSink;
use crate::source::kafka::KafkaSource;
use crate::stage::envelope::MentionEnvelope;
use crate::stage::keyed::{KeyedStage, KeyedWorker};
use crate::stage::parse_worker::ParseWorker;
use crate::stage::stateful::Downstream;
use crate::stage::stateless::Enricher;
use crate::state::crm::CrmState;

pub use crate::stage::stateful::{BatchObserver, Observers, WorkItemTotals};

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

impl Pipeline {
    /// Builds the runtime parts from a validated config.
    pub fn build(config: &Config, health: Arc<Health>) -> Result<Self> {
        let workers = config.source.worker_count();
        let enricher = Enricher::build(config)?;
        let severity = if config.pipeline.enrich && config.pipeline.work_items {
            Some(Arc::new(config.build_severity()?))
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
