// Licensed under the Apache License, Version 2.0.

//! Spark's `percentile_approx` (`approx_percentile`): `ApproximatePercentile`, whose buffer is a
//! Greenwald-Khanna quantile summary (`QuantileSummaries`) of the values as doubles.
//!
//! Each group's summary here is Spark's, operation for operation: values go to a head buffer,
//! which past 50,000 values is sorted (Java's order of doubles) and inserted into the sampled
//! statistics, then compressed where they reach the compression threshold (10,000); a summary
//! is compressed before it is serialized or merged; merges interleave the two sorted samples
//! with Spark's extra uncertainty, and compress; a query walks the samples for the rank as
//! `findApproxQuantile` does. The buffer is serialized as Spark's `PercentileDigestSerializer`
//! writes it (big-endian: the compression threshold, the relative error, the count, the number
//! of samples, then each sample's value, `g` and `delta`), so either stage can stay on Spark.
//!
//! The result is the value in the argument's type, converted from the double as Spark's `eval`
//! does (`toInt`, `toLong`, `toFloat`...).
//!
//! Spark's summary depends on the order in which values are inserted and summaries merged once
//! a group has more than `1 / (2 * relativeError)` values (5,000 at the default accuracy), and
//! where NaN is among them (its merge compares with `<`): the rows come in Spark's order within
//! a task, and the buffers in the shuffle's order, as in Spark; past Spark's sort-based fallback
//! threshold of groups, the later rows go to summaries of their own, as in Spark ([`SortFallback`]).

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, FieldRef, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{DataFusionError, Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::cast::decimal_to_f64;
use crate::moments::selected;
use crate::percentile::{binary_column, binary_values};
use crate::sort_fallback::SortFallback;

/// `QuantileSummaries.defaultCompressThreshold`.
const COMPRESS_THRESHOLD: i32 = 10_000;

/// `QuantileSummaries.defaultHeadSize`.
const HEAD_SIZE: usize = 50_000;

/// A serialized buffer's header: threshold, relative error, count, number of samples.
const HEADER_BYTES: usize = 4 + 8 + 8 + 4;

/// A serialized sample: value, g, delta.
const SAMPLE_BYTES: usize = 8 + 8 + 8;

/// `QuantileSummaries.Stats`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stats {
    value: f64,
    g: i64,
    delta: i64,
}

