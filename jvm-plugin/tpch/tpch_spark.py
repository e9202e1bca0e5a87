"""TPC-H through Spark SQL, vanilla Spark against Spark with Cinder's plugin, in one session.

Reads the Parquet tables `cinder tpch` generates (`<data>/<table>/part-*.parquet`) and the 22
queries in benches/tpch/queries. For each query it runs a warm-up and `--iterations` timed runs
with the plugin off (`spark.cinder.enabled=false`: vanilla Spark) and on, checks that both give
the same rows, and lists the operators that stayed on Spark with their reasons.

    spark-submit --master 'local[2]' --driver-memory 8g \\
        --jars jvm-plugin/target/cinder-spark_2.13-<version>.jar \\
        --conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin \\
        jvm-plugin/tpch/tpch_spark.py --data ~/.cache/cinder/tpch/sf1 --output results.json

jvm-plugin/tpch/bench.sh does that end to end; jvm-plugin/tests/test_tpch.py runs it at SF0.01.
"""

import argparse
import json
import math
import os
import re
import sys
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
QUERIES = os.path.join(HERE, "..", "..", "benches", "tpch", "queries")
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]

# The operators the plugin runs natively; each one left on Spark is listed with its reason.
NATIVE_OPERATORS = ("Scan", "Filter", "Project", "HashAggregate", "BroadcastHashJoin", "ShuffledHashJoin",
                    "SortMergeJoin", "Sort", "TakeOrderedAndProject", "LocalLimit", "GlobalLimit")


def statements(query):
    """The statements of query `query`: Spark SQL (a view is a temporary view)."""
    with open(os.path.join(QUERIES, f"q{query}.sql")) as f:
        text = f.read()
    out = []
    for statement in text.split(";"):
        statement = statement.strip()
        if not statement:
            continue
        statement = re.sub(r"^create view", "create or replace temporary view", statement, flags=re.I)
        out.append(statement)
    return out


def register(spark, data):
    for table in TABLES:
        path = os.path.join(data, table)
        if not os.path.isdir(path):
            raise SystemExit(f"tpch_spark: no table {table} under {data}: generate the data with "
                             f"`cargo run --release -p cinder-bench -- tpch --scale SF --data {data}`")
        spark.read.parquet(path).createOrReplaceTempView(table)


def run(spark, query, frames=None):
    """Runs the query's statements; returns the rows of the one that returns rows (its
    DataFrame goes to `frames` when given)."""
    rows = None
    for statement in statements(query):
        if statement.lower().startswith(("create", "drop")):
            spark.sql(statement)
        else:
            df = spark.sql(statement)
            rows = df.collect()
            if frames is not None:
                frames.append(df)
    return rows


def boundary(spark, df):
    """What crossed between Spark and native subtrees in `df`'s last execution (see
    CinderExplain.boundaryMetrics): rows each way, and the measured rows-to-Arrow time."""
    metrics = dict(explain_api(spark).boundaryMetrics(df._jdf.queryExecution().executedPlan()))
    return {
        "native_subtrees": metrics["nativeSubtrees"],
        "rows_to_arrow": metrics["rowsToArrow"],
        "rows_to_arrow_ms": metrics["rowsToArrowNanos"] / 1e6,
        "native_ms": metrics["nativeNanos"] / 1e6,
        "arrow_to_rows": metrics["arrowToRows"],
        "native_shuffles": metrics["nativeShuffles"],
        "native_shuffle_rows": metrics["nativeShuffleRows"],
        "native_shuffle_bytes": metrics["nativeShuffleBytes"],
    }


def conversion_probe(spark, table="lineitem"):
    """What Spark's ColumnarToRow costs over native batches: all of `table`'s columns read
    natively, as batches only and as rows (best of 3 each)."""
    spark.conf.set("spark.cinder.enabled", "true")
    plan = spark.sql(f"SELECT * FROM {table}")._jdf.queryExecution().executedPlan()
    runs = [list(explain_api(spark).timeArrowToRows(plan)) for _ in range(4)][1:]
    batch_ns = min(r[0] for r in runs)
    row_ns = min(r[1] for r in runs)
    rows = runs[0][2]
    return {"table": table, "rows": rows, "columns": len(spark.table(table).columns),
            "batches_ms": batch_ns / 1e6, "through_rows_ms": row_ns / 1e6,
            "arrow_to_rows_ns_per_row": (row_ns - batch_ns) / rows if rows else None}


