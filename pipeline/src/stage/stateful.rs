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
use switchboard_operators::incident::{IncidentDetector, IncidentEvent};
use switchboard_operators::route::Router;
use switchboard_operators::spam::{self, SpamDetector};

use crate::config::Config;
use crate::error::Result;

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
        let severity = Arc::new(config.build_severity()?);
        Ok(Self {
            spam: config.build_spam()?,
            incidents: config.build_incident()?,
            router: config.build_route()?,
            incident_queue: config.route.incident_queue.clone(),
            work_items: config.pipeline.work_items,
            correlator: config.build_correlate(&severity)?,
        })
    }

    /// Runs one envelope through spam → incidents → route → correlate.
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
        let (dup_mentions, dup_contacts) = self.correlator.duplicates();
        for c in contacts {
            self.correlator.on_contact_into(c, &mut out.work_items);
        }
        if batch.num_rows() > 0 {
            let kept = self.drop_spam(batch, &mut out)?;
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

    /// Removes the spam rows of `batch`; counts them in `out`.
    fn drop_spam(&mut self, batch: &RecordBatch, out: &mut Processed) -> Result<RecordBatch> {
        let kept = drop_spam(&mut self.spam, batch)?;
        let st = self.spam.take_stats();
        out.spam = st.spam;
        out.spam_by_reason = st.spam_by_reason;
        Ok(kept)
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
