//! Scale-out, crashes and broker failures with the keyed stage
//! (`pipeline.keyed_stage`): `switchboard run` processes on a three-node
//! Apache Kafka cluster (replication factor 3, `min.insync.replicas` 2),
//! killed with SIGKILL, in both delivery modes: one instance killed ten
//! times, three instances with one killed, the broker leading the most
//! partitions killed and restarted, and a rebalance storm.
//!
//! The reference is one instance that is never killed. Each other run reads
//! the same input in its own consumer groups and writes its own topics; its
//! *latest-revision view* of `work-items` (per `work_item_id`, the event
//! with the highest revision, read `read_committed`) must equal the
//! reference's, event for event. Every input record is accounted for: the
//! reference accounts for each mention row (work item or counted spam drop)
//! and each malformed record (DLQ); every run's DLQ holds exactly the
//! malformed records. `exactly_once` runs must show no `(work_item_id,
//! revision)` twice; `at_least_once` runs count their duplicates.
//!
//! What makes runs comparable: a customer's mentions must reach the keyed
//! stage in one order whatever the topology, so the input is keyed by
//! customer (`key_by_customer`: one `mentions` partition per customer) and
//! multi-mention Facebook webhooks have one author. Order *across*
//! customers still differs between runs, so the two operators that count
//! across customers — spam repetition and incident spikes — are switched
//! off here (docs/decisions.md, "Scale-out").
//!
//! The tests share one cluster, one input topic and the reference (built
//! by the first test that needs them) and run one at a time: each keeps
//! both cores busy.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::message::Headers;
use rdkafka::Message;
use switchboard::config::{Config, Delivery};
use switchboard::topology::wait_until;
use switchboard_tools::generate::mentions::{Expect, MentionGenConfig};

mod support;
use support::cluster::{assert_accounted, client, Instance, Setup, START_MS};
use support::kafka::{shared_cluster, KafkaCluster, KafkaOpts};

/// Mention partitions (the input is keyed by customer).
const MENTION_PARTITIONS: i32 = 12;
/// Repartition and changelog partitions.
const KEYED_PARTITIONS: i32 = 12;

/// What the tests share: the cluster, the input and the reference's view.
struct Shared {
    setup: Setup,
    malformed: HashSet<(i32, i64)>,
    reference: BTreeMap<String, serde_json::Value>,
}

/// The shared cluster, input and reference, built once (by the first test
/// to ask, under the [`one_at_a_time`] lock).
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let kafka = shared_cluster(KafkaOpts::nodes(3));
        eprintln!(
            "scale: 3-node cluster started in {:.1?}",
            kafka.started_in()
        );
        let t0 = Instant::now();
        let setup = setup(kafka, input_size(200_000));
        let dir = setup.dir.path().to_path_buf();
        support::at_exit(move || {
            let _ = std::fs::remove_dir_all(dir);
        });
        eprintln!(
            "scale: {} mentions produced in {:.1?}",
            setup.records.len(),
            t0.elapsed()
        );
        let malformed = malformed(&setup);
        assert!(!malformed.is_empty());
        let reference = reference(&setup);
        Shared {
            setup,
            malformed,
            reference,
        }
    })
}

/// The scenarios run one at a time: each keeps both cores busy, and the
/// broker failover must not hit another run.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One run's consumer group, topics and delivery mode.
struct Run {
    name: String,
    delivery: Delivery,
    group: String,
    work_items: String,
    dlq: String,
    repartition: String,
    changelog: String,
    incidents: String,
}

impl Run {
    fn new(setup: &Setup, name: &str, delivery: Delivery) -> Self {
        let topic = |t: &str| format!("scale.{name}.{t}");
        let r = Self {
            name: name.into(),
            delivery,
            group: format!("sb-{name}"),
            work_items: topic("work-items"),
            dlq: topic("dlq"),
            repartition: topic("repartition"),
            changelog: topic("changelog"),
            incidents: topic("incidents"),
        };
        let kafka = &setup.kafka;
        let rf = kafka.replication_factor();
        for t in [&r.work_items, &r.dlq] {
            kafka.create_topic(t, MENTION_PARTITIONS, rf, &[]);
        }
        for t in [&r.repartition, &r.changelog] {
            kafka.create_topic(t, KEYED_PARTITIONS, rf, &[]);
        }
        kafka.create_topic(&r.incidents, 1, rf, &[]);
        r
    }

