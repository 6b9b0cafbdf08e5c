//! What a mention does: it is skipped as a replay or duplicate, else it
//! joins its key's open item of its group (or the most recent one, for the
//! attaching categories) or opens a new item, and the item is revised.

use arrow::record_batch::RecordBatch;

use super::config::{default_queue, CorrelateConfig};
use super::correlator::Correlator;
use super::ctx::Ctx;
use super::event::EventOut;
use super::input::{Cols, Row};
use super::intern::Sym;
use super::keys::correlation_key;
use super::lifecycle::{maintain, revise};
use super::state::{
    fnv1a64, insert_tight, push_tight, truncate, Customer, Identity, Item, KeyState, MentionRec,
};
use super::work_item::WorkItemEvent;
use crate::error::Result;

/// (key, source partition, offset) applied by one call: the other mentions
/// of one record (a Facebook webhook) share its offset.
type Applied = Vec<(String, i32, i64)>;

/// What a mention brings to the item it joins or opens.
struct Incoming {
    category: Sym,
    group: Sym,
    queue: Sym,
    identity: Identity,
    rec: MentionRec,
}

impl Correlator {
    /// Processes a batch of enriched mentions in row order; returns the
    /// `created`/`updated`/`escalated` events (and `closed` events of the
    /// rows' keys that went quiet first).
    pub fn on_mentions(&mut self, batch: &RecordBatch) -> Result<Vec<WorkItemEvent>> {
        let mut out = Vec::with_capacity(batch.num_rows());
        self.on_mentions_into(batch, &mut out)?;
        Ok(out)
    }

    /// [`on_mentions`](Self::on_mentions), the events put into `out`.
    pub(crate) fn on_mentions_into(
        &mut self,
        batch: &RecordBatch,
        out: &mut dyn EventOut,
    ) -> Result<()> {
        let cols = Cols::new(batch)?;
        let mut this_call: Applied = Vec::new();
        for i in 0..batch.num_rows() {
            let row = cols.row(i)?;
            self.on_row(&row, out, &mut this_call);
        }
        Ok(())
    }

    fn on_row(&mut self, row: &Row<'_>, out: &mut dyn EventOut, this_call: &mut Applied) {
        self.ctx.stats.mentions += 1;
        if self.clock.observe(row.at_ms) {
            self.ctx.stats.late_mentions += 1;
        }
        let wm = self.clock.watermark().unwrap_or(row.at_ms);
        let key = row_key(row);
        self.dirty_key(&key);
        let t = row.at_ms;
        let uid = [row.channel, ":", row.mention_id].concat();
        // Split borrow: the key's state and the context.
        let ctx = &mut self.ctx;
        let ks = self.keys.entry_ref(key.as_str()).or_default();
        maintain(ctx, &key, ks, wm, out);
        if is_replay(ks, &key, row.source, this_call) || holds(ks, &uid) {
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
            remember_customer(ks, row);
        }
        let m = incoming(ctx, row, &uid);
        let i = match target_item(ctx, ks, m.category, m.group) {
            Some(i) => {
                join(&mut ks.items[i], row, m, &ctx.cfg);
                i
            }
            None => {
                open(ctx, &key, ks, row, &uid, m);
                ks.items.len() - 1
            }
        };
        revise(ctx, &key, ks, i, t, out);
    }
}

fn row_key(row: &Row<'_>) -> String {
    correlation_key(
        row.customer_id,
        row.channel,
        row.handle,
        row.author_id,
        row.mention_id,
    )
}

/// Offsets grow per source partition, and all of a key's mentions from one
/// partition arrive in order, a record's mentions in one batch: an offset
/// below the highest applied one, or equal to it but applied by an earlier
/// call, is a replay.
#[inline]
fn is_replay(ks: &KeyState, key: &str, source: Option<(i32, i64)>, this_call: &Applied) -> bool {
    let Some((p, o)) = source else {
        return false;
    };
    ks.applied.iter().any(|&(ap, ao)| {
        ap == p
            && (o < ao
                || (o == ao
                    && !this_call
                        .iter()
                        .any(|(k, tp, to)| *k == key && *tp == p && *to == o)))
    })
}

/// An open item of the key already holds the mention (`channel:id`), in
/// its kept mentions or its named ids.
#[inline]
fn holds(ks: &KeyState, uid: &str) -> bool {
    ks.items.iter().any(|it| {
        it.mentions.iter().any(|m| m.uid_is(uid)) || it.dropped_ids().iter().any(|id| &**id == uid)
    })
}

