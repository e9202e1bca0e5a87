"""round, bround, floor, ceil, greatest and least natively with Spark's semantics: the same rows,
exactly (floats compared bit for bit), with and without the plugin, and the projection native."""

import os
from decimal import Decimal

import pytest
from pyspark.sql.types import (ByteType, DateType, DecimalType, DoubleType, FloatType, IntegerType, LongType,
                               ShortType, StringType, StructField, StructType)

from conftest import fails_alike, fallback_reasons, native_subtrees, run_both

INF, NAN = float("inf"), float("nan")
# Halves and their neighbours as Double.toString reads them (2.675 is 2.67499.. in binary, but
# rounds as 2.675), the two zeros, integers at their types' limits, wide decimals.
ROWS = [
    (0, 127, 32767, 2147483647, 9223372036854775807, 2.675, 0.15, "1234.567", "99999999999999999999999999999999999999",
     "a", "2024-02-29"),
    (1, -128, -32768, -2147483648, -9223372036854775808, 1.005, 2.675, "-50.000", "-5", "B", "1970-01-01"),
    (2, 15, 25, -25, 5000000000000000000, -2.5, -1.5, "-49.999", "15", "é", "-0044-03-15"),
    (3, None, None, None, None, None, None, None, None, None, None),
    (4, 0, -15, 35, -15, 0.125, 2.5, "-0.050", "0", "", "9999-12-31"),
    (5, 5, 0, 0, 0, -0.0, -0.0, "0.000", None, "ab", None),
    (6, -5, 5, 45, 95, NAN, NAN, "0.500", "-99999999999999999999999999999999999999", "z", "2000-01-01"),
    (7, 25, -25, 1000000005, -9223372036854775807, INF, -INF, "-0.500", "12345678901234567890", None, "1582-10-04"),
    (8, 35, 95, -999999995, 15, 1e300, 1e38, "9999999.999", "-15", "zz", "2024-03-01"),
    (9, -35, 1, 1, -5000000000000000000, -1e-300, 1.4e-45, "-9999999.999", "1", "Z", "2024-02-28"),
    (10, 1, 2, 3, 4, 1.7976931348623157e308, 0.0, "0.001", "25", "y", "2024-02-29"),
    (11, 2, 3, 4, 5, 4.9e-324, 3.4028234663852886e38, "0.005", "35", "x", "2024-02-29"),
    (12, 3, 4, 5, 6, 0.0, -0.0, "1.005", "-25", "w", "2024-02-29"),
    (13, 4, 5, 6, 7, 1234567.891, 0.5, "-1.005", "45", "v", "2024-02-29"),
]

JAVA19 = {"spark.cinder.javaFloatDigits": "java19"}


@pytest.fixture(scope="module")
def nums(spark, data_dir):
    path = os.path.join(data_dir, "math")
    schema = StructType([StructField("id", LongType(), False), StructField("b", ByteType()),
                         StructField("h", ShortType()), StructField("i", IntegerType()),
                         StructField("l", LongType()), StructField("x", DoubleType()),
                         StructField("f", FloatType()), StructField("d", DecimalType(10, 3)),
                         StructField("w", DecimalType(38, 0)), StructField("s", StringType()),
                         StructField("dt", StringType())])
    rows = [r[:7] + tuple(None if v is None else Decimal(v) for v in r[7:9]) + r[9:] for r in ROWS]
    spark.createDataFrame(rows, schema).selectExpr("*", "CAST(dt AS DATE) AS day").drop("dt") \
        .repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("nums")
    return path


def _exact(rows):
    # repr tells -0.0 from 0.0 and gives every bit of a double.
    return sorted(tuple(repr(v) for v in row) for row in rows)


def compare_exact(spark, sql, conf=None):
    expected, got, plan = run_both(spark, sql, conf)
    assert _exact(got) == _exact(expected), f"{sql}\ngot:      {_exact(got)}\nexpected: {_exact(expected)}\n{plan}"
    return plan


