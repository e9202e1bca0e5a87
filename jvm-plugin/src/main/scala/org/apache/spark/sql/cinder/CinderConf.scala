package org.apache.spark.sql.cinder

import org.apache.spark.sql.internal.SQLConf

/** One setting: defined once, read from Spark's SQL conf, documented in docs/spark.md. */
final case class CinderConfEntry(key: String, kind: String, default: String, doc: String) {
  def raw(conf: SQLConf): String = conf.getConfString(key, default).trim

  def bool(conf: SQLConf): Boolean = raw(conf).toLowerCase match {
    case "true" => true
    case "false" => false
    case other => throw new IllegalArgumentException(s"$key must be true or false, not '$other'")
  }

  def choice(conf: SQLConf): String = {
    val value = raw(conf).toLowerCase
    val allowed = kind.split('|').map(_.toLowerCase)
    if (!allowed.contains(value)) {
      throw new IllegalArgumentException(s"$key must be one of ${allowed.mkString(", ")}, not '$value'")
    }
    value
  }

  def int(conf: SQLConf): Int = {
    val value = raw(conf)
    value.toIntOption.filter(_ > 0).getOrElse(
      throw new IllegalArgumentException(s"$key must be a positive integer, not '$value'"))
  }

  /** A size in bytes, as Spark reads them (`512m`, `2g`; a bare number is bytes). */
  def bytes(conf: SQLConf): Long = {
    val value = raw(conf)
    scala.util.Try(org.apache.spark.network.util.JavaUtils.byteStringAsBytes(value)).toOption.filter(_ >= 0)
      .getOrElse(throw new IllegalArgumentException(s"$key must be a size in bytes (such as 512m), not '$value'"))
  }
}

/** Cinder's Spark settings. `main` prints the table in docs/spark.md. */
object CinderConf {
  val Enabled = CinderConfEntry("spark.cinder.enabled", "boolean", "true",
    "Whether Cinder converts supported plan subtrees to native execution at all.")
  val Device = CinderConfEntry("spark.cinder.device", "auto|cuda|host|cpu", "auto",
    "Where native plans run: auto (Cinder's kernels on a CUDA device if there is one, else " +
      "DataFusion on the CPU), cuda (a CUDA device or an error), host (Cinder's host " +
      "reference, a correctness path), cpu (DataFusion only).")
  val Explain = CinderConfEntry("spark.cinder.explain", "NONE|NOT_ON_NATIVE|ALL", "NOT_ON_NATIVE",
    "What the plugin logs for each query plan: nothing, the operators that stay on Spark and " +
      "why, or also the native subtrees.")
  val BatchRows = CinderConfEntry("spark.cinder.batchRows", "integer", "8192",
    "Rows per batch the native scan produces.")
  val DeviceRegions = CinderConfEntry("spark.cinder.deviceRegions", "boolean", "false",
    "Experimental: Cinder's operators in a native plan hand their batches to each other on the " +
      "device instead of through host memory (Cinder's cinder.device_regions; it matters with " +
      "device = cuda).")
  val ScanEnabled = CinderConfEntry("spark.cinder.scan.enabled", "boolean", "true",
    "Whether Parquet scans (FileSourceScanExec) run natively.")
  val FilterEnabled = CinderConfEntry("spark.cinder.filter.enabled", "boolean", "true",
    "Whether FilterExec runs natively.")
  val ProjectEnabled = CinderConfEntry("spark.cinder.project.enabled", "boolean", "true",
    "Whether ProjectExec runs natively.")
  val ExpandEnabled = CinderConfEntry("spark.cinder.expand.enabled", "boolean", "true",
    "Whether ExpandExec (ROLLUP, CUBE, GROUPING SETS, several DISTINCT aggregates) runs natively.")

  val GenerateEnabled = CinderConfEntry("spark.cinder.generate.enabled", "boolean", "true",
    "Whether GenerateExec (explode and posexplode of an array, also outer and in LATERAL VIEW) runs natively.")

