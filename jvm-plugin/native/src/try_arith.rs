//! Spark's `try_add`, `try_subtract` and `try_multiply` of integers (`EvalMode.TRY`): null
//! where the result overflows the type, where legacy mode wraps and ANSI mode fails.
//! (For decimals, floats, division and remainder Spark's try mode gives what legacy mode
//! gives, so those need nothing of their own.)

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ArrowNativeTypeOp, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, Schema,
};
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

/// `left op right` of two integers of one type, null on overflow.
#[derive(Debug)]
pub struct TryIntegerArithmetic {
    op: TryOp,
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
}

impl TryIntegerArithmetic {
    /// `left op right`; both must be of one integer type (checked when evaluated).
    pub fn new(op: TryOp, left: Arc<dyn PhysicalExpr>, right: Arc<dyn PhysicalExpr>) -> Self {
        Self { op, left, right }
    }

    fn each<T: ArrowPrimitiveType>(&self, l: &ArrayRef, r: &ArrayRef) -> ArrayRef {
        let (l, r) = (l.as_primitive::<T>(), r.as_primitive::<T>());
        let op = self.op;
        let values: PrimitiveArray<T> = l
            .iter()
            .zip(r.iter())
            .map(|(a, b)| {
                let (a, b) = (a?, b?);
                match op {
                    TryOp::Add => a.add_checked(b),
                    TryOp::Subtract => a.sub_checked(b),
                    TryOp::Multiply => a.mul_checked(b),
                }
                .ok()
            })
            .collect();
        Arc::new(values)
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for TryIntegerArithmetic {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op && self.left.eq(&other.left) && self.right.eq(&other.right)
    }
}

impl Eq for TryIntegerArithmetic {}

impl Hash for TryIntegerArithmetic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.op.hash(state);
        self.left.hash(state);
        self.right.hash(state);
    }
}

impl fmt::Display for TryIntegerArithmetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.op {
            TryOp::Add => "try_add",
            TryOp::Subtract => "try_subtract",
            TryOp::Multiply => "try_multiply",
        };
        write!(f, "{name}({}, {})", self.left, self.right)
    }
}

impl PhysicalExpr for TryIntegerArithmetic {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.left.data_type(input_schema)
    }

    fn nullable(&self, _input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(true)
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
            (Some(right), Some(left), true) => Ok(Arc::new(Self::new(self.op, left, right))),
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
    use datafusion::arrow::array::{Int8Array, Int32Array, Int64Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::Column;

    fn run(op: TryOp, l: ArrayRef, r: ArrayRef) -> ArrayRef {
        let schema = Arc::new(Schema::new(vec![
            Field::new("l", l.data_type().clone(), true),
            Field::new("r", r.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema, vec![l, r]).unwrap();
        let e = TryIntegerArithmetic::new(
            op,
            Arc::new(Column::new("l", 0)),
            Arc::new(Column::new("r", 1)),
        );
        e.evaluate(&batch)
            .unwrap()
            .into_array(batch.num_rows())
            .unwrap()
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