def _native(spark):
    return any(n.startswith("Project <-") and n.endswith("ParquetScan(math)") for n in native_subtrees(spark)) \
        and not fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_round_integers(spark, nums, ansi):
    conf = {"spark.sql.ansi.enabled": ansi}
    # Rows whose roundings fit their types (in both modes), then every row in legacy mode (wrapping).
    where = "" if ansi == "false" else "WHERE id NOT IN (0, 1, 7, 8)"
    compare_exact(spark, "SELECT id, round(b, -1), round(h, -1), round(i, -1), round(l, -1), bround(b, -1), "
                         "bround(h, -1), bround(i, -1), bround(l, -1), round(i, 2), round(l), round(i, -10), "
                         "round(l, -20), bround(l, -18), round(l, -1000), round(i, CAST(NULL AS INT)) "
                         f"FROM nums {where}", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    compare_exact(spark, "SELECT id, round(l, -1001) FROM nums", conf=conf)
    assert any("beyond 1000 either way" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    if ansi == "true":
        for sql in ["SELECT round(i, -1) FROM nums WHERE id = 0", "SELECT bround(b, -1) FROM nums WHERE id = 0",
                    "SELECT round(l, -19) FROM nums WHERE id = 2"]:
            fails_alike(spark, sql, "ARITHMETIC_OVERFLOW", conf=conf)
        # The rounding is evaluated only where Spark evaluates it: not after a false conjunct.
        compare_exact(spark, "SELECT id FROM nums WHERE i > 2000000000 OR (id > 1 AND round(i, -1) > 0)", conf=conf)
        assert native_subtrees(spark), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_round_decimals(spark, nums, ansi):
    conf = {"spark.sql.ansi.enabled": ansi}
    compare_exact(spark, "SELECT id, round(d, -2), round(d, 1), round(d, 2), round(d, 5), round(d, -40), bround(d, 1), "
                         "bround(d, 2), round(d), bround(d), bround(d, -1), round(w, 0), round(w, 3), "
                         "round(CAST(d AS DECIMAL(37, 0)), -1), bround(CAST(d AS DECIMAL(38, 3)), 1), "
                         "floor(d), ceil(d), floor(w), ceil(w), floor(CAST(d AS DECIMAL(38, 3))), "
                         "ceil(CAST(d AS DECIMAL(38, 27))) FROM nums", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    # Rounding decimal(38, 0) to tens can leave decimal(38, 0): Spark fails (in both modes), on Spark.
    compare_exact(spark, "SELECT id, round(w, -1) FROM nums WHERE id NOT IN (0, 6)", conf=conf)
    assert any("can overflow the decimal(38, 0)" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_round_floats(spark, nums, ansi):
    conf = {**JAVA19, "spark.sql.ansi.enabled": ansi}
    compare_exact(spark, "SELECT id, x, round(x, 2), bround(x, 2), round(x, -2), round(x, 400), round(x, -400), "
                         "round(x), bround(x), round(x, 300), round(x, -307), bround(x, 1), round(x, 1), "
                         "round(f, 1), bround(f, 0), round(f, -37), round(f, 2), round(f), bround(f, 1), "
                         "round(x, CAST(NULL AS INT)) FROM nums", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    compare_exact(spark, "SELECT id FROM nums WHERE round(x, 2) = 2.68 OR bround(f, 0) = 2.0", conf=conf)
    assert native_subtrees(spark) and not fallback_reasons(spark), fallback_reasons(spark)


def test_round_floats_need_java19_digits(spark, nums):
    if int(spark._jvm.java.lang.Runtime.version().feature()) >= 19:
        pytest.skip("the JVM gives Java 19's digits")
    compare_exact(spark, "SELECT id, round(x, 2), round(i, -1) FROM nums", conf={"spark.sql.ansi.enabled": "false"})
    assert any("round of a double reads Java's Double.toString digits" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


def test_floor_and_ceil(spark, nums):
    compare_exact(spark, "SELECT id, floor(x), ceil(x), floor(f), ceil(f), floor(l), ceil(i), floor(b), ceil(-x), "
                         "floor(x / 3) FROM nums")
    assert _native(spark), fallback_reasons(spark)


def test_greatest_and_least(spark, nums):
    # (Not greatest(x, f) with greatest(f, x): Spark's subexpression elimination takes them for one
    # expression and gives the first's value for both, which differs in the sign of a zero.)
    compare_exact(spark, "SELECT id, greatest(b, h, i), least(b, h, i), greatest(x, f), least(f, x), "
                         "greatest(x, -x), least(-x, x), greatest(d, w), least(d, i), greatest(s, 'b'), "
                         "least(s, 'b', CAST(id AS STRING)), CAST(greatest(day, DATE'2024-02-29') AS STRING), "
                         "CAST(least(day, NULL, DATE'1970-01-01') AS STRING), "
                         "greatest(l, NULL, i), greatest(i > 3, b < 0) FROM nums",
                  conf={"spark.sql.ansi.enabled": "false"})
    assert _native(spark), fallback_reasons(spark)
    compare_exact(spark, "SELECT id, greatest(f, x), least(x, f) FROM nums")
    assert _native(spark), fallback_reasons(spark)
    compare_exact(spark, "SELECT id FROM nums WHERE greatest(x, f) > 1 OR least(i, h) < 0")
    assert native_subtrees(spark) and not fallback_reasons(spark), fallback_reasons(spark)


def test_date_arithmetic_skips_the_days_of_null_dates(spark, nums):
    # ANSI: CAST('x' AS INT) fails, but Spark evaluates it only where the date is not null.
    conf = {"spark.sql.ansi.enabled": "true"}
    compare_exact(spark, "SELECT id, CAST(date_add(day, CAST(IF(day IS NULL, 'x', '1') AS INT)) AS STRING), "
                         "CAST(date_sub(day, CAST(IF(day IS NULL, 'x', '2') AS INT)) AS STRING), "
                         "datediff(day, CAST(IF(day IS NULL, 'x', '2000-01-01') AS DATE)), "
                         "CAST(add_months(day, CAST(IF(day IS NULL, 'x', '-3') AS INT)) AS STRING) FROM nums "
                         "WHERE day IS NULL OR id < 3", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT date_add(day, CAST(IF(day IS NULL, '1', 'x') AS INT)) FROM nums WHERE id = 0",
                "CAST_INVALID_INPUT", conf=conf)


def test_hash(spark, nums):
    compare_exact(spark, "SELECT id, hash(b), hash(h, i), hash(l), hash(x), hash(f), hash(d), hash(w), hash(s), "
                         "hash(day), hash(i > 3), hash(CAST(day AS TIMESTAMP)), hash(b, s, NULL, x, d, w), "
                         "hash(CAST(NULL AS INT)), hash(-x), hash(-f) FROM nums",
                  conf={"spark.sql.session.timeZone": "America/Los_Angeles"})
    assert _native(spark), fallback_reasons(spark)


def test_xxhash64(spark, nums):
    compare_exact(spark, "SELECT id, xxhash64(b), xxhash64(h, i), xxhash64(l), xxhash64(x), xxhash64(f), "
                         "xxhash64(d), xxhash64(w), xxhash64(s), xxhash64(day), xxhash64(i > 3), "
                         "xxhash64(CAST(day AS TIMESTAMP)), xxhash64(b, s, NULL, x, d, w), xxhash64(CAST(NULL AS INT)), "
                         "xxhash64(-x), xxhash64(-f), xxhash64(concat(s, s, s, s, s, s, s)) FROM nums",
                  conf={"spark.sql.session.timeZone": "America/Los_Angeles"})
    assert _native(spark), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_integral_divide(spark, nums, ansi):
    # div of integers (Spark casts them to bigints): toward zero; by zero null (legacy), MIN div -1
    # wraps to MIN (legacy).
    conf = {"spark.sql.ansi.enabled": ansi}
    # (In ANSI mode, the rows and divisors that fail are left out here and failed below.)
    safe = "WHERE i <> 0 AND l <> -9223372036854775807 - 1" if ansi == "true" else ""
    shift = "id + 1" if ansi == "true" else "id - 7"
    compare_exact(spark, f"SELECT id, l div i, i div l, b div h, l div 7, -l div 3, i div -1, l div ({shift}), "
                         f"7 div (id - 5) FROM nums {safe}", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    if ansi == "true":
        fails_alike(spark, "SELECT l div i FROM nums WHERE id = 5", "DIVIDE_BY_ZERO", conf=conf)
        fails_alike(spark, "SELECT l div -1 FROM nums WHERE id = 1", "ARITHMETIC_OVERFLOW", conf=conf)
        # The dividend is evaluated only where the divisor is not null: null div 0 is null.
        compare_exact(spark, "SELECT id, CAST(NULL AS BIGINT) div i, l div CAST(NULL AS INT) FROM nums WHERE id = 3",
                      conf=conf)
    else:
        compare_exact(spark, "SELECT id, l div -1, l div 0, l div l, (l - 1) div l FROM nums", conf=conf)
        assert _native(spark), fallback_reasons(spark)
