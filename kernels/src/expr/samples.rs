//! The sample batch expressions are checked on (tests and `cinder gpu-check`): two columns of
//! each supported type, with nulls, edge values and offsets, plus divisors without zeros.

use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use cinder_cuda::testdata::random_array;

/// Columns a, b (Int32), c, d (Int64), x, y (Float64), p, q (Boolean), dt (Date32), m
/// (Decimal128(15, 2)), n (Decimal128(12, 4)), w (Decimal128(38, 10)), all random over their
/// whole range with the extremes; then nz (Int32 without zeros, with -1 and MIN), nz64 (Int64
/// without zeros, with -1), dsc (Decimal128(15, 2) from 0.00 to 0.10, like TPC-H's discount)
/// and dnz (Decimal128(15, 2) without zeros, small).
pub(crate) fn batch(rows: usize, offset: usize, seed: u64) -> RecordBatch {
    let columns: [(&str, DataType); 12] = [
        ("a", DataType::Int32),
        ("b", DataType::Int32),
        ("c", DataType::Int64),
        ("d", DataType::Int64),
        ("x", DataType::Float64),
        ("y", DataType::Float64),
        ("p", DataType::Boolean),
        ("q", DataType::Boolean),
        ("dt", DataType::Date32),
        ("m", DataType::Decimal128(15, 2)),
        ("n", DataType::Decimal128(12, 4)),
        ("w", DataType::Decimal128(38, 10)),
    ];
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|(n, t)| Field::new(*n, t.clone(), true))
        .collect();
    let mut arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, t))| random_array(t, rows, offset, 0.15, seed + i as u64))
        .collect();
    // Divisors without zeros (but with -1 and the minimum, for the overflow of MIN / -1).
    let nz32: Int32Array = (0..rows as i32)
        .map(|i| match i % 11 {
            0 => None,
            1 => Some(-1),
            2 => Some(i32::MIN),
            _ => Some(i % 7 + 1),
        })
        .collect();
    let nz64: Int64Array = (0..rows as i64)
        .map(|i| Some(if i % 13 == 1 { -1 } else { i % 5 + 2 }))
        .collect();
    fields.push(Field::new("nz", DataType::Int32, true));
    fields.push(Field::new("nz64", DataType::Int64, true));
    let dsc = Decimal128Array::from(
        (0..rows as i128)
            .map(|i| (i % 9 != 4).then_some((i * 7) % 11))
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(15, 2)
    .unwrap();
    let dnz = Decimal128Array::from(
        (0..rows as i128)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some(-1),
                _ => Some((i * 37) % 100_000 + 1),
            })
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(15, 2)
    .unwrap();
    fields.push(Field::new("dsc", DataType::Decimal128(15, 2), true));
    fields.push(Field::new("dnz", DataType::Decimal128(15, 2), true));
    arrays.push(Arc::new(nz32));
    arrays.push(Arc::new(nz64));
    arrays.push(Arc::new(dsc));
    arrays.push(Arc::new(dnz));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}
