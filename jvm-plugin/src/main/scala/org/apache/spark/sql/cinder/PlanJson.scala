package org.apache.spark.sql.cinder

import org.apache.spark.sql.catalyst.expressions.{Left => _, Right => _, _}
import org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.{CalendarInterval, UTF8String}

/**
 * Writes the plan message (version 1; read by jvm-plugin/native/src/message.rs) and decides
 * which expressions and types can go native. Every `Left` is the reason an operator stays on
 * Spark.
 *
 * Semantics follow Spark's: with ANSI mode on (Spark 4's default) integer arithmetic fails on
 * overflow natively too, and the operations whose ANSI behaviour the native side does not
 * reproduce (the try_ forms, for example) stay on Spark.
 */
object PlanJson {
  val Version = 1

  /** A JSON string literal. */
  def str(s: String): String = {
    val b = new StringBuilder("\"")
    s.foreach {
      case '"' => b.append("\\\"")
      case '\\' => b.append("\\\\")
      case '\n' => b.append("\\n")
      case '\r' => b.append("\\r")
      case '\t' => b.append("\\t")
      case c if c < ' ' => b.append(f"\\u${c.toInt}%04x")
      case c => b.append(c)
    }
    b.append('"').toString
  }

  /** Spark's type name for the native side, or why the type is not supported. */
  def typeName(dt: DataType): Either[String, String] = dt match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType |
        DateType => Right(dt.simpleString)
    case s: StringType if s == StringType => Right("string")
    case s: StringType => Left(s"strings with collation ${s.simpleString} are not supported natively")
    case BinaryType => Right("binary")
    case d: DecimalType => Right(s"decimal(${d.precision},${d.scale})")
    // Microseconds since the epoch (no time-zone-dependent operation on them is native).
    case TimestampType => Right("timestamp")
    case TimestampNTZType => Right("timestamp_ntz")
    case a: ArrayType if columnType(a).isRight =>
      Left(s"${a.simpleString} values are native only as columns passed through operators and in " +
        "the functions of arrays listed in docs/spark.md, CASE, IF and coalesce (not as keys, in other " +
        "expressions, or in aggregates yet)")
    case other => Left(s"type ${other.simpleString} is not supported natively yet")
  }

  /**
   * The native type of a column that native operators pass through as it is (read, filtered,
   * joined, sorted, shuffled, returned): [[typeName]]'s, or an array of those (`array<T>`, or
   * `array<T not null>` where it contains no null), or why it is not supported.
   */
  def columnType(dt: DataType): Either[String, String] = dt match {
    case ArrayType(element, containsNull) =>
      columnType(element).map(t => if (containsNull) s"array<$t>" else s"array<$t not null>")
    case other => typeName(other)
  }

  /**
   * A projection's output `e` over `input`: [[arrayExpr]]'s native form of an array (a column
   * passed through as it is, or an element of a nested array), or [[expr]]'s.
   */
  def projected(e: Expression, input: Seq[Attribute]): Either[String, String] = e match {
    case Alias(a: AttributeReference, _) => projected(a, input)
    case a if a.dataType.isInstanceOf[ArrayType] => arrayExpr(a, input)
    case other => expr(other, input)
  }

  /**
   * An array-valued `e` over `input` for the functions of arrays: a column, or an element of a
   * nested array.
   */
  def arrayExpr(e: Expression, input: Seq[Attribute]): Either[String, String] = e match {
    case Alias(child, _) => arrayExpr(child, input)
    case a: AttributeReference if a.dataType.isInstanceOf[ArrayType] =>
      val index = input.indexWhere(_.exprId == a.exprId)
      if (index < 0) Left(s"column ${a.name} is not in the native input")
      else columnType(a.dataType).map(_ => column(index))
    case _: GetArrayItem | _: ElementAt if e.dataType.isInstanceOf[ArrayType] => arrayElement(e, input)
    // split: Java's String.split, for the patterns the native side translates exactly (it
    // refuses the rest, and those that match an empty string).
    case StringSplit(text, Literal(pattern: UTF8String, _: StringType), Literal(limit: Int, IntegerType))
        if text.dataType == StringType =>
      expr(text, input).map(c =>
        s"""{"kind":"split","child":$c,"pattern":${str(pattern.toString)},"limit":$limit}""")
    case Literal(v, at: ArrayType) =>
      for (t <- columnType(at); j <- literalValue(v, at)) yield s"""{"kind":"literal","type":${str(t)},"value":$j}"""
    // Arrays chosen by a condition: each branch cast to Spark's result type natively.
    case CaseWhen(branches, elseValue) => caseJson(branches, elseValue, columnType(e.dataType), arrayExpr(_, input), input)
    case If(predicate, t, f) => arrayExpr(CaseWhen(Seq(predicate -> t), Some(f)), input)
    // Spark evaluates each argument only where those before it are null; so does a CASE.
    case Coalesce(children) if children.nonEmpty =>
      for (cs <- seq(children.map(arrayExpr(_, input))); t <- columnType(e.dataType)) yield
        cs.init.foldRight(cs.last)((c, rest) => caseWhen(s"""{"kind":"is_not_null","child":$c}""", c, rest, t))
    case CreateArray(children, _) => createArray(children, e.dataType, input)
    // (Spark evaluates the arrays in turn up to the first null one.)
    case Concat(children) if children.nonEmpty =>
      arrayFunction("""{"name":"concat"}""", children.head, children.tail, e.dataType, input, makesArray = true)
    case Reverse(child) => arrayFunction("""{"name":"reverse"}""", child, Nil, e.dataType, input, makesArray = true)
    case Sequence(start, stop, step, _) if isIntegral(start.dataType) =>
      arrayFunction("""{"name":"sequence"}""", start, stop +: step.toSeq, e.dataType, input, makesArray = true)
    // array_compact: Spark's filter(a, x -> x IS NOT NULL), known to hold no null.
    case KnownNotContainsNull(ArrayFilter(array, lambda)) if keepsNotNull(lambda) =>
      arrayFunction("""{"name":"compact"}""", array, Nil, e.dataType, input, makesArray = true)
    case ArrayFilter(array, lambda) if keepsNotNull(lambda) =>
      arrayFunction("""{"name":"compact"}""", array, Nil, e.dataType, input, makesArray = true)
    case Flatten(child) => arrayFunction("""{"name":"flatten"}""", child, Nil, e.dataType, input, makesArray = true)
    case Slice(array, start, length) =>
      arrayFunction("""{"name":"slice"}""", array, Seq(start, length), e.dataType, input, makesArray = true)
    // Spark's generated code sorts a Java array of primitives where it can (ascending, no
    // null possible): -0.0 before 0.0 there, equal otherwise.
    case SortArray(array, Literal(ascending: Boolean, BooleanType)) if flat(array) =>
      val primitive = array.dataType match {
        case ArrayType(element, false) => ascending && element != BooleanType && CodeGenerator.isPrimitiveType(element)
        case _ => false
      }
      arrayFunction(s"""{"name":"sort","ascending":$ascending,"primitive":$primitive}""", array, Nil,
        e.dataType, input, makesArray = true)
    case SortArray(array, order) if flat(array) =>
      Left(s"sort_array with the direction ${order.sql} (not a constant true or false) is not native")
    case ArrayDistinct(array) if flat(array) =>
      arrayFunction("""{"name":"distinct"}""", array, Nil, e.dataType, input, makesArray = true)
    case ArrayUnion(l, r) if flat(l) => arrayFunction("""{"name":"union"}""", l, Seq(r), e.dataType, input,
      makesArray = true)
    case ArrayIntersect(l, r) if flat(l) => arrayFunction("""{"name":"intersect"}""", l, Seq(r), e.dataType, input,
      makesArray = true)
    case ArrayExcept(l, r) if flat(l) => arrayFunction("""{"name":"except"}""", l, Seq(r), e.dataType, input,
      makesArray = true)
    case ArrayRemove(array, v) if flat(array) =>
      arrayFunction("""{"name":"remove"}""", array, Seq(v), e.dataType, input, makesArray = true)
    case other @ (_: SortArray | _: ArrayDistinct | _: ArrayRemove | _: ArrayUnion | _: ArrayIntersect |
        _: ArrayExcept) =>
      Left(s"${other.prettyName} of arrays of arrays is not native yet")
    case other if other.dataType.isInstanceOf[ArrayType] =>
      Left(s"${other.prettyName} (making an ${other.dataType.simpleString}) is not native yet")
    case other => Left(s"${other.prettyName} is not an array")
  }

  /** `e`'s native form: [[arrayExpr]]'s for an array, else [[expr]]'s. */
  private def value(e: Expression, input: Seq[Attribute]): Either[String, String] =
    if (e.dataType.isInstanceOf[ArrayType]) arrayExpr(e, input) else expr(e, input)

  /**
   * `function` (message.rs's ArrayFunction) of `array`, then `args`, giving `result` (an array
   * where it `makesArray`). Spark evaluates each argument only where those it evaluates before
   * it (in the order `evaluation` lists their positions, by default the arguments' own) are not
   * null: where one can fail, CASE keeps it from the rows Spark does not evaluate it on.
   */
  private def arrayFunction(function: String, array: Expression, args: Seq[Expression], result: DataType,
      input: Seq[Attribute], makesArray: Boolean = false,
      evaluation: Option[Seq[Int]] = None): Either[String, String] =
    for {
      all <- seq((array +: args).map(value(_, input)))
      t <- columnType(result)
    } yield {
      val resultType = if (makesArray) s""","type":${str(t)}""" else ""
      val call = s"""{"kind":"array","function":$function,"args":${all.mkString("[", ",", "]")}$resultType}"""
      val order = evaluation.getOrElse(all.indices)
      val lastFailing = order.lastIndexWhere(i => canFail((array +: args)(i)))
      order.take(lastFailing).foldRight(call)((before, json) => nullWhereNull(all(before), json, t))
    }

  /** A CASE of type `t`: its conditions by [[expr]], its values by `value`. */
  private def caseJson(branches: Seq[(Expression, Expression)], elseValue: Option[Expression],
      t: Either[String, String], value: Expression => Either[String, String],
      input: Seq[Attribute]): Either[String, String] =
    for {
      t <- t
      pairs <- seq(branches.map { case (w, th) =>
        for (wj <- expr(w, input); tj <- value(th)) yield s"[$wj,$tj]"
      })
      otherwise <- elseValue.map(x => value(x).map(Some(_))).getOrElse(Right(None))
    } yield {
      val other = otherwise.map(o => s""","otherwise":$o""").getOrElse("")
      s"""{"kind":"case","type":${str(t)},"branches":${pairs.mkString("[", ",", "]")}$other}"""
    }

  /** Whether `lambda` is `x -> x IS NOT NULL` (array_compact's filter). */
  private def keepsNotNull(lambda: Expression): Boolean = lambda match {
    case LambdaFunction(IsNotNull(v: NamedLambdaVariable), Seq(arg: NamedLambdaVariable), _) => v.exprId == arg.exprId
    case _ => false
  }

  /** Whether `array`'s elements are not arrays (the functions that compare elements take those). */
  private def flat(array: Expression): Boolean = array.dataType match {
    case ArrayType(_: ArrayType, _) => false
    case _ => true
  }

  /** `array(...)` of `args`, all evaluated, making `result`. */
  private def createArray(args: Seq[Expression], result: DataType, input: Seq[Attribute]): Either[String, String] =
    for {
      all <- seq(args.map(value(_, input)))
      t <- columnType(result)
    } yield s"""{"kind":"array","function":{"name":"create"},"args":${all.mkString("[", ",", "]")},""" +
      s""""type":${str(t)}}"""

  /** `a[i]` (GetArrayItem) or `element_at(a, i)` of an array. */
  private def arrayElement(e: Expression, input: Seq[Attribute]): Either[String, String] = e match {
    case GetArrayItem(array, ordinal, failOnError) =>
      arrayFunction(s"""{"name":"get_item","fail":$failOnError}""", array, Seq(ordinal), e.dataType, input)
    case ElementAt(array, index, None, failOnError) if index.dataType == IntegerType =>
      arrayFunction(s"""{"name":"element_at","fail":$failOnError}""", array, Seq(index), e.dataType, input)
    case ElementAt(_, _, Some(_), _) => Left("element_at with a default value is not native yet")
    case other => Left(s"${other.prettyName} of ${other.children.map(_.dataType.simpleString).mkString(", ")} " +
      "is not native yet")
  }

  /** The message's field list for a schema. */
  def fields(fields: Seq[StructField]): Either[String, String] = {
    val out = fields.map(f => columnType(f.dataType).map(t =>
      s"""{"name":${str(f.name)},"type":${str(t)},"nullable":${f.nullable}}"""))
    out.collectFirst { case Left(r) => r }.toLeft(out.collect { case Right(j) => j }.mkString("[", ",", "]"))
  }

  /** A literal's JSON value (see message.rs). */
  def literalValue(value: Any, dt: DataType): Either[String, String] = (value, dt) match {
    case (null, _) => Right("null")
    case (b: Boolean, BooleanType) => Right(b.toString)
    case (v: Byte, ByteType) => Right(v.toString)
    case (v: Short, ShortType) => Right(v.toString)
    case (v: Int, IntegerType | DateType) => Right(v.toString)
    case (v: Long, LongType | TimestampType | TimestampNTZType) => Right(v.toString)
    case (v: Float, FloatType) => Right(floatJson(v.toDouble))
    case (v: Double, DoubleType) => Right(floatJson(v))
    case (v: UTF8String, _: StringType) => Right(str(v.toString))
    case (v: Decimal, _: DecimalType) => Right(str(v.toJavaBigDecimal.toPlainString))
    // Hexadecimal digits, two per byte.
    case (v: Array[Byte], BinaryType) => Right(str(v.map(b => f"${b & 0xff}%02x").mkString))
    // An array: its elements' JSON in a list.
    case (a: ArrayData, ArrayType(element, _)) =>
      seq(a.toSeq[Any](element).map(literalValue(_, element))).map(_.mkString("[", ",", "]"))
    case (v, t) => Left(s"literal $v of type ${t.simpleString} is not supported natively")
  }

  private def floatJson(v: Double): String =
    if (v.isNaN) "\"NaN\""
    else if (v.isPosInfinity) "\"Infinity\""
    else if (v.isNegInfinity) "\"-Infinity\""
    else java.lang.Double.toString(v)

  /** The items' JSON, or the first item's reason it cannot go native. */
  def seq(items: Seq[Either[String, String]]): Either[String, Seq[String]] =
    items.collectFirst { case Left(r) => r }.toLeft(items.collect { case Right(j) => j })

  /**
   * A binary operator. Spark evaluates the second operand only where the first is not null
   * (`BinaryExpression.eval`; division and remainder evaluate the divisor first, and the
   * dividend only where the divisor is not null): where the operand evaluated second can fail
   * ([[canFail]]), CASE keeps it from the rows Spark does not evaluate it on.
   */
  private def binary(op: String, l: Expression, r: Expression, dt: DataType, input: Seq[Attribute],
      ansi: Boolean = false, tryMode: Boolean = false): Either[String, String] =
    for {
      left <- expr(l, input)
      right <- expr(r, input)
      t <- typeName(dt)
    } yield {
      val ansiField = if (ansi) ""","ansi":true""" else if (tryMode) ""","try":true""" else ""
      val json = s"""{"kind":"binary","op":"$op","type":${str(t)},"left":$left,"right":$right$ansiField}"""
      val divides = op == "divide" || op == "remainder" || op == "integral_divide"
      val (first, second) = if (divides) (right, l) else (left, r)
      if (op == "eq_null_safe" || !canFail(second)) json
      else nullWhereNull(first, json, t)
    }

  /**
   * Whether evaluating `e` natively can fail on some row: ANSI mode's integer overflow, division
   * by zero, casts that are not upcasts, decimal arithmetic whose result type Spark reduced,
   * date-time arithmetic that can leave a timestamp's or a date's range. (Not
   * decimal arithmetic in Spark's full result type, floats, or the try forms: they never fail.)
   * Where an operand that Spark may skip can fail, the plan keeps it from the rows Spark skips.
   */
  private[cinder] def canFail(e: Expression): Boolean = e.exists {
    case a @ Add(l, r, EvalMode.ANSI) => arithmeticCanFail("add", a.dataType, l, r)
    case a @ Subtract(l, r, EvalMode.ANSI) => arithmeticCanFail("subtract", a.dataType, l, r)
    case a @ Multiply(l, r, EvalMode.ANSI) => arithmeticCanFail("multiply", a.dataType, l, r)
    // By zero (and decimal overflow).
    case Divide(_, _, EvalMode.ANSI) | Remainder(_, _, EvalMode.ANSI) | IntegralDivide(_, _, EvalMode.ANSI) |
        Pmod(_, _, EvalMode.ANSI) => true
    case UnaryMinus(child, true) => isIntegral(child.dataType)
    case Abs(child, true) => isIntegral(child.dataType)
    // A string's bytes (under md5 and the other digests).
    case Cast(child, BinaryType, _, _) if child.dataType == StringType => false
    case c: Cast => c.evalMode == EvalMode.ANSI && !Cast.canUpCast(c.child.dataType, c.dataType)
    // An integer rounded to a multiple of 10^n can leave its type.
    case Round(child, scale, true) => integerRoundCanFail(child, scale)
    // A parse fails in ANSI mode, and in either mode where the microseconds overflow a long.
    case t: ToTimestamp => t.left.dataType == StringType
    case BRound(child, scale, true) => integerRoundCanFail(child, scale)
    // Date-time arithmetic past a long's microseconds or an int's days (Math's exact arithmetic).
    case _: TimeAdd | _: TimestampAddYMInterval | _: DateAddYMInterval | _: DateAddInterval | _: TimestampAdd |
        _: TimestampDiff | _: AddMonths | _: FromUTCTimestamp | _: ToUTCTimestamp | _: TruncTimestamp => true
    // An index out of bounds in ANSI mode; element_at's index 0 in either mode (and, natively,
    // Int.MinValue).
    case GetArrayItem(_, _, failOnError) => failOnError
    case ElementAt(array, index, _, failOnError) if array.dataType.isInstanceOf[ArrayType] =>
      failOnError || (index match {
        case Literal(i: Int, IntegerType) => i == 0 || i == Int.MinValue
        case _ => true
      })
    // Boundaries the step cannot reach, or too many elements.
    case _: Sequence => true
    // A start of 0 or a negative length, in either mode.
    case Slice(_, start, length) => (start, length) match {
      case (Literal(s: Int, IntegerType), Literal(l: Int, IntegerType)) => s == 0 || l < 0
      case _ => true
    }
    case _ => false
  }

  /**
   * The subexpressions of a projection's expressions that Spark's subexpression elimination
   * (`spark.sql.subexpressionElimination.enabled`, on by default) computes once per row before
   * the projection, on every row, and that can fail ([[canFail]]): a common subexpression is
   * evaluated even on rows where the expression around it would not evaluate it (an argument after
   * a null one, say). Spark's own `EquivalentExpressions` finds them, as `ProjectExec` does.
   */
  def eagerSubexpressions(exprs: Seq[Expression]): Seq[Expression] =
    if (!SQLConf.get.subexpressionEliminationEnabled) Nil
    else {
      val equivalence = new EquivalentExpressions
      exprs.foreach(equivalence.addExprTree(_))
      equivalence.getCommonSubexpressions.filter(canFail)
    }

  private def integerRoundCanFail(child: Expression, scale: Expression): Boolean =
    isIntegral(child.dataType) && (scale match {
      case Literal(places: Int, IntegerType) => places < 0
      case _ => true
    })

  private def arithmeticCanFail(op: String, dt: DataType, l: Expression, r: Expression): Boolean = dt match {
    case _: DecimalType => decimalFits(op, l.dataType, r.dataType).isLeft
    case FloatType | DoubleType => false
    case _ => true
  }

  /**
   * A filter's condition. Spark's generated filter code tests the top-level conjuncts one at a
   * time (in [[codegenOrder]]) and drops a row at the first that is false or null, so a
   * conjunct is evaluated only where every one before it is true (an AND inside an expression
   * evaluates its right side where the left is null too). Where a later conjunct can fail ([[canFail]]), a CASE chain
   * evaluates each conjunct only on the rows every earlier one kept; the conjuncts that cannot
   * fail are repeated plain after it, so Parquet pruning still sees them.
   */
  def filterCondition(condition: Expression, input: Seq[Attribute]): Either[String, String] = {
    def conjuncts(e: Expression): Seq[Expression] = e match {
      case And(l, r) => conjuncts(l) ++ conjuncts(r)
      case other => Seq(other)
    }
    val all = codegenOrder(conjuncts(condition), input)
    val lastFailing = all.lastIndexWhere(canFail)
    if (lastFailing < 0) return expr(condition, input)
    if (lastFailing == 0) return expr(all.reduceLeft(And(_, _)), input)
    seq(all.map(expr(_, input))).map { js =>
      val (t, f) = (literal("boolean", "true"), literal("boolean", "false"))
      val chain = js.take(lastFailing + 1).foldRight(t) { (j, rest) =>
        caseWhen(binaryJson("eq_null_safe", "boolean", j, t), rest, f, "boolean")
      }
      // The chain first: the native AND skips its right side for a batch whose left side is
      // all false, so a plain conjunct before it could keep a failing one from running.
      val plain = js.zip(all).collect { case (j, c) if !canFail(c) => j }
      (chain +: plain).reduceLeft((a, b) => binaryJson("and", "boolean", a, b))
    }
  }

  /**
   * The order Spark's generated filter code tests a condition's conjuncts in
   * (FilterExec.doConsume): IS NOT NULL of a null-intolerant expression is split out; each other
   * conjunct comes after the IS NOT NULL tests of the columns it reads, and the IS NOT NULL tests
   * left over come last. So `(a / 9 > 0 OR -i > 0) AND isnotnull(a)` (an inferred filter) never
   * negates `i` where `a` is null.
   */
  private def codegenOrder(all: Seq[Expression], input: Seq[Attribute]): Seq[Expression] = {
    def nullIntolerant(e: Expression): Boolean = e match {
      case _: Attribute => true
      case e if e.nullIntolerant => e.children.forall(nullIntolerant)
      case _ => false
    }
    val columns = AttributeSet(input)
    val (notNull, other) = all.partition {
      case IsNotNull(a) => nullIntolerant(a) && a.references.subsetOf(columns)
      case _ => false
    }
    val tested = Array.fill(notNull.length)(false)
    val ordered = other.flatMap { c =>
      val checks = c.references.toSeq.flatMap { r =>
        val i = notNull.indexWhere { case IsNotNull(a) => a.semanticEquals(r); case _ => false }
        if (i != -1 && !tested(i)) { tested(i) = true; Some(notNull(i)) } else None
      }
      checks :+ c
    }
    ordered ++ notNull.zipWithIndex.collect { case (n, i) if !tested(i) => n }
  }

  /**
   * AND or OR. Spark evaluates the right side only where the left does not decide (`decides`
   * is the left value that does: false for AND, true for OR): where the right side can fail
   * ([[canFail]]), CASE keeps it from rows Spark would not evaluate it on. The connective
   * itself stays, so Parquet pruning still sees the left side.
   */
  private def connective(op: String, decides: String, l: Expression, r: Expression,
      input: Seq[Attribute]): Either[String, String] =
    for (lj <- expr(l, input); rj <- expr(r, input)) yield {
      val lazyRight =
        if (!canFail(r)) rj
        else caseWhen(binaryJson("eq_null_safe", "boolean", lj, literal("boolean", decides)),
          literal("boolean", decides), rj, "boolean")
      binaryJson(op, "boolean", lj, lazyRight)
    }

  private def unary(kind: String, child: Expression, input: Seq[Attribute]): Either[String, String] =
    expr(child, input).map(c => s"""{"kind":"$kind","child":$c}""")

  /** Decimal arithmetic goes native only where DataFusion's result type is Spark's. */
  private def decimalFits(op: String, l: DataType, r: DataType): Either[String, Unit] = (l, r) match {
    case (a: DecimalType, b: DecimalType) =>
      val p = op match {
        case "multiply" => a.precision + b.precision + 1
        case _ => math.max(a.scale, b.scale) + math.max(a.precision - a.scale, b.precision - b.scale) + 1
      }
      if (p <= DecimalType.MAX_PRECISION) Right(())
      else Left(s"decimal $op needs precision $p > 38 (Spark then reduces the scale; not native yet)")
    case _ => Right(())
  }

  private def arithmetic(op: String, l: Expression, r: Expression, dt: DataType, mode: EvalMode.Value,
      input: Seq[Attribute]): Either[String, String] = {
    // Try mode (try_add, try_subtract, try_multiply): integer overflow is null natively
    // (crate::try_arith); decimals and floats give what legacy mode gives (null on overflow).
    dt match {
      case ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType | _: DecimalType =>
      case other => return Left(s"$op of ${other.simpleString} is not supported natively")
    }
    decimalFits(op, l.dataType, r.dataType) match {
      // ANSI integer overflow fails natively too; decimals here cannot overflow (their
      // precision bounds the result) and floats never fail.
      case Right(_) => binary(op, l, r, dt, input, ansi = mode == EvalMode.ANSI, tryMode = mode == EvalMode.TRY)
      // Spark reduced the result's scale to fit 38 digits: exact, then rounded half up.
      case Left(_) =>
        for (lj <- expr(l, input); rj <- expr(r, input); t <- typeName(dt)) yield
          s"""{"kind":"spark_decimal_arithmetic","op":"$op","type":${str(t)},"left":$lj,"right":$rj,""" +
            s""""ansi":${mode == EvalMode.ANSI}}"""
    }
  }

  private def isIntegral(dt: DataType): Boolean = dt match {
    case ByteType | ShortType | IntegerType | LongType => true
    case _ => false
  }

  private def integralRank(dt: DataType): Int = dt match {
    case ByteType => 1
    case ShortType => 2
    case IntegerType => 3
    case LongType => 4
    case _ => 0
  }

  /**
   * Casts of floats to strings and decimals print Java's `Double.toString` digits: natively
   * those of Java 19 and later (crate::java_float), so with `spark.cinder.javaFloatDigits`
   * = auto only on such a JVM.
   */
  private def javaFloatDigits(from: DataType, to: DataType): Either[String, Unit] =
    javaFloatDigits(s"cast from ${from.simpleString} to ${to.simpleString}", "prints")

  /** As for casts, for `what` (which `verb`s the digits: prints or reads them). */
  private def javaFloatDigits(what: String, verb: String): Either[String, Unit] = {
    val java = Runtime.version().feature()
    CinderConf.JavaFloatDigits.choice(SQLConf.get) match {
      case "off" => Left(s"$what stays on Spark (${CinderConf.JavaFloatDigits.key}=off)")
      case "auto" if java < 19 => Left(s"$what $verb Java's " +
        s"Double.toString digits, reproduced natively as Java 19 and later give them; this JVM is Java $java " +
        s"(${CinderConf.JavaFloatDigits.key}=java19 accepts Java 19's digits)")
      case _ => Right(())
    }
  }

  /**
   * `round` (`half_up`) or `bround` (`half_even`) to a constant scale (crate::math::SparkRound):
   * integers exactly, then wrapped (legacy) or checked (ANSI); decimals into Spark's result type;
   * floats and doubles through `BigDecimal.valueOf`, which reads `Double.toString`'s digits. A
   * decimal rounding that can overflow the result type Spark had to cap at 38 digits fails in Spark
   * in both modes (`NUMERIC_VALUE_OUT_OF_RANGE.WITHOUT_SUGGESTION`): those stay on Spark.
   */
  private def round(name: String, child: Expression, scale: Expression, mode: String, ansi: Boolean,
      dt: DataType, input: Seq[Attribute]): Either[String, String] = scale match {
    // A null scale: null, without evaluating the child.
    case Literal(null, _) => typeName(dt).map(literal(_, "null"))
    // (Spark's BigDecimal.setScale fails on scales near the Int range's ends, and builds
    // 10^places digits for large ones: such scales stay on Spark.)
    case Literal(places: Int, IntegerType) if places < -1000 || places > 1000 =>
      Left(s"$name to $places places (beyond 1000 either way) is not native")
    case Literal(places: Int, IntegerType) =>
      val supported: Either[String, Unit] = child.dataType match {
        case ByteType | ShortType | IntegerType | LongType => Right(())
        case FloatType | DoubleType => javaFloatDigits(s"$name of a ${child.dataType.simpleString}", "reads")
        case d: DecimalType =>
          // A value below 10^(p - s) rounds to a multiple of 10^-places of at most p - s + 1
          // digits (0 where -places > p - s), which Spark's result type holds unless that is
          // decimal(38, 0) capped from 39 digits.
          val integral = d.precision - d.scale
          if (places < 0 && integral + 1 > DecimalType.MAX_PRECISION && -places <= integral) {
            Left(s"$name of a ${d.simpleString} to $places places can overflow the decimal(38, 0) " +
              "Spark rounds it into (an error in Spark)")
          } else Right(())
        case other => Left(s"$name of ${other.simpleString} is not native")
      }
      for (_ <- supported; c <- expr(child, input); t <- typeName(dt)) yield
        s"""{"kind":"spark_round","child":$c,"mode":"$mode","places":$places,"type":${str(t)},"ansi":$ansi}"""
    case _ => Left(s"$name to a scale that is not a constant is not native")
  }

  /** The types whose Murmur3 hash the native side computes as Spark does. */
  private[cinder] def hashable(dt: DataType): Boolean = dt match {
    case BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType | DoubleType | DateType |
        TimestampType | TimestampNTZType | _: DecimalType => true
    case s: StringType => s == StringType
    case BinaryType => true
    case _ => false
  }

  /** `floor` or `ceil` (`ceiling`) of a double, bigint or decimal (crate::math::SparkRound). */
  private def floorCeil(name: String, child: Expression, mode: String, dt: DataType,
      input: Seq[Attribute]): Either[String, String] = child.dataType match {
    case DoubleType | LongType | _: DecimalType =>
      for (c <- expr(child, input); t <- typeName(dt)) yield
        s"""{"kind":"spark_round","child":$c,"mode":"$mode","places":0,"type":${str(t)}}"""
    case other => Left(s"$name of ${other.simpleString} is not native")
  }

  /**
   * `greatest` or `least` (crate::math::SparkGreatest): Spark evaluates every argument; nulls are
   * skipped, floats ordered as Spark orders them, and the first of equal values kept.
   */
  private def greatest(children: Seq[Expression], least: Boolean, dt: DataType,
      input: Seq[Attribute]): Either[String, String] =
    for (_ <- typeName(dt); args <- seq(children.map(expr(_, input)))) yield
      s"""{"kind":"spark_greatest","least":$least,"args":${args.mkString("[", ",", "]")}}"""

  /** Casts whose native (Arrow, overflow to null) result is Spark's in `mode`. */
  private def castSupported(from: DataType, to: DataType, mode: EvalMode.Value): Either[String, Unit] = {
    (from, to) match {
      case (FloatType | DoubleType, s: StringType) if s == StringType => return javaFloatDigits(from, to)
      case (FloatType | DoubleType | TimestampType, _: DecimalType) => return javaFloatDigits(from, to)
      case _ =>
    }
    val widening = (from, to) match {
      case (a, b) if a == b => true
      // Integers and booleans print the same way in Spark and Arrow; dates as java.time's
      // ISO_LOCAL_DATE over Spark's whole range, natively (crate::datetime::spark_date_string).
      case (a, s: StringType) if s == StringType && (isIntegral(a) || a == BooleanType || a == DateType) => true
      // Decimals print as Java's BigDecimal does (plain in ANSI mode), natively (crate::cast).
      // (try_cast prints plainly too.)
      case (_: DecimalType, s: StringType) if s == StringType => true
      case (a, b) if isIntegral(a) && isIntegral(b) => integralRank(a) <= integralRank(b)
      case (a, FloatType | DoubleType) if isIntegral(a) => true
      case (FloatType, DoubleType) => true
      case (a, d: DecimalType) if isIntegral(a) =>
        DecimalType.forType(a).asInstanceOf[DecimalType].precision <= d.precision - d.scale
      case (a: DecimalType, b: DecimalType) =>
        a.precision - a.scale <= b.precision - b.scale && a.scale <= b.scale
      case _ => false
    }
    val narrowingOk = (from, to) match {
      // A decimal rescale rounds half up, as Arrow's cast does; a value that does not fit is
      // null (legacy and try: Arrow's safe cast) or an error (ANSI: Arrow's checked cast).
      case (_: DecimalType, _: DecimalType) => true
      case (a, _: DecimalType) if isIntegral(a) => true
      // Spark's number parsing, natively (crate::cast): null (legacy, try) or an error (ANSI)
      // for what does not parse or fit.
      case (s: StringType, b) if s == StringType && (isIntegral(b) || b == DateType || b == BooleanType ||
          b == FloatType || b == DoubleType || b.isInstanceOf[DecimalType]) =>
        true
      // Spark's numeric rules, natively (crate::cast::SparkNumericCast): the low bits in legacy
      // mode, CAST_OVERFLOW in ANSI mode, null in try mode.
      case (a, b) if isIntegral(a) && isIntegral(b) => true
      case (FloatType | DoubleType | _: DecimalType, b) if isIntegral(b) => true
      case (_: DecimalType, FloatType | DoubleType) | (DoubleType, FloatType) => true
      case (a, BooleanType) if isIntegral(a) || a == FloatType || a == DoubleType || a.isInstanceOf[DecimalType] =>
        true
      case (BooleanType, b) if isIntegral(b) || b == FloatType || b == DoubleType => true
      case (BooleanType, d: DecimalType) => d.precision - d.scale >= 1
      // Timestamps and numbers (crate::timestamp::SparkTimestampNumberCast): seconds.
      case (TimestampType, b) if isIntegral(b) || b == FloatType || b == DoubleType || b == BooleanType => true
      case (a, TimestampType) if isIntegral(a) || a == FloatType || a == DoubleType || a == BooleanType ||
          a.isInstanceOf[DecimalType] => true
      case _ => false
    }
    if (widening || narrowingOk) Right(())
    else Left(s"cast from ${from.simpleString} to ${to.simpleString} (${mode.toString.toLowerCase} mode) " +
      "is not supported natively yet")
  }

  /** The placeholder of a scalar subquery's value in a plan (a JSON string). */
  def subqueryToken(s: org.apache.spark.sql.execution.ScalarSubquery): String = s"#cinder-subquery-${s.exprId.id}#"

  private val SubqueryToken = "\"#cinder-subquery-\\d+#\"".r

  /** `root` with every subquery's value null (for checking a plan before the values exist). */
  def withoutSubqueryValues(root: String): String = SubqueryToken.replaceAllIn(root, "null")

  /** `root` with each subquery's token replaced by its value (the subqueries have run). */
  def withSubqueryValues(root: String, subqueries: Seq[org.apache.spark.sql.execution.ScalarSubquery]): String =
    subqueries.foldLeft(root) { (json, s) =>
      val value = literalValue(s.eval(), s.dataType)
        .fold(r => throw new IllegalStateException(s"cinder: subquery value: $r"), identity)
      json.replace(str(subqueryToken(s)), value)
    }

  /**
   * A `sort`'s keys: each order's expression over `input`, its direction and where its nulls
   * go (types whose order Spark and the native sort share: not collated strings).
   */
  def sortKeys(order: Seq[SortOrder], input: Seq[Attribute]): Either[String, String] =
    if (order.isEmpty) Left("a sort without keys")
    else seq(order.map { o =>
      for {
        _ <- typeName(o.dataType)
        e <- expr(o.child, input)
      } yield s"""{"expr":$e,"ascending":${o.direction == Ascending},""" +
        s""""nulls_first":${o.nullOrdering == NullsFirst}}"""
    }).map(_.mkString("[", ",", "]"))

  /** `{"kind":"column"}` for input column `index`. */
  def column(index: Int): String = s"""{"kind":"column","index":$index}"""

  /** A literal of Spark type name `t` with JSON value `value`. */
  def literal(t: String, value: String): String = s"""{"kind":"literal","type":${str(t)},"value":$value}"""

  /** `CASE WHEN when THEN then ELSE otherwise END` of Spark type name `t`. */
  def caseWhen(when: String, thenJson: String, otherwise: String, t: String): String =
    s"""{"kind":"case","type":${str(t)},"branches":[[$when,$thenJson]],"otherwise":$otherwise}"""

  /** A binary expression of Spark type name `t`. */
  def binaryJson(op: String, t: String, left: String, right: String): String =
    s"""{"kind":"binary","op":"$op","type":${str(t)},"left":$left,"right":$right}"""

  /** A cast of `child` to Spark type name `t`. */
  def castJson(child: String, t: String): String = s"""{"kind":"cast","type":${str(t)},"child":$child}"""

  /** Escapes LIKE's special characters in a literal string. */
  private def escapeLike(s: String): String =
    s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

  private def like(child: Expression, pattern: String, input: Seq[Attribute]): Either[String, String] = {
    // Spark rejects an escape before any other character; such patterns stay on Spark.
    var valid = true
    var i = 0
    while (i < pattern.length) {
      if (pattern(i) == '\\') {
        valid &&= i + 1 < pattern.length && "%_\\".contains(pattern(i + 1))
        i += 1
      }
      i += 1
    }
    if (!valid) {
      Left(s"LIKE pattern '$pattern' escapes an ordinary character")
    } else if (child.dataType != StringType) {
      Left(s"LIKE on ${child.dataType.simpleString} is not native yet")
    } else {
      expr(child, input).map(c => s"""{"kind":"like","child":$c,"pattern":${str(pattern)}}""")
    }
  }

  private def datePart(child: Expression, part: String, input: Seq[Attribute]): Either[String, String] =
    if (child.dataType != DateType) Left(s"$part of ${child.dataType.simpleString} is not native yet")
    else expr(child, input).map(c => s"""{"kind":"date_part","child":$c,"part":"$part"}""")

  /** `trunc` of a date (levels from a week up) or `date_trunc` of a timestamp in `zone`. */
  private def trunc(child: Expression, format: Expression, zone: String, date: Boolean,
      input: Seq[Attribute]): Either[String, String] = {
    import org.apache.spark.sql.catalyst.util.DateTimeUtils._
    val names = Map(TRUNC_TO_MICROSECOND -> "microsecond", TRUNC_TO_MILLISECOND -> "millisecond",
      TRUNC_TO_SECOND -> "second", TRUNC_TO_MINUTE -> "minute", TRUNC_TO_HOUR -> "hour", TRUNC_TO_DAY -> "day",
      TRUNC_TO_WEEK -> "week", TRUNC_TO_MONTH -> "month", TRUNC_TO_QUARTER -> "quarter", TRUNC_TO_YEAR -> "year")
    format match {
      case Literal(f: UTF8String, _: StringType) =>
        val level = parseTruncLevel(f)
        if (!names.contains(level) || (date && level < MIN_LEVEL_OF_DATE_TRUNC)) {
          Left(s"truncation to '$f' (null in Spark) is not native")
        } else {
          expr(child, input).map(c =>
            s"""{"kind":"trunc","child":$c,"level":"${names(level)}","zone":${str(zone)}}""")
        }
      case _ => Left("truncation to a level that is not a constant is not native")
    }
  }

  /**
   * `left op right` over dates as their days (ints): `date_add`/`date_sub` (a date and a number
   * of days, to a date) and `datediff` (two dates, to an int). Where the second argument can fail
   * ([[canFail]]), CASE keeps it from the rows whose first argument is null, as Spark does.
   */
  private def dateArithmetic(op: String, left: Expression, right: Expression, result: DataType,
      input: Seq[Attribute]): Either[String, String] = {
    def days(e: Expression): Either[String, String] = e.dataType match {
      case DateType => expr(e, input).map(c => s"""{"kind":"date_days","child":$c}""")
      case ByteType | ShortType | IntegerType => expr(e, input).map(castJson(_, "int"))
      case other => Left(s"date arithmetic on ${other.simpleString} is not native")
    }
    for (l <- days(left); r <- days(right); t <- typeName(result)) yield {
      val sum = binaryJson(op, "int", l, r)
      val json = if (result == DateType) s"""{"kind":"date_days","child":$sum,"to_date":true}""" else sum
      // Spark evaluates the second argument only where the first is not null (BinaryExpression).
      if (!canFail(right)) json
      else nullWhereNull(l, json, t)
    }
  }

  /** The date `date` (JSON) moved by a `month_shift` with `fields`. */
  private def monthShift(date: String, fields: String): String = {
    val shifted = s"""{"kind":"month_shift","child":{"kind":"date_days","child":$date}$fields}"""
    s"""{"kind":"date_days","child":$shifted,"to_date":true}"""
  }

  /** `date_format` of a timestamp, or (`seconds`) `from_unixtime` of a bigint, with a constant
   * pattern, which the native side reads (refusing the letters it does not print). */
  private def dateFormat(name: String, child: Expression, seconds: Boolean, pattern: String,
      zoneId: java.time.ZoneId, input: Seq[Attribute]): Either[String, String] =
    if (SQLConf.get.legacyTimeParserPolicy == org.apache.spark.sql.internal.LegacyBehaviorPolicy.LEGACY) {
      Left(s"$name with spark.sql.legacy.timeParserPolicy=LEGACY (SimpleDateFormat) is not native")
    } else {
      val zone = zoneName(zoneId)
      expr(child, input).map(c => s"""{"kind":"date_format","child":$c,"seconds":$seconds,""" +
        s""""pattern":${str(pattern)},"zone":${str(zone)}}""")
    }

  /** A zone as the native side names it: `UTC` for java.time's `Z`, else its id. */
  private def zoneName(zone: java.time.ZoneId): String = if (zone.getId == "Z") "UTC" else zone.getId

  private val MicrosPerDay = 86400000000L

  /** `child` (a date or a timestamp) plus the constant interval (`months`, `days`, `micros`), in
   * `zone` (crate::interval). */
  private def intervalAdd(child: Expression, months: Int, days: Long, micros: Long, zone: String,
      input: Seq[Attribute]): Either[String, String] =
    expr(child, input).map(c => s"""{"kind":"interval_add","child":$c,"months":$months,"days":$days,""" +
      s""""micros":$micros,"zone":${str(zone)}}""")

  /** The zone an interval moves a timestamp in: the session's, or UTC for one without a zone. */
  private def intervalZone(start: Expression, zone: java.time.ZoneId): String =
    if (start.dataType == TimestampNTZType) "UTC" else zoneName(zone)

  /** `from_utc_timestamp` or (`toUtc`) `to_utc_timestamp` of a timestamp with a constant zone. */
  private def utcConvert(name: String, child: Expression, zone: String, toUtc: Boolean, input: Seq[Attribute])
      : Either[String, String] =
    scala.util.Try(org.apache.spark.sql.catalyst.util.DateTimeUtils.getZoneId(zone)) match {
      case scala.util.Failure(_) => Left(s"$name with the time zone '$zone', which Spark refuses, is not native")
      case scala.util.Success(_) =>
        expr(child, input).map(c => s"""{"kind":"utc_convert","child":$c,"zone":${str(zone)},"to_utc":$toUtc}""")
    }

  /**
   * A string parsed with a constant pattern, as Spark's `ToTimestamp.eval` parses it
   * (`Iso8601TimestampFormatter`): the native side builds the parser java.time builds for the
   * pattern and refuses the letters it does not reproduce. Under the legacy parser policies
   * (`SimpleDateFormat`, or `EXCEPTION`'s second try with it) it stays on Spark.
   */
  private def parseTimestamp(t: ToTimestamp, output: String, input: Seq[Attribute]): Either[String, String] = {
    val policy = SQLConf.get.legacyTimeParserPolicy
    t.right match {
      case _ if policy != org.apache.spark.sql.internal.LegacyBehaviorPolicy.CORRECTED =>
        Left(s"${t.prettyName} with spark.sql.legacy.timeParserPolicy=$policy is not native")
      case _ if t.timeZoneId.isEmpty => Left(s"${t.prettyName} without a time zone is not native")
      case Literal(pattern: UTF8String, _: StringType) =>
        val zone = zoneName(t.zoneId)
        expr(t.left, input).map(c => s"""{"kind":"parse_timestamp","child":$c,"pattern":${str(pattern.toString)},""" +
          s""""zone":${str(zone)},"output":"$output","fail_on_error":${t.failOnError},""" +
          s""""suggested":${str(t.suggestedFuncOnFail)}}""")
      case other => Left(s"${t.prettyName} with the pattern ${other.sql} (not a constant string) is not native")
    }
  }

  /** `unix_timestamp` of a timestamp, or of a date through its cast to one (Spark's
   * `daysToMicros` in the session time zone, as the cast). Strings (parsed with a pattern) stay
   * on Spark. */
  private def unixTimestamp(timeExp: Expression, timeZoneId: Option[String], input: Seq[Attribute])
      : Either[String, String] = timeExp.dataType match {
    case TimestampType | TimestampNTZType => function("unix_timestamp", timeExp, input)
    case DateType if timeZoneId.nonEmpty =>
      expr(Cast(timeExp, TimestampType, timeZoneId), input).map(c =>
        s"""{"kind":"function","name":"unix_timestamp","args":[$c]}""")
    case other => Left(s"unix_timestamp of a ${other.simpleString} is not native yet")
  }

  /** `hour`, `minute` or `second` of a timestamp (in `zone` for an instant). */
  private def timePart(child: Expression, timeZoneId: Option[String], zone: => java.time.ZoneId, part: String,
      input: Seq[Attribute]): Either[String, String] = {
    val z: Either[String, String] =
      if (child.dataType == TimestampNTZType) Right("")
      else if (child.dataType != TimestampType) Left(s"$part of a ${child.dataType.simpleString} is not native")
      else if (timeZoneId.isEmpty) Left(s"$part of a timestamp without a time zone is not native")
      else Right(s""","zone":${str(zoneName(zone))}""")
    for (zz <- z; c <- expr(child, input)) yield s"""{"kind":"timestamp_part","child":$c,"part":"$part"$zz}"""
  }

  /**
   * A native function of several arguments (`{"kind":"function"}`) that is null where any argument
   * is: Spark evaluates each argument only where those before it are not null (a ternary or binary
   * expression's generated code), so where a later argument can fail ([[canFail]]), CASE keeps it
   * from those rows.
   */
  private def nullIntolerantFunction(name: String, args: Seq[Expression], dt: DataType,
      input: Seq[Attribute]): Either[String, String] =
    for (js <- seq(args.map(expr(_, input))); t <- typeName(dt)) yield {
      val call = s"""{"kind":"function","name":"$name","args":${js.mkString("[", ",", "]")}}"""
      val lastFailing = args.lastIndexWhere(canFail)
      if (lastFailing <= 0) call
      else js.take(lastFailing).foldRight(call) { (j, rest) =>
        nullWhereNull(j, rest, t)
      }
    }

  /**
   * `json` (of Spark type name `t`), but null where `first` is null: CASE keeps an operand that
   * Spark evaluates only after a non-null `first` from the rows where `first` is null.
   */
  private def nullWhereNull(first: String, json: String, t: String): String =
    caseWhen(s"""{"kind":"is_null","child":$first}""", literal(t, "null"), json, t)

  /** The native name of each function of one double whose results the native side reproduces. */
  private val unaryMath: PartialFunction[UnaryMathExpression, String] = {
    case _: Sqrt => "sqrt"
    case _: Exp => "exp"
    case _: Expm1 => "expm1"
    case _: Log => "ln"
    case _: Log10 => "log10"
    case _: Log2 => "log2"
    case _: Log1p => "log1p"
    case _: Asinh => "asinh"
    case _: Acosh => "acosh"
    case _: Atanh => "atanh"
    case _: Signum => "signum"
    case _: ToDegrees => "degrees"
    case _: ToRadians => "radians"
    case _: Rint => "rint"
    // java.lang.Math's, which Java 17 to 23 (and for these five, 25) delegate to StrictMath.
    case _: Atan => "atan"
    case _: Asin => "asin"
    case _: Acos => "acos"
    case _: Sinh => "sinh"
    case _: Cosh => "cosh"
    case _: Tanh => "tanh"
    case _: Cbrt => "cbrt"
  }

  /** Java 24 and later compute `Math.tanh` and `Math.cbrt` with JIT intrinsics, whose last
   * bits differ from `StrictMath`'s (checked on Java 25); before, `Math` delegates them to
   * `StrictMath`, as it does `atan`, `asin`, `acos`, `atan2`, `sinh`, `cosh` and `hypot` on
   * Java 17 and 25. (The driver's JVM decides, for its executors too.) */
  private lazy val mathIntrinsics: Boolean = Runtime.version().feature() >= 24

  /** A native function of one argument (`{"kind":"function"}`). */
  private def function(name: String, child: Expression, input: Seq[Attribute]): Either[String, String] =
    expr(child, input).map(c => s"""{"kind":"function","name":"$name","args":[$c]}""")

  /** Spark 4.0 negates a decimal of over 34 digits (`-d`, and `abs` of a negative one) with
   * Scala's BigDecimal, which rounds it half even to 34 significant digits (its default
   * MathContext, DECIMAL128), and fails, in legacy mode too, where that carries past the
   * precision. The native negation is exact, so these stay on Spark. */
  private def roundingNegation(dt: DataType): Boolean = dt match {
    case d: DecimalType => d.precision > 34
    case _ => false
  }

  private val wideNegation = "Spark rounds the negation of a decimal of over 34 digits to 34 " +
    "significant digits; the native negation is exact"

  /** The native form of `e` over `input`'s columns, or why it cannot go native. */
  def expr(e: Expression, input: Seq[Attribute]): Either[String, String] = e match {
    case Alias(child, _) => expr(child, input)
    case a: AttributeReference =>
      val index = input.indexWhere(_.exprId == a.exprId)
      if (index < 0) Left(s"column ${a.name} is not in the native input")
      else typeName(a.dataType).map(_ => s"""{"kind":"column","index":$index}""")
    case Literal(value, dt) =>
      for (t <- typeName(dt); v <- literalValue(value, dt))
        yield s"""{"kind":"literal","type":${str(t)},"value":$v}"""

    case Add(l, r, mode) => arithmetic("add", l, r, e.dataType, mode, input)
    case Subtract(l, r, mode) => arithmetic("subtract", l, r, e.dataType, mode, input)
    case Multiply(l, r, mode) => arithmetic("multiply", l, r, e.dataType, mode, input)
    case Divide(l, r, mode) =>
      (l.dataType, r.dataType, e.dataType) match {
        case (ld: DecimalType, rd: DecimalType, d: DecimalType) =>
          // (try_divide: null by zero and on overflow, as in legacy mode.)
          if (38 + rd.scale + d.scale > 76 || 38 + ld.scale > 76) {
            Left(s"decimal division into ${d.simpleString} needs more than 256 bits natively")
          } else {
            for (lj <- expr(l, input); rj <- expr(r, input); t <- typeName(d)) yield {
              val divide = s"""{"kind":"spark_decimal_divide","type":${str(t)},"left":$lj,"right":$rj,""" +
                s""""ansi":${mode == EvalMode.ANSI}}"""
              // Spark does not evaluate the dividend when the divisor is null: where the
              // dividend can fail, CASE keeps it from those rows.
              if (!canFail(l)) divide
              else nullWhereNull(rj, divide, t)
            }
          }
        case _ =>
          // ANSI: DIVIDE_BY_ZERO natively too (where the dividend is not null).
          // (try_divide: null by zero, as in legacy mode.)
          if (e.dataType != DoubleType) Left(s"division of ${e.dataType.simpleString} is not native yet")
          else binary("divide", l, r, e.dataType, input, ansi = mode == EvalMode.ANSI)
      }
    // div of bigints (Spark casts the other integers to bigints first).
    case IntegralDivide(l, r, mode) =>
      if (l.dataType != LongType || r.dataType != LongType) {
        Left(s"div of ${l.dataType.simpleString} is not native yet")
      } else if (mode == EvalMode.TRY) Left("div in TRY mode is not native")
      else binary("integral_divide", l, r, LongType, input, ansi = mode == EvalMode.ANSI)
    case Remainder(l, r, mode) =>
      // (try_mod: null by zero, as in legacy mode.)
      if (e.dataType.isInstanceOf[DecimalType]) Left("decimal remainder is not native yet")
      else binary("remainder", l, r, e.dataType, input, ansi = mode == EvalMode.ANSI)
    case UnaryMinus(child, _) if roundingNegation(child.dataType) => Left(wideNegation)
    case Abs(child, _) if roundingNegation(child.dataType) => Left(wideNegation)
    case UnaryMinus(child, failOnError) =>
      // ANSI: ARITHMETIC_OVERFLOW for the integer type's minimum, natively too.
      if (failOnError && isIntegral(child.dataType)) {
        expr(child, input).map(c => s"""{"kind":"negative","child":$c,"ansi":true}""")
      } else unary("negative", child, input)

    case BitwiseAnd(l, r) if isIntegral(e.dataType) => binary("bitwise_and", l, r, e.dataType, input)
    case BitwiseOr(l, r) if isIntegral(e.dataType) => binary("bitwise_or", l, r, e.dataType, input)
    case BitwiseXor(l, r) if isIntegral(e.dataType) => binary("bitwise_xor", l, r, e.dataType, input)
    // ~x is x ^ -1.
    case BitwiseNot(child) if isIntegral(e.dataType) =>
      for (c <- expr(child, input); t <- typeName(e.dataType)) yield binaryJson("bitwise_xor", t, c, literal(t, "-1"))
    // Java's shifts of an int or a long by an int (the distance modulo the width).
    case ShiftLeft(l, r) if isIntegral(e.dataType) => binary("shift_left", l, Cast(r, l.dataType), e.dataType, input)
    case ShiftRight(l, r) if isIntegral(e.dataType) => binary("shift_right", l, Cast(r, l.dataType), e.dataType, input)
    case EqualTo(l, r) => binary("eq", l, r, BooleanType, input)
    case EqualNullSafe(l, r) => binary("eq_null_safe", l, r, BooleanType, input)
    case LessThan(l, r) => binary("lt", l, r, BooleanType, input)
    case LessThanOrEqual(l, r) => binary("lt_eq", l, r, BooleanType, input)
    case GreaterThan(l, r) => binary("gt", l, r, BooleanType, input)
    case GreaterThanOrEqual(l, r) => binary("gt_eq", l, r, BooleanType, input)
    case And(l, r) => connective("and", "false", l, r, input)
    case Or(l, r) => connective("or", "true", l, r, input)
    case Not(child) => unary("not", child, input)
    case IsNull(child) if child.dataType.isInstanceOf[ArrayType] =>
      arrayExpr(child, input).map(c => s"""{"kind":"is_null","child":$c}""")
    case IsNotNull(child) if child.dataType.isInstanceOf[ArrayType] =>
      arrayExpr(child, input).map(c => s"""{"kind":"is_not_null","child":$c}""")
    case IsNull(child) => unary("is_null", child, input)
    case IsNotNull(child) => unary("is_not_null", child, input)

    // The date of a timestamp: in the session's time zone for an instant.
    case c: Cast if c.dataType == DateType && (c.child.dataType == TimestampType ||
        c.child.dataType == TimestampNTZType) =>
      val zone: Either[String, String] =
        if (c.child.dataType == TimestampNTZType) Right("")
        else if (c.timeZoneId.isEmpty) Left("a cast from timestamp to date without a time zone is not native")
        else Right(s""","zone":${str(zoneName(c.zoneId))}""")
      for (z <- zone; child <- expr(c.child, input)) yield s"""{"kind":"timestamp_to_date","child":$child$z}"""
    // A timestamp as a string: in the session's time zone for an instant.
    case c: Cast if c.dataType == StringType && (c.child.dataType == TimestampType ||
        c.child.dataType == TimestampNTZType) =>
      timePart(c.child, c.timeZoneId, c.zoneId, "string", input)
    // Strings, dates and the other kind of timestamp to a timestamp, in the session's time zone
    // (crate::timestamp: Spark's string parsing and java.time's zone rules).
    case c: Cast if (c.dataType == TimestampType && (c.child.dataType == TimestampNTZType)) ||
        (c.dataType == TimestampNTZType && c.child.dataType == TimestampType) ||
        ((c.dataType == TimestampType || c.dataType == TimestampNTZType) &&
          (c.child.dataType == StringType || c.child.dataType == DateType)) =>
      val mode = c.evalMode match {
        case EvalMode.ANSI => ""","ansi":true"""
        case EvalMode.TRY => ""","try":true"""
        case _ => ""
      }
      if (c.timeZoneId.isEmpty) Left(s"a cast to ${c.dataType.simpleString} without a time zone is not native")
      else for (child <- expr(c.child, input)) yield {
        val zone = str(zoneName(c.zoneId))
        s"""{"kind":"to_timestamp","child":$child,"ntz":${c.dataType == TimestampNTZType},"zone":$zone$mode}"""
      }
    // A date as a number or a boolean: always null (legacy mode; ANSI mode rejects the cast).
    case c: Cast if c.child.dataType == DateType && (isIntegral(c.dataType) || c.dataType == FloatType ||
        c.dataType == DoubleType || c.dataType == BooleanType || c.dataType.isInstanceOf[DecimalType]) =>
      for (child <- expr(c.child, input); t <- typeName(c.dataType)) yield
        caseWhen(s"""{"kind":"is_null","child":$child}""", literal(t, "null"), literal(t, "null"), t)
    case c: Cast =>
      for {
        _ <- castSupported(c.child.dataType, c.dataType, c.evalMode)
        child <- expr(c.child, input)
        t <- typeName(c.dataType)
      } yield {
        // try_cast: the ANSI rules with null instead of the error (crate::cast::CastMode).
        val ansi = c.evalMode match {
          case EvalMode.ANSI => ""","ansi":true"""
          case EvalMode.TRY => ""","try":true"""
          case _ => ""
        }
        // A timestamp's error messages print it in the session's time zone.
        val zone = if (c.child.dataType == TimestampType && c.timeZoneId.nonEmpty) {
          s""","zone":${str(zoneName(c.zoneId))}"""
        } else ""
        s"""{"kind":"cast","type":${str(t)},"child":$child$ansi$zone}"""
      }
    case s: org.apache.spark.sql.execution.ScalarSubquery =>
      // Spark computes the subquery before the native plan runs; CinderNativeExec puts its
      // value in place of the token then.
      typeName(s.dataType).map(t => s"""{"kind":"literal","type":${str(t)},"value":${str(subqueryToken(s))}}""")
    case In(value, list) =>
      if (!list.forall(_.foldable)) Left("IN with non-constant items is not native yet")
      else for (v <- expr(value, input); items <- seq(list.map(expr(_, input))))
        yield s"""{"kind":"in","child":$v,"list":${items.mkString("[", ",", "]")}}"""
    case InSet(value, set) =>
      val items = set.toSeq.map(v => Literal(v, value.dataType)).map(expr(_, input))
      for (v <- expr(value, input); is <- seq(items))
        yield s"""{"kind":"in","child":$v,"list":${is.mkString("[", ",", "]")}}"""
    case CaseWhen(branches, elseValue) => caseJson(branches, elseValue, typeName(e.dataType), expr(_, input), input)
    case If(predicate, t, f) => expr(CaseWhen(Seq(predicate -> t), Some(f)), input)

    case Like(child, Literal(pattern: UTF8String, _: StringType), escape) =>
      if (escape != '\\') Left(s"LIKE with escape character '$escape' is not native yet")
      else like(child, pattern.toString, input)
    // rlike, regexp, regexp_like: Java's Pattern.find, for the patterns the native side
    // translates exactly (it refuses the rest, and Spark compiles them).
    case RLike(child, Literal(pattern: UTF8String, _: StringType)) if child.dataType == StringType =>
      expr(child, input).map(c => s"""{"kind":"rlike","child":$c,"pattern":${str(pattern.toString)}}""")
    case RegExpExtract(child, Literal(pattern: UTF8String, _: StringType), Literal(index: Int, IntegerType))
        if child.dataType == StringType =>
      expr(child, input).map(c =>
        s"""{"kind":"regexp_extract","child":$c,"pattern":${str(pattern.toString)},"index":$index}""")
    // From the first character only (the default position).
    case RegExpReplace(child, Literal(pattern: UTF8String, _: StringType), Literal(replacement: UTF8String, _: StringType),
        Literal(1, IntegerType)) if child.dataType == StringType =>
      expr(child, input).map(c => s"""{"kind":"regexp_replace","child":$c,"pattern":${str(pattern.toString)},""" +
        s""""replacement":${str(replacement.toString)}}""")
    case StringTranslate(child, Literal(from: UTF8String, _: StringType), Literal(to: UTF8String, _: StringType))
        if child.dataType == StringType =>
      expr(child, input).map(c =>
        s"""{"kind":"translate","child":$c,"from":${str(from.toString)},"to":${str(to.toString)}}""")
    // Digests of a string's UTF-8 bytes (Spark's implicit cast to binary); sha2 with a constant
    // bit length it knows (others are null on Spark, and stay there).
    case Md5(Cast(s, BinaryType, _, _)) if s.dataType == StringType => function("md5", s, input)
    case Sha1(Cast(s, BinaryType, _, _)) if s.dataType == StringType => function("sha1", s, input)
    case Crc32(Cast(s, BinaryType, _, _)) if s.dataType == StringType => function("crc32", s, input)
    case Sha2(Cast(s, BinaryType, _, _), Literal(bits: Int, IntegerType))
        if s.dataType == StringType && Set(0, 224, 256, 384, 512)(bits) =>
      function(s"sha${if (bits == 0) 256 else bits}", s, input)
    // Digests of binary values' bytes.
    case Md5(b) if b.dataType == BinaryType => function("md5", b, input)
    case Sha1(b) if b.dataType == BinaryType => function("sha1", b, input)
    case Crc32(b) if b.dataType == BinaryType => function("crc32", b, input)
    case Sha2(b, Literal(bits: Int, IntegerType)) if b.dataType == BinaryType && Set(0, 224, 256, 384, 512)(bits) =>
      function(s"sha${if (bits == 0) 256 else bits}", b, input)
    case Size(child, legacyNull) if child.dataType.isInstanceOf[ArrayType] =>
      arrayFunction(s"""{"name":"size","legacy_null":$legacyNull}""", child, Nil, IntegerType, input)
    case g: GetArrayItem if typeName(g.dataType).isRight => arrayElement(g, input)
    case a: ElementAt if a.left.dataType.isInstanceOf[ArrayType] && typeName(a.dataType).isRight =>
      arrayElement(a, input)
    case ArrayContains(array, value) if typeName(value.dataType).isRight =>
      arrayFunction("""{"name":"contains"}""", array, Seq(value), BooleanType, input)
    case m: ArrayMax if typeName(m.dataType).isRight =>
      arrayFunction("""{"name":"max"}""", m.child, Nil, m.dataType, input)
    case m: ArrayMin if typeName(m.dataType).isRight =>
      arrayFunction("""{"name":"min"}""", m.child, Nil, m.dataType, input)
    case ArrayPosition(array, v) if flat(array) =>
      arrayFunction("""{"name":"position"}""", array, Seq(v), LongType, input)
    case ArraysOverlap(a, b) if flat(a) => arrayFunction("""{"name":"overlap"}""", a, Seq(b), BooleanType, input)
    case f @ (_: ArrayPosition | _: ArraysOverlap) => Left(s"${f.prettyName} of arrays of arrays is not native yet")
    // Spark's generated code evaluates the null replacement first (on every row), then the
    // array, then the delimiter. (Its interpreted eval, where code generation fails, reads the
    // array first.)
    case ArrayJoin(array, delimiter, replacement) =>
      arrayFunction("""{"name":"join"}""", array, delimiter +: replacement.toSeq, StringType, input,
        evaluation = replacement.map(_ => Seq(2, 0, 1)))
    case StartsWith(child, Literal(prefix: UTF8String, _: StringType)) =>
      like(child, escapeLike(prefix.toString) + "%", input)
    case EndsWith(child, Literal(suffix: UTF8String, _: StringType)) =>
      like(child, "%" + escapeLike(suffix.toString), input)
    case Contains(child, Literal(part: UTF8String, _: StringType)) =>
      like(child, "%" + escapeLike(part.toString) + "%", input)
    case Substring(child, Literal(pos: Int, IntegerType), Literal(len: Int, IntegerType))
        if child.dataType == StringType =>
      expr(child, input).map(c => s"""{"kind":"substring","child":$c,"pos":$pos,"len":$len}""")
    // The local time of a timestamp: in the session's time zone for an instant.
    // Spark evaluates each argument only where those before it are null; so does a CASE.
    case Coalesce(children) if children.nonEmpty =>
      for (cs <- seq(children.map(expr(_, input))); t <- typeName(e.dataType)) yield
        cs.init.foldRight(cs.last)((c, rest) => caseWhen(s"""{"kind":"is_not_null","child":$c}""", c, rest, t))
    // Spark's normalisation of float keys (grouping, joins, window partitions): -0.0 as 0.0,
    // every NaN the same.
    case KnownFloatingPointNormalized(child) => expr(child, input)
    case org.apache.spark.sql.catalyst.optimizer.NormalizeNaNAndZero(child) =>
      function("normalize_nan_and_zero", child, input)
    case Abs(child, failOnError) =>
      child.dataType match {
        // Integers: the type's minimum wraps (legacy) or fails (ANSI), as its negation does.
        case ByteType | ShortType | IntegerType | LongType =>
          for (c <- expr(child, input); t <- typeName(child.dataType)) yield {
            val negative = s"""{"kind":"negative","child":$c${if (failOnError) ""","ansi":true""" else ""}}"""
            caseWhen(binaryJson("lt", "boolean", c, literal(t, "0")), negative, c, t)
          }
        case FloatType | DoubleType | _: DecimalType => function("abs", child, input)
        case other => Left(s"abs of ${other.simpleString} is not native")
      }
    case Round(child, scale, ansi) => round("round", child, scale, "half_up", ansi, e.dataType, input)
    case BRound(child, scale, ansi) => round("bround", child, scale, "half_even", ansi, e.dataType, input)
    case Floor(child) => floorCeil("floor", child, "floor", e.dataType, input)
    case Ceil(child) => floorCeil("ceil", child, "ceiling", e.dataType, input)
    // hash(): Spark's Murmur3 of the values, as the native shuffle partitions by it.
    // (An untyped NULL never changes the hash.)
    case Murmur3Hash(all, seed) if all.forall(c => c.dataType == NullType || hashable(c.dataType)) =>
      seq(all.filter(_.dataType != NullType).map(expr(_, input))).map(cs =>
        s"""{"kind":"spark_hash","args":${cs.mkString("[", ",", "]")},"seed":$seed}""")
    // xxhash64(): Spark's XXH64 of the values, by the same rules.
    case XxHash64(all, seed) if all.forall(c => c.dataType == NullType || hashable(c.dataType)) =>
      seq(all.filter(_.dataType != NullType).map(expr(_, input))).map(cs =>
        s"""{"kind":"spark_xxhash64","args":${cs.mkString("[", ",", "]")},"seed":$seed}""")
    case Greatest(children) => greatest(children, least = false, e.dataType, input)
    case Least(children) => greatest(children, least = true, e.dataType, input)
    // Functions of doubles with Math's and StrictMath's results, bit for bit (the logarithms
    // null at or below their asymptote).
    case e @ (_: Sin | _: Cos | _: Tan | _: Cot | _: Sec | _: Csc) =>
      Left(s"${e.prettyName.toLowerCase(java.util.Locale.ROOT)} is java.lang.Math's, which HotSpot computes " +
        "with intrinsics whose last bits depend on the JVM and the processor")
    case e @ (_: Tanh | _: Cbrt) if mathIntrinsics =>
      Left(s"${e.prettyName.toLowerCase(java.util.Locale.ROOT)} is java.lang.Math's, which Java " +
        s"${Runtime.version().feature()} computes with an intrinsic whose last bits differ from StrictMath's")
    case e: UnaryMathExpression if e.child.dataType == DoubleType && unaryMath.isDefinedAt(e) =>
      function(unaryMath(e), e.child, input)
    case Pow(x, y) if x.dataType == DoubleType && y.dataType == DoubleType =>
      nullIntolerantFunction("pow", Seq(x, y), DoubleType, input)
    case Atan2(y, x) if y.dataType == DoubleType && x.dataType == DoubleType =>
      nullIntolerantFunction("atan2", Seq(y, x), DoubleType, input)
    case Hypot(x, y) if x.dataType == DoubleType && y.dataType == DoubleType =>
      nullIntolerantFunction("hypot", Seq(x, y), DoubleType, input)
    // log(x) is Logarithm(e, x): StrictMath.log(e) is 1.0, so ln(x) gives the same bits.
    case Logarithm(_: EulerNumber, x) if x.dataType == DoubleType => function("ln", x, input)
    case Logarithm(base, x) if base.dataType == DoubleType && x.dataType == DoubleType =>
      nullIntolerantFunction("log", Seq(base, x), DoubleType, input)
    // Spark evaluates every argument of concat_ws; it skips null strings, and null arrays (an
    // untyped NULL argument is one).
    case ConcatWs(sep +: all) if sep.dataType == StringType && all.forall {
          case Literal(null, ArrayType(StringType, _)) => true
          case a => a.dataType == StringType
        } =>
      val strings = all.filter(_.dataType == StringType)
      if (strings.isEmpty) {
        expr(sep, input).map(sj => caseWhen(s"""{"kind":"is_null","child":$sj}""", literal("string", "null"),
          literal("string", str("")), "string"))
      } else {
        seq((sep +: strings).map(expr(_, input))).map(cs =>
          s"""{"kind":"function","name":"concat_ws","args":${cs.mkString("[", ",", "]")}}""")
      }
    // UTF8String.replace keeps the string for an empty search string; DataFusion's replace would
    // insert the replacement between characters.
    case StringReplace(src, search, replacement)
        if Seq(src, search, replacement).forall(_.dataType == StringType) =>
      search match {
        case Literal(s: UTF8String, _) if s.numBytes() > 0 =>
          nullIntolerantFunction("replace", Seq(src, search, replacement), StringType, input)
        case _ if canFail(search) || canFail(replacement) =>
          Left("replace with a search string that is not a constant and an argument that can fail is not native")
        case _ =>
          for {
            call <- nullIntolerantFunction("replace", Seq(src, search, replacement), StringType, input)
            sj <- expr(src, input)
            searchJ <- expr(search, input)
            rj <- expr(replacement, input)
          } yield {
            val empty = binaryJson("and", "boolean",
              binaryJson("eq", "boolean", s"""{"kind":"function","name":"char_length","args":[$searchJ]}""",
                literal("int", "0")),
              s"""{"kind":"is_not_null","child":$rj}""")
            caseWhen(empty, sj, call, "string")
          }
      }
    case StringLPad(str, len, pad) if str.dataType == StringType && pad.dataType == StringType =>
      nullIntolerantFunction("spark_lpad", Seq(str, len, pad), StringType, input)
    case StringRPad(str, len, pad) if str.dataType == StringType && pad.dataType == StringType =>
      nullIntolerantFunction("spark_rpad", Seq(str, len, pad), StringType, input)
    // UTF8String.subStringIndex: byte searches, each one byte past the last match.
    case SubstringIndex(str, delim, count)
        if str.dataType == StringType && delim.dataType == StringType && count.dataType == IntegerType =>
      nullIntolerantFunction("spark_substring_index", Seq(str, delim, count), StringType, input)
    case Reverse(child) if child.dataType == StringType => function("reverse", child, input)
    case Ascii(child) if child.dataType == StringType => function("ascii", child, input)
    case OctetLength(child) if child.dataType == StringType => function("octet_length", child, input)
    case StringInstr(str, substr) if str.dataType == StringType && substr.dataType == StringType =>
      nullIntolerantFunction("strpos", Seq(str, substr), IntegerType, input)
    // locate(substr, str) (from the first character) is instr(str, substr); Spark evaluates the
    // string only where the substring is not null.
    case StringLocate(substr, str, Literal(1, IntegerType))
        if str.dataType == StringType && substr.dataType == StringType =>
      for (subJ <- expr(substr, input); strJ <- expr(str, input)) yield {
        val call = s"""{"kind":"function","name":"strpos","args":[$strJ,$subJ]}"""
        if (!canFail(str)) call
        else nullWhereNull(subJ, call, "int")
      }
    case Upper(child) if child.dataType == StringType => function("upper", child, input)
    case Lower(child) if child.dataType == StringType => function("lower", child, input)
    case Length(child) if child.dataType == StringType => function("char_length", child, input)
    case StringTrim(child, None) if child.dataType == StringType => function("btrim", child, input)
    case StringTrimLeft(child, None) if child.dataType == StringType => function("ltrim", child, input)
    case StringTrimRight(child, None) if child.dataType == StringType => function("rtrim", child, input)
    // With a trim string: the characters (code points) in it, as UTF8String.trim(trimString);
    // Spark evaluates the trim string only where the string is not null.
    case StringTrim(child, Some(chars)) if child.dataType == StringType && chars.dataType == StringType =>
      nullIntolerantFunction("btrim", Seq(child, chars), StringType, input)
    case StringTrimLeft(child, Some(chars)) if child.dataType == StringType && chars.dataType == StringType =>
      nullIntolerantFunction("ltrim", Seq(child, chars), StringType, input)
    case StringTrimRight(child, Some(chars)) if child.dataType == StringType && chars.dataType == StringType =>
      nullIntolerantFunction("rtrim", Seq(child, chars), StringType, input)
    // isnan(null) is false in Spark.
    case IsNaN(child) if child.dataType == FloatType || child.dataType == DoubleType =>
      for (c <- expr(child, input)) yield
        caseWhen(s"""{"kind":"is_null","child":$c}""", literal("boolean", "false"),
          s"""{"kind":"function","name":"isnan","args":[$c]}""", "boolean")
    case Concat(children) if children.nonEmpty && children.forall(_.dataType == StringType) =>
      seq(children.map(expr(_, input))).map(_.reduceLeft((a, b) => binaryJson("concat", "string", a, b)))
    // date_format with a constant pattern, in the session's time zone (the native side refuses
    // the pattern letters it does not print as java.time does).
    case d @ DateFormatClass(child, Literal(pattern: UTF8String, _: StringType), Some(_))
        if child.dataType == TimestampType =>
      dateFormat("date_format", child, seconds = false, pattern.toString, d.zoneId, input)
    // from_unixtime: the seconds times 10^6 as a Java long (wrapping), then formatted alike.
    case f @ FromUnixTime(seconds, Literal(pattern: UTF8String, _: StringType), Some(_))
        if seconds.dataType == LongType =>
      dateFormat("from_unixtime", seconds, seconds = true, pattern.toString, f.zoneId, input)
    // A timestamp as a count since the epoch: unix_timestamp divides its micros as Java's `/`
    // does (toward zero); unix_seconds and unix_millis floor.
    case m @ MonthsBetween(t1, t2, Literal(roundOff: Boolean, BooleanType), Some(_))
        if t1.dataType == TimestampType && t2.dataType == TimestampType =>
      val zone = zoneName(m.zoneId)
      for (l <- expr(t1, input); r <- expr(t2, input)) yield
        s"""{"kind":"months_between","left":$l,"right":$r,"round_off":$roundOff,"zone":${str(zone)}}"""
    // from_utc_timestamp and to_utc_timestamp with a constant zone that Spark accepts (else it
    // raises INVALID_TIMEZONE, on Spark).
    case FromUTCTimestamp(child, Literal(zone: UTF8String, _: StringType)) if child.dataType == TimestampType =>
      utcConvert("from_utc_timestamp", child, zone.toString, toUtc = false, input)
    case ToUTCTimestamp(child, Literal(zone: UTF8String, _: StringType)) if child.dataType == TimestampType =>
      utcConvert("to_utc_timestamp", child, zone.toString, toUtc = true, input)
    // Strings parsed with a constant pattern: to_timestamp, try_to_timestamp, to_date (a cast of
    // to_timestamp's), to_timestamp_ntz, unix_timestamp and to_unix_timestamp.
    case g: GetTimestamp if g.left.dataType == StringType && g.dataType == TimestampType =>
      parseTimestamp(g, "timestamp", input)
    case g: GetTimestamp if g.left.dataType == StringType && g.dataType == TimestampNTZType =>
      parseTimestamp(g, "timestamp_ntz", input)
    case u: UnixTimestamp if u.timeExp.dataType == StringType => parseTimestamp(u, "unix_seconds", input)
    case u: ToUnixTimestamp if u.timeExp.dataType == StringType => parseTimestamp(u, "unix_seconds", input)
    case u: UnixTimestamp => unixTimestamp(u.timeExp, u.timeZoneId, input)
    case u: ToUnixTimestamp => unixTimestamp(u.timeExp, u.timeZoneId, input)
    case UnixSeconds(child) if child.dataType == TimestampType => function("unix_seconds", child, input)
    case UnixMillis(child) if child.dataType == TimestampType => function("unix_millis", child, input)
    case UnixMicros(child) if child.dataType == TimestampType => function("unix_micros", child, input)
    case h: Hour => timePart(h.child, h.timeZoneId, h.zoneId, "hour", input)
    case m: Minute => timePart(m.child, m.timeZoneId, m.zoneId, "minute", input)
    case s: Second => timePart(s.child, s.timeZoneId, s.zoneId, "second", input)
    case DayName(child) if child.dataType == DateType =>
      expr(child, input).map(c => s"""{"kind":"date_name","child":$c}""")
    case MonthName(child) if child.dataType == DateType =>
      expr(child, input).map(c => s"""{"kind":"date_name","child":$c,"month":true}""")
    // next_day with a constant day the native side knows (it refuses the rest, which Spark
    // rejects: null, or ILLEGAL_DAY_OF_WEEK in ANSI mode).
    case NextDay(start, Literal(day: UTF8String, _: StringType), _) if start.dataType == DateType =>
      expr(start, input).map(c => s"""{"kind":"next_day","child":$c,"day":${str(day.toString)}}""")
    case Year(child) => datePart(child, "year", input)
    case Month(child) => datePart(child, "month", input)
    case DayOfMonth(child) => datePart(child, "day", input)
    case Quarter(child) => datePart(child, "quarter", input)
    case DayOfWeek(child) => datePart(child, "dayofweek", input)
    case WeekDay(child) => datePart(child, "weekday", input)
    case DayOfYear(child) => datePart(child, "dayofyear", input)
    case WeekOfYear(child) => datePart(child, "weekofyear", input)
    // trunc(date, fmt) and date_trunc(fmt, ts) with a constant level (Spark's parseTruncLevel);
    // an unknown level (null in Spark) stays on Spark.
    case t: TruncDate => trunc(t.date, t.format, "UTC", date = true, input)
    case t: TruncTimestamp if t.timestamp.dataType == TimestampType && t.timeZoneId.nonEmpty =>
      trunc(t.timestamp, t.format, zoneName(t.zoneId), date = false, input)
    // Date arithmetic on the days since 1970-01-01, an int that wraps as Spark's does.
    case DateAdd(start, days) => dateArithmetic("add", start, days, DateType, input)
    case DateSub(start, days) => dateArithmetic("subtract", start, days, DateType, input)
    case DateDiff(end, start) => dateArithmetic("subtract", end, start, IntegerType, input)
    // add_months and last_day as java.time's LocalDate moves months (crate::datetime::SparkMonthShift).
    case AddMonths(start, months) if start.dataType == DateType && months.dataType == IntegerType =>
      for (d <- expr(start, input); m <- expr(months, input)) yield {
        val json = monthShift(d, s""","months":$m""")
        // Spark evaluates the months only where the date is not null.
        if (!canFail(months)) json
        else nullWhereNull(d, json, "date")
      }
    case LastDay(start) if start.dataType == DateType =>
      expr(start, input).map(d => monthShift(d, ""","last_day":true"""))
    // Constant intervals added to timestamps and dates (`ts + INTERVAL ...`, `date - INTERVAL ...`)
    // as java.time moves them (crate::interval); timestamps without a time zone move in UTC.
    case t @ TimeAdd(start, Literal(micros: Long, _: DayTimeIntervalType), _) if t.timeZoneId.nonEmpty =>
      val days = micros / MicrosPerDay
      intervalAdd(start, 0, days, micros - days * MicrosPerDay, intervalZone(start, t.zoneId), input)
    case t @ TimeAdd(start, Literal(i: CalendarInterval, CalendarIntervalType), _) if t.timeZoneId.nonEmpty =>
      intervalAdd(start, i.months, i.days, i.microseconds, intervalZone(start, t.zoneId), input)
    case t @ TimestampAddYMInterval(start, Literal(months: Int, _: YearMonthIntervalType), _)
        if t.timeZoneId.nonEmpty =>
      intervalAdd(start, months, 0, 0, intervalZone(start, t.zoneId), input)
    case DateAddYMInterval(start, Literal(months: Int, _: YearMonthIntervalType)) =>
      intervalAdd(start, months, 0, 0, "UTC", input)
    case d @ DateAddInterval(start, Literal(i: CalendarInterval, CalendarIntervalType), _, ansi)
        if d.timeZoneId.nonEmpty =>
      // In ANSI mode Spark fails such an interval for every date (INVALID_INTERVAL_WITH_MICROSECONDS_ADDITION).
      if (ansi && i.microseconds != 0) Left("a date plus an interval with hours, minutes or seconds stays on Spark in ANSI mode")
      else intervalAdd(start, i.months, i.days, i.microseconds, zoneName(d.zoneId), input)
    // timestampadd(unit, quantity, ts): Spark evaluates the timestamp only where the quantity is
    // not null.
    case t @ TimestampAdd(unit, quantity, start, _) if t.timeZoneId.nonEmpty =>
      for (q <- expr(quantity, input); ts <- expr(start, input)) yield {
        val json = s"""{"kind":"timestamp_add","unit":${str(unit)},"quantity":$q,"child":$ts,""" +
          s""""zone":${str(intervalZone(start, t.zoneId))}}"""
        if (!canFail(start)) json
        else nullWhereNull(q, json, if (start.dataType == TimestampNTZType) "timestamp_ntz" else "timestamp")
      }
    // timestampdiff(unit, start, end), of the local date-times: Spark evaluates the end only
    // where the start is not null.
    case t @ TimestampDiff(unit, start, end, _) if t.timeZoneId.nonEmpty && start.dataType == end.dataType =>
      for (s <- expr(start, input); e <- expr(end, input)) yield {
        val json = s"""{"kind":"timestamp_diff","unit":${str(unit)},"start":$s,"end":$e,""" +
          s""""zone":${str(intervalZone(start, t.zoneId))}}"""
        if (!canFail(end)) json else nullWhereNull(s, json, "bigint")
      }
    case e @ (_: TimeAdd | _: TimestampAddYMInterval | _: DateAddYMInterval | _: DateAddInterval) =>
      Left(s"${e.getClass.getSimpleName} of an interval that is not a constant is not supported natively yet")

    case other => Left(s"expression ${other.prettyName} (${other.getClass.getSimpleName}) is not supported natively yet")
  }
}
