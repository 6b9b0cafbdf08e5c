//! Phase 2 of a join, lock-free: the identity columns built from what the
//! lookup found (customer attributes gathered from the snapshot batches,
//! labels written from small dictionaries).

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray,
    StringBuilder, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};

use super::index::{self, customer_schema};
use super::snapshot::Snapshot;
use super::stats::{OUTCOME_LABELS, O_HIT};
use super::versions::{Found, RowKeys, NO_ROW, NO_VERSION};
use crate::columns::append_columns;
use crate::error::{OperatorError, Result};
use crate::schema::col;

/// Phase 2: `batch` with the identity columns appended.
pub(super) fn append(batch: &RecordBatch, keys: &RowKeys, found: &Found) -> Result<RecordBatch> {
    let n = keys.len();
    let (ver, rows, outcome) = (&found.ver, &found.rows, &found.outcome);
    // The version of the matched customer rows: one, several, or none.
    let mut hit_version = NO_VERSION;
    let mut multi_version = false;
    for (&r, &v) in rows.iter().zip(ver) {
        if r != NO_ROW && v != hit_version {
            multi_version |= hit_version != NO_VERSION;
            hit_version = v;
        }
    }
    let attrs = attributes(
        &found.versions,
        ver,
        rows,
        multi_version,
        hit_version,
        &found.foreign,
    )?;
    let names: Vec<&str> = found.versions.iter().map(|v| v.name.as_str()).collect();
    let a_via = utf8_from_codes(&VIA_LABELS, n, |i| match outcome[i] {
        O_HIT => keys.via[i] as u32,
        _ => NULL_CODE,
    })?;
    let a_miss = utf8_from_codes(&OUTCOME_LABELS, n, |i| match outcome[i] {
        O_HIT => NULL_CODE,
        o => o as u32,
    })?;
    let a_snap = utf8_from_codes(&names, n, |i| match ver[i] {
        NO_VERSION => NULL_CODE,
        v => v as u32,
    })?;
    let matched = BooleanArray::new(
        BooleanBuffer::collect_bool(n, |i| outcome[i] == O_HIT),
        None,
    );
    let before = BooleanArray::new(BooleanBuffer::collect_bool(n, |i| found.before[i]), None);

    let f = |name: &str, a: ArrayRef, nullable: bool| {
        (Field::new(name, a.data_type().clone(), nullable), a)
    };
    let [a_cid, a_seg, a_tier, a_region, a_vuln, a_status] = attrs;
    append_columns(
        batch,
        vec![
            f(col::CUSTOMER_ID, a_cid, true),
            f(col::CUSTOMER_SEGMENT, a_seg, true),
            f(col::CUSTOMER_TIER, a_tier, true),
            f(col::CUSTOMER_REGION, a_region, true),
            f(col::CUSTOMER_VULNERABLE, a_vuln, true),
            f(col::CUSTOMER_ACCOUNT_STATUS, a_status, true),
            f(col::IDENTITY_MATCHED, Arc::new(matched), false),
            f(col::IDENTITY_VIA, a_via, true),
            f(col::IDENTITY_SNAPSHOT, a_snap, true),
            f(col::IDENTITY_MISS_REASON, a_miss, true),
            f(col::IDENTITY_BEFORE_OLDEST_VERSION, Arc::new(before), false),
        ],
    )
}

/// Code of a null in [`utf8_from_codes`].
const NULL_CODE: u32 = u32::MAX;

/// A Utf8 column of `n` rows with `dict[code(i)]` at row `i`, null where
/// the code is not in `dict` ([`NULL_CODE`]): two tight passes (offsets,
/// then bytes) instead of a builder call per row. `code` is called up to
/// three times per row, so it should be cheap.
fn utf8_from_codes(dict: &[&str], n: usize, code: impl Fn(usize) -> u32) -> Result<ArrayRef> {
    match dict.iter().map(|s| s.len()).max().unwrap_or(0) {
        0..=16 => utf8_padded::<16>(dict, n, code),
        17..=32 => utf8_padded::<32>(dict, n, code),
        _ => utf8_padded::<0>(dict, n, code),
    }
}

/// [`utf8_from_codes`] with every entry of `dict` padded to `W` bytes, so
/// that a value is copied as one fixed-size move (then the length trimmed
/// back); `W = 0` copies each value as is.
fn utf8_padded<const W: usize>(
    dict: &[&str],
    n: usize,
    code: impl Fn(usize) -> u32,
) -> Result<ArrayRef> {
    let padded: Vec<([u8; W], usize)> = dict
        .iter()
        .map(|s| {
            let mut p = [0u8; W];
            if W > 0 {
                p[..s.len()].copy_from_slice(s.as_bytes());
            }
            (p, s.len())
        })
        .collect();
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut end = 0usize;
    let mut nulls = 0usize;
    for i in 0..n {
        match padded.get(code(i) as usize) {
            Some((_, len)) => end += len,
            None => nulls += 1,
        }
        offsets.push(end as i32);
    }
    if end > i32::MAX as usize {
        return Err(OperatorError::Input(
            "identity join output column over 2 GiB".into(),
        ));
    }
    let mut values: Vec<u8> = Vec::with_capacity(end + W);
    for i in 0..n {
        let c = code(i) as usize;
        if let Some((p, len)) = padded.get(c) {
            if W > 0 {
                let at = values.len();
                values.extend_from_slice(p);
                values.truncate(at + len);
            } else {
                values.extend_from_slice(dict[c].as_bytes());
            }
        }
    }
    let nulls = (nulls > 0).then(|| {
        NullBuffer::new(BooleanBuffer::collect_bool(n, |i| {
            (code(i) as usize) < dict.len()
        }))
    });
    Ok(Arc::new(StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        nulls,
    )?))
}

