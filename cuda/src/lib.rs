//! `cinder-cuda`: the only crate in Cinder that talks to the CUDA driver.
//!
//! It owns device discovery ([`probe`]), kernel module loading and launching ([`Device`]),
//! NVRTC compilation ([`nvrtc`], used by the kernel build tool, never at query time), the
//! budgeted device memory pool with pinned staging ([`memory`]), and Arrow columns and
//! batches on the device ([`column`]), on a CUDA device or on the host backend.
//!
//! Everything here is built with cudarc's *dynamic loading*: the crate compiles and its
//! tests pass on a machine with no CUDA toolkit and no driver. Discovery never panics:
//! no `libcuda` gives [`CudaError::NoDriver`], a driver without a usable device gives
//! [`CudaError::NoDevice`].
//!
//! What this crate is not for: kernels (see `cinder-kernels`) and query planning (see
//! `cinder-planner`).

pub mod column;
mod device;
mod error;
pub mod memory;
pub mod nvrtc;
pub mod selfcheck;
pub mod testdata;

pub use column::{ColumnBody, DeviceBatch, DeviceColumn, OffsetWidth, check_supported};
pub use device::{
    Device, DeviceInfo, GpuTarget, KernelModule, driver_present, driver_version, probe,
};
pub use error::{CudaError, Result};
pub use memory::{Budget, DeviceBuffer, MemoryPool, MemoryStats, PoolConfig, TransferMode};

/// The parts of cudarc's driver API that kernel launchers need, re-exported so that only this
/// crate depends on cudarc directly.
pub mod driver {
    pub use cudarc::driver::sys::CUevent_flags;
    pub use cudarc::driver::{
        CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr,
        LaunchConfig, PushKernelArg, SyncOnDrop, ValidAsZeroBits,
    };
}
