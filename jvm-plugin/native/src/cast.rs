//! Spark's casts from strings, whose rules differ from Arrow's.
//!
//! [`SparkStringCast`] parses as Spark does; for integers, dates and booleans bytes up to
//! space, and DEL, are trimmed from both ends first. What does not parse is null in legacy mode and Spark's `CAST_INVALID_INPUT`
//! error in ANSI mode.
//! - to `TINYINT | SMALLINT | INT | BIGINT` (`UTF8String.toLong`/`toInt`): an optional sign
//!   and decimal digits, in the type's range. In legacy mode a fraction of digits may follow a
//!   `.` and is dropped (`'1.9'` is 1, `'.5'` is 0).
//! - to `DATE` (`DateTimeUtils.stringToDate`): `[+-]yyyy[y..]`, `-[m]m`, `-[d]d`, and after the
//!   day anything that starts with a space or `T`; a year of 4 to 7 digits, in the proleptic
//!   Gregorian calendar.
//! - to `BOOLEAN` (`StringUtils.isTrueString`): `t`, `true`, `y`, `yes`, `1` and `f`, `false`,
//!   `n`, `no`, `0`, in any case.
//! - to `FLOAT | DOUBLE` (`Cast.castToDouble`): Java's `Double.parseDouble` /
//!   `Float.parseFloat` of the string trimmed of code points up to space (decimal and
//!   hexadecimal literals, `NaN`, `Infinity`, an `f`/`d` suffix), else Spark's `inf`,
//!   `infinity`, `nan` and their signed forms in any case.
//! - to `DECIMAL(p, s)` (`Decimal.fromString`, `changePrecision`): a `java.math.BigDecimal`
//!   of the string trimmed as for floats, rounded half up to `s`; null (or an error in ANSI
//!   mode) past 38 integral digits or `p` digits.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Schema, i256,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::java_float::java_double_string;

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

/// Java's `String.trim`: code points up to space, from both ends.
fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// A number in Java's floating-point literal grammar (`Double.parseDouble`).
enum JavaFloat<'a> {
    NaN,
    Infinity {
        negative: bool,
    },
    /// Decimal: the text without its type suffix (Rust's `parse` reads the same grammar).
    Decimal(&'a str),
    /// Hexadecimal: the value is `mantissa * 2^exponent`, rounded once.
    Hex(HexFloat),
}

/// A hexadecimal floating-point literal: at most 15 significant hex digits, the rest folded
/// into `sticky` (60 bits are enough to round to 53).
struct HexFloat {
    negative: bool,
    mantissa: u64,
    sticky: bool,
    exponent: i64,
}

