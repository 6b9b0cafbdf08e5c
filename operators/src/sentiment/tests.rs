//! Sentiment tests: one per VADER rule (expected values from vaderSentiment
//! 3.3.2), the Python parity fixture, the telco labelled set, the Arrow batch
//! operator and a no-panic property test.

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use super::*;
use crate::schema::col::SENTIMENT_COMPOUND;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Asserts `text` scores exactly (compound, pos, neu, neg) as the Python does.
#[track_caller]
fn py(text: &str, compound: f64, pos: f64, neu: f64, neg: f64) {
    let a = SentimentAnalyzer::vader();
    let p = a.polarity(text, &mut Scratch::default());
    assert_eq!(
        (p.compound, p.pos, p.neu, p.neg),
        (compound, pos, neu, neg),
        "text {text:?}"
    );
}

fn compound(a: &SentimentAnalyzer, text: &str) -> f64 {
    a.polarity(text, &mut Scratch::default()).compound
}

// ---- one test per VADER rule; expected values printed by vaderSentiment 3.3.2 ----

#[test]
fn sentiment_rule_lexicon_and_normalize() {
    py("The book was good.", 0.4404, 0.492, 0.508, 0.0);
    py("the cat sat on the mat", 0.0, 0.0, 1.0, 0.0);
}

#[test]
fn sentiment_rule_negation() {
    py("The book was not good.", -0.3412, 0.0, 0.624, 0.376);
}

#[test]
fn sentiment_rule_negation_contraction_nt() {
    py("It isn't good", -0.3412, 0.0, 0.454, 0.546);
    py("It isnt good", -0.3412, 0.0, 0.454, 0.546);
}

#[test]
fn sentiment_rule_negation_three_words_back() {
    py("It is not a very good idea", -0.3865, 0.0, 0.696, 0.304);
    py("Nothing about it was good", 0.4404, 0.42, 0.58, 0.0);
}

#[test]
fn sentiment_rule_booster() {
    py("The food is very good", 0.4927, 0.444, 0.556, 0.0);
}

#[test]
fn sentiment_rule_dampener() {
    py("The food is slightly good", 0.3832, 0.395, 0.605, 0.0);
}

#[test]
fn sentiment_rule_kind_of() {
    py("The food is kind of good", 0.3832, 0.343, 0.657, 0.0);
    py("The book was only kind of good.", 0.3832, 0.303, 0.697, 0.0);
}

#[test]
fn sentiment_rule_booster_in_caps() {
    py("The food is VERY good", 0.6028, 0.495, 0.505, 0.0);
}

#[test]
fn sentiment_rule_all_caps_emphasis() {
    py("The food is GOOD", 0.5622, 0.548, 0.452, 0.0);
    // Everything in caps: no differential, no emphasis.
    py("THE FOOD IS GOOD", 0.4404, 0.492, 0.508, 0.0);
}

#[test]
fn sentiment_rule_but() {
    py(
        "The food is good but the service is terrible",
        -0.4939,
        0.149,
        0.534,
        0.317,
    );
}

#[test]
fn sentiment_rule_but_list_index_quirk() {
    py("good good but good good", 0.891, 0.921, 0.079, 0.0);
}

#[test]
fn sentiment_rule_exclamation_capped_at_four() {
    py("The food is good!", 0.4926, 0.516, 0.484, 0.0);
    py("The food is good!!!!!!!!", 0.6209, 0.576, 0.424, 0.0);
}

#[test]
fn sentiment_rule_question_marks() {
    py("Is the food good?", 0.4404, 0.492, 0.508, 0.0);
    py("Is the food good??", 0.504, 0.521, 0.479, 0.0);
    py("Is the food good????", 0.594, 0.563, 0.437, 0.0);
}

#[test]
fn sentiment_rule_emoticons() {
    py("I failed my test :(", -0.7351, 0.0, 0.326, 0.674);
    // ":D" is a lexicon key with an upper-case letter, so it never matches.
    py("Make sure you :) or :D today!", 0.8633, 0.706, 0.294, 0.0);
}

#[test]
fn sentiment_rule_emoji_translation() {
    py(
        "Catch utf-8 emoji such as 💘 and 💋 and 😁",
        0.875,
        0.417,
        0.583,
        0.0,
    );
    py("great😁", 0.7964, 0.64, 0.36, 0.0);
}

