//! Spark's `date_format(timestamp, pattern)` and `from_unixtime(seconds, pattern)`
//! ([`SparkDateFormat`]) for a constant pattern.
//!
//! Spark formats with java.time's `DateTimeFormatter` (`Iso8601TimestampFormatter`, locale
//! `en-US`) after `DateTimeFormatterHelper.convertIncompatiblePattern`, which reads `y` as `u`
//! (the proleptic year) where the pattern has no era. [`parse_pattern`] reads the pattern as
//! `DateTimeFormatterBuilder.appendPattern` does, for the letters whose printing is reproduced
//! here; any other letter, an optional section or a count java.time or Spark refuses leaves
//! the expression to Spark (a plan error naming it):
//!
//! | letters | printed as |
//! |---|---|
//! | `y`, `yyy`, `yyyy`... (to 6) | the year, at least that many digits; `-` before a negative year, and from 4 letters `+` before a year wider than the count |
//! | `yy` | the year's last two digits (of its absolute value) |
//! | `M`, `MM`, `MMM`, `MMMM` | the month: 1 to 12, two digits, `Jan`, `January` |
//! | `d`, `dd`, `D`, `DD`, `DDD` | the day of the month; of the year (at least 1, 2, 3 digits) |
//! | `H`, `k`, `K`, `h` (one or two) | hour 0-23, 1-24, 0-11, 1-12 |
//! | `m`, `s` (one or two) | minute, second |
//! | `S` (1 to 9) | that many digits of the second's fraction, cut short |
//! | `a` | `AM` or `PM` |
//! | `E`, `EE`, `EEE`, `EEEE` | `Mon` (one to three), `Monday` |
//! | `X`, `x` (1 to 5), `Z` (1 to 3, 5) | the zone's offset at the instant, as `OffsetIdPrinterParser` prints it |
//! | `'text'`, `''`, other characters | themselves |
//!
//! The local date-time is the instant's in the session's time zone (java.time's offsets, as the
//! casts have them), over Spark's whole range of years.

use std::fmt::{self, Write};
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::datetime::civil_from_days;
use crate::error::NativeError;
use crate::timestamp::SparkZone;
use crate::unary::{evaluate_unary, only_child};

const MICROS_PER_DAY: i128 = 86_400_000_000;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Text printed as it is.
    Literal(String),
    /// The proleptic year: `(count)` letters (1 to 6; 2 is the reduced two-digit form).
    Year(usize),
    /// The month: a number (1 or 2 letters) or its name (3: short, 4: full).
    Month(usize),
    /// The day of the month (1 or 2 letters).
    Day(usize),
    /// The day of the year (1 to 3 letters: at least that many digits).
    DayOfYear(usize),
    /// An hour: `H` (0-23), `k` (1-24), `K` (0-11) or `h` (1-12), 1 or 2 letters.
    Hour(char, usize),
    /// Minutes (1 or 2 letters).
    Minute(usize),
    /// Seconds (1 or 2 letters).
    Second(usize),
    /// The first `n` digits of the fraction of the second.
    Fraction(usize),
    /// `AM` or `PM`.
    AmPm,
    /// The day of the week: short (1 to 3 letters) or full (4).
    DayOfWeek(usize),
    /// A zone offset: `X`, `x` (1 to 5 letters) or `Z` (1 to 3, 5).
    Offset(char, usize),
}

/// `pattern`'s pieces, or why it is not formatted natively.
pub fn parse_pattern(pattern: &str) -> std::result::Result<Vec<Piece>, String> {
    parse_pattern_for(pattern, false)
}

