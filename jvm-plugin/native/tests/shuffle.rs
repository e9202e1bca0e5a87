//! A native shuffle's map side: every row lands in exactly one block, in the partition Spark's
//! `HashPartitioning` gives it (computed here row by row from the hash functions, which
//! `shuffle.rs`'s unit tests hold to Spark's own values) or, for a `RangePartitioning`, the
//! one after every bound below it; blocks are at least `batch_rows` rows but for each
//! partition's last, and bad partitionings are plan errors.

use std::collections::HashMap;
use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::shuffle::{block_partition, decode_block};
use cinder_jni::spark_hash::{HashFamily, Murmur3, murmur3};
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{
    Array, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde_json::{Value, json};

mod common;
use common::Batches;

/// A row: a long key (nullable), a string key (nullable), a decimal(20,2) and a unique id.
type Row = (Option<i64>, Option<String>, i128, i32);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("d", DataType::Decimal128(20, 2), false),
        Field::new("id", DataType::Int32, false),
    ]))
}

fn fields() -> Value {
    json!([
        {"name": "k", "type": "bigint", "nullable": true},
        {"name": "s", "type": "string", "nullable": true},
        {"name": "d", "type": "decimal(20,2)", "nullable": false},
        {"name": "id", "type": "int", "nullable": false}
    ])
}

/// Deterministic rows: few distinct keys (duplicates), nulls, non-ASCII strings, decimals of
/// both signs around the byte boundaries of their two's complement.
fn rows(n: usize) -> Vec<Row> {
    let strings = ["", "a", "abcd", "abcde", "héllo", "zz"];
    let mut state = 7_u64;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 33) as usize;
            let k = (!r.is_multiple_of(9)).then(|| (r % 37) as i64 - 18);
            let s =
                (!(r / 9).is_multiple_of(7)).then(|| strings[(r / 63) % strings.len()].to_owned());
            let d = [-129_i128, -128, 0, 127, 128, 99_999_999_999_999_999_999][r % 6]
                * if r.is_multiple_of(4) { 1 } else { -1 };
            (k, s, d, i as i32)
        })
        .collect()
}

