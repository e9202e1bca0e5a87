//! Filter and projection: a predicate program selects rows and every column is compacted;
//! a list of programs makes new columns.
//!
//! The host reference ([`filter_host`], [`project_host`]) evaluates with the host interpreter
//! and compacts with Arrow's filter kernel, as DataFusion's `FilterExec` does: a row is kept
//! when the predicate is true, dropped when it is false or null.
//!
//! On the device ([`filter_device`], [`project_device`]) the predicate runs in the expression
//! interpreter and `kernels/cuda/filter/compact.cu` compacts: a count pass over blocks of
//! [`ROWS_PER_BLOCK`] rows, a one-block scan of the counts, and one gather pass that writes
//! every column (values, Boolean bitmaps, validity and null counts) at once. The output stays
//! on the device for the next operator. Fixed-width and Boolean columns are compacted on the
//! device; string and dictionary columns are refused with a clear error for now.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{filter_record_batch, prep_null_mask_filter};
use arrow::datatypes::SchemaRef;
use cinder_cuda::driver::{CudaStream, DevicePtr, DevicePtrMut, PushKernelArg, SyncOnDrop};
use cinder_cuda::{ColumnBody, CudaError, DeviceBatch, DeviceBuffer, DeviceColumn, MemoryPool};

use crate::abi::{FilterColumn, FilterParams};
use crate::embedded::DeviceKernels;
use crate::expr::device::evaluate_on_device;
use crate::expr::{Program, ValueType, evaluate};
use crate::launch::{Timing, as_bytes, read_ptr};
use crate::selfcheck::{CheckEnv, CheckOutcome};
use crate::{KernelError, Result};

/// The module holding the compaction kernels.
pub const MODULE: &str = "filter/compact";
/// Per-block counts of selected rows.
pub const FILTER_COUNT: &str = "cinder_filter_count";
/// Exclusive scan of the block counts.
pub const FILTER_SCAN: &str = "cinder_filter_scan";
/// The gather pass.
pub const FILTER_GATHER: &str = "cinder_filter_gather";

/// Threads per block (`cinder::FILTER_THREADS`).
pub const THREADS: u32 = 256;
/// Rows per block (`cinder::FILTER_ROWS_PER_BLOCK`: 8 tiles of [`THREADS`]).
pub const ROWS_PER_BLOCK: usize = 2048;

fn not_a_predicate(kernel: &'static str, program: &Program) -> KernelError {
    KernelError::InvalidArgument {
        kernel,
        reason: format!(
            "a filter predicate must be Boolean, not {:?}",
            program.result_type()
        ),
    }
}

/// The rows of `batch` for which `predicate` is true, every column compacted (host
/// reference).
pub fn filter_host(predicate: &Program, batch: &RecordBatch) -> Result<RecordBatch> {
    if predicate.result_type() != ValueType::Bool {
        return Err(not_a_predicate("filter_host", predicate));
    }
    let mask = evaluate(predicate, batch)?;
    let mask = mask.as_boolean();
    let mask = if mask.null_count() > 0 {
        prep_null_mask_filter(mask)
    } else {
        mask.clone()
    };
    filter_record_batch(batch, &mask).map_err(|e| KernelError::Execution(e.to_string()))
}

/// Each program's result on `batch`, as the columns of `schema` (host reference).
pub fn project_host(
    programs: &[Program],
    batch: &RecordBatch,
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let columns = programs
        .iter()
        .map(|p| evaluate(p, batch))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema, columns, &options)
        .map_err(|e| KernelError::Execution(e.to_string()))
}

/// Each program's result on `batch` (in `pool`), as device columns of `schema`.
pub fn project_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    programs: &[Program],
    batch: &DeviceBatch,
    schema: SchemaRef,
) -> Result<DeviceBatch> {
    let columns = programs
        .iter()
        .map(|p| evaluate_on_device(kernels, pool, p, batch, Timing::Untimed).map(|(c, _)| c))
        .collect::<Result<Vec<_>>>()?;
    Ok(DeviceBatch::try_new(schema, columns, batch.num_rows())?)
}

