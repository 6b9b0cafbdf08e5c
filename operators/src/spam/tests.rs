//! Tests of the spam detector.

use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use super::*;

const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 1_790_000_000_000;

fn det() -> SpamDetector {
    SpamDetector::new(SpamConfig::default()).unwrap()
}

fn established(text: &str) -> SpamInput<'_> {
    SpamInput {
        text,
        author: Some("cust"),
        followers: Some(200),
        statuses: Some(900),
        account_created_ms: Some(NOW - 900 * DAY_MS),
        verified: Some(false),
        is_retweet: false,
        event_time_ms: NOW,
    }
}

fn brand_new(text: &str) -> SpamInput<'_> {
    SpamInput {
        followers: Some(0),
        statuses: Some(1),
        account_created_ms: Some(NOW - DAY_MS / 4),
        ..established(text)
    }
}

#[test]
fn weak_account_alone_is_not_spam() {
    let v = det().check(&brand_new(
        "@BTCare my broadband has been down for three days, please help",
    ));
    assert!(!v.is_spam);
    assert_eq!(v.reasons, vec![reason::NEW_ACCOUNT, reason::LOW_REACH]);
    assert_eq!(v.score, 2);
}

#[test]
fn promotional_content_is_spam() {
    let v = det().check(&established("GIVEAWAY! Follow & RT to win an iPhone"));
    assert!(v.is_spam);
    assert_eq!(v.reasons, vec![reason::PROMO_PHRASE]);
    assert_eq!(v.score, 3); // giveaway, follow & rt, rt to win
    let v = det().check(&established("Make money fast, ask me how https://t.co/x"));
    assert_eq!(
        (v.is_spam, v.reasons.clone()),
        (true, vec![reason::PROMO_PHRASE, reason::PROMO_WITH_LINK])
    );
    // One promotional word from an ordinary customer is not enough.
    let v = det().check(&established(
        "@SkyHelpTeam I won your giveaway and the prize never came",
    ));
    assert!(!v.is_spam);
    // Word boundaries: "btc" inside a word does not count.
    assert!(det()
        .check(&established("@BTCare hello"))
        .reasons
        .is_empty());
}

#[test]
fn link_only_needs_a_second_signal() {
    assert!(
        !det()
            .check(&established("@EE look https://t.co/photo"))
            .is_spam
    );
    let v = det().check(&brand_new("@EE https://t.co/x"));
    assert!(v.is_spam);
    assert_eq!(
        v.reasons,
        vec![reason::LINK_ONLY, reason::NEW_ACCOUNT, reason::LOW_REACH]
    );
    assert!(
        det()
            .check(&established(
                "@EE http://a.b http://c.d www.e.f links galore"
            ))
            .is_spam
    );
    assert!(
        !det()
            .check(&established("@EE #a #b #c #d my bill is wrong"))
            .is_spam
    );
    assert!(
        det()
            .check(&brand_new("@EE #a #b #c #d #e my bill"))
            .is_spam
    );
}

#[test]
fn bot_rate_and_verified() {
    let bot = SpamInput {
        statuses: Some(60_000),
        account_created_ms: Some(NOW - 100 * DAY_MS),
        ..established("@EE deals https://t.co/x")
    };
    let v = det().check(&bot);
    assert_eq!(
        (v.is_spam, v.reasons.clone()),
        (true, vec![reason::LINK_ONLY, reason::BOT_RATE])
    );
    // A prolific account with an ordinary complaint is not spam.
    let v = det().check(&SpamInput {
        text: "@EE my bill is wrong again this month",
        ..bot
    });
    assert!(!v.is_spam && v.reasons == vec![reason::BOT_RATE]);
    // A link from it is enough.
    assert!(
        det()
            .check(&SpamInput {
                text: "@EE best VPN deals here https://t.co/vpn",
                ..bot
            })
            .is_spam
    );
    let brand = SpamInput {
        verified: Some(true),
        ..established("Win a free iPhone! giveaway, follow and rt https://t.co/x")
    };
    assert!(!det().check(&brand).is_spam);
}

fn copy<'a>(text: &'a str, author: &'a str, t: i64) -> SpamInput<'a> {
    SpamInput {
        author: Some(author),
        event_time_ms: t,
        ..established(text)
    }
}

const CAMPAIGN: &str = "Switched to NetZoom and saved three hundred pounds a year https://t.co/nz";

