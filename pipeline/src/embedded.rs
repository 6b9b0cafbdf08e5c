//! The embedded broker: librdkafka's in-process mock cluster. It speaks the
//! real Kafka protocol on 127.0.0.1 ports, so any client (or another
//! process) can connect. It has no CreateTopics: topics are created here.

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
        Ok(Self { cluster: MockCluster::new(brokers)? })
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

    /// Creates every topic of a config (mentions with `partitions`, the rest with 1… or `partitions`).
    pub fn create_topics(&self, topics: &crate::config::TopicsConfig, partitions: i32) -> Result<()> {
        self.create_topic(&topics.mentions, partitions)?;
        self.create_topic(&topics.dlq, partitions)?;
        self.create_topic(&topics.crm_contacts, partitions)?;
        self.create_topic(&topics.crm_identity_updates, partitions)?;
        self.create_topic(&topics.work_items, partitions)?;
        self.create_topic(&topics.incidents, 1)?;
        Ok(())
    }
}
