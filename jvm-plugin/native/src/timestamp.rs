//! Spark's casts to timestamps.
//!
//! [`SparkZone`] is java.time's `ZoneId` as Spark's `getZoneId` makes it: fixed offsets
//! (`Z`, `+08:00`, `UTC+8`, `GMT-05:30`, `EST`), the short ids of `ZoneId.SHORT_IDS` and the
//! regions of the IANA database (`America/Los_Angeles`).
//!
//! [`SparkToTimestamp`] is `CAST(x AS TIMESTAMP)` and `CAST(x AS TIMESTAMP_NTZ)`:
//! - from a string: Spark's `stringToTimestamp` (`[+-]yyyy[-[m]m[-[d]d[ |T][h]h:[m]m[:[s]s
//!   [.fraction]][zone]]]`, or a time alone, which takes today's date in the zone; a zone in
//!   the string wins over the session's; a `TIMESTAMP_NTZ` ignores it);
//! - from a date: its midnight in the session's time zone;
//! - between `TIMESTAMP` and `TIMESTAMP_NTZ`: the local date-time in the session's time zone.
//!
//! A local date-time becomes an instant as `ZonedDateTime.of` does: in a gap (the clocks
//! jump forward) it moves forward by the gap's length, in an overlap (they fall back) it takes
//! the earlier offset. Both are the offset in force before the transition.

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::cast::{CastMode, days_of_date};
use crate::error::{NativeError, Result};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// chrono-tz lists each zone's transitions up to 2099; java.time applies the zone's last rules
/// for ever after.
pub const TABLE_LAST_YEAR: i32 = 2098;

/// No zone changed its rules before this year (local mean time until the 1800s): earlier
/// dates take this year's offset on the same day (a leap year, so every day exists).
const TABLE_FIRST_YEAR: i64 = 1200;

/// `ZoneId.SHORT_IDS`, as `ZoneId.of(id, SHORT_IDS)` reads them.
const SHORT_IDS: [(&str, &str); 28] = [
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
    ("EST", "-05:00"),
    ("MST", "-07:00"),
    ("HST", "-10:00"),
];

/// A time zone as java.time's `ZoneId`.
#[derive(Debug, Clone, Copy)]
pub enum SparkZone {
    /// A fixed offset from UTC, in seconds (`ZoneOffset`, or `UTC+8` and the like).
    Fixed(i32),
    /// A region of the IANA database.
    Region(Tz),
}

