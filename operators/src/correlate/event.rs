//! The events the correlator makes. Each revision is first a borrowed view
//! of the item's state ([`EventView`]); where it goes decides what it
//! becomes: a [`WorkItemEvent`] (`Vec<WorkItemEvent>`: the API, tests and
//! observers) or its JSON record written straight from the state
//! ([`RenderedEvents`]: the pipeline's path, no event struct per revision,
//! each mention's text copied once, into the record; only the rarer reason
//! lines still format through small strings).

use std::fmt::Write as _;

use super::config::HOUR_MS;
use super::crm::history;
use super::ctx::Ctx;
use super::intern::Sym;
use super::json;
use super::state::{Item, KeyState};
use super::work_item::{
    item_id_bytes, item_id_string, Action, CustomerRef, IdentityRef, MentionRef, WorkItemEvent,
};
use crate::time::format_rfc3339_ms;

/// One revision of one work item, borrowed from the correlator's state
/// while it is made. [`EventOut`] implementations turn it into what they
/// keep.
pub struct EventView<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) key: &'a str,
    pub(super) ks: &'a KeyState,
    pub(super) item: &'a Item,
    pub(super) action: Action,
    /// Why a `closed` revision closed.
    pub(super) closing: Option<&'a str>,
}

/// Where the correlator puts the revisions it makes.
pub trait EventOut {
    /// Takes one revision.
    fn push_event(&mut self, ev: &EventView<'_>);
    /// Revisions taken so far.
    fn event_count(&self) -> usize;
    /// Orders the revisions from `start` on by (`updated_at`, `work_item_id`)
    /// (by time and id number: the same as by their strings for years
    /// 0–9999, the RFC 3339 and hex strings being of one width).
    fn sort_since(&mut self, start: usize);
}

impl EventOut for Vec<WorkItemEvent> {
    fn push_event(&mut self, ev: &EventView<'_>) {
        let e = ev.to_event();
        // Every correlator test runs through here: the JSON written
        // straight from the state must be serde_json's for the event.
        #[cfg(debug_assertions)]
        {
            let mut fast = Vec::new();
            ev.write_json(&mut fast);
            let serde = serde_json::to_vec(&e).expect("work-item events always serialise");
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&serde),
                "EventView::write_json differs from serde_json"
            );
        }
        self.push(e);
    }

    fn event_count(&self) -> usize {
        self.len()
    }

    fn sort_since(&mut self, start: usize) {
        self[start..].sort_by(|a, b| {
            (&a.updated_at, &a.work_item_id).cmp(&(&b.updated_at, &b.work_item_id))
        });
    }
}

/// `72 h`, or `90 min` for a duration that is not whole hours.
pub(super) fn hours(ms: i64) -> String {
    if ms % HOUR_MS == 0 {
        format!("{} h", ms / HOUR_MS)
    } else {
        format!("{} min", ms / 60_000)
    }
}

/// Calls `f` with the line `args` formats, made in `scratch`.
fn line(scratch: &mut String, f: &mut dyn FnMut(&str), args: std::fmt::Arguments<'_>) {
    scratch.clear();
    scratch
        .write_fmt(args)
        .expect("writing to a String cannot fail");
    f(scratch);
}

