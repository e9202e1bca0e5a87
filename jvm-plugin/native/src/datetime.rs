//! Spark's date-time functions.
//!
//! [`SparkTimestampToDate`] is `CAST(ts AS DATE)`: the date of the instant in the session's
//! time zone (Spark's `DateTimeUtils.microsToDays`), or, for a `TIMESTAMP_NTZ` (no zone), the
//! date of the local date-time. Time zones are java.time's ids ([`SparkZone`]): fixed offsets
//! and regions of the IANA database (chrono-tz, as Arrow uses it; Spark uses the JDK's copy
//! of the same database). chrono-tz's tables end in 2099, where java.time applies each zone's
//! last rules for ever: later instants take their offset from an equivalent earlier year.
//!
//! The same expression takes `hour`, `minute` and `second` of a timestamp's local time
//! (Spark's `DateTimeUtils.getHours` and the like).
//!
//! [`SparkDatePart`] is `year`, `month` and `day` of a date over Spark's whole range of dates
//! (Java's `LocalDate`: years beyond chrono's ±262,143, which DataFusion's `date_part` makes
//! null), in the proleptic Gregorian calendar.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int32Array, StringArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int32Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::Result;
use crate::timestamp::SparkZone;

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The local date-time of `micros` (since the epoch, UTC) in `zone` as micros since
/// 1970-01-01T00:00 local time (past a long's range near its ends); in no zone, `micros`
/// itself.
fn local_micros(micros: i64, zone: Option<&SparkZone>) -> Option<i128> {
    match zone {
        None => Some(i128::from(micros)),
        Some(zone) => zone.local_of_utc(micros),
    }
}

/// The date of `micros` (since the epoch, UTC) in `zone`; in no zone, of the local
/// date-time.
pub fn date_of_micros(micros: i64, zone: Option<&SparkZone>) -> Option<i32> {
    i32::try_from(local_micros(micros, zone)?.div_euclid(i128::from(MICROS_PER_DAY))).ok()
}

/// The hour, minute and second of `micros` (since the epoch, UTC) in `zone`; in no zone, of
/// the local date-time.
pub fn time_of_micros(micros: i64, zone: Option<&SparkZone>) -> Option<(u32, u32, u32)> {
    local_time(local_micros(micros, zone)?)
}

/// The hour, minute and second of the local date-time `local` (micros).
fn local_time(local: i128) -> Option<(u32, u32, u32)> {
    let seconds = local.rem_euclid(i128::from(MICROS_PER_DAY)) / 1_000_000;
    let seconds = u32::try_from(seconds).ok()?;
    Some((seconds / 3600, seconds / 60 % 60, seconds % 60))
}