impl SparkZone {
    /// Spark's `getZoneId(id)`: `(+|-)h:` and a final `(+|-)hh:m` get their zero, then
    /// `ZoneId.of(id, ZoneId.SHORT_IDS)`. `None` for what java.time rejects (or a region
    /// chrono-tz does not know).
    pub fn parse(id: &str) -> Option<Self> {
        let id = spark_zone_padding(id);
        let id = SHORT_IDS
            .iter()
            .find(|(short, _)| *short == id)
            .map_or(id.as_str(), |(_, long)| long);
        if id.len() <= 1 || id.starts_with(['+', '-']) {
            return java_zone_offset(id).map(Self::Fixed);
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Some(Self::Fixed(0));
                }
                if rest.starts_with(['+', '-']) {
                    return java_zone_offset(rest).map(Self::Fixed);
                }
                break;
            }
        }
        // `ZoneRegion.checkName`, then the IANA database.
        let mut chars = id.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "~/._+-".contains(c));
        if !(first_ok && rest_ok) {
            return None;
        }
        Tz::from_str(id).ok().map(Self::Region)
    }

    /// [`Self::parse`] of a zone a plan names; a plan error for one it cannot read.
    pub fn of_plan(id: &str) -> Result<Self> {
        Self::parse(id)
            .ok_or_else(|| NativeError::plan(format!("time zone {id:?} is not known natively")))
    }

    /// The offset (seconds) at the instant `micros` (since the epoch), as java.time has it.
    pub fn offset_of_utc(&self, micros: i64) -> Option<i32> {
        self.offset_of_utc_wide(i128::from(micros))
    }

    /// [`Self::offset_of_utc`] of an instant that may be past a long (as java.time's
    /// `ZonedDateTime` holds them), within about 5.8 million years of 1970 (`None` beyond).
    pub(crate) fn offset_of_utc_wide(&self, micros: i128) -> Option<i32> {
        let zone = match self {
            Self::Fixed(seconds) => return Some(*seconds),
            Self::Region(zone) => zone,
        };
        let utc = match table_time(zone, micros)? {
            TableTime::At(utc) => utc,
            TableTime::Offset(offset) => return Some(offset),
        };
        Some(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    }

    /// The offset (seconds) that makes the local date-time `local_micros` (micros since
    /// 1970-01-01T00:00 local time, which may be past a long near its ends) an instant in this
    /// zone, as `ZonedDateTime.of`: in a gap or an overlap, the offset in force before the
    /// transition.
    fn offset_of_local(&self, local_micros: i128) -> Option<i32> {
        let zone = match self {
            Self::Fixed(seconds) => return Some(*seconds),
            Self::Region(zone) => zone,
        };
        let local = match table_time(zone, local_micros)? {
            TableTime::At(local) => local,
            TableTime::Offset(offset) => return Some(offset),
        };
        use chrono::LocalResult;
        match zone.offset_from_local_datetime(&local) {
            LocalResult::Single(offset) => Some(offset.fix().local_minus_utc()),
            // The clocks fell back: the earlier offset, the larger one.
            LocalResult::Ambiguous(a, b) => {
                Some(a.fix().local_minus_utc().max(b.fix().local_minus_utc()))
            }
            // The clocks jumped forward: the offset a day before (no zone changes twice a day).
            LocalResult::None => {
                let before = local.checked_sub_signed(chrono::Duration::days(1))?;
                Some(
                    zone.offset_from_utc_datetime(&before)
                        .fix()
                        .local_minus_utc(),
                )
            }
        }
    }

    /// The instant of the local date-time `local_micros` as `ZonedDateTime.truncatedTo`
    /// resolves it: in an overlap, the offset `preferred` if it is one of the two (else the
    /// earlier); in a gap, forward by its length.
    fn utc_of_local_preferring(&self, local_micros: i128, preferred: i32) -> Option<i64> {
        i64::try_from(self.utc_of_local_preferring_wide(local_micros, preferred)?).ok()
    }

    /// [`Self::utc_of_local_preferring`] (`ZonedDateTime.ofLocal` with a preferred offset) of
    /// a local date-time whose instant may be past a long, within about 5.8 million years of
    /// 1970.
    pub(crate) fn utc_of_local_preferring_wide(
        &self,
        local_micros: i128,
        preferred: i32,
    ) -> Option<i128> {
        let offset = match self {
            Self::Fixed(seconds) => *seconds,
            Self::Region(_) => {
                // `preferred` is valid for the local time if the instant it gives has it.
                let with_preferred = instant_wide(local_micros, preferred);
                if self.offset_of_utc_wide(with_preferred) == Some(preferred) {
                    preferred
                } else {
                    self.offset_of_local(local_micros)?
                }
            }
        };
        Some(instant_wide(local_micros, offset))
    }

    /// The instant (micros since the epoch) of the local date-time `local_micros` (micros
    /// since 1970-01-01T00:00 local time) in this zone, as `ZonedDateTime.of`; `None` past a
    /// long's range.
    pub fn utc_of_local(&self, local_micros: i128) -> Option<i64> {
        let offset = self.offset_of_local(local_micros)?;
        instant(local_micros, offset)
    }

    /// The instant of the start of the local day `days` (since 1970-01-01) in this zone, as
    /// `LocalDate.atStartOfDay(zone)`: midnight, or where midnight falls in a gap, the
    /// transition's instant (which `ZonedDateTime.of` would move past when the gap began
    /// before midnight, as Toronto's on 1919-03-30 at 23:30). `None` past a long's range.
    pub fn start_of_day(&self, days: i32) -> Option<i64> {
        let local = i128::from(days) * i128::from(MICROS_PER_DAY);
        let offset = self.offset_of_local(local)?;
        let moved = instant(local, offset)?;
        let after = self.offset_of_utc(moved)?;
        if after == offset {
            return Some(moved);
        }
        // A gap: the transition lies in (local - after, local - offset]; offsets change on
        // whole seconds, and only once there.
        let (mut lo, mut hi) = (instant(local, after)?, moved);
        while hi - lo > MICROS_PER_SECOND {
            let mid = lo + (hi - lo) / 2 / MICROS_PER_SECOND * MICROS_PER_SECOND;
            let mid = if mid <= lo {
                lo + MICROS_PER_SECOND
            } else {
                mid
            };
            if self.offset_of_utc(mid)? == after {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    /// The local date-time (micros since 1970-01-01T00:00 local time) of the instant `micros`
    /// in this zone (past a long's range near its ends).
    pub fn local_of_utc(&self, micros: i64) -> Option<i128> {
        let offset = self.offset_of_utc(micros)?;
        Some(i128::from(micros) + i128::from(offset) * i128::from(MICROS_PER_SECOND))
    }
}

/// The instant of the local date-time `local` at `offset` (seconds), if a long holds it.
fn instant(local: i128, offset: i32) -> Option<i64> {
    i64::try_from(instant_wide(local, offset)).ok()
}

/// The instant of the local date-time `local` at `offset` (seconds).
fn instant_wide(local: i128, offset: i32) -> i128 {
    local - i128::from(offset) * i128::from(MICROS_PER_SECOND)
}

/// Where chrono-tz's tables give a zone's offset at a date-time.
enum TableTime {
    /// At this date-time (the same date and time, in a year the tables cover).
    At(NaiveDateTime),
    /// The zone's offset no longer changes: this one.
    Offset(i32),
}

/// The date-time `micros` (since 1970-01-01T00:00, UTC or local) as chrono-tz's tables see
/// it. They cover `TABLE_FIRST_YEAR..=TABLE_LAST_YEAR` as java.time does: later years repeat
/// an equivalent year of the zone's last rules (or its last offset), and no zone changed
/// before `TABLE_FIRST_YEAR`.
fn table_time(zone: &Tz, micros: i128) -> Option<TableTime> {
    let day = i128::from(MICROS_PER_DAY);
    let (year, month, day_of_month) =
        crate::datetime::civil_from_days(i32::try_from(micros.div_euclid(day)).ok()?);
    let seconds = u32::try_from(micros.rem_euclid(day) / i128::from(MICROS_PER_SECOND)).ok()?;
    let year = if year > i64::from(TABLE_LAST_YEAR) {
        match last_fixed_offset(zone) {
            Some(offset) => return Some(TableTime::Offset(offset)),
            None => proxy_year(year)?,
        }
    } else if year < TABLE_FIRST_YEAR {
        TABLE_FIRST_YEAR as i32
    } else {
        i32::try_from(year).ok()?
    };
    let at = NaiveDate::from_ymd_opt(year, month, day_of_month)?.and_hms_opt(
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
    )?;
    Some(TableTime::At(at))
}

/// Spark's padding of a zone id before `ZoneId.of`: the first `(+|-)h:` becomes `(+|-)0h:`,
/// then a final `(+|-)hh:m` becomes `(+|-)hh:0m`.
fn spark_zone_padding(id: &str) -> String {
    let b = id.as_bytes();
    let mut id = id.to_owned();
    if let Some(i) = (0..b.len().saturating_sub(2))
        .find(|&i| matches!(b[i], b'+' | b'-') && b[i + 1].is_ascii_digit() && b[i + 2] == b':')
    {
        id.insert(i + 1, '0');
    }
    let b = id.as_bytes();
    let n = b.len();
    if n >= 5
        && matches!(b[n - 5], b'+' | b'-')
        && b[n - 4].is_ascii_digit()
        && b[n - 3].is_ascii_digit()
        && b[n - 2] == b':'
        && b[n - 1].is_ascii_digit()
    {
        id.insert(n - 1, '0');
    }
    id
}

/// `ZoneOffset.of(id)`: `Z`, `±h`, `±hh`, `±hhmm`, `±hh:mm`, `±hhmmss`, `±hh:mm:ss`, at most
/// 18 hours; the offset in seconds.
fn java_zone_offset(id: &str) -> Option<i32> {
    if id == "Z" {
        return Some(0);
    }
    let b = id.as_bytes();
    let two = |at: usize, after_colon: bool| -> Option<i32> {
        if after_colon && b.get(at.checked_sub(1)?) != Some(&b':') {
            return None;
        }
        let (h, l) = (*b.get(at)?, *b.get(at + 1)?);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| i32::from(h - b'0') * 10 + i32::from(l - b'0'))
    };
    let (hours, minutes, seconds) = match b.len() {
        2 => {
            let d = b[1];
            (d.is_ascii_digit().then(|| i32::from(d - b'0'))?, 0, 0)
        }
        3 => (two(1, false)?, 0, 0),
        5 => (two(1, false)?, two(3, false)?, 0),
        6 => (two(1, false)?, two(4, true)?, 0),
        7 => (two(1, false)?, two(3, false)?, two(5, false)?),
        9 => (two(1, false)?, two(4, true)?, two(7, true)?),
        _ => return None,
    };
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if hours > 18 || minutes > 59 || seconds > 59 {
        return None;
    }
    let total = hours * 3600 + minutes * 60 + seconds;
    (total <= 18 * 3600).then_some(sign * total)
}

/// The offset of a zone whose clocks no longer change in [`TABLE_LAST_YEAR`] (Morocco's
/// yearly changes end in 2087, say); `None` for a zone with daylight saving then.
fn last_fixed_offset(zone: &Tz) -> Option<i32> {
    let at = |m: u32| {
        NaiveDate::from_ymd_opt(TABLE_LAST_YEAR, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| zone.offset_from_utc_datetime(&t).fix().local_minus_utc())
    };
    (at(1) == at(7)).then(|| at(12)).flatten()
}

/// The latest year up to [`TABLE_LAST_YEAR`] that starts on the same weekday as `year` and
/// has as many days: zones' rules recur by date and weekday, so it has the same transitions.
fn proxy_year(year: i64) -> Option<i32> {
    let shape = |y: i64| {
        let days = i64::from(days_of_date(y, 1, 1)?);
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        Some(((days + 4).rem_euclid(7), leap))
    };
    let target = shape(year)?;
    (TABLE_LAST_YEAR - 27..=TABLE_LAST_YEAR)
        .rev()
        .find(|&y| shape(i64::from(y)) == Some(target))
}

/// What Spark's `parseTimestampString` reads from a string.
#[derive(Debug, Clone)]
pub struct ParsedTimestamp {
    /// Year, month, day, hour, minute, second, microsecond.
    pub fields: [i64; 7],
    /// The zone written in the string (`None` if none).
    pub zone: Option<SparkZone>,
    /// A time without a date.
    pub just_time: bool,
}

impl ParsedTimestamp {
    /// The local date-time as micros since 1970-01-01T00:00 (`date_days`: the date to use if
    /// the string has none), if it is one: `LocalDate.of` and `LocalTime.of`'s checks, then a
    /// long's range.
    pub fn local_micros(&self, date_days: Option<i32>) -> Option<i64> {
        let [year, month, day, hour, minute, second, micros] = self.fields;
        let days = if self.just_time {
            date_days?
        } else {
            days_of_date(year, month, day)?
        };
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let time = ((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + micros;
        i64::from(days)
            .checked_mul(MICROS_PER_DAY)?
            .checked_add(time)
    }
}

/// Spark's `parseTimestampString` of `text` (a line-by-line reading of it, quirks included);
/// `None` where Spark's segments are empty or its zone id does not parse.
pub fn spark_parse_timestamp(text: &[u8]) -> Option<ParsedTimestamp> {
    // `isWhitespaceOrISOControl` of each byte: ASCII controls, space and DEL.
    let trimmed = |b: u8| b <= b' ' || b == 0x7f;
    let start = text.iter().position(|&b| !trimmed(b))?;
    let end = text.iter().rposition(|&b| !trimmed(b))? + 1;
    let valid = |segment: usize, digits: u32| match segment {
        0 => (4..=6).contains(&digits),
        6 => true,
        7 => digits <= 2,
        _ => (1..=2).contains(&digits),
    };
    let mut segments: [i64; 9] = [1, 1, 1, 0, 0, 0, 0, 0, 0];
    let (mut i, mut value, mut digits) = (0_usize, 0_i64, 0_u32);
    let mut fraction_digits = 0;
    let mut just_time = false;
    let mut zone: Option<&[u8]> = None;
    let mut j = start;
    let mut year_sign = None;
    if text[j] == b'-' || text[j] == b'+' {
        year_sign = Some(if text[j] == b'-' { -1 } else { 1 });
        j += 1;
    }
    // Ends a segment: checks its digits, stores it and starts the next.
    macro_rules! next_segment {
        () => {{
            if !valid(i, digits) {
                return None;
            }
            segments[i] = value;
            (value, digits) = (0, 0);
            i += 1;
        }};
    }
    while j < end {
        let b = text[j];
        if b.is_ascii_digit() {
            if i == 6 {
                fraction_digits += 1;
            }
            // A fraction keeps 6 digits; longer segments are rejected by `valid` (so a
            // saturated value is never used).
            if i != 6 || digits < 6 {
                value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
            }
            digits += 1;
        } else if j == 0 && b == b'T' {
            // (Spark looks at the untrimmed string's first byte.)
            just_time = true;
            i += 3;
        } else if i < 2 {
            if b == b'-' {
                next_segment!();
            } else if i == 0 && b == b':' && year_sign.is_none() {
                just_time = true;
                i = 3;
                next_segment!();
            } else {
                return None;
            }
        } else if i == 2 {
            if b == b' ' || b == b'T' {
                next_segment!();
            } else {
                return None;
            }
        } else if i == 3 || i == 4 {
            if b == b':' {
                next_segment!();
            } else {
                return None;
            }
        } else if i == 5 || i == 6 {
            if b == b'.' && i == 5 {
                next_segment!();
            } else {
                next_segment!();
                zone = Some(&text[j..end]);
                j = end - 1;
            }
            if i == 6 && b != b'.' {
                i += 1;
            }
        } else if i < segments.len() && (b == b':' || b == b' ') {
            next_segment!();
        } else {
            return None;
        }
        j += 1;
    }
    if i >= segments.len() || !valid(i, digits) {
        return None;
    }
    segments[i] = value;
    while fraction_digits < 6 {
        segments[6] *= 10;
        fraction_digits += 1;
    }
    let zone = match zone {
        None => None,
        Some(id) => {
            // `String.trim` of the id, which is UTF-8 from a non-digit byte on.
            let id = std::str::from_utf8(id)
                .ok()?
                .trim_matches(|c: char| c <= ' ');
            Some(SparkZone::parse(id)?)
        }
    };
    segments[0] *= year_sign.unwrap_or(1);
    let mut fields = [0; 7];
    fields.copy_from_slice(&segments[..7]);
    Some(ParsedTimestamp {
        fields,
        zone,
        just_time,
    })
}

/// Spark's `stringToTimestamp(text, zone)`: micros since the epoch, or `None`. A time alone
/// takes today's date in the zone (`LocalDate.now(zone)`).
pub fn spark_string_to_timestamp(text: &[u8], session: &SparkZone) -> Option<i64> {
    let parsed = spark_parse_timestamp(text)?;
    let zone = parsed.zone.unwrap_or(*session);
    let today = if parsed.just_time {
        let now = chrono::Utc::now().timestamp_micros();
        Some(
            i32::try_from(
                zone.local_of_utc(now)?
                    .div_euclid(i128::from(MICROS_PER_DAY)),
            )
            .ok()?,
        )
    } else {
        None
    };
    zone.utc_of_local(i128::from(parsed.local_micros(today)?))
}

/// Spark's `stringToTimestampWithoutTimeZone(text, allowTimeZone = true)`: the local
/// date-time as micros, or `None` (also for a time alone); a zone in the string is ignored.
pub fn spark_string_to_timestamp_ntz(text: &[u8]) -> Option<i64> {
    let parsed = spark_parse_timestamp(text)?;
    if parsed.just_time {
        return None;
    }
    parsed.local_micros(None)
}

/// `v` rounded to 34 significant digits, half even (`MathContext.DECIMAL128`).
fn round_to_34_digits(v: i128) -> i128 {
    let digits = v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    if digits <= 34 {
        return v;
    }
    let unit = 10_i128.pow(digits - 34);
    let (q, r) = (v / unit, v % unit);
    let twice = r.unsigned_abs() * 2;
    let up = twice > unit.unsigned_abs() || (twice == unit.unsigned_abs() && q % 2 != 0);
    (q + if up { v.signum() } else { 0 }) * unit
}

/// What [`SparkToTimestamp`] converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    String,
    Date,
    /// An instant (`TIMESTAMP`), to a local date-time.
    Instant,
    /// A local date-time (`TIMESTAMP_NTZ`), to an instant.
    Local,
}

/// `CAST(child AS TIMESTAMP)` or `CAST(child AS TIMESTAMP_NTZ)` of a string, a date or the
/// other kind of timestamp (see the module docs).
#[derive(Debug)]
pub struct SparkToTimestamp {
    child: Arc<dyn PhysicalExpr>,
    source: Source,
    /// To a `TIMESTAMP_NTZ` (a local date-time); else to an instant.
    ntz: bool,
    mode: CastMode,
    /// The session's time zone as Spark named it.
    zone_name: String,
    zone: SparkZone,
}

impl SparkToTimestamp {
    /// The cast of `child`, of type `from`, to a timestamp (`ntz`: a `TIMESTAMP_NTZ`) in the
    /// session time zone `zone` (a Spark zone id).
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        from: &DataType,
        ntz: bool,
        zone: &str,
        mode: CastMode,
    ) -> Result<Self> {
        let source = match (from, ntz) {
            (DataType::Utf8, _) => Source::String,
            (DataType::Date32, _) => Source::Date,
            (DataType::Timestamp(TimeUnit::Microsecond, Some(_)), true) => Source::Instant,
            (DataType::Timestamp(TimeUnit::Microsecond, None), false) => Source::Local,
            _ => {
                return Err(NativeError::plan(format!(
                    "a cast from {from} to a timestamp{} is not native",
                    if ntz { "_ntz" } else { "" }
                )));
            }
        };
        let parsed = SparkZone::of_plan(zone)?;
        Ok(Self {
            child,
            source,
            ntz,
            mode,
            zone_name: zone.to_owned(),
            zone: parsed,
        })
    }

    fn target_name(&self) -> &'static str {
        if self.ntz {
            "TIMESTAMP_NTZ"
        } else {
            "TIMESTAMP"
        }
    }

    /// `value`, or where a long does not hold it, null (try mode) or Spark's
    /// `ArithmeticException`.
    fn or_overflow(&self, value: Option<i64>) -> datafusion::common::Result<Option<i64>> {
        match value {
            Some(v) => Ok(Some(v)),
            None if self.mode == CastMode::Try => Ok(None),
            None => Err(self.overflow()),
        }
    }

    fn overflow(&self) -> DataFusionError {
        // java.lang.Math.multiplyExact / addExact in `instantToMicros`.
        crate::error::java_arithmetic(
            "long overflow",
            format_args!(
                "a cast to {}: the value is out of a timestamp's range",
                self.target_name()
            ),
        )
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let micros: TimestampMicrosecondArray = match self.source {
            Source::String => {
                let strings = array.as_string::<i32>();
                strings
                    .iter()
                    .map(|s| {
                        let Some(text) = s else { return Ok(None) };
                        let value = if self.ntz {
                            spark_string_to_timestamp_ntz(text.as_bytes())
                        } else {
                            spark_string_to_timestamp(text.as_bytes(), &self.zone)
                        };
                        match value {
                            Some(v) => Ok(Some(v)),
                            None if self.mode == CastMode::Ansi => {
                                Err(DataFusionError::Execution(format!(
                                    "[CAST_INVALID_INPUT] The value '{text}' of the type \
                                     \"STRING\" cannot be cast to \"{}\" because it is \
                                     malformed. Correct the value as per the syntax, or change \
                                     its target type. Use `try_cast` to tolerate malformed \
                                     input and return NULL instead. SQLSTATE: 22018",
                                    self.target_name()
                                )))
                            }
                            None => Ok(None),
                        }
                    })
                    .collect::<datafusion::common::Result<_>>()?
            }
            Source::Date => array
                .as_primitive::<Date32Type>()
                .iter()
                .map(|d| {
                    let Some(d) = d else { return Ok(None) };
                    // `daysToMicros`: the start of the day (at UTC for a TIMESTAMP_NTZ).
                    let v = if self.ntz {
                        i64::from(d).checked_mul(MICROS_PER_DAY)
                    } else {
                        self.zone.start_of_day(d)
                    };
                    self.or_overflow(v)
                })
                .collect::<datafusion::common::Result<_>>()?,
            Source::Instant | Source::Local => array
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .map(|t| {
                    let Some(t) = t else { return Ok(None) };
                    let v = if self.source == Source::Instant {
                        self.zone
                            .local_of_utc(t)
                            .and_then(|local| i64::try_from(local).ok())
                    } else {
                        self.zone.utc_of_local(i128::from(t))
                    };
                    self.or_overflow(v)
                })
                .collect::<datafusion::common::Result<_>>()?,
        };
        Ok(Arc::new(if self.ntz {
            micros
        } else {
            micros.with_timezone("UTC")
        }))
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkToTimestamp {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && self.source == other.source
            && self.ntz == other.ntz
            && self.mode == other.mode
            && self.zone_name == other.zone_name
    }
}

impl Eq for SparkToTimestamp {}

impl Hash for SparkToTimestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.source.hash(state);
        self.ntz.hash(state);
        self.mode.hash(state);
        self.zone_name.hash(state);
    }
}

