//! Gathering rows by index on the device (`kernels/cuda/join/gather.cu`): the join's output
//! columns, taken from the build and probe sides by the assembler's indices, with nulls where
//! an index is absent. The host reference is Arrow's `take` (as [`super::gather`] uses it),
//! and the result is the same column by column: values, nulls, Boolean bitmaps and strings of
//! every Arrow string type (`Utf8`, `LargeUtf8`, `Utf8View`).
//!
//! One kernel writes every fixed-width and Boolean column and the validity of all of them
//! (Boolean words and validity words a warp at a time, by ballot) and each string row's length;
//! the lengths are scanned into offsets (the join's scan) and a second kernel copies the
//! strings. An index past the input is a clear error, never an out-of-bounds read.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef};
use cinder_cuda::driver::SyncOnDrop;
use cinder_cuda::{ColumnBody, DeviceBatch, DeviceBuffer, DeviceColumn, MemoryPool, OffsetWidth};

use super::device::{DevicePairs, exclusive_scan};
use super::{JoinFilterProgram, JoinIndices, JoinKind, Side, arrow_error, invalid};
use crate::abi::{GatherColumn, GatherParams, MarkParams};
use crate::embedded::DeviceKernels;
use crate::expr::device::evaluate_on_device;
use crate::filter::{compact_columns, zeroed};
use crate::launch::{as_bytes, grid_stride_1d, launch_params, read_ptr, write_ptr};
use crate::selfcheck::{CheckEnv, CheckOutcome};
use crate::{KernelError, Result, Timing};

/// The module holding the gather kernels.
pub const MODULE: &str = "join/gather";
/// Fixed-width and Boolean values, validity, null counts and string lengths.
pub const GATHER_ROWS: &str = "cinder_gather_rows";
/// String offsets and bytes.
pub const GATHER_STRINGS: &str = "cinder_gather_strings";
/// Marks the rows some indices name.
pub const MARK_ROWS: &str = "cinder_mark_rows";
/// Inverts the marks.
pub const FLIP_BITS: &str = "cinder_flip_bits";
/// The index that marks a null output row (`cinder::GATHER_NULL_INDEX`).
pub const NULL_INDEX: u32 = u32::MAX;

/// Output rows as indices into a batch on the device: one `u32` per row, [`NULL_INDEX`] for a
/// null row.
#[derive(Debug)]
pub struct DeviceIndices {
    buffer: DeviceBuffer,
    len: usize,
    nullable: bool,
}

impl DeviceIndices {
    /// Copies `indices` (`None`: a null row) to `pool`. `u32::MAX` cannot be a row: it marks
    /// nulls.
    pub fn upload(pool: &MemoryPool, indices: &[Option<u32>]) -> Result<Self> {
        let mut words = Vec::with_capacity(indices.len());
        let mut nullable = false;
        for (i, index) in indices.iter().enumerate() {
            match *index {
                Some(NULL_INDEX) => {
                    return Err(invalid(
                        GATHER_ROWS,
                        format!("index {i} is {NULL_INDEX}, which marks a null row"),
                    ));
                }
                Some(row) => words.push(row),
                None => {
                    nullable = true;
                    words.push(NULL_INDEX);
                }
            }
        }
        Ok(Self {
            buffer: pool.upload(as_bytes(&words))?,
            len: indices.len(),
            nullable,
        })
    }

    /// Indices a kernel wrote: `len` `u32`s in `buffer`; `nullable` says whether any may be
    /// [`NULL_INDEX`] (if not, one that is makes the gather fail).
    pub fn from_buffer(buffer: DeviceBuffer, len: usize, nullable: bool) -> Result<Self> {
        if buffer.len() < len * 4 {
            return Err(invalid(
                GATHER_ROWS,
                format!("{} bytes for {len} indices", buffer.len()),
            ));
        }
        Ok(Self {
            buffer,
            len,
            nullable,
        })
    }

    /// Output rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no output rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some rows may be null.
    pub fn nullable(&self) -> bool {
        self.nullable
    }
}

fn launch(
    kernels: &DeviceKernels,
    stream: &cinder_cuda::driver::CudaStream,
    kernel: &'static str,
    config: cinder_cuda::driver::LaunchConfig,
    params: &GatherParams,
) -> Result<()> {
    // SAFETY: both kernels take one `cinder::GatherParams` by value, mirrored by `params`,
    // whose addresses the caller took from live pool buffers: `rows` indices, `n_columns`
    // descriptors whose inputs hold `source_rows` rows (or no address when there are none;
    // the kernels read an input row only for an index below `source_rows`) and whose outputs
    // hold `rows` values, `ceil(rows / 32)` bitmap words, `rows` lengths and `rows + 1`
    // offsets and starts, bytes up to the scanned total, and one count per column plus the
    // error count. The grid-stride geometry has blocks of a multiple of 32 threads, as the
    // ballots need.
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}

/// One bit per row of a batch on the device, set for each row that some pairs of a semi, anti
/// or outer join name: the build rows matched so far, or the probe rows of one probe batch
/// that matched. The pairs stay on the device; only the marks, or the rows they select, are
/// used. The host reference is [`mark_rows_host`].
#[derive(Debug)]
pub struct DeviceMarks {
    /// `ceil(rows / 32)` words, zeroed at first.
    bitmap: DeviceBuffer,
    /// The count of indices past the rows (a u64).
    errors: DeviceBuffer,
    rows: usize,
}

impl DeviceMarks {
    /// `rows` rows, none marked.
    pub fn new(pool: &MemoryPool, rows: usize) -> Result<Self> {
        let device = pool
            .device()
            .ok_or_else(|| invalid(MARK_ROWS, "marks need a CUDA pool"))?;
        if rows >= NULL_INDEX as usize {
            return Err(invalid(MARK_ROWS, format!("{rows} rows; at most 2^32 - 2")));
        }
        let stream = device.stream();
        Ok(Self {
            bitmap: zeroed(pool, stream, rows.div_ceil(32) * 4)?,
            errors: zeroed(pool, stream, 8)?,
            rows,
        })
    }

