//! `CinderAggregateExec` on the host path against DataFusion's `AggregateExec` on the same
//! inputs: every supported function and key type, nulls in keys and values, all-null groups,
//! one group, every row its own group, empty input, and Cinder on one side of a
//! Partial/Final pair with DataFusion on the other.

use std::sync::Arc;

use datafusion::arrow::array::{
    BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};

use cinder_kernels::aggregate::Stage;
use cinder_planner::{CinderAggregateExec, CinderConfig, DeviceChoice, placements, with_cinder};

const ROWS_PER_BATCH: i64 = 1_700;

/// Four partitions of random-looking rows: keys of every groupable type with nulls, values
/// with nulls, and a group (`g = 7`) whose values are all null.
fn table() -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("g", DataType::Int32, true),
        Field::new("s", DataType::Utf8View, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("dt", DataType::Date32, true),
        Field::new("m", DataType::Decimal128(15, 2), true),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("w", DataType::Decimal128(38, 4), true),
    ]));
    let batch = |part: i64, n: i64| {
        let ids: Vec<i64> = (0..ROWS_PER_BATCH)
            .map(|r| (part * 10 + n) * 100_000 + r)
            .collect();
        let mix = |id: i64| (id.wrapping_mul(0x9E37_79B9) >> 7).rem_euclid(1_000_003);
        let g = |id: i64| (mix(id) % 11) as i32;
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(Int32Array::from_iter(
                    ids.iter().map(|&id| (mix(id) % 13 != 0).then_some(g(id))),
                )),
                Arc::new(StringViewArray::from_iter(ids.iter().map(|&id| {
                    (mix(id) % 17 != 0).then(|| format!("key-{}-é", mix(id) % 5))
                }))),
                Arc::new(BooleanArray::from_iter(
                    ids.iter()
                        .map(|&id| (mix(id) % 19 != 0).then_some(mix(id) % 2 == 0)),
                )),
                Arc::new(Date32Array::from_iter(ids.iter().map(|&id| {
                    (mix(id) % 23 != 0).then_some(9_000 + (mix(id) % 7) as i32)
                }))),
                Arc::new(
                    Decimal128Array::from_iter(ids.iter().map(|&id| {
                        (g(id) != 7 && mix(id) % 29 != 0)
                            .then_some(i128::from(mix(id) % 2_000_000) - 1_000_000)
                    }))
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
                ),
                Arc::new(Int64Array::from_iter(ids.iter().map(|&id| {
                    (g(id) != 7 && mix(id) % 31 != 0).then_some(if mix(id) % 97 == 0 {
                        i64::MAX - mix(id)
                    } else {
                        mix(id) - 500_000
                    })
                }))),
                // Multiples of 1/4: every partial sum is exact, whatever the order.
                Arc::new(Float64Array::from_iter(ids.iter().map(|&id| {
                    (g(id) != 7 && mix(id) % 37 != 0)
                        .then_some((mix(id) % 4001) as f64 / 4.0 - 500.0)
                }))),
                Arc::new(
                    Decimal128Array::from_iter(ids.iter().map(|&id| {
                        (mix(id) % 41 != 0)
                            .then_some(i128::from(mix(id)) * 10i128.pow(30) - 10i128.pow(35))
                    }))
                    .with_precision_and_scale(38, 4)
                    .unwrap(),
                ),
            ],
        )
        .unwrap()
    };
    MemTable::try_new(
        Arc::clone(&schema),
        (0..4)
            .map(|p| (0..3).map(|n| batch(p, n)).collect())
            .collect(),
    )
    .unwrap()
}

fn session(cinder: bool, partitions: usize) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(1_000);
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let state = if cinder {
        let mut c = CinderConfig::default();
        c.device = DeviceChoice::Host;
        c.min_rows = 0;
        // Several coalesced batches per partition: per-batch states, then a merge.
        c.batch_rows = 2_500;
        with_cinder(builder, c).build()
    } else {
        builder.build()
    };
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("t", Arc::new(table())).unwrap();
    ctx
}

async fn physical(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    ctx.sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap()
}