impl fmt::Display for SparkToTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = self.mode.suffix();
        write!(
            f,
            "spark_cast({} AS {}, {}{mode})",
            self.child,
            self.target_name(),
            self.zone_name
        )
    }
}

impl PhysicalExpr for SparkToTimestamp {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(if self.ntz {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        })
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        let parses = self.source == Source::String && self.mode != CastMode::Ansi;
        Ok(parses || self.mode == CastMode::Try || self.child.nullable(input_schema)?)
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
            source: self.source,
            ntz: self.ntz,
            mode: self.mode,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `CAST` between timestamps and numbers or booleans, as Spark's legacy rules (and, from a
/// timestamp, its ANSI ones):
/// - a timestamp to an integer: its seconds (`floorDiv`) if they fit, else null (legacy, try)
///   or `CAST_OVERFLOW` (ANSI); to a double or float: micros / 1e6; to a decimal: that
///   double's `Double.toString` digits (`crate::java_float`), rounded half up; to a boolean:
///   `!= 0`;
/// - an integer to a timestamp: seconds (`TimeUnit.SECONDS.toMicros`, which saturates); a
///   double or float: `(long) (v * 1e6)`, saturating (legacy) or `CAST_OVERFLOW` (ANSI), and
///   NaN and the infinities null (legacy) or `CAST_INVALID_INPUT` (ANSI), null in try mode; a
///   decimal: the micros toward zero, then the low 64 bits (`BigDecimal.longValue`); a
///   boolean: 1 or 0 micros.
#[derive(Debug)]
pub struct SparkTimestampNumberCast {
    child: Arc<dyn PhysicalExpr>,
    from: DataType,
    target: DataType,
    mode: CastMode,
    /// The session's time zone, for a timestamp in an error message.
    zone_name: String,
    zone: Option<SparkZone>,
}

impl SparkTimestampNumberCast {
    /// The cast of `child` (of type `from`) to `target`, if one is a timestamp (an instant)
    /// and the other a number or a boolean.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        from: &DataType,
        target: &DataType,
        mode: CastMode,
        zone: Option<&str>,
    ) -> Option<Self> {
        let timestamp =
            |t: &DataType| matches!(t, DataType::Timestamp(TimeUnit::Microsecond, Some(_)));
        let number = |t: &DataType| {
            t.is_integer()
                || matches!(
                    t,
                    DataType::Float32
                        | DataType::Float64
                        | DataType::Boolean
                        | DataType::Decimal128(..)
                )
        };
        ((timestamp(from) && number(target)) || (number(from) && timestamp(target))).then(|| Self {
            child,
            from: from.clone(),
            target: target.clone(),
            mode,
            zone_name: zone.unwrap_or("UTC").to_owned(),
            zone: SparkZone::parse(zone.unwrap_or("UTC")),
        })
    }

