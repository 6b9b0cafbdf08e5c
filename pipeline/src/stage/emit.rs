//! After the stateful operators, written once for the downstream thread and
//! every keyed worker: [`Emitter::emit`] counts what one input produced
//! (spam, rows passed, duplicates, events), shows it to the observers and
//! sends its events to the sinks, each holding a clone of the input's
//! [`Ack`]: the source offsets are committed only once all of them are
//! delivered.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use metrics::Counter;
use switchboard_operators::correlate::{RenderedEvent, RenderedEvents, WorkItemEvent};
use switchboard_operators::incident::IncidentEvent;
use switchboard_operators::severity::SeverityLevel;

use super::stateful::Processed;
use crate::metrics::{PipelineStats, StatefulStageCounters, Tally};
use crate::sink::events::EventSink;
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

/// Where the events of one input go (`None`: counted, not sent).
#[derive(Clone, Copy, Default)]
pub struct Sinks<'a> {
    /// Work-item events.
    pub work_items: Option<&'a EventSink>,
    /// Incident events.
    pub incidents: Option<&'a EventSink>,
}

/// Counts, observes and sends what the stateful operators produced. Holds
/// the handles it counts through, resolved once (the work-item events'
/// per label set, as they appear: looking a labelled counter up in the
/// registry hashes and allocates its key), and the event buffer of the
/// last input (growing a fresh buffer to a batch's events was about a
/// sixth of the operator thread).
pub struct Emitter {
    stats: Arc<PipelineStats>,
    stage: StatefulStageCounters,
    /// Work-item events by queue, then [severity P1–P4, other][action].
    work_item_events: HashMap<&'static str, [[Option<Tally>; 4]; 5]>,
    /// Incident events: opened, closed.
    incident_events: [Tally; 2],
    duplicate_mentions: Tally,
    duplicate_contacts: Counter,
    events: RenderedEvents,
    /// Observers of what is emitted.
    pub observers: Observers,
}

impl Emitter {
    /// An emitter counting into `stats`.
    pub fn new(stats: Arc<PipelineStats>) -> Self {
        let (duplicate_mentions, duplicate_contacts) = stats.duplicate_tallies();
        Self {
            stage: StatefulStageCounters::new(&stats),
            work_item_events: HashMap::new(),
            incident_events: stats.incident_tallies(),
            duplicate_mentions,
            duplicate_contacts,
            stats,
            events: RenderedEvents::default(),
            observers: Observers::default(),
        }
    }

    /// The event buffer the last [`Emitter::emit`] kept, for
    /// [`StatefulOperators::process`](super::stateful::StatefulOperators::process).
    pub fn take_events(&mut self) -> RenderedEvents {
        std::mem::take(&mut self.events)
    }

    /// Counts what `rows_in` input rows produced, shows it to the observers
    /// and sends its events to `sinks` (each holding a clone of `ack`);
    /// keeps the event buffer.
    pub fn emit(&mut self, rows_in: usize, p: Processed, sinks: Sinks<'_>, ack: &Ack) {
        let rows = p.batch.as_ref().map_or(0, |b| b.num_rows()) as u64;
        self.stage
            .count(rows_in as u64, p.spam, p.spam_by_reason, rows);
        if let (Some(obs), Some(b)) = (self.observers.batches.as_mut(), p.batch.as_ref()) {
            obs(b);
        }
        self.duplicate_mentions.add(p.duplicate_mentions);
        if p.duplicate_contacts > 0 {
            self.duplicate_contacts.increment(p.duplicate_contacts);
        }
        if let Some(sink) = sinks.work_items {
            for ev in p.work_items.iter() {
                self.work_item_tally(&ev).add(1);
                sink.send_to(None, Some(&ev.key()), Some(ev.json()), ack.clone());
                if let Some(obs) = self.observers.work_items.as_mut() {
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
        if let Some(sink) = sinks.incidents {
            for ev in &p.incidents {
                let opened = ev.action == "opened";
                self.incident_events[usize::from(!opened)].add(1);
                let json = serde_json::to_vec(ev).unwrap_or_default();
                sink.send(&ev.incident_id, &json, ack.clone());
                if let Some(obs) = self.observers.incidents.as_mut() {
                    obs(ev);
                }
            }
        }
        self.events = p.work_items.into_spare();
    }

    fn work_item_tally(&mut self, ev: &RenderedEvent<'_>) -> &Tally {
        // P1–P4, anything else (never produced) in the fifth slot.
        let sev = SeverityLevel::parse(ev.severity()).map_or(4, |l| l as usize);
        let act = ev.action() as usize;
        let stats = &self.stats;
        let slots = self.work_item_events.entry(ev.queue()).or_default();
        slots[sev][act].get_or_insert_with(|| {
            stats.work_item_tally(ev.queue(), ev.severity(), ev.action().as_str())
        })
    }
}
