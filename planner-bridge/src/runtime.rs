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

/// Per ordinal: the runtime, or why it could not be made (not retried for every query).
type Runtimes = HashMap<usize, std::result::Result<Arc<DeviceRuntime>, String>>;

fn runtimes() -> &'static Mutex<Runtimes> {
    static RUNTIMES: OnceLock<Mutex<Runtimes>> = OnceLock::new();
    RUNTIMES.get_or_init(Default::default)
}

impl DeviceRuntime {
    /// The runtime of device `ordinal`, created (probe, kernel load, pool) on first use. A
    /// device that cannot run Cinder says why, and is not tried again.
    pub fn get(ordinal: usize) -> Result<Arc<Self>> {
        let mut map = runtimes()
            .lock()
            .map_err(|_| DataFusionError::Internal("the device runtime lock is poisoned".into()))?;
        let runtime = map
            .entry(ordinal)
            .or_insert_with(|| Self::create(ordinal).map(Arc::new));
        match runtime {
            Ok(runtime) => Ok(Arc::clone(runtime)),
            Err(why) => Err(DataFusionError::Execution(format!(
                "CUDA device {ordinal} cannot run Cinder: {why}"
            ))),
        }
    }

    fn create(ordinal: usize) -> std::result::Result<Self, String> {
        let device = Arc::new(cinder_cuda::probe(ordinal).map_err(|e| e.to_string())?);
        let kernels = DeviceKernels::load(&device).map_err(|e| e.to_string())?;
        let pool = MemoryPool::cuda(Arc::clone(&device), PoolConfig::default())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            device,
            kernels,
            pool,
        })
    }
}
