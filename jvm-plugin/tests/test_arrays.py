"""Arrays (Spark's ArrayType, as Arrow lists) pass through native operators: read from Parquet,
filtered, projected, joined, sorted, shuffled, unioned and returned to Spark as they are; size,
a[i], element_at and array_contains of them run natively, with Spark's errors."""

import os

import pytest

from conftest import compare, fails_alike, fallback_reasons, native_subtrees, run_both, settings

COLUMNS = {
    "a": "IF(id % 11 = 0, NULL, IF(id % 7 = 0, CAST(array() AS array<int>), "
         "array(CAST(id AS INT), IF(id % 3 = 0, NULL, CAST(id * 2 AS INT)), CAST(-id AS INT))))",
    "s": "IF(id % 13 = 0, NULL, split(concat('x', id, ',h\u00e9llo', id % 5, ',,'), ','))",
    "d": "array(-0.0D, id * 0.5, IF(id % 4 = 0, NULL, 1.0D / (id + 1)), IF(id % 9 = 0, CAST('NaN' AS DOUBLE), 1e300))",
    "dec": "array(CAST(id / 7 AS DECIMAL(20, 2)), NULL, CAST(id AS DECIMAL(38, 0)) * 1000000000000000000)",
    "sd": "array(CAST(id / 3 AS DECIMAL(9, 3)))",
    "n": "IF(id % 17 = 0, NULL, array(sequence(0, id % 4), IF(id % 5 = 0, NULL, array(id)), array()))",
    "nn": "sequence(0, id % 5)",
    "dt": "array(date_add(DATE'2020-01-01', CAST(id AS INT)), DATE'0001-01-01')",
    "b": "array(id % 2 = 0, NULL, true)",
    "by": "array(CAST(concat('b', id) AS BINARY))",
    "sm": "array(CAST(id AS SMALLINT), CAST(-id % 128 AS TINYINT), NULL)",
    "f": "array(CAST(id / 3 AS FLOAT))",
    "str": "IF(id % 19 = 0, NULL, concat('x', id, ',h\u00e9llo', id % 5, ',,', IF(id % 3 = 0, '', ';y.z')))",
}


TIMESTAMPS = "array(timestamp_seconds(id * 100000), NULL, TIMESTAMP'1500-06-01 00:00:00 UTC')"


