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
//!
//! # Files
//! `correlator` (the operator's state, sweeps, export) is driven by
//! `on_mention` and `on_contact`; an item's life (`revise`, `close`,
//! `maintain`) is in `lifecycle`, what the CRM memory says about it in
//! `crm`; `state` is the per-key state (with `intern`'s symbols), `event`
//! the revisions (`work_item` the event type, `json` its writer); `input`
//! reads the enriched batch, `contacts` parses CRM contact events, `keys`
//! and `config` are the keys and settings.

mod config;
mod contacts;
mod correlator;
mod crm;
mod ctx;
mod event;
mod input;
mod intern;
mod json;
mod keys;
mod lifecycle;
mod on_contact;
mod on_mention;
mod state;
#[cfg(test)]
mod tests;
mod work_item;

pub use config::{default_queue, default_scale, default_sla, CorrelateConfig, ScaleFn, SlaFn};
pub use contacts::{parse_contact, ContactEvent, ContactKind, ContactRejection};
pub use correlator::Correlator;
pub use ctx::CorrelateStats;
pub use event::{EventOut, EventView, RenderedEvent, RenderedEvents};
pub use keys::{correlation_key, customer_key};
pub use work_item::{Action, CustomerRef, IdentityRef, MentionRef, WorkItemEvent};