/// `pattern`'s pieces, or why it is not read natively (`parsing`: for a parse, which the
/// message names).
pub fn parse_pattern_for(pattern: &str, parsing: bool) -> std::result::Result<Vec<Piece>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted text, as appendPattern reads it: to the next quote that is not doubled;
            // nothing between the quotes is a quote (`''`), and inside, `''` is a quote.
            let mut j = i + 1;
            while j < chars.len() {
                if chars[j] == '\'' {
                    if j + 1 < chars.len() && chars[j + 1] == '\'' {
                        j += 1;
                    } else {
                        break;
                    }
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(format!("pattern {pattern:?} ends in an unclosed quote"));
            }
            let text: String = chars[i + 1..j].iter().collect();
            if text.is_empty() {
                literal.push('\'');
            } else {
                literal.push_str(&text.replace("''", "'"));
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if "[]{}#".contains(c) {
                return Err(format!(
                    "pattern {pattern:?}: {c:?} (optional sections, reserved characters) is not native"
                ));
            }
            literal.push(c);
            i += 1;
            continue;
        }
        let mut count = 1;
        while i + count < chars.len() && chars[i + count] == c {
            count += 1;
        }
        let refused = || {
            Err(format!(
                "pattern {pattern:?}: {} is not {} natively",
                c.to_string().repeat(count),
                if parsing { "parsed" } else { "formatted" }
            ))
        };
        let piece = match (c, count) {
            ('y', 1..=6) => Piece::Year(count),
            ('M', 1..=4) => Piece::Month(count),
            ('d', 1..=2) => Piece::Day(count),
            ('D', 1..=3) => Piece::DayOfYear(count),
            ('H' | 'k' | 'K' | 'h', 1..=2) => Piece::Hour(c, count),
            ('m', 1..=2) => Piece::Minute(count),
            ('s', 1..=2) => Piece::Second(count),
            ('S', 1..=9) => Piece::Fraction(count),
            ('a', 1) => Piece::AmPm,
            ('E', 1..=4) => Piece::DayOfWeek(count),
            ('X' | 'x', 1..=5) | ('Z', 1..=3 | 5) => Piece::Offset(c, count),
            _ => return refused(),
        };
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(piece);
        i += count;
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The English name of the day of the week of `days` since 1970-01-01 (a Thursday).
pub(crate) fn day_name(days: i64) -> &'static str {
    DAYS[(days + 3).rem_euclid(7) as usize]
}

/// A number as java.time's `NumberPrinterParser` prints it with `min_width` and
/// `SignStyle.NORMAL` (`exceeds_pad`: `EXCEEDS_PAD`, a `+` before a value wider than
/// `min_width`): the sign, zeros up to `min_width` digits, the digits.
fn push_number(out: &mut String, value: i64, min_width: usize, exceeds_pad: bool) {
    let digits = value.unsigned_abs().to_string();
    if value < 0 {
        out.push('-');
    } else if exceeds_pad && digits.len() > min_width {
        out.push('+');
    }
    for _ in digits.len()..min_width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// java.time's offset pattern for `n` of the letter `letter` (`X`, `x` or `Z`), as
/// `OffsetIdPrinterParser`'s style (1 `+HHmm`, 3 `+HHMM`, 4 `+HH:MM`, 5 `+HHMMss`, 6
/// `+HH:MM:ss`), and the text of a zero offset.
pub fn offset_style(letter: char, n: usize) -> (u8, &'static str) {
    let style = match (letter, n) {
        ('Z', 5) => 6,
        ('Z', _) => 3,
        (_, 1) => 1,
        (_, 2) => 3,
        (_, 3) => 4,
        (_, 4) => 5,
        _ => 6,
    };
    let zero = match (letter, n) {
        ('X', _) | ('Z', 5) => "Z",
        ('x', 1) => "+00",
        ('x', 3 | 5) => "+00:00",
        _ => "+0000",
    };
    (style, zero)
}

/// `OffsetIdPrinterParser.format`: `offset` (seconds) in `style` (see [`offset_style`]).
fn push_offset(out: &mut String, offset: i32, style: u8, zero: &str) {
    if offset == 0 {
        out.push_str(zero);
        return;
    }
    let (hours, minutes, seconds) = (
        (offset / 3600 % 100).abs(),
        (offset / 60 % 60).abs(),
        (offset % 60).abs(),
    );
    let start = out.len();
    let colon = if style.is_multiple_of(2) { ":" } else { "" };
    out.push(if offset < 0 { '-' } else { '+' });
    out.push_str(&format!("{hours:02}"));
    let mut printed = hours;
    if (3..=8).contains(&style) || minutes > 0 {
        out.push_str(&format!("{colon}{minutes:02}"));
        printed += minutes;
        if style >= 5 && seconds > 0 {
            out.push_str(&format!("{colon}{seconds:02}"));
            printed += seconds;
        }
    }
    if printed == 0 {
        out.truncate(start);
        out.push_str(zero);
    }
}

/// Writes the local date-time `local` (micros since 1970-01-01T00:00), at the offset `offset`
/// (seconds) from UTC, as `pieces` say.
pub fn format_local(pieces: &[Piece], local: i128, offset: i32, out: &mut String) -> Option<()> {
    let days = i32::try_from(local.div_euclid(MICROS_PER_DAY)).ok()?;
    let of_day = local.rem_euclid(MICROS_PER_DAY) as i64;
    let (year, month, day) = civil_from_days(days);
    let seconds = of_day / 1_000_000;
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Year(2) => {
                write!(out, "{:02}", year.unsigned_abs() % 100).ok()?;
            }
            Piece::Year(n) => push_number(out, year, *n, *n >= 4),
            Piece::Month(n @ 1..=2) => push_number(out, i64::from(month), *n, false),
            Piece::Month(3) => out.push_str(&MONTHS[month as usize - 1][..3]),
            Piece::Month(_) => out.push_str(MONTHS[month as usize - 1]),
            Piece::Day(n) => push_number(out, i64::from(day), *n, false),
            Piece::DayOfYear(n) => {
                let first = days_from_civil(year, 1, 1)?;
                push_number(out, i64::from(days - first + 1), *n, false);
            }
            Piece::Hour(letter, n) => {
                let value = match letter {
                    'H' => hour,
                    'k' if hour == 0 => 24,
                    'k' => hour,
                    'K' => hour % 12,
                    _ if hour % 12 == 0 => 12,
                    _ => hour % 12,
                };
                push_number(out, value, *n, false);
            }
            Piece::Minute(n) => push_number(out, minute, *n, false),
            Piece::Second(n) => push_number(out, second, *n, false),
            Piece::Fraction(n) => {
                let nanos = format!("{:09}", (of_day % 1_000_000) * 1000);
                out.push_str(&nanos[..*n]);
            }
            Piece::AmPm => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Piece::Offset(letter, n) => {
                let (style, zero) = offset_style(*letter, *n);
                push_offset(out, offset, style, zero);
            }
            Piece::DayOfWeek(n) => {
                let name = day_name(i64::from(days));
                out.push_str(if *n == 4 { name } else { &name[..3] });
            }
        }
    }
    Some(())
}

