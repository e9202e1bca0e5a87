//! Launch geometry shared by the launchers.

use cinder_cuda::Device;
use cinder_cuda::driver::LaunchConfig;

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
