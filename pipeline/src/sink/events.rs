//! Event sink: records (work items, incidents, repartitioned mentions, state
//! changes, dead letters) to an output topic through the shared idempotent
//! producer settings.
//!
//! Each record holds an [`Ack`] clone of the source batch that produced it:
//! the input offsets are committed only once the broker has confirmed every
//! record derived from them. A delivery that failed retriably (an output
//! outage longer than `message.timeout.ms`) is sent again after a backoff
//! ([`super::resend`]); one that fails for good fails the batch (its
//! partition stalls and `/readyz` turns not-ready), so nothing is lost.
//!
//! A sink may also be *transactional* ([`EventSink::transactional`]): its
//! producer has a `transactional.id`, [`EventSink::sibling`]s write other
//! topics through the same producer, and [`EventSink::commit_transaction`]
//! commits everything they queued together with the input offsets
//! (`pipeline.delivery = "exactly_once"`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::Counter;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use switchboard_operators::parse::DlqReason;
use tracing::{error, warn};

use super::limits::Limits;
use super::resend::{self, Pending, Retried};
use crate::config::Config;
use crate::error::Result;
use crate::metrics as m;
use crate::state::offsets::{Ack, TopicPartition};

/// Runs a transactional call (with the time left) again while it fails
/// with an error librdkafka calls retriable (a timeout, a coordinator
/// moving during a broker failure) and `deadline` has not passed; other
/// errors, and the last one, go to the caller (who aborts).
fn retrying(
    deadline: Instant,
    mut call: impl FnMut(Duration) -> rdkafka::error::KafkaResult<()>,
) -> rdkafka::error::KafkaResult<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match call(left.max(Duration::from_millis(100))) {
            Err(KafkaError::Transaction(e)) if e.is_retriable() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

/// What a record is, for the delivery metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `work-items` events.
    WorkItems,
    /// `incidents` events.
    Incidents,
    /// Enriched mentions re-keyed by customer.
    Repartition,
    /// Correlation state changes.
    Changelog,
    /// A dead letter, with its reason.
    Dlq(DlqReason),
}

const EVENT_KINDS: [&str; 4] = ["work_items", "incidents", "repartition", "changelog"];

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::WorkItems => 0,
            Kind::Incidents => 1,
            Kind::Repartition => 2,
            Kind::Changelog => 3,
            Kind::Dlq(r) => {
                EVENT_KINDS.len() + DlqReason::ALL.iter().position(|x| *x == r).unwrap_or(0)
            }
        }
    }

    /// The `sink` label (`dlq` for every reason).
    fn sink_label(self) -> &'static str {
        match self {
            Kind::Dlq(_) => "dlq",
            k => EVENT_KINDS[k.index()],
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Dlq(r) => r.as_str(),
            k => EVENT_KINDS[k.index()],
        }
    }
}

/// Delivery state carried through librdkafka for one record.
pub struct Delivery {
    ack: Ack,
    kind: Kind,
    /// How often the record was sent again after a retriable failure.
    attempts: u32,
}

impl Retried for Delivery {
    fn count_attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    fn sink_label(&self) -> &'static str {
        self.kind.sink_label()
    }

    fn fail(&self) {
        self.ack.fail();
    }
}

/// Producer context: counts deliveries by kind, fails the source batch on
/// error.
pub struct EventContext {
    /// (delivered, failed) per [`Kind::index`].
    counters: Vec<(Counter, Counter)>,
    /// Failed deliveries and enqueues, for logging them sparsely.
    errors: AtomicU64,
    /// Records over their topic's size limit, for logging them sparsely.
    oversize: AtomicU64,
    /// Where records that failed retriably go to be sent again (none for a
    /// transactional producer: its transaction aborts instead).
    resend: Option<Sender<Pending<Delivery>>>,
}

impl EventContext {
    /// Counts one failure; true for the 1st, 2nd, 4th, 8th… (a failing
    /// output logs a few lines, not one per record).
    fn log_failure(&self) -> Option<u64> {
        let n = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        n.is_power_of_two().then_some(n)
    }

