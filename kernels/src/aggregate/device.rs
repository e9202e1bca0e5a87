//! Hash aggregation on the device (`kernels/cuda/aggregate/groupby.cu`): group numbering,
//! then accumulation, with the host reference's contract ([`super::group_host`],
//! [`super::accumulate_host`]).
//!
//! Group numbering inserts every row into an open-addressing table (twice as many slots as
//! rows, rounded up to a power of two) whose slots keep the smallest row of their key, flags
//! those first rows, and compacts the key columns and the row numbers by the flags with the
//! filter's compaction kernels: the groups come out in first-seen order with their keys,
//! exactly as the host numbers them. Accumulation then runs every operation in one pass over
//! the rows (a second pass only for 128-bit min/max). **Strategy:** when every operation's
//! per-group state fits in [`SHARED_LIMIT`] bytes (few groups, such as TPC-H Q1's 4 or an
//! aggregate without GROUP BY), each block accumulates in shared memory and merges once into
//! the global result; otherwise every row updates the global result with atomics.

use std::sync::Arc;

use arrow::array::{ArrayRef, new_empty_array};
use cinder_cuda::driver::{LaunchConfig, SyncOnDrop};
use cinder_cuda::{ColumnBody, CudaError, DeviceBuffer, DeviceColumn, MemoryPool};

use super::host::{OpResult, OpValues, canonical_key};
use super::spec::{Op, OpKind, ValueRead};
use crate::abi::{AccumulateParams, AggKey, AggOp, GroupParams};
use crate::embedded::DeviceKernels;
use crate::filter::{compact_columns, zeroed};
use crate::launch::{as_bytes, grid_stride_1d, launch_params, read_ptr, write_ptr};
use crate::{KernelError, Result};

/// The module holding the aggregation kernels.
pub const MODULE: &str = "aggregate/groupby";
/// Inserts rows into the hash table.
pub const AGG_INSERT: &str = "cinder_agg_insert";
/// Flags each key's first row.
pub const AGG_MARK: &str = "cinder_agg_mark";
/// Numbers the first rows.
pub const AGG_SCATTER: &str = "cinder_agg_scatter";
/// Gives every row its group.
pub const AGG_ASSIGN: &str = "cinder_agg_assign";
/// Sets the operations' starting values.
pub const AGG_INIT: &str = "cinder_agg_init";
/// Runs the operations over the rows.
pub const AGG_ACCUMULATE: &str = "cinder_agg_accumulate";

/// Largest number of rows [`group_device`] numbers at once: row numbers are Int32 in the
/// compaction, and slot numbers 32-bit.
pub const MAX_DEVICE_ROWS: usize = i32::MAX as usize;

/// Shared memory a block may use for per-group state (the default dynamic limit, no opt-in).
pub const SHARED_LIMIT: usize = 48 * 1024;
/// Operations a block accumulates in shared memory at once (`kSharedMaxOps`).
pub const SHARED_MAX_OPS: usize = 32;

const KEY_BOOL: i32 = 1;
const KEY_4: i32 = 4;
const KEY_8: i32 = 8;
const KEY_F64: i32 = 9;
const KEY_16: i32 = 16;
const KEY_STR: i32 = 20;

fn invalid(kernel: &'static str, reason: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        kernel,
        reason: reason.into(),
    }
}

/// Rows numbered by group on the device, with each group's keys (on the host).
#[derive(Debug)]
pub struct DeviceGroups {
    /// The group of each row (`u32` per row); `None` when there are no rows.
    pub ids: Option<DeviceBuffer>,
    /// The number of groups.
    pub count: usize,
    /// Each group's key values, in group order (`-0.0` as `+0.0`).
    pub keys: Vec<ArrayRef>,
}

pub(crate) fn key_kind(column: &DeviceColumn) -> Result<i32> {
    use arrow::datatypes::DataType;
    Ok(match (column.data_type(), column.body()) {
        (DataType::Boolean, ColumnBody::Boolean { .. }) => KEY_BOOL,
        (DataType::Int32 | DataType::Date32, ColumnBody::Fixed { width: 4, .. }) => KEY_4,
        (DataType::Int64, ColumnBody::Fixed { width: 8, .. }) => KEY_8,
        (DataType::Float64, ColumnBody::Fixed { width: 8, .. }) => KEY_F64,
        (DataType::Decimal128(..), ColumnBody::Fixed { width: 16, .. }) => KEY_16,
        (_, ColumnBody::Strings { .. }) => KEY_STR,
        (t, _) => return Err(invalid(AGG_INSERT, format!("no device grouping by {t}"))),
    })
}

