// Licensed under the Apache License, Version 2.0.

//! Spark's HyperLogLog++ (`approx_count_distinct(x, relativeSD)`), as its
//! `HyperLogLogPlusPlusHelper` computes it, so the native estimate is Spark's own.
//!
//! A sketch of precision `p` (Spark's `ceil(2 * log2(1.106 / relativeSD))`, 9 for the default
//! 0.05) has `m = 2^p` registers of 6 bits, packed ten to a long: Spark's aggregation buffer
//! is `m / 10 + 1` longs, register `i` in word `i / 10` at bit `6 * (i % 10)`. Each non-null
//! value's hash `x` (Spark's `XxHash64` with seed 42, [`crate::spark_hash`]; floats with
//! `-0.0` as `0.0` and one NaN, as Spark normalizes them first) picks register `x >>> (64 - p)`
//! and offers it the number of leading zeros of `(x << p) | 1 << (p - 1)`, plus one; a register
//! keeps its largest offer. Merging sketches keeps each register's largest value.
//!
//! The estimate ([`estimate`]) is Spark's `query`: the raw estimate `E = alpha * m^2 / sum(2^-M)`
//! (the sum in register order), linear counting `H = m * ln(m / V)` where `V` registers are
//! zero and `H` is at most the precision's threshold (or `E <= 2.5 m`), else `E` less its bias
//! (interpolated from the six nearest of Spark's empirical raw estimates, [`crate::hll_tables`])
//! where `E < 5 m`, rounded as `Math.round`.
//!
//! One step is not bit for bit: Spark takes `ln` from `java.lang.Math.log`, which HotSpot
//! computes with an intrinsic whose last bit can differ from `StrictMath.log`, used here. `V`
//! takes only `m` values for each precision, and for every one of them a logarithm a few ulps
//! off gives the same rounded `H` and the same comparison with the threshold (a test checks all
//! precisions), so the estimate is Spark's.
//!
//! Natively a sketch is a binary value (large binary: a partition's sketches can pass 2 GiB):
//! its words, little-endian. The `hll_sketch` aggregate
//! reads values, `merge_hll` reads Spark's buffers (one bigint column per word); both give a
//! sketch, and [`HllRead`] reads a sketch's words and estimate.

use std::fmt;
use std::hash::Hash;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, LargeBinaryBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;

use crate::hll_tables::{BIAS_DATA, RAW_ESTIMATE_DATA, THRESHOLDS};
use crate::moments::selected;
use crate::spark_hash::{XxHash64, update_hashes, xxhash64};
use crate::strict_math;
use crate::timestamp::java_round;
use crate::unary::{evaluate_unary, only_child};

/// The smallest precision (Spark requires `relativeSD` of at most 0.39).
pub const MIN_PRECISION: u8 = 4;

/// The largest precision native (`relativeSD` of 0.00217 and up); Spark's bias tables end
/// here too.
pub const MAX_PRECISION: u8 = 18;

/// Bits per register.
const REGISTER_SIZE: u32 = 6;

/// Registers per 64-bit word.
const REGISTERS_PER_WORD: usize = 10;

/// One register's bits.
const REGISTER_WORD_MASK: u64 = (1 << REGISTER_SIZE) - 1;

/// The nearest raw estimates the bias is interpolated from (Spark's `K`).
const K: usize = 6;

/// The registers of precision `p`.
pub fn registers(p: u8) -> usize {
    1 << p
}

/// The words of Spark's buffer of precision `p` (its `numWords`).
pub fn num_words(p: u8) -> usize {
    registers(p) / REGISTERS_PER_WORD + 1
}

/// Whether `p` is a precision native sketches take.
fn check_precision(p: u8) -> Result<()> {
    if (MIN_PRECISION..=MAX_PRECISION).contains(&p) {
        Ok(())
    } else {
        internal_err!("HyperLogLog++ precision {p} is outside {MIN_PRECISION} to {MAX_PRECISION}")
    }
}

/// Offers register `hash >>> (64 - p)` the leading zeros of the hash's other bits, plus one.
fn offer(registers: &mut [u8], p: u8, hash: i64) {
    let x = hash as u64;
    let index = (x >> (64 - u32::from(p))) as usize;
    let padding = 1u64 << (p - 1);
    let rank = ((x << p) | padding).leading_zeros() as u8 + 1;
    let register = &mut registers[index];
    if rank > *register {
        *register = rank;
    }
}

