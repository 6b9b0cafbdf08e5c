//! The downstream (stateful) stage: one thread, `sb-downstream`, that sees
//! every enriched batch in arrival order:
//!
//! ```text
//! MentionEnvelope ─► SpamDetector (repetition across authors; spam = counted drop)
//!                 ─► IncidentDetector (regional outage spikes → `incidents`)
//!                 ─► Router (SQL rules, first match, else the taxonomy)
//!                 ─► Correlator (contacts window, one item per customer issue,
//!                     revisions, closing by case or quiet period)
//!                 ─► EventSink `work-items` / `incidents`
//! ```
//!
//! Every event produced holds a clone of the envelope's [`Ack`]: the source
//! offsets are committed only once all of them are delivered. With the
//! enrichment operators switched off (`pipeline.enrich = false`, used by
//! `bench`) the stage only acknowledges batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::{Correlator, RenderedEvent, RenderedEvents, WorkItemEvent};
use switchboard_operators::incident::{IncidentDetector, IncidentEvent};
use switchboard_operators::route::Router;
use switchboard_operators::severity::{Severity, SeverityLevel};
use switchboard_operators::spam::{self, SpamDetector};
use tracing::error;

use crate::channel::{Recv, RowReceiver};
use crate::config::{prefix_key, Config};
use crate::error::Result;
use crate::metrics as m;
use crate::sink::events::{EventSink, Kind};
use crate::source::parse_worker::{MentionEnvelope, PipelineStats};
use crate::state::offsets::Ack;

/// Something that looks at each acknowledged batch (demo examples, tests).
pub type BatchObserver = Box<dyn FnMut(&RecordBatch) + Send>;
/// Something that looks at each work-item event produced.
pub type WorkItemObserver = Box<dyn FnMut(&WorkItemEvent) + Send>;
/// Something that looks at each incident event produced.
pub type IncidentObserver = Box<dyn FnMut(&IncidentEvent) + Send>;

/// Optional observers of what the stage produces.
#[derive(Default)]
pub struct Observers {
    /// Each enriched batch after the spam filter.
    pub batches: Option<BatchObserver>,
    /// Each work-item event.
    pub work_items: Option<WorkItemObserver>,
    /// Each incident event.
    pub incidents: Option<IncidentObserver>,
}

/// Work-item totals for progress lines and summaries (bounded: labels only).
#[derive(Debug, Default, Clone)]
pub struct WorkItemTotals {
    /// Events by action.
    pub by_action: BTreeMap<&'static str, u64>,
    /// `created` events by (queue, severity).
    pub created_by_queue_severity: BTreeMap<(String, String), u64>,
    /// Incidents opened.
    pub incidents_opened: u64,
    /// Incidents closed.
    pub incidents_closed: u64,
    /// Mention rows that reached the correlator (duplicates included).
    pub mentions_correlated: u64,
    /// Of those, mentions skipped as duplicates (a counted drop).
    pub duplicate_mentions: u64,
}

/// The stateful operators, built (and so validated) from config.
pub struct StatefulOperators {
    spam: SpamDetector,
    incidents: IncidentDetector,
    router: Router,
    correlator: Correlator,
    incident_queue: String,
    work_items: bool,
}

impl StatefulOperators {
    /// Builds the operators of a config.
    pub fn build(config: &Config) -> Result<Self> {
        let severity =
            Arc::new(Severity::new(&config.severity).map_err(|e| prefix_key("severity", e))?);
        Ok(Self {
            spam: SpamDetector::new(config.spam.clone()).map_err(|e| prefix_key("spam", e))?,
            incidents: IncidentDetector::new(config.incident.clone())
                .map_err(|e| prefix_key("incident", e))?,
            router: Router::new(&config.route).map_err(|e| prefix_key("route", e))?,
            incident_queue: config.route.incident_queue.clone(),
            work_items: config.pipeline.work_items,
            correlator: Correlator::new(
                config.correlate.clone(),
                scale_fn(&severity),
                sla_fn(&severity),
            )
            .map_err(|e| prefix_key("correlate", e))?,
        })
    }

