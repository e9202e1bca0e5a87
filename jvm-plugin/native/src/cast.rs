//! Spark's casts whose rules differ from Arrow's.
//!
//! [`SparkStringToInteger`] is `CAST(s AS TINYINT | SMALLINT | INT | BIGINT)` as Spark's
//! `UTF8String.toLong`/`toInt` parse: bytes up to space and DEL are trimmed from both ends,
//! then an optional sign and decimal digits. In legacy mode a fraction of digits may follow a
//! `.` and is dropped (`'1.9'` is 1, `'.5'` is 0); anything else, or a value out of the
//! type's range, is null. In ANSI mode there is no fraction, and a string that does not parse
//! is Spark's `CAST_INVALID_INPUT` error.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int8Array, Int16Array, Int32Array, Int64Array,
};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

/// Spark trims these from a string before parsing a number (`Character.isWhitespace` or
/// `isISOControl` of a byte: the ASCII control characters, space and DEL).
fn trimmed(byte: u8) -> bool {
    byte <= b' ' || byte == 0x7f
}

/// Spark's `UTF8String.toLong` (`allow_fraction`: legacy mode) : the value, or `None`.
pub fn spark_parse_long(text: &[u8], allow_fraction: bool) -> Option<i64> {
    let start = text.iter().position(|&b| !trimmed(b))?;
    let end = text.iter().rposition(|&b| !trimmed(b))? + 1;
    let mut digits = &text[start..end];
    let negative = digits[0] == b'-';
    if negative || digits[0] == b'+' {
        if digits.len() == 1 {
            return None;
        }
        digits = &digits[1..];
    }
    // Accumulated negative, as Spark does: |i64::MIN| > i64::MAX.
    let mut result: i64 = 0;
    let mut rest: &[u8] = &[];
    for (i, &b) in digits.iter().enumerate() {
        if b == b'.' && allow_fraction {
            rest = &digits[i + 1..];
            break;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        result = result.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if negative {
        Some(result)
    } else {
        result.checked_neg()
    }
}

/// `CAST(string AS <integer type>)` with Spark's parsing (see the module docs).
#[derive(Debug)]
pub struct SparkStringToInteger {
    child: Arc<dyn PhysicalExpr>,
    target: DataType,
    ansi: bool,
}

impl SparkStringToInteger {
    /// The cast of `child` (a string) to `target` (`Int8` to `Int64`), ANSI or legacy.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, target: DataType, ansi: bool) -> Option<Self> {
        matches!(
            target,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        )
        .then_some(Self {
            child,
            target,
            ansi,
        })
    }

    fn spark_type(&self) -> &'static str {
        match self.target {
            DataType::Int8 => "TINYINT",
            DataType::Int16 => "SMALLINT",
            DataType::Int32 => "INT",
            _ => "BIGINT",
        }
    }

    /// The value of `text` in the target type's range.
    fn parse(&self, text: &str) -> Option<i64> {
        let value = spark_parse_long(text.as_bytes(), !self.ansi)?;
        let fits = match self.target {
            DataType::Int8 => i8::try_from(value).is_ok(),
            DataType::Int16 => i16::try_from(value).is_ok(),
            DataType::Int32 => i32::try_from(value).is_ok(),
            _ => true,
        };
        fits.then_some(value)
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let DataType::Utf8 = array.data_type() else {
            return datafusion::common::internal_err!("{self} of a {} value", array.data_type());
        };
        let strings = array.as_string::<i32>();
        let values = strings
            .iter()
            .map(|s| match s {
                None => Ok(None),
                Some(text) => match self.parse(text) {
                    Some(v) => Ok(Some(v)),
                    None if self.ansi => Err(DataFusionError::Execution(format!(
                        "[CAST_INVALID_INPUT] The value '{text}' of the type \"STRING\" cannot be \
                         cast to \"{}\" because it is malformed. Correct the value as per the \
                         syntax, or change its target type. Use `try_cast` to tolerate malformed \
                         input and return NULL instead. SQLSTATE: 22018",
                        self.spark_type()
                    ))),
                    None => Ok(None),
                },
            })
            .collect::<datafusion::common::Result<Vec<Option<i64>>>>()?;
        // (Every value is in the target's range: `parse` checked it.)
        let narrow = |v: &Option<i64>| v.map(|v| v as i32);
        Ok(match self.target {
            DataType::Int8 => Arc::new(
                values
                    .iter()
                    .map(|v| v.map(|v| v as i8))
                    .collect::<Int8Array>(),
            ),
            DataType::Int16 => Arc::new(
                values
                    .iter()
                    .map(|v| v.map(|v| v as i16))
                    .collect::<Int16Array>(),
            ),
            DataType::Int32 => Arc::new(values.iter().map(narrow).collect::<Int32Array>()),
            _ => Arc::new(Int64Array::from(values)),
        })
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkStringToInteger {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.target == other.target && self.ansi == other.ansi
    }
}

impl Eq for SparkStringToInteger {}

impl Hash for SparkStringToInteger {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.target.hash(state);
        self.ansi.hash(state);
    }
}

impl fmt::Display for SparkStringToInteger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.ansi { ", ansi" } else { "" };
        write!(
            f,
            "spark_cast({} AS {}{mode})",
            self.child,
            self.spark_type()
        )
    }
}

impl PhysicalExpr for SparkStringToInteger {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.target.clone())
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        // Legacy mode makes null of what does not parse.
        Ok(!self.ansi || self.child.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        Ok(match self.child.evaluate(batch)? {
            ColumnarValue::Array(a) => ColumnarValue::Array(self.cast(&a)?),
            ColumnarValue::Scalar(s) => {
                let a = self.cast(&s.to_array()?)?;
                ColumnarValue::Scalar(ScalarValue::try_from_array(&a, 0)?)
            }
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        match (children.pop(), children.is_empty()) {
            (Some(child), true) => Ok(Arc::new(Self {
                child,
                target: self.target.clone(),
                ansi: self.ansi,
            })),
            _ => datafusion::common::internal_err!("{self} takes one child"),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::spark_parse_long as parse;

    #[test]
    fn parses_as_sparks_utf8string_to_long() {
        let legacy = |s: &str| parse(s.as_bytes(), true);
        let ansi = |s: &str| parse(s.as_bytes(), false);
        assert_eq!(legacy("42"), Some(42));
        assert_eq!(legacy("  -42\t\n"), Some(-42));
        assert_eq!(legacy("+7"), Some(7));
        assert_eq!(legacy("\u{1}7\u{7f}"), Some(7));
        assert_eq!(legacy("1.9"), Some(1));
        assert_eq!(legacy("-1.9"), Some(-1));
        assert_eq!(legacy("1."), Some(1));
        assert_eq!(legacy(".5"), Some(0));
        assert_eq!(legacy("."), Some(0));
        assert_eq!(legacy("1.2.3"), None);
        assert_eq!(legacy("1e3"), None);
        assert_eq!(legacy("1 2"), None);
        assert_eq!(legacy("+"), None);
        assert_eq!(legacy("-"), None);
        assert_eq!(legacy(""), None);
        assert_eq!(legacy("   "), None);
        assert_eq!(legacy("٣"), None);
        assert_eq!(legacy("\u{a0}1"), None);
        assert_eq!(legacy("9223372036854775807"), Some(i64::MAX));
        assert_eq!(legacy("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(legacy("9223372036854775808"), None);
        assert_eq!(legacy("-9223372036854775809"), None);
        assert_eq!(legacy("000000000000000000000000001"), Some(1));
        assert_eq!(ansi("1.9"), None);
        assert_eq!(ansi(" 12 "), Some(12));
    }
}
