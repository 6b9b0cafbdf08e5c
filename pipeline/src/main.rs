//! The `switchboard` binary: parse the command line, run, and turn any error
//! into one line on stderr and a non-zero exit.

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use switchboard::cli::{dispatch, Cli};

/// jemalloc instead of glibc malloc: Arrow batches are built on the worker
/// threads and freed on the downstream thread, and glibc spent about 40 %
/// of that thread's time in `_int_malloc`, `malloc_consolidate` and `free`
/// (docs/decisions.md, "Allocator"). librdkafka keeps glibc's malloc.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its first allocation: freed pages go
/// back to the OS after 250 ms (not its default 10 s), from a background
/// thread, so that the resident set the memory guard reads follows what
/// is live.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 59] = b"background_thread:true,dirty_decay_ms:250,muzzy_decay_ms:0\0";

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            // Asked-for output: printed as clap renders it, exit 0.
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
            _ => {
                let args: Vec<String> = std::env::args().collect();
                eprintln!("error: {}", one_line_usage_error(&e.to_string(), &args));
                std::process::exit(2);
            }
        },
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,switchboard=info")),
        )
        // Registered secrets (config values of password/secret/token/key
        // properties) are masked in every log line.
        .with_writer(switchboard::config::secrets::RedactingStderr)
        // Colour only on a terminal: logs in files and collectors stay
        // plain `key=value`.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
    switchboard::metrics::panics::install_hook();
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
        eprintln!(
            "error: {}",
            switchboard::config::secrets::redact(&line.join(" "))
        );
        std::process::exit(1);
    }
}

/// The subcommand path `args` names (`switchboard generate crm`), as far as
/// it goes: each word that is a subcommand of the one before.
fn command_path(args: &[String]) -> String {
    let mut cmd = Cli::command();
    let mut path = vec!["switchboard".to_string()];
    for a in args.iter().skip(1) {
        let Some(sub) = cmd.find_subcommand(a).cloned() else {
            break;
        };
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    path.join(" ")
}

/// A command-line error as clap renders it (the error, a tip, a usage block,
/// a pointer to `--help`, over several lines) as one line: the error, its
/// continuation lines and tips, then the `--help` of the command `args`
/// named. A missing subcommand renders as that command's whole help text;
/// it becomes "no command given".
fn one_line_usage_error(rendered: &str, args: &[String]) -> String {
    let cmd = command_path(args);
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(first) = lines.first().and_then(|l| l.strip_prefix("error: ")) else {
        return if cmd == "switchboard" {
            "no command given; try 'switchboard --help'".into()
        } else {
            format!("'{cmd}' needs a command; try '{cmd} --help'")
        };
    };
    let mut out = first.trim_end_matches(':').to_string();
    let mut sep = if first.ends_with(':') { ": " } else { "; " };
    for l in lines[1..]
        .iter()
        .take_while(|l| !l.starts_with("Usage: ") && !l.starts_with("For more information"))
    {
        out.push_str(sep);
        out.push_str(l);
        sep = if l.starts_with("tip: ") { "; " } else { ", " };
    }
    out.push_str(&format!("; try '{cmd} --help'"));
    out
}

#[cfg(test)]
mod tests {
    use super::one_line_usage_error;
    use clap::Parser;
    use switchboard::cli::Cli;

    fn error_of(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).expect_err("bad arguments");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        one_line_usage_error(&e.to_string(), &args)
    }

    /// Unknown flags, bad values, missing arguments and a missing command
    /// each become one line naming what was wrong and the right `--help`.
    #[test]
    fn usage_errors_become_one_line() {
        for (args, want, help) in [
            (
                &["switchboard", "demo", "--durration", "2s"][..],
                "--durration",
                "switchboard demo",
            ),
            (
                &["switchboard", "demo", "--rate", "fast"],
                "'fast' for '--rate",
                "switchboard demo",
            ),
            (
                &["switchboard", "process", "--crm", "d"],
                "provided: --mentions <MENTIONS>, --out",
                "switchboard process",
            ),
            (
                &["switchboard", "generate", "crm", "--bogus"],
                "--bogus",
                "switchboard generate crm",
            ),
            (
                &["switchboard", "generate"],
                "'switchboard generate' needs a command",
                "switchboard generate",
            ),
            (&["switchboard", "frobnicate"], "frobnicate", "switchboard"),
            (&["switchboard"], "no command given", "switchboard"),
        ] {
            let line = error_of(args);
            assert_eq!(line.lines().count(), 1, "{args:?}: {line}");
            assert!(line.contains(want), "{args:?}: {line}");
            assert!(
                line.ends_with(&format!("; try '{help} --help'")),
                "{args:?}: {line}"
            );
        }
        // The tip clap offers for a near miss is kept.
        assert!(error_of(&["switchboard", "demo", "--durration", "2s"]).contains("--duration"));
    }

    /// The options above are read: with `background_thread:true` jemalloc
    /// starts its purging threads (named `jemalloc_bg_thd`), which it does
    /// not by default. A malformed or misnamed option string would leave
    /// none.
    #[test]
    fn jemalloc_reads_the_compiled_in_options() {
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("Linux /proc")
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // Allocate and free across a few size classes so that the
            // arenas are in use.
            let v: Vec<Vec<u8>> = (0..64).map(|i| vec![1u8; 1 << (i % 20)]).collect();
            drop(v);
            let names = names();
            if names.iter().any(|n| n == "jemalloc_bg_thd") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no jemalloc background thread among {names:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
