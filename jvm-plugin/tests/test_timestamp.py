"""Timestamps natively: Spark's TimestampType (an instant) and TimestampNTZType (a local
date-time), both microseconds, read from Parquet in each of Spark's encodings (INT96, its
default; TIMESTAMP_MICROS; TIMESTAMP_MILLIS), compared, grouped, joined, sorted and shuffled.
Their dates, hour/minute/second, date_trunc(), date_format(), casts to strings and casts from
strings, dates and the other kind of timestamp in the session's time zone run natively, as do
from_unixtime(), date_format() and parses with a pattern (test_timestamp_parse.py); what else
depends on it (date_format() of zones, ...) stays on Spark and says so."""

import os
from datetime import datetime, timedelta

import pytest
from pyspark.sql.types import (IntegerType, LongType, StringType, StructField, StructType, TimestampNTZType,
                               TimestampType)

from conftest import compare, fails_alike, fallback_reasons, native_subtrees, run_both

SCHEMA = StructType([
    StructField("id", LongType(), False),
    StructField("k", IntegerType(), True),
    StructField("ts", TimestampType(), True),
    StructField("ntz", TimestampNTZType(), True),
])

# Around the epoch, past the end of nanosecond timestamps (2262) and at the end of Spark's
# years (a day early: its date east of UTC must still be a year Python can show), with
# microseconds; none before 1900, where Spark's INT96 rebasing would decide.
SPECIALS = [
    datetime(1970, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999999), datetime(1900, 1, 1, 0, 0, 0, 1),
    datetime(2262, 4, 12, 23, 47, 16, 854776), datetime(2262, 4, 13), datetime(9999, 12, 30, 23, 59, 59, 999999),
    datetime(2024, 2, 29, 12, 30, 0, 123456),
]


def _row(n):
    base = datetime(2000, 1, 1) + timedelta(hours=(n * 7919) % 50000, microseconds=(n * 104729) % 1000000)
    ts = None if n % 11 == 0 else (SPECIALS[n % len(SPECIALS)] if n % 3 == 0 else base)
    ntz = None if n % 13 == 0 else (SPECIALS[(n + 1) % len(SPECIALS)] if n % 4 == 0 else base)
    return (n, None if n % 17 == 0 else n % 9, ts, ntz)


@pytest.fixture(scope="module", params=["INT96", "TIMESTAMP_MICROS", "TIMESTAMP_MILLIS"])
def timestamps(spark, data_dir, request):
    encoding = request.param
    path = os.path.join(data_dir, f"ts_{encoding}")
    spark.conf.set("spark.sql.parquet.outputTimestampType", encoding)
    try:
        spark.createDataFrame([_row(n) for n in range(1200)], SCHEMA).repartition(2) \
            .write.mode("overwrite").parquet(path)
    finally:
        spark.conf.unset("spark.sql.parquet.outputTimestampType")
    spark.read.parquet(path).createOrReplaceTempView("tst")
    return encoding


def _scan_is_native(spark):
    return any("ParquetScan" in n for n in native_subtrees(spark))


def test_scan_filter_and_project(spark, timestamps):
    compare(spark, "SELECT * FROM tst")
    assert _scan_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, ts, ntz FROM tst WHERE ts >= TIMESTAMP'2000-01-03 04:05:06.789' "
                   "AND ntz < TIMESTAMP_NTZ'2003-01-01 00:00:00' OR ts IS NULL")
    assert any(n.startswith("Project <- Filter <- ParquetScan") or n.startswith("Filter <- ParquetScan")
               for n in native_subtrees(spark)), (native_subtrees(spark), fallback_reasons(spark))
    compare(spark, "SELECT id, CASE WHEN k > 4 THEN ts ELSE TIMESTAMP'1999-12-31 23:59:59' END FROM tst")
    assert _scan_is_native(spark)


def test_literals_follow_the_session_time_zone(spark, timestamps):
    # Spark turns the literal into an instant in the session's time zone; the native side
    # compares instants.
    for zone in ("America/Los_Angeles", "Asia/Kolkata"):
        compare(spark, "SELECT id FROM tst WHERE ts < TIMESTAMP'2000-01-02 03:00:00'",
                conf={"spark.sql.session.timeZone": zone})
        assert _scan_is_native(spark)


