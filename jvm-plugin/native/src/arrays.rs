//! Spark's functions of arrays ([`SparkArrayFunction`]) over Arrow lists (Spark's
//! `ArrayType`): `size`, `a[i]` (`GetArrayItem`), `element_at`, `array_contains`,
//! `array_max`, `array_min`, `array_position`, `arrays_overlap` and `array_join`, and those that
//! make arrays: `sequence` of integers, and `array(...)`, `concat`, `reverse`, `array_compact`,
//! `flatten`, `slice`, `sort_array`, `array_distinct`, `array_remove`, `array_union`,
//! `array_intersect` and `array_except` (which pick elements of their arguments: one `take`
//! of the values per batch, see [`Picks`]).
//!
//! Each follows Spark 4.0's `nullSafeEval` (and its generated code, which agrees): a null
//! array gives null (or -1 for `size` in legacy mode), the index is read as Spark reads it,
//! and an index out of bounds gives null or, where Spark's expression has `failOnError`
//! (ANSI mode), Spark's error, worded as Spark words it.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, ListArray, NullBufferBuilder,
    StringArray, StringBuilder, UInt64Array, make_comparator, new_empty_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{SortOptions, cast, concat, take};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Float32Type, Float64Type, Int32Type, Int64Type, Schema,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::NativeError;
use crate::message::ArrayFunction;
use crate::planner::normalize_array;

/// Floats with `-0.0` as `0.0` and every NaN the canonical one (Spark's `equiv` of doubles:
/// `-0.0 = 0.0`, `NaN = NaN`), so that Arrow's total order finds them equal; other types as
/// they are.
fn normalize(a: &ArrayRef) -> Result<ArrayRef> {
    normalize_array(a).map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))
}

/// Floats with every NaN the canonical one but zeros as they are (Java's `Double.equals`:
/// `NaN = NaN`, `-0.0 != 0.0`, as Spark's hash sets of doubles and its sort of a primitive
/// array compare them); other types as they are.
fn canonical_nan(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Float64 => Arc::new(
            a.as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|v| if v.is_nan() { f64::NAN } else { v }),
        ),
        DataType::Float32 => Arc::new(
            a.as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|v| if v.is_nan() { f32::NAN } else { v }),
        ),
        _ => Arc::clone(a),
    }
}

/// A function of arrays: its first child is the array (an Arrow list), then the index
/// (`GetItem`, `ElementAt`), the value looked for (`Contains`, `Position`, `Remove`), the
/// other arrays (`Concat`, `Overlap`) or the bounds (`Slice`); `Create`'s children are the
/// elements.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkArrayFunction {
    function: ArrayFunction,
    args: Vec<Arc<dyn PhysicalExpr>>,
    /// The result's type where the function makes an array (Spark's, so that its
    /// `containsNull` is the element field's nullability).
    result: Option<DataType>,
}

/// `t` with every list's element field nullable and named `element`: two types of the same
/// shape hold the same values.
fn shape(t: &DataType) -> DataType {
    match t {
        DataType::List(f) => {
            DataType::List(Arc::new(Field::new("element", shape(f.data_type()), true)))
        }
        other => other.clone(),
    }
}

/// The element type of a list type.
fn element_type(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) => Some(f.data_type()),
        _ => None,
    }
}

impl SparkArrayFunction {
    /// `function` of `args` over `schema`, giving `result` where it makes an array, or a
    /// planning error where their types do not fit it.
    pub fn try_new(
        function: ArrayFunction,
        args: Vec<Arc<dyn PhysicalExpr>>,
        result: Option<DataType>,
        schema: &Schema,
    ) -> crate::error::Result<Self> {
        let types = args
            .iter()
            .map(|a| a.data_type(schema))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let bad = || {
            NativeError::plan(format!(
                "{function:?} of {}{}",
                types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                result
                    .as_ref()
                    .map(|r| format!(" giving {r}"))
                    .unwrap_or_default()
            ))
        };
        let makes_array = Self::makes_array(function);
        let out_element = match (&result, makes_array) {
            (Some(DataType::List(f)), true) => Some(shape(f.data_type())),
            (None, false) => None,
            _ => return Err(bad()),
        };
        let is_list = |t: &DataType| matches!(t, DataType::List(_));
        let flat = |t: &DataType| element_type(t).is_some_and(|e| !e.is_nested());
        // The result's elements are the arguments' (arrays' elements).
        let same_elements = |t: &DataType| element_type(t).map(shape) == out_element;
        let fits = match (function, types.as_slice()) {
            (ArrayFunction::Create, ts) => ts.iter().all(|t| Some(shape(t)) == out_element),
            (ArrayFunction::Concat, ts) => !ts.is_empty() && ts.iter().all(same_elements),
            (ArrayFunction::Reverse | ArrayFunction::Compact, [a]) => same_elements(a),
            (ArrayFunction::Sequence, [start, stop, step @ ..]) => {
                start.is_integer()
                    && Some(start) == out_element.as_ref()
                    && stop == start
                    && matches!(step, [] | [_])
                    && step.iter().all(|s| s == start)
            }
            (ArrayFunction::Flatten, [a]) => element_type(a).is_some_and(same_elements),
            (ArrayFunction::Slice, [a, DataType::Int32, DataType::Int32]) => same_elements(a),
            (ArrayFunction::Sort { .. } | ArrayFunction::Distinct, [a]) => {
                flat(a) && same_elements(a)
            }
            (ArrayFunction::Remove, [a, value]) => {
                flat(a) && same_elements(a) && element_type(a) == Some(value)
            }
            (ArrayFunction::Position, [a, value]) => flat(a) && element_type(a) == Some(value),
            (ArrayFunction::Overlap, [a, b]) => flat(a) && element_type(a) == element_type(b),
            (ArrayFunction::Union | ArrayFunction::Intersect | ArrayFunction::Except, [a, b]) => {
                flat(a) && same_elements(a) && same_elements(b)
            }
            (ArrayFunction::Join, [a, DataType::Utf8, rest @ ..]) => {
                element_type(a) == Some(&DataType::Utf8) && matches!(rest, [] | [DataType::Utf8])
            }
            (_, [a, ..]) if !is_list(a) => false,
            (ArrayFunction::Size { .. }, [_]) => true,
            (ArrayFunction::GetItem { .. }, [_, index]) => index.is_integer(),
            (ArrayFunction::ElementAt { .. }, [_, DataType::Int32]) => true,
            // Values compared as Arrow's total order compares them, floats normalised first.
            (ArrayFunction::Contains, [a, value]) => flat(a) && element_type(a) == Some(value),
            (ArrayFunction::Max | ArrayFunction::Min, [a]) => flat(a),
            _ => false,
        };
        if !fits {
            return Err(bad());
        }
        Ok(Self {
            function,
            args,
            result,
        })
    }

