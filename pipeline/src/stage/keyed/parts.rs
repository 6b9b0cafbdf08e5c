//! The keyed stage's parts, built from config: its sinks (repartition,
//! changelog, and the work-item and incident sinks it shares with the
//! downstream stage), the co-partitioning check, the keyed consumer and,
//! with `exactly_once`, one transactional producer per worker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::info;

use super::{KeyedShared, Outputs, Transactions};
use crate::config::{Config, Delivery};
use crate::error::Result;
use crate::metrics::{Health, PipelineStats};
use crate::sink::dlq::DlqSink;
use crate::sink::events::{EventSink, Kind};
use crate::source::kafka::KafkaSource;
use crate::stage::downstream::Downstream;

/// The keyed stage's parts (`pipeline.keyed_stage`).
pub struct KeyedStage {
    /// The keyed consumer (repartition and contacts topics).
    pub source: KafkaSource,
    /// What every keyed worker shares.
    pub shared: Arc<KeyedShared>,
    /// The repartition topic's sink, for the parse workers.
    pub repartition: Arc<EventSink>,
    /// Partitions of the co-partitioned topics.
    pub partitions: i32,
}

impl KeyedStage {
    /// Builds the keyed stage's sinks and consumer; checks the
    /// co-partitioning of its topics.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        config: &Config,
        downstream: &Downstream,
        dlq: &Arc<DlqSink>,
        stats: &Arc<PipelineStats>,
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

/// This machine's name (for transactional ids), `switchboard` if unknown.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchboard".into())
}
