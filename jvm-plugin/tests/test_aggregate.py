"""Partial aggregation runs natively and Spark's final stage merges its buffers."""

import os

import pytest

from conftest import compare, executed_plan, fails_alike, fallback_reasons, native_subtrees, run_both, settings
from test_plugin import partitioned, table  # noqa: F401 (fixtures)


def _partial_is_native(spark):
    return any("HashAggregate(partial)" in n for n in native_subtrees(spark))


def _final_is_native(spark):
    return any("HashAggregate(final)" in n for n in native_subtrees(spark))


@pytest.mark.parametrize("aggregates", [
    "count(*)", "count(i)", "count(s), count(x)",
    "sum(i)", "sum(l)", "sum(t)", "sum(sm)", "sum(p)", "sum(q)",
    "avg(i)", "avg(l)", "avg(p)", "avg(q)",
    "min(i), max(i)", "min(l), max(l)", "min(p), max(q)", "min(d), max(d)", "min(t), max(sm)",
    "min(b), max(b)",
    "count(*), sum(p), avg(p), min(d), max(i), count(s)",
])
@pytest.mark.parametrize("group_by", ["", "b", "s", "d, b", "i % 5", "p"])
def test_partial_aggregates_match_spark(spark, table, aggregates, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}{aggregates} FROM t{tail}", conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark), native_subtrees(spark)
    assert _final_is_native(spark), (native_subtrees(spark), fallback_reasons(spark))


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_decimal_averages_round_as_spark_does(spark, table, ansi):
    # Many groups of few rows: quotients that round at every digit.
    compare(spark, "SELECT id % 211 AS g, avg(p), avg(q), sum(p), sum(q) FROM t GROUP BY id % 211",
            conf={"spark.sql.ansi.enabled": ansi})
    assert _final_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT avg(p) * 3, avg(q) FROM t", conf={"spark.sql.ansi.enabled": ansi})
    assert _final_is_native(spark), fallback_reasons(spark)


def test_final_stage_reads_a_spark_partial_stage(spark, table):
    # initcap() keeps the filter, so the partial aggregation, on Spark; the final stage reads the
    # shuffle natively.
    compare(spark, "SELECT b, s, sum(p), avg(p), count(*), min(d), max(i) FROM t "
                   "WHERE initcap(s) >= '1S' GROUP BY b, s", conf={"spark.sql.ansi.enabled": "false"})
    assert _final_is_native(spark) and not _partial_is_native(spark), (native_subtrees(spark),
                                                                       fallback_reasons(spark))


def test_distinct_rows_run_natively(spark, table):
    compare(spark, "SELECT DISTINCT b, s FROM t")
    compare(spark, "SELECT DISTINCT d FROM t WHERE i > 0")


@pytest.mark.parametrize("aggregates", ["sum(cast(i AS double))", "avg(cast(i AS double))", "sum(f)",
                                        "avg(f)", "sum(x)", "avg(x)"])
def test_float_sums_match_spark(spark, table, aggregates):
    # Integer-valued doubles and multiples of 1/8 sum exactly in any order; x's infinities and
    # NaNs make NaN or infinity in any order too.
    compare(spark, f"SELECT b, {aggregates} FROM t GROUP BY b", conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark)


def test_aggregates_over_empty_input_and_all_null_groups(spark, table):
    conf = {"spark.sql.ansi.enabled": "false"}
    compare(spark, "SELECT count(*), sum(p), avg(p), sum(l), avg(x), min(s) FROM t WHERE id < 0", conf=conf)
    # Adaptive execution sees the empty shuffle and answers from an empty local relation.
    compare(spark, "SELECT count(*), sum(p), avg(q), min(i) FROM t WHERE id < 0 GROUP BY b", conf=conf,
            native=None)
    # Groups whose values are all null: sum is null, avg is null, count is 0.
    compare(spark, "SELECT id % 4, sum(p), avg(p), count(p) FROM t WHERE p IS NULL OR id % 4 = 1 "
                   "GROUP BY id % 4", conf=conf)


def test_ansi_mode_sums(spark, table):
    conf = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT b, sum(p), avg(p), count(*) FROM t GROUP BY b", conf=conf)
    assert _partial_is_native(spark)
    # Integer sums in ANSI mode add exactly and fail where the sum leaves bigint's range.
    compare(spark, "SELECT b, sum(i), sum(t), count(*) FROM t GROUP BY b", conf=conf)
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


