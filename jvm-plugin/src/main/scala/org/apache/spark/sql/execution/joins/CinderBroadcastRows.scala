package org.apache.spark.sql.execution.joins

import org.apache.spark.broadcast.Broadcast
import org.apache.spark.sql.catalyst.InternalRow

/**
 * The rows of a broadcast hash join's build side, for Cinder's native join. Spark keeps
 * `HashedRelation` private to its execution package, hence this object's package.
 */
object CinderBroadcastRows {
  /**
   * Every row of the `HashedRelation` broadcast by `relation`: the build side's rows whose key
   * is not null (the only ones a hash join can match; a broadcast join's build side is never
   * the preserved side of an outer join, so nothing else is needed). A null-aware anti join's
   * build side that holds a null key (Spark keeps no rows of it) is one row of `fields` nulls:
   * a null in `NOT IN`'s list is all that decides the join.
   */
  def rows(relation: Broadcast[Any], fields: Int): Iterator[InternalRow] = relation.value match {
    // One entry per distinct key, each with all its rows (valuesWithKeyIndex is not
    // implemented for long keys).
    case long: LongHashedRelation =>
      val copy = long.asReadOnlyCopy()
      copy.keys().flatMap(key => copy.get(key.getLong(0)))
    case unsafe: UnsafeHashedRelation => unsafe.asReadOnlyCopy().valuesWithKeyIndex().map(_.getValue)
    // An empty build side (valuesWithKeyIndex is not implemented for it either).
    case EmptyHashedRelation => Iterator.empty
    case HashedRelationWithAllNullKeys =>
      Iterator.single(new org.apache.spark.sql.catalyst.expressions.GenericInternalRow(fields))
    case other => throw new IllegalStateException(
      s"cinder: expected a broadcast HashedRelation, found ${other.getClass.getName}")
  }
}
