"""One local Spark session with Cinder's plugin for the whole test run.

The jar comes from jvm-plugin/build.sh (CINDER_JAR overrides its path). Each test compares a
query's rows with the plugin's conversion off (vanilla Spark) and on, and checks where the
operators ran.
"""

import contextlib
import glob
import math
import os
import shutil
import tempfile
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

HERE = os.path.dirname(os.path.abspath(__file__))


def _jar():
    jar = os.environ.get("CINDER_JAR")
    if jar:
        return jar
    jars = sorted(glob.glob(os.path.join(HERE, "..", "target", "cinder-spark_2.13-*.jar")))
    if not jars:
        pytest.exit("no plugin jar: run jvm-plugin/build.sh first", returncode=2)
    return os.path.abspath(jars[-1])


# Where the JVM writes its report if it crashes (a SIGSEGV in native code, say).
CRASH_REPORTS = os.path.join(tempfile.gettempdir(), "cinder-spark-tests-hs_err")
_jvm = {}


@pytest.fixture(scope="session")
def spark():
    os.makedirs(CRASH_REPORTS, exist_ok=True)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cinder-plugin-tests")
        .config("spark.jars", _jar())
        .config("spark.plugins", "org.apache.spark.sql.cinder.CinderPlugin")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # C1 only (the tests run short queries), with room for the code of the thousands of
        # classes Spark generates: C1's default 48 MiB code cache fills about 130 tests in, and
        # the next generated class fails with a VirtualMachineError that ends the JVM.
        .config("spark.driver.extraJavaOptions",
                f"-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m "
                f"-XX:ErrorFile={CRASH_REPORTS}/hs_err_pid%p.log")
        .config("spark.cinder.device", os.environ.get("CINDER_SPARK_DEVICE", "auto"))
        .getOrCreate()
    )
    _jvm["process"] = session.sparkContext._gateway.proc
    yield session
    session.stop()


def pytest_unconfigure(config):
    """If the Spark JVM died during the run, says how (its exit status, and the head of its
    crash report), after pytest's own summary: the end of the output, which CI logs keep."""
    process = _jvm.get("process")
    status = process.poll() if process is not None else None
    if status is None:
        return
    meaning = {-9: "SIGKILL (the kernel's OOM killer?)", -11: "SIGSEGV", -6: "SIGABRT", 134: "SIGABRT",
               52: "Spark's exit for an OutOfMemoryError (a thread it could not start, or the heap)",
               50: "Spark's exit for an error no thread caught (a VirtualMachineError such as a full "
                   "CodeCache: see the SparkUncaughtExceptionHandler line above)"}
    print(f"The Spark JVM exited during the run with status {status}: "
          f"{meaning.get(status, 'see its output above')}", flush=True)
    for report in sorted(glob.glob(os.path.join(CRASH_REPORTS, "hs_err_pid*.log"))):
        with open(report, errors="replace") as f:
            head = f.read().splitlines()[:40]
        print(f"--- {report} (first 40 lines)", *head, sep="\n", flush=True)


@pytest.fixture(scope="session")
def data_dir():
    path = tempfile.mkdtemp(prefix="cinder-spark-tests-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _key(value):
    """Sort key: None first, NaN equal to NaN, floats rounded so near-equal sums sort alike."""
    if value is None:
        return (0, "")
    if isinstance(value, float):
        if math.isnan(value):
            return (1, "NaN")
        return (2, f"{value:.9g}")
    return (2, repr(value))


def normalise(rows):
    return sorted((tuple(row) for row in rows), key=lambda row: tuple(_key(v) for v in row))


def same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        # Float sums depend on the order of addition (partitioning, threads): Spark itself
        # agrees with itself only this far.
        return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    return a == b and type(a) is type(b)


def equal_values(a, b):
    """The same value exactly: floats equal (NaN equal to NaN), no tolerance; other values equal
    and of the same type; arrays element by element."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal_values(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b and type(a) is type(b)


def rows_equal(got, expected):
    got, expected = normalise(got), normalise(expected)
    if len(got) != len(expected):
        return False
    return all(len(g) == len(e) and all(same(x, y) for x, y in zip(g, e)) for g, e in zip(got, expected))


def executed_plan(df):
    return df._jdf.queryExecution().executedPlan().toString()


def native_subtrees(spark):
    return list(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.nativeSubtrees())


def fallback_reasons(spark):
    return list(spark._jvm.org.apache.spark.sql.cinder.CinderExplain.fallbackReasons())


@contextlib.contextmanager
def settings(spark, conf):
    """Sets `conf` for the block, then gives each key back its previous value: the session's
    own (unsetting would fall back to Spark's default, e.g. 200 shuffle partitions)."""
    conf = dict(conf or {})
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def run_both(spark, sql, conf=None):
    """Runs `sql` with `conf` on vanilla Spark, then with Cinder (its explain record cleared
    first): (Spark's rows, Cinder's rows, Cinder's executed plan)."""
    with settings(spark, conf):
        try:
            spark.conf.set("spark.cinder.enabled", "false")
            expected = spark.sql(sql).collect()
            spark.conf.set("spark.cinder.enabled", "true")
            spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
            df = spark.sql(sql)
            got = df.collect()
            return expected, got, executed_plan(df)
        finally:
            spark.conf.set("spark.cinder.enabled", "true")


def compare(spark, sql, native=True, conf=None):
    """Runs `sql` on vanilla Spark and with Cinder; asserts equal rows; returns the Cinder plan.

    native=True asserts the plan has a CinderNativeExec, False that it has none, None neither.
    """
    expected, got, plan = run_both(spark, sql, conf)
    assert rows_equal(got, expected), (
        f"rows differ for {sql}\ngot:      {normalise(got)[:20]}\nexpected: {normalise(expected)[:20]}"
        f"\nplan:\n{plan}")
    if native is True:
        assert "CinderNativeExec" in plan, f"expected a native subtree for {sql}:\n{plan}"
    elif native is False:
        assert "CinderNativeExec" not in plan, f"expected no native subtree for {sql}:\n{plan}"
    return plan


def error_kind(e):
    """What an application sees of a failure: pyspark's exception class (ArithmeticException,
    NumberFormatException, ...: which of Spark's Java exceptions it was), Spark's error class and
    SQLSTATE (None for an exception without them)."""
    error_class = getattr(e, "getCondition", lambda: None)()
    sql_state = getattr(e, "getSqlState", lambda: None)()
    return type(e).__name__, error_class, sql_state


def fails_alike(spark, sql, match, conf=None):
    """Asserts `sql` fails with an error matching `match` both on vanilla Spark and with
    Cinder, as the same exception (pyspark's class, Spark's error class and SQLSTATE), and that
    with Cinder a native subtree was planned (so the native side failed)."""
    kinds = []
    with settings(spark, conf):
        try:
            for enabled in ("false", "true"):
                spark.conf.set("spark.cinder.enabled", enabled)
                spark._jvm.org.apache.spark.sql.cinder.CinderExplain.clear()
                with pytest.raises(Exception, match=match) as raised:
                    spark.sql(sql).collect()
                kinds.append(error_kind(raised.value))
            assert native_subtrees(spark), f"expected a native subtree for {sql}: {fallback_reasons(spark)}"
        finally:
            spark.conf.set("spark.cinder.enabled", "true")
    assert kinds[0] == kinds[1], f"{sql}: Spark raised {kinds[0]}, Cinder {kinds[1]}"


D = Decimal
