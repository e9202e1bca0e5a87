//! Resident tables: a table loaded once into Cinder's memory for a session, whose scan is the
//! leaf of a device region.
//!
//! [`ResidentTable`] is a DataFusion `TableProvider`. In cuda mode its rows live in device
//! memory, in batches of `batch_rows` rows spread over `partitions` partitions; a Cinder
//! operator (filter, projection, their fusion, or an aggregate's first stage, with what it
//! absorbed) reading its scan ([`CinderResidentScanExec`]) on the same device takes those
//! batches where they are, with no host-to-device copy. Any other consumer (DataFusion's own
//! operators, Cinder's hash join, an operator in another mode) gets the rows copied back to
//! the host, in slices of the session's batch size; the scan's metrics count those bytes.
//!
//! In host mode and with no device (`cpu` mode) the rows stay in host memory, and the scan is
//! a plain in-memory scan: answers are the same in every mode, which is what CI checks.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, DataFusionError, Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, RecordOutput, Time,
};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

use cinder_cuda::{CudaError, DeviceBatch};

use crate::config::ExecutionMode;
use crate::exec::{Backend, concat, external, slices};
use crate::runtime::DeviceRuntime;

/// Where a resident table's rows are.
enum Storage {
    /// Host memory: per partition, its batches.
    Host(Vec<Vec<RecordBatch>>),
    /// Device memory on `rt`'s device: per partition, its batches.
    Device {
        rt: Arc<DeviceRuntime>,
        partitions: Vec<Vec<DeviceBatch>>,
    },
}

/// What statistics are drawn from, per partition: rows, and per column its bytes and nulls
/// (as DataFusion's in-memory tables count them, so plans over either look alike).
#[derive(Debug, Clone, Default)]
struct PartitionTotals {
    rows: usize,
    bytes: Vec<usize>,
    nulls: Vec<usize>,
}

struct Inner {
    name: String,
    schema: SchemaRef,
    storage: Storage,
    totals: Vec<PartitionTotals>,
}

impl Inner {
    fn location(&self) -> &'static str {
        match self.storage {
            Storage::Device { .. } => "device",
            Storage::Host(_) => "host",
        }
    }
}

/// A table held in Cinder's memory for the session: in device memory in cuda mode, in host
/// memory otherwise. See the [module docs](self).
#[derive(Clone)]
pub struct ResidentTable {
    inner: Arc<Inner>,
}

impl fmt::Debug for ResidentTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResidentTable({}, {}, {} rows in {} partitions)",
            self.inner.name,
            self.location(),
            self.num_rows(),
            self.inner.totals.len()
        )
    }
}

impl ResidentTable {
    /// Loads `batches` (all of `schema`) as table `name` for a session in `mode`: they are
    /// concatenated into batches of `batch_rows` rows (the last may be smaller), dealt over
    /// `partitions` partitions in turn, and, in cuda mode, copied to the device. A table that
    /// does not fit in the device's pool is an error naming it; nothing of it stays behind.
    pub fn load(
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        mode: &ExecutionMode,
        partitions: usize,
        batch_rows: usize,
    ) -> Result<Self> {
        if partitions == 0 || batch_rows == 0 {
            return Err(DataFusionError::Plan(format!(
                "resident table {name}: partitions ({partitions}) and batch rows ({batch_rows}) \
                 must be positive"
            )));
        }
        for batch in &batches {
            if batch.schema_ref().fields() != schema.fields() {
                return Err(DataFusionError::Plan(format!(
                    "resident table {name}: a batch's schema differs from the table's"
                )));
            }
        }
        let chunks = chunk(&schema, batches, batch_rows)?;
        let mut host: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
        let mut totals = vec![
            PartitionTotals {
                rows: 0,
                bytes: vec![0; schema.fields().len()],
                nulls: vec![0; schema.fields().len()],
            };
            partitions
        ];
        for (i, batch) in chunks.into_iter().enumerate() {
            let t = &mut totals[i % partitions];
            t.rows += batch.num_rows();
            for (c, column) in batch.columns().iter().enumerate() {
                t.bytes[c] += column.get_array_memory_size();
                t.nulls[c] += column.logical_nulls().map_or(0, |n| n.null_count());
            }
            host[i % partitions].push(batch);
        }
        let storage = match Backend::for_mode(mode)? {
            Some(Backend::Cuda(rt)) => {
                let partitions = host
                    .iter()
                    .map(|batches| {
                        batches
                            .iter()
                            .map(|b| DeviceBatch::upload(&rt.pool, b))
                            .collect::<std::result::Result<Vec<_>, CudaError>>()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        DataFusionError::Execution(format!(
                            "resident table {name} cannot be loaded on {}: {e}",
                            rt.device.info()
                        ))
                    })?;
                Storage::Device { rt, partitions }
            }
            Some(Backend::Host) | None => Storage::Host(host),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_string(),
                schema,
                storage,
                totals,
            }),
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Rows in the table.
    pub fn num_rows(&self) -> usize {
        self.inner.totals.iter().map(|t| t.rows).sum()
    }

