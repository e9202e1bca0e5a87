"""Binary columns natively: scanned, compared (bytes unsigned, as Spark), grouped, joined,
sorted, shuffled and hashed as Spark does; functions of binary values stay on Spark."""

import os

import pytest
from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType

from conftest import compare, fallback_reasons, native_subtrees

SCHEMA = StructType([
    StructField("id", LongType(), False),
    StructField("k", IntegerType(), True),
    StructField("bin", BinaryType(), True),
    StructField("other", BinaryType(), True),
])


def _bytes(n):
    """Row n's value: nulls, empty, duplicates, bytes past 0x7f (unsigned order), prefixes."""
    values = [None, b"", b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00",
              b"abc", b"ab", "héllo".encode(), bytes(range(40)), bytes([n % 256, (n * 7) % 256])]
    return values[n % len(values)]


@pytest.fixture(scope="module")
def bt(spark, data_dir):
    path = os.path.join(data_dir, "bt")
    rows = [(n, None if n % 9 == 0 else n % 23, _bytes(n), _bytes(n * 5 + 1)) for n in range(4000)]
    spark.createDataFrame(rows, SCHEMA).repartition(3).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("bt")
    return path


def _no_binary_reasons(spark):
    reasons = [r for r in fallback_reasons(spark) if "binary" in r]
    assert not reasons, reasons


def test_scan_filter_project(spark, bt):
    compare(spark, "SELECT id, bin, other FROM bt WHERE bin > X'10' OR bin IS NULL OR bin = X'00FF'")
    _no_binary_reasons(spark)
    compare(spark, "SELECT id, bin = other, bin < other, bin <=> other, coalesce(bin, other), "
                   "CASE WHEN k > 5 THEN bin ELSE X'CAFE' END FROM bt WHERE bin IN (X'01', X'FF', X'', X'6162')")
    _no_binary_reasons(spark)


def test_sorted_and_grouped(spark, bt):
    compare(spark, "SELECT id, bin FROM bt ORDER BY bin DESC NULLS LAST, id")
    compare(spark, "SELECT bin, count(*), min(id), max(other), min(other) FROM bt GROUP BY bin")
    compare(spark, "SELECT k, max(bin), min(bin), count(bin), first(bin) IGNORE NULLS FROM bt "
                   "WHERE id % 23 = k GROUP BY k")
    _no_binary_reasons(spark)
    assert any("HashAggregate(final)" in n for n in native_subtrees(spark)), native_subtrees(spark)


@pytest.mark.parametrize("hint", ["BROADCAST(b)", "SHUFFLE_HASH(b)", "MERGE(b)"])
def test_joined_on_binary_keys(spark, bt, hint):
    compare(spark, f"SELECT /*+ {hint} */ a.id, b.id, a.bin, b.other FROM bt a JOIN bt b ON a.bin = b.other "
                   "WHERE a.id < 300 AND b.id < 600")
    compare(spark, f"SELECT /*+ {hint} */ a.id, b.other FROM bt a LEFT JOIN bt b ON a.bin = b.bin AND a.k = b.k "
                   "WHERE a.id < 200")
    _no_binary_reasons(spark)


def test_hashed_and_counted(spark, bt):
    compare(spark, "SELECT id, hash(bin), xxhash64(bin, k), hash(other, bin) FROM bt")
    compare(spark, "SELECT k, approx_count_distinct(bin), approx_count_distinct(other, 0.01) FROM bt GROUP BY k")
    _no_binary_reasons(spark)


def test_windows_over_binary(spark, bt):
    compare(spark, "SELECT id, row_number() OVER (PARTITION BY bin ORDER BY id), "
                   "max(other) OVER (PARTITION BY k ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
                   "lag(bin, 1, X'00') OVER (PARTITION BY k ORDER BY id) FROM bt")
    assert any("Window" in n for n in native_subtrees(spark)), fallback_reasons(spark)


def test_greatest_least_and_max_by(spark, bt):
    compare(spark, "SELECT id, greatest(bin, other, X'80'), least(other, bin) FROM bt")
    # (Orderings without ties: which row of a tie wins depends on the order the rows come.)
    compare(spark, "SELECT max_by(id, bin), min_by(id, bin) FROM bt WHERE id < 14")
    compare(spark, "SELECT k, max_by(bin, id), min_by(other, id) FROM bt GROUP BY k")
    _no_binary_reasons(spark)


def test_digests(spark, bt):
    compare(spark, "SELECT id, md5(bin), sha1(other), sha2(bin, 256), sha2(other, 512), sha2(bin, 224), "
                   "crc32(bin), md5(CAST(k AS STRING)) FROM bt")
    _no_binary_reasons(spark)
    assert not fallback_reasons(spark), fallback_reasons(spark)


def test_functions_of_binary_values_stay_on_spark(spark, bt):
    compare(spark, "SELECT id, length(bin), hex(other), CAST(bin AS STRING) FROM bt WHERE id < 100", native=None)
