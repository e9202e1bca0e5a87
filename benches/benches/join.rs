//! Device hash join build and probe, keys already on the device.
//!
//! Int64 keys; build 1M and 15M rows with 1 or 4 rows per key; probe 60M rows
//! (`CINDER_BENCH_JOIN_PROBE_ROWS` overrides) whose keys hit the build side 100% or 1% of the
//! time. `build` is `build_device` (group numbering, counts, scan, fill); `probe` is
//! `probe_device` plus every chunk of pairs, copied back to the host as `CinderHashJoinExec`
//! receives them (the probe offsets come back only when the pairs take more than one chunk),
//! and again with the pairs left on the device (`next_chunk_on_device`). `gather` takes 60M
//! random rows of a 15M-row batch on the device (`gather_batch`), fixed-width columns and a
//! string column apart. Reported as keys, probe rows or output rows per second. Targets on an H100 for 15M x 60M: build >= 2 G
//! keys/s, probe >= 4 G probes/s; compare with the device's copy bandwidth printed first.
//!
//! Without a CUDA device it says the benchmark was skipped.

use std::hint::black_box;

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use cinder_cuda::{DeviceBatch, DeviceColumn};
use cinder_kernels::join::NullMatch;
use cinder_kernels::join::device::{build_device, probe_device};
use cinder_kernels::join::gather::{DeviceIndices, gather_batch};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};

mod common;

fn main() {
    let Some(common::Bench {
        device,
        kernels,
        pool,
    }) = common::device_or_skip("join")
    else {
        return;
    };
    let probe_rows: usize = common::env_or("CINDER_BENCH_JOIN_PROBE_ROWS", 60_000_000);
    let mut criterion = Criterion::default().configure_from_args().sample_size(10);
    let scatter = |i: u64, n: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % n;
    for build_rows in [1_000_000usize, 15_000_000] {
        for per_key in [1usize, 4] {
            let distinct = (build_rows / per_key) as u64;
            let build_keys =
                Int64Array::from_iter_values((0..build_rows as u64).map(|i| (i % distinct) as i64));
            let upload = |a: &Int64Array| DeviceColumn::upload(&pool, a).expect("upload");
            let mut group = criterion
                .benchmark_group(format!("join/build {build_rows} rows, {per_key} per key"));
            group.throughput(Throughput::Elements(build_rows as u64));
            // The hash table, and the dense-key path (the keys are 0..distinct).
            let dense = Some((0i64, distinct as i64 - 1));
            for (label, path) in [("hash table", None), ("dense keys", dense)] {
                group.bench_function(BenchmarkId::new("build", label), |b| {
                    // The keys' upload is set-up, outside the timing.
                    b.iter_batched(
                        || vec![upload(&build_keys)],
                        |keys| {
                            black_box(
                                build_device(
                                    &kernels,
                                    &pool,
                                    keys,
                                    build_rows,
                                    NullMatch::NullEqualsNothing,
                                    path,
                                )
                                .expect("build"),
                            )
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
            group.finish();
            let builds: Vec<(&str, _)> = [("hash table", None), ("dense keys", dense)]
                .into_iter()
                .map(|(label, path)| {
                    let build = build_device(
                        &kernels,
                        &pool,
                        vec![upload(&build_keys)],
                        build_rows,
                        NullMatch::NullEqualsNothing,
                        path,
                    )
                    .expect("build");
                    (label, build)
                })
                .collect();
            let mut group = criterion.benchmark_group(format!(
                "join/probe {probe_rows} rows against {build_rows}, {per_key} per key"
            ));
            group.throughput(Throughput::Elements(probe_rows as u64));
            for (label, hit_percent) in [("100% match", 100u64), ("1% match", 1)] {
                let probe_keys = Int64Array::from_iter_values((0..probe_rows as u64).map(|i| {
                    let key = scatter(i, distinct) as i64;
                    if scatter(i ^ 0x5555, 100) < hit_percent {
                        key
                    } else {
                        key + distinct as i64
                    }
                }));
                let probe = upload(&probe_keys);
                drop(probe_keys);
                device.synchronize_copies().expect("synchronise");
                for (path, build) in &builds {
                    group.bench_function(BenchmarkId::new(format!("probe, {path}"), label), |b| {
                        b.iter(|| {
                            let mut prober =
                                probe_device(&kernels, &pool, build, &[&probe], probe_rows)
                                    .expect("probe");
                            let mut pairs = 0usize;
                            while let Some(chunk) =
                                prober.next_chunk(&kernels, &pool, 1 << 24).expect("chunk")
                            {
                                pairs += chunk.build.len();
                            }
                            black_box(pairs)
                        })
                    });
                    // The pairs left on the device, for a filter and gather there (the
                    // kernels' own rate: no pair crosses the bus).
                    group.bench_function(
                        BenchmarkId::new(format!("probe, {path}, pairs on the device"), label),
                        |b| {
                            b.iter(|| {
                                let mut prober =
                                    probe_device(&kernels, &pool, build, &[&probe], probe_rows)
                                        .expect("probe");
                                let mut pairs = 0usize;
                                while let Some(chunk) = prober
                                    .next_chunk_on_device(&kernels, &pool, 1 << 24)
                                    .expect("chunk")
                                {
                                    pairs += chunk.len();
                                }
                                device.synchronize().expect("synchronise");
                                black_box(pairs)
                            })
                        },
                    );
                }
            }
            group.finish();
        }
    }
    // The gather of a 15M x 60M join's build side: 60M random rows of 15M, fixed-width
    // columns (Int64, Decimal128, Date32) and a short string column.
    let source_rows = 15_000_000usize;
    let mut group =
        criterion.benchmark_group(format!("join/gather {probe_rows} rows of {source_rows}"));
    group.throughput(Throughput::Elements(probe_rows as u64));
    let source = RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(Int64Array::from_iter_values(0..source_rows as i64)) as ArrayRef,
        ),
        (
            "price",
            Arc::new(
                Decimal128Array::from_iter_values((0..source_rows as i128).map(|i| i * 101))
                    .with_precision_and_scale(15, 2)
                    .expect("decimal"),
            ),
        ),
        (
            "date",
            Arc::new(Date32Array::from_iter_values(
                (0..source_rows as i32).map(|i| 8000 + i % 2500),
            )),
        ),
        (
            "flag",
            Arc::new(StringArray::from_iter_values(
                (0..source_rows).map(|i| ["A", "N", "R", "O"][i % 4]),
            )),
        ),
    ])
    .expect("source batch");
    let on_device = DeviceBatch::upload(&pool, &source).expect("upload");
    drop(source);
    let indices: Vec<Option<u32>> = (0..probe_rows as u64)
        .map(|i| Some(scatter(i, source_rows as u64) as u32))
        .collect();
    let indices = DeviceIndices::upload(&pool, &indices).expect("indices");
    device.synchronize_copies().expect("synchronise");
    for (label, columns) in [
        ("Int64, Decimal128, Date32", vec![0, 1, 2]),
        ("Utf8", vec![3]),
    ] {
        let batch = on_device.project(&columns).expect("projection");
        group.bench_function(BenchmarkId::new("gather", label), |b| {
            b.iter(|| {
                let out = gather_batch(&kernels, &pool, &batch, &indices).expect("gather");
                device.synchronize().expect("synchronise");
                black_box(out.num_rows())
            })
        });
    }
    group.finish();
    criterion.final_summary();
}