    /// Whether `function` makes an array.
    fn makes_array(function: ArrayFunction) -> bool {
        matches!(
            function,
            ArrayFunction::Create
                | ArrayFunction::Concat
                | ArrayFunction::Reverse
                | ArrayFunction::Compact
                | ArrayFunction::Sequence
                | ArrayFunction::Flatten
                | ArrayFunction::Slice
                | ArrayFunction::Sort { .. }
                | ArrayFunction::Distinct
                | ArrayFunction::Remove
                | ArrayFunction::Union
                | ArrayFunction::Intersect
                | ArrayFunction::Except
        )
    }

    /// The element at each row's index in the flattened values, `None` for null.
    fn element_indices(&self, list: &ArrayRef, index: &ArrayRef) -> Result<UInt64Array> {
        let list = list.as_list::<i32>();
        let values = list.values();
        let offsets = list.value_offsets();
        let index = cast(index, &DataType::Int64)?;
        let index = index.as_primitive::<Int64Type>();
        let mut out = Vec::with_capacity(list.len());
        for row in 0..list.len() {
            if list.is_null(row) || index.is_null(row) {
                out.push(None);
                continue;
            }
            let n = offsets[row + 1] - offsets[row];
            // Java's `intValue` of the index (GetArrayItem's integral ordinal), or the int
            // itself (element_at's).
            let i = index.value(row) as i32;
            let at = match self.function {
                ArrayFunction::GetItem { fail } => {
                    if i < 0 || i >= n {
                        if fail {
                            return exec_err!(
                                "[INVALID_ARRAY_INDEX] The index {i} is out of bounds. The array \
                                 has {n} elements. Use the SQL function `get()` to tolerate \
                                 accessing element at invalid index and return NULL instead. \
                                 SQLSTATE: 22003"
                            );
                        }
                        None
                    } else {
                        Some(i)
                    }
                }
                ArrayFunction::ElementAt { fail } => {
                    if i == i32::MIN {
                        // Spark's `math.abs` leaves it negative, and it reads before the
                        // array's start: there is no answer of Spark's to reproduce.
                        return exec_err!(
                            "element_at with index {i} is not supported natively (Spark reads \
                             before the array's start)"
                        );
                    }
                    if n < i.abs() {
                        if fail {
                            return exec_err!(
                                "[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] The index {i} is out of \
                                 bounds. The array has {n} elements. Use `try_element_at` to \
                                 tolerate accessing element at invalid index and return NULL \
                                 instead. SQLSTATE: 22003"
                            );
                        }
                        None
                    } else if i == 0 {
                        return exec_err!(
                            "[INVALID_INDEX_OF_ZERO] The index 0 is invalid. An index shall be \
                             either < 0 or > 0 (the first element has index 1). SQLSTATE: 22003"
                        );
                    } else if i > 0 {
                        Some(i - 1)
                    } else {
                        Some(n + i)
                    }
                }
                _ => return internal_err!("{self} has no index"),
            };
            out.push(
                at.map(|at| (offsets[row] + at) as usize)
                    .filter(|at| values.is_valid(*at))
                    .map(|at| at as u64),
            );
        }
        Ok(UInt64Array::from(out))
    }

    /// Per row, the flattened index of its array's largest (or smallest) non-null element in
    /// Spark's order, the first of equal ones (Spark replaces its pick only by a greater one);
    /// `None` for a null array or one without a non-null element.
    fn extreme_indices(list: &ArrayRef, largest: bool) -> Result<UInt64Array> {
        let list = list.as_list::<i32>();
        let values = list.values();
        let normalized = normalize(values)?;
        let order = make_comparator(
            normalized.as_ref(),
            normalized.as_ref(),
            SortOptions::default(),
        )?;
        let offsets = list.value_offsets();
        Ok((0..list.len())
            .map(|row| {
                if list.is_null(row) {
                    return None;
                }
                let mut best: Option<usize> = None;
                for at in range(offsets, row) {
                    if values.is_null(at) {
                        continue;
                    }
                    best = match best {
                        None => Some(at),
                        Some(b) => {
                            let o = order(at, b);
                            let better = if largest { o.is_gt() } else { o.is_lt() };
                            Some(if better { at } else { b })
                        }
                    };
                }
                best.map(|b| b as u64)
            })
            .collect())
    }

    /// Per row of a list and a value (`None` where either is null): the 0-based position of
    /// the first element equal to the value (floats as Spark's ordering compares them: `-0.0 =
    /// 0.0`, `NaN = NaN`), and whether an element is null.
    fn find(list: &ArrayRef, value: &ArrayRef) -> Result<Vec<Option<Found>>> {
        let list = list.as_list::<i32>();
        let values = normalize(list.values())?;
        let value = normalize(value)?;
        let equal = make_comparator(values.as_ref(), value.as_ref(), SortOptions::default())?;
        let offsets = list.value_offsets();
        Ok((0..list.len())
            .map(|row| {
                if list.is_null(row) || value.is_null(row) {
                    return None;
                }
                let r = range(offsets, row);
                let start = r.start;
                let has_null = r.clone().any(|at| values.is_null(at));
                let first = r
                    .filter(|at| values.is_valid(*at) && equal(*at, row).is_eq())
                    .map(|at| at - start)
                    .next();
                Some((first, has_null))
            })
            .collect())
    }

    /// `array_contains` of each row's array and value: null rather than false where an
    /// element is null.
    fn contains(list: &ArrayRef, value: &ArrayRef) -> Result<BooleanArray> {
        Ok(Self::find(list, value)?
            .into_iter()
            .map(|found| match found? {
                (Some(_), _) => Some(true),
                (None, true) => None,
                (None, false) => Some(false),
            })
            .collect())
    }