    /// Rows the marks cover.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Marks the rows `indices` names: a `UInt32` column without nulls, such as a side of
    /// [`DevicePairs`]. An index past the rows is counted, and [`Self::flags`] and
    /// [`Self::selection`] report it as an error; nothing is written out of bounds.
    pub fn mark(
        &mut self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        indices: &DeviceColumn,
    ) -> Result<()> {
        let view = IndexView::of_rows(indices)?;
        if view.len == 0 {
            return Ok(());
        }
        let device = pool
            .device()
            .ok_or_else(|| invalid(MARK_ROWS, "marks need a CUDA pool"))?;
        let stream = device.stream();
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = MarkParams {
            indices: read_ptr(Some(view.buffer), stream, &mut guards),
            bitmap: write_ptr(&mut self.bitmap, stream, &mut guards)?,
            errors: write_ptr(&mut self.errors, stream, &mut guards)?,
            n: view.len as i64,
            rows: self.rows as i64,
        };
        launch_marks(
            kernels,
            stream,
            MARK_ROWS,
            grid_stride_1d(device, view.len),
            &params,
        )?;
        drop(guards);
        Ok(())
    }

    /// An error if some index named no row (waits for the marking kernels).
    fn check(&self, pool: &MemoryPool) -> Result<()> {
        let count = pool.download(&self.errors)?;
        let count = u64::from_le_bytes(count.as_slice()[..8].try_into().expect("8 bytes"));
        if count > 0 {
            return Err(invalid(
                MARK_ROWS,
                format!("{count} indices name no row of the {} rows", self.rows),
            ));
        }
        Ok(())
    }

    /// The marks on the host, a flag per row (waits for the kernels).
    pub fn flags(&self, pool: &MemoryPool) -> Result<Vec<bool>> {
        self.check(pool)?;
        if self.rows == 0 {
            return Ok(Vec::new());
        }
        let words = pool.download(&self.bitmap)?;
        let bytes = words.as_slice();
        Ok((0..self.rows)
            .map(|r| (bytes[r >> 3] >> (r & 7)) & 1 == 1)
            .collect())
    }

    /// The marks as a Boolean column without nulls, inverted first when `invert` (an anti
    /// join keeps the rows nothing matched): the selection [`crate::filter::compact_device`]
    /// takes. Waits for the count of bad indices.
    pub fn selection(
        mut self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        invert: bool,
    ) -> Result<DeviceColumn> {
        self.check(pool)?;
        if invert && self.rows > 0 {
            let device = pool
                .device()
                .ok_or_else(|| invalid(FLIP_BITS, "marks need a CUDA pool"))?;
            let stream = device.stream();
            let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
            let params = MarkParams {
                bitmap: write_ptr(&mut self.bitmap, stream, &mut guards)?,
                rows: self.rows as i64,
                ..MarkParams::default()
            };
            let words = self.rows.div_ceil(32);
            launch_marks(
                kernels,
                stream,
                FLIP_BITS,
                grid_stride_1d(device, words),
                &params,
            )?;
            drop(guards);
        }
        Ok(DeviceColumn::from_parts(
            DataType::Boolean,
            self.rows,
            0,
            None,
            ColumnBody::Boolean {
                values: self.bitmap,
            },
        )?)
    }
}

fn launch_marks(
    kernels: &DeviceKernels,
    stream: &cinder_cuda::driver::CudaStream,
    kernel: &'static str,
    config: cinder_cuda::driver::LaunchConfig,
    params: &MarkParams,
) -> Result<()> {
    // SAFETY: both kernels take one `cinder::MarkParams` by value, mirrored by `params`, whose
    // addresses the caller took from live pool buffers: `n` u32 indices, `ceil(rows / 32)`
    // bitmap words and the u64 error count (`cinder_flip_bits` reads only the bitmap and
    // `rows`). The kernels write a bit only for an index below `rows`, with grid strides.
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}

/// The host reference of [`DeviceMarks::mark`]: sets `flags[i]` for every index `i`; an index
/// past the flags is an error (and nothing is marked).
pub fn mark_rows_host(flags: &mut [bool], indices: &[u32]) -> Result<()> {
    let rows = flags.len();
    let bad = indices.iter().filter(|&&i| i as usize >= rows).count();
    if bad > 0 {
        return Err(invalid(
            MARK_ROWS,
            format!("{bad} indices name no row of the {rows} rows"),
        ));
    }
    for &i in indices {
        flags[i as usize] = true;
    }
    Ok(())
}

/// The rows `indices` names of `columns` (each of `source_rows` rows), as new columns on the
/// device: what Arrow's `take` gives on the host. Fixed-width, Boolean and string columns;
/// dictionaries are refused. Waits for the string totals and the null counts.
pub fn gather_columns(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    columns: &[&DeviceColumn],
    source_rows: usize,
    indices: &DeviceIndices,
) -> Result<Vec<DeviceColumn>> {
    gather_by(
        kernels,
        pool,
        columns,
        source_rows,
        IndexView {
            buffer: &indices.buffer,
            len: indices.len,
            nullable: indices.nullable,
        },
    )
}

/// Indices as [`gather_by`] reads them: borrowed from [`DeviceIndices`] or from a `UInt32`
/// column of pairs.
#[derive(Debug, Clone, Copy)]
struct IndexView<'a> {
    buffer: &'a DeviceBuffer,
    len: usize,
    nullable: bool,
}

impl<'a> IndexView<'a> {
    /// The rows of a `UInt32` column without nulls (a side of [`DevicePairs`]).
    fn of_rows(column: &'a DeviceColumn) -> Result<Self> {
        match column.body() {
            ColumnBody::Fixed { values, width: 4 }
                if column.data_type() == &DataType::UInt32 && column.null_count() == 0 =>
            {
                Ok(Self {
                    buffer: values,
                    len: column.len(),
                    nullable: false,
                })
            }
            _ => Err(invalid(
                GATHER_ROWS,
                format!(
                    "row indices must be UInt32 without nulls, not {} with {} nulls",
                    column.data_type(),
                    column.null_count()
                ),
            )),
        }
    }
}