fn launch<P: cinder_cuda::driver::DeviceRepr>(
    kernels: &DeviceKernels,
    stream: &Arc<cinder_cuda::driver::CudaStream>,
    kernel: &'static str,
    config: LaunchConfig,
    params: &P,
) -> Result<()> {
    // SAFETY: every aggregation kernel takes one params struct by value (`GroupParams` or
    // `AccumulateParams`, mirrored in abi.rs and checked by the layout test), whose addresses
    // the callers took from live pool buffers sized as the struct's comments in abi.cuh say:
    // per-row buffers of `rows` entries, per-slot of `mask + 1`, per-group of `n_groups`,
    // descriptors of `n_keys` / `n_ops`; the shared-memory size covers the layout
    // `cinder_agg_accumulate` computes (`shared_bytes`).
    unsafe { launch_params(kernels, stream, MODULE, kernel, config, params) }
}

/// Numbers the rows of `keys` (each of `rows` rows, at least one key) by group on the device,
/// in first-seen order, as [`super::group_host`] does.
pub fn group_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    keys: &[&DeviceColumn],
    rows: usize,
) -> Result<DeviceGroups> {
    match number_groups(kernels, pool, keys, rows)? {
        None => Ok(DeviceGroups {
            ids: None,
            count: 0,
            keys: keys
                .iter()
                .map(|k| new_empty_array(k.data_type()))
                .collect(),
        }),
        Some(grouping) => {
            let keys = grouping
                .keys
                .iter()
                .map(|c| c.download(pool).map(|a| canonical_key(&a)))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(DeviceGroups {
                ids: Some(grouping.ids),
                count: grouping.count,
                keys,
            })
        }
    }
}

/// Rows numbered by group, everything on the device: what [`group_device`] downloads from,
/// and what a hash join's build side probes.
#[derive(Debug)]
pub(crate) struct DeviceGrouping {
    /// The group of each row (`u32`).
    pub ids: DeviceBuffer,
    /// The number of groups.
    pub count: usize,
    /// The hash table: per slot, the smallest row + 1 of its key, or 0.
    pub slots: DeviceBuffer,
    /// Slots - 1.
    pub mask: u64,
    /// Per row: the group a key's first row starts (other entries unused).
    pub rep_group: DeviceBuffer,
    /// Each group's keys (the first rows' values), in group order.
    pub keys: Vec<DeviceColumn>,
}

/// The `AggKey` descriptors of `keys`, their reads recorded in `guards`.
pub(crate) fn key_descriptors<'a>(
    keys: &[&'a DeviceColumn],
    stream: &'a cinder_cuda::driver::CudaStream,
    guards: &mut Vec<SyncOnDrop<'a>>,
) -> Result<Vec<AggKey>> {
    let mut descriptors = Vec::with_capacity(keys.len());
    for key in keys {
        let mut d = AggKey {
            validity: read_ptr(key.validity(), stream, guards),
            kind: key_kind(key)?,
            ..AggKey::default()
        };
        match key.body() {
            ColumnBody::Fixed { values, .. } | ColumnBody::Boolean { values } => {
                d.data = read_ptr(Some(values), stream, guards);
            }
            ColumnBody::Strings {
                offsets,
                offset_width,
                bytes,
            } => {
                d.data = read_ptr(Some(offsets), stream, guards);
                d.bytes = read_ptr(Some(bytes), stream, guards);
                d.offset_width = offset_width.bytes() as i32;
            }
            ColumnBody::Dictionary { .. } => {
                return Err(invalid(
                    AGG_INSERT,
                    "dictionary keys are not grouped on the device",
                ));
            }
        }
        descriptors.push(d);
    }
    Ok(descriptors)
}

