//! Incident detector: spikes of outage mentions per region.
//!
//! Each mention whose `category` is one of `incident.categories` (default
//! `network_outage`) is counted for its region — the CRM's
//! (`customer_region`) when the author is a customer, else the mention's
//! place (`place`, e.g. "Newcastle, England"), else a town the text names
//! ("no internet in Leeds"), both looked up in the `place_regions`
//! gazetteer (`places.rs`). Counts are kept in event-time buckets of
//! `bucket_ms`.
//!
//! **Opening.** At each counted mention (event time *t*) the region's count
//! over the sliding window `(t − window_ms, t]` is compared with its trailing
//! baseline, the average count per window over the `baseline_ms` before the
//! window: an incident opens when the window holds at least `min_mentions`
//! and at least `spike_ratio` × the baseline (a baseline below
//! `baseline_floor_per_window` counts as that floor, so a quiet region needs
//! a real spike, not three tweets). Nothing opens before `warmup_ms` of
//! event time has been observed (no history, no baseline), and the baseline
//! is averaged over the history observed so far. The mentions of the window
//! that led to the opening are reported as retroactive members (their work
//! items are re-tagged downstream); later outage mentions of the region
//! carry the `incident_id` while it is open.
//!
//! The baseline is a share: the region's counted mentions over all traffic
//! (every mention, any category or region) in the baseline period, applied
//! to the window's traffic, so a busy evening or a sparse start does not
//! look like a spike.
//!
//! **Closing, with hysteresis.** An open incident remembers the last event
//! time of a member at which its region's window still held
//! `close_below_mentions` and `close_ratio` × the expected count ("hot").
//! On [`IncidentDetector::advance`] (watermark = highest event time seen −
//! `max_out_of_orderness_ms`) it closes once it has been open
//! `min_open_ms` and has not been hot for `close_quiet_ms` (default three
//! windows).
//! Opening needs `min_mentions` and the spike ratio, closing a sustained
//! quiet: a burst read unevenly from several partitions, or a dip inside
//! one outage, no longer closes and reopens it (the demo opened and closed
//! 293 incidents in 30 s before). A mention later than the watermark is
//! still counted (it is data), but one at or before the watermark at which
//! the region's last incident closed can open nothing (before, late
//! mentions of a closed burst reopened it, under the same id): reopening
//! needs a new spike after the close.
//!
//! When an incident closes, its region's counts from its opening on fall
//! back to what the baseline expected (the baseline learns normal traffic,
//! not outages, and keeps the normal traffic of the incident's time), and
//! mentions at or before the close that arrive later are counted as late
//! only.
//!
//! **Ids are never reused**: `inc-<region>-<detection time, UTC, compact
//! to the millisecond>-<8 hex digits of the murmur2 of the mention that
//! tipped the spike>` (`inc-north_east-20261120T120312345Z-1a2b3c4d`). A
//! mention opens at most one incident, so two incidents never share an id
//! (the detector also checks its recent ids), while a replay of the same
//! input yields the same ids. Memory is bounded: per region, the buckets of
//! `window_ms + baseline_ms` and at most `max_members_tracked` recent
//! member ids.
//!
//! **Time scale.** The defaults suit real care traffic (a few mentions a
//! minute). A synthetic firehose packs thousands of mentions in a second
//! of event time; [`IncidentConfig::scaled_to_rate`] shrinks every time
//! setting in proportion for such input (the demo and `process` use it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field};
use serde::{Deserialize, Serialize};

mod places;
#[cfg(test)]
mod tests;

use crate::columns::{append_columns, str_at, time_column, StrColumn};
use crate::error::{OperatorError, Result};
use crate::operator::{names, EventClock, StatefulOperator};
use crate::repartition::murmur2;
use crate::schema::col;
use crate::time::{format_compact_ms, format_rfc3339_secs};

