"""Constant intervals added to timestamps and dates natively (`ts + INTERVAL 1 DAY`,
`d - INTERVAL '1-2' YEAR TO MONTH`, legacy calendar intervals), as Spark moves them with
java.time: months and days on the local date-time in the session's time zone (a gap moves
forward, an overlap keeps the offset), the rest on the instant; timestamps without a time zone
in UTC. Overflows fail with Java's ArithmeticException, as on Spark."""

import os

import pytest

from conftest import compare, fails_alike, fallback_reasons, native_subtrees

# Instants around daylight saving's changes (Los Angeles springs forward at 10:00 UTC on
# 2021-03-14 and falls back at 09:00 UTC on 2021-11-07; Lord Howe moves by half an hour;
# Toronto's 1919-03-30 23:30 became 00:30), month ends and leap days, local mean time, years
# past chrono-tz's tables, and a long's last instant.
INSTANTS = [
    "2021-03-13T10:30:00Z", "2021-03-14T09:30:00Z", "2021-03-14T10:00:00Z", "2021-11-06T08:30:00Z",
    "2021-11-07T08:30:00Z", "2021-11-07T09:15:30.123456Z", "2021-11-08T09:30:00Z", "2021-10-07T08:45:00Z",
    "2024-04-06T15:15:00Z", "2024-10-05T15:45:00Z", "1919-03-30T04:45:00Z", "1919-03-31T04:15:00Z",
    "2024-01-31T12:00:00Z", "2024-02-29T23:59:59.999999Z", "2023-03-31T00:00:00Z", "1883-11-18T19:59:59Z",
    "1700-06-15T12:34:56.789Z", "2300-11-04T09:30:00Z", "1969-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z",
    "+294247-01-10T04:00:54.775807Z",
]

INTERVALS = [
    "INTERVAL 1 DAY", "INTERVAL -1 DAY", "INTERVAL 36 HOURS", "INTERVAL -36 HOURS", "INTERVAL 30 MINUTES",
    "INTERVAL '1 02:03:04.000005' DAY TO SECOND", "INTERVAL 1 MONTH", "INTERVAL -1 MONTH",
    "INTERVAL '1-2' YEAR TO MONTH", "INTERVAL 23 HOURS", "INTERVAL 0 SECONDS",
]


@pytest.fixture(scope="module")
def instants(spark, data_dir):
    path = os.path.join(data_dir, "interval_instants")
    values = ", ".join(f"({i}, '{s}')" for i, s in enumerate(INSTANTS)) + f", ({len(INSTANTS)}, NULL)"
    spark.sql(f"SELECT id, CAST(s AS TIMESTAMP) AS ts, CAST(replace(s, 'Z', '') AS TIMESTAMP_NTZ) AS ntz, "
              f"CAST(CAST(s AS TIMESTAMP) AS DATE) AS d FROM VALUES {values} AS v(id, s)") \
        .repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("iv")
    return path


def _all_native(spark):
    assert any("ParquetScan" in n for n in native_subtrees(spark)), fallback_reasons(spark)
    assert not fallback_reasons(spark), fallback_reasons(spark)


def _strings(exprs):
    # As strings: Python's datetime has no year 0.
    return ", ".join(f"CAST({e} AS STRING)" for e in exprs)


# Within years 1 to 9998: a long's last instants overflow (test_overflow_fails_as_on_spark).
WITHIN = "WHERE ts IS NULL OR year(d) BETWEEN 1 AND 9998"


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe", "America/Toronto", "+05:30", "UTC"])
def test_timestamps_plus_and_minus_intervals(spark, instants, zone):
    added = ", ".join(f"CAST(ts + {i} AS STRING), unix_micros(ts - {i}), CAST(ntz + {i} AS STRING), CAST(ntz - {i} AS STRING)"
                      for i in INTERVALS)
    compare(spark, f"SELECT id, {added} FROM iv {WITHIN}", conf={"spark.sql.session.timeZone": zone})
    _all_native(spark)
    # In a filter, and dates moved by hours (a timestamp of the date's start).
    compare(spark, "SELECT id FROM iv WHERE CASE WHEN year(d) < 9999 THEN ts + INTERVAL 1 DAY > ts + INTERVAL 24 HOURS END",
            conf={"spark.sql.session.timeZone": zone})
    _all_native(spark)
    compare(spark, f"SELECT id, CAST(d + INTERVAL 3 HOURS AS STRING), CAST(d - INTERVAL '1 00:30' DAY TO MINUTE AS STRING) "
                   f"FROM iv {WITHIN}",
            conf={"spark.sql.session.timeZone": zone})
    _all_native(spark)


