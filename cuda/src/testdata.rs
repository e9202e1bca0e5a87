//! Seeded random Arrow data of every type Cinder places on the device, for round-trip tests,
//! `cinder gpu-check` and benchmarks: nulls, duplicates, edge values (NaN, -0.0, infinities,
//! integer extremes, empty and multi-byte strings) and non-zero array offsets.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use rand::distr::{Distribution, StandardUniform};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One of every type the device supports (all timestamp units, with and without a zone).
pub fn supported_types() -> Vec<DataType> {
    let tz = Some(Arc::from("+05:30"));
    vec![
        DataType::Boolean,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Timestamp(TimeUnit::Millisecond, tz.clone()),
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC"))),
        DataType::Decimal128(15, 2),
        DataType::Decimal128(38, 10),
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
    ]
}

/// A random array of `data_type` with `rows` rows, taken at offset `offset` of a larger one;
/// about `null_fraction` of the rows are null (no validity bitmap at all when it is 0).
pub fn random_array(
    data_type: &DataType,
    rows: usize,
    offset: usize,
    null_fraction: f64,
    seed: u64,
) -> ArrayRef {
    let mut rng = StdRng::seed_from_u64(seed);
    let total = rows + offset;
    let valid: Vec<bool> = (0..total)
        .map(|_| rng.random::<f64>() >= null_fraction)
        .collect();
    let array: ArrayRef = match data_type {
        DataType::Boolean => Arc::new(BooleanArray::from(opt_bool(&mut rng, &valid))),
        DataType::Int8 => Arc::new(Int8Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[i8::MIN, i8::MAX, 0, -1]),
        ))),
        DataType::Int16 => Arc::new(Int16Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[i16::MIN, i16::MAX, 0, -1]),
        ))),
        DataType::Int32 => Arc::new(Int32Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[i32::MIN, i32::MAX, 0, -1]),
        ))),
        DataType::Int64 => Arc::new(Int64Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[i64::MIN, i64::MAX, 0, -1]),
        ))),
        DataType::UInt8 => Arc::new(UInt8Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[u8::MAX, 0, 1]),
        ))),
        DataType::UInt16 => Arc::new(UInt16Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[u16::MAX, 0, 1]),
        ))),
        DataType::UInt32 => Arc::new(UInt32Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[u32::MAX, 0, 1]),
        ))),
        DataType::UInt64 => Arc::new(UInt64Array::from(with_nulls(
            &valid,
            ints(&mut rng, total, &[u64::MAX, 0, 1]),
        ))),
        DataType::Float32 => Arc::new(Float32Array::from(with_nulls(
            &valid,
            floats(
                &mut rng,
                total,
                &[
                    f32::NAN,
                    -0.0,
                    0.0,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::MIN,
                    f32::MAX,
                ],
            ),
        ))),
        DataType::Float64 => Arc::new(Float64Array::from(with_nulls(
            &valid,
            floats(
                &mut rng,
                total,
                &[
                    f64::NAN,
                    -0.0,
                    0.0,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::MIN,
                    f64::MAX,
                ],
            ),
        ))),
        DataType::Date32 => Arc::new(Date32Array::from(with_nulls(
            &valid,
            (0..total)
                .map(|_| rng.random_range(-100_000..100_000))
                .collect(),
        ))),
        DataType::Timestamp(unit, tz) => {
            let v = with_nulls(&valid, ints(&mut rng, total, &[i64::MIN, i64::MAX, 0]));
            match unit {
                TimeUnit::Second => {
                    Arc::new(TimestampSecondArray::from(v).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from(v).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from(v).with_timezone_opt(tz.clone()))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(v).with_timezone_opt(tz.clone()))
                }
            }
        }
        DataType::Decimal128(precision, scale) => {
            let max = 10i128.pow(u32::from(*precision)) - 1;
            let v = (0..total)
                .map(|i| match i % 17 {
                    0 => max,
                    1 => -max,
                    2 => 0,
                    _ => rng.random_range(-max..=max),
                })
                .collect();
            Arc::new(
                Decimal128Array::from(with_nulls(&valid, v))
                    .with_precision_and_scale(*precision, *scale)
                    .expect("valid precision and scale"),
            )
        }
        DataType::Utf8 => Arc::new(StringArray::from(with_nulls(
            &valid,
            strings(&mut rng, total),
        ))),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(with_nulls(
            &valid,
            strings(&mut rng, total),
        ))),
        DataType::Utf8View => Arc::new(StringViewArray::from(with_nulls(
            &valid,
            strings(&mut rng, total),
        ))),
        DataType::Dictionary(_, _) => {
            let words = [
                "AIR", "MAIL", "RAIL", "SHIP", "TRUCK", "REG AIR", "FOB", "édition",
            ];
            let keys = Int32Array::from(with_nulls(
                &valid,
                (0..total)
                    .map(|_| rng.random_range(0..words.len() as i32))
                    .collect(),
            ));
            Arc::new(
                DictionaryArray::<Int32Type>::try_new(
                    keys,
                    Arc::new(StringArray::from(words.to_vec())),
                )
                .expect("keys in range"),
            )
        }
        other => panic!("testdata has no generator for {other}"),
    };
    array.slice(offset, rows)
}

