use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Int32Array, ListBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{Field, Schema};
use proptest::prelude::*;

use arrow::record_batch::RecordBatch;

use super::*;
use crate::time::{format_rfc3339_ms, parse_rfc3339};

const H: i64 = 3_600_000;
const MIN: i64 = 60_000;

fn t0() -> i64 {
    parse_rfc3339("2026-11-20T10:00:00Z").unwrap()
}

/// One test mention.
#[derive(Clone, Debug)]
struct M {
    id: String,
    channel: &'static str,
    handle: Option<String>,
    customer: Option<String>,
    vulnerable: Option<bool>,
    category: &'static str,
    points: i32,
    reasons: Vec<String>,
    at: i64,
    text: String,
}

fn m(id: &str, customer: Option<&str>, category: &'static str, points: i32, at: i64) -> M {
    M {
        id: id.into(),
        channel: "twitter",
        handle: Some(format!("user_{}", customer.unwrap_or("anon"))),
        customer: customer.map(Into::into),
        vulnerable: customer.map(|_| false),
        category,
        points,
        reasons: vec![format!("points {points}")],
        at,
        text: format!("text of {id}"),
    }
}

fn batch(rows: &[M]) -> RecordBatch {
    let s = |f: &dyn Fn(&M) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let mut reasons = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for x in &r.reasons {
            reasons.values().append_value(x);
        }
        reasons.append(true);
    }
    let reasons = reasons.finish();
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("mention_id", s(&|r| Some(r.id.clone()))),
        ("channel", s(&|r| Some(r.channel.into()))),
        ("text", s(&|r| Some(r.text.clone()))),
        (
            "event_time",
            Arc::new(
                TimestampMillisecondArray::from(rows.iter().map(|r| r.at).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ),
        ("author_handle", s(&|r| r.handle.clone())),
        ("category", s(&|r| Some(r.category.into()))),
        ("customer_id", s(&|r| r.customer.clone())),
        (
            "customer_segment",
            s(&|r| r.customer.as_ref().map(|_| "consumer".into())),
        ),
        (
            "customer_vulnerable",
            Arc::new(rows.iter().map(|r| r.vulnerable).collect::<BooleanArray>()),
        ),
        (
            "identity_matched",
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.customer.is_some()))
                    .collect::<BooleanArray>(),
            ),
        ),
        (
            "identity_via",
            s(&|r| r.customer.as_ref().map(|_| "twitter:handle".into())),
        ),
        (
            "sentiment_compound",
            Arc::new(
                rows.iter()
                    .map(|r| Some(-(r.points as f32) / 100.0))
                    .collect::<Float32Array>(),
            ),
        ),
        (
            "severity_points",
            Arc::new(rows.iter().map(|r| Some(r.points)).collect::<Int32Array>()),
        ),
        ("severity_reasons", Arc::new(reasons)),
    ];
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn contact(
    id: &str,
    customer: &str,
    kind: ContactKind,
    case_id: Option<&str>,
    category: Option<&str>,
    at: i64,
) -> ContactEvent {
    ContactEvent {
        event_id: id.into(),
        customer_id: customer.into(),
        kind,
        case_id: case_id.map(Into::into),
        category: category.map(Into::into),
        occurred_at_ms: at,
        channel: Some("phone".into()),
        note: None,
    }
}

fn cfg() -> CorrelateConfig {
    CorrelateConfig {
        sweep_interval_ms: 0,
        ..Default::default()
    }
}

fn corr() -> Correlator {
    Correlator::with_defaults(cfg()).unwrap()
}

fn one(c: &mut Correlator, row: M) -> Vec<WorkItemEvent> {
    c.on_mentions(&batch(&[row])).unwrap()
}

#[test]
fn correlate_tweet_then_complaint_form_is_one_item_with_case() {
    let mut c = corr();
    let e1 = one(&mut c, m("1", Some("C1"), "broadband_fault", 30, t0()));
    assert_eq!(e1.len(), 1);
    assert_eq!(e1[0].action, Action::Created);
    assert_eq!(e1[0].revision, 1);
    assert_eq!(e1[0].related_case_id, None);
    assert_eq!(e1[0].queue, "technical-support");
    assert_eq!(e1[0].mentions[0].mention_id(), "twitter:1");
    let id = e1[0].work_item_id.clone();

    let e2 = c.on_contact(&contact(
        "F-1",
        "C1",
        ContactKind::ComplaintForm,
        None,
        Some("broadband_fault"),
        t0() + H,
    ));
    assert_eq!(e2.len(), 1);
    assert_eq!(e2[0].work_item_id, id);
    assert_eq!(e2[0].revision, 2);
    assert_eq!(e2[0].related_case_id.as_deref(), Some("F-1"));
    assert!(e2[0].priority > e1[0].priority);
    assert!(
        e2[0]
            .reasons
            .iter()
            .any(|r| r == "CRM history: complaint form 2026-11-20 11:00 (broadband_fault)"),
        "{:?}",
        e2[0].reasons
    );

    // The CRM opens a case: the item now names the real case.
    let e3 = c.on_contact(&contact(
        "E-2",
        "C1",
        ContactKind::CaseOpened,
        Some("CASE-1"),
        Some("broadband_fault"),
        t0() + 2 * H,
    ));
    assert_eq!(e3.len(), 1);
    assert_eq!(e3[0].revision, 3);
    assert_eq!(e3[0].related_case_id.as_deref(), Some("CASE-1"));
    assert!(e3[0]
        .reasons
        .iter()
        .any(|r| r.contains("case CASE-1 opened 2026-11-20 12:00 (broadband_fault)")));

    // A web form about the same fault joins the same item.
    let mut wf = m("w9", Some("C1"), "broadband_fault", 30, t0() + 3 * H);
    wf.channel = "web_form";
    let e4 = one(&mut c, wf);
    assert_eq!(e4.len(), 1);
    assert_eq!(e4[0].work_item_id, id);
    assert_eq!(e4[0].revision, 4);
    assert_eq!(e4[0].mentions.len(), 2);
    assert!(e4[0]
        .reasons
        .iter()
        .any(|r| r == "2 contacts about this across twitter, web_form in 3 h (+10)"));
    assert_eq!(c.stats().items_open, 1);
}

