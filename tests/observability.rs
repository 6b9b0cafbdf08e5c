//! Dashboards and alerts checked with the real tools: `promtool` (rule check
//! and unit tests), `yamllint`, and a real Prometheus server scraping a
//! running `switchboard demo`, queried for every dashboard panel expression
//! and every alert/recording rule expression.
//!
//! Needs Debian's `prometheus` (server and `promtool`) and `yamllint`
//! packages; `.ci/run` installs them. A missing tool fails the test.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{free_port, http_get};

/// How long a query to Prometheus may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// A command for an external tool, failing clearly when it is missing.
fn tool(name: &str, package: &str) -> Command {
    match Command::new(name).arg("--version").output() {
        Ok(_) => Command::new(name),
        Err(e) => panic!(
            "`{name}` cannot run ({e}): install the Debian package `{package}` \
             (apt-get install {package}; .ci/run does)"
        ),
    }
}

fn run_ok(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Alert names declared in alerts.yml (`- alert: Name` lines).
fn declared_alerts(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn alert_rules_pass_promtool_and_yamllint_and_every_alert_has_tests_and_a_runbook() {
    let rules_path = "deploy/prometheus/alerts.yml";
    let tests_path = "deploy/prometheus/alerts_test.yml";
    run_ok(
        "promtool check rules",
        tool("promtool", "prometheus").args(["check", "rules", rules_path]),
    );
    run_ok(
        "promtool test rules",
        tool("promtool", "prometheus").args(["test", "rules", tests_path]),
    );
    let mut yml: Vec<String> = fs::read_dir(root().join("deploy/prometheus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    yml.sort();
    assert!(yml.len() >= 2, "rule files found: {yml:?}");
    run_ok(
        "yamllint -s",
        tool("yamllint", "yamllint")
            .args(["-s", "-c", ".yamllint"])
            .args(&yml),
    );

    let rules = fs::read_to_string(root().join(rules_path)).unwrap();
    let tests = fs::read_to_string(root().join(tests_path)).unwrap();
    let runbook = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let alerts = declared_alerts(&rules);
    assert!(alerts.len() >= 8, "alerts: {alerts:?}");

    // Unit-test cases per alert: one where it fires (`exp_alerts` follows
    // the `alertname`), one where it must not.
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(name) = l.strip_prefix("alertname:") {
            let next = lines[i + 1..].iter().find(|l| !l.is_empty()).copied();
            if next.is_some_and(|n| n.starts_with("exp_alerts:")) {
                fires.insert(name.trim().to_string());
            } else {
                silent.insert(name.trim().to_string());
            }
        }
    }
    for a in &alerts {
        assert!(fires.contains(a), "{a}: no promtool case where it fires");
        assert!(
            silent.contains(a),
            "{a}: no promtool case where it must not fire"
        );
        let anchor = format!("docs/operations.md#{}", a.to_lowercase());
        assert!(
            rules.contains(&format!("runbook_url: \"{anchor}\"")),
            "{a}: runbook_url must be {anchor}"
        );
        assert!(
            runbook.lines().any(|l| l.trim() == format!("### {a}")),
            "{a}: docs/operations.md needs a `### {a}` runbook section"
        );
    }
}

// ------------------------------------------------------------ live check

/// A child process killed (and reaped) on drop, panics included; prints the
/// tail of its log when the test is failing.
struct Guard {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            eprintln!("--- last lines of {} ---", self.name);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Guard {
    let f = fs::File::create(&log).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Guard { child, name, log }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Instant query: `Err` on an API error (bad expression), else the result
/// vector (or scalar as a one-element vector).
fn query(prom: &str, expr: &str) -> Result<Vec<Value>, String> {
    let (status, body) = http_get(
        prom,
        &format!("/api/v1/query?query={}", urlencode(expr)),
        HTTP_TIMEOUT,
    )
    .map_err(|e| format!("HTTP: {e}"))?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{status}: {}: {}", v["errorType"], v["error"]));
    }
    Ok(match v["data"]["resultType"].as_str() {
        Some("vector") | Some("matrix") => {
            v["data"]["result"].as_array().cloned().unwrap_or_default()
        }
        _ => vec![v["data"]["result"].clone()],
    })
}

/// Whether a query result holds at least one finite value.
fn has_finite_value(result: &[Value]) -> bool {
    result.iter().any(|s| {
        let value = if s.is_array() {
            s.get(1)
        } else {
            s["value"].get(1)
        };
        value
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

/// Every `targets[].expr` of the dashboard (rows' nested panels included),
/// with its panel title.
fn panel_exprs(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push((title.clone(), e.to_string()));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Grafana's template variables as the test's Prometheus sees them: every
/// instance, and a rate window of 4 scrape intervals or more.
fn substitute(expr: &str) -> String {
    let e = expr
        .replace("${instance}", ".*")
        .replace("$instance", ".*")
        .replace("$__rate_interval", "30s");
    assert!(!e.contains('$'), "unknown template variable in `{expr}`");
    e
}

#[test]
fn prometheus_scraping_the_demo_shows_every_panel_and_evaluates_every_rule() {
    let started = Instant::now();
    let dashboard: Value = serde_json::from_str(
        &fs::read_to_string(root().join("deploy/grafana/switchboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    // Importable as is: the data source is a variable, and so is the instance.
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["name"] == "datasource"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));
    assert!(vars
        .iter()
        .any(|v| v["name"] == "instance" && v["type"] == "query"));
    let exprs = panel_exprs(&dashboard);
    assert!(exprs.len() >= 20, "panel expressions: {}", exprs.len());
    let rules_file = root().join("deploy/prometheus/alerts.yml");
    let declared = declared_alerts(&fs::read_to_string(&rules_file).unwrap());

    let tmp = tempfile::tempdir().unwrap();
    let demo_port = free_port();
    let demo_addr = format!("127.0.0.1:{demo_port}");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    demo.args([
        "demo",
        "--duration",
        "600s",
        "--rate",
        "2000",
        "--customers",
        "2000",
        "--metrics-addr",
        &demo_addr,
    ])
    .arg("--crm-dir")
    .arg(tmp.path().join("crm"))
    .env("NO_COLOR", "1");
    let _demo = spawn("switchboard demo", demo, tmp.path().join("demo.log"));

    let prom_port = free_port();
    let prom_addr = format!("127.0.0.1:{prom_port}");
    let config = tmp.path().join("prometheus.yml");
    fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: switchboard\n    static_configs:\n      - targets: ['{demo_addr}']\n",
            rules_file.display()
        ),
    )
    .unwrap();
    let mut prom = tool("prometheus", "prometheus");
    prom.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            tmp.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--log.level=warn");
    let _prom = spawn("prometheus", prom, tmp.path().join("prometheus.log"));

    let deadline = started + Duration::from_secs(80);
    let wait = |what: &str, f: &mut dyn FnMut() -> Result<(), String>| loop {
        match f() {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };

    wait(
        "prometheus ready",
        &mut || match http_get(&prom_addr, "/-/ready", HTTP_TIMEOUT) {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // The rules are loaded (every alert of the file) and evaluate healthy.
    let mut rule_queries: Vec<(String, String)> = Vec::new();
    wait("rules loaded and healthy", &mut || {
        let (_, body) =
            http_get(&prom_addr, "/api/v1/rules", HTTP_TIMEOUT).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let mut names = BTreeSet::new();
        let mut queries = Vec::new();
        for g in v["data"]["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                let name = r["name"].as_str().unwrap_or_default().to_string();
                if r["health"] != "ok" {
                    return Err(format!("{name}: health {} {}", r["health"], r["lastError"]));
                }
                if r["type"] == "alerting" {
                    names.insert(name.clone());
                }
                queries.push((name, r["query"].as_str().unwrap_or_default().to_string()));
            }
        }
        let want: BTreeSet<String> = declared.iter().cloned().collect();
        if names != want {
            return Err(format!("loaded alerts {names:?}, declared {want:?}"));
        }
        rule_queries = queries;
        Ok(())
    });

    // Every panel shows data (a finite value) once the demo runs; a query
    // error fails at once.
    wait("every dashboard panel shows data", &mut || {
        let mut empty = Vec::new();
        for (title, expr) in &exprs {
            let e = substitute(expr);
            match query(&prom_addr, &e) {
                Err(err) => panic!("panel `{title}`: query error {err}\n  {e}"),
                Ok(r) if !has_finite_value(&r) => empty.push(format!("`{title}`: {e}")),
                Ok(_) => {}
            }
        }
        if empty.is_empty() {
            Ok(())
        } else {
            Err(format!("no data for:\n  {}", empty.join("\n  ")))
        }
    });

    // Every rule expression evaluates without error against real data (an
    // empty result only means the alert is not firing), and the rules are
    // still healthy after evaluating on it.
    assert!(rule_queries.len() > declared.len(), "recording rules too");
    for (name, q) in &rule_queries {
        if let Err(err) = query(&prom_addr, q) {
            panic!("rule {name}: query error {err}\n  {q}");
        }
    }
    let (_, body) = http_get(&prom_addr, "/api/v1/rules", HTTP_TIMEOUT).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    for g in v["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "rule {}: {}", r["name"], r["lastError"]);
        }
    }
    // The scrape itself is healthy and sees the whole pipeline.
    let up = query(&prom_addr, "up{job=\"switchboard\"} == 1").unwrap();
    assert_eq!(up.len(), 1, "the demo target is up");
}
