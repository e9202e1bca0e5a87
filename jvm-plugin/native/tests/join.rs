//! The native `hash_join` against a nested-loop join written here: every Spark join type,
//! either build side, null and duplicate keys, a condition, and inputs from batch sources.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Value, json};

mod common;
use common::Batches;

/// A row of one side: key (nullable), second key, value.
type Row = (Option<i32>, i64, Option<String>);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("k2", DataType::Int64, false),
        Field::new("v", DataType::Utf8, true),
    ]))
}

fn fields() -> Value {
    json!([
        {"name": "k", "type": "int", "nullable": true},
        {"name": "k2", "type": "bigint", "nullable": false},
        {"name": "v", "type": "string", "nullable": true}
    ])
}

/// `rows` as batches of at most `per` rows (none for no rows).
fn batches(rows: &[Row], per: usize) -> Vec<RecordBatch> {
    rows.chunks(per)
        .map(|chunk| {
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(Int32Array::from(
                        chunk.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )),
                    Arc::new(Int64Array::from(
                        chunk.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )),
                    Arc::new(StringArray::from(
                        chunk.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

/// Deterministic rows with null keys, duplicates and keys only one side has.
fn side(seed: u64, n: usize, key_range: i32) -> Vec<Row> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 33) as i32;
            let key = (r % 9 != 0).then_some(r.rem_euclid(key_range));
            let value = (i % 4 != 0).then(|| format!("v{seed}-{i}"));
            (key, i64::from(r.rem_euclid(2)), value)
        })
        .collect()
}

fn show(row: &[Option<String>]) -> String {
    row.iter()
        .map(|v| v.clone().unwrap_or_else(|| "null".into()))
        .collect::<Vec<_>>()
        .join("|")
}

fn row_values(r: Option<&Row>) -> Vec<Option<String>> {
    match r {
        Some((k, k2, v)) => vec![k.map(|k| k.to_string()), Some(k2.to_string()), v.clone()],
        None => vec![None, None, None],
    }
}

/// The join on `k` (and `k2` when `two_keys`), with `condition` (`left.v < right.v`) when
/// asked, by nested loops: sorted rows as text.
fn expected(
    join: &str,
    left: &[Row],
    right: &[Row],
    two_keys: bool,
    condition: bool,
) -> Vec<String> {
    let matches = |l: &Row, r: &Row| {
        l.0.is_some()
            && l.0 == r.0
            && (!two_keys || l.1 == r.1)
            && (!condition || matches!((&l.2, &r.2), (Some(a), Some(b)) if a < b))
    };
    let mut out = Vec::new();
    let mut right_matched = vec![false; right.len()];
    for l in left {
        let mut any = false;
        for (j, r) in right.iter().enumerate() {
            if matches(l, r) {
                any = true;
                right_matched[j] = true;
                if matches!(join, "inner" | "left_outer" | "right_outer" | "full_outer") {
                    let mut row = row_values(Some(l));
                    row.extend(row_values(Some(r)));
                    out.push(show(&row));
                }
            }
        }
        let emit_left = match join {
            "left_outer" | "full_outer" => !any,
            "left_semi" => any,
            "left_anti" => !any,
            _ => false,
        };
        if emit_left {
            let mut row = row_values(Some(l));
            if matches!(join, "left_outer" | "full_outer") {
                row.extend(row_values(None));
            }
            out.push(show(&row));
        }
    }
    if matches!(join, "right_outer" | "full_outer") {
        for (j, r) in right.iter().enumerate() {
            if !right_matched[j] {
                let mut row = row_values(None);
                row.extend(row_values(Some(r)));
                out.push(show(&row));
            }
        }
    }
    out.sort();
    out
}

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

/// The message of a join of inputs 0 and 1 (see [`run_join`]), and its output's column count.
fn join_message(
    join: &str,
    build: &str,
    device: &str,
    two_keys: bool,
    condition: bool,
) -> (Value, usize) {
    let mut output: Vec<Value> = fields().as_array().unwrap().clone();
    if !matches!(join, "left_semi" | "left_anti") {
        output.extend(fields().as_array().unwrap().iter().cloned());
    }
    if join.ends_with("_outer") {
        // An outer join's padded side is nullable (Spark's output says so too).
        output.iter_mut().for_each(|f| f["nullable"] = json!(true));
    }
    let (mut left_keys, mut right_keys) = (vec![col(0)], vec![col(0)]);
    if two_keys {
        left_keys.push(col(1));
        right_keys.push(col(1));
    }
    let mut node = json!({
        "op": "hash_join", "join_type": join, "build": build,
        "left_keys": left_keys, "right_keys": right_keys,
        "left": {"op": "input", "schema": fields(), "slot": 0},
        "right": {"op": "input", "schema": fields(), "slot": 1},
    });
    if condition {
        node["condition"] = json!({"kind": "binary", "op": "lt", "type": "boolean",
                                   "left": col(2), "right": col(5)});
    }
    let columns = output.len();
    // "host-regions": the host reference with `device_regions` (spark.cinder.deviceRegions).
    let settings = match device {
        "host-regions" => json!({"device": "host", "batch_rows": 100, "device_regions": true}),
        device => json!({"device": device, "batch_rows": 100}),
    };
    let message = json!({"version": 1, "output": output, "settings": settings, "root": node});
    (message, columns)
}

fn run_join(
    join: &str,
    build: &str,
    device: &str,
    left: &[Row],
    right: &[Row],
    two_keys: bool,
    condition: bool,
) -> Vec<String> {
    let (message, columns) = join_message(join, build, device, two_keys, condition);
    let sources: Vec<Box<dyn BatchSource>> = vec![
        Box::new(Batches(batches(left, 7))),
        Box::new(Batches(batches(right, 5))),
    ];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)
        .unwrap_or_else(|e| panic!("{join} build {build} on {device}: {e}"));
    sorted_rows(&mut plan, columns)
}

