"""Seeded random queries through Spark SQL, with and without the plugin: filters, projections,
aggregates, joins of every type and strategy, subqueries, set operations, unions, sorts and
top-k over every type the plugin runs, window functions, in legacy mode
(session time zone America/Los_Angeles) and ANSI mode (Asia/Kolkata). Each query's rows, in
order where it orders them, or its failure, as the same exception, must be the same. The
directed tests elsewhere check each feature; this one checks their combinations, which nobody
writes by hand.

CINDER_RANDOM_SEED and CINDER_RANDOM_QUERIES search further than CI does, e.g.
CINDER_RANDOM_SEED=7 CINDER_RANDOM_QUERIES=2000 pytest jvm-plugin/tests/test_random.py
"""

import datetime
import os
import random
import re

import pytest
from pyspark.sql.types import (BooleanType, DateType, DecimalType, DoubleType, FloatType, IntegerType, LongType,
                               ShortType, StringType, StructField, StructType, TimestampType)

from conftest import D, normalise, rows_equal, same, settings

SCHEMA = StructType([
    StructField("k", LongType(), False),
    StructField("i", IntegerType()),
    StructField("sm", ShortType()),
    StructField("l", LongType()),
    StructField("x", DoubleType()),
    StructField("f", FloatType()),
    StructField("d", DecimalType(12, 2)),
    StructField("q", DecimalType(38, 10)),
    StructField("s", StringType()),
    StructField("dt", DateType()),
    StructField("flag", BooleanType()),
    StructField("ts", TimestampType()),
    StructField("w", DecimalType(38, 0)),
])

# Strings that casts read as numbers, dates, booleans, or not at all; case mappings that change
# length; empty and blank strings.
STRINGS = ["s1", "s12", "s5", "S1", "", " ", "12", " -7 ", "1.5", "1e3", "abc", "2020-02-29", "1999-13-01",
           "true", "no", "straße", "ΣΑΣ", "😀x", "s_", "%", "NaN", "-0", "9223372036854775808"]


INSTANTS = [datetime.datetime(2021, 3, 14, 2, 30), datetime.datetime(2021, 11, 7, 1, 30),
            datetime.datetime(2021, 3, 28, 2, 30), datetime.datetime(1969, 12, 31, 23, 59),
            datetime.datetime(2000, 2, 29, 12, 0), datetime.datetime(1900, 1, 1, 0, 0)]


def _rows(seed, n):
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        def maybe(value, percent=10):
            return None if rng.randrange(100) < percent else value
        i = rng.choice([0, -1, 1, 7, 2147483647, -2147483648]) if rng.randrange(20) == 0 else rng.randrange(-60, 60)
        # Doubles in eighths (sums are exact whatever the order), with NaN, both zeros, infinities.
        x = rng.choice([float("nan"), -0.0, 0.0, float("inf"), float("-inf")]) if rng.randrange(15) == 0 \
            else rng.randrange(-8000, 8000) / 8
        rows.append((
            k,
            maybe(i),
            maybe(rng.randrange(-300, 300)),
            maybe(rng.choice([2**63 - 1, -(2**63), 1 << 40]) if rng.randrange(30) == 0 else rng.randrange(-10**6, 10**6)),
            maybe(x),
            maybe(rng.choice([float("nan"), -0.0, 1.5, -2.25, 1e10, 3.0]) if rng.randrange(4) == 0
                  else rng.randrange(-400, 400) / 4),
            maybe(D(rng.randrange(-10**7, 10**7)) / D(100)),
            maybe(D(rng.randrange(-10**12, 10**12)) / D(10**6)),
            maybe(rng.choice(STRINGS)),
            maybe(datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(0, 25000))),
            maybe(rng.randrange(2) == 0, 20),
            # Around daylight-saving changes, and far from them.
            maybe(rng.choice(INSTANTS) + datetime.timedelta(minutes=rng.randrange(-300, 300), microseconds=rng.choice(
                [0, 1, 999999, 500000]))),
            # Wide decimals: sums and products overflow, negations round (over 34 digits).
            maybe(D(rng.choice([9 * 10**37 + 1, -(10**38 - 1), 10**20, 12345678901234567890123456789012345678]))
                  if rng.randrange(8) == 0 else D(rng.randrange(-10**30, 10**30))),
        ))
    return rows


@pytest.fixture(scope="module")
def random_tables(spark, data_dir):
    for name, seed, n, parts in [("rt", 11, 700, 3), ("ru", 12, 300, 2)]:
        path = os.path.join(data_dir, f"random_{name}")
        spark.createDataFrame(_rows(seed, n), SCHEMA).repartition(parts).write.mode("overwrite").parquet(path)
        spark.read.parquet(path).createOrReplaceTempView(name)


HASHED = ["i", "sm", "l", "x", "f", "d", "q", "s", "dt", "flag", "ts", "w"]


def int_array(r, a, depth=1):
    """An array of ints made from the row's columns, or one of the functions of arrays over one."""
    base = [
        lambda: f"array({a}.i, {a}.sm, CAST({a}.k % 5 AS INT))",
        lambda: f"array({a}.i, NULL, {a}.i % 3, {a}.i)",
        lambda: f"array({a}.sm % 4, CAST({a}.k % 3 AS INT), -1)",
        lambda: f"IF({a}.flag, array({a}.i), CAST(NULL AS array<int>))",
    ]
    if depth == 0:
        return r.choice(base)()
    inner = lambda: int_array(r, a, depth - 1)  # noqa: E731
    return r.choice(base + [
        lambda: f"sort_array({inner()}{r.choice(['', ', false'])})",
        lambda: f"array_distinct({inner()})",
        # (A start of 0 fails, in either mode.)
        lambda: f"slice({inner()}, {r.choice([1, 2, -1, -2, 3, 0])}, {r.randrange(0, 4)})",
        lambda: f"concat({inner()}, {inner()})",
        lambda: f"reverse({inner()})",
        lambda: f"array_remove({inner()}, {r.choice([f'{a}.i', '-1', '0'])})",
        lambda: f"flatten(array({inner()}, {inner()}))",
    ])()