/// `text` (trimmed) in Java's grammar for `Double.parseDouble` / `Float.parseFloat`:
/// `[+-]` then `NaN`, `Infinity`, a decimal (`digits[.digits][e[+-]digits]`, at least one
/// digit) or a hexadecimal (`0x` hex digits with one `.`, `p[+-]digits`), then an optional
/// `f`, `F`, `d` or `D` after the last two.
fn java_float_literal(text: &str) -> Option<JavaFloat<'_>> {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let signed = usize::from(negative || bytes.first() == Some(&b'+'));
    let body = &bytes[signed..];
    match body {
        b"NaN" => return Some(JavaFloat::NaN),
        b"Infinity" => return Some(JavaFloat::Infinity { negative }),
        [b'0', b'x' | b'X', hex @ ..] => return hex_float(negative, hex).map(JavaFloat::Hex),
        _ => {}
    }
    let body = match body {
        [rest @ .., b'f' | b'F' | b'd' | b'D'] => rest,
        _ => body,
    };
    let mut i = 0;
    let (mut digits, mut point) = (0, false);
    while i < body.len() {
        match body[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < body.len() {
        if !matches!(body[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent = &body[i..];
        if exponent.is_empty() || !exponent.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    // ASCII throughout, so any byte offset is a char boundary.
    Some(JavaFloat::Decimal(&text[..signed + body.len()]))
}

/// The part of a hexadecimal literal after `0x`: `hex[.hex]p[+-]digits[fFdD]`, with at
/// least one hex digit.
fn hex_float(negative: bool, text: &[u8]) -> Option<HexFloat> {
    let text = match text {
        [rest @ .., b'f' | b'F' | b'd' | b'D'] => rest,
        _ => text,
    };
    let p = text.iter().position(|&b| b == b'p' || b == b'P')?;
    let (mantissa_text, exponent_text) = (&text[..p], &text[p + 1..]);
    let (exp_negative, exp_digits) = match exponent_text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Saturated far beyond any double's exponent: the result is then 0 or infinity anyway.
    let magnitude = exp_digits
        .iter()
        .fold(0_i64, |e, &b| (e * 10 + i64::from(b - b'0')).min(1 << 24));
    let mut exponent = if exp_negative { -magnitude } else { magnitude };
    let (mut mantissa, mut sticky, mut significant, mut digits, mut point) =
        (0_u64, false, 0, 0, false);
    for &b in mantissa_text {
        if b == b'.' {
            if point {
                return None;
            }
            point = true;
            continue;
        }
        let value = u64::from(char::from(b).to_digit(16)?);
        digits += 1;
        if significant == 0 && value == 0 {
            // A leading zero: nothing to keep, but a fraction digit still scales.
        } else if significant < 15 {
            mantissa = mantissa << 4 | value;
            significant += 1;
        } else {
            sticky |= value != 0;
            exponent += 4;
        }
        if point {
            exponent -= 4;
        }
    }
    (digits > 0).then_some(HexFloat {
        negative,
        mantissa,
        sticky,
        exponent,
    })
}

impl HexFloat {
    /// The value rounded (half to even) to a float of `precision` significand bits whose
    /// smallest subnormal is `2^min_exponent`, as an `f64` holding it exactly.
    fn round(&self, precision: i64, min_exponent: i64) -> f64 {
        let sign = if self.negative { -1.0 } else { 1.0 };
        if self.mantissa == 0 {
            return sign * 0.0;
        }
        let bits = 64 - i64::from(self.mantissa.leading_zeros());
        // The value's top bit is 2^(bits - 1 + exponent); keep `precision` bits, or fewer
        // down to the subnormal's last bit.
        let keep = precision.min(bits + self.exponent - min_exponent);
        let shift = bits - keep;
        let mantissa = u128::from(self.mantissa);
        let kept = if shift <= 0 {
            mantissa << -shift
        } else if shift > 65 {
            0
        } else {
            let kept = mantissa >> shift;
            let rest = mantissa & ((1 << shift) - 1);
            let half = 1 << (shift - 1);
            let up = rest > half || (rest == half && (self.sticky || kept & 1 == 1));
            kept + u128::from(up)
        };
        let scale = self.exponent + shift;
        if kept == 0 {
            return sign * 0.0;
        }
        if scale > 1023 {
            return sign * f64::INFINITY;
        }
        // 2^scale, exact: scale >= min_exponent >= -1074.
        let power = if scale >= -1022 {
            f64::from_bits(((scale + 1023) as u64) << 52)
        } else {
            f64::from_bits(1 << (scale + 1074))
        };
        sign * (kept as f64) * power
    }
}

/// Spark's special floating-point strings (`Cast.processFloatingPointSpecialLiterals`),
/// tried where Java's parsing fails: `inf`, `+inf`, `infinity`, `+infinity`, `-inf`,
/// `-infinity` and `nan`, in any case, trimmed.
fn spark_special_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    }
}

/// Spark's `CAST(string AS DOUBLE)`: Java's `Double.parseDouble` of the string, else Spark's
/// special literals; `None` for the rest.
pub fn spark_parse_double(text: &str) -> Option<f64> {
    let text = java_trim(text);
    match java_float_literal(text) {
        Some(JavaFloat::NaN) => Some(f64::NAN),
        Some(JavaFloat::Infinity { negative: false }) => Some(f64::INFINITY),
        Some(JavaFloat::Infinity { negative: true }) => Some(f64::NEG_INFINITY),
        Some(JavaFloat::Decimal(decimal)) => decimal.parse().ok(),
        Some(JavaFloat::Hex(hex)) => Some(hex.round(53, -1074)),
        None => spark_special_float(text),
    }
}

/// Spark's `CAST(string AS FLOAT)`: as [`spark_parse_double`], rounded once to a float.
pub fn spark_parse_float(text: &str) -> Option<f32> {
    let text = java_trim(text);
    match java_float_literal(text) {
        Some(JavaFloat::NaN) => Some(f32::NAN),
        Some(JavaFloat::Infinity { negative: false }) => Some(f32::INFINITY),
        Some(JavaFloat::Infinity { negative: true }) => Some(f32::NEG_INFINITY),
        Some(JavaFloat::Decimal(decimal)) => decimal.parse().ok(),
        // Exact in an f64 (24 bits, exponent within a float's or infinite), so `as` keeps it.
        Some(JavaFloat::Hex(hex)) => Some(hex.round(24, -149) as f32),
        None => spark_special_float(text).map(|v| v as f32),
    }
}

/// The value of a decimal digit as Java's `Character.digit(c, 10)` reads one: the Unicode
/// decimal digits of the Basic Multilingual Plane (Java's `char`s), as of Java 17.
fn java_digit(c: char) -> Option<u8> {
    // The zero of each run of ten digits (Unicode general category Nd).
    const ZEROS: [u32; 37] = [
        0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66,
        0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946,
        0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0,
        0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    ];
    let c = u32::from(c);
    let i = ZEROS.partition_point(|&zero| zero <= c).checked_sub(1)?;
    let value = c - ZEROS[i];
    (value < 10).then_some(value as u8)
}

/// Why a string is not a value of a decimal type (Spark's three errors in ANSI mode).
#[derive(Debug, PartialEq, Eq)]
pub enum DecimalFailure {
    /// Not a number in `java.math.BigDecimal`'s grammar: `CAST_INVALID_INPUT`.
    Malformed,
    /// More than 38 digits before the point: `NUMERIC_OUT_OF_SUPPORTED_RANGE`.
    TooManyDigits,
    /// The value rounded to the type's scale has more digits than its precision:
    /// `NUMERIC_VALUE_OUT_OF_RANGE` (with the value, as Spark prints it).
    Overflow(String),
}

/// Spark's `CAST(string AS DECIMAL(precision, scale))` (`Decimal.fromString`, then
/// `changePrecision`): the trimmed string as a `java.math.BigDecimal` (`[+-]`, digits with
/// one `.`, at least one digit, `e[+-]digits`, where digits may be any Unicode decimal
/// digits), rounded half up to `scale`. The unscaled value, or why there is none.
pub fn spark_parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, DecimalFailure> {
    use DecimalFailure::{Malformed, TooManyDigits};
    let text = java_trim(text);
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut digits: Vec<u8> = Vec::new();
    let (mut fraction, mut point, mut exponent) = (0_i64, false, 0_i64);
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '.' {
            if point {
                return Err(Malformed);
            }
            point = true;
        } else if let Some(d) = java_digit(c) {
            digits.push(d);
            fraction += i64::from(point);
        } else if c == 'e' || c == 'E' {
            exponent = java_exponent(chars.as_str()).ok_or(Malformed)?;
            break;
        } else {
            return Err(Malformed);
        }
    }
    if digits.is_empty() {
        return Err(Malformed);
    }
    // The BigDecimal's scale must be an int.
    let big_scale = i32::try_from(fraction - exponent).map_err(|_| Malformed)?;
    let first = digits.iter().position(|&d| d != 0);
    let significant = first.map_or(&[][..], |i| &digits[i..]);
    // Spark's check before anything else: digits before the point (BigDecimal precision,
    // 1 for zero, less its scale).
    let big_precision = significant.len().max(1) as i64;
    if big_precision - i64::from(big_scale) > 38 {
        return Err(TooManyDigits);
    }
    rescale_decimal(
        negative,
        significant,
        i64::from(big_scale),
        precision,
        scale,
    )
}

/// `changePrecision(ROUND_HALF_UP)` of the decimal `significant × 10^-big_scale` (its digits,
/// no leading zeros) to `decimal(precision, scale)`: the unscaled value, or `Overflow`.
fn rescale_decimal(
    negative: bool,
    significant: &[u8],
    big_scale: i64,
    precision: u8,
    scale: i8,
) -> Result<i128, DecimalFailure> {
    use DecimalFailure::Overflow;
    if significant.is_empty() {
        return Ok(0);
    }
    let overflow = || {
        let plain = plain_decimal(negative, significant, big_scale);
        Overflow(plain)
    };
    let limit = 10_i128.pow(u32::from(precision));
    let shift = i64::from(scale) - big_scale;
    let value = if shift >= 0 {
        if significant.len() as i64 + shift > i64::from(precision) {
            return Err(overflow());
        }
        let value = significant
            .iter()
            .fold(0_i128, |v, &d| v * 10 + i128::from(d));
        value * 10_i128.pow(shift as u32)
    } else {
        let dropped = usize::try_from(-shift).unwrap_or(usize::MAX);
        let kept_len = significant.len().saturating_sub(dropped);
        if kept_len > usize::from(precision) {
            return Err(overflow());
        }
        let kept = significant[..kept_len]
            .iter()
            .fold(0_i128, |v, &d| v * 10 + i128::from(d));
        // Half up: the first dropped digit decides (an implicit 0 past the digits).
        let round = significant
            .get(kept_len)
            .filter(|_| dropped <= significant.len());
        kept + i128::from(round.is_some_and(|&d| d >= 5))
    };
    if value >= limit {
        return Err(overflow());
    }
    Ok(if negative { -value } else { value })
}

/// Spark's `CAST(double AS DECIMAL(precision, scale))`: the digits of Java's
/// `Double.toString` (Scala's `BigDecimal(double)`; see `crate::java_float`) rounded half up
/// to `scale`. NaN and the infinities are `Ok(None)` (Spark's `NumberFormatException`, null
/// in every mode).
pub fn spark_double_to_decimal(
    v: f64,
    precision: u8,
    scale: i8,
) -> Result<Option<i128>, DecimalFailure> {
    if !v.is_finite() {
        return Ok(None);
    }
    let text = crate::java_float::java_double_string(v);
    let (mantissa, exponent) = text.split_once('E').unwrap_or((&text, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let first = digits.iter().position(|&d| d != 0);
    let significant = first.map_or(&[][..], |i| &digits[i..]);
    let big_scale = frac.len() as i64 - exponent;
    rescale_decimal(negative, significant, big_scale, precision, scale).map(Some)
}

/// Spark's `NUMERIC_VALUE_OUT_OF_RANGE` for `value` (as Spark prints it), which does not fit
/// `decimal(precision, scale)`.
pub(crate) fn decimal_out_of_range(value: &str, precision: u8, scale: i8) -> DataFusionError {
    DataFusionError::Execution(format!(
        "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  {value} cannot be represented as \
         Decimal({precision}, {scale}). If necessary set \"spark.sql.ansi.enabled\" to \
         \"false\" to bypass this error, and return NULL instead. SQLSTATE: 22003"
    ))
}

/// [`spark_double_to_decimal`] of each of `doubles`: null where a value does not fit, or
/// with `ansi`, Spark's error.
pub(crate) fn doubles_to_decimals(
    doubles: impl Iterator<Item = Option<f64>>,
    precision: u8,
    scale: i8,
    ansi: bool,
) -> datafusion::common::Result<ArrayRef> {
    let values = doubles
        .map(|v| {
            let Some(v) = v else { return Ok(None) };
            match spark_double_to_decimal(v, precision, scale) {
                Ok(v) => Ok(v),
                Err(DecimalFailure::Overflow(value)) if ansi => {
                    Err(decimal_out_of_range(&value, precision, scale))
                }
                Err(_) => Ok(None),
            }
        })
        .collect::<datafusion::common::Result<Decimal128Array>>()?;
    Ok(Arc::new(values.with_precision_and_scale(precision, scale)?))
}

/// Java's `BigDecimal.parseExp` of what follows the `e`: `[+-]` and digits (any Unicode
/// decimal digits), at most 10 after leading zeros, in an int's range.
fn java_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = digits
        .chars()
        .map(java_digit)
        .collect::<Option<Vec<u8>>>()?;
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    // Java skips leading zeros only while more than 10 digits are left.
    let skip = first.min(digits.len().saturating_sub(10));
    let digits = &digits[skip..];
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let value = digits.iter().fold(0_i64, |v, &d| v * 10 + i64::from(d));
    let value = if negative { -value } else { value };
    i32::try_from(value).ok().map(i64::from)
}

/// A decimal as Spark prints it in an error (`Decimal.toString`: a `BigDecimal`'s
/// `toString`, whose scale Spark set to at least 0): `significant` digits (no leading zeros,
/// not empty) scaled by `10^-scale`.
fn plain_decimal(negative: bool, significant: &[u8], scale: i64) -> String {
    let mut digits: String = significant.iter().map(|&d| char::from(b'0' + d)).collect();
    if scale <= 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
    } else {
        let scale = scale as usize;
        if digits.len() <= scale {
            digits.insert_str(0, &"0".repeat(scale - digits.len() + 1));
        }
        digits.insert(digits.len() - scale, '.');
    }
    if negative {
        digits.insert(0, '-');
    }
    digits
}

/// A decimal (`unscaled * 10^-scale`, `scale >= 0`) as Java's `BigDecimal.toPlainString`
/// (`plain`) or `BigDecimal.toString`, which writes `d.dddE-n` when the exponent of the
/// first digit is below -6 (`0E-10` for zero at scale 10).
pub fn spark_decimal_string(unscaled: i128, scale: i8, plain: bool) -> String {
    let sign = if unscaled < 0 { "-" } else { "" };
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::try_from(scale).unwrap_or(0);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if plain || adjusted >= -6 {
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else if digits.len() > 1 {
        format!("{sign}{}.{}E{adjusted}", &digits[..1], &digits[1..])
    } else {
        format!("{sign}{digits}E{adjusted}")
    }
}

/// `CAST(string AS <integer type> | DATE | BOOLEAN | FLOAT | DOUBLE | DECIMAL)` with Spark's
/// parsing (see the module docs), and `CAST(decimal AS STRING)` as Spark prints decimals.
#[derive(Debug)]
pub struct SparkStringCast {
    child: Arc<dyn PhysicalExpr>,
    target: DataType,
    mode: CastMode,
}

/// Spark's evaluation mode of a cast (`EvalMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CastMode {
    /// `spark.sql.ansi.enabled = false`: null for what does not parse or fit.
    Legacy,
    /// ANSI mode: Spark's error for what does not parse or fit.
    Ansi,
    /// `try_cast`: the ANSI rules, with null instead of the error (strings to floats,
    /// decimals and dates take the legacy rules, as Spark's `canUseLegacyCastForTryCast`).
    Try,
}

impl CastMode {
    /// The mode of a cast with these flags of the plan message.
    pub fn of(ansi: bool, try_cast: bool) -> Self {
        match (ansi, try_cast) {
            (_, true) => Self::Try,
            (true, false) => Self::Ansi,
            (false, false) => Self::Legacy,
        }
    }

    /// How `Display` marks the mode: nothing, `, ansi` or `, try`.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Self::Legacy => "",
            Self::Ansi => ", ansi",
            Self::Try => ", try",
        }
    }
}

