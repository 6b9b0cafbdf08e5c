//! A broker, topics, CRM snapshot and generated input for the process-level
//! tests, and `switchboard run` instances as child processes.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, OwnedMessage};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use switchboard::config::Config;
use switchboard::source::flow::resident_bytes_of;
use switchboard::topology::wait_until;
use switchboard_tools::embedded::EmbeddedKafka;
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{
    Expect, GeneratedRecord, MentionGenConfig, MentionGenerator,
};

use super::tansu::Tansu;
use super::{free_port, http_get};

/// The broker of a test: librdkafka's mock cluster in this process, or a
/// tansu process.
pub enum Broker {
    /// `EmbeddedKafka` (mock cluster).
    Embedded(EmbeddedKafka),
    /// A standalone tansu broker.
    Tansu(Tansu),
}

// SAFETY: the mock cluster handle is only used through librdkafka's mock
// API (topic creation, bootstrap list, fault injection), which hands every
// call to the cluster's own thread under its lock; tests share a `Setup`
// between scoped threads that run independent pipelines.
unsafe impl Sync for Broker {}

impl Broker {
    pub fn bootstrap_servers(&self) -> String {
        match self {
            Broker::Embedded(k) => k.bootstrap_servers(),
            Broker::Tansu(t) => t.bootstrap_servers(),
        }
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        match self {
            Broker::Embedded(k) => k.create_topic(name, partitions).unwrap(),
            Broker::Tansu(t) => t.create_topic(name, partitions),
        }
    }

    /// The mock cluster keeps ~5 MB per partition: fails if `topic` lost
    /// records there (tansu keeps everything).
    pub fn check_retained(&self, topic: &str, partitions: i32) {
        if let Broker::Embedded(k) = self {
            k.check_retained(topic, partitions).unwrap();
        }
    }

    /// The mock cluster, for fault injection.
    pub fn embedded(&self) -> &EmbeddedKafka {
        match self {
            Broker::Embedded(k) => k,
            Broker::Tansu(_) => panic!("fault injection needs the embedded broker"),
        }
    }
}

pub const START_MS: i64 = 1_795_600_000_000;

/// One test's broker, topics, CRM snapshot and generated input.
pub struct Setup {
    pub partitions: i32,
    pub kafka: Broker,
    /// A client in the pipeline's group (never joining it) for committed
    /// offsets and watermarks; made once, polled in wait loops.
    pub probe: BaseConsumer,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub records: Vec<GeneratedRecord>,
}

impl Setup {
    pub fn new(group: &str, n: usize, partitions: i32) -> Self {
        Self::build(
            group,
            n,
            partitions,
            partitions,
            MentionGenConfig {
                seed: 7,
                customers: 2000,
                start_ms: START_MS,
                events_per_sec: 50.0,
                malformed_ratio: 0.02,
                ..MentionGenConfig::default()
            },
            false,
        )
    }

    /// `n` records of `gen` on `partitions` mention partitions; the keyed
    /// stage's topics (contacts, repartition, changelog) get
    /// `keyed_partitions`.
    pub fn build(
        group: &str,
        n: usize,
        partitions: i32,
        keyed_partitions: i32,
        gen: MentionGenConfig,
        tansu: bool,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kafka = if tansu {
            Broker::Tansu(Tansu::start(dir.path().join("tansu.log")))
        } else {
            Broker::Embedded(EmbeddedKafka::start(1).unwrap())
        };
        let mut config = Config::default();
        config.kafka.brokers = kafka.bootstrap_servers();
        config.kafka.group_id = group.into();
        let t = &config.topics;
        for topic in [&t.mentions, &t.dlq, &t.work_items, &t.crm_identity_updates] {
            kafka.create_topic(topic, partitions);
        }
        kafka.create_topic(&t.incidents, 1);
        for topic in [&t.crm_contacts, &t.repartition, &t.changelog] {
            kafka.create_topic(topic, keyed_partitions);
        }
        let crm = dir.path().join("crm");
        write_crm_snapshot(
            &crm,
            &CrmGenConfig {
                customers: gen.customers,
                seed: gen.seed,
                valid_from: chrono::DateTime::from_timestamp_millis(START_MS - 86_400_000).unwrap(),
            },
        )
        .unwrap();
        config.identity.snapshot_dir = crm.display().to_string();
        config.source.workers = 2;
        config.source.commit_interval_ms = 200;
        config.source.drain_timeout_ms = 5_000;
        if let Ok(d) = std::env::var("SB_KAFKA_DEBUG") {
            config.kafka.properties.insert("debug".into(), d);
        }
        let records: Vec<GeneratedRecord> = MentionGenerator::new(gen).take(n).collect();
        // tansu 0.6 serves a fetch only from the first offset of a stored
        // batch (from inside one it returns nothing, and a consumer resuming
        // from a committed offset there stalls), and its ListOffsets reports
        // batches, not records: on tansu every producer sends one record
        // per batch.
        let one_per_batch: &[(&str, &str)] = if tansu {
            config
                .kafka
                .properties
                .insert("batch.num.messages".into(), "1".into());
            &[("batch.num.messages", "1")]
        } else {
            &[]
        };
        let produced = switchboard_tools::generate::kafka::produce_to_topic_with(
            &config.kafka.brokers,
            &config.topics.mentions,
            records.iter().cloned(),
            n as u64,
            None,
            one_per_batch,
        )
        .unwrap();
        assert_eq!(produced, n as u64);
        kafka.check_retained(&config.topics.mentions, partitions);
        let probe = client(&config.kafka.brokers, group);
        Self {
            partitions,
            kafka,
            probe,
            config,
            dir,
            records,
        }
    }