/// Incident detection settings (the `[incident]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentConfig {
    /// Categories whose mentions count towards an incident.
    pub categories: Vec<String>,
    /// Sliding window over which a spike is measured, in milliseconds.
    pub window_ms: i64,
    /// Trailing baseline before the window, in milliseconds.
    pub baseline_ms: i64,
    /// Width of the event-time count buckets, in milliseconds.
    pub bucket_ms: i64,
    /// Fewest outage mentions in the window that can open an incident.
    pub min_mentions: u32,
    /// The window must hold at least this many times the baseline's average
    /// count per window.
    pub spike_ratio: f64,
    /// The baseline's average per window is taken as at least this.
    pub baseline_floor_per_window: f64,
    /// An open incident closes when its window count at the watermark falls
    /// below this (and the quiet below has lasted `close_quiet_ms`).
    pub close_below_mentions: u32,
    /// An open incident closes only once its region's window has held fewer
    /// than `close_below_mentions` for this long, in milliseconds
    /// (hysteresis: a dip inside one outage does not split it in two).
    pub close_quiet_ms: i64,
    /// The window counts as quiet below `close_ratio` × what the baseline
    /// expects (or below `close_below_mentions`): opening needs
    /// `spike_ratio`, staying open half as much.
    pub close_ratio: f64,
    /// An incident stays open at least this long, in milliseconds.
    pub min_open_ms: i64,
    /// Attribute an outage mention without CRM region or place to a town
    /// of `place_regions` its text names (capitalised, whole words).
    pub places_in_text: bool,
    /// Bounded out-of-orderness: the watermark trails the highest event time
    /// seen by this much, in milliseconds.
    pub max_out_of_orderness_ms: i64,
    /// Recent member mention ids kept per region (for retroactive tagging).
    pub max_members_tracked: usize,
    /// Event time the detector must have observed (since its first outage
    /// mention) before it may open an incident, in milliseconds: without
    /// history every region would look like a spike at start. The baseline
    /// is averaged over the history actually observed, up to `baseline_ms`.
    pub warmup_ms: i64,
    /// Place (town, lower case) → region, for authors without a CRM region.
    /// Region names are the CRM's.
    pub place_regions: BTreeMap<String, String>,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        Self {
            categories: vec!["network_outage".into(), "broadband_fault".into()],
            window_ms: 10 * 60_000,
            baseline_ms: 6 * 3_600_000,
            bucket_ms: 60_000,
            min_mentions: 30,
            spike_ratio: 4.0,
            baseline_floor_per_window: 2.0,
            close_below_mentions: 5,
            close_quiet_ms: 30 * 60_000,
            close_ratio: 2.0,
            min_open_ms: 10 * 60_000,
            places_in_text: true,
            max_out_of_orderness_ms: 5 * 60_000,
            max_members_tracked: 5_000,
            warmup_ms: 30 * 60_000,
            place_regions: places::default_place_regions(),
        }
    }
}

impl IncidentConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| {
            Err(OperatorError::Config {
                key: format!("incident.{key}"),
                reason: reason.into(),
            })
        };
        if self.bucket_ms <= 0 {
            return bad("bucket_ms", "must be positive");
        }
        if self.window_ms < self.bucket_ms {
            return bad("window_ms", "must be at least bucket_ms");
        }
        if self.baseline_ms < 0 {
            return bad("baseline_ms", "must not be negative");
        }
        if self.min_mentions == 0 {
            return bad("min_mentions", "must be at least 1");
        }
        if !(self.spike_ratio.is_finite() && self.spike_ratio >= 1.0) {
            return bad("spike_ratio", "must be at least 1.0");
        }
        if !(self.baseline_floor_per_window.is_finite() && self.baseline_floor_per_window >= 0.0) {
            return bad("baseline_floor_per_window", "must be a non-negative number");
        }
        if self.close_below_mentions > self.min_mentions {
            return bad("close_below_mentions", "must not exceed min_mentions");
        }
        if !(self.close_ratio.is_finite() && self.close_ratio >= 0.0) {
            return bad("close_ratio", "must be a non-negative number");
        }
        if self.close_quiet_ms < 0 {
            return bad("close_quiet_ms", "must not be negative");
        }
        if self.min_open_ms < 0 {
            return bad("min_open_ms", "must not be negative");
        }
        if self.warmup_ms < 0 {
            return bad("warmup_ms", "must not be negative");
        }
        if self.max_out_of_orderness_ms < 0 {
            return bad("max_out_of_orderness_ms", "must not be negative");
        }
        if self.categories.is_empty() {
            return bad("categories", "must name at least one category");
        }
        Ok(())
    }

    /// These settings with every time setting shrunk in proportion, so that
    /// a window holds about `mentions_per_window` mentions of traffic
    /// arriving at `mentions_per_sec` (of event time); unchanged when a
    /// window already holds no more (real care traffic). For synthetic
    /// firehoses, far denser in event time than any real brand's mentions.
    pub fn scaled_to_rate(&self, mentions_per_sec: f64, mentions_per_window: f64) -> Self {
        let held = mentions_per_sec * self.window_ms as f64 / 1000.0;
        if !(held.is_finite() && held > mentions_per_window && mentions_per_window > 0.0) {
            return self.clone();
        }
        let f = mentions_per_window / held;
        let scale = |ms: i64| ((ms as f64 * f).round() as i64).max(1);
        let mut c = self.clone();
        c.window_ms = scale(self.window_ms);
        c.bucket_ms = scale(self.bucket_ms).min(c.window_ms);
        c.baseline_ms = scale(self.baseline_ms);
        c.close_quiet_ms = scale(self.close_quiet_ms);
        c.min_open_ms = scale(self.min_open_ms);
        c.max_out_of_orderness_ms = scale(self.max_out_of_orderness_ms);
        c.warmup_ms = scale(self.warmup_ms);
        c
    }
}

