// Licensed under the Apache License, Version 2.0.

//! Spark's exact percentiles: `percentile`, `median`, `percentile_cont` and `percentile_disc`
//! (`PercentileBase`, an imperative aggregate that Spark runs in `ObjectHashAggregateExec`).
//!
//! Spark's buffer counts each distinct non-null value (an `OpenHashMap[AnyRef, Long]` keyed by
//! the boxed value, to which each row adds its frequency, 1 unless given) and is shuffled
//! serialized: per value an int, big-endian as `DataOutputStream` writes it, the size of an
//! `UnsafeRow` of (value, count), then that row's bytes; and -1 after the last. `percentile_counts`
//! gives that buffer of a group's values, `merge_percentile_counts` merges such buffers (Spark's
//! or native ones), and either gives, where asked, Spark's percentile of the counts instead: the
//! values sorted in Spark's order (floats with `-0.0 = 0.0` and NaN largest), the counts
//! accumulated, and the value at the position, interpolated or not, as
//! `PercentileBase.getPercentile` (`PercentileDisc.getPercentile`) computes it.
//!
//! Keys are the values as Spark's boxed keys tell them apart: integers and decimals (unscaled) by
//! value, floats by their bits, every NaN one key and `-0.0` apart from `0.0`. Where both zeros
//! are counted Spark orders them as its hash map gives them; here `-0.0` comes first (reversed
//! for `DESC`), one of Spark's orders: only the sign of a zero result can differ.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeBinaryBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, FieldRef, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{DataFusionError, HashMap, Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::cast::decimal_to_f64;
use crate::float_order::{double_key, double_of_key};
use crate::message::{PercentileMethod, PercentileSpec};
use crate::moments::selected;
use crate::planner::arrow_type;

/// The Spark types whose percentiles are native (`NumericType`; Spark's ANSI intervals are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ValueType {
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// (`mode` only, as the three below.)
    Boolean,
    Date,
    /// Microseconds, of Spark's `TimestampType` (zoned) or `TimestampNTZType`.
    Timestamp {
        zoned: bool,
    },
}

/// The size of Spark's `UnsafeRow` of (value, count) with a fixed-width value: a null bit set
/// word and two 8-byte fields.
const FIXED_ROW: usize = 24;

/// The same row with a decimal of over 18 digits: its unscaled bytes take a further 16 bytes.
const WIDE_DECIMAL_ROW: usize = FIXED_ROW + 16;

impl ValueType {
    fn of(t: &DataType) -> Result<Self> {
        Ok(match t {
            DataType::Int8 => Self::Byte,
            DataType::Int16 => Self::Short,
            DataType::Int32 => Self::Int,
            DataType::Int64 => Self::Long,
            DataType::Float32 => Self::Float,
            DataType::Float64 => Self::Double,
            DataType::Decimal128(precision, scale) => Self::Decimal {
                precision: *precision,
                scale: *scale,
            },
            DataType::Boolean => Self::Boolean,
            DataType::Date32 => Self::Date,
            DataType::Timestamp(TimeUnit::Microsecond, zone) => Self::Timestamp {
                zoned: zone.is_some(),
            },
            other => return internal_err!("percentiles of {other} are not native"),
        })
    }

    fn is_float(self) -> bool {
        matches!(self, Self::Float | Self::Double)
    }

