//! Work-item scenarios, each in the spirit of what customers complain about,
//! run through `switchboard process` (the same operators as the stream, on
//! files, deterministic): correlation with CRM contacts, severity, routing,
//! incidents, repeat contacts, out-of-order and late events.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use switchboard::cli::process::{process_files, ProcessArgs, ProcessSummary};
use switchboard::config::Config;

const DAY: &str = "2026-11-20";

/// Customers: C1 vulnerable consumer in the north east, C2 wholesale,
/// C3–C6 ordinary consumers, N000–N199 consumers in the north east (the
/// outage), B00–B59 consumers in London (background traffic).
fn write_crm(root: &Path) {
    let v = root.join("2026-11-01T00-00-00Z");
    std::fs::create_dir_all(&v).unwrap();
    let mut c = String::from(
        "customer_id,name,segment,tier,region,postcode_district,products,vulnerable,account_status\n",
    );
    let mut i = String::from("customer_id,kind,value\n");
    let mut add = |id: &str, seg: &str, tier: &str, region: &str, vuln: bool, handle: &str| {
        c.push_str(&format!(
            "{id},Name {id},{seg},{tier},{region},X1,[broadband],{vuln},active\n"
        ));
        i.push_str(&format!("{id},twitter,@{handle}\n"));
    };
    add("C1", "consumer", "standard", "north_east", true, "vera_v");
    add("C2", "wholesale", "premier", "london", false, "netco_ops");
    add("C3", "consumer", "standard", "london", false, "tom_t");
    add("C4", "consumer", "plus", "wales", false, "happy_h");
    add("C5", "consumer", "standard", "scotland", false, "repeat_r");
    add("C6", "consumer", "standard", "scotland", false, "fresh_f");
    add("C7", "consumer", "standard", "wales", false, "late_l");
    for n in 0..200 {
        add(
            &format!("N{n:03}"),
            "consumer",
            "standard",
            "north_east",
            false,
            &format!("ne_{n}"),
        );
    }
    for n in 0..60 {
        add(
            &format!("B{n:02}"),
            "consumer",
            "standard",
            "london",
            false,
            &format!("bg_{n}"),
        );
    }
    std::fs::write(v.join("customers.csv"), c).unwrap();
    std::fs::write(v.join("identities.csv"), i).unwrap();
}

fn tweet(id: &str, handle: &str, at: &str, text: &str) -> String {
    serde_json::json!({
        "id": id, "channel": "twitter", "created_at": at,
        "author": {"handle": format!("@{handle}"), "followers": 150},
        "text": text, "lang": "en"
    })
    .to_string()
}

fn contact(
    id: &str,
    customer: &str,
    kind: &str,
    case: Option<&str>,
    cat: &str,
    at: &str,
) -> String {
    serde_json::json!({
        "event_id": id, "customer_id": customer, "kind": kind, "case_id": case,
        "category": cat, "occurred_at": at, "channel": "phone", "note": "logged by agent"
    })
    .to_string()
}

fn t(hh_mm_ss: &str) -> String {
    format!("{DAY}T{hh_mm_ss}Z")
}

struct Run {
    events: Vec<Value>,
    incidents: Vec<Value>,
    summary: ProcessSummary,
    out_bytes: Vec<u8>,
}

fn run(dir: &Path, mentions: &[String], contacts: &[String], name: &str) -> Run {
    run_with(&Config::default(), dir, mentions, contacts, name)
}

fn run_with(
    config: &Config,
    dir: &Path,
    mentions: &[String],
    contacts: &[String],
    name: &str,
) -> Run {
    let crm = dir.join("crm");
    if !crm.exists() {
        write_crm(&crm);
    }
    let m = dir.join(format!("{name}-mentions.jsonl"));
    std::fs::write(&m, mentions.join("\n") + "\n").unwrap();
    let c = dir.join(format!("{name}-contacts.jsonl"));
    std::fs::write(&c, contacts.join("\n") + "\n").unwrap();
    let out = dir.join(format!("{name}-out.jsonl"));
    let args = ProcessArgs {
        now: None,
        mentions: m,
        crm,
        contacts: Some(c),
        config: None,
        out: out.clone(),
        incidents: None,
        dlq: None,
        fixed_incident_windows: false,
    };
    let summary = process_files(config, &args).expect("process");
    let read = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut inc = out.as_os_str().to_owned();
    inc.push(".incidents.jsonl");
    Run {
        events: read(&out),
        incidents: read(Path::new(&inc)),
        summary,
        out_bytes: std::fs::read(&out).unwrap(),
    }
}