    /// Deletes the run's topics (once checked): later runs share the
    /// cluster, and the failover test restarts a node with every replica.
    fn delete_topics(&self, kafka: &KafkaCluster) {
        for t in [
            &self.work_items,
            &self.dlq,
            &self.repartition,
            &self.changelog,
            &self.incidents,
        ] {
            kafka.delete_topic(t);
        }
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
            c.topics.incidents = self.incidents.clone();
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
    /// (the same id and revision seen again; each must be identical), read
    /// `read_committed`.
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
    // A debugging knob; the suite runs the size below (the floor).
    std::env::var("SB_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn setup(kafka: Arc<KafkaCluster>, n: usize) -> Setup {
    Setup::build(
        kafka,
        "scale",
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
    )
}

/// The reference: one `at_least_once` instance, never killed, stopped
/// with SIGTERM; every record accounted for.
fn reference(setup: &Setup) -> BTreeMap<String, serde_json::Value> {
    let t0 = Instant::now();
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
        "scale: reference: {} work items, {} raw duplicate work-item events, {:.1} s, summary {s:?}",
        view.len(),
        dups,
        t0.elapsed().as_secs_f64()
    );
    run.delete_topics(&setup.kafka);
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

/// Compares a run's view and DLQ with the reference's; in `exactly_once`
/// no event may be read twice. Prints and returns the raw duplicate
/// work-item events and DLQ records, and deletes the run's topics.
fn check(shared: &Shared, run: &Run, what: &str, started: Instant) -> (usize, usize) {
    let setup = &shared.setup;
    let reference = &shared.reference;
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
    assert_eq!(
        &dlq, &shared.malformed,
        "{}: DLQ = the malformed records",
        run.name
    );
    let dlq_dups = raw_dlq - dlq.len();
    eprintln!(
        "scale: {what} ({:?}): view equal to the reference ({} items); {dups} raw duplicate work-item events, {dlq_dups} duplicate DLQ records; {:.1} s",
        run.delivery,
        view.len(),
        started.elapsed().as_secs_f64()
    );
    if run.delivery == Delivery::ExactlyOnce {
        assert_eq!(
            dups, 0,
            "{}: a read_committed reader saw a work-item revision twice",
            run.name
        );
    }
    run.delete_topics(&setup.kafka);
    (dups, dlq_dups)
}

#[test]
fn at_least_once_one_instance_killed_ten_times_matches_the_reference() {
    kills(Delivery::AtLeastOnce, "kills-alo");
}

#[test]
fn exactly_once_one_instance_killed_ten_times_matches_the_reference() {
    kills(Delivery::ExactlyOnce, "kills-eos");
}

#[test]
fn at_least_once_three_instances_one_killed_match_the_reference() {
    three(Delivery::AtLeastOnce, "three-alo");
}

#[test]
fn exactly_once_three_instances_one_killed_match_the_reference() {
    three(Delivery::ExactlyOnce, "three-eos");
}

#[test]
fn at_least_once_survives_its_busiest_broker_killed_and_restarted() {
    broker_failover(Delivery::AtLeastOnce, "failover-alo");
}

#[test]
fn exactly_once_survives_its_busiest_broker_killed_and_restarted() {
    broker_failover(Delivery::ExactlyOnce, "failover-eos");
}

#[test]
fn exactly_once_rebalance_storm_matches_the_reference() {
    storm(Delivery::ExactlyOnce, "storm-eos");
}

/// One instance killed with SIGKILL at ten random moments, restarted each
/// time in the same slot.
fn kills(delivery: Delivery, name: &str) {
    let _one = one_at_a_time();
    let shared = shared();
    let setup = &shared.setup;
    let t0 = Instant::now();
    let run = Run::new(setup, name, delivery);
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ name.len() as u64;
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
    let txns = check_transactions(&run, &[&inst], true);
    inst.stop();
    let (dups, _) = check(
        shared,
        &run,
        &format!("one instance killed {kills} times"),
        t0,
    );
    eprintln!("scale: {name}: {kills} kills, {dups} duplicates, transactions {txns:?}");
    assert_eq!(kills, 10, "the input ran out after {kills} kills");
}

/// Three instances in one group; one is SIGKILLed midway.
fn three(delivery: Delivery, name: &str) {
    let _one = one_at_a_time();
    let shared = shared();
    let setup = &shared.setup;
    let t0 = Instant::now();
    let run = Run::new(setup, name, delivery);
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
    insts[1].signal("-KILL");
    insts[1].wait_exit(Duration::from_secs(40));
    run.wait_done(setup, Duration::from_secs(900), &[&insts[0], &insts[2]]);
    // A survivor's transaction may be refused while the group rebalances
    // (its offsets carry the old generation): aborted, and replayed.
    let txns = check_transactions(&run, &[&insts[0], &insts[2]], false);
    for i in [0, 2] {
        insts[i].stop();
    }
    let (dups, _) = check(shared, &run, "three instances, one SIGKILLed", t0);
    eprintln!("scale: {name}: {dups} duplicates, transactions {txns:?}");
}

/// One instance; midway the node leading the most partitions of the input
/// and of the run's `work-items` is SIGKILLed, and restarted 20 s later.
fn broker_failover(delivery: Delivery, name: &str) {
    let _one = one_at_a_time();
    let shared = shared();
    let setup = &shared.setup;
    let kafka = &setup.kafka;
    let t0 = Instant::now();
    let run = Run::new(setup, name, delivery);
    let mut inst = run.start(setup, 0, 0);
    let n = setup.records.len() as f64;
    inst.wait_consumed(n / 3.0, Duration::from_secs(600));
    let victim = kafka.busiest_leader(&[&setup.config.topics.mentions, &run.work_items]);
    let leads = kafka.leader_counts(&[&setup.config.topics.mentions, &run.work_items]);
    let consumed_at_kill = inst.metric("switchboard_source_records_total");
    kafka.kill(victim);
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    assert!(
        inst.child.try_wait().unwrap().is_none(),
        "the broker failure killed the instance; log:\n{}",
        tail(&inst.log_text(), 60)
    );
    let restart_at = Instant::now();
    kafka.restart(victim);
    eprintln!(
        "scale: {name}: node {victim} (partitions led per node: {leads:?}) SIGKILLed at {consumed_at_kill:.0} of {n} mentions consumed, restarted {:.1?} later, serving {:.1?} after its restart",
        restart_at - killed_at,
        restart_at.elapsed()
    );
    run.wait_done(setup, Duration::from_secs(900), &[&inst]);
    let txns = check_transactions(&run, &[&inst], false);
    inst.stop();
    let (dups, _) = check(shared, &run, &format!("node {victim} killed for 20 s"), t0);
    eprintln!("scale: {name}: {dups} duplicates, transactions {txns:?}");
}

/// One instance runs throughout; every 10 s for a minute a second one
/// joins or leaves (SIGTERM, a clean exit): six rebalances.
fn storm(delivery: Delivery, name: &str) {
    let _one = one_at_a_time();
    let shared = shared();
    let setup = &shared.setup;
    let t0 = Instant::now();
    let run = Run::new(setup, name, delivery);
    let base = run.start(setup, 0, 0);
    base.wait_consumed(1.0, Duration::from_secs(120));
    let storm = Instant::now();
    let mut slot = 1;
    let mut joins = Vec::new();
    while storm.elapsed() < Duration::from_secs(60) {
        let mut extra = run.start(setup, slot, slot);
        slot += 1;
        std::thread::sleep(Duration::from_secs(10));
        let s = extra.stop();
        joins.push(s["records_in"]);
        std::thread::sleep(Duration::from_secs(10));
    }
    let consumed = base.metric("switchboard_source_records_total");
    eprintln!(
        "scale: {name}: {} instances joined and left in {:.1?} (first stage records each: {joins:?}); the base instance had consumed {consumed} by then",
        joins.len(),
        storm.elapsed()
    );
    assert!(
        consumed < setup.records.len() as f64,
        "the input ran out during the storm: make it longer"
    );
    run.wait_done(setup, Duration::from_secs(900), &[&base]);
    let txns = check_transactions(&run, &[&base], false);
    let mut base = base;
    base.stop();
    let (dups, _) = check(shared, &run, "rebalance storm", t0);
    eprintln!("scale: {name}: {dups} duplicates, transactions {txns:?}");
}

/// With `exactly_once` the keyed input offsets are committed only by
/// transactions (the source never commits them itself), so a run that is
/// done committed them there: the survivors counted committed transactions
/// (and, with `no_aborts`, no aborted one). With `at_least_once` there are
/// none. Returns (committed, aborted).
fn check_transactions(run: &Run, survivors: &[&Instance], no_aborts: bool) -> (f64, f64) {
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
    let (committed, aborted) = (count("committed") + 0.0, count("aborted") + 0.0);
    match run.delivery {
        Delivery::AtLeastOnce => assert_eq!(committed, 0.0, "{}", run.name),
        Delivery::ExactlyOnce => {
            assert!(committed > 0.0, "{}: no committed transaction", run.name);
            if no_aborts {
                assert_eq!(aborted, 0.0, "{}: aborted transactions", run.name);
            }
        }
    }
    (committed, aborted)
}
