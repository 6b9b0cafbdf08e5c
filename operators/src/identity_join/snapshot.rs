//! Loading one CRM snapshot version through DataFusion.
//!
//! `customers` and `identities` are registered in a [`SessionContext`] as
//! Parquet (`*.parquet`) or CSV with a header (`*.csv`), validated (files,
//! required columns, their types, non-empty customers) and read with SQL
//! (projection and casts to strings). The identity values are normalised in
//! Rust, batch by batch as DataFusion streams them, with [`normalize_into`]
//! — the very function used for mentions, so both sides of the join agree
//! byte for byte — straight into the index's key arena (no per-row
//! allocation).
//!
//! Every failure is an [`OperatorError::Snapshot`] with a bounded `code`:
//! `missing_file`, `missing_column`, `wrong_type`, `empty` or `unreadable`.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

use super::config::IdentityJoinConfig;
use super::index::{customer_schema, IdentityIndex, IndexBuilder};
use super::normalize::{key_into, IdentityKind};
use crate::error::{OperatorError, Result};

/// Bounded load-failure codes (see [`OperatorError::snapshot_code`]).
pub mod code {
    /// `customers` or `identities` file absent.
    pub const MISSING_FILE: &str = "missing_file";
    /// A required column is absent.
    pub const MISSING_COLUMN: &str = "missing_column";
    /// A required column has the wrong type.
    pub const WRONG_TYPE: &str = "wrong_type";
    /// No customers.
    pub const EMPTY: &str = "empty";
    /// Corrupt file, I/O or DataFusion error, bad directory name.
    pub const UNREADABLE: &str = "unreadable";
}

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
    crate::time::parse_rfc3339(&rfc)
}

/// Version directories under `root`, sorted by valid-from: sub-directories
/// whose name parses as a version; names starting with `.` (in-progress
/// `.tmp-…` writes) and anything else are ignored.
pub fn list_versions(root: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let rd = std::fs::read_dir(root)
        .map_err(|e| snap_err(root, code::UNREADABLE, format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| snap_err(root, code::UNREADABLE, format!("cannot list: {e}")))?;
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

fn snap_err(path: &Path, code: &'static str, reason: impl Into<String>) -> OperatorError {
    OperatorError::Snapshot {
        path: path.to_path_buf(),
        code,
        reason: reason.into(),
    }
}

/// Loads the snapshot version in `dir` (its name gives the valid-from time).
///
/// Every error is an [`OperatorError::Snapshot`] (see [`code`]).
///
/// A decoder that panics on a corrupt file (arrow-ipc's "Type <UNKNOWN 133>
/// not supported" for one flipped byte of a Parquet footer) is caught: the
/// version fails with `unreadable` ("corrupt file: …") like any other.
pub fn load_snapshot(dir: &Path, cfg: &IdentityJoinConfig) -> Result<Snapshot> {
    let loaded = crate::panic_guard::catch(|| load(dir, cfg)).unwrap_or_else(|msg| {
        Err(snap_err(
            dir,
            code::UNREADABLE,
            format!("corrupt file: the decoder failed: {msg}"),
        ))
    });
    loaded.map_err(|e| match e {
        e @ OperatorError::Snapshot { .. } => e,
        other => snap_err(dir, code::UNREADABLE, other.to_string()),
    })
}

fn load(dir: &Path, cfg: &IdentityJoinConfig) -> Result<Snapshot> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| snap_err(dir, code::UNREADABLE, "directory has no UTF-8 name"))?
        .to_owned();
    let valid_from_ms = parse_version_name(&name).ok_or_else(|| {
        snap_err(
            dir,
            code::UNREADABLE,
            "directory name is not a version time like 2026-11-22T00-00-00Z",
        )
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| snap_err(dir, code::UNREADABLE, format!("cannot start runtime: {e}")))?;
    let (index, skipped) = rt.block_on(read_tables(dir, cfg))?;
    Ok(Snapshot {
        name,
        valid_from_ms,
        path: dir.to_path_buf(),
        index,
        skipped_identities: skipped,
    })
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
        code::MISSING_FILE,
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
        .ok_or_else(|| snap_err(&file, code::UNREADABLE, "path is not UTF-8"))?;
    let reg = if parquet {
        ctx.register_parquet(table, path_str, ParquetReadOptions::default())
            .await
    } else {
        ctx.register_csv(table, path_str, CsvReadOptions::new().has_header(true))
            .await
    };
    reg.map_err(|e| snap_err(&file, code::UNREADABLE, format!("cannot read: {e}")))?;
    register_check(ctx, &file, table, required).await?;
    Ok(file)
}

async fn stream(ctx: &SessionContext, file: &Path, q: &str) -> Result<SendableRecordBatchStream> {
    let df = ctx
        .sql(q)
        .await
        .map_err(|e| snap_err(file, code::UNREADABLE, format!("query failed: {e}")))?;
    df.execute_stream()
        .await
        .map_err(|e| snap_err(file, code::UNREADABLE, format!("cannot read: {e}")))
}

/// The next batch of a stream.
async fn next(s: &mut SendableRecordBatchStream, file: &Path) -> Result<Option<RecordBatch>> {
    match std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(e)) => Err(snap_err(
            file,
            code::UNREADABLE,
            format!("cannot read: {e}"),
        )),
    }
}