    /// Runs one envelope through spam → incidents → route → correlate.
    /// Returns the surviving batch (for observers) and the events, written
    /// into `events` (cleared first: pass [`EmitScratch::take_events`] to
    /// reuse the buffer of the last envelope emitted).
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        contacts: &[switchboard_operators::correlate::ContactEvent],
        events: RenderedEvents,
    ) -> Result<Processed> {
        let mut out = Processed {
            work_items: events,
            ..Processed::default()
        };
        out.work_items.clear();
        if !self.work_items {
            if batch.num_rows() > 0 {
                let kept = drop_spam(&mut self.spam, batch)?;
                let st = self.spam.take_stats();
                out.spam = st.spam;
                out.spam_by_reason = st.spam_by_reason;
                out.batch = Some(kept);
            }
            return Ok(out);
        }
        let (dup_mentions, dup_contacts) = self.correlator.duplicates();
        for c in contacts {
            self.correlator.on_contact_into(c, &mut out.work_items);
        }
        if batch.num_rows() > 0 {
            let kept = drop_spam(&mut self.spam, batch)?;
            let st = self.spam.take_stats();
            out.spam = st.spam;
            out.spam_by_reason = st.spam_by_reason;
            let (with_incident, inc) = self.incidents.detect_batch(&kept)?;
            let routed = self.router.route_batch(&with_incident)?;
            self.correlator
                .on_mentions_into(&routed, &mut out.work_items)?;
            for (incident_id, members) in &inc.retro_members {
                self.correlator.tag_incident_into(
                    incident_id,
                    &self.incident_queue,
                    members,
                    &mut out.work_items,
                );
            }
            out.incidents = inc.events;
            out.batch = Some(routed);
        }
        self.correlator.advance_into(&mut out.work_items);
        let (m, c) = self.correlator.duplicates();
        out.duplicate_mentions = m - dup_mentions;
        out.duplicate_contacts = c - dup_contacts;
        Ok(out)
    }

    /// The correlator (state size, watermark).
    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    /// The correlator, for restoring and checkpointing its state.
    pub fn correlator_mut(&mut self) -> &mut Correlator {
        &mut self.correlator
    }

    /// The incident detector.
    pub fn incidents(&self) -> &IncidentDetector {
        &self.incidents
    }

    /// Distinct texts held by the spam detector.
    pub fn spam_tracked_texts(&self) -> usize {
        self.spam.tracked_texts()
    }
}

/// What one envelope produced.
#[derive(Default)]
pub struct Processed {
    /// The batch after spam removal, with incident, queue and rule columns.
    pub batch: Option<RecordBatch>,
    /// Work-item events, in order, as their JSON records.
    pub work_items: RenderedEvents,
    /// Incident events, in order.
    pub incidents: Vec<IncidentEvent>,
    /// Mentions dropped as spam.
    pub spam: u64,
    /// Spam drops by reason (a mention counts once per reason).
    pub spam_by_reason: [u64; spam::reason::ALL.len()],
    /// Mentions of `batch` the correlator skipped as duplicates (already on
    /// an open item, or replayed offsets): a counted drop.
    pub duplicate_mentions: u64,
    /// Contact events skipped as duplicates (event id already held).
    pub duplicate_contacts: u64,
}

/// The severity operator's grading as the correlator's scale.
pub fn scale_fn(s: &Arc<Severity>) -> switchboard_operators::correlate::ScaleFn {
    let s = s.clone();
    Arc::new(move |points| {
        let (p, level) = s.grade(points);
        (p, level.as_str())
    })
}

/// The severity operator's SLAs as the correlator's SLA function.
pub fn sla_fn(s: &Arc<Severity>) -> switchboard_operators::correlate::SlaFn {
    let s = s.clone();
    Arc::new(move |sev| {
        switchboard_operators::severity::SeverityLevel::parse(sev)
            .map(|l| s.sla_ms(l) as i64)
            .unwrap_or(72 * 3_600_000)
    })
}

