//! The `switchboard` command line (SPEC "Commands").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod bench;
pub mod check_config;
pub mod demo;
pub mod files;
pub mod format;
pub mod generate;
pub mod process;
pub mod run;
pub mod score;
pub mod tap;
pub mod top;

/// Switchboard: social customer-care stream processing for telcos.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on an embedded broker with synthetic data.
    Demo(demo::DemoArgs),
    /// Production mode against external brokers, until SIGTERM/SIGINT.
    Run(RunArgs),
    /// Generate synthetic CRM snapshots and mention firehoses.
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// Validate a config file; errors name the offending key.
    CheckConfig(ConfigArg),
    /// Print the effective config (file, then environment overrides) as TOML, secrets masked.
    Config(ConfigArg),
    /// Score texts (or mentions as JSON lines) from stdin: sentiment, category, spam, language.
    Score(score::ScoreArgs),
    /// Print a live sample of the work items (and DLQ records) a deployment emits.
    Tap(tap::TapArgs),
    /// A live terminal view of a running instance from its /metrics: stage and operator rates, lag, DLQ, readiness.
    Top(top::TopArgs),
    /// Run the same operators on files, no Kafka: mentions (and contacts) in, work items out. Deterministic.
    Process(process::ProcessArgs),
    /// Measure consume-only, the bare consume+parse limit loop and the pipeline on the embedded broker.
    Bench(bench::BenchArgs),
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file (TOML); `SWITCHBOARD__SECTION__KEY` environment variables override it.
    #[arg(long)]
    pub config: PathBuf,
}

/// A config file argument.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Config file (TOML).
    #[arg(long)]
    pub config: PathBuf,
}

/// The tooling's errors (generators, embedded broker) as the CLI reports
/// them: the same variants, so the same one-line messages.
impl From<switchboard_tools::ToolsError> for crate::PipelineError {
    fn from(e: switchboard_tools::ToolsError) -> Self {
        use switchboard_tools::ToolsError as T;
        match e {
            T::Kafka(e) => Self::Kafka(e),
            T::Io { path, source } => Self::Io { path, source },
            T::Arrow(e) => Self::Arrow(e),
            T::Parquet(e) => Self::Parquet(e),
            T::Runtime(s) => Self::Runtime(s),
        }
    }
}

/// Runs a parsed command.
pub fn dispatch(cli: Cli) -> crate::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Generate(g) => generate::run(g),
        Command::CheckConfig(a) => check_config::run(a),
        Command::Config(a) => check_config::print_effective(a),
        Command::Bench(a) => bench::run(a),
        Command::Score(a) => score::run(a),
        Command::Process(a) => process::run(a),
        Command::Tap(a) => tap::run(a),
        Command::Top(a) => top::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        Cli::try_parse_from(["switchboard", "demo", "--duration", "5s", "--rate", "100"]).unwrap();
        assert!(Cli::try_parse_from(["switchboard", "demo", "--duration", "soon"]).is_err());
    }
}
