//! A standalone tansu broker (a separate process, in-memory storage) for the
//! end-to-end tests that must not only run against librdkafka's own mock
//! cluster. `.ci/run` installs it (`cargo install tansu`); the binary is
//! taken from `$TANSU`, else `tansu` on the `PATH`, else `~/.cargo/bin`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A running tansu broker on 127.0.0.1; killed when dropped.
pub struct Tansu {
    child: Child,
    port: u16,
    bin: PathBuf,
    log: PathBuf,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return PathBuf::from(p);
    }
    let on_path = Command::new("tansu")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return PathBuf::from("tansu");
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = PathBuf::from(home).join(".cargo/bin/tansu");
    assert!(
        p.exists(),
        "tansu is not installed: run .ci/run, or `cargo install tansu --locked --features dynostore`"
    );
    p
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub fn start(log: PathBuf) -> Self {
        let bin = binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn tansu broker");
        let t = Self {
            child,
            port,
            bin,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen; log:\n{}",
                std::fs::read_to_string(&t.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    /// `host:port` for clients.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic (tansu implements CreateTopics; its CLI uses it).
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let out = Command::new(&self.bin)
            .args([
                "topic",
                "create",
                name,
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
                "--partitions",
                &partitions.to_string(),
            ])
            .output()
            .expect("run tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
