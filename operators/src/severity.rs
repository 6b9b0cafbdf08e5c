//! Severity: an explainable, configurable additive score per mention.
//!
//! Design:
//! - **Additive points.** Each factor found adds (or removes) a fixed,
//!   configured number of points and writes one reason line, formatted
//!   `"{points:+} {label}"` (`+30 vulnerable customer`, `+15 outage stated:
//!   3 days`, `-10 category: praise`). Factors worth 0 points write no line,
//!   so the lines always sum to [`col::SEVERITY_POINTS`].
//! - **Priority and severity.** `priority = clamp(points, 0, 100)`;
//!   `P1` when `priority >= p1_min_priority` (70), `P2` when `>= p2_min_priority`
//!   (45), `P3` when `>= p3_min_priority` (25), else `P4`. SLA due time =
//!   event time + `sla_pN_ms` (defaults 1 h, 4 h, 24 h, 72 h; SPEC).
//! - **Stateless factors** ([`Severity::score_batch`], [`Severity::score_row`]):
//!   primary category, sentiment compound, reach (followers, verified,
//!   retweets), vulnerable flag, tier, segment, regulatory words in the text,
//!   stated outage length, missed engineer appointment stated in the text.
//!   A missing input column means the factor is absent (no points), never an
//!   error: without the identity join there are simply no customer factors.
//! - **Stateful factors** (repeat contacts, open cases, forms and calls,
//!   CRM-reported missed appointments) are the correlator's: it owns that
//!   state and their points are in `[correlate]`.
//! - **Text factors** are phrase matches (one Aho-Corasick automaton, ASCII
//!   case-insensitive, word boundaries, `'` also matching `’`). Outage length
//!   and missed-appointment phrases only count when the row's categories
//!   (`categories`, else `category`) include a `fault_categories` entry, so
//!   "my parcel didn't turn up" or "£5 a week" on a billing complaint score
//!   nothing; without category columns they always count.
//! - **Stated outage length** ([`stated_outage`]): a number (digits, `a`/`an`,
//!   `one`…`twelve`, `couple`, `few`, `several`) followed by a unit (hour/hr/h,
//!   day, week/wk, fortnight, optionally with `of`/`more`/`whole`/`full`/
//!   `entire`/`straight` between), or `since yesterday` (24 h), `since last
//!   night` (12 h), `since the weekend` (48 h), `since last week` (168 h).
//!   Months and years are deliberately not units ("12 month contract", "£30 a
//!   month"); neither are weekday names ("since Monday" needs the event's
//!   weekday: a later refinement). Frequencies are skipped ("twice a day",
//!   "3 times a week", "every 2 hours", "5 a week"). The longest duration not
//!   above `outage_max_hours` wins.
//! - **Reasons column** is `List<Utf8>` (non-null list of non-null lines), so
//!   the work-item sink writes it as the `reasons` JSON array unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Builder, ListBuilder, StringBuilder, UInt8Builder,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::classify::{append_columns, check_category, is_word_char, Category, StrColumn};
use crate::error::{config_err, OperatorError, Result};
use crate::identity_join::col as icol;
use crate::schema::col as mcol;

/// Names of the columns appended by [`Severity::score_batch`].
pub mod col {
    /// The additive score before clamping (sum of the reason lines). Int32, never null.
    pub const SEVERITY_POINTS: &str = "severity_points";
    /// `clamp(severity_points, 0, 100)`. UInt8, never null.
    pub const PRIORITY: &str = "priority";
    /// `P1` … `P4`. Utf8, never null.
    pub const SEVERITY: &str = "severity";
    /// One line per factor, `"+30 vulnerable customer"`. List<Utf8> (items
    /// non-null), never null, empty when no factor scored.
    pub const SEVERITY_REASONS: &str = "severity_reasons";
}

/// The four severities of the SPEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SeverityLevel {
    /// Act now.
    P1,
    /// Same working session.
    P2,
    /// Same day.
    P3,
    /// When convenient.
    P4,
}

impl SeverityLevel {
    /// All levels, most severe first.
    pub const ALL: [SeverityLevel; 4] = [Self::P1, Self::P2, Self::P3, Self::P4];

    /// `P1` … `P4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }

    /// Parses `P1` … `P4`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for SeverityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a threshold table: a value of at least `at_least` (in the
/// table's unit: followers, retweets, hours) scores `points`. The highest
/// step reached counts (steps are not cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Threshold, in the unit named by the table.
    pub at_least: i64,
    /// Points when the threshold is reached.
    pub points: i32,
}

