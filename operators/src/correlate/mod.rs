//! Correlation: folds mentions and CRM contacts of one customer issue into
//! one work item, and emits its revisions (SPEC "Work-item events").
//!
//! Pure and deterministic: no network, no wall clock; time is event time
//! only, so the same input in the same order yields the same events, ids
//! and revisions (also under a different batching, see "Watermark").
//!
//! # Keys and issue groups
//! - **Key**: `c:<customer_id>` for an identified author; otherwise
//!   `h:<channel>:<handle>` (handle lower-cased, without `@`), else
//!   `a:<channel>:<author_id>`, else `m:<channel>:<mention_id>` (a one-off
//!   item). CRM contacts are keyed `c:<customer_id>`. *All* state lives in
//!   one `KeyState` per key, so it partitions by key and is
//!   exported/imported per key ([`Correlator::export_key`],
//!   [`Correlator::import_key`]) for the changelog of a later issue.
//! - **Group**: [`CorrelateConfig::issue_groups`] maps a category to an
//!   issue group (default `service`, `billing`, `account`, `retention`,
//!   `delivery`, `engagement`, `complaint`); an unmapped category is its own
//!   group. A key has **at most one open item per group**. Categories in
//!   [`CorrelateConfig::attach_to_open_item`] (default
//!   `complaint_escalation`) join the key's most recently active open item
//!   of any group, else open an item of their own group.
//! - The item's `category` and `queue` follow its **lead mention**: the one
//!   with the most `severity_points` (the first on ties). Base points are
//!   the lead mention's points; its `severity_reasons` are the first
//!   reasons. `queue` comes from the `queue` column (the route operator)
//!   or, absent that, [`default_queue`].
//!
//! # CRM contacts
//! Contacts within [`CorrelateConfig::contact_window_ms`] (and open cases,
//! until closed or [`CorrelateConfig::open_case_ttl_ms`]) are kept per
//! customer. A contact is *relevant* to an item when its category maps to
//! the item's group, when it has no (or an unmapped) category, or when it
//! names the item's case; groups in [`CorrelateConfig::crm_exempt_groups`]
//! (default `engagement`) are never linked. An item links
//! (`related_case_id`) to the newest relevant open case, else to the newest
//! relevant complaint form/call (its case id, else its event id); a real
//! case replaces a form/call link, a case link is never replaced. The
//! reasons carry the CRM history (`CRM history: case CASE-1 opened
//! 2026-11-20 10:00 (billing); complaint form 2026-11-20 11:00`).
//! `case_opened`/`case_updated`/`complaint_form`/`call` revise the matching
//! open items; `appointment_missed` revises open items of
//! [`CorrelateConfig::missed_appointment_groups`] and counts for later ones
//! within the window; `case_closed` closes the items linked to that case.
//!
//! # Points, severity, SLA
//! Total points = lead points + stateful points (repeat contact, open case,
//! recent form/call, missed appointments × points, capped count). Stateful
//! flags are sticky on an item, so priority never drops because a contact
//! ages out. `scale(points) → (priority, severity)` and `sla(severity)` are
//! injected (the severity operator owns them; [`default_scale`] and
//! [`default_sla`] exist for tests). `sla_due_at` = first seen + SLA at
//! creation, afterwards `min(previous, revision time + SLA)`.
//! `escalated` = the severity became more urgent (`P3` → `P2`), else
//! `updated`.
//!
//! # Ids and revisions
//! `work_item_id` = `wi-` + 16 hex of FNV-1a-64 over (key, group, first
//! mention id `channel:id`, id of the group's previous closed item or 0).
//! FNV-1a is fixed by definition, so ids are stable across runs, builds and
//! platforms. Revisions count 1, 2, … per item; a closed item is removed
//! and never revised again.
//!
//! # Watermark, quiet period, late data
//! watermark = max event time seen (mentions *and* contacts: the contact
//! stream is sparse and must not stall closing) −
//! [`CorrelateConfig::max_out_of_orderness_ms`]. A record older than the
//! watermark is *late*: counted ([`CorrelateStats::late_mentions`],
//! `late_contacts`) and still processed. Before any record of a key is
//! processed, that key's items quiet since `watermark − quiet_period` are
//! closed (closing time = last activity + quiet period) and expired
//! contacts dropped; [`Correlator::advance`] does the same for all keys (at
//! most once per [`CorrelateConfig::sweep_interval_ms`] of watermark
//! progress). Because the watermark only grows, the result does not depend
//! on when `advance` runs. A late mention for an item that already closed
//! therefore opens a **new** item; closed items are never reopened.
//!
//! # Repeat contacts
//! A new item of a (key, group) whose previous item closed within the
//! window before (or after, for late data) its first mention says
//! `repeat contact: previous item wi-… closed …` and gets
//! [`CorrelateConfig::repeat_contact_points`].
//!
//! # Memory
//! Per-key state is small vectors; categories, groups, queues, channels,
//! severities and CRM attributes are interned `&'static str` (8 bytes);
//! an item keeps at most [`CorrelateConfig::max_mentions_per_item`]
//! mentions (the earliest and the newest) plus a count, texts truncated to
//! [`CorrelateConfig::max_mention_text_bytes`].
//! [`Correlator::stats`] estimates the bytes held.

