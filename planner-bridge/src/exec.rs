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
//! result back. Keeping batches on the device across operators, and coalescing small batches,
//! come with the GPU regions.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use cinder_kernels::expr::Program;
use cinder_kernels::filter::{filter_device, filter_host, project_device, project_host};

use crate::config::ExecutionMode;
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

    fn label(&self) -> &'static str {
        match self {
            Backend::Host => "host",
            Backend::Cuda(_) => "cuda",
        }
    }
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Runs `f` on every batch of `input`, timing it as compute and counting output rows.
fn map_batches(
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    metrics: BaselineMetrics,
    f: impl Fn(&RecordBatch) -> Result<RecordBatch> + Send + 'static,
) -> SendableRecordBatchStream {
    let stream = input.map(move |batch| {
        let batch = batch?;
        let timer = metrics.elapsed_compute().timer();
        let out = f(&batch);
        timer.done();
        if let Ok(out) = &out {
            metrics.record_output(out.num_rows());
        }
        out
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

/// `FilterExec` on Cinder's kernels: the predicate's program, then the filter's own
/// projection (column indices), if any.
#[derive(Debug)]
pub struct CinderFilterExec {
    original: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    program: Program,
    projection: Option<Vec<usize>>,
    backend: Backend,
    metrics: ExecutionPlanMetricsSet,
}

impl CinderFilterExec {
    /// Replaces `original` (a `FilterExec` over `input` with `predicate` and an optional
    /// projection), whose predicate translated to `program`.
    pub fn new(
        original: Arc<dyn ExecutionPlan>,
        predicate: Arc<dyn PhysicalExpr>,
        program: Program,
        projection: Option<Vec<usize>>,
        backend: Backend,
    ) -> Self {
        let input = Arc::clone(original.children()[0]);
        Self {
            original,
            input,
            predicate,
            program,
            projection,
            backend,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for CinderFilterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CinderFilterExec: {} [{}]",
            self.predicate,
            self.backend.label()
        )?;
        if let Some(projection) = &self.projection {
            write!(f, ", projection={projection:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CinderFilterExec {
    fn name(&self) -> &str {
        "CinderFilterExec"
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
        f(&self.predicate)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let original = Arc::clone(&self.original).with_new_children(children)?;
        Ok(Arc::new(Self::new(
            original,
            Arc::clone(&self.predicate),
            self.program.clone(),
            self.projection.clone(),
            self.backend.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let program = self.program.clone();
        let projection = self.projection.clone();
        let backend = self.backend.clone();
        Ok(map_batches(input, self.schema(), metrics, move |batch| {
            let kept = match &backend {
                Backend::Host => filter_host(&program, batch).map_err(external)?,
                Backend::Cuda(rt) => rt.run(batch, |rt, on_device| {
                    filter_device(&rt.kernels, &rt.pool, &program, on_device)
                })?,
            };
            match &projection {
                Some(indices) => Ok(kept.project(indices)?),
                None => Ok(kept),
            }
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
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

/// `ProjectionExec` on Cinder's kernels: a program per computed output column; plain column
/// references pass through untouched.
#[derive(Debug)]
pub struct CinderProjectionExec {
    original: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    outputs: Vec<ProjectionOutput>,
    programs: Vec<Program>,
    backend: Backend,
    metrics: ExecutionPlanMetricsSet,
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
    ) -> Self {
        let input = Arc::clone(original.children()[0]);
        Self {
            original,
            input,
            exprs,
            outputs,
            programs,
            backend,
            metrics: ExecutionPlanMetricsSet::new(),
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
            self.backend.label()
        )
    }
}

impl ExecutionPlan for CinderProjectionExec {
    fn name(&self) -> &str {
        "CinderProjectionExec"
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
        Ok(Arc::new(Self::new(
            original,
            self.exprs.clone(),
            self.outputs.clone(),
            self.programs.clone(),
            self.backend.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let programs = self.programs.clone();
        let outputs = self.outputs.clone();
        let backend = self.backend.clone();
        let schema = self.schema();
        let out_schema = Arc::clone(&schema);
        // The computed columns' own schema, for the device path.
        let computed_schema: SchemaRef = Arc::new(Schema::new(
            programs
                .iter()
                .enumerate()
                .map(|(k, p)| Field::new(format!("c{k}"), p.result_type().arrow_type(), true))
                .collect::<Vec<_>>(),
        ));
        Ok(map_batches(input, schema, metrics, move |batch| {
            let computed: Vec<ArrayRef> = match &backend {
                Backend::Host => project_host(&programs, batch, Arc::clone(&computed_schema))
                    .map_err(external)?
                    .columns()
                    .to_vec(),
                Backend::Cuda(rt) => rt
                    .run(batch, |rt, on_device| {
                        project_device(
                            &rt.kernels,
                            &rt.pool,
                            &programs,
                            on_device,
                            Arc::clone(&computed_schema),
                        )
                    })?
                    .columns()
                    .to_vec(),
            };
            let columns = outputs
                .iter()
                .map(|o| match o {
                    ProjectionOutput::Column(i) => Arc::clone(batch.column(*i)),
                    ProjectionOutput::Computed(k) => Arc::clone(&computed[*k]),
                })
                .collect();
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            Ok(RecordBatch::try_new_with_options(
                Arc::clone(&out_schema),
                columns,
                &options,
            )?)
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
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
