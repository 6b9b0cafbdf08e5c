use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;

fn read_all(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
    let f = File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let schema = b.schema().clone();
    let batches = b
        .build()
        .unwrap()
        .collect::<std::result::Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches)
}

fn cfg(n: usize, seed: u64) -> CrmGenConfig {
    CrmGenConfig {
        customers: n,
        seed,
        valid_from: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
    }
}

#[test]
fn snapshot_round_trips_with_schema_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let n = 70_000; // more than one chunk
    let c = cfg(n, 7);
    let v = write_crm_snapshot(dir.path(), &c).unwrap();
    assert_eq!(v, dir.path().join("2026-11-22T00-00-00Z"));
    // no temp directory left behind
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    let (schema, batches) = read_all(&v.join("customers.parquet"));
    assert_eq!(schema.fields(), customers_schema().fields());
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), n);
    let first = &batches[0];
    let ids = first.column(0).as_string::<i32>();
    assert_eq!(ids.value(0), "C00000000");
    assert_eq!(ids.value(41), customer_id(41));
    let seg = first.column(2).as_string::<i32>();
    let region = first.column(4).as_string::<i32>();
    let district = first.column(5).as_string::<i32>();
    let mut seg_counts = [0usize; 3];
    let mut vulnerable = 0;
    let vul = first.column(7).as_boolean();
    for r in 0..first.num_rows() {
        seg_counts[["consumer", "business", "wholesale"]
            .iter()
            .position(|s| *s == seg.value(r))
            .unwrap()] += 1;
        let c = customer(7, r);
        assert_eq!(region.value(r), c.region);
        assert_eq!(district.value(r), c.postcode_district);
        assert!(REGIONS.contains(&region.value(r)));
        vulnerable += vul.value(r) as usize;
    }
    let rows = first.num_rows() as f64;
    assert!(
        (seg_counts[0] as f64 / rows - 0.85).abs() < 0.02,
        "{seg_counts:?}"
    );
    assert!(
        (seg_counts[1] as f64 / rows - 0.12).abs() < 0.02,
        "{seg_counts:?}"
    );
    assert!(
        (vulnerable as f64 / rows - 0.04).abs() < 0.01,
        "{vulnerable}"
    );
    let products = first.column(6).as_list::<i32>();
    assert!(!products.value(0).is_empty());

    let (ischema, ibatches) = read_all(&v.join("identities.parquet"));
    assert_eq!(ischema.fields(), identities_schema().fields());
    let total: usize = ibatches.iter().map(|b| b.num_rows()).sum();
    let expected: usize = (0..n)
        .map(|i| {
            IdentityKind::ALL
                .iter()
                .filter(|k| has_identity(7, i, **k))
                .count()
        })
        .sum();
    assert_eq!(total, expected);
    let per_customer = total as f64 / n as f64;
    assert!((1.8..2.3).contains(&per_customer), "{per_customer}");

    // Identity functions agree with the file, values unique per kind after normalisation.
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for b in &ibatches {
        let (cid, kind, value) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
            b.column(2).as_string::<i32>(),
        );
        for r in 0..b.num_rows() {
            let i: usize = cid.value(r)[1..].parse().unwrap();
            let k = *IdentityKind::ALL
                .iter()
                .find(|k| k.as_str() == kind.value(r))
                .unwrap();
            assert!(has_identity(7, i, k));
            assert_eq!(value.value(r), identity_value(7, i, k));
            let norm = match k {
                IdentityKind::Phone => {
                    let digits: String = value
                        .value(r)
                        .chars()
                        .filter(|c| c.is_ascii_digit())
                        .collect();
                    let nsn = if let Some(d) = digits.strip_prefix("0044") {
                        d.to_string()
                    } else if value.value(r).starts_with("+44") {
                        digits[2..].to_string()
                    } else {
                        digits.strip_prefix('0').unwrap().to_string()
                    };
                    assert_eq!(format!("+44{nsn}"), phone_e164(7, i));
                    nsn
                }
                _ => value.value(r).trim_start_matches('@').to_ascii_lowercase(),
            };
            assert!(
                seen.insert((kind.value(r).to_string(), norm)),
                "duplicate identity {}",
                value.value(r)
            );
        }
    }
}

#[test]
fn region_table_matches_region_names() {
    for (k, r) in REGIONS_TABLE.iter().enumerate() {
        assert_eq!(r.name, REGIONS[k]);
        assert_eq!(r.areas.len(), r.towns.len(), "{}", r.name);
    }
}

#[test]
fn identity_values_are_well_formed_and_seeded() {
    for i in [0usize, 1, 99, 12_345, 9_999_999] {
        let s = twitter_screen_name(1, i);
        assert!(
            s.len() <= 15 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{s}"
        );
        assert!(s.ends_with(|c: char| c.is_ascii_digit()));
        assert_eq!(
            twitter_handle(1, i)
                .trim_start_matches('@')
                .to_ascii_lowercase(),
            s.to_ascii_lowercase()
        );
        assert_eq!(email(1, i).to_ascii_lowercase(), email_address(1, i));
        assert_eq!(facebook_id(1, i).len(), 15);
        assert!(
            phone_e164(1, i).starts_with("+4477")
                || phone_e164(1, i).starts_with("+4478")
                || phone_e164(1, i).starts_with("+4479")
        );
        for style in 0..PHONE_STYLES {
            let p = format_phone(phone_nsn(1, i), style);
            let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
            assert!(digits.ends_with(&phone_nsn(1, i).to_string()), "{p}");
        }
    }
    let a: Vec<String> = (0..50)
        .map(|i| identity_value(1, i, IdentityKind::Email))
        .collect();
    let b: Vec<String> = (0..50)
        .map(|i| identity_value(2, i, IdentityKind::Email))
        .collect();
    assert_ne!(a, b);
    assert_eq!(
        a,
        (0..50)
            .map(|i| identity_value(1, i, IdentityKind::Email))
            .collect::<Vec<_>>()
    );
}

#[test]
fn same_seed_same_bytes() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let v1 = write_crm_snapshot(d1.path(), &cfg(2_000, 3)).unwrap();
    let v2 = write_crm_snapshot(d2.path(), &cfg(2_000, 3)).unwrap();
    for f in ["customers.parquet", "identities.parquet"] {
        assert_eq!(fs::read(v1.join(f)).unwrap(), fs::read(v2.join(f)).unwrap());
    }
    // Re-writing an existing version replaces its files.
    let v3 = write_crm_snapshot(d1.path(), &cfg(1_000, 4)).unwrap();
    assert_eq!(v3, v1);
    let (_, b) = read_all(&v3.join("customers.parquet"));
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1_000);
    assert_ne!(
        fs::read(v3.join("customers.parquet")).unwrap(),
        fs::read(v2.join("customers.parquet")).unwrap()
    );
}
