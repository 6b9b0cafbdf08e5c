use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use super::*;

fn clf() -> Classifier {
    static CLF: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
    CLF.get_or_init(|| Classifier::new(&ClassifyConfig::default()).unwrap())
        .clone()
}

fn primary(text: &str) -> Category {
    clf().classify(text).primary
}

#[test]
fn every_category_has_an_example() {
    use Category::*;
    let cases = [
        ("@EE no signal in Leeds since 8am", NetworkOutage),
        (
            "@virginmedia internet keeps dropping every night",
            BroadbandFault,
        ),
        (
            "@BTCare engineer was a no show, waited in all day",
            EngineerAppointment,
        ),
        ("@O2 I've been overcharged again", Billing),
        (
            "@VodafoneUK locked out of my account, password reset does nothing",
            AccountAccess,
        ),
        (
            "@SkyHelpTeam send me my PAC code please",
            SwitchingCancellation,
        ),
        ("@ThreeUK the courier lost my parcel", Delivery),
        (
            "@TalkTalk I'm going to Ofcom about this",
            ComplaintEscalation,
        ),
        ("@giffgaff thank you, brilliant service", Praise),
        ("@EE how do I add a data bolt on?", GeneralEnquiry),
        ("", GeneralEnquiry),
    ];
    let c = clf();
    for (text, want) in cases {
        assert_eq!(c.classify(text).primary, want, "{text}");
    }
}

#[test]
fn nothing_matched_is_general_enquiry_with_no_labels() {
    let r = clf().classify("@EE hello there");
    assert_eq!(r.primary, Category::GeneralEnquiry);
    assert!(r.labels.is_empty());
    assert!(r.evidence.is_empty());
}

#[test]
fn negated_topic_does_not_score() {
    let r = clf()
        .classify("@BTCare this is not a billing question, my internet has been down since Monday");
    assert_eq!(r.primary, Category::BroadbandFault);
    assert!(
        !r.labels.iter().any(|(c, _)| *c == Category::Billing),
        "{:?}",
        r.labels
    );
    let billing = r
        .evidence
        .iter()
        .find(|e| e.category == Category::Billing)
        .unwrap();
    assert!(billing.negated);
    assert_eq!(billing.phrase, "billing");

    for text in [
        "nothing to do with the bill",
        "it isn't about my bill",
        "this isn’t about my bill", // typographic apostrophe
        "I'm not looking to cancel",
        "NOT A BILLING ISSUE",
    ] {
        let r = clf().classify(text);
        assert!(
            r.labels
                .iter()
                .all(|(c, _)| !matches!(c, Category::Billing | Category::SwitchingCancellation)),
            "{text}: {r:?}"
        );
        assert!(
            r.evidence
                .iter()
                .all(|e| e.negated || e.category == Category::GeneralEnquiry),
            "{text}: {r:?}"
        );
    }
}

#[test]
fn negation_stays_in_its_clause_and_window() {
    // Clause break: the second topic is not negated.
    let r = clf().classify("not the bill, the router");
    assert_eq!(r.primary, Category::BroadbandFault);
    let r = clf().classify("not billing but my broadband is down");
    assert_eq!(r.primary, Category::BroadbandFault);
    // Non-filler words in between: no negation.
    assert_eq!(primary("I'm not happy with my bill"), Category::Billing);
    assert_eq!(
        primary("not able to log in since Tuesday"),
        Category::AccountAccess
    );
    // Beyond the window.
    let cfg = ClassifyConfig {
        negation_window_tokens: 1,
        ..ClassifyConfig::default()
    };
    let c = Classifier::new(&cfg).unwrap();
    assert_eq!(c.classify("not about my bill").primary, Category::Billing);
    assert_eq!(c.classify("not my bill").primary, Category::GeneralEnquiry);
}

#[test]
fn phrases_containing_a_negator_still_count() {
    for text in [
        "no signal",
        "no service since 9",
        "parcel has not arrived",
        "no internet again",
    ] {
        let r = clf().classify(text);
        assert!(!r.labels.is_empty(), "{text}");
        assert!(r.evidence.iter().all(|e| !e.negated), "{text}");
    }
    // Even when a deployment makes bare "no" a negator.
    let mut cfg = ClassifyConfig::default();
    cfg.negators.push("no".into());
    let c = Classifier::new(&cfg).unwrap();
    assert_eq!(
        c.classify("no signal in town").primary,
        Category::NetworkOutage
    );
    assert_eq!(c.classify("no service").primary, Category::NetworkOutage);
    assert_eq!(
        c.classify("no bill this month").primary,
        Category::GeneralEnquiry
    );
    // By default bare "no" states the problem.
    assert_eq!(
        primary("no engineer turned up"),
        Category::EngineerAppointment
    );
}

