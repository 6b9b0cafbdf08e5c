//! Tests of the identity join: normalisation, snapshot loading through
//! DataFusion (Parquet and CSV, every bad-snapshot case), the index, as-of
//! version selection and the appended columns.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use super::*;
use crate::parse::{MentionParser, ParseConfig, SourceMeta};
use crate::schema::{col as mcol, timestamp_type};

const V1: &str = "2026-11-22T00-00-00Z";
const V2: &str = "2026-11-23T00-00-00Z";
const V3: &str = "2026-11-24T00-00-00Z";

fn ms(name: &str) -> i64 {
    parse_version_name(name).unwrap()
}

fn cfg() -> IdentityJoinConfig {
    IdentityJoinConfig::default()
}

type Cust<'a> = (&'a str, &'a str, &'a str, &'a str, bool, &'a str);

fn customers(rows: &[Cust<'_>]) -> RecordBatch {
    let s = |f: for<'a> fn(&'a Cust<'a>) -> &'a str| -> Arc<dyn Array> {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_from_iter(vec![
        ("customer_id", s(|r| r.0)),
        ("name", s(|_| "Someone")),
        ("segment", s(|r| r.1)),
        ("tier", s(|r| r.2)),
        ("region", s(|r| r.3)),
        (
            "vulnerable",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )) as _,
        ),
        ("account_status", s(|r| r.5)),
    ])
    .unwrap()
}

