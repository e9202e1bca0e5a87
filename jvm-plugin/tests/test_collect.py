"""collect_list (array_agg) and collect_set run natively: Spark's buffer (the list, or the Scala
HashSet in its iteration order, serialized as an UnsafeRow of one array) between the stages, the
values in the order Spark's gives them."""

import os

import pytest

from conftest import fallback_reasons, native_subtrees
from test_percentile import exactly
from test_plugin import table  # noqa: F401 (fixture)

LISTS = ("collect_list(i), collect_list(l), collect_list(x), collect_list(f), collect_list(s), collect_list(d), "
         "collect_list(p), collect_list(q), collect_list(b), collect_list(t), collect_list(sm), "
         "array_agg(CAST(id AS TIMESTAMP)), collect_list(i) FILTER (WHERE b), "
         "count(*)")


def _stages(spark):
    subtrees = native_subtrees(spark)
    return {stage for stage in ("partial", "merge", "final") if any(f"HashAggregate({stage})" in n for n in subtrees)}


def ordered(spark, sql, conf=None):
    """`sql`'s rows with Cinder are vanilla Spark's, each list's elements in Spark's order."""
    return exactly(spark, sql, conf)


@pytest.mark.parametrize("group_by", ["", "b", "id % 7", "s", "id"])
def test_collect_list_is_sparks(spark, table, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    # One task reads the files: its rows in the files' order, the same with Cinder.
    conf = {"spark.sql.files.maxPartitionBytes": "1g", "spark.sql.files.minPartitionNum": "1"}
    ordered(spark, f"SELECT {keys}{LISTS} FROM t{tail}", conf)
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))


def test_lists_used_above_the_aggregate(spark, table):
    # Over a native global sort: each partition's rows in order, the buffers in map order.
    ordered(spark, "SELECT id % 7, collect_list(id), collect_list(s) FROM (SELECT * FROM t ORDER BY id) GROUP BY id % 7")
    ordered(spark, "SELECT id % 5 AS k, size(collect_list(i)), collect_list(s)[0], element_at(collect_list(x), -1) "
                   "FROM t GROUP BY id % 5 ORDER BY k")
    ordered(spark, "SELECT k, x FROM (SELECT id % 3 AS k, collect_list(i) AS l FROM t GROUP BY id % 3) "
                   "LATERAL VIEW explode(l) e AS x")


def test_final_stage_emits_groups_in_sparks_order(spark, table):
    # Past the threshold, Spark's final stage too emits its groups sorted by their keys: an
    # order-dependent aggregate above it sees them in that order.
    conf = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false",
            "spark.sql.files.maxPartitionBytes": "1g", "spark.sql.files.minPartitionNum": "1"}
    ordered(spark, "SELECT collect_list(k), sum(size(l)) FROM (SELECT id % 300 AS k, collect_list(id) AS l "
                   "FROM t GROUP BY id % 300)", conf)
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))


def test_no_rows_and_all_nulls(spark, table):
    ordered(spark, "SELECT collect_list(i), count(*) FROM t WHERE id < 0")
    ordered(spark, "SELECT b, collect_list(i) FROM t WHERE id < 0 GROUP BY b")
    ordered(spark, "SELECT id % 3, collect_list(CAST(NULL AS INT)), collect_list(IF(id > 2990, s, NULL)) FROM t "
                   "GROUP BY id % 3")


