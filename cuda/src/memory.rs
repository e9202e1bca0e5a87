//! Device memory: a budgeted pool of RAII buffers, and host <-> device transfers through
//! reused pinned staging buffers.
//!
//! The same API runs on two backends. [`MemoryPool::cuda`] allocates stream-ordered device
//! memory from the driver's memory pool (`cuMemAllocAsync`, whose freed blocks stay cached
//! for reuse instead of going back to the driver); [`MemoryPool::host`] keeps "device" buffers
//! in 64-byte-aligned host memory with the same layout, so every operator and test runs
//! without a GPU. Both enforce a byte budget and fail with [`CudaError::OutOfMemory`], never a
//! panic, so callers can spill, retry smaller or fall back.

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use arrow::buffer::{Buffer, MutableBuffer};
use cudarc::driver::sys::{CUmemPool_attribute, CUresult};
use cudarc::driver::{
    CudaEvent, CudaSlice, CudaStream, DevicePtrMut, DriverError, PinnedHostSlice,
};

use crate::device::Device;
use crate::error::{CudaError, Result};

/// Share of the device's free memory a CUDA pool may use by default. The rest is left for
/// the driver's own allocations, other processes, and fragmentation in the driver's pool.
pub const DEFAULT_DEVICE_BUDGET_FRACTION: f64 = 0.8;

/// Default budget of a host-backend pool. The host backend is a correctness path run on small
/// data (CI, `cinder.device = host`); the cap keeps a runaway test from exhausting the machine.
pub const DEFAULT_HOST_BUDGET: usize = 8 << 30;

/// Size of each pinned staging buffer. Two per direction alternate, so the CPU copy into one
/// overlaps the DMA out of the other; 8 MiB is far past the ~1 MiB where PCIe copies reach
/// full speed, and small enough that the first and last chunk's unoverlapped copy is cheap.
pub const STAGING_CHUNK_BYTES: usize = 8 << 20;

/// Transfers smaller than this skip the staging buffers: the driver's own pageable copy is as
/// fast for them, and staging would only add event waits.
pub const PINNED_THRESHOLD_BYTES: usize = 256 << 10;

/// Most sets of staging buffers a pool keeps (each set is 4 × [`STAGING_CHUNK_BYTES`] of
/// pinned memory). Concurrent transfers (one per DataFusion partition) each take a set, so
/// their CPU copies into pinned memory run in parallel while the DMAs queue on the copy
/// stream; with one set, every partition's transfer waited for the others' (measured on an
/// H100 machine: TPC-H Q1 at SF10 uploaded 5.2 GB at about 8 GB/s, one CPU copy at a time).
/// Beyond this many at once, a transfer waits for a set to come back.
pub const MAX_STAGING_SETS: usize = 8;

/// How big a pool may grow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// A fixed number of bytes.
    Bytes(usize),
    /// A fraction (0, 1] of the device's free memory when the pool is created.
    FractionOfFree(f64),
}

/// How host <-> device copies are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferMode {
    /// Through reused, double-buffered pinned staging buffers (the default: full PCIe speed).
    #[default]
    Pinned,
    /// Straight from pageable memory, as the driver does it (for comparison in benchmarks).
    Pageable,
}

/// Settings of a [`MemoryPool`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoolConfig {
    /// The budget; `None` means the backend's default ([`DEFAULT_DEVICE_BUDGET_FRACTION`] of
    /// free device memory, or [`DEFAULT_HOST_BUDGET`]).
    pub budget: Option<Budget>,
    /// How copies are made (ignored by the host backend).
    pub transfer: TransferMode,
}

/// A snapshot of a pool's accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// The budget in bytes.
    pub budget: usize,
    /// Bytes held by live buffers.
    pub in_use: usize,
    /// Highest `in_use` seen.
    pub peak: usize,
    /// Successful allocations so far.
    pub allocations: u64,
    /// Allocations refused for lack of memory.
    pub failed_allocations: u64,
}