#[test]
fn correlate_mention_after_open_case_links_it() {
    let mut c = corr();
    assert!(c
        .on_contact(&contact(
            "E-1",
            "C1",
            ContactKind::CaseOpened,
            Some("CASE-7"),
            Some("billing"),
            t0(),
        ))
        .is_empty());
    let e = one(&mut c, m("1", Some("C1"), "billing", 20, t0() + H));
    assert_eq!(e[0].related_case_id.as_deref(), Some("CASE-7"));
    assert!(e[0]
        .reasons
        .iter()
        .any(|r| r.starts_with("open CRM case CASE-7")));
    // A fault tweet is another issue: not linked to the billing case.
    let e = one(&mut c, m("2", Some("C1"), "broadband_fault", 20, t0() + H));
    assert_eq!(e[0].related_case_id, None);
    assert_eq!(e[0].revision, 1);
}

#[test]
fn correlate_vulnerable_customer_priority_and_severity_propagate() {
    let mut c = corr();
    let mut row = m("1", Some("C9"), "broadband_fault", 80, t0());
    row.vulnerable = Some(true);
    row.reasons = vec!["vulnerable customer without service (+40)".into()];
    let e = one(&mut c, row);
    assert_eq!(e[0].severity, "P1");
    assert_eq!(e[0].priority, 80);
    assert_eq!(e[0].sla_due_at, format_rfc3339_ms(t0() + H));
    assert_eq!(e[0].reasons[0], "vulnerable customer without service (+40)");
    let cu = e[0].customer.as_ref().unwrap();
    assert_eq!(cu.customer_id, "C9");
    assert_eq!(cu.vulnerable, Some(true));
    assert_eq!(cu.segment.as_deref(), Some("consumer"));
    assert!(e[0].identity.matched);
    assert_eq!(e[0].identity.via.as_deref(), Some("twitter:handle"));
}

#[test]
fn correlate_stats_count_open_items_without_case_by_severity() {
    let mut c = corr();
    let mut row = m("1", Some("C9"), "broadband_fault", 80, t0());
    row.vulnerable = Some(true);
    assert_eq!(one(&mut c, row)[0].severity, "P1");
    assert_eq!(
        one(&mut c, m("2", Some("C1"), "billing", 30, t0()))[0].severity,
        "P3"
    );
    let s = c.stats();
    assert_eq!(s.items_open, 2);
    assert_eq!(s.items_open_without_case, [1, 0, 1, 0]);
    // The CRM takes the P1 up (a case about it): no longer counted.
    c.on_contact(&contact(
        "E-1",
        "C9",
        ContactKind::CaseOpened,
        Some("CASE-9"),
        Some("broadband_fault"),
        t0() + H,
    ));
    let s = c.stats();
    assert_eq!(s.items_open, 2);
    assert_eq!(s.items_open_without_case, [0, 0, 1, 0]);
}

#[test]
fn correlate_escalation_and_sla_shrinks() {
    // Without the folded-contact points (tested on their own below).
    let mut c = Correlator::with_defaults(CorrelateConfig {
        folded_mention_points: 0,
        ..cfg()
    })
    .unwrap();
    let e1 = one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    assert_eq!(e1[0].severity, "P3");
    let e2 = one(&mut c, m("2", Some("C1"), "billing", 60, t0() + H));
    assert_eq!(e2[0].action, Action::Escalated);
    assert_eq!(e2[0].severity, "P2");
    assert_eq!(e2[0].sla_due_at, format_rfc3339_ms(t0() + 5 * H));
    let e3 = one(&mut c, m("3", Some("C1"), "billing", 10, t0() + 2 * H));
    assert_eq!(e3[0].action, Action::Updated);
    assert_eq!(e3[0].severity, "P2");
    assert_eq!(e3[0].revision, 3);
}

#[test]
fn correlate_case_closed_then_new_tweet_is_repeat_contact() {
    let mut c = corr();
    one(&mut c, m("1", Some("C1"), "broadband_fault", 30, t0()));
    c.on_contact(&contact(
        "E-1",
        "C1",
        ContactKind::CaseOpened,
        Some("CASE-1"),
        Some("broadband_fault"),
        t0() + H,
    ));
    let closed = c.on_contact(&contact(
        "E-2",
        "C1",
        ContactKind::CaseClosed,
        Some("CASE-1"),
        None,
        t0() + 5 * H,
    ));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].action, Action::Closed);
    assert_eq!(closed[0].revision, 3);
    let old_id = closed[0].work_item_id.clone();
    assert!(closed[0]
        .reasons
        .iter()
        .any(|r| r == "closed: CRM case CASE-1 closed 2026-11-20 15:00"));

    let again = one(
        &mut c,
        m("2", Some("C1"), "broadband_fault", 40, t0() + 6 * H),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].action, Action::Created);
    assert_ne!(again[0].work_item_id, old_id);
    assert!(again[0]
        .reasons
        .iter()
        .any(|r| r.starts_with(&format!("repeat contact: previous item {old_id} closed"))));

    let mut fresh = corr();
    let base = one(
        &mut fresh,
        m("2", Some("C2"), "broadband_fault", 40, t0() + 6 * H),
    );
    assert!(again[0].priority > base[0].priority);
    assert_eq!(c.stats().closed, 1);
}

#[test]
fn correlate_quiet_period_closes_via_watermark() {
    let mut c = corr();
    let e = one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    let id = e[0].work_item_id.clone();
    // Not yet: the watermark is before last activity + 48 h.
    one(&mut c, m("2", Some("C2"), "billing", 30, t0() + 48 * H));
    assert!(c.advance().is_empty());
    one(
        &mut c,
        m("3", Some("C3"), "billing", 30, t0() + 48 * H + 6 * MIN),
    );
    let closed = c.advance();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].work_item_id, id);
    assert_eq!(closed[0].action, Action::Closed);
    assert_eq!(closed[0].revision, 2);
    assert_eq!(closed[0].updated_at, format_rfc3339_ms(t0() + 48 * H));
    assert!(closed[0]
        .reasons
        .iter()
        .any(|r| r.starts_with("closed: no activity for 48 h")));
    assert!(c.advance().is_empty());
    let s = c.stats();
    assert_eq!(s.items_open, 2);
    assert_eq!(s.closed, 1);
}