impl EventView<'_> {
    /// Calls `f` with each line of `reasons`, in order. `scratch` holds the
    /// lines formatted here, one at a time.
    fn reasons(&self, scratch: &mut String, f: &mut dyn FnMut(&str)) {
        let (ctx, item) = (self.ctx, self.item);
        let c = &ctx.cfg;
        for r in item.lead_reasons.split('\n').filter(|r| !r.is_empty()) {
            f(r);
        }
        if let Some((id, at)) = item.repeat_of {
            line(
                scratch,
                f,
                format_args!(
                    "repeat contact: previous item {} closed {} (+{})",
                    item_id_string(id),
                    format_rfc3339_ms(at),
                    c.repeat_contact_points
                ),
            );
        }
        if item.open_case {
            line(
                scratch,
                f,
                format_args!(
                    "open CRM case {} (+{})",
                    item.related_case.as_deref().unwrap_or("?"),
                    c.open_case_points
                ),
            );
        }
        if item.recent_contact {
            line(
                scratch,
                f,
                format_args!(
                    "customer already sent a complaint form or called within {} (+{})",
                    hours(c.contact_window_ms),
                    c.recent_contact_points
                ),
            );
        }
        if item.missed_appointments > 0 {
            line(
                scratch,
                f,
                format_args!(
                    "{} missed engineer appointment(s) within {} (+{})",
                    item.missed_appointments,
                    hours(c.contact_window_ms),
                    i32::from(item.missed_appointments).saturating_mul(c.missed_appointment_points)
                ),
            );
        }
        if let Some(h) = history(ctx, self.ks, item) {
            f(&h);
        }
        if item.mention_count > 1 {
            let mut chans: Vec<&str> = item.mentions.iter().map(|m| m.channel.as_str()).collect();
            chans.sort_unstable();
            chans.dedup();
            let (n, chans) = (item.mention_count, Joined(&chans));
            match ctx.folded_points(item) {
                0 => line(scratch, f, format_args!("{n} mentions across {chans}")),
                p => line(
                    scratch,
                    f,
                    format_args!(
                        "{n} contacts about this across {chans} in {} (+{p})",
                        Span(
                            item.mentions
                                .last()
                                .map_or(0, |m| m.at_ms.saturating_sub(item.first_seen_ms))
                        )
                    ),
                ),
            }
        }
        if let Some(inc) = &item.incident {
            line(scratch, f, format_args!("part of outage incident {inc}"));
        }
        if let Some(why) = self.closing {
            f(why);
        }
    }

    /// The customer id of an identified key (`c:<id>`).
    fn customer_id(&self) -> &str {
        self.key.strip_prefix("c:").unwrap_or(self.key)
    }

    /// The revision as a [`WorkItemEvent`] (its own copy of everything).
    pub fn to_event(&self) -> WorkItemEvent {
        let item = self.item;
        let mut reasons = Vec::new();
        self.reasons(&mut String::new(), &mut |r| reasons.push(r.to_owned()));
        let sym = |s: Option<Sym>| s.map(|s| s.as_str().to_owned());
        let customer = self.ks.customer.as_deref().map(|cu| CustomerRef {
            customer_id: self.customer_id().to_owned(),
            segment: sym(cu.segment),
            tier: sym(cu.tier),
            region: sym(cu.region),
            vulnerable: cu.vulnerable,
            account_status: sym(cu.account_status),
        });
        WorkItemEvent {
            work_item_id: item_id_string(item.id),
            revision: item.revision,
            action: self.action,
            queue: item.queue.as_str().to_owned(),
            category: item.category.as_str().to_owned(),
            severity: item.severity.as_str().to_owned(),
            priority: item.priority,
            reasons,
            sla_due_at: format_rfc3339_ms(item.sla_due_ms),
            customer,
            identity: IdentityRef {
                matched: item.identity.matched,
                via: sym(item.identity.via),
                snapshot: sym(item.identity.snapshot),
            },
            related_case_id: item.related_case.as_deref().map(str::to_owned),
            incident_id: item.incident.as_deref().map(str::to_owned),
            mention_count: item.mention_count,
            mention_ids: {
                let mut ids = Vec::new();
                item.for_each_id(self.ctx.cfg.max_mentions_per_item, &mut |id| {
                    ids.push(id.to_owned())
                });
                ids
            },
            mention_ids_omitted: ids_omitted(item),
            mentions: item.mentions.iter().map(MentionRef::from_rec).collect(),
            mentions_omitted: mentions_omitted(item),
            first_seen_at: format_rfc3339_ms(item.first_seen_ms),
            updated_at: format_rfc3339_ms(item.last_activity_ms),
        }
    }

    /// Appends the revision's JSON record to `out`: byte for byte what
    /// `serde_json` writes for [`to_event`](Self::to_event), written from
    /// the state without making the event (checked on every event in
    /// debug builds, so by every correlator test).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_with(out, &mut Scratch::default());
    }

    fn write_json_with(&self, out: &mut Vec<u8>, scratch: &mut Scratch) {
        let days = &mut scratch.days;
        let item = self.item;
        out.extend_from_slice(b"{\"work_item_id\":\"");
        out.extend_from_slice(&item_id_bytes(item.id));
        out.extend_from_slice(b"\",\"revision\":");
        json::uint(out, u64::from(item.revision));
        out.extend_from_slice(b",\"action\":\"");
        out.extend_from_slice(self.action.as_str().as_bytes());
        out.extend_from_slice(b"\",\"queue\":");
        json::string(out, item.queue.as_str());
        out.extend_from_slice(b",\"category\":");
        json::string(out, item.category.as_str());
        out.extend_from_slice(b",\"severity\":");
        json::string(out, item.severity.as_str());
        out.extend_from_slice(b",\"priority\":");
        json::uint(out, u64::from(item.priority));
        out.extend_from_slice(b",\"reasons\":[");
        let mut first = true;
        self.reasons(&mut scratch.line, &mut |r| {
            if !first {
                out.push(b',');
            }
            first = false;
            json::string(out, r);
        });
        out.extend_from_slice(b"],\"sla_due_at\":");
        json::time_cached(out, item.sla_due_ms, days);
        out.extend_from_slice(b",\"customer\":");
        let sym = |s: Option<Sym>| s.map(Sym::as_str);
        match self.ks.customer.as_deref() {
            None => out.extend_from_slice(b"null"),
            Some(c) => {
                out.extend_from_slice(b"{\"customer_id\":");
                json::string(out, self.customer_id());
                out.extend_from_slice(b",\"segment\":");
                json::opt_string(out, sym(c.segment));
                out.extend_from_slice(b",\"tier\":");
                json::opt_string(out, sym(c.tier));
                out.extend_from_slice(b",\"region\":");
                json::opt_string(out, sym(c.region));
                out.extend_from_slice(b",\"vulnerable\":");
                json::opt_bool(out, c.vulnerable);
                out.extend_from_slice(b",\"account_status\":");
                json::opt_string(out, sym(c.account_status));
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"identity\":{\"matched\":");
        json::opt_bool(out, Some(item.identity.matched));
        out.extend_from_slice(b",\"via\":");
        json::opt_string(out, sym(item.identity.via));
        out.extend_from_slice(b",\"snapshot\":");
        json::opt_string(out, sym(item.identity.snapshot));
        out.extend_from_slice(b"},\"related_case_id\":");
        json::opt_string(out, item.related_case.as_deref());
        out.extend_from_slice(b",\"incident_id\":");
        json::opt_string(out, item.incident.as_deref());
        out.extend_from_slice(b",\"mention_count\":");
        json::uint(out, u64::from(item.mention_count));
        out.extend_from_slice(b",\"mention_ids\":[");
        let mut first = true;
        item.for_each_id(self.ctx.cfg.max_mentions_per_item, &mut |id| {
            if !first {
                out.push(b',');
            }
            first = false;
            json::string(out, id);
        });
        out.extend_from_slice(b"],\"mention_ids_omitted\":");
        json::uint(out, u64::from(ids_omitted(item)));
        out.extend_from_slice(b",\"mentions\":[");
        for (i, m) in item.mentions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"mention_id\":");
            json::string(out, m.uid());
            out.extend_from_slice(b",\"channel\":");
            json::string(out, m.channel.as_str());
            out.extend_from_slice(b",\"author\":");
            json::opt_string(out, m.author());
            out.extend_from_slice(b",\"text\":");
            json::string(out, m.text());
            out.extend_from_slice(b",\"created_at\":");
            json::time_cached(out, m.at_ms, days);
            out.extend_from_slice(b",\"sentiment\":");
            json::opt_f32(out, m.sentiment());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"mentions_omitted\":");
        json::uint(out, u64::from(mentions_omitted(item)));
        out.extend_from_slice(b",\"first_seen_at\":");
        json::time_cached(out, item.first_seen_ms, days);
        out.extend_from_slice(b",\"updated_at\":");
        json::time_cached(out, item.last_activity_ms, days);
        out.push(b'}');
    }
}

