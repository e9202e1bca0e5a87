package org.apache.spark.sql.cinder

import java.nio.charset.StandardCharsets

import org.apache.spark.{Partition, SparkContext, TaskContext}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Attribute
import org.apache.spark.sql.catalyst.plans.physical.Partitioning
import org.apache.spark.sql.execution.{FileSourceScanExec, LeafExecNode}
import org.apache.spark.sql.execution.datasources.{FilePartition, FileScanRDD, PartitionedFile}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{StructField, StructType}
import org.apache.spark.sql.vectorized.ColumnarBatch

/**
 * A subtree Cinder runs natively: `root` is its operator tree in the plan message's form,
 * whose one leaf reads `scan`'s files. Each Spark partition (one `FilePartition` of the scan)
 * becomes one native plan over that partition's file splits; batches come back as Arrow
 * columns over native memory, without copying.
 */
case class CinderNativeExec(
    root: String,
    output: Seq[Attribute],
    @transient scan: FileSourceScanExec,
    describe: String)
  extends LeafExecNode with CinderNative {

  override def withPlan(root: String, output: Seq[Attribute], describe: String,
      partitioning: Partitioning): CinderNative =
    copy(root = root, output = output, describe = describe)

  override def supportsColumnar: Boolean = true

  override def nodeName: String = "CinderNativeExec"

  override def simpleString(maxFields: Int): String =
    s"CinderNativeExec [$describe] ${output.mkString("[", ", ", "]")}"

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "numOutputBatches" -> SQLMetrics.createMetric(sparkContext, "number of output batches"),
    "nativeTime" -> SQLMetrics.createNanoTimingMetric(sparkContext, "time in native code"))

  override protected def doExecute(): RDD[InternalRow] =
    throw new IllegalStateException("CinderNativeExec is columnar: Spark reads it through ColumnarToRow")

  override protected def doExecuteColumnar(): RDD[ColumnarBatch] = {
    val partitions = scan.inputRDD match {
      case files: FileScanRDD => files.filePartitions
      case other => throw new IllegalStateException(
        s"cinder: expected the scan's FileScanRDD, found ${other.getClass.getName}")
    }
    val conf = SQLConf.get
    // The message up to the files field, which each task completes with its own splits.
    val full = CinderNative.message(root, output, conf, files = Some("\u0000"))
    val head = full.substring(0, full.indexOf("\u0000"))
    val schema = StructType(output.map(a => StructField(a.name, a.dataType, a.nullable)))
    val partitionTypes = scan.relation.partitionSchema.fields.map(_.dataType).toSeq
    new CinderNativeRDD(sparkContext, partitions, head, schema, partitionTypes,
      longMetric("numOutputRows"), longMetric("numOutputBatches"), longMetric("nativeTime"))
  }
}

private[cinder] class CinderNativePartition(val index: Int, val files: FilePartition) extends Partition

/** One native plan per file partition of the scan. */
private[cinder] class CinderNativeRDD(
    sc: SparkContext,
    @transient filePartitions: Seq[FilePartition],
    messageHead: String,
    schema: StructType,
    partitionTypes: Seq[org.apache.spark.sql.types.DataType],
    numOutputRows: SQLMetric,
    numOutputBatches: SQLMetric,
    nativeTime: SQLMetric)
  extends RDD[ColumnarBatch](sc, Nil) {

  override protected def getPartitions: Array[Partition] =
    filePartitions.zipWithIndex.map { case (p, i) => new CinderNativePartition(i, p): Partition }.toArray

  override protected def getPreferredLocations(split: Partition): Seq[String] =
    split.asInstanceOf[CinderNativePartition].files.preferredLocations().toSeq

  override def compute(split: Partition, context: TaskContext): Iterator[ColumnarBatch] = {
    NativeBridge.load()
    val files = split.asInstanceOf[CinderNativePartition].files.files.map(fileJson).mkString("[", ",", "]")
    val message = (messageHead + files + "}").getBytes(StandardCharsets.UTF_8)
    val started = System.nanoTime()
    val handle = NativeBridge.createPlan(message)
    nativeTime += System.nanoTime() - started
    new NativeBatchIterator(handle, schema, context, numOutputRows, numOutputBatches, nativeTime)
  }

  private def fileJson(file: PartitionedFile): String = {
    val uri = file.pathUri
    if (Option(uri.getScheme).exists(_ != "file")) {
      throw new IllegalArgumentException(s"cinder: only local files are read natively, not $uri")
    }
    val values = partitionTypes.zipWithIndex.map { case (dt, i) =>
      val value = if (file.partitionValues.isNullAt(i)) null else file.partitionValues.get(i, dt)
      PlanJson.literalValue(value, dt).fold(r => throw new IllegalArgumentException(s"cinder: $r"), identity)
    }
    s"""{"path":${PlanJson.str(uri.getPath)},"start":${file.start},"length":${file.length},""" +
      s""""file_size":${file.fileSize},"partition_values":${values.mkString("[", ",", "]")}}"""
  }
}

/**
 * The batches of one native plan. Each batch stays valid until the next `hasNext`/`next`
 * (Spark's columnar consumers finish a batch before asking for the next); the plan and the
 * last batch are closed when the task completes, whether it succeeded or not.
 */
private[cinder] class NativeBatchIterator(
    handle: Long,
    schema: StructType,
    context: TaskContext,
    numOutputRows: SQLMetric,
    numOutputBatches: SQLMetric,
    nativeTime: SQLMetric,
    input: Option[RowsToArrowInput] = None)
  extends Iterator[ColumnarBatch] {

  private var current: ColumnarBatch = _
  private var pending: ColumnarBatch = _
  private var finished = false
  private var closed = false

  context.addTaskCompletionListener[Unit](_ => close())

  override def hasNext: Boolean = {
    if (pending == null && !finished) {
      closeCurrent()
      val started = System.nanoTime()
      val description =
        try NativeBridge.nextBatch(handle)
        catch {
          // A failure of the Spark input (a shuffle fetch failure, say) surfaces as itself.
          case e: RuntimeException if input.exists(_.failure.isDefined) =>
            val original = input.get.failure.get
            original.addSuppressed(e)
            throw original
        }
      nativeTime += System.nanoTime() - started
      if (description == null) {
        finished = true
        close()
      } else {
        pending = ArrowImport.batch(schema, description)
        numOutputRows += pending.numRows()
        numOutputBatches += 1
      }
    }
    pending != null
  }

  override def next(): ColumnarBatch = {
    if (!hasNext) {
      throw new NoSuchElementException("no more native batches")
    }
    closeCurrent()
    current = pending
    pending = null
    current
  }

  private def closeCurrent(): Unit = {
    if (current != null) {
      current.close()
      current = null
    }
  }

  private def close(): Unit = synchronized {
    closeCurrent()
    if (pending != null) {
      pending.close()
      pending = null
    }
    if (!closed) {
      closed = true
      NativeBridge.closePlan(handle)
    }
  }
}
