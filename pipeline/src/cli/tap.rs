//! `switchboard tap`: a live sample of what a running deployment emits —
//! work-item events (and with `--dlq`, DLQ records) read from its topics,
//! filtered by queue or severity, in a compact human form or as JSON lines.
//!
//! The consumer joins no group: it assigns every partition itself (from
//! the end, or `--from-beginning`) and commits nothing, so it never takes
//! partitions from the deployment nor leaves a group behind.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{PipelineError, Result};

/// `tap` arguments.
#[derive(Debug, Args)]
pub struct TapArgs {
    /// The deployment's config file: brokers, `[kafka.properties]` (SASL/TLS), topic names
    /// (default: the defaults; `SWITCHBOARD__SECTION__KEY` variables override either).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Bootstrap servers (overrides the config's `kafka.brokers`).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Only work items routed to this queue (repeatable).
    #[arg(long)]
    pub queue: Vec<String>,
    /// Only work items of this severity, `P1`…`P4` (repeatable).
    #[arg(long)]
    pub severity: Vec<String>,
    /// Also show DLQ records (reason, detail, source offset, payload).
    #[arg(long)]
    pub dlq: bool,
    /// JSON lines (work-item events as emitted; DLQ records with their headers) instead of the compact form.
    #[arg(long)]
    pub json: bool,
    /// Stop after printing this many records.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (e.g. `30s`); default: until Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Start at the oldest retained records instead of the newest.
    #[arg(long)]
    pub from_beginning: bool,
}

