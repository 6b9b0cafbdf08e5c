//! The source worker of the pipeline: parses each polled record straight into
//! the worker's Arrow builders (parse is stateless, so it runs on every worker
//! thread in parallel), sends rejected records to the DLQ, and flushes a
//! [`MentionEnvelope`] downstream when the batch is full or old enough.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_operators::correlate::{parse_contact, ContactEvent};
use switchboard_operators::identity_join::IdentityJoin;
use switchboard_operators::parse::{DlqReason, MentionParser, ParseConfig, SourceMeta};
use switchboard_operators::severity::Severity;

use super::envelope::MentionEnvelope;
use super::stateless::Enricher;
use crate::channel::RowSender;
use crate::metrics::{PipelineStats, SourceMetrics};
use crate::sink::dlq::{DlqRecord, DlqSink};
use crate::source::kafka::{MessageBatch, RawMessage, WorkerHandler};
use crate::state::offsets::{note_next_offset, OffsetTracker, TopicPartition};

/// Worker handler: consume → parse → (DLQ | Arrow batch downstream).
pub struct ParseWorker {
    parser: MentionParser,
    enricher: Arc<Enricher>,
    join: Option<Arc<IdentityJoin>>,
    severity: Option<Arc<Severity>>,
    contacts_topic: Option<Arc<str>>,
    contacts: Vec<ContactEvent>,
    parts: Vec<(TopicPartition, i64)>,
    last_part: usize,
    dlq_pending: Vec<DlqRecord>,
    records: u64,
    bytes: u64,
    oldest_ms: Option<i64>,
    started: Option<Instant>,
    max_rows: usize,
    linger: Duration,
    tx: RowSender<MentionEnvelope>,
    dlq: Arc<DlqSink>,
    metrics: SourceMetrics,
    stage: crate::metrics::WorkerStageCounters,
    stats: Arc<PipelineStats>,
    /// Keyed stage on: enriched batches go to the repartition topic (sink,
    /// partition count) instead of the downstream channel.
    repartition: Option<(Arc<crate::sink::events::EventSink>, i32)>,
}

impl ParseWorker {
    /// Creates a worker handler.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        parse: ParseConfig,
        enricher: Arc<Enricher>,
        join: Option<Arc<IdentityJoin>>,
        severity: Option<Arc<Severity>>,
        contacts_topic: Option<&str>,
        max_rows: usize,
        linger: Duration,
        tx: RowSender<MentionEnvelope>,
        dlq: Arc<DlqSink>,
        metrics: SourceMetrics,
        stats: Arc<PipelineStats>,
    ) -> Self {
        Self {
            parser: MentionParser::new(parse),
            enricher,
            join,
            severity,
            contacts_topic: contacts_topic.map(Arc::from),
            contacts: Vec::new(),
            parts: Vec::new(),
            last_part: 0,
            dlq_pending: Vec::new(),
            records: 0,
            bytes: 0,
            oldest_ms: None,
            started: None,
            max_rows,
            linger,
            tx,
            dlq,
            metrics,
            stage: crate::metrics::WorkerStageCounters::default(),
            stats,
            repartition: None,
        }
    }

    /// Sends enriched batches to the repartition topic (`partitions`
    /// partitions) by customer instead of downstream.
    pub fn with_repartition(
        mut self,
        sink: Arc<crate::sink::events::EventSink>,
        partitions: i32,
    ) -> Self {
        self.repartition = Some((sink, partitions));
        self
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
            self.dlq.send(&rec, ack.clone());
        }
        let batch = self.parser.finish();
        let stats = self.parser.take_stats();
        let rows = batch.num_rows();
        self.metrics.flush(self.records, self.bytes, rows, &stats);
        let s = &self.stats;
        s.records_in.fetch_add(self.records, Ordering::Relaxed);
        s.bytes_in.fetch_add(self.bytes, Ordering::Relaxed);
        s.mentions.fetch_add(stats.rows, Ordering::Relaxed);
        s.non_actionable
            .fetch_add(stats.non_actionable_entries, Ordering::Relaxed);
        for (c, n) in s.parsed_by_format.iter().zip(stats.records_by_format) {
            c.fetch_add(n, Ordering::Relaxed);
        }
        for (c, n) in s.dlq_by_reason.iter().zip(stats.rejected_by_reason) {
            c.fetch_add(n, Ordering::Relaxed);
        }
        self.records = 0;
        self.bytes = 0;
        let consumed_at = self.started.take().unwrap_or_else(Instant::now);
        let oldest_record_ms = self.oldest_ms.take();
        let contacts = std::mem::take(&mut self.contacts);
        if rows == 0 && contacts.is_empty() {
            return; // only DLQ records (or nothing): their acks complete the batch
        }
        let batch = if rows > 0 {
            self.stage.enrich_in.increment(rows as u64);
            if self.join.is_some() {
                self.stage.identity_in.increment(rows as u64);
            }
            match self
                .enricher
                .apply_chain(&batch, self.join.as_deref(), self.severity.as_deref())
            {
                Ok(b) => {
                    // Both stages are row for row: what comes out of the
                    // chain came out of each.
                    self.stage.enrich_out.increment(b.num_rows() as u64);
                    if self.join.is_some() {
                        self.stage.identity_out.increment(b.num_rows() as u64);
                    }
                    b
                }
                Err(e) => {
                    // Not data but a fault: never commit past it.
                    tracing::error!(error = %e, "enrichment failed; batch not acknowledged");
                    self.stats.enrich_errors.fetch_add(1, Ordering::Relaxed);
                    ack.fail();
                    return;
                }
            }
        } else {
            batch
        };
        if let Some((sink, partitions)) = &self.repartition {
            // Each part holds the batch's ack until the broker has it: the
            // mention offsets commit once their repartition records are
            // stored (the keyed stage's commits cover the rest).
            let parts = switchboard_operators::repartition::split_by_partition(&batch, *partitions)
                .and_then(|parts| {
                    parts
                        .into_iter()
                        .map(|(p, b)| Ok((p, switchboard_operators::repartition::encode_ipc(&b)?)))
                        .collect::<switchboard_operators::Result<Vec<_>>>()
                });
            match parts {
                Ok(parts) => {
                    for (p, bytes) in parts {
                        sink.send_to(Some(p), None, Some(&bytes), ack.clone());
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "repartition failed; batch not acknowledged");
                    self.stats.enrich_errors.fetch_add(1, Ordering::Relaxed);
                    ack.fail();
                }
            }
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
}