/// Folded mentions whose id the item no longer names.
fn ids_omitted(item: &Item) -> u32 {
    let named = item.mentions.len() + item.dropped_ids().len();
    item.mention_count
        .saturating_sub(u32::try_from(named).unwrap_or(u32::MAX))
}

/// Folded mentions not kept in full (`mentions`).
fn mentions_omitted(item: &Item) -> u32 {
    item.mention_count
        .saturating_sub(u32::try_from(item.mentions.len()).unwrap_or(u32::MAX))
}

/// A span of event time for a reason line: `12 min`, `2 h`, `3 days`
/// (rounded down; `under a minute` below one).
struct Span(i64);

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let min = self.0 / 60_000;
        match min {
            ..1 => f.write_str("under a minute"),
            1..120 => write!(f, "{min} min"),
            120..2880 => write!(f, "{} h", min / 60),
            _ => write!(f, "{} days", min / 1440),
        }
    }
}

/// `a, b, c`.
struct Joined<'a>(&'a [&'a str]);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

/// Revisions as their JSON records, one buffer for all of them (the
/// pipeline's [`EventOut`]: what the `work-items` sink sends, and the few
/// fields its metrics count by).
#[derive(Debug, Default)]
pub struct RenderedEvents {
    json: Vec<u8>,
    index: Vec<Meta>,
    scratch: Scratch,
}

/// What writing a record reuses: the reason line being made, the date of
/// the last day written.
#[derive(Debug, Default)]
struct Scratch {
    line: String,
    days: json::DayCache,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    start: usize,
    end: usize,
    id: u64,
    updated_ms: i64,
    action: Action,
    queue: Sym,
    severity: Sym,
}

/// The largest buffers [`RenderedEvents::into_spare`] keeps (bytes): 8,192
/// events of the bench's average size (about 1 KB, growing as items list
/// more mentions) are 8–10 MB, and when an envelope needs more than the
/// kept buffer holds, growing doubles it, to 16–20 MB. A 16 MiB bound let
/// go of that buffer, so that every later envelope grew a new one from
/// empty (growing it was about 7 % of the operator thread, counting the
/// page faults of the copies). 64 MiB keeps a full envelope's buffer; each
/// operator thread (the pipeline's, each keyed worker's) keeps one.
const MAX_SPARE_BYTES: usize = 64 << 20;

/// One rendered revision.
#[derive(Debug, Clone, Copy)]
pub struct RenderedEvent<'a> {
    json: &'a [u8],
    meta: &'a Meta,
}

