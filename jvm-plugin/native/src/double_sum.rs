// Licensed under the Apache License, Version 2.0.

//! Spark's sum of doubles (`Sum` and `Average` of doubles, and their merges), added one value
//! at a time in the order the rows come, as Spark's aggregation buffer adds them
//! (`coalesce(sum, 0.0) + x`), so the sum is Spark's bit for bit where the rows come in the
//! same order. DataFusion's own `sum` adds a batch in several lanes, which rounds differently.
//!
//! Over a window's sliding frame, Spark computes the buffer again from the frame's first row
//! whenever the frame changes; so does the sliding accumulator here ([`crate::sliding`]).

use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::moments::selected;
use crate::sliding::{FrameFold, SlidingFrameAccumulator};

/// The sum of non-null doubles in row order; null when there is none.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkDoubleSum {
    signature: Signature,
}

impl SparkDoubleSum {
    /// The aggregate.
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
        }))
    }
}

/// Adds the non-null values of `values` (that pass `filter`) to `sums[target(row)]`, in order.
fn add(
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    sums: &mut [Option<f64>],
) -> Result<()> {
    let [x] = values else {
        return internal_err!("spark_double_sum takes one column");
    };
    let x = as_float64_array(x)?;
    for i in 0..x.len() {
        if x.is_valid(i) && selected(filter, i) {
            let sum = &mut sums[target(i)];
            *sum = Some(sum.unwrap_or(0.0) + x.value(i));
        }
    }
    Ok(())
}

fn column(sums: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(sums))
}

impl AggregateUDFImpl for SparkDoubleSum {
    fn name(&self) -> &str {
        "spark_double_sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sum"),
            DataType::Float64,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DoubleSumAccumulator { sum: None }))
    }

    fn create_sliding_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SlidingFrameAccumulator::new(DoubleSumFold)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(DoubleSumGroupsAccumulator { sums: Vec::new() }))
    }
}

/// [`SparkDoubleSum`] without groups.
#[derive(Debug)]
struct DoubleSumAccumulator {
    sum: Option<f64>,
}

impl Accumulator for DoubleSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        add(values, None, |_| 0, std::slice::from_mut(&mut self.sum))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        add(states, None, |_| 0, std::slice::from_mut(&mut self.sum))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Float64(self.sum)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.sum))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// [`SparkDoubleSum`] over a window's sliding frame ([`crate::sliding`]): the frame's non-null
/// values, added again from the first each time the sum is read.
#[derive(Debug)]
struct DoubleSumFold;

impl FrameFold for DoubleSumFold {
    type Value = f64;

    fn name(&self) -> &str {
        "spark_double_sum"
    }

    fn read(&self, values: &[ArrayRef]) -> Result<Vec<f64>> {
        let [x] = values else {
            return internal_err!("spark_double_sum takes one column");
        };
        Ok(as_float64_array(x)?.iter().flatten().collect())
    }

    fn state(&self, values: &VecDeque<f64>) -> Vec<ScalarValue> {
        vec![self.evaluate(values)]
    }

    fn evaluate(&self, values: &VecDeque<f64>) -> ScalarValue {
        ScalarValue::Float64(
            values
                .iter()
                .fold(None, |sum, x| Some(sum.unwrap_or(0.0) + x)),
        )
    }
}

/// [`SparkDoubleSum`] by group.
#[derive(Debug)]
struct DoubleSumGroupsAccumulator {
    sums: Vec<Option<f64>>,
}

impl GroupsAccumulator for DoubleSumGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, None);
        add(values, opt_filter, |i| group_indices[i], &mut self.sums)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, None);
        add(values, None, |i| group_indices[i], &mut self.sums)
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
        // Each row's own sum: its value where it counts, else null.
        let [x] = values else {
            return internal_err!("spark_double_sum takes one column");
        };
        let x = as_float64_array(x)?;
        let sums: Vec<Option<f64>> = (0..x.len())
            .map(|i| (x.is_valid(i) && selected(opt_filter, i)).then(|| 0.0 + x.value(i)))
            .collect();
        Ok(vec![column(sums)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<Option<f64>>() + size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_in_row_order_from_zero_as_spark() -> Result<()> {
        // 1e16 + 1 + 1 is 1e16 added one at a time (each 1 is lost), 1e16 + 2 in pairs.
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1e16),
            Some(1.0),
            None,
            Some(1.0),
        ]));
        let mut acc = DoubleSumAccumulator { sum: None };
        acc.update_batch(&[values])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(Some(1e16)));
        // Spark's buffer starts at 0.0: a lone -0.0 sums to 0.0.
        let mut acc = DoubleSumAccumulator { sum: None };
        acc.update_batch(&[Arc::new(Float64Array::from(vec![-0.0])) as ArrayRef])?;
        assert!(
            matches!(acc.evaluate()?, ScalarValue::Float64(Some(z)) if z == 0.0 && z.is_sign_positive())
        );
        // No values: null.
        let mut acc = DoubleSumAccumulator { sum: None };
        acc.update_batch(&[Arc::new(Float64Array::from(vec![None::<f64>])) as ArrayRef])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(None));
        Ok(())
    }

    #[test]
    fn a_sliding_frame_adds_its_values_again_from_its_first() -> Result<()> {
        let column = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
        let mut acc = SlidingFrameAccumulator::new(DoubleSumFold);
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
        let mut acc = DoubleSumGroupsAccumulator { sums: Vec::new() };
        acc.update_batch(&[values], &[0, 1, 0, 1, 0], None, 3)?;
        let sums = acc.evaluate(EmitTo::All)?;
        let sums = as_float64_array(&sums)?;
        assert_eq!(sums.value(0), 1e16);
        assert_eq!(sums.value(1), 12.0);
        assert!(sums.is_null(2));
        Ok(())
    }
}
