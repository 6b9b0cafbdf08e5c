//! Kafka source: one group consumer, several worker threads, batched polls.
//!
//! The consumer joins the group through `rdkafka`'s [`BaseConsumer`]; its
//! control thread (the caller of [`KafkaSource::run`]) serves rebalances,
//! statistics and offset commits. Each assigned partition's fetch queue is
//! forwarded, *before* the assignment takes effect, to the librdkafka queue
//! of one worker (`partition % workers`), so a partition is always read by
//! the same thread in order. Workers take up to `max_poll_records` messages
//! per call with `rd_kafka_consume_batch_queue` — one wake-up per batch, no
//! per-message allocation — and hand them to a [`WorkerHandler`] as borrowed
//! slices; messages are released when the batch is reused.
//!
//! Offsets are never auto-stored: handlers register each flushed batch with
//! the [`OffsetTracker`], and the control thread commits only offsets whose
//! outputs have all been acknowledged.

use std::ffi::{CStr, CString};
use std::os::raw::c_void;
use std::ptr;
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

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::metrics::{self as m, Health};
use crate::source::flow::FlowControl;
use crate::state::offsets::{OffsetTracker, TopicPartition};

/// One message of a polled batch, borrowed from librdkafka's buffers.
#[derive(Debug, Clone, Copy)]
pub struct RawMessage<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Record key, if any.
    pub key: Option<&'a [u8]>,
    /// Record value (empty for a null value).
    pub payload: &'a [u8],
    /// Record timestamp (create or log-append time), ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// A reusable array of messages taken from a worker queue.
pub struct MessageBatch {
    msgs: Vec<*mut rdsys::rd_kafka_message_t>,
    len: usize,
    topic_cache: Vec<(*const c_void, Arc<str>)>,
}

// The message pointers are owned by this batch until destroyed; librdkafka
// messages may be destroyed from any thread.
unsafe impl Send for MessageBatch {}

impl MessageBatch {
    /// An empty batch able to hold `capacity` messages.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            msgs: vec![ptr::null_mut(); capacity.max(1)],
            len: 0,
            topic_cache: Vec::new(),
        }
    }

    /// Number of messages (including error events) held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no message is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn release(&mut self) {
        for m in &mut self.msgs[..self.len] {
            // SAFETY: each pointer came from rd_kafka_consume_batch_queue and is destroyed once.
            unsafe { rdsys::rd_kafka_message_destroy(*m) };
            *m = ptr::null_mut();
        }
        self.len = 0;
    }

    fn topic_name(&mut self, rkt: *mut rdsys::rd_kafka_topic_t) -> Arc<str> {
        let key = rkt as *const c_void;
        if let Some((_, name)) = self.topic_cache.iter().find(|(k, _)| *k == key) {
            return name.clone();
        }
        // SAFETY: rkt is a live topic handle of a live message; the name is NUL-terminated.
        let name: Arc<str> = unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(rkt)) }
            .to_string_lossy()
            .into();
        self.topic_cache.push((key, name.clone()));
        name
    }

    /// Visits every message: `Ok` for records, `Err(code, text)` for consumer
    /// errors delivered in-band (partition EOF is skipped).
    pub fn for_each(
        &mut self,
        mut f: impl FnMut(std::result::Result<RawMessage<'_>, (i32, String)>, &Arc<str>),
    ) {
        // One topic-name lookup per run of messages from the same topic handle,
        // and no reference-count traffic per message.
        let mut current: (*mut rdsys::rd_kafka_topic_t, Arc<str>) =
            (ptr::null_mut(), Arc::from(""));
        for i in 0..self.len {
            let m = self.msgs[i];
            // SAFETY: m is a valid message until release().
            let msg = unsafe { &*m };
            if msg.rkt != current.0 && !msg.rkt.is_null() {
                current = (msg.rkt, self.topic_name(msg.rkt));
            }
            let topic = &current.1;
            if msg.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                if msg.err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    continue;
                }
                // SAFETY: librdkafka returns a static or message-owned C string.
                let text = unsafe {
                    let p = rdsys::rd_kafka_message_errstr(m);
                    if p.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(p).to_string_lossy().into_owned()
                    }
                };
                f(Err((msg.err as i32, text)), topic);
                continue;
            }
            // SAFETY: payload/key point at len bytes owned by the message.
            let payload = if msg.payload.is_null() {
                &[][..]
            } else {
                unsafe { std::slice::from_raw_parts(msg.payload as *const u8, msg.len) }
            };
            let key = if msg.key.is_null() {
                None
            } else {
                Some(unsafe { std::slice::from_raw_parts(msg.key as *const u8, msg.key_len) })
            };
            let mut ts_type = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
            // SAFETY: valid message, out-pointer to a local.
            let ts = unsafe { rdsys::rd_kafka_message_timestamp(m, &mut ts_type) };
            let raw = RawMessage {
                topic,
                partition: msg.partition,
                offset: msg.offset,
                key,
                payload,
                timestamp_ms: (ts >= 0).then_some(ts),
            };
            f(Ok(raw), topic);
        }
    }
}

