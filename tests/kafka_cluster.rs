//! The Apache Kafka launcher (`tests/support/kafka.rs`) against real
//! brokers: one node, a three-node cluster losing its partition leader to
//! SIGKILL, a SASL_SSL/SCRAM-SHA-512 listener, and transaction markers.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use support::kafka::{KafkaCluster, KafkaOpts};

/// One consumed record: partition, offset, payload.
type Rec = (i32, i64, String);

/// Reads `topic`'s partitions from the beginning until `want` records
/// arrived and every partition reached its end (or a minute passed).
fn consume_all(config: ClientConfig, topic: &str, partitions: i32, want: usize) -> Vec<Rec> {
    consume_to_end(config, topic, partitions, want).0
}

/// `consume_all`, and each partition's consumer position at the end.
fn consume_to_end(
    config: ClientConfig,
    topic: &str,
    partitions: i32,
    want: usize,
) -> (Vec<Rec>, Vec<Offset>) {
    let props = [
        ("group.id", "kafka-cluster-test"),
        ("enable.auto.commit", "false"),
        ("enable.partition.eof", "true"),
    ];
    let consumer: BaseConsumer = with(config, &props).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut at_end = vec![false; partitions as usize];
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && (out.len() < want || at_end.contains(&false)) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                at_end[m.partition() as usize] = false;
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                out.push((m.partition(), m.offset(), v));
            }
            Some(Err(KafkaError::PartitionEOF(p))) => at_end[p as usize] = true,
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None => {}
        }
    }
    let pos = consumer.position().unwrap();
    let positions = (0..partitions)
        .map(|p| pos.find_partition(topic, p).unwrap().offset())
        .collect();
    (out, positions)
}

fn with(mut config: ClientConfig, props: &[(&str, &str)]) -> ClientConfig {
    for (k, v) in props {
        config.set(*k, *v);
    }
    config
}

/// Counts acknowledged and failed deliveries; keeps client errors.
#[derive(Default)]
struct Reports {
    acked: AtomicUsize,
    failed: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

impl ClientContext for Reports {
    fn error(&self, error: KafkaError, reason: &str) {
        self.errors
            .lock()
            .unwrap()
            .push(format!("{error} | {reason}"));
    }
    fn log(&self, _: RDKafkaLogLevel, _: &str, _: &str) {}
}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => self.failed.lock().unwrap().push(e.to_string()),
        }
    }
}

fn producer(config: ClientConfig, props: &[(&str, &str)]) -> BaseProducer<Reports> {
    with(config, props)
        .create_with_context(Reports::default())
        .unwrap()
}

fn send(p: &BaseProducer<Reports>, topic: &str, partition: i32, value: &str) {
    let mut rec = BaseRecord::<(), str>::to(topic)
        .partition(partition)
        .payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((e, r)) => {
                assert!(
                    matches!(e, KafkaError::MessageProduction(_)),
                    "produce: {e}"
                );
                // Queue full: serve delivery reports and try again.
                p.poll(Duration::from_millis(50));
                rec = r;
            }
        }
    }
}

#[test]
fn one_node_produce_and_consume() {
    // An extra broker property reaches the broker: a 100 kB limit.
    let kafka = KafkaCluster::start(KafkaOpts::nodes(1).prop("message.max.bytes", 100_000));
    eprintln!("start time, 1 node: {:.1?}", kafka.started_in());
    kafka.create_topic("plain", 2, 1, &[]);
    let p = producer(kafka.client_config(), &[("acks", "all")]);
    for i in 0..200 {
        send(&p, "plain", i % 2, &format!("m{i}"));
    }
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(p.context().acked.load(Ordering::Relaxed), 200);
    let got = consume_all(kafka.client_config(), "plain", 2, 200);
    assert_eq!(got.len(), 200);
    for part in 0..2 {
        let offsets: Vec<i64> = got.iter().filter(|r| r.0 == part).map(|r| r.1).collect();
        assert_eq!(offsets, (0..100).collect::<Vec<_>>(), "partition {part}");
    }

    send(&p, "plain", 0, &"x".repeat(150_000));
    p.flush(Duration::from_secs(30)).unwrap();
    let failed = p.context().failed.lock().unwrap().clone();
    eprintln!("a 150 kB record against message.max.bytes=100000: {failed:?}");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("too large"), "{failed:?}");
}