/// The rows of `batch` (in `pool`) for which `predicate` is true, every column compacted on
/// the device. Waits for the count (to size the output).
pub fn filter_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    predicate: &Program,
    batch: &DeviceBatch,
) -> Result<DeviceBatch> {
    if predicate.result_type() != ValueType::Bool {
        return Err(not_a_predicate(FILTER_GATHER, predicate));
    }
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !matches!(
            column.body(),
            ColumnBody::Fixed { .. } | ColumnBody::Boolean { .. }
        ) {
            return Err(KernelError::InvalidArgument {
                kernel: FILTER_GATHER,
                reason: format!(
                    "column '{}' of type {} is not compacted on the device yet",
                    field.name(),
                    field.data_type()
                ),
            });
        }
    }
    let device = pool.device().ok_or_else(|| KernelError::InvalidArgument {
        kernel: FILTER_GATHER,
        reason: "filter_device needs a CUDA pool".to_string(),
    })?;
    let (selection, _) = evaluate_on_device(kernels, pool, predicate, batch, Timing::Untimed)?;
    let rows = batch.num_rows();
    let n_blocks = rows.div_ceil(ROWS_PER_BLOCK);
    if rows == 0 {
        return empty_like(pool, batch);
    }
    let stream = device.stream();
    let missing = || CudaError::InvalidData("a CUDA pool returned a host buffer".to_string());
    let ColumnBody::Boolean { values: sel_values } = selection.body() else {
        return Err(not_a_predicate(FILTER_GATHER, predicate));
    };
    // No validity buffer means no nulls: every predicate row is valid.
    let all_valid;
    let sel_validity = match selection.validity() {
        Some(bits) => bits,
        None => {
            all_valid = pool.upload(&vec![0xFF; rows.div_ceil(32) * 4])?;
            &all_valid
        }
    };
    let mut counts = pool.allocate(n_blocks * 8)?;
    let mut offsets = pool.allocate((n_blocks + 1) * 8)?;

    let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let mut params = FilterParams {
        values: read_ptr(Some(sel_values), stream, &mut guards),
        validity: read_ptr(Some(sel_validity), stream, &mut guards),
        rows: rows as i64,
        n_blocks: n_blocks as i64,
        ..FilterParams::default()
    };
    {
        let (counts_ptr, g1) = counts
            .cuda_slice_mut()
            .ok_or_else(missing)?
            .device_ptr_mut(stream);
        let (offsets_ptr, g2) = offsets
            .cuda_slice_mut()
            .ok_or_else(missing)?
            .device_ptr_mut(stream);
        params.block_counts = counts_ptr;
        params.block_offsets = offsets_ptr;
        launch(kernels, stream, FILTER_COUNT, n_blocks as u32, &params)?;
        launch(kernels, stream, FILTER_SCAN, 1, &params)?;
        drop((g1, g2));
    }
    let offsets_host = pool.download(&offsets)?;
    let total_bytes = &offsets_host.as_slice()[n_blocks * 8..(n_blocks + 1) * 8];
    let total = u64::from_le_bytes(total_bytes.try_into().expect("8 bytes")) as usize;
    if total > rows {
        return Err(CudaError::InvalidData(format!(
            "the filter counted {total} selected rows of {rows}"
        ))
        .into());
    }

    if total == 0 {
        // Nothing to gather (and empty pool buffers have no device address to pass).
        return empty_like(pool, batch);
    }

    // Output buffers: values, zeroed bitmaps, zeroed null counts (8 bytes per column).
    struct Out {
        values: DeviceBuffer,
        validity: Option<DeviceBuffer>,
    }
    let words = total.div_ceil(32);
    let mut outs = Vec::with_capacity(batch.columns().len());
    for column in batch.columns() {
        let values = match column.body() {
            ColumnBody::Fixed { width, .. } => pool.allocate(total * width)?,
            _ => zeroed(pool, stream, words * 4)?,
        };
        let validity = match column.validity() {
            Some(_) => Some(zeroed(pool, stream, words * 4)?),
            None => None,
        };
        outs.push(Out { values, validity });
    }
    let mut null_counts = zeroed(pool, stream, batch.columns().len().max(1) * 8)?;
    // Declared after the buffers they borrow, so that they are dropped first on every path.
    let mut gather_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let (nulls_ptr, g_nulls) = null_counts
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    let mut descriptors = Vec::with_capacity(outs.len());
    for (i, (column, out)) in batch.columns().iter().zip(outs.iter_mut()).enumerate() {
        let (data, width) = match column.body() {
            ColumnBody::Fixed { values, width } => (values, *width as i32),
            ColumnBody::Boolean { values } => (values, 0),
            _ => unreachable!("refused above"),
        };
        let (out_data, g) = out
            .values
            .cuda_slice_mut()
            .ok_or_else(missing)?
            .device_ptr_mut(stream);
        gather_guards.push(g);
        let out_validity = match out.validity.as_mut() {
            Some(bits) => {
                let (ptr, g) = bits
                    .cuda_slice_mut()
                    .ok_or_else(missing)?
                    .device_ptr_mut(stream);
                gather_guards.push(g);
                ptr
            }
            None => 0,
        };
        let validity = read_ptr(column.validity(), stream, &mut gather_guards);
        descriptors.push(FilterColumn {
            data: read_ptr(Some(data), stream, &mut gather_guards),
            validity,
            out_data,
            out_validity,
            null_count: nulls_ptr + 8 * i as u64,
            width,
            reserved: 0,
        });
    }
    let descriptors_buf = pool.upload(as_bytes(&descriptors))?;
    let (columns_ptr, g_cols) = descriptors_buf
        .cuda_slice()
        .ok_or_else(missing)?
        .device_ptr(stream);
    let (counts_ptr, g_counts) = counts
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    let (offsets_ptr, g_offsets) = offsets
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    params.block_counts = counts_ptr;
    params.block_offsets = offsets_ptr;
    params.columns = columns_ptr;
    params.n_columns = descriptors.len() as i32;
    if !descriptors.is_empty() {
        launch(kernels, stream, FILTER_GATHER, n_blocks as u32, &params)?;
    }
    drop((g_cols, g_counts, g_offsets, g_nulls, gather_guards, guards));

    let null_counts = pool.download(&null_counts)?;
    let mut columns = Vec::with_capacity(outs.len());
    for (i, (column, out)) in batch.columns().iter().zip(outs).enumerate() {
        let nulls = u64::from_le_bytes(
            null_counts.as_slice()[8 * i..8 * i + 8]
                .try_into()
                .expect("8 bytes"),
        ) as usize;
        let body = match column.body() {
            ColumnBody::Fixed { width, .. } => ColumnBody::Fixed {
                values: out.values,
                width: *width,
            },
            _ => ColumnBody::Boolean { values: out.values },
        };
        let validity = out.validity.filter(|_| nulls > 0);
        columns.push(DeviceColumn::from_parts(
            column.data_type().clone(),
            total,
            nulls,
            validity,
            body,
        )?);
    }
    drop(descriptors_buf);
    Ok(DeviceBatch::try_new(
        Arc::clone(batch.schema()),
        columns,
        total,
    )?)
}

