//! Delivery guarantees of `switchboard run` as a separate process on the
//! embedded broker (librdkafka's mock cluster, hosted by this test process):
//! SIGTERM drain, a 30 s broker outage, and backpressure with a stalled
//! output under a memory budget.
//!
//! Each instance logs one `pipeline stopped` line with its counts at exit;
//! the tests account for every input record with those counts and with what
//! the output topics and the committed offsets hold.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use switchboard::config::Config;
use switchboard::embedded::EmbeddedKafka;
use switchboard::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard::generate::mentions::{
    Expect, GeneratedRecord, MentionGenConfig, MentionGenerator,
};
use switchboard::source::flow::resident_bytes_of;
use switchboard::topology::wait_until;

mod support;
use support::{free_port, http_get};

const START_MS: i64 = 1_795_600_000_000;

/// One test's broker, topics, CRM snapshot and generated input.
struct Setup {
    partitions: i32,
    kafka: EmbeddedKafka,
    /// A client in the pipeline's group (never joining it) for committed
    /// offsets and watermarks; made once, polled in wait loops.
    probe: BaseConsumer,
    config: Config,
    dir: tempfile::TempDir,
    records: Vec<GeneratedRecord>,
}

impl Setup {
    fn new(group: &str, n: usize, partitions: i32) -> Self {
        let kafka = EmbeddedKafka::start(1).unwrap();
        let mut config = Config::default();
        config.kafka.brokers = kafka.bootstrap_servers();
        config.kafka.group_id = group.into();
        kafka.create_topics(&config.topics, partitions).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let crm = dir.path().join("crm");
        write_crm_snapshot(
            &crm,
            &CrmGenConfig {
                customers: 2000,
                seed: 7,
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
        let records: Vec<GeneratedRecord> = MentionGenerator::new(MentionGenConfig {
            seed: 7,
            customers: 2000,
            start_ms: START_MS,
            events_per_sec: 50.0,
            malformed_ratio: 0.02,
            ..MentionGenConfig::default()
        })
        .take(n)
        .collect();
        let produced = switchboard::generate::kafka::produce_to_topic(
            &config.kafka.brokers,
            &config.topics.mentions,
            records.iter().cloned(),
            n as u64,
            None,
        )
        .unwrap();
        assert_eq!(produced, n as u64);
        kafka
            .check_retained(&config.topics.mentions, partitions)
            .unwrap();
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

    fn malformed(&self) -> u64 {
        self.records
            .iter()
            .filter(|r| matches!(r.expect, Expect::Malformed(_)))
            .count() as u64
    }

    /// Writes the config of one instance (its own metrics port) and returns
    /// its path and port.
    fn write_config(&self, name: &str, edit: impl FnOnce(&mut Config)) -> (PathBuf, u16) {
        let mut c = self.config.clone();
        let port = free_port();
        c.metrics.addr = format!("127.0.0.1:{port}");
        edit(&mut c);
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
        (path, port)
    }

    /// Every record of `topic` (all partitions, from the beginning).
    fn read(&self, topic: &str) -> Vec<OwnedMessage> {
        let c = client(&self.config.kafka.brokers, "sb-delivery-reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        let want = self.end_total(topic);
        c.assign(&tpl).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while (out.len() as i64) < want && Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                out.push(m.detach());
            }
        }
        assert_eq!(out.len() as i64, want, "read all of {topic}");
        out
    }

    /// Sum over partitions of the group's committed offsets of `topic`.
    fn committed_total(&self, topic: &str) -> i64 {
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition(topic, p);
        }
        let got = self
            .probe
            .committed_offsets(tpl, Duration::from_secs(10))
            .unwrap();
        (0..self.partitions)
            .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => 0,
            })
            .sum()
    }

    /// Sum over partitions of the high watermarks of `topic`.
    fn end_total(&self, topic: &str) -> i64 {
        (0..self.partitions)
            .map(|p| {
                self.probe
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .unwrap()
                    .1
            })
            .sum()
    }

    /// Waits until `inst` (and any instance before it) committed every
    /// record of the mentions topic; `what` names the phase in the failure.
    fn wait_all_committed(&self, inst: &Instance, limit: Duration, what: &str) {
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

fn client(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

/// A running `switchboard run` process; killed if still running when dropped.
struct Instance {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Instance {
    fn start(config: &Path, port: u16, log: PathBuf) -> Self {
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

    fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(
            &format!("127.0.0.1:{}", self.port),
            path,
            Duration::from_secs(5),
        )
        .ok()
    }

    /// Sum of a metric's samples (all label sets) from `/metrics`.
    fn metric(&self, name: &str) -> f64 {
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

    fn ready(&self) -> Option<(bool, String)> {
        self.get("/readyz").map(|(s, b)| (s == 200, b))
    }

    /// Waits until `/readyz` answers ready; `what` names the phase.
    fn wait_ready(&self, limit: Duration, what: &str) {
        assert!(
            wait_until(limit, || self.ready().is_some_and(|(r, _)| r)),
            "{what}: {:?}; log:\n{}",
            self.ready(),
            self.log_text()
        );
    }

    /// Waits until the instance consumed at least `n` records.
    fn wait_consumed(&self, n: f64, limit: Duration) {
        assert!(
            wait_until(limit, || self.metric("switchboard_source_records_total")
                >= n),
            "did not consume {n} records; log:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then a clean exit within 30 s; returns the summary counts.
    fn stop(&mut self) -> BTreeMap<String, u64> {
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
    fn rss_bytes(&self) -> u64 {
        resident_bytes_of(&format!("/proc/{}/status", self.child.id())).unwrap_or(0)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// Waits for exit (bounded); returns the status and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code(), t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no exit within {limit:?}; log:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The counts of the `pipeline stopped` line.
    fn summary(&self) -> BTreeMap<String, u64> {
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
fn mention_ids_in_work_items(setup: &Setup) -> HashSet<String> {
    let mut ids = HashSet::new();
    for m in setup.read(&setup.config.topics.work_items) {
        let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        for m in v["mentions"].as_array().unwrap() {
            ids.insert(m["mention_id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn assert_accounted(s: &BTreeMap<String, u64>) {
    assert_eq!(
        s["mentions_correlated"] + s["spam_dropped"],
        s["mentions"],
        "every mention row is in a work item or a counted spam drop: {s:?}"
    );
}

#[test]
fn sigterm_drains_commits_exactly_what_was_consumed_and_hands_over() {
    let n = 16_000;
    let setup = Setup::new("it-sigterm", n, 8);
    let mentions = setup.config.topics.mentions.clone();
    let edit = |c: &mut Config| {
        c.pipeline.shutdown_timeout_ms = 20_000;
    };
    let (cfg_a, port_a) = setup.write_config("a", edit);
    let mut a = Instance::start(&cfg_a, port_a, setup.dir.path().join("a.log"));
    a.wait_consumed(3_000.0, Duration::from_secs(60));
    a.signal("-TERM");
    let (code, took) = a.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "log:\n{}", a.log_text());
    assert!(took < Duration::from_secs(20), "drain took {took:?}");
    let sa = a.summary();
    assert_accounted(&sa);
    assert!(sa["records_in"] < n as u64, "stopped midway: {sa:?}");
    // The drain committed exactly what was consumed: nothing in flight was
    // left uncommitted, nothing unconsumed was committed.
    assert_eq!(
        setup.committed_total(&mentions),
        sa["records_in"] as i64,
        "committed offsets = records consumed by a"
    );

    // a left the group through the final revoke (unsubscribe), not by
    // timing out. The mock coordinator still keeps the member until its
    // session expires (measured: with a 45 s session the next member was
    // assigned after 43 s; librdkafka's log shows the LeaveGroup sent), so
    // the hand-over time is not asserted here.
    assert!(
        a.log_text().contains("partitions revoked"),
        "a did not revoke its partitions on shutdown"
    );
    // b joins the same group and finishes the input.
    let (cfg_b, port_b) = setup.write_config("b", edit);
    let mut b = Instance::start(&cfg_b, port_b, setup.dir.path().join("b.log"));
    setup.wait_all_committed(&b, Duration::from_secs(90), "b did not finish");
    let sb = b.stop();
    assert_accounted(&sb);
    // No record read twice, none lost; the DLQ holds each malformed one once.
    assert_eq!(sa["records_in"] + sb["records_in"], n as u64);
    assert_eq!(sa["dlq"] + sb["dlq"], setup.malformed());
    assert_eq!(
        setup.read(&setup.config.topics.dlq).len() as u64,
        setup.malformed()
    );
    let ids = mention_ids_in_work_items(&setup);
    assert!(
        ids.len() as u64 >= (sa["mentions_correlated"] + sb["mentions_correlated"]) / 2,
        "work items name the correlated mentions"
    );
}

#[test]
fn a_30_s_broker_outage_recovers_by_itself_without_loss() {
    let n = 12_000;
    let setup = Setup::new("it-outage", n, 8);
    let (cfg, port) = setup.write_config("o", |c| {
        c.pipeline.output_stall_ms = 5_000;
    });
    let mut inst = Instance::start(&cfg, port, setup.dir.path().join("o.log"));
    inst.wait_consumed(2_000.0, Duration::from_secs(60));
    setup.kafka.broker_down(1).unwrap();
    std::thread::sleep(Duration::from_secs(30));
    assert!(
        inst.child.try_wait().unwrap().is_none(),
        "the outage killed the process; log:\n{}",
        inst.log_text()
    );
    setup.kafka.broker_up(1).unwrap();
    setup.wait_all_committed(&inst, Duration::from_secs(120), "no recovery");
    inst.wait_ready(Duration::from_secs(20), "not ready after recovery");
    let s = inst.stop();
    assert_accounted(&s);
    // At least once: a rebalance during the outage may re-read a batch,
    // never skip one.
    assert!(s["records_in"] >= n as u64, "{s:?}");
    // Distinct by the source position the DLQ headers name.
    let dlq = setup.read(&setup.config.topics.dlq);
    let distinct: HashSet<(String, String)> = dlq
        .iter()
        .map(|m| {
            let h = |k: &str| {
                m.headers()
                    .and_then(|hs| hs.iter().find(|h| h.key == k))
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            (h("source.partition"), h("source.offset"))
        })
        .collect();
    assert_eq!(
        distinct.len() as u64,
        setup.malformed(),
        "each malformed record reached the DLQ"
    );
}

#[test]
fn a_stalled_output_pauses_input_under_the_memory_budget_and_recovers() {
    let n = 40_000;
    let setup = Setup::new("it-backpressure", n, 16);
    let mentions = setup.config.topics.mentions.clone();
    let budget_mb = 256;
    let (cfg, port) = setup.write_config("p", |c| {
        c.pipeline.memory_budget_mb = budget_mb;
        c.pipeline.output_stall_ms = 3_000;
        c.pipeline.channel_capacity_rows = 8_192;
    });
    // The output side fails (retriably) from the start: nothing can be
    // acknowledged, so nothing may be committed.
    setup.kafka.fail_produce_requests(1_000_000);
    let inst = Instance::start(&cfg, port, setup.dir.path().join("p.log"));
    let mut saw_backpressure = false;
    let mut max_rss = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(25) {
        max_rss = max_rss.max(inst.rss_bytes());
        if let Some((false, body)) = inst.ready() {
            saw_backpressure |= body.contains("backpressure");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let consumed = inst.metric("switchboard_source_records_total");
    assert!(
        saw_backpressure,
        "/readyz never reported backpressure; log:\n{}",
        inst.log_text()
    );
    assert!(
        consumed < n as f64,
        "input was not held back: consumed {consumed} of {n}"
    );
    assert_eq!(
        setup.committed_total(&mentions),
        0,
        "nothing acknowledged, nothing committed"
    );
    assert!(
        max_rss < (budget_mb << 20),
        "resident set {} MiB over the {budget_mb} MiB budget",
        max_rss >> 20
    );
    setup.kafka.clear_produce_errors();
    setup.wait_all_committed(&inst, Duration::from_secs(120), "did not recover");
    inst.wait_ready(
        Duration::from_secs(20),
        "not ready after the output recovered",
    );
    eprintln!(
        "backpressure: max RSS {} MiB (budget {budget_mb} MiB), consumed {consumed} of {n} while stalled",
        max_rss >> 20
    );
}