    /// The key of each row of `values` (of this type), none where null.
    fn keys(self, values: &dyn Array) -> Result<Vec<Option<i128>>> {
        fn keyed<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
            values: &dyn Array,
            key: impl Fn(T::Native) -> i128,
        ) -> Result<Vec<Option<i128>>> {
            match values.as_primitive_opt::<T>() {
                Some(a) => Ok(a.iter().map(|v| v.map(&key)).collect()),
                None => internal_err!("percentile values of {}", values.data_type()),
            }
        }
        if let Self::Decimal { precision, scale } = self
            && values.data_type() != &DataType::Decimal128(precision, scale)
        {
            return internal_err!(
                "percentile values of {}, not decimal({precision},{scale})",
                values.data_type()
            );
        }
        match self {
            Self::Byte => keyed::<Int8Type>(values, i128::from),
            Self::Short => keyed::<Int16Type>(values, i128::from),
            Self::Int => keyed::<Int32Type>(values, i128::from),
            Self::Long => keyed::<Int64Type>(values, i128::from),
            Self::Float => keyed::<Float32Type>(values, |v| i128::from(double_key(f64::from(v)))),
            Self::Double => keyed::<Float64Type>(values, |v| i128::from(double_key(v))),
            Self::Decimal { .. } => keyed::<Decimal128Type>(values, |v| v),
            Self::Boolean => match values.as_boolean_opt() {
                Some(a) => Ok(a.iter().map(|v| v.map(i128::from)).collect()),
                None => internal_err!("percentile values of {}", values.data_type()),
            },
            Self::Date => keyed::<Date32Type>(values, i128::from),
            Self::Timestamp { .. } => keyed::<TimestampMicrosecondType>(values, i128::from),
        }
    }

    /// The values of `keys` (none for null), in this type.
    fn values(self, keys: Vec<Option<i128>>) -> Result<ArrayRef> {
        let it = keys.into_iter();
        Ok(match self {
            Self::Byte => Arc::new(it.map(|k| k.map(|k| k as i8)).collect::<Int8Array>()),
            Self::Short => Arc::new(it.map(|k| k.map(|k| k as i16)).collect::<Int16Array>()),
            Self::Int => Arc::new(it.map(|k| k.map(|k| k as i32)).collect::<Int32Array>()),
            Self::Long => Arc::new(it.map(|k| k.map(|k| k as i64)).collect::<Int64Array>()),
            Self::Float => Arc::new(
                it.map(|k| k.map(|k| double_of_key(k as i64) as f32))
                    .collect::<Float32Array>(),
            ),
            Self::Double => Arc::new(
                it.map(|k| k.map(|k| double_of_key(k as i64)))
                    .collect::<Float64Array>(),
            ),
            Self::Decimal { precision, scale } => Arc::new(
                it.collect::<Decimal128Array>()
                    .with_precision_and_scale(precision, scale)?,
            ),
            Self::Boolean => Arc::new(it.map(|k| k.map(|k| k != 0)).collect::<BooleanArray>()),
            Self::Date => Arc::new(it.map(|k| k.map(|k| k as i32)).collect::<Date32Array>()),
            Self::Timestamp { zoned } => {
                let a = it
                    .map(|k| k.map(|k| k as i64))
                    .collect::<TimestampMicrosecondArray>();
                Arc::new(if zoned { a.with_timezone("UTC") } else { a })
            }
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
            Self::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            Self::Boolean => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::Timestamp { zoned } => {
                DataType::Timestamp(TimeUnit::Microsecond, zoned.then(|| "UTC".into()))
            }
        }
    }

    /// The value of `key` as a double (`PercentileBase.toDoubleValue`: `Number.doubleValue`,
    /// `Decimal.toDouble`).
    fn to_double(self, key: i128) -> f64 {
        match self {
            Self::Byte
            | Self::Short
            | Self::Int
            | Self::Long
            | Self::Boolean
            | Self::Date
            | Self::Timestamp { .. } => key as i64 as f64,
            Self::Float | Self::Double => double_of_key(key as i64),
            Self::Decimal { scale, .. } => decimal_to_f64(key, scale),
        }
    }

    /// Whether two keys are equal as Scala's `==` of the boxed values (`BoxesRunTime.equals`):
    /// floats numerically (`-0.0 == 0.0`, NaN unequal to itself), the others by value.
    fn same(self, a: i128, b: i128) -> bool {
        if self.is_float() {
            self.to_double(a) == self.to_double(b)
        } else {
            a == b
        }
    }

    fn wide_decimal(self) -> bool {
        matches!(self, Self::Decimal { precision, .. } if precision > 18)
    }

    /// Appends Spark's serialized entry of `key` and `count`: the row's size (a big-endian
    /// int), then the `UnsafeRow` (null bits, the value's word, the count's word, and a wide
    /// decimal's bytes), its words little-endian as `Platform` writes them.
    fn write(self, out: &mut Vec<u8>, key: i128, count: i64) {
        let size = if self.wide_decimal() {
            WIDE_DECIMAL_ROW
        } else {
            FIXED_ROW
        };
        out.extend_from_slice(&(size as i32).to_be_bytes());
        out.extend_from_slice(&[0; 8]);
        let word: [u8; 8] = match self {
            Self::Byte
            | Self::Short
            | Self::Int
            | Self::Long
            | Self::Boolean
            | Self::Date
            | Self::Timestamp { .. } => {
                // The value's own width, the rest of the word zero (`UnsafeRowWriter`).
                let width = match self {
                    Self::Byte | Self::Boolean => 1,
                    Self::Short => 2,
                    Self::Int | Self::Date => 4,
                    _ => 8,
                };
                let mut word = [0; 8];
                word[..width].copy_from_slice(&(key as i64).to_le_bytes()[..width]);
                word
            }
            Self::Float => {
                let mut word = [0; 8];
                word[..4].copy_from_slice(&(self.to_double(key) as f32).to_le_bytes());
                word
            }
            Self::Double => self.to_double(key).to_le_bytes(),
            Self::Decimal { .. } if !self.wide_decimal() => (key as i64).to_le_bytes(),
            Self::Decimal { .. } => {
                // The offset (from the row's start) and size of the unscaled value's bytes:
                // `BigInteger.toByteArray`, the fewest big-endian two's complement bytes.
                let bytes = minimal_be_bytes(key);
                (((FIXED_ROW as i64) << 32) | bytes.len() as i64).to_le_bytes()
            }
        };
        out.extend_from_slice(&word);
        out.extend_from_slice(&count.to_le_bytes());
        if self.wide_decimal() {
            let bytes = minimal_be_bytes(key);
            let mut region = [0; 16];
            region[..bytes.len()].copy_from_slice(&bytes);
            out.extend_from_slice(&region);
        }
    }

    /// The key and count of one serialized row (`row`, its bytes).
    fn read(self, row: &[u8]) -> Result<(i128, i64)> {
        if row.len() < FIXED_ROW {
            return corrupt("a row shorter than 24 bytes");
        }
        let word = |at: usize| i64::from_le_bytes(row[at..at + 8].try_into().expect("8 bytes"));
        let value = &row[8..16];
        let key = match self {
            Self::Byte => i128::from(value[0] as i8),
            Self::Short => i128::from(i16::from_le_bytes([value[0], value[1]])),
            Self::Int | Self::Date => {
                i128::from(i32::from_le_bytes(value[..4].try_into().expect("4 bytes")))
            }
            Self::Long | Self::Timestamp { .. } => i128::from(word(8)),
            // (`UnsafeRow.getBoolean`: the byte is not 0.)
            Self::Boolean => i128::from(value[0] != 0),
            Self::Float => {
                let v = f32::from_le_bytes(value[..4].try_into().expect("4 bytes"));
                i128::from(double_key(f64::from(v)))
            }
            Self::Double => i128::from(double_key(f64::from_le_bytes(
                value.try_into().expect("8 bytes"),
            ))),
            Self::Decimal { .. } if !self.wide_decimal() => i128::from(word(8)),
            Self::Decimal { .. } => {
                let offset_and_size = word(8) as u64;
                let (offset, size) = ((offset_and_size >> 32) as usize, offset_and_size as u32);
                let size = size as usize;
                let Some(bytes) = row
                    .get(offset..offset + size)
                    .filter(|b| (1..=16).contains(&b.len()))
                else {
                    return corrupt("a decimal outside its row");
                };
                let negative = bytes[0] & 0x80 != 0;
                let mut full = [if negative { 0xff } else { 0 }; 16];
                full[16 - size..].copy_from_slice(bytes);
                i128::from_be_bytes(full)
            }
        };
        Ok((key, word(16)))
    }
}

