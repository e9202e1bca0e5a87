//! Spark's casts from strings, whose rules differ from Arrow's.
//!
//! [`SparkStringCast`] parses as Spark does; bytes up to space, and DEL, are trimmed from both
//! ends first. What does not parse is null in legacy mode and Spark's `CAST_INVALID_INPUT`
//! error in ANSI mode.
//! - to `TINYINT | SMALLINT | INT | BIGINT` (`UTF8String.toLong`/`toInt`): an optional sign
//!   and decimal digits, in the type's range. In legacy mode a fraction of digits may follow a
//!   `.` and is dropped (`'1.9'` is 1, `'.5'` is 0).
//! - to `DATE` (`DateTimeUtils.stringToDate`): `[+-]yyyy[y..]`, `-[m]m`, `-[d]d`, and after the
//!   day anything that starts with a space or `T`; a year of 4 to 7 digits, in the proleptic
//!   Gregorian calendar.
//! - to `BOOLEAN` (`StringUtils.isTrueString`): `t`, `true`, `y`, `yes`, `1` and `f`, `false`,
//!   `n`, `no`, `0`, in any case.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int8Array, Int16Array, Int32Array,
    Int64Array,
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

/// The days from 1970-01-01 to `year-month-day` in the proleptic Gregorian calendar, if that
/// is a date (as `java.time.LocalDate.of`, then `toEpochDay` as an int).
pub fn days_of_date(year: i64, month: i64, day: i64) -> Option<i32> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Spark's `DateTimeUtils.stringToDate`: the days since 1970-01-01, or `None`.
pub fn spark_parse_date(text: &[u8]) -> Option<i32> {
    let start = text.iter().position(|&b| !trimmed(b))?;
    let end = text.iter().rposition(|&b| !trimmed(b))? + 1;
    let bytes = &text[start..end];
    let valid = |segment: usize, digits: u32| {
        if segment == 0 {
            (4..=7).contains(&digits)
        } else {
            (1..=2).contains(&digits)
        }
    };
    let mut j = 0;
    let mut sign = 1;
    if bytes[0] == b'-' || bytes[0] == b'+' {
        sign = if bytes[0] == b'-' { -1 } else { 1 };
        j = 1;
    }
    let mut segments = [1_i64; 3];
    let (mut i, mut value, mut digits) = (0_usize, 0_i64, 0_u32);
    while j < bytes.len() && bytes[j] != b' ' && bytes[j] != b'T' {
        let b = bytes[j];
        if i < 2 && b == b'-' {
            if !valid(i, digits) {
                return None;
            }
            segments[i] = value;
            (value, digits) = (0, 0);
            i += 1;
        } else if b.is_ascii_digit() {
            // (More than 7 digits make the segment invalid below.)
            value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
            digits += 1;
        } else {
            return None;
        }
        j += 1;
    }
    if !valid(i, digits) {
        return None;
    }
    // `yyyy` and `yyyy-[m]m` take the whole string; after the day anything may follow.
    if i < 2 && j < bytes.len() {
        return None;
    }
    segments[i] = value;
    days_of_date(sign * segments[0], segments[1], segments[2])
}

/// Spark's `StringUtils.isTrueString` / `isFalseString` after trimming.
pub fn spark_parse_boolean(text: &[u8]) -> Option<bool> {
    let start = text.iter().position(|&b| !trimmed(b))?;
    let end = text.iter().rposition(|&b| !trimmed(b))? + 1;
    let word = text[start..end].to_ascii_lowercase();
    match word.as_slice() {
        b"t" | b"true" | b"y" | b"yes" | b"1" => Some(true),
        b"f" | b"false" | b"n" | b"no" | b"0" => Some(false),
        _ => None,
    }
}

/// `CAST(string AS <integer type> | DATE | BOOLEAN)` with Spark's parsing (see the module
/// docs).
#[derive(Debug)]
pub struct SparkStringCast {
    child: Arc<dyn PhysicalExpr>,
    target: DataType,
    ansi: bool,
}

