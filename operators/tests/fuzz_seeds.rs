//! Replays every committed fuzz seed corpus (`fuzz/seeds/<target>/`)
//! through the entry point its cargo-fuzz target calls
//! (`switchboard_operators::fuzzing`), so `cargo test --workspace` checks
//! every decoder on its corpus without cargo-fuzz or a nightly toolchain.
//! Crashes the fuzzer finds are committed to the corpus as regressions.

use std::path::Path;

use switchboard_operators::fuzzing::TARGETS;

#[test]
fn every_target_replays_its_seed_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    for (name, entry) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for fuzz target `{name}`");
        for f in files {
            let data = std::fs::read(&f).expect("seed");
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target `{name}` panics on {}",
                f.display()
            );
        }
    }
}

/// The seeds of the keyed stage's decoders, built from the parser's seeds
/// the way the pipeline builds them: the stateless chain (language,
/// sentiment, classify, identity join without a snapshot, severity) then
/// `encode_ipc` for `repartition_ipc`; the correlator's exported keys and
/// clock after those batches for `changelog`.
fn keyed_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use switchboard_operators::classify::ClassifyConfig;
    use switchboard_operators::correlate::{
        default_scale, default_sla, CorrelateConfig, RenderedEvents,
    };
    use switchboard_operators::identity_join::{IdentityJoin, IdentityJoinConfig};
    use switchboard_operators::language::LanguageConfig;
    use switchboard_operators::parse::{MentionParser, ParseConfig, SourceMeta};
    use switchboard_operators::repartition::encode_ipc;
    use switchboard_operators::sentiment::SentimentAnalyzer;
    use switchboard_operators::severity::SeverityConfig;
    use switchboard_operators::{Operator, StatefulOperator};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/parse");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let language = LanguageConfig::default().build().unwrap();
    let sentiment = SentimentAnalyzer::default();
    let classify = ClassifyConfig::default().build().unwrap();
    let join = IdentityJoin::new(IdentityJoinConfig::default()).unwrap();
    let severity = SeverityConfig::default().build().unwrap();
    let mut corr = CorrelateConfig::default()
        .build(default_scale(), default_sla())
        .unwrap();
    corr.track_changes(true);
    let mut out = Vec::new();
    let mut events = RenderedEvents::new();
    for p in names {
        let data = std::fs::read(&p).unwrap();
        let mut parser = MentionParser::new(ParseConfig::default());
        let meta = SourceMeta {
            topic: "mentions",
            partition: 0,
            offset: 0,
        };
        for rec in data[1..].split(|&b| b == 0x1e) {
            let _ = parser.push(rec, &meta, 0);
        }
        let b = parser.finish();
        if b.num_rows() == 0 {
            continue;
        }
        let b = language.process_batch(&b).unwrap();
        let b = sentiment.process_batch(&b).unwrap();
        let b = classify.process_batch(&b).unwrap();
        let b = join.process_batch(&b).unwrap();
        let b = severity.process_batch(&b).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        out.push(("repartition_ipc", name.clone(), encode_ipc(&b).unwrap()));
        let _ = corr.process_batch(&b, &mut events);
        let mut log = Vec::new();
        for (key, value) in StatefulOperator::checkpoint(&mut corr) {
            log.extend_from_slice(key.as_bytes());
            if let Some(v) = value {
                log.push(0x1f);
                log.extend_from_slice(&v);
            }
            log.push(0x1e);
        }
        if !log.is_empty() {
            out.push(("changelog", name, log));
        }
    }
    out
}

/// The keyed stage's seeds decode and run; `SB_WRITE_FUZZ_SEEDS=1` writes
/// them to `fuzz/seeds/` (after a change of the batch schema or the state
/// format).
#[test]
fn keyed_stage_seeds_run() {
    let seeds = keyed_seeds();
    assert!(seeds.iter().any(|s| s.0 == "repartition_ipc"));
    assert!(seeds.iter().any(|s| s.0 == "changelog"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    for (target, name, bytes) in seeds {
        let entry = TARGETS.iter().find(|t| t.0 == target).unwrap().1;
        entry(&bytes);
        if std::env::var_os("SB_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::create_dir_all(root.join(target)).unwrap();
            std::fs::write(root.join(target).join(name), bytes).unwrap();
        }
    }
}
