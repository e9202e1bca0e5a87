//! The native `sort` (with and without `fetch`) and `limit` against Spark's ordering written
//! here: nulls first or last, ascending or descending, `-0.0` equal to `0.0`, NaN above every
//! number, strings by their bytes, several keys, empty input and many small batches.

use std::cmp::Ordering;
use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Array, Float64Array, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde_json::{Value, json};

mod common;
use common::Batches;

/// A row: a float key, a string key, a unique id.
type Row = (Option<f64>, Option<String>, i32);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("id", DataType::Int32, false),
    ]))
}

fn fields() -> Value {
    json!([
        {"name": "f", "type": "double", "nullable": true},
        {"name": "s", "type": "string", "nullable": true},
        {"name": "id", "type": "int", "nullable": false}
    ])
}

fn batches(rows: &[Row], per: usize) -> Vec<RecordBatch> {
    rows.chunks(per)
        .map(|chunk| {
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(Float64Array::from(
                        chunk.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        chunk.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                    )),
                    Arc::new(Int32Array::from(
                        chunk.iter().map(|r| r.2).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

/// Deterministic rows with nulls, duplicates, `-0.0`, NaN (of both signs), infinities and
/// non-ASCII strings.
fn rows(seed: u64, n: usize) -> Vec<Row> {
    let floats = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.5,
        -2.25,
        f64::MIN,
        f64::MAX,
    ];
    let strings = ["", "a", "ab", "B", "é", "z", "aa"];
    let mut state = seed;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 33) as usize;
            let f = (!r.is_multiple_of(7)).then(|| floats[r % floats.len()]);
            let s =
                (!(r / 7).is_multiple_of(5)).then(|| strings[(r / 11) % strings.len()].to_owned());
            (f, s, i as i32)
        })
        .collect()
}

/// Spark's order of doubles: `-0.0 = 0.0`, NaN equal to NaN and above everything else.
fn spark_double(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap(),
    }
}

/// A key's order: ascending or not, nulls first or not.
#[derive(Clone, Copy)]
struct Key {
    column: usize,
    ascending: bool,
    nulls_first: bool,
}

fn compare(a: &Row, b: &Row, keys: &[Key]) -> Ordering {
    for key in keys {
        let (a_null, b_null, values) = match key.column {
            0 => (
                a.0.is_none(),
                b.0.is_none(),
                a.0.zip(b.0).map(|(x, y)| spark_double(x, y)),
            ),
            1 => (
                a.1.is_none(),
                b.1.is_none(),
                a.1.as_ref()
                    .zip(b.1.as_ref())
                    .map(|(x, y)| x.as_bytes().cmp(y.as_bytes())),
            ),
            _ => (false, false, Some(a.2.cmp(&b.2))),
        };
        let order = match (a_null, b_null) {
            (true, true) => Ordering::Equal,
            (true, false) if key.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if key.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = values.unwrap();
                if key.ascending { o } else { o.reverse() }
            }
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

fn run(root: Value, input: &[Row], per: usize) -> Vec<Row> {
    let message = json!({"version": 1, "output": fields(),
                         "settings": {"device": "cpu", "batch_rows": 64}, "root": root});
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(batches(input, per)))];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)
        .unwrap_or_else(|e| panic!("{root}: {e}"));
    let mut out = Vec::new();
    while let Some(batch) = plan.next_batch().expect("batch") {
        let f = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        let s = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let id = batch
            .column(2)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        for i in 0..batch.num_rows() {
            out.push((
                f.is_valid(i).then(|| f.value(i)),
                s.is_valid(i).then(|| s.value(i).to_owned()),
                id.value(i),
            ));
        }
    }
    out
}

fn input() -> Value {
    json!({"op": "input", "schema": fields(), "slot": 0})
}

fn sort_node(keys: &[Key], fetch: Option<usize>) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"expr": {"kind": "column", "index": k.column}, "ascending": k.ascending,
                   "nulls_first": k.nulls_first})
        })
        .collect();
    let mut node = json!({"op": "sort", "keys": keys, "input": input()});
    if let Some(fetch) = fetch {
        node["fetch"] = json!(fetch);
    }
    node
}

/// The ids of `rows`, sorted: the same rows, whatever their order.
fn ids(rows: &[Row]) -> Vec<i32> {
    let mut ids: Vec<i32> = rows.iter().map(|r| r.2).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn sort_orders_as_spark_does() {
    let orders = [(true, true), (true, false), (false, true), (false, false)];
    for (name, data) in [
        ("random", rows(1, 500)),
        ("empty", vec![]),
        ("one row", rows(2, 1)),
    ] {
        for &(ascending, nulls_first) in &orders {
            for &(ascending2, nulls_first2) in &orders {
                let keys = [
                    Key {
                        column: 0,
                        ascending,
                        nulls_first,
                    },
                    Key {
                        column: 1,
                        ascending: ascending2,
                        nulls_first: nulls_first2,
                    },
                ];
                let what = format!(
                    "{name}: f asc {ascending} nulls first {nulls_first}, s asc {ascending2} nulls first {nulls_first2}"
                );
                let got = run(sort_node(&keys, None), &data, 13);
                assert_eq!(ids(&got), ids(&data), "{what}: not the same rows");
                for pair in got.windows(2) {
                    assert_ne!(
                        compare(&pair[0], &pair[1], &keys),
                        Ordering::Greater,
                        "{what}: {:?} before {:?}",
                        pair[0],
                        pair[1]
                    );
                }
                // A top-k keeps rows whose keys are the first k of the full order.
                let mut want = data.clone();
                want.sort_by(|a, b| compare(a, b, &keys));
                for fetch in [0, 1, 7, 600] {
                    let top = run(sort_node(&keys, Some(fetch)), &data, 13);
                    assert_eq!(top.len(), fetch.min(data.len()), "{what}: top {fetch}");
                    for (got, want) in top.iter().zip(&want) {
                        assert_eq!(
                            compare(got, want, &keys),
                            Ordering::Equal,
                            "{what}: top {fetch}: {got:?} where {want:?} belongs"
                        );
                    }
                    let all = ids(&data);
                    assert!(ids(&top).iter().all(|id| all.binary_search(id).is_ok()));
                }
            }
        }
    }
}

#[test]
fn limit_skips_offset_rows_then_passes_limit_rows() {
    let data = rows(3, 100);
    for (offset, limit) in [
        (0, Some(0)),
        (0, Some(10)),
        (5, Some(10)),
        (95, Some(10)),
        (100, Some(3)),
        (150, None),
        (7, None),
        (0, Some(1000)),
    ] {
        let mut node = json!({"op": "limit", "offset": offset, "input": input()});
        if let Some(limit) = limit {
            node["limit"] = json!(limit);
        }
        let got = run(node, &data, 9);
        let want: Vec<i32> = data
            .iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|r| r.2)
            .collect();
        let got: Vec<i32> = got.iter().map(|r| r.2).collect();
        assert_eq!(got, want, "offset {offset} limit {limit:?}");
    }
}

#[test]
fn a_sort_without_keys_is_a_plan_error() {
    let message = json!({"version": 1, "output": fields(),
                         "root": {"op": "sort", "keys": [], "input": input()}});
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(vec![]))];
    match NativePlan::create_with_inputs(message.to_string().as_bytes(), sources) {
        Err(NativeError::Plan(m)) => assert!(m.contains("at least one key"), "{m}"),
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!("a sort without keys was accepted"),
    }
}
