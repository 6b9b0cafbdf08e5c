//! The deployment files under `deploy/` (compose stack, Kubernetes
//! manifests, Grafana provisioning, Prometheus config) checked with real
//! tools: `yamllint` in strict mode, a YAML parser for the structure that
//! matters (services, mounts, probes, ports, grace period, selectors,
//! autoscaler bounds), and the `switchboard` binary's own `check-config` for
//! every config they ship. The example config must mention every key of
//! `Config`, found by serialising `Config::default()`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;
use switchboard::config::Config;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("pipeline/ has a parent")
        .to_path_buf()
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML file of `dir` (recursively), sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The deployment YAML this test owns: compose, Kubernetes, Grafana
/// provisioning and the Prometheus server config. (The dashboard and the
/// alert rules have their own checks in the observability tests.)
fn owned_yaml() -> Vec<PathBuf> {
    let mut files = vec![
        deploy().join("compose.yaml"),
        deploy().join("prometheus/prometheus.yml"),
    ];
    files.extend(yaml_files(&deploy().join("k8s")));
    files.extend(yaml_files(&deploy().join("grafana/provisioning")));
    files
}

/// Parses every document of a (possibly multi-document) YAML file.
fn yaml_docs(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            Value::deserialize(d).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml(path: &Path) -> Value {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{}: one YAML document", path.display());
    docs.remove(0)
}

/// Follows a path of mapping keys; panics naming the path when absent.
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for (i, k) in path.iter().enumerate() {
        cur = cur
            .get(*k)
            .unwrap_or_else(|| panic!("missing `{}`", path[..=i].join(".")));
    }
    cur
}

fn string(v: &Value, what: &str) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("{what}: expected a scalar, got {other:?}"),
    }
}

fn seq<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("{what}: expected a list, got {v:?}"))
}

fn labels(v: &Value, what: &str) -> BTreeMap<String, String> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("{what}: expected a mapping, got {v:?}"))
        .iter()
        .map(|(k, v)| (string(k, what), string(v, what)))
        .collect()
}

fn is_subset(sel: &BTreeMap<String, String>, of: &BTreeMap<String, String>) -> bool {
    !sel.is_empty() && sel.iter().all(|(k, v)| of.get(k) == Some(v))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    // Only the file under test counts: no SWITCHBOARD__ overrides from the
    // environment of whoever runs the tests.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SWITCHBOARD__") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `switchboard check-config --config FILE`; returns (success, output).
fn check_config(path: &Path) -> (bool, String) {
    let out = bin()
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .expect("run switchboard");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.starts_with("config OK"), text)
}

/// The port of an `ip:port` address.
fn addr_port(addr: &str) -> u16 {
    addr.parse::<std::net::SocketAddr>()
        .unwrap_or_else(|e| panic!("`{addr}`: {e}"))
        .port()
}

/// Worst case of `run`'s shutdown path after SIGTERM, in seconds: the
/// process exits (status 3) once `pipeline.shutdown_timeout_ms` has passed,
/// whatever the drain is waiting for.
fn shutdown_bound_s(c: &Config) -> u64 {
    c.pipeline.shutdown_timeout_ms.div_ceil(1000)
}

// ---------------------------------------------------------------- yamllint

