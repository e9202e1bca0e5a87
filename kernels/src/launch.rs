//! Launch geometry shared by the launchers.

use cinder_cuda::driver::{
    CudaEvent, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr, LaunchConfig, PushKernelArg,
    SyncOnDrop,
};

use crate::embedded::DeviceKernels;

/// Launches `module`'s `kernel`, which takes one params struct by value, with `config`, on
/// `stream`; does not wait for it.
///
/// # Safety
///
/// `P` must mirror the kernel's one parameter, every device address in `params` must point
/// into a live buffer of at least the size the kernel reads or writes there, and `config`
/// (grid, block, shared memory) must be the geometry the kernel expects.
pub(crate) unsafe fn launch_params<P: DeviceRepr>(
    kernels: &DeviceKernels,
    stream: &CudaStream,
    module: &str,
    kernel: &'static str,
    config: LaunchConfig,
    params: &P,
) -> crate::Result<()> {
    let function = kernels.function(module, kernel)?;
    let mut builder = stream.launch_builder(&function);
    builder.arg(params);
    // SAFETY: the caller's obligations above are exactly the launch's.
    unsafe { builder.launch(config) }
        .map_err(|e| CudaError::driver(format!("launching {kernel}"), e))?;
    Ok(())
}
use cinder_cuda::{CudaError, Device, DeviceBuffer};

/// Whether a launcher records events right around its kernel launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// No events (queries).
    Untimed,
    /// Events before and after the launch itself, so no host work falls inside the timing
    /// (`cinder gpu-check`, benchmarks).
    Timed,
}

/// Device time of one kernel launch.
#[derive(Debug)]
pub struct LaunchTime {
    pub(crate) start: CudaEvent,
    pub(crate) end: CudaEvent,
}

impl LaunchTime {
    /// Waits for the kernel and returns its device time in milliseconds.
    pub fn elapsed_ms(&self) -> Result<f32, CudaError> {
        self.end
            .synchronize()
            .map_err(|e| CudaError::driver("cuEventSynchronize", e))?;
        self.start
            .elapsed_ms(&self.end)
            .map_err(|e| CudaError::driver("cuEventElapsedTime", e))
    }
}

/// Threads per block for one-dimensional, memory-bound kernels: a multiple of the warp size
/// that keeps enough warps per SM in flight on Ampere and Hopper.
pub(crate) const BLOCK_THREADS: u32 = 256;

/// Resident blocks per SM to aim for with grid-stride loops: enough to hide memory latency,
/// few enough that each thread handles several rows (amortising per-thread setup).
const BLOCKS_PER_SM: u32 = 8;

/// A grid-stride launch over `rows` rows: one thread per row up to a full device's worth of
/// blocks, then each thread strides. `rows` must be positive.
pub(crate) fn grid_stride_1d(device: &Device, rows: usize) -> LaunchConfig {
    let wanted = rows.div_ceil(BLOCK_THREADS as usize).max(1);
    let cap = (device.info().sm_count.max(1) as u32).saturating_mul(BLOCKS_PER_SM) as usize;
    LaunchConfig {
        grid_dim: (wanted.min(cap) as u32, 1, 1),
        block_dim: (BLOCK_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The bytes of a slice of `#[repr(C)]` ABI structs (or integers), to upload.
pub(crate) fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: callers pass only `T`s that are one of the `#[repr(C)]` plain-integer ABI structs or an integer type, so
    // every byte of the slice is initialised (the ABI structs have no padding: checked by the
    // layout test), and u8 has no alignment requirement.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The device address of `buffer` for reading on `stream` (0 for none), keeping the guard
/// that records the read.
pub(crate) fn read_ptr<'a>(
    buffer: Option<&'a DeviceBuffer>,
    stream: &'a CudaStream,
    guards: &mut Vec<SyncOnDrop<'a>>,
) -> u64 {
    match buffer.and_then(DeviceBuffer::cuda_slice) {
        Some(slice) => {
            let (ptr, guard) = slice.device_ptr(stream);
            guards.push(guard);
            ptr
        }
        None => 0,
    }
}

/// The device address of `buffer` for writing on `stream`, keeping the guard that records
/// the write.
pub(crate) fn write_ptr<'a>(
    buffer: &'a mut DeviceBuffer,
    stream: &'a CudaStream,
    guards: &mut Vec<SyncOnDrop<'a>>,
) -> crate::Result<u64> {
    let slice = buffer
        .cuda_slice_mut()
        .ok_or_else(|| CudaError::InvalidData("a CUDA pool returned a host buffer".into()))?;
    let (ptr, guard) = slice.device_ptr_mut(stream);
    guards.push(guard);
    Ok(ptr)
}