/// The days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`civil_from_days`]), if an int holds them.
fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i32> {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// `date_format(child, pattern)` of a timestamp in the session's time zone, or
/// `from_unixtime(child, pattern)` of a bigint of seconds.
#[derive(Debug)]
pub struct SparkDateFormat {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    pieces: Vec<Piece>,
    zone_name: String,
    zone: SparkZone,
}

impl SparkDateFormat {
    /// `child` (microseconds since the epoch) formatted by `pattern` in the zone `zone`; a plan
    /// error for a pattern or zone not handled natively.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        pattern: &str,
        zone: &str,
    ) -> crate::error::Result<Self> {
        let pieces = parse_pattern(pattern).map_err(NativeError::plan)?;
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            pieces,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }
}

impl PartialEq for SparkDateFormat {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
            && self.zone_name == other.zone_name
            && self.child.eq(&other.child)
    }
}

impl Eq for SparkDateFormat {}

impl Hash for SparkDateFormat {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pattern.hash(state);
        self.zone_name.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkDateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_date_format({}, {:?}, {})",
            self.child, self.pattern, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkDateFormat {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            // A timestamp, or from_unixtime's seconds: Spark's `seconds * 1000000L`, wrapping.
            let micros = match a.data_type() {
                DataType::Timestamp(_, _) => a.as_primitive::<TimestampMicrosecondType>().clone(),
                DataType::Int64 => a
                    .as_primitive::<Int64Type>()
                    .unary::<_, TimestampMicrosecondType>(|s| s.wrapping_mul(1_000_000)),
                other => return internal_err!("spark_date_format of {other}"),
            };
            let mut out = StringBuilder::with_capacity(micros.len(), micros.len() * 16);
            let mut text = String::new();
            for value in micros.iter() {
                match value {
                    None => out.append_null(),
                    Some(value) => {
                        text.clear();
                        let offset = self.zone.offset_of_utc(value);
                        let local = offset.map(|o| {
                            i128::from(value) + i128::from(o) * i128::from(MICROS_PER_SECOND)
                        });
                        if local
                            .zip(offset)
                            .and_then(|(l, o)| format_local(&self.pieces, l, o, &mut text))
                            .is_none()
                        {
                            return internal_err!("date_format: timestamp {value} out of range");
                        }
                        out.append_value(&text);
                    }
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self {
            child: only_child(&self, children)?,
            pattern: self.pattern.clone(),
            pieces: self.pieces.clone(),
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_date_format(")?;
        self.child.fmt_sql(f)?;
        write!(f, ", {:?})", self.pattern)
    }
}

/// A timestamp (either kind) as a number of units since the epoch, as Spark counts them:
/// `unix_micros`; `unix_millis` and `unix_seconds` (`Math.floorDiv`); `unix_timestamp` and
/// `to_unix_timestamp` of a timestamp (Java's `/`: toward zero, so `1969-12-31 23:59:59.5 UTC`
/// is 0, where `unix_seconds` gives -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnixTime {
    /// Microseconds.
    Micros,
    /// Milliseconds, floored.
    Millis,
    /// Seconds, floored.
    Seconds,
    /// Seconds toward zero.
    Timestamp,
}

impl UnixTime {
    /// The function's name in the plan message.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "unix_micros" => Self::Micros,
            "unix_millis" => Self::Millis,
            "unix_seconds" => Self::Seconds,
            "unix_timestamp" => Self::Timestamp,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Micros => "unix_micros",
            Self::Millis => "unix_millis",
            Self::Seconds => "unix_seconds",
            Self::Timestamp => "unix_timestamp",
        }
    }

    fn of(self, micros: i64) -> i64 {
        match self {
            Self::Micros => micros,
            Self::Millis => micros.div_euclid(1000),
            Self::Seconds => micros.div_euclid(1_000_000),
            Self::Timestamp => micros / 1_000_000,
        }
    }
}

/// [`UnixTime`] of a timestamp.
#[derive(Debug, Eq)]
pub struct SparkUnixTime {
    child: Arc<dyn PhysicalExpr>,
    unit: UnixTime,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkUnixTime {
    fn eq(&self, other: &Self) -> bool {
        self.unit == other.unit && self.child.eq(&other.child)
    }
}

impl Hash for SparkUnixTime {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.unit.hash(state);
        self.child.hash(state);
    }
}

impl SparkUnixTime {
    /// `unit` of `child`, a timestamp.
    pub fn new(child: Arc<dyn PhysicalExpr>, unit: UnixTime) -> Self {
        Self { child, unit }
    }
}

impl fmt::Display for SparkUnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({})", self.unit.name(), self.child)
    }
}

