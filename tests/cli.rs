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
    let out = check_config(example);
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
        let err = one_line_error(&check_config(&path));
        assert!(err.contains(key), "{text:?}: {err}");
    }
    let out = check_config("/nonexistent.toml");
    assert!(one_line_error(&out).contains("/nonexistent.toml"));
}

/// `switchboard check-config --config <path>`.
fn check_config(path: impl AsRef<std::ffi::OsStr>) -> std::process::Output {
    bin()
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .unwrap()
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

    // score: plain texts and mentions, exactly one JSON line out per line in.
    // The generated records include malformed ones (invalid UTF-8 too).
    let mut input = b"My broadband has been down for 3 days and nobody cares\n\
        Thank you so much, brilliant service today!\n"
        .to_vec();
    input.extend_from_slice(&bytes);
    let lines: Vec<serde_json::Value> = score(&[], &input)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 202, "one line out per line in");
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
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["line"], i + 1, "{l}");
        assert!(
            l.get("error").is_some() || l.get("empty").is_some() || l["language"].is_string(),
            "{l}"
        );
    }
}

/// Runs `score` (with `extra` arguments) on `input` (written from a thread:
/// the output can be larger than a pipe's buffer); returns stdout's lines.
fn score(extra: &[&str], input: impl AsRef<[u8]>) -> Vec<String> {
    let mut child = bin()
        .arg("score")
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.as_ref().to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A Facebook page webhook with only a like on it, and one with two
/// comments and a reaction.
const FB_NOTHING: &str = r#"{"object":"page","entry":[{"id":"1","time":1795341600,"changes":[{"field":"feed","value":{"item":"like","verb":"add","post_id":"1_2","created_time":1795341600}}]}]}"#;
const FB_TWO: &str = r#"{"object":"page","entry":[{"id":"1234","time":1795341600,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","from":{"id":"111","name":"Jane Doe"},"message":"Thanks, all sorted now","created_time":1795341600,"post_id":"1234_555","comment_id":"555_777"}},{"field":"feed","value":{"item":"reaction","verb":"add","reaction_type":"angry","from":{"id":"112","name":"Joe"},"post_id":"1234_555","created_time":1795341601}},{"field":"feed","value":{"item":"comment","verb":"add","from":{"id":"113","name":"Ann"},"message":"My broadband has been down for 3 days, I work from home and nobody has called back","created_time":1795341602,"post_id":"1234_555","comment_id":"555_778"}}]}]}"#;

#[test]
fn score_prints_one_line_per_input_line_with_the_work_item() {
    let input = format!(
        "My broadband has been down for 3 days and nobody cares\n\n{FB_NOTHING}\n{{\"data\": \n{FB_TWO}\n"
    );
    let lines = score(&[], &input);
    assert_eq!(lines.len(), 5, "5 in, 5 out: {lines:#?}");
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, l) in v.iter().enumerate() {
        assert_eq!(l["line"], i + 1, "{l}");
    }
    // A plain complaint: what process gives a lone mention of an unknown author.
    assert_eq!(v[0]["category"], "broadband_fault");
    assert!(v[0]["queue"].is_string(), "{}", v[0]);
    assert!(["P1", "P2", "P3", "P4"].contains(&v[0]["severity"].as_str().unwrap()));
    let reasons = v[0]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().contains("outage stated")),
        "{}",
        v[0]
    );
    // Floats rounded to 3 decimals.
    let compound = v[0]["sentiment"]["compound"].as_f64().unwrap();
    assert_eq!(compound, (compound * 1000.0).round() / 1000.0);
    assert!(lines[0].len() < 2000);
    assert_eq!(v[1]["empty"], "blank");
    assert_eq!(v[2]["empty"], "non_actionable");
    assert!(v[3]["error"].is_string(), "{}", v[3]);
    // Two mentions in one webhook: one line, the worse one leads.
    assert_eq!(v[4]["mention_count"], 2);
    assert_eq!(v[4]["mention_id"], "555_778");
    let prio = |m: &serde_json::Value| m["priority"].as_u64().unwrap();
    let ms = v[4]["mentions"].as_array().unwrap();
    assert!(prio(&v[4]) >= prio(&ms[0]) && prio(&v[4]) >= prio(&ms[1]));

    // The table: a header and one row per input line, in order.
    let table = score(&["--table"], &input);
    assert_eq!(table.len(), 6, "{table:#?}");
    assert!(table[0].contains("SEV") && table[0].contains("QUEUE"));
    for (i, row) in table[1..].iter().enumerate() {
        assert_eq!(
            row.split_whitespace().next().unwrap(),
            (i + 1).to_string(),
            "{row}"
        );
    }
    assert!(table[1].contains(v[0]["queue"].as_str().unwrap()));
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

/// A record to produce: key, payload, headers.
type Record<'a> = (&'a str, String, &'a [(&'a str, &'a str)]);