/// A budgeted allocator of device (or host-backend) buffers. Cheap to clone; clones share
/// the budget and statistics.
#[derive(Debug, Clone)]
pub struct MemoryPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    backend: Backend,
    transfer: TransferMode,
    accounting: Mutex<MemoryStats>,
    /// Pinned staging buffer sets, allocated as concurrent large transfers need them.
    staging: Mutex<StagingSets>,
    /// Signalled when a staging set comes back.
    staging_returned: Condvar,
}

/// The staging sets not in use, and how many exist.
#[derive(Debug, Default)]
struct StagingSets {
    free: Vec<Staging>,
    allocated: usize,
}

#[derive(Debug)]
enum Backend {
    Host,
    Cuda(Arc<Device>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data are plain counters and buffers that stay consistent even if a holder
    // panicked, so a poisoned lock is used as is rather than propagating the panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryPool {
    /// A pool whose buffers live in host memory (the host backend).
    pub fn host(config: PoolConfig) -> Result<Self> {
        let budget = match config.budget {
            None => DEFAULT_HOST_BUDGET,
            Some(Budget::Bytes(bytes)) => bytes,
            Some(Budget::FractionOfFree(_)) => {
                return Err(CudaError::InvalidData(
                    "a host pool's budget must be a byte count".to_string(),
                ));
            }
        };
        Ok(Self::new(Backend::Host, budget, config.transfer))
    }

    /// A pool of device memory on `device`.
    pub fn cuda(device: Arc<Device>, config: PoolConfig) -> Result<Self> {
        let budget = match config
            .budget
            .unwrap_or(Budget::FractionOfFree(DEFAULT_DEVICE_BUDGET_FRACTION))
        {
            Budget::Bytes(bytes) => bytes,
            Budget::FractionOfFree(fraction) => {
                if !(fraction > 0.0 && fraction <= 1.0) {
                    return Err(CudaError::InvalidData(format!(
                        "a pool budget fraction must be in (0, 1], got {fraction}"
                    )));
                }
                let (free, _) = device
                    .context()
                    .mem_get_info()
                    .map_err(|e| CudaError::driver("cuMemGetInfo", e))?;
                (free as f64 * fraction) as usize
            }
        };
        keep_freed_memory_cached(&device);
        Ok(Self::new(Backend::Cuda(device), budget, config.transfer))
    }

    fn new(backend: Backend, budget: usize, transfer: TransferMode) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                backend,
                transfer,
                accounting: Mutex::new(MemoryStats {
                    budget,
                    ..MemoryStats::default()
                }),
                staging: Mutex::new(StagingSets::default()),
                staging_returned: Condvar::new(),
            }),
        }
    }

    /// Whether buffers live on a CUDA device (else in host memory).
    pub fn is_cuda(&self) -> bool {
        matches!(self.inner.backend, Backend::Cuda(_))
    }

    /// The device, for a CUDA pool.
    pub fn device(&self) -> Option<&Arc<Device>> {
        match &self.inner.backend {
            Backend::Cuda(device) => Some(device),
            Backend::Host => None,
        }
    }

    /// The pool's accounting now.
    pub fn stats(&self) -> MemoryStats {
        *lock(&self.inner.accounting)
    }

    /// Allocates `len` bytes for kernel output, ordered on the kernel stream. Device memory is
    /// uninitialised; host-backend memory is zeroed.
    pub fn allocate(&self, len: usize) -> Result<DeviceBuffer> {
        match &self.inner.backend {
            Backend::Host => self.allocate_host(len),
            Backend::Cuda(device) => self.allocate_cuda(device.stream(), StreamRole::Kernels, len),
        }
    }

    /// Copies `bytes` into a new device buffer. On a CUDA pool the copy runs on the copy
    /// stream and may still be in flight on return: kernels that use the buffer are ordered
    /// after it by cudarc's event tracking, and `bytes` may be reused at once.
    pub fn upload(&self, bytes: &[u8]) -> Result<DeviceBuffer> {
        match &self.inner.backend {
            Backend::Host => {
                let mut buffer = self.allocate_host(bytes.len())?;
                if let Storage::Host(host) = &mut buffer.storage {
                    host.as_slice_mut().copy_from_slice(bytes);
                }
                Ok(buffer)
            }
            Backend::Cuda(device) => {
                let stream = device.copy_stream();
                let mut buffer = self.allocate_cuda(stream, StreamRole::Copies, bytes.len())?;
                if let Storage::Cuda(slice) = &mut buffer.storage {
                    if self.inner.transfer == TransferMode::Pinned
                        && bytes.len() >= PINNED_THRESHOLD_BYTES
                    {
                        self.staging(device)?.upload(stream, bytes, slice)?;
                    } else {
                        stream
                            .memcpy_htod(bytes, slice)
                            .map_err(|e| CudaError::driver("cuMemcpyHtoDAsync", e))?;
                    }
                }
                Ok(buffer)
            }
        }
    }

    /// Copies a buffer back into host memory as an Arrow [`Buffer`], waiting for the copy
    /// (and, through event tracking, for the kernels that wrote the buffer).
    pub fn download(&self, buffer: &DeviceBuffer) -> Result<Buffer> {
        match (&self.inner.backend, &buffer.storage) {
            (_, Storage::Empty) => Ok(Buffer::from(MutableBuffer::new(0))),
            (Backend::Host, Storage::Host(host)) => Ok(Buffer::from_slice_ref(host.as_slice())),
            (Backend::Cuda(device), Storage::Cuda(slice)) => {
                let stream = device.copy_stream();
                let mut out = MutableBuffer::from_len_zeroed(buffer.len);
                if self.inner.transfer == TransferMode::Pinned
                    && buffer.len >= PINNED_THRESHOLD_BYTES
                {
                    self.staging(device)?
                        .download(stream, slice, out.as_slice_mut())?;
                } else {
                    stream
                        .memcpy_dtoh(slice, out.as_slice_mut())
                        .map_err(|e| CudaError::driver("cuMemcpyDtoHAsync", e))?;
                    stream
                        .synchronize()
                        .map_err(|e| CudaError::driver("cuStreamSynchronize", e))?;
                }
                Ok(out.into())
            }
            _ => Err(other_backend()),
        }
    }

    /// Copies `range` (in bytes) of a buffer back to the host, waiting for the copy: a total
    /// at the end of a scan, say, without the rest of the buffer.
    pub fn download_range(&self, buffer: &DeviceBuffer, range: Range<usize>) -> Result<Buffer> {
        check_range(buffer, &range)?;
        if range.is_empty() {
            return Ok(Buffer::from(MutableBuffer::new(0)));
        }
        match (&self.inner.backend, &buffer.storage) {
            (Backend::Host, Storage::Host(host)) => {
                Ok(Buffer::from_slice_ref(&host.as_slice()[range]))
            }
            (Backend::Cuda(device), Storage::Cuda(slice)) => {
                let stream = device.copy_stream();
                let mut out = MutableBuffer::from_len_zeroed(range.len());
                stream
                    .memcpy_dtoh(&slice.slice(range), out.as_slice_mut())
                    .map_err(|e| CudaError::driver("cuMemcpyDtoHAsync", e))?;
                stream
                    .synchronize()
                    .map_err(|e| CudaError::driver("cuStreamSynchronize", e))?;
                Ok(out.into())
            }
            _ => Err(other_backend()),
        }
    }

    /// Copies several small `ranges` (in bytes) of buffers back to the host, end to end in
    /// one [`Buffer`], waiting once: on a CUDA pool the ranges are first copied into one
    /// device buffer on the copy stream (no wait), then that buffer comes back. For totals
    /// at the ends of many columns, which [`Self::download_range`] would wait for one by one.
    pub fn download_ranges(&self, ranges: &[(&DeviceBuffer, Range<usize>)]) -> Result<Buffer> {
        for (buffer, range) in ranges {
            check_range(buffer, range)?;
        }
        let total: usize = ranges.iter().map(|(_, r)| r.len()).sum();
        if total == 0 {
            return Ok(Buffer::from(MutableBuffer::new(0)));
        }
        match &self.inner.backend {
            Backend::Host => {
                let mut out = MutableBuffer::with_capacity(total);
                for (buffer, range) in ranges {
                    match &buffer.storage {
                        Storage::Host(host) => {
                            out.extend_from_slice(&host.as_slice()[range.clone()])
                        }
                        Storage::Empty => {}
                        Storage::Cuda(_) => return Err(other_backend()),
                    }
                }
                Ok(out.into())
            }
            Backend::Cuda(device) => {
                let stream = device.copy_stream();
                let mut gathered = self.allocate_cuda(stream, StreamRole::Copies, total)?;
                let Storage::Cuda(target) = &mut gathered.storage else {
                    unreachable!("a CUDA pool allocates {total} > 0 bytes on the device")
                };
                let mut at = 0;
                for (buffer, range) in ranges {
                    match &buffer.storage {
                        Storage::Cuda(source) if !range.is_empty() => {
                            stream
                                .memcpy_dtod(
                                    &source.slice(range.clone()),
                                    &mut target.slice_mut(at..at + range.len()),
                                )
                                .map_err(|e| CudaError::driver("cuMemcpyDtoDAsync", e))?;
                            at += range.len();
                        }
                        Storage::Cuda(_) | Storage::Empty => {}
                        Storage::Host(_) => return Err(other_backend()),
                    }
                }
                let mut out = MutableBuffer::from_len_zeroed(total);
                stream
                    .memcpy_dtoh(&*target, out.as_slice_mut())
                    .map_err(|e| CudaError::driver("cuMemcpyDtoHAsync", e))?;
                stream
                    .synchronize()
                    .map_err(|e| CudaError::driver("cuStreamSynchronize", e))?;
                Ok(out.into())
            }
        }
    }

    /// Takes `len` bytes of budget, or says how much is left. The allocation is counted
    /// (and the peak raised) only by [`Self::commit`], once the memory really exists.
    fn reserve(&self, len: usize) -> Result<()> {
        let mut stats = lock(&self.inner.accounting);
        let available = stats.budget.saturating_sub(stats.in_use);
        if len > available {
            stats.failed_allocations += 1;
            return Err(CudaError::OutOfMemory {
                requested: len,
                available,
            });
        }
        stats.in_use += len;
        Ok(())
    }

    fn commit(&self) {
        let mut stats = lock(&self.inner.accounting);
        stats.peak = stats.peak.max(stats.in_use);
        stats.allocations += 1;
    }

    fn release(inner: &PoolInner, len: usize) {
        let mut stats = lock(&inner.accounting);
        stats.in_use = stats.in_use.saturating_sub(len);
    }

    fn allocate_host(&self, len: usize) -> Result<DeviceBuffer> {
        self.reserve(len)?;
        self.commit();
        Ok(self.buffer(
            Storage::Host(MutableBuffer::from_len_zeroed(len)),
            len,
            StreamRole::Kernels,
        ))
    }

    fn allocate_cuda(
        &self,
        stream: &Arc<CudaStream>,
        role: StreamRole,
        len: usize,
    ) -> Result<DeviceBuffer> {
        self.reserve(len)?;
        if len == 0 {
            self.commit();
            return Ok(self.buffer(Storage::Empty, 0, role));
        }
        // SAFETY: the memory is uninitialised; every user of a freshly allocated buffer
        // (uploads, kernels producing output) writes it before anything reads it.
        match unsafe { stream.alloc::<u8>(len) } {
            Ok(mut slice) => {
                // cudarc creates the buffer's events unrecorded: record the write event on the
                // allocating stream now, so a first use on the other stream waits for the
                // stream-ordered allocation (whose block may have been freed there just before).
                drop(slice.device_ptr_mut(stream));
                self.commit();
                Ok(self.buffer(Storage::Cuda(slice), len, role))
            }
            Err(e) => {
                Self::release(&self.inner, len);
                lock(&self.inner.accounting).failed_allocations += 1;
                Err(self.driver_allocation_error(len, e))
            }
        }
    }

    fn driver_allocation_error(&self, len: usize, e: DriverError) -> CudaError {
        match (&self.inner.backend, e.0) {
            (Backend::Cuda(device), CUresult::CUDA_ERROR_OUT_OF_MEMORY) => CudaError::OutOfMemory {
                requested: len,
                available: device.context().mem_get_info().map_or(0, |(free, _)| free),
            },
            _ => CudaError::driver(format!("cuMemAllocAsync({len} bytes)"), e),
        }
    }

    fn buffer(&self, storage: Storage, len: usize, role: StreamRole) -> DeviceBuffer {
        DeviceBuffer {
            storage,
            len,
            role,
            pool: Arc::clone(&self.inner),
        }
    }

    /// A free staging set, a new one while fewer than [`MAX_STAGING_SETS`] exist, or the
    /// next one returned.
    fn staging(&self, device: &Device) -> Result<StagingGuard<'_>> {
        let inner = &*self.inner;
        let mut sets = lock(&inner.staging);
        loop {
            if let Some(staging) = sets.free.pop() {
                return Ok(StagingGuard {
                    inner,
                    staging: Some(staging),
                });
            }
            if sets.allocated < MAX_STAGING_SETS {
                sets.allocated += 1;
                drop(sets);
                return match Staging::new(device) {
                    Ok(staging) => Ok(StagingGuard {
                        inner,
                        staging: Some(staging),
                    }),
                    Err(e) => {
                        lock(&inner.staging).allocated -= 1;
                        inner.staging_returned.notify_one();
                        Err(e)
                    }
                };
            }
            sets = inner
                .staging_returned
                .wait(sets)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Asks the driver to keep memory freed into the device's default pool cached (release
/// threshold = unlimited), so that the stream-ordered allocations of one batch reuse the
/// blocks freed by the previous one instead of going back to the OS each time.
fn keep_freed_memory_cached(device: &Device) {
    let ctx = device.context();
    let mut pool = std::mem::MaybeUninit::uninit();
    let mut threshold: u64 = u64::MAX;
    // SAFETY: the context is bound to this thread by `mem_get_info`/`bind_to_thread`; both
    // out-pointers are valid for the calls. Failure (e.g. a device without memory pools) only
    // means freed memory is returned to the driver, so it is deliberately not an error.
    unsafe {
        if ctx.bind_to_thread().is_ok()
            && cudarc::driver::sys::cuDeviceGetDefaultMemPool(pool.as_mut_ptr(), ctx.cu_device())
                == CUresult::CUDA_SUCCESS
        {
            let _ = cudarc::driver::sys::cuMemPoolSetAttribute(
                pool.assume_init(),
                CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&mut threshold as *mut u64).cast(),
            );
        }
    }
}

