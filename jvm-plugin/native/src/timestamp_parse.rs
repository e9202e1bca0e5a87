//! Spark's parsing of strings with a pattern ([`SparkParseTimestamp`]): `to_timestamp(s, fmt)`,
//! `try_to_timestamp`, `to_date(s, fmt)` (a cast of `to_timestamp`'s), `to_timestamp_ntz(s, fmt)`,
//! `unix_timestamp(s, fmt)` and `to_unix_timestamp(s, fmt)`, for a constant pattern.
//!
//! Spark 4 parses with java.time (`Iso8601TimestampFormatter`, under the default
//! `spark.sql.legacy.timeParserPolicy = CORRECTED`): the pattern goes through
//! `DateTimeFormatterHelper.convertIncompatiblePattern` (`y` read as `u`, the proleptic year) and,
//! where it has an `S`, `createBuilderWithVarLengthSecondFraction` (each run of `S` becomes
//! `appendFraction(NANO_OF_SECOND, 1, n, false)`, the pattern split at its quotes as Java's
//! `String.split` splits it); the formatter is case-insensitive, `STRICT`, in the ISO chronology
//! and locale `en-US`. Spark then defaults what the text left out (`toLocalDate`, `toLocalTime`:
//! the year 1970, January, the first, midnight; an hour of the half-day without `a` as the
//! morning's) and takes the instant of that local date-time in the session's time zone.
//!
//! [`parse_pattern`] builds the parser `DateTimeFormatterBuilder` builds for the letters
//! reproduced here (`y`, `M` to `MMMM`, `d`, `D`, `H`, `k`, `K`, `h`, `m`, `s`, `S`, `a`, the
//! offsets `X`, `x` and `Z` (`OffsetIdPrinterParser`; an offset in the text replaces the session's
//! time zone), quoted text and other characters), adjacent value parsing included (`yyyyMMdd`: a number of
//! variable width reserves the digits of the fixed-width numbers after it). [`parse`] runs it as
//! `DateTimeFormatter.parse` does (`NumberPrinterParser`'s strict signs and widths, the whole
//! text consumed, a field parsed twice only with one value) and resolves the fields as
//! `Parsed.resolve` does in `STRICT` mode (each value in its range, real dates, the clock hours
//! and the half-day combined into the hour, the fields left over cross-checked against the
//! date and the time), then as Spark does.
//!
//! What fails to parse is null (legacy mode, `try_to_timestamp`) or, where Spark fails the query
//! (ANSI mode), an error carrying the pattern, the zone and the text: the JVM side parses that
//! text again with Spark's own formatter and throws what Spark throws (`CANNOT_PARSE_TIMESTAMP`
//! with java.time's message). So does a date-time whose microseconds overflow a long (Spark's
//! `Math.multiplyExact` throws `ArithmeticException` in either mode).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::date_format::{Piece, offset_style, parse_pattern_for};
use crate::datetime::{days_from_civil, days_in_month};
use crate::error::NativeError;
use crate::timestamp::SparkZone;
use crate::unary::{evaluate_unary, only_child};

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400_000_000;
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The fields the parser sets (java.time's `ChronoField`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Year,
    Month,
    DayOfMonth,
    DayOfYear,
    HourOfDay,
    ClockHourOfDay,
    HourOfAmPm,
    ClockHourOfAmPm,
    AmPm,
    Minute,
    Second,
    Nano,
    /// `OFFSET_SECONDS`: neither a date nor a time field.
    Offset,
}

const FIELDS: usize = 13;

/// Parsed field values, by [`Field`].
type Values = [Option<i64>; FIELDS];

/// java.time's `SignStyle`s used by the pattern letters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SignStyle {
    /// `-` allowed (strictly, no `+`).
    Normal,
    /// No sign.
    NotNegative,
    /// `-` allowed; `+` only before more digits than the minimum, which need it.
    ExceedsPad,
}

/// One of the formatter's printer-parsers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Element {
    /// Text matched case-insensitively.
    Literal(Vec<char>),
    /// `NumberPrinterParser` (`reduced`: `ReducedPrinterParser`, two digits from 2000).
    Number {
        field: Field,
        min: usize,
        max: usize,
        sign: SignStyle,
        /// Adjacent value parsing: the digits the fixed-width numbers after this one need (0:
        /// none), or -1 where this one is itself of fixed width.
        subsequent: i32,
        reduced: bool,
    },
    /// `FractionPrinterParser` of the nanos, without a decimal point: `min` to `max` digits.
    Fraction { min: usize, max: usize },
    /// `TextPrinterParser`: one of the names (longest first).
    Text {
        field: Field,
        names: &'static [(&'static str, i64)],
    },
    /// `OffsetIdPrinterParser` with a `+HH...` pattern: `text` for a zero offset, else a sign
    /// and two-digit hours, then minutes and seconds (each `0`: none, `1`: optional, `2`:
    /// required), after colons with `colon`.
    Offset {
        zero: &'static str,
        colon: bool,
        minutes: u8,
        seconds: u8,
    },
}

const SHORT_MONTHS: [(&str, i64); 12] = [
    ("Jan", 1),
    ("Feb", 2),
    ("Mar", 3),
    ("Apr", 4),
    ("May", 5),
    ("Jun", 6),
    ("Jul", 7),
    ("Aug", 8),
    ("Sep", 9),
    ("Oct", 10),
    ("Nov", 11),
    ("Dec", 12),
];