#[test]
fn correlate_out_of_order_within_bound_and_late_beyond() {
    let mut c = corr();
    one(&mut c, m("1", Some("C2"), "billing", 30, t0() + 10 * MIN));
    // 4 minutes out of order: within the 5 min bound.
    let e = one(&mut c, m("2", Some("C1"), "billing", 30, t0() + 6 * MIN));
    assert_eq!(e[0].action, Action::Created);
    assert_eq!(c.stats().late_mentions, 0);
    let c1_id = e[0].work_item_id.clone();

    // Push the watermark past C1's quiet deadline; C1's item closes.
    one(&mut c, m("3", Some("C3"), "billing", 30, t0() + 49 * H));
    let closed = c.advance();
    assert!(closed.iter().any(|e| e.work_item_id == c1_id));

    // A late mention of C1's issue: counted, processed, a new item.
    let late = one(&mut c, m("4", Some("C1"), "billing", 30, t0() + 7 * MIN));
    assert_eq!(c.stats().late_mentions, 1);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].action, Action::Created);
    assert_eq!(late[0].revision, 1);
    assert_ne!(late[0].work_item_id, c1_id);
    assert!(late[0]
        .reasons
        .iter()
        .any(|r| r.starts_with("repeat contact")));
}

#[test]
fn correlate_late_mention_within_open_item_is_processed() {
    let mut c = corr();
    one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    one(&mut c, m("2", Some("C2"), "billing", 30, t0() + 2 * H));
    let e = one(&mut c, m("0", Some("C1"), "billing", 30, t0() - 30 * MIN));
    assert_eq!(c.stats().late_mentions, 1);
    assert_eq!(e[0].revision, 2);
    assert_eq!(e[0].first_seen_at, format_rfc3339_ms(t0() - 30 * MIN));
    assert_eq!(e[0].mentions[0].mention_id(), "twitter:0");
}

#[test]
fn correlate_unidentified_author_keyed_by_handle() {
    let mut c = corr();
    let mut a = m("1", None, "billing", 30, t0());
    a.handle = Some("@Bob".into());
    let mut b = m("2", None, "billing", 30, t0() + MIN);
    b.handle = Some("bob".into());
    let mut other = m("3", None, "billing", 30, t0() + MIN);
    other.handle = Some("alice".into());
    let e = c.on_mentions(&batch(&[a, b, other])).unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].work_item_id, e[1].work_item_id);
    assert_eq!(e[1].revision, 2);
    assert_ne!(e[2].work_item_id, e[0].work_item_id);
    assert!(e[0].customer.is_none());
    assert!(!e[0].identity.matched);
    assert_eq!(e[1].mentions[0].author(), Some("@Bob"));
    assert_eq!(c.stats().keys, 2);
}

#[test]
fn correlate_praise_is_its_own_engagement_item() {
    let mut c = corr();
    let e = c
        .on_mentions(&batch(&[
            m("1", Some("C1"), "broadband_fault", 40, t0()),
            m("2", Some("C1"), "praise", 0, t0() + MIN),
        ]))
        .unwrap();
    assert_eq!(e.len(), 2);
    assert_ne!(e[0].work_item_id, e[1].work_item_id);
    assert_eq!(e[1].action, Action::Created);
    assert_eq!(e[1].queue, "social-engagement");
    assert_eq!(e[1].severity, "P4");
    // A CRM call does not pull the praise into a case.
    let r = c.on_contact(&contact("K", "C1", ContactKind::Call, None, None, t0() + H));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].work_item_id, e[0].work_item_id);
}

#[test]
fn correlate_complaint_escalation_attaches_to_open_item() {
    let mut c = corr();
    let e = c
        .on_mentions(&batch(&[
            m("1", Some("C1"), "billing", 30, t0()),
            m("2", Some("C1"), "complaint_escalation", 70, t0() + H),
            m("3", Some("C2"), "complaint_escalation", 70, t0() + H),
        ]))
        .unwrap();
    assert_eq!(e[1].work_item_id, e[0].work_item_id);
    assert_eq!(e[1].action, Action::Escalated);
    assert_eq!(e[1].category, "complaint_escalation");
    assert_eq!(e[1].queue, "complaints-escalation");
    assert_eq!(e[2].action, Action::Created);
}

#[test]
fn correlate_missed_appointment_raises_service_items() {
    let mut c = corr();
    let e1 = one(&mut c, m("1", Some("C1"), "broadband_fault", 30, t0()));
    let r = c.on_contact(&contact(
        "A-1",
        "C1",
        ContactKind::AppointmentMissed,
        None,
        None,
        t0() + H,
    ));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].priority, e1[0].priority + 15);
    assert!(r[0]
        .reasons
        .iter()
        .any(|x| x.starts_with("1 missed engineer appointment(s)")));
    // A future service item within the window gets it too.
    let mut c2 = corr();
    c2.on_contact(&contact(
        "A-1",
        "C1",
        ContactKind::AppointmentMissed,
        None,
        None,
        t0(),
    ));
    let e = one(
        &mut c2,
        m("1", Some("C1"), "network_outage", 30, t0() + 10 * H),
    );
    assert_eq!(e[0].priority, 45);
    // Not a billing item.
    let e = one(&mut c2, m("2", Some("C1"), "billing", 30, t0() + 10 * H));
    assert_eq!(e[0].priority, 30);
}

#[test]
fn correlate_duplicates_are_skipped() {
    let mut c = corr();
    one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    assert!(one(&mut c, m("1", Some("C1"), "billing", 30, t0())).is_empty());
    let k = contact("K", "C1", ContactKind::Call, None, None, t0());
    assert_eq!(c.on_contact(&k).len(), 1);
    assert!(c.on_contact(&k).is_empty());
    let s = c.stats();
    assert_eq!((s.duplicate_mentions, s.duplicate_contacts), (1, 1));
}