mod contacts;
mod event;
mod input;
mod item;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

pub use contacts::{parse_contact, ContactEvent, ContactKind, ContactRejection};
pub use event::{EventOut, EventView, RenderedEvent, RenderedEvents};
pub use item::{format_rfc3339_ms, Action, CustomerRef, IdentityRef, MentionRef, WorkItemEvent};

use crate::error::{OperatorError, Result};
use item::{
    fnv1a64, format_minute, insert_tight, push_tight, truncate, CaseRec, ClosedRef, ContactRec,
    Customer, Identity, Item, KeyState, MentionRec, Sym,
};

/// Input columns read besides the mention, identity and classify columns.
/// The severity and route operators (built elsewhere) append them; each is
/// optional.
pub mod col {
    /// VADER compound score (Float32 or Float64).
    pub const SENTIMENT_COMPOUND: &str = crate::sentiment::SENTIMENT_COMPOUND;
    /// Severity points of the mention (any integer type); 0 when absent.
    pub const SEVERITY_POINTS: &str = "severity_points";
    /// Why (`List<Utf8>`, or `Utf8` joined by `\n`).
    pub const SEVERITY_REASONS: &str = "severity_reasons";
    /// Target queue (Utf8); [`super::default_queue`] when absent.
    pub const QUEUE: &str = "queue";
    /// Outage incident id (Utf8), if the mention is part of one.
    pub const INCIDENT_ID: &str = "incident_id";
}

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

/// The state key of a CRM customer.
pub fn customer_key(customer_id: &str) -> String {
    format!("c:{customer_id}")
}

const HOUR_MS: i64 = 3_600_000;

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
            max_mention_text_bytes: 1_000,
            max_contacts_per_key: 32,
            max_cases_per_key: 8,
            repeat_contact_points: 15,
            open_case_points: 10,
            recent_contact_points: 10,
            missed_appointment_points: 15,
            max_missed_appointments_counted: 3,
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
            ("max_mention_text_bytes", self.max_mention_text_bytes),
            ("max_contacts_per_key", self.max_contacts_per_key),
            ("max_cases_per_key", self.max_cases_per_key),
        ] {
            if v == 0 {
                return Err(err(k, "must be at least 1"));
            }
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
struct Ctx {
    cfg: CorrelateConfig,
    groups: HashMap<String, Sym, foldhash::fast::RandomState>,
    attach: Vec<Sym>,
    exempt: Vec<Sym>,
    missed_groups: Vec<Sym>,
    scale: ScaleFn,
    sla: SlaFn,
    stats: CorrelateStats,
}

/// The correlation operator. See the module doc.
pub struct Correlator {
    ctx: Ctx,
    /// Per-key state. foldhash, randomly seeded per map (keys include
    /// handles anyone can choose), is several times cheaper than SipHash on
    /// these short keys; hashbrown's own map for `entry_ref`: one lookup per
    /// mention, the key copied only when it is new.
    keys: hashbrown::HashMap<Box<str>, KeyState, foldhash::fast::RandomState>,
    max_event_ms: Option<i64>,
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
            .field("max_event_ms", &self.max_event_ms)
            .finish_non_exhaustive()
    }
}

/// Severity rank: `P1` → 1; unknown spellings rank last.
fn rank(sev: &str) -> u8 {
    sev.strip_prefix('P')
        .and_then(|d| d.parse().ok())
        .unwrap_or(u8::MAX)
}

