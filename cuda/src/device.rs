//! Device discovery, kernel module loading and timing.
//!
//! [`probe`] is the one entry point: it checks for the driver library before touching cudarc
//! (whose lazily loaded driver API panics when `libcuda` is missing), and turns every failure
//! into a [`CudaError`] instead of a panic.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use cudarc::driver::sys::{CUdevice_attribute, CUevent_flags};
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream};
use cudarc::nvrtc::Ptx;

use crate::error::{CudaError, Result, panic_message};

/// Whether the CUDA driver library (`libcuda.so`) can be loaded on this machine.
pub fn driver_present() -> bool {
    // SAFETY: `is_culib_present` only tries to dlopen the driver library by its usual names;
    // loading NVIDIA's driver library runs no initialiser that has preconditions on us.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// The CUDA version the installed driver supports, as `(major, minor)` (e.g. `(12, 8)`).
///
/// Needs the driver library but no device.
pub fn driver_version() -> Result<(i32, i32)> {
    if !driver_present() {
        return Err(CudaError::NoDriver);
    }
    let version = catch_driver_panic("cuDriverGetVersion", || {
        let mut version: std::ffi::c_int = 0;
        // SAFETY: the driver library is present (checked above) and `version` is a valid
        // out-pointer for the duration of the call.
        let status = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
        status
            .result()
            .map(|()| version)
            .map_err(|e| CudaError::driver("cuDriverGetVersion", e))
    })?;
    Ok((version / 1000, (version % 1000) / 10))
}

/// Opens device `ordinal`: a context and a stream of its own, plus the facts [`DeviceInfo`] holds.
///
/// Never panics: no driver library gives [`CudaError::NoDriver`]; a driver with no device,
/// an ordinal out of range, or a failed initialisation gives [`CudaError::NoDevice`] with
/// the reason.
pub fn probe(ordinal: usize) -> Result<Device> {
    if !driver_present() {
        return Err(CudaError::NoDriver);
    }
    catch_driver_panic("device initialisation", || Device::open(ordinal))
}

/// Runs `f`, turning a panic inside cudarc (e.g. a driver symbol missing from an old driver)
/// into [`CudaError::NoDevice`].
fn catch_driver_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            Err(CudaError::NoDevice(format!(
                "the CUDA driver failed during {what}: {message}"
            )))
        }
    }
}

/// Facts about an opened device, read once at [`probe`] time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device ordinal as the driver numbers it.
    pub ordinal: usize,
    /// Marketing name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Compute capability `(major, minor)`, e.g. `(9, 0)` for Hopper.
    pub compute_capability: (i32, i32),
    /// Total device memory in bytes.
    pub total_memory: usize,
    /// Free device memory in bytes when the device was opened.
    pub free_memory: usize,
    /// Number of streaming multiprocessors.
    pub sm_count: i32,
    /// CUDA version the driver supports, `(major, minor)`.
    pub driver_version: (i32, i32),
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GIB: f64 = (1u64 << 30) as f64;
        write!(
            f,
            "{} (device {}): compute capability {}.{}, {} SMs, {:.1} GiB total, {:.1} GiB free",
            self.name,
            self.ordinal,
            self.compute_capability.0,
            self.compute_capability.1,
            self.sm_count,
            self.total_memory as f64 / GIB,
            self.free_memory as f64 / GIB
        )
    }
}

/// An opened CUDA device: its context, a stream of Cinder's own, and its [`DeviceInfo`].
#[derive(Debug)]
pub struct Device {
    /// The device's primary context.
    ctx: Arc<CudaContext>,
    /// The stream Cinder's kernels are ordered on.
    stream: Arc<CudaStream>,
    /// The stream host <-> device copies run on, so they can overlap kernels; cudarc's event
    /// tracking orders each buffer's uses across the two streams.
    copy_stream: Arc<CudaStream>,
    /// Facts read when the device was opened.
    info: DeviceInfo,
}

