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
//! every fixed-width column (values, Boolean bitmaps, validity and null counts) at once, then
//! each string column (offsets from a scan of the kept lengths, then bytes). The output stays
//! on the device for the next operator. Dictionary columns are refused with a clear error.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{filter_record_batch, prep_null_mask_filter};
use arrow::datatypes::SchemaRef;
use cinder_cuda::driver::{CudaStream, SyncOnDrop};
use cinder_cuda::{ColumnBody, CudaError, DeviceBatch, DeviceBuffer, DeviceColumn, MemoryPool};

use crate::abi::{FilterColumn, FilterParams};
use crate::embedded::DeviceKernels;
use crate::expr::device::evaluate_on_device;
use crate::expr::{Program, ValueType, evaluate};
use crate::launch::{Timing, as_bytes, launch_params, read_ptr, write_ptr};
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

/// The schema of the programs' results, a nullable column `c<k>` for program `k`, each of the
/// Arrow type the program returns.
pub fn results_schema(programs: &[Program]) -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        programs
            .iter()
            .enumerate()
            .map(|(k, p)| {
                arrow::datatypes::Field::new(format!("c{k}"), p.result_arrow_type(), true)
            })
            .collect::<Vec<_>>(),
    ))
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

/// The rows of `batch` (in `pool`) for which `predicate` is true, every column (fixed-width,
/// Boolean and string) compacted on the device. Waits for the counts (to size the output).
pub fn filter_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    predicate: &Program,
    batch: &DeviceBatch,
) -> Result<DeviceBatch> {
    if predicate.result_type() != ValueType::Bool {
        return Err(not_a_predicate(FILTER_GATHER, predicate));
    }
    refuse_dictionaries(batch)?;
    if !pool.is_cuda() {
        return Err(KernelError::InvalidArgument {
            kernel: FILTER_GATHER,
            reason: "filter_device needs a CUDA pool".to_string(),
        });
    }
    let (selection, _) = evaluate_on_device(kernels, pool, predicate, batch, Timing::Untimed)?;
    compact_device(kernels, pool, &selection, batch)
}

/// Dictionary columns are not compacted on the device yet: a clear error.
fn refuse_dictionaries(batch: &DeviceBatch) -> Result<()> {
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(column.body(), ColumnBody::Dictionary { .. }) {
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
    Ok(())
}

/// The rows of `batch` (in `pool`) where the Boolean column `selection` (one row per batch
/// row) is true and not null, every column compacted on the device. Waits for the counts.
pub fn compact_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    selection: &DeviceColumn,
    batch: &DeviceBatch,
) -> Result<DeviceBatch> {
    refuse_dictionaries(batch)?;
    let columns: Vec<&DeviceColumn> = batch.columns().iter().map(|c| c.as_ref()).collect();
    let (compacted, rows) = compact_columns(kernels, pool, selection, &columns, batch.num_rows())?;
    Ok(DeviceBatch::try_new(
        Arc::clone(batch.schema()),
        compacted,
        rows,
    )?)
}