    /// Where its rows are: `"device"` or `"host"`.
    pub fn location(&self) -> &'static str {
        self.inner.location()
    }

    /// Bytes the table holds in device memory (0 when it is on the host).
    pub fn device_bytes(&self) -> usize {
        match &self.inner.storage {
            Storage::Device { partitions, .. } => partitions
                .iter()
                .flatten()
                .map(DeviceBatch::pool_bytes)
                .sum(),
            Storage::Host(_) => 0,
        }
    }
}

/// `batches` concatenated into batches of `rows` rows (the last may be smaller; no empty
/// ones).
fn chunk(schema: &SchemaRef, batches: Vec<RecordBatch>, rows: usize) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut pending_rows = 0;
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (rows - pending_rows).min(batch.num_rows() - offset);
            pending.push(batch.slice(offset, take));
            pending_rows += take;
            offset += take;
            if pending_rows == rows {
                out.push(concat(schema, std::mem::take(&mut pending))?);
                pending_rows = 0;
            }
        }
    }
    if pending_rows > 0 {
        out.push(concat(schema, pending)?);
    }
    Ok(out)
}

#[async_trait]
impl TableProvider for ResidentTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.inner.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Filters are not pushed down (DataFusion filters above the scan) and the limit is a
        // hint DataFusion applies above it too.
        Ok(Arc::new(CinderResidentScanExec::new(
            Arc::clone(&self.inner),
            projection.cloned(),
        )?))
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(statistics(&self.inner.totals, None))
    }
}

/// Statistics over `totals` for the columns `projection` (all when `None`).
fn statistics(totals: &[PartitionTotals], projection: Option<&[usize]>) -> Statistics {
    let width = totals.first().map_or(0, |t| t.bytes.len());
    let columns: Vec<usize> = match projection {
        Some(p) => p.to_vec(),
        None => (0..width).collect(),
    };
    let sum = |f: &dyn Fn(&PartitionTotals) -> usize| totals.iter().map(f).sum::<usize>();
    Statistics {
        num_rows: Precision::Exact(sum(&|t| t.rows)),
        total_byte_size: Precision::Exact(sum(&|t| columns.iter().map(|&c| t.bytes[c]).sum())),
        column_statistics: columns
            .iter()
            .map(|&c| {
                let mut s = ColumnStatistics::new_unknown();
                s.null_count = Precision::Exact(sum(&|t| t.nulls[c]));
                s
            })
            .collect(),
    }
}

/// The scan of a [`ResidentTable`]: a region leaf whose batches a Cinder operator on the same
/// device takes where they are; anything else reads them on the host.
pub struct CinderResidentScanExec {
    table: Arc<Inner>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for CinderResidentScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CinderResidentScanExec({})", self.table.name)
    }
}