@pytest.fixture(scope="module")
def timestamps(spark, data_dir):
    path = os.path.join(data_dir, "array_timestamps")
    spark.range(0, 500).selectExpr("id", "CAST(id % 10 AS INT) AS k", f"{TIMESTAMPS} AS ts") \
        .write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("arr_ts")
    return path


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
        compare(spark, f"SELECT x.id, x.a, x.n, y.s, y.dec, y.dt FROM arr x {how} arr y ON x.id = y.id + 1 "
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


@pytest.mark.parametrize("rows", ["8192", "3", "1"])
def test_rows_from_spark_operators_carry_arrays(spark, arrays, rows):
    # Spark's own shuffle (rows), read natively a batch at a time; small batches whose arrays
    # are all null or empty have no elements at all.
    conf = {"spark.cinder.shuffle.enabled": "false", "spark.cinder.batchRows": rows}
    compare(spark, "SELECT id, a, s, n, dt, b, sm, f, dec, by FROM arr ORDER BY k, id", conf=conf)
    compare(spark, "SELECT id, a, s, n FROM arr WHERE a IS NULL OR size(a) = 0 ORDER BY k, id", conf=conf)
    # And a broadcast build side.
    compare(spark, "SELECT x.id, y.a, y.n FROM arr x JOIN arr y ON x.id = y.id WHERE y.a IS NULL OR size(y.a) = 0",
            conf=conf)


def test_spilled_sorts_keep_arrays(spark, arrays):
    compare(spark, "SELECT id, a, s, n, dec FROM arr ORDER BY id % 97, id DESC",
            conf={"spark.cinder.memory.taskLimit": "1m", "spark.cinder.batchRows": "64"})


def test_what_stays_on_spark_says_why(spark, arrays):
    compare(spark, "SELECT a, count(*) FROM arr GROUP BY a", native=None)
    assert any("values are native only as columns" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, array_repeat(a, 2) FROM arr WHERE k = 3", native=None)
    assert any("array_repeat" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, filter(a, x -> x > 1) FROM arr WHERE k = 3", native=None)
    assert any("filter" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, sort_array(n) FROM arr WHERE k = 3", native=None)
    assert any("sort_array of arrays of arrays" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, array_contains(a, 3L) FROM arr WHERE k = 3", native=None)
    assert any("(making an array<bigint>) is not native yet" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)


LEGACY = {"spark.sql.ansi.enabled": "false"}
ANSI = {"spark.sql.ansi.enabled": "true"}


@pytest.mark.parametrize("conf", [ANSI, LEGACY], ids=["ansi", "legacy"])
def test_size_and_null_tests(spark, arrays, conf):
    compare(spark, "SELECT id, size(a), cardinality(s), size(n), size(nn), array_size(a), size(d), a IS NULL, "
                   "n IS NOT NULL FROM arr", conf=conf)
    _everything_native(spark)
    compare(spark, "SELECT id FROM arr WHERE a IS NOT NULL AND size(s) = 4 AND size(n) > k % 3", conf=conf)
    _everything_native(spark)


def test_elements_in_legacy_mode_are_null_out_of_bounds(spark, arrays):
    compare(spark, "SELECT id, a[0], a[2], a[-1], a[id % 5], s[1], s[CAST(k AS BIGINT)], n[0], n[1][0], n[0][id % 3], "
                   "element_at(a, 1), element_at(a, -1), element_at(a, -4), element_at(s, 3), element_at(n, -2), "
                   "d[3], dec[2], sd[0], dt[0], b[1], by[0], sm[1], f[0], nn[4] FROM arr", conf=LEGACY)
    _everything_native(spark)


def test_elements_in_ansi_mode(spark, arrays):
    compare(spark, "SELECT id, a[0], a[2], element_at(a, -3), try_element_at(a, 7), try_element_at(s, -9), "
                   "get(a, 5), get(a, -1), get(n, 1), n[0][0], element_at(s, 4), d[3], dec[2], dt[1], b[2], "
                   "by[0], sm[2], f[0] FROM arr WHERE size(a) = 3", conf=ANSI)
    _everything_native(spark)


def test_index_errors_are_sparks(spark, arrays):
    fails_alike(spark, "SELECT id, a[3] FROM arr", "INVALID_ARRAY_INDEX", conf=ANSI)
    fails_alike(spark, "SELECT id, a[-1] FROM arr", "INVALID_ARRAY_INDEX", conf=ANSI)
    fails_alike(spark, "SELECT id, element_at(s, 5) FROM arr", "INVALID_ARRAY_INDEX_IN_ELEMENT_AT", conf=ANSI)
    fails_alike(spark, "SELECT id, element_at(a, -4) FROM arr WHERE size(a) > 0", "INVALID_ARRAY_INDEX_IN_ELEMENT_AT",
                conf=ANSI)
    for conf in (ANSI, LEGACY):
        fails_alike(spark, "SELECT id, element_at(a, k - k) FROM arr", "INVALID_INDEX_OF_ZERO", conf=conf)


@pytest.mark.parametrize("conf", [ANSI, LEGACY], ids=["ansi", "legacy"])
def test_array_contains(spark, arrays, conf):
    compare(spark, "SELECT id, array_contains(a, 3), array_contains(a, CAST(id * 2 AS INT)), "
                   "array_contains(a, CAST(NULL AS INT)), array_contains(s, 'h\u00e9llo2'), array_contains(s, ''), "
                   "array_contains(d, 0.0), array_contains(d, CAST('NaN' AS DOUBLE)), array_contains(d, -0.0D), "
                   "array_contains(dec, dec[0]), array_contains(dec, CAST(k AS DECIMAL(20, 2))), array_contains(nn, id % 3), "
                   "array_contains(b, false), "
                   "array_contains(by, CAST('b7' AS BINARY)), array_contains(n[0], 2L), "
                   "array_contains(dt, DATE'0001-01-01') FROM arr", conf=conf)
    _everything_native(spark)
    compare(spark, "SELECT id, s FROM arr WHERE array_contains(a, CAST(-id AS INT)) AND NOT array_contains(s, '')",
            conf=conf)
    _everything_native(spark)


@pytest.mark.parametrize("generator", ["explode", "posexplode", "explode_outer", "posexplode_outer"])
def test_explode(spark, arrays, generator):
    for column in ("a", "s", "n", "nn", "d", "dec", "dt", "b", "by", "sm", "f", "n[1]"):
        compare(spark, f"SELECT id, k, {generator}({column}) FROM arr")
        _everything_native(spark)
        assert any("Generate" in n for n in native_subtrees(spark)), native_subtrees(spark)
    # Generated columns used above it: filtered, aggregated, joined.
    compare(spark, f"SELECT k, count(*), sum(x) FROM (SELECT k, {generator}(a) AS x FROM arr) GROUP BY k"
            if "pos" not in generator else
            f"SELECT k, count(*), sum(p), sum(x) FROM (SELECT k, {generator}(a) AS (p, x) FROM arr) GROUP BY k")
    _everything_native(spark)


def test_lateral_views_and_generate_order(spark, arrays):
    compare(spark, "SELECT id, x FROM arr LATERAL VIEW explode(s) t AS x WHERE x <> '' AND id % 5 = 0")
    compare(spark, "SELECT id, p, x FROM arr LATERAL VIEW OUTER posexplode(a) t AS p, x WHERE k = 1")
    compare(spark, "SELECT id, x, y FROM arr LATERAL VIEW explode(n) t AS x LATERAL VIEW explode(x) u AS y")
    _everything_native(spark)
    # Rows come out in the input's order, each array's elements in turn: a native sort below
    # is kept.
    expected, got, _ = run_both(spark, "SELECT id, posexplode(a) FROM (SELECT * FROM arr ORDER BY id DESC LIMIT 40)")
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]
    # Many elements per row: more than one output batch per input batch.
    compare(spark, "SELECT k, count(*), sum(x) FROM (SELECT k, explode(nn) AS x FROM arr "
                   "LATERAL VIEW explode(sequence(1, 50)) t AS y) GROUP BY k", native=None)


def test_generators_that_stay_on_spark_say_why(spark, arrays):
    compare(spark, "SELECT id, explode(array_repeat(id, k)) FROM arr", native=None)
    assert any("array_repeat" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, stack(2, id, CAST(k AS BIGINT)) FROM arr", native=None)
    assert any("generator stack" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, explode(a) FROM arr", conf={"spark.cinder.generate.enabled": "false"})
    assert any("spark.cinder.generate.enabled is false" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_arrays_of_timestamps_are_read_on_spark(spark, timestamps):
    # DataFusion would misread INT96 timestamps in lists of Spark's legacy Parquet format; the
    # scan stays on Spark, and native operators above take the arrays from its rows.
    compare(spark, "SELECT * FROM arr_ts", native=False)
    assert any("arrays of timestamps are read on Spark" in r for r in fallback_reasons(spark)), \
        fallback_reasons(spark)
    compare(spark, "SELECT id, ts FROM arr_ts ORDER BY k, id")
    compare(spark, "SELECT k, count(*) FROM arr_ts GROUP BY k")
    with settings(spark, {"spark.sql.parquet.writeLegacyFormat": "true"}):
        path = timestamps + "_legacy"
        spark.range(0, 50).selectExpr("id", f"{TIMESTAMPS} AS ts").write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("arr_ts_legacy")
    compare(spark, "SELECT * FROM arr_ts_legacy", native=False)


def test_functions_that_can_fail_are_evaluated_where_spark_evaluates_them(spark, arrays):
    # Spark skips a[2] where the condition before it decides; natively too, so no error.
    compare(spark, "SELECT id, IF(size(a) > 2, a[2], -1), CASE WHEN size(s) > 3 THEN s[3] END FROM arr", conf=ANSI)
    compare(spark, "SELECT id FROM arr WHERE size(a) > 2 AND a[2] < 0", conf=ANSI)
    compare(spark, "SELECT id FROM arr WHERE size(a) < 3 OR a[2] < 0", conf=ANSI)
    compare(spark, "SELECT id FROM arr WHERE k = 1 AND size(a) = 3 AND a[2] < 0", conf=ANSI)
    compare(spark, "SELECT id, k = 1 AND size(a) = 3 AND a[2] < 0 FROM arr", conf=ANSI)
    # element_at(a, 0) fails in either mode, where Spark evaluates it.
    compare(spark, "SELECT id, IF(k % 4 = 0, -1, element_at(a, k % 4)) FROM arr", conf=LEGACY)
    compare(spark, "SELECT id, k = 1 OR element_at(a, k - 1) > 0 FROM arr", conf=LEGACY)
    # The index and the value are evaluated only where the array is not null.
    # (One query each: an expression in two of them would be computed first, on every row.)
    compare(spark, "SELECT id, n[1 div (id % 17)] FROM arr", conf=ANSI)
    compare(spark, "SELECT id, array_contains(a, CAST(1 div (id % 11) AS INT)) FROM arr", conf=ANSI)
    compare(spark, "SELECT id, element_at(n, CAST(1 + 1 div (id % 17) AS INT)) FROM arr", conf=ANSI)
    # A repeated element that can fail is computed once per row, before the projection.
    compare(spark, "SELECT id, size(n[id % 2]), n[id % 2][0] FROM arr WHERE n IS NOT NULL", conf=ANSI)
    _everything_native(spark)


@pytest.mark.parametrize("conf", [ANSI, LEGACY], ids=["ansi", "legacy"])
def test_split(spark, arrays, conf):
    compare(spark, "SELECT id, split(str, ','), split(str, ',', 2), split(str, ',', 1), split(str, ',', -5), "
                   "split(str, ',', 0), split(str, ''), split(str, '', 3), split(str, '', 100), split(str, '[0-9]+'), "
                   "split(str, 'l+'), split(str, '\\\\.'), split(str, ';|,'), split(str, '\u00e9'), "
                   "split(str, 'xyz'), split(str, '(?i)H'), size(split(str, ',')), split(str, ',')[1], "
                   "element_at(split(str, ';'), -1), array_contains(split(str, ','), '') FROM arr", conf=conf)
    _everything_native(spark)
    compare(spark, "SELECT id, x FROM arr LATERAL VIEW explode(split(str, ',')) t AS x WHERE x <> ''", conf=conf)
    compare(spark, "SELECT id, posexplode_outer(split(str, ';')) FROM arr", conf=conf)
    _everything_native(spark)


def test_splits_that_stay_on_spark_say_why(spark, arrays):
    compare(spark, "SELECT id, split(str, 'x*') FROM arr", native=None)
    assert any("matches an empty string" in r for r in fallback_reasons(spark)), fallback_reasons(spark)
    compare(spark, "SELECT id, split(str, '(?=,)') FROM arr", native=None)
    assert any("split pattern" in r for r in fallback_reasons(spark)), fallback_reasons(spark)


def test_array_max_and_min(spark, arrays):
    columns = ["a", "s", "d", "dec", "sd", "nn", "dt", "b", "by", "sm", "f", "n[0]", "split(str, ',')"]
    compare(spark, "SELECT id, " + ", ".join(f"array_max({c}), array_min({c})" for c in columns) + " FROM arr")
    _everything_native(spark)
    # Equal zeros: the first kept, its sign too (d starts -0.0, 0.0 for id 0).
    expected, got, _ = run_both(spark, "SELECT id, array_min(d), array_max(d) FROM arr WHERE id < 40")
    assert sorted(map(str, got)) == sorted(map(str, expected))


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


@pytest.mark.parametrize("conf", [ANSI, LEGACY], ids=["ansi", "legacy"])
def test_functions_that_make_arrays(spark, arrays, conf):
    compare(spark, "SELECT id, array(id, k), array(a, a), array(s[0], 'x', NULL), array(d[0], -0.0D, id * 1.5D), "
                   "array(dec[0], dec[2]), array(dt[0]), array(by[0], NULL), array(n[0], nn), array(b[0]), "
                   "concat(a, a), concat(s, split(str, ','), s), concat(n, n), concat(a, CAST(NULL AS array<int>)), "
                   "concat(a, array(1, 2)), concat(d, array(CAST('NaN' AS DOUBLE))), "
                   "reverse(a), reverse(s), reverse(n), reverse(dec), flatten(n), flatten(array(a, a)), "
                   "flatten(array(n[0], NULL)), array(1, 2, id) AS lit, array_compact(a), array_compact(n), "
                   "array_compact(d), array_compact(array(NULL, s[0], NULL)) FROM arr", conf=conf)
    _everything_native(spark)


def test_slice(spark, arrays):
    for conf in (ANSI, LEGACY):
        compare(spark, "SELECT id, slice(a, 1, 2), slice(s, -2, 5), slice(a, CAST(k % 3 + 1 AS INT), CAST(id % 3 AS INT)), "
                       "slice(a, 2, 2147483647), slice(s, -7, 2), slice(s, -4, 1), slice(n, 2, 1), slice(d, 4, 0), "
                       "slice(dec, -1, 1), slice(a, CAST(NULL AS INT), 1), slice(a, 1, CAST(NULL AS INT)) FROM arr",
                conf=conf)
        _everything_native(spark)
        fails_alike(spark, "SELECT id, slice(a, k - k, 1) FROM arr", "INVALID_PARAMETER_VALUE.START", conf=conf)
        fails_alike(spark, "SELECT id, slice(s, 1, k - 10) FROM arr", "INVALID_PARAMETER_VALUE.LENGTH", conf=conf)
    # Where the array is null Spark never looks at the bounds.
    compare(spark, "SELECT id, slice(a, CAST(IF(a IS NULL, 0, 1) AS INT), IF(a IS NULL, -1, 2)) FROM arr")
    compare(spark, "SELECT id, slice(a, 1 + 1 div (id % 11), 1) FROM arr", conf=ANSI)
    _everything_native(spark)


# Arrays Spark knows hold no null (so its generated code sorts a Java array of doubles).
# (id is nullable as Parquet gives it back: coalesce makes the elements not null.)
NOT_NULL_DOUBLES = "array(coalesce(id, 0L) * 0.5D, -0.0D, 0.0D, CAST(coalesce(id, 0L) % 3 - 1 AS DOUBLE) * 0.0D, " \
                   "CAST('NaN' AS DOUBLE), -coalesce(id, 0L) * 1.0D)"


def test_sort_array(spark, arrays):
    columns = ["a", "s", "d", "dec", "sd", "nn", "dt", "b", "by", "sm", "f", "n[0]", "split(str, ',')", NOT_NULL_DOUBLES]
    compare(spark, "SELECT id, " + ", ".join(f"sort_array({c}), sort_array({c}, false)" for c in columns) + " FROM arr")
    _everything_native(spark)
    # The sign of equal zeros: as they came (Spark's comparator), or -0.0 first (a primitive sort).
    expected, got, _ = run_both(spark, f"SELECT id, sort_array(d), sort_array(d, false), sort_array({NOT_NULL_DOUBLES}), "
                                       f"sort_array({NOT_NULL_DOUBLES}, false) FROM arr WHERE id < 40")
    assert sorted(map(str, got)) == sorted(map(str, expected))


def test_functions_that_compare_elements(spark, arrays):
    dups = "array(-0.0D, 0.0D, id * 0.0D, CAST('NaN' AS DOUBLE), -CAST('NaN' AS DOUBLE), NULL, 0.0D, NULL)"
    compare(spark, "SELECT id, array_distinct(a), array_distinct(s), array_distinct(d), array_distinct(dec), "
                   f"array_distinct(b), array_distinct(by), array_distinct({dups}), array_distinct(concat(nn, nn)), "
                   "array_distinct(concat(s, s)), array_distinct(dt), array_distinct(f), "
                   "array_remove(a, 3), array_remove(a, CAST(id * 2 AS INT)), array_remove(d, 0.0D), "
                   f"array_remove({dups}, CAST('NaN' AS DOUBLE)), array_remove(s, ''), array_remove(a, CAST(NULL AS INT)), "
                   "array_remove(dec, dec[0]), "
                   "array_position(a, CAST(-id AS INT)), array_position(d, -0.0D), array_position(s, ''), "
                   f"array_position(dec, dec[0]), array_position({dups}, CAST('NaN' AS DOUBLE)), "
                   "array_position(b, CAST(NULL AS BOOLEAN)), "
                   "arrays_overlap(a, array(3, NULL)), arrays_overlap(d, array(0.0D)), arrays_overlap(d, array(-0.0D)), "
                   f"arrays_overlap({dups}, array(CAST('NaN' AS DOUBLE))), arrays_overlap(a, a), "
                   "arrays_overlap(s, split(str, ';')), arrays_overlap(a, CAST(array() AS array<int>)), "
                   "arrays_overlap(array(CAST(NULL AS INT)), a) FROM arr")
    _everything_native(spark)
    compare(spark, "SELECT id FROM arr WHERE array_position(a, 3) > 0 OR size(array_distinct(s)) < 4")
    # (One query each: Spark computes an expression used twice first, on every row.)
    compare(spark, "SELECT id, array_remove(a, CAST(1 div (id % 11) AS INT)) FROM arr", conf=ANSI)
    compare(spark, "SELECT id, array_position(a, CAST(1 div (id % 11) AS INT)) FROM arr", conf=ANSI)
    _everything_native(spark)


def test_array_join(spark, arrays):
    compare(spark, "SELECT id, array_join(s, '|'), array_join(s, ', ', 'N'), array_join(split(str, ','), s[0]), "
                   "array_join(s, '-', s[1]), array_join(array(NULL, s[0], NULL), '/'), "
                   "array_join(array(NULL, s[0], NULL), '/', ''), array_join(CAST(array() AS array<string>), ',') "
                   "FROM arr")
    _everything_native(spark)


def test_arrays_chosen_by_conditions(spark, arrays):
    compare(spark, "SELECT id, IF(k > 4, a, array(1, 2)), CASE WHEN k = 1 THEN s WHEN k = 2 THEN split(str, ',') END, "
                   "coalesce(a, array(CAST(k AS INT)), CAST(NULL AS array<int>)), coalesce(n, array(nn)), "
                   "IF(k % 2 = 0, d, array(-0.0D, NULL)), size(IF(k > 3, s, NULL)) FROM arr")
    _everything_native(spark)
    # Spark evaluates a branch only where its condition holds.
    compare(spark, "SELECT id, IF(size(a) > 2, slice(a, a[2], 1), a) FROM arr", conf=ANSI)
    _everything_native(spark)


def test_array_union_intersect_except(spark, arrays):
    dups = "array(-0.0D, 0.0D, CAST('NaN' AS DOUBLE), NULL, 1.0D, -CAST('NaN' AS DOUBLE), NULL)"
    compare(spark, "SELECT id, " + ", ".join(
        f"array_{op}({x}, {y})" for op in ("union", "intersect", "except") for x, y in [
            ("a", "a"), ("a", "array(1, NULL, 3, CAST(-id AS INT))"), ("array(3, 3, NULL, NULL)", "a"),
            ("s", "split(str, ',')"), ("d", dups), (dups, "d"), ("dec", "array(dec[0], NULL)"), ("dt", "dt"),
            ("b", "array(true, NULL)"), ("by", "array(CAST('b3' AS BINARY))"), ("nn", "array(id % 3, 0L, NULL)"),
            ("a", "CAST(NULL AS array<int>)"), ("CAST(array() AS array<int>)", "a")]) + " FROM arr")
    _everything_native(spark)


def test_array_arguments_are_evaluated_where_spark_evaluates_them(spark, arrays):
    # (One query each: Spark computes an expression used twice first, on every row.)
    for sql, conf in [
        # slice can fail (start 0, negative length): kept from the rows Spark skips.
        ("SELECT id, array_position(a, size(slice(s, IF(a IS NULL, 0, 1), 1))) FROM arr", ANSI),
        ("SELECT id, IF(k = 3, NULL, k) + size(slice(a, k - 3, 1)) FROM arr", LEGACY),
        ("SELECT id, (k <> 3) AND size(slice(a, k - 3, 1)) > 0 FROM arr", LEGACY),
        ("SELECT id, array_remove(a, size(slice(s, IF(a IS NULL, 0, 1), 1))) FROM arr", LEGACY),
        # concat stops at the first null array.
        ("SELECT id, concat(a, array(CAST(1 div IF(a IS NULL, 0, 1) AS INT))) FROM arr", ANSI),
        ("SELECT id, concat(a, slice(a, IF(a IS NULL, 0, 1), 1)) FROM arr", LEGACY),
        # array_join evaluates the null replacement first, then the array, then the delimiter.
        ("SELECT id, array_join(s, CAST(1 div IF(k = 3, 0, 1) AS STRING), IF(k = 3, NULL, 'N')) FROM arr", ANSI),
        ("SELECT id, array_join(slice(s, IF(k = 3, 0, 1), 2), ',', IF(k = 3, NULL, 'N')) FROM arr", LEGACY),
    ]:
        compare(spark, sql, conf=conf)
        _everything_native(spark)
    fails_alike(spark, "SELECT id, array_join(s, ',', CAST(1 div IF(s IS NULL, 0, 1) AS STRING)) FROM arr",
                "DIVIDE_BY_ZERO", conf=ANSI)
    compare(spark, "SELECT id, element_at(a, size(slice(s, IF(a IS NULL, 0, 1), 1))) FROM arr", conf=LEGACY)


@pytest.mark.parametrize("conf", [ANSI, LEGACY], ids=["ansi", "legacy"])
def test_sequence(spark, arrays, conf):
    compare(spark, "SELECT id, sequence(0, k), sequence(k, 0), sequence(0, CAST(id % 7 AS INT), 2), sequence(k, k), "
                   "sequence(CAST(k AS SMALLINT), CAST(-3 AS SMALLINT)), sequence(CAST(k AS TINYINT), 120Y, 50Y), "
                   "sequence(id, id + 3), sequence(-id, id, greatest(id, 1)), sequence(CAST(NULL AS INT), 3), "
                   "sequence(1, 5, CAST(NULL AS INT)), sequence(9223372036854775800L, 9223372036854775807L, 3L), "
                   "sequence(-9223372036854775807L - 1, -9223372036854775806L), size(sequence(1, k * 100)) FROM arr",
            conf=conf)
    _everything_native(spark)
    compare(spark, "SELECT id, x FROM arr LATERAL VIEW explode(sequence(1, k)) t AS x WHERE id % 5 = 0", conf=conf)
    _everything_native(spark)
    fails_alike(spark, "SELECT id, sequence(5, k, 1) FROM arr", "Illegal sequence boundaries", conf=conf)
    fails_alike(spark, "SELECT id, sequence(k, 5, 0) FROM arr", "Illegal sequence boundaries", conf=conf)
    fails_alike(spark, "SELECT id, sequence(0L, 3000000000L + id) FROM arr", "COLLECTION_SIZE_LIMIT_EXCEEDED",
                conf=conf)
    fails_alike(spark, "SELECT id, sequence(-9223372036854775807L - 1 + id * 0, 9223372036854775807L) FROM arr",
                "COLLECTION_SIZE_LIMIT_EXCEEDED", conf=conf)
    # Only where Spark evaluates it.
    compare(spark, "SELECT id, IF(k < 5, sequence(5, k, -1), NULL) FROM arr", conf=conf)
