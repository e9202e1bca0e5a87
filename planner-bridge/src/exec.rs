//! Cinder's operators: [`CinderFilterExec`] and [`CinderProjectionExec`] replace DataFusion's
//! `FilterExec` and `ProjectionExec` when their expressions translate; [`CinderCpuExec`] marks
//! a node that stays on the CPU with the reason, so EXPLAIN shows it.
//!
//! Each replacement keeps the DataFusion node it replaces (`original`): the plan properties
//! (schema, partitioning, ordering, equivalences) are that node's, so the rest of the plan
//! sees no difference, and rebuilding with new children rebuilds the original first.
//!
//! Per batch, in [`ExecutionMode::Host`] the operators run the kernels' host reference; in
//! [`ExecutionMode::Cuda`] they copy the batch to the device, run the kernels and copy the
//! result back, after coalescing input batches up to `cinder.batch_rows` rows. A device error
//! fails the query (the session goes on). Device out-of-memory halves the batch, up to three
//! times, and then runs that batch on DataFusion's own CPU expressions; the metrics count
//! both.
//!
//! A Cinder operator over another Cinder operator takes its input as handed over
//! ([`Handoff`]): host batches, or, with `cinder.device_regions`, batches left on the device
//! (experimental; not yet run on a GPU).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, prep_null_mask_filter};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::common::Statistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::scalar_subquery::ScalarSubqueryExpr;
use datafusion::physical_plan::metrics::RecordOutput;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use cinder_cuda::{CudaError, DeviceBatch};
use cinder_kernels::KernelError;
use cinder_kernels::concat::concat_device;
use cinder_kernels::expr::{Program, translate};
use cinder_kernels::filter::{filter_device, filter_host, project_device, project_host};

use crate::config::{ExecutionMode, InjectedFailure};
use crate::join::CinderHashJoinExec;
use crate::resident::CinderResidentScanExec;
use crate::runtime::DeviceRuntime;

/// Where a Cinder operator runs its kernels.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The host reference path (a correctness path, not a speed claim).
    Host,
    /// A CUDA device.
    Cuda(Arc<DeviceRuntime>),
}

impl Backend {
    /// The backend for a session's mode; `None` for [`ExecutionMode::Cpu`].
    pub fn for_mode(mode: &ExecutionMode) -> Result<Option<Self>> {
        Ok(match mode {
            ExecutionMode::Host => Some(Backend::Host),
            ExecutionMode::Cuda { ordinal } => Some(Backend::Cuda(DeviceRuntime::get(*ordinal)?)),
            ExecutionMode::Cpu { .. } => None,
        })
    }

    pub(crate) fn label(&self) -> &'static str {
        match self {
            Backend::Host => "host",
            Backend::Cuda(_) => "cuda",
        }
    }
}

pub(crate) fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The replaced node's one-line EXPLAIN text without its leading `"<name>: "`, for the
/// Cinder operator that shows it as its own.
pub(crate) fn original_line(original: &dyn ExecutionPlan) -> String {
    let line = datafusion::physical_plan::displayable(original)
        .one_line()
        .to_string();
    let line = line.trim_end();
    let prefix = format!("{}: ", original.name());
    line.strip_prefix(&prefix).unwrap_or(line).to_string()
}

/// Refuses new children whose schema differs from the one the operator's programs were
/// translated for (column indices and types would no longer match).
pub(crate) fn check_input_schema(
    name: &str,
    old: &Arc<dyn ExecutionPlan>,
    new: &Arc<dyn ExecutionPlan>,
) -> Result<()> {
    if old.schema().fields() != new.schema().fields() {
        return Err(DataFusionError::Internal(format!(
            "{name}: its input's schema changed after translation; plan the query again"
        )));
    }
    Ok(())
}

/// The session settings a Cinder operator runs with.
#[derive(Debug, Clone, Copy)]
pub struct OperatorSettings {
    /// Input batches are coalesced up to this many rows (`cinder.batch_rows`).
    pub batch_rows: usize,
    /// `cinder.test_inject_failure`.
    pub inject: InjectedFailure,
    /// `cinder.device_regions`.
    pub device_regions: bool,
}

/// What every Cinder operator runs with: where, how, and its metrics.
#[derive(Debug)]
pub(crate) struct OperatorCore {
    pub(crate) backend: Backend,
    pub(crate) inject: InjectedFailure,
    pub(crate) batch_rows: usize,
    pub(crate) device_regions: bool,
    pub(crate) metrics: ExecutionPlanMetricsSet,
}