const FULL_MONTHS: [(&str, i64); 12] = [
    ("September", 9),
    ("February", 2),
    ("November", 11),
    ("December", 12),
    ("January", 1),
    ("October", 10),
    ("August", 8),
    ("March", 3),
    ("April", 4),
    ("June", 6),
    ("July", 7),
    ("May", 5),
];

const AM_PM: [(&str, i64); 2] = [("AM", 0), ("PM", 1)];

/// `DateTimeFormatterBuilder`'s state: the printer-parsers, and which number the next
/// fixed-width one is adjacent to.
#[derive(Default)]
struct Builder {
    elements: Vec<Element>,
    base: Option<usize>,
}

impl Builder {
    /// `appendInternal`: ends adjacent value parsing.
    fn internal(&mut self, element: Element) {
        self.elements.push(element);
        self.base = None;
    }

    fn literal(&mut self, text: &str) {
        self.internal(Element::Literal(text.chars().collect()));
    }

    /// `appendValue(NumberPrinterParser)`: a number of fixed width and no sign after another
    /// number reserves its digits from that one; any other becomes the one the next reserve from.
    fn value(&mut self, mut element: Element) {
        let (min, max, sign) = match &element {
            Element::Number { min, max, sign, .. } => (*min, *max, *sign),
            // A FractionPrinterParser is a NumberPrinterParser with SignStyle.NOT_NEGATIVE.
            Element::Fraction { min, max } => (*min, *max, SignStyle::NotNegative),
            _ => unreachable!("only numbers are values"),
        };
        match self.base {
            Some(base) if min == max && sign == SignStyle::NotNegative => {
                if let Element::Number { subsequent, .. } = &mut self.elements[base] {
                    *subsequent += max as i32;
                }
                set_fixed(&mut element);
                self.elements.push(element);
            }
            Some(base) => {
                set_fixed(&mut self.elements[base]);
                self.elements.push(element);
                self.base = Some(self.elements.len() - 1);
            }
            None => {
                self.elements.push(element);
                self.base = Some(self.elements.len() - 1);
            }
        }
    }

    fn number(&mut self, field: Field, min: usize, max: usize, sign: SignStyle) {
        self.value(Element::Number {
            field,
            min,
            max,
            sign,
            subsequent: 0,
            reduced: false,
        });
    }

    /// `appendFraction(NANO_OF_SECOND, 1, n, false)`: adjacent only with one digit.
    fn fraction(&mut self, n: usize) {
        let element = Element::Fraction { min: 1, max: n };
        if n == 1 {
            self.value(element);
        } else {
            self.internal(element);
        }
    }

    /// `appendPattern` of pieces read by the formatting side's pattern reader.
    fn pieces(&mut self, pattern: &str, pieces: Vec<Piece>) -> std::result::Result<(), String> {
        use SignStyle::*;
        for piece in pieces {
            match piece {
                Piece::Literal(text) => self.literal(&text),
                Piece::Year(2) => self.value(Element::Number {
                    field: Field::Year,
                    min: 2,
                    max: 2,
                    sign: NotNegative,
                    subsequent: 0,
                    reduced: true,
                }),
                Piece::Year(n) if n < 4 => self.number(Field::Year, n, 19, Normal),
                Piece::Year(n) => self.number(Field::Year, n, 19, ExceedsPad),
                Piece::Month(1) => self.number(Field::Month, 1, 19, Normal),
                Piece::Month(2) => self.number(Field::Month, 2, 2, NotNegative),
                Piece::Month(3) => self.internal(Element::Text {
                    field: Field::Month,
                    names: &SHORT_MONTHS,
                }),
                Piece::Month(_) => self.internal(Element::Text {
                    field: Field::Month,
                    names: &FULL_MONTHS,
                }),
                Piece::Day(n) => self.one_or_two(Field::DayOfMonth, n),
                Piece::DayOfYear(1) => self.number(Field::DayOfYear, 1, 19, Normal),
                Piece::DayOfYear(n) => self.number(Field::DayOfYear, n, 3, NotNegative),
                Piece::Hour(letter, n) => {
                    let field = match letter {
                        'H' => Field::HourOfDay,
                        'k' => Field::ClockHourOfDay,
                        'K' => Field::HourOfAmPm,
                        _ => Field::ClockHourOfAmPm,
                    };
                    self.one_or_two(field, n);
                }
                Piece::Minute(n) => self.one_or_two(Field::Minute, n),
                Piece::Second(n) => self.one_or_two(Field::Second, n),
                Piece::AmPm => self.internal(Element::Text {
                    field: Field::AmPm,
                    names: &AM_PM,
                }),
                Piece::Offset(letter, n) => {
                    // appendPattern's offsets: X and x as +HHmm, +HHMM, +HH:MM, +HHMMss,
                    // +HH:MM:ss (X: Z for zero, x: +00 and the like); Z as +HHMM, or +HH:MM:ss.
                    let (style, zero) = offset_style(letter, n);
                    let (minutes, seconds) = match style {
                        1 => (1, 0),
                        3 | 4 => (2, 0),
                        _ => (2, 1),
                    };
                    let colon = style.is_multiple_of(2);
                    self.internal(Element::Offset {
                        zero,
                        colon,
                        minutes,
                        seconds,
                    });
                }
                Piece::Fraction(_) | Piece::DayOfWeek(_) => {
                    // Spark refuses `E` for parsing; fractions come through `fraction`.
                    return Err(format!(
                        "pattern {pattern:?}: {piece:?} is not parsed natively"
                    ));
                }
            }
        }
        Ok(())
    }