/// Whether `range` (in bytes) lies within `buffer`.
fn check_range(buffer: &DeviceBuffer, range: &Range<usize>) -> Result<()> {
    if range.start > range.end || range.end > buffer.len {
        return Err(CudaError::InvalidData(format!(
            "bytes {range:?} of a buffer of {}",
            buffer.len
        )));
    }
    Ok(())
}

fn other_backend() -> CudaError {
    CudaError::InvalidData("a buffer was handed to a pool of the other backend".to_string())
}

/// A buffer from a [`MemoryPool`]; its bytes return to the pool's budget when it drops.
#[derive(Debug)]
pub struct DeviceBuffer {
    storage: Storage,
    len: usize,
    /// The stream the memory was allocated on, and is freed on.
    role: StreamRole,
    pool: Arc<PoolInner>,
}

/// Which of a device's two streams a buffer was allocated (and will be freed) on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamRole {
    /// The kernel stream (kernel outputs).
    Kernels,
    /// The copy stream (uploads).
    Copies,
}

#[derive(Debug)]
enum Storage {
    /// Zero bytes on a CUDA pool (the driver cannot allocate nothing).
    Empty,
    Host(MutableBuffer),
    Cuda(CudaSlice<u8>),
}

impl DeviceBuffer {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device memory, on a CUDA pool (`None` for the host backend and for empty buffers).
    pub fn cuda_slice(&self) -> Option<&CudaSlice<u8>> {
        match &self.storage {
            Storage::Cuda(slice) => Some(slice),
            _ => None,
        }
    }

