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

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_int64_array;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::moments::selected;
use crate::sliding::{FrameFold, SlidingFrameAccumulator};

/// Spark's checked running sum of bigints (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkTryLongSum {
    merge: bool,
    signature: Signature,
}

impl SparkTryLongSum {
    /// The sum of values (`merge` false: nulls skipped) or of buffers' sums (`merge`: a null
    /// one overflowed).
    pub fn udaf(merge: bool) -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            merge,
            signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
        }))
    }
}

/// Adds the rows of `values` that pass `filter` to `sums[target(row)]` (none: overflowed), in
/// order. A null is skipped, or with `merge` overflows the sum.
fn add(
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    merge: bool,
    mut target: impl FnMut(usize) -> usize,
    sums: &mut [Option<i64>],
) -> Result<()> {
    let [x] = values else {
        return internal_err!("spark_try_long_sum takes one column");
    };
    let x = as_int64_array(x)?;
    for i in 0..x.len() {
        if !selected(filter, i) {
            continue;
        }
        let sum = &mut sums[target(i)];
        if x.is_valid(i) {
            *sum = sum.and_then(|s| s.checked_add(x.value(i)));
        } else if merge {
            *sum = None;
        }
    }
    Ok(())
}

fn column(sums: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(sums))
}

impl AggregateUDFImpl for SparkTryLongSum {
    fn name(&self) -> &str {
        if self.merge {
            "spark_merge_try_long_sum"
        } else {
            "spark_try_long_sum"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        true
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sum"),
            DataType::Int64,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TryLongSumAccumulator {
            merge: self.merge,
            sum: Some(0),
        }))
    }

    fn create_sliding_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.merge {
            return internal_err!("spark_merge_try_long_sum has no sliding frame");
        }
        Ok(Box::new(SlidingFrameAccumulator::new(TryLongSumFold)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(TryLongSumGroupsAccumulator {
            merge: self.merge,
            sums: Vec::new(),
        }))
    }
}

/// [`SparkTryLongSum`] without groups.
#[derive(Debug)]
struct TryLongSumAccumulator {
    merge: bool,
    sum: Option<i64>,
}

impl Accumulator for TryLongSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        add(
            values,
            None,
            self.merge,
            |_| 0,
            std::slice::from_mut(&mut self.sum),
        )
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        // A state is a sum: null where it overflowed.
        add(
            states,
            None,
            true,
            |_| 0,
            std::slice::from_mut(&mut self.sum),
        )
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(self.sum)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(self.sum))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// [`SparkTryLongSum`] over a window's sliding frame: the frame's non-null values, added again
/// from the first each time the sum is read.
#[derive(Debug)]
struct TryLongSumFold;

impl FrameFold for TryLongSumFold {
    type Value = i64;

    fn name(&self) -> &str {
        "spark_try_long_sum"
    }

    fn read(&self, values: &[ArrayRef]) -> Result<Vec<i64>> {
        let [x] = values else {
            return internal_err!("spark_try_long_sum takes one column");
        };
        Ok(as_int64_array(x)?.iter().flatten().collect())
    }

    fn state(&self, values: &VecDeque<i64>) -> Vec<ScalarValue> {
        vec![self.evaluate(values)]
    }

    fn evaluate(&self, values: &VecDeque<i64>) -> ScalarValue {
        ScalarValue::Int64(values.iter().try_fold(0i64, |sum, x| sum.checked_add(*x)))
    }
}

/// [`SparkTryLongSum`] by group.
#[derive(Debug)]
struct TryLongSumGroupsAccumulator {
    merge: bool,
    sums: Vec<Option<i64>>,
}

impl GroupsAccumulator for TryLongSumGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, Some(0));
        add(
            values,
            opt_filter,
            self.merge,
            |i| group_indices[i],
            &mut self.sums,
        )
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, Some(0));
        add(values, None, true, |i| group_indices[i], &mut self.sums)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(column(emit_to.take_needed(&mut self.sums)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![column(emit_to.take_needed(&mut self.sums))])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row's own buffer: its value where it counts, 0 for a value skipped.
        let [x] = values else {
            return internal_err!("spark_try_long_sum takes one column");
        };
        let x = as_int64_array(x)?;
        let sums: Vec<Option<i64>> = (0..x.len())
            .map(|i| {
                if !selected(opt_filter, i) {
                    Some(0)
                } else if x.is_valid(i) {
                    Some(x.value(i))
                } else if self.merge {
                    None
                } else {
                    Some(0)
                }
            })
            .collect();
        Ok(vec![column(sums)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<Option<i64>>() + size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longs(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    #[test]
    fn null_from_the_first_overflow_on() -> Result<()> {
        // MAX + 1 overflows; the -1 after it would bring an exact sum back to MAX.
        let mut acc = TryLongSumAccumulator {
            merge: false,
            sum: Some(0),
        };
        acc.update_batch(&[longs(vec![Some(i64::MAX), None, Some(1)])])?;
        acc.update_batch(&[longs(vec![Some(-1)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(None));
        // Nulls are skipped; no values is 0 (Spark's isEmpty tells it apart).
        let mut acc = TryLongSumAccumulator {
            merge: false,
            sum: Some(0),
        };
        acc.update_batch(&[longs(vec![None, Some(-5), Some(i64::MIN + 5)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(i64::MIN)));
        let mut acc = TryLongSumAccumulator {
            merge: false,
            sum: Some(0),
        };
        acc.update_batch(&[longs(vec![None])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(0)));
        Ok(())
    }

    #[test]
    fn merging_a_null_buffer_overflows() -> Result<()> {
        let mut groups = TryLongSumGroupsAccumulator {
            merge: true,
            sums: Vec::new(),
        };
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
        let mut acc = SlidingFrameAccumulator::new(TryLongSumFold);
        acc.update_batch(&[longs(vec![Some(i64::MAX), Some(1), Some(-1)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(None));
        acc.retract_batch(&[longs(vec![Some(i64::MAX)])])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(0)));
        Ok(())
    }
}