/// Numbers the rows of `keys` by group on the device; `None` when there are no rows.
pub(crate) fn number_groups(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    keys: &[&DeviceColumn],
    rows: usize,
) -> Result<Option<DeviceGrouping>> {
    let device = pool
        .device()
        .ok_or_else(|| invalid(AGG_INSERT, "group_device needs a CUDA pool"))?;
    if keys.is_empty() {
        return Err(invalid(AGG_INSERT, "no key columns"));
    }
    if rows > MAX_DEVICE_ROWS {
        return Err(invalid(
            AGG_INSERT,
            format!("{rows} rows in one grouping; at most {MAX_DEVICE_ROWS} on the device"),
        ));
    }
    if let Some(k) = keys.iter().find(|k| k.len() != rows) {
        return Err(invalid(
            AGG_INSERT,
            format!("a key of {} rows for {rows} rows", k.len()),
        ));
    }
    if rows == 0 {
        return Ok(None);
    }
    let stream = device.stream();
    let slots_len = (2 * rows).next_power_of_two().max(64);
    let words = rows.div_ceil(32);
    let mut slots = zeroed(pool, stream, slots_len * 4)?;
    let mut row_slot = pool.allocate(rows * 4)?;
    let mut rep_bits = pool.allocate(words * 4)?;
    let mut row_index = pool.allocate(rows * 4)?;

    let config = grid_stride_1d(device, rows);
    let mut params = GroupParams {
        rows: rows as i64,
        mask: (slots_len - 1) as u64,
        n_keys: keys.len() as i32,
        ..GroupParams::default()
    };
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let descriptors = key_descriptors(keys, stream, &mut guards)?;
        let keys_buf = pool.upload(as_bytes(&descriptors))?;
        let mut desc_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        params.keys = read_ptr(Some(&keys_buf), stream, &mut desc_guards);
        params.slots = write_ptr(&mut slots, stream, &mut guards)?;
        params.row_slot = write_ptr(&mut row_slot, stream, &mut guards)?;
        params.rep_bits = write_ptr(&mut rep_bits, stream, &mut guards)?;
        params.row_index = write_ptr(&mut row_index, stream, &mut guards)?;
        launch(kernels, stream, AGG_INSERT, config, &params)?;
        launch(kernels, stream, AGG_MARK, config, &params)?;
        drop((desc_guards, guards));
    }

    // The first rows, compacted in row order with their keys: the groups in first-seen order.
    let selection = DeviceColumn::from_parts(
        arrow::datatypes::DataType::Boolean,
        rows,
        0,
        None,
        ColumnBody::Boolean { values: rep_bits },
    )?;
    let row_index = DeviceColumn::from_parts(
        arrow::datatypes::DataType::Int32,
        rows,
        0,
        None,
        ColumnBody::Fixed {
            values: row_index,
            width: 4,
        },
    )?;
    let mut columns: Vec<&DeviceColumn> = keys.to_vec();
    columns.push(&row_index);
    let (mut compacted, n_groups) = compact_columns(kernels, pool, &selection, &columns, rows)?;
    drop((selection, row_index));
    let first_rows = compacted.pop().expect("the row numbers were compacted");
    if n_groups == 0 || n_groups > rows {
        return Err(CudaError::InvalidData(format!("{n_groups} groups over {rows} rows")).into());
    }

    let mut rep_group = pool.allocate(rows * 4)?;
    let mut ids = pool.allocate(rows * 4)?;
    {
        let ColumnBody::Fixed { values: first, .. } = first_rows.body() else {
            unreachable!("row numbers are Int32")
        };
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let scatter = GroupParams {
            first_rows: read_ptr(Some(first), stream, &mut guards),
            rep_group: write_ptr(&mut rep_group, stream, &mut guards)?,
            rows: rows as i64,
            n_groups: n_groups as i64,
            // Only the fields the kernel reads: buffers freed above are not passed on.
            ..GroupParams::default()
        };
        launch(
            kernels,
            stream,
            AGG_SCATTER,
            grid_stride_1d(device, n_groups),
            &scatter,
        )?;
    }
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let assign = GroupParams {
            slots: read_ptr(Some(&slots), stream, &mut guards),
            row_slot: read_ptr(Some(&row_slot), stream, &mut guards),
            rep_group: read_ptr(Some(&rep_group), stream, &mut guards),
            groups: write_ptr(&mut ids, stream, &mut guards)?,
            rows: rows as i64,
            n_groups: n_groups as i64,
            mask: params.mask,
            ..GroupParams::default()
        };
        launch(kernels, stream, AGG_ASSIGN, config, &assign)?;
    }
    drop((row_slot, first_rows));
    Ok(Some(DeviceGrouping {
        ids,
        count: n_groups,
        slots,
        mask: (slots_len - 1) as u64,
        rep_group,
        keys: compacted,
    }))
}