impl OperatorCore {
    pub(crate) fn new(backend: Backend, settings: OperatorSettings) -> Self {
        Self {
            backend,
            inject: settings.inject,
            batch_rows: settings.batch_rows,
            device_regions: settings.device_regions,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The same settings with fresh metrics (for a rebuilt node).
    pub(crate) fn renewed(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            inject: self.inject,
            batch_rows: self.batch_rows,
            device_regions: self.device_regions,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Partition `partition` of the operator: `input`'s partition through `work`.
    fn execute(
        &self,
        input: &Arc<dyn ExecutionPlan>,
        partition: usize,
        context: Arc<TaskContext>,
        schema: SchemaRef,
        work: Arc<dyn BatchWork>,
    ) -> Result<SendableRecordBatchStream> {
        let runner = Runner {
            backend: self.backend.clone(),
            inject: self.inject,
            metrics: DeviceMetrics::new(&self.metrics, partition),
        };
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        if let Some(items) = self.handoff_input(input, partition, &context)? {
            return Ok(runner.stream_handoff(items, schema, baseline, work));
        }
        let input = input.execute(partition, context)?;
        Ok(runner.stream(input, schema, self.batch_rows, baseline, work))
    }

    /// `input`'s partition handed over by a Cinder producer rather than through DataFusion's
    /// stream: a resident table's batches on this operator's device, or a Cinder hash join's
    /// output (host batches coalesced up to `cinder.batch_rows`, and, with
    /// `cinder.device_regions` on the same device, batches left on the device). `None`
    /// for any other input.
    pub(crate) fn handoff_input(
        &self,
        input: &Arc<dyn ExecutionPlan>,
        partition: usize,
        context: &Arc<TaskContext>,
    ) -> Result<Option<HandoffStream>> {
        if let Some((_, batches)) = self.resident_input(input, partition)? {
            let items = batches.into_iter().map(|b| Ok(Handoff::Device(b)));
            return Ok(Some(futures::stream::iter(items).boxed()));
        }
        let producer: (&OperatorCore, &Arc<dyn ExecutionPlan>, Arc<dyn BatchWork>) =
            if let Some(join) = input.downcast_ref::<CinderHashJoinExec>() {
                let items = join.execute_handoff(partition, Arc::clone(context), &self.backend)?;
                return Ok(Some(coalesce_handoff(
                    items,
                    self.batch_rows,
                    input.schema(),
                    device_concat(&self.backend, &input.schema()),
                )));
            } else if let Some(op) = input.downcast_ref::<CinderFilterExec>() {
                (
                    &op.core,
                    &op.input,
                    Arc::clone(&op.work) as Arc<dyn BatchWork>,
                )
            } else if let Some(op) = input.downcast_ref::<CinderProjectionExec>() {
                (
                    &op.core,
                    &op.input,
                    Arc::clone(&op.work) as Arc<dyn BatchWork>,
                )
            } else if let Some(op) = input.downcast_ref::<CinderFilterProjectExec>() {
                (
                    &op.core,
                    &op.input,
                    Arc::clone(&op.work) as Arc<dyn BatchWork>,
                )
            } else {
                return Ok(None);
            };
        let (core, below, work) = producer;
        let items = core.execute_handoff(
            below,
            partition,
            context,
            input.schema(),
            work,
            &self.backend,
        )?;
        Ok(Some(coalesce_handoff(
            items,
            self.batch_rows,
            input.schema(),
            device_concat(&self.backend, &input.schema()),
        )))
    }

    /// Partition `partition` of a filter, projection or fused operator (`work` over `input`)
    /// for a Cinder operator on `consumer`'s backend, as handed-over batches. With
    /// `cinder.device_regions` on the consumer's device, the output stays there (its input
    /// taken as handed over too, or copied up); otherwise the output comes to the host as
    /// [`OperatorCore::execute`] gives it.
    pub(crate) fn execute_handoff(
        &self,
        input: &Arc<dyn ExecutionPlan>,
        partition: usize,
        context: &Arc<TaskContext>,
        schema: SchemaRef,
        work: Arc<dyn BatchWork>,
        consumer: &Backend,
    ) -> Result<HandoffStream> {
        let rt = match (&self.backend, consumer) {
            (Backend::Cuda(mine), Backend::Cuda(theirs))
                if Arc::ptr_eq(mine, theirs) && self.device_regions && work.has_device_output() =>
            {
                Arc::clone(mine)
            }
            _ => {
                let out = self.execute(input, partition, Arc::clone(context), schema, work)?;
                return Ok(out.map(|b| b.map(Handoff::Host)).boxed());
            }
        };
        let runner = Runner {
            backend: self.backend.clone(),
            inject: self.inject,
            metrics: DeviceMetrics::new(&self.metrics, partition),
        };
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let items = match self.handoff_input(input, partition, context)? {
            Some(items) => items,
            None => coalesce(
                input.execute(partition, Arc::clone(context))?,
                self.batch_rows,
            )
            .map(|b| b.map(Handoff::Host))
            .boxed(),
        };
        Ok(items
            .map(move |item| {
                let item = item?;
                let timer = baseline.elapsed_compute().timer();
                let out = runner.run_to_device(work.as_ref(), &rt, item);
                timer.done();
                out.inspect(|h| baseline.record_output(h.num_rows()))
            })
            .boxed())
    }

    /// When `input` is the scan of a table resident on this operator's device: partition
    /// `partition`'s batches there, which the operator takes with no host-to-device copy.
    pub(crate) fn resident_input(
        &self,
        input: &Arc<dyn ExecutionPlan>,
        partition: usize,
    ) -> Result<Option<(Arc<DeviceRuntime>, Vec<DeviceBatch>)>> {
        let (Backend::Cuda(rt), Some(scan)) = (
            &self.backend,
            input.downcast_ref::<CinderResidentScanExec>(),
        ) else {
            return Ok(None);
        };
        Ok(scan
            .device_batches(rt, partition)?
            .map(|batches| (Arc::clone(rt), batches)))
    }
}

/// How many times a batch is halved on device out-of-memory before it runs on the CPU.
const MAX_SPLITS: usize = 3;

/// What one operator does to a batch: on the device, on the host reference, and with
/// DataFusion's own expressions (the CPU fallback), then a last step shared by all three.
pub(crate) trait BatchWork: fmt::Debug + Send + Sync {
    fn device(&self, rt: &DeviceRuntime, batch: &DeviceBatch) -> Result<DeviceBatch, KernelError>;
    /// The device work with its result on the host, and the bytes it copied back.
    fn device_to_host(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<(RecordBatch, usize), KernelError> {
        let out = self.device(rt, batch)?;
        Ok((out.download(&rt.pool)?, out.pool_bytes()))
    }
    /// Whether a batch may be split in two on device out-of-memory (the two results
    /// concatenated mean the same as one).
    fn splittable(&self) -> bool {
        true
    }
    /// Whether [`BatchWork::device_output`] gives the operator's whole output on the device
    /// (so that a consumer, such as a fused aggregate, keeps it there).
    fn has_device_output(&self) -> bool {
        false
    }
    /// The operator's whole output (its declared schema) on the device.
    fn device_output(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<DeviceBatch, KernelError> {
        let _ = (rt, batch);
        Err(KernelError::InvalidArgument {
            kernel: "device_output",
            reason: format!("{self:?} stitches its output on the host"),
        })
    }
    /// The operator's whole output (what [`BatchWork::finish`] gives) on the host, from an
    /// input batch already on the device (a resident table's), and the bytes copied back.
    fn device_input_to_host(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<(RecordBatch, usize), KernelError> {
        let out = self.device_output(rt, batch)?;
        Ok((out.download(&rt.pool)?, out.pool_bytes()))
    }
    fn host(&self, batch: &RecordBatch) -> Result<RecordBatch>;
    fn cpu(&self, batch: &RecordBatch) -> Result<RecordBatch>;
    /// From the work's result on `input` to the operator's output batch.
    fn finish(&self, input: &RecordBatch, out: RecordBatch) -> Result<RecordBatch>;
}

/// The device metrics every Cinder operator reports (EXPLAIN ANALYZE shows them).
#[derive(Debug, Clone)]
pub(crate) struct DeviceMetrics {
    pub(crate) bytes_to_device: Count,
    pub(crate) bytes_from_device: Count,
    pub(crate) device_time: Time,
    pub(crate) peak_device_bytes: Gauge,
    pub(crate) oom_splits: Count,
    pub(crate) cpu_fallback_batches: Count,
    /// Batches meant to stay on the device (device input or device output) that went through
    /// a host path instead because the device ran out of memory.
    pub(crate) oom_host_batches: Count,
}

impl DeviceMetrics {
    pub(crate) fn new(set: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        Self {
            bytes_to_device: MetricBuilder::new(set).counter("bytes_to_device", partition),
            bytes_from_device: MetricBuilder::new(set).counter("bytes_from_device", partition),
            device_time: MetricBuilder::new(set).subset_time("device_time", partition),
            peak_device_bytes: MetricBuilder::new(set).gauge("peak_device_bytes", partition),
            oom_splits: MetricBuilder::new(set).counter("oom_splits", partition),
            cpu_fallback_batches: MetricBuilder::new(set)
                .counter("cpu_fallback_batches", partition),
            oom_host_batches: MetricBuilder::new(set).counter("oom_host_batches", partition),
        }
    }
}

/// Why an attempt on the device failed.
enum Failure {
    OutOfMemory(String),
    Other(DataFusionError),
}

fn classify(e: KernelError) -> Failure {
    match e {
        KernelError::Cuda(e @ CudaError::OutOfMemory { .. }) => Failure::OutOfMemory(e.to_string()),
        e => Failure::Other(external(e)),
    }
}

/// Runs a [`BatchWork`] on each batch with one backend, handling device out-of-memory.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) backend: Backend,
    pub(crate) inject: InjectedFailure,
    pub(crate) metrics: DeviceMetrics,
}

impl Runner {
    /// The failure `cinder.test_inject_failure` asks for, if any.
    fn injected(&self) -> Result<(), Failure> {
        match self.inject {
            InjectedFailure::None => Ok(()),
            InjectedFailure::Error => Err(Failure::Other(DataFusionError::External(
                "injected device failure (cinder.test_inject_failure = error)".into(),
            ))),
            InjectedFailure::Oom => Err(Failure::OutOfMemory(
                "injected device out-of-memory (cinder.test_inject_failure = oom)".into(),
            )),
        }
    }

    fn attempt(&self, work: &dyn BatchWork, batch: &RecordBatch) -> Result<RecordBatch, Failure> {
        self.injected()?;
        match &self.backend {
            Backend::Host => work.host(batch).map_err(Failure::Other),
            Backend::Cuda(rt) => {
                let timer = self.metrics.device_time.timer();
                let on_device = DeviceBatch::upload(&rt.pool, batch)
                    .map_err(|e| classify(KernelError::Cuda(e)))?;
                self.metrics.bytes_to_device.add(on_device.pool_bytes());
                let (host, bytes) = work.device_to_host(rt, &on_device).map_err(classify)?;
                self.metrics.bytes_from_device.add(bytes);
                timer.done();
                self.metrics.peak_device_bytes.set_max(rt.pool.stats().peak);
                Ok(host)
            }
        }
    }

    pub(crate) fn run(
        &self,
        work: &dyn BatchWork,
        batch: &RecordBatch,
        depth: usize,
    ) -> Result<RecordBatch> {
        match self.attempt(work, batch) {
            Ok(out) => Ok(out),
            Err(Failure::Other(e)) => Err(e),
            Err(Failure::OutOfMemory(_))
                if work.splittable() && depth < MAX_SPLITS && batch.num_rows() > 1 =>
            {
                self.metrics.oom_splits.add(1);
                let half = batch.num_rows() / 2;
                let first = self.run(work, &batch.slice(0, half), depth + 1)?;
                let second =
                    self.run(work, &batch.slice(half, batch.num_rows() - half), depth + 1)?;
                Ok(concat_batches(&first.schema(), [&first, &second])?)
            }
            Err(Failure::OutOfMemory(why)) => {
                self.metrics.cpu_fallback_batches.add(1);
                log::warn!(
                    "cinder: {why}; running this batch of {} rows on DataFusion's CPU expressions",
                    batch.num_rows()
                );
                work.cpu(batch)
            }
        }
    }

    /// The operator's whole output (after [`BatchWork::finish`]) for `batch`, an input batch
    /// already on `rt`'s device (a resident table's): nothing is copied to the device. On
    /// device out-of-memory the batch is copied to the host and goes through [`Runner::run`]
    /// (smaller batches, then the CPU), as any host batch does.
    pub(crate) fn run_on_device(
        &self,
        work: &dyn BatchWork,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<RecordBatch> {
        let attempt = self.injected().and_then(|()| {
            let timer = self.metrics.device_time.timer();
            let (out, bytes) = work.device_input_to_host(rt, batch).map_err(classify)?;
            self.metrics.bytes_from_device.add(bytes);
            timer.done();
            self.metrics.peak_device_bytes.set_max(rt.pool.stats().peak);
            Ok(out)
        });
        match attempt {
            Ok(out) => Ok(out),
            Err(Failure::Other(e)) => Err(e),
            Err(Failure::OutOfMemory(why)) => {
                self.metrics.oom_host_batches.add(1);
                log::warn!(
                    "cinder: {why}; copying this resident batch of {} rows to the host to run \
                     it in smaller pieces",
                    batch.num_rows()
                );
                let host = batch.download(&rt.pool).map_err(external)?;
                self.metrics.bytes_from_device.add(batch.pool_bytes());
                let out = self.run(work, &host, 0)?;
                work.finish(&host, out)
            }
        }
    }

    /// The operator's output stream over `input`: input batches are first coalesced up to
    /// `batch_rows` rows (a GPU needs millions of rows in flight; DataFusion's batches are a
    /// few thousand), then each coalesced batch runs through the work.
    fn stream(
        self,
        input: SendableRecordBatchStream,
        schema: SchemaRef,
        batch_rows: usize,
        baseline: BaselineMetrics,
        work: Arc<dyn BatchWork>,
    ) -> SendableRecordBatchStream {
        let stream = coalesce(input, batch_rows).map(move |batch| -> Result<RecordBatch> {
            let batch = batch?;
            let timer = baseline.elapsed_compute().timer();
            let out = self
                .run(work.as_ref(), &batch, 0)
                .and_then(|out| work.finish(&batch, out));
            timer.done();
            // Rows, bytes and batches, as DataFusion's own operators count them.
            out.map(|out| out.record_output(&baseline))
        });
        non_empty(schema, stream)
    }

    /// The operator's whole output (after [`BatchWork::finish`]) for one handed-over batch:
    /// a host batch through [`Runner::run`], a device batch through
    /// [`Runner::run_on_device`].
    pub(crate) fn run_item(&self, work: &dyn BatchWork, item: Handoff) -> Result<RecordBatch> {
        match item {
            Handoff::Host(batch) => self
                .run(work, &batch, 0)
                .and_then(|out| work.finish(&batch, out)),
            Handoff::Device(batch) => match &self.backend {
                Backend::Cuda(rt) => self.run_on_device(work, rt, &batch),
                Backend::Host => Err(DataFusionError::Internal(
                    "a device batch was handed to an operator on the host reference".into(),
                )),
            },
        }
    }

    /// The operator's whole output for one handed-over batch, left on `rt`'s device for the
    /// next Cinder operator: a host batch is copied up first. On device out-of-memory the
    /// batch runs through [`Runner::run`] on the host (smaller batches, then the CPU) and its
    /// output is handed over on the host.
    fn run_to_device(
        &self,
        work: &dyn BatchWork,
        rt: &DeviceRuntime,
        item: Handoff,
    ) -> Result<Handoff> {
        let attempt = self.injected().and_then(|()| {
            let timer = self.metrics.device_time.timer();
            let uploaded;
            let on_device = match &item {
                Handoff::Device(batch) => batch,
                Handoff::Host(batch) => {
                    uploaded = DeviceBatch::upload(&rt.pool, batch)
                        .map_err(|e| classify(KernelError::Cuda(e)))?;
                    self.metrics.bytes_to_device.add(uploaded.pool_bytes());
                    &uploaded
                }
            };
            let out = work.device_output(rt, on_device).map_err(classify)?;
            timer.done();
            self.metrics.peak_device_bytes.set_max(rt.pool.stats().peak);
            Ok(out)
        });
        match attempt {
            Ok(out) => Ok(Handoff::Device(out)),
            Err(Failure::Other(e)) => Err(e),
            Err(Failure::OutOfMemory(why)) => {
                self.metrics.oom_host_batches.add(1);
                let host = match item {
                    Handoff::Host(batch) => batch,
                    Handoff::Device(batch) => {
                        let host = batch.download(&rt.pool).map_err(external)?;
                        self.metrics.bytes_from_device.add(batch.pool_bytes());
                        host
                    }
                };
                log::warn!(
                    "cinder: {why}; running this batch of {} rows on the host, in smaller \
                     pieces",
                    host.num_rows()
                );
                let out = self.run(work, &host, 0)?;
                Ok(Handoff::Host(work.finish(&host, out)?))
            }
        }
    }

    /// [`Runner::stream`] over handed-over batches ([`OperatorCore::handoff_input`]), taken
    /// as they come: their producer coalesced them.
    fn stream_handoff(
        self,
        items: HandoffStream,
        schema: SchemaRef,
        baseline: BaselineMetrics,
        work: Arc<dyn BatchWork>,
    ) -> SendableRecordBatchStream {
        let stream = items.map(move |item| {
            let item = item?;
            let timer = baseline.elapsed_compute().timer();
            let out = self.run_item(work.as_ref(), item);
            timer.done();
            out.map(|out| out.record_output(&baseline))
        });
        non_empty(schema, stream)
    }
}

/// A batch one Cinder operator hands the next without DataFusion's stream: on the host, or
/// on the device both run on.
#[derive(Debug)]
pub(crate) enum Handoff {
    /// A host batch.
    Host(RecordBatch),
    /// A batch on the consumer's device.
    Device(DeviceBatch),
}

impl Handoff {
    /// Rows.
    pub(crate) fn num_rows(&self) -> usize {
        match self {
            Handoff::Host(b) => b.num_rows(),
            Handoff::Device(b) => b.num_rows(),
        }
    }
}

/// Handed-over batches, in order.
pub(crate) type HandoffStream = futures::stream::BoxStream<'static, Result<Handoff>>;

/// How [`coalesce_handoff`] concatenates device batches on the device (`concat_device` on
/// the consumer's device).
pub(crate) type DeviceConcat =
    Arc<dyn Fn(&[DeviceBatch]) -> std::result::Result<DeviceBatch, KernelError> + Send + Sync>;

/// The [`DeviceConcat`] for `backend` and batches of `schema`: `concat_device` on its device;
/// none on the host, or for dictionary columns (not concatenated on the device yet).
pub(crate) fn device_concat(backend: &Backend, schema: &SchemaRef) -> Option<DeviceConcat> {
    if schema.fields().iter().any(|f| {
        matches!(
            f.data_type(),
            datafusion::arrow::datatypes::DataType::Dictionary(..)
        )
    }) {
        return None;
    }
    match backend {
        Backend::Cuda(rt) => {
            let rt = Arc::clone(rt);
            Some(Arc::new(move |batches: &[DeviceBatch]| {
                concat_device(&rt.kernels, &rt.pool, batches)
            }))
        }
        Backend::Host => None,
    }
}

/// `items` with consecutive host batches concatenated up to at least `rows` rows (as
/// [`coalesce`] does) and consecutive device batches too, on the device with `device` (without
/// it they pass on as they are), in order; empty batches are dropped. If the device runs out
/// of memory concatenating, the held device batches pass on as they are (logged).
pub(crate) fn coalesce_handoff(
    items: HandoffStream,
    rows: usize,
    schema: SchemaRef,
    device: Option<DeviceConcat>,
) -> HandoffStream {
    struct State {
        items: HandoffStream,
        held: Vec<RecordBatch>,
        held_rows: usize,
        held_device: Vec<DeviceBatch>,
        held_device_rows: usize,
        /// Batches ready to hand out, in order.
        out: std::collections::VecDeque<Result<Handoff>>,
        done: bool,
    }
    impl State {
        fn flush_host(&mut self, schema: &SchemaRef) {
            if self.held.is_empty() {
                return;
            }
            let batches = std::mem::take(&mut self.held);
            self.held_rows = 0;
            self.out
                .push_back(concat(schema, batches).map(Handoff::Host));
        }
        fn flush_device(&mut self, device: Option<&DeviceConcat>) {
            let batches = std::mem::take(&mut self.held_device);
            self.held_device_rows = 0;
            let joined = match (batches.len(), device) {
                (0, _) => return,
                (1, _) | (_, None) => None,
                (_, Some(concat)) => Some(concat(&batches)),
            };
            match joined {
                None => self
                    .out
                    .extend(batches.into_iter().map(|b| Ok(Handoff::Device(b)))),
                Some(Ok(batch)) => self.out.push_back(Ok(Handoff::Device(batch))),
                Some(Err(e @ KernelError::Cuda(CudaError::OutOfMemory { .. }))) => {
                    log::warn!(
                        "cinder: {e}; {} device batches go on without being concatenated",
                        batches.len()
                    );
                    self.out
                        .extend(batches.into_iter().map(|b| Ok(Handoff::Device(b))));
                }
                Some(Err(e)) => self.out.push_back(Err(external(e))),
            }
        }
    }
    let state = State {
        items,
        held: Vec::new(),
        held_rows: 0,
        held_device: Vec::new(),
        held_device_rows: 0,
        out: std::collections::VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, move |mut st| {
        let schema = Arc::clone(&schema);
        let device = device.clone();
        async move {
            loop {
                if let Some(item) = st.out.pop_front() {
                    if item.is_err() {
                        // An error ends the stream.
                        st.done = true;
                        st.out.clear();
                        st.held.clear();
                        st.held_device.clear();
                    }
                    return Some((item, st));
                }
                if st.done {
                    st.flush_host(&schema);
                    st.flush_device(device.as_ref());
                    if st.out.is_empty() {
                        return None;
                    }
                    continue;
                }
                match st.items.next().await {
                    None => st.done = true,
                    Some(Err(e)) => {
                        st.done = true;
                        st.held.clear();
                        st.held_device.clear();
                        return Some((Err(e), st));
                    }
                    Some(Ok(item)) if item.num_rows() == 0 => {}
                    Some(Ok(Handoff::Host(batch))) => {
                        st.flush_device(device.as_ref());
                        st.held_rows += batch.num_rows();
                        st.held.push(batch);
                        if st.held_rows >= rows {
                            st.flush_host(&schema);
                        }
                    }
                    Some(Ok(Handoff::Device(batch))) => {
                        st.flush_host(&schema);
                        st.held_device_rows += batch.num_rows();
                        st.held_device.push(batch);
                        if st.held_device_rows >= rows {
                            st.flush_device(device.as_ref());
                        }
                    }
                }
            }
        }
    })
    .boxed()
}

/// `stream` without its empty batches (FilterExec emits none either).
fn non_empty(
    schema: SchemaRef,
    stream: impl futures::Stream<Item = Result<RecordBatch>> + Send + 'static,
) -> SendableRecordBatchStream {
    let stream = stream
        .filter(|out| futures::future::ready(out.as_ref().map_or(true, |b| b.num_rows() > 0)));
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

/// `input`'s batches concatenated into batches of at least `rows` rows (the last may be
/// smaller); empty batches are dropped. Errors pass through at once.
pub(crate) fn coalesce(
    input: SendableRecordBatchStream,
    rows: usize,
) -> impl futures::Stream<Item = Result<RecordBatch>> + Send {
    let schema = input.schema();
    futures::stream::unfold(Some(input), move |state| {
        let schema = Arc::clone(&schema);
        async move {
            let mut input = state?;
            let mut pending: Vec<RecordBatch> = Vec::new();
            let mut pending_rows = 0;
            loop {
                match input.next().await {
                    Some(Ok(batch)) => {
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        pending_rows += batch.num_rows();
                        pending.push(batch);
                        if pending_rows >= rows {
                            return Some((concat(&schema, pending), Some(input)));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), None)),
                    None if pending.is_empty() => return None,
                    None => return Some((concat(&schema, pending), None)),
                }
            }
        }
    })
}

/// `batch` in consecutive slices of at most `size` rows (none for an empty batch), as
/// DataFusion's operators expect their input batches.
pub(crate) fn slices(batch: RecordBatch, size: usize) -> impl Iterator<Item = RecordBatch> {
    (0..batch.num_rows())
        .step_by(size.max(1))
        .map(move |offset| batch.slice(offset, size.min(batch.num_rows() - offset)))
}

pub(crate) fn concat(schema: &SchemaRef, mut batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    if batches.len() == 1 {
        return Ok(batches.remove(0));
    }
    Ok(concat_batches(schema, &batches)?)
}

/// The filter's work: the predicate's program (DataFusion's predicate on the CPU fallback),
/// then the filter's own projection.
#[derive(Debug)]
struct FilterWork {
    predicate: Arc<dyn PhysicalExpr>,
    /// The predicate's program: translated at planning, or, for a predicate over scalar
    /// subqueries, at the first batch (their values are known by then).
    program: PredicateProgram,
    projection: Option<Vec<usize>>,
    /// The schema FilterExec declares for its output.
    out_schema: SchemaRef,
}

/// A filter predicate's program, translated now or once its scalar subqueries have values.
#[derive(Debug)]
pub(crate) enum PredicateProgram {
    /// Translated at planning.
    Ready(Program),
    /// A predicate over scalar subqueries: each is replaced by its value (a literal) and the
    /// result translated, once, at the first batch.
    Deferred {
        input_schema: SchemaRef,
        program: std::sync::OnceLock<std::result::Result<Program, String>>,
    },
}

/// Whether `expr` holds a scalar subquery (a value known only at execution).
pub(crate) fn has_scalar_subquery(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        found |= e.is::<ScalarSubqueryExpr>();
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// `expr` with every scalar subquery replaced by a literal: its value (`value(subquery)`).
pub(crate) fn with_subquery_literals(
    expr: &Arc<dyn PhysicalExpr>,
    value: &dyn Fn(&ScalarSubqueryExpr) -> Result<ScalarValue>,
) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(Arc::clone(expr)
        .transform_up(|e| {
            Ok(match e.downcast_ref::<ScalarSubqueryExpr>() {
                Some(subquery) => Transformed::yes(
                    Arc::new(Literal::new(value(subquery)?)) as Arc<dyn PhysicalExpr>
                ),
                None => Transformed::no(e),
            })
        })?
        .data)
}

impl FilterWork {
    /// The predicate's program (translated on first use when it waits for subqueries).
    fn program(&self) -> Result<&Program, KernelError> {
        match &self.program {
            PredicateProgram::Ready(p) => Ok(p),
            PredicateProgram::Deferred {
                input_schema,
                program,
            } => program
                .get_or_init(|| {
                    let empty = RecordBatch::new_empty(Arc::clone(input_schema));
                    let resolved =
                        with_subquery_literals(&self.predicate, &|subquery| match subquery
                            .evaluate(&empty)?
                        {
                            ColumnarValue::Scalar(v) => Ok(v),
                            ColumnarValue::Array(_) => Err(DataFusionError::Internal(
                                "a scalar subquery gave an array".into(),
                            )),
                        })
                        .map_err(|e| e.to_string())?;
                    translate(&resolved, input_schema).map_err(|e| e.to_string())
                })
                .as_ref()
                .map_err(|e| KernelError::Execution(format!("the filter's predicate: {e}"))),
        }
    }
}

impl BatchWork for FilterWork {
    fn device(&self, rt: &DeviceRuntime, batch: &DeviceBatch) -> Result<DeviceBatch, KernelError> {
        filter_device(&rt.kernels, &rt.pool, self.program()?, batch)
    }

    fn has_device_output(&self) -> bool {
        true
    }

    fn device_output(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<DeviceBatch, KernelError> {
        let kept = self.device(rt, batch)?;
        let kept = match &self.projection {
            None => kept,
            Some(indices) => kept.project(indices)?,
        };
        let rows = kept.num_rows();
        Ok(DeviceBatch::try_from_shared(
            Arc::clone(&self.out_schema),
            kept.into_columns(),
            rows,
        )?)
    }

    fn host(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        filter_host(self.program().map_err(external)?, batch).map_err(external)
    }

    fn cpu(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mask = self
            .predicate
            .evaluate(batch)?
            .into_array(batch.num_rows())?;
        let mask = mask.as_boolean();
        let mask = if mask.null_count() > 0 {
            prep_null_mask_filter(mask)
        } else {
            mask.clone()
        };
        Ok(filter_record_batch(batch, &mask)?)
    }

    fn finish(&self, _input: &RecordBatch, out: RecordBatch) -> Result<RecordBatch> {
        let out = match &self.projection {
            Some(indices) => out.project(indices)?,
            None => out,
        };
        // The declared schema (field names, nullability, metadata), as FilterExec emits.
        let options = RecordBatchOptions::new().with_row_count(Some(out.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.out_schema),
            out.columns().to_vec(),
            &options,
        )?)
    }
}

/// `FilterExec` on Cinder's kernels: the predicate's program, then the filter's own
/// projection (column indices), if any.
#[derive(Debug)]
pub struct CinderFilterExec {
    original: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    work: Arc<FilterWork>,
    core: OperatorCore,
}

impl CinderFilterExec {
    /// The work and input, for an operator that absorbs this one.
    pub(crate) fn parts(&self) -> (Arc<dyn BatchWork>, &Arc<dyn ExecutionPlan>) {
        (Arc::clone(&self.work) as Arc<dyn BatchWork>, &self.input)
    }

    /// Replaces `original` (a `FilterExec` over its input with `predicate` and an optional
    /// projection), whose predicate translated to `program`.
    pub(crate) fn new(
        original: Arc<dyn ExecutionPlan>,
        predicate: Arc<dyn PhysicalExpr>,
        program: PredicateProgram,
        projection: Option<Vec<usize>>,
        backend: Backend,
        settings: OperatorSettings,
    ) -> Self {
        let input = Arc::clone(original.children()[0]);
        let out_schema = original.schema();
        Self {
            original,
            input,
            work: Arc::new(FilterWork {
                predicate,
                program,
                projection,
                out_schema,
            }),
            core: OperatorCore::new(backend, settings),
        }
    }
}

impl DisplayAs for CinderFilterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CinderFilterExec: {} [{}]",
            self.work.predicate,
            self.core.backend.label()
        )?;
        if let Some(projection) = &self.work.projection {
            write!(f, ", projection={projection:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CinderFilterExec {
    fn name(&self) -> &str {
        "CinderFilterExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.original.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        // The replaced node's estimate: same input, same output.
        self.original.statistics_from_inputs(input_stats, args)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.original.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        f(&self.work.predicate)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let original = Arc::clone(&self.original).with_new_children(children)?;
        let input = Arc::clone(original.children()[0]);
        check_input_schema(self.name(), &self.input, &input)?;
        Ok(Arc::new(Self {
            original,
            input,
            work: Arc::clone(&self.work),
            core: self.core.renewed(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let work: Arc<dyn BatchWork> = Arc::clone(&self.work) as Arc<dyn BatchWork>;
        self.core
            .execute(&self.input, partition, context, self.schema(), work)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.core.metrics.clone_inner())
    }
}

/// Where one output column of a [`CinderProjectionExec`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionOutput {
    /// Input column `i`, passed through as is (any type).
    Column(usize),
    /// The result of program `k`.
    Computed(usize),
}

/// A projection's output columns, each an input column passed through or a computed one
/// (shared handles: host arrays or device columns).
fn assemble<T: Clone>(outputs: &[ProjectionOutput], input: &[T], computed: &[T]) -> Vec<T> {
    outputs
        .iter()
        .map(|o| match o {
            ProjectionOutput::Column(i) => input[*i].clone(),
            ProjectionOutput::Computed(k) => computed[*k].clone(),
        })
        .collect()
}

/// The projection's work: the computed columns (as a batch of `computed_schema`), then the
/// output assembled with the passed-through columns.
#[derive(Debug)]
struct ProjectionWork {
    /// The computed expressions (DataFusion's, for the CPU fallback) and their programs.
    computed: Vec<Arc<dyn PhysicalExpr>>,
    programs: Vec<Program>,
    computed_schema: SchemaRef,
    outputs: Vec<ProjectionOutput>,
    out_schema: SchemaRef,
}

impl BatchWork for ProjectionWork {
    fn device(&self, rt: &DeviceRuntime, batch: &DeviceBatch) -> Result<DeviceBatch, KernelError> {
        project_device(
            &rt.kernels,
            &rt.pool,
            &self.programs,
            batch,
            Arc::clone(&self.computed_schema),
        )
    }

    fn has_device_output(&self) -> bool {
        true
    }

    fn device_output(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<DeviceBatch, KernelError> {
        let computed = self.device(rt, batch)?;
        let columns = assemble(&self.outputs, batch.columns(), computed.columns());
        Ok(DeviceBatch::try_from_shared(
            Arc::clone(&self.out_schema),
            columns,
            batch.num_rows(),
        )?)
    }

    fn host(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        project_host(&self.programs, batch, Arc::clone(&self.computed_schema)).map_err(external)
    }

    fn cpu(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .computed
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.computed_schema),
            columns,
            &options,
        )?)
    }

    fn finish(&self, input: &RecordBatch, computed: RecordBatch) -> Result<RecordBatch> {
        let columns = assemble(&self.outputs, input.columns(), computed.columns());
        let options = RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.out_schema),
            columns,
            &options,
        )?)
    }
}

/// `ProjectionExec` on Cinder's kernels: a program per computed output column; plain column
/// references pass through untouched.
#[derive(Debug)]
pub struct CinderProjectionExec {
    original: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    work: Arc<ProjectionWork>,
    core: OperatorCore,
}

impl CinderProjectionExec {
    /// Replaces `original` (a `ProjectionExec` of `exprs`): output column `j` is
    /// `outputs[j]`, with the computed ones' `programs`.
    pub fn new(
        original: Arc<dyn ExecutionPlan>,
        exprs: Vec<Arc<dyn PhysicalExpr>>,
        outputs: Vec<ProjectionOutput>,
        programs: Vec<Program>,
        backend: Backend,
        settings: OperatorSettings,
    ) -> Self {
        let input = Arc::clone(original.children()[0]);
        let computed = outputs
            .iter()
            .zip(&exprs)
            .filter(|(o, _)| matches!(o, ProjectionOutput::Computed(_)))
            .map(|(_, e)| Arc::clone(e))
            .collect();
        let computed_schema = cinder_kernels::filter::results_schema(&programs);
        let work = Arc::new(ProjectionWork {
            computed,
            programs,
            computed_schema,
            outputs,
            out_schema: original.schema(),
        });
        Self {
            original,
            input,
            exprs,
            work,
            core: OperatorCore::new(backend, settings),
        }
    }
}

impl DisplayAs for CinderProjectionExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = self.original.schema();
        let exprs: Vec<String> = self
            .exprs
            .iter()
            .zip(schema.fields())
            .map(|(e, field)| format!("{e} as {}", field.name()))
            .collect();
        write!(
            f,
            "CinderProjectionExec: expr=[{}] [{}]",
            exprs.join(", "),
            self.core.backend.label()
        )
    }
}

impl ExecutionPlan for CinderProjectionExec {
    fn name(&self) -> &str {
        "CinderProjectionExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.original.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        // The replaced node's estimate: same input, same output.
        self.original.statistics_from_inputs(input_stats, args)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.original.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for expr in &self.exprs {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let original = Arc::clone(&self.original).with_new_children(children)?;
        let input = Arc::clone(original.children()[0]);
        check_input_schema(self.name(), &self.input, &input)?;
        Ok(Arc::new(Self {
            original,
            input,
            exprs: self.exprs.clone(),
            work: Arc::clone(&self.work),
            core: self.core.renewed(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let work: Arc<dyn BatchWork> = Arc::clone(&self.work) as Arc<dyn BatchWork>;
        self.core
            .execute(&self.input, partition, context, self.schema(), work)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.core.metrics.clone_inner())
    }
}

/// A projection over a filter, fused so that a batch crosses to the device and back once:
/// on the device the filter's output feeds the projection's programs directly (their column
/// references remapped through the filter's own projection).
#[derive(Debug)]
struct FusedWork {
    filter: Arc<FilterWork>,
    projection: Arc<ProjectionWork>,
    /// The projection's programs and outputs over the filter's *input* columns.
    device_programs: Vec<Program>,
    device_outputs: Vec<ProjectionOutput>,
}

impl BatchWork for FusedWork {
    fn has_device_output(&self) -> bool {
        true
    }

    fn device_output(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<DeviceBatch, KernelError> {
        // The fused device path already builds the projection's whole output.
        self.device(rt, batch)
    }

    fn device(&self, rt: &DeviceRuntime, batch: &DeviceBatch) -> Result<DeviceBatch, KernelError> {
        let kept = filter_device(&rt.kernels, &rt.pool, self.filter.program()?, batch)?;
        let rows = kept.num_rows();
        let computed = project_device(
            &rt.kernels,
            &rt.pool,
            &self.device_programs,
            &kept,
            Arc::clone(&self.projection.computed_schema),
        )?;
        let columns = assemble(&self.device_outputs, kept.columns(), computed.columns());
        Ok(DeviceBatch::try_from_shared(
            Arc::clone(&self.projection.out_schema),
            columns,
            rows,
        )?)
    }

    fn host(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let kept = self.filter.finish(batch, self.filter.host(batch)?)?;
        let computed = self.projection.host(&kept)?;
        self.projection.finish(&kept, computed)
    }

    fn cpu(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let kept = self.filter.finish(batch, self.filter.cpu(batch)?)?;
        let computed = self.projection.cpu(&kept)?;
        self.projection.finish(&kept, computed)
    }

    fn finish(&self, _input: &RecordBatch, out: RecordBatch) -> Result<RecordBatch> {
        Ok(out)
    }
}

/// `ProjectionExec` over `FilterExec`, both on Cinder's kernels in one pass per batch (see
/// [`fuse`]).
#[derive(Debug)]
pub struct CinderFilterProjectExec {
    filter_original: Arc<dyn ExecutionPlan>,
    projection_original: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    work: Arc<FusedWork>,
    core: OperatorCore,
}

/// A [`CinderFilterProjectExec`] for `projection` over `filter`, when their backends agree
/// and no input column is passed through twice (device columns are moved, not copied).
pub fn fuse(
    projection: &CinderProjectionExec,
    filter: &CinderFilterExec,
) -> Option<CinderFilterProjectExec> {
    if projection.core.backend.label() != filter.core.backend.label() {
        return None;
    }
    let through = |j: usize| match &filter.work.projection {
        Some(indices) => indices.get(j).copied(),
        None => Some(j),
    };
    let mut device_outputs = Vec::with_capacity(projection.work.outputs.len());
    let mut used = std::collections::HashSet::new();
    for output in &projection.work.outputs {
        device_outputs.push(match output {
            ProjectionOutput::Column(j) => {
                let i = through(*j)?;
                if !used.insert(i) {
                    return None;
                }
                ProjectionOutput::Column(i)
            }
            ProjectionOutput::Computed(k) => ProjectionOutput::Computed(*k),
        });
    }
    let mut device_programs = Vec::with_capacity(projection.work.programs.len());
    for program in &projection.work.programs {
        let mut program = program.clone();
        for instr in &mut program.instrs {
            if let cinder_kernels::expr::Instr::Column { index } = instr {
                *index = through(*index)?;
            }
        }
        device_programs.push(program);
    }
    Some(CinderFilterProjectExec {
        filter_original: Arc::clone(&filter.original),
        projection_original: Arc::clone(&projection.original),
        input: Arc::clone(&filter.input),
        exprs: projection.exprs.clone(),
        work: Arc::new(FusedWork {
            filter: Arc::clone(&filter.work),
            projection: Arc::clone(&projection.work),
            device_programs,
            device_outputs,
        }),
        core: projection.core.renewed(),
    })
}

impl CinderFilterProjectExec {
    /// The work and input, for an operator that absorbs this one.
    pub(crate) fn parts(&self) -> (Arc<dyn BatchWork>, &Arc<dyn ExecutionPlan>) {
        (Arc::clone(&self.work) as Arc<dyn BatchWork>, &self.input)
    }
}

impl DisplayAs for CinderFilterProjectExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = self.projection_original.schema();
        let exprs: Vec<String> = self
            .exprs
            .iter()
            .zip(schema.fields())
            .map(|(e, field)| format!("{e} as {}", field.name()))
            .collect();
        write!(
            f,
            "CinderFilterProjectExec: filter={}",
            self.work.filter.predicate
        )?;
        if let Some(projection) = &self.work.filter.projection {
            write!(f, ", filter projection={projection:?}")?;
        }
        write!(
            f,
            ", expr=[{}] [{}]",
            exprs.join(", "),
            self.core.backend.label()
        )
    }
}

impl ExecutionPlan for CinderFilterProjectExec {
    fn name(&self) -> &str {
        "CinderFilterProjectExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.filter_original.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let filtered = self
            .filter_original
            .statistics_from_inputs(input_stats, args)?;
        self.projection_original
            .statistics_from_inputs(&[filtered], args)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.projection_original.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        if f(&self.work.filter.predicate)? == TreeNodeRecursion::Stop {
            return Ok(TreeNodeRecursion::Stop);
        }
        for expr in &self.exprs {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filter_original = Arc::clone(&self.filter_original).with_new_children(children)?;
        check_input_schema(self.name(), &self.input, filter_original.children()[0])?;
        let projection_original = Arc::clone(&self.projection_original)
            .with_new_children(vec![Arc::clone(&filter_original)])?;
        let input = Arc::clone(filter_original.children()[0]);
        Ok(Arc::new(Self {
            filter_original,
            projection_original,
            input,
            exprs: self.exprs.clone(),
            work: Arc::clone(&self.work),
            core: self.core.renewed(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let work: Arc<dyn BatchWork> = Arc::clone(&self.work) as Arc<dyn BatchWork>;
        self.core
            .execute(&self.input, partition, context, self.schema(), work)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.core.metrics.clone_inner())
    }
}

/// A node that stays on DataFusion's CPU operator, marked with the reason. It adds nothing at
/// run time: it executes its child as is.
#[derive(Debug)]
pub struct CinderCpuExec {
    input: Arc<dyn ExecutionPlan>,
    reason: String,
}

impl CinderCpuExec {
    /// Marks `input` as staying on the CPU because of `reason`.
    pub fn new(input: Arc<dyn ExecutionPlan>, reason: String) -> Self {
        Self { input, reason }
    }

    /// Why the node below stays on the CPU.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The node that stays on the CPU.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl DisplayAs for CinderCpuExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cinder: stays on CPU: {}", self.reason)
    }
}

impl ExecutionPlan for CinderCpuExec {
    fn name(&self) -> &str {
        "CinderCpuExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(Arc::clone(&input_stats[0]))
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "CinderCpuExec takes one child, got {}",
                children.len()
            )));
        }
        Ok(Arc::new(Self::new(children.remove(0), self.reason.clone())))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(rows: i32) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from_iter_values(0..rows))],
        )
        .unwrap()
    }

