//! Concatenating device batches on the device (`kernels/cuda/copy/concat.cu`): what Arrow's
//! `concat_batches` gives on the host, column by column (values, nulls, Boolean bitmaps and
//! strings of every Arrow string type), without a round trip through the host. Cinder's
//! operators use it to coalesce the small device batches a selective filter or a join hands
//! over into batches of `cinder.batch_rows` rows.
//!
//! One kernel launch per input piece writes every column of the piece at its output row.
//! String pieces need their byte totals first: the last offset of every string column of
//! every piece, copied back together with one wait.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use cinder_cuda::driver::SyncOnDrop;
use cinder_cuda::{ColumnBody, DeviceBatch, DeviceBuffer, DeviceColumn, MemoryPool, OffsetWidth};

use crate::abi::{ConcatColumn, ConcatParams};
use crate::embedded::DeviceKernels;
use crate::filter::zeroed;
use crate::join::gather::first_difference;
use crate::launch::{as_bytes, grid_stride_1d, launch_params, read_ptr, write_ptr};
use crate::selfcheck::{CheckEnv, CheckOutcome};
use crate::{KernelError, Result};

/// The module holding the concatenation kernel.
pub const MODULE: &str = "copy/concat";
/// Writes one piece's columns at its output row.
pub const CONCAT_ROWS: &str = "cinder_concat_rows";

fn invalid(reason: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        kernel: CONCAT_ROWS,
        reason: reason.into(),
    }
}