/// Keeps the id of a mention the item no longer keeps in full: past `max`
/// ids, the one in the middle goes (the first half and the newest stay).
fn name_dropped(it: &mut Item, uid: &str, max: usize) {
    let ids = it.dropped.get_or_insert_with(Box::default);
    push_tight(ids, uid.into());
    if ids.len() > max {
        ids.remove(max / 2);
    }
}

/// Keeps the key's CRM context from the newest mention that carries it.
fn remember_customer(ks: &mut KeyState, row: &Row<'_>) {
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

fn incoming(ctx: &Ctx, row: &Row<'_>, uid: &str) -> Incoming {
    Incoming {
        category: Sym::new(row.category),
        group: ctx.group_of(row.category),
        queue: Sym::new(
            row.queue.unwrap_or_else(|| {
                default_queue(row.category, row.segment, row.incident.is_some())
            }),
        ),
        identity: Identity {
            matched: row.matched,
            via: row.via.map(Sym::new),
            snapshot: row.snapshot.map(Sym::new),
        },
        rec: MentionRec::new(
            uid,
            Sym::new(row.channel),
            row.handle.or(row.author_id),
            truncate(row.text, ctx.cfg.max_mention_text_bytes),
            row.at_ms,
            row.sentiment,
        ),
    }
}

/// The item the mention joins: for an attaching category the key's most
/// recently active item, else (or when there is none) its group's.
fn target_item(ctx: &Ctx, ks: &KeyState, category: Sym, group: Sym) -> Option<usize> {
    if ctx.attach.contains(&category) {
        ks.items
            .iter()
            .enumerate()
            .max_by_key(|(_, it)| (it.last_activity_ms, it.id))
            .map(|(i, _)| i)
    } else {
        None
    }
    .or_else(|| ks.items.iter().position(|it| it.group == group))
}

/// Adds the mention to an open item (kept in time order, the earliest and
/// the newest kept); a more severe mention becomes the lead.
fn join(it: &mut Item, row: &Row<'_>, m: Incoming, cfg: &CorrelateConfig) {
    let (t, max_mentions) = (row.at_ms, cfg.max_mentions_per_item);
    let pos = it
        .mentions
        .partition_point(|x| (x.at_ms, x.uid()) < (t, m.rec.uid()));
    insert_tight(&mut it.mentions, pos, m.rec);
    if it.mentions.len() > max_mentions {
        let drop = if max_mentions >= 2 { 1 } else { 0 };
        let gone = it.mentions.remove(drop);
        name_dropped(it, gone.uid(), cfg.max_mention_ids_per_item);
    }
    it.mention_count = it.mention_count.saturating_add(1);
    if row.points > it.base_points {
        it.base_points = row.points;
        it.lead_reasons = row.reasons.join("\n").into();
        it.category = m.category;
        // An item of an incident keeps the incident's queue: a sharper
        // mention of the same issue outside it (no region known, say) does
        // not send it back to technical support.
        if it.incident.is_none() || row.incident.is_some() {
            it.queue = m.queue;
        }
    }
    if it.incident.is_none() && row.incident.is_some() {
        // The item joins the incident, and its queue with it (the mention's
        // routed queue: network operations by default).
        it.incident = row.incident.map(Into::into);
        it.queue = m.queue;
    }
    it.identity = m.identity;
    it.first_seen_ms = it.first_seen_ms.min(t);
}

/// Opens a new item of the mention's group (a repeat contact when the
/// group's previous item closed within the contact window).
fn open(ctx: &Ctx, key: &str, ks: &mut KeyState, row: &Row<'_>, uid: &str, m: Incoming) {
    let t = row.at_ms;
    let pred = ks.crm().closed.iter().find(|c| c.group == m.group).copied();
    let pred_id = pred.map_or(0u64, |p| p.id).to_le_bytes();
    let id = fnv1a64(&[
        key.as_bytes(),
        m.group.as_str().as_bytes(),
        uid.as_bytes(),
        &pred_id,
    ]);
    let lo = t.saturating_sub(ctx.cfg.contact_window_ms);
    push_tight(
        &mut ks.items,
        Item {
            id,
            group: m.group,
            revision: 0,
            category: m.category,
            queue: m.queue,
            base_points: row.points,
            lead_reasons: row.reasons.join("\n").into(),
            severity: Sym::new("P4"),
            priority: 0,
            sla_due_ms: 0,
            identity: m.identity,
            related_case: None,
            related_is_case: false,
            incident: row.incident.map(Into::into),
            repeat_of: pred
                .filter(|p| p.closed_ms >= lo)
                .map(|p| (p.id, p.closed_ms)),
            open_case: false,
            recent_contact: false,
            missed_appointments: 0,
            mentions: vec![m.rec],
            mention_count: 1,
            dropped: None,
            first_seen_ms: t,
            last_activity_ms: t,
        },
    );
}
