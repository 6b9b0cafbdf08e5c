//! Re-sending records whose delivery failed with a retriable error.
//!
//! librdkafka retries a retriable produce error itself, with backoff, until
//! `message.timeout.ms`; then the delivery fails. An output outage longer
//! than that used to stall the record's source partition until liveness
//! gave up and the platform restarted the process. Now a record that failed
//! retriably (timed out, not enough replicas, no leader, broker down) is
//! queued here and sent again after an exponential backoff (0.5 s doubling
//! to 30 s), with the same acknowledgement, for as long as it takes: its
//! source batch stays in flight, so `/readyz` reports `backpressure` and,
//! past `pipeline.liveness_stall_ms`, `/healthz` gives up as before. Each
//! re-send is counted in `switchboard_sink_retries_total{sink}`.
//!
//! Only non-transactional producers re-send: in a transaction a failed
//! delivery makes the transaction abort, and the keyed stage recovers by
//! reading its input again from the last commit.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Weak;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::Message;
use tracing::warn;

use crate::metrics as m;

/// The first re-send waits this long; each later one twice as long…
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// …up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What travels with a record through librdkafka (the sink's delivery
/// state), as the re-send queue needs it.
pub(crate) trait Retried: Send + Sync + 'static {
    /// Counts one more re-send; returns how many there have been.
    fn count_attempt(&mut self) -> u32;
    /// The `sink` label of the record's metrics.
    fn sink_label(&self) -> &'static str;
    /// Fails the source batch the record came from.
    fn fail(&self);
}

/// One record waiting to be sent again.
pub(crate) struct Pending<D> {
    topic: String,
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Option<OwnedHeaders>,
    delivery: Box<D>,
    due: Instant,
}

/// Whether a failed delivery may succeed when sent again: the cluster was
/// unreachable or could not take the write for a while.
pub(crate) fn is_retriable(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::MessageTimedOut
                | C::RequestTimedOut
                | C::NotEnoughReplicas
                | C::NotEnoughReplicasAfterAppend
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
                | C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::NetworkException
                | C::BrokerNotAvailable
                | C::ReplicaNotAvailable
                | C::UnknownTopicOrPartition
        )
    )
}

/// The wait before the `attempt`-th re-send (1-based).
pub(crate) fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(MAX_BACKOFF)
}

/// Queues `msg` (its delivery failed with a retriable error) to be sent
/// again; counts the re-send. Gives `delivery` back when the queue is
/// gone (the producer is shutting down): the caller fails it.
pub(crate) fn queue<D: Retried>(
    tx: &Sender<Pending<D>>,
    msg: &BorrowedMessage<'_>,
    mut delivery: Box<D>,
) -> Result<(), Box<D>> {
    let attempt = delivery.count_attempt();
    metrics::counter!(m::SINK_RETRIES, "sink" => delivery.sink_label()).increment(1);
    let pending = Pending {
        topic: msg.topic().to_string(),
        partition: (msg.partition() >= 0).then_some(msg.partition()),
        key: msg.key().map(<[u8]>::to_vec),
        payload: msg.payload().map(<[u8]>::to_vec),
        headers: msg.headers().map(|h| h.detach()),
        due: Instant::now() + backoff(attempt),
        delivery,
    };
    tx.send(pending).map_err(|e| e.0.delivery)?;
    metrics::gauge!(m::SINK_RESEND_PENDING).increment(1.0);
    Ok(())
}

/// Starts the thread that sends queued records again through `producer`;
/// it ends when the producer is gone. Records it can no longer send fail
/// their acknowledgement (their partitions stall, as without it).
pub(crate) fn spawn<C, D>(producer: Weak<ThreadedProducer<C>>, rx: Receiver<Pending<D>>)
where
    C: ProducerContext<DeliveryOpaque = Box<D>> + 'static,
    D: Retried,
{
    let spawned = std::thread::Builder::new()
        .name("sb-sink-resend".into())
        .spawn(move || {
            for p in rx {
                std::thread::sleep(p.due.saturating_duration_since(Instant::now()));
                metrics::gauge!(m::SINK_RESEND_PENDING).decrement(1.0);
                let Some(producer) = producer.upgrade() else {
                    p.delivery.fail();
                    continue;
                };
                send(&producer, p);
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the re-send thread: failed deliveries stall their partitions");
    }
}

/// Sends `p` again, waiting while the producer's queue is full.
fn send<C, D>(producer: &ThreadedProducer<C>, p: Pending<D>)
where
    C: ProducerContext<DeliveryOpaque = Box<D>> + 'static,
    D: Retried,
{
    let mut opaque = p.delivery;
    loop {
        let mut record: BaseRecord<'_, [u8], [u8], Box<D>> =
            BaseRecord::with_opaque_to(&p.topic, opaque);
        if let Some(v) = &p.payload {
            record = record.payload(v);
        }
        if let Some(k) = &p.key {
            record = record.key(k);
        }
        if let Some(part) = p.partition {
            record = record.partition(part);
        }
        if let Some(h) = &p.headers {
            record = record.headers(h.clone());
        }
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                opaque = r.delivery_opaque;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, r)) => {
                warn!(error = %e, topic = %p.topic, "cannot queue a record again; source partition stalls");
                r.delivery_opaque.fail();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_to_thirty() {
        let waits: Vec<u64> = (1..=9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn only_errors_that_can_clear_are_retried() {
        let p = |c| KafkaError::MessageProduction(c);
        assert!(is_retriable(&p(RDKafkaErrorCode::MessageTimedOut)));
        assert!(is_retriable(&p(RDKafkaErrorCode::NotEnoughReplicas)));
        assert!(!is_retriable(&p(RDKafkaErrorCode::MessageSizeTooLarge)));
        assert!(!is_retriable(&p(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(!is_retriable(&p(RDKafkaErrorCode::InvalidRecord)));
    }
}
