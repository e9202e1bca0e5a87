//! [`CinderAggregateExec`]: DataFusion's `AggregateExec` (every mode but `PartialReduce`) on
//! Cinder's aggregation kernels, with DataFusion's state layout so that either stage can stay
//! on DataFusion.
//!
//! Per partition: input batches are coalesced to `cinder.batch_rows`. A raw-input stage
//! (Partial, Single) aggregates each coalesced batch into a state batch (keys and state
//! columns). At the end of the input the state batches (or, for a Final stage, the input
//! state batches) are concatenated and merged once, into state (Partial) or final values.
//! A Partial over one coalesced batch emits that batch's state as it is. The output is
//! handed out in slices of the session's `batch_size` rows, as DataFusion's hash streams do.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, ScalarValue, Statistics};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::{BaselineMetrics, MetricsSet, RecordOutput};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, InputOrderMode, PlanProperties,
    displayable,
};
use futures::StreamExt;

use cinder_cuda::DeviceBatch;
use cinder_kernels::KernelError;
use cinder_kernels::aggregate::{AggFunc, AggregateSpec, Aggregation, Stage, aggregate_host, emit};
use cinder_kernels::expr::translate;

use crate::exec::{
    Backend, BatchWork, DeviceMetrics, OperatorCore, OperatorSettings, Runner, check_input_schema,
    coalesce, concat, original_line, slices,
};
use crate::runtime::DeviceRuntime;

/// One step of an aggregation: raw rows or state in, state or final values out.
#[derive(Debug)]
struct AggregateStep {
    /// A row-wise operator absorbed below a raw-input step: it runs first, and on the device
    /// its output stays there for the aggregation.
    pre: Option<Arc<dyn BatchWork>>,
    aggregation: Arc<Aggregation>,
    /// Whether the input is state (else raw rows).
    merge: bool,
    /// Whether the output is final values (else state).
    final_output: bool,
    schema: SchemaRef,
}

impl AggregateStep {
    fn emit(
        &self,
        keys: Vec<datafusion::arrow::array::ArrayRef>,
        results: &[cinder_kernels::aggregate::OpResult],
    ) -> Result<RecordBatch, KernelError> {
        emit(
            &self.aggregation.specs,
            self.final_output,
            self.aggregation.grouped(),
            keys,
            results,
            Arc::clone(&self.schema),
        )
    }
}

impl BatchWork for AggregateStep {
    fn device(
        &self,
        _rt: &DeviceRuntime,
        _batch: &DeviceBatch,
    ) -> Result<DeviceBatch, KernelError> {
        Err(KernelError::InvalidArgument {
            kernel: "aggregate",
            reason: "an aggregation step returns host columns (device_to_host)".into(),
        })
    }