/// `BigInteger.toByteArray` of `v`: its two's complement, big-endian, in the fewest bytes that
/// keep the sign.
fn minimal_be_bytes(v: i128) -> Vec<u8> {
    let full = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (full[start], full[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    full[start..].to_vec()
}

fn corrupt<T>(what: &str) -> Result<T> {
    Err(DataFusionError::Execution(format!(
        "cinder: a percentile buffer is corrupt: {what}"
    )))
}

/// What the aggregate computes of the counts: Spark's percentile at a percentage, or none (the
/// buffer itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Evaluation {
    /// The percentage's bits.
    percentage: u64,
    method: PercentileMethod,
    /// `WITHIN GROUP (ORDER BY x DESC)`: the values in the reverse order.
    reverse: bool,
}

/// `percentile_counts` (of values, with an optional frequency column) and
/// `merge_percentile_counts` (of Spark's buffers).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkPercentile {
    value_type: ValueType,
    merge: bool,
    evaluation: Option<Evaluation>,
    /// Spark's SQL of the frequency expression (for the error on a negative frequency).
    frequency_sql: String,
    signature: Signature,
}

impl SparkPercentile {
    /// The aggregate `spec` describes: of values (`merge` false; `arity` 1, or 2 with a
    /// frequency column), or of buffers (binary).
    pub fn udaf(spec: &PercentileSpec, merge: bool, arity: usize) -> Result<Arc<AggregateUDF>> {
        Ok(Arc::new(AggregateUDF::new_from_impl(Self::new(
            spec, merge, arity,
        )?)))
    }

    fn new(spec: &PercentileSpec, merge: bool, arity: usize) -> Result<Self> {
        let value_type = ValueType::of(
            &arrow_type(&spec.value_type)
                .map_err(|e| DataFusionError::Plan(format!("percentile: {e}")))?,
        )?;
        let evaluation = match spec.percentage {
            _ if spec.method.is_mode() => Some(Evaluation {
                percentage: 0,
                method: spec.method,
                reverse: false,
            }),
            Some(p) if !(0.0..=1.0).contains(&p) => {
                return internal_err!("a percentage of {p}, not between 0 and 1");
            }
            Some(p) => Some(Evaluation {
                percentage: p.to_bits(),
                method: spec.method,
                reverse: spec.reverse,
            }),
            None => None,
        };
        Ok(Self {
            value_type,
            merge,
            evaluation,
            frequency_sql: spec.frequency_sql.clone().unwrap_or_default(),
            signature: Signature::any(arity, Volatility::Immutable),
        })
    }

    fn groups(&self) -> PercentileGroups {
        PercentileGroups {
            value_type: self.value_type,
            merge: self.merge,
            evaluation: self.evaluation,
            frequency_sql: self.frequency_sql.clone(),
            counts: Vec::new(),
            allocated: 0,
        }
    }
}

impl AggregateUDFImpl for SparkPercentile {
    fn name(&self) -> &str {
        if self.merge {
            "spark_merge_percentile_counts"
        } else {
            "spark_percentile_counts"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.evaluation {
            Some(e) if e.method.is_mode() => self.value_type.arrow(),
            Some(_) => DataType::Float64,
            None => DataType::Binary,
        })
    }

    fn is_nullable(&self) -> bool {
        self.evaluation.is_some()
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "counts"),
            DataType::LargeBinary,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PercentileAccumulator(self.groups())))
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

/// The bytes one entry of a map takes, roughly (key, count, control byte).
const ENTRY_BYTES: usize = size_of::<(i128, i64)>() + 1;

/// Each group's counts of values.
#[derive(Debug)]
struct PercentileGroups {
    value_type: ValueType,
    merge: bool,
    evaluation: Option<Evaluation>,
    frequency_sql: String,
    counts: Vec<HashMap<i128, i64>>,
    /// The entries the groups' maps have room for.
    allocated: usize,
}

impl PercentileGroups {
    fn resize(&mut self, groups: usize) {
        if groups > self.counts.len() {
            self.counts.resize_with(groups, HashMap::default);
        }
    }

    /// Adds `count` to `key`'s count in group `g` (wrapping, as Scala's `Long` addition).
    fn add(&mut self, g: usize, key: i128, count: i64) {
        let map = &mut self.counts[g];
        let before = map.capacity();
        let entry = map.entry(key).or_insert(0);
        *entry = entry.wrapping_add(count);
        self.allocated = self.allocated + map.capacity() - before;
    }