impl PhysicalExpr for SparkUnixTime {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let DataType::Timestamp(_, _) = a.data_type() else {
                return internal_err!("spark_{} of {}", self.unit.name(), a.data_type());
            };
            let unit = self.unit;
            let out = a
                .as_primitive::<TimestampMicrosecondType>()
                .unary::<_, Int64Type>(|m| unit.of(m));
            Ok(Arc::new(out) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self::new(only_child(&self, children)?, self.unit)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.unit.name())?;
        self.child.fmt_sql(f)?;
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pattern: &str, year: i64, month: u32, day: u32, micros_of_day: i64) -> String {
        let days = days_from_civil(year, month, day).unwrap();
        assert_eq!(civil_from_days(days), (year, month, day));
        let local = i128::from(days) * MICROS_PER_DAY + i128::from(micros_of_day);
        let mut out = String::new();
        format_local(&parse_pattern(pattern).unwrap(), local, 0, &mut out).unwrap();
        out
    }

    const H: i64 = 3_600_000_000;

    /// What `date_format` gives on Spark 4.0.1 (UTC session).
    #[test]
    fn patterns_print_as_sparks() {
        let t = 13 * H + 5 * 60_000_000 + 7_123_456;
        assert_eq!(
            format("yyyy-MM-dd HH:mm:ss.SSS", 2024, 2, 29, t),
            "2024-02-29 13:05:07.123"
        );
        assert_eq!(
            format("y yy yyy yyyy yyyyy", 2024, 2, 29, t),
            "2024 24 2024 2024 02024"
        );
        assert_eq!(format("yyyy y yy", 12345, 1, 1, 0), "+12345 12345 45");
        assert_eq!(format("yyyy y yy yyy", -44, 3, 15, 0), "-0044 -44 44 -044");
        assert_eq!(format("M MM MMM MMMM", 2024, 9, 3, 0), "9 09 Sep September");
        assert_eq!(format("d dd D DD DDD", 2024, 2, 9, 0), "9 09 40 40 040");
        assert_eq!(format("D", 2023, 12, 31, 0), "365");
        assert_eq!(format("H k K h a", 2024, 1, 1, 0), "0 24 0 12 AM");
        assert_eq!(
            format("HH kk KK hh a", 2024, 1, 1, 12 * H),
            "12 12 00 12 PM"
        );
        assert_eq!(
            format("h:mm a", 2024, 1, 1, 23 * H + 59 * 60_000_000),
            "11:59 PM"
        );
        assert_eq!(format("E EEE EEEE", 1970, 1, 1, 0), "Thu Thu Thursday");
        assert_eq!(format("EEEE", 2024, 2, 26, 0), "Monday");
        assert_eq!(
            format("S SS SSSSSS SSSSSSSSS", 2024, 1, 1, 7_000_450),
            "0 00 000450 000450000"
        );
        assert_eq!(
            format("'week' dd 'of' MMM, ''yy'' 'it''s'", 2024, 3, 5, 0),
            "week 05 of Mar, '24' it's"
        );
        assert_eq!(format("yyyyMMdd", 1, 1, 1, 0), "00010101");
        // java.time's quotes: '''' is a quoted quote, ''' a quote and an unclosed one.
        assert_eq!(format("''''", 2024, 1, 1, 0), "'");
        assert_eq!(format("'''a'", 2024, 1, 1, 0), "'a");
        assert_eq!(format("''yy''", 2024, 1, 1, 0), "'24'");
    }

    /// OffsetIdPrinterParser's output for each letter count (seconds only where the style has
    /// them and they are not zero; an offset that prints as nothing is the zero text).
    #[test]
    fn offsets_print_as_java() {
        let print = |pattern: &str, offset: i32| {
            let mut out = String::new();
            format_local(&parse_pattern(pattern).unwrap(), 0, offset, &mut out).unwrap();
            out
        };
        let all = "X XX XXX XXXX XXXXX x xx xxx xxxx xxxxx Z ZZZZZ";
        assert_eq!(
            print(all, 0),
            "Z Z Z Z Z +00 +0000 +00:00 +0000 +00:00 +0000 Z"
        );
        assert_eq!(
            print(all, 19_800),
            "+0530 +0530 +05:30 +0530 +05:30 +0530 +0530 +05:30 +0530 +05:30 +0530 +05:30"
        );
        assert_eq!(
            print(all, -28_800),
            "-08 -0800 -08:00 -0800 -08:00 -08 -0800 -08:00 -0800 -08:00 -0800 -08:00"
        );
        // Los Angeles' local mean time, -7:52:58.
        assert_eq!(
            print(all, -28_378),
            "-0752 -0752 -07:52 -075258 -07:52:58 -0752 -0752 -07:52 -075258 -07:52:58 -0752 -07:52:58"
        );
        assert_eq!(print("X XX XXXX", 30), "Z Z +000030");
    }

    #[test]
    fn unix_times_round_as_sparks() {
        // Spark 4.0.1 of TIMESTAMP'1969-12-31 23:59:59.5' UTC: unix_timestamp 0, unix_seconds -1.
        assert_eq!(UnixTime::Timestamp.of(-500_000), 0);
        assert_eq!(UnixTime::Seconds.of(-500_000), -1);
        assert_eq!(UnixTime::Millis.of(-500), -1);
        assert_eq!(UnixTime::Micros.of(-500), -500);
        assert_eq!(
            UnixTime::Seconds.of(i64::MIN),
            i64::MIN.div_euclid(1_000_000)
        );
    }

    #[test]
    fn other_letters_stay_on_spark() {
        for pattern in [
            "G",
            "Q",
            "w",
            "W",
            "Y",
            "u",
            "e",
            "c",
            "F",
            "z",
            "ZZZZ",
            "XXXXXX",
            "O",
            "V",
            "B",
            "n",
            "N",
            "A",
            "L",
            "MMMMM",
            "EEEEE",
            "ddd",
            "HHH",
            "aa",
            "SSSSSSSSSS",
            "yyyyyyy",
            "[yyyy]",
            "'open",
            "#",
            "'''",
        ] {
            assert!(parse_pattern(pattern).is_err(), "{pattern}");
        }
    }
}