    fn device_to_host(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<(RecordBatch, usize), KernelError> {
        let agg = &self.aggregation;
        let (keys, results) = if self.merge {
            agg.merge_device(&rt.kernels, &rt.pool, batch)?
        } else if let Some(pre) = &self.pre {
            let rows = pre.device_output(rt, batch)?;
            agg.update_device(&rt.kernels, &rt.pool, &rows)?
        } else {
            agg.update_device(&rt.kernels, &rt.pool, batch)?
        };
        let out = self.emit(keys, &results)?;
        let bytes = out.get_array_memory_size();
        Ok((out, bytes))
    }

    fn device_input_to_host(
        &self,
        rt: &DeviceRuntime,
        batch: &DeviceBatch,
    ) -> Result<(RecordBatch, usize), KernelError> {
        // The step's result is its whole output ([`BatchWork::finish`] keeps it as is).
        self.device_to_host(rt, batch)
    }

    fn splittable(&self) -> bool {
        // Two state batches mean the same as one; two final outputs do not.
        !self.final_output
    }

    fn host(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        match &self.pre {
            Some(pre) => self.aggregate_host(&pre.finish(batch, pre.host(batch)?)?),
            None => self.aggregate_host(batch),
        }
    }

    fn cpu(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        // The absorbed operator on DataFusion's expressions, then the aggregation's host
        // reference (CPU code with DataFusion's semantics).
        match &self.pre {
            Some(pre) => self.aggregate_host(&pre.finish(batch, pre.cpu(batch)?)?),
            None => self.aggregate_host(batch),
        }
    }

    fn finish(&self, _input: &RecordBatch, out: RecordBatch) -> Result<RecordBatch> {
        Ok(out)
    }
}

impl AggregateStep {
    fn aggregate_host(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let agg = &self.aggregation;
        let (keys, inputs, ops) = if self.merge {
            let (k, i) = agg.state_inputs(batch);
            (k, i, agg.merge_ops())
        } else {
            let (k, i) = agg.raw_inputs(batch).map_err(crate::exec::external)?;
            (k, i, agg.update_ops())
        };
        let (keys, results) = aggregate_host(&keys, &inputs, &ops, batch.num_rows())
            .map_err(crate::exec::external)?;
        self.emit(keys, &results).map_err(crate::exec::external)
    }
}

/// `AggregateExec` on Cinder's kernels.
#[derive(Debug)]
pub struct CinderAggregateExec {
    original: Arc<dyn ExecutionPlan>,
    /// The Cinder row-wise operator between `original` and `input` that this one runs as its
    /// first step (`None`: `input` is `original`'s child).
    absorbed: Option<Arc<dyn ExecutionPlan>>,
    input: Arc<dyn ExecutionPlan>,
    stage: Stage,
    /// Raw rows to state, for raw-input stages.
    update: Option<Arc<AggregateStep>>,
    /// All state to the output.
    merge: Arc<AggregateStep>,
    core: OperatorCore,
}

/// The stage of a DataFusion aggregate mode, if Cinder runs it.
fn stage_of(mode: &AggregateMode) -> std::result::Result<Stage, String> {
    Ok(match mode {
        AggregateMode::Partial => Stage::Partial,
        AggregateMode::Final | AggregateMode::FinalPartitioned => Stage::Final,
        AggregateMode::Single | AggregateMode::SinglePartitioned => Stage::Single,
        AggregateMode::PartialReduce => return Err("mode PartialReduce is not supported".into()),
    })
}

/// Key types Cinder groups by.
fn groupable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int32
            | DataType::Int64
            | DataType::Float64
            | DataType::Date32
            | DataType::Decimal128(..)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
    )
}

