//! The demo's live status line: on a terminal one line redrawn in place
//! (an `indicatif` bar on stdout, log lines written around it), elsewhere
//! a plain line every [`PLAIN_EVERY`]. Every figure of a line comes from
//! one [`Snapshot`], read from the pipeline's own totals.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::format::fmt_count;
use crate::config::secrets;
use crate::metrics::PipelineStats;
use crate::state::crm::CrmState;

/// At most this many columns: an 80-column terminal never wraps it (the
/// 80th column is left free, where some terminals wrap early).
pub(super) const MAX_COLUMNS: usize = 79;

/// How often a plain line is printed when stdout is not a terminal.
pub(super) const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// What a status line reads.
pub(super) struct Sources {
    pub(super) stats: Arc<PipelineStats>,
    pub(super) crm: Option<Arc<CrmState>>,
    /// Mentions produced so far.
    pub(super) produced: Arc<AtomicU64>,
}

/// One reading of the counters a status line shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    /// Mentions produced.
    pub(super) produced: u64,
    /// Records consumed from the mentions topic.
    pub(super) consumed: u64,
    /// Work items created.
    pub(super) work_items: u64,
    /// Records sent to the DLQ.
    pub(super) dlq: u64,
    /// Identity-join lookups and hits, from the join's own totals.
    pub(super) crm: Option<(u64, u64)>,
}

impl Sources {
    /// Reads every figure once, the later stages first: a count read later
    /// can only be larger, so a line never shows more work items than the
    /// records it consumed could have made.
    pub(super) fn read(&self) -> Snapshot {
        let crm = self.crm.as_ref().map(|c| {
            let t = c.totals();
            (t.rows, t.hits)
        });
        let work_items = self
            .stats
            .work_items()
            .by_action
            .get("created")
            .copied()
            .unwrap_or(0);
        let dlq = self.stats.dlq_total();
        let consumed = self.stats.records_in.load(Ordering::Relaxed);
        Snapshot {
            produced: self.produced.load(Ordering::Relaxed).max(consumed),
            consumed,
            work_items,
            dlq,
            crm,
        }
    }
}

/// A count in at most 6 columns: exact below 100,000, then 123.4k, 12.3M…
pub(super) fn compact(n: u64) -> String {
    if n < 100_000 {
        return fmt_count(n);
    }
    let mut v = n as f64;
    for unit in ["k", "M", "G", "T", "P", "E"] {
        v /= 1000.0;
        if v < 999.95 {
            return format!("{v:.1}{unit}");
        }
    }
    format!("{v:.0}E")
}

/// Seconds as `42s` below 10,000 s, then `2h46m`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 10_000 {
        format!("{s}s")
    } else {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    }
}

/// The status line: elapsed time, records consumed and their rate, work
/// items created, the CRM match rate, DLQ records, and the lag (mentions
/// produced but not yet consumed). At most [`MAX_COLUMNS`] columns.
pub(super) fn status_line(at: Duration, s: &Snapshot, per_sec: f64) -> String {
    let crm = match s.crm {
        Some((rows, hits)) if rows > 0 => format!("{:.1}%", 100.0 * hits as f64 / rows as f64),
        _ => "–".to_string(),
    };
    let line = format!(
        "{:>5}  in {} ({}/s)  items {}  CRM {}  DLQ {}  lag {}",
        elapsed(at),
        compact(s.consumed),
        compact(per_sec.max(0.0) as u64),
        compact(s.work_items),
        crm,
        compact(s.dlq),
        compact(s.produced.saturating_sub(s.consumed)),
    );
    fit(&line, MAX_COLUMNS)
}