    /// Host batches are concatenated up to the target, a device batch goes out after the
    /// host rows before it, empty batches vanish, and an error ends the stream.
    #[test]
    fn handed_over_batches_coalesce_around_device_batches() {
        let pool = cinder_cuda::MemoryPool::host(cinder_cuda::PoolConfig::default()).unwrap();
        let on_device = DeviceBatch::upload(&pool, &batch(2)).unwrap();
        let items: Vec<Result<Handoff>> = vec![
            Ok(Handoff::Host(batch(3))),
            Ok(Handoff::Host(batch(4))),
            Ok(Handoff::Host(batch(0))),
            Ok(Handoff::Host(batch(5))),
            Ok(Handoff::Device(on_device)),
            Ok(Handoff::Host(batch(1))),
        ];
        let out: Vec<(bool, usize)> = futures::executor::block_on(
            coalesce_handoff(
                futures::stream::iter(items).boxed(),
                6,
                batch(0).schema(),
                None,
            )
            .map(|item| {
                let item = item.unwrap();
                (matches!(item, Handoff::Device(_)), item.num_rows())
            })
            .collect::<Vec<_>>(),
        );
        assert_eq!(out, [(false, 7), (false, 5), (true, 2), (false, 1)]);

        let failing: Vec<Result<Handoff>> = vec![
            Ok(Handoff::Host(batch(3))),
            Err(DataFusionError::Execution("boom".into())),
            Ok(Handoff::Host(batch(3))),
        ];
        let out: Vec<Result<Handoff>> = futures::executor::block_on(
            coalesce_handoff(
                futures::stream::iter(failing).boxed(),
                6,
                batch(0).schema(),
                None,
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("boom"))
        );
    }

