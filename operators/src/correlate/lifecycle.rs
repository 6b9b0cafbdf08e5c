//! The life of an item: a revision after activity ([`revise`]), the
//! `closed` revision ([`close`]), and the quiet-period closing and CRM
//! expiry of one key ([`maintain`]).

use super::crm::crm_view;
use super::ctx::Ctx;
use super::event::{hours, EventOut, EventView};
use super::intern::Sym;
use super::state::{push_tight, ClosedRef, ContactRec, KeyState};
use super::work_item::Action;
use crate::time::format_minute;

/// Severity rank: `P1` → 1; unknown spellings rank last.
fn rank(sev: &str) -> u8 {
    sev.strip_prefix('P')
        .and_then(|d| d.parse().ok())
        .unwrap_or(u8::MAX)
}

/// Emits the next revision of `ks.items[idx]` after activity at `t`.
pub(super) fn revise(
    ctx: &mut Ctx,
    key: &str,
    ks: &mut KeyState,
    idx: usize,
    t: i64,
    out: &mut dyn EventOut,
) {
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
pub(super) fn close(
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
pub(super) fn maintain(
    ctx: &mut Ctx,
    key: &str,
    ks: &mut KeyState,
    wm: i64,
    out: &mut dyn EventOut,
) {
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
