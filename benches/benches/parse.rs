//! Parse operator throughput against the bare simd-json tape parse of the
//! same bytes (single core).
//!
//! `bare_tape`: copy each record into a reused padded buffer and
//! `fill_tape_padded` into a reused tape — the floor any simd-json based
//! parser pays. `parse_to_arrow`: `MentionParser::push` for every record plus
//! `finish()` into a RecordBatch. Target: parse_to_arrow ≥ 60 % of bare_tape.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use simd_json::{Buffers, Tape};
use switchboard_benches::mention_corpus;
use switchboard_operators::parse::{MentionParser, ParseConfig, SourceMeta};

fn bench_parse(c: &mut Criterion) {
    let corpus = mention_corpus();
    let n = corpus.len() as u64;
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let meta = SourceMeta {
        topic: "mentions",
        partition: 0,
        offset: 0,
    };

    // Sanity: every record of the corpus is one mention.
    let mut parser = MentionParser::new(ParseConfig::default());
    for (i, rec) in corpus.iter().enumerate() {
        assert_eq!(parser.push(rec, &meta, 0), Ok(1), "corpus record {i}");
    }
    assert_eq!(parser.finish().num_rows(), corpus.len());
    eprintln!(
        "parse corpus: {n} records, {bytes} bytes, {} bytes/record on average",
        bytes / corpus.len()
    );

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(n));

    let mut scratch: Vec<u8> = Vec::new();
    let mut buffers = Buffers::default();
    let mut tape_slot: Tape<'static> = Tape(Vec::new());
    group.bench_function("bare_tape", |b| {
        b.iter(|| {
            let mut nodes = 0usize;
            for rec in &corpus {
                let len = rec.len();
                let need = len + simd_json::INPUT_PADDING;
                if scratch.len() < need {
                    scratch.resize(need, 0);
                }
                scratch[..len].copy_from_slice(rec);
                let mut tape: Tape<'_> =
                    std::mem::replace(&mut tape_slot, Tape(Vec::new())).reset();
                simd_json::fill_tape_padded(&mut scratch, len, &mut buffers, &mut tape).unwrap();
                nodes += tape.0.len();
                tape_slot = tape.reset();
            }
            black_box(nodes)
        })
    });

    let mut parser = MentionParser::new(ParseConfig::default());
    group.bench_function("parse_to_arrow", |b| {
        b.iter(|| {
            for rec in &corpus {
                let _ = black_box(parser.push(rec, &meta, 0));
            }
            black_box(parser.finish())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
