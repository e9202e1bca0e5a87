//! Spark's `GenerateExec` with `explode` and `posexplode` of an array ([`GenerateExec`]), also
//! their `_outer` forms.
//!
//! Spark emits, for each input row in order, one row per element of the row's array (in the
//! array's order): the input columns it keeps, then the element's position (posexplode) and
//! the element. A null or empty array gives no row, or with `outer` one row whose position and
//! element are null.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, UInt32Array, UInt64Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};

/// The most rows of one output batch (an input batch whose arrays are long gives several).
const OUTPUT_ROWS: usize = 8192;

/// `explode` (or `posexplode`, with `position`) of `array` over `input`, keeping the input
/// columns `keep`.
pub struct GenerateExec {
    array: Arc<dyn PhysicalExpr>,
    keep: Vec<usize>,
    position: bool,
    outer: bool,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl GenerateExec {
    /// The generator over `input`: its output is the columns `keep` of the input (by index),
    /// then with `position` an int `pos`, then the element `col`.
    pub fn try_new(
        array: Arc<dyn PhysicalExpr>,
        keep: Vec<usize>,
        position: bool,
        outer: bool,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let input_schema = input.schema();
        let DataType::List(element) = array.data_type(&input_schema)? else {
            return Err(DataFusionError::Plan(format!(
                "explode of {}",
                array.data_type(&input_schema)?
            )));
        };
        let mut fields = Vec::with_capacity(keep.len() + 2);
        for &i in &keep {
            let field = input_schema.fields().get(i).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "explode keeps column {i} of {}",
                    input_schema.fields().len()
                ))
            })?;
            fields.push(Arc::clone(field));
        }
        if position {
            fields.push(Arc::new(Field::new("pos", DataType::Int32, outer)));
        }
        fields.push(Arc::new(Field::new(
            "col",
            element.data_type().clone(),
            element.is_nullable() || outer,
        )));
        let schema = Arc::new(Schema::new(fields));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            array,
            keep,
            position,
            outer,
            input,
            schema,
            properties: Arc::new(properties),
        })
    }
}

impl fmt::Debug for GenerateExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenerateExec")
            .field("array", &self.array)
            .field("keep", &self.keep)
            .field("position", &self.position)
            .field("outer", &self.outer)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for GenerateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "GenerateExec: {}explode{}({}), keep={:?}",
            if self.position { "pos" } else { "" },
            if self.outer { "_outer" } else { "" },
            self.array,
            self.keep
        )
    }
}

impl ExecutionPlan for GenerateExec {
    fn name(&self) -> &str {
        "GenerateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        f(&self.array)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::try_new(
                Arc::clone(&self.array),
                self.keep.clone(),
                self.position,
                self.outer,
                input,
            )?)),
            _ => Err(DataFusionError::Internal(
                "GenerateExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(GenerateStream {
            input: self.input.execute(partition, context)?,
            array: Arc::clone(&self.array),
            keep: self.keep.clone(),
            position: self.position,
            outer: self.outer,
            schema: Arc::clone(&self.schema),
            pending: None,
        }))
    }
}

/// An input batch being exploded: per output row, its input row, its element in the array's
/// values (none for an outer row) and its position; the rows from `at` on are still to come.
struct Pending {
    batch: RecordBatch,
    values: ArrayRef,
    rows: UInt32Array,
    elements: UInt64Array,
    positions: Int32Array,
    at: usize,
}

/// The stream of [`GenerateExec`].
struct GenerateStream {
    input: SendableRecordBatchStream,
    array: Arc<dyn PhysicalExpr>,
    keep: Vec<usize>,
    position: bool,
    outer: bool,
    schema: SchemaRef,
    pending: Option<Pending>,
}

