//! Every operator measured alike: [`Measured`] wraps an operator (either
//! trait) and counts, under its [`name`](Operator::name), the rows in and
//! out and the time spent in its calls (`switchboard_operator_rows_in_total`,
//! `…_rows_out_total`, `…_busy_seconds_total`, label `operator`). The
//! handles are resolved once, at build; a call costs two clock reads and
//! three atomic adds per batch.

use std::time::Instant;

use arrow::record_batch::RecordBatch;
use metrics::{Counter, Gauge};
use switchboard_operators::operator::{Operator, StateChange, StatefulOperator};
use switchboard_operators::Result;

use crate::metrics as m;

/// One operator's metric handles.
#[derive(Clone)]
pub struct OperatorMetrics {
    rows_in: Counter,
    rows_out: Counter,
    busy: Gauge,
}

impl OperatorMetrics {
    /// The handles of operator `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            rows_in: metrics::counter!(m::OPERATOR_ROWS_IN, "operator" => name),
            rows_out: metrics::counter!(m::OPERATOR_ROWS_OUT, "operator" => name),
            busy: metrics::gauge!(m::OPERATOR_BUSY, "operator" => name),
        }
    }

    /// Runs `f` on `batch`, counting its rows in, the rows of what it
    /// returns, and its time.
    #[inline]
    pub fn batch<E>(
        &self,
        batch: &RecordBatch,
        f: impl FnOnce(&RecordBatch) -> std::result::Result<RecordBatch, E>,
    ) -> std::result::Result<RecordBatch, E> {
        let started = Instant::now();
        let out = f(batch);
        self.busy.increment(started.elapsed().as_secs_f64());
        self.rows_in.increment(batch.num_rows() as u64);
        if let Ok(b) = &out {
            self.rows_out.increment(b.num_rows() as u64);
        }
        out
    }

    /// Runs `f`, counting its time only (a watermark, a contact).
    #[inline]
    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let r = f();
        self.busy.increment(started.elapsed().as_secs_f64());
        r
    }
}

/// An operator and its metrics. It is an operator of the same trait, so a
/// chain of `Measured` operators is driven exactly as the bare ones.
pub struct Measured<O> {
    inner: O,
    metrics: OperatorMetrics,
}

impl<O> Measured<O> {
    /// The operator (its own methods: stats, state size).
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The operator, mutably (restoring its state).
    pub fn inner_mut(&mut self) -> &mut O {
        &mut self.inner
    }

    /// The operator and its metric handles, to time a call that is not
    /// through the trait (a second input such as CRM contacts).
    pub fn parts(&mut self) -> (&mut O, &OperatorMetrics) {
        (&mut self.inner, &self.metrics)
    }
}

impl<O: Operator> Measured<O> {
    /// Wraps a stateless operator.
    pub fn new(inner: O) -> Self {
        let metrics = OperatorMetrics::new(inner.name());
        Self { inner, metrics }
    }
}

impl<O: StatefulOperator> Measured<O> {
    /// Wraps a stateful operator.
    pub fn stateful(inner: O) -> Self {
        let metrics = OperatorMetrics::new(inner.name());
        Self { inner, metrics }
    }
}

impl<O: Operator> Operator for Measured<O> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.metrics.batch(batch, |b| self.inner.process_batch(b))
    }
}

impl<O: StatefulOperator> StatefulOperator for Measured<O> {
    type Out = O::Out;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn process_batch(&mut self, batch: &RecordBatch, out: &mut Self::Out) -> Result<RecordBatch> {
        let inner = &mut self.inner;
        self.metrics.batch(batch, |b| inner.process_batch(b, out))
    }

    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    fn on_watermark(&mut self, watermark_ms: i64, out: &mut Self::Out) {
        let inner = &mut self.inner;
        self.metrics.time(|| inner.on_watermark(watermark_ms, out));
    }

    fn on_tick(&mut self, now_ms: i64, out: &mut Self::Out) {
        let inner = &mut self.inner;
        self.metrics.time(|| inner.on_tick(now_ms, out));
    }

    fn track_changes(&mut self, on: bool) {
        self.inner.track_changes(on);
    }

    fn checkpoint(&mut self) -> Vec<StateChange> {
        self.inner.checkpoint()
    }

    fn restore(&mut self, key: &str, state: Option<&[u8]>) -> Result<()> {
        self.inner.restore(key, state)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    struct Halve;
    impl Operator for Halve {
        fn name(&self) -> &'static str {
            "halve"
        }
        fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
            Ok(batch.slice(0, batch.num_rows() / 2))
        }
    }

    #[test]
    fn measured_counts_rows_in_and_out_and_time_under_the_operator_name() {
        let handle = crate::metrics::install();
        let op = Measured::new(Box::new(Halve) as Box<dyn Operator>);
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let col: ArrayRef = Arc::new(Int64Array::from((0..10).collect::<Vec<i64>>()));
        let batch = RecordBatch::try_new(schema, vec![col]).unwrap();
        assert_eq!(op.name(), "halve");
        assert_eq!(op.process_batch(&batch).unwrap().num_rows(), 5);
        assert_eq!(op.process_batch(&batch).unwrap().num_rows(), 5);
        let text = handle.render();
        let value = |name: &str| {
            let prefix = format!("{name}{{operator=\"halve\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.parse::<f64>().ok())
        };
        assert_eq!(value(m::OPERATOR_ROWS_IN), Some(20.0), "{text}");
        assert_eq!(value(m::OPERATOR_ROWS_OUT), Some(10.0));
        let busy = value(m::OPERATOR_BUSY).expect("busy time exported");
        assert!(busy > 0.0 && busy < 10.0, "busy {busy}");
    }
}