/// java.time's `ISO_LOCAL_DATE` as Spark prints dates: years past 9999 with a `+`, negative
/// years with a `-` and four digits at least.
fn date_string(year: i64, month: u32, day: u32) -> String {
    if year > 9999 {
        format!("+{year}-{month:02}-{day:02}")
    } else if year < 0 {
        format!("-{:04}-{month:02}-{day:02}", -year)
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// Spark's `CAST(date AS STRING)` of `days` since 1970-01-01, over its whole range (Arrow's
/// cast stops at chrono's years).
pub fn spark_date_string(days: i32) -> String {
    let (year, month, day) = civil_from_days(days);
    date_string(year, month, day)
}

/// Spark's `CAST(ts AS STRING)` (`FractionTimestampFormatter`: java.time's
/// `ISO_LOCAL_DATE`, ` HH:mm:ss`, then the fraction without its trailing zeros) of `micros` in
/// `zone` (none: the local date-time of a `TIMESTAMP_NTZ`). Years past 9999 get a `+`,
/// negative years a `-` and four digits at least.
pub fn spark_timestamp_string(micros: i64, zone: Option<&SparkZone>) -> Option<String> {
    use std::fmt::Write;
    let local = local_micros(micros, zone)?;
    let (year, month, day) =
        civil_from_days(i32::try_from(local.div_euclid(i128::from(MICROS_PER_DAY))).ok()?);
    let (hour, minute, second) = local_time(local)?;
    let mut text = date_string(year, month, day);
    write!(text, " {hour:02}:{minute:02}:{second:02}").ok()?;
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    Some(text)
}

/// What [`SparkTimestampToDate`] takes of a timestamp's local date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampPart {
    /// The date (`CAST(ts AS DATE)`).
    Date,
    /// `hour(ts)`, 0 to 23.
    Hour,
    /// `minute(ts)`, 0 to 59.
    Minute,
    /// `second(ts)`, 0 to 59 (the fraction dropped).
    Second,
    /// `CAST(ts AS STRING)`: `yyyy-MM-dd HH:mm:ss[.ffffff]` (see [`spark_timestamp_string`]).
    String,
}

/// `CAST(child AS DATE)` of a timestamp (see the module docs), or its `hour`, `minute` or
/// `second` in the same zone.
#[derive(Debug)]
pub struct SparkTimestampToDate {
    child: Arc<dyn PhysicalExpr>,
    part: TimestampPart,
    /// The session's time zone as Spark named it; none for a `TIMESTAMP_NTZ`.
    zone_name: Option<String>,
    zone: Option<SparkZone>,
}

impl SparkTimestampToDate {
    /// The date of each of `child`'s timestamps in `zone` (a Spark zone id such as
    /// `America/Los_Angeles` or `+08:00`); `None` for a `TIMESTAMP_NTZ` child.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, zone: Option<&str>) -> Result<Self> {
        let parsed = zone.map(SparkZone::of_plan).transpose()?;
        Ok(Self {
            child,
            part: TimestampPart::Date,
            zone_name: zone.map(str::to_owned),
            zone: parsed,
        })
    }

    /// The same, taking `part` of the local date-time instead of its date.
    pub fn with_part(self, part: TimestampPart) -> Self {
        Self { part, ..self }
    }

    fn dates(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let DataType::Timestamp(TimeUnit::Microsecond, _) = array.data_type() else {
            return datafusion::common::internal_err!("{self} of a {} value", array.data_type());
        };
        let micros = array.as_primitive::<TimestampMicrosecondType>();
        if self.part == TimestampPart::String {
            let strings = micros
                .iter()
                .map(|v| match v {
                    None => Ok(None),
                    Some(v) => spark_timestamp_string(v, self.zone.as_ref())
                        .map(Some)
                        .ok_or_else(|| {
                            datafusion::error::DataFusionError::Execution(format!(
                                "timestamp {v} us is out of range for a local time"
                            ))
                        }),
                })
                .collect::<datafusion::common::Result<StringArray>>()?;
            return Ok(Arc::new(strings));
        }
        if self.part != TimestampPart::Date {
            let parts = micros
                .iter()
                .map(|v| match v {
                    None => Ok(None),
                    Some(v) => time_of_micros(v, self.zone.as_ref())
                        .map(|(h, m, s)| {
                            Some(match self.part {
                                TimestampPart::Hour => h,
                                TimestampPart::Minute => m,
                                _ => s,
                            } as i32)
                        })
                        .ok_or_else(|| {
                            datafusion::error::DataFusionError::Execution(format!(
                                "timestamp {v} us is out of range for a local time"
                            ))
                        }),
                })
                .collect::<datafusion::common::Result<Int32Array>>()?;
            return Ok(Arc::new(parts));
        }
        let dates = micros
            .iter()
            .map(|v| match v {
                None => Ok(None),
                Some(v) => date_of_micros(v, self.zone.as_ref())
                    .map(Some)
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Execution(format!(
                            "timestamp {v} us is out of range for a date"
                        ))
                    }),
            })
            .collect::<datafusion::common::Result<Date32Array>>()?;
        Ok(Arc::new(dates))
    }
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkTimestampToDate {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.part == other.part && self.zone_name == other.zone_name
    }
}

impl Eq for SparkTimestampToDate {}

impl Hash for SparkTimestampToDate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.part.hash(state);
        self.zone_name.hash(state);
    }
}

