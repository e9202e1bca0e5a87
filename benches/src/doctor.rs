//! `cinder doctor`.

use std::process::ExitCode;

use cinder_kernels::embedded::{self, MODULES};
use cinder_planner::{CinderConfig, DeviceChoice, resolve_mode};

/// Arguments of `cinder doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// The CUDA device ordinal to probe.
    #[arg(long, default_value_t = 0)]
    device_ordinal: usize,
    /// The `cinder.device` setting to report the mode for.
    #[arg(long, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

pub fn run(args: &Args) -> ExitCode {
    println!("Cinder {} doctor", env!("CARGO_PKG_VERSION"));
    let driver = match cinder_cuda::driver_version() {
        Ok((major, minor)) => format!("found, supports CUDA {major}.{minor}"),
        Err(e) => e.to_string(),
    };
    row("CUDA driver", &driver);
    let probe = cinder_cuda::probe(args.device_ordinal).map(|d| d.info().clone());
    match &probe {
        Ok(info) => row("CUDA device", &info.to_string()),
        Err(e) => row("CUDA device", &format!("none: {e}")),
    }

    let kernels: usize = MODULES.iter().map(|m| m.kernels.len()).sum();
    row(
        "Embedded kernels",
        &format!(
            "{kernels} kernel(s) in {} module(s), compiled by NVRTC {}",
            MODULES.len(),
            embedded::NVRTC_VERSION
        ),
    );
    for module in MODULES {
        let targets: Vec<String> = module.images.iter().map(|i| i.target.to_string()).collect();
        println!(
            "  {:<24} {:<32} targets: {}",
            module.name,
            module.kernels.join(", "),
            targets.join(", ")
        );
    }
    row(
        "Kernel targets",
        &format!(
            "CUBIN for sm_80 (also sm_86, sm_89) and sm_90; PTX ISA {} for newer GPUs, which needs driver >= {}",
            embedded::PTX_ISA,
            embedded::PTX_MIN_DRIVER
        ),
    );
    if let Ok(info) = &probe {
        let cc = info.compute_capability;
        let chosen: Vec<String> = MODULES
            .iter()
            .map(|m| match m.image_for(cc) {
                Some(image) => format!("{} -> {}", m.name, image.target),
                None => format!("{} -> none runs on {}.{}", m.name, cc.0, cc.1),
            })
            .collect();
        row("Images for device", &chosen.join("; "));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    row("CPU cores", &cores.to_string());

    let mut config = CinderConfig::default();
    config.device = args.device;
    match resolve_mode(&config, &probe) {
        Ok(mode) => row(
            &format!("Mode (cinder.device = {})", args.device),
            &mode.to_string(),
        ),
        Err(e) => row(
            &format!("Mode (cinder.device = {})", args.device),
            &format!("error: {e}"),
        ),
    }
    ExitCode::SUCCESS
}

fn row(label: &str, value: &str) {
    println!("{label:<28}{value}");
}