async fn run(ctx: &SessionContext, plan: Arc<dyn ExecutionPlan>) -> String {
    let batches = collect(plan, ctx.task_ctx()).await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// Every query orders its output completely, so answers compare as text.
const QUERIES: &[&str] = &[
    // Every function over every type, grouped by an Int32 with nulls (and an all-null group).
    "SELECT g, count(*), count(m), sum(m), min(m), max(m), avg(m), sum(i), min(i), max(i), \
     avg(i % 1000), sum(f), avg(f), min(dt), max(dt), min(b), max(b), count(s), sum(w), min(w), max(w), avg(g) \
     FROM t GROUP BY g ORDER BY g",
    // String, Boolean and date keys together, with nulls in each.
    "SELECT s, b, dt, count(*), sum(m), max(i) FROM t GROUP BY s, b, dt ORDER BY s, b, dt",
    // A decimal key and an expression key.
    "SELECT m % 1000 AS mk, g * 2 + 1 AS gk, count(*), sum(i) FROM t GROUP BY m % 1000, g * 2 + 1 \
     ORDER BY mk, gk",
    // No GROUP BY: one row, including float min/max (IEEE total order).
    "SELECT count(*), count(f), sum(m), avg(m), min(f), max(f), min(s), sum(i), avg(f) FROM t",
    // Every row its own group.
    "SELECT id, sum(m), count(*) FROM t GROUP BY id ORDER BY id",
    // One group.
    "SELECT b IS NULL OR b IS NOT NULL AS one, count(*), sum(m), min(w) FROM t GROUP BY 1 ORDER BY 1",
    // Empty input, with and without keys.
    "SELECT g, count(*), sum(m), avg(m) FROM t WHERE id < 0 GROUP BY g ORDER BY g",
    "SELECT count(*), sum(m), avg(m), min(i), max(f) FROM t WHERE id < 0",
    // A filter below and HAVING above (over the final values).
    "SELECT s, sum(m) AS total FROM t WHERE dt > DATE '1994-08-01' GROUP BY s \
     HAVING sum(m) > 0 ORDER BY s",
    // A common subexpression: a projection between the filter and the aggregate.
    "SELECT g, sum(m * (1 - m)) AS a, sum(m * (1 - m) * 2) AS b FROM t WHERE i > 0 \
     GROUP BY g ORDER BY g",
];

#[tokio::test]
async fn answers_equal_datafusion_with_both_stages_on_cinder() {
    for partitions in [1, 4] {
        let (ours, theirs) = (session(true, partitions), session(false, partitions));
        for sql in QUERIES {
            let plan = physical(&ours, sql).await;
            let expected = run(&theirs, physical(&theirs, sql).await).await;
            assert_eq!(
                run(&ours, Arc::clone(&plan)).await,
                expected,
                "{sql} ({partitions} partitions)"
            );
            let text = displayable(plan.as_ref()).indent(true).to_string();
            let placed = placements(&plan);
            // min(s) stays (strings), and so does the whole ungrouped aggregate that holds it.
            if !sql.contains("min(s)") {
                assert!(
                    placed.iter().any(|p| p.operator == "CinderAggregateExec"),
                    "{sql}: {text}"
                );
                assert!(
                    !text
                        .lines()
                        .any(|l| l.trim_start().starts_with("AggregateExec:")),
                    "{sql}: an aggregate stayed: {text}"
                );
            } else {
                assert!(
                    placed
                        .iter()
                        .any(|p| p.reason.as_deref().is_some_and(|r| r.contains("min(t.s)"))),
                    "{sql}: {placed:?}"
                );
            }
        }
    }
}

/// The plan with Cinder's aggregates of `stage` put back to DataFusion's.
fn revert(plan: Arc<dyn ExecutionPlan>, stage: Stage) -> Arc<dyn ExecutionPlan> {
    plan.transform_up(|node| {
        Ok(match node.downcast_ref::<CinderAggregateExec>() {
            Some(agg) if agg.stage() == stage => Transformed::yes(Arc::clone(agg.original())),
            _ => Transformed::no(node),
        })
    })
    .unwrap()
    .data
}

#[tokio::test]
async fn partial_and_final_interoperate_with_datafusion() {
    let (ours, theirs) = (session(true, 4), session(false, 4));
    for sql in QUERIES.iter().filter(|q| !q.contains("min(s)")) {
        let expected = run(&theirs, physical(&theirs, sql).await).await;
        let plan = physical(&ours, sql).await;
        for (stage, other) in [
            (Stage::Final, Stage::Partial),
            (Stage::Partial, Stage::Final),
        ] {
            let mixed = revert(Arc::clone(&plan), stage);
            let text = displayable(mixed.as_ref()).indent(true).to_string();
            let reverted = format!(
                "AggregateExec: mode={}",
                if stage == Stage::Final {
                    "Final"
                } else {
                    "Partial"
                }
            );
            let cinder = format!(
                "CinderAggregateExec: mode={}",
                if other == Stage::Final {
                    "Final"
                } else {
                    "Partial"
                }
            );
            assert!(
                text.lines().any(|l| l.trim_start().starts_with(&reverted))
                    && text.lines().any(|l| l.trim_start().starts_with(&cinder)),
                "{sql}: {text}"
            );
            assert_eq!(
                run(&ours, mixed).await,
                expected,
                "{sql}: DataFusion's {stage:?} over Cinder's"
            );
        }
    }
}

#[tokio::test]
async fn unsupported_aggregates_stay_with_their_reason() {
    let ctx = session(true, 4);
    let cases = [
        (
            "SELECT g, count(DISTINCT i), count(*) FROM t GROUP BY g",
            "DISTINCT is not supported",
        ),
        (
            "SELECT g, max(f) FROM t GROUP BY g",
            "grouped float min/max depends on row order",
        ),
        (
            "SELECT g, median(i) FROM t GROUP BY g",
            "median is not supported",
        ),
        (
            "SELECT g, sum(i) FILTER (WHERE b) FROM t GROUP BY g",
            "FILTER clauses are not supported",
        ),
        ("SELECT g, avg(w) FROM t GROUP BY g", "Decimal256"),
    ];
    for (sql, why) in cases {
        let placed = placements(&physical(&ctx, sql).await);
        assert!(
            placed.iter().any(|p| p.operator == "AggregateExec"
                && p.reason.as_deref().is_some_and(|r| r.contains(why))),
            "{sql}: {placed:?}"
        );
    }
    ctx.sql("SET cinder.aggregate_enabled = false")
        .await
        .unwrap();
    let placed = placements(&physical(&ctx, "SELECT g, sum(i) FROM t GROUP BY g").await);
    assert!(
        placed.iter().all(|p| p.operator != "CinderAggregateExec"),
        "{placed:?}"
    );
}

#[tokio::test]
async fn an_aggregate_takes_the_filter_and_projection_below_it_as_its_first_step() {
    let (ours, theirs) = (session(true, 4), session(false, 4));
    for (sql, absorbed) in [
        (QUERIES[8], "over CinderFilterExec"),
        (QUERIES[9], "over CinderFilterProjectExec"),
    ] {
        let plan = physical(&ours, sql).await;
        let text = displayable(plan.as_ref()).indent(true).to_string();
        assert!(text.contains(absorbed), "{sql}: {text}");
        let placed = placements(&plan);
        assert!(
            placed
                .iter()
                .any(|p| p.operator.starts_with("CinderFilter")),
            "{sql}: {placed:?}"
        );
        let expected = run(&theirs, physical(&theirs, sql).await).await;
        assert_eq!(run(&ours, plan).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn device_out_of_memory_splits_the_update_and_runs_the_merge_on_the_cpu() {
    let (ours, theirs) = (session(true, 4), session(false, 4));
    ours.sql("SET cinder.test_inject_failure = 'oom'")
        .await
        .unwrap();
    let sql = QUERIES[1];
    let expected = run(&theirs, physical(&theirs, sql).await).await;
    let plan = physical(&ours, sql).await;
    assert_eq!(run(&ours, Arc::clone(&plan)).await, expected, "{sql}");
    let mut fallbacks = 0;
    let _ = plan.apply(|node| {
        if node.is::<CinderAggregateExec>() {
            let metrics = node.metrics().unwrap();
            fallbacks += metrics
                .sum_by_name("cpu_fallback_batches")
                .map_or(0, |v| v.as_usize());
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    assert!(fallbacks > 0, "no batch fell back to the CPU");
}

#[tokio::test]
async fn a_memory_pool_too_small_for_the_state_fails_the_query_not_the_session() {
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(256 * 1024, 1.0)
        .build_arc()
        .unwrap();
    let mut c = CinderConfig::default();
    c.device = DeviceChoice::Host;
    c.min_rows = 0;
    c.batch_rows = 2_500;
    let state = with_cinder(
        SessionStateBuilder::new()
            .with_config(SessionConfig::new().with_target_partitions(1))
            .with_runtime_env(runtime)
            .with_default_features(),
        c,
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("t", Arc::new(table())).unwrap();
    // One group per row: the state outgrows the pool.
    let err = ctx
        .sql("SELECT id, sum(m), count(*) FROM t GROUP BY id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("CinderAggregateExec"), "{err}");
    // The session goes on.
    let ok = ctx
        .sql("SELECT count(*) FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(ok[0].num_rows(), 1);
}