impl Device {
    fn open(ordinal: usize) -> Result<Self> {
        let count = CudaContext::device_count()
            .map_err(|e| CudaError::NoDevice(format!("CUDA initialisation failed: {e}")))?;
        if count <= 0 {
            return Err(CudaError::NoDevice(
                "the driver reports no CUDA devices".to_string(),
            ));
        }
        if ordinal >= count as usize {
            return Err(CudaError::NoDevice(format!(
                "device ordinal {ordinal} is out of range: the driver reports {count} device(s)"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| {
            CudaError::NoDevice(format!(
                "could not create a context on device {ordinal}: {e}"
            ))
        })?;
        let stream = ctx
            .new_stream()
            .map_err(|e| CudaError::driver("cuStreamCreate", e))?;
        let copy_stream = ctx
            .new_stream()
            .map_err(|e| CudaError::driver("cuStreamCreate", e))?;
        let name = ctx
            .name()
            .map_err(|e| CudaError::driver("cuDeviceGetName", e))?;
        let compute_capability = ctx
            .compute_capability()
            .map_err(|e| CudaError::driver("cuDeviceGetAttribute(compute capability)", e))?;
        let sm_count = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|e| CudaError::driver("cuDeviceGetAttribute(SM count)", e))?;
        let (free_memory, total_memory) = ctx
            .mem_get_info()
            .map_err(|e| CudaError::driver("cuMemGetInfo", e))?;
        let info = DeviceInfo {
            ordinal,
            name,
            compute_capability,
            total_memory,
            free_memory,
            sm_count,
            driver_version: driver_version()?,
        };
        Ok(Self {
            ctx,
            stream,
            copy_stream,
            info,
        })
    }

    /// Facts about this device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The stream Cinder orders its kernels on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The stream host <-> device copies run on.
    pub fn copy_stream(&self) -> &Arc<CudaStream> {
        &self.copy_stream
    }

    /// The device's context.
    pub(crate) fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// Loads a kernel module image built for `target` (a CUBIN, or PTX that the driver JIT
    /// compiles). Fails with [`CudaError::NoImage`] if `target` cannot run on this device.
    pub fn load_module(&self, target: GpuTarget, image: &[u8]) -> Result<KernelModule> {
        if !target.runs_on(self.info.compute_capability) {
            let (major, minor) = self.info.compute_capability;
            return Err(CudaError::NoImage(format!(
                "{target} does not run on compute capability {major}.{minor}"
            )));
        }
        let ptx = match target {
            GpuTarget::Cubin { .. } => Ptx::from_binary(image.to_vec()),
            GpuTarget::Ptx { .. } => {
                let text = std::str::from_utf8(image).map_err(|e| {
                    CudaError::NoImage(format!("{target} image is not UTF-8 text: {e}"))
                })?;
                if text.contains('\0') {
                    return Err(CudaError::NoImage(format!(
                        "{target} image contains a NUL byte"
                    )));
                }
                Ptx::from_src(text)
            }
        };
        let module = self
            .ctx
            .load_module(ptx)
            .map_err(|e| CudaError::driver(format!("cuModuleLoadData({target})"), e))?;
        Ok(KernelModule { module, target })
    }

    /// Runs `work` on this device's stream between two timing events and returns the
    /// elapsed device time in milliseconds. Waits for the work to finish.
    pub fn time_ms(&self, work: impl FnOnce(&Arc<CudaStream>) -> Result<()>) -> Result<f32> {
        let start = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| CudaError::driver("cuEventRecord", e))?;
        work(&self.stream)?;
        let end = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| CudaError::driver("cuEventRecord", e))?;
        end.synchronize()
            .map_err(|e| CudaError::driver("cuEventSynchronize", e))?;
        start
            .elapsed_ms(&end)
            .map_err(|e| CudaError::driver("cuEventElapsedTime", e))
    }

