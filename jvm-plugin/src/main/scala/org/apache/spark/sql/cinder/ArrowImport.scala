package org.apache.spark.sql.cinder

import scala.jdk.CollectionConverters._

import org.apache.arrow.memory.{ArrowBuf, BufferAllocator, ForeignAllocation}
import org.apache.arrow.vector.FieldVector
import org.apache.arrow.vector.ipc.message.ArrowFieldNode
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.util.ArrowUtils
import org.apache.spark.sql.vectorized.{ArrowColumnVector, ColumnVector, ColumnarBatch}

/** Native memory seen by Arrow Java; freed natively when Arrow releases its last reference. */
private[cinder] final class NativeAllocation(size: Long, address: Long, handle: Long)
  extends ForeignAllocation(size, address) {
  override protected def release0(): Unit = NativeBridge.releaseBuffer(handle)
}

/** Builds Spark batches over native buffers described by `NativeBridge.nextBatch`. */
private[cinder] object ArrowImport {
  lazy val allocator: BufferAllocator =
    ArrowUtils.rootAllocator.newChildAllocator("cinder-native", 0, Long.MaxValue)

  /** A batch over the buffers of `d`; the batch owns them (closing it releases each once). */
  def batch(schema: StructType, d: Array[Long]): ColumnarBatch = {
    val rows = Math.toIntExact(d(0))
    val columns = Math.toIntExact(d(1))
    // (null count, [(address, length, handle)]) per column.
    val layout = scala.collection.mutable.ArrayBuffer.empty[(Long, Seq[(Long, Long, Long)])]
    var i = 2
    for (_ <- 0 until columns) {
      val count = Math.toIntExact(d(i + 1))
      layout += d(i) -> (0 until count).map(b => (d(i + 2 + 3 * b), d(i + 3 + 3 * b), d(i + 4 + 3 * b)))
      i += 2 + 3 * count
    }
    val handles = layout.flatMap(_._2.map(_._3)).filter(_ != 0)
    // Take ownership of every buffer before anything else can fail: from here on, each
    // handle is released exactly once, by Arrow (wrapped) or below (not wrapped yet).
    val wrapped = scala.collection.mutable.ArrayBuffer.empty[Seq[ArrowBuf]]
    var wrappedHandles = 0
    try {
      for ((_, bufs) <- layout) {
        val column = scala.collection.mutable.ArrayBuffer.empty[ArrowBuf]
        try {
          for ((address, length, handle) <- bufs) {
            if (handle == 0) column += allocator.getEmpty
            else {
              try column += allocator.wrapForeignAllocation(new NativeAllocation(length, address, handle))
              catch {
                // Arrow releases the allocation itself when wrapping fails past its limit
                // check; only an OutOfMemoryException leaves the handle to us.
                case e: Throwable if !e.isInstanceOf[org.apache.arrow.memory.OutOfMemoryException] =>
                  wrappedHandles += 1
                  throw e
              }
              wrappedHandles += 1
            }
          }
        } finally {
          // Also on failure, so the buffers wrapped so far are released below.
          wrapped += column.toSeq
        }
      }
    } catch {
      case e: Throwable =>
        handles.drop(wrappedHandles).foreach(h => scala.util.Try(NativeBridge.releaseBuffer(h)))
        wrapped.foreach(_.foreach(_.getReferenceManager.release()))
        throw e
    }
    try {
      if (columns != schema.length) {
        throw new IllegalStateException(
          s"cinder: a native batch has $columns columns where Spark expects ${schema.length}")
      }
      val arrowSchema = ArrowUtils.toArrowSchema(schema, "UTC", true, false)
      val vectors = new Array[ColumnVector](columns)
      try {
        for (c <- 0 until columns) {
          val vector = arrowSchema.getFields.get(c).createVector(allocator).asInstanceOf[FieldVector]
          vectors(c) = new ArrowColumnVector(vector)
          vector.loadFieldBuffers(new ArrowFieldNode(rows, layout(c)._1), wrapped(c).asJava)
        }
      } catch {
        case e: Throwable =>
          vectors.filter(_ != null).foreach(_.close())
          throw e
      }
      new ColumnarBatch(vectors, rows)
    } finally {
      // The vectors hold their own references: drop ours (the last one if loading failed).
      wrapped.foreach(_.foreach(_.getReferenceManager.release()))
    }
  }
}
