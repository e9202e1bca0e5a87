//! The host reference: group ids in first-seen order, the accumulator operations, and the
//! emission of DataFusion's state or final columns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, RecordBatch, RecordBatchOptions, UInt32Array, UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::take;
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, SchemaRef, UInt64Type,
};
use arrow::row::{RowConverter, SortField};

use super::spec::{AggFunc, AggregateSpec, Op, OpKind, ValueRead};
use crate::{KernelError, Result};

fn arrow_error(e: arrow::error::ArrowError) -> KernelError {
    KernelError::Execution(e.to_string())
}

/// The group of every row, numbered in the order groups are first seen, and each group's
/// first row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    /// The group of each row.
    pub ids: Vec<u32>,
    /// The number of groups.
    pub count: usize,
    /// The first row of each group (empty when there are no keys: one group of all rows).
    pub first_rows: Vec<u32>,
}

/// Largest number of rows one grouping takes (row numbers are 32-bit on the device too).
pub const MAX_ROWS: usize = u32::MAX as usize - 1;

/// `-0.0` folded into `+0.0` in Float64 keys, as DataFusion's group values do; other arrays
/// unchanged.
pub fn canonical_key(array: &ArrayRef) -> ArrayRef {
    if array.data_type() != &DataType::Float64 {
        return Arc::clone(array);
    }
    let values = array.as_primitive::<Float64Type>();
    Arc::new(values.unary::<_, Float64Type>(|v| if v == 0.0 { 0.0 } else { v }))
}

/// Groups the rows of `keys` (all of `rows` rows): rows with equal keys (null equal to null,
/// floats by bit pattern after folding `-0.0`) share a group. No keys: one group of all rows,
/// even when there are no rows.
pub fn group_host(keys: &[ArrayRef], rows: usize) -> Result<Groups> {
    if rows > MAX_ROWS {
        return Err(KernelError::InvalidArgument {
            kernel: "group_host",
            reason: format!("{rows} rows in one grouping; at most {MAX_ROWS}"),
        });
    }
    if keys.is_empty() {
        return Ok(Groups {
            ids: vec![0; rows],
            count: 1,
            first_rows: Vec::new(),
        });
    }
    let keys: Vec<ArrayRef> = keys.iter().map(canonical_key).collect();
    let converter = RowConverter::new(
        keys.iter()
            .map(|k| SortField::new(k.data_type().clone()))
            .collect(),
    )
    .map_err(arrow_error)?;
    let encoded = converter.convert_columns(&keys).map_err(arrow_error)?;
    let mut table: HashMap<&[u8], u32> = HashMap::with_capacity(rows.min(1 << 20));
    let mut ids = Vec::with_capacity(rows);
    let mut first_rows = Vec::new();
    for (row, key) in encoded.iter().enumerate() {
        let next = first_rows.len() as u32;
        let id = *table.entry(key.data()).or_insert(next);
        if id == next {
            first_rows.push(row as u32);
        }
        ids.push(id);
    }
    Ok(Groups {
        ids,
        count: first_rows.len(),
        first_rows,
    })
}

/// The key columns of each group: the value at its first row (Float64 `-0.0` as `+0.0`).
pub fn group_keys(keys: &[ArrayRef], groups: &Groups) -> Result<Vec<ArrayRef>> {
    let indices = UInt32Array::from(groups.first_rows.clone());
    keys.iter()
        .map(|k| take(canonical_key(k).as_ref(), &indices, None).map_err(arrow_error))
        .collect()
}

/// An operation's per-group values.
#[derive(Debug, Clone, PartialEq)]
pub enum OpValues {
    /// 64-bit values (counts, integer sums, 64-bit min/max, Float64 order keys).
    I64(Vec<i64>),
    /// 128-bit values (decimals).
    I128(Vec<i128>),
    /// Float64 sums.
    F64(Vec<f64>),
}

