//! Scale-out and crashes with the keyed stage (`pipeline.keyed_stage`):
//! `switchboard run` processes on the embedded broker (librdkafka's mock
//! cluster, hosted by this test process), killed with SIGKILL; and one
//! keyed instance on a standalone tansu broker (a separate process; see
//! that test for what tansu 0.6 does not allow).
//!
//! The reference is one instance that is never killed. Each other run reads
//! the same input in its own consumer groups and writes its own topics; its
//! *latest-revision view* of `work-items` (per `work_item_id`, the event
//! with the highest revision) must equal the reference's, event for event.
//! Every input record is accounted for: the reference accounts for each
//! mention row (work item or counted spam drop) and each malformed record
//! (DLQ); every run's DLQ holds exactly the malformed records.
//!
//! What makes runs comparable: a customer's mentions must reach the keyed
//! stage in one order whatever the topology, so the input is keyed by
//! customer (`key_by_customer`: one `mentions` partition per customer) and
//! multi-mention Facebook webhooks have one author. Order *across*
//! customers still differs between runs, so the two operators that count
//! across customers — spam repetition and incident spikes — are switched
//! off here (docs/decisions.md, "Scale-out").

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::message::Headers;
use rdkafka::Message;
use switchboard::config::{Config, Delivery};
use switchboard::topology::wait_until;
use switchboard_operators::repartition::decode_ipc;
use switchboard_tools::generate::mentions::{Expect, MentionGenConfig};

mod support;
use support::cluster::{assert_accounted, client, Instance, Setup, START_MS};

const MENTION_PARTITIONS: i32 = 48;
/// Repartition and changelog partitions. The embedded broker keeps about
/// 5 MB per partition, and how much changelog a crash run writes depends on
/// timing (more, smaller flushes on a loaded host): with 16 partitions one
/// changelog partition of the `three` run once overflowed by 316 records
/// (a CI run with tansu and a release build compiling beside it); 32 leaves
/// about twice the room.
const KEYED_PARTITIONS: i32 = 32;

/// One run's consumer group, topics and delivery mode.
struct Run {
    name: String,
    delivery: Delivery,
    group: String,
    work_items: String,
    dlq: String,
    repartition: String,
    changelog: String,
}

impl Run {
    fn new(setup: &Setup, name: &str, delivery: Delivery) -> Self {
        let r = Self {
            name: name.into(),
            delivery,
            group: format!("sb-{name}"),
            work_items: format!("work-items-{name}"),
            dlq: format!("dlq-{name}"),
            repartition: format!("repartition-{name}"),
            changelog: format!("changelog-{name}"),
        };
        for t in [&r.work_items, &r.dlq] {
            setup.kafka.create_topic(t, MENTION_PARTITIONS);
        }
        for t in [&r.repartition, &r.changelog] {
            setup.kafka.create_topic(t, KEYED_PARTITIONS);
        }
        setup.kafka.create_topic(&format!("incidents-{name}"), 1);
        r
    }

    /// Starts an instance; `slot` names it (`pipeline.instance_id`): a
    /// restart in the same slot fences its predecessor's transactions.
    fn start(&self, setup: &Setup, instance: usize, slot: usize) -> Instance {
        let (path, port) = setup.write_config(&format!("{}-{instance}", self.name), |c| {
            c.pipeline.delivery = self.delivery;
            c.pipeline.instance_id = format!("{}-{slot}", self.name);
            c.kafka.group_id = self.group.clone();
            c.topics.work_items = self.work_items.clone();
            c.topics.dlq = self.dlq.clone();
            c.topics.repartition = self.repartition.clone();
            c.topics.changelog = self.changelog.clone();
            c.topics.incidents = format!("incidents-{}", self.name);
            configure(c);
        });
        Instance::start(
            &path,
            port,
            setup
                .dir
                .path()
                .join(format!("{}-{instance}.log", self.name)),
        )
    }

    /// Input offsets committed by this run's two groups.
    fn committed(&self, setup: &Setup, topic: &str, keyed: bool) -> i64 {
        let group = if keyed {
            format!("{}-keyed", self.group)
        } else {
            self.group.clone()
        };
        setup.committed_total_by(&client(&setup.config.kafka.brokers, &group), &group, topic)
    }