/// Events of the items holding a mention id (`twitter:<id>`).
fn items_with(events: &[Value], mention: &str) -> BTreeMap<String, Vec<Value>> {
    let ids: Vec<String> = events
        .iter()
        .filter(|e| {
            e["mentions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["mention_id"] == mention)
        })
        .map(|e| e["work_item_id"].as_str().unwrap().to_string())
        .collect();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        let id = e["work_item_id"].as_str().unwrap();
        if ids.iter().any(|x| x == id) {
            out.entry(id.to_string()).or_default().push(e.clone());
        }
    }
    out
}

fn latest(revs: &[Value]) -> &Value {
    revs.iter()
        .max_by_key(|e| e["revision"].as_u64().unwrap())
        .unwrap()
}

fn reasons(e: &Value) -> String {
    e["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_tweet_and_a_complaint_form_about_the_same_fault_are_one_item() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[tweet(
            "1001",
            "tom_t",
            &t("10:00:00"),
            "@AlbionHelp my broadband keeps dropping every evening, really fed up",
        )],
        &[contact(
            "EV-1",
            "C3",
            "complaint_form",
            None,
            "broadband_fault",
            &t("10:30:00"),
        )],
        "case",
    );
    let items = items_with(&r.events, "twitter:1001");
    assert_eq!(items.len(), 1, "{:#?}", r.events);
    let revs = items.values().next().unwrap();
    assert_eq!(revs.len(), 2, "{revs:#?}");
    let rev2 = latest(revs);
    assert_eq!(rev2["revision"], 2);
    assert_eq!(rev2["related_case_id"], "EV-1", "{rev2:#}");
    assert!(
        reasons(rev2).contains("complaint form"),
        "the case history is in the reasons: {}",
        reasons(rev2)
    );
    assert_eq!(rev2["customer"]["customer_id"], "C3");
}

#[test]
fn a_mention_delivered_twice_is_on_its_item_once_and_counted_as_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let first = tweet(
        "1501",
        "tom_t",
        &t("10:00:00"),
        "@AlbionHelp my broadband keeps dropping every evening, really fed up",
    );
    let second = tweet(
        "1502",
        "tom_t",
        &t("10:05:00"),
        "@AlbionHelp my broadband is still dropping, third time tonight",
    );
    // The first tweet again (a redelivery, a retried API poll), after another one.
    let r = run(
        dir.path(),
        &[first.clone(), second, first],
        &[],
        "duplicate",
    );
    assert_eq!(r.summary.mentions, 3);
    assert_eq!(r.summary.correlated, 3, "{:?}", r.summary);
    assert_eq!(r.summary.duplicates, 1, "{:?}", r.summary);
    let items = items_with(&r.events, "twitter:1501");
    assert_eq!(items.len(), 1, "{:#?}", r.events);
    let last = latest(items.values().next().unwrap());
    let ids: Vec<&str> = last["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mention_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ids.iter().filter(|m| m.ends_with("1501")).count(),
        1,
        "{last:#}"
    );
    assert_eq!(ids.len(), 2, "{last:#}");
}

#[test]
fn a_vulnerable_customer_three_days_without_broadband_is_p1_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[tweet(
            "2001",
            "vera_v",
            &t("09:00:00"),
            "@AlbionHelp my broadband has been down for 3 days and nobody is helping, I'm disabled and rely on it",
        )],
        &[],
        "vulnerable",
    );
    let items = items_with(&r.events, "twitter:2001");
    let e = latest(items.values().next().unwrap());
    assert_eq!(e["severity"], "P1", "{e:#}");
    let why = reasons(e);
    assert!(why.contains("vulnerable"), "{why}");
    assert!(why.contains("outage stated"), "{why}");
    assert_eq!(e["customer"]["vulnerable"], true);
    // SLA: P1 is one hour from the mention.
    assert_eq!(e["sla_due_at"], format!("{DAY}T10:00:00.000Z"));
}