/// Cinder's plan for `agg`, or why it stays on the CPU.
pub(crate) fn plan_aggregate(
    agg: &AggregateExec,
) -> std::result::Result<(Stage, Aggregation, SchemaRef), String> {
    let stage = stage_of(agg.mode())?;
    let group_by = agg.group_expr();
    if group_by.has_grouping_set() || !group_by.is_single() {
        return Err("grouping sets are not supported".into());
    }
    if agg.limit_options().is_some() {
        return Err("a group limit (TopK or DISTINCT) is not supported".into());
    }
    if *agg.input_order_mode() != InputOrderMode::Linear {
        return Err("ordered input (streaming aggregation) stays on DataFusion".into());
    }
    if !agg.dynamic_expressions_produced().is_empty() {
        return Err("it feeds a dynamic min/max filter to the scan".into());
    }
    if agg.filter_expr().iter().any(Option::is_some) {
        return Err("aggregate FILTER clauses are not supported".into());
    }
    let raw_schema = agg.input_schema();
    let input_schema = agg.input().schema();
    let out_schema = agg.schema();
    let grouped = !group_by.expr().is_empty();
    let k = group_by.expr().len();

    // Keys: programs over the raw input; a merging stage reads them as columns 0..k.
    let mut keys = Vec::with_capacity(k);
    for (i, (expr, name)) in group_by.expr().iter().enumerate() {
        let data_type = out_schema.field(i).data_type();
        if !groupable(data_type) {
            return Err(format!(
                "group key {name} of type {data_type} is not supported"
            ));
        }
        if stage.raw_input() {
            let program = translate(expr, &raw_schema).map_err(|e| e.to_string())?;
            if program.result_arrow_type() != *data_type {
                return Err(format!(
                    "group key {name}: Cinder computes {}, the plan declares {data_type}",
                    program.result_arrow_type()
                ));
            }
            keys.push(program);
        } else {
            let column: Arc<dyn PhysicalExpr> =
                Arc::new(Column::new(input_schema.field(i).name(), i));
            keys.push(translate(&column, &input_schema).map_err(|e| e.to_string())?);
        }
    }

    // Aggregates: their specs, and their argument programs over the raw input.
    let mut specs = Vec::new();
    let mut args = Vec::new();
    for aggr in agg.aggr_expr() {
        let name = aggr.name();
        let func = AggFunc::from_name(aggr.fun().name())
            .ok_or_else(|| format!("aggregate {name}: {} is not supported", aggr.fun().name()))?;
        if aggr.is_distinct() {
            return Err(format!("aggregate {name}: DISTINCT is not supported"));
        }
        if !aggr.order_bys().is_empty() {
            return Err(format!(
                "aggregate {name}: ORDER BY inside an aggregate is not supported"
            ));
        }
        let exprs = aggr.expressions();
        if exprs.len() > 1 {
            return Err(format!("aggregate {name}: more than one argument"));
        }
        // count(*) is planned as count(Int64(1)): every row counts.
        let arg = exprs.first().filter(|e| {
            func != AggFunc::Count
                || e.downcast_ref::<Literal>()
                    .is_none_or(|l| l.value().is_null() || matches!(l.value(), ScalarValue::Null))
        });
        let arg_type = match arg {
            Some(e) => Some(e.data_type(&raw_schema).map_err(|e| e.to_string())?),
            None => None,
        };
        let spec = AggregateSpec::new(func, arg_type.as_ref(), grouped)
            .map_err(|why| format!("aggregate {name}: {why}"))?;
        let declared = aggr.field();
        if spec.result != *declared.data_type() {
            return Err(format!(
                "aggregate {name}: Cinder computes {}, the plan declares {}",
                spec.result,
                declared.data_type()
            ));
        }
        let state = aggr.state_fields().map_err(|e| e.to_string())?;
        let state_types: Vec<DataType> = state.iter().map(|f| f.data_type().clone()).collect();
        if state_types != spec.state {
            return Err(format!(
                "aggregate {name}: Cinder keeps state {:?}, the plan declares {state_types:?}",
                spec.state
            ));
        }
        let program = match (stage.raw_input(), arg) {
            (true, Some(e)) => Some(translate(e, &raw_schema).map_err(|e| e.to_string())?),
            // A merging stage reads state columns; its arguments are not evaluated.
            (false, _) | (_, None) => None,
        };
        if let Some(p) = &program
            && Some(p.result_arrow_type()) != arg_type
        {
            return Err(format!(
                "aggregate {name}: Cinder computes its argument as {}, the plan as {arg_type:?}",
                p.result_arrow_type()
            ));
        }
        specs.push(spec);
        args.push(program);
    }
    let aggregation = Aggregation { keys, args, specs };

    // The state schema: the keys, then every aggregate's state fields.
    let mut fields: Vec<Arc<Field>> = out_schema.fields()[..k].to_vec();
    for aggr in agg.aggr_expr() {
        fields.extend(aggr.state_fields().map_err(|e| e.to_string())?);
    }
    let state_schema = Arc::new(Schema::new_with_metadata(
        fields,
        raw_schema.metadata().clone(),
    ));

    // A merging stage's input must be exactly that state, by position and type.
    if !stage.raw_input() {
        let expected: Vec<&DataType> = state_schema
            .fields()
            .iter()
            .map(|f| f.data_type())
            .collect();
        let actual: Vec<&DataType> = input_schema
            .fields()
            .iter()
            .map(|f| f.data_type())
            .collect();
        if expected != actual {
            return Err(format!(
                "its input's columns {actual:?} are not the state Cinder merges {expected:?}"
            ));
        }
        let keys_as_columns = group_by
            .expr()
            .iter()
            .enumerate()
            .all(|(i, (e, _))| e.downcast_ref::<Column>().is_some_and(|c| c.index() == i));
        if !keys_as_columns {
            return Err("its group keys are not the input's leading columns".into());
        }
    }
    // The output must be what Cinder emits.
    let emitted: Vec<DataType> = if stage.final_output() {
        out_schema.fields()[..k]
            .iter()
            .map(|f| f.data_type().clone())
            .chain(aggregation.specs.iter().map(|s| s.result.clone()))
            .collect()
    } else {
        state_schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect()
    };
    let declared: Vec<DataType> = out_schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    if emitted != declared {
        return Err(format!(
            "Cinder emits {emitted:?}, the plan declares {declared:?}"
        ));
    }
    Ok((stage, aggregation, state_schema))
}

