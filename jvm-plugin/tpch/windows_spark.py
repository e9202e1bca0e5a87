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
import json
import math
import os
import time

from pyspark.sql import SparkSession

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


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


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
    results = []
    print(f"{'query':<22}{'Spark ms':>10}{'Cinder ms':>11}{'speedup':>9}  agree  left on Spark")
    for name, sql in QUERIES.items():
        spark_ms, expected = best_time(spark, sql, "false", args.iterations)
        jvm.clear()
        cinder_ms, got = best_time(spark, sql, "true", args.iterations)
        left = sorted(set(str(r) for r in jvm.fallbackReasons()))
        agree = len(got) == len(expected) and all(
            all(same(a, b) for a, b in zip(g, e)) for g, e in zip(got, expected))
        results.append({"query": name, "sql": sql, "spark_ms": round(spark_ms, 1),
                        "cinder_ms": round(cinder_ms, 1), "agree": agree, "left_on_spark": left})
        print(f"{name:<22}{spark_ms:>10.0f}{cinder_ms:>11.0f}{spark_ms / cinder_ms:>8.2f}x  "
              f"{'yes' if agree else 'NO':<5}  {'; '.join(left) or '-'}")
    spark_total = sum(r["spark_ms"] for r in results)
    cinder_total = sum(r["cinder_ms"] for r in results)
    print(f"total: Spark {spark_total:.0f} ms, Cinder {cinder_total:.0f} ms "
          f"(Cinder/Spark {cinder_total / spark_total:.2f}), {sum(r['agree'] for r in results)}/"
          f"{len(results)} agree")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"rows": args.rows, "iterations": args.iterations, "queries": results,
                       "spark_total_ms": spark_total, "cinder_total_ms": cinder_total}, f, indent=2)
    if not all(r["agree"] for r in results):
        raise SystemExit("windows_spark: the engines disagree")


if __name__ == "__main__":
    main()