fn steps(v: &[(i64, i32)]) -> Vec<Step> {
    v.iter()
        .map(|&(at_least, points)| Step { at_least, points })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Severity settings (the `[severity]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityConfig {
    /// Points for the primary category (`category` column), keyed by taxonomy
    /// label (`broadband_fault`, …). Categories not listed score 0.
    pub category_points: BTreeMap<String, i32>,
    /// Points at sentiment compound −1; a compound at or below
    /// `negative_sentiment_threshold` scores `round(−compound × this)`.
    pub negative_sentiment_max_points: i32,
    /// Compound at or below which sentiment counts as negative (−1…1).
    pub negative_sentiment_threshold: f32,
    /// Compound at or above which sentiment counts as positive (−1…1).
    pub positive_sentiment_threshold: f32,
    /// Points for positive sentiment (usually negative: lowers priority).
    pub positive_sentiment_points: i32,
    /// Reach by author follower count (`author_followers`), ascending steps.
    pub followers_points: Vec<Step>,
    /// Points when the author is verified (`author_verified`).
    pub verified_points: i32,
    /// Spread by retweet/share count (`retweet_count`), ascending steps.
    pub retweets_points: Vec<Step>,
    /// Points for a vulnerable customer (`customer_vulnerable`).
    pub vulnerable_points: i32,
    /// Points by customer tier (`customer_tier`: `standard`, `plus`, `premier`).
    pub tier_points: BTreeMap<String, i32>,
    /// Points by customer segment (`customer_segment`: `consumer`, `business`, `wholesale`).
    pub segment_points: BTreeMap<String, i32>,
    /// Regulatory or legal threat phrases (matched case-insensitively on word boundaries).
    pub regulatory_phrases: Vec<String>,
    /// Points when any regulatory phrase is found (once per mention).
    pub regulatory_points: i32,
    /// Phrases stating that an engineer appointment was missed.
    pub missed_appointment_phrases: Vec<String>,
    /// Points when a missed appointment is stated in the text (once per mention).
    pub missed_appointment_points: i32,
    /// Stated outage length in hours, ascending steps (see [`stated_outage`]).
    pub outage_hours_points: Vec<Step>,
    /// Stated durations above this many hours are ignored (not an outage length).
    pub outage_max_hours: u32,
    /// Outage length and missed-appointment phrases count only for rows whose
    /// categories include one of these (always when the batch has no category columns).
    pub fault_categories: Vec<String>,
    /// Lowest priority (0–100) that is `P1`.
    pub p1_min_priority: u8,
    /// Lowest priority that is `P2` (below `p1_min_priority`).
    pub p2_min_priority: u8,
    /// Lowest priority that is `P3` (below `p2_min_priority`); lower is `P4`.
    pub p3_min_priority: u8,
    /// SLA of a `P1` work item, milliseconds after the mention's event time.
    pub sla_p1_ms: u64,
    /// SLA of a `P2` work item, milliseconds.
    pub sla_p2_ms: u64,
    /// SLA of a `P3` work item, milliseconds.
    pub sla_p3_ms: u64,
    /// SLA of a `P4` work item, milliseconds.
    pub sla_p4_ms: u64,
}

const HOUR_MS: u64 = 3_600_000;

impl Default for SeverityConfig {
    fn default() -> Self {
        let category_points = [
            (Category::NetworkOutage, 30),
            (Category::BroadbandFault, 30),
            (Category::EngineerAppointment, 25),
            (Category::Billing, 20),
            (Category::AccountAccess, 20),
            (Category::SwitchingCancellation, 25),
            (Category::Delivery, 15),
            (Category::ComplaintEscalation, 30),
            (Category::Praise, -10),
            (Category::GeneralEnquiry, 10),
        ]
        .into_iter()
        .map(|(c, p)| (c.as_str().to_owned(), p))
        .collect();
        Self {
            category_points,
            negative_sentiment_max_points: 20,
            negative_sentiment_threshold: -0.05,
            positive_sentiment_threshold: 0.5,
            positive_sentiment_points: -5,
            followers_points: steps(&[(10_000, 5), (100_000, 10), (1_000_000, 15)]),
            verified_points: 5,
            retweets_points: steps(&[(10, 5), (100, 10), (1_000, 20)]),
            vulnerable_points: 30,
            tier_points: [("plus".to_owned(), 3), ("premier".to_owned(), 8)].into(),
            segment_points: [("business".to_owned(), 5)].into(),
            regulatory_phrases: strings(&[
                "ofcom",
                "ombudsman",
                "ombudsman services",
                "cisas",
                "solicitor",
                "solicitors",
                "lawyer",
                "lawyers",
                "legal action",
                "small claims",
                "trading standards",
                "take you to court",
                "taking you to court",
            ]),
            regulatory_points: 30,
            missed_appointment_phrases: strings(&[
                "missed appointment",
                "missed my appointment",
                "missed the appointment",
                "no show",
                "no-show",
                "didn't turn up",
                "didnt turn up",
                "did not turn up",
                "never turned up",
                "didn't show up",
                "didnt show up",
                "did not show up",
                "never showed up",
                "never showed",
                "nobody turned up",
                "no one turned up",
                "nobody came",
                "no one came",
                "engineer didn't come",
                "engineer never came",
                "engineer did not come",
            ]),
            missed_appointment_points: 10,
            outage_hours_points: steps(&[(4, 5), (24, 10), (72, 15), (168, 20)]),
            outage_max_hours: 8 * 168,
            fault_categories: strings(&[
                "network_outage",
                "broadband_fault",
                "engineer_appointment",
            ]),
            p1_min_priority: 70,
            p2_min_priority: 45,
            p3_min_priority: 25,
            sla_p1_ms: HOUR_MS,
            sla_p2_ms: 4 * HOUR_MS,
            sla_p3_ms: 24 * HOUR_MS,
            sla_p4_ms: 72 * HOUR_MS,
        }
    }
}

fn check_steps(key: &str, steps: &[Step]) -> Result<()> {
    for (i, s) in steps.iter().enumerate() {
        if s.at_least < 0 {
            return Err(config_err(
                format!("severity.{key}[{i}].at_least"),
                "must not be negative",
            ));
        }
        if i > 0 && s.at_least <= steps[i - 1].at_least {
            return Err(config_err(
                format!("severity.{key}[{i}].at_least"),
                "steps must be in strictly ascending order",
            ));
        }
    }
    Ok(())
}

impl SeverityConfig {
    /// Checks the values; errors name the key (`severity.p2_min_priority`).
    pub fn validate(&self) -> Result<()> {
        for label in self.category_points.keys() {
            check_category(format!("severity.category_points.{label}"), label)?;
        }
        for (i, label) in self.fault_categories.iter().enumerate() {
            check_category(format!("severity.fault_categories[{i}]"), label)?;
        }
        for (key, v) in [
            (
                "negative_sentiment_threshold",
                self.negative_sentiment_threshold,
            ),
            (
                "positive_sentiment_threshold",
                self.positive_sentiment_threshold,
            ),
        ] {
            if !(-1.0..=1.0).contains(&v) {
                return Err(config_err(
                    format!("severity.{key}"),
                    "must be a number from -1 to 1",
                ));
            }
        }
        check_steps("followers_points", &self.followers_points)?;
        check_steps("retweets_points", &self.retweets_points)?;
        check_steps("outage_hours_points", &self.outage_hours_points)?;
        if self.outage_max_hours == 0 {
            return Err(config_err(
                "severity.outage_max_hours",
                "must be at least 1",
            ));
        }
        for (key, phrases) in [
            ("regulatory_phrases", &self.regulatory_phrases),
            (
                "missed_appointment_phrases",
                &self.missed_appointment_phrases,
            ),
        ] {
            for (i, p) in phrases.iter().enumerate() {
                if p.trim().is_empty() {
                    return Err(config_err(format!("severity.{key}[{i}]"), "empty phrase"));
                }
            }
        }
        if self.p1_min_priority > 100 {
            return Err(config_err(
                "severity.p1_min_priority",
                "must be at most 100",
            ));
        }
        if self.p2_min_priority >= self.p1_min_priority {
            return Err(config_err(
                "severity.p2_min_priority",
                "must be below p1_min_priority",
            ));
        }
        if self.p3_min_priority >= self.p2_min_priority {
            return Err(config_err(
                "severity.p3_min_priority",
                "must be below p2_min_priority",
            ));
        }
        for (key, v) in [
            ("sla_p1_ms", self.sla_p1_ms),
            ("sla_p2_ms", self.sla_p2_ms),
            ("sla_p3_ms", self.sla_p3_ms),
            ("sla_p4_ms", self.sla_p4_ms),
        ] {
            if v == 0 || v > i64::MAX as u64 / 2 {
                return Err(config_err(
                    format!("severity.{key}"),
                    "must be a positive number of milliseconds",
                ));
            }
        }
        Ok(())
    }
}

/// The stateless inputs of one mention, as read from the enriched columns.
/// `None` = factor absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct MentionFactors<'a> {
    /// Mention text.
    pub text: &'a str,
    /// Primary category label (`category`).
    pub category: Option<&'a str>,
    /// Every category that scored, comma-joined (`categories`).
    pub categories: Option<&'a str>,
    /// Sentiment compound in −1…1 (`sentiment_compound`).
    pub sentiment_compound: Option<f64>,
    /// Author follower count (`author_followers`).
    pub followers: Option<i64>,
    /// Author verified flag (`author_verified`).
    pub verified: Option<bool>,
    /// Retweet/share count (`retweet_count`).
    pub retweets: Option<i64>,
    /// Vulnerable customer (`customer_vulnerable`).
    pub vulnerable: Option<bool>,
    /// Customer tier (`customer_tier`).
    pub tier: Option<&'a str>,
    /// Customer segment (`customer_segment`).
    pub segment: Option<&'a str>,
}

/// The score of one mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowScore {
    /// Additive score before clamping (the sum of the reason lines' points).
    pub points: i32,
    /// `clamp(points, 0, 100)`.
    pub priority: u8,
    /// Severity from the configured thresholds.
    pub severity: SeverityLevel,
    /// One line per factor, `"+30 vulnerable customer"`.
    pub reasons: Vec<String>,
}

/// Where [`Severity`]'s reason lines (`"+30 vulnerable customer"`) go: a
/// `String` each for [`RowScore`], or straight into the list column's
/// string builder in [`Severity::score_batch`] (no allocation per line).
trait ReasonSink {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display);
}

impl ReasonSink for Vec<String> {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display) {
        self.push(format!("{points:+} {label}"));
    }
}

impl ReasonSink for StringBuilder {
    fn line(&mut self, points: i32, label: &dyn std::fmt::Display) {
        use std::fmt::Write;
        // Writing into a String builder cannot fail; the value is ended by
        // appending the empty string.
        let _ = write!(self, "{points:+} {label}");
        self.append_value("");
    }
}

/// A stated duration found in a text by [`stated_outage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedOutage {
    /// Duration in hours.
    pub hours: u32,
    /// The phrase, lower case, single-spaced (`3 days`, `48 hrs`, `since yesterday`).
    pub phrase: String,
}

/// Label of the text-stated missed appointment line.
const MISSED_STATED: &str = "missed engineer appointment (stated)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhraseKind {
    Regulatory,
    MissedAppointment,
}

/// The severity operator. Cheap to share (`&self` everywhere).
#[derive(Debug, Clone)]
pub struct Severity {
    cfg: Arc<SeverityConfig>,
    ac: Arc<AhoCorasick>,
    /// Automaton pattern id → (kind, canonical phrase).
    patterns: Arc<[(PhraseKind, Box<str>)]>,
    category_points: [i32; 10],
    fault: [bool; 10],
}

impl Severity {
    /// Validates the config and compiles the phrase automaton.
    pub fn new(config: &SeverityConfig) -> Result<Self> {
        config.validate()?;
        let mut category_points = [0; 10];
        for (label, p) in &config.category_points {
            category_points[check_category(String::new(), label)?.index()] = *p;
        }
        let mut fault = [false; 10];
        for label in &config.fault_categories {
            fault[check_category(String::new(), label)?.index()] = true;
        }
        let mut pats: Vec<String> = Vec::new();
        let mut infos: Vec<(PhraseKind, Box<str>)> = Vec::new();
        for (kind, list) in [
            (PhraseKind::Regulatory, &config.regulatory_phrases),
            (
                PhraseKind::MissedAppointment,
                &config.missed_appointment_phrases,
            ),
        ] {
            for p in list {
                let canon = p.split_whitespace().collect::<Vec<_>>().join(" ");
                let canon = canon.to_ascii_lowercase();
                if canon.contains('\'') {
                    pats.push(canon.replace('\'', "\u{2019}"));
                    infos.push((kind, canon.clone().into()));
                }
                pats.push(canon.clone());
                infos.push((kind, canon.into()));
            }
        }
        let ac = crate::classify::phrase_automaton(&pats)
            .map_err(|e| config_err("severity.regulatory_phrases", e.to_string()))?;
        Ok(Self {
            cfg: Arc::new(config.clone()),
            ac: Arc::new(ac),
            patterns: infos.into(),
            category_points,
            fault,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SeverityConfig {
        &self.cfg
    }

    /// Priority and severity for an additive score.
    pub fn grade(&self, points: i32) -> (u8, SeverityLevel) {
        let priority = points.clamp(0, 100) as u8;
        let c = &self.cfg;
        let level = if priority >= c.p1_min_priority {
            SeverityLevel::P1
        } else if priority >= c.p2_min_priority {
            SeverityLevel::P2
        } else if priority >= c.p3_min_priority {
            SeverityLevel::P3
        } else {
            SeverityLevel::P4
        };
        (priority, level)
    }

    /// The SLA of a severity, milliseconds.
    pub fn sla_ms(&self, level: SeverityLevel) -> u64 {
        match level {
            SeverityLevel::P1 => self.cfg.sla_p1_ms,
            SeverityLevel::P2 => self.cfg.sla_p2_ms,
            SeverityLevel::P3 => self.cfg.sla_p3_ms,
            SeverityLevel::P4 => self.cfg.sla_p4_ms,
        }
    }

    /// When a work item of this severity is due: event time + its SLA
    /// (milliseconds since the epoch, saturating).
    pub fn sla_due_ms(&self, level: SeverityLevel, event_time_ms: i64) -> i64 {
        event_time_ms.saturating_add(self.sla_ms(level) as i64)
    }

    fn finish(&self, points: i32, reasons: Vec<String>) -> RowScore {
        let (priority, severity) = self.grade(points);
        RowScore {
            points,
            priority,
            severity,
            reasons,
        }
    }

    /// Scores one mention from its stateless factors.
    pub fn score_row(&self, m: &MentionFactors<'_>) -> RowScore {
        let mut reasons = Vec::new();
        let points = self.score_lines(m, &mut reasons);
        self.finish(points, reasons)
    }

    /// The additive score of one mention; its reason lines go to `sink`.
    fn score_lines(&self, m: &MentionFactors<'_>, sink: &mut dyn ReasonSink) -> i32 {
        let c = &self.cfg;
        let mut points = 0i32;
        let mut add = |p: i32, label: &dyn std::fmt::Display| {
            if p != 0 {
                points = points.saturating_add(p);
                sink.line(p, label);
            }
        };

        let primary = m.category.and_then(Category::parse);
        if let Some(cat) = primary {
            add(
                self.category_points[cat.index()],
                &format_args!("category: {cat}"),
            );
        }
        if let Some(s) = m.sentiment_compound.filter(|s| s.is_finite()) {
            if s <= c.negative_sentiment_threshold as f64 {
                let p = (-s * c.negative_sentiment_max_points as f64).round() as i32;
                add(p, &format_args!("negative sentiment ({s:.2})"));
            } else if s >= c.positive_sentiment_threshold as f64 {
                add(
                    c.positive_sentiment_points,
                    &format_args!("positive sentiment ({s:.2})"),
                );
            }
        }
        if let Some(f) = m.followers {
            if let Some(p) = step_points(&c.followers_points, f) {
                add(p, &format_args!("reach: {f} followers"));
            }
        }
        if m.verified == Some(true) {
            add(c.verified_points, &"reach: verified author");
        }
        if let Some(r) = m.retweets {
            if let Some(p) = step_points(&c.retweets_points, r) {
                add(p, &format_args!("spreading: {r} retweets"));
            }
        }
        if m.vulnerable == Some(true) {
            add(c.vulnerable_points, &"vulnerable customer");
        }
        if let Some(t) = m.tier {
            if let Some(&p) = c.tier_points.get(t) {
                add(p, &format_args!("tier: {t}"));
            }
        }
        if let Some(s) = m.segment {
            if let Some(&p) = c.segment_points.get(s) {
                add(p, &format_args!("segment: {s}"));
            }
        }

        // Text factors.
        let (regulatory, missed) = self.scan(m.text);
        if !regulatory.is_empty() {
            add(
                c.regulatory_points,
                &format_args!("regulatory threat: {}", regulatory.join(", ")),
            );
        }
        let fault = self.is_fault(m.category, m.categories);
        if fault {
            if let Some(o) = stated_outage(m.text, c.outage_max_hours) {
                if let Some(p) = step_points(&c.outage_hours_points, o.hours as i64) {
                    add(p, &format_args!("outage stated: {}", o.phrase));
                }
            }
            if missed {
                add(c.missed_appointment_points, &MISSED_STATED);
            }
        }
        points
    }

    /// Whether outage length / missed-appointment phrases count for a row.
    fn is_fault(&self, category: Option<&str>, categories: Option<&str>) -> bool {
        match (categories, category) {
            (Some(list), _) if !list.is_empty() => list
                .split(',')
                .filter_map(|l| Category::parse(l.trim()))
                .any(|c| self.fault[c.index()]),
            (_, Some(cat)) => Category::parse(cat).is_some_and(|c| self.fault[c.index()]),
            (Some(_), None) => false,
            (None, None) => true,
        }
    }

    /// Distinct regulatory phrases (text order) and whether a missed
    /// appointment is stated.
    fn scan(&self, text: &str) -> (Vec<&str>, bool) {
        let mut regulatory: Vec<&str> = Vec::new();
        let mut missed = false;
        for m in self.ac.find_overlapping_iter(text) {
            let (start, end) = (m.start(), m.end());
            if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            let (kind, phrase) = &self.patterns[m.pattern().as_usize()];
            let first = phrase.chars().next().is_some_and(is_word_char);
            let last = phrase.chars().next_back().is_some_and(is_word_char);
            if first && text[..start].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            if last && text[end..].chars().next().is_some_and(is_word_char) {
                continue;
            }
            match kind {
                PhraseKind::MissedAppointment => missed = true,
                PhraseKind::Regulatory => {
                    // "ombudsman services" also contains "ombudsman": keep the shorter
                    // name once.
                    if !regulatory
                        .iter()
                        .any(|r| r.contains(&**phrase) || phrase.contains(*r))
                    {
                        regulatory.push(phrase);
                    }
                }
            }
        }
        (regulatory, missed)
    }

    /// Appends [`col::SEVERITY_POINTS`], [`col::PRIORITY`], [`col::SEVERITY`]
    /// and [`col::SEVERITY_REASONS`] (replacing same-named columns). Reads,
    /// when present: `text`, `category`, `categories`, `sentiment_compound`,
    /// `author_followers`, `author_verified`, `retweet_count`,
    /// `customer_vulnerable`, `customer_tier`, `customer_segment`; a missing
    /// column is an absent factor. A column of an unusable type is an error.
    pub fn score_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::opt(batch, mcol::TEXT)?;
        let category = StrColumn::opt(batch, crate::classify::col::CATEGORY)?;
        let categories = StrColumn::opt(batch, crate::classify::col::CATEGORIES)?;
        let compound = cast_opt(
            batch,
            crate::sentiment::SENTIMENT_COMPOUND,
            &DataType::Float64,
        )?;
        let compound = compound.as_ref().map(|a| a.as_primitive::<Float64Type>());
        let followers = cast_opt(batch, mcol::AUTHOR_FOLLOWERS, &DataType::Int64)?;
        let followers = followers.as_ref().map(|a| a.as_primitive::<Int64Type>());
        let retweets = cast_opt(batch, mcol::RETWEET_COUNT, &DataType::Int64)?;
        let retweets = retweets.as_ref().map(|a| a.as_primitive::<Int64Type>());
        let verified = cast_opt(batch, mcol::AUTHOR_VERIFIED, &DataType::Boolean)?;
        let verified = verified.as_ref().map(|a| a.as_boolean());
        let vulnerable = cast_opt(batch, icol::CUSTOMER_VULNERABLE, &DataType::Boolean)?;
        let vulnerable = vulnerable.as_ref().map(|a| a.as_boolean());
        let tier = StrColumn::opt(batch, icol::CUSTOMER_TIER)?;
        let segment = StrColumn::opt(batch, icol::CUSTOMER_SEGMENT)?;

        let n = batch.num_rows();
        let mut points_b = Int32Builder::with_capacity(n);
        let mut prio_b = UInt8Builder::with_capacity(n);
        let mut sev_b = StringBuilder::with_capacity(n, n * 2);
        let mut reasons_b = ListBuilder::with_capacity(StringBuilder::new(), n)
            .with_field(Field::new("item", DataType::Utf8, false));
        fn s<'a>(c: &Option<StrColumn<'a>>, i: usize) -> Option<&'a str> {
            c.as_ref().and_then(|c| c.value(i))
        }
        for i in 0..n {
            let m = MentionFactors {
                text: s(&text, i).unwrap_or(""),
                category: s(&category, i),
                categories: s(&categories, i),
                sentiment_compound: compound.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                followers: followers.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                verified: bool_at(verified, i),
                retweets: retweets.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                vulnerable: bool_at(vulnerable, i),
                tier: s(&tier, i),
                segment: s(&segment, i),
            };
            let points = self.score_lines(&m, reasons_b.values());
            let (priority, severity) = self.grade(points);
            points_b.append_value(points);
            prio_b.append_value(priority);
            sev_b.append_value(severity.as_str());
            reasons_b.append(true);
        }
        let reasons: ArrayRef = Arc::new(reasons_b.finish());
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::SEVERITY_POINTS, DataType::Int32, false),
                    Arc::new(points_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::PRIORITY, DataType::UInt8, false),
                    Arc::new(prio_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::SEVERITY, DataType::Utf8, false),
                    Arc::new(sev_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::SEVERITY_REASONS, reasons.data_type().clone(), false),
                    reasons,
                ),
            ],
        )
    }

    /// Reads the stateless score of row `row` back from a batch produced by
    /// [`Severity::score_batch`] (for callers that need one row's score).
    pub fn row_score(&self, batch: &RecordBatch, row: usize) -> Result<RowScore> {
        let missing = |name: &str| OperatorError::Input(format!("no usable column `{name}`"));
        let points = batch
            .column_by_name(col::SEVERITY_POINTS)
            .and_then(|a| a.as_primitive_opt::<arrow::datatypes::Int32Type>())
            .ok_or_else(|| missing(col::SEVERITY_POINTS))?;
        let reasons = batch
            .column_by_name(col::SEVERITY_REASONS)
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| missing(col::SEVERITY_REASONS))?;
        if row >= batch.num_rows() {
            return Err(OperatorError::Input(format!(
                "row {row} out of range ({} rows)",
                batch.num_rows()
            )));
        }
        let lines = reasons.value(row);
        let lines = lines
            .as_string_opt::<i32>()
            .ok_or_else(|| missing(col::SEVERITY_REASONS))?;
        let reasons = lines.iter().flatten().map(str::to_owned).collect();
        Ok(self.finish(points.value(row), reasons))
    }
}

