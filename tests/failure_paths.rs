//! Failure paths (issue 27): corrupt CRM files, secrets, liveness.
//! Each test reproduces a fault that crashed, leaked or stalled before.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use switchboard::config::Config;
use switchboard::metrics::Health;
use switchboard::state::crm::CrmState;
use switchboard::topology::wait_until;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// `generate crm` into `root/<valid_from as a directory name>`.
fn generate_crm(root: &Path, valid_from: &str) -> PathBuf {
    let out = bin()
        .args(["generate", "crm", "--customers", "10000", "--seed", "1"])
        .args(["--valid-from", valid_from, "--out"])
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join(valid_from.replace(':', "-"))
}

/// The reproducer of issue 27: byte 396046 of `identities.parquet` set to
/// 'a' makes arrow-ipc panic ("Type <UNKNOWN 133> not supported").
fn corrupt(version: &Path) {
    let p = version.join("identities.parquet");
    let mut d = std::fs::read(&p).unwrap();
    assert!(
        d.len() > 396046,
        "generator output changed: {} bytes",
        d.len()
    );
    d[396046] = b'a';
    std::fs::write(&p, d).unwrap();
}

fn copy_version(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["customers.parquet", "identities.parquet"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

#[test]
fn process_skips_a_corrupt_crm_version_and_uses_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let crm = dir.path().join("crm");
    let good = generate_crm(&crm, "2026-12-06T00:00:00Z");
    let bad = crm.join("2026-12-07T00-00-00Z");
    copy_version(&good, &bad);
    corrupt(&bad);
    let mentions = dir.path().join("m.jsonl");
    let gen = bin()
        .args(["generate", "mentions", "--count", "300", "--seed", "1"])
        .args(["--start", "2026-12-07T08:00:00Z", "--out"])
        .arg(&mentions)
        .output()
        .unwrap();
    assert!(gen.status.success());
    let out_path = dir.path().join("o.jsonl");
    let process = || {
        bin()
            .args(["process", "--mentions"])
            .arg(&mentions)
            .arg("--crm")
            .arg(&crm)
            .arg("--out")
            .arg(&out_path)
            .output()
            .unwrap()
    };
    let out = process();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal failure"),
        "{err}"
    );
    assert!(
        err.contains("CRM snapshot version skipped"),
        "logged: {err}"
    );
    assert!(
        err.contains("skipped {\"unreadable\": 1}"),
        "counted: {err}"
    );
    // The good version joined the authors.
    let items = std::fs::read_to_string(&out_path).unwrap();
    assert!(items.contains("\"customer_id\":\"C"), "no matched customer");

    // With the corrupt version alone: one line, exit 1, no panic.
    std::fs::remove_dir_all(&good).unwrap();
    let out = process();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: --crm") && last.contains("corrupt file"),
        "{err}"
    );
    assert!(!err.contains("panicked at"), "{err}");
}

fn crm_config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.identity.snapshot_dir = dir.display().to_string();
    c.identity.read_updates = false;
    c.identity.poll_interval_ms = 100;
    c.identity.keep_versions = 2;
    c
}

