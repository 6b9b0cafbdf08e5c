//! What the demo keeps of what the pipeline produced, for its summary: a
//! few example work items, the incidents, running tallies over the
//! mentions that left the pipeline and a few example rows.

use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray};
use arrow::record_batch::RecordBatch;
use switchboard_operators::correlate::WorkItemEvent;
use switchboard_operators::incident::IncidentEvent;
use switchboard_operators::schema::col;

use crate::topology::{BatchObserver, Observers};

/// What the observers collected.
#[derive(Default)]
pub(super) struct Observed {
    /// A few urgent work items and one of each other severity.
    pub(super) items: Mutex<Vec<WorkItemEvent>>,
    /// Every incident event.
    pub(super) incidents: Mutex<Vec<IncidentEvent>>,
    /// Tallies over the mentions after the spam filter.
    pub(super) tallies: Mutex<Tallies>,
    /// A few example rows, described.
    pub(super) rows: Mutex<Vec<String>>,
}

impl Observed {
    /// The observers of work items and incidents, and the batch observer,
    /// all collecting into `self`.
    pub(super) fn observers(self: &Arc<Self>) -> (Observers, BatchObserver) {
        let (items, incidents, batches) = (self.clone(), self.clone(), self.clone());
        let observers = Observers {
            batches: None,
            work_items: Some(Box::new(move |e: &WorkItemEvent| {
                let mut ex = items.items.lock().expect("examples poisoned");
                // Keep a few urgent ones, and one of each other severity.
                let urgent = matches!(e.severity.as_str(), "P1" | "P2") && ex.len() < 4;
                let new_sev = !ex.iter().any(|x| x.severity == e.severity) && ex.len() < 6;
                if e.revision >= 2 && (urgent || new_sev) && !e.reasons.is_empty() {
                    ex.push(e.clone());
                }
            })),
            incidents: Some(Box::new(move |e: &IncidentEvent| {
                incidents
                    .incidents
                    .lock()
                    .expect("incidents poisoned")
                    .push(e.clone());
            })),
        };
        let batch_observer: BatchObserver = Box::new(move |b: &RecordBatch| {
            batches.tallies.lock().expect("tallies poisoned").add(b);
            let mut ex = batches.rows.lock().expect("examples poisoned");
            if ex.len() < 6 && b.num_rows() > 0 {
                ex.push(describe_row(b, 0));
            }
        });
        (observers, batch_observer)
    }
}

/// Running totals over the mentions that left the pipeline.
#[derive(Default)]
pub(super) struct Tallies {
    pub(super) rows: u64,
    pub(super) negative: u64,
    pub(super) positive: u64,
    pub(super) non_english: u64,
    pub(super) categories: std::collections::HashMap<String, u64>,
}

impl Tallies {
    fn add(&mut self, b: &RecordBatch) {
        use arrow::datatypes::Float32Type;
        self.rows += b.num_rows() as u64;
        if let Some(c) = b
            .column_by_name(col::SENTIMENT_COMPOUND)
            .and_then(|c| c.as_primitive_opt::<Float32Type>())
        {
            self.negative += c.iter().flatten().filter(|v| *v <= -0.05).count() as u64;
            self.positive += c.iter().flatten().filter(|v| *v >= 0.05).count() as u64;
        }
        if let Some(e) = b
            .column_by_name(col::IS_ENGLISH)
            .and_then(|c| c.as_boolean_opt())
        {
            self.non_english += (e.len() - e.true_count()) as u64;
        }
        if let Some(c) = b
            .column_by_name(col::CATEGORY)
            .and_then(|c| c.as_string_opt::<i32>())
        {
            for v in c.iter().flatten() {
                *self.categories.entry(v.to_string()).or_default() += 1;
            }
        }
    }
}

/// One row of a batch in one line: channel, author, customer, text.
fn describe_row(b: &RecordBatch, i: usize) -> String {
    let s = |name: &str| -> String {
        b.column_by_name(name)
            .and_then(|c| {
                c.as_string_opt::<i32>().map(|a| {
                    if a.is_null(i) {
                        "-".to_string()
                    } else {
                        a.value(i).to_string()
                    }
                })
            })
            .unwrap_or_default()
    };
    let mut text = s(col::TEXT).replace('\n', " ");
    if text.chars().count() > 90 {
        text = text.chars().take(87).collect::<String>() + "…";
    }
    let author = {
        let h = s(col::AUTHOR_HANDLE);
        if h == "-" {
            s(col::AUTHOR_ID)
        } else {
            h
        }
    };
    let who = match s(col::CUSTOMER_ID).as_str() {
        "-" | "" => "unmatched".to_string(),
        id => format!(
            "{id}, {} {}",
            s(col::CUSTOMER_SEGMENT),
            s(col::CUSTOMER_TIER)
        ),
    };
    format!("[{}] {} ({}): {}", s(col::CHANNEL), author, who, text)
}