/// Java's `Double.compare` order: `-0.0` below `0.0`, every NaN equal and above everything.
fn java_compare(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// Spark's `QuantileSummaries` with its head buffer (`PercentileDigest`'s summary).
#[derive(Debug, Clone)]
struct Summary {
    compress_threshold: i32,
    relative_error: f64,
    sampled: Vec<Stats>,
    /// The values in `sampled` (not those in `head`).
    count: i64,
    compressed: bool,
    head: Vec<f64>,
}

impl Summary {
    /// `new PercentileDigest(relativeError)`: empty, compressed.
    fn new(relative_error: f64) -> Self {
        Self {
            compress_threshold: COMPRESS_THRESHOLD,
            relative_error,
            sampled: Vec::new(),
            count: 0,
            compressed: true,
            head: Vec::new(),
        }
    }

    /// `insert`.
    fn insert(&mut self, x: f64) {
        self.head.push(x);
        self.compressed = false;
        if self.head.len() >= HEAD_SIZE {
            self.insert_head();
            if self.sampled.len() >= self.compress_threshold as usize {
                self.compress();
            }
        }
    }

    /// `withHeadBufferInserted` (the summary it gives is not compressed).
    fn insert_head(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let mut sorted = std::mem::take(&mut self.head);
        sorted.sort_by(|a, b| java_compare(*a, *b));
        let mut current_count = self.count;
        let mut samples = Vec::with_capacity(self.sampled.len() + sorted.len());
        let mut sample_index = 0;
        for (ops_index, &current) in sorted.iter().enumerate() {
            while sample_index < self.sampled.len() && self.sampled[sample_index].value <= current {
                samples.push(self.sampled[sample_index]);
                sample_index += 1;
            }
            current_count += 1;
            let delta = if samples.is_empty()
                || (sample_index == self.sampled.len() && ops_index == sorted.len() - 1)
            {
                0
            } else {
                (2.0 * self.relative_error * current_count as f64).floor() as i64
            };
            samples.push(Stats {
                value: current,
                g: 1,
                delta,
            });
        }
        samples.extend_from_slice(&self.sampled[sample_index..]);
        self.sampled = samples;
        self.count = current_count;
        self.compressed = false;
    }

    /// `compress`.
    fn compress(&mut self) {
        self.insert_head();
        let threshold = 2.0 * self.relative_error * self.count as f64;
        self.sampled = compress_samples(&self.sampled, threshold);
        self.compressed = true;
    }

    /// `PercentileDigest.quantileSummaries`: compressed first where it is not.
    fn compressed(&mut self) -> &Self {
        if !self.compressed {
            self.compress();
        }
        self
    }

    /// `PercentileDigest.merge`: this summary (compressed first) merged with `other` (a
    /// compressed one, as Spark deserializes it).
    fn merge(&mut self, other: Summary) {
        if !self.compressed {
            self.compress();
        }
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other;
            return;
        }
        let relative_error = self.relative_error.max(other.relative_error);
        let count = self.count.wrapping_add(other.count);
        let additional_self_delta =
            (2.0 * other.relative_error * other.count as f64).floor() as i64;
        let additional_other_delta = (2.0 * self.relative_error * self.count as f64).floor() as i64;
        let (a, b) = (&self.sampled, &other.sampled);
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (next, additional) = if a[i].value < b[j].value {
                i += 1;
                (a[i - 1], if j > 0 { additional_self_delta } else { 0 })
            } else {
                j += 1;
                (b[j - 1], if i > 0 { additional_other_delta } else { 0 })
            };
            merged.push(Stats {
                delta: next.delta.wrapping_add(additional),
                ..next
            });
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.sampled = compress_samples(&merged, 2.0 * relative_error * count as f64);
        self.compress_threshold = other.compress_threshold;
        self.relative_error = relative_error;
        self.count = count;
        self.compressed = true;
    }

    /// `query(percentile)` of a compressed summary with values.
    fn query(&self, percentile: f64) -> Option<f64> {
        let (first, last) = (self.sampled.first()?, self.sampled.last()?);
        if percentile <= self.relative_error {
            return Some(first.value);
        }
        if percentile >= 1.0 - self.relative_error {
            return Some(last.value);
        }
        let target_error = (self
            .sampled
            .iter()
            .fold(i64::MIN, |max, s| max.max(s.delta.wrapping_add(s.g)))
            / 2) as f64;
        // `findApproxQuantile` from the first sample.
        let rank = (percentile * self.count as f64).ceil() as i64;
        let mut min_rank = first.g;
        let mut i = 0;
        while i + 1 < self.sampled.len() {
            let current = self.sampled[i];
            let max_rank = min_rank.wrapping_add(current.delta);
            if max_rank as f64 - target_error <= rank as f64
                && rank as f64 <= min_rank as f64 + target_error
            {
                return Some(current.value);
            }
            i += 1;
            min_rank = min_rank.wrapping_add(self.sampled[i].g);
        }
        Some(last.value)
    }

    /// Appends the summary (compressed first) as Spark serializes it.
    fn serialize(&mut self, out: &mut Vec<u8>) {
        let summary = self.compressed();
        out.extend_from_slice(&summary.compress_threshold.to_be_bytes());
        out.extend_from_slice(&summary.relative_error.to_be_bytes());
        out.extend_from_slice(&summary.count.to_be_bytes());
        out.extend_from_slice(&(summary.sampled.len() as i32).to_be_bytes());
        for s in &summary.sampled {
            out.extend_from_slice(&s.value.to_be_bytes());
            out.extend_from_slice(&s.g.to_be_bytes());
            out.extend_from_slice(&s.delta.to_be_bytes());
        }
    }

    /// A serialized summary (compressed, as Spark's deserializer marks it).
    fn deserialize(bytes: &[u8]) -> Result<Self> {
        let corrupt = |what: &str| {
            DataFusionError::Execution(format!(
                "cinder: a percentile_approx buffer is corrupt: {what}"
            ))
        };
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8]> {
            let part = bytes
                .get(at..at + n)
                .ok_or_else(|| corrupt("it ends early"))?;
            at += n;
            Ok(part)
        };
        let int = |b: &[u8]| i32::from_be_bytes(b.try_into().expect("4 bytes"));
        let long = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
        let compress_threshold = int(take(4)?);
        let relative_error = f64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
        let count = long(take(8)?);
        let n = int(take(4)?);
        let n = usize::try_from(n).map_err(|_| corrupt("a negative number of samples"))?;
        if bytes.len() != HEADER_BYTES + n * SAMPLE_BYTES {
            return Err(corrupt("its length is not its samples'"));
        }
        let mut sampled = Vec::with_capacity(n);
        for _ in 0..n {
            let value = f64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
            let g = long(take(8)?);
            let delta = long(take(8)?);
            sampled.push(Stats { value, g, delta });
        }
        Ok(Self {
            compress_threshold,
            relative_error,
            sampled,
            count,
            compressed: true,
            head: Vec::new(),
        })
    }

    fn bytes(&self) -> usize {
        self.sampled.capacity() * size_of::<Stats>() + self.head.capacity() * size_of::<f64>()
    }
}

