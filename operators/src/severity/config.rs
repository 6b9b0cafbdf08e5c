//! The severity settings (the `[severity]` config section) and their
//! checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::{check_category, Category};
use crate::error::{config_err, Result};

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

pub(super) fn steps(v: &[(i64, i32)]) -> Vec<Step> {
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
    /// Phrases stating a complete loss of service ("no internet", "is down",
    /// "stopped working"); count only on fault rows (`fault_categories`).
    pub loss_phrases: Vec<String>,
    /// Points when a loss of service is stated (once per mention).
    pub loss_points: i32,
    /// Phrases stating a repeated or lasting fault ("again", "every day",
    /// "5th time", "constantly"); count only on fault rows.
    pub repetition_phrases: Vec<String>,
    /// Points when repetition is stated (once per mention).
    pub repetition_points: i32,
    /// Phrases threatening to leave ("switch to", "going to port"); count
    /// only on fault rows (leaving over an open fault).
    pub leaving_phrases: Vec<String>,
    /// Points when a threat to leave comes with a fault (once per mention).
    pub leaving_points: i32,
    /// Phrases naming a vulnerability or hardship (hurricane, illness,
    /// elderly, medical, a child without a phone); count on any row whose
    /// primary category is not `praise` or `general_enquiry`.
    pub vulnerability_phrases: Vec<String>,
    /// Points when a vulnerability is stated (once per mention).
    pub vulnerability_points: i32,
    /// Phrases naming money or security harm (collections, a stolen number,
    /// money sent to the wrong person); count on any row whose primary
    /// category is not `praise` or `general_enquiry`.
    pub harm_phrases: Vec<String>,
    /// Points when harm is stated (once per mention).
    pub harm_points: i32,
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

pub(super) const HOUR_MS: u64 = 3_600_000;

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
            negative_sentiment_max_points: 10,
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
                // US and India care traffic (issue 26).
                "sue",
                "sue you",
                "i will sue",
                "lawsuit",
                "go to court",
                "court",
                "fcc",
                "bbb",
                "better business bureau",
                "attorney general",
                "trai",
                "consumer forum",
                "consumer court",
            ]),
            regulatory_points: 30,
            loss_phrases: strings(super::urgency::LOSS),
            loss_points: 15,
            repetition_phrases: strings(super::urgency::REPETITION),
            repetition_points: 15,
            leaving_phrases: strings(super::urgency::LEAVING),
            leaving_points: 15,
            vulnerability_phrases: strings(super::urgency::VULNERABILITY),
            vulnerability_points: 25,
            harm_phrases: strings(super::urgency::HARM),
            harm_points: 25,
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
            outage_hours_points: steps(&[(1, 5), (12, 10), (24, 15)]),
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
            ("loss_phrases", &self.loss_phrases),
            ("repetition_phrases", &self.repetition_phrases),
            ("leaving_phrases", &self.leaving_phrases),
            ("vulnerability_phrases", &self.vulnerability_phrases),
            ("harm_phrases", &self.harm_phrases),
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