#[test]
fn abusive_language_is_flagged_in_the_reasons_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mentions = [
        // A real tweet to a telco care account (telco_inbound.tsv id 1314).
        tweet(
            "2101",
            "tom_t",
            &t("09:00:00"),
            "@AlbionHelp I need you idiots to stop sending me to collections. YOU owed ME money. \
             I owe you nothing. Get your shit together.",
        ),
        tweet(
            "2102",
            "happy_h",
            &t("09:05:00"),
            "@AlbionHelp my bill is wrong again this month, please sort it out",
        ),
    ];
    let flagged = run(dir.path(), &mentions, &[], "abuse");
    let items = items_with(&flagged.events, "twitter:2101");
    let why = reasons(latest(items.values().next().unwrap()));
    assert!(
        why.contains(r#"abusive language toward agents: "i****s" | profanity: "s**t""#),
        "{why}"
    );
    let items = items_with(&flagged.events, "twitter:2102");
    let calm = reasons(latest(items.values().next().unwrap()));
    assert!(!calm.contains("profanity"), "{calm}");

    // With `[abuse] enabled = false`: the same events but for those lines
    // (the flag is evidence only: priority, severity, SLA and queue unchanged).
    let mut off = Config::default();
    off.abuse.enabled = false;
    let plain = run_with(&off, dir.path(), &mentions, &[], "abuse-off");
    assert_eq!(flagged.events.len(), plain.events.len());
    let mut removed = 0;
    for (with, without) in flagged.events.iter().zip(&plain.events) {
        let mut with = with.clone();
        let lines = with["reasons"].as_array_mut().unwrap();
        let before = lines.len();
        lines.retain(|r| {
            let r = r.as_str().unwrap();
            !r.starts_with("abusive language") && !r.starts_with("profanity")
        });
        removed += before - lines.len();
        assert_eq!(&with, without);
    }
    assert!(removed >= 2, "{removed}");
}

#[test]
fn praise_is_p4_for_social_engagement_and_a_spam_burst_makes_no_work_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut mentions = vec![tweet(
        "3001",
        "happy_h",
        &t("11:00:00"),
        "Thanks @AlbionHelp, brilliant service from your team today, love it!",
    )];
    for k in 0..30 {
        mentions.push(tweet(
            &format!("39{k:02}"),
            &format!("promo_bot_{k}"),
            &format!("{DAY}T11:{:02}:{:02}Z", 1 + k / 10, (k % 10) * 5),
            "WIN a FREE iPhone 17!!! Click here http://bit.ly/fr33 #giveaway",
        ));
    }
    let r = run(dir.path(), &mentions, &[], "praise");
    let items = items_with(&r.events, "twitter:3001");
    let e = latest(items.values().next().unwrap());
    assert_eq!(e["severity"], "P4", "{e:#}");
    assert_eq!(e["queue"], "social-engagement");
    // The burst: no work item carries any of its mentions; counted instead.
    let spam_items = r
        .events
        .iter()
        .filter(|e| {
            e["mentions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["mention_id"].as_str().unwrap().starts_with("twitter:39"))
        })
        .count();
    assert_eq!(spam_items, 0, "spam became work items");
    assert_eq!(r.summary.spam, 30, "{:?}", r.summary);
}

#[test]
fn a_wholesale_customers_line_fault_goes_to_wholesale_liaison() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[tweet(
            "4001",
            "netco_ops",
            &t("08:15:00"),
            "@AlbionHelp line fault on our leased line, all our end users are down",
        )],
        &[],
        "wholesale",
    );
    let items = items_with(&r.events, "twitter:4001");
    let e = latest(items.values().next().unwrap());
    assert_eq!(e["queue"], "wholesale-liaison", "{e:#}");
    assert_eq!(e["customer"]["segment"], "wholesale");
}