fn gather_by(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    columns: &[&DeviceColumn],
    source_rows: usize,
    indices: IndexView<'_>,
) -> Result<Vec<DeviceColumn>> {
    for column in columns {
        if matches!(column.body(), ColumnBody::Dictionary { .. }) {
            return Err(invalid(
                GATHER_ROWS,
                format!(
                    "a {} column is not gathered on the device yet",
                    column.data_type()
                ),
            ));
        }
        if let ColumnBody::Fixed { width, .. } = column.body()
            && ![1, 2, 4, 8, 16].contains(width)
        {
            return Err(invalid(
                GATHER_ROWS,
                format!("{width}-byte values of {}", column.data_type()),
            ));
        }
        if column.len() != source_rows {
            return Err(invalid(
                GATHER_ROWS,
                format!(
                    "a column of {} rows among columns of {source_rows}",
                    column.len()
                ),
            ));
        }
    }
    if source_rows >= NULL_INDEX as usize {
        return Err(invalid(
            GATHER_ROWS,
            format!("{source_rows} input rows; at most 2^32 - 2"),
        ));
    }
    let device = pool
        .device()
        .ok_or_else(|| invalid(GATHER_ROWS, "gather_columns needs a CUDA pool"))?;
    let rows = indices.len;
    if rows == 0 {
        return columns
            .iter()
            .map(|c| Ok(DeviceColumn::empty(pool, c.data_type().clone())?))
            .collect();
    }
    let stream = device.stream();
    let words = rows.div_ceil(32);

    // Outputs: values, bitmap words or offsets; validity where a row can be null; per-row
    // lengths for strings.
    struct Out {
        values: DeviceBuffer,
        validity: Option<DeviceBuffer>,
        lengths: Option<DeviceBuffer>,
        starts: Option<DeviceBuffer>,
        bytes: Option<DeviceBuffer>,
    }
    let mut outs = Vec::with_capacity(columns.len());
    for column in columns {
        let (values, lengths) = match column.body() {
            ColumnBody::Fixed { width, .. } => (pool.allocate(rows * width)?, None),
            ColumnBody::Boolean { .. } => (pool.allocate(words * 4)?, None),
            ColumnBody::Strings { offset_width, .. } => (
                pool.allocate((rows + 1) * offset_width.bytes())?,
                Some(pool.allocate(rows * 8)?),
            ),
            ColumnBody::Dictionary { .. } => unreachable!("refused above"),
        };
        let validity = if column.validity().is_some() || indices.nullable {
            Some(pool.allocate(words * 4)?)
        } else {
            None
        };
        outs.push(Out {
            values,
            validity,
            lengths,
            starts: None,
            bytes: None,
        });
    }
    // One null count per column, then the count of bad indices.
    let mut counters = zeroed(pool, stream, (columns.len() + 1) * 8)?;
    let params = GatherParams {
        rows: rows as i64,
        source_rows: source_rows as i64,
        n_columns: columns.len() as i32,
        nullable: indices.nullable as i32,
        ..GatherParams::default()
    };
    let config = grid_stride_1d(device, rows);

    // Pass 1: values, validity, null counts, string lengths.
    let mut descriptors = Vec::with_capacity(columns.len());
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let counters_ptr = write_ptr(&mut counters, stream, &mut guards)?;
        for (i, (column, out)) in columns.iter().zip(outs.iter_mut()).enumerate() {
            let mut d = GatherColumn {
                validity: read_ptr(column.validity(), stream, &mut guards),
                out_data: write_ptr(&mut out.values, stream, &mut guards)?,
                null_count: counters_ptr + 8 * i as u64,
                ..GatherColumn::default()
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
                    d.bytes = read_ptr(Some(bytes), stream, &mut guards);
                    d.width = -1;
                    d.offset_width = offset_width.bytes() as i32;
                    let lengths = out.lengths.as_mut().expect("a string column");
                    d.lengths = write_ptr(lengths, stream, &mut guards)?;
                }
                ColumnBody::Dictionary { .. } => unreachable!("refused above"),
            }
            descriptors.push(d);
        }
        let descriptors_buf = pool.upload(as_bytes(&descriptors))?;
        let mut descriptor_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = GatherParams {
            indices: read_ptr(Some(indices.buffer), stream, &mut descriptor_guards),
            columns: read_ptr(Some(&descriptors_buf), stream, &mut descriptor_guards),
            errors: counters_ptr + 8 * columns.len() as u64,
            ..params
        };
        launch(kernels, stream, GATHER_ROWS, config, &params)?;
        drop((descriptor_guards, guards));
    }

    // Pass 2 (string columns): the lengths scanned into starts, then offsets and bytes.
    let mut any_strings = false;
    for (column, out) in columns.iter().zip(outs.iter_mut()) {
        let ColumnBody::Strings { offset_width, .. } = column.body() else {
            continue;
        };
        any_strings = true;
        let lengths = out.lengths.as_ref().expect("a string column");
        let starts = exclusive_scan(kernels, pool, lengths, rows)?;
        let last = pool.download_range(&starts, rows * 8..(rows + 1) * 8)?;
        let total = u64::from_le_bytes(last.as_slice().try_into().expect("8 bytes")) as usize;
        if *offset_width == OffsetWidth::I32 && total > i32::MAX as usize {
            return Err(invalid(
                GATHER_STRINGS,
                format!(
                    "{total} bytes of {} strings: more than 32-bit offsets hold",
                    column.data_type()
                ),
            ));
        }
        out.bytes = Some(pool.allocate(total)?);
        out.starts = Some(starts);
    }
    if any_strings {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let mut string_descriptors = Vec::new();
        for ((d, out), column) in descriptors.iter().zip(outs.iter_mut()).zip(columns) {
            if d.width != -1 {
                continue;
            }
            let mut d = *d;
            // The input offsets and bytes, read again by this pass.
            if let ColumnBody::Strings { offsets, bytes, .. } = column.body() {
                d.data = read_ptr(Some(offsets), stream, &mut guards);
                d.bytes = read_ptr(Some(bytes), stream, &mut guards);
            }
            d.out_data = write_ptr(&mut out.values, stream, &mut guards)?;
            d.out_bytes = match out.bytes.as_mut() {
                // No bytes (every row null or empty): no address, nothing is copied.
                Some(bytes) if !bytes.is_empty() => write_ptr(bytes, stream, &mut guards)?,
                _ => 0,
            };
            d.starts = read_ptr(out.starts.as_ref(), stream, &mut guards);
            string_descriptors.push(d);
        }
        let descriptors_buf = pool.upload(as_bytes(&string_descriptors))?;
        let mut descriptor_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = GatherParams {
            indices: read_ptr(Some(indices.buffer), stream, &mut descriptor_guards),
            columns: read_ptr(Some(&descriptors_buf), stream, &mut descriptor_guards),
            n_columns: string_descriptors.len() as i32,
            ..params
        };
        launch(kernels, stream, GATHER_STRINGS, config, &params)?;
        drop((descriptor_guards, guards));
    }

    let counts = pool.download(&counters)?;
    let count = |i: usize| -> usize {
        u64::from_le_bytes(
            counts.as_slice()[8 * i..8 * i + 8]
                .try_into()
                .expect("8 bytes"),
        ) as usize
    };
    let errors = count(columns.len());
    if errors > 0 {
        return Err(invalid(
            GATHER_ROWS,
            format!(
                "{errors} of {rows} indices name no row of the {source_rows} input rows{}",
                if indices.nullable {
                    ""
                } else {
                    " (or are null where no null was expected)"
                }
            ),
        ));
    }
    let mut gathered = Vec::with_capacity(columns.len());
    for (i, (column, out)) in columns.iter().zip(outs).enumerate() {
        let nulls = count(i);
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
        gathered.push(DeviceColumn::from_parts(
            column.data_type().clone(),
            rows,
            nulls,
            out.validity.filter(|_| nulls > 0),
            body,
        )?);
    }
    Ok(gathered)
}

