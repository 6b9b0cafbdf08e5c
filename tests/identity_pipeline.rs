//! The identity join in the running pipeline, on the embedded broker: a CRM
//! snapshot version swapped in while mentions stream, a corrupt version that
//! leaves the versions in service alone, and `crm-identity-updates` applied
//! before and after the swap (as-of the mention's event time throughout).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::record_batch::RecordBatch;
use switchboard::cli::demo::create_topics;
use switchboard::config::Config;
use switchboard::metrics::Health;
use switchboard::topology::{wait_until, Pipeline};
use switchboard_operators::schema::col as icol;
use switchboard_operators::schema::col as mcol;
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::kafka::{produce_to_topic, RawRecord};

const V1: &str = "2026-11-20T00-00-00Z";
const V2: &str = "2026-11-21T00-00-00Z";
const V3_CORRUPT: &str = "2026-11-21T18-00-00Z";

const CUSTOMERS: &str =
    "customer_id,name,segment,tier,region,postcode_district,products,vulnerable,account_status
C1,Alice,consumer,premier,London,N1,[broadband],true,active
C2,Bob,business,standard,Leeds,LS1,[mobile],false,in_arrears
C3,Carol,wholesale,plus,Cardiff,CF10,[],false,active
";

/// v1: @Alice_UK and her email are C1's; @Twin is claimed by C1 and C2.
const IDENTITIES_V1: &str = "customer_id,kind,value
C1,twitter,@Alice_UK
C1,email,Alice@Example.com
C2,twitter,@bob_b
C1,twitter,@Twin
C2,twitter,@twin
";

/// v2: the handle @alice_uk moved to C2; @dave (added by an update before
/// v2) is in the snapshot now.
const IDENTITIES_V2: &str = "customer_id,kind,value
C2,twitter,@alice_uk
C2,twitter,@bob_b
C3,twitter,@dave
C1,twitter,@Twin
C2,twitter,@twin
";

fn write_version(root: &Path, name: &str, customers: &str, identities: &str) {
    // Written aside and renamed into place, as a CRM export would.
    let tmp = root.join(format!(".tmp-{name}"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("customers.csv"), customers).unwrap();
    std::fs::write(tmp.join("identities.csv"), identities).unwrap();
    std::fs::rename(&tmp, root.join(name)).unwrap();
}

fn produce(brokers: &str, topic: &str, recs: Vec<RawRecord>) {
    let n = recs.len() as u64;
    assert_eq!(
        produce_to_topic(brokers, topic, recs.into_iter(), n, None).unwrap(),
        n
    );
}

fn update(
    op: &str,
    kind: &str,
    value: &str,
    customer: Option<&str>,
    valid_from: &str,
) -> RawRecord {
    let cust = customer.map_or(String::new(), |c| format!(",\"customer_id\":\"{c}\""));
    RawRecord {
        key: Some(format!("{kind}:{value}").into_bytes()),
        payload: format!(
            "{{\"op\":\"{op}\",\"kind\":\"{kind}\",\"value\":\"{value}\"{cust},\"valid_from\":\"{valid_from}\"}}"
        )
        .into_bytes(),
    }
}

/// A canonical-envelope mention.
fn mention(id: &str, channel: &str, handle: &str, at: &str) -> RawRecord {
    RawRecord {
        key: Some(handle.as_bytes().to_vec()),
        payload: format!(
            "{{\"id\":\"{id}\",\"channel\":\"{channel}\",\"created_at\":\"{at}\",\"author\":{{\"handle\":\"{handle}\",\"followers\":120}},\"text\":\"mention {id}: the broadband keeps dropping out in the evenings\",\"lang\":\"en\"}}"
        )
        .into_bytes(),
    }
}

/// What the join said about one mention.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    customer: Option<String>,
    snapshot: Option<String>,
    miss: Option<String>,
    via: Option<String>,
    before_oldest: bool,
}

fn collect(seen: &Arc<Mutex<HashMap<String, Seen>>>) -> Box<dyn FnMut(&RecordBatch) + Send> {
    let seen = seen.clone();
    Box::new(move |b: &RecordBatch| {
        let s = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (ids, cust, snap, miss, via) = (
            s(mcol::MENTION_ID),
            s(icol::CUSTOMER_ID),
            s(icol::IDENTITY_SNAPSHOT),
            s(icol::IDENTITY_MISS_REASON),
            s(icol::IDENTITY_VIA),
        );
        let before = b
            .column_by_name(icol::IDENTITY_BEFORE_OLDEST_VERSION)
            .unwrap()
            .as_boolean()
            .clone();
        let opt =
            |a: &arrow::array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        let mut m = seen.lock().unwrap();
        for i in 0..b.num_rows() {
            m.insert(
                ids.value(i).to_string(),
                Seen {
                    customer: opt(&cust, i),
                    snapshot: opt(&snap, i),
                    miss: opt(&miss, i),
                    via: opt(&via, i),
                    before_oldest: before.value(i),
                },
            );
        }
    })
}

