//! `switchboard process --mentions FILE.jsonl --crm DIR [--contacts FILE.jsonl]
//! [--config FILE] --out FILE.jsonl`: the same operators as the stream, on
//! files, without Kafka — for testing routing rules, backfills and
//! evaluation.
//!
//! Deterministic and independent of the order of the input lines: one
//! thread, every clock an event time (the ingest time of every row is the
//! epoch). Every mention line is parsed first and the mentions are ordered
//! by event time, then mention id (a backfill export is rarely sorted, and
//! the correlator's and the incident detector's clocks move with event
//! time: in file order a shuffled file lost "repeat after closure" and
//! more). The whole input is held in memory as Arrow columns, about the
//! file's size again: split a backfill larger than memory by time. The
//! ordered mentions run in batches of `source.max_batch_rows`; contact
//! events (sorted by time, then line) are interleaved with them: each goes
//! before the first mention whose event time is at or after its
//! `occurred_at`; the rest after the last mention. Input denser in event
//! time than any real traffic (a synthetic firehose) gets its incident
//! windows scaled to its rate unless `--fixed-incident-windows`. Every CRM snapshot
//! version under `--crm` is loaded (a backfill may span them all), so each
//! mention joins the version valid when it was written.
//!
//! Lines end in LF, CRLF or a lone CR. Outputs are written to temporary
//! files next to them and renamed into place at the end, so a failed run
//! leaves the old outputs as they were; an output that is one of the
//! inputs (or another output) is refused before anything is read.
//!
//! Event times outside `parse.min_event_time` … wall clock +
//! `parse.max_event_time_ahead_ms` (or `--now` + it) are refused: a
//! mention goes to the DLQ file with `bad_timestamp`, a contact is a
//! counted drop (`dropped_contacts` in the summary).
//!
//! Every input line ends in exactly one place: a work item (through its
//! mention), a counted drop (spam, non-actionable) or the DLQ file
//! (`--dlq`, default `<out>.dlq.jsonl`, one JSON line with the reason, the
//! detail, the input file and line). A summary goes to stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use clap::Args;
use serde_json::json;
use switchboard_operators::correlate::{parse_contact, ContactEvent, RenderedEvents};
use switchboard_operators::identity_join::{list_versions, load_snapshot, IdentityJoin};
use switchboard_operators::incident::DENSE_MENTIONS_PER_WINDOW;
use switchboard_operators::parse::{MentionParser, SourceMeta};
use switchboard_operators::schema::col;
use switchboard_operators::time::parse_rfc3339;
use tracing::warn;

use super::files::{read_lines, refuse_overwrite, Output};
use crate::config::{prefix_key, Config};
use crate::error::{PipelineError, Result};
use crate::stage::stateful::StatefulOperators;
use crate::stage::stateless::Enricher;

/// `process` arguments.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Mentions, one record per line (any supported format).
    #[arg(long)]
    pub mentions: PathBuf,
    /// CRM snapshot directory (versions as sub-directories).
    #[arg(long)]
    pub crm: PathBuf,
    /// CRM contact events, one JSON object per line.
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// Config file (TOML); its operator sections are used.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Work-item events out, one JSON object per line.
    #[arg(long)]
    pub out: PathBuf,
    /// Incident events out (default: `<out>.incidents.jsonl`).
    #[arg(long)]
    pub incidents: Option<PathBuf>,
    /// Rejected input lines (default: `<out>.dlq.jsonl`).
    #[arg(long)]
    pub dlq: Option<PathBuf>,
    /// The clock that bounds event times (RFC 3339; default: the wall
    /// clock): later than this plus `parse.max_event_time_ahead_ms` is
    /// refused. Pin it to replay a file reproducibly.
    #[arg(long)]
    pub now: Option<String>,
    /// Keep the config's incident windows as they are. By default, input
    /// denser in event time than real care traffic (a synthetic firehose:
    /// more than 5,000 mentions per incident window) gets its incident
    /// windows scaled to its rate (`IncidentConfig::scaled_to_rate`).
    #[arg(long)]
    pub fixed_incident_windows: bool,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProcessSummary {
    /// Mention lines read (blank lines skipped).
    pub mention_lines: u64,
    /// Mention rows parsed (a record may carry several).
    pub mentions: u64,
    /// Contact lines read.
    pub contact_lines: u64,
    /// Lines sent to the DLQ file, by reason.
    pub dlq: BTreeMap<String, u64>,
    /// Non-actionable entries dropped (counted).
    pub non_actionable: u64,
    /// Mentions dropped as spam (counted).
    pub spam: u64,
    /// Mention rows that reached the correlator (duplicates included).
    pub correlated: u64,
    /// Of those, mentions skipped as duplicates (counted).
    pub duplicates: u64,
    /// Work-item events written, by action.
    pub events: BTreeMap<String, u64>,
    /// Incident events written.
    pub incident_events: u64,
    /// Mentions later than the correlator's watermark (still processed).
    pub late_mentions: u64,
    /// CRM snapshot versions loaded.
    pub crm_versions_loaded: u64,
    /// CRM snapshot versions skipped because they failed to load, by reason.
    pub crm_versions_failed: BTreeMap<String, u64>,
    /// Contact events dropped, by reason (`bad_timestamp`).
    pub dropped_contacts: BTreeMap<String, u64>,
}