fn bool_at(a: Option<&BooleanArray>, i: usize) -> Option<bool> {
    a.and_then(|a| a.is_valid(i).then(|| a.value(i)))
}

/// The named column cast to `to`, if present.
fn cast_opt(batch: &RecordBatch, name: &str, to: &DataType) -> Result<Option<ArrayRef>> {
    let Some(a) = batch.column_by_name(name) else {
        return Ok(None);
    };
    if a.data_type() == to {
        return Ok(Some(a.clone()));
    }
    if matches!(a.data_type(), DataType::Null) {
        return Ok(Some(arrow::array::new_null_array(to, a.len())));
    }
    let ok = match to {
        DataType::Boolean => false,
        _ => a.data_type().is_numeric(),
    };
    if !ok {
        return Err(OperatorError::Input(format!(
            "column `{name}` has type {}, expected {to}",
            a.data_type()
        )));
    }
    Ok(Some(arrow::compute::cast(a, to)?))
}

/// Points of the highest step reached.
fn step_points(steps: &[Step], v: i64) -> Option<i32> {
    steps
        .iter()
        .rev()
        .find(|s| v >= s.at_least)
        .map(|s| s.points)
}

fn number_word(t: &str) -> Option<u32> {
    Some(match t {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" | "several" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => return None,
    })
}