impl WorkerHandler for ParseWorker {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        batch.for_each(|msg, topic| match msg {
            Ok(m) if self.contacts_topic.as_deref() == Some(&**topic) => {
                match parse_contact(m.payload) {
                    Ok(ev) => {
                        self.stats.contacts_in.fetch_add(1, Ordering::Relaxed);
                        self.contacts.push(ev);
                    }
                    Err(rej) => {
                        self.stats.contacts_rejected.fetch_add(1, Ordering::Relaxed);
                        self.dlq_pending.push(contact_dlq_record(&m, topic, &rej));
                    }
                }
                self.note_offset(topic, m.partition, m.offset);
            }
            Ok(m) => {
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
                    self.dlq_pending.push(DlqRecord {
                        key: m.key.map(|k| k.to_vec()),
                        payload: m.payload.to_vec(),
                        reason: rej.reason,
                        detail: rej.detail,
                        source_topic: topic.clone(),
                        source_partition: m.partition,
                        source_offset: m.offset,
                    });
                }
                self.note_offset(topic, m.partition, m.offset);
            }
            Err((code, text)) => {
                self.stats.consumer_errors.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::metrics::SOURCE_ERRORS, "kind" => "fetch").increment(1);
                tracing::warn!(code, error = %text, "consumer error in fetch stream");
            }
        });
        if self.parser.rows() >= self.max_rows {
            self.flush(tracker);
        }
    }

    fn on_tick(&mut self, now: Instant, tracker: &Arc<OffsetTracker>) {
        if self
            .started
            .is_some_and(|s| now.duration_since(s) >= self.linger)
        {
            self.flush(tracker);
        }
    }

    fn on_stop(&mut self, tracker: &Arc<OffsetTracker>) {
        self.flush(tracker);
    }
}

/// The DLQ record of a rejected CRM contact. The DLQ's reasons are the
/// parser's: a field of the wrong type counts as missing (the detail says
/// which).
pub fn contact_dlq_record(
    m: &RawMessage<'_>,
    topic: &Arc<str>,
    rej: &switchboard_operators::correlate::ContactRejection,
) -> DlqRecord {
    let reason = match rej.reason {
        "invalid_utf8" => DlqReason::InvalidUtf8,
        "invalid_json" => DlqReason::InvalidJson,
        _ => DlqReason::MissingField,
    };
    DlqRecord {
        key: m.key.map(|k| k.to_vec()),
        payload: m.payload.to_vec(),
        reason,
        detail: rej.to_string(),
        source_topic: topic.clone(),
        source_partition: m.partition,
        source_offset: m.offset,
    }
}

/// Label of a DLQ reason index, for summaries.
pub fn dlq_reason_label(i: usize) -> &'static str {
    DlqReason::ALL[i].as_str()
}