@pytest.fixture(scope="module")
def big_longs(spark, data_dir):
    path = os.path.join(data_dir, "big_longs")
    spark.sql("SELECT id, id % 2 AS g, 4611686018427387904 + id AS v FROM range(0, 6)") \
        .repartition(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("big_longs")
    return path


def test_integer_sum_overflow_is_an_error_in_ansi_mode(spark, big_longs):
    # Three values of 2^62 per group: the sum leaves bigint's range.
    fails_alike(spark, "SELECT g, sum(v) FROM big_longs GROUP BY g", "ARITHMETIC_OVERFLOW",
                conf={"spark.sql.ansi.enabled": "true"})
    # One value of 2^62 and the rest small: fits, in both modes.
    compare(spark, "SELECT g, sum(v - CASE WHEN id > 1 THEN 4611686018427387904 ELSE 0 END) FROM big_longs "
                   "GROUP BY g", conf={"spark.sql.ansi.enabled": "true"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


def test_partitioned_aggregation(spark, partitioned):  # noqa: F811
    compare(spark, "SELECT part, region, count(*), sum(v), min(id), max(id) FROM pt GROUP BY part, region")
    assert _partial_is_native(spark)


# avg(DISTINCT l) would add l's distinct values (2^63 - 1 and -2^63 among them) as doubles in
# hash-table order, which differs between the engines and moves the result in its 9th digit:
# the averages here are of ints, whose double sums are exact in any order.
@pytest.mark.parametrize("aggregates", [
    "count(DISTINCT i)", "sum(DISTINCT i)", "count(DISTINCT s)", "avg(DISTINCT i)", "count(DISTINCT l)",
    "count(DISTINCT d)",
])
@pytest.mark.parametrize("group_by", ["", "b"])
def test_distinct_aggregates_run_natively(spark, table, aggregates, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}{aggregates} FROM t{tail}")
    reasons = [r for r in fallback_reasons(spark) if r.startswith("HashAggregate")]
    assert not reasons, reasons
    assert _partial_is_native(spark) and _final_is_native(spark), native_subtrees(spark)


def _merge_is_native(spark):
    return any("HashAggregate(merge)" in n for n in native_subtrees(spark))


@pytest.mark.parametrize("aggregates", [
    "count(DISTINCT i), sum(i)", "sum(DISTINCT t), count(*), avg(i), min(x), max(f), count(s)",
    "count(DISTINCT s), max(d), min(p), sum(x), avg(l)", "avg(DISTINCT i), count(i, s), sum(sm)",
])
@pytest.mark.parametrize("group_by", ["", "b", "d"])
@pytest.mark.parametrize("ansi", ["true", "false"])
def test_distinct_aggregate_next_to_others(spark, table, aggregates, group_by, ansi):
    # Spark's four stages: a partial one by the groups and the DISTINCT argument, two that merge
    # the other functions' buffers (the second beside the DISTINCT function's partial stage), a
    # final one. In ANSI mode, sums of i, not l: Spark's own sum of l overflows or not depending
    # on the order of the rows.
    if ansi == "true":
        aggregates = aggregates.replace("avg(l)", "avg(i)")
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}{aggregates} FROM t{tail}", conf={"spark.sql.ansi.enabled": ansi})
    reasons = [r for r in fallback_reasons(spark) if r.startswith("HashAggregate")]
    assert not reasons, reasons
    assert _merge_is_native(spark) and _final_is_native(spark), native_subtrees(spark)


def test_spark_final_stage_reads_native_merged_buffers(spark, table):
    # initcap() keeps the final stage on Spark. A global aggregation's merge stage over an empty
    # partition writes Spark's initial buffers (avg: sum 0.0, count 0), which Spark merges.
    # (Rows with one value of i, in one of two partitions that adaptive execution keeps apart.)
    compare(spark, "SELECT initcap(CAST(avg(i) AS STRING)), count(DISTINCT i), count(*), sum(l), min(d) "
                   "FROM t WHERE id < 2", conf={"spark.sql.ansi.enabled": "false",
                                                "spark.sql.adaptive.coalescePartitions.enabled": "false"})
    assert _merge_is_native(spark) and not _final_is_native(spark), native_subtrees(spark)
    compare(spark, "SELECT b, initcap(CAST(avg(x) AS STRING)), count(DISTINCT s), max(f) FROM t GROUP BY b",
            conf={"spark.sql.ansi.enabled": "false"})
    assert _merge_is_native(spark) and not _final_is_native(spark), native_subtrees(spark)


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_distinct_aggregate_next_to_decimal_sums(spark, table, ansi):
    conf = {"spark.sql.ansi.enabled": ansi}
    compare(spark, "SELECT b, count(DISTINCT i), sum(p), avg(q), sum(q), avg(p) FROM t GROUP BY b", conf=conf)
    assert _merge_is_native(spark) and _final_is_native(spark), (native_subtrees(spark), fallback_reasons(spark))
    compare(spark, "SELECT count(DISTINCT s), sum(p), avg(p) FROM t WHERE id < 2",
            conf=dict(conf, **{"spark.sql.adaptive.coalescePartitions.enabled": "false"}))
    assert _merge_is_native(spark), fallback_reasons(spark)


def test_distinct_aggregate_next_to_overflowing_decimal_sums(spark, big_decimals):
    # Each (g, id) holds one value, so the sums overflow in the merge stage by g: the buffer
    # becomes null (Spark adds without a check, then its buffer cannot hold the sum).
    legacy = {"spark.sql.ansi.enabled": "false"}
    compare(spark, "SELECT g, count(DISTINCT id), sum(v), avg(v) FROM big GROUP BY g", conf=legacy)
    assert _merge_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT count(DISTINCT g), sum(v), avg(v), sum(w) FROM big", conf=legacy)
    # Spark's final stage reads the merged buffers.
    compare(spark, "SELECT g, initcap(CAST(sum(v) AS STRING)), count(DISTINCT id), avg(v) FROM big GROUP BY g",
            conf=legacy)
    assert _merge_is_native(spark) and not _final_is_native(spark), native_subtrees(spark)
    fails_alike(spark, "SELECT g, count(DISTINCT id), sum(v) FROM big GROUP BY g", "(?i)overflow",
                conf={"spark.sql.ansi.enabled": "true"})


def test_distinct_aggregate_next_to_an_overflowing_sum_fails_alike(spark, big_longs):
    fails_alike(spark, "SELECT g, count(DISTINCT id), sum(v) FROM big_longs GROUP BY g", "ARITHMETIC_OVERFLOW",
                conf={"spark.sql.ansi.enabled": "true"})


@pytest.mark.parametrize("group_by", ["", "b", "d"])
def test_float_min_max_in_sparks_order(spark, table, group_by):
    # x holds NaN, both infinities, -0.0 and 0.0, 1e308 and nulls: NaN is the largest value,
    # min skips it unless a group has nothing else.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}min(x), max(x), min(f), max(f), min(-x), max(x + 1) FROM t{tail}")
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT {keys}min(x), max(x) FROM t WHERE x IS NULL OR isnan(x) OR x < 0{tail}")


def test_float_min_max_keep_the_sign_of_zero(spark, data_dir):
    # A group of -0.0s has min and max -0.0, a group of 0.0s 0.0 (1 / x tells them apart;
    # where both meet, Spark's answer depends on the order of the rows).
    path = os.path.join(data_dir, "zeros")
    spark.sql("SELECT id % 2 AS g, CASE WHEN id % 2 = 0 THEN -0.0D ELSE 0.0D END AS z, "
              "CAST(CASE WHEN id % 2 = 0 THEN -0.0D ELSE 0.0D END AS FLOAT) AS f FROM range(20)") \
        .repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("zeros")
    compare(spark, "SELECT g, 1 / min(z), 1 / max(z), 1 / min(f), 1 / max(f) FROM zeros GROUP BY g",
            conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark), fallback_reasons(spark)


def test_count_of_several_columns(spark, table):
    compare(spark, "SELECT b, count(i, s), count(l, x, d), count(DISTINCT i, s) FROM t GROUP BY b")
    assert _final_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT count(i, s), count(p, q) FROM t")
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["true", "false"])
@pytest.mark.parametrize("group_by", ["", "b"])
def test_filter_clauses(spark, table, ansi, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}count(*) FILTER (WHERE i > 0), count(s) FILTER (WHERE d IS NULL), "
                   f"sum(p) FILTER (WHERE b), avg(q) FILTER (WHERE NOT b), sum(i) FILTER (WHERE i < 100), "
                   f"min(x) FILTER (WHERE x > 0), max(d) FILTER (WHERE s < 's5'), count(i, s) FILTER (WHERE sm > 0), "
                   f"avg(i) FILTER (WHERE id % 3 = 0), sum(i), count(*) FROM t{tail}",
            conf={"spark.sql.ansi.enabled": ansi})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