#[test]
fn yamllint_strict_passes_on_every_deploy_yaml() {
    let files = owned_yaml();
    for must in [
        "deploy/compose.yaml",
        "deploy/prometheus/prometheus.yml",
        "deploy/k8s/deployment.yaml",
        "deploy/k8s/configmap.yaml",
        "deploy/k8s/hpa.yaml",
        "deploy/grafana/provisioning/datasources/prometheus.yaml",
        "deploy/grafana/provisioning/dashboards/switchboard.yaml",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(must)),
            "{must} missing from the checked files: {files:?}"
        );
    }
    let version = Command::new("yamllint").arg("--version").output();
    let Ok(version) = version else {
        panic!(
            "yamllint is not installed: install Debian's `yamllint` package \
             (apt-get install -y yamllint; .ci/run installs it in CI)"
        );
    };
    assert!(version.status.success(), "yamllint --version failed");
    let out = Command::new("yamllint")
        .current_dir(repo())
        .args(["-c", ".yamllint", "-s", "-f", "parsable"])
        .args(&files)
        .output()
        .expect("run yamllint");
    assert!(
        out.status.success(),
        "yamllint -s found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ----------------------------------------------------------------- configs

#[test]
fn shipped_configs_pass_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let cm = dir.path().join("configmap-switchboard.toml");
    std::fs::write(&cm, configmap_toml()).unwrap();
    for path in [
        deploy().join("switchboard.example.toml"),
        deploy().join("switchboard.compose.toml"),
        cm,
    ] {
        let (ok, out) = check_config(&path);
        assert!(ok, "check-config {}: {out}", path.display());
    }
    // The same harness rejects a broken copy, naming the key.
    let bad = dir.path().join("bad.toml");
    let mut text = read(&deploy().join("switchboard.compose.toml"));
    text.push_str("\n[sink]\ncompression = \"brotli\"\n");
    std::fs::write(&bad, text).unwrap();
    let (ok, out) = check_config(&bad);
    assert!(!ok, "a bad config passed: {out}");
    assert!(out.contains("sink.compression"), "{out}");
}

/// `switchboard.toml` of the Kubernetes ConfigMap.
fn configmap_toml() -> String {
    let cm = yaml(&deploy().join("k8s/configmap.yaml"));
    assert_eq!(string(at(&cm, &["kind"]), "kind"), "ConfigMap");
    string(
        at(&cm, &["data", "switchboard.toml"]),
        "data.switchboard.toml",
    )
}

#[test]
fn configmap_carries_the_documented_example() {
    // One production config, documented once: the ConfigMap embeds
    // deploy/switchboard.example.toml as it is (scripts/sync-k8s-config.sh).
    assert_eq!(
        configmap_toml().trim_end(),
        read(&deploy().join("switchboard.example.toml")).trim_end(),
        "deploy/k8s/configmap.yaml differs from deploy/switchboard.example.toml: \
         run scripts/sync-k8s-config.sh"
    );
}

/// Every key path of a TOML value: tables are walked, arrays of tables
/// contribute their elements' keys under `path[]`.
fn key_paths(v: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(v, &p, out);
            }
        }
        toml::Value::Array(a) if a.iter().all(|e| e.is_table()) => {
            for e in a {
                key_paths(e, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Keys and tables the example mentions only in comments (`# key = …`,
/// `# [section]`, `# [[section]]`), with their full paths. A commented
/// header opens a commented section that lasts until the next real key or
/// header.
fn commented_paths(text: &str) -> BTreeSet<String> {
    fn header(body: &str) -> Option<String> {
        if let Some(h) = body.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
            Some(format!("{}[]", h.trim()))
        } else {
            body.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .filter(|h| !h.contains(',') && !h.contains('"') && !h.is_empty())
                .map(|h| h.trim().to_string())
        }
    }
    let mut out = BTreeSet::new();
    let mut real = String::new();
    let mut commented: Option<String> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(body) = l.strip_prefix('#') {
            let body = body.trim();
            if let Some(h) = header(body) {
                out.insert(h.trim_end_matches("[]").to_string());
                commented = Some(h);
            } else if let Some((k, _)) = body.split_once('=') {
                let k = k.trim();
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    let section = commented.as_deref().unwrap_or(&real);
                    out.insert(if section.is_empty() {
                        k.to_string()
                    } else {
                        format!("{section}.{k}")
                    });
                }
            }
        } else if let Some(h) = header(l) {
            real = h;
            commented = None;
        } else if l.contains('=') {
            commented = None;
        }
    }
    out
}

#[test]
fn example_config_mentions_every_key_of_config() {
    let default = toml::Value::try_from(Config::default()).expect("Config serialises to TOML");
    let mut wanted = BTreeSet::new();
    key_paths(&default, "", &mut wanted);
    assert!(wanted.len() > 100, "suspiciously few keys: {wanted:?}");

    let text = read(&deploy().join("switchboard.example.toml"));
    let example: toml::Value = toml::from_str(&text).expect("example is TOML");
    let mut present = BTreeSet::new();
    key_paths(&example, "", &mut present);
    let commented = commented_paths(&text);
    present.extend(commented.iter().cloned());

    // A key inside a table the example only shows commented out (a
    // built-in default list the example does not restate) is documented by
    // that commented table; everything else must be there itself.
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|k| {
            if present.contains(*k) {
                return false;
            }
            let mut p = k.as_str();
            while let Some((parent, _)) = p.rsplit_once('.') {
                let parent_bare = parent.trim_end_matches("[]");
                if commented.contains(parent_bare) && !present_set(&example, parent) {
                    return false;
                }
                p = parent;
            }
            true
        })
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/switchboard.example.toml does not mention {} key(s) of Config: {missing:#?}",
        missing.len()
    );

    // Every key set in the example is documented: its paragraph (the lines
    // between blank lines) has a comment, or the same key was documented
    // before (later elements of an array of tables).
    let mut documented = BTreeSet::new();
    let mut undocumented = Vec::new();
    let mut section = String::new();
    for para in text.split("\n\n") {
        let has_comment = para.lines().any(|l| l.trim_start().starts_with('#'));
        for l in para.lines().map(str::trim) {
            if let Some(h) = l.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
                section = format!("{h}[]");
            } else if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                section = h.to_string();
            } else if let Some((k, _)) = l.split_once('=').filter(|_| !l.starts_with('#')) {
                if l.starts_with('"') && !l.contains("\" =") {
                    continue; // an array element continued on its own line
                }
                let path = format!("{section}.{}", k.trim());
                if has_comment {
                    documented.insert(path);
                } else if !documented.contains(&path) {
                    undocumented.push(path);
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "keys without a comment in their paragraph: {undocumented:#?}"
    );
}

/// Whether the example sets the table at `path` (`a.b`, or `a.b[]` for an
/// array of tables).
fn present_set(example: &toml::Value, path: &str) -> bool {
    let mut cur = example;
    for part in path.trim_end_matches("[]").split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return false,
        }
    }
    true
}

