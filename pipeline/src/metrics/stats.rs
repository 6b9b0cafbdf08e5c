//! Each pipeline's own totals, for progress lines, summaries, the
//! `pipeline stopped` log line and tests.
//!
//! A fact is counted once: a [`Tally`] adds to a total here and to the
//! exported Prometheus counters in the same call, so the two cannot drift.
//! The totals exist beside the Prometheus registry because that registry
//! is one per process, while several pipelines may run in one process
//! (tests, `switchboard bench`), each accounting for its own input.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::Counter;

use super::names::{
    CONTACTS_DROPPED, CORRELATE_DUPLICATES, INCIDENT_EVENTS, SOURCE_ERRORS, WORK_ITEM_EVENTS,
};

/// One of a pipeline's totals, shared with the [`Tally`]s that count it.
pub type Total = Arc<AtomicU64>;

/// A fact counted once: adds to a pipeline's [`Total`] and to the exported
/// counters (several where the metrics name one fact twice, such as
/// records read from a topic and records into the parse stage).
#[derive(Clone)]
pub struct Tally {
    total: Total,
    exported: Box<[Counter]>,
}

impl Tally {
    /// Counts into `total` and `exported`.
    pub fn new(total: &Total, exported: impl IntoIterator<Item = Counter>) -> Self {
        Self {
            total: total.clone(),
            exported: exported.into_iter().collect(),
        }
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.total.fetch_add(n, Ordering::Relaxed);
        for c in self.exported.iter() {
            c.increment(n);
        }
    }
}

/// The totals of one pipeline, shared by all its workers and stages.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Records consumed from the mention topic.
    pub records_in: Total,
    /// Payload bytes consumed.
    pub bytes_in: Total,
    /// Records parsed, by format index.
    pub parsed_by_format: [Total; 4],
    /// Mention rows produced by parse.
    pub mentions: Total,
    /// Records sent to the DLQ, by reason index.
    pub dlq_by_reason: [Total; 6],
    /// Non-actionable entries dropped (counted).
    pub non_actionable: Total,
    /// Mentions dropped as spam (counted).
    pub spam_dropped: Total,
    /// Enrichment failures (batch left unacknowledged).
    pub enrich_errors: Total,
    /// Mention rows past the spam filter, acknowledged by the terminal
    /// stage: the rows that reached the correlator (duplicates included).
    pub mentions_out: Total,
    /// Consumer errors delivered in-band.
    pub consumer_errors: Total,
    /// CRM contact events consumed (parsed).
    pub contacts_in: Total,
    /// CRM contact records sent to the DLQ.
    pub contacts_rejected: Total,
    /// CRM contact events dropped for a time outside the accepted event
    /// times (counted drop).
    pub contacts_dropped: Total,
    /// Mentions the correlator skipped as duplicates (a counted drop).
    pub duplicate_mentions: Total,
    /// Incidents opened.
    pub incidents_opened: Total,
    /// Incidents closed.
    pub incidents_closed: Total,
    /// Work-item events by (queue, severity, action).
    work_item_events: Mutex<BTreeMap<(String, String, &'static str), Total>>,
}

