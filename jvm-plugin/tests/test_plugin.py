"""Cinder's Spark plugin against vanilla Spark: scans, filters, projections, fallbacks, bad input."""

import datetime
import math
import os
import re

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.sql.types import (
    BooleanType, ByteType, DateType, DecimalType, DoubleType, FloatType, IntegerType, LongType,
    ShortType, StringType, StructField, StructType,
)

from conftest import D, compare, fails_alike, fallback_reasons, native_subtrees, run_both

SCHEMA = StructType([
    StructField("id", LongType(), False),
    StructField("b", BooleanType(), True),
    StructField("t", ByteType(), True),
    StructField("sm", ShortType(), True),
    StructField("i", IntegerType(), True),
    StructField("l", LongType(), True),
    StructField("f", FloatType(), True),
    StructField("x", DoubleType(), True),
    StructField("s", StringType(), True),
    StructField("d", DateType(), True),
    StructField("p", DecimalType(15, 2), True),
    StructField("q", DecimalType(38, 10), True),
])


def _row(n):
    """Row n: nulls, duplicates and edge values spread over the columns."""
    specials_x = [None, 0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, -2.5]
    specials_i = [None, 0, -1, 2**31 - 1, -(2**31), 7]
    specials_l = [None, 0, -1, 2**63 - 1, -(2**63), 1 << 40]
    return (
        n,
        None if n % 5 == 0 else n % 2 == 0,
        None if n % 7 == 0 else (n % 256) - 128,
        None if n % 9 == 0 else (n * 37 % 65536) - 32768,
        specials_i[n % len(specials_i)] if n % 3 else n,
        specials_l[n % len(specials_l)] if n % 4 else n * 1000,
        None if n % 11 == 0 else float(n) / 8,
        specials_x[n % len(specials_x)] if n % 2 else n / 3,
        None if n % 6 == 0 else ("" if n % 13 == 0 else f"s{n % 17}é"),
        None if n % 8 == 0 else datetime.date(1970, 1, 1) + datetime.timedelta(days=n * 13 - 600),
        None if n % 4 == 0 else D(n * 101) / D(100) * (1 if n % 3 else -1),
        None if n % 10 == 0 else D(n) / D(7),
    )


@pytest.fixture(scope="module")
def table(spark, data_dir):
    path = os.path.join(data_dir, "t")
    rows = [_row(n) for n in range(3000)]
    df = spark.createDataFrame(
        [tuple(v.quantize(D("0.0000000001")) if isinstance(v, D) and i == 11 else v
               for i, v in enumerate(r)) for r in rows],
        SCHEMA,
    )
    df.repartition(3).write.mode("overwrite").option("parquet.block.size", 16 * 1024).parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("t")
    return path


@pytest.fixture(scope="module")
def partitioned(spark, data_dir):
    path = os.path.join(data_dir, "pt")
    df = spark.range(0, 1200).selectExpr(
        "id", "cast(id % 3 as int) as part", "concat('k', cast(id % 4 as string)) as region",
        "cast(id * 2.5 as double) as v")
    df.write.mode("overwrite").partitionBy("part", "region").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("pt")
    return path


def test_scan_returns_every_type_with_nulls_and_edge_values(spark, table):
    compare(spark, "SELECT * FROM t")
    assert any("ParquetScan" in n for n in native_subtrees(spark))


def test_scan_with_splits_reads_every_row_once(spark, table):
    # Small splits cut files between row groups: each row group must be read exactly once.
    plan = compare(spark, "SELECT id, s FROM t", conf={"spark.sql.files.maxPartitionBytes": "8k",
                                                     "spark.sql.files.openCostInBytes": "1"})
    assert "CinderNativeExec" in plan
    assert spark.sql("SELECT count(*) FROM t").collect()[0][0] == 3000


@pytest.mark.parametrize("split", ["8k", "16k", "40k"])
def test_split_tasks_read_sparks_row_groups_in_sparks_order(spark, table, split):
    # A row group belongs to the split that holds its midpoint (parquet-mr's rule, where
    # DataFusion's own takes its first byte): each task reads Spark's rows, in Spark's order, so
    # order-dependent aggregates (first, collect_list, double sums) see what Spark's see.
    sql = "SELECT spark_partition_id(), id FROM t"
    expected, got, plan = run_both(spark, sql, conf={"spark.sql.files.maxPartitionBytes": split})
    assert "ParquetScan" in plan
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]


