//! Kafka's size limits and the keyed stage's internal topics on a real
//! Apache Kafka broker (one node, `tests/support/kafka.rs`): librdkafka's
//! mock cluster enforces no size limit, so only a real broker can show that
//! what the pipeline writes fits.
//!
//! One keyed `switchboard run` reads mentions while the repartition and DLQ
//! topics accept only small records (`max.message.bytes`). It must finish
//! (every mention committed by both stages, no stall), split repartition
//! batches so that every record fits, cut DLQ copies that do not fit (with
//! the original length in a header) and account for every input record.
//! The changelog topic is left to the pipeline to create, compacted, with
//! `crm-contacts`' partition count.
//!
//! The same cluster has a SASL_SSL listener (SCRAM-SHA-512, a certificate
//! the launcher generates): a `switchboard run` configured through
//! `[kafka.properties]` reads all mentions through it without its password
//! showing in its log or metrics, and a wrong password stops `run` within
//! seconds with one line naming the authentication failure.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use support::cluster::{assert_accounted, client, Instance, START_MS};
use support::kafka::{KafkaCluster, KafkaOpts};
use switchboard::config::Config;
use switchboard::topology::wait_until;
use switchboard_operators::repartition::decode_ipc;
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{Expect, MentionGenConfig, MentionGenerator};

const PARTITIONS: i32 = 3;
/// The SCRAM-SHA-512 user's password; never to appear in logs or metrics.
const PASSWORD: &str = "pw-7Hq2-never-logged";
const WRONG_PASSWORD: &str = "pw-wrong-4Kx9-never-logged";
const RECORDS: usize = 4_000;
/// Invalid records larger than the DLQ topic accepts.
const BIG: usize = 5;
const BIG_BYTES: usize = 20_000;
const DLQ_MAX: usize = 8_192;
const REPARTITION_MAX: usize = 16_384;

/// Every record of `topic` (all partitions, from the beginning).
fn read_all(brokers: &str, topic: &str, partitions: i32) -> Vec<OwnedMessage> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "limits-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut eof = vec![false; partitions as usize];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while eof.contains(&false) && std::time::Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                eof[m.partition() as usize] = false;
                out.push(m.detach());
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => eof[p as usize] = true,
            _ => {}
        }
    }
    assert!(!eof.contains(&false), "no end of {topic}");
    out
}

/// Committed offsets of `group` on `topic`, summed, and the end offsets.
fn committed_and_end(brokers: &str, group: &str, topic: &str) -> (i64, i64) {
    let c = client(brokers, group);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let Ok(got) = c.committed_offsets(tpl, Duration::from_secs(10)) else {
        return (-1, 0);
    };
    let mut committed = 0;
    let mut end = 0;
    for p in 0..PARTITIONS {
        if let Some(Offset::Offset(o)) = got.find_partition(topic, p).map(|e| e.offset()) {
            committed += o;
        }
        end += c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_or(0, |w| w.1);
    }
    (committed, end)
}

fn header(m: &OwnedMessage, key: &str) -> Option<String> {
    let h = m.headers()?;
    h.iter()
        .find(|h| h.key == key)
        .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
}

fn topic_config(admin: &AdminClient<DefaultClientContext>, topic: &str, key: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt
        .block_on(admin.describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new()))
        .unwrap();
    let r = res.into_iter().next().unwrap().unwrap();
    r.get(key).and_then(|e| e.value.clone()).unwrap_or_default()
}

