package org.apache.spark.sql.cinder

import scala.collection.mutable

import org.apache.spark.internal.Logging
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.catalyst.expressions.aggregate.{AggregateFunction, ApproximatePercentile, Average, BitAndAgg, BitOrAgg,
  BitXorAgg, Collect, CollectList, CollectSet, Corr, Count, CovPopulation, CovSample, DeclarativeAggregate, Final, First, HyperLogLogPlusPlus, Kurtosis,
  Last, Max, MaxBy, Min, MinBy, Mode, Partial, PartialMerge, Percentile, PercentileBase, PercentileDisc,
  RegrIntercept, RegrR2, RegrReplacement, RegrSXY, RegrSlope, Skewness, StddevPop,
  StddevSamp, Sum, VariancePop, VarianceSamp}
import org.apache.spark.sql.catalyst.expressions.{DynamicPruningExpression, EvalMode, Explode, InputFileBlockLength,
  InputFileBlockStart, InputFileName, PosExplode, SortOrder}
import org.apache.spark.sql.execution.ExecSubqueryExpression
import org.apache.spark.sql.execution.{CollectLimitExec, ColumnarRule, ColumnarToRowExec, ExpandExec, FileSourceScanExec,
  FilterExec, GenerateExec, GlobalLimitExec, LocalLimitExec, ProjectExec, RowToColumnarExec, SortExec, SparkPlan,
  TakeOrderedAndProjectExec, UnionExec}
import org.apache.spark.sql.execution.exchange.ShuffleExchangeExec
import org.apache.spark.sql.execution.window.{WindowExec, WindowGroupLimitExec}
import org.apache.spark.sql.execution.aggregate.{BaseAggregateExec, HashAggregateExec, ObjectHashAggregateExec,
  SortAggregateExec}
import org.apache.spark.sql.execution.joins.{BroadcastHashJoinExec, ShuffledHashJoinExec, SortMergeJoinExec}
import org.apache.spark.sql.types.{BinaryType, BooleanType, ByteType, DataType, DateType, DecimalType, DoubleType,
  FloatType, IntegerType, LongType, NullType, ShortType, TimestampNTZType, TimestampType}
import org.apache.spark.sql.internal.SQLConf

/**
 * Replaces each maximal supported subtree with one [[CinderNativeExec]], bottom-up: a Parquet
 * scan becomes a native leaf, and a filter or projection over a native subtree joins it.
 * Whatever stays on Spark gets its reason recorded ([[CinderExplain]]) and logged per
 * `spark.cinder.explain`. Runs before Spark inserts row/columnar transitions, so the
 * `ColumnarToRow` above each native subtree is Spark's own.
 */
case class CinderColumnarRule(session: SparkSession) extends ColumnarRule {
  override def preColumnarTransitions: Rule[SparkPlan] = CinderConvert

  override def postColumnarTransitions: Rule[SparkPlan] = CinderInputTransitions
}

/**
 * Removes the transitions Spark puts where Cinder's nodes read their input themselves: the
 * `RowToColumnarExec` under a native subtree that reads rows, and the `ColumnarToRowExec`
 * under a native shuffle (which reads its native child's plans; Spark adds one because the
 * exchange also gives rows).
 */
object CinderInputTransitions extends Rule[SparkPlan] {
  override def apply(plan: SparkPlan): SparkPlan = plan.transformUp {
    case native: CinderNativeExec if native.children.exists(_.isInstanceOf[RowToColumnarExec]) =>
      native.copy(children = native.children.map {
        case r: RowToColumnarExec => r.child
        case other => other
      })
    case shuffle @ CinderShuffleExchangeExec(_, ColumnarToRowExec(child: CinderNative), _, _, _) =>
      shuffle.copy(child = child)
  }
}

/** The conversion itself (a rule, so tests and tools can apply it to any plan). */
object CinderConvert extends Rule[SparkPlan] with Logging {

  /** The order a node promised before conversion. */
  private[cinder] val OriginalOrdering =
    org.apache.spark.sql.catalyst.trees.TreeNodeTag[Seq[SortOrder]]("cinder.originalOrdering")

  /**
   * Marks a sort that goes with its parent if the parent converts, whose native form hashes and
   * needs no order: a sort-merge join's input sorts, and the sort by a SortAggregateExec's keys.
   * If the parent stays on Spark, the sort is converted after it.
   */
  private val GoesWithParent = org.apache.spark.sql.catalyst.trees.TreeNodeTag[Unit]("cinder.goesWithParent")

  /** One operator class's converter: a native subtree, or why the operator stays on Spark. */
  private type Converter = (SparkPlan, SQLConf) => Either[String, CinderNative]

  /** The operators Cinder converts, each with its converter. */
  private val converters: Map[Class[_], Converter] = Map(
    classOf[FileSourceScanExec] -> ((p, conf) => convertScan(p.asInstanceOf[FileSourceScanExec], conf)),
    classOf[FilterExec] -> ((p, conf) => convertFilter(p.asInstanceOf[FilterExec], conf)),
    classOf[ProjectExec] -> ((p, conf) => convertProject(p.asInstanceOf[ProjectExec], conf)),
    classOf[ExpandExec] -> ((p, conf) => convertExpand(p.asInstanceOf[ExpandExec], conf)),
    classOf[GenerateExec] -> ((p, conf) => convertGenerate(p.asInstanceOf[GenerateExec], conf)),
    classOf[SortExec] -> ((p, conf) => convertSort(p.asInstanceOf[SortExec], conf)),
    classOf[WindowExec] -> ((p, conf) => WindowConversion.convert(p.asInstanceOf[WindowExec], conf)),
    classOf[WindowGroupLimitExec] ->
      ((p, conf) => WindowConversion.convertGroupLimit(p.asInstanceOf[WindowGroupLimitExec], conf)),
    classOf[LocalLimitExec] -> ((p, conf) => {
      val l = p.asInstanceOf[LocalLimitExec]
      convertLimit(l, l.limit, offset = 0, l.child, conf)
    }),
    classOf[GlobalLimitExec] -> ((p, conf) => {
      val l = p.asInstanceOf[GlobalLimitExec]
      convertLimit(l, l.limit, l.offset, l.child, conf)
    }),
    classOf[UnionExec] -> ((p, conf) => convertUnion(p.asInstanceOf[UnionExec], conf)),
    classOf[HashAggregateExec] -> ((p, conf) => convertAggregate(p.asInstanceOf[HashAggregateExec], conf)),
    classOf[SortAggregateExec] -> ((p, conf) => convertAggregate(p.asInstanceOf[SortAggregateExec], conf)),
    classOf[ObjectHashAggregateExec] -> ((p, conf) => convertAggregate(p.asInstanceOf[ObjectHashAggregateExec], conf)),
    classOf[BroadcastHashJoinExec] -> ((p, conf) => JoinConversion.broadcast(p.asInstanceOf[BroadcastHashJoinExec], conf)),
    classOf[ShuffledHashJoinExec] -> ((p, conf) => JoinConversion.shuffled(p.asInstanceOf[ShuffledHashJoinExec], conf)),
    classOf[SortMergeJoinExec] -> ((p, conf) => JoinConversion.sortMerge(p.asInstanceOf[SortMergeJoinExec], conf)))

  override def apply(plan: SparkPlan): SparkPlan = {
    val conf = SQLConf.get
    if (!CinderConf.Enabled.bool(conf)) {
      return plan
    }
    val explain = CinderConf.Explain.choice(conf)
    val reasons = mutable.ArrayBuffer.empty[(String, String)]
    // The native scan does not set Spark's per-task input file (InputFileBlockHolder).
    val usesInputFile = plan.exists(_.expressions.exists(_.exists {
      case _: InputFileName | _: InputFileBlockStart | _: InputFileBlockLength => true
      case _ => false
    }))
    // Each node's order before conversion: a native subtree that replaced an ordered node
    // (a sort-merge join, or what keeps its order) may need a sort again (keepLostOrder).
    plan.foreach { node =>
      node.setTagValue(OriginalOrdering, node.outputOrdering)
      node match {
        case join: SortMergeJoinExec => join.children.foreach {
          case sort: SortExec => sort.setTagValue(GoesWithParent, ())
          case _ =>
        }
        case agg: SortAggregateExec => agg.child match {
          // Only a sort by exactly the keys (a longer one decides which row first() reads).
          case sort: SortExec if agg.requiredChildOrdering.head.length == sort.sortOrder.length &&
              SortOrder.orderingSatisfies(sort.sortOrder, agg.requiredChildOrdering.head) =>
            sort.setTagValue(GoesWithParent, ())
          case _ =>
        }
        case _ =>
      }
    }
    def attempt(node: SparkPlan): SparkPlan = converters.get(node.getClass) match {
      case None if structural(node) => node
      case None =>
        reasons += node.nodeName -> s"no native converter for ${node.nodeName}"
        node
      case Some(convert) =>
        deepGuard(convert(node, conf)).flatMap(native => CinderNative.check(native, conf)) match {
          case Right(native: CinderNativeExec) =>
            // What order the replaced operator promised (native subtrees promise only a
            // native sort's order, and what keeps it).
            val order = node.getTagValue(CinderConvert.OriginalOrdering).getOrElse(Nil)
            withSubqueries(node, native).copy(lostOrdering = order, ordering = keptOrdering(node))
          case Right(union: CinderUnionExec) => union.copy(children = union.children.map(withSubqueries(node, _)))
          case Right(native) => native
          case Left(reason) =>
            reasons += node.nodeName -> reason
            node
        }
    }
    val converted = plan.transformUp {
      case native: CinderNative => native
      case scan: FileSourceScanExec if usesInputFile =>
        reasons += scan.nodeName -> ("the query reads input_file_name() or the input file's block, " +
          "which only Spark's own scan provides")
        scan
      // A sort-merge join's input sort goes with the join (native, it is a hash join), and a sort
      // aggregate's with the aggregate; if the parent stays on Spark, the sort converts below.
      case sort: SortExec if goesWithParent(sort) => sort
      case take: TakeOrderedAndProjectExec =>
        deepGuard(topK(take, conf)) match {
          case Right(plan) =>
            reasons += take.nodeName -> ("the top-k of each partition is native; merging them (at most " +
              s"${take.limit} rows each) stays on Spark")
            plan
          case Left(reason) =>
            reasons += take.nodeName -> reason
            take
        }
      case limit: CollectLimitExec =>
        reasons += limit.nodeName -> "it takes rows for the driver from as few partitions as it needs"
        limit
      // An exchange over a native subtree: a native shuffle (over Spark's rows it stays Spark's,
      // without a reason: that is not a native subtree's output).
      case exchange @ ShuffleExchangeExec(_, child: CinderNative, _, _) =>
        deepGuard(convertShuffle(exchange, child, conf)) match {
          case Right(shuffle) => shuffle
          case Left(reason) =>
            reasons += exchange.nodeName -> reason
            exchange
        }
      case node => attempt(node)
    }.transformUp {
      // The sorts of sort-merge joins and sort aggregates that stayed on Spark.
      case parent @ (_: SortMergeJoinExec | _: SortAggregateExec) => parent.withNewChildren(parent.children.map {
        case sort: SortExec if goesWithParent(sort) => attempt(sort)
        case other => other
      })
    }
    // A sort that restores an order: native where it can be, else Spark's, with the reason.
    val ordered = restoreOrdering(converted, (order, child) => attempt(SortExec(order, global = false, child)))
    // (A union's branches are listed in its description.)
    val natives = ordered.collect { case n: CinderNative => n }.filterNot { n =>
      ordered.exists { case u: CinderUnionExec => u.children.exists(_ eq n); case _ => false }
    }
    CinderExplain.record(reasons.toSeq, natives.map(_.describe))
    if (explain != "none") {
      reasons.foreach { case (node, reason) => logInfo(s"cinder: $node stays on Spark: $reason") }
    }
    if (explain == "all") {
      natives.foreach(n => logInfo(s"cinder: native: ${n.describe}"))
    }
    ordered
  }

