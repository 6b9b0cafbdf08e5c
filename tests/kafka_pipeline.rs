//! End-to-end pipeline tests on the embedded broker (librdkafka's mock
//! cluster, real Kafka protocol on 127.0.0.1).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use switchboard::cli::demo::create_topics;
use switchboard::config::Config;
use switchboard::metrics::Health;
use switchboard::metrics::PipelineStats;
use switchboard::stage::parse_worker::dlq_reason_label;
use switchboard::topology::{wait_until, Pipeline};
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::mentions::{
    Expect, GeneratedRecord, MentionGenConfig, MentionGenerator,
};

const PARTITIONS: i32 = 4;

fn config_for(kafka: &EmbeddedKafka, group: &str) -> Config {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let mut c = Config::default();
    c.kafka.brokers = kafka.bootstrap_servers();
    c.kafka.group_id = group.into();
    c.metrics.addr = String::new();
    c.source.workers = 2;
    c.source.commit_interval_ms = 200;
    if let Ok(d) = std::env::var("SB_KAFKA_DEBUG") {
        c.kafka.properties.insert("debug".into(), d);
    }
    c
}

fn produce(brokers: &str, topic: &str, records: &[GeneratedRecord]) {
    let n = switchboard_tools::generate::kafka::produce_to_topic(
        brokers,
        topic,
        records.iter().cloned(),
        records.len() as u64,
        None,
    )
    .expect("produce");
    assert_eq!(n, records.len() as u64);
}

struct Running {
    health: Arc<Health>,
    stop: Arc<AtomicBool>,
    stats: Arc<PipelineStats>,
    tracker: Arc<switchboard::state::offsets::OffsetTracker>,
    handle: std::thread::JoinHandle<switchboard::Result<()>>,
}

fn start(config: &Config) -> Running {
    let health = Health::new();
    let pipeline = Pipeline::build(config, health.clone()).expect("build pipeline");
    let stats = pipeline.stats();
    let tracker = pipeline.tracker();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let handle = std::thread::spawn(move || pipeline.run(s, None));
    Running {
        health,
        stop,
        stats,
        tracker,
        handle,
    }
}

impl Running {
    fn stop(self) -> Arc<PipelineStats> {
        self.stop.store(true, Ordering::Release);
        self.handle
            .join()
            .expect("pipeline thread")
            .expect("pipeline result");
        self.stats
    }
}

fn assign_consumer(brokers: &str, topic: &str, group: &str) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    c
}

