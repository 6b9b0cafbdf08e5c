//! The correlator's settings (the `[correlate]` config section) and the
//! defaults it is given: the severity scale and SLAs (injected by the
//! runtime from the severity operator) and the SPEC default queue.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{OperatorError, Result};

/// `points → (priority 0–100, severity P1…P4)`.
pub type ScaleFn = Arc<dyn Fn(i32) -> (u8, &'static str) + Send + Sync>;
/// `severity → SLA in milliseconds`.
pub type SlaFn = Arc<dyn Fn(&str) -> i64 + Send + Sync>;

/// Test/default scale: priority = clamp(points, 0, 100); `P1` ≥ 75, `P2` ≥
/// 50, `P3` ≥ 25, else `P4`.
pub fn default_scale() -> ScaleFn {
    Arc::new(|points: i32| {
        let p = points.clamp(0, 100) as u8;
        let sev = match p {
            75.. => "P1",
            50.. => "P2",
            25.. => "P3",
            _ => "P4",
        };
        (p, sev)
    })
}

/// SPEC default SLAs: P1 1 h, P2 4 h, P3 24 h, otherwise 72 h.
pub fn default_sla() -> SlaFn {
    Arc::new(|sev: &str| {
        const H: i64 = 3_600_000;
        match sev {
            "P1" => H,
            "P2" => 4 * H,
            "P3" => 24 * H,
            _ => 72 * H,
        }
    })
}

/// The SPEC default queue of a category ("Default taxonomy"): wholesale
/// customers' faults go to `wholesale-liaison`, network outages that are
/// part of an incident to `network-operations`.
pub fn default_queue(category: &str, segment: Option<&str>, in_incident: bool) -> &'static str {
    let fault = matches!(
        category,
        "network_outage" | "broadband_fault" | "engineer_appointment"
    );
    if fault && segment == Some("wholesale") {
        return "wholesale-liaison";
    }
    match category {
        "network_outage" if in_incident => "network-operations",
        "network_outage" | "broadband_fault" => "technical-support",
        "engineer_appointment" => "field-service",
        "billing" => "billing",
        "account_access" => "account-support",
        "switching_cancellation" => "retention",
        "delivery" => "orders-delivery",
        "complaint_escalation" => "complaints-escalation",
        _ => "social-engagement",
    }
}

pub(super) const HOUR_MS: i64 = 3_600_000;

/// Correlator settings (the `[correlate]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelateConfig {
    /// How long CRM contacts (and closed items, for repeat contacts) are
    /// remembered and joined with mentions, event time (default 72 h).
    pub contact_window_ms: i64,
    /// An item with no activity for this long (event time, by the
    /// watermark) closes (default 48 h).
    pub quiet_period_ms: i64,
    /// Bounded out-of-orderness: watermark = max event time −
    /// this (default 5 min).
    pub max_out_of_orderness_ms: i64,
    /// [`Correlator::advance`] scans all keys at most once per this much
    /// watermark progress (default 1 min; 0 = on every call).
    pub sweep_interval_ms: i64,
    /// An open case with no update for this long is forgotten (a CRM that
    /// never sends `case_closed` must not leak state; default 30 days).
    pub open_case_ttl_ms: i64,
    /// Category → issue group; an unmapped category is its own group.
    /// Setting this replaces the whole default map.
    pub issue_groups: BTreeMap<String, String>,
    /// Categories that join the key's most recently active open item of any
    /// group (else open an item of their own group).
    pub attach_to_open_item: Vec<String>,
    /// Groups never linked to CRM cases or contacts (chatter and praise).
    pub crm_exempt_groups: Vec<String>,
    /// Groups that a missed engineer appointment raises.
    pub missed_appointment_groups: Vec<String>,
    /// Mentions kept per item (the earliest and the newest; all are counted).
    pub max_mentions_per_item: usize,
    /// Ids of folded mentions past the kept ones that an item still names
    /// (`mention_ids` = the kept mentions' ids and these): beyond this many
    /// the first half and the newest stay and `mention_ids_omitted` counts
    /// the rest (default 200: a work-item event holds at most about 6 KB of
    /// ids, far under Kafka's 1 MB record limit, and an item's state stays
    /// bounded).
    pub max_mention_ids_per_item: usize,
    /// Mention texts kept up to this many bytes (cut on a char boundary).
    pub max_mention_text_bytes: usize,
    /// CRM contacts kept per customer (the newest).
    pub max_contacts_per_key: usize,
    /// CRM cases kept per customer (closed ones are dropped first).
    pub max_cases_per_key: usize,
    /// Points added to a new item whose previous item of the same issue
    /// closed within the contact window.
    pub repeat_contact_points: i32,
    /// Points added while the item is linked to an open CRM case.
    pub open_case_points: i32,
    /// Points added when the customer sent a complaint form or called about
    /// the issue within the contact window.
    pub recent_contact_points: i32,
    /// Points per missed engineer appointment within the contact window.
    pub missed_appointment_points: i32,
    /// At most this many missed appointments count.
    pub max_missed_appointments_counted: u8,
    /// Points per mention folded into an item after its first: the customer
    /// contacting again about the same issue, on any channel (default 10).
    pub folded_mention_points: i32,
    /// At most this many points from folded mentions (default 30: the
    /// fourth contact is the last that raises).
    pub max_folded_mention_points: i32,
    /// Lead categories whose folded mentions raise nothing (default
    /// `praise`: thanks repeated is no more urgent).
    pub folded_mention_exempt_categories: Vec<String>,
}

