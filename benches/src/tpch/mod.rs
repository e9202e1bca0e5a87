//! `cinder tpch`: the TPC-H benchmark runner.
//!
//! Generates (or reuses) the data, runs the 22 queries on plain DataFusion (the CPU baseline)
//! and on DataFusion + Cinder with the same session settings, checks that the answers agree,
//! and reports per-query times, the total and the geometric mean, as a table, JSON (in the
//! shape of DataFusion's dfbench output plus Cinder's fields) and an SVG chart.
//!
//! `--device host` runs Cinder's host reference path (every operator Cinder can take is moved,
//! whatever its size): a correctness check, not a speed claim. `--device cuda` runs on the
//! GPU; `--device auto` does when there is one, and otherwise says so: Cinder is then
//! registered but leaves every plan to DataFusion, which measures its overhead. A query whose answer differs from the baseline's makes the run fail (after the
//! report is written).
//!
//! `--resident` reads the tables into memory once, before any query: the baseline gets
//! DataFusion's in-memory tables (`MemTable`), Cinder its resident tables (in device memory in
//! cuda mode, see `cinder_planner::resident`), so neither side's times include reading Parquet
//! and Cinder's include no copy of the tables to the device. Without it both read the Parquet
//! files in every query and Cinder copies its inputs to the device inside its times. The
//! report says which.

mod compare;
mod data;
mod queries;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use cinder_planner::{
    CinderConfig, DeviceChoice, ExecutionMode, ResidentTable, placements, resolve_mode, with_cinder,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

pub use report::{CinderQuery, CinderRun, QueryResult, ResidentLoad, RunReport};

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
    /// Load the tables once before the queries: in memory for the baseline, in device memory
    /// for Cinder (in cuda mode), so queries are timed without reading Parquet and without the
    /// tables' host-to-device copy.
    #[arg(long)]
    resident: bool,
    /// Data directory (default: the user's cache directory, per scale factor).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the results as JSON here (and an SVG chart beside it).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print, per query, why each operator Cinder targets but does not run stays on the CPU.
    #[arg(long)]
    explain: bool,
    /// Print, per query, the device metrics of Cinder's operators in the last timed
    /// iteration: device time (summed over partitions) and bytes each way, per operator, and
    /// the batches that fell back after device out-of-memory.
    #[arg(long)]
    metrics: bool,
    /// A Cinder setting for Cinder's run, as `SET cinder.KEY = VALUE` takes it; repeatable
    /// (e.g. `--set batch_rows=4194304 --set device_regions=true`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
}