/// Runs `process` and prints the summary to stderr.
pub fn run(args: ProcessArgs) -> Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let s = process_files(&config, &args)?;
    eprintln!(
        "process: {} mention lines ({} mentions), {} contact lines → {} work-item events {:?}, {} incident events; spam {}, duplicates {}, non-actionable {}, DLQ {:?}, contacts dropped {:?}; CRM versions loaded {}, skipped {:?}",
        s.mention_lines,
        s.mentions,
        s.contact_lines,
        s.events.values().sum::<u64>(),
        s.events,
        s.incident_events,
        s.spam,
        s.duplicates,
        s.non_actionable,
        s.dlq,
        s.dropped_contacts,
        s.crm_versions_loaded,
        s.crm_versions_failed
    );
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Loads every snapshot version under `dir` into one join. A version that
/// fails to load (corrupt file, missing column, …) is skipped, logged with
/// its reason and counted in [`ProcessSummary::crm_versions_failed`]; only
/// when none loads is it an error (naming the first failure).
fn load_join(config: &Config, dir: &Path, summary: &mut ProcessSummary) -> Result<IdentityJoin> {
    let versions = list_versions(dir)?;
    if versions.is_empty() {
        return Err(PipelineError::Usage(format!(
            "--crm {}: no snapshot version directory (named like 2026-11-22T00-00-00Z) found",
            dir.display()
        )));
    }
    let mut cfg = config.identity.join_config();
    cfg.keep_versions = versions.len();
    let join = IdentityJoin::new(cfg.clone()).map_err(|e| prefix_key("identity", e))?;
    let mut first_failure = None;
    for (_, path) in versions {
        match load_snapshot(&path, &cfg) {
            Ok(snapshot) => {
                join.add_snapshot(snapshot);
                summary.crm_versions_loaded += 1;
            }
            Err(e) => {
                let reason = e.snapshot_code().unwrap_or("unreadable");
                warn!(version = %path.display(), reason, error = %e,
                    "CRM snapshot version skipped: it failed to load");
                *summary
                    .crm_versions_failed
                    .entry(reason.to_string())
                    .or_insert(0) += 1;
                first_failure.get_or_insert(e);
            }
        }
    }
    match first_failure {
        Some(e) if summary.crm_versions_loaded == 0 => Err(PipelineError::Usage(format!(
            "--crm {}: no snapshot version could be loaded: {e}",
            dir.display()
        ))),
        _ => Ok(join),
    }
}