/// Launches one compaction kernel with `blocks` blocks of [`THREADS`] threads.
fn launch(
    kernels: &DeviceKernels,
    stream: &Arc<CudaStream>,
    kernel: &'static str,
    blocks: u32,
    params: &FilterParams,
) -> Result<()> {
    let function = kernels.function(MODULE, kernel)?;
    let config = cinder_cuda::driver::LaunchConfig {
        grid_dim: (blocks.max(1), 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let mut builder = stream.launch_builder(&function);
    builder.arg(params);
    // SAFETY: every compaction kernel takes one `cinder::FilterParams` by value, mirrored by
    // `params`, whose addresses the caller took from live pool buffers: the selection (ceil(rows
    // / 32) words each), `n_blocks` counts, `n_blocks + 1` offsets, and `n_columns`
    // descriptors whose outputs hold the scanned total of rows. Count and gather run
    // `n_blocks` blocks of FILTER_THREADS, the scan one block, as the kernels expect.
    unsafe { builder.launch(config) }
        .map_err(|e| CudaError::driver(format!("launching {kernel}"), e))?;
    Ok(())
}

fn zeroed(pool: &MemoryPool, stream: &Arc<CudaStream>, len: usize) -> Result<DeviceBuffer> {
    let mut buffer = pool.allocate(len)?;
    if len > 0 {
        let slice = buffer
            .cuda_slice_mut()
            .ok_or_else(|| CudaError::InvalidData("a CUDA pool returned a host buffer".into()))?;
        stream
            .memset_zeros(slice)
            .map_err(|e| CudaError::driver("cuMemsetD8Async", e))?;
    }
    Ok(buffer)
}

fn empty_like(pool: &MemoryPool, batch: &DeviceBatch) -> Result<DeviceBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| {
            let body = match column.body() {
                ColumnBody::Fixed { width, .. } => ColumnBody::Fixed {
                    values: pool.allocate(0)?,
                    width: *width,
                },
                _ => ColumnBody::Boolean {
                    values: pool.allocate(0)?,
                },
            };
            Ok(DeviceColumn::from_parts(
                column.data_type().clone(),
                0,
                0,
                None,
                body,
            )?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DeviceBatch::try_new(
        Arc::clone(batch.schema()),
        columns,
        0,
    )?)
}

/// Predicates the GPU self-check filters with, from none to every row selected.
const CHECK_PREDICATES: &[&str] = &[
    "a > 0",
    "c % 1000 = 0",
    "p",
    "x < 0.5 OR q IS NULL",
    "dsc BETWEEN 0.05 AND 0.07",
    "a IS NULL OR a IS NOT NULL",
    "a IS NULL AND a IS NOT NULL",
];

/// `cinder gpu-check` for the compaction kernels: every check predicate on a random batch of
/// fixed-width and Boolean columns, on the device and on the host reference.
pub(crate) fn check_filter(env: &CheckEnv<'_>, rows: usize, seed: u64) -> Result<CheckOutcome> {
    let batch = crate::expr::samples::batch(rows, 1, seed);
    let on_device = DeviceBatch::upload(env.pool, &batch)?;
    let ctx = datafusion::prelude::SessionContext::new();
    let mut outcome = CheckOutcome {
        rows,
        ..CheckOutcome::default()
    };
    for sql in CHECK_PREDICATES {
        let program = crate::expr::device::program_for(&ctx, sql, &batch)?;
        let expected = filter_host(&program, &batch)?;
        let got = filter_device(env.kernels, env.pool, &program, &on_device)?.download(env.pool)?;
        outcome.compared += rows;
        if expected != got {
            outcome.mismatches += 1;
            if outcome.first_mismatch.is_none() {
                outcome.first_mismatch = Some(format!(
                    "{sql}: host kept {} rows, device {}",
                    expected.num_rows(),
                    got.num_rows()
                ));
            }
        }
        // Read every input column once and write the kept rows.
        outcome.bytes += batch.get_array_memory_size() + got.get_array_memory_size();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Int32Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::DFSchema;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::expr::translate;

    fn program(ctx: &SessionContext, sql: &str, schema: &Schema) -> Program {
        let df_schema = DFSchema::try_from(schema.clone()).unwrap();
        let logical = ctx.parse_sql_expr(sql, &df_schema).unwrap();
        let physical = ctx.create_physical_expr(logical, &df_schema).unwrap();
        translate(&physical, schema).unwrap()
    }

    /// The host filter keeps exactly the rows DataFusion's own predicate keeps, for
    /// predicates keeping none, some and all rows, on empty and offset batches.
    #[test]
    fn host_filter_matches_datafusion() {
        let ctx = SessionContext::new();
        for (rows, offset, seed) in [(0, 0, 1), (1, 0, 2), (1000, 3, 3), (4099, 1, 4)] {
            let batch = crate::expr::samples::batch(rows, offset, seed);
            for sql in CHECK_PREDICATES
                .iter()
                .chain(&["m * (1 - dsc) > 0", "NOT p"])
            {
                let schema = batch.schema();
                let df_schema = DFSchema::try_from(Arc::clone(&schema)).unwrap();
                let logical = ctx.parse_sql_expr(sql, &df_schema).unwrap();
                let physical = ctx.create_physical_expr(logical, &df_schema).unwrap();
                let mask = physical.evaluate(&batch).unwrap().into_array(rows).unwrap();
                let mask = mask.as_boolean();
                let mask = if mask.null_count() > 0 {
                    prep_null_mask_filter(mask)
                } else {
                    mask.clone()
                };
                let expected = filter_record_batch(&batch, &mask).unwrap();
                let program = translate(&physical, &schema).unwrap();
                assert_eq!(filter_host(&program, &batch).unwrap(), expected, "{sql}");
            }
        }
    }

    #[test]
    fn null_predicate_rows_are_dropped_and_non_predicates_refused() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("p", DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(4)])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    None,
                    Some(true),
                    Some(false),
                ])),
            ],
        )
        .unwrap();
        let kept = filter_host(&program(&ctx, "p", &schema), &batch).unwrap();
        assert_eq!(kept.num_rows(), 2);
        assert_eq!(
            kept.column(0).as_primitive::<arrow::datatypes::Int32Type>(),
            &Int32Array::from(vec![Some(1), None])
        );
        let err = filter_host(&program(&ctx, "a + 1", &schema), &batch).unwrap_err();
        assert!(err.to_string().contains("must be Boolean"), "{err}");
    }

    #[test]
    fn projection_evaluates_each_program() {
        let ctx = SessionContext::new();
        let batch = crate::expr::samples::batch(300, 2, 9);
        let schema = batch.schema();
        let sqls = ["m * (1 - dsc)", "a + 1", "p OR q"];
        let programs: Vec<Program> = sqls.iter().map(|s| program(&ctx, s, &schema)).collect();
        let out_schema = Arc::new(Schema::new(
            programs
                .iter()
                .enumerate()
                .map(|(i, p)| Field::new(format!("e{i}"), p.result_type().arrow_type(), true))
                .collect::<Vec<_>>(),
        ));
        let out = project_host(&programs, &batch, out_schema).unwrap();
        assert_eq!(out.num_rows(), 300);
        for (i, p) in programs.iter().enumerate() {
            assert_eq!(out.column(i), &evaluate(p, &batch).unwrap());
        }
        // No programs: the row count survives.
        let none = project_host(&[], &batch, Arc::new(Schema::empty())).unwrap();
        assert_eq!(none.num_rows(), 300);
    }

    /// The launcher refuses what it cannot compact before touching a device.
    #[test]
    fn device_filter_refuses_strings_and_host_pools() {
        use cinder_cuda::PoolConfig;
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let ctx = SessionContext::new();
        let kernels = DeviceKernels::empty();
        let strings = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int32, true),
                Field::new("s", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(arrow::array::StringArray::from(vec!["x", "y"])),
            ],
        )
        .unwrap();
        let on_pool = DeviceBatch::upload(&pool, &strings).unwrap();
        let predicate = program(&ctx, "a > 1", strings.schema_ref());
        let err = filter_device(&kernels, &pool, &predicate, &on_pool).unwrap_err();
        assert!(err.to_string().contains("column 's' of type Utf8"), "{err}");
        let fixed = DeviceBatch::upload(&pool, &strings.project(&[0]).unwrap()).unwrap();
        let predicate = program(&ctx, "a > 1", &strings.schema().project(&[0]).unwrap());
        let err = filter_device(&kernels, &pool, &predicate, &fixed).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA pool"), "{err}");
    }
}
