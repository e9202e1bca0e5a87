"""Casts whose rules are Spark's own, natively: strings to integers, dates, booleans, floats and
decimals."""

import os

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from conftest import compare, fails_alike, fallback_reasons, native_subtrees

# Spark trims ASCII control characters and spaces, reads a sign and digits, and in legacy mode
# drops a fraction of digits; each type's range decides the rest.
STRINGS = [
    "0", "42", "-42", "+7", " 12 ", "\t-3\n", "\u00011\u007f", "1.9", "-1.9", "1.", ".5", ".", "-.5", "-", "+", "",
    "   ", "1e3", "1 2", "1.2.3", "1.x", "abc", "0x10", "\u0663", "\u00a01", "1\u00a0", "127", "128", "-128",
    "-129", "32767", "32768", "-32769", "2147483647", "2147483648", "-2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "000000000000000000000000001", "99999999999999999999.5", None,
    # Dates: a year of 4 to 7 digits, then month and day of 1 or 2, anything after a space or T.
    "1970-01-01", " 1970-1-2 ", "1969-12-31T23:59:59", "2000-02-29 whatever", "2001-02-29", "2000-13-01",
    "2000-1-001", "200-01-01", "2000-01", "2000", "2000-01-01x", "2000 x", "+2000-01-01", "-0044-03-15",
    "1234567-01-01", "12345678-01-01", "9999-12-31", "10000-01-01", "2000-1", "2000-01-",
    # Booleans.
    "t", "TRUE", " yes ", "Y", "f", "False", "no", "N", "2", "tru",
    # Floats (Java's grammar, then Spark's special words) and decimals (java.math.BigDecimal).
    "1.5f", "1d", "-2.5e-3D", "0x1.8p1", "-0X.8P0f", "0x1p", "NaN", "-Infinity", "+NaN", "nan", "+nan", " INF ",
    "-infinity", "1e400", "-1e400", "4.9e-324", "1e-400", "1e", "1e+", "e5", "9.995", "-99999.995", "0.05", "-0.5",
    "\u0663\u0664.5", "0e50", "1e2147483648", "0.000001e7", "1.7976931348623157E308", "3.4028236e38",
    "123456789012345678901234567890123456789", "1234567890123456789012345678901234567890", "12.345678901234567890123",
]