#[test]
fn every_record_is_accounted_dlq_is_exact_and_offsets_are_committed() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    let config = config_for(&kafka, "it-accounting");
    create_topics(&kafka, &config.topics, PARTITIONS).unwrap();

    let n = 6000;
    let gen = MentionGenerator::new(MentionGenConfig {
        seed: 11,
        customers: 500,
        malformed_ratio: 0.05,
        ..MentionGenConfig::default()
    });
    let records: Vec<GeneratedRecord> = gen.take(n).collect();
    let mut want_rows = 0u64;
    let mut want_dlq: HashMap<&str, u64> = HashMap::new();
    let mut malformed_payloads: HashSet<Vec<u8>> = HashSet::new();
    for r in &records {
        match &r.expect {
            Expect::Mentions { rows, .. } => want_rows += *rows as u64,
            Expect::NonActionable => {}
            Expect::Malformed(reason) => {
                *want_dlq.entry(reason).or_default() += 1;
                malformed_payloads.insert(r.payload.clone());
            }
        }
    }
    assert_eq!(
        want_dlq.len(),
        5,
        "the generator must produce every DLQ reason: {want_dlq:?}"
    );
    produce(&config.kafka.brokers, &config.topics.mentions, &records);

    let run = start(&config);
    let caught_up = wait_until(Duration::from_secs(60), || {
        run.stats.records_in.load(Ordering::Relaxed) >= n as u64 && run.tracker.in_flight() == 0
    });
    assert!(
        caught_up,
        "consumed {} of {n}",
        run.stats.records_in.load(Ordering::Relaxed)
    );
    let stats = run.stop();

    // Every record accounted for: parsed or DLQ, nothing else.
    assert_eq!(stats.records_in.load(Ordering::Relaxed), n as u64);
    assert_eq!(stats.parsed_total() + stats.dlq_total(), n as u64);
    assert_eq!(stats.mentions.load(Ordering::Relaxed), want_rows);
    // Every mention row either leaves the pipeline or is a counted spam drop.
    assert_eq!(
        stats.mentions_out.load(Ordering::Relaxed) + stats.spam_dropped.load(Ordering::Relaxed),
        want_rows
    );
    assert!(
        stats.spam_dropped.load(Ordering::Relaxed) > 0,
        "the generated firehose contains spam"
    );
    for (i, c) in stats.dlq_by_reason.iter().enumerate() {
        let label = dlq_reason_label(i);
        assert_eq!(
            c.load(Ordering::Relaxed),
            want_dlq.get(label).copied().unwrap_or(0),
            "DLQ count for {label}"
        );
    }

    // The DLQ holds exactly the malformed records, bytes unchanged, with headers.
    let dlq = assign_consumer(&config.kafka.brokers, &config.topics.dlq, "it-dlq-reader");
    let mut seen = 0u64;
    let mut by_reason: HashMap<String, u64> = HashMap::new();
    let total_dlq = stats.dlq_total();
    let _ = wait_until(Duration::from_secs(30), || {
        while let Some(Ok(m)) = dlq.poll(Duration::from_millis(100)) {
            seen += 1;
            let payload = m.payload().unwrap_or_default().to_vec();
            assert!(
                malformed_payloads.contains(&payload),
                "DLQ payload was altered or is not a malformed input"
            );
            let h = m.headers().expect("DLQ headers");
            let get = |k: &str| {
                h.iter()
                    .find(|x| x.key == k)
                    .and_then(|x| x.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_else(|| panic!("missing header {k}"))
            };
            *by_reason.entry(get("error.reason")).or_default() += 1;
            assert!(!get("error.detail").is_empty());
            assert_eq!(get("source.topic"), config.topics.mentions);
            assert!(get("source.partition").parse::<i32>().unwrap() < PARTITIONS);
            assert!(get("source.offset").parse::<i64>().unwrap() >= 0);
        }
        seen >= total_dlq
    });
    assert_eq!(
        seen, total_dlq,
        "DLQ topic holds every rejected record once"
    );
    for (reason, count) in &want_dlq {
        assert_eq!(
            by_reason.get(*reason).copied().unwrap_or(0),
            *count,
            "DLQ header count for {reason}"
        );
    }

    // Offsets: the group committed the end of every partition.
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.kafka.brokers)
        .set("group.id", &config.kafka.group_id)
        .set("enable.auto.commit", "false")
        .create()
        .expect("probe consumer");
    let mut want = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        want.add_partition(&config.topics.mentions, p);
    }
    let committed = probe
        .committed_offsets(want, Duration::from_secs(10))
        .expect("committed offsets");
    for p in 0..PARTITIONS {
        let (_, high) = probe
            .fetch_watermarks(&config.topics.mentions, p, Duration::from_secs(5))
            .unwrap();
        let got = committed
            .find_partition(&config.topics.mentions, p)
            .map(|e| e.offset());
        assert_eq!(
            got,
            Some(Offset::Offset(high)),
            "partition {p} committed offset"
        );
    }
    drop(probe);

    // A restarted group does not reprocess committed records, but does read new ones.
    let run = start(&config);
    let t = std::time::Instant::now();
    assert!(
        wait_until(Duration::from_secs(90), || run.health.is_ready()),
        "restarted consumer never got partitions"
    );
    eprintln!("restarted group member assigned after {:?}", t.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        run.stats.records_in.load(Ordering::Relaxed),
        0,
        "committed records were reprocessed"
    );
    let more: Vec<GeneratedRecord> = MentionGenerator::new(MentionGenConfig {
        seed: 12,
        malformed_ratio: 0.0,
        ..MentionGenConfig::default()
    })
    .take(25)
    .collect();
    produce(&config.kafka.brokers, &config.topics.mentions, &more);
    assert!(wait_until(Duration::from_secs(30), || run
        .stats
        .records_in
        .load(Ordering::Relaxed)
        >= 25));
    let stats = run.stop();
    assert_eq!(stats.records_in.load(Ordering::Relaxed), 25);
}