impl SparkStringCast {
    /// The cast of `child` (a string) to `target`, ANSI or legacy; `None` for a target these
    /// rules do not cover.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, target: DataType, mode: CastMode) -> Option<Self> {
        let supported = match target {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Boolean
            | DataType::Float32
            | DataType::Float64 => true,
            DataType::Decimal128(p, s) => (1..=38).contains(&p) && (0..=p as i8).contains(&s),
            _ => false,
        };
        supported.then_some(Self {
            child,
            target,
            mode,
        })
    }

    fn spark_type(&self) -> String {
        match self.target {
            DataType::Int8 => "TINYINT".into(),
            DataType::Int16 => "SMALLINT".into(),
            DataType::Int32 => "INT".into(),
            DataType::Date32 => "DATE".into(),
            DataType::Boolean => "BOOLEAN".into(),
            DataType::Float32 => "FLOAT".into(),
            DataType::Float64 => "DOUBLE".into(),
            DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
            DataType::Utf8 => "STRING".into(),
            _ => "BIGINT".into(),
        }
    }

    /// Spark's error for `text`, which does not parse (ANSI mode).
    fn invalid(&self, text: &str) -> DataFusionError {
        DataFusionError::Execution(format!(
            "[CAST_INVALID_INPUT] The value '{text}' of the type \"STRING\" cannot be cast to \
             \"{}\" because it is malformed. Correct the value as per the syntax, or change its \
             target type. Use `try_cast` to tolerate malformed input and return NULL instead. \
             SQLSTATE: 22018",
            self.spark_type()
        ))
    }

    /// Each string through `parse`, null where it gives `None` in legacy mode; in ANSI mode
    /// that is [`Self::invalid`].
    fn each<T>(
        &self,
        strings: &StringArray,
        parse: impl Fn(&str) -> Option<T>,
    ) -> datafusion::common::Result<Vec<Option<T>>> {
        strings
            .iter()
            .map(|s| match s.map(|text| (text, parse(text))) {
                None => Ok(None),
                Some((_, Some(v))) => Ok(Some(v)),
                Some((text, None)) if self.mode == CastMode::Ansi => Err(self.invalid(text)),
                Some(_) => Ok(None),
            })
            .collect()
    }

    /// `CAST(string AS DECIMAL(precision, scale))`: nulls in legacy mode, Spark's errors in
    /// ANSI mode.
    fn decimals(
        &self,
        strings: &StringArray,
        precision: u8,
        scale: i8,
    ) -> datafusion::common::Result<ArrayRef> {
        let values = strings
            .iter()
            .map(|s| {
                let Some(text) = s else { return Ok(None) };
                match spark_parse_decimal(text, precision, scale) {
                    Ok(v) => Ok(Some(v)),
                    Err(_) if self.mode != CastMode::Ansi => Ok(None),
                    Err(DecimalFailure::Malformed) => Err(self.invalid(text)),
                    Err(DecimalFailure::TooManyDigits) => Err(DataFusionError::Execution(format!(
                        "[NUMERIC_OUT_OF_SUPPORTED_RANGE] The value {text} cannot be \
                         interpreted as a numeric since it has more than 38 digits. \
                         SQLSTATE: 22003"
                    ))),
                    Err(DecimalFailure::Overflow(value)) => {
                        Err(decimal_out_of_range(&value, precision, scale))
                    }
                }
            })
            .collect::<datafusion::common::Result<Decimal128Array>>()?;
        Ok(Arc::new(values.with_precision_and_scale(precision, scale)?))
    }

    /// The value of `text` in an integer, date or boolean target type (an i64: days for a
    /// date, 0 or 1 for a boolean).
    fn parse(&self, text: &str) -> Option<i64> {
        let bytes = text.as_bytes();
        match self.target {
            DataType::Date32 => spark_parse_date(bytes).map(i64::from),
            DataType::Boolean => spark_parse_boolean(bytes).map(i64::from),
            _ => {
                let value = spark_parse_long(bytes, self.mode == CastMode::Legacy)?;
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

    /// The cast of `child` (a decimal) to a string: Java's `BigDecimal.toString` in legacy
    /// mode, `toPlainString` in ANSI and try mode (Spark's `useDecimalPlainString`).
    pub fn decimal_to_string(child: Arc<dyn PhysicalExpr>, mode: CastMode) -> Self {
        Self {
            child,
            target: DataType::Utf8,
            mode,
        }
    }

    /// The cast of `child` (a float or double) to a string or a decimal, through Java's
    /// `Double.toString` / `Float.toString` as Java 19 and later give them
    /// (`crate::java_float`); `None` for another target.
    pub fn from_float(
        child: Arc<dyn PhysicalExpr>,
        target: DataType,
        mode: CastMode,
    ) -> Option<Self> {
        let supported = match target {
            DataType::Utf8 => true,
            DataType::Decimal128(p, s) => (1..=38).contains(&p) && (0..=p as i8).contains(&s),
            _ => false,
        };
        supported.then_some(Self {
            child,
            target,
            mode,
        })
    }

    /// `CAST(float AS STRING)` and `CAST(float AS DECIMAL)` (see [`Self::from_float`]).
    fn cast_float(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let doubles: Float64Array = match array.data_type() {
            // Spark widens a float to a double before a decimal; a string is Float.toString.
            DataType::Float32 if self.target == DataType::Utf8 => {
                let floats = array.as_primitive::<Float32Type>();
                let strings: StringArray = floats
                    .iter()
                    .map(|v| v.map(crate::java_float::java_float_string))
                    .collect();
                return Ok(Arc::new(strings));
            }
            DataType::Float32 => array.as_primitive::<Float32Type>().unary(f64::from),
            _ => array.as_primitive::<Float64Type>().clone(),
        };
        let DataType::Decimal128(precision, scale) = self.target else {
            let strings: StringArray = doubles.iter().map(|v| v.map(java_double_string)).collect();
            return Ok(Arc::new(strings));
        };
        doubles_to_decimals(
            doubles.iter(),
            precision,
            scale,
            self.mode == CastMode::Ansi,
        )
    }

    /// `CAST(date AS STRING)`: `yyyy-MM-dd`, over Spark's whole range of dates.
    pub fn date_to_string(child: Arc<dyn PhysicalExpr>) -> Self {
        Self {
            child,
            target: DataType::Utf8,
            mode: CastMode::Legacy,
        }
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        if matches!(array.data_type(), DataType::Float32 | DataType::Float64) {
            return self.cast_float(array);
        }
        if let DataType::Date32 = array.data_type() {
            let strings: StringArray = array
                .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .iter()
                .map(|d| d.map(crate::datetime::spark_date_string))
                .collect();
            return Ok(Arc::new(strings));
        }
        if let (DataType::Utf8, DataType::Decimal128(_, scale)) = (&self.target, array.data_type())
        {
            let decimals = array.as_primitive::<Decimal128Type>();
            let strings: StringArray = decimals
                .iter()
                .map(|v| v.map(|v| spark_decimal_string(v, *scale, self.mode != CastMode::Legacy)))
                .collect();
            return Ok(Arc::new(strings));
        }
        let DataType::Utf8 = array.data_type() else {
            return datafusion::common::internal_err!("{self} of a {} value", array.data_type());
        };
        let strings = array.as_string::<i32>();
        match self.target {
            DataType::Float64 => {
                return Ok(Arc::new(Float64Array::from(
                    self.each(strings, spark_parse_double)?,
                )));
            }
            DataType::Float32 => {
                return Ok(Arc::new(Float32Array::from(
                    self.each(strings, spark_parse_float)?,
                )));
            }
            DataType::Decimal128(precision, scale) => {
                return self.decimals(strings, precision, scale);
            }
            _ => {}
        }
        let values = self.each(strings, |text| self.parse(text))?;
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
        self.child.eq(&other.child) && self.target == other.target && self.mode == other.mode
    }
}

impl Eq for SparkStringCast {}

impl Hash for SparkStringCast {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.target.hash(state);
        self.mode.hash(state);
    }
}

impl fmt::Display for SparkStringCast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_cast({} AS {}{})",
            self.child,
            self.spark_type(),
            self.mode.suffix()
        )
    }
}

