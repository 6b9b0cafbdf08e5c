use super::malformed::MALFORMED;
use super::*;
use crate::generate::crm::{self, IdentityKind};
use std::collections::{HashMap, HashSet};

fn cfg(seed: u64) -> MentionGenConfig {
    MentionGenConfig {
        seed,
        customers: 20_000,
        ..MentionGenConfig::default()
    }
}

fn gen(seed: u64, n: usize) -> Vec<GeneratedRecord> {
    MentionGenerator::new(cfg(seed)).take(n).collect()
}

#[test]
fn deterministic_by_seed() {
    let a = gen(1, 3_000);
    let b = gen(1, 3_000);
    assert_eq!(a, b);
    let c = gen(2, 3_000);
    assert_ne!(
        a.iter().map(|r| &r.payload).collect::<Vec<_>>(),
        c.iter().map(|r| &r.payload).collect::<Vec<_>>()
    );
}

#[test]
fn format_mix_and_malformed_shares() {
    let recs = gen(7, 10_000);
    let mut formats: HashMap<&str, usize> = HashMap::new();
    let mut malformed: HashMap<&str, usize> = HashMap::new();
    let mut non_actionable = 0;
    let mut multi = 0;
    for r in &recs {
        match r.expect {
            Expect::Mentions { format, rows } => {
                *formats.entry(format).or_default() += 1;
                assert!(rows >= 1);
                multi += (rows > 1) as usize;
            }
            Expect::NonActionable => non_actionable += 1,
            Expect::Malformed(reason) => *malformed.entry(reason).or_default() += 1,
        }
    }
    let valid = (recs.len() - malformed.values().sum::<usize>()) as f64;
    let share = |f: &str| *formats.get(f).unwrap_or(&0) as f64 / valid;
    assert!((share("twitter_v1") - 0.45).abs() < 0.03, "{formats:?}");
    assert!((share("twitter_v2") - 0.20).abs() < 0.03, "{formats:?}");
    assert!((share("envelope") - 0.20).abs() < 0.03, "{formats:?}");
    assert!(
        ((share("facebook") + non_actionable as f64 / valid) - 0.15).abs() < 0.03,
        "{formats:?}"
    );
    assert!(
        non_actionable > 30 && multi > 100,
        "{non_actionable} {multi}"
    );
    let bad: usize = malformed.values().sum();
    assert!((60..=150).contains(&bad), "{malformed:?}");
    for reason in MALFORMED {
        assert!(
            malformed.contains_key(reason),
            "missing reason {reason}: {malformed:?}"
        );
    }
}

#[test]
fn every_malformed_reason_is_really_that() {
    let c = MentionGenConfig {
        malformed_ratio: 1.0,
        ..cfg(3)
    };
    let mut seen = HashSet::new();
    for r in MentionGenerator::new(c).take(2_000) {
        let Expect::Malformed(reason) = r.expect else {
            panic!("expected malformed")
        };
        seen.insert(reason);
        assert!(!r.payload.contains(&b'\n'));
        let utf8 = std::str::from_utf8(&r.payload);
        match reason {
            "invalid_utf8" => assert!(utf8.is_err()),
            "too_large" => {
                assert!(r.payload.len() > 64 * 1024);
                serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap();
            }
            "invalid_json" => {
                assert!(utf8.is_ok());
                assert!(serde_json::from_slice::<serde_json::Value>(&r.payload).is_err());
            }
            "unknown_format" => {
                let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                assert!(
                    v.get("id_str").is_none()
                        && v.get("data").is_none()
                        && v.get("entry").is_none()
                );
            }
            "missing_field" => {
                let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                let obj = v.get("data").unwrap_or(&v);
                let has_text = obj.get("text").is_some() || obj.get("full_text").is_some();
                assert!(!has_text || obj.get("created_at").is_none(), "{v}");
            }
            other => panic!("unexpected reason {other}"),
        }
        if reason != "too_large" {
            assert!(r.payload.len() < 64 * 1024);
        }
    }
    assert_eq!(seen.len(), 5);
}