impl RenderedEvents {
    /// No events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No events held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The events, in the order they were made (and sorted).
    pub fn iter(&self) -> impl Iterator<Item = RenderedEvent<'_>> + '_ {
        self.index.iter().map(|meta| RenderedEvent {
            json: &self.json[meta.start..meta.end],
            meta,
        })
    }

    /// Forgets the events, keeping the buffers.
    pub fn clear(&mut self) {
        self.json.clear();
        self.index.clear();
    }

    /// Emptied, to hold the next batch's events in the same buffers; buffers
    /// grown over 64 MiB (a sweep that closed many items at once) are let
    /// go instead of being held for good.
    pub fn into_spare(mut self) -> Self {
        let bytes = self.json.capacity() + self.index.capacity() * std::mem::size_of::<Meta>();
        if bytes > MAX_SPARE_BYTES {
            return Self::default();
        }
        self.clear();
        self
    }
}

impl EventOut for RenderedEvents {
    fn push_event(&mut self, ev: &EventView<'_>) {
        let start = self.json.len();
        ev.write_json_with(&mut self.json, &mut self.scratch);
        let item = ev.item;
        self.index.push(Meta {
            start,
            end: self.json.len(),
            id: item.id,
            updated_ms: item.last_activity_ms,
            action: ev.action,
            queue: item.queue,
            severity: item.severity,
        });
    }

    fn event_count(&self) -> usize {
        self.index.len()
    }

    fn sort_since(&mut self, start: usize) {
        self.index[start..].sort_by_key(|m| (m.updated_ms, m.id));
    }
}

impl<'a> RenderedEvent<'a> {
    /// The JSON record (SPEC "Work-item events").
    pub fn json(&self) -> &'a [u8] {
        self.json
    }

    /// `work_item_id`: `wi-` + 16 lower-case hex digits.
    pub fn work_item_id(&self) -> String {
        item_id_string(self.meta.id)
    }

    /// `work_item_id`'s bytes, for a record key.
    pub fn key(&self) -> [u8; 19] {
        item_id_bytes(self.meta.id)
    }

    /// What this revision did.
    pub fn action(&self) -> Action {
        self.meta.action
    }

    /// The queue.
    pub fn queue(&self) -> &'static str {
        self.meta.queue.as_str()
    }

    /// `P1` … `P4`.
    pub fn severity(&self) -> &'static str {
        self.meta.severity.as_str()
    }

    /// The event, read back from its record. Fails only for a mention
    /// time outside years 0–9999, which the record holds but
    /// [`MentionRef`] does not read.
    pub fn to_event(&self) -> serde_json::Result<WorkItemEvent> {
        serde_json::from_slice(self.json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_keeps_buffers_up_to_the_bound_emptied() {
        let mut small = RenderedEvents::new();
        small.json.extend_from_slice(b"{}");
        small.json.reserve(1 << 20);
        let cap = small.json.capacity();
        let small = small.into_spare();
        assert!(small.json.is_empty());
        assert_eq!(small.json.capacity(), cap);

        let big = RenderedEvents {
            json: Vec::with_capacity(MAX_SPARE_BYTES + 1),
            ..RenderedEvents::default()
        };
        assert_eq!(big.into_spare().json.capacity(), 0);
    }

    /// The buffers of a full envelope are kept: 8,192 events of 1.1 KB
    /// each, in a buffer kept from an envelope of 8.5 MB, which doubles it.
    #[test]
    fn spare_keeps_a_full_envelope() {
        let mut ev = RenderedEvents {
            json: Vec::with_capacity(8_500_000),
            ..RenderedEvents::default()
        };
        let record = [b'x'; 1100];
        for i in 0..8192 {
            let start = ev.json.len();
            ev.json.extend_from_slice(&record);
            ev.index.push(Meta {
                start,
                end: ev.json.len(),
                id: i,
                updated_ms: 0,
                action: Action::Updated,
                queue: Sym::new("q"),
                severity: Sym::new("P4"),
            });
        }
        let (json_cap, index_cap) = (ev.json.capacity(), ev.index.capacity());
        assert!(json_cap >= 17_000_000);
        let ev = ev.into_spare();
        assert!(ev.is_empty() && ev.json.is_empty());
        assert_eq!(
            (ev.json.capacity(), ev.index.capacity()),
            (json_cap, index_cap)
        );
    }
}
