//! `cinder-planner`: Cinder for DataFusion.
//!
//! Today it holds Cinder's settings as a DataFusion configuration extension ([`CinderConfig`],
//! so `SET cinder.device = 'host'` works from SQL) and the decision of which mode a session
//! runs in ([`resolve_mode`]). The physical optimizer rule that moves supported operators into
//! GPU regions, and the device operators themselves, come next (see the README's status table).
//!
//! What this crate is not for: kernels (`cinder-kernels`) or the CUDA driver (`cinder-cuda`).

pub mod config;

pub use config::{CinderConfig, DeviceChoice, ExecutionMode, resolve_mode};
