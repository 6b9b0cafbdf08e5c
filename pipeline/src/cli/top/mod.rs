//! `switchboard top --metrics-addr ADDR`: a live terminal view of a
//! running instance, like `vector top`. It reads the instance's `/metrics`
//! and `/readyz` every `--interval` (`fetch.rs`), computes per-stage and
//! per-operator rates and the state of the instance (`model.rs`) and draws
//! them with ratatui (`render.rs`). `--once` prints one frame as text.

use std::time::{Duration, Instant};

use clap::Args;

use crate::PipelineError;
use fetch::Reading;
use model::View;

mod fetch;
mod model;
mod render;
#[cfg(test)]
mod tests;

/// `top` arguments.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The instance's `metrics.addr` (host:port serving /metrics and /readyz).
    #[arg(long, default_value = "127.0.0.1:9898")]
    pub metrics_addr: String,
    /// Time between readings; rates are over it.
    #[arg(long, default_value = "1s", value_parser = super::format::parse_duration)]
    pub interval: Duration,
    /// Print one frame as text (two readings one interval apart) and exit.
    #[arg(long)]
    pub once: bool,
    /// Width in columns of the `--once` frame.
    #[arg(long, default_value_t = 100)]
    pub width: u16,
}

/// Runs `top`.
pub fn run(args: TopArgs) -> crate::Result<()> {
    let addr = fetch::host_port(&args.metrics_addr).to_string();
    if args.interval.is_zero() {
        return Err(PipelineError::Usage("--interval must be above 0".into()));
    }
    if args.once {
        let first = Reading::take(&addr)?;
        std::thread::sleep(args.interval);
        let second = Reading::take(&addr)?;
        let view = View::new(&addr, Some(&first), &second);
        print!("{}", render::text(&view, args.width.max(40)));
        return Ok(());
    }
    let mut terminal = ratatui::init();
    let result = live(&mut terminal, &addr, args.interval);
    ratatui::restore();
    result
}

/// Redraws every `interval` until q, Esc or Ctrl-C; an instance that
/// cannot be read shows why, and is tried again.
fn live(
    terminal: &mut ratatui::DefaultTerminal,
    addr: &str,
    interval: Duration,
) -> crate::Result<()> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
    let io = |e: std::io::Error| PipelineError::Runtime(format!("terminal: {e}"));
    let mut prev: Option<Reading> = None;
    loop {
        let view = match Reading::take(addr) {
            Ok(cur) => {
                let v = View::new(addr, prev.as_ref(), &cur);
                prev = Some(cur);
                v
            }
            Err(e) => View::unreachable(addr, &e.to_string()),
        };
        terminal.draw(|f| render::draw(f, &view)).map_err(io)?;
        let next = Instant::now() + interval;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            if !event::poll(left).map_err(io)? {
                continue;
            }
            if let Event::Key(k) = event::read().map_err(io)? {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                    return Ok(());
                }
            }
        }
    }
}
