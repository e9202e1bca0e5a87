"""Exact percentiles (percentile, median, percentile_cont, percentile_disc) and percentile_approx
run natively: Spark's buffers (the counts of the values; the quantile summary), serialized as
Spark does, between the stages."""

import os

import pytest

from conftest import (compare, equal_values, fails_alike, fallback_reasons, native_subtrees, normalise, run_both,
                      settings)
from test_plugin import table  # noqa: F401 (fixture)


def _stages(spark):
    subtrees = native_subtrees(spark)
    return {stage for stage in ("partial", "merge", "final") if any(f"HashAggregate({stage})" in n for n in subtrees)}


def exactly(spark, sql, conf=None):
    """`sql`'s rows with Cinder are vanilla Spark's, every double bit for bit (NaN equal to NaN)."""
    expected, got, plan = run_both(spark, sql, conf)
    got, expected = normalise(got), normalise(expected)
    assert len(got) == len(expected) and all(
        len(g) == len(e) and all(equal_values(x, y) for x, y in zip(g, e)) for g, e in zip(got, expected)), (
        f"rows differ for {sql}\ngot:      {got[:20]}\nexpected: {expected[:20]}\nplan:\n{plan}")
    return plan


PERCENTILES = (
    "median(i), percentile(l, 0.25), percentile(x, 0.5), percentile(f, 0.9), percentile(p, 0.1), "
    "percentile(q, 0.75), percentile(t, 0), percentile(sm, 1), percentile(x, 0.999), "
    "percentile_cont(0.3) WITHIN GROUP (ORDER BY x DESC), percentile_disc(0.4) WITHIN GROUP (ORDER BY i), "
    "percentile_disc(0.5) WITHIN GROUP (ORDER BY p DESC), percentile_disc(0.0) WITHIN GROUP (ORDER BY f), "
    "median(x) FILTER (WHERE b), percentile(l, 0.5) FILTER (WHERE i > 0), count(*), sum(i)"
)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7", "s"])
def test_percentiles_are_sparks(spark, table, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    exactly(spark, f"SELECT {keys}{PERCENTILES} FROM t{tail}")
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))


def test_legacy_percentile_disc_and_sort_aggregates(spark, table):
    exactly(spark, "SELECT b, percentile_disc(0.5) WITHIN GROUP (ORDER BY i), percentile_disc(0.25) "
                   "WITHIN GROUP (ORDER BY x DESC), percentile_disc(1.0) WITHIN GROUP (ORDER BY q) FROM t GROUP BY b",
            conf={"spark.sql.legacy.percentileDiscCalculation": "true"})
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)
    # Without ObjectHashAggregateExec, Spark runs them in SortAggregateExec.
    exactly(spark, f"SELECT i % 5, {PERCENTILES} FROM t GROUP BY i % 5",
            conf={"spark.sql.execution.useObjectHashAggregateExec": "false"})
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)


def test_no_rows_and_all_nulls(spark, table):
    exactly(spark, "SELECT median(i), percentile(x, 0.3), count(*) FROM t WHERE id < 0")
    exactly(spark, "SELECT b, median(i) FROM t WHERE id < 0 GROUP BY b")
    exactly(spark, "SELECT id % 3, median(CAST(NULL AS INT)), percentile(IF(id > 2990, x, NULL), 0.5) FROM t "
                   "GROUP BY id % 3")
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)


def test_frequencies(spark, table):
    exactly(spark, "SELECT b, percentile(i, 0.5, id % 4), percentile(x, 0.2, CAST(t AS INT) + 200), "
                   "percentile(p, 0.7, IF(id % 5 = 0, NULL, 3L)) FROM t GROUP BY b")
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)
    fails_alike(spark, "SELECT b, percentile(i, 0.5, t) FROM t GROUP BY b",
                "NEGATIVE_VALUES_IN_FREQUENCY_EXPRESSION")


def test_buffers_between_native_and_spark_stages(spark, table):
    # A native final stage merges Spark's partial buffers (initcap() keeps the partial stage on
    # Spark) ...
    exactly(spark, "SELECT b, median(l), percentile(q, 0.4), percentile(f, 0.5), median(t), median(sm), median(i), "
                   "percentile(p, 0.3), percentile(x, 0.6) FROM t WHERE initcap(s) >= '1S' GROUP BY b")
    assert _stages(spark) == {"final"}, (native_subtrees(spark), fallback_reasons(spark))
    # ... and Spark's final stage merges native buffers.
    exactly(spark, "SELECT b, initcap(CAST(median(l) AS STRING)), initcap(CAST(percentile(q, 0.4) AS STRING)), "
                   "initcap(CAST(percentile(f, 0.5) AS STRING)), initcap(CAST(percentile(x, 0.5) AS STRING)), "
                   "initcap(CAST(median(t) AS STRING)), initcap(CAST(median(sm) AS STRING)), "
                   "initcap(CAST(median(i) AS STRING)), initcap(CAST(percentile(p, 0.3) AS STRING)) FROM t GROUP BY b")
    assert _stages(spark) == {"partial"}, native_subtrees(spark)
    # Next to a DISTINCT aggregate: the buffers merged natively, then by either final stage.
    exactly(spark, "SELECT b, initcap(CAST(median(l) AS STRING)), count(DISTINCT s) FROM t GROUP BY b")
    assert "merge" in _stages(spark) and "final" not in _stages(spark), native_subtrees(spark)
    exactly(spark, "SELECT b, median(l), count(DISTINCT s), percentile(q, 0.9) FROM t GROUP BY b")
    assert {"merge", "final"} <= _stages(spark), native_subtrees(spark)
    exactly(spark, "SELECT b, median(DISTINCT i), percentile(DISTINCT x, 0.3) FROM t GROUP BY b")
    assert "final" in _stages(spark), native_subtrees(spark)


