//! The optimizer rule end to end on the host path: answers equal plain DataFusion's, EXPLAIN
//! shows what moved and why the rest stayed, and a failing query leaves the session usable.

use std::sync::Arc;

use datafusion::arrow::array::{
    BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::SessionContext;

use cinder_planner::{CinderConfig, DeviceChoice, Placement, placements, with_cinder};

/// Three batches of a small table with decimals, dates, strings, booleans and nulls.
fn table() -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("d", DataType::Decimal128(15, 2), true),
        Field::new("dsc", DataType::Decimal128(15, 2), false),
        Field::new("dt", DataType::Date32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
    ]));
    let batch = |start: i64, rows: i64| {
        let ks = start..start + rows;
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(ks.clone())),
                Arc::new(
                    Decimal128Array::from_iter(
                        ks.clone()
                            .map(|k| (k % 17 != 0).then_some(i128::from(k * 7919 % 100_000))),
                    )
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
                ),
                Arc::new(
                    Decimal128Array::from_iter_values(ks.clone().map(|k| i128::from(k % 11)))
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
                Arc::new(Date32Array::from_iter(ks.clone().map(|k| {
                    (k % 13 != 0).then_some(8_000 + (k * 37 % 2_500) as i32)
                }))),
                Arc::new(StringArray::from_iter(
                    ks.clone()
                        .map(|k| (k % 7 != 0).then(|| format!("s{}", k % 50))),
                )),
                Arc::new(BooleanArray::from_iter(
                    ks.map(|k| (k % 5 != 0).then_some(k % 3 == 0)),
                )),
            ],
        )
        .unwrap()
    };
    MemTable::try_new(
        Arc::clone(&schema),
        vec![
            vec![batch(0, 2000), batch(2000, 1500)],
            vec![batch(3500, 1700)],
        ],
    )
    .unwrap()
}

fn cinder(device: DeviceChoice, min_rows: usize) -> SessionContext {
    let mut config = CinderConfig::default();
    config.device = device;
    config.min_rows = min_rows;
    let state = with_cinder(SessionStateBuilder::new().with_default_features(), config).build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("t", Arc::new(table())).unwrap();
    ctx
}

fn plain() -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(table())).unwrap();
    ctx
}

async fn plan(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    ctx.sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap()
}

async fn answer(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

const QUERIES: &[&str] = &[
    "SELECT k, d * (1 - dsc) AS r FROM t WHERE dsc BETWEEN 0.02 AND 0.05 AND k % 3 = 1 ORDER BY k",
    "SELECT s, k + 1 AS k1 FROM t WHERE dt >= DATE '1992-01-01' \
     AND dt < DATE '1992-01-01' + INTERVAL '1' YEAR ORDER BY k1",
    "SELECT k, CASE WHEN flag THEN d ELSE 0 END AS c, extract(year FROM dt) AS y FROM t \
     WHERE k > 100 AND flag IS NOT NULL ORDER BY k",
    "SELECT extract(year FROM dt) AS y, sum(d * (1 - dsc)) AS rev, count(*) AS n FROM t \
     WHERE k < 4000 GROUP BY extract(year FROM dt) ORDER BY y",
    "SELECT k, substr(s, 2, 1) AS tail, CASE WHEN flag THEN s ELSE 'none' END AS label FROM t \
     WHERE s LIKE 's1%' ORDER BY k",
    // Scalar subqueries: the predicate is translated once their values are known.
    "SELECT k, d FROM t WHERE d > (SELECT avg(d) FROM t) * 1.5 \
     AND dt < (SELECT max(dt) FROM t WHERE k < 100) ORDER BY k",
];

#[tokio::test]
async fn host_mode_answers_match_datafusion_and_filters_move() {
    let (ours, theirs) = (cinder(DeviceChoice::Host, 0), plain());
    for sql in QUERIES {
        assert_eq!(
            answer(&ours, sql).await,
            answer(&theirs, sql).await,
            "{sql}"
        );
        let moved = placements(&plan(&ours, sql).await);
        assert!(
            moved.iter().any(|p| p.operator.starts_with("CinderFilter")),
            "{sql}: {moved:?}"
        );
    }
}

#[tokio::test]
async fn explain_shows_what_moved_and_why_the_rest_stayed() {
    let ctx = cinder(DeviceChoice::Host, 0);
    let sql = "SELECT s, median(k) FROM t WHERE upper(s) = 'S1' AND k > 3 GROUP BY s";
    let plan = plan(&ctx, sql).await;
    let text = displayable(plan.as_ref()).indent(true).to_string();
    assert!(
        text.contains("cinder: stays on CPU: aggregate median(t.k): median is not supported"),
        "{text}"
    );
    assert!(
        text.contains("cinder: stays on CPU: not supported on GPU: upper(s@1): function upper"),
        "{text}"
    );
    let placed = placements(&plan);
    assert!(placed.contains(&Placement {
        operator: "AggregateExec".to_string(),
        reason: Some("aggregate median(t.k): median is not supported".to_string()),
    }));

    // The same from SQL's EXPLAIN: a projection right over a filter runs fused.
    let explain = answer(&ctx, "EXPLAIN SELECT k * 2 FROM t WHERE k > 3").await;
    let fused = "CinderFilterProjectExec: filter=k@0 > 3, expr=[k@0 * 2 as t.k * Int64(2)] [host]";
    assert!(explain.contains(fused), "{explain}");
    // Without the filter on the device, the projection moves alone.
    let explain = answer(&ctx, "EXPLAIN SELECT k * 2 FROM t WHERE upper(s) = 'S1'").await;
    assert!(explain.contains("CinderProjectionExec"), "{explain}");
}

#[tokio::test]
async fn small_inputs_disabled_cinder_and_auto_without_a_gpu_stay_on_the_cpu() {
    let sql = "SELECT k FROM t WHERE k > 3";
    // The default cinder.min_rows (100000) is above the table's 5200 rows.
    let small = placements(&plan(&cinder(DeviceChoice::Host, 100_000), sql).await);
    assert!(
        small.iter().any(|p| p
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("below cinder.min_rows = 100000"))),
        "{small:?}"
    );

    let off = cinder(DeviceChoice::Host, 0);
    off.sql("SET cinder.enabled = false").await.unwrap();
    assert!(placements(&plan(&off, sql).await).is_empty());

    if cinder_cuda::probe(0).is_err() {
        let auto = cinder(DeviceChoice::Auto, 0);
        assert!(placements(&plan(&auto, sql).await).is_empty());
        assert_eq!(answer(&auto, sql).await, answer(&plain(), sql).await);
    }
}