/// Bytes of per-group state a block keeps in shared memory for `ops` over `groups` groups
/// (the layout `cinder_agg_accumulate` uses).
pub fn shared_bytes(ops: &[Op], groups: usize) -> usize {
    ops.iter()
        .map(|op| groups * width(op.kind) + (groups * 4).next_multiple_of(16))
        .sum()
}

fn width(kind: OpKind) -> usize {
    if kind.is_wide() { 16 } else { 8 }
}

fn op_code(kind: OpKind) -> i32 {
    match kind {
        OpKind::Count => 1,
        OpKind::Sum64 => 2,
        OpKind::Sum128 => 3,
        OpKind::SumF64 => 4,
        OpKind::Min64 => 5,
        OpKind::Max64 => 6,
        OpKind::Min128 => 7,
        OpKind::Max128 => 8,
    }
}

fn read_code(read: ValueRead) -> i32 {
    match read {
        ValueRead::I32 => 1,
        ValueRead::I64 => 2,
        ValueRead::Bool => 3,
        ValueRead::F64 => 4,
        ValueRead::F64Ordered => 5,
        ValueRead::I128 => 6,
    }
}

/// Whether a column fits how `op` reads it (the types the host reference reads).
fn readable(op: &Op, column: &DeviceColumn) -> bool {
    use arrow::datatypes::DataType;
    if op.kind == OpKind::Count {
        return true;
    }
    matches!(
        (op.read, column.data_type(), column.body()),
        (
            ValueRead::Bool,
            DataType::Boolean,
            ColumnBody::Boolean { .. }
        ) | (
            ValueRead::I32,
            DataType::Int32 | DataType::Date32,
            ColumnBody::Fixed { width: 4, .. }
        ) | (
            ValueRead::I64,
            DataType::Int64 | DataType::UInt64,
            ColumnBody::Fixed { width: 8, .. }
        ) | (
            ValueRead::F64 | ValueRead::F64Ordered,
            DataType::Float64,
            ColumnBody::Fixed { width: 8, .. }
        ) | (
            ValueRead::I128,
            DataType::Decimal128(..),
            ColumnBody::Fixed { width: 16, .. }
        )
    )
}

