// Licensed under the Apache License, Version 2.0.

//! Spark's `collect_list` (`array_agg`): `CollectList`, whose buffer is the list of the group's
//! non-null values in the order they come, and whose result is that list as an array.
//!
//! The buffer is serialized as Spark's `Collect.serialize` writes it: an `UnsafeRow` of one field,
//! an `UnsafeArrayData` of the values (no element null), so either stage can stay on Spark. An
//! `UnsafeRow` here is its null bits (8 bytes, all clear), the field's offset (16) and size in
//! one long, then the array: its length as a long, its null bits (8 bytes per 64 elements, all
//! clear), each element's slot (1, 2, 4 or 8 bytes, the slots rounded up to 8 together) and the
//! variable-length values (strings, binary values and decimals of over 18 digits: each slot the
//! value's offset from the array's start and its size, the bytes rounded up to 8 with zeros).
//!
//! The order of a group's values is the order its rows and buffers come in, as in Spark: within
//! a task the rows in Spark's order, the buffers in the shuffle's order; past Spark's sort-based
//! fallback threshold of groups (`ObjectAggregationIterator`), a group's later rows go to a new
//! list, into which the earlier one is then merged (appended), as Spark's `SortBasedAggregator`
//! merges the hash map's buffer into the new one ([`SortFallback`]).

use std::collections::HashSet;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, BooleanBuilder, Date32Array,
    Decimal128Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    ListArray, StringBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, FieldRef, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::moments::selected;
use crate::percentile::{binary_column, binary_values};
use crate::sort_fallback::SortFallback;
use crate::spark_hash::murmur3;

/// One value of a list: a fixed-width value's bits (booleans as 0 and 1, floats as their IEEE
/// bits, decimals unscaled), or a string's or binary value's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Value {
    Fixed(i128),
    Bytes(Box<[u8]>),
}

impl Value {
    fn heap_bytes(&self) -> usize {
        match self {
            Value::Fixed(_) => 0,
            Value::Bytes(b) => b.len(),
        }
    }

    /// The bytes a list counts for the value.
    fn bytes(&self) -> usize {
        self.heap_bytes() + size_of::<Value>()
    }
}

/// The Arrow type of the values, with what Spark's `UnsafeArrayData` keeps of each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ElementType(DataType);

