"""Arrays (Spark's ArrayType, as Arrow lists) pass through native operators: read from Parquet,
filtered, projected, joined, sorted, shuffled, unioned and returned to Spark as they are."""

import os

import pytest

from conftest import compare, fallback_reasons, native_subtrees, settings

COLUMNS = {
    "a": "IF(id % 11 = 0, NULL, IF(id % 7 = 0, CAST(array() AS array<int>), "
         "array(CAST(id AS INT), IF(id % 3 = 0, NULL, CAST(id * 2 AS INT)), CAST(-id AS INT))))",
    "s": "IF(id % 13 = 0, NULL, split(concat('x', id, ',h\u00e9llo', id % 5, ',,'), ','))",
    "d": "array(id * 0.5, -0.0, IF(id % 4 = 0, NULL, 1.0D / (id + 1)), IF(id % 9 = 0, CAST('NaN' AS DOUBLE), 1e300))",
    "dec": "array(CAST(id / 7 AS DECIMAL(20, 2)), NULL, CAST(id AS DECIMAL(38, 0)) * 1000000000000000000)",
    "sd": "array(CAST(id / 3 AS DECIMAL(9, 3)))",
    "n": "IF(id % 17 = 0, NULL, array(sequence(0, id % 4), IF(id % 5 = 0, NULL, array(id)), array()))",
    "nn": "sequence(0, id % 5)",
    "ts": "array(timestamp_seconds(id * 100000), NULL)",
    "dt": "array(date_add(DATE'2020-01-01', CAST(id AS INT)), DATE'0001-01-01')",
    "b": "array(id % 2 = 0, NULL, true)",
    "by": "array(CAST(concat('b', id) AS BINARY))",
    "sm": "array(CAST(id AS SMALLINT), CAST(-id % 128 AS TINYINT), NULL)",
    "f": "array(CAST(id / 3 AS FLOAT))",
}


@pytest.fixture(scope="module")
def arrays(spark, data_dir):
    path = os.path.join(data_dir, "arrays")
    exprs = ["id", "CAST(id % 10 AS INT) AS k"] + [f"{e} AS {name}" for name, e in COLUMNS.items()]
    spark.range(0, 2000).selectExpr(*exprs).repartition(3).write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("arr")
    return path


def _everything_native(spark):
    reasons = fallback_reasons(spark)
    assert not reasons, reasons


def test_scan_returns_arrays(spark, arrays):
    types = dict(spark.table("arr").dtypes)
    assert types["nn"] == "array<bigint>" and types["n"] == "array<array<bigint>>", types
    compare(spark, "SELECT * FROM arr")
    _everything_native(spark)
    assert any("ParquetScan" in n for n in native_subtrees(spark))


def test_filter_and_project_pass_arrays_through(spark, arrays):
    compare(spark, "SELECT id, a, n, s AS renamed, id * 2 FROM arr WHERE id % 3 = 1 AND k < 8")
    _everything_native(spark)
    compare(spark, "SELECT * FROM arr WHERE id % 3 = 1 LIMIT 37")


@pytest.mark.parametrize("broadcast", ["10MB", "-1"])
def test_joins_carry_arrays(spark, arrays, broadcast):
    conf = {"spark.sql.autoBroadcastJoinThreshold": broadcast}
    for how in ("JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"):
        if how == "FULL JOIN" and broadcast != "-1":
            continue
        compare(spark, f"SELECT x.id, x.a, x.n, y.s, y.dec, y.ts FROM arr x {how} arr y ON x.id = y.id + 1 "
                       "AND y.id < 1500", conf=conf)
        _everything_native(spark)
    compare(spark, "SELECT * FROM arr x WHERE EXISTS (SELECT 1 FROM arr y WHERE y.id = x.id * 2)", conf=conf)


def test_sorts_shuffles_and_unions_carry_arrays(spark, arrays):
    compare(spark, "SELECT id, a, s, n FROM arr ORDER BY k DESC, id LIMIT 50")
    compare(spark, "SELECT id, a, d, n FROM arr ORDER BY k, id DESC")
    _everything_native(spark)
    compare(spark, "SELECT /*+ REPARTITION(5, k) */ id, a, s, dec, by FROM arr")
    compare(spark, "SELECT id, a FROM arr UNION ALL SELECT id + 10000, a FROM arr WHERE id < 10")
    compare(spark, "SELECT id, a, n, row_number() OVER (PARTITION BY k ORDER BY id) AS r FROM arr")
    _everything_native(spark)


def test_rows_from_spark_operators_carry_arrays(spark, arrays):
    # Spark's own shuffle (rows), read natively a batch at a time.
    compare(spark, "SELECT id, a, s, n, dt, b, sm, f FROM arr ORDER BY k, id",
            conf={"spark.cinder.shuffle.enabled": "false"})


def test_spilled_sorts_keep_arrays(spark, arrays):
    compare(spark, "SELECT id, a, s, n, dec FROM arr ORDER BY id % 97, id DESC",
            conf={"spark.cinder.memory.taskLimit": "1m", "spark.cinder.batchRows": "64"})


def test_expressions_over_arrays_stay_on_spark_and_say_why(spark, arrays):
    compare(spark, "SELECT a, count(*) FROM arr GROUP BY a", native=None)
    assert any("only pass through native operators" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id FROM arr WHERE a IS NOT NULL AND k = 3", native=None)
    assert any("only pass through native operators" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_native_shuffles_report_sparks_data_size_for_arrays(spark, arrays):
    # As test_shuffle's: each array's UnsafeArrayData (nested ones too) counted as Spark does.
    sql = "SELECT /*+ REPARTITION(3, k) */ * FROM arr"

    def sizes(enabled):
        with settings(spark, {"spark.cinder.enabled": enabled}):
            df = spark.sql(sql)
            df.collect()
            return list(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.shuffleDataSizes(
                df._jdf.queryExecution().executedPlan()))
    spark_sizes, native_sizes = sizes("false"), sizes("true")
    assert len(spark_sizes) == 1 and spark_sizes[0] > 0, spark_sizes
    assert native_sizes == spark_sizes