/// The rows `indices` names of `batch`, on the device: [`gather_columns`] over a batch (its
/// fields made nullable when some indices are null).
pub fn gather_batch(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    batch: &DeviceBatch,
    indices: &DeviceIndices,
) -> Result<DeviceBatch> {
    let columns: Vec<&DeviceColumn> = batch.columns().iter().map(|c| c.as_ref()).collect();
    let gathered = gather_columns(kernels, pool, &columns, batch.num_rows(), indices)?;
    let schema = if indices.nullable() {
        nullable_schema(batch.schema())
    } else {
        Arc::clone(batch.schema())
    };
    Ok(DeviceBatch::try_new(schema, gathered, indices.len())?)
}

/// `schema` with every field nullable: the rows of a gather with null indices.
fn nullable_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(
        arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        )
        .with_metadata(schema.metadata().clone()),
    )
}

/// The join's output rows for `indices` on the device: the build columns (when the join type
/// has them), then the probe columns, as `schema`. The device twin of [`super::gather`].
pub fn gather_join_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    kind: JoinKind,
    build: &DeviceBatch,
    probe: &DeviceBatch,
    indices: &JoinIndices,
    schema: &SchemaRef,
) -> Result<DeviceBatch> {
    let rows = indices.len();
    let side =
        |batch: &DeviceBatch, idx: &[Option<u32>], name: &str| -> Result<Vec<DeviceColumn>> {
            if idx.len() != rows {
                return Err(invalid(
                    GATHER_ROWS,
                    format!("{} {name} indices for {rows} output rows", idx.len()),
                ));
            }
            let columns: Vec<&DeviceColumn> = batch.columns().iter().map(|c| c.as_ref()).collect();
            let indices = DeviceIndices::upload(pool, idx)?;
            gather_columns(kernels, pool, &columns, batch.num_rows(), &indices)
        };
    let mut columns = Vec::new();
    if kind.has_build_columns() {
        columns.extend(side(build, &indices.build, "build")?);
    }
    if kind.has_probe_columns() {
        columns.extend(side(probe, &indices.probe, "probe")?);
    }
    Ok(DeviceBatch::try_new(Arc::clone(schema), columns, rows)?)
}

/// The pairs the residual filter keeps, on the device: the filter's intermediate columns
/// gathered by the pairs (build columns by the build rows, probe columns by the probe rows),
/// the condition evaluated by the device interpreter, and the pairs compacted where it is
/// true (not null). The device twin of [`JoinFilterProgram::keep`], which gives flags on the
/// host; the kept pairs stay in order and settle the same probe rows.
pub fn keep_pairs_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    filter: &JoinFilterProgram,
    build: &DeviceBatch,
    probe: &DeviceBatch,
    pairs: DevicePairs,
) -> Result<DevicePairs> {
    let n = pairs.len();
    if n == 0 {
        return Ok(pairs);
    }
    let columns = gather_pair_columns(kernels, pool, build, probe, &pairs, &filter.columns)?;
    let intermediate = DeviceBatch::try_new(Arc::clone(&filter.schema), columns, n)?;
    let (selection, _) = evaluate_on_device(
        kernels,
        pool,
        &filter.program,
        &intermediate,
        Timing::Untimed,
    )?;
    drop(intermediate);
    let (mut kept, _) =
        compact_columns(kernels, pool, &selection, &[&pairs.build, &pairs.probe], n)?;
    let probe_rows = kept.pop().expect("two columns");
    let build_rows = kept.pop().expect("two columns");
    Ok(DevicePairs {
        build: build_rows,
        probe: probe_rows,
        done_from: pairs.done_from,
        done_to: pairs.done_to,
    })
}

/// The columns `wanted` (a side and a column index there, in any order, repeats allowed)
/// taken by `pairs`: build columns by the build rows, probe columns by the probe rows, one
/// gather per side.
pub fn gather_pair_columns(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    build: &DeviceBatch,
    probe: &DeviceBatch,
    pairs: &DevicePairs,
    wanted: &[(Side, usize)],
) -> Result<Vec<DeviceColumn>> {
    let mut sides: [(Side, &DeviceBatch, &DeviceColumn, Vec<usize>); 2] = [
        (Side::Build, build, &pairs.build, Vec::new()),
        (Side::Probe, probe, &pairs.probe, Vec::new()),
    ];
    for (side, i) in wanted {
        let (_, batch, _, picked) = sides
            .iter_mut()
            .find(|(s, ..)| s == side)
            .expect("two sides");
        if *i >= batch.columns().len() {
            return Err(invalid(
                GATHER_ROWS,
                format!("no {side:?} column {i} of {}", batch.columns().len()),
            ));
        }
        picked.push(*i);
    }
    let mut gathered: [Vec<Option<DeviceColumn>>; 2] = [Vec::new(), Vec::new()];
    for (slot, (_, batch, rows, picked)) in gathered.iter_mut().zip(&sides) {
        if picked.is_empty() {
            continue;
        }
        let columns: Vec<&DeviceColumn> = picked
            .iter()
            .map(|&i| batch.columns()[i].as_ref())
            .collect();
        let view = IndexView::of_rows(rows)?;
        *slot = gather_by(kernels, pool, &columns, batch.num_rows(), view)?
            .into_iter()
            .map(Some)
            .collect();
    }
    let mut next = [0usize; 2];
    let mut columns = Vec::with_capacity(wanted.len());
    for (side, _) in wanted {
        let s = usize::from(*side == Side::Probe);
        columns.push(gathered[s][next[s]].take().expect("gathered once"));
        next[s] += 1;
    }
    Ok(columns)
}