/// Keeps each register's largest value of `registers` and Spark's buffer word `word` (of
/// registers `10 * w` on).
fn merge_word(registers: &mut [u8], w: usize, word: u64) {
    let first = w * REGISTERS_PER_WORD;
    let end = (first + REGISTERS_PER_WORD).min(registers.len());
    for (r, register) in registers[first..end].iter_mut().enumerate() {
        let value = ((word >> (REGISTER_SIZE as usize * r)) & REGISTER_WORD_MASK) as u8;
        if value > *register {
            *register = value;
        }
    }
}

/// Spark's buffer word `w` of `registers`.
fn word(registers: &[u8], w: usize) -> u64 {
    let first = w * REGISTERS_PER_WORD;
    let end = (first + REGISTERS_PER_WORD).min(registers.len());
    registers[first..end]
        .iter()
        .enumerate()
        .fold(0, |word, (r, &value)| {
            word | (u64::from(value) << (REGISTER_SIZE as usize * r))
        })
}

/// Appends the sketch of `registers` (precision `p`): its words, little-endian.
fn append_sketch(out: &mut LargeBinaryBuilder, registers: &[u8], p: u8) {
    let bytes: Vec<u8> = (0..num_words(p))
        .flat_map(|w| word(registers, w).to_le_bytes())
        .collect();
    out.append_value(bytes);
}

/// Keeps each register's largest value of `registers` and of `sketch` (precision `p`).
fn merge_sketch(registers: &mut [u8], p: u8, sketch: &[u8]) -> Result<()> {
    if sketch.len() != num_words(p) * 8 {
        return internal_err!(
            "a HyperLogLog++ sketch of precision {p} has {} bytes, not {}",
            sketch.len(),
            num_words(p) * 8
        );
    }
    for (w, bytes) in sketch.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        merge_word(registers, w, word);
    }
    Ok(())
}

/// Java's `Arrays.binarySearch(a, key)` over doubles: the index of `key`, else `-(insertion
/// point) - 1`.
fn java_binary_search(a: &[f64], key: f64) -> isize {
    let (mut low, mut high) = (0isize, a.len() as isize - 1);
    while low <= high {
        let mid = (low + high) / 2;
        let value = a[mid as usize];
        if value < key {
            low = mid + 1;
        } else if value > key {
            high = mid - 1;
        } else {
            // Equal as doubles: ordered by their bits (-0.0 before 0.0; NaNs).
            let (mid_bits, key_bits) = (value.to_bits() as i64, key.to_bits() as i64);
            match mid_bits.cmp(&key_bits) {
                std::cmp::Ordering::Equal => return mid,
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid - 1,
            }
        }
    }
    -(low + 1)
}

/// Spark's `estimateBias(e)`: the mean bias of the `K` raw estimates of precision `p` nearest
/// to `e`.
fn estimate_bias(e: f64, p: u8) -> f64 {
    let estimates = RAW_ESTIMATE_DATA[usize::from(p - MIN_PRECISION)];
    let n = estimates.len();
    let nearest = match java_binary_search(estimates, e) {
        ix if ix < 0 => (-(ix + 1)) as usize,
        ix => ix as usize,
    };
    let distance = |i: usize| {
        let d = e - estimates[i];
        d * d
    };
    let mut low = (nearest + 1).saturating_sub(K);
    let mut high = (low + K).min(n);
    while high < n && distance(high) < distance(low) {
        low += 1;
        high += 1;
    }
    let biases = BIAS_DATA[usize::from(p - MIN_PRECISION)];
    let sum = biases[low..high].iter().fold(0.0, |sum, b| sum + b);
    sum / (high - low) as f64
}

/// `alpha * m^2` of precision `p`, as Spark computes it.
fn alpha_m2(p: u8) -> f64 {
    let m = registers(p) as f64;
    match p {
        4 => 0.673 * m * m,
        5 => 0.697 * m * m,
        6 => 0.709 * m * m,
        _ => 0.7213 / (1.0 + 1.079 / m) * m * m,
    }
}

/// Linear counting's `m * ln(m / v)`.
fn linear_count(m: f64, v: f64) -> f64 {
    m * strict_math::log(m / v)
}

