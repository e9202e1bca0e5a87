from conftest import fallback_reasons, settings
from test_random import random_tables  # noqa: F401


def run(spark, sql):
    out = []
    for enabled in ("false", "true"):
        spark.conf.set("spark.cinder.enabled", enabled)
        try:
            out.append(("rows", len(spark.sql(sql).collect())))
        except Exception as e:
            out.append(("error", str(e).splitlines()[0][:150]))
    spark.conf.set("spark.cinder.enabled", "true")
    return out


def test_probe(spark, random_tables):
    conf = {"spark.sql.ansi.enabled": "true", "spark.sql.session.timeZone": "Asia/Kolkata",
            "spark.sql.parquet.filterPushdown": "false"}
    with settings(spark, conf):
        print("MIN ROWS", spark.sql("SELECT k, i, d, s FROM ru WHERE i = -2147483648").collect())
        for sql in [
            "SELECT /*+ MERGE(b) */ b.i AS g0, count(*) AS n FROM rt a JOIN ru b ON a.q = b.d WHERE ((b.d / 9) BETWEEN -24776 AND 24264 OR length(rtrim(b.s)) >= (-b.i)) GROUP BY b.i",
            "SELECT b.k FROM ru b WHERE ((b.d / 9) BETWEEN -24776 AND 24264 OR length(rtrim(b.s)) >= (-b.i))",
            "SELECT b.k FROM ru b WHERE b.d IS NOT NULL AND ((b.d / 9) BETWEEN -24776 AND 24264 OR length(rtrim(b.s)) >= (-b.i))",
            "SELECT b.k FROM ru b WHERE ((b.d / 9) BETWEEN -24776 AND 24264 OR length(b.s) >= (-b.i))",
            "SELECT b.k FROM ru b WHERE (b.d > 0 OR length(rtrim(b.s)) >= (-b.i))",
        ]:
            print("Q", sql[:90], run(spark, sql))
            spark.sql(sql).explain()
