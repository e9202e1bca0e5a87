"""Equi-joins run natively as one hash join: broadcast, shuffled hash and sort-merge joins."""

import os
from datetime import date, timedelta

import pytest
from pyspark.sql.types import (DateType, DecimalType, DoubleType, IntegerType, LongType, StringType,
                               StructField, StructType)

from conftest import D, compare, fails_alike, fallback_reasons, native_subtrees, settings


def _rows(seed, n, key_range):
    state = seed
    rows = []
    for i in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        r = state >> 33
        k = None if r % 9 == 0 else r % key_range
        rows.append((
            k,
            None if i % 13 == 0 else f"s{r % 17}",
            None if i % 7 == 0 else D(r % 2000) / 100,
            date(1995, 1, 1) + timedelta(days=int(r % 40)),
            r % 2,
            None if i % 5 == 0 else f"v{seed}-{i}",
            float(r % 100) / 8,
        ))
    return rows


SCHEMA = StructType([
    StructField("k", IntegerType()), StructField("s", StringType()),
    StructField("p", DecimalType(12, 2)), StructField("d", DateType()),
    StructField("k2", LongType(), False), StructField("v", StringType()),
    StructField("x", DoubleType()),
])


@pytest.fixture(scope="module")
def joined(spark, data_dir):
    """Tables a (1500 rows), b (400 rows) and c (300 rows) with null, duplicate and
    one-sided keys, in several files each."""
    for name, seed, n, keys in [("a", 1, 1500, 60), ("b", 2, 400, 80), ("c", 3, 300, 50)]:
        path = os.path.join(data_dir, f"join_{name}")
        spark.createDataFrame(_rows(seed, n, keys), SCHEMA).repartition(3).write.mode("overwrite").parquet(path)
        spark.read.parquet(path).createOrReplaceTempView(name)
    return data_dir


HINTS = {"broadcast": "BROADCAST(b)", "shuffle_hash": "SHUFFLE_HASH(b)", "merge": "MERGE(b)"}

JOINS = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "LEFT SEMI JOIN", "LEFT ANTI JOIN"]


NODES = {"broadcast": "BroadcastHashJoin(", "shuffle_hash": "ShuffledHashJoin(", "merge": "SortMergeJoin("}


def _joins_are_native(spark, node="Join("):
    return any(node in n for n in native_subtrees(spark))


def _columns(join):
    return "a.*" if "SEMI" in join or "ANTI" in join else "a.*, b.*"


@pytest.mark.parametrize("join", JOINS)
def test_merge_join_builds_its_smaller_side(spark, joined, join):
    # c (300 rows) on the left of a (1500): the native hash join builds the left side, the
    # one with fewer bytes (the columns read count: a semi or anti join reads only a's keys, so
    # it reads only c's keys too).
    columns = "c.k, c.k2" if "SEMI" in join or "ANTI" in join else "c.*, a.*"
    compare(spark, f"SELECT /*+ MERGE(a) */ {columns} FROM c {join} a ON c.k = a.k AND c.k2 = a.k2",
            conf={"spark.sql.autoBroadcastJoinThreshold": "-1"})
    assert any("SortMergeJoin(" in n and "build left" in n for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))


@pytest.mark.parametrize("strategy", sorted(HINTS))
@pytest.mark.parametrize("join", JOINS)
@pytest.mark.parametrize("on", ["a.k = b.k", "a.k = b.k AND a.k2 = b.k2", "a.s = b.s",
                                "a.p = b.p", "a.d = b.d AND a.k2 = b.k2", "a.k = b.k AND a.v < b.v"])
