"""Sorts, top-k and limits run natively: ORDER BY (a global sort over Spark's range exchange),
SORT BY, ORDER BY ... LIMIT (TakeOrderedAndProjectExec: the top-k of each partition is
native), LIMIT and OFFSET inside a query; the rows come back in Spark's order."""

import os
from datetime import date, timedelta

import pytest
from pyspark.sql.types import (DateType, DecimalType, DoubleType, IntegerType, StringType, StructField,
                               StructType)

from conftest import D, compare, equal_values, fallback_reasons, native_subtrees, run_both


def _rows(n):
    floats = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.5, -2.25, None]
    strings = ["", "a", "ab", "B", "\u00e9", "z", "aa", None]
    state = 7
    rows = []
    for i in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        r = state >> 33
        rows.append((
            i,
            None if r % 11 == 0 else int(r % 50) - 25,
            strings[r % len(strings)],
            floats[(r // 7) % len(floats)],
            None if r % 13 == 0 else D(int(r % 100000) - 50000) / 100,
            None if r % 17 == 0 else date(1990, 1, 1) + timedelta(days=int(r % 5000)),
        ))
    return rows


SCHEMA = StructType([
    StructField("id", IntegerType(), False), StructField("k", IntegerType()), StructField("s", StringType()),
    StructField("x", DoubleType()), StructField("p", DecimalType(12, 2)), StructField("d", DateType()),
])


@pytest.fixture(scope="module")
def sorted_table(spark, data_dir):
    path = os.path.join(data_dir, "sort_t")
    spark.createDataFrame(_rows(3000), SCHEMA).repartition(3).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("st")
    # One file, one partition: LIMIT and OFFSET see the rows in file order.
    one = os.path.join(data_dir, "sort_one")
    spark.createDataFrame(_rows(500), SCHEMA).coalesce(1).write.mode("overwrite").parquet(one)
    spark.read.parquet(one).createOrReplaceTempView("st1")
    return path


def ordered(spark, sql, conf=None):
    """Runs `sql` on vanilla Spark and with Cinder: the same rows in the same order. Returns
    the native subtrees and the reasons recorded with Cinder."""
    expected, got, _ = run_both(spark, sql, conf)
    assert len(got) == len(expected), f"{sql}: {len(got)} rows, Spark gives {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert len(g) == len(e) and all(equal_values(a, b) for a, b in zip(g, e)), \
            f"{sql}: row {i} is {g}, Spark's is {e}"
    return native_subtrees(spark), fallback_reasons(spark)


# Each ORDER BY ends with the unique id, so the order is total and both engines agree on it.
@pytest.mark.parametrize("order", [
    "k, id", "k DESC, id", "k ASC NULLS LAST, id", "k DESC NULLS FIRST, id DESC",
    "s, id", "s DESC NULLS FIRST, id", "x, id", "x DESC, id", "x DESC NULLS LAST, id",
    "p, id", "p DESC, id", "d NULLS LAST, id", "s DESC, x NULLS LAST, k, id", "k + 1 DESC, id",
])
def test_order_by_matches_spark(spark, sorted_table, order):
    natives, _ = ordered(spark, f"SELECT id, k, s, x, p, d FROM st ORDER BY {order}")
    assert any(n.startswith("Sort(global) <-") for n in natives), natives


def test_order_by_over_a_native_aggregate(spark, sorted_table):
    natives, reasons = ordered(
        spark, "SELECT k, count(*) AS c, sum(p) AS total FROM st GROUP BY k ORDER BY total DESC, k")
    assert any(n.startswith("Sort(global) <- Input(") for n in natives), natives
    assert not [r for r in reasons if r.startswith(("Sort", "HashAggregate"))], reasons


@pytest.mark.parametrize("sql", [
    "SELECT id, s, x FROM st ORDER BY x DESC, id LIMIT 25",
    "SELECT id, k * 2 AS k2, s FROM st WHERE k > 0 ORDER BY s, id LIMIT 7",
    "SELECT id, s FROM st ORDER BY s NULLS LAST, id LIMIT 5 OFFSET 3",
    "SELECT k, count(*) AS c FROM st GROUP BY k ORDER BY c DESC, k LIMIT 4",
])
def test_order_by_limit_takes_a_native_top_k(spark, sorted_table, sql):
    natives, reasons = ordered(spark, sql)
    assert any(n.startswith("TopK(") for n in natives), natives
    assert [r for r in reasons if r.startswith("TakeOrderedAndProject")] == [
        r for r in reasons if "the top-k of each partition is native" in r], reasons


def test_sort_within_partitions_sorts_each_partition_natively(spark, sorted_table):
    spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
    df = spark.sql("SELECT id, k, s FROM st WHERE id % 3 <> 0 DISTRIBUTE BY k % 4 SORT BY k DESC NULLS LAST, id")
    parts = df.rdd.glom().collect()
    assert any("Sort <-" in n for n in native_subtrees(spark)), native_subtrees(spark)
    rows = [r for p in parts for r in p]
    assert sorted(r.id for r in rows) == [i for i in range(3000) if i % 3 != 0]
    for part in parts:
        keys = [(r.k is None, -(r.k or 0), r.id) for r in part]
        assert keys == sorted(keys)


def test_sort_by_over_a_native_merge_join_keeps_each_partition_sorted(spark, sorted_table):
    # Spark drops this SORT BY as redundant over its sort-merge join, which runs natively as an
    # unordered hash join: the order comes back as a native sort.
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
        df = spark.sql("SELECT /*+ MERGE(b) */ a.k, a.id, b.id AS bid FROM st a JOIN st1 b ON a.k = b.k SORT BY a.k")
        parts = df.rdd.glom().collect()
        natives = native_subtrees(spark)
    finally:
        spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    assert any("SortMergeJoin(" in n for n in natives), natives
    spark.conf.set("spark.cinder.enabled", "false")
    try:
        expected = spark.sql("SELECT a.k, a.id, b.id AS bid FROM st a JOIN st1 b ON a.k = b.k").count()
    finally:
        spark.conf.set("spark.cinder.enabled", "true")
    assert sum(len(p) for p in parts) == expected
    for part in parts:
        keys = [r.k for r in part]
        assert keys == sorted(keys), keys[:20]


def test_limit_and_offset_inside_a_query(spark, sorted_table):
    natives, _ = ordered(spark, "SELECT id, s FROM (SELECT id, s FROM st1 WHERE k > -10 LIMIT 30 OFFSET 12) "
                                "ORDER BY id")
    # (Spark's global limit counts the 12 skipped rows: 42.)
    assert any("GlobalLimit(42) <-" in n for n in natives), natives
    assert any("LocalLimit(" in n for n in natives), natives
    compare(spark, "SELECT count(*), count(DISTINCT k) FROM (SELECT k FROM st LIMIT 40)", native=None)
    # Over three partitions the global limit reads more rows than it keeps.
    compare(spark, "SELECT count(*) FROM (SELECT k FROM st WHERE k IS NOT NULL LIMIT 50 OFFSET 20)", native=None)
    assert any("GlobalLimit(70) <-" in n for n in native_subtrees(spark)), native_subtrees(spark)


def test_collect_limit_says_why_it_stays_on_spark(spark, sorted_table):
    compare(spark, "SELECT count(*) FROM (SELECT id FROM st WHERE k > 0) WHERE id >= 0", native=True)
    spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
    assert len(spark.sql("SELECT id FROM st WHERE k > 0").limit(3).collect()) == 3
    reasons = fallback_reasons(spark)
    assert any(r.startswith("CollectLimit: it takes rows for the driver") for r in reasons), reasons


def test_sort_switched_off_says_so(spark, sorted_table):
    _, reasons = ordered(spark, "SELECT id, k FROM st ORDER BY k, id", conf={"spark.cinder.sort.enabled": "false"})
    assert "Sort: spark.cinder.sort.enabled is false" in reasons, reasons
    _, reasons = ordered(spark, "SELECT id, k FROM st ORDER BY k, id LIMIT 3",
                         conf={"spark.cinder.sort.enabled": "false"})
    assert "TakeOrderedAndProject: spark.cinder.sort.enabled is false" in reasons, reasons


def test_sort_merge_join_left_on_spark_keeps_native_sorts_under_it(spark, sorted_table):
    # With native joins off, the sort-merge join stays on Spark and its input sorts go native.
    compare(spark, "SELECT /*+ MERGE(b) */ a.id, b.s FROM st a JOIN st b ON a.k = b.k WHERE a.id < 300",
            conf={"spark.cinder.join.enabled": "false", "spark.sql.autoBroadcastJoinThreshold": "-1"})
    natives = native_subtrees(spark)
    assert any(n.startswith("Sort <-") for n in natives), natives
