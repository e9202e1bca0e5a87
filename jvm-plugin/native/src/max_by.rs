// Licensed under the Apache License, Version 2.0.

//! Spark's `max_by(x, y)` and `min_by(x, y)`: the value of `x` on the row whose `y` is the
//! largest (smallest), rows whose `y` is null skipped; null where every `y` is null.
//!
//! Spark's buffer keeps the old value only where the old ordering is strictly greater (for
//! `min_by`: smaller) than the new one, so among rows that tie, the last one read wins. Its
//! merge does the same with the buffers (the later buffer wins a tie). Here, too: a batch's
//! best row is its last row of the extreme ordering, and it replaces the kept one unless the
//! kept ordering is strictly better. Floats compare as Spark's `>` does, `-0.0 = 0.0` and NaN
//! above every other value: they are compared as integer keys
//! ([`crate::float_order::double_key`]) of the value plus `0.0` (which makes `-0.0` `0.0`).

use std::cmp::Ordering;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Scalar, make_comparator, new_empty_array,
    new_null_array,
};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Float32Type, Float64Type, Int32Type, Int64Type,
};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::float_order::{double_key, float_key};
use crate::moments::selected;

/// `max_by` (`max` true) or `min_by` of a value (the first argument) by an ordering (the
/// second).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkMaxBy {
    max: bool,
    signature: Signature,
}

impl SparkMaxBy {
    /// The aggregate: `max_by` where `max`, else `min_by`.
    pub fn udaf(max: bool) -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(Self {
            max,
            signature: Signature::any(2, Volatility::Immutable),
        }))
    }
}

/// The type an ordering of type `t` is compared as.
fn key_type(t: &DataType) -> DataType {
    match t {
        DataType::Float64 => DataType::Int64,
        DataType::Float32 => DataType::Int32,
        other => other.clone(),
    }
}

/// The orderings of `array` as compared (floats as keys, `-0.0` as `0.0`; others as they are).
fn keys(array: &ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Float64 => Arc::new(
            array
                .as_primitive::<Float64Type>()
                .unary::<_, Int64Type>(|x| double_key(x + 0.0)),
        ),
        DataType::Float32 => Arc::new(
            array
                .as_primitive::<Float32Type>()
                .unary::<_, Int32Type>(|x| float_key(x + 0.0)),
        ),
        _ => Arc::clone(array),
    }
}

/// The kept value and ordering (key) of each group: none before a row with an ordering.
#[derive(Debug)]
struct Extremes {
    max: bool,
    value_type: DataType,
    key_type: DataType,
    kept: Vec<Option<(ScalarValue, ScalarValue)>>,
    /// Each group's best row in the batch being read (scratch, kept between batches).
    best: Vec<Option<usize>>,
}

impl Extremes {
    fn new(max: bool, value_type: DataType, ordering_type: &DataType) -> Self {
        Self {
            max,
            value_type,
            key_type: key_type(ordering_type),
            kept: Vec::new(),
            best: Vec::new(),
        }
    }

    /// Whether an ordering that compares `old` to a new one keeps the old value: Spark's
    /// `old > new` (`max_by`) or `old < new` (`min_by`).
    fn keeps_old(&self, old: Ordering) -> bool {
        if self.max {
            old == Ordering::Greater
        } else {
            old == Ordering::Less
        }
    }

    /// Reads the rows of `[values, orderings]` that pass `filter` into groups `group(row)`.
    fn read(
        &mut self,
        columns: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
        groups: usize,
    ) -> Result<()> {
        let [values, orderings] = columns else {
            return internal_err!("max_by and min_by take two columns");
        };
        let orderings = keys(orderings);
        if orderings.data_type() != &self.key_type {
            return internal_err!(
                "max_by or min_by of {} orderings read {}",
                self.key_type,
                orderings.data_type()
            );
        }
        self.kept.resize(groups, None);
        self.best.resize(groups, None);
        let compare = make_comparator(&orderings, &orderings, SortOptions::default())?;
        let mut touched = Vec::new();
        for row in 0..orderings.len() {
            if orderings.is_null(row) || !selected(filter, row) {
                continue;
            }
            let g = group(row);
            match self.best[g] {
                Some(best) if self.keeps_old(compare(best, row)) => {}
                Some(_) => self.best[g] = Some(row),
                None => {
                    self.best[g] = Some(row);
                    touched.push(g);
                }
            }
        }
        for g in touched {
            let row = self.best[g].take().expect("a touched group has a best row");
            let ordering = ScalarValue::try_from_array(&orderings, row)?;
            if let Some((_, old)) = &self.kept[g] {
                let Some(order) = old.partial_cmp(&ordering) else {
                    return internal_err!("max_by cannot compare {old:?} and {ordering:?}");
                };
                if self.keeps_old(order) {
                    continue;
                }
            }
            self.kept[g] = Some((ScalarValue::try_from_array(values, row)?, ordering));
        }
        Ok(())
    }

