//! What a CRM contact does: it is remembered for the contact window (its
//! case booked), then revises the open items it concerns, or closes the
//! items linked to a closed case.

use super::contacts::{ContactEvent, ContactKind};
use super::correlator::Correlator;
use super::ctx::Ctx;
use super::event::EventOut;
use super::intern::Sym;
use super::keys::customer_key;
use super::lifecycle::{close, maintain, revise};
use super::state::{insert_tight, push_tight, CaseRec, ContactRec, KeyState};
use super::work_item::WorkItemEvent;
use crate::time::format_minute;

impl Correlator {
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
        if self.clock.observe(t) {
            self.ctx.stats.late_contacts += 1;
        }
        let wm = self.clock.watermark().unwrap_or(t);
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
        remember_contact(ctx, ks, ev, category, case_id.clone());
        if let Some(cid) = case_id.as_deref() {
            book_case(ks, ev.kind, cid, category, t, ctx.cfg.max_cases_per_key);
        }
        let targets =
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
                kind => targets(ctx, ks, kind, category, case_id.as_deref()),
            };
        for i in targets {
            revise(ctx, &key, ks, i, t, out);
        }
        self.drop_if_empty(&key);
    }
}

/// Keeps the contact (in time order, the newest `max_contacts_per_key`).
fn remember_contact(
    ctx: &Ctx,
    ks: &mut KeyState,
    ev: &ContactEvent,
    category: Option<Sym>,
    case_id: Option<Box<str>>,
) {
    let t = ev.occurred_at_ms;
    let rec = ContactRec {
        event_id: ev.event_id.as_str().into(),
        kind: ev.kind,
        at_ms: t,
        case_id,
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
}

/// Opens, updates or closes the CRM case `cid`; keeps at most `max_cases`
/// (closed ones dropped first, oldest first).
fn book_case(
    ks: &mut KeyState,
    kind: ContactKind,
    cid: &str,
    category: Option<Sym>,
    t: i64,
    max_cases: usize,
) {
    let found = ks.crm_mut().cases.iter_mut().find(|c| &*c.id == cid);
    match (kind, found) {
        (ContactKind::CaseOpened | ContactKind::CaseUpdated, Some(c)) => {
            if kind == ContactKind::CaseOpened {
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
    while ks.crm().cases.len() > max_cases {
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

/// The open items a contact (other than `case_closed`) revises.
fn targets(
    ctx: &Ctx,
    ks: &KeyState,
    kind: ContactKind,
    category: Option<Sym>,
    case_id: Option<&str>,
) -> Vec<usize> {
    let cg = ctx.contact_group(category);
    let most_recent = || {
        ks.items
            .iter()
            .enumerate()
            .filter(|(_, it)| !ctx.exempt.contains(&it.group))
            .max_by_key(|(_, it)| (it.last_activity_ms, it.id))
            .map(|(i, _)| i)
    };
    let by_group = || -> Vec<usize> {
        match cg {
            Some(g) if !ctx.exempt.contains(&g) => ks
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.group == g)
                .map(|(i, _)| i)
                .collect(),
            Some(_) => Vec::new(),
            None => most_recent().into_iter().collect(),
        }
    };
    match kind {
        ContactKind::ComplaintForm | ContactKind::Call | ContactKind::CaseOpened => by_group(),
        ContactKind::CaseUpdated => {
            let linked: Vec<usize> = ks
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.related_case.as_deref() == case_id)
                .map(|(i, _)| i)
                .collect();
            if linked.is_empty() {
                by_group()
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
        ContactKind::AppointmentBooked | ContactKind::CaseClosed => Vec::new(),
    }
}
