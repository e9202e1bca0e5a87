// Licensed under the Apache License, Version 2.0.

//! Spark's central moments (`CentralMomentAgg`, behind `stddev`, `stddev_pop`, `variance` and
//! `var_pop`) as DataFusion aggregates: its aggregation buffer `[n, avg, m2]`, updated by one
//! value and merged with another buffer with Spark's formulas, each operation in Spark's order,
//! so that the doubles are Spark's bit for bit where the rows come in the same order.
//!
//! One function gives one part of the buffer ([`MomentPart`]); Spark's partial stage is three of
//! them over the values, its merge and final stages three over the buffers ([`MomentInput`]).

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

/// Which part of Spark's buffer `[n, avg, m2]` a [`SparkMoments`] aggregate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MomentPart {
    /// The count of values, as a double.
    N,
    /// Their running mean.
    Avg,
    /// The running sum of squared differences from the mean.
    M2,
}

/// What a [`SparkMoments`] aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MomentInput {
    /// Doubles, nulls skipped (Spark's update).
    Values,
    /// Buffers as three doubles `n, avg, m2` (Spark's merge).
    Buffers,
}

/// One part of Spark's central-moment buffer over values or buffers, in the order the rows come.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkMoments {
    part: MomentPart,
    input: MomentInput,
    signature: Signature,
}

impl SparkMoments {
    /// The aggregate of `part` over `input`.
    pub fn udaf(part: MomentPart, input: MomentInput) -> Arc<AggregateUDF> {
        let arity = match input {
            MomentInput::Values => 1,
            MomentInput::Buffers => 3,
        };
        Arc::new(AggregateUDF::new_from_impl(Self {
            part,
            input,
            signature: Signature::exact(vec![DataType::Float64; arity], Volatility::Immutable),
        }))
    }
}

/// Spark's buffer `[n, avg, m2]`; its initial value is zeros.
type Moments = [f64; 3];

/// `CentralMomentAgg.updateExpressions` for a non-null value `x`.
fn update(m: &mut Moments, x: f64) {
    let new_n = m[0] + 1.0;
    let delta = x - m[1];
    let delta_n = delta / new_n;
    m[1] += delta_n;
    m[2] += delta * (delta - delta_n);
    m[0] = new_n;
}

/// `CentralMomentAgg.mergeExpressions`: buffer `m` (left) merged with `[n2, avg2, m2_2]` (right).
fn merge(m: &mut Moments, n2: f64, avg2: f64, m2_2: f64) {
    let n1 = m[0];
    let new_n = n1 + n2;
    let delta = avg2 - m[1];
    let delta_n = if new_n == 0.0 { 0.0 } else { delta / new_n };
    m[1] += delta_n * n2;
    m[2] = m[2] + m2_2 + delta * delta_n * n1 * n2;
    m[0] = new_n;
}

/// Whether row `i` passes DataFusion's optional aggregate filter.
fn selected(filter: Option<&BooleanArray>, i: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(i) && f.value(i))
}

/// Folds the rows of `values` (one column of values, or the three of buffers) into `target(row)`.
fn fold(
    input: MomentInput,
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    moments: &mut [Moments],
) -> Result<()> {
    match input {
        MomentInput::Values => {
            let [x] = values else {
                return internal_err!("spark moments take one column of values");
            };
            let x = as_float64_array(x)?;
            for i in 0..x.len() {
                if x.is_valid(i) && selected(filter, i) {
                    update(&mut moments[target(i)], x.value(i));
                }
            }
        }
        MomentInput::Buffers => merge_buffers(values, filter, target, moments)?,
    }
    Ok(())
}

/// Merges the buffers in columns `n, avg, m2` (rows with a null part are no buffer).
fn merge_buffers(
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    moments: &mut [Moments],
) -> Result<()> {
    let [n, avg, m2] = values else {
        return internal_err!("spark moment buffers are three columns");
    };
    let (n, avg, m2) = (
        as_float64_array(n)?,
        as_float64_array(avg)?,
        as_float64_array(m2)?,
    );
    for i in 0..n.len() {
        if n.is_valid(i) && avg.is_valid(i) && m2.is_valid(i) && selected(filter, i) {
            merge(
                &mut moments[target(i)],
                n.value(i),
                avg.value(i),
                m2.value(i),
            );
        }
    }
    Ok(())
}

impl AggregateUDFImpl for SparkMoments {
    fn name(&self) -> &str {
        match (self.input, self.part) {
            (MomentInput::Values, MomentPart::N) => "spark_moment_n",
            (MomentInput::Values, MomentPart::Avg) => "spark_moment_avg",
            (MomentInput::Values, MomentPart::M2) => "spark_moment_m2",
            (MomentInput::Buffers, MomentPart::N) => "spark_merge_moment_n",
            (MomentInput::Buffers, MomentPart::Avg) => "spark_merge_moment_avg",
            (MomentInput::Buffers, MomentPart::M2) => "spark_merge_moment_m2",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(["n", "avg", "m2"]
            .iter()
            .map(|part| {
                Arc::new(Field::new(
                    format_state_name(args.name, part),
                    DataType::Float64,
                    false,
                ))
            })
            .collect())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(MomentsAccumulator {
            part: self.part,
            input: self.input,
            moments: [0.0; 3],
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MomentsGroupsAccumulator {
            part: self.part,
            input: self.input,
            moments: Vec::new(),
        }))
    }
}

fn part_of(m: &Moments, part: MomentPart) -> f64 {
    match part {
        MomentPart::N => m[0],
        MomentPart::Avg => m[1],
        MomentPart::M2 => m[2],
    }
}

/// [`SparkMoments`] without groups.
#[derive(Debug)]
struct MomentsAccumulator {
    part: MomentPart,
    input: MomentInput,
    moments: Moments,
}

impl Accumulator for MomentsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        fold(
            self.input,
            values,
            None,
            |_| 0,
            std::slice::from_mut(&mut self.moments),
        )
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        merge_buffers(states, None, |_| 0, std::slice::from_mut(&mut self.moments))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .moments
            .iter()
            .map(|v| ScalarValue::Float64(Some(*v)))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(Some(part_of(
            &self.moments,
            self.part,
        ))))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// Buffers as the three columns `n, avg, m2`.
