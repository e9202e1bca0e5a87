//! A hash join's probe side read to its end, as Spark reads it.
//!
//! DataFusion's hash join does not read its probe side once its build side turns out empty
//! (or, for inner and semi joins, holds only null keys): no probe row could match. Spark's
//! broadcast hash join reads every probe row all the same, so in ANSI mode an error that only a
//! probe-side expression raises (a failing cast in a filter below the join) fails the query on
//! Spark. Here the probe side goes through a [`ProbeTapExec`], whose stream, dropped by the join
//! before its end, is kept; the [`ProbeDrainExec`] above the join, once the join's output has
//! ended, reads the kept stream to its end, discarding its rows and failing with its error.
//! (The probe plan is not executed again: Spark's inputs can be read once.)

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};

/// The probe streams a join dropped before their end, by partition.
#[derive(Default)]
pub struct Leftovers(Mutex<HashMap<usize, SendableRecordBatchStream>>);

impl Leftovers {
    fn keep(&self, partition: usize, stream: SendableRecordBatchStream) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(partition, stream);
    }

    fn take(&self, partition: usize) -> Option<SendableRecordBatchStream> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&partition)
    }
}

impl fmt::Debug for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Leftovers")
    }
}

/// `join` (whose probe side is `probe`) with its probe side read to its end: the join over a
/// tapped `probe`, under a drain. `join` builds the join over the probe plan it is given.
pub fn drained(
    probe: Arc<dyn ExecutionPlan>,
    join: impl FnOnce(Arc<dyn ExecutionPlan>) -> crate::error::Result<Arc<dyn ExecutionPlan>>,
) -> crate::error::Result<Arc<dyn ExecutionPlan>> {
    let leftovers = Arc::new(Leftovers::default());
    let tapped = Arc::new(ProbeTapExec {
        input: probe,
        leftovers: Arc::clone(&leftovers),
    });
    Ok(Arc::new(ProbeDrainExec {
        join: join(tapped)?,
        leftovers,
    }))
}

/// The probe side of a join, passed through; a stream dropped before its end is kept in
/// [`Leftovers`].
#[derive(Debug)]
pub struct ProbeTapExec {
    input: Arc<dyn ExecutionPlan>,
    leftovers: Arc<Leftovers>,
}

impl DisplayAs for ProbeTapExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ProbeTapExec: kept to its end if the join stops reading")
    }
}

impl ExecutionPlan for ProbeTapExec {
    fn name(&self) -> &str {
        "ProbeTapExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
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
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "ProbeTapExec has one child".into(),
            ));
        }
        Ok(Arc::new(Self {
            input: children.remove(0),
            leftovers: Arc::clone(&self.leftovers),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(TapStream {
            schema: self.input.schema(),
            inner: Some(self.input.execute(partition, context)?),
            partition,
            leftovers: Arc::clone(&self.leftovers),
        }))
    }
}

struct TapStream {
    schema: SchemaRef,
    /// `None` once it has ended.
    inner: Option<SendableRecordBatchStream>,
    partition: usize,
    leftovers: Arc<Leftovers>,
}

impl Stream for TapStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            self.inner = None;
        }
        next
    }
}

impl RecordBatchStream for TapStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for TapStream {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            self.leftovers.keep(self.partition, inner);
        }
    }
}

/// A join whose probe side, if the join stopped reading it, is read to its end after the
/// join's output (see the module's note).
#[derive(Debug)]
pub struct ProbeDrainExec {
    join: Arc<dyn ExecutionPlan>,
    leftovers: Arc<Leftovers>,
}

impl DisplayAs for ProbeDrainExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ProbeDrainExec: the probe side read to its end, as Spark reads it"
        )
    }
}

impl ExecutionPlan for ProbeDrainExec {
    fn name(&self) -> &str {
        "ProbeDrainExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.join]
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
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "ProbeDrainExec has one child".into(),
            ));
        }
        Ok(Arc::new(Self {
            join: children.remove(0),
            leftovers: Arc::clone(&self.leftovers),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let joined = self.join.execute(partition, context)?;
        let schema = joined.schema();
        let leftovers = Arc::clone(&self.leftovers);
        // The join's batches; then, its stream dropped (which keeps an unread probe stream),
        // the probe side's rest, read for its errors only.
        let state = (Some(joined), None::<SendableRecordBatchStream>);
        let stream = futures::stream::unfold(state, move |(mut joined, mut rest)| {
            let leftovers = Arc::clone(&leftovers);
            async move {
                if let Some(stream) = joined.as_mut() {
                    if let Some(batch) = stream.next().await {
                        return Some((batch, (joined, rest)));
                    }
                    // Dropping the join's stream keeps a probe stream it left unread.
                    drop(joined.take());
                    rest = leftovers.take(partition);
                }
                if let Some(stream) = rest.as_mut() {
                    while let Some(batch) = stream.next().await {
                        if let Err(e) = batch {
                            return Some((Err(e), (None, None)));
                        }
                    }
                }
                None
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
