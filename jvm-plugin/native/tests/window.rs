//! The native `window`: ranking functions, lag/lead, nth_value and aggregates over ROWS and
//! RANGE frames on an unsorted input (the node sorts it by the partition keys and the order),
//! floats grouped and ordered as Spark does, against results worked out by hand; bad calls as
//! plan errors.

use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

mod common;
use common::Batches;

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

/// (id int, g double, k int): id is unique; g has -0.0 and 0.0 (one group), two NaNs (one
/// group) and a null; k has ties and a null.
fn input() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("g", DataType::Float64, true),
        Field::new("k", DataType::Int32, true),
    ]));
    let id = Int32Array::from(vec![5, 1, 4, 2, 7, 3, 6, 8]);
    let g = Float64Array::from(vec![
        Some(0.0),
        Some(-0.0),
        Some(f64::NAN),
        Some(0.0),
        None,
        Some(-0.0),
        Some(-f64::NAN),
        Some(0.0),
    ]);
    let k = Int32Array::from(vec![
        Some(2),
        Some(1),
        Some(9),
        Some(1),
        Some(4),
        None,
        Some(8),
        Some(2),
    ]);
    RecordBatch::try_new(schema, vec![Arc::new(id), Arc::new(g), Arc::new(k)]).unwrap()
}

fn input_node() -> Value {
    json!({"op": "input", "slot": 0, "schema": [
        {"name": "id", "type": "int", "nullable": false},
        {"name": "g", "type": "double", "nullable": true},
        {"name": "k", "type": "int", "nullable": true},
    ]})
}

/// Runs a window of `functions` (each giving a column of `types`) partitioned by g, ordered
/// by k (nulls first), then by id where `by_id`: each row's id and the functions' values (as
/// i64; None for null), by id.
fn run(
    functions: Value,
    types: &[&str],
    by_id: bool,
) -> Result<Vec<Vec<Option<i64>>>, NativeError> {
    let mut output = vec![
        json!({"name": "id", "type": "int", "nullable": false}),
        json!({"name": "g", "type": "double", "nullable": true}),
        json!({"name": "k", "type": "int", "nullable": true}),
    ];
    for (i, t) in types.iter().enumerate() {
        output.push(json!({"name": format!("w{i}"), "type": t, "nullable": true}));
    }
    let mut order = vec![json!({"expr": col(2), "ascending": true, "nulls_first": true})];
    if by_id {
        order.push(json!({"expr": col(0), "ascending": true, "nulls_first": true}));
    }
    let root = json!({"op": "window", "partition_by": [col(1)], "order_by": order,
        "functions": functions, "input": input_node()});
    let message =
        json!({"version": 1, "output": output, "settings": {"device": "cpu"}, "root": root});
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(vec![input()]))];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)?;
    let mut rows = Vec::new();
    while let Some(batch) = plan.next_batch()? {
        for r in 0..batch.num_rows() {
            let mut row = Vec::new();
            for c in (0..1).chain(3..batch.num_columns()) {
                let column = batch.column(c);
                row.push(if column.is_null(r) {
                    None
                } else {
                    Some(match column.data_type() {
                        DataType::Int32 => i64::from(
                            column
                                .as_any()
                                .downcast_ref::<Int32Array>()
                                .unwrap()
                                .value(r),
                        ),
                        DataType::Int64 => column
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .unwrap()
                            .value(r),
                        other => panic!("unexpected {other}"),
                    })
                });
            }
            rows.push(row);
        }
    }
    rows.sort();
    Ok(rows)
}

fn bigint(child: Value) -> Value {
    json!({"kind": "cast", "type": "bigint", "child": child})
}

fn frame(units: &str, start: Option<i64>, end: Option<i64>) -> Value {
    json!({"units": units, "start": start, "end": end})
}

fn aggregate(func: &str, arg: Value, frame: Value) -> Value {
    json!({"function": "aggregate", "call": {"func": func, "arg": arg}, "frame": frame})
}