/// Spark's estimate of the distinct values a sketch of precision `p` saw (see the module docs).
pub fn estimate(registers: &[u8], p: u8) -> i64 {
    let m = registers.len() as f64;
    let mut z_inverse = 0.0;
    let mut v = 0.0;
    for &register in registers {
        z_inverse += 1.0 / (1u64 << register) as f64;
        if register == 0 {
            v += 1.0;
        }
    }
    let e = alpha_m2(p) / z_inverse;
    let bias_corrected = || {
        if e < 5.0 * m {
            e - estimate_bias(e, p)
        } else {
            e
        }
    };
    let estimate = if v > 0.0 {
        let h = linear_count(m, v);
        if h <= THRESHOLDS[usize::from(p - MIN_PRECISION)] || e <= 2.5 * m {
            h
        } else {
            bias_corrected()
        }
    } else {
        bias_corrected()
    };
    java_round(estimate)
}

/// The sketch aggregates: `hll_sketch` of values, `merge_hll` of Spark's buffer words.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkHll {
    precision: u8,
    merge: bool,
    signature: Signature,
}

impl SparkHll {
    /// The aggregate of precision `precision`: of values (hashed as Spark's `XxHash64`), or
    /// with `merge` of Spark's buffers (`num_words` bigint columns).
    pub fn udaf(precision: u8, merge: bool) -> Result<Arc<AggregateUDF>> {
        check_precision(precision)?;
        let signature = if merge {
            Signature::exact(
                vec![DataType::Int64; num_words(precision)],
                Volatility::Immutable,
            )
        } else {
            Signature::any(1, Volatility::Immutable)
        };
        Ok(Arc::new(AggregateUDF::new_from_impl(Self {
            precision,
            merge,
            signature,
        })))
    }

    fn groups(&self) -> HllGroups {
        HllGroups {
            precision: self.precision,
            merge: self.merge,
            registers: Vec::new(),
        }
    }
}

impl AggregateUDFImpl for SparkHll {
    fn name(&self) -> &str {
        if self.merge {
            "spark_merge_hll"
        } else {
            "spark_hll_sketch"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeBinary)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sketch"),
            DataType::LargeBinary,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(HllAccumulator(self.groups())))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups()))
    }
}

/// The sketches of groups: `registers(p)` registers each, one byte per register.
#[derive(Debug)]
struct HllGroups {
    precision: u8,
    merge: bool,
    registers: Vec<u8>,
}

impl HllGroups {
    fn m(&self) -> usize {
        registers(self.precision)
    }

    fn resize(&mut self, groups: usize) {
        self.registers.resize(groups * self.m(), 0);
    }

    /// Reads the rows of `values` that pass `filter` into the sketch of `group(row)`.
    fn update(
        &mut self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let (p, m) = (self.precision, self.m());
        if self.merge {
            let words = values
                .iter()
                .map(|c| c.as_primitive_opt::<Int64Type>())
                .collect::<Option<Vec<_>>>();
            let Some(words) = words.filter(|w| w.len() == num_words(p)) else {
                return internal_err!(
                    "merge_hll of precision {p} takes {} bigint columns",
                    num_words(p)
                );
            };
            for i in 0..words[0].len() {
                if !selected(filter, i) {
                    continue;
                }
                let g = group(i);
                let registers = &mut self.registers[g * m..(g + 1) * m];
                for (w, column) in words.iter().enumerate() {
                    // (Spark's buffers are never null; a null word would read as 0.)
                    if column.is_valid(i) {
                        merge_word(registers, w, column.value(i) as u64);
                    }
                }
            }
        } else {
            let [x] = values else {
                return internal_err!("hll_sketch takes one column");
            };
            let mut hashes = vec![xxhash64::SEED; x.len()];
            update_hashes::<XxHash64>(x.as_ref(), &mut hashes)
                .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
            for (i, &hash) in hashes.iter().enumerate() {
                if x.is_valid(i) && selected(filter, i) {
                    let g = group(i);
                    offer(&mut self.registers[g * m..(g + 1) * m], p, hash);
                }
            }
        }
        Ok(())
    }

    /// Merges the sketches of `states` into the sketch of `group(row)`.
    fn merge(&mut self, states: &[ArrayRef], group: impl Fn(usize) -> usize) -> Result<()> {
        let [sketches] = states else {
            return internal_err!("a HyperLogLog++ state is one column");
        };
        let Some(sketches) = sketches.as_binary_opt::<i64>() else {
            return internal_err!("a HyperLogLog++ state of {}", sketches.data_type());
        };
        let (p, m) = (self.precision, self.m());
        for (i, sketch) in sketches.iter().enumerate() {
            if let Some(sketch) = sketch {
                let g = group(i);
                merge_sketch(&mut self.registers[g * m..(g + 1) * m], p, sketch)?;
            }
        }
        Ok(())
    }