/// Every row `plan` returns as text (`|` between values), sorted; each batch must have
/// `columns` columns of its row count.
fn sorted_rows(plan: &mut NativePlan, columns: usize) -> Vec<String> {
    let options = FormatOptions::default().with_null("null");
    let mut rows = Vec::new();
    while let Some(batch) = plan.next_batch().expect("batch") {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for i in 0..batch.num_rows() {
            let row: Vec<String> = formatters.iter().map(|f| f.value(i).to_string()).collect();
            rows.push(row.join("|"));
        }
        assert_eq!(batch.schema().fields().len(), columns);
        assert!(batch.columns().iter().all(|c| c.len() == batch.num_rows()));
    }
    rows.sort();
    rows
}

#[test]
fn every_join_type_and_build_side_matches_nested_loops() {
    let cases: Vec<(&str, Vec<Row>, Vec<Row>)> = vec![
        ("random", side(1, 60, 12), side(2, 45, 12)),
        (
            "all one key",
            vec![(Some(3), 0, Some("a".into())); 9],
            vec![(Some(3), 0, Some("b".into())); 4],
        ),
        (
            "no matches",
            side(3, 20, 5),
            side(4, 20, 5)
                .into_iter()
                .map(|r| (r.0.map(|k| k + 100), r.1, r.2))
                .collect(),
        ),
        ("empty left", vec![], side(5, 10, 4)),
        ("empty right", side(6, 10, 4), vec![]),
        (
            "null keys only",
            vec![(None, 0, None); 3],
            vec![(None, 0, Some("x".into())); 2],
        ),
    ];
    for (name, left, right) in &cases {
        for join in [
            "inner",
            "left_outer",
            "right_outer",
            "full_outer",
            "left_semi",
            "left_anti",
        ] {
            for build in ["left", "right"] {
                for (two_keys, condition) in [(false, false), (true, false), (false, true)] {
                    for device in ["cpu", "host", "host-regions"] {
                        let got = run_join(join, build, device, left, right, two_keys, condition);
                        let want = expected(join, left, right, two_keys, condition);
                        assert_eq!(
                            got, want,
                            "{name}: {join} build {build} on {device}, two keys {two_keys}, condition {condition}"
                        );
                    }
                }
            }
        }
    }
}

