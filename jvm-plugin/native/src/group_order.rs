//! The order of the groups Spark's `ObjectHashAggregateExec` emits ([`GroupOrderExec`]).
//!
//! Spark's `ObjectAggregationIterator` emits its groups in the order they first came (its hash
//! map is a `LinkedHashMap`), until the map holds `spark.sql.objectHashAggregate.sortBased
//! .fallbackThreshold` groups with rows left: it then reads the rest sorted by the grouping
//! keys, and emits every group in the keys' order (`SortBasedAggregator` merges the sorted
//! rows with the sorted hash map). Where a later stage depends on the order its buffers come
//! in (`collect_list`, `percentile_approx`, each with its own fallback), the partial stage's
//! order matters: a native partial aggregation emits its groups in the order they first came,
//! and this operator sorts them by their keys where there are at least the threshold's number
//! of groups.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::{
    SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};

/// The rows of an output batch at most.
const OUTPUT_ROWS: usize = 8192;

/// The input's rows (one per group), sorted by the columns `keys` (ascending, nulls first:
/// Spark's ordering of grouping keys, which the partial stage has normalised) where there are
/// at least `min_rows` of them; else as they come.
#[derive(Debug)]
pub struct GroupOrderExec {
    keys: Vec<usize>,
    min_rows: usize,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl GroupOrderExec {
    /// Over `input`, whose columns `keys` must exist.
    pub fn try_new(
        keys: Vec<usize>,
        min_rows: usize,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let schema = input.schema();
        if let Some(k) = keys.iter().find(|k| **k >= schema.fields().len()) {
            return Err(DataFusionError::Plan(format!(
                "group order by column {k} of {}",
                schema.fields().len()
            )));
        }
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Self {
            keys,
            min_rows,
            input,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for GroupOrderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "GroupOrderExec: keys={:?}, from {} groups",
            self.keys, self.min_rows
        )
    }
}

/// `batches` (of `schema`) in one, sorted by `keys` where it has at least `min_rows` rows.
fn order(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    keys: &[usize],
    min_rows: usize,
) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    if all.num_rows() < min_rows.max(1) || keys.is_empty() {
        return Ok(all);
    }
    let columns: Vec<SortColumn> = keys
        .iter()
        .map(|&k| SortColumn {
            values: Arc::clone(all.column(k)),
            options: Some(SortOptions {
                descending: false,
                nulls_first: true,
            }),
        })
        .collect();
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(&all, &indices)?)
}

impl ExecutionPlan for GroupOrderExec {
    fn name(&self) -> &str {
        "GroupOrderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::try_new(
                self.keys.clone(),
                self.min_rows,
                input,
            )?)),
            _ => Err(DataFusionError::Internal(
                "GroupOrderExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.input.schema();
        let input = self.input.execute(partition, context)?;
        let (keys, min_rows) = (self.keys.clone(), self.min_rows);
        let out_schema = Arc::clone(&schema);
        let sorted = stream::once(async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let all = order(&schema, &batches, &keys, min_rows)?;
            let slices: Vec<Result<RecordBatch>> = (0..all.num_rows())
                .step_by(OUTPUT_ROWS)
                .map(|at| Ok(all.slice(at, OUTPUT_ROWS.min(all.num_rows() - at))))
                .collect();
            Ok::<_, DataFusionError>(stream::iter(slices))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            out_schema,
            sorted.boxed(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    #[test]
    fn sorts_from_the_threshold_only() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, false),
        ]));
        let batch = |k: Vec<Option<&str>>, v: Vec<i64>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(k)),
                    Arc::new(Int64Array::from(v)),
                ],
            )
            .unwrap()
        };
        let batches = [
            batch(vec![Some("b"), Some("a")], vec![1, 2]),
            batch(vec![None, Some("c")], vec![3, 4]),
        ];
        let values = |b: &RecordBatch| b.column(1).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(
            values(&order(&schema, &batches, &[0], 5).unwrap()),
            [1, 2, 3, 4]
        );
        assert_eq!(
            values(&order(&schema, &batches, &[0], 4).unwrap()),
            [3, 2, 1, 4]
        );
    }
}