/// The running stage.
pub struct Downstream {
    ops: Option<StatefulOperators>,
    work_items: Option<Arc<EventSink>>,
    incidents: Option<Arc<EventSink>>,
    stats: Arc<PipelineStats>,
    totals: Arc<Mutex<WorkItemTotals>>,
    observers: Observers,
    scratch: EmitScratch,
    /// Bound on the final flush of the sinks (`source.drain_timeout_ms`).
    drain_timeout: Duration,
}

impl Downstream {
    /// Builds the stage; `enrich = false` makes it acknowledge only.
    pub fn build(
        config: &Config,
        stats: Arc<PipelineStats>,
        totals: Arc<Mutex<WorkItemTotals>>,
        observers: Observers,
    ) -> Result<Self> {
        let (ops, work_items, incidents) = if config.pipeline.enrich && !config.pipeline.work_items
        {
            (Some(StatefulOperators::build(config)?), None, None)
        } else if config.pipeline.enrich {
            (
                Some(StatefulOperators::build(config)?),
                Some(Arc::new(EventSink::new(
                    config,
                    &config.topics.work_items,
                    Kind::WorkItems,
                )?)),
                Some(Arc::new(EventSink::new(
                    config,
                    &config.topics.incidents,
                    Kind::Incidents,
                )?)),
            )
        } else {
            (None, None, None)
        };
        Ok(Self {
            ops,
            work_items,
            incidents,
            stats,
            totals,
            observers,
            scratch: EmitScratch::default(),
            drain_timeout: Duration::from_millis(config.source.drain_timeout_ms),
        })
    }

    /// Replaces the observers.
    pub fn set_observers(&mut self, observers: Observers) {
        self.observers = observers;
    }

    /// Replaces the batch observer only.
    pub fn set_batch_observer(&mut self, observer: Option<BatchObserver>) {
        self.observers.batches = observer;
    }