/// An Inner join's output rows for `pairs` (kept pairs, in probe order), on the device: the
/// build columns by the build rows, then the probe columns by the probe rows, as `schema`.
/// The same rows as the host's assembly and [`super::gather`] for `JoinKind::Inner`, with the
/// build rows of one probe row in the device's order.
pub fn gather_pairs_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    build: &DeviceBatch,
    probe: &DeviceBatch,
    pairs: &DevicePairs,
    schema: &SchemaRef,
) -> Result<DeviceBatch> {
    let wanted: Vec<(Side, usize)> = (0..build.columns().len())
        .map(|i| (Side::Build, i))
        .chain((0..probe.columns().len()).map(|i| (Side::Probe, i)))
        .collect();
    let columns = gather_pair_columns(kernels, pool, build, probe, pairs, &wanted)?;
    Ok(DeviceBatch::try_new(
        Arc::clone(schema),
        columns,
        pairs.len(),
    )?)
}

/// Arrow's `take` of every column of `batch`: the host reference.
fn take_batch(batch: &RecordBatch, indices: &[Option<u32>]) -> Result<RecordBatch> {
    let indices = UInt32Array::from(indices.to_vec());
    let columns = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &indices, None).map_err(arrow_error))
        .collect::<Result<Vec<_>>>()?;
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
    let schema = if indices.null_count() > 0 {
        nullable_schema(batch.schema_ref())
    } else {
        batch.schema()
    };
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(arrow_error)
}

/// The self-check's index lists over `rows` input rows: random rows with duplicates and one
/// null in ten (a third more rows out than in), every row backwards (no nulls), all nulls,
/// one row repeated, and none.
fn index_cases(rows: usize, seed: u64) -> Vec<(&'static str, Vec<Option<u32>>)> {
    let mix = |i: usize| (i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 21;
    let random = (0..rows + rows / 3)
        .map(|i| {
            let h = mix(i);
            (rows > 0 && h % 10 != 0).then(|| (h % rows as u64) as u32)
        })
        .collect();
    let backwards = (0..rows as u32).rev().map(Some).collect();
    let nulls = vec![None; rows / 2 + 1];
    let repeated = if rows > 0 {
        vec![Some((rows / 2) as u32); rows]
    } else {
        Vec::new()
    };
    vec![
        ("random, duplicates and nulls", random),
        ("backwards", backwards),
        ("all null", nulls),
        ("one row repeated", repeated),
        ("none", Vec::new()),
    ]
}

/// The first row where two batches of the same shape differ, described (the self-checks'
/// report of a mismatch).
pub(crate) fn first_difference(expected: &RecordBatch, got: &RecordBatch) -> String {
    if expected.num_rows() != got.num_rows() || expected.schema() != got.schema() {
        return format!(
            "host {} rows of {:?}, device {} rows of {:?}",
            expected.num_rows(),
            expected.schema(),
            got.num_rows(),
            got.schema()
        );
    }
    for (c, field) in expected.schema().fields().iter().enumerate() {
        let (e, g) = (expected.column(c), got.column(c));
        if e == g {
            continue;
        }
        for row in 0..e.len() {
            if e.slice(row, 1) != g.slice(row, 1) {
                return format!(
                    "column '{}' row {row}: host {:?}, device {:?}",
                    field.name(),
                    e.slice(row, 1),
                    g.slice(row, 1)
                );
            }
        }
        return format!("column '{}' differs (null counts or buffers)", field.name());
    }
    "the batches differ".to_string()
}

/// Full-join output indices over `rows` rows on each side: every third row has no build row,
/// every fifth no probe row; build rows repeat, probe rows run backwards.
fn full_join_indices(rows: usize) -> JoinIndices {
    JoinIndices {
        build: (0..rows)
            .map(|i| (i % 3 != 0).then_some(((i * 7) % rows) as u32))
            .collect(),
        probe: (0..rows)
            .map(|i| (i % 5 != 1).then_some((rows - 1 - i) as u32))
            .collect(),
    }
}

/// The schema of a join's output over `build` and `probe`, every field nullable.
fn joined_schema(build: &RecordBatch, probe: &RecordBatch) -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        build
            .schema()
            .fields()
            .iter()
            .chain(probe.schema().fields())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

/// The inputs of the self-check's join pipeline over about `rows` rows: a build batch (the
/// sample columns and a unique Int64 key `bk`, every other value) of half the rows, a probe
/// batch (the string columns and a key `pk`, half of whose values miss, some null), and the
/// residual filters: none, one over both sides, and one that rejects every pair.
type PipelineInputs = (
    RecordBatch,
    RecordBatch,
    Vec<(&'static str, Option<JoinFilterProgram>)>,
);

fn pipeline_inputs(rows: usize, seed: u64) -> Result<PipelineInputs> {
    use arrow::array::Int64Array;
    let build_rows = rows / 2;
    let probe_rows = rows - build_rows;
    let with_key = |batch: RecordBatch, name: &str, key: Int64Array| -> Result<RecordBatch> {
        let mut fields: Vec<arrow::datatypes::FieldRef> = batch.schema().fields().to_vec();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            name,
            DataType::Int64,
            true,
        )));
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(key));
        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
            .map_err(arrow_error)
    };
    let build = with_key(
        crate::expr::samples::batch(build_rows, 0, seed),
        "bk",
        (0..build_rows as i64).map(|i| Some(i * 2)).collect(),
    )?;
    let span = 2 * build_rows as u64 + 1;
    let probe = with_key(
        crate::expr::samples::string_batch(probe_rows),
        "pk",
        (0..probe_rows as u64)
            .map(|i| {
                let h = (i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 23;
                (i % 13 != 5).then_some((h % span) as i64)
            })
            .collect(),
    )?;
    let ctx = datafusion::prelude::SessionContext::new();
    let x = build.schema().index_of("x").map_err(arrow_error)?;
    let s = probe.schema().index_of("s").map_err(arrow_error)?;
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        build.schema().field(x).clone(),
        probe.schema().field(s).clone(),
    ]));
    let filter = |sql: &str| -> Result<Option<JoinFilterProgram>> {
        let program = crate::expr::device::program_for(
            &ctx,
            sql,
            &RecordBatch::new_empty(Arc::clone(&schema)),
        )?;
        Ok(Some(JoinFilterProgram {
            program,
            columns: vec![(Side::Build, x), (Side::Probe, s)],
            schema: Arc::clone(&schema),
        }))
    };
    let filters = vec![
        ("no filter", None),
        (
            "x < 0.5 OR s LIKE '%b%'",
            filter("x < 0.5 OR s LIKE '%b%'")?,
        ),
        (
            "a filter that rejects every pair",
            filter("x IS NULL AND x IS NOT NULL")?,
        ),
    ];
    Ok((build, probe, filters))
}

