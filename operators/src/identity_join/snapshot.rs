//! Loading one CRM snapshot version through DataFusion.
//!
//! `customers` and `identities` are registered in a [`SessionContext`] as
//! Parquet (`*.parquet`) or CSV with a header (`*.csv`), validated (files,
//! required columns, their types, non-empty customers) and read with SQL.
//! Handle/email normalisation (trim, lower-case, strip a leading `@` from
//! social handles) is done in the SQL; phone numbers are normalised to E.164
//! in Rust after the SQL by [`normalize_phone`], the same function used for
//! mentions, so both sides of the join agree exactly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

use super::index::{customer_schema, IdentityIndex};
use super::normalize::{normalize_phone, IdentityKind};
use super::{IdentityJoinConfig, OperatorError, Result};

/// One loaded snapshot version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The version's directory name (`2026-11-22T00-00-00Z`).
    pub name: String,
    /// Valid from (epoch ms, UTC), parsed from [`Snapshot::name`].
    pub valid_from_ms: i64,
    /// Directory it was loaded from.
    pub path: PathBuf,
    /// The identity index.
    pub index: IdentityIndex,
    /// Identity rows that were skipped: unknown `kind`, a `customer_id`
    /// absent from `customers`, or a value that does not normalise.
    pub skipped_identities: usize,
}

/// Parses a version directory name `YYYY-MM-DDTHH-MM-SSZ` to epoch ms.
pub fn parse_version_name(name: &str) -> Option<i64> {
    // The directory name is RFC 3339 with `-` for `:` in the time (colons
    // are not portable in file names): restore them and use the one parser.
    let b = name.as_bytes();
    if b.len() != 20 || b[13] != b'-' || b[16] != b'-' || b[19] != b'Z' {
        return None;
    }
    let mut rfc = name.to_owned();
    rfc.replace_range(13..14, ":");
    rfc.replace_range(16..17, ":");
    crate::parse::time::parse_rfc3339(&rfc)
}

