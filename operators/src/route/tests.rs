//! Tests of the routing operator.

use super::*;
use arrow::array::{StringArray, UInt8Array};

/// A batch with the given optional string columns (and `priority` if given).
fn batch(cols: &[(&str, Vec<Option<&str>>)], priority: Option<Vec<u8>>) -> RecordBatch {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, values) in cols {
        if *name == crate::schema::col::CUSTOMER_VULNERABLE {
            let v: Vec<Option<bool>> = values.iter().map(|v| v.map(|s| s == "true")).collect();
            fields.push(Field::new(*name, DataType::Boolean, true));
            arrays.push(Arc::new(BooleanArray::from(v)));
        } else {
            fields.push(Field::new(*name, DataType::Utf8, true));
            arrays.push(Arc::new(StringArray::from(values.clone())));
        }
    }
    if let Some(p) = priority {
        fields.push(Field::new("priority", DataType::UInt8, false));
        arrays.push(Arc::new(UInt8Array::from(p)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn rule(name: &str, when: &str, queue: &str) -> RouteRule {
    RouteRule {
        name: name.into(),
        when: when.into(),
        queue: queue.into(),
    }
}

fn router(rules: Vec<RouteRule>) -> Router {
    Router::new(&RouteConfig {
        rules,
        ..Default::default()
    })
    .unwrap()
}

fn routed(r: &Router, b: &RecordBatch) -> Vec<(String, String)> {
    let out = r.process_batch(b).unwrap();
    let q = out.column_by_name(col::QUEUE).unwrap().as_string::<i32>();
    let n = out
        .column_by_name(col::ROUTE_RULE)
        .unwrap()
        .as_string::<i32>();
    (0..out.num_rows())
        .map(|i| (q.value(i).to_owned(), n.value(i).to_owned()))
        .collect()
}

fn pair(q: &str, r: &str) -> (String, String) {
    (q.to_owned(), r.to_owned())
}

#[test]
fn wholesale_rule_with_dotted_name() {
    let r = router(vec![rule(
        "wholesale",
        "customer.segment = 'wholesale'",
        "wholesale-liaison",
    )]);
    let b = batch(
        &[
            ("category", vec![Some("billing"), Some("billing")]),
            (
                "customer_segment",
                vec![Some("wholesale"), Some("consumer")],
            ),
        ],
        None,
    );
    assert_eq!(
        routed(&r, &b),
        [
            pair("wholesale-liaison", "wholesale"),
            pair("billing", "default")
        ]
    );
}

#[test]
fn p1_vulnerable_rule_and_first_match_wins() {
    let r = router(vec![
        rule(
            "vulnerable-p1",
            "severity = 'P1' AND customer.vulnerable",
            "priority-care",
        ),
        rule("any-p1", "severity = 'P1'", "triage"),
        rule("high", "priority >= 50", "high-queue"),
    ]);
    let b = batch(
        &[
            (
                "category",
                vec![
                    Some("broadband_fault"),
                    Some("billing"),
                    Some("billing"),
                    None,
                ],
            ),
            (
                "severity",
                vec![Some("P1"), Some("P1"), Some("P2"), Some("P4")],
            ),
            (
                "customer_vulnerable",
                vec![Some("true"), None, Some("true"), None],
            ),
        ],
        Some(vec![90, 80, 55, 0]),
    );
    assert_eq!(
        routed(&r, &b),
        [
            pair("priority-care", "vulnerable-p1"),
            pair("triage", "any-p1"),
            pair("high-queue", "high"),
            pair("social-engagement", "default"),
        ]
    );
}

#[test]
fn plain_and_other_dotted_names_compile() {
    for when in [
        "customer_segment = 'business' OR customer.tier = 'premier'",
        "author.followers > 10000 AND author.verified",
        "identity.matched AND sentiment.compound < -0.5",
        "channel IN ('twitter', 'facebook') AND language = 'en'",
        "category LIKE '%fault' AND incident_id IS NULL",
        "event_time > '2026-01-01T00:00:00Z' AND NOT is_retweet",
        "CASE WHEN priority > 50 THEN true ELSE false END",
        "segment = 'wholesale'",
    ] {
        Router::new(&RouteConfig {
            rules: vec![rule("r", when, "q")],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{when}: {e}"));
    }
}

#[test]
fn bad_predicates_name_the_rule() {
    for (when, needle) in [
        ("severity = = 'P1'", ""),
        ("customer.shoe_size > 3", "shoe_size"),
        ("no_such_column", "no_such_column"),
        ("priority + 1", "expected a boolean"),
        ("category", "expected a boolean"),
        ("count(*) > 1", "aggregate"),
        ("priority > (SELECT 1)", ""),
        ("   ", "empty"),
    ] {
        let err = Router::new(&RouteConfig {
            rules: vec![rule("ok", "true", "q"), rule("broken-rule", when, "q")],
            ..Default::default()
        })
        .unwrap_err();
        let OperatorError::Config { key, reason } = err else {
            panic!("{when}: {err:?}")
        };
        assert_eq!(key, "route.rules[1].when", "{when}");
        assert!(
            reason.starts_with("rule `broken-rule`: "),
            "{when}: {reason}"
        );
        assert!(reason.contains(needle), "{when}: {reason}");
        assert!(!reason.contains("Valid fields"), "{reason}");
    }
}

#[test]
fn config_errors_name_the_key() {
    let key = |c: RouteConfig| match Router::new(&c) {
        Err(OperatorError::Config { key, .. }) => key,
        other => panic!("{other:?}"),
    };
    let c = RouteConfig {
        rules: vec![rule("a", "true", "q"), rule("a", "true", "q")],
        ..Default::default()
    };
    assert_eq!(key(c), "route.rules[1].name");
    let c = RouteConfig {
        rules: vec![rule("default", "true", "q")],
        ..Default::default()
    };
    assert_eq!(key(c), "route.rules[0].name");
    let c = RouteConfig {
        rules: vec![rule("a", "true", "")],
        ..Default::default()
    };
    assert_eq!(key(c), "route.rules[0].queue");
    let mut c = RouteConfig::default();
    c.default_queues.insert("weather".into(), "q".into());
    assert_eq!(key(c), "route.default_queues.weather");
    let c = RouteConfig {
        wholesale_fault_categories: vec!["faults".into()],
        ..Default::default()
    };
    assert_eq!(key(c), "route.wholesale_fault_categories[0]");
}

#[test]
fn config_deserializes_and_overrides_merge_with_the_spec_table() {
    let c: RouteConfig = serde_json::from_str(
        r#"{"rules":[{"name":"w","when":"customer.segment = 'wholesale'","queue":"wl"}],
            "default_queues":{"billing":"billing-team"}}"#,
    )
    .unwrap();
    assert_eq!(c.incident_queue, "network-operations");
    let r = Router::new(&c).unwrap();
    assert_eq!(r.rule_names().collect::<Vec<_>>(), ["w"]);
    assert_eq!(r.default_queue(Some("billing"), None, None), "billing-team");
    assert_eq!(
        r.default_queue(Some("delivery"), None, None),
        "orders-delivery"
    );
    assert!(serde_json::from_str::<RouteConfig>(r#"{"rulez":[]}"#).is_err());
    assert!(serde_json::from_str::<RouteConfig>(
        r#"{"rules":[{"name":"a","when":"true","queue":"q","x":1}]}"#
    )
    .is_err());
}

#[test]
fn default_taxonomy_table() {
    let r = router(Vec::new());
    // (category, incident_id, customer_segment, queue)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);
    let cases: &[Case] = &[
        (Some("network_outage"), None, None, "technical-support"),
        (
            Some("network_outage"),
            Some("inc-1"),
            None,
            "network-operations",
        ),
        (
            Some("network_outage"),
            Some("inc-1"),
            Some("wholesale"),
            "network-operations",
        ),
        (
            Some("network_outage"),
            None,
            Some("wholesale"),
            "wholesale-liaison",
        ),
        (Some("broadband_fault"), None, None, "technical-support"),
        // A broadband fault in an incident is the incident's (the detector
        // counts both fault categories).
        (
            Some("broadband_fault"),
            Some("inc-1"),
            None,
            "network-operations",
        ),
        (
            Some("broadband_fault"),
            None,
            Some("wholesale"),
            "wholesale-liaison",
        ),
        (Some("engineer_appointment"), None, None, "field-service"),
        (
            Some("engineer_appointment"),
            None,
            Some("wholesale"),
            "wholesale-liaison",
        ),
        (Some("billing"), None, Some("wholesale"), "billing"),
        (Some("account_access"), None, None, "account-support"),
        (Some("switching_cancellation"), None, None, "retention"),
        (Some("delivery"), None, None, "orders-delivery"),
        (
            Some("complaint_escalation"),
            None,
            None,
            "complaints-escalation",
        ),
        (Some("praise"), None, Some("business"), "social-engagement"),
        (Some("general_enquiry"), None, None, "social-engagement"),
        (Some("weather"), None, None, "social-engagement"),
        (None, None, None, "social-engagement"),
    ];
    for &(cat, inc, seg, want) in cases {
        assert_eq!(
            r.default_queue(cat, inc, seg),
            want,
            "{cat:?} {inc:?} {seg:?}"
        );
    }
    // The same through a batch.
    let b = batch(
        &[
            ("category", cases.iter().map(|c| c.0).collect()),
            ("incident_id", cases.iter().map(|c| c.1).collect()),
            ("customer_segment", cases.iter().map(|c| c.2).collect()),
        ],
        None,
    );
    let got: Vec<_> = routed(&r, &b).into_iter().map(|(q, _)| q).collect();
    let want: Vec<_> = cases.iter().map(|c| c.3.to_owned()).collect();
    assert_eq!(got, want);
}

#[test]
fn missing_columns_evaluate_as_null() {
    // No identity join, no severity: customer rules just don't match.
    let r = router(vec![
        rule("w", "customer.segment = 'wholesale'", "wl"),
        rule("v", "NOT customer.vulnerable", "x"),
        rule("unidentified", "customer.id IS NULL", "social-triage"),
    ]);
    let b = batch(&[("category", vec![Some("billing")])], None);
    assert_eq!(routed(&r, &b), [pair("social-triage", "unidentified")]);
    let r = router(vec![rule("w", "customer.segment = 'wholesale'", "wl")]);
    let b = batch(&[("text", vec![Some("hi")])], None);
    assert_eq!(routed(&r, &b), [pair("social-engagement", "default")]);
}

#[test]
fn other_input_types_are_cast() {
    // priority as Int64 (e.g. read back from JSON) still compares.
    let r = router(vec![rule("high", "priority >= 50", "hq")]);
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "priority",
            DataType::Int64,
            true,
        )])),
        vec![Arc::new(arrow::array::Int64Array::from(vec![
            Some(70),
            Some(10),
            None,
        ])) as _],
    )
    .unwrap();
    assert_eq!(
        routed(&r, &b),
        [
            pair("hq", "high"),
            pair("social-engagement", "default"),
            pair("social-engagement", "default")
        ]
    );
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "priority",
            DataType::Binary,
            true,
        )])),
        vec![Arc::new(arrow::array::BinaryArray::from(vec![b"x".as_ref()])) as _],
    )
    .unwrap();
    assert!(r.process_batch(&b).is_err());
}

