//! The bench's figures: each loop's rate in every run, and the table (and
//! JSON line) of their medians and ratios.

use crate::cli::format::fmt_count;
use crate::config::Delivery;

/// Issue 4's target for the + enrichment loop, as a share of the limit
/// loop's rate; the bench prints the enrichment budget it leaves.
const ENRICH_TARGET: f64 = 0.5;

/// Each loop's rate in every run, records/s.
#[derive(Default)]
pub(super) struct Rates {
    /// Where the loops ran (embedded broker or external cluster).
    pub broker: String,
    /// Records read by every loop.
    pub sent: u64,
    /// Their average size in bytes.
    pub avg_bytes: f64,
    pub consume: Vec<f64>,
    pub limit: Vec<f64>,
    pub ingest: Vec<f64>,
    pub join: Vec<f64>,
    pub enrich: Vec<f64>,
    pub full: Vec<f64>,
    pub ceiling: Vec<f64>,
    /// `keyed[k]`: with k + 1 instances.
    pub keyed: Vec<Vec<f64>>,
}

/// Prints the medians and ratios of `rates` over `runs` runs (and one JSON
/// line with `json`).
pub(super) fn print(rates: &Rates, runs: usize, delivery: Delivery, json: bool) {
    let r = rates;
    let (c, l, i, j, e, f, x) = (
        median(&r.consume),
        median(&r.limit),
        median(&r.ingest),
        median(&r.join),
        median(&r.enrich),
        median(&r.full),
        median(&r.ceiling),
    );
    println!(
        "records/s (median of {} runs, {} records of {:.0} B avg, {}):",
        runs,
        fmt_count(r.sent),
        r.avg_bytes,
        r.broker
    );
    println!("  consume-only              {:>12}", fmt_count(c as u64));
    println!("  limit loop                {:>12}", fmt_count(l as u64));
    println!(
        "  pipeline, ingest only     {:>12}   (parse to Arrow, DLQ, offset tracking, commits)",
        fmt_count(i as u64)
    );
    println!(
        "  pipeline, + identity join {:>12}   (ingest + as-of CRM join)",
        fmt_count(j as u64)
    );
    println!(
        "  pipeline, + enrichment    {:>12}   (+ language, sentiment, category, spam)",
        fmt_count(e as u64)
    );
    println!(
        "  pipeline, full            {:>12}   (+ severity, incidents, routing, correlation, work-item sink)",
        fmt_count(f as u64)
    );
    println!(
        "  output ceiling            {:>12}   (limit loop + producing the full loop's work-item events)",
        fmt_count(x as u64)
    );
    println!("  ingest/limit              {:>11.1} %", 100.0 * i / l);
    println!("  ingest+join/limit         {:>11.1} %", 100.0 * j / l);
    println!("  +enrichment/limit         {:>11.1} %", 100.0 * e / l);
    println!("  full/limit                {:>11.1} %", 100.0 * f / l);
    println!("  output ceiling/limit      {:>11.1} %", 100.0 * x / l);
    println!("  full/output ceiling       {:>11.1} %", 100.0 * f / x);
    let keyed_medians: Vec<f64> = r.keyed.iter().map(|k| median(k)).collect();
    for (k, m) in keyed_medians.iter().enumerate() {
        println!(
            "  keyed, {} instance(s)      {:>12}   ({:.1} % of limit; repartition + keyed stage + changelog, {:?})",
            k + 1,
            fmt_count(*m as u64),
            100.0 * m / l,
            delivery
        );
    }
    println!("  limit/consume             {:>11.1} %", 100.0 * l / c);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (enrich_us, budget_us) = enrichment_cost_and_budget(cores, l, j, e, ENRICH_TARGET);
    println!(
        "  enrichment cost           {:>11.2} core-µs/record   ({cores} cores × (1/+enrichment − 1/+join))",
        enrich_us
    );
    println!(
        "  enrichment budget         {:>11.2} core-µs/record   (for +enrichment at {:.0} % of limit)",
        budget_us,
        100.0 * ENRICH_TARGET
    );
    if json {
        println!(
            "{}",
            serde_json::json!({"broker": r.broker, "records": r.sent, "avg_bytes": r.avg_bytes, "runs": runs, "consume_per_s": c, "limit_per_s": l,
                "ingest_per_s": i, "join_per_s": j, "enrich_per_s": e, "full_per_s": f, "ingest_over_limit": i / l, "join_over_limit": j / l, "enrich_over_limit": e / l,
                "full_over_limit": f / l, "limit_over_consume": l / c,
                "ceiling_per_s": x, "ceiling_over_limit": x / l, "ceiling_runs": r.ceiling,
                "cores": cores, "enrich_core_us_per_record": enrich_us, "enrich_budget_core_us_per_record": budget_us,
                "consume_runs": r.consume, "limit_runs": r.limit, "ingest_runs": r.ingest, "join_runs": r.join, "enrich_runs": r.enrich, "full_runs": r.full,
                "keyed_per_s_by_instances": keyed_medians, "keyed_runs": r.keyed})
        );
    }
}

/// Core-microseconds per record of a loop running at `rate` records/s with
/// `cores` busy cores. The bench's loops are CPU-bound on their host (every
/// core busy), so this is what one record costs in that loop.
fn core_us_per_record(cores: f64, rate: f64) -> f64 {
    cores * 1e6 / rate
}

/// The enrichment stage's cost and budget, in core-µs per record: what the
/// enrichment loop spends over the identity-join loop, and what it may spend
/// for the enrichment loop to reach `target` × the limit loop's rate
/// (negative when even the join loop is below the target).
fn enrichment_cost_and_budget(
    cores: f64,
    limit: f64,
    join: f64,
    enrich: f64,
    target: f64,
) -> (f64, f64) {
    let join_us = core_us_per_record(cores, join);
    (
        core_us_per_record(cores, enrich) - join_us,
        core_us_per_record(cores, target * limit) - join_us,
    )
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn enrichment_cost_and_budget_from_rates() {
        // 2 cores: join 500k/s = 4 µs, enrich 250k/s = 8 µs, limit 800k/s,
        // so 50 % of it is 400k/s = 5 µs: cost 4 µs, budget 1 µs.
        let (cost, budget) = super::enrichment_cost_and_budget(2.0, 800e3, 500e3, 250e3, 0.5);
        assert!((cost - 4.0).abs() < 1e-9, "{cost}");
        assert!((budget - 1.0).abs() < 1e-9, "{budget}");
        // A join loop already under the target leaves a negative budget.
        let (_, budget) = super::enrichment_cost_and_budget(2.0, 800e3, 300e3, 250e3, 0.5);
        assert!(budget < 0.0, "{budget}");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
