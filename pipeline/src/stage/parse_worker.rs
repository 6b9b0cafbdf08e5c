//! The source worker of the pipeline: parses each polled record straight into
//! the worker's Arrow builders (parse is stateless, so it runs on every worker
//! thread in parallel), sends rejected records to the DLQ, runs the stateless
//! chain on the batch and flushes a [`MentionEnvelope`] downstream (or, with
//! the keyed stage, the batch split by customer to the repartition topic)
//! when the batch is full or old enough.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::{parse_contact, ContactEvent, ContactRejection};
use switchboard_operators::identity_join::IdentityJoin;
use switchboard_operators::parse::{DlqReason, MentionParser, ParseConfig, SourceMeta};
use switchboard_operators::repartition::{encode_ipc_within, split_by_partition};
use switchboard_operators::severity::Severity;

use super::envelope::MentionEnvelope;
use super::stateless::Enricher;
use crate::channel::RowSender;
use crate::metrics::{PipelineStats, SourceMetrics, WorkerStageCounters};
use crate::sink::dlq::{DlqRecord, DlqSink};
use crate::sink::events::{EventSink, Kind};
use crate::source::batch::{MessageBatch, RawMessage};
use crate::source::kafka::WorkerHandler;
use crate::state::offsets::{note_next_offset, Ack, OffsetTracker, TopicPartition};

/// What every parse worker shares, built once by the topology.
pub struct ParseShared {
    /// The parse operator's settings.
    pub parse: ParseConfig,
    /// The stateless chain.
    pub enricher: Arc<Enricher>,
    /// The identity join, when a CRM snapshot is configured.
    pub join: Option<Arc<IdentityJoin>>,
    /// Severity, when work items are produced.
    pub severity: Option<Arc<Severity>>,
    /// The mention topic (metric label).
    pub topic: String,
    /// The CRM contacts topic, when this source reads it too.
    pub contacts_topic: Option<Arc<str>>,
    /// A worker flushes at this many rows…
    pub max_rows: usize,
    /// … or when its oldest buffered record is this old.
    pub linger: Duration,
    /// Where rejected records go.
    pub dlq: Arc<DlqSink>,
    /// The pipeline's totals.
    pub stats: Arc<PipelineStats>,
    /// Keyed stage on: enriched batches go to the repartition topic (sink,
    /// partition count) instead of the downstream channel.
    pub repartition: Option<(Arc<EventSink>, i32)>,
}

/// Worker handler: consume → parse → (DLQ | Arrow batch downstream).
pub struct ParseWorker {
    shared: Arc<ParseShared>,
    parser: MentionParser,
    contacts: Vec<ContactEvent>,
    parts: Vec<(TopicPartition, i64)>,
    last_part: usize,
    dlq_pending: Vec<DlqRecord>,
    records: u64,
    bytes: u64,
    oldest_ms: Option<i64>,
    started: Option<Instant>,
    tx: RowSender<MentionEnvelope>,
    metrics: SourceMetrics,
    stage: WorkerStageCounters,
}

impl ParseWorker {
    /// Creates a worker handler sending its envelopes to `tx`.
    pub fn new(shared: Arc<ParseShared>, tx: RowSender<MentionEnvelope>) -> Self {
        Self {
            parser: MentionParser::new(shared.parse.clone()),
            contacts: Vec::new(),
            parts: Vec::new(),
            last_part: 0,
            dlq_pending: Vec::new(),
            records: 0,
            bytes: 0,
            oldest_ms: None,
            started: None,
            tx,
            metrics: SourceMetrics::new(&shared.topic, &shared.stats),
            stage: WorkerStageCounters::default(),
            shared,
        }
    }

    fn note_offset(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        note_next_offset(
            &mut self.parts,
            &mut self.last_part,
            topic,
            partition,
            offset + 1,
        );
    }