#[test]
fn repetition_from_distinct_authors() {
    let mut d = det();
    let got: Vec<bool> = ["a", "b", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, a)| d.check(&copy(CAMPAIGN, a, NOW + i as i64 * 1000)).is_spam)
        .collect();
    // The 4th *distinct* author (the same author twice counts once) and later.
    assert_eq!(got, vec![false, false, false, false, true, true]);
    // Normalisation: case, punctuation, handles and links do not matter.
    let v = d.check(&copy(
        "@Other SWITCHED to netzoom, and saved three hundred pounds a year!! https://x.y/z",
        "f",
        NOW + 10_000,
    ));
    assert!(v.reasons.contains(&reason::REPEATED_TEXT) && v.is_spam);
    let stats = d.take_stats();
    assert_eq!((stats.checked, stats.spam), (7, 3));
    assert_eq!(stats.spam_by_reason[6], 3);
}

#[test]
fn repetition_ignores_short_texts_retweets_and_anonymous() {
    let mut d = det();
    for i in 0..10 {
        let a = format!("u{i}");
        assert!(
            !d.check(&copy("@EE no signal?? is EE down", &a, NOW + i))
                .is_spam
        );
        let rt = SpamInput {
            is_retweet: true,
            ..copy(CAMPAIGN, &a, NOW + i)
        };
        assert!(!d.check(&rt).reasons.contains(&reason::REPEATED_TEXT));
        let anon = SpamInput {
            author: None,
            ..copy(CAMPAIGN, &a, NOW + i)
        };
        assert!(!d.check(&anon).reasons.contains(&reason::REPEATED_TEXT));
    }
    assert_eq!(d.tracked_texts(), 0);
}

#[test]
fn repetition_window_expires_by_event_time() {
    let mut d = det();
    let window = SpamConfig::default().repetition_window_ms;
    // Four authors, each more than a window apart: never repeated.
    for (i, a) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let v = d.check(&copy(CAMPAIGN, a, NOW + i as i64 * (window + 1)));
        assert!(!v.reasons.contains(&reason::REPEATED_TEXT), "{i}");
        assert_eq!(d.tracked_texts(), 1);
    }
    // Another text far in the future expires the first one.
    d.check(&copy(
        "something else entirely that is long enough to count",
        "z",
        NOW + 100 * window,
    ));
    assert_eq!(d.tracked_texts(), 1);
}

#[test]
fn repetition_memory_is_capped() {
    let cfg = SpamConfig {
        repetition_max_entries: 100,
        ..SpamConfig::default()
    };
    let mut d = SpamDetector::new(cfg).unwrap();
    for i in 0..1_000i64 {
        let text = format!("distinct text number {i} with enough words in it");
        d.check(&copy(&text, "a", NOW + i));
        assert!(d.tracked_texts() <= 100);
        assert!(d.rep.order.len() <= 2 * 100 + 16);
        for e in d.rep.map.values() {
            assert!(e.authors.len() <= SpamConfig::default().repetition_min_distinct_authors);
        }
    }
    // Evicted texts start over; the newest ones are still tracked.
    for (k, a) in ["b", "c", "d"].iter().enumerate() {
        let v = d.check(&copy(
            "distinct text number 999 with enough words in it",
            a,
            NOW + 1_000 + k as i64,
        ));
        assert_eq!(v.reasons.contains(&reason::REPEATED_TEXT), k == 2);
    }
}

#[test]
fn batch_appends_columns() {
    use crate::schema::col as c;
    let ts = |v: Vec<Option<i64>>| {
        Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC")) as ArrayRef
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new(c::TEXT, DataType::Utf8, false),
        Field::new(c::EVENT_TIME, crate::schema::timestamp_type(), false),
        Field::new(c::AUTHOR_HANDLE, DataType::Utf8, true),
        Field::new(c::AUTHOR_FOLLOWERS, DataType::Int64, true),
        Field::new(c::AUTHOR_STATUSES, DataType::Int64, true),
        Field::new(c::AUTHOR_CREATED_AT, crate::schema::timestamp_type(), true),
        Field::new(c::AUTHOR_VERIFIED, DataType::Boolean, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![
                "@EE my internet is down",
                "@EE https://t.co/x",
                "GIVEAWAY follow and rt",
            ])),
            ts(vec![Some(NOW), Some(NOW), Some(NOW)]),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            Arc::new(Int64Array::from(vec![Some(0), Some(0), None])),
            Arc::new(Int64Array::from(vec![Some(0), Some(0), None])),
            ts(vec![Some(NOW - 1000), Some(NOW - 1000), None]),
            Arc::new(BooleanArray::from(vec![None, Some(false), None])),
        ],
    )
    .unwrap();
    let out = det().process_batch(&batch, &mut ()).unwrap();
    let spam = out.column_by_name(col::IS_SPAM).unwrap().as_boolean();
    let why = out
        .column_by_name(col::SPAM_REASON)
        .unwrap()
        .as_string::<i32>();
    assert_eq!((spam.value(0), why.is_null(0)), (false, true));
    assert_eq!(
        (spam.value(1), why.value(1)),
        (true, "link_only,new_account,low_reach")
    );
    assert_eq!((spam.value(2), why.value(2)), (true, "promo_phrase"));
    // Only text and event_time are required.
    let minimal = batch.project(&[0, 1]).unwrap();
    assert_eq!(
        det()
            .process_batch(&minimal, &mut ())
            .unwrap()
            .num_columns(),
        4
    );
    assert!(det()
        .process_batch(&batch.project(&[0]).unwrap(), &mut ())
        .is_err());
}