impl Default for CorrelateConfig {
    fn default() -> Self {
        let groups = [
            ("network_outage", "service"),
            ("broadband_fault", "service"),
            ("engineer_appointment", "service"),
            ("billing", "billing"),
            ("account_access", "account"),
            ("switching_cancellation", "retention"),
            ("delivery", "delivery"),
            ("complaint_escalation", "complaint"),
            ("praise", "engagement"),
            ("general_enquiry", "engagement"),
        ];
        Self {
            contact_window_ms: 72 * HOUR_MS,
            quiet_period_ms: 48 * HOUR_MS,
            max_out_of_orderness_ms: 5 * 60_000,
            sweep_interval_ms: 60_000,
            open_case_ttl_ms: 30 * 24 * HOUR_MS,
            issue_groups: groups
                .into_iter()
                .map(|(c, g)| (c.to_owned(), g.to_owned()))
                .collect(),
            attach_to_open_item: vec!["complaint_escalation".into()],
            crm_exempt_groups: vec!["engagement".into()],
            missed_appointment_groups: vec!["service".into()],
            max_mentions_per_item: 8,
            max_mention_ids_per_item: 200,
            max_mention_text_bytes: 1_000,
            max_contacts_per_key: 32,
            max_cases_per_key: 8,
            repeat_contact_points: 15,
            open_case_points: 10,
            recent_contact_points: 10,
            missed_appointment_points: 15,
            max_missed_appointments_counted: 3,
            folded_mention_points: 10,
            max_folded_mention_points: 30,
            folded_mention_exempt_categories: vec!["praise".into()],
        }
    }
}

impl CorrelateConfig {
    /// Checks the values; errors name the key (`correlate.<field>`).
    pub fn validate(&self) -> Result<()> {
        let err = |k: &str, r: &str| OperatorError::Config {
            key: format!("correlate.{k}"),
            reason: r.into(),
        };
        for (k, v) in [
            ("contact_window_ms", self.contact_window_ms),
            ("quiet_period_ms", self.quiet_period_ms),
            ("open_case_ttl_ms", self.open_case_ttl_ms),
        ] {
            if v <= 0 {
                return Err(err(k, "must be positive"));
            }
        }
        for (k, v) in [
            ("max_out_of_orderness_ms", self.max_out_of_orderness_ms),
            ("sweep_interval_ms", self.sweep_interval_ms),
        ] {
            if v < 0 {
                return Err(err(k, "must not be negative"));
            }
        }
        for (k, v) in [
            ("max_mentions_per_item", self.max_mentions_per_item),
            ("max_mention_ids_per_item", self.max_mention_ids_per_item),
            ("max_mention_text_bytes", self.max_mention_text_bytes),
            ("max_contacts_per_key", self.max_contacts_per_key),
            ("max_cases_per_key", self.max_cases_per_key),
        ] {
            if v == 0 {
                return Err(err(k, "must be at least 1"));
            }
        }
        for (k, v) in [
            ("folded_mention_points", self.folded_mention_points),
            ("max_folded_mention_points", self.max_folded_mention_points),
        ] {
            if v < 0 {
                return Err(err(k, "must not be negative"));
            }
        }
        if self
            .folded_mention_exempt_categories
            .iter()
            .any(|c| c.trim().is_empty())
        {
            return Err(err(
                "folded_mention_exempt_categories",
                "empty category name",
            ));
        }
        if let Some((c, _)) = self
            .issue_groups
            .iter()
            .find(|(c, g)| c.is_empty() || g.is_empty())
        {
            return Err(err(
                "issue_groups",
                &format!("empty category or group name (`{c}`)"),
            ));
        }
        Ok(())
    }
}
