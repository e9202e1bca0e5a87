package org.apache.spark.sql.cinder

import java.io.{BufferedInputStream, BufferedOutputStream, DataInputStream, DataOutputStream, EOFException,
  InputStream, OutputStream}
import java.nio.ByteBuffer
import java.nio.charset.StandardCharsets

import scala.concurrent.Future
import scala.jdk.CollectionConverters._
import scala.reflect.ClassTag

import org.apache.spark.{MapOutputStatistics, PartitionIdPassthrough, RangePartitioner, ShuffleDependency,
  TaskContext}
import org.apache.spark.rdd.RDD
import org.apache.spark.serializer.{DeserializationStream, SerializationStream, Serializer, SerializerInstance}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, BoundReference, GenericInternalRow, Literal,
  UnsafeProjection}
import org.apache.spark.sql.catalyst.expressions.codegen.LazilyGeneratedOrdering
import org.apache.spark.sql.catalyst.plans.logical.Statistics
import org.apache.spark.sql.catalyst.plans.physical.{HashPartitioning, Partitioning, RangePartitioning,
  SinglePartition}
import org.apache.spark.sql.execution.{CoalescedPartitionSpec, ShufflePartitionSpec, ShuffledRowRDD, SparkPlan}
import org.apache.spark.sql.execution.adaptive.{AQEShuffleReadExec, ShuffleQueryStageExec}
import org.apache.spark.sql.execution.exchange.{ReusedExchangeExec, ShuffleExchangeExec, ShuffleExchangeLike,
  ShuffleOrigin}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics, SQLShuffleReadMetricsReporter,
  SQLShuffleWriteMetricsReporter}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{StructField, StructType}
import org.apache.spark.util.MutablePair
import org.apache.spark.sql.vectorized.ColumnarBatch

/**
 * A shuffle of a native subtree's rows that never makes Spark rows of them: each map task's
 * native plan splits its output by Spark's partitioning into Arrow IPC blocks
 * (`jvm-plugin/native/src/shuffle.rs`), and Spark's shuffle moves one record per block.
 * Everything else is Spark's: the shuffle manager and its files, fetches and retries, adaptive
 * execution's statistics, coalescing and skew handling.
 *
 * Rows go to the partitions Spark's own exchange would choose (`pmod(murmur3(keys), n)`,
 * hashed natively exactly as Spark hashes each type), so this exchange and a Spark exchange on
 * the other side of a join stay co-partitioned. A range partitioning's bounds are Spark's
 * `RangePartitioner`'s, sampled from the native subtree's rows when the shuffle runs.
 *
 * The read side hands a native subtree the blocks themselves ([[CinderShuffleRead.blocks]]);
 * a Spark operator gets rows of the blocks decoded natively.
 *
 * To Spark the exchange gives rows, not batches: adaptive execution keeps each shuffle stage's
 * plan as it was before the columnar rules ran (`ShuffleQueryStageExec`'s canonical form is
 * the original row-based exchange), so a `ColumnarToRow` above a stage of a columnar
 * exchange could not be canonicalized. Spark still puts a `ColumnarToRow` between this
 * exchange and its native child; [[CinderInputTransitions]] removes it, as the exchange reads
 * its child's native plans itself.
 *
 * @param shuffle the plan message's `shuffle` field: the partitioning, for the native side
 */