fn identities(rows: &[(&str, &str, &str)]) -> RecordBatch {
    let s = |f: for<'a> fn(&'a (&'a str, &'a str, &'a str)) -> &'a str| -> Arc<dyn Array> {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_from_iter(vec![
        ("customer_id", s(|r| r.0)),
        ("kind", s(|r| r.1)),
        ("value", s(|r| r.2)),
    ])
    .unwrap()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let f = fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn version_dir(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write_version(root: &Path, name: &str, c: &RecordBatch, i: &RecordBatch) -> PathBuf {
    let d = version_dir(root, name);
    write_parquet(&d.join("customers.parquet"), c);
    write_parquet(&d.join("identities.parquet"), i);
    d
}

const CUSTOMERS_CSV: &str =
    "customer_id,name,segment,tier,region,postcode_district,products,vulnerable,account_status
C1,Alice,consumer,premier,London,N1,\"[broadband,mobile]\",true,active
C2,Bob,business,standard,Leeds,LS1,[mobile],false,in_arrears
C3,Carol,wholesale,plus,Cardiff,CF10,[],false,suspended
";
const IDENTITIES_CSV: &str = "customer_id,kind,value
C1,twitter,@Alice_UK
C1,email, Alice@Example.COM
C2,phone,(07700) 900 123
C2,Facebook,1000123
C3,instagram,@carol.ig
C3,phone,not a number
C9,email,orphan@example.com
C1,fax,12345
";

fn write_csv_version(root: &Path, name: &str) -> PathBuf {
    let d = version_dir(root, name);
    fs::write(d.join("customers.csv"), CUSTOMERS_CSV).unwrap();
    fs::write(d.join("identities.csv"), IDENTITIES_CSV).unwrap();
    d
}

/// A mention batch with only the columns the join reads:
/// `(channel, handle, author_id, event_time)`.
type Mention<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<i64>);

fn mentions(rows: &[Mention<'_>]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(mcol::CHANNEL, DataType::Utf8, false),
        Field::new(mcol::AUTHOR_HANDLE, DataType::Utf8, true),
        Field::new(mcol::AUTHOR_ID, DataType::Utf8, true),
        Field::new(mcol::EVENT_TIME, timestamp_type(), true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(
                TimestampMillisecondArray::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ],
    )
    .unwrap()
}

fn s(b: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn bv(b: &RecordBatch, name: &str, i: usize) -> Option<bool> {
    let a = b.column_by_name(name).unwrap().as_boolean();
    a.is_valid(i).then(|| a.value(i))
}

// ---------------------------------------------------------------- normalise

#[test]
fn handles_normalise() {
    assert_eq!(normalize_handle("@Alice_UK"), "alice_uk");
    assert_eq!(normalize_handle("  @@BoB "), "bob");
    assert_eq!(normalize_handle("carol"), "carol");
    assert_eq!(normalize(IdentityKind::Twitter, " @ ", "44"), None);
}

#[test]
fn emails_normalise() {
    assert_eq!(
        normalize_email("  Jane.Doe@Example.COM "),
        "jane.doe@example.com"
    );
    assert_eq!(
        normalize(IdentityKind::Email, "A@B.co", "44").as_deref(),
        Some("a@b.co")
    );
}

#[test]
fn phones_normalise_to_e164() {
    for p in [
        "07700 900123",
        "+44 7700 900123",
        "(07700) 900 123",
        "0044 7700 900123",
        "+44 (0)7700 900-123",
        "447700900123",
    ] {
        assert_eq!(
            normalize_phone(p, "44").as_deref(),
            Some("+447700900123"),
            "{p}"
        );
    }
    assert_eq!(
        normalize_phone("0612345678", "33").as_deref(),
        Some("+33612345678")
    );
    assert_eq!(
        normalize_phone("+1 (415) 555-0100", "44").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(normalize_phone("12345", "44"), None);
    assert_eq!(normalize_phone("call 07700 900123", "44"), None);
    assert_eq!(normalize_phone("07700+900123", "44"), None);
}

#[test]
fn kind_from_shape() {
    assert_eq!(kind_by_shape("jane@example.com"), Some(IdentityKind::Email));
    assert_eq!(
        kind_by_shape(" J.Doe@mail.example.co.uk "),
        Some(IdentityKind::Email)
    );
    assert_eq!(kind_by_shape("@jane"), None);
    assert_eq!(kind_by_shape("jane@localhost"), None);
    assert_eq!(kind_by_shape("07700 900123"), Some(IdentityKind::Phone));
    assert_eq!(
        kind_by_shape("+44 (0)7700-900123"),
        Some(IdentityKind::Phone)
    );
    assert_eq!(kind_by_shape("123 45"), None);
    assert_eq!(kind_by_shape("Jane Doe"), None);
    assert_eq!(kind_by_shape(""), None);
}

#[test]
fn channel_to_lookup() {
    assert_eq!(
        lookup_for_channel("twitter"),
        Lookup::Handle(IdentityKind::Twitter)
    );
    assert_eq!(
        lookup_for_channel("Instagram"),
        Lookup::Handle(IdentityKind::Instagram)
    );
    assert_eq!(
        lookup_for_channel("facebook"),
        Lookup::AuthorId(IdentityKind::Facebook)
    );
    for c in ["web_form", "app_chat", "email", "sms", ""] {
        assert_eq!(lookup_for_channel(c), Lookup::ByShape, "{c}");
    }
    assert_eq!(IdentityKind::parse(" Phone "), Some(IdentityKind::Phone));
    assert_eq!(IdentityKind::parse("fax"), None);
}

// ----------------------------------------------------------------- versions

#[test]
fn version_names_and_listing() {
    assert_eq!(ms(V1), 1_795_305_600_000);
    assert_eq!(
        ms("2026-11-22T10-15-30Z"),
        1_795_305_600_000 + (10 * 3600 + 15 * 60 + 30) * 1000
    );
    assert_eq!(parse_version_name("2026-11-22T00:00:00Z"), None);
    assert_eq!(parse_version_name("2026-13-22T00-00-00Z"), None);
    assert_eq!(parse_version_name("latest"), None);

    let root = tempfile::tempdir().unwrap();
    version_dir(root.path(), V2);
    version_dir(root.path(), V1);
    version_dir(root.path(), &format!(".tmp-{V3}"));
    version_dir(root.path(), "notes");
    fs::write(root.path().join(V3), "a file, not a directory").unwrap();
    let v = list_versions(root.path()).unwrap();
    let names: Vec<_> = v
        .iter()
        .map(|(_, p)| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, [V1, V2]);
    assert_eq!(v[0].0, ms(V1));
    assert!(list_versions(&root.path().join("absent")).is_err());
}

// ------------------------------------------------------------------ loading

#[test]
fn loads_parquet_and_reports_size() {
    let root = tempfile::tempdir().unwrap();
    let d = write_version(
        root.path(),
        V1,
        &customers(&[
            ("C1", "consumer", "premier", "London", true, "active"),
            ("C2", "business", "standard", "Leeds", false, "in_arrears"),
        ]),
        &identities(&[
            ("C1", "twitter", "@Alice_UK"),
            ("C1", "TWITTER", "alice_uk"),
            ("C1", "email", "Alice@Example.com"),
            ("C2", "phone", "+44 7700 900123"),
            ("C1", "email", "shared@example.com"),
            ("C2", "email", "SHARED@example.com"),
        ]),
    );
    let snap = load_snapshot(&d, &cfg()).unwrap();
    assert_eq!(snap.name, V1);
    assert_eq!(snap.valid_from_ms, ms(V1));
    let ix = &snap.index;
    assert_eq!(ix.customers().num_rows(), 2);
    assert_eq!(ix.entries(), 4);
    assert_eq!(ix.ambiguous_entries(), 1);
    assert!(ix.approx_bytes() > 0);
    assert_eq!(ix.get(IdentityKind::Twitter, "alice_uk"), Some(Hit::Row(0)));
    assert_eq!(
        ix.get(IdentityKind::Email, "alice@example.com"),
        Some(Hit::Row(0))
    );
    assert_eq!(
        ix.get(IdentityKind::Phone, "+447700900123"),
        Some(Hit::Row(1))
    );
    assert_eq!(
        ix.get(IdentityKind::Email, "shared@example.com"),
        Some(Hit::Ambiguous)
    );
    assert_eq!(ix.get(IdentityKind::Instagram, "alice_uk"), None);
}

#[test]
fn loads_csv_with_sql_and_phone_normalisation() {
    let root = tempfile::tempdir().unwrap();
    let d = write_csv_version(root.path(), V1);
    let snap = load_snapshot(&d, &cfg()).unwrap();
    let ix = &snap.index;
    assert_eq!(ix.customers().num_rows(), 3);
    // bad phone, orphan customer, unknown kind
    assert_eq!(snap.skipped_identities, 3);
    assert_eq!(ix.entries(), 5);
    assert_eq!(ix.get(IdentityKind::Twitter, "alice_uk"), Some(Hit::Row(0)));
    assert_eq!(
        ix.get(IdentityKind::Email, "alice@example.com"),
        Some(Hit::Row(0))
    );
    assert_eq!(
        ix.get(IdentityKind::Phone, "+447700900123"),
        Some(Hit::Row(1))
    );
    assert_eq!(ix.get(IdentityKind::Facebook, "1000123"), Some(Hit::Row(1)));
    assert_eq!(
        ix.get(IdentityKind::Instagram, "carol.ig"),
        Some(Hit::Row(2))
    );
    assert_eq!(ix.str_attr(3, 2), Some("Cardiff"));
    assert_eq!(ix.vulnerable(0), Some(true));
}

#[test]
fn country_code_is_configurable() {
    let root = tempfile::tempdir().unwrap();
    let d = write_version(
        root.path(),
        V1,
        &customers(&[("C1", "consumer", "plus", "Paris", false, "active")]),
        &identities(&[("C1", "phone", "06 12 34 56 78")]),
    );
    let c = IdentityJoinConfig {
        default_country_code: "33".into(),
        ..cfg()
    };
    let snap = load_snapshot(&d, &c).unwrap();
    assert_eq!(
        snap.index.get(IdentityKind::Phone, "+33612345678"),
        Some(Hit::Row(0))
    );
}

/// One bad-snapshot case: writes the version directory's files.
type BadCase = (
    &'static str,
    fn(&Path),
    &'static str,
    &'static [&'static str],
);

#[test]
fn bad_snapshots_are_reported() {
    fn good_c() -> RecordBatch {
        customers(&[("C1", "consumer", "premier", "London", true, "active")])
    }
    fn good_i() -> RecordBatch {
        identities(&[("C1", "twitter", "alice")])
    }
    let cases: &[BadCase] = &[
        (
            "missing file",
            |d| write_parquet(&d.join("customers.parquet"), &good_c()),
            "missing_file",
            &["missing file", "identities.parquet"],
        ),
        (
            "missing customers file",
            |d| write_parquet(&d.join("identities.parquet"), &good_i()),
            "missing_file",
            &["missing file", "customers.parquet"],
        ),
        (
            "corrupt parquet",
            |d| {
                fs::write(
                    d.join("customers.parquet"),
                    b"PAR1 this is not parquet at all",
                )
                .unwrap();
                write_parquet(&d.join("identities.parquet"), &good_i());
            },
            "unreadable",
            &["customers.parquet", "cannot read"],
        ),
        (
            "missing customer column",
            |d| {
                write_parquet(
                    &d.join("customers.parquet"),
                    &good_c().project(&[0, 1, 2, 4, 5, 6]).unwrap(),
                );
                write_parquet(&d.join("identities.parquet"), &good_i());
            },
            "missing_column",
            &["customers.parquet", "missing column `tier`"],
        ),
        (
            "missing identity column",
            |d| {
                write_parquet(&d.join("customers.parquet"), &good_c());
                write_parquet(
                    &d.join("identities.parquet"),
                    &good_i().project(&[0, 2]).unwrap(),
                );
            },
            "missing_column",
            &["identities.parquet", "missing column `kind`"],
        ),
        (
            "wrong type (parquet)",
            |d| {
                let good = good_c();
                let mut cols = good.columns().to_vec();
                cols[5] = Arc::new(StringArray::from(vec!["yes"]));
                let mut fields: Vec<Field> = good
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields[5] = Field::new("vulnerable", DataType::Utf8, true);
                let bad = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
                write_parquet(&d.join("customers.parquet"), &bad);
                write_parquet(&d.join("identities.parquet"), &good_i());
            },
            "wrong_type",
            &[
                "customers.parquet",
                "column `vulnerable`",
                "expected boolean",
            ],
        ),
        (
            "wrong type (csv)",
            |d| {
                fs::write(
                    d.join("customers.csv"),
                    "customer_id,segment,tier,region,vulnerable,account_status\nC1,consumer,plus,London,maybe,active\n",
                )
                .unwrap();
                fs::write(d.join("identities.csv"), IDENTITIES_CSV).unwrap();
            },
            "wrong_type",
            &["customers.csv", "column `vulnerable`"],
        ),
        (
            "empty customers (parquet)",
            |d| {
                write_parquet(&d.join("customers.parquet"), &good_c().slice(0, 0));
                write_parquet(&d.join("identities.parquet"), &good_i());
            },
            "empty",
            &["customers.parquet", "empty"],
        ),
        (
            "empty customers (csv header only)",
            |d| {
                fs::write(
                    d.join("customers.csv"),
                    "customer_id,segment,tier,region,vulnerable,account_status\n",
                )
                .unwrap();
                fs::write(d.join("identities.csv"), IDENTITIES_CSV).unwrap();
            },
            "empty",
            &["customers.csv", "empty"],
        ),
        (
            "corrupt csv",
            |d| {
                fs::write(d.join("customers.csv"), CUSTOMERS_CSV).unwrap();
                fs::write(
                    d.join("identities.csv"),
                    "customer_id,kind,value\nC1,twitter\nC2,email,a@b.c,extra,fields\n",
                )
                .unwrap();
            },
            "unreadable",
            &["identities.csv", "cannot read"],
        ),
    ];
    let root = tempfile::tempdir().unwrap();
    for (day, (what, write, code, needles)) in cases.iter().enumerate() {
        let d = version_dir(root.path(), &format!("2026-01-{:02}T00-00-00Z", day + 1));
        write(&d);
        let e = load_snapshot(&d, &cfg()).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.snapshot_code(), Some(*code), "{what}: {msg}");
        for n in *needles {
            assert!(msg.contains(n), "{what}: `{n}` not in {msg}");
        }
    }

    // bad directory name
    let d = version_dir(root.path(), "latest");
    let e = load_snapshot(&d, &cfg()).unwrap_err();
    assert!(e.to_string().contains("not a version time"), "{e}");
    assert_eq!(e.snapshot_code(), Some("unreadable"));
    assert_eq!(OperatorError::Input("x".into()).snapshot_code(), None);
}

// --------------------------------------------------------------------- join

fn two_versions(root: &Path) -> IdentityJoin {
    let d1 = write_version(
        root,
        V1,
        &customers(&[
            ("C1", "consumer", "standard", "London", false, "active"),
            ("C2", "business", "plus", "Leeds", false, "active"),
        ]),
        &identities(&[("C1", "twitter", "alice"), ("C2", "twitter", "bob")]),
    );
    // In V2 the handle `alice` moved to C2, and C1 became premier.
    let d2 = write_version(
        root,
        V2,
        &customers(&[
            ("C1", "consumer", "premier", "London", true, "in_arrears"),
            ("C2", "business", "plus", "Leeds", false, "active"),
        ]),
        &identities(&[
            ("C2", "twitter", "@ALICE"),
            ("C1", "email", "c1@example.com"),
        ]),
    );
    let j = IdentityJoin::new(cfg()).unwrap();
    j.add_snapshot(load_snapshot(&d2, &cfg()).unwrap());
    j.add_snapshot(load_snapshot(&d1, &cfg()).unwrap());
    j
}

#[test]
fn as_of_version_switch() {
    let root = tempfile::tempdir().unwrap();
    let j = two_versions(root.path());
    let t2 = ms(V2);
    let b = mentions(&[
        ("twitter", Some("@Alice"), None, Some(t2 - 1)),
        ("twitter", Some("@Alice"), None, Some(t2)),
        ("twitter", Some("bob"), None, Some(t2 - 1)),
        ("twitter", Some("bob"), None, Some(t2 + 1)),
        ("email", Some("C1@Example.com"), None, Some(t2 - 1)),
        ("email", Some("C1@Example.com"), None, Some(t2)),
    ]);
    let out = j.process_batch(&b).unwrap();
    assert_eq!(out.num_columns(), 4 + 11);
    assert_eq!(s(&out, col::CUSTOMER_ID, 0).as_deref(), Some("C1"));
    assert_eq!(s(&out, col::CUSTOMER_TIER, 0).as_deref(), Some("standard"));
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0).as_deref(), Some(V1));
    assert_eq!(
        s(&out, col::IDENTITY_VIA, 0).as_deref(),
        Some("twitter:handle")
    );
    assert_eq!(s(&out, col::CUSTOMER_ID, 1).as_deref(), Some("C2"));
    assert_eq!(
        s(&out, col::CUSTOMER_SEGMENT, 1).as_deref(),
        Some("business")
    );
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 1).as_deref(), Some(V2));
    assert_eq!(s(&out, col::CUSTOMER_ID, 2).as_deref(), Some("C2"));
    assert_eq!(
        s(&out, col::IDENTITY_MISS_REASON, 3).as_deref(),
        Some("unknown_identity")
    );
    assert_eq!(bv(&out, col::IDENTITY_MATCHED, 3), Some(false));
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 3).as_deref(), Some(V2));
    assert_eq!(s(&out, col::CUSTOMER_ID, 4), None);
    assert_eq!(
        s(&out, col::IDENTITY_MISS_REASON, 4).as_deref(),
        Some("unknown_identity")
    );
    assert_eq!(s(&out, col::CUSTOMER_ID, 5).as_deref(), Some("C1"));
    assert_eq!(s(&out, col::CUSTOMER_TIER, 5).as_deref(), Some("premier"));
    assert_eq!(bv(&out, col::CUSTOMER_VULNERABLE, 5), Some(true));
    assert_eq!(
        s(&out, col::CUSTOMER_ACCOUNT_STATUS, 5).as_deref(),
        Some("in_arrears")
    );
    assert_eq!(s(&out, col::IDENTITY_VIA, 5).as_deref(), Some("email"));
    assert_eq!(s(&out, col::IDENTITY_MISS_REASON, 5), None);
    for i in 0..6 {
        assert_eq!(
            bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, i),
            Some(false)
        );
    }
    let st = j.take_stats();
    assert_eq!(
        (st.rows, st.hits, st.unknown_identity, st.no_identity),
        (6, 4, 2, 0)
    );
    let per: Vec<_> = st.iter().collect();
    assert_eq!(
        per,
        [
            ("twitter", "hit", 3),
            ("twitter", "unknown_identity", 1),
            ("email", "hit", 1),
            ("email", "unknown_identity", 1),
        ]
    );
    assert_eq!(st.count("twitter", "hit"), 3);
    assert_eq!(j.take_stats(), JoinStats::default());
}

