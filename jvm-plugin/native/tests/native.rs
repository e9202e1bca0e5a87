//! The native side without a JVM: plan messages, Spark semantics, file splits and the
//! zero-copy batch description.

use std::sync::Arc;

use cinder_jni::native_plan::{live_buffers, release_buffer};
use cinder_jni::{NativeError, NativePlan, describe_batch};
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

/// A Parquet file of `rows` rows in row groups of `group_rows`, in a fresh temp dir.
fn write_parquet(name: &str, rows: i64, group_rows: usize) -> (String, u64) {
    let dir = std::env::temp_dir().join(format!("cinder-jni-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("k", DataType::Int32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("price", DataType::Decimal128(15, 2), true),
        Field::new("d", DataType::Date32, true),
    ]));
    let id: Vec<i64> = (0..rows).collect();
    let x: Vec<Option<f64>> = id
        .iter()
        .map(|&i| match i % 7 {
            0 => None,
            1 => Some(-0.0),
            2 => Some(f64::NAN),
            _ => Some(i as f64 / 4.0),
        })
        .collect();
    let k: Vec<Option<i32>> = id
        .iter()
        .map(|&i| match i % 5 {
            0 => None,
            1 => Some(0),
            2 => Some(-1),
            3 => Some(i32::MIN),
            _ => Some(i as i32),
        })
        .collect();
    let s: Vec<Option<String>> = id
        .iter()
        .map(|&i| (i % 3 != 0).then(|| format!("s{}", i % 11)))
        .collect();
    let price: Vec<Option<i128>> = id
        .iter()
        .map(|&i| (i % 4 != 0).then_some(i128::from(i) * 101))
        .collect();
    let d: Vec<Option<i32>> = id
        .iter()
        .map(|&i| (i % 6 != 0).then_some(9000 + i as i32))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(Float64Array::from(x)),
            Arc::new(Int32Array::from(k)),
            Arc::new(StringArray::from(s)),
            Arc::new(
                Decimal128Array::from(price)
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(d)),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    (path.to_str().unwrap().to_owned(), size)
}

fn scan_schema() -> Value {
    json!([
        {"name": "id", "type": "bigint", "nullable": false},
        {"name": "x", "type": "double", "nullable": true},
        {"name": "k", "type": "int", "nullable": true},
        {"name": "s", "type": "string", "nullable": true},
        {"name": "price", "type": "decimal(15,2)", "nullable": true},
        {"name": "d", "type": "date", "nullable": true}
    ])
}

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

fn lit(ty: &str, value: Value) -> Value {
    json!({"kind": "literal", "type": ty, "value": value})
}

fn bin(op: &str, ty: &str, left: Value, right: Value) -> Value {
    json!({"kind": "binary", "op": op, "type": ty, "left": left, "right": right})
}

/// Runs `root` (over a scan of the file) and returns every batch.
fn run(
    file: &(String, u64),
    splits: &[(u64, u64)],
    root: impl FnOnce(Value) -> Value,
    output: Value,
) -> Vec<RecordBatch> {
    let files: Vec<Value> = splits
        .iter()
        .map(|&(start, length)| json!({"path": file.0, "start": start, "length": length, "file_size": file.1}))
        .collect();
    let scan = json!({"op": "parquet_scan", "schema": scan_schema()});
    let message = json!({"version": 1, "output": output, "files": files, "settings": {"device": "cpu", "batch_rows": 100}, "root": root(scan)});
    // Created on a thread with a large stack, run on this one, as the JNI bridge does.
    let mut plan = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || NativePlan::create(message.to_string().as_bytes()))
            .expect("planning thread")
            .join()
            .expect("planning")
    })
    .expect("plan");
    let mut batches = Vec::new();
    while let Some(batch) = plan.next_batch().expect("batch") {
        batches.push(batch);
    }
    batches
}

fn column<T: Array + Clone + 'static>(batches: &[RecordBatch], i: usize) -> Vec<T> {
    batches
        .iter()
        .map(|b| b.column(i).as_any().downcast_ref::<T>().unwrap().clone())
        .collect()
}

