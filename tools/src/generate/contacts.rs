//! Synthetic CRM contact events (`crm-contacts`, SPEC "CRM contact events")
//! for the customers of a generated snapshot.
//!
//! Events come from small "stories" with consistent lifecycles: a call on
//! its own; a complaint form or call that opens a case, gets updates and is
//! closed; a fault case with engineer appointments booked, sometimes missed
//! and re-booked. Lifecycles are compressed (a case closes within hours)
//! so that they fit the time spans of demos and tests. Customers are picked with the same skew as mention
//! authors, so frequent posters also have CRM history. Output is ordered by
//! `occurred_at` and is a pure function of [`ContactGenConfig`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::crm::customer_id;
use super::enc::{mix, push_json_str, push_rfc3339_ms, Rng};
use crate::error::{Result, ToolsError};

/// Settings of the contact generator.
#[derive(Debug, Clone)]
pub struct ContactGenConfig {
    /// Seed (use the CRM snapshot's).
    pub seed: u64,
    /// Number of customers in the snapshot.
    pub customers: usize,
    /// Event time at which the first story starts, epoch ms UTC.
    pub start_ms: i64,
    /// Approximate mean rate of events in event time.
    pub events_per_sec: f64,
}

impl Default for ContactGenConfig {
    /// Seed 42, 100 000 customers, start 2026-11-22T08:00:00Z, 20 events/s.
    fn default() -> Self {
        Self {
            seed: 42,
            customers: 100_000,
            start_ms: 1_795_334_400_000,
            events_per_sec: 20.0,
        }
    }
}

/// One generated contact event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEvent {
    /// Kafka key: the `customer_id`.
    pub key: Vec<u8>,
    /// The event JSON (single line).
    pub payload: Vec<u8>,
    /// The `kind` field.
    pub kind: &'static str,
    /// The `case_id` field, if any.
    pub case_id: Option<String>,
    /// The `occurred_at` field, epoch ms UTC.
    pub occurred_at_ms: i64,
}

/// A step of a story: what happens, and how long after the previous step.
#[derive(Clone, Copy)]
struct Step {
    kind: &'static str,
    /// Delay range after the previous step, minutes.
    after_min: (u64, u64),
    channel: &'static str,
}

const fn step(kind: &'static str, lo: u64, hi: u64, channel: &'static str) -> Step {
    Step {
        kind,
        after_min: (lo, hi),
        channel,
    }
}

/// A story in progress: the next step is due at `due`.
struct Story {
    customer: usize,
    case: Option<u64>,
    category: &'static str,
    steps: Vec<Step>,
    next: usize,
    /// The case has been opened: later events carry its `case_id`.
    opened: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    t: i64,
    seq: u64,
    story: usize,
}

static CATEGORIES: [&str; 9] = [
    "broadband_fault",
    "billing",
    "network_outage",
    "engineer_appointment",
    "account_access",
    "switching_cancellation",
    "delivery",
    "complaint_escalation",
    "general_enquiry",
];
static CATEGORY_WEIGHTS: [u32; 9] = [28, 22, 6, 8, 8, 10, 6, 4, 8];

fn note(kind: &str, category: &str, rng: &mut Rng) -> &'static str {
    let opts: &[&'static str] = match kind {
        "call" => &[
            "Customer called about the issue, advised to restart hub",
            "Inbound call, customer upset, wants a callback",
            "Customer chasing progress; expectations set",
            "Call dropped before identification completed",
        ],
        "complaint_form" => &[
            "Complaint form received via website",
            "Customer unhappy with service and previous contacts",
            "Formal complaint submitted, requests compensation",
        ],
        "case_opened" => match category {
            "billing" => &[
                "Billing dispute opened",
                "Customer disputes charges on latest bill",
            ],
            "broadband_fault" | "network_outage" => &[
                "No broadband reported, line test started",
                "Intermittent connection reported, fault raised",
            ],
            "switching_cancellation" => &["Customer requests cancellation, passed to retention"],
            "complaint_escalation" => &["Customer mentions Ofcom / ombudsman, complaint escalated"],
            _ => &["Case opened", "Case opened from customer contact"],
        },
        "case_updated" => &[
            "Line test completed: fault found at cabinet",
            "Awaiting network team update",
            "Credit of GBP 15 applied as goodwill",
            "Customer informed of progress by SMS",
            "Escalated to second line",
        ],
        "case_closed" => &[
            "Resolved, customer confirmed service restored",
            "Resolved: refund processed",
            "Closed, no response from customer after 3 attempts",
            "Resolved at first contact",
        ],
        "appointment_booked" => &[
            "Engineer visit booked, AM slot 8am-1pm",
            "Engineer visit booked, PM slot 1pm-6pm",
            "Engineer visit re-booked, all-day slot",
        ],
        _ => &[
            "Engineer did not attend, customer informed",
            "Engineer no-access: customer not home",
        ],
    };
    rng.pick(opts)
}