case class CinderShuffleExchangeExec(
    override val outputPartitioning: Partitioning,
    child: SparkPlan,
    shuffleOrigin: ShuffleOrigin,
    advisoryPartitionSize: Option[Long],
    shuffle: String)
  extends ShuffleExchangeLike {

  override def nodeName: String = "CinderShuffleExchange"

  override def output: Seq[Attribute] = child.output

  // As Spark's exchange shows itself (the plan message's partitioning is its JSON again).
  override def stringArgs: Iterator[Any] =
    Iterator(outputPartitioning, shuffleOrigin) ++ advisoryPartitionSize.iterator ++ Iterator(s"[plan_id=$id]")

  private lazy val writeMetrics = SQLShuffleWriteMetricsReporter.createShuffleWriteMetrics(sparkContext)
  private[cinder] lazy val readMetrics = SQLShuffleReadMetricsReporter.createShuffleReadMetrics(sparkContext)

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "dataSize" -> SQLMetrics.createSizeMetric(sparkContext, "data size (as Spark's rows)"),
    "blockBytes" -> SQLMetrics.createSizeMetric(sparkContext, "Arrow IPC block bytes"),
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of rows shuffled"),
    "numPartitions" -> SQLMetrics.createMetric(sparkContext, "number of partitions")) ++
    readMetrics ++ writeMetrics

  /** The map side: `(partition, block)` records from the native subtree's plans. */
  @transient lazy val inputRDD: RDD[Product2[Int, InternalRow]] = child match {
    case native: CinderNative =>
      // A range partitioning's bounds come from a sample of the rows, taken now, as Spark's
      // exchange takes it when it prepares its shuffle.
      val spec = outputPartitioning match {
        case r: RangePartitioning =>
          CinderShuffleExchangeExec.rangeSpec(r, child.output, CinderShuffleExchangeExec.rangeBounds(r, native))
            .fold(reason => throw new IllegalStateException(s"cinder: $reason"), identity)
        case _ => shuffle
      }
      native.executeShuffle(spec, CinderShuffleMetrics(metrics("numOutputRows"), metrics("dataSize"),
        metrics("blockBytes")))
    case other => throw new IllegalStateException(
      s"cinder: a native shuffle's input must be a native subtree, not ${other.nodeName}")
  }

  /** One record per block: the block's bytes in a one-column row. */
  @transient lazy val shuffleDependency: ShuffleDependency[Int, InternalRow, InternalRow] = {
    val dependency = new ShuffleDependency[Int, InternalRow, InternalRow](
      inputRDD,
      new PartitionIdPassthrough(outputPartitioning.numPartitions),
      new CinderBlockSerializer,
      shuffleWriterProcessor = ShuffleExchangeExec.createShuffleWriteProcessor(writeMetrics))
    metrics("numPartitions").set(dependency.partitioner.numPartitions)
    SQLMetrics.postDriverMetricUpdates(sparkContext,
      sparkContext.getLocalProperty(org.apache.spark.sql.execution.SQLExecution.EXECUTION_ID_KEY),
      metrics("numPartitions") :: Nil)
    dependency
  }

  @transient override lazy val mapOutputStatisticsFuture: Future[MapOutputStatistics] =
    if (inputRDD.getNumPartitions == 0) Future.successful(null)
    else sparkContext.submitMapStage(shuffleDependency)

  override def numMappers: Int = shuffleDependency.rdd.getNumPartitions

  override def numPartitions: Int = shuffleDependency.partitioner.numPartitions

  override def shuffleId: Int = shuffleDependency.shuffleId

  // The size Spark's own exchange would report (its rows' UnsafeRow bytes), so that adaptive
  // execution decides as it would without the plugin: Arrow blocks are smaller, and would
  // make it broadcast sides that a native join then converts and hashes in every task.
  override def runtimeStatistics: Statistics =
    Statistics(sizeInBytes = metrics("dataSize").value, rowCount = Some(metrics("numOutputRows").value))

  /** The blocks of `specs`' reduce partitions (Spark's own reader, with its partition specs). */
  def blocks(specs: Array[ShufflePartitionSpec]): RDD[InternalRow] =
    new ShuffledRowRDD(shuffleDependency, readMetrics, specs)

  /** Every reduce partition, one to one. */
  private[cinder] def allPartitions: Array[ShufflePartitionSpec] =
    Array.tabulate[ShufflePartitionSpec](numPartitions)(i => CoalescedPartitionSpec(i, i + 1))

  override def getShuffleRDD(specs: Array[ShufflePartitionSpec]): RDD[InternalRow] =
    CinderShuffleRead.rows(blocks(specs), output)

  @transient private var cachedRows: RDD[InternalRow] = _

  override protected def doExecute(): RDD[InternalRow] = {
    if (cachedRows == null) cachedRows = getShuffleRDD(allPartitions)
    cachedRows
  }

  override protected def withNewChildInternal(newChild: SparkPlan): CinderShuffleExchangeExec =
    copy(child = newChild)
}

