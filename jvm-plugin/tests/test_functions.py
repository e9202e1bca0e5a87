"""coalesce, abs, sqrt, date functions and the string functions upper, lower, length, trim, concat,
concat_ws, replace and instr, natively with Spark's semantics: the same rows with and without the
plugin, and the projection native."""

import os

import pytest
from pyspark.sql.types import (DecimalType, DoubleType, FloatType, IntegerType, LongType, StringType, StructField,
                               StructType)

from conftest import compare, fails_alike, fallback_reasons, native_subtrees

# Unicode case mappings with more characters out than in (ß, ŉ, ǰ), final sigma, a dotted
# capital I, titlecase letters, astral characters (length counts code points), and spaces
# and other whitespace (trim removes spaces only).
ROWS = [
    (0, "Hello World", "  padded  ", 1, -7, -2.5, -0.0, "-12.50"),
    (1, "straße ŉ ǰ", "\t tab \t", None, 2147483647, float("nan"), 1.5, "0.00"),
    (2, "ΟΔΥΣΣΕΥΣ Σ", " ", -2147483648, -2147483648, float("-inf"), -3.0, "99999999.99"),
    (3, "İstanbul ǅ ǈ", "", 0, None, None, None, None),
    (4, "😀 𝔸𝔹 ﬁ", "x  y", 5, 9, 1e300, -1e-30, "-0.01"),
    (5, None, None, None, None, -0.0, 2.0, "1.00"),
    (6, "", "\u3000wide\u3000", -1, 0, 0.0, float("nan"), "-99999999.99"),
]


@pytest.fixture(scope="module")
def fn(spark, data_dir):
    from decimal import Decimal
    path = os.path.join(data_dir, "functions")
    schema = StructType([StructField("id", LongType(), False), StructField("s", StringType()),
                         StructField("t", StringType()), StructField("i", IntegerType()),
                         StructField("j", IntegerType()), StructField("x", DoubleType()),
                         StructField("f", FloatType()), StructField("d", DecimalType(10, 2))])
    rows = [r[:7] + (None if r[7] is None else Decimal(r[7]),) for r in ROWS]
    spark.createDataFrame(rows, schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("fn")
    return path


def _native(spark):
    return any(n.startswith("Project <-") and n.endswith("ParquetScan(functions)") for n in native_subtrees(spark)) \
        and not fallback_reasons(spark)


def test_string_functions(spark, fn):
    compare(spark, "SELECT id, upper(s), lower(s), length(s), length(t), trim(t), concat(s, t), concat(s, '-', t, '!'), "
                   "upper(trim(t)), char_length(s), concat(s), ltrim(t), rtrim(t) FROM fn")
    assert _native(spark), fallback_reasons(spark)
    compare(spark, "SELECT id FROM fn WHERE length(s) > 5 AND lower(s) LIKE '%s%'")
    assert native_subtrees(spark), fallback_reasons(spark)


def test_coalesce(spark, fn):
    compare(spark, "SELECT id, coalesce(i, j), coalesce(i, j, -1), coalesce(s, t, 'none'), coalesce(x, f), "
                   "coalesce(d, 0), isnan(x), isnan(f), nvl(i, 7), nullif(i, 0), ifnull(s, t) FROM fn")
    assert _native(spark), fallback_reasons(spark)
    # Later arguments are evaluated only where the earlier ones are null: here 1 / 0 never is.
    compare(spark, "SELECT id, coalesce(j, i div 1, 1 / 0) FROM fn WHERE j IS NOT NULL",
            conf={"spark.sql.ansi.enabled": "true"}, native=None)


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_abs(spark, fn, ansi):
    conf = {"spark.sql.ansi.enabled": ansi}
    compare(spark, "SELECT id, abs(i), abs(x), abs(f), abs(d), abs(CAST(i AS BIGINT)), abs(CAST(j % 1000 AS SMALLINT)) "
                   "FROM fn WHERE i IS NULL OR i > -2147483648", conf=conf)
    assert _native(spark), fallback_reasons(spark)
    if ansi == "true":
        fails_alike(spark, "SELECT abs(i) FROM fn WHERE id = 2", "ARITHMETIC_OVERFLOW|overflow", conf=conf)
    else:
        compare(spark, "SELECT id, abs(i), abs(j) FROM fn", conf=conf)
        assert _native(spark), fallback_reasons(spark)


DATES = ["1970-01-01", "2021-01-03", "2021-01-04", "2024-12-30", "2024-12-31", "2023-12-31", "2000-02-29", "1582-10-04",
         "0001-01-01", "-0044-03-15", "9999-12-31", "+12345-06-30", "-5000-01-01", None]


@pytest.fixture(scope="module")
def dates(spark, data_dir):
    path = os.path.join(data_dir, "fn_dates")
    values = ", ".join(f"({i}, {'NULL' if s is None else repr(s)}, {(i * 37) % 400 - 200})" for i, s in enumerate(DATES))
    spark.sql(f"SELECT id, CAST(s AS DATE) AS d, CAST(n AS INT) AS n FROM VALUES {values} AS v(id, s, n)") \
        .repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("fn_dates")
    return path


def test_date_parts_and_arithmetic(spark, dates):
    # (Dates print as strings: Spark's years go past Python's.)
    compare(spark, "SELECT id, quarter(d), dayofweek(d), weekday(d), dayofyear(d), weekofyear(d), "
                   "CAST(date_add(d, n) AS STRING), CAST(date_sub(d, n) AS STRING), CAST(date_add(d, 1) AS STRING), "
                   "datediff(d, DATE'2000-01-01'), datediff(DATE'2000-01-01', d) FROM fn_dates",
            conf={"spark.sql.ansi.enabled": "false"})
    assert any(n.endswith("ParquetScan(fn_dates)") and n.startswith("Project") for n in native_subtrees(spark)) and \
        not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, CAST(add_months(d, n) AS STRING), CAST(add_months(d, -1) AS STRING), "
                   "CAST(last_day(d) AS STRING), CAST(add_months(last_day(d), 1) AS STRING), "
                   "CAST(last_day(add_months(d, n * 13)) AS STRING) FROM fn_dates",
            conf={"spark.sql.ansi.enabled": "false"})
    assert any(n.endswith("ParquetScan(fn_dates)") and n.startswith("Project") for n in native_subtrees(spark)) and \
        not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT weekofyear(d) AS w, count(*) FROM fn_dates WHERE dayofweek(d) IN (1, 7) OR "
                   "datediff(d, DATE'2021-01-01') BETWEEN 0 AND 10 GROUP BY weekofyear(d)")
    assert native_subtrees(spark), fallback_reasons(spark)


