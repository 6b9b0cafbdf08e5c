//! The bench's input: the firehose produced to the run's broker, and the
//! CRM snapshot the join loops read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{MentionGenConfig, MentionGenerator};

use super::broker::Broker;
use crate::cli::format::fmt_count;
use crate::config::Config;

/// What the firehose is made of.
pub(super) struct Firehose {
    /// Records produced.
    pub records: u64,
    /// Partitions of the mention topic.
    pub partitions: i32,
    /// Seed of the synthetic data.
    pub seed: u64,
    /// Customers the authors are drawn from.
    pub customers: usize,
}

/// Produces the bench's input (the same records for every run: same seed,
/// same start time); returns the count and the average record size.
pub(super) fn produce_input(
    config: &Config,
    kafka: &Broker,
    input: &Firehose,
    runs: usize,
    start_ms: i64,
) -> crate::Result<(u64, f64)> {
    let gen_cfg = MentionGenConfig {
        seed: input.seed,
        customers: input.customers,
        start_ms,
        ..MentionGenConfig::default()
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let b2 = bytes.clone();
    // Keyed by sequence number, so the records spread evenly over the
    // partitions (authors are skewed, and unkeyed records are batched into one
    // partition at a time: either would overfill partitions of the embedded broker).
    let mut seq = 0u64;
    let gen = MentionGenerator::new(gen_cfg).map(move |mut r| {
        b2.fetch_add(r.payload.len() as u64, Ordering::Relaxed);
        seq += 1;
        r.key = Some(seq.to_string().into_bytes());
        r
    });
    let t = Instant::now();
    let sent = switchboard_tools::generate::kafka::produce_to_topic(
        &config.kafka.brokers,
        &config.topics.mentions,
        gen,
        input.records,
        None,
    )?;
    let avg = bytes.load(Ordering::Relaxed) as f64 / sent.max(1) as f64;
    kafka.check_retained(&config.topics.mentions, input.partitions)?;
    eprintln!(
        "bench: {} records ({avg:.0} bytes on average) in {} partitions, produced in {:.1}s; {} worker(s); {} run(s) each",
        fmt_count(sent),
        input.partitions,
        t.elapsed().as_secs_f64(),
        config.source.worker_count(),
        runs
    );
    Ok((sent, avg))
}

/// A fresh directory under the system temp dir, named after the process.
fn tempfile_dir(prefix: &str) -> crate::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| crate::PipelineError::io(&d, e))?;
    Ok(d)
}

/// Writes the CRM snapshot of `customers` customers to a fresh directory;
/// returns the directory.
pub(super) fn write_crm(customers: usize, seed: u64) -> crate::Result<std::path::PathBuf> {
    let crm_dir = tempfile_dir("switchboard-bench-crm")?;
    let t = Instant::now();
    write_crm_snapshot(
        &crm_dir,
        &CrmGenConfig {
            customers,
            seed,
            valid_from: chrono::Utc::now() - chrono::Duration::days(1),
        },
    )?;
    eprintln!(
        "bench: CRM snapshot of {} customers written in {:.1}s",
        fmt_count(customers as u64),
        t.elapsed().as_secs_f64()
    );
    Ok(crm_dir)
}