def test_joins_match_spark(spark, joined, strategy, join, on):
    hint = HINTS[strategy]
    if strategy == "broadcast" and join in ("RIGHT JOIN", "FULL JOIN"):
        hint = "BROADCAST(a)" if join == "RIGHT JOIN" else hint
    sql = f"SELECT /*+ {hint} */ {_columns(join)} FROM a {join} b ON {on}"
    compare(spark, sql, conf={"spark.cinder.batchRows": "128"})
    # Spark cannot broadcast for a full outer join and picks another strategy.
    node = "Join(" if (strategy, join) == ("broadcast", "FULL JOIN") else NODES[strategy]
    assert _joins_are_native(spark, node), (native_subtrees(spark), fallback_reasons(spark))


@pytest.mark.parametrize("strategy", sorted(HINTS))
def test_join_then_aggregate_as_tpch_does(spark, joined, strategy):
    # Scan, filter, join, partial and final aggregation: all native.
    sql = (f"SELECT /*+ {HINTS[strategy]} */ a.s, b.d, sum(a.p * (1 - b.p)) AS revenue, count(*) AS n "
           "FROM a JOIN b ON a.k = b.k WHERE a.d < DATE '1995-01-20' AND b.k2 = 1 GROUP BY a.s, b.d")
    compare(spark, sql, conf={"spark.sql.ansi.enabled": "false"})
    subtrees = native_subtrees(spark)
    assert any("HashAggregate(partial)" in n and NODES[strategy] in n for n in subtrees), (
        subtrees, fallback_reasons(spark))


def test_aggregate_then_join(spark, joined):
    # Both sides are native final aggregations over shuffles: the join zips them.
    sql = ("SELECT /*+ SHUFFLE_HASH(y) */ x.k, x.n, y.total FROM "
           "(SELECT k, count(*) AS n FROM a GROUP BY k) x JOIN "
           "(SELECT k, sum(p) AS total FROM b GROUP BY k) y ON x.k = y.k")
    compare(spark, sql, conf={"spark.sql.ansi.enabled": "false"})
    assert _joins_are_native(spark), (native_subtrees(spark), fallback_reasons(spark))


@pytest.mark.parametrize("strategy", ["shuffle_hash", "merge"])
def test_three_tables_on_one_key_zip_three_inputs(spark, joined, strategy):
    hint = HINTS[strategy].replace("(b)", "(b, c)")
    sql = f"SELECT /*+ {hint} */ a.v, b.v, c.v FROM a JOIN b ON a.k = b.k JOIN c ON a.k = c.k"
    compare(spark, sql, conf={"spark.sql.autoBroadcastJoinThreshold": "-1"})
    # One native plan joins all three (its inner join's inputs are zipped with c's).
    assert any(n.count(NODES[strategy]) == 2 for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))


def test_self_join(spark, joined):
    compare(spark, "SELECT /*+ SHUFFLE_HASH(y) */ x.v, y.v FROM a x JOIN a y ON x.k = y.k AND x.k2 <> y.k2")
    assert _joins_are_native(spark), (native_subtrees(spark), fallback_reasons(spark))


def test_sorted_input_restored_for_a_merge_join_left_on_spark(spark, joined):
    # The outer join's condition (initcap) keeps it on Spark, a sort-merge join that relies on
    # the inner join's order on a.k; the inner join runs natively (unordered), so a sort comes
    # back between them.
    sql = ("SELECT /*+ MERGE(b, c) */ a.v, b.v, c.v FROM a JOIN b ON a.k = b.k "
           "JOIN c ON a.k = c.k AND initcap(concat(b.v, c.v)) <> 'x'")
    plan = compare(spark, sql, conf={"spark.sql.autoBroadcastJoinThreshold": "-1",
                                     "spark.sql.adaptive.enabled": "false"})
    assert _joins_are_native(spark), (native_subtrees(spark), fallback_reasons(spark))
    # The sort that comes back is native, on top of the inner join's native plan.
    assert "SortMergeJoin" in plan and "[Sort <- Project <- SortMergeJoin(inner" in plan, plan


