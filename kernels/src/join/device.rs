//! Hash join build and probe on the device (`kernels/cuda/join/hash_join.cu`), with the host
//! reference's contract ([`super::BuildTable`], [`super::Prober`]): candidate pairs in
//! probe-row order, in chunks of at most a given number of pairs. Within one probe row the
//! build rows come in an unspecified order (the host gives them ascending); DataFusion does
//! not define that order either.
//!
//! Build: the build keys are numbered by group with the aggregation's kernels (whose hash
//! table, keeping each key's first row, is the join's table), rows counted per group, the
//! counts scanned, and the rows placed per group. Probe: every probe row finds its group and
//! match count, the counts are scanned (their total copied to the host; the scan itself only
//! when the pairs need more than one chunk, to know which probe rows a chunk settles), and
//! each chunk's pairs are written by a kernel that finds each pair's probe row by binary
//! search. The pairs come back, or stay on the device for a filter and gather there.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use cinder_cuda::driver::{CudaStream, LaunchConfig, SyncOnDrop};
use cinder_cuda::{ColumnBody, DeviceBuffer, DeviceColumn, MemoryPool};

use super::{NullMatch, Pairs};
use crate::abi::{JoinParams, ScanParams};
use crate::aggregate::device::{DeviceGrouping, key_descriptors, key_kind, number_groups};
use crate::embedded::DeviceKernels;
use crate::filter::zeroed;
use crate::launch::{as_bytes, grid_stride_1d, launch_params, read_ptr, write_ptr};
use crate::{KernelError, Result};

/// The module holding the join and scan kernels.
pub const MODULE: &str = "join/hash_join";
/// Most build rows a device table holds (the build rows are numbered by group on the device).
pub const MAX_BUILD_ROWS: usize = crate::aggregate::device::MAX_DEVICE_ROWS;
/// Per-tile sums of a scan.
pub const SCAN_TILES: &str = "cinder_scan_tiles";
/// The scan of the tile sums.
pub const SCAN_SPINE: &str = "cinder_scan_spine";
/// Each tile's scan plus its offset.
pub const SCAN_APPLY: &str = "cinder_scan_apply";
/// Build rows per group.
pub const JOIN_COUNT: &str = "cinder_join_count";
/// Build rows placed per group.
pub const JOIN_FILL: &str = "cinder_join_fill";
/// Each probe row's group and match count.
pub const JOIN_PROBE: &str = "cinder_join_probe";
/// A chunk of pairs.
pub const JOIN_PAIRS: &str = "cinder_join_pairs";
/// Dense keys: build rows per key value.
pub const JOIN_DENSE_COUNT: &str = "cinder_join_dense_count";
/// Dense keys: build rows placed per key value.
pub const JOIN_DENSE_FILL: &str = "cinder_join_dense_fill";
/// Dense keys: each probe row's key value and match count.
pub const JOIN_DENSE_PROBE: &str = "cinder_join_dense_probe";

/// Threads per scan block (`cinder::SCAN_THREADS`).
const SCAN_THREADS: u32 = 256;
/// Values per scan tile (`cinder::SCAN_TILE`).
const SCAN_TILE: usize = 2048;

fn invalid(kernel: &'static str, reason: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        kernel,
        reason: reason.into(),
    }
}

fn launch<P: cinder_cuda::driver::DeviceRepr>(
    kernels: &DeviceKernels,
    stream: &Arc<CudaStream>,
    kernel: &'static str,
    config: LaunchConfig,
    params: &P,
) -> Result<()> {
    // SAFETY: every kernel of the module takes one params struct by value (`ScanParams` or
    // `JoinParams`, mirrored in abi.rs and checked by the layout test) whose addresses the
    // callers took from live pool buffers of the sizes abi.cuh documents: scans read `n`
    // values and write `n + 1` and one sum per tile, launched with one block per tile (or one
    // block for the spine) of SCAN_THREADS threads; join kernels read per-row buffers of
    // `build_rows` / `probe_rows` entries, per-group buffers of the build's group count, the
    // slots of `mask + 1`, and write `pair_end - pair_start` pairs.
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}

