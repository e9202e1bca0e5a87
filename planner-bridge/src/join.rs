//! [`CinderHashJoinExec`]: DataFusion's `HashJoinExec` on Cinder's hash join
//! (`cinder_kernels::join`: its host reference in host mode; in cuda mode the build table and
//! the probe run on the device, the pairs come back, and the filter, assembly and gather run
//! on the host).
//!
//! With `cinder.device_regions`, a join whose consumer is a Cinder operator on the same
//! device ([`CinderHashJoinExec::execute_handoff`]) keeps its output there: the probe batch
//! goes up whole (or comes on the device from a Cinder producer below), and the pairs, the
//! residual filter and the gather (Inner, Left) or compaction of the probe rows (RightSemi,
//! RightAnti) stay on the device, so the consumer takes the joined batch with no copy either
//! way. Left, LeftSemi and LeftAnti joins mark the matched build rows on the device and copy
//! only the marks back, at the end of probing. Right and Full joins take the host path.
//! Experimental: not yet run on a GPU.
//!
//! As in DataFusion, the left input is the build side and the right input probes. With
//! `PartitionMode::CollectLeft` the build side is collected once and shared by every probe
//! partition; the build rows that only the end of probing settles (Left and Full's unmatched
//! rows, LeftSemi, LeftAnti) are emitted by the last probe partition to finish, from the
//! match flags of all of them. With `PartitionMode::Partitioned` each partition joins its own
//! build and probe partitions. Probe batches are coalesced to `cinder.batch_rows`, and each
//! yields output in chunks of at most `cinder.batch_rows` candidate pairs.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, JoinSide, JoinType, NullEquality, Result, Statistics};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::{BaselineMetrics, MetricsSet, RecordOutput};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties,
};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::{StreamExt, TryStreamExt};

use cinder_cuda::{CudaError, DeviceBatch, DeviceColumn, check_supported};
use cinder_kernels::concat::concat_device;
use cinder_kernels::expr::device::evaluate_on_device;
use cinder_kernels::expr::{Program, evaluate, translate};
use cinder_kernels::filter::compact_device;
use cinder_kernels::join::device::{DeviceBuild, MAX_BUILD_ROWS, build_device, probe_device};
use cinder_kernels::join::gather::{DeviceMarks, gather_pair_columns, keep_pairs_device};
use cinder_kernels::join::{
    BuildTable, JoinAssembler, JoinFilterProgram, JoinIndices, JoinKind, NullMatch, Pairs, Side,
    any_matchable_row, dense_range, gather, joinable,
};
use cinder_kernels::{KernelError, Timing};

use crate::exec::{
    Backend, DeviceMetrics, Handoff, HandoffStream, OperatorCore, OperatorSettings,
    check_input_schema, coalesce, concat, external, original_line,
};
use crate::runtime::DeviceRuntime;

/// What a join computes, translated from a `HashJoinExec`.
#[derive(Debug)]
struct JoinSpec {
    kind: JoinKind,
    nulls: NullMatch,
    collect_left: bool,
    left_keys: Vec<Program>,
    right_keys: Vec<Program>,
    filter: Option<JoinFilterProgram>,
    /// The join's schema before its projection.
    join_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    /// The declared output schema (after the projection).
    out_schema: SchemaRef,
}

/// Cinder's plan for `join`, or why it stays on the CPU.
pub(crate) fn plan_join(join: &HashJoinExec) -> std::result::Result<JoinSpecHandle, String> {
    let kind = match join.join_type() {
        JoinType::Inner => JoinKind::Inner,
        JoinType::Left => JoinKind::Left,
        JoinType::Right => JoinKind::Right,
        JoinType::Full => JoinKind::Full,
        JoinType::LeftSemi => JoinKind::LeftSemi,
        JoinType::LeftAnti => JoinKind::LeftAnti,
        JoinType::RightSemi => JoinKind::RightSemi,
        JoinType::RightAnti => JoinKind::RightAnti,
        other => return Err(format!("join type {other} is not supported")),
    };
    let collect_left = match join.partition_mode() {
        PartitionMode::CollectLeft => true,
        PartitionMode::Partitioned => false,
        PartitionMode::Auto => return Err("partition mode Auto is not supported".into()),
    };
    if join.null_aware {
        return Err("a null-aware anti join (NOT IN) is not supported".into());
    }
    if join.fetch().is_some() {
        return Err("a join with a fetch limit is not supported".into());
    }
    let nulls = match join.null_equality() {
        NullEquality::NullEqualsNothing => NullMatch::NullEqualsNothing,
        NullEquality::NullEqualsNull => NullMatch::NullEqualsNull,
    };
    let (left_schema, right_schema) = (join.left().schema(), join.right().schema());
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    for (l, r) in join.on() {
        let lt = l.data_type(&left_schema).map_err(|e| e.to_string())?;
        let rt = r.data_type(&right_schema).map_err(|e| e.to_string())?;
        if lt != rt {
            return Err(format!(
                "join keys {l} ({lt}) and {r} ({rt}) differ in type"
            ));
        }
        if !joinable(&lt) {
            return Err(format!("join key {l} of type {lt} is not supported"));
        }
        let lp = translate(l, &left_schema).map_err(|e| e.to_string())?;
        let rp = translate(r, &right_schema).map_err(|e| e.to_string())?;
        if lp.result_arrow_type() != lt || rp.result_arrow_type() != rt {
            return Err(format!("join keys {l} = {r}: Cinder computes other types"));
        }
        left_keys.push(lp);
        right_keys.push(rp);
    }
    if left_keys.is_empty() {
        return Err("a join without equality keys is not supported".into());
    }
    let filter = match join.filter() {
        None => None,
        Some(f) => {
            let program =
                translate(f.expression(), f.schema()).map_err(|e| format!("join filter: {e}"))?;
            let columns = f
                .column_indices()
                .iter()
                .map(|c| match c.side {
                    JoinSide::Left => Ok((Side::Build, c.index)),
                    JoinSide::Right => Ok((Side::Probe, c.index)),
                    JoinSide::None => Err("a join filter over a mark column".to_string()),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Some(JoinFilterProgram {
                program,
                columns,
                schema: Arc::clone(f.schema()),
            })
        }
    };
    Ok(JoinSpecHandle(Arc::new(JoinSpec {
        kind,
        nulls,
        collect_left,
        left_keys,
        right_keys,
        filter,
        join_schema: Arc::clone(join.join_schema()),
        projection: join.projection.as_ref().map(|p| p.to_vec()),
        out_schema: join.schema(),
    })))
}

/// A translated join, opaque outside this module.
#[derive(Debug, Clone)]
pub(crate) struct JoinSpecHandle(Arc<JoinSpec>);

/// The collected build side of a CollectLeft join, shared by the probe partitions.
#[derive(Debug)]
struct BuildSide {
    /// Build rows.
    rows: usize,
    /// The build rows on the host: collected there, or, for a build side collected on the
    /// device, copied back on first use (by the joins and batches that take the host path).
    /// A failure is kept as it came (a memory reservation's stays ResourcesExhausted).
    batch: OnceLock<std::result::Result<RecordBatch, Arc<DataFusionError>>>,
    /// The build keys, on the host.
    keys: Vec<ArrayRef>,
    /// The host reference's table (host mode, and device out-of-memory fallback), built on
    /// first use.
    table: OnceLock<std::result::Result<BuildTable, String>>,
    nulls: NullMatch,
    /// The table on the device (cuda mode), with its runtime.
    device: Option<(Arc<DeviceRuntime>, DeviceBuild)>,
    /// The whole build batch on the device, for joins that keep their output there.
    device_batch: Mutex<DeviceBuildBatch>,
    /// The device of the join's backend (cuda mode), where `device_batch` is.
    runtime: Option<Arc<DeviceRuntime>>,
    /// Whether some build row's keys can match a probe row ([`any_matchable_row`], once).
    matchable: bool,
    /// Build rows matched by any finished probe partition.
    matched: Mutex<Vec<bool>>,
    /// Probe partitions still running.
    remaining: AtomicUsize,
    /// The build side's memory in DataFusion's pool, held as long as the build side.
    reservation: MemoryReservation,
}

type SharedBuild =
    Shared<BoxFuture<'static, std::result::Result<Arc<BuildSide>, Arc<DataFusionError>>>>;

/// `HashJoinExec` on Cinder's hash join.
pub struct CinderHashJoinExec {
    original: Arc<dyn ExecutionPlan>,
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    spec: Arc<JoinSpec>,
    /// CollectLeft: the build side, collected once per execution of this node.
    build: Mutex<Option<SharedBuild>>,
    core: OperatorCore,
}

impl fmt::Debug for CinderHashJoinExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CinderHashJoinExec")
            .field("original", &self.original)
            .field("spec", &self.spec)
            .finish()
    }
}