#[tokio::test]
async fn a_failing_query_leaves_the_session_usable() {
    let ctx = cinder(DeviceChoice::Host, 0);
    let err = ctx
        .sql("SELECT k / (k - k) FROM t WHERE k > 3")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Divide by zero"), "{err}");
    assert!(
        plain()
            .sql("SELECT k / (k - k) FROM t WHERE k > 3")
            .await
            .unwrap()
            .collect()
            .await
            .is_err(),
        "DataFusion fails too"
    );
    let sql = QUERIES[0];
    assert_eq!(answer(&ctx, sql).await, answer(&plain(), sql).await);
}

#[tokio::test]
async fn an_injected_device_error_fails_only_that_query() {
    let ctx = cinder(DeviceChoice::Host, 0);
    let sql = QUERIES[0];
    ctx.sql("SET cinder.test_inject_failure = 'error'")
        .await
        .unwrap();
    let err = ctx.sql(sql).await.unwrap().collect().await.unwrap_err();
    assert!(err.to_string().contains("injected device failure"), "{err}");
    ctx.sql("SET cinder.test_inject_failure = 'none'")
        .await
        .unwrap();
    assert_eq!(answer(&ctx, sql).await, answer(&plain(), sql).await);
}

#[tokio::test]
async fn device_out_of_memory_splits_batches_then_falls_back_to_the_cpu() {
    let ctx = cinder(DeviceChoice::Host, 0);
    ctx.sql("SET cinder.test_inject_failure = 'oom'")
        .await
        .unwrap();
    for sql in QUERIES {
        assert_eq!(
            answer(&ctx, sql).await,
            answer(&plain(), sql).await,
            "{sql}"
        );
    }
    let analyzed = answer(
        &ctx,
        "EXPLAIN ANALYZE SELECT k, d * (1 - dsc) AS r FROM t WHERE k % 3 = 1",
    )
    .await;
    for metric in [
        "oom_splits=",
        "cpu_fallback_batches=",
        "oom_host_batches=",
        "bytes_to_device=",
    ] {
        assert!(analyzed.contains(metric), "{metric} missing: {analyzed}");
    }
    assert!(!analyzed.contains("cpu_fallback_batches=0"), "{analyzed}");
    // In host mode no batch is held on a device, so none goes to the host from one.
    assert!(analyzed.contains("oom_host_batches=0"), "{analyzed}");
}

#[tokio::test]
async fn per_operator_switches_work_from_sql() {
    let ctx = cinder(DeviceChoice::Host, 0);
    let sql = "SELECT k * 2 AS k2 FROM t WHERE k > 3";
    ctx.sql("SET cinder.filter_enabled = false").await.unwrap();
    let placed = placements(&plan(&ctx, sql).await);
    assert!(
        placed.contains(&Placement {
            operator: "FilterExec".to_string(),
            reason: Some("cinder.filter_enabled = false".to_string()),
        }),
        "{placed:?}"
    );
    assert!(
        placed.iter().any(|p| p.operator == "CinderProjectionExec"),
        "{placed:?}"
    );
    ctx.sql("SET cinder.projection_enabled = false")
        .await
        .unwrap();
    let placed = placements(&plan(&ctx, sql).await);
    assert!(placed.iter().all(|p| p.reason.is_some()), "{placed:?}");
    assert_eq!(answer(&ctx, sql).await, answer(&plain(), sql).await);
}