fn scan_config(blocks: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks.max(1) as u32, 1, 1),
        block_dim: (SCAN_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The exclusive scan of `n` u64 values in `input`: `n + 1` values, the last the total.
pub(crate) fn exclusive_scan(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    input: &DeviceBuffer,
    n: usize,
) -> Result<DeviceBuffer> {
    let device = pool
        .device()
        .ok_or_else(|| invalid(SCAN_TILES, "a scan needs a CUDA pool"))?;
    let stream = device.stream();
    if input.len() < n * 8 {
        return Err(invalid(
            SCAN_TILES,
            format!("{} bytes for {n} values", input.len()),
        ));
    }
    let mut out = zeroed(pool, stream, (n + 1) * 8)?;
    if n == 0 {
        return Ok(out);
    }
    let tiles = n.div_ceil(SCAN_TILE);
    let mut sums = pool.allocate(tiles * 8)?;
    let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let params = ScanParams {
        r#in: read_ptr(Some(input), stream, &mut guards),
        out: write_ptr(&mut out, stream, &mut guards)?,
        tile_sums: write_ptr(&mut sums, stream, &mut guards)?,
        n: n as i64,
        n_tiles: tiles as i64,
    };
    launch(kernels, stream, SCAN_TILES, scan_config(tiles), &params)?;
    launch(kernels, stream, SCAN_SPINE, scan_config(1), &params)?;
    launch(kernels, stream, SCAN_APPLY, scan_config(tiles), &params)?;
    drop(guards);
    drop(sums);
    Ok(out)
}

/// The parts of the build's group numbering the probe reads.
#[derive(Debug)]
struct BuildSlots {
    slots: DeviceBuffer,
    mask: u64,
    rep_group: DeviceBuffer,
}

/// The build side on the device: its keys, grouped, with the rows of each group.
#[derive(Debug)]
pub struct DeviceBuild {
    keys: Vec<DeviceColumn>,
    /// The hash table (`None` when there are no build rows).
    grouping: Option<BuildSlots>,
    group_counts: Option<DeviceBuffer>,
    group_offsets: Option<DeviceBuffer>,
    group_rows: Option<DeviceBuffer>,
    rows: usize,
    nulls: NullMatch,
    /// The dense-key path: the smallest build key and the number of key values (not the
    /// largest key, which `build_device` takes).
    dense: Option<(i64, i64)>,
}

impl DeviceBuild {
    /// Build rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the build took the dense-key path.
    pub fn is_dense(&self) -> bool {
        self.dense.is_some()
    }
}

/// Groups the build rows of `keys` (each of `rows` rows) on the device. With `dense` (the
/// smallest and largest build key, from [`super::dense_range`]) a single integer key takes
/// the direct-mapped path: a key's slot is its value minus the smallest, with no hashing.
pub fn build_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    keys: Vec<DeviceColumn>,
    rows: usize,
    nulls: NullMatch,
    dense: Option<(i64, i64)>,
) -> Result<DeviceBuild> {
    if let Some((min, max)) = dense {
        return build_dense(kernels, pool, keys, rows, nulls, min, max);
    }
    let device = pool
        .device()
        .ok_or_else(|| invalid(JOIN_COUNT, "build_device needs a CUDA pool"))?;
    if keys.is_empty() {
        return Err(invalid(JOIN_COUNT, "a hash join needs at least one key"));
    }
    if let Some(k) = keys.iter().find(|k| !super::joinable(k.data_type())) {
        return Err(invalid(
            JOIN_COUNT,
            format!("no device join on {} keys", k.data_type()),
        ));
    }
    let refs: Vec<&DeviceColumn> = keys.iter().collect();
    let Some(grouping) = number_groups(kernels, pool, &refs, rows)? else {
        return Ok(DeviceBuild {
            keys,
            grouping: None,
            group_counts: None,
            group_offsets: None,
            group_rows: None,
            rows,
            nulls,
            dense: None,
        });
    };
    let stream = device.stream();
    let groups = grouping.count;
    let mut counts = zeroed(pool, stream, groups * 8)?;
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            build_groups: read_ptr(Some(&grouping.ids), stream, &mut guards),
            group_counts: write_ptr(&mut counts, stream, &mut guards)?,
            build_rows: rows as i64,
            ..JoinParams::default()
        };
        launch(
            kernels,
            stream,
            JOIN_COUNT,
            grid_stride_1d(device, rows),
            &params,
        )?;
    }
    let offsets = exclusive_scan(kernels, pool, &counts, groups)?;
    let mut cursor = zeroed(pool, stream, groups * 8)?;
    let mut members = pool.allocate(rows * 4)?;
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            build_groups: read_ptr(Some(&grouping.ids), stream, &mut guards),
            group_offsets: read_ptr(Some(&offsets), stream, &mut guards),
            group_cursor: write_ptr(&mut cursor, stream, &mut guards)?,
            group_rows: write_ptr(&mut members, stream, &mut guards)?,
            build_rows: rows as i64,
            ..JoinParams::default()
        };
        launch(
            kernels,
            stream,
            JOIN_FILL,
            grid_stride_1d(device, rows),
            &params,
        )?;
    }
    let DeviceGrouping {
        slots,
        mask,
        rep_group,
        ids,
        keys: group_keys,
        ..
    } = grouping;
    drop((cursor, ids, group_keys));
    Ok(DeviceBuild {
        keys,
        grouping: Some(BuildSlots {
            slots,
            mask,
            rep_group,
        }),
        group_counts: Some(counts),
        group_offsets: Some(offsets),
        group_rows: Some(members),
        rows,
        nulls,
        dense: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_dense(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    keys: Vec<DeviceColumn>,
    rows: usize,
    nulls: NullMatch,
    min: i64,
    max: i64,
) -> Result<DeviceBuild> {
    use arrow::datatypes::DataType;
    let device = pool
        .device()
        .ok_or_else(|| invalid(JOIN_DENSE_COUNT, "build_device needs a CUDA pool"))?;
    let range = max
        .checked_sub(min)
        .and_then(|r| r.checked_add(1))
        .filter(|r| *r > 0 && *r <= super::MAX_DENSE_RANGE)
        .ok_or_else(|| invalid(JOIN_DENSE_COUNT, format!("dense keys from {min} to {max}")))?;
    if keys.len() != 1
        || keys[0].len() != rows
        || rows > MAX_BUILD_ROWS
        || !matches!(
            keys[0].data_type(),
            DataType::Int32 | DataType::Int64 | DataType::Date32
        )
        || nulls != NullMatch::NullEqualsNothing
    {
        return Err(invalid(
            JOIN_DENSE_COUNT,
            "the dense path takes one Int32, Int64 or Date32 key of `rows` rows whose nulls match nothing",
        ));
    }
    let stream = device.stream();
    let groups = range as usize;
    // The key's descriptor, uploaded once for both kernels.
    let mut key_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let desc = key_descriptors(&[&keys[0]], stream, &mut key_guards)?;
    let desc_buf = pool.upload(as_bytes(&desc))?;
    let mut desc_guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let build_keys = read_ptr(Some(&desc_buf), stream, &mut desc_guards);
    let mut counts = zeroed(pool, stream, groups * 8)?;
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            build_keys,
            group_counts: write_ptr(&mut counts, stream, &mut guards)?,
            build_rows: rows as i64,
            dense_min: min,
            dense_range: range,
            ..JoinParams::default()
        };
        if rows > 0 {
            launch(
                kernels,
                stream,
                JOIN_DENSE_COUNT,
                grid_stride_1d(device, rows),
                &params,
            )?;
        }
    }
    let offsets = exclusive_scan(kernels, pool, &counts, groups)?;
    let mut cursor = zeroed(pool, stream, groups * 8)?;
    let mut members = pool.allocate(rows.max(1) * 4)?;
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            build_keys,
            group_offsets: read_ptr(Some(&offsets), stream, &mut guards),
            group_cursor: write_ptr(&mut cursor, stream, &mut guards)?,
            group_rows: write_ptr(&mut members, stream, &mut guards)?,
            build_rows: rows as i64,
            dense_min: min,
            dense_range: range,
            ..JoinParams::default()
        };
        if rows > 0 {
            launch(
                kernels,
                stream,
                JOIN_DENSE_FILL,
                grid_stride_1d(device, rows),
                &params,
            )?;
        }
    }
    drop(desc_guards);
    drop(desc_buf);
    drop(key_guards);
    drop(cursor);
    Ok(DeviceBuild {
        keys,
        grouping: None,
        group_counts: Some(counts),
        group_offsets: Some(offsets),
        group_rows: Some(members),
        rows,
        nulls,
        dense: Some((min, range)),
    })
}

