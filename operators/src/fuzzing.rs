//! The entry points of the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`),
//! here so that `cargo test --workspace` replays the committed seed corpora
//! (`fuzz/seeds/<target>/`, `operators/tests/fuzz_seeds.rs`) through exactly
//! the code the fuzzer runs, without cargo-fuzz. Each entry takes arbitrary
//! bytes, feeds them to one decoder and what consumes its output, and panics
//! only when an invariant breaks (a rejection is a normal outcome).
//!
//! The keyed stage's decoders: a repartition record is [`decode_ipc`] and
//! then the stateful operators; a changelog record is
//! [`StatefulOperator::restore`] of the correlator (what
//! `switchboard::state::changelog::apply_record` calls).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::record_batch::RecordBatch;

use crate::correlate::{
    default_scale, default_sla, parse_contact, CorrelateConfig, Correlator, RenderedEvents,
};
use crate::identity_join::{
    load_snapshot, parse_update, IdentityJoin, IdentityJoinConfig, UpdateRecord,
};
use crate::incident::{IncidentConfig, IncidentOutput};
use crate::operator::StatefulOperator;
use crate::parse::{MentionParser, ParseConfig, SourceMeta};
use crate::repartition::decode_ipc;
use crate::spam::SpamConfig;
use crate::time::{format_rfc3339_ms, parse_rfc3339};

/// A fuzz target's entry point: any bytes, never a panic.
pub type Entry = fn(&[u8]);

/// Every target, by name (the folder of its seeds under `fuzz/seeds/`).
pub const TARGETS: [(&str, Entry); 7] = [
    ("parse", parse),
    ("contact", contact),
    ("identity_update", identity_update),
    ("crm_csv", crm_csv),
    ("crm_parquet", crm_parquet),
    ("repartition_ipc", repartition_ipc),
    ("changelog", changelog),
];

fn correlator() -> Correlator {
    CorrelateConfig::default()
        .build(default_scale(), default_sla())
        .expect("default correlator")
}

/// Every rendered work-item event is JSON whose times are RFC 3339.
fn check_events(events: &RenderedEvents) {
    for ev in events.iter() {
        let v: serde_json::Value = serde_json::from_slice(ev.json()).expect("work item is JSON");
        check_times(&v);
    }
}

/// Every string field named `*_at` of a work item parses as RFC 3339.
fn check_times(v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(s)) = (k.ends_with("_at"), v.as_str()) {
                    assert!(parse_rfc3339(s).is_some(), "`{k}` = `{s}` is not RFC 3339");
                }
                check_times(v);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(check_times),
        _ => {}
    }
}

/// The mention parser: the first byte picks a small record-size limit (to
/// exercise `too_large`) and how often to call `finish()`; the rest is split
/// on 0x1E into several records, so the state carried between records is
/// exercised too.
pub fn parse(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let max_record_bytes = if ctl & 0x80 != 0 {
        usize::from(ctl & 0x3f) * 16
    } else {
        64 * 1024
    };
    let finish_every = usize::from(ctl & 0x07) + 1;
    let mut parser = MentionParser::new(ParseConfig {
        max_record_bytes,
        ..ParseConfig::default()
    });
    let meta = SourceMeta {
        topic: "mentions",
        partition: 0,
        offset: 0,
    };
    let mut expected = 0usize;
    for (i, record) in rest.split(|&b| b == 0x1e).enumerate() {
        let before = parser.rows();
        match parser.push(record, &meta, 0) {
            Ok(n) => {
                assert_eq!(parser.rows(), before + n as usize);
                expected += n as usize;
            }
            Err(r) => {
                assert_eq!(parser.rows(), before);
                assert!(r.detail.len() <= 200);
            }
        }
        if i % finish_every == finish_every - 1 {
            assert_eq!(parser.finish().num_rows(), expected);
            expected = 0;
        }
    }
    assert_eq!(parser.finish().num_rows(), expected);
}

/// A `crm-contacts` record: parsed, then applied to a correlator, whose
/// watermark is then moved past every window.
pub fn contact(data: &[u8]) {
    let Ok(ev) = parse_contact(data) else { return };
    let mut corr = correlator();
    let mut out = RenderedEvents::new();
    corr.on_contact_into(&ev, &mut out);
    corr.on_watermark(ev.occurred_at_ms.saturating_add(90 * 86_400_000), &mut out);
    check_events(&out);
}