def test_filter_clauses_keep_arguments_from_filtered_rows(spark, table):
    # Spark evaluates an argument only where the filter holds: i + 2147483647 overflows on
    # rows with i > 0, which the filter drops; the filter itself is evaluated on every row.
    conf = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT b, sum(i + 2147483647) FILTER (WHERE i <= 0), count(*) FILTER (WHERE l > 5) "
                   "FROM t GROUP BY b", conf=conf)
    assert _partial_is_native(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT count(*) FILTER (WHERE i + 2147483647 > 0) FROM t", "ARITHMETIC_OVERFLOW",
                conf=conf)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7"])
def test_first_and_last(spark, table, group_by):
    # Spark calls them non-deterministic after a shuffle; here both sides read the files' rows
    # in order, and the final stage merges the tasks' buffers in the same order. (Not of
    # strings: Spark aggregates those with a SortAggregate, whose sorts, native, need not keep
    # the order of equal keys.)
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}first(i), last(d), first(x, true), last(d, true), first(p), "
                   f"first(l) FILTER (WHERE i > 0), last(l, true) FILTER (WHERE l < 0), count(*) FROM t{tail}")
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


def _spark_sort_aggregates(sql, spark, conf=None):
    """Whether vanilla Spark plans `sql` with SortAggregateExec (so the test tests that)."""
    with settings(spark, dict(conf or {}, **{"spark.cinder.enabled": "false"})):
        return "SortAggregate" in executed_plan(spark.sql(sql))


