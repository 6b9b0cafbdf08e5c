//! `switchboard process` on the synthetic firehose (`switchboard generate`):
//! the result does not depend on the order of the input lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard::cli::process::{process_files, ProcessArgs};
use switchboard::config::Config;
use switchboard_operators::parse::{MentionParser, SourceMeta};
use switchboard_operators::schema::col;
use switchboard_tools::generate::contacts::{write_contacts_jsonl, ContactGenConfig};
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{
    Expect, MentionGenConfig, MentionGenerator, OutageSpike,
};

const CUSTOMERS: usize = 10_000;

fn gen_cfg() -> MentionGenConfig {
    MentionGenConfig {
        customers: CUSTOMERS,
        ..MentionGenConfig::default()
    }
}

fn write_crm(dir: &Path) -> PathBuf {
    let crm = dir.join("crm");
    let valid_from = chrono::DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    write_crm_snapshot(
        &crm,
        &CrmGenConfig {
            customers: CUSTOMERS,
            seed: 42,
            valid_from,
        },
    )
    .unwrap();
    crm
}

/// Writes `count` generated records; returns the lines and, per outage
/// burst, the mention ids (`channel:id`) written about it (ground truth).
fn generate(path: &Path, count: usize) -> (Vec<Vec<u8>>, BTreeMap<u32, Vec<String>>) {
    generate_with(path, count, gen_cfg())
}

fn generate_with(
    path: &Path,
    count: usize,
    cfg: MentionGenConfig,
) -> (Vec<Vec<u8>>, BTreeMap<u32, Vec<String>>) {
    let mut parser = MentionParser::new(Config::default().parse.build());
    let mut lines = Vec::new();
    let mut truth: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for rec in MentionGenerator::new(cfg).take(count) {
        if let (Some(k), Expect::Mentions { format, .. }) = (rec.outage, rec.expect) {
            // The record's first mention is about the outage (a webhook's
            // other entries may not be).
            let meta = SourceMeta {
                topic: "t",
                partition: 0,
                offset: 0,
            };
            if format != "facebook" && parser.push(&rec.payload, &meta, 0).is_ok() {
                let b = parser.finish();
                let s = |c| arrow::array::AsArray::as_string::<i32>(b.column_by_name(c).unwrap());
                let uid = format!(
                    "{}:{}",
                    s(col::CHANNEL).value(0),
                    s(col::MENTION_ID).value(0)
                );
                truth.entry(k).or_default().push(uid);
            }
        }
        lines.push(rec.payload);
    }
    write_lines(path, &lines);
    (lines, truth)
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut buf = Vec::new();
    for l in lines {
        buf.extend_from_slice(l);
        buf.push(b'\n');
    }
    std::fs::write(path, buf).unwrap();
}

fn process(
    dir: &Path,
    crm: &Path,
    mentions: &Path,
    contacts: Option<PathBuf>,
    name: &str,
) -> (Vec<String>, Vec<Value>) {
    let out = dir.join(format!("{name}-out.jsonl"));
    let args = ProcessArgs {
        mentions: mentions.to_path_buf(),
        crm: crm.to_path_buf(),
        contacts,
        config: None,
        out: out.clone(),
        incidents: None,
        dlq: None,
        fixed_incident_windows: false,
        now: None,
    };
    process_files(&Config::default(), &args).expect("process");
    let items = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut inc = out.into_os_string();
    inc.push(".incidents.jsonl");
    let incidents = std::fs::read_to_string(PathBuf::from(inc))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (items, incidents)
}

#[test]
fn process_gives_the_same_result_whatever_the_order_of_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let crm = write_crm(dir.path());
    let sorted = dir.path().join("sorted.jsonl");
    let (mut lines, _) = generate(&sorted, 30_000);
    let contacts = dir.path().join("contacts.jsonl");
    write_contacts_jsonl(
        &contacts,
        750,
        &ContactGenConfig {
            customers: CUSTOMERS,
            start_ms: gen_cfg().start_ms,
            events_per_sec: 25.0,
            ..ContactGenConfig::default()
        },
    )
    .unwrap();
    // A seeded shuffle (Fisher–Yates with an LCG).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..lines.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lines.swap(i, (x >> 33) as usize % (i + 1));
    }
    let shuffled = dir.path().join("shuffled.jsonl");
    write_lines(&shuffled, &lines);
    let (a, ai) = process(dir.path(), &crm, &sorted, Some(contacts.clone()), "a");
    let (b, bi) = process(dir.path(), &crm, &shuffled, Some(contacts), "b");
    assert!(a.len() > 10_000, "{}", a.len());
    let canon = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let (ca, cb) = (canon(&a), canon(&b));
    let only_a: Vec<_> = ca.difference(&cb).take(3).collect();
    let only_b: Vec<_> = cb.difference(&ca).take(3).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "sorted only: {only_a:?}\nshuffled only: {only_b:?}"
    );
    assert_eq!(a.len(), b.len());
    assert_eq!(ai, bi);
    // Repeats after closure survive the shuffle.
    let repeats = a.iter().filter(|l| l.contains("repeat")).count();
    eprintln!("{} events, {} mentioning a repeat", a.len(), repeats);
}

/// Issue 26: an outage spike in generated traffic (one region, records
/// 3,001–4,000, half of them about the outage) opens one incident holding at
/// least 90 % of the spike's mentions, routed to network operations; the
/// quiet stretches before and after open none.
#[test]
fn process_finds_a_generated_outage_spike_as_one_incident_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let crm = write_crm(dir.path());
    let path = dir.path().join("spike.jsonl");
    let cfg = MentionGenConfig {
        random_outages: false,
        spikes: vec![OutageSpike {
            start_record: 3_000,
            records: 1_000,
            share: 0.5,
            region: "north_west",
        }],
        ..gen_cfg()
    };
    let (_, truth) = generate_with(&path, 6_000, cfg);
    assert_eq!(truth.len(), 1, "one spike: {:?}", truth.keys());
    let spike: BTreeSet<&str> = truth[&1].iter().map(String::as_str).collect();
    assert!(spike.len() > 300, "{}", spike.len());
    let (items, incidents) = process(dir.path(), &crm, &path, None, "spike");
    let opened: Vec<&Value> = incidents
        .iter()
        .filter(|e| e["action"] == "opened")
        .collect();
    assert_eq!(
        opened.len(),
        1,
        "one incident, none in the quiet stretches: {incidents:#?}"
    );
    assert_eq!(opened[0]["region"], "north_west");
    let id = opened[0]["incident_id"].as_str().unwrap();
    // The latest revision of every item, by id; each names its mentions.
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    for l in &items {
        let e: Value = serde_json::from_str(l).unwrap();
        let k = e["work_item_id"].as_str().unwrap().to_string();
        if latest
            .get(&k)
            .is_none_or(|p| p["revision"].as_u64() < e["revision"].as_u64())
        {
            latest.insert(k, e);
        }
    }
    let mut member = 0;
    for e in latest.values() {
        if e["incident_id"] != id {
            continue;
        }
        assert_eq!(e["queue"], "network-operations", "{e:#}");
        member += e["mention_ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| spike.contains(m.as_str().unwrap()))
            .count();
    }
    let share = member as f64 / spike.len() as f64;
    eprintln!(
        "spike: {} mentions, {member} in {id} ({:.1} %)",
        spike.len(),
        100.0 * share
    );
    assert!(
        share >= 0.9,
        "{member} of {} spike mentions in the incident",
        spike.len()
    );
}
