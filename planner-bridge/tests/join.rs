//! `CinderHashJoinExec` on the host path against DataFusion's `HashJoinExec`: every join type,
//! CollectLeft and Partitioned modes, residual filters, null keys, string keys, projections,
//! and Cinder's join next to DataFusion's aggregates and sorts.

use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringViewArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};

use cinder_planner::{CinderConfig, DeviceChoice, placements, with_cinder};

fn table(prefix: &str, seed: i64, rows: i64, key_range: i64) -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new(format!("{prefix}k"), DataType::Int64, true),
        Field::new(format!("{prefix}v"), DataType::Int32, true),
        Field::new(format!("{prefix}s"), DataType::Utf8View, true),
    ]));
    let batch = |part: i64| {
        let ids: Vec<i64> = (0..rows).map(|r| part * rows + r).collect();
        let mix =
            |id: i64| (id.wrapping_mul(0x9E37_79B9).wrapping_add(seed) >> 5).rem_euclid(1_000_003);
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter(
                    ids.iter()
                        .map(|&id| (mix(id) % 17 != 0).then_some(mix(id) % key_range)),
                )),
                Arc::new(Int32Array::from_iter(ids.iter().map(|&id| {
                    (mix(id) % 7 != 0).then_some((mix(id) % 1000) as i32)
                }))),
                Arc::new(StringViewArray::from_iter(ids.iter().map(|&id| {
                    (mix(id) % 11 != 0).then(|| format!("name-{}", mix(id) % (key_range / 2 + 1)))
                }))),
            ],
        )
        .unwrap()
    };
    MemTable::try_new(
        Arc::clone(&schema),
        (0..4).map(|p| vec![batch(p)]).collect(),
    )
    .unwrap()
}

fn session(cinder: bool, partitioned: bool) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(4)
        .with_batch_size(500);
    if partitioned {
        let options = config.options_mut();
        options.optimizer.hash_join_single_partition_threshold = 0;
        options.optimizer.hash_join_single_partition_threshold_rows = 0;
    }
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let state = if cinder {
        let mut c = CinderConfig::default();
        c.device = DeviceChoice::Host;
        c.min_rows = 0;
        // Small chunks: many candidate-pair chunks per probe batch.
        c.batch_rows = 250;
        with_cinder(builder, c).build()
    } else {
        builder.build()
    };
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("l", Arc::new(table("l", 1, 300, 120)))
        .unwrap();
    ctx.register_table("r", Arc::new(table("r", 2, 400, 160)))
        .unwrap();
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

