//! Real Apache Kafka for the end-to-end tests: KRaft clusters of one node
//! or three (every node broker + controller) on 127.0.0.1, each node a JVM
//! with its own temporary data directory, killed with the test.
//!
//! The broker jars come from Maven Central through `scripts/kafka/fetch.sh`
//! (cached under `.cache/kafka/<version>/libs`, nothing downloaded when the
//! cache is complete). The settings every node shares are in
//! `scripts/kafka/broker.properties`, which `scripts/kafka-local.sh` uses too.
//!
//! No JVM outlives the test process: each is started by one long-lived
//! thread with `PR_SET_PDEATHSIG` = SIGKILL, so it dies with the process
//! even when the test binary is SIGKILLed; `Drop` kills every node.
#![allow(dead_code)]

mod process;
mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use process::{block_on, format_storage, free_ports, java, jvm_options};
pub use process::{kafka_libs, spawn_watched};
use tls::{make_tls, Keystore};

const BROKER_PROPERTIES: &str = include_str!("../../scripts/kafka/broker.properties");

/// How long a cluster (or a restarted node) may take to serve.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// What cluster to start.
#[derive(Clone, Debug)]
pub struct KafkaOpts {
    /// 1 (broker + controller) or 3 (each broker + controller, 3 voters).
    pub nodes: usize,
    /// Broker properties written after the defaults (they win), e.g.
    /// `message.max.bytes`.
    pub extra_props: BTreeMap<String, String>,
    /// Adds a SASL_SSL listener (SCRAM-SHA-512) on every node.
    pub sasl: Option<SaslOpts>,
}

/// The SCRAM-SHA-512 user created when the storage is formatted.
#[derive(Clone, Debug)]
pub struct SaslOpts {
    pub username: String,
    pub password: String,
}

impl Default for KafkaOpts {
    fn default() -> Self {
        Self {
            nodes: 1,
            extra_props: BTreeMap::new(),
            sasl: None,
        }
    }
}

impl KafkaOpts {
    /// A cluster of `nodes` (1 or 3) with the defaults.
    pub fn nodes(nodes: usize) -> Self {
        Self {
            nodes,
            ..Self::default()
        }
    }

    /// One more broker property.
    pub fn prop(mut self, key: &str, value: impl ToString) -> Self {
        self.extra_props.insert(key.into(), value.to_string());
        self
    }

    /// A SASL_SSL listener with this SCRAM-SHA-512 user.
    pub fn sasl(mut self, username: &str, password: &str) -> Self {
        self.sasl = Some(SaslOpts {
            username: username.into(),
            password: password.into(),
        });
        self
    }
}

/// One partition as the cluster's metadata reports it (node ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub partition: i32,
    /// -1 while the partition has no leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