/// Runs the topology on files (the library entry point of `process`).
pub fn process_files(config: &Config, args: &ProcessArgs) -> Result<ProcessSummary> {
    let mut summary = ProcessSummary::default();
    let enricher = Enricher::build(config)?;
    let severity = config.build_severity()?;
    let join = load_join(config, &args.crm, &mut summary)?;
    let dlq_path = args
        .dlq
        .clone()
        .unwrap_or_else(|| with_suffix(&args.out, ".dlq.jsonl"));
    let inc_path = args
        .incidents
        .clone()
        .unwrap_or_else(|| with_suffix(&args.out, ".incidents.jsonl"));
    let mut inputs = vec![
        ("--mentions", args.mentions.as_path()),
        ("--crm", args.crm.as_path()),
    ];
    inputs.extend(args.contacts.as_deref().map(|p| ("--contacts", p)));
    inputs.extend(args.config.as_deref().map(|p| ("--config", p)));
    refuse_overwrite(
        &inputs,
        &[
            ("--out", args.out.as_path()),
            ("--dlq", dlq_path.as_path()),
            ("--incidents", inc_path.as_path()),
        ],
    )?;
    let now_ms = clock(args.now.as_deref())?;
    let bounds = config.parse.event_time_bounds(now_ms);
    let mut out = Output::create(&args.out)?;
    let mut dlq = Output::create(&dlq_path)?;
    let mut inc = Output::create(&inc_path)?;

    // Contacts: all read first, ordered by time then line.
    let mut contacts = match &args.contacts {
        Some(path) => read_contacts(path, bounds, &mut dlq, &mut summary)?,
        None => Vec::new(),
    }
    .into_iter()
    .peekable();

    // Every mention line parsed first, then the rows ordered by event time
    // (a backfill export is rarely sorted): the result does not depend on
    // the order of the lines.
    let all = read_mentions(config, args, now_ms, &mut dlq, &mut summary)?;
    let all = sort_by_event_time(&all)?;
    let mut config = config.clone();
    if !args.fixed_incident_windows {
        if let Some(rate) = event_rate(&all) {
            config.incident = config
                .incident
                .scaled_to_rate(rate, DENSE_MENTIONS_PER_WINDOW);
        }
    }
    let mut ops = StatefulOperators::build(&config)?;
    let max_rows = config.source.max_batch_rows.max(1);
    let mut events = RenderedEvents::new();
    let mut start = 0;
    loop {
        let len = max_rows.min(all.num_rows() - start);
        let batch = all.slice(start, len);
        start += len;
        let done = start >= all.num_rows();
        let batch = if batch.num_rows() > 0 {
            enricher.apply_chain(&batch, Some(&join), Some(&severity))?
        } else {
            batch
        };
        let segments = interleave(&batch, &mut contacts, done);
        for (seg, due) in segments {
            let p = ops.process(&seg, &due, std::mem::take(&mut events))?;
            summary.spam += p.spam;
            summary.correlated += p.batch.as_ref().map_or(0, |b| b.num_rows() as u64);
            summary.duplicates += p.duplicate_mentions;
            for ev in p.work_items.iter() {
                *summary
                    .events
                    .entry(ev.action().as_str().to_string())
                    .or_default() += 1;
                out.line(ev.json())?;
            }
            for ev in &p.incidents {
                summary.incident_events += 1;
                let json = serde_json::to_vec(ev).unwrap_or_default();
                inc.line(&json)?;
            }
            events = p.work_items.into_spare();
        }
        if done && contacts.peek().is_none() {
            break;
        }
    }
    summary.late_mentions = ops.correlator().stats().late_mentions;
    for o in [out, dlq, inc] {
        o.commit()?;
    }
    Ok(summary)
}

/// Parses every line of `--mentions` into one batch (in file order); the
/// lines that are not mentions go to the DLQ file. The whole input is held
/// as Arrow columns: about the size of the file again.
fn read_mentions(
    config: &Config,
    args: &ProcessArgs,
    now_ms: i64,
    dlq: &mut Output,
    summary: &mut ProcessSummary,
) -> Result<RecordBatch> {
    let mut parser = MentionParser::new(config.parse.build());
    parser.set_clock(now_ms);
    let max_rows = config.source.max_batch_rows.max(1);
    let input = args.mentions.display().to_string();
    let mut batches = Vec::new();
    for (i, line) in read_lines(&args.mentions)?.enumerate() {
        let line = line.map_err(|e| PipelineError::io(&args.mentions, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        summary.mention_lines += 1;
        let meta = SourceMeta {
            topic: &input,
            partition: -1,
            offset: i as i64 + 1,
        };
        if let Err(rej) = parser.push(&line, &meta, 0) {
            *summary
                .dlq
                .entry(rej.reason.as_str().to_string())
                .or_default() += 1;
            let rec = json!({"input": input, "line": i + 1, "reason": rej.reason.as_str(),
                "detail": rej.detail});
            dlq.line(rec.to_string().as_bytes())?;
        }
        if parser.rows() >= max_rows {
            batches.push(parser.finish());
        }
    }
    batches.push(parser.finish());
    summary.non_actionable += parser.take_stats().non_actionable_entries;
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
    summary.mentions += batch.num_rows() as u64;
    Ok(batch)
}

/// The rows of `batch` ordered by event time, then mention id, then input
/// line: an order that does not depend on the order of the file's lines
/// (a mention's line only breaks ties between copies of one mention).
fn sort_by_event_time(batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::array::{Array, AsArray, UInt32Array};
    use arrow::datatypes::Int64Type;
    let times = event_times(batch);
    let ids = batch
        .column_by_name(col::MENTION_ID)
        .and_then(|c| c.as_string_opt::<i32>());
    let lines = batch
        .column_by_name(col::SOURCE_OFFSET)
        .and_then(|c| c.as_primitive_opt::<Int64Type>());
    let id = |i: usize| ids.filter(|a| a.is_valid(i)).map(|a| a.value(i));
    let line = |i: usize| lines.filter(|a| a.is_valid(i)).map(|a| a.value(i));
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        (times[a], id(a), line(a)).cmp(&(times[b], id(b), line(b)))
    });
    let indices = UInt32Array::from(order);
    let sorted = arrow::compute::take_record_batch(batch, &indices)?;
    // The rows' offsets become their rank: the correlator reads a lower
    // offset of a key than one it applied as a replay, and ranks grow
    // along the order the operators see.
    let Some(at) = sorted.schema().index_of(col::SOURCE_OFFSET).ok() else {
        return Ok(sorted);
    };
    let mut columns = sorted.columns().to_vec();
    columns[at] = std::sync::Arc::new(arrow::array::Int64Array::from_iter_values(
        1..=sorted.num_rows() as i64,
    ));
    Ok(RecordBatch::try_new(sorted.schema(), columns)?)
}

