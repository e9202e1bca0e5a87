//! What every one-child expression of this crate (Spark's casts and functions) shares.

use std::fmt::Display;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::ArrowPrimitiveType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

/// `child` evaluated over `batch`, then `f` of its values: an array stays an array; a scalar
/// goes through a one-row array and comes back a scalar.
pub fn evaluate_unary(
    child: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    f: impl Fn(&ArrayRef) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    Ok(match child.evaluate(batch)? {
        ColumnarValue::Array(a) => ColumnarValue::Array(f(&a)?),
        ColumnarValue::Scalar(s) => {
            let a = f(&s.to_array()?)?;
            ColumnarValue::Scalar(ScalarValue::try_from_array(&a, 0)?)
        }
    })
}

/// The one child in `children` (for `with_new_children`), or an internal error naming
/// `expr`.
pub fn only_child(
    expr: &dyn Display,
    mut children: Vec<Arc<dyn PhysicalExpr>>,
) -> Result<Arc<dyn PhysicalExpr>> {
    match (children.pop(), children.is_empty()) {
        (Some(child), true) => Ok(child),
        _ => datafusion::common::internal_err!("{expr} takes one child"),
    }
}

/// `left` and `right` evaluated over `batch` as arrays of `L` and `R`, then `f` of each row's
/// two values (null where either is null), as an array of `O`; an internal error naming `expr`
/// for children of other types.
pub fn evaluate_binary_rows<L, R, O>(
    expr: &dyn Display,
    left: &Arc<dyn PhysicalExpr>,
    right: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    f: impl Fn(L::Native, R::Native) -> Result<O::Native>,
) -> Result<PrimitiveArray<O>>
where
    L: ArrowPrimitiveType,
    R: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    let rows = batch.num_rows();
    let left = left.evaluate(batch)?.into_array(rows)?;
    let right = right.evaluate(batch)?.into_array(rows)?;
    let (Some(l), Some(r)) = (left.as_primitive_opt::<L>(), right.as_primitive_opt::<R>()) else {
        return datafusion::common::internal_err!(
            "{expr} of {} and {}",
            left.data_type(),
            right.data_type()
        );
    };
    l.iter()
        .zip(r.iter())
        .map(|pair| match pair {
            (Some(a), Some(b)) => f(a, b).map(Some),
            _ => Ok(None),
        })
        .collect()
}

/// The two children in `children` (for `with_new_children`), or an internal error naming
/// `expr`.
pub fn two_children(
    expr: &dyn Display,
    children: Vec<Arc<dyn PhysicalExpr>>,
) -> Result<[Arc<dyn PhysicalExpr>; 2]> {
    <[_; 2]>::try_from(children).map_err(|_| {
        datafusion::error::DataFusionError::Internal(format!("{expr} takes two children"))
    })
}