    /// `array_position` of each row's array and value: from 1, 0 where none is equal.
    fn position(list: &ArrayRef, value: &ArrayRef) -> Result<Int64Array> {
        Ok(Self::find(list, value)?
            .into_iter()
            .map(|found| found.map(|(first, _)| first.map_or(0, |at| at as i64 + 1)))
            .collect())
    }
}

/// Where an array holds a value: the 0-based position of the first element equal to it, and
/// whether an element is null.
type Found = (Option<usize>, bool);

/// The rows of a list made of elements picked from a values array: per row the indices of its
/// elements there, or null.
struct Picks {
    offsets: Vec<i32>,
    indices: Vec<u64>,
    nulls: NullBufferBuilder,
}

impl Picks {
    /// `rows` rows: null where `null(row)`, else the elements `pick` picks for the row.
    fn build(
        rows: usize,
        null: impl Fn(usize) -> bool,
        mut pick: impl FnMut(&mut Self, usize) -> Result<()>,
    ) -> Result<Self> {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let mut picks = Self {
            offsets,
            indices: Vec::new(),
            nulls: NullBufferBuilder::new(rows),
        };
        for row in 0..rows {
            if null(row) {
                picks.null();
            } else {
                pick(&mut picks, row)?;
                picks.row()?;
            }
        }
        Ok(picks)
    }

    /// Picks the element at `at` for the row being built.
    fn push(&mut self, at: usize) {
        self.indices.push(at as u64);
    }

    /// Ends a row holding the elements picked since the last row ended.
    fn row(&mut self) -> Result<()> {
        let Ok(end) = i32::try_from(self.indices.len()) else {
            return exec_err!(
                "an array function's result holds more than {} elements in one batch",
                i32::MAX
            );
        };
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    /// Ends a null row.
    fn null(&mut self) {
        let end = *self.offsets.last().unwrap_or(&0);
        self.offsets.push(end);
        self.nulls.append_null();
    }

    /// The list of `field`'s elements taken from `values`.
    fn finish(mut self, values: &ArrayRef, field: FieldRef) -> Result<ArrayRef> {
        let values = take(values.as_ref(), &UInt64Array::from(self.indices), None)?;
        let values = fit(values, field.data_type())?;
        Ok(Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::new(self.offsets.into()),
            values,
            self.nulls.finish(),
        )?))
    }
}

/// `a` as `t`, where the two differ only in nested lists' field nullability.
fn fit(a: ArrayRef, t: &DataType) -> Result<ArrayRef> {
    if a.data_type() == t {
        Ok(a)
    } else {
        Ok(cast(&a, t)?)
    }
}

/// The values of `parts` one after another (cast to `t`), and where each part starts.
fn chain(parts: &[ArrayRef], t: &DataType) -> Result<(ArrayRef, Vec<usize>)> {
    let parts = parts
        .iter()
        .map(|p| fit(Arc::clone(p), t))
        .collect::<Result<Vec<_>>>()?;
    let mut starts = Vec::with_capacity(parts.len());
    let mut at = 0;
    for p in &parts {
        starts.push(at);
        at += p.len();
    }
    let values = if parts.is_empty() {
        new_empty_array(t)
    } else {
        concat(&parts.iter().map(AsRef::as_ref).collect::<Vec<_>>())?
    };
    Ok((values, starts))
}

/// Keys of `values` equal where Spark's hash sets find the values equal (Java's `equals`: floats'
/// NaNs alike, `-0.0` apart from `0.0`; nulls alike).
fn hash_keys(values: &ArrayRef) -> Result<Rows> {
    let values = canonical_nan(values);
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    Ok(converter.convert_columns(&[values])?)
}

/// Two lists' values one after the other (as `t`), their [`hash_keys`], and where each list's
/// values start.
fn pair_keys(a: &ListArray, b: &ListArray, t: &DataType) -> Result<(ArrayRef, Rows, Vec<usize>)> {
    let (values, starts) = chain(&[Arc::clone(a.values()), Arc::clone(b.values())], t)?;
    let keys = hash_keys(&values)?;
    Ok((values, keys, starts))
}

/// Each row's range of elements in its list's values.
fn range(offsets: &[i32], row: usize) -> std::ops::Range<usize> {
    offsets[row] as usize..offsets[row + 1] as usize
}

impl SparkArrayFunction {
    /// The result's element field.
    fn result_field(&self) -> Result<FieldRef> {
        match &self.result {
            Some(DataType::List(field)) => Ok(Arc::clone(field)),
            _ => internal_err!("{self} has no array type"),
        }
    }

    /// The array made by a function that makes one.
    fn make_array(&self, args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
        let field = self.result_field()?;
        match self.function {
            ArrayFunction::Create => Self::create(args, rows, field),
            ArrayFunction::Concat => Self::concat(args, rows, field),
            ArrayFunction::Sequence => Self::sequence(args, rows, field),
            ArrayFunction::Union | ArrayFunction::Intersect | ArrayFunction::Except => {
                self.set_operation(args, rows, field)
            }
            _ => self.pick(args, rows, field),
        }
    }

    /// `array(...)` of each row's arguments.
    fn create(args: &[ArrayRef], rows: usize, field: FieldRef) -> Result<ArrayRef> {
        let (values, starts) = chain(args, field.data_type())?;
        Picks::build(
            rows,
            |_| false,
            |picks, row| {
                starts.iter().for_each(|start| picks.push(start + row));
                Ok(())
            },
        )?
        .finish(&values, field)
    }

