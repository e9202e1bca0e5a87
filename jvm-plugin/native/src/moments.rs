// Licensed under the Apache License, Version 2.0.

//! Spark's moment statistics as DataFusion aggregates, each keeping Spark's aggregation buffer
//! and updating and merging it with Spark's formulas, each operation in Spark's order, so that
//! the doubles are Spark's bit for bit where the rows come in the same order:
//! - central moments (`CentralMomentAgg`, behind `stddev`, `stddev_pop`, `variance`,
//!   `var_pop`, `skewness` and `kurtosis`): `[n, avg, m2, m3, m4]`, the first 3, 4 or 5 of
//!   them by the function's moment order;
//! - co-moments of pairs (`Covariance` and `PearsonCorrelation`, behind `covar_pop`,
//!   `covar_samp` and `corr`): `[n, xAvg, yAvg, ck, xMk, yMk]`, the first 4 for covariances.
//!
//! One function gives one part of the buffer ([`MomentPart`], [`CoMomentPart`]); Spark's partial
//! stage is one per part over the values, its merge and final stages one per part over the
//! buffers ([`MomentInput`]).

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

use crate::sliding::{FrameFold, SlidingFrameAccumulator};

/// Which part of Spark's central-moment buffer `[n, avg, m2, m3, m4]` an aggregate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MomentPart {
    /// The count of values, as a double.
    N,
    /// Their running mean.
    Avg,
    /// The running sum of squared differences from the mean.
    M2,
    /// The same of cubed differences.
    M3,
    /// The same of differences to the fourth power.
    M4,
}

/// Which part of Spark's co-moment buffer `[n, xAvg, yAvg, ck, xMk, yMk]` an aggregate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoMomentPart {
    /// The count of pairs with neither value null, as a double.
    N,
    /// The running mean of x.
    XAvg,
    /// The running mean of y.
    YAvg,
    /// The running sum of products of x's and y's differences from their means.
    Ck,
    /// The same of x's squared differences.
    XMk,
    /// The same of y's squared differences.
    YMk,
}

/// What a [`SparkMoments`] aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MomentInput {
    /// Doubles (pairs of them for co-moments), rows with a null skipped (Spark's update).
    Values,
    /// Buffers of that many doubles, in the buffer's order (Spark's merge; the parts a buffer
    /// lacks are 0, as Spark's merge takes them).
    Buffers(usize),
}

/// Which statistic, and which part of its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stat {
    Central(MomentPart),
    Co(CoMomentPart),
}

impl Stat {
    /// The part's index in the buffer.
    fn index(self) -> usize {
        match self {
            Stat::Central(part) => part as usize,
            Stat::Co(part) => part as usize,
        }
    }
}

/// One part of a Spark moment buffer over values or buffers, in the order the rows come.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkMoments {
    stat: Stat,
    input: MomentInput,
    name: String,
    signature: Signature,
}

impl SparkMoments {
    /// The central-moment aggregate of `part` over `input`, or why there is none (buffers have
    /// 3 to 5 columns, `part` among them).
    pub fn udaf(
        part: MomentPart,
        input: MomentInput,
    ) -> std::result::Result<Arc<AggregateUDF>, String> {
        Self::build(Stat::Central(part), input, 1, 3..=5)
    }

    /// The co-moment aggregate of `part` over `input` (x and y, or buffers of 4 or 6 columns,
    /// `part` among them), or why there is none.
    pub fn co_udaf(
        part: CoMomentPart,
        input: MomentInput,
    ) -> std::result::Result<Arc<AggregateUDF>, String> {
        if input == MomentInput::Buffers(5) {
            return Err(format!("{part:?} of buffers of 5 columns"));
        }
        Self::build(Stat::Co(part), input, 2, 4..=6)
    }

