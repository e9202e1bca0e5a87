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

  /**
   * Whether this input hands over a native shuffle's blocks ({@link #nextBlock()}) instead of
   * Arrow Java buffers ({@link #next()}). Asked once, when the plan is created.
   */
  default boolean blocks() {
    return false;
  }

  /**
   * The next block of a native shuffle, as its map side wrote it, or null at the end (only
   * when {@link #blocks()} is true).
   */
  default byte[] nextBlock() {
    throw new UnsupportedOperationException("this input hands over Arrow buffers, not blocks");
  }
}