impl PhysicalExpr for SparkStringCast {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.target.clone())
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        // Legacy mode makes null of what does not parse; every decimal and float prints; NaN
        // and the infinities are null as decimals in every mode.
        let parses = self.target != DataType::Utf8;
        let from_float = matches!(
            self.child.data_type(input_schema)?,
            DataType::Float32 | DataType::Float64
        );
        Ok((parses && (self.mode != CastMode::Ansi || from_float))
            || self.child.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.cast(a))
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
            target: self.target.clone(),
            mode: self.mode,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `CAST` between numbers and booleans where Spark's rules are not Arrow's:
/// - an integer to a narrower one: the low bits (legacy), `CAST_OVERFLOW` (ANSI);
/// - a float or double to an integer: Java's conversion to int or long (NaN is 0, out of
///   range saturates, toward zero), then the low bits (legacy); `CAST_OVERFLOW` unless
///   `floor(x) <= max && ceil(x) >= min` (ANSI);
/// - a decimal to an integer: toward zero, then the low bits (legacy), `CAST_OVERFLOW`
///   (ANSI);
/// - a decimal to a float or double: correctly rounded (`BigDecimal.doubleValue`);
/// - a double to a float: Java's rounding (infinite past the range);
/// - a number to a boolean (`!= 0`, so NaN is true) and a boolean to a number (1 or 0);
/// - in ANSI mode, an integer or decimal to a decimal: Arrow's cast (rounding half up), and
///   Spark's `NUMERIC_VALUE_OUT_OF_RANGE` for a value that does not fit (legacy and try
///   mode: Arrow's null).
#[derive(Debug)]
pub struct SparkNumericCast {
    child: Arc<dyn PhysicalExpr>,
    from: DataType,
    target: DataType,
    mode: CastMode,
}

/// An integer type's rank by width.
fn integer_width(t: &DataType) -> Option<u32> {
    match t {
        DataType::Int8 => Some(8),
        DataType::Int16 => Some(16),
        DataType::Int32 => Some(32),
        DataType::Int64 => Some(64),
        _ => None,
    }
}

/// Spark's name of a type (in errors).
pub(crate) fn spark_type_name(t: &DataType) -> String {
    match t {
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        other => other.to_string(),
    }
}

/// One value of the input, as the cast reads it.
#[derive(Clone, Copy)]
enum Number {
    Integer(i64),
    Float(f64),
    Decimal(i128),
    Boolean(bool),
}

