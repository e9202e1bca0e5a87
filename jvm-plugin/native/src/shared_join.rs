//! A broadcast hash join's hash table, built once per process and probed by every task.
//!
//! Spark broadcasts a join's small side to each executor, and every task of the join probes
//! it. Without this module each task's native plan would read the broadcast's rows and build
//! its own hash table over them. Here the first task to plan a join over a broadcast builds a
//! [`HashJoinExec`] whose build side is that broadcast (read into memory at once) and whose
//! probe side is a [`RoutedProbeExec`], and keeps it in a process-wide cache; later tasks of
//! the same join (same broadcast, same keys, condition and probe columns) run the cached join
//! over their own probe input. DataFusion's `CollectLeft` mode builds the table once per
//! `HashJoinExec` (its `OnceAsync`) and shares it across the `execute` calls, which is what
//! each task's call is here.
//!
//! Only join types that never emit unmatched build rows are shared: their build-side state
//! after the build is read-only (Spark never needs those rows from a broadcast). A build that
//! fails drops the entry, so a retried task builds again.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream, displayable,
};
use futures::StreamExt;

/// At most this many joins stay cached (the least recently used goes first).
pub const MAX_SHARED_JOINS: usize = 16;

/// A broadcast larger than this (in Arrow memory) is not cached: each task builds its own
/// table, as without sharing. Cached entries together stay under it too.
pub const MAX_SHARED_BYTES: usize = 1 << 30;

struct Entry {
    key: String,
    join: Arc<dyn ExecutionPlan>,
    bytes: usize,
}

fn cache() -> &'static Mutex<Vec<Entry>> {
    static CACHE: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is one push, remove or reorder of whole entries.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The cached join for `key`, made the most recently used.
pub fn cached(key: &str) -> Option<Arc<dyn ExecutionPlan>> {
    let mut entries = lock(cache());
    let i = entries.iter().position(|e| e.key == key)?;
    let entry = entries.remove(i);
    let join = Arc::clone(&entry.join);
    entries.push(entry);
    Some(join)
}

/// Caches `join` under `key` (its build side holds `bytes`), evicting the least recently used
/// entries past [`MAX_SHARED_JOINS`] or [`MAX_SHARED_BYTES`]. Returns the join to run: an
/// entry another task cached meanwhile wins, so all tasks share one table.
pub fn insert(key: String, join: Arc<dyn ExecutionPlan>, bytes: usize) -> Arc<dyn ExecutionPlan> {
    let mut entries = lock(cache());
    if let Some(entry) = entries.iter().find(|e| e.key == key) {
        return Arc::clone(&entry.join);
    }
    entries.push(Entry {
        key,
        join: Arc::clone(&join),
        bytes,
    });
    while entries.len() > MAX_SHARED_JOINS
        || entries.iter().map(|e| e.bytes).sum::<usize>() > MAX_SHARED_BYTES
    {
        entries.remove(0);
    }
    join
}

/// Drops the entry for `key` if it still holds `join` (whose build failed; a task holding an
/// older, failed join leaves a newer entry alone).
pub fn evict(key: &str, join: &Arc<dyn ExecutionPlan>) {
    lock(cache()).retain(|e| e.key != key || !Arc::ptr_eq(&e.join, join));
}

thread_local! {
    /// The probe stream of the task whose [`SharedJoinExec`] is calling the cached join's
    /// `execute` on this thread (taken by [`RoutedProbeExec::execute`] within that call).
    static PROBE: RefCell<Option<SendableRecordBatchStream>> = const { RefCell::new(None) };
}

/// A leaf handing out batches read before planning, once: the build side of a cached join
/// (DataFusion's `CollectLeft` join executes its build side exactly once), freed as the build
/// consumes them.
pub struct OnceBatchesExec {
    schema: SchemaRef,
    batches: Mutex<Option<Vec<RecordBatch>>>,
    properties: Arc<PlanProperties>,
}

impl OnceBatchesExec {
    /// A leaf over `batches` (all of `schema`).
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            schema,
            batches: Mutex::new(Some(batches)),
            properties: Arc::new(properties),
        }
    }
}

