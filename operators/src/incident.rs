//! Incident detector: spikes of outage mentions per region.
//!
//! Each mention whose `category` is one of `incident.categories` (default
//! `network_outage`) is counted for its region — the CRM's
//! (`customer_region`) when the author is a customer, else the mention's
//! place (`place`, e.g. "Newcastle, England") looked up in the
//! `place_regions` gazetteer (first comma-separated part, case-insensitive).
//! Counts are kept in event-time buckets of `bucket_ms`.
//!
//! **Opening.** At each counted mention (event time *t*) the region's count
//! over the sliding window `(t − window_ms, t]` is compared with its trailing
//! baseline, the average count per window over the `baseline_ms` before the
//! window: an incident opens when the window holds at least `min_mentions`
//! and at least `spike_ratio` × the baseline (a baseline below
//! `baseline_floor_per_window` counts as that floor, so a quiet region needs
//! a real spike, not three tweets). Nothing opens before `warmup_ms` of
//! event time has been observed (no history, no baseline), and the baseline
//! is averaged over the history observed so far. The mentions of the window that led to
//! the opening are reported as retroactive members (their work items are
//! re-tagged downstream); later outage mentions of the region carry the
//! `incident_id` while it is open.
//!
//! **Closing.** On [`IncidentDetector::advance`] the watermark (highest event
//! time seen − `max_out_of_orderness_ms`) is moved; an open incident whose
//! window count at the watermark fell below `close_below_mentions` closes.
//! A mention later than the watermark is still counted (it is data), but
//! never reopens a closed incident by itself: reopening needs a new spike.
//!
//! **Ids** are deterministic: `inc-<region>-<bucket start, UTC, compact to
//! the millisecond>` (`inc-north_east-20261120T120000000Z`), so
//! a replay yields the same incidents. Memory is bounded: per region, the
//! buckets of `window_ms + baseline_ms` and at most
//! `max_members_tracked` recent member ids.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, TimestampMillisecondType};
use serde::{Deserialize, Serialize};

use crate::classify::append_columns;
use crate::error::{OperatorError, Result};
use crate::schema::col as mcol;

/// Column appended by [`IncidentDetector::detect_batch`]: the open incident a
/// mention belongs to (null when none). Utf8.
pub const INCIDENT_ID: &str = "incident_id";

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
    /// below this.
    pub close_below_mentions: u32,
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
            categories: vec!["network_outage".into()],
            window_ms: 10 * 60_000,
            baseline_ms: 6 * 3_600_000,
            bucket_ms: 60_000,
            min_mentions: 30,
            spike_ratio: 4.0,
            baseline_floor_per_window: 2.0,
            close_below_mentions: 5,
            max_out_of_orderness_ms: 5 * 60_000,
            max_members_tracked: 5_000,
            warmup_ms: 30 * 60_000,
            place_regions: default_place_regions(),
        }
    }
}

/// UK towns → the CRM's region names (the towns the synthetic generator and
/// most UK care traffic name).
fn default_place_regions() -> BTreeMap<String, String> {
    const T: &[(&str, &[&str])] = &[
        (
            "london",
            &[
                "london",
                "hackney",
                "islington",
                "camden",
                "lewisham",
                "brixton",
                "ealing",
                "the city",
                "holborn",
            ],
        ),
        (
            "south_east",
            &[
                "brighton",
                "guildford",
                "reading",
                "oxford",
                "southampton",
                "portsmouth",
                "maidstone",
                "milton keynes",
                "canterbury",
            ],
        ),
        (
            "south_west",
            &[
                "bristol",
                "exeter",
                "plymouth",
                "truro",
                "bath",
                "taunton",
                "gloucester",
                "bournemouth",
            ],
        ),
        (
            "east_of_england",
            &[
                "cambridge",
                "norwich",
                "ipswich",
                "colchester",
                "chelmsford",
                "luton",
                "stevenage",
                "peterborough",
            ],
        ),
        (
            "west_midlands",
            &[
                "birmingham",
                "coventry",
                "wolverhampton",
                "walsall",
                "dudley",
                "stoke-on-trent",
                "worcester",
                "hereford",
            ],
        ),
        (
            "east_midlands",
            &["nottingham", "leicester", "derby", "northampton", "lincoln"],
        ),
        (
            "north_west",
            &[
                "manchester",
                "liverpool",
                "warrington",
                "preston",
                "bolton",
                "chester",
                "blackburn",
                "carlisle",
                "oldham",
                "stockport",
                "wigan",
            ],
        ),
        (
            "north_east",
            &["newcastle", "sunderland", "durham", "middlesbrough"],
        ),
        (
            "yorkshire_humber",
            &[
                "leeds",
                "sheffield",
                "bradford",
                "hull",
                "york",
                "huddersfield",
                "halifax",
                "doncaster",
                "wakefield",
            ],
        ),
        (
            "scotland",
            &[
                "edinburgh",
                "glasgow",
                "aberdeen",
                "dundee",
                "kirkcaldy",
                "paisley",
                "inverness",
                "falkirk",
                "motherwell",
            ],
        ),
        (
            "wales",
            &[
                "cardiff",
                "swansea",
                "newport",
                "bangor",
                "llandrindod wells",
            ],
        ),
        ("northern_ireland", &["belfast"]),
    ];
    T.iter()
        .flat_map(|(r, towns)| towns.iter().map(move |t| (t.to_string(), r.to_string())))
        .collect()
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
}

