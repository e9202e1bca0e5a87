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
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Schema};
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
    use DecimalFailure::{Malformed, Overflow, TooManyDigits};
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
    if significant.is_empty() {
        return Ok(0);
    }
    let overflow = || {
        let plain = plain_decimal(negative, significant, i64::from(big_scale));
        Overflow(plain)
    };
    let limit = 10_i128.pow(u32::from(precision));
    let shift = i64::from(scale) - i64::from(big_scale);
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
    ansi: bool,
}

impl SparkStringCast {
    /// The cast of `child` (a string) to `target`, ANSI or legacy; `None` for a target these
    /// rules do not cover.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, target: DataType, ansi: bool) -> Option<Self> {
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
            ansi,
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
                Some((text, None)) if self.ansi => Err(self.invalid(text)),
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
                    Err(_) if !self.ansi => Ok(None),
                    Err(DecimalFailure::Malformed) => Err(self.invalid(text)),
                    Err(DecimalFailure::TooManyDigits) => Err(DataFusionError::Execution(format!(
                        "[NUMERIC_OUT_OF_SUPPORTED_RANGE] The value {text} cannot be \
                         interpreted as a numeric since it has more than 38 digits. \
                         SQLSTATE: 22003"
                    ))),
                    Err(DecimalFailure::Overflow(value)) => {
                        Err(DataFusionError::Execution(format!(
                            "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  {value} cannot be \
                             represented as Decimal({precision}, {scale}). If necessary set \
                             \"spark.sql.ansi.enabled\" to \"false\" to bypass this error, and \
                             return NULL instead. SQLSTATE: 22003"
                        )))
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

    /// The cast of `child` (a decimal) to a string: Java's `BigDecimal.toString` in legacy
    /// mode, `toPlainString` in ANSI mode (Spark's `useDecimalPlainString`).
    pub fn decimal_to_string(child: Arc<dyn PhysicalExpr>, ansi: bool) -> Self {
        Self {
            child,
            target: DataType::Utf8,
            ansi,
        }
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        if let (DataType::Utf8, DataType::Decimal128(_, scale)) = (&self.target, array.data_type())
        {
            let decimals = array.as_primitive::<Decimal128Type>();
            let strings: StringArray = decimals
                .iter()
                .map(|v| v.map(|v| spark_decimal_string(v, *scale, self.ansi)))
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
        // Legacy mode makes null of what does not parse; every decimal prints.
        let parses = self.target != DataType::Utf8;
        Ok((parses && !self.ansi) || self.child.nullable(input_schema)?)
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
}