impl fmt::Display for SparkTimestampToDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.part {
            TimestampPart::Date => "spark_timestamp_to_date",
            TimestampPart::Hour => "spark_hour",
            TimestampPart::Minute => "spark_minute",
            TimestampPart::Second => "spark_second",
            TimestampPart::String => "spark_timestamp_string",
        };
        match &self.zone_name {
            Some(zone) => write!(f, "{name}({}, {zone})", self.child),
            None => write!(f, "{name}({})", self.child),
        }
    }
}

impl PhysicalExpr for SparkTimestampToDate {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(match self.part {
            TimestampPart::Date => DataType::Date32,
            TimestampPart::String => DataType::Utf8,
            _ => DataType::Int32,
        })
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.dates(a))
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
            part: self.part,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A date as its days since 1970-01-01 (an int), or days as a date: the same 32 bits, for
/// `date_add`, `date_sub` and `datediff` (Arrow's casts between the two reject dates past
/// chrono's years).
#[derive(Debug)]
pub struct DateDays {
    child: Arc<dyn PhysicalExpr>,
    /// Days to a date; else a date to days.
    to_date: bool,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for DateDays {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.to_date == other.to_date
    }
}

impl Eq for DateDays {}

impl Hash for DateDays {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.to_date.hash(state);
    }
}

impl DateDays {
    /// `child` (a date) as days, or (`to_date`) `child` (an int) as a date.
    pub fn new(child: Arc<dyn PhysicalExpr>, to_date: bool) -> Self {
        Self { child, to_date }
    }

    fn target(&self) -> DataType {
        if self.to_date {
            DataType::Date32
        } else {
            DataType::Int32
        }
    }

    fn convert(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let source = if self.to_date {
            DataType::Int32
        } else {
            DataType::Date32
        };
        if array.data_type() != &source {
            return datafusion::common::internal_err!("{self} of a {} value", array.data_type());
        }
        let data = array
            .to_data()
            .into_builder()
            .data_type(self.target())
            .build()?;
        Ok(datafusion::arrow::array::make_array(data))
    }
}

impl fmt::Display for DateDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.to_date {
            "date_of_days"
        } else {
            "days_of_date"
        };
        write!(f, "{name}({})", self.child)
    }
}

impl PhysicalExpr for DateDays {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.target())
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.convert(a))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let child = crate::unary::only_child(&self, children)?;
        Ok(Arc::new(Self::new(child, self.to_date)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// The year, month and day of `days` since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i32) -> (i64, u32, u32) {
    civil_from_days_wide(i64::from(days))
}

/// [`civil_from_days`] of any day count a few days past an int's.
pub(crate) fn civil_from_days_wide(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Which part of a date [`SparkDatePart`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// The year (negative before year 1: year 0 is 1 BC).
    Year,
    /// The month, 1 to 12.
    Month,
    /// The day of the month, 1 to 31.
    Day,
    /// The quarter, 1 to 4.
    Quarter,
    /// `dayofweek`: Sunday 1 to Saturday 7.
    DayOfWeek,
    /// `weekday`: Monday 0 to Sunday 6.
    WeekDay,
    /// The day of the year, 1 to 366.
    DayOfYear,
    /// The ISO 8601 week of the week-based year, 1 to 53 (weeks start on Monday; week 1 has
    /// the year's first Thursday), as `IsoFields.WEEK_OF_WEEK_BASED_YEAR`.
    WeekOfYear,
}

/// `part` of the date `days` since 1970-01-01 (a Thursday).
fn date_part(days: i32, part: DatePart) -> i32 {
    let (year, month, day) = civil_from_days(days);
    let days = i64::from(days);
    let monday0 = (days + 3).rem_euclid(7);
    // (Howard Hinnant's days_from_civil of January 1, which may be just past an int.)
    let first_of = |year: i64| {
        let y = year - 1;
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + 306 - 719_468
    };
    // (Within ±5.9 million years: a date's days and fields fit an int.)
    match part {
        DatePart::Year => year as i32,
        DatePart::Month => month as i32,
        DatePart::Day => day as i32,
        DatePart::Quarter => ((month - 1) / 3 + 1) as i32,
        DatePart::DayOfWeek => ((days + 4).rem_euclid(7) + 1) as i32,
        DatePart::WeekDay => monday0 as i32,
        DatePart::DayOfYear => (days - first_of(year) + 1) as i32,
        DatePart::WeekOfYear => {
            // The week's Thursday decides its year.
            let thursday = days - monday0 + 3;
            let (iso_year, _, _) = civil_from_days_wide(thursday);
            ((thursday - first_of(iso_year)) / 7 + 1) as i32
        }
    }
}

/// A part of a date (`year`, `month`, `day`, `quarter`, ...), as an int (see the module docs).
#[derive(Debug)]
pub struct SparkDatePart {
    child: Arc<dyn PhysicalExpr>,
    part: DatePart,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkDatePart {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child) && self.part == other.part
    }
}

impl Eq for SparkDatePart {}

impl Hash for SparkDatePart {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.part.hash(state);
    }
}