    /// `d`, `H`, `m`... : one letter any number of digits (`SignStyle.NORMAL`), two exactly two.
    fn one_or_two(&mut self, field: Field, n: usize) {
        if n == 1 {
            self.number(field, 1, 19, SignStyle::Normal);
        } else {
            self.number(field, 2, 2, SignStyle::NotNegative);
        }
    }
}

fn set_fixed(element: &mut Element) {
    if let Element::Number { subsequent, .. } = element {
        *subsequent = -1;
    }
}

/// Java's `String.split` by a one-character regex: trailing empty strings dropped.
fn java_split(text: &str, at: char) -> Vec<&str> {
    let mut parts: Vec<&str> = text.split(at).collect();
    if parts.len() > 1 {
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        if parts == [""] {
            // "'''".split("'") is an empty array in Java: every piece was empty.
            parts.clear();
        }
    }
    parts
}

/// The parser Spark builds for `pattern`, or why it stays on Spark.
fn parse_pattern(pattern: &str) -> std::result::Result<Vec<Element>, String> {
    // Letters Spark or java.time reject, or whose parsing is not reproduced here, leave the
    // expression to Spark (which raises any error the pattern gives).
    for (i, part) in pattern.split('\'').enumerate() {
        if i % 2 == 0
            && let Some(c) = part
                .chars()
                .find(|c| c.is_ascii_alphabetic() && !"yMdDHkKhmsSaXxZ".contains(*c))
        {
            return Err(format!(
                "pattern {pattern:?}: the letter {c:?} is not parsed natively"
            ));
        }
    }
    let mut builder = Builder::default();
    if pattern.contains('S') {
        // createBuilderWithVarLengthSecondFraction.
        for (i, part) in java_split(pattern, '\'').into_iter().enumerate() {
            if part.is_empty() && i != 0 {
                builder.literal("'");
            } else if i % 2 == 0 {
                let mut rest = part;
                while !rest.is_empty() {
                    let prefix_end = rest.find('S').unwrap_or(rest.len());
                    let (prefix, tail) = rest.split_at(prefix_end);
                    let run = tail.len() - tail.trim_start_matches('S').len();
                    builder.pieces(pattern, parse_pattern_for(prefix, true)?)?;
                    if run > 9 {
                        return Err(format!(
                            "pattern {pattern:?}: a fraction of more than 9 digits"
                        ));
                    }
                    if run > 0 {
                        builder.fraction(run);
                    }
                    rest = &tail[run..];
                }
            } else {
                builder.literal(part);
            }
        }
    } else {
        builder.pieces(pattern, parse_pattern_for(pattern, true)?)?;
    }
    Ok(builder.elements)
}

/// Java's `Character.toUpperCase`/`toLowerCase` of one char (the simple case mappings).
fn simple_case(c: char, upper: bool) -> char {
    let mut mapped = if upper {
        c.to_uppercase().collect::<Vec<_>>()
    } else {
        c.to_lowercase().collect::<Vec<_>>()
    };
    match (c, mapped.len()) {
        ('\u{130}', _) if !upper => 'i',
        (_, 1) => mapped.pop().unwrap_or(c),
        _ => c,
    }
}

/// `DateTimeParseContext.charEqualsIgnoreCase`.
fn char_equals(a: char, b: char) -> bool {
    a == b
        || simple_case(a, true) == simple_case(b, true)
        || simple_case(a, false) == simple_case(b, false)
}

fn text_equals(text: &[char], at: usize, expected: &[char]) -> bool {
    at + expected.len() <= text.len()
        && expected
            .iter()
            .zip(&text[at..])
            .all(|(&e, &t)| char_equals(e, t))
}

fn digit(c: char) -> Option<u64> {
    c.to_digit(10).filter(|_| c.is_ascii_digit()).map(u64::from)
}

/// `DateTimeParseContext.setParsedField`: a field parsed again must have the same value.
fn set(values: &mut Values, field: Field, value: i64) -> Option<()> {
    match values[field as usize] {
        Some(old) if old != value => None,
        _ => {
            values[field as usize] = Some(value);
            Some(())
        }
    }
}