    /// Reads the rows of `values` that pass `filter` into the counts of `group(row)`.
    fn update(
        &mut self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        if self.merge {
            let [buffers] = values else {
                return internal_err!("merge_percentile_counts takes one column");
            };
            return self.merge(buffers, filter, group);
        }
        let (x, frequency) = match values {
            [x] => (x, None),
            [x, f] => (x, Some(f)),
            _ => return internal_err!("percentile_counts takes a value and a frequency"),
        };
        let keys = self.value_type.keys(x.as_ref())?;
        let frequencies = match frequency {
            Some(f) if f.data_type().is_integer() => Some(cast(f, &DataType::Int64)?),
            Some(f) => return internal_err!("a percentile frequency of {}", f.data_type()),
            None => None,
        };
        let frequencies = frequencies.as_ref().map(|f| f.as_primitive::<Int64Type>());
        for (i, key) in keys.into_iter().enumerate() {
            if !selected(filter, i) {
                continue;
            }
            let (Some(key), frequency) =
                (key, frequencies.map(|f| f.is_valid(i).then(|| f.value(i))))
            else {
                continue;
            };
            // (A null frequency skips the row; a negative one fails, as in Spark's update.)
            let count = match frequency {
                None => 1,
                Some(None) => continue,
                Some(Some(f)) if f < 0 => {
                    return Err(DataFusionError::Execution(format!(
                        "[NEGATIVE_VALUES_IN_FREQUENCY_EXPRESSION] Found the negative value in {}: \
                         {f}L, but expected a positive integral value. SQLSTATE: 22003",
                        self.frequency_sql
                    )));
                }
                Some(Some(0)) => continue,
                Some(Some(f)) => f,
            };
            self.add(group(i), key, count);
        }
        Ok(())
    }

    /// Merges the serialized buffers `buffers` (those that pass `filter`) into the counts of
    /// `group(row)`, as Spark's merge adds their counts.
    fn merge(
        &mut self,
        buffers: &ArrayRef,
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        for (i, buffer) in binary_values(buffers)?.enumerate() {
            let Some(mut rest) = buffer.filter(|_| selected(filter, i)) else {
                continue;
            };
            let g = group(i);
            loop {
                let Some((size, after)) = rest.split_first_chunk::<4>() else {
                    return corrupt("no end marker");
                };
                let size = i32::from_be_bytes(*size);
                if size < 0 {
                    break;
                }
                let Some((row, after)) = after.split_at_checked(size as usize) else {
                    return corrupt("a row past its end");
                };
                let (key, count) = self.value_type.read(row)?;
                self.add(g, key, count);
                rest = after;
            }
        }
        Ok(())
    }

    /// The groups `emit_to` takes, which leave.
    fn take(&mut self, emit_to: EmitTo) -> Vec<HashMap<i128, i64>> {
        let taken = emit_to.take_needed(&mut self.counts);
        let freed: usize = taken.iter().map(HashMap::capacity).sum();
        self.allocated -= freed;
        taken
    }

    /// The buffers (Spark's serialized form) of the groups `emit_to` takes: Spark's binary
    /// values, or (`large`, the state DataFusion spills) large ones.
    fn state_of(&mut self, emit_to: EmitTo, large: bool) -> Result<ArrayRef> {
        let taken = self.take(emit_to);
        serialize(self.value_type, &taken, large)
    }

    /// What the groups `emit_to` takes give: their percentile, or their buffer.
    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let Some(evaluation) = self.evaluation else {
            return self.state_of(emit_to, false);
        };
        let taken = self.take(emit_to);
        if evaluation.method.is_mode() {
            let smallest = evaluation.method == PercentileMethod::ModeSmallest;
            return self
                .value_type
                .values(taken.iter().map(|c| mode(c, smallest)).collect());
        }
        let values = taken
            .iter()
            .map(|counts| percentile(counts, self.value_type, evaluation))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Float64Array::from(values)))
    }
}

/// Spark's serialized buffers of `groups`, counts of values of `value_type`: binary values
/// (Spark's, which hold at most 2 GiB in all), or with `large` large ones.
fn serialize(
    value_type: ValueType,
    groups: &[HashMap<i128, i64>],
    large: bool,
) -> Result<ArrayRef> {
    let entries: usize = groups.iter().map(HashMap::len).sum();
    let row = if value_type.wide_decimal() {
        WIDE_DECIMAL_ROW
    } else {
        FIXED_ROW
    };
    let bytes = entries * (4 + row) + 4 * groups.len();
    binary_column(groups.len(), bytes, large, "percentile", |g, buffer| {
        for (&key, &count) in &groups[g] {
            value_type.write(buffer, key, count);
        }
        buffer.extend_from_slice(&(-1_i32).to_be_bytes());
    })
}

/// A column of `n` serialized buffers, buffer `i` written by `write(i, buffer)` (about
/// `bytes` in all): Spark's binary values, or with `large` large ones (DataFusion's state,
/// which spills). Binary values hold at most 2 GiB in a batch: past that, an error that names
/// `what`.
pub(crate) fn binary_column(
    n: usize,
    bytes: usize,
    large: bool,
    what: &str,
    mut write: impl FnMut(usize, &mut Vec<u8>),
) -> Result<ArrayRef> {
    let mut buffer = Vec::new();
    if large {
        let mut out = LargeBinaryBuilder::with_capacity(n, bytes);
        for i in 0..n {
            buffer.clear();
            write(i, &mut buffer);
            out.append_value(&buffer);
        }
        return Ok(Arc::new(out.finish()));
    }
    let too_large = || {
        Err(DataFusionError::ResourcesExhausted(format!(
            "cinder: {what} buffers of over 2 GiB in one task's output (Spark's binary values \
             hold at most 2 GiB in a batch)"
        )))
    };
    if bytes > i32::MAX as usize {
        return too_large();
    }
    let mut out = BinaryBuilder::with_capacity(n, bytes);
    let mut total = 0_usize;
    for i in 0..n {
        buffer.clear();
        write(i, &mut buffer);
        total += buffer.len();
        if total > i32::MAX as usize {
            return too_large();
        }
        out.append_value(&buffer);
    }
    Ok(Arc::new(out.finish()))
}