@pytest.mark.parametrize("threshold", ["1", "3", "10"])
def test_sort_based_fallback_order(spark, table, threshold):
    # Past the fallback threshold of groups, Spark reads a task's remaining rows sorted by their
    # keys, each group's later rows into a new list, to which the earlier one is appended. One
    # map task: each group has one buffer in the final stage (whose own fallback then cannot
    # reorder them).
    conf = {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": threshold,
            "spark.sql.files.maxPartitionBytes": "1g", "spark.sql.files.minPartitionNum": "1"}
    ordered(spark, "SELECT id % 13, collect_list(id), collect_list(s) FROM t GROUP BY id % 13", conf)
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))
    # Several map tasks, and the final stage's own fallback: it reads the partial stages'
    # groups in their keys' order, as Spark's emit them once they fell back.
    conf = {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": threshold,
            "spark.sql.files.maxPartitionBytes": "16k", "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    ordered(spark, "SELECT id % 13, collect_list(id), collect_list(s) FROM t GROUP BY id % 13", conf)
    ordered(spark, "SELECT s, collect_list(id), percentile_approx(i, 0.5, 5) FROM t GROUP BY s", conf)


def test_default_fallback_with_many_groups(spark, table):
    # Over Spark's default threshold (128 groups) in both stages.
    conf = {"spark.sql.files.maxPartitionBytes": "16k", "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    ordered(spark, "SELECT id % 500, collect_list(id), collect_list(x) FROM t GROUP BY id % 500", conf)
    ordered(spark, "SELECT id % 500, collect_list(id) FROM t GROUP BY id % 500")


def test_either_stage_can_stay_on_spark(spark, table):
    # Spark's final stage reads the native partial buffers, and the other way round.
    sql = "SELECT id % 4, collect_list(i), collect_list(s), collect_list(q) FROM t GROUP BY id % 4"
    for switch in ("spark.cinder.shuffle.enabled", "spark.cinder.aggregate.enabled"):
        ordered(spark, sql, {switch: "false", "spark.sql.files.maxPartitionBytes": "1g",
                             "spark.sql.files.minPartitionNum": "1"})


def test_what_stays_on_spark_says_why(spark, table):
    ordered(spark, "SELECT collect_list(array(i)) FROM t")
    assert any("collect_list" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    ordered(spark, "SELECT collect_set(p) FROM t")
    assert any("collect_set of decimal(15,2) is not native" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


# The set's order is Scala's HashSet's: by each value's hash (boxed numbers', UTF8String's
# Murmur3), the table's size following how the set was filled (adds, merges); NaN never equals
# another, -0.0 equals 0.0 (the first kept).
SETS = ("collect_set(i), collect_set(l), collect_set(x), collect_set(f), collect_set(s), collect_set(b), "
        # Floats around 2^31, whose Scala hash is the int 2^31 - 1's (Java compares as floats).
        "collect_set(CAST(i AS FLOAT)), collect_set(CAST(2147483000 + id % 1000 AS FLOAT)), "
        "collect_set(t), collect_set(sm), collect_set(d), collect_set(CAST(id AS TIMESTAMP)), "
        "collect_set(id * 1000003), collect_set(x * 1e10), collect_set(CAST(f * 3 AS FLOAT) / 7), "
        "collect_set(concat(s, id % 50)), collect_set(i) FILTER (WHERE b), count(*)")


@pytest.mark.parametrize("group_by", ["", "b", "id % 7", "s", "id % 400"])
def test_collect_set_is_sparks(spark, table, group_by):
    keys = f"{group_by}, " if group_by else ""
    tail = f" GROUP BY {group_by}" if group_by else ""
    ordered(spark, f"SELECT {keys}{SETS} FROM t{tail}")
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))
    # Several map tasks, each group's buffers merged in the final stage.
    conf = {"spark.sql.files.maxPartitionBytes": "16k", "spark.sql.shuffle.partitions": "2",
            "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    ordered(spark, f"SELECT {keys}{SETS} FROM t{tail}", conf)


@pytest.mark.parametrize("threshold", ["1", "3", "10"])
def test_collect_set_past_the_sort_based_fallback(spark, table, threshold):
    # Past the threshold, every group of the task goes through Spark's sort-based aggregation:
    # a new set (of the later rows), into which the earlier one is merged, which sizes the
    # table by the earlier set.
    for files in ("1g", "16k"):
        conf = {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": threshold,
                "spark.sql.files.maxPartitionBytes": files, "spark.sql.files.minPartitionNum": "1",
                "spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.coalescePartitions.enabled": "false"}
        ordered(spark, "SELECT id % 13, collect_set(id), collect_set(s), collect_set(x), collect_set(id % 40) "
                       "FROM t GROUP BY id % 13", conf)
        ordered(spark, "SELECT s, collect_set(id % 100), collect_list(i) FROM t GROUP BY s", conf)


def test_collect_set_either_stage_can_stay_on_spark(spark, table):
    sql = "SELECT id % 4, collect_set(i), collect_set(s), collect_set(x), collect_set(id) FROM t GROUP BY id % 4"
    for switch in ("spark.cinder.shuffle.enabled", "spark.cinder.aggregate.enabled"):
        ordered(spark, sql, {switch: "false", "spark.sql.files.maxPartitionBytes": "16k"})


def test_collect_set_final_stage_fallback_resizes_every_group(spark, data_dir):
    # Group 0's two buffers (0..5 and 16..21) both reach the final stage before it falls back
    # (at its 2nd group): merged, its set holds 12 values in a table of 16. Past the switch,
    # Spark's sort-based aggregation merges it into a new set sized for 12 (32), although no
    # later buffer of group 0 came: the order differs (0, 16, 1, 17, ... in 16 buckets).
    path = os.path.join(data_dir, "set_fallback")
    spark.createDataFrame([(0, v) for v in range(6)] * 2000, "k INT, v INT").coalesce(1) \
        .write.mode("overwrite").parquet(path)
    spark.createDataFrame([(0, v) for v in range(16, 22)] + [(1, 1), (2, 2)], "k INT, v INT").coalesce(1) \
        .write.mode("append").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("set_fallback")
    conf = {"spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "2",
            "spark.sql.files.maxPartitionBytes": "1k", "spark.sql.shuffle.partitions": "1",
            "spark.sql.adaptive.enabled": "false"}
    ordered(spark, "SELECT k, collect_set(v) FROM set_fallback GROUP BY k", conf)
    assert _stages(spark) == {"partial", "final"}, (native_subtrees(spark), fallback_reasons(spark))
