//! Device filter and expressions, data already on the device.
//!
//! 1. Filter at selectivities 0.1%, 10%, 50%, 90% and 100% over 16M rows of four fixed-width
//!    columns (Int64 key, Int64, Float64, Decimal128(15, 2)): predicate evaluation, count,
//!    scan and compaction of every column. Reported as bytes read + written per second, next
//!    to the device's copy bandwidth measured in the same run (target on an H100: >= 60%).
//! 2. TPC-H Q6's predicate and its revenue projection (`l_extendedprice * l_discount` on the
//!    rows the predicate keeps), and Q1's predicate and charge expressions, over lineitem at
//!    `CINDER_BENCH_SF` (default 10) generated in-process (target on an H100: Q6 <= 5 ms at
//!    SF10).
//!
//! Without a CUDA device it says the benchmark was skipped.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int64Array, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cinder_cuda::{Device, DeviceBatch, MemoryPool};
use cinder_kernels::DeviceKernels;
use cinder_kernels::expr::program_from_sql;
use cinder_kernels::filter::{filter_device, project_device, results_schema};
use criterion::{BenchmarkId, Criterion, Throughput};

const ROWS: usize = 16 << 20;
const KEY_RANGE: i64 = 1_000_000;

mod common;

fn main() {
    let Some(common::Bench {
        device,
        kernels,
        pool,
    }) = common::device_or_skip("filter")
    else {
        return;
    };
    let mut criterion = Criterion::default().configure_from_args().sample_size(20);
    selectivities(&mut criterion, &device, &kernels, &pool);
    tpch_expressions(&mut criterion, &device, &kernels, &pool);
    criterion.final_summary();
}

fn selectivities(c: &mut Criterion, device: &Device, kernels: &DeviceKernels, pool: &MemoryPool) {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, true),
        Field::new("x", DataType::Float64, false),
        Field::new("m", DataType::Decimal128(15, 2), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        // A permutation-like spread of keys over [0, KEY_RANGE).
        Arc::new(Int64Array::from_iter_values(
            (0..ROWS as i64).map(|i| (i * 7919) % KEY_RANGE),
        )),
        Arc::new(Int64Array::from_iter(
            (0..ROWS as i64).map(|i| (i % 101 != 0).then_some(i)),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..ROWS).map(|i| i as f64 * 0.5),
        )),
        Arc::new(
            Decimal128Array::from_iter((0..ROWS as i128).map(|i| (i % 53 != 0).then_some(i * 3)))
                .with_precision_and_scale(15, 2)
                .expect("a decimal type"),
        ),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).expect("a batch");
    let on_device = DeviceBatch::upload(pool, &batch).expect("upload");
    device.synchronize_copies().expect("synchronise");
    let row_bytes: usize = 8 + 8 + 8 + 16;
    let mut group = c.benchmark_group("filter/16M rows, 4 columns");
    for (label, fraction) in [
        ("0.1%", 0.001),
        ("10%", 0.1),
        ("50%", 0.5),
        ("90%", 0.9),
        ("100%", 1.0),
    ] {
        let threshold = (KEY_RANGE as f64 * fraction) as i64;
        let predicate = program_from_sql(&format!("k < {threshold}"), &schema).expect("a program");
        // Read: the key for the predicate plus every column; written: the kept rows.
        let bytes = ROWS * (8 + row_bytes) + (ROWS as f64 * fraction) as usize * row_bytes;
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::new("selectivity", label), |b| {
            b.iter(|| {
                black_box(filter_device(kernels, pool, &predicate, &on_device).expect("filter"))
            })
        });
    }
    group.finish();
}

fn tpch_expressions(
    c: &mut Criterion,
    device: &Device,
    kernels: &DeviceKernels,
    pool: &MemoryPool,
) {
    let scale: f64 = common::env_or("CINDER_BENCH_SF", 10.0);
    let started = std::time::Instant::now();
    let lineitem = lineitem(scale);
    println!(
        "lineitem SF{scale}: {} rows generated in {:.1} s",
        lineitem.num_rows(),
        started.elapsed().as_secs_f64()
    );
    let schema = lineitem.schema();
    let on_device = DeviceBatch::upload(pool, &lineitem).expect("upload");
    device.synchronize_copies().expect("synchronise");
    let q6_predicate = program_from_sql(
        "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR \
         AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24",
        &schema,
    )
    .expect("Q6's predicate translates");
    let revenue = program_from_sql("l_extendedprice * l_discount", &schema).expect("revenue");
    let revenue_schema = Arc::new(Schema::new(vec![Field::new(
        "revenue",
        revenue.result_arrow_type(),
        true,
    )]));
    let q1_predicate = program_from_sql(
        "l_shipdate <= DATE '1998-12-01' - INTERVAL '90' DAY",
        &schema,
    )
    .expect("Q1's predicate translates");
    let q1_exprs = [
        "l_extendedprice * (1 - l_discount)",
        "l_extendedprice * (1 - l_discount) * (1 + l_tax)",
    ]
    .map(|sql| program_from_sql(sql, &schema).expect("Q1's expressions translate"));
    let q1_schema = results_schema(&q1_exprs);

    let mut group = c.benchmark_group(format!("tpch/lineitem SF{scale} on the device"));
    group.throughput(Throughput::Elements(lineitem.num_rows() as u64));
    group.bench_function("q6 predicate + revenue", |b| {
        b.iter(|| {
            let kept = filter_device(kernels, pool, &q6_predicate, &on_device).expect("filter");
            black_box(
                project_device(
                    kernels,
                    pool,
                    std::slice::from_ref(&revenue),
                    &kept,
                    Arc::clone(&revenue_schema),
                )
                .expect("project"),
            )
        })
    });
    group.bench_function("q1 predicate + charge expressions", |b| {
        b.iter(|| {
            let kept = filter_device(kernels, pool, &q1_predicate, &on_device).expect("filter");
            black_box(
                project_device(kernels, pool, &q1_exprs, &kept, Arc::clone(&q1_schema))
                    .expect("project"),
            )
        })
    });
    group.finish();
}

/// The lineitem columns Q1 and Q6 compute on (no strings), generated on all cores.
fn lineitem(scale: f64) -> RecordBatch {
    use tpchgen::generators::LineItemGenerator;
    use tpchgen_arrow::LineItemArrow;
    let parts = std::thread::available_parallelism().map_or(4, |n| n.get());
    let names = [
        "l_quantity",
        "l_extendedprice",
        "l_discount",
        "l_tax",
        "l_shipdate",
    ];
    let batches: Vec<RecordBatch> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=parts)
            .map(|part| {
                scope.spawn(move || {
                    let generator = LineItemArrow::new(LineItemGenerator::new(
                        scale,
                        part as i32,
                        parts as i32,
                    ))
                    .with_batch_size(1 << 20);
                    let schema = LineItemArrow::schema_ref();
                    let indices: Vec<usize> = names
                        .iter()
                        .map(|n| schema.index_of(n).expect("a lineitem column"))
                        .collect();
                    generator
                        .map(|batch| {
                            batch
                                .expect("generated lineitem")
                                .project(&indices)
                                .expect("projection")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a generator thread"))
            .collect()
    });
    let schema = batches[0].schema();
    concat_batches(&schema, &batches).expect("one batch")
}
