//! Build → wire → run.
//!
//! [`Pipeline::build`] turns a validated [`Config`] into runtime parts (DLQ
//! producer, consumer, channel, the stages); [`Pipeline::run`] wires them
//! into threads and runs until the stop flag is set, then drains and
//! commits:
//!
//! ```text
//!  Kafka `mentions` ──► source::kafka (group consumer, control thread)
//!        │ partition queues forwarded to N worker queues
//!        ▼
//!  sb-source-i  ×N : batched poll → stage::parse_worker (MentionParser → Arrow)
//!        │           → stage::stateless (language, sentiment, category,
//!        │             identity join as of the CRM snapshot, severity)
//!        │ rejected records ──► sink::dlq ──► `mentions-dlq`
//!        ▼ channel (capacity in rows: backpressure), stage::envelope
//!  sb-downstream   : stage::downstream: the stateful operators (spam,
//!                    incidents, route, correlate) → stage::emit →
//!                    sink::events `work-items`, `incidents`
//! ```
//!
//! With `pipeline.keyed_stage` the workers send each enriched batch, split
//! by customer, to `topics.repartition` instead of the channel, and a second
//! source (group `<group_id>-keyed`, thread `sb-keyed` plus its workers)
//! runs [`KeyedWorker`]s (`stage/keyed/`) over the repartition topic and
//! `crm-contacts`, with state in `topics.changelog`.
//!
//! Beside them, `CrmState` (`state/crm.rs`) loads CRM snapshot versions
//! (thread `sb-crm`, hot reload) and `UpdatesReader`
//! (`state/identity_updates.rs`, thread `sb-crm-updates`) applies
//! `crm-identity-updates`; both feed the one shared `IdentityJoin`.
//!
//! Offsets are committed by the control thread only when every output of a
//! source batch (its Arrow batch downstream, its DLQ records) is acknowledged.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::info;

use crate::channel::{row_channel, RowReceiver};
use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::metrics::{Health, PipelineStats};
use crate::sink::dlq::DlqSink;
use crate::source::kafka::KafkaSource;
use crate::stage::downstream::Downstream;
use crate::stage::envelope::MentionEnvelope;
use crate::stage::keyed::{KeyedStage, KeyedWorker};
use crate::stage::parse_worker::{ParseShared, ParseWorker};
use crate::stage::stateless::Enricher;
use crate::state::crm::CrmState;
use crate::state::offsets::OffsetTracker;

pub use crate::metrics::WorkItemTotals;
pub use crate::stage::emit::{BatchObserver, Observers};

/// A built pipeline, ready to run.
pub struct Pipeline {
    config: Config,
    parse: Arc<ParseShared>,
    source: KafkaSource,
    downstream: Downstream,
    stats: Arc<PipelineStats>,
    health: Arc<Health>,
    workers: usize,
    crm: Option<Arc<CrmState>>,
    keyed: Option<KeyedStage>,
}

