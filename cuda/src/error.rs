//! Errors from the CUDA layer.

use std::fmt;

/// A CUDA failure, typed so that callers can tell "no GPU here" (fall back, not an error for a
/// query) from a real device fault.
#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    /// The CUDA driver library (`libcuda.so`) could not be loaded: no NVIDIA driver here.
    #[error("no CUDA driver found (libcuda could not be loaded)")]
    NoDriver,
    /// The driver loaded, but there is no usable device: none present, the ordinal is out of
    /// range, or initialisation failed. The string says which.
    #[error("no usable CUDA device: {0}")]
    NoDevice(String),
    /// A driver API call failed.
    #[error("CUDA driver error in {op}: {source}")]
    Driver {
        /// What Cinder was doing.
        op: String,
        /// The driver's error.
        #[source]
        source: cudarc::driver::DriverError,
    },
    /// NVRTC (the runtime compiler) could not be loaded.
    #[error("NVRTC not found (libnvrtc.so.12 could not be loaded; see scripts/nvrtc-env)")]
    NoNvrtc,
    /// NVRTC failed to compile a kernel source.
    #[error("NVRTC failed to compile {name} for {target}: {message}\n{log}")]
    Compile {
        /// The source's name.
        name: String,
        /// The target, e.g. `sm_90` or `compute_80`.
        target: String,
        /// NVRTC's error code.
        message: String,
        /// The compiler log.
        log: String,
    },
    /// An allocation would exceed the memory pool's budget, or the device itself ran out.
    /// Callers can free memory, retry with smaller batches, or fall back to the CPU.
    #[error("device out of memory: requested {requested} bytes, {available} bytes available")]
    OutOfMemory {
        /// Bytes asked for.
        requested: usize,
        /// Bytes the pool (or device) had left.
        available: usize,
    },
    /// An Arrow type Cinder cannot place on the device; the planner shows this as the reason
    /// a node stays on the CPU.
    #[error("unsupported type on the device: {0}")]
    UnsupportedType(String),
    /// Arrow data that violates its own layout rules, or a device batch that cannot be
    /// turned back into Arrow.
    #[error("invalid Arrow data: {0}")]
    InvalidData(String),
    /// A kernel image cannot run on this device.
    #[error("no kernel image for this device: {0}")]
    NoImage(String),
}

impl CudaError {
    /// Wraps a driver error with what Cinder was doing when it happened.
    pub fn driver(op: impl fmt::Display, source: cudarc::driver::DriverError) -> Self {
        Self::Driver {
            op: op.to_string(),
            source,
        }
    }
}

/// The message of a caught panic, for errors that replace it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// Result with a [`CudaError`].
pub type Result<T, E = CudaError> = std::result::Result<T, E>;