async fn sql(ctx: &SessionContext, file: &Path, q: &str) -> Result<Vec<RecordBatch>> {
    let mut s = stream(ctx, file, q).await?;
    let mut out = Vec::new();
    while let Some(b) = next(&mut s, file).await? {
        out.push(b);
    }
    Ok(out)
}

async fn read_tables(dir: &Path, cfg: &IdentityJoinConfig) -> Result<(IdentityIndex, usize)> {
    let ctx = SessionContext::new();
    let (cust_file, count) = register_customers(&ctx, dir).await?;
    let s: fn(&DataType) -> bool = is_string;
    let id: fn(&DataType) -> bool = is_id;
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
    let customers = read_customers(&ctx, &cust_file).await?;
    let mut builder = IndexBuilder::new(customers, count * 2);
    let skipped = index_identities(&ctx, &ident_file, cfg, &mut builder).await?;
    Ok((builder.finish(), skipped))
}

/// Registers `customers` and checks it: present, not empty, then the
/// columns' types. Returns its file and row count.
async fn register_customers(ctx: &SessionContext, dir: &Path) -> Result<(PathBuf, usize)> {
    let s: fn(&DataType) -> bool = is_string;
    let id: fn(&DataType) -> bool = is_id;
    let b: fn(&DataType) -> bool = |t| matches!(t, DataType::Boolean);
    // Presence only here: a header-only CSV infers every column as Null.
    let any: fn(&DataType) -> bool = |_| true;
    let cust_file = register(ctx, dir, "customers", &[("customer_id", any, "any")]).await?;
    // Emptiness before types: a header-only CSV infers every column as Null.
    let n = sql(ctx, &cust_file, "SELECT count(*) AS n FROM customers").await?;
    let count = n
        .first()
        .and_then(|b| {
            b.column(0)
                .as_primitive_opt::<arrow::datatypes::Int64Type>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    if count == 0 {
        return Err(snap_err(&cust_file, code::EMPTY, "customers is empty"));
    }
    register_check(
        ctx,
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
    Ok((cust_file, count as usize))
}

/// Customers: one columnar batch (Utf8 strings), first occurrence of an
/// id wins.
async fn read_customers(ctx: &SessionContext, cust_file: &Path) -> Result<RecordBatch> {
    let mut cs = stream(
        ctx,
        cust_file,
        "SELECT CAST(customer_id AS VARCHAR) AS customer_id, \
                CAST(segment AS VARCHAR) AS segment, CAST(tier AS VARCHAR) AS tier, \
                CAST(region AS VARCHAR) AS region, vulnerable, \
                CAST(account_status AS VARCHAR) AS account_status \
         FROM customers WHERE customer_id IS NOT NULL",
    )
    .await?;
    let mut cols: [Vec<ArrayRef>; 6] = Default::default();
    while let Some(b) = next(&mut cs, cust_file).await? {
        for (i, c) in cols.iter_mut().enumerate() {
            let a = b.column(i);
            let want = if i == 4 {
                DataType::Boolean
            } else {
                DataType::Utf8
            };
            c.push(if a.data_type() == &want {
                a.clone()
            } else {
                cast(a, &want)?
            });
        }
    }
    drop(cs);
    customers_batch(cust_file, cols)
}

/// Identities, streamed: normalised and indexed batch by batch. Returns
/// how many rows were skipped (unknown kind, unknown customer, a value
/// that does not normalise).
async fn index_identities(
    ctx: &SessionContext,
    ident_file: &Path,
    cfg: &IdentityJoinConfig,
    builder: &mut IndexBuilder,
) -> Result<usize> {
    let mut is = stream(
        ctx,
        ident_file,
        "SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(kind AS VARCHAR) AS kind, \
                CAST(value AS VARCHAR) AS value \
         FROM identities WHERE customer_id IS NOT NULL AND value IS NOT NULL",
    )
    .await?;
    let cc = cfg.default_country_code.as_str();
    let mut key = String::with_capacity(64);
    let mut skipped = 0usize;
    while let Some(b) = next(&mut is, ident_file).await? {
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
            let Some(row) = builder.customer_row(cid.value(i)) else {
                skipped += 1;
                continue;
            };
            if !key_into(k, value.value(i), cc, &mut key) {
                skipped += 1;
                continue;
            }
            if !builder.push(key.as_bytes(), row) {
                return Err(snap_err(
                    ident_file,
                    code::UNREADABLE,
                    "identities exceed the 4 GiB key arena",
                ));
            }
        }
    }
    Ok(skipped)
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
        .map_err(|e| snap_err(file, code::UNREADABLE, format!("cannot read: {e}")))?;
    let schema = provider.schema();
    for (col, ok, expected) in required {
        let field = schema.field_with_name(col).map_err(|_| {
            snap_err(
                file,
                code::MISSING_COLUMN,
                format!("missing column `{col}`"),
            )
        })?;
        if !ok(field.data_type()) {
            return Err(snap_err(
                file,
                code::WRONG_TYPE,
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
    if let Some(s) = a.as_string_opt::<i32>() {
        return Ok(s.clone());
    }
    let c = cast(a, &DataType::Utf8)?;
    Ok(c.as_string::<i32>().clone())
}

/// The customer batch ([`customer_schema`]) from per-batch columns.
fn customers_batch(file: &Path, cols: [Vec<ArrayRef>; 6]) -> Result<RecordBatch> {
    let concat = |v: &[ArrayRef]| -> Result<ArrayRef> {
        if v.len() == 1 {
            return Ok(v[0].clone());
        }
        let refs: Vec<&dyn Array> = v.iter().map(|a| a.as_ref()).collect();
        Ok(arrow::compute::concat(&refs)?)
    };
    let mut out: Vec<ArrayRef> = Vec::with_capacity(6);
    for c in &cols {
        out.push(concat(c)?);
    }
    drop(cols);
    let ids = out[0].as_string::<i32>();
    if ids.is_empty() {
        return Err(snap_err(file, code::EMPTY, "customers is empty"));
    }
    // A repeated id keeps its first row: the index's customer map only
    // points there (the later rows stay in the batch, unreachable).
    // The id column is non-nullable in the schema; the SQL dropped nulls.
    let vul = out[4].as_any().downcast_ref::<BooleanArray>().is_some();
    if !vul {
        return Err(snap_err(
            file,
            code::WRONG_TYPE,
            "column `vulnerable` is not boolean",
        ));
    }
    Ok(RecordBatch::try_new(customer_schema(), out)?)
}
