//! A frame from fixed metrics text, drawn on ratatui's `TestBackend`.

use std::time::{Duration, Instant};

use super::fetch::Reading;
use super::model::View;
use super::render;
use crate::metrics::exposition::Scrape;

/// Two scrapes of an instance two seconds apart.
fn readings() -> (Reading, Reading) {
    let text = |parse_in: u64, busy: f64, dlq: u64| {
        format!(
            r#"switchboard_stage_records_in_total{{stage="parse"}} {parse_in}
switchboard_stage_records_out_total{{stage="parse"}} {}
switchboard_stage_records_in_total{{stage="sink"}} 500
switchboard_stage_records_out_total{{stage="sink"}} 500
switchboard_stage_records_in_total{{stage="dlq",reason="invalid_json"}} {dlq}
switchboard_operator_rows_in_total{{operator="sentiment"}} {parse_in}
switchboard_operator_rows_out_total{{operator="sentiment"}} {parse_in}
switchboard_operator_busy_seconds_total{{operator="sentiment"}} {busy}
switchboard_dlq_records_total{{reason="invalid_json"}} {dlq}
switchboard_source_consumer_lag_records{{topic="mentions",partition="0"}} 40
switchboard_source_consumer_lag_records{{topic="mentions",partition="1"}} 2
switchboard_pipeline_memory_rss_bytes 268435456
switchboard_pipeline_memory_budget_bytes 1073741824
switchboard_identity_lookups_total{{channel="twitter",result="hit"}} 75
switchboard_identity_lookups_total{{channel="twitter",result="unknown_identity"}} 25
switchboard_workitems_events_total{{queue="billing",severity="P2",action="created"}} 7
"#,
            parse_in - dlq
        )
    };
    let t0 = Instant::now();
    let first = Reading {
        at: t0,
        scrape: Scrape::parse(&text(1_000, 1.0, 10)),
        ready: "ready: consuming 2 partition(s)".into(),
    };
    let second = Reading {
        at: t0 + Duration::from_secs(2),
        scrape: Scrape::parse(&text(3_000, 1.5, 14)),
        ready: "ready: consuming 2 partition(s)".into(),
    };
    (first, second)
}

#[test]
fn rates_come_from_the_difference_over_the_interval() {
    let (a, b) = readings();
    let v = View::new("127.0.0.1:9898", Some(&a), &b);
    let names: Vec<&str> = v.stages.iter().map(|s| s.name).collect();
    assert_eq!(names, ["parse", "sink", "dlq"], "flow order, present ones");
    let parse = &v.stages[0];
    assert_eq!((parse.in_per_sec, parse.out_per_sec), (1_000.0, 998.0));
    assert_eq!(v.stages[1].in_per_sec, 0.0, "an idle stage");
    let op = &v.operators[0];
    assert_eq!(
        (op.name, op.in_per_sec, op.busy_pct),
        ("sentiment", 1_000.0, 25.0)
    );
    // A counter that went back (a restart) gives 0, never a negative rate.
    let back = View::new("x", Some(&b), &a);
    assert!(back
        .stages
        .iter()
        .all(|s| s.in_per_sec >= 0.0 && s.out_per_sec >= 0.0));
}

#[test]
fn a_frame_names_every_stage_operator_and_the_instance_state() {
    let (a, b) = readings();
    let v = View::new("127.0.0.1:9898", Some(&a), &b);
    let text = render::text(&v, 100);
    for want in [
        "switchboard top — 127.0.0.1:9898",
        "ready: consuming 2 partition(s)",
        "Stages (records)",
        "parse",
        "1,000/s",
        "998.0/s",
        "Operators",
        "sentiment",
        "25.0 %",
        "lag 42 records (mentions 42)",
        "2.0/s · 14 total (invalid_json 14)",
        "RSS 256 MiB of 1,024 MiB budget (25 %)",
        "75.0 % matched (75 of 100)",
        "created by severity: P2 7",
    ] {
        assert!(text.contains(want), "`{want}` missing from\n{text}");
    }
    assert_eq!(text.lines().count(), usize::from(render::height(&v)));
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    // Unreachable: the frame says why, with no tables of stale numbers.
    let down = render::text(&View::unreachable("h:1", "connection refused"), 80);
    assert!(down.contains("unreachable: connection refused"), "{down}");
}