/// The values of a binary or large binary column.
pub(crate) fn binary_values(
    array: &ArrayRef,
) -> Result<Box<dyn Iterator<Item = Option<&[u8]>> + '_>> {
    if let Some(a) = array.as_binary_opt::<i32>() {
        Ok(Box::new(a.iter()))
    } else if let Some(a) = array.as_binary_opt::<i64>() {
        Ok(Box::new(a.iter()))
    } else {
        internal_err!("buffers of {}", array.data_type())
    }
}

/// Spark's `Mode.eval`: the value counted most often (null for none); of those that tie, the
/// smallest in Spark's order, or the largest (Spark's `WITHIN GROUP` order; without one, Spark
/// takes the first its hash map gives, and so any).
fn mode(counts: &HashMap<i128, i64>, smallest: bool) -> Option<i128> {
    counts
        .iter()
        .max_by(|(ka, ca), (kb, cb)| {
            ca.cmp(cb)
                .then_with(|| if smallest { kb.cmp(ka) } else { ka.cmp(kb) })
        })
        .map(|(&k, _)| k)
}

/// Spark's `PercentileBase.getPercentiles` of one percentage: null for no values.
fn percentile(
    counts: &HashMap<i128, i64>,
    value_type: ValueType,
    evaluation: Evaluation,
) -> Result<Option<f64>> {
    if counts.is_empty() {
        return Ok(None);
    }
    let mut sorted: Vec<(i128, i64)> = counts.iter().map(|(&k, &c)| (k, c)).collect();
    if evaluation.reverse {
        sorted.sort_unstable_by_key(|&(key, _)| std::cmp::Reverse(key));
    } else {
        sorted.sort_unstable_by_key(|&(key, _)| key);
    }
    // The counts accumulated (Scala's `Long` addition, which wraps).
    let mut total = 0_i64;
    let accumulated: Vec<i64> = sorted
        .iter()
        .map(|&(_, c)| {
            total = total.wrapping_add(c);
            total
        })
        .collect();
    let p = f64::from_bits(evaluation.percentage);
    let key_at = |index: usize| match sorted.get(index) {
        Some(&(key, _)) => Ok(key),
        // (Only where counts wrapped; Spark's `Seq.apply` fails there too.)
        None => internal_err!("percentile position {index} past {} values", sorted.len()),
    };
    let last = *accumulated.last().expect("a value");
    if evaluation.method == PercentileMethod::Discrete {
        // `PercentileDisc.getPercentile`: the first value whose accumulated count reaches
        // ceil(count * p).
        let higher = (last as f64 * p).ceil() as i64;
        let index = binary_search_count(&accumulated, higher);
        return Ok(Some(value_type.to_double(key_at(index)?)));
    }
    // `PercentileBase.getPercentile`.
    let position = last.wrapping_sub(1) as f64 * p;
    let lower = position.floor() as i64;
    let higher = position.ceil() as i64;
    let lower_key = key_at(binary_search_count(&accumulated, lower.wrapping_add(1)))?;
    if higher == lower {
        return Ok(Some(value_type.to_double(lower_key)));
    }
    let higher_key = key_at(binary_search_count(&accumulated, higher.wrapping_add(1)))?;
    if value_type.same(higher_key, lower_key)
        || evaluation.method == PercentileMethod::LegacyDiscrete
    {
        return Ok(Some(value_type.to_double(lower_key)));
    }
    Ok(Some(
        (higher as f64 - position) * value_type.to_double(lower_key)
            + (position - lower as f64) * value_type.to_double(higher_key),
    ))
}

/// `PercentileBase.binarySearchCount`: the index of `value` in `counts` (Java's
/// `Arrays.binarySearch`), or where it would go.
fn binary_search_count(counts: &[i64], value: i64) -> usize {
    let (mut low, mut high) = (0_isize, counts.len() as isize - 1);
    while low <= high {
        let mid = ((low + high) as usize) >> 1;
        match counts[mid].cmp(&value) {
            std::cmp::Ordering::Less => low = mid as isize + 1,
            std::cmp::Ordering::Greater => high = mid as isize - 1,
            std::cmp::Ordering::Equal => return mid,
        }
    }
    low as usize
}

impl GroupsAccumulator for PercentileGroups {
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
            return internal_err!("a percentile state is one column");
        };
        self.merge(states, None, |i| group_indices[i])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.state_of(emit_to, true)?])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row's own counts.
        let mut rows = PercentileGroups {
            value_type: self.value_type,
            merge: self.merge,
            evaluation: None,
            frequency_sql: self.frequency_sql.clone(),
            counts: Vec::new(),
            allocated: 0,
        };
        let n = values.first().map_or(0, |v| v.len());
        rows.resize(n);
        rows.update(values, opt_filter, |i| i)?;
        Ok(vec![serialize(self.value_type, &rows.counts, true)?])
    }

    fn size(&self) -> usize {
        self.allocated * ENTRY_BYTES
            + self.counts.capacity() * size_of::<HashMap<i128, i64>>()
            + size_of::<Self>()
    }
}