impl CinderAggregateExec {
    /// Replaces `original` (an `AggregateExec`) with the plan [`plan_aggregate`] made for it.
    pub(crate) fn new(
        original: Arc<dyn ExecutionPlan>,
        stage: Stage,
        aggregation: Aggregation,
        state_schema: SchemaRef,
        backend: Backend,
        settings: OperatorSettings,
    ) -> Self {
        let input = Arc::clone(original.children()[0]);
        let aggregation = Arc::new(aggregation);
        let update = stage.raw_input().then(|| {
            Arc::new(AggregateStep {
                pre: None,
                aggregation: Arc::clone(&aggregation),
                merge: false,
                final_output: false,
                schema: Arc::clone(&state_schema),
            })
        });
        let merge = Arc::new(AggregateStep {
            pre: None,
            aggregation,
            merge: true,
            final_output: stage.final_output(),
            schema: original.schema(),
        });
        Self {
            original,
            absorbed: None,
            input,
            stage,
            update,
            merge,
            core: OperatorCore::new(backend, settings),
        }
    }

    /// This aggregate with its input operator `child` (a Cinder filter, or filter and
    /// projection, whose output it can take on the device) run as its first step, so that
    /// on the device a batch crosses once for both; `None` when it cannot absorb `child`.
    pub(crate) fn absorb(
        &self,
        child: &Arc<dyn ExecutionPlan>,
        pre: Arc<dyn BatchWork>,
        input: &Arc<dyn ExecutionPlan>,
    ) -> Option<Self> {
        let update = self.update.as_ref()?;
        if self.absorbed.is_some() || !pre.has_device_output() {
            return None;
        }
        Some(Self {
            original: Arc::clone(&self.original),
            absorbed: Some(Arc::clone(child)),
            input: Arc::clone(input),
            stage: self.stage,
            update: Some(Arc::new(AggregateStep {
                pre: Some(pre),
                aggregation: Arc::clone(&update.aggregation),
                merge: false,
                final_output: false,
                schema: Arc::clone(&update.schema),
            })),
            merge: Arc::clone(&self.merge),
            core: self.core.renewed(),
        })
    }

    /// The Cinder operator this one runs as its first step, if any.
    pub fn absorbed(&self) -> Option<&Arc<dyn ExecutionPlan>> {
        self.absorbed.as_ref()
    }

    /// The stage this operator runs.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The `AggregateExec` this operator replaces (over the same input).
    pub fn original(&self) -> &Arc<dyn ExecutionPlan> {
        &self.original
    }
}