def test_float_keys_stay_on_spark_with_a_reason(spark, joined):
    compare(spark, "SELECT /*+ SHUFFLE_HASH(b) */ a.v, b.v FROM a JOIN b ON a.x = b.x", native=None)
    assert not _joins_are_native(spark)
    assert any("ShuffledHashJoin" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("subquery, decided", [
    ("SELECT k FROM b WHERE k2 = 0 AND k IS NOT NULL", False),  # no nulls: a null left key drops its row
    ("SELECT k FROM b WHERE k2 = 0", True),  # a null in the subquery: no row at all
    ("SELECT k FROM b WHERE k > 1000", True),  # empty: every row, null keys too
    ("SELECT k + 1 FROM c WHERE k IS NOT NULL", False),
])
@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_not_in_is_a_native_null_aware_anti_join(spark, joined, subquery, decided, adaptive):
    # Adaptive execution drops the join once it sees the subquery empty or holding a null.
    dropped = decided and adaptive == "true"
    compare(spark, f"SELECT k, v FROM a WHERE k NOT IN ({subquery})", native=None if dropped else True,
            conf={"spark.sql.adaptive.enabled": adaptive})
    if dropped:
        return
    assert any("BroadcastHashJoin(left_anti, null-aware, build left)" in n for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))
    assert not [r for r in fallback_reasons(spark) if "Join" in r], fallback_reasons(spark)