// ----------------------------------------------------------------- compose

/// A compose volume entry in short syntax: (source, target).
fn mount(v: &Value) -> (String, String) {
    let s = string(v, "volume");
    let mut parts = s.splitn(3, ':');
    let src = parts.next().unwrap().to_string();
    let dst = parts
        .next()
        .unwrap_or_else(|| panic!("volume `{s}` has no target"))
        .to_string();
    (src, dst)
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    at(compose, &["services", name])
}

fn mounts(compose: &Value, svc: &str) -> Vec<(String, String)> {
    service(compose, svc)
        .get("volumes")
        .map(|v| seq(v, "volumes").iter().map(mount).collect())
        .unwrap_or_default()
}

/// The target of the bind mount of `file` (relative to deploy/) in `svc`.
fn mounted_at(compose: &Value, svc: &str, file: &str) -> String {
    mounts(compose, svc)
        .into_iter()
        .find(|(src, _)| src.trim_start_matches("./") == file)
        .map(|(_, dst)| dst)
        .unwrap_or_else(|| panic!("service {svc} does not mount ./{file}"))
}

fn command_text(v: &Value) -> String {
    match v {
        Value::Sequence(s) => s
            .iter()
            .map(|x| string(x, "command"))
            .collect::<Vec<_>>()
            .join(" "),
        other => string(other, "command"),
    }
}

fn compose() -> Value {
    yaml(&deploy().join("compose.yaml"))
}

fn compose_config() -> Config {
    Config::from_toml_str(&read(&deploy().join("switchboard.compose.toml")))
        .expect("switchboard.compose.toml is valid")
}

/// Partitions kafka-init gives `topic` (`create TOPIC --partitions N`).
fn compose_partitions(compose: &Value, topic: &str) -> u32 {
    let cmd = command_text(at(service(compose, "kafka-init"), &["command"]));
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let i = words
        .windows(2)
        .position(|w| w[0] == "create" && w[1] == topic)
        .unwrap_or_else(|| panic!("kafka-init does not create topic `{topic}`"));
    let rest = &words[i + 2..];
    let p = rest
        .iter()
        .take_while(|w| **w != "create")
        .position(|w| *w == "--partitions")
        .unwrap_or_else(|| panic!("kafka-init creates `{topic}` without --partitions"));
    rest[p + 1]
        .parse()
        .unwrap_or_else(|e| panic!("partitions of `{topic}`: {e}"))
}

