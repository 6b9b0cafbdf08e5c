//! What one frame of `top` shows, computed from two readings of an
//! instance: totals from the newer one, rates from the difference over the
//! time between them (never negative: a restarted instance's counters
//! start again, its first rates are 0).

use std::collections::BTreeMap;

use switchboard_operators::operator::names as operator;

use super::fetch::Reading;
use crate::cli::format::fmt_count;
use crate::metrics::exposition::Scrape;
use crate::metrics::{self as m, stage};

/// The stages in the order records flow through them.
const STAGES: [&str; 6] = [
    stage::PARSE,
    stage::ENRICH,
    stage::IDENTITY,
    stage::SPAM,
    stage::SINK,
    stage::DLQ,
];

/// One stage's row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StageRow {
    pub(super) name: &'static str,
    pub(super) in_per_sec: f64,
    pub(super) out_per_sec: f64,
    pub(super) in_total: f64,
    pub(super) out_total: f64,
}

/// One operator's row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OperatorRow {
    pub(super) name: &'static str,
    pub(super) in_per_sec: f64,
    pub(super) out_per_sec: f64,
    /// Time inside the operator per second of wall time, in % of one core.
    pub(super) busy_pct: f64,
    pub(super) in_total: f64,
}

/// One frame.
#[derive(Debug, Clone, Default)]
pub(super) struct View {
    /// The instance's address.
    pub(super) addr: String,
    /// `/readyz`'s answer, or why the instance could not be read.
    pub(super) status: String,
    /// Seconds between the two readings (0 for the first frame).
    pub(super) interval_s: f64,
    pub(super) stages: Vec<StageRow>,
    pub(super) operators: Vec<OperatorRow>,
    /// Labelled lines: Kafka, DLQ, drops, memory, CRM, work items, latency.
    pub(super) lines: Vec<(&'static str, String)>,
}

/// Reads the totals and rates of a pair of readings.
struct Pair<'a> {
    cur: &'a Scrape,
    prev: Option<&'a Scrape>,
    dt: f64,
}

impl Pair<'_> {
    fn rate_of(&self, f: impl Fn(&Scrape) -> f64) -> f64 {
        match self.prev {
            Some(p) if self.dt > 0.0 => ((f(self.cur) - f(p)) / self.dt).max(0.0),
            _ => 0.0,
        }
    }
    fn rate(&self, name: &str) -> f64 {
        self.rate_of(|s| s.sum(name))
    }
    fn rate_where(&self, name: &str, label: &str, value: &str) -> f64 {
        self.rate_of(|s| s.sum_where(name, label, value))
    }
}

impl View {
    /// The frame of the reading `cur`, with rates since `prev`.
    pub(super) fn new(addr: &str, prev: Option<&Reading>, cur: &Reading) -> Self {
        let dt = prev.map_or(0.0, |p| cur.at.duration_since(p.at).as_secs_f64());
        let pair = Pair {
            cur: &cur.scrape,
            prev: prev.map(|p| &p.scrape),
            dt,
        };
        let s = &cur.scrape;
        let stages = STAGES
            .iter()
            .filter(|st| {
                s.series(m::STAGE_RECORDS_IN)
                    .any(|x| x.label("stage") == Some(**st))
            })
            .map(|&name| StageRow {
                name,
                in_per_sec: pair.rate_where(m::STAGE_RECORDS_IN, "stage", name),
                out_per_sec: pair.rate_where(m::STAGE_RECORDS_OUT, "stage", name),
                in_total: s.sum_where(m::STAGE_RECORDS_IN, "stage", name),
                out_total: s.sum_where(m::STAGE_RECORDS_OUT, "stage", name),
            })
            .collect();
        let operators = operator::ALL
            .iter()
            .filter(|op| {
                s.series(m::OPERATOR_ROWS_IN)
                    .any(|x| x.label("operator") == Some(**op))
            })
            .map(|&name| OperatorRow {
                name,
                in_per_sec: pair.rate_where(m::OPERATOR_ROWS_IN, "operator", name),
                out_per_sec: pair.rate_where(m::OPERATOR_ROWS_OUT, "operator", name),
                busy_pct: 100.0 * pair.rate_where(m::OPERATOR_BUSY, "operator", name),
                in_total: s.sum_where(m::OPERATOR_ROWS_IN, "operator", name),
            })
            .collect();
        Self {
            addr: addr.to_string(),
            status: cur.ready.clone(),
            interval_s: dt,
            stages,
            operators,
            lines: lines(&pair),
        }
    }

    /// The frame shown while the instance cannot be read.
    pub(super) fn unreachable(addr: &str, why: &str) -> Self {
        Self {
            addr: addr.to_string(),
            status: format!("unreachable: {why}"),
            ..Self::default()
        }
    }
}

