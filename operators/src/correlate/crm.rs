//! Reading a key's CRM memory for one item: which case or contact it
//! links to, the sticky flags behind the stateful points, and the `CRM
//! history: …` reason.

use super::contacts::ContactKind;
use super::ctx::Ctx;
use super::intern::Sym;
use super::state::{Item, KeyState};
use crate::time::format_minute;

/// What the CRM state says about an item at a time.
pub(super) struct CrmView {
    pub(super) link: Option<(Box<str>, bool)>,
    pub(super) open_case: bool,
    pub(super) recent_contact: bool,
    pub(super) missed: u8,
}

pub(super) fn crm_view(ctx: &Ctx, ks: &KeyState, item: &Item, ref_ms: i64) -> CrmView {
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
pub(super) fn history(ctx: &Ctx, ks: &KeyState, item: &Item) -> Option<String> {
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