impl CinderResidentScanExec {
    fn new(table: Arc<Inner>, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(table.schema.project(p)?),
            None => Arc::clone(&table.schema),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(table.totals.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            table,
            projection,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// Partition `partition`'s batches on the device, projected, when the table is on `rt`'s
    /// device (`None` otherwise: the operator reads the host stream instead).
    pub(crate) fn device_batches(
        &self,
        rt: &Arc<DeviceRuntime>,
        partition: usize,
    ) -> Result<Option<Vec<DeviceBatch>>> {
        let Storage::Device { rt: on, partitions } = &self.table.storage else {
            return Ok(None);
        };
        if !Arc::ptr_eq(on, rt) {
            return Ok(None);
        }
        let batches = partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "CinderResidentScanExec: no partition {partition} of {}",
                partitions.len()
            ))
        })?;
        batches
            .iter()
            .map(|b| match &self.projection {
                Some(p) => b.project(p).map_err(external),
                None => Ok(b.clone()),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

impl DisplayAs for CinderResidentScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(
            f,
            "CinderResidentScanExec: table={}, in {} memory, partitions={}, \
             projection=[{}]",
            self.table.name,
            self.table.location(),
            self.table.totals.len(),
            columns.join(", ")
        )
    }
}

/// The scan's metrics beyond DataFusion's baseline: what a host consumer copied back.
struct ScanMetrics {
    bytes_from_device: Count,
    device_time: Time,
}

impl ExecutionPlan for CinderResidentScanExec {
    fn name(&self) -> &str {
        "CinderResidentScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
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
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return Err(DataFusionError::Internal(
                "CinderResidentScanExec takes no children".to_string(),
            ));
        }
        Ok(self)
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let totals = match args.partition() {
            Some(p) => self.table.totals.get(p..=p).ok_or_else(|| {
                DataFusionError::Internal(format!("CinderResidentScanExec: no partition {p}"))
            })?,
            None => &self.table.totals[..],
        };
        Ok(Arc::new(statistics(totals, self.projection.as_deref())))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size().max(1);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let schema = Arc::clone(&self.schema);
        let projection = self.projection.clone();
        let project = move |batch: &RecordBatch| -> Result<RecordBatch> {
            Ok(match &projection {
                Some(p) => batch.project(p)?,
                None => batch.clone(),
            })
        };
        // Whole stored batches, on the host, for this partition.
        let batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> =
            match &self.table.storage {
                Storage::Host(partitions) => {
                    let batches = partitions.get(partition).cloned().ok_or_else(|| {
                        DataFusionError::Internal(format!(
                            "CinderResidentScanExec: no partition {partition}"
                        ))
                    })?;
                    Box::new(batches.into_iter().map(move |b| project(&b)))
                }
                Storage::Device { rt, .. } => {
                    let rt = Arc::clone(rt);
                    let metrics = ScanMetrics {
                        bytes_from_device: MetricBuilder::new(&self.metrics)
                            .counter("bytes_from_device", partition),
                        device_time: MetricBuilder::new(&self.metrics)
                            .subset_time("device_time", partition),
                    };
                    let batches = self.device_batches(&rt, partition)?.unwrap_or_default();
                    Box::new(batches.into_iter().map(move |b| {
                        let timer = metrics.device_time.timer();
                        let host = b.download(&rt.pool).map_err(external)?;
                        timer.done();
                        metrics.bytes_from_device.add(b.pool_bytes());
                        Ok(host)
                    }))
                }
            };
        // Handed out in slices of the session's batch size, as DataFusion's operators expect.
        let out = batches.flat_map(move |batch| -> Vec<Result<RecordBatch>> {
            match batch {
                Err(e) => vec![Err(e)],
                Ok(batch) => slices(batch, batch_size)
                    .map(|slice| Ok(slice.record_output(&baseline)))
                    .collect(),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(out),
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
