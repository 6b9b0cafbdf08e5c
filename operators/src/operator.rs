//! The one shape of every operator, in the spirit of DataFusion's
//! `ExecutionPlan` and Arroyo's `ArrowOperator`: Arrow batches in, Arrow
//! batches out, a stable name for metrics, and, for the operators that keep
//! state, hooks for event time, a wall-clock tick and checkpoints.
//!
//! - [`Operator`]: stateless, `&self`, shared between threads (language,
//!   sentiment, classify, identity join, severity, route).
//! - [`StatefulOperator`]: `&mut self`, one owner (spam, incident,
//!   correlate). Side outputs (incident events, work-item events) go to the
//!   operator's [`StatefulOperator::Out`] collector, never into the batch.
//!
//! Every operator is built from its config section (`XConfig::build`,
//! which validates it) and called through these traits; the runtime times
//! each call and counts rows in and out under the operator's
//! [`name`](Operator::name) (`switchboard_operator_*{operator}`).
//!
//! # Event time
//! Each stateful operator keeps its own [`EventClock`]: the highest event
//! time it has seen minus its allowed out-of-orderness. The stage does not
//! replace it with one watermark of its own, because the semantics differ:
//! - the clock moves **row by row**: a mention's own event time closes
//!   what it makes overdue *before* the mention applies (a late mention for
//!   an item that went quiet opens a new item). A watermark handed in
//!   between batches would change which item a mention joins;
//! - the correlator's clock also moves with CRM contacts, the incident
//!   detector's with mentions only (it never sees contacts);
//! - out-of-orderness is configured per operator (`correlate.` and
//!   `incident.max_out_of_orderness_ms`).
//!
//! So the stage drives them alike with [`StatefulOperator::on_watermark`]:
//! the operator's clock becomes at least the watermark handed in (never
//! moving back) and fires what is due (closes quiet items or incidents,
//! expires state). A watermark at or below the operator's own (the slowest
//! operator's, say) only fires what its own clock made due, which is what
//! the operators' `advance` did; a later one (an idle source's wall-clock
//! watermark) moves it on without data. The spam detector's repetition
//! window moves only with the texts it tracks (a verdict must not depend on
//! when the stage calls), so it has no clock.

use arrow::record_batch::RecordBatch;

use crate::error::{OperatorError, Result};

/// The operators' names (the `operator` metric label), declared in the
/// crate root next to the operators' modules, so that an operator is
/// registered in one place.
pub use crate::names;

/// A stateless operator: batch in, batch out.
pub trait Operator: Send + Sync {
    /// Stable name, the `operator` metric label (one of [`names::ALL`]).
    fn name(&self) -> &'static str;

    /// The batch with this operator's columns appended (replacing columns
    /// of the same names): same rows, same order. An `Err` is a
    /// programming or schema fault (a missing or mistyped column), never a
    /// malformed mention.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch>;
}

/// A shared operator is an operator (the runtime keeps typed handles for
/// `score` and puts clones in its `dyn Operator` chain).
impl<O: Operator + ?Sized> Operator for std::sync::Arc<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        (**self).process_batch(batch)
    }
}

/// A boxed operator is an operator (`dyn Operator` chains).
impl<O: Operator + ?Sized> Operator for Box<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        (**self).process_batch(batch)
    }
}

/// One state key changed since the last checkpoint: its bytes, or `None`
/// when the key holds nothing any more (a tombstone).
pub type StateChange = (Box<str>, Option<Vec<u8>>);

/// The state key under which [`StatefulOperator::checkpoint`] saves the
/// operator's [`EventClock`] (its max event time, decimal). No other state
/// key starts with `_`.
pub const CLOCK_KEY: &str = "__max_event_time_ms";

/// A stateful operator: batches in row order, event time, checkpoints.
pub trait StatefulOperator: Send {
    /// Where the side outputs go (`()` when there are none).
    type Out: ?Sized;

    /// Stable name, the `operator` metric label (one of [`names::ALL`]).
    fn name(&self) -> &'static str;

    /// Processes a batch in row order; returns the batch for the next
    /// operator (this operator's columns appended, or the input as it is),
    /// side outputs put into `out`.
    fn process_batch(&mut self, batch: &RecordBatch, out: &mut Self::Out) -> Result<RecordBatch>;

    /// The operator's watermark ([`EventClock::watermark`]); `None` before
    /// any event time, and for an operator without a clock.
    fn watermark(&self) -> Option<i64> {
        None
    }