impl SparkNumericCast {
    /// The cast of `child` (of type `from`) to `target`; `None` where Arrow's cast already
    /// is Spark's (widening) or the pair is not a numeric or boolean one.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        from: DataType,
        target: DataType,
        mode: CastMode,
    ) -> Option<Self> {
        use DataType::{Boolean, Decimal128, Float32, Float64};
        let numeric = |t: &DataType| {
            integer_width(t).is_some() || matches!(t, Float32 | Float64 | Decimal128(..))
        };
        let supported = match (&from, &target) {
            (a, b) if integer_width(a).is_some() && integer_width(b).is_some() => {
                integer_width(b) < integer_width(a)
            }
            (Float32 | Float64 | Decimal128(..), b) if integer_width(b).is_some() => true,
            (Decimal128(..), Float32 | Float64) | (Float64, Float32) => true,
            (a, Boolean) => numeric(a),
            (Boolean, Decimal128(p, s)) => i16::from(*p) - i16::from(*s) >= 1,
            (Boolean, b) => numeric(b),
            (a, Decimal128(..)) => {
                mode == CastMode::Ansi
                    && (integer_width(a).is_some() || matches!(a, Decimal128(..)))
            }
            _ => false,
        };
        supported.then_some(Self {
            child,
            from,
            target,
            mode,
        })
    }

    fn overflow(&self, value: Number) -> DataFusionError {
        let text = match (value, &self.from) {
            (Number::Integer(v), DataType::Int8) => format!("{v}Y"),
            (Number::Integer(v), DataType::Int16) => format!("{v}S"),
            (Number::Integer(v), DataType::Int64) => format!("{v}L"),
            (Number::Integer(v), _) => v.to_string(),
            (Number::Float(v), DataType::Float32) => crate::java_float::java_float_string(v as f32),
            // (NaN and the infinities without the suffix, as Spark prints them.)
            (Number::Float(v), _) if !v.is_finite() => java_double_string(v),
            (Number::Float(v), _) => format!("{}D", java_double_string(v)),
            (Number::Decimal(v), DataType::Decimal128(_, s)) => {
                format!("{}BD", spark_decimal_string(v, *s, false))
            }
            (Number::Decimal(v), _) => v.to_string(),
            (Number::Boolean(v), _) => v.to_string(),
        };
        DataFusionError::Execution(format!(
            "[CAST_OVERFLOW] The value {text} of the type \"{}\" cannot be cast to \"{}\" due to \
             an overflow. Use `try_cast` to tolerate overflow and return NULL instead. \
             SQLSTATE: 22003",
            spark_type_name(&self.from),
            spark_type_name(&self.target)
        ))
    }

    /// What does not fit: Spark's error in ANSI mode, null in try mode.
    fn fail(&self, value: Number) -> datafusion::common::Result<Option<i64>> {
        match self.mode {
            CastMode::Ansi => Err(self.overflow(value)),
            _ => Ok(None),
        }
    }

    /// `value` as an integer of `bits` bits (held in an i64), with Spark's rules; `None` for
    /// what does not fit in try mode.
    fn to_integer(&self, value: Number, bits: u32) -> datafusion::common::Result<Option<i64>> {
        let (min, max) = match bits {
            8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
            16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
            32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => (i64::MIN, i64::MAX),
        };
        let wrap = |v: i64| match bits {
            8 => i64::from(v as i8),
            16 => i64::from(v as i16),
            32 => i64::from(v as i32),
            _ => v,
        };
        match value {
            Number::Integer(v) => {
                if (min..=max).contains(&v) {
                    Ok(Some(v))
                } else if self.mode != CastMode::Legacy {
                    self.fail(value)
                } else {
                    Ok(Some(wrap(v)))
                }
            }
            Number::Float(v) => {
                if self.mode != CastMode::Legacy {
                    if v.floor() <= max as f64 && v.ceil() >= min as f64 {
                        // In range (or, for bigint, at 2^63, which saturates as in Java).
                        Ok(Some(v as i64))
                    } else {
                        self.fail(value)
                    }
                } else if bits == 64 {
                    Ok(Some(v as i64))
                } else {
                    // Java: to int (saturating, NaN 0), then the low bits.
                    Ok(Some(wrap(i64::from(v as i32))))
                }
            }
            Number::Decimal(v) => {
                let DataType::Decimal128(precision, scale) = self.from else {
                    return datafusion::common::internal_err!("{self} of a non-decimal");
                };
                if self.mode != CastMode::Legacy && precision > 18 && bits < 64 {
                    // Spark's roundToInt/Short/Byte of a decimal held as a BigDecimal (more
                    // than 18 digits) goes through its double: floor/ceil in range, then
                    // toward zero (`1.99999999999999999999` is 2).
                    let d = number_to_f64(value, scale);
                    return if d.floor() <= max as f64 && d.ceil() >= min as f64 {
                        Ok(Some(d as i64))
                    } else {
                        self.fail(value)
                    };
                }
                let whole = v / 10_i128.pow(u32::try_from(scale).unwrap_or(0));
                if (i128::from(min)..=i128::from(max)).contains(&whole) {
                    Ok(Some(whole as i64))
                } else if self.mode != CastMode::Legacy {
                    self.fail(value)
                } else {
                    // BigDecimal.longValue: the low 64 bits; then the type's.
                    Ok(Some(wrap(whole as i64)))
                }
            }
            Number::Boolean(b) => Ok(Some(i64::from(b))),
        }
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        use datafusion::arrow::datatypes::{
            Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
        };
        let n = array.len();
        let read: Box<dyn Fn(usize) -> Number + '_> = match array.data_type() {
            DataType::Int8 => {
                let a = array.as_primitive::<Int8Type>();
                Box::new(move |i| Number::Integer(i64::from(a.value(i))))
            }
            DataType::Int16 => {
                let a = array.as_primitive::<Int16Type>();
                Box::new(move |i| Number::Integer(i64::from(a.value(i))))
            }
            DataType::Int32 => {
                let a = array.as_primitive::<Int32Type>();
                Box::new(move |i| Number::Integer(i64::from(a.value(i))))
            }
            DataType::Int64 => {
                let a = array.as_primitive::<Int64Type>();
                Box::new(move |i| Number::Integer(a.value(i)))
            }
            DataType::Float32 => {
                let a = array.as_primitive::<Float32Type>();
                Box::new(move |i| Number::Float(f64::from(a.value(i))))
            }
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                Box::new(move |i| Number::Float(a.value(i)))
            }
            DataType::Decimal128(..) => {
                let a = array.as_primitive::<Decimal128Type>();
                Box::new(move |i| Number::Decimal(a.value(i)))
            }
            DataType::Boolean => {
                let a = array.as_boolean();
                Box::new(move |i| Number::Boolean(a.value(i)))
            }
            other => return datafusion::common::internal_err!("{self} of a {other} value"),
        };
        let rows = (0..n).map(|i| array.is_valid(i).then(|| read(i)));
        let scale = match self.from {
            DataType::Decimal128(_, s) => s,
            _ => 0,
        };
        Ok(match &self.target {
            DataType::Boolean => Arc::new(
                rows.map(|v| {
                    v.map(|v| match v {
                        Number::Integer(v) => v != 0,
                        Number::Float(v) => v != 0.0,
                        Number::Decimal(v) => v != 0,
                        Number::Boolean(v) => v,
                    })
                })
                .collect::<BooleanArray>(),
            ),
            DataType::Float64 => Arc::new(
                rows.map(|v| v.map(|v| number_to_f64(v, scale)))
                    .collect::<Float64Array>(),
            ),
            DataType::Float32 => Arc::new(
                rows.map(|v| v.map(|v| number_to_f32(v, scale)))
                    .collect::<Float32Array>(),
            ),
            DataType::Decimal128(p, s) if self.from != DataType::Boolean => {
                // ANSI mode (see try_new): Arrow's cast, with Spark's error where it gives null.
                let options = datafusion::arrow::compute::CastOptions {
                    safe: true,
                    ..Default::default()
                };
                let out =
                    datafusion::arrow::compute::cast_with_options(array, &self.target, &options)?;
                if let Some(i) = (0..n).find(|&i| array.is_valid(i) && out.is_null(i)) {
                    let text = match read(i) {
                        Number::Decimal(v) => spark_decimal_string(v, scale, true),
                        Number::Integer(v) => v.to_string(),
                        _ => return datafusion::common::internal_err!("{self} of a non-number"),
                    };
                    return Err(decimal_out_of_range(&text, *p, *s));
                }
                out
            }
            DataType::Decimal128(p, s) => {
                let one = 10_i128.pow(u32::try_from(*s).unwrap_or(0));
                let values = rows
                    .map(|v| match v {
                        Some(Number::Boolean(b)) => Ok(Some(if b { one } else { 0 })),
                        None => Ok(None),
                        Some(_) => datafusion::common::internal_err!("{self} of a number"),
                    })
                    .collect::<datafusion::common::Result<Decimal128Array>>()?;
                Arc::new(values.with_precision_and_scale(*p, *s)?)
            }
            target => {
                let bits = integer_width(target).ok_or_else(|| {
                    DataFusionError::Internal(format!("{self}: no integer target"))
                })?;
                let values = rows
                    .map(|v| match v {
                        Some(v) => self.to_integer(v, bits),
                        None => Ok(None),
                    })
                    .collect::<datafusion::common::Result<Vec<Option<i64>>>>()?;
                match bits {
                    8 => Arc::new(
                        values
                            .into_iter()
                            .map(|v| v.map(|v| v as i8))
                            .collect::<Int8Array>(),
                    ),
                    16 => Arc::new(
                        values
                            .into_iter()
                            .map(|v| v.map(|v| v as i16))
                            .collect::<Int16Array>(),
                    ),
                    32 => Arc::new(
                        values
                            .into_iter()
                            .map(|v| v.map(|v| v as i32))
                            .collect::<Int32Array>(),
                    ),
                    _ => Arc::new(Int64Array::from(values)),
                }
            }
        })
    }
}