  val AggregateEnabled = CinderConfEntry("spark.cinder.aggregate.enabled", "boolean", "true",
    "Whether HashAggregateExec, SortAggregateExec and ObjectHashAggregateExec run natively (partial and final " +
      "stages).")

  val JoinEnabled = CinderConfEntry("spark.cinder.join.enabled", "boolean", "true",
    "Whether equi-joins run natively as hash joins (BroadcastHashJoinExec, ShuffledHashJoinExec, " +
      "and SortMergeJoinExec without its sorts).")

  val SortEnabled = CinderConfEntry("spark.cinder.sort.enabled", "boolean", "true",
    "Whether SortExec runs natively, and the top-k of each partition under a " +
      "TakeOrderedAndProjectExec.")

  val LimitEnabled = CinderConfEntry("spark.cinder.limit.enabled", "boolean", "true",
    "Whether LocalLimitExec and GlobalLimitExec run natively.")

  val WindowEnabled = CinderConfEntry("spark.cinder.window.enabled", "boolean", "true",
    "Whether WindowExec (window functions: ranking, ntile, lag and lead, first, last and nth_value, " +
      "aggregates over ROWS and RANGE frames) and WindowGroupLimitExec run natively.")

  val ShuffleEnabled = CinderConfEntry("spark.cinder.shuffle.enabled", "boolean", "true",
    "Whether the shuffle of a native subtree's output (a ShuffleExchangeExec with hash or single " +
      "partitioning) moves Arrow blocks, partitioned natively as Spark partitions, instead of Spark " +
      "rows. Spark's shuffle manager still moves them.")

  val JavaFloatDigits = CinderConfEntry("spark.cinder.javaFloatDigits", "auto|java19|off", "auto",
    "Casts of floats and doubles to strings and decimals, and round and bround of them, use Java's " +
      "Double.toString digits, which " +
      "Cinder reproduces as Java 19 and later give them (the shortest that round-trip). auto: native when " +
      "the driver runs Java 19 or later (executors are expected to run the same), on Spark on older JVMs, " +
      "whose digits differ for some values; java19: native on any JVM, with Java 19's digits; off: on Spark.")

  val ExactFloatSums = CinderConfEntry("spark.cinder.exactFloatSums", "boolean", "true",
    "Sums and averages of doubles add one value at a time in the order the rows come, as Spark's " +
      "aggregation buffer does, so they equal Spark's bit for bit where the rows come in the same order. " +
      "false: DataFusion's sum (several lanes per batch), which Cinder's GPU aggregate can take over; " +
      "results then differ from Spark's in the last bits, as between two Spark runs with different " +
      "partitioning.")

  val MemoryTaskLimit = CinderConfEntry("spark.cinder.memory.taskLimit", "bytes", "0",
    "The most memory a task's native plan may hold (`512m`, `2g`; `0`: no limit). Past it, native sorts " +
      "and hash aggregations spill to Spark's local directories, as Spark's own do (the stage's disk spill, " +
      "the node's native spill size), and a task whose join's hash table needs more, or whose limit leaves a " +
      "sort or aggregation no room for a few batches, fails with an error naming this setting. Windows, " +
      "shuffles and the other native operators do not count their memory yet. Native memory is outside " +
      "the JVM heap: the executor's memory overhead (`spark.executor.memoryOverhead`) must make room for it.")

  val all: Seq[CinderConfEntry] = Seq(Enabled, Device, Explain, BatchRows, DeviceRegions, ScanEnabled,
    FilterEnabled, ProjectEnabled, ExpandEnabled, GenerateEnabled, AggregateEnabled, JoinEnabled, SortEnabled, LimitEnabled,
    WindowEnabled, ShuffleEnabled,
    JavaFloatDigits, ExactFloatSums, MemoryTaskLimit)

  /** The Markdown table of every setting. */
  def markdownTable: String = {
    val header = "| setting | values | default | what it does |\n|---|---|---|---|\n"
    header + all.map(e => s"| `${e.key}` | ${e.kind.replace("|", " \\| ")} | `${e.default}` | ${e.doc} |")
      .mkString("\n") + "\n"
  }

  def main(args: Array[String]): Unit = print(markdownTable)
}
