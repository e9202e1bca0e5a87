//! The native shuffle: a map task's batches split by Spark's partitioning into Arrow IPC
//! blocks, and blocks read back into batches.
//!
//! Spark keeps the shuffle itself (its files, block transfer, retries, adaptive execution).
//! The plugin's `CinderShuffleExchangeExec` hands Spark one record per block, the block's
//! bytes, instead of one `UnsafeRow` per row, so a native subtree's output is never turned
//! into rows on its way through an exchange.
//!
//! Rows go where Spark's own exchange would send them: `HashPartitioning` is
//! `pmod(murmur3(keys, seed 42), n)` computed exactly as Spark's `Murmur3Hash` does for each
//! type ([`crate::spark_hash`]), so a native shuffle and a Spark shuffle of the other side of a
//! join agree on every row's partition. `RangePartitioning` uses the bounds Spark's
//! `RangePartitioner` sampled on the driver ([`RangeBounds`]).
//!
//! A block is an 8-byte header (the magic `CNB1` and the partition, both little-endian
//! `u32`s) followed by an Arrow IPC stream (schema, one batch, end of stream). Each map task
//! gathers a partition's rows until it holds `flush_rows` of them, so blocks stay large
//! whatever the number of partitions, unless the rows waiting in all partitions pass
//! [`MAX_PENDING_BYTES`].

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array,
};
use datafusion::arrow::compute::{SortOptions, cast, concat, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::physical_expr::PhysicalExpr;

use crate::error::{NativeError, Result};
use crate::message::{Expr, ShuffleSpec, SortKey};
use crate::planner::{arrow_type, normalize_float, translate};
use crate::spark_hash::{murmur3, update_spark_hashes};

/// The first four bytes of every block.
pub const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"CNB1");

/// Bytes before a block's IPC stream (magic and partition; 8 keeps the stream 8-aligned).
pub const BLOCK_HEADER: usize = 8;

/// The most memory a map task's rows waiting to become blocks may hold: past it, the
/// partitions holding the most are written early (small blocks, bounded memory, which Spark's
/// memory manager does not see). 64 MiB is 8192 rows of about 8 KiB per partition.
pub const MAX_PENDING_BYTES: usize = 64 << 20;

/// The most partitions a native shuffle writes (Spark's own limit for its sort-based shuffle
/// of serialized records is 2^24).
pub const MAX_PARTITIONS: usize = 1 << 24;

/// Each row's partition under Spark's `HashPartitioning(keys, partitions)`:
/// `pmod(murmur3(keys), partitions)`.
pub fn spark_partition_ids(keys: &[ArrayRef], rows: usize, partitions: usize) -> Result<Vec<u32>> {
    let n = i32::try_from(partitions)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| NativeError::Execution(format!("bad partition count {partitions}")))?;
    let mut hashes = vec![murmur3::SEED; rows];
    for key in keys {
        update_spark_hashes(key.as_ref(), &mut hashes)?;
    }
    Ok(hashes.into_iter().map(|h| h.rem_euclid(n) as u32).collect())
}

/// The bytes `batch`'s rows would take as Spark's `UnsafeRow`s: per row a null bit set (8
/// bytes per 64 columns) and 8 bytes per column, plus what each value keeps outside its slot
/// ([`variable_bytes`]). Spark's exchange reports that size (its `dataSize`), and adaptive
/// execution decides on it (whether to broadcast a shuffled side, say); a native shuffle
/// reports the same, so those decisions stay Spark's.
pub fn unsafe_row_bytes(batch: &RecordBatch) -> u64 {
    let rows = batch.num_rows() as u64;
    let columns = batch.num_columns() as u64;
    let fixed = rows * (columns.div_ceil(64) * 8 + columns * 8);
    let variable = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            // A row keeps a wide decimal's 16 bytes also where it is null (UnsafeRowWriter).
            DataType::Decimal128(precision, _) if *precision > 18 => rows * 16,
            _ => variable_bytes(column.as_ref()).iter().sum::<u64>(),
        });
    fixed + variable.sum::<u64>()
}