#[test]
fn compose_stack_has_its_services_and_kraft_kafka() {
    let c = compose();
    for svc in [
        "kafka",
        "kafka-init",
        "switchboard",
        "prometheus",
        "grafana",
    ] {
        service(&c, svc);
    }

    // Kafka runs KRaft: broker and controller roles, a controller quorum,
    // no ZooKeeper.
    let env = labels(at(service(&c, "kafka"), &["environment"]), "kafka env");
    let roles: BTreeSet<&str> = env
        .get("KAFKA_PROCESS_ROLES")
        .expect("kafka sets KAFKA_PROCESS_ROLES (process.roles)")
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(roles, BTreeSet::from(["broker", "controller"]));
    assert!(env.contains_key("KAFKA_CONTROLLER_QUORUM_VOTERS"));
    assert!(env.contains_key("CLUSTER_ID"));
    assert!(!env.keys().any(|k| k.contains("ZOOKEEPER")), "{env:?}");
    at(service(&c, "kafka"), &["healthcheck", "test"]);

    // Every topic of the compose config is created, the identity updates
    // compacted.
    let cfg = compose_config();
    let t = &cfg.topics;
    for topic in [
        &t.mentions,
        &t.dlq,
        &t.crm_contacts,
        &t.crm_identity_updates,
        &t.work_items,
        &t.incidents,
    ] {
        assert!(compose_partitions(&c, topic) >= 1);
    }
    let cmd = command_text(at(service(&c, "kafka-init"), &["command"]));
    let updates = cmd
        .split("create ")
        .find(|s| s.starts_with(&format!("{} ", t.crm_identity_updates)))
        .unwrap();
    assert!(updates.contains("cleanup.policy=compact"), "{updates}");

    // Switchboard: built from the repository's Dockerfile, runs the mounted
    // compose config, waits for a healthy Kafka, publishes the metrics port
    // of its config; the brokers it is given are the kafka service's.
    let sb = service(&c, "switchboard");
    let ctx = deploy().join(string(at(sb, &["build", "context"]), "build.context"));
    let dockerfile = string(at(sb, &["build", "dockerfile"]), "build.dockerfile");
    assert!(
        ctx.join(&dockerfile).is_file(),
        "{}",
        ctx.join(&dockerfile).display()
    );
    assert_eq!(ctx.canonicalize().unwrap(), repo().canonicalize().unwrap());
    let target = mounted_at(&c, "switchboard", "switchboard.compose.toml");
    let cmd = command_text(at(sb, &["command"]));
    assert!(cmd.starts_with("run "), "{cmd}");
    assert!(
        cmd.contains(&format!("--config {target}")),
        "{cmd} vs {target}"
    );
    assert_eq!(
        string(at(sb, &["depends_on", "kafka", "condition"]), "depends_on"),
        "service_healthy"
    );
    assert!(cfg
        .kafka
        .brokers
        .split(',')
        .all(|b| b.starts_with("kafka:")));
    let port = addr_port(&cfg.metrics.addr);
    assert!(
        cfg.metrics.addr.starts_with("0.0.0.0:"),
        "metrics.addr must listen beyond the container: {}",
        cfg.metrics.addr
    );
    let ports: Vec<String> = seq(at(sb, &["ports"]), "ports")
        .iter()
        .map(|p| string(p, "port"))
        .collect();
    assert!(
        ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
        "{ports:?} do not publish {port}"
    );
    // The snapshot directory of the config is the crm volume.
    assert!(mounts(&c, "switchboard")
        .iter()
        .any(|(_, dst)| dst == &cfg.identity.snapshot_dir));
    // Stopping waits longer than the drain can take.
    let grace = string(at(sb, &["stop_grace_period"]), "stop_grace_period");
    let grace_s: u64 = grace
        .trim_end_matches('s')
        .parse()
        .expect("stop_grace_period in s");
    assert!(grace_s > shutdown_bound_s(&cfg), "{grace_s} s");

    // Named volumes are declared.
    let declared: BTreeSet<String> = at(&c, &["volumes"])
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| string(k, "volume"))
        .collect();
    for svc in at(&c, &["services"]).as_mapping().unwrap().keys() {
        for (src, _) in mounts(&c, &string(svc, "service")) {
            if !src.starts_with('.') && !src.starts_with('/') {
                assert!(declared.contains(&src), "undeclared volume {src}");
            }
        }
    }
}