fn plan_error(message: &[u8]) -> String {
    match NativePlan::create(message) {
        Err(NativeError::Plan(m)) => m,
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!(
            "expected a plan error for {}",
            String::from_utf8_lossy(message)
        ),
    }
}

#[test]
fn bad_messages_are_plan_errors_that_say_why() {
    let file = write_parquet("bad", 10, 10);
    let good = json!({"version": 1, "output": [{"name": "id", "type": "bigint", "nullable": false}],
        "files": [{"path": file.0, "start": 0, "length": file.1, "file_size": file.1}],
        "root": {"op": "project", "exprs": [col(0)], "input": {"op": "parquet_scan", "schema": scan_schema()}}});
    let text = good.to_string();
    assert!(NativePlan::create(text.as_bytes()).is_ok());

    assert!(plan_error(b"").contains("empty"));
    assert!(plan_error(b"\xff\x00garbage").contains("malformed"));
    assert!(plan_error(&text.as_bytes()[..text.len() / 2]).contains("malformed"));
    assert!(plan_error(format!("{text} trailing").as_bytes()).contains("malformed"));
    let mut v = good.clone();
    v["version"] = json!(2);
    assert!(plan_error(v.to_string().as_bytes()).contains("version 2 is not supported"));
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("version");
    assert!(plan_error(v.to_string().as_bytes()).contains("no version"));
    let mut v = good.clone();
    v["surprise"] = json!(1);
    assert!(plan_error(v.to_string().as_bytes()).contains("unknown field"));
    let mut v = good.clone();
    v["root"]["op"] = json!("pivot");
    assert!(plan_error(v.to_string().as_bytes()).contains("unknown variant"));
    let mut v = good.clone();
    v["root"]["exprs"] = json!([col(9)]);
    assert!(plan_error(v.to_string().as_bytes()).contains("column 9 does not exist"));
    let mut v = good.clone();
    v["root"]["exprs"] = json!([lit("decimal(40,2)", json!("1.00"))]);
    assert!(plan_error(v.to_string().as_bytes()).contains("invalid decimal type"));
    let mut v = good.clone();
    v["root"]["exprs"] = json!([bin("add", "bigint", col(0), col(3))]);
    assert!(plan_error(v.to_string().as_bytes()).contains("same type"));
    let mut v = good.clone();
    v["files"][0]["length"] = json!(file.1 + 1);
    assert!(plan_error(v.to_string().as_bytes()).contains("outside"));
    let mut v = good.clone();
    v["files"][0]["path"] = json!("relative/data.parquet");
    assert!(plan_error(v.to_string().as_bytes()).contains("absolute"));
    let mut v = good;
    v["output"] = json!([{"name": "id", "type": "string", "nullable": false}, {"name": "y", "type": "int", "nullable": true}]);
    assert!(plan_error(v.to_string().as_bytes()).contains("declares 2"));
    // A deeply nested message is refused before it is parsed, not by a stack overflow.
    let deep = format!(
        "{}{}{}",
        r#"{"kind": "not", "child": "#.repeat(10_000),
        col(0),
        "}".repeat(10_000)
    );
    let deep = format!(
        r#"{{"version": 1, "output": [], "root": {{"op": "filter", "condition": {deep}, "input": {{"op": "parquet_scan", "schema": []}}}}}}"#
    );
    assert!(plan_error(deep.as_bytes()).contains("more than 600 levels deep"));
    // Deeper than serde_json's own limit (128), within ours: parsed and run (on this test
    // thread's stack, as Spark's task thread runs it).
    let mut condition = bin("gt", "boolean", col(0), lit("bigint", json!(4)));
    for _ in 0..100 {
        condition = json!({"kind": "not", "child": {"kind": "not", "child": condition}});
    }
    let batches = run(
        &file,
        &[(0, file.1)],
        |scan| {
            let filter = json!({"op": "filter", "condition": condition, "input": scan});
            json!({"op": "project", "input": filter, "exprs": [col(0)]})
        },
        json!([{"name": "id", "type": "bigint", "nullable": false}]),
    );
    let ids: Vec<i64> = column::<Int64Array>(&batches, 0)
        .iter()
        .flat_map(|a| a.values().to_vec())
        .collect();
    assert_eq!(ids, vec![5, 6, 7, 8, 9]);
}