#[test]
fn config_round_trips_and_validates() {
    let cfg = SpamConfig::default();
    let back: SpamConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(cfg, back);
    assert!(serde_json::from_str::<SpamConfig>(r#"{"window_ms": 5}"#).is_err());
    let partial: SpamConfig = serde_json::from_str(r#"{"repetition_window_ms": 60000}"#).unwrap();
    assert_eq!(partial.min_score, 2);
    let err = SpamDetector::new(SpamConfig {
        repetition_min_distinct_authors: 1,
        ..cfg.clone()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("spam.repetition_min_distinct_authors"),
        "{err}"
    );
    let err = SpamDetector::new(SpamConfig {
        promo_phrases: vec!["ok".into(), " ".into()],
        ..cfg
    })
    .unwrap_err();
    assert!(err.to_string().contains("spam.promo_phrases[1]"), "{err}");
}

/// Precision and recall on the committed, labelled examples, judged in file order.
#[test]
fn fixture_precision_recall() {
    let data = include_str!("../../tests/fixtures/spam_examples.jsonl");
    let mut d = det();
    let (mut tp, mut fp, mut fneg, mut total) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = NOW + v["t_s"].as_i64().unwrap() * 1000;
        let input = SpamInput {
            text: v["text"].as_str().unwrap(),
            author: v["author"].as_str(),
            followers: v["followers"].as_i64(),
            statuses: v["statuses"].as_i64(),
            account_created_ms: v["account_age_days"]
                .as_f64()
                .map(|d| t - (d * DAY_MS as f64) as i64),
            verified: v["verified"].as_bool(),
            is_retweet: v["is_retweet"].as_bool().unwrap_or(false),
            event_time_ms: t,
        };
        let want = v["is_spam"].as_bool().unwrap();
        let got = d.check(&input);
        total += 1;
        match (want, got.is_spam) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fneg += 1,
            _ => {}
        }
        if want != got.is_spam {
            misses.push(format!(
                "  want {want}, got {} {:?}: {}",
                got.is_spam, got.reasons, input.text
            ));
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    println!(
        "spam fixture: {total} examples, {} spam; precision {:.1}% ({tp}/{}), recall {:.1}% ({tp}/{})",
        tp + fneg,
        precision * 100.0,
        tp + fp,
        recall * 100.0,
        tp + fneg
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(total >= 60);
    assert!(
        precision >= 0.90 && recall >= 0.90,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_input_never_panics(
        text in "\\PC{0,300}",
        author in proptest::option::of("\\PC{0,12}"),
        followers in proptest::option::of(any::<i64>()),
        statuses in proptest::option::of(any::<i64>()),
        created in proptest::option::of(any::<i64>()),
        t in any::<i64>(),
    ) {
        let mut d = det();
        for k in 0..3 {
            let input = SpamInput {
                text: &text,
                author: author.as_deref(),
                followers,
                statuses,
                account_created_ms: created,
                verified: None,
                is_retweet: false,
                event_time_ms: t.saturating_add(k),
            };
            let v = d.check(&input);
            prop_assert!(!v.is_spam || !v.reasons.is_empty());
        }
    }
}

#[test]
fn spam_through_the_stateful_operator_trait() {
    use crate::operator::{names, StatefulOperator};
    let schema = Arc::new(Schema::new(vec![
        Field::new(col::TEXT, DataType::Utf8, false),
        Field::new(col::EVENT_TIME, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![
                "GIVEAWAY follow and rt",
                "no signal",
            ])),
            Arc::new(Int64Array::from(vec![NOW, NOW])),
        ],
    )
    .unwrap();
    let mut d = det();
    assert_eq!(StatefulOperator::name(&d), names::SPAM);
    let out = d.process_batch(&batch, &mut ()).unwrap();
    assert_eq!(out, det().process_batch(&batch, &mut ()).unwrap());
    assert_eq!(StatefulOperator::watermark(&d), None, "no clock");
    d.on_watermark(NOW, &mut ());
    assert!(d.checkpoint().is_empty());
}
