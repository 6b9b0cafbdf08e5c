//! `switchboard bench --brokers` on a real Apache Kafka broker (one node,
//! `tests/support/kafka.rs`): the loops run on topics and groups of the
//! bench's own, which are gone from the cluster when it exits, after a
//! normal run and after Ctrl-C. A watcher lists the cluster's topics
//! while the bench runs, so the test sees for itself that they existed.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use support::kafka::{shared_cluster, KafkaCluster, KafkaOpts};

/// The cluster's topics (internal `__…` ones left out) and groups.
fn names(c: &BaseConsumer) -> (BTreeSet<String>, BTreeSet<String>) {
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    let topics = md
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| !n.starts_with("__"))
        .collect();
    let groups = c
        .fetch_group_list(None, Duration::from_secs(10))
        .unwrap()
        .groups()
        .iter()
        .map(|g| g.name().to_string())
        .collect();
    (topics, groups)
}

/// A bench process against `cluster`, its stderr read line by line into
/// `lines`.
struct Bench {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Bench {
    fn start(cluster: &KafkaCluster, records: u64) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["bench", "--brokers", &cluster.bootstrap()])
            .args(["--records", &records.to_string()])
            .args(["--runs", "1", "--partitions", "4", "--workers", "2"])
            .args(["--customers", "2000"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = child.stderr.take().unwrap();
        let lines = stderr.clone();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
        Self {
            child,
            stderr,
            reader,
        }
    }

    /// The name prefix the bench announces on stderr.
    fn prefix(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let found = self.stderr.lock().unwrap().iter().find_map(|l| {
                l.split_once("names start with ")
                    .map(|(_, p)| p.trim().trim_end_matches('-').to_string())
            });
            if let Some(p) = found {
                assert!(p.starts_with("switchboard-bench-"), "{p}");
                return p;
            }
            assert!(Instant::now() < deadline, "no prefix line");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit: status code, stdout, stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut self.child.stdout.take().unwrap(), &mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let stderr = self.stderr.lock().unwrap().join("\n");
        (status.code(), stdout, stderr)
    }
}

/// Lists the cluster's topics every 100 ms until `stop`: every name seen.
fn watch_topics(
    cluster: &KafkaCluster,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<BTreeSet<String>> {
    let c: BaseConsumer = cluster.client_config().create().unwrap();
    std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(md) = c.fetch_metadata(None, Duration::from_secs(5)) {
                seen.extend(md.topics().iter().map(|t| t.name().to_string()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    })
}

fn under(names: &BTreeSet<String>, prefix: &str) -> Vec<String> {
    names
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn bench_on_a_real_broker_prints_the_ratios_and_deletes_what_it_created() {
    let cluster = shared_cluster(KafkaOpts::nodes(1));
    let probe: BaseConsumer = cluster.client_config().create().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_topics(&cluster, stop.clone());
    let bench = Bench::start(&cluster, 3_000);
    let prefix = bench.prefix();
    let (code, stdout, stderr) = bench.finish();
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&format!("external cluster {}", cluster.bootstrap())),
        "{stdout}"
    );
    for line in [
        "limit loop",
        "pipeline, full",
        "ingest/limit",
        "full/limit",
        "output ceiling/limit",
        "keyed, 1 instance(s)",
        "limit/consume",
    ] {
        let l = stdout
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no `{line}` line in\n{stdout}"));
        // Every figure is a positive number (a ratio or a rate).
        let figure: f64 = l[line.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(figure > 0.0, "{l}");
    }
    // The run's topics existed while it ran: input, outputs, the ceiling's
    // and the keyed loop's own.
    let created = under(&seen, &prefix);
    for t in [
        "-r0-mentions",
        "-r0-work-items",
        "-r0-ceiling-out",
        "-r0-keyed1-repartition",
        "-r0-keyed1-changelog",
    ] {
        assert!(
            created.contains(&format!("{prefix}{t}")),
            "{t} not seen: {created:?}"
        );
    }
    // And they are gone, with every group of the bench.
    let (topics, groups) = names(&probe);
    assert_eq!(under(&topics, &prefix), Vec::<String>::new());
    assert_eq!(under(&groups, &prefix), Vec::<String>::new());
    assert!(
        stderr.contains(&format!("named {prefix}-r0-…")),
        "no cleanup line:\n{stderr}"
    );
}

#[test]
fn ctrl_c_deletes_the_bench_topics() {
    let cluster = shared_cluster(KafkaOpts::nodes(1));
    let probe: BaseConsumer = cluster.client_config().create().unwrap();
    // Enough records that the bench is still producing its input.
    let bench = Bench::start(&cluster, 200_000);
    let prefix = bench.prefix();
    let mentions = format!("{prefix}-r0-mentions");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !names(&probe).0.contains(&mentions) {
        assert!(Instant::now() < deadline, "{mentions} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(bench.child.id() as i32, libc::SIGINT) };
    let (code, stdout, stderr) = bench.finish();
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let (topics, _) = names(&probe);
    assert_eq!(under(&topics, &prefix), Vec::<String>::new(), "{stderr}");
}
