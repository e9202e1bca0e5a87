//! Device hash join build and probe, keys already on the device.
//!
//! Int64 keys; build 1M and 15M rows with 1 or 4 rows per key; probe 60M rows
//! (`CINDER_BENCH_JOIN_PROBE_ROWS` overrides) whose keys hit the build side 100% or 1% of the
//! time. `build` is `build_device` (group numbering, counts, scan, fill); `probe` is
//! `probe_device` plus every chunk of pairs, copied back to the host as `CinderHashJoinExec`
//! receives them (the probe offsets come back too, to cut chunks: 8 bytes per probe row).
//! Reported as keys or probe rows per second. Targets on an H100 for 15M x 60M: build >= 2 G
//! keys/s, probe >= 4 G probes/s; compare with the device's copy bandwidth printed first.
//!
//! Without a CUDA device it says the benchmark was skipped.

use std::hint::black_box;

use arrow::array::Int64Array;
use cinder_cuda::DeviceColumn;
use cinder_kernels::join::NullMatch;
use cinder_kernels::join::device::{build_device, probe_device};
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
                }
            }
            group.finish();
        }
    }
    criterion.final_summary();
}
