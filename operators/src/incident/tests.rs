//! Tests of the incident detector.

use super::*;
use crate::schema::col as mcol;
use crate::schema::col::INCIDENT_ID;
use arrow::array::{Array, AsArray, StringArray, TimestampMillisecondArray};
use arrow::datatypes::Schema;

const T0: i64 = 1_795_000_000_000; // 2026-11-18

/// One batch through the operator trait: the batch and what it produced.
fn detect(d: &mut IncidentDetector, b: &RecordBatch) -> Result<(RecordBatch, IncidentOutput)> {
    let mut out = IncidentOutput::default();
    let batch = d.process_batch(b, &mut out)?;
    Ok((batch, out))
}

struct Row<'a> {
    id: String,
    cat: &'a str,
    region: Option<&'a str>,
    place: Option<&'a str>,
    t: i64,
}

fn batch(rows: &[Row]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(mcol::MENTION_ID, DataType::Utf8, false),
        Field::new("category", DataType::Utf8, true),
        Field::new("customer_region", DataType::Utf8, true),
        Field::new(mcol::PLACE, DataType::Utf8, true),
        Field::new(
            mcol::EVENT_TIME,
            DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
            false,
        ),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.id.clone()),
            )),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| Some(r.cat)))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.region))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.place))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.t),
            )),
        ],
    )
    .unwrap()
}

/// Normal traffic for hours (a few outage mentions everywhere), then 200
/// outage mentions from one region in ten minutes, then normal again.
fn scenario() -> Vec<Row<'static>> {
    let mut rows = Vec::new();
    let regions = ["london", "wales", "north_east", "scotland"];
    let mut k = 0;
    // 6 h of background: one outage mention per region every 20 min,
    // plus other categories.
    for m in 0..360 {
        let t = T0 + m * 60_000;
        if m % 20 == 0 {
            for r in regions {
                k += 1;
                rows.push(Row {
                    id: format!("bg{k}"),
                    cat: "network_outage",
                    region: Some(r),
                    place: None,
                    t,
                });
            }
        }
        k += 1;
        rows.push(Row {
            id: format!("bg{k}"),
            cat: "billing",
            region: Some("wales"),
            place: None,
            t,
        });
    }
    // The spike: 200 in ten minutes in the north east, half of them
    // from unidentified authors naming their town.
    let s0 = T0 + 360 * 60_000;
    for j in 0..200 {
        let t = s0 + j * 3_000;
        let (region, place) = if j % 2 == 0 {
            (Some("north_east"), None)
        } else {
            (None, Some("Newcastle, England"))
        };
        rows.push(Row {
            id: format!("spike{j}"),
            cat: "network_outage",
            region,
            place,
            t,
        });
        if j % 10 == 0 {
            k += 1;
            rows.push(Row {
                id: format!("bg{k}"),
                cat: "broadband_fault",
                region: Some("london"),
                place: None,
                t,
            });
        }
    }
    // Calm again for two hours.
    for m in 0..120 {
        let t = s0 + 600_000 + m * 60_000;
        if m % 20 == 0 {
            for r in regions {
                k += 1;
                rows.push(Row {
                    id: format!("bg{k}"),
                    cat: "network_outage",
                    region: Some(r),
                    place: None,
                    t,
                });
            }
        }
    }
    rows
}