JOIN_REPLACEMENTS = ["", ", ''", ", 'N'"]


def string_array(r, a):
    return r.choice([
        lambda: f"split({a}.s, '{r.choice(['1', 's', 'ß', ',', ''])}')",
        lambda: f"array({a}.s, upper({a}.s), NULL)",
        lambda: f"sort_array(array({a}.s, lower({a}.s), 's1'){r.choice(['', ', false'])})",
        lambda: f"array_distinct(concat(split({a}.s, '1'), array({a}.s)))",
    ])()


def double_array(r, a):
    return r.choice([
        lambda: f"array({a}.x, {a}.f, -0.0D)",
        lambda: f"sort_array(array({a}.x, 0.0D, {a}.f){r.choice(['', ', false'])})",
        lambda: f"array_distinct(array({a}.x, -{a}.x, 0.0D, {a}.f))",
        lambda: f"array_remove(array({a}.x, {a}.f, 0.0D), {r.choice(['0.0D', '-0.0D', f'{a}.x'])})",
    ])()


def any_array(r, a):
    return r.choice([int_array, string_array, double_array])(r, a)


def int_expr(r, a):
    return r.choice([
        lambda: f"size({any_array(r, a)})",
        lambda: f"array_position({int_array(r, a)}, {a}.i)",
        # Out of bounds: null, or an error in ANSI mode (index 0 in either mode).
        lambda: f"{r.choice(['element_at', 'try_element_at'])}({int_array(r, a)}, {r.choice([1, 2, -1, 4, 0])})",
        lambda: f"{int_array(r, a)}[{r.randrange(0, 3)}]",
        lambda: f"{r.choice(['array_max', 'array_min'])}({int_array(r, a)})",
        lambda: f"{a}.k", lambda: f"{a}.i", lambda: f"{a}.sm",
        lambda: f"({a}.i + {r.randrange(100)})",
        lambda: f"({a}.i * {r.randrange(1, 6)} - {a}.k)",
        lambda: f"({a}.k % {r.randrange(2, 9)})",
        lambda: f"({a}.i % ({a}.k % 5 - 2))",  # by zero: null, or an error in ANSI mode
        lambda: f"({a}.k div ({a}.i % 4))",
        lambda: f"(-{a}.i)", lambda: f"abs({a}.i)",
        lambda: f"({a}.l + {a}.i)",
        lambda: f"({a}.i + 2147483000)",  # overflows: wraps, or an error in ANSI mode
        lambda: f"try_multiply({a}.i, 100000000)",
        lambda: f"CASE WHEN {a}.flag THEN {a}.i ELSE {a}.k % 7 END",
        lambda: f"IF({a}.i > 0, {a}.sm, -{a}.k)",
        lambda: f"{r.choice(['year', 'month', 'day', 'quarter', 'dayofweek', 'weekday', 'dayofyear', 'weekofyear'])}"
                f"({a}.dt)",
        lambda: f"datediff({a}.dt, DATE '2000-01-01')",
        lambda: f"timestampdiff({r.choice(['HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR'])}, {a}.ts, "
                f"{r.choice([f'TIMESTAMP {chr(39)}2001-03-25 02:30:00{chr(39)}', f'CAST({a}.dt AS TIMESTAMP)'])})",
        lambda: f"length({a}.s)",
        lambda: f"{r.choice(['hour', 'minute', 'second', 'year', 'month'])}({a}.ts)",
        lambda: f"CAST({a}.s AS INT)",
        lambda: f"try_cast({a}.s AS BIGINT)",
        lambda: f"CAST({a}.x AS INT)",
        lambda: f"CAST({a}.d AS SMALLINT)",
        lambda: f"coalesce({a}.i, {a}.sm, -1)",
        lambda: f"CAST({a}.l AS INT)",  # out of range: wraps, or an error in ANSI mode
        lambda: f"CAST({a}.f AS BIGINT)", lambda: f"CAST({a}.flag AS INT)",
        lambda: f"({a}.sm * CAST(200 AS SMALLINT))",  # a short's overflow
        lambda: f"({a}.l * {a}.i)",  # a long's overflow
        lambda: f"({a}.sm div {r.choice([3, -7])})",
        lambda: f"length({r.choice(['ltrim', 'rtrim'])}({a}.s))",
        lambda: f"CAST({a}.w AS BIGINT)",
        # Rounded to tens and up: wraps, or an error in ANSI mode, where it leaves the type.
        lambda: f"{r.choice(['round', 'bround'])}({a}.{r.choice(['i', 'sm', 'l', 'k'])}, {r.randrange(-20, 3)})",
        lambda: f"{r.choice(['greatest', 'least'])}({a}.i, {a}.sm, {r.randrange(-50, 50)})",
        lambda: f"{r.choice(['greatest', 'least'])}({a}.k, {a}.l)",
        lambda: f"{r.choice(['floor', 'ceil'])}({a}.{r.choice(['x', 'f', 'i'])})",
        lambda: f"hash({', '.join(f'{a}.{c}' for c in r.sample(HASHED, r.randrange(1, 4)))})",
    ])()


