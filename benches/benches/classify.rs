//! Throughput of the text operators over tweet-length UK telco texts
//! (single core): `classify` (phrase automaton + negation), `spam` (content,
//! account and repetition rules) and `language` (whatlang detection on every
//! row, i.e. no `lang` given: the worst case; plus the all-given case).
//!
//! Run: `cargo bench -p switchboard-benches --bench classify -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchboard_operators::classify::{Classifier, ClassifyConfig};
use switchboard_operators::language::{LanguageConfig, LanguageDetector};
use switchboard_operators::operator::{Operator, StatefulOperator};
use switchboard_operators::schema::{col, timestamp_type};
use switchboard_operators::spam::{SpamConfig, SpamDetector};

const ROWS: usize = 4096;

const OPENERS: &[&str] = &[
    "@EE",
    "@BTCare",
    "@virginmedia",
    "@O2",
    "@VodafoneUK",
    "@SkyHelpTeam",
    "@ThreeUK",
    "@TalkTalk",
];
const BODIES: &[&str] = &[
    "no signal in Leeds since this morning, is there a mast down?",
    "my broadband keeps dropping out every evening and the hub has a red light",
    "engineer didn't turn up again, I took the whole day off work for nothing",
    "I've been overcharged £45 this month and the direct debit went out twice",
    "can't log in to the app, it keeps saying my password is wrong",
    "please send me my PAC code, I'm switching to giffgaff when my contract ends",
    "my new phone was meant to arrive yesterday and the tracking hasn't moved",
    "this is going to Ofcom, six weeks without a working line is a disgrace",
    "thank you so much to Sarah on chat, brilliant service as always",
    "how do I add a data bolt on to my plan?",
    "this is not a billing question, my internet has been down since Monday",
    "GIVEAWAY! Follow & RT to win a free iPhone https://t.co/win",
    "Od trzech dni nie mam internetu, kiedy to zostanie naprawione?",
    "Dim signal yn y pentref ers dydd Llun, pryd bydd y mast yn cael ei drwsio?",
    "still waiting on the refund you promised in March, absolutely shocking",
    "wifi is fine but no 4G anywhere in Camden today",
];
const CLOSERS: &[&str] = &[
    "",
    " #fail",
    " Thanks.",
    " Sort it out!",
    " https://t.co/abc123",
    " Three weeks now.",
];

fn corpus_batch(with_lang: bool) -> RecordBatch {
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let now: i64 = 1_790_000_000_000;
    let mut text = Vec::with_capacity(ROWS);
    let mut handle = Vec::with_capacity(ROWS);
    let mut followers = Vec::with_capacity(ROWS);
    let mut statuses = Vec::with_capacity(ROWS);
    let mut created = Vec::with_capacity(ROWS);
    let mut event = Vec::with_capacity(ROWS);
    let mut lang = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let body = BODIES[next() % BODIES.len()];
        text.push(format!(
            "{} {}{}",
            OPENERS[next() % OPENERS.len()],
            body,
            CLOSERS[next() % CLOSERS.len()]
        ));
        handle.push(format!("user{}", next() % 2000));
        followers.push((next() % 3000) as i64);
        statuses.push((next() % 20000) as i64);
        created.push(now - (next() % 3000) as i64 * 86_400_000);
        event.push(now + i as i64 * 250);
        lang.push(with_lang.then_some(if body.starts_with("Od") {
            "pl"
        } else if body.starts_with("Dim") {
            "cy"
        } else {
            "en"
        }));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new(col::TEXT, DataType::Utf8, false),
        Field::new(col::LANG, DataType::Utf8, true),
        Field::new(col::EVENT_TIME, timestamp_type(), false),
        Field::new(col::AUTHOR_HANDLE, DataType::Utf8, true),
        Field::new(col::AUTHOR_FOLLOWERS, DataType::Int64, true),
        Field::new(col::AUTHOR_STATUSES, DataType::Int64, true),
        Field::new(col::AUTHOR_CREATED_AT, timestamp_type(), true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(text)) as ArrayRef,
            Arc::new(StringArray::from(lang)),
            Arc::new(TimestampMillisecondArray::from(event).with_timezone("UTC")),
            Arc::new(StringArray::from(handle)),
            Arc::new(Int64Array::from(followers)),
            Arc::new(Int64Array::from(statuses)),
            Arc::new(TimestampMillisecondArray::from(created).with_timezone("UTC")),
        ],
    )
    .expect("corpus batch")
}

fn bench_text_operators(c: &mut Criterion) {
    let batch = corpus_batch(false);
    let given = corpus_batch(true);
    let bytes: usize = batch.column(0).to_data().buffers()[1].len();
    eprintln!(
        "classify corpus: {ROWS} texts, {} bytes/text on average",
        bytes / ROWS
    );

    let mut group = c.benchmark_group("text_operators");
    group.throughput(Throughput::Elements(ROWS as u64));

    let classifier = Classifier::new(&ClassifyConfig::default()).expect("default rules");
    group.bench_function("classify_batch", |b| {
        b.iter(|| black_box(classifier.process_batch(&batch).unwrap()))
    });

    let mut spam = SpamDetector::new(SpamConfig::default()).expect("default spam config");
    group.bench_function("spam_detect_batch", |b| {
        b.iter(|| black_box(spam.process_batch(&batch, &mut ()).unwrap()))
    });

    let language =
        LanguageDetector::new(&LanguageConfig::default()).expect("default language config");
    group.bench_function("language_detect_batch", |b| {
        b.iter(|| black_box(language.process_batch(&batch).unwrap()))
    });
    group.bench_function("language_given_batch", |b| {
        b.iter(|| black_box(language.process_batch(&given).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench_text_operators);
criterion_main!(benches);