  /**
   * `conversion`, or where its recursion through deeply nested expressions overflows the
   * planning thread's stack, the reason the node stays on Spark (which may still run it: its
   * own code generation recurses less deeply than the conversion).
   */
  private def deepGuard[T](conversion: => Either[String, T]): Either[String, T] =
    try conversion
    catch {
      case _: StackOverflowError =>
        Left("its expressions are nested too deeply to convert (the conversion overflowed the thread's stack)")
    }

  /**
   * `native` with the scalar subqueries of `node`'s expressions whose values its plan now uses:
   * they run before it.
   */
  private def withSubqueries(node: SparkPlan, native: CinderNativeExec): CinderNativeExec = {
    val found = node.expressions.flatMap(_.collect {
      case s: org.apache.spark.sql.execution.ScalarSubquery
          if native.root.contains(PlanJson.str(PlanJson.subqueryToken(s))) => s
    })
    native.copy(scalarSubqueries = (native.scalarSubqueries ++ found).distinctBy(_.exprId))
  }

  /**
   * A shuffle of a native subtree's output as Arrow blocks: partitioned natively as Spark
   * partitions (hash or single partition), moved by Spark's shuffle.
   */
  private def convertShuffle(exchange: ShuffleExchangeExec, child: CinderNative, conf: SQLConf)
      : Either[String, CinderShuffleExchangeExec] = {
    if (!CinderConf.ShuffleEnabled.bool(conf)) {
      return Left(s"${CinderConf.ShuffleEnabled.key} is false")
    }
    for {
      spec <- CinderShuffleExchangeExec.spec(exchange.outputPartitioning, child.output)
      _ <- CinderNative.check(child, conf, Some(spec))
    } yield CinderShuffleExchangeExec(exchange.outputPartitioning, child, exchange.shuffleOrigin,
      exchange.advisoryPartitionSize, spec)
  }

