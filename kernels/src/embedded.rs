//! The kernel images embedded at build time, and loading them onto a device.
//!
//! `build.rs` turns `kernels/generated/manifest.json` into [`MODULES`]: one entry per CUDA
//! source with its kernel names and one image per target (CUBIN for sm_80 and sm_90, PTX for
//! compute_80). [`DeviceKernels::load`] picks, per module, machine code for the device when
//! there is some and the PTX otherwise.

use std::collections::BTreeMap;

use cinder_cuda::driver::CudaFunction;
use cinder_cuda::{CudaError, Device, GpuTarget, KernelModule};

use crate::Result;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// One CUDA source file compiled into images.
#[derive(Debug)]
pub struct EmbeddedModule {
    /// Module name, e.g. `hash/hash_columns`.
    pub name: &'static str,
    /// Source path relative to `kernels/`.
    pub source: &'static str,
    /// Its `extern "C"` kernels.
    pub kernels: &'static [&'static str],
    /// One image per target.
    pub images: &'static [EmbeddedImage],
}

/// One compiled image of a module.
#[derive(Debug)]
pub struct EmbeddedImage {
    /// What it was compiled for.
    pub target: GpuTarget,
    /// CUBIN (ELF) bytes or PTX text.
    pub bytes: &'static [u8],
}

impl EmbeddedModule {
    /// The image to load on a device of compute capability `cc`: machine code built for it if
    /// present (no JIT, exact code that was tested), else PTX it can JIT-compile.
    pub fn image_for(&self, cc: (i32, i32)) -> Option<&'static EmbeddedImage> {
        let runnable = |cubin: bool| {
            self.images.iter().filter(move |image| {
                matches!(image.target, GpuTarget::Cubin { .. }) == cubin && image.target.runs_on(cc)
            })
        };
        // Of several runnable CUBINs, the newest architecture is the best fit.
        runnable(true)
            .max_by_key(|image| image.target)
            .or_else(|| runnable(false).max_by_key(|image| image.target))
    }
}

/// Looks up an embedded module by name.
pub fn module(name: &str) -> Option<&'static EmbeddedModule> {
    MODULES.iter().find(|m| m.name == name)
}

/// Every embedded module, loaded on one device.
#[derive(Debug)]
pub struct DeviceKernels {
    /// Loaded modules by name.
    modules: BTreeMap<&'static str, KernelModule>,
}

impl DeviceKernels {
    /// Loads every embedded module on `device`.
    pub fn load(device: &Device) -> Result<Self> {
        let cc = device.info().compute_capability;
        let mut modules = BTreeMap::new();
        for module in MODULES {
            let image = module.image_for(cc).ok_or_else(|| {
                CudaError::NoImage(format!(
                    "{}: no embedded image runs on compute capability {}.{} (Cinder needs sm_80 or newer)",
                    module.name, cc.0, cc.1
                ))
            })?;
            modules.insert(module.name, device.load_module(image.target, image.bytes)?);
        }
        Ok(Self { modules })
    }

    /// No modules at all: for tests of launchers' argument checks, which run before any
    /// kernel is looked up.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self {
            modules: BTreeMap::new(),
        }
    }

    /// A kernel from a loaded module.
    pub fn function(&self, module: &str, kernel: &str) -> Result<CudaFunction> {
        let loaded = self
            .modules
            .get(module)
            .ok_or_else(|| CudaError::NoImage(format!("kernel module {module} is not embedded")))?;
        Ok(loaded.function(kernel)?)
    }

    /// Which image each module was loaded from.
    pub fn loaded_targets(&self) -> impl Iterator<Item = (&'static str, GpuTarget)> + '_ {
        self.modules.iter().map(|(name, m)| (*name, m.target()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_has_cubins_for_sm80_and_sm90_and_ptx() {
        assert!(!MODULES.is_empty());
        for module in MODULES {
            let targets: Vec<GpuTarget> = module.images.iter().map(|i| i.target).collect();
            for wanted in [
                GpuTarget::Cubin { sm: 80 },
                GpuTarget::Cubin { sm: 90 },
                GpuTarget::Ptx { compute: 80 },
            ] {
                assert!(targets.contains(&wanted), "{} lacks {wanted}", module.name);
            }
            for image in module.images {
                match image.target {
                    GpuTarget::Cubin { .. } => {
                        assert_eq!(
                            &image.bytes[..4],
                            b"\x7fELF",
                            "{}: not a CUBIN",
                            module.name
                        )
                    }
                    GpuTarget::Ptx { .. } => {
                        let ptx = std::str::from_utf8(image.bytes).expect("PTX is text");
                        assert!(ptx.contains(&format!(".version {PTX_ISA}")));
                        for kernel in module.kernels {
                            assert!(ptx.contains(&format!(".entry {kernel}(")), "{kernel}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn image_choice_prefers_machine_code_then_ptx() {
        let m = module("hash/hash_columns").expect("the hash module is embedded");
        assert_eq!(
            m.image_for((8, 0)).unwrap().target,
            GpuTarget::Cubin { sm: 80 }
        );
        assert_eq!(
            m.image_for((8, 6)).unwrap().target,
            GpuTarget::Cubin { sm: 80 }
        );
        assert_eq!(
            m.image_for((9, 0)).unwrap().target,
            GpuTarget::Cubin { sm: 90 }
        );
        assert_eq!(
            m.image_for((10, 0)).unwrap().target,
            GpuTarget::Ptx { compute: 80 }
        );
        assert_eq!(
            m.image_for((12, 0)).unwrap().target,
            GpuTarget::Ptx { compute: 80 }
        );
        assert!(m.image_for((7, 5)).is_none(), "Turing is older than sm_80");
    }

    #[test]
    fn build_metadata_is_present() {
        assert!(NVRTC_VERSION.starts_with("12."));
        assert!(PTX_MIN_DRIVER.contains("CUDA"));
    }
}
