//! Writing a snapshot version: the Arrow schemas, the batches, the two
//! Parquet files moved into place at the end.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, TimeZone, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::customers::*;
use super::identities::*;
use crate::error::{Result, ToolsError};

/// Settings of [`write_crm_snapshot`].
#[derive(Debug, Clone)]
pub struct CrmGenConfig {
    /// Number of customers (`customer_id(0)` … `customer_id(customers - 1)`).
    pub customers: usize,
    /// Seed; the same seed and size always give the same snapshot.
    pub seed: u64,
    /// Start of validity of the snapshot; names the version directory.
    pub valid_from: DateTime<Utc>,
}

impl Default for CrmGenConfig {
    /// 100 000 customers, seed 42, valid from 2026-11-22T00:00:00Z.
    fn default() -> Self {
        Self {
            customers: 100_000,
            seed: 42,
            valid_from: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        }
    }
}

/// Rows per Arrow record batch written to the Parquet files.
const CHUNK: usize = 64 * 1024;

/// Arrow schema of `customers.parquet`.
pub fn customers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("tier", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("postcode_district", DataType::Utf8, false),
        Field::new(
            "products",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("vulnerable", DataType::Boolean, false),
        Field::new("account_status", DataType::Utf8, false),
    ]))
}

/// Arrow schema of `identities.parquet`.
pub fn identities_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

/// Name of the version directory for a validity start, e.g. `2026-11-22T00-00-00Z`.
pub fn version_dir_name(valid_from: DateTime<Utc>) -> String {
    valid_from.format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

fn build_customers(seed: u64, range: std::ops::Range<usize>) -> Result<RecordBatch> {
    let n = range.len();
    let mut id = StringBuilder::with_capacity(n, n * 9);
    let mut name = StringBuilder::with_capacity(n, n * 16);
    let mut segment = StringBuilder::with_capacity(n, n * 8);
    let mut tier = StringBuilder::with_capacity(n, n * 8);
    let mut region = StringBuilder::with_capacity(n, n * 10);
    let mut district = StringBuilder::with_capacity(n, n * 4);
    let mut products = ListBuilder::new(StringBuilder::with_capacity(n * 2, n * 14));
    let mut vulnerable = BooleanBuilder::with_capacity(n);
    let mut status = StringBuilder::with_capacity(n, n * 7);
    for i in range {
        id.append_value(customer_id(i));
        name.append_value(customer_name(seed, i));
        segment.append_value(customer_segment(seed, i));
        tier.append_value(customer_tier(seed, i));
        region.append_value(customer_region(seed, i));
        district.append_value(customer_postcode_district(seed, i));
        push_products(seed, i, |p| products.values().append_value(p));
        products.append(true);
        vulnerable.append_value(customer_vulnerable(seed, i));
        status.append_value(customer_account_status(seed, i));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(segment.finish()),
        Arc::new(tier.finish()),
        Arc::new(region.finish()),
        Arc::new(district.finish()),
        Arc::new(products.finish()),
        Arc::new(vulnerable.finish()),
        Arc::new(status.finish()),
    ];
    Ok(RecordBatch::try_new(customers_schema(), cols)?)
}

fn build_identities(seed: u64, range: std::ops::Range<usize>) -> Result<RecordBatch> {
    let n = range.len() * 2 + 16;
    let mut id = StringBuilder::with_capacity(n, n * 9);
    let mut kind = StringBuilder::with_capacity(n, n * 6);
    let mut value = StringBuilder::with_capacity(n, n * 18);
    for i in range {
        let cid = customer_id(i);
        for k in IdentityKind::ALL {
            if has_identity(seed, i, k) {
                id.append_value(&cid);
                kind.append_value(k.as_str());
                value.append_value(identity_value(seed, i, k));
            }
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(value.finish()),
    ];
    Ok(RecordBatch::try_new(identities_schema(), cols)?)
}

fn open_writer(path: &Path, schema: SchemaRef) -> Result<ArrowWriter<BufWriter<File>>> {
    let file = File::create(path).map_err(|e| ToolsError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    Ok(ArrowWriter::try_new(
        BufWriter::with_capacity(1 << 20, file),
        schema,
        Some(props),
    )?)
}

/// Writes one CRM snapshot version: `out_dir/<valid-from>/customers.parquet`
/// and `identities.parquet` (Snappy), streaming 64 Ki rows per batch, and
/// returns the version directory.
///
/// The files are written into a hidden temporary directory next to the
/// version directory and moved into place at the end, so a pipeline
/// watching `out_dir` never sees a half-written snapshot. An existing
/// version with the same name has its two files replaced.
pub fn write_crm_snapshot(out_dir: &Path, cfg: &CrmGenConfig) -> Result<PathBuf> {
    let name = version_dir_name(cfg.valid_from);
    let final_dir = out_dir.join(&name);
    let tmp_dir = out_dir.join(format!(".tmp-{name}-{}", std::process::id()));
    fs::create_dir_all(&tmp_dir).map_err(|e| ToolsError::io(&tmp_dir, e))?;
    let result = write_files(&tmp_dir, cfg);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp_dir);
        return Err(e);
    }
    if final_dir.exists() {
        for f in ["customers.parquet", "identities.parquet"] {
            let (from, to) = (tmp_dir.join(f), final_dir.join(f));
            fs::rename(&from, &to).map_err(|e| ToolsError::io(&to, e))?;
        }
        fs::remove_dir_all(&tmp_dir).map_err(|e| ToolsError::io(&tmp_dir, e))?;
    } else {
        fs::rename(&tmp_dir, &final_dir).map_err(|e| ToolsError::io(&final_dir, e))?;
    }
    Ok(final_dir)
}

fn write_files(dir: &Path, cfg: &CrmGenConfig) -> Result<()> {
    let mut customers = open_writer(&dir.join("customers.parquet"), customers_schema())?;
    let mut identities = open_writer(&dir.join("identities.parquet"), identities_schema())?;
    let seed = cfg.seed;
    let mut start = 0;
    while start < cfg.customers {
        let end = (start + CHUNK).min(cfg.customers);
        // Build the two batches of the chunk on two threads.
        let (c, i) = std::thread::scope(|s| {
            let ids = s.spawn(|| build_identities(seed, start..end));
            let c = build_customers(seed, start..end);
            (
                c,
                ids.join().unwrap_or_else(|_| {
                    Err(ToolsError::Runtime("identity builder panicked".into()))
                }),
            )
        });
        customers.write(&c?)?;
        identities.write(&i?)?;
        start = end;
    }
    for (w, file) in [
        (customers, "customers.parquet"),
        (identities, "identities.parquet"),
    ] {
        let mut inner = w.into_inner()?;
        std::io::Write::flush(&mut inner).map_err(|e| ToolsError::io(dir.join(file), e))?;
        inner
            .get_ref()
            .sync_all()
            .map_err(|e| ToolsError::io(dir.join(file), e))?;
    }
    Ok(())
}