/// A `crm-identity-updates` record: bytes before the first 0x1F are the key
/// (none if there is no 0x1F), the rest the payload (a tombstone if empty).
pub fn identity_update(data: &[u8]) {
    let (key, payload) = match data.iter().position(|&b| b == 0x1f) {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };
    let payload = (!payload.is_empty()).then_some(payload);
    let join = IdentityJoin::new(IdentityJoinConfig::default()).expect("default join");
    match parse_update(key, payload) {
        Ok(UpdateRecord::Update(u)) => {
            let _ = join.apply_update(&u);
        }
        Ok(UpdateRecord::Tombstone { kind, value }) => join.forget_identity(kind, &value),
        Err(r) => assert!(!r.reason.is_empty()),
    }
}

/// A fresh version directory `2026-12-01T00-00-00Z` under a unique
/// temporary folder, holding `customers.<ext>` and `identities.<ext>`
/// split from `data` (a little-endian u32 length of the customers file,
/// then both files).
fn snapshot(data: &[u8], ext: &str) {
    static N: AtomicU64 = AtomicU64::new(0);
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (customers, identities) = rest.split_at(len);
    let root: PathBuf = std::env::temp_dir().join(format!(
        "sb-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let dir = root.join("2026-12-01T00-00-00Z");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join(format!("customers.{ext}")), customers).expect("write");
    std::fs::write(dir.join(format!("identities.{ext}")), identities).expect("write");
    let result = load_snapshot(&dir, &IdentityJoinConfig::default());
    let _ = std::fs::remove_dir_all(&root);
    if let Ok(s) = result {
        let join = IdentityJoin::new(IdentityJoinConfig::default()).expect("default join");
        join.add_snapshot(s);
    }
}

/// The fuzz targets' init: libfuzzer-sys aborts on every panic, also on
/// one that [`crate::panic_guard::catch`] turns into an error, as the
/// product does around decoders that panic on corrupt input (parquet,
/// arrow-ipc). Such a panic is handled, not a crash: this hook lets it
/// unwind to the guard and aborts on any other.
pub fn ignore_guarded_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !crate::panic_guard::catching() {
            abort(info);
        }
    }));
}

/// A CRM snapshot version in CSV (see [`snapshot`] for the split).
pub fn crm_csv(data: &[u8]) {
    snapshot(data, "csv");
}

/// A CRM snapshot version in Parquet (see [`snapshot`] for the split).
pub fn crm_parquet(data: &[u8]) {
    snapshot(data, "parquet");
}

/// A repartition record of the keyed stage: decoded, then run through
/// spam, incidents and the correlator as the keyed worker would.
pub fn repartition_ipc(data: &[u8]) {
    let Ok(batches) = decode_ipc(data) else {
        return;
    };
    let mut spam = SpamConfig::default().build().expect("default spam");
    let mut incidents = IncidentConfig::default()
        .build()
        .expect("default incidents");
    let mut corr = correlator();
    let mut out = RenderedEvents::new();
    for b in &batches {
        let b: RecordBatch = match spam.process_batch(b, &mut ()) {
            Ok(b) => b,
            Err(_) => continue,
        };
        let mut incident_events = IncidentOutput::default();
        let Ok(b) = incidents.process_batch(&b, &mut incident_events) else {
            continue;
        };
        let _ = corr.process_batch(&b, &mut out);
    }
    check_events(&out);
}

/// Changelog records of one partition: records split on 0x1E, each a key
/// and, after the first 0x1F, a value (a tombstone without one), restored
/// into a correlator as a restore would. Whatever was imported exports
/// again, re-imports to the same bytes, and survives a watermark.
pub fn changelog(data: &[u8]) {
    let mut corr = correlator();
    let mut keys = Vec::new();
    for rec in data.split(|&b| b == 0x1e) {
        let (key, value) = match rec.iter().position(|&b| b == 0x1f) {
            Some(i) => (&rec[..i], Some(&rec[i + 1..])),
            None => (rec, None),
        };
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        if StatefulOperator::restore(&mut corr, key, value).is_ok() {
            keys.push(key.to_owned());
        }
    }
    for k in &keys {
        if let Some(bytes) = corr.export_key(k) {
            let mut again = correlator();
            again.import_key(k, &bytes).expect("exported state imports");
            assert_eq!(again.export_key(k).as_deref(), Some(&bytes[..]));
        }
    }
    if let Some(wm) = corr.watermark() {
        assert!(!format_rfc3339_ms(wm).is_empty());
        let mut out = RenderedEvents::new();
        corr.on_watermark(wm.saturating_add(90 * 86_400_000), &mut out);
        check_events(&out);
    }
}
