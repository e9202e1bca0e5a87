//! Cinder's settings, defined once as a DataFusion configuration extension under the `cinder.`
//! prefix, and the rule that turns them plus the probed device into an [`ExecutionMode`].

use std::fmt;
use std::str::FromStr;

use cinder_cuda::{CudaError, DeviceInfo};
use datafusion::common::config::{ConfigExtension, ConfigField, Visit};
use datafusion::common::{DataFusionError, Result, extensions_options, plan_err};

/// Below this many input rows an operator stays on the CPU: copying a small batch over PCIe
/// and launching kernels costs more than DataFusion's vectorised CPU code saves.
pub const DEFAULT_MIN_ROWS: usize = 100_000;

/// Rows per device batch: small host batches are coalesced up to this before kernels run,
/// since per-launch overhead is microseconds and GPUs need millions of threads in flight.
pub const DEFAULT_BATCH_ROWS: usize = 1 << 20;

/// Display, parsing (case-insensitive, naming the allowed values on error) and DataFusion's
/// `ConfigField` for a setting enum with `ALL` and `as_str`.
macro_rules! setting_enum {
    ($ty:ident, $setting:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = DataFusionError;

            fn from_str(s: &str) -> Result<Self> {
                let wanted = s.trim();
                Self::ALL
                    .into_iter()
                    .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| {
                        let allowed: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                        DataFusionError::Configuration(format!(
                            "{} must be one of {}; got '{s}'",
                            $setting,
                            allowed.join(", ")
                        ))
                    })
            }
        }

        impl ConfigField for $ty {
            fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
                v.some(key, self, description)
            }

            fn set(&mut self, _key: &str, value: &str) -> Result<()> {
                *self = value.parse()?;
                Ok(())
            }

            fn reset(&mut self, _key: &str) -> Result<()> {
                *self = $ty::default();
                Ok(())
            }
        }
    };
}

/// Where Cinder's operators run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A CUDA device when one is usable, else leave the plan to DataFusion (and say so once).
    #[default]
    Auto,
    /// A CUDA device; a query fails with a clear error when none is usable.
    Cuda,
    /// The kernels' host reference implementations on the CPU: the correctness path CI runs,
    /// not a speed claim.
    Host,
}

impl DeviceChoice {
    /// Every choice, in the order the docs list them.
    pub const ALL: [DeviceChoice; 3] = [DeviceChoice::Auto, DeviceChoice::Cuda, DeviceChoice::Host];

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cuda => "cuda",
            DeviceChoice::Host => "host",
        }
    }
}

setting_enum!(DeviceChoice, "cinder.device");

/// Testing only: a failure every Cinder operator injects into each batch's device work, to
/// check that device errors and out-of-memory are handled (`cinder.test_inject_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InjectedFailure {
    /// No injection (the default).
    #[default]
    None,
    /// A device error: the query fails with it, the session goes on.
    Error,
    /// Device out-of-memory: the operator halves the batch, then falls back to the CPU.
    Oom,
}

impl InjectedFailure {
    /// Every value.
    pub const ALL: [InjectedFailure; 3] = [
        InjectedFailure::None,
        InjectedFailure::Error,
        InjectedFailure::Oom,
    ];

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InjectedFailure::None => "none",
            InjectedFailure::Error => "error",
            InjectedFailure::Oom => "oom",
        }
    }
}

setting_enum!(InjectedFailure, "cinder.test_inject_failure");

extensions_options! {
    /// Cinder's settings, under `cinder.` in DataFusion's configuration.
    pub struct CinderConfig {
        /// Whether Cinder moves supported operators off DataFusion's CPU operators at all.
        pub enabled: bool, default = true
        /// Where Cinder's operators run: auto (a CUDA device if usable, else plain
        /// DataFusion), cuda (a CUDA device or an error), host (the host reference path).
        pub device: DeviceChoice, default = DeviceChoice::Auto
        /// Operators whose input is estimated below this many rows stay on the CPU.
        pub min_rows: usize, default = DEFAULT_MIN_ROWS
        /// Rows per device batch; small input batches are coalesced up to it.
        pub batch_rows: usize, default = DEFAULT_BATCH_ROWS
        /// Whether Cinder takes FilterExec nodes.
        pub filter_enabled: bool, default = true
        /// Whether Cinder takes ProjectionExec nodes.
        pub projection_enabled: bool, default = true
        /// Whether Cinder takes AggregateExec nodes.
        pub aggregate_enabled: bool, default = true
        /// Whether Cinder takes HashJoinExec nodes.
        pub join_enabled: bool, default = true
        /// Whether Cinder operators on one device hand batches to the Cinder operator above
        /// them without copying them back: filters and projections leave their output on the
        /// device, and an Inner hash join gathers its output there (cuda mode; experimental:
        /// not yet run on a GPU).
        pub device_regions: bool, default = false
        /// Whether Cinder's hash joins build one table that every probe partition reads
        /// (DataFusion's CollectLeft) instead of hash-repartitioning both inputs
        /// (Partitioned). On one device the exchanges only cost copies; without them a
        /// device region reaches from a scan through its joins. Experimental.
        pub collect_left_joins: bool, default = false
        /// Testing only: inject a failure into every batch's device work: none, error
        /// (the query fails, the session goes on) or oom (halve the batch, then CPU).
        pub test_inject_failure: InjectedFailure, default = InjectedFailure::None
    }
}

