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

  /**
   * Names this input's rows when every task of this process that reads an input with the same
   * key reads the same rows (a broadcast), so that the native side may keep what it builds
   * from them (a join's hash table) for the next task, which then never reads its input; null
   * (the default) when the rows are this task's own. Asked once, when the plan is created.
   */
  default String shareKey() {
    return null;
  }
}
