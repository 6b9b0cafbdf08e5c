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
    // With the warm-up off, it is.
    let mut d = IncidentDetector::new(IncidentConfig {
        warmup_ms: 0,
        ..Default::default()
    })
    .unwrap();
    let (_, o) = detect(&mut d, &batch(&rows)).unwrap();
    assert_eq!(o.events.len(), 1, "{:?}", o.events);
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