    /// The kept values and orderings of the groups `emit_to` takes.
    fn take(&mut self, emit_to: EmitTo) -> Result<(ArrayRef, ArrayRef)> {
        let kept = emit_to.take_needed(&mut self.kept);
        let null_value = ScalarValue::try_from(&self.value_type)?;
        let null_key = ScalarValue::try_from(&self.key_type)?;
        let (values, keys): (Vec<_>, Vec<_>) = kept
            .into_iter()
            .map(|k| k.unwrap_or_else(|| (null_value.clone(), null_key.clone())))
            .unzip();
        let column = |scalars: Vec<ScalarValue>, t: &DataType| {
            if scalars.is_empty() {
                Ok(new_empty_array(t))
            } else {
                ScalarValue::iter_to_array(scalars)
            }
        };
        Ok((
            column(values, &self.value_type)?,
            column(keys, &self.key_type)?,
        ))
    }

    fn size(&self) -> usize {
        let kept: usize = self
            .kept
            .iter()
            .flatten()
            .map(|(v, k)| v.size() + k.size())
            .sum();
        size_of::<Self>()
            + self.kept.capacity() * size_of::<Option<(ScalarValue, ScalarValue)>>()
            + self.best.capacity() * size_of::<Option<usize>>()
            + kept
    }
}

impl AggregateUDFImpl for SparkMaxBy {
    fn name(&self) -> &str {
        if self.max {
            "spark_max_by"
        } else {
            "spark_min_by"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value, _] => Ok(value.clone()),
            _ => internal_err!("{} takes two arguments", self.name()),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let [value, ordering] = args.input_fields else {
            return internal_err!("{} takes two arguments", self.name());
        };
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                value.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "ordering"),
                key_type(ordering.data_type()),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(MaxByAccumulator(self.extremes(&args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MaxByGroupsAccumulator(self.extremes(&args)?)))
    }
}

impl SparkMaxBy {
    fn extremes(&self, args: &AccumulatorArgs) -> Result<Extremes> {
        let [_, ordering] = args.exprs else {
            return internal_err!("{} takes two arguments", self.name());
        };
        let ordering_type = ordering.data_type(args.schema)?;
        Ok(Extremes::new(
            self.max,
            args.return_field.data_type().clone(),
            &ordering_type,
        ))
    }
}

/// [`SparkMaxBy`] without groups.
#[derive(Debug)]
struct MaxByAccumulator(Extremes);

