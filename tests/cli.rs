//! The `switchboard` binary as users run it: exit codes, one-line errors,
//! and the commands end to end.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// Runs a command that must succeed; returns its output.
fn ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn generate_mentions(path: &std::path::Path) {
    ok(bin()
        .args([
            "generate", "mentions", "--count", "200", "--seed", "3", "--out",
        ])
        .arg(path));
}

fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "no panics: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn check_config_accepts_the_example_and_names_bad_keys() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/switchboard.example.toml"
    );
    let out = bin()
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("config OK"));

    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("[kafka]\nbrokerz = \"a:1\"\n", "brokerz"),
        ("[source]\nmax_batch_rows = 0\n", "source.max_batch_rows"),
        (
            "[classify]\nnegation_window_tokens = \"x\"\n",
            "classify.negation_window_tokens",
        ),
        ("[sentiment]\nmode = \"angry\"\n", "sentiment.mode"),
        (
            "[[route.rules]]\nname = \"wholesale\"\nwhen = \"customer.segment = 'wholesale'\"\nqueue = \"wholesale-liaison\"\n\n[[route.rules]]\nname = \"vip-typo\"\nwhen = \"customer.teir = 'premier'\"\nqueue = \"vip\"\n",
            "route.rules[1].when",
        ),
        (
            "[[route.rules]]\nname = \"not-a-predicate\"\nwhen = \"priority + 1\"\nqueue = \"x\"\n",
            "not-a-predicate",
        ),
        ("[correlate]\nquiet_period_ms = -5\n", "correlate.quiet_period_ms"),
        ("[incident]\nspike_ratio = 0.5\n", "incident.spike_ratio"),
        ("[severity]\np1_min_priority = 500\n", "severity.p1_min_priority"),
        ("not toml at all [[[", "TOML"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = one_line_error(&out);
        assert!(err.contains(key), "{text:?}: {err}");
    }
    let out = bin()
        .args(["check-config", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("/nonexistent.toml"));
}

#[test]
fn generate_then_score_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.jsonl");
    generate_mentions(&file);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        200
    );
    let again = dir.path().join("m2.jsonl");
    generate_mentions(&again);
    assert_eq!(
        bytes,
        std::fs::read(&again).unwrap(),
        "deterministic by seed"
    );

    let crm = dir.path().join("crm");
    ok(bin()
        .args(["generate", "crm", "--customers", "1000", "--out"])
        .arg(&crm));
    let version = std::fs::read_dir(&crm)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        version.join("customers.parquet").is_file() && version.join("identities.parquet").is_file()
    );

    // score: plain texts and mentions (one JSON line out per mention, or an error line).
    let mut child = bin()
        .arg("score")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"My broadband has been down for 3 days and nobody cares\n")
            .unwrap();
        stdin
            .write_all(b"Thank you so much, brilliant service today!\n")
            .unwrap();
        stdin.write_all(&bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 200);
    assert!(
        lines[0]["sentiment"]["compound"].as_f64().unwrap() < -0.05,
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["category"], "broadband_fault");
    assert!(
        lines[1]["sentiment"]["compound"].as_f64().unwrap() > 0.05,
        "{}",
        lines[1]
    );
    assert_eq!(lines[1]["category"], "praise");
    assert!(
        lines.iter().any(|l| l.get("error").is_some()),
        "malformed records are reported, not dropped"
    );
    assert!(lines
        .iter()
        .all(|l| l.get("error").is_some() || l["language"].is_string()));
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let mentions = ["generate", "mentions", "--count", "5"];
    for (extra, expect) in [
        (
            &["--out", "/nonexistent-dir/x.jsonl"][..],
            "/nonexistent-dir/x.jsonl",
        ),
        (
            &["--malformed-ratio", "2", "--out", "/tmp/x.jsonl"][..],
            "--malformed-ratio",
        ),
    ] {
        let out = bin().args(mentions).args(extra).output().unwrap();
        assert!(one_line_error(&out).contains(expect), "{extra:?}");
    }
    // Errors of the argument parser itself (clap renders them over several
    // lines, with a usage block).
    for (args, expect) in [
        (&["demo", "--duration", "soon"][..], "soon"),
        (&["demo", "--no-such-flag"], "--no-such-flag"),
        (&["process", "--crm", "x"], "--mentions"),
        (&["no-such-command"], "no-such-command"),
        (&[], "no command given"),
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(one_line_error(&out).contains(expect), "{args:?}");
    }
    // Asked-for help is not an error.
    let out = bin().args(["demo", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: switchboard demo"));
}

#[test]
fn demo_runs_end_to_end_and_accounts_for_every_record() {
    let out = bin()
        .args([
            "demo",
            "--duration",
            "2s",
            "--rate",
            "400",
            "--customers",
            "500",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("SWITCHBOARD_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("produced 800 · consumed 800"), "{stdout}");
    assert!(
        stdout.contains("accounted         800 of 800 records"),
        "{stdout}"
    );
    assert!(stdout.contains("example mentions"), "{stdout}");
}