#[test]
fn correlate_mentions_are_capped() {
    let mut c = Correlator::with_defaults(CorrelateConfig {
        max_mentions_per_item: 3,
        ..cfg()
    })
    .unwrap();
    let mut last = Vec::new();
    for i in 0..10 {
        last = one(
            &mut c,
            m(&i.to_string(), Some("C1"), "billing", 30, t0() + i * MIN),
        );
    }
    let ids: Vec<&str> = last[0].mentions.iter().map(|m| m.mention_id()).collect();
    assert_eq!(ids, ["twitter:0", "twitter:8", "twitter:9"]);
    assert!(last[0]
        .reasons
        .iter()
        .any(|r| r == "10 contacts about this across twitter in 9 min (+30)"));
    assert_eq!(last[0].mention_count, 10);
    assert_eq!(last[0].mentions_omitted, 7);
}

/// A fixed mixed stream used by the determinism and export tests.
fn script() -> Vec<Result<M, ContactEvent>> {
    vec![
        Ok(m("1", Some("C1"), "broadband_fault", 30, t0())),
        Ok(m("2", None, "billing", 20, t0() + MIN)),
        Err(contact(
            "E1",
            "C1",
            ContactKind::CaseOpened,
            Some("CASE-1"),
            Some("broadband_fault"),
            t0() + H,
        )),
        Ok(m("3", Some("C1"), "praise", 0, t0() + 2 * H)),
        Err(contact(
            "E2",
            "C1",
            ContactKind::CaseClosed,
            Some("CASE-1"),
            None,
            t0() + 3 * H,
        )),
        Ok(m("4", Some("C1"), "broadband_fault", 50, t0() + 4 * H)),
        Ok(m("5", Some("C2"), "delivery", 20, t0() + 60 * H)),
        Ok(m("6", Some("C1"), "broadband_fault", 50, t0() + 61 * H)),
    ]
}

fn run(c: &mut Correlator, s: &[Result<M, ContactEvent>]) -> Vec<WorkItemEvent> {
    let mut out = Vec::new();
    for x in s {
        match x {
            Ok(row) => out.extend(one(c, row.clone())),
            Err(ev) => out.extend(c.on_contact(ev)),
        }
        out.extend(c.advance());
    }
    out
}

#[test]
fn correlate_same_input_same_events() {
    let a = run(&mut corr(), &script());
    let b = run(&mut corr(), &script());
    assert!(a.len() > 6);
    assert_eq!(a, b);
    let ja: Vec<String> = a.iter().map(WorkItemEvent::to_json).collect();
    let jb: Vec<String> = b.iter().map(WorkItemEvent::to_json).collect();
    assert_eq!(ja, jb);
    // Ids are pinned: FNV-1a is stable across builds and runs.
    assert_eq!(a[0].work_item_id, {
        let id = state::fnv1a64(&[b"c:C1", b"service", b"twitter:1", &0u64.to_le_bytes()]);
        format!("wi-{id:016x}")
    });
}

#[test]
fn correlate_export_import_round_trip_continues_identically() {
    let s = script();
    let (head, tail) = s.split_at(4);
    let mut a = corr();
    run(&mut a, head);
    let mut b = corr();
    for k in a.keys().map(str::to_owned).collect::<Vec<_>>() {
        b.import_key(&k, &a.export_key(&k).unwrap()).unwrap();
    }
    b.restore_max_event_time(a.max_event_time_ms().unwrap());
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.keys, sa.items_open), (sb.keys, sb.items_open));
    assert_eq!(run(&mut a, tail), run(&mut b, tail));
    assert!(b.import_key("c:X", b"{not json").is_err());
}

#[test]
fn correlate_event_json_has_spec_fields() {
    let mut c = corr();
    let e = one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    let v: serde_json::Value = serde_json::from_str(&e[0].to_json()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action",
            "category",
            "customer",
            "first_seen_at",
            "identity",
            "incident_id",
            "mention_count",
            "mention_ids",
            "mention_ids_omitted",
            "mentions",
            "mentions_omitted",
            "priority",
            "queue",
            "reasons",
            "related_case_id",
            "revision",
            "severity",
            "sla_due_at",
            "updated_at",
            "work_item_id",
        ]
    );
    assert_eq!(v["action"], "created");
    assert_eq!(v["first_seen_at"], "2026-11-20T10:00:00.000Z");
    let mention = &v["mentions"][0];
    let mut mk: Vec<&str> = mention
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    mk.sort_unstable();
    assert_eq!(
        mk,
        [
            "author",
            "channel",
            "created_at",
            "mention_id",
            "sentiment",
            "text"
        ]
    );
    assert_eq!(mention["sentiment"], serde_json::json!(-0.3));
    let back: WorkItemEvent = serde_json::from_str(&e[0].to_json()).unwrap();
    assert_eq!(back, e[0]);
    assert!(e[0].work_item_id.starts_with("wi-") && e[0].work_item_id.len() == 19);
}

