//! The SPEC taxonomy ("Default taxonomy") and the phrase rule that scores
//! a category.

use serde::{Deserialize, Serialize};

use crate::error::{config_err, Result};

/// The SPEC taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Mobile network down, no signal, mast, area outage.
    NetworkOutage,
    /// Home broadband / landline fault: no internet, router, speeds, drops.
    BroadbandFault,
    /// Engineer visits, installations, missed appointments.
    EngineerAppointment,
    /// Bills, charges, refunds, direct debits, price rises.
    Billing,
    /// Logins, passwords, locked accounts, the app.
    AccountAccess,
    /// Cancelling, leaving, PAC/STAC codes, contract ends.
    SwitchingCancellation,
    /// Orders, parcels, couriers, SIMs and handsets in the post.
    Delivery,
    /// Regulatory or legal threats: Ofcom, ombudsman, solicitors.
    ComplaintEscalation,
    /// Thanks and compliments.
    Praise,
    /// Questions and everything else.
    GeneralEnquiry,
}

impl Category {
    /// All categories, in SPEC order (also the tie-break order).
    pub const ALL: [Category; 10] = [
        Category::NetworkOutage,
        Category::BroadbandFault,
        Category::EngineerAppointment,
        Category::Billing,
        Category::AccountAccess,
        Category::SwitchingCancellation,
        Category::Delivery,
        Category::ComplaintEscalation,
        Category::Praise,
        Category::GeneralEnquiry,
    ];

    /// Stable snake_case label used in columns, configs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NetworkOutage => "network_outage",
            Category::BroadbandFault => "broadband_fault",
            Category::EngineerAppointment => "engineer_appointment",
            Category::Billing => "billing",
            Category::AccountAccess => "account_access",
            Category::SwitchingCancellation => "switching_cancellation",
            Category::Delivery => "delivery",
            Category::ComplaintEscalation => "complaint_escalation",
            Category::Praise => "praise",
            Category::GeneralEnquiry => "general_enquiry",
        }
    }

    /// Index into [`Category::ALL`] and per-category arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a label produced by [`Category::as_str`].
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One phrase rule: any of `phrases` found in a text adds `weight` to `category`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseRule {
    /// The category this rule scores.
    pub category: Category,
    /// Phrases, matched case-insensitively on word boundaries.
    pub phrases: Vec<String>,
    /// Score added per non-negated match (may be negative to dampen a category).
    #[serde(default = "default_weight")]
    pub weight: f32,
}

fn default_weight() -> f32 {
    1.0
}

/// Parses a category name given in config under `key`; the error lists the
/// valid names.
pub(crate) fn check_category(key: String, label: &str) -> Result<Category> {
    Category::parse(label).ok_or_else(|| {
        config_err(
            key,
            format!(
                "unknown category `{label}` (one of: {})",
                Category::ALL.map(Category::as_str).join(", ")
            ),
        )
    })
}
