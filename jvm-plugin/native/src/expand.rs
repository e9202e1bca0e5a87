//! Spark's `ExpandExec`: every input row once per projection (ROLLUP, CUBE and GROUPING SETS,
//! and aggregates of several DISTINCT arguments, which Spark rewrites into an Expand).
//!
//! Spark emits a row's projections one after another; here each input batch goes through the
//! first projection, then the second, and so on. Spark's Expand promises no order, and the
//! operators above it (an aggregation) do not depend on one.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
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

/// Each input row once per projection; every projection has one expression per output column,
/// of that column's type.
pub struct ExpandExec {
    projections: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ExpandExec {
    /// The expansion of `input` by `projections` (at least one, all of one width), whose
    /// output columns are named `c0`, `c1`, ...: each column takes the type of the first
    /// projection's expression, and is nullable where any projection's is.
    pub fn try_new(
        projections: Vec<Vec<Arc<dyn PhysicalExpr>>>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let input_schema = input.schema();
        let Some(first) = projections.first() else {
            return Err(DataFusionError::Plan(
                "an expand needs at least one projection".into(),
            ));
        };
        if let Some((p, projection)) = projections
            .iter()
            .enumerate()
            .find(|(_, p)| p.len() != first.len())
        {
            return Err(DataFusionError::Plan(format!(
                "expand projection {p} has {} columns, the first {}",
                projection.len(),
                first.len()
            )));
        }
        let mut fields = Vec::with_capacity(first.len());
        for (i, e) in first.iter().enumerate() {
            let data_type = e.data_type(&input_schema)?;
            let mut nullable = false;
            for (p, projection) in projections.iter().enumerate() {
                let t = projection[i].data_type(&input_schema)?;
                if t != data_type {
                    return Err(DataFusionError::Plan(format!(
                        "expand column {i} is {data_type} in the first projection, {t} in \
                         projection {p}"
                    )));
                }
                nullable |= projection[i].nullable(&input_schema)?;
            }
            fields.push(Field::new(format!("c{i}"), data_type, nullable));
        }
        let schema = Arc::new(Schema::new(fields));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            projections,
            input,
            schema,
            properties: Arc::new(properties),
        })
    }
}

impl fmt::Debug for ExpandExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpandExec")
            .field("projections", &self.projections.len())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for ExpandExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ExpandExec: ")?;
        for (p, projection) in self.projections.iter().enumerate() {
            if p > 0 {
                write!(f, "; ")?;
            }
            write!(f, "[")?;
            for (i, e) in projection.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{e}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ExpandExec {
    fn name(&self) -> &str {
        "ExpandExec"
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
        for e in self.projections.iter().flatten() {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::try_new(self.projections.clone(), input)?)),
            _ => Err(DataFusionError::Internal(
                "ExpandExec takes one child".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(ExpandStream {
            input: self.input.execute(partition, context)?,
            projections: self.projections.clone(),
            schema: Arc::clone(&self.schema),
            batch: None,
            next: 0,
        }))
    }
}

/// The stream of [`ExpandExec`]: the current input batch and the projection it goes through
/// next.
struct ExpandStream {
    input: SendableRecordBatchStream,
    projections: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    schema: SchemaRef,
    batch: Option<RecordBatch>,
    next: usize,
}

impl ExpandStream {
    fn project(&self, batch: &RecordBatch, projection: usize) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self.projections[projection]
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl Stream for ExpandStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.batch.take() {
                let p = self.next;
                let out = self.project(&batch, p);
                self.next += 1;
                if self.next < self.projections.len() {
                    self.batch = Some(batch);
                }
                return Poll::Ready(Some(out));
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => {
                    if batch.num_rows() > 0 {
                        self.batch = Some(batch);
                        self.next = 0;
                    }
                }
                other => return other,
            }
        }
    }
}

impl RecordBatchStream for ExpandStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Array, AsArray, Int32Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::{Column, Literal};

    #[tokio::test]
    async fn each_batch_once_per_projection() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::Int32, true),
        ]));
        let batch = |a: Vec<i32>, b: Vec<Option<i32>>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int32Array::from(a)) as ArrayRef,
                    Arc::new(Int32Array::from(b)),
                ],
            )
            .unwrap()
        };
        let batches = vec![
            batch(vec![1, 2], vec![Some(10), None]),
            batch(vec![], vec![]),
            batch(vec![3], vec![Some(30)]),
        ];
        let input: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[batches], Arc::clone(&schema), None).unwrap();
        let a: Arc<dyn PhysicalExpr> = Arc::new(Column::new("a", 0));
        let b: Arc<dyn PhysicalExpr> = Arc::new(Column::new("b", 1));
        let null: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int32(None)));
        let id = |v: i64| -> Arc<dyn PhysicalExpr> {
            Arc::new(Literal::new(ScalarValue::Int64(Some(v))))
        };
        // GROUP BY ROLLUP(a, b): (a, b, 0), (a, null, 1), (null, null, 3).
        let projections = vec![
            vec![Arc::clone(&a), Arc::clone(&b), id(0)],
            vec![Arc::clone(&a), Arc::clone(&null), id(1)],
            vec![Arc::clone(&null), Arc::clone(&null), id(3)],
        ];
        let expand = ExpandExec::try_new(projections, input).unwrap();
        assert!(
            expand.schema().field(0).is_nullable(),
            "a is null in a projection"
        );
        assert!(!expand.schema().field(2).is_nullable());
        let out: Vec<RecordBatch> = expand
            .execute(0, Arc::new(TaskContext::default()))
            .unwrap()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        let rows: Vec<(Option<i32>, Option<i32>, i64)> = out
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_primitive::<Int32Type>().clone();
                let c = b.column(1).as_primitive::<Int32Type>().clone();
                let g: Int64Array = b.column(2).as_primitive::<Int64Type>().clone();
                (0..b.num_rows())
                    .map(|i| {
                        (
                            a.is_valid(i).then(|| a.value(i)),
                            c.is_valid(i).then(|| c.value(i)),
                            g.value(i),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (Some(1), Some(10), 0),
                (Some(2), None, 0),
                (Some(1), None, 1),
                (Some(2), None, 1),
                (None, None, 3),
                (None, None, 3),
                (Some(3), Some(30), 0),
                (Some(3), None, 1),
                (None, None, 3),
            ]
        );
    }

    #[test]
    fn projections_must_agree() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        let input = MemorySourceConfig::try_new_exec(&[vec![]], Arc::clone(&schema), None).unwrap();
        let a: Arc<dyn PhysicalExpr> = Arc::new(Column::new("a", 0));
        let long: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int64(Some(1))));
        let input: Arc<dyn ExecutionPlan> = input;
        let long_first =
            ExpandExec::try_new(vec![vec![Arc::clone(&a)], vec![long]], Arc::clone(&input));
        assert!(long_first.is_err());
        assert!(
            ExpandExec::try_new(vec![vec![Arc::clone(&a)], vec![]], Arc::clone(&input)).is_err()
        );
        assert!(ExpandExec::try_new(vec![], input).is_err());
    }
}