    /// Device-to-device copy bandwidth in GB/s (bytes read + written, 10^9 bytes), the ceiling
    /// that memory-bound kernels are reported against. Copies a `bytes`-sized buffer (choose
    /// it well above the L2 cache) `reps` times after one warm-up copy; returns the median.
    pub fn copy_bandwidth_gbps(&self, bytes: usize, reps: usize) -> Result<f64> {
        let stream = &self.stream;
        let words = (bytes / 8).max(1);
        let src = stream
            .alloc_zeros::<u64>(words)
            .map_err(|e| CudaError::driver("allocating the copy source", e))?;
        let mut dst = stream
            .alloc_zeros::<u64>(words)
            .map_err(|e| CudaError::driver("allocating the copy target", e))?;
        let copy = |dst: &mut cudarc::driver::CudaSlice<u64>| {
            stream
                .memcpy_dtod(&src, dst)
                .map_err(|e| CudaError::driver("cuMemcpyDtoDAsync", e))
        };
        copy(&mut dst)?;
        let mut times = Vec::with_capacity(reps.max(1));
        for _ in 0..reps.max(1) {
            times.push(self.time_ms(|_| copy(&mut dst))?);
        }
        times.sort_by(f32::total_cmp);
        Ok(gbps(2 * words * 8, times[times.len() / 2]))
    }

    /// Plain `cuMemcpy` bandwidth between one pinned host buffer of `bytes` and the device,
    /// in GB/s as `(host to device, device to host)`: the ceiling staged transfers are
    /// measured against. Median of `reps` copies after a warm-up.
    pub fn pinned_copy_gbps(&self, bytes: usize, reps: usize) -> Result<(f64, f64)> {
        let bytes = bytes.max(1);
        // SAFETY: filled below before any copy reads it.
        let mut host = unsafe { self.ctx.alloc_pinned_with_flags::<u8>(bytes, 0) }
            .map_err(|e| CudaError::driver("cuMemHostAlloc", e))?;
        for (i, b) in host
            .as_mut_slice()
            .map_err(|e| CudaError::driver("pinned buffer", e))?
            .iter_mut()
            .enumerate()
        {
            *b = (i % 251) as u8;
        }
        // SAFETY: written by the first host-to-device copy before being read.
        let mut device = unsafe { self.stream.alloc::<u8>(bytes) }
            .map_err(|e| CudaError::driver("cuMemAllocAsync", e))?;
        let median = |copy: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
            copy()?;
            let mut times = Vec::with_capacity(reps.max(1));
            for _ in 0..reps.max(1) {
                times.push(self.time_ms(|_| copy())?);
            }
            times.sort_by(f32::total_cmp);
            Ok(gbps(bytes, times[times.len() / 2]))
        };
        let stream = &self.stream;
        let h2d = median(&mut || {
            stream
                .memcpy_htod(&host, &mut device)
                .map_err(|e| CudaError::driver("cuMemcpyHtoDAsync", e))
        })?;
        let d2h = median(&mut || {
            stream
                .memcpy_dtoh(&device, &mut host)
                .map_err(|e| CudaError::driver("cuMemcpyDtoHAsync", e))
        })?;
        Ok((h2d, d2h))
    }

    /// Waits for all copies queued on the copy stream.
    pub fn synchronize_copies(&self) -> Result<()> {
        self.copy_stream
            .synchronize()
            .map_err(|e| CudaError::driver("cuStreamSynchronize", e))
    }

    /// Waits for all work queued on this device's stream.
    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| CudaError::driver("cuStreamSynchronize", e))
    }
}

/// GB/s (10^9 bytes per second) for `bytes` moved in `ms` milliseconds. The event timer's
/// resolution is about half a microsecond; a copy timed at zero is credited with that.
fn gbps(bytes: usize, ms: f32) -> f64 {
    const TIMER_RESOLUTION_MS: f64 = 0.0005;
    bytes as f64 / (f64::from(ms).max(TIMER_RESOLUTION_MS) / 1e3) / 1e9
}

/// What a kernel image was compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GpuTarget {
    /// Machine code (SASS in a CUBIN) for one architecture, e.g. `sm = 90`. Runs on devices
    /// of the same major compute capability and an equal or higher minor one.
    Cubin {
        /// Architecture number, `10 * major + minor`.
        sm: u32,
    },
    /// PTX for a virtual architecture, e.g. `compute = 80`, JIT-compiled by the driver. Runs
    /// on every device at least that new, if the driver understands the PTX ISA version.
    Ptx {
        /// Virtual architecture number, `10 * major + minor`.
        compute: u32,
    },
}