#[test]
fn compose_mounts_exist_and_prometheus_and_grafana_are_wired() {
    let c = compose();
    // Every bind-mounted file or directory exists in the repository.
    for svc in at(&c, &["services"]).as_mapping().unwrap().keys() {
        let svc = string(svc, "service");
        for (src, dst) in mounts(&c, &svc) {
            if src.starts_with('.') {
                let p = deploy().join(&src);
                assert!(
                    p.exists(),
                    "service {svc} mounts {src} (at {dst}) but {} does not exist",
                    p.display()
                );
            }
        }
    }

    // Prometheus: its config and the alert rules it names, and the
    // switchboard scrape job on the service's metrics port.
    let prom_cfg_at = mounted_at(&c, "prometheus", "prometheus/prometheus.yml");
    let cmd = command_text(at(service(&c, "prometheus"), &["command"]));
    assert!(
        cmd.contains(&format!("--config.file={prom_cfg_at}")),
        "{cmd}"
    );
    let prom = yaml(&deploy().join("prometheus/prometheus.yml"));
    let rules: Vec<String> = seq(at(&prom, &["rule_files"]), "rule_files")
        .iter()
        .map(|r| string(r, "rule file"))
        .collect();
    let alerts_at = mounted_at(&c, "prometheus", "prometheus/alerts.yml");
    assert_eq!(alerts_at, "/etc/prometheus/alerts.yml");
    assert!(rules.contains(&alerts_at), "{rules:?}");
    let port = addr_port(&compose_config().metrics.addr);
    let job = seq(at(&prom, &["scrape_configs"]), "scrape_configs")
        .iter()
        .find(|j| j.get("job_name").and_then(Value::as_str) == Some("switchboard"))
        .expect("a scrape job named switchboard (the alerts select job=\"switchboard\")");
    let targets: Vec<String> = seq(at(job, &["static_configs"]), "static_configs")
        .iter()
        .flat_map(|s| seq(at(s, &["targets"]), "targets").clone())
        .map(|t| string(&t, "target"))
        .collect();
    assert_eq!(targets, vec![format!("switchboard:{port}")]);

    // Grafana: provisioning directories mounted where Grafana reads them,
    // the datasource is the prometheus service, the dashboard provider's
    // folder holds the mounted dashboard, and the dashboard is JSON.
    for kind in ["datasources", "dashboards"] {
        assert_eq!(
            mounted_at(&c, "grafana", &format!("grafana/provisioning/{kind}")),
            format!("/etc/grafana/provisioning/{kind}")
        );
    }
    let ds = yaml(&deploy().join("grafana/provisioning/datasources/prometheus.yaml"));
    let sources = seq(at(&ds, &["datasources"]), "datasources");
    assert_eq!(sources.len(), 1);
    assert_eq!(string(at(&sources[0], &["type"]), "type"), "prometheus");
    assert_eq!(string(at(&sources[0], &["isDefault"]), "isDefault"), "true");
    let url = string(at(&sources[0], &["url"]), "url");
    let prom_port = seq(at(service(&c, "prometheus"), &["ports"]), "ports")
        .iter()
        .map(|p| string(p, "port"))
        .find_map(|p| p.rsplit(':').next().map(str::to_string))
        .unwrap();
    assert_eq!(url, format!("http://prometheus:{prom_port}"));

    let dash = yaml(&deploy().join("grafana/provisioning/dashboards/switchboard.yaml"));
    let providers = seq(at(&dash, &["providers"]), "providers");
    assert_eq!(providers.len(), 1);
    assert_eq!(string(at(&providers[0], &["type"]), "type"), "file");
    let folder = string(at(&providers[0], &["options", "path"]), "options.path");
    let dash_at = mounted_at(&c, "grafana", "grafana/switchboard.json");
    assert_eq!(
        Path::new(&dash_at).parent().unwrap(),
        Path::new(&folder),
        "the dashboard is mounted outside the provider's folder"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&deploy().join("grafana/switchboard.json")))
            .expect("the dashboard is JSON");
    assert!(json.get("panels").is_some(), "dashboard without panels");
}

