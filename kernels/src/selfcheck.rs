//! `cinder gpu-check`: every embedded kernel against its host reference on the GPU.
//!
//! Each kernel family registers one [`CheckCase`] per kernel in [`CHECKS`]; a unit test fails
//! if an embedded kernel has no check, so a new kernel cannot skip the GPU self-check.

use cinder_cuda::{Device, MemoryPool};

use crate::embedded::DeviceKernels;
use crate::{Result, aggregate, concat, expr, filter, hash, join};

/// What a check runs against.
#[derive(Debug, Clone, Copy)]
pub struct CheckEnv<'a> {
    /// The device.
    pub device: &'a Device,
    /// Every embedded module, loaded on it.
    pub kernels: &'a DeviceKernels,
    /// A memory pool on the device.
    pub pool: &'a MemoryPool,
}

/// One kernel's self-check.
#[derive(Debug, Clone, Copy)]
pub struct CheckCase {
    /// The module holding the kernel.
    pub module: &'static str,
    /// The kernel's `extern "C"` name.
    pub kernel: &'static str,
    /// Other kernels of the module this check runs too (one pipeline, one check).
    pub covers: &'static [&'static str],
    /// Runs the kernel on `rows` fresh random rows from `seed` and compares with the host.
    pub run: fn(&CheckEnv<'_>, usize, u64) -> Result<CheckOutcome>,
}

/// Every kernel's self-check.
pub static CHECKS: &[CheckCase] = &[
    CheckCase {
        module: hash::MODULE,
        kernel: hash::HASH_I64,
        covers: &[],
        run: hash::check_hash_i64,
    },
    CheckCase {
        module: expr::device::MODULE,
        kernel: expr::device::EXPR_EVAL,
        covers: &[],
        run: expr::device::check_expr_eval,
    },
    CheckCase {
        module: expr::strings::MODULE,
        kernel: expr::strings::STRING_BUILD,
        covers: &[expr::strings::STRING_LENGTHS],
        run: expr::device::check_string_results,
    },
    CheckCase {
        module: aggregate::device::MODULE,
        kernel: aggregate::device::AGG_ACCUMULATE,
        covers: &[
            aggregate::device::AGG_INSERT,
            aggregate::device::AGG_MARK,
            aggregate::device::AGG_SCATTER,
            aggregate::device::AGG_ASSIGN,
            aggregate::device::AGG_INIT,
        ],
        run: aggregate::device::check_aggregate,
    },
    CheckCase {
        module: join::device::MODULE,
        kernel: join::device::JOIN_PAIRS,
        covers: &[
            join::device::SCAN_TILES,
            join::device::SCAN_SPINE,
            join::device::SCAN_APPLY,
            join::device::JOIN_COUNT,
            join::device::JOIN_FILL,
            join::device::JOIN_PROBE,
            join::device::JOIN_DENSE_COUNT,
            join::device::JOIN_DENSE_FILL,
            join::device::JOIN_DENSE_PROBE,
        ],
        run: join::device::check_join,
    },
    CheckCase {
        module: join::gather::MODULE,
        kernel: join::gather::GATHER_ROWS,
        covers: &[
            join::gather::GATHER_STRINGS,
            join::gather::MARK_ROWS,
            join::gather::FLIP_BITS,
        ],
        run: join::gather::check_gather,
    },
    CheckCase {
        module: concat::MODULE,
        kernel: concat::CONCAT_ROWS,
        covers: &[],
        run: concat::check_concat,
    },
    CheckCase {
        module: filter::MODULE,
        kernel: filter::FILTER_GATHER,
        covers: &[filter::FILTER_COUNT, filter::FILTER_SCAN],
        run: filter::check_filter,
    },
];

/// Row counts `cinder gpu-check` uses by default: empty, one row, odd sizes around block and
/// word boundaries, and sizes large enough to stride the whole grid several times.
pub const DEFAULT_SIZES: [usize; 6] = [0, 1, 1_000, 65_537, 1 << 20, 1 << 24];

/// The result of one check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOutcome {
    /// Rows checked.
    pub rows: usize,
    /// Values compared.
    pub compared: usize,
    /// Values that differed from the host reference.
    pub mismatches: usize,
    /// The first difference, described.
    pub first_mismatch: Option<String>,
    /// Device time of the timed launch, in milliseconds.
    pub device_ms: f32,
    /// Bytes the timed launch must read and write, for a bandwidth figure.
    pub bytes: usize,
}

impl CheckOutcome {
    /// Whether the device agreed with the host everywhere.
    pub fn ok(&self) -> bool {
        self.mismatches == 0
    }

    /// Adds another comparison's counts.
    pub fn merge(&mut self, other: CheckOutcome) {
        self.compared += other.compared;
        self.mismatches += other.mismatches;
        if self.first_mismatch.is_none() {
            self.first_mismatch = other.first_mismatch;
        }
    }
}

/// Compares device output with the host reference, element by element.
pub fn compare<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &[T],
    got: &[T],
) -> CheckOutcome {
    let mut outcome = CheckOutcome {
        compared: expected.len().max(got.len()),
        ..Default::default()
    };
    if expected.len() != got.len() {
        outcome.mismatches = outcome.compared;
        outcome.first_mismatch = Some(format!(
            "{what}: {} values from the device, {} from the host",
            got.len(),
            expected.len()
        ));
        return outcome;
    }
    for (row, (e, g)) in expected.iter().zip(got).enumerate() {
        if e != g {
            outcome.mismatches += 1;
            if outcome.first_mismatch.is_none() {
                outcome.first_mismatch =
                    Some(format!("{what}: row {row}: host {e:?}, device {g:?}"));
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::MODULES;

    #[test]
    fn every_embedded_kernel_has_a_self_check_and_vice_versa() {
        for module in MODULES {
            for kernel in module.kernels {
                assert!(
                    CHECKS.iter().any(|c| c.module == module.name
                        && (c.kernel == *kernel || c.covers.contains(kernel))),
                    "{}::{kernel} has no CheckCase in selfcheck::CHECKS",
                    module.name
                );
            }
        }
        for check in CHECKS {
            let module = crate::embedded::module(check.module)
                .unwrap_or_else(|| panic!("{} is not embedded", check.module));
            for kernel in std::iter::once(&check.kernel).chain(check.covers) {
                assert!(
                    module.kernels.contains(kernel),
                    "{kernel} not in {}",
                    check.module
                );
            }
        }
    }

    #[test]
    fn compare_counts_and_describes_differences() {
        let ok = compare("x", &[1, 2, 3], &[1, 2, 3]);
        assert!(ok.ok());
        assert_eq!(ok.compared, 3);
        let bad = compare("x", &[1, 2, 3], &[1, 5, 6]);
        assert_eq!(bad.mismatches, 2);
        assert_eq!(
            bad.first_mismatch.as_deref(),
            Some("x: row 1: host 2, device 5")
        );
        let short = compare("x", &[1, 2], &[1]);
        assert!(!short.ok());
    }
}
