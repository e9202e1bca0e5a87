// Licensed under the Apache License, Version 2.0.

//! Parquet statistics Spark's reader does not trust, left out before DataFusion prunes with
//! them.
//!
//! Parquet files from before Spark 2.4 (parquet-mr before 1.10) keep the min/max of a
//! `BYTE_ARRAY` column (strings, binary) only in the footer's deprecated `min` and `max`
//! fields, computed in signed byte order: `0x90` below `0x05`. Spark's reader ignores them
//! (PARQUET-686) where they could matter, that is unless min equals max. parquet-rs reads
//! them as the column chunk's statistics, and DataFusion would prune row groups with them, so
//! a filter such as `bin > X'10'` could lose a row group holding `0x90`. The scan's reader
//! factory here drops those statistics from the metadata it hands DataFusion; files with
//! `min_value` and `max_value` (Spark 2.4 and later) keep theirs.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::basic::Type as PhysicalType;
use datafusion::parquet::errors::Result as ParquetResult;
use datafusion::parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::FutureExt;
use futures::future::BoxFuture;

/// Local files, read as DataFusion's default reader does, with the untrusted statistics left
/// out of their metadata.
#[derive(Debug)]
pub struct SparkTrustedStatistics {
    inner: DefaultParquetFileReaderFactory,
}

impl SparkTrustedStatistics {
    /// The factory over the local file system.
    pub fn new() -> Self {
        Self {
            inner: DefaultParquetFileReaderFactory::new(Arc::new(
                datafusion::object_store::local::LocalFileSystem::new(),
            )),
        }
    }
}

impl Default for SparkTrustedStatistics {
    fn default() -> Self {
        Self::new()
    }
}

impl ParquetFileReaderFactory for SparkTrustedStatistics {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::common::Result<Box<dyn AsyncFileReader + Send>> {
        let inner = self.inner.create_reader(
            partition_index,
            partitioned_file,
            metadata_size_hint,
            metrics,
        )?;
        Ok(Box::new(TrustedReader { inner }))
    }
}

/// A file reader whose metadata leaves out the untrusted statistics.
struct TrustedReader {
    inner: Box<dyn AsyncFileReader + Send>,
}

impl AsyncFileReader for TrustedReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ParquetResult<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, ParquetResult<Vec<Bytes>>> {
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ParquetResult<Arc<ParquetMetaData>>> {
        async move {
            let metadata = self.inner.get_metadata(options).await?;
            without_untrusted_statistics(metadata)
        }
        .boxed()
    }
}

/// Whether Spark's reader would ignore `column`'s statistics: a `BYTE_ARRAY` chunk's deprecated
/// signed-order min and max, where they differ.
fn untrusted(column: &ColumnChunkMetaData) -> bool {
    column.column_type() == PhysicalType::BYTE_ARRAY
        && column
            .statistics()
            .is_some_and(|s| s.is_min_max_deprecated() && s.min_bytes_opt() != s.max_bytes_opt())
}

/// `metadata` without the statistics Spark's reader would ignore (the same `Arc` where there
/// are none).
pub fn without_untrusted_statistics(
    metadata: Arc<ParquetMetaData>,
) -> ParquetResult<Arc<ParquetMetaData>> {
    if !metadata
        .row_groups()
        .iter()
        .any(|g| g.columns().iter().any(untrusted))
    {
        return Ok(metadata);
    }
    let mut builder = Arc::unwrap_or_clone(metadata).into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|group| {
            let columns = group
                .columns()
                .iter()
                .map(|c| {
                    if untrusted(c) {
                        c.clone().into_builder().clear_statistics().build()
                    } else {
                        Ok(c.clone())
                    }
                })
                .collect::<ParquetResult<Vec<_>>>()?;
            group.into_builder().set_column_metadata(columns).build()
        })
        .collect::<ParquetResult<Vec<_>>>()?;
    Ok(Arc::new(builder.set_row_groups(groups).build()))
}
