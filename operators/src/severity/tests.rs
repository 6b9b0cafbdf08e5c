//! Tests of the severity operator.

use super::config::{steps, HOUR_MS};
use super::outage::{stated_outage_tokens, token_text, unit_hours};
use super::*;
use crate::schema::col as mcol;
use crate::schema::col as icol;
use arrow::array::{BooleanArray, Float32Array, Int64Array, StringArray};
use arrow::datatypes::Schema;
use proptest::prelude::*;

fn sev() -> Severity {
    Severity::new(&SeverityConfig::default()).unwrap()
}

/// Runs the real sentiment and classify operators over texts.
fn enriched(texts: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        mcol::TEXT,
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(texts.to_vec())) as ArrayRef],
    )
    .unwrap();
    let batch = crate::sentiment::SentimentAnalyzer::new(
        crate::sentiment::SentimentMode::Telco,
        crate::sentiment::TelcoRules::default(),
    )
    .unwrap()
    .process_batch(&batch)
    .unwrap();
    crate::classify::Classifier::new(&crate::classify::ClassifyConfig::default())
        .unwrap()
        .process_batch(&batch)
        .unwrap()
}

fn with_col(batch: &RecordBatch, name: &str, a: ArrayRef) -> RecordBatch {
    append_columns(
        batch,
        vec![(Field::new(name, a.data_type().clone(), true), a)],
    )
    .unwrap()
}

fn reasons_of(batch: &RecordBatch, row: usize) -> Vec<String> {
    sev().row_score(batch, row).unwrap().reasons
}

/// The batch writes its reason lines straight into the list column;
/// they are the lines, points and grade of `score_row` on each row.
#[test]
fn batch_reasons_are_score_row_reasons() {
    let texts = [
        "@BTCare three days without broadband, I'm reporting you to Ofcom",
        "thank you so much, brilliant service",
        "engineer never turned up, no internet for 48hrs",
        "how do I add a data bolt on?",
    ];
    let followers = [Some(250_000), Some(5), None, Some(20_000)];
    let vulnerable = [Some(true), None, Some(false), None];
    let b = enriched(&texts);
    let b = with_col(
        &b,
        icol::CUSTOMER_VULNERABLE,
        Arc::new(BooleanArray::from(vulnerable.to_vec())),
    );
    let b = with_col(
        &b,
        mcol::AUTHOR_FOLLOWERS,
        Arc::new(Int64Array::from(followers.to_vec())),
    );
    let out = sev().process_batch(&b).unwrap();
    let str_at = |name: &str, i: usize| {
        out.column_by_name(name)
            .map(|c| c.as_string::<i32>())
            .filter(|c| c.is_valid(i))
            .map(|c| c.value(i).to_owned())
    };
    let compound = arrow::compute::cast(
        out.column_by_name(crate::schema::col::SENTIMENT_COMPOUND)
            .unwrap(),
        &DataType::Float64,
    )
    .unwrap();
    let compound = compound.as_primitive::<Float64Type>();
    let mut lines = 0;
    for (i, text) in texts.iter().enumerate() {
        let category = str_at(crate::schema::col::CATEGORY, i);
        let categories = str_at(crate::schema::col::CATEGORIES, i);
        let want = sev().score_row(&MentionFactors {
            text,
            category: category.as_deref(),
            categories: categories.as_deref(),
            sentiment_compound: Some(compound.value(i)),
            followers: followers[i],
            vulnerable: vulnerable[i],
            ..Default::default()
        });
        let got = sev().row_score(&out, i).unwrap();
        assert_eq!(got, want, "row {i}");
        assert_eq!(
            str_at(col::SEVERITY, i).as_deref(),
            Some(want.severity.as_str())
        );
        lines += want.reasons.len();
    }
    assert!(lines >= 8, "{lines} reason lines");
}