impl GenerateStream {
    /// The output rows of `batch` (none where no array has an element and not `outer`).
    fn explode(&self, batch: RecordBatch) -> Result<Option<Pending>> {
        let array = self.array.evaluate(&batch)?.into_array(batch.num_rows())?;
        let Some(list) = array.as_list_opt::<i32>() else {
            return Err(DataFusionError::Internal(format!(
                "explode of {}",
                array.data_type()
            )));
        };
        let offsets = list.value_offsets();
        let mut rows = Vec::new();
        let mut elements = Vec::new();
        let mut positions = Vec::new();
        for row in 0..list.len() {
            let (from, to) = if list.is_valid(row) {
                (offsets[row], offsets[row + 1])
            } else {
                (0, 0)
            };
            let row_index = u32::try_from(row)
                .map_err(|_| DataFusionError::Execution("an input batch too long".into()))?;
            if from == to {
                if self.outer {
                    rows.push(row_index);
                    elements.push(None);
                    positions.push(None);
                }
                continue;
            }
            for (pos, at) in (from..to).enumerate() {
                rows.push(row_index);
                elements.push(Some(at as u64));
                positions.push(Some(pos as i32));
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(Pending {
            batch,
            values: Arc::clone(list.values()),
            rows: UInt32Array::from(rows),
            elements: UInt64Array::from(elements),
            positions: Int32Array::from(positions),
            at: 0,
        }))
    }

    /// The next output batch of `pending`: up to [`OUTPUT_ROWS`] rows from `at`.
    fn next_output(&self, pending: &mut Pending) -> Result<RecordBatch> {
        let length = OUTPUT_ROWS.min(pending.rows.len() - pending.at);
        let rows = pending.rows.slice(pending.at, length);
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for &i in &self.keep {
            columns.push(take(pending.batch.column(i).as_ref(), &rows, None)?);
        }
        if self.position {
            columns.push(Arc::new(pending.positions.slice(pending.at, length)) as ArrayRef);
        }
        let elements = pending.elements.slice(pending.at, length);
        columns.push(take(pending.values.as_ref(), &elements, None)?);
        pending.at += length;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl Stream for GenerateStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(mut pending) = self.pending.take() {
                let out = self.next_output(&mut pending);
                if pending.at < pending.rows.len() {
                    self.pending = Some(pending);
                }
                return Poll::Ready(Some(out));
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => match self.explode(batch) {
                    Ok(pending) => self.pending = pending,
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
                other => return other,
            }
        }
    }
}

impl RecordBatchStream for GenerateStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Int32Builder, Int64Array, ListBuilder};
    use datafusion::arrow::datatypes::{Int32Type, Int64Type};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::Column;

    type Row = (i64, Option<i32>, Option<i32>);

    async fn run(position: bool, outer: bool) -> Vec<Row> {
        let mut b = ListBuilder::new(Int32Builder::new());
        for row in [
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(7)]),
        ] {
            match row {
                Some(values) => {
                    for v in values {
                        b.values().append_option(v);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        let list: ArrayRef = Arc::new(b.finish());
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("a", list.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![10, 11, 12, 13])), list],
        )
        .unwrap();
        let batches = vec![batch.slice(0, 3), batch.slice(3, 1)];
        let input: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[batches], schema, None).unwrap();
        let generate = GenerateExec::try_new(
            Arc::new(Column::new("a", 1)),
            vec![0],
            position,
            outer,
            input,
        )
        .unwrap();
        let out: Vec<RecordBatch> = generate
            .execute(0, Arc::new(TaskContext::default()))
            .unwrap()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        out.iter()
            .flat_map(|b| {
                let id = b.column(0).as_primitive::<Int64Type>().clone();
                let pos = position.then(|| b.column(1).as_primitive::<Int32Type>().clone());
                let col = b
                    .column(b.num_columns() - 1)
                    .as_primitive::<Int32Type>()
                    .clone();
                (0..b.num_rows())
                    .map(|i| {
                        (
                            id.value(i),
                            pos.as_ref().and_then(|p| p.is_valid(i).then(|| p.value(i))),
                            col.is_valid(i).then(|| col.value(i)),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn explodes_in_order_with_positions_and_outer_rows() {
        assert_eq!(
            run(false, false).await,
            [
                (10, None, Some(1)),
                (10, None, None),
                (10, None, Some(3)),
                (13, None, Some(7))
            ]
        );
        assert_eq!(
            run(true, true).await,
            [
                (10, Some(0), Some(1)),
                (10, Some(1), None),
                (10, Some(2), Some(3)),
                (11, None, None),
                (12, None, None),
                (13, Some(0), Some(7)),
            ]
        );
    }
}