fn hit(customer: &str, snapshot: &str, via: &str) -> Seen {
    Seen {
        customer: Some(customer.into()),
        snapshot: Some(snapshot.into()),
        miss: None,
        via: Some(via.into()),
        before_oldest: false,
    }
}

fn miss(reason: &str, snapshot: &str) -> Seen {
    Seen {
        customer: None,
        snapshot: Some(snapshot.into()),
        miss: Some(reason.into()),
        via: None,
        before_oldest: false,
    }
}

fn check(seen: &Arc<Mutex<HashMap<String, Seen>>>, want: &[(&str, Seen)]) {
    let ids: Vec<&str> = want.iter().map(|(id, _)| *id).collect();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let m = seen.lock().unwrap();
            ids.iter().all(|id| m.contains_key(*id))
        }),
        "mentions {ids:?} did not all come out; saw {:?}",
        seen.lock().unwrap().keys().collect::<Vec<_>>()
    );
    let m = seen.lock().unwrap();
    for (id, w) in want {
        assert_eq!(&m[*id], w, "mention {id}");
    }
}

#[test]
fn snapshot_swap_mid_stream_with_identity_updates() {
    let prom = switchboard::metrics::install();
    let kafka = EmbeddedKafka::start(1).unwrap();
    let crm = tempfile::tempdir().unwrap();
    write_version(crm.path(), V1, CUSTOMERS, IDENTITIES_V1);

    let mut config = Config::default();
    config.kafka.brokers = kafka.bootstrap_servers();
    config.kafka.group_id = "it-identity".into();
    config.metrics.addr = String::new();
    config.source.workers = 2;
    config.source.batch_linger_ms = 20;
    config.identity.snapshot_dir = crm.path().display().to_string();
    config.identity.poll_interval_ms = 100;
    create_topics(&kafka, &config.topics, 2).unwrap();
    let brokers = config.kafka.brokers.clone();
    let updates_topic = config.topics.crm_identity_updates.clone();

    // Updates already on the topic before start (read to the end before
    // any mention is consumed), out of valid-from order on purpose.
    produce(
        &brokers,
        &updates_topic,
        vec![
            update(
                "change",
                "twitter",
                "@ALICE_uk",
                Some("C3"),
                "2026-11-21T12:00:00Z",
            ),
            update("add", "twitter", "dave", Some("C3"), "2026-11-20T12:00:00Z"),
            update(
                "remove",
                "email",
                "alice@example.COM",
                None,
                "2026-11-20T06:00:00Z",
            ),
            RawRecord {
                key: Some(b"twitter:x".to_vec()),
                payload: b"{not json".to_vec(),
            },
            update("add", "fax", "12345", Some("C1"), "2026-11-20T06:00:00Z"),
        ],
    );

    let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
    let health = Health::new();
    let pipeline = Pipeline::build(&config, health.clone()).unwrap();
    let state = pipeline.crm().expect("identity join on");
    assert!(state.updates_caught_up(), "updates read before consuming");
    assert_eq!(state.join().status().overlay_entries, 3);
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let (stop, obs) = (stop.clone(), collect(&seen));
        std::thread::spawn(move || pipeline.run(stop, Some(obs)))
    };
    assert!(wait_until(Duration::from_secs(30), || health.is_ready()));

    // Phase 1: only v1 is on disk.
    produce(
        &brokers,
        &config.topics.mentions,
        vec![
            mention("m1", "twitter", "@alice_uk", "2026-11-20T10:00:00Z"),
            mention("m2", "twitter", "@Dave", "2026-11-20T10:00:00Z"),
            mention("m3", "twitter", "@Dave", "2026-11-20T13:00:00Z"),
            mention("m4", "email", "ALICE@example.com", "2026-11-20T05:00:00Z"),
            mention("m5", "email", "ALICE@example.com", "2026-11-20T06:30:00Z"),
            // After v2's valid-from, but v2 does not exist yet: the newest
            // version in service answers.
            mention("m6", "twitter", "@Alice_UK", "2026-11-21T06:00:00Z"),
            mention("m7", "twitter", "@TWIN", "2026-11-20T10:00:00Z"),
            mention("m8", "twitter", "@nobody", "2026-11-20T10:00:00Z"),
        ],
    );
    check(
        &seen,
        &[
            ("m1", hit("C1", V1, "twitter:handle")),
            ("m2", miss("unknown_identity", V1)),
            ("m3", hit("C3", V1, "twitter:handle")),
            ("m4", hit("C1", V1, "email")),
            ("m5", miss("identity_removed", V1)),
            ("m6", hit("C1", V1, "twitter:handle")),
            ("m7", miss("ambiguous_identity", V1)),
            ("m8", miss("unknown_identity", V1)),
        ],
    );

    // The CRM publishes v2 while the stream runs, then a corrupt version
    // (customers without the `segment` column).
    write_version(crm.path(), V2, CUSTOMERS, IDENTITIES_V2);
    assert!(
        wait_until(Duration::from_secs(30), || state
            .join()
            .status()
            .versions
            .iter()
            .any(|v| v.name == V2)),
        "v2 was not swapped in"
    );
    write_version(
        crm.path(),
        V3_CORRUPT,
        "customer_id,name,tier\nC1,Alice,premier\n",
        IDENTITIES_V2,
    );
    assert!(
        wait_until(Duration::from_secs(30), || state
            .totals()
            .snapshot_failures
            .get("missing_column")
            == Some(&1)),
        "the corrupt version was not reported: {:?}",
        state.totals()
    );
    let names: Vec<String> = state
        .join()
        .status()
        .versions
        .iter()
        .map(|v| v.name.clone())
        .collect();
    assert_eq!(names, [V1, V2], "versions in service after the bad one");

    // An update arriving while running.
    produce(
        &brokers,
        &updates_topic,
        vec![update(
            "add",
            "twitter",
            "@erin",
            Some("C2"),
            "2026-11-21T01:00:00Z",
        )],
    );
    assert!(wait_until(Duration::from_secs(30), || state
        .join()
        .status()
        .overlay_entries
        == 4));

    // Phase 2.
    produce(
        &brokers,
        &config.topics.mentions,
        vec![
            mention("n1", "twitter", "@alice_uk", "2026-11-21T06:00:00Z"),
            mention("n2", "twitter", "@alice_uk", "2026-11-20T23:00:00Z"),
            mention("n3", "twitter", "@alice_uk", "2026-11-21T13:00:00Z"),
            mention("n4", "twitter", "@dave", "2026-11-21T06:00:00Z"),
            mention("n5", "twitter", "@erin", "2026-11-21T02:00:00Z"),
            mention("n6", "twitter", "@erin", "2026-11-21T00:30:00Z"),
            mention("n7", "twitter", "@alice_uk", "2026-11-19T08:00:00Z"),
        ],
    );
    check(
        &seen,
        &[
            ("n1", hit("C2", V2, "twitter:handle")),
            ("n2", hit("C1", V1, "twitter:handle")),
            // The change valid after v2 survives the swap.
            ("n3", hit("C3", V2, "twitter:handle")),
            ("n4", hit("C3", V2, "twitter:handle")),
            ("n5", hit("C2", V2, "twitter:handle")),
            ("n6", miss("unknown_identity", V2)),
            (
                "n7",
                Seen {
                    before_oldest: true,
                    ..hit("C1", V1, "twitter:handle")
                },
            ),
        ],
    );

    stop.store(true, Ordering::Release);
    runner.join().unwrap().unwrap();
    let t = state.totals();
    assert_eq!(t.rows, 15, "{t:?}");
    assert_eq!(t.hits, 10, "{t:?}");
    assert_eq!(t.snapshot_loads, 2);
    assert_eq!(t.before_oldest_version, 1);
    let by = t.by_result();
    assert_eq!(by.get("ambiguous_identity"), Some(&1));
    assert_eq!(by.get("identity_removed"), Some(&1));
    assert_eq!(by.get("unknown_identity"), Some(&3));

    let text = prom.render();
    for line in [
        "switchboard_identity_updates_rejected_total{reason=\"invalid_json\"} 1",
        "switchboard_identity_updates_rejected_total{reason=\"unknown_kind\"} 1",
        "switchboard_identity_updates_total{op=\"add\"} 2",
        "switchboard_identity_updates_total{op=\"change\"} 1",
        "switchboard_identity_updates_total{op=\"remove\"} 1",
        "switchboard_identity_snapshot_load_failures_total{reason=\"missing_column\"} 1",
        "switchboard_identity_snapshot_loads_total 2",
        "switchboard_identity_lookups_total{channel=\"twitter\",result=\"hit\"} 9",
        "switchboard_identity_lookups_total{channel=\"email\",result=\"hit\"} 1",
        "switchboard_identity_lookups_total{channel=\"email\",result=\"identity_removed\"} 1",
        "switchboard_identity_snapshot_versions 2",
        "switchboard_identity_overlay_entries 4",
    ] {
        assert!(text.contains(line), "metrics lack `{line}`:\n{text}");
    }
}
