//! The transfer part of `cinder gpu-check`: device batches and the memory pool on a real
//! device, checked against the host data they came from.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, LargeStringArray, RecordBatch};
use arrow::buffer::{Buffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Schema};

use crate::column::DeviceBatch;
use crate::error::{CudaError, Result};
use crate::memory::{Budget, MemoryPool, PoolConfig};
use crate::testdata::random_batch;

/// One transfer check.
#[derive(Debug, Clone, Copy)]
pub struct TransferCheck {
    /// What it checks.
    pub name: &'static str,
    /// Whether it takes the size list (else it runs once, at its own size).
    pub sized: bool,
    /// Runs it on a pool of the device: `rows` rows from `seed`.
    pub run: fn(&MemoryPool, usize, u64) -> Result<TransferOutcome>,
}

/// The result of a transfer check.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferOutcome {
    /// Whether what came back equals what went in (or the expected error came).
    pub ok: bool,
    /// Bytes moved each way.
    pub bytes: usize,
    /// Wall time of upload plus download, in milliseconds.
    pub wall_ms: f64,
    /// What was seen.
    pub detail: String,
}

/// Every transfer check.
pub static TRANSFER_CHECKS: &[TransferCheck] = &[
    TransferCheck {
        name: "batch round trip (every type)",
        sized: true,
        run: batch_round_trip,
    },
    TransferCheck {
        name: "LargeUtf8 over 2^31 bytes",
        sized: false,
        run: large_strings_round_trip,
    },
    TransferCheck {
        name: "out of memory, then reuse",
        sized: false,
        run: out_of_memory_then_reuse,
    },
];

/// Uploads a random batch with a column of every supported type (sliced, with nulls) and
/// checks the download equals it.
fn batch_round_trip(pool: &MemoryPool, rows: usize, seed: u64) -> Result<TransferOutcome> {
    let batch = random_batch(rows, 3, 0.15, seed);
    compare_round_trip(pool, &batch)
}

/// A `LargeUtf8` column whose bytes exceed `i32::MAX`, so 64-bit offsets are really needed.
fn large_strings_round_trip(pool: &MemoryPool, _rows: usize, seed: u64) -> Result<TransferOutcome> {
    const STRING_BYTES: usize = 1 << 20;
    const STRINGS: usize = 2100; // 2100 MiB > 2^31 bytes
    let mut bytes = Vec::with_capacity(STRING_BYTES * STRINGS);
    for i in 0..STRINGS {
        let fill = b'a' + ((seed as usize + i) % 26) as u8;
        bytes.extend(std::iter::repeat_n(fill, STRING_BYTES - 1));
        bytes.push(b'0' + (i % 10) as u8);
    }
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(STRING_BYTES, STRINGS));
    let array: ArrayRef = Arc::new(
        LargeStringArray::try_new(offsets, Buffer::from_vec(bytes), None)
            .map_err(|e| CudaError::InvalidData(e.to_string()))?,
    );
    let schema = Arc::new(Schema::new(vec![Field::new(
        "s",
        DataType::LargeUtf8,
        false,
    )]));
    let batch = RecordBatch::try_new(schema, vec![array])
        .map_err(|e| CudaError::InvalidData(e.to_string()))?;
    compare_round_trip(pool, &batch)
}

/// A pool with a tiny budget refuses a large batch with `OutOfMemory`, holds nothing
/// afterwards, and still moves a batch that fits.
fn out_of_memory_then_reuse(pool: &MemoryPool, _rows: usize, seed: u64) -> Result<TransferOutcome> {
    let device = pool
        .device()
        .ok_or_else(|| CudaError::InvalidData("the OOM check needs a CUDA pool".to_string()))?;
    let tiny = MemoryPool::cuda(
        Arc::clone(device),
        PoolConfig {
            budget: Some(Budget::Bytes(1 << 20)),
            ..PoolConfig::default()
        },
    )?;
    let big = random_batch(100_000, 0, 0.1, seed);
    let refused = match DeviceBatch::upload(&tiny, &big) {
        Err(CudaError::OutOfMemory {
            requested,
            available,
        }) => {
            format!("refused: requested {requested}, available {available}")
        }
        Err(other) => return Err(other),
        Ok(_) => {
            return Ok(TransferOutcome {
                ok: false,
                bytes: 0,
                wall_ms: 0.0,
                detail: "a 100k-row batch fitted in a 1 MiB budget".to_string(),
            });
        }
    };
    let leaked = tiny.stats().in_use;
    let small = random_batch(100, 0, 0.1, seed);
    let mut outcome = compare_round_trip(&tiny, &small)?;
    outcome.ok &= leaked == 0;
    outcome.detail = format!(
        "{refused}; held after refusal: {leaked} bytes; then {}",
        outcome.detail
    );
    Ok(outcome)
}

fn compare_round_trip(pool: &MemoryPool, batch: &RecordBatch) -> Result<TransferOutcome> {
    let started = Instant::now();
    let on_device = DeviceBatch::upload(pool, batch)?;
    let back = on_device.download(pool)?;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let bytes = on_device.pool_bytes();
    let ok = back == *batch;
    let peak = pool.stats().peak;
    drop(on_device);
    let held = pool.stats().in_use;
    Ok(TransferOutcome {
        ok: ok && held == 0,
        bytes,
        wall_ms,
        detail: if ok {
            format!(
                "{} rows equal; pool peak {peak} bytes, {held} held after drop",
                batch.num_rows()
            )
        } else {
            "downloaded batch differs from the uploaded one".to_string()
        },
    })
}