fn unit_hours(t: &str) -> Option<u32> {
    Some(match t {
        "h" | "hr" | "hrs" | "hour" | "hours" => 1,
        "day" | "days" => 24,
        "wk" | "wks" | "week" | "weeks" => 168,
        "fortnight" | "fortnights" => 336,
        _ => return None,
    })
}

/// Lower-case tokens: runs of ASCII digits or of letters (`48hrs` → `48`,
/// `hrs`); everything else separates. Apostrophes are dropped inside words.
/// The tokens are written into one string, separated by single spaces
/// (lower-casing never yields a space), instead of one allocation each.
fn token_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_token = false;
    let mut cur_digit = false;
    for ch in text.chars() {
        let is_digit = ch.is_ascii_digit();
        if is_digit || ch.is_alphabetic() {
            if !out.is_empty() && (!in_token || cur_digit != is_digit) {
                out.push(' ');
            }
            in_token = true;
            cur_digit = is_digit;
            if ch.is_ascii() {
                out.push(ch.to_ascii_lowercase());
            } else {
                out.extend(ch.to_lowercase());
            }
        } else if (ch == '\'' || ch == '\u{2019}') && in_token && !cur_digit {
            continue;
        } else {
            in_token = false;
        }
    }
    out
}

/// Whether `text` may state an outage length: it has a token `since` or
/// a unit token (`h`, `hr(s)`, `hour(s)`, `day(s)`, `wk(s)`, `week(s)`,
/// `fortnight(s)`), which [`stated_outage`] needs. A superset test on the
/// raw bytes, without tokenising: a substring `since`, `hr`, `hour`, `day`,
/// `wk`, `week` or `fortnight` in any ASCII case; an `h` or `H` without an
/// ASCII letter either side; or the Kelvin sign, the one non-ASCII letter
/// other than `İ` (whose lower case keeps a combining dot) that lower-cases
/// to an ASCII letter. Most texts state no length, and tokenising them all
/// was about a third of the severity operator.
fn may_state_outage(text: &str) -> bool {
    static HINTS: std::sync::LazyLock<Option<AhoCorasick>> = std::sync::LazyLock::new(|| {
        crate::classify::phrase_automaton(&[
            "since",
            "hr",
            "hour",
            "day",
            "wk",
            "week",
            "fortnight",
            "\u{212A}",
        ])
        .ok()
    });
    let Some(hints) = HINTS.as_ref() else {
        return true;
    };
    if hints.is_match(text) {
        return true;
    }
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        (c | 0x20) == b'h'
            && (i == 0 || !b[i - 1].is_ascii_alphabetic())
            && b.get(i + 1).is_none_or(|n| !n.is_ascii_alphabetic())
    })
}

