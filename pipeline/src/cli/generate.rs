//! `switchboard generate crm|mentions`: the synthetic data and load generator.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};

use super::format::fmt_count;
use switchboard_tools::generate::crm::{write_crm_snapshot, CrmGenConfig};
use switchboard_tools::generate::mentions::{
    write_mentions_jsonl, MentionGenConfig, MentionGenerator,
};

/// What to generate.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// A CRM snapshot version (customers + identities, Parquet) under DIR/<valid-from>/.
    Crm(CrmArgs),
    /// A mention firehose, to a JSONL file or to a Kafka topic.
    Mentions(MentionArgs),
}

/// `generate crm` arguments.
#[derive(Debug, Args)]
pub struct CrmArgs {
    /// Snapshot root directory (pass it to `--crm` as is).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of customers.
    #[arg(long)]
    pub customers: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Valid-from time of the version (RFC 3339); default: today 00:00 UTC.
    #[arg(long)]
    pub valid_from: Option<String>,
}

/// `generate mentions` arguments.
#[derive(Debug, Args)]
pub struct MentionArgs {
    /// Output JSONL file (one record per line).
    #[arg(long, conflicts_with = "topic", required_unless_present = "topic")]
    pub out: Option<PathBuf>,
    /// Kafka topic to produce to instead of a file.
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// Bootstrap servers for --topic.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Records per second when producing to a topic (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Number of records.
    #[arg(long)]
    pub count: u64,
    /// Seed; use the same as `generate crm --seed` so that authors match CRM identities.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Customers in the CRM the authors are drawn from (match `generate crm --customers`).
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Event time of the first mention (RFC 3339); default: 2026-11-22T08:00:00Z, so files are reproducible.
    #[arg(long)]
    pub start: Option<String>,
    /// Share of malformed records (0–1).
    #[arg(long, default_value_t = 0.01)]
    pub malformed_ratio: f64,
}

fn parse_time(flag: &str, s: &str) -> crate::Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            crate::PipelineError::Usage(format!("{flag} `{s}` is not an RFC 3339 time: {e}"))
        })
}

/// Runs a generate command.
pub fn run(cmd: GenerateCommand) -> crate::Result<()> {
    match cmd {
        GenerateCommand::Crm(a) => {
            let valid_from = match &a.valid_from {
                Some(s) => parse_time("--valid-from", s)?,
                None => chrono::Utc::now()
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight exists")
                    .and_utc(),
            };
            let t = Instant::now();
            let dir = write_crm_snapshot(
                &a.out,
                &CrmGenConfig {
                    customers: a.customers,
                    seed: a.seed,
                    valid_from,
                },
            )?;
            eprintln!(
                "wrote {} customers to {} in {:.2}s",
                fmt_count(a.customers as u64),
                dir.display(),
                t.elapsed().as_secs_f64()
            );
        }
        GenerateCommand::Mentions(a) => {
            if !(0.0..=1.0).contains(&a.malformed_ratio) {
                return Err(crate::PipelineError::Usage(format!(
                    "--malformed-ratio {} is not between 0 and 1",
                    a.malformed_ratio
                )));
            }
            let start = parse_time(
                "--start",
                a.start.as_deref().unwrap_or("2026-11-22T08:00:00Z"),
            )?;
            let cfg = MentionGenConfig {
                seed: a.seed,
                customers: a.customers,
                start_ms: start.timestamp_millis(),
                malformed_ratio: a.malformed_ratio,
                ..MentionGenConfig::default()
            };
            let t = Instant::now();
            let n = match (&a.out, &a.topic) {
                (Some(path), _) => write_mentions_jsonl(path, a.count, &cfg)?,
                (None, Some(topic)) => {
                    let brokers = a.brokers.as_deref().unwrap_or_default();
                    switchboard_tools::generate::kafka::produce_to_topic(
                        brokers,
                        topic,
                        MentionGenerator::new(cfg),
                        a.count,
                        a.rate,
                    )?
                }
                (None, None) => unreachable!("clap requires --out or --topic"),
            };
            eprintln!(
                "wrote {} records in {:.2}s",
                fmt_count(n),
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
