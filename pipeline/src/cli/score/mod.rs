//! `switchboard score [--config FILE] [--table] < lines`: for rule tuning.
//! One input per line — a plain text, or a mention in any supported format
//! (JSON) — and **exactly one output line per input line**, always.
//!
//! Each line says what the pipeline would give the mention: sentiment
//! (`compound`, `pos`, `neu`, `neg`), category (with evidence), spam
//! verdict, language, and the `queue`, `severity`, `priority` and `reasons`
//! of the work item that `process` opens for a lone mention of an unknown
//! author (the stateless chain with a CRM join that knows no one, severity,
//! the route rules and a fresh correlator per mention; no incident, no
//! contacts). Floats are rounded to 3 decimals. Spam repetition state
//! carries across lines, as in the stream.
//!
//! Lines that give no mention still print one line, with `line` (1-based)
//! and a marker: `{"line":N,"empty":"blank"}` (a blank line),
//! `{"line":N,"empty":"non_actionable","non_actionable":K}` (a webhook with
//! nothing actionable), `{"line":N,"error":REASON,"detail":…}` (a record
//! the pipeline would send to the DLQ, with the DLQ reason). A record with
//! several mentions (a Facebook webhook) prints one line: the most severe
//! mention's fields at the top, all of them under `mentions`.
//! `--table` prints the same, one fixed-width row per input line.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::{json, Value};
use switchboard_operators::correlate::RenderedEvents;
use switchboard_operators::identity_join::IdentityJoin;
use switchboard_operators::parse::{MentionParser, SourceMeta};
use switchboard_operators::route::Router;
use switchboard_operators::severity::Severity;
use switchboard_operators::spam::SpamDetector;
use switchboard_operators::{Operator, StatefulOperator};

use crate::config::{prefix_key, Config};
use crate::stage::stateless::Enricher;

mod row;
mod table;

/// `score` arguments.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Config file whose operator sections ([sentiment], [classify], [spam],
    /// [language], [severity], [route], [correlate]) to use.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// One fixed-width row per input line, for people (default: JSON lines).
    #[arg(long)]
    pub table: bool,
}

/// Reads stdin, writes one line per input line to stdout.
pub fn run(args: ScoreArgs) -> crate::Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let mut scorer = Scorer::new(&config)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e| crate::PipelineError::io("<stdout>", e);
    if args.table {
        writeln!(out, "{}", table::header()).map_err(io)?;
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (i, line) in stdin.lock().split(b'\n').enumerate() {
        let line = line.map_err(|e| crate::PipelineError::io("<stdin>", e))?;
        let v = scorer.score_line(i + 1, &line, now_ms);
        if args.table {
            writeln!(out, "{}", table::row(&v)).map_err(io)?;
        } else {
            writeln!(out, "{v}").map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(())
}

/// The operators `score` runs, built once from a config.
pub struct Scorer {
    config: Config,
    enricher: Arc<Enricher>,
    severity: Arc<Severity>,
    join: IdentityJoin,
    spam: SpamDetector,
    router: Router,
    parser: MentionParser,
}

impl Scorer {
    /// Builds (and so validates) the operators of `config`.
    pub fn new(config: &Config) -> crate::Result<Self> {
        let join = IdentityJoin::new(config.identity.join_config())
            .map_err(|e| prefix_key("identity", e))?;
        Ok(Self {
            enricher: Enricher::build(config)?,
            severity: Arc::new(config.build_severity()?),
            join,
            spam: config.build_spam()?,
            router: config.build_route()?,
            parser: MentionParser::new(config.parse.build()),
            config: config.clone(),
        })
    }

    /// Scores one input line (1-based `lineno`, with or without its line
    /// end): always exactly one JSON object, never an `Err`.
    pub fn score_line(&mut self, lineno: usize, line: &[u8], now_ms: i64) -> Value {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return json!({"line": lineno, "empty": "blank"});
        }
        let wrapped;
        let (record, text_only) = match line.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => (line, false),
            _ => {
                wrapped = row::plain_text_mention(lineno, line, now_ms);
                (wrapped.as_slice(), true)
            }
        };
        let meta = SourceMeta {
            topic: "<stdin>",
            partition: -1,
            offset: lineno as i64,
        };
        let pushed = self.parser.push(record, &meta, now_ms);
        let stats = self.parser.take_stats();
        let batch = self.parser.finish();
        if let Err(rej) = pushed {
            return json!({"line": lineno, "error": rej.reason.as_str(), "detail": rej.detail});
        }
        if batch.num_rows() == 0 {
            return json!({"line": lineno, "empty": "non_actionable",
                "non_actionable": stats.non_actionable_entries});
        }
        match self.score_batch(&batch, text_only) {
            Ok(mentions) => row::one_line(lineno, mentions),
            Err(e) => json!({"line": lineno, "error": "internal", "detail": e.to_string()}),
        }
    }

    /// The mentions of one record, each scored as a lone mention.
    fn score_batch(
        &mut self,
        batch: &arrow::record_batch::RecordBatch,
        text_only: bool,
    ) -> crate::Result<Vec<Value>> {
        let enriched = self
            .enricher
            .apply_chain(batch, Some(&self.join), Some(&self.severity))?;
        let routed = self.router.process_batch(&enriched)?;
        let mut out = Vec::with_capacity(routed.num_rows());
        for i in 0..routed.num_rows() {
            let one = routed.slice(i, 1);
            let mut v = row::verdict(&one, &self.enricher, &mut self.spam, text_only)?;
            // A fresh correlator: the work item of a lone mention.
            let mut correlator = self.config.build_correlate(&self.severity)?;
            let mut events = RenderedEvents::new();
            correlator.process_batch(&one, &mut events)?;
            row::add_work_item(&mut v, &events);
            out.push(v);
        }
        Ok(out)
    }
}