/// Produces `records` to `topic` and waits for delivery.
fn produce(brokers: &str, topic: &str, records: &[Record<'_>]) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let p: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, payload, headers) in records {
        let mut h = OwnedHeaders::new();
        for (k, v) in *headers {
            h = h.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        p.send(BaseRecord::to(topic).key(*key).payload(payload).headers(h))
            .unwrap();
    }
    p.flush(std::time::Duration::from_secs(10)).unwrap();
}

fn work_item(id: &str, queue: &str, severity: &str, priority: u8) -> String {
    serde_json::json!({"work_item_id": id, "revision": 1, "action": "created", "queue": queue,
        "category": "broadband_fault", "severity": severity, "priority": priority,
        "reasons": ["+20 category: broadband_fault"], "customer": null,
        "updated_at": "2026-12-07T20:30:01.123Z"})
    .to_string()
}

#[test]
fn tap_samples_work_items_and_dlq_records_from_the_topics() {
    let kafka = switchboard_tools::embedded::EmbeddedKafka::start(1).unwrap();
    kafka
        .create_topics(&["work-items", "mentions-dlq"], 3)
        .unwrap();
    let brokers = kafka.bootstrap_servers();
    let items = [
        ("a", work_item("wi-a", "network", "P1", 80), &[][..]),
        ("b", work_item("wi-b", "billing", "P3", 30), &[][..]),
        ("c", work_item("wi-c", "network", "P3", 30), &[][..]),
        ("d", work_item("wi-d", "network", "P2", 50), &[][..]),
    ];
    produce(&brokers, "work-items", &items);
    let dlq_headers: &[(&str, &str)] = &[
        ("error.reason", "malformed_json"),
        ("error.detail", "expected value at line 1"),
        ("source.topic", "mentions"),
        ("source.partition", "0"),
        ("source.offset", "41"),
    ];
    produce(
        &brokers,
        "mentions-dlq",
        &[("k", "{not json".to_string(), dlq_headers)],
    );
    let tap = |extra: &[&str]| {
        let out = ok(bin()
            .args(["tap", "--brokers", &brokers, "--from-beginning"])
            .args(["--duration", "20s"])
            .args(extra));
        let s = String::from_utf8(out.stdout).unwrap();
        s.lines().map(str::to_string).collect::<Vec<_>>()
    };
    // Network, P1 or P2: two of the four, compact form; --count ends it.
    let mut lines = tap(&[
        "--queue",
        "network",
        "--severity",
        "P1",
        "--severity",
        "P2",
        "--count",
        "2",
    ]);
    lines.sort();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].contains(" P1 ") && lines[0].contains("wi-a"),
        "{lines:#?}"
    );
    assert!(
        lines[1].contains(" P2 ") && lines[1].contains("wi-d"),
        "{lines:#?}"
    );
    // JSON, with the DLQ record and its headers.
    let lines = tap(&["--json", "--dlq", "--count", "5"]);
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dlq: Vec<_> = v
        .iter()
        .filter(|r| r.get("error.reason").is_some())
        .collect();
    assert_eq!(dlq.len(), 1, "{lines:#?}");
    assert_eq!(dlq[0]["error.reason"], "malformed_json");
    assert_eq!(dlq[0]["payload"], "{not json");
    assert_eq!(dlq[0]["source.offset"], "41");
    let mut ids: Vec<_> = v
        .iter()
        .filter_map(|r| r["work_item_id"].as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["wi-a", "wi-b", "wi-c", "wi-d"]);
    // A topic that is not there is a one-line error.
    let out = bin()
        .args(["tap", "--brokers", &brokers, "--dlq", "--duration", "5s"])
        .env("SWITCHBOARD__TOPICS__DLQ", "no-such-topic")
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("no-such-topic"));
}

/// The `switchboard-demo-crm-*` directories under `dir`.
fn demo_crm_dirs(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("switchboard-demo-crm-"))
        .collect()
}