    /// The device memory for writing, on a CUDA pool.
    pub fn cuda_slice_mut(&mut self) -> Option<&mut CudaSlice<u8>> {
        match &mut self.storage {
            Storage::Cuda(slice) => Some(slice),
            _ => None,
        }
    }

    /// The bytes, on the host backend (`None` on a CUDA pool).
    pub fn host_bytes(&self) -> Option<&[u8]> {
        match &self.storage {
            Storage::Host(host) => Some(host.as_slice()),
            Storage::Empty => Some(&[]),
            Storage::Cuda(_) => None,
        }
    }

    /// The bytes for writing, on the host backend.
    pub fn host_bytes_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.storage {
            Storage::Host(host) => Some(host.as_slice_mut()),
            Storage::Empty => Some(&mut []),
            Storage::Cuda(_) => None,
        }
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if let (Storage::Cuda(_), Backend::Cuda(device)) = (&self.storage, &self.pool.backend) {
            // cudarc keeps one read event per buffer, which the last reader overwrites: a
            // download on the copy stream after a kernel read on the kernel stream would let
            // the stream-ordered free pass the kernel. Make the freeing stream wait for
            // everything queued on the other one first. Errors here mean the context is
            // already broken; the free itself then reports nothing more useful.
            let (own, other) = match self.role {
                StreamRole::Kernels => (device.stream(), device.copy_stream()),
                StreamRole::Copies => (device.copy_stream(), device.stream()),
            };
            let _ = own.join(other);
        }
        MemoryPool::release(&self.pool, self.len);
    }
}