def test_group_by_min_max_count(spark, timestamps):
    compare(spark, "SELECT k, min(ts), max(ts), count(ts), min(ntz), max(ntz) FROM tst GROUP BY k")
    assert any("HashAggregate(final)" in n for n in native_subtrees(spark)), fallback_reasons(spark)
    compare(spark, "SELECT ts, count(*), max(id) FROM tst GROUP BY ts")
    compare(spark, "SELECT min(ts), max(ntz), count(DISTINCT ts) FROM tst")


@pytest.mark.parametrize("hint", ["BROADCAST(b)", "MERGE(b)", "SHUFFLE_HASH(b)"])
def test_joins_on_timestamps(spark, timestamps, hint):
    compare(spark, f"SELECT /*+ {hint} */ a.id, b.id FROM tst a JOIN tst b ON a.ts = b.ts AND a.k = b.k")
    assert any("Join(" in n for n in native_subtrees(spark)), fallback_reasons(spark)


def test_sort_and_shuffle(spark, timestamps):
    plan = compare(spark, "SELECT id, ts, spark_partition_id() FROM (SELECT /*+ REPARTITION(5, ts, ntz) */ * "
                          "FROM tst)")
    assert "CinderShuffleExchange" in plan, plan
    # In order (ids break ties): the rows themselves, not just the same set.
    expected, got, _ = run_both(spark, "SELECT id, ts FROM tst ORDER BY ts DESC NULLS LAST, id")
    assert got == expected
    assert any("Sort" in n for n in native_subtrees(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "+08:00", "Australia/Lord_Howe"])
def test_dates_of_timestamps_in_the_session_time_zone(spark, timestamps, zone):
    # CAST(ts AS DATE), to_date(ts), year(ts) (Spark: the year of the cast), DST changes
    # included (Lord Howe moves by half an hour).
    conf = {"spark.sql.session.timeZone": zone}
    compare(spark, "SELECT id, CAST(ts AS DATE), to_date(ntz), year(ts), month(ts), dayofmonth(ntz), "
                   "hour(ts), minute(ts), second(ts), hour(ntz), minute(ntz), second(ntz), "
                   "CAST(ts AS STRING), CAST(ntz AS STRING) FROM tst", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT to_date(ts) AS day, count(*), min(ts) FROM tst GROUP BY to_date(ts)", conf=conf)
    compare(spark, "SELECT id FROM tst WHERE CAST(ts AS DATE) = DATE'2000-01-02'", conf=conf)
    compare(spark, "SELECT hour(ts) AS h, count(*) FROM tst WHERE minute(ts) < 30 GROUP BY hour(ts)", conf=conf)
    compare(spark, "SELECT date_trunc('MONTH', ts) AS m, count(*), min(ts) FROM tst GROUP BY date_trunc('MONTH', ts)",
            conf=conf)
    compare(spark, "SELECT id, CAST(date_trunc('HOUR', ts) AS STRING), CAST(date_trunc('WEEK', ts) AS STRING), "
                   "CAST(date_trunc('MINUTE', ts) AS STRING) FROM tst", conf=conf)
    assert _scan_is_native(spark), fallback_reasons(spark)


def test_time_zone_dependent_operations_stay_on_spark(spark, timestamps):
    for expression, reason in [("date_format(ts, 'yyyy QQ')", "QQ is not formatted natively"),
                               ("date_format(ts, 'yyyy-MM-dd HH:mm z')", "z is not formatted natively"),
                               ("date_trunc('DECADE', ts)", "truncation to 'DECADE'")]:
        compare(spark, f"SELECT id, {expression} FROM tst", native=None)
        assert any(reason in r for r in fallback_reasons(spark)), (expression, fallback_reasons(spark))


def test_timestamps_beyond_four_digit_years_as_strings(spark, data_dir):
    # Years past 9999 print with a '+', years before 1 with a '-' (java.time's ISO_LOCAL_DATE);
    # made by Spark itself (Python's datetime stops at 1 to 9999), proleptic Gregorian.
    path = os.path.join(data_dir, "ts_wide_years")
    conf = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
            "spark.sql.session.timeZone": "America/Los_Angeles"}
    seconds = [0, -1, 327_403_022_645, -63_745_056_000, -62_167_219_200, 253_402_300_799, 253_402_300_800,
               4_102_444_800, 7_258_118_400, 9_200_000_000_000, -9_200_000_000_000]
    values = ", ".join(f"({i}, {s})" for i, s in enumerate(seconds))
    previous = {k: spark.conf.get(k, None) for k in conf}
    try:
        for k, v in conf.items():
            spark.conf.set(k, v)
        spark.sql(f"SELECT id, timestamp_seconds(s) + make_interval(0, 0, 0, 0, 0, 0, id / 8) AS ts "
                  f"FROM VALUES {values} AS v(id, s)").write.mode("overwrite").parquet(path)
        spark.read.parquet(path).createOrReplaceTempView("wide_years")
        # (Past year 262,143 too, chrono's range, to a long's: about ±290,000 years.)
        compare(spark, "SELECT id, CAST(ts AS STRING), hour(ts), minute(ts), second(ts), year(ts), "
                       "CAST(CAST(ts AS TIMESTAMP_NTZ) AS STRING), CAST(CAST(CAST(ts AS STRING) AS TIMESTAMP) AS STRING) "
                       "FROM wide_years")
        assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    finally:
        for k, v in previous.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


