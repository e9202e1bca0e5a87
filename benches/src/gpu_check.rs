//! `cinder gpu-check`.

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use cinder_cuda::selfcheck::TRANSFER_CHECKS;
use cinder_cuda::{MemoryPool, PoolConfig};
use cinder_kernels::DeviceKernels;
use cinder_kernels::selfcheck::{CHECKS, CheckEnv, DEFAULT_SIZES};

/// Exit status when there is no CUDA device to check.
const EXIT_NO_DEVICE: u8 = 2;

/// Bytes copied to measure device copy bandwidth: 1 GiB, far above any GPU's L2 cache.
const COPY_BENCH_BYTES: usize = 1 << 30;

/// Arguments of `cinder gpu-check`.
#[derive(clap::Args)]
pub struct Args {
    /// The CUDA device ordinal to check.
    #[arg(long, default_value_t = 0)]
    device_ordinal: usize,
    /// Row counts to check every kernel at (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_SIZES)]
    sizes: Vec<usize>,
    /// Seed for the random inputs; each (kernel, size) derives its own from it.
    #[arg(long, default_value_t = 0xC1DE5)]
    seed: u64,
    /// Run only the checks whose name (`module::kernel`, or the transfer check's name)
    /// contains one of these (comma-separated); all of them when absent.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn selected(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| name.contains(o.as_str()))
    }
}

pub fn run(args: &Args) -> ExitCode {
    let device = match cinder_cuda::probe(args.device_ordinal) {
        Ok(device) => Arc::new(device),
        Err(e) => {
            println!("no CUDA device: {e}");
            return ExitCode::from(EXIT_NO_DEVICE);
        }
    };
    println!("device: {}", device.info());
    let kernels = match DeviceKernels::load(&device) {
        Ok(k) => k,
        Err(e) => {
            println!("FAIL: loading the embedded kernel modules: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (module, target) in kernels.loaded_targets() {
        println!("loaded {module} from its {target} image");
    }
    let copy_gbps = match device.copy_bandwidth_gbps(COPY_BENCH_BYTES, 10) {
        Ok(gbps) => {
            println!(
                "device copy bandwidth: {gbps:.0} GB/s (1 GiB device-to-device, read + write)"
            );
            Some(gbps)
        }
        Err(e) => {
            println!("device copy bandwidth: not measured: {e}");
            None
        }
    };
    let pool = match MemoryPool::cuda(Arc::clone(&device), PoolConfig::default()) {
        Ok(pool) => pool,
        Err(e) => {
            println!("FAIL: creating the device memory pool: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = CheckEnv {
        device: &device,
        kernels: &kernels,
        pool: &pool,
    };
    println!(
        "\n{:<28} {:>10}  {:<6} {:>10} {:>9} {:>7}  detail",
        "kernel", "rows", "result", "device ms", "GB/s", "% copy"
    );
    let mut failures = 0;
    let mut total = 0;
    for check in CHECKS {
        if !args.selected(&format!("{}::{}", check.module, check.kernel)) {
            continue;
        }
        total += args.sizes.len();
        for (i, &rows) in args.sizes.iter().enumerate() {
            let seed = args.seed ^ ((i as u64) << 32) ^ rows as u64;
            let started = Instant::now();
            let result = panic::catch_unwind(AssertUnwindSafe(|| (check.run)(&env, rows, seed)));
            let wall = started.elapsed();
            let (status, ms, gbps, share, detail) = match result {
                Ok(Ok(outcome)) => {
                    let gbps = (outcome.device_ms > 0.0)
                        .then(|| outcome.bytes as f64 / (f64::from(outcome.device_ms) / 1e3) / 1e9);
                    let share = gbps
                        .zip(copy_gbps)
                        .map(|(g, c)| format!("{:.0}%", 100.0 * g / c));
                    let detail = match &outcome.first_mismatch {
                        Some(m) => format!(
                            "{} of {} differ; first: {m}",
                            outcome.mismatches, outcome.compared
                        ),
                        None => format!(
                            "{} values equal (wall {:.0} ms)",
                            outcome.compared,
                            wall.as_secs_f64() * 1e3
                        ),
                    };
                    let status = if outcome.ok() { "ok" } else { "FAIL" };
                    (
                        status,
                        format!("{:.3}", outcome.device_ms),
                        gbps.map_or("-".into(), |g| format!("{g:.0}")),
                        share.unwrap_or("-".into()),
                        detail,
                    )
                }
                Ok(Err(e)) => ("FAIL", "-".into(), "-".into(), "-".into(), e.to_string()),
                Err(_) => (
                    "FAIL",
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "panicked".into(),
                ),
            };
            if status != "ok" {
                failures += 1;
            }
            println!(
                "{:<28} {rows:>10}  {status:<6} {ms:>10} {gbps:>9} {share:>7}  {detail}",
                format!("{}::{}", check.module, check.kernel)
            );
        }
    }

    println!(
        "\n{:<36} {:>10}  {:<6} {:>10} {:>9}  detail",
        "transfer", "rows", "result", "wall ms", "GB/s"
    );
    for check in TRANSFER_CHECKS {
        if !args.selected(check.name) {
            continue;
        }
        let sizes: &[usize] = if check.sized { &args.sizes } else { &[0] };
        for (i, &rows) in sizes.iter().enumerate() {
            total += 1;
            let seed = args.seed ^ ((i as u64) << 40) ^ rows as u64;
            let result = panic::catch_unwind(AssertUnwindSafe(|| (check.run)(&pool, rows, seed)));
            let (ok, ms, gbps, detail) = match result {
                Ok(Ok(outcome)) => {
                    // Bytes cross PCIe twice: up and back down.
                    let gbps = (outcome.wall_ms > 0.0 && outcome.bytes > 0)
                        .then(|| 2.0 * outcome.bytes as f64 / (outcome.wall_ms / 1e3) / 1e9);
                    (
                        outcome.ok,
                        format!("{:.1}", outcome.wall_ms),
                        gbps.map_or("-".into(), |g| format!("{g:.1}")),
                        outcome.detail,
                    )
                }
                Ok(Err(e)) => (false, "-".into(), "-".into(), e.to_string()),
                Err(_) => (false, "-".into(), "-".into(), "panicked".into()),
            };
            if !ok {
                failures += 1;
            }
            let rows = if check.sized {
                rows.to_string()
            } else {
                "-".to_string()
            };
            let status = if ok { "ok" } else { "FAIL" };
            println!(
                "{:<36} {rows:>10}  {status:<6} {ms:>10} {gbps:>9}  {detail}",
                check.name
            );
        }
    }
    let stats = pool.stats();
    println!(
        "pool: budget {} MiB, peak {} MiB, {} allocations, {} refused, {} bytes still held",
        stats.budget >> 20,
        stats.peak >> 20,
        stats.allocations,
        stats.failed_allocations,
        stats.in_use
    );
    println!("\n{} passed, {failures} failed", total - failures);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