fn plan_error(message: &Value, inputs: usize) -> String {
    let sources: Vec<Box<dyn BatchSource>> = (0..inputs)
        .map(|_| Box::new(Batches(vec![])) as Box<dyn BatchSource>)
        .collect();
    match NativePlan::create_with_inputs(message.to_string().as_bytes(), sources) {
        Err(NativeError::Plan(m)) => m,
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!("expected a plan error for {message}"),
    }
}

#[test]
fn bad_joins_are_plan_errors_that_say_why() {
    let input = |index: usize| json!({"op": "input", "schema": fields(), "slot": index});
    let join = |left_keys: Value, right_keys: Value, left: Value, right: Value| {
        json!({"version": 1, "output": fields(), "root": {
            "op": "hash_join", "join_type": "left_semi", "build": "right",
            "left_keys": left_keys, "right_keys": right_keys, "left": left, "right": right}})
    };
    let message = join(json!([col(0)]), json!([col(1)]), input(0), input(1));
    assert!(
        plan_error(&message, 2).contains("different types"),
        "{}",
        plan_error(&message, 2)
    );
    let message = join(json!([]), json!([]), input(0), input(1));
    assert!(plan_error(&message, 2).contains("at least one"));
    let message = join(json!([col(0)]), json!([col(0)]), input(0), input(0));
    assert!(plan_error(&message, 2).contains("numbered 0 to 1 once each"));
    let message = join(json!([col(0)]), json!([col(0)]), input(0), input(1));
    assert!(plan_error(&message, 1).contains("reads 2 input(s) but 1 were given"));
    let scan = json!({"op": "parquet_scan", "schema": fields()});
    let message = join(json!([col(0)]), json!([col(0)]), scan.clone(), scan);
    assert!(plan_error(&message, 0).contains("at most one parquet_scan"));
    let mut message = join(json!([col(0)]), json!([col(0)]), input(0), input(1));
    message["root"]["join_type"] = json!("cross");
    assert!(plan_error(&message, 2).contains("unknown variant"));
}

/// An input whose batches come from another native plan, read while the outer plan is being
/// read: what happens when a native scan feeds a Spark operator that feeds a native join in
/// the same task.
struct FromPlan(NativePlan);

impl BatchSource for FromPlan {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, NativeError> {
        self.0.next_batch()
    }
}

#[test]
fn an_input_may_read_another_native_plan_on_the_same_thread() {
    let left = side(7, 300, 20);
    let right = side(8, 200, 20);
    let identity = json!({"version": 1, "output": fields(), "settings": {"device": "cpu"},
        "root": {"op": "filter", "condition": {"kind": "literal", "type": "boolean", "value": true},
                 "input": {"op": "input", "schema": fields(), "slot": 0}}});
    let inner = |rows: &[Row]| {
        let sources: Vec<Box<dyn BatchSource>> = vec![Box::new(Batches(batches(rows, 16)))];
        NativePlan::create_with_inputs(identity.to_string().as_bytes(), sources).unwrap()
    };
    let mut output: Vec<Value> = fields().as_array().unwrap().clone();
    output.extend(fields().as_array().unwrap().iter().cloned());
    let message = json!({"version": 1, "output": output, "settings": {"device": "cpu"}, "root": {
        "op": "hash_join", "join_type": "inner", "build": "right",
        "left_keys": [col(0)], "right_keys": [col(0)],
        "left": {"op": "input", "schema": fields(), "slot": 0},
        "right": {"op": "input", "schema": fields(), "slot": 1}}});
    let sources: Vec<Box<dyn BatchSource>> = vec![
        Box::new(FromPlan(inner(&left))),
        Box::new(FromPlan(inner(&right))),
    ];
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources).unwrap();
    let mut rows = 0;
    while let Some(batch) = plan.next_batch().expect("batch") {
        rows += batch.num_rows();
    }
    assert_eq!(rows, expected("inner", &left, &right, false, false).len());
}

