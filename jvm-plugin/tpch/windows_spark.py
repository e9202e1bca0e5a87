"""Window functions through Spark SQL, vanilla Spark against Spark with Cinder's plugin, in one
session: a table Spark generates (`--rows` rows in 10,000 partition groups, written to Parquet
once under `--data`), and window queries of each kind the plugin runs natively (ranking,
a per-group top-3 through WindowGroupLimitExec, running and sliding frames, lag and lead).
For each query: a warm-up and `--iterations` timed runs per engine (the best counts), the rows
of both compared, and the operators left on Spark listed.

    spark-submit --master 'local[2]' --driver-memory 8g \\
        --jars jvm-plugin/target/cinder-spark_2.13-<version>.jar \\
        --conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin \\
        jvm-plugin/tpch/windows_spark.py --data /tmp/cinder-windows --output results.json
"""

import argparse
import os
import time

from pyspark.sql import SparkSession

from engine_report import Report, agree

QUERIES = {
    "rank": "SELECT sum(r), count(*) FROM (SELECT rank() OVER (PARTITION BY g ORDER BY k) AS r FROM w)",
    "top3_per_group": "SELECT count(*), sum(k) FROM (SELECT k, row_number() OVER (PARTITION BY g ORDER BY k, id) "
                      "AS rn FROM w) WHERE rn <= 3",
    "running_sum_double": "SELECT sum(s) FROM (SELECT sum(x) OVER (PARTITION BY g ORDER BY id) AS s FROM w)",
    "running_count_min": "SELECT sum(c), sum(m) FROM (SELECT count(k) OVER (PARTITION BY g ORDER BY k) AS c, "
                         "min(k) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS m "
                         "FROM w)",
    "sliding_avg_decimal": "SELECT sum(a) FROM (SELECT avg(p) OVER (PARTITION BY g ORDER BY id "
                           "ROWS BETWEEN 5 PRECEDING AND 5 FOLLOWING) AS a FROM w)",
    "lag_lead": "SELECT count(*) FROM (SELECT lag(k) OVER (PARTITION BY g ORDER BY id) AS a, "
                "lead(x, 2) OVER (PARTITION BY g ORDER BY id) AS b FROM w) WHERE a > 500 OR b > 0.5",
}



def best_time(spark, sql, enabled, iterations):
    spark.conf.set("spark.cinder.enabled", enabled)
    rows = spark.sql(sql).collect()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        spark.sql(sql).collect()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--output")
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    path = os.path.join(args.data, f"w{args.rows}")
    if not os.path.isdir(path):
        spark.conf.set("spark.cinder.enabled", "false")
        spark.range(args.rows).selectExpr(
            "id", "id % 10000 AS g", "cast(rand(1) * 1000 AS int) AS k", "rand(2) AS x",
            "cast(rand(3) * 10000 AS decimal(12, 2)) AS p").repartition(4).write.parquet(path)
    spark.read.parquet(path).createOrReplaceTempView("w")
    jvm = spark._jvm.org.apache.spark.sql.cinder.CinderExplain
    report = Report("windows_spark")
    for name, sql in QUERIES.items():
        spark_ms, expected = best_time(spark, sql, "false", args.iterations)
        jvm.clear()
        cinder_ms, got = best_time(spark, sql, "true", args.iterations)
        left = sorted(set(str(r) for r in jvm.fallbackReasons()))
        report.add(name, sql, spark_ms, cinder_ms, agree(got, expected), left)
    report.finish(args)


if __name__ == "__main__":
    main()
