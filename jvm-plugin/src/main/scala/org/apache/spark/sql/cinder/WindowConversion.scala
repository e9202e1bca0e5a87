package org.apache.spark.sql.cinder

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.sql.catalyst.expressions.{Alias, CumeDist, CurrentRow, DenseRank, Expression, Lag, Lead,
  Literal, NTile, NamedExpression, NthValue, PercentRank, RangeFrame, Rank, RowFrame, RowNumber, SortOrder,
  SpecifiedWindowFrame, UnboundedFollowing, UnboundedPreceding, WindowExpression, WindowFrame}
import org.apache.spark.sql.catalyst.expressions.aggregate.{AggregateExpression, AggregateFunction, Average, Count,
  First, Last, Max, Min, Sum}
import org.apache.spark.sql.catalyst.expressions.EvalMode
import org.apache.spark.sql.execution.SparkPlan
import org.apache.spark.sql.execution.window.{WindowExec, WindowGroupLimitExec}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{ByteType, DataType, DayTimeIntervalType, DecimalType, DoubleType, IntegerType,
  LongType, NullType, ShortType, TimestampNTZType, TimestampType}

/**
 * Spark's WindowExec over a native subtree as a native `window` node (DataFusion's window
 * operators), then a projection that computes each function's result as Spark does from the
 * native columns:
 * - row_number, rank, dense_rank, percent_rank, cume_dist, ntile;
 * - lag and lead with a constant offset and default (also IGNORE NULLS);
 * - first, last (also IGNORE NULLS) and nth_value over their frame;
 * - count, sum, avg, min, max and Spark's moments (stddev, variance, skewness, kurtosis,
 *   covar_*, corr) over ROWS frames with constant offsets and RANGE frames bounded by the
 *   partition's ends or the current row's peers.
 *
 * Spark reads each partition's rows in the window's order, one at a time: a running frame
 * (from the partition's start) adds each row to its buffer, a sliding one computes its buffer
 * again from the frame's rows whenever they change. The native aggregates add and retract
 * rows instead, which gives the same counts, sums of integers and decimals, minima and
 * maxima; sums of doubles (spark.cinder.exactFloatSums) add one value at a time in Spark's
 * order, again from the frame's first row where it slides.
 */