/// `left.k NOT IN (right.k)` as Spark evaluates it, by nested loops: sorted rows as text.
fn not_in(left: &[Row], right: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = if right.is_empty() {
        left.iter().map(|l| show(&row_values(Some(l)))).collect()
    } else if right.iter().any(|r| r.0.is_none()) {
        vec![]
    } else {
        left.iter()
            .filter(|l| l.0.is_some() && right.iter().all(|r| r.0 != l.0))
            .map(|l| show(&row_values(Some(l))))
            .collect()
    };
    out.sort();
    out
}

#[test]
fn null_aware_anti_join_is_not_in() {
    let no_nulls =
        |rows: Vec<Row>| -> Vec<Row> { rows.into_iter().filter(|r| r.0.is_some()).collect() };
    let cases: Vec<(&str, Vec<Row>, Vec<Row>)> = vec![
        ("right has a null key", side(11, 50, 10), side(12, 30, 10)),
        (
            "right without nulls",
            side(13, 60, 12),
            no_nulls(side(14, 20, 12)),
        ),
        ("right empty", side(15, 40, 8), vec![]),
        ("left empty", vec![], no_nulls(side(16, 10, 4))),
        (
            "all left keys null",
            vec![(None, 0, Some("x".into())); 4],
            no_nulls(side(17, 5, 3)),
        ),
    ];
    for (name, left, right) in &cases {
        for device in ["cpu", "host"] {
            let message = json!({"version": 1, "output": fields(),
                "settings": {"device": device, "batch_rows": 100}, "root": {
                "op": "hash_join", "join_type": "left_anti", "build": "left", "null_aware": true,
                "left_keys": [col(0)], "right_keys": [col(0)],
                "left": {"op": "input", "schema": fields(), "slot": 0},
                "right": {"op": "input", "schema": fields(), "slot": 1}}});
            let sources: Vec<Box<dyn BatchSource>> = vec![
                Box::new(Batches(batches(left, 7))),
                Box::new(Batches(batches(right, 3))),
            ];
            let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)
                .unwrap_or_else(|e| panic!("{name} on {device}: {e}"));
            let rows = sorted_rows(&mut plan, 3);
            assert_eq!(rows, not_in(left, right), "{name} on {device}");
        }
    }
    let mut message = json!({"version": 1, "output": fields(), "root": {
        "op": "hash_join", "join_type": "left_anti", "build": "right", "null_aware": true,
        "left_keys": [col(0)], "right_keys": [col(0)],
        "left": {"op": "input", "schema": fields(), "slot": 0},
        "right": {"op": "input", "schema": fields(), "slot": 1}}});
    assert!(plan_error(&message, 2).contains("null-aware"));
    message["root"]["build"] = json!("left");
    message["root"]["join_type"] = json!("left_semi");
    assert!(plan_error(&message, 2).contains("null-aware"));
}

/// A broadcast's rows as an input: named by `key`, counting the batches read from it.
struct Broadcast {
    batches: Vec<RecordBatch>,
    key: String,
    reads: Arc<AtomicUsize>,
    fail: bool,
}

impl BatchSource for Broadcast {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, NativeError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(NativeError::Execution(
                "the broadcast could not be read".into(),
            ));
        }
        Ok((!self.batches.is_empty()).then(|| self.batches.remove(0)))
    }

    fn share_key(&self) -> Option<String> {
        Some(self.key.clone())
    }
}