/// `line` cut to `width` characters (an ellipsis marks the cut).
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut out: String = line.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The live display.
pub(super) struct Progress {
    sources: Sources,
    /// When the firehose started.
    pub(super) start: Instant,
    /// When the last reading was taken, and the records consumed then.
    last: (Instant, u64),
    /// The line redrawn in place, on a terminal.
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A live line on a terminal (logs are routed around it), plain lines
    /// otherwise.
    pub(super) fn new(sources: Sources) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let b = bar.clone();
            secrets::route_logs_around(Some(Box::new(
                move |write: &mut dyn FnMut() -> std::io::Result<()>| b.suspend(write),
            )));
            bar
        });
        Self {
            sources,
            start: Instant::now(),
            last: (Instant::now(), 0),
            bar,
        }
    }

    /// Redraws the line once a second on a terminal; prints a plain line
    /// every [`PLAIN_EVERY`] elsewhere.
    pub(super) fn tick(&mut self) {
        let every = if self.bar.is_some() {
            Duration::from_secs(1)
        } else {
            PLAIN_EVERY
        };
        if self.last.0.elapsed() < every {
            return;
        }
        let line = self.line();
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => println!("{line}"),
        }
    }

    /// A line printed above the live one (or plainly).
    pub(super) fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// Clears the live line and prints the last reading on a line of its
    /// own: what follows starts on a fresh line.
    pub(super) fn finish(&mut self) {
        // The rate over the whole run, not over the last instant.
        self.last = (self.start, 0);
        let line = self.line();
        self.clear();
        println!("{line}");
    }

    fn line(&mut self) -> String {
        let s = self.sources.read();
        let dt = self.last.0.elapsed().as_secs_f64().max(1e-3);
        let per_sec = s.consumed.saturating_sub(self.last.1) as f64 / dt;
        self.last = (Instant::now(), s.consumed);
        status_line(self.start.elapsed(), &s, per_sec)
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            secrets::route_logs_around(None);
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// On every way out (errors too) the terminal gets its line back and
    /// logs go straight to stderr again.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_fits_80_columns_for_any_counter() {
        let huge = Snapshot {
            produced: u64::MAX,
            consumed: u64::MAX - 1,
            work_items: u64::MAX,
            dlq: u64::MAX,
            crm: Some((u64::MAX, u64::MAX / 3)),
        };
        for (at, s, rate) in [
            (Duration::from_secs(u64::MAX / 2), huge, f64::MAX),
            (Duration::from_secs(9_999), huge, 1e18),
            (Duration::ZERO, Snapshot::default(), 0.0),
        ] {
            let line = status_line(at, &s, rate);
            assert!(line.chars().count() <= MAX_COLUMNS, "{line}");
            assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        }
        // Large but real counters are shown whole, not cut.
        let big = Snapshot {
            produced: 1_234_567_890,
            consumed: 1_234_000_000,
            work_items: 98_765_432,
            dlq: 4_321,
            crm: Some((1_000, 873)),
        };
        let line = status_line(Duration::from_secs(5_000), &big, 19_876.0);
        assert!(
            line.chars().count() <= MAX_COLUMNS && !line.contains('…'),
            "{line}"
        );
        for part in [
            "5000s",
            "in 1.2G",
            "(19,876/s)",
            "items 98.8M",
            "CRM 87.3%",
            "DLQ 4,321",
            "lag 567.9k",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
    }

    #[test]
    fn compact_counts_stay_within_six_columns() {
        assert_eq!(compact(99_999), "99,999");
        assert_eq!(compact(100_000), "100.0k");
        assert_eq!(compact(999_949), "999.9k");
        assert_eq!(compact(999_999), "1.0M");
        assert_eq!(compact(u64::MAX), "18.4E");
        for n in [0, 1, 99_999, 100_000, 999_999, 10u64.pow(12) - 1, u64::MAX] {
            assert!(compact(n).chars().count() <= 6, "{n}: {}", compact(n));
        }
    }

    #[test]
    fn no_match_rate_before_the_first_lookup() {
        let line = status_line(Duration::from_secs(1), &Snapshot::default(), 0.0);
        assert!(line.contains("CRM –"), "{line}");
    }
}