impl GpuTarget {
    /// Whether an image for this target can run on a device of compute capability `cc`.
    pub fn runs_on(self, cc: (i32, i32)) -> bool {
        let (major, minor) = (cc.0.max(0) as u32, cc.1.max(0) as u32);
        match self {
            GpuTarget::Cubin { sm } => major == sm / 10 && minor >= sm % 10,
            GpuTarget::Ptx { compute } => 10 * major + minor >= compute,
        }
    }

    /// The NVRTC `--gpu-architecture` value for this target.
    pub fn arch_flag(self) -> String {
        self.to_string()
    }

    /// Parses `sm_90` or `compute_80`.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(n) = name.strip_prefix("sm_") {
            n.parse().ok().map(|sm| GpuTarget::Cubin { sm })
        } else if let Some(n) = name.strip_prefix("compute_") {
            n.parse().ok().map(|compute| GpuTarget::Ptx { compute })
        } else {
            None
        }
    }
}

impl fmt::Display for GpuTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuTarget::Cubin { sm } => write!(f, "sm_{sm}"),
            GpuTarget::Ptx { compute } => write!(f, "compute_{compute}"),
        }
    }
}

/// A kernel module loaded on a device.
#[derive(Debug, Clone)]
pub struct KernelModule {
    /// The driver's module handle; unloaded when the last clone drops.
    module: Arc<CudaModule>,
    /// The image kind that was loaded.
    target: GpuTarget,
}

impl KernelModule {
    /// Looks up a kernel by its `extern "C"` name.
    pub fn function(&self, name: &str) -> Result<CudaFunction> {
        self.module
            .load_function(name)
            .map_err(|e| CudaError::driver(format!("cuModuleGetFunction({name})"), e))
    }

    /// The image kind that was loaded.
    pub fn target(&self) -> GpuTarget {
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_never_panics_and_types_its_failure() {
        // On a machine without libcuda (CI) this must be NoDriver; with a driver it is either a
        // device or NoDevice. In no case may it panic.
        match probe(0) {
            Ok(device) => assert!(!device.info().name.is_empty()),
            Err(CudaError::NoDriver) => assert!(!driver_present()),
            Err(CudaError::NoDevice(reason)) => {
                assert!(driver_present());
                assert!(!reason.is_empty());
            }
            Err(other) => panic!("unexpected probe error: {other}"),
        }
    }

    #[test]
    fn out_of_range_ordinal_is_an_error_not_a_panic() {
        let err = probe(4096).expect_err("no machine has 4097 GPUs");
        match err {
            CudaError::NoDriver => assert!(!driver_present()),
            CudaError::NoDevice(reason) => assert!(
                reason.contains("out of range") || reason.contains("initialisation"),
                "{reason}"
            ),
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn driver_version_without_driver_is_no_driver() {
        if !driver_present() {
            assert!(matches!(driver_version(), Err(CudaError::NoDriver)));
        } else {
            let (major, _) = driver_version().expect("driver present");
            assert!(major >= 11);
        }
    }

    #[test]
    fn cubin_and_ptx_compatibility_rules() {
        let sm80 = GpuTarget::Cubin { sm: 80 };
        let sm90 = GpuTarget::Cubin { sm: 90 };
        let ptx80 = GpuTarget::Ptx { compute: 80 };
        assert!(sm80.runs_on((8, 0)) && sm80.runs_on((8, 6)) && sm80.runs_on((8, 9)));
        assert!(!sm80.runs_on((9, 0)) && !sm80.runs_on((7, 5)));
        assert!(sm90.runs_on((9, 0)) && !sm90.runs_on((10, 0)) && !sm90.runs_on((8, 0)));
        assert!(ptx80.runs_on((8, 0)) && ptx80.runs_on((9, 0)) && ptx80.runs_on((12, 0)));
        assert!(!ptx80.runs_on((7, 5)));
    }

    #[test]
    fn target_names_round_trip() {
        for t in [
            GpuTarget::Cubin { sm: 80 },
            GpuTarget::Cubin { sm: 90 },
            GpuTarget::Ptx { compute: 80 },
        ] {
            assert_eq!(GpuTarget::parse(&t.to_string()), Some(t));
        }
        assert_eq!(GpuTarget::parse("sm_9x"), None);
        assert_eq!(GpuTarget::parse("gfx90a"), None);
    }
}