#[test]
fn a_regional_spike_opens_one_incident_tags_members_and_closes() {
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let rows = scenario();
    let mut events = Vec::new();
    let mut retro = Vec::new();
    let mut tagged: HashMap<String, String> = HashMap::new();
    // Feed in batches of 64 rows, as the pipeline would.
    for chunk in rows.chunks(64) {
        let (out, o) = detect(&mut d, &batch(chunk)).unwrap();
        let ids = out
            .column_by_name(mcol::MENTION_ID)
            .unwrap()
            .as_string::<i32>()
            .clone();
        let inc = out
            .column_by_name(INCIDENT_ID)
            .unwrap()
            .as_string::<i32>()
            .clone();
        for i in 0..out.num_rows() {
            if inc.is_valid(i) {
                tagged.insert(ids.value(i).to_string(), inc.value(i).to_string());
            }
        }
        events.extend(o.events);
        retro.extend(o.retro_members);
    }
    let opened: Vec<_> = events.iter().filter(|e| e.action == "opened").collect();
    assert_eq!(opened.len(), 1, "{events:?}");
    let inc = opened[0];
    assert_eq!(inc.region, "north_east");
    assert!(
        inc.incident_id.starts_with("inc-north_east-"),
        "{}",
        inc.incident_id
    );
    // Every spike mention is a member: tagged in its row, or retroactively.
    let (rid, members) = &retro[0];
    assert_eq!(rid, &inc.incident_id);
    for j in 0..200 {
        let id = format!("spike{j}");
        let in_row = tagged.get(&id) == Some(&inc.incident_id);
        assert!(in_row || members.contains(&id), "{id} not a member");
    }
    // No background mention from elsewhere is a member (a north-east
    // outage mention while the incident is open is one, rightly).
    let north_east: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.region == Some("north_east") || r.place.is_some())
        .map(|r| r.id.as_str())
        .collect();
    assert!(tagged.keys().all(|k| north_east.contains(k.as_str())));
    assert!(members.iter().all(|k| north_east.contains(k.as_str())));
    assert!(members.len() >= 29, "{}", members.len());
    // It closed once the rate fell back.
    let closed: Vec<_> = events.iter().filter(|e| e.action == "closed").collect();
    assert_eq!(closed.len(), 1, "{events:?}");
    assert_eq!(closed[0].incident_id, inc.incident_id);
    assert!(closed[0].mentions >= 200, "{:?}", closed[0]);
    assert_eq!(d.open_incidents(), 0);
}

#[test]
fn background_traffic_alone_opens_nothing_and_ids_are_deterministic() {
    let rows: Vec<Row> = scenario()
        .into_iter()
        .filter(|r| !r.id.starts_with("spike"))
        .collect();
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    for chunk in rows.chunks(100) {
        let (_, o) = detect(&mut d, &batch(chunk)).unwrap();
        assert!(o.events.is_empty(), "{:?}", o.events);
    }
    let run = || {
        let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
        let mut ev = Vec::new();
        for chunk in scenario().chunks(50) {
            ev.extend(detect(&mut d, &batch(chunk)).unwrap().1.events);
        }
        ev
    };
    assert_eq!(run(), run());
}

#[test]
fn no_incident_opens_before_the_warm_up() {
    // The spike alone, with no history before it: not an incident.
    let rows: Vec<Row> = scenario()
        .into_iter()
        .filter(|r| r.id.starts_with("spike"))
        .collect();
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let (_, o) = detect(&mut d, &batch(&rows)).unwrap();
    assert!(o.events.is_empty(), "{:?}", o.events);
    // Nor with the warm-up off: the baseline must have seen at least a
    // window's traffic.
    let mut d = IncidentDetector::new(IncidentConfig {
        warmup_ms: 0,
        ..Default::default()
    })
    .unwrap();
    let (_, o) = detect(&mut d, &batch(&rows)).unwrap();
    assert!(o.events.is_empty(), "{:?}", o.events);
}

#[test]
fn unknown_places_are_counted_as_without_region() {
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let rows = vec![Row {
        id: "x".into(),
        cat: "network_outage",
        region: None,
        place: Some("Atlantis"),
        t: T0,
    }];
    let (out, _) = detect(&mut d, &batch(&rows)).unwrap();
    assert!(out.column_by_name(INCIDENT_ID).unwrap().is_null(0));
    assert_eq!(d.take_stats().no_region, 1);
}