impl ElementType {
    /// The types `collect_list` takes natively.
    pub fn of(data_type: &DataType) -> Result<Self> {
        match data_type {
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, _)
            | DataType::Decimal128(..)
            | DataType::Utf8
            | DataType::Binary => Ok(Self(data_type.clone())),
            other => internal_err!("collect_list of {other} is not native"),
        }
    }

    /// The types `collect_set` takes natively (those whose Scala hash [`Self::scala_hash`]
    /// gives).
    pub fn of_set(data_type: &DataType) -> Result<Self> {
        match data_type {
            DataType::Decimal128(..) | DataType::Binary => {
                internal_err!("collect_set of {data_type} is not native")
            }
            other => Self::of(other),
        }
    }

    /// Scala's `##` of the value as Spark's buffer holds it (`Statics.anyHash`: a boxed
    /// number's, numerically equal ones alike, or the object's `hashCode`; a string's
    /// `UTF8String.hashCode`, Murmur3 of its bytes).
    fn scala_hash(&self, value: &Value) -> i32 {
        fn float_bits(f: f32) -> i32 {
            if f.is_nan() {
                0x7fc0_0000
            } else {
                f.to_bits() as i32
            }
        }
        fn double_hash(d: f64) -> i32 {
            // Rust's casts saturate and take NaN to 0, as Java's.
            if f64::from(d as i32) == d {
                d as i32
            } else if d as i64 as f64 == d {
                long_hash(d as i64)
            } else if f64::from(d as f32) == d {
                float_bits(d as f32)
            } else {
                let bits = if d.is_nan() {
                    0x7ff8_0000_0000_0000
                } else {
                    d.to_bits()
                };
                (bits ^ (bits >> 32)) as i32
            }
        }
        match (&self.0, value) {
            (DataType::Boolean, Value::Fixed(v)) => {
                if *v != 0 {
                    1231
                } else {
                    1237
                }
            }
            (DataType::Int64 | DataType::Timestamp(..), Value::Fixed(v)) => long_hash(*v as i64),
            // (Compared as floats, as Java promotes the int and the long: 2^31 is the int
            // 2^31 - 1's float.)
            (DataType::Float32, Value::Fixed(v)) => {
                let f = f32::from_bits(*v as u32);
                if f as i32 as f32 == f {
                    f as i32
                } else if f as i64 as f32 == f {
                    long_hash(f as i64)
                } else {
                    float_bits(f)
                }
            }
            (DataType::Float64, Value::Fixed(v)) => double_hash(f64::from_bits(*v as u64)),
            (_, Value::Fixed(v)) => *v as i32,
            (_, Value::Bytes(b)) => murmur3::hash_bytes(b, murmur3::SEED),
        }
    }

    /// Whether the value equals itself under Scala's `==` (all but NaN).
    fn has_key(&self, value: &Value) -> bool {
        match (&self.0, value) {
            (DataType::Float32, Value::Fixed(v)) => !f32::from_bits(*v as u32).is_nan(),
            (DataType::Float64, Value::Fixed(v)) => !f64::from_bits(*v as u64).is_nan(),
            _ => true,
        }
    }

    /// What Scala's `==` finds equal to the value in a set: floats' zeros as one; `None` for
    /// NaN, equal to nothing (not even itself); other values as they are.
    fn scala_key(&self, value: &Value) -> Option<Value> {
        match (&self.0, value) {
            (DataType::Float32, Value::Fixed(v)) => {
                let f = f32::from_bits(*v as u32);
                (!f.is_nan()).then(|| Value::Fixed(i128::from((f + 0.0).to_bits())))
            }
            (DataType::Float64, Value::Fixed(v)) => {
                let d = f64::from_bits(*v as u64);
                (!d.is_nan()).then(|| Value::Fixed(i128::from((d + 0.0).to_bits())))
            }
            _ => Some(value.clone()),
        }
    }

    /// The bytes of an element's slot.
    fn slot(&self) -> usize {
        match self.0 {
            DataType::Boolean | DataType::Int8 => 1,
            DataType::Int16 => 2,
            DataType::Int32 | DataType::Float32 | DataType::Date32 => 4,
            _ => 8,
        }
    }

    /// Whether the values are stored after the slots (the slot: offset and size).
    fn variable(&self) -> bool {
        match self.0 {
            DataType::Utf8 | DataType::Binary => true,
            DataType::Decimal128(precision, _) => precision > 18,
            _ => false,
        }
    }

    /// The value of row `i` of `a` (not null).
    fn value(&self, a: &dyn Array, i: usize) -> Result<Value> {
        Ok(match &self.0 {
            DataType::Boolean => Value::Fixed(i128::from(a.as_boolean().value(i))),
            DataType::Int8 => Value::Fixed(a.as_primitive::<Int8Type>().value(i).into()),
            DataType::Int16 => Value::Fixed(a.as_primitive::<Int16Type>().value(i).into()),
            DataType::Int32 => Value::Fixed(a.as_primitive::<Int32Type>().value(i).into()),
            DataType::Int64 => Value::Fixed(a.as_primitive::<Int64Type>().value(i).into()),
            DataType::Float32 => {
                Value::Fixed(a.as_primitive::<Float32Type>().value(i).to_bits().into())
            }
            DataType::Float64 => {
                Value::Fixed(a.as_primitive::<Float64Type>().value(i).to_bits().into())
            }
            DataType::Date32 => Value::Fixed(a.as_primitive::<Date32Type>().value(i).into()),
            DataType::Timestamp(..) => {
                Value::Fixed(a.as_primitive::<TimestampMicrosecondType>().value(i).into())
            }
            DataType::Decimal128(..) => Value::Fixed(a.as_primitive::<Decimal128Type>().value(i)),
            DataType::Utf8 => Value::Bytes(a.as_string::<i32>().value(i).as_bytes().into()),
            DataType::Binary => Value::Bytes(a.as_binary::<i32>().value(i).into()),
            other => return internal_err!("collect_list of {other}"),
        })
    }

    /// Appends Spark's `UnsafeRow` of one array field holding `values` to `out`.
    fn serialize(&self, values: &[Value], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        // The row: null bits, then the field's offset (from the row's start) and size.
        out.extend_from_slice(&[0; 16]);
        let array = out.len();
        let n = values.len();
        out.extend_from_slice(&(n as i64).to_le_bytes());
        out.resize(out.len() + n.div_ceil(64) * 8, 0);
        let slots = out.len();
        let slot = self.slot();
        out.resize(slots + (n * slot).div_ceil(8) * 8, 0);
        for (i, value) in values.iter().enumerate() {
            let at = slots + i * slot;
            match value {
                Value::Fixed(v) if !self.variable() => {
                    out[at..at + slot].copy_from_slice(&v.to_le_bytes()[..slot]);
                }
                Value::Fixed(v) => {
                    // A wide decimal: `BigInteger.toByteArray`, the fewest big-endian bytes.
                    let magnitude = if *v < 0 { !*v } else { *v };
                    let bytes = (128 - magnitude.leading_zeros() as usize + 1).div_ceil(8);
                    let big = v.to_be_bytes();
                    self.append_variable(out, array, at, &big[16 - bytes..])?;
                }
                Value::Bytes(b) => self.append_variable(out, array, at, b)?,
            }
        }
        let size = out.len() - array;
        let field = (16_u64 << 32)
            | u64::try_from(size)
                .ok()
                .filter(|s| *s <= u32::MAX as u64)
                .ok_or_else(|| {
                    datafusion::error::DataFusionError::Execution(
                        "a collect_list buffer over 4 GiB".into(),
                    )
                })?;
        out[start + 8..start + 16].copy_from_slice(&field.to_le_bytes());
        Ok(())
    }

    /// Appends `bytes` as a variable-length element whose slot is at `slot`, padded to 8.
    fn append_variable(
        &self,
        out: &mut Vec<u8>,
        array: usize,
        slot: usize,
        bytes: &[u8],
    ) -> Result<()> {
        let offset = out.len() - array;
        let (Ok(offset), Ok(size)) = (u32::try_from(offset), u32::try_from(bytes.len())) else {
            return exec_err!("a collect_list buffer over 4 GiB");
        };
        out.extend_from_slice(bytes);
        out.resize(out.len() + (8 - bytes.len() % 8) % 8, 0);
        let field = (u64::from(offset) << 32) | u64::from(size);
        out[slot..slot + 8].copy_from_slice(&field.to_le_bytes());
        Ok(())
    }

    /// The values of a buffer Spark's `Collect.serialize` (or [`Self::serialize`]) wrote.
    fn deserialize(&self, row: &[u8], out: &mut Vec<Value>) -> Result<()> {
        let bad = || {
            datafusion::error::DataFusionError::Execution(format!(
                "a collect_list buffer of {} bytes is not Spark's",
                row.len()
            ))
        };
        let long = |at: usize| -> Result<u64> {
            let bytes = row.get(at..at + 8).ok_or_else(bad)?;
            Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
        };
        if long(0)? & 1 != 0 {
            return Err(bad());
        }
        let field = long(8)?;
        let (offset, size) = ((field >> 32) as usize, (field & 0xffff_ffff) as usize);
        let array = row.get(offset..offset + size).ok_or_else(bad)?;
        let n = usize::try_from(i64::from_le_bytes(
            array.get(..8).ok_or_else(bad)?.try_into().expect("8 bytes"),
        ))
        .map_err(|_| bad())?;
        let slots = 8 + n.div_ceil(64) * 8;
        let slot = self.slot();
        if array.len() < slots + n * slot {
            return Err(bad());
        }
        out.reserve(n);
        for i in 0..n {
            let at = slots + i * slot;
            let bytes = &array[at..at + slot];
            let value = if self.variable() {
                let field = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
                let (offset, size) = ((field >> 32) as usize, (field & 0xffff_ffff) as usize);
                let data = array.get(offset..offset + size).ok_or_else(bad)?;
                match self.0 {
                    DataType::Decimal128(..) => {
                        if data.is_empty() || data.len() > 16 {
                            return Err(bad());
                        }
                        let fill = if data[0] & 0x80 != 0 { 0xff } else { 0 };
                        let mut big = [fill; 16];
                        big[16 - data.len()..].copy_from_slice(data);
                        Value::Fixed(i128::from_be_bytes(big))
                    }
                    _ => Value::Bytes(data.into()),
                }
            } else {
                let mut le = [0_u8; 16];
                le[..slot].copy_from_slice(bytes);
                let v = i128::from_le_bytes(le);
                // Sign-extend the signed types (booleans and float bits stay as they are).
                let shift = 128 - 8 * slot as u32;
                Value::Fixed(match self.0 {
                    DataType::Boolean | DataType::Float32 | DataType::Float64 => v,
                    _ => (v << shift) >> shift,
                })
            };
            out.push(value);
        }
        Ok(())
    }

    /// An array of `lists`' values, one list per row (none null), elements not null.
    fn lists(&self, lists: &[Vec<Value>]) -> Result<ArrayRef> {
        let values: Vec<&Value> = lists.iter().flatten().collect();
        let fixed = |v: &Value| match v {
            Value::Fixed(x) => *x,
            Value::Bytes(_) => 0,
        };
        let elements: ArrayRef = match &self.0 {
            DataType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(values.len());
                values.iter().for_each(|v| b.append_value(fixed(v) != 0));
                Arc::new(b.finish())
            }
            DataType::Int8 => Arc::new(Int8Array::from_iter_values(
                values.iter().map(|v| fixed(v) as i8),
            )),
            DataType::Int16 => Arc::new(Int16Array::from_iter_values(
                values.iter().map(|v| fixed(v) as i16),
            )),
            DataType::Int32 => Arc::new(Int32Array::from_iter_values(
                values.iter().map(|v| fixed(v) as i32),
            )),
            DataType::Int64 => Arc::new(Int64Array::from_iter_values(
                values.iter().map(|v| fixed(v) as i64),
            )),
            DataType::Float32 => Arc::new(Float32Array::from_iter_values(
                values.iter().map(|v| f32::from_bits(fixed(v) as u32)),
            )),
            DataType::Float64 => Arc::new(Float64Array::from_iter_values(
                values.iter().map(|v| f64::from_bits(fixed(v) as u64)),
            )),
            DataType::Date32 => Arc::new(Date32Array::from_iter_values(
                values.iter().map(|v| fixed(v) as i32),
            )),
            DataType::Timestamp(_, tz) => Arc::new(
                TimestampMicrosecondArray::from_iter_values(values.iter().map(|v| fixed(v) as i64))
                    .with_timezone_opt(tz.clone()),
            ),
            DataType::Decimal128(p, s) => Arc::new(
                Decimal128Array::from_iter_values(values.iter().map(|v| fixed(v)))
                    .with_precision_and_scale(*p, *s)?,
            ),
            DataType::Utf8 => {
                let mut b = StringBuilder::new();
                for v in &values {
                    let Value::Bytes(bytes) = v else {
                        return internal_err!("a string list holds a fixed value");
                    };
                    match std::str::from_utf8(bytes) {
                        Ok(s) => b.append_value(s),
                        Err(_) => {
                            return exec_err!(
                                "a collect_list buffer holds a string that is not UTF-8"
                            );
                        }
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Binary => {
                let mut b = BinaryBuilder::new();
                for v in &values {
                    let Value::Bytes(bytes) = v else {
                        return internal_err!("a binary list holds a fixed value");
                    };
                    b.append_value(bytes);
                }
                Arc::new(b.finish())
            }
            other => return internal_err!("collect_list of {other}"),
        };
        let offsets = OffsetBuffer::from_lengths(lists.iter().map(Vec::len));
        Ok(Arc::new(ListArray::try_new(
            self.field(),
            offsets,
            elements,
            None,
        )?))
    }

    /// The result's element field (Spark's `containsNull = false`).
    fn field(&self) -> FieldRef {
        Arc::new(Field::new("element", self.0.clone(), false))
    }
}

/// Scala's `##` of a long (`Statics.longHash`): the int where it is one, else Java's
/// `Long.hashCode`.
fn long_hash(v: i64) -> i32 {
    if v as i32 as i64 == v {
        v as i32
    } else {
        (v ^ (v as u64 >> 32) as i64) as i32
    }
}

/// A group's values: `collect_list`'s list, or `collect_set`'s set (with its [`SetIndex`]).
#[derive(Debug, Clone, Default)]
struct Bag {
    /// The values in the order they came (a set's: the first of equal ones).
    values: Vec<Value>,
    set: Option<Box<SetIndex>>,
}

/// What Scala 2.13's `mutable.HashSet` (Spark's buffer of `collect_set`) knows of its values,
/// whose order (its iteration's, which Spark's result and serialized buffer keep) follows from
/// it: the table's buckets in order (a value's bucket: its improved hash's low bits), in a
/// bucket the values by improved hash (as signed ints), equal hashes in the order they came.
/// The table's length depends on how the set was filled: `add` doubles it before the size
/// reaches 3/4 of it, a merge (`++=`, `sizeHint` of the other set's size) grows it once to fit
/// the other set alone and then adds without growing.
#[derive(Debug, Clone)]
struct SetIndex {
    /// The table's length (a power of two).
    table: u32,
    /// `add` grows the table where the size reaches this less one (3/4 of the table).
    threshold: u32,
    /// Each value's improved hash (`h ^ (h >>> 16)` of its `##`).
    hashes: Vec<i32>,
    /// The values' equality keys (see [`ElementType::scala_key`]).
    members: HashSet<Value>,
}

impl SetIndex {
    fn new() -> Self {
        // `mutable.HashSet.empty`: 16 buckets, load factor 0.75.
        Self {
            table: 16,
            threshold: 12,
            hashes: Vec::new(),
            members: HashSet::new(),
        }
    }

    fn grow(&mut self, table: u32) {
        self.table = table;
        self.threshold = (f64::from(table) * 0.75) as u32;
    }

    /// Scala's `sizeHint(size)`: a table for `size` values alone, where it is larger.
    fn size_hint(&mut self, size: usize) {
        let capacity = ((size as f64 + 1.0) / 0.75).min(f64::from(i32::MAX)) as u32;
        let target = (capacity.saturating_sub(1).max(4).ilog2() + 1).min(30);
        if 1 << target > self.table {
            self.grow(1 << target);
        }
    }
}

impl Bag {
    fn new(set: bool) -> Self {
        Self {
            values: Vec::new(),
            set: set.then(|| Box::new(SetIndex::new())),
        }
    }

    /// Spark's `buffer += value`; the bytes it adds.
    fn add(&mut self, element: &ElementType, value: Value) -> usize {
        if let Some(set) = &mut self.set
            && self.values.len() + 1 >= set.threshold as usize
        {
            set.grow(set.table.saturating_mul(2).min(1 << 30));
        }
        self.insert(element, value)
    }

    /// Adds `value` unless the set holds one equal to it (Scala's `addElem`, which never
    /// grows the table); the bytes it adds.
    fn insert(&mut self, element: &ElementType, value: Value) -> usize {
        let mut bytes = value.bytes();
        if let Some(set) = &mut self.set {
            let key = element.scala_key(&value);
            if let Some(key) = key {
                if set.members.contains(&key) {
                    return 0;
                }
                bytes += key.bytes();
                set.members.insert(key);
            }
            let h = element.scala_hash(&value);
            set.hashes.push(h ^ (h as u32 >> 16) as i32);
            bytes += size_of::<i32>();
        }
        self.values.push(value);
        bytes
    }

    /// Spark's `buffer ++= other` of the values of another list or set (in its order); the
    /// bytes it adds.
    fn merge(&mut self, element: &ElementType, other: Vec<Value>) -> usize {
        if let Some(set) = &mut self.set {
            set.size_hint(other.len());
        }
        other.into_iter().map(|v| self.insert(element, v)).sum()
    }

    /// The bytes the bag counts.
    fn bytes(&self, element: &ElementType) -> usize {
        let values: usize = self.values.iter().map(Value::bytes).sum();
        match &self.set {
            None => values,
            // (A key takes what its value takes.)
            Some(_) => {
                let keys: usize = self
                    .values
                    .iter()
                    .filter(|v| element.has_key(v))
                    .map(Value::bytes)
                    .sum();
                values + keys + self.values.len() * size_of::<i32>()
            }
        }
    }

    /// The values in the order Spark's buffer iterates them.
    fn into_values(self) -> Vec<Value> {
        let Some(set) = self.set else {
            return self.values;
        };
        let mask = set.table - 1;
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by_key(|&i| (set.hashes[i] as u32 & mask, set.hashes[i], i));
        let mut values: Vec<Option<Value>> = self.values.into_iter().map(Some).collect();
        order
            .into_iter()
            .map(|i| values[i].take().expect("each value once"))
            .collect()
    }
}

/// `collect_list_buffer` (of values), `merge_collect_list` (of buffers): Spark's buffer, or with
/// `evaluate` the list as an array.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkCollectList {
    element: ElementType,
    /// `collect_set` rather than `collect_list`.
    set: bool,
    merge: bool,
    evaluate: bool,
    /// Spark's `spark.sql.objectHashAggregate.sortBased.fallbackThreshold`, where the aggregate
    /// stands for an `ObjectHashAggregateExec` with grouping keys.
    fallback_threshold: Option<usize>,
    signature: Signature,
}

