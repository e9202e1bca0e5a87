package org.apache.spark.sql.cinder

import java.nio.{ByteBuffer, ByteOrder}
import java.nio.charset.StandardCharsets

import scala.jdk.CollectionConverters._
import scala.reflect.ClassTag

import org.apache.arrow.vector.{FieldVector, VectorSchemaRoot}
import org.apache.spark.{Partition, SparkContext, SparkEnv, TaskContext}
import org.apache.spark.broadcast.Broadcast
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, GenericInternalRow, SortOrder}
import org.apache.spark.sql.catalyst.plans.physical.Partitioning
import org.apache.spark.sql.execution.{FileSourceScanExec, ScalarSubquery, SparkPlan}
import org.apache.spark.sql.execution.arrow.ArrowWriter
import org.apache.spark.sql.execution.datasources.{FilePartition, FileScanRDD, PartitionedFile}
import org.apache.spark.sql.execution.joins.CinderBroadcastRows
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{StructField, StructType}
import org.apache.spark.sql.util.ArrowUtils
import org.apache.spark.sql.vectorized.ColumnarBatch

/**
 * A subtree Cinder runs natively: `root` is its operator tree in the plan message's form.
 * Its leaves read
 * - `scan`'s files (at most one `parquet_scan`): each Spark partition is one `FilePartition`
 *   of the scan, and the native plan reads that partition's file splits;
 * - the rows of its Spark `children` (`input` leaf `i` reads `children(i)`): a child whose
 *   `broadcast(i)` is false feeds partition `p` of this node from its own partition `p` (the
 *   children are co-partitioned, as Spark guarantees for a join's or an aggregate's
 *   inputs); a broadcast child (a broadcast hash join's build side) feeds every partition all
 *   of its rows. A child that reads a native shuffle ([[CinderShuffleRead]]) hands over the
 *   shuffle's Arrow blocks instead of rows.
 *
 * Scalar subqueries in its expressions (`scalarSubqueries`) run before it, as Spark's own operators'
 * do; their values go into the plan message in place of their tokens.
 *
 * Rows are written into Arrow vectors a batch at a time (Spark's `ArrowWriter`) and pulled by
 * the native plan through [[NativeInput]]; results come back as Arrow columns over native
 * memory, without copying. Spark inserts a `RowToColumnarExec` under every columnar
 * operator's row-based children; [[CinderInputTransitions]] removes it again here, because
 * this node reads rows itself.
 */
