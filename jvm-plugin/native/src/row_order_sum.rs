// Licensed under the Apache License, Version 2.0.

//! A sum that reads its values one at a time, in the order the rows come, as Spark's
//! aggregation buffer does: the UDAF, its accumulators (without groups, by group, and over a
//! window's sliding frame, [`crate::sliding`]) for any [`SumRule`], the step that adds one
//! value. [`crate::double_sum`] and [`crate::try_sum`] are its rules.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::Hash;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::moments::selected;
use crate::sliding::{FrameFold, SlidingFrameAccumulator};

/// The native value of a rule's Arrow type.
pub(crate) type Native<R> = <<R as SumRule>::T as ArrowPrimitiveType>::Native;

/// How a [`RowOrderSum`] adds a row.
pub(crate) trait SumRule:
    Debug + Clone + PartialEq + Eq + Hash + Send + Sync + 'static
{
    /// The values' (and the sum's) Arrow type.
    type T: ArrowPrimitiveType;

    /// The aggregate's name.
    fn name(&self) -> &'static str;

    /// The sum before any row.
    fn empty(&self) -> Option<Native<Self>>;

    /// The sum after `sum` reads a row's `value` (none: null).
    fn add(&self, sum: Option<Native<Self>>, value: Option<Native<Self>>) -> Option<Native<Self>>;

    /// The rule that merges states (sums) of this one.
    fn merging(&self) -> Self;
}

/// The aggregate of a [`SumRule`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RowOrderSum<R: SumRule> {
    rule: R,
    signature: Signature,
}

impl<R: SumRule> RowOrderSum<R> {
    /// The aggregate.
    pub(crate) fn udaf(rule: R) -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            rule,
            signature: Signature::exact(vec![R::T::DATA_TYPE], Volatility::Immutable),
        }))
    }
}

/// Reads the rows of `values` that pass `filter` into `sums[target(row)]`, in order.
fn add<R: SumRule>(
    rule: &R,
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    sums: &mut [Option<Native<R>>],
) -> Result<()> {
    let [x] = values else {
        return internal_err!("{} takes one column", rule.name());
    };
    let Some(x) = x.as_primitive_opt::<R::T>() else {
        return internal_err!("{} of {}", rule.name(), x.data_type());
    };
    for i in 0..x.len() {
        if selected(filter, i) {
            let sum = &mut sums[target(i)];
            *sum = rule.add(*sum, x.is_valid(i).then(|| x.value(i)));
        }
    }
    Ok(())
}

fn column<R: SumRule>(sums: Vec<Option<Native<R>>>) -> ArrayRef {
    Arc::new(PrimitiveArray::<R::T>::from_iter(sums))
}

fn scalar<R: SumRule>(sum: Option<Native<R>>) -> Result<ScalarValue> {
    ScalarValue::try_from_array(&column::<R>(vec![sum]), 0)
}

impl<R: SumRule> AggregateUDFImpl for RowOrderSum<R> {
    fn name(&self) -> &str {
        self.rule.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(R::T::DATA_TYPE)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sum"),
            R::T::DATA_TYPE,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SumAccumulator {
            sum: self.rule.empty(),
            rule: self.rule.clone(),
        }))
    }

    fn create_sliding_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SlidingFrameAccumulator::new(SumFold(
            self.rule.clone(),
        ))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SumGroupsAccumulator {
            rule: self.rule.clone(),
            sums: Vec::new(),
        }))
    }
}

/// [`RowOrderSum`] without groups.
#[derive(Debug)]
pub(crate) struct SumAccumulator<R: SumRule> {
    rule: R,
    sum: Option<Native<R>>,
}

impl<R: SumRule> SumAccumulator<R> {
    #[cfg(test)]
    pub(crate) fn new(rule: R) -> Self {
        Self {
            sum: rule.empty(),
            rule,
        }
    }
}

impl<R: SumRule> Accumulator for SumAccumulator<R> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        add(
            &self.rule,
            values,
            None,
            |_| 0,
            std::slice::from_mut(&mut self.sum),
        )
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        add(
            &self.rule.merging(),
            states,
            None,
            |_| 0,
            std::slice::from_mut(&mut self.sum),
        )
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![scalar::<R>(self.sum)?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        scalar::<R>(self.sum)
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// [`RowOrderSum`] over a window's sliding frame: the frame's non-null values, added again
/// from the first each time the sum is read.
#[derive(Debug)]
pub(crate) struct SumFold<R: SumRule>(pub(crate) R);

impl<R: SumRule> FrameFold for SumFold<R> {
    type Value = Native<R>;

    fn name(&self) -> &str {
        self.0.name()
    }

    fn read(&self, values: &[ArrayRef]) -> Result<Vec<Native<R>>> {
        let [x] = values else {
            return internal_err!("{} takes one column", self.0.name());
        };
        let Some(x) = x.as_primitive_opt::<R::T>() else {
            return internal_err!("{} of {}", self.0.name(), x.data_type());
        };
        Ok(x.iter().flatten().collect())
    }

    fn state(&self, values: &VecDeque<Native<R>>) -> Vec<ScalarValue> {
        vec![self.evaluate(values)]
    }

    fn evaluate(&self, values: &VecDeque<Native<R>>) -> ScalarValue {
        let sum = values
            .iter()
            .fold(self.0.empty(), |sum, x| self.0.add(sum, Some(*x)));
        scalar::<R>(sum).unwrap_or(ScalarValue::Null)
    }
}

/// [`RowOrderSum`] by group.
#[derive(Debug)]
pub(crate) struct SumGroupsAccumulator<R: SumRule> {
    rule: R,
    sums: Vec<Option<Native<R>>>,
}

impl<R: SumRule> SumGroupsAccumulator<R> {
    #[cfg(test)]
    pub(crate) fn new(rule: R) -> Self {
        Self {
            rule,
            sums: Vec::new(),
        }
    }
}

impl<R: SumRule> GroupsAccumulator for SumGroupsAccumulator<R> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, self.rule.empty());
        add(
            &self.rule,
            values,
            opt_filter,
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
        self.sums.resize(total_num_groups, self.rule.empty());
        add(
            &self.rule.merging(),
            values,
            None,
            |i| group_indices[i],
            &mut self.sums,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(column::<R>(emit_to.take_needed(&mut self.sums)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![column::<R>(emit_to.take_needed(&mut self.sums))])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row's own sum: the empty sum after reading it where it counts.
        let [x] = values else {
            return internal_err!("{} takes one column", self.rule.name());
        };
        let Some(x) = x.as_primitive_opt::<R::T>() else {
            return internal_err!("{} of {}", self.rule.name(), x.data_type());
        };
        let sums = (0..x.len())
            .map(|i| {
                let empty = self.rule.empty();
                if selected(opt_filter, i) {
                    self.rule.add(empty, x.is_valid(i).then(|| x.value(i)))
                } else {
                    empty
                }
            })
            .collect();
        Ok(vec![column::<R>(sums)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<Option<Native<R>>>() + size_of::<Self>()
    }
}