impl OpValues {
    /// The number of groups.
    pub fn len(&self) -> usize {
        match self {
            OpValues::I64(v) => v.len(),
            OpValues::I128(v) => v.len(),
            OpValues::F64(v) => v.len(),
        }
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One operation's result: per group its value and whether any valid input reached it.
/// Values of unseen groups are 0.
#[derive(Debug, Clone, PartialEq)]
pub struct OpResult {
    /// Per-group values.
    pub values: OpValues,
    /// Per group, whether a valid input row reached it.
    pub seen: Vec<bool>,
}

/// The value an operation starts each group from.
pub fn initial_i64(kind: OpKind) -> i64 {
    match kind {
        OpKind::Min64 => i64::MAX,
        OpKind::Max64 => i64::MIN,
        _ => 0,
    }
}

/// The 128-bit value an operation starts each group from.
pub fn initial_i128(kind: OpKind) -> i128 {
    match kind {
        OpKind::Min128 => i128::MAX,
        OpKind::Max128 => i128::MIN,
        _ => 0,
    }
}

/// The signed key of `v` in IEEE total order (`f64::total_cmp`); its own inverse.
pub fn f64_order_key(bits: i64) -> i64 {
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// A column read as 64-bit values for `read`.
fn read_i64(array: &dyn Array, read: ValueRead) -> Result<Vec<i64>> {
    let bad = || KernelError::InvalidArgument {
        kernel: "accumulate_host",
        reason: format!("cannot read {} as {read:?}", array.data_type()),
    };
    Ok(match (read, array.data_type()) {
        (ValueRead::I32, DataType::Int32) => array
            .as_primitive::<Int32Type>()
            .values()
            .iter()
            .map(|&v| v as i64)
            .collect(),
        (ValueRead::I32, DataType::Date32) => array
            .as_primitive::<Date32Type>()
            .values()
            .iter()
            .map(|&v| v as i64)
            .collect(),
        (ValueRead::I64, DataType::Int64) => array.as_primitive::<Int64Type>().values().to_vec(),
        (ValueRead::I64, DataType::UInt64) => array
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|&v| v as i64)
            .collect(),
        (ValueRead::Bool, DataType::Boolean) => array
            .as_boolean()
            .values()
            .iter()
            .map(|v| v as i64)
            .collect(),
        (ValueRead::F64Ordered, DataType::Float64) => array
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|v| f64_order_key(v.to_bits() as i64))
            .collect(),
        _ => return Err(bad()),
    })
}

/// Runs each operation over `inputs` for the rows' `groups` (host reference).
pub fn accumulate_host(ops: &[Op], inputs: &[ArrayRef], groups: &Groups) -> Result<Vec<OpResult>> {
    let n = groups.count;
    ops.iter()
        .map(|op| {
            let input = match op.input {
                Some(i) => Some(inputs.get(i).ok_or_else(|| KernelError::InvalidArgument {
                    kernel: "accumulate_host",
                    reason: format!("operation reads input {i} of {}", inputs.len()),
                })?),
                None => None,
            };
            if let Some(input) = input
                && input.len() != groups.ids.len()
            {
                return Err(KernelError::InvalidArgument {
                    kernel: "accumulate_host",
                    reason: format!(
                        "{} input rows for {} group ids",
                        input.len(),
                        groups.ids.len()
                    ),
                });
            }
            let nulls = input.and_then(|a| a.logical_nulls());
            let valid = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));
            let mut seen = vec![false; n];
            let values = match op.kind {
                OpKind::Count => {
                    let mut counts = vec![0i64; n];
                    for (row, &g) in groups.ids.iter().enumerate() {
                        if valid(row) {
                            counts[g as usize] += 1;
                            seen[g as usize] = true;
                        }
                    }
                    OpValues::I64(counts)
                }
                OpKind::SumF64 => {
                    let input = input.expect("a sum reads an input");
                    let values = input.as_primitive::<Float64Type>().values();
                    let mut sums = vec![0f64; n];
                    for (row, &g) in groups.ids.iter().enumerate() {
                        if valid(row) {
                            sums[g as usize] += values[row];
                            seen[g as usize] = true;
                        }
                    }
                    OpValues::F64(sums)
                }
                OpKind::Sum128 | OpKind::Min128 | OpKind::Max128 => {
                    let input = input.expect("a 128-bit operation reads an input");
                    let values = input.as_primitive::<Decimal128Type>().values();
                    let mut acc = vec![initial_i128(op.kind); n];
                    for (row, &g) in groups.ids.iter().enumerate() {
                        if valid(row) {
                            let (a, v) = (&mut acc[g as usize], values[row]);
                            *a = match op.kind {
                                OpKind::Sum128 => a.wrapping_add(v),
                                OpKind::Min128 => (*a).min(v),
                                _ => (*a).max(v),
                            };
                            seen[g as usize] = true;
                        }
                    }
                    for (a, s) in acc.iter_mut().zip(&seen) {
                        if !s {
                            *a = 0;
                        }
                    }
                    OpValues::I128(acc)
                }
                OpKind::Sum64 | OpKind::Min64 | OpKind::Max64 => {
                    let input = input.expect("a 64-bit operation reads an input");
                    let values = read_i64(input.as_ref(), op.read)?;
                    let mut acc = vec![initial_i64(op.kind); n];
                    for (row, &g) in groups.ids.iter().enumerate() {
                        if valid(row) {
                            let (a, v) = (&mut acc[g as usize], values[row]);
                            *a = match op.kind {
                                OpKind::Sum64 => a.wrapping_add(v),
                                OpKind::Min64 => (*a).min(v),
                                _ => (*a).max(v),
                            };
                            seen[g as usize] = true;
                        }
                    }
                    for (a, s) in acc.iter_mut().zip(&seen) {
                        if !s {
                            *a = 0;
                        }
                    }
                    OpValues::I64(acc)
                }
            };
            Ok(OpResult { values, seen })
        })
        .collect()
}