private[cinder] object CinderShuffleExchangeExec {
  /**
   * The plan message's `shuffle` field for `partitioning` over `input`'s columns, or why a
   * native shuffle cannot produce it.
   */
  def spec(partitioning: Partitioning, input: Seq[Attribute])
      : Either[String, String] = partitioning match {
    case SinglePartition => Right("""{"kind":"single"}""")
    case h: HashPartitioning =>
      val keys = h.expressions.map { e =>
        for (json <- PlanJson.expr(e, input); t <- PlanJson.typeName(e.dataType)) yield {
          s"""{"expr":$json,"type":${PlanJson.str(t)}}"""
        }
      }
      keys.collectFirst { case Left(reason) => Left(s"a hash key: $reason") }.getOrElse(
        Right(s"""{"kind":"hash","keys":${keys.collect { case Right(k) => k }.mkString("[", ",", "]")},""" +
          s""""partitions":${h.numPartitions}}"""))
    // The bounds are sampled when the shuffle runs (CinderShuffleExchangeExec.inputRDD).
    case r: RangePartitioning => rangeSpec(r, input, Nil)
    case other => Left(s"${other.getClass.getSimpleName} is not native yet")
  }

  /** A range partitioning's `shuffle` field: its sort keys over `input` and `bounds`' values. */
  def rangeSpec(r: RangePartitioning, input: Seq[Attribute], bounds: Seq[InternalRow]): Either[String, String] =
    for {
      keys <- PlanJson.sortKeys(r.ordering, input).left.map(reason => s"a range key: $reason")
      values <- PlanJson.seq(bounds.map { bound =>
        PlanJson.seq(r.ordering.zipWithIndex.map { case (o, i) =>
          // (An UnsafeRow's get reads a null as its type's zero.)
          val value = if (bound.isNullAt(i)) null else bound.get(i, o.dataType)
          PlanJson.expr(Literal(value, o.dataType), Nil)
        }).map(_.mkString("[", ",", "]"))
      })
    } yield s"""{"kind":"range","keys":$keys,"bounds":${values.mkString("[", ",", "]")},""" +
      s""""partitions":${r.numPartitions}}"""

  /**
   * The bounds Spark's exchange would give `r` (`ShuffleExchangeExec.prepareShuffleDependency`):
   * Spark's own `RangePartitioner` over the sort keys of `native`'s rows, which it samples with
   * a job of its own (so the native subtree runs twice, as Spark's child does). Its sample is
   * seeded with the sampled RDD's id, so the bounds, as Spark's own between two runs, can
   * differ from a vanilla run's; any of them splits the rows into Spark's ordered ranges.
   */
  def rangeBounds(r: RangePartitioning, native: CinderNative): Seq[InternalRow] = {
    if (r.numPartitions <= 1) return Nil
    val output = native.output
    val keys = r.ordering.map(_.child)
    val sample = native.executeColumnar().mapPartitionsInternal { batches =>
      val project = UnsafeProjection.create(keys, output)
      val pair = new MutablePair[InternalRow, Null]()
      batches.flatMap(_.rowIterator().asScala).map(row => pair.update(project(row).copy(), null))
    }
    val ordering = new LazilyGeneratedOrdering(r.ordering.zipWithIndex.map { case (o, i) =>
      o.copy(child = BoundReference(i, o.dataType, o.nullable))
    })
    val partitioner = new RangePartitioner(r.numPartitions, sample, ascending = true,
      samplePointsPerPartitionHint = SQLConf.get.rangeExchangeSampleSizePerPartition)(
      ordering, ClassTag(classOf[InternalRow]))
    // Spark keeps the bounds private; getPartition reads them as the native side does.
    val field = classOf[RangePartitioner[_, _]].getDeclaredField("rangeBounds")
    field.setAccessible(true)
    field.get(partitioner).asInstanceOf[Array[InternalRow]].toSeq
  }
}

/**
 * What a native shuffle's map side counts: rows, their size as Spark's rows (`dataSize`, what
 * adaptive execution reads) and the Arrow blocks' bytes.
 */
private[cinder] case class CinderShuffleMetrics(rows: SQLMetric, dataSize: SQLMetric, blockBytes: SQLMetric)

/** Reading a native shuffle: its blocks for a native subtree, or rows for Spark. */
private[cinder] object CinderShuffleRead {
  /** The native shuffle `plan` reads, if it reads one (a stage, a reuse or a read of one). */
  def exchange(plan: SparkPlan): Option[CinderShuffleExchangeExec] = plan match {
    case s: CinderShuffleExchangeExec => Some(s)
    case ReusedExchangeExec(_, s: CinderShuffleExchangeExec) => Some(s)
    case stage: ShuffleQueryStageExec => exchange(stage.plan)
    case read: AQEShuffleReadExec => exchange(read.child)
    case _ => None
  }

  /** Whether `plan`'s output is a native shuffle's, which a native subtree reads as blocks. */
  def isNative(plan: SparkPlan): Boolean = exchange(plan).isDefined

  /** The blocks `plan` reads (one-column rows holding each block's bytes), if it is a native shuffle. */
  def blocks(plan: SparkPlan): Option[RDD[InternalRow]] = plan match {
    case read: AQEShuffleReadExec => exchange(read.child).map(_.blocks(read.partitionSpecs.toArray))
    case other => exchange(other).map(s => s.blocks(s.allPartitions))
  }

  /** The rows of the blocks, decoded natively (each batch is released once its rows are read). */
  def rows(blocks: RDD[InternalRow], output: Seq[Attribute]): RDD[InternalRow] = {
    val schema = StructType(output.map(a => StructField(a.name, a.dataType, a.nullable)))
    val fields = PlanJson.fields(schema.fields.toSeq)
      .fold(r => throw new IllegalStateException(s"cinder: $r"), identity).getBytes(StandardCharsets.UTF_8)
    blocks.mapPartitionsInternal { blocks =>
      NativeBridge.load()
      val toUnsafe = UnsafeProjection.create(output, output)
      new BlockBatchIterator(blocks, schema, fields, TaskContext.get()).flatMap(_.rowIterator().asScala.map(toUnsafe))
    }
  }
}