case class CinderNativeExec(
    root: String,
    output: Seq[Attribute],
    @transient scan: Option[FileSourceScanExec],
    children: Seq[SparkPlan],
    broadcast: Seq[Boolean],
    describe: String,
    partitioning: Partitioning,
    scalarSubqueries: Seq[ScalarSubquery] = Nil,
    lostOrdering: Seq[SortOrder] = Nil,
    ordering: Seq[SortOrder] = Nil)
  extends SparkPlan with CinderNative {

  require(children.size == broadcast.size, "one broadcast flag per child")

  /** The partitioning of the Spark operator this subtree replaced. */
  override def outputPartitioning: Partitioning = partitioning

  /**
   * The order of each partition's rows: a native sort's, kept by the filters, projections and
   * limits above it (each task's plan is one stream); none above anything else.
   */
  override def outputOrdering: Seq[SortOrder] = ordering

  override def supportsColumnar: Boolean = true

  override def nodeName: String = "CinderNativeExec"

  override def simpleString(maxFields: Int): String =
    s"CinderNativeExec [$describe] ${output.mkString("[", ", ", "]")}"

  override def withPlan(root: String, output: Seq[Attribute], describe: String,
      partitioning: Partitioning): CinderNative =
    copy(root = root, output = output, describe = describe, partitioning = partitioning)

  override protected def withNewChildrenInternal(newChildren: IndexedSeq[SparkPlan]): CinderNativeExec =
    copy(children = newChildren)

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "numOutputBatches" -> SQLMetrics.createMetric(sparkContext, "number of output batches"),
    "numInputRows" -> SQLMetrics.createMetric(sparkContext, "number of input rows from Spark"),
    "inputConversionTime" -> SQLMetrics.createNanoTimingMetric(sparkContext,
      "time converting input rows to Arrow"),
    "spillSize" -> SQLMetrics.createSizeMetric(sparkContext, "native spill size"),
    "nativeTime" -> SQLMetrics.createNanoTimingMetric(sparkContext,
      "time in native code (including input conversion)"))

  override protected def doExecute(): RDD[InternalRow] =
    throw new IllegalStateException("CinderNativeExec is columnar: Spark reads it through ColumnarToRow")

  override protected def doExecuteColumnar(): RDD[ColumnarBatch] =
    executeWith(shuffle = None)((task, message, inputs) => task.run(message, inputs))

  // As `execute()` does: prepared, and its scalar subqueries' values known, first.
  override def executeShuffle(shuffle: String, metrics: CinderShuffleMetrics): RDD[Product2[Int, InternalRow]] =
    executeQuery(executeWith(Some(shuffle))((task, message, inputs) => task.runShuffle(message, inputs, metrics)))

  /**
   * One native plan per partition (`shuffle`: a native shuffle's map side), run by `run` with
   * the task's message and its inputs' rows or blocks by slot.
   */
  private def executeWith[T: ClassTag](shuffle: Option[String])(
      run: (NativeTask, Array[Byte], Map[Int, Iterator[InternalRow]]) => Iterator[T]): RDD[T] = {
    val conf = SQLConf.get
    val root = PlanJson.withSubqueryValues(this.root, scalarSubqueries)
    val outputSchema = StructType(output.map(a => StructField(a.name, a.dataType, a.nullable)))
    val inputSchemas = children.zip(broadcast).map { case (c, b) => CinderNativeExec.inputSchema(c, b) }
    val batchRows = CinderConf.BatchRows.int(conf)
    val broadcasts: Map[Int, Broadcast[Any]] = children.indices.filter(broadcast).map { i =>
      i -> children(i).executeBroadcast[Any]()
    }.toMap
    val rowChildren = children.indices.filterNot(broadcast)
    // A native shuffle's blocks, or Spark's rows, per non-broadcast child.
    val blockInputs = rowChildren.map(i => i -> CinderShuffleRead.blocks(children(i))).collect {
      case (i, Some(blocks)) => i -> blocks
    }.toMap
    val task = new NativeTask(outputSchema, inputSchemas, broadcasts, blockInputs.keySet, batchRows,
      longMetric("numOutputRows"),
      longMetric("numOutputBatches"), longMetric("numInputRows"), longMetric("inputConversionTime"),
      longMetric("nativeTime"), longMetric("spillSize"))
    scan match {
      case Some(s) =>
        if (rowChildren.nonEmpty) {
          throw new IllegalStateException("cinder: a native scan cannot be zipped with row inputs")
        }
        val partitions = s.inputRDD match {
          case files: FileScanRDD => files.filePartitions
          case other => throw new IllegalStateException(
            s"cinder: expected the scan's FileScanRDD, found ${other.getClass.getName}")
        }
        // The message up to the files field, which each task completes with its own splits.
        val full = CinderNative.message(root, output, conf, files = Some("\u0000"), shuffle)
        val head = full.substring(0, full.indexOf("\u0000"))
        val partitionTypes = s.relation.partitionSchema.fields.map(_.dataType).toSeq
        new CinderNativeRDD[T](sparkContext, partitions, head, partitionTypes,
          message => run(task, message, Map.empty))
      case None =>
        val message = CinderNative.message(root, output, conf, files = None, shuffle)
        val bytes = message.getBytes(StandardCharsets.UTF_8)
        def start(rows: Seq[Iterator[InternalRow]]): Iterator[T] = run(task, bytes, rowChildren.zip(rows).toMap)
        rowChildren.map(i => blockInputs.getOrElse(i, children(i).execute())) match {
          case Seq() => throw new IllegalStateException("cinder: a native plan without a scan or row input")
          case Seq(a) => a.mapPartitionsInternal(rows => start(Seq(rows)))
          case rdds => new ZippedInputsRDD[T](sparkContext, rdds, start)
        }
    }
  }
}

