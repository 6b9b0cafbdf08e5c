//! Stages: what runs on the records between a source and a sink.
//!
//! ```text
//! source::kafka (group consumer) ─► parse_worker: parse → stateless chain
//!   (language, sentiment, category, identity join, severity), DLQ
//!        │ envelope (enriched batch + contacts + ack)
//!        ▼ channel (rows: backpressure)
//!   downstream (thread `sb-downstream`): the stateful operators
//!   (spam, incidents, route, correlate) → emit → work items, incidents
//! ```
//!
//! With `pipeline.keyed_stage` the parse workers send each enriched batch
//! to the repartition topic instead, and [`keyed`] runs the stateful
//! operators per partition with their state in a changelog topic.
//! Both stateful variants account for and send what the operators produced
//! through [`emit::Emitter`].

pub mod downstream;
pub mod emit;
pub mod envelope;
pub mod keyed;
pub mod measured;
pub mod parse_worker;
pub mod stateful;
pub mod stateless;