#[test]
fn correlate_parse_contact() {
    let ok = parse_contact(
        br#"{"event_id":"E1","customer_id":"C1","kind":"case_opened","case_id":"CASE-1",
            "category":"billing","occurred_at":"2026-11-20T10:00:00Z","channel":"phone","note":null}"#,
    )
    .unwrap();
    assert_eq!(ok.kind, ContactKind::CaseOpened);
    assert_eq!(ok.occurred_at_ms, t0());
    assert_eq!(ok.case_id.as_deref(), Some("CASE-1"));
    assert_eq!(ok.note, None);
    let form = parse_contact(
        br#"{"event_id":"F1","customer_id":12,"kind":"complaint_form","occurred_at":"2026-11-20T10:00:00+01:00"}"#,
    )
    .unwrap();
    assert_eq!(form.customer_id, "12");
    assert_eq!(form.occurred_at_ms, t0() - H);
    let bad = |p: &[u8]| parse_contact(p).unwrap_err();
    assert_eq!(bad(b"{").reason, "invalid_json");
    assert_eq!(bad(b"[1]").reason, "invalid_json");
    assert_eq!(bad(b"\xff").reason, "invalid_utf8");
    let e = bad(br#"{"customer_id":"C1","kind":"call","occurred_at":"2026-11-20T10:00:00Z"}"#);
    assert_eq!(
        (e.reason, e.detail.as_str()),
        ("missing_field", "`event_id` is missing")
    );
    let e = bad(
        br#"{"event_id":"E","customer_id":"C1","kind":"fax","occurred_at":"2026-11-20T10:00:00Z"}"#,
    );
    assert_eq!(e.reason, "invalid_field");
    assert!(e.detail.contains("fax"));
    let e = bad(br#"{"event_id":"E","customer_id":"C1","kind":"call","occurred_at":"yesterday"}"#);
    assert_eq!(e.reason, "invalid_field");
    let e = bad(br#"{"event_id":"E","customer_id":"C1","kind":"case_closed","occurred_at":"2026-11-20T10:00:00Z"}"#);
    assert_eq!(e.reason, "missing_field");
    let e = bad(br#"{"event_id":"E","customer_id":["C1"],"kind":"call","occurred_at":"2026-11-20T10:00:00Z"}"#);
    assert_eq!(e.reason, "invalid_field");
}

#[test]
fn correlate_config_validation_names_key() {
    let e = Correlator::with_defaults(CorrelateConfig {
        quiet_period_ms: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("correlate.quiet_period_ms"));
    let toml_like: CorrelateConfig =
        serde_json::from_str(r#"{"contact_window_ms": 1000}"#).unwrap();
    assert_eq!(toml_like.quiet_period_ms, 48 * H);
    assert!(serde_json::from_str::<CorrelateConfig>(r#"{"nope": 1}"#).is_err());
}

#[test]
fn correlate_input_errors_and_defaults() {
    let mut c = corr();
    // Minimal batch: only the required columns; reasons as Utf8.
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("mention_id", Arc::new(StringArray::from(vec!["9"]))),
        ("channel", Arc::new(StringArray::from(vec!["facebook"]))),
        ("text", Arc::new(StringArray::from(vec!["hi"]))),
        (
            "event_time",
            Arc::new(TimestampMillisecondArray::from(vec![t0()]).with_timezone("UTC")),
        ),
        (
            "severity_reasons",
            Arc::new(StringArray::from(vec!["a\nb"])),
        ),
    ];
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let e = c.on_mentions(&b).unwrap();
    assert_eq!(e[0].category, "general_enquiry");
    assert_eq!(e[0].queue, "social-engagement");
    assert_eq!(e[0].reasons, ["a", "b"]);
    assert_eq!(e[0].mentions[0].author(), None);
    // Missing event_time is an input error.
    let b2 = b.project(&[0, 1, 2]).unwrap();
    assert!(c.on_mentions(&b2).is_err());
}

/// Estimated state bytes per key for `n` customers built by `add`.
fn bytes_per_key(n: usize, add: impl Fn(&mut Correlator, usize)) -> usize {
    let mut c = corr();
    for i in 0..n {
        add(&mut c, i);
    }
    let s = c.stats();
    assert_eq!(s.keys, n);
    s.approx_state_bytes / n
}

#[test]
fn correlate_state_size_for_a_million_customers() {
    const TWEET: &str = "@Telco my broadband has been down since yesterday evening and \
                         nobody has called me back. Sort it out!";
    let n = 20_000;
    // Typical active customer: one open item from one tweet, CRM context.
    let typical = bytes_per_key(n, |c, i| {
        let mut a = m(
            &format!("{i}"),
            Some(&format!("CUST{i:08}")),
            "broadband_fault",
            30,
            t0(),
        );
        a.text = TWEET.into();
        c.on_mentions(&batch(&[a])).unwrap();
    });
    // Busy customer: two mentions (tweet and web form) and a CRM call.
    let busy = bytes_per_key(n, |c, i| {
        let cid = format!("CUST{i:08}");
        let mut a = m(&format!("{i}a"), Some(&cid), "broadband_fault", 30, t0());
        a.text = TWEET.into();
        let mut b = m(
            &format!("{i}b"),
            Some(&cid),
            "broadband_fault",
            30,
            t0() + MIN,
        );
        b.text = TWEET.into();
        b.channel = "web_form";
        c.on_mentions(&batch(&[a, b])).unwrap();
        c.on_contact(&contact(
            &format!("E{i}"),
            &cid,
            ContactKind::Call,
            None,
            Some("broadband_fault"),
            t0() + 2 * MIN,
        ));
    });
    eprintln!(
        "correlate state per customer: typical ~{typical} B (~{} MB per 1M), busy ~{busy} B (~{} MB per 1M)",
        (typical * 1_000_000) >> 20,
        (busy * 1_000_000) >> 20
    );
    assert!(typical * 1_000_000 < 1 << 30, "{typical} bytes per key");
    assert!(busy * 1_000_000 < 1 << 30, "{busy} bytes per key");
}

// ---------------------------------------------------------------- proptest

#[derive(Clone, Debug)]
enum Op {
    Mention {
        who: u8,
        cat: u8,
        points: i32,
        dt_min: i64,
    },
    Contact {
        who: u8,
        kind: u8,
        case: u8,
        cat: Option<u8>,
        dt_min: i64,
    },
    Advance,
}

const CATS: [&str; 6] = [
    "broadband_fault",
    "billing",
    "praise",
    "complaint_escalation",
    "network_outage",
    "delivery",
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..5, 0u8..6, -10i32..90, -120i64..900).prop_map(|(who, cat, points, dt_min)| Op::Mention { who, cat, points, dt_min }),
        3 => (0u8..4, 0u8..7, 0u8..3, proptest::option::of(0u8..6), -120i64..900).prop_map(|(who, kind, case, cat, dt_min)| Op::Contact { who, kind, case, cat, dt_min }),
        1 => Just(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn correlate_random_streams_keep_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut c = Correlator::with_defaults(CorrelateConfig {
            quiet_period_ms: 6 * H,
            contact_window_ms: 12 * H,
            sweep_interval_ms: 0,
            ..Default::default()
        }).unwrap();
        let mut now = t0();
        let mut seq = 0u32;
        let mut events = Vec::new();
        for o in &ops {
            match *o {
                Op::Mention { who, cat, points, dt_min } => {
                    now += dt_min.max(0) * MIN / 4;
                    seq += 1;
                    // who 4 is an unidentified author.
                    let cust = (who < 4).then(|| format!("C{who}"));
                    let mut row = m(&seq.to_string(), cust.as_deref(), CATS[cat as usize], points, now + dt_min * MIN);
                    if cust.is_none() { row.handle = Some("@Anon".into()); }
                    events.extend(c.on_mentions(&batch(&[row])).unwrap());
                }
                Op::Contact { who, kind, case, cat, dt_min } => {
                    now += dt_min.max(0) * MIN / 4;
                    seq += 1;
                    let k = ContactKind::ALL[kind as usize];
                    let case_id = format!("CASE-{who}-{case}");
                    let needs_case = matches!(k, ContactKind::CaseOpened | ContactKind::CaseUpdated | ContactKind::CaseClosed);
                    let ev = contact(&format!("E{seq}"), &format!("C{who}"), k,
                        (needs_case || case == 0).then_some(case_id.as_str()),
                        cat.map(|c| CATS[c as usize]), now + dt_min * MIN);
                    events.extend(c.on_contact(&ev));
                }
                Op::Advance => events.extend(c.advance()),
            }
            c.check_invariants();
        }
        let mut last_rev: HashMap<String, u32> = HashMap::new();
        let mut closed: HashSet<String> = HashSet::new();
        for e in &events {
            prop_assert!(!closed.contains(&e.work_item_id), "revision after close: {e:?}");
            let prev = last_rev.get(&e.work_item_id).copied().unwrap_or(0);
            prop_assert_eq!(e.revision, prev + 1, "{:?}", e);
            prop_assert_eq!(e.action == Action::Created, e.revision == 1);
            prop_assert!(e.priority <= 100);
            last_rev.insert(e.work_item_id.clone(), e.revision);
            if e.action == Action::Closed { closed.insert(e.work_item_id.clone()); }
            let _ = e.to_json();
        }
        let open = last_rev.len() - closed.len();
        prop_assert_eq!(open, c.stats().items_open);
    }
}

/// `batch` plus the source columns the pipeline's parser adds.
fn batch_from(rows: &[M], partition: i32, offsets: &[i64]) -> RecordBatch {
    let b = batch(rows);
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| (**f).clone()).collect();
    let mut cols = b.columns().to_vec();
    fields.push(Field::new(
        "source_partition",
        arrow::datatypes::DataType::Int32,
        false,
    ));
    cols.push(Arc::new(Int32Array::from(vec![partition; rows.len()])));
    fields.push(Field::new(
        "source_offset",
        arrow::datatypes::DataType::Int64,
        false,
    ));
    cols.push(Arc::new(arrow::array::Int64Array::from(offsets.to_vec())));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

#[test]
fn correlate_replayed_offsets_are_skipped() {
    let mut d = corr();
    let rows = [
        m("1", Some("C1"), "billing", 30, t0()),
        m("2", Some("C1"), "billing", 30, t0() + MIN),
    ];
    d.on_mentions(&batch_from(&rows, 3, &[10, 11])).unwrap();
    // Mention 1 again from offset 10 (at-least-once redelivery, or input
    // re-read after a restore from the changelog): skipped even with a new id
    // that the item's mention list would not catch.
    let mut again = rows[0].clone();
    again.id = "1-redelivered".into();
    let replay = d.on_mentions(&batch_from(&[again], 3, &[10])).unwrap();
    assert!(replay.is_empty(), "offset 10 < 11 applied: a replay");
    // Another source partition is independent.
    let other = d
        .on_mentions(&batch_from(
            &[m("9", Some("C1"), "billing", 30, t0() + 2 * MIN)],
            4,
            &[5],
        ))
        .unwrap();
    assert_eq!(other[0].revision, 3);
    // One record (offset 6) with two mentions, in one batch: both apply;
    // the same record again in a later batch (a replay): neither does, even
    // under new ids that the item's capped mention list would not catch.
    let two = [
        m("10", Some("C1"), "billing", 30, t0() + 3 * MIN),
        m("11", Some("C1"), "billing", 30, t0() + 3 * MIN),
    ];
    let e = d.on_mentions(&batch_from(&two, 4, &[6, 6])).unwrap();
    assert_eq!(e.iter().map(|e| e.revision).collect::<Vec<_>>(), [4, 5]);
    let mut again = two.clone();
    again[0].id = "10-again".into();
    again[1].id = "11-again".into();
    assert!(d
        .on_mentions(&batch_from(&again, 4, &[6, 6]))
        .unwrap()
        .is_empty());
    assert_eq!(d.stats().duplicate_mentions, 3);
}

#[test]
fn correlate_dirty_keys_carry_state_and_tombstones() {
    let mut c = corr();
    one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    assert!(c.take_dirty().is_empty(), "not tracked unless asked");
    c.set_track_dirty(true);
    one(&mut c, m("2", Some("C1"), "billing", 30, t0() + MIN));
    one(&mut c, m("3", None, "billing", 30, t0() + MIN));
    let d = c.take_dirty();
    let keys: Vec<&str> = d.iter().map(|(k, _)| &**k).collect();
    assert_eq!(keys, ["c:C1", "h:twitter:user_anon"]);
    assert!(d.iter().all(|(_, v)| v.is_some()));
    assert!(c.take_dirty().is_empty(), "taken");
    // A restore from the dirty records gives the same state.
    let mut r = corr();
    for (k, v) in &d {
        r.import_key(k, v.as_ref().unwrap()).unwrap();
    }
    assert_eq!(r.export_key("c:C1"), c.export_key("c:C1"));
    // Quiet items close in a sweep: their keys empty out → tombstones.
    let e = one(
        &mut c,
        m("4", Some("C9"), "billing", 30, t0() + 40 * 24 * H),
    );
    assert!(e.iter().any(|e| e.action.as_str() == "created"));
    c.advance();
    let d = c.take_dirty();
    let tomb: Vec<&str> = d
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| &**k)
        .collect();
    assert_eq!(tomb, ["c:C1", "h:twitter:user_anon"]);
    assert!(d.iter().any(|(k, v)| &**k == "c:C9" && v.is_some()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The pipeline's events (JSON written straight from the state) are
    /// byte for byte serde_json's for the API's events, in the same order,
    /// whatever the strings hold (escapes, control bytes, any Unicode) in
    /// ids, handles, customer ids, texts, reasons and CRM case ids.
    #[test]
    fn correlate_rendered_events_are_serde_json_of_the_events(
        ops in proptest::collection::vec(op(), 1..60),
        words in proptest::collection::vec(super::json::tests::json_text(), 8),
        sentiments in proptest::collection::vec(super::json::tests::sentiment(), 8),
    ) {
        let config = CorrelateConfig {
            quiet_period_ms: 6 * H,
            contact_window_ms: 12 * H,
            sweep_interval_ms: 0,
            ..Default::default()
        };
        let mut api = Correlator::with_defaults(config.clone()).unwrap();
        let mut fast = Correlator::with_defaults(config).unwrap();
        let (mut events, mut rendered) = (Vec::new(), RenderedEvents::new());
        let mut now = t0();
        let mut seq = 0usize;
        let word = |i: usize| words[i % words.len()].clone();
        for o in &ops {
            seq += 1;
            match *o {
                Op::Mention { who, cat, points, dt_min } => {
                    now += dt_min.max(0) * MIN / 4;
                    let cust = (who < 4).then(|| format!("C{who}{}", word(usize::from(who))));
                    let mut row = m(&format!("{seq}{}", word(seq)), cust.as_deref(), CATS[cat as usize], points, now + dt_min * MIN);
                    row.handle = Some(word(seq + 1));
                    row.text = word(seq + 2);
                    row.reasons = vec![word(seq + 3), String::new(), word(seq + 4)];
                    let b = batch(&[row]);
                    // Any sentiment, non-finite ones included; any CRM
                    // tier, region and account status.
                    let s: Float32Array = vec![sentiments[seq % sentiments.len()]].into();
                    let i = b.schema().index_of("sentiment_compound").unwrap();
                    let mut cols = b.columns().to_vec();
                    cols[i] = Arc::new(s);
                    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| (**f).clone()).collect();
                    for (k, name) in ["customer_tier", "customer_region", "customer_account_status"].into_iter().enumerate() {
                        let v = (who < 4).then(|| word(seq + 5 + k));
                        cols.push(Arc::new(StringArray::from(vec![v])));
                        fields.push(Field::new(name, arrow::datatypes::DataType::Utf8, true));
                    }
                    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
                    events.extend(api.on_mentions(&b).unwrap());
                    fast.on_mentions_into(&b, &mut rendered).unwrap();
                }
                Op::Contact { who, kind, case, cat, dt_min } => {
                    now += dt_min.max(0) * MIN / 4;
                    let k = ContactKind::ALL[kind as usize];
                    let case_id = format!("CASE-{case}{}", word(usize::from(case)));
                    let needs_case = matches!(k, ContactKind::CaseOpened | ContactKind::CaseUpdated | ContactKind::CaseClosed);
                    let ev = contact(&format!("E{seq}"), &format!("C{who}{}", word(usize::from(who))), k,
                        (needs_case || case == 0).then_some(case_id.as_str()),
                        cat.map(|c| CATS[c as usize]), now + dt_min * MIN);
                    events.extend(api.on_contact(&ev));
                    fast.on_contact_into(&ev, &mut rendered);
                }
                Op::Advance => {
                    events.extend(api.advance());
                    fast.advance_into(&mut rendered);
                }
            }
        }
        // An incident opening on the mentions so far (every third).
        let ids: Vec<String> = (1..=seq).step_by(3).map(|i| format!("{i}{}", word(i))).collect();
        let incident = format!("INC-{}", word(0));
        events.extend(api.tag_incident(&incident, "network-operations", &ids));
        fast.tag_incident_into(&incident, "network-operations", &ids, &mut rendered);
        prop_assert_eq!(rendered.len(), events.len());
        for (r, e) in rendered.iter().zip(&events) {
            let serde = serde_json::to_vec(e).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(r.json()), String::from_utf8_lossy(&serde));
            prop_assert_eq!(&r.to_event().unwrap(), e);
            prop_assert_eq!(&r.key()[..], e.work_item_id.as_bytes());
            prop_assert_eq!(r.work_item_id(), e.work_item_id.clone());
            prop_assert_eq!(r.action(), e.action);
            prop_assert_eq!(r.queue(), e.queue.as_str());
            prop_assert_eq!(r.severity(), e.severity.as_str());
        }
    }
}

/// The operator trait drives the correlator as its verbs did: the batch
/// passes through, the events are the verbs' events, the checkpoint is the
/// changed keys plus the clock, and a restore from it gives the same state.
#[test]
fn correlate_through_the_stateful_operator_trait() {
    use crate::operator::{names, StatefulOperator, CLOCK_KEY};
    let rows = [
        m("1", Some("C1"), "billing", 30, t0()),
        m("2", None, "broadband_fault", 40, t0() + MIN),
    ];
    let mut verbs = corr();
    let mut want = Vec::new();
    verbs.on_mentions_into(&batch(&rows), &mut want).unwrap();
    verbs.advance_into(&mut want);

    let mut c = corr();
    assert_eq!(StatefulOperator::name(&c), names::CORRELATE);
    c.track_changes(true);
    let mut got: Vec<WorkItemEvent> = Vec::new();
    let b = batch(&rows);
    let out = c.process_batch(&b, &mut got).unwrap();
    assert_eq!(out, b);
    let wm = StatefulOperator::watermark(&c).unwrap();
    assert_eq!(wm, t0() + MIN - cfg().max_out_of_orderness_ms);
    c.on_watermark(wm, &mut got);
    assert_eq!(got, want);

    let changes = c.checkpoint();
    let keys: Vec<&str> = changes.iter().map(|(k, _)| &**k).collect();
    assert_eq!(keys, ["c:C1", "h:twitter:user_anon", CLOCK_KEY]);
    assert!(c.checkpoint().is_empty(), "taken");
    let mut r = corr();
    for (k, v) in &changes {
        r.restore(k, v.as_deref()).unwrap();
    }
    assert_eq!(r.max_event_time_ms(), Some(t0() + MIN));
    assert_eq!(r.export_key("c:C1"), c.export_key("c:C1"));
    r.restore("c:C1", None).unwrap();
    assert_eq!(r.export_key("c:C1"), None, "a tombstone empties the key");
}

/// A watermark handed in by the stage moves the correlator on without
/// data (an idle source): quiet items close at the same closing time as
/// when its own mentions move it; a lower watermark changes nothing.
#[test]
fn correlate_watermark_from_the_stage_closes_quiet_items() {
    use crate::operator::StatefulOperator;
    let mut c = corr();
    let e = one(&mut c, m("1", Some("C1"), "billing", 30, t0()));
    let mut out: Vec<WorkItemEvent> = Vec::new();
    c.on_watermark(t0(), &mut out);
    assert!(out.is_empty());
    assert_eq!(StatefulOperator::watermark(&c), Some(t0()));
    c.on_watermark(t0() + 48 * H + MIN, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].work_item_id, e[0].work_item_id);
    assert_eq!(out[0].action, Action::Closed);
    assert_eq!(out[0].updated_at, format_rfc3339_ms(t0() + 48 * H));
    // Never back: a late mention is late against the handed-in watermark.
    one(&mut c, m("2", Some("C2"), "billing", 30, t0() + H));
    assert_eq!(c.stats().late_mentions, 1);
    c.on_watermark(t0(), &mut out);
    assert_eq!(StatefulOperator::watermark(&c), Some(t0() + 48 * H + MIN));
}

#[test]
fn correlate_each_folded_contact_raises_priority_up_to_the_cap() {
    let mut c = corr();
    let mut seen = Vec::new();
    let mut last = Vec::new();
    for i in 0..6 {
        last = one(
            &mut c,
            m(
                &i.to_string(),
                Some("C1"),
                "broadband_fault",
                30,
                t0() + i * 40 * MIN,
            ),
        );
        assert_eq!(last.len(), 1);
        seen.push(last[0].priority);
    }
    // +10 per contact after the first, at most +30 (default config).
    assert_eq!(seen, [30, 40, 50, 60, 60, 60]);
    assert_eq!(last[0].severity, "P2");
    assert!(
        last[0]
            .reasons
            .iter()
            .any(|r| r == "6 contacts about this across twitter in 3 h (+30)"),
        "{:?}",
        last[0].reasons
    );
    // Escalated on the way: P3 → P2 at the third contact.
    assert_eq!(last[0].revision, 6);
}

#[test]
fn correlate_folded_points_follow_the_config_and_skip_praise() {
    let mut c = Correlator::with_defaults(CorrelateConfig {
        folded_mention_points: 4,
        max_folded_mention_points: 100,
        ..cfg()
    })
    .unwrap();
    let mut last = Vec::new();
    for i in 0..4 {
        last = one(
            &mut c,
            m(&i.to_string(), Some("C1"), "billing", 20, t0() + i * MIN),
        );
    }
    assert_eq!(last[0].priority, 32);
    assert!(last[0]
        .reasons
        .iter()
        .any(|r| r == "4 contacts about this across twitter in 3 min (+12)"));
    // Thanks repeated is no more urgent.
    let mut c = corr();
    for i in 0..4 {
        last = one(
            &mut c,
            m(&i.to_string(), Some("C2"), "praise", 5, t0() + i * MIN),
        );
    }
    assert_eq!(last[0].priority, 5);
    assert!(last[0]
        .reasons
        .iter()
        .any(|r| r == "4 mentions across twitter"));
    // Off: 0 points.
    let mut c = Correlator::with_defaults(CorrelateConfig {
        folded_mention_points: 0,
        ..cfg()
    })
    .unwrap();
    for i in 0..3 {
        last = one(
            &mut c,
            m(
                &i.to_string(),
                Some("C3"),
                "network_outage",
                30,
                t0() + i * MIN,
            ),
        );
    }
    assert_eq!(last[0].priority, 30);
}

#[test]
fn correlate_folded_points_config_is_validated() {
    for bad in [
        CorrelateConfig {
            folded_mention_points: -1,
            ..cfg()
        },
        CorrelateConfig {
            max_folded_mention_points: -5,
            ..cfg()
        },
        CorrelateConfig {
            folded_mention_exempt_categories: vec![" ".into()],
            ..cfg()
        },
        CorrelateConfig {
            max_mention_ids_per_item: 0,
            ..cfg()
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("correlate."), "{e}");
    }
}

/// Ten billing mentions of C1, a minute apart, into a correlator with
/// `cfg`: the correlator and the last revision.
fn ten_billing_mentions(cfg: CorrelateConfig) -> (Correlator, WorkItemEvent) {
    let mut c = Correlator::with_defaults(cfg).unwrap();
    let mut last = Vec::new();
    for i in 0..10 {
        last = one(
            &mut c,
            m(&i.to_string(), Some("C1"), "billing", 30, t0() + i * MIN),
        );
    }
    (c, last.remove(0))
}

#[test]
fn correlate_latest_revision_names_every_folded_mention_id() {
    let (mut c, e) = ten_billing_mentions(CorrelateConfig {
        max_mentions_per_item: 3,
        ..cfg()
    });
    let e = &e;
    let want: Vec<String> = (0..10).map(|i| format!("twitter:{i}")).collect();
    assert_eq!(e.mention_ids, want);
    assert_eq!((e.mention_count, e.mention_ids_omitted), (10, 0));
    assert_eq!((e.mentions.len(), e.mentions_omitted), (3, 7));
    // A re-sent mention whose text the item no longer keeps is still known.
    assert!(one(&mut c, m("4", Some("C1"), "billing", 30, t0() + 20 * MIN)).is_empty());
    assert_eq!(c.stats().duplicate_mentions, 1);
}

#[test]
fn correlate_mention_ids_past_the_cap_keep_the_first_half_and_the_newest() {
    let (_, e) = ten_billing_mentions(CorrelateConfig {
        max_mentions_per_item: 3,
        max_mention_ids_per_item: 4,
        ..cfg()
    });
    let e = &e;
    // Kept in full: 0, 8, 9; of the dropped 1–7 the first two and the
    // newest two.
    let want: Vec<String> = [0, 1, 2, 6, 7, 8, 9]
        .iter()
        .map(|i| format!("twitter:{i}"))
        .collect();
    assert_eq!(e.mention_ids, want);
    assert_eq!((e.mention_count, e.mention_ids_omitted), (10, 3));
    let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(json["mention_ids_omitted"], 3);
    assert_eq!(json["mention_count"], 10);
}