private[cinder] object CinderNativeExec {
  /**
   * The columns an `input` leaf reads from `plan`: its output, every column nullable when it
   * is broadcast (a null-aware anti join's build side with a null key arrives as a row of
   * nulls, see `CinderBroadcastRows`).
   */
  def inputSchema(plan: SparkPlan, broadcast: Boolean): StructType =
    StructType(plan.output.map(a => StructField(a.name, a.dataType, a.nullable || broadcast)))

  /** Whether an `input` leaf can read `plan`: its rows, or a native shuffle's blocks. */
  def readable(plan: SparkPlan): Boolean = !plan.supportsColumnar || CinderShuffleRead.isNative(plan)

  /**
   * A native subtree that is just an `input` leaf reading `plan`'s rows (its partitions, or
   * all of its broadcast relation in every task), for a native operator to go on top of.
   */
  def input(plan: SparkPlan, broadcast: Boolean): Either[String, CinderNativeExec] =
    PlanJson.fields(inputSchema(plan, broadcast).fields.toSeq).map { schema =>
      val what = if (broadcast) "Broadcast" else "Input"
      CinderNativeExec(s"""{"op":"input","schema":$schema,"slot":0}""", plan.output, None, Seq(plan),
        Seq(broadcast), s"$what(${plan.nodeName})", plan.outputPartitioning)
    }
}

/**
 * What one task of a [[CinderNativeExec]] does: creates the native plan with one input per
 * child (a [[RowsToArrowInput]] over its partition's rows, or a [[BlocksInput]] over a native
 * shuffle's blocks (the slots in `blockInputs`) or over a broadcast's rows converted once per
 * executor ([[CinderBroadcastCache]])) and iterates its batches, or, for a native shuffle's
 * map side, its blocks.
 */
private[cinder] class NativeTask(
    outputSchema: StructType,
    inputSchemas: Seq[StructType],
    broadcasts: Map[Int, Broadcast[Any]],
    blockInputs: Set[Int],
    batchRows: Int,
    numOutputRows: SQLMetric,
    numOutputBatches: SQLMetric,
    numInputRows: SQLMetric,
    conversionTime: SQLMetric,
    nativeTime: SQLMetric,
    spillSize: SQLMetric) extends Serializable {

  def run(message: Array[Byte], rows: Map[Int, Iterator[InternalRow]]): Iterator[ColumnarBatch] = {
    val (handle, inputs) = start(message, rows)
    new NativeBatchIterator(handle, outputSchema, TaskContext.get(), numOutputRows, numOutputBatches, nativeTime,
      inputs, spillSize)
  }

  /**
   * A native shuffle's map side: `(partition, block)` records (the block's bytes in a
   * one-column row), counted in `metrics` (the rows also in `numOutputRows`).
   */
  def runShuffle(message: Array[Byte], rows: Map[Int, Iterator[InternalRow]], metrics: CinderShuffleMetrics)
      : Iterator[Product2[Int, InternalRow]] = {
    val (handle, inputs) = start(message, rows)
    val context = TaskContext.get()
    new Iterator[Product2[Int, InternalRow]] {
      private var pending: Array[Byte] = _
      private var finished = false
      private var closed = false

      context.addTaskCompletionListener[Unit](_ => close())

      private def close(): Unit = synchronized {
        if (!closed) {
          closed = true
          NativeTask.closePlan(handle, context, spillSize)
        }
      }

      override def hasNext: Boolean = {
        if (pending == null && !finished) {
          val started = System.nanoTime()
          pending = NativeTask.rethrowingInputFailures(inputs)(NativeBridge.nextShuffleBlock(handle))
          if (pending == null) {
            finished = true
            val Array(shuffled, unsafeRowBytes) = NativeBridge.shuffleStats(handle)
            metrics.rows += shuffled
            metrics.dataSize += unsafeRowBytes
            numOutputRows += shuffled
            close()
          }
          nativeTime += System.nanoTime() - started
        }
        pending != null
      }

      override def next(): Product2[Int, InternalRow] = {
        if (!hasNext) throw new NoSuchElementException("no more shuffle blocks")
        val block = pending
        pending = null
        metrics.blockBytes += block.length
        numOutputBatches += 1
        val partition = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN).getInt(4)
        (partition, new GenericInternalRow(Array[Any](block)))
      }
    }
  }

  /** Creates the plan over this task's inputs: its handle and the inputs (closed when the task ends). */
  private def start(message: Array[Byte], rows: Map[Int, Iterator[InternalRow]]): (Long, Seq[TaskInput]) = {
    NativeBridge.load()
    SpillDirectories.configure()
    val context = TaskContext.get()
    // Closed when the task ends, also those made before a later one failed to start.
    val inputs = scala.collection.mutable.ArrayBuffer.empty[TaskInput]
    context.addTaskCompletionListener[Unit](_ => inputs.foreach(_.close()))
    for (i <- inputSchemas.indices) {
      if (blockInputs.contains(i)) {
        inputs += new BlocksInput(rows(i).map(_.getBinary(0)))
      } else if (broadcasts.contains(i)) {
        // Converted to Arrow once per executor, then read as blocks, only by the tasks that
        // build a hash table of it: the native side keeps the table for the next tasks.
        val broadcast = broadcasts(i)
        lazy val blocks = CinderBroadcastCache.blocks(broadcast, inputSchemas(i), batchRows, numInputRows,
          conversionTime)
        inputs += new BlocksInput(Iterator.empty ++ blocks.iterator, CinderBroadcastCache.shareKey(broadcast))
      } else {
        inputs += new RowsToArrowInput(rows(i), inputSchemas(i), batchRows, numInputRows, conversionTime)
      }
    }
    val started = System.nanoTime()
    val handle =
      if (inputs.isEmpty) NativeBridge.createPlan(message)
      else NativeBridge.createPlanWithInputs(message, inputs.toArray[NativeInput])
    nativeTime += System.nanoTime() - started
    (handle, inputs.toSeq)
  }
}

