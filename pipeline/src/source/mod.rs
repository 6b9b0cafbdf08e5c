//! Sources: the group consumer that reads the streams the stages process
//! (the mentions and contacts for the parse workers; the repartition and
//! contacts topics for the keyed stage), its worker threads and batched
//! polls, and its flow control. The stages (`stage/`) implement
//! [`kafka::WorkerHandler`]; the tables read to their end (identity
//! updates, the changelog) belong to `state/`.
//!
//! - [`kafka`]: [`kafka::KafkaSource`]: subscribe, run the control thread
//!   and the workers;
//! - [`context`]: rebalances (queue forwarding, drain and commit on
//!   revocation), statistics, the consumer's configuration;
//! - [`batch`]: the workers' librdkafka queues and polled batches;
//! - [`flow`]: the memory guard and the backpressure condition.

pub mod batch;
pub mod context;
pub mod flow;
pub mod kafka;