    fn overflow(&self, micros: i64) -> DataFusionError {
        let text = crate::datetime::spark_timestamp_string(micros, self.zone.as_ref())
            .unwrap_or_else(|| micros.to_string());
        DataFusionError::Execution(format!(
            "[CAST_OVERFLOW] The value TIMESTAMP '{text}' of the type \"TIMESTAMP\" cannot be cast \
             to \"{}\" due to an overflow. Use `try_cast` to tolerate overflow and return NULL \
             instead. SQLSTATE: 22003",
            crate::cast::spark_type_name(&self.target)
        ))
    }

    /// A timestamp's seconds in an integer type of `bits`, if they fit (else null, or
    /// `CAST_OVERFLOW` in ANSI mode).
    fn seconds(&self, micros: i64, bits: u32) -> datafusion::common::Result<Option<i64>> {
        let seconds = micros.div_euclid(MICROS_PER_SECOND);
        let shift = 64 - bits;
        Ok(match self.mode {
            _ if (seconds << shift) >> shift == seconds => Some(seconds),
            CastMode::Ansi => return Err(self.overflow(micros)),
            _ => None,
        })
    }

    /// `(long) (v * 1e6)` of a double: saturating (legacy); in ANSI mode Spark's errors for
    /// NaN, the infinities and what does not fit a long; null for those in try mode.
    fn double_micros(&self, v: f64) -> datafusion::common::Result<Option<i64>> {
        if !v.is_finite() {
            return match self.mode {
                CastMode::Ansi => Err(DataFusionError::Execution(format!(
                    "[CAST_INVALID_INPUT] The value {} of the type \"DOUBLE\" cannot be cast to \
                     \"TIMESTAMP\" because it is malformed. Correct the value as per the syntax, \
                     or change its target type. Use `try_cast` to tolerate malformed input and \
                     return NULL instead. SQLSTATE: 22018",
                    crate::java_float::java_double_string(v)
                ))),
                _ => Ok(None),
            };
        }
        let micros = v * MICROS_PER_SECOND as f64;
        // Spark's `DoubleExactNumeric.toLong`.
        let fits = micros.floor() <= i64::MAX as f64 && micros.ceil() >= i64::MIN as f64;
        match self.mode {
            CastMode::Legacy => Ok(Some(micros as i64)),
            _ if fits => Ok(Some(micros as i64)),
            CastMode::Ansi => Err(DataFusionError::Execution(format!(
                "[CAST_OVERFLOW] The value {}D of the type \"DOUBLE\" cannot be cast to \
                 \"BIGINT\" due to an overflow. Use `try_cast` to tolerate overflow and return \
                 NULL instead. SQLSTATE: 22003",
                crate::java_float::java_double_string(micros)
            ))),
            CastMode::Try => Ok(None),
        }
    }