#[test]
fn escalation_takes_precedence() {
    let r = clf()
        .classify("@BTCare 3 weeks without broadband, overcharged, and now I'm going to Ofcom");
    assert_eq!(r.primary, Category::ComplaintEscalation);
    let cats: Vec<_> = r.labels.iter().map(|(c, _)| *c).collect();
    assert!(
        cats.contains(&Category::BroadbandFault) && cats.contains(&Category::Billing),
        "{cats:?}"
    );
    // Negated threat does not escalate.
    assert_ne!(
        primary("not going to ofcom yet, just fix my broadband"),
        Category::ComplaintEscalation
    );
    let cfg = ClassifyConfig {
        escalation_precedence: false,
        ..ClassifyConfig::default()
    };
    let c = Classifier::new(&cfg).unwrap();
    assert_eq!(
        c.classify("no internet, no broadband, no wifi, ofcom")
            .primary,
        Category::BroadbandFault
    );
}

#[test]
fn ties_break_in_fixed_order() {
    let cfg = ClassifyConfig {
        rules: vec![
            PhraseRule {
                category: Category::Delivery,
                phrases: vec!["alpha".into()],
                weight: 1.0,
            },
            PhraseRule {
                category: Category::Billing,
                phrases: vec!["beta".into()],
                weight: 1.0,
            },
        ],
        ..ClassifyConfig::default()
    };
    let c = Classifier::new(&cfg).unwrap();
    let r = c.classify("alpha beta");
    assert_eq!(r.primary, Category::Billing);
    assert_eq!(
        r.labels,
        vec![(Category::Billing, 1.0), (Category::Delivery, 1.0)]
    );
}

#[test]
fn word_boundaries_and_case() {
    assert_eq!(primary("a billion reasons"), Category::GeneralEnquiry);
    assert_eq!(primary("BILL IS WRONG"), Category::Billing);
    assert_eq!(primary("#outage in Leeds"), Category::NetworkOutage);
    assert_eq!(primary("the mastermind quiz"), Category::GeneralEnquiry);
    // Non-word phrase ends need no boundary.
    assert_eq!(primary("charged £30"), Category::Billing);
    // Ignore phrases shield shorter phrases inside them.
    assert_eq!(
        primary("3 days without internet, leaving me stuck"),
        Category::BroadbandFault
    );
}

#[test]
fn evidence_lists_matches_in_text_order() {
    let r = clf().classify("@O2 overcharged AND no signal. overcharged!");
    let ev: Vec<_> = r
        .evidence
        .iter()
        .map(|e| (e.category, e.phrase.as_str(), e.negated))
        .collect();
    assert_eq!(
        ev,
        vec![
            (Category::Billing, "overcharged", false),
            (Category::NetworkOutage, "no signal", false)
        ]
    );
    let e = &r.evidence[1];
    assert_eq!(
        &"@O2 overcharged AND no signal. overcharged!"[e.start..e.end],
        "no signal"
    );
    assert_eq!(r.labels[0], (Category::Billing, 4.0)); // two matches of weight 2
}

