//! The demo's closing summary: every record accounted for, the identity
//! join, work items and incidents, examples, sentiment and categories.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard_operators::parse::Format;
use switchboard_operators::severity::SeverityLevel;

use super::observed::Observed;
use crate::cli::format::fmt_count;
use crate::metrics::exposition::Scrape;
use crate::metrics::{PipelineStats, E2E_LATENCY, SOURCE_CONSUMER_LAG};
use crate::stage::parse_worker::dlq_reason_label;
use crate::state::crm::CrmState;

/// What the summary reports on.
pub(super) struct Run<'a> {
    /// Mentions produced.
    pub sent: u64,
    /// From the first record produced until the pipeline caught up.
    pub elapsed: Duration,
    /// Whether it caught up within the grace period.
    pub caught_up: bool,
    /// The signal that stopped the demo early, if one did.
    pub interrupted: Option<&'static str>,
    /// The pipeline's totals.
    pub stats: &'a PipelineStats,
    /// The CRM state, when the identity join ran.
    pub crm: Option<&'a CrmState>,
    /// The snapshot version written while running, and when (seconds in).
    pub second_version: Option<(PathBuf, f64)>,
    /// What the observers collected.
    pub observed: &'a Observed,
    /// `/metrics` as it reads at the end (latency histogram, consumer lag).
    pub scrape: &'a Scrape,
}

/// Prints the summary.
pub(super) fn print(r: &Run<'_>) {
    records(r);
    latency_and_lag(r);
    if let Some(crm) = r.crm {
        identity_join(crm, r.second_version.as_ref());
    }
    work_items(r);
    example_items(r.observed);
    sentiment_and_examples(r.observed);
}

/// Records in, mentions out, counted drops, the DLQ, accounted.
fn records(r: &Run<'_>) {
    let stats = r.stats;
    let consumed = stats.records_in.load(Ordering::Relaxed);
    println!();
    println!("Summary");
    println!(
        "  produced {} · consumed {} in {:.1}s · {} records/s on average{}",
        fmt_count(r.sent),
        fmt_count(consumed),
        r.elapsed.as_secs_f64(),
        fmt_count((consumed as f64 / r.elapsed.as_secs_f64()) as u64),
        match (r.interrupted, r.caught_up) {
            (Some(signal), _) => format!(" (stopped early by {signal})"),
            (None, true) => String::new(),
            (None, false) => " (did not catch up within 60 s)".into(),
        }
    );
    println!(
        "  mentions out      {}",
        fmt_count(stats.mentions_out.load(Ordering::Relaxed))
    );
    for f in Format::ALL {
        println!(
            "    {:<16}{:>10} records",
            f.as_str(),
            fmt_count(stats.parsed_by_format[f.index()].load(Ordering::Relaxed))
        );
    }
    println!("  counted drops     {} non-actionable entries (reactions, deletions), {} spam/bot mentions", fmt_count(stats.non_actionable.load(Ordering::Relaxed)), fmt_count(stats.spam_dropped.load(Ordering::Relaxed)));
    println!("  dead-letter queue {}", fmt_count(stats.dlq_total()));
    for (i, c) in stats.dlq_by_reason.iter().enumerate() {
        let n = c.load(Ordering::Relaxed);
        if n > 0 {
            println!("    {:<16}{:>10}", dlq_reason_label(i), fmt_count(n));
        }
    }
    let accounted = stats.parsed_total() + stats.dlq_total();
    println!(
        "  accounted         {} of {} records (parsed + DLQ)",
        fmt_count(accounted),
        fmt_count(consumed)
    );
}

/// End-to-end latency quantiles, from the histogram `/metrics` serves
/// (per batch: Kafka timestamp of its oldest record → its work items
/// handed to the producer), and the lag left at the end.
fn latency_and_lag(r: &Run<'_>) {
    let q = |p| r.scrape.histogram_quantile(E2E_LATENCY, p);
    match (q(0.5), q(0.99)) {
        (Some(p50), Some(p99)) => println!(
            "  latency           p50 {} · p99 {} end to end (record timestamp → work items out; {} batches)",
            fmt_seconds(p50),
            fmt_seconds(p99),
            fmt_count(r.scrape.sum(&format!("{E2E_LATENCY}_count")) as u64)
        ),
        _ => println!("  latency           no batch went through yet"),
    }
    let consumed = r.stats.records_in.load(Ordering::Relaxed);
    println!(
        "  lag at the end    {} mentions produced but not consumed · consumer lag {} records (librdkafka's last report)",
        fmt_count(r.sent.saturating_sub(consumed)),
        fmt_count(r.scrape.sum(SOURCE_CONSUMER_LAG).max(0.0) as u64)
    );
}