/**
 * Where this JVM's native plans spill: the local directories of Spark's current environment,
 * told to the native side again when the environment changes (a new SparkContext).
 */
private[cinder] object SpillDirectories {
  @volatile private var configuredFor: AnyRef = _

  def configure(): Unit = {
    val env = org.apache.spark.SparkEnv.get
    if (env != null && (env ne configuredFor)) synchronized {
      if (env ne configuredFor) {
        NativeBridge.setSpillDirectories(env.blockManager.diskBlockManager.localDirs.map(_.getAbsolutePath))
        configuredFor = env
      }
    }
  }
}

private[cinder] object NativeTask {
  /**
   * Closes a plan, counting what it spilled in `spillSize` (when given) and in the task's disk
   * spill, which Spark's UI shows for the stage.
   */
  def closePlan(handle: Long, context: TaskContext, spillSize: SQLMetric): Unit = {
    val spilled = try NativeBridge.spilledBytes(handle) catch { case scala.util.control.NonFatal(_) => 0L }
    NativeBridge.closePlan(handle)
    if (spilled > 0) {
      if (spillSize != null) spillSize += spilled
      if (context != null) context.taskMetrics().incDiskBytesSpilled(spilled)
    }
  }

  /**
   * Runs a native call; if it failed because a Spark input failed (a shuffle fetch failure,
   * say), rethrows the input's own exception, so that Spark's retry logic sees it. A native
   * error with a Spark error class becomes Spark's exception for it ([[NativeErrors]]).
   */
  def rethrowingInputFailures[T](inputs: Seq[TaskInput])(call: => T): T =
    try call
    catch {
      case e: RuntimeException if inputs.exists(_.failure.isDefined) =>
        val original = inputs.flatMap(_.failure).head
        original.addSuppressed(e)
        throw original
      // Spark's error classes (ANSI mode's overflow, division by zero, invalid casts) as Spark's
      // own exceptions.
      case e: RuntimeException => throw NativeErrors.toSpark(e)
    }
}

/** A native plan's input in a task: remembers a failure reading Spark's side, closes at the end. */
private[cinder] trait TaskInput extends NativeInput {
  /** What failed reading the Spark side, if anything did. */
  def failure: Option[Throwable]

  def close(): Unit
}

/**
 * Arrow blocks (a native shuffle's, or a broadcast's) for a native `input` leaf, which decodes
 * them itself. A failure reading them (a fetch failure) is kept, as in [[RowsToArrowInput]].
 */
