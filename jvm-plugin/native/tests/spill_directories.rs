//! Where plans with a memory limit spill: the directories Java gives (Spark's local
//! directories), else the OS's temporary directory. (A binary of its own: the directories are
//! the process's.)

use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

mod common;
use common::Batches;

const ROWS: i64 = 200_000;

fn fields() -> Value {
    json!([
        {"name": "k", "type": "bigint", "nullable": false},
        {"name": "s", "type": "string", "nullable": false}
    ])
}

/// `ROWS` rows in batches of 4096: k scrambled (each value once), s a string of k mod 50,000.
fn batches() -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let keys: Vec<i64> = (0..ROWS).map(|i| i * 7_919 % ROWS).collect();
    keys.chunks(4096)
        .map(|chunk| {
            let s: Vec<String> = chunk
                .iter()
                .map(|k| format!("value {:08}", k % 50_000))
                .collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(chunk.to_vec())),
                    Arc::new(StringArray::from(s)),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn input(slot: usize) -> Value {
    json!({"op": "input", "schema": fields(), "slot": slot})
}

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

/// Runs `root` over `inputs` copies of the rows with `memory_limit` bytes: the rows and the
/// bytes spilled.
fn run(
    root: Value,
    output: Value,
    inputs: usize,
    memory_limit: u64,
) -> Result<(Vec<RecordBatch>, usize), NativeError> {
    let message = json!({"version": 1, "output": output,
                         "settings": {"device": "cpu", "batch_rows": 4096, "memory_limit": memory_limit},
                         "root": root});
    let sources: Vec<Box<dyn BatchSource>> = (0..inputs)
        .map(|_| Box::new(Batches(batches())) as Box<dyn BatchSource>)
        .collect();
    let mut plan = NativePlan::create_with_inputs(message.to_string().as_bytes(), sources)?;
    let mut out = Vec::new();
    while let Some(batch) = plan.next_batch()? {
        out.push(batch);
    }
    Ok((out, plan.spilled_bytes()))
}

#[test]
fn spills_go_to_the_directories_given_or_the_os_temporary_one() {
    let sort = json!({"op": "sort", "keys": [
        {"expr": col(1), "ascending": true, "nulls_first": true}], "input": input(0)});
    let root = std::env::temp_dir().join(format!("cinder-spill-test-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    cinder_jni::native_plan::set_spill_directories(vec![root.clone()]);
    let (rows, spilled) = run(sort.clone(), fields(), 1, 2 << 20).unwrap();
    assert!(spilled > 0);
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        ROWS as usize
    );
    // One directory of DataFusion's in the one given, its spill files gone with the plan.
    let made: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    // (The runtime's tasks that read spill files may end just after the plan.)
    let left = || -> Vec<_> {
        std::fs::read_dir(&made[0])
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    for _ in 0..100 {
        if left().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(left().is_empty(), "{:?}", left());
    // A directory that cannot be made: the OS's temporary directory, and the plan runs.
    cinder_jni::native_plan::set_spill_directories(vec![root.join("file").join("below")]);
    std::fs::write(root.join("file"), b"not a directory").unwrap();
    let (rows, spilled) = run(sort, fields(), 1, 2 << 20).unwrap();
    assert!(spilled > 0);
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        ROWS as usize
    );
    cinder_jni::native_plan::set_spill_directories(Vec::new());
    std::fs::remove_dir_all(&root).unwrap();
}