    pub fn malformed(&self) -> u64 {
        self.records
            .iter()
            .filter(|r| matches!(r.expect, Expect::Malformed(_)))
            .count() as u64
    }

    /// Writes the config of one instance (its own metrics port) and returns
    /// its path and port.
    pub fn write_config(&self, name: &str, edit: impl FnOnce(&mut Config)) -> (PathBuf, u16) {
        let mut c = self.config.clone();
        let port = free_port();
        c.metrics.addr = format!("127.0.0.1:{port}");
        edit(&mut c);
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
        (path, port)
    }

    /// Every record of `topic` (all partitions, from the beginning): as
    /// many as the end offsets count (no transaction markers).
    pub fn read(&self, topic: &str) -> Vec<OwnedMessage> {
        let out = self.read_to_end(topic);
        assert_eq!(
            out.len() as i64,
            self.end_total(topic),
            "read all of {topic}"
        );
        out
    }

    /// Every record a `read_committed` consumer gets from `topic` (all
    /// partitions, from the beginning to the end of each). Transaction
    /// markers take offsets but are not records: with transactions, fewer
    /// records than the end offsets count.
    pub fn read_to_end(&self, topic: &str) -> Vec<OwnedMessage> {
        let c = eof_reader(&self.config.kafka.brokers, "sb-delivery-reader");
        let n = self.partitions_of(topic);
        let mut tpl = TopicPartitionList::new();
        for p in 0..n {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        c.assign(&tpl).unwrap();
        let mut out = Vec::new();
        // Generous: scale-out tests read 200 000 events while other runs
        // keep both cores busy.
        let eof = poll_to_eof(&c, n, Duration::from_secs(600), |m| out.push(m.detach()));
        assert!(eof, "no end of {topic} within 600 s");
        out
    }

    /// Sum over partitions of the group's committed offsets of `topic`.
    pub fn committed_total(&self, topic: &str) -> i64 {
        self.committed_total_by(&self.probe, &self.config.kafka.group_id, topic)
    }

    /// Sum over partitions of the committed offsets of `topic` in `group`,
    /// asked through `consumer` (a client of that group).
    pub fn committed_total_by(&self, consumer: &BaseConsumer, group: &str, topic: &str) -> i64 {
        let mut tpl = TopicPartitionList::new();
        let n = self.partitions_of(topic);
        for p in 0..n {
            tpl.add_partition(topic, p);
        }
        // After a failure, ask through a fresh client of the same group: a
        // client that was idle through a broker outage can stay stuck on
        // its old coordinator connection for longer than the retry budget
        // (seen on a loaded host: every 10 s query timed out for a minute).
        let mut fresh: Option<BaseConsumer> = None;
        let got = retried(&format!("committed offsets of {topic}"), || {
            let c = fresh.as_ref().unwrap_or(consumer);
            let r = c.committed_offsets(tpl.clone(), Duration::from_secs(10));
            if r.is_err() {
                fresh = Some(client(&self.config.kafka.brokers, group));
            }
            r
        });
        (0..n)
            .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => 0,
            })
            .sum()
    }

    /// The partition count of `topic`.
    pub fn partitions_of(&self, topic: &str) -> i32 {
        let md = retried(&format!("metadata of {topic}"), || {
            self.probe
                .fetch_metadata(Some(topic), Duration::from_secs(10))
        });
        md.topics()[0].partitions().len() as i32
    }

    /// Sum over partitions of the end offsets of `topic`. On tansu, read
    /// from just before the reported high watermark to the end of each
    /// partition: tansu 0.6 answers ListOffsets with less than its log holds
    /// (the last batch's base offset).
    pub fn end_total(&self, topic: &str) -> i64 {
        let n = self.partitions_of(topic);
        let reported: Vec<i64> = (0..n)
            .map(|p| {
                retried(&format!("watermarks of {topic}/{p}"), || {
                    self.probe
                        .fetch_watermarks(topic, p, Duration::from_secs(10))
                })
                .1
            })
            .collect();
        if matches!(self.kafka, Broker::Embedded(_)) {
            return reported.iter().sum();
        }
        let c = eof_reader(&self.config.kafka.brokers, "sb-end-reader");
        let mut tpl = TopicPartitionList::new();
        for (p, hw) in reported.iter().enumerate() {
            tpl.add_partition_offset(topic, p as i32, Offset::Offset((hw - 1).max(0)))
                .unwrap();
        }
        c.assign(&tpl).unwrap();
        let mut end = reported.clone();
        let eof = poll_to_eof(&c, n, Duration::from_secs(30), |m| {
            let p = m.partition() as usize;
            end[p] = end[p].max(m.offset() + 1);
        });
        assert!(eof, "no end of {topic} within 30 s");
        end.iter().sum()
    }

    /// Waits until `inst` (and any instance before it) committed every
    /// record of the mentions topic; `what` names the phase in the failure.
    pub fn wait_all_committed(&self, inst: &Instance, limit: Duration, what: &str) {
        let mentions = &self.config.topics.mentions;
        let end = self.end_total(mentions);
        assert!(
            wait_until(limit, || self.committed_total(mentions) == end),
            "{what}: committed {} of {end}; log:\n{}",
            self.committed_total(mentions),
            inst.log_text()
        );
    }
}