/// `QuantileSummaries.compressImmut`.
fn compress_samples(samples: &[Stats], merge_threshold: f64) -> Vec<Stats> {
    let Some((&last, _)) = samples.split_last() else {
        return Vec::new();
    };
    // Built from the end, reversed at the end.
    let mut res = Vec::with_capacity(samples.len());
    let mut head = last;
    let mut i = samples.len() as isize - 2;
    while i >= 1 {
        let sample = samples[i as usize];
        if (sample.g.wrapping_add(head.g).wrapping_add(head.delta) as f64) < merge_threshold {
            head.g = head.g.wrapping_add(sample.g);
        } else {
            res.push(head);
            head = sample;
        }
        i -= 1;
    }
    res.push(head);
    let first = samples[0];
    if first.value <= head.value && samples.len() > 1 {
        res.push(first);
    }
    res.reverse();
    // (Spark's array is exact; a group's summary keeps far fewer samples than it compressed.)
    res.shrink_to_fit();
    res
}

/// The argument types: each converted to a double as Spark's `update` does, and the result
/// back as its `eval` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ValueType {
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    /// Of up to 15 digits, whose doubles give them back.
    Decimal(u8, i8),
    Date,
    Timestamp(bool),
}

impl ValueType {
    fn of(t: &DataType) -> Result<Self> {
        Ok(match t {
            DataType::Int8 => Self::Byte,
            DataType::Int16 => Self::Short,
            DataType::Int32 => Self::Int,
            DataType::Int64 => Self::Long,
            DataType::Float32 => Self::Float,
            DataType::Float64 => Self::Double,
            DataType::Decimal128(p, s) if *p <= 15 => Self::Decimal(*p, *s),
            DataType::Date32 => Self::Date,
            DataType::Timestamp(TimeUnit::Microsecond, zone) => Self::Timestamp(zone.is_some()),
            other => return internal_err!("percentile_approx of {other} is not native"),
        })
    }

    fn arrow(self) -> DataType {
        match self {
            Self::Byte => DataType::Int8,
            Self::Short => DataType::Int16,
            Self::Int => DataType::Int32,
            Self::Long => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Decimal(p, s) => DataType::Decimal128(p, s),
            Self::Date => DataType::Date32,
            Self::Timestamp(zoned) => {
                DataType::Timestamp(TimeUnit::Microsecond, zoned.then(|| "UTC".into()))
            }
        }
    }