private[cinder] class BlocksInput(blocks: Iterator[Array[Byte]], key: String = null) extends TaskInput {
  @volatile private var closed = false
  @volatile var failure: Option[Throwable] = None

  override def blocks(): Boolean = true

  override def shareKey(): String = key

  override def next(): Array[Long] =
    throw new UnsupportedOperationException("cinder: a native shuffle's input hands over blocks")

  override def nextBlock(): Array[Byte] =
    try {
      if (closed || !blocks.hasNext) null
      else blocks.next()
    } catch {
      case e: Throwable =>
        failure = Some(e)
        throw e
    }

  override def close(): Unit = closed = true
}

/** Partition `i` of each of `rdds` (co-partitioned), handed together to `f`. */
private[cinder] class ZippedInputsRDD[T: ClassTag](
    sc: SparkContext,
    inputs: Seq[RDD[InternalRow]],
    private var f: Seq[Iterator[InternalRow]] => Iterator[T])
  extends org.apache.spark.rdd.ZippedPartitionsBaseRDD[T](sc, inputs) {

  override def compute(split: Partition, context: TaskContext): Iterator[T] = {
    val parts = split.asInstanceOf[org.apache.spark.rdd.ZippedPartitionsPartition].partitions
    f(rdds.zip(parts).map { case (rdd, part) => rdd.iterator(part, context).asInstanceOf[Iterator[InternalRow]] })
  }

  override def clearDependencies(): Unit = {
    super.clearDependencies()
    f = null
  }
}

private[cinder] class CinderNativePartition(val index: Int, val files: FilePartition) extends Partition

/** One native plan per file partition of the scan, run by `run` with the task's message. */
private[cinder] class CinderNativeRDD[T: ClassTag](
    sc: SparkContext,
    @transient filePartitions: Seq[FilePartition],
    messageHead: String,
    partitionTypes: Seq[org.apache.spark.sql.types.DataType],
    run: Array[Byte] => Iterator[T])
  extends RDD[T](sc, Nil) {

  override protected def getPartitions: Array[Partition] =
    filePartitions.zipWithIndex.map { case (p, i) => new CinderNativePartition(i, p): Partition }.toArray

  override protected def getPreferredLocations(split: Partition): Seq[String] =
    split.asInstanceOf[CinderNativePartition].files.preferredLocations().toSeq

  override def compute(split: Partition, context: TaskContext): Iterator[T] = {
    val files = split.asInstanceOf[CinderNativePartition].files.files.map(fileJson).mkString("[", ",", "]")
    run((messageHead + files + "}").getBytes(StandardCharsets.UTF_8))
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
    inputs: Seq[TaskInput] = Nil,
    spillSize: SQLMetric = null)
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
      // A failure of the Spark input (a shuffle fetch failure, say) surfaces as itself.
      val description = NativeTask.rethrowingInputFailures(inputs)(NativeBridge.nextBatch(handle))
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
      NativeTask.closePlan(handle, context, spillSize)
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
  extends TaskInput {

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
      // Each vector's node (see `describe_batch`): null count, buffers, each child's length and node.
      def describe(vector: FieldVector): Unit = {
        val buffers = vector.getFieldBuffers.asScala.toSeq
        out += vector.getNullCount.toLong
        out += buffers.size.toLong
        for (b <- buffers) {
          out += b.memoryAddress()
          out += b.writerIndex()
          out += 0L
        }
        val children = vector.getChildrenFromFields.asScala.toSeq
        out += children.size.toLong
        for (child <- children) {
          out += child.getValueCount.toLong
          describe(child)
        }
      }
      vectors.foreach(describe)
      out.toArray
    } catch {
      case e: Throwable =>
        failure = Some(e)
        throw e
    }
  }

  override def close(): Unit = synchronized {
    if (!closed) {
      closed = true
      root.close()
    }
  }
}

/**
 * UNION ALL of native subtrees (Spark's UnionExec whose output partitioning is unknown): each
 * partition is one branch's partition, its native batches passed through. A filter, projection
 * or partial aggregation above it works on each partition alone, so it goes into every
 * branch ([[withPlan]]): its operator tree is built around `root`, a placeholder each branch
 * replaces with its own tree (the branches' columns line up by position, with the same types).
 */
