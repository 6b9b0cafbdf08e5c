//! One scored mention as JSON: the operators' verdicts, the work item a
//! lone mention gets, floats rounded; and the one line per input line.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use serde_json::{json, Map, Value};
use switchboard_operators::correlate::RenderedEvents;
use switchboard_operators::schema::col;
use switchboard_operators::spam::{SpamDetector, SpamInput};

use crate::stage::stateless::Enricher;

/// Decimals kept in every float `score` prints.
const DECIMALS: i32 = 3;

/// `x` rounded to [`DECIMALS`] decimals.
pub fn round(x: f64) -> f64 {
    let f = 10f64.powi(DECIMALS);
    let r = (x * f).round() / f;
    if r == 0.0 {
        0.0 // no "-0.0"
    } else {
        r
    }
}

/// A plain-text line as a canonical-envelope mention on the `twitter`
/// channel, written now, by no known author.
pub fn plain_text_mention(lineno: usize, line: &[u8], now_ms: i64) -> Vec<u8> {
    let created = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": format!("score-line-{lineno}"),
        "channel": "twitter",
        "text": String::from_utf8_lossy(line),
        "created_at": created,
    })
    .to_string()
    .into_bytes()
}

/// The operators' verdicts on the one row of `one` (sentiment, category
/// with evidence, spam, language); `text_only` leaves out the synthetic
/// mention id of a plain-text line.
pub fn verdict(
    one: &RecordBatch,
    enricher: &Enricher,
    spam: &mut SpamDetector,
    text_only: bool,
) -> crate::Result<Value> {
    let s = |name: &str| {
        one.column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .filter(|a| a.is_valid(0))
            .map(|a| a.value(0).to_string())
    };
    let i = |name: &str| {
        one.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .filter(|a| a.is_valid(0))
            .map(|a| a.value(0))
    };
    let t = |name: &str| {
        one.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
            .filter(|a| a.is_valid(0))
            .map(|a| a.value(0))
    };
    let b = |name: &str| {
        one.column_by_name(name)
            .and_then(|c| c.as_boolean_opt())
            .filter(|a| a.is_valid(0))
            .map(|a| a.value(0))
    };
    let text = s(col::TEXT)
        .ok_or_else(|| crate::PipelineError::Runtime("parsed batch has no text column".into()))?;
    let author = s(col::AUTHOR_ID).or_else(|| s(col::AUTHOR_HANDLE));
    let input = SpamInput {
        text: &text,
        author: author.as_deref(),
        followers: i(col::AUTHOR_FOLLOWERS),
        statuses: i(col::AUTHOR_STATUSES),
        account_created_ms: t(col::AUTHOR_CREATED_AT),
        verified: b(col::AUTHOR_VERIFIED),
        is_retweet: b(col::IS_RETWEET).unwrap_or(false),
        event_time_ms: t(col::EVENT_TIME).unwrap_or(0),
    };
    let sent = enricher.sentiment().score(&text);
    let c = enricher.classifier().classify(&text);
    let l = enricher.language().detect(&text, s(col::LANG).as_deref());
    let v = spam.check(&input);
    let categories: Vec<Value> = c
        .labels
        .iter()
        .map(|(cat, score)| json!({"category": cat.as_str(), "score": round(f64::from(*score))}))
        .collect();
    let evidence: Vec<Value> = c
        .evidence
        .iter()
        .map(|e| json!({"category": e.category.as_str(), "phrase": e.phrase, "negated": e.negated}))
        .collect();
    let mut out = json!({
        "text": text,
        "sentiment": {"compound": round(f64::from(sent.compound)), "pos": round(f64::from(sent.pos)),
            "neu": round(f64::from(sent.neu)), "neg": round(f64::from(sent.neg))},
        "category": c.primary.as_str(),
        "categories": categories,
        "evidence": evidence,
        "spam": v.is_spam,
        "spam_reasons": v.reasons,
        "language": l.lang,
        "language_source": l.source.as_str(),
        "is_english": l.is_english,
    });
    if !text_only {
        out["mention_id"] = json!(s(col::MENTION_ID));
    }
    Ok(out)
}

/// Adds the work item's `queue`, `severity`, `priority`, `reasons` (and
/// `sla_due_at`) from the lone mention's first work-item event.
pub fn add_work_item(v: &mut Value, events: &RenderedEvents) {
    let item: Option<Value> = events
        .iter()
        .next()
        .and_then(|e| serde_json::from_slice(e.json()).ok());
    for k in ["queue", "severity", "priority", "reasons", "sla_due_at"] {
        v[k] = item
            .as_ref()
            .and_then(|it| it.get(k))
            .cloned()
            .unwrap_or(Value::Null);
    }
}

/// The one output line of an input line with `mentions` (at least one):
/// the most severe mention's fields, `line`, and with several, all of them
/// under `mentions`.
pub fn one_line(lineno: usize, mentions: Vec<Value>) -> Value {
    let prio = |v: &Value| v["priority"].as_u64().unwrap_or(0);
    let top = mentions
        .iter()
        .enumerate()
        .max_by_key(|(i, v)| (prio(v), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let mut out = Map::new();
    out.insert("line".into(), json!(lineno));
    if let Value::Object(m) = &mentions[top] {
        out.extend(m.clone());
    }
    if mentions.len() > 1 {
        out.insert("mention_count".into(), json!(mentions.len()));
        out.insert("mentions".into(), Value::Array(mentions));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_three_decimals_without_negative_zero() {
        assert_eq!(round(-0.868_900_001_049_041_7), -0.869);
        assert_eq!(round(0.0004), 0.0);
        assert_eq!(round(-0.0004).to_string(), "0");
        assert_eq!(round(1.0), 1.0);
    }

    #[test]
    fn the_most_severe_mention_leads_a_line() {
        let v = one_line(
            7,
            vec![
                json!({"priority": 10, "text": "a"}),
                json!({"priority": 40, "text": "b"}),
            ],
        );
        assert_eq!(v["line"], 7);
        assert_eq!(v["text"], "b");
        assert_eq!(v["mention_count"], 2);
        assert_eq!(v["mentions"].as_array().unwrap().len(), 2);
        let single = one_line(1, vec![json!({"priority": 10})]);
        assert!(single.get("mentions").is_none());
    }
}