#[test]
fn empty_batch_and_no_rules() {
    let r = router(vec![rule("a", "true", "q")]);
    let b = batch(&[("category", vec![])], None);
    assert_eq!(r.process_batch(&b).unwrap().num_rows(), 0);
    let r = router(Vec::new());
    let b = batch(&[("category", vec![Some("delivery")])], None);
    assert_eq!(routed(&r, &b), [pair("orders-delivery", "default")]);
}

/// A batch of the parse output schema with the given texts.
fn mention_batch(texts: &[&str]) -> RecordBatch {
    use crate::schema::{col as mcol, mention_schema};
    let schema = mention_schema();
    let n = texts.len();
    let arrays = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match (f.name().as_str(), f.data_type()) {
                (mcol::TEXT, _) => Arc::new(StringArray::from(texts.to_vec())),
                (mcol::CHANNEL, _) => Arc::new(StringArray::from(vec!["twitter"; n])),
                (_, _) if f.is_nullable() => arrow::array::new_null_array(f.data_type(), n),
                (_, DataType::Utf8) => Arc::new(StringArray::from(vec!["x"; n])),
                (_, DataType::Boolean) => Arc::new(BooleanArray::from(vec![false; n])),
                (_, DataType::Int32) => Arc::new(arrow::array::Int32Array::from(vec![0; n])),
                (_, DataType::Int64) => Arc::new(arrow::array::Int64Array::from(vec![0; n])),
                (_, DataType::Timestamp(_, _)) => Arc::new(
                    arrow::array::TimestampMillisecondArray::from(vec![0; n]).with_timezone("UTC"),
                ),
                (name, t) => panic!("unhandled column {name}: {t}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, arrays).unwrap()
}

#[test]
fn enriched_schema_matches_the_operators_and_routes_end_to_end() {
    let b = mention_batch(&[
        "@BTCare three days without broadband and I'm disabled, this is going to Ofcom",
        "@EE thank you, brilliant service",
    ]);
    let b = crate::language::LanguageDetector::new(&Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let b = crate::sentiment::SentimentAnalyzer::new(
        crate::sentiment::SentimentMode::Telco,
        Default::default(),
    )
    .unwrap()
    .process_batch(&b)
    .unwrap();
    let b = crate::classify::Classifier::new(&Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let b = crate::operator::StatefulOperator::process_batch(
        &mut crate::spam::SpamDetector::new(Default::default()).unwrap(),
        &b,
        &mut (),
    )
    .unwrap();
    let b = crate::identity_join::IdentityJoin::new(Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let b = crate::severity::Severity::new(&Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let enriched = enriched_mention_schema();
    for f in enriched.fields() {
        if [col::INCIDENT_ID, col::RELATED_CASE_ID].contains(&f.name().as_str()) {
            continue;
        }
        let got = b
            .schema()
            .field_with_name(f.name())
            .unwrap_or_else(|_| panic!("operators do not produce `{}`", f.name()))
            .clone();
        assert_eq!(got.data_type(), f.data_type(), "{}", f.name());
    }
    let r = router(vec![
        rule(
            "escalate",
            "severity = 'P1' AND category = 'complaint_escalation'",
            "esc-p1",
        ),
        rule("known", "identity.matched", "never"),
    ]);
    assert_eq!(
        routed(&r, &b),
        [
            pair("esc-p1", "escalate"),
            pair("social-engagement", "default")
        ]
    );
}

/// The stateless chain built from the config sections and run through
/// `dyn Operator` gives what the operators' verbs give, with the names of
/// `operator::names` in pipeline order.
#[test]
fn stateless_chain_through_the_operator_trait() {
    use crate::operator::{names, Operator};
    let chain: Vec<Box<dyn Operator>> = vec![
        Box::new(crate::language::LanguageConfig::default().build().unwrap()),
        Box::new(
            crate::sentiment::SentimentConfig::default()
                .build()
                .unwrap(),
        ),
        Box::new(crate::classify::ClassifyConfig::default().build().unwrap()),
        Box::new(
            crate::identity_join::IdentityJoinConfig::default()
                .build()
                .unwrap(),
        ),
        Box::new(crate::severity::SeverityConfig::default().build().unwrap()),
        Box::new(RouteConfig::default().build().unwrap()),
    ];
    let got_names: Vec<&str> = chain.iter().map(|o| o.name()).collect();
    assert_eq!(
        got_names,
        [
            names::LANGUAGE,
            names::SENTIMENT,
            names::CLASSIFY,
            names::IDENTITY_JOIN,
            names::SEVERITY,
            names::ROUTE
        ]
    );
    let input = mention_batch(&[
        "@BTCare three days without broadband and I'm disabled, this is going to Ofcom",
        "@EE thank you, brilliant service",
    ]);
    let mut got = input.clone();
    for op in &chain {
        got = op.process_batch(&got).unwrap();
    }
    let b = crate::language::LanguageDetector::new(&Default::default())
        .unwrap()
        .process_batch(&input)
        .unwrap();
    let b = crate::sentiment::SentimentAnalyzer::default()
        .process_batch(&b)
        .unwrap();
    let b = crate::classify::Classifier::new(&Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let b = crate::identity_join::IdentityJoin::new(Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let b = crate::severity::Severity::new(&Default::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    let want = Router::new(&RouteConfig::default())
        .unwrap()
        .process_batch(&b)
        .unwrap();
    assert_eq!(got, want);
    // A config that does not build says which key is at fault.
    let bad = RouteConfig {
        fallback_queue: "no spaces allowed".into(),
        ..RouteConfig::default()
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("route.fallback_queue"), "{err}");
}

#[test]
fn wholesale_phrases_need_a_fault_and_a_whole_word() {
    let r = RouteConfig::default().build().unwrap();
    let fault = Some("network_outage");
    assert_eq!(
        r.wholesale_term(fault, "Our LEASED LINE is down"),
        Some("LEASED LINE")
    );
    assert_eq!(
        r.wholesale_term(fault, "the MVNO's customers"),
        Some("MVNO")
    );
    assert_eq!(r.wholesale_term(fault, "my home internet is down"), None);
    assert_eq!(
        r.wholesale_term(fault, "wholesaler"),
        None,
        "whole words only"
    );
    assert_eq!(
        r.wholesale_term(Some("praise"), "great wholesale deal"),
        None
    );
    let off = RouteConfig {
        wholesale_phrases: vec![],
        ..RouteConfig::default()
    };
    assert_eq!(
        off.build()
            .unwrap()
            .wholesale_term(fault, "leased line down"),
        None
    );
    let bad = RouteConfig {
        wholesale_phrases: vec!["mvno".into(), " ".into()],
        ..RouteConfig::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("route.wholesale_phrases[1]"), "{e}");
}