def test_not_in_on_several_columns_stays_on_spark_with_a_reason(spark, joined):
    compare(spark, "SELECT v FROM a WHERE (k, k2) NOT IN (SELECT k, k2 FROM b WHERE k IS NOT NULL)", native=None)
    # Spark plans a multi-column NOT IN as a nested-loop join (no equality keys).
    assert any(r.startswith("BroadcastNestedLoopJoin") for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_switched_off_joins_say_so(spark, joined):
    compare(spark, "SELECT /*+ BROADCAST(b) */ a.v, b.v FROM a JOIN b ON a.k = b.k", native=None,
            conf={"spark.cinder.join.enabled": "false"})
    assert not _joins_are_native(spark)
    assert any("spark.cinder.join.enabled is false" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("join", ["JOIN", "LEFT JOIN", "LEFT SEMI JOIN", "LEFT ANTI JOIN"])
def test_empty_broadcast_side(spark, joined, join):
    # Without adaptive execution nothing removes the join: the broadcast relation is empty.
    compare(spark, f"SELECT /*+ BROADCAST(b) */ {_columns(join)} FROM a {join} b ON a.k = b.k AND b.k2 > 5",
            conf={"spark.sql.adaptive.enabled": "false"})
    assert _joins_are_native(spark, "BroadcastHashJoin("), (native_subtrees(spark), fallback_reasons(spark))


@pytest.mark.parametrize("join", ["JOIN", "LEFT SEMI JOIN"])
@pytest.mark.parametrize("build", ["b.k2 > 5", "b.k IS NULL"])
def test_probe_side_errors_with_an_empty_build_side(spark, joined, join, build):
    # A broadcast side with no rows (or only null keys) matches nothing, but Spark's broadcast
    # hash join reads every probe row all the same: a cast that fails below the join, in its
    # stage, fails the query (ANSI mode), natively too. (Without adaptive execution nothing
    # drops the join; without pushed filters Spark's reader skips no row groups.)
    conf = {"spark.sql.ansi.enabled": "true", "spark.sql.parquet.filterPushdown": "false",
            "spark.sql.adaptive.enabled": "false"}
    sql = (f"SELECT /*+ BROADCAST(b) */ {_columns(join)} FROM a {join} b ON a.k = b.k AND {build} "
           "WHERE CAST(a.s AS INT) > 0")
    fails_alike(spark, sql, "CAST_INVALID_INPUT", conf=conf)
    assert _joins_are_native(spark, "BroadcastHashJoin("), (native_subtrees(spark), fallback_reasons(spark))


def test_broadcast_side_converted_once_per_executor(spark, joined):
    # a is read by several tasks (small file splits); each task joins with the broadcast b,
    # whose rows are written into Arrow once for this executor (local mode: one JVM), not once
    # per task.
    sql = "SELECT /*+ BROADCAST(b) */ a.k, a.v, b.v FROM a JOIN b ON a.k = b.k"
    conf = {"spark.sql.files.maxPartitionBytes": "2048", "spark.sql.files.openCostInBytes": "0",
            "spark.sql.adaptive.enabled": "false"}
    with settings(spark, conf):
        df = spark.sql(sql)
        df.collect()
        plan = df._jdf.queryExecution().executedPlan()
        tasks = plan.execute().getNumPartitions()
        metrics = dict(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.boundaryMetrics(plan))
    assert tasks > 1, tasks
    assert _joins_are_native(spark, "BroadcastHashJoin("), (native_subtrees(spark), fallback_reasons(spark))
    # (The broadcast holds b's rows with a key: an inner join filters out null keys first.)
    broadcast_rows = spark.sql("SELECT count(*) FROM b WHERE k IS NOT NULL").collect()[0][0]
    assert metrics["rowsToArrow"] == broadcast_rows, (metrics, tasks)
    compare(spark, sql, conf=conf)


def test_sorted_input_restored_through_a_spark_projection(spark, joined):
    # The projection between the native join and the Spark merge join stays on Spark (initcap).
    sql = ("SELECT /*+ MERGE(b, c) */ x.v, c.v FROM "
           "(SELECT a.k, a.v, initcap(concat(a.v, b.v)) AS cv FROM a JOIN b ON a.k = b.k) x "
           "JOIN c ON x.k = c.k AND initcap(concat(x.cv, c.v)) <> 'x'")
    compare(spark, sql, conf={"spark.sql.autoBroadcastJoinThreshold": "-1",
                              "spark.sql.adaptive.enabled": "false"})
    assert _joins_are_native(spark, "SortMergeJoin("), (native_subtrees(spark), fallback_reasons(spark))


SORTED_BY = {
    "plain": "SELECT /*+ MERGE(b) */ a.k AS k, b.v AS bv FROM a JOIN b ON a.k = b.k SORT BY a.k",
    # The order passes through an alias.
    "alias": "SELECT /*+ MERGE(b) */ a.k AS k, b.v AS bv FROM a JOIN b ON a.k = b.k SORT BY k",
    # A broadcast join keeps its streamed side's (the merge join's) order.
    "broadcast above": "SELECT /*+ MERGE(b), BROADCAST(c) */ a.k AS k, c.v AS bv FROM a JOIN b ON a.k = b.k "
                       "JOIN c ON b.k2 = c.k2 AND c.k = 3 SORT BY a.k",
}


@pytest.mark.parametrize("query", sorted(SORTED_BY))
@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_sort_by_over_a_merge_join_stays_sorted(spark, joined, adaptive, query):
    # Spark drops the SORT BY as redundant after a sort-merge join; the native hash join
    # does not keep that order, so Cinder sorts again.
    conf = {"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.adaptive.enabled": adaptive}
    sql = f"SELECT spark_partition_id() AS part, k, bv FROM ({SORTED_BY[query]})"
    compare(spark, sql, conf=conf)
    assert _joins_are_native(spark, "SortMergeJoin("), (native_subtrees(spark), fallback_reasons(spark))
    with settings(spark, conf):
        rows = spark.sql(sql).collect()
    for before, after in zip(rows, rows[1:]):
        if before.part == after.part:
            assert before.k <= after.k, (before, after)


def test_four_tables_on_one_key_zip_four_inputs(spark, joined):
    sql = ("SELECT /*+ MERGE(b, c, d) */ a.v, b.v, c.v, d.v FROM a JOIN b ON a.k = b.k "
           "JOIN c ON a.k = c.k JOIN b d ON a.k = d.k AND d.k2 = 1")
    compare(spark, sql, conf={"spark.sql.autoBroadcastJoinThreshold": "-1"})
    assert any(n.count("SortMergeJoin(") == 3 for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))