private[cinder] object WindowConversion {
  import PlanJson._

  def convert(window: WindowExec, conf: SQLConf): Either[String, CinderNative] =
    nativeInput(window.child, conf).flatMap(build(window, _))

  /** The native input of a window operator, or why there is none. */
  private def nativeInput(child: SparkPlan, conf: SQLConf): Either[String, CinderNativeExec] =
    if (!CinderConf.WindowEnabled.bool(conf)) Left(s"${CinderConf.WindowEnabled.key} is false")
    else child match {
      case native: CinderNativeExec => Right(native)
      case other => Left(s"its input (${other.nodeName}) is not native")
    }

  /** The native `window` node of `functions` over `child`, partitioned and ordered as given. */
  private def windowNode(partitionSpec: Seq[Expression], orderSpec: Seq[SortOrder], functions: Seq[String],
      child: CinderNativeExec): Either[String, String] =
    for {
      partition <- seq(partitionSpec.map(expr(_, child.output)))
      order <- if (orderSpec.isEmpty) Right("[]") else sortKeys(orderSpec, child.output)
    } yield s"""{"op":"window","partition_by":${partition.mkString("[", ",", "]")},"order_by":$order,""" +
      s""""functions":${functions.mkString("[", ",", "]")},"input":${child.root}}"""

  /**
   * WindowGroupLimitExec (a filter on a ranking function's value, pushed below the window): in
   * each group of rows with the same partition keys, the rows whose row_number, rank or
   * dense_rank is at most the limit; the partial stage (before the shuffle) keeps them per task,
   * whose ranks are never above the whole group's. Natively: the function, a filter on it, and
   * the input's columns.
   */
  def convertGroupLimit(limit: WindowGroupLimitExec, conf: SQLConf): Either[String, CinderNative] = {
    val child = nativeInput(limit.child, conf) match {
      case Right(native) => native
      case Left(reason) => return Left(reason)
    }
    val function = limit.rankLikeFunction match {
      case _: RowNumber => "row_number"
      case _: Rank => "rank"
      case _: DenseRank => "dense_rank"
      case other => return Left(s"a group limit on ${other.prettyName} is not native")
    }
    val input = child.output
    windowNode(limit.partitionSpec, limit.orderSpec, Seq(s"""{"function":"$function"}"""), child).map { node =>
      val kept = binaryJson("lt_eq", "boolean", column(input.size), literal("int", limit.limit.toString))
      val filtered = s"""{"op":"filter","condition":$kept,"input":$node}"""
      child.withPlan(
        root = s"""{"op":"project","exprs":${input.indices.map(column).mkString("[", ",", "]")},"input":$filtered}""",
        output = limit.output,
        describe = s"WindowGroupLimit(${limit.mode}) <- ${child.describe}",
        partitioning = limit.outputPartitioning)
    }
  }

  private def build(window: WindowExec, child: CinderNativeExec): Either[String, CinderNative] = {
    val input = child.output
    val calls = ArrayBuffer.empty[String]
    // Each call's column in the window's output (after the input's).
    def add(json: String): Int = {
      calls += json
      input.size + calls.size - 1
    }
    val frames = new Frames(window.orderSpec)
    for {
      results <- seq(window.windowExpression.map(function(_, input, add, frames)))
      guarded <- guard(frames.checks.toSeq, child)
      node <- windowNode(window.partitionSpec, window.orderSpec, calls.toSeq, guarded)
    } yield {
      val exprs = input.indices.map(column) ++ results
      child.withPlan(
        root = s"""{"op":"project","exprs":${exprs.mkString("[", ",", "]")},"input":$node}""",
        output = window.output,
        describe = s"Window <- ${child.describe}",
        partitioning = window.outputPartitioning)
    }
  }

  /**
   * The frames of one window operator's functions (ordered by `order`), and the additions of a
   * RANGE frame's value offsets to the order key that Spark computes for each row's bounds
   * (which fail in ANSI mode where they overflow).
   */
  private class Frames(val order: Seq[SortOrder]) {
    val checks = ArrayBuffer.empty[Expression]

    /**
     * `frame` as the native frame: ROWS with constant offsets, or RANGE from or to the
     * partition's ends, the current row's peers, or constant offsets from an integer or timestamp key.
     */
    def spec(frame: WindowFrame): Either[String, String] = frame match {
      case SpecifiedWindowFrame(frameType, lower, upper) =>
        def bound(b: Expression): Either[String, String] = b match {
          case UnboundedPreceding | UnboundedFollowing => Right("null")
          case CurrentRow => Right("0")
          case e if frameType == RowFrame && constant(e).exists(_.isInstanceOf[Int]) => Right(constant(e).get.toString)
          case e if frameType == RangeFrame => rangeOffset(e).map(_.toString)
          case _ => Left(s"window frame bound ${b.sql} is not native")
        }
        val units = if (frameType == RangeFrame) "range" else "rows"
        for (start <- bound(lower); end <- bound(upper))
          yield s"""{"units":"$units","start":$start,"end":$end}"""
      case other => Left(s"window frame $other is not native")
    }

    /**
     * A RANGE frame's value offset `e` (negative: PRECEDING) over the one order key, where
     * Spark computes each row's bound `key + offset` (the offset negated for a descending
     * order), and its check runs natively before the window, failing with Spark's error:
     * - an integer key and a constant of its type, in ANSI mode, whose `+` fails on overflow
     *   (in legacy mode it wraps, and Spark's frames with it);
     * - a timestamp key and a constant day-time interval (microseconds), whose addition Spark
     *   makes on the local date-time (`timestampAddDayTime`: whole days keep the local time)
     *   and fails past a long: exact microseconds where the interval is under a day or the time
     *   zone's offset is fixed.
     */
    private def rangeOffset(e: Expression): Either[String, Long] = {
      val key = order match {
        case Seq(only) => only
        case _ => return Left("RANGE frames with value offsets need one order key")
      }
      lazy val value = constant(e) match {
        case Some(v: Byte) => v.toLong
        case Some(v: Short) => v.toLong
        case Some(v: Int) => v.toLong
        case Some(v: Long) => v
        case _ => return Left(s"RANGE frame offset ${e.sql} is not a constant")
      }
      lazy val signed = if (key.direction == org.apache.spark.sql.catalyst.expressions.Ascending) value else -value
      val bound = (key.dataType, e.dataType) match {
        case (ByteType | ShortType | IntegerType | LongType, t) if t == key.dataType =>
          if (!SQLConf.get.ansiEnabled) {
            return Left("RANGE frames with value offsets are not native in legacy mode (spark.sql.ansi.enabled " +
              "false), where Spark's bounds wrap at the order key type's limits")
          }
          val typed: Any = key.dataType match {
            case ByteType => signed.toByte
            case ShortType => signed.toShort
            case IntegerType => signed.toInt
            case _ => signed
          }
          // (Negating the type's minimum overflows: Spark's UnaryMinus would wrap or fail.)
          if (typed.toString != signed.toString) return Left(s"RANGE frame offset ${e.sql} is not native")
          org.apache.spark.sql.catalyst.expressions.Add(key.child, Literal.create(typed, key.dataType),
            EvalMode.ANSI)
        case (TimestampType | TimestampNTZType, interval: DayTimeIntervalType) =>
          val zone = if (key.dataType == TimestampNTZType) java.time.ZoneOffset.UTC
            else org.apache.spark.sql.catalyst.util.DateTimeUtils.getZoneId(SQLConf.get.sessionLocalTimeZone)
          if (math.abs(value) >= 86400L * 1000000L && !zone.getRules.isFixedOffset) {
            return Left(s"RANGE frames with an interval of a day or more over timestamps are not native in " +
              s"the time zone $zone, whose days are not all 24 hours")
          }
          if (value == Long.MinValue) return Left(s"RANGE frame offset ${e.sql} is not native")
          org.apache.spark.sql.catalyst.expressions.TimeAdd(key.child, Literal.create(signed, interval),
            Some(SQLConf.get.sessionLocalTimeZone))
        case (k, t) =>
          return Left(s"RANGE frames with value offsets of ${t.simpleString} over a ${k.simpleString} order key " +
            "are not native yet")
      }
      checks += bound
      Right(value)
    }
  }

  /**
   * `child` with `checks` evaluated on every row first (each in a filter that keeps every
   * row: the check, evaluated before the constant `true` of its OR, raises its error).
   */
  private def guard(checks: Seq[Expression], child: CinderNativeExec): Either[String, CinderNativeExec] =
    seq(checks.distinct.map(expr(_, child.output))).map { json =>
      json.foldLeft(child) { (plan, check) =>
        val keep = binaryJson("or", "boolean", s"""{"kind":"is_not_null","child":$check}""",
          literal("boolean", "true"))
        plan.copy(root = s"""{"op":"filter","condition":$keep,"input":${plan.root}}""")
      }
    }

  /** One window expression: its native calls (through `add`), and its result over them. */
  private def function(named: NamedExpression, input: Seq[org.apache.spark.sql.catalyst.expressions.Attribute],
      addCall: String => Int, frames: Frames): Either[String, String] = {
    def add(json: String): String = column(addCall(json))
    val we = named match {
      case Alias(we: WindowExpression, _) => we
      case other => return Left(s"window expression ${other.sql} is not a single window function")
    }
    val frame = we.windowSpec.frameSpecification
    we.windowFunction match {
      case _: RowNumber => Right(add("""{"function":"row_number"}"""))
      case _: Rank => Right(add("""{"function":"rank"}"""))
      case _: DenseRank => Right(add("""{"function":"dense_rank"}"""))
      case _: PercentRank => Right(add("""{"function":"percent_rank"}"""))
      case _: CumeDist => Right(add("""{"function":"cume_dist"}"""))
      case NTile(buckets) => constant(buckets) match {
        case Some(n: Int) => Right(add(s"""{"function":"ntile","n":$n}"""))
        case _ => Left("ntile of a non-constant number of buckets is not native")
      }
      case l: Lag => offsetFunction("lag", l.input, l.inputOffset, l.default, l.ignoreNulls, input).map(add)
      case l: Lead => offsetFunction("lead", l.input, l.offset, l.default, l.ignoreNulls, input).map(add)
      case n: NthValue =>
        constant(n.offset) match {
          case Some(o: Int) => nthValue(n.input, s""","n":$o""", n.ignoreNulls, frames.spec(frame), input).map(add)
          case _ => Left("nth_value of a non-constant offset is not native")
        }
      case AggregateExpression(_, _, true, _, _) => Left("DISTINCT window aggregates are not native")
      case AggregateExpression(_, _, _, Some(_), _) => Left("window aggregates with FILTER are not native")
      case AggregateExpression(First(child, ignoreNulls), _, _, _, _) =>
        nthValue(child, "", ignoreNulls, frames.spec(frame), input).map(add)
      case AggregateExpression(Last(child, ignoreNulls), _, _, _, _) =>
        nthValue(child, ""","last":true""", ignoreNulls, frames.spec(frame), input).map(add)
      case ae: AggregateExpression =>
        frames.spec(frame).flatMap(f => aggregate(ae.aggregateFunction, f, input, addCall))
      case other => Left(s"window function ${other.prettyName} is not native yet")
    }
  }

  /** lag or lead: `input` `offset` rows away, else `default` (both constant). */
  private def offsetFunction(name: String, value: Expression, offset: Expression, default: Expression,
      ignoreNulls: Boolean, input: Seq[org.apache.spark.sql.catalyst.expressions.Attribute])
      : Either[String, String] = {
    val offsetValue = constant(offset).filter(v => v != null && offset.dataType == IntegerType)
      .getOrElse(return Left(s"$name of a non-constant offset is not native"))
    val defaultValue = if (default == null || default.dataType == NullType) null
      else constant(default).getOrElse(return Left(s"$name with a non-constant default is not native"))
    for {
      arg <- expr(value, input)
      defaultJson <- if (defaultValue == null) Right("")
        else if (default.dataType != value.dataType) Left(s"$name's default is not of its input's type")
        else expr(Literal.create(defaultValue, value.dataType), input).map(d => s""","default":$d""")
    } yield s"""{"function":"$name","arg":$arg,"offset":$offsetValue$defaultJson,"ignore_nulls":$ignoreNulls}"""
  }

  /** The value of a constant expression (`Some(null)` for null); none where it is not one or fails. */
  private def constant(e: Expression): Option[Any] =
    if (e.foldable) scala.util.Try(e.eval()).toOption else None

  /** The frame's `n`th value (`more`: `"n"` or `"last"`; the first without), maybe ignoring nulls. */
  private def nthValue(value: Expression, more: String, ignoreNulls: Boolean, frame: Either[String, String],
      input: Seq[org.apache.spark.sql.catalyst.expressions.Attribute]): Either[String, String] =
    for (arg <- expr(value, input); f <- frame)
      yield s"""{"function":"nth_value","arg":$arg$more,"ignore_nulls":$ignoreNulls,"frame":$f}"""

  /** An aggregate over the frame: its native calls, then Spark's result. */
  private def aggregate(f: AggregateFunction, frame: String,
      input: Seq[org.apache.spark.sql.catalyst.expressions.Attribute], add: String => Int)
      : Either[String, String] = {
    import AggregateConversion.{Moments, callJson, checkedLongSum, oneWhereAllSet, sumOf, wideDecimalSum}
    def callIndex(func: String, arg: String, args: Seq[String] = Nil): Int =
      add(s"""{"function":"aggregate","call":${callJson(func, arg, args)},"frame":$frame}""")
    def call(func: String, arg: String): String = column(callIndex(func, arg))
    def argument(e: Expression, to: DataType): Either[String, String] =
      expr(e, input).flatMap { json =>
        if (e.dataType == to || e.dataType.isInstanceOf[DecimalType]) Right(json)
        else typeName(to).map(t => castJson(json, t))
      }
    def doubleSum(arg: String): String = call(sumOf(DoubleType), arg)
    def isZero(count: String): String = binaryJson("eq", "boolean", count, literal("bigint", "0"))
    f match {
      case Count(Seq(arg)) => expr(arg, input).map(a => call("count", a))
      case Count(args) =>
        seq(args.map(expr(_, input))).map(json => call("count", oneWhereAllSet(json)))
      // try_sum of integers: the frame's values added in its order with Spark's overflow check
      // (null from the first overflow on; again from the frame's first row where it slides).
      case s: Sum if AggregateConversion.tryIntegralSum(s) =>
        argument(s.child, s.dataType).map { a =>
          caseWhen(isZero(call("count", a)), literal("bigint", "null"), call("try_long_sum", a), "bigint")
        }
      case s: Sum =>
        argument(s.child, s.dataType).flatMap { a =>
          s.dataType match {
            case d: DecimalType =>
              // Spark adds without a check (DecimalAddNoOverflowCheck) and checks the frame's
              // total: null, or in ANSI mode NUMERIC_VALUE_OUT_OF_RANGE naming it, where it
              // leaves Spark's type. Added here in 256 bits, then cast back as Spark checks.
              typeName(d).map { t =>
                val wide = call("sum", castJson(a, s"decimal256(76,${d.scale})"))
                val ansi = if (s.evalMode == EvalMode.ANSI) ""","ansi":true""" else ""
                val total = s"""{"kind":"cast","type":${str(t)},"child":$wide$ansi}"""
                caseWhen(isZero(call("count", a)), literal(t, "null"), total, t)
              }
            case DoubleType => Right(doubleSum(a))
            case _ if s.evalMode == EvalMode.ANSI => Right(checkedLongSum(a, call))
            case _ => Right(call("sum", a))
          }
        }
      // (try_avg: as in legacy mode, whose decimal overflow is null; doubles do not fail.)
      case a: Average =>
        val wideInput = a.child.dataType match {
          case d: DecimalType => d.precision > 28
          case _ => false
        }
        argument(a.child, a.sumDataType).flatMap { arg =>
          (a.dataType, a.sumDataType) match {
            case (_: DecimalType, sumType: DecimalType) if sumType.scale > 18 =>
              Left("avg of a decimal with scale > 18 is not native yet")
            // Spark divides the frame's exact sum (DecimalAddNoOverflowCheck): in 128 bits for
            // inputs of up to 28 digits, whose sums fit decimal(p + 10, s).
            case (_: DecimalType, _) if wideInput =>
              Left("avg of a decimal of over 28 digits over a window is not native yet")
            case (_: DecimalType, sumType: DecimalType) =>
              typeName(a.dataType).map { t =>
                val sum = wideDecimalSum(arg, sumType, call)
                val count = call("count", arg)
                s"""{"kind":"spark_decimal_avg","type":${str(t)},"sum":$sum,"count":$count,""" +
                  s""""ansi":${a.evalMode == EvalMode.ANSI}}"""
              }
            case _ =>
              Right(binaryJson("divide", "double", doubleSum(arg), castJson(call("count", arg), "double")))
          }
        }
      case m @ (_: Min | _: Max) =>
        expr(m.children.head, input).map(a => call(if (m.isInstanceOf[Min]) "min" else "max", a))
      case m @ Moments(groups) =>
        // The frame's buffers (Spark's updates in its order; again from the frame's first row
        // where it slides), then Spark's own evaluateExpression over them.
        AggregateConversion.momentArguments(groups, argument(_, DoubleType)).flatMap { read =>
          val columns = read.flatMap { case (kind, parts, values) =>
            parts.map(part => callIndex(s"${kind}_$part", values.head, values.tail))
          }
          val named = Array.fill[org.apache.spark.sql.catalyst.expressions.Attribute](columns.max + 1)(
            org.apache.spark.sql.catalyst.expressions.AttributeReference("unused", NullType)())
          m.aggBufferAttributes.zip(columns).foreach { case (a, c) => named(c) = a }
          expr(m.asInstanceOf[org.apache.spark.sql.catalyst.expressions.aggregate.DeclarativeAggregate]
            .evaluateExpression, named.toSeq)
        }
      case other => Left(s"window aggregate ${other.prettyName} is not native yet")
    }
  }
}