@pytest.fixture(scope="module")
def strings(spark, data_dir):
    path = os.path.join(data_dir, "cast_strings")
    schema = StructType([StructField("id", LongType(), False), StructField("s", StringType(), True)])
    spark.createDataFrame(list(enumerate(STRINGS)), schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("strs")
    return path


def _project_is_native(spark):
    return any(n.startswith("Project <- ParquetScan") for n in native_subtrees(spark))


def test_strings_to_integers_in_legacy_mode(spark, strings):
    compare(spark, "SELECT id, s, CAST(s AS TINYINT), CAST(s AS SMALLINT), CAST(s AS INT), CAST(s AS BIGINT) "
                   "FROM strs", conf={"spark.sql.ansi.enabled": "false"})
    assert _project_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT id FROM strs WHERE CAST(s AS INT) > 10", conf={"spark.sql.ansi.enabled": "false"})


def test_strings_to_integers_in_ansi_mode(spark, strings):
    valid = "s IN ('0', '42', '-42', '+7', ' 12 ', '127', '-128', '2147483647', '-9223372036854775808')"
    compare(spark, f"SELECT id, CAST(s AS TINYINT), CAST(s AS INT), CAST(s AS BIGINT) FROM strs WHERE {valid} "
                   "AND CAST(s AS BIGINT) BETWEEN -128 AND 127", conf={"spark.sql.ansi.enabled": "true"})
    assert native_subtrees(spark), fallback_reasons(spark)
    for bad, to in [("1.9", "INT"), ("abc", "BIGINT"), ("128", "TINYINT"), ("2147483648", "INT"), ("", "SMALLINT")]:
        fails_alike(spark, f"SELECT CAST(s AS {to}) FROM strs WHERE s = '{bad}'", "CAST_INVALID_INPUT",
                    conf={"spark.sql.ansi.enabled": "true"})


def test_try_cast_of_strings(spark, strings):
    # The ANSI rules with null for the error; to floats, decimals and dates Spark's legacy rules.
    compare(spark, "SELECT id, s, try_cast(s AS INT), try_cast(s AS TINYINT), try_cast(s AS BIGINT), "
                   "try_cast(s AS BOOLEAN), try_cast(s AS DOUBLE), try_cast(s AS FLOAT), try_cast(s AS DECIMAL(5, 0)), "
                   "try_cast(s AS DECIMAL(38, 10)), year(try_cast(s AS DATE)), "
                   "try_cast(try_cast(s AS DECIMAL(38, 10)) AS STRING) FROM strs")
    assert _project_is_native(spark), fallback_reasons(spark)


def test_strings_to_dates_and_booleans(spark, strings):
    # (Spark's dates go past Python's, 1 to 9999: compared as their parts where they may.)
    parts = "year(CAST(s AS DATE)), month(CAST(s AS DATE)), day(CAST(s AS DATE))"
    compare(spark, f"SELECT id, s, {parts}, CAST(s AS BOOLEAN) FROM strs", conf={"spark.sql.ansi.enabled": "false"})
    assert _project_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, s, CAST(s AS DATE) FROM strs "
                   "WHERE CAST(s AS DATE) BETWEEN DATE'0001-01-01' AND DATE'9999-12-31'",
            conf={"spark.sql.ansi.enabled": "false"})
    assert any(n.startswith("Project <- Filter <- ParquetScan") for n in native_subtrees(spark)), \
        (native_subtrees(spark), fallback_reasons(spark))
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id, CAST(s AS DATE) FROM strs WHERE s IN ('1970-01-01', '2000-01', ' 1970-1-2 ')",
            conf=ansi)
    assert native_subtrees(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, CAST(s AS BOOLEAN) FROM strs WHERE s IN ('t', ' yes ', 'no', '0')", conf=ansi)
    assert native_subtrees(spark), fallback_reasons(spark)
    for bad, to in [("2001-02-29", "DATE"), ("tru", "BOOLEAN")]:
        fails_alike(spark, f"SELECT CAST(s AS {to}) FROM strs WHERE s = '{bad}'", "CAST_INVALID_INPUT",
                    conf={"spark.sql.ansi.enabled": "true"})


def test_strings_to_floats_and_decimals_in_legacy_mode(spark, strings):
    compare(spark, "SELECT id, s, CAST(s AS DOUBLE), CAST(s AS FLOAT), CAST(s AS DECIMAL(10, 2)), "
                   "CAST(s AS DECIMAL(38, 10)), CAST(s AS DECIMAL(5, 0)), CAST(s AS DECIMAL(38, 0)) FROM strs",
            conf={"spark.sql.ansi.enabled": "false"})
    assert _project_is_native(spark), fallback_reasons(spark)
    # Exactly: the parsed values compared in the native filter with Spark's own literals.
    compare(spark, "SELECT id FROM strs WHERE CAST(s AS DOUBLE) IN (0.015D, -0.0025D, 3.0D, 9.995D, 4.9E-324D) "
                   "OR CAST(s AS FLOAT) IN (CAST(0.05 AS FLOAT), CAST(-0.5 AS FLOAT))",
            conf={"spark.sql.ansi.enabled": "false"})
    assert native_subtrees(spark), fallback_reasons(spark)


def test_strings_to_floats_and_decimals_in_ansi_mode(spark, strings):
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id, CAST(s AS DOUBLE), CAST(s AS FLOAT), CAST(s AS DECIMAL(12, 3)) FROM strs "
                   "WHERE s IN ('0', '-42', ' 12 ', '1.', '.5', '9.995', '1e-400', '0.000001e7', '-0.5')", conf=ansi)
    assert native_subtrees(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, CAST(s AS DOUBLE), CAST(s AS FLOAT) FROM strs "
                   "WHERE s IN ('1.5f', '0x1.8p1', 'NaN', '-Infinity', ' INF ', '1e400')", conf=ansi)
    for bad, to, error in [("abc", "DOUBLE", "CAST_INVALID_INPUT"), ("+nan", "FLOAT", "CAST_INVALID_INPUT"),
                           ("1.5f", "DECIMAL(10, 2)", "CAST_INVALID_INPUT"),
                           ("NaN", "DECIMAL(10, 2)", "CAST_INVALID_INPUT"),
                           ("1234567890123456789012345678901234567890", "DECIMAL(5, 0)",
                            "NUMERIC_OUT_OF_SUPPORTED_RANGE"),
                           ("-99999.995", "DECIMAL(5, 0)", "NUMERIC_VALUE_OUT_OF_RANGE"),
                           ("9.995", "DECIMAL(3, 2)", "NUMERIC_VALUE_OUT_OF_RANGE")]:
        fails_alike(spark, f"SELECT CAST(s AS {to}) FROM strs WHERE s = '{bad}'", error, conf=ansi)


