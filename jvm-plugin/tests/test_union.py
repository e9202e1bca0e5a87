"""UNION ALL of native subtrees: the branches' batches pass through, and the filters,
projections and partial aggregations above a union go into every branch."""

import pytest

from conftest import compare, fallback_reasons, native_subtrees
from test_sort import sorted_table  # noqa: F401 (fixture)


def _union_is_native(spark):
    return any("Union <- [" in n for n in native_subtrees(spark))


def test_union_all_of_native_scans(spark, sorted_table):  # noqa: F811
    compare(spark, "SELECT id, s FROM st WHERE k > 0 UNION ALL SELECT id, s FROM st1 WHERE k < 0")
    assert _union_is_native(spark), (native_subtrees(spark), fallback_reasons(spark))


def test_operators_above_a_union_go_into_every_branch(spark, sorted_table):  # noqa: F811
    sql = ("SELECT k, count(*), sum(p), max(p) FROM ("
           "SELECT k, p, s FROM st WHERE id < 2000 UNION ALL SELECT k, p, s FROM st1 "
           "UNION ALL SELECT k, p, s FROM st WHERE id < 100"
           ") WHERE p IS NOT NULL GROUP BY k")
    compare(spark, sql)
    assert any("HashAggregate(partial)" in n and "Union <- [" in n for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))


def test_union_with_a_spark_branch_says_why(spark, sorted_table):  # noqa: F811
    compare(spark, "SELECT id FROM st UNION ALL SELECT id FROM range(10)", native=None)
    assert any(r.startswith("Union: its input") for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("adaptive", ["true", "false"])
@pytest.mark.parametrize("sql", [
    "SELECT k, count(*) FROM (SELECT k, p FROM st UNION ALL SELECT k, p FROM st1) WHERE p > (SELECT avg(p) FROM st) "
    "GROUP BY k",
    "SELECT k, sum(p) + (SELECT max(p) FROM st) FROM (SELECT k, p FROM st UNION ALL SELECT k, p FROM st1) GROUP BY k",
    "SELECT count(*) FROM (SELECT k, p FROM st WHERE p > (SELECT avg(p) FROM st) UNION ALL SELECT k, p FROM st1)",
    "SELECT k, max(p) FROM (SELECT k, p FROM st UNION ALL SELECT k, p FROM st1 WHERE k < (SELECT max(k) FROM st)) "
    "GROUP BY k",
])
def test_aggregations_over_a_union_with_scalar_subqueries(spark, sorted_table, sql, adaptive):  # noqa: F811
    compare(spark, sql, conf={"spark.sql.adaptive.enabled": adaptive})
    assert any("HashAggregate(partial) <- Union <- [" in n for n in native_subtrees(spark)), (
        native_subtrees(spark), fallback_reasons(spark))
    assert not fallback_reasons(spark), fallback_reasons(spark)