/// One task of a join whose `build` side is a broadcast named `key`: its rows, and how many
/// times the task read the broadcast.
fn broadcast_task(
    join: &str,
    build: &str,
    key: &str,
    broadcast: &[Row],
    probe: &[Row],
    fail: bool,
) -> Result<(Vec<String>, usize), NativeError> {
    let (message, columns) = join_message(join, build, "cpu", true, true);
    let reads = Arc::new(AtomicUsize::new(0));
    let shared: Box<dyn BatchSource> = Box::new(Broadcast {
        batches: batches(broadcast, 6),
        key: key.to_owned(),
        reads: Arc::clone(&reads),
        fail,
    });
    let own: Box<dyn BatchSource> = Box::new(Batches(batches(probe, 4)));
    let sources = if build == "left" {
        vec![shared, own]
    } else {
        vec![own, shared]
    };
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)?;
    let rows = sorted_rows(&mut plan, columns);
    Ok((rows, reads.load(Ordering::SeqCst)))
}

#[test]
fn a_broadcast_build_side_is_read_and_hashed_once_per_process() {
    let broadcast = side(21, 40, 10);
    let probes = [side(22, 30, 10), side(23, 0, 10), side(24, 55, 10)];
    for join in [
        "inner",
        "left_outer",
        "right_outer",
        "full_outer",
        "left_semi",
        "left_anti",
    ] {
        for build in ["left", "right"] {
            // The types whose unmatched build rows are never emitted: what Spark broadcasts.
            let shared = matches!(
                (build, join),
                ("left", "inner" | "right_outer")
                    | ("right", "inner" | "left_outer" | "left_semi" | "left_anti")
            );
            let key = format!("test/{join}/{build}");
            for (task, probe) in probes.iter().enumerate() {
                let (got, reads) = broadcast_task(join, build, &key, &broadcast, probe, false)
                    .unwrap_or_else(|e| panic!("{join} build {build}: {e}"));
                let want = if build == "left" {
                    expected(join, &broadcast, probe, true, true)
                } else {
                    expected(join, probe, &broadcast, true, true)
                };
                assert_eq!(got, want, "{join} build {build}, task {task}");
                // The first task reads the broadcast (its batches and the end); the others
                // probe its table.
                let want_reads = if task == 0 || !shared { 8 } else { 0 };
                assert_eq!(reads, want_reads, "{join} build {build}, task {task}");
            }
        }
    }
}

#[test]
fn tasks_share_a_broadcast_table_concurrently_and_a_failed_read_is_not_kept() {
    let broadcast = side(31, 500, 40);
    let key = "test/concurrent";
    // The first task cannot read the broadcast: its error is its own, and nothing is cached.
    let failed = broadcast_task(
        "left_outer",
        "right",
        key,
        &broadcast,
        &side(32, 10, 40),
        true,
    );
    assert!(
        matches!(&failed, Err(e) if e.to_string().contains("could not be read")),
        "{:?}",
        failed.map(|(_, reads)| reads)
    );
    let threads: Vec<_> = (0..8_u64)
        .map(|t| {
            let broadcast = broadcast.clone();
            std::thread::spawn(move || {
                let probe = side(40 + t, 300, 40);
                let (got, reads) =
                    broadcast_task("left_outer", "right", key, &broadcast, &probe, false).unwrap();
                assert_eq!(got, expected("left_outer", &probe, &broadcast, true, true));
                reads
            })
        })
        .collect();
    let reads: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // Tasks that planned before the first entry was cached read the broadcast themselves
    // (and then run the cached table); at least one read it, and the rest did not.
    assert!(reads.iter().any(|&r| r > 0), "{reads:?}");
    let (got, reads) = broadcast_task(
        "left_outer",
        "right",
        key,
        &broadcast,
        &side(50, 20, 40),
        false,
    )
    .unwrap();
    assert_eq!(reads, 0);
    assert_eq!(
        got,
        expected("left_outer", &side(50, 20, 40), &broadcast, true, true)
    );
}
