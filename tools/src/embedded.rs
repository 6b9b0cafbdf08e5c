//! The embedded broker: librdkafka's in-process mock cluster. It speaks the
//! real Kafka protocol on 127.0.0.1 ports, so any client (or another
//! process) can connect. It has no CreateTopics: topics are created here.
//!
//! Its retention is fixed inside librdkafka: a partition keeps about 5 MB
//! (older message sets are deleted as new ones arrive). Demo, bench and
//! tests size partitions accordingly and [`EmbeddedKafka::check_retained`]
//! refuses to measure a topic that lost records.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::error::Result;

/// An in-process Kafka-protocol broker cluster; stops when dropped.
pub struct EmbeddedKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedKafka {
    /// Starts a cluster of `brokers` brokers.
    pub fn start(brokers: i32) -> Result<Self> {
        Ok(Self {
            cluster: MockCluster::new(brokers)?,
        })
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        self.cluster.create_topic(name, partitions, 1)?;
        Ok(())
    }

    /// Takes broker `id` (1-based) down: its connections are closed and
    /// refused until [`EmbeddedKafka::broker_up`] (outage tests).
    pub fn broker_down(&self, id: i32) -> Result<()> {
        self.cluster.broker_down(id)?;
        Ok(())
    }

    /// Brings broker `id` back after [`EmbeddedKafka::broker_down`].
    pub fn broker_up(&self, id: i32) -> Result<()> {
        self.cluster.broker_up(id)?;
        Ok(())
    }

    /// Makes the next `n` produce requests fail with a retriable error
    /// (`NOT_ENOUGH_REPLICAS`): the output side stalls while the input side
    /// keeps serving (backpressure tests). [`EmbeddedKafka::clear_produce_errors`]
    /// ends it.
    pub fn fail_produce_requests(&self, n: usize) {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let errs = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; n];
        self.cluster.request_errors(RDKafkaApiKey::Produce, &errs);
    }

    /// Ends [`EmbeddedKafka::fail_produce_requests`].
    pub fn clear_produce_errors(&self) {
        self.cluster
            .clear_request_errors(rdkafka::types::RDKafkaApiKey::Produce);
    }

    /// Fails if the broker's retention already deleted records of `topic`
    /// (its log start offset moved past 0 on some partition).
    pub fn check_retained(&self, topic: &str, partitions: i32) -> Result<()> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let probe: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()?;
        for p in 0..partitions {
            let (low, _) = probe.fetch_watermarks(topic, p, std::time::Duration::from_secs(10))?;
            if low > 0 {
                return Err(crate::ToolsError::Runtime(format!(
                    "the embedded broker deleted {low} records of {topic}[{p}] (it keeps about 5 MB per partition): use more partitions or fewer records"
                )));
            }
        }
        Ok(())
    }

    /// Creates each topic of `names` with `partitions` partitions.
    pub fn create_topics(&self, names: &[&str], partitions: i32) -> Result<()> {
        for name in names {
            self.create_topic(name, partitions)?;
        }
        Ok(())
    }
}
