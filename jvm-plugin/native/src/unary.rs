//! What every one-child expression of this crate (Spark's casts and functions) shares.

use std::fmt::Display;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
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