    /// The sketches of the groups `emit_to` takes, which leave.
    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        let m = self.m();
        let groups = self.registers.len() / m;
        let taken = match emit_to {
            EmitTo::All => std::mem::take(&mut self.registers),
            EmitTo::First(n) => {
                let n = n.min(groups);
                let rest = self.registers.split_off(n * m);
                std::mem::replace(&mut self.registers, rest)
            }
        };
        let mut out = LargeBinaryBuilder::with_capacity(taken.len() / m, taken.len());
        for registers in taken.chunks_exact(m) {
            append_sketch(&mut out, registers, self.precision);
        }
        Arc::new(out.finish())
    }
}

impl GroupsAccumulator for HllGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.update(values, opt_filter, |i| group_indices[i])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.merge(values, |i| group_indices[i])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.emit(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)])
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // (A sketch per row would take 2^p bytes each; the plans here aggregate in one stage.)
        datafusion::common::not_impl_err!("HyperLogLog++ sketches of single rows")
    }

    fn size(&self) -> usize {
        self.registers.capacity() + size_of::<Self>()
    }
}

/// One sketch (no groups): a [`HllGroups`] of one group.
#[derive(Debug)]
struct HllAccumulator(HllGroups);

impl HllAccumulator {
    fn one(&mut self) -> Result<ScalarValue> {
        let m = self.0.m();
        let mut out = LargeBinaryBuilder::with_capacity(1, num_words(self.0.precision) * 8);
        self.0.resize(1);
        append_sketch(&mut out, &self.0.registers[..m], self.0.precision);
        ScalarValue::try_from_array(&out.finish(), 0)
    }
}

impl Accumulator for HllAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.update(values, None, |_| 0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.merge(states, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.one()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.one()
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

/// What [`HllRead`] reads of a sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SketchRead {
    /// A word: Spark's buffer column of that index.
    Word(usize),
    /// Spark's estimate of the distinct values, of a sketch of that precision.
    Estimate(u8),
}

/// A bigint read from each of `child`'s sketches (binary; null for a null sketch): a word of
/// Spark's buffer, or Spark's estimate.
#[derive(Debug, Eq)]
pub struct HllRead {
    child: Arc<dyn PhysicalExpr>,
    read: SketchRead,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for HllRead {
    fn eq(&self, other: &Self) -> bool {
        self.read == other.read && self.child.eq(&other.child)
    }
}

impl Hash for HllRead {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.read.hash(state);
    }
}

impl HllRead {
    /// Word `index` of the sketches of `child`: Spark's buffer column `index`.
    pub fn word(child: Arc<dyn PhysicalExpr>, index: usize) -> Self {
        Self {
            child,
            read: SketchRead::Word(index),
        }
    }

    /// Spark's estimates of the sketches of `child`, of precision `precision`.
    pub fn estimate(child: Arc<dyn PhysicalExpr>, precision: u8) -> Result<Self> {
        check_precision(precision)?;
        Ok(Self {
            child,
            read: SketchRead::Estimate(precision),
        })
    }

    /// What this reads of one sketch.
    fn read(&self, sketch: &[u8]) -> Result<i64> {
        match self.read {
            SketchRead::Word(index) => match sketch.get(index * 8..index * 8 + 8) {
                Some(bytes) => Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes"))),
                None => internal_err!("a sketch of {} bytes has no word {index}", sketch.len()),
            },
            SketchRead::Estimate(p) => {
                let mut registers = vec![0u8; registers(p)];
                merge_sketch(&mut registers, p, sketch)?;
                Ok(estimate(&registers, p))
            }
        }
    }
}

impl fmt::Display for HllRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.read {
            SketchRead::Word(index) => write!(f, "hll_word({}, {index})", self.child),
            SketchRead::Estimate(p) => write!(f, "hll_estimate({}, {p})", self.child),
        }
    }
}