    fn flush(&mut self, tracker: &Arc<OffsetTracker>) {
        if self.records == 0 && self.parts.is_empty() {
            return;
        }
        let ack = tracker.begin(&self.parts);
        self.parts.clear();
        for rec in self.dlq_pending.drain(..) {
            self.shared.dlq.send(&rec, ack.clone());
        }
        let batch = self.parser.finish();
        let stats = self.parser.take_stats();
        let rows = batch.num_rows();
        self.metrics.flush(self.records, self.bytes, rows, &stats);
        self.records = 0;
        self.bytes = 0;
        let consumed_at = self.started.take().unwrap_or_else(Instant::now);
        let oldest_record_ms = self.oldest_ms.take();
        let contacts = std::mem::take(&mut self.contacts);
        if rows == 0 && contacts.is_empty() {
            return; // only DLQ records (or nothing): their acks complete the batch
        }
        let batch = if rows > 0 {
            match self.enrich(&batch) {
                Some(b) => b,
                None => {
                    ack.fail();
                    return;
                }
            }
        } else {
            batch
        };
        if self.shared.repartition.is_some() {
            self.repartition(&batch, &ack);
            return;
        }
        // Blocks while the downstream channel is full: this is the backpressure
        // that pauses consumption (librdkafka's prefetch queue is bounded too).
        let _ = self.tx.send(MentionEnvelope {
            batch,
            contacts,
            ack,
            oldest_record_ms,
            consumed_at,
        });
    }