/// A rate: `12.5/s`, `1,234/s`.
pub(super) fn fmt_rate(r: f64) -> String {
    if r >= 1000.0 {
        format!("{}/s", fmt_count(r as u64))
    } else {
        format!("{r:.1}/s")
    }
}

/// Totals of `name` by the values of `label`, largest first.
fn by_label(s: &Scrape, name: &str, label: &str) -> Vec<(String, f64)> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for x in s.series(name) {
        *out.entry(x.label(label).unwrap_or("-").to_string())
            .or_default() += x.value;
    }
    let mut v: Vec<_> = out.into_iter().filter(|(_, n)| *n > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// `a 3 · b 2` of the first `n` entries.
fn listed(v: &[(String, f64)], n: usize) -> String {
    let items: Vec<String> = v
        .iter()
        .take(n)
        .map(|(k, x)| format!("{k} {}", fmt_count(*x as u64)))
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(" · ")
    }
}

fn mib(bytes: f64) -> String {
    format!("{} MiB", fmt_count((bytes / 1048576.0) as u64))
}

/// The labelled lines under the tables.
fn lines(p: &Pair<'_>) -> Vec<(&'static str, String)> {
    let s = p.cur;
    let lag = by_label(s, m::SOURCE_CONSUMER_LAG, "topic");
    let paused = s.sum(m::SOURCE_PAUSED) > 0.0;
    let kafka = format!(
        "lag {} records ({}) · {} partitions · consumption {}",
        fmt_count(s.sum(m::SOURCE_CONSUMER_LAG) as u64),
        listed(&lag, 3),
        fmt_count(s.sum(m::SOURCE_ASSIGNED_PARTITIONS) as u64),
        if paused { "PAUSED (memory)" } else { "running" }
    );
    let dlq = format!(
        "{} · {} total ({})",
        fmt_rate(p.rate(m::DLQ_RECORDS)),
        fmt_count(s.sum(m::DLQ_RECORDS) as u64),
        listed(&by_label(s, m::DLQ_RECORDS, "reason"), 4)
    );
    let drops = format!(
        "parse {} · spam {} · contacts {}",
        listed(&by_label(s, m::PARSE_DROPPED, "reason"), 2),
        fmt_count(s.sum(m::SPAM_DROPPED) as u64),
        fmt_count(s.sum(m::CONTACTS_DROPPED) as u64)
    );
    let (rss, budget) = (s.sum(m::MEMORY_RSS), s.sum(m::MEMORY_BUDGET));
    let memory = if budget > 0.0 {
        format!(
            "RSS {} of {} budget ({:.0} %)",
            mib(rss),
            mib(budget),
            100.0 * rss / budget
        )
    } else {
        format!("RSS {} (no budget set)", mib(rss))
    };
    let lookups = s.sum(m::IDENTITY_LOOKUPS);
    let hits = s.sum_where(m::IDENTITY_LOOKUPS, "result", "hit");
    let crm = if lookups > 0.0 {
        format!(
            "{:.1} % matched ({} of {}) · snapshot age {}",
            100.0 * hits / lookups,
            fmt_count(hits as u64),
            fmt_count(lookups as u64),
            humantime::format_duration(std::time::Duration::from_secs(
                s.sum(m::IDENTITY_SNAPSHOT_AGE).max(0.0) as u64
            ))
        )
    } else {
        "no lookups yet".into()
    };
    let created: Vec<(String, f64)> = s
        .series(m::WORK_ITEM_EVENTS)
        .filter(|x| x.label("action") == Some("created"))
        .fold(BTreeMap::<String, f64>::new(), |mut acc, x| {
            *acc.entry(x.label("severity").unwrap_or("-").to_string())
                .or_default() += x.value;
            acc
        })
        .into_iter()
        .collect();
    let items = format!(
        "{} events · {} total · created by severity: {}",
        fmt_rate(p.rate(m::WORK_ITEM_EVENTS)),
        fmt_count(s.sum(m::WORK_ITEM_EVENTS) as u64),
        listed(&created, 5)
    );
    let queues = listed(&by_label(s, m::WORK_ITEM_EVENTS, "queue"), 4);
    let q = |x| s.histogram_quantile(m::E2E_LATENCY, x);
    let latency = match (q(0.5), q(0.99)) {
        (Some(a), Some(b)) => format!(
            "p50 {:.0} ms · p99 {:.0} ms end to end (since start)",
            a * 1e3,
            b * 1e3
        ),
        _ => "no batch yet".into(),
    };
    vec![
        ("Kafka", kafka),
        ("DLQ", dlq),
        ("Drops", drops),
        ("Memory", memory),
        ("CRM", crm),
        ("Work items", items),
        ("Queues", queues),
        ("Latency", latency),
    ]
}
