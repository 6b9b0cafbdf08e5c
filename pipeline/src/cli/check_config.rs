//! `switchboard check-config --config FILE` and `switchboard config --config FILE`.

use crate::config::Config;

/// Loads and validates the config; prints a short summary when it is valid.
pub fn run(args: super::ConfigArg) -> crate::Result<()> {
    let c = Config::load(&args.config)?;
    println!(
        "config OK: brokers {} · group {} · mentions `{}` → DLQ `{}` · {} worker(s) · metrics {}",
        c.kafka.brokers,
        c.kafka.group_id,
        c.topics.mentions,
        c.topics.dlq,
        c.source.worker_count(),
        if c.metrics.addr.is_empty() {
            "off".to_string()
        } else {
            c.metrics.addr.clone()
        }
    );
    Ok(())
}

/// Prints the effective config (defaults, the file, the environment
/// overrides) as TOML; values of secret keys are masked.
pub fn print_effective(args: super::ConfigArg) -> crate::Result<()> {
    let c = Config::load(&args.config)?;
    print!("{}", c.to_masked_toml()?);
    Ok(())
}
