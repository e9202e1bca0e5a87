//! Spark's functions of arrays ([`SparkArrayFunction`]): `size`, `a[i]` (`GetArrayItem`),
//! `element_at`, `array_contains`, `array_max` and `array_min`, over Arrow lists (Spark's
//! `ArrayType`).
//!
//! Each follows Spark 4.0's `nullSafeEval` (and its generated code, which agrees): a null
//! array gives null (or -1 for `size` in legacy mode), the index is read as Spark reads it,
//! and an index out of bounds gives null or, where Spark's expression has `failOnError`
//! (ANSI mode), Spark's error, worded as Spark words it.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, UInt64Array, make_comparator,
};
use datafusion::arrow::compute::{SortOptions, cast, take};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::NativeError;
use crate::planner::normalize_array;

/// Floats with `-0.0` as `0.0` and every NaN the canonical one (Spark's `equiv` of doubles:
/// `-0.0 = 0.0`, `NaN = NaN`), so that Arrow's total order finds them equal; other types as
/// they are.
fn normalize(a: &ArrayRef) -> Result<ArrayRef> {
    normalize_array(a).map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))
}
use crate::message::ArrayFunction;

/// A function of an array: its first child is the array (an Arrow list), then the index
/// (`GetItem`, `ElementAt`) or the value looked for (`Contains`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkArrayFunction {
    function: ArrayFunction,
    args: Vec<Arc<dyn PhysicalExpr>>,
}

impl SparkArrayFunction {
    /// `function` of `args` over `schema`, or a planning error where their types do not fit it.
    pub fn try_new(
        function: ArrayFunction,
        args: Vec<Arc<dyn PhysicalExpr>>,
        schema: &Schema,
    ) -> crate::error::Result<Self> {
        let types = args
            .iter()
            .map(|a| a.data_type(schema))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let bad = || {
            NativeError::plan(format!(
                "{function:?} of {}",
                types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let Some(DataType::List(element)) = types.first() else {
            return Err(bad());
        };
        let fits = match (function, &types[1..]) {
            (ArrayFunction::Size { .. }, []) => true,
            (ArrayFunction::GetItem { .. }, [index]) => index.is_integer(),
            (ArrayFunction::ElementAt { .. }, [DataType::Int32]) => true,
            // Values compared as Arrow's total order compares them, floats normalised first.
            (ArrayFunction::Contains, [value]) => {
                value == element.data_type() && !value.is_nested()
            }
            (ArrayFunction::Max | ArrayFunction::Min, []) => !element.data_type().is_nested(),
            _ => false,
        };
        if !fits {
            return Err(bad());
        }
        Ok(Self { function, args })
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
                for at in offsets[row] as usize..offsets[row + 1] as usize {
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

    /// `array_contains` of each row's array and value.
    fn contains(list: &ArrayRef, value: &ArrayRef) -> Result<BooleanArray> {
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
                let mut has_null = false;
                for at in offsets[row] as usize..offsets[row + 1] as usize {
                    if values.is_null(at) {
                        has_null = true;
                    } else if equal(at, row).is_eq() {
                        return Some(true);
                    }
                }
                if has_null { None } else { Some(false) }
            })
            .collect())
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
        Ok(match self.function {
            ArrayFunction::Size { .. } => DataType::Int32,
            ArrayFunction::Contains => DataType::Boolean,
            ArrayFunction::GetItem { .. }
            | ArrayFunction::ElementAt { .. }
            | ArrayFunction::Max
            | ArrayFunction::Min => match self.args[0].data_type(input_schema)? {
                DataType::List(element) => element.data_type().clone(),
                other => return internal_err!("{self} of {other}"),
            },
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
            ArrayFunction::Max | ArrayFunction::Min => {
                let largest = self.function == ArrayFunction::Max;
                let indices = Self::extreme_indices(&args[0], largest)?;
                take(args[0].as_list::<i32>().values().as_ref(), &indices, None)?
            }
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
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Builder, Int32Builder, ListBuilder};
    use datafusion::arrow::datatypes::Field;
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::physical_expr::expressions::Column;

    fn ints(rows: &[Option<Vec<Option<i32>>>]) -> ArrayRef {
        let mut b = ListBuilder::new(Int32Builder::new());
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
        let fields = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect::<Vec<_>>();
        let schema = Arc::new(Schema::new(fields));
        let args = (0..columns.len())
            .map(|i| Arc::new(Column::new(&format!("c{i}"), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        let f = SparkArrayFunction::try_new(function, args, &schema).unwrap();
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
        let mut b = ListBuilder::new(Float64Builder::new());
        for row in [
            vec![Some(-0.0), None, Some(0.0), Some(-1.0)],
            vec![Some(1.0), Some(f64::NAN), Some(f64::INFINITY)],
            vec![None],
            vec![],
        ] {
            for v in row {
                b.values().append_option(v);
            }
            b.append(true);
        }
        b.append(false);
        let a: ArrayRef = Arc::new(b.finish());
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
        let mut b = ListBuilder::new(Float64Builder::new());
        for row in [
            vec![Some(-0.0), Some(f64::NAN)],
            vec![None, Some(1.0)],
            vec![Some(2.0)],
            vec![],
        ] {
            for v in row {
                b.values().append_option(v);
            }
            b.append(true);
        }
        b.append(false);
        let a: ArrayRef = Arc::new(b.finish());
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
}
