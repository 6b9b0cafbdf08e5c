//! The correlation operator: its state (per-key map, event-time clock,
//! changed keys), building, sweeping, statistics and state export. What a
//! mention does is in `on_mention`, what a CRM contact does in `on_contact`.

use arrow::record_batch::RecordBatch;

use super::config::{default_scale, default_sla, CorrelateConfig, ScaleFn, SlaFn};
use super::ctx::{CorrelateStats, Ctx};
use super::event::EventOut;
use super::intern::Sym;
use super::lifecycle::{maintain, revise};
use super::state::{alloc_cost, KeyState};
use super::work_item::WorkItemEvent;
use crate::error::{OperatorError, Result};
use crate::operator::{names, EventClock, StateChange, StatefulOperator, CLOCK_KEY};
use crate::severity::SeverityLevel;

/// The correlation operator. See the module doc.
pub struct Correlator {
    pub(super) ctx: Ctx,
    /// Per-key state. foldhash, randomly seeded per map (keys include
    /// handles anyone can choose), is several times cheaper than SipHash on
    /// these short keys; hashbrown's own map for `entry_ref`: one lookup per
    /// mention, the key copied only when it is new.
    pub(super) keys: hashbrown::HashMap<Box<str>, KeyState, foldhash::fast::RandomState>,
    /// Event time: max event time seen (mentions *and* contacts) −
    /// `max_out_of_orderness_ms`.
    pub(super) clock: EventClock,
    last_sweep_wm: Option<i64>,
    /// Keys changed since the last [`Correlator::take_dirty`], when tracked.
    dirty: std::collections::HashSet<Box<str>, foldhash::fast::RandomState>,
    track_dirty: bool,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field("cfg", &self.ctx.cfg)
            .field("keys", &self.keys.len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Correlator {
    /// A correlator with the severity operator's scale and SLA functions.
    pub fn new(cfg: CorrelateConfig, scale: ScaleFn, sla: SlaFn) -> Result<Self> {
        cfg.validate()?;
        let groups = cfg
            .issue_groups
            .iter()
            .map(|(c, g)| (c.clone(), Sym::new(g)))
            .collect();
        let syms = |v: &[String]| v.iter().map(|s| Sym::new(s)).collect::<Vec<_>>();
        let ctx = Ctx {
            attach: syms(&cfg.attach_to_open_item),
            exempt: syms(&cfg.crm_exempt_groups),
            fold_exempt: syms(&cfg.folded_mention_exempt_categories),
            missed_groups: syms(&cfg.missed_appointment_groups),
            groups,
            cfg,
            scale,
            sla,
            stats: CorrelateStats::default(),
        };
        Ok(Self {
            clock: EventClock::new(ctx.cfg.max_out_of_orderness_ms),
            ctx,
            keys: hashbrown::HashMap::default(),
            last_sweep_wm: None,
            dirty: Default::default(),
            track_dirty: false,
        })
    }

    /// A correlator with [`default_scale`] and [`default_sla`].
    pub fn with_defaults(cfg: CorrelateConfig) -> Result<Self> {
        Self::new(cfg, default_scale(), default_sla())
    }

    /// The configuration.
    pub fn config(&self) -> &CorrelateConfig {
        &self.ctx.cfg
    }

    /// Current watermark (max event time − max out-of-orderness, or the
    /// last watermark handed in if later), if any record was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.clock.watermark()
    }

    /// Max event time seen (to persist alongside the per-key state).
    pub fn max_event_time_ms(&self) -> Option<i64> {
        self.clock.max_event_ms()
    }

    /// Restores the max event time after a restart (never moves it back).
    pub fn restore_max_event_time(&mut self, ms: i64) {
        self.clock.restore_max_event(ms);
    }

    pub(super) fn key_state(&mut self, key: &str) -> &mut KeyState {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.into(), KeyState::default());
        }
        self.keys.get_mut(key).expect("inserted above")
    }

    pub(super) fn drop_if_empty(&mut self, key: &str) {
        if self.keys.get(key).is_some_and(KeyState::is_empty) {
            self.keys.remove(key);
        }
    }

    /// Makes the open items holding any of `mention_ids` (the source ids,
    /// without channel) part of `incident_id` and moves them to `queue`:
    /// used when an incident opens, for the mentions that led to it (they
    /// were correlated before the incident existed). One `updated` revision
    /// per item changed, in key order; items already in an incident keep it.
    pub fn tag_incident(
        &mut self,
        incident_id: &str,
        queue: &str,
        mention_ids: &[String],
    ) -> Vec<WorkItemEvent> {
        let mut out = Vec::new();
        self.tag_incident_into(incident_id, queue, mention_ids, &mut out);
        out
    }

    /// [`tag_incident`](Self::tag_incident), the events put into `out`.
    pub fn tag_incident_into(
        &mut self,
        incident_id: &str,
        queue: &str,
        mention_ids: &[String],
        out: &mut dyn EventOut,
    ) {
        if mention_ids.is_empty() {
            return;
        }
        let wanted: std::collections::HashSet<&str> =
            mention_ids.iter().map(String::as_str).collect();
        let hit = |uid: &str| wanted.contains(uid.split_once(':').map_or(uid, |(_, id)| id));
        let mut hits: Vec<(Box<str>, usize)> = Vec::new();
        for (key, ks) in &self.keys {
            for (i, it) in ks.items.iter().enumerate() {
                // The kept mentions and the dropped ones' ids (up to
                // their cap): every folded mention.
                if it.incident.is_none()
                    && (it.mentions.iter().any(|m| hit(m.uid()))
                        || it.dropped_ids().iter().any(|u| hit(u)))
                {
                    hits.push((key.clone(), i));
                }
            }
        }
        hits.sort();
        let queue = Sym::new(queue);
        for (key, idx) in hits {
            self.dirty_key(&key);
            let ctx = &mut self.ctx;
            let Some(ks) = self.keys.get_mut(&key) else {
                continue;
            };
            let t = ks.items[idx].last_activity_ms;
            ks.items[idx].incident = Some(incident_id.into());
            ks.items[idx].queue = queue;
            revise(ctx, &key, ks, idx, t, out);
        }
    }

    /// Closes quiet items and expires CRM state of all keys by the current
    /// watermark (at most once per `sweep_interval_ms` of watermark
    /// progress). Events are sorted by closing time, then id.
    pub fn advance(&mut self) -> Vec<WorkItemEvent> {
        let mut out = Vec::new();
        self.advance_into(&mut out);
        out
    }

    /// [`advance`](Self::advance), the events put into `out` (sorted among
    /// themselves).
    pub(crate) fn advance_into(&mut self, out: &mut dyn EventOut) {
        let Some(wm) = self.watermark() else {
            return;
        };
        if let Some(last) = self.last_sweep_wm {
            if wm <= last || wm < last.saturating_add(self.ctx.cfg.sweep_interval_ms) {
                return;
            }
        }
        self.last_sweep_wm = Some(wm);
        let start = out.event_count();
        for (key, ks) in self.keys.iter_mut() {
            let before = out.event_count();
            maintain(&mut self.ctx, key, ks, wm, out);
            if self.track_dirty && out.event_count() > before {
                self.dirty.insert(key.clone());
            }
        }
        let (track, dirty) = (self.track_dirty, &mut self.dirty);
        self.keys.retain(|key, ks| {
            let keep = !ks.is_empty();
            if track && !keep {
                dirty.insert(key.clone());
            }
            keep
        });
        out.sort_since(start);
    }

    /// Mentions and contacts skipped as duplicates so far (cheap, unlike
    /// [`Correlator::stats`], which walks the state).
    pub fn duplicates(&self) -> (u64, u64) {
        (
            self.ctx.stats.duplicate_mentions,
            self.ctx.stats.duplicate_contacts,
        )
    }

    /// Counters and state size (walks all keys: call it for metrics, not
    /// per record).
    pub fn stats(&self) -> CorrelateStats {
        let mut s = self.ctx.stats.clone();
        s.keys = self.keys.len();
        s.items_open = self.keys.values().map(|k| k.items.len()).sum();
        for it in self.keys.values().flat_map(|k| &k.items) {
            if it.related_is_case {
                continue;
            }
            let Some(idx) = SeverityLevel::parse(it.severity.as_str()).map(|l| l as usize) else {
                continue;
            };
            s.items_open_without_case[idx] += 1;
        }
        // Map: one bucket (key box + inline value + control byte) per slot;
        // `capacity()` is 7/8 of the slots.
        let bucket = std::mem::size_of::<(Box<str>, KeyState)>() + 1;
        s.approx_state_bytes = self
            .keys
            .iter()
            .map(|(k, v)| alloc_cost(k.len()) + v.heap_bytes())
            .sum::<usize>()
            + self.keys.capacity() * 8 / 7 * bucket;
        s
    }

    /// Starts (or stops) remembering which keys change, for the state
    /// changelog ([`Correlator::take_dirty`]).
    pub(crate) fn set_track_dirty(&mut self, on: bool) {
        self.track_dirty = on;
        if !on {
            self.dirty.clear();
        }
    }

    pub(super) fn dirty_key(&mut self, key: &str) {
        if self.track_dirty && !self.dirty.contains(key) {
            self.dirty.insert(key.into());
        }
    }

    /// The keys changed since the last call with their exported state
    /// (`None`: the key holds nothing any more, a tombstone), sorted by key.
    pub(crate) fn take_dirty(&mut self) -> Vec<(Box<str>, Option<Vec<u8>>)> {
        let mut keys: Vec<Box<str>> = self.dirty.drain().collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|k| {
                let v = self.export_key(&k);
                (k, v)
            })
            .collect()
    }

    /// Keys with state (any order).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(|k| &**k)
    }

    /// One key's state as JSON (for the state changelog), `None` if the key
    /// holds nothing.
    pub fn export_key(&self, key: &str) -> Option<Vec<u8>> {
        self.keys
            .get(key)
            .map(|ks| serde_json::to_vec(ks).expect("key state always serialises"))
    }

    /// Replaces one key's state with an exported one (empty state removes
    /// the key).
    pub fn import_key(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        let ks: KeyState = serde_json::from_slice(bytes)
            .map_err(|e| OperatorError::Input(format!("correlate state of `{key}`: {e}")))?;
        if ks.is_empty() {
            self.keys.remove(key);
        } else {
            let mut ks = ks;
            ks.shrink();
            *self.key_state(key) = ks;
        }
        Ok(())
    }

    /// Test hook: checks the per-key invariants (at most one open item per
    /// group; every item has a revision).
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        for (k, ks) in &self.keys {
            let mut groups: Vec<Sym> = ks.items.iter().map(|i| i.group).collect();
            groups.sort();
            let n = groups.len();
            groups.dedup();
            assert_eq!(n, groups.len(), "two open items of one group for {k}");
            assert!(ks.items.iter().all(|i| i.revision >= 1));
            assert!(!ks.is_empty(), "empty state kept for {k}");
        }
    }
}

