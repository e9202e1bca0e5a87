//! String results on the device: the interpreter leaves each row's (address, length) and
//! `kernels/cuda/expr/strings.cu` builds the Arrow string column from them (offsets from a
//! scan of the lengths, then the bytes). Host reference: `host::evaluate_strings`.

use std::sync::Arc;

use arrow::datatypes::DataType;
use cinder_cuda::driver::SyncOnDrop;
use cinder_cuda::{ColumnBody, DeviceBuffer, DeviceColumn, MemoryPool, OffsetWidth};

use crate::abi::{FilterParams, StringBuildParams};
use crate::embedded::DeviceKernels;
use crate::filter::{self, ROWS_PER_BLOCK};
use crate::launch::{launch_params, read_ptr, write_ptr};
use crate::{KernelError, Result};

/// The module holding the string build kernels.
pub const MODULE: &str = "expr/strings";
/// Per-block byte counts.
pub const STRING_LENGTHS: &str = "cinder_string_lengths";
/// Offsets and bytes.
pub const STRING_BUILD: &str = "cinder_string_build";

/// The string column of `data_type` whose rows are the `rows` (address, length) pairs in
/// `refs`, with `validity` (already counted: `null_count`).
pub(crate) fn build(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    refs: &DeviceBuffer,
    rows: usize,
    data_type: DataType,
    null_count: usize,
    validity: Option<DeviceBuffer>,
) -> Result<DeviceColumn> {
    let device = pool.device().ok_or_else(|| KernelError::InvalidArgument {
        kernel: STRING_BUILD,
        reason: "building strings needs a CUDA pool".to_string(),
    })?;
    let stream = device.stream();
    let offset_width = OffsetWidth::of(&data_type).ok_or_else(|| KernelError::InvalidArgument {
        kernel: STRING_BUILD,
        reason: format!("{data_type} is not a string type"),
    })?;
    let width = offset_width.bytes();
    let n_blocks = rows.div_ceil(ROWS_PER_BLOCK);
    let mut block_bytes = pool.allocate(n_blocks * 8)?;
    let mut block_offsets = pool.allocate((n_blocks + 1) * 8)?;
    let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let mut params = StringBuildParams {
        refs: read_ptr(Some(refs), stream, &mut guards),
        rows: rows as i64,
        offset_width: width as i32,
        ..StringBuildParams::default()
    };
    {
        let mut scan_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        params.block_bytes = write_ptr(&mut block_bytes, stream, &mut scan_guards)?;
        params.block_offsets = write_ptr(&mut block_offsets, stream, &mut scan_guards)?;
        launch(kernels, stream, STRING_LENGTHS, n_blocks as u32, &params)?;
        let scan = FilterParams {
            block_counts: params.block_bytes,
            block_offsets: params.block_offsets,
            n_blocks: n_blocks as i64,
            ..FilterParams::default()
        };
        filter::launch(kernels, stream, filter::FILTER_SCAN, 1, &scan)?;
    }
    let scanned = pool.download(&block_offsets)?;
    let total = u64::from_le_bytes(
        scanned.as_slice()[n_blocks * 8..(n_blocks + 1) * 8]
            .try_into()
            .expect("8 bytes"),
    ) as usize;
    let mut offsets = pool.allocate((rows + 1) * width)?;
    let mut bytes = pool.allocate(total)?;
    let mut out_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    params.out_offsets = write_ptr(&mut offsets, stream, &mut out_guards)?;
    // No bytes at all (every row empty or null): no address, and nothing is copied.
    params.out_bytes = if total == 0 {
        0
    } else {
        write_ptr(&mut bytes, stream, &mut out_guards)?
    };
    let _ = read_ptr(Some(&block_offsets), stream, &mut out_guards);
    launch(kernels, stream, STRING_BUILD, n_blocks as u32, &params)?;
    drop((out_guards, guards));
    drop((block_bytes, block_offsets));
    Ok(DeviceColumn::from_parts(
        data_type,
        rows,
        null_count,
        validity,
        ColumnBody::Strings {
            offsets,
            offset_width,
            bytes,
        },
    )?)
}

fn launch(
    kernels: &DeviceKernels,
    stream: &Arc<cinder_cuda::driver::CudaStream>,
    kernel: &'static str,
    blocks: u32,
    params: &StringBuildParams,
) -> Result<()> {
    let config = filter::block_config(blocks);
    // SAFETY: both string kernels take one `cinder::StringBuildParams` by value, mirrored by
    // `params`, whose addresses the caller took from live pool buffers: `rows` (address,
    // length) pairs pointing into live device strings, `n_blocks` byte counts, `n_blocks + 1`
    // scanned offsets, `rows + 1` output offsets and the scanned total of output bytes. They
    // run `n_blocks` blocks of FILTER_THREADS threads, as the kernels expect.
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}