def test_decimals_to_strings(spark, strings):
    # Legacy mode prints as BigDecimal.toString (0E-10, 1.2E-7), ANSI mode plainly.
    printed = ("CAST(CAST(s AS DECIMAL(38, 10)) AS STRING), CAST(CAST(s AS DECIMAL(10, 2)) AS STRING), "
               "CAST(CAST(s AS DECIMAL(5, 0)) AS STRING), CAST(CAST(s AS DECIMAL(18, 18)) AS STRING), "
               "CAST(CAST(s AS DECIMAL(38, 10)) / 10000 AS STRING)")
    compare(spark, f"SELECT id, s, {printed} FROM strs", conf={"spark.sql.ansi.enabled": "false"})
    assert _project_is_native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT id, s, {printed} FROM strs WHERE s IN ('0', '.5', '0.05', '-0.5', '1e-400')", conf={"spark.sql.ansi.enabled": "true"})
    assert native_subtrees(spark), fallback_reasons(spark)


# Numbers at and past each type's edges, for the casts between numbers and booleans.
NUMBER_ROWS = [
    (0, 0, 0, 0, 0, 0.0, 0.0, "0.00", "0.000", False),
    (1, 127, 32767, 2147483647, 9223372036854775807, 3.0e9, 9.3e18, "12345678901234567890.99", "1234567.891", True),
    (2, -128, -32768, -2147483648, -9223372036854775808, -3.0e9, -9.3e18, "-12345678901234567890.99", "-9999999.999",
     False),
    (3, 100, 300, 70000, 3000000000, float("nan"), float("nan"), "2147483647.90", "-300.900", True),
    (4, -1, -300, -70000, -3000000000, float("inf"), float("-inf"), "-2147483648.99", "0.500", False),
    (5, 44, 200, 200, 200, 200.7, -200.7, "99999999999999999999999999999999999.99", "-0.001", True),
    (6, 1, 1, 1, 1, -0.0, 9.223372036854775807e18, "1.50", "127.999", True),
    (7, 2, -2, 128, -129, 2147483647.5, 1e300, "-1.50", "-128.999", False),
    (8, None, None, None, None, None, None, None, None, None),
    (9, 3, 3, 3, 3, 1.5, 0.1, "0.10", "0.100", True),
]