fn hours(ms: i64) -> String {
    if ms % HOUR_MS == 0 {
        format!("{} h", ms / HOUR_MS)
    } else {
        format!("{} min", ms / 60_000)
    }
}

impl Ctx {
    fn group_of(&self, category: &str) -> Sym {
        self.groups
            .get(category)
            .copied()
            .unwrap_or_else(|| Sym::new(category))
    }

    /// The group of a CRM category; `None` when absent or unmapped (then
    /// the contact is relevant to every item).
    fn contact_group(&self, category: Option<Sym>) -> Option<Sym> {
        category.and_then(|c| self.groups.get(c.as_str()).copied())
    }

    fn relevant(&self, item: &Item, category: Option<Sym>, case_id: Option<&str>) -> bool {
        if self.exempt.contains(&item.group) {
            return false;
        }
        (case_id.is_some() && case_id == item.related_case.as_deref())
            || self.contact_group(category).is_none_or(|g| g == item.group)
    }

    fn stateful_points(&self, item: &Item) -> i32 {
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
    }
}

/// What the CRM state says about an item at a time.
struct CrmView {
    link: Option<(Box<str>, bool)>,
    open_case: bool,
    recent_contact: bool,
    missed: u8,
}

fn crm_view(ctx: &Ctx, ks: &KeyState, item: &Item, ref_ms: i64) -> CrmView {
    let lo = ref_ms.saturating_sub(ctx.cfg.contact_window_ms);
    let mut link = None;
    if ctx.exempt.contains(&item.group) {
        return CrmView {
            link,
            open_case: false,
            recent_contact: false,
            missed: 0,
        };
    }
    if item.related_case.is_none() || !item.related_is_case {
        if let Some(c) = ks
            .crm()
            .cases
            .iter()
            .filter(|c| c.closed_ms.is_none() && ctx.relevant(item, c.category, Some(&c.id)))
            .max_by(|a, b| (a.opened_ms, &a.id).cmp(&(b.opened_ms, &b.id)))
        {
            link = Some((c.id.clone(), true));
        } else if item.related_case.is_none() {
            if let Some(c) = ks
                .crm()
                .contacts
                .iter()
                .filter(|c| {
                    matches!(c.kind, ContactKind::ComplaintForm | ContactKind::Call)
                        && c.at_ms >= lo
                        && ctx.relevant(item, c.category, c.case_id.as_deref())
                })
                .max_by(|a, b| (a.at_ms, &a.event_id).cmp(&(b.at_ms, &b.event_id)))
            {
                link = Some(match &c.case_id {
                    Some(id) => (id.clone(), true),
                    None => (c.event_id.clone(), false),
                });
            }
        }
    }
    let related = link
        .as_ref()
        .map(|l| &*l.0)
        .or(item.related_case.as_deref());
    let open_case = related.is_some_and(|r| {
        ks.crm()
            .cases
            .iter()
            .any(|c| &*c.id == r && c.closed_ms.is_none())
    });
    let recent_contact = ks.crm().contacts.iter().any(|c| {
        matches!(c.kind, ContactKind::ComplaintForm | ContactKind::Call)
            && c.at_ms >= lo
            && ctx.relevant(item, c.category, c.case_id.as_deref())
    });
    let missed = if ctx.missed_groups.contains(&item.group) {
        let n = ks
            .crm()
            .contacts
            .iter()
            .filter(|c| c.kind == ContactKind::AppointmentMissed && c.at_ms >= lo)
            .count();
        n.min(usize::from(ctx.cfg.max_missed_appointments_counted)) as u8
    } else {
        0
    };
    CrmView {
        link,
        open_case,
        recent_contact,
        missed,
    }
}

