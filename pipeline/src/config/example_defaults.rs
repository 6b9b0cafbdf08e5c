//! The shipped example config tells the truth: every value it shows is the
//! default (`Config::default()`), unless its comment says "(example value".

use toml::Value;

const EXAMPLE: &str = include_str!("../../../deploy/switchboard.example.toml");

/// Leaf paths (arrays compared whole) where `a` and `b` differ.
fn diff(prefix: &str, a: &Value, b: Option<&Value>, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Table(ta), Some(Value::Table(tb))) => {
            for (k, va) in ta {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                diff(&p, va, tb.get(k), out);
            }
        }
        (a, Some(b)) if a == b => {}
        _ => out.push(prefix.to_string()),
    }
}

/// The comment block above the line defining `path` in the example, and
/// that line (its trailing comment included); `None` when not shown.
fn comment_of(path: &str) -> Option<String> {
    let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let mut current = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').to_string();
            if current == path {
                return Some(block(&lines, i));
            }
            continue;
        }
        let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if current == section && !t.starts_with('#') && k == key {
            return Some(block(&lines, i));
        }
    }
    None
}

fn block(lines: &[&str], i: usize) -> String {
    let mut start = i;
    while start > 0 && lines[start - 1].trim_start().starts_with('#') {
        start -= 1;
    }
    lines[start..=i].join("\n")
}

#[test]
fn the_example_shows_the_real_defaults_unless_marked() {
    let example = super::Config::from_toml_str(EXAMPLE).unwrap();
    let shown = Value::try_from(&example).unwrap();
    let default = Value::try_from(super::Config::default()).unwrap();
    let mut differing = Vec::new();
    diff("", &shown, Some(&default), &mut differing);
    let mut unmarked = Vec::new();
    for path in &differing {
        match comment_of(path) {
            Some(c) if c.contains("(example value") => {}
            Some(_) => unmarked.push(path.clone()),
            None => unmarked.push(format!("{path} (not found in the example)")),
        }
    }
    assert!(
        unmarked.is_empty(),
        "the example shows values that are not the defaults, without \"(example value)\": {unmarked:?}"
    );
}