fn batches(rows: &[Row], per: usize) -> Vec<RecordBatch> {
    rows.chunks(per)
        .map(|chunk| {
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(Int64Array::from(
                        chunk.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        chunk.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                    )),
                    Arc::new(
                        Decimal128Array::from(chunk.iter().map(|r| r.2).collect::<Vec<_>>())
                            .with_precision_and_scale(20, 2)
                            .unwrap(),
                    ),
                    Arc::new(Int32Array::from(
                        chunk.iter().map(|r| r.3).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn column(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

fn message(shuffle: Value, batch_rows: usize) -> String {
    json!({"version": 1, "output": fields(), "settings": {"device": "cpu", "batch_rows": batch_rows},
           "shuffle": shuffle, "root": {"op": "input", "schema": fields(), "slot": 0}})
    .to_string()
}

/// Runs the map side over `input`: each block's partition and rows.
fn run(
    shuffle: Value,
    input: &[Row],
    per: usize,
    batch_rows: usize,
) -> Result<Vec<(u32, Vec<Row>)>, NativeError> {
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(batches(input, per)))];
    let mut plan =
        NativePlan::create_with_inputs(message(shuffle, batch_rows).as_bytes(), sources)?;
    assert!(plan.is_shuffle());
    let mut out = Vec::new();
    while let Some(block) = plan.next_block()? {
        let partition = block_partition(&block)?;
        let batch = decode_block(&block)?;
        assert_eq!(batch.schema().fields().len(), 4);
        let k = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let s = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let d = batch
            .column(2)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        let id = batch
            .column(3)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        let rows = (0..batch.num_rows())
            .map(|i| {
                (
                    k.is_valid(i).then(|| k.value(i)),
                    s.is_valid(i).then(|| s.value(i).to_owned()),
                    d.value(i),
                    id.value(i),
                )
            })
            .collect();
        out.push((partition, rows));
    }
    assert_eq!(plan.shuffle_rows(), input.len() as u64);
    assert!(input.is_empty() || plan.shuffle_unsafe_row_bytes() > 0);
    Ok(out)
}

/// Spark's partition of a row hashed on (k, s, d), written out per value.
fn spark_partition(row: &Row, partitions: i32) -> u32 {
    let mut h = murmur3::SEED;
    if let Some(k) = row.0 {
        h = Murmur3::hash_long(k, h);
    }
    if let Some(s) = &row.1 {
        h = Murmur3::hash_bytes(s.as_bytes(), h);
    }
    h = Murmur3::hash_decimal(row.2, 20, h);
    h.rem_euclid(partitions) as u32
}

fn hash_spec(partitions: usize) -> Value {
    json!({"kind": "hash", "partitions": partitions, "keys": [
        {"expr": column(0), "type": "bigint"},
        {"expr": column(1), "type": "string"},
        {"expr": column(2), "type": "decimal(20,2)"}]})
}

#[test]
fn rows_go_to_sparks_hash_partition_once_each() {
    let input = rows(5000);
    for (partitions, per, batch_rows) in
        [(7, 300, 100), (1, 1000, 64), (200, 17, 8192), (3, 5000, 1)]
    {
        let blocks = run(hash_spec(partitions), &input, per, batch_rows).unwrap();
        let mut seen = vec![false; input.len()];
        let mut per_partition: HashMap<u32, Vec<usize>> = HashMap::new();
        for (partition, rows) in &blocks {
            assert!((*partition as usize) < partitions);
            per_partition
                .entry(*partition)
                .or_default()
                .push(rows.len());
            for row in rows {
                let id = row.3 as usize;
                assert!(!seen[id], "row {id} twice");
                seen[id] = true;
                assert_eq!(row, &input[id], "row {id} changed");
                assert_eq!(
                    *partition,
                    spark_partition(row, partitions as i32),
                    "row {id}"
                );
            }
        }
        assert!(seen.iter().all(|&s| s), "every row is in a block");
        // Blocks gather batch_rows rows (the map side's batches are `per` rows): only each
        // partition's last block may be smaller.
        for (partition, sizes) in per_partition {
            let (last, full) = sizes.split_last().unwrap();
            assert!(*last > 0);
            assert!(
                full.iter().all(|&n| n >= batch_rows),
                "partition {partition}: {sizes:?}"
            );
        }
    }
}

/// A range partitioning over (s DESC NULLS LAST, k ASC NULLS FIRST): each row goes to the
/// partition after every bound its keys sort after, as Spark's `RangePartitioner` counts them.
#[test]
fn rows_go_to_the_range_after_the_bounds_below_them() {
    let input = rows(3000);
    let bounds = [
        (Some("zz"), Some(0)),
        (Some("abcd"), None),
        (Some("abcd"), Some(3)),
        (Some(""), Some(-18)),
    ];
    let spec = json!({"kind": "range", "partitions": 5,
        "keys": [{"expr": column(1), "ascending": false, "nulls_first": false},
                 {"expr": column(0), "ascending": true, "nulls_first": true}],
        "bounds": bounds.iter().map(|(s, k)| json!([
            {"kind": "literal", "type": "string", "value": s},
            {"kind": "literal", "type": "bigint", "value": k}])).collect::<Vec<_>>()});
    // The order as a tuple: non-null strings first, descending by their bytes, then the
    // longs ascending, nulls first.
    let ordered = |s: Option<&str>, k: Option<i64>| {
        (
            s.is_none(),
            s.map(|s| std::cmp::Reverse(s.as_bytes().to_vec())),
            k,
        )
    };
    let bound_keys: Vec<_> = bounds.iter().map(|(s, k)| ordered(*s, *k)).collect();
    assert!(
        bound_keys.windows(2).all(|w| w[0] < w[1]),
        "the bounds ascend"
    );
    let blocks = run(spec, &input, 250, 64).unwrap();
    let mut seen = vec![false; input.len()];
    for (partition, rows) in &blocks {
        for row in rows {
            let id = row.3 as usize;
            assert!(!seen[id], "row {id} twice");
            seen[id] = true;
            let row_key = ordered(row.1.as_deref(), row.0);
            let below = bound_keys.iter().filter(|b| **b < row_key).count();
            assert_eq!(*partition as usize, below, "row {id}: {row:?}");
        }
    }
    assert!(seen.iter().all(|&s| s), "every row is in a block");
    let used: std::collections::HashSet<u32> = blocks.iter().map(|(p, _)| *p).collect();
    assert_eq!(used.len(), 5, "{used:?}");
}

#[test]
fn single_partition_and_empty_input() {
    let input = rows(1000);
    let blocks = run(json!({"kind": "single"}), &input, 100, 256).unwrap();
    assert!(blocks.iter().all(|(p, _)| *p == 0));
    assert_eq!(blocks.iter().map(|(_, r)| r.len()).sum::<usize>(), 1000);
    assert_eq!(blocks.len(), 4);
    assert!(run(hash_spec(5), &[], 10, 10).unwrap().is_empty());
}

#[test]
fn bad_partitionings_are_plan_errors() {
    let check = |shuffle: Value| match NativePlan::check(message(shuffle.clone(), 10).as_bytes()) {
        Err(NativeError::Plan(reason)) => reason,
        other => panic!("{shuffle}: {other:?}"),
    };
    assert!(check(hash_spec(0)).contains("not 0"));
    assert!(check(json!({"kind": "hash", "partitions": 2, "keys": []})).contains("needs a key"));
    assert!(
        check(
            json!({"kind": "hash", "partitions": 2, "keys": [{"expr": column(9), "type": "int"}]})
        )
        .contains("9")
    );
    assert!(check(json!({"kind": "round_robin", "partitions": 2})).contains("round_robin"));
    assert!(check(json!({"kind": "range", "partitions": 2})).contains("keys"));
    let range = |bounds: Value| {
        json!({"kind": "range", "partitions": 3, "bounds": bounds,
        "keys": [{"expr": column(0), "ascending": true, "nulls_first": true}]})
    };
    let long = |v: i64| json!([{"kind": "literal", "type": "bigint", "value": v}]);
    assert!(check(range(json!([long(5), long(1)]))).contains("ascend"));
    assert!(check(range(json!([long(1), long(2), long(3)]))).contains("3 range bounds for 3"));
    assert!(
        check(
            json!({"kind": "hash", "partitions": 2, "keys": [{"expr": column(0), "type": "bigint"}],
                         "extra": 1})
        )
        .contains("extra")
    );
    // A plan that is not a shuffle has no blocks.
    let plain = json!({"version": 1, "output": fields(), "settings": {"device": "cpu"},
                       "root": {"op": "input", "schema": fields(), "slot": 0}})
    .to_string();
    let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(vec![]))];
    let mut plan = NativePlan::create_with_inputs(plain.as_bytes(), sources).unwrap();
    assert!(!plan.is_shuffle());
    assert!(plan.next_block().is_err());
}