async fn answer(ctx: &SessionContext, plan: Arc<dyn ExecutionPlan>) -> String {
    let batches = collect(plan, ctx.task_ctx()).await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

const JOINS: [&str; 8] = [
    "JOIN",
    "LEFT JOIN",
    "RIGHT JOIN",
    "FULL JOIN",
    "LEFT SEMI JOIN",
    "LEFT ANTI JOIN",
    "RIGHT SEMI JOIN",
    "RIGHT ANTI JOIN",
];

#[tokio::test]
async fn every_join_type_equals_datafusion_in_both_partition_modes() {
    for partitioned in [false, true] {
        let (ours, theirs) = (session(true, partitioned), session(false, partitioned));
        for join in JOINS {
            let (cols, order) = if join.contains("SEMI") || join.contains("ANTI") {
                let side = if join.starts_with("LEFT") { "l" } else { "r" };
                (
                    format!("{side}.*"),
                    format!("{side}.{side}k, {side}.{side}v, {side}.{side}s"),
                )
            } else {
                ("l.*, r.*".to_string(), "lk, lv, ls, rk, rv, rs".to_string())
            };
            for on in [
                "l.lk = r.rk",
                "l.ls = r.rs",
                "l.lk = r.rk AND l.lv < r.rv",
                "l.lk = r.rk AND l.ls = r.rs",
                "l.lk IS NOT DISTINCT FROM r.rk",
            ] {
                let sql = format!("SELECT {cols} FROM l {join} r ON {on} ORDER BY {order}");
                let plan = physical(&ours, &sql).await;
                let text = displayable(plan.as_ref()).indent(true).to_string();
                assert!(text.contains("CinderHashJoinExec"), "{sql}: {text}");
                let mode = if partitioned {
                    "mode=Partitioned"
                } else {
                    "mode=CollectLeft"
                };
                assert!(text.contains(mode), "{sql}: {text}");
                let expected = answer(&theirs, physical(&theirs, &sql).await).await;
                assert_eq!(
                    answer(&ours, plan).await,
                    expected,
                    "{sql} (partitioned: {partitioned})"
                );
            }
        }
    }
}

#[tokio::test]
async fn joins_under_aggregates_and_with_projections_equal_datafusion() {
    let (ours, theirs) = (session(true, false), session(false, false));
    for sql in [
        "SELECT l.ls, count(*), sum(r.rv) FROM l JOIN r ON l.lk = r.rk WHERE r.rv > 100 \
         GROUP BY l.ls ORDER BY l.ls",
        "SELECT count(*) FROM l LEFT JOIN r ON l.lk = r.rk AND r.rs LIKE 'name-1%' WHERE r.rk IS NULL",
        "SELECT l.lk + 1 AS k1, r.rv FROM l JOIN r ON l.lk = r.rk ORDER BY k1, r.rv",
        "SELECT * FROM l WHERE l.lk NOT IN (SELECT rk FROM r WHERE rk IS NOT NULL) ORDER BY lk, lv, ls",
        "SELECT * FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.rk = l.lk AND r.rv > l.lv) \
         ORDER BY lk, lv, ls",
    ] {
        let plan = physical(&ours, sql).await;
        let expected = answer(&theirs, physical(&theirs, sql).await).await;
        assert_eq!(answer(&ours, Arc::clone(&plan)).await, expected, "{sql}");
        let placed = placements(&plan);
        assert!(
            placed.iter().any(|p| p.operator == "CinderHashJoinExec")
                || placed
                    .iter()
                    .any(|p| p.operator == "HashJoinExec" && p.reason.is_some()),
            "{sql}: {placed:?}"
        );
    }
}

#[tokio::test]
async fn join_switch_and_reasons() {
    let ctx = session(true, false);
    ctx.sql("SET cinder.join_enabled = false").await.unwrap();
    let placed = placements(&physical(&ctx, "SELECT * FROM l JOIN r ON l.lk = r.rk").await);
    assert!(
        placed.iter().any(|p| p.operator == "HashJoinExec"
            && p.reason.as_deref() == Some("cinder.join_enabled = false")),
        "{placed:?}"
    );
}

#[tokio::test]
async fn a_memory_pool_too_small_for_the_build_side_fails_the_query_not_the_session() {
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(16 * 1024, 1.0)
        .build_arc()
        .unwrap();
    let mut c = CinderConfig::default();
    c.device = DeviceChoice::Host;
    c.min_rows = 0;
    let state = with_cinder(
        SessionStateBuilder::new()
            .with_config(SessionConfig::new().with_target_partitions(1))
            .with_runtime_env(runtime)
            .with_default_features(),
        c,
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_table("l", Arc::new(table("l", 1, 300, 120)))
        .unwrap();
    ctx.register_table("r", Arc::new(table("r", 2, 400, 160)))
        .unwrap();
    let sql = "SELECT l.lk, r.rv FROM l JOIN r ON l.lk = r.rk";
    let plan = physical(&ctx, sql).await;
    assert!(
        displayable(plan.as_ref())
            .indent(true)
            .to_string()
            .contains("CinderHashJoinExec")
    );
    let err = collect(plan, ctx.task_ctx()).await.unwrap_err().to_string();
    assert!(err.contains("CinderHashJoinExec build side"), "{err}");
    let ok = ctx
        .sql("SELECT count(*) FROM r")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(ok[0].num_rows(), 1);
}

/// A Cinder operator right above a Cinder join takes the join's output as handed over
/// (`CinderHashJoinExec::execute_handoff`: small chunks coalesced up to `cinder.batch_rows`)
/// rather than through DataFusion's stream; the answers are DataFusion's, with and without
/// `cinder.device_regions` (which only matters on a GPU).
#[tokio::test]
async fn operators_over_a_join_take_its_output_as_handed_over() {
    let theirs = session(false, false);
    for device_output in [false, true] {
        for partitioned in [false, true] {
            let ours = session(true, partitioned);
            ours.sql(&format!("SET cinder.device_regions = {device_output}"))
                .await
                .unwrap();
            // The sides as written: the filtered table probes.
            ours.sql("SET datafusion.optimizer.join_reordering = false")
                .await
                .unwrap();
            for (sql, consumer) in [
                (
                    "SELECT l.ls, count(*), sum(r.rv) FROM l JOIN r ON l.lk = r.rk WHERE r.rv * 2 > 300 \
                     GROUP BY l.ls ORDER BY l.ls",
                    "CinderAggregateExec",
                ),
                (
                    "SELECT l.lk + r.rv AS x, r.rs FROM l JOIN r ON l.lk = r.rk AND l.lv < r.rv \
                     ORDER BY x, r.rs",
                    "CinderProjectionExec",
                ),
                (
                    "SELECT l.lv, r.rv FROM l LEFT JOIN r ON l.ls = r.rs \
                     WHERE r.rv IS NULL OR l.lv > r.rv ORDER BY l.lv, r.rv",
                    "CinderFilterExec",
                ),
            ] {
                let plan = physical(&ours, sql).await;
                let text = displayable(plan.as_ref()).indent(true).to_string();
                let lines: Vec<&str> = text.lines().collect();
                let adjacent = lines.windows(2).any(|w| {
                    w[0].trim_start().starts_with(consumer)
                        && w[1].trim_start().starts_with("CinderHashJoinExec")
                });
                assert!(
                    adjacent,
                    "{sql}: no {consumer} right over the join:\n{text}"
                );
                // The probe side comes from a Cinder filter in the first query (CollectLeft:
                // no exchange between), which the join takes as handed over too.
                if consumer == "CinderAggregateExec" && !partitioned {
                    assert!(
                        join_children(&lines)
                            .iter()
                            .any(|c| c.starts_with("CinderFilterExec")),
                        "{sql}: no Cinder filter under the join:\n{text}"
                    );
                }
                let expected = answer(&theirs, physical(&theirs, sql).await).await;
                assert_eq!(
                    answer(&ours, plan).await,
                    expected,
                    "{sql} (partitioned: {partitioned}, device output: {device_output})"
                );
            }
        }
    }
}

/// The children of every `CinderHashJoinExec` in an indented plan, trimmed.
fn join_children<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut children = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with("CinderHashJoinExec") {
            continue;
        }
        let own = indent(line);
        for next in &lines[i + 1..] {
            if indent(next) <= own {
                break;
            }
            if indent(next) == own + 2 {
                children.push(next.trim_start());
            }
        }
    }
    children
}

