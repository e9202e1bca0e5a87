"""Global sorts through Spark SQL (a range exchange, then a sort per partition), vanilla Spark
against Spark with Cinder's plugin, in one session: a table Spark generates (`--rows` rows,
written to Parquet once under `--data`), sorted by keys of each type into Spark's noop sink
(every row sorted and handed to Spark, none kept). For each query: a warm-up and
`--iterations` timed runs per engine (the best counts); then the same query over one row in
500 is collected from both, in order, and compared; the operators left on Spark are listed.

    spark-submit --master 'local[2]' --driver-memory 8g \\
        --jars jvm-plugin/target/cinder-spark_2.13-<version>.jar \\
        --conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin \\
        jvm-plugin/tpch/sort_spark.py --data /tmp/cinder-sorts --output results.json
"""

import argparse
import os
import time

from pyspark.sql import SparkSession

from engine_report import Report, agree

# {table} is the whole table, or one row in 500 for the comparison.
QUERIES = {
    "sort_int": "SELECT * FROM {table} ORDER BY k, id",
    "sort_double_desc": "SELECT * FROM {table} ORDER BY x DESC, id",
    "sort_string": "SELECT * FROM {table} ORDER BY name, id",
    "sort_decimal_multi": "SELECT * FROM {table} ORDER BY p DESC NULLS LAST, g, id",
    "aggregate_then_sort": "SELECT g, sum(x) AS total, count(*) AS n FROM {table} GROUP BY g ORDER BY total DESC, g",
}



def best_time(spark, sql, enabled, iterations):
    spark.conf.set("spark.cinder.enabled", enabled)
    run = lambda: spark.sql(sql).write.format("noop").mode("overwrite").save()  # noqa: E731
    run()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def rows(spark, sql, enabled):
    spark.conf.set("spark.cinder.enabled", enabled)
    return spark.sql(sql).collect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--output")
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    path = os.path.join(args.data, f"s{args.rows}")
    if not os.path.isdir(path):
        spark.conf.set("spark.cinder.enabled", "false")
        spark.range(args.rows).selectExpr(
            "id", "id % 10000 AS g", "cast(rand(1) * 1000000 AS int) AS k", "rand(2) AS x",
            "IF(rand(3) < 0.05, NULL, cast(rand(4) * 10000 AS decimal(12, 2))) AS p",
            "concat('name-', cast(cast(rand(5) * 100000 AS int) AS string)) AS name").repartition(4) \
            .write.parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("s")
    spark.read.parquet(path).where("id % 500 = 7").createOrReplaceTempView("s_sample")
    jvm = spark._jvm.org.apache.spark.sql.cinder.CinderExplain
    report = Report("sort_spark")
    for name, template in QUERIES.items():
        sql = template.format(table="s")
        spark_ms = best_time(spark, sql, "false", args.iterations)
        jvm.clear()
        cinder_ms = best_time(spark, sql, "true", args.iterations)
        # (The noop sink, OverwriteByExpression, is Spark's in both runs.)
        left = sorted(set(str(r) for r in jvm.fallbackReasons() if not str(r).startswith("OverwriteByExpression")))
        sample = template.format(table="s_sample")
        expected, got = rows(spark, sample, "false"), rows(spark, sample, "true")
        report.add(name, sql, spark_ms, cinder_ms, agree(got, expected), left)
    report.finish(args)


if __name__ == "__main__":
    main()
