//! Repartitioning by correlation key, the building block of the keyed
//! stage (docs/decisions.md, "Scale-out: keyed stage, changelog, determinism"): the stateless
//! stage will split each enriched batch by the partition its correlation key
//! falls in and ship each part as Arrow IPC to an internal topic that is
//! co-partitioned with `crm-contacts`.
//!
//! Co-partitioning needs the partitioner of whoever produces `crm-contacts`
//! (keyed by customer id): Kafka's default, murmur2 of the key bytes, which
//! librdkafka calls `murmur2_random`. A mention of a known customer is placed
//! by its raw customer id, exactly as that customer's contacts; any other
//! mention by its correlation key ([`crate::correlate::correlation_key`]).

use std::sync::Arc;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::buffer::Buffer;
use arrow::datatypes::DataType;
use arrow::ipc::reader::StreamDecoder;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

use crate::columns::cast_column;
use crate::error::{OperatorError, Result};
use crate::schema::col;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), the
/// hash of its default partitioner and of librdkafka's `murmur2_random`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives `key` among `partitions`.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    debug_assert!(partitions > 0);
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// The named column as `Utf8` (cast from another type), if present.
fn utf8(batch: &RecordBatch, name: &str) -> Result<Option<Arc<dyn Array>>> {
    cast_column(batch, name, &DataType::Utf8)
}

/// The partition of every row of an enriched batch: by the raw customer id
/// when the identity join matched one, else by the correlation key.
pub fn row_partitions(batch: &RecordBatch, partitions: i32) -> Result<Vec<i32>> {
    if partitions < 1 {
        return Err(OperatorError::Input(format!(
            "partition count must be at least 1, got {partitions}"
        )));
    }
    let need = |name: &str| {
        utf8(batch, name)?.ok_or_else(|| OperatorError::Input(format!("no column `{name}`")))
    };
    let mention_id = need(col::MENTION_ID)?;
    let channel = need(col::CHANNEL)?;
    let customer = utf8(batch, col::CUSTOMER_ID)?;
    let handle = utf8(batch, col::AUTHOR_HANDLE)?;
    let author = utf8(batch, col::AUTHOR_ID)?;
    fn s(a: &Option<Arc<dyn Array>>, i: usize) -> Option<&str> {
        a.as_ref().and_then(|a| {
            let a = a.as_string::<i32>();
            a.is_valid(i).then(|| a.value(i)).filter(|v| !v.is_empty())
        })
    }
    let mid = mention_id.as_string::<i32>();
    let ch = channel.as_string::<i32>();
    Ok((0..batch.num_rows())
        .map(|i| match s(&customer, i) {
            Some(c) => partition_for(c.as_bytes(), partitions),
            None => {
                let key = crate::correlate::correlation_key(
                    None,
                    ch.value(i),
                    s(&handle, i),
                    s(&author, i),
                    mid.value(i),
                );
                partition_for(key.as_bytes(), partitions)
            }
        })
        .collect())
}

/// Splits a batch by row partition: one batch per partition that has rows,
/// in partition order, each keeping the rows' original order.
pub fn split_by_partition(batch: &RecordBatch, partitions: i32) -> Result<Vec<(i32, RecordBatch)>> {
    let parts = row_partitions(batch, partitions)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); partitions as usize];
    for (i, p) in parts.iter().enumerate() {
        rows[*p as usize].push(i as u32);
    }
    let mut out = Vec::new();
    for (p, idx) in rows.into_iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        let idx = UInt32Array::from(idx);
        let cols = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push((p as i32, RecordBatch::try_new(batch.schema(), cols)?));
    }
    Ok(out)
}