    /// `sequence` of each row's integers, as Spark's generated code computes it (the start, the
    /// stop and the step read as longs).
    fn sequence(args: &[ArrayRef], rows: usize, field: FieldRef) -> Result<ArrayRef> {
        /// `ByteArrayMethods.MAX_ROUNDED_ARRAY_LENGTH`.
        const MAX_LENGTH: i128 = 2_147_483_632;
        let longs = args
            .iter()
            .map(|a| {
                Ok(cast(a, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone())
            })
            .collect::<Result<Vec<_>>>()?;
        let (start, stop, step) = (&longs[0], &longs[1], longs.get(2));
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0_i32);
        let mut values: Vec<i64> = Vec::new();
        let mut nulls = NullBufferBuilder::new(rows);
        for row in 0..rows {
            if start.is_null(row) || stop.is_null(row) || step.is_some_and(|s| s.is_null(row)) {
                offsets.push(values.len() as i32);
                nulls.append_null();
                continue;
            }
            let (a, b) = (start.value(row), stop.value(row));
            let by = match step {
                Some(s) => s.value(row),
                None if a <= b => 1,
                None => -1,
            };
            if !((by > 0 && a <= b) || (by < 0 && a >= b) || (by == 0 && a == b)) {
                // (Spark's SparkIllegalArgumentException.)
                return exec_err!(
                    "[_LEGACY_ERROR_TEMP_3243] Illegal sequence boundaries: {a} to {b} by {by}"
                );
            }
            let length = if a == b {
                1
            } else {
                1 + (i128::from(b) - i128::from(a)) / i128::from(by)
            };
            if length > MAX_LENGTH {
                return exec_err!(
                    "[COLLECTION_SIZE_LIMIT_EXCEEDED.PARAMETER] Can't create array with {length} \
                     elements which exceeding the array size limit {MAX_LENGTH}, the value of \
                     parameter(s) `count` in the function `sequence` is invalid. SQLSTATE: 54000"
                );
            }
            // (Each element lies between the start and the stop.)
            values.extend((0..length).map(|i| (i128::from(a) + i128::from(by) * i) as i64));
            let Ok(end) = i32::try_from(values.len()) else {
                return exec_err!(
                    "sequence's results hold more than {} elements in one batch",
                    i32::MAX
                );
            };
            offsets.push(end);
            nulls.append_non_null();
        }
        let values: ArrayRef = Arc::new(Int64Array::from(values));
        Ok(Arc::new(ListArray::try_new(
            Arc::clone(&field),
            OffsetBuffer::new(offsets.into()),
            cast(&values, field.data_type())?,
            nulls.finish(),
        )?))
    }

    /// `concat` of each row's arrays.
    fn concat(args: &[ArrayRef], rows: usize, field: FieldRef) -> Result<ArrayRef> {
        let lists = args.iter().map(|a| a.as_list::<i32>()).collect::<Vec<_>>();
        let parts = lists
            .iter()
            .map(|l| Arc::clone(l.values()))
            .collect::<Vec<_>>();
        let (values, starts) = chain(&parts, field.data_type())?;
        Picks::build(
            rows,
            |row| lists.iter().any(|l| l.is_null(row)),
            |picks, row| {
                for (list, start) in lists.iter().zip(&starts) {
                    range(list.value_offsets(), row).for_each(|at| picks.push(start + at));
                }
                Ok(())
            },
        )?
        .finish(&values, field)
    }

    /// The functions that pick elements of one array (`reverse`, `array_compact`, `flatten`,
    /// `slice`, `sort_array`, `array_distinct`, `array_remove`).
    fn pick(&self, args: &[ArrayRef], rows: usize, field: FieldRef) -> Result<ArrayRef> {
        let list = args[0].as_list::<i32>();
        let offsets = list.value_offsets();
        let values = list.values();
        let null = |row| list.is_null(row);
        let picks = match self.function {
            ArrayFunction::Reverse => Picks::build(rows, null, |picks, row| {
                range(offsets, row).rev().for_each(|at| picks.push(at));
                Ok(())
            })?,
            ArrayFunction::Compact => Picks::build(rows, null, |picks, row| {
                range(offsets, row)
                    .filter(|at| values.is_valid(*at))
                    .for_each(|at| picks.push(at));
                Ok(())
            })?,
            ArrayFunction::Flatten => {
                let inner = values.as_list::<i32>();
                let inner_offsets = inner.value_offsets();
                let picks = Picks::build(
                    rows,
                    |row| list.is_null(row) || range(offsets, row).any(|i| inner.is_null(i)),
                    |picks, row| {
                        for i in range(offsets, row) {
                            range(inner_offsets, i).for_each(|at| picks.push(at));
                        }
                        Ok(())
                    },
                )?;
                return picks.finish(inner.values(), field);
            }
            ArrayFunction::Slice => {
                let start = args[1].as_primitive::<Int32Type>();
                let length = args[2].as_primitive::<Int32Type>();
                Picks::build(
                    rows,
                    |row| list.is_null(row) || start.is_null(row) || length.is_null(row),
                    |picks, row| {
                        let r = range(offsets, row);
                        let (start, length) = (start.value(row), length.value(row));
                        let n = r.len() as i64;
                        let from = match start {
                            0 => {
                                return exec_err!(
                                    "[INVALID_PARAMETER_VALUE.START] The value of parameter(s) \
                                     `start` in `slice` is invalid: Expects a positive or a \
                                     negative value for `start`, but got 0. SQLSTATE: 22023"
                                );
                            }
                            s if s < 0 => i64::from(s) + n,
                            s => i64::from(s) - 1,
                        };
                        if length < 0 {
                            return exec_err!(
                                "[INVALID_PARAMETER_VALUE.LENGTH] The value of parameter(s) \
                                 `length` in `slice` is invalid: Expects `length` greater than \
                                 or equal to 0, but got {length}. SQLSTATE: 22023"
                            );
                        }
                        if (0..n).contains(&from) {
                            let to = (from + i64::from(length)).min(n);
                            (r.start + from as usize..r.start + to as usize)
                                .for_each(|at| picks.push(at));
                        }
                        Ok(())
                    },
                )?
            }
            ArrayFunction::Sort {
                ascending,
                primitive,
            } => {
                // Java's sort of a primitive array orders -0.0 before 0.0; Spark's comparator
                // finds them equal.
                let normalized = if primitive {
                    canonical_nan(values)
                } else {
                    normalize(values)?
                };
                let order = make_comparator(
                    normalized.as_ref(),
                    normalized.as_ref(),
                    SortOptions::default(),
                )?;
                let mut sorted = Vec::new();
                Picks::build(rows, null, |picks, row| {
                    sorted.clear();
                    sorted.extend(range(offsets, row).filter(|at| values.is_valid(*at)));
                    let nulls = range(offsets, row).filter(|at| values.is_null(*at));
                    // Stable, as Java's sort of objects is.
                    if ascending {
                        sorted.sort_by(|a, b| order(*a, *b));
                        nulls.for_each(|at| picks.push(at));
                        sorted.iter().for_each(|at| picks.push(*at));
                    } else {
                        sorted.sort_by(|a, b| order(*b, *a));
                        sorted.iter().for_each(|at| picks.push(*at));
                        nulls.for_each(|at| picks.push(at));
                    }
                    Ok(())
                })?
            }
            ArrayFunction::Distinct => {
                let keys = hash_keys(values)?;
                let mut seen = HashSet::new();
                Picks::build(rows, null, |picks, row| {
                    seen.clear();
                    for at in range(offsets, row) {
                        if seen.insert(keys.row(at)) {
                            picks.push(at);
                        }
                    }
                    Ok(())
                })?
            }
            ArrayFunction::Remove => {
                let normalized = normalize(values)?;
                let value = normalize(&args[1])?;
                let equal =
                    make_comparator(normalized.as_ref(), value.as_ref(), SortOptions::default())?;
                Picks::build(
                    rows,
                    |row| list.is_null(row) || value.is_null(row),
                    |picks, row| {
                        range(offsets, row)
                            .filter(|at| values.is_null(*at) || !equal(*at, row).is_eq())
                            .for_each(|at| picks.push(at));
                        Ok(())
                    },
                )?
            }
            _ => return internal_err!("{self} makes no array"),
        };
        picks.finish(values, field)
    }