/// Per value of `column`, the bytes Spark's `UnsafeRow` (or `UnsafeArrayData`) keeps for it
/// past its fixed slot (as an array's element; a row's own wide decimals take 16 bytes): a
/// string's or a binary's bytes rounded up to 8, a decimal wider than 18 digits its unscaled
/// value's bytes rounded up to 8, and an array's `UnsafeArrayData` (8 bytes of length, a null bit set of 8
/// bytes per 64 elements, the elements' slots rounded up to 8, and their own variable bytes).
fn variable_bytes(column: &dyn Array) -> Vec<u64> {
    let valid = |row: usize| column.is_valid(row);
    match column.data_type() {
        DataType::Utf8 | DataType::Binary => {
            let data = column.to_data();
            let offsets = data.buffers()[0].typed_data::<i32>();
            let start = data.offset();
            (0..column.len())
                .map(|row| {
                    if !valid(row) {
                        return 0;
                    }
                    let length = (offsets[start + row + 1] - offsets[start + row]) as u64;
                    length.div_ceil(8) * 8
                })
                .collect()
        }
        // An array's wide decimal: its unscaled value's bytes (`BigInteger.toByteArray`,
        // the fewest in two's complement) rounded up to 8 (UnsafeArrayWriter).
        DataType::Decimal128(precision, _) if *precision > 18 => {
            let decimals = column.as_primitive::<Decimal128Type>();
            (0..column.len())
                .map(|row| {
                    if !valid(row) {
                        return 0;
                    }
                    let v = decimals.value(row);
                    let magnitude = if v < 0 { !v } else { v };
                    let bits = 128 - u64::from(magnitude.leading_zeros()) + 1;
                    bits.div_ceil(8).div_ceil(8) * 8
                })
                .collect()
        }
        DataType::List(element) => {
            let list = column.as_list::<i32>();
            let inner = variable_bytes(list.values().as_ref());
            let slot = array_slot(element.data_type());
            let offsets = list.value_offsets();
            (0..column.len())
                .map(|row| {
                    if !valid(row) {
                        return 0;
                    }
                    let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
                    let n = (to - from) as u64;
                    8 + n.div_ceil(64) * 8
                        + (n * slot).div_ceil(8) * 8
                        + inner[from..to].iter().sum::<u64>()
                })
                .collect()
        }
        _ => vec![0; column.len()],
    }
}

/// The bytes of an element's slot in Spark's `UnsafeArrayData`: its primitive's width, else
/// 8 (a long, or the offset and size of a variable-length value).
fn array_slot(data_type: &DataType) -> u64 {
    match data_type {
        DataType::Boolean | DataType::Int8 => 1,
        DataType::Int16 => 2,
        DataType::Int32 | DataType::Float32 | DataType::Date32 => 4,
        _ => 8,
    }
}

/// A block: the header, then `batch` as an Arrow IPC stream.
pub fn encode_block(partition: u32, batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(BLOCK_HEADER + batch.get_array_memory_size() + 1024);
    out.extend_from_slice(&BLOCK_MAGIC.to_le_bytes());
    out.extend_from_slice(&partition.to_le_bytes());
    let failed = |e: datafusion::arrow::error::ArrowError| {
        NativeError::Execution(format!("encoding a shuffle block: {e}"))
    };
    let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref()).map_err(failed)?;
    writer.write(batch).map_err(failed)?;
    writer.finish().map_err(failed)?;
    drop(writer);
    Ok(out)
}

/// The partition a block was written for.
pub fn block_partition(block: &[u8]) -> Result<u32> {
    check_header(block)?;
    Ok(u32::from_le_bytes([block[4], block[5], block[6], block[7]]))
}

fn check_header(block: &[u8]) -> Result<()> {
    if block.len() < BLOCK_HEADER {
        return Err(NativeError::Execution(format!(
            "a shuffle block of {} bytes is shorter than its header",
            block.len()
        )));
    }
    if block[..4] != BLOCK_MAGIC.to_le_bytes() {
        return Err(NativeError::Execution(
            "not a Cinder shuffle block (bad magic): was it written by another plugin version?"
                .into(),
        ));
    }
    Ok(())
}

/// The rows of a block (validated in full), with the schema it was written with.
pub fn decode_block(block: &[u8]) -> Result<RecordBatch> {
    check_header(block)?;
    let failed = |e: datafusion::arrow::error::ArrowError| {
        NativeError::Execution(format!("reading a shuffle block: {e}"))
    };
    let reader = StreamReader::try_new(std::io::Cursor::new(&block[BLOCK_HEADER..]), None)
        .map_err(failed)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(failed)?;
    match batches.len() {
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => concat_batches(&schema, &batches).map_err(failed),
    }
}

/// How a [`ShuffleWriter`] assigns rows to partitions.
#[derive(Debug)]
enum Partitioner {
    /// Every row to partition 0.
    Single,
    /// Spark's murmur3 of the keys over the plan's output, each with the type Spark hashes it
    /// as.
    Hash(Vec<(Arc<dyn PhysicalExpr>, DataType)>),
    /// Spark's range bounds.
    Range(RangeBounds),
}

/// `RangePartitioning`'s bounds, sampled by Spark's `RangePartitioner` on the driver: a row
/// goes to the partition numbered by how many bounds sort before its keys, as
/// `RangePartitioner.getPartition` places it (a key equal to a bound goes with the rows below
/// it). Keys and bounds are compared as Arrow rows in Spark's order: each key's direction and
/// null placement, floats normalised (`-0.0 = 0.0`, NaN largest), strings by their bytes.
struct RangeBounds {
    /// The keys, floats normalised.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    converter: RowConverter,
    /// The bounds, ascending.
    bounds: Rows,
}