def test_device_regions_setting_is_read_and_checked(spark, table):
    # A native plan carries spark.cinder.deviceRegions: host mode gives the same rows with it,
    # and a value that is not a boolean keeps the subtree on Spark, saying why.
    sql = "SELECT id, i, s FROM t WHERE i > 3"
    compare(spark, sql, conf={"spark.cinder.device": "host", "spark.cinder.deviceRegions": "true"})
    compare(spark, sql, native=False, conf={"spark.cinder.deviceRegions": "maybe"})
    reasons = fallback_reasons(spark)
    assert any("spark.cinder.deviceRegions must be true or false, not 'maybe'" in r for r in reasons), reasons


@pytest.mark.parametrize("predicate", [
    "i > 3", "l <= 0", "t = -1", "sm <> 5", "b", "NOT b", "b IS NULL", "s IS NOT NULL",
    "x = 0.0", "x > 0", "x = double('NaN')", "x < double('-inf') OR x > 1e300", "f >= 100.5",
    "s = 's3é'", "s > 's5'", "s = ''", "d < date'1971-01-01'", "d >= date'1975-06-01'",
    "p > 10.00", "p = -3.03", "q < 1.5", "i IN (0, -1, 7)", "s IN ('s1é', 's2é', NULL)",
    "l NOT IN (0, -1)", "i BETWEEN -5 AND 500", "id % 7 = 3 AND (x > 1 OR i IS NULL)",
    "i <=> NULL", "x <=> -0.0", "CASE WHEN i > 0 THEN s = 's1é' ELSE b END",
    "s LIKE 's1%'", "s LIKE '%é'", "s LIKE '%1_é'", "s LIKE 's_é'", "s LIKE '%\\%%'", "s LIKE 'S1%'",
    "s LIKE ''", "s NOT LIKE '%3%'", "startswith(s, 's1')", "endswith(s, '6é')", "contains(s, '1')",
    "year(d) = 1971", "month(d) BETWEEN 3 AND 5", "day(d) = 13",
])
def test_filters_match_spark(spark, table, predicate):
    compare(spark, f"SELECT id, i, s FROM t WHERE {predicate}",
            conf={"spark.sql.ansi.enabled": "false"})


@pytest.mark.parametrize("expr", [
    "i + 1", "l + l", "l * 3", "t + t", "sm - 1", "i * i", "x + 1.5", "x * x", "f - 1.0",
    "x / 2.0", "x / (x - x)", "1.0 / x", "i % 3", "i % 0", "l % -1", "x % 2.0", "-i", "-l", "-x",
    "p + p", "p * p", "p - 1.05", "p + q", "q * 2",
    "CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' END", "IF(b, x, -x)",
    "cast(i as bigint)", "cast(t as int)", "cast(i as double)", "cast(l as double)",
    "cast(f as double)", "cast(i as decimal(12, 2))", "cast(p as decimal(20, 4))",
    "cast(p as decimal(5, 1))", "cast(q as decimal(10, 2))", "cast(i as string)", "cast(l as string)",
    "cast(b as string)", "cast(d as string)", "cast(t as string)",
    "substring(s, 1, 2)", "substring(s, 2)", "substring(s, 3, 0)", "substr(s, 2, 100)",
    "year(d)", "month(d)", "day(d)", "year(d) * 100 + month(d)",
])
def test_projections_match_spark_legacy_mode(spark, table, expr):
    compare(spark, f"SELECT id, {expr} AS v FROM t", conf={"spark.sql.ansi.enabled": "false"})