/// One probe batch's candidate pairs on the device, handed out in chunks.
#[derive(Debug)]
pub struct DeviceProbe<'b> {
    build: &'b DeviceBuild,
    probe_group: Option<DeviceBuffer>,
    probe_offsets: Option<DeviceBuffer>,
    /// All candidate pairs of the batch.
    total: u64,
    /// The probe offsets on the host (`rows + 1`), copied back only when the pairs come in
    /// more than one chunk (to find the probe rows each chunk settles): a batch whose pairs
    /// fit one chunk copies back its total alone, not 8 bytes per probe row.
    host_offsets: Option<Vec<u64>>,
    rows: usize,
    next_pair: u64,
    done: usize,
    started: bool,
}

/// Finds the groups of the probe rows of `keys` (each of `rows` rows, the build keys' types)
/// on the device.
pub fn probe_device<'b>(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    build: &'b DeviceBuild,
    keys: &[&DeviceColumn],
    rows: usize,
) -> Result<DeviceProbe<'b>> {
    let device = pool
        .device()
        .ok_or_else(|| invalid(JOIN_PROBE, "probe_device needs a CUDA pool"))?;
    if keys.len() != build.keys.len() {
        return Err(invalid(
            JOIN_PROBE,
            format!(
                "{} probe keys for {} build keys",
                keys.len(),
                build.keys.len()
            ),
        ));
    }
    for (p, b) in keys.iter().zip(&build.keys) {
        if p.len() != rows || key_kind(p)? != key_kind(b)? || p.data_type() != b.data_type() {
            return Err(invalid(
                JOIN_PROBE,
                format!(
                    "probe key {} of {} rows against build key {}",
                    p.data_type(),
                    p.len(),
                    b.data_type()
                ),
            ));
        }
    }
    if rows > u32::MAX as usize {
        return Err(invalid(
            JOIN_PROBE,
            format!("{rows} probe rows; at most 2^32 - 1"),
        ));
    }
    let no_match = |rows: usize| DeviceProbe {
        build,
        probe_group: None,
        probe_offsets: None,
        total: 0,
        host_offsets: Some(vec![0; rows + 1]),
        rows,
        next_pair: 0,
        done: 0,
        started: false,
    };
    if rows == 0 || (build.grouping.is_none() && build.dense.is_none()) {
        return Ok(no_match(rows));
    }
    let stream = device.stream();
    let mut probe_group = pool.allocate(rows * 4)?;
    let mut probe_counts = pool.allocate(rows * 8)?;
    if let Some((min, range)) = build.dense {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let desc = key_descriptors(keys, stream, &mut guards)?;
        let desc_buf = pool.upload(as_bytes(&desc))?;
        let mut desc_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            probe_keys: read_ptr(Some(&desc_buf), stream, &mut desc_guards),
            group_counts: read_ptr(build.group_counts.as_ref(), stream, &mut guards),
            probe_group: write_ptr(&mut probe_group, stream, &mut guards)?,
            probe_counts: write_ptr(&mut probe_counts, stream, &mut guards)?,
            probe_rows: rows as i64,
            dense_min: min,
            dense_range: range,
            ..JoinParams::default()
        };
        launch(
            kernels,
            stream,
            JOIN_DENSE_PROBE,
            grid_stride_1d(device, rows),
            &params,
        )?;
        drop((desc_guards, guards));
    } else if let Some(grouping) = &build.grouping {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let build_refs: Vec<&DeviceColumn> = build.keys.iter().collect();
        let probe_refs: Vec<&DeviceColumn> = keys.to_vec();
        let build_desc = key_descriptors(&build_refs, stream, &mut guards)?;
        let probe_desc = key_descriptors(&probe_refs, stream, &mut guards)?;
        let build_buf = pool.upload(as_bytes(&build_desc))?;
        let probe_buf = pool.upload(as_bytes(&probe_desc))?;
        let mut desc_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let params = JoinParams {
            build_keys: read_ptr(Some(&build_buf), stream, &mut desc_guards),
            probe_keys: read_ptr(Some(&probe_buf), stream, &mut desc_guards),
            slots: read_ptr(Some(&grouping.slots), stream, &mut guards),
            rep_group: read_ptr(Some(&grouping.rep_group), stream, &mut guards),
            group_counts: read_ptr(build.group_counts.as_ref(), stream, &mut guards),
            probe_group: write_ptr(&mut probe_group, stream, &mut guards)?,
            probe_counts: write_ptr(&mut probe_counts, stream, &mut guards)?,
            mask: grouping.mask,
            build_rows: build.rows as i64,
            probe_rows: rows as i64,
            n_keys: keys.len() as i32,
            skip_null_keys: (build.nulls == NullMatch::NullEqualsNothing) as i32,
            ..JoinParams::default()
        };
        launch(
            kernels,
            stream,
            JOIN_PROBE,
            grid_stride_1d(device, rows),
            &params,
        )?;
        drop((desc_guards, guards));
    }
    let offsets = exclusive_scan(kernels, pool, &probe_counts, rows)?;
    drop(probe_counts);
    let last = pool.download_range(&offsets, rows * 8..(rows + 1) * 8)?;
    let total = u64::from_le_bytes(last.as_slice().try_into().expect("8 bytes"));
    Ok(DeviceProbe {
        build,
        probe_group: Some(probe_group),
        probe_offsets: Some(offsets),
        total,
        host_offsets: None,
        rows,
        next_pair: 0,
        done: 0,
        started: false,
    })
}