    /// `array_union`, `array_intersect` or `array_except` of each row's two arrays: the
    /// distinct elements each keeps, where they first come (floats as Spark's hash sets compare
    /// them: `NaN = NaN`, `-0.0 != 0.0`; nulls as one value).
    fn set_operation(&self, args: &[ArrayRef], rows: usize, field: FieldRef) -> Result<ArrayRef> {
        let (a, b) = (args[0].as_list::<i32>(), args[1].as_list::<i32>());
        // (Nulls have a key of their own.)
        let (values, keys, starts) = pair_keys(a, b, field.data_type())?;
        let (mut seen, mut other) = (HashSet::new(), HashSet::new());
        Picks::build(
            rows,
            |row| a.is_null(row) || b.is_null(row),
            |picks, row| {
                let ra = range(a.value_offsets(), row).map(|at| at + starts[0]);
                let rb = range(b.value_offsets(), row).map(|at| at + starts[1]);
                seen.clear();
                other.clear();
                if self.function != ArrayFunction::Union {
                    other.extend(rb.clone().map(|at| keys.row(at)));
                }
                let wanted = |key| match self.function {
                    ArrayFunction::Intersect => other.contains(&key),
                    ArrayFunction::Except => !other.contains(&key),
                    _ => true,
                };
                let tail = if self.function == ArrayFunction::Union {
                    Some(rb)
                } else {
                    None
                };
                for at in ra.chain(tail.into_iter().flatten()) {
                    let key = keys.row(at);
                    if wanted(key) && seen.insert(key) {
                        picks.push(at);
                    }
                }
                Ok(())
            },
        )?
        .finish(&values, field)
    }

    /// `arrays_overlap` of each row's arrays, as Spark's: false where either is empty (Spark
    /// looks for the smaller's elements among the bigger's), true where they share a non-null
    /// element (floats as a Java `HashSet` of doubles finds them: `NaN = NaN`, `-0.0 != 0.0`),
    /// else null where either holds a null.
    fn overlap(a: &ArrayRef, b: &ArrayRef) -> Result<BooleanArray> {
        let (a, b) = (a.as_list::<i32>(), b.as_list::<i32>());
        let (_, keys, starts) = pair_keys(a, b, a.values().data_type())?;
        let mut set = HashSet::new();
        Ok((0..a.len())
            .map(|row| {
                if a.is_null(row) || b.is_null(row) {
                    return None;
                }
                let (ra, rb) = (range(a.value_offsets(), row), range(b.value_offsets(), row));
                if ra.is_empty() || rb.is_empty() {
                    return Some(false);
                }
                set.clear();
                let mut has_null = false;
                for at in ra {
                    if a.values().is_null(at) {
                        has_null = true;
                    } else {
                        set.insert(keys.row(at + starts[0]));
                    }
                }
                for at in rb {
                    if b.values().is_null(at) {
                        has_null = true;
                    } else if set.contains(&keys.row(at + starts[1])) {
                        return Some(true);
                    }
                }
                if has_null { None } else { Some(false) }
            })
            .collect())
    }

    /// `array_join` of each row's array of strings with its delimiter, nulls skipped or (with
    /// a third argument) replaced; null where an argument is null.
    fn join(args: &[ArrayRef]) -> Result<StringArray> {
        let list = args[0].as_list::<i32>();
        let strings = list.values().as_string::<i32>();
        let delimiter = args[1].as_string::<i32>();
        let replacement = args.get(2).map(|r| r.as_string::<i32>());
        let mut out = StringBuilder::with_capacity(list.len(), strings.values().len());
        let mut text = String::new();
        for row in 0..list.len() {
            let replacement = match replacement {
                Some(r) if r.is_null(row) => {
                    out.append_null();
                    continue;
                }
                Some(r) => Some(r.value(row)),
                None => None,
            };
            if list.is_null(row) || delimiter.is_null(row) {
                out.append_null();
                continue;
            }
            text.clear();
            let mut first = true;
            for at in range(list.value_offsets(), row) {
                let Some(item) = strings
                    .is_valid(at)
                    .then(|| strings.value(at))
                    .or(replacement)
                else {
                    continue;
                };
                if !first {
                    text.push_str(delimiter.value(row));
                }
                text.push_str(item);
                first = false;
            }
            out.append_value(&text);
        }
        Ok(out.finish())
    }
}

impl fmt::Display for SparkArrayFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_array_{:?}(", self.function)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{a}")?;
        }
        write!(f, ")")
    }
}