impl SparkDatePart {
    /// `part` of `child` (a date).
    pub fn new(child: Arc<dyn PhysicalExpr>, part: DatePart) -> Self {
        Self { child, part }
    }

    fn parts(&self, array: &ArrayRef) -> datafusion::common::Result<ArrayRef> {
        let DataType::Date32 = array.data_type() else {
            return datafusion::common::internal_err!("{self} of a {} value", array.data_type());
        };
        let part = self.part;
        let out: Int32Array = array
            .as_primitive::<Date32Type>()
            .unary(|days| date_part(days, part));
        Ok(Arc::new(out))
    }
}

impl fmt::Display for SparkDatePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_date_part({:?}, {})", self.part, self.child)
    }
}

impl PhysicalExpr for SparkDatePart {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Int32)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| self.parts(a))
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
            part: self.part,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Spark's `dayname` (`Mon`) or (`month`) `monthname` (`Jan`) of a date: java.time's short
/// names in locale en-US.
#[derive(Debug)]
pub struct SparkDateName {
    child: Arc<dyn PhysicalExpr>,
    month: bool,
}

/// Spark's `next_day(date, dayOfWeek)` for a constant day: the first date after `date` on that
/// day (`getNextDateForDayOfWeek`, in ints that wrap as Java's).
#[derive(Debug)]
pub struct SparkNextDay {
    child: Arc<dyn PhysicalExpr>,
    /// Spark's day of the week: days after a Thursday (Thursday 0 ... Wednesday 6).
    day: i32,
}

impl SparkDateName {
    /// The day's (or `month`: the month's) name of `child`, a date.
    pub fn new(child: Arc<dyn PhysicalExpr>, month: bool) -> Self {
        Self { child, month }
    }

    fn name(&self) -> &'static str {
        if self.month { "monthname" } else { "dayname" }
    }
}

impl SparkNextDay {
    /// `next_day(child, name)`; `None` for a name Spark's `getDayOfWeekFromString` refuses.
    pub fn new(child: Arc<dyn PhysicalExpr>, name: &str) -> Option<Self> {
        let day = match name.to_uppercase().as_str() {
            "TH" | "THU" | "THURSDAY" => 0,
            "FR" | "FRI" | "FRIDAY" => 1,
            "SA" | "SAT" | "SATURDAY" => 2,
            "SU" | "SUN" | "SUNDAY" => 3,
            "MO" | "MON" | "MONDAY" => 4,
            "TU" | "TUE" | "TUESDAY" => 5,
            "WE" | "WED" | "WEDNESDAY" => 6,
            _ => return None,
        };
        Some(Self { child, day })
    }
}

impl PartialEq for SparkDateName {
    fn eq(&self, other: &Self) -> bool {
        self.month == other.month && self.child.eq(&other.child)
    }
}

impl Eq for SparkDateName {}

impl Hash for SparkDateName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.month.hash(state);
        self.child.hash(state);
    }
}

impl PartialEq for SparkNextDay {
    fn eq(&self, other: &Self) -> bool {
        self.day == other.day && self.child.eq(&other.child)
    }
}

impl Eq for SparkNextDay {}

impl Hash for SparkNextDay {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.day.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkDateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({})", self.name(), self.child)
    }
}

impl fmt::Display for SparkNextDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_next_day({}, {})", self.child, self.day)
    }
}

