//! Measures loading one CRM snapshot version with `load_snapshot`: wall
//! time and resident memory before/after (`VmRSS`, peak `VmHWM` from
//! `/proc/self/status`), entries and the index's approximate size.
//!
//! Run: `cargo run --release -p switchboard-benches --bin crm_load -- DIR [RUNS]`
//! where DIR is a version directory (`…/2026-11-22T00-00-00Z`) or a snapshot
//! root (its newest version is used).

use std::path::PathBuf;
use std::time::Instant;

use switchboard_operators::identity_join::{list_versions, load_snapshot, IdentityJoinConfig};

/// `VmRSS` and `VmHWM` in MiB (0 where unavailable).
fn mem() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: crm_load DIR [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let dir = match list_versions(&dir) {
        Ok(v) if !v.is_empty() => v.last().map(|(_, p)| p.clone()).unwrap_or(dir),
        _ => dir,
    };
    let cfg = IdentityJoinConfig::default();
    for run in 1..=runs {
        let (rss0, hwm0) = mem();
        let t = Instant::now();
        let snap = match load_snapshot(&dir, &cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let (rss1, hwm1) = mem();
        let ix = &snap.index;
        println!(
            "run {run}: {} in {secs:.3} s: {} customers, {} entries ({} ambiguous, {} skipped), \
             approx {:.1} MiB; RSS {rss0:.1} -> {rss1:.1} MiB (+{:.1}), peak {hwm0:.1} -> {hwm1:.1} MiB (+{:.1})",
            snap.name,
            ix.customer_count(),
            ix.entries(),
            ix.ambiguous_entries(),
            snap.skipped_identities,
            ix.approx_bytes() as f64 / (1024.0 * 1024.0),
            rss1 - rss0,
            hwm1 - hwm0,
        );
        drop(snap);
    }
}