def decimal_expr(r, a):
    return r.choice([
        lambda: f"{a}.d", lambda: f"{a}.q",
        lambda: f"({a}.d * CAST(0.{r.randrange(1, 99):02d} AS DECIMAL(3, 2)))",
        lambda: f"({a}.d / {r.randrange(1, 20)})",
        lambda: f"({a}.d / ({a}.i % 3))",  # by zero: null, or an error in ANSI mode
        lambda: f"({a}.d + {a}.q)", lambda: f"({a}.d * {a}.q)", lambda: f"({a}.q / {a}.d)",
        lambda: f"({a}.d - {r.randrange(100)})",
        lambda: f"CAST({a}.i AS DECIMAL(12, 2))",
        lambda: f"CAST({a}.q AS DECIMAL(10, 3))",
        lambda: f"CAST({a}.s AS DECIMAL(10, 2))",
        lambda: f"CAST({a}.x AS DECIMAL(20, 4))",
        lambda: f"try_divide({a}.d, {a}.i % 2)",
        lambda: f"(-{a}.d)", lambda: f"abs({a}.q)",
        lambda: f"CASE WHEN {a}.i > 0 THEN {a}.d ELSE {a}.q END",
        lambda: f"CAST({a}.f AS DECIMAL(8, 3))",
        lambda: f"CAST({a}.l AS DECIMAL(10, 0))",  # out of range: null, or an error in ANSI mode
        lambda: f"CAST({a}.flag AS DECIMAL(3, 1))",
        lambda: f"CAST({a}.sm AS DECIMAL(4, 1))",
        lambda: f"{a}.w", lambda: f"({a}.w + {a}.w)", lambda: f"({a}.w * {a}.d)", lambda: f"({a}.w / {a}.d)",
        lambda: f"(-{a}.w)", lambda: f"abs({a}.w)", lambda: f"({a}.w - {a}.q)",
        lambda: f"{r.choice(['round', 'bround'])}({a}.{r.choice(['d', 'q'])}, {r.randrange(-6, 12)})",
        # Can overflow decimal(38, 0): on Spark (which fails there in both modes).
        lambda: f"round({a}.w, {r.randrange(-40, 2)})",
        lambda: f"{r.choice(['floor', 'ceil'])}({a}.{r.choice(['d', 'q', 'w'])})",
        lambda: f"{r.choice(['greatest', 'least'])}({a}.d, {a}.q, {a}.i)",
    ])()


def float_expr(r, a, exact=False):
    """Double expressions; exact=True: only those whose sums do not depend on the order."""
    exact_forms = [
        lambda: f"{a}.x", lambda: f"{a}.f", lambda: f"({a}.x * 2.5)", lambda: f"({a}.x + {a}.i)",
        lambda: f"({a}.x / ({a}.i % 3))", lambda: f"({a}.x % 4)", lambda: f"abs({a}.f)",
        lambda: f"CAST({a}.i AS DOUBLE)", lambda: f"coalesce({a}.x, {a}.f)",
        lambda: f"{r.choice(['round', 'bround'])}({a}.{r.choice(['x', 'f'])}, {r.randrange(-3, 3)})",
        lambda: f"{r.choice(['greatest', 'least'])}({a}.x, {a}.f, {r.choice(FLOAT_OPERANDS).format(a=a)})",
    ]
    other_forms = [
        lambda: f"CAST({a}.d AS DOUBLE)", lambda: f"CAST({a}.s AS DOUBLE)", lambda: f"({a}.x / 3)",
        lambda: f"({a}.f * {a}.x)", lambda: f"CAST({a}.q AS FLOAT)", lambda: f"CAST({a}.w AS DOUBLE)",
        # StrictMath's and Math's functions, bit for bit (test_strict_math.py).
        lambda: f"{r.choice(['ln', 'log10', 'log2', 'log1p', 'exp', 'expm1', 'signum', 'degrees', 'rint', 'atan'])}"
                f"({a}.{r.choice(['x', 'f', 'i'])})",
        lambda: f"{r.choice(['sinh', 'cosh', 'tanh', 'cbrt', 'asin', 'acos'])}({a}.{r.choice(['x', 'f', 'i'])})",
        lambda: f"{r.choice(['pow', 'log', 'atan2', 'hypot'])}({a}.{r.choice(['x', 'f', 'i'])}, "
                f"{a}.{r.choice(['x', 'f', 'i'])})",
    ]
    return r.choice(exact_forms if exact else exact_forms + other_forms)()