#[test]
fn splits_read_every_row_group_once() {
    let file = write_parquet("splits", 10_000, 1_000);
    let all = run(
        &file,
        &[(0, file.1)],
        |scan| json!({"op": "project", "exprs": [col(0)], "input": scan}),
        json!([{"name": "id", "type": "bigint", "nullable": false}]),
    );
    let third = file.1 / 3;
    let split = run(
        &file,
        &[(0, third), (third, third), (2 * third, file.1 - 2 * third)],
        |scan| json!({"op": "project", "exprs": [col(0)], "input": scan}),
        json!([{"name": "id", "type": "bigint", "nullable": false}]),
    );
    let ids = |b: &[RecordBatch]| {
        let mut v: Vec<i64> = column::<Int64Array>(b, 0)
            .iter()
            .flat_map(|a| a.values().to_vec())
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(ids(&all), (0..10_000).collect::<Vec<_>>());
    assert_eq!(ids(&split), ids(&all));
    // Each split alone reads a strict subset.
    let first = run(
        &file,
        &[(0, third)],
        |scan| json!({"op": "project", "exprs": [col(0)], "input": scan}),
        json!([{"name": "id", "type": "bigint", "nullable": false}]),
    );
    assert!(ids(&first).len() < 10_000);
}

#[test]
fn spark_semantics_for_division_remainder_and_float_equality() {
    let file = write_parquet("semantics", 700, 700);
    let output = json!([
        {"name": "id", "type": "bigint", "nullable": false},
        {"name": "q", "type": "double", "nullable": true},
        {"name": "r", "type": "int", "nullable": true},
        {"name": "z", "type": "boolean", "nullable": true},
        {"name": "n", "type": "boolean", "nullable": true},
        {"name": "p", "type": "decimal(16,2)", "nullable": true},
        {"name": "c", "type": "decimal(7,1)", "nullable": true}
    ]);
    let batches = run(
        &file,
        &[(0, file.1)],
        |scan| {
            json!({"op": "project", "input": scan, "exprs": [
                col(0),
                // 1.0 / x: x = -0.0 gives null in Spark (DataFusion: -inf).
                bin("divide", "double", lit("double", json!(1.0)), col(1)),
                // 7 % k: k = 0 gives null, k = -1 gives 0 (also for MIN).
                bin("remainder", "int", lit("int", json!(7)), col(2)),
                // x = 0.0 is true for -0.0.
                bin("eq", "boolean", col(1), lit("double", json!(0.0))),
                // x = NaN is true for NaN.
                bin("eq", "boolean", col(1), lit("double", json!("NaN"))),
                // price + 1.05 with Spark's result type.
                bin("add", "decimal(16,2)", col(4), lit("decimal(3,2)", json!("1.05"))),
                // price cast to decimal(7,1): rounds half up, null when it does not fit.
                {"kind": "cast", "type": "decimal(7,1)", "child": col(4)}
            ]})
        },
        output,
    );
    let ids: Vec<i64> = column::<Int64Array>(&batches, 0)
        .iter()
        .flat_map(|a| a.values().to_vec())
        .collect();
    let q: Vec<Option<f64>> = column::<Float64Array>(&batches, 1)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    let r: Vec<Option<i32>> = column::<Int32Array>(&batches, 2)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    let z: Vec<Option<bool>> = column::<BooleanArray>(&batches, 3)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    let n: Vec<Option<bool>> = column::<BooleanArray>(&batches, 4)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    let p: Vec<Option<i128>> = column::<Decimal128Array>(&batches, 5)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    let c: Vec<Option<i128>> = column::<Decimal128Array>(&batches, 6)
        .iter()
        .flat_map(|a| a.iter().collect::<Vec<_>>())
        .collect();
    assert_eq!(ids.len(), 700);
    for (row, &i) in ids.iter().enumerate() {
        let x = match i % 7 {
            0 => None,
            1 => Some(-0.0f64),
            2 => Some(f64::NAN),
            _ => Some(i as f64 / 4.0),
        };
        match x {
            None => assert_eq!(q[row], None),
            Some(0.0) => assert_eq!(q[row], None, "1 / -0.0 is null"),
            Some(v) if v.is_nan() => assert!(q[row].unwrap().is_nan()),
            Some(v) => assert_eq!(q[row], Some(1.0 / v)),
        }
        let expected_r = match i % 5 {
            0 | 1 => None,
            2 => Some(0),
            // 7 % i32::MIN is 7.
            3 => Some(7),
            _ => Some(7 % (i as i32)),
        };
        assert_eq!(r[row], expected_r, "7 % k at id {i}");
        assert_eq!(z[row], x.map(|v| v == 0.0), "x = 0.0 at id {i}");
        assert_eq!(n[row], x.map(|v| v.is_nan()), "x = NaN at id {i}");
        let price = (i % 4 != 0).then_some(i128::from(i) * 101);
        assert_eq!(p[row], price.map(|v| v + 105));
        // decimal(15,2) -> decimal(7,1): divide by 10 rounding half up (away from zero);
        // values of 6+ integer digits do not fit and become null.
        let rounded = price
            .map(|v| (v + 5) / 10)
            .filter(|&v| v.abs() < 10_i128.pow(7));
        assert_eq!(c[row], rounded, "cast at id {i}");
    }
}

#[test]
fn filters_case_and_in() {
    let file = write_parquet("filter", 1000, 256);
    let batches = run(
        &file,
        &[(0, file.1)],
        |scan| {
            let filter = json!({"op": "filter", "input": scan, "condition": bin("and", "boolean",
                json!({"kind": "is_not_null", "child": col(3)}),
                json!({"kind": "in", "child": col(3), "list": [lit("string", json!("s1")), lit("string", json!("s4"))]}))});
            json!({"op": "project", "input": filter, "exprs": [
                col(0),
                {"kind": "case", "type": "string", "branches": [[bin("gt", "boolean", col(5), lit("date", json!(9500))), lit("string", json!("late"))]],
                 "otherwise": lit("string", json!("early"))},
                col(3)
            ]})
        },
        json!([{"name": "id", "type": "bigint", "nullable": false}, {"name": "w", "type": "string", "nullable": true}, {"name": "s", "type": "string", "nullable": true}]),
    );
    let mut got: Vec<(i64, String)> = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let w = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for r in 0..b.num_rows() {
            got.push((ids.value(r), w.value(r).to_owned()));
        }
    }
    let expected: Vec<(i64, String)> = (0..1000_i64)
        .filter(|i| i % 3 != 0 && matches!(i % 11, 1 | 4))
        .map(|i| {
            let late = i % 6 != 0 && 9000 + i > 9500;
            (i, if late { "late" } else { "early" }.to_owned())
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn batch_descriptions_are_zero_copy_compact_and_released_once() {
    let ints: ArrayRef = Arc::new(Int32Array::from(vec![
        Some(1),
        None,
        Some(3),
        Some(4),
        None,
        Some(6),
    ]));
    let strings: ArrayRef = Arc::new(StringArray::from(vec![
        Some("a"),
        Some("bb"),
        None,
        Some("dddd"),
        Some("e"),
        Some("f"),
    ]));
    let bools: ArrayRef = Arc::new(BooleanArray::from(vec![
        true, false, true, true, false, true,
    ]));
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![ints, strings, bools]).unwrap();
    let before = live_buffers();

    // Unsliced: the values buffer is the array's own memory.
    let d = describe_batch(&batch).unwrap();
    assert_eq!(&d[..2], &[6, 3]);
    // Column 0: 2 nulls, 2 buffers (validity, values).
    assert_eq!(&d[2..4], &[2, 2]);
    let values_addr = d[4 + 3];
    let i32s = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    assert_eq!(values_addr, i32s.values().as_ptr() as i64, "zero copy");
    assert_eq!(d[4 + 4], 24, "six int32 values");
    let handles: Vec<i64> = handles_of(&d);
    assert_eq!(live_buffers(), before + handles.len());

    // Sliced by one row: validity bits and booleans would start mid-byte, so the column is
    // compacted; nothing is described from the slice's offset.
    let sliced = batch.slice(1, 4);
    let d2 = describe_batch(&sliced).unwrap();
    assert_eq!(&d2[..2], &[4, 3]);
    assert_eq!(&d2[2..4], &[2, 2]);
    // Booleans, no nulls: validity absent (0, 0, 0), then packed bits of [false, true, true, false].
    let bool_col = 2 + 2 + 6 + 1 + 2 + 9 + 1;
    assert_eq!(&d2[bool_col..bool_col + 2], &[0, 2]);
    assert_eq!(&d2[bool_col + 2..bool_col + 5], &[0, 0, 0]);
    // SAFETY: the buffer is live (not yet released) and at least one byte long.
    let bits = unsafe { *(d2[bool_col + 5] as *const u8) };
    assert_eq!(bits & 0x0f, 0b0110);
    let handles2 = handles_of(&d2);

    for h in handles.iter().chain(&handles2) {
        release_buffer(*h).unwrap();
    }
    assert_eq!(live_buffers(), before);
    let again = release_buffer(handles[0]).unwrap_err();
    assert!(again.to_string().contains("not live"), "{again}");
}

fn handles_of(d: &[i64]) -> Vec<i64> {
    // One node: null count, buffers (address, length, handle), children (length, node).
    fn node(d: &[i64], i: &mut usize, out: &mut Vec<i64>) {
        let buffers = d[*i + 1];
        *i += 2;
        for _ in 0..buffers {
            if d[*i + 2] != 0 {
                out.push(d[*i + 2]);
            }
            *i += 3;
        }
        let children = d[*i];
        *i += 1;
        for _ in 0..children {
            *i += 1;
            node(d, i, out);
        }
    }
    let mut out = Vec::new();
    let mut i = 2;
    for _ in 0..d[1] {
        node(d, &mut i, &mut out);
    }
    assert_eq!(i, d.len());
    out
}

mod decimal_avg {
    use cinder_jni::planner::spark_decimal_avg;

    /// The reference: the exact quotient rounded half up once to `scale` (what Spark 4.0's
    /// divide-to-39-digits-truncating then round-half-up amounts to), in i128 for small cases.
    fn once(sum: i128, sum_scale: u32, count: i64, scale: u32) -> i128 {
        let n = sum.abs() * 10_i128.pow(scale);
        let d = i128::from(count.abs()) * 10_i128.pow(sum_scale);
        let r = (2 * n + d) / (2 * d);
        if (sum < 0) != (count < 0) { -r } else { r }
    }

    #[test]
    fn matches_exact_rounding() {
        // avg(1.00, 2.00, 2.00) = 1.6666... -> decimal(19, 6) 1.666667.
        assert_eq!(spark_decimal_avg(500, 2, 3, 19, 6), Some(Some(1_666_667)));
        assert_eq!(spark_decimal_avg(-500, 2, 3, 19, 6), Some(Some(-1_666_667)));
        // Exact quotients and halves: 0.125 -> scale 2 rounds half up to 0.13, -0.125 to -0.13.
        assert_eq!(spark_decimal_avg(125, 3, 1, 10, 2), Some(Some(13)));
        assert_eq!(spark_decimal_avg(-125, 3, 1, 10, 2), Some(Some(-13)));
        assert_eq!(spark_decimal_avg(0, 2, 7, 19, 6), Some(Some(0)));
        for sum in [1_i128, 7, 99, 12_345, -98_765_432_123, 10_i128.pow(20) + 3] {
            for count in [1_i64, 2, 3, 7, 9, 1000, 999_999_937] {
                for (sum_scale, scale) in [(0, 4), (2, 6), (10, 14), (18, 22)] {
                    if sum
                        .unsigned_abs()
                        .checked_mul(2 * 10_u128.pow(scale))
                        .is_none_or(|v| v > i128::MAX as u128)
                    {
                        continue; // beyond the i128 reference
                    }
                    let got = spark_decimal_avg(sum, sum_scale, count, 38, scale);
                    assert_eq!(
                        got,
                        Some(Some(once(sum, sum_scale, count, scale))),
                        "{sum} / {count} at {sum_scale}->{scale}"
                    );
                }
            }
        }
    }

    #[test]
    fn rounds_once_not_twice() {
        // Ten rows of 123456789012345 and one of 123456789012350 as decimal(38, 18): the
        // average 123456789012345.4545... rounds down at scale 22. Rounding to 38 significant
        // digits first (then to the scale) would end in ...4546.
        let sum = (10 * 123_456_789_012_345_i128 + 123_456_789_012_350) * 10_i128.pow(18);
        assert_eq!(
            spark_decimal_avg(sum, 18, 11, 38, 22),
            Some(Some(1_234_567_890_123_454_545_454_545_454_545_454_545))
        );
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        // 10^6 / 1 at scale 4 needs 11 digits: does not fit decimal(10, 4).
        assert_eq!(spark_decimal_avg(1_000_000, 0, 1, 10, 4), Some(None));
        assert_eq!(
            spark_decimal_avg(999_999, 0, 1, 10, 4),
            Some(Some(9_999_990_000))
        );
        // The largest sums at scale 18 still compute.
        let max = 10_i128.pow(38) - 1;
        assert!(spark_decimal_avg(max, 18, i64::MAX, 38, 22).is_some());
    }
}

mod input_batches {
    use std::sync::Arc;

    use cinder_jni::input::import_batch;
    use datafusion::arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn triple(bytes: &[u8]) -> [i64; 3] {
        [bytes.as_ptr() as i64, bytes.len() as i64, 0]
    }

    #[test]
    fn imports_a_copy_of_arrow_java_buffers() {
        let ints = Int64Array::from(vec![Some(5), None, Some(-7)]);
        let strings = StringArray::from(vec![Some("a"), Some("héllo"), None]);
        let bools = BooleanArray::from(vec![true, false, true]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
        ]));
        let validity = |a: &dyn Array| {
            a.nulls()
                .map(|n| n.buffer().as_slice().to_vec())
                .unwrap_or_default()
        };
        let (iv, sv) = (validity(&ints), validity(&strings));
        let int_values = ints.values().inner().as_slice().to_vec();
        let offsets = strings.offsets().inner().inner().as_slice().to_vec();
        let data = strings.values().as_slice().to_vec();
        let bits = bools.values().inner().as_slice().to_vec();
        let mut d = vec![3, 3, 1, 2];
        d.extend(triple(&iv));
        d.extend(triple(&int_values));
        d.extend([0, 1, 3]);
        d.extend(triple(&sv));
        d.extend(triple(&offsets));
        d.extend(triple(&data));
        d.extend([0, 0, 2, 0, 0, 0]);
        d.extend(triple(&bits));
        d.push(0);
        // SAFETY: every address points into a live Vec of the given length.
        let batch = unsafe { import_batch(&schema, &d) }.unwrap();
        let expected = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(ints), Arc::new(strings), Arc::new(bools)],
        )
        .unwrap();
        assert_eq!(batch, expected);

        // Wrong buffer counts and offsets past the data are errors, not reads out of bounds.
        let mut short = d.clone();
        short[1] = 2;
        // SAFETY: as above.
        assert!(unsafe { import_batch(&schema, &short) }.is_err());
        let bad_offsets: Vec<u8> = [0_i32, 1, 400, 401]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut bad = d.clone();
        let at = 4 + 6 + 1 + 2 + 3;
        bad[at..at + 3].copy_from_slice(&triple(&bad_offsets));
        // SAFETY: as above.
        let err = unsafe { import_batch(&schema, &bad) }.unwrap_err();
        assert!(err.to_string().contains("malformed input batch"), "{err}");
    }
}

