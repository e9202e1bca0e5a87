//! Spark's order of floats as integers, for `min` and `max` of `float` and `double`.
//!
//! Spark orders floats with `-0.0` equal to `0.0` and NaN above every other value (also
//! infinity). [`SparkFloatKey`] maps each float to an integer of the same width whose signed
//! order is that order but for the zeros: every NaN becomes the canonical NaN, then the bits of
//! a negative value are flipped (but the sign) so that larger magnitudes sort lower. Integer
//! `min`/`max` over the keys, mapped back (the map is its own inverse on those values), is
//! Spark's `min`/`max`. `-0.0` keys just below `0.0`: a group of `-0.0`s gives `-0.0`, as in
//! Spark; where both zeros meet, Spark returns whichever came first, and the keys give `-0.0`
//! for `min` and `0.0` for `max`, one of Spark's possible answers.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, Schema,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

/// A double's key (see the module docs).
pub fn double_key(value: f64) -> i64 {
    let bits = if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    } as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

/// The double of a key made by [`double_key`].
pub fn double_of_key(key: i64) -> f64 {
    let bits = if key < 0 { key ^ i64::MAX } else { key };
    f64::from_bits(bits as u64)
}

/// A float's key (see the module docs).
pub fn float_key(value: f32) -> i32 {
    let bits = if value.is_nan() {
        f32::NAN.to_bits()
    } else {
        value.to_bits()
    } as i32;
    if bits < 0 { bits ^ i32::MAX } else { bits }
}

/// The float of a key made by [`float_key`].
pub fn float_of_key(key: i32) -> f32 {
    let bits = if key < 0 { key ^ i32::MAX } else { key };
    f32::from_bits(bits as u32)
}

/// `float` → `int` and `double` → `bigint` keys, or back (`inverse`).
#[derive(Debug, Eq)]
pub struct SparkFloatKey {
    child: Arc<dyn PhysicalExpr>,
    inverse: bool,
}

impl SparkFloatKey {
    /// The keys of `child` (a float or double).
    pub fn key(child: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(Self {
            child,
            inverse: false,
        })
    }

    /// The floats of `child`'s keys (an int or bigint made by [`SparkFloatKey::key`]).
    pub fn value(child: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(Self {
            child,
            inverse: true,
        })
    }

    fn map(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        Ok(match (array.data_type(), self.inverse) {
            (DataType::Float64, false) => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .unary::<_, Int64Type>(double_key),
            ),
            (DataType::Float32, false) => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Int32Type>(float_key),
            ),
            (DataType::Int64, true) => Arc::new(
                array
                    .as_primitive::<Int64Type>()
                    .unary::<_, Float64Type>(double_of_key),
            ),
            (DataType::Int32, true) => Arc::new(
                array
                    .as_primitive::<Int32Type>()
                    .unary::<_, Float32Type>(float_of_key),
            ),
            (other, _) => {
                return datafusion::common::internal_err!("{self} of a {other} value");
            }
        })
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkFloatKey {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.inverse == other.inverse
    }
}

impl Hash for SparkFloatKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.inverse.hash(state);
    }
}

impl fmt::Display for SparkFloatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.inverse {
            "spark_float_of_key"
        } else {
            "spark_float_key"
        };
        write!(f, "{name}({})", self.child)
    }
}

impl PhysicalExpr for SparkFloatKey {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(match (self.child.data_type(input_schema)?, self.inverse) {
            (DataType::Float64, false) => DataType::Int64,
            (DataType::Float32, false) => DataType::Int32,
            (DataType::Int64, true) => DataType::Float64,
            (DataType::Int32, true) => DataType::Float32,
            (other, _) => return datafusion::common::internal_err!("{self} of a {other} value"),
        })
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.map(a))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let child = crate::unary::only_child(&self, children)?;
        Ok(Arc::new(Self {
            child,
            inverse: self.inverse,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark's order of doubles (NaN largest), with `-0.0` just below `0.0`.
    fn spark_cmp(a: f64, b: f64) -> std::cmp::Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => a.total_cmp(&b),
        }
    }

    #[test]
    fn keys_order_as_spark_and_map_back() {
        let values = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1e300,
            -2.0,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
        ];
        for &a in &values {
            for &b in &values {
                assert_eq!(
                    double_key(a).cmp(&double_key(b)),
                    spark_cmp(a, b),
                    "{a} vs {b}"
                );
            }
            let back = double_of_key(double_key(a));
            assert!(
                back.to_bits() == a.to_bits() || (a.is_nan() && back.is_nan()),
                "{a} -> {back}"
            );
        }
        let floats = [
            f32::NEG_INFINITY,
            -3.5,
            -0.0,
            0.0,
            1e-45,
            7.25,
            f32::INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        for &a in &floats {
            for &b in &floats {
                let expected = spark_cmp(f64::from(a), f64::from(b));
                assert_eq!(float_key(a) == float_key(b), expected.is_eq(), "{a} vs {b}");
                assert_eq!(float_key(a).cmp(&float_key(b)), expected, "{a} vs {b}");
            }
            let back = float_of_key(float_key(a));
            assert!(back == a || (a.is_nan() && back.is_nan()));
        }
    }
}