def string_expr(r, a):
    return r.choice([
        lambda: f"{a}.s", lambda: f"upper({a}.s)", lambda: f"lower({a}.s)", lambda: f"trim({a}.s)",
        lambda: f"substring({a}.s, {r.randrange(1, 3)}, {r.randrange(0, 3)})",
        lambda: f"concat({a}.s, '-', {a}.s)", lambda: f"CAST({a}.i AS STRING)",
        lambda: f"CAST({a}.dt AS STRING)", lambda: f"CAST({a}.d AS STRING)", lambda: f"CAST({a}.ts AS STRING)",
        lambda: f"coalesce({a}.s, 'none')",
        lambda: f"CASE WHEN {a}.flag THEN {a}.s ELSE 'other' END",
        lambda: f"{r.choice(['left', 'right'])}({a}.s, {r.randrange(-1, 4)})",
        lambda: f"{r.choice(['ltrim', 'rtrim'])}({a}.s)",
        lambda: f"substring({a}.s, {r.randrange(-4, 1)}, {r.randrange(0, 4)})",
        lambda: f"substring({a}.s, {r.randrange(-3, 4)})",
        lambda: f"CAST({a}.{r.choice(['x', 'f', 'flag', 'l', 'q', 'sm', 'w'])} AS STRING)",
        lambda: f"{r.choice(['greatest', 'least'])}({a}.s, '{r.choice(STRINGS)}', upper({a}.s))",
        lambda: f"{r.choice(['lpad', 'rpad'])}({a}.s, {r.choice([str(r.randrange(-1, 8)), f'{a}.sm % 9'])}, "
                f"'{r.choice(['*', 'ab', '', 'ß😀'])}')",
        lambda: f"reverse({a}.s)",
        lambda: f"replace({a}.s, '{r.choice(['s', '1', '', 'ß', 'S1'])}', '{r.choice(['', '-', 'xy'])}')",
        lambda: f"concat_ws('{r.choice([',', '', 'ß'])}', {a}.s, {string_expr(r, a)})",
        lambda: f"array_join({string_array(r, a)}, '{r.choice([',', '', 'ß'])}'{r.choice(JOIN_REPLACEMENTS)})",
        lambda: f"element_at({string_array(r, a)}, {r.choice([1, -1])})",
        lambda: f"{r.choice(['array_max', 'array_min'])}({string_array(r, a)})",
    ])()


def date_expr(r, a):
    return r.choice([
        lambda: f"{a}.dt", lambda: f"date_add({a}.dt, {r.randrange(-400, 400)})",
        lambda: f"date_sub({a}.dt, {a}.i)", lambda: f"trunc({a}.dt, '{r.choice(['MM', 'YEAR', 'QUARTER', 'WEEK'])}')",
        lambda: f"CAST({a}.s AS DATE)", lambda: f"try_cast({a}.s AS DATE)", lambda: f"CAST({a}.ts AS DATE)",
        lambda: f"date_add({a}.dt, {a}.sm)",
        lambda: f"date_sub({a}.dt, CAST({a}.s AS INT))",  # ANSI: fails only where the date is not null
        lambda: f"{r.choice(['greatest', 'least'])}({a}.dt, {date_literal(r)})",
        lambda: f"add_months({a}.dt, {r.choice([f'{a}.sm', str(r.randrange(-30, 30))])})",
        lambda: f"last_day({date_expr(r, a)})",
        lambda: f"{a}.dt {r.choice(['+', '-'])} INTERVAL {r.randrange(-30, 30)} MONTHS",
        lambda: f"{a}.dt - INTERVAL '{r.randrange(0, 3)}-{r.randrange(0, 12)}' YEAR TO MONTH",
    ])()


def timestamp_expr(r, a):
    return r.choice([
        lambda: f"{a}.ts", lambda: f"date_trunc('{r.choice(['HOUR', 'DAY', 'MONTH', 'WEEK', 'MINUTE'])}', {a}.ts)",
        lambda: f"CAST({a}.dt AS TIMESTAMP)", lambda: f"try_cast({a}.s AS TIMESTAMP)",
        lambda: f"CAST({a}.s AS TIMESTAMP)",
        lambda: f"{a}.ts {r.choice(['+', '-'])} INTERVAL {r.randrange(-50, 50)} {r.choice(['HOURS', 'DAYS', 'MONTHS'])}",
        lambda: f"{a}.ts + INTERVAL '{r.randrange(-3, 3)} {r.randrange(0, 24)}:{r.randrange(0, 60)}' DAY TO MINUTE",
        lambda: f"{a}.dt + INTERVAL {r.randrange(-30, 30)} HOURS",
        lambda: f"timestampadd({r.choice(['HOUR', 'DAY', 'WEEK', 'MONTH', 'MINUTE'])}, {a}.sm, {a}.ts)",
    ])()


FLOAT_OPERANDS = ["CAST('NaN' AS DOUBLE)", "0.0", "-0.0", "{a}.f", "CAST('-Infinity' AS DOUBLE)"]
LIKE_PATTERNS = ["s1%", "%5", "s_", "%ß%", "", "%", "s\\\\_", "_", "%Σ"]


def date_literal(r):
    return f"DATE '{r.randrange(1955, 2035)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}'"


def quoted(text):
    return f"'{text}'"


def in_list(r, item):
    """Two to fifteen items, now and then with a NULL."""
    items = [item() for _ in range(r.choice([2, 3, 11, 15]))]
    if r.randrange(4) == 0:
        items.append("NULL")
    return ", ".join(items)