#[test]
fn three_nodes_survive_a_killed_leader() {
    let kafka = KafkaCluster::start(KafkaOpts::nodes(3));
    eprintln!("start time, 3 nodes: {:.1?}", kafka.started_in());
    let topic = "failover";
    kafka.create_topic(topic, 3, 3, &[]);
    let victim = kafka.leader_of(topic, 0);
    assert!(victim >= 0);
    let p = producer(
        kafka.client_config(),
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "5"),
            ("message.timeout.ms", "120000"),
        ],
    );
    let stop = AtomicBool::new(false);
    let sent = std::thread::scope(|s| {
        let producing = s.spawn(|| {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                send(&p, topic, (i % 3) as i32, &i.to_string());
                p.poll(Duration::ZERO);
                i += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
            p.flush(Duration::from_secs(120)).unwrap();
            i
        });
        let acked = || p.context().acked.load(Ordering::Relaxed);
        let wait_acked = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(120);
            while acked() < n {
                assert!(Instant::now() < deadline, "stuck at {} acked", acked());
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        wait_acked(300);
        let killed_at = Instant::now();
        kafka.kill(victim);
        let after = kafka.wait_partition(
            topic,
            0,
            Duration::from_secs(60),
            "led by a survivor",
            |st| st.leader >= 0 && st.leader != victim && !st.isr.contains(&victim),
        );
        eprintln!(
            "node {victim} SIGKILLed; {topic}[0] led by {} after {:.1?}, ISR {:?}",
            after.leader,
            killed_at.elapsed(),
            after.isr
        );
        let before_restart = acked();
        wait_acked(before_restart + 300);
        let restarted_at = Instant::now();
        kafka.restart(victim);
        let back =
            kafka.wait_partition(topic, 0, Duration::from_secs(60), "with a full ISR", |st| {
                st.isr.len() == 3
            });
        eprintln!(
            "node {victim} restarted, serving after {:.1?}; {topic}[0] ISR {:?}",
            restarted_at.elapsed(),
            back.isr
        );
        for part in 1..3 {
            kafka.wait_partition(
                topic,
                part,
                Duration::from_secs(60),
                "with a full ISR",
                |st| st.isr.len() == 3,
            );
        }
        wait_acked(acked() + 100);
        stop.store(true, Ordering::Relaxed);
        producing.join().unwrap()
    });
    let failed = p.context().failed.lock().unwrap().clone();
    assert!(failed.is_empty(), "failed deliveries: {failed:?}");
    assert_eq!(p.context().acked.load(Ordering::Relaxed), sent);
    let got = consume_all(kafka.client_config(), topic, 3, sent);
    // Every record exactly once, in order within its partition.
    let mut per_part: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (part, _, v) in &got {
        per_part.entry(*part).or_default().push(v.parse().unwrap());
    }
    let mut all: Vec<usize> = per_part.values().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..sent).collect::<Vec<_>>(),
        "lost or duplicated records"
    );
    for (part, vals) in &per_part {
        assert!(
            vals.windows(2).all(|w| w[0] < w[1]),
            "partition {part} out of order"
        );
    }
    eprintln!("{sent} records produced across the failover, each read once");
}