fn nulls(seen: &[bool]) -> Option<NullBuffer> {
    let buffer = NullBuffer::from(seen.to_vec());
    (buffer.null_count() > 0).then_some(buffer)
}

fn i64s(result: &OpResult) -> Result<&[i64]> {
    match &result.values {
        OpValues::I64(v) => Ok(v),
        other => Err(KernelError::InvalidArgument {
            kernel: "aggregate emit",
            reason: format!("expected 64-bit values, got {other:?}"),
        }),
    }
}

fn i128s(result: &OpResult) -> Result<&[i128]> {
    match &result.values {
        OpValues::I128(v) => Ok(v),
        other => Err(KernelError::InvalidArgument {
            kernel: "aggregate emit",
            reason: format!("expected 128-bit values, got {other:?}"),
        }),
    }
}

/// The column of `data_type` holding `result` (null where no input was seen unless
/// `non_null`).
fn column(result: &OpResult, data_type: &DataType, non_null: bool) -> Result<ArrayRef> {
    let nulls = if non_null { None } else { nulls(&result.seen) };
    Ok(match data_type {
        DataType::Int64 => Arc::new(Int64Array::new(i64s(result)?.to_vec().into(), nulls)),
        DataType::UInt64 => Arc::new(UInt64Array::new(
            i64s(result)?.iter().map(|&v| v as u64).collect(),
            nulls,
        )),
        DataType::Int32 => Arc::new(Int32Array::new(
            i64s(result)?.iter().map(|&v| v as i32).collect(),
            nulls,
        )),
        DataType::Date32 => Arc::new(Date32Array::new(
            i64s(result)?.iter().map(|&v| v as i32).collect(),
            nulls,
        )),
        DataType::Boolean => Arc::new(BooleanArray::new(
            i64s(result)?.iter().map(|&v| v != 0).collect(),
            nulls,
        )),
        DataType::Float64 => match &result.values {
            OpValues::F64(v) => Arc::new(Float64Array::new(v.clone().into(), nulls)),
            // A min/max over total-order keys.
            OpValues::I64(v) => Arc::new(Float64Array::new(
                v.iter()
                    .map(|&k| f64::from_bits(f64_order_key(k) as u64))
                    .collect(),
                nulls,
            )),
            OpValues::I128(_) => return Err(KernelError::Execution("a 128-bit float".into())),
        },
        DataType::Decimal128(p, s) => Arc::new(
            Decimal128Array::new(i128s(result)?.to_vec().into(), nulls)
                .with_precision_and_scale(*p, *s)
                .map_err(arrow_error)?,
        ),
        other => {
            return Err(KernelError::InvalidArgument {
                kernel: "aggregate emit",
                reason: format!("no column of type {other}"),
            });
        }
    })
}