/// Arrays (Spark's ArrayType as Arrow lists) go both ways in the same layout: what
/// `describe_batch` hands to Spark, `import_batch` reads back, sliced and nested too.
mod list_batches {
    use std::sync::Arc;

    use cinder_jni::input::import_batch;
    use cinder_jni::native_plan::release_buffer;
    use cinder_jni::{describe_batch, planner::arrow_type};
    use datafusion::arrow::array::{
        ArrayRef, Int32Builder, ListBuilder, RecordBatch, StringBuilder, new_null_array,
    };
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn round_trip_through_the_layout() {
        let mut ints = ListBuilder::new(Int32Builder::new()).with_field(Arc::new(Field::new(
            "element",
            arrow_type("int").unwrap(),
            true,
        )));
        for row in [
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(-4)]),
            Some(vec![None, None]),
        ] {
            match row {
                Some(values) => {
                    for v in values {
                        ints.values().append_option(v);
                    }
                    ints.append(true);
                }
                None => ints.append(false),
            }
        }
        let inner = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
            "element",
            arrow_type("string").unwrap(),
            false,
        )));
        let mut nested = ListBuilder::new(inner).with_field(Arc::new(Field::new(
            "element",
            arrow_type("array<string not null>").unwrap(),
            true,
        )));
        for row in 0..5 {
            if row == 2 {
                nested.append(false);
                continue;
            }
            for i in 0..row {
                if i == 1 {
                    nested.values().append(false);
                } else {
                    for j in 0..i {
                        nested
                            .values()
                            .values()
                            .append_value(format!("r{row}i{i}j{j}"));
                    }
                    nested.values().append(true);
                }
            }
            nested.append(true);
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", arrow_type("array<int>").unwrap(), true),
            Field::new(
                "n",
                arrow_type("array<array<string not null>>").unwrap(),
                true,
            ),
        ]));
        let columns: Vec<ArrayRef> = vec![Arc::new(ints.finish()), Arc::new(nested.finish())];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        for (offset, len) in [(0, 5), (1, 3), (2, 3), (4, 1), (5, 0)] {
            let slice = batch.slice(offset, len);
            let d = describe_batch(&slice).unwrap();
            // SAFETY: the described buffers stay registered (alive) until released below.
            let back = unsafe { import_batch(&schema, &d) }.unwrap();
            assert_eq!(back, slice, "rows {offset}..{}", offset + len);
            for h in super::handles_of(&d) {
                release_buffer(h).unwrap();
            }
        }
        // Arrays that are all null or empty: the elements' buffers are empty (Arrow Java
        // describes them with length 0), and still import.
        let nulls = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 3))
            .collect();
        let empty = RecordBatch::try_new(Arc::clone(&schema), nulls).unwrap();
        let mut d = describe_batch(&empty).unwrap();
        let handles = super::handles_of(&d);
        let mut at = 2;
        fn zero_empty(d: &mut [i64], at: &mut usize) {
            let buffers = d[*at + 1] as usize;
            *at += 2;
            for _ in 0..buffers {
                if d[*at + 1] == 0 {
                    d[*at] = 0;
                }
                *at += 3;
            }
            let children = d[*at] as usize;
            *at += 1;
            for _ in 0..children {
                *at += 1;
                zero_empty(d, at);
            }
        }
        for _ in 0..2 {
            zero_empty(&mut d, &mut at);
        }
        // SAFETY: as above (empty buffers are not read).
        let back = unsafe { import_batch(&schema, &d) }.unwrap();
        assert_eq!(back, empty);
        for h in handles {
            release_buffer(h).unwrap();
        }
        // A list column without its child node is malformed, not read out of bounds.
        let d = describe_batch(&batch.slice(0, 2)).unwrap();
        let truncated = &d[..d.len() - 3];
        // SAFETY: as above.
        assert!(unsafe { import_batch(&schema, truncated) }.is_err());
        for h in super::handles_of(&d) {
            release_buffer(h).unwrap();
        }
    }
}