impl std::fmt::Debug for RangeBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeBounds")
            .field("keys", &self.keys.len())
            .field("bounds", &self.bounds.num_rows())
            .finish()
    }
}

impl RangeBounds {
    fn new(
        keys: &[SortKey],
        bounds: &[Vec<Expr>],
        partitions: usize,
        schema: &SchemaRef,
    ) -> Result<Self> {
        if keys.is_empty() {
            return Err(NativeError::plan("a range partitioning needs a key"));
        }
        if bounds.len() >= partitions.max(1) {
            return Err(NativeError::plan(format!(
                "{} range bounds for {partitions} partitions",
                bounds.len()
            )));
        }
        let exprs = keys
            .iter()
            .map(|key| normalize_float(translate(&key.expr, schema)?, schema))
            .collect::<Result<Vec<_>>>()?;
        let types = exprs
            .iter()
            .map(|expr| Ok(expr.data_type(schema)?))
            .collect::<Result<Vec<_>>>()?;
        let fields = keys
            .iter()
            .zip(&types)
            .map(|(key, data_type)| {
                SortField::new_with_options(
                    data_type.clone(),
                    SortOptions {
                        descending: !key.ascending,
                        nulls_first: key.nulls_first,
                    },
                )
            })
            .collect::<Vec<_>>();
        let converter = RowConverter::new(fields)?;
        // The bounds' literals, a column per key.
        let constants = Arc::new(Schema::empty());
        let one_row = RecordBatch::try_new_with_options(
            Arc::clone(&constants),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut columns = vec![Vec::with_capacity(bounds.len()); keys.len()];
        for bound in bounds {
            if bound.len() != keys.len() {
                return Err(NativeError::plan(format!(
                    "a range bound of {} values for {} keys",
                    bound.len(),
                    keys.len()
                )));
            }
            for ((value, column), data_type) in bound.iter().zip(&mut columns).zip(&types) {
                let value = normalize_float(translate(value, &constants)?, &constants)?
                    .evaluate(&one_row)?
                    .into_array(1)?;
                column.push(if value.data_type() == data_type {
                    value
                } else {
                    cast(&value, data_type)?
                });
            }
        }
        let columns = columns
            .iter()
            .zip(&types)
            .map(|(values, data_type)| {
                let values: Vec<&dyn Array> = values.iter().map(|v| v.as_ref()).collect();
                Ok(if values.is_empty() {
                    datafusion::arrow::array::new_empty_array(data_type)
                } else {
                    concat(&values)?
                })
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let bounds = converter.convert_columns(&columns)?;
        if (1..bounds.num_rows()).any(|i| bounds.row(i - 1) >= bounds.row(i)) {
            return Err(NativeError::plan(
                "range bounds that do not ascend in the keys' order",
            ));
        }
        Ok(Self {
            keys: exprs,
            converter,
            bounds,
        })
    }

    /// Each row's partition: the number of bounds below its keys.
    fn partition_ids(&self, batch: &RecordBatch) -> Result<Vec<u32>> {
        let rows = batch.num_rows();
        let keys = self
            .keys
            .iter()
            .map(|expr| Ok(expr.evaluate(batch)?.into_array(rows)?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let keys = self.converter.convert_columns(&keys)?;
        Ok((0..rows)
            .map(|i| {
                let key = keys.row(i);
                let (mut low, mut high) = (0, self.bounds.num_rows());
                while low < high {
                    let mid = (low + high) / 2;
                    if self.bounds.row(mid) < key {
                        low = mid + 1;
                    } else {
                        high = mid;
                    }
                }
                low as u32
            })
            .collect())
    }
}

/// A map task's side of the shuffle: takes the plan's batches, returns blocks.
pub struct ShuffleWriter {
    /// Spark's partition count.
    partitions: usize,
    /// How rows are assigned to partitions.
    partitioner: Partitioner,
    /// The plan's output (Spark's types).
    schema: SchemaRef,
    /// A partition's rows are written as a block once it holds this many.
    flush_rows: usize,
    /// Each partition's rows not yet written.
    pending: Vec<Vec<RecordBatch>>,
    /// How many rows `pending` holds per partition.
    pending_rows: Vec<usize>,
    /// The memory `pending` holds per partition, and in all.
    pending_bytes: Vec<usize>,
    total_pending_bytes: usize,
    /// Past this, partitions are written early ([`MAX_PENDING_BYTES`]).
    max_pending_bytes: usize,
    /// Where each partition's rows start in a batch grouped by partition (reused per batch).
    starts: Vec<u32>,
    /// Blocks written, not yet taken.
    ready: VecDeque<Vec<u8>>,
    /// Rows taken in.
    rows: u64,
    /// What those rows would take as Spark's `UnsafeRow`s ([`unsafe_row_bytes`]).
    unsafe_row_bytes: u64,
}

impl std::fmt::Debug for ShuffleWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShuffleWriter")
            .field("partitions", &self.partitions)
            .field("partitioner", &self.partitioner)
            .finish_non_exhaustive()
    }
}

impl ShuffleWriter {
    /// A writer for `spec` over batches of `schema`.
    pub fn new(spec: &ShuffleSpec, schema: SchemaRef, flush_rows: usize) -> Result<Self> {
        let (partitions, partitioner) = match spec {
            ShuffleSpec::Single => (1, Partitioner::Single),
            ShuffleSpec::Hash { keys, partitions } => {
                if keys.is_empty() {
                    return Err(NativeError::plan("a hash partitioning needs a key"));
                }
                let keys = keys
                    .iter()
                    .map(|key| {
                        let data_type = arrow_type(&key.data_type)?;
                        let expr = translate(&key.expr, &schema)?;
                        // Refuse here, not on the first batch, a type Spark's hash is not
                        // reproduced for.
                        let empty = datafusion::arrow::array::new_empty_array(&data_type);
                        update_spark_hashes(empty.as_ref(), &mut [])
                            .map_err(|e| NativeError::plan(e.to_string()))?;
                        Ok((expr, data_type))
                    })
                    .collect::<Result<Vec<_>>>()?;
                (*partitions, Partitioner::Hash(keys))
            }
            ShuffleSpec::Range {
                keys,
                bounds,
                partitions,
            } => (
                *partitions,
                Partitioner::Range(RangeBounds::new(keys, bounds, *partitions, &schema)?),
            ),
        };
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(NativeError::plan(format!(
                "a native shuffle writes 1 to {MAX_PARTITIONS} partitions, not {partitions}"
            )));
        }
        Ok(Self {
            partitions,
            partitioner,
            schema,
            flush_rows: flush_rows.max(1),
            pending: vec![Vec::new(); partitions],
            pending_rows: vec![0; partitions],
            pending_bytes: vec![0; partitions],
            total_pending_bytes: 0,
            max_pending_bytes: MAX_PENDING_BYTES,
            starts: Vec::with_capacity(partitions + 1),
            ready: VecDeque::new(),
            rows: 0,
            unsafe_row_bytes: 0,
        })
    }

    /// The same writer with another bound on the memory its waiting rows hold.
    pub fn with_max_pending_bytes(mut self, bytes: usize) -> Self {
        self.max_pending_bytes = bytes;
        self
    }

    /// The memory the rows waiting to become blocks hold now.
    pub fn pending_bytes(&self) -> usize {
        self.total_pending_bytes
    }

    /// Rows taken in so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// What the rows taken in so far would take as Spark's `UnsafeRow`s (see
    /// [`unsafe_row_bytes`]).
    pub fn unsafe_row_bytes(&self) -> u64 {
        self.unsafe_row_bytes
    }

    /// Splits `batch` by partition; partitions that now hold `flush_rows` rows become blocks.
    pub fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        self.rows += rows as u64;
        self.unsafe_row_bytes += unsafe_row_bytes(&batch);
        if self.partitions == 1 {
            self.add(0, batch)?;
            return Ok(());
        }
        let ids = match &self.partitioner {
            Partitioner::Single => vec![0; rows],
            Partitioner::Hash(keys) => {
                let keys = keys
                    .iter()
                    .map(|(expr, data_type)| {
                        let value = expr.evaluate(&batch)?.into_array(rows)?;
                        if value.data_type() == data_type {
                            Ok(value)
                        } else {
                            Ok(cast(&value, data_type)?)
                        }
                    })
                    .collect::<Result<Vec<ArrayRef>>>()?;
                spark_partition_ids(&keys, rows, self.partitions)?
            }
            Partitioner::Range(bounds) => bounds.partition_ids(&batch)?,
        };
        // Each partition's row numbers (a counting sort, stable), then each partition's rows
        // copied into a batch of its own: a slice of one copy of the whole batch would keep
        // all of it alive until every partition holding a slice had flushed.
        let starts = &mut self.starts;
        starts.clear();
        starts.resize(self.partitions + 1, 0);
        for &id in &ids {
            starts[id as usize + 1] += 1;
        }
        for p in 0..self.partitions {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut order = vec![0_u32; rows];
        for (row, &id) in ids.iter().enumerate() {
            let at = &mut next[id as usize];
            order[*at as usize] = row as u32;
            *at += 1;
        }
        let ranges: Vec<(usize, usize, usize)> = (0..self.partitions)
            .filter_map(|p| {
                let (start, end) = (starts[p] as usize, starts[p + 1] as usize);
                (end > start).then_some((p, start, end))
            })
            .collect();
        for (p, start, end) in ranges {
            let part = if end - start == rows {
                batch.clone()
            } else {
                let indices = UInt32Array::from(order[start..end].to_vec());
                take_record_batch(&batch, &indices)?
            };
            self.add(p, part)?;
        }
        Ok(())
    }

    fn add(&mut self, partition: usize, rows: RecordBatch) -> Result<()> {
        let bytes = rows.get_array_memory_size();
        self.pending_rows[partition] += rows.num_rows();
        self.pending_bytes[partition] += bytes;
        self.total_pending_bytes += bytes;
        self.pending[partition].push(rows);
        if self.pending_rows[partition] >= self.flush_rows {
            self.flush(partition)?;
        }
        if self.total_pending_bytes > self.max_pending_bytes {
            // Many partitions each short of a block: write the largest until half is left.
            let mut by_size: Vec<usize> = (0..self.partitions)
                .filter(|&p| self.pending_bytes[p] > 0)
                .collect();
            by_size.sort_unstable_by_key(|&p| std::cmp::Reverse(self.pending_bytes[p]));
            for p in by_size {
                if self.total_pending_bytes <= self.max_pending_bytes / 2 {
                    break;
                }
                self.flush(p)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, partition: usize) -> Result<()> {
        let batches = std::mem::take(&mut self.pending[partition]);
        self.pending_rows[partition] = 0;
        self.total_pending_bytes -= std::mem::take(&mut self.pending_bytes[partition]);
        if batches.is_empty() {
            return Ok(());
        }
        let batch = concat_batches(&self.schema, &batches)?;
        let block = encode_block(partition as u32, &batch)?;
        self.ready.push_back(block);
        Ok(())
    }

    /// Writes every partition's remaining rows as blocks (at the end of the input).
    pub fn finish(&mut self) -> Result<()> {
        for p in 0..self.partitions {
            self.flush(p)?;
        }
        Ok(())
    }

    /// The next finished block, if any.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_hash::murmur3::SEED;
    use crate::spark_hash::{HashFamily, Murmur3};
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int8Array,
        Int16Array, Int32Array, Int64Array, StringArray,
    };
    use datafusion::arrow::datatypes::Int64Type;

    /// `SELECT hash(...)` on Spark 4.0.1: `(expression, Spark's value)`.
    #[test]
    fn hashes_equal_sparks() {
        assert_eq!(Murmur3::hash_int(0, SEED), 933211791);
        assert_eq!(Murmur3::hash_int(1, SEED), -559580957);
        assert_eq!(Murmur3::hash_int(-1, SEED), -1604776387);
        assert_eq!(Murmur3::hash_int(i32::MAX, SEED), 133916647);
        assert_eq!(Murmur3::hash_long(1, SEED), -1712319331);
        assert_eq!(Murmur3::hash_long(-1, SEED), -939490007);
        assert_eq!(Murmur3::hash_long(i64::MAX, SEED), -1604625029);
        assert_eq!(Murmur3::hash_bytes(b"", SEED), 142593372);
        assert_eq!(Murmur3::hash_bytes(b"a", SEED), 1485273170);
        assert_eq!(Murmur3::hash_bytes(b"abc", SEED), 1322437556);
        assert_eq!(Murmur3::hash_bytes(b"abcd", SEED), -396302900);
        assert_eq!(Murmur3::hash_bytes(b"abcde", SEED), 814637928);
        assert_eq!(
            Murmur3::hash_bytes("héllo wörld".as_bytes(), SEED),
            -281075962
        );
        assert_eq!(Murmur3::hash_double(1.5, SEED), 1290763749);
        assert_eq!(Murmur3::hash_double(0.0, SEED), -1670924195);
        assert_eq!(Murmur3::hash_double(-0.0, SEED), -1670924195);
        assert_eq!(Murmur3::hash_double(f64::NAN, SEED), -1281358385);
        assert_eq!(Murmur3::hash_double(-f64::NAN, SEED), -1281358385);
        assert_eq!(Murmur3::hash_float(1.5, SEED), -221251528);
        assert_eq!(Murmur3::hash_float(-0.0, SEED), 933211791);
        assert_eq!(Murmur3::hash_float(f32::NAN, SEED), -349261430);
        assert_eq!(Murmur3::hash_decimal(1234, 15, SEED), -1028144669);
        assert_eq!(Murmur3::hash_decimal(-1234, 15, SEED), 180183791);
        assert_eq!(
            Murmur3::hash_decimal(123_400_000_000, 38, SEED),
            -1579334800
        );
        assert_eq!(
            Murmur3::hash_decimal(-123_400_000_000, 38, SEED),
            -1040866278
        );
        assert_eq!(Murmur3::hash_decimal(0, 38, SEED), -783713497);
        assert_eq!(Murmur3::hash_decimal(128, 20, SEED), -544401882);
        assert_eq!(Murmur3::hash_decimal(-128, 20, SEED), 775851899);
        assert_eq!(Murmur3::hash_decimal(-129, 20, SEED), -771458971);
        assert_eq!(
            Murmur3::hash_decimal(99_999_999_999_999_999_999, 20, SEED),
            -1044988954
        );
        // DATE'2020-01-01' is day 18262; booleans hash as 1 and 0.
        assert_eq!(Murmur3::hash_int(18262, SEED), -725858435);
        assert_eq!(Murmur3::hash_int(-5, SEED), 1369497261);
        assert_eq!(Murmur3::hash_int(-300, SEED), -1692660704);
    }

    /// Several keys, nulls, and the types' arrays (Spark: `hash(1, 'a')`, `hash(null, 1L)`,
    /// `hash(1L, null, DATE'1970-01-02')`, `pmod(hash(7L), 200)`, `pmod(hash('abc'), 7)`).
    #[test]
    fn columns_fold_into_one_hash_as_sparks() {
        let mut h = vec![SEED; 1];
        update_spark_hashes(&Int32Array::from(vec![1]), &mut h).unwrap();
        update_spark_hashes(&StringArray::from(vec!["a"]), &mut h).unwrap();
        assert_eq!(h, [-936062819]);

        let mut h = vec![SEED; 1];
        update_spark_hashes(&Int32Array::from(vec![None]), &mut h).unwrap();
        assert_eq!(h, [42]);
        update_spark_hashes(&Int64Array::from(vec![1]), &mut h).unwrap();
        assert_eq!(h, [-1712319331]);

        let mut h = vec![SEED; 1];
        update_spark_hashes(&Int64Array::from(vec![1]), &mut h).unwrap();
        update_spark_hashes(&StringArray::from(vec![None::<&str>]), &mut h).unwrap();
        update_spark_hashes(&Date32Array::from(vec![1]), &mut h).unwrap();
        assert_eq!(h, [-1144319751]);

        let ids = spark_partition_ids(&[Arc::new(Int64Array::from(vec![7]))], 1, 200).unwrap();
        assert_eq!(ids, [11]);
        let ids = spark_partition_ids(&[Arc::new(StringArray::from(vec!["abc"]))], 1, 7).unwrap();
        assert_eq!(ids, [6]);

        // Every supported type hashes as its scalar function says.
        let mut h = vec![SEED; 2];
        update_spark_hashes(&BooleanArray::from(vec![Some(true), None]), &mut h).unwrap();
        assert_eq!(h, [Murmur3::hash_int(1, SEED), SEED]);
        for (array, expected) in [
            (
                Arc::new(Int8Array::from(vec![-5])) as ArrayRef,
                Murmur3::hash_int(-5, SEED),
            ),
            (
                Arc::new(Int16Array::from(vec![-300])),
                Murmur3::hash_int(-300, SEED),
            ),
            (
                Arc::new(Float32Array::from(vec![1.5])),
                Murmur3::hash_float(1.5, SEED),
            ),
            (
                Arc::new(Float64Array::from(vec![-0.0])),
                Murmur3::hash_double(0.0, SEED),
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![-1234])
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
                180183791,
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![-128])
                        .with_precision_and_scale(20, 0)
                        .unwrap(),
                ),
                775851899,
            ),
        ] {
            let mut h = vec![SEED; 1];
            update_spark_hashes(array.as_ref(), &mut h).unwrap();
            assert_eq!(h, [expected], "{}", array.data_type());
        }
        // Timestamps hash as their microseconds (Spark: hash(TIMESTAMP'1970-01-01 00:00:00.000001 UTC')
        // is hash(1L)), with or without a time zone; other units are not Spark's.
        for array in [
            datafusion::arrow::array::TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC"),
            datafusion::arrow::array::TimestampMicrosecondArray::from(vec![1]),
        ] {
            let mut h = vec![SEED; 1];
            update_spark_hashes(&array, &mut h).unwrap();
            assert_eq!(h, [-1712319331]);
        }
        let mut h = vec![SEED; 1];
        let unsupported = datafusion::arrow::array::TimestampNanosecondArray::from(vec![1]);
        assert!(update_spark_hashes(&unsupported, &mut h).is_err());
    }