impl CinderHashJoinExec {
    /// Replaces `original` (a `HashJoinExec`) with the plan [`plan_join`] made for it.
    pub(crate) fn new(
        original: Arc<dyn ExecutionPlan>,
        spec: JoinSpecHandle,
        backend: Backend,
        settings: OperatorSettings,
    ) -> Self {
        let children = original.children();
        let (left, right) = (Arc::clone(children[0]), Arc::clone(children[1]));
        Self {
            original,
            left,
            right,
            spec: spec.0,
            build: Mutex::new(None),
            core: OperatorCore::new(backend, settings),
        }
    }

    /// The `HashJoinExec` this operator replaces.
    pub fn original(&self) -> &Arc<dyn ExecutionPlan> {
        &self.original
    }
}

/// Where a join's build rows come from: `left`'s partitions executed as DataFusion streams,
/// or batches handed over by the Cinder operators under it (with `cinder.device_regions`,
/// on the device).
enum BuildInput {
    Plan(Arc<dyn ExecutionPlan>, std::ops::Range<usize>),
    Handoff(Vec<HandoffStream>),
}

/// Collects the build rows and groups them by the join keys: on the host, or (handed over on
/// the device) concatenated on the device with the keys evaluated there.
async fn collect_build(
    input: BuildInput,
    schema: SchemaRef,
    context: Arc<TaskContext>,
    spec: Arc<JoinSpec>,
    probe_partitions: usize,
    backend: Backend,
    metrics: DeviceMetrics,
) -> Result<Arc<BuildSide>> {
    let mut batches = Vec::new();
    let mut on_device = Vec::new();
    match input {
        BuildInput::Plan(left, partitions) => {
            for p in partitions {
                let mut stream = left.execute(p, Arc::clone(&context))?;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    if batch.num_rows() > 0 {
                        batches.push(batch);
                    }
                }
            }
        }
        BuildInput::Handoff(streams) => {
            log::debug!(
                "cinder: a join's build side is handed over by {} partitions",
                streams.len()
            );
            // One task per partition, as DataFusion's CoalescePartitionsExec runs them, so
            // that host work under the producers (decoding, fallbacks) runs in parallel.
            let tasks: Vec<SpawnedTask<Result<Vec<Handoff>>>> = streams
                .into_iter()
                .map(|items| SpawnedTask::spawn(items.try_collect::<Vec<_>>()))
                .collect();
            for task in tasks {
                let items = task.join_unwind().await.map_err(|e| {
                    DataFusionError::Execution(format!(
                        "a task collecting a join's build side failed: {e}"
                    ))
                })??;
                for item in items {
                    match item {
                        Handoff::Host(batch) if batch.num_rows() > 0 => batches.push(batch),
                        Handoff::Device(batch) if batch.num_rows() > 0 => on_device.push(batch),
                        _ => {}
                    }
                }
            }
        }
    }
    // The rows and the host table (about 16 bytes a row) in DataFusion's memory pool; like
    // DataFusion's hash join, Cinder's does not spill.
    let reservation =
        MemoryConsumer::new("CinderHashJoinExec build side").register(context.memory_pool());
    if !on_device.is_empty() {
        let Backend::Cuda(rt) = &backend else {
            return Err(DataFusionError::Internal(
                "device batches were handed to a join's build side on the host reference".into(),
            ));
        };
        match build_on_device(&spec, rt, &on_device, &batches, &metrics, &reservation)? {
            Some(built) => {
                // Without a device table the batch is of no use on the device: its rows go
                // to the host, and the device memory back to the pool.
                let (batch, device_batch) = match built.table {
                    Some(_) => (OnceLock::new(), DeviceBuildBatch::Ready(built.batch)),
                    None => {
                        let timer = metrics.device_time.timer();
                        let host = built.batch.download(&rt.pool).map_err(external)?;
                        timer.done();
                        metrics.bytes_from_device.add(built.batch.pool_bytes());
                        reservation.try_grow(host.get_array_memory_size())?;
                        (OnceLock::from(Ok(host)), DeviceBuildBatch::NotYet)
                    }
                };
                return Ok(Arc::new(BuildSide {
                    matchable: any_matchable_row(&built.keys, built.rows, spec.nulls),
                    matched: Mutex::new(vec![false; built.rows]),
                    remaining: AtomicUsize::new(probe_partitions),
                    rows: built.rows,
                    batch,
                    keys: built.keys,
                    table: OnceLock::new(),
                    nulls: spec.nulls,
                    device: built.table.map(|t| (Arc::clone(rt), t)),
                    device_batch: Mutex::new(device_batch),
                    runtime: Some(Arc::clone(rt)),
                    reservation,
                }));
            }
            None => {
                // Out of device memory, or more rows than a device table holds: the rows go
                // on as host rows.
                let timer = metrics.device_time.timer();
                for batch in on_device {
                    metrics.bytes_from_device.add(batch.pool_bytes());
                    batches.push(batch.download(&rt.pool).map_err(external)?);
                }
                timer.done();
            }
        }
    }
    let batch = if batches.is_empty() {
        RecordBatch::new_empty(Arc::clone(&schema))
    } else {
        concat(&schema, batches)?
    };
    reservation.try_grow(batch.get_array_memory_size() + 16 * batch.num_rows())?;
    let keys = spec
        .left_keys
        .iter()
        .map(|p| evaluate(p, &batch))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(external)?;
    reservation.try_grow(keys.iter().map(|k| k.get_array_memory_size()).sum())?;
    let device = match &backend {
        Backend::Host => None,
        Backend::Cuda(rt) => {
            let timer = metrics.device_time.timer();
            let table = build_table(
                &spec,
                rt,
                &keys,
                batch.num_rows(),
                || upload_keys(rt, &keys, &metrics),
                &metrics,
            );
            timer.done();
            table?.map(|table| (Arc::clone(rt), table))
        }
    };
    Ok(Arc::new(BuildSide {
        matchable: any_matchable_row(&keys, batch.num_rows(), spec.nulls),
        matched: Mutex::new(vec![false; batch.num_rows()]),
        remaining: AtomicUsize::new(probe_partitions),
        rows: batch.num_rows(),
        batch: OnceLock::from(Ok(batch)),
        keys,
        table: OnceLock::new(),
        nulls: spec.nulls,
        device,
        device_batch: Mutex::new(DeviceBuildBatch::NotYet),
        runtime: match &backend {
            Backend::Cuda(rt) => Some(Arc::clone(rt)),
            Backend::Host => None,
        },
        reservation,
    }))
}