#[test]
fn vulnerable_customer_three_days_without_broadband_is_p1() {
    let b = enriched(&[
        "@BTCare three days without broadband now and I rely on it for my care alarm",
        "@BTCare three days without broadband now and I rely on it for my care alarm",
    ]);
    let b = with_col(
        &b,
        icol::CUSTOMER_VULNERABLE,
        Arc::new(BooleanArray::from(vec![Some(true), None])),
    );
    let out = sev().process_batch(&b).unwrap();
    let sev_col = out
        .column_by_name(col::SEVERITY)
        .unwrap()
        .as_string::<i32>();
    assert_eq!(sev_col.value(0), "P1", "{:?}", reasons_of(&out, 0));
    let r = reasons_of(&out, 0);
    assert!(r.contains(&"+30 vulnerable customer".to_owned()), "{r:?}");
    assert!(
        r.contains(&"+15 outage stated: three days".to_owned()),
        "{r:?}"
    );
    // The same complaint from an unknown customer is lower.
    assert_ne!(sev_col.value(1), "P1");
    // Lines sum to the points.
    let s = sev().row_score(&out, 0).unwrap();
    let sum: i32 = s
        .reasons
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse::<i32>().unwrap())
        .sum();
    assert_eq!(sum, s.points);
}

#[test]
fn praise_is_p4() {
    let b = enriched(&["@EE thank you so much to Sarah on chat, brilliant service as always"]);
    let out = sev().process_batch(&b).unwrap();
    let s = sev().row_score(&out, 0).unwrap();
    assert_eq!(s.severity, SeverityLevel::P4, "{s:?}");
    assert!(
        s.reasons.contains(&"-10 category: praise".to_owned()),
        "{s:?}"
    );
}

#[test]
fn ofcom_threat_raises_priority() {
    let b = enriched(&[
        "@VodafoneUK six weeks without a working line is a disgrace",
        "@VodafoneUK six weeks without a working line is a disgrace, this is going to Ofcom",
    ]);
    let out = sev().process_batch(&b).unwrap();
    let (a, o) = (
        sev().row_score(&out, 0).unwrap(),
        sev().row_score(&out, 1).unwrap(),
    );
    assert!(o.priority > a.priority, "{a:?} {o:?}");
    assert!(o
        .reasons
        .contains(&"+30 regulatory threat: ofcom".to_owned()));
    assert!(o.severity <= SeverityLevel::P2, "{o:?}");
}

#[test]
fn missing_columns_are_absent_factors() {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let b =
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2])) as _]).unwrap();
    let out = sev().process_batch(&b).unwrap();
    assert_eq!(out.num_columns(), 5);
    let s = sev().row_score(&out, 1).unwrap();
    assert_eq!((s.points, s.severity), (0, SeverityLevel::P4));
    assert!(s.reasons.is_empty());
}

#[test]
fn reach_tier_segment_and_sentiment_lines() {
    let s = sev().score_row(&MentionFactors {
        text: "no signal",
        category: Some("network_outage"),
        sentiment_compound: Some(-0.5),
        followers: Some(250_000),
        verified: Some(true),
        retweets: Some(150),
        tier: Some("premier"),
        segment: Some("business"),
        ..Default::default()
    });
    assert_eq!(
        s.reasons,
        [
            "+30 category: network_outage",
            "+5 negative sentiment (-0.50)",
            "+10 reach: 250000 followers",
            "+5 reach: verified author",
            "+10 spreading: 150 retweets",
            "+8 tier: premier",
            "+5 segment: business",
            "+15 service loss stated: no signal",
        ]
    );
    assert_eq!(s.points, 88);
    assert_eq!((s.priority, s.severity), (88, SeverityLevel::P1));
}

#[test]
fn text_factors_only_count_for_faults() {
    let m = MentionFactors {
        text: "parcel didn't turn up, waited 3 days",
        category: Some("delivery"),
        categories: Some("delivery"),
        ..Default::default()
    };
    assert_eq!(sev().score_row(&m).reasons, ["+15 category: delivery"]);
    let m = MentionFactors {
        category: Some("engineer_appointment"),
        categories: Some("engineer_appointment"),
        ..m
    };
    assert_eq!(
        sev().score_row(&m).reasons,
        [
            "+25 category: engineer_appointment",
            "+15 outage stated: 3 days",
            "+10 missed engineer appointment (stated)",
        ]
    );
}

#[test]
fn sla_due_and_grades() {
    let s = sev();
    assert_eq!(
        s.sla_due_ms(SeverityLevel::P1, 1_000),
        1_000 + HOUR_MS as i64
    );
    assert_eq!(s.sla_due_ms(SeverityLevel::P4, 0), 72 * HOUR_MS as i64);
    assert_eq!(s.grade(-20), (0, SeverityLevel::P4));
    assert_eq!(s.grade(25), (25, SeverityLevel::P3));
    assert_eq!(s.grade(45), (45, SeverityLevel::P2));
    assert_eq!(s.grade(70), (70, SeverityLevel::P1));
    assert_eq!(s.grade(250), (100, SeverityLevel::P1));
}

