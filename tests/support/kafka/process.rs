//! The processes behind a cluster: the jars (fetched once), the `java`
//! command, storage formatting, and spawning JVMs that die with the test
//! process.

use std::ffi::c_int;
use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::task::{Context, Poll, Wake};

use super::{Node, SaslOpts};

/// The scripts/kafka folder (pom, fetch script, shared broker settings).
pub(super) fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka")
}

/// JVM options of a node, one per line (shared with scripts/kafka-local.sh).
const JVM_OPTIONS: &str = include_str!("../../../scripts/kafka/jvm.options");

pub(super) fn jvm_options() -> impl Iterator<Item = &'static str> {
    JVM_OPTIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `n` distinct ports free on 127.0.0.1 (all held until every one is found).
pub(super) fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// `kafka-storage format` on every node (in parallel): one node is a
/// standalone dynamic quorum; three share `--initial-controllers`.
pub(super) fn format_storage(libs: &Path, nodes: &[Node], sasl: Option<&SaslOpts>) {
    let cluster_id = kafka_uuid();
    let voters = nodes
        .iter()
        .map(|n| format!("{}@127.0.0.1:{}:{}", n.id, n.controller_port, kafka_uuid()))
        .collect::<Vec<_>>()
        .join(",");
    let children: Vec<_> = nodes
        .iter()
        .map(|n| {
            let logs = n.dir.join("logs");
            let mut cmd = java(libs, &logs);
            cmd.args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
                .args(["-XX:-UsePerfData", "kafka.tools.StorageTool", "format"])
                .arg("--config")
                .arg(n.dir.join("server.properties"))
                .args(["--cluster-id", &cluster_id]);
            if nodes.len() == 1 {
                cmd.arg("--standalone");
            } else {
                cmd.args(["--initial-controllers", &voters]);
            }
            if let Some(s) = sasl {
                cmd.arg("--add-scram").arg(format!(
                    "SCRAM-SHA-512=[name={},password={}]",
                    s.username, s.password
                ));
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            spawn_watched(cmd).expect("run kafka-storage format (is a JDK 17+ installed?)")
        })
        .collect();
    for (n, child) in nodes.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kafka-storage format of node {} failed: {}{}",
            n.id,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `java -cp <libs>/*` with the shared log4j2 config logging into `logs`.
pub(super) fn java(libs: &Path, logs: &Path) -> Command {
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin/java"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("java"));
    let mut cmd = Command::new(java);
    cmd.arg(format!(
        "-Dlog4j2.configurationFile={}",
        scripts_dir().join("log4j2.xml").display()
    ))
    .arg(format!("-Dkafka.logs.dir={}", logs.display()))
    .arg("-cp")
    .arg(format!("{}/*", libs.display()));
    cmd
}

/// A Kafka `Uuid` string: 16 random bytes, URL-safe base64 without
/// padding, not starting with '-' (it would read as a flag).
pub(super) fn kafka_uuid() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    loop {
        let bytes: Vec<u8> = (0..16).map(|_| fastrand::u8(..)).collect();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        if !out.starts_with('-') {
            return out;
        }
    }
}

/// The broker jars (fetched once per process if the cache is missing).
pub fn kafka_libs() -> PathBuf {
    static LIBS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LIBS.get_or_init(|| {
        let script = scripts_dir().join("fetch.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && Path::new(&path).is_dir() {
            Ok(PathBuf::from(path))
        } else {
            Err(format!(
                "Apache Kafka jars are missing and could not be fetched: run scripts/kafka/fetch.sh (needs Maven and Maven Central) ({})",
                out.status
            ))
        }
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

extern "C" {
    fn prctl(option: c_int, ...) -> c_int;
    fn getppid() -> c_int;
}

/// Spawns `cmd` so that it is SIGKILLed when this process dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends,
/// so every child is forked by one thread that lives as long as the
/// process (a test thread that starts a cluster may end before it).
pub fn spawn_watched(mut cmd: Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let parent = std::process::id() as c_int;
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            const PR_SET_PDEATHSIG: c_int = 1;
            const SIGKILL: std::ffi::c_ulong = 9;
            if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died before the line above: nobody to watch us.
            if getppid() != parent {
                return Err(io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kafka-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        tx
    });
    let (tx, rx) = mpsc::channel();
    spawner.send((cmd, tx)).expect("spawner thread alive");
    rx.recv().expect("spawner answered")
}

/// Runs a future to completion on this thread (rdkafka's admin futures are
/// completed by librdkafka's own thread; no runtime needed, and callers may
/// be inside one).
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