// -------------------------------------------------------------- kubernetes

struct K8s {
    /// (file, document) for every manifest document.
    docs: Vec<(PathBuf, Value)>,
}

impl K8s {
    /// Every document of every manifest file.
    fn all() -> Self {
        let mut docs = Vec::new();
        for f in yaml_files(&deploy().join("k8s")) {
            for d in yaml_docs(&f) {
                docs.push((f.clone(), d));
            }
        }
        K8s { docs }
    }

    /// What `kubectl apply -k deploy/k8s` applies: the kustomization's
    /// resources.
    fn load() -> Self {
        let kust = yaml(&deploy().join("k8s/kustomization.yaml"));
        let mut docs = Vec::new();
        for r in seq(at(&kust, &["resources"]), "resources") {
            let f = deploy().join("k8s").join(string(r, "resource"));
            for d in yaml_docs(&f) {
                docs.push((f.clone(), d));
            }
        }
        assert!(docs.len() >= 7, "{} manifest documents", docs.len());
        K8s { docs }
    }

    fn one(&self, kind: &str) -> &Value {
        let found: Vec<&Value> = self
            .docs
            .iter()
            .filter(|(_, d)| d.get("kind").and_then(Value::as_str) == Some(kind))
            .map(|(_, d)| d)
            .collect();
        assert_eq!(found.len(), 1, "exactly one {kind}");
        found[0]
    }
}