#[test]
fn work_items_reach_their_topic_and_every_mention_is_in_one() {
    use switchboard::topology::Observers;
    use switchboard_operators::correlate::WorkItemEvent;
    use switchboard_tools::generate::contacts::{ContactGenConfig, ContactGenerator};
    use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};

    let kafka = EmbeddedKafka::start(1).unwrap();
    let mut config = config_for(&kafka, "it-work-items");
    create_topics(&kafka, &config.topics, PARTITIONS).unwrap();
    let crm = tempfile::tempdir().unwrap();
    let start_ms = 1_795_600_000_000; // 2026-11-24T…
    write_crm_snapshot(
        crm.path(),
        &CrmGenConfig {
            customers: 300,
            seed: 21,
            valid_from: chrono::DateTime::from_timestamp_millis(start_ms - 86_400_000).unwrap(),
        },
    )
    .unwrap();
    config.identity.snapshot_dir = crm.path().display().to_string();

    let n = 3000;
    let records: Vec<GeneratedRecord> = MentionGenerator::new(MentionGenConfig {
        seed: 21,
        customers: 300,
        start_ms,
        events_per_sec: 20.0,
        malformed_ratio: 0.02,
        ..MentionGenConfig::default()
    })
    .take(n)
    .collect();
    let want_rows: u64 = records
        .iter()
        .map(|r| match &r.expect {
            Expect::Mentions { rows, .. } => *rows as u64,
            _ => 0,
        })
        .sum();
    let contacts: Vec<_> = ContactGenerator::new(ContactGenConfig {
        seed: 21,
        customers: 300,
        start_ms,
        events_per_sec: 1.0,
    })
    .take(150)
    .collect();
    let n_contacts = contacts.len() as u64;
    let produced = switchboard_tools::generate::kafka::produce_to_topic(
        &config.kafka.brokers,
        &config.topics.crm_contacts,
        contacts.into_iter(),
        n_contacts,
        None,
    )
    .unwrap();
    assert_eq!(produced, n_contacts);
    produce(&config.kafka.brokers, &config.topics.mentions, &records);

    let health = Health::new();
    let mut pipeline = Pipeline::build(&config, health.clone()).unwrap();
    let events: Arc<std::sync::Mutex<Vec<WorkItemEvent>>> = Arc::default();
    {
        let events = events.clone();
        pipeline.observe(Observers {
            work_items: Some(Box::new(move |e: &WorkItemEvent| {
                events.lock().unwrap().push(e.clone())
            })),
            ..Observers::default()
        });
    }
    let stats = pipeline.stats();
    let tracker = pipeline.tracker();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let stop = stop.clone();
        std::thread::spawn(move || pipeline.run(stop, None))
    };
    assert!(
        wait_until(Duration::from_secs(60), || {
            stats.records_in.load(Ordering::Relaxed) >= n as u64
                && stats.contacts_in.load(Ordering::Relaxed)
                    + stats.contacts_rejected.load(Ordering::Relaxed)
                    >= n_contacts
                && tracker.in_flight() == 0
        }),
        "consumed {} of {n} mentions",
        stats.records_in.load(Ordering::Relaxed)
    );
    stop.store(true, Ordering::Release);
    handle.join().unwrap().unwrap();

    // Every mention row is in a work item or a counted spam drop.
    let t = stats.work_items();
    assert_eq!(stats.mentions.load(Ordering::Relaxed), want_rows);
    assert_eq!(
        t.mentions_correlated + stats.spam_dropped.load(Ordering::Relaxed),
        want_rows
    );
    assert_eq!(stats.contacts_in.load(Ordering::Relaxed), n_contacts);
    let events = events.lock().unwrap().clone();
    assert!(!events.is_empty());
    assert!(
        events.iter().any(|e| e.related_case_id.is_some()),
        "CRM contacts were joined to some work item"
    );
    // Revisions per item are 1, 2, 3, … in order.
    let mut last: HashMap<&str, u32> = HashMap::new();
    for e in &events {
        let prev = last.insert(&e.work_item_id, e.revision).unwrap_or(0);
        assert_eq!(e.revision, prev + 1, "{}", e.work_item_id);
    }

    // The topic holds exactly those events (keyed by work_item_id).
    let reader = assign_consumer(
        &config.kafka.brokers,
        &config.topics.work_items,
        "it-work-items-reader",
    );
    let mut on_topic: Vec<(String, u32)> = Vec::new();
    let _ = wait_until(Duration::from_secs(30), || {
        while let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
            let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            assert_eq!(
                m.key().unwrap(),
                v["work_item_id"].as_str().unwrap().as_bytes()
            );
            for f in [
                "work_item_id",
                "revision",
                "action",
                "queue",
                "category",
                "severity",
                "priority",
                "reasons",
                "sla_due_at",
                "customer",
                "identity",
                "related_case_id",
                "incident_id",
                "mentions",
                "first_seen_at",
                "updated_at",
            ] {
                assert!(v.get(f).is_some(), "field {f} missing: {v}");
            }
            on_topic.push((
                v["work_item_id"].as_str().unwrap().to_string(),
                v["revision"].as_u64().unwrap() as u32,
            ));
        }
        on_topic.len() >= events.len()
    });
    let mut want: Vec<(String, u32)> = events
        .iter()
        .map(|e| (e.work_item_id.clone(), e.revision))
        .collect();
    want.sort();
    on_topic.sort();
    assert_eq!(
        on_topic, want,
        "work-items topic = events produced, once each"
    );

    // The contacts' offsets were committed with the mentions'.
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.kafka.brokers)
        .set("group.id", &config.kafka.group_id)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(&config.topics.crm_contacts, p);
    }
    let committed = probe
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    for p in 0..PARTITIONS {
        let (_, high) = probe
            .fetch_watermarks(&config.topics.crm_contacts, p, Duration::from_secs(5))
            .unwrap();
        if high > 0 {
            assert_eq!(
                committed
                    .find_partition(&config.topics.crm_contacts, p)
                    .map(|e| e.offset()),
                Some(Offset::Offset(high)),
                "crm-contacts partition {p}"
            );
        }
    }
}

