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

  /** One vector's part of the layout: its length, null count, buffers and children. */
  private final case class Node(length: Int, nullCount: Int, buffers: Seq[(Long, Long, Long)], children: Seq[Node]) {
    def all: Seq[Node] = this +: children.flatMap(_.all)
  }

  /** The node at `d(at)` (see `describe_batch`: null count, buffers, then each child's length and node). */
  private def parse(d: Array[Long], at: Int, length: Int): (Node, Int) = {
    val nullCount = Math.toIntExact(d(at))
    val count = Math.toIntExact(d(at + 1))
    val buffers = (0 until count).map(b => (d(at + 2 + 3 * b), d(at + 3 + 3 * b), d(at + 4 + 3 * b)))
    var i = at + 2 + 3 * count
    val childCount = Math.toIntExact(d(i))
    i += 1
    val children = (0 until childCount).map { _ =>
      val (child, next) = parse(d, i + 1, Math.toIntExact(d(i)))
      i = next
      child
    }
    (Node(length, nullCount, buffers, children), i)
  }

  /** A batch over the buffers of `d`; the batch owns them (closing it releases each once). */
  def batch(schema: StructType, d: Array[Long]): ColumnarBatch = {
    val rows = Math.toIntExact(d(0))
    val columns = Math.toIntExact(d(1))
    val layout = scala.collection.mutable.ArrayBuffer.empty[Node]
    var i = 2
    for (_ <- 0 until columns) {
      val (node, next) = parse(d, i, rows)
      layout += node
      i = next
    }
    // Every vector of every column, parents before their children.
    val nodes = layout.flatMap(_.all)
    val handles = nodes.flatMap(_.buffers.map(_._3)).filter(_ != 0)
    // Take ownership of every buffer before anything else can fail: from here on, each
    // handle is released exactly once, by Arrow (wrapped) or below (not wrapped yet).
    val wrapped = scala.collection.mutable.ArrayBuffer.empty[Seq[ArrowBuf]]
    var wrappedHandles = 0
    try {
      for (node <- nodes) {
        val column = scala.collection.mutable.ArrayBuffer.empty[ArrowBuf]
        try {
          for ((address, length, handle) <- node.buffers) {
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
      // The next node's buffers in `wrapped`, in the order `nodes` lists them.
      var next = 0
      def load(vector: FieldVector, node: Node): Unit = {
        val children = vector.getChildrenFromFields.asScala.toSeq
        if (children.size != node.children.size) {
          throw new IllegalStateException(s"cinder: a native ${vector.getField} has ${node.children.size} " +
            s"children where Spark expects ${children.size}")
        }
        vector.loadFieldBuffers(new ArrowFieldNode(node.length, node.nullCount), wrapped(next).asJava)
        next += 1
        children.zip(node.children).foreach { case (v, n) => load(v, n) }
      }
      try {
        for (c <- 0 until columns) {
          val vector = arrowSchema.getFields.get(c).createVector(allocator).asInstanceOf[FieldVector]
          vectors(c) = new ArrowColumnVector(vector)
          load(vector, layout(c))
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
