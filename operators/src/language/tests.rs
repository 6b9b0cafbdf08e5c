//! Tests of the language operator.

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use proptest::prelude::*;

use super::*;

fn det() -> LanguageDetector {
    LanguageDetector::new(&LanguageConfig::default()).unwrap()
}

#[test]
fn given_language_is_trusted_and_normalised() {
    let d = det();
    let v = d.detect("bonjour tout le monde, rien ne marche", Some("en-GB"));
    assert_eq!(
        (v.lang.as_str(), v.source, v.is_english),
        ("en", LangSource::Given, true)
    );
    let v = d.detect("hello", Some("ES"));
    assert_eq!(
        (v.lang.as_str(), v.source, v.is_english),
        ("es", LangSource::Given, false)
    );
    assert_eq!(d.detect("x", Some("in")).lang, "id");
    assert_eq!(d.detect("x", Some("cym")).lang, "cy");
    assert_eq!(d.detect("x", Some("haw")).lang, "haw"); // unknown to whatlang, kept as given
}

#[test]
fn missing_or_non_language_codes_are_detected() {
    let d = det();
    for given in [
        None,
        Some("und"),
        Some("qme"),
        Some(""),
        Some("zxx"),
        Some("12"),
    ] {
        let v = d.detect(
            "Od trzech dni nie mam internetu, kiedy to zostanie naprawione?",
            given,
        );
        assert_eq!(
            (v.lang.as_str(), v.source, v.is_english),
            ("pl", LangSource::Detected, false),
            "{given:?}"
        );
        assert!(v.confidence >= 0.3);
    }
    let v = d.detect(
        "@EE my broadband has been down since yesterday, any update please?",
        None,
    );
    assert_eq!(
        (v.lang.as_str(), v.source, v.is_english),
        ("en", LangSource::Detected, true)
    );
}