/// Two pinned buffers per direction, used alternately so that the CPU's copy into (or out
/// of) one overlaps the DMA of the other.
struct Staging {
    /// Write-combined pinned memory: the CPU only writes it, the DMA engine reads it.
    h2d: [PinnedHostSlice<u8>; 2],
    /// Plain (cached) pinned memory: the CPU reads it after the DMA engine wrote it.
    d2h: [PinnedHostSlice<u8>; 2],
    /// When the last DMA out of each `h2d` buffer finishes.
    h2d_done: [Option<CudaEvent>; 2],
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("chunk_bytes", &STAGING_CHUNK_BYTES)
            .finish()
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // The buffers are handed to the driver as plain slices, so cudarc does not know a DMA
        // may still read them: wait for the last copies before `cuMemFreeHost` runs.
        for done in self.h2d_done.iter().flatten() {
            let _ = done.synchronize();
        }
    }
}

/// A staging set taken from the pool; it goes back when the guard drops.
struct StagingGuard<'a> {
    inner: &'a PoolInner,
    staging: Option<Staging>,
}

impl Drop for StagingGuard<'_> {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take() {
            lock(&self.inner.staging).free.push(staging);
            self.inner.staging_returned.notify_one();
        }
    }
}

impl Staging {
    fn new(device: &Device) -> Result<Self> {
        let ctx = device.context();
        let pinned = |flags: u32| {
            // SAFETY: pinned memory starts uninitialised; the staging code only reads bytes of
            // it that it (or a DMA it waited for) wrote first.
            unsafe { ctx.alloc_pinned_with_flags::<u8>(STAGING_CHUNK_BYTES, flags) }
                .map_err(|e| CudaError::driver("cuMemHostAlloc (staging)", e))
        };
        let wc = cudarc::driver::sys::CU_MEMHOSTALLOC_WRITECOMBINED;
        Ok(Self {
            h2d: [pinned(wc)?, pinned(wc)?],
            d2h: [pinned(0)?, pinned(0)?],
            h2d_done: [None, None],
        })
    }
}

