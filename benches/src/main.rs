//! `cinder`: Cinder's command-line tool.
//!
//! - `cinder doctor`: what this machine offers Cinder (driver, device, embedded kernels, CPU
//!   cores) and which mode Cinder will run in. Exits 0 on any machine.
//! - `cinder gpu-check`: every embedded kernel against its host reference on the GPU, on fresh
//!   random inputs of several sizes. Exits 2 without a CUDA device, 1 on any mismatch.
//! - `cinder tpch`: the TPC-H runner (data generation and caching, the 22 queries on the CPU
//!   baseline; the Cinder side joins as the DataFusion extension gains device operators).

mod doctor;
mod gpu_check;
mod logger;
mod tpch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc, as DataFusion's benchmarks use, for the CPU baseline and Cinder alike: glibc
/// returns large freed blocks to the OS, so each large host buffer pays a page fault per page.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cinder",
    version,
    about = "Cinder: a GPU query executor for DataFusion and Spark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CUDA driver, device, embedded kernels, CPU cores and the mode Cinder runs in.
    Doctor(doctor::Args),
    /// Run every embedded kernel on the GPU against its host reference.
    GpuCheck(gpu_check::Args),
    /// Run TPC-H: generate or reuse the data, run the 22 queries, report times.
    Tpch(tpch::Args),
}

fn main() -> ExitCode {
    logger::init();
    match Cli::parse().command {
        Command::Doctor(args) => doctor::run(&args),
        Command::GpuCheck(args) => gpu_check::run(&args),
        Command::Tpch(args) => tpch::run(&args),
    }
}
