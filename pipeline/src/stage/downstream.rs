//! The downstream stage: one thread, `sb-downstream`, that takes every
//! [`MentionEnvelope`] from the channel in arrival order, runs the stateful
//! operators ([`StatefulOperators`]) on it and emits what they produced to
//! `work-items` and `incidents` ([`Emitter`]).
//!
//! With the enrichment operators switched off (`pipeline.enrich = false`,
//! used by `bench`) the stage only acknowledges batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Gauge, Histogram};
use tracing::error;

use super::emit::{BatchObserver, Emitter, Observers, Sinks};
use super::envelope::MentionEnvelope;
use super::stateful::{Processed, StatefulOperators};
use crate::channel::{Recv, RowReceiver};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self as m, PipelineStats};
use crate::sink::events::{EventSink, Kind};

/// The running stage.
pub struct Downstream {
    ops: Option<StatefulOperators>,
    work_items: Option<Arc<EventSink>>,
    incidents: Option<Arc<EventSink>>,
    emitter: Emitter,
    /// Bound on the final flush of the sinks (`source.drain_timeout_ms`).
    drain_timeout: Duration,
}

/// The handles only the downstream thread sets.
struct Handles {
    spam_tracked: Gauge,
    e2e: Histogram,
    processing: Histogram,
    channel_rows: Gauge,
}

impl Downstream {
    /// Builds the stage; `enrich = false` makes it acknowledge only, and
    /// `work_items = false` makes it filter spam and acknowledge.
    pub fn build(config: &Config, stats: Arc<PipelineStats>) -> Result<Self> {
        let ops = if config.pipeline.enrich {
            Some(StatefulOperators::build(config)?)
        } else {
            None
        };
        let sink = |topic: &str, kind| EventSink::new(config, topic, kind).map(Arc::new);
        let (work_items, incidents) = if config.pipeline.enrich && config.pipeline.work_items {
            (
                Some(sink(&config.topics.work_items, Kind::WorkItems)?),
                Some(sink(&config.topics.incidents, Kind::Incidents)?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            ops,
            work_items,
            incidents,
            emitter: Emitter::new(stats),
            drain_timeout: Duration::from_millis(config.source.drain_timeout_ms),
        })
    }

    /// Replaces the observers.
    pub fn set_observers(&mut self, observers: Observers) {
        self.emitter.observers = observers;
    }

    /// Replaces the batch observer only.
    pub fn set_batch_observer(&mut self, observer: Option<BatchObserver>) {
        self.emitter.observers.batches = observer;
    }

    /// The output sinks (flushed by the source when partitions are revoked).
    pub fn sinks(&self) -> Vec<Arc<EventSink>> {
        [&self.work_items, &self.incidents]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Receives until the channel closes, then flushes the sinks.
    pub fn run(mut self, rx: RowReceiver<MentionEnvelope>) {
        let handles = Handles {
            spam_tracked: metrics::gauge!(m::SPAM_TRACKED_TEXTS),
            e2e: metrics::histogram!(m::E2E_LATENCY),
            processing: metrics::histogram!(m::PROCESSING_LATENCY),
            channel_rows: metrics::gauge!(m::CHANNEL_ROWS),
        };
        let mut last_state_publish = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Recv::Item(env) => self.on_envelope(env, &handles),
                Recv::Timeout => {}
                Recv::Closed => break,
            }
            handles.channel_rows.set(rx.queued_rows() as f64);
            if last_state_publish.elapsed() >= Duration::from_secs(2) {
                self.publish_state();
                last_state_publish = Instant::now();
            }
        }
        for s in [&self.work_items, &self.incidents].into_iter().flatten() {
            s.flush(self.drain_timeout);
        }
        self.publish_state();
    }

    fn on_envelope(&mut self, env: MentionEnvelope, handles: &Handles) {
        let MentionEnvelope {
            batch,
            contacts,
            ack,
            oldest_record_ms,
            consumed_at,
        } = env;
        let rows_in = batch.num_rows();
        let processed = match self.ops.as_mut() {
            Some(ops) => match ops.process(&batch, &contacts, self.emitter.take_events()) {
                Ok(p) => p,
                Err(e) => {
                    // A programming fault, not data: keep the input uncommitted.
                    error!(error = %e, "downstream stage failed; batch not acknowledged");
                    ack.fail();
                    return;
                }
            },
            None => Processed {
                batch: Some(batch),
                ..Default::default()
            },
        };
        if let Some(ops) = &self.ops {
            handles.spam_tracked.set(ops.spam_tracked_texts() as f64);
        }
        let sinks = Sinks {
            work_items: self.work_items.as_deref(),
            incidents: self.incidents.as_deref(),
        };
        self.emitter.emit(rows_in, processed, sinks, &ack);
        handles
            .processing
            .record(consumed_at.elapsed().as_secs_f64());
        if let Some(ts) = oldest_record_ms {
            let now = chrono::Utc::now().timestamp_millis();
            handles.e2e.record(((now - ts).max(0) as f64) / 1000.0);
        }
        drop(ack);
    }

    fn publish_state(&self) {
        let Some(ops) = &self.ops else { return };
        let st = ops.correlator().stats();
        metrics::gauge!(m::CORRELATE_KEYS).set(st.keys as f64);
        metrics::gauge!(m::CORRELATE_OPEN_ITEMS).set(st.items_open as f64);
        for (sev, n) in ["P1", "P2", "P3", "P4"]
            .iter()
            .zip(st.items_open_without_case)
        {
            metrics::gauge!(m::CORRELATE_OPEN_ITEMS_WITHOUT_CASE, "severity" => *sev).set(n as f64);
        }
        metrics::gauge!(m::CORRELATE_STATE_BYTES).set(st.approx_state_bytes as f64);
        metrics::counter!(m::CORRELATE_LATE, "kind" => "mention").absolute(st.late_mentions);
        metrics::counter!(m::CORRELATE_LATE, "kind" => "contact").absolute(st.late_contacts);
        if let Some(w) = ops.correlator().watermark() {
            let now = chrono::Utc::now().timestamp_millis();
            metrics::gauge!(m::CORRELATE_WATERMARK_LAG).set(((now - w).max(0) as f64) / 1e3);
        }
        metrics::gauge!(m::INCIDENTS_OPEN).set(ops.incidents().open_incidents() as f64);
    }
}
