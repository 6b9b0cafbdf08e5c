//! Topics, CRM snapshot and generated input on an Apache Kafka cluster
//! (`support::kafka`) for the process-level tests, and `switchboard run`
//! instances as child processes.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use switchboard::config::Config;
use switchboard::source::flow::resident_bytes_of;
use switchboard::topology::wait_until;
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{
    Expect, GeneratedRecord, MentionGenConfig, MentionGenerator,
};

use super::kafka::{spawn_watched, KafkaCluster};
use super::{free_port, http_get};

pub const START_MS: i64 = 1_795_600_000_000;

/// One test's topics (named after the test, so tests can share a
/// cluster), CRM snapshot and generated input.
pub struct Setup {
    pub partitions: i32,
    pub kafka: Arc<KafkaCluster>,
    /// A client in the pipeline's group (never joining it) for committed
    /// offsets and watermarks; made once, polled in wait loops.
    pub probe: BaseConsumer,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub records: Vec<GeneratedRecord>,
}

impl Setup {
    /// `n` records of the default mix (2 % malformed) on `partitions`
    /// partitions; topics and group named after `name`.
    pub fn new(kafka: Arc<KafkaCluster>, name: &str, n: usize, partitions: i32) -> Self {
        Self::build(
            kafka,
            name,
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
        )
    }

