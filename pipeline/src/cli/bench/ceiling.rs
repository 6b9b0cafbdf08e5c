//! The `output ceiling` loop: the limit loop plus producing the full loop's
//! work-item events again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_tools::generate::kafka::RawRecord;

use super::broker::Broker;
use super::loops::{run_bare, LimitLoop};
use crate::config::Config;
use crate::sink::events::{EventSink, Kind};
use crate::source::batch::MessageBatch;
use crate::source::kafka::WorkerHandler;
use crate::state::offsets::OffsetTracker;

/// The work-item events of the full loop, read back from their topic: the
/// output the ceiling loop produces again.
struct Output {
    events: Vec<RawRecord>,
    /// Events the full loop produced (the topic's high watermarks); more
    /// than `events.len()` only if the broker's retention dropped some, and
    /// then the read ones are produced again in turn.
    produced: u64,
}

/// Reads every record of `topic` (all partitions, from the beginning;
/// `group` commits nothing).
fn read_output(
    config: &Config,
    topic: &str,
    partitions: i32,
    group: &str,
) -> crate::Result<Output> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = config
        .client_properties()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    let (mut produced, mut remaining) = (0u64, 0i64);
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        produced += high as u64;
        remaining += high - low;
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut events = Vec::with_capacity(remaining.max(0) as usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while (events.len() as i64) < remaining {
        if Instant::now() > deadline {
            return Err(crate::PipelineError::Runtime(format!(
                "read back {} of {remaining} records of {topic}",
                events.len()
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => events.push(RawRecord {
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().unwrap_or_default().to_vec(),
            }),
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(Output { events, produced })
}

/// The output ceiling: the limit loop, and the full loop's work-item events
/// produced again, through the pipeline's own producer settings, spread
/// evenly over the input (record k of N sends events k·E/N … (k+1)·E/N).
/// Any topology that reads this input and writes this output does at least
/// this much; what it does besides (operators, hand-offs) comes on top.
struct CeilingLoop {
    limit: LimitLoop,
    output: Arc<Output>,
    sink: Arc<EventSink>,
    total: u64,
    next: Arc<AtomicU64>,
}

impl WorkerHandler for CeilingLoop {
    fn on_batch(&mut self, batch: &mut MessageBatch, tracker: &Arc<OffsetTracker>) {
        let n = self.limit.parse_batch(batch);
        // Counted when parsed, as the pipeline counts records in.
        self.limit.progress.records.fetch_add(n, Ordering::Relaxed);
        let r0 = self.next.fetch_add(n, Ordering::Relaxed);
        let e = self.output.produced;
        let (from, to) = (
            (r0 as u128 * e as u128 / self.total as u128) as u64,
            (((r0 + n).min(self.total)) as u128 * e as u128 / self.total as u128) as u64,
        );
        let ack = tracker.begin(&[]);
        for i in from..to {
            let e = &self.output.events[(i % self.output.events.len() as u64) as usize];
            self.sink
                .send_to(None, e.key.as_deref(), Some(&e.payload), ack.clone());
        }
    }
    fn on_tick(&mut self, _: Instant, _: &Arc<OffsetTracker>) {}
    fn on_stop(&mut self, _: &Arc<OffsetTracker>) {}
}

/// The output ceiling loop (see [`CeilingLoop`]) after a full loop: returns
/// its steady rate and the events produced, checked on the broker.
pub(super) fn run_ceiling(
    config: &Config,
    kafka: &Broker,
    group: &str,
    total: u64,
    partitions: i32,
) -> crate::Result<(f64, u64)> {
    let reader = format!("{group}-read");
    let output = Arc::new(read_output(
        config,
        &config.topics.work_items,
        partitions,
        &reader,
    )?);
    if output.events.is_empty() {
        return Err(crate::PipelineError::Runtime(
            "the full loop produced no work-item events".into(),
        ));
    }
    let topic = format!("{group}-out");
    kafka.create_topic(&topic, partitions, &[])?;
    let sink = Arc::new(EventSink::new(config, &topic, Kind::WorkItems)?);
    let next = Arc::new(AtomicU64::new(0));
    let rate = {
        let (output, sink, next) = (output.clone(), sink.clone(), next.clone());
        run_bare(config, group, total, move |p| CeilingLoop {
            limit: LimitLoop::new(p),
            output: output.clone(),
            sink: sink.clone(),
            total,
            next: next.clone(),
        })?
    };
    // Not timed, but required: every event delivered.
    sink.flush(Duration::from_secs(120));
    let mut delivered = 0u64;
    {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = config.client_properties().create()?;
        for p in 0..partitions {
            delivered += c.fetch_watermarks(&topic, p, Duration::from_secs(10))?.1 as u64;
        }
    }
    if delivered != output.produced {
        return Err(crate::PipelineError::Runtime(format!(
            "{group}: {delivered} of {} events delivered",
            output.produced
        )));
    }
    Ok((rate, delivered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::broker::{Broker, Target};
    use switchboard_tools::generate::mentions::{MentionGenConfig, MentionGenerator};

    /// The ceiling loop produces each event of the full loop's output once,
    /// whatever the batches' sizes, and its rate counts the input records.
    #[test]
    fn ceiling_produces_every_output_event_once() {
        let mut config = Config::default();
        config.source.workers = 2;
        config.metrics.addr = String::new();
        let partitions = 4;
        let kafka = Broker::start(&mut config, &Target::Embedded, 0, partitions).unwrap();
        let input = MentionGenerator::new(MentionGenConfig::default()).take(1_000);
        let sent = switchboard_tools::generate::kafka::produce_to_topic(
            &config.kafka.brokers,
            &config.topics.mentions,
            input,
            1_000,
            None,
        )
        .unwrap();
        assert_eq!(sent, 1_000);
        let events: Vec<RawRecord> = (0..1_537)
            .map(|i| RawRecord {
                key: Some(format!("w{}", i % 300).into_bytes()),
                payload: format!("{{\"work_item_id\":\"w{}\",\"revision\":{i}}}", i % 300)
                    .into_bytes(),
            })
            .collect();
        let mut expected = events.clone();
        switchboard_tools::generate::kafka::produce_to_topic(
            &config.kafka.brokers,
            &config.topics.work_items,
            events.into_iter(),
            1_537,
            None,
        )
        .unwrap();
        let (rate, delivered) =
            run_ceiling(&config, &kafka, "bench-ceiling-t", sent, partitions).unwrap();
        assert!(rate > 0.0, "{rate}");
        assert_eq!(delivered, 1_537);
        let mut got = read_output(&config, "bench-ceiling-t-out", partitions, "t-read")
            .unwrap()
            .events;
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
    }
}