impl PhysicalExpr for SparkDateName {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| {
            let names: StringArray = a
                .as_primitive::<Date32Type>()
                .iter()
                .map(|d| {
                    d.map(|d| {
                        let full = if self.month {
                            crate::date_format::MONTHS[civil_from_days(d).1 as usize - 1]
                        } else {
                            crate::date_format::day_name(i64::from(d))
                        };
                        &full[..3]
                    })
                })
                .collect();
            Ok(Arc::new(names) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self::new(
            crate::unary::only_child(&self, children)?,
            self.month,
        )))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PhysicalExpr for SparkNextDay {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Date32)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| {
            let day = self.day;
            let next: Date32Array = a.as_primitive::<Date32Type>().unary(|start: i32| {
                let ahead = (day.wrapping_sub(1).wrapping_sub(start) % 7 + 7) % 7;
                start.wrapping_add(1).wrapping_add(ahead)
            });
            Ok(Arc::new(next) as ArrayRef)
        })
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
            day: self.day,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    fn day(y: i32, mo: u32, d: u32) -> i32 {
        crate::cast::days_of_date(y.into(), mo.into(), d.into()).unwrap()
    }

    #[test]
    fn weeks_and_days_as_java_time() {
        let d = |y: i64, m: i64, dd: i64| crate::cast::days_of_date(y, m, dd).unwrap();
        // 1970-01-01 was a Thursday; 2021-01-03 a Sunday in ISO week 53 of 2020.
        assert_eq!(date_part(0, DatePart::DayOfWeek), 5);
        assert_eq!(date_part(0, DatePart::WeekDay), 3);
        assert_eq!(date_part(d(2021, 1, 3), DatePart::DayOfWeek), 1);
        assert_eq!(date_part(d(2021, 1, 3), DatePart::WeekOfYear), 53);
        assert_eq!(date_part(d(2021, 1, 4), DatePart::WeekOfYear), 1);
        assert_eq!(date_part(d(2024, 12, 30), DatePart::WeekOfYear), 1);
        assert_eq!(date_part(d(2024, 12, 31), DatePart::DayOfYear), 366);
        assert_eq!(date_part(d(2023, 12, 31), DatePart::DayOfYear), 365);
        assert_eq!(date_part(d(2023, 11, 30), DatePart::Quarter), 4);
        assert_eq!(date_part(d(-44, 3, 15), DatePart::Quarter), 1);
        // The ends of an int's days (Spark's dates wrap there): java.time's answers.
        // (-5877641-06-23 and +5881580-07-11.)
        assert_eq!(date_part(i32::MIN, DatePart::DayOfYear), 174);
        assert_eq!(date_part(i32::MIN, DatePart::WeekOfYear), 26);
        assert_eq!(date_part(i32::MAX, DatePart::DayOfYear), 193);
        assert_eq!(date_part(i32::MAX, DatePart::WeekOfYear), 28);
        // (java.time: a Thursday, in week 11, day 75.)
        assert_eq!(date_part(d(-44, 3, 15), DatePart::WeekDay), 3);
        assert_eq!(date_part(d(-44, 3, 15), DatePart::WeekOfYear), 11);
        assert_eq!(date_part(d(-44, 3, 15), DatePart::DayOfYear), 75);
    }

    #[test]
    fn date_parts_over_sparks_range() {
        for (y, m, d) in [
            (1970, 1, 1),
            (1969, 12, 31),
            (2000, 2, 29),
            (1600, 3, 1),
            (1, 1, 1),
            (0, 12, 31),
            (-44, 3, 15),
            (9999, 12, 31),
            (1_234_567, 1, 1),
            (-5_000_000, 6, 30),
        ] {
            let days = crate::cast::days_of_date(y, m, d).unwrap();
            assert_eq!(civil_from_days(days), (y, m as u32, d as u32));
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(i32::MAX).0, 5_881_580);
        assert_eq!(civil_from_days(i32::MIN).0, -5_877_641);
    }

    #[test]
    fn local_times_in_the_sessions_zone() {
        let la = SparkZone::parse("America/Los_Angeles").unwrap();
        let lord_howe = SparkZone::parse("Australia/Lord_Howe").unwrap();
        // 2024-03-10 10:30:15 UTC: 03:30:15 PDT (DST began at 02:00 local, 10:00 UTC).
        assert_eq!(
            time_of_micros(micros(2024, 3, 10, 10, 30, 15), Some(&la)),
            Some((3, 30, 15))
        );
        assert_eq!(
            time_of_micros(micros(2024, 3, 10, 9, 30, 15), Some(&la)),
            Some((1, 30, 15))
        );
        // Lord Howe: +10:30 in winter (July), +11 in summer (January).
        assert_eq!(
            time_of_micros(micros(2024, 7, 1, 0, 0, 0), Some(&lord_howe)),
            Some((10, 30, 0))
        );
        assert_eq!(
            time_of_micros(micros(2024, 1, 1, 0, 0, 0), Some(&lord_howe)),
            Some((11, 0, 0))
        );
        // After chrono-tz's table (2099): the zone's rules go on, as in java.time.
        assert_eq!(
            time_of_micros(micros(2262, 4, 12, 12, 0, 0), Some(&la)),
            Some((5, 0, 0))
        );
        assert_eq!(
            time_of_micros(micros(2262, 1, 12, 12, 0, 0), Some(&la)),
            Some((4, 0, 0))
        );
        assert_eq!(
            time_of_micros(micros(2500, 1, 1, 0, 0, 0), Some(&lord_howe)),
            Some((11, 0, 0))
        );
        // Morocco: Ramadan changes listed year by year to 2087, then +01 for good.
        let casablanca = SparkZone::parse("Africa/Casablanca").unwrap();
        for year in [2100, 2101, 2105, 2200] {
            for month in 1..=12 {
                assert_eq!(
                    time_of_micros(micros(year, month, 15, 12, 0, 0), Some(&casablanca)),
                    Some((13, 0, 0)),
                    "{year}-{month}"
                );
            }
        }
        assert_eq!(
            date_of_micros(micros(2262, 4, 12, 7, 30, 0), Some(&la)),
            Some(day(2262, 4, 12))
        );
        // As strings (Spark's FractionTimestampFormatter).
        let text = |m: i64, z: Option<&SparkZone>| spark_timestamp_string(m, z).unwrap();
        assert_eq!(text(0, None), "1970-01-01 00:00:00");
        assert_eq!(text(-1, None), "1969-12-31 23:59:59.999999");
        assert_eq!(
            text(micros(2024, 2, 29, 12, 30, 0) + 123_400, None),
            "2024-02-29 12:30:00.1234"
        );
        assert_eq!(
            text(micros(2024, 3, 10, 10, 30, 15) + 500_000, Some(&la)),
            "2024-03-10 03:30:15.5"
        );
        assert_eq!(
            text(micros(12_345, 1, 2, 3, 4, 5), None),
            "+12345-01-02 03:04:05"
        );
        assert_eq!(
            text(micros(-44, 3, 15, 0, 0, 0), None),
            "-0044-03-15 00:00:00"
        );
        assert_eq!(text(micros(0, 1, 1, 0, 0, 0), None), "0000-01-01 00:00:00");
        // Beyond chrono's years (±262,143), as far as a long goes.
        assert_eq!(text(i64::MAX, Some(&la)), "+294247-01-09 20:00:54.775807");
        assert_eq!(text(i64::MIN, None), "-290308-12-21 19:59:05.224192");
        // Before the epoch, with a fraction (dropped), and in no zone.
        assert_eq!(time_of_micros(-1, None), Some((23, 59, 59)));
        assert_eq!(
            time_of_micros(micros(1969, 12, 31, 23, 59, 58) + 999_999, None),
            Some((23, 59, 58))
        );
    }

    #[test]
    fn dates_print_as_sparks() {
        let d = |y: i64, m: i64, dd: i64| crate::cast::days_of_date(y, m, dd).unwrap();
        assert_eq!(spark_date_string(0), "1970-01-01");
        assert_eq!(spark_date_string(d(-44, 3, 15)), "-0044-03-15");
        assert_eq!(spark_date_string(d(0, 12, 31)), "0000-12-31");
        assert_eq!(spark_date_string(d(12_345, 6, 30)), "+12345-06-30");
        // Past chrono's years, where Arrow's cast fails.
        assert_eq!(spark_date_string(106_751_991), "+294247-01-10");
        assert_eq!(spark_date_string(i32::MIN), "-5877641-06-23");
    }

    #[test]
    fn dates_in_the_sessions_zone() {
        let la = SparkZone::parse("America/Los_Angeles").unwrap();
        let kolkata = SparkZone::parse("Asia/Kolkata").unwrap();
        let plus_eight = SparkZone::parse("+08:00").unwrap();
        // Before DST (PST, -8): 2024-03-10 07:59:59 UTC is 23:59:59 on March 9.
        assert_eq!(
            date_of_micros(micros(2024, 3, 10, 7, 59, 59), Some(&la)),
            Some(day(2024, 3, 9))
        );
        assert_eq!(
            date_of_micros(micros(2024, 3, 10, 8, 0, 0), Some(&la)),
            Some(day(2024, 3, 10))
        );
        // After DST (PDT, -7): 2024-07-01 06:59:59 UTC is 23:59:59 on June 30.
        assert_eq!(
            date_of_micros(micros(2024, 7, 1, 6, 59, 59), Some(&la)),
            Some(day(2024, 6, 30))
        );
        assert_eq!(
            date_of_micros(micros(2024, 7, 1, 7, 0, 0), Some(&la)),
            Some(day(2024, 7, 1))
        );
        assert_eq!(
            date_of_micros(micros(1969, 12, 31, 18, 30, 0), Some(&kolkata)),
            Some(day(1970, 1, 1))
        );
        assert_eq!(
            date_of_micros(micros(1999, 12, 31, 16, 0, 0), Some(&plus_eight)),
            Some(day(2000, 1, 1))
        );
        // Before the epoch, and in no zone: the floor.
        assert_eq!(date_of_micros(-1, None), Some(-1));
        assert_eq!(date_of_micros(0, None), Some(0));
        assert_eq!(date_of_micros(MICROS_PER_DAY - 1, None), Some(0));
        assert_eq!(date_of_micros(-MICROS_PER_DAY, None), Some(-1));
        assert_eq!(date_of_micros(-MICROS_PER_DAY - 1, None), Some(-2));
        assert!(
            SparkTimestampToDate::try_new(
                Arc::new(datafusion::physical_expr::expressions::Column::new("t", 0)),
                Some("Not/AZone"),
            )
            .is_err()
        );
    }
}