def predicate(r, a, depth):
    cmp = r.choice(["=", "<>", "<", "<=", ">", ">=", "<=>"])

    def leaf():
        return r.choice([
            lambda: f"{int_expr(r, a)} {cmp} {r.randrange(-100, 100)}",
            lambda: f"{int_expr(r, a)} {cmp} {int_expr(r, a)}",
            lambda: f"{decimal_expr(r, a)} {cmp} {r.randrange(-50000, 50000) / 100}",
            lambda: f"{float_expr(r, a)} {cmp} {r.randrange(-4000, 4000) / 4}",
            lambda: f"{a}.x {cmp} {r.choice(FLOAT_OPERANDS).format(a=a)}",
            lambda: f"{string_expr(r, a)} {cmp} '{r.choice(STRINGS)}'",
            lambda: f"{a}.s LIKE '{r.choice(LIKE_PATTERNS)}'",
            lambda: f"{r.choice(['startswith', 'endswith', 'contains'])}({a}.s, '{r.choice(['s', '1', '', 'ß'])}')",
            lambda: f"{date_expr(r, a)} {cmp} {date_literal(r)}",
            lambda: f"{a}.{r.choice(['i', 'x', 'd', 'dt', 's', 'flag', 'q'])} IS {r.choice(['', 'NOT '])}NULL",
            lambda: f"{a}.flag", lambda: f"NOT {a}.flag", lambda: f"isnan({a}.x)",
            lambda: f"{a}.i IN ({r.randrange(-60, 60)}, {r.randrange(-60, 60)}, NULL)",
            lambda: f"{a}.s IN ('{r.choice(STRINGS)}', '{r.choice(STRINGS)}')",
            # Over ten items Spark's optimizer makes an IN list a hash set (InSet).
            lambda: f"{a}.i {r.choice(['', 'NOT '])}IN ({in_list(r, lambda: str(r.randrange(-60, 60)))})",
            lambda: f"{a}.s {r.choice(['', 'NOT '])}IN ({in_list(r, lambda: quoted(r.choice(STRINGS)))})",
            lambda: f"{a}.dt IN ({in_list(r, lambda: date_literal(r))})",
            lambda: f"{a}.d IN ({in_list(r, lambda: str(r.randrange(-10**7, 10**7) / 100))})",
            lambda: f"{a}.x IN ({in_list(r, lambda: str(r.randrange(-8000, 8000) / 8))})",
            lambda: f"{a}.k BETWEEN {r.randrange(300)} AND {r.randrange(300, 700)}",
            lambda: f"{decimal_expr(r, a)} BETWEEN {r.randrange(-50000, 0)} AND {r.randrange(50000)}",
            lambda: f"{a}.dt BETWEEN {date_literal(r)} AND {date_literal(r)}",
            lambda: f"{timestamp_expr(r, a)} {cmp} TIMESTAMP '{r.choice(INSTANTS)}'",
            lambda: f"array_contains({int_array(r, a)}, {r.choice([f'{a}.i', '0', f'{a}.sm % 4'])})",
            lambda: f"array_contains({double_array(r, a)}, {r.choice(['0.0D', 'CAST(NULL AS DOUBLE)', f'{a}.f'])})",
            lambda: f"arrays_overlap({int_array(r, a)}, {int_array(r, a)})",
            lambda: f"{any_array(r, a)} IS {r.choice(['', 'NOT '])}NULL",
        ])()

    if depth == 0 or r.randrange(100) < 40:
        return leaf()
    return r.choice([
        lambda: f"({predicate(r, a, depth - 1)} AND {predicate(r, a, depth - 1)})",
        lambda: f"({predicate(r, a, depth - 1)} OR {predicate(r, a, depth - 1)})",
        lambda: f"NOT ({predicate(r, a, depth - 1)})",
        lambda: f"(CASE WHEN {predicate(r, a, depth - 1)} THEN {predicate(r, a, depth - 1)} "
                f"ELSE {predicate(r, a, depth - 1)} END)",
    ])()


def any_expr(r, a):
    return r.choice([int_expr, decimal_expr, float_expr, string_expr, date_expr, timestamp_expr])(r, a)


def projection(r, a):
    exprs = [f"{a}.k"]
    for j in range(r.randrange(1, 4)):
        e = r.choice([any_expr, any_expr, lambda r, a: f"CASE WHEN {predicate(r, a, 1)} THEN 1 ELSE 0 END",
                      any_array])(r, a)
        exprs.append(f"{e} AS c{j}")
    return ", ".join(exprs)


def summed_decimal(r, a):
    """A decimal expression to sum or average: not of the 38-digit column w, whose running sums
    can pass 38 digits and come back, where Spark's aggregation buffer overflows at the first row
    that passes them, in the order the rows come (docs/spark.md, known differences)."""
    while True:
        e = decimal_expr(r, a)
        if f"{a}.w" not in e:
            return e


def averaged_int(r, a):
    """An integer expression to average: not of the bigint l, whose values reach 2^63, where an
    average's sum of doubles rounds at every addition and the order of the rows (which a join
    sets) moves the result far past the comparison's tolerance, in Spark as here."""
    while True:
        e = int_expr(r, a)
        if f"{a}.l" not in e:
            return e