# Spark's `stringToTimestamp`: a year of 4 to 6 digits, month, day, then `[ |T]h[h]:m[m][:s[s]
# [.fraction]]` and a zone (Z, offsets, UTC+/GMT+ prefixes, short ids, regions), or a time alone
# (today's date); each gap and overlap of daylight saving; years past 9999 and a long's range.
TIMESTAMP_STRINGS = [
    "2020-01-01", "2020", "2020-7", " 2020-7-4 \n", "2020-07-04 1", "2020-07-04T12:3", "2020-07-04 12:34:56.7",
    "2020-07-04 12:34:56.123456789", "2020-07-04 12:34:56.", "2020-07-04 12:34:56Z", "2020-07-04 12:34:56+08:00",
    "2020-07-04 12:34:56.5 America/Los_Angeles", "2020-07-04 12:34:56 UTC+1", "2020-07-04 12:34:56 GMT-5:30",
    "2020-07-04 12:34:56 PST", "2020-07-04 12:34:56 EST", "2020-07-04 12:34:56-0130", "2020-07-04 12:34:56+01:30:15",
    "2020-07-04 12:34:56 +8:00", "2020-07-04 12:34:56 UT", "2020-07-04 12:34:56 GMT0", "2020-07-04 12:34:56 Etc/GMT+8",
    "2021-03-14 02:30:00", "2021-11-07 01:30:00", "2021-03-28 02:30:00 Europe/Paris", "2021-10-31 02:30 Europe/Paris",
    "2024-10-06 02:15:00 Australia/Lord_Howe", "+12345-01-01", "-0044-03-15 10:00", "0000-01-01 00:00:00",
    "294247-01-09 00:00:00", "294248-01-01", "-290308-12-22", "2100-07-01 12:00:00", "2300-07-01 12:00:00",
    "2300-01-01 12:00:00", "1800-01-01 00:00:00", "1883-11-18 12:00:00 America/Los_Angeles", "12:34:56", "T01:02:03",
    "1:2", "", "  ", " T01:02:03", "20-01-01", "2020-13-01", "2020-02-30", "2020-01-01 24:00:00", "2020-01-01 12:60",
    "2020-01-01T", "2020-01-01 12:00Z", "2020-01-01 12:00:00 Mars/Base", "2020-01-01 12:00:00+19:00", "2020/01/01",
    "1234567-01-01", "abc", "2020-01-01 12:00:00 america/los_angeles", "2020-01-01 12:00:00 +", "-12:00:00",
    "2020-01-01 12:00:00.123+05", "2020-01-01 12:00:00.1234567 Z", "2020-01-01 01:02:03 x", None,
]


