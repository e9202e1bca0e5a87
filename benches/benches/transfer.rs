//! Host <-> device transfer throughput: pageable vs pinned (double-buffered staging), for
//! one Int64 column of 64K to 16M rows, each direction.
//!
//! Also prints, from the same run, a plain `cuMemcpy` of one pinned 1 GiB buffer: Cinder's
//! staged transfers are judged against it (target on an H100: pinned >= 80% of it).
//! Without a CUDA device it says the benchmark was skipped.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array};
use cinder_cuda::{DeviceColumn, MemoryPool, PoolConfig, TransferMode};
use criterion::{BenchmarkId, Criterion, Throughput};

/// The `cinder` binary's allocator (see src/main.rs): with glibc's, each download's fresh
/// 128 MiB host buffer paid a page fault per 4 KiB, which capped d2h near 1.3 GB/s on an H100
/// machine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: [usize; 3] = [64 << 10, 1 << 20, 16 << 20];
const BASELINE_BYTES: usize = 1 << 30;

fn main() {
    let device = match cinder_cuda::probe(0) {
        Ok(device) => Arc::new(device),
        Err(e) => {
            println!("transfer benchmark skipped: no CUDA device ({e})");
            return;
        }
    };
    println!("device: {}", device.info());
    match device.pinned_copy_gbps(BASELINE_BYTES, 10) {
        Ok((h2d, d2h)) => println!(
            "baseline: plain cuMemcpy of one pinned 1 GiB buffer: host->device {h2d:.1} GB/s, device->host {d2h:.1} GB/s"
        ),
        Err(e) => println!("baseline not measured: {e}"),
    }
    let mut criterion = Criterion::default().configure_from_args();
    for mode in [TransferMode::Pageable, TransferMode::Pinned] {
        let pool = MemoryPool::cuda(
            Arc::clone(&device),
            PoolConfig {
                transfer: mode,
                ..PoolConfig::default()
            },
        )
        .expect("a device memory pool");
        let label = format!("{mode:?}").to_lowercase();
        let mut group = criterion.benchmark_group(format!("transfer/{label}"));
        for rows in ROWS {
            // Distinct, non-zero values with some nulls, as real columns have.
            let array: ArrayRef = Arc::new(Int64Array::from_iter(
                (0..rows as i64).map(|i| (i % 97 != 0).then_some(i * 7919)),
            ));
            let bytes = array.get_buffer_memory_size();
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_with_input(
                BenchmarkId::new("h2d", format!("rows={rows}")),
                &array,
                |b, array| {
                    b.iter(|| {
                        let column = DeviceColumn::upload(&pool, array.as_ref()).expect("upload");
                        device.synchronize_copies().expect("synchronise");
                        black_box(column)
                    })
                },
            );
            let column = DeviceColumn::upload(&pool, array.as_ref()).expect("upload");
            group.bench_with_input(
                BenchmarkId::new("d2h", format!("rows={rows}")),
                &column,
                |b, column| b.iter(|| black_box(column.download(&pool).expect("download"))),
            );
        }
        group.finish();
    }
    criterion.final_summary();
}