/// Runs `ops` over `inputs` (each of `rows` rows) for the rows' groups on the device, as
/// [`super::accumulate_host`] does. `ids` is the group of each row (`u32`), `None` for no rows.
pub fn accumulate_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    ops: &[Op],
    inputs: &[&DeviceColumn],
    ids: Option<&DeviceBuffer>,
    n_groups: usize,
    rows: usize,
) -> Result<Vec<OpResult>> {
    let device = pool
        .device()
        .ok_or_else(|| invalid(AGG_ACCUMULATE, "accumulate_device needs a CUDA pool"))?;
    for op in ops {
        if op.input.is_none() && op.kind != OpKind::Count {
            return Err(invalid(AGG_ACCUMULATE, format!("{op:?} needs an input")));
        }
        if let Some(i) = op.input {
            let column = inputs.get(i).ok_or_else(|| {
                invalid(
                    AGG_ACCUMULATE,
                    format!("operation reads input {i} of {}", inputs.len()),
                )
            })?;
            if column.len() != rows || !readable(op, column) {
                return Err(invalid(
                    AGG_ACCUMULATE,
                    format!(
                        "{op:?} cannot read a {} column of {} rows",
                        column.data_type(),
                        column.len()
                    ),
                ));
            }
        }
    }
    if n_groups == 0 || ops.is_empty() {
        return Ok(ops
            .iter()
            .map(|op| OpResult {
                values: if op.kind.is_wide() {
                    OpValues::I128(vec![0; n_groups])
                } else if op.kind == OpKind::SumF64 {
                    OpValues::F64(vec![0.0; n_groups])
                } else {
                    OpValues::I64(vec![0; n_groups])
                },
                seen: vec![false; n_groups],
            })
            .collect());
    }
    let stream = device.stream();
    let mut values: Vec<DeviceBuffer> = ops
        .iter()
        .map(|op| pool.allocate(n_groups * width(op.kind)))
        .collect::<std::result::Result<_, _>>()?;
    let mut seen: Vec<DeviceBuffer> = ops
        .iter()
        .map(|_| pool.allocate(n_groups * 4))
        .collect::<std::result::Result<_, _>>()?;
    let wide_min_max = ops
        .iter()
        .any(|op| matches!(op.kind, OpKind::Min128 | OpKind::Max128));
    let shared = shared_bytes(ops, n_groups);
    let use_shared = shared <= SHARED_LIMIT && ops.len() <= SHARED_MAX_OPS;
    {
        let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let mut descriptors = Vec::with_capacity(ops.len());
        for ((op, v), s) in ops.iter().zip(values.iter_mut()).zip(seen.iter_mut()) {
            let mut d = AggOp {
                values: write_ptr(v, stream, &mut guards)?,
                seen: write_ptr(s, stream, &mut guards)?,
                kind: op_code(op.kind),
                read: read_code(op.read),
                ..AggOp::default()
            };
            if let Some(i) = op.input {
                let column = inputs[i];
                d.validity = read_ptr(column.validity(), stream, &mut guards);
                d.data = match column.body() {
                    ColumnBody::Fixed { values, .. } | ColumnBody::Boolean { values } => {
                        read_ptr(Some(values), stream, &mut guards)
                    }
                    ColumnBody::Strings { offsets, .. } => {
                        read_ptr(Some(offsets), stream, &mut guards)
                    }
                    ColumnBody::Dictionary { .. } => {
                        return Err(invalid(
                            AGG_ACCUMULATE,
                            "dictionary inputs are not read on the device",
                        ));
                    }
                };
            }
            descriptors.push(d);
        }
        let ops_buf = pool.upload(as_bytes(&descriptors))?;
        let mut desc_guards: Vec<SyncOnDrop<'_>> = Vec::new();
        let mut params = AccumulateParams {
            ops: read_ptr(Some(&ops_buf), stream, &mut desc_guards),
            rows: rows as i64,
            n_groups: n_groups as i64,
            n_ops: ops.len() as i32,
            shared: use_shared as i32,
            ..AccumulateParams::default()
        };
        launch(
            kernels,
            stream,
            AGG_INIT,
            grid_stride_1d(device, n_groups),
            &params,
        )?;
        if rows > 0 {
            let ids = ids.ok_or_else(|| invalid(AGG_ACCUMULATE, "rows without group ids"))?;
            if ids.len() < rows * 4 {
                return Err(invalid(
                    AGG_ACCUMULATE,
                    format!("{} bytes of group ids for {rows} rows", ids.len()),
                ));
            }
            params.groups = read_ptr(Some(ids), stream, &mut guards);
            let mut config = grid_stride_1d(device, rows);
            if use_shared {
                // Fewer blocks: each one sets up and merges every group once.
                let cap = (device.info().sm_count.max(1) as u32) * 2;
                config.grid_dim.0 = config.grid_dim.0.min(cap).max(1);
                config.shared_mem_bytes = shared as u32;
            }
            for pass in 0..if wide_min_max { 2 } else { 1 } {
                params.pass = pass;
                launch(kernels, stream, AGG_ACCUMULATE, config, &params)?;
            }
        }
        drop((desc_guards, guards));
    }
    ops.iter()
        .zip(values.iter().zip(&seen))
        .map(|(op, (v, s))| {
            let v = pool.download(v)?;
            let s = pool.download(s)?;
            let seen: Vec<bool> = s
                .as_slice()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) != 0)
                .collect();
            let words = v
                .as_slice()
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
            let values = match op.kind {
                OpKind::Sum128 | OpKind::Min128 | OpKind::Max128 => {
                    let w: Vec<u64> = words.collect();
                    OpValues::I128(
                        w.chunks_exact(2)
                            .zip(&seen)
                            .map(|(lh, &s)| {
                                if s {
                                    ((lh[1] as u128) << 64 | lh[0] as u128) as i128
                                } else {
                                    0
                                }
                            })
                            .collect(),
                    )
                }
                OpKind::SumF64 => OpValues::F64(
                    words
                        .zip(&seen)
                        .map(|(b, &s)| if s { f64::from_bits(b) } else { 0.0 })
                        .collect(),
                ),
                OpKind::Count => OpValues::I64(words.map(|b| b as i64).collect()),
                _ => OpValues::I64(
                    words
                        .zip(&seen)
                        .map(|(b, &s)| if s { b as i64 } else { 0 })
                        .collect(),
                ),
            };
            Ok(OpResult { values, seen })
        })
        .collect()
}