def aggregates(r, a):
    out = ["count(*) AS n"]
    for j in range(r.randrange(1, 5)):
        e = r.choice([
            lambda: f"sum({int_expr(r, a)})", lambda: f"sum({summed_decimal(r, a)})",
            lambda: f"sum({float_expr(r, a, exact=True)})",
            lambda: f"avg({r.choice([averaged_int, summed_decimal])(r, a)})",
            lambda: f"{r.choice(['min', 'max'])}({any_expr(r, a)})",
            lambda: f"count({any_expr(r, a)})",
            # By the table's unique k: rows that tie (after a join) are one row of the table.
            lambda: f"{r.choice(['max_by', 'min_by'])}({any_expr(r, a)}, {a}.k)",
            lambda: f"count(DISTINCT {a}.{r.choice(['i', 's', 'dt'])})",
            # Of small integers (k % 7): equal values give m2 = 0 exactly, others a spread far
            # above rounding, so merges in another order agree well inside the tolerance.
            lambda: f"{r.choice(['stddev', 'stddev_pop', 'variance', 'var_pop'])}({a}.k % 7)",
            lambda: f"approx_count_distinct({any_expr(r, a)}{r.choice(['', ', 0.2', ', 0.02'])})",
            lambda: r.choice(["median(@)", "percentile(@, 0.3)", "percentile_cont(0.75) WITHIN GROUP (ORDER BY @)",
                              "percentile_disc(0.4) WITHIN GROUP (ORDER BY @ DESC)"]).replace(
                "@", r.choice([int_expr, decimal_expr, float_expr])(r, a)),
            # Of a few thousand values at most (below accuracy / 2): the summaries hold every value,
            # whatever the order of the rows and merges. (Not of floats: with NaN among them,
            # Spark's merge, which compares with <, leaves samples out of order, and the order of
            # merges, which a DISTINCT's stages set, shows.)
            lambda: f"percentile_approx({int_expr(r, a)}, {r.choice(['0.5', '0.1', '0.95'])}"
                    f"{r.choice(['', ', 10000', ', 100000'])})",
            # (Ties go to one end of the WITHIN GROUP order: plain mode(x) takes Spark's hash order.)
            lambda: f"mode() WITHIN GROUP (ORDER BY {r.choice([int_expr, decimal_expr, float_expr])(r, a)}"
                    f"{r.choice(['', ' DESC'])})",
            # (Sorted or counted: their order follows the order rows come in.)
            lambda: f"{r.choice(['sort_array', 'size'])}({r.choice(['collect_list', 'collect_set'])}"
                    f"({r.choice([int_expr, string_expr, date_expr])(r, a)}))",
        ])()
        if "DISTINCT" not in e and not r.randrange(4):
            e += f" FILTER (WHERE {predicate(r, a, 1)})"
        out.append(f"{e} AS a{j}")
    # Beside a DISTINCT function, the other functions' buffers are merged in two more stages;
    # keep some queries single-kind.
    if any("DISTINCT" in o for o in out) and r.randrange(2):
        out = [o for o in out if "DISTINCT" in o or o.startswith("count(*)")]
    return ", ".join(out)


def group_keys(r, a):
    keys = [f"{a}.k % 5", f"{a}.i", f"{a}.s", f"{a}.flag", f"{a}.dt", f"{a}.d", f"{a}.x", f"{a}.i % 3",
            f"upper({a}.s)", f"{a}.f", f"year({a}.dt)", f"{a}.ts", f"date_trunc('DAY', {a}.ts)", f"{a}.w"]
    return sorted({r.choice(keys) for _ in range(r.randrange(3))})


JOIN_HINTS = ["", "/*+ BROADCAST(b) */ ", "/*+ SHUFFLE_HASH(b) */ ", "/*+ MERGE(b) */ ", "/*+ BROADCAST(a) */ "]


def join_condition(r):
    return r.choice(["a.k = b.k", "a.i = b.i", "a.s = b.s", "a.dt = b.dt", "a.d = b.d", "a.sm = b.i",
                     "a.k % 50 = b.k % 50 AND a.flag = b.flag", "upper(a.s) = b.s",
                     "date_trunc('HOUR', a.ts) = date_trunc('HOUR', b.ts)",
                     # Keys of different types, and floats (NaN and -0.0 are normalised).
                     "a.l = b.i", "a.q = b.d", "a.x = b.x", "a.f = b.f", "a.x = b.f", "a.ts = b.ts"])