#[test]
fn window_functions_over_spark_s_float_groups() -> Result<(), NativeError> {
    // Partitions, by k (nulls first) then id: {0.0, -0.0}: ids 3 (k null), 1 (k 1), 2 (k 1),
    // 5 (k 2), 8 (k 2); {NaN, -NaN}: 6 (k 8), 4 (k 9); {null}: 7 (k 4).
    let (n, s) = (None, Some);
    // Ordered by k alone: peers share a rank and a RANGE frame.
    let rows = run(
        json!([
            {"function": "rank"},
            {"function": "dense_rank"},
            aggregate("sum", bigint(col(2)), frame("range", None, Some(0))),
        ]),
        &["int", "int", "bigint"],
        false,
    )?;
    assert_eq!(
        rows,
        vec![
            // id, rank, dense_rank, sum(k) from the partition's start to the row's last peer
            vec![s(1), s(2), s(2), s(2)],
            vec![s(2), s(2), s(2), s(2)],
            vec![s(3), s(1), s(1), n],
            vec![s(4), s(2), s(2), s(17)],
            vec![s(5), s(4), s(3), s(6)],
            vec![s(6), s(1), s(1), s(8)],
            vec![s(7), s(1), s(1), s(4)],
            vec![s(8), s(4), s(3), s(6)],
        ]
    );
    // Ordered by k, then id.
    let rows = run(
        json!([
            {"function": "row_number"},
            {"function": "lag", "arg": col(2), "offset": 1,
             "default": {"kind": "literal", "type": "int", "value": -1}},
            {"function": "lead", "arg": col(0), "offset": 2},
            {"function": "nth_value", "arg": col(2), "n": 2, "ignore_nulls": true,
             "frame": frame("rows", None, None)},
            aggregate("count", col(2), frame("rows", Some(-1), Some(1))),
            aggregate("max", col(0), frame("rows", Some(1), Some(2))),
        ]),
        &["int", "int", "int", "int", "bigint", "int"],
        true,
    )?;
    assert_eq!(
        rows,
        vec![
            // id, row_number, lag(k, 1, -1), lead(id, 2), nth_value(k, 2) IGNORE NULLS of
            // the partition, count(k) of rows -1..1, max(id) of rows 1..2
            vec![s(1), s(2), n, s(5), s(1), s(2), s(5)],
            vec![s(2), s(3), s(1), s(8), s(1), s(3), s(8)],
            vec![s(3), s(1), s(-1), s(2), s(1), s(1), s(2)],
            vec![s(4), s(2), s(8), n, s(9), s(2), n],
            vec![s(5), s(4), s(1), n, s(1), s(3), s(8)],
            vec![s(6), s(1), s(-1), n, s(9), s(2), s(4)],
            vec![s(7), s(1), s(-1), n, n, s(1), n],
            vec![s(8), s(5), s(2), n, s(1), s(2), n],
        ]
    );
    Ok(())
}

#[test]
fn range_frames_with_value_offsets_over_an_integer_key() -> Result<(), NativeError> {
    // Ordered by k alone: {0.0, -0.0} has k 1 (ids 1, 2), 2 (ids 5, 8) and null (id 3); NaN has
    // 8 (id 6) and 9 (id 4); null has 4 (id 7). A null key's frame is the null rows.
    let rows = run(
        json!([
            aggregate("count", col(0), frame("range", Some(-1), Some(0))),
            aggregate("count", col(0), frame("range", Some(1), Some(7))),
            aggregate("max", col(0), frame("range", None, Some(-1))),
        ]),
        &["bigint", "bigint", "int"],
        false,
    )?;
    let (s, n) = (Some, None);
    assert_eq!(
        rows,
        vec![
            // id, count of keys k - 1..k, count of keys k + 1..k + 7, max(id) of keys up to k - 1
            // (nulls first: the null row is in every such frame of its partition)
            vec![s(1), s(2), s(2), s(3)],
            vec![s(2), s(2), s(2), s(3)],
            vec![s(3), s(1), s(1), s(3)],
            vec![s(4), s(2), s(0), s(6)],
            vec![s(5), s(4), s(0), s(3)],
            vec![s(6), s(1), s(1), n],
            vec![s(7), s(1), s(0), n],
            vec![s(8), s(4), s(0), s(3)],
        ]
    );
    Ok(())
}

fn plan_error(functions: Value) -> String {
    match run(functions, &["bigint"], true) {
        Err(NativeError::Plan(m)) => m,
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!("expected a plan error"),
    }
}

#[test]
fn bad_window_calls_are_plan_errors() {
    assert!(plan_error(json!([])).contains("at least one function"));
    // (Ordered by k and id: value offsets need one order key.)
    assert!(
        plan_error(json!([aggregate(
            "sum",
            bigint(col(2)),
            frame("range", Some(-1), Some(0))
        )]))
        .contains("needs one order key")
    );
    assert!(
        plan_error(json!([aggregate(
            "sum",
            bigint(col(2)),
            frame("rows", Some(2), Some(1))
        )]))
        .contains("starts after its end")
    );
    assert!(
        plan_error(json!([{"function": "lag", "arg": col(2), "offset": 1, "default": col(0)}]))
            .contains("not a literal")
    );
    assert!(
        plan_error(json!([{"function": "lead", "arg": col(2), "offset": 1, "surprise": 1}]))
            .contains("unknown field")
    );
    assert!(
        plan_error(json!([{"function": "nth_value", "arg": col(2), "n": 0,
                           "frame": frame("rows", None, None)}]))
        .contains("n must be positive")
    );
    let filtered = json!([{"function": "aggregate", "frame": frame("rows", None, Some(0)),
        "call": {"func": "sum", "arg": col(2), "filter": {"kind": "literal", "type": "boolean", "value": true}}}]);
    assert!(plan_error(filtered).contains("takes no filter"));
}
