//! Spark's `+`, `-` and `*` of integers where the result can overflow the type: null in try
//! mode (`try_add`, `try_subtract`, `try_multiply`, `EvalMode.TRY`), and in ANSI mode Spark's
//! error, with its error class and message. (Legacy mode wraps, as DataFusion's operators do.
//! For decimals, floats, division and remainder Spark's try mode gives what legacy mode
//! gives, so those need nothing of their own.)

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ArrowNativeTypeOp, AsArray, PrimitiveArray};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, Schema,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

/// The integer operations of [`TryIntegerArithmetic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryOp {
    /// `try_add`.
    Add,
    /// `try_subtract`.
    Subtract,
    /// `try_multiply`.
    Multiply,
}

impl TryOp {
    /// The `try_` function Spark's overflow errors point to.
    fn try_name(self) -> &'static str {
        match self {
            Self::Add => "try_add",
            Self::Subtract => "try_subtract",
            Self::Multiply => "try_multiply",
        }
    }

    /// `a op b`, or an error where it overflows.
    fn checked<N: ArrowNativeTypeOp>(self, a: N, b: N) -> Result<N, ArrowError> {
        match self {
            Self::Add => a.add_checked(b),
            Self::Subtract => a.sub_checked(b),
            Self::Multiply => a.mul_checked(b),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Subtract => "-",
            Self::Multiply => "*",
        }
    }
}

/// What [`TryIntegerArithmetic`] does where the result overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// Null (`EvalMode.TRY`).
    Null,
    /// Spark's ANSI error for the first row that overflows (`EvalMode.ANSI`):
    /// `ARITHMETIC_OVERFLOW` for ints and longs, `BINARY_ARITHMETIC_OVERFLOW` with the two
    /// values for bytes and shorts, as Spark 4.0 raises them.
    Fail,
}

/// `left op right` of two integers of one type, null on overflow or failing there.
#[derive(Debug)]
pub struct TryIntegerArithmetic {
    op: TryOp,
    overflow: Overflow,
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
}

impl TryIntegerArithmetic {
    /// `left op right`, null on overflow; both must be of one integer type (checked when
    /// evaluated).
    pub fn new(op: TryOp, left: Arc<dyn PhysicalExpr>, right: Arc<dyn PhysicalExpr>) -> Self {
        Self::with_overflow(op, Overflow::Null, left, right)
    }

    /// `left op right`, doing `overflow` where the result overflows.
    pub fn with_overflow(
        op: TryOp,
        overflow: Overflow,
        left: Arc<dyn PhysicalExpr>,
        right: Arc<dyn PhysicalExpr>,
    ) -> Self {
        Self {
            op,
            overflow,
            left,
            right,
        }
    }

    /// Spark's error for the first row of `l op r` that overflows, if one does.
    fn first_overflow<T: ArrowPrimitiveType>(
        &self,
        l: &ArrayRef,
        r: &ArrayRef,
    ) -> datafusion::common::Result<()>
    where
        T::Native: fmt::Display,
    {
        let (l, r) = (l.as_primitive::<T>(), r.as_primitive::<T>());
        let op = self.op;
        let first = l.iter().zip(r.iter()).find_map(|(a, b)| {
            let (a, b) = (a?, b?);
            op.checked(a, b).is_err().then_some((a, b))
        });
        let Some((a, b)) = first else {
            return Ok(());
        };
        let message = match T::DATA_TYPE {
            // Spark's MathUtils.addExact and friends, as QueryExecutionErrors words them.
            DataType::Int32 | DataType::Int64 => format!(
                "[ARITHMETIC_OVERFLOW] {} overflow. Use '{}' to tolerate overflow and return \
                 NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to \
                 bypass this error. SQLSTATE: 22003",
                if T::DATA_TYPE == DataType::Int32 {
                    "integer"
                } else {
                    "long"
                },
                op.try_name()
            ),
            // Bytes and shorts are checked as shorts, which Spark prints with an S.
            _ => format!(
                "[BINARY_ARITHMETIC_OVERFLOW] {a}S {} {b}S caused overflow. Use `{}` to ignore \
                 overflow problem and return NULL. SQLSTATE: 22003",
                op.symbol(),
                op.try_name()
            ),
        };
        datafusion::common::exec_err!("{message}")
    }

