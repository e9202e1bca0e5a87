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
//! of groups. It holds them all for that, in the task's memory pool; where the pool has no room,
//! they go on as they come (a spilled aggregation emits them sorted by their keys already).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::compute::{
    SortColumn, SortOptions, concat, interleave_record_batch, lexsort_to_indices,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
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

/// The rows of `batches`, in batches of at most [`OUTPUT_ROWS`], sorted by `keys` where there
/// are at least `min_rows` of them; else the batches as they are.
fn order(batches: Vec<RecordBatch>, keys: &[usize], min_rows: usize) -> Result<Vec<RecordBatch>> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows < min_rows.max(1) || keys.is_empty() {
        return Ok(batches);
    }
    // Only the keys are put together; the rows are gathered from their batches.
    let columns = keys
        .iter()
        .map(|&k| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(k).as_ref()).collect();
            Ok(SortColumn {
                values: concat(&parts)?,
                options: Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let sorted = lexsort_to_indices(&columns, None)?;
    let mut at = Vec::with_capacity(rows);
    for (b, batch) in batches.iter().enumerate() {
        at.extend((0..batch.num_rows()).map(|r| (b, r)));
    }
    let inputs: Vec<&RecordBatch> = batches.iter().collect();
    sorted
        .values()
        .chunks(OUTPUT_ROWS)
        .map(|chunk| {
            let picks: Vec<(usize, usize)> = chunk.iter().map(|&i| at[i as usize]).collect();
            Ok(interleave_record_batch(&inputs, &picks)?)
        })
        .collect()
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
        let reservation = MemoryConsumer::new("GroupOrderExec").register(context.memory_pool());
        let input = self.input.execute(partition, context)?;
        let (keys, min_rows) = (self.keys.clone(), self.min_rows);
        let out_schema = Arc::clone(&schema);
        let sorted = stream::once(async move {
            let reservation = reservation;
            let mut input = input;
            let mut batches = Vec::new();
            while let Some(batch) = input.next().await {
                let batch = batch?;
                // Held until every group came: the memory the sort needs. Where the task's
                // memory limit has no room for it, the groups go on as they come (after a
                // spill, DataFusion's aggregation emits them sorted by their keys already).
                if reservation.try_grow(batch.get_array_memory_size()).is_err() {
                    log::debug!("cinder: no memory to order a partial aggregation's groups");
                    drop(reservation);
                    let held = stream::iter(batches.into_iter().map(Ok));
                    let rest = stream::iter([Ok(batch)]).chain(input);
                    return Ok::<_, DataFusionError>(held.chain(rest).boxed());
                }
                batches.push(batch);
            }
            let out = order(batches, &keys, min_rows)?;
            drop(reservation);
            Ok(stream::iter(out.into_iter().map(Ok)).boxed())
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
        let values = |out: Vec<RecordBatch>| {
            out.iter()
                .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            values(order(batches.to_vec(), &[0], 5).unwrap()),
            [1, 2, 3, 4]
        );
        assert_eq!(
            values(order(batches.to_vec(), &[0], 4).unwrap()),
            [3, 2, 1, 4]
        );
    }
}
