//! A running plan, the handles Java holds, and the zero-copy batch description.
//!
//! Java never holds a native pointer: plans and exported buffers live in process-wide
//! registries keyed by numbers. A stale, repeated or invented handle is an error (an
//! `IllegalStateException` in Java), never a use-after-free, and releasing a buffer twice is
//! detected rather than freeing memory twice.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{Array, ArrayData, MutableArrayData};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, displayable};
use datafusion::prelude::SessionConfig;
use futures::StreamExt;

use cinder_planner::{CinderConfig, CinderRule, DeviceChoice};

use crate::error::{NativeError, Result};
use crate::input::BatchSource;
use crate::message::{PlanMessage, Settings};
use crate::planner::{Leaves, arrow_schema, build_plan, check_output, conform};
use crate::shuffle::ShuffleWriter;

/// The tokio runtime the native plans run on (one per process).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("cinder-native")
            .enable_all()
            .build()
            .expect("cinder: cannot start the native tokio runtime")
    })
}

/// Wakes the thread that runs a [`block_on`] (each call has its own flag).
struct ThreadWaker {
    thread: std::thread::Thread,
    woken: AtomicBool,
}

impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `future` to completion on the calling thread, inside the native runtime's context
/// (so DataFusion can spawn tasks and blocking reads on it).
///
/// Not tokio's `Runtime::block_on`, because calls nest: a native plan's `input` leaf pulls
/// rows from Spark on the task's thread, and those rows may come from another native plan of
/// the same task (a native scan under a Spark operator under a native join), whose batches are
/// then read by a nested call on the same thread. Tokio forbids that nesting; this loop does
/// not care. Each call waits on its own flag, so a wake-up meant for an outer call is never
/// lost to an inner one's park.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let _guard = runtime().enter();
    let waker = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let task_waker = std::task::Waker::from(Arc::clone(&waker));
    let mut context = std::task::Context::from_waker(&task_waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return out;
        }
        while !waker.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

/// One task's running plan.
pub struct NativePlan {
    plan: Arc<dyn ExecutionPlan>,
    output: SchemaRef,
    stream: Option<SendableRecordBatchStream>,
    /// A native shuffle's map side: the batches become blocks.
    shuffle: Option<ShuffleWriter>,
    /// Whether the shuffle writer has had the last batch.
    shuffle_finished: bool,
}

