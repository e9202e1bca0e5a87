//! The native `hash_aggregate`'s Spark functions through native plans: central moments
//! (`stddev`, `variance`: a partial stage of `moment_*` calls over values, whose buffers a final
//! stage merges with `merge_moment_*`, against Spark's formulas applied row by row here),
//! `first` and `last` with and without `ignore_nulls`, per-call filters; bad calls as plan
//! errors.

use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Array, Float64Array, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

mod common;
use common::Batches;

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

fn call(func: &str, arg: Value, args: &[Value]) -> Value {
    if args.is_empty() {
        json!({"func": func, "arg": arg})
    } else {
        json!({"func": func, "arg": arg, "args": args})
    }
}

fn double(name: &str) -> Value {
    json!({"name": name, "type": "double", "nullable": true})
}

/// Runs `root` over one input of `batches` with `output` columns; the rows' columns as f64
/// (the first, the group, as an integer value).
fn run(
    output: Value,
    root: Value,
    batches: Vec<RecordBatch>,
) -> Result<Vec<Vec<f64>>, NativeError> {
    let message =
        json!({"version": 1, "output": output, "settings": {"device": "cpu"}, "root": root});
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(batches))];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)?;
    let mut rows = Vec::new();
    while let Some(batch) = plan.next_batch()? {
        for r in 0..batch.num_rows() {
            let mut row = Vec::new();
            for c in 0..batch.num_columns() {
                let column = batch.column(c);
                row.push(match column.data_type() {
                    DataType::Int32 => f64::from(
                        column
                            .as_any()
                            .downcast_ref::<Int32Array>()
                            .unwrap()
                            .value(r),
                    ),
                    _ => column
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .unwrap()
                        .value(r),
                });
            }
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a[0].total_cmp(&b[0]));
    Ok(rows)
}

/// Spark's update of [n, avg, m2] (CentralMomentAgg), written out again.
fn spark_update(m: &mut [f64; 3], x: f64) {
    let new_n = m[0] + 1.0;
    let delta = x - m[1];
    let delta_n = delta / new_n;
    *m = [new_n, m[1] + delta_n, m[2] + delta * (delta - delta_n)];
}

/// Spark's merge of buffer `r` into `m`.
fn spark_merge(m: &mut [f64; 3], r: [f64; 3]) {
    let new_n = m[0] + r[0];
    let delta = r[1] - m[1];
    let delta_n = if new_n == 0.0 { 0.0 } else { delta / new_n };
    *m = [
        new_n,
        m[1] + delta_n * r[0],
        m[2] + r[2] + delta * delta_n * m[0] * r[0],
    ];
}

fn values(rows: &[(i32, Option<f64>)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int32, false),
        Field::new("x", DataType::Float64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

fn partial_root(aggregates: Vec<Value>, input: Value) -> Value {
    json!({"op": "hash_aggregate", "groups": [col(0)], "aggregates": aggregates, "input": input})
}

#[test]
fn partial_and_merged_buffers_are_sparks_bit_for_bit() -> Result<(), NativeError> {
    // Three groups of values around 1e8 (where the order of operations shows in the last
    // bits), nulls among them, in two batches.
    let mut state = 17u64;
    let rows: Vec<(i32, Option<f64>)> = (0..900)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = 1e8 + ((state >> 33) % 1000) as f64 / 7.0;
            (i % 3, (i % 11 != 0).then_some(x))
        })
        .collect();
    let input_fields = json!([{"name": "g", "type": "int", "nullable": false}, double("x")]);
    let input = json!({"op": "input", "schema": input_fields, "slot": 0});
    let aggregates = ["n", "avg", "m2"]
        .iter()
        .map(|p| call(&format!("moment_{p}"), col(1), &[]))
        .collect();
    let output = json!([{"name": "g", "type": "int", "nullable": false}, double("n"), double("avg"), double("m2")]);
    let partial = run(
        output.clone(),
        partial_root(aggregates, input),
        vec![values(&rows[..400]), values(&rows[400..])],
    )?;
    let mut expected = [[0.0; 3]; 3];
    for (g, x) in &rows {
        if let Some(x) = x {
            spark_update(&mut expected[*g as usize], *x);
        }
    }
    for (g, row) in partial.iter().enumerate() {
        assert_eq!(row[1..], expected[g], "group {g}");
    }

    // The final stage merges buffers (these, then a second copy of group 0's) in the order
    // they come, from the initial (zero) buffer.
    let buffers = |rows: &[Vec<f64>]| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int32, false),
            Field::new("n", DataType::Float64, false),
            Field::new("avg", DataType::Float64, false),
            Field::new("m2", DataType::Float64, false),
        ]));
        let column = |k: usize| {
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r[k]).collect::<Vec<_>>(),
            ))
        };
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(
                    rows.iter().map(|r| r[0] as i32).collect::<Vec<_>>(),
                )),
                column(1),
                column(2),
                column(3),
            ],
        )
        .unwrap()
    };
    let again = vec![vec![0.0, 3.0, 1e8 + 1.0, 2.5]];
    let buffer_fields = json!([{"name": "g", "type": "int", "nullable": false}, double("n"), double("avg"),
        double("m2")]);
    let aggregates = ["n", "avg", "m2"]
        .iter()
        .map(|p| call(&format!("merge_moment_{p}"), col(1), &[col(2), col(3)]))
        .collect();
    let merged = run(
        output,
        partial_root(
            aggregates,
            json!({"op": "input", "schema": buffer_fields, "slot": 0}),
        ),
        vec![buffers(&partial), buffers(&again)],
    )?;
    let mut expected_merged = [[0.0; 3]; 3];
    for (g, e) in expected.iter().enumerate() {
        spark_merge(&mut expected_merged[g], *e);
    }
    spark_merge(&mut expected_merged[0], [3.0, 1e8 + 1.0, 2.5]);
    for (g, row) in merged.iter().enumerate() {
        assert_eq!(row[1..], expected_merged[g], "group {g}");
    }
    Ok(())
}

