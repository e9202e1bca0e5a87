package org.apache.spark.sql.cinder

import java.util.regex.Pattern

import org.apache.spark.{QueryContext, SparkArithmeticException, SparkDateTimeException, SparkNumberFormatException,
  SparkRuntimeException, SparkThrowableHelper}

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
 * class's template stays the `RuntimeException` it was.
 */
private[cinder] object NativeErrors {
  private val Execution = "cinder: execution failed: "
  private val ErrorClass = Pattern.compile("""\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\] """)
  private val Parameter = Pattern.compile("<([a-zA-Z0-9_-]+)>")
  private val SqlState = Pattern.compile("""(?s)(.*?) SQLSTATE: [0-9A-Z]{5}\s*""")

  /** The Spark exception `e` (from the native side) stands for, or `e`. */
  def toSpark(e: RuntimeException): RuntimeException = {
    val message = Option(e.getMessage).getOrElse("")
    if (e.getClass != classOf[RuntimeException] || !message.startsWith(Execution)) return e
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
      case _ => new SparkRuntimeException(errorClass, params, null, context, "")
    }
  }
}
