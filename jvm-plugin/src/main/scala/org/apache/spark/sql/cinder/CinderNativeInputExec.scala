package org.apache.spark.sql.cinder

import java.nio.charset.StandardCharsets

import scala.jdk.CollectionConverters._

import org.apache.arrow.vector.VectorSchemaRoot
import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Attribute
import org.apache.spark.sql.catalyst.plans.physical.Partitioning
import org.apache.spark.sql.execution.{SparkPlan, UnaryExecNode}
import org.apache.spark.sql.execution.arrow.ArrowWriter
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{StructField, StructType}
import org.apache.spark.sql.util.ArrowUtils
import org.apache.spark.sql.vectorized.ColumnarBatch

/**
 * A native subtree whose leaf reads the rows of a Spark child (a shuffle read, say): each
 * partition's rows are written into Arrow vectors a batch at a time (Spark's `ArrowWriter`)
 * and pulled by the native plan through [[NativeInput]].
 *
 * Spark inserts a `RowToColumnarExec` under every columnar operator's row-based children;
 * [[CinderColumnarRule]] removes it again here, because this node reads rows itself.
 */
case class CinderNativeInputExec(
    root: String,
    output: Seq[Attribute],
    child: SparkPlan,
    describe: String,
    partitioning: Partitioning)
  extends UnaryExecNode with CinderNative {

  /** The partitioning of the Spark operator this subtree replaced. */
  override def outputPartitioning: Partitioning = partitioning

  override def supportsColumnar: Boolean = true

  override def nodeName: String = "CinderNativeExec"

  override def simpleString(maxFields: Int): String =
    s"CinderNativeExec [$describe] ${output.mkString("[", ", ", "]")}"

  override def withPlan(root: String, output: Seq[Attribute], describe: String,
      partitioning: Partitioning): CinderNative =
    copy(root = root, output = output, describe = describe, partitioning = partitioning)

  override protected def withNewChildInternal(newChild: SparkPlan): CinderNativeInputExec =
    copy(child = newChild)

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "numOutputBatches" -> SQLMetrics.createMetric(sparkContext, "number of output batches"),
    "numInputRows" -> SQLMetrics.createMetric(sparkContext, "number of input rows"),
    "inputConversionTime" -> SQLMetrics.createNanoTimingMetric(sparkContext, "time converting input rows to Arrow"),
    "nativeTime" -> SQLMetrics.createNanoTimingMetric(sparkContext,
      "time in native code (including input conversion)"))

  override protected def doExecute(): RDD[InternalRow] =
    throw new IllegalStateException("CinderNativeExec is columnar: Spark reads it through ColumnarToRow")

  override protected def doExecuteColumnar(): RDD[ColumnarBatch] = {
    val conf = SQLConf.get
    val message = CinderNative.message(root, output, conf, files = None).getBytes(StandardCharsets.UTF_8)
    val outputSchema = StructType(output.map(a => StructField(a.name, a.dataType, a.nullable)))
    val inputSchema = StructType(child.output.map(a => StructField(a.name, a.dataType, a.nullable)))
    val batchRows = CinderConf.BatchRows.int(conf)
    val (rowsOut, batchesOut, rowsIn, conversion, native) = (longMetric("numOutputRows"),
      longMetric("numOutputBatches"), longMetric("numInputRows"), longMetric("inputConversionTime"),
      longMetric("nativeTime"))
    child.execute().mapPartitionsInternal { rows =>
      NativeBridge.load()
      val context = TaskContext.get()
      val input = new RowsToArrowInput(rows, inputSchema, batchRows, rowsIn, conversion)
      context.addTaskCompletionListener[Unit](_ => input.close())
      val started = System.nanoTime()
      val handle = NativeBridge.createPlanWithInput(message, input)
      native += System.nanoTime() - started
      new NativeBatchIterator(handle, outputSchema, context, rowsOut, batchesOut, native, Some(input))
    }
  }
}

/**
 * Spark rows as Arrow batches of up to `batchRows` rows, for a native `input` leaf. A failure
 * reading the rows (a shuffle fetch failure, say) is kept and rethrown as it was once the
 * native call returns, so that Spark's task retry logic sees the original exception.
 */
private[cinder] class RowsToArrowInput(
    rows: Iterator[InternalRow],
    schema: StructType,
    batchRows: Int,
    numInputRows: SQLMetric,
    conversionTime: SQLMetric)
  extends NativeInput {

  private val root = VectorSchemaRoot.create(
    ArrowUtils.toArrowSchema(schema, "UTC", true, false), ArrowImport.allocator)
  private val writer = ArrowWriter.create(root)
  @volatile private var closed = false
  @volatile var failure: Option[Throwable] = None

  override def next(): Array[Long] = {
    try {
      if (closed) return null
      val started = System.nanoTime()
      writer.reset()
      var count = 0
      while (count < batchRows && rows.hasNext) {
        writer.write(rows.next())
        count += 1
      }
      writer.finish()
      conversionTime += System.nanoTime() - started
      if (count == 0) return null
      numInputRows += count
      val vectors = root.getFieldVectors.asScala.toSeq
      val out = scala.collection.mutable.ArrayBuffer[Long](count.toLong, vectors.size.toLong)
      for (vector <- vectors) {
        val buffers = vector.getFieldBuffers.asScala.toSeq
        out += vector.getNullCount.toLong
        out += buffers.size.toLong
        for (b <- buffers) {
          out += b.memoryAddress()
          out += b.writerIndex()
          out += 0L
        }
      }
      out.toArray
    } catch {
      case e: Throwable =>
        failure = Some(e)
        throw e
    }
  }

  def close(): Unit = synchronized {
    if (!closed) {
      closed = true
      root.close()
    }
  }
}

/** What both kinds of native subtree share: the operator tree and its description. */
trait CinderNative extends SparkPlan {
  def root: String
  def describe: String

  /** The same leaf with another operator tree on top, replacing a node with `partitioning`. */
  def withPlan(root: String, output: Seq[Attribute], describe: String, partitioning: Partitioning): CinderNative
}

private[cinder] object CinderNative {
  /**
   * Asks the native library whether `native` can run (on the driver, reading nothing): the
   * reason when it cannot, so that its top operator stays on Spark instead of failing a task.
   */
  def check(native: CinderNative, conf: SQLConf): Either[String, CinderNative] =
    scala.util.Try {
      NativeBridge.load()
      val message = CinderNative.message(native.root, native.output, conf, files = None)
      Option(NativeBridge.checkPlan(message.getBytes(StandardCharsets.UTF_8)))
    } match {
      case scala.util.Success(None) => Right(native)
      case scala.util.Success(Some(reason)) => Left(s"the native library cannot run it: $reason")
      // No native library on the driver, or a failure in it: the operator stays on Spark.
      case scala.util.Failure(e) => Left(s"the native library could not check it: $e")
    }

  /** The plan message, with `files` as the task's file splits (JSON) when the leaf is a scan. */
  def message(root: String, output: Seq[Attribute], conf: SQLConf, files: Option[String]): String = {
    val settings = s"""{"device":${PlanJson.str(CinderConf.Device.choice(conf))},""" +
      s""""batch_rows":${CinderConf.BatchRows.int(conf)}}"""
    val fields = PlanJson.fields(output.map(a => StructField(a.name, a.dataType, a.nullable)))
      .fold(r => throw new IllegalStateException(s"cinder: $r"), identity)
    val filesField = files.map(f => s""","files":$f""").getOrElse("")
    s"""{"version":${PlanJson.Version},"output":$fields,"settings":$settings,"root":$root$filesField}"""
  }
}