/// The rows of `batches`, in order, as one batch on the device with the first batch's schema.
/// Every batch must have the same column types; dictionaries are refused. One batch is
/// returned as it is (its columns shared); none is an error. Waits for the string totals.
pub fn concat_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    batches: &[DeviceBatch],
) -> Result<DeviceBatch> {
    let Some(first) = batches.first() else {
        return Err(invalid("no batches to concatenate"));
    };
    let schema = Arc::clone(first.schema());
    for batch in &batches[1..] {
        let types = |b: &DeviceBatch| -> Vec<DataType> {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect()
        };
        if types(batch) != types(first) {
            return Err(invalid(format!(
                "batches of different column types: {:?} and {:?}",
                types(first),
                types(batch)
            )));
        }
    }
    for (field, column) in schema.fields().iter().zip(first.columns()) {
        match column.body() {
            ColumnBody::Dictionary { .. } => {
                return Err(invalid(format!(
                    "column '{}' of type {} is not concatenated on the device yet",
                    field.name(),
                    field.data_type()
                )));
            }
            ColumnBody::Fixed { width, .. } if ![1, 2, 4, 8, 16].contains(width) => {
                return Err(invalid(format!(
                    "{width}-byte values of {}",
                    field.data_type()
                )));
            }
            _ => {}
        }
    }
    if batches.len() == 1 {
        return Ok(first.clone());
    }
    let device = pool
        .device()
        .ok_or_else(|| invalid("concat_device needs a CUDA pool"))?;
    let stream = device.stream();
    let total: usize = batches.iter().map(DeviceBatch::num_rows).sum();
    if total == 0 {
        let columns = schema
            .fields()
            .iter()
            .map(|f| DeviceColumn::empty(pool, f.data_type().clone()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(DeviceBatch::try_new(schema, columns, 0)?);
    }
    let words = total.div_ceil(32);

    // Each string column's bytes per piece: the piece's last offset (offsets start at 0),
    // every one copied back at once.
    let mut ends = Vec::new();
    for c in 0..schema.fields().len() {
        for (p, batch) in batches.iter().enumerate() {
            let column = &batch.columns()[c];
            if let ColumnBody::Strings {
                offsets,
                offset_width,
                ..
            } = column.body()
                && !column.is_empty()
            {
                let w = offset_width.bytes();
                ends.push((
                    c,
                    p,
                    *offset_width,
                    offsets,
                    column.len() * w..(column.len() + 1) * w,
                ));
            }
        }
    }
    let mut byte_spans = vec![vec![0usize; batches.len()]; schema.fields().len()];
    if !ends.is_empty() {
        let ranges: Vec<_> = ends
            .iter()
            .map(|(_, _, _, offsets, range)| (*offsets, range.clone()))
            .collect();
        let bytes = pool.download_ranges(&ranges)?;
        let mut at = 0;
        for (c, p, width, _, _) in &ends {
            let last = &bytes.as_slice()[at..at + width.bytes()];
            at += width.bytes();
            byte_spans[*c][*p] = match width {
                OffsetWidth::I32 => i32::from_le_bytes(last.try_into().expect("4 bytes")) as usize,
                OffsetWidth::I64 => i64::from_le_bytes(last.try_into().expect("8 bytes")) as usize,
            };
        }
    }

    // The outputs: values, a zeroed bitmap or offsets; a zeroed validity bitmap where some
    // piece has nulls; string bytes.
    struct Out {
        values: DeviceBuffer,
        validity: Option<DeviceBuffer>,
        bytes: Option<DeviceBuffer>,
        nulls: usize,
    }
    let mut outs = Vec::with_capacity(schema.fields().len());
    for (c, column) in first.columns().iter().enumerate() {
        let nulls: usize = batches.iter().map(|b| b.columns()[c].null_count()).sum();
        let (values, bytes) = match column.body() {
            ColumnBody::Fixed { width, .. } => (pool.allocate(total * width)?, None),
            ColumnBody::Boolean { .. } => (zeroed(pool, stream, words * 4)?, None),
            ColumnBody::Strings { offset_width, .. } => {
                let bytes: usize = byte_spans[c].iter().sum();
                if *offset_width == OffsetWidth::I32 && bytes > i32::MAX as usize {
                    return Err(invalid(format!(
                        "{bytes} bytes of {} strings: more than 32-bit offsets hold",
                        column.data_type()
                    )));
                }
                (
                    pool.allocate((total + 1) * offset_width.bytes())?,
                    Some(pool.allocate(bytes)?),
                )
            }
            ColumnBody::Dictionary { .. } => unreachable!("refused above"),
        };
        let validity = if nulls > 0 {
            Some(zeroed(pool, stream, words * 4)?)
        } else {
            None
        };
        outs.push(Out {
            values,
            validity,
            bytes,
            nulls,
        });
    }

    let mut at = 0usize;
    let mut byte_bases = vec![0usize; schema.fields().len()];
    for (p, batch) in batches.iter().enumerate() {
        let rows = batch.num_rows();
        if rows == 0 {
            continue;
        }
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let mut descriptors = Vec::with_capacity(outs.len());
        for (c, (column, out)) in batch.columns().iter().zip(outs.iter_mut()).enumerate() {
            let mut d = ConcatColumn {
                validity: read_ptr(column.validity(), stream, &mut guards),
                out_data: write_ptr(&mut out.values, stream, &mut guards)?,
                ..ConcatColumn::default()
            };
            if let Some(bits) = out.validity.as_mut() {
                d.out_validity = write_ptr(bits, stream, &mut guards)?;
            }
            match column.body() {
                ColumnBody::Fixed { values, width } => {
                    d.data = read_ptr(Some(values), stream, &mut guards);
                    d.width = *width as i32;
                }
                ColumnBody::Boolean { values } => {
                    d.data = read_ptr(Some(values), stream, &mut guards);
                    d.width = 0;
                }
                ColumnBody::Strings {
                    offsets,
                    offset_width,
                    bytes,
                } => {
                    d.data = read_ptr(Some(offsets), stream, &mut guards);
                    d.width = -1;
                    d.offset_width = offset_width.bytes() as i32;
                    d.byte_base = byte_bases[c] as u64;
                    // No bytes in the piece or the output: no address, nothing is copied.
                    if byte_spans[c][p] > 0 {
                        d.bytes = read_ptr(Some(bytes), stream, &mut guards);
                    }
                    d.out_bytes = match out.bytes.as_mut() {
                        Some(b) if !b.is_empty() => write_ptr(b, stream, &mut guards)?,
                        _ => 0,
                    };
                    byte_bases[c] += byte_spans[c][p];
                }
                ColumnBody::Dictionary { .. } => unreachable!("refused above"),
            }
            descriptors.push(d);
        }
        let descriptors_buf = pool.upload(as_bytes(&descriptors))?;
        let mut descriptor_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = ConcatParams {
            columns: read_ptr(Some(&descriptors_buf), stream, &mut descriptor_guards),
            rows: rows as i64,
            at: at as i64,
            total: total as i64,
            n_columns: descriptors.len() as i32,
            reserved: 0,
        };
        // SAFETY: the kernel takes one `cinder::ConcatParams` by value, mirrored by `params`,
        // whose addresses the caller took from live pool buffers: `n_columns` descriptors
        // whose inputs hold `rows` rows (values, bitmaps, `rows + 1` offsets and the bytes up
        // to the last offset) and whose outputs hold `total` rows (values, `ceil(total / 32)`
        // bitmap words, `total + 1` offsets, and the bytes of every piece, this one from
        // `byte_base`). Rows `at .. at + rows` are below `total`. The grid-stride geometry has
        // blocks of a multiple of 32 threads, as the ballots need.
        unsafe {
            launch_params(
                kernels,
                stream,
                MODULE,
                CONCAT_ROWS,
                grid_stride_1d(device, rows),
                &params,
            )?;
        }
        drop((descriptor_guards, guards));
        at += rows;
    }

    let mut columns = Vec::with_capacity(outs.len());
    for (field, (column, out)) in schema.fields().iter().zip(first.columns().iter().zip(outs)) {
        let body = match column.body() {
            ColumnBody::Fixed { width, .. } => ColumnBody::Fixed {
                values: out.values,
                width: *width,
            },
            ColumnBody::Boolean { .. } => ColumnBody::Boolean { values: out.values },
            ColumnBody::Strings { offset_width, .. } => ColumnBody::Strings {
                offsets: out.values,
                offset_width: *offset_width,
                bytes: out.bytes.expect("string output bytes"),
            },
            ColumnBody::Dictionary { .. } => unreachable!("refused above"),
        };
        columns.push(DeviceColumn::from_parts(
            field.data_type().clone(),
            total,
            out.nulls,
            out.validity,
            body,
        )?);
    }
    Ok(DeviceBatch::try_new(schema, columns, total)?)
}

/// The self-check's pieces of `rows` rows: empty pieces, pieces that end mid-word and
/// mid-byte, a single row, and the rest in pieces of seeded, varying sizes.
fn piece_sizes(rows: usize, seed: u64) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = rows;
    let mut state = seed | 1;
    for fixed in [0, 33, 1, 0, 7]
        .into_iter()
        .map(Some)
        .chain(std::iter::repeat(None))
    {
        if left == 0 && fixed.is_none() {
            break;
        }
        let n = fixed.unwrap_or_else(|| {
            state = state.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
            1 + (state >> 33) as usize % (rows / 3 + 64)
        });
        let n = n.min(left);
        sizes.push(n);
        left -= n;
    }
    sizes
}

/// `batch` cut into pieces of `sizes` rows (their sum is its rows).
fn pieces(batch: &RecordBatch, sizes: &[usize]) -> Vec<RecordBatch> {
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            let piece = batch.slice(at, n);
            at += n;
            piece
        })
        .collect()
}

