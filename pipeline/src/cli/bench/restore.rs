//! `--restore-customers`: the state restore alone.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::broker::Broker;
use crate::cli::format::fmt_count;
use crate::config::Config;
use crate::sink::events::{EventSink, Kind};
use crate::state::offsets::OffsetTracker;

/// Writes the state of `customers` active customers (one open work item
/// from one tweet, one CRM call each) to `topic`, spread by key like the
/// keyed stage does; returns the records written.
fn write_state(
    config: &Config,
    topic: &str,
    partitions: i32,
    customers: usize,
) -> crate::Result<u64> {
    use arrow::array::{ArrayRef, Int32Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use switchboard_operators::correlate::{ContactEvent, ContactKind, Correlator};
    use switchboard_operators::operator::StatefulOperator;
    let sink = EventSink::new(config, topic, Kind::Changelog)?;
    let tracker = OffsetTracker::new();
    let t0 = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let tweet = "@AlbionHelp my broadband has been down since yesterday evening and nobody has called me back. Sort it out!";
    let schema = Arc::new(Schema::new(vec![
        Field::new("mention_id", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "event_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("author_handle", DataType::Utf8, true),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("severity_points", DataType::Int32, true),
    ]));
    let mut written = 0u64;
    let chunk = 20_000;
    let mut start = 0;
    while start < customers {
        let n = chunk.min(customers - start);
        let ids: Vec<usize> = (start..start + n).collect();
        let mut corr = Correlator::with_defaults(config.correlate.clone())?;
        corr.track_changes(true);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("m{i}")),
            )),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|_| "twitter"))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|_| tweet))),
            Arc::new(
                TimestampMillisecondArray::from_iter_values(
                    ids.iter().map(|i| t0 + *i as i64 % 60_000),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("user{i}")),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("C{i:08}")),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|_| "broadband_fault"),
            )),
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|_| 45))),
        ];
        let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), cols)?;
        corr.on_mentions(&batch)?;
        for i in &ids {
            corr.on_contact(&ContactEvent {
                event_id: format!("E{i}"),
                customer_id: format!("C{i:08}"),
                kind: ContactKind::Call,
                case_id: None,
                category: Some("broadband_fault".into()),
                occurred_at_ms: t0 + 60_000,
                channel: Some("phone".into()),
                note: None,
            });
        }
        for (key, value) in corr.checkpoint() {
            let p = switchboard_operators::repartition::partition_for(key.as_bytes(), partitions);
            sink.send_to(
                Some(p),
                Some(key.as_bytes()),
                value.as_deref(),
                tracker.begin(&[]),
            );
            written += 1;
        }
        start += n;
    }
    sink.flush(Duration::from_secs(120));
    Ok(written)
}

/// `--restore-customers`: time the restore of a changelog holding that many
/// customers' state, on one thread and on `workers` threads.
pub(super) fn bench_restore(
    config: &Config,
    kafka: &Broker,
    customers: usize,
    partitions: i32,
    workers: usize,
) -> crate::Result<()> {
    use switchboard_operators::correlate::Correlator;
    let mut config = config.clone();
    config.topics.changelog = kafka.name("restore-changelog");
    kafka.create_topic(
        &config.topics.changelog,
        partitions,
        &[("cleanup.policy", "compact")],
    )?;
    let t = Instant::now();
    let written = write_state(&config, &config.topics.changelog, partitions, customers)?;
    kafka.check_retained(&config.topics.changelog, partitions)?;
    eprintln!(
        "bench: state of {} customers ({} changelog records, {} partitions) written in {:.1}s",
        fmt_count(customers as u64),
        fmt_count(written),
        partitions,
        t.elapsed().as_secs_f64()
    );
    let restore_all = |threads: usize| -> crate::Result<(f64, usize)> {
        let t = Instant::now();
        let keys = std::sync::atomic::AtomicUsize::new(0);
        let next = std::sync::atomic::AtomicI32::new(0);
        std::thread::scope(|s| -> crate::Result<()> {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> crate::Result<()> {
                        loop {
                            let p = next.fetch_add(1, Ordering::Relaxed);
                            if p >= partitions {
                                return Ok(());
                            }
                            let mut c = Correlator::with_defaults(config.correlate.clone())?;
                            let r = crate::state::changelog::restore(
                                &config,
                                p,
                                &mut c,
                                Duration::from_secs(600),
                            )?;
                            keys.fetch_add(r.keys, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| crate::PipelineError::Runtime("restore panicked".into()))??;
            }
            Ok(())
        })?;
        Ok((t.elapsed().as_secs_f64(), keys.load(Ordering::Relaxed)))
    };
    let (one, keys) = restore_all(1)?;
    let (many, keys_many) = restore_all(workers.max(1))?;
    if keys != customers || keys_many != customers {
        return Err(crate::PipelineError::Runtime(format!(
            "restored {keys} / {keys_many} keys of {customers}"
        )));
    }
    println!(
        "state restore, {} active customers ({} partitions): {one:.2} s on 1 thread ({}/s), {many:.2} s on {} threads ({}/s)",
        fmt_count(customers as u64),
        partitions,
        fmt_count((keys as f64 / one) as u64),
        workers.max(1),
        fmt_count((keys as f64 / many) as u64),
    );
    Ok(())
}