#[test]
fn kubernetes_manifests_are_well_formed_and_listed() {
    let k = K8s::all();
    for (f, d) in &k.docs {
        for key in ["apiVersion", "kind"] {
            let v = d
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{}: no {key}", f.display()));
            assert!(!v.is_empty());
        }
        if d.get("kind").and_then(Value::as_str) != Some("Kustomization") {
            let name = string(at(d, &["metadata", "name"]), "metadata.name");
            assert!(!name.is_empty(), "{}", f.display());
        }
    }
    // The kustomization lists every manifest but the prometheus-adapter
    // rule (which belongs to the adapter's namespace), and nothing else.
    let kust = k.one("Kustomization");
    let listed: BTreeSet<String> = seq(at(kust, &["resources"]), "resources")
        .iter()
        .map(|r| string(r, "resource"))
        .collect();
    let files: BTreeSet<String> = yaml_files(&deploy().join("k8s"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .filter(|n| n != "kustomization.yaml" && n != "prometheus-adapter-rules.yaml")
        .collect();
    assert_eq!(listed, files);
    let ns = string(at(kust, &["namespace"]), "namespace");
    assert_eq!(
        string(at(k.one("Namespace"), &["metadata", "name"]), "ns"),
        ns
    );
    // The image the Deployment names is the one the kustomization pins.
    let image = string(
        at(&seq(at(kust, &["images"]), "images")[0], &["name"]),
        "images[0].name",
    );
    let c = container(k.one("Deployment"));
    let dep_image = string(at(c, &["image"]), "image");
    assert!(dep_image.starts_with(&format!("{image}:")), "{dep_image}");
}

fn container(dep: &Value) -> &Value {
    let cs = seq(
        at(dep, &["spec", "template", "spec", "containers"]),
        "containers",
    );
    assert_eq!(cs.len(), 1, "one container");
    &cs[0]
}

/// The container port a probe or Service names (by name or number).
fn resolve_port(c: &Value, port: &Value) -> u16 {
    if let Some(n) = port.as_u64() {
        return n as u16;
    }
    let name = string(port, "port");
    seq(at(c, &["ports"]), "ports")
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .and_then(|p| p.get("containerPort").and_then(Value::as_u64))
        .unwrap_or_else(|| panic!("no container port named {name}")) as u16
}

#[test]
fn kubernetes_workload_matches_its_config() {
    let k = K8s::load();
    let cm = k.one("ConfigMap");
    let cfg = Config::from_toml_str(&configmap_toml()).expect("ConfigMap toml is valid");
    let dep = k.one("Deployment");
    let pod = at(dep, &["spec", "template"]);
    let pod_labels = labels(at(pod, &["metadata", "labels"]), "pod labels");
    let selector = labels(at(dep, &["spec", "selector", "matchLabels"]), "selector");
    assert!(
        is_subset(&selector, &pod_labels),
        "{selector:?} vs {pod_labels:?}"
    );
    assert!(
        at(dep, &["spec"]).get("replicas").is_none(),
        "the HPA owns the replica count: no spec.replicas"
    );
    let c = container(dep);

    // `run` with the ConfigMap's file.
    let args: Vec<String> = seq(at(c, &["args"]), "args")
        .iter()
        .map(|a| string(a, "arg"))
        .collect();
    assert_eq!(args[0], "run");
    let path = args
        .iter()
        .skip_while(|a| *a != "--config")
        .nth(1)
        .expect("run --config FILE");
    let (dir, file) = path.rsplit_once('/').unwrap();
    assert!(
        at(cm, &["data"]).get(file).is_some(),
        "ConfigMap has no {file}"
    );
    let cm_name = string(at(cm, &["metadata", "name"]), "ConfigMap name");
    let mounts = seq(at(c, &["volumeMounts"]), "volumeMounts");
    let volumes = seq(at(pod, &["spec", "volumes"]), "volumes");
    let vol_of = |mount_path: &str| -> &Value {
        let m = mounts
            .iter()
            .find(|m| m.get("mountPath").and_then(Value::as_str) == Some(mount_path))
            .unwrap_or_else(|| panic!("nothing mounted at {mount_path}"));
        let name = m.get("name").and_then(Value::as_str).unwrap();
        volumes
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    assert_eq!(
        string(at(vol_of(dir), &["configMap", "name"]), "configMap.name"),
        cm_name
    );
    // The CRM snapshot directory of the config is a mounted volume.
    let crm = vol_of(cfg.identity.snapshot_dir.trim_end_matches('/'));
    let claim = string(
        at(crm, &["persistentVolumeClaim", "claimName"]),
        "claimName",
    );
    assert_eq!(
        string(
            at(k.one("PersistentVolumeClaim"), &["metadata", "name"]),
            "pvc"
        ),
        claim
    );

    // Probes on /healthz and /readyz at the port of metrics.addr, which
    // must listen on every interface for the kubelet to reach it.
    assert!(
        cfg.metrics.addr.starts_with("0.0.0.0:") || cfg.metrics.addr.starts_with("[::]:"),
        "metrics.addr {} is not reachable from the kubelet",
        cfg.metrics.addr
    );
    let port = addr_port(&cfg.metrics.addr);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = at(c, &[probe, "httpGet"]);
        assert_eq!(string(at(get, &["path"]), probe), path, "{probe}");
        assert_eq!(resolve_port(c, at(get, &["port"])), port, "{probe} port");
    }
    let ann = labels(at(pod, &["metadata", "annotations"]), "annotations");
    assert_eq!(
        ann.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(ann.get("prometheus.io/port"), Some(&port.to_string()));
    assert_eq!(
        ann.get("prometheus.io/path").map(String::as_str),
        Some("/metrics")
    );

    // Longer grace than the drain can take.
    let grace = at(pod, &["spec", "terminationGracePeriodSeconds"])
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        grace > shutdown_bound_s(&cfg),
        "terminationGracePeriodSeconds {grace} <= shutdown bound {} s (pipeline.shutdown_timeout_ms {})",
        shutdown_bound_s(&cfg),
        cfg.pipeline.shutdown_timeout_ms
    );

    // Non-root, no privilege escalation, bounded resources.
    let psc = at(pod, &["spec", "securityContext"]);
    assert_eq!(psc.get("runAsNonRoot").and_then(Value::as_bool), Some(true));
    assert!(psc.get("runAsUser").and_then(Value::as_u64).unwrap_or(0) > 0);
    let csc = at(c, &["securityContext"]);
    assert_eq!(
        csc.get("allowPrivilegeEscalation").and_then(Value::as_bool),
        Some(false)
    );
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            at(c, &["resources", kind, res]);
        }
    }

    // The Service and the PodDisruptionBudget select these pods.
    let svc = k.one("Service");
    let svc_sel = labels(at(svc, &["spec", "selector"]), "service selector");
    assert!(is_subset(&svc_sel, &pod_labels), "{svc_sel:?}");
    let sp = &seq(at(svc, &["spec", "ports"]), "ports")[0];
    assert_eq!(resolve_port(c, at(sp, &["targetPort"])), port);
    let pdb = k.one("PodDisruptionBudget");
    let pdb_sel = labels(
        at(pdb, &["spec", "selector", "matchLabels"]),
        "pdb selector",
    );
    assert!(
        is_subset(&pdb_sel, &pod_labels),
        "{pdb_sel:?} vs {pod_labels:?}"
    );
}