/// Whether `line` is a plain status line showing work items created.
fn status_line_with_items(line: &str) -> bool {
    let t = line.trim_start();
    t.split_once("s  in ")
        .is_some_and(|(secs, _)| secs.parse::<u64>().is_ok())
        && line
            .split_once("items ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|n| n != "0")
}

/// A `switchboard demo` running with stdout piped (plain status lines),
/// `$TMPDIR` a folder of its own; killed on drop if still running.
struct Demo {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Stdout lines read so far.
    out: Vec<String>,
    tmp: tempfile::TempDir,
}

impl Demo {
    fn start() -> Self {
        use std::io::BufRead;
        let tmp = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(tmp.path().join("stderr.log")).unwrap();
        let mut child = bin()
            .args(["demo", "--duration", "300s", "--rate", "300"])
            .args(["--customers", "300", "--metrics-addr", "127.0.0.1:0"])
            .env("TMPDIR", tmp.path())
            .env("SWITCHBOARD_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            reader: Some(reader),
            out: Vec::new(),
            tmp,
        }
    }

    /// Reads stdout until a line satisfies `f` (at most 180 s).
    fn wait_for(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(l) = self.out.iter().find(|l| f(l)) {
                return l.clone();
            }
            match self.lines.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => self.out.push(line),
                Err(_) if Instant::now() < deadline => {}
                Err(_) => panic!("no {what} from the demo:\n{}", self.out.join("\n")),
            }
        }
    }

    /// Sends `signal`, waits (at most 60 s) for the exit; reads the rest of stdout.
    fn stop_with(&mut self, signal: i32) -> std::process::ExitStatus {
        use std::time::{Duration, Instant};
        // SAFETY: signals the child this test started.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
        let stopped = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(60),
                "the demo did not stop within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.out.extend(self.lines.try_iter());
        status
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ctrl-C (SIGINT) or SIGTERM stops the demo cleanly: exit 0, the summary
/// so far on lines of its own with the end-to-end latency and the lag, and
/// the temporary CRM directory removed. Stdout is a pipe, not a terminal:
/// plain status lines, each within 80 columns.
#[test]
fn a_signal_stops_the_demo_with_its_summary_and_removes_its_crm_dir() {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let mut demo = Demo::start();
        demo.wait_for("status line with work items", status_line_with_items);
        let tmp = demo.tmp.path().to_path_buf();
        assert_eq!(
            demo_crm_dirs(&tmp).len(),
            1,
            "{name}: the CRM dir while running"
        );
        let status = demo.stop_with(signal);
        let out = &demo.out;
        let text = out.join("\n");
        assert!(
            status.success(),
            "{name}: {status:?}\n{text}\n{}",
            demo.stderr()
        );
        assert!(text.contains(&format!("stopped early by {name}")), "{text}");
        assert!(
            out.iter().any(|l| l == "Summary"),
            "summary on its own line: {text}"
        );
        let latency = out
            .iter()
            .find(|l| l.starts_with("  latency "))
            .expect("latency line");
        assert!(
            latency.contains("p50 ") && latency.contains("p99 "),
            "{latency}"
        );
        assert!(!latency.contains("no batch"), "{latency}");
        let lag = out
            .iter()
            .find(|l| l.starts_with("  lag at the end "))
            .expect("lag line");
        assert!(lag.contains("consumer lag "), "{lag}");
        for l in out.iter().filter(|l| status_line_with_items(l)) {
            assert!(l.chars().count() <= 80, "wider than 80 columns: {l}");
        }
        assert!(
            demo_crm_dirs(&tmp).is_empty(),
            "{name}: CRM dir left behind"
        );
    }
}

/// `top --once` against a running demo: one text frame naming every stage
/// and operator with non-negative rates, the readiness and the lag.
#[test]
fn top_once_shows_a_running_demo_stages_and_operators() {
    let mut demo = Demo::start();
    let header = demo.wait_for("metrics address", |l| {
        l.trim_start().starts_with("metrics ")
    });
    let addr = header
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("metrics address in the header")
        .to_string();
    demo.wait_for("status line with work items", status_line_with_items);
    let out = ok(bin().args([
        "top",
        "--once",
        "--interval",
        "500ms",
        "--metrics-addr",
        &addr,
    ]));
    let frame = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        frame.contains(&format!("switchboard top — {addr}")),
        "{frame}"
    );
    assert!(frame.contains("ready: consuming"), "{frame}");
    // Each stage and operator row: name, rate in, rate out (≥ 0), …
    let rate = |cell: &str| -> f64 {
        let v = cell.trim_end_matches("/s").replace(',', "");
        v.parse()
            .unwrap_or_else(|_| panic!("not a rate: {cell}\n{frame}"))
    };
    let names = [
        "parse",
        "enrich",
        "identity",
        "spam",
        "sink",
        "dlq",
        "language",
        "sentiment",
        "classify",
        "identity_join",
        "severity",
        "incident",
        "route",
        "correlate",
    ];
    for name in names {
        let row = frame
            .lines()
            .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{frame}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(rate(cells[1]) >= 0.0 && rate(cells[2]) >= 0.0, "{row}");
    }
    // The parse stage is busy while the firehose runs.
    let parse = frame.lines().find(|l| l.contains("│parse ")).unwrap();
    assert!(
        rate(parse.split_whitespace().nth(1).unwrap()) > 0.0,
        "{parse}"
    );
    assert!(frame.contains("Kafka      lag "), "{frame}");
    assert!(demo.stop_with(libc::SIGINT).success());
    // An instance that is not there: one line, exit 1.
    let gone = bin()
        .args(["top", "--once", "--metrics-addr", &addr])
        .output()
        .unwrap();
    assert!(
        one_line_error(&gone).contains("cannot read http://"),
        "{gone:?}"
    );
}