impl std::fmt::Debug for NativePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlan")
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl NativePlan {
    /// Parses, checks and plans a message; nothing is read until the first batch.
    pub fn create(bytes: &[u8]) -> Result<Self> {
        Self::create_with_inputs(bytes, Vec::new())
    }

    /// Checks a message as `create` would (parsing, translation, output types) without
    /// reading anything: what the plugin asks on the driver before it converts a subtree.
    pub fn check(bytes: &[u8]) -> Result<()> {
        let message = PlanMessage::parse(bytes)?;
        let as_plan_error = |e: NativeError| match e {
            NativeError::Execution(m) => NativeError::Plan(m),
            other => other,
        };
        if !matches!(
            message.settings.device.as_str(),
            "auto" | "cuda" | "host" | "cpu"
        ) {
            return Err(NativeError::plan(format!(
                "device {:?} is not one of auto, cuda, host, cpu",
                message.settings.device
            )));
        }
        let output = arrow_schema(&message.output)?;
        let leaves = Leaves {
            files: &[],
            settings: &message.settings,
            sources: (0..message.root.input_count())
                .map(|_| Arc::new(Mutex::new(None)))
                .collect(),
            share_keys: Vec::new(),
        };
        let plan = build_plan(&message.root, &leaves).map_err(as_plan_error)?;
        check_output(&plan, &output)?;
        if let Some(spec) = &message.shuffle {
            ShuffleWriter::new(spec, Arc::new(output), message.settings.batch_rows)
                .map_err(as_plan_error)?;
        }
        Ok(())
    }

    /// [`NativePlan::create`] for a plan whose `input` leaves read `sources` (the leaf with
    /// `slot` i reads `sources[i]`).
    pub fn create_with_inputs(bytes: &[u8], sources: Vec<Box<dyn BatchSource>>) -> Result<Self> {
        let message = PlanMessage::parse(bytes)?;
        let wanted = message.root.input_count();
        if wanted != sources.len() {
            return Err(NativeError::plan(format!(
                "the plan reads {wanted} input(s) but {} were given",
                sources.len()
            )));
        }
        let as_plan_error = |e: NativeError| match e {
            NativeError::Execution(m) => NativeError::Plan(m),
            other => other,
        };
        let output = Arc::new(arrow_schema(&message.output)?);
        let share_keys = sources.iter().map(|s| s.share_key()).collect();
        let leaves = Leaves {
            files: &message.files,
            settings: &message.settings,
            share_keys,
            sources: sources
                .into_iter()
                .map(|source| Arc::new(Mutex::new(Some(source))))
                .collect(),
        };
        let plan = build_plan(&message.root, &leaves).map_err(as_plan_error)?;
        check_output(&plan, &output)?;
        let shuffle = message
            .shuffle
            .as_ref()
            .map(|spec| ShuffleWriter::new(spec, Arc::clone(&output), message.settings.batch_rows))
            .transpose()
            .map_err(as_plan_error)?;
        let (plan, config) = optimize(plan, &message.settings).map_err(as_plan_error)?;
        let context = task_context(config, &message.settings)?;
        let _guard = runtime().enter();
        let stream = plan.execute(0, context)?;
        Ok(Self {
            plan,
            output,
            stream: Some(stream),
            shuffle,
            shuffle_finished: false,
        })
    }

    /// Whether this plan is a native shuffle's map task (read it with [`Self::next_block`]).
    pub fn is_shuffle(&self) -> bool {
        self.shuffle.is_some()
    }

    /// A shuffle map task's next block (see [`crate::shuffle`]), `None` at the end; rows
    /// taken in so far come with it.
    pub fn next_block(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            let Some(writer) = self.shuffle.as_mut() else {
                return Err(NativeError::Execution(
                    "this native plan is not a shuffle's map task".into(),
                ));
            };
            if let Some(block) = writer.pop() {
                return Ok(Some(block));
            }
            if self.shuffle_finished {
                return Ok(None);
            }
            match self.next_batch()? {
                Some(batch) => self.shuffle.as_mut().expect("checked above").push(batch)?,
                None => {
                    self.shuffle_finished = true;
                    self.shuffle.as_mut().expect("checked above").finish()?;
                }
            }
        }
    }

    /// Rows a shuffle map task has taken in so far (0 for other plans).
    pub fn shuffle_rows(&self) -> u64 {
        self.shuffle.as_ref().map_or(0, ShuffleWriter::rows)
    }

    /// What those rows would take as Spark's `UnsafeRow`s (0 for other plans).
    pub fn shuffle_unsafe_row_bytes(&self) -> u64 {
        self.shuffle
            .as_ref()
            .map_or(0, ShuffleWriter::unsafe_row_bytes)
    }

    /// The next batch, cast to Spark's types; `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        loop {
            match block_on(stream.next()) {
                None => {
                    self.stream = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.stream = None;
                    return Err(e.into());
                }
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) => return conform(batch, &self.output).map(Some),
            }
        }
    }

    /// The bytes the plan's operators spilled to disk so far (DataFusion's `spilled_bytes`).
    pub fn spilled_bytes(&self) -> usize {
        fn spilled(plan: &Arc<dyn ExecutionPlan>) -> usize {
            let own = plan.metrics().and_then(|m| m.spilled_bytes()).unwrap_or(0);
            own + plan.children().into_iter().map(spilled).sum::<usize>()
        }
        spilled(&self.plan)
    }

    /// The physical plan, indented, as EXPLAIN shows it.
    pub fn explain(&self) -> String {
        displayable(self.plan.as_ref()).indent(true).to_string()
    }
}

/// Where native plans with a memory limit spill: the directories Java gave
/// ([`set_spill_directories`], Spark's local directories), and the disk manager over them once
/// a plan needed it (none: the OS's temporary directory).
#[derive(Default)]
struct SpillDisk {
    dirs: Vec<PathBuf>,
    disk: Option<Arc<DiskManager>>,
}

fn spill_disk() -> &'static Mutex<SpillDisk> {
    static DISK: OnceLock<Mutex<SpillDisk>> = OnceLock::new();
    DISK.get_or_init(|| Mutex::new(SpillDisk::default()))
}

/// Makes the plans created from now on spill into `dirs` (into one new directory in each,
/// made when a plan with a memory limit first starts; its files are removed as their plans
/// end, the directory when the last plan using it ends after another call replaced it); no
/// directories: the OS's temporary one.
pub fn set_spill_directories(dirs: Vec<PathBuf>) {
    *lock(spill_disk()) = SpillDisk { dirs, disk: None };
}