impl Accumulator for MaxByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.read(values, None, |_| 0, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.read(states, None, |_| 0, 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.kept.resize(1, None);
        Ok(match &self.0.kept[0] {
            Some((value, key)) => vec![value.clone(), key.clone()],
            None => vec![
                ScalarValue::try_from(&self.0.value_type)?,
                ScalarValue::try_from(&self.0.key_type)?,
            ],
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.kept.resize(1, None);
        match &self.0.kept[0] {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.0.value_type),
        }
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

/// [`SparkMaxBy`] by group.
#[derive(Debug)]
struct MaxByGroupsAccumulator(Extremes);

impl GroupsAccumulator for MaxByGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.0
            .read(values, opt_filter, |i| group_indices[i], total_num_groups)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.0
            .read(values, None, |i| group_indices[i], total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.0.take(emit_to)?.0)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (values, keys) = self.0.take(emit_to)?;
        Ok(vec![values, keys])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row's own buffer: its value and ordering where it counts, else nulls.
        let [value, ordering] = values else {
            return internal_err!("max_by and min_by take two columns");
        };
        let ordering = keys(ordering);
        let counts: BooleanArray = (0..ordering.len())
            .map(|i| Some(ordering.is_valid(i) && selected(opt_filter, i)))
            .collect();
        let null_value = new_null_array(value.data_type(), 1);
        let null_key = new_null_array(ordering.data_type(), 1);
        let pick = |a: &ArrayRef, null: &ArrayRef| -> Result<ArrayRef> {
            let null = Scalar::new(null);
            Ok(zip(&counts, a, &null)?)
        };
        Ok(vec![pick(value, &null_value)?, pick(&ordering, &null_key)?])
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};

    fn strings(v: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(v))
    }

    fn doubles(v: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(v))
    }

    fn value(acc: &mut MaxByAccumulator) -> Result<ScalarValue> {
        acc.evaluate()
    }

    #[test]
    fn the_last_row_of_the_extreme_wins_and_null_orderings_are_skipped() -> Result<()> {
        for (max, expected) in [(true, "d"), (false, "e")] {
            // max: 9 on rows "b" and "d"; min: 1 on "x", then on "e" in the next batch.
            let mut acc = MaxByAccumulator(Extremes::new(max, DataType::Utf8, &DataType::Int64));
            let o: ArrayRef = Arc::new(Int64Array::from(vec![
                Some(5),
                Some(9),
                None,
                Some(9),
                Some(1),
            ]));
            acc.update_batch(&[
                strings(vec![Some("a"), Some("b"), Some("c"), Some("d"), Some("x")]),
                o,
            ])?;
            // A second batch: a tie with the kept one wins; 1 ties the minimum.
            let o: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(3)]));
            acc.update_batch(&[strings(vec![Some("e"), Some("f")]), o])?;
            assert_eq!(
                value(&mut acc)?,
                ScalarValue::Utf8(Some(expected.into())),
                "max {max}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_later_batch_tie_replaces_the_kept_value() -> Result<()> {
        let mut acc = MaxByAccumulator(Extremes::new(true, DataType::Utf8, &DataType::Int64));
        let o = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
        acc.update_batch(&[strings(vec![Some("a"), Some("b")]), o(vec![7, 2])])?;
        acc.update_batch(&[strings(vec![None, Some("c")]), o(vec![7, 1])])?;
        // The null value on the later row of 7 wins.
        assert_eq!(value(&mut acc)?, ScalarValue::Utf8(None));
        Ok(())
    }

    #[test]
    fn floats_compare_as_spark_does() -> Result<()> {
        // NaN above infinity; -0.0 ties 0.0 (so the later one wins).
        let mut acc = MaxByAccumulator(Extremes::new(true, DataType::Utf8, &DataType::Float64));
        acc.update_batch(&[
            strings(vec![Some("nan"), Some("inf"), Some("neg-nan")]),
            doubles(vec![Some(f64::NAN), Some(f64::INFINITY), Some(-f64::NAN)]),
        ])?;
        assert_eq!(value(&mut acc)?, ScalarValue::Utf8(Some("neg-nan".into())));
        let mut acc = MaxByAccumulator(Extremes::new(false, DataType::Utf8, &DataType::Float64));
        acc.update_batch(&[
            strings(vec![Some("zero"), Some("negative zero"), Some("one")]),
            doubles(vec![Some(0.0), Some(-0.0), Some(1.0)]),
        ])?;
        acc.update_batch(&[strings(vec![Some("later zero")]), doubles(vec![Some(0.0)])])?;
        assert_eq!(
            value(&mut acc)?,
            ScalarValue::Utf8(Some("later zero".into()))
        );
        Ok(())
    }

    #[test]
    fn no_ordering_gives_null_and_groups_are_apart() -> Result<()> {
        let mut acc = MaxByAccumulator(Extremes::new(true, DataType::Utf8, &DataType::Int64));
        let o: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>]));
        acc.update_batch(&[strings(vec![Some("a")]), o])?;
        assert_eq!(value(&mut acc)?, ScalarValue::Utf8(None));

        let mut groups =
            MaxByGroupsAccumulator(Extremes::new(false, DataType::Float64, &DataType::Utf8));
        let filter = BooleanArray::from(vec![true, true, true, false]);
        groups.update_batch(
            &[
                doubles(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]),
                strings(vec![Some("b"), Some("a"), Some("a"), Some("0")]),
            ],
            &[0, 0, 2, 0],
            Some(&filter),
            3,
        )?;
        let result = groups.evaluate(EmitTo::All)?;
        assert_eq!(
            result
                .as_primitive::<Float64Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(2.0), None, Some(3.0)]
        );
        // States merge as rows do: a later state that ties wins.
        let mut first =
            MaxByGroupsAccumulator(Extremes::new(false, DataType::Float64, &DataType::Utf8));
        first.update_batch(
            &[
                doubles(vec![Some(1.0), Some(2.0)]),
                strings(vec![Some("a"), Some("b")]),
            ],
            &[0, 1],
            None,
            2,
        )?;
        let mut second =
            MaxByGroupsAccumulator(Extremes::new(false, DataType::Float64, &DataType::Utf8));
        second.update_batch(
            &[
                doubles(vec![Some(8.0), Some(9.0)]),
                strings(vec![Some("a"), Some("c")]),
            ],
            &[0, 1],
            None,
            2,
        )?;
        let mut merged =
            MaxByGroupsAccumulator(Extremes::new(false, DataType::Float64, &DataType::Utf8));
        merged.merge_batch(&first.state(EmitTo::All)?, &[0, 1], 2)?;
        merged.merge_batch(&second.state(EmitTo::All)?, &[0, 1], 2)?;
        let result = merged.evaluate(EmitTo::All)?;
        assert_eq!(
            result
                .as_primitive::<Float64Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(8.0), Some(2.0)]
        );
        Ok(())
    }
}
