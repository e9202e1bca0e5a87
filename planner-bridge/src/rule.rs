//! The physical optimizer rule that moves supported operators onto Cinder's kernels, and the
//! one call that adds Cinder to a DataFusion session.

use std::sync::{Arc, Once, OnceLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::combine_partial_final_agg::CombinePartialFinalAggregate;
use datafusion::physical_optimizer::ensure_requirements::EnsureRequirements;
use datafusion::physical_optimizer::output_requirements::OutputRequirements;
use datafusion::physical_optimizer::sanity_checker::SanityCheckPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

use cinder_cuda::{CudaError, DeviceInfo};
use cinder_kernels::expr::translate;

use crate::aggregate::{CinderAggregateExec, plan_aggregate};
use crate::config::{CinderConfig, DeviceChoice, ExecutionMode, resolve_mode};
use crate::exec::{
    Backend, CinderCpuExec, CinderFilterExec, CinderFilterProjectExec, CinderProjectionExec,
    OperatorSettings, PredicateProgram, ProjectionOutput, fuse, has_scalar_subquery,
    with_subquery_literals,
};
use crate::join::{CinderHashJoinExec, JoinSpecHandle, plan_join};

/// Adds Cinder to a session: its settings (`cinder.*`, starting from `config`) and the
/// physical optimizer rule, which runs after DataFusion's own rules.
///
/// ```no_run
/// use datafusion::execution::SessionStateBuilder;
/// use datafusion::prelude::SessionContext;
/// let state = cinder_planner::with_cinder(
///     SessionStateBuilder::new().with_default_features(),
///     cinder_planner::CinderConfig::default(),
/// )
/// .build();
/// let ctx = SessionContext::new_with_state(state);
/// ```
pub fn with_cinder(mut builder: SessionStateBuilder, config: CinderConfig) -> SessionStateBuilder {
    let session = builder
        .config()
        .take()
        .unwrap_or_default()
        .with_option_extension(config);
    builder
        .with_config(session)
        .with_physical_optimizer_rule(Arc::new(CinderRule))
}

/// Moves `FilterExec` and `ProjectionExec` nodes whose expressions translate onto Cinder's
/// operators, and marks every other node Cinder targets (and any it could not move) with a
/// [`CinderCpuExec`] that says why it stays on the CPU.
#[derive(Debug, Default)]
pub struct CinderRule;

/// The device probe, once per process (creating a context is not free).
fn probed() -> std::result::Result<DeviceInfo, CudaError> {
    static PROBE: OnceLock<std::result::Result<DeviceInfo, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            cinder_cuda::probe(0)
                .map(|d| d.info().clone())
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(CudaError::NoDevice)
}

impl PhysicalOptimizerRule for CinderRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let cinder = config
            .extensions
            .get::<CinderConfig>()
            .cloned()
            .unwrap_or_default();
        let probe = match (cinder.enabled, cinder.device) {
            // Host mode and a disabled Cinder need no device.
            (false, _) | (_, DeviceChoice::Host) => Err(CudaError::NoDevice("not probed".into())),
            _ => probed(),
        };
        let mut mode = resolve_mode(&cinder, &probe)?;
        let backend = match Backend::for_mode(&mode) {
            Ok(backend) => backend,
            // Under auto, a device that probes but cannot run Cinder (no kernel image for
            // it, no memory pool) leaves the plans to DataFusion, as no device would.
            Err(e) if cinder.device == DeviceChoice::Auto => {
                mode = ExecutionMode::Cpu {
                    reason: format!("cinder.device = auto and the device cannot run Cinder: {e}"),
                };
                None
            }
            Err(e) => return Err(e),
        };
        let Some(backend) = backend else {
            if let ExecutionMode::Cpu { reason } = &mode {
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    log::info!("cinder: plans stay on DataFusion's CPU operators: {reason}")
                });
            }
            return Ok(plan);
        };
        // Once per plan: a plan that already holds Cinder's nodes (the rule registered
        // twice, or a plan optimised again) is left as it is.
        if contains_cinder(&plan) {
            return Ok(plan);
        }
        let offload = Offload {
            backend,
            config: cinder,
        };
        let plan = if offload.config.collect_left_joins {
            collect_left_joins(plan, &offload, config)?
        } else {
            plan
        };
        let moved = plan.transform_up(|node| offload.visit(node))?.data;
        // A projection right over a filter runs as one operator: one trip to the device.
        let fused = moved.transform_up(fuse_filter_projection)?.data;
        // And an aggregate over either takes it as its first step.
        Ok(fused.transform_up(absorb_into_aggregate)?.data)
    }

    fn name(&self) -> &str {
        "cinder"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// With `cinder.collect_left_joins`: each Partitioned hash join that Cinder will run becomes
/// a CollectLeft one, and DataFusion's distribution and sorting requirements are enforced
/// again. That removes the hash repartitions that fed those joins, collects each build side
/// into one partition, and repartitions again only where an operator above needs it. A
/// rewritten plan that fails DataFusion's sanity check is dropped for the original (logged).
fn collect_left_joins(
    plan: Arc<dyn ExecutionPlan>,
    offload: &Offload,
    config: &ConfigOptions,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut joins = 0;
    let rewritten = Arc::clone(&plan).transform_up(|node| {
        if let Some(agg) = node.downcast_ref::<AggregateExec>() {
            return split_aggregate(agg).map(|split| match split {
                Some(split) => Transformed::yes(split),
                None => Transformed::no(node),
            });
        }
        let Some(join) = node.downcast_ref::<HashJoinExec>() else {
            return Ok(Transformed::no(node));
        };
        if *join.partition_mode() != PartitionMode::Partitioned || offload.join(join).is_err() {
            return Ok(Transformed::no(node));
        }
        joins += 1;
        let collect_left = join
            .builder()
            .with_partition_mode(PartitionMode::CollectLeft)
            .reset_state()
            .build_exec()?;
        Ok(Transformed::yes(collect_left))
    });
    let rewritten = match rewritten {
        Ok(rewritten) if joins > 0 => rewritten.data,
        Ok(_) => return Ok(plan),
        Err(e) => {
            log::warn!(
                "cinder: cinder.collect_left_joins: {e}; the joins keep DataFusion's \
                 partition modes"
            );
            return Ok(plan);
        }
    };
    // As DataFusion's own optimizer does: the root's requirements (its order and single
    // partition) are held by a marker node while the requirements are enforced, and a
    // partial aggregate right under its final stage is merged with it again.
    let enforced = OutputRequirements::new_add_mode()
        .optimize(rewritten, config)
        .and_then(|p| EnsureRequirements::new().optimize(p, config))
        .and_then(|p| CombinePartialFinalAggregate::new().optimize(p, config))
        .and_then(|p| OutputRequirements::new_remove_mode().optimize(p, config))
        .and_then(|p| SanityCheckPlan::new().optimize(p, config));
    match enforced {
        Ok(enforced) => {
            log::debug!(
                "cinder: cinder.collect_left_joins: {joins} partitioned join(s) now collect \
                 their build side"
            );
            Ok(enforced)
        }
        Err(e) => {
            log::warn!(
                "cinder: cinder.collect_left_joins: the rewritten plan is not valid ({e}); \
                 the joins keep DataFusion's partition modes"
            );
            Ok(plan)
        }
    }
}

/// A `SinglePartitioned` aggregate split back into the `Partial` and `FinalPartitioned`
/// stages DataFusion's planner made (which DataFusion merged because its input was already
/// partitioned by the group keys). Once a join under it no longer hash-partitions its output,
/// the first stage then runs on the join's output where it is, and only the aggregate states
/// cross the exchange; where no exchange is needed the stages are merged again.
///
/// Aggregates with an ORDER BY of their own (`first_value(x ORDER BY y)`, ...) are left
/// whole: DataFusion may have marked them as reading pre-ordered input, which a final stage
/// merging states in arbitrary order must not be.
fn split_aggregate(agg: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if *agg.mode() != AggregateMode::SinglePartitioned
        || agg.aggr_expr().iter().any(|a| !a.order_bys().is_empty())
    {
        return Ok(None);
    }
    let partial = Arc::new(AggregateExec::try_new(
        AggregateMode::Partial,
        agg.group_expr().clone(),
        agg.aggr_expr().to_vec(),
        agg.filter_expr().to_vec(),
        Arc::clone(agg.input()),
        agg.input_schema(),
    )?);
    let aggr_expr = partial.aggr_expr().to_vec();
    let final_stage = AggregateExec::try_new(
        AggregateMode::FinalPartitioned,
        partial.group_expr().as_final(),
        aggr_expr,
        agg.filter_expr().to_vec(),
        partial,
        agg.input_schema(),
    )?
    .with_limit_options(agg.limit_options());
    Ok(Some(Arc::new(final_stage)))
}

fn contains_cinder(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        found = node.is::<CinderCpuExec>()
            || node.is::<CinderFilterExec>()
            || node.is::<CinderProjectionExec>()
            || node.is::<CinderFilterProjectExec>()
            || node.is::<CinderAggregateExec>()
            || node.is::<CinderHashJoinExec>();
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

fn fuse_filter_projection(
    node: Arc<dyn ExecutionPlan>,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let Some(projection) = node.downcast_ref::<CinderProjectionExec>() else {
        return Ok(Transformed::no(node));
    };
    let Some(filter) = node.children()[0].downcast_ref::<CinderFilterExec>() else {
        return Ok(Transformed::no(node));
    };
    Ok(match fuse(projection, filter) {
        Some(fused) => Transformed::yes(Arc::new(fused)),
        None => Transformed::no(node),
    })
}

/// A Cinder aggregate over a Cinder filter (or filter and projection) whose output stays on
/// the device runs that operator as its first step: one device trip per batch for both.
fn absorb_into_aggregate(
    node: Arc<dyn ExecutionPlan>,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let Some(agg) = node.downcast_ref::<CinderAggregateExec>() else {
        return Ok(Transformed::no(node));
    };
    let child = node.children()[0];
    let parts = if let Some(filter) = child.downcast_ref::<CinderFilterExec>() {
        Some(filter.parts())
    } else {
        child
            .downcast_ref::<CinderFilterProjectExec>()
            .map(CinderFilterProjectExec::parts)
    };
    let absorbed = parts.and_then(|(work, input)| agg.absorb(child, work, input));
    Ok(match absorbed {
        Some(fused) => Transformed::yes(Arc::new(fused)),
        None => Transformed::no(node),
    })
}

struct Offload {
    backend: Backend,
    config: CinderConfig,
}

fn stays(
    node: Arc<dyn ExecutionPlan>,
    reason: String,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    log::debug!("cinder: {} stays on CPU: {reason}", node.name());
    Ok(Transformed::yes(Arc::new(CinderCpuExec::new(node, reason))))
}

impl Offload {
    fn settings(&self) -> OperatorSettings {
        OperatorSettings {
            batch_rows: self.config.batch_rows.max(1),
            inject: self.config.test_inject_failure,
            device_regions: self.config.device_regions,
        }
    }

    fn visit(&self, node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
        if let Some(filter) = node.downcast_ref::<FilterExec>() {
            return match self.filter(filter) {
                Ok(cinder) => Ok(Transformed::yes(Arc::new(cinder(Arc::clone(&node))))),
                Err(reason) => stays(node, reason),
            };
        }
        if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
            return match self.projection(projection) {
                Ok(cinder) => Ok(Transformed::yes(Arc::new(cinder(Arc::clone(&node))))),
                Err(reason) => stays(node, reason),
            };
        }
        if let Some(join) = node.downcast_ref::<HashJoinExec>() {
            return match self.join(join) {
                Ok(spec) => Ok(Transformed::yes(Arc::new(CinderHashJoinExec::new(
                    Arc::clone(&node),
                    spec,
                    self.backend.clone(),
                    self.settings(),
                )))),
                Err(reason) => stays(node, reason),
            };
        }
        if let Some(agg) = node.downcast_ref::<AggregateExec>() {
            return match self.aggregate(agg) {
                Ok((stage, aggregation, state_schema)) => {
                    let exec = CinderAggregateExec::new(
                        Arc::clone(&node),
                        stage,
                        aggregation,
                        state_schema,
                        self.backend.clone(),
                        self.settings(),
                    );
                    Ok(Transformed::yes(Arc::new(exec)))
                }
                Err(reason) => stays(node, reason),
            };
        }
        Ok(Transformed::no(node))
    }

    fn join(&self, join: &HashJoinExec) -> std::result::Result<JoinSpecHandle, String> {
        if !self.config.join_enabled {
            return Err("cinder.join_enabled = false".to_string());
        }
        if let Some(reason) = self
            .too_small(join.right())
            .or_else(|| self.device_columns(join.left(), false))
            .or_else(|| self.device_columns(join.right(), false))
        {
            return Err(reason);
        }
        plan_join(join)
    }

    fn aggregate(
        &self,
        agg: &AggregateExec,
    ) -> std::result::Result<
        (
            cinder_kernels::aggregate::Stage,
            cinder_kernels::aggregate::Aggregation,
            datafusion::arrow::datatypes::SchemaRef,
        ),
        String,
    > {
        if !self.config.aggregate_enabled {
            return Err("cinder.aggregate_enabled = false".to_string());
        }
        if let Some(reason) = self
            .too_small(agg.input())
            .or_else(|| self.device_columns(agg.input(), false))
        {
            return Err(reason);
        }
        plan_aggregate(agg)
    }

    /// Why `input` is too small to move, if it is.
    fn too_small(&self, input: &Arc<dyn ExecutionPlan>) -> Option<String> {
        let stats = StatisticsContext::new()
            .compute(input.as_ref(), &StatisticsArgs::new())
            .ok()?;
        let rows = stats.num_rows;
        let rows = *rows.get_value()?;
        (rows < self.config.min_rows).then(|| {
            format!(
                "estimated {rows} input rows, below cinder.min_rows = {}",
                self.config.min_rows
            )
        })
    }

    /// In cuda mode, why the device cannot take `input`'s columns, if it cannot.
    fn device_columns(&self, input: &Arc<dyn ExecutionPlan>, compacts: bool) -> Option<String> {
        if !matches!(self.backend, Backend::Cuda(_)) {
            return None;
        }
        input.schema().fields().iter().find_map(|field| {
            let dt = field.data_type();
            if let Err(e) = cinder_cuda::check_supported(dt) {
                return Some(format!("input column '{}': {e}", field.name()));
            }
            (compacts && matches!(dt, DataType::Dictionary(..))).then(|| {
                format!(
                    "input column '{}' is {dt}, which the device filter does not compact yet",
                    field.name()
                )
            })
        })
    }

    #[allow(clippy::type_complexity)]
    fn filter(
        &self,
        filter: &FilterExec,
    ) -> std::result::Result<Box<dyn FnOnce(Arc<dyn ExecutionPlan>) -> CinderFilterExec>, String>
    {
        let input = filter.input();
        if !self.config.filter_enabled {
            return Err("cinder.filter_enabled = false".to_string());
        }
        if filter.fetch().is_some() {
            return Err("a fetch limit is not supported yet".to_string());
        }
        if let Some(reason) = self
            .too_small(input)
            .or_else(|| self.device_columns(input, true))
        {
            return Err(reason);
        }
        let predicate = Arc::clone(filter.predicate());
        let schema = input.schema();
        let program = if has_scalar_subquery(&predicate) {
            // The subqueries' values come at execution: check now that the predicate
            // translates with typed nulls in their place, translate it for real later.
            let placeholder = with_subquery_literals(&predicate, &|subquery| {
                let field = subquery.return_field(&schema)?;
                ScalarValue::try_from(field.data_type())
            })
            .map_err(|e| e.to_string())?;
            translate(&placeholder, &schema).map_err(|e| e.to_string())?;
            PredicateProgram::Deferred {
                input_schema: Arc::clone(&schema),
                program: std::sync::OnceLock::new(),
            }
        } else {
            PredicateProgram::Ready(translate(&predicate, &schema).map_err(|e| e.to_string())?)
        };
        let projection = filter.projection().as_ref().map(|p| p.to_vec());
        let (backend, settings) = (self.backend.clone(), self.settings());
        Ok(Box::new(move |original| {
            CinderFilterExec::new(original, predicate, program, projection, backend, settings)
        }))
    }

    #[allow(clippy::type_complexity)]
    fn projection(
        &self,
        projection: &ProjectionExec,
    ) -> std::result::Result<Box<dyn FnOnce(Arc<dyn ExecutionPlan>) -> CinderProjectionExec>, String>
    {
        let input = projection.input();
        if !self.config.projection_enabled {
            return Err("cinder.projection_enabled = false".to_string());
        }
        let exprs: Vec<Arc<dyn PhysicalExpr>> = projection
            .expr()
            .iter()
            .map(|p| Arc::clone(&p.expr))
            .collect();
        if exprs.iter().all(|e| e.downcast_ref::<Column>().is_some()) {
            return Err("column references only: nothing to compute".to_string());
        }
        if let Some(reason) = self
            .too_small(input)
            .or_else(|| self.device_columns(input, false))
        {
            return Err(reason);
        }
        let schema = input.schema();
        let mut outputs = Vec::with_capacity(exprs.len());
        let mut programs = Vec::new();
        for expr in &exprs {
            match expr.downcast_ref::<Column>() {
                Some(column) => outputs.push(ProjectionOutput::Column(column.index())),
                None => {
                    let program = translate(expr, &schema).map_err(|e| e.to_string())?;
                    let declared = projection.schema().field(outputs.len()).data_type().clone();
                    if program.result_arrow_type() != declared {
                        return Err(format!(
                            "{expr}: Cinder computes {}, the plan declares {declared}",
                            program.result_arrow_type()
                        ));
                    }
                    programs.push(program);
                    outputs.push(ProjectionOutput::Computed(programs.len() - 1));
                }
            }
        }
        let (backend, settings) = (self.backend.clone(), self.settings());
        Ok(Box::new(move |original| {
            CinderProjectionExec::new(original, exprs, outputs, programs, backend, settings)
        }))
    }
}

/// Where one of the operators Cinder targets runs in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The operator's name (`CinderFilterExec`, or the DataFusion operator that stayed).
    pub operator: String,
    /// Why it stays on the CPU; `None` when Cinder runs it.
    pub reason: Option<String>,
}

