//! The stateful operators, in order: spam (repetition across authors;
//! spam is a counted drop) → incidents (regional outage spikes) → route
//! (SQL rules, first match, else the taxonomy) → correlate (contacts
//! window, one work item per customer issue, revisions, closing by case or
//! quiet period). One [`StatefulOperators`] runs on the downstream thread
//! (`downstream.rs`), one per partition in the keyed stage (`keyed/`), and
//! one in `switchboard process`.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::{ContactEvent, Correlator, RenderedEvents};
use switchboard_operators::incident::{IncidentDetector, IncidentEvent, IncidentOutput};
use switchboard_operators::operator::{Operator, StateChange, StatefulOperator};
use switchboard_operators::route::Router;
use switchboard_operators::spam::{self, SpamDetector};

use super::measured::Measured;
use crate::config::Config;
use crate::error::Result;

/// The stateful operators, built (and so validated) from config, each
/// [`Measured`] and driven through [`StatefulOperator`] (route, stateless,
/// through [`Operator`]).
pub struct StatefulOperators {
    spam: Measured<SpamDetector>,
    incidents: Measured<IncidentDetector>,
    router: Measured<Router>,
    correlator: Measured<Correlator>,
    incident_queue: String,
    work_items: bool,
}

impl StatefulOperators {
    /// Builds the operators of a config.
    pub fn build(config: &Config) -> Result<Self> {
        let severity = Arc::new(config.build_severity()?);
        Ok(Self {
            spam: Measured::stateful(config.build_spam()?),
            incidents: Measured::stateful(config.build_incident()?),
            router: Measured::new(config.build_route()?),
            incident_queue: config.route.incident_queue.clone(),
            work_items: config.pipeline.work_items,
            correlator: Measured::stateful(config.build_correlate(&severity)?),
        })
    }

    /// Runs one envelope through spam → incidents → route → correlate, then
    /// hands the correlator its watermark (closing quiet items).
    /// Returns the surviving batch (for observers) and the events, written
    /// into `events` (cleared first: pass [`Emitter::take_events`](super::emit::Emitter::take_events) to
    /// reuse the buffer of the last envelope emitted).
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        contacts: &[ContactEvent],
        events: RenderedEvents,
    ) -> Result<Processed> {
        let mut out = Processed {
            work_items: events,
            ..Processed::default()
        };
        out.work_items.clear();
        if !self.work_items {
            if batch.num_rows() > 0 {
                out.batch = Some(self.drop_spam(batch, &mut out)?);
            }
            return Ok(out);
        }
        let (dup_mentions, dup_contacts) = self.correlator.inner().duplicates();
        if !contacts.is_empty() {
            // The correlator's second input: CRM contacts, before the
            // mentions they were read before.
            let (corr, metrics) = self.correlator.parts();
            metrics.time(|| {
                for c in contacts {
                    corr.on_contact_into(c, &mut out.work_items);
                }
            });
        }
        if batch.num_rows() > 0 {
            let kept = self.drop_spam(batch, &mut out)?;
            let mut inc = IncidentOutput::default();
            let with_incident = self.incidents.process_batch(&kept, &mut inc)?;
            let routed = self.router.process_batch(&with_incident)?;
            let routed = self
                .correlator
                .process_batch(&routed, &mut out.work_items)?;
            if !inc.retro_members.is_empty() {
                let (corr, metrics) = self.correlator.parts();
                let queue = &self.incident_queue;
                metrics.time(|| {
                    for (incident_id, members) in &inc.retro_members {
                        corr.tag_incident_into(incident_id, queue, members, &mut out.work_items);
                    }
                });
            }
            out.incidents = inc.events;
            out.batch = Some(routed);
        }
        // The stage's watermark is the correlator's own (see
        // `operator.rs`, "Event time"): what its clock made due fires.
        if let Some(w) = self.correlator.watermark() {
            self.correlator.on_watermark(w, &mut out.work_items);
        }
        let (m, c) = self.correlator.inner().duplicates();
        out.duplicate_mentions = m - dup_mentions;
        out.duplicate_contacts = c - dup_contacts;
        Ok(out)
    }

    /// Removes the spam rows of `batch`; counts them in `out`. The spam
    /// operator's rows out are the rows kept.
    fn drop_spam(&mut self, batch: &RecordBatch, out: &mut Processed) -> Result<RecordBatch> {
        let (spam, metrics) = self.spam.parts();
        let kept = metrics.batch(batch, |b| drop_spam(spam, b))?;
        let st = spam.take_stats();
        out.spam = st.spam;
        out.spam_by_reason = st.spam_by_reason;
        Ok(kept)
    }

    /// Starts remembering which state keys change, for
    /// [`checkpoint`](Self::checkpoint) (the keyed stage).
    pub fn track_changes(&mut self, on: bool) {
        self.spam.track_changes(on);
        self.incidents.track_changes(on);
        self.correlator.track_changes(on);
    }

    /// The state keys changed since the last call, with the clock
    /// ([`StatefulOperator::checkpoint`]). Only the correlator keeps
    /// durable state (spam and incidents learn theirs again), so the keys
    /// are its own, unprefixed, as the changelog always held them.
    pub fn checkpoint(&mut self) -> Vec<StateChange> {
        debug_assert!(self.spam.checkpoint().is_empty() && self.incidents.checkpoint().is_empty());
        self.correlator.checkpoint()
    }

    /// The correlator (state size, watermark).
    pub fn correlator(&self) -> &Correlator {
        self.correlator.inner()
    }

    /// The correlator, for restoring its state.
    pub fn correlator_mut(&mut self) -> &mut Correlator {
        self.correlator.inner_mut()
    }

    /// The incident detector.
    pub fn incidents(&self) -> &IncidentDetector {
        self.incidents.inner()
    }

    /// Distinct texts held by the spam detector.
    pub fn spam_tracked_texts(&self) -> usize {
        self.spam.inner().tracked_texts()
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

/// Runs the spam detector and removes the spam rows.
pub fn drop_spam(spam: &mut SpamDetector, batch: &RecordBatch) -> Result<RecordBatch> {
    let marked = spam.process_batch(batch, &mut ())?;
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