/// One incident event (`incidents` topic), the whole current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// Deterministic id.
    pub incident_id: String,
    /// `opened` or `closed`.
    pub action: String,
    /// Region (the CRM's region names).
    pub region: String,
    /// Start of the bucket in which the spike was detected (RFC 3339).
    pub opened_at: String,
    /// Watermark at closing (RFC 3339), when closed.
    pub closed_at: Option<String>,
    /// Outage mentions attached so far (retroactive members included).
    pub mentions: u64,
    /// Outage mentions in the window when the event was made.
    pub window_mentions: u64,
    /// Baseline average per window when it opened.
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
    members: u64,
    baseline: f64,
}

#[derive(Debug, Default)]
struct RegionState {
    buckets: BTreeMap<i64, u32>,
    recent: VecDeque<(i64, String)>,
    open: Option<Open>,
}

/// The incident detector (stateful; one per pipeline, keyed by region).
#[derive(Debug)]
pub struct IncidentDetector {
    cfg: IncidentConfig,
    regions: HashMap<String, RegionState>,
    max_event_ms: Option<i64>,
    first_event_ms: Option<i64>,
    stats: IncidentStats,
}

impl IncidentDetector {
    /// Builds (and validates) a detector.
    pub fn new(cfg: IncidentConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            regions: HashMap::new(),
            max_event_ms: None,
            first_event_ms: None,
            stats: IncidentStats::default(),
        })
    }

    /// The watermark: highest event time seen − out-of-orderness.
    pub fn watermark_ms(&self) -> Option<i64> {
        self.max_event_ms
            .map(|m| m - self.cfg.max_out_of_orderness_ms)
    }

    /// Open incidents.
    pub fn open_incidents(&self) -> usize {
        self.regions.values().filter(|r| r.open.is_some()).count()
    }

    /// Returns and resets the counters.
    pub fn take_stats(&mut self) -> IncidentStats {
        std::mem::take(&mut self.stats)
    }

    fn region_of<'a>(&self, crm: Option<&'a str>, place: Option<&'a str>) -> Option<String> {
        if let Some(r) = crm.filter(|r| !r.is_empty()) {
            return Some(r.to_string());
        }
        let town = place?.split(',').next()?.trim().to_lowercase();
        self.cfg.place_regions.get(&town).cloned()
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
    /// [`INCIDENT_ID`]. Then moves the watermark ([`Self::advance`]).
    pub fn detect_batch(&mut self, batch: &RecordBatch) -> Result<(RecordBatch, IncidentOutput)> {
        let n = batch.num_rows();
        let category = opt_str(batch, "category");
        let region = opt_str(batch, "customer_region");
        let place = opt_str(batch, mcol::PLACE);
        let ids = opt_str(batch, mcol::MENTION_ID)
            .ok_or_else(|| OperatorError::Input(format!("no column `{}`", mcol::MENTION_ID)))?;
        let time = batch
            .column_by_name(mcol::EVENT_TIME)
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
            .ok_or_else(|| OperatorError::Input(format!("no ms column `{}`", mcol::EVENT_TIME)))?;
        let mut out = IncidentOutput::default();
        let mut b = StringBuilder::with_capacity(n, 0);
        let bucket_ms = self.cfg.bucket_ms;
        for i in 0..n {
            // Every mention moves event time (watermark, warm-up), counted or not.
            if time.is_valid(i) {
                let t = time.value(i);
                self.first_event_ms.get_or_insert(t);
                self.max_event_ms = Some(self.max_event_ms.map_or(t, |m| m.max(t)));
            }
            let cat = category.and_then(|c| get(c, i));
            let counted = cat.is_some_and(|c| self.cfg.categories.iter().any(|x| x == c));
            if !counted || time.is_null(i) {
                b.append_null();
                continue;
            }
            let t = time.value(i);
            let Some(r) = self.region_of(
                region.and_then(|c| get(c, i)),
                place.and_then(|c| get(c, i)),
            ) else {
                self.stats.no_region += 1;
                b.append_null();
                continue;
            };
            self.stats.counted += 1;
            if self.watermark_ms().is_some_and(|w| t < w) {
                self.stats.late += 1;
            }
            let first = self.first_event_ms.unwrap_or(t);
            let cfg = &self.cfg;
            let st = self.regions.entry(r.clone()).or_default();
            let bucket = t.div_euclid(bucket_ms) * bucket_ms;
            *st.buckets.entry(bucket).or_insert(0) += 1;
            let id = get(ids, i).unwrap_or_default().to_string();
            if let Some(open) = &mut st.open {
                open.members += 1;
                b.append_value(open.id.as_ref());
                continue;
            }
            let window = Self::count_between(&st.buckets, t - cfg.window_ms, t);
            let base_total = Self::count_between(
                &st.buckets,
                t - cfg.window_ms - cfg.baseline_ms,
                t - cfg.window_ms,
            );
            // Averaged over the baseline history actually observed.
            let observed = (t - cfg.window_ms - first).clamp(0, cfg.baseline_ms);
            let base = if observed > 0 {
                base_total as f64 * cfg.window_ms as f64 / observed.max(cfg.window_ms) as f64
            } else {
                0.0
            }
            .max(cfg.baseline_floor_per_window);
            let warm = t - first >= cfg.warmup_ms;
            if warm && window >= cfg.min_mentions as u64 && window as f64 >= cfg.spike_ratio * base
            {
                let iid: Arc<str> = format!("inc-{}-{}", slug(&r), compact_time(bucket)).into();
                let lo = t - cfg.window_ms;
                let members: Vec<String> = st
                    .recent
                    .iter()
                    .filter(|(bt, _)| *bt > lo)
                    .map(|(_, m)| m.clone())
                    .collect();
                st.recent.clear();
                let total = members.len() as u64 + 1;
                st.open = Some(Open {
                    id: iid.clone(),
                    opened_at_ms: bucket,
                    members: total,
                    baseline: base,
                });
                self.stats.opened += 1;
                out.events.push(IncidentEvent {
                    incident_id: iid.to_string(),
                    action: "opened".into(),
                    region: r.clone(),
                    opened_at: rfc3339(bucket),
                    closed_at: None,
                    mentions: total,
                    window_mentions: window,
                    baseline_per_window: base,
                });
                out.retro_members.push((iid.to_string(), members));
                b.append_value(iid.as_ref());
            } else {
                st.recent.push_back((t, id));
                while st.recent.len() > cfg.max_members_tracked {
                    st.recent.pop_front();
                }
                b.append_null();
            }
        }
        out.events.extend(self.advance());
        let arr: ArrayRef = Arc::new(b.finish());
        let batch = append_columns(
            batch,
            vec![(Field::new(INCIDENT_ID, DataType::Utf8, true), arr)],
        )?;
        Ok((batch, out))
    }

    /// Closes incidents whose rate fell back (at the watermark) and forgets
    /// buckets older than the window and baseline.
    pub fn advance(&mut self) -> Vec<IncidentEvent> {
        let Some(w) = self.watermark_ms() else {
            return Vec::new();
        };
        let cfg = &self.cfg;
        let mut events = Vec::new();
        let mut names: Vec<&String> = self.regions.keys().collect();
        names.sort(); // deterministic event order
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            let st = self.regions.get_mut(&name).expect("listed");
            let keep_from = w - cfg.window_ms - cfg.baseline_ms - cfg.bucket_ms;
            st.buckets = st.buckets.split_off(&keep_from);
            while st
                .recent
                .front()
                .is_some_and(|(t, _)| *t <= w - cfg.window_ms)
            {
                st.recent.pop_front();
            }
            let Some(open) = &st.open else { continue };
            if w < open.opened_at_ms + cfg.window_ms {
                continue; // give it at least one window
            }
            let window = Self::count_between(&st.buckets, w - cfg.window_ms, w);
            if window < cfg.close_below_mentions as u64 {
                let open = st.open.take().expect("checked");
                self.stats.closed += 1;
                events.push(IncidentEvent {
                    incident_id: open.id.to_string(),
                    action: "closed".into(),
                    region: name.clone(),
                    opened_at: rfc3339(open.opened_at_ms),
                    closed_at: Some(rfc3339(w)),
                    mentions: open.members,
                    window_mentions: window,
                    baseline_per_window: open.baseline,
                });
            }
        }
        events
    }
}