/// `NumberPrinterParser.parse` in strict mode: the position after the number, or `None`.
#[allow(clippy::too_many_arguments)]
fn parse_number(
    text: &[char],
    mut pos: usize,
    field: Field,
    min: usize,
    max: usize,
    sign: SignStyle,
    subsequent: i32,
    reduced: bool,
    values: &mut Values,
) -> Option<usize> {
    let first = *text.get(pos)?;
    let (mut negative, mut positive) = (false, false);
    // SignStyle.parse(positive, strict = true, fixedWidth).
    if first == '+' {
        if sign != SignStyle::ExceedsPad {
            return None;
        }
        positive = true;
        pos += 1;
    } else if first == '-' {
        if sign == SignStyle::NotNegative {
            return None;
        }
        negative = true;
        pos += 1;
    }
    let start = pos;
    let min_end = start + min;
    if min_end > text.len() {
        return None;
    }
    let mut max_width = max + subsequent.max(0) as usize;
    let mut total: u64 = 0;
    for pass in 0..2 {
        let max_end = (pos + max_width).min(text.len());
        total = 0;
        while pos < max_end {
            match digit(text[pos]) {
                Some(d) => {
                    // At most 19 digits count (the value of a longer run is not used).
                    total = total.wrapping_mul(10).wrapping_add(d);
                    pos += 1;
                }
                None if pos < min_end => return None,
                None => break,
            }
        }
        if subsequent > 0 && pass == 0 {
            // Too long, perhaps: again, leaving the numbers after this one their digits.
            let parsed = (pos - start) as i64;
            max_width = min.max((parsed - i64::from(subsequent)).max(0) as usize);
            pos = start;
        } else {
            break;
        }
    }
    let digits = pos - start;
    let value: i64 = if negative {
        if total == 0 {
            return None;
        }
        // BigInteger past 18 digits: more than 63 bits loses the last digit.
        if digits > 18 && total > 1 << 63 {
            total /= 10;
            pos -= 1;
        }
        (total as i64).wrapping_neg()
    } else {
        if sign == SignStyle::ExceedsPad {
            if positive && digits <= min {
                return None;
            }
            if !positive && digits > min {
                return None;
            }
        }
        if digits > 18 && total >= 1 << 63 {
            total /= 10;
            pos -= 1;
        }
        total as i64
    };
    // ReducedPrinterParser: two digits are a year from 2000 to 2099.
    let value = if reduced && pos - start == min && value >= 0 {
        2000 + value
    } else {
        value
    };
    set(values, field, value)?;
    Some(pos)
}

/// `FractionPrinterParser.parse` in strict mode, of the nanos.
fn parse_fraction(
    text: &[char],
    pos: usize,
    min: usize,
    max: usize,
    values: &mut Values,
) -> Option<usize> {
    if pos == text.len() {
        return if min > 0 { None } else { Some(pos) };
    }
    if pos + min > text.len() {
        return None;
    }
    let max_end = (pos + max).min(text.len());
    let mut end = pos;
    let mut total: i64 = 0;
    while end < max_end {
        match digit(text[end]) {
            Some(d) => {
                total = total * 10 + d as i64;
                end += 1;
            }
            None if end < pos + min => return None,
            None => break,
        }
    }
    let nanos = total * 10_i64.pow(9 - (end - pos) as u32);
    set(values, Field::Nano, nanos)?;
    Some(end)
}