/// `CRM history: …` for an item, newest six entries.
fn history(ctx: &Ctx, ks: &KeyState, item: &Item) -> Option<String> {
    if ctx.exempt.contains(&item.group) {
        return None;
    }
    let lo = item
        .last_activity_ms
        .saturating_sub(ctx.cfg.contact_window_ms);
    let cat = |c: Option<Sym>| c.map(|c| format!(" ({})", c.as_str())).unwrap_or_default();
    let mut entries: Vec<(i64, String)> = Vec::new();
    for c in &ks.crm().cases {
        if !ctx.relevant(item, c.category, Some(&c.id)) {
            continue;
        }
        if c.opened_ms >= lo || c.closed_ms.is_none() {
            entries.push((
                c.opened_ms,
                format!(
                    "case {} opened {}{}",
                    c.id,
                    format_minute(c.opened_ms),
                    cat(c.category)
                ),
            ));
        }
        if let Some(t) = c.closed_ms {
            entries.push((t, format!("case {} closed {}", c.id, format_minute(t))));
        }
    }
    let appointments = ctx.missed_groups.contains(&item.group);
    for c in &ks.crm().contacts {
        let shown = match c.kind {
            ContactKind::ComplaintForm | ContactKind::Call => true,
            ContactKind::AppointmentBooked | ContactKind::AppointmentMissed => appointments,
            _ => false,
        };
        if shown && c.at_ms >= lo && ctx.relevant(item, c.category, c.case_id.as_deref()) {
            let case = c
                .case_id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            entries.push((
                c.at_ms,
                format!(
                    "{}{case} {}{}",
                    c.kind.words(),
                    format_minute(c.at_ms),
                    cat(c.category)
                ),
            ));
        }
    }
    if entries.is_empty() {
        return None;
    }
    entries.sort();
    let skip = entries.len().saturating_sub(6);
    let parts: Vec<&str> = entries[skip..].iter().map(|(_, s)| s.as_str()).collect();
    Some(format!("CRM history: {}", parts.join("; ")))
}

/// Emits the next revision of `ks.items[idx]` after activity at `t`.
fn revise(ctx: &mut Ctx, key: &str, ks: &mut KeyState, idx: usize, t: i64, out: &mut dyn EventOut) {
    let ref_ms = ks.items[idx].last_activity_ms.max(t);
    let view = crm_view(ctx, ks, &ks.items[idx], ref_ms);
    let item = &mut ks.items[idx];
    item.last_activity_ms = ref_ms;
    if let Some((id, is_case)) = view.link {
        item.related_case = Some(id);
        item.related_is_case = is_case;
    }
    item.open_case |= view.open_case;
    item.recent_contact |= view.recent_contact;
    item.missed_appointments = item.missed_appointments.max(view.missed);
    let points = item.base_points.saturating_add(ctx.stateful_points(item));
    let (priority, severity) = (ctx.scale)(points);
    let sla = (ctx.sla)(severity).max(0);
    let action = if item.revision == 0 {
        item.sla_due_ms = item.first_seen_ms.saturating_add(sla);
        Action::Created
    } else {
        item.sla_due_ms = item.sla_due_ms.min(ref_ms.saturating_add(sla));
        if rank(severity) < rank(item.severity.as_str()) {
            Action::Escalated
        } else {
            Action::Updated
        }
    };
    item.severity = Sym::new(severity);
    item.priority = priority.min(100);
    item.revision += 1;
    match action {
        Action::Created => ctx.stats.created += 1,
        Action::Escalated => ctx.stats.escalated += 1,
        _ => ctx.stats.updated += 1,
    }
    out.push_event(&EventView {
        ctx,
        key,
        ks,
        item: &ks.items[idx],
        action,
        closing: None,
    });
}

/// Emits the `closed` revision of `ks.items[idx]` at `at` and removes it.
fn close(
    ctx: &mut Ctx,
    key: &str,
    ks: &mut KeyState,
    idx: usize,
    at: i64,
    why: &str,
    out: &mut dyn EventOut,
) {
    let item = &mut ks.items[idx];
    item.revision += 1;
    item.last_activity_ms = item.last_activity_ms.max(at);
    ctx.stats.closed += 1;
    out.push_event(&EventView {
        ctx,
        key,
        ks,
        item: &ks.items[idx],
        action: Action::Closed,
        closing: Some(why),
    });
    let item = ks.items.remove(idx);
    ks.crm_mut().closed.retain(|c| c.group != item.group);
    push_tight(
        &mut ks.crm_mut().closed,
        ClosedRef {
            group: item.group,
            id: item.id,
            closed_ms: item.last_activity_ms,
        },
    );
}