/// A batch with one column of every supported type, `rows` rows at offset `offset`.
pub fn random_batch(rows: usize, offset: usize, null_fraction: f64, seed: u64) -> RecordBatch {
    let types = supported_types();
    let columns: Vec<ArrayRef> = types
        .iter()
        .enumerate()
        .map(|(i, t)| random_array(t, rows, offset, null_fraction, seed.wrapping_add(i as u64)))
        .collect();
    let fields: Vec<Field> = types
        .iter()
        .enumerate()
        .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("columns match the schema")
}

fn with_nulls<T>(valid: &[bool], values: Vec<T>) -> Vec<Option<T>> {
    values
        .into_iter()
        .zip(valid)
        .map(|(v, ok)| ok.then_some(v))
        .collect()
}

fn opt_bool(rng: &mut StdRng, valid: &[bool]) -> Vec<Option<bool>> {
    valid.iter().map(|ok| ok.then(|| rng.random())).collect()
}

/// Random values: 5% edge values, 30% from a tiny set (duplicates), the rest uniform.
fn ints<T: Copy>(rng: &mut StdRng, n: usize, edges: &[T]) -> Vec<T>
where
    StandardUniform: Distribution<T>,
{
    let small: Vec<T> = (0..4).map(|_| rng.random()).collect();
    (0..n)
        .map(|_| {
            let pick = rng.random::<f64>();
            if pick < 0.05 {
                edges[rng.random_range(0..edges.len())]
            } else if pick < 0.35 {
                small[rng.random_range(0..small.len())]
            } else {
                rng.random()
            }
        })
        .collect()
}

fn floats<T: Copy + From<f32>>(rng: &mut StdRng, n: usize, edges: &[T]) -> Vec<T> {
    (0..n)
        .map(|_| {
            if rng.random::<f64>() < 0.1 {
                edges[rng.random_range(0..edges.len())]
            } else {
                T::from(rng.random_range(-1e6f32..1e6))
            }
        })
        .collect()
}

/// Strings: empty, short ASCII (duplicates), multi-byte UTF-8, and now and then long ones
/// (longer than a 12-byte view's inline part, and than a block of several KiB).
fn strings(rng: &mut StdRng, n: usize) -> Vec<String> {
    const POOL: [&str; 6] = [
        "",
        "a",
        "PROMO BRUSHED",
        "naïve café",
        "日本語のテキスト",
        "12345678901234567890",
    ];
    (0..n)
        .map(|_| {
            let pick = rng.random::<f64>();
            if pick < 0.6 {
                POOL[rng.random_range(0..POOL.len())].to_string()
            } else if pick < 0.99 {
                let len = rng.random_range(0..40);
                (0..len).map(|_| rng.random_range(' '..='~')).collect()
            } else {
                let len = rng.random_range(1000..5000);
                (0..len).map(|_| rng.random_range('a'..='ÿ')).collect()
            }
        })
        .collect()
}