impl Drop for MessageBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// A librdkafka queue owned by one worker; assigned partitions forward here.
pub struct WorkerQueue {
    ptr: *mut rdsys::rd_kafka_queue_t,
}

// librdkafka queues are thread-safe.
unsafe impl Send for WorkerQueue {}
unsafe impl Sync for WorkerQueue {}

impl WorkerQueue {
    fn new(rk: *mut rdsys::rd_kafka_t) -> Self {
        // SAFETY: rk is a live client handle.
        Self {
            ptr: unsafe { rdsys::rd_kafka_queue_new(rk) },
        }
    }

    /// Waits up to `timeout` for messages and fills `batch` (releasing what it held).
    pub fn poll_batch(&self, timeout: Duration, batch: &mut MessageBatch) -> usize {
        batch.release();
        let cap = batch.msgs.len();
        // SAFETY: queue is live; the array has `cap` slots.
        let n = unsafe {
            rdsys::rd_kafka_consume_batch_queue(
                self.ptr,
                timeout.as_millis() as i32,
                batch.msgs.as_mut_ptr(),
                cap,
            )
        };
        batch.len = if n < 0 { 0 } else { n as usize };
        batch.len
    }
}

impl Drop for WorkerQueue {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_queue_new, destroyed once.
        unsafe { rdsys::rd_kafka_queue_destroy(self.ptr) };
    }
}

/// What a worker thread does with the messages it polls.
pub trait WorkerHandler: Send {
    /// Handles one polled batch (never empty).
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>);
    /// Called after every poll, also empty ones: flush what is due.
    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>);
    /// Called once when the worker stops: flush everything.
    fn on_stop(&mut self, tracker: &Arc<OffsetTracker>);
}

/// Consumer context: forwards partition queues to workers before each
/// assignment, drains and commits on revocation, exports lag metrics.
pub struct SourceContext {
    /// Worker queues; emptied before the consumer is destroyed, because
    /// librdkafka's destroy waits for every queue handle to be released.
    queues: Mutex<Vec<Arc<WorkerQueue>>>,
    tracker: Arc<OffsetTracker>,
    /// How long a revocation waits for in-flight batches: the drain
    /// timeout, but at most half the session timeout. A member that spends
    /// longer in its revoke callback is evicted from the group (seen on the
    /// embedded broker: the commit then fails with `UnknownMemberId` and the
    /// member rejoins); what is not drained in time is re-read by the next
    /// owner.
    revoke_wait: Duration,
    health: Arc<Health>,
    /// The handlers commit the offsets in their Kafka transactions
    /// (`pipeline.delivery = "exactly_once"`): the source only tracks them.
    commit_by_transactions: AtomicBool,
}