    /// Each row of `values` as Spark's `update` reads it (none where null).
    fn doubles(self, values: &dyn Array) -> Result<Vec<Option<f64>>> {
        fn read<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
            values: &dyn Array,
            f: impl Fn(T::Native) -> f64,
        ) -> Result<Vec<Option<f64>>> {
            match values.as_primitive_opt::<T>() {
                Some(a) => Ok(a.iter().map(|v| v.map(&f)).collect()),
                None => internal_err!("percentile_approx values of {}", values.data_type()),
            }
        }
        match self {
            Self::Byte => read::<Int8Type>(values, f64::from),
            Self::Short => read::<Int16Type>(values, f64::from),
            Self::Int => read::<Int32Type>(values, f64::from),
            Self::Long => read::<Int64Type>(values, |v| v as f64),
            Self::Float => read::<Float32Type>(values, f64::from),
            Self::Double => read::<Float64Type>(values, |v| v),
            Self::Decimal(p, s) if values.data_type() == &DataType::Decimal128(p, s) => {
                read::<Decimal128Type>(values, |v| decimal_to_f64(v, s))
            }
            Self::Decimal(p, s) => internal_err!(
                "percentile_approx values of {}, not decimal({p},{s})",
                values.data_type()
            ),
            Self::Date => read::<Date32Type>(values, f64::from),
            Self::Timestamp(_) => read::<TimestampMicrosecondType>(values, |v| v as f64),
        }
    }

    /// The results (doubles, none for no values) in this type, as Spark's `eval` converts them
    /// (Java's `d2i`, `d2l`, `d2f`, `(byte)`, `(short)`; a decimal from the double's digits).
    fn results(self, values: Vec<Option<f64>>) -> ArrayRef {
        let it = values.into_iter();
        match self {
            Self::Byte => Arc::new(it.map(|v| v.map(|d| d as i32 as i8)).collect::<Int8Array>()),
            Self::Short => Arc::new(
                it.map(|v| v.map(|d| d as i32 as i16))
                    .collect::<Int16Array>(),
            ),
            Self::Int => Arc::new(it.map(|v| v.map(|d| d as i32)).collect::<Int32Array>()),
            Self::Long => Arc::new(it.map(|v| v.map(|d| d as i64)).collect::<Int64Array>()),
            Self::Float => Arc::new(it.map(|v| v.map(|d| d as f32)).collect::<Float32Array>()),
            Self::Double => Arc::new(it.collect::<Float64Array>()),
            Self::Decimal(p, s) => Arc::new(
                // (Each result is one of the values, of at most 15 digits, which the double
                // holds to within far less than half a unit of the scale.)
                it.map(|v| v.map(|d| (d * 10_f64.powi(i32::from(s))).round() as i128))
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(p, s)
                    .expect("a valid decimal type"),
            ),
            Self::Date => Arc::new(it.map(|v| v.map(|d| d as i32)).collect::<Date32Array>()),
            Self::Timestamp(zoned) => {
                let a = it
                    .map(|v| v.map(|d| d as i64))
                    .collect::<TimestampMicrosecondArray>();
                Arc::new(if zoned { a.with_timezone("UTC") } else { a })
            }
        }
    }
}

/// `percentile_approx_buffer` (of values) and `merge_percentile_approx` (of buffers): the
/// buffer, or with a percentage the percentile in the argument's type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkApproxPercentile {
    value_type: ValueType,
    /// `1.0 / accuracy`'s bits.
    relative_error: u64,
    merge: bool,
    /// The percentage's bits, where it gives the percentile.
    percentage: Option<u64>,
    /// Spark's `spark.sql.objectHashAggregate.sortBased.fallbackThreshold`, where the aggregate
    /// stands for an `ObjectHashAggregateExec` with grouping keys.
    fallback_threshold: Option<usize>,
    signature: Signature,
}