    /// Consecutive device batches are concatenated up to the target by the device's
    /// concatenation (here one on the host pool); after out-of-memory they go on one by one,
    /// and another error ends the stream.
    #[test]
    fn handed_over_device_batches_are_concatenated_on_the_device() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pool =
            Arc::new(cinder_cuda::MemoryPool::host(cinder_cuda::PoolConfig::default()).unwrap());
        let up = |rows: i32| Handoff::Device(DeviceBatch::upload(&pool, &batch(rows)).unwrap());
        let items = || -> Vec<Result<Handoff>> {
            vec![
                Ok(up(2)),
                Ok(up(3)),
                Ok(up(0)),
                Ok(up(4)),
                Ok(up(1)),
                Ok(Handoff::Host(batch(2))),
                Ok(up(7)),
                Ok(up(1)),
            ]
        };
        let run = |concat: DeviceConcat| -> Vec<Result<(bool, usize)>> {
            futures::executor::block_on(
                coalesce_handoff(
                    futures::stream::iter(items()).boxed(),
                    6,
                    batch(0).schema(),
                    Some(concat),
                )
                .map(|item| item.map(|i| (matches!(i, Handoff::Device(_)), i.num_rows())))
                .collect::<Vec<_>>(),
            )
        };
        // Concatenation on the host pool: download, concatenate, upload.
        let calls = Arc::new(AtomicUsize::new(0));
        let (p, c) = (Arc::clone(&pool), Arc::clone(&calls));
        let host_concat: DeviceConcat = Arc::new(move |batches: &[DeviceBatch]| {
            c.fetch_add(1, Ordering::Relaxed);
            let host: Vec<RecordBatch> = batches.iter().map(|b| b.download(&p).unwrap()).collect();
            let joined = concat_batches(&host[0].schema(), &host).unwrap();
            Ok(DeviceBatch::upload(&p, &joined)?)
        });
        let out: Vec<(bool, usize)> = run(host_concat).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            out,
            [(true, 9), (true, 1), (false, 2), (true, 7), (true, 1)]
        );
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "one concatenation of 3 batches"
        );

        let oom: DeviceConcat = Arc::new(|_: &[DeviceBatch]| {
            Err(KernelError::Cuda(CudaError::OutOfMemory {
                requested: 1,
                available: 0,
            }))
        });
        let out: Vec<(bool, usize)> = run(oom).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            out,
            [
                (true, 2),
                (true, 3),
                (true, 4),
                (true, 1),
                (false, 2),
                (true, 7),
                (true, 1)
            ]
        );

        let broken: DeviceConcat = Arc::new(|_: &[DeviceBatch]| {
            Err(KernelError::InvalidArgument {
                kernel: "test",
                reason: "broken".into(),
            })
        });
        let out = run(broken);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("broken"))
        );
    }
}
