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

/// An input batch being exploded: its array column, and where the next output batch starts
/// (the row, and the element within its array).
struct Pending {
    batch: RecordBatch,
    array: ArrayRef,
    row: usize,
    element: usize,
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
    /// `batch` with its arrays evaluated, to explode.
    fn start(&self, batch: RecordBatch) -> Result<Pending> {
        let array = self.array.evaluate(&batch)?.into_array(batch.num_rows())?;
        if array.as_list_opt::<i32>().is_none() {
            return Err(DataFusionError::Internal(format!(
                "explode of {}",
                array.data_type()
            )));
        }
        Ok(Pending {
            batch,
            array,
            row: 0,
            element: 0,
        })
    }

    /// The next output batch of `pending`, of up to [`OUTPUT_ROWS`] rows (its indices built
    /// for those rows alone), or `None` where its input rows give no more.
    fn next_output(&self, pending: &mut Pending) -> Result<Option<RecordBatch>> {
        let list = pending.array.as_list::<i32>();
        let offsets = list.value_offsets();
        let mut rows = Vec::new();
        let mut elements = Vec::new();
        let mut positions = Vec::new();
        while pending.row < list.len() && rows.len() < OUTPUT_ROWS {
            let row = pending.row;
            let (from, to) = if list.is_valid(row) {
                (offsets[row] as usize, offsets[row + 1] as usize)
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
                pending.row += 1;
                continue;
            }
            let take = (to - from - pending.element).min(OUTPUT_ROWS - rows.len());
            for pos in pending.element..pending.element + take {
                rows.push(row_index);
                elements.push(Some((from + pos) as u64));
                positions.push(Some(i32::try_from(pos).map_err(|_| {
                    DataFusionError::Execution("an array of over 2^31 elements".into())
                })?));
            }
            pending.element += take;
            if from + pending.element == to {
                pending.row += 1;
                pending.element = 0;
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let rows = UInt32Array::from(rows);
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for &i in &self.keep {
            columns.push(take(pending.batch.column(i).as_ref(), &rows, None)?);
        }
        if self.position {
            columns.push(Arc::new(Int32Array::from(positions)) as ArrayRef);
        }
        columns.push(take(
            list.values().as_ref(),
            &UInt64Array::from(elements),
            None,
        )?);
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.schema),
            columns,
        )?))
    }
}

impl Stream for GenerateStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(mut pending) = self.pending.take() {
                match self.next_output(&mut pending) {
                    Ok(Some(out)) => {
                        self.pending = Some(pending);
                        return Poll::Ready(Some(Ok(out)));
                    }
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => match self.start(batch) {
                    Ok(pending) => self.pending = Some(pending),
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
    async fn long_arrays_come_in_bounded_batches() {
        let mut b = ListBuilder::new(Int32Builder::new());
        for n in [10_000, 0, 3, OUTPUT_ROWS as i32 * 2 - 2] {
            for v in 0..n {
                b.values().append_value(v);
            }
            b.append(true);
        }
        let list: ArrayRef = Arc::new(b.finish());
        let schema = Arc::new(Schema::new(vec![Field::new(
            "a",
            list.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![list]).unwrap();
        let input: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap();
        let generate =
            GenerateExec::try_new(Arc::new(Column::new("a", 0)), vec![], true, true, input)
                .unwrap();
        let out: Vec<RecordBatch> = generate
            .execute(0, Arc::new(TaskContext::default()))
            .unwrap()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        assert!(out.iter().all(|b| b.num_rows() <= OUTPUT_ROWS));
        let pairs: Vec<(Option<i32>, Option<i32>)> = out
            .iter()
            .flat_map(|b| {
                let p = b.column(0).as_primitive::<Int32Type>().clone();
                let c = b.column(1).as_primitive::<Int32Type>().clone();
                (0..b.num_rows())
                    .map(move |i| {
                        (
                            p.is_valid(i).then(|| p.value(i)),
                            c.is_valid(i).then(|| c.value(i)),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut expected: Vec<(Option<i32>, Option<i32>)> = Vec::new();
        for n in [10_000, 0, 3, OUTPUT_ROWS as i32 * 2 - 2] {
            if n == 0 {
                expected.push((None, None));
            }
            expected.extend((0..n).map(|v| (Some(v), Some(v))));
        }
        assert_eq!(pairs, expected);
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
