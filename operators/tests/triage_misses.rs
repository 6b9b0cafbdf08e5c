//! One test per class of miss in issue 26, on our own examples (written
//! for these tests, not held-out text), plus a proptest that no text makes
//! the classifier or the severity panic. Each verdict is judged as
//! `switchboard score` judges a lone mention (tests/support/triage_eval.rs).

mod support;

use proptest::prelude::*;
use support::triage_eval::Triage;
use switchboard_operators::severity::SeverityLevel;

/// One triage for the whole file (building it per proptest case is slow in
/// a debug build).
fn triage() -> &'static Triage {
    static T: std::sync::OnceLock<Triage> = std::sync::OnceLock::new();
    T.get_or_init(Triage::default)
}

fn high(level: SeverityLevel) -> bool {
    matches!(level, SeverityLevel::P1 | SeverityLevel::P2)
}

#[test]
fn everyday_outage_words_reach_technical_support() {
    let t = triage();
    for text in [
        "@brand total blackout at my place since this morning",
        "@brand my wifi keeps cutting out every half hour, ridiculous",
        "@brand why is my internet out?? can't connect on any device",
        "@brand is the internet down in Leeds? nothing works here",
        "@brand dropped calls all day in the city centre",
    ] {
        let v = t.judge(text);
        assert_eq!(v.queue, "technical-support", "{text}: {v:?}");
        assert!(
            !v.evidence.is_empty(),
            "a verdict carries its phrases: {v:?}"
        );
    }
    // A complete loss is urgent on its own.
    let v = t.judge("@brand total blackout at my place since this morning");
    assert!(high(v.severity), "{v:?}");
}

#[test]
fn stated_repetition_is_urgency() {
    let t = triage();
    let v = t.judge("@brand internet down AGAIN, 5th time this month");
    assert!(high(v.severity), "{v:?}");
    assert!(
        v.reasons.iter().any(|r| r.contains("repetition stated")),
        "{:?}",
        v.reasons
    );
    let v = t.judge("@brand the connection has been dropping every day for 3 days now");
    assert!(high(v.severity), "{v:?}");
}

#[test]
fn sarcasm_never_lowers_a_fault() {
    let t = triage();
    let v = t.judge("@brand no service again. Thank goodness for @brand, great service... not");
    assert_eq!(v.queue, "technical-support", "{v:?}");
    assert_eq!(v.polarity, "negative", "{v:?}");
    assert!(high(v.severity), "{v:?}");
    assert!(
        !v.reasons.iter().any(|r| r.starts_with('-')),
        "no reason lowers a fault: {:?}",
        v.reasons
    );
}

#[test]
fn paying_for_a_speed_is_a_fault_not_a_bill() {
    let t = triage();
    let v = t.judge("@brand paying for 200mbps and getting 10!");
    assert_eq!(v.queue, "technical-support", "{v:?}");
    assert_eq!(v.polarity, "negative", "{v:?}");
}

#[test]
fn love_of_god_is_not_praise() {
    let t = triage();
    let v = t.judge("@brand for the love of god change your hold music");
    assert_ne!(v.category, "praise", "{v:?}");
    assert_ne!(v.polarity, "positive", "{v:?}");
}

#[test]
fn deliver_a_service_is_not_a_parcel() {
    let t = triage();
    let v = t.judge("@brand you fail to deliver a decent service, signal is awful");
    assert_ne!(v.queue, "orders-delivery", "{v:?}");
    // The parcel sense still is delivery.
    let v = t.judge("@brand when will you deliver my order? the parcel is late");
    assert_eq!(v.queue, "orders-delivery", "{v:?}");
}

#[test]
fn legal_threats_are_urgent() {
    let t = triage();
    let v = t.judge("@brand stop calling me or I will sue you");
    assert_eq!(v.queue, "complaints-escalation", "{v:?}");
    assert!(high(v.severity), "{v:?}");
}

#[test]
fn hardship_is_urgent() {
    let t = triage();
    let v = t.judge(
        "@brand the storm destroyed our house, I called you three times and you still sent a bill",
    );
    assert_eq!(v.queue, "billing", "{v:?}");
    assert!(high(v.severity), "{v:?}");
    assert!(
        v.reasons.iter().any(|r| r.contains("vulnerability")),
        "{:?}",
        v.reasons
    );
}

#[test]
fn intents_cancel_move_and_order_status() {
    let t = triage();
    let v = t.judge("@brand I want to cancel my account, I'm moving house next month");
    assert_eq!(v.queue, "retention", "{v:?}");
    let v = t.judge("@brand what's the order status of my new phone? it shipped a week ago");
    assert_eq!(v.queue, "orders-delivery", "{v:?}");
}

#[test]
fn polite_complaints_read_negative() {
    let t = triage();
    for text in [
        "@brand your reps are lovely but please get my internet working, it has been out since Monday",
        "@brand thanks for the reply, still no signal though",
    ] {
        let v = t.judge(text);
        assert_eq!(v.polarity, "negative", "{text}: {v:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_text_makes_triage_panic(text in "\\PC{0,300}") {
        let t = triage();
        let _ = t.judge(&text);
    }

    #[test]
    fn no_phrase_soup_makes_triage_panic(
        words in proptest::collection::vec(
            prop_oneof![
                Just("again"), Just("5th"), Just("time"), Just("200mbps"), Just("’"),
                Just("no"), Just("service"), Just("é"), Just("🙄"), Just("sue"),
                Just("for"), Just("3"), Just("days"), Just("\u{0}"), Just("hurricane"),
                Just("deliver"), Just("love"), Just("thank goodness"), Just("$"),
            ],
            0..40,
        )
    ) {
        let t = triage();
        let _ = t.judge(&words.join(" "));
    }
}
