//! `switchboard score [--config FILE] < texts`: for rule tuning. One input
//! per line — a plain text, or a mention in any supported format (JSON) —
//! and one JSON line out with what the pipeline would give it: sentiment
//! (`compound`, `pos`, `neu`, `neg`), category (with evidence), spam verdict
//! and language. Spam repetition state carries across lines, as in the stream.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use clap::Args;
use serde_json::json;
use switchboard_operators::parse::{MentionParser, SourceMeta};
use switchboard_operators::schema::col;
use switchboard_operators::spam::{SpamDetector, SpamInput};

use crate::config::Config;
use crate::stage::stateless::Enricher;

/// `score` arguments.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Config file whose [sentiment], [classify], [spam] and [language] sections to use.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Reads stdin, writes one JSON line per input line to stdout.
pub fn run(args: ScoreArgs) -> crate::Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let enricher = Enricher::build(&config)?;
    let mut spam = config.build_spam()?;
    let mut parser = MentionParser::new(config.parse.build());
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (i, line) in stdin.lock().split(b'\n').enumerate() {
        let line = line.map_err(|e| crate::PipelineError::io("<stdin>", e))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let value = if line.first() == Some(&b'{') {
            let meta = SourceMeta {
                topic: "<stdin>",
                partition: -1,
                offset: i as i64 + 1,
            };
            match parser.push(line, &meta, now_ms) {
                Ok(_) => score_mentions(&parser.finish(), &enricher, &mut spam)?,
                Err(rej) => {
                    vec![json!({"line": i + 1, "error": rej.reason.as_str(), "detail": rej.detail})]
                }
            }
        } else {
            let text = String::from_utf8_lossy(line);
            vec![score_text(&text, &enricher, &mut spam, now_ms)]
        };
        for v in value {
            writeln!(out, "{v}").map_err(|e| crate::PipelineError::io("<stdout>", e))?;
        }
    }
    out.flush()
        .map_err(|e| crate::PipelineError::io("<stdout>", e))?;
    Ok(())
}

fn score_text(
    text: &str,
    enricher: &Enricher,
    spam: &mut SpamDetector,
    now_ms: i64,
) -> serde_json::Value {
    let input = SpamInput {
        text,
        event_time_ms: now_ms,
        ..SpamInput::default()
    };
    verdict(text, None, enricher, spam, &input)
}

fn verdict(
    text: &str,
    lang: Option<&str>,
    enricher: &Enricher,
    spam: &mut SpamDetector,
    input: &SpamInput<'_>,
) -> serde_json::Value {
    let s = enricher.sentiment().score(text);
    let c = enricher.classifier().classify(text);
    let l = enricher.language().detect(text, lang);
    let v = spam.check(input);
    json!({
        "text": text,
        "sentiment": {"compound": s.compound, "pos": s.pos, "neu": s.neu, "neg": s.neg},
        "category": c.primary.as_str(),
        "categories": c.labels.iter().map(|(cat, score)| json!({"category": cat.as_str(), "score": score})).collect::<Vec<_>>(),
        "evidence": c.evidence.iter().map(|e| json!({"category": e.category.as_str(), "phrase": e.phrase, "negated": e.negated})).collect::<Vec<_>>(),
        "spam": v.is_spam,
        "spam_reasons": v.reasons,
        "language": l.lang,
        "language_source": l.source.as_str(),
        "is_english": l.is_english,
    })
}

fn score_mentions(
    batch: &arrow::record_batch::RecordBatch,
    enricher: &Enricher,
    spam: &mut SpamDetector,
) -> crate::Result<Vec<serde_json::Value>> {
    let s = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>().cloned())
    };
    let i64c = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
    };
    let ts = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>().cloned())
    };
    let (text, lang, id, handle, author_id) = (
        s(col::TEXT),
        s(col::LANG),
        s(col::MENTION_ID),
        s(col::AUTHOR_HANDLE),
        s(col::AUTHOR_ID),
    );
    let (followers, statuses) = (i64c(col::AUTHOR_FOLLOWERS), i64c(col::AUTHOR_STATUSES));
    let (event, created) = (ts(col::EVENT_TIME), ts(col::AUTHOR_CREATED_AT));
    let verified = batch
        .column_by_name(col::AUTHOR_VERIFIED)
        .and_then(|c| c.as_boolean_opt().cloned());
    let retweet = batch
        .column_by_name(col::IS_RETWEET)
        .and_then(|c| c.as_boolean_opt().cloned());
    let text = text
        .ok_or_else(|| crate::PipelineError::Runtime("parsed batch has no text column".into()))?;
    let opt_s = |a: &Option<arrow::array::StringArray>, i: usize| {
        a.as_ref()
            .filter(|a| !a.is_null(i))
            .map(|a| a.value(i).to_string())
    };
    let opt_i = |a: &Option<arrow::array::Int64Array>, i: usize| {
        a.as_ref().filter(|a| !a.is_null(i)).map(|a| a.value(i))
    };
    let opt_t = |a: &Option<arrow::array::TimestampMillisecondArray>, i: usize| {
        a.as_ref().filter(|a| !a.is_null(i)).map(|a| a.value(i))
    };
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let t = text.value(i);
        let author = opt_s(&author_id, i).or_else(|| opt_s(&handle, i));
        let input = SpamInput {
            text: t,
            author: author.as_deref(),
            followers: opt_i(&followers, i),
            statuses: opt_i(&statuses, i),
            account_created_ms: opt_t(&created, i),
            verified: verified
                .as_ref()
                .filter(|a| !a.is_null(i))
                .map(|a| a.value(i)),
            is_retweet: retweet.as_ref().is_some_and(|a| a.value(i)),
            event_time_ms: opt_t(&event, i).unwrap_or(0),
        };
        let mut v = verdict(t, opt_s(&lang, i).as_deref(), enricher, spam, &input);
        v["mention_id"] = json!(opt_s(&id, i));
        out.push(v);
    }
    Ok(out)
}