#[test]
fn autoscaler_targets_the_workload_within_the_partition_count() {
    let k = K8s::load();
    let dep = k.one("Deployment");
    let hpa = k.one("HorizontalPodAutoscaler");
    assert_eq!(
        string(at(hpa, &["apiVersion"]), "apiVersion"),
        "autoscaling/v2"
    );
    let target = at(hpa, &["spec", "scaleTargetRef"]);
    assert_eq!(string(at(target, &["kind"]), "kind"), "Deployment");
    assert_eq!(
        string(at(target, &["apiVersion"]), "apiVersion"),
        string(at(dep, &["apiVersion"]), "apiVersion")
    );
    assert_eq!(
        string(at(target, &["name"]), "name"),
        string(at(dep, &["metadata", "name"]), "name")
    );

    // maxReplicas ≤ partitions of the mentions topic, as documented on the
    // HPA and as the compose stack creates the topic.
    let documented: u64 = string(
        at(
            hpa,
            &[
                "metadata",
                "annotations",
                "switchboard.dev/mentions-partitions",
            ],
        ),
        "annotation",
    )
    .parse()
    .expect("partition count is a number");
    let c = compose();
    let cfg = Config::from_toml_str(&configmap_toml()).unwrap();
    assert_eq!(
        u64::from(compose_partitions(&c, &cfg.topics.mentions)),
        documented,
        "the HPA's documented partition count differs from compose's kafka-init"
    );
    let min = at(hpa, &["spec", "minReplicas"]).as_u64().unwrap();
    let max = at(hpa, &["spec", "maxReplicas"]).as_u64().unwrap();
    assert!(1 <= min && min <= max, "{min}..{max}");
    assert!(
        max <= documented,
        "maxReplicas {max} > {documented} partitions of `{}`",
        cfg.topics.mentions
    );

    // Keyed on Switchboard's consumer-lag metric for both groups' topics
    // (mentions, and the keyed stage's repartition topic), served by the
    // prometheus-adapter rule shipped beside it.
    let metrics = seq(at(hpa, &["spec", "metrics"]), "metrics");
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    assert_eq!(string(at(m, &["type"]), "type"), "External");
    let name = string(at(m, &["external", "metric", "name"]), "metric name");
    assert_eq!(name, switchboard::metrics::SOURCE_CONSUMER_LAG);
    let exprs = seq(
        at(m, &["external", "metric", "selector", "matchExpressions"]),
        "matchExpressions",
    );
    assert_eq!(exprs.len(), 1);
    assert_eq!(string(at(&exprs[0], &["key"]), "key"), "topic");
    assert_eq!(string(at(&exprs[0], &["operator"]), "operator"), "In");
    let topics: Vec<String> = seq(at(&exprs[0], &["values"]), "values")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(cfg.pipeline.keyed_stage);
    assert_eq!(
        topics,
        [cfg.topics.mentions.clone(), cfg.topics.repartition.clone()],
        "the HPA counts the lag of both groups' topics"
    );
    let adapter = yaml(&deploy().join("k8s/prometheus-adapter-rules.yaml"));
    let rules: Value = serde_yaml_ng::from_str(&string(
        at(&adapter, &["data", "config.yaml"]),
        "config.yaml",
    ))
    .expect("adapter config is YAML");
    let served: Vec<&Value> = seq(at(&rules, &["externalRules"]), "externalRules")
        .iter()
        .filter(|r| {
            r.get("name")
                .and_then(|n| n.get("as"))
                .and_then(Value::as_str)
                == Some(&name)
        })
        .collect();
    assert_eq!(served.len(), 1, "no adapter rule serves {name}");
    assert!(string(at(served[0], &["seriesQuery"]), "seriesQuery")
        .starts_with(switchboard::metrics::SOURCE_CONSUMER_LAG));
}