@pytest.mark.parametrize("aggregates,group_by", [
    (aggregates, group_by)
    for aggregates in ["min(s), max(s)", "count(s), min(s), sum(i), avg(p), max(d)",
                       "min(s) FILTER (WHERE i > 0), max(concat(s, 'x')) FILTER (WHERE b)"]
    for group_by in ["", "b", "s", "i % 5", "d, b"]
] + [
    # Functions that depend on the order of a group's rows: not by a single nullable key of a
    # fixed-width type, which Spark sorts with a radix sort whose nulls reorder the other rows
    # (UnsafeInMemorySorter moves a row to make room for each null key at the front).
    (aggregates, group_by)
    for aggregates in ["first(s), last(s), first(s, true), last(s, true)", "max_by(s, i), min_by(s, l), max_by(i, s)"]
    for group_by in ["", "s", "d, b", "id % 3"]
])
def test_string_buffers_sort_aggregates_run_natively(spark, table, aggregates, group_by):
    # Spark aggregates strings (buffers it cannot update in place) with SortAggregateExec over
    # a sort by the keys; natively that is a hash aggregate without the sort, which reads each
    # group's rows in the order they come, as Spark's sort leaves them where it keeps equal keys
    # in order: first, last, max_by and min_by (the later row of a tie) agree there.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    sql = f"SELECT {keys}{aggregates} FROM t{tail}"
    assert _spark_sort_aggregates(sql, spark)
    compare(spark, sql, conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


def test_sort_aggregate_filters_guard_their_updates(spark, table):
    # A SortAggregate with keys updates each buffer with If(filter, update, buffer): 1 / i is
    # common to avg's two updates but not computed where the filter drops the row (i = 0).
    conf = {"spark.sql.ansi.enabled": "true"}
    for keys in ["b", "s", "i % 5"]:
        sql = f"SELECT {keys}, max(s), avg(1 / i) FILTER (WHERE i <> 0), sum(10 DIV i) FILTER (WHERE i > 0) " \
              f"FROM t GROUP BY {keys}"
        assert _spark_sort_aggregates(sql, spark, conf)
        compare(spark, sql, conf=conf)
        assert _partial_is_native(spark), fallback_reasons(spark)


def test_sort_aggregates_keep_their_order_for_what_relies_on_it(spark, table):
    # A sort aggregate's output is ordered by its keys, and Spark plans on it: a sort-merge join
    # on those keys needs no sort of its own, and an ORDER BY of the same keys... still sorts.
    # The native aggregate hashes; the order is restored where something relies on it.
    conf = {"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.ansi.enabled": "false"}
    compare(spark, "SELECT a.s, a.m, b.n FROM (SELECT s, max(concat(s, '1')) AS m FROM t GROUP BY s) a "
                   "JOIN (SELECT s, min(s) AS n FROM t GROUP BY s) b ON a.s = b.s", conf=conf)
    assert _final_is_native(spark), fallback_reasons(spark)
    # Collected in Spark's order (the rows are compared in order here).
    expected, got, _ = run_both(spark, "SELECT d, min(s) FROM t WHERE d IS NOT NULL GROUP BY d", conf=conf)
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]


@pytest.mark.parametrize("group_by", ["", "b", "i % 7", "s"])
def test_max_by_and_min_by(spark, table, group_by):
    # Ties (b, i % 3, d's duplicates) go to the later row; orderings that are null are skipped,
    # values that are null count; doubles compare as Spark's: -0.0 = 0.0, NaN the largest.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}max_by(id, b), min_by(id, b), max_by(p, i % 3), min_by(x, i % 3), "
                   f"max_by(id, x), min_by(id, x), max_by(d, d), min_by(l, p), max_by(i, f), "
                   f"max_by(id, q) FILTER (WHERE i > 0), min_by(t, id) FILTER (WHERE s IS NULL), "
                   f"max_by(x, abs(x)), count(*) FROM t{tail}", conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    # All orderings null, and no rows.
    compare(spark, f"SELECT {keys}max_by(id, cast(null AS int)), min_by(s, i) FROM t WHERE i IS NULL{tail}",
            conf={"spark.sql.ansi.enabled": "false"})
    compare(spark, f"SELECT {keys}max_by(id, i), min_by(s, i) FROM t WHERE id < 0{tail}", native=None)