    /// The output sinks (flushed by the source when partitions are revoked).
    pub fn sinks(&self) -> Vec<Arc<EventSink>> {
        [&self.work_items, &self.incidents]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Receives until the channel closes, then flushes the sinks.
    pub fn run(mut self, rx: RowReceiver<MentionEnvelope>) {
        let stage = m::StatefulStageCounters::default();
        let spam_by_reason =
            spam::reason::ALL.map(|r| metrics::counter!(m::SPAM_DROPPED, "reason" => r));
        let spam_tracked = metrics::gauge!(m::SPAM_TRACKED_TEXTS);
        let e2e = metrics::histogram!(m::E2E_LATENCY);
        let proc = metrics::histogram!(m::PROCESSING_LATENCY);
        let channel_rows = metrics::gauge!(m::CHANNEL_ROWS);
        let mut last_state_publish = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Recv::Item(env) => {
                    stage.spam_in.increment(env.batch.num_rows() as u64);
                    let MentionEnvelope {
                        batch,
                        contacts,
                        ack,
                        oldest_record_ms,
                        consumed_at,
                    } = env;
                    let processed = match self.ops.as_mut() {
                        Some(ops) => {
                            match ops.process(&batch, &contacts, self.scratch.take_events()) {
                                Ok(p) => p,
                                Err(e) => {
                                    // A programming fault, not data: keep the input uncommitted.
                                    error!(error = %e, "downstream stage failed; batch not acknowledged");
                                    ack.fail();
                                    continue;
                                }
                            }
                        }
                        None => Processed {
                            batch: Some(batch),
                            ..Default::default()
                        },
                    };
                    self.stats
                        .spam_dropped
                        .fetch_add(processed.spam, Ordering::Relaxed);
                    for (c, n) in spam_by_reason.iter().zip(processed.spam_by_reason) {
                        if n > 0 {
                            c.increment(n);
                        }
                    }
                    if let Some(ops) = &self.ops {
                        spam_tracked.set(ops.spam_tracked_texts() as f64);
                    }
                    let rows = processed.batch.as_ref().map_or(0, |b| b.num_rows()) as u64;
                    stage.passed_spam(rows);
                    if let (Some(obs), Some(b)) =
                        (self.observers.batches.as_mut(), processed.batch.as_ref())
                    {
                        obs(b);
                    }
                    self.emit(processed, &ack);
                    stage.sink_out.increment(rows);
                    self.stats.mentions_out.fetch_add(rows, Ordering::Relaxed);
                    proc.record(consumed_at.elapsed().as_secs_f64());
                    if let Some(ts) = oldest_record_ms {
                        let now = chrono::Utc::now().timestamp_millis();
                        e2e.record(((now - ts).max(0) as f64) / 1000.0);
                    }
                    drop(ack);
                }
                Recv::Timeout => {}
                Recv::Closed => break,
            }
            channel_rows.set(rx.queued_rows() as f64);
            if last_state_publish.elapsed() >= Duration::from_secs(2) {
                self.publish_state();
                last_state_publish = Instant::now();
            }
        }
        for s in [&self.work_items, &self.incidents].into_iter().flatten() {
            s.flush(self.drain_timeout);
        }
        self.publish_state();
    }

    fn emit(&mut self, p: Processed, ack: &Ack) {
        emit(
            self.work_items.as_deref(),
            self.incidents.as_deref(),
            &self.totals,
            &mut self.scratch,
            &mut self.observers,
            p,
            ack,
        );
    }

    fn publish_state(&self) {
        let Some(ops) = &self.ops else { return };
        let st = ops.correlator().stats();
        metrics::gauge!(m::CORRELATE_KEYS).set(st.keys as f64);
        metrics::gauge!(m::CORRELATE_OPEN_ITEMS).set(st.items_open as f64);
        for (sev, n) in ["P1", "P2", "P3", "P4"]
            .iter()
            .zip(st.items_open_without_case)
        {
            metrics::gauge!(m::CORRELATE_OPEN_ITEMS_WITHOUT_CASE, "severity" => *sev).set(n as f64);
        }
        metrics::gauge!(m::CORRELATE_STATE_BYTES).set(st.approx_state_bytes as f64);
        metrics::counter!(m::CORRELATE_LATE, "kind" => "mention").absolute(st.late_mentions);
        metrics::counter!(m::CORRELATE_LATE, "kind" => "contact").absolute(st.late_contacts);
        if let Some(w) = ops.correlator().watermark() {
            let now = chrono::Utc::now().timestamp_millis();
            metrics::gauge!(m::CORRELATE_WATERMARK_LAG).set(((now - w).max(0) as f64) / 1e3);
        }
        metrics::gauge!(m::INCIDENTS_OPEN).set(ops.incidents().open_incidents() as f64);
    }
}

/// What [`emit`] reuses from event to event: the handles of
/// `switchboard_workitems_events_total{queue,severity,action}`, resolved
/// once per label set (looking a labelled counter up in the registry hashes
/// and allocates its key), and the event buffer of the last envelope
/// (growing a fresh buffer to a batch's events was about a sixth of the
/// operator thread).
#[derive(Default)]
pub struct EmitScratch {
    by_queue: HashMap<&'static str, [[Option<metrics::Counter>; 4]; 5]>,
    /// `switchboard_correlate_duplicate_records_total{kind}`: mention, contact.
    duplicates: Option<[metrics::Counter; 2]>,
    events: RenderedEvents,
}

impl EmitScratch {
    fn count_duplicates(&mut self, mentions: u64, contacts: u64) {
        if mentions == 0 && contacts == 0 {
            return;
        }
        let [m, c] = self.duplicates.get_or_insert_with(|| {
            ["mention", "contact"].map(|k| metrics::counter!(m::CORRELATE_DUPLICATES, "kind" => k))
        });
        m.increment(mentions);
        c.increment(contacts);
    }