/// How many mentions a window holds at most before `process` and the demo
/// scale the incident windows to their input's event-time rate
/// ([`IncidentConfig::scaled_to_rate`]): what ten minutes hold at one
/// mention a second, a large telco's care traffic. A window must be shorter
/// than the outages it is to find: the generator's outage bursts last 400 to
/// 4,000 records, and at 5,000 mentions a window diluted most of them below
/// the spike ratio (`process` on 200,000 generated mentions found 2 of its
/// bursts, and 3 false incidents in a burst's wake).
pub const DENSE_MENTIONS_PER_WINDOW: f64 = 600.0;

/// One incident event (`incidents` topic), the whole current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// Unique id (never reused), the same on a replay of the same input.
    pub incident_id: String,
    /// `opened` or `closed`.
    pub action: String,
    /// Region (the CRM's region names).
    pub region: String,
    /// Event time of its earliest member (RFC 3339).
    pub opened_at: String,
    /// Event time of the mention that tipped the spike (RFC 3339).
    #[serde(default)]
    pub detected_at: String,
    /// Watermark at closing (RFC 3339), when closed.
    pub closed_at: Option<String>,
    /// Outage mentions attached so far (retroactive members included).
    pub mentions: u64,
    /// Outage mentions in the window when the event was made.
    pub window_mentions: u64,
    /// What the baseline expected in the window when it opened: the
    /// region's share of all traffic over the baseline period × the
    /// window's traffic (at least `baseline_floor_per_window`).
    pub baseline_per_window: f64,
}

/// What one batch produced.
#[derive(Debug, Default)]
pub struct IncidentOutput {
    /// Incidents opened or closed, in order.
    pub events: Vec<IncidentEvent>,
    /// For each incident opened: the earlier mentions of its window (ids),
    /// which became members retroactively.
    pub retro_members: Vec<(String, Vec<String>)>,
}

/// Counters since the last [`IncidentDetector::take_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentStats {
    /// Outage mentions counted.
    pub counted: u64,
    /// Outage mentions without a known region (not counted).
    pub no_region: u64,
    /// Counted mentions later than the watermark.
    pub late: u64,
    /// Incidents opened.
    pub opened: u64,
    /// Incidents closed.
    pub closed: u64,
}

#[derive(Debug)]
struct Open {
    id: Arc<str>,
    opened_at_ms: i64,
    detected_ms: i64,
    members: u64,
    baseline: f64,
    /// Last event time at which the region's window held at least
    /// `close_below_mentions`.
    hot_ms: i64,
}

#[derive(Debug, Default)]
struct RegionState {
    buckets: BTreeMap<i64, u32>,
    recent: VecDeque<(i64, String)>,
    open: Option<Open>,
    /// Watermark at which its last incident closed: a mention at or before
    /// it (a late one) cannot open a new incident.
    closed_at_ms: Option<i64>,
}