/// Infinite iterator of contact events in `occurred_at` order.
pub struct ContactGenerator {
    cfg: ContactGenConfig,
    rng: Rng,
    clock_ms: f64,
    story_interval_ms: f64,
    skew: super::skew::Skew,
    stories: Vec<Option<Story>>,
    free: Vec<usize>,
    due: BinaryHeap<Reverse<Due>>,
    seq: u64,
    cases: u64,
    buf: String,
}

impl ContactGenerator {
    /// Creates a generator; the stream depends only on `cfg`.
    pub fn new(cfg: ContactGenConfig) -> Self {
        // About 2.8 events per story on average.
        let story_interval_ms = if cfg.events_per_sec > 0.0 {
            2.8 * 1000.0 / cfg.events_per_sec
        } else {
            1.0
        };
        Self {
            rng: Rng::new(mix(cfg.seed ^ 0x636F_6E74_6163_7473)),
            clock_ms: cfg.start_ms as f64,
            story_interval_ms,
            skew: super::skew::Skew::new(cfg.seed, cfg.customers),
            cfg,
            stories: Vec::new(),
            free: Vec::new(),
            due: BinaryHeap::new(),
            seq: 0,
            cases: 0,
            buf: String::with_capacity(512),
        }
    }

    fn start_story(&mut self) {
        self.clock_ms += self.story_interval_ms * (0.5 + self.rng.f64());
        let u = self.rng.f64();
        let customer = self.skew.pick(u);
        let mut category = CATEGORIES[self.rng.weighted(&CATEGORY_WEIGHTS)];
        let mut steps: Vec<Step> = Vec::with_capacity(8);
        let with_case = match self.rng.weighted(&[30, 25, 20, 20, 5]) {
            0 => {
                steps.push(step("call", 0, 0, "phone"));
                false
            }
            1 => {
                steps.push(step("complaint_form", 0, 0, "web_form"));
                steps.push(step("case_opened", 1, 30, "web_form"));
                for _ in 0..self.rng.below(3) {
                    steps.push(step("case_updated", 5, 60, "back_office"));
                }
                steps.push(step("case_closed", 30, 240, "back_office"));
                true
            }
            2 => {
                steps.push(step("call", 0, 0, "phone"));
                steps.push(step("case_opened", 0, 5, "phone"));
                if self.rng.chance(0.6) {
                    steps.push(step("case_updated", 5, 60, "back_office"));
                }
                if self.rng.chance(0.3) {
                    steps.push(step("call", 20, 120, "phone"));
                }
                steps.push(step("case_closed", 20, 180, "back_office"));
                true
            }
            3 => {
                category = if self.rng.chance(0.7) {
                    "broadband_fault"
                } else {
                    "engineer_appointment"
                };
                steps.push(step("call", 0, 0, "phone"));
                steps.push(step("case_opened", 0, 5, "phone"));
                steps.push(step("appointment_booked", 2, 30, "phone"));
                if self.rng.chance(0.3) {
                    steps.push(step("appointment_missed", 60, 300, "field"));
                    steps.push(step("call", 5, 60, "phone"));
                    steps.push(step("appointment_booked", 1, 20, "phone"));
                }
                steps.push(step("case_updated", 60, 300, "field"));
                steps.push(step("case_closed", 10, 60, "back_office"));
                true
            }
            _ => {
                steps.push(step("case_opened", 0, 0, "social"));
                steps.push(step("case_closed", 15, 120, "social"));
                true
            }
        };
        let case = if with_case {
            self.cases += 1;
            Some(self.cases)
        } else {
            None
        };
        let story = Story {
            customer,
            case,
            category,
            steps,
            next: 0,
            opened: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.stories[i] = Some(story);
                i
            }
            None => {
                self.stories.push(Some(story));
                self.stories.len() - 1
            }
        };
        self.seq += 1;
        self.due.push(Reverse(Due {
            t: self.clock_ms as i64,
            seq: self.seq,
            story: idx,
        }));
    }

    fn emit(&mut self, d: Due) -> ContactEvent {
        let story = self.stories[d.story].as_mut().expect("live story");
        let s = story.steps[story.next];
        story.next += 1;
        story.opened |= s.kind == "case_opened";
        let case = if story.opened { story.case } else { None };
        let (customer, category) = (story.customer, story.category);
        let more = story.next < story.steps.len();
        let next_step = if more {
            Some(story.steps[story.next])
        } else {
            None
        };
        if let Some(ns) = next_step {
            let (lo, hi) = ns.after_min;
            let delay = self.rng.range(lo * 60_000, hi * 60_000 + 59_000) as i64;
            self.seq += 1;
            self.due.push(Reverse(Due {
                t: d.t + delay,
                seq: self.seq,
                story: d.story,
            }));
        } else {
            self.stories[d.story] = None;
            self.free.push(d.story);
        }
        let cid = customer_id(customer);
        let case_id = case.map(|c| format!("CASE-{:08}", 10_000_000 + c));
        let b = &mut self.buf;
        b.clear();
        b.push_str("{\"event_id\":\"ce-");
        let h = mix(self.cfg.seed ^ mix(d.seq));
        for shift in (0..64).step_by(4).rev() {
            b.push(b"0123456789abcdef"[((h >> shift) & 0xF) as usize] as char);
        }
        b.push_str("\",\"customer_id\":\"");
        b.push_str(&cid);
        b.push_str("\",\"kind\":\"");
        b.push_str(s.kind);
        b.push_str("\",\"case_id\":");
        match &case_id {
            Some(c) => push_json_str(b, c),
            None => b.push_str("null"),
        }
        b.push_str(",\"category\":\"");
        b.push_str(category);
        b.push_str("\",\"occurred_at\":\"");
        push_rfc3339_ms(b, d.t);
        b.push_str("\",\"channel\":\"");
        b.push_str(s.channel);
        b.push_str("\",\"note\":");
        let n = note(s.kind, category, &mut self.rng);
        push_json_str(b, n);
        b.push('}');
        ContactEvent {
            key: cid.into_bytes(),
            payload: self.buf.as_bytes().to_vec(),
            kind: s.kind,
            case_id,
            occurred_at_ms: d.t,
        }
    }
}