    /// `n` records of `gen` on `partitions` mention partitions; the keyed
    /// stage's topics (contacts, repartition, changelog) get
    /// `keyed_partitions`. Every topic is `<name>.<default name>`, the
    /// group `name`; topics are replicated `kafka.replication_factor()`
    /// ways.
    pub fn build(
        kafka: Arc<KafkaCluster>,
        name: &str,
        n: usize,
        partitions: i32,
        keyed_partitions: i32,
        gen: MentionGenConfig,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.kafka.brokers = kafka.bootstrap();
        config.kafka.group_id = name.into();
        let t = &mut config.topics;
        for topic in [
            &mut t.mentions,
            &mut t.dlq,
            &mut t.work_items,
            &mut t.crm_identity_updates,
            &mut t.incidents,
            &mut t.crm_contacts,
            &mut t.repartition,
            &mut t.changelog,
        ] {
            *topic = format!("{name}.{topic}");
        }
        let rf = kafka.replication_factor();
        let t = &config.topics;
        for topic in [&t.mentions, &t.dlq, &t.work_items, &t.crm_identity_updates] {
            kafka.create_topic(topic, partitions, rf, &[]);
        }
        kafka.create_topic(&t.incidents, 1, rf, &[]);
        for topic in [&t.crm_contacts, &t.repartition, &t.changelog] {
            kafka.create_topic(topic, keyed_partitions, rf, &[]);
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
        let produced = switchboard_tools::generate::kafka::produce_to_topic_with(
            &config.kafka.brokers,
            &config.topics.mentions,
            records.iter().cloned(),
            n as u64,
            None,
            &[("acks", "all")],
        )
        .unwrap();
        assert_eq!(produced, n as u64);
        let probe = client(&config.kafka.brokers, name);
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
    /// partitions, from the beginning to the high watermark each had when
    /// the read began). Transaction markers take offsets but are not
    /// records: with transactions, fewer records than the end offsets
    /// count. An open transaction (of a killed producer, until the broker
    /// aborts it) holds the read back: it waits for the position to reach
    /// the high watermark, not only for the end of partition.
    pub fn read_to_end(&self, topic: &str) -> Vec<OwnedMessage> {
        let c = eof_reader(&self.config.kafka.brokers, "sb-delivery-reader");
        let n = self.partitions_of(topic);
        let highs = self.high_watermarks(topic);
        let mut tpl = TopicPartitionList::new();
        for p in 0..n {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        c.assign(&tpl).unwrap();
        let mut out = Vec::new();
        // Generous: scale-out tests read 200 000 events while other runs
        // keep both cores busy.
        let limit = Duration::from_secs(600);
        let eof = poll_to_end(&c, topic, &highs, limit, |m| out.push(m.detach()));
        assert!(eof, "no end of {topic} within {limit:?}");
        out
    }

    /// Each partition's high watermark.
    pub fn high_watermarks(&self, topic: &str) -> Vec<i64> {
        (0..self.partitions_of(topic))
            .map(|p| {
                retried(&format!("watermarks of {topic}/{p}"), || {
                    self.probe
                        .fetch_watermarks(topic, p, Duration::from_secs(10))
                })
                .1
            })
            .collect()
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

    /// Sum over partitions of the end offsets (high watermarks) of `topic`.
    pub fn end_total(&self, topic: &str) -> i64 {
        self.high_watermarks(topic).iter().sum()
    }

    /// Waits until `inst` (and any instance before it) committed every
    /// record of the mentions topic; `what` names the phase in the failure.
    pub fn wait_all_committed(&self, inst: &Instance, limit: Duration, what: &str) {
        let mentions = &self.config.topics.mentions;
        let end = self.end_total(mentions);
        let deadline = Instant::now() + limit;
        assert!(
            wait_until(limit, || self.committed_total(mentions) == end),
            "{what}: committed {} of {end}; log:\n{}",
            self.committed_total(mentions),
            inst.log_text()
        );
        if !self.config.pipeline.keyed_stage {
            return;
        }
        // The keyed stage: every record of the repartition topic (complete
        // once the mentions are committed) committed by its group.
        let topic = &self.config.topics.repartition;
        let end = self.end_total(topic);
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            wait_until(left, || self.keyed_committed_total() == end),
            "{what}: keyed stage committed {} of {end} repartition records; log:\n{}",
            self.keyed_committed_total(),
            inst.log_text()
        );
    }

    /// The keyed stage's committed offsets of the repartition topic (group
    /// `<group_id>-keyed`).
    pub fn keyed_committed_total(&self) -> i64 {
        let group = format!("{}-keyed", self.config.kafka.group_id);
        let c = client(&self.config.kafka.brokers, &group);
        self.committed_total_by(&c, &group, &self.config.topics.repartition)
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

/// Polls `c` (assigned `topic`'s partitions 0..highs.len() from their
/// beginning) until each partition's position reached its entry of `highs`
/// (checked at the end of partition and while idle) or `limit` passed,
/// handing each record to `f`; whether all got there.
fn poll_to_end(
    c: &BaseConsumer,
    topic: &str,
    highs: &[i64],
    limit: Duration,
    mut f: impl FnMut(rdkafka::message::BorrowedMessage<'_>),
) -> bool {
    let mut done: Vec<bool> = highs.iter().map(|h| *h == 0).collect();
    let deadline = Instant::now() + limit;
    let position = |p: usize| {
        let pos = c.position().ok()?;
        match pos.find_partition(topic, p as i32)?.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    };
    while done.iter().any(|d| !d) && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => f(m),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                let p = p as usize;
                done[p] = position(p).is_some_and(|o| o >= highs[p]);
            }
            None => {
                for (p, d) in done.iter_mut().enumerate() {
                    *d = *d || position(p).is_some_and(|o| o >= highs[p]);
                }
            }
            _ => {}
        }
    }
    done.iter().all(|d| *d)
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["run", "--config"])
            .arg(config)
            .env(
                "SWITCHBOARD_LOG",
                std::env::var("SB_LOG").unwrap_or_else(|_| "warn,switchboard=info".into()),
            )
            .stdout(Stdio::null())
            .stderr(err);
        // Killed with the test process, also when that is killed.
        let child = spawn_watched(cmd).expect("spawn switchboard run");
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

/// [`assert_accounted`] for the keyed topology, over the summaries of every
/// instance of a run: a mention row parsed by one instance's first stage
/// may reach another's keyed stage. `exact`: no keyed input was read twice
/// (clean hand-overs only); otherwise a replay may count a row again,
/// never lose one.
pub fn assert_accounted_keyed(summaries: &[&BTreeMap<String, u64>], exact: bool) {
    let sum = |k: &str| summaries.iter().map(|s| s[k]).sum::<u64>();
    let reached = sum("mentions_correlated") + sum("spam_dropped");
    let what = format!(
        "every mention row reaches a keyed stage's correlator (a work item or a counted duplicate) or is a counted spam drop: {summaries:?}"
    );
    if exact {
        assert_eq!(reached, sum("mentions"), "{what}");
    } else {
        assert!(reached >= sum("mentions"), "{what}");
    }
    assert!(
        sum("duplicate_mentions") <= sum("mentions_correlated"),
        "{summaries:?}"
    );
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
/// exactly the counted spam and passes what the correlator received. With
/// the keyed stage the spam stage's input is what this instance's keyed
/// stage read from the repartition topic, not its own enrichment's output
/// (another instance may have taken some of it).
pub fn assert_stage_metrics(
    m: &BTreeMap<(String, String), u64>,
    s: &BTreeMap<String, u64>,
    keyed: bool,
) {
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
    if !keyed {
        assert_eq!(get("in", "spam"), get("out", "enrich"), "{m:?}");
    }
    assert_eq!(
        get("in", "spam") - get("out", "spam"),
        s["spam_dropped"],
        "{m:?} {s:?}"
    );
    assert_eq!(get("out", "spam"), s["mentions_correlated"], "{m:?} {s:?}");
}