@pytest.fixture(scope="module")
def timestamp_strings(spark, data_dir):
    path = os.path.join(data_dir, "timestamp_strings")
    schema = StructType([StructField("id", LongType(), False), StructField("s", StringType(), True)])
    spark.createDataFrame(list(enumerate(TIMESTAMP_STRINGS)), schema).repartition(2) \
        .write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("tss")
    return path


# (Instants print as strings: Spark's years go past Python's 9999.)
_STRING_CASTS = ("SELECT id, s, CAST(CAST(s AS TIMESTAMP) AS STRING), CAST(CAST(s AS TIMESTAMP_NTZ) AS STRING), "
                 "CAST(try_cast(s AS TIMESTAMP) AS STRING), CAST(try_cast(s AS TIMESTAMP_NTZ) AS STRING) FROM tss")


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "GMT+8", "-03:30", "Australia/Lord_Howe"])
def test_strings_to_timestamps(spark, timestamp_strings, zone):
    compare(spark, _STRING_CASTS, conf={"spark.sql.session.timeZone": zone, "spark.sql.ansi.enabled": "false"})
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id FROM tss WHERE CAST(s AS TIMESTAMP) > TIMESTAMP'2020-07-04 12:00:00'",
            conf={"spark.sql.session.timeZone": zone, "spark.sql.ansi.enabled": "false"})
    assert _scan_is_native(spark), fallback_reasons(spark)


def test_strings_to_timestamps_in_ansi_mode(spark, timestamp_strings):
    conf = {"spark.sql.session.timeZone": "America/Los_Angeles", "spark.sql.ansi.enabled": "true"}
    compare(spark, "SELECT id, CAST(CAST(s AS TIMESTAMP) AS STRING), CAST(CAST(s AS TIMESTAMP_NTZ) AS STRING) "
                   "FROM tss WHERE s LIKE '2020-07-04%' OR s IN ('2021-03-14 02:30:00', '2021-11-07 01:30:00')", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    for bad, to in [("2020-02-30", "TIMESTAMP"), ("abc", "TIMESTAMP_NTZ"), ("12:34:56", "TIMESTAMP_NTZ"),
                    ("2020-01-01 12:00:00 Mars/Base", "TIMESTAMP")]:
        fails_alike(spark, f"SELECT CAST(s AS {to}) FROM tss WHERE s = '{bad}'", "CAST_INVALID_INPUT", conf=conf)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "+08:00", "Australia/Lord_Howe"])