impl PhysicalExpr for HllRead {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let Some(sketches) = a.as_binary_opt::<i64>() else {
                return internal_err!("{self} of {}", a.data_type());
            };
            let values = sketches
                .iter()
                .map(|s| s.map(|s| self.read(s)).transpose())
                .collect::<Result<Int64Array>>()?;
            Ok(Arc::new(values) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self {
            child: only_child(&self, children)?,
            read: self.read,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, StringArray};

    /// The estimate of `values`' sketch of precision `p`, as the aggregate gives it.
    fn approx_count_distinct(values: ArrayRef, p: u8) -> i64 {
        let mut acc = HllAccumulator(HllGroups {
            precision: p,
            merge: false,
            registers: Vec::new(),
        });
        acc.update_batch(&[values]).unwrap();
        let ScalarValue::LargeBinary(Some(sketch)) = acc.evaluate().unwrap() else {
            panic!("a sketch")
        };
        let mut registers = vec![0; registers(p)];
        merge_sketch(&mut registers, p, &sketch).unwrap();
        estimate(&registers, p)
    }

    fn range(n: i64) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(0..n))
    }

    /// `approx_count_distinct(id)`, `(id, 0.3)` (precision 4), `(id, 0.01)` (precision 14)
    /// and `(CAST(id AS STRING))` over `range(n)` on Spark 4.0.1.
    #[test]
    fn estimates_equal_sparks() {
        for (n, expected) in [
            (0, [0, 0, 0, 0]),
            (1, [1, 1, 1, 1]),
            (2, [2, 2, 2, 2]),
            (10, [10, 13, 10, 10]),
            (100, [103, 80, 100, 104]),
            (200, [195, 191, 199, 202]),
            (300, [296, 302, 301, 296]),
            (500, [484, 374, 500, 492]),
            (1000, [1026, 979, 996, 1034]),
            (2000, [1947, 2442, 2013, 1937]),
            (5000, [4671, 5387, 4957, 4632]),
            (10000, [9571, 8019, 9965, 9093]),
            (100000, [95546, 78139, 100425, 97299]),
        ] {
            let strings: ArrayRef =
                Arc::new(StringArray::from_iter_values((0..n).map(|i| i.to_string())));
            let got = [
                approx_count_distinct(range(n), 9),
                approx_count_distinct(range(n), 4),
                approx_count_distinct(range(n), 14),
                approx_count_distinct(strings, 9),
            ];
            assert_eq!(got, expected, "range({n})");
        }
    }

    /// Nulls are skipped; `-0.0` is `0.0` and every NaN one value, as Spark normalizes floats.
    #[test]
    fn nulls_skipped_and_floats_normalized() {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(-0.0),
            None,
            Some(f64::NAN),
            Some(-f64::NAN),
            Some(1.5),
        ]));
        assert_eq!(approx_count_distinct(values, 9), 3);
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None, None]));
        assert_eq!(approx_count_distinct(nulls, 9), 0);
    }

    /// Sketches merged from Spark's buffer words, from states and by group equal the sketch of
    /// all the values; a filter skips rows.
    #[test]
    fn merges_agree_with_one_sketch() -> Result<()> {
        let p = 9;
        let all = range(3000);
        let mut whole = HllGroups {
            precision: p,
            merge: false,
            registers: Vec::new(),
        };
        whole.update_batch(&[Arc::clone(&all)], &vec![0; 3000], None, 1)?;
        let whole = whole.evaluate(EmitTo::All)?;

        // Two groups of halves, then their words merged into one group.
        let mut halves = HllGroups {
            precision: p,
            merge: false,
            registers: Vec::new(),
        };
        let groups: Vec<usize> = (0..3000).map(|i| i % 2).collect();
        halves.update_batch(&[Arc::clone(&all)], &groups, None, 2)?;
        let sketches = halves.evaluate(EmitTo::All)?;
        let words: Vec<ArrayRef> = (0..num_words(p))
            .map(|w| {
                let column = HllRead::word(
                    Arc::new(datafusion::physical_expr::expressions::Column::new("s", 0)),
                    w,
                );
                let schema = Arc::new(Schema::new(vec![Field::new(
                    "s",
                    DataType::LargeBinary,
                    false,
                )]));
                let batch = RecordBatch::try_new(schema, vec![Arc::clone(&sketches)]).unwrap();
                column.evaluate(&batch).unwrap().into_array(2).unwrap()
            })
            .collect();
        let mut merged = HllGroups {
            precision: p,
            merge: true,
            registers: Vec::new(),
        };
        merged.update_batch(&words, &[0, 0], None, 1)?;
        assert_eq!(merged.evaluate(EmitTo::All)?.as_ref(), whole.as_ref());

        // States merged, the first group emitted alone.
        let mut states = HllGroups {
            precision: p,
            merge: false,
            registers: Vec::new(),
        };
        states.merge_batch(&[Arc::clone(&sketches)], &[1, 1], 2)?;
        let first = states.evaluate(EmitTo::First(1))?;
        assert_eq!(first.len(), 1);
        assert_eq!(
            first.as_binary::<i64>().value(0),
            vec![0u8; num_words(p) * 8]
        );
        assert_eq!(states.evaluate(EmitTo::All)?.as_ref(), whole.as_ref());

        // A filter keeps the even values only: the sketch of group 0 above.
        let mut filtered = HllGroups {
            precision: p,
            merge: false,
            registers: Vec::new(),
        };
        let even = BooleanArray::from_iter((0..3000).map(|i| Some(i % 2 == 0)));
        filtered.update_batch(&[all], &vec![0; 3000], Some(&even), 1)?;
        assert_eq!(
            filtered.evaluate(EmitTo::All)?.as_binary::<i64>().value(0),
            sketches.as_binary::<i64>().value(0)
        );
        Ok(())
    }

    /// Spark's buffer layout: ten 6-bit registers to a word, the last word partly used.
    #[test]
    fn words_pack_ten_registers() {
        assert_eq!(num_words(4), 2);
        assert_eq!(num_words(9), 52);
        assert_eq!(num_words(18), 26215);
        let mut registers = vec![0u8; 16];
        registers[0] = 1;
        registers[9] = 63;
        registers[10] = 5;
        registers[15] = 2;
        assert_eq!(word(&registers, 0), 1 | (63 << 54));
        assert_eq!(word(&registers, 1), 5 | (2 << 30));
        let mut back = vec![0u8; 16];
        merge_word(&mut back, 0, word(&registers, 0));
        merge_word(&mut back, 1, word(&registers, 1));
        assert_eq!(back, registers);
    }

    /// Linear counting's `H` rounds, and compares with the threshold, the same with a logarithm
    /// up to 4 ulps off (Spark's `Math.log` may differ from `StrictMath.log` in the last bit),
    /// for every precision and number of zero registers.
    #[test]
    fn linear_counting_does_not_depend_on_the_logarithms_last_bits() {
        for p in MIN_PRECISION..=MAX_PRECISION {
            let m = registers(p) as f64;
            let threshold = THRESHOLDS[usize::from(p - MIN_PRECISION)];
            // (V = m: ln(1) is 0 in every implementation.)
            for v in 1..registers(p) {
                let ln = strict_math::log(m / v as f64);
                let h = m * ln;
                for ulps in -4i64..=4 {
                    let near = m * f64::from_bits((ln.to_bits() as i64 + ulps) as u64);
                    assert_eq!(java_round(near), java_round(h), "p {p}, V {v}, {ulps} ulps");
                    assert_eq!(
                        near <= threshold,
                        h <= threshold,
                        "p {p}, V {v}, {ulps} ulps"
                    );
                }
            }
        }
    }

    /// Java's `Arrays.binarySearch`.
    #[test]
    fn binary_search_as_javas() {
        let a = [1.0, 2.0, 4.0];
        assert_eq!(java_binary_search(&a, 2.0), 1);
        assert_eq!(java_binary_search(&a, 0.5), -1);
        assert_eq!(java_binary_search(&a, 3.0), -3);
        assert_eq!(java_binary_search(&a, 5.0), -4);
        assert_eq!(java_binary_search(&[], 5.0), -1);
    }

    /// The tables: Spark's sizes for each precision. (Its raw estimates are not quite sorted:
    /// precisions 5 and 6 have two inversions each, where Java's binary search still gives the
    /// same index as the one here, which follows it step by step.)
    #[test]
    fn tables_are_sparks_shape() {
        let sizes = [
            79, 159, 200, 200, 200, 201, 200, 201, 201, 200, 201, 201, 200, 201, 200,
        ];
        for p in MIN_PRECISION..=MAX_PRECISION {
            let i = usize::from(p - MIN_PRECISION);
            assert_eq!(RAW_ESTIMATE_DATA[i].len(), sizes[i], "p {p}");
            assert_eq!(BIAS_DATA[i].len(), sizes[i], "p {p}");
        }
        let inversions = |i: usize| {
            RAW_ESTIMATE_DATA[i]
                .windows(2)
                .filter(|w| w[0] > w[1])
                .count()
        };
        assert_eq!((0..15).map(inversions).collect::<Vec<_>>(), {
            let mut expected = vec![0; 15];
            expected[1] = 2;
            expected[2] = 2;
            expected
        });
    }
}