mod decimal_divide {
    use cinder_jni::planner::spark_decimal_divide;

    #[test]
    fn rounds_half_up_and_reports_zero_and_overflow() {
        // 1.00 / 3.00 into decimal(10, 6): 0.333333.
        assert_eq!(
            spark_decimal_divide(100, 2, 300, 2, 10, 6),
            Some(Some(333_333))
        );
        // 2.00 / 3 into decimal(10, 6): 0.666667 (half up), and negative.
        assert_eq!(
            spark_decimal_divide(200, 2, 3, 0, 10, 6),
            Some(Some(666_667))
        );
        assert_eq!(
            spark_decimal_divide(-200, 2, 3, 0, 10, 6),
            Some(Some(-666_667))
        );
        assert_eq!(
            spark_decimal_divide(200, 2, -3, 0, 10, 6),
            Some(Some(-666_667))
        );
        // An exact half: 0.0125 into scale 3 is 0.013.
        assert_eq!(spark_decimal_divide(125, 2, 100, 0, 10, 3), Some(Some(13)));
        assert_eq!(spark_decimal_divide(1, 0, 0, 0, 10, 3), None);
        // 10^8 / 1 into decimal(10, 3) needs 12 digits.
        assert_eq!(
            spark_decimal_divide(100_000_000, 0, 1, 0, 10, 3),
            Some(None)
        );
        // Wide scales still fit 256 bits: (10^38 - 1) at scale 0 / 1 at scale 38, into scale 0.
        assert!(spark_decimal_divide(10_i128.pow(38) - 1, 0, 1, 38, 38, 0).is_some());
    }
}

