"""Strings parsed with a pattern natively: to_timestamp(s, pattern), try_to_timestamp, to_date(s,
pattern), to_timestamp_ntz(s, pattern), unix_timestamp(s, pattern) and to_unix_timestamp, as Spark's
java.time parser reads them (strict, case-insensitive, adjacent numbers split as java.time splits
them, what the text leaves out defaulted as Spark does). What does not parse is null, or in ANSI
mode Spark's own CANNOT_PARSE_TIMESTAMP with java.time's message; other pattern letters, patterns
that are not constants and the legacy parser policies stay on Spark and say so."""

import os
import random

import pytest

from conftest import compare, fails_alike, fallback_reasons, native_subtrees

PATTERNS = [
    "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyyMMdd", "dd/MM/yyyy",
    "MM/dd/yyyy hh:mm a", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "dd MMM yyyy", "MMMM d, yyyy", "yyyyMMddHHmmss",
    "yyyyMMddHHmmssSSS", "yy-M-d H:m", "yyyy-DDD", "kk:mm", "yyyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "yyyy-MM-dd HH:mm:ss Z", "yyyyMMddHHmmssX",
]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _field(rng, letter, count, compact=False):
    """Text for `count` of the pattern letter `letter`: mostly in range, now and then not."""
    def number(lo, hi):
        v = rng.choice([lo - 1, hi + 1, rng.randint(0, 99)]) if rng.random() < 0.1 else rng.randint(lo, hi)
        return str(v).zfill(count) if v >= 0 else "-" + str(-v).zfill(count)
    if letter == "y":
        # (No year, mutated or not, whose microseconds overflow a long: those fail the query on
        # Spark, and have a test of their own.)
        if count >= 5:
            year = rng.choice([rng.randint(1900, 2100), rng.randint(10000, 99999)])
        elif compact:
            # A negative year takes all the digits after it but those of the fixed-width numbers
            # side by side with it: a seventeen-digit `yyyyMMddHHmmssSSS` is a seven-digit year.
            year = rng.choice([rng.randint(1900, 2100), rng.randint(0, 9999)])
        else:
            year = rng.choice([rng.randint(1900, 2100), rng.randint(0, 9999), -rng.randint(1, 999)])
        if count == 2:
            return str(abs(year) % 100).zfill(2)
        text = str(abs(year)).zfill(count)
        return ("-" if year < 0 else "+" if count >= 4 and len(text) > count else "") + text
    if letter == "M" and count >= 3:
        name = MONTHS[rng.randint(0, 11)]
        name = name[:3] if count == 3 else name
        return rng.choice([name, name.upper(), name.lower()])
    if letter == "S":
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, count)))
    if letter == "a":
        return rng.choice(["AM", "PM", "am", "pM"])
    if letter in "XxZ":
        return rng.choice(["Z", "z", "+00:00", "+0000", "+05:30", "-0800", "+05", "-18:00", "+18:01", "+24:00",
                           "+05:3", "+5:30"])
    lo, hi = {"M": (1, 12), "d": (1, 31), "D": (1, 366), "H": (0, 23), "k": (1, 24), "h": (1, 12),
              "m": (0, 59), "s": (0, 59)}[letter]
    return number(lo, hi)


def _text(rng, pattern):
    """A string much like what `pattern` reads, perhaps mutated."""
    out, i, quoted = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            quoted = not quoted
            i += 1
        elif c.isalpha() and not quoted:
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            out.append(_field(rng, c, j - i, compact=j < len(pattern) and pattern[j].isalpha()))
            i = j
        else:
            out.append(c.lower() if quoted and rng.random() < 0.3 else c)
            i += 1
    text = "".join(out)
    if rng.random() < 0.3:
        at = rng.randint(0, len(text))
        text = rng.choice([text[:at] + rng.choice("-+ :aT") + text[at:], text[:at] + text[at + 1:], text[:at],
                           " " + text, text + "Z"])
    return text


@pytest.fixture(scope="module")
def strings(spark, data_dir):
    rng = random.Random(2026)
    rows = [(i, _text(rng, PATTERNS[i % len(PATTERNS)])) for i in range(3000)]
    rows += [(len(rows), None), (len(rows) + 1, ""), (len(rows) + 2, "2020-01-02\u00a0"),
             (len(rows) + 3, "２０２０-01-02"), (len(rows) + 4, "2020-ſep-01")]
    path = os.path.join(data_dir, "parse_strings")
    spark.createDataFrame(rows, "id bigint, s string").repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("ps")
    return rows


