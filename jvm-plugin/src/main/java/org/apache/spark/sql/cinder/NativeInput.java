package org.apache.spark.sql.cinder;

/**
 * Batches a native plan's {@code input} leaf pulls from Spark. The native side calls
 * {@link #next()} on the task's thread and copies the described buffers before it returns.
 */
public interface NativeInput {
  /**
   * The next batch's description (rows, columns, then per column null count, buffer count and
   * per buffer address, length, 0), or null at the end. The buffers stay valid until the next
   * call.
   */
  long[] next();
}
