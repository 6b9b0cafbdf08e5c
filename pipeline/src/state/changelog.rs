//! The correlation state changelog of the keyed stage (`topics.changelog`,
//! compacted, co-partitioned with the repartition topic and `crm-contacts`).
//!
//! Record = key: the correlator's state key (`c:<customer>`, `h:…`, …),
//! value: [`Correlator::export_key`] JSON, or null (a tombstone) when the
//! key holds nothing any more. One extra key per partition,
//! [`WATERMARK_KEY`], carries the partition's max event time so that quiet
//! periods keep counting after a restore. Compaction keeps the latest value
//! per key, which is all a restore needs.
//!
//! [`restore`] reads one partition (`read_committed`) from its beginning to
//! the high watermark taken when it starts, applying each record in order,
//! and reports how long it took (`switchboard_state_restore_duration_seconds`).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use switchboard_operators::correlate::Correlator;
use switchboard_operators::operator::StatefulOperator;
use tracing::{info, warn};

use super::identity_updates::UpdatesContext;
use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::metrics as m;

/// Key of the per-partition max-event-time record (no state key starts with
/// `_`).
pub const WATERMARK_KEY: &str = switchboard_operators::operator::CLOCK_KEY;

/// What a restore did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Changelog records read.
    pub records: u64,
    /// Keys held afterwards.
    pub keys: usize,
    /// Records whose value could not be imported (skipped, logged).
    pub bad_records: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Applies one changelog record to a correlator ([`StatefulOperator::restore`]).
/// A max event time outside `bounds` (the accepted event times, inclusive)
/// is refused: one saved before the bounds existed would otherwise close
/// every item for good.
pub fn apply_record(
    corr: &mut Correlator,
    key: &[u8],
    value: Option<&[u8]>,
    bounds: (i64, i64),
) -> Result<()> {
    let key = std::str::from_utf8(key)
        .map_err(|_| PipelineError::Runtime("changelog key is not UTF-8".into()))?;
    if key == WATERMARK_KEY {
        if let Some(ms) = value
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            if !(bounds.0..=bounds.1).contains(&ms) {
                return Err(PipelineError::Runtime(format!(
                    "changelog max event time {ms} is outside the accepted event times"
                )));
            }
        }
    }
    // The clock record (`WATERMARK_KEY`, the operator's `CLOCK_KEY`) or
    // one key's state; a tombstone empties the key.
    Ok(StatefulOperator::restore(corr, key, value)?)
}