impl ConfigExtension for CinderConfig {
    const PREFIX: &'static str = "cinder";
}

/// Where a session's Cinder operators will run, decided from the settings and the device probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionMode {
    /// On CUDA device `ordinal`.
    Cuda {
        /// The device's ordinal.
        ordinal: usize,
    },
    /// On the kernels' host reference path.
    Host,
    /// Nowhere: plans are left to DataFusion's CPU operators, for the stated reason.
    Cpu {
        /// Why Cinder stays out of the way.
        reason: String,
    },
}

impl fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutionMode::Cuda { ordinal } => write!(f, "cuda (device {ordinal})"),
            ExecutionMode::Host => f.write_str("host (host reference kernels; a correctness path)"),
            ExecutionMode::Cpu { reason } => write!(f, "cpu (plain DataFusion: {reason})"),
        }
    }
}

/// Decides the [`ExecutionMode`] from the settings and the result of probing the device.
///
/// `cinder.device = cuda` without a usable device is a planning error: the user asked for the
/// GPU explicitly, so running on the CPU instead would be a silent fallback.
pub fn resolve_mode(
    config: &CinderConfig,
    probe: &std::result::Result<DeviceInfo, CudaError>,
) -> Result<ExecutionMode> {
    if !config.enabled {
        return Ok(ExecutionMode::Cpu {
            reason: "cinder.enabled = false".to_string(),
        });
    }
    match (config.device, probe) {
        (DeviceChoice::Host, _) => Ok(ExecutionMode::Host),
        (DeviceChoice::Cuda | DeviceChoice::Auto, Ok(info)) => Ok(ExecutionMode::Cuda {
            ordinal: info.ordinal,
        }),
        (DeviceChoice::Cuda, Err(e)) => {
            plan_err!("cinder.device = cuda, but there is no usable CUDA device: {e}")
        }
        (DeviceChoice::Auto, Err(e)) => Ok(ExecutionMode::Cpu {
            reason: format!("cinder.device = auto and {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    fn gpu() -> DeviceInfo {
        DeviceInfo {
            ordinal: 0,
            name: "test GPU".to_string(),
            compute_capability: (9, 0),
            total_memory: 80 << 30,
            free_memory: 79 << 30,
            sm_count: 132,
            driver_version: (12, 8),
        }
    }

    #[test]
    fn mode_follows_settings_and_device() {
        let mut config = CinderConfig::default();
        assert_eq!(
            resolve_mode(&config, &Ok(gpu())).unwrap(),
            ExecutionMode::Cuda { ordinal: 0 }
        );
        let auto = resolve_mode(&config, &Err(CudaError::NoDriver)).unwrap();
        assert!(
            matches!(&auto, ExecutionMode::Cpu { reason } if reason.contains("no CUDA driver"))
        );

        config.device = DeviceChoice::Cuda;
        let err = resolve_mode(&config, &Err(CudaError::NoDevice("none".into()))).unwrap_err();
        assert!(err.to_string().contains("cinder.device = cuda"), "{err}");

        config.device = DeviceChoice::Host;
        assert_eq!(
            resolve_mode(&config, &Err(CudaError::NoDriver)).unwrap(),
            ExecutionMode::Host
        );

        config.enabled = false;
        assert!(matches!(
            resolve_mode(&config, &Ok(gpu())).unwrap(),
            ExecutionMode::Cpu { .. }
        ));
    }

    #[test]
    fn device_choice_parses_case_insensitively_and_rejects_others() {
        assert_eq!("CUDA".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda);
        assert_eq!(
            " host ".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Host
        );
        let err = "gpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("auto, cuda, host"), "{err}");
    }

    #[tokio::test]
    async fn settings_work_from_sql() {
        let config = SessionConfig::new().with_option_extension(CinderConfig::default());
        let ctx = SessionContext::new_with_config(config);
        ctx.sql("SET cinder.device = 'host'").await.unwrap();
        ctx.sql("SET cinder.min_rows = 5").await.unwrap();
        let state = ctx.state();
        let cinder = state
            .config()
            .options()
            .extensions
            .get::<CinderConfig>()
            .unwrap();
        assert_eq!(cinder.device, DeviceChoice::Host);
        assert_eq!(cinder.min_rows, 5);
        assert_eq!(cinder.batch_rows, DEFAULT_BATCH_ROWS);

        let err = ctx.sql("SET cinder.device = 'gpu'").await.unwrap_err();
        assert!(err.to_string().contains("auto, cuda, host"), "{err}");
        let err = ctx.sql("SET cinder.no_such_setting = 1").await.unwrap_err();
        assert!(err.to_string().contains("no_such_setting"), "{err}");
    }
}