    fn cast_timestamp(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        use datafusion::arrow::array::{
            BooleanArray, Float32Array, Int8Array, Int16Array, Int32Array, Int64Array,
        };
        let micros = array.as_primitive::<TimestampMicrosecondType>();
        let bits = match self.target {
            DataType::Int8 => 8,
            DataType::Int16 => 16,
            DataType::Int32 => 32,
            _ => 64,
        };
        let integers = || -> datafusion::common::Result<Vec<Option<i64>>> {
            micros
                .iter()
                .map(|t| t.map_or(Ok(None), |t| self.seconds(t, bits)))
                .collect()
        };
        let seconds = |t: i64| t as f64 / MICROS_PER_SECOND as f64;
        Ok(match &self.target {
            DataType::Int8 => Arc::new(
                integers()?
                    .into_iter()
                    .map(|v| v.map(|v| v as i8))
                    .collect::<Int8Array>(),
            ),
            DataType::Int16 => Arc::new(
                integers()?
                    .into_iter()
                    .map(|v| v.map(|v| v as i16))
                    .collect::<Int16Array>(),
            ),
            DataType::Int32 => Arc::new(
                integers()?
                    .into_iter()
                    .map(|v| v.map(|v| v as i32))
                    .collect::<Int32Array>(),
            ),
            DataType::Int64 => Arc::new(Int64Array::from(integers()?)),
            DataType::Float64 => {
                Arc::new(micros.unary::<_, datafusion::arrow::datatypes::Float64Type>(seconds))
                    as ArrayRef
            }
            DataType::Float32 => Arc::new(
                micros
                    .iter()
                    .map(|t| t.map(|t| seconds(t) as f32))
                    .collect::<Float32Array>(),
            ),
            DataType::Boolean => Arc::new(
                micros
                    .iter()
                    .map(|t| t.map(|t| t != 0))
                    .collect::<BooleanArray>(),
            ),
            DataType::Decimal128(precision, scale) => crate::cast::doubles_to_decimals(
                micros.iter().map(|t| t.map(seconds)),
                *precision,
                *scale,
                self.mode == CastMode::Ansi,
            )?,
            other => return datafusion::common::internal_err!("{self} to {other}"),
        })
    }

    fn cast_to_timestamp(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        use datafusion::arrow::compute::{CastOptions, cast_with_options};
        use datafusion::arrow::datatypes::{Decimal128Type, Float64Type, Int64Type};
        let micros: TimestampMicrosecondArray = match &self.from {
            DataType::Boolean => array
                .as_boolean()
                .iter()
                .map(|b| b.map(i64::from))
                .collect(),
            DataType::Float32 | DataType::Float64 => {
                let doubles =
                    cast_with_options(array, &DataType::Float64, &CastOptions::default())?;
                doubles
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|d| d.map_or(Ok(None), |d| self.double_micros(d)))
                    .collect::<datafusion::common::Result<_>>()?
            }
            DataType::Decimal128(_, scale) => {
                let scale = i32::from(*scale);
                array
                    .as_primitive::<Decimal128Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            // Scala's `BigDecimal * 1000000` keeps 34 significant digits
                            // (DECIMAL128, half even); then the micros toward zero, then
                            // their low 64 bits.
                            let v = round_to_34_digits(v);
                            let micros = if scale >= 6 {
                                v / 10_i128.pow((scale - 6) as u32)
                            } else {
                                v.wrapping_mul(10_i128.pow((6 - scale) as u32))
                            };
                            micros as i64
                        })
                    })
                    .collect()
            }
            _ => {
                let longs = cast_with_options(array, &DataType::Int64, &CastOptions::default())?;
                longs
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|s| s.map(|s| s.saturating_mul(MICROS_PER_SECOND)))
                    .collect()
            }
        };
        Ok(Arc::new(micros.with_timezone("UTC")))
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        if matches!(self.from, DataType::Timestamp(..)) {
            self.cast_timestamp(array)
        } else {
            self.cast_to_timestamp(array)
        }
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkTimestampNumberCast {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && self.from == other.from
            && self.target == other.target
            && self.mode == other.mode
            && self.zone_name == other.zone_name
    }
}

impl Eq for SparkTimestampNumberCast {}

impl Hash for SparkTimestampNumberCast {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.from.hash(state);
        self.target.hash(state);
        self.mode.hash(state);
        self.zone_name.hash(state);
    }
}

impl fmt::Display for SparkTimestampNumberCast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = self.mode.suffix();
        let target = match self.target {
            DataType::Timestamp(..) => "TIMESTAMP".to_owned(),
            ref t => crate::cast::spark_type_name(t),
        };
        write!(f, "spark_cast({} AS {target}{mode})", self.child)
    }
}

impl PhysicalExpr for SparkTimestampNumberCast {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.target.clone())
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        // NaN and infinities, decimal overflow and try mode make nulls.
        // (And a timestamp's seconds that do not fit a narrower integer.)
        let makes_nulls = self.mode == CastMode::Try
            || matches!(self.from, DataType::Float32 | DataType::Float64)
            || matches!(
                self.target,
                DataType::Decimal128(..) | DataType::Int8 | DataType::Int16 | DataType::Int32
            );
        Ok(makes_nulls || self.child.nullable(input_schema)?)
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
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A level of Spark's `date_trunc` and `trunc` (`DateTimeUtils.parseTruncLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TruncLevel {
    /// `MICROSECOND`.
    Microsecond,
    /// `MILLISECOND`.
    Millisecond,
    /// `SECOND`.
    Second,
    /// `MINUTE`.
    Minute,
    /// `HOUR`.
    Hour,
    /// `DAY`, `DD`.
    Day,
    /// `WEEK` (to Monday).
    Week,
    /// `MON`, `MONTH`, `MM`.
    Month,
    /// `QUARTER`.
    Quarter,
    /// `YEAR`, `YYYY`, `YY`.
    Year,
}

impl TruncLevel {
    /// The level Spark named (its `TRUNC_TO_*` constant's name, lower case).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "microsecond" => Self::Microsecond,
            "millisecond" => Self::Millisecond,
            "second" => Self::Second,
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "quarter" => Self::Quarter,
            "year" => Self::Year,
            _ => return None,
        })
    }
}

/// Spark's `truncDate`: the first day of `days`'s week (Monday), month, quarter or year.
fn trunc_days(days: i32, level: TruncLevel) -> Option<i32> {
    let (year, month, _) = crate::datetime::civil_from_days(days);
    match level {
        // `getNextDateForDayOfWeek(days - 7, MONDAY)`, with Java's int arithmetic.
        TruncLevel::Week => {
            let start = days.wrapping_sub(7);
            let ahead = (3_i32.wrapping_sub(start) % 7 + 7) % 7;
            Some(start.wrapping_add(1).wrapping_add(ahead))
        }
        TruncLevel::Month => days_of_date(year, i64::from(month), 1),
        TruncLevel::Quarter => days_of_date(year, i64::from((month - 1) / 3 * 3 + 1), 1),
        TruncLevel::Year => days_of_date(year, 1, 1),
        _ => None,
    }
}

/// `trunc(date, level)` (a date; null below a week) and `date_trunc(level, ts)` (a timestamp,
/// in the session's time zone), as Spark's `truncDate` and `truncTimestamp`: below a minute
/// on the instant itself; minutes, hours and days on the local date-time, keeping its offset
/// where the local time has two (`ZonedDateTime.truncatedTo`); weeks to years from the local
/// date's first day, at its start of day.
#[derive(Debug)]
pub struct SparkTrunc {
    child: Arc<dyn PhysicalExpr>,
    level: TruncLevel,
    zone_name: String,
    zone: SparkZone,
}