/// `f`'s value, retrying failures for up to a minute: right after a
/// broker outage the harness's own clients may still be in their reconnect
/// backoff (seen on a loaded host: a 10 s metadata fetch timed out).
fn retried<T>(what: &str, mut f: impl FnMut() -> rdkafka::error::KafkaResult<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("{what}: {e}; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

pub fn client(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

/// A `read_committed` reader (librdkafka's default, set explicitly) that
/// reports each partition's end.
fn eof_reader(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap()
}

/// Polls `c` (assigned partitions 0..n) until every partition reported its
/// end or `limit` passed, handing each record to `f`; whether all ended.
fn poll_to_eof(
    c: &BaseConsumer,
    n: i32,
    limit: Duration,
    mut f: impl FnMut(BorrowedMessage<'_>),
) -> bool {
    let mut eof = vec![false; n as usize];
    let deadline = Instant::now() + limit;
    while eof.iter().any(|e| !e) && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                eof[m.partition() as usize] = false;
                f(m);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => eof[p as usize] = true,
            _ => {}
        }
    }
    eof.iter().all(|e| *e)
}

/// A running `switchboard run` process; killed if still running when dropped.
pub struct Instance {
    pub child: Child,
    pub log: PathBuf,
    pub port: u16,
}

impl Instance {
    pub fn start(config: &Path, port: u16, log: PathBuf) -> Self {
        let err = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["run", "--config"])
            .arg(config)
            .env(
                "SWITCHBOARD_LOG",
                std::env::var("SB_LOG").unwrap_or_else(|_| "warn,switchboard=info".into()),
            )
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn switchboard run");
        Self { child, log, port }
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(
            &format!("127.0.0.1:{}", self.port),
            path,
            Duration::from_secs(5),
        )
        .ok()
    }

    /// Sum of a metric's samples (all label sets) from `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0.0;
        };
        body.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn ready(&self) -> Option<(bool, String)> {
        self.get("/readyz").map(|(s, b)| (s == 200, b))
    }

    /// Waits until `/readyz` answers ready; `what` names the phase.
    pub fn wait_ready(&self, limit: Duration, what: &str) {
        assert!(
            wait_until(limit, || self.ready().is_some_and(|(r, _)| r)),
            "{what}: {:?}; log:\n{}",
            self.ready(),
            self.log_text()
        );
    }

    /// Waits until the instance consumed at least `n` records.
    pub fn wait_consumed(&self, n: f64, limit: Duration) {
        assert!(
            wait_until(limit, || self.metric("switchboard_source_records_total")
                >= n),
            "did not consume {n} records; log:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then a clean exit within 30 s; returns the summary counts.
    pub fn stop(&mut self) -> BTreeMap<String, u64> {
        self.signal("-TERM");
        assert_eq!(
            self.wait_exit(Duration::from_secs(30)).0,
            Some(0),
            "log:\n{}",
            self.log_text()
        );
        self.summary()
    }

    /// Resident set of the process, from /proc.
    pub fn rss_bytes(&self) -> u64 {
        resident_bytes_of(&format!("/proc/{}/status", self.child.id())).unwrap_or(0)
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// Waits for exit (bounded); returns the status and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code(), t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no exit within {limit:?}; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The counts of the `pipeline stopped` line.
    pub fn summary(&self) -> BTreeMap<String, u64> {
        let log = self.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("pipeline stopped"))
            .unwrap_or_else(|| panic!("no summary line in log:\n{log}"));
        line.split_whitespace()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mention ids named by the events of the work-items topic.
pub fn mention_ids_in_work_items(setup: &Setup) -> HashSet<String> {
    let mut ids = HashSet::new();
    for m in setup.read(&setup.config.topics.work_items) {
        let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        for m in v["mentions"].as_array().unwrap() {
            ids.insert(m["mention_id"].as_str().unwrap().to_string());
        }
    }
    ids
}

pub fn assert_accounted(s: &BTreeMap<String, u64>) {
    assert_eq!(
        s["mentions_correlated"] + s["spam_dropped"],
        s["mentions"],
        "every mention row reaches the correlator (a work item or a counted duplicate) or is a counted spam drop: {s:?}"
    );
    assert!(s["duplicate_mentions"] <= s["mentions_correlated"], "{s:?}");
}

/// `switchboard_stage_records_{in,out}_total` of a running instance, by
/// (direction, stage), for [`assert_stage_metrics`].
pub fn stage_metrics(inst: &Instance) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for dir in ["in", "out"] {
        for stage in ["parse", "enrich", "identity", "spam", "sink"] {
            let v = inst.metric(&format!(
                "switchboard_stage_records_{dir}_total{{stage=\"{stage}\"}}"
            ));
            m.insert((dir.to_string(), stage.to_string()), v as u64);
        }
    }
    m
}

/// The stage counters (read while the instance ran, after it had finished
/// its input) agree with the instance's own `pipeline stopped` summary
/// `s`: every stage moved, each stage's output is the next one's input,
/// the join and the enrichment pass every row, and the spam stage drops
/// exactly the counted spam and passes what the correlator received.
pub fn assert_stage_metrics(m: &BTreeMap<(String, String), u64>, s: &BTreeMap<String, u64>) {
    let get = |dir: &str, stage: &str| m[&(dir.to_string(), stage.to_string())];
    for stage in ["parse", "enrich", "identity", "spam", "sink"] {
        assert!(
            get("in", stage) > 0 && get("out", stage) > 0,
            "{stage}: {m:?}"
        );
    }
    assert_eq!(get("in", "parse"), s["records_in"], "{m:?} {s:?}");
    assert_eq!(get("out", "parse"), s["mentions"], "{m:?} {s:?}");
    assert_eq!(get("in", "enrich"), get("out", "parse"), "{m:?}");
    assert_eq!(get("in", "identity"), get("in", "enrich"), "{m:?}");
    assert_eq!(get("out", "identity"), get("in", "identity"), "{m:?}");
    assert_eq!(get("out", "enrich"), get("in", "enrich"), "{m:?}");
    assert_eq!(get("in", "spam"), get("out", "enrich"), "{m:?}");
    assert_eq!(
        get("in", "spam") - get("out", "spam"),
        s["spam_dropped"],
        "{m:?} {s:?}"
    );
    assert_eq!(get("out", "spam"), s["mentions_correlated"], "{m:?} {s:?}");
}