impl SourceContext {
    fn forward(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
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
    fn commit_done(&self, consumer: &BaseConsumer<Self>, mode: CommitMode) {
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
const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

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

/// Reads the consumer's current group metadata (see
/// [`KafkaSource::group_metadata`]); holds no reference that would keep the
/// consumer alive.
#[derive(Clone)]
pub struct GroupMetadata(std::sync::Weak<BaseConsumer<SourceContext>>);

impl GroupMetadata {
    /// The metadata now, or `None` once the consumer is gone.
    pub fn get(&self) -> Option<rdkafka::consumer::ConsumerGroupMetadata> {
        self.0.upgrade()?.group_metadata()
    }
}

/// The running source: consumer plus worker threads.
pub struct KafkaSource {
    consumer: Arc<BaseConsumer<SourceContext>>,
    queues: Vec<Arc<WorkerQueue>>,
    tracker: Arc<OffsetTracker>,
    commit_interval: Duration,
    drain_timeout: Duration,
    topic: String,
    flow: FlowControl,
}

impl KafkaSource {
    /// Creates the consumer with `workers` worker queues and subscribes to
    /// `topics` (the handlers see each message's topic).
    pub fn subscribe(
        config: &Config,
        group_id: &str,
        topics: &[&str],
        workers: usize,
        health: Arc<Health>,
    ) -> Result<Self> {
        let tracker = OffsetTracker::new();
        let drain_timeout = Duration::from_millis(config.source.drain_timeout_ms);
        let flow = FlowControl::new(
            config.pipeline.memory_budget_mb,
            Duration::from_millis(config.pipeline.output_stall_ms),
            health.clone(),
        );
        let client_config = consumer_config(config, group_id);
        let session_ms = client_config
            .get("session.timeout.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(DEFAULT_SESSION_TIMEOUT_MS);
        let ctx = SourceContext {
            queues: Mutex::new(Vec::new()),
            tracker: tracker.clone(),
            revoke_wait: drain_timeout.min(Duration::from_millis(session_ms / 2)),
            health,
            commit_by_transactions: AtomicBool::new(false),
        };
        let consumer: BaseConsumer<SourceContext> = client_config.create_with_context(ctx)?;
        let rk = consumer.client().native_ptr();
        let queues: Vec<Arc<WorkerQueue>> = (0..workers.max(1))
            .map(|_| Arc::new(WorkerQueue::new(rk)))
            .collect();
        *consumer.context().queues.lock().expect("queues poisoned") = queues.clone();
        consumer.subscribe(topics)?;
        Ok(Self {
            consumer: Arc::new(consumer),
            queues,
            tracker,
            commit_interval: Duration::from_millis(config.source.commit_interval_ms),
            drain_timeout,
            topic: topics.join(","),
            flow,
        })
    }

    /// The offset tracker shared with the handlers.
    pub fn tracker(&self) -> &Arc<OffsetTracker> {
        &self.tracker
    }

    /// Leaves offset commits to the handlers' transactions: the source
    /// still tracks acknowledgements (drain on revoke and stop) but never
    /// commits itself.
    pub fn commit_by_transactions(&self) {
        self.consumer
            .context()
            .commit_by_transactions
            .store(true, Ordering::Relaxed);
    }

    /// The consumer's group metadata (member and generation) as of each
    /// call, for `send_offsets_to_transaction`; usable from worker threads.
    pub fn group_metadata(&self) -> GroupMetadata {
        GroupMetadata(Arc::downgrade(&self.consumer))
    }

    /// Runs until `stop` is set: spawns one thread per worker queue with the
    /// handler built by `make_handler(worker_index)`, serves the consumer in
    /// the calling thread, then stops the workers, waits (bounded) for
    /// in-flight batches to be acknowledged, commits and leaves the group.
    /// `wait_drained` is called after the workers stopped so the caller can
    /// let downstream stages finish before the final commit.
    pub fn run<H, F>(
        mut self,
        stop: Arc<AtomicBool>,
        max_poll_records: usize,
        make_handler: F,
        wait_drained: impl FnOnce(Duration),
    ) -> Result<()>
    where
        H: WorkerHandler + 'static,
        F: Fn(usize) -> H,
    {
        let workers_stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, q) in self.queues.iter().enumerate() {
            let q = q.clone();
            let tracker = self.tracker.clone();
            let wstop = workers_stop.clone();
            let mut handler = make_handler(i);
            let t = std::thread::Builder::new()
                .name(format!("sb-source-{i}"))
                .spawn(move || {
                    let mut batch = MessageBatch::with_capacity(max_poll_records);
                    while !wstop.load(Ordering::Acquire) {
                        if q.poll_batch(Duration::from_millis(20), &mut batch) > 0 {
                            handler.on_batch(&mut batch, &tracker);
                        }
                        handler.on_tick(Instant::now(), &tracker);
                    }
                    drop(batch);
                    handler.on_stop(&tracker);
                })
                .map_err(|e| PipelineError::Runtime(format!("cannot spawn worker: {e}")))?;
            threads.push(t);
        }

        let mut last_commit = Instant::now();
        while !stop.load(Ordering::Acquire) {
            if let Some(res) = self.consumer.poll(Duration::from_millis(50)) {
                match res {
                    Ok(msg) => {
                        // A partition whose queue was not forwarded: rewind it so the
                        // record is re-fetched through a worker, and forward it now.
                        use rdkafka::Message;
                        warn!(
                            topic = msg.topic(),
                            partition = msg.partition(),
                            offset = msg.offset(),
                            "message on the control queue; re-routing partition"
                        );
                        let mut tpl = TopicPartitionList::new();
                        tpl.add_partition(msg.topic(), msg.partition());
                        let (topic, partition, offset) =
                            (msg.topic().to_string(), msg.partition(), msg.offset());
                        drop(msg);
                        self.consumer.context().forward(&self.consumer, &tpl);
                        if let Err(e) = self.consumer.seek(
                            &topic,
                            partition,
                            Offset::Offset(offset),
                            Duration::from_secs(5),
                        ) {
                            error!(error = %e, "seek after re-routing failed");
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "consumer error");
                        metrics::counter!(m::SOURCE_ERRORS, "kind" => "consume").increment(1);
                    }
                }
            }
            metrics::gauge!(m::IN_FLIGHT_BATCHES).set(self.tracker.in_flight() as f64);
            self.flow.check(self.consumer.as_ref(), &self.tracker);
            if last_commit.elapsed() >= self.commit_interval {
                self.consumer
                    .context()
                    .commit_done(&self.consumer, CommitMode::Async);
                last_commit = Instant::now();
                let stalled = self.tracker.stalled();
                self.consumer.context().health.set_condition(
                    "stalled",
                    (!stalled.is_empty()).then(|| {
                        format!("{} partition(s) stalled by failed outputs", stalled.len())
                    }),
                );
            }
        }

        info!(topic = %self.topic, "stopping source: draining workers");
        workers_stop.store(true, Ordering::Release);
        for t in threads {
            let _ = t.join();
        }
        wait_drained(self.drain_timeout);
        let deadline = Instant::now() + self.drain_timeout;
        while self.tracker.in_flight() > 0 && Instant::now() < deadline {
            // Keep serving the consumer (commit callbacks, group heartbeats).
            let _ = self.consumer.poll(Duration::from_millis(5));
        }
        let left = self.tracker.in_flight();
        if left > 0 {
            warn!(
                batches = left,
                "shutdown timeout: uncommitted batches will be reprocessed"
            );
        }
        self.consumer
            .context()
            .commit_done(&self.consumer, CommitMode::Sync);
        // Leave the group explicitly: unsubscribe and serve the final revoke
        // (drain + commit), so the group rebalances at once instead of after
        // the session timeout. Dropping the consumer then closes it.
        self.consumer.unsubscribe();
        let deadline = Instant::now() + self.drain_timeout;
        while self.consumer.assignment().map(|a| a.count()).unwrap_or(0) > 0
            && Instant::now() < deadline
        {
            let _ = self.consumer.poll(Duration::from_millis(20));
        }
        // Release the worker queue handles, then close and destroy the consumer.
        self.consumer
            .context()
            .queues
            .lock()
            .expect("queues poisoned")
            .clear();
        let KafkaSource {
            consumer, queues, ..
        } = self;
        drop(queues);
        drop(consumer);
        info!("source stopped");
        Ok(())
    }
}

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