/// `OffsetIdPrinterParser.parse` in strict mode: the zero text (case-insensitively), or a sign,
/// two-digit hours and what the pattern takes after them.
fn parse_offset(
    text: &[char],
    pos: usize,
    zero: &str,
    colon: bool,
    minutes: u8,
    seconds: u8,
    values: &mut Values,
) -> Option<usize> {
    if pos == text.len() {
        return None;
    }
    let zero: Vec<char> = zero.chars().collect();
    if text_equals(text, pos, &zero) {
        set(values, Field::Offset, 0)?;
        return Some(pos + zero.len());
    }
    let sign = match text[pos] {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    // Two digits (at most 59), after a colon where the pattern has them (not before hours).
    let two = |at: usize, with_colon: bool| -> Option<(i64, usize)> {
        let at = if with_colon {
            (text.get(at) == Some(&':')).then_some(at + 1)?
        } else {
            at
        };
        let (a, b) = (digit(*text.get(at)?)?, digit(*text.get(at + 1)?)?);
        let value = (a * 10 + b) as i64;
        (value <= 59).then_some((value, at + 2))
    };
    let (hours, mut end) = two(pos + 1, false)?;
    let mut total = hours * 3600;
    for (part, scale) in [(minutes, 60), (seconds, 1)] {
        if part == 0 {
            break;
        }
        match two(end, colon) {
            Some((value, next)) => {
                total += value * scale;
                end = next;
            }
            None if part == 2 => return None,
            None => break,
        }
    }
    // "Value out of range: Hour[0-23]..." (a DateTimeException).
    if hours > 23 {
        return None;
    }
    set(values, Field::Offset, sign * total)?;
    Some(end)
}

/// The fields `text` gives, parsed by `elements` (the whole text), or `None`.
fn parse_fields(elements: &[Element], text: &str) -> Option<Values> {
    let text: Vec<char> = text.chars().collect();
    let mut values: Values = [None; FIELDS];
    let mut pos = 0;
    for element in elements {
        pos = match element {
            Element::Literal(literal) => {
                if !text_equals(&text, pos, literal) {
                    return None;
                }
                pos + literal.len()
            }
            Element::Number {
                field,
                min,
                max,
                sign,
                subsequent,
                reduced,
            } => parse_number(
                &text,
                pos,
                *field,
                *min,
                *max,
                *sign,
                *subsequent,
                *reduced,
                &mut values,
            )?,
            Element::Fraction { min, max } => parse_fraction(&text, pos, *min, *max, &mut values)?,
            Element::Offset {
                zero,
                colon,
                minutes,
                seconds,
            } => parse_offset(&text, pos, zero, *colon, *minutes, *seconds, &mut values)?,
            Element::Text { field, names } => {
                let (name, value) = names
                    .iter()
                    .find(|(name, _)| text_equals(&text, pos, &name.chars().collect::<Vec<_>>()))?;
                set(&mut values, *field, *value)?;
                pos + name.chars().count()
            }
        };
    }
    (pos == text.len()).then_some(values)
}

/// `ChronoField.checkValidValue`.
fn valid(value: i64, field: Field) -> Option<i64> {
    let (lo, hi) = match field {
        Field::Year => (-999_999_999, 999_999_999),
        Field::Month => (1, 12),
        Field::DayOfMonth => (1, 31),
        Field::DayOfYear => (1, 366),
        Field::HourOfDay => (0, 23),
        Field::ClockHourOfDay => (1, 24),
        Field::HourOfAmPm => (0, 11),
        Field::ClockHourOfAmPm => (1, 12),
        Field::AmPm => (0, 1),
        Field::Minute | Field::Second => (0, 59),
        Field::Nano => (0, 999_999_999),
        Field::Offset => (-64_800, 64_800),
    };
    (lo..=hi).contains(&value).then_some(value)
}

fn is_time_based(field: Field) -> bool {
    !matches!(
        field,
        Field::Year | Field::Month | Field::DayOfMonth | Field::DayOfYear | Field::Offset
    )
}

/// `Parsed.updateCheckConflict` into `field`.
fn merge(values: &mut Values, field: Field, value: i64) -> Option<()> {
    match values[field as usize].replace(value) {
        Some(old) if old != value => None,
        _ => Some(()),
    }
}

/// A date's (year, month, day).
type Date = (i64, u32, u32);

/// `LocalDate.of`, valid dates only.
fn date_of(year: i64, month: i64, day: i64) -> Option<Date> {
    let (year, month, day) = (
        valid(year, Field::Year)?,
        valid(month, Field::Month)? as u32,
        valid(day, Field::DayOfMonth)? as u32,
    );
    (day <= days_in_month(year, month)).then_some((year, month, day))
}

/// The local date-time (days since 1970-01-01, nanos of the day) Spark takes from the parsed
/// `values`, or `None` where java.time or Spark throws a `DateTimeException`.
fn resolve(mut v: Values) -> Option<(i64, i64)> {
    // Parsed.resolveInstant: a resolved date and time with an offset make an instant, and
    // ZoneOffset.ofTotalSeconds refuses more than 18 hours.
    let offset = v[Field::Offset as usize];
    use Field::*;
    let has = |v: &Values, f: Field| v[f as usize].is_some();
    let take = |v: &mut Values, f: Field| v[f as usize].take();
    // IsoChronology.resolveDate in STRICT mode.
    let mut date: Option<Date> = None;
    if has(&v, Year) {
        if has(&v, Month) && has(&v, DayOfMonth) {
            let (y, m, d) = (
                take(&mut v, Year)?,
                take(&mut v, Month)?,
                take(&mut v, DayOfMonth)?,
            );
            date = Some(date_of(y, m, d)?);
        } else if has(&v, DayOfYear) {
            let y = valid(take(&mut v, Year)?, Year)?;
            let doy = valid(take(&mut v, DayOfYear)?, DayOfYear)?;
            let first = days_from_civil(y, 1, 1);
            let (yy, mm, dd) = crate::datetime::civil_from_days_wide(first + doy - 1);
            if yy != y {
                return None;
            }
            date = Some((yy, mm, dd));
        }
    }
    // Parsed.resolveTimeFields.
    if let Some(k) = take(&mut v, ClockHourOfDay) {
        valid(k, ClockHourOfDay)?;
        merge(&mut v, HourOfDay, if k == 24 { 0 } else { k })?;
    }
    if let Some(h) = take(&mut v, ClockHourOfAmPm) {
        valid(h, ClockHourOfAmPm)?;
        merge(&mut v, HourOfAmPm, if h == 12 { 0 } else { h })?;
    }
    if has(&v, AmPm) && has(&v, HourOfAmPm) {
        let ap = valid(take(&mut v, AmPm)?, AmPm)?;
        let hap = valid(take(&mut v, HourOfAmPm)?, HourOfAmPm)?;
        merge(&mut v, HourOfDay, ap * 12 + hap)?;
    }
    if let Some(n) = v[Nano as usize] {
        valid(n, Nano)?;
    }
    let time_of = |h: i64, m: i64, s: i64, n: i64| -> Option<i64> {
        Some(
            valid(h, HourOfDay)? * 3_600_000_000_000
                + valid(m, Minute)? * 60_000_000_000
                + valid(s, Second)? * 1_000_000_000
                + valid(n, Nano)?,
        )
    };
    let mut time: Option<i64> = None;
    if has(&v, HourOfDay) && has(&v, Minute) && has(&v, Second) && has(&v, Nano) {
        let (h, m, s, n) = (
            take(&mut v, HourOfDay)?,
            take(&mut v, Minute)?,
            take(&mut v, Second)?,
            take(&mut v, Nano)?,
        );
        time = Some(time_of(h, m, s, n)?);
    }
    // Parsed.resolveTimeLenient: an hour with what follows it defaulted, unless a later field
    // is there without an earlier one (then the fields stay as they are, unchecked).
    let mut check_rest = true;
    if time.is_none()
        && let Some(h) = v[HourOfDay as usize]
    {
        let (m, s, n) = (v[Minute as usize], v[Second as usize], v[Nano as usize]);
        if (m.is_none() && (s.is_some() || n.is_some()))
            || (m.is_some() && s.is_none() && n.is_some())
        {
            check_rest = false;
        } else {
            time = Some(time_of(h, m.unwrap_or(0), s.unwrap_or(0), n.unwrap_or(0))?);
            for f in [HourOfDay, Minute, Second, Nano] {
                v[f as usize] = None;
            }
        }
    }
    if check_rest {
        for (i, value) in v.iter().enumerate() {
            if let Some(value) = value {
                let field = FIELD_ORDER[i];
                if is_time_based(field) {
                    valid(*value, field)?;
                }
            }
        }
    }
    // Parsed.crossCheck: fields left over must agree with the date and the time.
    if let Some((y, m, d)) = date {
        let day_of_year = days_from_civil(y, m, d) - days_from_civil(y, 1, 1) + 1;
        for (field, actual) in [
            (Month, i64::from(m)),
            (DayOfMonth, i64::from(d)),
            (DayOfYear, day_of_year),
        ] {
            if take(&mut v, field).is_some_and(|parsed| parsed != actual) {
                return None;
            }
        }
    }
    if date.is_some() && time.is_some() && offset.is_some_and(|o| valid(o, Offset).is_none()) {
        return None;
    }
    if let Some(t) = time {
        let hour = t / 3_600_000_000_000;
        for (field, actual) in [(AmPm, hour / 12), (HourOfAmPm, hour % 12)] {
            if take(&mut v, field).is_some_and(|parsed| parsed != actual) {
                return None;
            }
        }
    }
    // Spark's toLocalDate and toLocalTime: what is missing defaulted, what is there in range.
    let get = |f: Field, default: i64| -> Option<i64> {
        match v[f as usize] {
            Some(value) => valid(value, f),
            None => Some(default),
        }
    };
    let (y, m, d) = match date {
        Some(date) => date,
        None if has(&v, DayOfYear) => {
            // The day of the year in the default year; a month or day given must agree.
            let year = get(Year, 1970)?;
            let doy = get(DayOfYear, 1)?;
            let (yy, mm, dd) =
                crate::datetime::civil_from_days_wide(days_from_civil(year, 1, 1) + doy - 1);
            if yy != year
                || get(Month, i64::from(mm))? != i64::from(mm)
                || get(DayOfMonth, i64::from(dd))? != i64::from(dd)
            {
                return None;
            }
            (yy, mm, dd)
        }
        None => date_of(get(Year, 1970)?, get(Month, 1)?, get(DayOfMonth, 1)?)?,
    };
    let time = match time {
        Some(t) => t,
        None => {
            let hour = if has(&v, HourOfDay) {
                get(HourOfDay, 0)?
            } else if has(&v, HourOfAmPm) {
                get(HourOfAmPm, 0)?
            } else if v[AmPm as usize] == Some(1) {
                12
            } else {
                0
            };
            time_of(hour, get(Minute, 0)?, get(Second, 0)?, get(Nano, 0)?)?
        }
    };
    debug_assert!((0..NANOS_PER_DAY).contains(&time));
    Some((days_from_civil(y, m, d), time))
}

/// [`Field`]s by their index in [`Values`].
const FIELD_ORDER: [Field; FIELDS] = [
    Field::Year,
    Field::Month,
    Field::DayOfMonth,
    Field::DayOfYear,
    Field::HourOfDay,
    Field::ClockHourOfDay,
    Field::HourOfAmPm,
    Field::ClockHourOfAmPm,
    Field::AmPm,
    Field::Minute,
    Field::Second,
    Field::Nano,
    Field::Offset,
];

/// What Spark makes of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Microseconds since the epoch (or, for a `TIMESTAMP_NTZ`, since 1970-01-01T00:00).
    Micros(i64),
    /// java.time throws a `DateTimeException`: null, or in ANSI mode Spark's error.
    Invalid,
    /// The microseconds overflow a long: Spark's `ArithmeticException`.
    Overflow,
}