@pytest.fixture(scope="module")
def spread(spark, data_dir):
    path = os.path.join(data_dir, "percentile_spread")
    spark.range(0, 120000, 1, 4).selectExpr(
        "id % 50 AS g", "CAST((id * 7919) % 100003 AS DOUBLE) / 7 AS v", "(id * 31) % 1009 AS k",
        "CAST(id % 977 AS DECIMAL(30, 3)) / 3 AS w").write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("spread")
    return path


def test_many_values_and_groups(spark, spread):
    exactly(spark, "SELECT g, median(v), percentile(k, 0.37), percentile(w, 0.61), "
                   "percentile_disc(0.9) WITHIN GROUP (ORDER BY v DESC) FROM spread GROUP BY g")
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)
    exactly(spark, "SELECT median(v), percentile(k, 0.001), percentile(w, 0.5) FROM spread")


def test_unsupported_percentiles_stay_on_spark_with_reasons(spark, table):
    compare(spark, "SELECT b, percentile(i, array(0.25, 0.75)) FROM t GROUP BY b", native=None)
    assert any("percentile of an array of percentages is not native yet" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)
    compare(spark, "SELECT b, CAST(percentile(make_ym_interval(i % 10, 0), 0.5) AS STRING) FROM t GROUP BY b",
            native=None)
    assert any("percentile of interval year to month is not native yet" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


APPROX = (
    "percentile_approx(i, 0.5), percentile_approx(l, 0.25, 100), percentile_approx(x, 0.9), "
    "percentile_approx(f, 0.1, 50), percentile_approx(t, 0.0), percentile_approx(sm, 1.0), "
    "percentile_approx(p, 0.3), percentile_approx(d, 0.5), approx_percentile(CAST(d AS TIMESTAMP), 0.7), "
    "percentile_approx(CAST(d AS TIMESTAMP_NTZ), 0.2, 10), percentile_approx(x, 0.5) FILTER (WHERE b), "
    "percentile_approx(CAST(i % 100000 AS DECIMAL(12, 3)) * 1.5, 0.6), count(*)"
)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7"])
def test_percentile_approx_is_sparks(spark, table, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    exactly(spark, f"SELECT {keys}{APPROX} FROM t{tail}")
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))
    exactly(spark, f"SELECT {keys}percentile_approx(i, 0.5), percentile_approx(x, 0.3) FROM t WHERE id < 0{tail}")


def test_percentile_approx_of_many_values(spark, spread):
    # Groups of 2,400 values, and one of 120,000 (30,000 a task: compressed summaries merged in
    # the shuffle's order, as Spark merges them).
    exactly(spark, "SELECT g, percentile_approx(v, 0.5), percentile_approx(k, 0.9, 100), "
                   "percentile_approx(CAST(w AS DECIMAL(15, 4)), 0.25, 1000) FROM spread GROUP BY g")
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)
    exactly(spark, "SELECT percentile_approx(v, 0.5), percentile_approx(k, 0.01, 100), "
                   "percentile_approx(v, 0.75, 30) FROM spread")


@pytest.fixture(scope="module")
def long_tasks(spark, data_dir):
    path = os.path.join(data_dir, "percentile_long_tasks")
    spark.range(0, 260000, 1, 2).selectExpr(
        "id % 2 AS g", "CAST((id * 104729) % 1000003 AS DOUBLE) AS v").coalesce(2) \
        .write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("long_tasks")
    return path


def test_percentile_approx_past_the_head_buffer(spark, long_tasks):
    # 130,000 values a task: Spark's head buffer of 50,000 sorted into the summary twice, which
    # compresses past 10,000 samples, in the order the rows come.
    exactly(spark, "SELECT percentile_approx(v, 0.5), percentile_approx(v, 0.999, 100000), "
                   "percentile_approx(v, 0.2, 500) FROM long_tasks")
    exactly(spark, "SELECT g, percentile_approx(v, 0.5), percentile_approx(v, 0.3, 100) FROM long_tasks GROUP BY g")
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)