    fn build(
        stat: Stat,
        input: MomentInput,
        values: usize,
        buffers: std::ops::RangeInclusive<usize>,
    ) -> std::result::Result<Arc<AggregateUDF>, String> {
        let (kind, part) = match stat {
            Stat::Central(part) => ("moment", format!("{part:?}")),
            Stat::Co(part) => ("comoment", format!("{part:?}")),
        };
        let arity = match input {
            MomentInput::Values => values,
            MomentInput::Buffers(columns) => {
                if !buffers.contains(&columns) || columns <= stat.index() {
                    return Err(format!("{part} of buffers of {columns} columns"));
                }
                columns
            }
        };
        let merge = if input == MomentInput::Values {
            ""
        } else {
            "merge_"
        };
        Ok(Arc::new(AggregateUDF::new_from_impl(Self {
            stat,
            input,
            name: format!("spark_{merge}{kind}_{}", part.to_lowercase()),
            signature: Signature::exact(vec![DataType::Float64; arity], Volatility::Immutable),
        })))
    }
}

/// A buffer: `[n, avg, m2, m3, m4, -]` or `[n, xAvg, yAvg, ck, xMk, yMk]`; its initial value is
/// zeros.
type Moments = [f64; 6];

/// `CentralMomentAgg.updateExpressions` for a non-null value `x`: all four moments (Spark
/// computes m3 and m4 only for skewness and kurtosis, from the same lower ones).
fn update(m: &mut Moments, x: f64) {
    let [n, avg, m2, m3, m4, _] = *m;
    let new_n = n + 1.0;
    let delta = x - avg;
    let delta_n = delta / new_n;
    let new_avg = avg + delta_n;
    let new_m2 = m2 + delta * (delta - delta_n);
    let delta2 = delta * delta;
    let delta_n2 = delta_n * delta_n;
    let new_m3 = m3 - 3.0 * delta_n * new_m2 + delta * (delta2 - delta_n2);
    let new_m4 = m4 - 4.0 * delta_n * new_m3 - 6.0 * delta_n2 * new_m2
        + delta * (delta * delta2 - delta_n * delta_n2);
    *m = [new_n, new_avg, new_m2, new_m3, new_m4, 0.0];
}

/// `CentralMomentAgg.mergeExpressions`: buffer `m` (left) merged with `r` (right).
fn merge(m: &mut Moments, r: &Moments) {
    let [n1, avg1, m2_1, m3_1, m4_1, _] = *m;
    let [n2, avg2, m2_2, m3_2, m4_2, _] = *r;
    let new_n = n1 + n2;
    let delta = avg2 - avg1;
    let delta_n = if new_n == 0.0 { 0.0 } else { delta / new_n };
    let new_avg = avg1 + delta_n * n2;
    let new_m2 = m2_1 + m2_2 + delta * delta_n * n1 * n2;
    let new_m3 = m3_1
        + m3_2
        + delta_n * delta_n * delta * n1 * n2 * (n1 - n2)
        + 3.0 * delta_n * (n1 * m2_2 - n2 * m2_1);
    let new_m4 = m4_1
        + m4_2
        + delta_n * delta_n * delta_n * delta * n1 * n2 * (n1 * n1 - n1 * n2 + n2 * n2)
        + 6.0 * delta_n * delta_n * (n1 * n1 * m2_2 + n2 * n2 * m2_1)
        + 4.0 * delta_n * (n1 * m3_2 - n2 * m3_1);
    *m = [new_n, new_avg, new_m2, new_m3, new_m4, 0.0];
}

/// `PearsonCorrelation.updateExpressions` (whose first four parts are `Covariance`'s) for a
/// pair with neither value null.
fn co_update(m: &mut Moments, x: f64, y: f64) {
    let [n, x_avg, y_avg, ck, x_mk, y_mk] = *m;
    let new_n = n + 1.0;
    let dx = x - x_avg;
    let dx_n = dx / new_n;
    let dy = y - y_avg;
    let dy_n = dy / new_n;
    let new_x_avg = x_avg + dx_n;
    let new_y_avg = y_avg + dy_n;
    let new_ck = ck + dx * (y - new_y_avg);
    let new_x_mk = x_mk + dx * (x - new_x_avg);
    let new_y_mk = y_mk + dy * (y - new_y_avg);
    *m = [new_n, new_x_avg, new_y_avg, new_ck, new_x_mk, new_y_mk];
}