/// Seconds as `850 µs`, `12.5 ms` or `1.25 s`.
fn fmt_seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Matches by channel, misses by reason, snapshot versions.
fn identity_join(crm: &CrmState, second_version: Option<&(PathBuf, f64)>) {
    let it = crm.totals();
    println!(
        "  identity join     {} of {} mentions matched to a CRM customer ({:.1} %)",
        fmt_count(it.hits),
        fmt_count(it.rows),
        it.hit_rate() * 100.0
    );
    let mut by_channel: BTreeMap<&str, (u64, u64)> = Default::default();
    for ((ch, res), n) in &it.by_channel_result {
        let e = by_channel.entry(ch).or_default();
        e.1 += n;
        if *res == "hit" {
            e.0 += n;
        }
    }
    for (ch, (hits, rows)) in by_channel {
        println!(
            "    {:<16}{:>10} of {:>10} matched ({:.1} %)",
            ch,
            fmt_count(hits),
            fmt_count(rows),
            100.0 * hits as f64 / rows.max(1) as f64
        );
    }
    for (res, n) in it.by_result() {
        if res != "hit" {
            println!("    miss: {:<10}{:>10}", res, fmt_count(n));
        }
    }
    let versions: Vec<String> = crm
        .join()
        .status()
        .versions
        .iter()
        .map(|v| v.name.clone())
        .collect();
    println!(
        "    snapshot versions loaded {} (in service: {}){}",
        it.snapshot_loads,
        versions.join(", "),
        match second_version {
            Some((v, at)) => format!(
                "; {} written at {:.0}s and swapped in while running",
                v.file_name().unwrap_or_default().to_string_lossy(),
                at
            ),
            None => String::new(),
        }
    );
}

/// Work items created and revised, by queue and severity; incidents; the
/// mention accounting.
fn work_items(r: &Run<'_>) {
    let stats = r.stats;
    let w = stats.work_items();
    let created = w.by_action.get("created").copied().unwrap_or(0);
    println!(
        "  work items        {} created from {} mentions and {} CRM contact events; revisions: {}",
        fmt_count(created),
        fmt_count(w.mentions_correlated - w.duplicate_mentions),
        fmt_count(stats.contacts_in.load(Ordering::Relaxed)),
        w.by_action
            .iter()
            .map(|(a, n)| format!("{a} {}", fmt_count(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut queues: BTreeMap<&str, [u64; 4]> = Default::default();
    for ((q, sev), n) in &w.created_by_queue_severity {
        let i = SeverityLevel::parse(sev).map_or(3, |l| l as usize);
        queues.entry(q.as_str()).or_default()[i] += n;
    }
    println!(
        "    {:<24}{:>8}{:>8}{:>8}{:>8}",
        "queue (created)", "P1", "P2", "P3", "P4"
    );
    for (q, c) in &queues {
        println!(
            "    {:<24}{:>8}{:>8}{:>8}{:>8}",
            q,
            fmt_count(c[0]),
            fmt_count(c[1]),
            fmt_count(c[2]),
            fmt_count(c[3])
        );
    }
    println!(
        "  incidents         {} opened, {} closed",
        w.incidents_opened, w.incidents_closed
    );
    for e in r
        .observed
        .incidents
        .lock()
        .expect("incidents poisoned")
        .iter()
        .filter(|e| e.action == "opened")
        .take(5)
    {
        println!(
            "    {} in {} from {} ({} outage mentions in the window, baseline {:.1})",
            e.incident_id, e.region, e.opened_at, e.window_mentions, e.baseline_per_window
        );
    }
    println!(
        "  accounted         {} mentions = {} in work items + {} duplicates + {} spam (DLQ and non-actionable above)",
        fmt_count(stats.mentions.load(Ordering::Relaxed)),
        fmt_count(w.mentions_correlated - w.duplicate_mentions),
        fmt_count(w.duplicate_mentions),
        fmt_count(stats.spam_dropped.load(Ordering::Relaxed))
    );
}

/// A few work items with their reasons.
fn example_items(observed: &Observed) {
    println!("  example work items");
    for e in observed.items.lock().expect("examples poisoned").iter() {
        let who = e
            .customer
            .as_ref()
            .map(|c| {
                format!(
                    "{} ({}, {}{})",
                    c.customer_id,
                    c.segment.as_deref().unwrap_or("?"),
                    c.tier.as_deref().unwrap_or("?"),
                    if c.vulnerable == Some(true) {
                        ", vulnerable"
                    } else {
                        ""
                    }
                )
            })
            .unwrap_or_else(|| "unidentified".into());
        println!(
            "    {} rev {} {} → {} · {} priority {} · {} · {} mention(s){}",
            e.work_item_id,
            e.revision,
            e.action.as_str(),
            e.queue,
            e.severity,
            e.priority,
            who,
            e.mentions.len(),
            e.related_case_id
                .as_deref()
                .map(|c| format!(" · case {c}"))
                .unwrap_or_default()
        );
        for r in &e.reasons {
            println!("        {r}");
        }
    }
}

/// Sentiment shares, categories, example mentions.
fn sentiment_and_examples(observed: &Observed) {
    let t = observed.tallies.lock().expect("tallies poisoned");
    let total = t.rows.max(1) as f64;
    println!(
        "  sentiment         {:.1} % negative · {:.1} % neutral · {:.1} % positive · {:.1} % not English",
        100.0 * t.negative as f64 / total,
        100.0 * (t.rows - t.negative - t.positive) as f64 / total,
        100.0 * t.positive as f64 / total,
        100.0 * t.non_english as f64 / total
    );
    println!("  categories");
    let mut cats: Vec<_> = t.categories.iter().collect();
    cats.sort_by(|a, b| b.1.cmp(a.1));
    for (c, n) in cats {
        println!("    {:<24}{:>10}", c, fmt_count(*n));
    }
    drop(t);
    println!("  example mentions");
    for e in observed.rows.lock().expect("examples poisoned").iter() {
        println!("    {e}");
    }
}