impl fmt::Debug for OnceBatchesExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceBatchesExec")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for OnceBatchesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "OnceBatchesExec: a broadcast's rows, {} columns",
            self.schema.fields().len()
        )
    }
}

impl ExecutionPlan for OnceBatchesExec {
    fn name(&self) -> &str {
        "OnceBatchesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "OnceBatchesExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "OnceBatchesExec has one partition, not {partition}"
            )));
        }
        let batches = lock(&self.batches).take().ok_or_else(|| {
            DataFusionError::Execution("the broadcast's rows were already read".into())
        })?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::iter(batches.into_iter().map(Ok)),
        )))
    }
}

/// The probe side of a cached join: each `execute` returns the stream of the task calling
/// the join on this thread (see [`SharedJoinExec`]). Its properties are those of the first
/// task's probe plan; every task's probe plan has the same (the key holds its schema).
pub struct RoutedProbeExec {
    properties: Arc<PlanProperties>,
}

impl RoutedProbeExec {
    /// A probe leaf with `probe`'s properties.
    pub fn like(probe: &Arc<dyn ExecutionPlan>) -> Self {
        Self {
            properties: Arc::clone(probe.properties()),
        }
    }
}

impl fmt::Debug for RoutedProbeExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedProbeExec").finish_non_exhaustive()
    }
}

impl DisplayAs for RoutedProbeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RoutedProbeExec: the task's probe side")
    }
}

impl ExecutionPlan for RoutedProbeExec {
    fn name(&self) -> &str {
        "RoutedProbeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "RoutedProbeExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        PROBE.with(|p| p.borrow_mut().take()).ok_or_else(|| {
            DataFusionError::Internal(
                "a shared join's probe side was executed outside its task's call".into(),
            )
        })
    }
}

/// One task's view of a cached join: runs the join (shared, not a child) over `probe` (this
/// task's probe plan, the child).
pub struct SharedJoinExec {
    key: String,
    join: Arc<dyn ExecutionPlan>,
    probe: Arc<dyn ExecutionPlan>,
}

impl SharedJoinExec {
    /// The cached `join` (under `key`) over this task's `probe` side.
    pub fn new(key: String, join: Arc<dyn ExecutionPlan>, probe: Arc<dyn ExecutionPlan>) -> Self {
        Self { key, join, probe }
    }
}

impl fmt::Debug for SharedJoinExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedJoinExec")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for SharedJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let join = displayable(self.join.as_ref()).indent(true).to_string();
        let join = join.trim_end().replace('\n', " | ");
        write!(
            f,
            "SharedJoinExec: build side built once per process, probed by this task: [{join}]"
        )
    }
}

impl ExecutionPlan for SharedJoinExec {
    fn name(&self) -> &str {
        "SharedJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.probe]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "SharedJoinExec has one child, not {}",
                children.len()
            )));
        }
        let probe = children.remove(0);
        if probe.schema() != self.probe.schema() {
            return Err(DataFusionError::Internal(
                "SharedJoinExec's new probe side has another schema".into(),
            ));
        }
        Ok(Arc::new(Self::new(
            self.key.clone(),
            Arc::clone(&self.join),
            probe,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "SharedJoinExec has one partition, not {partition}"
            )));
        }
        let probe = self.probe.execute(0, Arc::clone(&context))?;
        PROBE.with(|p| *p.borrow_mut() = Some(probe));
        let joined = self.join.execute(0, context);
        // Taken within the call unless the join failed before reaching its probe side.
        PROBE.with(|p| p.borrow_mut().take());
        let joined = match joined {
            Ok(stream) => stream,
            Err(e) => {
                evict(&self.key, &self.join);
                return Err(e);
            }
        };
        let (schema, key, join) = (joined.schema(), self.key.clone(), Arc::clone(&self.join));
        let stream = joined.map(move |batch| {
            if batch.is_err() {
                // The build may have failed; whatever failed, the next task starts afresh.
                evict(&key, &join);
            }
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