    /// `UnsafeRow.getSizeInBytes` summed, as Spark's exchange reports it.
    #[test]
    fn unsafe_row_size_is_sparks() {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("k", DataType::Int64, true),
            datafusion::arrow::datatypes::Field::new("s", DataType::Utf8, true),
            datafusion::arrow::datatypes::Field::new("d", DataType::Decimal128(20, 2), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(StringArray::from(vec![Some("abcdefghi"), Some(""), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1), None, Some(2)])
                        .with_precision_and_scale(20, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        // Per row 8 (null bits) + 3 * 8, and 16 for the wide decimal (also when null); the
        // strings: 9 bytes -> 16, "" -> 0, null -> 0.
        assert_eq!(unsafe_row_bytes(&batch), 3 * (8 + 24 + 16) + 16);
        // Binary values as strings: 9 bytes -> 16, 8 -> 8.
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("b", DataType::Binary, true),
        ]));
        let binary = datafusion::arrow::array::BinaryArray::from(vec![
            Some(&b"abcdefghi"[..]),
            Some(&b"abcdefgh"[..]),
            None,
        ]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(binary)]).unwrap();
        assert_eq!(unsafe_row_bytes(&batch), 3 * 16 + 16 + 8);
        let wide: Vec<ArrayRef> = (0..65)
            .map(|_| Arc::new(Int32Array::from(vec![1])) as ArrayRef)
            .collect();
        let fields: Vec<_> = (0..65)
            .map(|i| {
                datafusion::arrow::datatypes::Field::new(format!("c{i}"), DataType::Int32, false)
            })
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
            wide,
        )
        .unwrap();
        assert_eq!(unsafe_row_bytes(&batch), 16 + 65 * 8);
    }

    /// Many partitions, each short of a block, write early once the waiting rows pass the
    /// bound; every row still lands once, in its partition.
    /// The bounds of a range partitioning written as JSON (its keys, bounds and partition
    /// count) over `schema`.
    fn range_bounds(
        keys: &str,
        bounds: &str,
        partitions: usize,
        schema: &SchemaRef,
    ) -> Result<RangeBounds> {
        let spec: ShuffleSpec = serde_json::from_str(&format!(
            r#"{{"kind":"range","keys":{keys},"bounds":{bounds},"partitions":{partitions}}}"#
        ))
        .unwrap();
        let ShuffleSpec::Range {
            keys,
            bounds,
            partitions,
        } = spec
        else {
            unreachable!("a range partitioning")
        };
        RangeBounds::new(&keys, &bounds, partitions, schema)
    }

    /// Rows of (int, double, string) split by bounds as Spark's `RangePartitioner` splits them:
    /// the partition after every bound below the row's keys, a key equal to a bound with the
    /// rows below it, each key's direction and null placement, `-0.0 = 0.0` and NaN largest.
    #[test]
    fn range_bounds_split_rows_as_sparks_partitioner() {
        let schema = Arc::new(Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("i", DataType::Int32, true),
            datafusion::arrow::datatypes::Field::new("x", DataType::Float64, true),
            datafusion::arrow::datatypes::Field::new("s", DataType::Utf8, true),
        ]));
        let lit = |t: &str, v: &str| format!(r#"{{"kind":"literal","type":"{t}","value":{v}}}"#);
        let key = |i: usize, asc: bool, nulls_first: bool| {
            format!(
                r#"{{"expr":{{"kind":"column","index":{i}}},"ascending":{asc},"nulls_first":{nulls_first}}}"#
            )
        };
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![
                    Some(5),
                    None,
                    Some(10),
                    Some(11),
                    Some(-3),
                    Some(20),
                    Some(10),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(-0.0),
                    Some(f64::NAN),
                    None,
                    Some(0.0),
                    Some(f64::INFINITY),
                    Some(-1.0),
                    Some(1.0),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("b"),
                    Some("a"),
                    None,
                    Some("é"),
                    Some("z"),
                    Some("ab"),
                    Some("b"),
                ])),
            ],
        )
        .unwrap();
        let ids = |keys: &str, bounds: &str, partitions: usize| -> Vec<u32> {
            range_bounds(keys, bounds, partitions, &schema)
                .unwrap()
                .partition_ids(&batch)
                .unwrap()
        };
        // i ASC NULLS FIRST, bounds 5 and 10: nulls first, 5 and 10 with the rows below them.
        let b = format!("[[{}],[{}]]", lit("int", "5"), lit("int", "10"));
        assert_eq!(
            ids(&format!("[{}]", key(0, true, true)), &b, 3),
            [0, 0, 1, 2, 0, 2, 1]
        );
        // i DESC NULLS LAST, bounds 10 then 5: the largest first, nulls last.
        let b = format!("[[{}],[{}]]", lit("int", "10"), lit("int", "5"));
        assert_eq!(
            ids(&format!("[{}]", key(0, false, false)), &b, 3),
            [1, 2, 0, 0, 2, 0, 0]
        );
        // Doubles: -0.0 equals the bound 0.0; NaN above infinity; null last.
        let b = format!(
            "[[{}],[{}]]",
            lit("double", "0.0"),
            lit("double", "\"Infinity\"")
        );
        assert_eq!(
            ids(&format!("[{}]", key(1, true, false)), &b, 3),
            [0, 2, 2, 0, 1, 0, 1]
        );
        // Strings by their bytes ("é" above "z"), then the second key within equal firsts.
        let b = format!(
            "[[{},{}],[{},{}]]",
            lit("string", "\"b\""),
            lit("int", "5"),
            lit("string", "\"b\""),
            lit("int", "100")
        );
        let keys = format!("[{},{}]", key(2, true, true), key(0, true, true));
        assert_eq!(ids(&keys, &b, 3), [0, 0, 0, 2, 2, 0, 1]);
        // A null bound (nulls first): the nulls below it, every value above.
        let b = format!("[[{}],[{}]]", lit("int", "null"), lit("int", "10"));
        assert_eq!(
            ids(&format!("[{}]", key(0, true, true)), &b, 3),
            [1, 0, 1, 2, 1, 2, 1]
        );
        // Booleans, a null bound first (Spark's bounds for a third each of nulls, false, true).
        let bools = RecordBatch::try_new(
            Arc::new(Schema::new(vec![datafusion::arrow::datatypes::Field::new(
                "b",
                DataType::Boolean,
                true,
            )])),
            vec![Arc::new(BooleanArray::from(vec![
                None,
                Some(false),
                Some(true),
            ]))],
        )
        .unwrap();
        let b = format!(
            "[[{}],[{}],[{}]]",
            lit("boolean", "null"),
            lit("boolean", "false"),
            lit("boolean", "true")
        );
        let bounds =
            range_bounds(&format!("[{}]", key(0, true, true)), &b, 5, &bools.schema()).unwrap();
        assert_eq!(bounds.partition_ids(&bools).unwrap(), [0, 1, 2]);
        // No bounds: every row to partition 0.
        assert_eq!(ids(&format!("[{}]", key(0, true, true)), "[]", 1), [0; 7]);
        // Bounds out of order, too many, or of the wrong width are plan errors.
        let bad = |keys: &str, bounds: &str, partitions: usize| {
            range_bounds(keys, bounds, partitions, &schema)
                .unwrap_err()
                .to_string()
        };
        let one = format!("[{}]", key(0, true, true));
        let b = format!("[[{}],[{}]]", lit("int", "10"), lit("int", "5"));
        assert!(bad(&one, &b, 3).contains("ascend"));
        assert!(bad(&one, &b, 2).contains("2 range bounds for 2 partitions"));
        let b = format!("[[{},{}]]", lit("int", "1"), lit("int", "2"));
        assert!(bad(&one, &b, 2).contains("2 values for 1 keys"));
    }

    #[test]
    fn waiting_rows_stay_within_their_bound() {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("k", DataType::Int64, false),
            datafusion::arrow::datatypes::Field::new("s", DataType::Utf8, false),
        ]));
        let spec = ShuffleSpec::Hash {
            keys: vec![crate::message::HashKey {
                expr: crate::message::Expr::Column { index: 0 },
                data_type: "bigint".into(),
            }],
            partitions: 64,
        };
        let bound = 256 << 10;
        let mut writer = ShuffleWriter::new(&spec, Arc::clone(&schema), 1 << 20)
            .unwrap()
            .with_max_pending_bytes(bound);
        let mut rows = 0;
        let mut blocks = Vec::new();
        for b in 0..40_i64 {
            let keys: Vec<i64> = (0..1000).map(|i| b * 1000 + i).collect();
            let strings: Vec<String> = keys.iter().map(|k| format!("value-{k:040}")).collect();
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(keys)),
                    Arc::new(StringArray::from(strings)),
                ],
            )
            .unwrap();
            writer.push(batch).unwrap();
            assert!(
                writer.pending_bytes() <= bound,
                "{} > {bound}",
                writer.pending_bytes()
            );
            while let Some(block) = writer.pop() {
                blocks.push(block);
            }
        }
        writer.finish().unwrap();
        while let Some(block) = writer.pop() {
            blocks.push(block);
        }
        assert_eq!(writer.pending_bytes(), 0);
        assert!(
            blocks.len() > 64,
            "the bound made early blocks: {}",
            blocks.len()
        );
        for block in &blocks {
            let partition = block_partition(block).unwrap();
            let batch = decode_block(block).unwrap();
            let keys = batch.column(0).as_primitive::<Int64Type>();
            let ids =
                spark_partition_ids(&[Arc::clone(batch.column(0))], batch.num_rows(), 64).unwrap();
            assert!(ids.iter().all(|&id| id == partition));
            rows += keys.len();
        }
        assert_eq!(rows, 40_000);
    }

    #[test]
    fn blocks_round_trip_and_refuse_garbage() {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("k", DataType::Int64, true),
            datafusion::arrow::datatypes::Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(StringArray::from(vec![Some("x"), Some(""), None])),
            ],
        )
        .unwrap();
        let block = encode_block(5, &batch.slice(1, 2)).unwrap();
        assert_eq!(block_partition(&block).unwrap(), 5);
        assert_eq!(decode_block(&block).unwrap(), batch.slice(1, 2));
        assert!(decode_block(&block[..6]).is_err());
        assert!(decode_block(&block[..block.len() / 2]).is_err());
        let mut bad = block.clone();
        bad[0] = b'X';
        assert!(
            decode_block(&bad)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }
}
