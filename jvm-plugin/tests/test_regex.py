"""rlike (regexp, regexp_like), regexp_extract and regexp_replace natively: Java's Pattern.find,
first match and Matcher.appendReplacement for constant patterns the native side translates
exactly (ASCII shorthands and case-insensitivity, `.` without line terminators, `$` before a
final line terminator); other patterns stay on Spark and say why. Also the digests of the same
strings (md5, sha1, sha2, crc32) and translate."""

import os
import random

import pytest

from conftest import compare, fallback_reasons

PATTERNS = [
    "^[0-9]+$", "\\d{3}-\\d{4}", "(?i)error", "^[A-Z]{2}[0-9]*$", "a.c", "(?s)a.c", "^$", "ab|cd$", "colou?r",
    "^\\w+@\\w+\\.com$", "[^a-z]", "(?i)[a-c]+x", "\\s", "\\S+\\s\\S+", "^(foo|bar)+$", "(?<word>[a-z]+)-\\d",
    "é|É", "(?i)é", "x*", "", "\\.", "[.$]", "a{2,3}?b", "\\x41|\\u00e9", "^.{3}$", "\\W$", "(?i:abc)d",
]

REFUSED = [
    ("\\bword\\b", "the escape \\b"),
    ("(?<=a)b", "lookaround"),
    ("(a)\\1", "the escape \\1"),
    ("a*+", "a possessive quantifier"),
    ("\\p{L}", "the escape \\p"),
    ("(?m)^a$", "another flag"),
    ("(a$)", "a `$` inside a group"),
]

ALPHABET = "aAbcdBCDExyz019 .-_@$\u00e9\u00c9\n\r\u0085\u2028\t"


@pytest.fixture(scope="module")
def texts(spark, data_dir):
    rng = random.Random(7)
    rows = [(i, "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))) for i in range(2000)]
    specials = ["123", "123\n", "123\r\n", "123\n\n", "123\u2028", "AB12", "AB12\r", "a@b.com", "a@b.com\n",
                "Error here", "ERROR", "colour", "color", "abc", "a\nc", "foofoo", "foobar\n", "x-1", "\u00c9", "",
                "abcd", "aab", "cd\r\n", "cd\n\r"]
    rows += [(len(rows) + i, s) for i, s in enumerate(specials)] + [(len(rows) + len(specials), None)]
    path = os.path.join(data_dir, "regex_texts")
    spark.createDataFrame(rows, "id bigint, s string").repartition(2).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("rt")
    return rows


def _quoted(pattern):
    return "'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_rlike(spark, texts):
    columns = ", ".join(f"s RLIKE {_quoted(p)}" for p in PATTERNS)
    compare(spark, f"SELECT id, {columns} FROM rt")
    assert not fallback_reasons(spark), fallback_reasons(spark)
    # In a filter, and as regexp and regexp_like.
    compare(spark, "SELECT count(*), sum(id) FROM rt WHERE regexp(s, '^[a-z]') OR regexp_like(s, '\\\\d$')")
    assert not fallback_reasons(spark), fallback_reasons(spark)


@pytest.mark.parametrize("pattern, reason", REFUSED)
def test_other_patterns_stay_on_spark(spark, texts, pattern, reason):
    compare(spark, f"SELECT id, s RLIKE {_quoted(pattern)} FROM rt", native=None)
    assert any(reason in r for r in fallback_reasons(spark)), fallback_reasons(spark)


# (pattern, group, replacement): no `$`, nothing that matches an empty string.
EXTRACTS = [
    ("(\\d+)-(\\d+)", 2, "$2-$1"), ("([a-z]+)@([a-z]+)", 1, "<$0>"), ("(?i)(x|y)(z)?", 2, "[$2]"),
    ("(?<first>[A-Z])[a-z]*", 1, "${first}."), ("\\s+", 0, " "), ("a(b)?c|d", 1, "\\$1"), ("[^a-z]+", 0, ""),
    ("(.)(.)", 2, "$2$1"), ("é+", 0, "e"), ("((a)|b)+", 2, "$2$1"), ("a{2,3}?", 0, "A"),
]


def test_regexp_extract_and_replace(spark, texts):
    columns = ", ".join(f"regexp_extract(s, {_quoted(p)}, {g}), regexp_replace(s, {_quoted(p)}, {_quoted(r)})"
                        for p, g, r in EXTRACTS)
    compare(spark, f"SELECT id, {columns}, regexp_extract(s, '(a)') FROM rt")
    assert not fallback_reasons(spark), fallback_reasons(spark)


@pytest.mark.parametrize("sql, reason", [
    ("regexp_extract(s, '(a)', 2)", "group 2 of 1"),
    ("regexp_extract(s, 'a$', 0)", "a `$`"),
    ("regexp_replace(s, 'x*', '-')", "it matches an empty string"),
    ("regexp_replace(s, '(a)', '$2')", "no group 2"),
    ("regexp_replace(s, 'a', '$')", "group index is missing"),
])
def test_other_extracts_and_replacements_stay_on_spark(spark, texts, sql, reason):
    # (Rows without an `a`: where one matches, Spark raises the group and replacement errors.)
    compare(spark, f"SELECT id, {sql} FROM rt WHERE s NOT LIKE '%a%'", native=None)
    assert any(reason in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_digests(spark, texts):
    # md5, sha1, sha2 and crc32 of the strings' UTF-8 bytes (non-ASCII and line terminators among them).
    compare(spark, "SELECT id, md5(s), sha1(s), sha2(s, 0), sha2(s, 224), sha2(s, 256), sha2(s, 384), sha2(s, 512), "
                   "crc32(s), md5(upper(s)) = md5(s) FROM rt")
    assert not fallback_reasons(spark), fallback_reasons(spark)
    # A bit length Spark does not know: null there, and it stays there.
    compare(spark, "SELECT id, sha2(s, 100) FROM rt", native=None)
    assert any("sha2" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_translate(spark, texts):
    compare(spark, "SELECT id, translate(s, 'abc', 'xyz'), translate(s, 'aA\u00e9\n', 'b'), translate(s, 'aa', 'xy'), "
                   "translate(s, '', 'x'), translate(s, 'xyz01', '\u00e9\u00c9-') FROM rt")
    assert not fallback_reasons(spark), fallback_reasons(spark)