#[tokio::test]
async fn input_batches_are_coalesced_up_to_batch_rows() {
    use datafusion::physical_plan::collect_partitioned;
    let sql = "SELECT k, d * (1 - dsc) AS r FROM t WHERE k >= 0";
    let batches_with = |batch_rows: usize| async move {
        let ctx = cinder(DeviceChoice::Host, 0);
        ctx.sql(&format!("SET cinder.batch_rows = {batch_rows}"))
            .await
            .unwrap();
        let plan = plan(&ctx, sql).await;
        let parts = collect_partitioned(plan, ctx.task_ctx()).await.unwrap();
        let batches: Vec<&RecordBatch> = parts.iter().flatten().collect();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        (batches.len(), rows)
    };
    // The table holds 3 batches (2000 and 1500 rows in one partition, 1700 in the other).
    let (coalesced, rows) = batches_with(1 << 20).await;
    assert_eq!(rows, 5200);
    assert!(coalesced <= 2, "{coalesced} batches");
    let (small, rows) = batches_with(1000).await;
    assert_eq!(rows, 5200);
    assert!(small >= 3, "{small} batches");
}

/// EXPLAIN snapshots: which operators move, and why the rest stay, for fixed plans (two target
/// partitions, the in-memory table above). `CINDER_BLESS=1` rewrites the snapshots.
#[tokio::test]
async fn explain_snapshots() {
    use datafusion::prelude::SessionConfig;
    let queries = [
        (
            "filter_project_aggregate",
            "SELECT extract(year FROM dt) AS y, sum(d * (1 - dsc)) AS rev FROM t \
             WHERE dsc BETWEEN 0.02 AND 0.05 AND s LIKE 's1%' GROUP BY extract(year FROM dt)",
        ),
        (
            "unsupported_predicate",
            "SELECT k, upper(s) AS u FROM t WHERE upper(s) = 'S1' AND k > 3",
        ),
        (
            "fused_filter_projection",
            "SELECT k, d * (1 - dsc) AS r, s FROM t WHERE k % 3 = 1 AND dt > DATE '1992-06-01'",
        ),
        (
            "join",
            "SELECT a.k, b.d FROM t a JOIN t b ON a.k = b.k WHERE a.k % 2 = 0 AND b.dsc > 0.03",
        ),
    ];
    let mut config = CinderConfig::default();
    config.device = DeviceChoice::Host;
    config.min_rows = 0;
    let session = SessionConfig::new().with_target_partitions(2);
    let state = with_cinder(
        SessionStateBuilder::new()
            .with_config(session)
            .with_default_features(),
        config,
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("t", Arc::new(table())).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let bless = std::env::var_os("CINDER_BLESS").is_some();
    for (name, sql) in queries {
        let plan = plan(&ctx, sql).await;
        let text = format!("-- {sql}\n{}", displayable(plan.as_ref()).indent(true));
        let path = dir.join(format!("{name}.txt"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with CINDER_BLESS=1)", path.display()));
        assert_eq!(
            text, expected,
            "{name}: EXPLAIN changed (CINDER_BLESS=1 rewrites)"
        );
    }
}

#[tokio::test]
async fn min_rows_sees_through_nodes_that_stayed_and_the_rule_runs_once() {
    // The filter stays (upper is not supported); the projection above it sees the filter's
    // estimate (a fraction of 5200 rows), not an unknown, and stays below min_rows too.
    let ctx = cinder(DeviceChoice::Host, 100_000);
    let sql = "SELECT k * 2 AS k2 FROM t WHERE upper(s) = 'S1'";
    let placed = placements(&plan(&ctx, sql).await);
    assert!(
        placed.iter().any(|p| p.operator == "ProjectionExec"
            && p.reason
                .as_deref()
                .is_some_and(|r| r.contains("below cinder.min_rows"))),
        "{placed:?}"
    );

    // Registered twice, the rule still marks each node once.
    let mut config = CinderConfig::default();
    config.device = DeviceChoice::Host;
    config.min_rows = 0;
    let builder = with_cinder(
        SessionStateBuilder::new().with_default_features(),
        config.clone(),
    );
    let twice = SessionContext::new_with_state(with_cinder(builder, config).build());
    twice.register_table("t", Arc::new(table())).unwrap();
    let sql = "SELECT s, count(*) FROM t WHERE k > 3 GROUP BY s";
    let once = placements(&plan(&cinder(DeviceChoice::Host, 0), sql).await);
    assert_eq!(placements(&plan(&twice, sql).await), once);
}

#[tokio::test]
async fn explain_analyze_counts_output_rows_bytes_and_batches() {
    let ctx = cinder(DeviceChoice::Host, 0);
    let analyzed = answer(&ctx, "EXPLAIN ANALYZE SELECT k FROM t WHERE k % 2 = 0").await;
    assert!(analyzed.contains("output_rows=2.60 K"), "{analyzed}");
    assert!(!analyzed.contains("output_batches=0"), "{analyzed}");
}
