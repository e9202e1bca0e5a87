package org.apache.spark.sql.cinder

import java.util.{Collections, Map => JMap}

import org.apache.spark.SparkContext
import org.apache.spark.api.plugin.{DriverPlugin, ExecutorPlugin, PluginContext, SparkPlugin}
import org.apache.spark.internal.Logging
import org.apache.spark.sql.SparkSessionExtensions

/**
 * The drop-in entry point: `--conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin`.
 *
 * The driver side loads the native library (so a missing or broken one fails at start, not in
 * the first task) and registers [[CinderExtensions]] in `spark.sql.extensions`, so sessions
 * created afterwards carry Cinder's columnar rule. Executors load the library at start.
 */
class CinderPlugin extends SparkPlugin {
  override def driverPlugin(): DriverPlugin = new CinderDriverPlugin
  override def executorPlugin(): ExecutorPlugin = new CinderExecutorPlugin
}

private[cinder] class CinderDriverPlugin extends DriverPlugin with Logging {
  override def init(sc: SparkContext, ctx: PluginContext): JMap[String, String] = {
    NativeBridge.load()
    logInfo(s"cinder: loaded ${NativeBridge.version()}")
    val key = "spark.sql.extensions"
    val extension = classOf[CinderExtensions].getName
    val existing = sc.conf.getOption(key).map(_.split(",").map(_.trim).filter(_.nonEmpty).toSeq)
      .getOrElse(Seq.empty)
    if (!existing.contains(extension)) {
      sc.conf.set(key, (existing :+ extension).mkString(","))
    }
    Collections.emptyMap()
  }
}

private[cinder] class CinderExecutorPlugin extends ExecutorPlugin {
  override def init(ctx: PluginContext, extraConf: JMap[String, String]): Unit = NativeBridge.load()
}

/** Adds Cinder's columnar rule to a session (also usable alone via `spark.sql.extensions`). */
class CinderExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    extensions.injectColumnar(session => CinderColumnarRule(session))
  }
}