/// The selected rows of `columns` (each of `rows` rows; no dictionaries), compacted on the
/// device, and their number: [`compact_device`] on loose columns.
pub fn compact_columns(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    selection: &DeviceColumn,
    columns: &[&DeviceColumn],
    rows: usize,
) -> Result<(Vec<DeviceColumn>, usize)> {
    let device = pool.device().ok_or_else(|| KernelError::InvalidArgument {
        kernel: FILTER_GATHER,
        reason: "compact_device needs a CUDA pool".to_string(),
    })?;
    if selection.len() != rows {
        return Err(KernelError::InvalidArgument {
            kernel: FILTER_GATHER,
            reason: format!("a selection of {} rows for {rows} rows", selection.len()),
        });
    }
    let n_blocks = rows.div_ceil(ROWS_PER_BLOCK);
    if rows == 0 {
        return empty_columns(pool, columns);
    }
    let stream = device.stream();
    let ColumnBody::Boolean { values: sel_values } = selection.body() else {
        return Err(KernelError::InvalidArgument {
            kernel: FILTER_GATHER,
            reason: format!("a selection must be Boolean, not {}", selection.data_type()),
        });
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
    // Per-block counts and their scans: rows, then the kept bytes of each string column.
    let mut counts = pool.allocate(n_blocks * 8)?;
    let mut offsets = pool.allocate((n_blocks + 1) * 8)?;
    let mut string_blocks: Vec<Option<(DeviceBuffer, DeviceBuffer)>> = columns
        .iter()
        .map(|c| match c.body() {
            ColumnBody::Strings { .. } => Ok(Some((
                pool.allocate(n_blocks * 8)?,
                pool.allocate((n_blocks + 1) * 8)?,
            ))),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;

    // Reads of the inputs, held until the gather is queued; writes of the block counts and
    // offsets, held until the scans are.
    let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let mut scan_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let mut params = FilterParams {
        values: read_ptr(Some(sel_values), stream, &mut guards),
        validity: read_ptr(Some(sel_validity), stream, &mut guards),
        block_counts: write_ptr(&mut counts, stream, &mut scan_guards)?,
        block_offsets: write_ptr(&mut offsets, stream, &mut scan_guards)?,
        rows: rows as i64,
        n_blocks: n_blocks as i64,
        n_columns: columns.len() as i32,
        ..FilterParams::default()
    };
    // Input side of every column (the count pass reads the string offsets).
    let mut descriptors = Vec::with_capacity(columns.len());
    for (column, blocks) in columns.iter().zip(string_blocks.iter_mut()) {
        let mut d = FilterColumn {
            validity: read_ptr(column.validity(), stream, &mut guards),
            ..FilterColumn::default()
        };
        match column.body() {
            ColumnBody::Fixed { values, width } => {
                (d.data, d.width) = (read_ptr(Some(values), stream, &mut guards), *width as i32);
            }
            ColumnBody::Boolean { values } => {
                (d.data, d.width) = (read_ptr(Some(values), stream, &mut guards), 0);
            }
            ColumnBody::Strings {
                offsets,
                offset_width,
                bytes,
            } => {
                d.data = read_ptr(Some(offsets), stream, &mut guards);
                d.bytes = read_ptr(Some(bytes), stream, &mut guards);
                d.width = -1;
                d.offset_width = offset_width.bytes() as i32;
                let (block_bytes, block_offsets) = blocks.as_mut().expect("a string column");
                d.block_bytes = write_ptr(block_bytes, stream, &mut scan_guards)?;
                d.block_byte_offsets = write_ptr(block_offsets, stream, &mut scan_guards)?;
            }
            ColumnBody::Dictionary { .. } => unreachable!("refused above"),
        }
        descriptors.push(d);
    }
    let inputs_buf = pool.upload(as_bytes(&descriptors))?;
    let mut descriptor_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    params.columns = read_ptr(Some(&inputs_buf), stream, &mut descriptor_guards);
    launch(kernels, stream, FILTER_COUNT, n_blocks as u32, &params)?;
    launch(kernels, stream, FILTER_SCAN, 1, &params)?;
    for d in descriptors.iter().filter(|d| d.width == -1) {
        let scan = FilterParams {
            block_counts: d.block_bytes,
            block_offsets: d.block_byte_offsets,
            ..params
        };
        launch(kernels, stream, FILTER_SCAN, 1, &scan)?;
    }
    drop((descriptor_guards, scan_guards));

    let total_of = |scanned: &DeviceBuffer| -> Result<usize> {
        let host = pool.download(scanned)?;
        let last = &host.as_slice()[n_blocks * 8..(n_blocks + 1) * 8];
        Ok(u64::from_le_bytes(last.try_into().expect("8 bytes")) as usize)
    };
    let total = total_of(&offsets)?;
    if total > rows {
        return Err(CudaError::InvalidData(format!(
            "the filter counted {total} selected rows of {rows}"
        ))
        .into());
    }
    if total == 0 {
        // Nothing to gather (and empty pool buffers have no device address to pass).
        return empty_columns(pool, columns);
    }

    // Output buffers: values or offsets (and bytes), zeroed bitmaps, zeroed null counts.
    struct Out {
        values: DeviceBuffer,
        bytes: Option<DeviceBuffer>,
        validity: Option<DeviceBuffer>,
    }
    let words = total.div_ceil(32);
    let mut outs = Vec::with_capacity(columns.len());
    for (column, blocks) in columns.iter().zip(&string_blocks) {
        let (values, bytes) = match column.body() {
            ColumnBody::Fixed { width, .. } => (pool.allocate(total * width)?, None),
            ColumnBody::Strings { offset_width, .. } => {
                let (_, scanned) = blocks.as_ref().expect("a string column");
                let byte_total = total_of(scanned)?;
                (
                    pool.allocate((total + 1) * offset_width.bytes())?,
                    Some(pool.allocate(byte_total)?),
                )
            }
            _ => (zeroed(pool, stream, words * 4)?, None),
        };
        let validity = match column.validity() {
            Some(_) => Some(zeroed(pool, stream, words * 4)?),
            None => None,
        };
        outs.push(Out {
            values,
            bytes,
            validity,
        });
    }
    let mut null_counts = zeroed(pool, stream, columns.len().max(1) * 8)?;
    // Declared after the buffers they borrow, so that they are dropped first on every path.
    let mut gather_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let nulls_ptr = write_ptr(&mut null_counts, stream, &mut gather_guards)?;
    for (i, (d, out)) in descriptors.iter_mut().zip(outs.iter_mut()).enumerate() {
        d.out_data = write_ptr(&mut out.values, stream, &mut gather_guards)?;
        if let Some(bytes) = out.bytes.as_mut() {
            // An empty output (every kept string empty) has no address; nothing is copied.
            d.out_bytes = if bytes.is_empty() {
                0
            } else {
                write_ptr(bytes, stream, &mut gather_guards)?
            };
        }
        if let Some(bits) = out.validity.as_mut() {
            d.out_validity = write_ptr(bits, stream, &mut gather_guards)?;
        }
        d.null_count = nulls_ptr + 8 * i as u64;
    }
    // The gather reads the block offsets the scans wrote (same stream, so in order).
    let _ = read_ptr(Some(&offsets), stream, &mut gather_guards);
    for (_, scanned) in string_blocks.iter().flatten() {
        let _ = read_ptr(Some(scanned), stream, &mut gather_guards);
    }
    let outputs_buf = pool.upload(as_bytes(&descriptors))?;
    let mut descriptor_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    params.columns = read_ptr(Some(&outputs_buf), stream, &mut descriptor_guards);
    launch(kernels, stream, FILTER_GATHER, n_blocks as u32, &params)?;
    drop((descriptor_guards, gather_guards, guards));

    let null_counts = pool.download(&null_counts)?;
    let mut out_columns = Vec::with_capacity(outs.len());
    for (i, (column, out)) in columns.iter().zip(outs).enumerate() {
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
            ColumnBody::Strings { offset_width, .. } => ColumnBody::Strings {
                offsets: out.values,
                offset_width: *offset_width,
                bytes: out.bytes.expect("string output bytes"),
            },
            _ => ColumnBody::Boolean { values: out.values },
        };
        let validity = out.validity.filter(|_| nulls > 0);
        out_columns.push(DeviceColumn::from_parts(
            column.data_type().clone(),
            total,
            nulls,
            validity,
            body,
        )?);
    }
    drop((inputs_buf, outputs_buf, string_blocks, counts, offsets));
    Ok((out_columns, total))
}

/// `blocks` blocks (at least one) of [`THREADS`] threads: the geometry of the kernels that
/// work on blocks of [`ROWS_PER_BLOCK`] rows (compaction, string building).
pub(crate) fn block_config(blocks: u32) -> cinder_cuda::driver::LaunchConfig {
    cinder_cuda::driver::LaunchConfig {
        grid_dim: (blocks.max(1), 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches one compaction kernel with `blocks` blocks of [`THREADS`] threads.
pub(crate) fn launch(
    kernels: &DeviceKernels,
    stream: &Arc<CudaStream>,
    kernel: &'static str,
    blocks: u32,
    params: &FilterParams,
) -> Result<()> {
    let config = block_config(blocks);
    // SAFETY: every compaction kernel takes one `cinder::FilterParams` by value, mirrored by
    // `params`, whose addresses the caller took from live pool buffers: the selection (ceil(rows
    // / 32) words each), `n_blocks` counts, `n_blocks + 1` offsets, and `n_columns`
    // descriptors whose outputs hold the scanned total of rows. Count and gather run
    // `n_blocks` blocks of FILTER_THREADS, the scan one block, as the kernels expect.
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}

pub(crate) fn zeroed(
    pool: &MemoryPool,
    stream: &Arc<CudaStream>,
    len: usize,
) -> Result<DeviceBuffer> {
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

fn empty_columns(
    pool: &MemoryPool,
    columns: &[&DeviceColumn],
) -> Result<(Vec<DeviceColumn>, usize)> {
    let columns = columns
        .iter()
        .map(|column| DeviceColumn::empty(pool, column.data_type().clone()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((columns, 0))
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
    // String columns of every Arrow string type.
    let strings = crate::expr::samples::string_batch(rows);
    let strings_on_device = DeviceBatch::upload(env.pool, &strings)?;
    for sql in ["s LIKE '%b%'", "a > 0", "sv IS NOT NULL", "a > 100"] {
        let program = crate::expr::device::program_for(&ctx, sql, &strings)?;
        let expected = filter_host(&program, &strings)?;
        let got = filter_device(env.kernels, env.pool, &program, &strings_on_device)?
            .download(env.pool)?;
        outcome.compared += rows;
        if expected != got {
            outcome.mismatches += 1;
            if outcome.first_mismatch.is_none() {
                outcome.first_mismatch = Some(format!("{sql} on strings: host and device differ"));
            }
        }
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
        let out_schema = results_schema(&programs);
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
    fn device_filter_refuses_dictionaries_and_host_pools() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int32Type;
        use cinder_cuda::PoolConfig;
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let ctx = SessionContext::new();
        let kernels = DeviceKernels::empty();
        let dictionary: DictionaryArray<Int32Type> = vec!["x", "y", "x"].into_iter().collect();
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(Int32Array::from(vec![1, 2, 3])) as arrow::array::ArrayRef,
            ),
            ("d", Arc::new(dictionary)),
            (
                "s",
                Arc::new(arrow::array::StringArray::from(vec!["x", "y", "z"])),
            ),
        ])
        .unwrap();
        let on_pool = DeviceBatch::upload(&pool, &batch).unwrap();
        let predicate = program(&ctx, "a > 1", batch.schema_ref());
        let err = filter_device(&kernels, &pool, &predicate, &on_pool).unwrap_err();
        assert!(
            err.to_string().contains("column 'd' of type Dictionary"),
            "{err}"
        );
        // Strings are compacted on the device; only the host pool stops this one.
        let strings = batch.project(&[0, 2]).unwrap();
        let on_pool = DeviceBatch::upload(&pool, &strings).unwrap();
        let predicate = program(&ctx, "a > 1", strings.schema_ref());
        let err = filter_device(&kernels, &pool, &predicate, &on_pool).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA pool"), "{err}");
    }
}
