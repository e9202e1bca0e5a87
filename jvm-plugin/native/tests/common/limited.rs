//! What the memory-limit tests share (`memory.rs`, `spill_directories.rs`): 200,000 rows of a
//! bigint and a string, and a plan run over them with a memory limit.

// (Each test binary uses part of it.)
#![allow(dead_code)]

use std::sync::Arc;

use cinder_jni::input::BatchSource;
use cinder_jni::{NativeError, NativePlan};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

use crate::common::Batches;

pub const ROWS: i64 = 200_000;

pub fn fields() -> Value {
    json!([
        {"name": "k", "type": "bigint", "nullable": false},
        {"name": "s", "type": "string", "nullable": false}
    ])
}

/// `ROWS` rows in batches of 4096: k scrambled (each value once), s a string of k mod 50,000.
pub fn batches() -> Vec<RecordBatch> {
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

pub fn input(slot: usize) -> Value {
    json!({"op": "input", "schema": fields(), "slot": slot})
}

pub fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

/// Runs `root` over `inputs` copies of the rows with `memory_limit` bytes: the rows and the
/// bytes spilled.
pub fn run(
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

/// The rows of `batches` as text, sorted: the same rows whatever their order.
pub fn sorted_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |i| {
                (0..b.num_columns())
                    .map(|c| {
                        datafusion::arrow::util::display::array_value_to_string(b.column(c), i)
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    rows.sort();
    rows
}