impl SparkStringCast {
    /// The cast of `child` (a string) to `target`, ANSI or legacy; `None` for a target these
    /// rules do not cover.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, target: DataType, ansi: bool) -> Option<Self> {
        matches!(
            target,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Date32
                | DataType::Boolean
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
            DataType::Date32 => "DATE",
            DataType::Boolean => "BOOLEAN",
            _ => "BIGINT",
        }
    }

    /// The value of `text` in the target type (an i64: days for a date, 0 or 1 for a boolean).
    fn parse(&self, text: &str) -> Option<i64> {
        let bytes = text.as_bytes();
        match self.target {
            DataType::Date32 => spark_parse_date(bytes).map(i64::from),
            DataType::Boolean => spark_parse_boolean(bytes).map(i64::from),
            _ => {
                let value = spark_parse_long(bytes, !self.ansi)?;
                let fits = match self.target {
                    DataType::Int8 => i8::try_from(value).is_ok(),
                    DataType::Int16 => i16::try_from(value).is_ok(),
                    DataType::Int32 => i32::try_from(value).is_ok(),
                    _ => true,
                };
                fits.then_some(value)
            }
        }
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
            DataType::Date32 => Arc::new(values.iter().map(narrow).collect::<Date32Array>()),
            DataType::Boolean => Arc::new(
                values
                    .iter()
                    .map(|v| v.map(|v| v != 0))
                    .collect::<BooleanArray>(),
            ),
            _ => Arc::new(Int64Array::from(values)),
        })
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkStringCast {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.target == other.target && self.ansi == other.ansi
    }
}

impl Eq for SparkStringCast {}

impl Hash for SparkStringCast {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.target.hash(state);
        self.ansi.hash(state);
    }
}

impl fmt::Display for SparkStringCast {
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

impl PhysicalExpr for SparkStringCast {
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
    use super::{days_of_date, spark_parse_boolean, spark_parse_date};

    #[test]
    fn dates_and_booleans_parse_as_sparks() {
        let date = |s: &str| spark_parse_date(s.as_bytes());
        assert_eq!(date("1970-01-01"), Some(0));
        assert_eq!(date(" 1970-1-2 "), Some(1));
        assert_eq!(date("1969-12-31T23:59"), Some(-1));
        assert_eq!(date("2000-02-29 anything"), Some(11016));
        assert_eq!(date("2000"), Some(10957));
        assert_eq!(date("2000-03"), Some(11017));
        assert_eq!(date("2001-02-29"), None);
        assert_eq!(date("2000-13-01"), None);
        assert_eq!(date("2000-1-001"), None);
        assert_eq!(date("200-01-01"), None);
        assert_eq!(date("2000-01"), Some(10957));
        assert_eq!(date("2000 "), Some(10957));
        assert_eq!(date("2000 x"), None);
        assert_eq!(date("2000-01-01x"), None);
        assert_eq!(date("+2000-01-01"), Some(10957));
        assert_eq!(date("-0001-01-01"), days_of_date(-1, 1, 1));
        assert_eq!(date("12345678-01-01"), None);
        assert_eq!(date("1234567-01-01"), days_of_date(1_234_567, 1, 1));
        assert_eq!(date(""), None);
        assert_eq!(date("-"), None);
        assert_eq!(days_of_date(1600, 2, 29), Some(-135081));
        assert_eq!(days_of_date(1900, 2, 29), None);
        let boolean = |s: &str| spark_parse_boolean(s.as_bytes());
        assert_eq!(boolean(" TRUE "), Some(true));
        assert_eq!(boolean("Y"), Some(true));
        assert_eq!(boolean("0"), Some(false));
        assert_eq!(boolean("no"), Some(false));
        assert_eq!(boolean("2"), None);
        assert_eq!(boolean(""), None);
    }

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