impl SparkApproxPercentile {
    /// The aggregate of values of Arrow type `value_type` (`merge`: of buffers of them), at
    /// Spark's `accuracy`; giving the percentile at `percentage`, or the buffer; with Spark's
    /// sort-based fallback past `fallback_threshold` groups (see [`SortFallback`]).
    pub fn udaf(
        value_type: &DataType,
        accuracy: i64,
        merge: bool,
        percentage: Option<f64>,
        fallback_threshold: Option<usize>,
    ) -> Result<Arc<AggregateUDF>> {
        Ok(Arc::new(AggregateUDF::new_from_impl(Self::new(
            value_type,
            accuracy,
            merge,
            percentage,
            fallback_threshold,
        )?)))
    }

    fn new(
        value_type: &DataType,
        accuracy: i64,
        merge: bool,
        percentage: Option<f64>,
        fallback_threshold: Option<usize>,
    ) -> Result<Self> {
        if accuracy <= 0 {
            return internal_err!("percentile_approx's accuracy {accuracy} is not positive");
        }
        if percentage.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return internal_err!("a percentage of {percentage:?}, not between 0 and 1");
        }
        Ok(Self {
            value_type: ValueType::of(value_type)?,
            relative_error: (1.0 / accuracy as f64).to_bits(),
            merge,
            percentage: percentage.map(f64::to_bits),
            fallback_threshold,
            signature: Signature::any(1, Volatility::Immutable),
        })
    }

    fn groups(&self) -> Digests {
        Digests {
            value_type: self.value_type,
            relative_error: f64::from_bits(self.relative_error),
            merge: self.merge,
            percentage: self.percentage.map(f64::from_bits),
            summaries: Vec::new(),
            bytes: 0,
            fallback: self.fallback_threshold.map(SortFallback::new),
        }
    }
}

impl AggregateUDFImpl for SparkApproxPercentile {
    fn name(&self) -> &str {
        if self.merge {
            "spark_merge_percentile_approx"
        } else {
            "spark_percentile_approx_buffer"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.percentage.is_some() {
            self.value_type.arrow()
        } else {
            DataType::Binary
        })
    }

    fn is_nullable(&self) -> bool {
        self.percentage.is_some()
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "summary"),
            DataType::LargeBinary,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // (No groups: Spark's aggregation without keys never falls back.)
        Ok(Box::new(DigestAccumulator(Digests {
            fallback: None,
            ..self.groups()
        })))
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

/// Each group's summary.
#[derive(Debug)]
struct Digests {
    value_type: ValueType,
    relative_error: f64,
    merge: bool,
    percentage: Option<f64>,
    summaries: Vec<Summary>,
    /// The bytes the summaries hold (as of their last change).
    bytes: usize,
    fallback: Option<SortFallback<Summary>>,
}

impl Digests {
    fn resize(&mut self, groups: usize) {
        if groups > self.summaries.len() {
            let empty = Summary::new(self.relative_error);
            self.summaries.resize(groups, empty);
        }
        if let Some(f) = &mut self.fallback {
            f.resize(groups);
        }
    }

    /// Runs `f` on the summary row `i` of `n` (of group `g`) goes to, keeping count of its bytes
    /// and of the groups Spark's hash map would hold (`read`: whether the row has a value to
    /// read; a row without one still makes its group).
    fn with(&mut self, i: usize, n: usize, g: usize, read: bool, f: impl FnOnce(&mut Summary)) {
        let relative_error = self.relative_error;
        let summary = match &mut self.fallback {
            Some(fallback) => fallback.target(&mut self.summaries, i, n, g, read, || {
                Summary::new(relative_error)
            }),
            None => read.then(|| &mut self.summaries[g]),
        };
        if let Some(summary) = summary {
            let before = summary.bytes();
            f(summary);
            self.bytes = self.bytes + summary.bytes() - before;
        }
    }

    /// Reads the rows of `values` that pass `filter` (values, or with `merge` buffers) into the
    /// summary of `group(row)`.
    fn update(
        &mut self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let [values] = values else {
            return internal_err!("percentile_approx takes one column");
        };
        if self.merge {
            return self.merge(values, filter, group);
        }
        let doubles = self.value_type.doubles(values.as_ref())?;
        let n = doubles.len();
        for (i, x) in doubles.into_iter().enumerate() {
            let x = x.filter(|_| selected(filter, i));
            self.with(i, n, group(i), x.is_some(), |s| {
                s.insert(x.expect("read only where there is a value"))
            });
        }
        Ok(())
    }

