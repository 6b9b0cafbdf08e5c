//! What the correlator knows besides the per-key state: its config, the
//! interned groups, the injected scale and SLA, and its counters.

use std::collections::HashMap;

use super::config::{CorrelateConfig, ScaleFn, SlaFn};
use super::intern::Sym;
use super::state::Item;

/// Counters (cumulative) and state size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrelateStats {
    /// Keys (customers or unidentified authors) with state.
    pub keys: usize,
    /// Open work items.
    pub items_open: usize,
    /// Open work items not yet linked to a CRM case (no `case_opened` /
    /// `case_updated` for them: nobody has taken them up in the CRM), by
    /// severity `P1` … `P4` (index 0 … 3; other severities are not counted).
    pub items_open_without_case: [usize; 4],
    /// Estimated bytes held by the state (map entries included).
    pub approx_state_bytes: usize,
    /// Mention rows seen.
    pub mentions: u64,
    /// Contact events seen.
    pub contacts: u64,
    /// `created` events emitted.
    pub created: u64,
    /// `updated` events emitted.
    pub updated: u64,
    /// `escalated` events emitted.
    pub escalated: u64,
    /// `closed` events emitted.
    pub closed: u64,
    /// Mentions older than the watermark (still processed).
    pub late_mentions: u64,
    /// Contacts older than the watermark (still processed).
    pub late_contacts: u64,
    /// Mentions already on an open item (same `channel:id`), skipped.
    pub duplicate_mentions: u64,
    /// Contacts with an event id already held, skipped.
    pub duplicate_contacts: u64,
}

/// Everything but the per-key map (so both can be borrowed at once).
pub(super) struct Ctx {
    pub(super) cfg: CorrelateConfig,
    pub(super) groups: HashMap<String, Sym, foldhash::fast::RandomState>,
    pub(super) attach: Vec<Sym>,
    pub(super) exempt: Vec<Sym>,
    /// Lead categories whose folded mentions raise nothing.
    pub(super) fold_exempt: Vec<Sym>,
    pub(super) missed_groups: Vec<Sym>,
    pub(super) scale: ScaleFn,
    pub(super) sla: SlaFn,
    pub(super) stats: CorrelateStats,
}

impl Ctx {
    pub(super) fn group_of(&self, category: &str) -> Sym {
        self.groups
            .get(category)
            .copied()
            .unwrap_or_else(|| Sym::new(category))
    }

    /// The group of a CRM category; `None` when absent or unmapped (then
    /// the contact is relevant to every item).
    pub(super) fn contact_group(&self, category: Option<Sym>) -> Option<Sym> {
        category.and_then(|c| self.groups.get(c.as_str()).copied())
    }

    pub(super) fn relevant(
        &self,
        item: &Item,
        category: Option<Sym>,
        case_id: Option<&str>,
    ) -> bool {
        if self.exempt.contains(&item.group) {
            return false;
        }
        (case_id.is_some() && case_id == item.related_case.as_deref())
            || self.contact_group(category).is_none_or(|g| g == item.group)
    }

    pub(super) fn stateful_points(&self, item: &Item) -> i32 {
        let c = &self.cfg;
        let mut p = 0i32;
        if item.repeat_of.is_some() {
            p = p.saturating_add(c.repeat_contact_points);
        }
        if item.open_case {
            p = p.saturating_add(c.open_case_points);
        }
        if item.recent_contact {
            p = p.saturating_add(c.recent_contact_points);
        }
        p.saturating_add(
            i32::from(item.missed_appointments).saturating_mul(c.missed_appointment_points),
        )
        .saturating_add(self.folded_points(item))
    }

    /// Points for the mentions folded into the item after its first (the
    /// customer contacting again about it), capped; none for an exempt lead
    /// category.
    pub(super) fn folded_points(&self, item: &Item) -> i32 {
        if item.mention_count < 2 || self.fold_exempt.contains(&item.category) {
            return 0;
        }
        let c = &self.cfg;
        i32::try_from(item.mention_count - 1)
            .unwrap_or(i32::MAX)
            .saturating_mul(c.folded_mention_points)
            .min(c.max_folded_mention_points)
    }
}
