//! Sentiment operator throughput, single core.
//!
//! Corpus: the texts of the VADER parity fixture followed by the telco
//! labelled set (`operators/tests/fixtures/`), the same corpus that
//! `python3 scripts/vader_fixture.py --bench` times the Python reference on.
//!
//! * `sentiment/vader`, `sentiment/telco`: `SentimentAnalyzer::score_with`
//!   on every text with a reused `Scratch`.
//! * `sentiment/score_batch_telco`: the Arrow operator on one batch of the corpus.
//!
//! Targets: ≥ 50× the Python reference's texts/s, and ≥ 300,000 texts/s.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::StringArray;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use simd_json::prelude::*;
use switchboard_operators::operator::Operator;
use switchboard_operators::schema::col;
use switchboard_operators::sentiment::{Scratch, SentimentAnalyzer};

const PARITY: &str = include_str!("../../operators/tests/fixtures/vader_parity.jsonl");
const TELCO: &str = include_str!("../../operators/tests/fixtures/telco_labelled.jsonl");

fn corpus() -> Vec<String> {
    PARITY
        .lines()
        .chain(TELCO.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut bytes = l.as_bytes().to_vec();
            let v = simd_json::to_owned_value(&mut bytes).expect("fixture line is JSON");
            v.get_str("text").expect("text field").to_string()
        })
        .collect()
}

fn bench_sentiment(c: &mut Criterion) {
    let texts = corpus();
    let n = texts.len() as u64;
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    eprintln!(
        "sentiment corpus: {n} texts, {:.0} chars/text on average",
        chars as f64 / n as f64
    );

    let mut group = c.benchmark_group("sentiment");
    group.throughput(Throughput::Elements(n));
    for (name, analyzer) in [
        ("vader", SentimentAnalyzer::vader()),
        ("telco", SentimentAnalyzer::default()),
    ] {
        let mut scratch = Scratch::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut acc = 0.0f32;
                for t in &texts {
                    acc += analyzer.score_with(black_box(t), &mut scratch).compound;
                }
                black_box(acc)
            })
        });
    }

    let schema = Arc::new(Schema::new(vec![Field::new(
        col::TEXT,
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from_iter_values(texts.iter()))],
    )
    .expect("batch");
    let analyzer = SentimentAnalyzer::default();
    group.bench_function("score_batch_telco", |b| {
        b.iter(|| black_box(analyzer.process_batch(black_box(&batch)).expect("scored")))
    });
    group.finish();
}

criterion_group!(benches, bench_sentiment);
criterion_main!(benches);