    /// Merges the serialized summaries `buffers` into the summary of `group(row)`.
    fn merge(
        &mut self,
        buffers: &ArrayRef,
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let n = buffers.len();
        for (i, buffer) in binary_values(buffers)?.enumerate() {
            let other = match buffer.filter(|_| selected(filter, i)) {
                Some(buffer) => Some(Summary::deserialize(buffer)?),
                None => None,
            };
            let read = other.is_some();
            self.with(i, n, group(i), read, |s| {
                s.merge(other.expect("read only where there is a buffer"))
            });
        }
        Ok(())
    }

    /// The summaries of the groups `emit_to` takes, which leave: each group's later summary
    /// (past Spark's fallback) with its earlier one merged into it, as Spark's sort-based
    /// aggregation merges the hash map's buffer into the new one.
    fn take(&mut self, emit_to: EmitTo) -> Vec<Summary> {
        let taken = emit_to.take_needed(&mut self.summaries);
        self.bytes -= taken.iter().map(Summary::bytes).sum::<usize>();
        let Some(later) = self
            .fallback
            .as_mut()
            .and_then(|f| f.take(emit_to, taken.len()))
        else {
            return taken;
        };
        self.bytes -= later.iter().flatten().map(Summary::bytes).sum::<usize>();
        taken
            .into_iter()
            .zip(later)
            .map(|(mut earlier, later)| match later {
                Some(mut later) => {
                    // (The hash map's buffer is serialized, so compressed, before the merge.)
                    earlier.compressed();
                    later.merge(earlier);
                    later
                }
                None => earlier,
            })
            .collect()
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut taken = self.take(emit_to);
        match self.percentage {
            Some(p) => Ok(self.value_type.results(
                taken
                    .iter_mut()
                    .map(|s| {
                        let s = s.compressed();
                        if s.count == 0 { None } else { s.query(p) }
                    })
                    .collect(),
            )),
            None => serialize(&mut taken, false),
        }
    }
}

/// Spark's serialized buffers of `summaries` (compressed first): binary values (Spark's, which
/// hold at most 2 GiB in all), or with `large` large ones.
fn serialize(summaries: &mut [Summary], large: bool) -> Result<ArrayRef> {
    binary_column(
        summaries.len(),
        0,
        large,
        "percentile_approx",
        |i, buffer| summaries[i].serialize(buffer),
    )
}

impl GroupsAccumulator for Digests {
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
        let [states] = values else {
            return internal_err!("a percentile_approx state is one column");
        };
        // (DataFusion's own merge of spilled states, which Spark has not: no fallback there.)
        let fallback = self.fallback.take();
        let merged = self.merge(states, None, |i| group_indices[i]);
        self.fallback = fallback;
        merged
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![serialize(&mut self.take(emit_to), true)?])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut rows = Digests {
            summaries: Vec::new(),
            bytes: 0,
            percentage: None,
            fallback: None,
            ..*self
        };
        let n = values.first().map_or(0, |v| v.len());
        rows.resize(n);
        rows.update(values, opt_filter, |i| i)?;
        Ok(vec![serialize(&mut rows.summaries, true)?])
    }

    fn size(&self) -> usize {
        let later = self
            .fallback
            .as_ref()
            .map_or(0, |f| f.capacity() * size_of::<Option<Summary>>());
        self.bytes + self.summaries.capacity() * size_of::<Summary>() + later + size_of::<Self>()
    }
}

/// One summary (no groups).
#[derive(Debug)]
struct DigestAccumulator(Digests);