/// Runs `tap` until `--count`, `--duration` or Ctrl-C (which ends the
/// process: every line printed is already written, nothing is committed).
pub fn run(args: TapArgs) -> Result<()> {
    for s in &args.severity {
        if !["P1", "P2", "P3", "P4"].contains(&s.as_str()) {
            return Err(PipelineError::Usage(format!(
                "--severity {s}: expected P1, P2, P3 or P4"
            )));
        }
    }
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::from_env()?,
    };
    let mut client = config.client_properties();
    if let Some(b) = &args.brokers {
        client.set("bootstrap.servers", b);
    }
    // A group id librdkafka needs for a consumer; never joined (assign, no commit).
    client
        .set(
            "group.id",
            format!("switchboard-tap-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let consumer: BaseConsumer = client.create()?;
    let mut topics = vec![config.topics.work_items.clone()];
    if args.dlq {
        topics.push(config.topics.dlq.clone());
    }
    let start = if args.from_beginning {
        Offset::Beginning
    } else {
        Offset::End
    };
    let mut tpl = TopicPartitionList::new();
    for t in &topics {
        let md = consumer.fetch_metadata(Some(t), Duration::from_secs(10))?;
        let parts = md.topics().first().map_or(0, |m| m.partitions().len());
        if parts == 0 {
            return Err(PipelineError::Runtime(format!(
                "topic `{t}` not found on {}",
                args.brokers.as_deref().unwrap_or(&config.kafka.brokers)
            )));
        }
        for p in 0..parts {
            tpl.add_partition_offset(t, p as i32, start)?;
        }
    }
    consumer.assign(&tpl)?;
    eprintln!(
        "tap: reading {} ({} partitions) from the {}; Ctrl-C stops",
        topics.join(", "),
        tpl.count(),
        if args.from_beginning {
            "beginning"
        } else {
            "end"
        }
    );
    let deadline = args.duration.map(|d| Instant::now() + d);
    let filter = Filter {
        queues: args.queue.clone(),
        severities: args.severity.clone(),
    };
    let mut shown = 0u64;
    while deadline.is_none_or(|d| Instant::now() < d) && args.count.is_none_or(|c| shown < c) {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        let line = if msg.topic() == config.topics.work_items {
            let Ok(ev) = serde_json::from_slice::<Value>(msg.payload().unwrap_or_default()) else {
                continue;
            };
            if !filter.keeps(&ev) {
                continue;
            }
            if args.json {
                ev.to_string()
            } else {
                compact_work_item(&ev)
            }
        } else {
            let rec = dlq_record(&msg);
            if args.json {
                rec.to_string()
            } else {
                compact_dlq(&rec)
            }
        };
        println!("{line}");
        shown += 1;
    }
    Ok(())
}

/// Which work items to show.
struct Filter {
    queues: Vec<String>,
    severities: Vec<String>,
}

impl Filter {
    fn keeps(&self, ev: &Value) -> bool {
        let any = |want: &[String], got: &Value| {
            want.is_empty() || got.as_str().is_some_and(|g| want.iter().any(|w| w == g))
        };
        any(&self.queues, &ev["queue"]) && any(&self.severities, &ev["severity"])
    }
}

/// One work-item event on one line: time, severity, priority, queue,
/// action, id, customer, category, then the reasons.
pub fn compact_work_item(ev: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let at = ev["updated_at"].as_str().unwrap_or("");
    let time = at.get(11..23).unwrap_or(at);
    let customer = ev["customer"]["customer_id"]
        .as_str()
        .map_or("unknown".to_string(), str::to_string);
    let reasons: Vec<&str> = ev["reasons"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "{time} {} {:>3} {:<18} {:<8} {} r{} {customer} {} | {}",
        s(&ev["severity"]),
        ev["priority"].as_u64().unwrap_or(0),
        s(&ev["queue"]),
        s(&ev["action"]),
        s(&ev["work_item_id"]),
        ev["revision"].as_u64().unwrap_or(0),
        s(&ev["category"]),
        reasons.join("; ")
    )
}

/// A DLQ record as JSON: its headers (reason, detail, source) and payload.
fn dlq_record<M: Message>(msg: &M) -> Value {
    let mut rec =
        json!({"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()});
    if let Some(h) = msg.headers() {
        for i in 0..h.count() {
            let h = h.get(i);
            rec[h.key] = json!(h.value.map(|v| String::from_utf8_lossy(v).into_owned()));
        }
    }
    rec["payload"] = json!(String::from_utf8_lossy(msg.payload().unwrap_or_default()));
    rec
}

/// A DLQ record on one line: reason, source, detail, the payload's start.
fn compact_dlq(rec: &Value) -> String {
    let s = |k: &str| rec[k].as_str().unwrap_or("-").to_string();
    let payload: String = s("payload").chars().take(60).collect();
    format!(
        "DLQ {} {}:{}@{} {} | {payload}",
        s("error.reason"),
        s("source.topic"),
        s("source.partition"),
        s("source.offset"),
        s("error.detail"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_queue_and_severity() {
        let f = Filter {
            queues: vec!["network".into()],
            severities: vec!["P1".into(), "P2".into()],
        };
        assert!(f.keeps(&json!({"queue": "network", "severity": "P2"})));
        assert!(!f.keeps(&json!({"queue": "billing", "severity": "P2"})));
        assert!(!f.keeps(&json!({"queue": "network", "severity": "P3"})));
        let all = Filter {
            queues: vec![],
            severities: vec![],
        };
        assert!(all.keeps(&json!({})));
    }

    #[test]
    fn a_work_item_fits_one_line() {
        let ev = json!({"work_item_id": "wi-1", "revision": 2, "action": "updated", "queue": "network",
            "category": "mobile_network_fault", "severity": "P1", "priority": 82,
            "reasons": ["+30 vulnerable customer", "+20 category: mobile_network_fault"],
            "customer": {"customer_id": "C0000123"}, "updated_at": "2026-12-07T20:30:01.123Z"});
        let l = compact_work_item(&ev);
        assert_eq!(
            l,
            "20:30:01.123 P1  82 network            updated  wi-1 r2 C0000123 mobile_network_fault | +30 vulnerable customer; +20 category: mobile_network_fault"
        );
    }
}
