//! Bad input through `switchboard process` (issue 27): absurd event times
//! are refused and no longer move the clock, outputs never overwrite an
//! input, CR-only files are read line by line.

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard::cli::process::{process_files, ProcessArgs, ProcessSummary};
use switchboard::config::Config;

fn write_crm(root: &Path) {
    let v = root.join("2026-11-01T00-00-00Z");
    std::fs::create_dir_all(&v).unwrap();
    let mut c = String::from(
        "customer_id,name,segment,tier,region,postcode_district,products,vulnerable,account_status\n",
    );
    let mut i = String::from("customer_id,kind,value\n");
    for n in 0..6 {
        c.push_str(&format!(
            "C{n},Name {n},consumer,standard,london,X1,[broadband],false,active\n"
        ));
        i.push_str(&format!("C{n},twitter,@user_{n}\n"));
    }
    std::fs::write(v.join("customers.csv"), c).unwrap();
    std::fs::write(v.join("identities.csv"), i).unwrap();
}

fn tweet(id: &str, n: u32, at: &str, text: &str) -> String {
    serde_json::json!({
        "id": id, "channel": "twitter", "created_at": at,
        "author": {"handle": format!("@user_{n}"), "followers": 150},
        "text": text, "lang": "en"
    })
    .to_string()
}

fn contact(id: &str, customer: &str, at: &str) -> String {
    serde_json::json!({
        "event_id": id, "customer_id": customer, "kind": "complaint_form",
        "category": "billing", "occurred_at": at, "channel": "web"
    })
    .to_string()
}

/// Mentions of one day: each customer complains twice, an hour apart, so
/// that a quiet period (hours) never closes an item in between.
fn day() -> Vec<String> {
    let mut m = Vec::new();
    for h in 10..12 {
        for n in 0..6 {
            m.push(tweet(
                &format!("{h}{n}"),
                n,
                &format!("2026-11-20T{h}:0{n}:00Z"),
                "my broadband has been down all morning, no internet at all",
            ));
        }
    }
    m
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_crm(&dir.path().join("crm"));
        Self { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write(&self, name: &str, lines: &[String], end: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, lines.join(end) + end).unwrap();
        p
    }
    fn args(&self, mentions: PathBuf, contacts: Option<PathBuf>, out: &str) -> ProcessArgs {
        ProcessArgs {
            mentions,
            crm: self.path("crm"),
            contacts,
            config: None,
            out: self.path(out),
            incidents: None,
            dlq: None,
            now: Some("2026-11-21T00:00:00Z".into()),
            fixed_incident_windows: false,
        }
    }
}