impl Iterator for ContactGenerator {
    type Item = ContactEvent;

    fn next(&mut self) -> Option<ContactEvent> {
        loop {
            if let Some(Reverse(top)) = self.due.peek() {
                if (top.t as f64) <= self.clock_ms {
                    let Reverse(d) = self.due.pop().expect("peeked");
                    return Some(self.emit(d));
                }
            }
            self.start_story();
        }
    }
}

/// Writes `count` contact events to `path`, one JSON object per line;
/// returns the number of lines written.
pub fn write_contacts_jsonl(path: &Path, count: u64, cfg: &ContactGenConfig) -> Result<u64> {
    let file = File::create(path).map_err(|e| ToolsError::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut n = 0u64;
    for ev in ContactGenerator::new(cfg.clone()).take(count as usize) {
        w.write_all(&ev.payload)
            .map_err(|e| ToolsError::io(path, e))?;
        w.write_all(b"\n").map_err(|e| ToolsError::io(path, e))?;
        n += 1;
    }
    w.flush().map_err(|e| ToolsError::io(path, e))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(seed: u64) -> ContactGenConfig {
        ContactGenConfig {
            seed,
            customers: 5_000,
            ..ContactGenConfig::default()
        }
    }

    #[test]
    fn deterministic_and_ordered() {
        let a: Vec<_> = ContactGenerator::new(cfg(1)).take(5_000).collect();
        let b: Vec<_> = ContactGenerator::new(cfg(1)).take(5_000).collect();
        let c: Vec<_> = ContactGenerator::new(cfg(2)).take(5_000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a
            .windows(2)
            .all(|w| w[0].occurred_at_ms <= w[1].occurred_at_ms));
    }

    #[test]
    fn events_follow_the_spec_and_case_lifecycles_are_consistent() {
        let c = ContactGenConfig {
            events_per_sec: 2.0,
            ..cfg(3)
        };
        let evs: Vec<_> = ContactGenerator::new(c).take(20_000).collect();
        let kinds = [
            "complaint_form",
            "call",
            "case_opened",
            "case_updated",
            "case_closed",
            "appointment_booked",
            "appointment_missed",
        ];
        let mut state: HashMap<String, (String, &str)> = HashMap::new(); // case -> (customer, last kind)
        let mut seen_kinds = std::collections::HashSet::new();
        for e in &evs {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            for f in [
                "event_id",
                "customer_id",
                "kind",
                "case_id",
                "category",
                "occurred_at",
                "channel",
                "note",
            ] {
                assert!(v.get(f).is_some(), "missing {f}");
            }
            assert!(kinds.contains(&e.kind));
            seen_kinds.insert(e.kind);
            assert_eq!(v["customer_id"].as_str().unwrap().as_bytes(), &e.key[..]);
            chrono::DateTime::parse_from_rfc3339(v["occurred_at"].as_str().unwrap()).unwrap();
            if let Some(case) = &e.case_id {
                let cust = v["customer_id"].as_str().unwrap().to_string();
                match state.get(case) {
                    None => assert_eq!(e.kind, "case_opened", "{case} starts with {}", e.kind),
                    Some((c, last)) => {
                        assert_eq!(c, &cust, "case moved customer");
                        assert_ne!(*last, "case_closed", "event after close");
                        assert_ne!(e.kind, "case_opened", "opened twice");
                        if e.kind == "appointment_missed" {
                            assert_eq!(*last, "appointment_booked");
                        }
                    }
                }
                state.insert(case.clone(), (cust, e.kind));
            }
        }
        assert_eq!(seen_kinds.len(), kinds.len(), "{seen_kinds:?}");
    }

    #[test]
    fn jsonl_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        assert_eq!(write_contacts_jsonl(&p, 1_234, &cfg(4)).unwrap(), 1_234);
        let s = std::fs::read_to_string(&p).unwrap();
        assert_eq!(s.lines().count(), 1_234);
    }
}
