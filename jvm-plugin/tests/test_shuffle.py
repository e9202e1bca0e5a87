"""The native shuffle: a native subtree's output crosses an exchange as Arrow blocks.

Rows must land in the partitions Spark's own exchange gives them, or joins between a native
shuffle and a Spark shuffle would pair the wrong partitions: `spark_partition_id()` above a
native `REPARTITION` must equal vanilla Spark's for every key type, and joins whose sides were
shuffled one natively and one by Spark must agree with vanilla Spark.
"""

import pytest

from conftest import compare, fallback_reasons, native_subtrees, run_both, settings
from test_plugin import table  # noqa: F401 (fixture)

NATIVE_SHUFFLE = "CinderShuffleExchange"


def _no_rows_under_native_shuffles(plan):
    """A native shuffle reads its native child's batches: no ColumnarToRow right under it."""
    lines = [line.lstrip(" :+-") for line in plan.splitlines()]
    for line, below in zip(lines, lines[1:]):
        if line.startswith(NATIVE_SHUFFLE):
            assert below.startswith("CinderNativeExec"), plan


@pytest.mark.parametrize("keys", [
    "b", "t", "sm", "i", "l", "f", "x", "s", "d", "p", "q", "i, s", "d, p, l", "x, b, q",
])
def test_rows_go_to_the_partitions_spark_chooses(spark, table, keys):
    # The projection with spark_partition_id() stays on Spark, above the native shuffle: each
    # row's partition must be vanilla Spark's (ids make every row distinct).
    plan = compare(spark, f"SELECT id, {keys}, spark_partition_id() AS part FROM "
                          f"(SELECT /*+ REPARTITION(7, {keys}) */ * FROM t)")
    assert NATIVE_SHUFFLE in plan, plan


@pytest.mark.parametrize("key", ["x", "f", "x, s"])
def test_normalised_float_keys_go_to_the_partitions_spark_chooses(spark, table, key):
    # A window's float partition keys are hashed as Spark normalises them (-0.0 as 0.0, one
    # NaN); the partition id, read above the window, must be vanilla Spark's for each row.
    plan = compare(spark, f"SELECT *, spark_partition_id() AS part FROM "
                          f"(SELECT id, {key}, count(*) OVER (PARTITION BY {key}) AS n FROM t)",
                   conf={"spark.sql.adaptive.enabled": "false"})
    assert NATIVE_SHUFFLE in plan and "knownfloatingpointnormalized" in plan, plan


@pytest.mark.parametrize("key", ["i", "l", "s", "d", "p", "b"])
def test_a_native_and_a_spark_shuffle_join_on_the_same_partitions(spark, table, key):
    # upper() keeps the right side's filter (and its exchange) on Spark (on id, so that it is
    # not inferred for the left side through the key); the left side's exchange is native;
    # the sort-merge join reads both by partition.
    conf = {"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.adaptive.enabled": "false",
            "spark.sql.shuffle.partitions": "5"}
    plan = compare(spark, f"SELECT a.id, r.id FROM t a JOIN "
                          f"(SELECT * FROM t WHERE upper(cast(id AS string)) <> 'X') r ON a.{key} = r.{key}",
                   conf=conf)
    assert NATIVE_SHUFFLE in plan and "Exchange hashpartitioning" in plan, plan


@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_aggregates_and_joins_over_native_shuffles(spark, table, adaptive):
    conf = {"spark.sql.adaptive.enabled": adaptive, "spark.sql.autoBroadcastJoinThreshold": "-1",
            "spark.sql.ansi.enabled": "false"}
    plan = compare(spark, "SELECT b, s, count(*), sum(p), avg(i), min(d) FROM t GROUP BY b, s", conf=conf)
    assert NATIVE_SHUFFLE in plan, plan
    assert any(n.startswith("HashAggregate(final) <- Input") for n in native_subtrees(spark))
    plan = compare(spark, "SELECT x.i, count(*), max(y.s) FROM t x JOIN t y ON x.i = y.i AND x.d = y.d "
                          "GROUP BY x.i", conf=conf)
    assert plan.count(NATIVE_SHUFFLE) >= 2, plan
    _no_rows_under_native_shuffles(plan)


def test_many_partitions_and_single_partition(spark, table):
    # More partitions than Spark's bypass-merge threshold (200): the serialized sort shuffle.
    plan = compare(spark, "SELECT s, count(*), sum(l) FROM t GROUP BY s",
                   conf={"spark.sql.shuffle.partitions": "301", "spark.sql.adaptive.enabled": "false",
                         "spark.sql.ansi.enabled": "false"})
    assert NATIVE_SHUFFLE in plan, plan
    # A global aggregate gathers its partial rows into one partition.
    plan = compare(spark, "SELECT count(*), sum(i), max(d) FROM t", conf={"spark.sql.adaptive.enabled": "false"})
    assert NATIVE_SHUFFLE in plan and "SinglePartition" in plan, plan


def test_empty_shuffles(spark, table):
    compare(spark, "SELECT s, count(*) FROM t WHERE id < 0 GROUP BY s", conf={"spark.sql.adaptive.enabled": "false"})
    compare(spark, "SELECT id, spark_partition_id() FROM (SELECT /*+ REPARTITION(3, s) */ * FROM t WHERE id < 0)")


def test_what_stays_a_spark_shuffle_says_why(spark, table):
    # A range partitioning (a global sort's) stays Spark's.
    compare(spark, "SELECT id, s FROM t ORDER BY s, id", native=None)
    assert any(r.startswith("Exchange: RangePartitioning") for r in fallback_reasons(spark)), fallback_reasons(spark)
    _, _, plan = run_both(spark, "SELECT s, count(*) FROM t GROUP BY s", conf={"spark.cinder.shuffle.enabled": "false"})
    assert NATIVE_SHUFFLE not in plan, plan
    assert "Exchange: spark.cinder.shuffle.enabled is false" in fallback_reasons(spark)


def test_native_shuffles_report_sparks_data_size(spark, table):
    # Adaptive execution decides on an exchange's dataSize (whether to broadcast a side, say):
    # a native shuffle reports its rows' size as Spark's own exchange measures them.
    sql = "SELECT /*+ REPARTITION(3, i) */ * FROM t"

    def sizes(enabled):
        with settings(spark, {"spark.cinder.enabled": enabled}):
            df = spark.sql(sql)
            df.collect()
            return list(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.shuffleDataSizes(
                df._jdf.queryExecution().executedPlan()))
    spark_sizes, native_sizes = sizes("false"), sizes("true")
    assert len(spark_sizes) == 1 and spark_sizes[0] > 0, spark_sizes
    assert native_sizes == spark_sizes