def test_max_by_of_a_value_that_can_fail_stays_on_spark(spark, table):
    # Spark evaluates the value only on the rows that win: 1 / 0 on a losing row does not fail.
    conf = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT max_by(100 / (id - 5), id) FROM t", conf=conf, native=None)
    assert any("max_by of a value that can fail" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("aggregates", [
    "count(DISTINCT i), count(DISTINCT s), sum(l), avg(x), min(d), max(p)",
    "count(DISTINCT i) FILTER (WHERE x > 0), sum(i), count(*)",
    "sum(DISTINCT t), avg(DISTINCT sm), count(DISTINCT d), first(p, true), stddev(i)",
])
@pytest.mark.parametrize("group_by", ["", "b"])
def test_several_distinct_aggregates_next_to_others(spark, table, aggregates, group_by):
    # Spark's rewrite: an Expand of the rows once per DISTINCT argument and once for the other
    # functions, two aggregations, and first(x) IGNORE NULLS to take the other functions' results.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}{aggregates} FROM t{tail}", conf={"spark.sql.ansi.enabled": "false"})
    reasons = [r for r in fallback_reasons(spark) if r.startswith("HashAggregate")]
    assert not reasons, reasons


def test_filter_conditions_and_eager_arguments_as_sparks(spark, table):
    conf = {"spark.sql.ansi.enabled": "true"}
    # A FILTER's conjuncts are tested as a filter's: a null one drops the row before the next
    # (which would fail on s) is evaluated.
    compare(spark, "SELECT b, sum(i) FILTER (WHERE CAST(NULL AS BOOLEAN) AND CAST(s AS INT) > 0), "
                   "count(*) FILTER (WHERE i IN (-59, 8, NULL) AND CAST(s AS DATE) > DATE '2000-01-01') "
                   "FROM t GROUP BY b", conf=conf)
    assert _partial_is_native(spark), fallback_reasons(spark)
    # Spark computes the common subexpressions of all the functions' update expressions on
    # every row first: a decimal sum reads its argument twice (sum and isEmpty), an average too
    # (sum and count), so the argument is evaluated where the FILTER drops the row; an integer
    # sum reads it once, only where the FILTER holds, unless another function reads it too.
    fails_alike(spark, "SELECT sum(CAST(s AS DECIMAL(10, 2))) FILTER (WHERE id < 0) FROM t", "CAST_INVALID_INPUT",
                conf=conf)
    fails_alike(spark, "SELECT b, avg(CAST(s AS INT)) FILTER (WHERE id < 0) FROM t GROUP BY b", "CAST_INVALID_INPUT",
                conf=conf)
    compare(spark, "SELECT sum(CAST(s AS INT)) FILTER (WHERE id < 0), count(*) FROM t", conf=conf)
    assert _partial_is_native(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT sum(CAST(s AS INT)) FILTER (WHERE id < 0), count(CAST(s AS INT)) FILTER (WHERE id < 0) "
                       "FROM t", "CAST_INVALID_INPUT", conf=conf)


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_functions_spark_rewrites_into_native_ones(spark, table, ansi):
    # count_if is count(nullif(x, false)); bool_and/every min, bool_or/some/any max of booleans;
    # any_value first(x).
    compare(spark, "SELECT i % 5, count_if(x > 0), bool_and(b), every(i > 0), bool_or(b), some(x > 100), "
                   "any_value(d, true), count(*) FROM t GROUP BY i % 5", conf={"spark.sql.ansi.enabled": ansi})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


MOMENTS = ("stddev(i), stddev_pop(x), variance(p), var_pop(l), var_samp(f), std(t), stddev_samp(q), skewness(i), "
           "kurtosis(sm), skewness(x), kurtosis(f), covar_pop(i, f), covar_samp(sm, x)")


@pytest.mark.parametrize("group_by", ["", "b", "i % 7", "s"])
@pytest.mark.parametrize("ansi", ["true", "false"])
def test_stddev_and_variance(spark, table, group_by, ansi):
    # x's NaNs and infinities make NaN; groups of one value divide by zero (null).
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}{MOMENTS}, count(*) FROM t{tail}", conf={"spark.sql.ansi.enabled": ansi})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)


