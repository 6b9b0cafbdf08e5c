//! Reading and appending Arrow columns: the helpers every operator shares.
//!
//! Operators read the columns they need by name (from [`crate::schema::col`])
//! and append their own with [`append_columns`]. Readers come in three
//! kinds:
//! - views without a copy ([`StrColumn`], [`utf8`], [`I64View`],
//!   [`bool_column`]) for the hot paths; an absent optional column is
//!   `None`, a column of the wrong type an error;
//! - [`cast_column`]: any type Arrow can cast to the wanted one;
//! - [`cast_numeric`]: numeric (or all-null) columns only, cast to the
//!   wanted width.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;

use crate::error::{OperatorError, Result};

/// A read-only view of a string column of any Arrow string type.
pub(crate) enum StrColumn<'a> {
    Utf8(&'a arrow::array::StringArray),
    Large(&'a arrow::array::LargeStringArray),
    View(&'a arrow::array::StringViewArray),
}

impl<'a> StrColumn<'a> {
    /// The named column; an error if it is missing or not a string column.
    pub(crate) fn get(batch: &'a RecordBatch, name: &str) -> Result<Self> {
        let col = batch.column_by_name(name).ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("missing column `{name}`"))
        })?;
        Self::of(col.as_ref(), name)
    }

    /// The named column if present; an error if present with a non-string type.
    pub(crate) fn opt(batch: &'a RecordBatch, name: &str) -> Result<Option<Self>> {
        batch
            .column_by_name(name)
            .map(|c| Self::of(c.as_ref(), name))
            .transpose()
    }

    /// A view of `col` (named `name` in errors).
    pub(crate) fn of(col: &'a dyn Array, name: &str) -> Result<Self> {
        Ok(match col.data_type() {
            DataType::Utf8 => StrColumn::Utf8(col.as_string::<i32>()),
            DataType::LargeUtf8 => StrColumn::Large(col.as_string::<i64>()),
            DataType::Utf8View => StrColumn::View(col.as_string_view()),
            other => {
                return Err(arrow::error::ArrowError::SchemaError(format!(
                    "column `{name}` must be a string column, found {other}"
                ))
                .into())
            }
        })
    }

    /// The value at `i`, `None` when null.
    #[inline]
    pub(crate) fn value(&self, i: usize) -> Option<&'a str> {
        match self {
            StrColumn::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// The value of an optional string column at `i` (`None` when the column
/// is absent or the value null).
#[inline]
pub(crate) fn str_at<'a>(c: &Option<StrColumn<'a>>, i: usize) -> Option<&'a str> {
    c.as_ref().and_then(|c| c.value(i))
}

/// The named column as a plain `Utf8` array (no other string type): for the
/// hot paths that index one concrete array type.
pub(crate) fn utf8<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .ok_or_else(|| OperatorError::Input(format!("no column `{name}`")))?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| OperatorError::Input(format!("`{name}` is not Utf8")))
}

/// The value of a `Utf8` array at `i`, `None` when null.
#[inline]
pub(crate) fn utf8_at(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// An i64-valued column view without a copy: `Int64`, or millisecond
/// timestamps.
#[derive(Clone, Copy)]
pub(crate) struct I64View<'a> {
    values: &'a [i64],
    nulls: Option<&'a arrow::buffer::NullBuffer>,
}

impl I64View<'_> {
    /// The value at `i`, `None` when null.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<i64> {
        self.nulls
            .is_none_or(|n| n.is_valid(i))
            .then(|| self.values[i])
    }
}

/// The value of an optional i64 column at `i`.
#[inline]
pub(crate) fn i64_at(col: Option<I64View<'_>>, i: usize) -> Option<i64> {
    col.and_then(|a| a.get(i))
}

/// The named `Int64` column, if present.
pub(crate) fn int_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<Option<I64View<'a>>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Int64 => {
                let a = c.as_primitive::<Int64Type>();
                Ok(Some(I64View {
                    values: a.values(),
                    nulls: a.nulls(),
                }))
            }
            other => Err(type_err(name, "Int64", other)),
        },
    }
}

/// The named millisecond-timestamp (or `Int64` milliseconds) column, if
/// present.
pub(crate) fn time_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<Option<I64View<'a>>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let a = c.as_primitive::<TimestampMillisecondType>();
                Ok(Some(I64View {
                    values: a.values(),
                    nulls: a.nulls(),
                }))
            }
            DataType::Int64 => int_column(batch, name),
            other => Err(type_err(name, "Timestamp(Millisecond) or Int64", other)),
        },
    }
}

/// The named `Boolean` column, if present.
pub(crate) fn bool_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Option<&'a BooleanArray>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Boolean => Ok(Some(c.as_boolean())),
            other => Err(type_err(name, "Boolean", other)),
        },
    }
}

/// The value of an optional Boolean column at `i`.
#[inline]
pub(crate) fn bool_at(a: Option<&BooleanArray>, i: usize) -> Option<bool> {
    a.and_then(|a| a.is_valid(i).then(|| a.value(i)))
}

fn type_err(name: &str, want: &str, got: &DataType) -> OperatorError {
    arrow::error::ArrowError::SchemaError(format!("column `{name}` must be {want}, found {got}"))
        .into()
}

/// The named column cast to `to` (any cast Arrow can do), if present.
pub(crate) fn cast_column(
    batch: &RecordBatch,
    name: &str,
    to: &DataType,
) -> Result<Option<ArrayRef>> {
    let Some(c) = batch.column_by_name(name) else {
        return Ok(None);
    };
    if c.data_type() == to {
        return Ok(Some(c.clone()));
    }
    arrow::compute::cast(c, to)
        .map(Some)
        .map_err(|e| OperatorError::Input(format!("`{name}`: {e}")))
}

/// The named column cast to `to`, if present: a column of type `to` as it
/// is, an all-null (`Null`) column as nulls, a numeric column cast to a
/// numeric `to`; anything else is an error.
pub(crate) fn cast_numeric(
    batch: &RecordBatch,
    name: &str,
    to: &DataType,
) -> Result<Option<ArrayRef>> {
    let Some(a) = batch.column_by_name(name) else {
        return Ok(None);
    };
    if a.data_type() == to {
        return Ok(Some(a.clone()));
    }
    if matches!(a.data_type(), DataType::Null) {
        return Ok(Some(arrow::array::new_null_array(to, a.len())));
    }
    let ok = match to {
        DataType::Boolean => false,
        _ => a.data_type().is_numeric(),
    };
    if !ok {
        return Err(OperatorError::Input(format!(
            "column `{name}` has type {}, expected {to}",
            a.data_type()
        )));
    }
    Ok(Some(arrow::compute::cast(a, to)?))
}

/// Returns `batch` with `columns` appended, replacing same-named columns.
pub(crate) fn append_columns(
    batch: &RecordBatch,
    columns: Vec<(Field, ArrayRef)>,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(schema.fields().len() + columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
    for (f, a) in schema.fields().iter().zip(batch.columns()) {
        if !columns.iter().any(|(nf, _)| nf.name() == f.name()) {
            fields.push(f.clone());
            arrays.push(a.clone());
        }
    }
    for (f, a) in columns {
        fields.push(Arc::new(f));
        arrays.push(a);
    }
    let new_schema = Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    let options =
        arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        new_schema, arrays, &options,
    )?)
}
