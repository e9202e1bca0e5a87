"""ROLLUP, CUBE, GROUPING SETS and several DISTINCT aggregates: Spark plans an ExpandExec, which
runs natively (each batch through each projection), with the aggregation above it."""

import os

import pytest

from conftest import compare, fallback_reasons, native_subtrees


@pytest.fixture(scope="module")
def ex(spark, data_dir):
    path = os.path.join(data_dir, "expand")
    spark.sql("SELECT id, CAST(id % 3 AS INT) AS a, IF(id % 7 = 0, NULL, CONCAT('s', id % 4)) AS b, "
              "CAST(id % 11 AS DECIMAL(10, 2)) AS d, IF(id % 5 = 0, NULL, id / 8.0) AS x, "
              "DATE_ADD(DATE'2024-01-01', CAST(id % 9 AS INT)) AS dt FROM range(0, 500)") \
        .repartition(3).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("ex")
    return path


def _expanded(spark):
    return any("Expand <-" in n for n in native_subtrees(spark))


@pytest.mark.parametrize("group", ["ROLLUP(a, b)", "CUBE(a, b, dt)", "GROUPING SETS ((a), (b, dt), ())",
                                   "a, ROLLUP(b)", "GROUPING SETS ((a, b), (a), (b))"])
def test_grouping_sets(spark, ex, group):
    cols = "a, b, dt" if "dt" in group else "a, b"
    compare(spark, f"SELECT {cols}, count(*), sum(d), min(x), max(dt), grouping_id(), grouping(a) FROM ex "
                   f"GROUP BY {group}")
    assert _expanded(spark), (native_subtrees(spark), fallback_reasons(spark))
    assert not fallback_reasons(spark), fallback_reasons(spark)


def test_rollup_under_a_filter_and_a_sort(spark, ex):
    compare(spark, "SELECT a, b, sum(d) AS s FROM ex WHERE x > 3 OR b IS NULL GROUP BY ROLLUP(a, b) "
                   "HAVING count(*) > 1 ORDER BY a NULLS LAST, b NULLS FIRST")
    assert _expanded(spark), (native_subtrees(spark), fallback_reasons(spark))


def test_several_distinct_aggregates(spark, ex):
    # Spark rewrites them into an Expand with one projection per distinct argument.
    compare(spark, "SELECT a, count(DISTINCT b), count(DISTINCT dt), sum(DISTINCT d) FROM ex GROUP BY a")
    assert _expanded(spark), (native_subtrees(spark), fallback_reasons(spark))
    compare(spark, "SELECT count(DISTINCT b), count(DISTINCT a), count(*) FROM ex")
    assert _expanded(spark), (native_subtrees(spark), fallback_reasons(spark))


def test_expand_can_be_turned_off(spark, ex):
    compare(spark, "SELECT a, b, count(*) FROM ex GROUP BY ROLLUP(a, b)", native=None,
            conf={"spark.cinder.expand.enabled": "false"})
    assert not _expanded(spark)
    assert any("spark.cinder.expand.enabled is false" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_bitwise_operators(spark, ex, ansi):
    compare(spark, "SELECT id, a & 5, a | id, CAST(id AS INT) ^ -3, ~a, ~id, shiftleft(a, 30), shiftleft(id, 62), "
                   "shiftleft(a, -1), shiftleft(id, 65), shiftright(-id, 1), shiftright(a, 33), "
                   "shiftright(CAST(-7 - id AS INT), 35), CAST(a AS TINYINT) & CAST(6 AS TINYINT), "
                   "CAST(id AS SMALLINT) | CAST(-32768 AS SMALLINT) FROM ex", conf={"spark.sql.ansi.enabled": ansi})
    assert any(n.startswith("Project <-") for n in native_subtrees(spark)) and not fallback_reasons(spark), \
        fallback_reasons(spark)