/// `config` with each `KEY=VALUE` of `settings` applied (`KEY` with or without `cinder.`).
fn apply_settings(config: &mut CinderConfig, settings: &[String]) -> Result<(), String> {
    use datafusion::config::ExtensionOptions;
    for setting in settings {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--set {setting}: expected KEY=VALUE"))?;
        let key = key.trim();
        let key = key.strip_prefix("cinder.").unwrap_or(key);
        config
            .set(key, value.trim())
            .map_err(|e| format!("--set {setting}: {e}"))?;
    }
    Ok(())
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
    let cinder_config = match args.device {
        RunnerDevice::Cpu if !args.settings.is_empty() => {
            return Err("--set applies to Cinder's run, and --device cpu has none".to_string());
        }
        RunnerDevice::Cpu => None,
        device => {
            let mut config = CinderConfig::default();
            config.device = match device {
                RunnerDevice::Cuda => DeviceChoice::Cuda,
                RunnerDevice::Host => DeviceChoice::Host,
                _ => DeviceChoice::Auto,
            };
            if device == RunnerDevice::Host {
                // The correctness path checks every operator Cinder can take, however small.
                config.min_rows = 0;
            }
            apply_settings(&mut config, &args.settings)?;
            if !args.settings.is_empty() {
                eprintln!("tpch: Cinder's run sets {}", args.settings.join(", "));
            }
            let probe = cinder_cuda::probe(0).map(|d| d.info().clone());
            let mode = resolve_mode(&config, &probe).map_err(|e| e.to_string())?;
            if let ExecutionMode::Cpu { reason } = &mode {
                // Cinder stays registered and leaves every plan to DataFusion: its column
                // measures what registering it costs.
                eprintln!(
                    "tpch: no GPU run: {reason}; Cinder is registered but leaves the plans to \
                     DataFusion, so its column measures Cinder's overhead"
                );
            }
            Some((config, mode))
        }
    };
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
    let (baseline_tables, cinder_tables, resident_load) = if args.resident {
        let (baseline, cinder, load) = load_resident(&dir, cores, cinder_config.as_ref()).await?;
        (Tables::Memory(baseline), Tables::Memory(cinder), Some(load))
    } else {
        (Tables::Parquet(&dir), Tables::Parquet(&dir), None)
    };
    let ctx = session(baseline_tables, cores, None).await?;
    let cinder_ctx = match &cinder_config {
        Some((config, mode)) => {
            eprintln!("tpch: DataFusion + Cinder in mode {mode}");
            Some(session(cinder_tables, cores, Some(config.clone())).await?)
        }
        None => None,
    };
    let speed_claim = matches!(cinder_config, Some((_, ExecutionMode::Cuda { .. })));
    let mut results = Vec::new();
    let mut cinder_results = Vec::new();
    match &cinder_ctx {
        Some(_) => println!(
            "\n{:<6} {:>10} {:>10} {:>8} {:>8} {:>6} {:>10}",
            "query", "cpu ms", "cinder ms", "speedup", "rows", "agree", "on cinder"
        ),
        None => println!("\n{:<6} {:>12} {:>10}", "query", "cpu ms", "rows"),
    }
    for &q in &queries {
        let sql = queries::sql(q, args.scale);
        let baseline = timed(&ctx, &sql, args.iterations, q).await?;
        let cpu_answer = baseline.answer;
        let rows: usize = cpu_answer.iter().map(RecordBatch::num_rows).sum();
        let result = QueryResult::new(q, baseline.times, rows);
        if let Some(cinder_ctx) = &cinder_ctx {
            // A query that fails on Cinder is reported as a mismatch and the run goes on, so
            // one failure does not hide the other queries' results.
            let (cinder, placed, device) = match timed(cinder_ctx, &sql, args.iterations, q).await {
                Ok(t) => (
                    CinderQuery {
                        query: q,
                        iterations_ms: t.times,
                        mismatch: compare::compare(&cpu_answer, &t.answer).err(),
                        on_cinder: t.placed.iter().filter(|p| p.reason.is_none()).count(),
                        targeted: t.placed.len(),
                    },
                    t.placed,
                    t.device,
                ),
                Err(e) => (
                    CinderQuery {
                        query: q,
                        iterations_ms: Vec::new(),
                        mismatch: Some(format!("failed on Cinder: {e}")),
                        on_cinder: 0,
                        targeted: 0,
                    },
                    Vec::new(),
                    Vec::new(),
                ),
            };
            println!(
                "{:<6} {:>10.1} {:>10} {:>8} {:>8} {:>6} {:>10}",
                format!("q{q}"),
                result.median_ms(),
                cinder
                    .time_ms()
                    .map_or("failed".to_string(), |ms| format!("{ms:.1}")),
                cinder.time_ms().map_or("-".to_string(), |ms| format!(
                    "{:.2}x",
                    result.median_ms() / ms.max(1e-9)
                )),
                rows,
                if cinder.mismatch.is_none() {
                    "yes"
                } else {
                    "NO"
                },
                format!("{}/{}", cinder.on_cinder, cinder.targeted),
            );
            if let Some(diff) = &cinder.mismatch {
                eprintln!("tpch: q{q}: {diff}");
            }
            if args.explain {
                let mut reasons: Vec<String> = placed
                    .iter()
                    .filter_map(|p| p.reason.as_ref().map(|r| format!("{}: {r}", p.operator)))
                    .collect();
                reasons.sort();
                reasons.dedup();
                for reason in reasons {
                    println!("         stays on CPU: {reason}");
                }
            }
            if args.metrics && !device.is_empty() {
                let gb = |b: usize| b as f64 / 1e9;
                let total = |f: fn(&OperatorMetrics) -> usize| device.iter().map(f).sum::<usize>();
                println!(
                    "         device: {:.1} ms over partitions, {:.3} GB to device, {:.3} GB back",
                    device.iter().map(|m| m.device_ms).sum::<f64>(),
                    gb(total(|m| m.bytes_to_device)),
                    gb(total(|m| m.bytes_from_device)),
                );
                for m in &device {
                    println!(
                        "           {:<28} {:>9.1} ms device {:>9.1} ms compute {:>8.3} GB in {:>8.3} GB out",
                        m.name,
                        m.device_ms,
                        m.compute_ms,
                        gb(m.bytes_to_device),
                        gb(m.bytes_from_device)
                    );
                    if let Some(fallbacks) = m.fallbacks() {
                        println!(
                            "           {:<28} after device out-of-memory: {fallbacks}",
                            ""
                        );
                    }
                }
            }
            cinder_results.push(cinder);
        } else {
            println!(
                "{:<6} {:>12.1} {:>10}",
                format!("q{q}"),
                result.median_ms(),
                rows
            );
        }
        results.push(result);
    }
    let mut report = RunReport::new(args.scale, cores, table_rows, results);
    report.resident = resident_load;
    println!(
        "\ntotal {:.1} ms, geometric mean {:.2} ms over {} queries (CPU baseline, DataFusion on {cores} cores{})",
        report.total_ms(),
        report.geomean_ms(),
        report.queries.len(),
        if report.resident.is_some() {
            ", tables in memory"
        } else {
            ", tables read from Parquet in every query"
        }
    );
    if let Some((_, mode)) = &cinder_config {
        let run = CinderRun {
            mode: mode.to_string(),
            speed_claim,
            queries: cinder_results,
        };
        println!(
            "total {:.1} ms, geometric mean {:.2} ms with Cinder, mode {mode}{}",
            run.total_ms(),
            run.geomean_ms(),
            match mode {
                ExecutionMode::Cuda { .. } => "",
                ExecutionMode::Host => " (a correctness path: these times are not a speed claim)",
                ExecutionMode::Cpu { .. } =>
                    " (no GPU: the plans are DataFusion's; this is Cinder's overhead)",
            }
        );
        println!(
            "answers: {} of {} queries agree with the CPU baseline{}",
            run.queries.len() - run.mismatches(),
            run.queries.len(),
            match run.failures() {
                0 => String::new(),
                n => format!(" ({n} failed on Cinder and are left out of its totals)"),
            }
        );
        report.cinder = Some(run);
    }
    if let Some(path) = &args.output {
        report.write(path)?;
        eprintln!(
            "tpch: wrote {} and {}",
            path.display(),
            report::svg_path(path).display()
        );
    }
    match &report.cinder {
        Some(run) if run.mismatches() > 0 => {
            eprintln!(
                "tpch: {} queries disagree with the CPU baseline",
                run.mismatches()
            );
            Ok(ExitCode::FAILURE)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// One warm-up run (whose answer and operator placements are returned) and `iterations`
/// timed runs of query `q`.
async fn timed(
    ctx: &SessionContext,
    sql: &str,
    iterations: usize,
    q: usize,
) -> Result<Timed, String> {
    let (answer, _, placed, _) = run_query(ctx, sql)
        .await
        .map_err(|e| format!("q{q} (warm-up): {e}"))?;
    let mut times = Vec::with_capacity(iterations);
    let mut device = Vec::new();
    for _ in 0..iterations {
        let (_, ms, _, summary) = run_query(ctx, sql)
            .await
            .map_err(|e| format!("q{q}: {e}"))?;
        times.push(ms);
        device = summary;
    }
    Ok(Timed {
        answer,
        times,
        placed,
        device,
    })
}

/// What [`timed`] measured of one query.
struct Timed {
    /// The warm-up's answer.
    answer: Vec<RecordBatch>,
    /// Wall time of each timed iteration, in milliseconds.
    times: Vec<f64>,
    /// Where the operators Cinder targets ran.
    placed: Vec<cinder_planner::Placement>,
    /// The device metrics of the last timed iteration's Cinder operators.
    device: Vec<OperatorMetrics>,
}

/// One Cinder operator's device metrics after a run.
struct OperatorMetrics {
    name: String,
    /// `device_time` summed over the operator's partitions (they overlap in time).
    device_ms: f64,
    /// DataFusion's `elapsed_compute`, summed over partitions.
    compute_ms: f64,
    bytes_to_device: usize,
    bytes_from_device: usize,
    /// Batches halved after device out-of-memory (`oom_splits`).
    oom_splits: usize,
    /// Batches run on DataFusion's CPU expressions after that (`cpu_fallback_batches`).
    cpu_fallback_batches: usize,
    /// Batches meant to stay on the device that went through the host (`oom_host_batches`).
    oom_host_batches: usize,
}

impl OperatorMetrics {
    /// The fallbacks, said when there were any (e.g. `2 batches split, 1 on the CPU`).
    fn fallbacks(&self) -> Option<String> {
        let said: Vec<String> = [
            (self.oom_splits, "split"),
            (self.cpu_fallback_batches, "on the CPU"),
            (self.oom_host_batches, "through the host"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {} {what}", if n == 1 { "batch" } else { "batches" }))
        .collect();
        (!said.is_empty()).then(|| said.join(", "))
    }
}

/// The device metrics of every operator in `plan` that reports them (Cinder's), in plan
/// order.
fn device_metrics(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<OperatorMetrics>) {
    if let Some(set) = plan.metrics()
        && let Some(time) = set.sum_by_name("device_time")
    {
        let sum = |name: &str| set.sum_by_name(name).map_or(0, |v| v.as_usize());
        out.push(OperatorMetrics {
            name: plan.name().to_string(),
            device_ms: time.as_usize() as f64 / 1e6,
            compute_ms: set.elapsed_compute().unwrap_or(0) as f64 / 1e6,
            bytes_to_device: sum("bytes_to_device"),
            bytes_from_device: sum("bytes_from_device"),
            oom_splits: sum("oom_splits"),
            cpu_fallback_batches: sum("cpu_fallback_batches"),
            oom_host_batches: sum("oom_host_batches"),
        });
    }
    for child in plan.children() {
        device_metrics(child, out);
    }
}

/// Where a session's tables come from.
enum Tables<'a> {
    /// The Parquet files under this directory, read by every query.
    Parquet(&'a std::path::Path),
    /// Tables already loaded, by name.
    Memory(Vec<(&'static str, Arc<dyn TableProvider>)>),
}

/// `--resident`: the tables in `dir` read into memory once, as DataFusion `MemTable`s for the
/// baseline and as Cinder's resident tables (on the device in cuda mode) for Cinder, each
/// dealt over `cores` partitions; and what the loads took.
async fn load_resident(
    dir: &std::path::Path,
    cores: usize,
    cinder: Option<&(CinderConfig, ExecutionMode)>,
) -> Result<
    (
        Vec<(&'static str, Arc<dyn TableProvider>)>,
        Vec<(&'static str, Arc<dyn TableProvider>)>,
        ResidentLoad,
    ),
    String,
> {
    let started = Instant::now();
    let reader =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(cores));
    let mut read = Vec::new();
    for table in data::TABLES {
        let path = dir.join(table);
        let frame = reader
            .read_parquet(
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(|e| format!("reading {table}: {e}"))?;
        let schema = Arc::clone(frame.schema().inner());
        let batches = frame
            .collect()
            .await
            .map_err(|e| format!("reading {table}: {e}"))?;
        read.push((table, schema, batches));
    }
    let read_ms = started.elapsed().as_secs_f64() * 1e3;
    let bytes: usize = read
        .iter()
        .flat_map(|(_, _, batches)| batches)
        .map(RecordBatch::get_array_memory_size)
        .sum();
    eprintln!(
        "tpch: --resident: read the tables into memory in {:.1} s ({:.2} GB); queries are timed \
         without reading Parquet",
        read_ms / 1e3,
        bytes as f64 / 1e9
    );
    let mut baseline: Vec<(&'static str, Arc<dyn TableProvider>)> = Vec::new();
    for (table, schema, batches) in &read {
        let mut partitions = vec![Vec::new(); cores.max(1)];
        for (i, batch) in batches.iter().enumerate() {
            partitions[i % cores.max(1)].push(batch.clone());
        }
        let mem = MemTable::try_new(Arc::clone(schema), partitions)
            .map_err(|e| format!("{table} in memory: {e}"))?;
        baseline.push((table, Arc::new(mem)));
    }
    let mut cinder_tables: Vec<(&'static str, Arc<dyn TableProvider>)> = Vec::new();
    let mut load = ResidentLoad {
        read_ms,
        cinder_load_ms: None,
        cinder_location: None,
        device_bytes: 0,
    };
    if let Some((config, mode)) = cinder {
        let started = Instant::now();
        for (table, schema, batches) in read {
            let resident = ResidentTable::load(
                table,
                schema,
                batches,
                mode,
                cores.max(1),
                config.batch_rows,
            )
            .map_err(|e| e.to_string())?;
            load.device_bytes += resident.device_bytes();
            load.cinder_location = Some(resident.location().to_string());
            cinder_tables.push((table, Arc::new(resident)));
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        load.cinder_load_ms = Some(ms);
        eprintln!(
            "tpch: --resident: loaded Cinder's resident tables into {} memory in {:.1} s{}",
            load.cinder_location.as_deref().unwrap_or("host"),
            ms / 1e3,
            if load.device_bytes > 0 {
                format!(" ({:.2} GB on the device)", load.device_bytes as f64 / 1e9)
            } else {
                String::new()
            }
        );
    }
    Ok((baseline, cinder_tables, load))
}

/// A DataFusion session over `tables`, on `cores` partitions, with Cinder when `cinder` is
/// given (the same settings otherwise).
async fn session(
    tables: Tables<'_>,
    cores: usize,
    cinder: Option<CinderConfig>,
) -> Result<SessionContext, String> {
    let config = SessionConfig::new().with_target_partitions(cores);
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let builder = match cinder {
        Some(cinder) => with_cinder(builder, cinder),
        None => builder,
    };
    let ctx = SessionContext::new_with_state(builder.build());
    match tables {
        Tables::Parquet(dir) => {
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
        }
        Tables::Memory(tables) => {
            for (table, provider) in tables {
                ctx.register_table(table, provider)
                    .map_err(|e| format!("registering {table}: {e}"))?;
            }
        }
    }
    Ok(ctx)
}

/// Runs one query (possibly several statements, as q15's create view / select / drop view:
/// the answer is the select's) and returns its answer, wall time in milliseconds, and where
/// the operators Cinder targets ran.
async fn run_query(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<(
    Vec<RecordBatch>,
    f64,
    Vec<cinder_planner::Placement>,
    Vec<OperatorMetrics>,
)> {
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut placed = Vec::new();
    let mut executed = None;
    for statement in queries::statements(sql) {
        let frame = ctx.sql(statement).await?;
        if queries::is_query(statement) {
            let plan = frame.create_physical_plan().await?;
            placed = placements(&plan);
            answer = datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx()).await?;
            executed = Some(plan);
        } else {
            frame.collect().await?;
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    // Read the metrics outside the timed window.
    let mut device = Vec::new();
    if let Some(plan) = &executed {
        device_metrics(plan, &mut device);
    }
    Ok((answer, ms, placed, device))
}