impl Pipeline {
    /// Builds the runtime parts from a validated config.
    pub fn build(config: &Config, health: Arc<Health>) -> Result<Self> {
        // Unreachable brokers or refused credentials: one line, quickly.
        crate::sink::limits::check_cluster(config, Duration::from_secs(15))?;
        let workers = config.source.worker_count();
        let work_items = config.pipeline.enrich && config.pipeline.work_items;
        let enricher = Enricher::build(config)?;
        let severity = if work_items {
            Some(Arc::new(config.build_severity()?))
        } else {
            None
        };
        let stats = Arc::new(PipelineStats::default());
        let downstream = Downstream::build(config, stats.clone())?;
        let dlq = Arc::new(DlqSink::new(config)?);
        // Snapshots are loaded (and identity updates read) before the group
        // is joined, so the first mention already meets its customer.
        let crm = CrmState::start(config, &health)?.map(Arc::new);
        let keyed = if config.pipeline.keyed_stage {
            Some(KeyedStage::build(
                config,
                &downstream,
                &dlq,
                &stats,
                &health,
                workers,
            )?)
        } else {
            None
        };
        // Contacts are read by the same group when work items are produced
        // here: their offsets ride with the mentions' through the same
        // tracker. (The keyed stage reads them itself.)
        let contacts_topic = (work_items && keyed.is_none())
            .then(|| Arc::<str>::from(config.topics.crm_contacts.as_str()));
        let mut topics = vec![config.topics.mentions.as_str()];
        if contacts_topic.is_some() {
            topics.push(config.topics.crm_contacts.as_str());
        }
        let source = KafkaSource::subscribe(
            config,
            &config.kafka.group_id,
            &topics,
            workers,
            health.clone(),
        )?;
        let parse = Arc::new(ParseShared {
            parse: config.parse.build(),
            enricher,
            join: crm.as_ref().map(|c| c.join().clone()),
            severity,
            topic: config.topics.mentions.clone(),
            contacts_topic,
            max_rows: config.source.max_batch_rows,
            linger: Duration::from_millis(config.source.batch_linger_ms),
            dlq,
            stats: stats.clone(),
            repartition: keyed
                .as_ref()
                .map(|k| (k.repartition.clone(), k.partitions)),
        });
        Ok(Self {
            config: config.clone(),
            parse,
            source,
            downstream,
            stats,
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

    /// The pipeline's totals (live while running), work items included
    /// ([`PipelineStats::work_items`]).
    pub fn stats(&self) -> Arc<PipelineStats> {
        self.stats.clone()
    }

    /// Sets observers of what the downstream stage produces.
    pub fn observe(&mut self, observers: Observers) {
        self.downstream.set_observers(observers);
    }

    /// The offset tracker (in-flight batches), for progress displays and tests.
    pub fn tracker(&self) -> Arc<OffsetTracker> {
        self.source.tracker().clone()
    }

    /// Runs until `stop` is set, then drains in-flight work and commits.
    /// `observer`, when given, sees each batch after the spam filter.
    pub fn run(self, stop: Arc<AtomicBool>, observer: Option<BatchObserver>) -> Result<()> {
        let Pipeline {
            config,
            parse,
            source,
            mut downstream,
            stats: _,
            health,
            workers,
            crm,
            keyed,
        } = self;
        if observer.is_some() {
            downstream.set_batch_observer(observer);
        }
        let sinks = downstream.sinks();
        let (tx, rx) = row_channel::<MentionEnvelope>(config.pipeline.channel_capacity_rows);
        let downstream = spawn_downstream(downstream, rx, health.clone())?;
        let keyed_thread = match keyed {
            Some(k) => Some(spawn_keyed(
                k,
                stop.clone(),
                config.source.max_poll_records,
                health.clone(),
            )?),
            None => None,
        };
        info!(workers, topic = %parse.topic, group = %config.kafka.group_id, "pipeline running");
        let flush = parse.clone();
        let result = source.run(
            stop,
            config.source.max_poll_records,
            move |_i| ParseWorker::new(parse.clone(), tx.clone()),
            |timeout| {
                flush.dlq.flush(timeout);
                if let Some((r, _)) = &flush.repartition {
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
                Err(PipelineError::Runtime("keyed stage panicked".into()))
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

/// The downstream stage on its thread, `sb-downstream`.
fn spawn_downstream(
    downstream: Downstream,
    rx: RowReceiver<MentionEnvelope>,
    health: Arc<Health>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("sb-downstream".into())
        .spawn(move || {
            let _alive = health.guard_thread();
            downstream.run(rx)
        })
        .map_err(|e| PipelineError::Runtime(format!("cannot spawn downstream: {e}")))
}

/// The keyed stage's consumer on its thread, `sb-keyed` (and its workers).
fn spawn_keyed(
    k: KeyedStage,
    stop: Arc<AtomicBool>,
    max_poll: usize,
    health: Arc<Health>,
) -> Result<JoinHandle<Result<()>>> {
    let shared = k.shared.clone();
    info!(partitions = k.partitions, "keyed stage running");
    std::thread::Builder::new()
        .name("sb-keyed".into())
        .spawn(move || {
            let _alive = health.guard_thread();
            let flush = shared.clone();
            let stopping = stop.clone();
            let result = k.source.run(
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
            );
            if let Err(e) = &result {
                if !stopping.load(std::sync::atomic::Ordering::Acquire) {
                    health.set_fault("thread sb-keyed", Some(format!("stopped: {e}")));
                }
            }
            result
        })
        .map_err(|e| PipelineError::Runtime(format!("cannot spawn keyed stage: {e}")))
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