#[test]
fn batch_appends_columns() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("mention_id", DataType::Utf8, false),
        Field::new(crate::schema::col::TEXT, DataType::Utf8, true),
    ]));
    let texts = StringArray::from(vec![
        Some("@O2 overcharged and no signal"),
        Some("not a billing question"),
        None,
    ]);
    let ids = StringArray::from(vec!["1", "2", "3"]);
    let batch = RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(texts)]).unwrap();
    let out = clf().process_batch(&batch).unwrap();
    assert_eq!(out.num_columns(), 5);
    let cat = out
        .column_by_name(col::CATEGORY)
        .unwrap()
        .as_string::<i32>();
    let cats = out
        .column_by_name(col::CATEGORIES)
        .unwrap()
        .as_string::<i32>();
    let ev = out
        .column_by_name(col::CATEGORY_EVIDENCE)
        .unwrap()
        .as_string::<i32>();
    assert_eq!(cat.value(0), "network_outage"); // 2.0 vs 2.0: tie goes to the earlier category
    assert_eq!(cats.value(0), "network_outage,billing");
    assert_eq!(
        ev.value(0),
        "billing:\"overcharged\"; network_outage:\"no signal\""
    );
    assert_eq!(cat.value(1), "general_enquiry");
    assert_eq!(cats.value(1), "general_enquiry");
    assert_eq!(
        ev.value(1),
        "billing:\"billing\" (negated); general_enquiry:\"question\""
    );
    assert_eq!(cat.value(2), "general_enquiry");
    assert_eq!(cats.value(2), "");
    assert_eq!(cat.null_count() + cats.null_count() + ev.null_count(), 0);
    // Re-classifying replaces rather than duplicates.
    let again = clf().process_batch(&out).unwrap();
    assert_eq!(again.num_columns(), 5);
    // Missing text column is an error, not a panic.
    let empty = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec![Some("a")]))],
    )
    .unwrap();
    assert!(clf().process_batch(&empty).is_err());
}

#[test]
fn config_round_trips_and_rejects_unknown_keys() {
    let cfg = ClassifyConfig::default();
    let json = serde_json::to_string(&cfg).unwrap();
    let back: ClassifyConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(cfg, back);
    let partial: ClassifyConfig = serde_json::from_str(
        r#"{"negation_window_tokens": 2, "extra_rules": [{"category": "billing", "phrases": ["paperless"]}]}"#,
    )
    .unwrap();
    assert_eq!(partial.negation_window_tokens, 2);
    assert_eq!(partial.rules, ClassifyConfig::default().rules);
    assert_eq!(partial.extra_rules[0].weight, 1.0);
    let c = Classifier::new(&partial).unwrap();
    assert_eq!(c.classify("going paperless").primary, Category::Billing);
    assert!(serde_json::from_str::<ClassifyConfig>(r#"{"negation_window": 2}"#).is_err());
    assert!(serde_json::from_str::<ClassifyConfig>(
        r#"{"rules": [{"category": "nope", "phrases": ["x"]}]}"#
    )
    .is_err());
}

#[test]
fn config_errors_name_the_key() {
    let mut cfg = ClassifyConfig::default();
    cfg.extra_rules.push(PhraseRule {
        category: Category::Billing,
        phrases: vec!["ok".into(), "  ".into()],
        weight: 1.0,
    });
    let err = Classifier::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("classify.extra_rules[0].phrases[1]"), "{err}");
    let mut cfg = ClassifyConfig::default();
    cfg.rules[2].weight = f32::NAN;
    let err = Classifier::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("classify.rules[2].weight"), "{err}");
}

#[test]
fn category_labels_round_trip() {
    for c in Category::ALL {
        assert_eq!(Category::parse(c.as_str()), Some(c));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            format!("\"{}\"", c.as_str())
        );
        assert_eq!(Category::ALL[c.index()], c);
    }
}

/// Primary-category accuracy on the committed, labelled examples.
#[test]
fn fixture_accuracy() {
    let data = include_str!("../../tests/fixtures/classify_examples.jsonl");
    let c = clf();
    let (mut total, mut right) = (0, 0);
    let mut per_cat = [0usize; 10];
    let mut misses = Vec::new();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let want = Category::parse(v["category"].as_str().unwrap()).expect("known category");
        per_cat[want.index()] += 1;
        let got = c.classify(text);
        total += 1;
        if got.primary == want {
            right += 1;
        } else {
            misses.push(format!(
                "  want {want}, got {} ({:?}): {text}",
                got.primary, got.labels
            ));
        }
    }
    let acc = right as f64 / total as f64;
    println!(
        "classify fixture: {right}/{total} correct = {:.1}% primary-category accuracy",
        acc * 100.0
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(total >= 100);
    assert!(
        per_cat.iter().all(|&n| n >= 5),
        "every category needs examples: {per_cat:?}"
    );
    assert!(acc >= 0.90, "accuracy {acc:.3} below 0.90");
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}", neg in "(not |no |isn't |nothing to do with )?") {
        let c = clf();
        let t = format!("{neg}{text}");
        let r = c.classify(&t);
        for e in &r.evidence {
            prop_assert!(t.is_char_boundary(e.start) && t.is_char_boundary(e.end));
        }
        prop_assert!(r.labels.iter().all(|(_, s)| *s > 0.0));
    }
}