#[test]
fn the_reload_thread_survives_a_corrupt_version_and_loads_a_later_good_one() {
    let _ = switchboard::metrics::install();
    let dir = tempfile::tempdir().unwrap();
    let crm = dir.path().join("crm");
    let v1 = generate_crm(&crm, "2026-12-06T00:00:00Z");

    // At start, a corrupt version alone is one error line, not a panic.
    let only_bad = dir.path().join("only-bad");
    let bad0 = only_bad.join("2026-12-07T00-00-00Z");
    copy_version(&v1, &bad0);
    corrupt(&bad0);
    let health = Health::new();
    let e = CrmState::start(&crm_config(&only_bad), &health)
        .err()
        .expect("no version loads: start fails");
    let e = e.to_string();
    assert!(
        e.contains("identity.snapshot_dir") && e.contains("corrupt file"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");

    // At start, a corrupt newest version is skipped for the older good one.
    let v2 = crm.join("2026-12-07T00-00-00Z");
    copy_version(&v1, &v2);
    corrupt(&v2);
    health.set_ready(true, "consuming 1 partition(s)");
    let state = CrmState::start(&crm_config(&crm), &health)
        .unwrap()
        .unwrap();
    let names = || -> Vec<String> {
        state
            .join()
            .status()
            .versions
            .iter()
            .map(|v| v.name.clone())
            .collect()
    };
    assert_eq!(names(), ["2026-12-06T00-00-00Z"]);
    assert_eq!(state.totals().snapshot_failures.get("unreadable"), Some(&1));
    assert!(
        health.is_ready(),
        "an older version serves: {}",
        health.reason()
    );
    assert!(
        health
            .reason()
            .contains("crm (degraded): CRM version 2026-12-07T00-00-00Z failed"),
        "{}",
        health.reason()
    );

    // While running: another corrupt version is counted, the thread lives
    // on and a later good version loads.
    let v3 = crm.join("2026-12-08T00-00-00Z");
    copy_version(&v1, &v3);
    corrupt(&v3);
    assert!(
        wait_until(Duration::from_secs(20), || state
            .totals()
            .snapshot_failures
            .get("unreadable")
            == Some(&2)),
        "{:?}",
        state.totals()
    );
    assert!(
        health.reason().contains("2026-12-08T00-00-00Z failed"),
        "{}",
        health.reason()
    );
    let v4 = crm.join("2026-12-09T00-00-00Z");
    copy_version(&v1, &v4);
    assert!(
        wait_until(Duration::from_secs(30), || names()
            .contains(&"2026-12-09T00-00-00Z".to_string())),
        "the later good version was not loaded: {:?}",
        names()
    );
    assert!(!health.reason().contains("degraded"), "{}", health.reason());
    state.shutdown();
    let _ = Arc::clone(&health);
}

mod support;

/// A secret set through the environment (the Kubernetes way) appears in no
/// output: not in `run`'s logs (debug level), nor `/metrics`, `/healthz`,
/// `/readyz`, nor `config`/`check-config`, nor the errors of a misspelt
/// property or of the whole table given as one string.
#[test]
fn a_secret_from_the_environment_appears_in_no_output() {
    use std::io::Read;
    const SECRET: &str = "hunter2-Qx7vB";
    let kafka = switchboard_tools::embedded::EmbeddedKafka::start(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\nbrokers = \"{}\"\n[metrics]\naddr = \"127.0.0.1:{port}\"\n",
            kafka.bootstrap_servers()
        ),
    )
    .unwrap();
    switchboard::cli::demo::create_topics(&kafka, &Config::default().topics, 1).unwrap();
    // Every command runs with the secret in its environment.
    let with_secret = || {
        let mut c = bin();
        c.env("SWITCHBOARD__KAFKA__PROPERTIES__SASL_PASSWORD", SECRET)
            .env("SWITCHBOARD__KAFKA__PROPERTIES__SASL_USERNAME", "care-bot")
            .env("SWITCHBOARD_LOG", "debug");
        c
    };
    let mut outputs: Vec<(String, String)> = Vec::new();

    // `config` shows the mapped property, masked.
    let mut c = with_secret();
    let out = c.arg("config").arg("--config").arg(&cfg).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\"sasl.password\" = \"***\""), "{text}");
    assert!(text.contains("\"sasl.username\" = \"care-bot\""), "{text}");
    outputs.push(("config stdout".into(), text));
    outputs.push((
        "config stderr".into(),
        String::from_utf8_lossy(&out.stderr).into(),
    ));

    // A misspelt secret property: an error naming it, not its value.
    let mut c = with_secret();
    let out = c
        .env("SWITCHBOARD__KAFKA__PROPERTIES__SASL_PASWORD", SECRET)
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("sasl.pasword"), "{err}");
    outputs.push(("misspelt property".into(), err));

    // The whole table as one string (a serde type error before).
    let mut c = with_secret();
    let out = c
        .env(
            "SWITCHBOARD__KAFKA__PROPERTIES",
            format!("sasl.password={SECRET}"),
        )
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    outputs.push((
        "one-string table".into(),
        String::from_utf8_lossy(&out.stderr).into(),
    ));

    // `run`, its endpoints, then SIGTERM.
    let mut c = with_secret();
    let mut child = c
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let up = wait_until(Duration::from_secs(60), || {
        support::http_get(&addr, "/readyz", Duration::from_secs(2))
            .map(|(s, _)| s == 200)
            .unwrap_or(false)
    });
    for path in ["/metrics", "/healthz", "/readyz"] {
        let (_, body) = support::http_get(&addr, path, Duration::from_secs(5)).unwrap_or_default();
        outputs.push((path.into(), body));
    }
    unsafe { libc_kill(child.id() as i32, 15) };
    let status = child.wait().unwrap();
    let mut so = String::new();
    let mut se = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut so)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut se)
        .unwrap();
    assert!(up, "run never became ready: {se}");
    assert!(status.success(), "{se}");
    assert!(se.contains("DEBUG"), "debug logs were on: {se}");
    outputs.push(("run stdout".into(), so));
    outputs.push(("run stderr".into(), se));

    for (what, text) in &outputs {
        assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