#[test]
fn older_than_every_version_uses_the_oldest() {
    let root = tempfile::tempdir().unwrap();
    let j = two_versions(root.path());
    let out = j
        .process_batch(&mentions(&[
            ("twitter", Some("alice"), None, Some(ms(V1) - 1)),
            ("twitter", Some("alice"), None, None),
        ]))
        .unwrap();
    assert_eq!(s(&out, col::CUSTOMER_ID, 0).as_deref(), Some("C1"));
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0).as_deref(), Some(V1));
    assert_eq!(bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, 0), Some(true));
    // no event time → newest version
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 1).as_deref(), Some(V2));
    assert_eq!(
        bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, 1),
        Some(false)
    );
    assert_eq!(j.take_stats().before_oldest_version, 1);
}

#[test]
fn keeps_only_the_newest_versions() {
    let root = tempfile::tempdir().unwrap();
    let c = customers(&[("C1", "consumer", "standard", "London", false, "active")]);
    let i = identities(&[("C1", "twitter", "alice")]);
    let j = IdentityJoin::new(cfg()).unwrap();
    for v in [V2, V1, V3] {
        j.add_snapshot(load_snapshot(&write_version(root.path(), v, &c, &i), &cfg()).unwrap());
    }
    let names: Vec<_> = j.versions().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, [V2, V3]);
    // re-adding the same version replaces it
    j.add_snapshot(load_snapshot(&root.path().join(V3), &cfg()).unwrap());
    assert_eq!(j.versions().len(), 2);
    let out = j
        .process_batch(&mentions(&[("twitter", Some("alice"), None, Some(ms(V1)))]))
        .unwrap();
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0).as_deref(), Some(V2));
    assert_eq!(bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, 0), Some(true));
}