impl CorrelateConfig {
    /// Validates the settings and builds the correlator with the severity
    /// operator's scale and SLA functions.
    pub fn build(&self, scale: ScaleFn, sla: SlaFn) -> Result<Correlator> {
        Correlator::new(self.clone(), scale, sla)
    }
}

/// Mentions in, work-item revisions out (into an [`EventOut`]); the batch
/// passes through unchanged. CRM contacts, the second input, go through
/// [`Correlator::on_contact_into`], and an incident's retroactive members
/// through [`Correlator::tag_incident_into`].
impl StatefulOperator for Correlator {
    type Out = dyn EventOut;

    fn name(&self) -> &'static str {
        names::CORRELATE
    }

    fn process_batch(&mut self, batch: &RecordBatch, out: &mut Self::Out) -> Result<RecordBatch> {
        self.on_mentions_into(batch, out)?;
        Ok(batch.clone())
    }

    fn watermark(&self) -> Option<i64> {
        self.clock.watermark()
    }

    /// Closes quiet items and expires CRM state by the watermark
    /// ([`Correlator::advance_into`]).
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Self::Out) {
        self.clock.advance_to(watermark_ms);
        self.advance_into(out);
    }

    fn track_changes(&mut self, on: bool) {
        self.set_track_dirty(on);
    }

    /// The changed keys ([`Correlator::take_dirty`]), then the clock.
    fn checkpoint(&mut self) -> Vec<StateChange> {
        let mut changes = self.take_dirty();
        if !changes.is_empty() {
            changes.extend(self.clock.checkpoint());
        }
        changes
    }

    fn restore(&mut self, key: &str, state: Option<&[u8]>) -> Result<()> {
        if key == CLOCK_KEY {
            self.clock.restore(state);
            return Ok(());
        }
        self.import_key(key, state.unwrap_or(b"{}"))
    }
}