#[test]
fn sentiment_rule_least() {
    py("It is the least good option", -0.3412, 0.0, 0.675, 0.325);
    py("At least it is good", 0.4404, 0.42, 0.58, 0.0);
    py("least good", -0.3412, 0.0, 0.294, 0.706);
}

#[test]
fn sentiment_rule_no() {
    py("no good", -0.3412, 0.0, 0.294, 0.706);
    py("There is no love or hate", -0.0951, 0.289, 0.386, 0.325);
    py("no", -0.296, 0.0, 0.0, 1.0);
}

#[test]
fn sentiment_rule_never_so_this() {
    py("It has never been so good", 0.5777, 0.428, 0.572, 0.0);
    py("It was never so good", 0.6626, 0.525, 0.475, 0.0);
}

#[test]
fn sentiment_rule_without_doubt() {
    py(
        "Without a doubt, an excellent idea.",
        0.7013,
        0.592,
        0.408,
        0.0,
    );
    py("without doubt good", 0.6136, 0.834, 0.166, 0.0);
}

#[test]
fn sentiment_rule_special_case_idioms() {
    py("This party is the bomb", -0.128, 0.303, 0.337, 0.36);
    py("yeah right, great", 0.743, 0.863, 0.137, 0.0);
    py("The food is to die for", -0.5994, 0.0, 0.562, 0.438);
}

#[test]
fn sentiment_rule_punctuation_stripping() {
    py("good, great.", 0.7906, 1.0, 0.0, 0.0);
    // "no," keeps its comma (stripped form has ≤ 2 chars): not the word "no".
    py("no, good", 0.4404, 0.744, 0.256, 0.0);
    py(":-) good", 0.6369, 1.0, 0.0, 0.0);
}

#[test]
fn sentiment_rule_empty_text() {
    py("", 0.0, 0.0, 0.0, 0.0);
    py("   ", 0.0, 0.0, 0.0, 0.0);
}

#[test]
fn sentiment_rule_proportions() {
    py("good bad ugly the cat", -0.5994, 0.248, 0.171, 0.581);
}

// ---- parity with the Python reference ----

#[test]
fn sentiment_vader_parity_fixture() {
    let path = format!("{FIXTURES}/vader_parity.jsonl");
    let src = std::fs::read_to_string(&path).expect("parity fixture");
    let a = SentimentAnalyzer::vader();
    let mut scratch = Scratch::default();
    let (mut total, mut within, mut exact) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for line in src.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("fixture line");
        let text = v["text"].as_str().expect("text");
        let want = [
            v["compound"].as_f64().unwrap(),
            v["pos"].as_f64().unwrap(),
            v["neu"].as_f64().unwrap(),
            v["neg"].as_f64().unwrap(),
        ];
        let p = a.polarity(text, &mut scratch);
        let got = [p.compound, p.pos, p.neu, p.neg];
        total += 1;
        if (got[0] - want[0]).abs() <= 0.0005 {
            within += 1;
        } else if mismatches.len() < 10 {
            mismatches.push(format!("{text:?}: rust {got:?} python {want:?}"));
        }
        if got == want {
            exact += 1;
        }
    }
    let rate = within as f64 / total as f64;
    println!(
        "VADER parity: {within}/{total} within 0.0005 of compound ({:.3} %), {exact}/{total} \
         identical in all four scores; mismatch rate {:.3} %",
        100.0 * rate,
        100.0 * (1.0 - rate)
    );
    for m in &mismatches {
        println!("  mismatch: {m}");
    }
    assert!(total >= 5000, "fixture has only {total} sentences");
    assert!(rate >= 0.995, "parity {:.3} % < 99.5 %", 100.0 * rate);
}

// ---- telco mode vs vader mode on the labelled set ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Neg,
    Neu,
    Pos,
}

fn label_of(compound: f64) -> Label {
    if compound >= 0.05 {
        Label::Pos
    } else if compound <= -0.05 {
        Label::Neg
    } else {
        Label::Neu
    }
}