#[test]
fn sasl_ssl_scram_accepts_the_password_and_rejects_a_wrong_one() {
    let kafka = KafkaCluster::start(KafkaOpts::nodes(1).sasl("switchboard", "s3cret-Pw"));
    kafka.create_topic("secure", 1, 1, &[]);
    let password = kafka.sasl_user().unwrap().password.clone();

    let p = producer(kafka.sasl_client_config(&password), &[]);
    for i in 0..20 {
        send(&p, "secure", 0, &format!("s{i}"));
    }
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(p.context().acked.load(Ordering::Relaxed), 20);
    let got = consume_all(kafka.sasl_client_config(&password), "secure", 1, 20);
    assert_eq!(got.len(), 20);

    let t0 = Instant::now();
    let bad = producer(
        kafka.sasl_client_config("wrong-password"),
        &[("message.timeout.ms", "20000")],
    );
    send(&bad, "secure", 0, "never");
    let deadline = t0 + Duration::from_secs(15);
    while bad.context().errors.lock().unwrap().is_empty() && Instant::now() < deadline {
        bad.poll(Duration::from_millis(50));
    }
    let errors = bad.context().errors.lock().unwrap().clone();
    eprintln!(
        "wrong password: after {:.1?}: {:?}",
        t0.elapsed(),
        errors.first()
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Authentication") || e.contains("authentication")),
        "no authentication error within 15 s: {errors:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "slow to report");
    assert_eq!(bad.context().acked.load(Ordering::Relaxed), 0);
}

#[test]
fn transaction_markers_sit_between_records_and_the_high_watermark() {
    let kafka = KafkaCluster::start(KafkaOpts::nodes(1));
    let topic = "txn";
    kafka.create_topic(topic, 1, 1, &[]);
    let p = producer(
        kafka.client_config(),
        &[("transactional.id", "launcher-test")],
    );
    let t = Duration::from_secs(30);
    p.init_transactions(t).unwrap();
    let batches: [(&[&str], bool); 3] = [
        (&["c0", "c1", "c2"], true),
        (&["a0", "a1"], false),
        (&["c3"], true),
    ];
    for (values, commit) in batches {
        p.begin_transaction().unwrap();
        for v in values {
            send(&p, topic, 0, v);
        }
        if commit {
            p.commit_transaction(t).unwrap();
        } else {
            p.flush(t).unwrap();
            p.abort_transaction(t).unwrap();
        }
    }

    let (committed, end) = consume_to_end(
        with(
            kafka.client_config(),
            &[("isolation.level", "read_committed")],
        ),
        topic,
        1,
        4,
    );
    let uncommitted = consume_all(
        with(
            kafka.client_config(),
            &[("isolation.level", "read_uncommitted")],
        ),
        topic,
        1,
        6,
    );
    let probe: BaseConsumer = kafka.client_config().create().unwrap();
    let (low, high) = probe.fetch_watermarks(topic, 0, t).unwrap();
    let show = |r: &[Rec]| {
        r.iter()
            .map(|r| format!("{}@{}", r.2, r.1))
            .collect::<Vec<_>>()
    };
    eprintln!(
        "read_committed: {:?}, position at the end {:?}; read_uncommitted: {:?}; watermarks [{low}, {high})",
        show(&committed),
        end[0],
        show(&uncommitted)
    );
    let values = |r: &[Rec]| r.iter().map(|r| r.2.clone()).collect::<Vec<_>>();
    assert_eq!(values(&committed), ["c0", "c1", "c2", "c3"]);
    assert_eq!(values(&uncommitted), ["c0", "c1", "c2", "a0", "a1", "c3"]);
    // Each transaction ends with a control record (commit or abort marker)
    // that takes an offset and is never delivered: 0-2 data, 3 commit,
    // 4-5 aborted data, 6 abort, 7 data, 8 commit; high watermark 9.
    let offsets = |r: &[Rec]| r.iter().map(|r| r.1).collect::<Vec<_>>();
    assert_eq!(offsets(&committed), [0, 1, 2, 7]);
    assert_eq!(offsets(&uncommitted), [0, 1, 2, 4, 5, 7]);
    assert_eq!((low, high), (0, 9));
    let last = committed.last().unwrap().1;
    assert!(
        last + 1 < high,
        "the commit marker lies past the last record"
    );
    // librdkafka's position moves past the final marker once the partition
    // end is reached: a restore can stop at `position >= high`.
    assert_eq!(end[0], Offset::Offset(high));
}
