"""exp, ln, log10, log2, log1p, log(base, x), pow, expm1, asinh, acosh, atanh, signum, degrees,
radians, rint, atan, asin, acos, atan2, sinh, cosh, tanh, cbrt and hypot natively, bit for bit:
Spark computes them with StrictMath (fdlibm's algorithms) and Math, and the native side
reproduces their last bits. Sin, cos and tan, which HotSpot computes with intrinsics, stay on
Spark with a reason."""

import math
import os
import random
import struct

import pytest
from pyspark.sql.types import DoubleType, IntegerType, LongType, StructField, StructType

from conftest import equal_values, fails_alike, fallback_reasons, native_subtrees, rows_equal, run_both

SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 10.0, 1000.0, math.e, float("inf"), float("-inf"), float("nan"),
            5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
            709.782712893384, 709.79, -745.1332191019411, -746.0, 0.9999999999999999, 1.0000000000000002,
            -0.9999999999999999, -1.0000000000000002, 0.41422, -0.2929, 2.0 ** -29, 2.0 ** -54, 2.0 ** 53, 1e-20,
            -1e-20, 3.0, -3.0, 0.25, 1.5, -1.5, 2.5, -2.5, 1e308, 1e-308]


def _double(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def _value(rng):
    k = rng.random()
    if k < 0.15:
        return rng.choice(SPECIALS)
    if k < 0.4:
        return rng.uniform(-1, 1) * 10 ** rng.uniform(-5, 5)
    if k < 0.55:
        return rng.uniform(-800, 800)
    if k < 0.7:
        return rng.uniform(-1, 1) * 2.0 ** -rng.randint(0, 60)
    if k < 0.85:
        # A few ulps from 1, where the logarithms' reductions change.
        return _double(struct.unpack("<Q", struct.pack("<d", 1.0))[0] + rng.randint(-5000, 5000))
    return _double(rng.getrandbits(64))


@pytest.fixture(scope="module")
def doubles(spark, data_dir):
    rng = random.Random(20261207)
    path = os.path.join(data_dir, "strict_math")
    rows = []
    for i in range(3000):
        x = None if i % 97 == 5 else (SPECIALS[i] if i < len(SPECIALS) else _value(rng))
        y = None if i % 89 == 7 else (SPECIALS[(i // len(SPECIALS)) % len(SPECIALS)] if i < len(SPECIALS) ** 2
                                      else rng.choice([_value(rng), float(rng.randint(-60, 60)), 0.5, 2.0]))
        rows.append((i, x, y, None if i % 13 == 0 else rng.randint(-3, 100), i % 5))
    schema = StructType([StructField("id", LongType(), False), StructField("x", DoubleType()),
                         StructField("y", DoubleType()), StructField("i", IntegerType()),
                         StructField("j", IntegerType())])
    spark.createDataFrame(rows, schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("doubles")
    return path


def exact(spark, sql, conf=None):
    """`sql`'s rows (the unique id first) with Cinder equal Spark's, doubles bit for bit (NaN
    equal to NaN), and the projection ran natively."""
    expected, got, plan = run_both(spark, sql, conf)
    expected = sorted(expected, key=lambda r: r[0])
    got = sorted(got, key=lambda r: r[0])
    assert len(got) == len(expected), f"{sql}: {len(got)} rows, Spark gives {len(expected)}"
    for g, e in zip(got, expected):
        assert len(g) == len(e) and all(equal_values(a, b) for a, b in zip(g, e)), f"{sql}: row {g}, Spark's is {e}"
        # -0.0 == 0.0 in Python: the signs too.
        assert all(math.copysign(1, a) == math.copysign(1, b) for a, b in zip(g, e)
                   if isinstance(a, float) and isinstance(b, float) and not math.isnan(a)), f"{sql}: row {g}, {e}"
    assert any(n.startswith("Project <-") for n in native_subtrees(spark)) and not fallback_reasons(spark), \
        f"{sql}: {native_subtrees(spark)}\n{fallback_reasons(spark)}\n{plan}"


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_strict_math_functions_bit_for_bit(spark, doubles, ansi):
    exact(spark, "SELECT id, exp(x), expm1(x), ln(x), log10(x), log2(x), log1p(x), log(x), sqrt(x) FROM doubles",
          conf={"spark.sql.ansi.enabled": ansi})
    exact(spark, "SELECT id, asinh(x), acosh(x), atanh(x), signum(x), degrees(x), radians(x), rint(x) FROM doubles",
          conf={"spark.sql.ansi.enabled": ansi})


def test_pow_and_logarithm_of_two_columns(spark, doubles):
    exact(spark, "SELECT id, pow(x, y), power(y, x), pow(x, 2), pow(2, x), pow(x, 0.5), pow(x, -1), "
                 "log(x, y), log(y, x), log(10, x), log(2, y) FROM doubles")


def test_integers_and_expressions_as_arguments(spark, doubles):
    # Spark casts the integers to doubles; the functions nest, and filter.
    exact(spark, "SELECT id, ln(i), exp(i), pow(i, j), log(j + 1, i), log10(i * 1000), exp(ln(x)), "
                 "ln(exp(y)), floor(log2(abs(x) + 1)) FROM doubles")
    exact(spark, "SELECT id, x FROM doubles WHERE ln(x) > 1 OR pow(y, 2) < 0.25")


def test_an_argument_after_a_null_is_not_evaluated(spark, doubles):
    # pow and log are null-intolerant: where x is null Spark never evaluates 1 / j (which, in
    # ANSI mode, fails where j = 0).
    ansi = {"spark.sql.ansi.enabled": "true"}
    exact(spark, "SELECT id, pow(x, 1 / j) FROM doubles WHERE x IS NULL", conf=ansi)
    exact(spark, "SELECT id, log(x, 1 / j) FROM doubles WHERE x IS NULL", conf=ansi)
    # Twice, 1 / j is a common subexpression, which Spark evaluates on every row first.
    fails_alike(spark, "SELECT id, pow(x, 1 / j), log(x, 1 / j) FROM doubles WHERE x IS NULL", "DIVIDE_BY_ZERO",
                conf=ansi)


def test_math_functions_in_aggregates(spark, doubles):
    expected, got, _ = run_both(spark, "SELECT j, sum(ln(x)), max(pow(x, y)), count(log10(x)) FROM doubles "
                                       "WHERE x > 0 AND x < 1e300 GROUP BY j ORDER BY j")
    assert [r[0] for r in got] == [r[0] for r in expected]
    for g, e in zip(got, expected):
        # (Sums of doubles in the order of the rows: their last bits as Spark's only within a task.)
        assert math.isclose(g[1], e[1], rel_tol=1e-12) and equal_values(g[2], e[2]) and g[3] == e[3], (g, e)
    assert native_subtrees(spark), fallback_reasons(spark)


def test_java_lang_math_functions_that_delegate_to_strict_math(spark, doubles):
    # java.lang.Math's atan, asin, acos, atan2, sinh, cosh, tanh, cbrt and hypot are StrictMath's
    # on this JVM (Java 17); atan2 reads -0.0 as 0.0 (Spark adds 0.0 to each argument).
    exact(spark, "SELECT id, atan(x), asin(x), acos(x), sinh(x), cosh(x), tanh(x), cbrt(x) FROM doubles")
    exact(spark, "SELECT id, atan2(x, y), atan2(y, x), hypot(x, y), hypot(y, 3), atan2(x, -0.0), "
                 "asin(x / 1000), acos(y / 100) FROM doubles")


def test_java_lang_math_functions_stay_on_spark_with_a_reason(spark, doubles):
    for f in ("sin(x)", "cos(x)", "tan(x)", "cot(x)", "sec(x)", "csc(x)"):
        expected, got, _ = run_both(spark, f"SELECT id, {f} FROM doubles")
        assert rows_equal(got, expected), f
        name = f.split("(")[0]
        assert any(name in r and "intrinsics" in r for r in fallback_reasons(spark)), (f, fallback_reasons(spark))