/// `PearsonCorrelation.mergeExpressions` (and `Covariance`'s first four).
fn co_merge(m: &mut Moments, r: &Moments) {
    let [n1, x_avg1, y_avg1, ck1, x_mk1, y_mk1] = *m;
    let [n2, x_avg2, y_avg2, ck2, x_mk2, y_mk2] = *r;
    let new_n = n1 + n2;
    let dx = x_avg2 - x_avg1;
    let dx_n = if new_n == 0.0 { 0.0 } else { dx / new_n };
    let dy = y_avg2 - y_avg1;
    let dy_n = if new_n == 0.0 { 0.0 } else { dy / new_n };
    let new_x_avg = x_avg1 + dx_n * n2;
    let new_y_avg = y_avg1 + dy_n * n2;
    let new_ck = ck1 + ck2 + dx * dy_n * n1 * n2;
    let new_x_mk = x_mk1 + x_mk2 + dx * dx_n * n1 * n2;
    let new_y_mk = y_mk1 + y_mk2 + dy * dy_n * n1 * n2;
    *m = [new_n, new_x_avg, new_y_avg, new_ck, new_x_mk, new_y_mk];
}

/// Whether row `i` passes DataFusion's optional aggregate filter.
pub(crate) fn selected(filter: Option<&BooleanArray>, i: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(i) && f.value(i))
}

/// Folds the rows of `values` (the values, or the columns of buffers) into `target(row)`.
fn fold(
    stat: Stat,
    input: MomentInput,
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    moments: &mut [Moments],
) -> Result<()> {
    match (input, stat) {
        (MomentInput::Values, Stat::Central(_)) => {
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
        (MomentInput::Values, Stat::Co(_)) => {
            let [x, y] = values else {
                return internal_err!("spark co-moments take two columns of values");
            };
            let (x, y) = (as_float64_array(x)?, as_float64_array(y)?);
            for i in 0..x.len() {
                if x.is_valid(i) && y.is_valid(i) && selected(filter, i) {
                    co_update(&mut moments[target(i)], x.value(i), y.value(i));
                }
            }
        }
        (MomentInput::Buffers(_), _) => merge_buffers(stat, values, filter, target, moments)?,
    }
    Ok(())
}

/// Merges the buffers in columns `values` (rows with a null part are no buffer).
fn merge_buffers(
    stat: Stat,
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut target: impl FnMut(usize) -> usize,
    moments: &mut [Moments],
) -> Result<()> {
    if !(3..=6).contains(&values.len()) {
        return internal_err!(
            "spark moment buffers are 3 to 6 columns, not {}",
            values.len()
        );
    }
    let columns = values
        .iter()
        .map(|v| as_float64_array(v))
        .collect::<Result<Vec<_>>>()?;
    for i in 0..columns[0].len() {
        if columns.iter().all(|c| c.is_valid(i)) && selected(filter, i) {
            let mut right = [0.0; 6];
            for (part, column) in right.iter_mut().zip(&columns) {
                *part = column.value(i);
            }
            match stat {
                Stat::Central(_) => merge(&mut moments[target(i)], &right),
                Stat::Co(_) => co_merge(&mut moments[target(i)], &right),
            }
        }
    }
    Ok(())
}

impl AggregateUDFImpl for SparkMoments {
    fn name(&self) -> &str {
        &self.name
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

    /// An empty window frame's part: Spark's initial buffer, zeros.
    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(Some(0.0)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok((0..6)
            .map(|k| {
                Arc::new(Field::new(
                    format_state_name(args.name, &format!("part{k}")),
                    DataType::Float64,
                    false,
                ))
            })
            .collect())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(MomentsAccumulator {
            stat: self.stat,
            input: self.input,
            moments: [0.0; 6],
        }))
    }

    fn create_sliding_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.input != MomentInput::Values {
            return internal_err!("{} does not slide over a window's frame", self.name);
        }
        Ok(Box::new(SlidingFrameAccumulator::new(MomentsFold {
            stat: self.stat,
            name: self.name.clone(),
        })))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MomentsGroupsAccumulator {
            stat: self.stat,
            input: self.input,
            moments: Vec::new(),
        }))
    }
}