def _quoted(pattern):
    return "'" + pattern.replace("'", "\\'") + "'"


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Australia/Lord_Howe"])
def test_to_timestamp_and_unix_timestamp(spark, strings, zone):
    # Legacy mode: what does not parse is null; every pattern over every string.
    conf = {"spark.sql.session.timeZone": zone, "spark.sql.ansi.enabled": "false"}
    for pattern in PATTERNS:
        p = _quoted(pattern)
        # (As numbers and strings: Python's datetime has no year before 1 or after 9999.)
        compare(spark, f"SELECT id, s, unix_micros(to_timestamp(s, {p})), unix_timestamp(s, {p}), "
                       f"to_unix_timestamp(s, {p}), CAST(to_date(s, {p}) AS STRING), "
                       f"CAST(to_timestamp_ntz(s, {p}) AS STRING) FROM ps", conf=conf)
        assert not fallback_reasons(spark), (pattern, fallback_reasons(spark))


def test_try_to_timestamp_in_ansi_mode(spark, strings):
    conf = {"spark.sql.ansi.enabled": "true", "spark.sql.session.timeZone": "Europe/Berlin"}
    columns = ", ".join(f"unix_micros(try_to_timestamp(s, {_quoted(p)}))" for p in PATTERNS)
    compare(spark, f"SELECT id, {columns} FROM ps", conf=conf)
    assert not fallback_reasons(spark), fallback_reasons(spark)
    # Rows that parse, in ANSI mode, filtered and grouped on.
    compare(spark, "SELECT year(to_timestamp(s, 'yyyy-MM-dd')) AS y, count(*) FROM ps "
                   "WHERE s LIKE '____-__-__' AND try_to_timestamp(s, 'yyyy-MM-dd') IS NOT NULL "
                   "GROUP BY 1", conf=conf)
    assert not fallback_reasons(spark), fallback_reasons(spark)


@pytest.mark.parametrize("sql, match", [
    ("SELECT to_timestamp(s, 'yyyy-MM-dd') FROM ps WHERE id = 0", "could not be parsed"),
    ("SELECT to_timestamp(CASE WHEN id = 7 THEN '2020-01-02 03:04:05x' ELSE '2020-01-02 03:04:05' END, "
     "'yyyy-MM-dd HH:mm:ss') FROM ps", "unparsed text found at index 19"),
    ("SELECT unix_timestamp(s, 'yyyy-MM-dd') FROM ps WHERE s = '２０２０-01-02'", "could not be parsed at index 0"),
    ("SELECT to_date(replace(s, '-', '/'), 'yyyy/MM/dd') FROM ps WHERE id = 0", "could not be parsed"),
    ("SELECT to_timestamp_ntz(s, 'yyyy') FROM ps WHERE s = ''", "could not be parsed at index 0"),
    ("SELECT to_timestamp(CASE WHEN id = 7 THEN '2019-02-29' ELSE '2019-02-28' END, 'yyyy-MM-dd') FROM ps",
     "Invalid date 'February 29' as '2019' is not a leap year"),
])
def test_ansi_errors_are_sparks(spark, strings, sql, match):
    # The native side finds the failure; Spark's formatter, parsing that string again, words it.
    fails_alike(spark, sql, match, conf={"spark.sql.ansi.enabled": "true"})


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_microseconds_past_a_long_fail_as_on_spark(spark, strings, ansi):
    # Math.multiplyExact's ArithmeticException, in either mode (not a parse error to Spark).
    fails_alike(spark, "SELECT to_timestamp(CASE WHEN id = 5 THEN '300000-01-01' ELSE '002000-01-01' END, "
                       "'yyyyyy-MM-dd') FROM ps", "long overflow", conf={"spark.sql.ansi.enabled": ansi})


def test_other_patterns_stay_on_spark(spark, strings):
    conf = {"spark.sql.ansi.enabled": "false"}
    for sql, reason in [
        ("SELECT id, to_timestamp(s, 'yyyy-MM-dd HH:mm z') FROM ps", "the letter 'z' is not parsed natively"),
        ("SELECT id, to_timestamp(s, 'yyyy-MM-dd ZZZZ') FROM ps", "ZZZZ is not parsed natively"),
        ("SELECT id, unix_timestamp(s, CASE WHEN id % 2 = 0 THEN 'MM' ELSE 'M' END) FROM ps",
         "not a constant string"),
    ]:
        compare(spark, sql, native=None, conf=conf)
        assert any(reason in r for r in fallback_reasons(spark)), (sql, fallback_reasons(spark))
    # (SimpleDateFormat, lenient: months past 12 roll over into years.)
    compare(spark, "SELECT id, to_timestamp(s, 'yyyy-MM-dd') FROM ps WHERE s LIKE '1___-__-__'", native=None,
            conf={**conf, "spark.sql.legacy.timeParserPolicy": "LEGACY"})
    assert any("timeParserPolicy=LEGACY" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