def query(r):
    kind = r.randrange(15)
    if kind == 14:
        # Generators: each row's elements, in order.
        generator = r.choice(["explode", "explode_outer", "posexplode", "posexplode_outer"])
        cols = "p, x" if "pos" in generator else "x"
        return f"SELECT a.k, {cols} FROM rt a LATERAL VIEW {generator}({any_array(r, 'a')}) t AS {cols} " \
               f"WHERE {predicate(r, 'a', 1)}"
    if kind in (0, 1):
        return f"SELECT {projection(r, 'a')} FROM rt a WHERE {predicate(r, 'a', 2)}"
    if kind in (2, 3):
        keys = group_keys(r, "a")
        select = ", ".join([f"{k} AS g{j}" for j, k in enumerate(keys)] + [aggregates(r, "a")])
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        if keys and r.randrange(4) == 0:
            # An Expand under the aggregation.
            sets = r.choice(["ROLLUP", "CUBE"])
            select += ", grouping_id() AS gid"
            group = f" GROUP BY {sets}({', '.join(keys)})"
        return f"SELECT {select} FROM rt a WHERE {predicate(r, 'a', 2)}{group}"
    if kind == 4:
        how = r.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "LEFT SEMI JOIN", "LEFT ANTI JOIN"])
        residual = f" AND a.d < b.d + {r.randrange(50000)}" if r.randrange(100) < 40 else ""
        semi = "SEMI" in how or "ANTI" in how
        if r.randrange(2):
            select = "count(*) AS n, sum(a.d) AS sd, max(a.s) AS ms" + ("" if semi else ", count(b.k) AS nb, min(b.dt) AS md")
        else:
            select = "a.k, a.s, a.x" + ("" if semi else ", b.k AS bk, b.d, b.dt")
        where = predicate(r, "a", 1) if how in ("JOIN", "LEFT JOIN") or semi else "true"
        return f"SELECT {r.choice(JOIN_HINTS)}{select} FROM rt a {how} ru b ON {join_condition(r)}{residual} " \
               f"WHERE {where}"
    if kind == 5:
        keys = group_keys(r, "b") or ["b.s"]
        select = ", ".join([f"{k} AS g{j}" for j, k in enumerate(keys)] + [aggregates(r, "a")])
        return f"SELECT {r.choice(JOIN_HINTS)}{select} FROM rt a JOIN ru b ON {join_condition(r)} " \
               f"WHERE {predicate(r, 'b', 1)} GROUP BY {', '.join(keys)}"
    if kind == 6:
        col = r.choice(["k", "i", "s", "dt"])
        return f"SELECT a.k, a.s FROM rt a WHERE a.{col} {r.choice(['', 'NOT '])}IN " \
               f"(SELECT b.{col} FROM ru b WHERE {predicate(r, 'b', 1)}) AND {predicate(r, 'a', 1)}"
    if kind == 7:
        on = r.choice(["b.k = a.k", "b.i = a.i", "b.s = a.s"])
        residual = f" AND b.d > a.d - {r.randrange(30000)}" if r.randrange(100) < 40 else ""
        return f"SELECT a.k, a.d FROM rt a WHERE {r.choice(['EXISTS', 'NOT EXISTS'])} " \
               f"(SELECT 1 FROM ru b WHERE {on}{residual} AND {predicate(r, 'b', 1)}) AND {predicate(r, 'a', 1)}"
    if kind == 8:
        # k is unique: the order, and so the rows a limit keeps, are settled.
        return f"SELECT {projection(r, 'a')} FROM rt a WHERE {predicate(r, 'a', 2)} " \
               f"ORDER BY a.k {r.choice(['ASC', 'DESC'])} LIMIT {r.randrange(1, 60)}"
    if kind == 13:
        # Window functions (ties in a ROWS frame's order broken by the unique k).
        key = r.choice(["a.s", "a.flag", "a.k % 7", "a.dt", "a.x", "a.d", "a.f"])
        order = r.choice(["a.i", "a.x DESC", "a.s NULLS LAST", "a.dt DESC NULLS FIRST", "a.d", "a.f", "a.ts"])
        frame = r.choice(["", " ROWS BETWEEN 2 PRECEDING AND CURRENT ROW",
                          " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING",
                          " ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING",
                          " ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING",
                          " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"])
        peers = f"PARTITION BY {key} ORDER BY {order}"
        spec = f"{peers}, a.k"
        functions = [f"rank() OVER ({peers})", f"dense_rank() OVER ({peers})", f"cume_dist() OVER ({peers})",
                     f"percent_rank() OVER ({peers})", f"row_number() OVER ({spec})",
                     f"lag(a.d, {r.randrange(1, 4)}) OVER ({spec})", f"lead(a.s, 1, 'none') OVER ({spec})",
                     f"sum(a.i) OVER ({spec}{frame})", f"count(a.x) OVER ({spec}{frame})",
                     # (Over `spec`, each row's frame is a prefix: in ANSI mode a frame's sum
                     # overflows where Spark's running sum does. Over `peers`, Spark's running sum
                     # within a peer group can overflow where no frame's sum does: docs/spark.md,
                     # known differences.)
                     f"sum(a.l) OVER ({spec})", f"sum(a.i) OVER ({peers})",
                     f"min(a.x) OVER ({spec}{frame})", f"max(a.s) OVER ({spec}{frame})",
                     f"avg(a.d) OVER ({spec}{frame})", f"sum(a.w) OVER (PARTITION BY {key})",
                     f"sum(a.x) OVER ({spec}{frame})", f"first(a.f, true) OVER ({spec}{frame})",
                     f"last(a.dt) OVER ({spec}{frame})", f"avg(a.i) OVER ({peers})",
                     f"stddev(a.x) OVER ({spec}{frame})", f"corr(a.i, a.f) OVER ({spec}{frame})",
                     # RANGE frames with value offsets (one integer key; in ANSI mode a bound past
                     # the key type's limit fails, natively too; in legacy mode they stay on Spark).
                     f"count(a.s) OVER (PARTITION BY {key} ORDER BY a.i{r.choice(['', ' DESC'])} RANGE BETWEEN "
                     f"{r.randrange(0, 9)} PRECEDING AND {r.randrange(0, 9)} FOLLOWING)",
                     f"max(a.d) OVER (PARTITION BY {key} ORDER BY a.sm RANGE BETWEEN {r.randrange(1, 60)} PRECEDING "
                     f"AND {r.choice(['CURRENT ROW', '1 PRECEDING', 'UNBOUNDED FOLLOWING'])})",
                     f"count(a.s) OVER (PARTITION BY {key} ORDER BY a.ts{r.choice(['', ' DESC'])} RANGE BETWEEN "
                     f"INTERVAL {r.randrange(1, 300)} MINUTES PRECEDING AND CURRENT ROW)"]
        picked = r.sample(functions, 3)
        # (Ordered by the unique k: the rows are compared in order where a query has ORDER BY.)
        return f"SELECT a.k, {', '.join(f'{w} AS w{j}' for j, w in enumerate(picked))} FROM rt a " \
               f"WHERE {predicate(r, 'a', 1)} ORDER BY a.k"
    if kind == 12:
        # Set operations (joins on null-safe equality) and DISTINCT.
        cols = r.choice(["a.s, a.i", "a.dt", "a.flag, a.k % 7", "a.d", "upper(a.s), a.ts"])
        other = cols.replace("a.", "b.")
        op = r.choice(["INTERSECT", "EXCEPT", "UNION", "INTERSECT ALL"])
        if r.randrange(3) == 0:
            return f"SELECT DISTINCT {cols} FROM rt a WHERE {predicate(r, 'a', 1)}"
        return f"SELECT {cols} FROM rt a WHERE {predicate(r, 'a', 1)} {op} " \
               f"SELECT {other} FROM ru b WHERE {predicate(r, 'b', 1)}"
    if kind == 11:
        # A global sort on any expression, ties broken by the unique k: one order only.
        e = any_expr(r, "a")
        return f"SELECT a.k, {e} AS v FROM rt a WHERE {predicate(r, 'a', 1)} ORDER BY {e} " \
               f"{r.choice(['ASC', 'DESC'])} {r.choice(['', 'NULLS FIRST', 'NULLS LAST'])}, a.k"
    if kind == 9:
        return f"SELECT g, count(*) AS n, sum(v) AS sv, max(w) AS mw FROM (" \
               f"SELECT a.k % 3 AS g, a.d AS v, a.s AS w FROM rt a WHERE {predicate(r, 'a', 1)} UNION ALL " \
               f"SELECT b.k % 3 AS g, b.d AS v, b.s AS w FROM ru b WHERE {predicate(r, 'b', 1)}) x GROUP BY g"
    key = r.choice(["k % 40", "i", "s"])
    return f"SELECT a.k, a.d, g.total FROM rt a JOIN (SELECT b.{key} AS gk, sum(b.d) AS total FROM ru b " \
           f"GROUP BY b.{key} HAVING sum(b.d) > {r.randrange(-10000, 10000)}) g ON a.{key} = g.gk " \
           f"WHERE {predicate(r, 'a', 1)}"