/// `cinder.collect_left_joins` turns the joins DataFusion partitioned into CollectLeft ones
/// with no exchange under their probe sides, so a Cinder producer feeds a join directly; the
/// answers stay DataFusion's for every join type, for chains of joins, and where an operator
/// above needed the join's hash partitioning (DataFusion repartitions again there), and with
/// build sides handed over by the Cinder filters under them.
#[tokio::test]
async fn collect_left_joins_remove_the_exchanges_under_cinder_joins() {
    let theirs = session(false, true);
    let ours = session(true, true);
    ours.sql("SET cinder.collect_left_joins = true")
        .await
        .unwrap();
    // Device regions too: a build side that is a Cinder filter (under the
    // CoalescePartitionsExec that collects it) hands its batches over, partition by partition.
    ours.sql("SET cinder.device_regions = true").await.unwrap();
    let mut queries: Vec<String> = JOINS
        .iter()
        .map(|join| {
            let side = if join.contains("SEMI") || join.contains("ANTI") {
                if join.starts_with("LEFT") { "l" } else { "r" }
            } else {
                "l"
            };
            format!(
                "SELECT {side}.{side}k, count(*), sum({side}.{side}v) FROM l {join} r \
                 ON l.lk = r.rk AND l.lv < r.rv GROUP BY {side}.{side}k ORDER BY {side}.{side}k"
            )
        })
        .collect();
    queries.extend(
        [
            "SELECT l.lk, r.rv FROM l JOIN r ON l.lk = r.rk WHERE r.rv * 2 > 300 ORDER BY l.lk, r.rv",
            "SELECT a.lk, count(*) FROM l a JOIN r ON a.lk = r.rk JOIN l b ON r.rs = b.ls \
             WHERE b.lv > 500 GROUP BY a.lk ORDER BY a.lk",
            "SELECT l.*, r.* FROM l FULL JOIN r ON l.ls = r.rs ORDER BY lk, lv, ls, rk, rv, rs",
            "SELECT * FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.rk = l.lk AND r.rv > l.lv) \
             ORDER BY lk, lv, ls",
            // Order-sensitive aggregates over a rewritten join.
            "SELECT l.lk, last_value(r.rs ORDER BY r.rv, r.rs), first_value(r.rs ORDER BY r.rv, r.rs) \
             FROM l JOIN r ON l.lk = r.rk GROUP BY l.lk ORDER BY l.lk",
        ]
        .map(String::from),
    );
    for sql in &queries {
        let plan = physical(&ours, sql).await;
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(text.contains("CinderHashJoinExec"), "{sql}: {text}");
        assert!(!text.contains("mode=Partitioned"), "{sql}: {text}");
        for child in join_children(&lines) {
            assert!(
                !child.starts_with("RepartitionExec"),
                "{sql}: an exchange under a Cinder join:\n{text}"
            );
        }
        let expected = answer(&theirs, physical(&theirs, sql).await).await;
        assert_eq!(answer(&ours, plan).await, expected, "{sql}");
    }
    // A build side collected from a Cinder filter's partitions.
    let text = displayable(physical(&ours, &queries[JOINS.len() + 1]).await.as_ref())
        .indent(true)
        .to_string();
    assert!(
        text.lines().collect::<Vec<_>>().windows(2).any(|w| {
            w[0].trim_start().starts_with("CoalescePartitionsExec")
                && w[1].trim_start().starts_with("CinderFilterExec")
        }),
        "{text}"
    );
    // The aggregate's first stage runs on the join's output where it is (the stages
    // DataFusion merged are split again); only its states cross the exchange.
    let text = displayable(physical(&ours, &queries[0]).await.as_ref())
        .indent(true)
        .to_string();
    assert!(
        text.lines().collect::<Vec<_>>().windows(2).any(|w| {
            w[0].trim_start()
                .starts_with("CinderAggregateExec: mode=Partial")
                && w[1].trim_start().starts_with("CinderHashJoinExec")
        }),
        "{text}"
    );
    // Off, the same session plans DataFusion's way.
    ours.sql("SET cinder.collect_left_joins = false")
        .await
        .unwrap();
    let text = displayable(physical(&ours, &queries[0]).await.as_ref())
        .indent(true)
        .to_string();
    assert!(text.contains("mode=Partitioned"), "{text}");
}