    /// ANSI mode: arrow's checked kernel, and where it finds an overflow, Spark's error for
    /// the first row that overflows.
    fn failing(&self, l: &ArrayRef, r: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let checked = match self.op {
            TryOp::Add => numeric::add,
            TryOp::Subtract => numeric::sub,
            TryOp::Multiply => numeric::mul,
        };
        match checked(l, r) {
            Ok(out) => Ok(out),
            Err(ArrowError::ArithmeticOverflow(_)) => {
                match l.data_type() {
                    DataType::Int8 => self.first_overflow::<Int8Type>(l, r),
                    DataType::Int16 => self.first_overflow::<Int16Type>(l, r),
                    DataType::Int32 => self.first_overflow::<Int32Type>(l, r),
                    DataType::Int64 => self.first_overflow::<Int64Type>(l, r),
                    other => datafusion::common::internal_err!("{self} of {other}"),
                }?;
                datafusion::common::internal_err!("{self}: arrow found an overflow, Cinder none")
            }
            Err(e) => Err(e.into()),
        }
    }

    fn each<T: ArrowPrimitiveType>(&self, l: &ArrayRef, r: &ArrayRef) -> ArrayRef {
        let (l, r) = (l.as_primitive::<T>(), r.as_primitive::<T>());
        let op = self.op;
        let values: PrimitiveArray<T> = l
            .iter()
            .zip(r.iter())
            .map(|(a, b)| {
                let (a, b) = (a?, b?);
                op.checked(a, b).ok()
            })
            .collect();
        Arc::new(values)
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for TryIntegerArithmetic {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op
            && self.overflow == other.overflow
            && self.left.eq(&other.left)
            && self.right.eq(&other.right)
    }
}

impl Eq for TryIntegerArithmetic {}

impl Hash for TryIntegerArithmetic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.op.hash(state);
        self.overflow.hash(state);
        self.left.hash(state);
        self.right.hash(state);
    }
}

impl fmt::Display for TryIntegerArithmetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.overflow {
            Overflow::Null => write!(f, "{}({}, {})", self.op.try_name(), self.left, self.right),
            Overflow::Fail => write!(f, "({} {} {})", self.left, self.op.symbol(), self.right),
        }
    }
}

