//! Resident tables ([`ResidentTable`]): loaded once, scanned by Cinder's operators; answers equal
//! DataFusion's over the same rows in a `MemTable`. CI has no GPU, so these run in host and
//! cpu modes (the device path is checked by `cinder tpch --resident` on a GPU).

use std::sync::Arc;

use datafusion::arrow::array::{
    Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::TableProvider;
use datafusion::common::stats::Precision;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

use cinder_planner::{CinderConfig, DeviceChoice, ExecutionMode, ResidentTable, with_cinder};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("g", DataType::Int64, true),
        Field::new("d", DataType::Decimal128(15, 2), true),
        Field::new("dt", DataType::Date32, true),
        Field::new("s", DataType::Utf8, true),
    ]))
}

/// `rows` rows from key `start`, with nulls, duplicates and edge values.
fn batch(start: i64, rows: i64) -> RecordBatch {
    let ks = start..start + rows;
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ks.clone())),
            Arc::new(Int64Array::from_iter(ks.clone().map(|k| match k % 11 {
                0 => None,
                1 => Some(i64::MAX),
                2 => Some(i64::MIN),
                _ => Some(k % 5),
            }))),
            Arc::new(
                Decimal128Array::from_iter(
                    ks.clone()
                        .map(|k| (k % 17 != 0).then_some(i128::from(k * 7919 % 100_000))),
                )
                .with_precision_and_scale(15, 2)
                .unwrap(),
            ),
            Arc::new(Date32Array::from_iter(ks.clone().map(|k| {
                (k % 13 != 0).then_some(8_000 + (k * 37 % 2_500) as i32)
            }))),
            Arc::new(StringArray::from_iter(
                ks.map(|k| (k % 7 != 0).then(|| format!("s{}", k % 50))),
            )),
        ],
    )
    .unwrap()
}

/// Uneven input batches (one empty) adding up to 5,200 rows.
fn batches() -> Vec<RecordBatch> {
    vec![
        batch(0, 2000),
        batch(2000, 0),
        batch(2000, 1500),
        batch(3500, 1700),
    ]
}

fn session(device: Option<DeviceChoice>) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(3);
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let builder = match device {
        Some(device) => {
            let mut cinder = CinderConfig::default();
            cinder.device = device;
            cinder.min_rows = 0;
            with_cinder(builder, cinder)
        }
        None => builder,
    };
    SessionContext::new_with_state(builder.build())
}

fn resident(mode: &ExecutionMode, partitions: usize, batch_rows: usize) -> ResidentTable {
    ResidentTable::load("t", schema(), batches(), mode, partitions, batch_rows).unwrap()
}