impl SparkCollectList {
    /// The aggregate of values of Arrow type `element` (`merge`: of buffers of them), giving the
    /// array (`evaluate`) or the buffer, with Spark's sort-based fallback past
    /// `fallback_threshold` groups.
    pub fn udaf(
        element: &DataType,
        set: bool,
        merge: bool,
        evaluate: bool,
        fallback_threshold: Option<usize>,
    ) -> Result<Arc<AggregateUDF>> {
        Ok(Arc::new(AggregateUDF::new_from_impl(Self {
            element: if set {
                ElementType::of_set(element)?
            } else {
                ElementType::of(element)?
            },
            set,
            merge,
            evaluate,
            fallback_threshold,
            signature: Signature::any(1, Volatility::Immutable),
        })))
    }

    fn groups(&self) -> Lists {
        Lists {
            element: self.element.clone(),
            set: self.set,
            merge: self.merge,
            evaluate: self.evaluate,
            lists: Vec::new(),
            bytes: 0,
            fallback: self.fallback_threshold.map(SortFallback::new),
        }
    }
}

impl AggregateUDFImpl for SparkCollectList {
    fn name(&self) -> &str {
        match (self.set, self.merge) {
            (false, true) => "spark_merge_collect_list",
            (false, false) => "spark_collect_list_buffer",
            (true, true) => "spark_merge_collect_set",
            (true, false) => "spark_collect_set_buffer",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.evaluate {
            DataType::List(self.element.field())
        } else {
            DataType::Binary
        })
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "list"),
            DataType::LargeBinary,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // (No groups: Spark's aggregation without keys never falls back.)
        Ok(Box::new(ListAccumulator(Lists {
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

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        // Spark's `defaultResult`: an empty array (or buffer) where there are no rows.
        let mut empty = self.groups();
        empty.resize(1);
        let value = empty.emit(EmitTo::All)?;
        if value.data_type() != data_type {
            return internal_err!("collect_list's default of {data_type}");
        }
        ScalarValue::try_from_array(&value, 0)
    }
}

/// Each group's list (or set).
#[derive(Debug)]
struct Lists {
    element: ElementType,
    set: bool,
    merge: bool,
    evaluate: bool,
    lists: Vec<Bag>,
    /// The bytes the lists' values hold.
    bytes: usize,
    fallback: Option<SortFallback<Bag>>,
}

impl Lists {
    fn resize(&mut self, groups: usize) {
        if groups > self.lists.len() {
            let set = self.set;
            self.lists.resize_with(groups, || Bag::new(set));
        }
        if let Some(f) = &mut self.fallback {
            f.resize(groups);
        }
    }

    /// The list row `i` of `n` (of group `g`) goes to (see [`SortFallback::target`]).
    fn list(&mut self, i: usize, n: usize, g: usize, read: bool) -> Option<&mut Bag> {
        let set = self.set;
        match &mut self.fallback {
            Some(fallback) => fallback.target(&mut self.lists, i, n, g, read, || Bag::new(set)),
            None => read.then(|| &mut self.lists[g]),
        }
    }

    /// Reads the rows of `values` that pass `filter` (values, or with `merge` buffers) into the
    /// list of `group(row)`.
    fn update(
        &mut self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let [values] = values else {
            return internal_err!("collect_list takes one column");
        };
        if self.merge {
            return self.merge(values, filter, group);
        }
        let n = values.len();
        let element = self.element.clone();
        for i in 0..n {
            let read = values.is_valid(i) && selected(filter, i);
            let value = if read {
                Some(element.value(values.as_ref(), i)?)
            } else {
                None
            };
            let mut added = 0;
            if let Some(list) = self.list(i, n, group(i), read) {
                let value = value.expect("read only where there is a value");
                added = list.add(&element, value);
            }
            self.bytes += added;
        }
        Ok(())
    }

    /// Appends the serialized lists `buffers` to the list of `group(row)`.
    fn merge(
        &mut self,
        buffers: &ArrayRef,
        filter: Option<&BooleanArray>,
        group: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let n = buffers.len();
        let element = self.element.clone();
        let mut values = Vec::new();
        for (i, buffer) in binary_values(buffers)?.enumerate() {
            let buffer = buffer.filter(|_| selected(filter, i));
            values.clear();
            if let Some(buffer) = buffer {
                element.deserialize(buffer, &mut values)?;
            }
            if let Some(list) = self.list(i, n, group(i), buffer.is_some()) {
                let added = list.merge(&element, std::mem::take(&mut values));
                self.bytes += added;
            }
        }
        Ok(())
    }

    /// The lists of the groups `emit_to` takes, which leave: each group's later list (past
    /// Spark's fallback) with its earlier one appended, as Spark's sort-based aggregation merges
    /// the hash map's buffer into the new one.
    fn take(&mut self, emit_to: EmitTo) -> Vec<Vec<Value>> {
        let taken = emit_to.take_needed(&mut self.lists);
        let later = self
            .fallback
            .as_mut()
            .and_then(|f| f.take(emit_to, taken.len()));
        // (What leaves is no longer counted; the groups that stay are not walked again.)
        let element = &self.element;
        let leaving = taken.iter().map(|b| b.bytes(element)).sum::<usize>()
            + later
                .iter()
                .flatten()
                .flatten()
                .map(|b| b.bytes(element))
                .sum::<usize>();
        self.bytes -= leaving;
        match later {
            None => taken.into_iter().map(Bag::into_values).collect(),
            // Past the switch every group goes through Spark's sort-based aggregation: a new
            // buffer (with the group's later rows), into which its earlier one is merged.
            Some(later) => {
                let set = self.set;
                taken
                    .into_iter()
                    .zip(later)
                    .map(|(earlier, later)| {
                        let mut later = later.unwrap_or_else(|| Bag::new(set));
                        later.merge(element, earlier.into_values());
                        later.into_values()
                    })
                    .collect()
            }
        }
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let taken = self.take(emit_to);
        if self.evaluate {
            self.element.lists(&taken)
        } else {
            serialize(&self.element, &taken, false)
        }
    }
}

/// Spark's serialized buffers of `lists`: binary values, or with `large` large ones.
fn serialize(element: &ElementType, lists: &[Vec<Value>], large: bool) -> Result<ArrayRef> {
    let mut failure = None;
    let column = binary_column(lists.len(), 0, large, "collect_list", |i, buffer| {
        if let Err(e) = element.serialize(&lists[i], buffer) {
            failure.get_or_insert(e);
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(column),
    }
}

impl GroupsAccumulator for Lists {
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
            return internal_err!("a collect_list state is one column");
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
        let taken = self.take(emit_to);
        Ok(vec![serialize(&self.element, &taken, true)?])
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut rows = Lists {
            element: self.element.clone(),
            set: self.set,
            merge: self.merge,
            evaluate: false,
            lists: Vec::new(),
            bytes: 0,
            fallback: None,
        };
        let n = values.first().map_or(0, |v| v.len());
        rows.resize(n);
        rows.update(values, opt_filter, |i| i)?;
        let lists = rows.take(EmitTo::All);
        Ok(vec![serialize(&self.element, &lists, true)?])
    }

    fn size(&self) -> usize {
        let later = self
            .fallback
            .as_ref()
            .map_or(0, |f| f.capacity() * size_of::<Option<Bag>>());
        self.bytes + self.lists.capacity() * size_of::<Bag>() + later + size_of::<Self>()
    }
}

/// One list (no groups).
#[derive(Debug)]
struct ListAccumulator(Lists);

impl Accumulator for ListAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.update(values, None, |_| 0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        let [states] = states else {
            return internal_err!("a collect_list state is one column");
        };
        self.0.merge(states, None, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        let values = [self.0.lists[0].clone().into_values()];
        let state = serialize(&self.0.element, &values, true)?;
        Ok(vec![ScalarValue::try_from_array(&state, 0)?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.resize(1);
        let values = [self.0.lists[0].clone().into_values()];
        let out = if self.0.evaluate {
            self.0.element.lists(&values)?
        } else {
            serialize(&self.0.element, &values, false)?
        };
        ScalarValue::try_from_array(&out, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the threshold (2 groups, reached at row 2 with rows left), each group's later rows
    /// come first, then its earlier list, as Spark's sort-based aggregation merges them.
    #[test]
    fn fallback_puts_later_rows_first() {
        let udaf = SparkCollectList {
            element: ElementType::of(&DataType::Int64).unwrap(),
            set: false,
            merge: false,
            evaluate: true,
            fallback_threshold: Some(2),
            signature: Signature::any(1, Volatility::Immutable),
        };
        let mut lists = udaf.groups();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![10, 11, 12, 13, 14, 15]));
        // Two batches: the switch comes within the first.
        lists
            .update_batch(&[values.slice(0, 4)], &[0, 0, 1, 2], None, 3)
            .unwrap();
        lists
            .update_batch(&[values.slice(4, 2)], &[0, 1], None, 3)
            .unwrap();
        let out = lists.evaluate(EmitTo::All).unwrap();
        let out = out.as_list::<i32>();
        let rows: Vec<Vec<i64>> = (0..out.len())
            .map(|i| out.value(i).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(rows, [vec![14, 10, 11], vec![15, 12], vec![13]]);

        // Without the threshold: the rows in order.
        let mut plain = SparkCollectList {
            fallback_threshold: None,
            ..udaf
        }
        .groups();
        plain
            .update_batch(&[values], &[0, 0, 1, 2, 0, 1], None, 3)
            .unwrap();
        let out = plain.evaluate(EmitTo::All).unwrap();
        let out = out.as_list::<i32>();
        assert_eq!(
            out.value(0).as_primitive::<Int64Type>().values().to_vec(),
            [10, 11, 14]
        );
    }

    #[test]
    fn buffers_round_trip_in_sparks_layout() {
        // Spark's Collect.serialize of collect_list(int) over [1, -2]: an UnsafeRow of one
        // array field at offset 16, 24 bytes (length, null bits, two int slots).
        let ints = ElementType::of(&DataType::Int32).unwrap();
        let mut out = Vec::new();
        ints.serialize(&[Value::Fixed(1), Value::Fixed(-2)], &mut out)
            .unwrap();
        let mut expected = vec![0_u8; 8];
        expected.extend_from_slice(&((16_u64 << 32) | 24).to_le_bytes());
        expected.extend_from_slice(&2_i64.to_le_bytes());
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&1_i32.to_le_bytes());
        expected.extend_from_slice(&(-2_i32).to_le_bytes());
        assert_eq!(out, expected);
        let mut back = Vec::new();
        ints.deserialize(&out, &mut back).unwrap();
        assert_eq!(back, [Value::Fixed(1), Value::Fixed(-2)]);

        for (data_type, values) in [
            (
                DataType::Utf8,
                vec![
                    Value::Bytes(b"".as_slice().into()),
                    Value::Bytes("h\u{e9}llo world!".as_bytes().into()),
                ],
            ),
            (
                DataType::Decimal128(30, 2),
                vec![
                    Value::Fixed(0),
                    Value::Fixed(-1),
                    Value::Fixed(i128::from(i64::MAX) * 1000),
                    Value::Fixed(-(10_i128.pow(29))),
                ],
            ),
            (DataType::Int16, vec![Value::Fixed(-3), Value::Fixed(7)]),
            (DataType::Boolean, vec![Value::Fixed(1), Value::Fixed(0)]),
            (
                DataType::Float64,
                vec![Value::Fixed(i128::from((-0.5_f64).to_bits()))],
            ),
            (DataType::Binary, vec![]),
        ] {
            let element = ElementType::of(&data_type).unwrap();
            let mut out = Vec::new();
            element.serialize(&values, &mut out).unwrap();
            assert_eq!(out.len() % 8, 0);
            let mut back = Vec::new();
            element.deserialize(&out, &mut back).unwrap();
            assert_eq!(back, values, "{data_type}");
            let list = element.lists(std::slice::from_ref(&values)).unwrap();
            assert_eq!(list.len(), 1);
        }
        assert!(ints.deserialize(&out[..20], &mut Vec::new()).is_err());
    }

    /// Scala's `##` of the values Spark's set holds (from Scala 2.13 and Spark 4.0).
    #[test]
    fn scala_hashes_are_scalas() {
        let hash = |t: DataType, v: Value| ElementType::of_set(&t).unwrap().scala_hash(&v);
        let double = |d: f64| hash(DataType::Float64, Value::Fixed(i128::from(d.to_bits())));
        assert_eq!(double(f64::NAN), 2_146_959_360);
        assert_eq!(double(-f64::NAN), 2_146_959_360);
        assert_eq!(double(-0.0), 0);
        assert_eq!(double(7.0), 7);
        assert_eq!(double(1.5), 1_069_547_520, "as the float 1.5f");
        assert_eq!(double(2.0_f64.powi(40) + 0.5), 1_114_638_336);
        assert_eq!(double(1e300), -164_130_400);
        assert_eq!(double(2.0_f64.powi(40)), 256, "as the long 2^40");
        assert_eq!(hash(DataType::Int64, Value::Fixed(1 << 40)), 256);
        assert_eq!(hash(DataType::Int64, Value::Fixed(-5)), -5);
        let float = |f: f32| hash(DataType::Float32, Value::Fixed(i128::from(f.to_bits())));
        assert_eq!(float(1.5), 1_069_547_520);
        assert_eq!(
            float(2_147_483_648.0),
            2_147_483_647,
            "as the int 2^31 - 1's float"
        );
        assert_eq!(float(-2_147_483_648.0), -2_147_483_648);
        assert_eq!(float(1e10), long_hash(10_000_000_000));
        assert_eq!(float(-3.0), -3);
        assert_eq!(hash(DataType::Boolean, Value::Fixed(1)), 1231);
        assert_eq!(hash(DataType::Boolean, Value::Fixed(0)), 1237);
        assert_eq!(hash(DataType::Int16, Value::Fixed(-300)), -300);
        let string = |s: &str| hash(DataType::Utf8, Value::Bytes(s.as_bytes().into()));
        assert_eq!(string("a"), 1_485_273_170);
        assert_eq!(string("h\u{e9}llo"), 1_212_979_866);
        assert!(ElementType::of_set(&DataType::Decimal128(10, 2)).is_err());
        assert!(ElementType::of_set(&DataType::Binary).is_err());
    }

    /// A set's order: by bucket, then hash; the table's size as Scala's adds and merges grow it.
    #[test]
    fn sets_iterate_in_scalas_order() {
        let ints = ElementType::of_set(&DataType::Int32).unwrap();
        let values = |v: &[i128]| v.iter().map(|x| Value::Fixed(*x)).collect::<Vec<_>>();
        let mut set = Bag::new(true);
        set.merge(&ints, values(&[0, 1, 2, 3, 4, 5]));
        set.merge(&ints, values(&[16, 17, 18, 19, 20, 21, 3]));
        // Two merges of 6 (7) values: still 16 buckets for 12 values.
        assert_eq!(set.set.as_ref().unwrap().table, 16);
        let order = set.clone().into_values();
        assert_eq!(order, values(&[0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21]));
        // Merged into a new set, sized for 12: 32 buckets.
        let mut fresh = Bag::new(true);
        fresh.merge(&ints, order);
        assert_eq!(fresh.set.as_ref().unwrap().table, 32);
        assert_eq!(
            fresh.into_values(),
            values(&[0, 1, 2, 3, 4, 5, 16, 17, 18, 19, 20, 21])
        );
        // Adds grow at 3/4 of the table, counting adds of values already there.
        let mut added = Bag::new(true);
        for v in 0..11 {
            added.add(&ints, Value::Fixed(v));
        }
        assert_eq!(added.set.as_ref().unwrap().table, 16);
        added.add(&ints, Value::Fixed(3));
        assert_eq!(added.set.as_ref().unwrap().table, 32);
        assert_eq!(added.values.len(), 11);
        // NaN equals nothing, -0.0 equals 0.0 (the first kept).
        let doubles = ElementType::of_set(&DataType::Float64).unwrap();
        let mut d = Bag::new(true);
        for x in [-0.0, f64::NAN, 0.0, f64::NAN, 1.0] {
            d.add(&doubles, Value::Fixed(i128::from(f64::to_bits(x))));
        }
        let bits: Vec<u64> = d
            .into_values()
            .iter()
            .map(|v| match v {
                Value::Fixed(b) => *b as u64,
                Value::Bytes(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            bits,
            [
                (-0.0_f64).to_bits(),
                1.0_f64.to_bits(),
                f64::NAN.to_bits(),
                f64::NAN.to_bits()
            ]
        );
    }
}
