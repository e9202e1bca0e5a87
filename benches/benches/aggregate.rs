//! Device hash aggregation, data already on the device.
//!
//! `GROUP BY k` with `count(*)`, `sum(v)` (Int64) and `sum(d)` (Decimal128(15, 2)) over 60M
//! rows (`CINDER_BENCH_AGG_ROWS` overrides) with 4, 1K, 1M and 15M groups: group numbering
//! (hash table, first-row compaction), accumulation (shared memory for few groups, global
//! atomics for many) and the copy of the group keys and results back to the host, which is
//! what `CinderAggregateExec` does per batch; then each phase alone: numbering (with the
//! copy of the keys back) and accumulation (with the copy of the results back). Reported as
//! rows per second and as bytes read per second next to the device's copy bandwidth
//! measured in the same run. Targets on an H100: 4 groups >= 50% of copy bandwidth; 15M
//! groups >= 1 G rows/s. A no-GROUP-BY sum is measured too.
//!
//! Without a CUDA device it says the benchmark was skipped.

use std::hint::black_box;

use arrow::array::{Decimal128Array, Int64Array};
use cinder_cuda::DeviceColumn;
use cinder_kernels::aggregate::device::{accumulate_device, aggregate_device, group_device};
use cinder_kernels::aggregate::{Op, OpKind, ValueRead};
use criterion::{BenchmarkId, Criterion, Throughput};

mod common;

fn main() {
    let Some(common::Bench {
        device,
        kernels,
        pool,
    }) = common::device_or_skip("aggregate")
    else {
        return;
    };
    let rows: usize = common::env_or("CINDER_BENCH_AGG_ROWS", 60_000_000);
    let mut criterion = Criterion::default().configure_from_args().sample_size(10);

    let values = Int64Array::from_iter(
        (0..rows as i64).map(|i| (i % 97 != 0).then_some(i % 1_000_003 - 500_000)),
    );
    let decimals = Decimal128Array::from_iter(
        (0..rows as i128).map(|i| (i % 89 != 0).then_some(i % 10_000_019)),
    )
    .with_precision_and_scale(15, 2)
    .expect("a decimal type");
    let v = DeviceColumn::upload(&pool, &values).expect("upload");
    let d = DeviceColumn::upload(&pool, &decimals).expect("upload");
    drop((values, decimals));
    let ops = [
        Op {
            kind: OpKind::Count,
            input: None,
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Sum64,
            input: Some(0),
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Sum128,
            input: Some(1),
            read: ValueRead::I128,
        },
    ];
    // Bytes read per row: the key, the Int64 and the decimal value, and their validity.
    let read_per_row = 8 + 8 + 16;
    let mut group = criterion.benchmark_group(format!(
        "aggregate/{rows} rows, count + sum(int64) + sum(decimal)"
    ));
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("no group by", |b| {
        b.iter(|| {
            black_box(
                aggregate_device(&kernels, &pool, &[], &[&v, &d], &ops, rows).expect("aggregate"),
            )
        })
    });
    for groups in [4usize, 1_000, 1_000_000, 15_000_000] {
        // Keys spread over the rows (not sorted), every group about the same size.
        let keys = Int64Array::from_iter_values(
            (0..rows as u64)
                .map(|i| ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) % groups as u64) as i64),
        );
        let k = DeviceColumn::upload(&pool, &keys).expect("upload");
        drop(keys);
        device.synchronize_copies().expect("synchronise");
        group.bench_function(BenchmarkId::new("groups", groups), |b| {
            b.iter(|| {
                black_box(
                    aggregate_device(&kernels, &pool, &[&k], &[&v, &d], &ops, rows)
                        .expect("aggregate"),
                )
            })
        });
        // The two phases apart, to see where the time goes: group numbering (with the copy
        // of the group keys back), then accumulation (with the copy of the results back).
        group.bench_function(BenchmarkId::new("numbering only, groups", groups), |b| {
            b.iter(|| {
                let numbered = group_device(&kernels, &pool, &[&k], rows).expect("numbering");
                device.synchronize().expect("synchronise");
                black_box(numbered)
            })
        });
        let numbered = group_device(&kernels, &pool, &[&k], rows).expect("numbering");
        group.bench_function(BenchmarkId::new("accumulation only, groups", groups), |b| {
            b.iter(|| {
                black_box(
                    accumulate_device(
                        &kernels,
                        &pool,
                        &ops,
                        &[&v, &d],
                        numbered.ids.as_ref(),
                        numbered.count,
                        rows,
                    )
                    .expect("accumulate"),
                )
            })
        });
    }
    group.finish();
    println!("bytes read per row: {read_per_row} (GB/s = rows/s x {read_per_row} / 1e9)");
    criterion.final_summary();
}