fn columns(moments: &[Moments]) -> Vec<ArrayRef> {
    (0..3)
        .map(|k| Arc::new(Float64Array::from_iter_values(moments.iter().map(|m| m[k]))) as ArrayRef)
        .collect()
}

/// [`SparkMoments`] by group.
#[derive(Debug)]
struct MomentsGroupsAccumulator {
    part: MomentPart,
    input: MomentInput,
    moments: Vec<Moments>,
}

impl GroupsAccumulator for MomentsGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.moments.resize(total_num_groups, [0.0; 3]);
        fold(
            self.input,
            values,
            opt_filter,
            |i| group_indices[i],
            &mut self.moments,
        )
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.moments.resize(total_num_groups, [0.0; 3]);
        merge_buffers(values, None, |i| group_indices[i], &mut self.moments)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let part = self.part;
        let moments = emit_to.take_needed(&mut self.moments);
        Ok(Arc::new(Float64Array::from_iter_values(
            moments.iter().map(|m| part_of(m, part)),
        )))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(columns(&emit_to.take_needed(&mut self.moments)))
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row's own buffer (zeros where it has no value).
        let rows = values.first().map_or(0, |v| v.len());
        let mut moments = vec![[0.0; 3]; rows];
        fold(self.input, values, opt_filter, |i| i, &mut moments)?;
        Ok(columns(&moments))
    }

    fn size(&self) -> usize {
        self.moments.capacity() * size_of::<Moments>() + size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values' buffer, one update at a time.
    fn updated(values: &[f64]) -> Moments {
        let mut m = [0.0; 3];
        values.iter().for_each(|&x| update(&mut m, x));
        m
    }

    #[test]
    fn updates_follow_sparks_formulas() {
        let m = updated(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, [4.0, 2.5, 5.0]);
        // Spark's `SELECT var_samp(col) FROM VALUES (1), (2), (3)` is 1.0, var_pop 2/3.
        let m = updated(&[1.0, 2.0, 3.0]);
        assert_eq!(m[2] / (m[0] - 1.0), 1.0);
        assert_eq!(m[2] / m[0], 0.6666666666666666);
        // A NaN or an infinity makes the mean and m2 NaN, as in Spark.
        assert!(updated(&[1.0, f64::NAN, 2.0])[2].is_nan());
        assert!(updated(&[1.0, f64::INFINITY])[2].is_nan());
    }

    #[test]
    fn merging_follows_sparks_formulas() {
        let (a, b) = (updated(&[1.0, 2.0, 3.0]), updated(&[10.0, 20.0]));
        let mut m = [0.0; 3];
        merge(&mut m, a[0], a[1], a[2]);
        assert_eq!(m, a, "merging into the initial buffer keeps a buffer");
        merge(&mut m, b[0], b[1], b[2]);
        let whole = updated(&[1.0, 2.0, 3.0, 10.0, 20.0]);
        assert_eq!(m[0], 5.0);
        assert!(
            (m[1] - whole[1]).abs() < 1e-12 && (m[2] - whole[2]).abs() < 1e-9,
            "{m:?} {whole:?}"
        );
        // Two empty buffers stay empty (no division by a zero count).
        let mut empty = [0.0; 3];
        merge(&mut empty, 0.0, 0.0, 0.0);
        assert_eq!(empty, [0.0; 3]);
    }

    #[test]
    fn group_accumulator_keeps_each_groups_order_and_skips_nulls() -> Result<()> {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(5.0),
            Some(2.0),
            Some(7.0),
        ]));
        let mut acc = MomentsGroupsAccumulator {
            part: MomentPart::M2,
            input: MomentInput::Values,
            moments: Vec::new(),
        };
        acc.update_batch(&[values], &[0, 0, 1, 0, 1], None, 2)?;
        let state = acc.state(EmitTo::All)?;
        let n = as_float64_array(&state[0])?;
        assert_eq!(n.values().to_vec(), vec![2.0, 2.0]);
        // Merging the state into a buffer accumulator gives the same parts.
        let mut merged = MomentsGroupsAccumulator {
            part: MomentPart::M2,
            input: MomentInput::Buffers,
            moments: Vec::new(),
        };
        merged.update_batch(&state, &[1, 0], None, 2)?;
        let m2 = merged.evaluate(EmitTo::All)?;
        let m2 = as_float64_array(&m2)?;
        assert_eq!(
            m2.values().to_vec(),
            vec![updated(&[5.0, 7.0])[2], updated(&[1.0, 2.0])[2]]
        );
        Ok(())
    }

    #[test]
    fn wrong_arity_is_an_error_not_a_panic() {
        let mut acc = MomentsAccumulator {
            part: MomentPart::Avg,
            input: MomentInput::Buffers,
            moments: [0.0; 3],
        };
        let one: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        assert!(acc.update_batch(&[one]).is_err());
    }
}