/// The microseconds `Math.addExact(Math.multiplyExact(epochSecond, 1000000), microOfSecond)`
/// gives for the exact `micros`, or [`Parsed::Overflow`].
fn checked_micros(micros: Option<i128>) -> Parsed {
    let Some(micros) = micros else {
        return Parsed::Overflow;
    };
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    match (
        i64::try_from(seconds * MICROS_PER_SECOND),
        i64::try_from(micros),
    ) {
        (Ok(_), Ok(v)) => Parsed::Micros(v),
        _ => Parsed::Overflow,
    }
}

/// `text` parsed by `elements` into an instant in `zone` (Spark's `parse`), or with `zone`
/// `None`, into a local date-time (`parseWithoutTimeZone`).
fn parse(elements: &[Element], text: &str, zone: Option<&SparkZone>) -> Parsed {
    let Some(values) = parse_fields(elements, text) else {
        return Parsed::Invalid;
    };
    let offset = values[Field::Offset as usize];
    let Some((days, nanos)) = resolve(values) else {
        return Parsed::Invalid;
    };
    let local = i128::from(days) * MICROS_PER_DAY + i128::from(nanos / 1000);
    match (zone, offset) {
        // parseWithoutTimeZone: the local date-time, whatever the offset.
        (None, _) => checked_micros(Some(local)),
        // The text's offset instead of the session's zone (ZoneOffset.ofTotalSeconds: at most
        // 18 hours).
        (Some(_), Some(offset)) => match valid(offset, Field::Offset) {
            Some(o) => checked_micros(Some(local - i128::from(o) * MICROS_PER_SECOND)),
            None => Parsed::Invalid,
        },
        (Some(zone), None) => checked_micros(zone.utc_of_local(local).map(i128::from)),
    }
}