    /// Everything consumed and committed by both stages.
    fn done(&self, setup: &Setup) -> bool {
        let mentions = &setup.config.topics.mentions;
        self.committed(setup, mentions, false) == setup.records.len() as i64
            && self.committed(setup, &self.repartition, true) == setup.end_total(&self.repartition)
    }

    fn wait_done(&self, setup: &Setup, limit: Duration, logs: &[&Instance]) {
        let ok = wait_until(limit, || {
            std::thread::sleep(Duration::from_millis(300));
            self.done(setup)
        });
        assert!(
            ok,
            "{}: not done: mentions committed {} of {}, repartition {} of {}; logs:\n{}",
            self.name,
            self.committed(setup, &setup.config.topics.mentions, false),
            setup.end_total(&setup.config.topics.mentions),
            self.committed(setup, &self.repartition, true),
            setup.end_total(&self.repartition),
            logs.iter()
                .map(|i| tail(&i.log_text(), 60))
                .collect::<Vec<_>>()
                .join("\n-----\n")
        );
    }

    /// The latest-revision view and the number of raw duplicate events
    /// (the same id and revision seen again; each must be identical).
    fn latest_view(&self, setup: &Setup) -> (BTreeMap<String, serde_json::Value>, usize) {
        let mut view: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let mut dups = 0;
        for m in setup.read_to_end(&self.work_items) {
            let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            let id = v["work_item_id"].as_str().unwrap().to_string();
            let rev = v["revision"].as_u64().unwrap();
            match view.get(&id) {
                Some(old) if old["revision"].as_u64().unwrap() > rev => {}
                Some(old) if old["revision"].as_u64().unwrap() == rev => {
                    assert_eq!(old, &v, "{}: one id and revision, two contents", self.name);
                    dups += 1;
                }
                _ => {
                    view.insert(id, v);
                }
            }
        }
        (view, dups)
    }