/// The error DataFusion's decimal average gives when its result does not fit.
pub const AVG_OVERFLOW: &str = "Arithmetic Overflow in AvgAccumulator";

/// DataFusion's decimal average of a group: `sum * 10^(target_scale - scale)` checked,
/// divided by `count` truncating, checked against `target_precision`.
pub fn decimal_avg(
    sum: i128,
    count: u64,
    scale: i8,
    target_precision: u8,
    target_scale: i8,
) -> Result<i128> {
    let overflow = || KernelError::Execution(AVG_OVERFLOW.to_string());
    let factor = 10i128.pow((target_scale - scale) as u32);
    let scaled = sum.checked_mul(factor).ok_or_else(overflow)?;
    let value = scaled.wrapping_div(count as i128);
    let bound = 10i128.pow(target_precision as u32);
    if value <= -bound || value >= bound {
        return Err(overflow());
    }
    Ok(value)
}

/// The state or final columns of `specs` from their operations' `results` (in the order of
/// the specs' ops), after the group `keys`, as a batch of `schema`. `grouped` is whether the
/// aggregation has keys.
pub fn emit(
    specs: &[AggregateSpec],
    final_output: bool,
    grouped: bool,
    keys: Vec<ArrayRef>,
    results: &[OpResult],
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let rows = results.first().map(|r| r.seen.len()).unwrap_or(if grouped {
        keys.first().map_or(0, |k| k.len())
    } else {
        1
    });
    let mut columns = keys;
    let mut results = results.iter();
    let mut next = || {
        results.next().ok_or_else(|| KernelError::InvalidArgument {
            kernel: "aggregate emit",
            reason: "fewer operation results than aggregates need".into(),
        })
    };
    for spec in specs {
        match spec.func {
            AggFunc::Count => columns.push(column(next()?, &DataType::Int64, true)?),
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => {
                columns.push(column(next()?, &spec.state[0], false)?)
            }
            AggFunc::Avg => {
                let (count, sum) = (next()?, next()?);
                if final_output {
                    columns.push(avg_final(spec, count, sum)?);
                } else {
                    // DataFusion's grouped state nulls the count with the sum; its ungrouped
                    // state keeps a count of 0.
                    let count = OpResult {
                        values: count.values.clone(),
                        seen: if grouped {
                            sum.seen.clone()
                        } else {
                            vec![true; sum.seen.len()]
                        },
                    };
                    columns.push(column(&count, &DataType::UInt64, false)?);
                    columns.push(column(sum, &spec.state[1], false)?);
                }
            }
        }
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(arrow_error)
}

fn avg_final(spec: &AggregateSpec, count: &OpResult, sum: &OpResult) -> Result<ArrayRef> {
    let counts = i64s(count)?;
    let seen = |g: usize| sum.seen[g] && counts[g] != 0;
    let nulls = nulls(&(0..counts.len()).map(seen).collect::<Vec<_>>());
    match (&spec.result, &sum.values) {
        (DataType::Float64, OpValues::F64(sums)) => Ok(Arc::new(Float64Array::new(
            (0..counts.len())
                .map(|g| {
                    if seen(g) {
                        sums[g] / (counts[g] as u64) as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
            nulls,
        ))),
        (DataType::Decimal128(tp, ts), OpValues::I128(sums)) => {
            let DataType::Decimal128(_, s) = spec.state[1] else {
                unreachable!("a decimal average keeps a decimal sum")
            };
            let values = (0..counts.len())
                .map(|g| {
                    if seen(g) {
                        decimal_avg(sums[g], counts[g] as u64, s, *tp, *ts)
                    } else {
                        Ok(0)
                    }
                })
                .collect::<Result<Vec<i128>>>()?;
            Ok(Arc::new(
                Decimal128Array::new(values.into(), nulls)
                    .with_precision_and_scale(*tp, *ts)
                    .map_err(arrow_error)?,
            ))
        }
        (t, _) => Err(KernelError::InvalidArgument {
            kernel: "aggregate emit",
            reason: format!("no average of type {t}"),
        }),
    }
}
