//! `cinder tpch`: the TPC-H benchmark runner.
//!
//! Generates (or reuses) the data, runs the 22 queries on plain DataFusion (the CPU baseline)
//! and on DataFusion + Cinder with the same session settings, checks that the answers agree,
//! and reports per-query times, the total and the geometric mean, as a table, JSON (in the
//! shape of DataFusion's dfbench output plus Cinder's fields) and an SVG chart.
//!
//! Status: Cinder's DataFusion extension has no device operators yet, so only the CPU
//! baseline runs. `--device auto` says so (and, without a GPU, that there is none) and runs
//! the baseline; `--device host|cuda` fail with the reason; `--resident` is refused.

mod data;
mod queries;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cinder_planner::{CinderConfig, DeviceChoice, ExecutionMode, resolve_mode};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

pub use report::{QueryResult, RunReport};

/// `--device` for the runner: Cinder's setting, or `cpu` for the baseline alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunnerDevice {
    /// A CUDA device if there is one, else the CPU baseline alone (said clearly).
    Auto,
    /// Cinder on a CUDA device.
    Cuda,
    /// Cinder's host reference path: a correctness check, not a speed claim.
    Host,
    /// The CPU baseline alone.
    Cpu,
}

/// Arguments of `cinder tpch`.
#[derive(clap::Args)]
pub struct Args {
    /// Scale factor (1 = about 1 GB of raw data; 0.01 for a quick check).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Queries to run (comma-separated numbers 1-22); all by default.
    #[arg(long, value_delimiter = ',')]
    queries: Vec<usize>,
    /// Where Cinder's operators run.
    #[arg(long, value_enum, default_value_t = RunnerDevice::Auto)]
    device: RunnerDevice,
    /// Timed iterations per query (after one warm-up).
    #[arg(long, default_value_t = 3)]
    iterations: usize,
    /// Keep the tables in device memory and time queries without the host-to-device copy.
    #[arg(long)]
    resident: bool,
    /// Data directory (default: the user's cache directory, per scale factor).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the results as JSON here (and an SVG chart beside it).
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => match runtime.block_on(run_async(args)) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("cinder tpch: {message}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("cinder tpch: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_async(args: &Args) -> Result<ExitCode, String> {
    if !args.scale.is_finite() || args.scale <= 0.0 {
        return Err(format!("--scale must be positive, got {}", args.scale));
    }
    if args.iterations == 0 {
        return Err("--iterations must be at least 1".to_string());
    }
    let queries = if args.queries.is_empty() {
        (1..=22).collect()
    } else {
        args.queries.clone()
    };
    if let Some(bad) = queries.iter().find(|q| !(1..=22).contains(*q)) {
        return Err(format!(
            "no TPC-H query {bad}: queries are numbered 1 to 22"
        ));
    }

    // Decide what runs besides the CPU baseline, before spending time on data.
    let cinder_mode = match args.device {
        RunnerDevice::Cpu => None,
        device => {
            let mut config = CinderConfig::default();
            config.device = match device {
                RunnerDevice::Cuda => DeviceChoice::Cuda,
                RunnerDevice::Host => DeviceChoice::Host,
                _ => DeviceChoice::Auto,
            };
            let probe = cinder_cuda::probe(0).map(|d| d.info().clone());
            match resolve_mode(&config, &probe).map_err(|e| e.to_string())? {
                ExecutionMode::Cpu { reason } => {
                    eprintln!("tpch: no GPU run: {reason}; running the CPU baseline only");
                    None
                }
                mode => Some(mode),
            }
        }
    };
    if let Some(mode) = &cinder_mode {
        // Cinder's DataFusion extension has no device operators yet. Asked for explicitly,
        // that is an error; under `auto` the run says so and goes on with the baseline.
        let why = format!(
            "Cinder's DataFusion extension has no device operators yet, so it cannot run TPC-H in mode {mode}"
        );
        if args.device == RunnerDevice::Auto {
            eprintln!("tpch: {why}; running the CPU baseline only");
        } else {
            return Err(format!(
                "{why} (the README's status table says what exists); use --device cpu for the baseline"
            ));
        }
    }
    if args.resident {
        return Err("--resident needs a CUDA device run, which is not available yet".to_string());
    }

    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| data::default_dir(args.scale));
    let table_rows = tokio::task::spawn_blocking({
        let dir = dir.clone();
        let scale = args.scale;
        move || data::ensure(&dir, scale)
    })
    .await
    .map_err(|e| format!("data generation failed: {e}"))??;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ctx = session(&dir, cores).await?;
    let mut results = Vec::new();
    println!("\n{:<6} {:>12} {:>10}", "query", "cpu ms", "rows");
    for &q in &queries {
        let sql = queries::sql(q, args.scale);
        let (batches, _) = run_query(&ctx, &sql)
            .await
            .map_err(|e| format!("q{q} (warm-up): {e}"))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut times = Vec::with_capacity(args.iterations);
        for _ in 0..args.iterations {
            let (_, ms) = run_query(&ctx, &sql)
                .await
                .map_err(|e| format!("q{q}: {e}"))?;
            times.push(ms);
        }
        let result = QueryResult::new(q, times, rows);
        println!(
            "{:<6} {:>12.1} {:>10}",
            format!("q{q}"),
            result.median_ms(),
            rows
        );
        results.push(result);
    }
    let report = RunReport::new(args.scale, cores, table_rows, results);
    println!(
        "\ntotal {:.1} ms, geometric mean {:.2} ms over {} queries (CPU baseline, DataFusion on {cores} cores)",
        report.total_ms(),
        report.geomean_ms(),
        report.queries.len()
    );
    if let Some(path) = &args.output {
        report.write(path)?;
        eprintln!(
            "tpch: wrote {} and {}",
            path.display(),
            report::svg_path(path).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A DataFusion session over the Parquet tables in `dir`, on `cores` partitions.
async fn session(dir: &std::path::Path, cores: usize) -> Result<SessionContext, String> {
    let config = SessionConfig::new().with_target_partitions(cores);
    let ctx = SessionContext::new_with_config(config);
    for table in data::TABLES {
        let path = dir.join(table);
        ctx.register_parquet(
            table,
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(|e| format!("registering {table}: {e}"))?;
    }
    Ok(ctx)
}

/// Runs one query (possibly several statements, as q15's create view / select / drop view:
/// the answer is the select's) and returns its answer and wall time in milliseconds.
async fn run_query(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<(Vec<RecordBatch>, f64)> {
    let started = Instant::now();
    let mut answer = Vec::new();
    for statement in queries::statements(sql) {
        let batches = ctx.sql(statement).await?.collect().await?;
        if queries::is_query(statement) {
            answer = batches;
        }
    }
    Ok((answer, started.elapsed().as_secs_f64() * 1e3))
}
