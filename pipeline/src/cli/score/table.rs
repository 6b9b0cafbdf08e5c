//! `score --table`: one fixed-width row per input line, for people.

use serde_json::Value;

/// Characters of the text shown before it is cut with `…`.
const TEXT_CHARS: usize = 40;

/// The column header.
pub fn header() -> String {
    format!(
        "{:>5} {:<3} {:>4} {:<20} {:<20} {:>6} {:<4} {:<4} {:<w$}  REASONS",
        "LINE",
        "SEV",
        "PRIO",
        "QUEUE",
        "CATEGORY",
        "SENT",
        "SPAM",
        "LANG",
        "TEXT",
        w = TEXT_CHARS
    )
}

/// The row of one output line of `score` (see `score::Scorer::score_line`).
pub fn row(v: &Value) -> String {
    let line = v["line"].as_u64().unwrap_or(0);
    if let Some(err) = v["error"].as_str() {
        let detail = v["detail"].as_str().unwrap_or("");
        return format!("{line:>5} error: {err} ({detail})");
    }
    if let Some(empty) = v["empty"].as_str() {
        return format!("{line:>5} -- {empty}");
    }
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
    let prio = v["priority"]
        .as_u64()
        .map_or("-".to_string(), |p| p.to_string());
    let sent = v["sentiment"]["compound"]
        .as_f64()
        .map_or("-".to_string(), |c| format!("{c:+.3}"));
    let spam = if v["spam"].as_bool() == Some(true) {
        "yes"
    } else {
        "no"
    };
    let mut text = cut(&s("text").replace(['\n', '\t'], " "), TEXT_CHARS);
    if let Some(n) = v["mention_count"].as_u64() {
        text = cut(&format!("[{n} mentions] {text}"), TEXT_CHARS);
    }
    let reasons: Vec<&str> = v["reasons"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "{line:>5} {:<3} {prio:>4} {:<20} {:<20} {sent:>6} {spam:<4} {:<4} {text:<w$}  {}",
        s("severity"),
        cut(&s("queue"), 20),
        cut(&s("category"), 20),
        cut(&s("language"), 4),
        reasons.join("; "),
        w = TEXT_CHARS
    )
}

/// `s` cut to `n` characters, the last one `…` when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_line_up_with_the_header() {
        let v = json!({"line": 3, "severity": "P2", "priority": 50, "queue": "network",
            "category": "mobile_network_fault", "sentiment": {"compound": -0.5}, "spam": false,
            "language": "en", "text": "no signal in Leeds since yesterday and nobody answers at all",
            "reasons": ["+20 category: mobile_network_fault", "+15 outage stated: 24 h"]});
        let r = row(&v);
        let h = header();
        assert_eq!(r.find("P2"), h.find("SEV"));
        assert_eq!(r.find("network"), h.find("QUEUE"));
        assert!(
            r.contains("no signal in Leeds since yesterday and …"),
            "{r}"
        );
        assert!(r.ends_with("+20 category: mobile_network_fault; +15 outage stated: 24 h"));
        assert_eq!(row(&json!({"line": 4, "empty": "blank"})), "    4 -- blank");
        assert!(
            row(&json!({"line": 5, "error": "malformed_json", "detail": "x"}))
                .starts_with("    5 error: malformed_json")
        );
    }
}