/// [`SparkMoments`] without groups.
#[derive(Debug)]
struct MomentsAccumulator {
    stat: Stat,
    input: MomentInput,
    moments: Moments,
}

impl Accumulator for MomentsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        fold(
            self.stat,
            self.input,
            values,
            None,
            |_| 0,
            std::slice::from_mut(&mut self.moments),
        )
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        merge_buffers(
            self.stat,
            states,
            None,
            |_| 0,
            std::slice::from_mut(&mut self.moments),
        )
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .moments
            .iter()
            .map(|v| ScalarValue::Float64(Some(*v)))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(Some(self.moments[self.stat.index()])))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// [`SparkMoments`] over values in a window's sliding frame ([`crate::sliding`]): the frame's
/// values (pairs with neither null, for co-moments), folded again from a zero buffer each time
/// the part is read.
#[derive(Debug)]
struct MomentsFold {
    stat: Stat,
    name: String,
}

impl MomentsFold {
    fn folded(&self, values: &VecDeque<(f64, f64)>) -> Moments {
        let mut m = [0.0; 6];
        for &(x, y) in values {
            match self.stat {
                Stat::Central(_) => update(&mut m, x),
                Stat::Co(_) => co_update(&mut m, x, y),
            }
        }
        m
    }
}

impl FrameFold for MomentsFold {
    /// A value (y is 0 for central moments) or a pair.
    type Value = (f64, f64);

    fn name(&self) -> &str {
        &self.name
    }

    fn read(&self, values: &[ArrayRef]) -> Result<Vec<(f64, f64)>> {
        match (self.stat, values) {
            (Stat::Central(_), [x]) => Ok(as_float64_array(x)?
                .iter()
                .flatten()
                .map(|x| (x, 0.0))
                .collect()),
            (Stat::Co(_), [x, y]) => Ok(as_float64_array(x)?
                .iter()
                .zip(as_float64_array(y)?.iter())
                .filter_map(|(x, y)| Some((x?, y?)))
                .collect()),
            _ => internal_err!("spark moments take one column of values, co-moments two"),
        }
    }

    fn state(&self, values: &VecDeque<(f64, f64)>) -> Vec<ScalarValue> {
        self.folded(values)
            .iter()
            .map(|v| ScalarValue::Float64(Some(*v)))
            .collect()
    }

    fn evaluate(&self, values: &VecDeque<(f64, f64)>) -> ScalarValue {
        ScalarValue::Float64(Some(self.folded(values)[self.stat.index()]))
    }
}

/// Buffers as six columns.
fn columns(moments: &[Moments]) -> Vec<ArrayRef> {
    (0..6)
        .map(|k| Arc::new(Float64Array::from_iter_values(moments.iter().map(|m| m[k]))) as ArrayRef)
        .collect()
}