/// Groups `keys` and runs `ops` over `inputs` on the device: the group keys and the
/// operations' results, as [`super::aggregate_host`] gives them.
pub fn aggregate_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    keys: &[&DeviceColumn],
    inputs: &[&DeviceColumn],
    ops: &[Op],
    rows: usize,
) -> Result<(Vec<ArrayRef>, Vec<OpResult>)> {
    if keys.is_empty() {
        // One group of all rows: every row's group is 0.
        let ids = match rows {
            0 => None,
            _ => {
                let device = pool
                    .device()
                    .ok_or_else(|| invalid(AGG_ACCUMULATE, "aggregate_device needs a CUDA pool"))?;
                Some(zeroed(pool, device.stream(), rows * 4)?)
            }
        };
        let results = accumulate_device(kernels, pool, ops, inputs, ids.as_ref(), 1, rows)?;
        return Ok((Vec::new(), results));
    }
    let groups = group_device(kernels, pool, keys, rows)?;
    let results = accumulate_device(
        kernels,
        pool,
        ops,
        inputs,
        groups.ids.as_ref(),
        groups.count,
        rows,
    )?;
    Ok((groups.keys, results))
}

/// Key sets the self-check groups the sample batch by: none and few groups (shared memory,
/// warp-combined), about 200 (shared memory, per-row atomics), many (global), and every key
/// type.
const CHECK_KEYS: &[&[&str]] = &[
    &[],
    &["a % 7"],
    &["a % 100"],
    &["a % 7", "p"],
    &["dt"],
    &["m"],
    &["x"],
    &["c % 1000", "dsc"],
];

/// The self-check's arguments over the sample batch, and its operations over them.
const CHECK_ARGS: &[&str] = &["c", "m", "CAST(a AS DOUBLE) / 4", "a", "p", "dt", "w", "x"];

fn check_ops() -> Vec<Op> {
    let op = |kind, input, read| Op { kind, input, read };
    let mut ops = vec![
        op(OpKind::Count, None, ValueRead::I64),
        op(OpKind::Count, Some(0), ValueRead::I64),
        op(OpKind::Sum64, Some(0), ValueRead::I64),
        op(OpKind::Sum128, Some(1), ValueRead::I128),
        // Multiples of 1/4 below 2^51: exact in any order.
        op(OpKind::SumF64, Some(2), ValueRead::F64),
    ];
    for (input, read) in [
        (3, ValueRead::I32),
        (4, ValueRead::Bool),
        (5, ValueRead::I32),
        (7, ValueRead::F64Ordered),
    ] {
        ops.push(op(OpKind::Min64, Some(input), read));
        ops.push(op(OpKind::Max64, Some(input), read));
    }
    ops.push(op(OpKind::Min128, Some(6), ValueRead::I128));
    ops.push(op(OpKind::Max128, Some(6), ValueRead::I128));
    ops
}

