//! `cinder-kernels`: Cinder's CUDA kernels, their typed launchers, and a host reference of
//! every kernel with the same contract.
//!
//! The CUDA C++ sources live in `kernels/cuda/<area>/<op>.cu` (shared headers in
//! `kernels/cuda/include/cinder/`). They are compiled ahead of time by NVRTC into CUBIN for
//! sm_80 and sm_90 plus PTX for compute_80, committed under `kernels/generated/`, and embedded
//! into this crate by `build.rs`, which refuses stale images ([`embedded`]). A GPU node thus
//! needs only the NVIDIA driver.
//!
//! Each kernel family has one module here (`hash`, `expr`, `filter`, later `join`, `aggregate`) holding
//! its launcher and its host reference; the host reference is what CI runs and what
//! `cinder gpu-check` compares the device against ([`selfcheck`]).
//!
//! What this crate is not for: talking to the driver directly (that is `cinder-cuda`) or
//! planning (that is `cinder-planner`).

pub mod abi;
pub mod aggregate;
pub mod concat;
pub mod embedded;
pub mod expr;
pub mod filter;
pub mod hash;
pub mod join;
pub mod launch;
pub mod selfcheck;
pub mod testdata;

pub use embedded::{DeviceKernels, EmbeddedImage, EmbeddedModule};
pub use launch::{LaunchTime, Timing};

/// Errors from kernel launchers and host references.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The CUDA layer failed.
    #[error(transparent)]
    Cuda(#[from] cinder_cuda::CudaError),
    /// A runtime failure with DataFusion's semantics (division by zero, checked overflow).
    #[error("{0}")]
    Execution(String),
    /// Arguments that break the kernel's contract (lengths, offsets); a caller bug.
    #[error("invalid kernel arguments for {kernel}: {reason}")]
    InvalidArgument {
        /// The kernel.
        kernel: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Result with a [`KernelError`].
pub type Result<T, E = KernelError> = std::result::Result<T, E>;