struct Node {
    id: i32,
    port: u16,
    controller_port: u16,
    sasl_port: Option<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

/// The SASL_SSL side of a cluster: where clients connect and what they trust.
struct Sasl {
    opts: SaslOpts,
    ca_file: PathBuf,
}

/// A running cluster; every node is SIGKILLed when it is dropped.
pub struct KafkaCluster {
    nodes: Mutex<Vec<Node>>,
    libs: PathBuf,
    sasl: Option<Sasl>,
    started_in: Duration,
    admin: AdminClient<DefaultClientContext>,
    metadata: BaseConsumer,
    // Last: removed after the nodes are dead.
    dir: tempfile::TempDir,
}

impl KafkaCluster {
    /// Formats and starts the nodes, and waits until every node serves and
    /// lists every broker. Panics (with the tail of the broker logs) when
    /// the cluster is not ready within two minutes.
    pub fn start(opts: KafkaOpts) -> Self {
        assert!(
            opts.nodes == 1 || opts.nodes == 3,
            "a cluster has 1 or 3 nodes"
        );
        let t0 = Instant::now();
        let libs = kafka_libs();
        let dir = tempfile::Builder::new()
            .prefix("kafka-")
            .tempdir()
            .expect("temp dir for the Kafka cluster");
        let sasl = opts.sasl.as_ref().map(|s| Sasl {
            opts: s.clone(),
            ca_file: dir.path().join("tls/ca.pem"),
        });
        let keystore = sasl.as_ref().map(|_| make_tls(&dir.path().join("tls")));
        let ports = free_ports(opts.nodes * if sasl.is_some() { 3 } else { 2 });
        let mut ports = ports.into_iter();
        let nodes: Vec<Node> = (0..opts.nodes)
            .map(|i| Node {
                id: i as i32,
                port: ports.next().unwrap(),
                controller_port: ports.next().unwrap(),
                sasl_port: sasl.as_ref().map(|_| ports.next().unwrap()),
                dir: dir.path().join(format!("node-{i}")),
                child: None,
            })
            .collect();
        for n in &nodes {
            std::fs::create_dir_all(n.dir.join("data")).unwrap();
            std::fs::create_dir_all(n.dir.join("logs")).unwrap();
            let props = node_properties(n, &nodes, &opts, keystore.as_ref());
            std::fs::write(n.dir.join("server.properties"), props).unwrap();
        }
        format_storage(&libs, &nodes, opts.sasl.as_ref());
        let bootstrap = join_addrs(nodes.iter().map(|n| n.port));
        let mut cluster = Self {
            admin: client_config(&bootstrap)
                .create()
                .expect("Kafka admin client"),
            metadata: client_config(&bootstrap)
                .create()
                .expect("Kafka metadata client"),
            nodes: Mutex::new(nodes),
            libs,
            sasl,
            started_in: Duration::ZERO,
            dir,
        };
        for id in 0..opts.nodes as i32 {
            cluster.spawn(id);
        }
        for id in 0..opts.nodes as i32 {
            cluster.wait_ready(id);
        }
        cluster.started_in = t0.elapsed();
        eprintln!(
            "kafka: {}-node cluster ({}) ready in {:.1?}",
            opts.nodes,
            cluster.version(),
            cluster.started_in
        );
        cluster
    }

    /// The pinned Apache Kafka version (the cache folder's name).
    pub fn version(&self) -> String {
        self.libs
            .parent()
            .and_then(|p| p.file_name())
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// How long `start` took: storage format, JVM start, readiness.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Node ids, 0..n.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.lock().unwrap().iter().map(|n| n.id).collect()
    }

    /// min(3, nodes): the replication factor of internal topics.
    pub fn replication_factor(&self) -> i32 {
        self.nodes.lock().unwrap().len().min(3) as i32
    }

    /// PLAINTEXT `host:port` of every node, comma-separated.
    pub fn bootstrap(&self) -> String {
        join_addrs(self.nodes.lock().unwrap().iter().map(|n| n.port))
    }

    /// PLAINTEXT `host:port` of every node whose process is alive.
    pub fn live_bootstrap(&self) -> String {
        let mut nodes = self.nodes.lock().unwrap();
        let live: Vec<u16> = nodes
            .iter_mut()
            .filter_map(|n| {
                let port = n.port;
                n.child
                    .as_mut()
                    .is_some_and(|c| c.try_wait().ok().flatten().is_none())
                    .then_some(port)
            })
            .collect();
        join_addrs(live.into_iter())
    }

    /// PLAINTEXT `host:port` of one node.
    pub fn node_addr(&self, id: i32) -> String {
        self.with_node(id, |n| format!("127.0.0.1:{}", n.port))
    }

    /// A client config with `bootstrap.servers` set (PLAINTEXT, no auth).
    pub fn client_config(&self) -> ClientConfig {
        client_config(&self.bootstrap())
    }

    /// SASL_SSL `host:port` of every node (when started with `sasl`).
    pub fn sasl_bootstrap(&self) -> Option<String> {
        self.sasl.as_ref()?;
        let nodes = self.nodes.lock().unwrap();
        Some(join_addrs(nodes.iter().filter_map(|n| n.sasl_port)))
    }

    /// The PEM file of the CA that signed the brokers' certificate
    /// (librdkafka's `ssl.ca.location`).
    pub fn ca_file(&self) -> Option<&Path> {
        self.sasl.as_ref().map(|s| s.ca_file.as_path())
    }

    /// The SCRAM user created at format time.
    pub fn sasl_user(&self) -> Option<&SaslOpts> {
        self.sasl.as_ref().map(|s| &s.opts)
    }