/// The host reference of the join pipeline: chunks of `budget` pairs and the filter; the
/// Inner join's output (the assembly and the gather, concatenated), and the build and probe
/// rows the kept pairs name ([`mark_rows_host`]), which semi, anti and outer joins use.
struct HostPipeline {
    inner: RecordBatch,
    build_marks: Vec<bool>,
    probe_marks: Vec<bool>,
}

impl HostPipeline {
    /// The probe rows a RightSemi join keeps, or with `anti` a RightAnti join.
    fn probe_rows(&self, probe: &RecordBatch, anti: bool) -> Result<RecordBatch> {
        let keep: arrow::array::BooleanArray =
            self.probe_marks.iter().map(|&m| Some(m != anti)).collect();
        arrow::compute::filter_record_batch(probe, &keep).map_err(arrow_error)
    }
}

fn host_pipeline(
    build: &RecordBatch,
    probe: &RecordBatch,
    filter: Option<&JoinFilterProgram>,
    budget: usize,
    schema: &SchemaRef,
) -> Result<HostPipeline> {
    let key = |b: &RecordBatch| vec![Arc::clone(b.columns().last().expect("a key column"))];
    let table = super::BuildTable::new(
        &key(build),
        build.num_rows(),
        super::NullMatch::NullEqualsNothing,
    )?;
    let mut prober = table.prober(&key(probe), probe.num_rows())?;
    let mut assembler = super::JoinAssembler::new(JoinKind::Inner, build.num_rows());
    let mut probe_matched = vec![false; probe.num_rows()];
    let mut build_marks = vec![false; build.num_rows()];
    let mut probe_marks = vec![false; probe.num_rows()];
    let mut out = Vec::new();
    while let Some(pairs) = prober.next_chunk(budget) {
        let kept = match filter {
            Some(f) => f.keep(build, probe, &pairs)?,
            None => vec![true; pairs.build.len()],
        };
        let take = |side: &[u32]| -> Vec<u32> {
            side.iter()
                .zip(&kept)
                .filter_map(|(&r, &k)| k.then_some(r))
                .collect()
        };
        mark_rows_host(&mut build_marks, &take(&pairs.build))?;
        mark_rows_host(&mut probe_marks, &take(&pairs.probe))?;
        let indices = assembler.chunk(&pairs, &kept, &mut probe_matched);
        out.push(super::gather(
            JoinKind::Inner,
            build,
            probe,
            &indices,
            schema,
        )?);
    }
    Ok(HostPipeline {
        inner: arrow::compute::concat_batches(schema, &out).map_err(arrow_error)?,
        build_marks,
        probe_marks,
    })
}

/// The self-check's Inner join pipeline on the device (pairs, filter and gather without a
/// round trip to the host), against [`host_pipeline`], over the hash table and the
/// dense-key path.
fn check_join_pipeline(
    env: &CheckEnv<'_>,
    rows: usize,
    seed: u64,
    outcome: &mut CheckOutcome,
) -> Result<()> {
    let (build, probe, filters) = pipeline_inputs(rows, seed)?;
    let schema = joined_schema(&build, &probe);
    let build_on_device = DeviceBatch::upload(env.pool, &build)?;
    let probe_on_device = DeviceBatch::upload(env.pool, &probe)?;
    let build_key = vec![Arc::clone(build.columns().last().expect("bk"))];
    let nulls = super::NullMatch::NullEqualsNothing;
    let dense = super::dense_range(&build_key, build.num_rows(), nulls);
    let budget = 1000.max(rows / 4);
    // The host's answers, once per filter for both device paths.
    let expected: Vec<HostPipeline> = filters
        .iter()
        .map(|(_, filter)| host_pipeline(&build, &probe, filter.as_ref(), budget, &schema))
        .collect::<Result<_>>()?;
    for path in std::iter::once(None).chain(dense.map(Some)) {
        let device_build = super::device::build_device(
            env.kernels,
            env.pool,
            vec![DeviceColumn::upload(env.pool, build_key[0].as_ref())?],
            build.num_rows(),
            nulls,
            path,
        )?;
        for ((label, filter), expected) in filters.iter().zip(&expected) {
            let probe_key = probe_on_device.columns().last().expect("pk");
            let started = std::time::Instant::now();
            let mut prober = super::device::probe_device(
                env.kernels,
                env.pool,
                &device_build,
                &[probe_key.as_ref()],
                probe.num_rows(),
            )?;
            let mut chunks = Vec::new();
            let mut build_marks = DeviceMarks::new(env.pool, build.num_rows())?;
            let mut probe_marks = DeviceMarks::new(env.pool, probe.num_rows())?;
            while let Some(pairs) = prober.next_chunk_on_device(env.kernels, env.pool, budget)? {
                let pairs = match filter {
                    Some(f) => keep_pairs_device(
                        env.kernels,
                        env.pool,
                        f,
                        &build_on_device,
                        &probe_on_device,
                        pairs,
                    )?,
                    None => pairs,
                };
                build_marks.mark(env.kernels, env.pool, &pairs.build)?;
                probe_marks.mark(env.kernels, env.pool, &pairs.probe)?;
                chunks.push(gather_pairs_device(
                    env.kernels,
                    env.pool,
                    &build_on_device,
                    &probe_on_device,
                    &pairs,
                    &schema,
                )?);
            }
            outcome.device_ms += started.elapsed().as_secs_f32() * 1000.0;
            let got = chunks
                .iter()
                .map(|c| c.download(env.pool))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let got = arrow::compute::concat_batches(&schema, &got).map_err(arrow_error)?;
            let path = if device_build.is_dense() {
                "dense keys"
            } else {
                "hash table"
            };
            // The marks: the build rows any kept pair named (what Left, LeftSemi and
            // LeftAnti settle from), and the probe rows a RightSemi or RightAnti join keeps,
            // compacted on the device.
            let probe_flags = probe_marks.flags(env.pool)?;
            for (side, got, expected) in [
                ("build", build_marks.flags(env.pool)?, &expected.build_marks),
                ("probe", probe_flags.clone(), &expected.probe_marks),
            ] {
                outcome.compared += got.len();
                if got != *expected {
                    outcome.mismatches += 1;
                    let row = got.iter().zip(expected).position(|(g, e)| g != e);
                    outcome.first_mismatch.get_or_insert_with(|| {
                        format!(
                            "{side} marks on the device ({label}, {path}): first differ at \
                             row {row:?}"
                        )
                    });
                }
            }
            let mut record = |what: &str, expected: &RecordBatch, got: &RecordBatch| {
                outcome.compared += expected.num_rows() * expected.num_columns();
                if expected != got {
                    outcome.mismatches += 1;
                    outcome.first_mismatch.get_or_insert_with(|| {
                        format!(
                            "{what} on the device ({label}, {path}): {}",
                            first_difference(expected, got)
                        )
                    });
                }
            };
            record("Inner join", &expected.inner, &got);
            // RightSemi from the probe marks themselves; RightAnti from the same marks made
            // again from their flags (a selection consumes its marks).
            let mut probe_marks = Some(probe_marks);
            for anti in [false, true] {
                let marks = match probe_marks.take() {
                    Some(marks) => marks,
                    None => {
                        let mut marks = DeviceMarks::new(env.pool, probe.num_rows())?;
                        let rows: Vec<u32> = (0..probe.num_rows() as u32)
                            .filter(|&r| probe_flags[r as usize])
                            .collect();
                        if !rows.is_empty() {
                            let indices = DeviceColumn::upload(env.pool, &UInt32Array::from(rows))?;
                            marks.mark(env.kernels, env.pool, &indices)?;
                        }
                        marks
                    }
                };
                let selection = marks.selection(env.kernels, env.pool, anti)?;
                let kept = crate::filter::compact_device(
                    env.kernels,
                    env.pool,
                    &selection,
                    &probe_on_device,
                )?
                .download(env.pool)?;
                let what = if anti {
                    "RightAnti rows"
                } else {
                    "RightSemi rows"
                };
                record(what, &expected.probe_rows(&probe, anti)?, &kept);
            }
        }
    }
    Ok(())
}

