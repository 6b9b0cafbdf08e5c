//! The demo's firehose and CRM contact events, each produced by its own
//! thread until done or until a signal asks the demo to stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use switchboard_tools::generate::contacts::{ContactGenConfig, ContactGenerator};
use switchboard_tools::generate::kafka::produce_to_topic;
use switchboard_tools::generate::mentions::{MentionGenConfig, MentionGenerator};

use crate::config::Config;

/// What to produce (from the demo's arguments).
pub(super) struct Plan {
    /// Mentions per second.
    pub(super) rate: u64,
    /// How long to produce.
    pub(super) duration: std::time::Duration,
    /// Seed of the synthetic data.
    pub(super) seed: u64,
    /// Customers in the synthetic CRM.
    pub(super) customers: usize,
}

/// The two producer threads.
pub(super) struct Producers {
    pub(super) mentions: JoinHandle<switchboard_tools::Result<u64>>,
    contacts: JoinHandle<switchboard_tools::Result<u64>>,
    /// Mentions produced so far.
    pub(super) produced: Arc<AtomicU64>,
}

impl Producers {
    /// `--rate` mentions per second for `--duration`, and CRM contact
    /// events for the same customers at a fortieth of the rate; both end
    /// early once `stop` is set.
    pub(super) fn start(
        args: &Plan,
        config: &Config,
        start_ms: i64,
        stop: Arc<AtomicBool>,
    ) -> Self {
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
            let (produced, stop) = (produced.clone(), stop.clone());
            let rate = args.rate as f64;
            std::thread::spawn(move || {
                let gen = MentionGenerator::new(gen_cfg)
                    .take_while(|_| !stop.load(Ordering::Acquire))
                    .inspect(|_| {
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
                let gen = ContactGenerator::new(cfg).take_while(|_| !stop.load(Ordering::Acquire));
                produce_to_topic(&brokers, &topic, gen, count, Some(rate))
            })
        };
        Self {
            mentions,
            contacts,
            produced,
        }
    }

    /// Mentions and contact events sent.
    pub(super) fn join(self) -> crate::Result<(u64, u64)> {
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