@pytest.fixture(scope="module")
def numbers(spark, data_dir):
    from decimal import Decimal
    from pyspark.sql.types import (BooleanType, ByteType, DecimalType, DoubleType, FloatType, IntegerType,
                                   ShortType)
    path = os.path.join(data_dir, "cast_numbers")
    schema = StructType([StructField("id", LongType(), False), StructField("t", ByteType()),
                         StructField("sm", ShortType()), StructField("i", IntegerType()), StructField("l", LongType()),
                         StructField("f", FloatType()), StructField("x", DoubleType()),
                         StructField("p", DecimalType(38, 2)), StructField("q", DecimalType(10, 3)),
                         StructField("b", BooleanType())])
    rows = [r[:7] + tuple(None if v is None else Decimal(v) for v in r[7:9]) + r[9:] for r in NUMBER_ROWS]
    spark.createDataFrame(rows, schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("nums")
    return path


NUMERIC_CASTS = [
    "CAST(sm AS TINYINT)", "CAST(i AS TINYINT)", "CAST(i AS SMALLINT)", "CAST(l AS INT)", "CAST(l AS SMALLINT)",
    "CAST(f AS INT)", "CAST(f AS BIGINT)", "CAST(f AS TINYINT)", "CAST(x AS INT)", "CAST(x AS BIGINT)",
    "CAST(x AS SMALLINT)", "CAST(p AS BIGINT)", "CAST(p AS INT)", "CAST(p AS TINYINT)", "CAST(q AS SMALLINT)",
    "CAST(q AS TINYINT)", "CAST(p AS DOUBLE)", "CAST(p AS FLOAT)", "CAST(q AS DOUBLE)", "CAST(q AS FLOAT)",
    "CAST(x AS FLOAT)", "CAST(t AS BOOLEAN)", "CAST(l AS BOOLEAN)", "CAST(f AS BOOLEAN)", "CAST(x AS BOOLEAN)",
    "CAST(p AS BOOLEAN)", "CAST(b AS TINYINT)", "CAST(b AS BIGINT)", "CAST(b AS DOUBLE)", "CAST(b AS FLOAT)",
    "CAST(b AS DECIMAL(3, 2))",
]


def test_numbers_and_booleans_in_legacy_mode(spark, numbers):
    compare(spark, f"SELECT id, {', '.join(NUMERIC_CASTS)} FROM nums", conf={"spark.sql.ansi.enabled": "false"})
    assert any(n.startswith("Project <- ParquetScan") for n in native_subtrees(spark)), fallback_reasons(spark)
    # Exactly, for the rounded ones: compared natively with Spark's literals.
    compare(spark, "SELECT id FROM nums WHERE CAST(p AS DOUBLE) IN (1.2345678901234567E19D, 0.1D) "
                   "OR CAST(q AS FLOAT) = CAST(0.1 AS FLOAT) OR CAST(x AS FLOAT) = CAST(0.1D AS FLOAT)",
            conf={"spark.sql.ansi.enabled": "false"})
    assert native_subtrees(spark), fallback_reasons(spark)


def test_numbers_and_booleans_in_ansi_mode(spark, numbers):
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, f"SELECT id, {', '.join(NUMERIC_CASTS)} FROM nums WHERE id IN (0, 8, 9)", conf=ansi)
    assert native_subtrees(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, CAST(x AS BIGINT), CAST(f AS INT), CAST(p AS INT) FROM nums WHERE id = 6", conf=ansi)
    for row, expr in [(3, "CAST(l AS INT)"), (4, "CAST(sm AS TINYINT)"), (3, "CAST(x AS INT)"), (1, "CAST(x AS BIGINT)"),
                      (5, "CAST(f AS TINYINT)"), (1, "CAST(p AS BIGINT)"), (2, "CAST(q AS SMALLINT)"),
                      (7, "CAST(f AS INT)"), (5, "CAST(p AS INT)")]:
        fails_alike(spark, f"SELECT {expr} FROM nums WHERE id = {row}", "CAST_OVERFLOW", conf=ansi)


def test_try_cast_of_numbers_and_what_stays_on_spark(spark, numbers):
    compare(spark, f"SELECT id, {', '.join(c.replace('CAST(', 'try_cast(') for c in NUMERIC_CASTS)} FROM nums")
    assert any(n.startswith("Project <- ParquetScan") for n in native_subtrees(spark)), fallback_reasons(spark)
    # On Java 17 (this JVM) floats print Java 17's digits, which stay on Spark by default.
    compare(spark, "SELECT id, try_cast(x AS STRING) FROM nums", native=None)
    assert any("cast from double to string prints Java's Double.toString digits" in r
               for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, CAST(f AS DECIMAL(10, 2)) FROM nums", native=None,
            conf={"spark.cinder.javaFloatDigits": "off", "spark.sql.ansi.enabled": "false"})
    assert any("cast from float to decimal(10,2) stays on Spark" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


def test_try_arithmetic(spark, numbers):
    # Integer overflow is null (where legacy mode wraps and ANSI mode fails); decimals, floats,
    # division and remainder give what legacy mode gives.
    for ansi in ("false", "true"):
        compare(spark, "SELECT id, try_add(t, t), try_subtract(sm, CAST(1 AS SMALLINT)), try_multiply(i, i), "
                       "try_add(l, l), try_subtract(l, 1), try_multiply(l, 2), try_add(i, 2147483647), "
                       "try_multiply(t, CAST(2 AS TINYINT)), try_add(x, x), try_divide(x, 0.0), try_divide(i, 0), "
                       "try_divide(l, sm), try_divide(p, q), try_mod(i, 0), try_mod(l, -1), try_add(p, p), "
                       "try_multiply(p, q), try_subtract(q, p) FROM nums", conf={"spark.sql.ansi.enabled": ansi})
        assert any(n.startswith("Project <- ParquetScan") for n in native_subtrees(spark)) and \
            not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id FROM nums WHERE try_multiply(l, 3) IS NULL AND try_add(i, 1) > 0")
    assert native_subtrees(spark), fallback_reasons(spark)


# Doubles and floats whose digits Java 17 (this JVM) and Java 19 print alike (Java 17's are not
# always the shortest: 2.82879384806159E17 prints as 2.82879384806159008E17, and about one float
# in twelve has an extra digit, 9.999E9 as 9.9989996E9), at the layout's edges, rounding half up to decimals, and past
# the decimal types.
FLOAT_ROWS = [
    (0, 0.0, 0.0), (1, -0.0, -0.0), (2, 0.1, 0.1), (3, -200.7, -2.5), (4, 1e7, 1e7), (5, 9999999.0, 1e-3),
    (6, 0.001, 1e-4), (7, 1e-4, 1e10), (8, 1e10, 3.4028235e38), (9, 9.3e18, 1.4e-45), (10, 1.0e22, 100.0),
    (11, 2.2250738585072014e-308, 1.5), (12, 1.7976931348623157e308, 123.456), (13, 1.005, 16777216.0),
    (14, -1.005, -0.5), (15, 123.456, float("nan")), (16, 99999.5, float("inf")), (17, 1e20, float("-inf")),
    (18, 1e-30, 0.3), (19, float("nan"), 2.0), (20, float("inf"), 1e-30), (21, float("-inf"), 5.5e8),
    (22, 2.0 / 3.0, 0.7), (23, 5e-324, 3.0e-10), (24, 12345.678901234567, 1e20), (25, None, None),
]


@pytest.fixture(scope="module")
def floats(spark, data_dir):
    from pyspark.sql.types import DoubleType, FloatType
    path = os.path.join(data_dir, "cast_floats")
    schema = StructType([StructField("id", LongType(), False), StructField("x", DoubleType()),
                         StructField("f", FloatType())])
    spark.createDataFrame(FLOAT_ROWS, schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("fl")
    return path


def test_floats_to_strings_and_decimals(spark, floats):
    # (Native on this Java 17 only with Java 19's digits accepted: these values print alike.)
    java19 = {"spark.cinder.javaFloatDigits": "java19"}
    compare(spark, "SELECT id, CAST(x AS STRING), CAST(f AS STRING), CAST(x AS DECIMAL(10, 2)), "
                   "CAST(x AS DECIMAL(38, 0)), CAST(f AS DECIMAL(20, 18)), CAST(x AS DECIMAL(38, 37)), "
                   "CAST(f AS DECIMAL(5, 1)), try_cast(x AS DECIMAL(5, 0)), try_cast(f AS STRING) FROM fl",
            conf={**java19, "spark.sql.ansi.enabled": "false"})
    assert any(n.startswith("Project <- ParquetScan") for n in native_subtrees(spark)) and \
        not fallback_reasons(spark), fallback_reasons(spark)
    ansi = {**java19, "spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id, CAST(x AS STRING), CAST(f AS STRING), CAST(x AS DECIMAL(10, 2)), "
                   "try_cast(x AS DECIMAL(5, 0)) FROM fl WHERE NOT (x BETWEEN 1e7 AND 1.7976931348623157e308 OR "
                   "x BETWEEN -1.7976931348623157e308 AND -1e7)", conf=ansi)
    assert native_subtrees(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT CAST(x AS DECIMAL(10, 2)) FROM fl WHERE id = 17", "NUMERIC_VALUE_OUT_OF_RANGE",
                conf=ansi)
    fails_alike(spark, "SELECT CAST(f AS DECIMAL(10, 2)) FROM fl WHERE id = 24", "NUMERIC_VALUE_OUT_OF_RANGE",
                conf=ansi)