/// `cinder gpu-check` for the gather kernels: every index case of [`index_cases`] over a
/// batch of fixed-width, decimal and Boolean columns and a batch of strings of every Arrow
/// string type, against Arrow's `take`; a Full join's output over both batches against
/// [`super::gather`]; and an index past the input must be an error.
pub(crate) fn check_gather(env: &CheckEnv<'_>, rows: usize, seed: u64) -> Result<CheckOutcome> {
    let mut outcome = CheckOutcome {
        rows,
        ..CheckOutcome::default()
    };
    let batch = crate::expr::samples::batch(rows, 1, seed);
    let strings = crate::expr::samples::string_batch(rows);
    let sides = [
        (
            "fixed-width",
            &batch,
            DeviceBatch::upload(env.pool, &batch)?,
        ),
        (
            "strings",
            &strings,
            DeviceBatch::upload(env.pool, &strings)?,
        ),
    ];
    let mut record = |what: String, expected: &RecordBatch, got: &RecordBatch| {
        outcome.compared += expected.num_rows() * expected.num_columns();
        if expected != got {
            outcome.mismatches += 1;
            outcome
                .first_mismatch
                .get_or_insert_with(|| format!("{what}: {}", first_difference(expected, got)));
        }
    };
    let mut device_ms = 0.0;
    let mut bytes = 0;
    for (label, idx) in index_cases(rows, seed) {
        for (name, host, on_device) in &sides {
            let expected = take_batch(host, &idx)?;
            let indices = DeviceIndices::upload(env.pool, &idx)?;
            let started = std::time::Instant::now();
            let got = gather_batch(env.kernels, env.pool, on_device, &indices)?;
            device_ms += started.elapsed().as_secs_f32() * 1000.0;
            let got = got.download(env.pool)?;
            bytes += idx.len() * 4 + 2 * got.get_array_memory_size();
            record(format!("gather {name} ({label})"), &expected, &got);
        }
    }
    // A Full join's output: unmatched rows on either side are nulls on the other.
    let (build, probe) = (&sides[0], &sides[1]);
    let join = full_join_indices(rows);
    let schema = joined_schema(build.1, probe.1);
    let expected = super::gather(JoinKind::Full, build.1, probe.1, &join, &schema)?;
    let got = gather_join_device(
        env.kernels,
        env.pool,
        JoinKind::Full,
        &build.2,
        &probe.2,
        &join,
        &schema,
    )?
    .download(env.pool)?;
    record("Full join output".to_string(), &expected, &got);
    // The Inner join pipeline, the pairs never leaving the device.
    check_join_pipeline(env, rows, seed, &mut outcome)?;
    // An index past the input: an error, not a read out of bounds.
    let past = DeviceIndices::upload(env.pool, &[Some(rows as u32), None])?;
    match gather_batch(env.kernels, env.pool, &build.2, &past) {
        Err(KernelError::InvalidArgument { .. }) => {}
        other => {
            outcome.mismatches += 1;
            outcome.first_mismatch.get_or_insert_with(|| {
                format!("an index past {rows} rows gave {other:?}, not an error")
            });
        }
    }
    outcome.compared += 1;
    outcome.device_ms = device_ms;
    outcome.bytes = bytes;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, StringArray};
    use cinder_cuda::PoolConfig;

    use super::*;

    /// The host side of `check_gather`: every index case is in range (or null), the random
    /// case has duplicates and nulls, and Arrow's `take` runs on both sample batches.
    #[test]
    fn self_check_cases_run_on_the_host() {
        for rows in [0, 1, 1000] {
            let batch = crate::expr::samples::batch(rows, 1, 4);
            let strings = crate::expr::samples::string_batch(rows);
            for (label, idx) in index_cases(rows, 4) {
                assert!(
                    idx.iter().flatten().all(|&i| (i as usize) < rows),
                    "{label}: an index past {rows} rows"
                );
                for b in [&batch, &strings] {
                    assert_eq!(take_batch(b, &idx).unwrap().num_rows(), idx.len());
                }
            }
            if rows == 1000 {
                let (_, random) = &index_cases(rows, 4)[0];
                assert!(random.iter().any(Option::is_none), "no nulls");
                let distinct: std::collections::HashSet<_> = random.iter().flatten().collect();
                assert!(
                    distinct.len() < random.iter().flatten().count(),
                    "no duplicates"
                );
            }
        }
    }

    #[test]
    fn null_index_marker_is_refused_as_a_row() {
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let ok = DeviceIndices::upload(&pool, &[Some(0), None, Some(2)]).unwrap();
        assert_eq!((ok.len(), ok.nullable()), (3, true));
        let dense = DeviceIndices::upload(&pool, &[Some(1), Some(0)]).unwrap();
        assert!(!dense.nullable());
        let err = DeviceIndices::upload(&pool, &[Some(1), Some(u32::MAX)]).unwrap_err();
        assert!(err.to_string().contains("marks a null row"), "{err}");
        let short = pool.upload(&[0; 7]).unwrap();
        let err = DeviceIndices::from_buffer(short, 2, false).unwrap_err();
        assert!(err.to_string().contains("7 bytes for 2 indices"), "{err}");
    }

    /// The launcher refuses what it cannot gather before touching a device.
    #[test]
    fn gather_refuses_dictionaries_mismatched_columns_and_host_pools() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int32Type;
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let kernels = DeviceKernels::empty();
        let indices = DeviceIndices::upload(&pool, &[Some(0)]).unwrap();
        let dictionary: DictionaryArray<Int32Type> = vec!["x", "y"].into_iter().collect();
        let dictionary = DeviceColumn::upload(&pool, &dictionary).unwrap();
        let err = gather_columns(&kernels, &pool, &[&dictionary], 2, &indices).unwrap_err();
        assert!(
            err.to_string().contains("not gathered on the device"),
            "{err}"
        );
        let ints = DeviceColumn::upload(&pool, &Int32Array::from(vec![1, 2, 3])).unwrap();
        let text = DeviceColumn::upload(&pool, &StringArray::from(vec!["a", "b"])).unwrap();
        let err = gather_columns(&kernels, &pool, &[&ints, &text], 3, &indices).unwrap_err();
        assert!(
            err.to_string().contains("2 rows among columns of 3"),
            "{err}"
        );
        let err = gather_columns(&kernels, &pool, &[&ints], 3, &indices).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA pool"), "{err}");
        assert_eq!(text.len(), 2);
    }

    /// The marks' host reference sets each named row once however often it is named, and
    /// refuses an index past the rows without marking anything; the device marks need a
    /// CUDA pool.
    #[test]
    fn marks_set_named_rows_and_refuse_rows_past_the_end() {
        let mut flags = vec![false; 5];
        mark_rows_host(&mut flags, &[3, 0, 3, 3]).unwrap();
        assert_eq!(flags, [true, false, false, true, false]);
        mark_rows_host(&mut flags, &[]).unwrap();
        let err = mark_rows_host(&mut flags, &[1, 5, 9]).unwrap_err();
        assert!(
            err.to_string()
                .contains("2 indices name no row of the 5 rows"),
            "{err}"
        );
        assert_eq!(flags, [true, false, false, true, false]);
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let err = DeviceMarks::new(&pool, 5).unwrap_err();
        assert!(err.to_string().contains("need a CUDA pool"), "{err}");
    }

    /// The host half of the join pipeline check: the filter keeps some pairs and not
    /// others, the rejecting filter keeps none, and chunking does not change the result.
    #[test]
    fn host_join_pipeline_is_chunking_independent() {
        let (build, probe, filters) = pipeline_inputs(4000, 3).unwrap();
        let schema = joined_schema(&build, &probe);
        let mut sizes = Vec::new();
        for (label, filter) in &filters {
            let whole =
                host_pipeline(&build, &probe, filter.as_ref(), usize::MAX / 2, &schema).unwrap();
            let chunked = host_pipeline(&build, &probe, filter.as_ref(), 97, &schema).unwrap();
            assert_eq!(whole.inner, chunked.inner, "{label}");
            assert_eq!(whole.build_marks, chunked.build_marks, "{label}");
            assert_eq!(whole.probe_marks, chunked.probe_marks, "{label}");
            sizes.push(whole.inner.num_rows());
            // The marks are the rows the Inner output names: its probe rows are the
            // RightSemi rows, and together with the RightAnti rows they are every probe row.
            let semi = whole.probe_rows(&probe, false).unwrap();
            let anti = whole.probe_rows(&probe, true).unwrap();
            assert_eq!(
                semi.num_rows() + anti.num_rows(),
                probe.num_rows(),
                "{label}"
            );
            let marked = whole.probe_marks.iter().filter(|&&m| m).count();
            assert_eq!(semi.num_rows(), marked, "{label}");
            assert_eq!(
                whole.build_marks.iter().any(|&m| m),
                whole.inner.num_rows() > 0,
                "{label}"
            );
        }
        assert!(sizes[0] > 500, "{sizes:?}");
        assert!(0 < sizes[1] && sizes[1] < sizes[0], "{sizes:?}");
        assert_eq!(sizes[2], 0, "{sizes:?}");
        // Small inputs build too (the check runs at 0 and 1 rows).
        for rows in [0, 1, 2] {
            let (build, probe, filters) = pipeline_inputs(rows, 1).unwrap();
            let schema = joined_schema(&build, &probe);
            for (_, filter) in &filters {
                host_pipeline(&build, &probe, filter.as_ref(), 1000, &schema).unwrap();
            }
        }
    }

    /// The Full-join indices the self-check builds name rows in range on both sides and
    /// give the host gather nulls on each side.
    #[test]
    fn host_gather_of_a_full_join_has_nulls_on_both_sides() {
        let rows = 50;
        let batch = crate::expr::samples::batch(rows, 1, 2);
        let strings = crate::expr::samples::string_batch(rows);
        let join = full_join_indices(rows);
        let schema = joined_schema(&batch, &strings);
        let out = super::super::gather(JoinKind::Full, &batch, &strings, &join, &schema).unwrap();
        assert_eq!(out.num_rows(), rows);
        assert!(out.column(0).null_count() >= rows / 3);
        assert!(out.column(batch.num_columns()).null_count() >= rows / 5);
    }
}