#[test]
fn generated_contacts_are_partitioned_as_the_repartition_operator_places_customers() {
    use switchboard_operators::repartition::partition_for;
    use switchboard_tools::generate::contacts::{ContactGenConfig, ContactGenerator};

    let kafka = EmbeddedKafka::start(1).unwrap();
    let brokers = kafka.bootstrap_servers();
    let parts = 12;
    kafka.create_topic("contacts-partitioning", parts).unwrap();
    let contacts: Vec<_> = ContactGenerator::new(ContactGenConfig {
        seed: 5,
        customers: 500,
        start_ms: 1_795_600_000_000,
        events_per_sec: 1.0,
    })
    .take(300)
    .collect();
    let n = contacts.len() as u64;
    let produced = switchboard_tools::generate::kafka::produce_to_topic(
        &brokers,
        "contacts-partitioning",
        contacts.into_iter(),
        n,
        None,
    )
    .unwrap();
    assert_eq!(produced, n);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "contacts-partitioning")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset("contacts-partitioning", p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut seen = 0u64;
    let mut used = HashSet::new();
    let _ = wait_until(Duration::from_secs(30), || {
        while let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            let key = m.key().expect("contacts are keyed by customer id");
            // librdkafka's murmur2_random and the operator's murmur2 agree.
            assert_eq!(
                m.partition(),
                partition_for(key, parts),
                "{}",
                String::from_utf8_lossy(key)
            );
            used.insert(m.partition());
            seen += 1;
        }
        seen >= n
    });
    assert_eq!(seen, n);
    assert!(used.len() > parts as usize / 2, "keys spread: {used:?}");
}