/// A build side collected on the device.
struct DeviceBuilt {
    rows: usize,
    /// Every build row, on the device.
    batch: DeviceBatch,
    /// The keys, copied back (for the dense-key test and the host table).
    keys: Vec<ArrayRef>,
    /// The device table; `None` when the device ran out of memory building it (the host
    /// table serves instead).
    table: Option<DeviceBuild>,
}

/// The build rows handed over on the device (`on_device`, and `on_host` copied up) as one
/// device batch, its keys evaluated there and the table built from them. Only the keys are
/// copied back. `None` when the device ran out of memory before the batch was whole, or the
/// rows are more than a device table holds (logged; the caller collects the rows on the
/// host).
fn build_on_device(
    spec: &JoinSpec,
    rt: &DeviceRuntime,
    on_device: &[DeviceBatch],
    on_host: &[RecordBatch],
    metrics: &DeviceMetrics,
    reservation: &MemoryReservation,
) -> Result<Option<DeviceBuilt>> {
    let rows: usize = on_device
        .iter()
        .map(DeviceBatch::num_rows)
        .chain(on_host.iter().map(RecordBatch::num_rows))
        .sum();
    if rows > MAX_BUILD_ROWS {
        // `build_table` says so, on the host path.
        return Ok(None);
    }
    let timer = metrics.device_time.timer();
    let joined = (|| -> std::result::Result<DeviceBatch, KernelError> {
        let mut pieces = on_device.to_vec();
        for batch in on_host {
            let up = DeviceBatch::upload(&rt.pool, batch)?;
            metrics.bytes_to_device.add(up.pool_bytes());
            pieces.push(up);
        }
        concat_device(&rt.kernels, &rt.pool, &pieces)
    })();
    let batch = match joined {
        Ok(batch) => batch,
        Err(e) if is_oom(&e) => {
            timer.done();
            metrics.oom_host_batches.add(on_device.len());
            log::warn!("cinder: {e}; this join's build rows are collected on the host");
            return Ok(None);
        }
        Err(e) => return Err(external(e)),
    };
    let rows = batch.num_rows();
    let device_keys = || -> std::result::Result<Vec<DeviceColumn>, KernelError> {
        spec.left_keys
            .iter()
            .map(|p| {
                evaluate_on_device(&rt.kernels, &rt.pool, p, &batch, Timing::Untimed)
                    .map(|(column, _)| column)
            })
            .collect()
    };
    let keys = match device_keys().and_then(|columns| {
        columns
            .iter()
            .map(|c| c.download(&rt.pool).map_err(KernelError::from))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(|host| (columns, host))
    }) {
        Ok((columns, host)) => {
            metrics
                .bytes_from_device
                .add(columns.iter().map(DeviceColumn::pool_bytes).sum());
            (columns, host)
        }
        Err(e) if is_oom(&e) => {
            timer.done();
            metrics.oom_host_batches.add(on_device.len());
            log::warn!("cinder: {e}; this join's build rows are collected on the host");
            return Ok(None);
        }
        Err(e) => return Err(external(e)),
    };
    let (columns, host_keys) = keys;
    reservation.try_grow(
        16 * rows
            + host_keys
                .iter()
                .map(|k| k.get_array_memory_size())
                .sum::<usize>(),
    )?;
    // The keys already evaluated go to the first build; a second one evaluates them again.
    let mut evaluated = Some(columns);
    let table = build_table(
        spec,
        rt,
        &host_keys,
        rows,
        || match evaluated.take() {
            Some(columns) => Ok(columns),
            None => device_keys(),
        },
        metrics,
    );
    timer.done();
    let table = table?;
    Ok(Some(DeviceBuilt {
        rows,
        batch,
        keys: host_keys,
        table,
    }))
}