case class CinderUnionExec(children: Seq[CinderNativeExec], output: Seq[Attribute], describe: String)
  extends SparkPlan with CinderNative {

  override def root: String = CinderUnionExec.Branch

  override def supportsColumnar: Boolean = true

  override def nodeName: String = "CinderUnionExec"

  override def outputPartitioning: Partitioning =
    org.apache.spark.sql.catalyst.plans.physical.UnknownPartitioning(children.map(_.outputPartitioning.numPartitions).sum)

  override def simpleString(maxFields: Int): String = s"CinderUnionExec [$describe] ${output.mkString("[", ", ", "]")}"

  override def withPlan(root: String, output: Seq[Attribute], describe: String,
      partitioning: Partitioning): CinderNative = {
    val label = describe.stripSuffix(s" <- ${this.describe}")
    copy(children = children.map(b => b.copy(root = root.replace(CinderUnionExec.Branch, b.root), output = output,
      describe = s"$label <- ${b.describe}", lostOrdering = Nil, ordering = Nil)), output = output,
      describe = s"$label <- ${this.describe}")
  }

  override protected def withNewChildrenInternal(newChildren: IndexedSeq[SparkPlan]): CinderUnionExec =
    copy(children = newChildren.map(_.asInstanceOf[CinderNativeExec]))

  override protected def doExecute(): RDD[InternalRow] =
    throw new IllegalStateException("CinderUnionExec is columnar: Spark reads it through ColumnarToRow")

  override protected def doExecuteColumnar(): RDD[ColumnarBatch] = sparkContext.union(children.map(_.executeColumnar()))

  override def executeShuffle(shuffle: String, metrics: CinderShuffleMetrics): RDD[Product2[Int, InternalRow]] =
    sparkContext.union(children.map(_.executeShuffle(shuffle, metrics)))
}

private[cinder] object CinderUnionExec {
  /** Where a branch's operator tree goes (a JSON string no plan message holds otherwise). */
  val Branch: String = PlanJson.str(s"#cinder-union-branch-${java.util.UUID.randomUUID()}#")
}

/** What both kinds of native subtree share: the operator tree and its description. */
trait CinderNative extends SparkPlan {
  def root: String
  def describe: String

  /** The same leaves with another operator tree on top, replacing a node with `partitioning`. */
  def withPlan(root: String, output: Seq[Attribute], describe: String, partitioning: Partitioning): CinderNative

  /**
   * The map side of a native shuffle of this subtree's rows: `(partition, block)` records,
   * `shuffle` being the plan message's `shuffle` field, counted in `metrics`.
   */
  def executeShuffle(shuffle: String, metrics: CinderShuffleMetrics): RDD[Product2[Int, InternalRow]]
}

private[cinder] object CinderNative {
  /**
   * Asks the native library whether `native` can run (on the driver, reading nothing), as a
   * native shuffle's map side with `shuffle`: the reason when it cannot, so that its top
   * operator stays on Spark instead of failing a task.
   */
  def check(native: CinderNative, conf: SQLConf, shuffle: Option[String] = None): Either[String, CinderNative] =
    native match {
      case union: CinderUnionExec =>
        union.children.map(check(_, conf, shuffle)).collectFirst { case Left(reason) => Left(reason) }
          .getOrElse(Right(union))
      case _ => checkOne(native, conf, shuffle)
    }

  private def checkOne(native: CinderNative, conf: SQLConf, shuffle: Option[String]): Either[String, CinderNative] =
    scala.util.Try {
      NativeBridge.load()
      val message = CinderNative.message(PlanJson.withoutSubqueryValues(native.root), native.output, conf,
        files = None, shuffle)
      Option(NativeBridge.checkPlan(message.getBytes(StandardCharsets.UTF_8)))
    } match {
      case scala.util.Success(None) => Right(native)
      case scala.util.Success(Some(reason)) => Left(s"the native library cannot run it: $reason")
      // No native library on the driver, or a failure in it: the operator stays on Spark.
      case scala.util.Failure(e) => Left(s"the native library could not check it: $e")
    }

  /**
   * The plan message, with `files` as the task's file splits (JSON) when the leaf is a scan,
   * and `shuffle` for a native shuffle's map side.
   */
  def message(root: String, output: Seq[Attribute], conf: SQLConf, files: Option[String],
      shuffle: Option[String]): String = {
    val settings = s"""{"device":${PlanJson.str(CinderConf.Device.choice(conf))},""" +
      s""""batch_rows":${CinderConf.BatchRows.int(conf)},""" +
      s""""device_regions":${CinderConf.DeviceRegions.bool(conf)},""" +
      s""""memory_limit":${CinderConf.MemoryTaskLimit.bytes(conf)}}"""
    val fields = PlanJson.fields(output.map(a => StructField(a.name, a.dataType, a.nullable)))
      .fold(r => throw new IllegalStateException(s"cinder: $r"), identity)
    val filesField = files.map(f => s""","files":$f""").getOrElse("")
    val shuffleField = shuffle.map(s => s""","shuffle":$s""").getOrElse("")
    s"""{"version":${PlanJson.Version},"output":$fields,"settings":$settings$shuffleField,"root":$root$filesField}"""
  }
}

