"""Window functions run natively (WindowExec over a native subtree): ranking functions, lag and
lead, first/last/nth_value, and count, sum, avg, min and max over ROWS and RANGE frames, with
Spark's rows: partition and order keys with nulls, duplicates, NaN and both zeros, empty and
one-row partitions, empty frames, ANSI overflows; and the reasons where a window stays on
Spark."""

import os
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pyspark.sql.types import (DateType, DecimalType, DoubleType, FloatType, IntegerType, LongType, StringType,
                               StructField, StructType)

from conftest import compare, equal_values, fails_alike, fallback_reasons, native_subtrees, run_both, settings

SCHEMA = StructType([
    StructField("id", IntegerType(), False), StructField("g", IntegerType()), StructField("k", IntegerType()),
    StructField("x", DoubleType()), StructField("f", FloatType()), StructField("p", DecimalType(12, 2)),
    StructField("w", DecimalType(38, 0)), StructField("l", LongType()), StructField("s", StringType()),
    StructField("d", DateType()),
])

FLOATS = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.5, -2.25, 0.1, 1e300, None]
STRINGS = ["", "a", "ab", "B", "\u00e9", "z", "aa", None]
BIG = 10 ** 30


def _rows(n):
    state = 11
    rows = []
    for i in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        r = state >> 33
        # Partitions of many sizes (g = 40 + ... holds one row each), and a null partition.
        g = None if r % 29 == 0 else (int(r % 7) if i % 50 else 40 + i)
        rows.append((
            i, g,
            None if r % 11 == 0 else int(r % 9) - 4,
            FLOATS[(r // 7) % len(FLOATS)],
            None if r % 19 == 0 else float(int(r % 13) - 6) / 4,
            None if r % 13 == 0 else Decimal(int(r % 100000) - 50000) / 100,
            None if r % 5 == 0 else Decimal(BIG * (1 if r % 3 else -1) + int(r % 1000)),
            None if r % 17 == 0 else (2 ** 40 if r % 4 == 0 else int(r % 1000) - 500),
            STRINGS[(r // 3) % len(STRINGS)],
            None if r % 23 == 0 else date(2000, 1, 1) + timedelta(days=int(r % 40)),
        ))
    return rows


@pytest.fixture(scope="module")
def window_table(spark, data_dir):
    path = os.path.join(data_dir, "window_t")
    spark.createDataFrame(_rows(1500), SCHEMA).repartition(3).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("wt")
    return path


def exact(spark, sql, conf=None):
    """`sql`'s rows (each with the unique id first) with Cinder equal Spark's, floats bit for
    bit; the window ran natively. Returns the reasons recorded with Cinder."""
    expected, got, plan = run_both(spark, sql, conf)
    expected = sorted(expected, key=lambda r: r[0])
    got = sorted(got, key=lambda r: r[0])
    assert len(got) == len(expected), f"{sql}: {len(got)} rows, Spark gives {len(expected)}"
    for g, e in zip(got, expected):
        assert len(g) == len(e) and all(equal_values(a, b) for a, b in zip(g, e)), \
            f"{sql}: row {g}, Spark's is {e}"
    natives = native_subtrees(spark)
    assert any("Window <-" in n for n in natives), f"{sql}: {natives}\n{fallback_reasons(spark)}\n{plan}"
    return fallback_reasons(spark)


RANKING = [
    "row_number() OVER (PARTITION BY g ORDER BY k, id)",
    "row_number() OVER (ORDER BY id DESC)",
    "rank() OVER (PARTITION BY g ORDER BY k)",
    "rank() OVER (PARTITION BY g ORDER BY k DESC NULLS LAST, s)",
    "dense_rank() OVER (PARTITION BY g ORDER BY k)",
    "dense_rank() OVER (PARTITION BY s ORDER BY d DESC)",
    "percent_rank() OVER (PARTITION BY g ORDER BY k)",
    "cume_dist() OVER (PARTITION BY g ORDER BY k NULLS LAST)",
    # Floats as Spark groups and orders them: -0.0 = 0.0, NaN = NaN and largest.
    "rank() OVER (PARTITION BY x ORDER BY f)",
    "dense_rank() OVER (ORDER BY x DESC)",
    "cume_dist() OVER (PARTITION BY f ORDER BY x)",
    "rank() OVER (PARTITION BY g % 2, s ORDER BY p, d)",
    "ntile(4) OVER (PARTITION BY g ORDER BY k, id)",
    "ntile(7) OVER (PARTITION BY s ORDER BY id DESC)",
    "ntile(2000) OVER (ORDER BY id)",
]

OFFSETS = [
    "lag(p) OVER (PARTITION BY g ORDER BY k, id)",
    "lead(s, 2, 'none') OVER (PARTITION BY g ORDER BY id)",
    "lag(x, 3, -1.5) OVER (PARTITION BY g ORDER BY id DESC)",
    "lag(k, -2) OVER (PARTITION BY g ORDER BY id)",
    "lead(d, 0) OVER (PARTITION BY g ORDER BY id)",
    "lead(w, 1, 7) OVER (ORDER BY id)",
    "lag(f, 1, NULL) OVER (PARTITION BY s ORDER BY id)",
    "lag(s) IGNORE NULLS OVER (PARTITION BY g ORDER BY id)",
    "lead(k, 2, 99) IGNORE NULLS OVER (PARTITION BY g ORDER BY id)",
    "lead(s, 3) IGNORE NULLS OVER (PARTITION BY g ORDER BY id DESC)",
    "lead(k) IGNORE NULLS OVER (ORDER BY id)",
    "lag(x, -1) IGNORE NULLS OVER (PARTITION BY g ORDER BY id)",
    "lag(k, -2, -7) IGNORE NULLS OVER (PARTITION BY g ORDER BY id)",
    "lag(k, 0) IGNORE NULLS OVER (PARTITION BY g ORDER BY id)",
    "lead(p, 0, 1.5) OVER (PARTITION BY g ORDER BY id)",
]

FRAMES = [
    # Running frames: RANGE (the row's peers included) and ROWS.
    "sum(k) OVER (PARTITION BY g ORDER BY k)",
    "sum(l) OVER (PARTITION BY g ORDER BY id)",
    "count(*) OVER (PARTITION BY g ORDER BY k)",
    "count(x) OVER (PARTITION BY g ORDER BY k, id ROWS BETWEEN UNBOUNDED PRECEDING AND 3 PRECEDING)",
    "avg(k) OVER (PARTITION BY g ORDER BY id)",
    "avg(p) OVER (PARTITION BY g ORDER BY k)",
    "sum(p) OVER (PARTITION BY g ORDER BY id ROWS UNBOUNDED PRECEDING)",
    "sum(x) OVER (PARTITION BY g ORDER BY id)",
    "avg(x) OVER (PARTITION BY g ORDER BY k, id)",
    "sum(f) OVER (ORDER BY id)",
    # The whole partition.
    "sum(k) OVER (PARTITION BY g)",
    "min(d) OVER (PARTITION BY g)",
    "max(x) OVER (PARTITION BY g)",
    "avg(x) OVER (PARTITION BY s)",
    "count(s, d) OVER (PARTITION BY g)",
    "sum(w) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
    # Sliding frames, empty ones among them.
    "sum(l) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING)",
    "sum(k) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING)",
    "count(*) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING)",
    "sum(p) OVER (PARTITION BY g ORDER BY k, id ROWS BETWEEN CURRENT ROW AND 5 FOLLOWING)",
    "avg(p) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)",
    "min(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)",
    "max(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING)",
    "max(f) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING)",
    "max(s) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 4 FOLLOWING)",
    "count(x) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)",
    "sum(k) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN CURRENT ROW AND CURRENT ROW)",
    "min(p) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)",
    # Sums of doubles over sliding frames: added again from the frame's first row, as Spark does.
    "sum(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
    "avg(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING)",
    "sum(x) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)",
    # first, last and nth_value over their frames.
    "first(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING)",
    "first(s, true) OVER (PARTITION BY g ORDER BY id)",
    "last(s) IGNORE NULLS OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
    "last(p) OVER (PARTITION BY g ORDER BY k, id)",
    "first_value(d) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)",
    "nth_value(s, 2) OVER (PARTITION BY g ORDER BY id)",
    "nth_value(k, 3) IGNORE NULLS OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING "
    "AND UNBOUNDED FOLLOWING)",
]


@pytest.mark.parametrize("window", RANKING + OFFSETS + FRAMES)
def test_window_functions_match_spark(spark, window_table, window):
    exact(spark, f"SELECT id, {window} AS v FROM wt")


@pytest.mark.parametrize("function", [
    "row_number() OVER (PARTITION BY g ORDER BY k, id)",
    "rank() OVER (PARTITION BY g ORDER BY k DESC)",
    "dense_rank() OVER (PARTITION BY s ORDER BY x)",
    "rank() OVER (ORDER BY k NULLS LAST)",
])
def test_rank_filters_are_native_group_limits(spark, window_table, function):
    # Spark pushes the filter below the window: WindowGroupLimitExec before the shuffle (each
    # task's rows) and after it.
    exact(spark, f"SELECT id, s, r FROM (SELECT id, s, {function} AS r FROM wt) WHERE r <= 3")
    limits = [n for n in native_subtrees(spark) if "WindowGroupLimit" in n]
    assert any("WindowGroupLimit(Final)" in n for n in limits), limits
    assert any("WindowGroupLimit(Partial)" in n for n in limits), limits


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_several_functions_and_windows_in_one_query(spark, window_table, ansi):
    # One WindowExec per window specification, each native over the one below.
    exact(spark, "SELECT id, rank() OVER w1 AS r, sum(k) OVER w1 AS sk, lag(s) OVER w2 AS prev, "
          "avg(p) OVER w2 AS ap, max(x) OVER (PARTITION BY s) AS mx, row_number() OVER w2 AS rn FROM wt "
          "WHERE k IS NOT NULL OR x > 0 "
          "WINDOW w1 AS (PARTITION BY g ORDER BY k), w2 AS (PARTITION BY g % 3 ORDER BY id)",
          {"spark.sql.ansi.enabled": ansi})


def test_windows_over_aggregates_joins_and_empty_input(spark, window_table):
    exact(spark, "SELECT g, sum(k) AS s, rank() OVER (ORDER BY sum(k) DESC) AS r, "
          "lag(count(*)) OVER (ORDER BY g) AS c FROM wt WHERE g IS NOT NULL GROUP BY g")
    exact(spark, "SELECT a.id, b.id AS other, sum(b.k) OVER (PARTITION BY a.g ORDER BY a.id) AS s "
          "FROM wt a JOIN wt b ON a.id = b.id + 1")
    # (Without adaptive execution, which drops what reads no rows.)
    exact(spark, "SELECT id, rank() OVER (PARTITION BY g ORDER BY k) AS r, sum(x) OVER (PARTITION BY g) AS s "
          "FROM wt WHERE id < 0", {"spark.sql.adaptive.enabled": "false"})


def test_window_sums_overflow_as_in_spark(spark, window_table):
    # Legacy mode: bigint sums wrap; a decimal sum that leaves decimal(38, 0) is null.
    # (l * 4000000 and w * 10000000 fit their types; their sums do not.)
    exact(spark, "SELECT id, sum(l * 4000000) OVER (PARTITION BY g ORDER BY id) AS v, "
          "sum(w * 10000000) OVER (PARTITION BY g) AS dv, "
          "sum(w * 10000000) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 40 PRECEDING AND CURRENT ROW) AS sv "
          "FROM wt", {"spark.sql.ansi.enabled": "false"})
    fails_alike(spark, "SELECT id, sum(l * 4000000) OVER (PARTITION BY g) AS v FROM wt", "ARITHMETIC_OVERFLOW",
                {"spark.sql.ansi.enabled": "true"})
    fails_alike(spark, "SELECT id, sum(w * 10000000) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 40 PRECEDING "
                "AND CURRENT ROW) AS v FROM wt", "NUMERIC_VALUE_OUT_OF_RANGE", {"spark.sql.ansi.enabled": "true"})


def test_sums_of_doubles_are_spark_s_bit_for_bit(spark, data_dir):
    # Values whose sums round differently in another order of additions.
    path = os.path.join(data_dir, "window_doubles")
    rows = [(i, i % 3, 0.1 * (i % 17) + 1e-3 * i - (1e15 if i % 97 == 0 else 0.0)) for i in range(3000)]
    spark.createDataFrame(rows, "id int, g int, x double").coalesce(1).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("wd")
    exact(spark, "SELECT id, sum(x) OVER (PARTITION BY g ORDER BY id) AS s, avg(x) OVER (PARTITION BY g) AS a, "
          "sum(x) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 10 FOLLOWING) AS t, "
          "sum(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 40 PRECEDING AND 3 FOLLOWING) AS u, "
          "avg(x) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS v FROM wd")


@pytest.mark.parametrize("window", [
    "stddev(x) OVER (PARTITION BY g ORDER BY id)",
    "stddev_pop(f) OVER (PARTITION BY g ORDER BY k, id)",
    "var_pop(k) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING)",
    "variance(p) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 4 FOLLOWING)",
    # (Without an order every row is tied: the order of additions would be the sorts'.)
    "skewness(f) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
    "kurtosis(p) OVER (PARTITION BY g ORDER BY k, id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)",
    "corr(k, f) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)",
    "covar_samp(x, k) OVER (PARTITION BY s ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)",
    "covar_pop(p, k) OVER (PARTITION BY g ORDER BY k, id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
    "regr_sxx(x, k) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)",
    "regr_r2(k, f) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)",
    "regr_slope(x, k) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)",
    "regr_intercept(f, k) OVER (PARTITION BY g ORDER BY id)",
])
@pytest.mark.parametrize("ansi", ["false", "true"])
def test_moments_over_windows_are_spark_s_bit_for_bit(spark, window_table, window, ansi):
    # Spark's buffer updated row by row (again from the frame's first row where it slides),
    # then Spark's result expression. (Where a frame's result divides by zero in ANSI mode, as
    # corr of a constant does, both fail.)
    sql = f"SELECT id, {window} AS v FROM wt"
    conf = {"spark.sql.ansi.enabled": ansi}
    try:
        exact(spark, sql, conf)
    except Exception as e:  # noqa: BLE001
        if ansi == "false" or "DIVIDE_BY_ZERO" not in str(e):
            raise
        fails_alike(spark, sql, "DIVIDE_BY_ZERO", conf)


RANGE_OFFSETS = [
    "sum(l) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
    "count(*) OVER (PARTITION BY g ORDER BY k DESC RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING)",
    "avg(p) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 3 FOLLOWING AND 5 FOLLOWING)",
    "min(s) OVER (ORDER BY l RANGE BETWEEN 100 PRECEDING AND 50 PRECEDING)",
    "max(x) OVER (PARTITION BY g ORDER BY k NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING)",
    "sum(x) OVER (PARTITION BY g ORDER BY id RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING)",
    # (first, last and nth_value by a unique key: which row of a tie comes first is the sorts'.)
    "first_value(s) OVER (PARTITION BY g ORDER BY id DESC RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)",
    "last(f, true) OVER (PARTITION BY g ORDER BY id RANGE BETWEEN 200 PRECEDING AND 2 PRECEDING)",
    "max(f) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 2 PRECEDING AND 2 PRECEDING)",
    "stddev(x) OVER (PARTITION BY g ORDER BY id DESC RANGE BETWEEN 5 PRECEDING AND CURRENT ROW)",
    "count(l) OVER (PARTITION BY g ORDER BY CAST(k AS TINYINT) RANGE BETWEEN CAST(1 AS TINYINT) PRECEDING "
    "AND CAST(1 AS TINYINT) FOLLOWING)",
    "sum(k) OVER (PARTITION BY g ORDER BY CAST(l % 1000 AS SMALLINT) RANGE BETWEEN CAST(300 AS SMALLINT) "
    "PRECEDING AND CURRENT ROW)",
    "count(x) OVER (ORDER BY l DESC NULLS FIRST RANGE BETWEEN 1 PRECEDING AND 1099511627776 FOLLOWING)",
    "nth_value(x, 2) OVER (PARTITION BY g ORDER BY CAST(id AS BIGINT) DESC RANGE BETWEEN 3 PRECEDING AND 3 "
    "FOLLOWING)",
]


@pytest.mark.parametrize("window", RANGE_OFFSETS)
def test_range_frames_with_value_offsets(spark, window_table, window):
    # An integer key's rows within the offsets of the current row's (nulls: the null rows),
    # in ANSI mode, where Spark's bounds are checked additions.
    exact(spark, f"SELECT id, {window} AS v FROM wt", {"spark.sql.ansi.enabled": "true"})


# Timestamps 20 minutes and 34.6 seconds apart, from 2021-03-13 (a day before the US's change to
# daylight-saving time), some null.
TIMESTAMPS = ("SELECT id, g, k, x, IF(k = 3, NULL, timestamp_micros(1615600000000000 + CAST(id AS BIGINT) * 1234567891)) AS ts "
              "FROM wt")


@pytest.mark.parametrize("window", [
    "count(*) OVER (PARTITION BY g ORDER BY ts RANGE BETWEEN INTERVAL 2 HOURS PRECEDING AND CURRENT ROW)",
    # (Spark wants both bounds' intervals of one type.)
    "sum(k) OVER (ORDER BY ts DESC RANGE BETWEEN INTERVAL '30' MINUTE PRECEDING AND INTERVAL '90' MINUTE FOLLOWING)",
    "min(x) OVER (PARTITION BY g ORDER BY ts NULLS LAST RANGE BETWEEN INTERVAL '0 23:59:59.999999' DAY TO SECOND "
    "PRECEDING AND INTERVAL '0 00:00:00.000001' DAY TO SECOND PRECEDING)",
    "max(x) OVER (PARTITION BY g ORDER BY CAST(ts AS TIMESTAMP_NTZ) RANGE BETWEEN INTERVAL 3 DAYS PRECEDING AND "
    "INTERVAL 1 DAY PRECEDING)",
])
@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles"])
def test_range_frames_over_timestamps(spark, window_table, window, zone):
    # Day-time intervals: Spark adds them on the local date-time, so under a day (and whole
    # days where days are 24 hours: UTC, and timestamp_ntz) they are exact microseconds.
    exact(spark, f"SELECT id, {window} AS v FROM ({TIMESTAMPS})", {"spark.sql.session.timeZone": zone})


def test_range_frames_of_days_over_timestamps_in_a_zone_with_daylight_saving(spark, window_table):
    window = "count(*) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW)"
    sql = f"SELECT id, {window} AS v FROM ({TIMESTAMPS})"
    exact(spark, sql, {"spark.sql.session.timeZone": "UTC"})
    compare(spark, sql, native=None, conf={"spark.sql.session.timeZone": "America/Los_Angeles"})
    assert any("whose days are not all 24 hours" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_range_frame_bounds_that_overflow(spark, window_table):
    # Spark computes each row's bound key + offset: in ANSI mode past the type's limit an
    # error, checked natively first; in legacy mode it wraps, and the window stays on Spark.
    sql = ("SELECT id, count(*) OVER (ORDER BY v RANGE BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM "
           "(SELECT id, CASE WHEN id = 7 THEN 2147483646 ELSE k END AS v FROM wt)")
    fails_alike(spark, sql, "ARITHMETIC_OVERFLOW", conf={"spark.sql.ansi.enabled": "true"})
    compare(spark, sql, native=None, conf={"spark.sql.ansi.enabled": "false"})
    assert any("not native in legacy mode" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    # A timestamp's bound past a long's microseconds: java.lang.ArithmeticException, in both modes.
    fails_alike(spark, "SELECT id, count(*) OVER (ORDER BY ts RANGE BETWEEN CURRENT ROW AND INTERVAL 1 HOUR "
                       "FOLLOWING) FROM (SELECT id, IF(id = 3, timestamp_micros(9223372036854775807), "
                       "timestamp_micros(id)) AS ts FROM wt)", "(?i)overflow")
    # Just inside the limit (and descending: the bound is key - offset).
    exact(spark, "SELECT id, count(*) OVER (ORDER BY v DESC RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING) FROM "
                 "(SELECT id, CASE WHEN id = 7 THEN -2147483647 WHEN id = 8 THEN 2147483645 ELSE k END AS v "
                 "FROM wt)", {"spark.sql.ansi.enabled": "true"})


@pytest.mark.parametrize("window, reason", [
    ("sum(k) OVER (PARTITION BY g ORDER BY x RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
     "RANGE frames with value offsets of double over a double order key are not native yet"),
    ("sum(k) OVER (PARTITION BY g ORDER BY d RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
     "RANGE frames with value offsets of int over a date order key are not native yet"),
    ("percentile(k, 0.5) OVER (PARTITION BY g)", "window aggregate percentile is not native yet"),
    ("collect_list(k) OVER (PARTITION BY g ORDER BY id)", "window aggregate collect_list is not native yet"),
    ("avg(w) OVER (PARTITION BY g)", "avg of a decimal of over 28 digits over a window is not native yet"),
])
def test_unsupported_windows_stay_on_spark_with_a_reason(spark, window_table, window, reason):
    compare(spark, f"SELECT id, {window} AS v FROM wt", native=None)
    reasons = fallback_reasons(spark)
    assert any(name == "Window" and reason in why for name, why in (r.split(": ", 1) for r in reasons)), reasons


def test_double_sums_without_exact_float_sums_are_native(spark, window_table):
    # (Quarters: exact sums in any order of additions.)
    sql = "SELECT id, sum(f) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS v, " \
          "avg(f) OVER (PARTITION BY g) AS a FROM wt"
    with settings(spark, {"spark.cinder.exactFloatSums": "false"}):
        exact(spark, sql)


def test_window_setting_keeps_windows_on_spark(spark, window_table):
    compare(spark, "SELECT id, rank() OVER (PARTITION BY g ORDER BY k) AS v FROM wt", native=None,
            conf={"spark.cinder.window.enabled": "false"})
    assert any("spark.cinder.window.enabled is false" in r for r in fallback_reasons(spark))