/// The longest outage length stated in `text` that is at most `max_hours`
/// (see the module doc for the grammar), or `None`.
pub fn stated_outage(text: &str, max_hours: u32) -> Option<StatedOutage> {
    if !may_state_outage(text) {
        return None;
    }
    stated_outage_tokens(text, max_hours)
}

/// [`stated_outage`] without the byte prefilter.
fn stated_outage_tokens(text: &str, max_hours: u32) -> Option<StatedOutage> {
    let text = token_text(text);
    let toks: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    let mut best: Option<StatedOutage> = None;
    let mut consider = |hours: u32, phrase: String| {
        if hours > 0 && hours <= max_hours && best.as_ref().is_none_or(|b| hours > b.hours) {
            best = Some(StatedOutage { hours, phrase });
        }
    };
    let t = |i: usize| toks.get(i).copied();
    for i in 0..toks.len() {
        let tok = toks[i];
        if tok == "since" {
            let (hours, words) = match (t(i + 1), t(i + 2)) {
                (Some("yesterday"), _) => (24, 1),
                (Some("last"), Some("night")) => (12, 2),
                (Some("last"), Some("week")) => (168, 2),
                (Some("the"), Some("weekend")) => (48, 2),
                (Some("weekend"), _) => (48, 1),
                _ => continue,
            };
            consider(hours, toks[i..=i + words].join(" "));
            continue;
        }
        let n = if tok.bytes().all(|b| b.is_ascii_digit()) {
            if tok.len() > 5 {
                continue;
            }
            tok.parse::<u32>().ok()
        } else {
            number_word(tok)
        };
        let Some(n) = n else { continue };
        // Frequencies and prices: "twice a day", "3 times a week", "every 2
        // hours", "5 a week", "£5 per week", "2 hours a day".
        if i > 0 {
            let prev = toks[i - 1];
            if matches!(
                prev,
                "once" | "twice" | "times" | "per" | "every" | "each" | "x"
            ) || prev.bytes().all(|b| b.is_ascii_digit())
                || unit_hours(prev).is_some()
            {
                continue;
            }
        }
        let mut j = i + 1;
        while matches!(
            t(j),
            Some("of" | "more" | "whole" | "full" | "entire" | "straight")
        ) && j < i + 3
        {
            j += 1;
        }
        let Some(unit) = t(j).and_then(unit_hours) else {
            continue;
        };
        if matches!(t(j + 1), Some("a" | "per")) {
            // "2 hours a day": a frequency, not a length.
            continue;
        }
        consider(n.saturating_mul(unit), toks[i..=j].join(" "));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float32Array, Int64Array, StringArray};
    use arrow::datatypes::Schema;
    use proptest::prelude::*;

    fn sev() -> Severity {
        Severity::new(&SeverityConfig::default()).unwrap()
    }

    /// Runs the real sentiment and classify operators over texts.
    fn enriched(texts: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new(
            mcol::TEXT,
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(texts.to_vec())) as ArrayRef],
        )
        .unwrap();
        let batch = crate::sentiment::SentimentAnalyzer::new(
            crate::sentiment::SentimentMode::Telco,
            crate::sentiment::TelcoRules::default(),
        )
        .unwrap()
        .score_batch(&batch)
        .unwrap();
        crate::classify::Classifier::new(&crate::classify::ClassifyConfig::default())
            .unwrap()
            .classify_batch(&batch)
            .unwrap()
    }

    fn with_col(batch: &RecordBatch, name: &str, a: ArrayRef) -> RecordBatch {
        append_columns(
            batch,
            vec![(Field::new(name, a.data_type().clone(), true), a)],
        )
        .unwrap()
    }

    fn reasons_of(batch: &RecordBatch, row: usize) -> Vec<String> {
        sev().row_score(batch, row).unwrap().reasons
    }

    /// The batch writes its reason lines straight into the list column;
    /// they are the lines, points and grade of `score_row` on each row.
    #[test]
    fn batch_reasons_are_score_row_reasons() {
        let texts = [
            "@BTCare three days without broadband, I'm reporting you to Ofcom",
            "thank you so much, brilliant service",
            "engineer never turned up, no internet for 48hrs",
            "how do I add a data bolt on?",
        ];
        let followers = [Some(250_000), Some(5), None, Some(20_000)];
        let vulnerable = [Some(true), None, Some(false), None];
        let b = enriched(&texts);
        let b = with_col(
            &b,
            icol::CUSTOMER_VULNERABLE,
            Arc::new(BooleanArray::from(vulnerable.to_vec())),
        );
        let b = with_col(
            &b,
            mcol::AUTHOR_FOLLOWERS,
            Arc::new(Int64Array::from(followers.to_vec())),
        );
        let out = sev().score_batch(&b).unwrap();
        let str_at = |name: &str, i: usize| {
            out.column_by_name(name)
                .map(|c| c.as_string::<i32>())
                .filter(|c| c.is_valid(i))
                .map(|c| c.value(i).to_owned())
        };
        let compound = arrow::compute::cast(
            out.column_by_name(crate::sentiment::SENTIMENT_COMPOUND)
                .unwrap(),
            &DataType::Float64,
        )
        .unwrap();
        let compound = compound.as_primitive::<Float64Type>();
        let mut lines = 0;
        for (i, text) in texts.iter().enumerate() {
            let category = str_at(crate::classify::col::CATEGORY, i);
            let categories = str_at(crate::classify::col::CATEGORIES, i);
            let want = sev().score_row(&MentionFactors {
                text,
                category: category.as_deref(),
                categories: categories.as_deref(),
                sentiment_compound: Some(compound.value(i)),
                followers: followers[i],
                vulnerable: vulnerable[i],
                ..Default::default()
            });
            let got = sev().row_score(&out, i).unwrap();
            assert_eq!(got, want, "row {i}");
            assert_eq!(
                str_at(col::SEVERITY, i).as_deref(),
                Some(want.severity.as_str())
            );
            lines += want.reasons.len();
        }
        assert!(lines >= 8, "{lines} reason lines");
    }

    #[test]
    fn vulnerable_customer_three_days_without_broadband_is_p1() {
        let b = enriched(&[
            "@BTCare three days without broadband now and I rely on it for my care alarm",
            "@BTCare three days without broadband now and I rely on it for my care alarm",
        ]);
        let b = with_col(
            &b,
            icol::CUSTOMER_VULNERABLE,
            Arc::new(BooleanArray::from(vec![Some(true), None])),
        );
        let out = sev().score_batch(&b).unwrap();
        let sev_col = out
            .column_by_name(col::SEVERITY)
            .unwrap()
            .as_string::<i32>();
        assert_eq!(sev_col.value(0), "P1", "{:?}", reasons_of(&out, 0));
        let r = reasons_of(&out, 0);
        assert!(r.contains(&"+30 vulnerable customer".to_owned()), "{r:?}");
        assert!(
            r.contains(&"+15 outage stated: three days".to_owned()),
            "{r:?}"
        );
        // The same complaint from an unknown customer is lower.
        assert_ne!(sev_col.value(1), "P1");
        // Lines sum to the points.
        let s = sev().row_score(&out, 0).unwrap();
        let sum: i32 = s
            .reasons
            .iter()
            .map(|l| l.split(' ').next().unwrap().parse::<i32>().unwrap())
            .sum();
        assert_eq!(sum, s.points);
    }

    #[test]
    fn praise_is_p4() {
        let b = enriched(&["@EE thank you so much to Sarah on chat, brilliant service as always"]);
        let out = sev().score_batch(&b).unwrap();
        let s = sev().row_score(&out, 0).unwrap();
        assert_eq!(s.severity, SeverityLevel::P4, "{s:?}");
        assert!(
            s.reasons.contains(&"-10 category: praise".to_owned()),
            "{s:?}"
        );
    }

    #[test]
    fn ofcom_threat_raises_priority() {
        let b = enriched(&[
            "@VodafoneUK six weeks without a working line is a disgrace",
            "@VodafoneUK six weeks without a working line is a disgrace, this is going to Ofcom",
        ]);
        let out = sev().score_batch(&b).unwrap();
        let (a, o) = (
            sev().row_score(&out, 0).unwrap(),
            sev().row_score(&out, 1).unwrap(),
        );
        assert!(o.priority > a.priority, "{a:?} {o:?}");
        assert!(o
            .reasons
            .contains(&"+30 regulatory threat: ofcom".to_owned()));
        assert!(o.severity <= SeverityLevel::P2, "{o:?}");
    }

    #[test]
    fn missing_columns_are_absent_factors() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2])) as _])
            .unwrap();
        let out = sev().score_batch(&b).unwrap();
        assert_eq!(out.num_columns(), 5);
        let s = sev().row_score(&out, 1).unwrap();
        assert_eq!((s.points, s.severity), (0, SeverityLevel::P4));
        assert!(s.reasons.is_empty());
    }

    #[test]
    fn reach_tier_segment_and_sentiment_lines() {
        let s = sev().score_row(&MentionFactors {
            text: "no signal",
            category: Some("network_outage"),
            sentiment_compound: Some(-0.5),
            followers: Some(250_000),
            verified: Some(true),
            retweets: Some(150),
            tier: Some("premier"),
            segment: Some("business"),
            ..Default::default()
        });
        assert_eq!(
            s.reasons,
            [
                "+30 category: network_outage",
                "+10 negative sentiment (-0.50)",
                "+10 reach: 250000 followers",
                "+5 reach: verified author",
                "+10 spreading: 150 retweets",
                "+8 tier: premier",
                "+5 segment: business",
            ]
        );
        assert_eq!(s.points, 78);
        assert_eq!((s.priority, s.severity), (78, SeverityLevel::P1));
    }

    #[test]
    fn text_factors_only_count_for_faults() {
        let m = MentionFactors {
            text: "parcel didn't turn up, waited 3 days",
            category: Some("delivery"),
            categories: Some("delivery"),
            ..Default::default()
        };
        assert_eq!(sev().score_row(&m).reasons, ["+15 category: delivery"]);
        let m = MentionFactors {
            category: Some("engineer_appointment"),
            categories: Some("engineer_appointment"),
            ..m
        };
        assert_eq!(
            sev().score_row(&m).reasons,
            [
                "+25 category: engineer_appointment",
                "+15 outage stated: 3 days",
                "+10 missed engineer appointment (stated)",
            ]
        );
    }

    #[test]
    fn sla_due_and_grades() {
        let s = sev();
        assert_eq!(
            s.sla_due_ms(SeverityLevel::P1, 1_000),
            1_000 + HOUR_MS as i64
        );
        assert_eq!(s.sla_due_ms(SeverityLevel::P4, 0), 72 * HOUR_MS as i64);
        assert_eq!(s.grade(-20), (0, SeverityLevel::P4));
        assert_eq!(s.grade(25), (25, SeverityLevel::P3));
        assert_eq!(s.grade(45), (45, SeverityLevel::P2));
        assert_eq!(s.grade(70), (70, SeverityLevel::P1));
        assert_eq!(s.grade(250), (100, SeverityLevel::P1));
    }

    #[test]
    fn config_errors_name_the_key() {
        let key = |c: SeverityConfig| match Severity::new(&c) {
            Err(OperatorError::Config { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        let mut c = SeverityConfig::default();
        c.category_points.insert("weather".into(), 5);
        assert_eq!(key(c), "severity.category_points.weather");
        let c = SeverityConfig {
            p2_min_priority: 80,
            ..Default::default()
        };
        assert_eq!(key(c), "severity.p2_min_priority");
        let c = SeverityConfig {
            outage_hours_points: steps(&[(24, 10), (4, 5)]),
            ..Default::default()
        };
        assert_eq!(key(c), "severity.outage_hours_points[1].at_least");
        let c = SeverityConfig {
            sla_p3_ms: 0,
            ..Default::default()
        };
        assert_eq!(key(c), "severity.sla_p3_ms");
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_unknown_keys() {
        let c: SeverityConfig =
            serde_json::from_str(r#"{"vulnerable_points": 40, "sla_p1_ms": 1800000}"#).unwrap();
        assert_eq!(c.vulnerable_points, 40);
        assert_eq!(c.p1_min_priority, 70);
        assert!(serde_json::from_str::<SeverityConfig>(r#"{"vulnerable": 1}"#).is_err());
    }

    #[test]
    fn stated_outage_table() {
        let cases: &[(&str, Option<(u32, &str)>)] = &[
            ("3 days without internet", Some((72, "3 days"))),
            ("down for 72 hours", Some((72, "72 hours"))),
            ("no service for a week", Some((168, "a week"))),
            ("2 wks and counting", Some((336, "2 wks"))),
            ("offline since yesterday", Some((24, "since yesterday"))),
            ("since last week nothing", Some((168, "since last week"))),
            ("48hrs no broadband", Some((48, "48 hrs"))),
            ("72h!!", Some((72, "72 h"))),
            ("two days now", Some((48, "two days"))),
            ("a couple of days", Some((48, "couple of days"))),
            ("a fortnight", Some((336, "a fortnight"))),
            ("THREE WHOLE DAYS", Some((72, "three whole days"))),
            ("3-day outage", Some((72, "3 day"))),
            ("5 hours, no, 2 days", Some((48, "2 days"))),
            ("drops twice a day", None),
            ("3 times a week", None),
            ("every 2 hours it resets", None),
            ("2 hours a day", None),
            ("12 month contract", None),
            ("customer for 10 years", None),
            ("52 weeks", None), // above the 8-week cap
            ("since Monday", None),
            ("5g is down", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = stated_outage(text, 8 * 168).map(|o| (o.hours, o.phrase));
            let want = want.map(|(h, p)| (h, p.to_owned()));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn sentiment_compound_float32_and_other_int_types() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("sentiment_compound", DataType::Float32, true),
            Field::new("retweet_count", DataType::Int32, true),
        ]));
        let b = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float32Array::from(vec![Some(-1.0), None])) as _,
                Arc::new(arrow::array::Int32Array::from(vec![Some(1000), None])) as _,
            ],
        )
        .unwrap();
        let out = sev().score_batch(&b).unwrap();
        assert_eq!(
            reasons_of(&out, 0),
            [
                "+20 negative sentiment (-1.00)",
                "+20 spreading: 1000 retweets"
            ]
        );
        assert!(reasons_of(&out, 1).is_empty());
    }

    /// The tokenizer as first written (one `String` per token): the
    /// reference for [`token_text`].
    fn tokens_reference(text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut cur_digit = false;
        for ch in text.chars() {
            let is_digit = ch.is_ascii_digit();
            if is_digit || ch.is_alphabetic() {
                if !cur.is_empty() && cur_digit != is_digit {
                    out.push(std::mem::take(&mut cur));
                }
                cur_digit = is_digit;
                cur.extend(ch.to_lowercase());
            } else if (ch == '\'' || ch == '\u{2019}') && !cur.is_empty() && !cur_digit {
                continue;
            } else if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    proptest! {
        /// The byte prefilter never hides a stated length: with and without
        /// it, the same result, over texts made of the grammar's words,
        /// units glued to digits, case changes, apostrophes and the
        /// non-ASCII letters whose lower case is (nearly) ASCII.
        #[test]
        fn stated_outage_prefilter_is_a_superset_near_units(
            pre in proptest::collection::vec(prop_oneof![Just("no"), Just("internet"), Just("the"), Just("whole"), Just("now"), Just("x")], 0..3),
            number in prop_oneof![Just("3"), Just("72"), Just("a"), Just("couple of"), Just("since")],
            sep in prop_oneof![Just(""), Just(" "), Just("-"), Just("'")],
            unit in prop_oneof![
                Just("h"), Just("H"), Just("h'"), Just("\u{e9}h"), Just("hx"), Just("hr"), Just("HRS"),
                Just("hours"), Just("day"), Just("DAYS"), Just("wk"), Just("wks"), Just("week"),
                Just("w\u{212A}"), Just("wee\u{212A}"), Just("w\u{212A}s"), Just("fortnight"),
                Just("yesterday"), Just("last night"), Just("the weekend"), Just("d\u{130}y"),
            ],
            post in proptest::collection::vec(prop_oneof![Just("now"), Just("ago"), Just("a"), Just("day"), Just("!")], 0..3),
        ) {
            let text = format!("{} {number}{sep}{unit} {}", pre.join(" "), post.join(" "));
            prop_assert_eq!(
                stated_outage(&text, u32::MAX).map(|o| (o.hours, o.phrase)),
                stated_outage_tokens(&text, u32::MAX).map(|o| (o.hours, o.phrase))
            );
        }

        #[test]
        fn stated_outage_prefilter_is_a_superset(
            words in proptest::collection::vec(
                prop_oneof![
                    Just("since"), Just("yesterday"), Just("last"), Just("night"), Just("the"),
                    Just("weekend"), Just("3"), Just("72"), Just("three"), Just("a"), Just("couple"),
                    Just("of"), Just("whole"), Just("h"), Just("H"), Just("hr"), Just("Hrs"),
                    Just("hours"), Just("day"), Just("DAYS"), Just("wk"), Just("wks"), Just("week"),
                    Just("fortnight"), Just("w"), Just("wee"), Just("\u{212A}"), Just("\u{130}"),
                    Just("\u{e9}"), Just("'"), Just("\u{2019}"), Just("-"), Just("."), Just("x"),
                    Just("per"), Just("twice"), Just("now"), Just("no internet"),
                ],
                0..12,
            ),
            seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just(", ")], 12),
        ) {
            let mut text = String::new();
            for (w, sep) in words.iter().zip(&seps) {
                text.push_str(w);
                text.push_str(sep);
            }
            prop_assert_eq!(
                stated_outage(&text, u32::MAX).map(|o| (o.hours, o.phrase)),
                stated_outage_tokens(&text, u32::MAX).map(|o| (o.hours, o.phrase))
            );
        }

        #[test]
        fn token_text_splits_like_the_reference(
            text in "[a-zA-Z0-9 '\u{2019}.,!\u{130}\u{e9}\u{1F600}-]{0,60}|\\PC{0,60}",
        ) {
            let joined = token_text(&text);
            let got: Vec<&str> = joined.split(' ').filter(|t| !t.is_empty()).collect();
            prop_assert_eq!(got, tokens_reference(&text));
        }

        #[test]
        fn arbitrary_text_never_panics(
            text in "\\PC{0,300}",
            compound in proptest::option::of(-1.0f64..=1.0),
            followers in proptest::option::of(any::<i64>()),
            retweets in proptest::option::of(any::<i64>()),
            vulnerable in proptest::option::of(any::<bool>()),
            cat in proptest::option::of(0usize..10),
        ) {
            let s = sev();
            let category = cat.map(|c| Category::ALL[c].as_str());
            let base = s.score_row(&MentionFactors {
                text: &text,
                category,
                sentiment_compound: compound,
                followers,
                retweets,
                vulnerable,
                verified: Some(true),
                ..Default::default()
            });
            prop_assert!(base.priority <= 100);
            let _ = stated_outage(&text, u32::MAX);
        }

        #[test]
        fn outage_phrases_with_digits(n in 1u32..500, unit in prop::sample::select(vec!["hours", "days", "weeks", "hrs", "wks"])) {
            let got = stated_outage(&format!("no internet for {n} {unit} now"), u32::MAX).unwrap();
            prop_assert_eq!(got.hours, n * unit_hours(unit).unwrap());
        }
    }
}
