//! Throughput of `IdentityJoin` (`Operator::process_batch`) (single core) over a batch of
//! 8,192 mentions against a 100,000-customer / ~200,000-identity index
//! built in memory: Twitter handles (with `@`, mixed case), Facebook author
//! ids, envelope e-mails and phone numbers, ~80 % hits; plus the same batch
//! with an identity-update overlay and with the mentions spread over two
//! kept versions; and once against 1,000,000 customers, an index far
//! larger than the last-level cache (phone numbers repeat every 100,000
//! customers, so phone lookups there are ambiguous).
//!
//! Run: `cargo bench -p switchboard-benches --bench identity_join`

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchboard_benches::Rng;
use switchboard_operators::identity_join::{
    customer_schema, normalize, IdentityIndex, IdentityJoin, IdentityJoinConfig, IdentityKind,
    IdentityUpdate, Snapshot, UpdateOp,
};
use switchboard_operators::operator::Operator;
use switchboard_operators::schema::{col, timestamp_type};

const CUSTOMERS: usize = 100_000;
const ROWS: usize = 8_192;
/// 2026-11-22T00:00:00Z.
const V1_MS: i64 = 1_795_305_600_000;
const DAY: i64 = 86_400_000;

fn handle(i: usize) -> String {
    format!("SarahJ_{i}")
}
fn fb_id(i: usize) -> String {
    format!("{}", 1_000_000_000_000u64 + i as u64 * 7)
}
fn email(i: usize) -> String {
    format!("sarah.jones{i}@Example.co.uk")
}
fn phone(i: usize) -> String {
    format!("07700 9{:05}", i % 100_000)
}

fn snapshot(name: &str, valid_from_ms: i64, tier: &str) -> Snapshot {
    snapshot_of(CUSTOMERS, name, valid_from_ms, tier)
}

fn snapshot_of(n: usize, name: &str, valid_from_ms: i64, tier: &str) -> Snapshot {
    let s = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((0..n).map(f).collect::<Vec<_>>()))
    };
    let segments = ["consumer", "business", "wholesale"];
    let regions = ["London", "North West", "Scotland", "Wales", "Yorkshire"];
    let statuses = ["active", "in_arrears", "suspended", "closed"];
    let customers = RecordBatch::try_new(
        customer_schema(),
        vec![
            s(&|i| format!("C{i:08}")),
            s(&|i| segments[i % 3].to_owned()),
            s(&|_| tier.to_owned()),
            s(&|i| regions[i % 5].to_owned()),
            Arc::new(BooleanArray::from(
                (0..n).map(|i| i % 25 == 0).collect::<Vec<_>>(),
            )),
            s(&|i| statuses[i % 4].to_owned()),
        ],
    )
    .unwrap();
    let mut ids = Vec::with_capacity(2 * n);
    for i in 0..n {
        let row = i as u32;
        let mut push = |k: IdentityKind, v: String| {
            ids.push((k, normalize(k, &v, "44").unwrap(), row));
        };
        match i % 4 {
            0 => {
                push(IdentityKind::Twitter, handle(i));
                push(IdentityKind::Email, email(i));
            }
            1 => {
                push(IdentityKind::Facebook, fb_id(i));
                push(IdentityKind::Phone, phone(i));
            }
            2 => {
                push(IdentityKind::Twitter, handle(i));
                push(IdentityKind::Facebook, fb_id(i));
            }
            _ => {
                push(IdentityKind::Email, email(i));
                push(IdentityKind::Phone, phone(i));
            }
        }
    }
    Snapshot {
        name: name.to_owned(),
        valid_from_ms,
        path: PathBuf::from(name),
        index: IdentityIndex::build(customers, ids),
        skipped_identities: 0,
    }
}

/// A mention of customer `i` over a channel that fits its identities, or an
/// unknown / unusable identity (~20 %).
fn mentions(rng: &mut Rng, t0: i64, spread: i64) -> RecordBatch {
    mentions_of(CUSTOMERS, rng, t0, spread)
}