#[test]
fn an_outage_spike_in_one_region_opens_one_incident_and_routes_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, String)> = Vec::new();
    // Six hours of ordinary traffic from London customers.
    for m in 0..360 {
        let at = format!("{DAY}T{:02}:{:02}:00Z", 6 + m / 60, m % 60);
        let who = format!("bg_{}", m % 60);
        let text = match m % 3 {
            0 => "@AlbionHelp why has my bill gone up again this month?",
            1 => "@AlbionHelp how do I change my direct debit date?",
            _ => "@AlbionHelp my broadband is slow tonight",
        };
        rows.push((at.clone(), tweet(&format!("5{m:04}"), &who, &at, text)));
    }
    // 200 outage tweets from the north east in ten minutes (12:00–12:10).
    for n in 0..200 {
        let s = n * 3;
        let at = format!("{DAY}T12:{:02}:{:02}Z", s / 60, s % 60);
        rows.push((
            at.clone(),
            tweet(
                &format!("6{n:04}"),
                &format!("ne_{n}"),
                &at,
                "@AlbionHelp total outage in Newcastle, no signal and no broadband anywhere",
            ),
        ));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mentions: Vec<String> = rows.into_iter().map(|(_, l)| l).collect();
    let r = run(dir.path(), &mentions, &[], "incident");
    let opened: Vec<&Value> = r
        .incidents
        .iter()
        .filter(|i| i["action"] == "opened")
        .collect();
    assert_eq!(opened.len(), 1, "{:#?}", r.incidents);
    assert_eq!(opened[0]["region"], "north_east");
    let iid = opened[0]["incident_id"].as_str().unwrap();
    // Every spike member's item ends in the incident, at network operations.
    for n in 0..200 {
        let items = items_with(&r.events, &format!("twitter:6{n:04}"));
        assert_eq!(items.len(), 1, "member {n}");
        let e = latest(items.values().next().unwrap());
        assert_eq!(e["incident_id"], iid, "member {n}: {e:#}");
        assert_eq!(e["queue"], "network-operations", "member {n}");
    }
    // Background items are not in it.
    for m in [0, 1, 2, 100, 359] {
        let items = items_with(&r.events, &format!("twitter:5{m:04}"));
        let e = latest(items.values().next().unwrap());
        assert!(e["incident_id"].is_null(), "{e:#}");
        assert_ne!(e["queue"], "network-operations");
    }
}

#[test]
fn a_new_angry_tweet_after_case_closed_is_a_repeat_contact_with_higher_severity() {
    let dir = tempfile::tempdir().unwrap();
    let angry = "@AlbionHelp my broadband is down AGAIN, absolutely furious";
    let mentions = vec![
        tweet(
            "7001",
            "repeat_r",
            &t("10:00:00"),
            "@AlbionHelp my broadband is down, please help",
        ),
        tweet("7002", "repeat_r", &t("14:00:00"), angry),
        // The same tweet from a customer with no history, for comparison.
        tweet("7003", "fresh_f", &t("14:00:00"), angry),
    ];
    let contacts = vec![
        contact(
            "EV-10",
            "C5",
            "case_opened",
            Some("CASE-9"),
            "broadband_fault",
            &t("09:00:00"),
        ),
        contact(
            "EV-11",
            "C5",
            "case_closed",
            Some("CASE-9"),
            "broadband_fault",
            &t("12:00:00"),
        ),
    ];
    let r = run(dir.path(), &mentions, &contacts, "repeat");
    let first = items_with(&r.events, "twitter:7001");
    assert_eq!(first.len(), 1);
    let first_revs = first.values().next().unwrap();
    assert_eq!(latest(first_revs)["action"], "closed", "{first_revs:#?}");
    assert_eq!(latest(first_revs)["related_case_id"], "CASE-9");
    let second = items_with(&r.events, "twitter:7002");
    assert_eq!(second.len(), 1);
    let (id2, revs2) = second.iter().next().unwrap();
    assert_ne!(
        id2,
        first.keys().next().unwrap(),
        "a new item, not a reopened one"
    );
    let e2 = latest(revs2);
    assert!(reasons(e2).contains("repeat contact"), "{}", reasons(e2));
    let fresh = items_with(&r.events, "twitter:7003");
    let e3 = latest(fresh.values().next().unwrap());
    assert!(
        e2["priority"].as_u64() > e3["priority"].as_u64(),
        "repeat {} vs fresh {}",
        e2["priority"],
        e3["priority"]
    );
}

