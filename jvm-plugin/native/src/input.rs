//! The native input path: batches that a non-native Spark child (a shuffle read, say) hands to
//! a native plan.
//!
//! The plan's `input` leaf is a [`JvmInputExec`]. When DataFusion pulls from it, it asks its
//! [`BatchSource`] for the next batch. In the plugin that source is a Java object:
//! `org.apache.spark.sql.cinder.NativeInput.next()`, which writes the child's rows into Arrow
//! Java vectors and returns their buffers' description (the same layout as
//! [`describe_batch`](crate::describe_batch)). The buffers are copied into native memory at
//! once and checked in full by Arrow before any operator sees them, so the Java side may reuse
//! its vectors for the next batch.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayData, ArrayRef, make_array};
use datafusion::arrow::buffer::{Buffer, MutableBuffer};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};

use crate::error::{NativeError, Result};

/// Where an `input` leaf's batches come from.
pub trait BatchSource: Send {
    /// Called once, before the first batch, with the schema the plan expects.
    fn set_schema(&mut self, _schema: SchemaRef) {}

    /// The next batch (with the input's schema), or `None` at the end.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>>;

    /// Names this source's data when every task of the process that reads the same key reads
    /// the same rows (a broadcast), so what is built from them may be shared
    /// ([`crate::shared_join`]); `None` (the default) when the rows are this task's own.
    fn share_key(&self) -> Option<String> {
        None
    }
}

/// A source's slot: filled when the plan is created, taken when it starts.
pub type SourceSlot = Arc<Mutex<Option<Box<dyn BatchSource>>>>;

/// The `input` leaf of a native plan.
pub struct JvmInputExec {
    schema: SchemaRef,
    source: SourceSlot,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for JvmInputExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JvmInputExec")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl JvmInputExec {
    /// A leaf with `schema` reading from `source`.
    pub fn new(schema: SchemaRef, source: SourceSlot) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            schema,
            source,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for JvmInputExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "JvmInputExec: rows from Spark, {} columns",
            self.schema.fields().len()
        )
    }
}

impl ExecutionPlan for JvmInputExec {
    fn name(&self) -> &str {
        "JvmInputExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "JvmInputExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "JvmInputExec has one partition, not {partition}"
            )));
        }
        let source = self
            .source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| DataFusionError::Execution("the Spark input was already read".into()))?;
        let mut source = source;
        source.set_schema(Arc::clone(&self.schema));
        let stream = futures::stream::unfold(Some(source), |source| async move {
            let mut source = source?;
            match source.next_batch() {
                Ok(Some(batch)) => Some((Ok(batch), Some(source))),
                Ok(None) => None,
                Err(e) => Some((Err(DataFusionError::Execution(e.to_string())), None)),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

/// Copies a batch described by the JVM (in [`describe_batch`](crate::describe_batch)'s layout:
/// `rows, columns`, then per column a node of `null_count, buffer_count`, per buffer `address,
/// length, handle` in Arrow Java's order, `child_count` and per child its length and node)
/// into native memory, and validates it against `schema`.
///
/// # Safety
///
/// Each `address, length` pair must be readable memory of at least `length` bytes for the
/// duration of the call (the plugin passes Arrow Java's own buffers, which it keeps alive
/// until the next batch).
pub unsafe fn import_batch(schema: &SchemaRef, d: &[i64]) -> Result<RecordBatch> {
    let bad =
        |what: &str| NativeError::Execution(format!("malformed input batch from Spark: {what}"));
    let (&rows, &columns) = match d {
        [rows, columns, ..] => (rows, columns),
        _ => return Err(bad("too short")),
    };
    let rows = usize::try_from(rows).map_err(|_| bad("negative row count"))?;
    if usize::try_from(columns).ok() != Some(schema.fields().len()) {
        return Err(bad(&format!(
            "{columns} columns for a schema of {}",
            schema.fields().len()
        )));
    }
    let mut at = 2;
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        // SAFETY: as the caller guarantees for every address in `d`.
        let data = unsafe { import_node(d, &mut at, field.name(), field.data_type(), rows) }?;
        arrays.push(make_array(data));
    }
    if at != d.len() {
        return Err(bad("longer than its columns"));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options)
        .map_err(|e| bad(&e.to_string()))
}

/// One node of [`import_batch`]'s layout at `d[*at..]`: a column (or an array's elements) of
/// `len` values of `data_type`, checked by Arrow.
///
/// # Safety
///
/// As for [`import_batch`].
unsafe fn import_node(
    d: &[i64],
    at: &mut usize,
    name: &str,
    data_type: &DataType,
    len: usize,
) -> Result<ArrayData> {
    let bad =
        |what: &str| NativeError::Execution(format!("malformed input batch from Spark: {what}"));
    let mut next = || -> Result<i64> {
        let value = *d.get(*at).ok_or_else(|| bad("truncated"))?;
        *at += 1;
        Ok(value)
    };
    let _null_count = next()?;
    let count = usize::try_from(next()?).map_err(|_| bad("negative buffer count"))?;
    let mut buffers = Vec::with_capacity(count.min(3));
    for _ in 0..count {
        let (address, length, _handle) = (next()?, next()?, next()?);
        let length = usize::try_from(length).map_err(|_| bad("negative buffer length"))?;
        let buffer = if length == 0 {
            // Aligned for any type (an empty `Vec<u8>`'s dangling pointer is not): an array's
            // elements are empty where every array of the batch is null or empty.
            Buffer::from(MutableBuffer::new(0))
        } else if address == 0 {
            return Err(bad("null buffer address"));
        } else {
            // SAFETY: the caller guarantees `address` points to `length` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(address as *const u8, length) };
            Buffer::from_slice_ref(bytes)
        };
        buffers.push(buffer);
    }
    let children = usize::try_from(next()?).map_err(|_| bad("negative child count"))?;
    let (expected, element) = match data_type {
        DataType::Utf8 | DataType::Binary => (3, None),
        DataType::List(element) => (2, Some(element)),
        _ => (2, None),
    };
    if buffers.len() != expected || children != usize::from(element.is_some()) {
        return Err(bad(&format!(
            "column {name} ({data_type}) has {} buffers and {children} children, expected \
             {expected} and {}",
            buffers.len(),
            usize::from(element.is_some())
        )));
    }
    let mut child_data = Vec::new();
    if let Some(element) = element {
        let length = usize::try_from(next()?).map_err(|_| bad("negative child length"))?;
        // SAFETY: as above.
        let child = unsafe { import_node(d, at, name, element.data_type(), length) }?;
        child_data.push(child);
    }
    let mut buffers = buffers.into_iter();
    let validity = buffers.next().filter(|b| !b.is_empty());
    ArrayData::builder(data_type.clone())
        .len(len)
        .null_bit_buffer(validity)
        .buffers(buffers.collect())
        .child_data(child_data)
        .build()
        .map_err(|e| bad(&format!("column {name}: {e}")))
}

/// `batch`'s columns under `schema` (a shuffle block's own schema names the columns as the
/// writing plan did): the types must be the same.
pub fn with_schema(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let bad = |what: String| {
        NativeError::Execution(format!("a shuffle block does not fit its reader: {what}"))
    };
    if batch.num_columns() != schema.fields().len() {
        return Err(bad(format!(
            "{} columns for a schema of {}",
            batch.num_columns(),
            schema.fields().len()
        )));
    }
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        if column.data_type() != field.data_type() {
            return Err(bad(format!(
                "column {} is {}, expected {}",
                field.name(),
                column.data_type(),
                field.data_type()
            )));
        }
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), batch.columns().to_vec(), &options)
        .map_err(|e| bad(e.to_string()))
}