#[test]
fn short_texts_are_undetermined_and_scored_as_default() {
    let d = det();
    for t in ["@EE ??", "lol", "👍👍", "", "@O2 #fail https://t.co/x 999"] {
        let v = d.detect(t, None);
        assert_eq!(
            (v.lang.as_str(), v.source, v.is_english),
            ("und", LangSource::Undetermined, true),
            "{t}"
        );
    }
    let cy = LanguageDetector::new(&LanguageConfig {
        default_lang: "cy".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(!cy.detect("lol", None).is_english);
    let off = LanguageDetector::new(&LanguageConfig {
        detect_when_missing: false,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        off.detect("Od trzech dni nie mam internetu", None).source,
        LangSource::Undetermined
    );
}

#[test]
fn candidate_languages_restrict_detection() {
    let cfg = LanguageConfig {
        candidate_langs: vec!["en".into(), "cym".into()],
        ..Default::default()
    };
    let d = LanguageDetector::new(&cfg).unwrap();
    assert_eq!(
        d.detect("Diolch yn fawr iawn am eich help heddiw", None)
            .lang,
        "cy"
    );
    assert_eq!(d.detect("my internet is down again today", None).lang, "en");
    let bad = LanguageConfig {
        candidate_langs: vec!["klingon".into()],
        ..Default::default()
    };
    let err = LanguageDetector::new(&bad).unwrap_err().to_string();
    assert!(err.contains("language.candidate_langs[0]"), "{err}");
    let bad = LanguageConfig {
        min_confidence: 2.0,
        ..Default::default()
    };
    assert!(LanguageDetector::new(&bad)
        .unwrap_err()
        .to_string()
        .contains("language.min_confidence"));
}

#[test]
fn config_round_trips() {
    let cfg = LanguageConfig {
        candidate_langs: vec!["en".into(), "pl".into()],
        ..Default::default()
    };
    let back: LanguageConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(cfg, back);
    assert!(serde_json::from_str::<LanguageConfig>(r#"{"min_conf": 0.5}"#).is_err());
    let partial: LanguageConfig = serde_json::from_str(r#"{"min_confidence": 0.5}"#).unwrap();
    assert_eq!(partial.default_lang, "en");
}

#[test]
fn batch_appends_columns() {
    let schema = Arc::new(Schema::new(vec![
        Field::new(col::TEXT, DataType::Utf8, true),
        Field::new(col::LANG, DataType::Utf8, true),
    ]));
    let text = StringArray::from(vec![
        Some("Llevo tres días sin internet y nadie me da una solución"),
        Some("whatever"),
        Some("lol"),
        None,
    ]);
    let lang = StringArray::from(vec![None, Some("fr"), Some("und"), None]);
    let batch = RecordBatch::try_new(schema, vec![Arc::new(text), Arc::new(lang)]).unwrap();
    let out = det().process_batch(&batch).unwrap();
    let l = out
        .column_by_name(col::LANGUAGE)
        .unwrap()
        .as_string::<i32>();
    let e = out.column_by_name(col::IS_ENGLISH).unwrap().as_boolean();
    let s = out
        .column_by_name(col::LANGUAGE_SOURCE)
        .unwrap()
        .as_string::<i32>();
    assert_eq!(
        (l.value(0), e.value(0), s.value(0)),
        ("es", false, "detected")
    );
    assert_eq!((l.value(1), e.value(1), s.value(1)), ("fr", false, "given"));
    assert_eq!(
        (l.value(2), e.value(2), s.value(2)),
        ("und", true, "undetermined")
    );
    assert_eq!(
        (l.value(3), e.value(3), s.value(3)),
        ("und", true, "undetermined")
    );
    assert_eq!(l.null_count() + e.null_count() + s.null_count(), 0);
    // Without a lang column everything is detected.
    let only_text = batch.project(&[0]).unwrap();
    let out = det().process_batch(&only_text).unwrap();
    assert_eq!(
        out.column_by_name(col::LANGUAGE)
            .unwrap()
            .as_string::<i32>()
            .value(1),
        "und"
    );
}

/// Correct verdicts of `d` on the committed, labelled examples: (right,
/// total, one line per miss).
fn fixture_score(d: &LanguageDetector) -> (usize, usize, Vec<String>) {
    let data = include_str!("../../tests/fixtures/language_examples.jsonl");
    let (mut total, mut right) = (0, 0);
    let mut misses = Vec::new();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let want = v["expected"].as_str().unwrap();
        let got = d.detect(text, v["lang"].as_str());
        total += 1;
        if got.lang == want && got.is_english == (want == "en" || want == "und") {
            right += 1;
        } else {
            misses.push(format!(
                "  want {want}, got {} ({:?}, {:.2}): {text}",
                got.lang, got.source, got.confidence
            ));
        }
    }
    (right, total, misses)
}

/// Accuracy on the committed, labelled examples.
#[test]
fn fixture_accuracy() {
    let (right, total, misses) = fixture_score(&det());
    let acc = right as f64 / total as f64;
    println!(
        "language fixture: {right}/{total} correct = {:.1}% accuracy",
        acc * 100.0
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(total >= 40);
    assert!(acc >= 0.90, "accuracy {acc:.3} below 0.90");
}

/// The default Latin-script shortlist is no less accurate on the
/// labelled examples than scoring all 37 Latin-script languages.
#[test]
fn latin_shortlist_keeps_fixture_accuracy() {
    let all = LanguageDetector::new(&LanguageConfig {
        latin_langs: Vec::new(),
        ..Default::default()
    })
    .unwrap();
    let (short, total, _) = fixture_score(&det());
    let (every, _, misses) = fixture_score(&all);
    println!("shortlist {short}/{total}, all Latin languages {every}/{total}");
    for m in &misses {
        println!("{m}");
    }
    assert!(short >= every, "shortlist {short} < all {every} of {total}");
}

#[test]
fn latin_langs_restrict_only_the_latin_script() {
    let d = LanguageDetector::new(&LanguageConfig {
        latin_langs: vec!["en".into(), "cym".into()],
        english_prior: false,
        ..Default::default()
    })
    .unwrap();
    // Spanish is not a candidate any more: never detected as such.
    let es = d.detect(
        "Llevo tres días sin internet y nadie me da una solución",
        None,
    );
    assert_ne!(es.lang, "es");
    assert_eq!(
        d.detect("Diolch yn fawr iawn am eich help heddiw", None)
            .lang,
        "cy"
    );
    // Other scripts keep all their languages: the same verdicts as
    // with every Latin-script language allowed.
    let all = LanguageDetector::new(&LanguageConfig {
        latin_langs: Vec::new(),
        english_prior: false,
        ..Default::default()
    })
    .unwrap();
    for text in [
        "У меня уже три дня нет интернета, помогите",
        "Мене вже три дні немає інтернету, допоможіть будь ласка",
        "الإنترنت مقطوع منذ ثلاثة أيام ولا أحد يرد",
        "میرا انٹرنیٹ تین دن سے بند ہے، کوئی جواب نہیں دیتا",
        "तीन दिन से इंटरनेट नहीं चल रहा है कृपया मदद करें",
    ] {
        let (got, want) = (d.detect(text, None), all.detect(text, None));
        assert_ne!(got.lang, UNDETERMINED, "{text}");
        assert_eq!(got.lang, want.lang, "{text}");
        assert!(!got.is_english, "{text}");
    }
    // The default shortlist still tells Spanish.
    assert_eq!(
        det()
            .detect(
                "Llevo tres días sin internet y nadie me da una solución",
                None
            )
            .lang,
        "es"
    );
    let bad = LanguageDetector::new(&LanguageConfig {
        latin_langs: vec!["en".into(), "ru".into()],
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("language.latin_langs[1]") && bad.contains("Latin"),
        "{bad}"
    );
    let bad = LanguageDetector::new(&LanguageConfig {
        latin_langs: vec!["xx-klingon".into()],
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(bad.contains("language.latin_langs[0]"), "{bad}");
}

/// The packed marker lookup gives the verdicts of the plain scan.
fn marker_by_scan(w: &str) -> bool {
    ENGLISH_MARKERS.iter().any(|m| {
        m.eq_ignore_ascii_case(w)
            || (w.contains('\u{2019}') && m.eq_ignore_ascii_case(&w.replace('\u{2019}', "'")))
    })
}

#[test]
fn marker_lookup_matches_scan() {
    let packed = packed_markers();
    for m in ENGLISH_MARKERS {
        for w in [
            m.to_string(),
            m.to_ascii_uppercase(),
            m.replace('\'', "\u{2019}"),
        ] {
            if w.len() <= 8 {
                assert_eq!(is_english_marker(&w, packed), marker_by_scan(&w), "{w}");
                assert!(is_english_marker(&w, packed), "{w}");
            }
        }
    }
    for w in [
        "a",
        "i",
        "thé",
        "theé",
        "dont’",
        "don’t’",
        "İt",
        "ıt",
        "x",
        "wasn’t",
        "mY",
    ] {
        if w.len() <= 8 {
            assert_eq!(is_english_marker(w, packed), marker_by_scan(w), "{w}");
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}", lang in proptest::option::of("\\PC{0,8}")) {
        let v = det().detect(&text, lang.as_deref());
        prop_assert!(!v.lang.is_empty());
        for w in text.split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '\u{2019}')) {
            if !w.is_empty() && w.len() <= 8 {
                prop_assert_eq!(is_english_marker(w, packed_markers()), marker_by_scan(w));
            }
        }
        prop_assert!((0.0..=1.0).contains(&v.confidence));
    }
}