fn opt_str<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
}

fn get(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

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

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn compact_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y%m%dT%H%M%S%3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMillisecondArray};
    use arrow::datatypes::Schema;

    const T0: i64 = 1_795_000_000_000; // 2026-11-18

    struct Row<'a> {
        id: String,
        cat: &'a str,
        region: Option<&'a str>,
        place: Option<&'a str>,
        t: i64,
    }

    fn batch(rows: &[Row]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(mcol::MENTION_ID, DataType::Utf8, false),
            Field::new("category", DataType::Utf8, true),
            Field::new("customer_region", DataType::Utf8, true),
            Field::new(mcol::PLACE, DataType::Utf8, true),
            Field::new(
                mcol::EVENT_TIME,
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.id.clone()),
                )),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| Some(r.cat)))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.region))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.place))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.t),
                )),
            ],
        )
        .unwrap()
    }

    /// Normal traffic for hours (a few outage mentions everywhere), then 200
    /// outage mentions from one region in ten minutes, then normal again.
    fn scenario() -> Vec<Row<'static>> {
        let mut rows = Vec::new();
        let regions = ["london", "wales", "north_east", "scotland"];
        let mut k = 0;
        // 6 h of background: one outage mention per region every 20 min,
        // plus other categories.
        for m in 0..360 {
            let t = T0 + m * 60_000;
            if m % 20 == 0 {
                for r in regions {
                    k += 1;
                    rows.push(Row {
                        id: format!("bg{k}"),
                        cat: "network_outage",
                        region: Some(r),
                        place: None,
                        t,
                    });
                }
            }
            k += 1;
            rows.push(Row {
                id: format!("bg{k}"),
                cat: "billing",
                region: Some("wales"),
                place: None,
                t,
            });
        }
        // The spike: 200 in ten minutes in the north east, half of them
        // from unidentified authors naming their town.
        let s0 = T0 + 360 * 60_000;
        for j in 0..200 {
            let t = s0 + j * 3_000;
            let (region, place) = if j % 2 == 0 {
                (Some("north_east"), None)
            } else {
                (None, Some("Newcastle, England"))
            };
            rows.push(Row {
                id: format!("spike{j}"),
                cat: "network_outage",
                region,
                place,
                t,
            });
            if j % 10 == 0 {
                k += 1;
                rows.push(Row {
                    id: format!("bg{k}"),
                    cat: "broadband_fault",
                    region: Some("london"),
                    place: None,
                    t,
                });
            }
        }
        // Calm again for two hours.
        for m in 0..120 {
            let t = s0 + 600_000 + m * 60_000;
            if m % 20 == 0 {
                for r in regions {
                    k += 1;
                    rows.push(Row {
                        id: format!("bg{k}"),
                        cat: "network_outage",
                        region: Some(r),
                        place: None,
                        t,
                    });
                }
            }
        }
        rows
    }

    #[test]
    fn a_regional_spike_opens_one_incident_tags_members_and_closes() {
        let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
        let rows = scenario();
        let mut events = Vec::new();
        let mut retro = Vec::new();
        let mut tagged: HashMap<String, String> = HashMap::new();
        // Feed in batches of 64 rows, as the pipeline would.
        for chunk in rows.chunks(64) {
            let (out, o) = d.detect_batch(&batch(chunk)).unwrap();
            let ids = out
                .column_by_name(mcol::MENTION_ID)
                .unwrap()
                .as_string::<i32>()
                .clone();
            let inc = out
                .column_by_name(INCIDENT_ID)
                .unwrap()
                .as_string::<i32>()
                .clone();
            for i in 0..out.num_rows() {
                if inc.is_valid(i) {
                    tagged.insert(ids.value(i).to_string(), inc.value(i).to_string());
                }
            }
            events.extend(o.events);
            retro.extend(o.retro_members);
        }
        let opened: Vec<_> = events.iter().filter(|e| e.action == "opened").collect();
        assert_eq!(opened.len(), 1, "{events:?}");
        let inc = opened[0];
        assert_eq!(inc.region, "north_east");
        assert!(
            inc.incident_id.starts_with("inc-north_east-"),
            "{}",
            inc.incident_id
        );
        // Every spike mention is a member: tagged in its row, or retroactively.
        let (rid, members) = &retro[0];
        assert_eq!(rid, &inc.incident_id);
        for j in 0..200 {
            let id = format!("spike{j}");
            let in_row = tagged.get(&id) == Some(&inc.incident_id);
            assert!(in_row || members.contains(&id), "{id} not a member");
        }
        // No background mention from elsewhere is a member (a north-east
        // outage mention while the incident is open is one, rightly).
        let north_east: std::collections::HashSet<&str> = rows
            .iter()
            .filter(|r| r.region == Some("north_east") || r.place.is_some())
            .map(|r| r.id.as_str())
            .collect();
        assert!(tagged.keys().all(|k| north_east.contains(k.as_str())));
        assert!(members.iter().all(|k| north_east.contains(k.as_str())));
        assert!(members.len() >= 29, "{}", members.len());
        // It closed once the rate fell back.
        let closed: Vec<_> = events.iter().filter(|e| e.action == "closed").collect();
        assert_eq!(closed.len(), 1, "{events:?}");
        assert_eq!(closed[0].incident_id, inc.incident_id);
        assert!(closed[0].mentions >= 200, "{:?}", closed[0]);
        assert_eq!(d.open_incidents(), 0);
    }

    #[test]
    fn background_traffic_alone_opens_nothing_and_ids_are_deterministic() {
        let rows: Vec<Row> = scenario()
            .into_iter()
            .filter(|r| !r.id.starts_with("spike"))
            .collect();
        let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
        for chunk in rows.chunks(100) {
            let (_, o) = d.detect_batch(&batch(chunk)).unwrap();
            assert!(o.events.is_empty(), "{:?}", o.events);
        }
        let run = || {
            let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
            let mut ev = Vec::new();
            for chunk in scenario().chunks(50) {
                ev.extend(d.detect_batch(&batch(chunk)).unwrap().1.events);
            }
            ev
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn no_incident_opens_before_the_warm_up() {
        // The spike alone, with no history before it: not an incident.
        let rows: Vec<Row> = scenario()
            .into_iter()
            .filter(|r| r.id.starts_with("spike"))
            .collect();
        let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
        let (_, o) = d.detect_batch(&batch(&rows)).unwrap();
        assert!(o.events.is_empty(), "{:?}", o.events);
        // With the warm-up off, it is.
        let mut d = IncidentDetector::new(IncidentConfig {
            warmup_ms: 0,
            ..Default::default()
        })
        .unwrap();
        let (_, o) = d.detect_batch(&batch(&rows)).unwrap();
        assert_eq!(o.events.len(), 1, "{:?}", o.events);
    }

    #[test]
    fn unknown_places_are_counted_as_without_region() {
        let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
        let rows = vec![Row {
            id: "x".into(),
            cat: "network_outage",
            region: None,
            place: Some("Atlantis"),
            t: T0,
        }];
        let (out, _) = d.detect_batch(&batch(&rows)).unwrap();
        assert!(out.column_by_name(INCIDENT_ID).unwrap().is_null(0));
        assert_eq!(d.take_stats().no_region, 1);
    }

    #[test]
    fn bad_config_names_the_key() {
        for (cfg, key) in [
            (
                IncidentConfig {
                    bucket_ms: 0,
                    ..Default::default()
                },
                "incident.bucket_ms",
            ),
            (
                IncidentConfig {
                    spike_ratio: 0.5,
                    ..Default::default()
                },
                "incident.spike_ratio",
            ),
            (
                IncidentConfig {
                    min_mentions: 0,
                    ..Default::default()
                },
                "incident.min_mentions",
            ),
            (
                IncidentConfig {
                    categories: vec![],
                    ..Default::default()
                },
                "incident.categories",
            ),
        ] {
            match IncidentDetector::new(cfg) {
                Err(OperatorError::Config { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{other:?}"),
            }
        }
    }
}
