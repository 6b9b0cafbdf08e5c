//! The source consumer's context and configuration: partition queues are
//! forwarded to the workers before each assignment, revoked partitions are
//! drained and committed, lag is exported from librdkafka's statistics.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::bindings as rdsys;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tracing::{debug, error, info, warn};

use super::batch::WorkerQueue;
use crate::config::Config;
use crate::metrics::{self as m, Health};
use crate::state::offsets::{OffsetTracker, TopicPartition};

/// Consumer context: forwards partition queues to workers before each
/// assignment, drains and commits on revocation, exports lag metrics.
pub struct SourceContext {
    /// Worker queues; emptied before the consumer is destroyed, because
    /// librdkafka's destroy waits for every queue handle to be released.
    pub(super) queues: Mutex<Vec<Arc<WorkerQueue>>>,
    pub(super) tracker: Arc<OffsetTracker>,
    /// How long a revocation waits for in-flight batches: the drain
    /// timeout, but at most half the session timeout. A member that spends
    /// longer in its revoke callback is evicted from the group (seen on the
    /// embedded broker: the commit then fails with `UnknownMemberId` and the
    /// member rejoins); what is not drained in time is re-read by the next
    /// owner.
    pub(super) revoke_wait: Duration,
    pub(super) health: Arc<Health>,
    /// The handlers commit the offsets in their Kafka transactions
    /// (`pipeline.delivery = "exactly_once"`): the source only tracks them.
    pub(super) commit_by_transactions: AtomicBool,
}

impl SourceContext {
    pub(super) fn forward(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let queues = self.queues.lock().expect("queues poisoned");
        if queues.is_empty() {
            return;
        }
        let rk = consumer.client().native_ptr();
        for e in tpl.elements() {
            let Ok(topic) = CString::new(e.topic()) else {
                continue;
            };
            // SAFETY: rk is live; the returned handle is ours to destroy; forwarding
            // persists on the partition's fetch queue after the handle is gone.
            unsafe {
                let pq = rdsys::rd_kafka_queue_get_partition(rk, topic.as_ptr(), e.partition());
                if pq.is_null() {
                    warn!(
                        topic = e.topic(),
                        partition = e.partition(),
                        "no partition queue to forward"
                    );
                    continue;
                }
                let wq = &queues[e.partition().unsigned_abs() as usize % queues.len()];
                rdsys::rd_kafka_queue_forward(pq, wq.ptr);
                rdsys::rd_kafka_queue_destroy(pq);
            }
        }
    }

    /// Commits what the tracker says is done, synchronously or not.
    pub(super) fn commit_done(&self, consumer: &BaseConsumer<Self>, mode: CommitMode) {
        let done = self.tracker.drain_committable();
        if done.is_empty() || self.commit_by_transactions.load(Ordering::Relaxed) {
            return;
        }
        let mut tpl = TopicPartitionList::with_capacity(done.len());
        for ((topic, p), next) in &done {
            if tpl
                .add_partition_offset(topic, *p, Offset::Offset(*next))
                .is_err()
            {
                warn!(
                    topic = &**topic,
                    partition = *p,
                    "cannot add offset to commit list"
                );
            }
        }
        match consumer.commit(&tpl, mode) {
            Ok(()) => {
                if matches!(mode, CommitMode::Sync) {
                    metrics::counter!(m::OFFSET_COMMITS).increment(1);
                }
            }
            Err(e) => {
                metrics::counter!(m::OFFSET_COMMIT_FAILURES).increment(1);
                warn!(error = %e, "offset commit failed; will retry with later offsets");
                // Hand them back so the next commit retries them.
                self.tracker.restore_committable(done);
            }
        }
    }
}