/// Closes quiet items and drops expired CRM state of one key.
fn maintain(ctx: &mut Ctx, key: &str, ks: &mut KeyState, wm: i64, out: &mut dyn EventOut) {
    let quiet = ctx.cfg.quiet_period_ms;
    let mut i = 0;
    while i < ks.items.len() {
        let last = ks.items[i].last_activity_ms;
        let deadline = last.saturating_add(quiet);
        if deadline < wm {
            let why = format!(
                "closed: no activity for {} since {}",
                hours(quiet),
                format_minute(last)
            );
            close(ctx, key, ks, i, deadline, &why, out);
        } else {
            i += 1;
        }
    }
    let lo = wm.saturating_sub(ctx.cfg.contact_window_ms);
    let case_lo = wm.saturating_sub(ctx.cfg.open_case_ttl_ms);
    if let Some(crm) = ks.crm.as_deref_mut() {
        crm.contacts.retain(|c| c.at_ms >= lo);
        crm.closed.retain(|c| c.closed_ms >= lo);
        let contacts = &crm.contacts;
        crm.cases.retain(|c| match c.closed_ms {
            Some(t) => t >= lo,
            None => c.opened_ms.max(last_case_activity(contacts, &c.id)) >= case_lo,
        });
    }
    ks.tidy();
}

fn last_case_activity(contacts: &[ContactRec], case_id: &str) -> i64 {
    contacts
        .iter()
        .filter(|c| c.case_id.as_deref() == Some(case_id))
        .map(|c| c.at_ms)
        .max()
        .unwrap_or(i64::MIN)
}

fn row_key(row: &input::Row<'_>) -> String {
    correlation_key(
        row.customer_id,
        row.channel,
        row.handle,
        row.author_id,
        row.mention_id,
    )
}

