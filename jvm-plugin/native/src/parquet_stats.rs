// Licensed under the Apache License, Version 2.0.

//! Parquet statistics Spark's reader does not trust, left out before DataFusion prunes with
//! them.
//!
//! Parquet files from before Spark 2.4 (parquet-mr before 1.10) keep the min/max of a
//! `BYTE_ARRAY` column (strings, binary) or a `FIXED_LEN_BYTE_ARRAY` one (decimals) only in
//! the footer's deprecated `min` and `max` fields, computed in signed byte order: `0x90` below
//! `0x05`. Spark's reader ignores them (PARQUET-686) where they could matter, that is unless
//! min equals max, and ignores those columns' statistics altogether in files parquet-mr wrote
//! before 1.8.0, or whose writer it cannot tell (PARQUET-251: corrupt statistics). parquet-rs
//! reads them as the column chunk's statistics, and DataFusion would prune row groups with
//! them, so a filter such as `bin > X'10'` could lose a row group holding `0x90`. The scan's
//! reader factory here drops those minimums and maximums (keeping the null counts) from the
//! metadata it hands DataFusion; files with `min_value` and `max_value` (Spark 2.4 and later)
//! keep theirs.

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
use datafusion::parquet::file::statistics::{Statistics, ValueStatistics};
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
    /// The factory over the local file system (the only one the plugin's scans read).
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

/// Whether the file's writer (`created_by`) is one whose byte-array statistics parquet-mr
/// ignores whatever they say (PARQUET-251): parquet-mr before 1.8.0, or a writer it cannot
/// tell.
fn corrupt_statistics_writer(created_by: Option<&str>) -> bool {
    let Some((application, version)) = created_by.and_then(|c| c.split_once(" version")) else {
        return true;
    };
    if application.trim() != "parquet-mr" {
        return false;
    }
    let numbers: Vec<Option<u32>> = version
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [Some(major), Some(minor), ..] => (major, minor) < (1, 8),
        _ => true,
    }
}

/// Whether Spark's reader would ignore `column`'s min and max: a byte array's deprecated
/// signed-order ones where they differ, or any in a file of a writer with corrupt statistics.
fn untrusted(column: &ColumnChunkMetaData, corrupt_writer: bool) -> bool {
    matches!(
        column.column_type(),
        PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY
    ) && column.statistics().is_some_and(|s| {
        s.min_bytes_opt().is_some()
            && (corrupt_writer
                || (s.is_min_max_deprecated() && s.min_bytes_opt() != s.max_bytes_opt()))
    })
}

/// `statistics` without a minimum or maximum (the counts kept).
fn without_min_max(statistics: &Statistics) -> Statistics {
    let (distinct, nulls) = (statistics.distinct_count_opt(), statistics.null_count_opt());
    match statistics {
        Statistics::FixedLenByteArray(_) => {
            Statistics::FixedLenByteArray(ValueStatistics::new(None, None, distinct, nulls, false))
        }
        _ => Statistics::ByteArray(ValueStatistics::new(None, None, distinct, nulls, false)),
    }
}

/// `metadata` without the minimums and maximums Spark's reader would ignore (the same `Arc`
/// where there are none).
pub fn without_untrusted_statistics(
    metadata: Arc<ParquetMetaData>,
) -> ParquetResult<Arc<ParquetMetaData>> {
    let corrupt_writer = corrupt_statistics_writer(metadata.file_metadata().created_by());
    if !metadata
        .row_groups()
        .iter()
        .any(|g| g.columns().iter().any(|c| untrusted(c, corrupt_writer)))
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
                .map(|c| match c.statistics() {
                    Some(statistics) if untrusted(c, corrupt_writer) => c
                        .clone()
                        .into_builder()
                        .set_statistics(without_min_max(statistics))
                        .build(),
                    _ => Ok(c.clone()),
                })
                .collect::<ParquetResult<Vec<_>>>()?;
            group.into_builder().set_column_metadata(columns).build()
        })
        .collect::<ParquetResult<Vec<_>>>()?;
    Ok(Arc::new(builder.set_row_groups(groups).build()))
}

#[cfg(test)]
mod tests {
    use super::corrupt_statistics_writer as corrupt;

    #[test]
    fn writers_with_corrupt_statistics_are_parquet_mr_before_1_8() {
        assert!(corrupt(None));
        assert!(corrupt(Some("something")));
        assert!(corrupt(Some("parquet-mr version 1.6.0")));
        assert!(corrupt(Some("parquet-mr version 1.7.9 (build abcd)")));
        assert!(corrupt(Some("parquet-mr version x")));
        assert!(!corrupt(Some(
            "parquet-mr version 1.8.0 (build 0fda28af84b9746396014ad6a415b90592a98b3b)"
        )));
        assert!(!corrupt(Some(
            "parquet-mr version 1.10.1 (build a89df8f9932b6ef6633d06069e50c9b7970bebd1)"
        )));
        assert!(!corrupt(Some("parquet-rs version 59.3.2")));
        assert!(!corrupt(Some("impala version 1.2")));
    }
}