#[test]
fn channels_ambiguity_and_misses() {
    let root = tempfile::tempdir().unwrap();
    let d = write_csv_version(root.path(), V1);
    let j = IdentityJoin::new(cfg()).unwrap();
    let mut snap = load_snapshot(&d, &cfg()).unwrap();
    // make the email ambiguous with a second snapshot index built by hand
    let ix = IdentityIndex::build(
        snap.index.customers().clone(),
        vec![
            (IdentityKind::Email, "shared@example.com".to_owned(), 0),
            (IdentityKind::Email, "shared@example.com".to_owned(), 1),
            (IdentityKind::Email, "mine@example.com".to_owned(), 2),
            (IdentityKind::Email, "mine@example.com".to_owned(), 2),
            (IdentityKind::Twitter, "alice_uk".to_owned(), 0),
            (IdentityKind::Facebook, "1000123".to_owned(), 1),
            (IdentityKind::Instagram, "carol.ig".to_owned(), 2),
            (IdentityKind::Phone, "+447700900123".to_owned(), 1),
        ],
    );
    snap.index = ix;
    j.add_snapshot(snap);
    let t = Some(ms(V1) + 1);
    let out = j
        .process_batch(&mentions(&[
            ("app_chat", Some("Shared@Example.com"), None, t), // 0 ambiguous
            ("email", Some("mine@example.com"), None, t),      // 1 same customer twice
            ("facebook", Some("Bob B"), Some("1000123"), t),   // 2 by author id
            ("facebook", Some("1000123"), None, t),            // 3 no author id
            ("instagram", Some("@Carol.IG"), None, t),         // 4
            ("sms", Some("0044 7700 900123"), None, t),        // 5 phone
            ("web_form", Some("Jane Doe"), None, t),           // 6 no identity
            ("twitter", None, Some("42"), t),                  // 7 no handle
            ("twitter", Some("nobody"), None, t),              // 8 unknown
        ]))
        .unwrap();
    let reason = |i| s(&out, col::IDENTITY_MISS_REASON, i);
    let cid = |i| s(&out, col::CUSTOMER_ID, i);
    let via = |i| s(&out, col::IDENTITY_VIA, i);
    assert_eq!(reason(0).as_deref(), Some("ambiguous_identity"));
    assert_eq!(cid(0), None);
    assert_eq!(via(0), None);
    assert_eq!(cid(1).as_deref(), Some("C3"));
    assert_eq!(
        (cid(2).as_deref(), via(2).as_deref()),
        (Some("C2"), Some("facebook:author_id"))
    );
    assert_eq!(reason(3).as_deref(), Some("no_identity"));
    assert_eq!(
        (cid(4).as_deref(), via(4).as_deref()),
        (Some("C3"), Some("instagram:handle"))
    );
    assert_eq!(
        (cid(5).as_deref(), via(5).as_deref()),
        (Some("C2"), Some("phone"))
    );
    assert_eq!(reason(6).as_deref(), Some("no_identity"));
    assert_eq!(reason(7).as_deref(), Some("no_identity"));
    assert_eq!(reason(8).as_deref(), Some("unknown_identity"));
    let st = j.take_stats();
    assert_eq!(
        (
            st.hits,
            st.ambiguous_identity,
            st.no_identity,
            st.unknown_identity
        ),
        (4, 1, 3, 1)
    );
}

#[test]
fn no_snapshot_misses_everything() {
    let j = IdentityJoin::new(cfg()).unwrap();
    let out = j
        .process_batch(&mentions(&[("twitter", Some("alice"), None, Some(0))]))
        .unwrap();
    assert_eq!(
        s(&out, col::IDENTITY_MISS_REASON, 0).as_deref(),
        Some("no_snapshot")
    );
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0), None);
    assert_eq!(j.take_stats().no_snapshot, 1);
}

#[test]
fn joins_a_parsed_envelope_batch() {
    let root = tempfile::tempdir().unwrap();
    let d = write_csv_version(root.path(), V1);
    let j = IdentityJoin::new(cfg()).unwrap();
    j.add_snapshot(load_snapshot(&d, &cfg()).unwrap());

    let meta = SourceMeta {
        topic: "mentions",
        partition: 0,
        offset: 1,
    };
    let mut p = MentionParser::new(ParseConfig::default());
    let records = [
        r#"{"id":"wf-1","channel":"web_form","created_at":"2026-11-22T10:15:30Z","author":{"handle":"ALICE@example.com"},"text":"bill doubled"}"#,
        r#"{"id":"sms-1","channel":"sms","created_at":"2026-11-22T10:16:00Z","author":{"handle":"+44 7700 900123"},"text":"no signal"}"#,
        r#"{"id":"ac-1","channel":"app_chat","created_at":"2026-11-22T10:17:00Z","author":{"handle":"guest-123"},"text":"hi"}"#,
        r#"{"id":"em-1","channel":"email","created_at":"2026-11-21T23:59:59Z","author":{"handle":"stranger@example.org"},"text":"hello"}"#,
    ];
    for r in records {
        assert_eq!(p.push(r.as_bytes(), &meta, 0), Ok(1), "{r}");
    }
    let batch = p.finish();
    let out = j.process_batch(&batch).unwrap();
    assert_eq!(out.num_rows(), 4);
    assert_eq!(out.num_columns(), batch.num_columns() + 11);
    assert_eq!(s(&out, mcol::MENTION_ID, 0).as_deref(), Some("wf-1"));
    assert_eq!(s(&out, col::CUSTOMER_ID, 0).as_deref(), Some("C1"));
    assert_eq!(s(&out, col::IDENTITY_VIA, 0).as_deref(), Some("email"));
    assert_eq!(s(&out, col::CUSTOMER_REGION, 0).as_deref(), Some("London"));
    assert_eq!(s(&out, col::CUSTOMER_ID, 1).as_deref(), Some("C2"));
    assert_eq!(s(&out, col::IDENTITY_VIA, 1).as_deref(), Some("phone"));
    assert_eq!(
        s(&out, col::IDENTITY_MISS_REASON, 2).as_deref(),
        Some("no_identity")
    );
    assert_eq!(
        s(&out, col::IDENTITY_MISS_REASON, 3).as_deref(),
        Some("unknown_identity")
    );
    assert_eq!(bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, 3), Some(true));
    assert_eq!(
        bv(&out, col::IDENTITY_BEFORE_OLDEST_VERSION, 0),
        Some(false)
    );
}

