//! `cinder-planner`: Cinder for DataFusion.
//!
//! [`with_cinder`] adds Cinder to a `SessionStateBuilder`: its settings as a DataFusion
//! configuration extension ([`CinderConfig`], so `SET cinder.device = 'host'` works from SQL)
//! and a physical optimizer rule ([`CinderRule`]) that moves `FilterExec`, `ProjectionExec`,
//! `AggregateExec` and (in host mode, until the device join) `HashJoinExec` nodes whose
//! expressions and types Cinder supports onto its operators ([`CinderFilterExec`],
//! [`CinderProjectionExec`], [`CinderFilterProjectExec`], [`CinderAggregateExec`],
//! [`CinderHashJoinExec`]). Every other operator Cinder targets (and any it cannot take) is
//! marked in the plan with the reason it stays on
//! the CPU ([`CinderCpuExec`], shown by EXPLAIN as `cinder: stays on CPU: <reason>`);
//! [`placements`] returns the same for tests and tools.
//!
//! The session's mode ([`resolve_mode`]): `cinder.device = host` runs the operators on the
//! kernels' host reference (what CI runs), `cuda` on a CUDA device, and `auto` on a device if
//! there is one, else leaves plans to DataFusion and says so once in the log.
//!
//! Status: filters, projections and aggregates move, with input batches coalesced to
//! `cinder.batch_rows` rows (in cuda mode each coalesced batch is copied to the device and
//! back), device metrics in EXPLAIN ANALYZE, and out-of-memory handled by splitting then
//! falling back to the CPU. GPU regions that keep batches on the device across operators, and
//! device joins, come next (see the README's status table).
//!
//! What this crate is not for: kernels (`cinder-kernels`) or the CUDA driver (`cinder-cuda`).

pub mod aggregate;
pub mod config;
pub mod exec;
pub mod join;
pub mod resident;
mod rule;
pub mod runtime;

pub use aggregate::CinderAggregateExec;
pub use config::{CinderConfig, DeviceChoice, ExecutionMode, InjectedFailure, resolve_mode};
pub use exec::{
    CinderCpuExec, CinderFilterExec, CinderFilterProjectExec, CinderProjectionExec,
    OperatorSettings,
};
pub use join::CinderHashJoinExec;
pub use resident::{CinderResidentScanExec, ResidentTable};
pub use rule::{CinderRule, Placement, placements, with_cinder};