/// (accuracy, macro-F1, per-class F1 neg/neu/pos)
fn evaluate(a: &SentimentAnalyzer, data: &[(String, Label)]) -> (f64, f64, [f64; 3]) {
    let classes = [Label::Neg, Label::Neu, Label::Pos];
    let mut conf = [[0usize; 3]; 3]; // [truth][predicted]
    let idx = |l: Label| classes.iter().position(|&c| c == l).unwrap();
    for (text, truth) in data {
        let pred = label_of(compound(a, text));
        conf[idx(*truth)][idx(pred)] += 1;
    }
    let correct: usize = (0..3).map(|k| conf[k][k]).sum();
    let mut f1 = [0.0; 3];
    for k in 0..3 {
        let tp = conf[k][k] as f64;
        let fp: f64 = (0..3).filter(|&t| t != k).map(|t| conf[t][k] as f64).sum();
        let fneg: f64 = (0..3).filter(|&p| p != k).map(|p| conf[k][p] as f64).sum();
        let prec = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let rec = if tp + fneg > 0.0 {
            tp / (tp + fneg)
        } else {
            0.0
        };
        f1[k] = if prec + rec > 0.0 {
            2.0 * prec * rec / (prec + rec)
        } else {
            0.0
        };
    }
    (
        correct as f64 / data.len() as f64,
        f1.iter().sum::<f64>() / 3.0,
        f1,
    )
}

fn telco_labelled() -> Vec<(String, Label)> {
    let path = format!("{FIXTURES}/telco_labelled.jsonl");
    let src = std::fs::read_to_string(&path).expect("telco labelled set");
    src.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("labelled line");
            let label = match v["label"].as_str().expect("label") {
                "negative" => Label::Neg,
                "neutral" => Label::Neu,
                "positive" => Label::Pos,
                other => panic!("unknown label {other}"),
            };
            (v["text"].as_str().unwrap().to_string(), label)
        })
        .collect()
}

#[test]
fn sentiment_telco_beats_vader_on_labelled_set() {
    let data = telco_labelled();
    let count = |l: Label| data.iter().filter(|(_, x)| *x == l).count();
    let (neg, neu, pos) = (count(Label::Neg), count(Label::Neu), count(Label::Pos));
    println!(
        "telco labelled set: {} mentions ({neg} negative, {neu} neutral, {pos} positive)",
        data.len()
    );
    let vader = SentimentAnalyzer::vader();
    let telco = SentimentAnalyzer::default();
    let (va, vf, vc) = evaluate(&vader, &data);
    let (ta, tf, tc) = evaluate(&telco, &data);
    println!(
        "vader mode: accuracy {:.1} %, macro-F1 {:.3} (F1 neg {:.3} neu {:.3} pos {:.3})",
        100.0 * va,
        vf,
        vc[0],
        vc[1],
        vc[2]
    );
    println!(
        "telco mode: accuracy {:.1} %, macro-F1 {:.3} (F1 neg {:.3} neu {:.3} pos {:.3})",
        100.0 * ta,
        tf,
        tc[0],
        tc[1],
        tc[2]
    );
    assert!(data.len() >= 300);
    assert!(neg > 0 && neu > 0 && pos > 0);
    assert!(ta > va, "telco accuracy {ta} <= vader {va}");
    assert!(tf > vf, "telco macro-F1 {tf} <= vader {vf}");
}

// ---- telco rules ----

#[test]
fn sentiment_telco_phrases_read_outages_as_negative() {
    let vader = SentimentAnalyzer::vader();
    let telco = SentimentAnalyzer::default();
    for text in [
        "broadband is down",
        "no service for 3 days",
        "engineer never turned up",
        "still waiting for a callback",
        "my line has been cut off",
        "wifi keeps dropping",
    ] {
        let (v, t) = (compound(&vader, text), compound(&telco, text));
        assert!(t <= -0.05, "{text:?}: telco {t}");
        assert!(t < v, "{text:?}: telco {t} vs vader {v}");
    }
}

#[test]
fn sentiment_telco_sarcasm_after_complaint() {
    let telco = SentimentAnalyzer::default();
    let sarcastic = "Broadband has been down since Monday. Thanks a lot BT";
    assert!(compound(&telco, sarcastic) < -0.5);
    assert!(compound(&SentimentAnalyzer::vader(), sarcastic) > 0.0);
    // Genuine thanks, no complaint: still positive.
    assert!(compound(&telco, "Thanks a lot BT, the engineer was brilliant") > 0.5);
    // Resolution after "but": not sarcasm.
    assert!(
        compound(
            &telco,
            "It was down all day but thanks for fixing it so quickly"
        ) > 0.0
    );
}