    /// Counts one record over its topic's limit (`outcome`: what became of
    /// it) and logs the 1st, 2nd, 4th… of them.
    fn oversize(&self, kind: Kind, outcome: &'static str, bytes: usize, limit: usize) {
        metrics::counter!(m::SINK_OVERSIZE, "sink" => kind.sink_label(), "outcome" => outcome)
            .increment(1);
        let n = self.oversize.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            warn!(
                sink = kind.sink_label(),
                outcome,
                bytes,
                limit,
                records = n,
                "record over the topic's size limit"
            );
        }
    }
}

impl EventContext {
    fn new(resend: Option<Sender<Pending<Delivery>>>) -> Self {
        let events = EVENT_KINDS.map(|k| {
            (
                metrics::counter!(m::SINK_RECORDS, "sink" => k),
                metrics::counter!(m::SINK_FAILURES, "sink" => k),
            )
        });
        let dlq = DlqReason::ALL.map(|r| {
            (
                metrics::counter!(m::DLQ_RECORDS, "reason" => r.as_str()),
                metrics::counter!(m::DLQ_FAILURES),
            )
        });
        Self {
            counters: events.into_iter().chain(dlq).collect(),
            errors: AtomicU64::new(0),
            oversize: AtomicU64::new(0),
            resend,
        }
    }
}

impl ClientContext for EventContext {}

impl ProducerContext for EventContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Self::DeliveryOpaque) {
        let (delivered, failed) = &self.counters[d.kind.index()];
        match result {
            Ok(_) => delivered.increment(1),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), m)) => {
                // Bounded before sending, so only a limit changed since
                // startup gets here: a counted drop, not a stall.
                let bytes = m.payload().map_or(0, <[u8]>::len);
                self.oversize(d.kind, "dropped", bytes, 0);
            }
            Err((e, m)) if resend::is_retriable(e) && self.resend.is_some() => {
                let tx = self.resend.as_ref().expect("checked");
                let (kind, attempts) = (d.kind.label(), d.attempts + 1);
                match resend::queue(tx, m, d) {
                    Ok(()) => {
                        if let Some(failures) = self.log_failure() {
                            warn!(error = %e, kind, attempts, failures, "delivery failed retriably; sending again after a backoff");
                        }
                    }
                    Err(d) => {
                        failed.increment(1);
                        d.ack.fail();
                    }
                }
            }
            Err((e, _)) => {
                failed.increment(1);
                if let Some(failures) = self.log_failure() {
                    error!(error = %e, kind = d.kind.label(), failures, "delivery failed; source partition stalls");
                }
                d.ack.fail();
            }
        }
    }
}

/// A producer of records to one topic (thread-safe).
pub struct EventSink {
    producer: Arc<ThreadedProducer<EventContext>>,
    topic: String,
    kind: Kind,
    /// The size limits read at startup.
    limits: Arc<Limits>,
    /// What one record's key, value and headers may hold on `topic`.
    capacity: usize,
    /// A transactional call on the producer never returned (see
    /// [`EventSink::send_offsets_bounded`]): it must not be used again.
    abandoned: Arc<AtomicBool>,
}

impl EventSink {
    /// Creates the producer for `topic`; `kind` labels its metrics. Reads
    /// the topic's size limit from the cluster ([`Limits::read`]).
    pub fn new(config: &Config, topic: &str, kind: Kind) -> Result<Self> {
        let limits = Arc::new(Limits::read(config, &[topic]));
        let mut c = super::producer_config(config);
        cap_batch_size(config, &mut c, &limits, &[topic]);
        let (tx, rx) = std::sync::mpsc::channel();
        let producer = Arc::new(c.create_with_context(EventContext::new(Some(tx)))?);
        resend::spawn(Arc::downgrade(&producer), rx);
        let fresh = Arc::default(); // a new producer: not abandoned
        Ok(Self::with(producer, topic, kind, limits, fresh))
    }

    /// A sink on `producer` for `topic`; `abandoned` is the producer's flag,
    /// shared by every sink on it (a new one for a new producer).
    fn with(
        producer: Arc<ThreadedProducer<EventContext>>,
        topic: &str,
        kind: Kind,
        limits: Arc<Limits>,
        abandoned: Arc<AtomicBool>,
    ) -> Self {
        Self {
            producer,
            topic: topic.to_string(),
            kind,
            capacity: limits.record_capacity(topic),
            limits,
            abandoned,
        }
    }