#[test]
fn config_errors_name_the_key() {
    let key = |c: SeverityConfig| match Severity::new(&c) {
        Err(OperatorError::Config { key, .. }) => key,
        other => panic!("{other:?}"),
    };
    let mut c = SeverityConfig::default();
    c.category_points.insert("weather".into(), 5);
    assert_eq!(key(c), "severity.category_points.weather");
    let c = SeverityConfig {
        p2_min_priority: 80,
        ..Default::default()
    };
    assert_eq!(key(c), "severity.p2_min_priority");
    let c = SeverityConfig {
        outage_hours_points: steps(&[(24, 10), (4, 5)]),
        ..Default::default()
    };
    assert_eq!(key(c), "severity.outage_hours_points[1].at_least");
    let c = SeverityConfig {
        sla_p3_ms: 0,
        ..Default::default()
    };
    assert_eq!(key(c), "severity.sla_p3_ms");
}

#[test]
fn config_deserializes_with_defaults_and_rejects_unknown_keys() {
    let c: SeverityConfig =
        serde_json::from_str(r#"{"vulnerable_points": 40, "sla_p1_ms": 1800000}"#).unwrap();
    assert_eq!(c.vulnerable_points, 40);
    assert_eq!(c.p1_min_priority, 70);
    assert!(serde_json::from_str::<SeverityConfig>(r#"{"vulnerable": 1}"#).is_err());
}

#[test]
fn stated_outage_table() {
    let cases: &[(&str, Option<(u32, &str)>)] = &[
        ("3 days without internet", Some((72, "3 days"))),
        ("down for 72 hours", Some((72, "72 hours"))),
        ("no service for a week", Some((168, "a week"))),
        ("2 wks and counting", Some((336, "2 wks"))),
        ("offline since yesterday", Some((24, "since yesterday"))),
        ("since last week nothing", Some((168, "since last week"))),
        ("48hrs no broadband", Some((48, "48 hrs"))),
        ("72h!!", Some((72, "72 h"))),
        ("two days now", Some((48, "two days"))),
        ("a couple of days", Some((48, "couple of days"))),
        ("a fortnight", Some((336, "a fortnight"))),
        ("THREE WHOLE DAYS", Some((72, "three whole days"))),
        ("3-day outage", Some((72, "3 day"))),
        ("5 hours, no, 2 days", Some((48, "2 days"))),
        ("drops twice a day", None),
        ("3 times a week", None),
        ("every 2 hours it resets", None),
        ("2 hours a day", None),
        ("12 month contract", None),
        ("customer for 10 years", None),
        ("52 weeks", None), // above the 8-week cap
        ("since Monday", None),
        ("5g is down", None),
        ("", None),
    ];
    for (text, want) in cases {
        let got = stated_outage(text, 8 * 168).map(|o| (o.hours, o.phrase));
        let want = want.map(|(h, p)| (h, p.to_owned()));
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn sentiment_compound_float32_and_other_int_types() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sentiment_compound", DataType::Float32, true),
        Field::new("retweet_count", DataType::Int32, true),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float32Array::from(vec![Some(-1.0), None])) as _,
            Arc::new(arrow::array::Int32Array::from(vec![Some(1000), None])) as _,
        ],
    )
    .unwrap();
    let out = sev().process_batch(&b).unwrap();
    assert_eq!(
        reasons_of(&out, 0),
        [
            "+10 negative sentiment (-1.00)",
            "+20 spreading: 1000 retweets"
        ]
    );
    assert!(reasons_of(&out, 1).is_empty());
}

/// The tokenizer as first written (one `String` per token): the
/// reference for [`token_text`].
fn tokens_reference(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    for ch in text.chars() {
        let is_digit = ch.is_ascii_digit();
        if is_digit || ch.is_alphabetic() {
            if !cur.is_empty() && cur_digit != is_digit {
                out.push(std::mem::take(&mut cur));
            }
            cur_digit = is_digit;
            cur.extend(ch.to_lowercase());
        } else if (ch == '\'' || ch == '\u{2019}') && !cur.is_empty() && !cur_digit {
            continue;
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

proptest! {
    /// The byte prefilter never hides a stated length: with and without
    /// it, the same result, over texts made of the grammar's words,
    /// units glued to digits, case changes, apostrophes and the
    /// non-ASCII letters whose lower case is (nearly) ASCII.
    #[test]
    fn stated_outage_prefilter_is_a_superset_near_units(
        pre in proptest::collection::vec(prop_oneof![Just("no"), Just("internet"), Just("the"), Just("whole"), Just("now"), Just("x")], 0..3),
        number in prop_oneof![Just("3"), Just("72"), Just("a"), Just("couple of"), Just("since")],
        sep in prop_oneof![Just(""), Just(" "), Just("-"), Just("'")],
        unit in prop_oneof![
            Just("h"), Just("H"), Just("h'"), Just("\u{e9}h"), Just("hx"), Just("hr"), Just("HRS"),
            Just("hours"), Just("day"), Just("DAYS"), Just("wk"), Just("wks"), Just("week"),
            Just("w\u{212A}"), Just("wee\u{212A}"), Just("w\u{212A}s"), Just("fortnight"),
            Just("yesterday"), Just("last night"), Just("the weekend"), Just("d\u{130}y"),
        ],
        post in proptest::collection::vec(prop_oneof![Just("now"), Just("ago"), Just("a"), Just("day"), Just("!")], 0..3),
    ) {
        let text = format!("{} {number}{sep}{unit} {}", pre.join(" "), post.join(" "));
        prop_assert_eq!(
            stated_outage(&text, u32::MAX).map(|o| (o.hours, o.phrase)),
            stated_outage_tokens(&text, u32::MAX).map(|o| (o.hours, o.phrase))
        );
    }

    #[test]
    fn stated_outage_prefilter_is_a_superset(
        words in proptest::collection::vec(
            prop_oneof![
                Just("since"), Just("yesterday"), Just("last"), Just("night"), Just("the"),
                Just("weekend"), Just("3"), Just("72"), Just("three"), Just("a"), Just("couple"),
                Just("of"), Just("whole"), Just("h"), Just("H"), Just("hr"), Just("Hrs"),
                Just("hours"), Just("day"), Just("DAYS"), Just("wk"), Just("wks"), Just("week"),
                Just("fortnight"), Just("w"), Just("wee"), Just("\u{212A}"), Just("\u{130}"),
                Just("\u{e9}"), Just("'"), Just("\u{2019}"), Just("-"), Just("."), Just("x"),
                Just("per"), Just("twice"), Just("now"), Just("no internet"),
            ],
            0..12,
        ),
        seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just(", ")], 12),
    ) {
        let mut text = String::new();
        for (w, sep) in words.iter().zip(&seps) {
            text.push_str(w);
            text.push_str(sep);
        }
        prop_assert_eq!(
            stated_outage(&text, u32::MAX).map(|o| (o.hours, o.phrase)),
            stated_outage_tokens(&text, u32::MAX).map(|o| (o.hours, o.phrase))
        );
    }

    #[test]
    fn token_text_splits_like_the_reference(
        text in "[a-zA-Z0-9 '\u{2019}.,!\u{130}\u{e9}\u{1F600}-]{0,60}|\\PC{0,60}",
    ) {
        let joined = token_text(&text);
        let got: Vec<&str> = joined.split(' ').filter(|t| !t.is_empty()).collect();
        prop_assert_eq!(got, tokens_reference(&text));
    }

    #[test]
    fn arbitrary_text_never_panics(
        text in "\\PC{0,300}",
        compound in proptest::option::of(-1.0f64..=1.0),
        followers in proptest::option::of(any::<i64>()),
        retweets in proptest::option::of(any::<i64>()),
        vulnerable in proptest::option::of(any::<bool>()),
        cat in proptest::option::of(0usize..10),
    ) {
        let s = sev();
        let category = cat.map(|c| Category::ALL[c].as_str());
        let base = s.score_row(&MentionFactors {
            text: &text,
            category,
            sentiment_compound: compound,
            followers,
            retweets,
            vulnerable,
            verified: Some(true),
            ..Default::default()
        });
        prop_assert!(base.priority <= 100);
        let _ = stated_outage(&text, u32::MAX);
    }

    #[test]
    fn outage_phrases_with_digits(n in 1u32..500, unit in prop::sample::select(vec!["hours", "days", "weeks", "hrs", "wks"])) {
        let got = stated_outage(&format!("no internet for {n} {unit} now"), u32::MAX).unwrap();
        prop_assert_eq!(got.hours, n * unit_hours(unit).unwrap());
    }
}