#[test]
fn out_of_order_events_in_the_file_and_identical_output_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut mentions = vec![
        tweet(
            "8001",
            "late_l",
            &t("10:00:00"),
            "@AlbionHelp my broadband is down",
        ),
        // Two minutes out of order: within the bound, same item.
        tweet(
            "8002",
            "late_l",
            &t("09:58:00"),
            "@AlbionHelp still no broadband here",
        ),
    ];
    // Traffic that moves the watermark three days on (the quiet period
    // closes C7's item).
    mentions.push(tweet(
        "8003",
        "tom_t",
        "2026-11-23T10:00:00Z",
        "@AlbionHelp how do I change my direct debit date?",
    ));
    // A tweet from C7 written before the item closed but listed after
    // traffic three days later: `process` orders its input by event time
    // (a backfill export is rarely sorted), so it is not late and joins
    // the item it belongs to, which then closes once.
    mentions.push(tweet(
        "8004",
        "late_l",
        &t("10:05:00"),
        "@AlbionHelp broadband still dead",
    ));
    let r = run(dir.path(), &mentions, &[], "late");
    assert_eq!(r.summary.late_mentions, 0, "{:?}", r.summary);
    let a = items_with(&r.events, "twitter:8001");
    assert_eq!(a.len(), 1);
    let revs = a.values().next().unwrap();
    let last = latest(revs);
    assert_eq!(last["action"], "closed");
    let ids: Vec<&str> = last["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mention_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["twitter:8002", "twitter:8001", "twitter:8004"],
        "{revs:#?}"
    );
    let b = items_with(&r.events, "twitter:8004");
    assert_eq!(b.keys().collect::<Vec<_>>(), a.keys().collect::<Vec<_>>());
    let closed_rev = last["revision"].as_u64().unwrap();
    // Nothing after `closed` on the item.
    assert!(revs
        .iter()
        .all(|e| e["revision"].as_u64().unwrap() <= closed_rev));
    let again = run(dir.path(), &mentions, &[], "late-again");
    assert_eq!(
        r.out_bytes, again.out_bytes,
        "process output differs across runs"
    );
}

/// Issue 26: one customer's repeated contacts about one fault raise its
/// priority, and the latest revision names every mention it folded.
#[test]
fn repeated_contacts_about_one_fault_escalate_and_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "@AlbionHelp my broadband is down",
        "@AlbionHelp broadband still down",
        "@AlbionHelp broadband is down again",
        "@AlbionHelp still no broadband, it is down",
    ];
    let mentions: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, x)| {
            tweet(
                &format!("700{i}"),
                "fresh_f",
                &t(&format!("{:02}:00:00", 8 + i)),
                x,
            )
        })
        .collect();
    let r = run(dir.path(), &mentions, &[], "repeat");
    let items = items_with(&r.events, "twitter:7000");
    assert_eq!(items.len(), 1, "one item: {items:#?}");
    let revs = items.values().next().unwrap();
    let first = revs.iter().find(|e| e["revision"] == 1).unwrap();
    let e = latest(revs);
    assert!(
        e["priority"].as_u64() > first["priority"].as_u64(),
        "{first:#} → {e:#}"
    );
    assert!(
        reasons(e).contains("4 contacts about this across twitter in 3 h (+30)"),
        "{}",
        reasons(e)
    );
    assert_eq!(e["mention_count"], 4);
    let ids: Vec<&str> = e["mention_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "twitter:7000",
            "twitter:7001",
            "twitter:7002",
            "twitter:7003"
        ]
    );
    assert_eq!(e["mention_ids_omitted"], 0);
}

/// Issue 26: a fault told in a wholesale partner's business terms reaches
/// wholesale-liaison though the author is no known customer; the same
/// fault from a household stays with technical support.
#[test]
fn a_fault_in_business_terms_reaches_wholesale_liaison_from_an_unknown_author() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        (
            "8001",
            "mvno_noc",
            "@AlbionHelp our leased line to the Leeds office is down since 6am",
        ),
        (
            "8002",
            "carrier_x",
            "@AlbionHelp interconnect is down, none of our MVNO subscribers have service",
        ),
        ("8003", "tom_t", "@AlbionHelp my internet is down since 6am"),
    ];
    let mentions: Vec<String> = texts
        .iter()
        .map(|(id, h, x)| tweet(id, h, &t("09:00:00"), x))
        .collect();
    let r = run(dir.path(), &mentions, &[], "wholesale-terms");
    let queue = |id: &str| {
        let items = items_with(&r.events, id);
        let e = latest(items.values().next().expect(id));
        e["queue"].as_str().unwrap().to_string()
    };
    assert_eq!(queue("twitter:8001"), "wholesale-liaison");
    assert_eq!(queue("twitter:8002"), "wholesale-liaison");
    assert_eq!(queue("twitter:8003"), "technical-support");
}