#[test]
fn bad_mention_batch_is_an_error() {
    let j = IdentityJoin::new(cfg()).unwrap();
    let b = mentions(&[("twitter", Some("a"), None, Some(0))])
        .project(&[0, 1, 3])
        .unwrap();
    assert!(j
        .process_batch(&b)
        .unwrap_err()
        .to_string()
        .contains("author_id"));
}

// ------------------------------------------------------------------- config

#[test]
fn config_defaults_validation_and_unknown_fields() {
    let c: IdentityJoinConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, IdentityJoinConfig::default());
    assert_eq!(
        (c.default_country_code.as_str(), c.keep_versions),
        ("44", 2)
    );
    let c: IdentityJoinConfig =
        serde_json::from_str(r#"{"default_country_code":"1","keep_versions":3}"#).unwrap();
    assert_eq!(c.keep_versions, 3);
    assert!(serde_json::from_str::<IdentityJoinConfig>(r#"{"keep_version":3}"#).is_err());
    for bad in [
        IdentityJoinConfig {
            keep_versions: 0,
            ..cfg()
        },
        IdentityJoinConfig {
            default_country_code: "+44".into(),
            ..cfg()
        },
        IdentityJoinConfig {
            default_country_code: "".into(),
            ..cfg()
        },
    ] {
        assert!(IdentityJoin::new(bad).is_err());
    }
}

// ------------------------------------------------------------------ updates

const H: i64 = 3_600_000;

/// `(customer_id, miss_reason, snapshot, matched)` of one twitter/email
/// mention.
fn one(j: &IdentityJoin, channel: &str, handle: &str, t: i64) -> (Option<String>, Option<String>) {
    let out = j
        .process_batch(&mentions(&[(channel, Some(handle), None, Some(t))]))
        .unwrap();
    (
        s(&out, col::CUSTOMER_ID, 0),
        s(&out, col::IDENTITY_MISS_REASON, 0),
    )
}

fn hit(c: &str) -> (Option<String>, Option<String>) {
    (Some(c.to_owned()), None)
}

fn miss(r: &str) -> (Option<String>, Option<String>) {
    (None, Some(r.to_owned()))
}

fn upd(op: UpdateOp, kind: IdentityKind, value: &str, cid: Option<&str>, t: i64) -> IdentityUpdate {
    IdentityUpdate {
        op,
        kind,
        value: value.to_owned(),
        customer_id: cid.map(str::to_owned),
        valid_from_ms: t,
    }
}

/// The updates of [`updates_as_of_around_a_version_switch`], in event order.
fn switch_updates() -> Vec<IdentityUpdate> {
    let (t1, t2) = (ms(V1), ms(V2));
    use IdentityKind::{Email, Twitter};
    use UpdateOp::{Add, Change, Remove};
    vec![
        upd(Change, Email, "C1@example.com", Some("C2"), t1 + H),
        upd(Remove, Twitter, "bob", None, t1 + 5 * H),
        upd(Change, Twitter, "@ALICE", Some("C2"), t1 + 10 * H),
        upd(Add, Twitter, "@Newbie", Some("C9"), t2 + H),
        upd(Remove, Email, "c1@EXAMPLE.com", None, t2 + 2 * H),
    ]
}

#[test]
fn updates_as_of_around_a_version_switch() {
    let root = tempfile::tempdir().unwrap();
    let j = two_versions(root.path());
    for u in switch_updates() {
        j.apply_update(&u).unwrap();
    }
    assert_eq!(j.status().overlay_entries, 5);
    let (t1, t2) = (ms(V1), ms(V2));
    // alice: C1 in V1, changed to C2 at t1+10h, C2 in V2.
    assert_eq!(one(&j, "twitter", "alice", t1 + 10 * H - 1), hit("C1"));
    assert_eq!(one(&j, "twitter", "alice", t1 + 10 * H), hit("C2"));
    assert_eq!(one(&j, "twitter", "alice", t2), hit("C2"));
    // bob: C2 in V1, removed at t1+5h; unknown in V2.
    assert_eq!(one(&j, "twitter", "bob", t1 + 5 * H - 1), hit("C2"));
    assert_eq!(
        one(&j, "twitter", "@Bob", t1 + 5 * H),
        miss("identity_removed")
    );
    assert_eq!(one(&j, "twitter", "bob", t2), miss("unknown_identity"));
    // c1@example.com: unknown in V1, changed to C2 at t1+1h; V2 (newer than
    // the update) says C1: the snapshot supersedes the older update.
    assert_eq!(
        one(&j, "email", "c1@example.com", t1 + H - 1),
        miss("unknown_identity")
    );
    assert_eq!(one(&j, "email", "c1@example.com", t1 + H), hit("C2"));
    assert_eq!(one(&j, "email", "c1@example.com", t2 - 1), hit("C2"));
    assert_eq!(one(&j, "email", "c1@example.com", t2), hit("C1"));
    // ... and removed after V2.
    assert_eq!(
        one(&j, "email", "c1@example.com", t2 + 2 * H - 1),
        hit("C1")
    );
    assert_eq!(
        one(&j, "email", "C1@example.com", t2 + 2 * H),
        miss("identity_removed")
    );
    // newbie: added to C9, a customer not in the snapshot: matched with the
    // id and null attributes.
    assert_eq!(
        one(&j, "twitter", "newbie", t2 + H - 1),
        miss("unknown_identity")
    );
    let out = j
        .process_batch(&mentions(&[
            ("twitter", Some("@NEWBIE"), None, Some(t2 + H)),
            ("twitter", Some("alice"), None, Some(t2 + H)),
        ]))
        .unwrap();
    assert_eq!(s(&out, col::CUSTOMER_ID, 0).as_deref(), Some("C9"));
    assert_eq!(bv(&out, col::IDENTITY_MATCHED, 0), Some(true));
    assert_eq!(
        s(&out, col::IDENTITY_VIA, 0).as_deref(),
        Some("twitter:handle")
    );
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0).as_deref(), Some(V2));
    assert_eq!(s(&out, col::CUSTOMER_TIER, 0), None);
    assert_eq!(bv(&out, col::CUSTOMER_VULNERABLE, 0), None);
    assert_eq!(s(&out, col::CUSTOMER_ID, 1).as_deref(), Some("C2"));
    assert_eq!(
        s(&out, col::CUSTOMER_SEGMENT, 1).as_deref(),
        Some("business")
    );
    // an update to a customer of the version gets its attributes
    let out = j
        .process_batch(&mentions(&[(
            "twitter",
            Some("alice"),
            None,
            Some(t1 + 11 * H),
        )]))
        .unwrap();
    assert_eq!(
        s(&out, col::CUSTOMER_SEGMENT, 0).as_deref(),
        Some("business")
    );
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 0).as_deref(), Some(V1));

    let st = j.take_stats();
    assert_eq!(st.identity_removed, 2);
    assert_eq!(st.count("twitter", "identity_removed"), 1);
    assert_eq!(st.count("email", "identity_removed"), 1);

    // a tombstone forgets every update of the identity
    j.forget_identity(IdentityKind::Twitter, "@NewBie");
    assert_eq!(
        one(&j, "twitter", "newbie", t2 + H),
        miss("unknown_identity")
    );
    match parse_update(Some(b"twitter:bob"), None).unwrap() {
        UpdateRecord::Tombstone { kind, value } => j.forget_identity(kind, &value),
        other => panic!("{other:?}"),
    }
    assert_eq!(one(&j, "twitter", "bob", t1 + 5 * H), hit("C2"));
    assert_eq!(j.status().overlay_entries, 3);
}