/// One group's counts (no groups): a [`PercentileGroups`] of one group.
#[derive(Debug)]
struct PercentileAccumulator(PercentileGroups);

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.update(values, None, |_| 0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        let [states] = states else {
            return internal_err!("a percentile state is one column");
        };
        self.0.merge(states, None, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        let state = serialize(self.0.value_type, &self.0.counts[..1], true)?;
        Ok(vec![ScalarValue::try_from_array(&state, 0)?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.resize(1);
        match self.0.evaluation {
            Some(evaluation) if evaluation.method.is_mode() => {
                let smallest = evaluation.method == PercentileMethod::ModeSmallest;
                let value = mode(&self.0.counts[0], smallest);
                ScalarValue::try_from_array(&self.0.value_type.values(vec![value])?, 0)
            }
            Some(evaluation) => Ok(ScalarValue::Float64(percentile(
                &self.0.counts[0],
                self.0.value_type,
                evaluation,
            )?)),
            None => {
                let buffer = serialize(self.0.value_type, &self.0.counts[..1], false)?;
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

    use datafusion::arrow::array::{
        BinaryArray, Decimal128Array, Float32Array, Int8Array, Int32Array, Int64Array,
    };

    fn spec(value_type: &str, percentage: Option<f64>, method: PercentileMethod) -> PercentileSpec {
        PercentileSpec {
            value_type: value_type.into(),
            percentage,
            method,
            reverse: false,
            frequency_sql: Some("`f`".into()),
            accuracy: None,
            fallback_threshold: None,
        }
    }

    /// The aggregate of `spec` over `values` (one group), through its groups accumulator.
    fn run(spec: &PercentileSpec, merge: bool, values: &[ArrayRef]) -> Result<ArrayRef> {
        let mut groups = SparkPercentile::new(spec, merge, values.len())?.groups();
        let n = values[0].len();
        groups.update_batch(values, &vec![0; n], None, 1)?;
        groups.evaluate(EmitTo::All)
    }

    fn counts(pairs: &[(i128, i64)]) -> HashMap<i128, i64> {
        pairs.iter().copied().collect()
    }

    /// Spark's serialized buffer of one int 7 counted twice, as `PercentileBase.serialize`
    /// writes it (`UnsafeRow` of (7, 2L): 24 bytes).
    #[test]
    fn buffers_are_sparks_bytes() -> Result<()> {
        let spec = spec("int", None, PercentileMethod::Continuous);
        let out = run(
            &spec,
            false,
            &[Arc::new(Int32Array::from(vec![Some(7), None, Some(7)]))],
        )?;
        let mut expected = vec![0, 0, 0, 24];
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0xff; 4]);
        assert_eq!(out.as_binary::<i32>().value(0), expected.as_slice());
        // No values: just the end marker.
        let none = run(
            &spec,
            false,
            &[Arc::new(Int32Array::from(vec![None::<i32>]))],
        )?;
        assert_eq!(none.as_binary::<i32>().value(0), &[0xff; 4]);
        Ok(())
    }

    #[test]
    fn wide_decimals_are_big_endian_bytes_after_the_row() -> Result<()> {
        let spec = spec("decimal(38,2)", None, PercentileMethod::Continuous);
        let values = Decimal128Array::from(vec![-129_i128])
            .with_precision_and_scale(38, 2)
            .expect("valid");
        let out = run(&spec, false, &[Arc::new(values)])?;
        let bytes = out.as_binary::<i32>().value(0);
        assert_eq!(&bytes[..4], &[0, 0, 0, 40]);
        // Offset 24, size 2 (-129 is 0xff7f).
        assert_eq!(&bytes[12..20], &[2, 0, 0, 0, 24, 0, 0, 0]);
        assert_eq!(&bytes[28..30], &[0xff, 0x7f]);
        assert_eq!(&bytes[30..44], &[0; 14]);
        // And back.
        let merged = run(
            &PercentileSpec {
                percentage: Some(0.5),
                ..spec.clone()
            },
            true,
            &[Arc::new(BinaryArray::from(vec![bytes]))],
        )?;
        assert_eq!(merged.as_primitive::<Float64Type>().value(0), -1.29);
        Ok(())
    }

    #[test]
    fn minimal_bytes_are_big_integers() {
        assert_eq!(minimal_be_bytes(0), vec![0]);
        assert_eq!(minimal_be_bytes(127), vec![0x7f]);
        assert_eq!(minimal_be_bytes(128), vec![0, 0x80]);
        assert_eq!(minimal_be_bytes(-128), vec![0x80]);
        assert_eq!(minimal_be_bytes(-129), vec![0xff, 0x7f]);
        assert_eq!(minimal_be_bytes(i128::MAX).len(), 16);
    }

    /// The percentile as Spark's algorithm reads: every value repeated by its count, sorted,
    /// the position's neighbours interpolated.
    fn expanded(values: &[f64], p: f64) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let position = (v.len() - 1) as f64 * p;
        let (lower, higher) = (position.floor() as usize, position.ceil() as usize);
        if lower == higher || v[lower] == v[higher] {
            return Some(v[lower]);
        }
        Some((higher as f64 - position) * v[lower] + (position - lower as f64) * v[higher])
    }

    #[test]
    fn interpolates_between_the_neighbours_of_the_position() -> Result<()> {
        let mut seed = 7_u64;
        for round in 0..200 {
            let n = round % 23;
            let values: Vec<i64> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % 9) as i64 - 4
                })
                .collect();
            for p in [0.0, 0.1, 0.25, 0.5, 0.7, 0.99, 1.0] {
                let got = run(
                    &spec("bigint", Some(p), PercentileMethod::Continuous),
                    false,
                    &[Arc::new(Int64Array::from(values.clone()))],
                )?;
                let got = got.as_primitive::<Float64Type>();
                let expected = expanded(&values.iter().map(|&v| v as f64).collect::<Vec<_>>(), p);
                assert_eq!(
                    got.is_valid(0).then(|| got.value(0)),
                    expected,
                    "{values:?} at {p}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn sparks_answers() -> Result<()> {
        // Spark 4.0: percentile(col, 0.3) of 0 and 10 is 3.0; percentile_disc(0.5) of 0..9 is
        // 4.0 (legacy: 5.0 interpolated away, the lower value 4.0); median of 1, 2, 2, 100.
        let p = |values: Vec<i64>, pct: f64, method| -> Result<f64> {
            let out = run(
                &spec("bigint", Some(pct), method),
                false,
                &[Arc::new(Int64Array::from(values))],
            )?;
            Ok(out.as_primitive::<Float64Type>().value(0))
        };
        assert_eq!(p(vec![0, 10], 0.3, PercentileMethod::Continuous)?, 3.0);
        assert_eq!(p((0..10).collect(), 0.5, PercentileMethod::Discrete)?, 4.0);
        assert_eq!(
            p((0..10).collect(), 0.5, PercentileMethod::LegacyDiscrete)?,
            4.0
        );
        assert_eq!(p((0..10).collect(), 0.55, PercentileMethod::Discrete)?, 5.0);
        assert_eq!(p((0..10).collect(), 0.0, PercentileMethod::Discrete)?, 0.0);
        assert_eq!(
            p(vec![1, 2, 2, 100], 0.5, PercentileMethod::Continuous)?,
            2.0
        );
        assert_eq!(
            p(vec![1, 2, 3, 100], 0.5, PercentileMethod::Continuous)?,
            2.5
        );
        Ok(())
    }

    #[test]
    fn floats_in_sparks_order_nan_largest() -> Result<()> {
        let values = Float32Array::from(vec![
            Some(f32::NAN),
            Some(1.5),
            None,
            Some(-0.0),
            Some(f32::NEG_INFINITY),
        ]);
        let at = |pct: f64| -> Result<f64> {
            let out = run(
                &spec("float", Some(pct), PercentileMethod::Continuous),
                false,
                &[Arc::new(values.clone())],
            )?;
            Ok(out.as_primitive::<Float64Type>().value(0))
        };
        assert_eq!(at(0.0)?, f64::NEG_INFINITY);
        // -0.0 keeps its sign (its key sorts just below 0.0's).
        assert!(at(1.0 / 3.0)? == 0.0 && at(1.0 / 3.0)?.is_sign_negative());
        assert_eq!(at(0.5)?, 0.75);
        assert_eq!(at(2.0 / 3.0)?, 1.5);
        assert!(at(1.0)?.is_nan());
        // Interpolated between 1.5 and NaN: NaN.
        assert!(at(0.9)?.is_nan());
        Ok(())
    }

    #[test]
    fn reverse_reads_the_values_from_the_largest() {
        let c = counts(&[(1, 1), (2, 1), (10, 2)]);
        let e = |p: f64, reverse| Evaluation {
            percentage: p.to_bits(),
            method: PercentileMethod::Continuous,
            reverse,
        };
        assert_eq!(
            percentile(&c, ValueType::Long, e(0.25, false)).unwrap(),
            Some(1.75)
        );
        assert_eq!(
            percentile(&c, ValueType::Long, e(0.25, true)).unwrap(),
            Some(10.0)
        );
        assert_eq!(
            percentile(&c, ValueType::Long, e(0.75, true)).unwrap(),
            Some(1.75)
        );
    }

    #[test]
    fn frequencies_count_each_value_and_a_negative_one_fails() -> Result<()> {
        let s = spec("tinyint", Some(0.5), PercentileMethod::Continuous);
        let x: ArrayRef = Arc::new(Int8Array::from(vec![Some(1), Some(5), Some(9), None]));
        let f: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), Some(0), None, Some(-1)]));
        // Only 1 (three times): 5 has frequency 0, 9 a null one, and the null value's negative
        // frequency is not read.
        let out = run(&s, false, &[Arc::clone(&x), f])?;
        assert_eq!(out.as_primitive::<Float64Type>().value(0), 1.0);
        let negative: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(-2), Some(1), None]));
        let error = run(&s, false, &[x, negative]).unwrap_err().to_string();
        assert!(
            error.contains(
                "[NEGATIVE_VALUES_IN_FREQUENCY_EXPRESSION] Found the negative value in `f`: -2L, \
                 but expected a positive integral value. SQLSTATE: 22003"
            ),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn buffers_merge_and_round_trip_every_type() -> Result<()> {
        for (t, values) in [
            (
                "tinyint",
                Arc::new(Int8Array::from(vec![-128, 127, 0, 127])) as ArrayRef,
            ),
            (
                "int",
                Arc::new(Int32Array::from(vec![i32::MIN, i32::MAX, -1])) as ArrayRef,
            ),
            (
                "bigint",
                Arc::new(Int64Array::from(vec![i64::MIN, i64::MAX, 3])) as ArrayRef,
            ),
            (
                "float",
                Arc::new(Float32Array::from(vec![-0.0, 0.0, f32::NAN, 2.5])) as ArrayRef,
            ),
            (
                "decimal(18,3)",
                Arc::new(
                    Decimal128Array::from(vec![-999_999_999_999_999_999, 5])
                        .with_precision_and_scale(18, 3)
                        .expect("valid"),
                ) as ArrayRef,
            ),
            (
                "decimal(38,0)",
                Arc::new(
                    Decimal128Array::from(vec![i128::from(i64::MIN) * 1000, 10_i128.pow(37), 0])
                        .with_precision_and_scale(38, 0)
                        .expect("valid"),
                ) as ArrayRef,
            ),
        ] {
            for pct in [0.0, 0.4, 1.0] {
                let direct = run(
                    &spec(t, Some(pct), PercentileMethod::Continuous),
                    false,
                    &[Arc::clone(&values)],
                )?;
                // Two buffers of halves, merged.
                let half = values.len() / 2;
                let first = run(
                    &spec(t, None, PercentileMethod::Continuous),
                    false,
                    &[values.slice(0, half)],
                )?;
                let second = run(
                    &spec(t, None, PercentileMethod::Continuous),
                    false,
                    &[values.slice(half, values.len() - half)],
                )?;
                let buffers =
                    datafusion::arrow::compute::concat(&[first.as_ref(), second.as_ref()])?;
                let merged = run(
                    &spec(t, Some(pct), PercentileMethod::Continuous),
                    true,
                    &[buffers],
                )?;
                let (a, b) = (
                    direct.as_primitive::<Float64Type>().value(0),
                    merged.as_primitive::<Float64Type>().value(0),
                );
                assert!(a.to_bits() == b.to_bits(), "{t} at {pct}: {a} and {b}");
            }
        }
        Ok(())
    }

    #[test]
    fn corrupt_buffers_are_errors() {
        let s = spec("int", Some(0.5), PercentileMethod::Continuous);
        for bytes in [
            &[][..],
            &[0, 0, 0, 24, 1, 2][..],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            let buffers: ArrayRef = Arc::new(BinaryArray::from(vec![bytes]));
            let error = run(&s, true, &[buffers]).unwrap_err().to_string();
            assert!(error.contains("percentile buffer is corrupt"), "{error}");
        }
    }

    #[test]
    fn percentages_parse_to_the_nearest_double() {
        // (serde_json's float_roundtrip: its default parse is off by an ulp for some 17-digit
        // decimals, as Java's Double.toString writes them.)
        for p in ["0.9999999999999999", "0.12088995980580641", "1.0E-4"] {
            let spec: PercentileSpec =
                serde_json::from_str(&format!(r#"{{"value_type":"int","percentage":{p}}}"#))
                    .expect("a spec");
            assert_eq!(
                spec.percentage,
                Some(p.parse::<f64>().expect("a double")),
                "{p}"
            );
        }
    }

    #[test]
    fn mode_is_the_most_counted_value_in_its_type() -> Result<()> {
        let mode_of = |t: &str, method, values: ArrayRef| -> Result<ArrayRef> {
            // Through a buffer, as the partial and final stages meet.
            let buffer = run(
                &spec(t, None, PercentileMethod::Continuous),
                false,
                &[values],
            )?;
            run(&spec(t, None, method), true, &[buffer])
        };
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(3),
            Some(1),
            None,
            Some(3),
            Some(1),
            Some(2),
        ]));
        let smallest = mode_of("int", PercentileMethod::ModeSmallest, Arc::clone(&ints))?;
        assert_eq!(smallest.as_primitive::<Int32Type>().value(0), 1);
        let largest = mode_of("int", PercentileMethod::ModeLargest, ints)?;
        assert_eq!(largest.as_primitive::<Int32Type>().value(0), 3);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(-5), Some(19000), Some(-5)]));
        let d = mode_of("date", PercentileMethod::ModeSmallest, dates)?;
        assert_eq!(d.as_primitive::<Date32Type>().value(0), -5);
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            Some(true),
            None,
        ]));
        let b = mode_of("boolean", PercentileMethod::ModeLargest, flags)?;
        assert!(b.as_boolean().value(0));
        let stamps: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![Some(i64::MIN), Some(7), Some(i64::MIN)])
                .with_timezone("UTC"),
        );
        let t = mode_of("timestamp", PercentileMethod::ModeSmallest, stamps)?;
        assert_eq!(
            t.as_primitive::<TimestampMicrosecondType>().value(0),
            i64::MIN
        );
        assert_eq!(
            t.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, 2.5, f64::NAN, -1.0]));
        let f = mode_of("double", PercentileMethod::ModeSmallest, floats)?;
        assert!(f.as_primitive::<Float64Type>().value(0).is_nan());
        let none = mode_of(
            "int",
            PercentileMethod::ModeSmallest,
            Arc::new(Int32Array::from(vec![None::<i32>])),
        )?;
        assert!(none.is_null(0));
        Ok(())
    }

    #[test]
    fn binary_search_as_javas() {
        let counts = [2, 5, 6, 10];
        assert_eq!(binary_search_count(&counts, 1), 0);
        assert_eq!(binary_search_count(&counts, 2), 0);
        assert_eq!(binary_search_count(&counts, 3), 1);
        assert_eq!(binary_search_count(&counts, 10), 3);
        assert_eq!(binary_search_count(&counts, 11), 4);
        assert_eq!(binary_search_count(&[], 1), 0);
    }
}
