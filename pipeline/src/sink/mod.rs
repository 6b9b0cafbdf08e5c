//! Sinks: Kafka producers for outputs: the dead-letter queue, and JSON
//! events (work items, incidents).

pub mod dlq;
pub mod events;
pub mod limits;
mod resend;

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
    // Each producer's queue holds at most an eighth of the memory budget
    // (librdkafka's default is 1 GiB); a full queue blocks the sender, which
    // is backpressure up to the source. Overridable.
    let kb = (config.pipeline.memory_budget_kb() / 8).clamp(1024, 1_048_576);
    config.client_default(&mut c, "queue.buffering.max.kbytes", kb.to_string());
    c
}