/// The consumer a restore reads with: no group, nothing committed.
fn restore_consumer(config: &Config) -> Result<BaseConsumer<UpdatesContext>> {
    let mut c = config.client_properties();
    c.set("group.id", format!("{}-restore", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        // State written in aborted transactions never happened.
        .set("isolation.level", "read_committed")
        // The end of the log is reported after a fetch that waited this
        // long for data: librdkafka's 500 ms would be spent on every
        // restored partition.
        .set("fetch.wait.max.ms", "10");
    Ok(c.create_with_context(UpdatesContext("state restore"))?)
}

/// Restores partition `partition` of the changelog into `corr` (which
/// should be empty), bounded by `timeout`.
pub fn restore(
    config: &Config,
    partition: i32,
    corr: &mut Correlator,
    timeout: Duration,
) -> Result<Restored> {
    let started = Instant::now();
    let topic = config.topics.changelog.as_str();
    let consumer = restore_consumer(config)?;
    let (low, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
    let mut out = Restored::default();
    if high == 0 {
        // Never written.
        return Ok(finish(out, started, topic, partition, corr));
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(low))?;
    consumer.assign(&tpl)?;
    let deadline = started + timeout;
    let mut next = low;
    // Done at the end of the log as the fetch reports it (partition EOF)
    // once the consumer's position has reached the high watermark taken
    // above. Not `next >= high`: written in transactions
    // (`exactly_once`), a partition ends with a commit marker, and may hold
    // aborted records, that take offsets but are never delivered to this
    // read_committed consumer; its position moves past them at the end (an
    // open transaction holds it back until it ends).
    let mut at_end = false;
    let bounds = (config.parse).event_time_bounds(chrono::Utc::now().timestamp_millis());
    loop {
        if Instant::now() >= deadline {
            return Err(PipelineError::Runtime(format!(
                "restoring {topic}/{partition} timed out at offset {next} of {high}"
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {
                if at_end && position(&consumer, topic, partition)? >= high {
                    break;
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {
                at_end = true;
                if position(&consumer, topic, partition)? >= high {
                    break;
                }
            }
            Some(Err(e)) => {
                warn!(error = %e, topic, partition, "changelog read error during restore");
                continue;
            }
            Some(Ok(msg)) => {
                at_end = false;
                next = msg.offset() + 1;
                out.records += 1;
                let Some(key) = msg.key() else {
                    out.bad_records += 1;
                    continue;
                };
                if let Err(e) = apply_record(corr, key, msg.payload(), bounds) {
                    out.bad_records += 1;
                    warn!(error = %e, topic, partition, offset = msg.offset(), "changelog record skipped");
                }
            }
        }
    }
    Ok(finish(out, started, topic, partition, corr))
}

/// The consumer's position in `topic`/`partition` (0 before the first
/// fetch).
fn position(consumer: &BaseConsumer<UpdatesContext>, topic: &str, partition: i32) -> Result<i64> {
    let pos = consumer.position()?;
    Ok(
        match pos.find_partition(topic, partition).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => 0,
        },
    )
}

/// Records the restore's figures (metrics, log line).
fn finish(
    mut out: Restored,
    started: Instant,
    topic: &str,
    partition: i32,
    corr: &Correlator,
) -> Restored {
    out.keys = corr.keys().count();
    out.elapsed = started.elapsed();
    metrics::histogram!(m::STATE_RESTORE_DURATION).record(out.elapsed.as_secs_f64());
    metrics::counter!(m::STATE_RESTORED_RECORDS).increment(out.records);
    metrics::gauge!(m::STATE_RESTORED_KEYS, "partition" => partition.to_string())
        .set(out.keys as f64);
    info!(
        topic,
        partition,
        records = out.records,
        keys = out.keys,
        bad = out.bad_records,
        ms = out.elapsed.as_millis() as u64,
        "state restored"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_operators::correlate::CorrelateConfig;

    const ANY: (i64, i64) = (i64::MIN, i64::MAX);

    #[test]
    fn watermark_and_tombstones_apply() {
        let mut c = Correlator::with_defaults(CorrelateConfig::default()).unwrap();
        apply_record(
            &mut c,
            WATERMARK_KEY.as_bytes(),
            Some(b"1795334400000"),
            ANY,
        )
        .unwrap();
        assert_eq!(c.max_event_time_ms(), Some(1_795_334_400_000));
        apply_record(&mut c, WATERMARK_KEY.as_bytes(), Some(b"1"), ANY).unwrap();
        assert_eq!(c.max_event_time_ms(), Some(1_795_334_400_000), "never back");
        apply_record(&mut c, b"c:C1", None, ANY).unwrap();
        assert_eq!(c.keys().count(), 0);
        assert!(apply_record(&mut c, b"c:C1", Some(b"{broken"), ANY).is_err());
        assert!(apply_record(&mut c, &[0xff], Some(b"{}"), ANY).is_err());
    }

    /// Issue 27: a max event time of 9999 saved in the changelog (before
    /// event times were bounded) is refused on restore instead of closing
    /// every item for good.
    #[test]
    fn an_absurd_saved_watermark_is_refused() {
        let bounds = crate::config::ParseSection::default().event_time_bounds(1_795_334_400_000);
        let mut c = Correlator::with_defaults(CorrelateConfig::default()).unwrap();
        for absurd in [
            &b"253402300799000"[..],
            b"-62167219200000",
            b"999999999999000",
        ] {
            assert!(apply_record(&mut c, WATERMARK_KEY.as_bytes(), Some(absurd), bounds).is_err());
        }
        assert_eq!(c.max_event_time_ms(), None);
        apply_record(
            &mut c,
            WATERMARK_KEY.as_bytes(),
            Some(b"1795334400000"),
            bounds,
        )
        .unwrap();
        assert_eq!(c.max_event_time_ms(), Some(1_795_334_400_000));
    }
}