@pytest.mark.parametrize("group_by", ["b", "s"])
def test_correlation(spark, table, group_by):
    compare(spark, f"SELECT {group_by}, corr(i, sm), corr(f, p), corr(x, i) FROM t "
                   f"GROUP BY {group_by}", conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    # Spark's own result expression divides by sqrt(xMk * yMk): where x or y is constant in a
    # group, that is a division by zero, an error in ANSI mode (natively too: the same
    # expression), NaN in legacy mode.
    fails_alike(spark, f"SELECT {group_by}, corr(i, CAST(b AS INT) * 0) FROM t GROUP BY {group_by}", "DIVIDE_BY_ZERO",
                conf={"spark.sql.ansi.enabled": "true"})
    compare(spark, f"SELECT {group_by}, corr(i, CAST(b AS INT) * 0) FROM t GROUP BY {group_by}",
            conf={"spark.sql.ansi.enabled": "false"})


def test_stddev_and_variance_of_single_values_and_no_values(spark, table):
    # A group of one value: null, or NaN with spark.sql.legacy.statisticalAggregate (skewness and
    # kurtosis of equal values too).
    for legacy in ("false", "true"):
        compare(spark, f"SELECT id % 1000, {MOMENTS} FROM t WHERE id < 1500 GROUP BY id % 1000",
                conf={"spark.sql.legacy.statisticalAggregate": legacy})
        assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT {MOMENTS} FROM t WHERE id < 0")
    compare(spark, f"SELECT b, {MOMENTS} FROM t WHERE id < 3 GROUP BY b",
            conf={"spark.sql.adaptive.coalescePartitions.enabled": "false"})


def test_stddev_and_variance_with_filter_and_distinct(spark, table):
    compare(spark, "SELECT b, stddev(i) FILTER (WHERE i > 0), variance(DISTINCT t), var_pop(x) FILTER (WHERE x < 1e9), "
                   "corr(i, x) FILTER (WHERE x < 1e9) FROM t GROUP BY b")
    assert _final_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT b, count(DISTINCT i), stddev(l), var_pop(i), skewness(i), kurtosis(l), corr(i, x), "
                   "covar_samp(l, sm) FROM t GROUP BY b")
    assert _merge_is_native(spark) and _final_is_native(spark), native_subtrees(spark)