#[test]
fn records_fit_the_topics_size_limits_and_every_input_is_accounted_for() {
    let kafka = KafkaCluster::start(KafkaOpts::nodes(1).sasl("switchboard", PASSWORD));
    let brokers = kafka.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.kafka.brokers = brokers.clone();
    config.kafka.group_id = "limits".into();
    config.topics.repartition = "limits-repartition".into();
    config.topics.changelog = "limits-correlate-changelog".into();
    config.pipeline.keyed_stage = true;
    config.source.workers = 2;
    config.source.commit_interval_ms = 200;
    // Large worker batches: their Arrow IPC is far over the repartition
    // topic's limit, so they must be split.
    config.source.max_batch_rows = 2_000;
    let t = &config.topics;
    for topic in [
        &t.mentions,
        &t.work_items,
        &t.crm_identity_updates,
        &t.crm_contacts,
    ] {
        kafka.create_topic(topic, PARTITIONS, 1, &[]);
    }
    kafka.create_topic(&t.incidents, 1, 1, &[]);
    let dlq_max = DLQ_MAX.to_string();
    kafka.create_topic(&t.dlq, PARTITIONS, 1, &[("max.message.bytes", &dlq_max)]);
    let rep_max = REPARTITION_MAX.to_string();
    kafka.create_topic(
        &t.repartition,
        PARTITIONS,
        1,
        &[("max.message.bytes", &rep_max)],
    );
    // The changelog is not created here: `run` creates it.
    let crm = dir.path().join("crm");
    write_crm_snapshot(
        &crm,
        &CrmGenConfig {
            customers: 1000,
            seed: 11,
            valid_from: chrono::DateTime::from_timestamp_millis(START_MS - 86_400_000).unwrap(),
        },
    )
    .unwrap();
    config.identity.snapshot_dir = crm.display().to_string();
    let records: Vec<_> = MentionGenerator::new(MentionGenConfig {
        seed: 11,
        customers: 1000,
        start_ms: START_MS,
        events_per_sec: 50.0,
        malformed_ratio: 0.02,
        ..MentionGenConfig::default()
    })
    .take(RECORDS)
    .collect();
    let malformed = records
        .iter()
        .filter(|r| matches!(r.expect, Expect::Malformed(_)))
        .count();
    let produced = switchboard_tools::generate::kafka::produce_to_topic(
        &brokers,
        &config.topics.mentions,
        records.into_iter(),
        RECORDS as u64,
        None,
    )
    .unwrap();
    assert_eq!(produced, RECORDS as u64);
    // Invalid JSON under parse.max_record_bytes but over the DLQ's limit.
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let big = vec![b'{'; BIG_BYTES];
    for i in 0..BIG {
        let key = format!("big-{i}");
        p.send(
            BaseRecord::to(&config.topics.mentions)
                .key(&key)
                .payload(&big[..]),
        )
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();

    let port = support::free_port();
    config.metrics.addr = format!("127.0.0.1:{port}");
    let path = dir.path().join("limits.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let mut inst = Instance::start(&path, port, dir.path().join("limits.log"));

    let total = (RECORDS + BIG) as i64;
    let done = || {
        let (m, _) = committed_and_end(&brokers, "limits", &config.topics.mentions);
        let (r, r_end) = committed_and_end(&brokers, "limits-keyed", &config.topics.repartition);
        m == total && r == r_end && r_end > 0
    };
    assert!(
        wait_until(Duration::from_secs(300), || {
            std::thread::sleep(Duration::from_millis(500));
            done()
        }),
        "not done (stalled?): mentions {:?}, repartition {:?}; log:\n{}",
        committed_and_end(&brokers, "limits", &config.topics.mentions),
        committed_and_end(&brokers, "limits-keyed", &config.topics.repartition),
        inst.log_text()
    );
    let oversize = |sink: &str, outcome: &str| {
        inst.metric(&format!(
            "switchboard_sink_oversize_records_total{{outcome=\"{outcome}\",sink=\"{sink}\"}}"
        )) + inst.metric(&format!(
            "switchboard_sink_oversize_records_total{{sink=\"{sink}\",outcome=\"{outcome}\"}}"
        ))
    };
    let split = oversize("repartition", "split");
    let truncated = oversize("dlq", "truncated");
    let dropped: f64 = ["repartition", "changelog", "work_items", "incidents", "dlq"]
        .iter()
        .map(|s| oversize(s, "dropped"))
        .sum();
    let failures = inst.metric("switchboard_sink_delivery_failures_total")
        + inst.metric("switchboard_dlq_delivery_failures_total");
    let s: BTreeMap<String, u64> = inst.stop();
    eprintln!("summary {s:?}; split {split}, truncated {truncated}, dropped {dropped}");

    // Every input record: a parsed mention record or a DLQ record.
    assert_eq!(s["records_in"], total as u64, "{s:?}");
    assert_eq!(s["dlq"], (malformed + BIG) as u64, "{s:?}");
    assert_accounted(&s);
    assert_eq!(failures, 0.0, "no delivery failed");
    assert_eq!(dropped, 0.0, "nothing had to be dropped");
    assert!(
        split > 0.0,
        "worker batches were split to fit the repartition topic"
    );
    // The big records, and the generator's own over-long ones.
    assert!(
        truncated >= BIG as f64,
        "the big records' DLQ copies were cut"
    );

    // Every repartition record fits, and together they hold every mention row.
    let reps = read_all(&brokers, &config.topics.repartition, PARTITIONS);
    let mut rows = 0;
    for m in &reps {
        let v = m.payload().unwrap();
        assert!(v.len() <= REPARTITION_MAX, "{} bytes", v.len());
        rows += decode_ipc(v)
            .unwrap()
            .iter()
            .map(|b| b.num_rows() as u64)
            .sum::<u64>();
    }
    assert_eq!(
        rows, s["mentions"],
        "every mention row crossed the repartition topic"
    );

    // The DLQ holds every rejected record; the big ones cut, saying so.
    let dlq = read_all(&brokers, &config.topics.dlq, PARTITIONS);
    assert_eq!(dlq.len(), malformed + BIG);
    let cut: Vec<&OwnedMessage> = dlq
        .iter()
        .filter(|m| header(m, "error.truncated_from_bytes").is_some())
        .collect();
    assert_eq!(cut.len() as f64, truncated, "each cut copy counted once");
    for m in &dlq {
        let v = m.payload().unwrap();
        assert!(v.len() < DLQ_MAX, "{} bytes", v.len());
        assert!(header(m, "error.reason").is_some());
    }
    let big_keys = dlq
        .iter()
        .filter(|m| m.key().is_some_and(|k| k.starts_with(b"big-")))
        .count();
    assert_eq!(big_keys, BIG);
    for m in cut {
        let from: usize = header(m, "error.truncated_from_bytes")
            .unwrap()
            .parse()
            .unwrap();
        let v = m.payload().unwrap();
        assert!(
            v.len() > DLQ_MAX / 2 && from > v.len(),
            "{} of {from} bytes",
            v.len()
        );
        if m.key().is_some_and(|k| k.starts_with(b"big-")) {
            assert_eq!(from, BIG_BYTES);
            assert!(v.iter().all(|b| *b == b'{'), "a prefix of the original");
        }
    }

    // The changelog was created by `run`: compacted, co-partitioned.
    assert_eq!(
        kafka.partitions(&config.topics.changelog).len(),
        PARTITIONS as usize
    );
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    assert_eq!(
        topic_config(&admin, &config.topics.changelog, "cleanup.policy"),
        "compact"
    );

    // Not allowed to create it: `run` stops at once, naming what is missing.
    let mut c2 = config.clone();
    c2.kafka.group_id = "limits-strict".into();
    c2.topics.repartition = "strict-repartition".into();
    c2.topics.changelog = "strict-changelog".into();
    c2.topics.create_internal = false;
    let port = support::free_port();
    c2.metrics.addr = format!("127.0.0.1:{port}");
    let path = dir.path().join("strict.toml");
    std::fs::write(&path, toml::to_string(&c2).unwrap()).unwrap();
    let mut strict = Instance::start(&path, port, dir.path().join("strict.log"));
    let (code, took) = strict.wait_exit(Duration::from_secs(60));
    let log = strict.log_text();
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}; log:\n{log}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let line = log
        .lines()
        .find(|l| l.contains("strict-repartition"))
        .unwrap_or_else(|| panic!("no line names the topic; log:\n{log}"));
    assert!(
        line.contains("is missing") && line.contains("create it with 3 partitions"),
        "{line}"
    );

    sasl_run(&kafka, &config, dir.path(), total);
}

/// `switchboard run` through the SASL_SSL listener: the right password
/// reads everything, the wrong one fails fast in one line; neither shows.
fn sasl_run(kafka: &KafkaCluster, base: &Config, dir: &std::path::Path, total: i64) {
    let start = |name: &str, password: &str| {
        let mut c = base.clone();
        c.kafka.group_id = name.into();
        c.pipeline.keyed_stage = false;
        for (k, v) in kafka.sasl_client_props(password) {
            if k == "bootstrap.servers" {
                c.kafka.brokers = v;
            } else {
                c.kafka.properties.insert(k, v);
            }
        }
        let port = support::free_port();
        c.metrics.addr = format!("127.0.0.1:{port}");
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
        Instance::start(&path, port, dir.join(format!("{name}.log")))
    };
    let mut bad = start("sasl-bad", WRONG_PASSWORD);
    let (code, took) = bad.wait_exit(Duration::from_secs(60));
    let log = bad.log_text();
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}; log:\n{log}");
    assert!(took < Duration::from_secs(20), "took {took:?}; log:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("cannot use Kafka"))
        .unwrap_or_else(|| panic!("no one-line error; log:\n{log}"));
    assert!(line.to_lowercase().contains("authentication"), "{line}");
    assert!(!log.contains(WRONG_PASSWORD), "the password is in the log");

    let brokers = kafka.bootstrap();
    let mut good = start("sasl-good", PASSWORD);
    assert!(
        wait_until(Duration::from_secs(300), || {
            std::thread::sleep(Duration::from_millis(500));
            committed_and_end(&brokers, "sasl-good", &base.topics.mentions).0 == total
        }),
        "SASL run did not commit everything; log:\n{}",
        good.log_text()
    );
    let (_, metrics) = good.get("/metrics").expect("metrics");
    assert!(metrics.contains("switchboard_source_records_total"));
    assert!(!metrics.contains(PASSWORD), "the password is in /metrics");
    let s = good.stop();
    assert_eq!(s["records_in"], total as u64, "{s:?}");
    assert!(
        !good.log_text().contains(PASSWORD),
        "the password is in the log"
    );
}