/// A decimal (unscaled `v`, of `scale`) as a double, correctly rounded (`Decimal.toDouble`).
pub(crate) fn decimal_to_f64(v: i128, scale: i8) -> f64 {
    number_to_f64(Number::Decimal(v), scale)
}

/// A number as a double, correctly rounded (a decimal of `scale` as `BigDecimal.doubleValue`).
fn number_to_f64(v: Number, scale: i8) -> f64 {
    match v {
        Number::Integer(v) => v as f64,
        Number::Float(v) => v,
        Number::Boolean(b) => f64::from(u8::from(b)),
        Number::Decimal(v) => {
            if v.unsigned_abs() < 1 << 53 && (0..=22).contains(&scale) {
                // Both exact, so one correctly rounded division.
                v as f64 / 10_f64.powi(i32::from(scale))
            } else {
                format!("{v}e-{scale}").parse().unwrap_or(f64::NAN)
            }
        }
    }
}

/// A number as a float, rounded once (a decimal as `BigDecimal.floatValue`, a double as
/// Java's `(float)`).
fn number_to_f32(v: Number, scale: i8) -> f32 {
    match v {
        Number::Integer(v) => v as f32,
        Number::Float(v) => v as f32,
        Number::Boolean(b) => f32::from(u8::from(b)),
        Number::Decimal(v) => {
            if v.unsigned_abs() < 1 << 24 && (0..=10).contains(&scale) {
                v as f32 / 10_f32.powi(i32::from(scale))
            } else {
                format!("{v}e-{scale}").parse().unwrap_or(f32::NAN)
            }
        }
    }
}

impl PartialEq for SparkNumericCast {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && self.from == other.from
            && self.target == other.target
            && self.mode == other.mode
    }
}

impl Eq for SparkNumericCast {}

impl Hash for SparkNumericCast {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.from.hash(state);
        self.target.hash(state);
        self.mode.hash(state);
    }
}

impl fmt::Display for SparkNumericCast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_cast({} AS {}{})",
            self.child,
            spark_type_name(&self.target),
            self.mode.suffix()
        )
    }
}

impl PhysicalExpr for SparkNumericCast {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.target.clone())
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(self.mode == CastMode::Try || self.child.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.cast(a))
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
            from: self.from.clone(),
            target: self.target.clone(),
            mode: self.mode,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A cast of exact 256-bit decimal totals (the native window sums') to Spark's decimal type of
/// the same scale: null where a value does not fit, or with `ansi` Spark's
/// `NUMERIC_VALUE_OUT_OF_RANGE` naming it, as `Decimal.toPrecision` does.
#[derive(Debug, Eq)]
pub struct SparkDecimalNarrow {
    child: Arc<dyn PhysicalExpr>,
    precision: u8,
    scale: i8,
    ansi: bool,
}

impl SparkDecimalNarrow {
    /// The cast of `child` (of type `from`) to `target`; `None` unless `from` is a 256-bit
    /// decimal and `target` a 128-bit one of the same scale.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        from: &DataType,
        target: &DataType,
        ansi: bool,
    ) -> Option<Self> {
        match (from, target) {
            (DataType::Decimal256(_, from_scale), DataType::Decimal128(precision, scale))
                if from_scale == scale && (1..=38).contains(precision) =>
            {
                Some(Self {
                    child,
                    precision: *precision,
                    scale: *scale,
                    ansi,
                })
            }
            _ => None,
        }
    }

    fn narrow(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let wide = array.as_primitive::<Decimal256Type>();
        let limit = i256::from_i128(10_i128.pow(u32::from(self.precision)));
        let mut out = Vec::with_capacity(wide.len());
        for v in wide.iter() {
            out.push(match v {
                None => None,
                Some(v) if v > -limit && v < limit => v.to_i128(),
                Some(v) if self.ansi => {
                    let unscaled = num_bigint::BigInt::parse_bytes(v.to_string().as_bytes(), 10)
                        .unwrap_or_default();
                    return Err(decimal_out_of_range(
                        &crate::planner::plain_decimal(&unscaled, i64::from(self.scale)),
                        self.precision,
                        self.scale,
                    ));
                }
                Some(_) => None,
            });
        }
        Ok(Arc::new(
            Decimal128Array::from(out).with_precision_and_scale(self.precision, self.scale)?,
        ))
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkDecimalNarrow {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && (self.precision, self.scale, self.ansi) == (other.precision, other.scale, other.ansi)
    }
}

impl Hash for SparkDecimalNarrow {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        (self.precision, self.scale, self.ansi).hash(state);
    }
}

impl fmt::Display for SparkDecimalNarrow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_decimal_narrow({}, {}, {})",
            self.child, self.precision, self.scale
        )
    }
}