#[test]
fn update_arrival_order_does_not_matter() {
    let root = tempfile::tempdir().unwrap();
    let (t1, t2) = (ms(V1), ms(V2));
    let probe = mentions(&[
        ("twitter", Some("alice"), None, Some(t1 + 10 * H - 1)),
        ("twitter", Some("alice"), None, Some(t1 + 10 * H)),
        ("twitter", Some("alice"), None, Some(t1 + 12 * H)),
        ("twitter", Some("bob"), None, Some(t1 + 6 * H)),
        ("email", Some("c1@example.com"), None, Some(t1 + 2 * H)),
        ("email", Some("c1@example.com"), None, Some(t2 + 3 * H)),
        ("twitter", Some("newbie"), None, Some(t2 + 2 * H)),
        ("twitter", Some("newbie"), None, None),
    ]);
    let mut ups = switch_updates();
    // a later change of alice back to C1, which must win from t1+11h
    ups.push(upd(
        UpdateOp::Change,
        IdentityKind::Twitter,
        "alice",
        Some("C1"),
        t1 + 11 * H,
    ));
    let j1 = two_versions(root.path());
    for u in &ups {
        j1.apply_update(u).unwrap();
    }
    let j2 = two_versions(root.path());
    for u in ups.iter().rev() {
        j2.apply_update(u).unwrap();
    }
    // replaying is idempotent
    for u in &ups {
        j2.apply_update(u).unwrap();
    }
    assert_eq!(j1.status().overlay_entries, j2.status().overlay_entries);
    let (a, b) = (
        j1.process_batch(&probe).unwrap(),
        j2.process_batch(&probe).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(s(&a, col::CUSTOMER_ID, 2).as_deref(), Some("C1"));
    assert_eq!(s(&a, col::CUSTOMER_ID, 7).as_deref(), Some("C9"));

    // the same identity and valid-from replaces
    j1.apply_update(&upd(
        UpdateOp::Remove,
        IdentityKind::Twitter,
        "ALICE",
        None,
        t1 + 11 * H,
    ))
    .unwrap();
    assert_eq!(j1.status().overlay_entries, j2.status().overlay_entries);
    assert_eq!(
        one(&j1, "twitter", "alice", t1 + 12 * H),
        miss("identity_removed")
    );
}

#[test]
fn overlay_survives_swaps_and_is_pruned() {
    let root = tempfile::tempdir().unwrap();
    let c = customers(&[
        ("C1", "consumer", "standard", "London", false, "active"),
        ("C2", "business", "plus", "Leeds", false, "active"),
    ]);
    let i = identities(&[("C1", "twitter", "alice")]);
    let j = IdentityJoin::new(cfg()).unwrap();
    // updates before any snapshot are kept
    let tu = ms(V2) + H;
    j.apply_update(&upd(
        UpdateOp::Change,
        IdentityKind::Twitter,
        "alice",
        Some("C2"),
        ms(V1) + H,
    ))
    .unwrap();
    j.apply_update(&upd(
        UpdateOp::Change,
        IdentityKind::Twitter,
        "alice",
        Some("C2"),
        tu,
    ))
    .unwrap();
    assert_eq!(j.status().overlay_entries, 2);
    assert_eq!(one(&j, "twitter", "alice", tu), miss("no_snapshot"));
    j.add_snapshot(load_snapshot(&write_version(root.path(), V1, &c, &i), &cfg()).unwrap());
    assert_eq!(one(&j, "twitter", "alice", ms(V1) + H - 1), hit("C1"));
    assert_eq!(one(&j, "twitter", "alice", ms(V1) + H), hit("C2"));
    // a new version keeps the overlay (V1 is still kept)
    j.add_snapshot(load_snapshot(&write_version(root.path(), V2, &c, &i), &cfg()).unwrap());
    assert_eq!(j.status().overlay_entries, 2);
    assert_eq!(one(&j, "twitter", "alice", ms(V1) + H), hit("C2"));
    assert_eq!(one(&j, "twitter", "alice", ms(V2)), hit("C1"));
    assert_eq!(one(&j, "twitter", "alice", tu), hit("C2"));
    // V3 evicts V1: the update before V2 is in every kept snapshot
    j.add_snapshot(load_snapshot(&write_version(root.path(), V3, &c, &i), &cfg()).unwrap());
    let st = j.status();
    assert_eq!(st.overlay_entries, 1);
    assert_eq!(
        st.versions
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        [V2, V3]
    );
    assert_eq!(
        (
            st.versions[0].customers,
            st.versions[0].entries,
            st.versions[0].ambiguous_entries
        ),
        (2, 1, 0)
    );
    assert!(st.versions[0].approx_bytes > 0);
    assert_eq!(one(&j, "twitter", "alice", tu), hit("C2"));
    // the update is older than V3: V3's index decides from V3 on
    assert_eq!(one(&j, "twitter", "alice", ms(V3)), hit("C1"));
    // an update at or before the oldest kept version is dropped
    j.apply_update(&upd(
        UpdateOp::Remove,
        IdentityKind::Twitter,
        "alice",
        None,
        ms(V2),
    ))
    .unwrap();
    assert_eq!(j.status().overlay_entries, 1);
}

#[test]
fn apply_update_rejects_bad_values() {
    let j = IdentityJoin::new(cfg()).unwrap();
    let e = j
        .apply_update(&upd(
            UpdateOp::Add,
            IdentityKind::Phone,
            "not a phone",
            Some("C1"),
            0,
        ))
        .unwrap_err();
    assert_eq!(e.reason, "invalid_value");
    let e = j
        .apply_update(&upd(
            UpdateOp::Add,
            IdentityKind::Twitter,
            " @ ",
            Some("C1"),
            0,
        ))
        .unwrap_err();
    assert_eq!(e.reason, "invalid_value");
    let e = j
        .apply_update(&upd(UpdateOp::Change, IdentityKind::Twitter, "a", None, 0))
        .unwrap_err();
    assert_eq!(e.reason, "missing_field");
    j.apply_update(&upd(
        UpdateOp::Remove,
        IdentityKind::Phone,
        "07700 900123",
        None,
        0,
    ))
    .unwrap();
    assert_eq!(j.status().overlay_entries, 1);
}

#[test]
fn parse_update_accepts_and_rejects() {
    let ok = parse_update(
        Some(b"twitter:@Jane_D"),
        Some(br#"{"op":"add","kind":"Twitter","value":"@Jane_D","customer_id":"C0000123","valid_from":"2026-11-22T10:00:00Z","extra":1}"#),
    )
    .unwrap();
    assert_eq!(
        ok,
        UpdateRecord::Update(IdentityUpdate {
            op: UpdateOp::Add,
            kind: IdentityKind::Twitter,
            value: "@Jane_D".into(),
            customer_id: Some("C0000123".into()),
            valid_from_ms: ms(V1) + 10 * H,
        })
    );
    let rm = parse_update(
        None,
        Some(br#"{"op":"remove","kind":"phone","value":"07700 900123","customer_id":7,"valid_from":"2026-11-22T10:00:00+01:00"}"#),
    )
    .unwrap();
    assert!(matches!(
        rm,
        UpdateRecord::Update(IdentityUpdate {
            op: UpdateOp::Remove,
            customer_id: None,
            ..
        })
    ));
    assert_eq!(
        parse_update(Some(b"email:A@B.co"), None).unwrap(),
        UpdateRecord::Tombstone {
            kind: IdentityKind::Email,
            value: "A@B.co".into()
        }
    );
    let vf = r#""valid_from":"2026-11-22T10:00:00Z""#;
    type Case<'a> = (Option<&'a [u8]>, Option<String>, &'a str);
    let cases: Vec<Case> = vec![
        (None, Some("{not json".into()), "invalid_json"),
        (None, Some("[1,2]".into()), "invalid_json"),
        (None, Some("\"add\"".into()), "invalid_json"),
        (None, Some(format!(r#"{{"kind":"twitter","value":"a","customer_id":"C1",{vf}}}"#)), "missing_field"),
        (None, Some(format!(r#"{{"op":"add","value":"a","customer_id":"C1",{vf}}}"#)), "missing_field"),
        (None, Some(format!(r#"{{"op":"add","kind":"twitter","customer_id":"C1",{vf}}}"#)), "missing_field"),
        (None, Some(format!(r#"{{"op":"add","kind":"twitter","value":"a",{vf}}}"#)), "missing_field"),
        (None, Some(format!(r#"{{"op":"change","kind":"twitter","value":"a","customer_id":null,{vf}}}"#)), "missing_field"),
        (None, Some(r#"{"op":"add","kind":"twitter","value":"a","customer_id":"C1"}"#.into()), "missing_field"),
        (None, Some(format!(r#"{{"op":"add","kind":"fax","value":"a","customer_id":"C1",{vf}}}"#)), "unknown_kind"),
        (None, Some(format!(r#"{{"op":"add","kind":3,"value":"a","customer_id":"C1",{vf}}}"#)), "unknown_kind"),
        (None, Some(format!(r#"{{"op":"upsert","kind":"twitter","value":"a","customer_id":"C1",{vf}}}"#)), "unknown_op"),
        (None, Some(format!(r#"{{"op":true,"kind":"twitter","value":"a","customer_id":"C1",{vf}}}"#)), "unknown_op"),
        (None, Some(r#"{"op":"add","kind":"twitter","value":"a","customer_id":"C1","valid_from":"yesterday"}"#.into()), "invalid_time"),
        (None, Some(r#"{"op":"add","kind":"twitter","value":"a","customer_id":"C1","valid_from":1700000000}"#.into()), "invalid_time"),
        (None, Some(format!(r#"{{"op":"add","kind":"twitter","value":" ","customer_id":"C1",{vf}}}"#)), "invalid_value"),
        (None, Some(format!(r#"{{"op":"add","kind":"twitter","value":42,"customer_id":"C1",{vf}}}"#)), "invalid_value"),
        (None, Some(format!(r#"{{"op":"add","kind":"twitter","value":"a","customer_id":"",{vf}}}"#)), "invalid_value"),
        (None, None, "invalid_key"),
        (Some(b"twitter"), None, "invalid_key"),
        (Some(b"twitter:"), None, "invalid_key"),
        (Some(b"\xff:a"), None, "invalid_key"),
        (Some(b"fax:123"), None, "unknown_kind"),
    ];
    for (key, payload, reason) in &cases {
        let e = parse_update(*key, payload.as_deref().map(str::as_bytes)).unwrap_err();
        assert_eq!(e.reason, *reason, "{payload:?} {key:?}: {e}");
    }
    let e = parse_update(None, Some(b"\xff\xfe")).unwrap_err();
    assert_eq!(e.reason, "invalid_json");
}

#[test]
fn channel_labels_are_bounded() {
    for (c, l) in [
        ("twitter", "twitter"),
        ("X", "twitter"),
        (" Facebook ", "facebook"),
        ("instagram", "instagram"),
        ("web_form", "web_form"),
        ("app_chat", "app_chat"),
        ("email", "email"),
        ("SMS", "sms"),
        ("carrier_pigeon", "other"),
        ("", "other"),
    ] {
        assert_eq!(channel_label(c), l, "{c}");
    }
}

#[test]
fn concurrent_joins_while_swapping() {
    let root = tempfile::tempdir().unwrap();
    let d1 = write_version(
        root.path(),
        V1,
        &customers(&[("C1", "consumer", "standard", "London", false, "active")]),
        &identities(&[("C1", "twitter", "alice")]),
    );
    // the same version, re-issued with other attributes: each add replaces
    let root2 = tempfile::tempdir().unwrap();
    let d2 = write_version(
        root2.path(),
        V1,
        &customers(&[("C1", "consumer", "premier", "Leeds", true, "active")]),
        &identities(&[("C1", "twitter", "alice")]),
    );
    let (s1, s2) = (
        load_snapshot(&d1, &cfg()).unwrap(),
        load_snapshot(&d2, &cfg()).unwrap(),
    );
    let j = Arc::new(
        IdentityJoin::new(IdentityJoinConfig {
            keep_versions: 1,
            ..cfg()
        })
        .unwrap(),
    );
    j.add_snapshot(s1.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let batch = mentions(&vec![
        ("twitter", Some("alice"), None, Some(ms(V2) + 1));
        64
    ]);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (j, stop, batch) = (j.clone(), stop.clone(), batch.clone());
            std::thread::spawn(move || {
                let mut seen = [0usize; 2];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = j.process_batch(&batch).unwrap();
                    let tier = s(&out, col::CUSTOMER_TIER, 0).unwrap();
                    let region = if tier == "standard" {
                        "London"
                    } else {
                        "Leeds"
                    };
                    for i in 0..out.num_rows() {
                        // every row of a batch sees the same, whole version
                        assert_eq!(s(&out, col::CUSTOMER_TIER, i).as_deref(), Some(&*tier));
                        assert_eq!(s(&out, col::CUSTOMER_REGION, i).as_deref(), Some(region));
                    }
                    seen[(tier == "premier") as usize] += 1;
                    j.apply_update(&upd(
                        UpdateOp::Change,
                        IdentityKind::Twitter,
                        "someone",
                        Some("C1"),
                        ms(V2) + 5,
                    ))
                    .unwrap();
                }
                seen
            })
        })
        .collect();
    for k in 0..200 {
        j.add_snapshot(if k % 2 == 0 { s2.clone() } else { s1.clone() });
        let _ = j.status();
        std::thread::yield_now();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let seen = w.join().unwrap();
        assert!(seen[0] + seen[1] > 0);
    }
    assert_eq!(j.take_stats().rows % 64, 0);
}

#[test]
fn many_distinct_attribute_values_are_gathered() {
    // 300 regions: too many for the packed byte codes.
    let ids: Vec<String> = (0..300).map(|i| format!("C{i}")).collect();
    let regions: Vec<String> = (0..300).map(|i| format!("Region {i}")).collect();
    let rows: Vec<Cust<'_>> = (0..300)
        .map(|i| {
            (
                ids[i].as_str(),
                "consumer",
                "plus",
                regions[i].as_str(),
                i % 2 == 0,
                "active",
            )
        })
        .collect();
    let handles: Vec<String> = (0..300).map(|i| format!("user{i}")).collect();
    let idents: Vec<(&str, &str, &str)> = (0..300)
        .map(|i| (ids[i].as_str(), "twitter", handles[i].as_str()))
        .collect();
    let root = tempfile::tempdir().unwrap();
    let j = IdentityJoin::new(cfg()).unwrap();
    for v in [V1, V2] {
        let d = write_version(root.path(), v, &customers(&rows), &identities(&idents));
        j.add_snapshot(load_snapshot(&d, &cfg()).unwrap());
    }
    let out = j
        .process_batch(&mentions(&[
            ("twitter", Some("@User299"), None, Some(ms(V2))),
            ("twitter", Some("nobody"), None, Some(ms(V2))),
            ("twitter", Some("user7"), None, Some(ms(V1))),
        ]))
        .unwrap();
    assert_eq!(
        s(&out, col::CUSTOMER_REGION, 0).as_deref(),
        Some("Region 299")
    );
    assert_eq!(s(&out, col::CUSTOMER_TIER, 0).as_deref(), Some("plus"));
    assert_eq!(bv(&out, col::CUSTOMER_VULNERABLE, 0), Some(false));
    assert_eq!(s(&out, col::CUSTOMER_REGION, 1), None);
    assert_eq!(
        s(&out, col::CUSTOMER_REGION, 2).as_deref(),
        Some("Region 7")
    );
    assert_eq!(s(&out, col::IDENTITY_SNAPSHOT, 2).as_deref(), Some(V1));
    assert_eq!(bv(&out, col::CUSTOMER_VULNERABLE, 1), None);
}

#[test]
fn kind_by_shape_matches_the_char_based_rule() {
    // The rule as first written, over chars.
    fn by_chars(handle: &str) -> Option<IdentityKind> {
        let h = handle.trim();
        if let Some(at) = h.find('@') {
            if at > 0 && h[at + 1..].contains('.') && !h.contains(char::is_whitespace) {
                return Some(IdentityKind::Email);
            }
            return None;
        }
        let ok_chars = h
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-' | '.'));
        let n_digits = h.chars().filter(char::is_ascii_digit).count();
        (ok_chars && n_digits >= 7).then_some(IdentityKind::Phone)
    }
    for h in [
        "jane@example.com",
        "ja ne@example.com",
        "ja\tne@example.com",
        "ja\u{0B}ne@example.com",
        "ja\u{0C}ne@example.com",
        "ja\u{A0}ne@example.com",
        "ja\u{2003}ne@example.com",
        "jäne@exämple.com",
        "\u{2003}jane@example.com\u{2003}",
        "jane@example",
        "@example.com",
        "07700 900123",
        "+44 (0)7700-900123",
        "0770０900123",
        "07700 9001٣",
        "07700\t900123",
        "12345678",
        "123456",
        "١٢٣٤٥٦٧٨",
        "",
        " ",
    ] {
        assert_eq!(kind_by_shape(h), by_chars(h), "{h:?}");
    }
}

#[test]
fn attribute_values_of_any_length_and_many_rows() {
    // Values of 0, 16, 17, 32 and 33+ bytes (the padded copies of the
    // output columns switch width there), over two versions and a batch
    // much larger than a lookup chunk.
    let seg = [
        String::new(),
        "s".repeat(16),
        "t".repeat(17),
        "u".repeat(32),
        "v".repeat(70),
    ];
    let n = 200;
    let ids: Vec<String> = (0..n).map(|i| format!("C{i}")).collect();
    let handles: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
    let mk = |name: &str, tier: &str| {
        let rows: Vec<Cust<'_>> = (0..n)
            .map(|i| {
                (
                    ids[i].as_str(),
                    seg[i % seg.len()].as_str(),
                    tier,
                    "Région Île-de-France",
                    i % 3 == 0,
                    "active",
                )
            })
            .collect();
        let idents = (0..n).map(|i| {
            (
                IdentityKind::Twitter,
                normalize(IdentityKind::Twitter, &handles[i], "44").unwrap(),
                i as u32,
            )
        });
        Snapshot {
            name: name.to_owned(),
            valid_from_ms: ms(name),
            path: PathBuf::from(name),
            index: IdentityIndex::build(
                RecordBatch::try_new(
                    customer_schema(),
                    customers(&rows)
                        .project(&[0, 2, 3, 4, 5, 6])
                        .unwrap()
                        .columns()
                        .to_vec(),
                )
                .unwrap(),
                idents,
            ),
            skipped_identities: 0,
        }
    };
    let j = IdentityJoin::new(cfg()).unwrap();
    j.add_snapshot(mk(V1, "standard"));
    j.add_snapshot(mk(V2, "premier-premier-premier-premier-premier"));
    let rows: Vec<Mention<'_>> = (0..3 * n)
        .map(|k| {
            let i = k % n;
            let t = if k % 2 == 0 { ms(V1) } else { ms(V2) };
            if k % 7 == 0 {
                ("twitter", Some("nobody"), None, Some(t))
            } else {
                ("twitter", Some(handles[i].as_str()), None, Some(t))
            }
        })
        .collect();
    let out = j.process_batch(&mentions(&rows)).unwrap();
    for (k, r) in rows.iter().enumerate() {
        let i = k % n;
        if k % 7 == 0 {
            assert_eq!(s(&out, col::CUSTOMER_SEGMENT, k), None);
            assert_eq!(s(&out, col::CUSTOMER_TIER, k), None);
            assert_eq!(
                s(&out, col::IDENTITY_MISS_REASON, k).as_deref(),
                Some("unknown_identity")
            );
            assert_eq!(s(&out, col::IDENTITY_VIA, k), None);
            continue;
        }
        let v2 = r.3 == Some(ms(V2));
        assert_eq!(s(&out, col::CUSTOMER_ID, k), Some(ids[i].clone()));
        assert_eq!(
            s(&out, col::CUSTOMER_SEGMENT, k).as_deref(),
            Some(seg[i % seg.len()].as_str())
        );
        assert_eq!(
            s(&out, col::CUSTOMER_TIER, k).as_deref(),
            Some(if v2 {
                "premier-premier-premier-premier-premier"
            } else {
                "standard"
            })
        );
        assert_eq!(
            s(&out, col::CUSTOMER_REGION, k).as_deref(),
            Some("Région Île-de-France")
        );
        assert_eq!(bv(&out, col::CUSTOMER_VULNERABLE, k), Some(i % 3 == 0));
        assert_eq!(
            s(&out, col::IDENTITY_SNAPSHOT, k).as_deref(),
            Some(if v2 { V2 } else { V1 })
        );
        assert_eq!(
            s(&out, col::IDENTITY_VIA, k).as_deref(),
            Some("twitter:handle")
        );
        assert_eq!(s(&out, col::IDENTITY_MISS_REASON, k), None);
    }
}
