//! Sinks: Kafka producers for outputs: the dead-letter queue, and JSON
//! events (work items, incidents).

pub mod dlq;
pub mod events;

/// Producer configuration shared by all output sinks: idempotent, acks=all.
pub fn producer_config(config: &crate::config::Config) -> rdkafka::ClientConfig {
    let mut c = config.client_properties();
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", config.sink.linger_ms.to_string())
        .set(
            "message.timeout.ms",
            config.sink.message_timeout_ms.to_string(),
        )
        .set("compression.type", &config.sink.compression);
    c
}