/// The disk manager of plans with a memory limit: over the spill directories, made on first
/// use; where they cannot be used (not writable, say), the OS's temporary directory, with a
/// warning.
fn limited_plans_disk() -> Option<Arc<DiskManager>> {
    let mut spill = lock(spill_disk());
    if spill.disk.is_none() && !spill.dirs.is_empty() {
        match DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(spill.dirs.clone()))
            .build()
        {
            Ok(disk) => spill.disk = Some(Arc::new(disk)),
            Err(e) => {
                log::warn!(
                    "cinder: cannot spill into {:?} ({e}); native plans spill into the OS's \
                     temporary directory",
                    spill.dirs
                );
                spill.dirs.clear();
            }
        }
    }
    spill.disk.clone()
}

/// The task context a plan runs in: `config`, and for a plan with a `memory_limit` a memory
/// pool of that size, whose sorts and aggregations spill past it (into the spill directories),
/// and which names its largest consumers when an operator that cannot spill runs out. Without
/// a limit, DataFusion's default runtime (an unbounded pool).
fn task_context(config: SessionConfig, settings: &Settings) -> Result<Arc<TaskContext>> {
    let context = TaskContext::default().with_session_config(config);
    if settings.memory_limit == 0 {
        return Ok(Arc::new(context));
    }
    let limit = usize::try_from(settings.memory_limit).unwrap_or(usize::MAX);
    let mut runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(TrackConsumersPool::new(
        FairSpillPool::new(limit),
        NonZeroUsize::new(3).expect("3 > 0"),
    )));
    runtime.disk_manager = limited_plans_disk();
    Ok(Arc::new(context.with_runtime(runtime.build_arc()?)))
}

/// Applies Cinder's rule for the settings' device (`cpu`: none), with a session config that
/// carries it.
fn optimize(
    plan: Arc<dyn ExecutionPlan>,
    settings: &Settings,
) -> Result<(Arc<dyn ExecutionPlan>, SessionConfig)> {
    let mut cinder = CinderConfig::default();
    let choice = match settings.device.as_str() {
        "cpu" => None,
        "auto" => Some(DeviceChoice::Auto),
        "cuda" => Some(DeviceChoice::Cuda),
        "host" => Some(DeviceChoice::Host),
        other => {
            return Err(NativeError::plan(format!(
                "device {other:?} is not one of auto, cuda, host, cpu"
            )));
        }
    };
    cinder.enabled = choice.is_some();
    if let Some(choice) = choice {
        cinder.device = choice;
    }
    // Spark hands over one task's rows at a time: let Cinder take every operator it supports.
    cinder.min_rows = 0;
    cinder.device_regions = settings.device_regions;
    let mut config = SessionConfig::new().with_option_extension(cinder);
    if settings.memory_limit > 0 {
        // Each sort keeps this much back to merge its sorted runs: of a small limit, half
        // shared among the plan's sorts.
        let sorts = sorts(&plan).max(1) as u64;
        let share = usize::try_from(settings.memory_limit / 2 / sorts).unwrap_or(usize::MAX);
        let spill = &mut config.options_mut().execution.sort_spill_reservation_bytes;
        *spill = (*spill).min(share);
    }
    let plan = if choice.is_some() {
        CinderRule.optimize(plan, config.options())?
    } else {
        plan
    };
    Ok((plan, config))
}

/// The sorts in `plan`.
fn sorts(plan: &Arc<dyn ExecutionPlan>) -> usize {
    usize::from(plan.name() == "SortExec") + plan.children().into_iter().map(sorts).sum::<usize>()
}

fn next_id() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn plans() -> &'static Mutex<HashMap<i64, Arc<Mutex<NativePlan>>>> {
    static PLANS: OnceLock<Mutex<HashMap<i64, Arc<Mutex<NativePlan>>>>> = OnceLock::new();
    PLANS.get_or_init(Default::default)
}