/// The device table for `rows` build rows with keys `host_keys` (on the host), which
/// `key_columns` puts on the device for each build it tries: the dense-key table when the key
/// range allows, else the hash table. The dense table is sized by the key range, so when the
/// device runs out of memory for it the hash table (sized by the rows) is tried. `None` when
/// the device has no memory for either (logged and counted: the host table serves), or the
/// rows are more than a device table holds ([`MAX_BUILD_ROWS`], logged).
fn build_table(
    spec: &JoinSpec,
    rt: &DeviceRuntime,
    host_keys: &[ArrayRef],
    rows: usize,
    mut key_columns: impl FnMut() -> std::result::Result<Vec<DeviceColumn>, KernelError>,
    metrics: &DeviceMetrics,
) -> Result<Option<DeviceBuild>> {
    if rows > MAX_BUILD_ROWS {
        log::warn!(
            "cinder: a join build side of {rows} rows is more than a device table holds \
             ({MAX_BUILD_ROWS}); it stays on the host reference"
        );
        return Ok(None);
    }
    let mut build = |dense| {
        key_columns().and_then(|columns| {
            build_device(&rt.kernels, &rt.pool, columns, rows, spec.nulls, dense)
        })
    };
    let dense = dense_range(host_keys, rows, spec.nulls);
    let built = match build(dense) {
        Err(e) if dense.is_some() && is_oom(&e) => build(None),
        other => other,
    };
    match built {
        Ok(table) => Ok(Some(table)),
        Err(e) if is_oom(&e) => {
            metrics.cpu_fallback_batches.add(1);
            log::warn!("cinder: {e}; this join's build side stays on the host reference");
            Ok(None)
        }
        Err(e) => Err(external(e)),
    }
}

