"""What the small Spark benchmarks (windows_spark.py, sort_spark.py) share: comparing the two
engines' rows and reporting each query's times, the total and the raw results."""

import json
import math


def same(a, b):
    """Two values alike: floats within 1e-9 of each other (NaN equal to NaN), others equal."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
    return a == b


def agree(got, expected):
    """The same rows in the same order."""
    return len(got) == len(expected) and all(
        len(g) == len(e) and all(same(a, b) for a, b in zip(g, e)) for g, e in zip(got, expected))


class Report:
    """Prints a line per query as it comes, then the total; writes the raw results."""

    def __init__(self, name):
        self.name = name
        self.results = []
        print(f"{'query':<22}{'Spark ms':>10}{'Cinder ms':>11}{'speedup':>9}  agree  left on Spark")

    def add(self, query, sql, spark_ms, cinder_ms, agreed, left):
        self.results.append({"query": query, "sql": sql, "spark_ms": round(spark_ms, 1),
                             "cinder_ms": round(cinder_ms, 1), "agree": agreed, "left_on_spark": left})
        print(f"{query:<22}{spark_ms:>10.0f}{cinder_ms:>11.0f}{spark_ms / cinder_ms:>8.2f}x  "
              f"{'yes' if agreed else 'NO':<5}  {'; '.join(left) or '-'}")

    def finish(self, args):
        """The total; the results as JSON in `args.output` (with `args.rows` and
        `args.iterations`); a failing exit where the engines disagree."""
        spark_total = sum(r["spark_ms"] for r in self.results)
        cinder_total = sum(r["cinder_ms"] for r in self.results)
        agreed = sum(r["agree"] for r in self.results)
        print(f"total: Spark {spark_total:.0f} ms, Cinder {cinder_total:.0f} ms "
              f"(Cinder/Spark {cinder_total / spark_total:.2f}), {agreed}/{len(self.results)} agree")
        if args.output:
            with open(args.output, "w") as f:
                json.dump({"rows": args.rows, "iterations": args.iterations, "queries": self.results,
                           "spark_total_ms": spark_total, "cinder_total_ms": cinder_total}, f, indent=2)
        if agreed != len(self.results):
            raise SystemExit(f"{self.name}: the engines disagree")