async fn answer(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

async fn explain(ctx: &SessionContext, sql: &str) -> String {
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    displayable(plan.as_ref()).indent(true).to_string()
}

const QUERIES: &[&str] = &[
    "SELECT k, d * 2 AS d2 FROM t WHERE g = 3 AND s LIKE 's1%' ORDER BY k",
    "SELECT g, count(*) AS n, sum(d) AS sd, min(dt) AS first, max(s) AS last FROM t \
     GROUP BY g ORDER BY g",
    "SELECT count(*), sum(k), avg(d) FROM t WHERE dt >= DATE '1992-01-01'",
    "SELECT k + 1 AS k1, s FROM t ORDER BY k1 DESC LIMIT 7",
    "SELECT a.k, b.s FROM t a JOIN t b ON a.k = b.k + 1 WHERE a.g = 2 ORDER BY a.k",
    "SELECT s, count(*) FROM t WHERE d > (SELECT avg(d) FROM t) GROUP BY s ORDER BY s",
];

/// Every query gives DataFusion's answer over the same rows in a `MemTable`, in host mode (the
/// scan under Cinder's operators) and with no device, however the table was cut up.
#[tokio::test]
async fn answers_match_datafusion_in_every_layout() {
    let plain = session(None);
    let mem = MemTable::try_new(schema(), vec![batches()]).unwrap();
    plain.register_table("t", Arc::new(mem)).unwrap();
    let cpu = ExecutionMode::Cpu {
        reason: "a test".to_string(),
    };
    for (mode, device) in [
        (ExecutionMode::Host, DeviceChoice::Host),
        (cpu, DeviceChoice::Auto),
    ] {
        for (partitions, batch_rows) in [(1, 1 << 20), (3, 1000), (8, 777), (2, 1)] {
            let ctx = session(Some(device));
            let table = resident(&mode, partitions, batch_rows);
            assert_eq!(table.num_rows(), 5200);
            assert_eq!(table.location(), "host");
            assert_eq!(table.device_bytes(), 0);
            ctx.register_table("t", Arc::new(table)).unwrap();
            for sql in QUERIES {
                assert_eq!(
                    answer(&ctx, sql).await,
                    answer(&plain, sql).await,
                    "{mode}, {partitions} partitions of {batch_rows}-row batches: {sql}"
                );
            }
        }
    }
}

/// The scan is the leaf Cinder's operators read, with the table's exact statistics.
#[tokio::test]
async fn the_scan_shows_in_explain_under_cinder_operators() {
    let ctx = session(Some(DeviceChoice::Host));
    ctx.register_table("t", Arc::new(resident(&ExecutionMode::Host, 3, 1000)))
        .unwrap();
    let plan = explain(&ctx, "SELECT g, sum(d) FROM t WHERE k > 10 GROUP BY g").await;
    assert!(
        plan.contains(
            "CinderResidentScanExec: table=t, in host memory, partitions=3, projection=[k, g, d]"
        ),
        "{plan}"
    );
    // The first stage, with the filter it absorbed, reads the scan directly: on a device it
    // would take the resident batches where they are.
    let lines: Vec<&str> = plan.lines().map(str::trim).collect();
    let scan = lines
        .iter()
        .position(|l| l.starts_with("CinderResidentScanExec"))
        .unwrap();
    assert!(
        lines[scan - 1].starts_with("CinderAggregateExec: mode=Partial")
            && lines[scan - 1].contains("over CinderFilterExec"),
        "{plan}"
    );
}

#[tokio::test]
async fn statistics_are_exact_and_partitions_take_batches_in_turn() {
    let table = resident(&ExecutionMode::Host, 3, 1000);
    let stats = table.statistics().unwrap();
    assert_eq!(stats.num_rows, Precision::Exact(5200));
    // Nulls in g: keys 0, 11, 22, ... below 5200.
    assert_eq!(
        stats.column_statistics[1].null_count,
        Precision::Exact(5200usize.div_ceil(11))
    );
    assert_eq!(stats.column_statistics[0].null_count, Precision::Exact(0));

    // Six batches (five of 1000 rows, one of 200) over three partitions: 2000, 2000, 1200.
    let ctx = session(Some(DeviceChoice::Host));
    ctx.register_table("t", Arc::new(table)).unwrap();
    let plan = ctx
        .sql("SELECT k FROM t")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let mut per_partition = Vec::new();
    for p in 0..3 {
        let stream = plan.execute(p, ctx.task_ctx()).unwrap();
        let out = datafusion::physical_plan::common::collect(stream)
            .await
            .unwrap();
        // Handed out in slices of the session's batch size (8192 here, so whole batches).
        per_partition.push(out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>());
    }
    assert_eq!(
        per_partition,
        vec![vec![1000, 1000], vec![1000, 1000], vec![1000, 200]]
    );
}

#[tokio::test]
async fn bad_loads_are_clear_errors() {
    let err = ResidentTable::load("t", schema(), batches(), &ExecutionMode::Host, 0, 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("partitions (0)"), "{err}");
    let other = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let err = ResidentTable::load("t", other, batches(), &ExecutionMode::Host, 1, 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("schema differs"), "{err}");
    // An empty table is fine, and scans as empty.
    let empty = ResidentTable::load("e", schema(), vec![], &ExecutionMode::Host, 4, 10).unwrap();
    assert_eq!(empty.num_rows(), 0);
    let ctx = session(Some(DeviceChoice::Host));
    ctx.register_table("e", Arc::new(empty)).unwrap();
    assert_eq!(
        answer(&ctx, "SELECT count(*) AS n, sum(k) AS s FROM e").await,
        answer(
            &ctx,
            "SELECT count(*) AS n, sum(k) AS s FROM (SELECT 1 AS k) WHERE k > 1"
        )
        .await
    );
    // Asking for the device where there is none says so.
    if cinder_cuda::probe(0).is_err() {
        let err = ResidentTable::load(
            "t",
            schema(),
            batches(),
            &ExecutionMode::Cuda { ordinal: 0 },
            1,
            10,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CUDA device 0 cannot run Cinder"), "{err}");
    }
}