impl DeviceProbe<'_> {
    /// All candidate pairs of the batch.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The probe offsets on the host, copied back on first use.
    fn host_offsets(&mut self, pool: &MemoryPool) -> Result<&[u64]> {
        if self.host_offsets.is_none() {
            let offsets = self
                .probe_offsets
                .as_ref()
                .ok_or_else(|| invalid(JOIN_PAIRS, "pairs without probe offsets"))?;
            let host = pool.download(offsets)?;
            self.host_offsets = Some(
                host.as_slice()
                    .chunks_exact(8)
                    .take(self.rows + 1)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            );
        }
        Ok(self.host_offsets.as_deref().expect("just set"))
    }

    /// The next chunk of at most `budget` pairs, or `None` when every probe row is done
    /// (an empty batch gives one empty chunk, as the host does), copied to the host.
    pub fn next_chunk(
        &mut self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        budget: usize,
    ) -> Result<Option<Pairs>> {
        match self.next_chunk_on_device(kernels, pool, budget)? {
            Some(pairs) => Ok(Some(pairs.download(pool)?)),
            None => Ok(None),
        }
    }

    /// [`DeviceProbe::next_chunk`] with the pairs left on the device, for a residual filter
    /// and a gather that run there too.
    pub fn next_chunk_on_device(
        &mut self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        budget: usize,
    ) -> Result<Option<DevicePairs>> {
        let total = self.total();
        if self.started && self.next_pair >= total && self.done >= self.rows {
            return Ok(None);
        }
        self.started = true;
        let start = self.next_pair;
        let end = total.min(start.saturating_add(budget.max(1) as u64));
        // Rows whose last pair is before `end` are settled: the first row whose offset + count
        // (its successor's offset) exceeds `end`.
        let done_to = if end == total {
            self.rows
        } else {
            self.host_offsets(pool)?[1..].partition_point(|&o| o <= end)
        };
        let n = (end - start) as usize;
        let (build_rows, probe_rows) = if n > 0 {
            let device = pool
                .device()
                .ok_or_else(|| invalid(JOIN_PAIRS, "next_chunk needs a CUDA pool"))?;
            let stream = device.stream();
            let (Some(grouping_offsets), Some(group_rows), Some(probe_group), Some(probe_offsets)) = (
                self.build.group_offsets.as_ref(),
                self.build.group_rows.as_ref(),
                self.probe_group.as_ref(),
                self.probe_offsets.as_ref(),
            ) else {
                return Err(invalid(JOIN_PAIRS, "pairs without a probed build side"));
            };
            let mut out_build = pool.allocate(n * 4)?;
            let mut out_probe = pool.allocate(n * 4)?;
            {
                let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
                let params = JoinParams {
                    group_offsets: read_ptr(Some(grouping_offsets), stream, &mut guards),
                    group_rows: read_ptr(Some(group_rows), stream, &mut guards),
                    probe_group: read_ptr(Some(probe_group), stream, &mut guards),
                    probe_offsets: read_ptr(Some(probe_offsets), stream, &mut guards),
                    out_build: write_ptr(&mut out_build, stream, &mut guards)?,
                    out_probe: write_ptr(&mut out_probe, stream, &mut guards)?,
                    probe_rows: self.rows as i64,
                    pair_start: start as i64,
                    pair_end: end as i64,
                    ..JoinParams::default()
                };
                launch(
                    kernels,
                    stream,
                    JOIN_PAIRS,
                    grid_stride_1d(device, n),
                    &params,
                )?;
            }
            let column = |values: DeviceBuffer| {
                DeviceColumn::from_parts(
                    DataType::UInt32,
                    n,
                    0,
                    None,
                    ColumnBody::Fixed { values, width: 4 },
                )
            };
            (column(out_build)?, column(out_probe)?)
        } else {
            (
                DeviceColumn::empty(pool, DataType::UInt32)?,
                DeviceColumn::empty(pool, DataType::UInt32)?,
            )
        };
        self.next_pair = end;
        let pairs = DevicePairs {
            build: build_rows,
            probe: probe_rows,
            done_from: self.done,
            done_to,
        };
        self.done = done_to;
        Ok(Some(pairs))
    }
}