def _error(e):
    """An error as pyspark raises it: its Python class (ArithmeticException, NumberFormatException,
    ...: which Java exception it was) and Spark's error class (e.g. DIVIDE_BY_ZERO), or the first
    line of its message."""
    text = str(e)
    found = re.search(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]", text)
    return type(e).__name__, found.group(1) if found else text.strip().splitlines()[0][:200]


def _rows_agree(sql, got, expected):
    """The same rows; in the same order where the query orders them (on a unique last key)."""
    if not rows_equal(got, expected):
        return False
    if "ORDER BY" not in sql.replace("WITHIN GROUP (ORDER BY", ""):
        return True
    return all(len(g) == len(e) and all(same(x, y) for x, y in zip(g, e)) for g, e in zip(got, expected))


def _same_failure(spark_error, cinder_error):
    """Both runs failed. Where a query has rows that fail in different ways (an overflow in one,
    an invalid cast in another), which error comes first depends on the order of evaluation:
    Spark's row by row, the native side's a column over a batch at a time (as in spark-rapids).
    So the errors agree if they are the same, or if both are Spark's own exceptions with an error
    class (never a bare RuntimeException from the native side where Spark raised its own)."""
    if spark_error == cinder_error:
        return True
    typed = re.compile(r"[A-Z][A-Z0-9_]+(\.[A-Z0-9_]+)*$")
    return all(e[0] != "Py4JJavaError" and typed.match(e[1]) for e in (spark_error, cinder_error))


def _outcome(spark, sql, enabled):
    spark.conf.set("spark.cinder.enabled", enabled)
    spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
    try:
        return "rows", spark.sql(sql).collect()
    except Exception as e:  # noqa: BLE001 (any failure is an outcome to compare)
        return "error", _error(e)


def _native(spark):
    return bool(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.nativeSubtrees())


EMPTY_RELATION = "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation"


def _plan():
    seed = int(os.environ.get("CINDER_RANDOM_SEED", "1"))
    queries = int(os.environ.get("CINDER_RANDOM_QUERIES", "60"))
    return seed, queries


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_random_queries_match_spark(spark, random_tables, ansi):
    seed, count = _plan()
    r = random.Random(seed * 2 + (ansi == "true"))
    mismatches, native, failed = [], 0, 0
    # A zone with daylight saving, and one with a half-hour offset.
    # (The data's floats are short decimals, whose Double.toString digits Java 17 and 19 agree on:
    # their casts to strings and roundings run natively on Java 17 too.)
    conf = {"spark.sql.ansi.enabled": ansi,
            "spark.sql.session.timeZone": "America/Los_Angeles" if ansi == "false" else "Asia/Kolkata",
            "spark.cinder.javaFloatDigits": "java19"}
    if ansi == "true":
        # Spark's Parquet reader skips row groups its pushed filters rule out by their
        # dictionaries, which the native reader reads: an ANSI error in a filter left on Spark
        # can then come from rows Spark never read (docs/spark.md, known differences).
        conf["spark.sql.parquet.filterPushdown"] = "false"
    with settings(spark, conf):
        try:
            for n in range(count):
                sql = query(r)
                expected = _outcome(spark, sql, "false")
                got = _outcome(spark, sql, "true")
                native += _native(spark)
                if expected[0] != got[0]:
                    # Adaptive execution drops a join once one side comes out empty, cancelling the
                    # other side's stage: where that stage fails (ANSI), whether the query fails
                    # depends on which stage finishes first, in vanilla Spark too. Such a query is
                    # compared again without that rule.
                    with settings(spark, {"spark.sql.adaptive.optimizer.excludedRules": EMPTY_RELATION}):
                        expected = _outcome(spark, sql, "false")
                        got = _outcome(spark, sql, "true")
                if expected[0] == "error":
                    failed += 1
                if expected[0] != got[0] or (expected[0] == "error" and not _same_failure(expected[1], got[1])):
                    mismatches.append(f"query {n}: {sql}\n  spark: {expected}\n  cinder: {got}")
                elif expected[0] == "rows" and not _rows_agree(sql, got[1], expected[1]):
                    mismatches.append(f"query {n}: {sql}\n  spark:  {normalise(expected[1])[:10]}\n"
                                      f"  cinder: {normalise(got[1])[:10]}")
        finally:
            spark.conf.set("spark.cinder.enabled", "true")
    assert not mismatches, f"{len(mismatches)} of {count} queries differ:\n" + "\n".join(mismatches[:10])
    # The test means something only if most queries ran native subtrees and returned rows.
    assert native >= count * 0.7, f"only {native} of {count} queries ran natively"
    assert failed <= count * 0.5, f"{failed} of {count} queries failed on Spark"