/// Mentions per second of event time of the input, when it spans any time.
///
/// Measured between the 10th and the 90th percentile of the event times:
/// stragglers (a generated file's late records, a backfill's odd old line)
/// must not stretch the span. Over the whole span, the 6 % of a 6-second
/// generated file that lie up to two minutes early made it look like 50
/// mentions a second: 12-second windows, longer than all its traffic, so no
/// window ever had a baseline and its outage spike opened nothing.
fn event_rate(batch: &RecordBatch) -> Option<f64> {
    let mut times: Vec<i64> = event_times(batch)
        .into_iter()
        .filter(|t| *t != i64::MIN)
        .collect();
    times.sort_unstable();
    let cut = times.len() / 10;
    let inner = times.get(cut..times.len() - cut)?;
    let (lo, hi) = (*inner.first()?, *inner.last()?);
    (hi > lo).then(|| inner.len() as f64 * 1000.0 / (hi - lo) as f64)
}

/// Reads the contact events of `path`, ordered by time then line; the
/// lines that are not contact events go to the DLQ file.
fn read_contacts(
    path: &Path,
    bounds: (i64, i64),
    dlq: &mut Output,
    summary: &mut ProcessSummary,
) -> Result<Vec<ContactEvent>> {
    let mut contacts: Vec<(i64, u64, ContactEvent)> = Vec::new();
    for (i, line) in read_lines(path)?.enumerate() {
        let line = line.map_err(|e| PipelineError::io(path, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        summary.contact_lines += 1;
        match parse_contact(&line) {
            Ok(ev) if !(bounds.0..=bounds.1).contains(&ev.occurred_at_ms) => {
                *summary
                    .dropped_contacts
                    .entry(BAD_TIMESTAMP.to_string())
                    .or_default() += 1;
            }
            Ok(ev) => contacts.push((ev.occurred_at_ms, i as u64 + 1, ev)),
            Err(rej) => {
                *summary.dlq.entry(rej.reason.to_string()).or_default() += 1;
                let rec = json!({"input": path.display().to_string(), "line": i + 1,
                    "reason": rej.reason, "detail": rej.detail});
                dlq.line(rec.to_string().as_bytes())?;
            }
        }
    }
    contacts.sort_by_key(|c| (c.0, c.1));
    Ok(contacts.into_iter().map(|(_, _, c)| c).collect())
}

/// The drop reason of a contact outside the event-time bounds.
const BAD_TIMESTAMP: &str = "bad_timestamp";

/// The clock that bounds event times: `--now`, else the wall clock.
fn clock(now: Option<&str>) -> Result<i64> {
    match now {
        Some(s) => parse_rfc3339(s)
            .ok_or_else(|| PipelineError::Usage(format!("--now `{s}` is not RFC 3339"))),
        None => Ok(chrono::Utc::now().timestamp_millis()),
    }
}

/// Interleaves contacts with the rows of `batch` by time: a contact goes
/// before the first row (in file order) whose event time is at or after
/// it; with `done` (the last batch), the rest after it.
fn interleave(
    batch: &RecordBatch,
    contacts: &mut std::iter::Peekable<std::vec::IntoIter<ContactEvent>>,
    done: bool,
) -> Vec<(RecordBatch, Vec<ContactEvent>)> {
    let times = event_times(batch);
    let mut start = 0;
    let mut due: Vec<ContactEvent> = Vec::new();
    let mut segments: Vec<(RecordBatch, Vec<ContactEvent>)> = Vec::new();
    for (i, t) in times.iter().enumerate() {
        if contacts.peek().is_some_and(|c| c.occurred_at_ms <= *t) {
            if i > start || !due.is_empty() {
                segments.push((batch.slice(start, i - start), std::mem::take(&mut due)));
            }
            start = i;
            while let Some(c) = contacts.next_if(|c| c.occurred_at_ms <= *t) {
                due.push(c);
            }
        }
    }
    segments.push((batch.slice(start, batch.num_rows() - start), due));
    if done {
        // Contacts after the last mention.
        let rest: Vec<ContactEvent> = contacts.by_ref().collect();
        segments.push((batch.slice(0, 0), rest));
    }
    segments
}

fn event_times(batch: &RecordBatch) -> Vec<i64> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampMillisecondType;
    match batch
        .column_by_name(col::EVENT_TIME)
        .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
    {
        Some(t) => (0..t.len())
            .map(|i| if t.is_valid(i) { t.value(i) } else { i64::MIN })
            .collect(),
        None => vec![i64::MIN; batch.num_rows()],
    }
}
