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
import json
import math
import os
import time

from pyspark.sql import SparkSession

# {table} is the whole table, or one row in 500 for the comparison.
QUERIES = {
    "sort_int": "SELECT * FROM {table} ORDER BY k, id",
    "sort_double_desc": "SELECT * FROM {table} ORDER BY x DESC, id",
    "sort_string": "SELECT * FROM {table} ORDER BY name, id",
    "sort_decimal_multi": "SELECT * FROM {table} ORDER BY p DESC NULLS LAST, g, id",
    "aggregate_then_sort": "SELECT g, sum(x) AS total, count(*) AS n FROM {table} GROUP BY g ORDER BY total DESC, g",
}


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
    return a == b


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
    results = []
    print(f"{'query':<22}{'Spark ms':>10}{'Cinder ms':>11}{'speedup':>9}  agree  left on Spark")
    for name, template in QUERIES.items():
        sql = template.format(table="s")
        spark_ms = best_time(spark, sql, "false", args.iterations)
        jvm.clear()
        cinder_ms = best_time(spark, sql, "true", args.iterations)
        # (The noop sink, OverwriteByExpression, is Spark's in both runs.)
        left = sorted(set(str(r) for r in jvm.fallbackReasons() if not str(r).startswith("OverwriteByExpression")))
        sample = template.format(table="s_sample")
        expected, got = rows(spark, sample, "false"), rows(spark, sample, "true")
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
        raise SystemExit("sort_spark: the engines disagree")


if __name__ == "__main__":
    main()
