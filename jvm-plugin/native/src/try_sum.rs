// Licensed under the Apache License, Version 2.0.

//! Spark's `try_sum` of integers, whose buffer `[sum, isEmpty]` starts at `[0, true]` and adds
//! each non-null value with an overflow check (`TryEval(Add(sum, x, ANSI))`): from the first
//! addition that overflows the sum is null, and stays null (null plus anything is null), even
//! where the later values would bring a running sum back into range. So here: bigints added one
//! at a time in the order the rows come, with `checked_add`.
//!
//! The merge of buffers (`merge`) reads sums instead, and a null one is a buffer that overflowed:
//! it makes the merged sum null too, as Spark's merge (`If(left or right overflowed, null, left +
//! right)`) does. The result is the sum, `0` where no value was read (the caller tells that
//! apart with Spark's `isEmpty`), null after an overflow.
//!
//! Over a window's sliding frame, Spark adds the frame's values again from its first row
//! whenever the frame changes; so does the sliding accumulator here ([`crate::sliding`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::Int64Type;
use datafusion::logical_expr::AggregateUDF;

use crate::row_order_sum::{RowOrderSum, SumRule};

/// Spark's checked running sum of bigints (see the module docs): of values (`merge` false,
/// nulls skipped) or of buffers' sums (`merge`: a null one overflowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SparkTryLongSum {
    merge: bool,
}

impl SparkTryLongSum {
    /// The aggregate.
    pub fn udaf(merge: bool) -> Arc<AggregateUDF> {
        RowOrderSum::udaf(Self { merge })
    }
}

impl SumRule for SparkTryLongSum {
    type T = Int64Type;

    fn name(&self) -> &'static str {
        if self.merge {
            "spark_merge_try_long_sum"
        } else {
            "spark_try_long_sum"
        }
    }

    fn empty(&self) -> Option<i64> {
        Some(0)
    }

    fn add(&self, sum: Option<i64>, value: Option<i64>) -> Option<i64> {
        match value {
            Some(x) => sum.and_then(|s| s.checked_add(x)),
            None if self.merge => None,
            None => sum,
        }
    }

    fn merging(&self) -> Self {
        // A state is a sum: null where it overflowed.
        Self { merge: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
    use datafusion::common::cast::as_int64_array;
    use datafusion::common::{Result, ScalarValue};
    use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

    use crate::row_order_sum::{SumAccumulator, SumFold, SumGroupsAccumulator};
    use crate::sliding::SlidingFrameAccumulator;

    fn longs(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    #[test]
    fn null_from_the_first_overflow_on() -> Result<()> {
        // MAX + 1 overflows; the -1 after it would bring an exact sum back to MAX.
        let mut acc = SumAccumulator::new(SparkTryLongSum { merge: false });
        acc.update_batch(&[longs(vec![Some(i64::MAX), None, Some(1)])])?;
        acc.update_batch(&[longs(vec![Some(-1)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(None));
        // Nulls are skipped; no values is 0 (Spark's isEmpty tells it apart).
        let mut acc = SumAccumulator::new(SparkTryLongSum { merge: false });
        acc.update_batch(&[longs(vec![None, Some(-5), Some(i64::MIN + 5)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(i64::MIN)));
        let mut acc = SumAccumulator::new(SparkTryLongSum { merge: false });
        acc.update_batch(&[longs(vec![None])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(0)));
        Ok(())
    }

    #[test]
    fn merging_a_null_buffer_overflows() -> Result<()> {
        let mut groups = SumGroupsAccumulator::new(SparkTryLongSum { merge: true });
        groups.update_batch(
            &[longs(vec![Some(1), None, Some(2), Some(i64::MAX), Some(3)])],
            &[0, 0, 1, 1, 2],
            None,
            3,
        )?;
        let sums = groups.evaluate(EmitTo::All)?;
        let sums = as_int64_array(&sums)?;
        assert!(sums.is_null(0) && sums.is_null(1));
        assert_eq!(sums.value(2), 3);
        Ok(())
    }

    #[test]
    fn a_sliding_frame_adds_again_from_its_first_value() -> Result<()> {
        let mut acc = SlidingFrameAccumulator::new(SumFold(SparkTryLongSum { merge: false }));
        acc.update_batch(&[longs(vec![Some(i64::MAX), Some(1), Some(-1)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(None));
        acc.retract_batch(&[longs(vec![Some(i64::MAX)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(0)));
        Ok(())
    }
}