/// Howard Hinnant's `days_from_civil`: the days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The days in `month` of `year` (proleptic Gregorian).
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year.rem_euclid(4) == 0
            && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) =>
        {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `java.time.LocalDate.ofEpochDay(days).plusMonths(months)` (the day kept, or the month's last
/// if it has fewer days), then, with `last_day`, the last day of that month, as days; None where
/// that does not fit an int (Spark's `MathUtils.toIntExact` fails there).
pub fn shift_months(days: i32, months: i64, last_day: bool) -> Option<i32> {
    i32::try_from(shift_months_wide(days, months, last_day)).ok()
}

/// [`shift_months`] as a long: `LocalDate` holds years to a billion, past an int's days.
pub fn shift_months_wide(days: i32, months: i64, last_day: bool) -> i64 {
    let (year, month, day) = civil_from_days(days);
    let total = year * 12 + i64::from(month) - 1 + months;
    let (year, month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let last = days_in_month(year, month);
    let day = if last_day { last } else { day.min(last) };
    days_from_civil(year, month, day)
}

/// Spark's `add_months(date, months)` and `last_day(date)` over dates as their days (ints):
/// see [`shift_months`].
#[derive(Debug)]
pub struct SparkMonthShift {
    days: Arc<dyn PhysicalExpr>,
    months: Option<Arc<dyn PhysicalExpr>>,
    last_day: bool,
}

impl PartialEq for SparkMonthShift {
    fn eq(&self, other: &Self) -> bool {
        self.days.eq(&other.days) && self.last_day == other.last_day && self.months == other.months
    }
}

impl Eq for SparkMonthShift {}

impl Hash for SparkMonthShift {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.days.hash(state);
        self.months.hash(state);
        self.last_day.hash(state);
    }
}

impl SparkMonthShift {
    /// `days` (an int) moved by `months` (an int; none: 0), then to its month's last day with
    /// `last_day`.
    pub fn new(
        days: Arc<dyn PhysicalExpr>,
        months: Option<Arc<dyn PhysicalExpr>>,
        last_day: bool,
    ) -> Self {
        Self {
            days,
            months,
            last_day,
        }
    }
}

impl fmt::Display for SparkMonthShift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.months, self.last_day) {
            (Some(m), false) => write!(f, "add_months_days({}, {m})", self.days),
            (Some(m), true) => write!(f, "last_day_days(add_months_days({}, {m}))", self.days),
            (None, _) => write!(f, "last_day_days({})", self.days),
        }
    }
}