mod decimal_arithmetic {
    use cinder_jni::message::BinaryOp;
    use cinder_jni::planner::spark_decimal_arithmetic;

    #[test]
    fn exact_then_rounded_half_up() {
        // 1.25 * 1.25 = 1.5625 into scale 3: 1.563 (half up), and -1.563.
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Multiply, 125, 2, 125, 2, 38, 3),
            Some(Some(1563))
        );
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Multiply, -125, 2, 125, 2, 38, 3),
            Some(Some(-1563))
        );
        // 0.5 + 0.05 into scale 1: 0.55 -> 0.6; 0.5 - 0.05 = 0.45 -> 0.5.
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Add, 5, 1, 5, 2, 38, 1),
            Some(Some(6))
        );
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Subtract, 5, 1, 5, 2, 38, 1),
            Some(Some(5))
        );
        // Products of 38-digit values are exact in 256 bits before rounding.
        let big = 10_i128.pow(37) + 7;
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Multiply, big, 30, big, 30, 38, 6),
            Some(Some(10_i128.pow(20)))
        );
        // A result beyond the precision does not fit.
        assert_eq!(
            spark_decimal_arithmetic(BinaryOp::Multiply, big, 0, big, 0, 38, 6),
            Some(None)
        );
    }
}

mod decimal_overflow_text {
    use cinder_jni::message::BinaryOp;
    use cinder_jni::planner::spark_decimal_unrounded_text;