#[test]
fn a_global_aggregate_of_no_rows_gives_sparks_initial_buffer() -> Result<(), NativeError> {
    let input_fields = json!([{"name": "g", "type": "int", "nullable": false}, double("x")]);
    let root = json!({"op": "hash_aggregate", "groups": [], "aggregates": [
        call("moment_n", col(1), &[]), call("moment_avg", col(1), &[]), call("moment_m2", col(1), &[])],
        "input": {"op": "input", "schema": input_fields, "slot": 0}});
    let output =
        json!([{"name": "n", "type": "double", "nullable": false}, double("avg"), double("m2")]);
    let rows = run(output, root, vec![])?;
    assert_eq!(rows, vec![vec![0.0, 0.0, 0.0]]);
    Ok(())
}

/// The plan error of a partial aggregate of `aggregate` over (g int, x double).
fn error(aggregate: Value) -> String {
    let input_fields = json!([{"name": "g", "type": "int", "nullable": false}, double("x")]);
    let input = json!({"op": "input", "schema": input_fields, "slot": 0});
    let output = json!([{"name": "g", "type": "int", "nullable": false}, double("a")]);
    match run(output, partial_root(vec![aggregate], input), vec![]) {
        Err(NativeError::Plan(m)) => m,
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!("expected a plan error"),
    }
}

#[test]
fn bad_moment_calls_are_plan_errors() {
    let message = error(call("merge_moment_avg", col(1), &[]));
    assert!(message.contains("Avg of buffers of 1 columns"), "{message}");
    let message = error(call("merge_moment_m3", col(1), &[col(1), col(1)]));
    assert!(message.contains("M3 of buffers of 3 columns"), "{message}");
    let message = error(call("co_moment_ck", col(1), &[]));
    assert!(message.contains("takes 2 arguments, not 1"), "{message}");
    let message = error(call(
        "merge_co_moment_x_mk",
        col(1),
        &[col(1), col(1), col(1)],
    ));
    assert!(message.contains("XMk of buffers of 4 columns"), "{message}");
    assert!(error(call("moment_m2", col(1), &[col(1)])).contains("takes 1 arguments, not 2"));
    assert!(error(call("sum", col(1), &[col(1)])).contains("takes 1 arguments, not 2"));
    assert!(error(call("moment_avg", col(0), &[])).contains("takes doubles, not Int32"));
}

#[test]
fn first_and_last_in_row_order_with_filters() -> Result<(), NativeError> {
    // Group 0: null, 1, 2, null; group 1: 5, null, 7.
    let rows = [
        (0, None),
        (1, Some(5.0)),
        (0, Some(1.0)),
        (1, None),
        (0, Some(2.0)),
        (1, Some(7.0)),
        (0, None),
    ];
    let input_fields = json!([{"name": "g", "type": "int", "nullable": false}, double("x")]);
    let input = json!({"op": "input", "schema": input_fields, "slot": 0});
    let first_kept = json!({"kind": "binary", "op": "gt", "type": "boolean", "left": col(1),
        "right": {"kind": "literal", "type": "double", "value": 1.5}});
    let aggregates = vec![
        call("first", col(1), &[]),
        json!({"func": "first", "arg": col(1), "ignore_nulls": true}),
        call("last", col(1), &[]),
        json!({"func": "last", "arg": col(1), "ignore_nulls": true}),
        json!({"func": "first", "arg": col(1), "filter": first_kept}),
    ];
    let output = json!([{"name": "g", "type": "int", "nullable": false}, double("a"), double("b"), double("c"),
        double("d"), double("e")]);
    let message = json!({"version": 1, "output": output, "settings": {"device": "cpu"},
        "root": partial_root(aggregates, input)});
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(vec![
        values(&rows[..3]),
        values(&rows[3..]),
    ]))];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)?;
    let mut got = Vec::new();
    while let Some(batch) = plan.next_batch()? {
        for r in 0..batch.num_rows() {
            let g = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .unwrap()
                .value(r);
            let parts: Vec<Option<f64>> = (1..6)
                .map(|c| {
                    let column = batch
                        .column(c)
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .unwrap();
                    column.is_valid(r).then(|| column.value(r))
                })
                .collect();
            got.push((g, parts));
        }
    }
    got.sort_by_key(|(g, _)| *g);
    assert_eq!(
        got,
        vec![
            (0, vec![None, Some(1.0), None, Some(2.0), Some(2.0)]),
            (
                1,
                vec![Some(5.0), Some(5.0), Some(7.0), Some(7.0), Some(5.0)]
            ),
        ]
    );
    Ok(())
}

#[test]
fn bad_flags_and_filters_are_plan_errors() {
    let message = error(json!({"func": "sum", "arg": col(1), "ignore_nulls": true}));
    assert!(message.contains("does not take ignore_nulls"), "{message}");
    let message = error(json!({"func": "sum", "arg": col(1), "filter": col(1)}));
    assert!(message.contains("boolean"), "{message}");
}