/// One batch as an Arrow IPC stream (schema + batch), the payload of one
/// repartition record.
pub fn encode_ipc(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    {
        let mut w = StreamWriter::try_new(&mut buf, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(buf)
}

/// One batch as one or more Arrow IPC streams of at most `max_bytes` each:
/// a stream over the limit is split in halves by rows until every part
/// fits (a lone row that does not fit is returned as it is; the caller's
/// sink counts it). Used to fit the repartition topic's size limit.
pub fn encode_ipc_within(batch: &RecordBatch, max_bytes: usize) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut todo = vec![batch.clone()];
    while let Some(b) = todo.pop() {
        let bytes = encode_ipc(&b)?;
        if bytes.len() <= max_bytes || b.num_rows() <= 1 {
            out.push(bytes);
            continue;
        }
        let half = b.num_rows() / 2;
        // Pushed second half first: parts come out in row order.
        todo.push(b.slice(half, b.num_rows() - half));
        todo.push(b.slice(0, half));
    }
    Ok(out)
}

/// The batches of an Arrow IPC stream written by [`encode_ipc`]. A payload
/// that is not one is an error (the caller dead-letters the record), also
/// when arrow-ipc panics on it: it does on some corrupt schemas
/// (`not implemented: Type NONE not supported`, found by the
/// `repartition_ipc` fuzz target), which would otherwise kill the keyed
/// worker on every restart that re-reads the record.
///
/// Read with the push decoder, not `StreamReader`: the reader allocates
/// each message body at the length the message claims before reading it,
/// so a corrupt length aborted the process (out of memory, 1.6 EB asked;
/// also found by the fuzz target); the decoder takes body bytes only as
/// far as the payload holds them.
pub fn decode_ipc(payload: &[u8]) -> Result<Vec<RecordBatch>> {
    crate::panic_guard::catch(|| {
        let mut decoder = StreamDecoder::new();
        let mut buf = Buffer::from(payload);
        let mut out = Vec::new();
        while !buf.is_empty() {
            if let Some(b) = decoder.decode(&mut buf)? {
                out.push(b);
            }
        }
        decoder.finish()?;
        Ok(out)
    })
    .unwrap_or_else(|msg| {
        Err(OperatorError::Input(format!(
            "arrow-ipc panicked on the record: {msg}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use arrow::datatypes::{Field, Schema};
    use proptest::prelude::*;

    #[test]
    fn a_batch_over_the_limit_is_split_into_parts_that_fit_in_row_order() {
        let names: Vec<String> = (0..200)
            .map(|i| format!("row-{i:04}-{}", "x".repeat(50)))
            .collect();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "n",
            arrow::datatypes::DataType::Utf8,
            false,
        )]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(names.clone()))]).unwrap();
        let whole = encode_ipc(&batch).unwrap();
        assert_eq!(encode_ipc_within(&batch, whole.len()).unwrap().len(), 1);
        let limit = whole.len() / 5;
        let parts = encode_ipc_within(&batch, limit).unwrap();
        assert!(parts.len() >= 5, "{} parts", parts.len());
        let mut rows = Vec::new();
        for p in &parts {
            assert!(p.len() <= limit, "{} > {limit}", p.len());
            for b in decode_ipc(p).unwrap() {
                let c = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                rows.extend(c.iter().map(|v| v.unwrap().to_string()));
            }
        }
        assert_eq!(rows, names);
        // A single row over the limit comes back whole (the sink counts it).
        assert_eq!(encode_ipc_within(&batch.slice(0, 1), 10).unwrap().len(), 1);
    }

    /// Kafka's own test vectors (`UtilsTest.testMurmur2`).
    #[test]
    fn murmur2_matches_kafka() {
        for (key, want) in [
            (&b"21"[..], -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key), want, "{}", String::from_utf8_lossy(key));
        }
    }

    fn batch(rows: &[(Option<&str>, &str, Option<&str>)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(col::MENTION_ID, DataType::Utf8, false),
            Field::new(col::CHANNEL, DataType::Utf8, false),
            Field::new(col::AUTHOR_HANDLE, DataType::Utf8, true),
            Field::new(col::CUSTOMER_ID, DataType::Utf8, true),
        ]));
        let ids: Vec<String> = (0..rows.len()).map(|i| format!("twitter:{i}")).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids)),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_customer_lands_where_its_contacts_do_and_handles_follow_the_key() {
        let b = batch(&[
            (Some("C-1"), "twitter", Some("ann")),
            (Some("C-1"), "facebook", Some("ann.fb")),
            (None, "twitter", Some("@Bob")),
            (None, "twitter", Some("bob")),
        ]);
        let p = row_partitions(&b, 12).unwrap();
        // Contacts of C-1 are keyed by "C-1" with the default partitioner.
        assert_eq!(p[0], partition_for(b"C-1", 12));
        assert_eq!(p[0], p[1], "one customer, whatever the channel");
        assert_eq!(p[2], p[3], "handles normalised as the correlator does");
        assert_eq!(
            p[2],
            partition_for(b"h:twitter:bob", 12),
            "unidentified authors by correlation key"
        );
    }

    #[test]
    fn ipc_round_trip_and_garbage_is_an_error() {
        let b = batch(&[(Some("C-1"), "twitter", None), (None, "x", Some("h"))]);
        let bytes = encode_ipc(&b).unwrap();
        assert_eq!(decode_ipc(&bytes).unwrap(), vec![b]);
        assert!(decode_ipc(b"not arrow").is_err());
    }

    proptest! {
        #[test]
        fn split_keeps_every_row_once_in_order(
            rows in proptest::collection::vec(
                (proptest::option::of("[a-c]{1,2}"), "(twitter|facebook)", proptest::option::of("[a-d]{1,3}")),
                0..60,
            ),
            partitions in 1i32..9,
        ) {
            let refs: Vec<(Option<&str>, &str, Option<&str>)> = rows
                .iter()
                .map(|(c, ch, h)| (c.as_deref(), ch.as_str(), h.as_deref()))
                .collect();
            let b = batch(&refs);
            let want = row_partitions(&b, partitions).unwrap();
            let parts = split_by_partition(&b, partitions).unwrap();
            let mut seen = 0;
            for (p, part) in &parts {
                prop_assert!(*p >= 0 && *p < partitions);
                prop_assert!(part.num_rows() > 0);
                let ids = part.column(0).as_string::<i32>();
                let mut last: Option<usize> = None;
                for i in 0..part.num_rows() {
                    let row: usize = ids.value(i)["twitter:".len()..].parse().unwrap();
                    prop_assert_eq!(want[row], *p);
                    prop_assert!(last.is_none_or(|l| l < row), "order kept");
                    last = Some(row);
                }
                seen += part.num_rows();
            }
            prop_assert_eq!(seen, b.num_rows());
        }
    }
}
