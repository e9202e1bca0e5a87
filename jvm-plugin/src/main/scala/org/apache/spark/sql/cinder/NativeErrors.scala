package org.apache.spark.sql.cinder

import java.nio.charset.StandardCharsets
import java.text.ParseException
import java.time.{DateTimeException, ZoneId}
import java.util.regex.Pattern

import org.apache.spark.{QueryContext, SparkArithmeticException, SparkArrayIndexOutOfBoundsException, SparkDateTimeException, SparkIllegalArgumentException,
  SparkNumberFormatException, SparkRuntimeException, SparkThrowableHelper}
import org.apache.spark.sql.catalyst.util.{LegacyDateFormats, TimestampFormatter}
import org.apache.spark.sql.errors.QueryExecutionErrors

/**
 * Spark's own exceptions for the native side's errors that carry a Spark error class.
 *
 * The native side words the errors Spark raises in ANSI mode as Spark does (`[ARITHMETIC_OVERFLOW]
 * integer overflow. ... SQLSTATE: 22003`) and the JNI bridge throws them as `RuntimeException`s. Here
 * each becomes the exception Spark itself throws for that error (`SparkArithmeticException`,
 * `SparkNumberFormatException`, `SparkDateTimeException`, `SparkRuntimeException`), with the error
 * class, the message parameters (read back from the message by the class's template) and so the
 * SQLSTATE. Applications that catch Spark's exceptions, pyspark's exception conversion and Spark's
 * own error reporting then see what they see without the plugin. A message that does not fit its
 * class's template stays the `RuntimeException` it was. Where Spark's code overflows in `Math`'s exact
 * arithmetic (`long overflow`, `integer overflow`, in either mode), the error is Java's
 * `ArithmeticException`, as there.
 */