/// A chunk's candidate pairs on the device: `UInt32` columns of build and probe rows (no
/// nulls), in probe-row order, and the probe rows it settles ([`Pairs`] on the device).
#[derive(Debug)]
pub struct DevicePairs {
    /// Build rows.
    pub build: DeviceColumn,
    /// Probe rows.
    pub probe: DeviceColumn,
    /// Probe rows `[done_from, done_to)` have had all their pairs emitted by this chunk
    /// (and the chunks before).
    pub done_from: usize,
    /// See `done_from`.
    pub done_to: usize,
}

impl DevicePairs {
    /// Pairs.
    pub fn len(&self) -> usize {
        self.build.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs on the host.
    pub fn download(&self, pool: &MemoryPool) -> Result<Pairs> {
        let rows = |column: &DeviceColumn| -> Result<Vec<u32>> {
            let array = column.download(pool)?;
            let values = array
                .as_any()
                .downcast_ref::<arrow::array::UInt32Array>()
                .ok_or_else(|| invalid(JOIN_PAIRS, "pairs that are not UInt32"))?;
            Ok(values.values().to_vec())
        };
        Ok(Pairs {
            build: rows(&self.build)?,
            probe: rows(&self.probe)?,
            done_from: self.done_from,
            done_to: self.done_to,
        })
    }
}

/// Every pair of every chunk, sorted (the order within a probe row is unspecified), and
/// whether the chunks settled every probe row exactly once, in order.
fn all_pairs(chunks: &[Pairs], rows: usize) -> (Vec<(u32, u32)>, bool) {
    let mut pairs: Vec<(u32, u32)> = chunks
        .iter()
        .flat_map(|c| c.probe.iter().copied().zip(c.build.iter().copied()))
        .collect();
    pairs.sort_unstable();
    let mut next = 0;
    let mut settled_in_order = true;
    for c in chunks {
        settled_in_order &= c.done_from == next && c.done_to >= c.done_from;
        next = c.done_to;
    }
    (pairs, settled_in_order && next == rows)
}

/// A self-check case: a label, the key columns, and a cap on the build rows.
type JoinCase = (String, Vec<ArrayRef>, Option<usize>);

/// The self-check's cases over `rows` rows: a label, the key columns (all `rows` long), and
/// a cap on the build rows. The first half of the rows builds, the second half probes. The
/// spread keys have about 4 rows per value wherever they fall; the few-valued keys (the
/// sample batch's string columns and TPC-H-like discounts) build on at most 64 rows, or 8
/// above 64Ki rows. So the pairs stay within a few per probe row at any size (with 64 build
/// rows, the check at 1M rows compared and sorted about 32M pairs per case and took minutes).
fn join_cases(rows: usize, seed: u64) -> Result<Vec<JoinCase>> {
    let few = Some(if rows > 1 << 16 { 8 } else { 64 });
    use arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array, StringArray,
    };
    use std::sync::Arc as A;
    let values = rows / 4 + 1;
    let spread = |i: usize, salt: u64| -> u64 {
        ((i as u64 ^ seed ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) % values as u64
    };
    // Every `every`-th row is null, but only among the first 4096 rows of each half: under
    // `NullEqualsNull` every null probe key matches every null build key, so nulls spread
    // over the whole input made the pairs grow with the square of the rows (about 950M pairs
    // per case at 1Mi rows, which kept gpu-check from finishing).
    let half = (rows / 2).max(1);
    let null_at = |i: usize, every: usize| i.is_multiple_of(every) && i % half < 4096;
    let int64: ArrayRef = A::new(Int64Array::from_iter(
        (0..rows).map(|i| (!null_at(i, 17)).then(|| spread(i, 1) as i64 - 7)),
    ));
    let int32: ArrayRef = A::new(Int32Array::from_iter(
        (0..rows).map(|i| (!null_at(i, 19)).then(|| spread(i, 2) as i32)),
    ));
    let date: ArrayRef =
        A::new(Date32Array::from_iter((0..rows).map(|i| {
            (!null_at(i, 23)).then(|| spread(i, 3) as i32 / 2 + 8000)
        })));
    let flag: ArrayRef = A::new(BooleanArray::from_iter(
        (0..rows).map(|i| (!null_at(i, 29)).then(|| spread(i, 3) % 2 == 0)),
    ));
    let decimal: ArrayRef = A::new(
        Decimal128Array::from_iter(
            (0..rows).map(|i| (!null_at(i, 31)).then(|| spread(i, 4) as i128 * 1_000_003 - 77)),
        )
        .with_precision_and_scale(15, 2)
        .map_err(|e| KernelError::Execution(e.to_string()))?,
    );
    let text: ArrayRef =
        A::new(StringArray::from_iter((0..rows).map(|i| {
            (!null_at(i, 37)).then(|| format!("k{}-é", spread(i, 5)))
        })));
    let ctx = datafusion::prelude::SessionContext::new();
    let strings = crate::expr::samples::string_batch(rows);
    let batch = crate::expr::samples::batch(rows, 0, seed);
    let eval = |sql: &str, b: &arrow::array::RecordBatch| -> Result<ArrayRef> {
        crate::expr::evaluate(&crate::expr::device::program_for(&ctx, sql, b)?, b)
    };
    Ok(vec![
        ("Int64".to_string(), vec![int64], None),
        ("Int32".to_string(), vec![A::clone(&int32)], None),
        (
            "Date32, Boolean".to_string(),
            vec![A::clone(&date), flag],
            None,
        ),
        ("Int (Date32)".to_string(), vec![date], None),
        ("Decimal128".to_string(), vec![decimal], None),
        ("Utf8, Int32".to_string(), vec![text, int32], None),
        ("dsc".to_string(), vec![eval("dsc", &batch)?], few),
        (
            "s, a".to_string(),
            vec![eval("s", &strings)?, eval("a", &strings)?],
            few,
        ),
        (
            "sv (Utf8View)".to_string(),
            vec![eval("sv", &strings)?],
            few,
        ),
        (
            "ls (LargeUtf8)".to_string(),
            vec![eval("ls", &strings)?],
            few,
        ),
    ])
}

/// `cinder gpu-check` for the join and scan kernels: every case of [`join_cases`] with both
/// null rules, in chunks of 1000 pairs (or a quarter of the rows) and all at once; the
/// device's pairs must be the host reference's (sorted within probe rows) and its chunks must
/// settle every probe row once.
pub(crate) fn check_join(
    env: &crate::selfcheck::CheckEnv<'_>,
    rows: usize,
    seed: u64,
) -> Result<crate::selfcheck::CheckOutcome> {
    let mut outcome = crate::selfcheck::CheckOutcome {
        rows,
        ..Default::default()
    };
    for (label, keys, cap) in join_cases(rows, seed)? {
        let half = rows / 2;
        let build_rows = cap.map_or(half, |m| m.min(half));
        let build_keys: Vec<ArrayRef> = keys.iter().map(|k| k.slice(0, build_rows)).collect();
        let probe_keys: Vec<ArrayRef> = keys.iter().map(|k| k.slice(half, rows - half)).collect();
        let probe_rows = rows - half;
        let upload = |a: &ArrayRef| DeviceColumn::upload(env.pool, a.as_ref());
        for nulls in [NullMatch::NullEqualsNothing, NullMatch::NullEqualsNull] {
            let table = super::BuildTable::new(&build_keys, build_rows, nulls)?;
            // The hash table, and the dense-key path where the keys suit it.
            let dense = super::dense_range(&build_keys, build_rows, nulls);
            for path in std::iter::once(None).chain(dense.map(Some)) {
                let build = build_device(
                    env.kernels,
                    env.pool,
                    build_keys
                        .iter()
                        .map(upload)
                        .collect::<std::result::Result<_, _>>()?,
                    build_rows,
                    nulls,
                    path,
                )?;
                // Small chunks exercise chunking; they grow with the size so that a large
                // check runs tens of chunks per case, not tens of thousands (at 1M rows,
                // chunks of 1000 pairs took minutes of round trips).
                for budget in [1000.max(rows / 4), usize::MAX / 2] {
                    let mut host = table.prober(&probe_keys, probe_rows)?;
                    let mut host_chunks = Vec::new();
                    while let Some(c) = host.next_chunk(budget) {
                        host_chunks.push(c);
                    }
                    let on_device: Vec<DeviceColumn> = probe_keys
                        .iter()
                        .map(upload)
                        .collect::<std::result::Result<_, _>>()?;
                    let refs: Vec<&DeviceColumn> = on_device.iter().collect();
                    let started = std::time::Instant::now();
                    let mut device =
                        probe_device(env.kernels, env.pool, &build, &refs, probe_rows)?;
                    let mut device_chunks = Vec::new();
                    while let Some(c) = device.next_chunk(env.kernels, env.pool, budget)? {
                        if c.build.len() > budget {
                            outcome.mismatches += 1;
                        }
                        device_chunks.push(c);
                    }
                    outcome.device_ms += started.elapsed().as_secs_f32() * 1000.0;
                    let (expected, _) = all_pairs(&host_chunks, probe_rows);
                    let (got, settled) = all_pairs(&device_chunks, probe_rows);
                    let what = format!(
                        "JOIN ON {label} ({nulls:?}, {}, chunks of {budget})",
                        if build.is_dense() {
                            "dense keys"
                        } else {
                            "hash table"
                        }
                    );
                    outcome.merge(crate::selfcheck::compare(&what, &expected, &got));
                    outcome.compared += 1;
                    if !settled {
                        outcome.mismatches += 1;
                        outcome.first_mismatch.get_or_insert_with(|| {
                            format!("{what}: the chunks do not settle every probe row once")
                        });
                    }
                }
            }
        }
        outcome.bytes += keys
            .iter()
            .map(|k| k.get_array_memory_size())
            .sum::<usize>();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host side of `check_join`: its keys evaluate and join on the host, and the host
    /// chunks settle every probe row once (what the device's must match).
    /// Every self-check case's pairs stay bounded (a few per probe row), so gpu-check at 16M
    /// rows stays within memory.
    #[test]
    fn self_check_cases_stay_small() {
        // Large enough that nulls spread over every row would break the bound below.
        let rows = 1 << 16;
        for (label, keys, cap) in join_cases(rows, 5).unwrap() {
            let half = rows / 2;
            let build_rows = cap.map_or(half, |m| m.min(half));
            let build: Vec<ArrayRef> = keys.iter().map(|k| k.slice(0, build_rows)).collect();
            let probe: Vec<ArrayRef> = keys.iter().map(|k| k.slice(half, rows - half)).collect();
            let table =
                super::super::BuildTable::new(&build, build_rows, NullMatch::NullEqualsNull)
                    .unwrap();
            let mut prober = table.prober(&probe, rows - half).unwrap();
            let mut total = 0;
            while let Some(c) = prober.next_chunk(1 << 20) {
                total += c.build.len();
            }
            assert!(total > 0, "{label}: no pairs at all");
            if label.starts_with("Int") {
                assert!(
                    super::super::dense_range(&build, build_rows, NullMatch::NullEqualsNothing)
                        .is_some(),
                    "{label}: gpu-check should cover the dense-key path"
                );
            }
            assert!(total <= 70 * (rows - half), "{label}: {total} pairs");
        }
    }

    #[test]
    fn scan_geometry_matches_the_header() {
        const HEADER: &str = include_str!("../../cuda/include/cinder/abi.cuh");
        assert!(HEADER.contains(&format!("SCAN_THREADS = {SCAN_THREADS};")));
        assert!(HEADER.contains(&format!("SCAN_TILE = {SCAN_TILE};")));
    }

    #[test]
    fn self_check_cases_run_on_the_host() {
        for rows in [0, 1, 5000] {
            let source = crate::expr::samples::batch(rows, 0, 3);
            let half = rows / 2;
            let key = |b: &arrow::array::RecordBatch| vec![std::sync::Arc::clone(b.column(0))];
            let table = super::super::BuildTable::new(
                &key(&source.slice(0, half)),
                half,
                NullMatch::NullEqualsNull,
            )
            .unwrap();
            let probe = source.slice(half, rows - half);
            let mut prober = table.prober(&key(&probe), probe.num_rows()).unwrap();
            let mut chunks = Vec::new();
            while let Some(c) = prober.next_chunk(7) {
                chunks.push(c);
            }
            let (_, settled) = all_pairs(&chunks, probe.num_rows());
            assert!(settled, "{rows} rows: {chunks:?}");
        }
    }
}