impl SparkTrunc {
    /// `level` of `child` (a date or a timestamp) in `zone`.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, level: TruncLevel, zone: &str) -> Result<Self> {
        let parsed = SparkZone::of_plan(zone)?;
        Ok(Self {
            child,
            level,
            zone_name: zone.to_owned(),
            zone: parsed,
        })
    }

    fn timestamp(&self, micros: i64) -> Option<i64> {
        let zone = &self.zone;
        // (Java's `micros - floorMod(micros, unit)` wraps at a long's minimum.)
        let unit = match self.level {
            TruncLevel::Microsecond => return Some(micros),
            TruncLevel::Millisecond => return Some(micros.wrapping_sub(micros.rem_euclid(1000))),
            TruncLevel::Second => {
                return Some(micros.wrapping_sub(micros.rem_euclid(MICROS_PER_SECOND)));
            }
            TruncLevel::Minute => 60 * MICROS_PER_SECOND,
            TruncLevel::Hour => 3600 * MICROS_PER_SECOND,
            TruncLevel::Day => MICROS_PER_DAY,
            level => {
                let local = zone.local_of_utc(micros)?;
                let days = i32::try_from(local.div_euclid(i128::from(MICROS_PER_DAY))).ok()?;
                return zone.start_of_day(trunc_days(days, level)?);
            }
        };
        let offset = zone.offset_of_utc(micros)?;
        let local = i128::from(micros) + i128::from(offset) * i128::from(MICROS_PER_SECOND);
        zone.utc_of_local_preferring(local - local.rem_euclid(i128::from(unit)), offset)
    }

    fn cast(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        use datafusion::arrow::array::Date32Array;
        match array.data_type() {
            DataType::Date32 => {
                let dates: Date32Array = array
                    .as_primitive::<Date32Type>()
                    .iter()
                    .map(|d| d.and_then(|d| trunc_days(d, self.level)))
                    .collect();
                Ok(Arc::new(dates))
            }
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
                let micros: TimestampMicrosecondArray = array
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .map(|t| match t {
                        None => Ok(None),
                        Some(t) => self.timestamp(t).map(Some).ok_or_else(|| {
                            crate::error::java_arithmetic(
                                "long overflow",
                                format_args!("date_trunc of timestamp {t} us"),
                            )
                        }),
                    })
                    .collect::<datafusion::common::Result<_>>()?;
                Ok(Arc::new(micros.with_timezone("UTC")))
            }
            other => datafusion::common::internal_err!("{self} of {other}"),
        }
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkTrunc {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && self.level == other.level
            && self.zone_name == other.zone_name
    }
}

impl Eq for SparkTrunc {}

impl Hash for SparkTrunc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.level.hash(state);
        self.zone_name.hash(state);
    }
}

impl fmt::Display for SparkTrunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_trunc({}, {:?}, {})",
            self.child, self.level, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkTrunc {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.child.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        // A date below a week's level is null.
        Ok(self.child.data_type(input_schema)? == DataType::Date32
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
            level: self.level,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `from_utc_timestamp(ts, zone)` and (`to_utc`) `to_utc_timestamp(ts, zone)` for a constant
/// zone: Spark's `convertTz`, which reads the instant's local date-time in one zone as a local
/// date-time in the other. From UTC: the local date-time of `ts` in `zone`, as an instant at UTC;
/// to UTC: `ts`'s UTC date-time as a local date-time in `zone` (`ZonedDateTime.of`: a gap moves
/// forward, an overlap takes the earlier offset). Past a long's microseconds, Spark's
/// `Math.multiplyExact` fails.
#[derive(Debug)]
pub struct SparkUtcConvert {
    child: Arc<dyn PhysicalExpr>,
    to_utc: bool,
    zone_name: String,
    zone: SparkZone,
}

impl SparkUtcConvert {
    /// The conversion of `child` (a timestamp) from UTC to `zone`, or (`to_utc`) to UTC.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, zone: &str, to_utc: bool) -> Result<Self> {
        Ok(Self {
            child,
            to_utc,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }

    fn name(&self) -> &'static str {
        if self.to_utc {
            "to_utc_timestamp"
        } else {
            "from_utc_timestamp"
        }
    }

    fn convert(&self, micros: i64) -> datafusion::common::Result<i64> {
        let converted = if self.to_utc {
            self.zone.utc_of_local(i128::from(micros))
        } else {
            self.zone
                .local_of_utc(micros)
                .and_then(|local| i64::try_from(local).ok())
        };
        converted.ok_or_else(|| {
            crate::error::java_arithmetic(
                "long overflow",
                format_args!(
                    "{}: the timestamp {micros} in {} is out of a timestamp's range",
                    self.name(),
                    self.zone_name
                ),
            )
        })
    }
}

impl PartialEq for SparkUtcConvert {
    fn eq(&self, other: &Self) -> bool {
        self.to_utc == other.to_utc
            && self.zone_name == other.zone_name
            && self.child.eq(&other.child)
    }
}

impl Eq for SparkUtcConvert {}

impl Hash for SparkUtcConvert {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_utc.hash(state);
        self.zone_name.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkUtcConvert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_{}({}, {})",
            self.name(),
            self.child,
            self.zone_name
        )
    }
}

impl PhysicalExpr for SparkUtcConvert {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.child.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| {
            let converted: TimestampMicrosecondArray = a
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .map(|m| m.map(|m| self.convert(m)).transpose())
                .collect::<datafusion::common::Result<_>>()?;
            Ok(Arc::new(converted.with_timezone("UTC")) as ArrayRef)
        })
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
            to_utc: self.to_utc,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Java's `Math.round(double)`: the nearest long, ties toward positive infinity, saturating.
pub(crate) fn java_round(a: f64) -> i64 {
    let floor = a.floor();
    (if a - floor >= 0.5 { floor + 1.0 } else { floor }) as i64
}

/// `months_between(t1, t2, roundOff)` in a time zone, as Spark's `DateTimeUtils.monthsBetween`:
/// whole months where the days of the month agree or both are their month's last, else the
/// months plus the difference of the days and the seconds into them over 31 days, then (with
/// `round_off`) rounded to 8 decimal places as `Math.round(x * 1e8) / 1e8`.
pub fn months_between(zone: &SparkZone, t1: i64, t2: i64, round_off: bool) -> Option<f64> {
    let day = |t: i64| -> Option<(i64, u32, u32, i64)> {
        let local = zone.local_of_utc(t)?;
        let days = i32::try_from(local.div_euclid(i128::from(MICROS_PER_DAY))).ok()?;
        let (year, month, day_of_month) = crate::datetime::civil_from_days(days);
        let to_end = crate::datetime::days_in_month(year, month) - day_of_month;
        // TimeUnit.MICROSECONDS.toSeconds: toward zero.
        let seconds = (t - zone.start_of_day(days)?) / 1_000_000;
        Some((year * 12 + i64::from(month), day_of_month, to_end, seconds))
    };
    let (months1, day1, to_end1, seconds1) = day(t1)?;
    let (months2, day2, to_end2, seconds2) = day(t2)?;
    // Spark's year * 12 + month are ints.
    let month_diff = (months1 as i32).wrapping_sub(months2 as i32) as f64;
    if day1 == day2 || (to_end1 == 0 && to_end2 == 0) {
        return Some(month_diff);
    }
    let days_diff = i64::from(day1 as i32 - day2 as i32);
    let seconds_diff = days_diff * 86_400 + seconds1 - seconds2;
    let diff = month_diff + seconds_diff as f64 / (31 * 86_400) as f64;
    Some(if round_off {
        java_round(diff * 1e8) as f64 / 1e8
    } else {
        diff
    })
}

/// [`months_between`] of two timestamps.
#[derive(Debug)]
pub struct SparkMonthsBetween {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    round_off: bool,
    zone_name: String,
    zone: SparkZone,
}

