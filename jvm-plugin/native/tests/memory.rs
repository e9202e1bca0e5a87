//! A plan's memory limit (`settings.memory_limit`, `spark.cinder.memory.taskLimit`): sorts and
//! aggregations spill past it and give the same rows; a hash join that needs more fails with
//! an error that names the setting; without a limit nothing spills.

use datafusion::arrow::array::{Int64Array, RecordBatch};
use serde_json::{Value, json};

mod common;
#[path = "common/limited.rs"]
mod limited;
use limited::{ROWS, col, fields, input, run, sorted_rows};

fn longs(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column(column)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            a.values().to_vec()
        })
        .collect()
}

#[test]
fn a_sort_spills_past_the_limit_and_gives_the_same_rows() {
    let sort = json!({"op": "sort", "keys": [
        {"expr": col(1), "ascending": false, "nulls_first": false},
        {"expr": col(0), "ascending": true, "nulls_first": true}], "input": input(0)});
    let (unlimited, spilled) = run(sort.clone(), fields(), 1, 0).unwrap();
    assert_eq!(spilled, 0);
    let (limited, spilled) = run(sort, fields(), 1, 2 << 20).unwrap();
    assert!(spilled > 0, "a sort of {ROWS} rows in 2 MiB spills");
    assert_eq!(longs(&limited, 0), longs(&unlimited, 0));
    let keys = longs(&limited, 0);
    assert_eq!(keys.len(), ROWS as usize);
    // s descending (k mod 50,000), then k ascending.
    assert_eq!(&keys[..4], &[49_999, 99_999, 149_999, 199_999]);
}

#[test]
fn an_aggregation_spills_past_the_limit_and_gives_the_same_groups() {
    // Per k (each value once): the count and the largest string.
    let aggregate = json!({"op": "hash_aggregate", "groups": [col(0)], "aggregates": [
        {"func": "count", "arg": col(1)}, {"func": "max", "arg": col(1)}], "input": input(0)});
    let output = json!([
        {"name": "k", "type": "bigint", "nullable": false},
        {"name": "n", "type": "bigint", "nullable": false},
        {"name": "m", "type": "string", "nullable": true}
    ]);
    let (unlimited, spilled) = run(aggregate.clone(), output.clone(), 1, 0).unwrap();
    assert_eq!(spilled, 0);
    let (limited, spilled) = run(aggregate, output, 1, 4 << 20).unwrap();
    assert!(
        spilled > 0,
        "an aggregation of {ROWS} groups in 4 MiB spills"
    );
    let (limited, unlimited) = (sorted_rows(&limited), sorted_rows(&unlimited));
    assert_eq!(limited.len(), ROWS as usize);
    assert_eq!(limited, unlimited);
    assert!(
        limited
            .iter()
            .any(|row| row == &["7", "1", "value 00000007"])
    );
}

#[test]
fn a_join_past_the_limit_fails_naming_the_setting() {
    let join = json!({"op": "hash_join", "join_type": "inner", "build": "left",
                      "left_keys": [col(0)], "right_keys": [col(0)],
                      "left": input(0), "right": input(1)});
    let output = json!([
        {"name": "k", "type": "bigint", "nullable": false},
        {"name": "s", "type": "string", "nullable": false},
        {"name": "k2", "type": "bigint", "nullable": false},
        {"name": "s2", "type": "string", "nullable": false}
    ]);
    let (rows, _) = run(join.clone(), output.clone(), 2, 0).unwrap();
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        ROWS as usize
    );
    let err = run(join, output, 2, 1 << 20).unwrap_err().to_string();
    assert!(err.contains("Resources exhausted"), "{err}");
    assert!(err.contains("spark.cinder.memory.taskLimit"), "{err}");
}

#[test]
fn two_sorts_share_the_limit() {
    // A sort by s under a sort by k: both spill, within 8 MiB.
    let inner = json!({"op": "sort", "keys": [
        {"expr": col(1), "ascending": true, "nulls_first": true}], "input": input(0)});
    let outer = json!({"op": "sort", "keys": [
        {"expr": col(0), "ascending": false, "nulls_first": true}], "input": inner});
    let (rows, spilled) = run(outer, fields(), 1, 8 << 20).unwrap();
    assert!(spilled > 0);
    let keys = longs(&rows, 0);
    assert_eq!(keys.len(), ROWS as usize);
    assert!(keys.windows(2).all(|w| w[0] > w[1]));
}

#[test]
fn groups_merge_their_spilled_buffers() {
    // 20,000 groups of 10 rows, each with a HyperLogLog++ sketch of 512 registers (10 MiB in
    // all): the groups' buffers spill and merge, and give what one pass gives. (Under 8 MiB,
    // reading a spilled run back needs more than the limit leaves; DataFusion's aggregation
    // needs room for a few batches of its groups' buffers.)
    let modulo = |c: Value| {
        json!({"kind": "binary", "op": "remainder", "type": "bigint",
        "left": c, "right": {"kind": "literal", "type": "bigint", "value": 20000}})
    };
    let aggregate = json!({"op": "hash_aggregate", "groups": [modulo(col(0))], "aggregates": [
        {"func": "count", "arg": col(1)}, {"func": "max", "arg": col(1)},
        {"func": "sum", "arg": col(0)}, {"func": "hll_sketch", "arg": col(1), "precision": 9}],
        "input": input(0)});
    let aggregate = json!({"op": "project", "exprs": [col(0), col(1), col(2), col(3),
        {"kind": "hll_estimate", "child": col(4), "precision": 9}], "input": aggregate});
    let output = json!([
        {"name": "g", "type": "bigint", "nullable": false},
        {"name": "n", "type": "bigint", "nullable": false},
        {"name": "m", "type": "string", "nullable": true},
        {"name": "s", "type": "bigint", "nullable": true},
        {"name": "d", "type": "bigint", "nullable": false}
    ]);
    let (unlimited, spilled) = run(aggregate.clone(), output.clone(), 1, 0).unwrap();
    assert_eq!(spilled, 0);
    let (limited, spilled) = run(aggregate, output, 1, 10 << 20).unwrap();
    assert!(spilled > 0, "20,000 sketches of 512 bytes in 10 MiB spill");
    let (limited, unlimited) = (sorted_rows(&limited), sorted_rows(&unlimited));
    assert_eq!(limited.len(), 20_000);
    assert_eq!(limited, unlimited);
}