fn buffers() -> &'static Mutex<HashMap<i64, Buffer>> {
    static BUFFERS: OnceLock<Mutex<HashMap<i64, Buffer>>> = OnceLock::new();
    BUFFERS.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while a registry was locked cannot leave a map half-updated (every update is
    // one insert or remove), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers a plan; returns its handle.
pub fn register_plan(plan: NativePlan) -> i64 {
    let id = next_id();
    lock(plans()).insert(id, Arc::new(Mutex::new(plan)));
    id
}

/// The plan behind `handle`.
pub fn plan(handle: i64) -> Result<Arc<Mutex<NativePlan>>> {
    lock(plans())
        .get(&handle)
        .cloned()
        .ok_or_else(|| NativeError::Handle(format!("no open native plan has handle {handle}")))
}

/// Closes a plan; its exported buffers stay valid until released.
pub fn close_plan(handle: i64) -> Result<()> {
    lock(plans())
        .remove(&handle)
        .map(drop)
        .ok_or_else(|| NativeError::Handle(format!("no open native plan has handle {handle}")))
}

/// Releases one exported buffer.
pub fn release_buffer(handle: i64) -> Result<()> {
    lock(buffers()).remove(&handle).map(drop).ok_or_else(|| {
        NativeError::Handle(format!(
            "buffer handle {handle} is not live (released twice, or never exported)"
        ))
    })
}

/// How many exported buffers Java has not released yet.
pub fn live_buffers() -> usize {
    lock(buffers()).len()
}

/// How many plans are open.
pub fn open_plans() -> usize {
    lock(plans()).len()
}

/// Describes `batch` for zero-copy import by Arrow Java, registering its buffers.
///
/// The layout, all `long`s: `rows, columns`, then per column a node: `null_count,
/// buffer_count`, per buffer `address, length_in_bytes, handle`, then `child_count` and per
/// child its `length` and its node. Buffers come in Arrow Java's order for the column's
/// vector: validity then values (`boolean`, numbers, dates, decimals), validity, offsets,
/// values (`string`, `binary`), or validity and offsets with the elements as the one child
/// (`array`). An absent validity buffer (no nulls) is `0, 0, 0`. Each non-zero handle is
/// released exactly once with [`release_buffer`].
pub fn describe_batch(batch: &RecordBatch) -> Result<Vec<i64>> {
    let mut parts = Vec::new();
    for column in batch.columns() {
        let data = column.to_data();
        // Arrow Java loads buffers from their first byte: a sliced array is copied.
        let data = if sliced(&data) { compact(&data)? } else { data };
        describe_node(&data, &mut parts)?;
    }
    let count = |n: usize| {
        i64::try_from(n).map_err(|_| NativeError::Execution("size overflows a long".into()))
    };
    let mut out = vec![count(batch.num_rows())?, count(batch.num_columns())?];
    let mut registry = lock(buffers());
    for part in parts {
        match part {
            Part::Count(n) => out.push(count(n)?),
            Part::Buffer(None) => out.extend([0, 0, 0]),
            Part::Buffer(Some(buffer)) => {
                let id = next_id();
                out.push(buffer.as_ptr() as i64);
                out.push(count(buffer.len())?);
                out.push(id);
                registry.insert(id, buffer);
            }
        }
    }
    Ok(out)
}

/// One entry of [`describe_batch`]'s layout: a count, or a buffer (absent: no validity).
enum Part {
    Count(usize),
    Buffer(Option<Buffer>),
}

/// Whether `data` or a child of it starts past its buffers' first value or bit.
fn sliced(data: &ArrayData) -> bool {
    data.offset() != 0
        || data.nulls().is_some_and(|n| n.offset() != 0)
        || data.child_data().iter().any(sliced)
}

/// `data`'s node of [`describe_batch`]'s layout (`data` and its children unsliced).
fn describe_node(data: &ArrayData, parts: &mut Vec<Part>) -> Result<()> {
    let validity = data.nulls().map(|n| n.buffer().clone());
    let mut buffers = vec![validity];
    let mut children = Vec::new();
    match data.data_type() {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Timestamp(TimeUnit::Microsecond, _)
        | DataType::Decimal128(..) => buffers.push(Some(data.buffers()[0].clone())),
        DataType::Utf8 | DataType::Binary => {
            buffers.push(Some(data.buffers()[0].clone()));
            buffers.push(Some(data.buffers()[1].clone()));
        }
        DataType::List(_) => {
            buffers.push(Some(data.buffers()[0].clone()));
            children.push(&data.child_data()[0]);
        }
        other => {
            return Err(NativeError::Execution(format!(
                "cannot hand a {other} column to Spark"
            )));
        }
    }
    parts.push(Part::Count(data.null_count()));
    parts.push(Part::Count(buffers.len()));
    parts.extend(buffers.into_iter().map(Part::Buffer));
    parts.push(Part::Count(children.len()));
    for child in children {
        parts.push(Part::Count(child.len()));
        describe_node(child, parts)?;
    }
    Ok(())
}

/// A copy of `data` that starts at offset 0 (values and validity).
fn compact(data: &ArrayData) -> Result<ArrayData> {
    let mut copy = MutableArrayData::new(vec![data], false, data.len());
    copy.try_extend(0, 0, data.len())
        .map_err(|e| NativeError::Execution(format!("copying a sliced column: {e}")))?;
    Ok(copy.freeze())
}

/// Locks a plan for one call (a panic in an earlier call does not poison it for good).
pub fn lock_plan(plan: &Mutex<NativePlan>) -> std::sync::MutexGuard<'_, NativePlan> {
    lock(plan)
}