def test_percentile_approx_between_native_and_spark_stages(spark, table):
    exactly(spark, "SELECT b, percentile_approx(l, 0.5), percentile_approx(x, 0.3, 100) FROM t "
                   "WHERE initcap(s) >= '1S' GROUP BY b")
    assert _stages(spark) == {"final"}, (native_subtrees(spark), fallback_reasons(spark))
    exactly(spark, "SELECT b, initcap(CAST(percentile_approx(l, 0.5) AS STRING)), "
                   "initcap(CAST(percentile_approx(d, 0.4, 100) AS STRING)) FROM t GROUP BY b")
    assert _stages(spark) == {"partial"}, native_subtrees(spark)
    exactly(spark, "SELECT b, percentile_approx(l, 0.5), count(DISTINCT s) FROM t GROUP BY b")
    assert {"merge", "final"} <= _stages(spark), native_subtrees(spark)


def test_unsupported_percentile_approx_stays_on_spark_with_reasons(spark, table):
    compare(spark, "SELECT b, percentile_approx(q, 0.5) FROM t GROUP BY b", native=None)
    assert any("percentile_approx of decimal(38,10) (over 15 digits) is not native yet" in r
               for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT b, percentile_approx(i, array(0.5, 0.7)) FROM t GROUP BY b", native=None)
    assert any("percentile_approx of an array of percentages is not native yet" in r
               for r in fallback_reasons(spark)), fallback_reasons(spark)


MODES = (
    "mode() WITHIN GROUP (ORDER BY i), mode() WITHIN GROUP (ORDER BY x DESC), mode() WITHIN GROUP (ORDER BY t), "
    "mode() WITHIN GROUP (ORDER BY sm DESC), mode() WITHIN GROUP (ORDER BY l), mode() WITHIN GROUP (ORDER BY f), "
    "mode() WITHIN GROUP (ORDER BY p DESC), mode() WITHIN GROUP (ORDER BY q), mode() WITHIN GROUP (ORDER BY d), "
    "mode() WITHIN GROUP (ORDER BY b DESC), mode() WITHIN GROUP (ORDER BY CAST(d AS TIMESTAMP)), "
    "mode(IF(id % 3 = 0 OR i < 0, 7, id)), mode(IF(id % 4 = 0, -2.5D, x)) FILTER (WHERE b), count(*)"
)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7"])
def test_mode_is_sparks(spark, table, group_by):
    # Ties go to one end of the WITHIN GROUP order; plain mode(x) of values that do not tie.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    exactly(spark, f"SELECT {keys}{MODES} FROM t{tail}")
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))


def test_mode_between_native_and_spark_stages(spark, table):
    exactly(spark, "SELECT b, mode() WITHIN GROUP (ORDER BY l), mode() WITHIN GROUP (ORDER BY d DESC), "
                   "mode() WITHIN GROUP (ORDER BY p) FROM t WHERE initcap(s) >= '1S' GROUP BY b")
    assert _stages(spark) == {"final"}, (native_subtrees(spark), fallback_reasons(spark))
    exactly(spark, "SELECT b, initcap(CAST(mode() WITHIN GROUP (ORDER BY l) AS STRING)), "
                   "initcap(CAST(mode() WITHIN GROUP (ORDER BY q DESC) AS STRING)) FROM t GROUP BY b")
    assert _stages(spark) == {"partial"}, native_subtrees(spark)
    compare(spark, "SELECT b, mode(s) FROM t GROUP BY b", native=None)
    assert any("mode of string is not native yet" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.fixture(scope="module")
def many_groups(spark, data_dir):
    path = os.path.join(data_dir, "percentile_many_groups")
    spark.range(0, 300000, 1, 2).selectExpr(
        "id % 200 AS g", "CAST((id * 7919) % 1009 AS DOUBLE) AS v").coalesce(2) \
        .write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("many_groups")
    return path


@pytest.mark.parametrize("conf", [
    {},
    {"spark.sql.shuffle.partitions": "1"},
    {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "1000"},
    {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "3", "spark.sql.shuffle.partitions": "1"},
])
def test_percentile_approx_follows_sparks_sort_based_fallback(spark, many_groups, conf):
    # 200 groups of 1,500 values, 750 a task: past 128 groups a task (Spark's default threshold)
    # Spark reads the remaining rows sorted by their keys into new buffers and merges the first
    # ones into them; at accuracy 100 the summaries depend on that order.
    exactly(spark, "SELECT g, percentile_approx(v, 0.1, 100), percentile_approx(v, 0.5, 100), "
                   "percentile_approx(v, 0.9, 30) FROM many_groups GROUP BY g", conf=conf)
    assert _stages(spark) == {"partial", "final"}, fallback_reasons(spark)