/// The incident detector (stateful; one per pipeline, keyed by region).
#[derive(Debug)]
pub struct IncidentDetector {
    cfg: IncidentConfig,
    regions: HashMap<String, RegionState>,
    /// Every mention (all categories, all regions) per bucket: the traffic
    /// the baseline share is taken of.
    traffic: BTreeMap<i64, u32>,
    /// Event time of every mention, counted or not.
    clock: EventClock,
    first_event_ms: Option<i64>,
    stats: IncidentStats,
    places: places::Gazetteer,
    /// Ids issued lately, so that none is issued twice.
    issued: VecDeque<Arc<str>>,
}

impl IncidentDetector {
    /// Builds (and validates) a detector.
    pub fn new(cfg: IncidentConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            clock: EventClock::new(cfg.max_out_of_orderness_ms),
            cfg: cfg.clone(),
            regions: HashMap::new(),
            traffic: BTreeMap::new(),
            first_event_ms: None,
            stats: IncidentStats::default(),
            places: places::Gazetteer::new(&cfg.place_regions)?,
            issued: VecDeque::new(),
        })
    }

    /// The watermark: highest event time seen − out-of-orderness (or the
    /// last watermark handed in, if later).
    pub fn watermark_ms(&self) -> Option<i64> {
        self.clock.watermark()
    }

    /// Open incidents.
    pub fn open_incidents(&self) -> usize {
        self.regions.values().filter(|r| r.open.is_some()).count()
    }

    /// Returns and resets the counters.
    pub fn take_stats(&mut self) -> IncidentStats {
        std::mem::take(&mut self.stats)
    }

    /// The CRM region, else the place's, else (`places_in_text`) that of a
    /// town the text names.
    fn region_of(
        &self,
        crm: Option<&str>,
        place: Option<&str>,
        text: Option<&str>,
    ) -> Option<String> {
        if let Some(r) = crm.filter(|r| !r.is_empty()) {
            return Some(r.to_string());
        }
        if let Some(r) = place.and_then(|p| self.places.of_place(p)) {
            return Some(r.to_string());
        }
        let text = text.filter(|_| self.cfg.places_in_text)?;
        self.places.in_text(text).map(str::to_string)
    }

    fn count_between(buckets: &BTreeMap<i64, u32>, from_excl: i64, to_incl: i64) -> u64 {
        if to_incl <= from_excl {
            return 0;
        }
        buckets
            .range(from_excl + 1..=to_incl)
            .map(|(_, n)| *n as u64)
            .sum()
    }

    /// Counts the batch's outage mentions, opens incidents, and appends
    /// [`col::INCIDENT_ID`]. Then moves the watermark ([`Self::advance`]).
    /// The events go into `out` ([`StatefulOperator::process_batch`]).
    fn detect_into(
        &mut self,
        batch: &RecordBatch,
        out: &mut IncidentOutput,
    ) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let category = StrColumn::opt(batch, col::CATEGORY)?;
        let region = StrColumn::opt(batch, col::CUSTOMER_REGION)?;
        let place = StrColumn::opt(batch, col::PLACE)?;
        let text = StrColumn::opt(batch, col::TEXT)?;
        let ids = StrColumn::get(batch, col::MENTION_ID)?;
        let time = time_column(batch, col::EVENT_TIME)?
            .ok_or_else(|| OperatorError::Input(format!("no ms column `{}`", col::EVENT_TIME)))?;
        let mut b = StringBuilder::with_capacity(n, 0);
        for i in 0..n {
            let Some(t) = time.get(i) else {
                b.append_null();
                continue;
            };
            // Every mention moves event time (watermark, warm-up), counted or not.
            self.first_event_ms.get_or_insert(t);
            let late = self.clock.observe(t);
            let bucket = t.div_euclid(self.cfg.bucket_ms) * self.cfg.bucket_ms;
            *self.traffic.entry(bucket).or_insert(0) += 1;
            let counted =
                str_at(&category, i).is_some_and(|c| self.cfg.categories.iter().any(|x| x == c));
            if !counted {
                b.append_null();
                continue;
            }
            let Some(r) = self.region_of(str_at(&region, i), str_at(&place, i), str_at(&text, i))
            else {
                self.stats.no_region += 1;
                b.append_null();
                continue;
            };
            self.stats.counted += 1;
            if late {
                self.stats.late += 1;
            }
            let id = ids.value(i).unwrap_or_default();
            b.append_option(self.count(r, t, id, out).as_deref());
        }
        out.events.extend(self.advance());
        let arr: ArrayRef = Arc::new(b.finish());
        append_columns(
            batch,
            vec![(Field::new(col::INCIDENT_ID, DataType::Utf8, true), arr)],
        )
    }

    /// Counts one outage mention of region `r` at `t`: the open incident it
    /// joins, or the one its spike opens (its event and retroactive members
    /// put into `out`), else `None` (it is remembered as a possible member).
    fn count(&mut self, r: String, t: i64, id: &str, out: &mut IncidentOutput) -> Option<Arc<str>> {
        let first = self.first_event_ms.unwrap_or(t);
        let cfg = &self.cfg;
        let st = self.regions.entry(r.clone()).or_default();
        if st.open.is_none() && st.closed_at_ms.is_some_and(|c| t <= c) {
            return None; // a late mention of a closed incident's time
        }
        let bucket = t.div_euclid(cfg.bucket_ms) * cfg.bucket_ms;
        *st.buckets.entry(bucket).or_insert(0) += 1;
        let window = Self::count_between(&st.buckets, t - cfg.window_ms, t);
        // The baseline: the region's share of all traffic over the
        // `baseline_ms` before the window, applied to the window's traffic
        // (robust to day and night, and to a sparse start).
        let traffic_window = Self::count_between(&self.traffic, t - cfg.window_ms, t);
        let traffic_base = Self::count_between(
            &self.traffic,
            t - cfg.window_ms - cfg.baseline_ms,
            t - cfg.window_ms,
        );
        let base_total = Self::count_between(
            &st.buckets,
            t - cfg.window_ms - cfg.baseline_ms,
            t - cfg.window_ms,
        );
        let expected = if traffic_base > 0 {
            base_total as f64 * traffic_window as f64 / traffic_base as f64
        } else {
            0.0
        };
        if let Some(open) = &mut st.open {
            open.members += 1;
            if window >= cfg.close_below_mentions as u64
                && window as f64 >= cfg.close_ratio * expected
            {
                open.hot_ms = open.hot_ms.max(t);
            }
            return Some(open.id.clone());
        }
        let base = expected.max(cfg.baseline_floor_per_window);
        // Warm: `warmup_ms` observed, and a baseline of at least a window's
        // traffic; a late mention of a closed incident's time cannot reopen it.
        let warm = t - first >= cfg.warmup_ms
            && traffic_base >= traffic_window
            && st.closed_at_ms.is_none_or(|c| t > c);
        if !(warm && window >= cfg.min_mentions as u64 && window as f64 >= cfg.spike_ratio * base) {
            st.recent.push_back((t, id.to_string()));
            while st.recent.len() > cfg.max_members_tracked {
                st.recent.pop_front();
            }
            return None;
        }
        let lo = t - cfg.window_ms;
        let mut opened_at_ms = t;
        let members: Vec<String> = st
            .recent
            .iter()
            .filter(|(bt, _)| *bt > lo)
            .map(|(bt, m)| {
                opened_at_ms = opened_at_ms.min(*bt);
                m.clone()
            })
            .collect();
        st.recent.clear();
        let total = members.len() as u64 + 1;
        let iid = self.new_id(&r, t, id);
        let st = self.regions.get_mut(&r).expect("entered above");
        st.open = Some(Open {
            id: iid.clone(),
            opened_at_ms,
            detected_ms: t,
            members: total,
            baseline: base,
            hot_ms: t,
        });
        self.stats.opened += 1;
        out.events.push(IncidentEvent {
            incident_id: iid.to_string(),
            action: "opened".into(),
            region: r,
            opened_at: format_rfc3339_secs(opened_at_ms),
            detected_at: format_rfc3339_secs(t),
            closed_at: None,
            mentions: total,
            window_mentions: window,
            baseline_per_window: base,
        });
        out.retro_members.push((iid.to_string(), members));
        Some(iid)
    }

    /// A new incident id: region, detection time and the hash of the
    /// mention that tipped the spike; a suffix if it was issued lately
    /// (the same mention replayed into a live detector).
    fn new_id(&mut self, region: &str, t: i64, mention_id: &str) -> Arc<str> {
        let h = murmur2(mention_id.as_bytes()) as u32;
        let base = format!("inc-{}-{}-{h:08x}", slug(region), format_compact_ms(t));
        let mut id: Arc<str> = base.as_str().into();
        let mut n = 1;
        while self.issued.contains(&id) {
            n += 1;
            id = format!("{base}-{n}").into();
        }
        self.issued.push_back(id.clone());
        if self.issued.len() > MAX_RECENT_IDS {
            self.issued.pop_front();
        }
        id
    }

    /// Closes incidents whose rate fell back and stayed down (at the
    /// watermark) and forgets buckets older than the window and baseline.
    fn advance(&mut self) -> Vec<IncidentEvent> {
        let Some(w) = self.watermark_ms() else {
            return Vec::new();
        };
        let cfg = &self.cfg;
        let mut events = Vec::new();
        let mut names: Vec<&String> = self.regions.keys().collect();
        names.sort(); // deterministic event order
        let names: Vec<String> = names.into_iter().cloned().collect();
        let keep_from = w - cfg.window_ms - cfg.baseline_ms - cfg.bucket_ms;
        self.traffic = self.traffic.split_off(&keep_from);
        for name in names {
            let st = self.regions.get_mut(&name).expect("listed");
            st.buckets = st.buckets.split_off(&keep_from);
            while st
                .recent
                .front()
                .is_some_and(|(t, _)| *t <= w - cfg.window_ms)
            {
                st.recent.pop_front();
            }
            let Some(open) = &st.open else { continue };
            if w < open.detected_ms + cfg.min_open_ms.max(cfg.window_ms) {
                continue; // give it at least one window
            }
            let window = Self::count_between(&st.buckets, w - cfg.window_ms, w);
            if w - open.hot_ms < cfg.close_quiet_ms {
                continue; // hot within the quiet period
            }
            let open = st.open.take().expect("checked");
            st.closed_at_ms = Some(w);
            // The baseline learns normal traffic, not the outage: a second
            // outage hours later must not have to outshout the first. The
            // incident's buckets fall back to what the baseline expected
            // (dropping them, as before, left the region's normal traffic
            // of the incident's time out too: the next window then looked
            // like a spike against a starved baseline, and one generated
            // burst opened three incidents in a row).
            let from = open.opened_at_ms.div_euclid(cfg.bucket_ms) * cfg.bucket_ms;
            let per_bucket =
                (open.baseline * cfg.bucket_ms as f64 / cfg.window_ms as f64).ceil() as u32;
            for (_, n) in st.buckets.range_mut(from..) {
                *n = (*n).min(per_bucket);
            }
            self.stats.closed += 1;
            events.push(IncidentEvent {
                incident_id: open.id.to_string(),
                action: "closed".into(),
                region: name.clone(),
                opened_at: format_rfc3339_secs(open.opened_at_ms),
                detected_at: format_rfc3339_secs(open.detected_ms),
                closed_at: Some(format_rfc3339_secs(w)),
                mentions: open.members,
                window_mentions: window,
                baseline_per_window: open.baseline,
            });
        }
        events
    }
}

/// Incident ids remembered to refuse issuing one twice.
const MAX_RECENT_IDS: usize = 1024;

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl IncidentConfig {
    /// Validates the settings and builds the detector.
    pub fn build(&self) -> Result<IncidentDetector> {
        IncidentDetector::new(self.clone())
    }
}

/// Outage mentions in, [`col::INCIDENT_ID`] appended; incident events and
/// retroactive members into an [`IncidentOutput`]. Its state is not
/// durable (as before): after a restart it learns its baseline again
/// (`warmup_ms`).
impl StatefulOperator for IncidentDetector {
    type Out = IncidentOutput;

    fn name(&self) -> &'static str {
        names::INCIDENT
    }

    fn process_batch(
        &mut self,
        batch: &RecordBatch,
        out: &mut IncidentOutput,
    ) -> Result<RecordBatch> {
        self.detect_into(batch, out)
    }

    fn watermark(&self) -> Option<i64> {
        self.clock.watermark()
    }

    /// Closes incidents whose rate fell back ([`IncidentDetector::advance`]).
    fn on_watermark(&mut self, watermark_ms: i64, out: &mut IncidentOutput) {
        self.clock.advance_to(watermark_ms);
        out.events.extend(self.advance());
    }
}