    /// Runs the stateless chain; `None` after a fault (logged, counted).
    fn enrich(&self, batch: &RecordBatch) -> Option<RecordBatch> {
        let s = &self.shared;
        let rows = batch.num_rows() as u64;
        self.stage.enrich_in.increment(rows);
        if s.join.is_some() {
            self.stage.identity_in.increment(rows);
        }
        match s
            .enricher
            .apply_chain(batch, s.join.as_deref(), s.severity.as_deref())
        {
            Ok(b) => {
                // Both stages are row for row: what comes out of the
                // chain came out of each.
                self.stage.enrich_out.increment(b.num_rows() as u64);
                if s.join.is_some() {
                    self.stage.identity_out.increment(b.num_rows() as u64);
                }
                Some(b)
            }
            Err(e) => {
                // Not data but a fault: never commit past it.
                tracing::error!(error = %e, "enrichment failed; batch not acknowledged");
                s.stats.enrich_errors.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Sends the batch, split by customer, to the repartition topic. Each
    /// part holds the batch's ack until the broker has it: the mention
    /// offsets commit once their repartition records are stored (the keyed
    /// stage's commits cover the rest).
    fn repartition(&self, batch: &RecordBatch, ack: &Ack) {
        let Some((sink, partitions)) = &self.shared.repartition else {
            return;
        };
        // Each record fits the topic's size limit: a part over it is
        // written as several (counted `split`).
        let max = sink.capacity();
        let parts = split_by_partition(batch, *partitions).and_then(|parts| {
            parts
                .into_iter()
                .map(|(p, b)| Ok((p, encode_ipc_within(&b, max)?)))
                .collect::<switchboard_operators::Result<Vec<_>>>()
        });
        match parts {
            Ok(parts) => {
                for (p, records) in parts {
                    if records.len() > 1 {
                        let bytes = records.iter().map(Vec::len).sum();
                        sink.count_oversize(Kind::Repartition, "split", bytes);
                    }
                    for bytes in records {
                        sink.send_to(Some(p), None, Some(&bytes), ack.clone());
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "repartition failed; batch not acknowledged");
                self.shared
                    .stats
                    .enrich_errors
                    .fetch_add(1, Ordering::Relaxed);
                ack.fail();
            }
        }
    }

    /// Parses one mention record into the batch, or keeps it for the DLQ.
    fn push_mention(&mut self, m: &RawMessage<'_>, topic: &Arc<str>, now_ms: i64) {
        self.records += 1;
        self.bytes += m.payload.len() as u64;
        if let Some(ts) = m.timestamp_ms {
            self.oldest_ms = Some(self.oldest_ms.map_or(ts, |o| o.min(ts)));
        }
        let meta = SourceMeta {
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
        };
        if let Err(rej) = self.parser.push(m.payload, &meta, now_ms) {
            self.dlq_pending
                .push(dlq_record(m, topic, rej.reason, rej.detail));
        }
    }
}

impl WorkerHandler for ParseWorker {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        self.parser.set_clock(now_ms);
        let bounds = self.shared.parse.event_time_bounds(now_ms);
        let shared = self.shared.clone();
        batch.for_each(|msg, topic| match msg {
            Ok(m) if shared.contacts_topic.as_deref() == Some(&**topic) => {
                if let Some(ev) =
                    read_contact(&m, topic, &shared.stats, bounds, &mut self.dlq_pending)
                {
                    self.contacts.push(ev);
                }
                self.note_offset(topic, m.partition, m.offset);
            }
            Ok(m) => {
                self.push_mention(&m, topic, now_ms);
                self.note_offset(topic, m.partition, m.offset);
            }
            Err((code, text)) => {
                shared.stats.fetch_error();
                tracing::warn!(code, error = %text, "consumer error in fetch stream");
            }
        });
        if self.parser.rows() >= shared.max_rows {
            self.flush(tracker);
        }
    }

    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>) {
        if self
            .started
            .is_some_and(|s| now.duration_since(s) >= self.shared.linger)
        {
            self.flush(tracker);
        }
    }

    fn on_stop(&mut self, tracker: &Arc<OffsetTracker>) {
        self.flush(tracker);
    }
}

/// Parses a CRM contact record: the event, or `None` with the record kept
/// in `dlq` for the DLQ, or dropped (counted) when its time is outside
/// `bounds` (the accepted event times, inclusive). Counted either way.
pub fn read_contact(
    m: &RawMessage<'_>,
    topic: &Arc<str>,
    stats: &PipelineStats,
    bounds: (i64, i64),
    dlq: &mut Vec<DlqRecord>,
) -> Option<ContactEvent> {
    match parse_contact(m.payload) {
        Ok(ev) if !(bounds.0..=bounds.1).contains(&ev.occurred_at_ms) => {
            stats.contact_bad_timestamp();
            None
        }
        Ok(ev) => {
            stats.contacts_in.fetch_add(1, Ordering::Relaxed);
            Some(ev)
        }
        Err(rej) => {
            stats.contacts_rejected.fetch_add(1, Ordering::Relaxed);
            dlq.push(contact_dlq_record(m, topic, &rej));
            None
        }
    }
}

/// The DLQ record of a rejected CRM contact. The DLQ's reasons are the
/// parser's: a field of the wrong type counts as missing (the detail says
/// which).
pub fn contact_dlq_record(
    m: &RawMessage<'_>,
    topic: &Arc<str>,
    rej: &ContactRejection,
) -> DlqRecord {
    let reason = match rej.reason {
        "invalid_utf8" => DlqReason::InvalidUtf8,
        "invalid_json" => DlqReason::InvalidJson,
        _ => DlqReason::MissingField,
    };
    dlq_record(m, topic, reason, rej.to_string())
}

/// The DLQ record of message `m` of `topic`: its key and payload unchanged.
pub fn dlq_record(
    m: &RawMessage<'_>,
    topic: &Arc<str>,
    reason: DlqReason,
    detail: String,
) -> DlqRecord {
    DlqRecord {
        key: m.key.map(|k| k.to_vec()),
        payload: m.payload.to_vec(),
        reason,
        detail,
        source_topic: topic.clone(),
        source_partition: m.partition,
        source_offset: m.offset,
    }
}

/// Label of a DLQ reason index, for summaries.
pub fn dlq_reason_label(i: usize) -> &'static str {
    DlqReason::ALL[i].as_str()
}