impl StagingGuard<'_> {
    fn staging(&mut self) -> &mut Staging {
        self.staging
            .as_mut()
            .expect("a guard holds its staging set until it drops")
    }

    /// Copies `bytes` into `dst` chunk by chunk through the two h2d buffers.
    fn upload(
        &mut self,
        stream: &Arc<CudaStream>,
        bytes: &[u8],
        dst: &mut CudaSlice<u8>,
    ) -> Result<()> {
        let staging = self.staging();
        for (i, chunk) in bytes.chunks(STAGING_CHUNK_BYTES).enumerate() {
            let slot = i % 2;
            if let Some(done) = &staging.h2d_done[slot] {
                // The DMA that last read this buffer must finish before it is overwritten.
                done.synchronize()
                    .map_err(|e| CudaError::driver("cuEventSynchronize (staging)", e))?;
            }
            let pinned = staging.h2d[slot]
                .as_mut_slice()
                .map_err(|e| CudaError::driver("pinned staging", e))?;
            pinned[..chunk.len()].copy_from_slice(chunk);
            let start = i * STAGING_CHUNK_BYTES;
            let mut target = dst.slice_mut(start..start + chunk.len());
            // A plain slice of pinned memory: the driver copies it asynchronously, and the
            // event recorded next tells when the buffer may be reused.
            stream
                .memcpy_htod(&pinned[..chunk.len()], &mut target)
                .map_err(|e| CudaError::driver("cuMemcpyHtoDAsync (staged)", e))?;
            staging.h2d_done[slot] = Some(
                stream
                    .record_event(None)
                    .map_err(|e| CudaError::driver("cuEventRecord (staging)", e))?,
            );
        }
        Ok(())
    }

    /// Copies `src` into `out` chunk by chunk through the two d2h buffers: the DMA of chunk
    /// i + 1 runs while the CPU copies chunk i out of the other buffer.
    fn download(
        &mut self,
        stream: &Arc<CudaStream>,
        src: &CudaSlice<u8>,
        out: &mut [u8],
    ) -> Result<()> {
        let staging = self.staging();
        let total = out.len();
        let chunks = total.div_ceil(STAGING_CHUNK_BYTES);
        let range = |i: usize| i * STAGING_CHUNK_BYTES..((i + 1) * STAGING_CHUNK_BYTES).min(total);
        let mut pending: [Option<CudaEvent>; 2] = [None, None];
        let issue =
            |i: usize, staging: &mut Staging, pending: &mut [Option<CudaEvent>; 2]| -> Result<()> {
                let r = range(i);
                let pinned = staging.d2h[i % 2]
                    .as_mut_slice()
                    .map_err(|e| CudaError::driver("pinned staging", e))?;
                stream
                    .memcpy_dtoh(&src.slice(r.clone()), &mut pinned[..r.len()])
                    .map_err(|e| CudaError::driver("cuMemcpyDtoHAsync (staged)", e))?;
                pending[i % 2] = Some(
                    stream
                        .record_event(None)
                        .map_err(|e| CudaError::driver("cuEventRecord (staging)", e))?,
                );
                Ok(())
            };
        if chunks > 0 {
            issue(0, staging, &mut pending)?;
        }
        for i in 0..chunks {
            if i + 1 < chunks {
                issue(i + 1, staging, &mut pending)?;
            }
            if let Some(done) = pending[i % 2].take() {
                done.synchronize()
                    .map_err(|e| CudaError::driver("cuEventSynchronize (staging)", e))?;
            }
            let r = range(i);
            let pinned = staging.d2h[i % 2]
                .as_slice()
                .map_err(|e| CudaError::driver("pinned staging", e))?;
            out[r.clone()].copy_from_slice(&pinned[..r.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_pool(budget: usize) -> MemoryPool {
        MemoryPool::host(PoolConfig {
            budget: Some(Budget::Bytes(budget)),
            ..PoolConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn accounting_tracks_live_buffers_and_peak() {
        let pool = host_pool(1000);
        let a = pool.upload(&[1, 2, 3]).unwrap();
        let b = pool.allocate(100).unwrap();
        assert_eq!(pool.stats().in_use, 103);
        drop(a);
        assert_eq!(pool.stats().in_use, 100);
        let c = pool.allocate(500).unwrap();
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.peak, stats.allocations), (600, 600, 3));
        drop(c);
        let d = pool.allocate(2).unwrap();
        assert_eq!(pool.stats().peak, 600, "peak is a high-water mark");
        let c = d;
        drop((b, c));
        assert_eq!(pool.stats().in_use, 0);
    }

    #[test]
    fn over_budget_is_a_typed_error_and_the_pool_stays_usable() {
        let pool = host_pool(64);
        let held = pool.allocate(40).unwrap();
        match pool.allocate(30) {
            Err(CudaError::OutOfMemory {
                requested,
                available,
            }) => {
                assert_eq!((requested, available), (30, 24));
            }
            other => panic!("expected OutOfMemory, got {other:?}"),
        }
        assert_eq!(pool.stats().failed_allocations, 1);
        assert_eq!(
            pool.stats().in_use,
            40,
            "a refused allocation takes nothing"
        );
        let fits = pool.upload(&[7; 24]).unwrap();
        assert_eq!(pool.download(&fits).unwrap().as_slice(), &[7; 24]);
        drop((held, fits));
        assert!(pool.allocate(64).is_ok(), "freed memory is reusable");
    }

    #[test]
    fn upload_download_round_trip_and_zero_length() {
        let pool = host_pool(1 << 20);
        let bytes: Vec<u8> = (0..=255).cycle().take(10_001).collect();
        let buffer = pool.upload(&bytes).unwrap();
        assert_eq!(buffer.len(), 10_001);
        assert_eq!(pool.download(&buffer).unwrap().as_slice(), &bytes[..]);
        let empty = pool.upload(&[]).unwrap();
        assert!(empty.is_empty());
        assert!(pool.download(&empty).unwrap().is_empty());
        // Part of a buffer: a range inside it, an empty range, and ranges outside it refused.
        let part = pool.download_range(&buffer, 9_993..10_001).unwrap();
        assert_eq!(part.as_slice(), &bytes[9_993..]);
        assert!(pool.download_range(&buffer, 5..5).unwrap().is_empty());
        assert!(pool.download_range(&empty, 0..0).unwrap().is_empty());
        let err = pool.download_range(&buffer, 9_995..10_002).unwrap_err();
        assert!(err.to_string().contains("a buffer of 10001"), "{err}");
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 7..3;
        assert!(pool.download_range(&buffer, backwards).is_err());
        // Several ranges at once, end to end, empty ones (and empty buffers) adding nothing.
        let other = pool.upload(&[9, 8, 7, 6]).unwrap();
        let ranges = [
            (&buffer, 9_997..10_001),
            (&empty, 0..0),
            (&other, 1..3),
            (&buffer, 4..4),
            (&buffer, 0..2),
        ];
        let mut expected = bytes[9_997..].to_vec();
        expected.extend([8, 7]);
        expected.extend(&bytes[..2]);
        assert_eq!(pool.download_ranges(&ranges).unwrap().as_slice(), &expected);
        assert!(pool.download_ranges(&[]).unwrap().is_empty());
        let err = pool
            .download_ranges(&[(&other, 0..4), (&other, 2..5)])
            .unwrap_err();
        assert!(err.to_string().contains("a buffer of 4"), "{err}");
    }

    #[test]
    fn host_budget_must_be_bytes() {
        let err = MemoryPool::host(PoolConfig {
            budget: Some(Budget::FractionOfFree(0.5)),
            ..PoolConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("byte count"), "{err}");
        assert_eq!(
            MemoryPool::host(PoolConfig::default())
                .unwrap()
                .stats()
                .budget,
            DEFAULT_HOST_BUDGET
        );
    }
}