    /// librdkafka properties for the SASL_SSL listener with `password` (the
    /// right one from `sasl_user`, or a wrong one), bootstrap included.
    pub fn sasl_client_props(&self, password: &str) -> Vec<(String, String)> {
        let sasl = self.sasl.as_ref().expect("cluster started without sasl");
        [
            ("bootstrap.servers", self.sasl_bootstrap().unwrap()),
            ("security.protocol", "SASL_SSL".into()),
            ("sasl.mechanism", "SCRAM-SHA-512".into()),
            ("sasl.username", sasl.opts.username.clone()),
            ("sasl.password", password.into()),
            ("ssl.ca.location", sasl.ca_file.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `sasl_client_props` as a `ClientConfig`.
    pub fn sasl_client_config(&self, password: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in self.sasl_client_props(password) {
            c.set(k, v);
        }
        c
    }

    /// Creates a topic and waits until every partition has a leader and a
    /// full ISR. `configs` are topic configs, e.g. `max.message.bytes`.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication: i32,
        configs: &[(&str, &str)],
    ) {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let res = block_on(self.admin.create_topics([&topic], &opts))
            .unwrap_or_else(|e| panic!("create topic {name}: {e}"));
        for r in res {
            if let Err((t, e)) = r {
                panic!("create topic {t}: {e}");
            }
        }
        self.wait_until(&format!("topic {name} fully replicated"), || {
            let p = self.try_partitions(name).ok()?;
            let done = p.len() == partitions as usize
                && p.iter()
                    .all(|p| p.leader >= 0 && p.isr.len() == replication as usize);
            done.then_some(())
        });
    }

    /// Deletes a topic.
    pub fn delete_topic(&self, name: &str) {
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let res = block_on(self.admin.delete_topics(&[name], &opts))
            .unwrap_or_else(|e| panic!("delete topic {name}: {e}"));
        for r in res {
            if let Err((t, e)) = r {
                panic!("delete topic {t}: {e}");
            }
        }
    }

    /// Sets topic configs (AlterConfigs: configs not named go back to their
    /// defaults), e.g. `min.insync.replicas`.
    pub fn alter_topic_config(&self, name: &str, configs: &[(&str, &str)]) {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (k, v) in configs {
            alter = alter.set(k, v);
        }
        // With a node down the request may go to its dead connection and
        // time out: asked again (on a live node) for up to two minutes.
        let opts = AdminOptions::new()
            .request_timeout(Some(Duration::from_secs(10)))
            .operation_timeout(Some(Duration::from_secs(10)));
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut attempt = 0;
        loop {
            // After a failure, a fresh client that knows only the live
            // nodes: the long-lived one kept sending to the dead node's
            // connection (two minutes of timeouts in the keyed
            // backpressure test).
            let fresh: AdminClient<DefaultClientContext>;
            let admin = if attempt == 0 {
                &self.admin
            } else {
                fresh = client_config(&self.live_bootstrap())
                    .create()
                    .expect("admin client");
                &fresh
            };
            attempt += 1;
            let err = match block_on(admin.alter_configs([&alter], &opts)) {
                Ok(res) => match res.into_iter().find_map(|r| r.err()) {
                    None => return,
                    Some((_, e)) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            assert!(Instant::now() < deadline, "alter configs of {name}: {err}");
            eprintln!("alter configs of {name}: {err}; retrying");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Kills every node and removes the cluster's folder, for a cluster
    /// kept in a static (never dropped): call it at process exit.
    pub fn shutdown(&self) {
        let mut nodes = match self.nodes.lock() {
            Ok(n) => n,
            Err(poisoned) => poisoned.into_inner(),
        };
        for n in nodes.iter_mut() {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.path());
    }

    /// Leader, replicas and ISR of every partition of `topic` (panics after
    /// 30 s without an answer).
    pub fn partitions(&self, topic: &str) -> Vec<PartitionState> {
        self.wait_until(&format!("metadata of {topic}"), || {
            self.try_partitions(topic).ok()
        })
    }

    /// The node that leads `topic`'s `partition` (-1: none right now).
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        self.partitions(topic)
            .into_iter()
            .find(|p| p.partition == partition)
            .map_or(-1, |p| p.leader)
    }

    /// How many partitions of `topics` each node leads.
    pub fn leader_counts(&self, topics: &[&str]) -> BTreeMap<i32, usize> {
        let mut counts: BTreeMap<i32, usize> =
            self.node_ids().into_iter().map(|id| (id, 0)).collect();
        for t in topics {
            for p in self.partitions(t) {
                if p.leader >= 0 {
                    *counts.entry(p.leader).or_default() += 1;
                }
            }
        }
        counts
    }

    /// The node leading the most partitions of `topics`.
    pub fn busiest_leader(&self, topics: &[&str]) -> i32 {
        let counts = self.leader_counts(topics);
        let max = counts.values().copied().max().unwrap_or(0);
        counts.into_iter().find(|&(_, c)| c == max).unwrap().0
    }

    /// Waits (at most `timeout`) until `cond` holds for `topic`'s
    /// `partition`; the state that satisfied it.
    pub fn wait_partition(
        &self,
        topic: &str,
        partition: i32,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&PartitionState) -> bool,
    ) -> PartitionState {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(ps) = self.try_partitions(topic) {
                if let Some(p) = ps.into_iter().find(|p| p.partition == partition) {
                    if cond(&p) {
                        return p;
                    }
                    last = Some(p);
                }
            }
            assert!(
                Instant::now() < deadline,
                "{topic}[{partition}]: not {what} within {timeout:?}; last state {last:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILLs one node (no clean shutdown, no flush).
    pub fn kill(&self, id: i32) {
        let child = self.with_node(id, |n| n.child.take());
        let mut child = child.unwrap_or_else(|| panic!("kafka node {id} is not running"));
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts a killed node again (same ports, same data) and waits until it
    /// serves and lists every running node.
    pub fn restart(&self, id: i32) {
        assert!(
            self.with_node(id, |n| n.child.is_none()),
            "kafka node {id} is still running: kill it first"
        );
        self.spawn(id);
        self.wait_ready(id);
    }

    /// Whether a node's process is alive.
    pub fn is_running(&self, id: i32) -> bool {
        self.with_node(id, |n| {
            n.child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_none())
        })
    }

    /// A node's folder: server.properties, data/, logs/server.log.
    pub fn node_dir(&self, id: i32) -> PathBuf {
        self.with_node(id, |n| n.dir.clone())
    }

    /// The last `lines` lines of every node's broker log and JVM output.
    pub fn log_tail(&self, lines: usize) -> String {
        let dirs: Vec<_> = self
            .nodes
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.dir.clone())
            .collect();
        let mut out = String::new();
        for (id, d) in dirs.iter().enumerate() {
            for f in ["logs/server.log", "logs/stdout.log"] {
                let text = std::fs::read_to_string(d.join(f)).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                let tail = &all[all.len().saturating_sub(lines)..];
                let _ = writeln!(out, "--- node {id} {f} (last {} lines)", tail.len());
                for l in tail {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
        out
    }

    fn with_node<T>(&self, id: i32, f: impl FnOnce(&mut Node) -> T) -> T {
        let mut nodes = self.nodes.lock().unwrap();
        let n = nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no kafka node {id}"));
        f(n)
    }

    fn spawn(&self, id: i32) {
        let (dir, logs) = self.with_node(id, |n| (n.dir.clone(), n.dir.join("logs")));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("stdout.log"))
            .unwrap();
        let mut cmd = java(&self.libs, &logs);
        cmd.args(jvm_options())
            .arg("kafka.Kafka")
            .arg(dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = spawn_watched(cmd).expect("start java (is a JDK 17+ installed?)");
        self.with_node(id, |n| n.child = Some(child));
    }

    /// Until node `id` answers a metadata request on its own listener and
    /// lists itself and every other running node.
    fn wait_ready(&self, id: i32) {
        let addr = self.node_addr(id);
        let probe: BaseConsumer = client_config(&addr)
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "500")
            .create()
            .expect("Kafka probe client");
        self.wait_until(&format!("node {id} ready"), || {
            assert!(
                self.is_running(id),
                "kafka node {id} exited during start:\n{}",
                self.log_tail(40)
            );
            let running: BTreeSet<i32> = self
                .node_ids()
                .into_iter()
                .filter(|&n| self.is_running(n))
                .collect();
            let md = probe.fetch_metadata(None, Duration::from_secs(2)).ok()?;
            let listed: BTreeSet<i32> = md.brokers().iter().map(|b| b.id()).collect();
            running.is_subset(&listed).then_some(())
        });
    }

    fn try_partitions(&self, topic: &str) -> Result<Vec<PartitionState>, String> {
        let md = self
            .metadata
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or("topic missing from metadata")?;
        if let Some(e) = t.error() {
            return Err(format!("{e:?}"));
        }
        Ok(t.partitions()
            .iter()
            .map(|p| PartitionState {
                partition: p.id(),
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            })
            .collect())
    }

    /// Polls `f` until it gives a value; panics with the broker logs after
    /// `READY_TIMEOUT`.
    fn wait_until<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() >= deadline {
                panic!(
                    "kafka: {what}: timed out after {READY_TIMEOUT:?}\n{}",
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One cluster of `opts` per test process, started by the first caller and
/// shared by the tests of the binary (each with its own topics and
/// groups); shut down when the process exits. Later callers get the first
/// cluster whatever their `opts`.
pub fn shared_cluster(opts: KafkaOpts) -> Arc<KafkaCluster> {
    static SHARED: OnceLock<Arc<KafkaCluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let c = Arc::new(KafkaCluster::start(opts));
            let for_exit = c.clone();
            super::at_exit(move || for_exit.shutdown());
            c
        })
        .clone()
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        let nodes = match self.nodes.get_mut() {
            Ok(n) => n,
            Err(poisoned) => poisoned.into_inner(),
        };
        for n in nodes.iter_mut() {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

fn join_addrs(ports: impl Iterator<Item = u16>) -> String {
    ports
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The node's server.properties: its own keys, the shared file, the
/// cluster-size keys, SASL_SSL, then the test's extras (the last one wins).
fn node_properties(
    n: &Node,
    all: &[Node],
    opts: &KafkaOpts,
    keystore: Option<&Keystore>,
) -> String {
    let (rf, isr) = if all.len() >= 3 { (3, 2) } else { (1, 1) };
    let mut listeners = format!(
        "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
        n.port, n.controller_port
    );
    let mut advertised = format!("PLAINTEXT://127.0.0.1:{}", n.port);
    let mut map = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".to_string();
    if let Some(p) = n.sasl_port {
        let _ = write!(listeners, ",SASL_SSL://127.0.0.1:{p}");
        let _ = write!(advertised, ",SASL_SSL://127.0.0.1:{p}");
        map.push_str(",SASL_SSL:SASL_SSL");
    }
    let quorum = join_addrs(all.iter().map(|n| n.controller_port));
    let mut s = String::new();
    let _ = writeln!(s, "node.id={}", n.id);
    let _ = writeln!(s, "listeners={listeners}");
    let _ = writeln!(s, "advertised.listeners={advertised}");
    let _ = writeln!(s, "listener.security.protocol.map={map}");
    let _ = writeln!(s, "controller.quorum.bootstrap.servers={quorum}");
    let _ = writeln!(s, "log.dirs={}", n.dir.join("data").display());
    for (k, v) in [
        ("default.replication.factor", rf),
        ("min.insync.replicas", isr),
        ("offsets.topic.replication.factor", rf),
        ("transaction.state.log.replication.factor", rf),
        ("transaction.state.log.min.isr", isr),
        ("share.coordinator.state.topic.replication.factor", rf),
        ("share.coordinator.state.topic.min.isr", isr),
    ] {
        let _ = writeln!(s, "{k}={v}");
    }
    s.push_str(BROKER_PROPERTIES);
    if let Some(ks) = keystore {
        let l = "listener.name.sasl_ssl";
        let _ = writeln!(s, "sasl.enabled.mechanisms=SCRAM-SHA-512");
        let _ = writeln!(
            s,
            "{l}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        );
        let _ = writeln!(s, "{l}.ssl.keystore.type=PKCS12");
        let _ = writeln!(s, "{l}.ssl.keystore.location={}", ks.path.display());
        let _ = writeln!(s, "{l}.ssl.keystore.password={}", ks.password);
        let _ = writeln!(s, "{l}.ssl.key.password={}", ks.password);
    }
    for (k, v) in &opts.extra_props {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}