/// Join keys evaluated on the host, copied to the device (counted in `bytes_to_device`).
fn upload_keys(
    rt: &DeviceRuntime,
    keys: &[ArrayRef],
    metrics: &DeviceMetrics,
) -> std::result::Result<Vec<DeviceColumn>, KernelError> {
    let columns = keys
        .iter()
        .map(|k| DeviceColumn::upload(&rt.pool, k.as_ref()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    metrics
        .bytes_to_device
        .add(columns.iter().map(DeviceColumn::pool_bytes).sum());
    Ok(columns)
}

fn is_oom(e: &KernelError) -> bool {
    matches!(e, KernelError::Cuda(CudaError::OutOfMemory { .. }))
}

/// Whether the join's output is empty whatever the probe side holds, so that the probe side
/// is not read at all, as DataFusion's HashJoinExec does: an empty build side for the join
/// types whose every output row needs a build row (or is one), and a build side none of whose
/// keys can match for those whose every output row needs a match. An error the probe side
/// would raise (a division by zero in a filter, say) then does not happen either.
fn probe_not_needed(kind: JoinKind, build: &BuildSide) -> bool {
    (build.rows == 0 && kind.empty_build_gives_no_rows())
        || (!build.matchable && kind.no_match_gives_no_rows())
}

/// The build batch on the device: not copied yet (or the device was out of memory last
/// time), copied, or not copyable.
#[derive(Debug)]
enum DeviceBuildBatch {
    NotYet,
    Ready(DeviceBatch),
    Unusable,
}

impl BuildSide {
    /// The build batch on the device, copied on first use; `None` when it cannot be (logged;
    /// after out-of-memory the next probe batch tries again).
    fn device_batch(&self, rt: &DeviceRuntime, metrics: &DeviceMetrics) -> Option<DeviceBatch> {
        let ready = |slot: &DeviceBuildBatch| match slot {
            DeviceBuildBatch::Ready(batch) => Some(Some(batch.clone())),
            DeviceBuildBatch::Unusable => Some(None),
            DeviceBuildBatch::NotYet => None,
        };
        if let Some(done) = ready(&*self.device_batch.lock().ok()?) {
            return done;
        }
        // Not on the device yet: the host rows (outside the lock, which `host_batch` takes
        // when it copies rows back), then the upload, unless another partition got there.
        let host = match self.host_batch(metrics) {
            Ok(host) => host,
            Err(e) => {
                log::warn!("cinder: {e}; this join's output is gathered on the host");
                return None;
            }
        };
        let mut slot = self.device_batch.lock().ok()?;
        if let Some(done) = ready(&slot) {
            return done;
        }
        match DeviceBatch::upload(&rt.pool, host) {
            Ok(batch) => {
                metrics.bytes_to_device.add(batch.pool_bytes());
                *slot = DeviceBuildBatch::Ready(batch.clone());
                Some(batch)
            }
            Err(e @ CudaError::OutOfMemory { .. }) => {
                metrics.oom_host_batches.add(1);
                log::warn!("cinder: {e}; this join batch's output is gathered on the host");
                None
            }
            Err(e) => {
                log::warn!(
                    "cinder: {e}; this join's output is gathered on the host instead of \
                     staying on the device"
                );
                *slot = DeviceBuildBatch::Unusable;
                None
            }
        }
    }

    /// The build rows on the host: as collected, or copied back from the device on first use
    /// (counted in `bytes_from_device` and reserved in DataFusion's memory pool).
    fn host_batch(&self, metrics: &DeviceMetrics) -> Result<&RecordBatch> {
        let failed = |why: &str| Arc::new(DataFusionError::Execution(why.to_string()));
        self.batch
            .get_or_init(|| {
                let on_device = match self.device_batch.lock() {
                    Ok(slot) => match &*slot {
                        DeviceBuildBatch::Ready(batch) => batch.clone(),
                        _ => {
                            return Err(failed(
                                "the build rows are neither on the host nor on the device",
                            ));
                        }
                    },
                    Err(_) => return Err(failed("the join's build lock is poisoned")),
                };
                let Some(rt) = &self.runtime else {
                    return Err(failed("build rows on the device without a device"));
                };
                let timer = metrics.device_time.timer();
                let batch = on_device.download(&rt.pool);
                timer.done();
                let batch = batch.map_err(|e| Arc::new(external(e)))?;
                metrics.bytes_from_device.add(on_device.pool_bytes());
                self.reservation
                    .try_grow(batch.get_array_memory_size())
                    .map_err(Arc::new)?;
                Ok(batch)
            })
            .as_ref()
            .map_err(DataFusionError::from)
    }

    /// The host reference's table, built on first use.
    fn host_table(&self) -> Result<&BuildTable> {
        self.table
            .get_or_init(|| {
                BuildTable::new(&self.keys, self.rows, self.nulls).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| DataFusionError::Execution(e.clone()))
    }
}

/// The join's output rows for `indices`, projected and labelled as the declared schema.
fn output(
    spec: &JoinSpec,
    build: &RecordBatch,
    probe: &RecordBatch,
    indices: &JoinIndices,
) -> Result<RecordBatch> {
    let joined = gather(spec.kind, build, probe, indices, &spec.join_schema).map_err(external)?;
    let joined = match &spec.projection {
        Some(p) => joined.project(p)?,
        None => joined,
    };
    let options = RecordBatchOptions::new().with_row_count(Some(joined.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(&spec.out_schema),
        joined.columns().to_vec(),
        &options,
    )?)
}

/// The join types whose probe batches [`join_on_device`] joins on the device: every one
/// whose output a probe batch settles with its own pairs (Inner, and Left's matched rows),
/// whose build rows are settled at the end from marks (Left, LeftSemi, LeftAnti), or whose
/// rows are the probe rows that matched or did not (RightSemi, RightAnti). Right and Full
/// joins, whose unmatched probe rows need null build columns, stay on the host path.
fn device_output_kind(kind: JoinKind) -> bool {
    matches!(
        kind,
        JoinKind::Inner
            | JoinKind::Left
            | JoinKind::LeftSemi
            | JoinKind::LeftAnti
            | JoinKind::RightSemi
            | JoinKind::RightAnti
    )
}

/// One probe batch joined on the device (with `key_columns`, its keys), its output left
/// there: the pairs and the residual filter chunk by chunk, then by join type
/// ([`device_output_kind`]):
/// - Inner and Left: the columns the join's projection keeps, gathered by each chunk's kept
///   pairs;
/// - Left, LeftSemi and LeftAnti: the build rows the kept pairs name, marked in
///   `build_marks`, from which the end of probing settles the build rows;
/// - RightSemi and RightAnti: the probe rows some kept pair names (or that none names),
///   compacted once the batch is done.
///
/// On an error nothing has been handed out. `build_marks` may then hold marks of this
/// batch's kept pairs, which the host path that redoes the batch marks too.
#[allow(clippy::too_many_arguments)]
fn join_on_device(
    spec: &JoinSpec,
    rt: &DeviceRuntime,
    device_build: &DeviceBuild,
    build_batch: &DeviceBatch,
    probe_batch: &DeviceBatch,
    key_columns: &[DeviceColumn],
    budget: usize,
    build_marks: Option<&mut DeviceMarks>,
) -> std::result::Result<Vec<DeviceBatch>, KernelError> {
    let kind = spec.kind;
    let gathers = matches!(kind, JoinKind::Inner | JoinKind::Left);
    let probe_rows_out = matches!(kind, JoinKind::RightSemi | JoinKind::RightAnti);
    // The output columns as (side, column): the join schema is the build columns, then the
    // probe columns; only those the projection keeps are gathered.
    let build_columns = build_batch.columns().len();
    let side_of = |i: usize| {
        if i < build_columns {
            (Side::Build, i)
        } else {
            (Side::Probe, i - build_columns)
        }
    };
    let wanted: Vec<(Side, usize)> = match &spec.projection {
        Some(p) => p.iter().map(|&i| side_of(i)).collect(),
        None => (0..spec.join_schema.fields().len()).map(side_of).collect(),
    };
    let refs: Vec<&DeviceColumn> = key_columns.iter().collect();
    let rows = probe_batch.num_rows();
    let mut prober = probe_device(&rt.kernels, &rt.pool, device_build, &refs, rows)?;
    let mut probe_marks = if probe_rows_out {
        Some(DeviceMarks::new(&rt.pool, rows)?)
    } else {
        None
    };
    let mut build_marks = build_marks;
    let mut out = Vec::new();
    while let Some(pairs) = prober.next_chunk_on_device(&rt.kernels, &rt.pool, budget)? {
        let pairs = match &spec.filter {
            Some(f) => {
                keep_pairs_device(&rt.kernels, &rt.pool, f, build_batch, probe_batch, pairs)?
            }
            None => pairs,
        };
        if pairs.is_empty() {
            continue;
        }
        if let Some(marks) = build_marks.as_deref_mut() {
            marks.mark(&rt.kernels, &rt.pool, &pairs.build)?;
        }
        if let Some(marks) = probe_marks.as_mut() {
            marks.mark(&rt.kernels, &rt.pool, &pairs.probe)?;
        }
        if !gathers {
            continue;
        }
        let columns = gather_pair_columns(
            &rt.kernels,
            &rt.pool,
            build_batch,
            probe_batch,
            &pairs,
            &wanted,
        )?;
        out.push(DeviceBatch::try_new(
            Arc::clone(&spec.out_schema),
            columns,
            pairs.len(),
        )?);
    }
    if let Some(marks) = probe_marks {
        // The join schema of RightSemi and RightAnti is the probe side's.
        let selection = marks.selection(&rt.kernels, &rt.pool, kind == JoinKind::RightAnti)?;
        let projected = match &spec.projection {
            Some(p) => probe_batch.project(p)?,
            None => probe_batch.clone(),
        };
        let kept = compact_device(&rt.kernels, &rt.pool, &selection, &projected)?;
        if kept.num_rows() > 0 {
            let rows = kept.num_rows();
            out.push(DeviceBatch::try_from_shared(
                Arc::clone(&spec.out_schema),
                kept.into_columns(),
                rows,
            )?);
        }
    }
    Ok(out)
}

/// The build marks of a partition's device batches, made on first use for the join types
/// that settle build rows at the end (Left, LeftSemi, LeftAnti); `None` for the others.
fn build_marks_for<'m>(
    spec: &JoinSpec,
    rt: &DeviceRuntime,
    rows: usize,
    slot: &'m mut Option<DeviceMarks>,
) -> std::result::Result<Option<&'m mut DeviceMarks>, KernelError> {
    if !spec.kind.emits_build_remainder() {
        return Ok(None);
    }
    if slot.is_none() {
        *slot = Some(DeviceMarks::new(&rt.pool, rows)?);
    }
    Ok(slot.as_mut())
}

/// A join of a probe batch already on the device, kept there: the keys evaluated by the
/// device interpreter, then [`join_on_device`]. `None` when the caller should take the host
/// path instead: no device build table or batch, or the device ran out of memory (logged).
fn try_join_on_device(
    spec: &JoinSpec,
    build: &BuildSide,
    rt: &DeviceRuntime,
    probe: &DeviceBatch,
    budget: usize,
    metrics: &DeviceMetrics,
    build_marks: &mut Option<DeviceMarks>,
) -> Result<Option<Vec<Handoff>>> {
    let Some((build_rt, device_build)) = &build.device else {
        return Ok(None);
    };
    let Some(build_batch) = build.device_batch(build_rt, metrics) else {
        return Ok(None);
    };
    let timer = metrics.device_time.timer();
    let out = spec
        .right_keys
        .iter()
        .map(|p| {
            evaluate_on_device(&rt.kernels, &rt.pool, p, probe, Timing::Untimed)
                .map(|(column, _)| column)
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .and_then(|keys| {
            let marks = build_marks_for(spec, rt, build.rows, build_marks)?;
            join_on_device(
                spec,
                rt,
                device_build,
                &build_batch,
                probe,
                &keys,
                budget,
                marks,
            )
        });
    timer.done();
    metrics.peak_device_bytes.set_max(rt.pool.stats().peak);
    match out {
        Ok(batches) => Ok(Some(batches.into_iter().map(Handoff::Device).collect())),
        Err(e) if is_oom(&e) => {
            metrics.oom_host_batches.add(1);
            log::warn!(
                "cinder: {e}; this join batch of {} probe rows goes through the host",
                probe.num_rows()
            );
            Ok(None)
        }
        Err(e) => Err(external(e)),
    }
}

/// One probe batch handed over on the device (by a resident scan or a Cinder operator
/// below): joined there when the output may stay on the device, otherwise copied back and
/// probed as a host batch.
#[allow(clippy::too_many_arguments)]
fn probe_device_batch(
    spec: &JoinSpec,
    build: &BuildSide,
    rt: &DeviceRuntime,
    probe: DeviceBatch,
    assembler: &mut JoinAssembler,
    budget: usize,
    metrics: &DeviceMetrics,
    device_output: bool,
    build_marks: &mut Option<DeviceMarks>,
) -> Result<Vec<Handoff>> {
    if device_output
        && let Some(out) =
            try_join_on_device(spec, build, rt, &probe, budget, metrics, build_marks)?
    {
        return Ok(out);
    }
    let timer = metrics.device_time.timer();
    let host = probe.download(&rt.pool).map_err(external)?;
    timer.done();
    metrics.bytes_from_device.add(probe.pool_bytes());
    drop(probe);
    probe_batch(
        spec,
        build,
        &host,
        assembler,
        budget,
        metrics,
        false,
        build_marks,
    )
}

/// One probe batch through the build side: its output batches, in order. With
/// `device_output`, the output stays on the device where it can ([`join_on_device`]).
#[allow(clippy::too_many_arguments)]
fn probe_batch(
    spec: &JoinSpec,
    build: &BuildSide,
    probe: &RecordBatch,
    assembler: &mut JoinAssembler,
    budget: usize,
    metrics: &DeviceMetrics,
    device_output: bool,
    build_marks: &mut Option<DeviceMarks>,
) -> Result<Vec<Handoff>> {
    if let (true, Some((rt, _))) = (device_output, &build.device) {
        // The probe batch goes up whole; the join runs on it there.
        let timer = metrics.device_time.timer();
        let uploaded = DeviceBatch::upload(&rt.pool, probe);
        timer.done();
        match uploaded {
            Ok(on_device) => {
                metrics.bytes_to_device.add(on_device.pool_bytes());
                if let Some(out) =
                    try_join_on_device(spec, build, rt, &on_device, budget, metrics, build_marks)?
                {
                    return Ok(out);
                }
            }
            Err(e @ CudaError::OutOfMemory { .. }) => {
                metrics.oom_host_batches.add(1);
                log::warn!(
                    "cinder: {e}; this join batch of {} probe rows goes through the host",
                    probe.num_rows()
                )
            }
            Err(e) => return Err(external(e)),
        }
    }
    let keys = spec
        .right_keys
        .iter()
        .map(|p| evaluate(p, probe))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(external)?;
    let mut probe_matched = vec![false; probe.num_rows()];
    let mut out = Vec::new();
    let mut take = |pairs: Pairs, out: &mut Vec<Handoff>| -> Result<()> {
        let kept = match &spec.filter {
            Some(f) => f
                .keep(build.host_batch(metrics)?, probe, &pairs)
                .map_err(external)?,
            None => vec![true; pairs.build.len()],
        };
        let indices = assembler.chunk(&pairs, &kept, &mut probe_matched);
        if !indices.is_empty() {
            out.push(Handoff::Host(output(
                spec,
                build.host_batch(metrics)?,
                probe,
                &indices,
            )?));
        }
        Ok(())
    };
    if let Some((rt, device_build)) = &build.device {
        // The probe keys go to the device; the pairs come back chunk by chunk.
        let timer = metrics.device_time.timer();
        let probed = upload_keys(rt, &keys, metrics).and_then(|columns| {
            let refs: Vec<&DeviceColumn> = columns.iter().collect();
            probe_device(&rt.kernels, &rt.pool, device_build, &refs, probe.num_rows())
        });
        timer.done();
        match probed {
            Ok(mut prober) => {
                loop {
                    let timer = metrics.device_time.timer();
                    let chunk = prober.next_chunk(&rt.kernels, &rt.pool, budget);
                    timer.done();
                    match chunk.map_err(external)? {
                        Some(pairs) => {
                            metrics.bytes_from_device.add(pairs.build.len() * 8);
                            take(pairs, &mut out)?;
                        }
                        None => break,
                    }
                }
                metrics.peak_device_bytes.set_max(rt.pool.stats().peak);
                return Ok(out);
            }
            Err(e) if is_oom(&e) => {
                metrics.cpu_fallback_batches.add(1);
                log::warn!(
                    "cinder: {e}; probing this batch of {} rows on the host reference",
                    probe.num_rows()
                );
            }
            Err(e) => return Err(external(e)),
        }
    }
    let mut prober = build
        .host_table()?
        .prober(&keys, probe.num_rows())
        .map_err(external)?;
    while let Some(pairs) = prober.next_chunk(budget) {
        take(pairs, &mut out)?;
    }
    Ok(out)
}

/// One output partition's state: the build side once it is ready, the probe stream, and
/// output batches not yet handed out.
struct JoinStream<P> {
    spec: Arc<JoinSpec>,
    build_fut: SharedBuild,
    build: Option<Arc<BuildSide>>,
    assembler: Option<JoinAssembler>,
    probe: P,
    probe_schema: SchemaRef,
    /// The device of the join's backend (cuda mode): where handed-over probe batches are.
    runtime: Option<Arc<DeviceRuntime>>,
    pending: VecDeque<Handoff>,
    /// Whether the join's output may stay on the device (see the module docs).
    device_output: bool,
    /// The build rows this partition's device batches matched (Left, LeftSemi, LeftAnti
    /// with device output), merged into the assembler's flags at the end of probing.
    build_marks: Option<DeviceMarks>,
    /// The output needs no probe rows ([`probe_not_needed`]): the probe side is not read.
    skip_probe: bool,
    finished: bool,
    failed: bool,
    budget: usize,
    baseline: BaselineMetrics,
    metrics: DeviceMetrics,
}

impl<P> JoinStream<P>
where
    P: futures::Stream<Item = Result<Handoff>> + Unpin,
{
    /// The next output batch; `None` at the end (or after an error was handed out).
    async fn next(&mut self) -> Option<Result<Handoff>> {
        let result = self.step().await;
        if matches!(result, Some(Err(_))) {
            self.failed = true;
        }
        result
    }

    async fn step(&mut self) -> Option<Result<Handoff>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(match item {
                    Handoff::Host(batch) => Handoff::Host(batch.record_output(&self.baseline)),
                    Handoff::Device(batch) => {
                        self.baseline.record_output(batch.num_rows());
                        Handoff::Device(batch)
                    }
                }));
            }
            if self.finished {
                return None;
            }
            let build = match &self.build {
                Some(b) => Arc::clone(b),
                None => match self.build_fut.clone().await {
                    Ok(b) => {
                        self.assembler = Some(JoinAssembler::new(self.spec.kind, b.rows));
                        self.skip_probe = probe_not_needed(self.spec.kind, &b);
                        self.build = Some(Arc::clone(&b));
                        b
                    }
                    Err(e) => return Some(Err(DataFusionError::Shared(e))),
                },
            };
            let assembler = self.assembler.as_mut().expect("set with the build side");
            let next = if self.skip_probe {
                None
            } else {
                self.probe.next().await
            };
            match next {
                Some(Ok(item)) => {
                    let _timer = self.baseline.elapsed_compute().timer();
                    let out = match (item, &self.runtime) {
                        (Handoff::Host(batch), _) => probe_batch(
                            &self.spec,
                            &build,
                            &batch,
                            assembler,
                            self.budget,
                            &self.metrics,
                            self.device_output,
                            &mut self.build_marks,
                        ),
                        (Handoff::Device(batch), Some(rt)) => probe_device_batch(
                            &self.spec,
                            &build,
                            rt,
                            batch,
                            assembler,
                            self.budget,
                            &self.metrics,
                            self.device_output,
                            &mut self.build_marks,
                        ),
                        (Handoff::Device(_), None) => Err(DataFusionError::Internal(
                            "a device batch was handed to a join on the host reference".into(),
                        )),
                    };
                    match out {
                        Ok(out) => self.pending.extend(out),
                        Err(e) => return Some(Err(e)),
                    }
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    self.finished = true;
                    if !self.spec.kind.emits_build_remainder() {
                        continue;
                    }
                    // The build rows the device batches matched join the host's flags.
                    if let Some(marks) = self.build_marks.take() {
                        let Some(rt) = &self.runtime else {
                            return Some(Err(DataFusionError::Internal(
                                "device marks of a join on the host reference".into(),
                            )));
                        };
                        let timer = self.metrics.device_time.timer();
                        let flags = marks.flags(&rt.pool);
                        timer.done();
                        match flags {
                            Ok(flags) => {
                                self.metrics.bytes_from_device.add(flags.len().div_ceil(8));
                                for (m, device) in assembler.build_matched.iter_mut().zip(flags) {
                                    *m |= device;
                                }
                            }
                            Err(e) => return Some(Err(external(e))),
                        }
                    }
                    // The last probe partition settles the build rows from every
                    // partition's matches (CollectLeft); a Partitioned one from its own.
                    let settle = if self.spec.collect_left {
                        let Ok(mut matched) = build.matched.lock() else {
                            return Some(Err(DataFusionError::Internal(
                                "the join's match lock is poisoned".into(),
                            )));
                        };
                        for (m, mine) in matched.iter_mut().zip(&assembler.build_matched) {
                            *m |= *mine;
                        }
                        if build.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                            assembler.build_matched = matched.clone();
                            true
                        } else {
                            false
                        }
                    } else {
                        true
                    };
                    if settle {
                        let indices = assembler.finish();
                        if !indices.is_empty() {
                            let empty = RecordBatch::new_empty(Arc::clone(&self.probe_schema));
                            let out = build
                                .host_batch(&self.metrics)
                                .and_then(|host| output(&self.spec, host, &empty, &indices));
                            match out {
                                Ok(b) => self.pending.push_back(Handoff::Host(b)),
                                Err(e) => return Some(Err(e)),
                            }
                        }
                    }
                }
            }
        }
    }
}

