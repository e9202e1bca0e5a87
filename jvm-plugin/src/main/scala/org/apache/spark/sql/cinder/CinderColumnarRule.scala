package org.apache.spark.sql.cinder

import scala.collection.mutable

import org.apache.spark.internal.Logging
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{ColumnarRule, FileSourceScanExec, FilterExec, ProjectExec, SparkPlan}
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
}

/** The conversion itself (a rule, so tests and tools can apply it to any plan). */
object CinderConvert extends Rule[SparkPlan] with Logging {

  /** One operator class's converter: a native subtree, or why the operator stays on Spark. */
  private type Converter = (SparkPlan, SQLConf) => Either[String, CinderNativeExec]

  /** The operators Cinder converts, each with its converter. */
  private val converters: Map[Class[_], Converter] = Map(
    classOf[FileSourceScanExec] -> ((p, conf) => convertScan(p.asInstanceOf[FileSourceScanExec], conf)),
    classOf[FilterExec] -> ((p, conf) => convertFilter(p.asInstanceOf[FilterExec], conf)),
    classOf[ProjectExec] -> ((p, conf) => convertProject(p.asInstanceOf[ProjectExec], conf)))

  override def apply(plan: SparkPlan): SparkPlan = {
    val conf = SQLConf.get
    if (!CinderConf.Enabled.bool(conf)) {
      return plan
    }
    val explain = CinderConf.Explain.choice(conf)
    val reasons = mutable.ArrayBuffer.empty[(String, String)]
    val converted = plan.transformUp {
      case native: CinderNativeExec => native
      case node =>
        converters.get(node.getClass) match {
          case None =>
            reasons += node.nodeName -> s"no native converter for ${node.nodeName}"
            node
          case Some(convert) =>
            convert(node, conf) match {
              case Right(native) => native
              case Left(reason) =>
                reasons += node.nodeName -> reason
                node
            }
        }
    }
    val natives = converted.collect { case n: CinderNativeExec => n }
    CinderExplain.record(reasons.toSeq, natives.map(_.describe))
    if (explain != "none") {
      reasons.foreach { case (node, reason) => logInfo(s"cinder: $node stays on Spark: $reason") }
    }
    if (explain == "all") {
      natives.foreach(n => logInfo(s"cinder: native: ${n.describe}"))
    }
    converted
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
    if (scan.fileConstantMetadataColumns.nonEmpty) {
      return Left("file metadata columns (_metadata) are not supported natively")
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
    for {
      schema <- PlanJson.fields(dataFields)
      partitions <- PlanJson.fields(partitionFields)
      _ <- PlanJson.fields(scan.output.map(a =>
        org.apache.spark.sql.types.StructField(a.name, a.dataType, a.nullable)))
    } yield {
      val node = s"""{"op":"parquet_scan","schema":$schema,"partition_schema":$partitions}"""
      val table = roots.headOption.map(_.getName).getOrElse("?")
      CinderNativeExec(node, scan.output, scan, s"ParquetScan($table)")
    }
  }

  private def convertFilter(filter: FilterExec, conf: SQLConf): Either[String, CinderNativeExec] = {
    if (!CinderConf.FilterEnabled.bool(conf)) {
      return Left(s"${CinderConf.FilterEnabled.key} is false")
    }
    filter.child match {
      case child: CinderNativeExec =>
        PlanJson.expr(filter.condition, child.output).map { condition =>
          child.copy(
            root = s"""{"op":"filter","condition":$condition,"input":${child.root}}""",
            output = filter.output,
            describe = s"Filter <- ${child.describe}")
        }
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }

  private def convertProject(project: ProjectExec, conf: SQLConf): Either[String, CinderNativeExec] = {
    if (!CinderConf.ProjectEnabled.bool(conf)) {
      return Left(s"${CinderConf.ProjectEnabled.key} is false")
    }
    project.child match {
      case child: CinderNativeExec =>
        val exprs = project.projectList.map(e => PlanJson.expr(e, child.output))
        exprs.collectFirst { case Left(reason) => reason } match {
          case Some(reason) => Left(reason)
          case None =>
            val list = exprs.collect { case Right(json) => json }.mkString("[", ",", "]")
            Right(child.copy(
              root = s"""{"op":"project","exprs":$list,"input":${child.root}}""",
              output = project.output,
              describe = s"Project <- ${child.describe}"))
        }
      case other => Left(s"its input (${other.nodeName}) is not native")
    }
  }
}

/** What the last planned query converted and why the rest stayed on Spark (for tests, tools). */
object CinderExplain {
  @volatile private var lastReasons: Seq[(String, String)] = Seq.empty
  @volatile private var lastNative: Seq[String] = Seq.empty

  private[cinder] def record(reasons: Seq[(String, String)], natives: Seq[String]): Unit = {
    lastReasons = reasons
    lastNative = natives
  }

  /** `node: reason` for each operator the last conversion left on Spark. */
  def fallbackReasons(): java.util.List[String] = {
    import scala.jdk.CollectionConverters._
    lastReasons.map { case (node, reason) => s"$node: $reason" }.asJava
  }

  /** The native subtrees of the last conversion, e.g. `Project <- Filter <- ParquetScan(t)`. */
  def nativeSubtrees(): java.util.List[String] = {
    import scala.jdk.CollectionConverters._
    lastNative.asJava
  }
}