def test_concat_ws_replace_instr_sqrt(spark, fn):
    compare(spark, "SELECT id, concat_ws(',', s, t), concat_ws(s, t, 'x', NULL), concat_ws(NULL, s), concat_ws('', s, t), "
                   "concat_ws('-'), concat_ws(s, NULL), "
                   "replace(s, 'S'), replace(s, 'ß', 'ss'), replace(s, '', 'x'), replace(s, t, '#'), replace(t, ' ', ''), "
                   "replace(s, s, NULL), replace(s, t), instr(s, 'S'), instr(s, ''), instr(s, t), instr(t, s), "
                   "locate('😀', s), locate(t, s), locate('', t), position('l' IN s), sqrt(x), sqrt(CAST(i AS DOUBLE)), "
                   "sqrt(f) FROM fn")
    assert _native(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, lpad(s, 12, 'ab'), rpad(s, 12, 'ß😀'), lpad(s, 3, '-'), rpad(t, 0, 'x'), lpad(s, i % 40, '.'), "
                   "rpad(s, j % 20, t), lpad(t, 4, ''), rpad(s, -1, 'x'), lpad(s, 5, NULL), reverse(s), reverse(t), "
                   "ascii(s), ascii(t), octet_length(s), octet_length(t) FROM fn")
    assert _native(spark), fallback_reasons(spark)
    # ANSI: CAST('x' AS INT) fails, but Spark evaluates the later arguments only where the earlier
    # ones are not null. (Each a different expression: Spark's subexpression elimination evaluates
    # one that occurs twice on every row.)
    def late(n):
        return f"CAST(CAST(IF(s IS NULL, 'x', '{n}') AS INT) AS STRING)"
    ansi = {"spark.sql.ansi.enabled": "true"}
    compare(spark, f"SELECT id, instr(s, {late(1)}), locate(s, {late(2)}), replace(s, 'a', {late(3)}) FROM fn",
            conf=ansi)
    assert _native(spark), fallback_reasons(spark)
    # (A search string that is not a constant, with an argument that can fail: on Spark.)
    compare(spark, f"SELECT id, replace(s, {late(4)}, 'b') FROM fn", conf=ansi, native=None)
    # An expression that occurs twice is evaluated on every row, first (subexpression
    # elimination): there Spark fails, and so does the native projection.
    fails_alike(spark, f"SELECT id, instr(s, {late(1)}), locate(s, {late(1)}) FROM fn", "CAST_INVALID_INPUT", conf=ansi)
    # Not where one occurrence is in a branch (not common to every path).
    compare(spark, f"SELECT id, instr(s, {late(5)}), IF(s IS NULL, 'n', {late(5)}) FROM fn", conf=ansi)
    assert _native(spark), fallback_reasons(spark)
    compare(spark, f"SELECT id, instr(s, {late(1)}), locate(s, {late(1)}) FROM fn",
            conf={**ansi, "spark.sql.subexpressionElimination.enabled": "false"})
    assert _native(spark), fallback_reasons(spark)


def test_substring_index(spark, fn):
    # Overlapping matches ('aa' in 'aaaa'), multi-byte delimiters, counts past the matches, zero,
    # negative, an empty delimiter, nulls.
    compare(spark, "SELECT id, substring_index(s, ' ', 1), substring_index(s, ' ', -1), substring_index(s, 'ß', 1), "
                   "substring_index(t, ' ', 2), substring_index(t, ' ', -2), substring_index(s, '', 1), "
                   "substring_index(s, ' ', 0), substring_index(s, ' ', 100), substring_index(s, ' ', -100), "
                   "substring_index(concat(s, 'aaaa'), 'aa', 2), substring_index(concat('aaaa', s), 'aa', -2), "
                   "substring_index(s, t, i % 1000), substring_index('😀x😀y', '😀', j % 3) FROM fn")
    assert _native(spark), fallback_reasons(spark)


def test_trim_strings(spark, fn):
    # The characters of the trim string, code point by code point (astral ones too); an empty
    # trim string trims nothing; a null one gives null.
    compare(spark, "SELECT id, trim(BOTH 'Hd' FROM s), trim(LEADING 'Hel' FROM s), trim(TRAILING 'ld' FROM s), "
                   "trim(BOTH ' \t' FROM t), trim(BOTH '' FROM t), trim(BOTH '😀ﬁ' FROM s), "
                   "trim(BOTH CAST(NULL AS STRING) FROM s), trim(BOTH t FROM s), trim(LEADING substring(s, 1, 1) FROM s) "
                   "FROM fn")
    assert _native(spark), fallback_reasons(spark)