impl Accumulator for DigestAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.update(values, None, |_| 0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        let [states] = states else {
            return internal_err!("a percentile_approx state is one column");
        };
        self.0.merge(states, None, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        let state = serialize(&mut self.0.summaries[..1], true)?;
        Ok(vec![ScalarValue::try_from_array(&state, 0)?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.resize(1);
        match self.0.percentage {
            Some(p) => {
                let s = self.0.summaries[0].compressed();
                let value = if s.count == 0 { None } else { s.query(p) };
                ScalarValue::try_from_array(&self.0.value_type.results(vec![value]), 0)
            }
            None => {
                let buffer = serialize(&mut self.0.summaries[..1], false)?;
                ScalarValue::try_from_array(&buffer, 0)
            }
        }
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(values: &[f64], accuracy: i64) -> Summary {
        let mut s = Summary::new(1.0 / accuracy as f64);
        for &v in values {
            s.insert(v);
        }
        s
    }

    #[test]
    fn small_inputs_give_the_value_at_the_rank() {
        // Few values: every sample kept, the value of rank ceil(p * n).
        let values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let mut s = summary_of(&values, 10_000);
        let s = s.compressed().clone();
        assert_eq!(s.sampled.len(), 100);
        assert_eq!(s.query(0.5), Some(50.0));
        assert_eq!(s.query(0.255), Some(26.0));
        assert_eq!(s.query(0.0), Some(1.0));
        assert_eq!(s.query(1.0), Some(100.0));
        // Spark's example: percentile_approx(col, 0.5, 100) of 0, 1, 2, 10 is 1.
        let mut s = summary_of(&[0.0, 1.0, 2.0, 10.0], 100);
        assert_eq!(s.compressed().query(0.5), Some(1.0));
        assert_eq!(s.compressed().query(0.4), Some(1.0));
        assert_eq!(s.compressed().query(0.1), Some(0.0));
    }

    #[test]
    fn buffers_round_trip_and_merge_as_sparks() -> Result<()> {
        let values: Vec<f64> = (0..120_000)
            .map(|i| f64::from((i * 7919) % 100_003))
            .collect();
        let mut s = summary_of(&values, 100);
        let mut bytes = Vec::new();
        s.serialize(&mut bytes);
        assert_eq!(&bytes[..4], &COMPRESS_THRESHOLD.to_be_bytes());
        assert_eq!(&bytes[4..12], &0.01_f64.to_be_bytes());
        assert_eq!(&bytes[12..20], &120_000_i64.to_be_bytes());
        let back = Summary::deserialize(&bytes)?;
        assert_eq!(back.sampled, s.sampled);
        assert!(back.count == 120_000 && back.compressed);
        // The answers stay within the error bound: rank within 1% of 120,000.
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.1, 0.5, 0.9] {
            let got = back.query(p).expect("a value");
            let rank = sorted.partition_point(|&v| v < got) as f64;
            assert!(
                (rank - p * 120_000.0).abs() <= 0.01 * 120_000.0 + 1.0,
                "{p}: {got}"
            );
        }
        // A merge of two halves keeps every value counted.
        let mut a = summary_of(&values[..60_000], 100);
        let b = summary_of(&values[60_000..], 100);
        let mut b2 = b.clone();
        a.merge(b2.compressed().clone());
        assert_eq!(a.count, 120_000);
        assert_eq!(a.sampled.iter().map(|s| s.g).sum::<i64>(), 120_000);
        Ok(())
    }

    #[test]
    fn compress_keeps_the_ends() {
        let samples: Vec<Stats> = (0..10)
            .map(|i| Stats {
                value: f64::from(i),
                g: 1,
                delta: 0,
            })
            .collect();
        let c = compress_samples(&samples, 4.0);
        assert_eq!(c.first().map(|s| s.value), Some(0.0));
        assert_eq!(c.last().map(|s| s.value), Some(9.0));
        assert_eq!(c.iter().map(|s| s.g).sum::<i64>(), 10);
        assert!(compress_samples(&[], 1.0).is_empty());
        assert_eq!(compress_samples(&samples[..1], 1.0), samples[..1].to_vec());
    }

    #[test]
    fn nan_is_largest_and_results_take_the_arguments_type() -> Result<()> {
        let mut s = summary_of(&[f64::NAN, 1.0, -0.0, 3.0], 10_000);
        assert!(s.compressed().query(1.0).expect("a value").is_nan());
        assert_eq!(s.compressed().query(0.5), Some(1.0));
        let out = ValueType::Byte.results(vec![Some(300.0), Some(-1.5), None, Some(f64::NAN)]);
        let out = out.as_primitive::<Int8Type>();
        assert_eq!(out.value(0), 44);
        assert_eq!(out.value(1), -1);
        assert!(out.is_null(2));
        assert_eq!(out.value(3), 0);
        let d =
            ValueType::Decimal(15, 3).results(vec![Some(decimal_to_f64(-123_456_789_012_345, 3))]);
        assert_eq!(
            d.as_primitive::<Decimal128Type>().value(0),
            -123_456_789_012_345
        );
        Ok(())
    }

    #[test]
    fn sparks_fallback_reads_later_rows_into_a_summary_of_their_own() -> Result<()> {
        // Threshold 2: after the second group's first row (more rows to come), group 0's rows
        // go to a new summary, into which its first summary is merged.
        let udaf = SparkApproxPercentile::new(&DataType::Float64, 10, false, None, Some(2))?;
        let mut digests = udaf.groups();
        let values: ArrayRef = Arc::new(Float64Array::from(vec![5.0, 1.0, 3.0, 4.0, 2.0, 9.0]));
        digests.update_batch(&[Arc::clone(&values)], &[0, 1, 0, 0, 0, 1], None, 2)?;
        let buffers = digests.evaluate(EmitTo::All)?;
        let mut earlier = summary_of(&[5.0], 10);
        let mut later = summary_of(&[3.0, 4.0, 2.0], 10);
        earlier.compressed();
        later.merge(earlier);
        let mut expected = Vec::new();
        later.serialize(&mut expected);
        assert_eq!(buffers.as_binary::<i32>().value(0), expected.as_slice());
        // The threshold reached on a batch's last row: the next batch's rows are later ones.
        let mut digests = udaf.groups();
        digests.update_batch(&[values.slice(0, 2)], &[0, 1], None, 2)?;
        digests.update_batch(&[values.slice(2, 1)], &[0], None, 2)?;
        assert!(
            digests
                .fallback
                .as_ref()
                .is_some_and(|f| f.later()[0].is_some())
        );
        // Groups emitted first still count as Spark's hash map holds them.
        let mut digests = udaf.groups();
        digests.update_batch(&[values.slice(0, 1)], &[0], None, 1)?;
        digests.evaluate(EmitTo::First(1))?;
        digests.update_batch(&[values.slice(1, 2)], &[0, 0], None, 1)?;
        assert!(
            digests
                .fallback
                .as_ref()
                .is_some_and(|f| f.later()[0].is_some())
        );
        // DataFusion's merge of spilled states (which Spark has not) does not fall back.
        let mut spilled = udaf.groups();
        let states = digests.state(EmitTo::All)?;
        spilled.merge_batch(&[Arc::clone(&states[0])], &[0], 1)?;
        spilled.merge_batch(&states, &[1], 2)?;
        spilled.merge_batch(&states, &[0], 2)?;
        assert!(
            spilled
                .fallback
                .as_ref()
                .is_some_and(|f| f.later().is_empty())
        );
        // Without the fallback, one summary.
        let mut plain =
            SparkApproxPercentile::new(&DataType::Float64, 10, false, None, None)?.groups();
        plain.update_batch(&[values], &[0, 1, 0, 0, 0, 1], None, 2)?;
        let mut one = summary_of(&[5.0, 3.0, 4.0, 2.0], 10);
        let mut bytes = Vec::new();
        one.serialize(&mut bytes);
        assert_eq!(
            plain.evaluate(EmitTo::All)?.as_binary::<i32>().value(0),
            bytes.as_slice()
        );
        Ok(())
    }

    #[test]
    fn corrupt_buffers_are_errors() {
        for bytes in [
            &[][..],
            &[0; 23][..],
            &[
                0, 0, 39, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
            ][..],
        ] {
            assert!(Summary::deserialize(bytes).is_err());
        }
    }
}
