//! What the kernel benchmarks share: the device, its kernels and a pool, or a clear skip.

use std::sync::Arc;

use cinder_cuda::{Device, MemoryPool, PoolConfig};
use cinder_kernels::DeviceKernels;

/// The `cinder` binary's allocator (see src/main.rs), so the benches' host buffers behave alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A CUDA device with Cinder's kernels loaded and a memory pool on it.
pub struct Bench {
    pub device: Arc<Device>,
    pub kernels: DeviceKernels,
    pub pool: MemoryPool,
}

/// The first CUDA device, after printing it and its copy bandwidth (the baseline the
/// benchmark's throughput is read against); `None`, after saying `name` was skipped, when
/// there is none.
pub fn device_or_skip(name: &str) -> Option<Bench> {
    let device = match cinder_cuda::probe(0) {
        Ok(device) => Arc::new(device),
        Err(e) => {
            println!("{name} benchmark skipped: no CUDA device ({e})");
            return None;
        }
    };
    println!("device: {}", device.info());
    match device.copy_bandwidth_gbps(1 << 30, 10) {
        Ok(gbps) => println!("baseline: device copy bandwidth {gbps:.0} GB/s (read + write)"),
        Err(e) => println!("baseline not measured: {e}"),
    }
    let kernels = DeviceKernels::load(&device).expect("kernels load");
    let pool = MemoryPool::cuda(Arc::clone(&device), PoolConfig::default()).expect("a pool");
    Some(Bench {
        device,
        kernels,
        pool,
    })
}

/// The environment variable `var` parsed, or `default` when it is unset or does not parse.
pub fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