/// [`SparkMoments`] by group.
#[derive(Debug)]
struct MomentsGroupsAccumulator {
    stat: Stat,
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
        self.moments.resize(total_num_groups, [0.0; 6]);
        fold(
            self.stat,
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
        self.moments.resize(total_num_groups, [0.0; 6]);
        merge_buffers(
            self.stat,
            values,
            None,
            |i| group_indices[i],
            &mut self.moments,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let part = self.stat.index();
        let moments = emit_to.take_needed(&mut self.moments);
        Ok(Arc::new(Float64Array::from_iter_values(
            moments.iter().map(|m| m[part]),
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
        let mut moments = vec![[0.0; 6]; rows];
        fold(
            self.stat,
            self.input,
            values,
            opt_filter,
            |i| i,
            &mut moments,
        )?;
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
        let mut m = [0.0; 6];
        values.iter().for_each(|&x| update(&mut m, x));
        m
    }

    #[test]
    fn updates_follow_sparks_formulas() {
        let m = updated(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m[..3], [4.0, 2.5, 5.0]);
        // Symmetric values: m3 is 0; m4 = sum of (x - 2.5)^4 = 2 * (1.5^4 + 0.5^4).
        assert_eq!(m[3], 0.0);
        assert_eq!(m[4], 10.25);
        // Spark's `SELECT var_samp(col) FROM VALUES (1), (2), (3)` is 1.0, var_pop 2/3.
        let m = updated(&[1.0, 2.0, 3.0]);
        assert_eq!(m[2] / (m[0] - 1.0), 1.0);
        assert_eq!(m[2] / m[0], 0.6666666666666666);
        // Spark's documented skewness of (-10), (-20), (100), (1000) is 1.1135657469022013, its
        // kurtosis -0.7014368047529618 (CentralMomentAgg's examples; their last bits depend on
        // how Spark's tests split the rows between tasks: test_aggregate.py compares bit for
        // bit with Spark over one task).
        let m = updated(&[-10.0, -20.0, 100.0, 1000.0]);
        let skewness = m[0].sqrt() * m[3] / (m[2] * m[2] * m[2]).sqrt();
        let kurtosis = m[0] * m[4] / (m[2] * m[2]) - 3.0;
        assert!((skewness - 1.1135657469022013).abs() < 1e-14, "{skewness}");
        assert!((kurtosis - -0.7014368047529618).abs() < 1e-14, "{kurtosis}");
        // A NaN or an infinity makes the mean and m2 NaN, as in Spark.
        assert!(updated(&[1.0, f64::NAN, 2.0])[2].is_nan());
        assert!(updated(&[1.0, f64::INFINITY])[2].is_nan());
    }

    #[test]
    fn merging_follows_sparks_formulas() {
        let (a, b) = (updated(&[1.0, 2.0, 3.0]), updated(&[10.0, 20.0]));
        let mut m = [0.0; 6];
        merge(&mut m, &a);
        assert_eq!(m, a, "merging into the initial buffer keeps a buffer");
        merge(&mut m, &b);
        let whole = updated(&[1.0, 2.0, 3.0, 10.0, 20.0]);
        assert_eq!(m[0], 5.0);
        for k in 1..5 {
            assert!(
                (m[k] - whole[k]).abs() <= 1e-9 * whole[k].abs().max(1.0),
                "{m:?} {whole:?}"
            );
        }
        // Two empty buffers stay empty (no division by a zero count).
        let mut empty = [0.0; 6];
        merge(&mut empty, &[0.0; 6]);
        assert_eq!(empty, [0.0; 6]);
    }

    #[test]
    fn co_moments_follow_sparks_formulas() {
        // Spark's corr of (3, 2), (3, 3), (6, 4) is 0.8660254037844387 (its example).
        let mut m = [0.0; 6];
        for (x, y) in [(3.0, 2.0), (3.0, 3.0), (6.0, 4.0)] {
            co_update(&mut m, x, y);
        }
        assert_eq!(m[..3], [3.0, 4.0, 3.0]);
        assert!((m[3] / (m[4] * m[5]).sqrt() - 0.8660254037844387).abs() < 1e-15);
        // covar_pop of the same: ck / n = 3 / 3.
        assert_eq!(m[3] / m[0], 1.0);
        // Merging two halves gives the same buffer, to rounding.
        let (mut a, mut b) = ([0.0; 6], [0.0; 6]);
        co_update(&mut a, 3.0, 2.0);
        co_update(&mut b, 3.0, 3.0);
        co_update(&mut b, 6.0, 4.0);
        let mut merged = [0.0; 6];
        co_merge(&mut merged, &a);
        co_merge(&mut merged, &b);
        for k in 0..6 {
            assert!((merged[k] - m[k]).abs() < 1e-12, "{merged:?} {m:?}");
        }
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
            stat: Stat::Central(MomentPart::M2),
            input: MomentInput::Values,
            moments: Vec::new(),
        };
        acc.update_batch(&[values], &[0, 0, 1, 0, 1], None, 2)?;
        let state = acc.state(EmitTo::All)?;
        let n = as_float64_array(&state[0])?;
        assert_eq!(n.values().to_vec(), vec![2.0, 2.0]);
        // Merging the state (as Spark's 3-column buffers of stddev) gives the same parts.
        let mut merged = MomentsGroupsAccumulator {
            stat: Stat::Central(MomentPart::M2),
            input: MomentInput::Buffers(3),
            moments: Vec::new(),
        };
        merged.update_batch(&state[..3], &[1, 0], None, 2)?;
        let m2 = merged.evaluate(EmitTo::All)?;
        let m2 = as_float64_array(&m2)?;
        assert_eq!(
            m2.values().to_vec(),
            vec![updated(&[5.0, 7.0])[2], updated(&[1.0, 2.0])[2]]
        );
        Ok(())
    }

    #[test]
    fn a_sliding_frame_folds_its_values_again_from_zero() -> Result<()> {
        let column = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
        let mut acc = SlidingFrameAccumulator::new(MomentsFold {
            stat: Stat::Central(MomentPart::M2),
            name: "test".to_string(),
        });
        acc.update_batch(&[column(vec![
            Some(1e8),
            None,
            Some(1.0),
            Some(2.0),
            Some(4.0),
        ])])?;
        assert_eq!(
            acc.evaluate()?,
            ScalarValue::Float64(Some(updated(&[1e8, 1.0, 2.0, 4.0])[2]))
        );
        // Without 1e8 (and the null after it): Spark's update of 1, 2, 4 from a zero buffer.
        acc.retract_batch(&[column(vec![Some(1e8), None])])?;
        assert_eq!(
            acc.evaluate()?,
            ScalarValue::Float64(Some(updated(&[1.0, 2.0, 4.0])[2]))
        );
        assert!(acc.retract_batch(&[column(vec![Some(1.0); 4])]).is_err());
        // Co-moments read the pairs with neither value null.
        let mut acc = SlidingFrameAccumulator::new(MomentsFold {
            stat: Stat::Co(CoMomentPart::N),
            name: "test".to_string(),
        });
        acc.update_batch(&[
            column(vec![Some(1.0), None, Some(3.0)]),
            column(vec![Some(2.0), Some(5.0), None]),
        ])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Float64(Some(1.0)));
        Ok(())
    }

    #[test]
    fn wrong_arity_is_an_error_not_a_panic() {
        let mut acc = MomentsAccumulator {
            stat: Stat::Central(MomentPart::Avg),
            input: MomentInput::Buffers(3),
            moments: [0.0; 6],
        };
        let one: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        assert!(acc.update_batch(&[one]).is_err());
        assert!(SparkMoments::udaf(MomentPart::M3, MomentInput::Buffers(3)).is_err());
        assert!(SparkMoments::udaf(MomentPart::M2, MomentInput::Buffers(6)).is_err());
        assert!(SparkMoments::udaf(MomentPart::M4, MomentInput::Buffers(5)).is_ok());
        assert!(SparkMoments::co_udaf(CoMomentPart::XMk, MomentInput::Buffers(4)).is_err());
        assert!(SparkMoments::co_udaf(CoMomentPart::Ck, MomentInput::Buffers(5)).is_err());
        assert!(SparkMoments::co_udaf(CoMomentPart::Ck, MomentInput::Buffers(4)).is_ok());
    }
}