impl ClientContext for SourceContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                error!(target: "librdkafka", fac, "{log_message}")
            }
            L::Warning => warn!(target: "librdkafka", fac, "{log_message}"),
            L::Notice | L::Info => info!(target: "librdkafka", fac, "{log_message}"),
            L::Debug => debug!(target: "librdkafka", fac, "{log_message}"),
        }
    }

    fn stats(&self, stats: Statistics) {
        for (topic, t) in &stats.topics {
            for (p, ps) in &t.partitions {
                if *p < 0 || ps.consumer_lag < 0 {
                    continue;
                }
                metrics::gauge!(m::SOURCE_CONSUMER_LAG, "topic" => topic.clone(), "partition" => p.to_string()).set(ps.consumer_lag as f64);
            }
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let kind = error
            .rdkafka_error_code()
            .map(|c| format!("{c:?}"))
            .unwrap_or_else(|| "other".into());
        // Bound the label set: librdkafka's error codes are a fixed enum.
        metrics::counter!(m::SOURCE_ERRORS, "kind" => kind).increment(1);
        warn!(error = %error, reason, "kafka client error");
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<TopicPartition> = tpl
                    .elements()
                    .iter()
                    .map(|e| (Arc::from(e.topic()), e.partition()))
                    .collect();
                info!(partitions = parts.len(), "partitions assigned");
                self.tracker.assign(parts);
                self.forward(consumer, tpl);
            }
            Rebalance::Revoke(tpl) => {
                let parts: Vec<TopicPartition> = tpl
                    .elements()
                    .iter()
                    .map(|e| (Arc::from(e.topic()), e.partition()))
                    .collect();
                info!(
                    partitions = parts.len(),
                    "partitions revoked; draining in-flight batches"
                );
                // Another member owns their lag from now on: stop exporting
                // this instance's last reading.
                for (topic, p) in &parts {
                    metrics::gauge!(m::SOURCE_CONSUMER_LAG, "topic" => topic.to_string(), "partition" => p.to_string())
                        .set(0.0);
                }
                let deadline = Instant::now() + self.revoke_wait;
                while self.tracker.in_flight() > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                self.commit_done(consumer, CommitMode::Sync);
                self.tracker.revoke(parts);
            }
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        metrics::gauge!(m::SOURCE_ASSIGNED_PARTITIONS).set(n as f64);
        self.health
            .set_ready(true, &format!("consuming {n} partition(s)"));
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => metrics::counter!(m::OFFSET_COMMITS).increment(1),
            Err(e) => {
                metrics::counter!(m::OFFSET_COMMIT_FAILURES).increment(1);
                debug!(error = %e, "async commit failed; its offsets are retried");
                // Hand the offsets back: the next commit retries them (a
                // partition whose input has ended would otherwise keep its
                // last offsets uncommitted for good).
                let done: Vec<(TopicPartition, i64)> = offsets
                    .elements()
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(o) => Some(((Arc::from(e.topic()), e.partition()), o)),
                        _ => None,
                    })
                    .collect();
                self.tracker.restore_committable(done);
            }
        }
    }
}

/// The consumer's `session.timeout.ms` unless `kafka.properties` sets one.
pub(super) const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

/// Builds the consumer configuration for the mention source.
pub fn consumer_config(config: &Config, group_id: &str) -> rdkafka::ClientConfig {
    let mut c = config.client_properties();
    c.set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", &config.kafka.auto_offset_reset)
        .set("enable.partition.eof", "false")
        .set(
            "statistics.interval.ms",
            config.source.stats_interval_ms.to_string(),
        )
        .set("queued.min.messages", "100000")
        .set("fetch.wait.max.ms", "50");
    // Prefetch is bounded by an eighth of the memory budget (librdkafka's
    // default, 64 MiB, when the budget is larger); overridable.
    let kb = (config.pipeline.memory_budget_kb() / 8).clamp(1024, 65_536);
    config.client_default(&mut c, "queued.max.messages.kbytes", kb.to_string());
    // A crashed member's partitions move after this long; overridable.
    config.client_default(
        &mut c,
        "session.timeout.ms",
        DEFAULT_SESSION_TIMEOUT_MS.to_string(),
    );
    // librdkafka checks the prefetch thresholds above on each partition's
    // fetch queue, and those are forwarded to the worker queues, so once a
    // worker's queue is over them *every* partition of that worker postpones
    // its next fetch by `fetch.queue.backoff.ms` (default 1000 ms). A worker
    // drains its share of the bound in well under that and then waits:
    // stalls of up to a second whenever the consumer is behind (catch-up,
    // `bench`). Checking again after a short pause keeps the bound and the
    // pace; overridable.
    config.client_default(
        &mut c,
        "fetch.queue.backoff.ms",
        FETCH_QUEUE_BACKOFF_MS.to_string(),
    );
    c
}

/// The consumer's `fetch.queue.backoff.ms` unless `kafka.properties` sets one.
const FETCH_QUEUE_BACKOFF_MS: u64 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_queue_backoff_is_short_unless_configured() {
        let mut config = Config::default();
        let c = consumer_config(&config, "g");
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("20"));
        assert_eq!(c.get("session.timeout.ms"), Some("10000"));
        config
            .kafka
            .properties
            .insert("fetch.queue.backoff.ms".into(), "500".into());
        let c = consumer_config(&config, "g");
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("500"));
    }
}