impl PipelineStats {
    /// Records sent to the DLQ, all reasons.
    pub fn dlq_total(&self) -> u64 {
        self.dlq_by_reason
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Records parsed, all formats.
    pub fn parsed_total(&self) -> u64 {
        self.parsed_by_format
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Counts a CRM contact event dropped for a time outside the accepted
    /// event times: `switchboard_contacts_dropped_total{reason="bad_timestamp"}`.
    pub fn contact_bad_timestamp(&self) {
        Tally::new(
            &self.contacts_dropped,
            [metrics::counter!(CONTACTS_DROPPED, "reason" => "bad_timestamp")],
        )
        .add(1);
    }

    /// Counts a consumer error delivered in the fetch stream.
    pub fn fetch_error(&self) {
        Tally::new(
            &self.consumer_errors,
            [metrics::counter!(SOURCE_ERRORS, "kind" => "fetch")],
        )
        .add(1);
    }

    /// The tally of work-item events of one (queue, severity, action): its
    /// own total and `switchboard_workitems_events_total{queue,severity,action}`.
    /// Resolve it once per label set (it takes a lock and a registry lookup).
    pub fn work_item_tally(&self, queue: &str, severity: &str, action: &'static str) -> Tally {
        let total = self
            .work_item_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((queue.to_owned(), severity.to_owned(), action))
            .or_default()
            .clone();
        let queue = queue.to_owned();
        let severity = severity.to_owned();
        Tally::new(
            &total,
            [
                metrics::counter!(WORK_ITEM_EVENTS, "queue" => queue, "severity" => severity, "action" => action),
            ],
        )
    }

    /// The tallies of incident events: opened, closed.
    pub fn incident_tallies(&self) -> [Tally; 2] {
        [
            (&self.incidents_opened, "opened"),
            (&self.incidents_closed, "closed"),
        ]
        .map(|(t, a)| Tally::new(t, [metrics::counter!(INCIDENT_EVENTS, "action" => a)]))
    }

    /// The tally of duplicate mentions, and the counter of duplicate
    /// contacts (which no summary reads).
    pub fn duplicate_tallies(&self) -> (Tally, Counter) {
        (
            Tally::new(
                &self.duplicate_mentions,
                [metrics::counter!(CORRELATE_DUPLICATES, "kind" => "mention")],
            ),
            metrics::counter!(CORRELATE_DUPLICATES, "kind" => "contact"),
        )
    }

    /// Work-item and incident totals, as of now.
    pub fn work_items(&self) -> WorkItemTotals {
        let mut t = WorkItemTotals {
            incidents_opened: self.incidents_opened.load(Ordering::Relaxed),
            incidents_closed: self.incidents_closed.load(Ordering::Relaxed),
            mentions_correlated: self.mentions_out.load(Ordering::Relaxed),
            duplicate_mentions: self.duplicate_mentions.load(Ordering::Relaxed),
            ..WorkItemTotals::default()
        };
        let events = self
            .work_item_events
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((queue, severity, action), n) in events.iter() {
            let n = n.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            *t.by_action.entry(action).or_insert(0) += n;
            if *action == "created" {
                *t.created_by_queue_severity
                    .entry((queue.clone(), severity.clone()))
                    .or_insert(0) += n;
            }
        }
        t
    }
}

/// Work-item totals for progress lines and summaries (bounded: labels only),
/// read from [`PipelineStats::work_items`].
#[derive(Debug, Default, Clone)]
pub struct WorkItemTotals {
    /// Events by action.
    pub by_action: BTreeMap<&'static str, u64>,
    /// `created` events by (queue, severity).
    pub created_by_queue_severity: BTreeMap<(String, String), u64>,
    /// Incidents opened.
    pub incidents_opened: u64,
    /// Incidents closed.
    pub incidents_closed: u64,
    /// Mention rows that reached the correlator (duplicates included).
    pub mentions_correlated: u64,
    /// Of those, mentions skipped as duplicates (a counted drop).
    pub duplicate_mentions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tally adds to its total; the work-item totals read the tallies.
    #[test]
    fn tallies_feed_the_totals_the_summaries_read() {
        let stats = PipelineStats::default();
        let created = stats.work_item_tally("billing", "P2", "created");
        created.add(2);
        stats.work_item_tally("billing", "P2", "updated").add(1);
        // Resolved again, the same total.
        stats.work_item_tally("billing", "P2", "created").add(1);
        stats.work_item_tally("outage", "P1", "created").add(0);
        let [opened, _] = stats.incident_tallies();
        opened.add(1);
        stats.duplicate_tallies().0.add(4);
        stats.mentions_out.fetch_add(10, Ordering::Relaxed);
        let t = stats.work_items();
        assert_eq!(t.by_action.get("created"), Some(&3));
        assert_eq!(t.by_action.get("updated"), Some(&1));
        assert_eq!(t.created_by_queue_severity.len(), 1, "{t:?}");
        assert_eq!(
            t.created_by_queue_severity[&("billing".into(), "P2".into())],
            3
        );
        assert_eq!((t.incidents_opened, t.incidents_closed), (1, 0));
        assert_eq!((t.mentions_correlated, t.duplicate_mentions), (10, 4));
    }
}