DATE_INTERVALS = ["d + INTERVAL 1 MONTH", "d - INTERVAL '1-1' YEAR TO MONTH", "d + INTERVAL -13 MONTHS",
                  "d + INTERVAL 2 DAYS", "d - INTERVAL '3' DAY"]


def test_dates_plus_and_minus_intervals(spark, instants):
    compare(spark, f"SELECT id, {_strings(DATE_INTERVALS)} "
                   f"FROM iv {WITHIN}")
    _all_native(spark)


@pytest.mark.parametrize("ansi", ["true", "false"])
@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe"])
def test_calendar_intervals(spark, instants, ansi, zone):
    # Legacy intervals are CalendarIntervals, which may mix months with days or less: months,
    # then days, then microseconds. A date plus one without microseconds stays a date.
    conf = {"spark.sql.session.timeZone": zone, "spark.sql.ansi.enabled": ansi,
            "spark.sql.legacy.interval.enabled": "true"}
    compare(spark, f"SELECT id, {_strings(['ts + INTERVAL 1 MONTH 2 DAYS 3 HOURS', 'ts - INTERVAL 1 YEAR 1 MICROSECOND', 'ntz + INTERVAL 1 MONTH 1 DAY', 'd + INTERVAL 1 MONTH 2 DAYS', 'd - INTERVAL 1 YEAR 40 DAYS'])} "
                   f"FROM iv {WITHIN}", conf=conf)
    _all_native(spark)


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe"])
def test_legacy_calendar_intervals_with_time_on_dates(spark, instants, zone):
    # Outside ANSI mode a date plus hours is the date of its day's start plus them; in ANSI mode
    # Spark fails it for every date, so it stays there.
    compare(spark, f"SELECT id, {_strings(['d + INTERVAL 1 MONTH 30 HOURS', 'd - INTERVAL 1 DAY 1 SECOND'])} FROM iv {WITHIN}",
            conf={"spark.sql.session.timeZone": zone, "spark.sql.ansi.enabled": "false",
                  "spark.sql.legacy.interval.enabled": "true"})
    _all_native(spark)
    compare(spark, "SELECT id, d + INTERVAL 1 DAY 1 SECOND FROM iv WHERE d IS NULL", native=None,
            conf={"spark.sql.ansi.enabled": "true", "spark.sql.legacy.interval.enabled": "true"})
    assert any("stays on Spark in ANSI mode" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_overflow_fails_as_on_spark(spark, instants, ansi):
    # Math.multiplyExact's and toIntExact's ArithmeticException, in either mode.
    conf = {"spark.sql.ansi.enabled": ansi}
    fails_alike(spark, "SELECT ts + INTERVAL 1 DAY FROM iv WHERE year(d) > 9999", "long overflow", conf=conf)
    fails_alike(spark, "SELECT ts - INTERVAL '300000' YEAR FROM iv WHERE id = 0", "long overflow", conf=conf)
    fails_alike(spark, "SELECT d + INTERVAL '178000000' YEAR FROM iv WHERE id = 0", "integer overflow", conf=conf)
    # The same exception from the other date-time functions that overflow.
    fails_alike(spark, "SELECT add_months(d, 2147483647) FROM iv WHERE id = 0", "integer overflow", conf=conf)
    fails_alike(spark, "SELECT from_utc_timestamp(ts, 'Asia/Tokyo') FROM iv WHERE year(d) > 9999",
                "long overflow", conf=conf)
    fails_alike(spark, "SELECT lpad(CAST(id AS STRING), 2147483647, 'é') FROM iv WHERE id = 0", "integer overflow",
                conf=conf)


def test_intervals_that_are_not_constants_stay_on_spark(spark, instants):
    compare(spark, "SELECT id, ts + make_dt_interval(CAST(id AS INT)) FROM iv WHERE year(d) < 9999", native=None)
    assert any("not a constant" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


UNITS = ["MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "DAYOFYEAR", "WEEK", "MONTH", "QUARTER",
         "YEAR"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe", "UTC"])
def test_timestampadd(spark, instants, zone):
    # A quantity per row (nulls included) of each unit, to timestamps with and without a zone.
    added = ", ".join(f"CAST(timestampadd({u}, id - 10, ts) AS STRING), "
                      f"CAST(timestampadd({u}, CASE WHEN id % 3 = 0 THEN NULL ELSE 2 - id END, ntz) AS STRING)"
                      for u in UNITS)
    compare(spark, f"SELECT id, {added} FROM iv {WITHIN}", conf={"spark.sql.session.timeZone": zone})
    _all_native(spark)


def test_timestampadd_evaluates_the_timestamp_where_the_quantity_is_not_null(spark, instants):
    # In ANSI mode the cast fails for id 1, where Spark never evaluates it.
    compare(spark, "SELECT id, timestampadd(HOUR, CASE WHEN id = 1 THEN NULL ELSE id END, "
                   "CAST(CASE WHEN id = 1 THEN 'x' ELSE '2020-01-01' END AS TIMESTAMP)) FROM iv",
            conf={"spark.sql.ansi.enabled": "true"})
    _all_native(spark)


@pytest.mark.parametrize("ansi", ["true", "false"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_timestampadd_overflow_fails_as_on_spark(spark, instants, ansi, zone):
    # Spark's DATETIME_OVERFLOW, which shows the timestamp in the session's time zone.
    conf = {"spark.sql.ansi.enabled": ansi, "spark.sql.session.timeZone": zone}
    for sql in [
        "SELECT timestampadd(MILLISECOND, 9223372036854775807 - id, ts) FROM iv WHERE id = 0",
        "SELECT timestampadd(week, 306783379 + id, ts) FROM iv WHERE id = 0",
        "SELECT timestampadd(DAY, 2147483648 + id, ntz) FROM iv WHERE id = 0",
        "SELECT timestampadd(YEAR, 300000 + id, ts) FROM iv WHERE id = 0",
        "SELECT timestampadd(MINUTE, id, ts) FROM iv WHERE year(d) > 9999",
    ]:
        fails_alike(spark, sql, "DATETIME_OVERFLOW", conf=conf)
    # The same words: the timestamp in the session's time zone, the unit as the query names it.
    fails_alike(spark, "SELECT timestampadd(year, 300000 + id, ts) FROM iv WHERE id = 0",
                "add 300000L year to TIMESTAMP '2021-03-13 16:00:00'",
                conf={"spark.sql.ansi.enabled": ansi, "spark.sql.session.timeZone": "Asia/Kolkata"})


@pytest.fixture(scope="module")
def instant_pairs(spark, data_dir, instants):
    # Every instant with every other (in a file of its own: a native projection reads a scan).
    path = os.path.join(data_dir, "interval_pairs")
    spark.sql("SELECT a.id * 100 + b.id AS id, a.ts AS a, b.ts AS b, a.ntz AS an, b.ntz AS bn "
              "FROM iv a CROSS JOIN iv b").repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("ivp")
    return path


DIFF_UNITS = ["MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Australia/Lord_Howe", "UTC"])
def test_timestampdiff(spark, instant_pairs, zone):
    # Of the local date-times in the session's time zone, as LocalDateTime.until counts: across
    # daylight saving's changes, month ends and leap days. (Spark casts timestamps without a
    # zone to timestamps in the session's zone first.)
    conf = {"spark.sql.session.timeZone": zone}
    diffs = ", ".join(f"timestampdiff({u}, a, b), timestampdiff({u}, an, bn)" for u in DIFF_UNITS)
    within = "(a IS NULL OR year(a) BETWEEN 1 AND 9998) AND (b IS NULL OR year(b) BETWEEN 1 AND 9998)"
    compare(spark, f"SELECT id, {diffs} FROM ivp WHERE {within}", conf=conf)
    _all_native(spark)
    # A long's ends apart: seconds fit, microseconds overflow (Math.multiplyExact), as on Spark.
    diffs = ", ".join(f"timestampdiff({u}, a, b)" for u in DIFF_UNITS if u != "MICROSECOND")
    compare(spark, f"SELECT id, {diffs} FROM ivp", conf=conf)
    _all_native(spark)
    fails_alike(spark, "SELECT timestampdiff(MICROSECOND, a, b) FROM ivp", "long overflow", conf=conf)