/// Compares one grouping on the device with the host reference.
fn check_one(
    env: &crate::selfcheck::CheckEnv<'_>,
    what: &str,
    keys: &[ArrayRef],
    inputs: &[ArrayRef],
    ops: &[Op],
    rows: usize,
    outcome: &mut crate::selfcheck::CheckOutcome,
) -> Result<()> {
    let groups = super::group_host(keys, rows)?;
    let expected = super::accumulate_host(ops, inputs, &groups)?;
    let expected_keys = super::group_keys(keys, &groups)?;
    let upload = |a: &ArrayRef| DeviceColumn::upload(env.pool, a.as_ref());
    let keys_dev = keys
        .iter()
        .map(upload)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let inputs_dev = inputs
        .iter()
        .map(upload)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let key_refs: Vec<&DeviceColumn> = keys_dev.iter().collect();
    let input_refs: Vec<&DeviceColumn> = inputs_dev.iter().collect();
    let started = std::time::Instant::now();
    let (got_keys, got) = if keys.is_empty() {
        aggregate_device(env.kernels, env.pool, &[], &input_refs, ops, rows)?
    } else {
        let dg = group_device(env.kernels, env.pool, &key_refs, rows)?;
        // The group numbering itself, row by row.
        let ids: Vec<u32> = match &dg.ids {
            Some(ids) => env
                .pool
                .download(ids)?
                .as_slice()
                .chunks_exact(4)
                .take(rows)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            None => Vec::new(),
        };
        outcome.merge(crate::selfcheck::compare(
            &format!("{what}: group of row"),
            &groups.ids,
            &ids,
        ));
        let results = accumulate_device(
            env.kernels,
            env.pool,
            ops,
            &input_refs,
            dg.ids.as_ref(),
            dg.count,
            rows,
        )?;
        (dg.keys, results)
    };
    outcome.device_ms += started.elapsed().as_secs_f32() * 1000.0;
    outcome.compared += 1;
    if got_keys.len() != expected_keys.len()
        || got_keys
            .iter()
            .zip(&expected_keys)
            .any(|(g, e)| g.as_ref() != e.as_ref())
    {
        outcome.mismatches += 1;
        outcome
            .first_mismatch
            .get_or_insert_with(|| format!("{what}: group keys differ"));
    }
    for (j, (e, g)) in expected.iter().zip(&got).enumerate() {
        outcome.compared += e.seen.len();
        if e != g {
            outcome.mismatches += 1;
            outcome.first_mismatch.get_or_insert_with(|| {
                format!(
                    "{what}: {:?}: host {:?}, device {:?}",
                    ops[j],
                    truncate(e),
                    truncate(g)
                )
            });
        }
    }
    outcome.bytes += inputs
        .iter()
        .chain(keys)
        .map(|a| a.get_array_memory_size())
        .sum::<usize>();
    Ok(())
}

fn truncate(r: &OpResult) -> String {
    let s = format!("{r:?}");
    s.chars().take(200).collect()
}