impl DisplayAs for CinderAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = original_line(self.original.as_ref());
        write!(
            f,
            "CinderAggregateExec: {line} [{}]",
            self.core.backend.label()
        )?;
        if let Some(absorbed) = &self.absorbed {
            let below = displayable(absorbed.as_ref()).one_line().to_string();
            write!(f, ", over {}", below.trim_end())?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CinderAggregateExec {
    fn name(&self) -> &str {
        "CinderAggregateExec"
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        match &self.absorbed {
            Some(absorbed) => absorbed.child_stats_requests(partition),
            None => self.original.child_stats_requests(partition),
        }
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        match &self.absorbed {
            Some(absorbed) => {
                let below = absorbed.statistics_from_inputs(input_stats, args)?;
                self.original.statistics_from_inputs(&[below], args)
            }
            None => self.original.statistics_from_inputs(input_stats, args),
        }
    }

    #[allow(deprecated)]
    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.original.required_input_distribution()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
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
        self.original.apply_expressions(f)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (original, absorbed) = match &self.absorbed {
            Some(absorbed) => {
                let absorbed = Arc::clone(absorbed).with_new_children(children)?;
                let original =
                    Arc::clone(&self.original).with_new_children(vec![Arc::clone(&absorbed)])?;
                (original, Some(absorbed))
            }
            None => (
                Arc::clone(&self.original).with_new_children(children)?,
                None,
            ),
        };
        let input = match &absorbed {
            Some(absorbed) => Arc::clone(absorbed.children()[0]),
            None => Arc::clone(original.children()[0]),
        };
        check_input_schema(self.name(), &self.input, &input)?;
        Ok(Arc::new(Self {
            original,
            absorbed,
            input,
            stage: self.stage,
            update: self.update.clone(),
            merge: Arc::clone(&self.merge),
            core: self.core.renewed(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size().max(1);
        // The state batches this partition holds until its input ends, in DataFusion's
        // memory pool (Cinder does not spill: a pool too small fails the query).
        let reservation = MemoryConsumer::new(format!("CinderAggregateExec[{partition}]"))
            .register(context.memory_pool());
        // A first stage over a Cinder producer (a resident table, a hash join) takes its
        // batches as handed over, on the device where they are there.
        let handoff = match &self.update {
            Some(_) => self.core.handoff_input(&self.input, partition, &context)?,
            None => None,
        };
        let input = match handoff {
            Some(_) => None,
            None => Some(self.input.execute(partition, context)?),
        };
        let runner = Runner {
            backend: self.core.backend.clone(),
            inject: self.core.inject,
            metrics: DeviceMetrics::new(&self.core.metrics, partition),
        };
        let baseline = BaselineMetrics::new(&self.core.metrics, partition);
        let (stage, update, merge) = (self.stage, self.update.clone(), Arc::clone(&self.merge));
        let state_schema = match &update {
            Some(step) => Arc::clone(&step.schema),
            None => self.input.schema(),
        };
        let batch_rows = self.core.batch_rows;
        let schema = self.schema();
        let output = async move {
            let mut states = Vec::new();
            if let (Some(mut items), Some(step)) = (handoff, &update) {
                while let Some(item) = items.next().await {
                    let item = item?;
                    let _timer = baseline.elapsed_compute().timer();
                    let state = runner.run_item(step.as_ref(), item)?;
                    reservation.try_grow(state.get_array_memory_size())?;
                    states.push(state);
                }
            }
            if let Some(input) = input {
                let mut batches = Box::pin(coalesce(input, batch_rows));
                while let Some(batch) = batches.next().await {
                    let batch = batch?;
                    let _timer = baseline.elapsed_compute().timer();
                    let state = match &update {
                        Some(step) => runner.run(step.as_ref(), &batch, 0)?,
                        None => batch,
                    };
                    reservation.try_grow(state.get_array_memory_size())?;
                    states.push(state);
                }
            }
            let _timer = baseline.elapsed_compute().timer();
            // The merge holds the concatenated state and its result besides.
            reservation.try_grow(reservation.size())?;
            let out = if stage == Stage::Partial && states.len() == 1 {
                states.remove(0)
            } else {
                let all = if states.is_empty() {
                    RecordBatch::new_empty(Arc::clone(&state_schema))
                } else {
                    concat(&state_schema, states)?
                };
                runner.run(merge.as_ref(), &all, 0)?
            };
            // Handed out in slices of the session's batch size.
            Ok::<_, DataFusionError>(
                slices(out, batch_size)
                    .map(|slice| slice.record_output(&baseline))
                    .collect::<Vec<_>>(),
            )
        };
        let stream = futures::stream::once(output).flat_map(|result| {
            futures::stream::iter(match result {
                Ok(slices) => slices.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.core.metrics.clone_inner())
    }
}
