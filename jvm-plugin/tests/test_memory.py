"""spark.cinder.memory.taskLimit: under it, native sorts and aggregations spill (to Spark's
local directories) and still give Spark's answers; a join that needs more fails, naming the
setting."""

import pytest

from conftest import compare, fallback_reasons, settings
from test_aggregate import many  # noqa: F401 (fixture)

LIMITED = {"spark.cinder.memory.taskLimit": "16m", "spark.sql.adaptive.enabled": "false",
           "spark.sql.ansi.enabled": "false"}


def _native_spill(df):
    """The native spill size of every native subtree in `df`'s executed plan."""
    total, nodes = 0, [df._jdf.queryExecution().executedPlan()]
    while nodes:
        node = nodes.pop()
        metrics = node.metrics()
        if metrics.contains("spillSize"):
            total += metrics.apply("spillSize").value()
        children = node.children()
        nodes += [children.apply(i) for i in range(children.size())]
    return total


@pytest.mark.parametrize("sql", [
    "SELECT id, s, x FROM many ORDER BY s DESC, id",
    "SELECT id, count(*), max(s), sum(x) FROM many GROUP BY id",
    "SELECT s, count(*), min(id), avg(x) FROM many GROUP BY s",
    # Four rows a group, in every spilled run: the buffers merge (max_by, try_sum, sketches...).
    "SELECT id % 100000 AS g, count(*), approx_count_distinct(s, 0.3), max_by(s, id), min(x), max(x), "
    "sum(id), try_sum(id), avg(id) FROM many GROUP BY id % 100000",
    # Spark's serialized percentile buffers and quantile summaries, spilled and merged.
    "SELECT id % 100000 AS g, median(x), percentile(id, 0.3), percentile_disc(0.5) WITHIN GROUP (ORDER BY x), "
    "percentile_approx(CAST(x AS DOUBLE), 0.5), percentile_approx(id, 0.25, 100) "
    "FROM many GROUP BY id % 100000",
])
def test_sorts_and_aggregations_spill_under_the_limit(spark, many, sql):  # noqa: F811
    compare(spark, sql, conf=LIMITED)
    with settings(spark, LIMITED):
        df = spark.sql(sql)
        df.collect()
        assert _native_spill(df) > 0
    with settings(spark, {**LIMITED, "spark.cinder.memory.taskLimit": "0"}):
        df = spark.sql(sql)
        df.collect()
        assert _native_spill(df) == 0


def test_a_join_past_the_limit_fails_naming_the_setting(spark, many):  # noqa: F811
    sql = "SELECT /*+ SHUFFLE_HASH(b) */ count(*), sum(a.x) FROM many a JOIN many b ON a.id = b.id"
    compare(spark, sql, conf={"spark.sql.adaptive.enabled": "false"})
    with settings(spark, {**LIMITED, "spark.cinder.memory.taskLimit": "1m"}):
        with pytest.raises(Exception, match="spark.cinder.memory.taskLimit"):
            spark.sql(sql).collect()


def test_a_malformed_limit_keeps_the_subtree_on_spark(spark, many):  # noqa: F811
    compare(spark, "SELECT id FROM many ORDER BY s, id", native=False,
            conf={"spark.cinder.memory.taskLimit": "a lot"})
    reasons = fallback_reasons(spark)
    assert any("spark.cinder.memory.taskLimit must be a size in bytes (such as 512m), not 'a lot'" in r
               for r in reasons), reasons