    /// Creates a transactional producer (`transactional.id` = `id`) for
    /// `topic` and the `siblings` topics it will also write, registers it
    /// with the broker (fencing an earlier producer of the same id) and
    /// begins the first transaction.
    pub fn transactional(
        config: &Config,
        id: &str,
        topic: &str,
        kind: Kind,
        siblings: &[&str],
        timeout: Duration,
    ) -> Result<Self> {
        let mut all = vec![topic];
        all.extend_from_slice(siblings);
        let limits = Arc::new(Limits::read(config, &all));
        let mut c = super::producer_config(config);
        cap_batch_size(config, &mut c, &limits, &all);
        c.set("transactional.id", id);
        // A crashed owner's open transaction holds back read_committed
        // readers until the broker aborts it after this long; overridable.
        let txn_timeout = (config.pipeline.checkpoint_interval_ms * 3).max(10_000);
        config.client_default(&mut c, "transaction.timeout.ms", txn_timeout.to_string());
        // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
        let txn_timeout: u64 = c
            .get("transaction.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(txn_timeout);
        let msg_timeout = match config.sink.message_timeout_ms {
            0 => txn_timeout,
            t => t.min(txn_timeout),
        };
        c.set("message.timeout.ms", msg_timeout.to_string());
        let producer: ThreadedProducer<EventContext> =
            c.create_with_context(EventContext::new(None))?;
        producer.init_transactions(timeout)?;
        producer.begin_transaction()?;
        let fresh = Arc::default(); // a new producer: not abandoned
        Ok(Self::with(Arc::new(producer), topic, kind, limits, fresh))
    }

    /// A sink for another topic through the same producer (and, when it is
    /// transactional, the same transactions).
    pub fn sibling(&self, topic: &str, kind: Kind) -> Self {
        Self::with(
            self.producer.clone(),
            topic,
            kind,
            self.limits.clone(),
            self.abandoned.clone(),
        )
    }

    /// What one record's key, value and headers may hold on this sink's
    /// topic (its size limit less the batch framing).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Counts a record over the limit that the caller dealt with itself
    /// (`split`, `truncated`).
    pub fn count_oversize(&self, kind: Kind, outcome: &'static str, bytes: usize) {
        self.producer
            .context()
            .oversize(kind, outcome, bytes, self.capacity);
    }

    /// Commits the open transaction with the consumer offsets `offsets`
    /// (next offset to read, per topic-partition) of the group `group`,
    /// then begins the next one. On error the caller aborts
    /// ([`EventSink::abort_transaction`]).
    pub fn commit_transaction(
        &self,
        offsets: &[(TopicPartition, i64)],
        group: ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        if !offsets.is_empty() {
            let mut tpl = TopicPartitionList::with_capacity(offsets.len());
            for ((topic, p), next) in offsets {
                tpl.add_partition_offset(topic, *p, Offset::Offset(*next))?;
            }
            self.send_offsets_bounded(&tpl, group, deadline)?;
        }
        retrying(deadline, |t| self.producer.commit_transaction(t))?;
        self.producer.begin_transaction()?;
        Ok(())
    }

    /// `send_offsets_to_transaction` (retried like [`retrying`]), bounded
    /// by `deadline`. librdkafka 2.12 ignores that call's timeout and can
    /// block for good when the consumer group's coordinator went away
    /// (librdkafka issues 5456 and 5511; seen here with the coordinator's
    /// broker SIGKILLed: blocked for minutes, also after the broker came
    /// back). So the call runs on a thread of its own; one that outlives
    /// the deadline by 5 s is left behind with its producer, which is
    /// marked abandoned: [`Self::abort_transaction`] then fails at once and
    /// the caller replaces the producer.
    fn send_offsets_bounded(
        &self,
        offsets: &TopicPartitionList,
        group: ConsumerGroupMetadata,
        deadline: Instant,
    ) -> Result<()> {
        let (producer, offsets) = (self.producer.clone(), offsets.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sb-txn-offsets".into())
            .spawn(move || {
                let r = retrying(deadline, |t| {
                    producer.send_offsets_to_transaction(&offsets, &group, t)
                });
                let _ = tx.send(r);
            })
            .map_err(|e| crate::PipelineError::Runtime(format!("cannot spawn a thread: {e}")))?;
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        match rx.recv_timeout(wait) {
            Ok(r) => Ok(r?),
            Err(_) => {
                self.abandoned.store(true, Ordering::Release);
                Err(crate::PipelineError::Runtime(format!(
                    "sending offsets to the transaction did not return within {} ms; producer given up",
                    wait.as_millis()
                )))
            }
        }
    }

    /// Aborts the open transaction (its records are marked aborted) and
    /// begins the next one.
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        if self.abandoned.load(Ordering::Acquire) {
            return Err(crate::PipelineError::Runtime(
                "the producer was given up (a transactional call never returned)".into(),
            ));
        }
        self.producer.abort_transaction(timeout)?;
        self.producer.begin_transaction()?;
        Ok(())
    }

    /// Queues one event; blocks while librdkafka's queue is full (the
    /// producer polls in its own thread), which is backpressure upstream.
    pub fn send(&self, key: &str, payload: &[u8], ack: Ack) {
        self.send_to(None, Some(key.as_bytes()), Some(payload), ack);
    }

    /// Queues one record to an explicit partition (or the partitioner's,
    /// `None`), with an optional key and value (`None`: a tombstone);
    /// blocks like [`EventSink::send`].
    pub fn send_to(
        &self,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        ack: Ack,
    ) {
        self.send_record(partition, key, payload, None, self.kind, ack);
    }

    /// Queues one record with headers, counted as `kind`; blocks like
    /// [`EventSink::send`].
    pub fn send_record(
        &self,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: Option<&OwnedHeaders>,
        kind: Kind,
        ack: Ack,
    ) {
        let bytes = key.map_or(0, <[u8]>::len)
            + payload.map_or(0, <[u8]>::len)
            + headers.map_or(0, headers_len);
        let mut payload = payload;
        if bytes > self.capacity {
            if kind == Kind::Changelog && payload.is_some() {
                // A state too large to store: a tombstone, so that a restore
                // starts the key afresh rather than from an older state.
                self.count_oversize(kind, "tombstone", bytes);
                payload = None;
            } else {
                // Dropped (its ack released: the partition goes on).
                self.count_oversize(kind, "dropped", bytes);
                return;
            }
        }
        let mut opaque = Box::new(Delivery {
            ack,
            kind,
            attempts: 0,
        });
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], Box<Delivery>> =
                BaseRecord::with_opaque_to(&self.topic, opaque);
            if let Some(v) = payload {
                record = record.payload(v);
            }
            if let Some(k) = key {
                record = record.key(k);
            }
            if let Some(p) = partition {
                record = record.partition(p);
            }
            if let Some(h) = headers {
                record = record.headers(h.clone());
            }
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    opaque = r.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    self.count_oversize(kind, "dropped", bytes);
                    return;
                }
                Err((e, r)) => {
                    self.producer.context().counters[kind.index()]
                        .1
                        .increment(1);
                    if let Some(failures) = self.producer.context().log_failure() {
                        error!(error = %e, topic = %self.topic, failures, "enqueue failed; source partition stalls");
                    }
                    r.delivery_opaque.ack.fail();
                    return;
                }
            }
        }
    }

    /// The topic's partition count, from the broker's metadata.
    pub fn partition_count(&self, timeout: Duration) -> Result<i32> {
        self.partition_count_of(&self.topic, timeout)
    }

    /// Another topic's partition count, through this sink's connection.
    pub fn partition_count_of(&self, topic: &str, timeout: Duration) -> Result<i32> {
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(topic), timeout)?;
        let n = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len() as i32);
        if n == 0 {
            return Err(crate::PipelineError::Runtime(format!(
                "topic `{topic}` does not exist or has no partitions"
            )));
        }
        Ok(n)
    }

    /// The topic this sink writes.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits for queued events to be delivered.
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}

/// The bytes a record's headers take (keys and values).
pub fn headers_len(h: &OwnedHeaders) -> usize {
    use rdkafka::message::Headers;
    h.iter()
        .map(|x| x.key.len() + x.value.map_or(0, <[u8]>::len) + 2)
        .sum()
}

/// Caps the producer's `batch.size` to the smallest limit of the topics it
/// writes, unless `[kafka.properties]` sets it.
fn cap_batch_size(
    config: &Config,
    c: &mut rdkafka::ClientConfig,
    limits: &Limits,
    topics: &[&str],
) {
    config.client_default(c, "batch.size", limits.batch_size(topics).to_string());
}
