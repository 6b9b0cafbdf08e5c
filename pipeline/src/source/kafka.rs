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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tracing::{error, info, warn};

use super::batch::{MessageBatch, WorkerQueue};
use super::context::{consumer_config, SourceContext, DEFAULT_SESSION_TIMEOUT_MS};
use super::flow::FlowControl;
use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::metrics::{self as m, Health};
use crate::state::offsets::OffsetTracker;

/// What a worker thread does with the messages it polls.
pub trait WorkerHandler: Send {
    /// Handles one polled batch (never empty).
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>);
    /// Called after every poll, also empty ones: flush what is due.
    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>);
    /// Called once when the worker stops: flush everything.
    fn on_stop(&mut self, tracker: &Arc<OffsetTracker>);
}

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

/// Asks a source's control thread to leave its group and join it again
/// ([`KafkaSource::rejoin_handle`]); usable from worker threads.
#[derive(Clone, Default)]
pub struct Rejoin(Arc<AtomicBool>);

impl Rejoin {
    /// Requests a rejoin; the control thread serves it within its next
    /// loop, at most once per [`REJOIN_MIN_INTERVAL`].
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn pending(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Rejoins are at least this far apart (a burst of requests is one).
pub const REJOIN_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// The running source: consumer plus worker threads.
pub struct KafkaSource {
    consumer: Arc<BaseConsumer<SourceContext>>,
    queues: Vec<Arc<WorkerQueue>>,
    tracker: Arc<OffsetTracker>,
    commit_interval: Duration,
    drain_timeout: Duration,
    topic: String,
    topics: Vec<String>,
    rejoin: Rejoin,
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
            Duration::from_millis(config.pipeline.liveness_stall_ms),
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
            topics: topics.iter().map(|t| t.to_string()).collect(),
            rejoin: Rejoin::default(),
            flow,
        })
    }

    /// A handle that makes this source leave its group and join it again:
    /// every assigned partition is revoked (drained as on any rebalance)
    /// and assigned anew, each resuming from its committed offset with a
    /// new assignment generation. The keyed stage asks for it after an
    /// aborted transaction, so that the partitions it poisoned go back to
    /// their last commit instead of stalling until some other rebalance.
    pub fn rejoin_handle(&self) -> Rejoin {
        self.rejoin.clone()
    }

    /// Serves a pending rejoin request (see [`Self::rejoin_handle`]).
    fn serve_rejoin(&self, last: &mut Instant) {
        if !self.rejoin.pending() || last.elapsed() < REJOIN_MIN_INTERVAL {
            return;
        }
        self.rejoin.0.store(false, Ordering::Release);
        *last = Instant::now();
        warn!(topic = %self.topic, "leaving and rejoining the group: every partition resumes from its committed offset");
        self.consumer.unsubscribe();
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        if let Err(e) = self.consumer.subscribe(&topics) {
            error!(error = %e, "cannot subscribe again; retrying");
            self.rejoin.request();
        }
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
        let threads = self.spawn_workers(&workers_stop, max_poll_records, make_handler)?;
        let mut last_commit = Instant::now();
        let mut last_rejoin = Instant::now() - REJOIN_MIN_INTERVAL;
        while !stop.load(Ordering::Acquire) {
            self.serve_rejoin(&mut last_rejoin);
            if let Some(res) = self.consumer.poll(Duration::from_millis(50)) {
                match res {
                    Ok(msg) => self.reroute(msg),
                    Err(e) => {
                        warn!(error = %e, "consumer error");
                        metrics::counter!(m::SOURCE_ERRORS, "kind" => "consume").increment(1);
                    }
                }
            }
            metrics::gauge!(m::IN_FLIGHT_BATCHES).set(self.tracker.in_flight() as f64);
            self.flow.check(self.consumer.as_ref(), &self.tracker);
            if last_commit.elapsed() >= self.commit_interval {
                self.commit_and_check_stalled();
                last_commit = Instant::now();
            }
        }

        info!(topic = %self.topic, "stopping source: draining workers");
        workers_stop.store(true, Ordering::Release);
        for t in threads {
            let _ = t.join();
        }
        wait_drained(self.drain_timeout);
        self.shut_down();
        Ok(())
    }

    /// Spawns one thread per worker queue, each polling its queue and
    /// driving the handler `make_handler(worker_index)` until `workers_stop`.
    fn spawn_workers<H, F>(
        &self,
        workers_stop: &Arc<AtomicBool>,
        max_poll_records: usize,
        make_handler: F,
    ) -> Result<Vec<std::thread::JoinHandle<()>>>
    where
        H: WorkerHandler + 'static,
        F: Fn(usize) -> H,
    {
        let mut threads = Vec::new();
        for (i, q) in self.queues.iter().enumerate() {
            let q = q.clone();
            let tracker = self.tracker.clone();
            let wstop = workers_stop.clone();
            let mut handler = make_handler(i);
            let health = self.consumer.context().health.clone();
            let t = std::thread::Builder::new()
                .name(format!("sb-source-{i}"))
                .spawn(move || {
                    let _alive = health.guard_thread();
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
        Ok(threads)
    }

    /// A message on the control queue: its partition's queue was not
    /// forwarded. Rewinds the partition so the record is re-fetched through
    /// a worker, and forwards it now.
    fn reroute(&self, msg: rdkafka::message::BorrowedMessage<'_>) {
        use rdkafka::Message;
        warn!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            "message on the control queue; re-routing partition"
        );
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(msg.topic(), msg.partition());
        let (topic, partition, offset) = (msg.topic().to_string(), msg.partition(), msg.offset());
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

    /// Commits what is done and reports partitions stalled by failed
    /// outputs as a health condition.
    fn commit_and_check_stalled(&self) {
        self.consumer
            .context()
            .commit_done(&self.consumer, CommitMode::Async);
        let stalled = self.tracker.stalled();
        self.consumer.context().health.set_condition(
            "stalled",
            (!stalled.is_empty())
                .then(|| format!("{} partition(s) stalled by failed outputs", stalled.len())),
        );
    }

    /// After the workers stopped: waits (bounded) for in-flight batches to
    /// be acknowledged, commits, leaves the group and closes the consumer.
    fn shut_down(self) {
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
    }
}