/**
 * Batches decoded from blocks; each stays valid until the next `hasNext`/`next`, and the last
 * is closed when the task completes.
 */
private[cinder] class BlockBatchIterator(blocks: Iterator[InternalRow], schema: StructType, fields: Array[Byte],
    context: TaskContext) extends Iterator[ColumnarBatch] {

  private var current: ColumnarBatch = _

  if (context != null) context.addTaskCompletionListener[Unit](_ => closeCurrent())

  private def closeCurrent(): Unit = synchronized {
    if (current != null) {
      current.close()
      current = null
    }
  }

  override def hasNext: Boolean = {
    val more = blocks.hasNext
    if (!more) closeCurrent()
    more
  }

  override def next(): ColumnarBatch = {
    val block = blocks.next().getBinary(0)
    closeCurrent()
    val batch = ArrowImport.batch(schema, NativeBridge.decodeBlock(block, fields))
    synchronized { current = batch }
    batch
  }
}

/**
 * Each block as a length-prefixed record (keys are not written: the partition is the block's
 * own). Records can be moved as bytes, so Spark may use its serialized sort-based shuffle.
 */
private[cinder] class CinderBlockSerializer extends Serializer with Serializable {
  override def newInstance(): SerializerInstance = new CinderBlockSerializerInstance

  override def supportsRelocationOfSerializedObjects: Boolean = true
}

private[cinder] class CinderBlockSerializerInstance extends SerializerInstance {
  override def serializeStream(s: OutputStream): SerializationStream = new SerializationStream {
    private val out = new DataOutputStream(new BufferedOutputStream(s))

    override def writeObject[T: ClassTag](t: T): SerializationStream =
      throw new UnsupportedOperationException("cinder: shuffle blocks are written as values")

    override def writeKey[T: ClassTag](key: T): SerializationStream = this

    override def writeValue[T: ClassTag](value: T): SerializationStream = {
      val block = value.asInstanceOf[InternalRow].getBinary(0)
      out.writeInt(block.length)
      out.write(block)
      this
    }

    override def flush(): Unit = out.flush()

    override def close(): Unit = out.close()
  }

  override def deserializeStream(s: InputStream): DeserializationStream = new DeserializationStream {
    private val in = new DataInputStream(new BufferedInputStream(s))

    /** The next block, or null at the end of the stream. */
    private def readBlock(): InternalRow = {
      val length =
        try in.readInt()
        catch { case _: EOFException => return null }
      val block = new Array[Byte](length)
      in.readFully(block)
      new GenericInternalRow(Array[Any](block))
    }

    override def readObject[T: ClassTag](): T =
      throw new UnsupportedOperationException("cinder: shuffle blocks are read as values")

    override def readKey[T: ClassTag](): T = null.asInstanceOf[T]

    override def readValue[T: ClassTag](): T = {
      val block = readBlock()
      if (block == null) throw new EOFException
      block.asInstanceOf[T]
    }

    override def asKeyValueIterator: Iterator[(Any, Any)] = new Iterator[(Any, Any)] {
      private var pending: InternalRow = _

      override def hasNext: Boolean = {
        if (pending == null) {
          pending = readBlock()
          if (pending == null) in.close()
        }
        pending != null
      }

      override def next(): (Any, Any) = {
        if (!hasNext) throw new NoSuchElementException
        val block = pending
        pending = null
        (0, block)
      }
    }

    override def close(): Unit = in.close()
  }

  override def serialize[T: ClassTag](t: T): ByteBuffer =
    throw new UnsupportedOperationException("cinder: shuffle blocks are only streamed")

  override def deserialize[T: ClassTag](bytes: ByteBuffer): T =
    throw new UnsupportedOperationException("cinder: shuffle blocks are only streamed")

  override def deserialize[T: ClassTag](bytes: ByteBuffer, loader: ClassLoader): T =
    throw new UnsupportedOperationException("cinder: shuffle blocks are only streamed")
}

