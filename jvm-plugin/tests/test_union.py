"""UNION ALL of native subtrees: the branches' batches pass through, and the filters,
projections and partial aggregations above a union go into every branch."""

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
