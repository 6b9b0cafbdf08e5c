//! The envelope between the stateless and the stateful stage: an enriched
//! batch, the CRM contacts read with it, and the acknowledgement of the
//! source records it came from.

use std::time::Instant;

use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::ContactEvent;

use crate::channel::Rows;
use crate::state::offsets::Ack;

/// A parsed batch on its way downstream, with the acknowledgement of the
/// source records it came from.
pub struct MentionEnvelope {
    /// Normalized mentions (`mention_schema`), enriched in the worker.
    pub batch: RecordBatch,
    /// CRM contact events consumed in the same source batch.
    pub contacts: Vec<ContactEvent>,
    /// Drop (or fail) when everything derived from this batch is acknowledged.
    pub ack: Ack,
    /// Oldest Kafka record timestamp in the batch, ms since the epoch.
    pub oldest_record_ms: Option<i64>,
    /// When the first record of the batch was consumed.
    pub consumed_at: Instant,
}

impl Rows for MentionEnvelope {
    fn rows(&self) -> usize {
        self.batch.num_rows() + self.contacts.len()
    }
}