/// `cinder gpu-check` for the concatenation kernel: a batch of fixed-width, decimal and
/// Boolean columns and a batch of strings of every Arrow string type, each cut into pieces
/// of odd sizes (empty ones included), copied to the device piece by piece and concatenated
/// there, against the batch itself (what Arrow's `concat_batches` of the pieces gives).
pub(crate) fn check_concat(env: &CheckEnv<'_>, rows: usize, seed: u64) -> Result<CheckOutcome> {
    let mut outcome = CheckOutcome {
        rows,
        ..CheckOutcome::default()
    };
    let sizes = piece_sizes(rows, seed);
    for (label, batch) in [
        ("fixed-width", crate::expr::samples::batch(rows, 1, seed)),
        ("strings", crate::expr::samples::string_batch(rows)),
    ] {
        let on_device = pieces(&batch, &sizes)
            .iter()
            .map(|p| DeviceBatch::upload(env.pool, p))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let started = std::time::Instant::now();
        let joined = concat_device(env.kernels, env.pool, &on_device)?;
        outcome.device_ms += started.elapsed().as_secs_f32() * 1000.0;
        let got = joined.download(env.pool)?;
        outcome.bytes += 2 * batch.get_array_memory_size();
        outcome.compared += batch.num_rows() * batch.num_columns();
        if got != batch {
            outcome.mismatches += 1;
            outcome.first_mismatch.get_or_insert_with(|| {
                format!(
                    "concatenating {label} in {} pieces: {}",
                    sizes.len(),
                    first_difference(&batch, &got)
                )
            });
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, StringArray};
    use cinder_cuda::PoolConfig;

    use super::*;

    /// The check's pieces cover every row, include empty pieces and pieces that end inside a
    /// bitmap byte and word, at every size the check runs.
    #[test]
    fn pieces_cover_the_rows_with_odd_boundaries() {
        for rows in [0, 1, 1000, 65_537, 1 << 20] {
            let sizes = piece_sizes(rows, 7);
            assert_eq!(sizes.iter().sum::<usize>(), rows);
            assert!(sizes.contains(&0));
            if rows > 100 {
                assert!(sizes.len() > 5, "{rows}: {sizes:?}");
                assert!(sizes.iter().any(|s| s % 8 != 0));
            }
        }
        let batch = crate::expr::samples::string_batch(100);
        let sizes = piece_sizes(100, 3);
        let parts = pieces(&batch, &sizes);
        let schema = batch.schema();
        assert_eq!(
            arrow::compute::concat_batches(&schema, &parts).unwrap(),
            batch
        );
    }

    /// What the launcher refuses before touching a device, and the cases it needs no device
    /// for.
    #[test]
    fn concat_refuses_mixed_types_dictionaries_and_host_pools() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int32Type;
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let kernels = DeviceKernels::empty();
        let err = concat_device(&kernels, &pool, &[]).unwrap_err();
        assert!(err.to_string().contains("no batches"), "{err}");
        let ints = |v: Vec<i32>| {
            let batch = RecordBatch::try_from_iter([(
                "a",
                Arc::new(Int32Array::from(v)) as arrow::array::ArrayRef,
            )])
            .unwrap();
            DeviceBatch::upload(&pool, &batch).unwrap()
        };
        let text = RecordBatch::try_from_iter([(
            "a",
            Arc::new(StringArray::from(vec!["x"])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let text = DeviceBatch::upload(&pool, &text).unwrap();
        let err = concat_device(&kernels, &pool, &[ints(vec![1]), text]).unwrap_err();
        assert!(err.to_string().contains("different column types"), "{err}");
        // One batch comes back as it is, with no kernel.
        let one = concat_device(&kernels, &pool, &[ints(vec![1, 2])]).unwrap();
        assert_eq!(one.num_rows(), 2);
        let err = concat_device(&kernels, &pool, &[ints(vec![1]), ints(vec![2])]).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA pool"), "{err}");
        let dictionary: DictionaryArray<Int32Type> = vec!["x", "y"].into_iter().collect();
        let batch =
            RecordBatch::try_from_iter([("d", Arc::new(dictionary) as arrow::array::ArrayRef)])
                .unwrap();
        let batch = DeviceBatch::upload(&pool, &batch).unwrap();
        let err = concat_device(&kernels, &pool, &[batch.clone(), batch]).unwrap_err();
        assert!(
            err.to_string().contains("not concatenated on the device"),
            "{err}"
        );
    }
}