def test_dates_and_timestamps_to_timestamps(spark, timestamps, zone):
    # A date's midnight (which Lord Howe's and Los Angeles's clocks skip on no day here, but
    # which instants east of UTC move across years), and the local date-time of an instant.
    conf = {"spark.sql.session.timeZone": zone}
    compare(spark, "SELECT id, CAST(CAST(CAST(ts AS DATE) AS TIMESTAMP) AS STRING), CAST(CAST(ts AS TIMESTAMP_NTZ) AS STRING), "
                   "CAST(CAST(ntz AS TIMESTAMP) AS STRING), CAST(to_date(ntz) AS TIMESTAMP_NTZ), "
                   "CAST(CAST(CAST(ntz AS STRING) AS TIMESTAMP) AS STRING) FROM tst", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT count(*) FROM tst WHERE CAST(ntz AS TIMESTAMP) < ts", conf=conf)


# Numbers as timestamps (seconds): saturating longs, doubles with NaN, infinities and past a
# long's micros, decimals whose micros wrap past 64 bits (BigDecimal.longValue), booleans.
NUMBERS = [
    (0, 0, 0.0, "0.0000000", 0.0, True), (1, 9223372036854775807, 1.5, "-1.0000019", 1.5, False),
    (2, -9223372036854775807, float("nan"), "12345678901234567890123.1234567", float("nan"), True),
    (3, 1577836800, float("inf"), "-12345678901234567890123.1234567", float("inf"), None),
    (4, -1, -1e30, "1577836800.5000001", -2.5, True), (5, 4102444800, 1e30, "0.0000001", 1e10, False),
    (6, None, None, None, None, None), (7, 253402300799, -0.0000015, "-0.0000005", 3.0e-6, True),
    (8, -62135596800, 9.2e12, "9223372036854.7758071", -1e20, False),
]


@pytest.fixture(scope="module")
def ts_numbers(spark, data_dir):
    from decimal import Decimal
    from pyspark.sql.types import BooleanType, DecimalType, DoubleType, FloatType
    path = os.path.join(data_dir, "ts_numbers")
    schema = StructType([StructField("id", LongType(), False), StructField("l", LongType()),
                         StructField("x", DoubleType()), StructField("p", DecimalType(38, 7)),
                         StructField("f", FloatType()), StructField("b", BooleanType())])
    rows = [r[:3] + (None if r[3] is None else Decimal(r[3]),) + r[4:] for r in NUMBERS]
    spark.createDataFrame(rows, schema).repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("tsnum")
    return path


def test_timestamps_as_numbers(spark, timestamps):
    # Seconds (floor), null where they do not fit the type (legacy), as doubles and floats,
    # booleans; a date is null as a number.
    legacy = {"spark.sql.ansi.enabled": "false", "spark.sql.session.timeZone": "America/Los_Angeles"}
    compare(spark, "SELECT id, CAST(ts AS BIGINT), CAST(ts AS INT), CAST(ts AS SMALLINT), CAST(ts AS TINYINT), "
                   "CAST(ts AS DOUBLE), CAST(ts AS FLOAT), CAST(ts AS BOOLEAN), CAST(CAST(ts AS DATE) AS INT), "
                   "CAST(to_date(ntz) AS BOOLEAN), try_cast(ts AS INT) FROM tst", conf=legacy)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    # As decimals: through the double's Java 19 digits (native on Java 17 only when accepted).
    compare(spark, "SELECT id, CAST(ts AS DECIMAL(20, 6)), CAST(ts AS DECIMAL(10, 0)) FROM tst",
            conf={**legacy, "spark.cinder.javaFloatDigits": "java19"})
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    ansi = {"spark.sql.ansi.enabled": "true", "spark.sql.session.timeZone": "America/Los_Angeles"}
    compare(spark, "SELECT id, CAST(ts AS BIGINT), CAST(ts AS INT), CAST(ts AS DOUBLE), CAST(ts AS FLOAT), "
                   "try_cast(ts AS SMALLINT) FROM tst WHERE ts BETWEEN TIMESTAMP'1910-01-01' AND TIMESTAMP'2030-01-01'",
            conf=ansi)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT CAST(ts AS INT) FROM tst WHERE ts > TIMESTAMP'2100-01-01'", "CAST_OVERFLOW", conf=ansi)


def test_numbers_as_timestamps(spark, ts_numbers):
    legacy = {"spark.sql.ansi.enabled": "false"}
    columns = ", ".join(f"CAST(CAST({c} AS TIMESTAMP) AS STRING)" for c in ("l", "x", "p", "f", "b", "CAST(l AS INT)"))
    # (A non-null input whose seconds do not fit an int: the result is still nullable.)
    compare(spark, f"SELECT id, {columns}, CAST(CAST(l AS TIMESTAMP) AS BIGINT), "
                   "CAST(CAST(id * 5000000000 AS TIMESTAMP) AS INT) FROM tsnum", conf=legacy)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    ansi = {"spark.sql.ansi.enabled": "true"}
    columns = ", ".join(f"CAST({c} AS STRING)" for c in ("CAST(l AS TIMESTAMP)", "CAST(p AS TIMESTAMP)", "try_cast(x AS TIMESTAMP)"))
    compare(spark, f"SELECT id, {columns} FROM tsnum", conf=ansi)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    fails_alike(spark, "SELECT CAST(x AS TIMESTAMP) FROM tsnum WHERE id = 2", "CAST_INVALID_INPUT", conf=ansi)
    fails_alike(spark, "SELECT CAST(x AS TIMESTAMP) FROM tsnum WHERE id = 5", "CAST_OVERFLOW", conf=ansi)
    # Dates past a long's micros (about 294,000 years): null for try_cast, else Spark's overflow.
    far = "date_add(DATE'2000-01-01', CAST(id AS INT) * 100000000)"
    compare(spark, f"SELECT id, CAST(try_cast({far} AS TIMESTAMP) AS STRING), "
                   f"CAST(try_cast({far} AS TIMESTAMP_NTZ) AS STRING) FROM tsnum WHERE id < 4")
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    fails_alike(spark, f"SELECT CAST({far} AS TIMESTAMP) FROM tsnum WHERE id = 3", "overflow", conf=legacy)


# Instants around daylight-saving changes (Los Angeles falls back at 09:00 UTC on 2021-11-07 and
# springs forward at 10:00 UTC on 2021-03-14; Lord Howe moves by half an hour), local mean time
# (Los Angeles until 1883-11-18 20:00 UTC, -7:52:58) and years past chrono-tz's tables.
TRUNC_INSTANTS = [
    "2021-11-07T08:30:00Z", "2021-11-07T09:15:30.123456Z", "2021-11-07T09:59:59Z", "2021-11-07T10:30:00Z",
    "2021-03-14T09:59:59Z", "2021-03-14T10:00:00Z", "2021-03-14T10:45:12.5Z", "2024-04-06T15:15:00Z",
    "2024-10-05T15:45:00Z", "1883-11-18T19:59:59Z", "1883-11-18T20:00:01Z", "1700-06-15T12:34:56.789Z",
    "2300-11-04T09:30:00Z", "2000-02-29T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z", "2024-12-30T00:00:00Z",
    # Toronto's clocks went from 1919-03-30 23:30 EST to 00:30 EDT: March 31 (a Monday) began
    # at 00:30. And a long's last instant, whose local time east of UTC is past a long (its
    # first, truncated, is before a long in Spark too).
    "1919-03-31T12:00:00Z", "1919-04-02T17:00:00Z", "+294247-01-10T04:00:54.775807Z",
]


@pytest.fixture(scope="module")
def trunc_instants(spark, data_dir):
    path = os.path.join(data_dir, "trunc_instants")
    values = ", ".join(f"({i}, '{s}')" for i, s in enumerate(TRUNC_INSTANTS)) + f", ({len(TRUNC_INSTANTS)}, NULL)"
    spark.sql(f"SELECT id, CAST(s AS TIMESTAMP) AS ts, CAST(CAST(s AS TIMESTAMP) AS DATE) AS d "
              f"FROM VALUES {values} AS v(id, s)").repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("ti")
    return path


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe", "America/Toronto", "+05:30", "PST",
                                  "GMT+8", "UTC", "Z"])