impl DisplayAs for CinderHashJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = original_line(self.original.as_ref());
        write!(
            f,
            "CinderHashJoinExec: {line} [{}]",
            self.core.backend.label()
        )
    }
}

impl ExecutionPlan for CinderHashJoinExec {
    fn name(&self) -> &str {
        "CinderHashJoinExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.original.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.original.statistics_from_inputs(input_stats, args)
    }

    #[allow(deprecated)]
    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.original.required_input_distribution()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.original.maintains_input_order()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.original.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.original.apply_expressions(f)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let original = Arc::clone(&self.original).with_new_children(children)?;
        let new = original.children();
        check_input_schema(self.name(), &self.left, new[0])?;
        check_input_schema(self.name(), &self.right, new[1])?;
        let (left, right) = (Arc::clone(new[0]), Arc::clone(new[1]));
        Ok(Arc::new(Self {
            original,
            left,
            right,
            spec: Arc::clone(&self.spec),
            build: Mutex::new(None),
            core: self.core.renewed(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let pool = match &self.core.backend {
            Backend::Cuda(rt) => Some(Arc::clone(rt)),
            Backend::Host => None,
        };
        let stream = self
            .items(partition, context, false)?
            .map(move |item| match item? {
                Handoff::Host(batch) => Ok(batch),
                // Not produced without device output; copied back all the same.
                Handoff::Device(batch) => match &pool {
                    Some(rt) => batch.download(&rt.pool).map_err(external),
                    None => Err(DataFusionError::Internal(
                        "a device batch from a join on the host reference".into(),
                    )),
                },
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.core.metrics.clone_inner())
    }
}

impl CinderHashJoinExec {
    /// Partition `partition` for a Cinder operator on `consumer`'s backend: the output as
    /// handed over batches, left on the device (with `cinder.device_regions`, for an Inner
    /// join whose consumer runs on the same device) or on the host.
    pub(crate) fn execute_handoff(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
        consumer: &Backend,
    ) -> Result<HandoffStream> {
        let same_device = match (&self.core.backend, consumer) {
            (Backend::Cuda(mine), Backend::Cuda(theirs)) => Arc::ptr_eq(mine, theirs),
            _ => false,
        };
        let device_output = self.core.device_regions
            && same_device
            && device_output_kind(self.spec.kind)
            && device_gatherable(&self.left.schema())
            && device_gatherable(&self.right.schema());
        Ok(self.items(partition, context, device_output)?.boxed())
    }

    /// The output of partition `partition` as handed-over batches.
    fn items(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
        device_output: bool,
    ) -> Result<impl futures::Stream<Item = Result<Handoff>> + Send + 'static> {
        let spec = Arc::clone(&self.spec);
        let probe_partitions = self.right.output_partitioning().partition_count();
        let metrics = DeviceMetrics::new(&self.core.metrics, partition);
        let build: SharedBuild = if spec.collect_left {
            let mut slot = self.build.lock().map_err(|_| {
                DataFusionError::Internal("the join's build lock is poisoned".into())
            })?;
            match &*slot {
                Some(build) => build.clone(),
                None => {
                    let build = collect_build(
                        self.build_input(&context)?,
                        self.left.schema(),
                        Arc::clone(&context),
                        Arc::clone(&spec),
                        probe_partitions,
                        self.core.backend.clone(),
                        metrics.clone(),
                    )
                    .map(|r| r.map_err(Arc::new))
                    .boxed()
                    .shared();
                    *slot = Some(build.clone());
                    build
                }
            }
        } else {
            collect_build(
                BuildInput::Plan(Arc::clone(&self.left), partition..partition + 1),
                self.left.schema(),
                Arc::clone(&context),
                Arc::clone(&spec),
                1,
                self.core.backend.clone(),
                metrics.clone(),
            )
            .map(|r| r.map_err(Arc::new))
            .boxed()
            .shared()
        };
        let probe_schema = self.right.schema();
        // Probe batches as a Cinder producer below hands them over (on the device, with
        // device regions), or DataFusion's stream coalesced.
        let probe: HandoffStream =
            match self.core.handoff_input(&self.right, partition, &context)? {
                Some(items) => items,
                None => coalesce(
                    self.right.execute(partition, context)?,
                    self.core.batch_rows,
                )
                .map(|b| b.map(Handoff::Host))
                .boxed(),
            };
        let runtime = match &self.core.backend {
            Backend::Cuda(rt) => Some(Arc::clone(rt)),
            Backend::Host => None,
        };
        let budget = self.core.batch_rows.max(1);
        let baseline = BaselineMetrics::new(&self.core.metrics, partition);
        let state = JoinStream {
            spec,
            build_fut: build,
            build: None,
            assembler: None,
            probe,
            probe_schema,
            runtime,
            pending: VecDeque::new(),
            device_output,
            build_marks: None,
            skip_probe: false,
            finished: false,
            failed: false,
            budget,
            baseline,
            metrics,
        };
        Ok(futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        }))
    }
}

impl CinderHashJoinExec {
    /// Where a CollectLeft join's build rows come from. With `cinder.device_regions`, when
    /// the build side is a Cinder producer (or a `CoalescePartitionsExec` over one, as
    /// DataFusion collects a build side), every partition of the producer hands its batches
    /// over: on the device in cuda mode, where the build side is then collected. Otherwise
    /// the build side's partitions run as DataFusion streams.
    fn build_input(&self, context: &Arc<TaskContext>) -> Result<BuildInput> {
        let whole = || {
            BuildInput::Plan(
                Arc::clone(&self.left),
                0..self.left.output_partitioning().partition_count(),
            )
        };
        if !self.core.device_regions || !device_gatherable(&self.left.schema()) {
            return Ok(whole());
        }
        let source = match self.left.downcast_ref::<CoalescePartitionsExec>() {
            Some(coalesce) if coalesce.fetch().is_none() => coalesce.input(),
            _ => &self.left,
        };
        let mut streams = Vec::new();
        for p in 0..source.output_partitioning().partition_count() {
            match self.core.handoff_input(source, p, context)? {
                Some(items) => streams.push(items),
                None => return Ok(whole()),
            }
        }
        Ok(BuildInput::Handoff(streams))
    }
}

/// Whether every column of `schema` can be gathered on the device (no dictionaries).
fn device_gatherable(schema: &SchemaRef) -> bool {
    schema.fields().iter().all(|f| {
        !matches!(f.data_type(), DataType::Dictionary(..)) && check_supported(f.data_type()).is_ok()
    })
}