impl PhysicalExpr for TryIntegerArithmetic {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.left.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(match self.overflow {
            Overflow::Null => true,
            Overflow::Fail => {
                self.left.nullable(input_schema)? || self.right.nullable(input_schema)?
            }
        })
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let (left, right) = (self.left.evaluate(batch)?, self.right.evaluate(batch)?);
        let scalar = matches!(
            (&left, &right),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let rows = if scalar { 1 } else { batch.num_rows() };
        let l = left.into_array(rows)?;
        let r = right.into_array(rows)?;
        if l.data_type() != r.data_type() {
            return datafusion::common::internal_err!(
                "{self} of {} and {}",
                l.data_type(),
                r.data_type()
            );
        }
        let out = match l.data_type() {
            _ if self.overflow == Overflow::Fail => self.failing(&l, &r)?,
            DataType::Int8 => self.each::<Int8Type>(&l, &r),
            DataType::Int16 => self.each::<Int16Type>(&l, &r),
            DataType::Int32 => self.each::<Int32Type>(&l, &r),
            DataType::Int64 => self.each::<Int64Type>(&l, &r),
            other => return datafusion::common::internal_err!("{self} of {other}"),
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        match (children.pop(), children.pop(), children.is_empty()) {
            (Some(right), Some(left), true) => Ok(Arc::new(Self::with_overflow(
                self.op,
                self.overflow,
                left,
                right,
            ))),
            _ => datafusion::common::internal_err!("{self} takes two children"),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int8Array, Int16Array, Int32Array, Int64Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::Column;

    fn run(op: TryOp, l: ArrayRef, r: ArrayRef) -> ArrayRef {
        evaluate(op, Overflow::Null, l, r).unwrap()
    }

    fn evaluate(
        op: TryOp,
        overflow: Overflow,
        l: ArrayRef,
        r: ArrayRef,
    ) -> datafusion::common::Result<ArrayRef> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("l", l.data_type().clone(), true),
            Field::new("r", r.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema, vec![l, r]).unwrap();
        let e = TryIntegerArithmetic::with_overflow(
            op,
            overflow,
            Arc::new(Column::new("l", 0)),
            Arc::new(Column::new("r", 1)),
        );
        e.evaluate(&batch)?.into_array(batch.num_rows())
    }

    /// ANSI mode: Spark 4.0's error classes and messages (as vanilla Spark printed them).
    #[test]
    fn overflow_fails_with_spark_errors() {
        let fail = |op, l: ArrayRef, r: ArrayRef| {
            evaluate(op, Overflow::Fail, l, r).unwrap_err().to_string()
        };
        let ints = fail(
            TryOp::Add,
            Arc::new(Int32Array::from(vec![Some(1), None, Some(5)])),
            Arc::new(Int32Array::from(vec![
                Some(2),
                Some(i32::MAX),
                Some(i32::MAX),
            ])),
        );
        assert!(
            ints.contains(
                "[ARITHMETIC_OVERFLOW] integer overflow. Use 'try_add' to tolerate overflow and \
                 return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" \
                 to bypass this error. SQLSTATE: 22003"
            ),
            "{ints}"
        );
        let longs = fail(
            TryOp::Multiply,
            Arc::new(Int64Array::from(vec![3, 1])),
            Arc::new(Int64Array::from(vec![i64::MAX, 1])),
        );
        assert!(
            longs.contains("[ARITHMETIC_OVERFLOW] long overflow. Use 'try_multiply' "),
            "{longs}"
        );
        // Bytes and shorts name the first row that overflows, as shorts.
        let bytes = fail(
            TryOp::Subtract,
            Arc::new(Int8Array::from(vec![Some(1), Some(-100), Some(100)])),
            Arc::new(Int8Array::from(vec![Some(1), Some(29), Some(-100)])),
        );
        assert!(
            bytes.contains(
                "[BINARY_ARITHMETIC_OVERFLOW] -100S - 29S caused overflow. Use `try_subtract` to \
                 ignore overflow problem and return NULL. SQLSTATE: 22003"
            ),
            "{bytes}"
        );
        // No overflow: the values, nulls where an operand is null.
        let fine = evaluate(
            TryOp::Add,
            Overflow::Fail,
            Arc::new(Int16Array::from(vec![Some(i16::MAX), None, Some(-5)])),
            Arc::new(Int16Array::from(vec![Some(0), Some(i16::MAX), Some(3)])),
        )
        .unwrap();
        assert_eq!(
            fine.as_primitive::<Int16Type>(),
            &Int16Array::from(vec![Some(i16::MAX), None, Some(-2)])
        );
    }

    #[test]
    fn overflow_is_null() {
        let l: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(i64::MAX),
            Some(1),
            None,
            Some(i64::MIN),
            Some(-3),
        ]));
        let r: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(2),
            Some(1),
            Some(1),
            Some(4),
        ]));
        let add = run(TryOp::Add, Arc::clone(&l), Arc::clone(&r));
        assert_eq!(
            add.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![None, Some(3), None, Some(i64::MIN + 1), Some(1)])
        );
        let sub = run(TryOp::Subtract, Arc::clone(&l), Arc::clone(&r));
        assert_eq!(
            sub.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![Some(i64::MAX - 1), Some(-1), None, None, Some(-7)])
        );
        let mul = run(TryOp::Multiply, l, r);
        assert_eq!(
            mul.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![
                Some(i64::MAX),
                Some(2),
                None,
                Some(i64::MIN),
                Some(-12)
            ])
        );
        let bytes = run(
            TryOp::Multiply,
            Arc::new(Int8Array::from(vec![64, -64, 12])),
            Arc::new(Int8Array::from(vec![2, 2, 11])),
        );
        assert_eq!(
            bytes.as_primitive::<Int8Type>(),
            &Int8Array::from(vec![None, Some(-128), None])
        );
        let ints = run(
            TryOp::Subtract,
            Arc::new(Int32Array::from(vec![i32::MIN, 0])),
            Arc::new(Int32Array::from(vec![1, i32::MIN])),
        );
        assert_eq!(
            ints.as_primitive::<Int32Type>(),
            &Int32Array::from(vec![None, None])
        );
    }
}