  /**
   * UNION ALL of native subtrees: their partitions one after another, as Spark's union (not
   * the partitioning-aware union, whose partition `i` holds each child's partition `i`).
   */
  private def convertUnion(union: UnionExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!union.outputPartitioning.isInstanceOf[org.apache.spark.sql.catalyst.plans.physical.UnknownPartitioning]) {
      return Left(s"a union partitioned as ${union.outputPartitioning} is not native yet")
    }
    val branches = union.children.flatMap {
      case native: CinderNativeExec => Seq(Right(native))
      case inner: CinderUnionExec => inner.children.map(Right(_))
      case other => Seq(Left(s"its input (${other.nodeName}) is not native"))
    }
    branches.collectFirst { case Left(reason) => return Left(reason) }
    val natives = branches.collect { case Right(native) => native }
    if (natives.exists(_.output.map(_.dataType) != union.output.map(_.dataType))) {
      return Left("its inputs' column types differ from its own")
    }
    Right(CinderUnionExec(natives, union.output, natives.map(_.describe).mkString("Union <- [", ", ", "]")))
  }

  /**
   * The order of a native subtree that replaced `node` (whose children are converted): a sort's,
   * and what a filter, projection or limit keeps of its input's. A native plan is one stream,
   * and DataFusion's filter, projection and limit keep its order.
   */
  private def keptOrdering(node: SparkPlan): Seq[SortOrder] = node match {
    case _: SortExec | _: FilterExec | _: ProjectExec | _: LocalLimitExec | _: GlobalLimitExec => node.outputOrdering
    case _ => Nil
  }

  /** `order` as a native sort on top of `native` (a top-k with `fetch`). */
  private def nativeSort(order: Seq[SortOrder], native: CinderNativeExec, fetch: Option[Long], what: String)
      : Either[String, CinderNativeExec] =
    PlanJson.sortKeys(order, native.output).map { keys =>
      val fetchField = fetch.map(n => s""","fetch":$n""").getOrElse("")
      native.copy(root = s"""{"op":"sort","keys":$keys$fetchField,"input":${native.root}}""",
        describe = s"$what <- ${native.describe}", ordering = order)
    }

  /**
   * Sorts again where a node above a native subtree needs its input ordered: a native
   * subtree promises no order (a sort-merge join runs as a hash join), while Spark's
   * planning may have relied on the replaced operator's order (a second sort-merge join on
   * the same keys, say).
   */
  private def restoreOrdering(plan: SparkPlan, sort: (Seq[SortOrder], SparkPlan) => SparkPlan): SparkPlan = {
    val restored = plan.transformUp {
      // (Also through Spark nodes between: a projection over a native join orders nothing.)
      case node if !node.isInstanceOf[CinderNative] && node.children.nonEmpty =>
        val children = node.children.zip(node.requiredChildOrdering).map {
          case (child, required)
              if required.nonEmpty && !SortOrder.orderingSatisfies(child.outputOrdering, required) =>
            sort(required, child)
          case (child, _) => child
        }
        if (children == node.children) node else node.withNewChildren(children)
    }
    keepLostOrder(restored, orderMatters = true, sort)
  }

  /**
   * Sorts a native subtree that replaced an ordered node (a sort-merge join, or a projection,
   * filter or join that kept its order) again where that order may still be relied on although
   * no node asks for it: Spark removed a local sort (`SORT BY`) above it as redundant. Only
   * where the path up to the root keeps row order (projections, filters, limits, ...) and no
   * node on it asks for an order itself (`restoreOrdering` sees to those), or re-sorts,
   * aggregates or exchanges.
   */
  private def keepLostOrder(plan: SparkPlan, orderMatters: Boolean, sort: (Seq[SortOrder], SparkPlan) => SparkPlan)
      : SparkPlan = plan match {
    // A union promises no order (its branches' lost orders are their own).
    case union: CinderUnionExec => union
    case native: CinderNativeExec =>
      if (orderMatters && native.lostOrdering.nonEmpty &&
          !SortOrder.orderingSatisfies(native.outputOrdering, native.lostOrdering)) {
        sort(native.lostOrdering, native)
      } else native
    case node =>
      val resets = node.isInstanceOf[SortExec] || node.isInstanceOf[org.apache.spark.sql.execution.exchange.Exchange] ||
        node.isInstanceOf[org.apache.spark.sql.execution.aggregate.BaseAggregateExec] ||
        node.isInstanceOf[org.apache.spark.sql.execution.TakeOrderedAndProjectExec] || node.isInstanceOf[UnionExec]
      val children = node.children.zip(node.requiredChildOrdering).map { case (child, required) =>
        keepLostOrder(child, orderMatters && !resets && required.isEmpty, sort)
      }
      if (children.zip(node.children).forall { case (a, b) => a eq b }) node else node.withNewChildren(children)
  }

  private def convertScan(scan: FileSourceScanExec, conf: SQLConf): Either[String, CinderNativeExec] = {
    if (!CinderConf.ScanEnabled.bool(conf)) {
      return Left(s"${CinderConf.ScanEnabled.key} is false")
    }
    val format = scan.relation.fileFormat.getClass.getName
    if (format != "org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat") {
      return Left(s"only Parquet is read natively, not ${scan.relation.fileFormat}")
    }
    if (scan.bucketedScan) {
      return Left("bucketed scans are not supported natively yet")
    }
    if (scan.fileConstantMetadataColumns.nonEmpty ||
        scan.requiredSchema.fields.exists(f => f.name.startsWith("_tmp_metadata") ||
          f.metadata.contains("__file_source_generated_metadata_col"))) {
      return Left("file metadata columns (_metadata) are not supported natively")
    }
    // Partition filters choose the files (the native scan reads the scan's file partitions
    // as planned); data filters only prune inside the files, and the filter above the scan
    // decides every row, so a subquery there is fine.
    if (scan.partitionFilters.exists(_.exists {
      case _: ExecSubqueryExpression | _: DynamicPruningExpression => true
      case _ => false
    })) {
      return Left("scans with partitions filtered by a subquery or dynamic partition pruning are not native yet")
    }
    val dataFields = scan.requiredSchema.fields.toSeq
    val partitionFields = scan.relation.partitionSchema.fields.toSeq
    val outputNames = scan.output.map(_.name)
    val partitionNames = partitionFields.map(_.name)
    val expected = dataFields.map(_.name) ++ partitionNames
    if (outputNames != expected) {
      return Left(s"scan output ${outputNames.mkString(", ")} is not the read columns then the " +
        "partition columns")
    }
    val roots = scan.relation.location.rootPaths
    roots.find(p => Option(p.toUri.getScheme).exists(_ != "file")) match {
      case Some(p) => return Left(s"only local files are read natively, not $p")
      case None =>
    }
    // DataFusion reads Parquet's INT96 timestamps as nanoseconds and coerces them to Spark's
    // microseconds by each column's path, which misses the elements of lists in Spark's legacy
    // format (`a.bag.array`): values outside 1677-2262 would come back wrapped, without an error.
    def timestampsInArray(dt: DataType, inArray: Boolean): Boolean = dt match {
      case org.apache.spark.sql.types.ArrayType(element, _) => timestampsInArray(element, inArray = true)
      case TimestampType => inArray
      case _ => false
    }
    dataFields.find(f => timestampsInArray(f.dataType, inArray = false)).foreach { f =>
      return Left(s"column ${f.name} (${f.dataType.simpleString}): arrays of timestamps are read on Spark (their " +
        "Parquet INT96 values in lists of Spark's legacy format would be misread natively)")
    }
    for {
      schema <- PlanJson.fields(dataFields)
      partitions <- PlanJson.fields(partitionFields)
      _ <- PlanJson.fields(scan.output.map(a =>
        org.apache.spark.sql.types.StructField(a.name, a.dataType, a.nullable)))
    } yield {
      // Spark's pushed-down data filters, those that translate: the native reader skips the
      // row groups their statistics rule out, as Spark's reader does, so that a filter left on
      // Spark above sees the rows it sees without the plugin (one that can fail, say, on rows
      // Spark's reader never returns). Data filters with a subquery would need its value before
      // the scan's file partitions can be listed: they are dropped.
      val dataFilters = scan.dataFilters.filterNot(_.exists(_.isInstanceOf[ExecSubqueryExpression]))
      val prune = dataFilters.flatMap(f => PlanJson.expr(f, scan.output).toOption)
        .reduceOption((a, b) => s"""{"kind":"binary","op":"and","type":"boolean","left":$a,"right":$b}""")
      val node = s"""{"op":"parquet_scan","schema":$schema,"partition_schema":$partitions""" +
        prune.fold("")(p => s""","prune":$p""") + "}"
      val table = roots.headOption.map(_.getName).getOrElse("?")
      val files = scan.copy(dataFilters = dataFilters)
      CinderNativeExec(node, scan.output, Some(files), Nil, Nil, s"ParquetScan($table)", scan.outputPartitioning)
    }
  }

  /**
   * A sort (local or global: a global sort's range exchange stays Spark's) on top of its
   * native input, or of an `input` leaf reading its rows.
   */
  private def convertSort(sort: SortExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.SortEnabled.bool(conf)) {
      return Left(s"${CinderConf.SortEnabled.key} is false")
    }
    val input = sort.child match {
      case native: CinderNativeExec => Right(native)
      case other if CinderNativeExec.readable(other) => CinderNativeExec.input(other, broadcast = false)
      case other => Left(s"its input ${other.nodeName} is columnar but not native")
    }
    input.flatMap(nativeSort(sort.sortOrder, _, fetch = None, if (sort.global) "Sort(global)" else "Sort"))
  }

  /** A limit (`limit` < 0: none) after skipping `offset` rows, per partition. */
  private def convertLimit(node: SparkPlan, limit: Int, offset: Int, child: SparkPlan, conf: SQLConf)
      : Either[String, CinderNative] = {
    if (!CinderConf.LimitEnabled.bool(conf)) {
      return Left(s"${CinderConf.LimitEnabled.key} is false")
    }
    val input = child match {
      case native: CinderNativeExec => Right(native)
      // A global limit reads one partition of at most a few local limits' rows.
      case other if node.isInstanceOf[GlobalLimitExec] && CinderNativeExec.readable(other) =>
        CinderNativeExec.input(other, broadcast = false)
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
    input.map { native =>
      // Spark's global limit counts the skipped rows in its limit.
      val limitField = if (limit >= 0) s""","limit":${math.max(limit - offset, 0)}""" else ""
      native.copy(root = s"""{"op":"limit","offset":$offset$limitField,"input":${native.root}}""",
        output = node.output, describe = s"${node.nodeName}($limit) <- ${native.describe}",
        partitioning = node.outputPartitioning)
    }
  }

  /**
   * TakeOrderedAndProjectExec over a native subtree: the subtree gets a native top-k (the first
   * `limit + offset` rows of each partition, sorted), under Spark's node, which merges them.
   */
  private def topK(take: TakeOrderedAndProjectExec, conf: SQLConf): Either[String, SparkPlan] = {
    if (!CinderConf.SortEnabled.bool(conf)) {
      return Left(s"${CinderConf.SortEnabled.key} is false")
    }
    take.child match {
      case native: CinderNativeExec =>
        // (Spark's limit counts the skipped rows.)
        val fetch = take.limit.toLong
        nativeSort(take.sortOrder, native, Some(fetch), s"TopK($fetch)")
          .map(withSubqueries(take, _))
          .flatMap(CinderNative.check(_, conf))
          .map(sorted => take.withNewChildren(Seq(sorted)))
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  private def convertFilter(filter: FilterExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.FilterEnabled.bool(conf)) {
      return Left(s"${CinderConf.FilterEnabled.key} is false")
    }
    filter.child match {
      case child: CinderNative =>
        PlanJson.filterCondition(filter.condition, child.output).map { condition =>
          child.withPlan(
            root = s"""{"op":"filter","condition":$condition,"input":${child.root}}""",
            output = filter.output,
            describe = s"Filter <- ${child.describe}",
            partitioning = filter.outputPartitioning)
        }
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  private def convertAggregate(agg: BaseAggregateExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.AggregateEnabled.bool(conf)) {
      return Left(s"${CinderConf.AggregateEnabled.key} is false")
    }
    // What no input could change comes first, so that the reason is the real one.
    AggregateConversion.unsupported(agg) match {
      case Some(reason) => return Left(reason)
      case None =>
    }
    // A sort aggregate's sort is left out: the native aggregate hashes its keys, and reads each
    // group's rows in the order they come, as Spark's sort leaves them where it keeps equal keys
    // in order (not its radix sort of one nullable key: docs/spark.md, known differences).
    val input = agg.child match {
      case sort: SortExec if goesWithParent(sort) => sort.child
      case other => other
    }
    input match {
      case child: CinderNative => AggregateConversion.convert(agg, child)
      case other if AggregateConversion.readsInput(agg) && CinderNativeExec.readable(other) =>
        // A final or merging aggregation (typically over a shuffle) starts a native subtree
        // that reads its child's rows.
        CinderNativeExec.input(other, broadcast = false).flatMap(input => AggregateConversion.convert(agg, input))
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  private def goesWithParent(sort: SortExec): Boolean = sort.getTagValue(GoesWithParent).isDefined

  /** Nodes that are Spark's by design (exchanges, adaptive stages, transitions): no reason logged. */
  private def structural(plan: SparkPlan): Boolean = {
    val name = plan.getClass.getSimpleName
    name.contains("Exchange") || name.contains("QueryStage") || name.startsWith("AdaptiveSparkPlan") ||
      name.startsWith("AQEShuffleRead") || name.contains("ColumnarToRow") || name.contains("RowToColumnar") ||
      name == "InputAdapter" || name == "WholeStageCodegenExec"
  }

  /** Each row once per projection (ROLLUP, CUBE, GROUPING SETS, several DISTINCT aggregates). */
  private def convertExpand(expand: ExpandExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.ExpandEnabled.bool(conf)) {
      return Left(s"${CinderConf.ExpandEnabled.key} is false")
    }
    expand.child match {
      case child: CinderNative =>
        val projections = expand.projections.map(p => PlanJson.seq(p.map(PlanJson.expr(_, child.output))))
        projections.collectFirst { case Left(reason) => reason } match {
          case Some(reason) => Left(reason)
          case None =>
            val list = projections.collect { case Right(js) => js.mkString("[", ",", "]") }.mkString("[", ",", "]")
            Right(child.withPlan(
              root = s"""{"op":"expand","projections":$list,"input":${child.root}}""",
              output = expand.output,
              describe = s"Expand <- ${child.describe}",
              partitioning = expand.outputPartitioning))
        }
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  /**
   * explode and posexplode (also `_outer`, LATERAL VIEW [OUTER]) of an array over a native
   * subtree: per input row, in order, the kept columns with each element (and its position).
   */
  private def convertGenerate(generate: GenerateExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.GenerateEnabled.bool(conf)) {
      return Left(s"${CinderConf.GenerateEnabled.key} is false")
    }
    val (array, position) = generate.generator match {
      case Explode(child) => (child, false)
      case PosExplode(child) => (child, true)
      case other => return Left(s"generator ${other.prettyName} is not native yet")
    }
    generate.child match {
      case child: CinderNative =>
        val keep = generate.requiredChildOutput.map(a => child.output.indexWhere(_.exprId == a.exprId))
        for {
          _ <- if (keep.contains(-1)) Left("a kept column is not in the native input") else Right(())
          json <- PlanJson.arrayExpr(array, child.output)
          _ <- PlanJson.fields(generate.generatorOutput.map(a =>
            org.apache.spark.sql.types.StructField(a.name, a.dataType, a.nullable)))
        } yield child.withPlan(
          root = s"""{"op":"generate","array":$json,"keep":${keep.mkString("[", ",", "]")},""" +
            s""""position":$position,"outer":${generate.outer},"input":${child.root}}""",
          output = generate.output,
          describe = s"Generate <- ${child.describe}",
          partitioning = generate.outputPartitioning)
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  private def convertProject(project: ProjectExec, conf: SQLConf): Either[String, CinderNative] = {
    if (!CinderConf.ProjectEnabled.bool(conf)) {
      return Left(s"${CinderConf.ProjectEnabled.key} is false")
    }
    project.child match {
      case child: CinderNative =>
        val exprs = project.projectList.map(e => PlanJson.projected(e, child.output))
        // Spark evaluates the common subexpressions of a projection on every row, first: where
        // one can fail, an inner projection computes it too, and the outer one drops it.
        val eager = PlanJson.eagerSubexpressions(project.projectList).map(e => PlanJson.projected(e, child.output))
        (exprs ++ eager).collectFirst { case Left(reason) => reason } match {
          case Some(reason) => Left(reason)
          case None =>
            val list = exprs.collect { case Right(json) => json }
            val inner = if (eager.isEmpty) child.root else {
              val all = (list ++ eager.collect { case Right(json) => json }).mkString("[", ",", "]")
              s"""{"op":"project","exprs":$all,"input":${child.root}}"""
            }
            val outer = if (eager.isEmpty) list else list.indices.map(PlanJson.column)
            Right(child.withPlan(
              root = s"""{"op":"project","exprs":${outer.mkString("[", ",", "]")},"input":$inner}""",
              output = project.output,
              describe = s"Project <- ${child.describe}",
              partitioning = project.outputPartitioning))
        }
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }
}

private object AggregateConversion {
  import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeReference, AttributeSet}
  import org.apache.spark.sql.catalyst.expressions.aggregate.AggregateExpression
  import PlanJson._

  /**
   * A partial HashAggregateExec over a native subtree: a native hash aggregate of DataFusion
   * functions, then a projection that lays out Spark's aggregation buffers exactly (the final
   * stage, on Spark, merges them):
   * - count(x): [count];
   * - sum(x): [sum] (null when no value), and for decimals [sum (0 when no value), isEmpty];
   * - avg(x): [sum (0 when no value, double or decimal(p+10,s)), count];
   * - min(x), max(x): [value] (not for floats, whose -0.0/NaN ordering differs).
   */
  def convert(agg: BaseAggregateExec, child: CinderNative): Either[String, CinderNative] =
    unsupported(agg) match {
      case Some(reason) => Left(reason)
      case None => if (isFinal(agg)) finalStage(agg, child) else partial(agg, child)
    }

  /** Why `agg` cannot be native whatever its input, if so. */
  def unsupported(agg: BaseAggregateExec): Option[String] = {
    val exprs = agg.aggregateExpressions
    // A DISTINCT aggregate (one distinct group: several become an Expand) reaches its partial
    // and final stages over rows Spark already made distinct per group and argument, "a
    // non-distinct aggregation because its input will have distinct arguments" (AggUtils). Next
    // to other functions, the two stages between merge those functions' buffers (PartialMerge),
    // the second one beside the DISTINCT function's partial stage.
    if (!isFinal(agg) && !exprs.forall(e => e.mode == Partial || e.mode == PartialMerge)) {
      Some(s"aggregation mode ${exprs.map(_.mode).distinct.mkString(", ")} is not native yet")
    } else None
  }

  /**
   * Whether `agg` may start a native subtree that reads its child's rows: a final stage, or a
   * stage that merges buffers (both typically over a shuffle).
   */
  def readsInput(agg: BaseAggregateExec): Boolean =
    isFinal(agg) || agg.aggregateExpressions.exists(_.mode == PartialMerge)

  /**
   * Whether `agg` is a final stage: its functions are in Final mode, or (grouping only, as in
   * SELECT DISTINCT) it requires its input distributed by its keys, as only final stages do.
   */
  def isFinal(agg: BaseAggregateExec): Boolean =
    if (agg.aggregateExpressions.nonEmpty) agg.aggregateExpressions.forall(_.mode == Final)
    else agg.requiredChildDistributionExpressions.isDefined

  private def ansiIntegralSum(s: Sum): Boolean =
    s.evalMode == EvalMode.ANSI && !s.dataType.isInstanceOf[DecimalType] && s.dataType != DoubleType

  /**
   * A final HashAggregateExec: merges Spark's buffers (from the partial stage, native or not)
   * with DataFusion aggregates, then evaluates each function's result as Spark does, then the
   * aggregate's result expressions.
   */
  private def finalStage(agg: BaseAggregateExec, child: CinderNative): Either[String, CinderNative] = {
    val input = child.output
    val groups = agg.groupingExpressions.map(e => expr(e, input))
    groups.collectFirst { case Left(r) => return Left(r) }
    val groupJson = groups.collect { case Right(j) => j }
    val calls = scala.collection.mutable.ArrayBuffer.empty[String]
    def add(json: String): String = {
      calls += json
      column(groupJson.size + calls.size - 1)
    }
    def call(func: String, arg: String): String = add(callJson(func, arg))
    def buffer(ae: AggregateExpression, i: Int): Either[String, String] = bufferColumn(ae, i, input)
    val finals = scala.collection.mutable.ArrayBuffer.empty[String]
    for (ae <- agg.aggregateExpressions) {
      val converted: Either[String, String] = ae.aggregateFunction match {
        case _: Count =>
          buffer(ae, 0).map(c => orZero(call("sum", c), "bigint", "0"))
        case s: Sum if tryIntegralSum(s) =>
          // [sum, isEmpty]: the sums added as Spark merges them (null from a buffer that
          // overflowed, or an addition that does, on); null where no buffer read a value.
          for (sum <- buffer(ae, 0); empty <- buffer(ae, 1)) yield {
            val merged = call("merge_try_long_sum", sum)
            val noValues = s"""{"kind":"not","child":${binaryJson("eq_null_safe", "boolean", call("min", empty),
              literal("boolean", "false"))}}"""
            caseWhen(noValues, literal("bigint", "null"), merged, "bigint")
          }
        case s: Sum if ansiIntegralSum(s) => buffer(ae, 0).map(b => checkedLongSum(b, call))
        case s: Sum if s.dataType.isInstanceOf[DecimalType] =>
          for (sum <- buffer(ae, 0); empty <- buffer(ae, 1); t <- typeName(s.dataType)) yield {
            val merged = wideDecimalSum(sum, s.dataType.asInstanceOf[DecimalType], call)
            val allEmpty = call("min", empty)
            // A buffer with values but no sum overflowed in the partial stage.
            val overflowed = anyRow(binaryJson("and", "boolean", s"""{"kind":"not","child":$empty}""",
              s"""{"kind":"is_null","child":$sum}"""), call)
            val noValues = s"""{"kind":"not","child":${binaryJson("eq_null_safe", "boolean", allEmpty,
              literal("boolean", "false"))}}"""
            val failed = binaryJson("or", "boolean", overflowed, s"""{"kind":"is_null","child":$merged}""")
            caseWhen(noValues, literal(t, "null"),
              caseWhen(failed, overflow(t, s.evalMode == EvalMode.ANSI, "try_sum"), merged, t), t)
          }
        case s: Sum => buffer(ae, 0).map(b => call(sumOf(s.dataType), b))
        // (try_avg: legacy mode's average, whose decimal overflow is null; doubles do not fail.)
        case a: Average =>
          for (sum <- buffer(ae, 0); count <- buffer(ae, 1); t <- typeName(a.dataType)) yield {
            val c = call("sum", count)
            (a.dataType, a.sumDataType) match {
              case (_: DecimalType, sumType: DecimalType) =>
                val ansi = a.evalMode == EvalMode.ANSI
                val s = wideDecimalSum(sum, sumType, call)
                val overflowed = anyRow(binaryJson("and", "boolean", s"""{"kind":"is_null","child":$sum}""",
                  binaryJson("gt", "boolean", count, literal("bigint", "0"))), call)
                val noRows = s"""{"kind":"not","child":${binaryJson("eq_null_safe", "boolean",
                  binaryJson("eq", "boolean", c, literal("bigint", "0")), literal("boolean", "false"))}}"""
                val failed = binaryJson("or", "boolean", overflowed, s"""{"kind":"is_null","child":$s}""")
                val avg = s"""{"kind":"spark_decimal_avg","type":${str(t)},"sum":$s,"count":$c,"ansi":$ansi}"""
                caseWhen(noRows, literal(t, "null"), caseWhen(failed, overflow(t, ansi, "try_avg"), avg, t), t)
              case _ => binaryJson("divide", "double", call(sumOf(DoubleType), sum), castJson(c, "double"))
            }
          }
        // (Floats in Spark's order: the native side takes them as ordered integer keys.)
        case m @ (_: Min | _: Max) => buffer(ae, 0).map(b => call(if (m.isInstanceOf[Min]) "min" else "max", b))
        case BitwiseAggregate(func, _) => buffer(ae, 0).map(b => call(func, b))
        case FirstOrLast(func, _, _) =>
          // The first (last) buffer that read a row, in the order they come, as Spark merges.
          for (value <- buffer(ae, 0); set <- buffer(ae, 1)) yield add(callJson(func, value, filter = Some(set)))
        case MaxOrMinBy(func, _, _) =>
          // [value, ordering]: merged as rows (a later buffer wins a tie, as in Spark's merge).
          for (value <- buffer(ae, 0); ordering <- buffer(ae, 1)) yield add(callJson(func, value, Seq(ordering)))
        case m @ Moments(groups) =>
          // The merged buffers, then Spark's own evaluateExpression over them.
          for (buffers <- seq(groups.flatMap(_._2).indices.map(buffer(ae, _)));
               result <- {
                 val first = groupJson.size + calls.size
                 mergedMomentGroups(groups, buffers, add)
                 // The aggregate's output columns, the merged buffer named as evaluateExpression does.
                 val columns = Array.fill[Attribute](groupJson.size + calls.size)(
                   AttributeReference("unused", NullType)())
                 m.aggBufferAttributes.zipWithIndex.foreach { case (a, k) => columns(first + k) = a }
                 expr(m.asInstanceOf[DeclarativeAggregate].evaluateExpression, columns.toSeq)
               }) yield result
        case h: HyperLogLogPlusPlus =>
          for (p <- Hll.precision(h); sketch <- Hll.merged(p, buffer(ae, _), add))
            yield s"""{"kind":"hll_estimate","child":$sketch,"precision":$p}"""
        case p: PercentileBase =>
          for (spec <- Percentiles.spec(p, evaluate = true); counts <- buffer(ae, 0))
            yield add(callJson("merge_percentile_counts", counts, percentile = Some(spec)))
        case a: ApproximatePercentile =>
          for (spec <- Percentiles.approx(a, agg, evaluate = true); summary <- buffer(ae, 0))
            yield add(callJson("merge_percentile_approx", summary, percentile = Some(spec)))
        case m: Mode =>
          for (spec <- Percentiles.mode(m, evaluate = true); counts <- buffer(ae, 0))
            yield add(callJson("merge_percentile_counts", counts, percentile = Some(spec)))
        case c: Collect[_] =>
          for (spec <- Collects.spec(c, agg, evaluate = true); list <- buffer(ae, 0))
            yield add(callJson("merge_collect_list", list, collect = Some(spec)))
        case other => Left(s"aggregate ${other.prettyName} is not native yet")
      }
      converted match {
        case Left(reason) => return Left(reason)
        case Right(json) => finals += json
      }
    }
    agg.aggregateExpressions.map(_.aggregateFunction).collectFirst {
      case a: Average if a.dataType.isInstanceOf[DecimalType] &&
          a.sumDataType.asInstanceOf[DecimalType].scale > 18 =>
        return Left("avg of a decimal with scale > 18 is not native yet")
    }
    val aggregate = s"""{"op":"hash_aggregate","groups":${groupJson.mkString("[", ",", "]")},""" +
      s""""aggregates":${calls.mkString("[", ",", "]")},"input":${child.root}}"""
    val values = (groupJson.indices.map(column) ++ finals).mkString("[", ",", "]")
    val evaluated = s"""{"op":"project","exprs":$values,"input":$aggregate}"""
    // As Spark's ObjectHashAggregateExec, its groups sorted by their keys once there are as many
    // as its sort-based fallback threshold (an order the operators above may depend on).
    val merged = agg match {
      case _: ObjectHashAggregateExec if groupJson.nonEmpty =>
        val threshold = math.max(1, SQLConf.get.objectAggSortBasedFallbackThreshold)
        s"""{"op":"group_order","keys":${groupJson.indices.mkString("[", ",", "]")},"min_rows":$threshold,""" +
          s""""input":$evaluated}"""
      case _ => evaluated
    }
    val resultInput = agg.groupingExpressions.map(_.toAttribute) ++ agg.aggregateAttributes
    val results = agg.resultExpressions.map(e => PlanJson.projected(e, resultInput))
    results.collectFirst { case Left(r) => return Left(r) }
    val resultJson = results.collect { case Right(j) => j }.mkString("[", ",", "]")
    Right(child.withPlan(
      root = s"""{"op":"project","exprs":$resultJson,"input":$merged}""",
      output = agg.output,
      describe = s"HashAggregate(final) <- ${child.describe}",
      partitioning = agg.outputPartitioning))
  }

  /**
   * The sum of decimal column `arg` in Spark's sum type `t`: added in 256 bits (DataFusion's
   * 128-bit decimal sum wraps), then cast back, which gives null where Spark's type overflows.
   */
  def wideDecimalSum(arg: String, t: DecimalType, call: (String, String) => String): String = {
    val wide = call("sum", castJson(arg, s"decimal256(76,${t.scale})"))
    castJson(wide, s"decimal(${t.precision},${t.scale})")
  }

  /**
   * The partial stage's sum of decimal column `arg` (Spark type `in`) in Spark's sum type `t`.
   * Inputs of up to 27 digits are summed as decimal(38, s), which a 128-bit sum (Cinder's GPU
   * aggregate's too) holds exactly unless a task adds more than 10^10 maximal values; the cast
   * back to `t` then sees Spark's overflow. Wider inputs are summed in 256 bits.
   */
  private def partialDecimalSum(arg: String, in: DataType, t: DecimalType,
      call: (String, String) => String): String = in match {
    case d: DecimalType if d.precision <= 27 =>
      // DataFusion sums decimal(28, s) as decimal(38, s).
      val sum = call("sum", castJson(arg, s"decimal(28,${d.scale})"))
      castJson(sum, s"decimal(${t.precision},${t.scale})")
    case _ => wideDecimalSum(arg, t, call)
  }

  /**
   * ANSI mode's sum of bigint column `arg`: added exactly (as decimal(38, 0)), then an
   * overflow error where the sum does not fit a bigint. Spark checks each addition instead,
   * so it also fails where a running sum leaves the range and comes back (which depends on
   * the order of the rows, and so on the partitioning); both fail on every sum that does not
   * fit.
   */
  def checkedLongSum(arg: String, call: (String, String) => String): String = {
    val wide = call("sum", castJson(arg, "decimal(38,0)"))
    val outside = binaryJson("or", "boolean",
      binaryJson("gt", "boolean", wide, literal("decimal(38,0)", str(Long.MaxValue.toString))),
      binaryJson("lt", "boolean", wide, literal("decimal(38,0)", str(Long.MinValue.toString))))
    val error = s"""{"kind":"raise_error","type":"bigint","message":""" +
      str("[ARITHMETIC_OVERFLOW] long overflow. Use 'try_add' to tolerate overflow and return NULL " +
        "instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. " +
        "SQLSTATE: 22003") + "}"
    caseWhen(outside, error, castJson(wide, "bigint"), "bigint")
  }

  /**
   * try_sum of integers: Spark's buffer [sum, isEmpty] starts at [0, true] and adds each value
   * with an overflow check, the sum null from the first overflow on; so does the native
   * `try_long_sum`, in the order the rows come, and `merge_try_long_sum` merges buffers so.
   */
  def tryIntegralSum(s: Sum): Boolean =
    s.evalMode == EvalMode.TRY && s.dataType == LongType

  /**
   * Spark's decimal sum overflow: null in legacy mode, an error in ANSI mode (Spark's words for
   * it, the `try_` form of the aggregate `function` included).
   */
  private def overflow(t: String, ansi: Boolean, function: String): String =
    if (!ansi) literal(t, "null")
    else s"""{"kind":"raise_error","type":${str(t)},"message":""" +
      str(s"[ARITHMETIC_OVERFLOW] Overflow in sum of decimals. Use '$function' to tolerate overflow " +
        "and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass " +
        "this error. SQLSTATE: 22003") + "}"

  /**
   * The native sum of a column of Spark type `t`: for doubles with spark.cinder.exactFloatSums,
   * Spark's own order of additions (one value at a time, in the order the rows come).
   */
  def sumOf(t: DataType): String =
    if (t == DoubleType && CinderConf.ExactFloatSums.bool(SQLConf.get)) "double_sum" else "sum"

  /** Whether `condition` is true on any input row of the group (null for no rows). */
  private def anyRow(condition: String, call: (String, String) => String): String =
    call("max", caseWhen(condition, literal("boolean", "true"), literal("boolean", "false"), "boolean"))

  /** Merging no buffers (a global aggregation's empty partition) gives Spark's initial values. */
  private def orZero(merged: String, t: String, zero: String): String =
    caseWhen(s"""{"kind":"is_null","child":$merged}""", literal(t, zero), merged, t)

  /** 1 where none of `values` is null, else null: what count(a, b, ...) counts. */
  def oneWhereAllSet(values: Seq[String]): String = {
    val allSet = values.map(a => s"""{"kind":"is_not_null","child":$a}""")
      .reduce((l, r) => binaryJson("and", "boolean", l, r))
    caseWhen(allSet, literal("int", "1"), literal("int", "null"), "int")
  }

  /** `{"func":...}` of a native aggregate call. */
  def callJson(func: String, arg: String, args: Seq[String] = Nil, ignoreNulls: Boolean = false,
      filter: Option[String] = None, precision: Option[Int] = None, percentile: Option[String] = None,
      collect: Option[String] = None): String = {
    val more = (if (args.isEmpty) "" else s""","args":${args.mkString("[", ",", "]")}""") +
      (if (ignoreNulls) ""","ignore_nulls":true""" else "") +
      filter.map(f => s""","filter":$f""").getOrElse("") +
      precision.map(p => s""","precision":$p""").getOrElse("") +
      percentile.map(p => s""","percentile":$p""").getOrElse("") +
      collect.map(c => s""","collect":$c""").getOrElse("")
    s"""{"func":"$func","arg":$arg$more}"""
  }

  /**
   * Spark's moment statistics, whose buffers of doubles the native side updates and merges
   * with Spark's formulas, in the order the rows come: the native functions' kind and the
   * names of the buffer's parts.
   * - central moments (`moment`): stddev and variance (sample and population) [n, avg, m2],
   *   skewness adds m3, kurtosis m3 and m4;
   * - co-moments of pairs (`co_moment`): covar_pop and covar_samp [n, xAvg, yAvg, ck], corr
   *   adds xMk and yMk.
   */
  private[cinder] object Moments {
    /** The function's groups of buffers: each one's kind, parts, and the arguments it reads. */
    def unapply(f: AggregateFunction)
        : Option[Seq[(String, Seq[String], Seq[org.apache.spark.sql.catalyst.expressions.Expression])]] = {
      val central = Seq("n", "avg", "m2", "m3", "m4")
      val co = Seq("n", "x_avg", "y_avg", "ck", "x_mk", "y_mk")
      def one(kind: String, parts: Seq[String]) = Some(Seq((kind, parts, f.children)))
      f match {
        case _: StddevSamp | _: StddevPop | _: VarianceSamp | _: VariancePop => one("moment", central.take(3))
        case _: Skewness => one("moment", central.take(4))
        case _: Kurtosis => one("moment", central)
        // regr_sxx and regr_syy: m2 of one argument where neither is null.
        case _: RegrReplacement => one("moment", central.take(3))
        // (regr_sxy and regr_r2: Spark's covariance and correlation buffers, their own results.)
        case _: CovPopulation | _: CovSample | _: RegrSXY => one("co_moment", co.take(4))
        case _: Corr | _: RegrR2 => one("co_moment", co)
        // regr_slope(y, x) and regr_intercept(y, x): covar_pop(x, y)'s buffer, then var_pop(x)'s
        // over the rows where neither is null.
        case RegrSlope(y, x) => Some(regression(y, x, co, central))
        case RegrIntercept(y, x) => Some(regression(y, x, co, central))
        case _ => None
      }
    }

    private def regression(y: org.apache.spark.sql.catalyst.expressions.Expression,
        x: org.apache.spark.sql.catalyst.expressions.Expression, co: Seq[String], central: Seq[String]) = {
      import org.apache.spark.sql.catalyst.expressions.{If, IsNull, Literal, Or}
      Seq(("co_moment", co.take(4), Seq(x, y)),
        ("moment", central.take(3), Seq(If(Or(IsNull(y), IsNull(x)), Literal(null, x.dataType), x))))
    }
  }

  /** Each group of moment buffers with its arguments' native columns (`argument` of each). */
  def momentArguments(groups: Seq[(String, Seq[String], Seq[org.apache.spark.sql.catalyst.expressions.Expression])],
      argument: org.apache.spark.sql.catalyst.expressions.Expression => Either[String, String])
      : Either[String, Seq[(String, Seq[String], Seq[String])]] =
    groups.foldRight[Either[String, Seq[(String, Seq[String], Seq[String])]]](Right(Nil)) {
      case ((kind, parts, args), rest) =>
        for (values <- seq(args.map(argument)); others <- rest) yield (kind, parts, values) +: others
    }

  /** The calls that merge a function's groups of moment buffers (columns `buffers`, in order). */
  def mergedMomentGroups(groups: Seq[(String, Seq[String], Seq[org.apache.spark.sql.catalyst.expressions.Expression])],
      buffers: Seq[String], add: String => String): Seq[String] = {
    val starts = groups.scanLeft(0)(_ + _._2.size)
    groups.zip(starts).flatMap { case ((kind, parts, _), start) =>
      mergedMoments(kind, parts, buffers.slice(start, start + parts.size), add)
    }
  }

  /** The calls that merge moment buffers (columns `buffers`): each part merged. */
  private def mergedMoments(kind: String, parts: Seq[String], buffers: Seq[String], add: String => String)
      : Seq[String] =
    parts.map(part => add(callJson(s"merge_${kind}_$part", buffers.head, buffers.tail)))

  /**
   * first and last (also Spark's rewrite of several DISTINCT aggregates, which takes the other
   * functions' results with first(x) IGNORE NULLS): the native function, argument and
   * ignoreNulls. They read the rows in the order the native plan gives them, which after a join
   * or a shuffle can differ from Spark's (Spark calls them non-deterministic there).
   */
  private object FirstOrLast {
    def unapply(f: AggregateFunction)
        : Option[(String, org.apache.spark.sql.catalyst.expressions.Expression, Boolean)] = f match {
      case First(child, ignoreNulls) => Some(("first", child, ignoreNulls))
      case Last(child, ignoreNulls) => Some(("last", child, ignoreNulls))
      case _ => None
    }
  }

  /**
   * bit_and, bit_or, bit_xor of integers: the native function and the argument. Spark's buffer
   * (of the argument's type) skips nulls, as DataFusion's functions do.
   */
  private object BitwiseAggregate {
    def unapply(f: AggregateFunction): Option[(String, org.apache.spark.sql.catalyst.expressions.Expression)] =
      f match {
        case BitAndAgg(child) => Some(("bit_and", child))
        case BitOrAgg(child) => Some(("bit_or", child))
        case BitXorAgg(child) => Some(("bit_xor", child))
        case _ => None
      }
  }

  /**
   * max_by(x, y) and min_by(x, y): the native function, x and y. Spark's buffer keeps x of the
   * largest (smallest) y, the later row where they tie; so does the native function, in the
   * order the native plan reads the rows.
   */
  private object MaxOrMinBy {
    def unapply(f: AggregateFunction): Option[(String, org.apache.spark.sql.catalyst.expressions.Expression,
        org.apache.spark.sql.catalyst.expressions.Expression)] = f match {
      case MaxBy(value, ordering) => Some(("max_by", value, ordering))
      case MinBy(value, ordering) => Some(("min_by", value, ordering))
      case _ => None
    }
  }

  /**
   * approx_count_distinct (HyperLogLog++): Spark's buffer is the sketch's registers, ten to a
   * long; natively `hll_sketch` (of values) and `merge_hll` (of buffers) give the sketch as one
   * binary value, `hll_word` reads a buffer word from it and `hll_estimate` Spark's estimate.
   */
  private object Hll {
    /** The sketch's precision, as Spark's helper computes it from relativeSD, where native. */
    def precision(h: HyperLogLogPlusPlus): Either[String, Int] = {
      val p = Math.ceil(2.0d * Math.log(1.106d / h.relativeSD) / Math.log(2.0d)).toInt
      if (p > 18) {
        Left(s"approx_count_distinct with relativeSD ${h.relativeSD} (a sketch of precision $p, over 18) " +
          "is not native yet")
      } else Right(p)
    }

    /** The buffer's longs: Spark's numWords. */
    def words(p: Int): Int = (1 << p) / 10 + 1

    /** Buffer word `i` of `sketch`. */
    def word(sketch: String, i: Int): String = s"""{"kind":"hll_word","child":$sketch,"index":$i}"""

    /** The sketch of `ae`'s buffers (columns `buffer(i)`), merged. */
    def merged(p: Int, buffer: Int => Either[String, String], add: String => String): Either[String, String] =
      seq((0 until words(p)).map(buffer)).map(ws => add(callJson("merge_hll", ws.head, ws.tail, precision = Some(p))))
  }

  /**
   * collect_list (array_agg) and collect_set (Spark runs them in ObjectHashAggregateExec): Spark's
   * buffer is one binary value, the list (or Scala HashSet, in its iteration order) of the values
   * serialized (an UnsafeRow of one array); natively `collect_list` (of values) and
   * `merge_collect_list` (of buffers) give that buffer, or with `evaluate` the array.
   */
  private object Collects {
    def spec(c: Collect[_], agg: BaseAggregateExec, evaluate: Boolean): Either[String, String] = {
      val set = c match {
        case s: CollectSet => s.child.dataType match {
          // The set's order follows Scala's hash of each value: boxed numbers', UTF8String's.
          case t @ (_: DecimalType | BinaryType) =>
            return Left(s"collect_set of ${t.simpleString} is not native yet")
          case _ => true
        }
        case _: CollectList => false
        case other => return Left(s"aggregate ${other.prettyName} is not native yet")
      }
      // Spark's ObjectHashAggregateExec with keys reads the rows past this many groups a task
      // sorted by their keys; each group's list follows that order.
      val fallback = agg match {
        case o: ObjectHashAggregateExec if o.groupingExpressions.nonEmpty =>
          s""","fallback_threshold":${math.max(0, SQLConf.get.objectAggSortBasedFallbackThreshold)}"""
        case _ => ""
      }
      typeName(c.child.dataType).left.map(r => s"${c.prettyName}: $r")
        .map(t => s"""{"value_type":${str(t)},"set":$set,"evaluate":$evaluate$fallback}""")
    }
  }

  /**
   * percentile, median, percentile_cont and percentile_disc (PercentileBase, which Spark runs in
   * ObjectHashAggregateExec): Spark's buffer is one binary value, the counts of the values
   * serialized; natively `percentile_counts` (of values) and `merge_percentile_counts` (of
   * buffers) give that buffer, or with a percentage Spark's percentile of the counts.
   */
  private object Percentiles {
    import org.apache.spark.sql.catalyst.expressions.Literal
    import org.apache.spark.sql.errors.QueryExecutionErrors
    import org.apache.spark.sql.types.ArrayType

    /** The native spec of `p`'s counts (`evaluate`: and of its percentile), where native. */
    def spec(p: PercentileBase, evaluate: Boolean): Either[String, String] = {
      val valueType = p.child.dataType match {
        case t @ (ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType | _: DecimalType) =>
          typeName(t)
        case t => return Left(s"${p.prettyName} of ${t.simpleString} is not native yet")
      }
      if (p.percentageExpression.dataType.isInstanceOf[ArrayType]) {
        return Left(s"${p.prettyName} of an array of percentages is not native yet")
      }
      val method = p match {
        case _: Percentile => "continuous"
        case d: PercentileDisc => if (d.legacyCalculation) "legacy_discrete" else "discrete"
        case other => return Left(s"${other.prettyName} is not native yet")
      }
      // (A constant from 0 to 1: Spark's analysis fails on any other.)
      val percentage = if (!evaluate) "" else p.percentageExpression.eval() match {
        case d: java.lang.Double if d >= 0.0 && d <= 1.0 => s""","percentage":$d"""
        case other => return Left(s"${p.prettyName} at a percentage of $other is not native")
      }
      valueType.map(t => s"""{"value_type":${str(t)},"method":"$method","reverse":${p.reverse}""" +
        s"""$percentage,"frequency_sql":${str(QueryExecutionErrors.toSQLExpr(p.frequencyExpression))}}""")
    }

    /**
     * The native spec of percentile_approx's summary (`evaluate`: and of its percentile): of
     * numbers (decimals of up to 15 digits, which the doubles of the summary give back), dates
     * and timestamps.
     */
    def approx(a: ApproximatePercentile, agg: BaseAggregateExec, evaluate: Boolean): Either[String, String] = {
      val valueType = a.child.dataType match {
        case d: DecimalType if d.precision > 15 =>
          return Left(s"${a.prettyName} of ${d.simpleString} (over 15 digits) is not native yet")
        case t @ (ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType | _: DecimalType |
            DateType | TimestampType | TimestampNTZType) => typeName(t)
        case t => return Left(s"${a.prettyName} of ${t.simpleString} is not native yet")
      }
      if (a.percentageExpression.dataType.isInstanceOf[ArrayType]) {
        return Left(s"${a.prettyName} of an array of percentages is not native yet")
      }
      val accuracy = a.accuracyExpression.eval() match {
        case n: java.lang.Number if n.longValue > 0 => n.longValue
        case other => return Left(s"${a.prettyName} of accuracy $other is not native")
      }
      val percentage = if (!evaluate) "" else a.percentageExpression.eval() match {
        case d: java.lang.Double if d >= 0.0 && d <= 1.0 => s""","percentage":$d"""
        case other => return Left(s"${a.prettyName} at a percentage of $other is not native")
      }
      // Spark's ObjectHashAggregateExec with keys reads the rows past this many groups a task
      // sorted by their keys; the summaries, which depend on the order, follow it.
      val fallback = agg match {
        case o: ObjectHashAggregateExec if o.groupingExpressions.nonEmpty =>
          // (Spark switches after the first row for any threshold below 1.)
          s""","fallback_threshold":${math.max(0, SQLConf.get.objectAggSortBasedFallbackThreshold)}"""
        case _ => ""
      }
      valueType.map(t => s"""{"value_type":${str(t)},"accuracy":$accuracy$percentage$fallback}""")
    }

    /**
     * The native spec of mode's counts (Spark's buffer is percentile's) and, with `evaluate`, of
     * the value counted most often: of numbers, booleans, dates and timestamps. Of values that
     * tie, `mode() WITHIN GROUP (ORDER BY x)` takes one end of Spark's order and DESC the other
     * (Spark's `reverseOpt`); plain `mode(x)` takes whichever Spark's hash map gives first, and
     * natively the smallest.
     */
    def mode(m: Mode, evaluate: Boolean): Either[String, String] = {
      val valueType = m.child.dataType match {
        case t @ (BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType |
            _: DecimalType | DateType | TimestampType | TimestampNTZType) => typeName(t)
        case t => return Left(s"mode of ${t.simpleString} is not native yet")
      }
      // (Spark's reverseOpt true reverses the order of the values in its maxBy: the smallest wins.)
      val method = if (!evaluate) "continuous" else if (m.reverseOpt.contains(false)) "mode_largest" else "mode_smallest"
      valueType.map(t => s"""{"value_type":${str(t)},"method":"$method"}""")
    }

    /** `p`'s frequency expression, unless it is Spark's default 1. */
    def frequency(p: PercentileBase): Option[org.apache.spark.sql.catalyst.expressions.Expression] =
      p.frequencyExpression match {
        case Literal(1L, LongType) => None
        case f => Some(f)
      }
  }

  /** The input column of buffer `i` of `ae`'s function (as the stage before wrote it). */
  private def bufferColumn(ae: AggregateExpression, i: Int, input: Seq[Attribute]): Either[String, String] = {
    val attr = ae.aggregateFunction.inputAggBufferAttributes(i)
    val index = input.indexWhere(_.exprId == attr.exprId)
    if (index < 0) Left(s"aggregation buffer ${attr.name} is not in the native input") else Right(column(index))
  }

  /**
   * Decimal sum buffers (column `sum`, of Spark's type `t`) merged as Spark's merge stage does:
   * added without an overflow check (DecimalAddNoOverflowCheck), then written into the buffer,
   * which holds null where the sum leaves `t`, as it does where an input buffer had overflowed
   * (`overflowed`, per input row); 0 where there is no input buffer.
   */
  private def mergedDecimalSum(sum: String, overflowed: String, t: DecimalType,
      call: (String, String) => String): String = {
    val name = s"decimal(${t.precision},${t.scale})"
    val merged = wideDecimalSum(sum, t, call)
    val anyOverflowed = anyRow(overflowed, call)
    caseWhen(s"""{"kind":"is_null","child":$anyOverflowed}""", literal(name, "\"0\""),
      caseWhen(binaryJson("or", "boolean", anyOverflowed, s"""{"kind":"is_null","child":$merged}"""),
        literal(name, "null"), merged, name), name)
  }

  /**
   * A PartialMerge function's buffers, merged from the input's (each function as its final
   * stage merges them, without the result): the functions next to a DISTINCT one.
   */
  private def mergeBuffers(agg: BaseAggregateExec, ae: AggregateExpression, input: Seq[Attribute],
      add: String => String): Either[String, Seq[(String, DataType)]] = {
    def buffer(i: Int): Either[String, String] = bufferColumn(ae, i, input)
    def call(func: String, arg: String): String = add(callJson(func, arg))
    ae.aggregateFunction match {
      case _: Count => buffer(0).map(c => Seq(orZero(call("sum", c), "bigint", "0") -> LongType))
      case s: Sum if tryIntegralSum(s) =>
        for (sum <- buffer(0); empty <- buffer(1)) yield Seq(
          call("merge_try_long_sum", sum) -> LongType,
          orZero(call("min", empty), "boolean", "true") -> BooleanType)
      case s: Sum if s.dataType.isInstanceOf[DecimalType] =>
        // [sum, isEmpty]: a buffer with values but no sum overflowed.
        for (sum <- buffer(0); empty <- buffer(1)) yield {
          val overflowed = binaryJson("and", "boolean", s"""{"kind":"not","child":$empty}""",
            s"""{"kind":"is_null","child":$sum}""")
          Seq(mergedDecimalSum(sum, overflowed, s.dataType.asInstanceOf[DecimalType], call) -> s.dataType,
            orZero(call("min", empty), "boolean", "true") -> BooleanType)
        }
      case s: Sum if ansiIntegralSum(s) => buffer(0).map(b => Seq(checkedLongSum(b, call) -> s.dataType))
      case s: Sum => buffer(0).map(b => Seq(call(sumOf(s.dataType), b) -> s.dataType))
      case a: Average if a.sumDataType.isInstanceOf[DecimalType] =>
        // [sum, count]: the sum starts at 0, so a null one overflowed.
        for (sum <- buffer(0); count <- buffer(1)) yield {
          val overflowed = s"""{"kind":"is_null","child":$sum}"""
          Seq(mergedDecimalSum(sum, overflowed, a.sumDataType.asInstanceOf[DecimalType], call) -> a.sumDataType,
            orZero(call("sum", count), "bigint", "0") -> LongType)
        }
      case _: Average =>
        for (sum <- buffer(0); count <- buffer(1))
          yield Seq(orZero(call(sumOf(DoubleType), sum), "double", "0.0") -> DoubleType,
            orZero(call("sum", count), "bigint", "0") -> LongType)
      case m @ (_: Min | _: Max) =>
        buffer(0).map(b => Seq(call(if (m.isInstanceOf[Min]) "min" else "max", b) -> m.dataType))
      case b @ BitwiseAggregate(func, _) => buffer(0).map(x => Seq(call(func, x) -> b.dataType))
      case f @ FirstOrLast(func, _, _) =>
        for (value <- buffer(0); set <- buffer(1)) yield Seq(
          add(callJson(func, value, filter = Some(set))) -> f.dataType,
          orZero(call("max", set), "boolean", "false") -> BooleanType)
      case m @ MaxOrMinBy(func, _, ordering) =>
        for (value <- buffer(0); order <- buffer(1)) yield Seq(
          add(callJson(func, value, Seq(order))) -> m.dataType,
          call(if (func == "max_by") "max" else "min", order) -> ordering.dataType)
      case Moments(groups) =>
        seq(groups.flatMap(_._2).indices.map(buffer)).map(buffers =>
          mergedMomentGroups(groups, buffers, add).map(_ -> DoubleType))
      case h: HyperLogLogPlusPlus =>
        for (p <- Hll.precision(h); sketch <- Hll.merged(p, buffer, add))
          yield (0 until Hll.words(p)).map(i => Hll.word(sketch, i) -> LongType)
      case p: PercentileBase =>
        for (spec <- Percentiles.spec(p, evaluate = false); counts <- buffer(0))
          yield Seq(add(callJson("merge_percentile_counts", counts, percentile = Some(spec))) -> BinaryType)
      case a: ApproximatePercentile =>
        for (spec <- Percentiles.approx(a, agg, evaluate = false); summary <- buffer(0))
          yield Seq(add(callJson("merge_percentile_approx", summary, percentile = Some(spec))) -> BinaryType)
      case m: Mode =>
        for (spec <- Percentiles.mode(m, evaluate = false); counts <- buffer(0))
          yield Seq(add(callJson("merge_percentile_counts", counts, percentile = Some(spec))) -> BinaryType)
      case c: Collect[_] =>
        for (spec <- Collects.spec(c, agg, evaluate = false); list <- buffer(0))
          yield Seq(add(callJson("merge_collect_list", list, collect = Some(spec))) -> BinaryType)
      case other => Left(s"aggregate ${other.prettyName} is not native yet")
    }
  }

  private def partial(agg: BaseAggregateExec, child: CinderNative): Either[String, CinderNative] = {
    val exprs = agg.aggregateExpressions
    val input = child.output
    val groups = agg.groupingExpressions.map(e => expr(e, input))
    groups.collectFirst { case Left(r) => return Left(r) }
    val groupJson = groups.collect { case Right(j) => j }
    val calls = scala.collection.mutable.ArrayBuffer.empty[String]
    // Each call's column in the aggregate's output (the groups come first).
    def add(json: String): String = {
      calls += json
      column(groupJson.size + calls.size - 1)
    }
    def call(func: String, arg: String): String = add(callJson(func, arg))
    val buffers = scala.collection.mutable.ArrayBuffer.empty[(String, DataType)]
    for (ae <- exprs) {
      // FILTER (WHERE f): every function here skips nulls, so each argument is null where f is
      // not true. Spark evaluates the arguments only where f is true, as the CASE does.
      // (Spark tests a FILTER's conjuncts as a filter's: PlanJson.filterCondition.)
      val filter = ae.filter.map(f => filterCondition(f, input))
      filter.collect { case Left(reason) => return Left(reason) }
      def kept(json: String, dt: DataType): Either[String, String] = filter match {
        case Some(Right(f)) => typeName(dt).map(t => caseWhen(f, json, literal(t, "null"), t))
        case _ => Right(json)
      }
      def argument(child: org.apache.spark.sql.catalyst.expressions.Expression, to: DataType)
          : Either[String, String] =
        expr(child, input).flatMap { json =>
          if (child.dataType == to || child.dataType.isInstanceOf[DecimalType]) kept(json, child.dataType)
          else typeName(to).flatMap(t => kept(castJson(json, t), to))
        }
      val converted: Either[String, Unit] = if (ae.mode == PartialMerge) {
        mergeBuffers(agg, ae, input, add).map(merged => buffers ++= merged)
      } else ae.aggregateFunction match {
        case Count(Seq(arg)) =>
          argument(arg, arg.dataType).map(a => buffers += call("count", a) -> LongType)
        case Count(args) =>
          // count(a, b, ...): the rows where none of them is null.
          seq(args.map(expr(_, input))).flatMap { json =>
            kept(oneWhereAllSet(json), IntegerType).map(counted => buffers += call("count", counted) -> LongType)
          }
        case s: Sum if tryIntegralSum(s) =>
          argument(s.child, s.dataType).map { a =>
            val count = call("count", a)
            val empty = binaryJson("eq", "boolean", count, literal("bigint", "0"))
            buffers += call("try_long_sum", a) -> LongType
            buffers += empty -> BooleanType
          }
        case s: Sum =>
          for (a <- argument(s.child, s.dataType); t <- typeName(s.dataType)) yield {
            val sum = s.dataType match {
              case d: DecimalType => partialDecimalSum(a, s.child.dataType, d, call)
              case _ if ansiIntegralSum(s) => checkedLongSum(a, call)
              case _ => call(sumOf(s.dataType), a)
            }
            if (s.dataType.isInstanceOf[DecimalType]) {
              val count = call("count", a)
              val empty = binaryJson("eq", "boolean", count, literal("bigint", "0"))
              buffers += caseWhen(empty, literal(t, "\"0\""), sum, t) -> s.dataType
              buffers += empty -> BooleanType
            } else {
              buffers += sum -> s.dataType
            }
          }
        case a: Average =>
          val sumType = a.sumDataType
          for (arg <- argument(a.child, sumType); t <- typeName(sumType)) yield {
            val sum = sumType match {
              case d: DecimalType => partialDecimalSum(arg, a.child.dataType, d, call)
              case _ => call(sumOf(sumType), arg)
            }
            val count = call("count", arg)
            val zero = if (sumType.isInstanceOf[DecimalType]) "\"0\"" else "0.0"
            val empty = binaryJson("eq", "boolean", count, literal("bigint", "0"))
            buffers += caseWhen(empty, literal(t, zero), sum, t) -> sumType
            buffers += count -> LongType
          }
        case m @ (_: Min | _: Max) =>
          val child = m.children.head
          val func = if (m.isInstanceOf[Min]) "min" else "max"
          argument(child, child.dataType).map(c => buffers += call(func, c) -> child.dataType)
        case BitwiseAggregate(func, child) =>
          argument(child, child.dataType).map(c => buffers += call(func, c) -> child.dataType)
        case FirstOrLast(func, child, ignoreNulls) =>
          // With FILTER the function reads only the rows that pass (a null elsewhere would be a
          // first value), and its argument is evaluated only there.
          val rows = filter.collect { case Right(f) => f }
          for (x <- argument(child, child.dataType); one <- kept(literal("int", "1"), IntegerType)) yield {
            buffers += add(callJson(func, x, ignoreNulls = ignoreNulls, filter = rows)) -> child.dataType
            // valueSet: whether it read a row (a non-null value, with ignoreNulls).
            val read = call("count", if (ignoreNulls) x else one)
            buffers += binaryJson("gt", "boolean", read, literal("bigint", "0")) -> BooleanType
          }
        case MaxOrMinBy(func, value, ordering) =>
          // [value, ordering]. Spark evaluates the value only on the rows that win, so one that
          // can fail stays on Spark.
          if (canFail(value)) Left(s"$func of a value that can fail is not native yet " +
            "(Spark evaluates it only on the rows that win)")
          else for (v <- argument(value, value.dataType); o <- argument(ordering, ordering.dataType)) yield {
            buffers += add(callJson(func, v, Seq(o))) -> value.dataType
            buffers += call(if (func == "max_by") "max" else "min", o) -> ordering.dataType
          }
        case Moments(groups) =>
          // (Of doubles: Spark casts the arguments; a pair with a null is skipped.)
          momentArguments(groups, argument(_, DoubleType)).map(_.foreach { case (kind, parts, values) =>
            buffers ++= parts.map(part => add(callJson(s"${kind}_$part", values.head, values.tail)) -> DoubleType)
          })
        case h: HyperLogLogPlusPlus =>
          // (Spark evaluates the argument only where a FILTER holds, as the CASE does.)
          for (p <- Hll.precision(h);
               _ <- if (hashable(h.child.dataType)) Right(())
                    else Left(s"approx_count_distinct of ${h.child.dataType.simpleString} is not native yet");
               x <- argument(h.child, h.child.dataType)) yield {
            val sketch = add(callJson("hll_sketch", x, precision = Some(p)))
            buffers ++= (0 until Hll.words(p)).map(i => Hll.word(sketch, i) -> LongType)
          }
        case p: PercentileBase =>
          // (Spark evaluates the value and the frequency only where a FILTER holds.)
          for (spec <- Percentiles.spec(p, evaluate = false);
               x <- argument(p.child, p.child.dataType);
               frequency <- seq(Percentiles.frequency(p).toSeq.map(f => argument(f, f.dataType)))) yield {
            buffers += add(callJson("percentile_counts", x, frequency, percentile = Some(spec))) -> BinaryType
          }
        case a: ApproximatePercentile =>
          for (spec <- Percentiles.approx(a, agg, evaluate = false); x <- argument(a.child, a.child.dataType))
            yield buffers += add(callJson("percentile_approx", x, percentile = Some(spec))) -> BinaryType
        case m: Mode =>
          for (spec <- Percentiles.mode(m, evaluate = false); x <- argument(m.child, m.child.dataType))
            yield buffers += add(callJson("percentile_counts", x, percentile = Some(spec))) -> BinaryType
        case c: Collect[_] =>
          // (Nulls are skipped, as where a FILTER does not hold.)
          for (spec <- Collects.spec(c, agg, evaluate = false); x <- argument(c.child, c.child.dataType))
            yield buffers += add(callJson("collect_list", x, collect = Some(spec))) -> BinaryType
        case other => Left(s"aggregate ${other.prettyName} is not native yet")
      }
      converted match {
        case Left(reason) => return Left(reason)
        case Right(_) =>
      }
    }
    val produced = agg.groupingExpressions.map(_.dataType) ++ buffers.map(_._2)
    val expected = agg.groupingExpressions.map(_.dataType) ++
      exprs.flatMap(_.aggregateFunction.aggBufferAttributes).map(_.dataType)
    if (produced != expected) {
      return Left(s"unexpected partial aggregation layout ${expected.map(_.simpleString).mkString(", ")} " +
        s"(native would give ${produced.map(_.simpleString).mkString(", ")})")
    }
    // Spark's generated aggregation computes the common subexpressions of all its functions'
    // update expressions on every row first, before FILTERs and the guards around arguments:
    // where one can fail, a projection under the aggregate computes it too. A SortAggregate with
    // keys has no generated code: its AggregationIterator updates each buffer with
    // If(filter, update, buffer), whose subexpression elimination sees only the If's condition.
    val iterated = !SQLConf.get.wholeStageEnabled || (agg match {
      case sort: SortAggregateExec =>
        sort.groupingExpressions.nonEmpty || !SQLConf.get.getConf(SQLConf.ENABLE_SORT_AGGREGATE_CODEGEN)
      // (Nor has a HashAggregate of an imperative function, such as approx_count_distinct.)
      case hash: HashAggregateExec => !hash.supportCodegen
      // (ObjectHashAggregateExec has none: its iterator updates buffers as a SortAggregate's.)
      case _: ObjectHashAggregateExec => true
      case _ => false
    })
    // (Whole-stage code generation can also leave out an aggregate of too many fields or with
    // an expression that has no generated code; those are not told apart here.)
    val updates = exprs.filter(_.mode == Partial).flatMap { ae =>
      ae.aggregateFunction match {
        case d: DeclarativeAggregate => ae.filter match {
          case Some(f) if iterated =>
            d.updateExpressions.zip(d.aggBufferAttributes).map { case (u, b) =>
              org.apache.spark.sql.catalyst.expressions.If(f, u, b)
            }
          case _ => d.updateExpressions
        }
        case _ => Nil
      }
    }
    val eager = eagerSubexpressions(updates).filter(_.references.subsetOf(AttributeSet(input)))
      .map(e => expr(e, input))
    eager.collectFirst { case Left(r) => return Left(r) }
    val source = if (eager.isEmpty) child.root else {
      val all = input.indices.map(column) ++ eager.collect { case Right(json) => json }
      s"""{"op":"project","exprs":${all.mkString("[", ",", "]")},"input":${child.root}}"""
    }
    val aggregate = s"""{"op":"hash_aggregate","groups":${groupJson.mkString("[", ",", "]")},""" +
      s""""aggregates":${calls.mkString("[", ",", "]")},"input":$source}"""
    val layout = (groupJson.indices.map(column) ++ buffers.map(_._1)).mkString("[", ",", "]")
    val projected = s"""{"op":"project","exprs":$layout,"input":$aggregate}"""
    // Spark's ObjectHashAggregateExec emits its groups sorted by their keys once it has fallen
    // back to sorting (past the threshold's number of groups); the final stage's own fallback
    // and the buffers whose merge depends on order (collect_list, percentile_approx) see them
    // in that order.
    val orderedBuffers = exprs.exists(_.aggregateFunction match {
      case _: Collect[_] | _: ApproximatePercentile => true
      case _ => false
    })
    val buffered = agg match {
      case _: ObjectHashAggregateExec if groupJson.nonEmpty && orderedBuffers =>
        val threshold = math.max(1, SQLConf.get.objectAggSortBasedFallbackThreshold)
        s"""{"op":"group_order","keys":${groupJson.indices.mkString("[", ",", "]")},"min_rows":$threshold,""" +
          s""""input":$projected}"""
      case _ => projected
    }
    // The stage's result expressions over its groups and buffers (normally just those).
    // (Spark names the partial stage's buffer outputs with inputAggBufferAttributes.)
    val resultInput = agg.groupingExpressions.map(_.toAttribute) ++
      exprs.flatMap(_.aggregateFunction.inputAggBufferAttributes)
    val results = agg.resultExpressions.map(e => PlanJson.projected(e, resultInput))
    results.collectFirst { case Left(r) => return Left(r) }
    val resultJson = results.collect { case Right(j) => j }.mkString("[", ",", "]")
    Right(child.withPlan(
      root = s"""{"op":"project","exprs":$resultJson,"input":$buffered}""",
      output = agg.output,
      describe = s"HashAggregate(${if (exprs.exists(_.mode == PartialMerge)) "merge" else "partial"}) <- " +
        child.describe,
      partitioning = agg.outputPartitioning))
  }
}

/**
 * Spark's equi-joins as one native `hash_join` (DataFusion's hash join, or Cinder's): a
 * broadcast hash join reads its build side from the broadcast relation in every task; a
 * shuffled hash join and a sort-merge join (executed as a hash join, as spark-rapids does:
 * the sorts under it go) zip their two co-partitioned inputs. A side that is already native
 * joins the plan; any other side becomes an `input` leaf reading its rows.
 */
private object JoinConversion {
  import org.apache.spark.sql.catalyst.expressions.Expression
  import org.apache.spark.sql.catalyst.optimizer.{BuildLeft, BuildSide}
  import org.apache.spark.sql.catalyst.plans.{Cross, FullOuter, Inner, JoinType, LeftAnti, LeftOuter, LeftSemi,
    RightOuter}
  import PlanJson._

  def broadcast(join: BroadcastHashJoinExec, conf: SQLConf): Either[String, CinderNative] =
    if (join.isNullAwareAntiJoin) {
      // NOT IN: each task's rows of the left side are the hash table (DataFusion's null-aware
      // anti join returns rows of the side it builds), probed by all of the broadcast right.
      if (join.condition.isDefined || join.leftKeys.size != 1 || join.buildSide == BuildLeft) {
        Left("null-aware anti joins with a condition or several keys are not native yet")
      } else {
        convert(join, join.joinType, join.leftKeys, join.rightKeys, None, buildLeft = true, join.left, join.right,
          leftBroadcast = false, rightBroadcast = true, conf, nullAware = true)
      }
    } else convert(join, join.joinType, join.leftKeys, join.rightKeys, join.condition,
      buildLeft = join.buildSide == BuildLeft, join.left, join.right,
      leftBroadcast = join.buildSide == BuildLeft, rightBroadcast = join.buildSide != BuildLeft, conf)

  def shuffled(join: ShuffledHashJoinExec, conf: SQLConf): Either[String, CinderNative] =
    convert(join, join.joinType, join.leftKeys, join.rightKeys, join.condition,
      buildLeft = (join.buildSide: BuildSide) == BuildLeft, join.left, join.right,
      leftBroadcast = false, rightBroadcast = false, conf)

  def sortMerge(join: SortMergeJoinExec, conf: SQLConf): Either[String, CinderNative] = {
    def unsorted(plan: SparkPlan): SparkPlan = plan match {
      case sort: SortExec if !sort.global => sort.child
      case other => other
    }
    val (left, right) = (unsorted(join.left), unsorted(join.right))
    // The hash table holds the smaller side (any side can be built for every join type).
    val buildLeft = (sizeOf(left), sizeOf(right)) match {
      case (Some(l), Some(r)) => l < r
      case _ => join.joinType == RightOuter
    }
    convert(join, join.joinType, join.leftKeys, join.rightKeys, join.condition, buildLeft, left, right,
      leftBroadcast = false, rightBroadcast = false, conf)
  }

  /** The size of `plan`'s output: a finished query stage's measured size, else the optimizer's estimate. */
  private def sizeOf(plan: SparkPlan): Option[BigInt] = plan match {
    case stage: org.apache.spark.sql.execution.adaptive.QueryStageExec => stage.computeStats().map(_.sizeInBytes)
    case read: org.apache.spark.sql.execution.adaptive.AQEShuffleReadExec => sizeOf(read.child)
    case native: CinderNativeExec if native.logicalLink.isEmpty && native.children.size == 1 =>
      sizeOf(native.children.head)
    case other => other.logicalLink.map(_.stats.sizeInBytes)
  }

  private def kind(joinType: JoinType): Either[String, String] = joinType match {
    case Inner | Cross => Right("inner")
    case LeftOuter => Right("left_outer")
    case RightOuter => Right("right_outer")
    case FullOuter => Right("full_outer")
    case LeftSemi => Right("left_semi")
    case LeftAnti => Right("left_anti")
    case other => Left(s"$other joins are not native yet")
  }

  /** A native side: the child's own subtree, or an `input` leaf reading the child's rows. */
  private def side(plan: SparkPlan, broadcast: Boolean): Either[String, CinderNativeExec] = plan match {
    case native: CinderNativeExec if !broadcast => Right(native)
    case other if broadcast || CinderNativeExec.readable(other) => CinderNativeExec.input(other, broadcast)
    case other => Left(s"its input ${other.nodeName} is columnar but not native")
  }

  private val Slot = "\"slot\":(\\d+)".r

  /** `root` with every input slot moved up by `by` (a JSON key `"slot"` only names slots). */
  private def shiftSlots(root: String, by: Int): String =
    if (by == 0) root else Slot.replaceAllIn(root, m => s""""slot":${m.group(1).toInt + by}""")

  private def convert(
      join: SparkPlan,
      joinType: JoinType,
      leftKeys: Seq[Expression],
      rightKeys: Seq[Expression],
      condition: Option[Expression],
      buildLeft: Boolean,
      left: SparkPlan,
      right: SparkPlan,
      leftBroadcast: Boolean,
      rightBroadcast: Boolean,
      conf: SQLConf,
      nullAware: Boolean = false): Either[String, CinderNative] = {
    if (!CinderConf.JoinEnabled.bool(conf)) {
      return Left(s"${CinderConf.JoinEnabled.key} is false")
    }
    if (leftKeys.isEmpty) {
      return Left("joins without equality keys are not native yet")
    }
    for {
      joinKind <- kind(joinType)
      l <- side(left, leftBroadcast)
      r <- side(right, rightBroadcast)
      _ <- if (l.scan.isDefined && r.scan.isDefined) Left("both sides scan Parquet natively (one scan per plan)")
           else Right(())
      inputs = l.broadcast ++ r.broadcast
      _ <- if (l.scan.orElse(r.scan).isDefined && inputs.contains(false)) {
             Left("a native scan and a Spark input are not co-partitioned")
           } else Right(())
      lk <- seq(leftKeys.map(expr(_, left.output)))
      rk <- seq(rightKeys.map(expr(_, right.output)))
      cond <- condition.map(c => expr(c, left.output ++ right.output).map(Some(_))).getOrElse(Right(None))
    } yield {
      val build = if (buildLeft) "left" else "right"
      val conditionField = cond.map(c => s""","condition":$c""").getOrElse("") +
        (if (nullAware) ""","null_aware":true""" else "")
      val root = s"""{"op":"hash_join","join_type":"$joinKind","build":"$build",""" +
        s""""left_keys":${lk.mkString("[", ",", "]")},"right_keys":${rk.mkString("[", ",", "]")}$conditionField,""" +
        s""""left":${l.root},"right":${shiftSlots(r.root, l.children.size)}}"""
      CinderNativeExec(root, join.output, l.scan.orElse(r.scan), l.children ++ r.children, inputs,
        s"${join.nodeName}($joinKind${if (nullAware) ", null-aware" else ""}, build $build) <- " +
          s"[${l.describe}, ${r.describe}]", join.outputPartitioning,
        (l.scalarSubqueries ++ r.scalarSubqueries).distinctBy(_.exprId))
    }
  }
}

/**
 * What the conversions since the last `clear()` moved and why the rest stayed on Spark (for
 * tests and tools; adaptive execution converts each query stage separately). Bounded: only the
 * latest 1000 entries of each are kept.
 */
object CinderExplain {
  import scala.jdk.CollectionConverters._

  private val Limit = 1000
  private val reasons = scala.collection.mutable.Queue.empty[String]
  private val natives = scala.collection.mutable.Queue.empty[String]

  private[cinder] def record(newReasons: Seq[(String, String)], newNatives: Seq[String]): Unit =
    synchronized {
      newReasons.foreach { case (node, reason) => reasons.enqueue(s"$node: $reason") }
      natives ++= newNatives
      while (reasons.size > Limit) reasons.dequeue()
      while (natives.size > Limit) natives.dequeue()
    }

  /** Forgets what was recorded. */
  def clear(): Unit = synchronized {
    reasons.clear()
    natives.clear()
  }

  /** `node: reason` for each operator a conversion left on Spark. */
  def fallbackReasons(): java.util.List[String] = synchronized(reasons.toList.asJava)

  /** The native subtrees formed, e.g. `Project <- Filter <- ParquetScan(t)`. */
  def nativeSubtrees(): java.util.List[String] = synchronized(natives.toList.asJava)

  /**
   * What crossed between Spark and the native subtrees in the last execution of `plan` (an
   * executed plan: its adaptive stages and subqueries included), summed from the plan's metrics:
   * - `nativeSubtrees`: native subtrees in the plan;
   * - `rowsToArrow`, `rowsToArrowNanos`: Spark rows written into Arrow batches for native
   *   inputs (after an exchange, or from a broadcast), and the time that took;
   * - `nativeNanos`: time in native calls (input conversion included);
   * - `arrowToRows`: rows Spark's `ColumnarToRow` made of native batches (before an exchange,
   *   or for a Spark operator above), whose time Spark does not measure;
   * - `nativeShuffles`, `nativeShuffleRows`, `nativeShuffleBytes`: native shuffles (each
   *   counted once, also when reused), the rows they moved as Arrow blocks, and the blocks'
   *   bytes before Spark's compression (`nativeShuffleRowBytes`: those rows as Spark's rows).
   */
  def boundaryMetrics(plan: SparkPlan): java.util.Map[String, java.lang.Long] = {
    val helper = new org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper {}
    val natives = helper.collectWithSubqueries(plan) { case n: CinderNativeExec => n }
    // (Under whole-stage codegen the native subtree sits in an InputAdapter.)
    def native(p: SparkPlan): Boolean = p match {
      case _: CinderNative => true
      case org.apache.spark.sql.execution.InputAdapter(child) => native(child)
      case _ => false
    }
    val toRows = helper.collectWithSubqueries(plan) {
      case c: org.apache.spark.sql.execution.ColumnarToRowExec if native(c.child) => c
    }
    def sum(metric: String): Long = natives.map(n => n.metrics.get(metric).map(_.value).getOrElse(0L)).sum
    val shuffles = helper.collectWithSubqueries(plan) { case s: CinderShuffleExchangeExec => s }
      .foldLeft(List.empty[CinderShuffleExchangeExec])((seen, s) => if (seen.exists(_ eq s)) seen else s :: seen)
    Map[String, java.lang.Long](
      "nativeShuffles" -> shuffles.size.toLong,
      "nativeShuffleRows" -> shuffles.map(_.metrics("numOutputRows").value).sum,
      "nativeShuffleBytes" -> shuffles.map(_.metrics("blockBytes").value).sum,
      "nativeShuffleRowBytes" -> shuffles.map(_.metrics("dataSize").value).sum,
      "nativeSubtrees" -> natives.size.toLong,
      "rowsToArrow" -> sum("numInputRows"),
      "rowsToArrowNanos" -> sum("inputConversionTime"),
      "nativeNanos" -> sum("nativeTime"),
      "arrowToRows" -> toRows.map(_.metrics("numOutputRows").value).sum).asJava
  }

  /**
   * The `dataSize` metric of each shuffle in `plan` (an executed plan), Spark's and native:
   * a native shuffle reports its rows' size as Spark's rows, which adaptive execution reads.
   */
  def shuffleDataSizes(plan: SparkPlan): java.util.List[java.lang.Long] = {
    val helper = new org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper {}
    helper.collectWithSubqueries(plan) {
      case s: org.apache.spark.sql.execution.exchange.ShuffleExchangeLike => s.metrics("dataSize").value: java.lang.Long
    }.asJava
  }

  /**
   * For benchmarks: what Spark's `ColumnarToRow` costs over native batches. Runs `plan` (an
   * executed plan whose top is a native subtree's rows, such as `SELECT * FROM t`) twice:
   * once reading the native subtree's batches only, once reading its rows through Spark's
   * conversion. Returns `[batchNanos, rowNanos, rows]`.
   */
  def timeArrowToRows(plan: SparkPlan): Array[Long] = {
    val native = plan.collectFirst { case n: CinderNativeExec => n }.getOrElse(
      throw new IllegalArgumentException(s"no native subtree in $plan"))
    val started = System.nanoTime()
    val batchRows = native.executeColumnar().map(_.numRows().toLong).fold(0L)(_ + _)
    val batchNanos = System.nanoTime() - started
    val again = System.nanoTime()
    val rows = plan.execute().count()
    val rowNanos = System.nanoTime() - again
    if (rows != batchRows) {
      throw new IllegalStateException(s"$rows rows through ColumnarToRow, $batchRows in batches")
    }
    Array(batchNanos, rowNanos, rows)
  }
}
