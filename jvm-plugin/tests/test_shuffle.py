"""The native shuffle: a native subtree's output crosses an exchange as Arrow blocks.

Rows must land in the partitions Spark's own exchange gives them, or joins between a native
shuffle and a Spark shuffle would pair the wrong partitions: `spark_partition_id()` above a
native `REPARTITION` must equal vanilla Spark's for every key type, and joins whose sides were
shuffled one natively and one by Spark must agree with vanilla Spark.
"""

import functools
import math

import pytest

from conftest import compare, equal_values, fallback_reasons, native_subtrees, rows_equal, run_both, settings
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


def _compare_values(a, b):
    """Spark's order of two non-null values: floats with -0.0 = 0.0 and NaN largest, strings
    by their UTF-8 bytes."""
    if isinstance(a, float):
        a_nan, b_nan = math.isnan(a), math.isnan(b)
        if a_nan or b_nan:
            return (a_nan > b_nan) - (a_nan < b_nan)
    if isinstance(a, str):
        a, b = a.encode(), b.encode()
    return (a > b) - (a < b)


def _assert_ranges(rows, keys):
    """`rows` (each ending with its partition) are range partitioned by `keys` (column index,
    ascending, nulls first): in the keys' order the partitions never go down, and equal keys
    share a partition."""
    def compare_rows(r1, r2):
        for i, ascending, nulls_first in keys:
            a, b = r1[i], r2[i]
            if a is None or b is None:
                if a is None and b is None:
                    continue
                return -1 if (a is None) == nulls_first else 1
            c = _compare_values(a, b)
            if c:
                return c if ascending else -c
        return 0
    ordered = sorted(rows, key=functools.cmp_to_key(compare_rows))
    for r1, r2 in zip(ordered, ordered[1:]):
        assert r1[-1] <= r2[-1], f"{r1} sorts before {r2} but in a later partition"
        if compare_rows(r1, r2) == 0:
            assert r1[-1] == r2[-1], f"equal keys {r1} and {r2} in two partitions"
    return {r[-1] for r in rows}


def _range_partitioned(spark, sql, keys, conf=None):
    """`sql` (whose last column is spark_partition_id()) gives Spark's rows, partitioned by
    ranges of `keys` through a native range shuffle. The partitions themselves may differ from
    a vanilla run's: RangePartitioner seeds its sample with the RDD's id, so Spark's own
    bounds move between runs too."""
    expected, got, plan = run_both(spark, sql, conf)
    assert rows_equal([tuple(r)[:-1] for r in got], [tuple(r)[:-1] for r in expected]), sql
    assert NATIVE_SHUFFLE in plan and "rangepartitioning" in plan.lower(), plan
    _no_rows_under_native_shuffles(plan)
    return _assert_ranges([tuple(r) for r in got], keys)


@pytest.mark.parametrize("keys", ["b", "t", "sm", "i", "l", "f", "x", "s", "d", "p", "q", "i, s", "x, b, q"])
def test_range_partitions(spark, table, keys):
    # The bounds are Spark's RangePartitioner's, sampled from the native scan's rows.
    names = keys.split(", ")
    parts = _range_partitioned(spark, f"SELECT {keys}, id, spark_partition_id() AS part FROM "
                                      f"(SELECT /*+ REPARTITION_BY_RANGE(5, {keys}) */ * FROM t)",
                               [(i, True, True) for i in range(len(names))])
    assert len(parts) > 1, parts


@pytest.mark.parametrize("order", ["l DESC", "f DESC NULLS LAST", "s NULLS LAST", "d, s DESC", "x DESC", "q, p"])
def test_range_partitions_in_each_direction(spark, table, order):
    from pyspark.sql import functions as F
    columns, keys = [], []
    for i, key in enumerate(order.split(", ")):
        name, *how = key.split(" ")
        c = F.col(name)
        # (Spark's defaults: ASC NULLS FIRST, DESC NULLS LAST.)
        column, ascending, nulls_first = {(): (c.asc(), True, True), ("DESC",): (c.desc(), False, False),
                                          ("NULLS", "LAST"): (c.asc_nulls_last(), True, False),
                                          ("DESC", "NULLS", "LAST"): (c.desc_nulls_last(), False, False)}[tuple(how)]
        columns.append(column)
        keys.append((i, ascending, nulls_first))
    spark.table("t").repartitionByRange(4, *columns).createOrReplaceTempView("t_by_range")
    names = ", ".join(k.split(" ")[0] for k in order.split(", "))
    parts = _range_partitioned(spark, f"SELECT {names}, id, spark_partition_id() AS part FROM t_by_range", keys)
    assert len(parts) > 1, parts


@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_global_sorts_over_native_range_shuffles(spark, table, adaptive):
    conf = {"spark.sql.adaptive.enabled": adaptive, "spark.sql.shuffle.partitions": "4"}
    for sql in ["SELECT id, s FROM t ORDER BY s, id", "SELECT id, x, f FROM t ORDER BY x DESC NULLS LAST, id",
                "SELECT id, d FROM t WHERE i > 0 ORDER BY d DESC, id DESC",
                "SELECT s, count(*) AS c FROM t GROUP BY s ORDER BY c DESC, s"]:
        expected, got, plan = run_both(spark, sql, conf)
        # In order (the ids break ties), NaN equal to NaN.
        assert len(got) == len(expected) and all(
            len(g) == len(e) and all(equal_values(a, b) for a, b in zip(g, e)) for g, e in zip(got, expected)), sql
        assert NATIVE_SHUFFLE in plan and "rangepartitioning" in plan.lower(), plan
        assert not any("Exchange" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    # Empty input: no bounds; one partition: no sample.
    compare(spark, "SELECT id FROM t WHERE id < 0 ORDER BY s", conf=conf, native=None)
    compare(spark, "SELECT id, s FROM t ORDER BY s, id", conf={"spark.sql.shuffle.partitions": "1"})


def test_what_stays_a_spark_shuffle_says_why(spark, table):
    # A round-robin partitioning (repartition(n)) stays Spark's.
    compare(spark, "SELECT /*+ REPARTITION(3) */ id, s FROM t", native=None)
    assert any(r.startswith("Exchange: RoundRobinPartitioning") for r in fallback_reasons(spark)), \
        fallback_reasons(spark)
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