/// [`mentions`] of customers `0..customers`.
fn mentions_of(customers: usize, rng: &mut Rng, t0: i64, spread: i64) -> RecordBatch {
    let mut ch = Vec::with_capacity(ROWS);
    let mut h: Vec<Option<String>> = Vec::with_capacity(ROWS);
    let mut aid: Vec<Option<String>> = Vec::with_capacity(ROWS);
    let mut t = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let r = rng.index(100);
        // 18 % unknown identities (customers beyond the snapshot), 2 % none
        let i = if r < 18 {
            customers + rng.index(customers)
        } else {
            rng.index(customers)
        };
        let (c, hh, a): (&str, Option<String>, Option<String>) = if r >= 98 {
            ("web_form", Some(format!("guest-{i}")), None)
        } else {
            match i % 4 {
                0 | 2 if rng.index(2) == 0 || i % 4 == 2 => {
                    let mut s = handle(i);
                    if rng.index(2) == 0 {
                        s = format!("@{s}");
                    }
                    if rng.index(3) == 0 {
                        s = s.to_uppercase();
                    }
                    ("twitter", Some(s), Some(format!("{}", 90_000 + i)))
                }
                1 if rng.index(2) == 0 => ("facebook", Some("Sarah Jones".into()), Some(fb_id(i))),
                1 | 3 if rng.index(2) == 0 => ("sms", Some(phone(i)), None),
                3 => ("app_chat", Some(email(i).to_uppercase()), None),
                1 => ("facebook", Some("Sarah Jones".into()), Some(fb_id(i))),
                _ => ("email", Some(email(i)), None),
            }
        };
        ch.push(c);
        h.push(hh);
        aid.push(a);
        t.push(t0 + (rng.next_u64() % spread as u64) as i64);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new(col::CHANNEL, DataType::Utf8, false),
        Field::new(col::AUTHOR_HANDLE, DataType::Utf8, true),
        Field::new(col::AUTHOR_ID, DataType::Utf8, true),
        Field::new(col::EVENT_TIME, timestamp_type(), true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(ch)),
            Arc::new(StringArray::from(h)),
            Arc::new(StringArray::from(aid)),
            Arc::new(TimestampMillisecondArray::from(t).with_timezone("UTC")),
        ],
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let join = IdentityJoin::new(IdentityJoinConfig::default()).unwrap();
    join.add_snapshot(snapshot("2026-11-22T00-00-00Z", V1_MS, "standard"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let batch = mentions(&mut rng, V1_MS + 3_600_000, DAY / 2);
    // Sanity: the mix hits ~80 %.
    join.process_batch(&batch).unwrap();
    let st = join.take_stats();
    eprintln!(
        "mix: {} rows, {} hits ({:.0} %), {} unknown, {} no identity",
        st.rows,
        st.hits,
        100.0 * st.hits as f64 / st.rows as f64,
        st.unknown_identity,
        st.no_identity
    );

    let mut g = c.benchmark_group("identity_join");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("join_batch_8192_one_version", |b| {
        b.iter(|| black_box(join.process_batch(black_box(&batch)).unwrap()))
    });

    // 10,000 identity updates in the overlay.
    let with_updates = IdentityJoin::new(IdentityJoinConfig::default()).unwrap();
    with_updates.add_snapshot(snapshot("2026-11-22T00-00-00Z", V1_MS, "standard"));
    for k in 0..10_000 {
        let i = k * 7 % CUSTOMERS;
        with_updates
            .apply_update(&IdentityUpdate {
                op: if k % 5 == 0 {
                    UpdateOp::Remove
                } else {
                    UpdateOp::Change
                },
                kind: IdentityKind::Twitter,
                value: handle(i),
                customer_id: Some(format!("C{:08}", (i + 1) % CUSTOMERS)),
                valid_from_ms: V1_MS + (k as i64 % 24) * 3_600_000,
            })
            .unwrap();
    }
    g.bench_function("join_batch_8192_with_10k_updates", |b| {
        b.iter(|| black_box(with_updates.process_batch(black_box(&batch)).unwrap()))
    });

    // Two kept versions, mentions on both sides of the switch.
    let two = IdentityJoin::new(IdentityJoinConfig::default()).unwrap();
    two.add_snapshot(snapshot("2026-11-22T00-00-00Z", V1_MS, "standard"));
    two.add_snapshot(snapshot("2026-11-23T00-00-00Z", V1_MS + DAY, "premier"));
    let straddle = mentions(&mut rng, V1_MS + DAY / 2, DAY);
    g.bench_function("join_batch_8192_two_versions", |b| {
        b.iter(|| black_box(two.process_batch(black_box(&straddle)).unwrap()))
    });

    // An index far larger than the last-level cache (1,000,000 customers,
    // ~2,000,000 identities), as in the pipeline, where the fetched records
    // stream through the caches between lookups.
    let big = IdentityJoin::new(IdentityJoinConfig::default()).unwrap();
    big.add_snapshot(snapshot_of(
        1_000_000,
        "2026-11-22T00-00-00Z",
        V1_MS,
        "standard",
    ));
    let big_batch = mentions_of(1_000_000, &mut rng, V1_MS + 3_600_000, DAY / 2);
    g.bench_function("join_batch_8192_1m_customers", |b| {
        b.iter(|| black_box(big.process_batch(black_box(&big_batch)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