impl PhysicalExpr for SparkArrayFunction {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        if Self::makes_array(self.function) {
            return match &self.result {
                Some(result) => Ok(result.clone()),
                None => internal_err!("{self} has no array type"),
            };
        }
        Ok(match self.function {
            ArrayFunction::Size { .. } => DataType::Int32,
            ArrayFunction::Contains | ArrayFunction::Overlap => DataType::Boolean,
            ArrayFunction::Position => DataType::Int64,
            ArrayFunction::Join => DataType::Utf8,
            ArrayFunction::GetItem { .. }
            | ArrayFunction::ElementAt { .. }
            | ArrayFunction::Max
            | ArrayFunction::Min => match self.args[0].data_type(input_schema)? {
                DataType::List(element) => element.data_type().clone(),
                other => return internal_err!("{self} of {other}"),
            },
            _ => return internal_err!("{self} has no result type"),
        })
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let args = self
            .args
            .iter()
            .map(|a| a.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        if Self::makes_array(self.function) {
            return Ok(ColumnarValue::Array(self.make_array(&args, rows)?));
        }
        let Some(DataType::List(_)) = args.first().map(|a| a.data_type()) else {
            return internal_err!("{self} of a non-list");
        };
        let out: ArrayRef = match self.function {
            ArrayFunction::Size { legacy_null } => {
                let list = args[0].as_list::<i32>();
                let offsets = list.value_offsets();
                Arc::new(
                    (0..rows)
                        .map(|row| {
                            if list.is_null(row) {
                                legacy_null.then_some(-1)
                            } else {
                                Some(offsets[row + 1] - offsets[row])
                            }
                        })
                        .collect::<Int32Array>(),
                )
            }
            ArrayFunction::GetItem { .. } | ArrayFunction::ElementAt { .. } => {
                let indices = self.element_indices(&args[0], &args[1])?;
                take(args[0].as_list::<i32>().values().as_ref(), &indices, None)?
            }
            ArrayFunction::Contains => Arc::new(Self::contains(&args[0], &args[1])?),
            ArrayFunction::Position => Arc::new(Self::position(&args[0], &args[1])?),
            ArrayFunction::Overlap => Arc::new(Self::overlap(&args[0], &args[1])?),
            ArrayFunction::Join => Arc::new(Self::join(&args)?),
            ArrayFunction::Max | ArrayFunction::Min => {
                let largest = self.function == ArrayFunction::Max;
                let indices = Self::extreme_indices(&args[0], largest)?;
                take(args[0].as_list::<i32>().values().as_ref(), &indices, None)?
            }
            _ => return internal_err!("{self} makes an array but has no array type"),
        };
        Ok(ColumnarValue::Array(out))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.args.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.args.len() {
            return internal_err!("{self} takes {} children", self.args.len());
        }
        Ok(Arc::new(Self {
            function: self.function,
            args: children,
            result: self.result.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::ListBuilder;
    use datafusion::physical_expr::expressions::Column;

    /// A list array of `rows` (`None` a null list).
    fn lists<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
        rows: &[Option<Vec<Option<T::Native>>>],
    ) -> ArrayRef {
        let mut b = ListBuilder::new(datafusion::arrow::array::PrimitiveBuilder::<T>::new());
        for row in rows {
            match row {
                Some(values) => {
                    for v in values {
                        b.values().append_option(*v);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn run(function: ArrayFunction, columns: Vec<ArrayRef>) -> Result<ArrayRef> {
        run_to(function, columns, None)
    }

    fn run_to(
        function: ArrayFunction,
        columns: Vec<ArrayRef>,
        result: Option<DataType>,
    ) -> Result<ArrayRef> {
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect::<Vec<_>>();
        let schema = Arc::new(Schema::new(fields));
        let args = (0..columns.len())
            .map(|i| Arc::new(Column::new(&format!("c{i}"), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        let f = SparkArrayFunction::try_new(function, args, result, &schema).unwrap();
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        f.evaluate(&batch)?.into_array(batch.num_rows())
    }

    #[test]
    fn size_and_elements_follow_spark() {
        let a = ints(&[
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(7)]),
        ]);
        let size = run(
            ArrayFunction::Size { legacy_null: true },
            vec![Arc::clone(&a)],
        )
        .unwrap();
        assert_eq!(
            size.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            [Some(3), Some(-1), Some(0), Some(1)]
        );
        let size = run(
            ArrayFunction::Size { legacy_null: false },
            vec![Arc::clone(&a)],
        )
        .unwrap();
        assert_eq!(
            size.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            [Some(3), None, Some(0), Some(1)]
        );

        // a[i]: 0-based, a long index as Java's intValue (2^32 + 2 reads as 2).
        let index: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![
            Some((1_i64 << 32) + 2),
            Some(0),
            Some(0),
            None,
        ]));
        let got = run(
            ArrayFunction::GetItem { fail: false },
            vec![Arc::clone(&a), index],
        )
        .unwrap();
        assert_eq!(
            got.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            [Some(3), None, None, None]
        );
        let index: ArrayRef = Arc::new(Int32Array::from(vec![1, 0, 0, 0]));
        let err = run(
            ArrayFunction::GetItem { fail: true },
            vec![Arc::clone(&a), index],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "[INVALID_ARRAY_INDEX] The index 0 is out of bounds. The array has 0 elements."
            ),
            "{err}"
        );

        // element_at: 1-based, negative from the end, 0 an error in either mode.
        let index: ArrayRef =
            Arc::new(Int32Array::from(vec![Some(-3), Some(5), Some(1), Some(-1)]));
        let got = run(
            ArrayFunction::ElementAt { fail: false },
            vec![Arc::clone(&a), Arc::clone(&index)],
        )
        .unwrap();
        assert_eq!(
            got.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            [Some(1), None, None, Some(7)]
        );
        let err = run(
            ArrayFunction::ElementAt { fail: true },
            vec![Arc::clone(&a), index],
        )
        .unwrap_err();
        assert!(err.to_string().contains("[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] The index 1 is out of bounds. The array has 0 elements."), "{err}");
        let index: ArrayRef = Arc::new(Int32Array::from(vec![Some(0), None, None, None]));
        let err = run(ArrayFunction::ElementAt { fail: false }, vec![a, index]).unwrap_err();
        assert!(err.to_string().contains("[INVALID_INDEX_OF_ZERO]"), "{err}");
    }

    #[test]
    fn max_and_min_skip_nulls_and_keep_the_first_of_equals() {
        let a = doubles(&[
            Some(vec![Some(-0.0), None, Some(0.0), Some(-1.0)]),
            Some(vec![Some(1.0), Some(f64::NAN), Some(f64::INFINITY)]),
            Some(vec![None]),
            Some(vec![]),
            None,
        ]);
        let max = run(ArrayFunction::Max, vec![Arc::clone(&a)]).unwrap();
        let max: Vec<Option<u64>> = max
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| v.map(f64::to_bits))
            .collect();
        // -0.0 first among equal zeros; NaN largest.
        assert_eq!(
            max,
            [
                Some((-0.0_f64).to_bits()),
                Some(f64::NAN.to_bits()),
                None,
                None,
                None
            ]
        );
        let min = run(ArrayFunction::Min, vec![a]).unwrap();
        let min: Vec<Option<f64>> = min
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .iter()
            .collect();
        assert_eq!(min, [Some(-1.0), Some(1.0), None, None, None]);
    }

    #[test]
    fn contains_is_null_where_a_null_element_could_have_matched() {
        let a = doubles(&[
            Some(vec![Some(-0.0), Some(f64::NAN)]),
            Some(vec![None, Some(1.0)]),
            Some(vec![Some(2.0)]),
            Some(vec![]),
            None,
        ]);
        let v: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            Some(0.0),
            Some(3.0),
            Some(2.0),
            Some(1.0),
            Some(1.0),
        ]));
        let got = run(ArrayFunction::Contains, vec![Arc::clone(&a), v]).unwrap();
        assert_eq!(
            got.as_boolean().iter().collect::<Vec<_>>(),
            [Some(true), None, Some(true), Some(false), None]
        );
        let nan: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            Some(-f64::NAN),
            Some(1.0),
            None,
            Some(1.0),
            Some(1.0),
        ]));
        let got = run(ArrayFunction::Contains, vec![a, nan]).unwrap();
        assert_eq!(
            got.as_boolean().iter().collect::<Vec<_>>(),
            [Some(true), Some(true), None, Some(false), None]
        );
    }

    fn ints(rows: &[Option<Vec<Option<i32>>>]) -> ArrayRef {
        lists::<Int32Type>(rows)
    }

    fn doubles(rows: &[Option<Vec<Option<f64>>>]) -> ArrayRef {
        lists::<Float64Type>(rows)
    }

    fn list_of(element: DataType) -> Option<DataType> {
        Some(DataType::List(Arc::new(Field::new(
            "element", element, true,
        ))))
    }

    /// Each row's elements as their bits (floats) or values, `None` for a null row.
    fn rows_of(a: &ArrayRef) -> Vec<Option<Vec<Option<String>>>> {
        let list = a.as_list::<i32>();
        (0..list.len())
            .map(|row| {
                list.is_valid(row).then(|| {
                    let values = list.value(row);
                    (0..values.len())
                        .map(|i| {
                            values.is_valid(i).then(|| match values.data_type() {
                                DataType::Float64 => {
                                    let v = values.as_primitive::<Float64Type>().value(i);
                                    if v.is_nan() {
                                        "NaN".to_owned()
                                    } else {
                                        format!("{v:?}")
                                    }
                                }
                                _ => datafusion::arrow::util::display::array_value_to_string(
                                    &values, i,
                                )
                                .unwrap(),
                            })
                        })
                        .collect()
                })
            })
            .collect()
    }

    fn strs(row: &[Option<&str>]) -> Option<Vec<Option<String>>> {
        Some(row.iter().map(|v| v.map(str::to_owned)).collect())
    }

    #[test]
    fn sort_is_stable_with_nulls_at_the_ends() {
        let d = doubles(&[
            Some(vec![
                Some(1.0),
                None,
                Some(-0.0),
                Some(0.0),
                Some(f64::NAN),
                None,
                Some(2.0),
                Some(-0.0),
            ]),
            Some(vec![]),
            None,
        ]);
        let sort = |ascending, primitive| {
            rows_of(
                &run_to(
                    ArrayFunction::Sort {
                        ascending,
                        primitive,
                    },
                    vec![Arc::clone(&d)],
                    list_of(DataType::Float64),
                )
                .unwrap(),
            )
        };
        let n = None;
        let (z, m) = (Some("0.0"), Some("-0.0"));
        assert_eq!(
            sort(true, false),
            [
                strs(&[n, n, m, z, m, Some("1.0"), Some("2.0"), Some("NaN")]),
                Some(vec![]),
                None
            ]
        );
        assert_eq!(
            sort(false, false),
            [
                strs(&[Some("NaN"), Some("2.0"), Some("1.0"), m, z, m, n, n]),
                Some(vec![]),
                None
            ]
        );
        // Java's sort of a double[]: -0.0 before 0.0.
        assert_eq!(
            sort(true, true)[0],
            strs(&[n, n, m, m, z, Some("1.0"), Some("2.0"), Some("NaN")])
        );
    }

    #[test]
    fn distinct_remove_position_and_overlap_compare_floats_as_spark() {
        let nan = -f64::NAN;
        let d = doubles(&[
            Some(vec![
                Some(-0.0),
                Some(0.0),
                None,
                Some(f64::NAN),
                Some(nan),
                None,
                Some(0.0),
            ]),
            None,
            Some(vec![]),
        ]);
        let t = list_of(DataType::Float64);
        let distinct = run_to(ArrayFunction::Distinct, vec![Arc::clone(&d)], t.clone()).unwrap();
        assert_eq!(
            rows_of(&distinct),
            [
                strs(&[Some("-0.0"), Some("0.0"), None, Some("NaN")]),
                None,
                Some(vec![])
            ]
        );
        let zero: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            Some(0.0),
            Some(0.0),
            None,
        ]));
        let removed = run_to(
            ArrayFunction::Remove,
            vec![Arc::clone(&d), Arc::clone(&zero)],
            t,
        )
        .unwrap();
        assert_eq!(
            rows_of(&removed),
            [strs(&[None, Some("NaN"), Some("NaN"), None]), None, None]
        );
        let nans: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            nan, nan, nan,
        ]));
        let position = run(ArrayFunction::Position, vec![Arc::clone(&d), nans]).unwrap();
        assert_eq!(
            position
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(4), None, Some(0)]
        );
        let position = run(ArrayFunction::Position, vec![Arc::clone(&d), zero]).unwrap();
        assert_eq!(
            position
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1), None, None]
        );
        // -0.0 and 0.0 do not overlap (Java's Double.equals); NaNs do; an empty array never
        // overlaps, even with a null; else a null makes false null.
        let other = doubles(&[Some(vec![Some(0.0)]), Some(vec![]), Some(vec![None])]);
        let plain = doubles(&[
            Some(vec![Some(-0.0)]),
            Some(vec![None]),
            Some(vec![Some(f64::NAN), None]),
        ]);
        let nan_list = doubles(&[Some(vec![Some(nan)]), Some(vec![]), Some(vec![Some(1.0)])]);
        let overlap = |a: &ArrayRef, b: &ArrayRef| {
            run(ArrayFunction::Overlap, vec![Arc::clone(a), Arc::clone(b)])
                .unwrap()
                .as_boolean()
                .iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(overlap(&plain, &other), [Some(false), Some(false), None]);
        assert_eq!(overlap(&d, &nan_list), [Some(true), None, Some(false)]);
    }

    #[test]
    fn slices_concats_flattens_and_joins() {
        let a = ints(&[
            Some(vec![Some(1), None, Some(3), Some(4)]),
            None,
            Some(vec![]),
            Some(vec![Some(7)]),
        ]);
        let int = |v: Vec<Option<i32>>| -> ArrayRef { Arc::new(Int32Array::from(v)) };
        let slice = |start: Vec<Option<i32>>, length: Vec<Option<i32>>| {
            run_to(
                ArrayFunction::Slice,
                vec![Arc::clone(&a), int(start), int(length)],
                list_of(DataType::Int32),
            )
            .map(|r| rows_of(&r))
        };
        assert_eq!(
            slice(
                vec![Some(2), Some(0), Some(1), Some(-2)],
                vec![Some(i32::MAX), Some(-1), Some(1), Some(1)]
            )
            .unwrap(),
            [
                strs(&[None, Some("3"), Some("4")]),
                None,
                Some(vec![]),
                Some(vec![])
            ]
        );
        assert_eq!(
            slice(
                vec![Some(-4), None, None, Some(1)],
                vec![Some(2), None, None, Some(0)]
            )
            .unwrap(),
            [strs(&[Some("1"), None]), None, None, Some(vec![])]
        );
        let err = slice(
            vec![Some(0), None, None, None],
            vec![Some(-1), None, None, None],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("[INVALID_PARAMETER_VALUE.START] The value of parameter(s) `start` in `slice` is invalid: Expects a positive or a negative value for `start`, but got 0."),
            "{err}"
        );
        let err = slice(
            vec![Some(1), None, None, None],
            vec![Some(-1), None, None, None],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("[INVALID_PARAMETER_VALUE.LENGTH]"),
            "{err}"
        );

        let t = list_of(DataType::Int32);
        let concat = run_to(
            ArrayFunction::Concat,
            vec![Arc::clone(&a), Arc::clone(&a)],
            t.clone(),
        )
        .unwrap();
        assert_eq!(rows_of(&concat)[1], None);
        assert_eq!(rows_of(&concat)[3], strs(&[Some("7"), Some("7")]));
        let created = run_to(
            ArrayFunction::Create,
            vec![Arc::clone(&a), Arc::clone(&a)],
            list_of(a.data_type().clone()),
        )
        .unwrap();
        let flat = run_to(ArrayFunction::Flatten, vec![created], t.clone()).unwrap();
        assert_eq!(rows_of(&flat)[1], None, "a null inner array makes null");
        assert_eq!(rows_of(&flat)[0], rows_of(&concat)[0]);
        let reversed = run_to(ArrayFunction::Reverse, vec![Arc::clone(&a)], t).unwrap();
        assert_eq!(
            rows_of(&reversed)[0],
            strs(&[Some("4"), Some("3"), None, Some("1")])
        );

        let mut b = ListBuilder::new(StringBuilder::new());
        for row in [vec![None, Some("a"), None, Some("b")], vec![]] {
            for v in row {
                b.values().append_option(v);
            }
            b.append(true);
        }
        b.append(false);
        let s: ArrayRef = Arc::new(b.finish());
        let text = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let joined = run(
            ArrayFunction::Join,
            vec![Arc::clone(&s), text(vec![Some("|"), Some("|"), Some("|")])],
        )
        .unwrap();
        assert_eq!(
            joined.as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("a|b"), Some(""), None]
        );
        let joined = run(
            ArrayFunction::Join,
            vec![
                s,
                text(vec![Some(", "), None, Some("|")]),
                text(vec![Some("x"), Some("x"), Some("x")]),
            ],
        )
        .unwrap();
        assert_eq!(
            joined.as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("x, a, x, b"), None, None]
        );
    }

    #[test]
    fn sequences_follow_sparks_generated_code() {
        let long = |v: Vec<Option<i64>>| -> ArrayRef {
            Arc::new(datafusion::arrow::array::Int64Array::from(v))
        };
        let sequence = |args: Vec<ArrayRef>| {
            run_to(ArrayFunction::Sequence, args, list_of(DataType::Int64)).map(|r| rows_of(&r))
        };
        let got = sequence(vec![
            long(vec![Some(1), Some(3), Some(i64::MIN), None]),
            long(vec![Some(3), Some(1), Some(i64::MIN + 1), Some(1)]),
        ])
        .unwrap();
        assert_eq!(
            got,
            [
                strs(&[Some("1"), Some("2"), Some("3")]),
                strs(&[Some("3"), Some("2"), Some("1")]),
                strs(&[Some("-9223372036854775808"), Some("-9223372036854775807")]),
                None
            ]
        );
        // By a step whose multiples pass i64 before the start is added.
        let got = sequence(vec![
            long(vec![Some(i64::MIN)]),
            long(vec![Some(i64::MAX)]),
            long(vec![Some(1 << 62)]),
        ])
        .unwrap();
        assert_eq!(got[0].as_ref().map(Vec::len), Some(4));
        let err = sequence(vec![
            long(vec![Some(5)]),
            long(vec![Some(1)]),
            long(vec![Some(1)]),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("[_LEGACY_ERROR_TEMP_3243] Illegal sequence boundaries: 5 to 1 by 1"),
            "{err}"
        );
        let err =
            sequence(vec![long(vec![Some(i64::MIN)]), long(vec![Some(i64::MAX)])]).unwrap_err();
        assert!(
            err.to_string().contains(
                "[COLLECTION_SIZE_LIMIT_EXCEEDED.PARAMETER] Can't create array with \
                 18446744073709551616 elements"
            ),
            "{err}"
        );
    }
}