/**
 * A broadcast hash join's build side as Arrow blocks, converted once per executor (JVM) and
 * reused by every task that reads the same broadcast, instead of every task writing the
 * broadcast's rows into Arrow again. The blocks are made by a native plan that reads the rows
 * ([[RowsToArrowInput]]) and writes them as single-partition shuffle blocks. They are held
 * through soft references, so the JVM may drop them under memory pressure (the next task
 * converts again), and only for the latest [[CinderBroadcastCache.Entries]] broadcasts.
 */
private[cinder] object CinderBroadcastCache {
  /** Broadcasts whose blocks stay cached: joins read a query's few broadcasts in its own stages. */
  val Entries = 32

  /**
   * A broadcast's identity in this process: its id, unique within the application (a later
   * SparkContext in the same JVM counts ids from 0 again, hence the application id).
   */
  def shareKey(broadcast: Broadcast[Any]): String =
    s"${SparkEnv.get.conf.getAppId}/broadcast-${broadcast.id}"

  private type Key = (String, String)
  private val cache = new java.util.LinkedHashMap[Key, java.lang.ref.SoftReference[Array[Array[Byte]]]]()

  /** Serializes the conversion of one broadcast; other broadcasts convert meanwhile. */
  private val locks = new java.util.concurrent.ConcurrentHashMap[Key, Object]()

  def blocks(broadcast: Broadcast[Any], schema: StructType, batchRows: Int, numInputRows: SQLMetric,
      conversionTime: SQLMetric): Array[Array[Byte]] = {
    val key = (shareKey(broadcast), schema.json)
    val lock = locks.computeIfAbsent(key, _ => new Object)
    lock.synchronized {
      val cached = cache.synchronized(Option(cache.get(key)).flatMap(r => Option(r.get)))
      cached.getOrElse {
        val blocks = convert(broadcast, schema, batchRows, numInputRows, conversionTime)
        cache.synchronized {
          cache.put(key, new java.lang.ref.SoftReference(blocks))
          val oldest = cache.keySet().iterator()
          while (cache.size() > Entries) {
            locks.remove(oldest.next())
            oldest.remove()
          }
        }
        blocks
      }
    }
  }

  /** The broadcast's rows as blocks (a native plan over them, shuffled to one partition). */
  private def convert(broadcast: Broadcast[Any], schema: StructType, batchRows: Int, numInputRows: SQLMetric,
      conversionTime: SQLMetric): Array[Array[Byte]] = {
    val fields = PlanJson.fields(schema.fields.toSeq).fold(r => throw new IllegalStateException(s"cinder: $r"),
      identity)
    val message = s"""{"version":${PlanJson.Version},"output":$fields,""" +
      s""""settings":{"device":"cpu","batch_rows":$batchRows},"shuffle":{"kind":"single"},""" +
      s""""root":{"op":"input","schema":$fields,"slot":0}}"""
    val input = new RowsToArrowInput(CinderBroadcastRows.rows(broadcast, schema.size), schema, batchRows,
      numInputRows, conversionTime)
    try {
      val handle = NativeBridge.createPlanWithInputs(message.getBytes(StandardCharsets.UTF_8), Array[NativeInput](input))
      try {
        Iterator.continually(NativeTask.rethrowingInputFailures(Seq(input))(NativeBridge.nextShuffleBlock(handle)))
          .takeWhile(_ != null).toArray
      } finally NativeBridge.closePlan(handle)
    } finally input.close()
  }
}