/// The six customer attribute columns for the rows (`rows[i]` of version
/// `ver[i]`, null where `rows[i] == NO_ROW`), plus the customer ids of
/// overlay hits on customers absent from their version.
fn attributes(
    versions: &[Arc<Snapshot>],
    ver: &[u8],
    rows: &[u32],
    multi_version: bool,
    hit_version: u8,
    foreign: &[(usize, Arc<str>)],
) -> Result<[ArrayRef; 6]> {
    let n = rows.len();
    let schema = customer_schema();
    if hit_version == NO_VERSION {
        let mut out: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), n))
            .collect();
        if !foreign.is_empty() {
            out[0] = with_foreign(&out[0], foreign);
        }
        return out
            .try_into()
            .map_err(|_| OperatorError::Input("customer attribute columns".into()));
    }
    // Gathers one column of the customers batch(es).
    let idx = (!multi_version).then(|| {
        let valid = BooleanBuffer::collect_bool(n, |i| rows[i] != NO_ROW);
        let values: ScalarBuffer<u32> = rows
            .iter()
            .map(|&r| if r == NO_ROW { 0 } else { r })
            .collect();
        UInt32Array::new(values, Some(NullBuffer::new(valid)))
    });
    let gather = |c: usize| -> Result<ArrayRef> {
        if let Some(idx) = &idx {
            // One version: `take` with a null index for every miss.
            let customers = versions[hit_version as usize].index.customers();
            return Ok(arrow::compute::take(
                customers.column(c).as_ref(),
                idx,
                None,
            )?);
        }
        // Several versions: interleave, with a one-row all-null source last.
        let ix: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                if rows[i] == NO_ROW {
                    (versions.len(), 0)
                } else {
                    (ver[i] as usize, rows[i] as usize)
                }
            })
            .collect();
        let null = new_null_array(schema.field(c).data_type(), 1);
        let mut srcs: Vec<&dyn Array> = versions
            .iter()
            .map(|v| v.index.customers().column(c).as_ref())
            .collect();
        srcs.push(null.as_ref());
        Ok(arrow::compute::interleave(&srcs, &ix)?)
    };
    let mut cid = gather(0)?;
    if !foreign.is_empty() {
        cid = with_foreign(&cid, foreign);
    }
    // The packed attributes: one random read per matched row.
    let packed: Vec<u64> = (0..n)
        .map(|i| match rows[i] {
            NO_ROW => 0,
            r => versions[ver[i] as usize].index.packed.rows[r as usize],
        })
        .collect();
    let mut strs: Vec<ArrayRef> = Vec::with_capacity(4);
    let mut dict: Vec<&str> = Vec::new();
    let mut base: Vec<(u32, u32)> = Vec::with_capacity(versions.len());
    for (k, &c) in index::PACKED_COLS.iter().enumerate() {
        if versions.iter().any(|v| v.index.packed.dicts[k].is_none()) {
            strs.push(gather(c)?);
            continue;
        }
        // Every version's dictionary back to back: row `i`'s value is
        // entry `base[ver[i]] + code`.
        dict.clear();
        base.clear();
        for v in versions {
            let d = v.index.packed.dicts[k].as_deref().unwrap_or_default();
            base.push((dict.len() as u32, d.len() as u32));
            dict.extend(d.iter().map(|s| &**s));
        }
        strs.push(utf8_from_codes(&dict, n, |i| {
            if rows[i] == NO_ROW {
                return NULL_CODE;
            }
            let code = ((packed[i] >> (8 * k)) & 0xff) as u32;
            let (b, len) = base[ver[i] as usize];
            if code < len {
                b + code
            } else {
                NULL_CODE
            }
        })?);
    }
    let vul = BooleanArray::new(
        BooleanBuffer::collect_bool(n, |i| (packed[i] >> 32) & 3 == 2),
        Some(NullBuffer::new(BooleanBuffer::collect_bool(n, |i| {
            (packed[i] >> 32) & 3 != 0
        }))),
    );
    let [seg, tier, region, status]: [ArrayRef; 4] = strs
        .try_into()
        .map_err(|_| OperatorError::Input("customer attribute columns".into()))?;
    debug_assert_eq!(cid.data_type(), &DataType::Utf8);
    Ok([cid, seg, tier, region, Arc::new(vul), status])
}

/// `ids` with the customer ids of overlay hits on customers absent from
/// their version put in.
fn with_foreign(ids: &ArrayRef, foreign: &[(usize, Arc<str>)]) -> ArrayRef {
    let n = ids.len();
    let ids = ids.as_string_opt::<i32>();
    let mut b = StringBuilder::with_capacity(n, n * 10);
    let mut next = foreign.iter().peekable();
    for i in 0..n {
        match next.peek() {
            Some((fi, id)) if *fi == i => {
                b.append_value(id.as_ref());
                next.next();
            }
            _ => b.append_option(ids.and_then(|a| a.is_valid(i).then(|| a.value(i)))),
        }
    }
    Arc::new(b.finish())
}

/// [`col::IDENTITY_VIA`] by identity kind code.
const VIA_LABELS: [&str; 5] = [
    "twitter:handle",
    "facebook:author_id",
    "instagram:handle",
    "email",
    "phone",
];