    /// The event buffer [`emit`] kept, for [`StatefulOperators::process`].
    pub fn take_events(&mut self) -> RenderedEvents {
        std::mem::take(&mut self.events)
    }

    fn counter(&mut self, ev: &RenderedEvent<'_>) -> &metrics::Counter {
        // P1–P4, anything else (never produced) in the fifth slot.
        let sev = SeverityLevel::parse(ev.severity()).map_or(4, |l| l as usize);
        let act = ev.action() as usize;
        let slots = self.by_queue.entry(ev.queue()).or_default();
        slots[sev][act].get_or_insert_with(|| {
            metrics::counter!(m::WORK_ITEM_EVENTS, "queue" => ev.queue(), "severity" => ev.severity(), "action" => ev.action().as_str())
        })
    }
}

/// Sends what one envelope produced to the sinks (each event holding a
/// clone of `ack`), counts it in the metrics and `totals`, and shows it to
/// the observers; keeps its event buffer in `scratch`.
pub fn emit(
    work_items: Option<&EventSink>,
    incidents: Option<&EventSink>,
    totals: &Mutex<WorkItemTotals>,
    scratch: &mut EmitScratch,
    observers: &mut Observers,
    p: Processed,
    ack: &Ack,
) {
    let mut totals = totals.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = &p.batch {
        totals.mentions_correlated += b.num_rows() as u64;
    }
    totals.duplicate_mentions += p.duplicate_mentions;
    scratch.count_duplicates(p.duplicate_mentions, p.duplicate_contacts);
    if let Some(sink) = work_items {
        for ev in p.work_items.iter() {
            let action = ev.action().as_str();
            scratch.counter(&ev).increment(1);
            *totals.by_action.entry(action).or_insert(0) += 1;
            if action == "created" {
                *totals
                    .created_by_queue_severity
                    .entry((ev.queue().to_owned(), ev.severity().to_owned()))
                    .or_insert(0) += 1;
            }
            sink.send_to(None, Some(&ev.key()), Some(ev.json()), ack.clone());
            if let Some(obs) = observers.work_items.as_mut() {
                // Read back from the record (observers are for the demo
                // and tests); a record that cannot be read back (a mention
                // time outside years 0–9999) is sent, not observed.
                match ev.to_event() {
                    Ok(e) => obs(&e),
                    Err(e) => {
                        tracing::debug!(error = %e, "work-item event not shown to the observer")
                    }
                }
            }
        }
    }
    if let Some(sink) = incidents {
        for ev in &p.incidents {
            metrics::counter!(m::INCIDENT_EVENTS, "action" => if ev.action == "opened" { "opened" } else { "closed" })
                .increment(1);
            if ev.action == "opened" {
                totals.incidents_opened += 1;
            } else {
                totals.incidents_closed += 1;
            }
            let json = serde_json::to_vec(ev).unwrap_or_default();
            sink.send(&ev.incident_id, &json, ack.clone());
            if let Some(obs) = observers.incidents.as_mut() {
                obs(ev);
            }
        }
    }
    scratch.events = p.work_items.into_spare();
}

/// Runs the spam detector and removes the spam rows.
pub fn drop_spam(spam: &mut SpamDetector, batch: &RecordBatch) -> Result<RecordBatch> {
    let marked = spam.detect_batch(batch)?;
    let is_spam = marked
        .column_by_name(switchboard_operators::schema::col::IS_SPAM)
        .and_then(|c| c.as_boolean_opt().cloned())
        .ok_or_else(|| {
            crate::PipelineError::Runtime("spam stage produced no is_spam column".into())
        })?;
    if is_spam.true_count() == 0 {
        return Ok(marked);
    }
    let keep = arrow::compute::not(&is_spam)?;
    Ok(arrow::compute::filter_record_batch(&marked, &keep)?)
}
