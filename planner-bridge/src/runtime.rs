//! One device runtime per CUDA device and process: the device, its loaded kernels and its
//! memory pool, shared by every Cinder operator that runs there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::common::{DataFusionError, Result};

use cinder_cuda::{Device, MemoryPool, PoolConfig};
use cinder_kernels::DeviceKernels;

/// A device with its kernels and memory pool.
pub struct DeviceRuntime {
    /// The device.
    pub device: Arc<Device>,
    /// Every embedded kernel module, loaded on it.
    pub kernels: DeviceKernels,
    /// Its memory pool.
    pub pool: MemoryPool,
}

impl std::fmt::Debug for DeviceRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceRuntime({})", self.device.info())
    }
}

fn runtimes() -> &'static Mutex<HashMap<usize, Arc<DeviceRuntime>>> {
    static RUNTIMES: OnceLock<Mutex<HashMap<usize, Arc<DeviceRuntime>>>> = OnceLock::new();
    RUNTIMES.get_or_init(Default::default)
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl DeviceRuntime {
    /// The runtime of device `ordinal`, created (probe, kernel load, pool) on first use.
    pub fn get(ordinal: usize) -> Result<Arc<Self>> {
        let mut map = runtimes()
            .lock()
            .map_err(|_| DataFusionError::Internal("the device runtime lock is poisoned".into()))?;
        if let Some(runtime) = map.get(&ordinal) {
            return Ok(Arc::clone(runtime));
        }
        let device = Arc::new(cinder_cuda::probe(ordinal).map_err(external)?);
        let kernels = DeviceKernels::load(&device).map_err(external)?;
        let pool =
            MemoryPool::cuda(Arc::clone(&device), PoolConfig::default()).map_err(external)?;
        let runtime = Arc::new(Self {
            device,
            kernels,
            pool,
        });
        map.insert(ordinal, Arc::clone(&runtime));
        Ok(runtime)
    }
}