def test_from_and_to_utc_timestamp(spark, trunc_instants, zone):
    # Instants around daylight saving's gaps and overlaps: to_utc_timestamp of a local time in a
    # gap moves it forward, in an overlap takes the earlier offset. (Within years 1 to 9998: a
    # long's last instants move past a long, which fails on Spark too.)
    z = f"'{zone}'"
    compare(spark, f"SELECT id, CAST(from_utc_timestamp(ts, {z}) AS STRING), CAST(to_utc_timestamp(ts, {z}) AS STRING), "
                   f"unix_micros(to_utc_timestamp(from_utc_timestamp(ts, {z}), {z})) FROM ti "
                   "WHERE year(d) BETWEEN 1 AND 9998", conf={"spark.sql.session.timeZone": "America/New_York"})
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)


def test_day_and_month_names_and_next_day(spark, trunc_instants):
    days = ", ".join(f"next_day(d, '{day}')" for day in ["mo", "TUE", "Wednesday", "th", "FRI", "sat", "SUNDAY"])
    compare(spark, f"SELECT id, dayname(d), monthname(d), {days} FROM ti WHERE year(d) < 9999")
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, next_day(d, 'Funday') FROM ti", native=None, conf={"spark.sql.ansi.enabled": "false"})
    assert any("not a day of the week" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_months_between(spark, trunc_instants, zone):
    # Month ends, days that agree, seconds into the day across daylight-saving changes.
    compare(spark, "SELECT id, months_between(ts, TIMESTAMP'2000-02-29 13:00:00'), "
                   "months_between(TIMESTAMP'2024-03-31 00:00:00', ts, false), months_between(ts, CAST(d AS TIMESTAMP)), "
                   "months_between(d, DATE'2020-01-31'), months_between(ts, CAST(last_day(d) AS TIMESTAMP)) "
                   "FROM ti WHERE year(d) BETWEEN 1 AND 9998", conf={"spark.sql.session.timeZone": zone})
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)