#[test]
fn sentiment_telco_emoji_and_negated_phrase() {
    let telco = SentimentAnalyzer::default();
    assert!(compound(&telco, "my bill 😡") < -0.5);
    assert_eq!(compound(&SentimentAnalyzer::vader(), "my bill 😡"), 0.0);
    assert!(compound(&telco, "speeds are great 👍") > 0.6);
    // A negation before a phrase flips it, as for a lexicon word.
    assert!(compound(&telco, "I have not been cut off") > 0.0);
    // Requests are not praise.
    let req = "Please help, can you check my account";
    assert!(compound(&SentimentAnalyzer::vader(), req) > 0.5);
    assert_eq!(compound(&telco, req), 0.0);
}

#[test]
fn sentiment_telco_rules_from_config() {
    let rules: TelcoRules = serde_json::from_str(
        r#"{"phrases": {"router on fire": -3.0}, "emoji": {"🔥": -2.0}, "words": {}}"#,
    )
    .unwrap();
    let a = SentimentAnalyzer::new(SentimentMode::Telco, rules).unwrap();
    assert!(compound(&a, "my router on fire") < -0.5);
    assert!(compound(&a, "🔥🔥") < -0.5);
    // "outage" is a built-in *word*; the config replaced the words map.
    assert_eq!(compound(&a, "outage"), 0.0);
    let mode: SentimentMode = serde_json::from_str(r#""vader""#).unwrap();
    assert_eq!(mode, SentimentMode::Vader);
    assert_eq!(SentimentMode::default(), SentimentMode::Telco);
}

// ---- Arrow operator ----

#[test]
fn sentiment_score_batch_appends_columns() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("mention_id", DataType::Utf8, false),
        Field::new(crate::schema::col::TEXT, DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["1", "2", "3"])),
            Arc::new(StringArray::from(vec![
                Some("The book was good."),
                None,
                Some("my broadband is down again"),
            ])),
        ],
    )
    .unwrap();
    let out = SentimentAnalyzer::vader().process_batch(&batch).unwrap();
    assert_eq!(out.num_columns(), 6);
    let c = out
        .column_by_name(SENTIMENT_COMPOUND)
        .unwrap()
        .as_primitive::<arrow::datatypes::Float32Type>();
    assert_eq!(c.value(0), 0.4404f32);
    assert!(c.is_null(1));
    for name in OUTPUT_COLUMNS {
        assert_eq!(
            out.schema().field_with_name(name).unwrap().data_type(),
            &DataType::Float32
        );
    }
    // Re-scoring replaces rather than duplicates the columns.
    let again = SentimentAnalyzer::default().process_batch(&out).unwrap();
    assert_eq!(again.num_columns(), 6);
    let c = again
        .column_by_name(SENTIMENT_COMPOUND)
        .unwrap()
        .as_primitive::<arrow::datatypes::Float32Type>();
    assert!(c.value(2) < -0.05);

    let no_text = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec!["a"]))],
    )
    .unwrap();
    assert!(SentimentAnalyzer::vader().process_batch(&no_text).is_err());
}

#[test]
fn sentiment_score_matches_score_with() {
    let a = SentimentAnalyzer::default();
    let mut s = Scratch::default();
    for t in ["", "Great 😡!!", "NO SERVICE", "kind of fine but not"] {
        assert_eq!(a.score(t), a.score_with(t, &mut s));
    }
}

// ---- robustness ----

fn interesting_text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "good", "BAD", "not", "n't", "no", "but", "BUT", "kind", "of", "least", "at", "very",
        "never", "so", "this", "without", "doubt", "the", "shit", "bomb", "!", "?", ":)", ":D",
        "😡", "😁", "👍🏽", "🇬🇧", "\u{200d}", "\u{a0}", "\u{1c}", "İ", "ǅ", "Σ", "K", "is", "down",
        "thanks", "a", "lot", "for", "3", "days", "still", "waiting", " ", "\t", "",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sentiment_arbitrary_unicode_never_panics(text in any::<String>()) {
        for a in [SentimentAnalyzer::vader(), SentimentAnalyzer::default()] {
            let s = a.score(&text);
            prop_assert!((-1.0..=1.0).contains(&s.compound));
            for x in [s.pos, s.neu, s.neg] {
                prop_assert!((0.0..=1.0).contains(&x));
            }
        }
    }

    #[test]
    fn sentiment_rule_soup_never_panics(text in interesting_text()) {
        for a in [SentimentAnalyzer::vader(), SentimentAnalyzer::default()] {
            let s = a.score(&text);
            prop_assert!(s.compound.is_finite() && (-1.0..=1.0).contains(&s.compound));
        }
    }
}