    /// The value Spark's ANSI overflow error names, checked against Python's `decimal` (exact,
    /// or with `Context(prec=39, rounding=ROUND_DOWN)` for products and quotients at scale 39).
    #[test]
    fn names_the_value_before_rounding_as_spark_does() {
        let max = 10_i128.pow(38) - 1;
        // Sums and differences are exact, at the larger scale.
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Add, max, 2, 5, 3),
            "999999999999999999999999999999999999.995"
        );
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Subtract, -max, 2, 5, 3),
            "-999999999999999999999999999999999999.995"
        );
        // Products keep 39 significant digits, truncated, and print no exponent.
        let big = 10_i128.pow(37) + 7;
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Multiply, big, 0, big, 0),
            format!("100000000000000000000000000000000000140{}", "0".repeat(36))
        );
        assert_eq!(
            spark_decimal_unrounded_text(
                BinaryOp::Multiply,
                -12345678901234567890123456789012345678,
                10,
                98765432109876543210987654321098765432,
                5
            ),
            format!("-121932631137021795226185032733866788585{}", "0".repeat(22))
        );
        // A product within 39 digits is exact.
        assert_eq!(
            spark_decimal_unrounded_text(
                BinaryOp::Multiply,
                -123456789123456789,
                9,
                987654321987654321,
                9
            ),
            "-121932631356500531.347203169112635269"
        );
        // Quotients are truncated at scale 39.
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Divide, -2, 0, 3, 0),
            format!("-0.{}", "6".repeat(39))
        );
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Divide, 12345, 2, -7, 1),
            "-176.357142857142857142857142857142857142857"
        );
        assert_eq!(
            spark_decimal_unrounded_text(BinaryOp::Divide, 10_i128.pow(37), 0, 1, 38),
            format!("1{}.{}", "0".repeat(75), "0".repeat(39))
        );
    }
}