def test_utc_conversion_to_a_zone_spark_refuses(spark, trunc_instants):
    fails_alike(spark, "SELECT from_utc_timestamp(ts, 'Nowhere/Zone') FROM ti", "INVALID_TIMEZONE")
    assert any("'Nowhere/Zone', which Spark refuses" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Tokyo",
                                  "America/Toronto"])
def test_date_trunc_and_trunc(spark, trunc_instants, zone):
    levels = ["MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "DD", "WEEK", "MON", "MONTH", "MM",
              "QUARTER", "YEAR", "YYYY", "YY", "hour", "Week"]
    columns = ", ".join(f"CAST(date_trunc('{level}', ts) AS STRING)" for level in levels)
    dates = ", ".join(f"CAST(trunc(d, '{level}') AS STRING)" for level in ["WEEK", "MON", "QUARTER", "YEAR", "yy"])
    conf = {"spark.sql.session.timeZone": zone}
    compare(spark, f"SELECT id, {columns}, {dates}, date_trunc('HOUR', ts) = ts, CAST(ts AS STRING), hour(ts), "
                   "CAST(CAST(ts AS DATE) AS STRING), "
                   # (The start of the day of a long's last instant is past it west of UTC.)
                   "CASE WHEN year(d) < 9999 THEN CAST(CAST(d AS TIMESTAMP) AS STRING) END FROM ti", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    # Below a week a date's trunc is null in Spark: it stays there.
    compare(spark, "SELECT id, trunc(d, 'DAY') FROM ti", conf=conf, native=None)
    assert any("truncation to 'DAY'" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


DATE_FORMATS = [
    "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSS", "y yy yyy yyyy yyyyy yyyyyy", "M MM MMM MMMM",
    "d dd D DD DDD", "H HH k kk K KK h hh a", "m mm s ss", "S SS SSS SSSS SSSSS SSSSSS SSSSSSS SSSSSSSS SSSSSSSSS",
    "E EE EEE EEEE", "'quoted' '' yyyyMMdd 'it''s'", "dd/MM/yyyy hh:mm a", "EEEE, MMMM d, yyyy", "",
    "yyyy年MM月dd日 HH時", "y-M-d H:m:s", "hh 'o''clock' a", "MMMMdd", "''''",
]


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_date_format(spark, trunc_instants, zone):
    # Instants around daylight saving's gaps and overlaps, before year 1 and past 9999, to a
    # long's ends; dates through their cast to timestamps.
    conf = {"spark.sql.session.timeZone": zone}
    # (In a SQL string literal a quote is escaped with a backslash.)
    columns = ", ".join("date_format(ts, '" + p.replace("'", "\\'") + "')" for p in DATE_FORMATS)
    # Zone offsets, local mean times' seconds among them.
    columns += ", date_format(ts, 'X XX XXX XXXX XXXXX x xx xxx xxxx xxxxx Z ZZ ZZZ ZZZZZ')"
    columns += ", date_format(ts, \"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\")"
    compare(spark, f"SELECT id, {columns} FROM ti", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, date_format(d, 'yyyy-MM-dd EEEE D'), date_format(CAST(d AS STRING), 'MMM yy') "
                   # (A long's last instant's date is past a long as a timestamp, in Spark too.)
                   "FROM ti WHERE year(d) < 9999 AND (date_format(ts, 'a') = 'PM' OR date_format(ts, 'EEE') IN "
                   "('Sat', 'Sun'))", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)


def test_date_format_of_timestamps_from_parquet(spark, timestamps):
    compare(spark, "SELECT id, date_format(ts, 'yyyy-MM-dd HH:mm:ss.SSSSSS a EEEE'), date_format(ts, 'yyyyMM') AS m, "
                   "count(*) OVER (PARTITION BY date_format(ts, 'yyyyMM')) FROM tst")
    assert _scan_is_native(spark), fallback_reasons(spark)
    compare(spark, "SELECT date_format(ts, 'yyyy-MM') AS m, count(*) FROM tst GROUP BY date_format(ts, 'yyyy-MM')")
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_from_unixtime(spark, data_dir, zone):
    # Spark multiplies the seconds by 10^6 as a Java long: past 9,223,372,036,854 seconds that
    # wraps, and the wrapped instant is formatted.
    seconds = [0, 1, -1, 1_700_000_000, 253_402_300_799, 253_402_300_800, -62_135_596_800, 9_223_372_036_854,
               9_223_372_036_855, -9_223_372_036_855, 9_223_372_036_854_775_807, -9_223_372_036_854_775_808,
               12_345_678_901_234]
    values = ", ".join(f"({i}, CAST({s} AS BIGINT))" for i, s in enumerate(seconds)) + f", ({len(seconds)}, NULL)"
    path = os.path.join(data_dir, "unix_seconds")
    spark.sql(f"SELECT * FROM VALUES {values} AS v(id, s)").repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("unix_seconds")
    conf = {"spark.sql.session.timeZone": zone}
    compare(spark, "SELECT id, from_unixtime(s), from_unixtime(s, 'yyyy-MM-dd HH:mm:ss.SSS EEEE a'), "
                   "from_unixtime(s % 100000000007, 'y yy D h k'), from_unixtime(CAST(id AS INT), 'HH:mm') FROM unix_seconds",
            conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, from_unixtime(s, 'yyyy-MM-dd VV') FROM unix_seconds", conf=conf, native=None)
    assert any("VV is not formatted natively" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_unix_timestamps(spark, data_dir, trunc_instants, zone):
    # unix_timestamp divides toward zero (-0.5 s is 0), unix_seconds and unix_millis floor (-1).
    conf = {"spark.sql.session.timeZone": zone}
    columns = "id, unix_timestamp(ts), to_unix_timestamp(ts), unix_seconds(ts), unix_millis(ts), unix_micros(ts)"
    compare(spark, f"SELECT {columns} FROM ti", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    # (A long's last instants as local date-times are past a long, in Spark too.)
    compare(spark, "SELECT id, unix_timestamp(CAST(ts AS TIMESTAMP_NTZ)) FROM ti WHERE year(d) BETWEEN 1 AND 9998",
            conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    path = os.path.join(data_dir, f"unix_fractions_{zone.replace('/', '_')}")
    fractions = ["1969-12-31 23:59:59.5", "1969-12-31 23:59:59.9995", "1969-12-31 23:59:59.0005", "1970-01-01 00:00:00.5",
                 "1900-06-01 12:00:00.123456", "1970-01-01 00:00:00"]
    values = ", ".join(f"({i}, TIMESTAMP'{t}')" for i, t in enumerate(fractions))
    spark.sql(f"SELECT * FROM VALUES {values} AS v(id, ts)").write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("unix_fractions")
    compare(spark, f"SELECT {columns}, unix_timestamp(CAST(ts AS TIMESTAMP_NTZ)) FROM unix_fractions", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    compare(spark, "SELECT id, unix_timestamp(d), to_unix_timestamp(d, 'yyyy') FROM ti WHERE year(d) < 9999", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
    # Strings parsed with a pattern (test_timestamp_parse.py has more).
    compare(spark, "SELECT id, unix_timestamp(date_format(ts, 'yyyy-MM-dd HH:mm:ss.SSS'), 'yyyy-MM-dd HH:mm:ss.SSS') "
                   "FROM ti WHERE year(d) BETWEEN 1 AND 9998", conf=conf)
    assert _scan_is_native(spark) and not fallback_reasons(spark), fallback_reasons(spark)