def _key(value):
    if value is None:
        return (0, "")
    if isinstance(value, float):
        return (1, "NaN") if math.isnan(value) else (2, f"{value:.9g}")
    return (2, repr(value))


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return a == b and type(a) is type(b)


def same_rows(got, expected):
    """Equal as multisets (TPC-H orders its results, but ties may come in any order)."""
    def norm(rows):
        return sorted((tuple(r) for r in rows), key=lambda r: tuple(_key(v) for v in r))
    got, expected = norm(got), norm(expected)
    return len(got) == len(expected) and all(
        len(g) == len(e) and all(_same(x, y) for x, y in zip(g, e)) for g, e in zip(got, expected))


def explain_api(spark):
    return spark._jvm.org.apache.spark.sql.cinder.CinderExplain


def stays_on_spark(spark):
    """`node: reason` for each scan, filter, project, aggregate or join left on Spark since the
    last clear."""
    reasons = list(explain_api(spark).fallbackReasons())
    return sorted({r for r in reasons if r.split(":")[0].strip().startswith(NATIVE_OPERATORS)})


def run_query(spark, query, iterations):
    """One query on vanilla Spark and with Cinder: times (ms), rows, agreement, what stayed."""
    result = {"query": query}
    answers = {}
    for label, enabled in (("spark", "false"), ("cinder", "true")):
        spark.conf.set("spark.cinder.enabled", enabled)
        explain_api(spark).clear()
        try:
            frames = []
            answers[label] = run(spark, query, frames)  # warm-up, and the answer checked
            times = []
            for _ in range(iterations):
                started = time.perf_counter()
                run(spark, query, frames)
                times.append((time.perf_counter() - started) * 1000)
            result[f"{label}_ms"] = min(times) if times else None
            if label == "cinder" and frames:
                result["boundary"] = boundary(spark, frames[-1])
        except Exception as e:  # noqa: BLE001 (reported per query)
            result[f"{label}_error"] = str(e).splitlines()[0][:500]
            answers[label] = None
        if label == "cinder":
            result["stays_on_spark"] = stays_on_spark(spark)
    spark.conf.set("spark.cinder.enabled", "true")
    result["rows"] = None if answers["spark"] is None else len(answers["spark"])
    result["agree"] = (answers["spark"] is not None and answers["cinder"] is not None
                       and same_rows(answers["cinder"], answers["spark"]))
    if result.get("spark_ms") and result.get("cinder_ms"):
        result["speedup"] = result["spark_ms"] / result["cinder_ms"]
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="TPC-H Parquet directory from `cinder tpch`")
    parser.add_argument("--queries", default="", help="comma-separated query numbers (default: all 22)")
    parser.add_argument("--iterations", type=int, default=1, help="timed runs per query and engine")
    parser.add_argument("--output", help="write the results here as JSON")
    parser.add_argument("--conversion-probe", action="store_true",
                        help="first time Spark's ColumnarToRow over natively read lineitem")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("cinder-tpch").getOrCreate()
    if "CinderPlugin" not in spark.conf.get("spark.plugins", ""):
        raise SystemExit("tpch_spark: run with --conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin")
    register(spark, os.path.expanduser(args.data))
    queries = [int(q) for q in args.queries.split(",") if q] or list(range(1, 23))
    results = []
    probe = None
    if args.conversion_probe:
        probe = conversion_probe(spark)
        print(f"ColumnarToRow over {probe['table']} ({probe['rows']} rows, {probe['columns']} columns): batches "
              f"{probe['batches_ms']:.0f} ms, through rows {probe['through_rows_ms']:.0f} ms: "
              f"{probe['arrow_to_rows_ns_per_row']:.0f} ns per row", flush=True)
    print(f"{'query':>5} {'Spark ms':>10} {'Cinder ms':>10} {'speedup':>8} {'rows':>6} agree  stays on Spark")
    for query in queries:
        r = run_query(spark, query, args.iterations)
        results.append(r)
        fmt = lambda v: f"{v:10.0f}" if v is not None else f"{'failed':>10}"  # noqa: E731
        speedup = f"{r['speedup']:7.2f}x" if r.get("speedup") else f"{'-':>8}"
        print(f"{query:>5} {fmt(r.get('spark_ms'))} {fmt(r.get('cinder_ms'))} {speedup} {r['rows'] or 0:>6} "
              f"{'yes' if r['agree'] else 'NO':5}  {len(r['stays_on_spark'])} operator(s)", flush=True)
        if "boundary" in r:
            b = r["boundary"]
            print(f"        rows to Arrow {b['rows_to_arrow']} ({b['rows_to_arrow_ms']:.0f} ms), Arrow to rows "
                  f"{b['arrow_to_rows']}, native {b['native_ms']:.0f} ms, {b['native_shuffles']} native "
                  f"shuffle(s) of {b['native_shuffle_rows']} rows")
        for reason in r["stays_on_spark"]:
            print(f"        {reason}")
        for label in ("spark", "cinder"):
            if f"{label}_error" in r:
                print(f"        {label} failed: {r[label + '_error']}")
    timed = [r for r in results if r.get("spark_ms") and r.get("cinder_ms")]
    total_spark = sum(r["spark_ms"] for r in timed)
    total_cinder = sum(r["cinder_ms"] for r in timed)
    summary = {
        "queries": len(results),
        "agree": sum(r["agree"] for r in results),
        "total_spark_ms": total_spark,
        "total_cinder_ms": total_cinder,
        "ratio": total_cinder / total_spark if total_spark else None,
        "geomean_speedup": math.exp(sum(math.log(r["speedup"]) for r in timed) / len(timed)) if timed else None,
        "rows_to_arrow": sum(r.get("boundary", {}).get("rows_to_arrow", 0) for r in results),
        "rows_to_arrow_ms": sum(r.get("boundary", {}).get("rows_to_arrow_ms", 0) for r in results),
        "arrow_to_rows": sum(r.get("boundary", {}).get("arrow_to_rows", 0) for r in results),
        "native_ms": sum(r.get("boundary", {}).get("native_ms", 0) for r in results),
        "native_shuffle_rows": sum(r.get("boundary", {}).get("native_shuffle_rows", 0) for r in results),
        "native_shuffle_bytes": sum(r.get("boundary", {}).get("native_shuffle_bytes", 0) for r in results),
    }
    if probe and probe["arrow_to_rows_ns_per_row"] is not None:
        summary["arrow_to_rows_ms_estimated"] = summary["arrow_to_rows"] * probe["arrow_to_rows_ns_per_row"] / 1e6
    print(f"total over {len(timed)} queries: Spark {total_spark:.0f} ms, Cinder {total_cinder:.0f} ms "
          f"(Cinder/Spark {summary['ratio'] or 0:.2f}), {summary['agree']}/{len(results)} agree")
    print(f"at the native boundaries: {summary['rows_to_arrow']} rows to Arrow in "
          f"{summary['rows_to_arrow_ms']:.0f} ms, {summary['arrow_to_rows']} rows from Arrow"
          + (f" (~{summary['arrow_to_rows_ms_estimated']:.0f} ms at the probe's rate)"
             if "arrow_to_rows_ms_estimated" in summary else "")
          + f"; native calls {summary['native_ms']:.0f} ms (best runs, both tasks' threads summed); "
          f"{summary['native_shuffle_rows']} rows through native shuffles "
          f"({summary['native_shuffle_bytes'] / 1e6:.0f} MB of Arrow blocks)")
    if args.output:
        settings = {k: spark.conf.get(k, None) for k in ("spark.master", "spark.cinder.device",
                                                          "spark.sql.shuffle.partitions", "spark.driver.memory",
                                                          "spark.cinder.shuffle.enabled")}
        with open(args.output, "w") as f:
            json.dump({"settings": settings, "summary": summary, "conversion_probe": probe, "queries": results}, f,
                      indent=2)
    spark.stop()
    return 0 if summary["agree"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