/// The state key of a mention: its CRM customer when known, else the
/// normalised handle on its channel, else the author id, else the mention
/// itself. One key, one set of work items.
pub fn correlation_key(
    customer_id: Option<&str>,
    channel: &str,
    handle: Option<&str>,
    author_id: Option<&str>,
    mention_id: &str,
) -> String {
    if let Some(c) = customer_id {
        return customer_key(c);
    }
    if let Some(h) = handle {
        let h = h.trim().trim_start_matches('@').to_lowercase();
        if !h.is_empty() {
            return format!("h:{channel}:{h}");
        }
    }
    if let Some(a) = author_id {
        return format!("a:{channel}:{a}");
    }
    format!("m:{channel}:{mention_id}")
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
            missed_groups: syms(&cfg.missed_appointment_groups),
            groups,
            cfg,
            scale,
            sla,
            stats: CorrelateStats::default(),
        };
        Ok(Self {
            ctx,
            keys: hashbrown::HashMap::default(),
            max_event_ms: None,
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

    /// Current watermark (max event time − max out-of-orderness), if any
    /// record was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.max_event_ms
            .map(|m| m.saturating_sub(self.ctx.cfg.max_out_of_orderness_ms))
    }

    /// Max event time seen (to persist alongside the per-key state).
    pub fn max_event_time_ms(&self) -> Option<i64> {
        self.max_event_ms
    }

    /// Restores the max event time after a restart (never moves it back).
    pub fn restore_max_event_time(&mut self, ms: i64) {
        self.max_event_ms = Some(self.max_event_ms.map_or(ms, |m| m.max(ms)));
    }

    /// Records an event time; true when it is late.
    fn observe(&mut self, t: i64) -> bool {
        let late = self.watermark().is_some_and(|w| t < w);
        self.max_event_ms = Some(self.max_event_ms.map_or(t, |m| m.max(t)));
        late
    }

    fn key_state(&mut self, key: &str) -> &mut KeyState {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.into(), KeyState::default());
        }
        self.keys.get_mut(key).expect("inserted above")
    }

    fn drop_if_empty(&mut self, key: &str) {
        if self.keys.get(key).is_some_and(KeyState::is_empty) {
            self.keys.remove(key);
        }
    }

    /// Processes a batch of enriched mentions in row order; returns the
    /// `created`/`updated`/`escalated` events (and `closed` events of the
    /// rows' keys that went quiet first).
    pub fn on_mentions(&mut self, batch: &RecordBatch) -> Result<Vec<WorkItemEvent>> {
        let mut out = Vec::with_capacity(batch.num_rows());
        self.on_mentions_into(batch, &mut out)?;
        Ok(out)
    }

    /// [`on_mentions`](Self::on_mentions), the events put into `out`.
    pub fn on_mentions_into(&mut self, batch: &RecordBatch, out: &mut dyn EventOut) -> Result<()> {
        let cols = input::Cols::new(batch)?;
        // (key, source partition, offset) applied by this call: the other
        // mentions of one record (a Facebook webhook) share its offset.
        let mut this_call: Vec<(String, i32, i64)> = Vec::new();
        for i in 0..batch.num_rows() {
            let row = cols.row(i)?;
            self.on_row(&row, out, &mut this_call);
        }
        Ok(())
    }

    fn on_row(
        &mut self,
        row: &input::Row<'_>,
        out: &mut dyn EventOut,
        this_call: &mut Vec<(String, i32, i64)>,
    ) {
        self.ctx.stats.mentions += 1;
        if self.observe(row.at_ms) {
            self.ctx.stats.late_mentions += 1;
        }
        let wm = self.watermark().unwrap_or(row.at_ms);
        let key = row_key(row);
        self.dirty_key(&key);
        let t = row.at_ms;
        let uid = [row.channel, ":", row.mention_id].concat();
        // Split borrow: the key's state and the context.
        let ctx = &mut self.ctx;
        let ks = self.keys.entry_ref(key.as_str()).or_default();
        maintain(ctx, &key, ks, wm, out);
        if let Some((p, o)) = row.source {
            // Offsets grow per source partition, and all of a key's mentions
            // from one partition arrive in order, a record's mentions in one
            // batch: an offset below the highest applied one, or equal to it
            // but applied by an earlier call, is a replay.
            let seen = ks.applied.iter().any(|&(ap, ao)| {
                ap == p
                    && (o < ao
                        || (o == ao
                            && !this_call
                                .iter()
                                .any(|(k, tp, to)| *k == key && *tp == p && *to == o)))
            });
            if seen {
                ctx.stats.duplicate_mentions += 1;
                self.drop_if_empty(&key);
                return;
            }
        }
        if ks
            .items
            .iter()
            .any(|it| it.mentions.iter().any(|m| m.uid_is(&uid)))
        {
            ctx.stats.duplicate_mentions += 1;
            self.drop_if_empty(&key);
            return;
        }
        if let Some((p, o)) = row.source {
            match ks.applied.iter_mut().find(|(ap, _)| *ap == p) {
                Some(e) => e.1 = e.1.max(o),
                None => push_tight(&mut ks.applied, (p, o)),
            }
            this_call.push((key.clone(), p, o));
        }
        if row.customer_id.is_some() {
            let cu = Customer {
                segment: row.segment.map(Sym::new),
                tier: row.tier.map(Sym::new),
                region: row.region.map(Sym::new),
                vulnerable: row.vulnerable,
                account_status: row.account_status.map(Sym::new),
            };
            if ks.customer.as_deref() != Some(&cu) {
                ks.customer = Some(Box::new(cu));
            }
        }
        let category = Sym::new(row.category);
        let group = ctx.group_of(row.category);
        let queue =
            Sym::new(row.queue.unwrap_or_else(|| {
                default_queue(row.category, row.segment, row.incident.is_some())
            }));
        let identity = Identity {
            matched: row.matched,
            via: row.via.map(Sym::new),
            snapshot: row.snapshot.map(Sym::new),
        };
        let rec = MentionRec::new(
            &uid,
            Sym::new(row.channel),
            row.handle.or(row.author_id),
            truncate(row.text, ctx.cfg.max_mention_text_bytes),
            t,
            row.sentiment,
        );
        let target = if ctx.attach.contains(&category) {
            ks.items
                .iter()
                .enumerate()
                .max_by_key(|(_, it)| (it.last_activity_ms, it.id))
                .map(|(i, _)| i)
        } else {
            None
        }
        .or_else(|| ks.items.iter().position(|it| it.group == group));
        let max_mentions = ctx.cfg.max_mentions_per_item;
        match target {
            Some(i) => {
                let it = &mut ks.items[i];
                let pos = it
                    .mentions
                    .partition_point(|m| (m.at_ms, m.uid()) < (t, rec.uid()));
                insert_tight(&mut it.mentions, pos, rec);
                if it.mentions.len() > max_mentions {
                    let drop = if max_mentions >= 2 { 1 } else { 0 };
                    it.mentions.remove(drop);
                }
                it.mention_count = it.mention_count.saturating_add(1);
                if row.points > it.base_points {
                    it.base_points = row.points;
                    it.lead_reasons = row.reasons.join("\n").into();
                    it.category = category;
                    it.queue = queue;
                }
                if it.incident.is_none() {
                    it.incident = row.incident.map(Into::into);
                }
                it.identity = identity;
                it.first_seen_ms = it.first_seen_ms.min(t);
                revise(ctx, &key, ks, i, t, out);
            }
            None => {
                let pred = ks.crm().closed.iter().find(|c| c.group == group).copied();
                let pred_id = pred.map_or(0u64, |p| p.id).to_le_bytes();
                let id = fnv1a64(&[
                    key.as_bytes(),
                    group.as_str().as_bytes(),
                    uid.as_bytes(),
                    &pred_id,
                ]);
                let lo = t.saturating_sub(ctx.cfg.contact_window_ms);
                push_tight(
                    &mut ks.items,
                    Item {
                        id,
                        group,
                        revision: 0,
                        category,
                        queue,
                        base_points: row.points,
                        lead_reasons: row.reasons.join("\n").into(),
                        severity: Sym::new("P4"),
                        priority: 0,
                        sla_due_ms: 0,
                        identity,
                        related_case: None,
                        related_is_case: false,
                        incident: row.incident.map(Into::into),
                        repeat_of: pred
                            .filter(|p| p.closed_ms >= lo)
                            .map(|p| (p.id, p.closed_ms)),
                        open_case: false,
                        recent_contact: false,
                        missed_appointments: 0,
                        mentions: vec![rec],
                        mention_count: 1,
                        first_seen_ms: t,
                        last_activity_ms: t,
                    },
                );
                let i = ks.items.len() - 1;
                revise(ctx, &key, ks, i, t, out);
            }
        }
    }

    /// Processes one CRM contact event; returns the revisions it causes.
    pub fn on_contact(&mut self, ev: &ContactEvent) -> Vec<WorkItemEvent> {
        let mut out = Vec::new();
        self.on_contact_into(ev, &mut out);
        out
    }

    /// [`on_contact`](Self::on_contact), the events put into `out`.
    pub fn on_contact_into(&mut self, ev: &ContactEvent, out: &mut dyn EventOut) {
        self.ctx.stats.contacts += 1;
        let t = ev.occurred_at_ms;
        if self.observe(t) {
            self.ctx.stats.late_contacts += 1;
        }
        let wm = self.watermark().unwrap_or(t);
        let key = customer_key(&ev.customer_id);
        self.dirty_key(&key);
        if !self.keys.contains_key(key.as_str()) {
            self.keys.insert(key.as_str().into(), KeyState::default());
        }
        let ctx = &mut self.ctx;
        let ks = self.keys.get_mut(key.as_str()).expect("inserted above");
        maintain(ctx, &key, ks, wm, out);
        if ks
            .crm()
            .contacts
            .iter()
            .any(|c| *c.event_id == *ev.event_id)
        {
            ctx.stats.duplicate_contacts += 1;
            self.drop_if_empty(&key);
            return;
        }
        let category = ev.category.as_deref().map(Sym::new);
        let case_id: Option<Box<str>> = ev.case_id.as_deref().map(Into::into);
        let rec = ContactRec {
            event_id: ev.event_id.as_str().into(),
            kind: ev.kind,
            at_ms: t,
            case_id: case_id.clone(),
            category,
        };
        let pos = ks
            .crm()
            .contacts
            .partition_point(|c| (c.at_ms, &c.event_id) < (t, &rec.event_id));
        insert_tight(&mut ks.crm_mut().contacts, pos, rec);
        if ks.crm().contacts.len() > ctx.cfg.max_contacts_per_key {
            ks.crm_mut().contacts.remove(0);
        }
        // Case bookkeeping.
        if let Some(cid) = case_id.as_deref() {
            let found = ks.crm_mut().cases.iter_mut().find(|c| &*c.id == cid);
            match (ev.kind, found) {
                (ContactKind::CaseOpened | ContactKind::CaseUpdated, Some(c)) => {
                    if ev.kind == ContactKind::CaseOpened {
                        c.opened_ms = c.opened_ms.min(t);
                        c.closed_ms = None;
                    }
                    if category.is_some() {
                        c.category = category;
                    }
                }
                (ContactKind::CaseClosed, Some(c)) => {
                    c.closed_ms = Some(c.closed_ms.map_or(t, |x| x.max(t)));
                }
                (ContactKind::CaseOpened | ContactKind::CaseUpdated, None) => push_tight(
                    &mut ks.crm_mut().cases,
                    CaseRec {
                        id: cid.into(),
                        category,
                        opened_ms: t,
                        closed_ms: None,
                    },
                ),
                (ContactKind::CaseClosed, None) => push_tight(
                    &mut ks.crm_mut().cases,
                    CaseRec {
                        id: cid.into(),
                        category,
                        opened_ms: t,
                        closed_ms: Some(t),
                    },
                ),
                _ => {}
            }
            while ks.crm().cases.len() > ctx.cfg.max_cases_per_key {
                // Oldest closed case first, else the oldest open one.
                let victim = ks
                    .crm()
                    .cases
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| (c.closed_ms.is_none(), c.opened_ms))
                    .map_or(0, |(i, _)| i);
                ks.crm_mut().cases.remove(victim);
            }
        }
        let cg = ctx.contact_group(category);
        let most_recent = |ks: &KeyState, ctx: &Ctx| {
            ks.items
                .iter()
                .enumerate()
                .filter(|(_, it)| !ctx.exempt.contains(&it.group))
                .max_by_key(|(_, it)| (it.last_activity_ms, it.id))
                .map(|(i, _)| i)
        };
        let by_group = |ks: &KeyState, ctx: &Ctx| -> Vec<usize> {
            match cg {
                Some(g) if !ctx.exempt.contains(&g) => ks
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, it)| it.group == g)
                    .map(|(i, _)| i)
                    .collect(),
                Some(_) => Vec::new(),
                None => most_recent(ks, ctx).into_iter().collect(),
            }
        };
        let targets: Vec<usize> =
            match ev.kind {
                ContactKind::CaseClosed => {
                    let cid = case_id.as_deref().unwrap_or("");
                    let why = format!("closed: CRM case {cid} closed {}", format_minute(t));
                    while let Some(i) = ks.items.iter().position(|it| {
                        it.related_is_case && it.related_case.as_deref() == Some(cid)
                    }) {
                        close(ctx, &key, ks, i, t, &why, out);
                    }
                    Vec::new()
                }
                ContactKind::ComplaintForm | ContactKind::Call | ContactKind::CaseOpened => {
                    by_group(ks, ctx)
                }
                ContactKind::CaseUpdated => {
                    let linked: Vec<usize> = ks
                        .items
                        .iter()
                        .enumerate()
                        .filter(|(_, it)| it.related_case == case_id)
                        .map(|(i, _)| i)
                        .collect();
                    if linked.is_empty() {
                        by_group(ks, ctx)
                    } else {
                        linked
                    }
                }
                ContactKind::AppointmentMissed => ks
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, it)| ctx.missed_groups.contains(&it.group))
                    .map(|(i, _)| i)
                    .collect(),
                ContactKind::AppointmentBooked => Vec::new(),
            };
        for i in targets {
            revise(ctx, &key, ks, i, t, out);
        }
        self.drop_if_empty(&key);
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
        let mut hits: Vec<(Box<str>, usize)> = Vec::new();
        for (key, ks) in &self.keys {
            for (i, it) in ks.items.iter().enumerate() {
                if it.incident.is_none()
                    && it.mentions.iter().any(|m| {
                        let uid = m.uid();
                        let id = uid.split_once(':').map_or(uid, |(_, id)| id);
                        wanted.contains(id)
                    })
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
    pub fn advance_into(&mut self, out: &mut dyn EventOut) {
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
            let Some(idx) =
                crate::severity::SeverityLevel::parse(it.severity.as_str()).map(|l| l as usize)
            else {
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
            .map(|(k, v)| item::alloc_cost(k.len()) + v.heap_bytes())
            .sum::<usize>()
            + self.keys.capacity() * 8 / 7 * bucket;
        s
    }

    /// Starts (or stops) remembering which keys change, for the state
    /// changelog ([`Correlator::take_dirty`]).
    pub fn set_track_dirty(&mut self, on: bool) {
        self.track_dirty = on;
        if !on {
            self.dirty.clear();
        }
    }

    fn dirty_key(&mut self, key: &str) {
        if self.track_dirty && !self.dirty.contains(key) {
            self.dirty.insert(key.into());
        }
    }

    /// The keys changed since the last call with their exported state
    /// (`None`: the key holds nothing any more, a tombstone), sorted by key.
    pub fn take_dirty(&mut self) -> Vec<(Box<str>, Option<Vec<u8>>)> {
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
    fn check_invariants(&self) {
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