    /// Source (partition, offset) of every DLQ record, and the raw count.
    fn dlq(&self, setup: &Setup) -> (HashSet<(i32, i64)>, usize) {
        let recs = setup.read_to_end(&self.dlq);
        let header = |m: &rdkafka::message::OwnedMessage, k: &str| -> String {
            let h = m.headers().unwrap();
            (0..h.count())
                .map(|i| h.get(i))
                .find(|h| h.key == k)
                .map(|h| String::from_utf8_lossy(h.value.unwrap()).into_owned())
                .unwrap()
        };
        let set = recs
            .iter()
            .map(|m| {
                (
                    header(m, "source.partition").parse().unwrap(),
                    header(m, "source.offset").parse().unwrap(),
                )
            })
            .collect();
        (set, recs.len())
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The test topology: keyed stage on, cross-customer counting off.
fn configure(c: &mut Config) {
    c.pipeline.keyed_stage = true;
    c.pipeline.checkpoint_interval_ms = 300;
    c.source.commit_interval_ms = 200;
    c.source.drain_timeout_ms = 10_000;
    c.pipeline.shutdown_timeout_ms = 30_000;
    c.spam.repetition_min_distinct_authors = 1_000_000;
    c.incident.min_mentions = 1_000_000;
    // A killed member's partitions move after this long.
    c.kafka
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    c.kafka
        .properties
        .insert("heartbeat.interval.ms".into(), "500".into());
}

fn input_size(default: usize) -> usize {
    // A debugging knob; the suite runs the sizes below.
    std::env::var("SB_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn setup(group: &str, n: usize, tansu: bool) -> Setup {
    Setup::build(
        group,
        n,
        MENTION_PARTITIONS,
        KEYED_PARTITIONS,
        MentionGenConfig {
            seed: 11,
            customers: 20_000,
            start_ms: START_MS,
            events_per_sec: 200.0,
            malformed_ratio: 0.01,
            key_by_customer: true,
            single_author_records: true,
            ..MentionGenConfig::default()
        },
        tansu,
    )
}

/// The reference: one instance, never killed, stopped with SIGTERM.
fn reference(setup: &Setup) -> BTreeMap<String, serde_json::Value> {
    let run = Run::new(setup, "ref", Delivery::AtLeastOnce);
    let mut a = run.start(setup, 0, 0);
    run.wait_done(setup, Duration::from_secs(900), &[&a]);
    let s = a.stop();
    assert_accounted(&s);
    let malformed: HashSet<(i32, i64)> = malformed(setup);
    assert_eq!(s["records_in"], setup.records.len() as u64, "{s:?}");
    assert_eq!(s["dlq"], malformed.len() as u64, "{s:?}");
    let (dlq, raw) = run.dlq(setup);
    assert_eq!(
        dlq, malformed,
        "the DLQ holds exactly the malformed records"
    );
    assert_eq!(raw, malformed.len());
    let (view, dups) = run.latest_view(setup);
    assert!(view.len() > 1_000, "{} work items", view.len());
    eprintln!(
        "reference on {}: {} work items, {} raw duplicate events, summary {s:?}",
        setup.config.kafka.brokers,
        view.len(),
        dups
    );
    view
}

/// (partition, offset) of every malformed input record.
fn malformed(setup: &Setup) -> HashSet<(i32, i64)> {
    let bad: HashSet<&[u8]> = setup
        .records
        .iter()
        .filter(|r| matches!(r.expect, Expect::Malformed(_)))
        .map(|r| r.payload.as_slice())
        .collect();
    setup
        .read(&setup.config.topics.mentions)
        .iter()
        .filter(|m| bad.contains(m.payload().unwrap_or(&[])))
        .map(|m| (m.partition(), m.offset()))
        .collect()
}

/// Compares a run's view and DLQ with the reference's.
fn check_against(
    setup: &Setup,
    run: &Run,
    reference: &BTreeMap<String, serde_json::Value>,
    malformed: &HashSet<(i32, i64)>,
) -> (usize, usize) {
    let (view, dups) = run.latest_view(setup);
    let missing: Vec<&String> = reference
        .keys()
        .filter(|k| !view.contains_key(*k))
        .collect();
    let extra: Vec<&String> = view
        .keys()
        .filter(|k| !reference.contains_key(*k))
        .collect();
    let differ: Vec<&String> = reference
        .iter()
        .filter(|(k, v)| view.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "{}: latest-revision view differs: {} missing, {} extra, {} different (of {}); e.g. missing {:?}, extra {:?}, different {:?}",
        run.name,
        missing.len(),
        extra.len(),
        differ.len(),
        reference.len(),
        missing.first().map(|k| &reference[*k]),
        extra.first().map(|k| &view[*k]),
        differ.first().map(|k| (&reference[*k], &view[*k])),
    );
    let (dlq, raw_dlq) = run.dlq(setup);
    assert_eq!(&dlq, malformed, "{}: DLQ = the malformed records", run.name);
    // The embedded broker keeps ~5 MB per partition: a run whose internal
    // topics lost records would not have tested a full restore.
    for t in [&run.repartition, &run.changelog] {
        setup.kafka.check_retained(t, KEYED_PARTITIONS);
    }
    (dups, raw_dlq - dlq.len())
}

#[test]
fn embedded_three_instances_one_killed_and_one_killed_ten_times_match_the_reference() {
    scale_checks(&setup("sb-scale", input_size(200_000), false));
}

/// On tansu 0.6 the keyed topology runs one instance: every record is
/// accounted for and the DLQ is exact; `exactly_once`, which tansu 0.6
/// cannot serve, fails safe. Hand-overs are not tested there:
/// tansu 0.6 never evicts a member killed with SIGKILL (the survivors kept
/// their shares, a restarted member got no partition for minutes), and a
/// clean leave (SIGTERM) was handed over in one run but left part of the
/// repartition topic unconsumed for 15 minutes in another (178 of 285
/// records), so the crash and scale-out runs are the embedded broker's.
#[test]
fn tansu_keyed_stage_accounts_for_every_record() {
    let setup = setup("sb-scale", input_size(20_000), true);
    let malformed = malformed(&setup);
    let reference = reference(&setup);
    assert!(!reference.is_empty());
    assert!(!malformed.is_empty());
    // exactly_once: tansu 0.6's broker does not serve EndTxn (its storage
    // has txn_end, its request router has no route for it), so librdkafka
    // reports "EndTxnRequest not supported by broker" and no transaction
    // can commit. The mode must fail safe: transactions abort, the keyed
    // input stalls uncommitted (replayed by a later owner), `/readyz`
    // says so, and the instance still stops cleanly.
    let eos = Run::new(&setup, "eos", Delivery::ExactlyOnce);
    let mut inst = eos.start(&setup, 0, 0);
    let aborted = "switchboard_state_transactions_total{result=\"aborted\"}";
    assert!(
        wait_until(Duration::from_secs(600), || {
            std::thread::sleep(Duration::from_millis(300));
            inst.metric(aborted) > 0.0
                && inst
                    .ready()
                    .is_some_and(|(ready, body)| !ready && body.contains("stalled"))
        }),
        "no aborted transaction and stalled readiness; log:\n{}",
        tail(&inst.log_text(), 60)
    );
    assert_eq!(
        inst.metric("switchboard_state_transactions_total{result=\"committed\"}"),
        0.0
    );
    assert_eq!(eos.committed(&setup, &eos.repartition, true), 0);
    let aborted_count = inst.metric(aborted);
    inst.signal("-TERM");
    assert_eq!(inst.wait_exit(Duration::from_secs(40)).0, Some(0));
    assert_eq!(eos.committed(&setup, &eos.repartition, true), 0);
    eprintln!(
        "tansu: exactly_once: {aborted_count} transactions aborted (EndTxn not served), keyed input uncommitted, /readyz stalled"
    );
}

/// The reference; three instances with one SIGKILL and one instance killed
/// ten times (`at_least_once`); and one `exactly_once` instance. Each is
/// compared with the reference. The runs have their own groups and topics
/// and run at once: the crash runs spend much of their time waiting for
/// group joins and session timeouts.
///
/// Crashes under `exactly_once` are not run on this broker: librdkafka's
/// mock cluster answers TxnOffsetCommit without storing the offsets and
/// EndTxn without writing markers (rdkafka_mock_handlers.c), so a restarted
/// instance would re-read its keyed input from the start and no run could
/// tell when it is done. What it can show is run: the transactions commit
/// and the view is exact.
fn scale_checks(setup: &Setup) {
    let malformed = malformed(setup);
    let three = Run::new(setup, "three", Delivery::AtLeastOnce);
    let killed = Run::new(setup, "kills", Delivery::AtLeastOnce);
    let eos = Run::new(setup, "eos", Delivery::ExactlyOnce);
    let (reference, three_secs, kills) = std::thread::scope(|s| {
        let r = s.spawn(|| reference(setup));
        let t = s.spawn(|| run_three(setup, &three, "-KILL"));
        let k = s.spawn(|| run_kills(setup, &killed));
        let e = s.spawn(|| run_exactly_once_on_mock(setup, &eos));
        joined(e.join());
        (joined(r.join()), joined(t.join()), joined(k.join()))
    });
    let (dups, dlq_dups) = check_against(setup, &three, &reference, &malformed);
    eprintln!(
        "embedded: three instances, one SIGKILLed: view equal; {dups} raw duplicate work-item events, {dlq_dups} duplicate DLQ records; {three_secs:.1} s"
    );
    let (dups, dlq_dups) = check_against(setup, &killed, &reference, &malformed);
    eprintln!(
        "embedded: one instance killed {kills} times: view equal; {dups} raw duplicate work-item events, {dlq_dups} duplicate DLQ records"
    );
    assert_eq!(kills, 10, "the input ran out after {kills} kills");
    let (dups, dlq_dups) = check_against(setup, &eos, &reference, &malformed);
    eprintln!(
        "embedded: one exactly_once instance: view equal; {dups} raw duplicate work-item events, {dlq_dups} duplicate DLQ records"
    );
    setup
        .kafka
        .check_retained(&setup.config.topics.mentions, MENTION_PARTITIONS);
}

/// One `exactly_once` instance on the embedded broker. The mock keeps no
/// transactional offsets, so "done" is: every mention committed by the
/// stateless stage, every mention row of the repartition topic taken in by
/// the keyed stage, nothing in flight and no new work-item event for 5 s.
/// (Idleness alone once stopped a run early while both cores were busy
/// with the other runs.)
fn run_exactly_once_on_mock(setup: &Setup, run: &Run) {
    let mut inst = run.start(setup, 0, 0);
    let n = setup.records.len() as i64;
    let mentions = &setup.config.topics.mentions;
    assert!(
        wait_until(Duration::from_secs(900), || {
            std::thread::sleep(Duration::from_millis(300));
            run.committed(setup, mentions, false) == n
        }),
        "eos: mentions not all committed; log:\n{}",
        tail(&inst.log_text(), 60)
    );
    // The stateless stage commits only what the repartition topic holds.
    let rows: f64 = setup
        .read_to_end(&run.repartition)
        .iter()
        .map(|m| {
            let batches = decode_ipc(m.payload().unwrap_or_default()).expect("repartition record");
            batches.iter().map(|b| b.num_rows() as f64).sum::<f64>()
        })
        .sum();
    let keyed_rows = || inst.metric("switchboard_stage_records_in_total{stage=\"spam\"}");
    let mut last = (-1.0, Instant::now());
    assert!(
        wait_until(Duration::from_secs(600), || {
            std::thread::sleep(Duration::from_millis(500));
            let out = inst.metric("switchboard_sink_records_total{sink=\"work_items\"}");
            if out != last.0 {
                last = (out, Instant::now());
            }
            keyed_rows() >= rows
                && inst.metric("switchboard_pipeline_in_flight_batches") == 0.0
                && last.1.elapsed() >= Duration::from_secs(5)
        }),
        "eos: the keyed stage took in {} of {rows} mention rows, or never went idle; log:\n{}",
        keyed_rows(),
        tail(&inst.log_text(), 60)
    );
    check_transactions(run, &[&inst]);
    let s = inst.stop();
    assert_accounted(&s);
}

/// A scoped thread's result, its panic passed on.
fn joined<T>(r: std::thread::Result<T>) -> T {
    r.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Three instances in one group; one gets `signal` (SIGKILL, or SIGTERM)
/// midway. Returns how long the run took.
fn run_three(setup: &Setup, run: &Run, signal: &str) -> f64 {
    let t1 = Instant::now();
    let mut insts: Vec<Instance> = (0..3).map(|i| run.start(setup, i, i)).collect();
    let n = setup.records.len() as f64;
    assert!(
        wait_until(Duration::from_secs(600), || insts
            .iter()
            .map(|i| i.metric("switchboard_source_records_total"))
            .sum::<f64>()
            >= n / 2.0),
        "three instances did not get halfway"
    );
    insts[1].signal(signal);
    insts[1].wait_exit(Duration::from_secs(40));
    run.wait_done(setup, Duration::from_secs(900), &[&insts[0], &insts[2]]);
    check_transactions(run, &[&insts[0], &insts[2]]);
    for i in [0, 2] {
        insts[i].stop();
    }
    t1.elapsed().as_secs_f64()
}

/// One instance killed with SIGKILL at ten random moments, restarted each
/// time; returns the number of kills.
fn run_kills(setup: &Setup, run: &Run) -> usize {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut kills = 0;
    let mut inst = run.start(setup, 0, 0);
    let mut restarts = 1;
    while kills < 10 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Between 0.5 and 4.5 s after the instance started working: during
        // processing, a checkpoint or a restore.
        let wait = Duration::from_millis(500 + rng % 4_000);
        // Once it works: consumed mentions, or ran the keyed stage (a
        // restart may first wait for the dead member's session to expire).
        let working = wait_until(Duration::from_secs(180), || {
            std::thread::sleep(Duration::from_millis(100));
            inst.metric("switchboard_source_records_total") > 0.0
                || inst.metric("switchboard_stage_records_in_total") > 0.0
                || run.done(setup)
        });
        assert!(
            working,
            "restarted instance never worked; log:\n{}",
            inst.log_text()
        );
        std::thread::sleep(wait);
        if run.done(setup) {
            break;
        }
        inst.signal("-KILL");
        inst.wait_exit(Duration::from_secs(10));
        kills += 1;
        inst = run.start(setup, restarts, 0);
        restarts += 1;
    }
    run.wait_done(setup, Duration::from_secs(900), &[&inst]);
    check_transactions(run, &[&inst]);
    inst.stop();
    kills
}

/// With `exactly_once` the keyed input offsets are committed only by
/// transactions (the source never commits them itself), so a run that is
/// done committed them there: the survivors counted committed transactions
/// and no aborted one. With `at_least_once` there are none.
fn check_transactions(run: &Run, survivors: &[&Instance]) {
    let count = |result: &str| -> f64 {
        survivors
            .iter()
            .map(|i| {
                i.metric(&format!(
                    "switchboard_state_transactions_total{{result=\"{result}\"}}"
                ))
            })
            .sum()
    };
    match run.delivery {
        Delivery::AtLeastOnce => assert_eq!(count("committed"), 0.0, "{}", run.name),
        Delivery::ExactlyOnce => {
            assert!(
                count("committed") > 0.0,
                "{}: no committed transaction",
                run.name
            );
            assert_eq!(count("aborted"), 0.0, "{}: aborted transactions", run.name);
        }
    }
}