#[test]
fn bad_config_names_the_key() {
    for (cfg, key) in [
        (
            IncidentConfig {
                bucket_ms: 0,
                ..Default::default()
            },
            "incident.bucket_ms",
        ),
        (
            IncidentConfig {
                spike_ratio: 0.5,
                ..Default::default()
            },
            "incident.spike_ratio",
        ),
        (
            IncidentConfig {
                min_mentions: 0,
                ..Default::default()
            },
            "incident.min_mentions",
        ),
        (
            IncidentConfig {
                categories: vec![],
                ..Default::default()
            },
            "incident.categories",
        ),
    ] {
        match IncidentDetector::new(cfg) {
            Err(OperatorError::Config { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{other:?}"),
        }
    }
}

/// The operator trait gives the verbs' batches and events; a watermark
/// handed in by the stage closes the open incident without more data.
#[test]
fn incident_through_the_stateful_operator_trait() {
    use crate::operator::{names, StatefulOperator};
    let rows = scenario();
    let mut a = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let mut b = IncidentDetector::new(IncidentConfig::default()).unwrap();
    assert_eq!(StatefulOperator::name(&b), names::INCIDENT);
    let mut got = IncidentOutput::default();
    let mut want = Vec::new();
    let mut last = 0;
    // Until the spike opens its incident.
    for chunk in rows.chunks(64) {
        let (out_a, o) = detect(&mut a, &batch(chunk)).unwrap();
        want.extend(o.events);
        let out_b = b.process_batch(&batch(chunk), &mut got).unwrap();
        assert_eq!(out_a, out_b);
        let wm = StatefulOperator::watermark(&b).unwrap();
        b.on_watermark(wm, &mut got);
        last = chunk.last().unwrap().t;
        if b.open_incidents() > 0 {
            break;
        }
    }
    assert_eq!(got.events, want);
    assert_eq!(b.open_incidents(), 1);
    // An hour of silence, told by the stage: the incident closes.
    b.on_watermark(last + 3_600_000, &mut got);
    assert_eq!(b.open_incidents(), 0);
    let closed = got.events.last().unwrap();
    assert_eq!(closed.action, "closed");
    assert_eq!(
        closed.closed_at.as_deref(),
        Some(format_rfc3339_secs(last + 3_600_000).as_str())
    );
    assert!(b.checkpoint().is_empty(), "no durable state");
    assert!(b.restore("x", None).is_err());
}

/// `batch` with a `text` column.
fn batch_with_texts(rows: &[Row], texts: &[&str]) -> RecordBatch {
    let b = batch(rows);
    append_columns(
        &b,
        vec![(
            Field::new(mcol::TEXT, DataType::Utf8, true),
            Arc::new(StringArray::from_iter_values(texts.iter().copied())) as ArrayRef,
        )],
    )
    .unwrap()
}

fn outage(id: String, region: &'static str, t: i64) -> Row<'static> {
    Row {
        id,
        cat: "network_outage",
        region: Some(region),
        place: None,
        t,
    }
}

/// Other traffic: a billing mention from Wales every minute of `[from, to)`.
fn traffic(from: i64, to: i64) -> Vec<Row<'static>> {
    (from..to)
        .step_by(60_000)
        .map(|t| Row {
            id: format!("billing{t}"),
            cat: "billing",
            region: Some("wales"),
            place: None,
            t,
        })
        .collect()
}

/// Runs `rows` through a default detector in batches of 64; all events.
fn run_all(d: &mut IncidentDetector, rows: &[Row]) -> Vec<IncidentEvent> {
    let mut events = Vec::new();
    for chunk in rows.chunks(64) {
        events.extend(detect(d, &batch(chunk)).unwrap().1.events);
    }
    events
}

#[test]
fn late_mentions_of_a_closed_burst_never_reopen_it_and_ids_are_never_reused() {
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let mut events = run_all(&mut d, &scenario());
    assert_eq!(events.len(), 2, "opened and closed: {events:?}");
    // Late copies of the burst (new ids, the burst's times) after it closed:
    // they are counted, but open nothing.
    let s0 = T0 + 360 * 60_000;
    let late: Vec<Row> = (0..100)
        .map(|j| outage(format!("late{j}"), "north_east", s0 + j * 6_000))
        .collect();
    assert!(run_all(&mut d, &late).is_empty());
    // Hours later, a new outage in the same region: a new incident, new id.
    let s1 = s0 + 5 * 3_600_000;
    let mut again: Vec<Row> = (0..300)
        .map(|m| {
            outage(
                format!("calm{m}"),
                "north_east",
                s1 - 300 * 60_000 + m * 60_000,
            )
        })
        .filter(|r| (r.t - T0) % (20 * 60_000) == 0)
        .collect();
    again.extend(traffic(s1 - 300 * 60_000, s1));
    again.sort_by_key(|r| r.t);
    again.extend((0..200).map(|j| outage(format!("second{j}"), "north_east", s1 + j * 3_000)));
    again.extend((0..10).map(|m| outage(format!("after{m}"), "wales", s1 + 3_600_000 + m)));
    events.extend(run_all(&mut d, &again));
    let opened: Vec<&str> = events
        .iter()
        .filter(|e| e.action == "opened")
        .map(|e| e.incident_id.as_str())
        .collect();
    assert_eq!(opened.len(), 2, "{events:?}");
    assert_ne!(opened[0], opened[1]);
    // Each id opens once and closes once.
    for id in &opened {
        let n = events.iter().filter(|e| e.incident_id == *id).count();
        assert!(n <= 2, "{id}: {events:?}");
    }
}

#[test]
fn a_lull_inside_one_outage_keeps_it_one_incident() {
    // History, then 100 outage mentions in 5 min, 15 min with none, 100
    // more: one outage that flickered, one incident (it closed and
    // reopened when the window alone decided).
    let mut rows: Vec<Row> = (0..360)
        .filter(|m| m % 20 == 0)
        .map(|m| outage(format!("bg{m}"), "london", T0 + m * 60_000))
        .collect();
    rows.extend(traffic(T0, T0 + 360 * 60_000));
    rows.sort_by_key(|r| r.t);
    let s0 = T0 + 360 * 60_000;
    rows.extend((0..100).map(|j| outage(format!("a{j}"), "london", s0 + j * 3_000)));
    let s1 = s0 + 5 * 60_000 + 15 * 60_000;
    rows.extend((0..100).map(|j| outage(format!("b{j}"), "london", s1 + j * 3_000)));
    rows.extend((0..8).map(|m| outage(format!("w{m}"), "wales", s1 + (m + 1) * 3_600_000)));
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    let events = run_all(&mut d, &rows);
    let opened = events.iter().filter(|e| e.action == "opened").count();
    assert_eq!(opened, 1, "{events:?}");
    let closed: Vec<_> = events.iter().filter(|e| e.action == "closed").collect();
    assert_eq!(closed.len(), 1, "{events:?}");
    assert!(closed[0].mentions >= 200, "{:?}", closed[0]);
}

#[test]
fn a_town_named_in_the_text_gives_the_region() {
    let rows: Vec<Row> = (0..4)
        .map(|j| Row {
            id: format!("t{j}"),
            cat: "network_outage",
            region: None,
            place: None,
            t: T0 + j,
        })
        .collect();
    let texts = [
        "No internet anywhere in Newcastle since 9am",
        "reading the status page, nothing about it",
        "Down in Bath too",
        "no service",
    ];
    let mut d = IncidentDetector::new(IncidentConfig::default()).unwrap();
    detect(&mut d, &batch_with_texts(&rows, &texts)).unwrap();
    let st = d.take_stats();
    assert_eq!((st.counted, st.no_region), (2, 2), "{st:?}");
    assert_eq!(
        d.places
            .in_text("No internet anywhere in Newcastle since 9am"),
        Some("north_east")
    );
    assert_eq!(d.places.in_text("Down in Bath too"), Some("south_west"));
    assert_eq!(d.places.in_text("reading the status page"), None);
    let mut off = IncidentDetector::new(IncidentConfig {
        places_in_text: false,
        ..Default::default()
    })
    .unwrap();
    detect(&mut off, &batch_with_texts(&rows, &texts)).unwrap();
    assert_eq!(off.take_stats().no_region, 4);
}

#[test]
fn windows_scale_only_for_traffic_denser_than_real() {
    let cfg = IncidentConfig::default();
    // Real traffic (1 mention/s: 600 per window) keeps the defaults.
    assert_eq!(cfg.scaled_to_rate(1.0, DENSE_MENTIONS_PER_WINDOW), cfg);
    // A 1,000/s firehose: windows of 600 mentions, 0.6 s.
    let s = cfg.scaled_to_rate(1000.0, DENSE_MENTIONS_PER_WINDOW);
    assert_eq!(s.window_ms, 600);
    assert_eq!(s.bucket_ms, 60);
    assert_eq!(s.baseline_ms, 21_600);
    assert_eq!(s.warmup_ms, 1_800);
    assert_eq!(s.close_quiet_ms, 1_800);
    assert_eq!(
        (s.min_mentions, s.spike_ratio),
        (cfg.min_mentions, cfg.spike_ratio)
    );
    s.validate().unwrap();
}
