//! The `switchboard` binary: parse the command line, run, and turn any error
//! into one line on stderr and a non-zero exit.

use clap::Parser;
use switchboard::cli::{dispatch, Cli};

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,switchboard=info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs in files and collectors stay
        // plain `key=value`.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal failure: {info}");
    }));
    if let Err(e) = dispatch(cli) {
        let e = anyhow::Error::from(e);
        // One line, whatever the underlying error printed (TOML errors carry
        // a multi-line snippet).
        let text = format!("{e:#}");
        let line: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        eprintln!("error: {}", line.join(" "));
        std::process::exit(1);
    }
}