@pytest.fixture(scope="module")
def moments(spark, data_dir):
    path = os.path.join(data_dir, "moments")
    spark.sql("SELECT id % 5 AS g, 1e8D + (id * 7919 % 1000) / 7D AS v, CAST(id * 7919 % 1001 AS INT) AS k "
              "FROM range(0, 4000)").repartition(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("moments")
    return path


@pytest.mark.parametrize("split", [False, True])
def test_central_moments_are_sparks_bit_for_bit(spark, moments, split):
    # One shuffle partition: the rows come in the same order on both sides, and the native
    # updates and merges are Spark's operations, in Spark's order. Over the file, the partial
    # stage is native (one task); split three ways (Spark's round-robin exchange, whose order is
    # fixed), Spark's three partial stages' buffers are merged natively in the tasks' order.
    table = spark.read.parquet(moments)
    (table.repartition(3) if split else table).createOrReplaceTempView("moments_split")
    sql = ("SELECT g, stddev(v), var_pop(v), variance(k), stddev_pop(v - 1e8D), skewness(v), kurtosis(v), "
           "skewness(k), kurtosis(k * k), covar_pop(v, k), covar_samp(k, v), corr(v, k), corr(v, v * 3) "
           "FROM moments_split GROUP BY g")
    expected, got, _ = run_both(spark, sql, conf={"spark.sql.shuffle.partitions": "1"})
    assert sorted(map(tuple, got)) == sorted(map(tuple, expected))
    assert _final_is_native(spark) and (split or _partial_is_native(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("split", [False, True])
def test_double_sums_are_sparks_bit_for_bit(spark, moments, split):
    # spark.cinder.exactFloatSums (the default): one value at a time, in the order the rows come,
    # as Spark's buffer adds them. Without a GROUP BY, DataFusion's sum adds each batch in lanes:
    # with the setting off, these global sums differ from Spark's in the last bits.
    table = spark.read.parquet(moments)
    (table.repartition(3) if split else table).createOrReplaceTempView("moments_split")
    sums = ("sum(v), avg(v), sum(v * 1e10D - k), avg(CAST(k AS BIGINT) * 9007199254740993), "
            "sum(CAST(k AS BIGINT) * 9007199254740993 / 3)")
    for sql in (f"SELECT g, {sums} FROM moments_split GROUP BY g", f"SELECT {sums} FROM moments_split"):
        expected, got, _ = run_both(spark, sql, conf={"spark.sql.shuffle.partitions": "1",
                                                       "spark.sql.ansi.enabled": "false"})
        assert sorted(map(tuple, got)) == sorted(map(tuple, expected)), sql
        assert _final_is_native(spark) and (split or _partial_is_native(spark)), fallback_reasons(spark)


def test_unsupported_aggregates_stay_on_spark_with_reasons(spark, table):
    compare(spark, "SELECT b, approx_count_distinct(array(i)) FROM t GROUP BY b")
    assert any("approx_count_distinct of array<int> is not native yet"
               in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT b, sum(i) FROM t GROUP BY b",
            conf={"spark.cinder.aggregate.enabled": "false", "spark.sql.ansi.enabled": "false"})
    assert any("spark.cinder.aggregate.enabled is false" in r for r in fallback_reasons(spark))


def test_grouping_only_final_stage_keeps_its_result_expressions(spark, table):
    # The final stage of a GROUP BY without functions projects the user's expressions.
    compare(spark, "SELECT s, b FROM t GROUP BY b, s")
    compare(spark, "SELECT i + 1 AS j FROM t GROUP BY i", conf={"spark.sql.ansi.enabled": "false"})
    assert _final_is_native(spark), fallback_reasons(spark)


@pytest.fixture(scope="module")
def big_decimals(spark, data_dir):
    import os
    path = os.path.join(data_dir, "big")
    spark.sql("""
        SELECT id, id % 3 AS g,
               CASE WHEN id < 4 THEN CAST('9999999999999999999999999999.0000000001' AS DECIMAL(38, 10))
                    ELSE CAST(id AS DECIMAL(38, 10)) END AS v,
               CAST(CASE WHEN id < 10 THEN '123456789012345' ELSE '123456789012350' END
                    AS DECIMAL(38, 18)) AS w
        FROM range(0, 11)""").write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("big")
    return path


def test_decimal_sum_overflow_is_null_in_legacy_mode(spark, big_decimals):
    compare(spark, "SELECT g, sum(v), avg(v) FROM big GROUP BY g", conf={"spark.sql.ansi.enabled": "false"})
    assert _final_is_native(spark) and _partial_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT sum(v), avg(v) FROM big", conf={"spark.sql.ansi.enabled": "false"})


def test_decimal_sum_overflow_is_an_error_in_ansi_mode(spark, big_decimals):
    fails_alike(spark, "SELECT g, sum(v) FROM big GROUP BY g", "(?i)overflow",
                conf={"spark.sql.ansi.enabled": "true"})


@pytest.fixture(scope="module")
def wrapping_longs(spark, data_dir):
    # One file, in this order: the running sum leaves bigint's range at the second row, and the
    # third brings it back.
    path = os.path.join(data_dir, "wrapping_longs")
    spark.createDataFrame([(0, 9223372036854775807), (1, 1), (2, -1)], "id long, v long").coalesce(1) \
        .write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("wrapping_longs")
    return path


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_try_sum_and_try_avg_give_null_for_overflow(spark, table, big_longs, big_decimals, wrapping_longs, ansi):
    conf = {"spark.sql.ansi.enabled": ansi}
    # (Not of l, whose extremes make running sums that leave bigint's range and come back:
    # Spark's null from the first overflow on depends on the order of the rows there.)
    compare(spark, "SELECT b, try_sum(i), try_sum(t), try_sum(sm), try_sum(p), try_sum(q), try_sum(x), "
                   "try_avg(i), try_avg(l), try_avg(p), try_avg(q), try_avg(x), "
                   "try_sum(i) FILTER (WHERE i < 0) FROM t GROUP BY b", conf=conf)
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    # Three values of 2^62 per group, or two; one partition, or three (each stage's total).
    for view in ("big_longs", "big_longs_split"):
        spark.read.parquet(big_longs).repartition(3).createOrReplaceTempView("big_longs_split")
        compare(spark, f"SELECT g, try_sum(v), try_avg(v), try_sum(v) FILTER (WHERE id < 4) FROM {view} "
                       "GROUP BY g", conf=conf)
        assert _final_is_native(spark), fallback_reasons(spark)
        compare(spark, f"SELECT try_sum(v), try_sum(v - 4611686018427387904), try_sum(id) FROM {view}", conf=conf)
    compare(spark, "SELECT g, try_sum(v), try_avg(v) FROM big GROUP BY g", conf=conf)
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    # No rows, no values.
    compare(spark, "SELECT try_sum(i), try_avg(p), try_sum(q) FROM t WHERE id < 0", conf=conf)
    compare(spark, "SELECT id % 2, try_sum(IF(id % 2 = 0, i, NULL)), try_avg(IF(id % 2 = 0, l, NULL)) FROM t "
                   "GROUP BY id % 2", conf=conf)
    # Beside a DISTINCT aggregate (the stages between merge the buffers) and over a window.
    compare(spark, "SELECT g, count(DISTINCT id % 2), try_sum(v), try_avg(v) FROM big_longs_split GROUP BY g",
            conf=conf)
    assert _final_is_native(spark), fallback_reasons(spark)
    # Null from the first overflow on, in the order the rows come (the exact sum fits).
    compare(spark, "SELECT try_sum(v), try_sum(v) FILTER (WHERE id > 0), try_avg(v) FROM wrapping_longs", conf=conf)
    assert _partial_is_native(spark), fallback_reasons(spark)
    # Stages that merge buffers keep an overflow: four partitions of 2^62 merged by (g, d).
    spark.read.parquet(big_longs).selectExpr("0 AS g", "0 AS d", "4611686018427387904 AS v").repartition(4) \
        .createOrReplaceTempView("quarters")
    compare(spark, "SELECT g, try_sum(v), count(DISTINCT d) FROM quarters GROUP BY g", conf=conf)
    compare(spark, "SELECT id, try_sum(v) OVER (PARTITION BY g ORDER BY id), "
                   "try_sum(v) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), "
                   "try_avg(v) OVER (PARTITION BY g) FROM big_longs", conf=conf)
    assert any("Window" in n for n in native_subtrees(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7"])
def test_bitwise_aggregates_and_regression_sums(spark, table, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}bit_and(i), bit_or(l), bit_xor(t), bit_and(sm), bit_or(t), bit_xor(l), "
                   f"bit_xor(i) FILTER (WHERE i > 0), regr_sxx(x, i), regr_syy(i, l), regr_sxx(f, sm), "
                   f"regr_count(x, i), regr_sxy(f, sm), regr_r2(i, f), regr_r2(sm, t), regr_slope(f, sm), "
                   f"regr_intercept(i, f), regr_slope(t, i) FILTER (WHERE b) FROM t{tail}",
            conf={"spark.sql.ansi.enabled": "false"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT {keys}bit_and(i), bit_xor(l), regr_sxx(x, i) FROM t WHERE id < 0{tail}",
            native=None)


def test_decimal_average_rounds_the_exact_quotient_once(spark, big_decimals):
    # avg of ten 123456789012345 and one 123456789012350 at decimal(38, 18): ...4545 at scale 22.
    compare(spark, "SELECT avg(w) FROM big")
    assert _final_is_native(spark), fallback_reasons(spark)


@pytest.mark.parametrize("group_by", ["", "b", "i % 7", "s"])
def test_approx_count_distinct(spark, table, group_by):
    # Spark's HyperLogLog++ sketches, natively: its estimate exactly, for every type (floats
    # with -0.0 and NaN), precision 4 (relativeSD 0.3) to 14 (0.01), with FILTER.
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    compare(spark, f"SELECT {keys}approx_count_distinct(i), approx_count_distinct(l), approx_count_distinct(s), "
                   f"approx_count_distinct(x), approx_count_distinct(f), approx_count_distinct(d), "
                   f"approx_count_distinct(p), approx_count_distinct(q), approx_count_distinct(b), "
                   f"approx_count_distinct(t), approx_count_distinct(sm), approx_count_distinct(id, 0.3), "
                   f"approx_count_distinct(id * 7, 0.01), approx_count_distinct(l) FILTER (WHERE b), "
                   f"approx_count_distinct(CAST(d AS TIMESTAMP)), count(*) FROM t{tail}",
            conf={"spark.sql.session.timeZone": "America/Los_Angeles"})
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT {keys}approx_count_distinct(i) FROM t WHERE id < 0{tail}", native=None)


@pytest.fixture(scope="module")
def many(spark, data_dir):
    path = os.path.join(data_dir, "many")
    spark.range(0, 400000, 1, 4).selectExpr(
        "id", "id % 1000 AS g", "CAST(id * 7919 % 300007 AS STRING) AS s", "id / 3.0 AS x"
    ).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("many")
    return path


def test_approx_count_distinct_of_many_values(spark, many):
    # Large sketches and every branch of the estimate: linear counting, the bias correction
    # interpolated from Spark's tables, the raw estimate.
    compare(spark, "SELECT approx_count_distinct(id), approx_count_distinct(s), approx_count_distinct(x, 0.01), "
                   "approx_count_distinct(id, 0.0035), approx_count_distinct(id % 15000, 0.02), "
                   "approx_count_distinct(id % 2000), approx_count_distinct(id % 3000, 0.1) FROM many")
    assert _partial_is_native(spark) and _final_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT g, approx_count_distinct(id), approx_count_distinct(s, 0.2) FROM many GROUP BY g")
    assert _final_is_native(spark), fallback_reasons(spark)


def test_approx_count_distinct_between_native_and_spark_stages(spark, table):
    # Spark's buffer words: a native final stage merges Spark's partial stage (initcap() keeps it
    # on Spark), and Spark merges the native ones next to a DISTINCT aggregate.
    compare(spark, "SELECT b, approx_count_distinct(i), approx_count_distinct(s, 0.1) FROM t "
                   "WHERE initcap(s) >= '1S' GROUP BY b")
    assert _final_is_native(spark) and not _partial_is_native(spark), (native_subtrees(spark),
                                                                       fallback_reasons(spark))
    compare(spark, "SELECT b, initcap(CAST(approx_count_distinct(l) AS STRING)), count(DISTINCT s) FROM t GROUP BY b")
    assert _merge_is_native(spark) and not _final_is_native(spark), native_subtrees(spark)
    compare(spark, "SELECT b, approx_count_distinct(l), count(DISTINCT s), approx_count_distinct(x, 0.1) "
                   "FROM t GROUP BY b")
    assert _merge_is_native(spark) and _final_is_native(spark), native_subtrees(spark)