    /// Event time has reached at least `watermark_ms`: the clock moves up
    /// to it (never back) and what is due fires into `out`. See the module
    /// doc, "Event time".
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Self::Out);

    /// A wall-clock tick. No operator reads the wall clock today (results
    /// depend on event time only, so a replay makes the same events): the
    /// default does nothing.
    fn on_tick(&mut self, now_ms: i64, out: &mut Self::Out) {
        let _ = (now_ms, out);
    }

    /// Starts (or stops) remembering which state keys change, for
    /// [`checkpoint`](Self::checkpoint). Off by default: tracking costs a
    /// set insert per record. Operators without durable state ignore it.
    fn track_changes(&mut self, on: bool) {
        let _ = on;
    }

    /// The state keys changed since the last call, with their bytes (and,
    /// when any changed, the clock under [`CLOCK_KEY`]); empty for
    /// operators without durable state.
    fn checkpoint(&mut self) -> Vec<StateChange> {
        Vec::new()
    }

    /// Applies one checkpointed key (`None`: a tombstone, the key holds
    /// nothing). An operator without durable state refuses any key.
    fn restore(&mut self, key: &str, state: Option<&[u8]>) -> Result<()> {
        let _ = state;
        Err(OperatorError::Input(format!(
            "operator `{}` keeps no durable state (key `{key}`)",
            self.name()
        )))
    }
}

/// Event-time progress of a stateful operator: the highest event time seen
/// minus the allowed out-of-orderness, raised further by the watermarks the
/// stage hands in; it never moves back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventClock {
    max_out_of_orderness_ms: i64,
    max_event_ms: Option<i64>,
    /// The highest watermark handed in ([`EventClock::advance_to`]).
    floor_ms: Option<i64>,
}

impl EventClock {
    /// A clock that has seen nothing, trailing the highest event time by
    /// `max_out_of_orderness_ms`.
    pub fn new(max_out_of_orderness_ms: i64) -> Self {
        Self {
            max_out_of_orderness_ms,
            max_event_ms: None,
            floor_ms: None,
        }
    }

    /// Records an event time; true when it is late (older than the
    /// watermark before it).
    #[inline]
    pub fn observe(&mut self, t: i64) -> bool {
        let late = self.watermark().is_some_and(|w| t < w);
        self.max_event_ms = Some(self.max_event_ms.map_or(t, |m| m.max(t)));
        late
    }

    /// The watermark: the highest event time seen − out-of-orderness, or
    /// the highest watermark handed in if that is later; `None` before
    /// either.
    #[inline]
    pub fn watermark(&self) -> Option<i64> {
        let own = self
            .max_event_ms
            .map(|m| m.saturating_sub(self.max_out_of_orderness_ms));
        match (own, self.floor_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The highest event time seen (what a checkpoint saves).
    pub fn max_event_ms(&self) -> Option<i64> {
        self.max_event_ms
    }

    /// Restores the highest event time after a restart (never moves it back).
    pub fn restore_max_event(&mut self, ms: i64) {
        self.max_event_ms = Some(self.max_event_ms.map_or(ms, |m| m.max(ms)));
    }

    /// Raises the watermark to at least `watermark_ms`.
    pub fn advance_to(&mut self, watermark_ms: i64) {
        self.floor_ms = Some(self.floor_ms.map_or(watermark_ms, |f| f.max(watermark_ms)));
    }

    /// The [`CLOCK_KEY`] record of this clock, if it has seen an event.
    pub fn checkpoint(&self) -> Option<StateChange> {
        self.max_event_ms
            .map(|ms| (CLOCK_KEY.into(), Some(ms.to_string().into_bytes())))
    }

    /// Restores from a [`CLOCK_KEY`] record; a record that is not a decimal
    /// number (or a tombstone) is ignored, as the runtime always did.
    pub fn restore(&mut self, state: Option<&[u8]>) {
        if let Some(ms) = state
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            self.restore_max_event(ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_clock_trails_max_event_time_and_never_moves_back() {
        let mut c = EventClock::new(5);
        assert_eq!(c.watermark(), None);
        assert!(!c.observe(100));
        assert_eq!(c.watermark(), Some(95));
        assert!(c.observe(90), "older than the watermark: late");
        assert!(!c.observe(96));
        assert_eq!(c.watermark(), Some(95));
        c.advance_to(200);
        assert_eq!(c.watermark(), Some(200));
        c.advance_to(150);
        assert_eq!(c.watermark(), Some(200), "never back");
        assert!(c.observe(199));
        assert_eq!(c.max_event_ms(), Some(199));
        c.restore_max_event(50);
        assert_eq!(c.max_event_ms(), Some(199), "restore never moves back");
    }

    #[test]
    fn operator_clock_checkpoint_round_trips() {
        let mut c = EventClock::new(0);
        assert_eq!(c.checkpoint(), None);
        c.observe(1_795_334_400_000);
        let (key, bytes) = c.checkpoint().unwrap();
        assert_eq!(&*key, CLOCK_KEY);
        let mut d = EventClock::new(0);
        d.restore(bytes.as_deref());
        assert_eq!(d.max_event_ms(), Some(1_795_334_400_000));
        d.restore(Some(b"not a number"));
        d.restore(None);
        assert_eq!(d.max_event_ms(), Some(1_795_334_400_000));
    }

    #[test]
    fn operator_names_are_unique() {
        let mut n = names::ALL.to_vec();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), names::ALL.len());
    }
}