/// The placement of every operator Cinder targets in `plan`, top-down: what moved to Cinder,
/// and why the rest stayed on the CPU.
pub fn placements(plan: &Arc<dyn ExecutionPlan>) -> Vec<Placement> {
    let mut out = Vec::new();
    let _ = plan.apply(|node| {
        if let Some(cpu) = node.downcast_ref::<CinderCpuExec>() {
            out.push(Placement {
                operator: cpu.input().name().to_string(),
                reason: Some(cpu.reason().to_string()),
            });
        } else if let Some(agg) = node.downcast_ref::<CinderAggregateExec>() {
            out.push(Placement {
                operator: node.name().to_string(),
                reason: None,
            });
            // The operators it runs as its first step moved too.
            if let Some(absorbed) = agg.absorbed() {
                let count = if absorbed.is::<CinderFilterProjectExec>() {
                    2
                } else {
                    1
                };
                for _ in 0..count {
                    out.push(Placement {
                        operator: absorbed.name().to_string(),
                        reason: None,
                    });
                }
            }
        } else if node.is::<CinderFilterExec>()
            || node.is::<CinderProjectionExec>()
            || node.is::<CinderHashJoinExec>()
        {
            out.push(Placement {
                operator: node.name().to_string(),
                reason: None,
            });
        } else if node.is::<CinderFilterProjectExec>() {
            // Two of DataFusion's operators in one.
            for _ in 0..2 {
                out.push(Placement {
                    operator: node.name().to_string(),
                    reason: None,
                });
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}