fn events(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run(args: &ProcessArgs) -> (ProcessSummary, Vec<Value>) {
    let s = process_files(&Config::default(), args).expect("process");
    (s, events(&args.out))
}

/// One mention dated 9999 used to close every open item and make every
/// later mention open a new one; a contact dated 9999 closed them all.
/// Now both are refused (DLQ `bad_timestamp`, counted contact drop) and
/// the work items are exactly those of the input without them.
#[test]
fn an_absurd_timestamp_no_longer_moves_the_clock() {
    let f = Files::new();
    let clean = f.write("clean.jsonl", &day(), "\n");
    let c_clean = f.write(
        "c-clean.jsonl",
        &[contact("e1", "C1", "2026-11-20T10:30:00Z")],
        "\n",
    );
    let (_, want) = run(&f.args(clean, Some(c_clean), "want.jsonl"));
    assert!(!want.is_empty());

    let mut m = day();
    m.insert(
        6,
        tweet("absurd", 5, "9999-12-31T23:59:59Z", "outage everywhere"),
    );
    m.insert(
        3,
        tweet("year0", 4, "0000-01-01T00:00:00Z", "outage everywhere"),
    );
    m.insert(
        8,
        tweet("ahead", 3, "2026-11-22T00:00:01Z", "outage everywhere"),
    );
    let dirty = f.write("dirty.jsonl", &m, "\n");
    let contacts = [
        contact("e1", "C1", "2026-11-20T10:30:00Z"),
        contact("e9", "C2", "9999-12-31T00:00:00Z"),
        contact("e0", "C3", "1999-01-01T00:00:00Z"),
    ];
    let c_dirty = f.write("c-dirty.jsonl", &contacts, "\n");
    let args = f.args(dirty, Some(c_dirty), "got.jsonl");
    let (s, got) = run(&args);
    assert_eq!(s.dlq.get("bad_timestamp"), Some(&3), "{s:?}");
    assert_eq!(s.dropped_contacts.get("bad_timestamp"), Some(&2), "{s:?}");
    let strip = |v: &[Value]| -> Vec<(String, String, u64)> {
        v.iter()
            .map(|e| {
                (
                    e["work_item_id"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                    e["revision"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&got), strip(&want));
    let dlq = std::fs::read_to_string(f.path("got.jsonl.dlq.jsonl")).unwrap();
    assert_eq!(dlq.matches("\"bad_timestamp\"").count(), 3, "{dlq}");
}

/// `process --out f --mentions f` used to exit 0 and leave `f` empty.
#[test]
fn outputs_never_overwrite_an_input() {
    let f = Files::new();
    let m = f.write("m.jsonl", &day(), "\n");
    let c = f.write(
        "c.jsonl",
        &[contact("e1", "C1", "2026-11-20T10:30:00Z")],
        "\n",
    );
    let before = std::fs::read(&m).unwrap();
    let crm_file = f.path("crm/2026-11-01T00-00-00Z/customers.csv");
    let link = f.path("link.jsonl");
    std::fs::hard_link(&m, &link).unwrap();
    let dotted = f.path("crm/../m.jsonl");
    type Edit<'a> = Box<dyn Fn(&mut ProcessArgs) + 'a>;
    let cases: Vec<(&str, Edit)> = vec![
        ("--out", Box::new(|a| a.out = a.mentions.clone())),
        ("--out", Box::new(|a| a.out = dotted.clone())),
        ("--out", Box::new(|a| a.out = link.clone())),
        ("--dlq", Box::new(|a| a.dlq = Some(a.mentions.clone()))),
        (
            "--incidents",
            Box::new(|a| a.incidents = a.contacts.clone()),
        ),
        ("--dlq", Box::new(|a| a.dlq = Some(crm_file.clone()))),
        ("--dlq", Box::new(|a| a.dlq = Some(a.out.clone()))),
    ];
    for (flag, set) in cases {
        let mut args = f.args(m.clone(), Some(c.clone()), "out.jsonl");
        set(&mut args);
        let err = process_files(&Config::default(), &args).expect_err(flag);
        assert!(err.to_string().starts_with(flag), "{err}");
        assert_eq!(std::fs::read(&m).unwrap(), before, "{flag}: input changed");
    }
    assert!(!f.path("out.jsonl").exists());
    // Nothing but the inputs is left in the directory (no temporary file).
    let names: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

/// A run that fails half-way leaves an existing output as it was.
#[test]
fn a_failed_run_leaves_the_old_output() {
    let f = Files::new();
    let m = f.write("m.jsonl", &day(), "\n");
    let args = f.args(m, None, "out.jsonl");
    run(&args);
    let old = std::fs::read(&args.out).unwrap();
    assert!(!old.is_empty());
    let mut bad = f.args(
        f.path("m.jsonl"),
        Some(f.path("missing.jsonl")),
        "out.jsonl",
    );
    bad.now = args.now.clone();
    assert!(process_files(&Config::default(), &bad).is_err());
    assert_eq!(std::fs::read(&args.out).unwrap(), old);
}

/// A file with CR line endings used to be one record (one DLQ line).
#[test]
fn cr_only_files_are_split_into_lines() {
    let f = Files::new();
    let c = [
        contact("e1", "C1", "2026-11-20T10:30:00Z"),
        contact("e2", "C2", "2026-11-20T10:31:00Z"),
    ];
    let lf = f.write("lf.jsonl", &day(), "\n");
    let c_lf = f.write("c-lf.jsonl", &c, "\n");
    let (s_lf, want) = run(&f.args(lf, Some(c_lf), "lf-out.jsonl"));
    for (name, end) in [("cr", "\r"), ("crlf", "\r\n")] {
        let m = f.write(&format!("{name}.jsonl"), &day(), end);
        let cc = f.write(&format!("c-{name}.jsonl"), &c, end);
        let (s, got) = run(&f.args(m, Some(cc), &format!("{name}-out.jsonl")));
        assert_eq!(s.mention_lines, 12, "{name}");
        assert_eq!(s.contact_lines, 2, "{name}");
        assert!(s.dlq.is_empty(), "{name}: {s:?}");
        assert_eq!(s.mentions, s_lf.mentions);
        assert_eq!(got, want, "{name}");
    }
}