impl PhysicalExpr for SparkMonthShift {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Int32)
    }

    fn nullable(&self, _input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let rows = batch.num_rows();
        let days = self.days.evaluate(batch)?.into_array(rows)?;
        let months = match &self.months {
            Some(m) => Some(m.evaluate(batch)?.into_array(rows)?),
            None => None,
        };
        let (Some(days), months) = (days.as_primitive_opt::<Int32Type>(), months.as_ref()) else {
            return datafusion::common::internal_err!("{self} of {}", days.data_type());
        };
        let months = match months {
            Some(m) => Some(m.as_primitive_opt::<Int32Type>().ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!("{self} by {}", m.data_type()))
            })?),
            None => None,
        };
        let mut out = Int32Array::builder(rows);
        for i in 0..rows {
            let month_count = match months {
                Some(m) if m.is_null(i) => None,
                Some(m) => Some(i64::from(m.value(i))),
                None => Some(0),
            };
            match (days.is_valid(i), month_count) {
                (true, Some(n)) => match shift_months(days.value(i), n, self.last_day) {
                    Some(d) => out.append_value(d),
                    // Spark's MathUtils.toIntExact.
                    None => return Err(crate::error::int_exact_overflow()),
                },
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        std::iter::once(&self.days)
            .chain(self.months.as_ref())
            .collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let expected = 1 + usize::from(self.months.is_some());
        if children.len() != expected {
            return datafusion::common::internal_err!("{self} takes {expected} children");
        }
        let months = if self.months.is_some() {
            children.pop()
        } else {
            None
        };
        let days = children.pop().expect("checked above");
        Ok(Arc::new(Self::new(days, months, self.last_day)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod month_tests {
    use super::*;

    #[test]
    fn months_move_as_java_time_does() {
        let day = |y, m, d| days_from_civil(y, m, d) as i32;
        assert_eq!(day(1970, 1, 1), 0);
        assert_eq!(day(2000, 3, 1), 11_017);
        for d in [-800_000, -1, 0, 59, 11_016, 19_782, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), i64::from(d));
        }
        assert_eq!(
            shift_months(day(2024, 1, 31), 1, false),
            Some(day(2024, 2, 29))
        );
        assert_eq!(
            shift_months(day(2023, 1, 31), 1, false),
            Some(day(2023, 2, 28))
        );
        assert_eq!(
            shift_months(day(2024, 3, 31), -13, false),
            Some(day(2023, 2, 28))
        );
        assert_eq!(
            shift_months(day(2024, 2, 29), 12, false),
            Some(day(2025, 2, 28))
        );
        assert_eq!(
            shift_months(day(-44, 3, 15), 24, false),
            Some(day(-42, 3, 15))
        );
        assert_eq!(
            shift_months(day(1900, 2, 3), 0, true),
            Some(day(1900, 2, 28))
        );
        assert_eq!(
            shift_months(day(2000, 2, 3), 0, true),
            Some(day(2000, 2, 29))
        );
        assert_eq!(
            shift_months(day(2000, 12, 3), 0, true),
            Some(day(2000, 12, 31))
        );
        assert_eq!(shift_months(0, i64::from(i32::MAX), false), None);
        assert_eq!(
            shift_months(i32::MAX, 0, true),
            None,
            "the month of day i32::MAX ends past it"
        );
    }
}