/// Version directories under `root`, sorted by valid-from: sub-directories
/// whose name parses as a version; names starting with `.` (in-progress
/// `.tmp-…` writes) and anything else are ignored.
pub fn list_versions(root: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let rd = std::fs::read_dir(root).map_err(|e| snap_err(root, format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| snap_err(root, format!("cannot list: {e}")))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        if let Some(ms) = parse_version_name(name) {
            out.push((ms, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn snap_err(path: &Path, reason: impl Into<String>) -> OperatorError {
    OperatorError::Snapshot {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Loads the snapshot version in `dir` (its name gives the valid-from time).
pub fn load_snapshot(dir: &Path, cfg: &IdentityJoinConfig) -> Result<Snapshot> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| snap_err(dir, "directory has no UTF-8 name"))?
        .to_owned();
    let valid_from_ms = parse_version_name(&name).ok_or_else(|| {
        snap_err(
            dir,
            "directory name is not a version time like 2026-11-22T00-00-00Z",
        )
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| snap_err(dir, format!("cannot start runtime: {e}")))?;
    let (customers, identities) = rt.block_on(read_tables(dir))?;
    build(dir, name, valid_from_ms, customers, identities, cfg)
}

/// Which file backs a table.
fn find_table(dir: &Path, table: &str) -> Result<(PathBuf, bool)> {
    let pq = dir.join(format!("{table}.parquet"));
    if pq.is_file() {
        return Ok((pq, true));
    }
    let csv = dir.join(format!("{table}.csv"));
    if csv.is_file() {
        return Ok((csv, false));
    }
    Err(snap_err(
        dir,
        format!("missing file: neither {table}.parquet nor {table}.csv"),
    ))
}

/// A required column: name, accepted types, expected type for the message.
type ColumnCheck<'a> = (&'a str, fn(&DataType) -> bool, &'a str);

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
}

fn is_id(t: &DataType) -> bool {
    is_string(t) || t.is_integer()
}

/// Registers the table, checks its columns and types; returns the file.
async fn register(
    ctx: &SessionContext,
    dir: &Path,
    table: &str,
    required: &[ColumnCheck<'_>],
) -> Result<PathBuf> {
    let (file, parquet) = find_table(dir, table)?;
    let path_str = file
        .to_str()
        .ok_or_else(|| snap_err(&file, "path is not UTF-8"))?;
    let reg = if parquet {
        ctx.register_parquet(table, path_str, ParquetReadOptions::default())
            .await
    } else {
        ctx.register_csv(table, path_str, CsvReadOptions::new().has_header(true))
            .await
    };
    reg.map_err(|e| snap_err(&file, format!("cannot read: {e}")))?;
    register_check(ctx, &file, table, required).await?;
    Ok(file)
}

async fn sql(ctx: &SessionContext, file: &Path, q: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql(q)
        .await
        .map_err(|e| snap_err(file, format!("query failed: {e}")))?;
    df.collect()
        .await
        .map_err(|e| snap_err(file, format!("cannot read: {e}")))
}

async fn read_tables(dir: &Path) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>)> {
    let ctx = SessionContext::new();
    let s: fn(&DataType) -> bool = is_string;
    let id: fn(&DataType) -> bool = is_id;
    let b: fn(&DataType) -> bool = |t| matches!(t, DataType::Boolean);
    // Presence only here: a header-only CSV infers every column as Null.
    let any: fn(&DataType) -> bool = |_| true;
    let cust_file = register(&ctx, dir, "customers", &[("customer_id", any, "any")]).await?;
    // Emptiness before types: a header-only CSV infers every column as Null.
    let n = sql(&ctx, &cust_file, "SELECT count(*) AS n FROM customers").await?;
    let count = n
        .first()
        .and_then(|b| {
            b.column(0)
                .as_primitive_opt::<arrow::datatypes::Int64Type>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    if count == 0 {
        return Err(snap_err(&cust_file, "customers is empty"));
    }
    register_check(
        &ctx,
        &cust_file,
        "customers",
        &[
            ("customer_id", id, "string"),
            ("segment", s, "string"),
            ("tier", s, "string"),
            ("region", s, "string"),
            ("vulnerable", b, "boolean"),
            ("account_status", s, "string"),
        ],
    )
    .await?;
    let ident_file = register(
        &ctx,
        dir,
        "identities",
        &[
            ("customer_id", id, "string"),
            ("kind", s, "string"),
            ("value", id, "string"),
        ],
    )
    .await?;
    let customers = sql(
        &ctx,
        &cust_file,
        "SELECT CAST(customer_id AS VARCHAR) AS customer_id, \
                CAST(segment AS VARCHAR) AS segment, CAST(tier AS VARCHAR) AS tier, \
                CAST(region AS VARCHAR) AS region, vulnerable, \
                CAST(account_status AS VARCHAR) AS account_status \
         FROM customers WHERE customer_id IS NOT NULL",
    )
    .await?;
    let identities = sql(
        &ctx,
        &ident_file,
        "SELECT CAST(customer_id AS VARCHAR) AS customer_id, k AS kind, \
                CASE WHEN k IN ('twitter', 'instagram', 'facebook') \
                     THEN ltrim(trim(lower(v)), '@') ELSE trim(lower(v)) END AS value \
         FROM (SELECT customer_id, lower(trim(CAST(kind AS VARCHAR))) AS k, \
                      CAST(value AS VARCHAR) AS v FROM identities) \
         WHERE customer_id IS NOT NULL AND v IS NOT NULL",
    )
    .await?;
    Ok((customers, identities))
}

/// Column presence and type checks on a registered table; errors name the
/// file and the column.
async fn register_check(
    ctx: &SessionContext,
    file: &Path,
    table: &str,
    required: &[ColumnCheck<'_>],
) -> Result<()> {
    let provider = ctx
        .table_provider(table)
        .await
        .map_err(|e| snap_err(file, format!("cannot read: {e}")))?;
    let schema = provider.schema();
    for (col, ok, expected) in required {
        let field = schema
            .field_with_name(col)
            .map_err(|_| snap_err(file, format!("missing column `{col}`")))?;
        if !ok(field.data_type()) {
            return Err(snap_err(
                file,
                format!(
                    "column `{col}` has type {}, expected {expected}",
                    field.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// Any string-like column as a plain `StringArray`.
fn utf8(a: &ArrayRef) -> Result<StringArray> {
    let c = cast(a, &DataType::Utf8)?;
    Ok(c.as_string::<i32>().clone())
}

fn build(
    dir: &Path,
    name: String,
    valid_from_ms: i64,
    customers: Vec<RecordBatch>,
    identities: Vec<RecordBatch>,
    cfg: &IdentityJoinConfig,
) -> Result<Snapshot> {
    // Customers: one columnar batch, first occurrence of an id wins.
    let mut cols: [Vec<ArrayRef>; 6] = Default::default();
    for b in &customers {
        for (i, c) in cols.iter_mut().enumerate() {
            c.push(b.column(i).clone());
        }
    }
    let concat = |v: &[ArrayRef]| -> Result<ArrayRef> {
        let refs: Vec<&dyn Array> = v.iter().map(|a| a.as_ref()).collect();
        Ok(arrow::compute::concat(&refs)?)
    };
    let ids = utf8(&concat(&cols[0])?)?;
    let mut row_of: HashMap<String, u32> = HashMap::with_capacity(ids.len());
    let mut keep: Vec<u32> = Vec::with_capacity(ids.len());
    for i in 0..ids.len() {
        if ids.is_valid(i) && !row_of.contains_key(ids.value(i)) {
            row_of.insert(ids.value(i).to_owned(), keep.len() as u32);
            keep.push(i as u32);
        }
    }
    if keep.is_empty() {
        return Err(snap_err(dir, "customers is empty"));
    }
    let take_idx = arrow::array::UInt32Array::from(keep);
    let mut out: Vec<ArrayRef> = Vec::with_capacity(6);
    for (i, c) in cols.iter().enumerate() {
        let all = concat(c)?;
        let col: ArrayRef = if i == 4 {
            let b = cast(&all, &DataType::Boolean)?;
            Arc::new(b.as_any().downcast_ref::<BooleanArray>().unwrap().clone())
        } else {
            Arc::new(utf8(&all)?)
        };
        out.push(arrow::compute::take(&col, &take_idx, None)?);
    }
    let customers = RecordBatch::try_new(customer_schema(), out)?;

    // Identities: SQL already normalised handles and emails; phones here.
    let mut entries = Vec::new();
    let mut skipped = 0usize;
    for b in &identities {
        let cid = utf8(b.column(0))?;
        let kind = utf8(b.column(1))?;
        let value = utf8(b.column(2))?;
        for i in 0..b.num_rows() {
            let Some(k) = kind
                .is_valid(i)
                .then(|| IdentityKind::parse(kind.value(i)))
                .flatten()
            else {
                skipped += 1;
                continue;
            };
            let Some(&row) = row_of.get(cid.value(i)) else {
                skipped += 1;
                continue;
            };
            let v = value.value(i);
            let v = if k == IdentityKind::Phone {
                normalize_phone(v, &cfg.default_country_code)
            } else {
                (!v.is_empty()).then(|| v.to_owned())
            };
            match v {
                Some(v) => entries.push((k, v, row)),
                None => skipped += 1,
            }
        }
    }
    Ok(Snapshot {
        name,
        valid_from_ms,
        path: dir.to_path_buf(),
        index: IdentityIndex::build(customers, entries),
        skipped_identities: skipped,
    })
}
