// Licensed under the Apache License, Version 2.0.

//! Spark's sum of doubles (`Sum` and `Average` of doubles, and their merges), added one value
//! at a time in the order the rows come, as Spark's aggregation buffer adds them
//! (`coalesce(sum, 0.0) + x`), so the sum is Spark's bit for bit where the rows come in the
//! same order. DataFusion's own `sum` adds a batch in several lanes, which rounds differently.
//!
//! Over a window's sliding frame, Spark computes the buffer again from the frame's first row
//! whenever the frame changes; so does the sliding accumulator here ([`crate::sliding`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::Float64Type;
use datafusion::logical_expr::AggregateUDF;

use crate::row_order_sum::{RowOrderSum, SumRule};

/// The sum of non-null doubles in row order (`coalesce(sum, 0.0) + x`); null when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SparkDoubleSum;

impl SparkDoubleSum {
    /// The aggregate.
    pub fn udaf() -> Arc<AggregateUDF> {
        RowOrderSum::udaf(Self)
    }
}

impl SumRule for SparkDoubleSum {
    type T = Float64Type;

    fn name(&self) -> &'static str {
        "spark_double_sum"
    }

    fn empty(&self) -> Option<f64> {
        None
    }

    fn add(&self, sum: Option<f64>, value: Option<f64>) -> Option<f64> {
        match value {
            Some(x) => Some(sum.unwrap_or(0.0) + x),
            None => sum,
        }
    }

    fn merging(&self) -> Self {
        Self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
    use datafusion::common::cast::as_float64_array;
    use datafusion::common::{Result, ScalarValue};
    use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

    use crate::row_order_sum::{SumAccumulator, SumFold, SumGroupsAccumulator};
    use crate::sliding::SlidingFrameAccumulator;

    #[test]
    fn adds_in_row_order_from_zero_as_spark() -> Result<()> {
        // 1e16 + 1 + 1 is 1e16 added one at a time (each 1 is lost), 1e16 + 2 in pairs.
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1e16),
            Some(1.0),
            None,
            Some(1.0),
        ]));
        let mut acc = SumAccumulator::new(SparkDoubleSum);
        acc.update_batch(&[values])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(Some(1e16)));
        // Spark's buffer starts at 0.0: a lone -0.0 sums to 0.0.
        let mut acc = SumAccumulator::new(SparkDoubleSum);
        acc.update_batch(&[Arc::new(Float64Array::from(vec![-0.0])) as ArrayRef])?;
        assert!(
            matches!(acc.evaluate()?, ScalarValue::Float64(Some(z)) if z == 0.0 && z.is_sign_positive())
        );
        // No values: null.
        let mut acc = SumAccumulator::new(SparkDoubleSum);
        acc.update_batch(&[Arc::new(Float64Array::from(vec![None::<f64>])) as ArrayRef])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(None));
        Ok(())
    }

    #[test]
    fn a_sliding_frame_adds_its_values_again_from_its_first() -> Result<()> {
        let column = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
        let mut acc = SlidingFrameAccumulator::new(SumFold(SparkDoubleSum));
        acc.update_batch(&[column(vec![Some(1e16), None, Some(1.0), Some(1.0)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(Some(1e16)));
        // Without 1e16 (and the null after it), 1 + 1 again from 0.0; a running sum
        // retracted by subtraction would give 0.
        acc.retract_batch(&[column(vec![Some(1e16), None])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(Some(2.0)));
        acc.retract_batch(&[column(vec![Some(1.0), Some(1.0)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(None));
        assert!(acc.retract_batch(&[column(vec![Some(1.0)])]).is_err());
        Ok(())
    }

    #[test]
    fn groups_keep_their_own_order() -> Result<()> {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![1e16, 5.0, 1.0, 7.0, 1.0]));
        let mut acc = SumGroupsAccumulator::new(SparkDoubleSum);
        acc.update_batch(&[values], &[0, 1, 0, 1, 0], None, 3)?;
        let sums = acc.evaluate(EmitTo::All)?;
        let sums = as_float64_array(&sums)?;
        assert_eq!(sums.value(0), 1e16);
        assert_eq!(sums.value(1), 12.0);
        assert!(sums.is_null(2));
        Ok(())
    }
}