/// What a parse expression returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseOutput {
    /// `to_timestamp`: a `TIMESTAMP` (microseconds of an instant).
    Timestamp,
    /// `to_timestamp_ntz`: a `TIMESTAMP_NTZ`.
    TimestampNtz,
    /// `unix_timestamp`, `to_unix_timestamp`: the instant's microseconds / 10^6 (toward zero),
    /// a bigint.
    UnixSeconds,
}

impl ParseOutput {
    /// The name the plan message gives it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "timestamp" => Self::Timestamp,
            "timestamp_ntz" => Self::TimestampNtz,
            "unix_seconds" => Self::UnixSeconds,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp",
            Self::TimestampNtz => "timestamp_ntz",
            Self::UnixSeconds => "unix_seconds",
        }
    }
}

/// The marker of an error the JVM side replaces with Spark's own, by parsing the text again
/// with Spark's formatter (`NativeErrors.scala` reads it).
pub const REPARSE_MARKER: &str = "cinder-reparse-timestamp";

fn hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    crate::digest::push_hex(&mut out, text.as_bytes());
    out
}

/// A string parsed with a constant pattern (see the module docs).
#[derive(Debug)]
pub struct SparkParseTimestamp {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    elements: Vec<Element>,
    output: ParseOutput,
    /// Spark's `failOnError` (ANSI mode, not `try_to_timestamp`).
    fail_on_error: bool,
    /// The function Spark's error message suggests (`try_to_timestamp`...).
    suggested: String,
    zone_name: String,
    zone: SparkZone,
}

impl SparkParseTimestamp {
    /// `child` (strings) parsed with `pattern` in the zone `zone`; a plan error for a pattern
    /// not parsed natively.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        pattern: &str,
        zone: &str,
        output: ParseOutput,
        fail_on_error: bool,
        suggested: &str,
    ) -> crate::error::Result<Self> {
        let elements = parse_pattern(pattern).map_err(NativeError::plan)?;
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            elements,
            output,
            fail_on_error,
            suggested: suggested.to_owned(),
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }

    /// The error for `text`, which the JVM side turns into Spark's.
    fn reparse(&self, text: &str) -> DataFusionError {
        DataFusionError::Execution(format!(
            "{REPARSE_MARKER}:{}:{}:{}:{}:{}:{} (Spark's parser decides the error for \
             {text:?} with pattern {:?})",
            self.output.name(),
            self.fail_on_error,
            hex(&self.pattern),
            hex(&self.zone_name),
            hex(&self.suggested),
            hex(text),
            self.pattern,
        ))
    }

    fn micros(&self, text: &str) -> Result<Option<i64>> {
        let zone = (self.output != ParseOutput::TimestampNtz).then_some(&self.zone);
        match parse(&self.elements, text, zone) {
            Parsed::Micros(v) => Ok(Some(v)),
            Parsed::Invalid if !self.fail_on_error => Ok(None),
            Parsed::Invalid | Parsed::Overflow => Err(self.reparse(text)),
        }
    }
}

impl PartialEq for SparkParseTimestamp {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
            && self.output == other.output
            && self.fail_on_error == other.fail_on_error
            && self.suggested == other.suggested
            && self.zone_name == other.zone_name
            && self.child.eq(&other.child)
    }
}

impl Eq for SparkParseTimestamp {}

impl Hash for SparkParseTimestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pattern.hash(state);
        self.output.hash(state);
        self.fail_on_error.hash(state);
        self.zone_name.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkParseTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_parse_{}({}, {:?}, {}{})",
            self.output.name(),
            self.child,
            self.pattern,
            self.zone_name,
            if self.fail_on_error { ", ansi" } else { "" }
        )
    }
}