impl SparkMonthsBetween {
    /// `months_between(left, right, round_off)` in `zone`.
    pub fn try_new(
        left: Arc<dyn PhysicalExpr>,
        right: Arc<dyn PhysicalExpr>,
        round_off: bool,
        zone: &str,
    ) -> Result<Self> {
        Ok(Self {
            left,
            right,
            round_off,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }
}

impl PartialEq for SparkMonthsBetween {
    fn eq(&self, other: &Self) -> bool {
        self.round_off == other.round_off
            && self.zone_name == other.zone_name
            && self.left.eq(&other.left)
            && self.right.eq(&other.right)
    }
}

impl Eq for SparkMonthsBetween {}

impl Hash for SparkMonthsBetween {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.round_off.hash(state);
        self.zone_name.hash(state);
        self.left.hash(state);
        self.right.hash(state);
    }
}

impl fmt::Display for SparkMonthsBetween {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_months_between({}, {}, {}, {})",
            self.left, self.right, self.round_off, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkMonthsBetween {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Float64)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(self.left.nullable(input_schema)? || self.right.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let out: Float64Array = crate::unary::evaluate_binary_rows::<
            TimestampMicrosecondType,
            TimestampMicrosecondType,
            Float64Type,
        >(self, &self.left, &self.right, batch, |a, b| {
            months_between(&self.zone, a, b, self.round_off).ok_or_else(|| {
                DataFusionError::Execution(format!(
                    "months_between: a timestamp out of range ({a}, {b})"
                ))
            })
        })?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let [left, right] = crate::unary::two_children(&self, children)?;
        Ok(Arc::new(Self {
            left,
            right,
            round_off: self.round_off,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark's documented examples (UTC), and the month-end rule.
    #[test]
    fn months_between_as_spark() {
        let utc = SparkZone::parse("UTC").unwrap();
        let at = |s: &str| spark_string_to_timestamp(s.as_bytes(), &utc).unwrap();
        let t1 = at("1997-02-28 10:30:00");
        let t2 = at("1996-10-30");
        assert_eq!(months_between(&utc, t1, t2, true), Some(3.94959677));
        assert_eq!(
            months_between(&utc, t1, t2, false),
            Some(3.9495967741935485)
        );
        // Both on their month's last day: whole months, whatever the time.
        assert_eq!(
            months_between(&utc, at("2024-02-29 23:00"), at("2023-11-30 01:00"), true),
            Some(3.0)
        );
        assert_eq!(java_round(-0.5), 0);
        assert_eq!(java_round(2.5), 3);
        assert_eq!(java_round(-2.5), -2);
        assert_eq!(java_round(0.49999999999999994), 0);
    }

    fn micros(text: &str, zone: &str) -> Option<i64> {
        spark_string_to_timestamp(text.as_bytes(), &SparkZone::parse(zone).unwrap())
    }

    #[test]
    fn zone_ids_parse_as_javas() {
        let fixed = |id: &str| match SparkZone::parse(id) {
            Some(SparkZone::Fixed(s)) => Some(s),
            _ => None,
        };
        assert_eq!(fixed("Z"), Some(0));
        assert_eq!(fixed("UTC"), Some(0));
        assert_eq!(fixed("GMT"), Some(0));
        assert_eq!(fixed("UT"), Some(0));
        assert_eq!(fixed("+8"), Some(8 * 3600));
        assert_eq!(fixed("-08"), Some(-8 * 3600));
        assert_eq!(fixed("+0530"), Some(19_800));
        assert_eq!(fixed("+05:30"), Some(19_800));
        assert_eq!(fixed("-05:30:15"), Some(-19_815));
        assert_eq!(fixed("+053015"), Some(19_815));
        assert_eq!(fixed("+18:00"), Some(18 * 3600));
        assert_eq!(fixed("+18:01"), None);
        assert_eq!(fixed("+19"), None);
        assert_eq!(fixed("+05:60"), None);
        assert_eq!(fixed("+05-30"), None);
        // Spark pads `+h:mm` and `+hh:m`.
        assert_eq!(fixed("+8:00"), Some(8 * 3600));
        assert_eq!(fixed("+08:5"), Some(8 * 3600 + 300));
        assert_eq!(fixed("UTC+8"), Some(8 * 3600));
        assert_eq!(fixed("GMT-5:30"), Some(-19_800));
        assert_eq!(fixed("UT+01:00"), Some(3600));
        assert_eq!(fixed("EST"), Some(-5 * 3600));
        assert_eq!(fixed("HST"), Some(-10 * 3600));
        assert!(matches!(
            SparkZone::parse("PST"),
            Some(SparkZone::Region(_))
        ));
        assert!(matches!(
            SparkZone::parse("America/Los_Angeles"),
            Some(SparkZone::Region(_))
        ));
        assert!(matches!(
            SparkZone::parse("GMT0"),
            Some(SparkZone::Region(_))
        ));
        for bad in [
            "",
            "A",
            "+",
            "UTC+",
            "UTC8",
            "america/los_angeles",
            "Mars/Base",
            "1abc",
        ] {
            assert!(SparkZone::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn strings_parse_as_sparks_timestamps() {
        let utc = |text: &str| micros(text, "UTC");
        let at = |y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64| {
            i64::from(days_of_date(y, mo, d).unwrap()) * MICROS_PER_DAY
                + ((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND
                + us
        };
        assert_eq!(utc("2020-01-01"), Some(at(2020, 1, 1, 0, 0, 0, 0)));
        assert_eq!(utc("2020"), Some(at(2020, 1, 1, 0, 0, 0, 0)));
        assert_eq!(utc("2020-7"), Some(at(2020, 7, 1, 0, 0, 0, 0)));
        assert_eq!(utc(" 2020-7-4 \n"), Some(at(2020, 7, 4, 0, 0, 0, 0)));
        assert_eq!(utc("2020-07-04 1"), Some(at(2020, 7, 4, 1, 0, 0, 0)));
        assert_eq!(utc("2020-07-04T12:3"), Some(at(2020, 7, 4, 12, 3, 0, 0)));
        assert_eq!(
            utc("2020-07-04 12:34:56.7"),
            Some(at(2020, 7, 4, 12, 34, 56, 700_000))
        );
        // Digits past the sixth are dropped, not rounded.
        assert_eq!(
            utc("2020-07-04 12:34:56.123456789"),
            Some(at(2020, 7, 4, 12, 34, 56, 123_456))
        );
        assert_eq!(
            utc("2020-07-04 12:34:56."),
            Some(at(2020, 7, 4, 12, 34, 56, 0))
        );
        // A zone in the string wins.
        assert_eq!(
            utc("2020-07-04 12:34:56Z"),
            Some(at(2020, 7, 4, 12, 34, 56, 0))
        );
        assert_eq!(
            utc("2020-07-04 12:34:56+08:00"),
            Some(at(2020, 7, 4, 4, 34, 56, 0))
        );
        assert_eq!(
            utc("2020-07-04 12:34:56.5 America/Los_Angeles"),
            Some(at(2020, 7, 4, 19, 34, 56, 500_000))
        );
        assert_eq!(
            utc("2020-07-04 12:34:56 UTC+1"),
            Some(at(2020, 7, 4, 11, 34, 56, 0))
        );
        assert_eq!(
            micros("2020-01-04 12:00:00", "America/Los_Angeles"),
            Some(at(2020, 1, 4, 20, 0, 0, 0))
        );
        assert_eq!(utc("+12345-01-01"), Some(at(12345, 1, 1, 0, 0, 0, 0)));
        assert_eq!(utc("-0044-03-15"), Some(at(-44, 3, 15, 0, 0, 0, 0)));
        for bad in [
            "",
            "  ",
            "20-01-01",
            "2020-13-01",
            "2020-02-30",
            "2020-01-01 24:00:00",
            "2020-01-01 12:60",
            "2020-01-01T",
            "2020-01-01 12:00Z",
            "2020-01-01 12:00:00 Mars/Base",
            "2020-01-01 12:00:00+19:00",
            "2020/01/01",
            "1234567-01-01",
            "300000-01-01",
            "abc",
        ] {
            assert_eq!(utc(bad), None, "{bad:?}");
        }
        // A time alone is today's in the zone.
        let today = chrono::Utc::now()
            .timestamp_micros()
            .div_euclid(MICROS_PER_DAY);
        let got = utc("12:34:56").unwrap();
        assert!(
            [today - 1, today, today + 1]
                .iter()
                .any(|d| got == d * MICROS_PER_DAY + at(1970, 1, 1, 12, 34, 56, 0)),
            "{got}"
        );
        assert_eq!(
            utc("T1:2:3").map(|v| v.rem_euclid(MICROS_PER_DAY)),
            Some(3_723_000_000)
        );
        // ... but not for a TIMESTAMP_NTZ, which ignores zones.
        assert_eq!(spark_string_to_timestamp_ntz(b"12:34:56"), None);
        assert_eq!(
            spark_string_to_timestamp_ntz(b"2020-07-04 12:34:56+08:00"),
            Some(at(2020, 7, 4, 12, 34, 56, 0))
        );
    }

    #[test]
    fn decimals_round_to_34_digits_as_scalas_big_decimal() {
        assert_eq!(round_to_34_digits(123), 123);
        let big = 12_345_678_901_234_567_890_123_456_789_012_345_678_i128;
        assert_eq!(
            round_to_34_digits(big),
            12_345_678_901_234_567_890_123_456_789_012_350_000
        );
        assert_eq!(
            round_to_34_digits(-big),
            -12_345_678_901_234_567_890_123_456_789_012_350_000
        );
        // 36 digits lose two, half even: ...1|50 goes up to 2, ...2|50 stays, ...2|51 goes up.
        let base = 10_i128.pow(35);
        assert_eq!(round_to_34_digits(base + 150), base + 200);
        assert_eq!(round_to_34_digits(base + 250), base + 200);
        assert_eq!(round_to_34_digits(base + 251), base + 300);
        assert_eq!(round_to_34_digits(base + 49), base);
        // 38 digits lose four: ...0|5000 stays even.
        let nine = 9 * 10_i128.pow(37);
        assert_eq!(round_to_34_digits(nine + 5_000), nine);
        assert_eq!(round_to_34_digits(nine + 15_000), nine + 20_000);
    }

    #[test]
    fn truncation_keeps_the_offset_in_an_overlap() {
        let utc = |y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64| {
            i64::from(days_of_date(y, mo, d).unwrap()) * MICROS_PER_DAY
                + ((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND
        };
        let trunc = |level, t| {
            SparkTrunc::try_new(
                Arc::new(datafusion::physical_expr::expressions::Column::new("t", 0)),
                level,
                "America/Los_Angeles",
            )
            .unwrap()
            .timestamp(t)
        };
        // 09:15:30 UTC is the second 01:15:30 (PST): its hour is 01:00 PST, 09:00 UTC (where
        // ZonedDateTime.of would take 01:00 PDT, 08:00 UTC).
        assert_eq!(
            trunc(TruncLevel::Hour, utc(2021, 11, 7, 9, 15, 30)),
            Some(utc(2021, 11, 7, 9, 0, 0))
        );
        assert_eq!(
            trunc(TruncLevel::Hour, utc(2021, 11, 7, 8, 15, 30)),
            Some(utc(2021, 11, 7, 8, 0, 0))
        );
        // The day starts at 00:00 PDT; the week on Monday 2021-11-01, the quarter on October 1.
        assert_eq!(
            trunc(TruncLevel::Day, utc(2021, 11, 7, 9, 15, 30)),
            Some(utc(2021, 11, 7, 7, 0, 0))
        );
        assert_eq!(
            trunc(TruncLevel::Week, utc(2021, 11, 7, 9, 15, 30)),
            Some(utc(2021, 11, 1, 7, 0, 0))
        );
        assert_eq!(
            trunc(TruncLevel::Quarter, utc(2021, 11, 7, 9, 15, 30)),
            Some(utc(2021, 10, 1, 7, 0, 0))
        );
        assert_eq!(trunc(TruncLevel::Millisecond, -1), Some(-1000));
        assert_eq!(trunc_days(0, TruncLevel::Week), Some(-3));
        assert_eq!(trunc_days(0, TruncLevel::Day), None);
    }

    #[test]
    fn local_times_resolve_as_zoned_date_time_of() {
        let la = SparkZone::parse("America/Los_Angeles").unwrap();
        let local = |y: i64, mo: i64, d: i64, h: i64, mi: i64| {
            i64::from(days_of_date(y, mo, d).unwrap()) * MICROS_PER_DAY
                + (h * 60 + mi) * 60 * MICROS_PER_SECOND
        };
        let hour = 3600 * MICROS_PER_SECOND;
        // Standard time, daylight time.
        assert_eq!(
            la.utc_of_local(i128::from(local(2021, 1, 1, 0, 0))),
            Some(local(2021, 1, 1, 8, 0))
        );
        assert_eq!(
            la.utc_of_local(i128::from(local(2021, 7, 1, 0, 0))),
            Some(local(2021, 7, 1, 7, 0))
        );
        // 2021-03-14 02:30 does not exist: 03:30 PDT.
        assert_eq!(
            la.utc_of_local(i128::from(local(2021, 3, 14, 2, 30))),
            Some(local(2021, 3, 14, 10, 30))
        );
        // 2021-11-07 01:30 happens twice: the earlier (PDT).
        assert_eq!(
            la.utc_of_local(i128::from(local(2021, 11, 7, 1, 30))),
            Some(local(2021, 11, 7, 8, 30))
        );
        // After chrono-tz's tables: java.time's last rules (PDT in July 2300).
        assert_eq!(
            la.utc_of_local(i128::from(local(2300, 7, 1, 0, 0))),
            Some(local(2300, 7, 1, 0, 0) + 7 * hour)
        );
        assert_eq!(
            la.utc_of_local(i128::from(local(2300, 1, 1, 0, 0))),
            Some(local(2300, 1, 1, 0, 0) + 8 * hour)
        );
        // And back: the local time of each instant.
        for t in [local(2021, 3, 14, 10, 30), local(2300, 7, 1, 7, 0), 0, -1] {
            let l = la.local_of_utc(t).unwrap();
            assert_eq!(la.utc_of_local(l), Some(t));
        }
        // Near a long's ends the local time is past them, and still converts back.
        let tokyo = SparkZone::parse("Asia/Tokyo").unwrap();
        for t in [i64::MAX, i64::MIN, i64::MAX - 1] {
            let l = tokyo.local_of_utc(t).unwrap();
            assert_eq!(tokyo.utc_of_local(l), Some(t));
        }
        // Far years: a region's first offset before 1200, a long's range.
        let early = la
            .utc_of_local(i128::from(local(-5000, 1, 1, 0, 0)))
            .unwrap();
        assert_eq!(early - local(-5000, 1, 1, 0, 0), 28_378 * MICROS_PER_SECOND);
        assert_eq!(
            SparkZone::Fixed(-3600).utc_of_local(i128::from(i64::MAX)),
            None
        );
        // Toronto's clocks went from 1919-03-30 23:30 EST to 00:30 EDT: the day started at the
        // transition, 04:30 UTC (ZonedDateTime.of would give 01:00 EDT).
        let toronto = SparkZone::parse("America/Toronto").unwrap();
        let day = days_of_date(1919, 3, 31).unwrap();
        assert_eq!(
            toronto.start_of_day(day),
            Some(
                i64::from(day) * MICROS_PER_DAY
                    + 4 * 3600 * MICROS_PER_SECOND
                    + 1800 * MICROS_PER_SECOND
            )
        );
        assert_eq!(
            la.start_of_day(days_of_date(2021, 3, 14).unwrap()),
            Some(local(2021, 3, 14, 8, 0))
        );
    }
}