@pytest.mark.parametrize("expr", [
    "q * q", "q * p", "q + p", "q - p * 3", "p * (1 - p) * (1 + p)", "q * 1.5",
])
@pytest.mark.parametrize("ansi", ["false", "true"])
def test_decimal_arithmetic_with_precision_loss_matches_spark(spark, table, expr, ansi):
    compare(spark, f"SELECT id, {expr} AS v FROM t", conf={"spark.sql.ansi.enabled": ansi})
    assert not any(r.startswith("Project") for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("expr", [
    "p / 3", "p / p", "p / q", "q / 7", "p / cast(i as decimal(10, 0))", "cast(1 as decimal(10, 2)) / p",
    "100.00 * p / (p + 1)",
])
@pytest.mark.parametrize("ansi", ["false", "true"])
def test_decimal_division_matches_spark(spark, table, expr, ansi):
    # i = 0 rows and p = 0 rows divide by zero: null in legacy mode; ANSI mode skips them.
    where = "" if ansi == "false" else " WHERE i <> 0 AND p <> 0"
    compare(spark, f"SELECT id, {expr} AS v FROM t{where}", conf={"spark.sql.ansi.enabled": ansi})
    assert not any(r.startswith("Project") for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_decimal_division_by_zero_fails_in_ansi_mode(spark, table):
    fails_alike(spark, "SELECT p / (p - p) FROM t WHERE p IS NOT NULL", "DIVIDE_BY_ZERO",
                conf={"spark.sql.ansi.enabled": "true"})


@pytest.mark.parametrize("expr", ["i + 1", "x / 2.0", "p * p", "cast(i as bigint)"])
def test_projections_match_spark_ansi_mode(spark, table, expr):
    compare(spark, f"SELECT id, {expr} AS v FROM t WHERE i BETWEEN -1000000 AND 1000000",
            conf={"spark.sql.ansi.enabled": "true"}, native=None)


@pytest.mark.parametrize("expr", ["cast(p as decimal(14, 1))", "cast(q as decimal(30, 4))",
                                  "cast(q as decimal(12, 2))", "cast(i as decimal(12, 1))"])
def test_narrowing_decimal_casts_round_half_up_in_ansi_mode(spark, table, expr):
    compare(spark, f"SELECT id, {expr} AS v FROM t", conf={"spark.sql.ansi.enabled": "true"})
    assert not any(r.startswith("Project") for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_narrowing_decimal_cast_overflow_fails_in_ansi_mode(spark, table):
    fails_alike(spark, "SELECT cast(p AS decimal(4, 2)) FROM t", "NUMERIC_VALUE_OUT_OF_RANGE",
                conf={"spark.sql.ansi.enabled": "true"})


def test_decimal_arithmetic_overflow_fails_as_in_spark(spark, data_dir):
    """ANSI mode: a decimal `+`, `-`, `*`, `/` or average whose value does not fit its result type is
    Spark's NUMERIC_VALUE_OUT_OF_RANGE, naming the value as Spark has it before rounding to the
    type: exact for `+` and `-`, a product truncated to 39 digits, a quotient truncated at scale
    39 (Spark 4.0's Decimal). Legacy mode gives null."""
    path = os.path.join(data_dir, "decimal_overflow")
    spark.createDataFrame([(D("9" * 36 + ".99"), D("12345.6789012345"), D("0.0000000003"))],
                          "a decimal(38, 2), b decimal(38, 10), e decimal(38, 10)") \
        .coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("big_decimals")
    ansi = {"spark.sql.ansi.enabled": "true"}
    for expr, value, result in [
            ("a + a", "1999999999999999999999999999999999999.98", "38, 2"),
            ("(0 - a) - a", "-1999999999999999999999999999999999999.98", "38, 2"),
            ("a * b", "12345678901234499999999999999999999999800", "38, 6"),
            ("a / e", "3333333333333333333333333333333333333300000000." + "0" * 39, "38, 6"),
            # An average is its sum divided by the count.
            ("avg(a)", "999999999999999999999999999999999999.99" + "0" * 37, "38, 6")]:
        fails_alike(spark, f"SELECT {expr} FROM big_decimals",
                    rf"NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION\]\s+{re.escape(value)} cannot be represented "
                    rf"as Decimal\({result}\)", conf=ansi)
        compare(spark, f"SELECT {expr} AS v FROM big_decimals", conf={"spark.sql.ansi.enabled": "false"})


def test_negating_wide_decimals_stays_on_spark(spark, data_dir):
    """Spark 4.0 negates a decimal of over 34 digits through Scala's BigDecimal, which rounds it
    half even to 34 significant digits: -(12345678901234567890123456789012345.67) is
    -12345678901234567890123456789012350.00, and the negation of 99...9.99 (38 digits) fails, in
    legacy mode too. The native negation is exact, so such negations stay on Spark, saying why."""
    path = os.path.join(data_dir, "wide_negation")
    spark.createDataFrame([(1, D("12345678901234567890123456789012345.67")), (2, D("-7.5")), (3, None)],
                          "id int, a decimal(38, 2)").coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("wide_negation")
    for ansi in ("false", "true"):
        compare(spark, "SELECT id, -a AS n, abs(a) AS m, a + 1 AS p FROM wide_negation",
                conf={"spark.sql.ansi.enabled": ansi}, native=None)
        assert any("34 significant digits" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    assert spark.sql("SELECT -a FROM wide_negation WHERE id = 1").collect()[0][0] == \
        D("-12345678901234567890123456789012350.00")
    # Up to 34 digits, negations stay native.
    compare(spark, "SELECT id, -CAST(a AS DECIMAL(34, 2)) AS n FROM wide_negation WHERE id > 1")


def test_scalar_subqueries_are_values_in_native_plans(spark, table):
    # The subquery runs first (on Spark or natively); its value goes into the native filter.
    compare(spark, "SELECT id, p FROM t WHERE p > (SELECT avg(p) FROM t WHERE i > 0)")
    compare(spark, "SELECT id, i + (SELECT max(id) FROM t) AS v FROM t WHERE s = (SELECT min(s) FROM t)")
    # A subquery that returns no row is null.
    compare(spark, "SELECT id FROM t WHERE d < (SELECT max(d) FROM t WHERE id < 0) OR id < 5")
    assert not any(r.startswith(("Filter", "Project", "Scan")) for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


def test_scan_subqueries_for_filters_left_on_spark(spark, table):
    # The filter stays on Spark (a timestamp minus an interval); the scan goes native, and its data
    # filter's subquery (of a type the native side lacks) is not needed there.
    compare(spark, "SELECT id FROM t WHERE cast(d AS timestamp) > (SELECT max(cast(d AS timestamp)) - "
                   "INTERVAL 100 DAYS FROM t)", native=None)
    # Without adaptive execution Spark reuses the second subquery.
    compare(spark, "SELECT id FROM t WHERE p > (SELECT avg(p) FROM t) UNION ALL "
                   "SELECT id FROM t WHERE p > (SELECT avg(p) FROM t)",
            conf={"spark.sql.adaptive.enabled": "false"})


def test_ansi_overflow_fails_natively_as_in_spark(spark, table):
    fails_alike(spark, "SELECT l * 4 FROM t WHERE l = 9223372036854775807",
                "ARITHMETIC_OVERFLOW", conf={"spark.sql.ansi.enabled": "true"})


def test_ansi_second_operands_are_skipped_where_spark_skips_them(spark, table):
    """Spark evaluates an operator's second operand only where the first is not null (a
    division's dividend only where the divisor is not null): `i * 4` overflows for large i, but
    there the first operand is null, so Spark never computes it and neither may the native
    side. (Found by test_random.py.)"""
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id, try_multiply(i, 100000000) + i * 4 AS v FROM t", conf=ansi)
    compare(spark, "SELECT id FROM t WHERE try_multiply(i, 100000000) < i * 4", conf=ansi)
    compare(spark, "SELECT id, CAST(i * 4 AS DOUBLE) / IF(i > 1000 OR i < -1000, NULL, 2.0) AS v FROM t",
            conf=ansi)
    assert not any(r.startswith(("Filter", "Project")) for r in fallback_reasons(spark)), fallback_reasons(spark)
    # A filter drops a row at its first conjunct that is null or false: `abs(i)` of the minimum
    # int never runs (IN gives null there), where an AND inside an expression would run it.
    compare(spark, "SELECT id FROM t WHERE i IN (7, 0, NULL) AND abs(i) > 0", conf=ansi)
    compare(spark, "SELECT id FROM t WHERE i > 0 AND i IN (7, NULL) AND abs(i) > 0 AND l * 2 > 0", conf=ansi)
    fails_alike(spark, "SELECT id FROM t WHERE i IN (7, 0, NULL) OR abs(i) > 0", "ARITHMETIC_OVERFLOW", conf=ansi)
    # A later conjunct that cannot fail and is false on every row does not keep an earlier one
    # that fails (infinity as an int) from running.
    fails_alike(spark, "SELECT id FROM t WHERE CAST(x AS INT) < 5 AND x + i <=> 12345.5", "CAST_OVERFLOW", conf=ansi)
    # Where the first operand is not null, the second still fails as in Spark.
    fails_alike(spark, "SELECT id, i + i * 4 FROM t", "ARITHMETIC_OVERFLOW", conf=ansi)


def test_row_groups_spark_skips_never_reach_a_filter_left_on_spark(spark, data_dir):
    """A filter left on Spark sees the rows Spark's own reader returns: the scan's pushed-down
    filters skip the row groups their statistics rule out, natively too. Here the filter stays
    on Spark for -w (38 digits), which fails on 99...9 in legacy mode too; the date rules the
    file's one row group out, so without the plugin it never runs. (Found by test_random.py:
    the query failed with the plugin.)"""
    path = os.path.join(data_dir, "pruned_before_spark_filter")
    spark.createDataFrame([(1, D("9" * 38), datetime.date(2000, 1, 1)), (2, D("5"), datetime.date(2001, 1, 1))],
                          "id int, w decimal(38, 0), dt date").coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("pruned_before_filter")
    for ansi in ("false", "true"):
        conf = {"spark.sql.ansi.enabled": ansi}
        compare(spark, "SELECT id FROM pruned_before_filter WHERE -w <=> -5 AND dt > DATE'2016-01-01'", conf=conf)
        assert any("34 significant digits" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
        fails_alike(spark, "SELECT id FROM pruned_before_filter WHERE -w <=> -5", "NUMERIC_VALUE_OUT_OF_RANGE",
                    conf=conf)


def test_filters_test_a_column_is_not_null_before_reading_it(spark, data_dir):
    """ANSI mode: Spark's generated filter code tests a column's IS NOT NULL conjunct before the
    first conjunct that reads the column, wherever the condition has it (a join's inferred one
    comes last). So `-i` of the minimum never runs where `p` is null. (Found by
    test_random.py.)"""
    path = os.path.join(data_dir, "not_null_first")
    spark.createDataFrame([(-(2**31), None), (5, D("1.5")), (None, D("2.0")), (-(2**31), D("3.0"))],
                          "i int, p decimal(12, 2)").coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("not_null_first")
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT i FROM not_null_first WHERE (p / 9 > 0 OR -i > 0) AND p IS NOT NULL", conf=ansi)
    compare(spark, "SELECT i FROM not_null_first WHERE i > 0 AND (p / 9 > 0 OR -i > 0) AND p IS NOT NULL",
            conf=ansi)
    assert not any(r.startswith("Filter") for r in fallback_reasons(spark)), fallback_reasons(spark)
    # Without it, -i runs on the first row, in Spark too.
    fails_alike(spark, "SELECT i FROM not_null_first WHERE (p / 9 > 0 OR -i > 0)", "ARITHMETIC_OVERFLOW",
                conf=ansi)


def test_negated_minimum_is_not_pruned_away(spark, data_dir):
    """Legacy mode: -(minimum) wraps to the minimum, which passes `-v < -100`. The file's
    statistics (minimum to 2) rule the rewritten `v > 100` out, so a scan pruning on them would
    skip the row. (Found by test_random.py.)"""
    path = os.path.join(data_dir, "negated_minimum")
    spark.createDataFrame([(-(2**31), -128, -(2**63)), (1, 1, 1), (2, 2, 2)],
                          "i int, t tinyint, l bigint").coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("negs")
    for column in ("i", "t", "l"):
        compare(spark, f"SELECT {column} FROM negs WHERE -{column} < -100",
                conf={"spark.sql.ansi.enabled": "false"})
        assert not any(r.startswith("Filter") for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_partition_columns_and_filters_on_them(spark, partitioned):
    compare(spark, "SELECT * FROM pt")
    compare(spark, "SELECT id, part, region, v * 2 FROM pt WHERE region = 'k2' AND v > 100")
    compare(spark, "SELECT part, region FROM pt WHERE part = 1")


def test_input_file_name_keeps_spark_scan(spark, table):
    compare(spark, "SELECT id, input_file_name() FROM t WHERE i > 0", native=False)
    assert any("input_file_name" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_ansi_and_or_do_not_evaluate_the_right_side_where_spark_does_not(spark, table):
    conf = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id FROM t WHERE l BETWEEN 0 AND 10 AND l * 1000000000 > 0", conf=conf)
    compare(spark, "SELECT id FROM t WHERE l < 0 OR l > 10 OR l * 1000000000 <= 0", conf=conf)
    compare(spark, "SELECT id, l BETWEEN 0 AND 10 AND l * 1000000000 > 0 FROM t", conf=conf)


@pytest.mark.parametrize("expr", [
    "substring(s, -2, 1)", "substring(s, -2)", "substring(s, 0, 2)", "substring(s, -10, 12)",
    "substring(s, -3, 0)", "substring(s, 2, -1)", "substring(s, -2147483648, 2147483647)",
    "left(s, 2)", "left(s, -1)", "right(s, 2)", "right(s, 0)", "right(s, 100)",
])
def test_substring_positions_from_the_end_and_negative_lengths(spark, data_dir, expr):
    """Spark's substringSQL: a position below 0 counts from the end of each string (so `right`
    does), 0 is the first character, and a negative length gives an empty string."""
    path = os.path.join(data_dir, "substrings")
    if not os.path.exists(path):
        spark.createDataFrame([(1, "straße"), (2, ""), (3, "ab"), (4, None), (5, "😀xyz"), (6, "ΣΑΣ")],
                              "id int, s string").coalesce(1).write.parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("substrings")
    compare(spark, f"SELECT id, {expr} AS v FROM substrings")
    assert not any(r.startswith("Project") for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_unsupported_string_and_date_forms_stay_on_spark(spark, table):
    compare(spark, "SELECT id FROM t WHERE s LIKE 's1!%' ESCAPE '!'")
    assert any("escape character" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_unsupported_expression_stays_on_spark_with_its_reason(spark, table):
    plan = compare(spark, "SELECT id, initcap(s) FROM t WHERE i > 0")
    reasons = fallback_reasons(spark)
    assert any("Project" in r and "initcap" in r.lower() for r in reasons), reasons
    # The filter under it still went native.
    assert "Filter" in " ".join(native_subtrees(spark)), plan


def test_switched_off_operator_says_so(spark, table):
    compare(spark, "SELECT id FROM t WHERE i > 0", conf={"spark.cinder.filter.enabled": "false"})
    assert any("spark.cinder.filter.enabled is false" in r for r in fallback_reasons(spark))


def test_disabled_plugin_converts_nothing(spark, table):
    spark.conf.set("spark.cinder.enabled", "false")
    try:
        plan = spark.sql("SELECT id FROM t WHERE i > 0")._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.cinder.enabled", "true")
    assert "CinderNativeExec" not in plan


def _bridge(spark):
    return spark._jvm.org.apache.spark.sql.cinder.NativeBridge


@pytest.mark.parametrize("payload", [
    b"", b"garbage", b'{"version": 1', b'{"version": 99, "output": []}',
    b'{"version": 1, "output": [], "root": {"op": "parquet_scan", "schema": []}, "extra": 1}',
    b'{"version": 1, "output": [], "root": {"op": "filter", "input": {"op": "parquet_scan", "schema": []},'
    b' "condition": {"kind": "column", "index": 5}}}',
])
def test_malformed_plan_bytes_raise_a_java_exception(spark, table, payload):
    # PySpark re-raises the JVM's IllegalArgumentException as its own of the same name.
    with pytest.raises(Exception) as caught:
        _bridge(spark).createPlan(bytearray(payload))
    assert type(caught.value).__name__ == "IllegalArgumentException", repr(caught.value)
    assert "cinder: invalid plan" in str(caught.value)
    # The session goes on.
    compare(spark, "SELECT count(*) FROM t WHERE i > 0")


def test_stale_handles_raise_instead_of_crashing(spark, table):
    bridge = _bridge(spark)
    for call in (lambda: bridge.nextBatch(123456789), lambda: bridge.closePlan(123456789),
                 lambda: bridge.releaseBuffer(987654321)):
        with pytest.raises(Py4JJavaError) as caught:
            call()
        assert "IllegalStateException" in str(caught.value.java_exception.getClass()), caught.value


def test_every_native_buffer_is_released(spark, table, partitioned):
    compare(spark, "SELECT * FROM t WHERE i > 0")
    compare(spark, "SELECT * FROM pt")
    spark.sql("SELECT * FROM t LIMIT 5").collect()  # a task that stops early
    assert _bridge(spark).liveBuffers() == 0


def test_ansi_division_remainder_and_negation_natively(spark, table):
    ansi = {"spark.sql.ansi.enabled": "true"}
    # No zero divisor and no minimum negated: the values, natively.
    compare(spark, "SELECT id, x / 2.0, 1.0 / x, f / f, i % 3, l % -1, x % 2.5, t % sm, -i, -l, -x, "
                   "x / CAST(NULL AS DOUBLE), l % CAST(NULL AS BIGINT) FROM t "
                   "WHERE x <> 0 AND f <> 0 AND sm <> 0 AND i > -2147483648 AND l > -9223372036854775808", conf=ansi)
    assert native_subtrees(spark) and not any(r.startswith("Project") for r in fallback_reasons(spark)), \
        fallback_reasons(spark)
    # A zero divisor fails where the dividend is not null; a null dividend gives null.
    compare(spark, "SELECT id, CAST(NULL AS DOUBLE) / (x - x), CAST(NULL AS INT) % 0 FROM t", conf=ansi)
    fails_alike(spark, "SELECT x / (x - x) FROM t WHERE x IS NOT NULL AND NOT isnan(x)", "DIVIDE_BY_ZERO", conf=ansi)
    fails_alike(spark, "SELECT i % 0 FROM t", "DIVIDE_BY_ZERO", conf=ansi)
    fails_alike(spark, "SELECT x % -0.0 FROM t", "DIVIDE_BY_ZERO", conf=ansi)
    fails_alike(spark, "SELECT -l FROM t WHERE l < 0", "ARITHMETIC_OVERFLOW", conf=ansi)
    fails_alike(spark, "SELECT -i FROM t WHERE i < 0", "ARITHMETIC_OVERFLOW", conf=ansi)
    fails_alike(spark, "SELECT -t FROM t WHERE t < 0", "ARITHMETIC_OVERFLOW.*byte overflow", conf=ansi)


def _nested_case(depth):
    from pyspark.sql import functions as F
    c = F.col("i")
    for k in range(depth):
        # (Ints throughout: a cast at every level would exhaust Spark's own analyser sooner.)
        c = F.when(F.col("i") > k, c).otherwise(F.lit(k))
    return c


def test_deeply_nested_expressions(spark, table):
    # A CASE in a CASE 150 times nests the plan message deeper than serde_json's default limit
    # (128): native, on the task thread's stack too.
    from pyspark.sql import functions as F
    df = spark.read.parquet(table)
    for enabled in ("false", "true"):
        spark.conf.set("spark.cinder.enabled", enabled)
        spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
        got = df.select(F.sum(_nested_case(150)), F.count(_nested_case(150))).collect()
        if enabled == "false":
            expected = got
    assert got == expected, (got, expected)
    assert any("HashAggregate" in n for n in native_subtrees(spark)), fallback_reasons(spark)
    # Deeper than the conversion recurses on a driver thread's stack: Spark runs it, and says why.
    spark.conf.set("spark.cinder.enabled", "false")
    expected = df.select(F.sum(_nested_case(240))).collect()
    spark.conf.set("spark.cinder.enabled", "true")
    spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
    got = df.select(F.sum(_nested_case(240))).collect()
    assert got == expected, (got, expected)
    reasons = fallback_reasons(spark)
    assert native_subtrees(spark) or any("nested too deeply" in r for r in reasons), reasons