impl PhysicalExpr for SparkParseTimestamp {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(match self.output {
            ParseOutput::Timestamp => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ParseOutput::TimestampNtz => DataType::Timestamp(TimeUnit::Microsecond, None),
            ParseOutput::UnixSeconds => DataType::Int64,
        })
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let DataType::Utf8 = a.data_type() else {
                return internal_err!("spark_parse_timestamp of {}", a.data_type());
            };
            let micros = a
                .as_string::<i32>()
                .iter()
                .map(|s| match s {
                    None => Ok(None),
                    Some(text) => self.micros(text),
                })
                .collect::<Result<Vec<Option<i64>>>>()?;
            Ok(match self.output {
                ParseOutput::Timestamp => {
                    Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC"))
                        as ArrayRef
                }
                ParseOutput::TimestampNtz => Arc::new(TimestampMicrosecondArray::from(micros)),
                // Java's `/`: toward zero.
                ParseOutput::UnixSeconds => Arc::new(Int64Array::from(
                    micros
                        .into_iter()
                        .map(|m| m.map(|m| m / 1_000_000))
                        .collect::<Vec<_>>(),
                )),
            })
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
            elements: self.elements.clone(),
            output: self.output,
            fail_on_error: self.fail_on_error,
            suggested: self.suggested.clone(),
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_parse_{}(", self.output.name())?;
        self.child.fmt_sql(f)?;
        write!(f, ", {:?})", self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::unescape;

    fn expected(outcome: &str) -> Parsed {
        match outcome {
            "null" => Parsed::Invalid,
            "E:ArithmeticException" => Parsed::Overflow,
            number => Parsed::Micros(number.parse().expect(number)),
        }
    }

    /// Checks every case of `vectors` (see `tests/TimestampParseVectors.java`); how many.
    fn check(vectors: &str) -> usize {
        let mut zones = std::collections::HashMap::new();
        let mut failures = Vec::new();
        let mut count = 0;
        for line in vectors.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [zone, pattern, text, instant, local] = fields[..] else {
                panic!("malformed line {line:?}");
            };
            let zone = zones
                .entry(zone.to_owned())
                .or_insert_with(|| SparkZone::parse(zone).expect(zone));
            // (Side by side, the generator's letters can make a pattern not read natively,
            // such as ZZZZ, a localized offset: it stays on Spark.)
            let Ok(elements) = parse_pattern(pattern) else {
                continue;
            };
            let text = unescape(text);
            let got = (
                parse(&elements, &text, Some(zone)),
                parse(&elements, &text, None),
            );
            if got != (expected(instant), expected(local)) {
                failures.push(format!("{line}\n    native: {got:?}"));
            }
            count += 1;
        }
        assert!(
            failures.is_empty(),
            "{} of {count} differ from Spark's, the first:\n{}",
            failures.len(),
            failures[..failures.len().min(25)].join("\n")
        );
        count
    }

    fn local(pattern: &str, text: &str) -> Parsed {
        parse(&parse_pattern(pattern).unwrap(), text, None)
    }

    const DAY: i64 = 86_400_000_000;

    /// Cases whose results Spark 4.0.1 gives (UTC), each showing one rule.
    #[test]
    fn parses_like_spark() {
        let jan2 = 18_263 * DAY;
        assert_eq!(local("yyyy-MM-dd", "2020-01-02"), Parsed::Micros(jan2));
        // Adjacent value parsing: the year leaves the month and day their two digits each...
        assert_eq!(local("yyyyMMdd", "20200102"), Parsed::Micros(jan2));
        // ...but a fraction of up to three digits is not adjacent, so the year takes them too.
        assert_eq!(
            local("yyyyMMddHHmmssSSS", "20200102030405123"),
            Parsed::Invalid
        );
        assert_eq!(
            local("yyyy-MM-dd HH:mm:ss.SSS", "2020-01-02 03:04:05.12"),
            Parsed::Micros(jan2 + 11_045_120_000)
        );
        // Case-insensitive names and text; `yy` from 2000.
        assert_eq!(local("dd MMM yy", "02 jAN 20"), Parsed::Micros(jan2));
        assert_eq!(
            local("yyyy-MM-dd't'HH", "2020-01-02T00"),
            Parsed::Micros(jan2)
        );
        assert_eq!(local("h a", "12 am"), Parsed::Micros(0));
        assert_eq!(local("h a", "12 PM"), Parsed::Micros(12 * 3_600_000_000));
        // Without `a`, an hour of the half-day is the morning's.
        assert_eq!(local("hh", "12"), Parsed::Micros(0));
        // Strict: real dates, hours in range, four-digit years without a sign, `+` only before
        // more digits.
        assert_eq!(local("yyyy-MM-dd", "2019-02-29"), Parsed::Invalid);
        assert_eq!(local("HH", "24"), Parsed::Invalid);
        assert_eq!(local("yyyy", "12345"), Parsed::Invalid);
        assert_eq!(local("yyyy", "+2020"), Parsed::Invalid);
        assert_eq!(local("yyyy", "-0001"), Parsed::Micros(-719_893 * DAY));
        // The day of the year, in 1970 without a year; a month given must agree with it.
        assert_eq!(local("D", "32"), Parsed::Micros(31 * DAY));
        assert_eq!(local("D M", "32 1"), Parsed::Invalid);
        // The whole text, no more.
        assert_eq!(local("yyyy-MM-dd", "2020-01-02 "), Parsed::Invalid);
        // Spark's Math.multiplyExact.
        assert_eq!(local("yyyyyy", "300000"), Parsed::Overflow);
        let berlin = SparkZone::parse("Europe/Berlin").unwrap();
        let elements = parse_pattern("yyyy-MM-dd").unwrap();
        assert_eq!(
            parse(&elements, "2020-01-02", Some(&berlin)),
            Parsed::Micros(jan2 - 3_600_000_000)
        );
    }

    #[test]
    fn other_patterns_stay_on_spark() {
        for pattern in [
            "E",
            "yyyy-MM-dd EEE",
            "u",
            "G yyyy",
            "z",
            "VV",
            "ZZZZ",
            "O",
            "Q",
            "w",
            "[yyyy]",
        ] {
            assert!(parse_pattern(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn parses_as_sparks_parser() {
        let checked = check(include_str!("../tests/timestamp_parse_vectors.txt"));
        assert!(checked >= 4000);
        if let Ok(path) = std::env::var("CINDER_TIMESTAMP_PARSE_VECTORS") {
            let more = std::fs::read_to_string(&path).expect("CINDER_TIMESTAMP_PARSE_VECTORS");
            check(&more);
        }
    }
}