private[cinder] object NativeErrors {
  private val Execution = "cinder: execution failed: "
  private val ErrorClass = Pattern.compile("""\[(_?[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\] """)
  private val Parameter = Pattern.compile("<([a-zA-Z0-9_-]+)>")
  /** A timestampadd that overflows (interval.rs): the timestamp's micros, the quantity, the unit. */
  private val TimestampAddOverflow = Pattern.compile("cinder-timestampadd-overflow:(-?[0-9]+):(-?[0-9]+):([A-Za-z]+)")
  private val JavaArithmetic = Pattern.compile("""java\.lang\.ArithmeticException: (integer overflow|long overflow) \(""")
  private val SqlState = Pattern.compile("""(?s)(.*?) SQLSTATE: [0-9A-Z]{5}\s*""")

  /** The Spark exception `e` (from the native side) stands for, or `e`. */
  def toSpark(e: RuntimeException): RuntimeException = {
    val message = Option(e.getMessage).getOrElse("")
    if (e.getClass != classOf[RuntimeException] || !message.startsWith(Execution)) return e
    val reparse = Reparse.matcher(message)
    if (reparse.find()) {
      def text(group: Int) = {
        val hex = reparse.group(group)
        val bytes = Array.tabulate(hex.length / 2)(i => Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16).toByte)
        new String(bytes, StandardCharsets.UTF_8)
      }
      return reparsed(reparse.group(1), reparse.group(2).toBoolean, text(3), text(4), text(5), text(6), e)
    }
    val timestampAdd = TimestampAddOverflow.matcher(message)
    if (timestampAdd.find()) {
      val error = QueryExecutionErrors.timestampAddOverflowError(timestampAdd.group(1).toLong,
        timestampAdd.group(2).toLong, timestampAdd.group(3))
      error.addSuppressed(e)
      return error
    }
    // Math's exact arithmetic in Spark's own code (crate::error::java_arithmetic), in either mode.
    val arithmetic = JavaArithmetic.matcher(message)
    if (arithmetic.find()) {
      val error = new ArithmeticException(arithmetic.group(1))
      error.addSuppressed(e)
      return error
    }
    val classes = ErrorClass.matcher(message)
    while (classes.find()) {
      val errorClass = classes.group(1)
      if (SparkThrowableHelper.isValidErrorClass(errorClass)) {
        return parameters(errorClass, message.substring(classes.end())) match {
          case Some(params) =>
            val spark = exception(errorClass, params)
            spark.addSuppressed(e)
            spark
          case None => e
        }
      }
    }
    e
  }

  /**
   * The message parameters of `errorClass` that give `text` (the message after `[CLASS] `, up to an
   * optional SQLSTATE), if its template gives it.
   */
  private[cinder] def parameters(errorClass: String, text: String): Option[Map[String, String]] = {
    val body = {
      val m = SqlState.matcher(text)
      if (m.matches()) m.group(1) else text.stripTrailing()
    }
    val template = SparkThrowableHelper.errorReader.getMessageTemplate(errorClass)
    val regex = new StringBuilder("(?s)")
    val names = Seq.newBuilder[String]
    val placeholders = Parameter.matcher(template)
    var at = 0
    while (placeholders.find()) {
      regex.append(Pattern.quote(template.substring(at, placeholders.start()))).append("(.*?)")
      names += placeholders.group(1)
      at = placeholders.end()
    }
    regex.append(Pattern.quote(template.substring(at)))
    val m = Pattern.compile(regex.toString).matcher(body)
    if (!m.matches()) return None
    val found = names.result().zipWithIndex.map { case (name, i) => name -> m.group(i + 1) }
    // A parameter the template names twice must have one value.
    if (found.groupBy(_._1).exists(_._2.map(_._2).distinct.size > 1)) None else Some(found.toMap)
  }

  /** The native side's marker of a string whose parse Spark's parser must redo (timestamp_parse.rs). */
  private val Reparse = Pattern.compile("cinder-reparse-timestamp:(timestamp|timestamp_ntz|unix_seconds):" +
    "(true|false):([0-9a-f]*):([0-9a-f]*):([0-9a-f]*):([0-9a-f]*)")

  /**
   * What Spark throws for `text`, which the native parse with `pattern` (to_timestamp,
   * unix_timestamp...) rejected: the text parsed again by Spark's own formatter, as
   * `ToTimestamp.eval` parses it, so the error is Spark's, java.time's message included
   * (`CANNOT_PARSE_TIMESTAMP` in ANSI mode; an `ArithmeticException` where the microseconds
   * overflow a long, in either mode).
   */
  private def reparsed(output: String, failOnError: Boolean, pattern: String, zone: String, suggested: String,
      text: String, native: RuntimeException): RuntimeException = {
    val ntz = output == "timestamp_ntz"
    val error: RuntimeException =
      try {
        val formatter = TimestampFormatter(pattern, ZoneId.of(zone), LegacyDateFormats.SIMPLE_DATE_FORMAT, true, ntz)
        if (ntz) formatter.parseWithoutTimeZone(text) else formatter.parse(text)
        disagreement(text, pattern, "succeeds")
      } catch {
        case p: DateTimeException if failOnError => QueryExecutionErrors.ansiDateTimeParseError(p, suggested)
        case p: ParseException if failOnError => QueryExecutionErrors.ansiDateTimeParseError(p, suggested)
        case _: DateTimeException | _: ParseException => disagreement(text, pattern, "gives null")
        case r: ArithmeticException => r
      }
    error.addSuppressed(native)
    error
  }

  private def disagreement(text: String, pattern: String, spark: String) =
    new IllegalStateException(s"cinder: the native parse of '$text' with the pattern '$pattern' failed where " +
      s"Spark's $spark")

  private val Arithmetic = Set("ARITHMETIC_OVERFLOW", "BINARY_ARITHMETIC_OVERFLOW", "DIVIDE_BY_ZERO",
    "REMAINDER_BY_ZERO", "CAST_OVERFLOW", "NUMERIC_VALUE_OUT_OF_RANGE", "NUMERIC_OUT_OF_SUPPORTED_RANGE",
    "DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION", "INTERVAL_ARITHMETIC_OVERFLOW", "INTERVAL_DIVIDED_BY_ZERO")

  /** The exception Spark 4.0 throws for `errorClass` (QueryExecutionErrors' choices). */
  private def exception(errorClass: String, params: Map[String, String]): RuntimeException = {
    val context = Array.empty[QueryContext]
    errorClass.takeWhile(_ != '.') match {
      case "CAST_INVALID_INPUT" => params.getOrElse("targetType", "") match {
        // invalidInputInCastToDatetimeError
        case t if t.startsWith("\"DATE") || t.startsWith("\"TIMESTAMP") =>
          new SparkDateTimeException(errorClass, params, context, "")
        // invalidInputSyntaxForBooleanError
        case "\"BOOLEAN\"" => new SparkRuntimeException(errorClass, params, null, context, "")
        // invalidInputInCastToNumberError
        case _ => new SparkNumberFormatException(errorClass, params, context, "")
      }
      case c if Arithmetic(c) => new SparkArithmeticException(errorClass, params, context, "")
      case c if c.startsWith("DATETIME_") => new SparkDateTimeException(errorClass, params, context, "")
      // invalidArrayIndexError, invalidElementAtIndexError
      case "INVALID_ARRAY_INDEX" | "INVALID_ARRAY_INDEX_IN_ELEMENT_AT" =>
        new SparkArrayIndexOutOfBoundsException(errorClass, params, context, "")
      // negativeValueUnexpectedError (percentile's frequency)
      case "NEGATIVE_VALUES_IN_FREQUENCY_EXPRESSION" => new SparkIllegalArgumentException(errorClass, params)
      // sequence's boundaries (Sequence.sequenceLength's check).
      case "_LEGACY_ERROR_TEMP_3243" => new SparkIllegalArgumentException(errorClass, params)
      case _ => new SparkRuntimeException(errorClass, params, null, context, "")
    }
  }
}
