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

/// String columns of each Arrow string type, with nulls, empty strings and multi-byte
/// characters: s and t (Utf8), ls (LargeUtf8), sv (Utf8View), a (Int32).
pub(crate) fn string_batch(rows: usize) -> RecordBatch {
    use arrow::array::{Int32Array, LargeStringArray, StringArray, StringViewArray};
    const WORDS: &[&str] = &[
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "bc",
        "é",
        "aé",
        "éa",
        "abé",
        "xyz",
        "a%c",
        "héllo wörld",
        "ab\nc",
        "Customer Complaints",
        "forest green",
        "PROMO BRASS",
        "13",
        "31-555",
        "special requests",
        "zzzzzzzzzzzzzzzzzzzzzz",
        "日本語",
    ];
    let pick = |i: usize, k: usize| (i % 9 != k).then(|| WORDS[(i * 7 + k * 3) % WORDS.len()]);
    let s: StringArray = (0..rows).map(|i| pick(i, 0)).collect();
    let t: StringArray = (0..rows).map(|i| pick(i, 1)).collect();
    let ls: LargeStringArray = (0..rows).map(|i| pick(i, 2)).collect();
    let sv: StringViewArray = (0..rows).map(|i| pick(i, 3)).collect();
    let a: Int32Array = (0..rows as i32).map(|i| Some(i % 5 - 1)).collect();
    RecordBatch::try_from_iter([
        ("s", Arc::new(s) as ArrayRef),
        ("t", Arc::new(t)),
        ("ls", Arc::new(ls)),
        ("sv", Arc::new(sv)),
        ("a", Arc::new(a)),
    ])
    .unwrap()
}

/// String expressions checked against DataFusion (tests) and the host (gpu-check).
pub(crate) const STRING_EXPRESSIONS: &[&str] = &[
    "s = 'abc'",
    "s <> t",
    "s < t",
    "s >= 'b'",
    "ls <= 'ab'",
    "sv > 'a'",
    "s = sv",
    "s IN ('abc', 'é', '')",
    "s NOT IN ('x', NULL)",
    "sv IN ('13', '31')",
    "s LIKE 'ab%'",
    "s LIKE '%bc'",
    "s LIKE '%b%'",
    "s LIKE 'a%c'",
    "s LIKE '%a%b%c%'",
    "s NOT LIKE '%é%'",
    "s LIKE ''",
    "s LIKE '%'",
    "s LIKE 'abc'",
    "s LIKE 'a%%c'",
    "s LIKE '%%'",
    "s LIKE 'ab%b'",
    "sv LIKE '%Customer%Complaints%'",
    "ls NOT LIKE '%special%requests%'",
    "sv LIKE 'forest%'",
    "s LIKE '%BRASS'",
    "substr(s, 1, 2) = 'ab'",
    "substr(s, 0, 2) IN ('a', 'é', '')",
    "substr(s, 3) = 'c'",
    "substr(s, -1, 3) = 'a'",
    "substr(s, 2, 0) = ''",
    "substr(sv, 2, 2) < 'c'",
    "substr(s, 100) = ''",
    "substr(s, 1, 2) IN ('13', '31', 'ab')",
    "character_length(s) > 2",
    "character_length(s)",
    "length(sv)",
    "char_length(ls)",
    "CASE WHEN s LIKE 'a%' THEN 1 ELSE 2 END",
    "CASE WHEN a > 0 THEN s ELSE t END = 'abc'",
    "s IS NULL OR t IS NOT NULL",
    // String results, built as the type DataFusion declares.
    "substr(s, 1, 2)",
    "substr(sv, 2)",
    "substr(ls, 0, 3)",
    "s",
    "CASE WHEN a > 0 THEN s ELSE 'none' END",
    "CASE WHEN s LIKE 'a%' THEN substr(s, 2) END",
];