#[test]
fn valid_records_are_json_of_the_right_shape() {
    let c = MentionGenConfig {
        malformed_ratio: 0.0,
        ..cfg(11)
    };
    let mut sizes = Vec::new();
    let mut known = 0usize;
    let mut authors: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut non_en = 0usize;
    let mut twitter_total = 0usize;
    let handles: HashSet<String> = (0..20_000)
        .filter(|&i| crm::has_identity(11, i, IdentityKind::Twitter))
        .map(|i| {
            crm::twitter_handle(11, i)
                .trim_start_matches('@')
                .to_ascii_lowercase()
        })
        .collect();
    for r in MentionGenerator::new(c).take(5_000) {
        assert!(!r.payload.contains(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&r.payload).expect("valid JSON");
        match r.expect {
            Expect::Mentions {
                format: "twitter_v1",
                ..
            } => {
                twitter_total += 1;
                sizes.push(r.payload.len());
                let text = v
                    .get("text")
                    .or(v.get("full_text"))
                    .and_then(|t| t.as_str())
                    .unwrap();
                assert!(!text.is_empty());
                let ts = v["created_at"].as_str().unwrap();
                chrono::DateTime::parse_from_str(ts, "%a %b %d %H:%M:%S %z %Y").unwrap();
                let sn = v["user"]["screen_name"].as_str().unwrap();
                known += handles.contains(&sn.to_ascii_lowercase()) as usize;
                non_en += (v["lang"] != "en") as usize;
                if let Some(k) = &r.key {
                    assert_eq!(k, sn.as_bytes());
                    *authors.entry(k.clone()).or_default() += 1;
                }
            }
            Expect::Mentions {
                format: "twitter_v2",
                ..
            } => {
                let ts = v["data"]["created_at"].as_str().unwrap();
                assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
                chrono::DateTime::parse_from_rfc3339(ts).unwrap();
                assert_eq!(v["includes"]["users"][0]["id"], v["data"]["author_id"]);
            }
            Expect::Mentions {
                format: "facebook",
                rows,
            } => {
                let changes = v["entry"][0]["changes"].as_array().unwrap();
                let n = changes
                    .iter()
                    .filter(|c| c["value"]["item"] != "reaction")
                    .count();
                assert_eq!(n as u32, rows);
                for c in changes {
                    assert!(c["value"]["created_time"].is_i64());
                }
            }
            Expect::NonActionable => {
                let changes = v["entry"][0]["changes"].as_array().unwrap();
                assert!(changes.iter().all(|c| c["value"]["item"] == "reaction"));
            }
            Expect::Mentions {
                format: "envelope", ..
            } => {
                chrono::DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap()).unwrap();
                let handle = v["author"]["handle"].as_str().unwrap();
                assert!(
                    handle.contains('@')
                        || handle.chars().filter(|c| c.is_ascii_digit()).count() >= 10,
                    "{handle}"
                );
                assert!(v["text"].is_string());
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    assert!((400..=1_400).contains(&median), "median v1 size {median}");
    let known_share = known as f64 / twitter_total as f64;
    assert!((0.6..0.9).contains(&known_share), "known {known_share}");
    assert!(non_en as f64 / twitter_total as f64 > 0.02);
    // repeat posters exist
    assert!(authors.values().any(|&c| c >= 3));
}

#[test]
fn twitter_text_has_html_entities_and_times_advance() {
    let recs = gen(5, 20_000);
    let amp = recs
        .iter()
        .filter(|r| r.payload.windows(5).any(|w| w == b"&amp;"))
        .count();
    assert!(amp > 10, "{amp}");
    let has = |pat: &[u8]| {
        recs.iter()
            .filter(|r| r.payload.windows(pat.len()).any(|w| w == pat))
            .count()
    };
    for pat in [
        &b"\"extended_tweet\":{\"full_text\""[..],
        b"\"full_text\":",
        b"\"retweeted_status\":{",
        b"\\ud83d",
        b"\"place\":{",
        b"\"in_reply_to_status_id_str\":\"",
        b"\"item\":\"post\"",
        b"\"lang\":\"cy\"",
    ] {
        assert!(has(pat) > 5, "{}", String::from_utf8_lossy(pat));
    }
    let first = recs[0].event_time_ms;
    let last = recs.last().unwrap().event_time_ms;
    let span = (last - first) as f64;
    assert!((span - 20_000.0).abs() < 2_000.0, "{span}"); // 1000/s
    let late = recs
        .windows(2)
        .filter(|w| w[1].event_time_ms < w[0].event_time_ms)
        .count();
    assert!(late > 100 && late < 2_000, "{late}");
}

#[test]
fn jsonl_has_exactly_count_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.jsonl");
    let n = write_mentions_jsonl(&p, 2_500, &cfg(9)).unwrap();
    assert_eq!(n, 2_500);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 2_500);
    assert!(bytes.ends_with(b"\n"));
    let again = dir.path().join("m2.jsonl");
    write_mentions_jsonl(&again, 2_500, &cfg(9)).unwrap();
    assert_eq!(bytes, std::fs::read(&again).unwrap());
}