impl PhysicalExpr for SparkDecimalNarrow {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale))
    }

    fn nullable(&self, _input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.narrow(a))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self {
            child: crate::unary::only_child(&self, children)?,
            precision: self.precision,
            scale: self.scale,
            ansi: self.ansi,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::spark_parse_long as parse;
    use super::{
        DecimalFailure, days_of_date, spark_decimal_string, spark_parse_boolean, spark_parse_date,
        spark_parse_decimal, spark_parse_double, spark_parse_float,
    };

    #[test]
    fn floats_parse_as_javas_then_sparks_special_words() {
        let double = |s: &str| spark_parse_double(s).map(f64::to_bits);
        let bits = |v: f64| Some(v.to_bits());
        assert_eq!(double("1e3"), bits(1000.0));
        assert_eq!(double(" 12.5 "), bits(12.5));
        assert_eq!(double("\t1.5\n"), bits(1.5));
        assert_eq!(double("1."), bits(1.0));
        assert_eq!(double(".5"), bits(0.5));
        assert_eq!(double("-0"), bits(-0.0));
        assert_eq!(double("+1.5e-2"), bits(0.015));
        assert_eq!(double("1d"), bits(1.0));
        assert_eq!(double("1.5F"), bits(1.5));
        assert_eq!(double("0x1p3"), bits(8.0));
        assert_eq!(double("0x1.8p1"), bits(3.0));
        assert_eq!(double("-0X.8P0f"), bits(-0.5));
        assert_eq!(double("0x0p99999999999"), bits(0.0));
        assert_eq!(double("0x1p99999999999"), bits(f64::INFINITY));
        assert_eq!(double("-0x1p-99999999999"), bits(-0.0));
        assert_eq!(double("0x1p-1075"), bits(0.0));
        assert_eq!(double("0x1.0000000000001p-1075"), Some(1));
        assert_eq!(double("0x1.8p-1074"), Some(2));
        assert_eq!(double("0x1.fffffffffffff7p1023"), bits(f64::MAX));
        assert_eq!(double("0x1.fffffffffffff8p1023"), bits(f64::INFINITY));
        assert_eq!(
            double("0x.000000000000000000000000000000001p0"),
            bits(1.836_709_923_159_824_2e-40)
        );
        assert_eq!(double("0x00000000000000000000000000001p0"), bits(1.0));
        assert_eq!(double("1e400"), bits(f64::INFINITY));
        assert_eq!(double("-1e400"), bits(f64::NEG_INFINITY));
        assert_eq!(double("1e-400"), bits(0.0));
        assert_eq!(double("4.9e-324"), Some(1));
        assert_eq!(double("1e2147483648"), bits(f64::INFINITY));
        assert_eq!(double("-Infinity"), bits(f64::NEG_INFINITY));
        assert_eq!(double(" INF "), bits(f64::INFINITY));
        assert_eq!(double("+infinity"), bits(f64::INFINITY));
        assert!(spark_parse_double("+NaN").is_some_and(f64::is_nan));
        assert!(spark_parse_double("nan").is_some_and(f64::is_nan));
        for bad in [
            "",
            ".",
            "+",
            "-",
            "1e",
            "1e+",
            "e5",
            "0x1p",
            "0x10",
            "+nan",
            "-nan",
            "NaNd",
            "1_0",
            "1 2",
            "1.2.3",
            "\u{663}",
            "12\u{a0}",
            "1.5\u{7f}",
            "Infinityf",
            "1ef",
        ] {
            assert_eq!(spark_parse_double(bad), None, "{bad:?}");
        }
        let float = |s: &str| spark_parse_float(s).map(f32::to_bits);
        assert_eq!(float("4.9e-324"), Some(0));
        assert_eq!(float("0x1p-150"), Some(0));
        assert_eq!(float("0x1.000001p-150"), Some(1));
        assert_eq!(float("0x1.fffffe8p127"), Some(f32::MAX.to_bits()));
        assert_eq!(
            float("1234567890123456789012345678901234567890"),
            Some(f32::INFINITY.to_bits())
        );
        // 99999.9921875, the nearest float (Java prints 99999.99).
        assert_eq!(float("99999.995"), Some(0x47c3_4fff));
        assert_eq!(float("-INF"), Some(f32::NEG_INFINITY.to_bits()));
    }

    #[test]
    fn numbers_cast_as_sparks() {
        use super::{CastMode, Number, SparkNumericCast, number_to_f32, number_to_f64};
        use datafusion::arrow::array::{
            Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array,
        };
        use datafusion::arrow::datatypes::{DataType, Float32Type, Int8Type, Int32Type, Int64Type};
        use datafusion::physical_expr::expressions::Column;
        use std::sync::Arc;
        let cast = |from: DataType, to: DataType, ansi: bool, a: ArrayRef| {
            let child = Arc::new(Column::new("c", 0));
            SparkNumericCast::try_new(child, from, to, CastMode::of(ansi, false))
                .expect("a numeric cast")
                .cast(&a)
        };
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(f64::NAN),
            Some(1e10),
            Some(-2.9),
            Some(200.7),
            Some(9.3e18),
            None,
        ]));
        let ints = cast(
            DataType::Float64,
            DataType::Int32,
            false,
            Arc::clone(&doubles),
        )
        .unwrap();
        let ints = ints.as_primitive::<Int32Type>();
        assert_eq!(ints.values()[..5], [0, i32::MAX, -2, 200, i32::MAX]);
        assert!(ints.is_null(5));
        let bytes = cast(
            DataType::Float64,
            DataType::Int8,
            false,
            Arc::clone(&doubles),
        )
        .unwrap();
        assert_eq!(bytes.as_primitive::<Int8Type>().value(3), -56);
        let longs = cast(
            DataType::Float64,
            DataType::Int64,
            false,
            Arc::clone(&doubles),
        )
        .unwrap();
        assert_eq!(longs.as_primitive::<Int64Type>().value(4), i64::MAX);
        let err = cast(DataType::Float64, DataType::Int32, true, doubles).unwrap_err();
        assert!(
            err.to_string()
                .contains("The value NaN of the type \"DOUBLE\" cannot be cast to \"INT\""),
            "{err}"
        );
        let edge: ArrayRef = Arc::new(Float64Array::from(vec![9_223_372_036_854_775_808.0, -2.9]));
        let longs = cast(DataType::Float64, DataType::Int64, true, edge).unwrap();
        assert_eq!(
            longs.as_primitive::<Int64Type>().values()[..],
            [i64::MAX, -2]
        );
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![3_000_000_000, 300]));
        let narrow = cast(DataType::Int64, DataType::Int32, false, Arc::clone(&wide)).unwrap();
        assert_eq!(
            narrow.as_primitive::<Int32Type>().values()[..],
            [-1_294_967_296, 300]
        );
        let tried = SparkNumericCast::try_new(
            Arc::new(Column::new("c", 0)),
            DataType::Int64,
            DataType::Int32,
            CastMode::Try,
        )
        .unwrap()
        .cast(&wide)
        .unwrap();
        let tried = tried.as_primitive::<Int32Type>();
        assert!(tried.is_null(0) && tried.value(1) == 300);
        let err = cast(DataType::Int64, DataType::Int32, true, wide).unwrap_err();
        assert!(
            err.to_string()
                .contains("[CAST_OVERFLOW] The value 3000000000L of the type \"BIGINT\""),
            "{err}"
        );
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![
                1_234_567_890_123_456_789_099,
                -30_090,
                214_748_364_790,
            ])
            .with_precision_and_scale(22, 2)
            .unwrap(),
        );
        let longs = cast(
            DataType::Decimal128(22, 2),
            DataType::Int64,
            false,
            Arc::clone(&decimals),
        )
        .unwrap();
        assert_eq!(
            longs.as_primitive::<Int64Type>().values()[..],
            [-6_101_065_172_474_983_726, -300, 2_147_483_647]
        );
        let err = cast(DataType::Decimal128(22, 2), DataType::Int64, true, decimals).unwrap_err();
        assert!(
            err.to_string()
                .contains("The value 12345678901234567890.99BD of the type \"DECIMAL(22,2)\""),
            "{err}"
        );
        // ANSI/try casts of decimals of more than 18 digits to int go through a double (Spark).
        let wide: ArrayRef = Arc::new(
            Decimal128Array::from(vec![
                199_999_999_999_999_999_999,
                214_748_364_799_999_999_990_000_000_000,
            ])
            .with_precision_and_scale(38, 20)
            .unwrap(),
        );
        let ints = SparkNumericCast::try_new(
            Arc::new(Column::new("c", 0)),
            DataType::Decimal128(38, 20),
            DataType::Int32,
            CastMode::Try,
        )
        .unwrap()
        .cast(&wide)
        .unwrap();
        let ints = ints.as_primitive::<Int32Type>();
        assert_eq!(ints.value(0), 2);
        // 2147483647.9999999999: its double is 2^31, out of range (Spark: CAST_OVERFLOW).
        assert!(ints.is_null(1));
        let floats = cast(
            DataType::Float64,
            DataType::Float32,
            false,
            Arc::new(Float64Array::from(vec![1e300, 0.1])),
        )
        .unwrap();
        assert_eq!(
            floats.as_primitive::<Float32Type>().values()[..],
            [f32::INFINITY, 0.1]
        );
        // Decimals to floating point, rounded once.
        assert_eq!(number_to_f64(Number::Decimal(1), 1), 0.1);
        assert_eq!(number_to_f64(Number::Decimal(10_i128.pow(37)), 38), 0.1);
        assert_eq!(
            number_to_f64(Number::Decimal(1_234_567_890_123_456_789_099), 2),
            1.234_567_890_123_456_7e19
        );
        assert_eq!(number_to_f32(Number::Decimal(10_i128.pow(36)), 37), 0.1_f32);
        assert_eq!(number_to_f32(Number::Decimal(16_777_217), 0), 16_777_216.0);
        // Java's layout of doubles in error messages.
        let java = crate::java_float::java_double_string;
        assert_eq!(java(1e10), "1.0E10");
        assert_eq!(java(-200.7), "-200.7");
        assert_eq!(java(9.3e18), "9.3E18");
        assert_eq!(java(0.001), "0.001");
        assert_eq!(java(0.0001), "1.0E-4");
        assert_eq!(java(1_234_567.0), "1234567.0");
        assert_eq!(java(-0.0), "-0.0");
        assert_eq!(java(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn decimals_print_as_javas_big_decimal() {
        let legacy = |v: i128, s: i8| spark_decimal_string(v, s, false);
        let ansi = |v: i128, s: i8| spark_decimal_string(v, s, true);
        assert_eq!(legacy(150, 2), "1.50");
        assert_eq!(legacy(-5, 2), "-0.05");
        assert_eq!(legacy(0, 0), "0");
        assert_eq!(legacy(-42, 0), "-42");
        assert_eq!(legacy(0, 2), "0.00");
        assert_eq!(legacy(0, 10), "0E-10");
        assert_eq!(ansi(0, 10), "0.0000000000");
        assert_eq!(legacy(1, 6), "0.000001");
        assert_eq!(legacy(1, 7), "1E-7");
        assert_eq!(legacy(-12, 8), "-1.2E-7");
        assert_eq!(ansi(-12, 8), "-0.00000012");
        assert_eq!(legacy(12, 7), "0.0000012");
        assert_eq!(legacy(123_456_789, 15), "1.23456789E-7");
        assert_eq!(
            legacy(i128::MAX / 10, 38),
            "0.17014118346046923173168730371588410572"
        );
        assert_eq!(
            legacy(-(10_i128.pow(38) - 1), 0),
            "-99999999999999999999999999999999999999"
        );
    }

    #[test]
    fn doubles_to_decimals_through_javas_digits() {
        use super::{DecimalFailure, spark_double_to_decimal};
        // Double.toString's digits, then half up: 1.005 is 1.00499999999999989... exactly.
        assert_eq!(spark_double_to_decimal(1.005, 10, 2), Ok(Some(101)));
        assert_eq!(spark_double_to_decimal(-1.005, 10, 2), Ok(Some(-101)));
        assert_eq!(spark_double_to_decimal(1e-30, 10, 2), Ok(Some(0)));
        assert_eq!(spark_double_to_decimal(0.0, 10, 2), Ok(Some(0)));
        assert_eq!(spark_double_to_decimal(123.456, 5, 0), Ok(Some(123)));
        assert_eq!(
            spark_double_to_decimal(99_999.5, 5, 0),
            Err(DecimalFailure::Overflow("99999.5".into()))
        );
        // A float is widened first: 0.1f is 0.100000001490116119384765625.
        assert_eq!(
            spark_double_to_decimal(f64::from(0.1_f32), 20, 18),
            Ok(Some(100_000_001_490_116_120))
        );
        assert_eq!(
            spark_double_to_decimal(1e20, 10, 2),
            Err(DecimalFailure::Overflow("100000000000000000000".into()))
        );
        assert_eq!(
            spark_double_to_decimal(-1e300, 38, 0)
                .map_err(|e| matches!(e, DecimalFailure::Overflow(_))),
            Err(true)
        );
        assert_eq!(
            spark_double_to_decimal(1.5e-7, 38, 37),
            Ok(Some(15 * 10_i128.pow(29)))
        );
        assert_eq!(spark_double_to_decimal(f64::NAN, 10, 2), Ok(None));
        assert_eq!(spark_double_to_decimal(f64::INFINITY, 10, 2), Ok(None));
    }

    #[test]
    fn decimals_parse_as_javas_big_decimal_and_round_half_up() {
        use DecimalFailure::{Malformed, Overflow, TooManyDigits};
        let d = |s: &str, p: u8, sc: i8| spark_parse_decimal(s, p, sc);
        assert_eq!(d("1e3", 10, 2), Ok(100_000));
        assert_eq!(d("1E+3", 5, 0), Ok(1000));
        assert_eq!(d(" 12.5 ", 5, 0), Ok(13));
        assert_eq!(d("\t1.5\n", 5, 0), Ok(2));
        assert_eq!(d("-0.5", 5, 0), Ok(-1));
        assert_eq!(d("0.05", 5, 0), Ok(0));
        assert_eq!(d(".5", 10, 2), Ok(50));
        assert_eq!(d("1.", 10, 2), Ok(100));
        assert_eq!(d("-0", 10, 2), Ok(0));
        assert_eq!(d("+1.5e-2", 10, 2), Ok(2));
        assert_eq!(d("9.995", 10, 2), Ok(1000));
        assert_eq!(d("9.995", 38, 10), Ok(99_950_000_000));
        assert_eq!(d("0.000001e7", 5, 0), Ok(10));
        assert_eq!(d("1e-400", 10, 2), Ok(0));
        assert_eq!(d("\u{663}\u{664}.5", 10, 2), Ok(3450));
        assert_eq!(d("\u{ff11}e\u{0662}", 10, 2), Ok(10_000));
        assert_eq!(d("1e0000000000005", 10, 2), Ok(10_000_000));
        assert_eq!(d("1e00000000005", 10, 2), Ok(10_000_000));
        assert_eq!(
            d("99999999999999999999999999999999999999", 38, 0),
            Ok(10_i128.pow(38) - 1)
        );
        assert_eq!(
            d("0.123456789012345678", 18, 18),
            Ok(123_456_789_012_345_678)
        );
        assert_eq!(d("99999.995", 5, 0), Err(Overflow("99999.995".into())));
        assert_eq!(d("-99999.995", 7, 2), Err(Overflow("-99999.995".into())));
        assert_eq!(d("1e5", 3, 0), Err(Overflow("100000".into())));
        assert_eq!(d("0.5", 18, 18), Ok(500_000_000_000_000_000));
        assert_eq!(d("1", 18, 18), Err(Overflow("1".into())));
        assert_eq!(d("0e50", 10, 2), Err(TooManyDigits));
        assert_eq!(
            d("1234567890123456789012345678901234567890", 38, 0),
            Err(TooManyDigits)
        );
        assert_eq!(d("1e38", 38, 0), Err(TooManyDigits));
        assert_eq!(d("1e37", 38, 0), Ok(10_i128.pow(37)));
        for bad in [
            "",
            ".",
            "+",
            "-",
            "1e",
            "e5",
            "1.5f",
            "1d",
            "NaN",
            "inf",
            "0x10",
            "1_0",
            "1.2.3",
            "1e2147483648",
            "1e12345678901",
            "12\u{a0}",
            "1.5\u{7f}",
            "\u{1d7ce}",
        ] {
            assert_eq!(d(bad, 10, 2), Err(Malformed), "{bad:?}");
        }
    }

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

    #[test]
    fn wide_decimal_totals_narrow_as_spark_checks_them() -> datafusion::common::Result<()> {
        use std::sync::Arc;

        use datafusion::arrow::array::{Array, ArrayRef, AsArray};
        use datafusion::arrow::datatypes::{Decimal128Type, i256};

        use super::SparkDecimalNarrow;
        let wide: ArrayRef = Arc::new(
            datafusion::arrow::array::Decimal256Array::from(vec![
                Some(i256::from_i128(99_999)),
                None,
                Some(i256::from_i128(-100_000)),
            ])
            .with_precision_and_scale(76, 2)?,
        );
        let column = |ansi| SparkDecimalNarrow {
            child: Arc::new(datafusion::physical_expr::expressions::Column::new("x", 0)),
            precision: 5,
            scale: 2,
            ansi,
        };
        let narrowed = column(false).narrow(&wide)?;
        let narrowed = narrowed.as_primitive::<Decimal128Type>();
        assert_eq!(narrowed.value(0), 99_999);
        assert!(narrowed.is_null(1) && narrowed.is_null(2));
        let error = column(true).narrow(&wide).unwrap_err().to_string();
        assert!(error.contains("[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  -1000.00 cannot be represented as Decimal(5, 2)"), "{error}");
        Ok(())
    }
}