/// `cinder gpu-check` for the aggregation kernels: every check key set and every operation
/// on the sample batch, and string keys of every Arrow string type, on the device and on the
/// host reference: group numbering, group keys and every operation's values and seen flags.
pub(crate) fn check_aggregate(
    env: &crate::selfcheck::CheckEnv<'_>,
    rows: usize,
    seed: u64,
) -> Result<crate::selfcheck::CheckOutcome> {
    use crate::expr::device::program_for;
    let batch = crate::expr::samples::batch(rows, 0, seed);
    let ctx = datafusion::prelude::SessionContext::new();
    let eval = |sql: &str, batch: &arrow::array::RecordBatch| -> Result<ArrayRef> {
        crate::expr::evaluate(&program_for(&ctx, sql, batch)?, batch)
    };
    let mut outcome = crate::selfcheck::CheckOutcome {
        rows,
        ..Default::default()
    };
    let inputs = CHECK_ARGS
        .iter()
        .map(|sql| eval(sql, &batch))
        .collect::<Result<Vec<_>>>()?;
    let ops = check_ops();
    for keys in CHECK_KEYS {
        let key_arrays = keys
            .iter()
            .map(|sql| eval(sql, &batch))
            .collect::<Result<Vec<_>>>()?;
        check_one(
            env,
            &format!("GROUP BY {keys:?}"),
            &key_arrays,
            &inputs,
            &ops,
            rows,
            &mut outcome,
        )?;
    }
    let strings = crate::expr::samples::string_batch(rows);
    let count_a = [
        Op {
            kind: OpKind::Count,
            input: Some(0),
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Min64,
            input: Some(0),
            read: ValueRead::I32,
        },
        Op {
            kind: OpKind::Max64,
            input: Some(0),
            read: ValueRead::I32,
        },
    ];
    let a = [eval("a", &strings)?];
    for keys in [&["s"][..], &["sv", "ls"], &["t", "a"]] {
        let key_arrays = keys
            .iter()
            .map(|sql| eval(sql, &strings))
            .collect::<Result<Vec<_>>>()?;
        check_one(
            env,
            &format!("GROUP BY {keys:?} (strings)"),
            &key_arrays,
            &a,
            &count_a,
            rows,
            &mut outcome,
        )?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The self-check's inputs, keys and operations fit together (the host side of
    /// `check_aggregate`, which CI can run).
    #[test]
    fn self_check_inputs_run_on_the_host() {
        let ctx = datafusion::prelude::SessionContext::new();
        for rows in [0, 1, 3000] {
            let batch = crate::expr::samples::batch(rows, 0, 7);
            let eval = |sql: &str| {
                let p = crate::expr::device::program_for(&ctx, sql, &batch).unwrap();
                crate::expr::evaluate(&p, &batch).unwrap()
            };
            let inputs: Vec<ArrayRef> = CHECK_ARGS.iter().map(|s| eval(s)).collect();
            for keys in CHECK_KEYS {
                let keys: Vec<ArrayRef> = keys.iter().map(|s| eval(s)).collect();
                let groups = super::super::group_host(&keys, rows).unwrap();
                let results =
                    super::super::accumulate_host(&check_ops(), &inputs, &groups).unwrap();
                assert_eq!(results.len(), check_ops().len());
            }
        }
    }

    /// The key, operation and read codes as `cinder/abi.cuh` defines them.
    #[test]
    fn codes_match_the_header() {
        const HEADER: &str = include_str!("../../cuda/include/cinder/abi.cuh");
        let constant = |name: &str| -> i64 {
            let line = HEADER
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .find(|l| l.split_whitespace().any(|w| w == name) && l.contains('='))
                .unwrap_or_else(|| panic!("{name} not in abi.cuh"));
            let value = line.split('=').nth(1).unwrap().trim();
            value
                .trim_end_matches(';')
                .parse()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let pairs: Vec<(&str, i32)> = vec![
            ("AGG_KEY_BOOL", KEY_BOOL),
            ("AGG_KEY_4", KEY_4),
            ("AGG_KEY_8", KEY_8),
            ("AGG_KEY_F64", KEY_F64),
            ("AGG_KEY_16", KEY_16),
            ("AGG_KEY_STR", KEY_STR),
            ("AGG_OP_COUNT", op_code(OpKind::Count)),
            ("AGG_OP_SUM64", op_code(OpKind::Sum64)),
            ("AGG_OP_SUM128", op_code(OpKind::Sum128)),
            ("AGG_OP_SUMF64", op_code(OpKind::SumF64)),
            ("AGG_OP_MIN64", op_code(OpKind::Min64)),
            ("AGG_OP_MAX64", op_code(OpKind::Max64)),
            ("AGG_OP_MIN128", op_code(OpKind::Min128)),
            ("AGG_OP_MAX128", op_code(OpKind::Max128)),
            ("AGG_READ_I32", read_code(ValueRead::I32)),
            ("AGG_READ_I64", read_code(ValueRead::I64)),
            ("AGG_READ_BOOL", read_code(ValueRead::Bool)),
            ("AGG_READ_F64", read_code(ValueRead::F64)),
            ("AGG_READ_F64_ORDERED", read_code(ValueRead::F64Ordered)),
            ("AGG_READ_I128", read_code(ValueRead::I128)),
            ("AGG_EMPTY_SLOT", 0),
        ];
        for (name, value) in pairs {
            assert_eq!(constant(name), i64::from(value), "{name}");
        }
        assert!(
            HEADER.contains(&format!("kSharedMaxOps = {SHARED_MAX_OPS}")) || {
                let cu = include_str!("../../cuda/aggregate/groupby.cu");
                cu.contains(&format!("kSharedMaxOps = {SHARED_MAX_OPS};"))
            }
        );
    }

    #[test]
    fn shared_memory_layout_matches_the_kernel() {
        let ops = check_ops();
        // 15 operations, three of them 128-bit: 4 groups take 12 * 32 + 3 * 64 + 15 * 16 bytes.
        assert_eq!(ops.len(), 15);
        assert_eq!(shared_bytes(&ops, 4), 12 * 32 + 3 * 64 + 15 * 16);
        assert!(shared_bytes(&ops, 200) <= SHARED_LIMIT);
        assert!(shared_bytes(&ops, 1000) > SHARED_LIMIT);
    }
}
