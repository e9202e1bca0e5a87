//! Intervals added to dates and timestamps as Spark adds them: constant ones in
//! `ts + INTERVAL ...` (`TimeAdd`, `TimestampAddYMInterval`) and `date + INTERVAL ...`
//! (`DateAddYMInterval`, `DateAddInterval`), and `timestampadd(unit, quantity, ts)`, in
//! java.time's arithmetic.
//!
//! Spark's `DateTimeUtils.timestampAddInterval(micros, months, days, us, zone)` takes the
//! instant's `ZonedDateTime` in the zone, then `plusMonths(months)` and `plusDays(days)` (each
//! on the local date-time, resolved as `ZonedDateTime.ofLocal` with the offset in force as the
//! preferred one: a gap moves forward by its length, an overlap keeps the offset if it can),
//! then `plus(us, MICROS)` on the instant. A day-time interval (`timestampAddDayTime`) is its
//! whole days (Java's `/`, toward zero) then the rest in microseconds; a year-month interval
//! (`timestampAddMonths`), months alone. Timestamps without a time zone take UTC. Dates move
//! as `LocalDate.plusMonths(months).plusDays(days)`; with microseconds (legacy intervals,
//! outside ANSI mode), as the timestamp of the day's start in the session's zone, whose local
//! date is the result. Past a long's microseconds (`Math.multiplyExact` in `instantToMicros`)
//! Spark throws Java's `ArithmeticException`; past an int's days (`MathUtils.toIntExact` in
//! `localDateToDays`), its `ARITHMETIC_OVERFLOW`. The native side fails alike.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, Date32Array, Int64Array, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::datetime::shift_months_wide;
use crate::error::{NativeError, Result, int_exact_overflow, java_arithmetic};
use crate::timestamp::SparkZone;

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * MICROS_PER_SECOND;

/// The largest number of months (5 million years) added together with days: past it, the
/// month shift may leave the years the zone tables are read for before the days bring the
/// date back.
const MAX_MONTHS_WITH_DAYS: i64 = 12 * 5_000_000;

/// An interval as Spark's `CalendarInterval` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Months (year-month intervals).
    pub months: i32,
    /// Days.
    pub days: i64,
    /// Microseconds.
    pub micros: i64,
}

impl Interval {
    /// A day-time interval's microseconds as `timestampAddDayTime` splits them: whole days
    /// (toward zero), then the rest.
    pub fn day_time(micros: i64) -> Self {
        let per_day = MICROS_PER_DAY as i64;
        Self {
            months: 0,
            days: micros / per_day,
            micros: micros % per_day,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} months {} days {} microseconds",
            self.months, self.days, self.micros
        )
    }
}

/// `timestampAddInterval(micros, interval, zone)`: see the module's note. `None` where the
/// result is past a long's microseconds (Spark's `ArithmeticException`).
pub fn add_to_timestamp(zone: &SparkZone, micros: i64, interval: Interval) -> Option<i64> {
    let second = MICROS_PER_SECOND;
    let offset = zone.offset_of_utc(micros)?;
    let local = i128::from(micros) + i128::from(offset) * second;
    // plusMonths on the local date-time, resolved with the offset in force preferred.
    let day = i32::try_from(local.div_euclid(MICROS_PER_DAY)).ok()?;
    let time = local.rem_euclid(MICROS_PER_DAY);
    let shifted = i128::from(shift_months_wide(day, i64::from(interval.months), false));
    let instant = zone.utc_of_local_preferring_wide(shifted * MICROS_PER_DAY + time, offset)?;
    // plusDays on the local date-time of that instant (moved past a gap), alike.
    let offset = zone.offset_of_utc_wide(instant)?;
    let local = instant + i128::from(offset) * second + i128::from(interval.days) * MICROS_PER_DAY;
    let instant = zone.utc_of_local_preferring_wide(local, offset)?;
    // plus(us, MICROS) on the instant.
    i64::try_from(instant + i128::from(interval.micros)).ok()
}

/// `dateAddInterval` (and `dateAddMonths`): `LocalDate.plusMonths(months).plusDays(days)` of
/// `days`, `None` past an int (Spark's `Math.toIntExact`). The interval has no microseconds.
pub fn add_to_date(days: i32, interval: Interval) -> Option<i32> {
    let moved = shift_months_wide(days, i64::from(interval.months), false);
    i32::try_from(i128::from(moved) + i128::from(interval.days)).ok()
}

/// What the child is and the result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operand {
    /// A timestamp (with the session's zone, or without one: UTC).
    Timestamp,
    /// A date; an interval without microseconds moves the date alone.
    Date,
}

/// A constant interval added to a date or a timestamp (see the module's note).
#[derive(Debug)]
pub struct SparkIntervalAdd {
    child: Arc<dyn PhysicalExpr>,
    interval: Interval,
    operand: Operand,
    zone_name: String,
    zone: SparkZone,
}

impl SparkIntervalAdd {
    /// `child` (a date or a timestamp, with or without a zone) plus `interval`, in `zone` (the
    /// session's zone; `UTC` for timestamps without one).
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        interval: Interval,
        zone: &str,
        schema: &Schema,
    ) -> Result<Self> {
        let operand = match child.data_type(schema)? {
            DataType::Date32 => Operand::Date,
            DataType::Timestamp(TimeUnit::Microsecond, _) => Operand::Timestamp,
            other => {
                return Err(NativeError::plan(format!(
                    "an interval is added to a date or a timestamp, not to {other}"
                )));
            }
        };
        if interval.days != 0 && i64::from(interval.months).abs() > MAX_MONTHS_WITH_DAYS {
            return Err(NativeError::plan(format!(
                "an interval of {interval} (over 5 million years of months, and days) is not \
                 added natively"
            )));
        }
        Ok(Self {
            child,
            interval,
            operand,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }

    fn overflow(&self, what: &str, value: impl fmt::Display) -> DataFusionError {
        java_arithmetic(
            "long overflow",
            format_args!("{what} {value} plus {}", self.interval),
        )
    }

    fn add_timestamp(&self, micros: i64) -> datafusion::common::Result<i64> {
        add_to_timestamp(&self.zone, micros, self.interval)
            .ok_or_else(|| self.overflow("the timestamp (us)", micros))
    }

    fn add_date(&self, days: i32) -> datafusion::common::Result<i32> {
        if self.interval.micros == 0 {
            // MathUtils.toIntExact in localDateToDays.
            return add_to_date(days, self.interval).ok_or_else(int_exact_overflow);
        }
        // daysToMicros, timestampAddInterval, microsToDays.
        let start = self
            .zone
            .start_of_day(days)
            .ok_or_else(|| self.overflow("the date", days))?;
        let micros = self.add_timestamp(start)?;
        let local = self
            .zone
            .local_of_utc(micros)
            .ok_or_else(|| self.overflow("the date", days))?;
        i32::try_from(local.div_euclid(MICROS_PER_DAY)).map_err(|_| self.overflow("the date", days))
    }
}

impl PartialEq for SparkIntervalAdd {
    fn eq(&self, other: &Self) -> bool {
        self.interval == other.interval
            && self.operand == other.operand
            && self.zone_name == other.zone_name
            && self.child.eq(&other.child)
    }
}

impl Eq for SparkIntervalAdd {}

impl Hash for SparkIntervalAdd {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.interval.hash(state);
        self.operand.hash(state);
        self.zone_name.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkIntervalAdd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_interval_add({}, {}, {})",
            self.child, self.interval, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkIntervalAdd {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.child.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        crate::unary::evaluate_unary(&self.child, batch, |a| match self.operand {
            Operand::Date => {
                let days: Date32Array = a
                    .as_primitive::<Date32Type>()
                    .iter()
                    .map(|d| d.map(|d| self.add_date(d)).transpose())
                    .collect::<datafusion::common::Result<_>>()?;
                Ok(Arc::new(days) as ArrayRef)
            }
            Operand::Timestamp => {
                let input = a.as_primitive::<TimestampMicrosecondType>();
                let micros: TimestampMicrosecondArray = input
                    .iter()
                    .map(|t| t.map(|t| self.add_timestamp(t)).transpose())
                    .collect::<datafusion::common::Result<_>>()?;
                let micros = match input.timezone() {
                    Some(tz) => micros.with_timezone(tz),
                    None => micros,
                };
                Ok(Arc::new(micros) as ArrayRef)
            }
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
            interval: self.interval,
            operand: self.operand,
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// The start of the native error of a `timestampadd` that overflows, followed by
/// `micros:quantity:unit` (see [`SparkTimestampAdd`]).
pub const TIMESTAMPADD_OVERFLOW: &str = "cinder-timestampadd-overflow:";

/// A unit of Spark's `timestampadd(unit, quantity, ts)` and `timestampdiff(unit, start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateTimeUnit {
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
    /// `DAY` (and for `timestampadd`, `DAYOFYEAR`).
    Day,
    /// `WEEK`: 7 days.
    Week,
    /// `MONTH`.
    Month,
    /// `QUARTER`: 3 months.
    Quarter,
    /// `YEAR`: 12 months.
    Year,
}

impl DateTimeUnit {
    /// The unit `timestampdiff` names `unit` (in any case); `None` for one `timestampDiff`
    /// rejects (`DAYOFYEAR` among them).
    pub fn parse_for_diff(unit: &str) -> Option<Self> {
        Self::parse(unit).filter(|_| !unit.eq_ignore_ascii_case("DAYOFYEAR"))
    }

    /// The unit `timestampadd` names `unit` (in any case); `None` for one `timestampAdd` rejects.
    pub fn parse(unit: &str) -> Option<Self> {
        Some(match unit.to_ascii_uppercase().as_str() {
            "MICROSECOND" => Self::Microsecond,
            "MILLISECOND" => Self::Millisecond,
            "SECOND" => Self::Second,
            "MINUTE" => Self::Minute,
            "HOUR" => Self::Hour,
            "DAY" | "DAYOFYEAR" => Self::Day,
            "WEEK" => Self::Week,
            "MONTH" => Self::Month,
            "QUARTER" => Self::Quarter,
            "YEAR" => Self::Year,
            _ => return None,
        })
    }

    /// The microseconds of a unit of time; `None` for the units of the calendar.
    fn micros(self) -> Option<i128> {
        Some(match self {
            Self::Microsecond => 1,
            Self::Millisecond => 1_000,
            Self::Second => MICROS_PER_SECOND,
            Self::Minute => 60 * MICROS_PER_SECOND,
            Self::Hour => 3_600 * MICROS_PER_SECOND,
            _ => return None,
        })
    }

    /// `quantity` of this unit as `DateTimeUtils.timestampAdd` makes it an interval, or the
    /// message of the `ArithmeticException` its exact arithmetic throws (`Math.multiplyExact`
    /// of longs for the units of time, `Math.toIntExact` then `multiplyExact` of ints for days,
    /// weeks and months).
    pub fn interval(self, quantity: i64) -> std::result::Result<Interval, &'static str> {
        if let Some(per) = self.micros() {
            let per = i64::try_from(per).expect("an hour's microseconds fit a long");
            return quantity
                .checked_mul(per)
                .ok_or("long overflow")
                .map(|micros| Interval {
                    months: 0,
                    days: 0,
                    micros,
                });
        }
        let int = |per: i32| {
            i32::try_from(quantity)
                .ok()
                .and_then(|q| q.checked_mul(per))
                .ok_or("integer overflow")
        };
        let days = |per| {
            int(per).map(|days| Interval {
                months: 0,
                days: i64::from(days),
                micros: 0,
            })
        };
        let months = |per| {
            int(per).map(|months| Interval {
                months,
                days: 0,
                micros: 0,
            })
        };
        match self {
            Self::Day => days(1),
            Self::Week => days(7),
            Self::Month => months(1),
            Self::Quarter => months(3),
            Self::Year => months(12),
            Self::Microsecond | Self::Millisecond | Self::Second | Self::Minute | Self::Hour => {
                unreachable!("{self:?} is a unit of time, returned above")
            }
        }
    }
}

/// Spark's `timestampadd(unit, quantity, ts)`: [`DateTimeUnit::interval`] of each row's quantity (a
/// long), added to its timestamp as [`add_to_timestamp`] adds it, in the session's zone (UTC
/// for timestamps without one). Where that overflows, Spark raises `DATETIME_OVERFLOW`, whose
/// message shows the timestamp as a SQL literal in the session's zone: the native error carries
/// [`TIMESTAMPADD_OVERFLOW`] and the operands, from which the JVM side raises Spark's own
/// (`NativeErrors.scala`).
#[derive(Debug)]
pub struct SparkTimestampAdd {
    quantity: Arc<dyn PhysicalExpr>,
    child: Arc<dyn PhysicalExpr>,
    unit: DateTimeUnit,
    /// The unit as Spark's expression names it, for its error.
    unit_name: String,
    zone_name: String,
    zone: SparkZone,
}

impl SparkTimestampAdd {
    /// `quantity` (a long) of `unit` added to `child` (a timestamp) in `zone`.
    pub fn try_new(
        quantity: Arc<dyn PhysicalExpr>,
        child: Arc<dyn PhysicalExpr>,
        unit: &str,
        zone: &str,
    ) -> Result<Self> {
        let unit_name = unit.to_owned();
        let unit = DateTimeUnit::parse(unit).ok_or_else(|| {
            NativeError::plan(format!("timestampadd's unit {unit:?} is not known"))
        })?;
        Ok(Self {
            quantity,
            child,
            unit,
            unit_name,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }

    fn add(&self, quantity: i64, micros: i64) -> datafusion::common::Result<i64> {
        let overflow = |message: &str| {
            DataFusionError::Execution(format!(
                "{TIMESTAMPADD_OVERFLOW}{micros}:{quantity}:{} ({message})",
                self.unit_name
            ))
        };
        let interval = self.unit.interval(quantity).map_err(overflow)?;
        add_to_timestamp(&self.zone, micros, interval).ok_or_else(|| overflow("long overflow"))
    }
}

impl PartialEq for SparkTimestampAdd {
    fn eq(&self, other: &Self) -> bool {
        self.unit == other.unit
            && self.zone_name == other.zone_name
            && self.quantity.eq(&other.quantity)
            && self.child.eq(&other.child)
    }
}

impl Eq for SparkTimestampAdd {}

impl Hash for SparkTimestampAdd {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.unit.hash(state);
        self.zone_name.hash(state);
        self.quantity.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkTimestampAdd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_timestampadd({:?}, {}, {}, {})",
            self.unit, self.quantity, self.child, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkTimestampAdd {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.child.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(self.quantity.nullable(input_schema)? || self.child.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let added: TimestampMicrosecondArray =
            crate::unary::evaluate_binary_rows::<
                Int64Type,
                TimestampMicrosecondType,
                TimestampMicrosecondType,
            >(self, &self.quantity, &self.child, batch, |q, t| {
                self.add(q, t)
            })?;
        let added = match self.child.data_type(&batch.schema())? {
            DataType::Timestamp(_, Some(tz)) => added.with_timezone(tz),
            _ => added,
        };
        Ok(ColumnarValue::Array(Arc::new(added)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.quantity, &self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let [quantity, child] = crate::unary::two_children(&self, children)?;
        Ok(Arc::new(Self {
            quantity,
            child,
            unit: self.unit,
            unit_name: self.unit_name.clone(),
            zone_name: self.zone_name.clone(),
            zone: self.zone,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `ChronoUnit.between(start, end)` of two local date-times (micros since 1970-01-01T00:00),
/// as `LocalDateTime.until` counts: units of time through whole days and the rest (each
/// toward zero, `Math.multiplyExact` and `addExact` failing past a long: `None`); days, weeks,
/// months, quarters and years as `LocalDate.until` from the start's date to the end's, a day
/// less where the end's time of day has not reached the start's (more, backwards).
pub fn local_between(start: i128, end: i128, unit: DateTimeUnit) -> Option<i64> {
    let (start_day, start_time) = (
        start.div_euclid(MICROS_PER_DAY),
        start.rem_euclid(MICROS_PER_DAY),
    );
    let (end_day, end_time) = (
        end.div_euclid(MICROS_PER_DAY),
        end.rem_euclid(MICROS_PER_DAY),
    );
    if let Some(per) = unit.micros() {
        let (mut days, mut time) = (end_day - start_day, end_time - start_time);
        if days == 0 {
            return i64::try_from(time / per).ok();
        }
        if days > 0 {
            days -= 1;
            time += MICROS_PER_DAY;
        } else {
            days += 1;
            time -= MICROS_PER_DAY;
        }
        let whole = i64::try_from(days)
            .ok()?
            .checked_mul(i64::try_from(MICROS_PER_DAY / per).ok()?)?;
        return whole.checked_add(i64::try_from(time / per).ok()?);
    }
    let mut end_day = end_day;
    if end_day > start_day && end_time < start_time {
        end_day -= 1;
    } else if end_day < start_day && end_time > start_time {
        end_day += 1;
    }
    let days = i64::try_from(end_day - start_day).ok()?;
    // LocalDate.monthsUntil: proleptic months and days of the month packed as month * 32 + day.
    let months = || -> Option<i64> {
        let packed = |day: i128| -> Option<i64> {
            let (year, month, day) = crate::datetime::civil_from_days(i32::try_from(day).ok()?);
            Some((year * 12 + i64::from(month) - 1) * 32 + i64::from(day))
        };
        Some((packed(end_day)? - packed(start_day)?) / 32)
    };
    Some(match unit {
        DateTimeUnit::Day => days,
        DateTimeUnit::Week => days / 7,
        DateTimeUnit::Month => months()?,
        DateTimeUnit::Quarter => months()? / 3,
        _ => months()? / 12,
    })
}

/// Spark's `timestampdiff(unit, start, end)` (`DateTimeUtils.timestampDiff`): [`local_between`]
/// of the two timestamps' local date-times in the session's zone (UTC for timestamps without
/// one); past a long, Spark's `ArithmeticException`.
#[derive(Debug)]
pub struct SparkTimestampDiff {
    start: Arc<dyn PhysicalExpr>,
    end: Arc<dyn PhysicalExpr>,
    unit: DateTimeUnit,
    zone_name: String,
    zone: SparkZone,
}

impl SparkTimestampDiff {
    /// `unit`s from `start` to `end` (timestamps of one type) in `zone`.
    pub fn try_new(
        start: Arc<dyn PhysicalExpr>,
        end: Arc<dyn PhysicalExpr>,
        unit: &str,
        zone: &str,
    ) -> Result<Self> {
        let unit = DateTimeUnit::parse_for_diff(unit).ok_or_else(|| {
            NativeError::plan(format!("timestampdiff's unit {unit:?} is not known"))
        })?;
        Ok(Self {
            start,
            end,
            unit,
            zone_name: zone.to_owned(),
            zone: SparkZone::of_plan(zone)?,
        })
    }

    fn between(&self, start: i64, end: i64) -> datafusion::common::Result<i64> {
        let overflow = || {
            java_arithmetic(
                "long overflow",
                format_args!("{self} of {start} and {end} us"),
            )
        };
        let local = |micros: i64| self.zone.local_of_utc(micros).ok_or_else(overflow);
        local_between(local(start)?, local(end)?, self.unit).ok_or_else(overflow)
    }
}

impl PartialEq for SparkTimestampDiff {
    fn eq(&self, other: &Self) -> bool {
        self.unit == other.unit
            && self.zone_name == other.zone_name
            && self.start.eq(&other.start)
            && self.end.eq(&other.end)
    }
}

impl Eq for SparkTimestampDiff {}

impl Hash for SparkTimestampDiff {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.unit.hash(state);
        self.zone_name.hash(state);
        self.start.hash(state);
        self.end.hash(state);
    }
}

impl fmt::Display for SparkTimestampDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_timestampdiff({:?}, {}, {}, {})",
            self.unit, self.start, self.end, self.zone_name
        )
    }
}

impl PhysicalExpr for SparkTimestampDiff {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Int64)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(self.start.nullable(input_schema)? || self.end.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let between: Int64Array = crate::unary::evaluate_binary_rows::<
            TimestampMicrosecondType,
            TimestampMicrosecondType,
            Int64Type,
        >(self, &self.start, &self.end, batch, |s, e| {
            self.between(s, e)
        })?;
        Ok(ColumnarValue::Array(Arc::new(between)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.start, &self.end]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let [start, end] = crate::unary::two_children(&self, children)?;
        Ok(Arc::new(Self {
            start,
            end,
            unit: self.unit,
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
    use crate::datetime::days_from_civil;

    fn micros(y: i64, mo: u32, d: u32, h: i64, mi: i64, offset_hours: i64) -> i64 {
        let day = days_from_civil(y, mo, d);
        (day * 86_400 + h * 3600 + mi * 60 - offset_hours * 3600) * 1_000_000
    }

    fn zone(id: &str) -> SparkZone {
        SparkZone::parse(id).unwrap()
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn day_time_intervals_split_toward_zero() {
        assert_eq!(
            Interval::day_time(-(36 * HOUR)),
            Interval {
                months: 0,
                days: -1,
                micros: -12 * HOUR
            }
        );
    }

    #[test]
    fn days_keep_the_local_time_across_daylight_saving() {
        let la = zone("America/Los_Angeles");
        // 2024-03-09 12:00 PST plus a day is 2024-03-10 12:00 PDT: 23 hours later.
        let t = micros(2024, 3, 9, 12, 0, -8);
        let day = Interval {
            months: 0,
            days: 1,
            micros: 0,
        };
        assert_eq!(add_to_timestamp(&la, t, day), Some(t + 23 * HOUR));
        // 24 hours as a day-time interval of 1 day: the same.
        assert_eq!(
            add_to_timestamp(&la, t, Interval::day_time(24 * HOUR)),
            Some(t + 23 * HOUR)
        );
        // 23 hours: no whole day; the instant moves 23 hours.
        assert_eq!(
            add_to_timestamp(&la, t, Interval::day_time(23 * HOUR)),
            Some(t + 23 * HOUR)
        );
    }

    #[test]
    fn a_gap_moves_forward_and_an_overlap_keeps_the_offset() {
        let la = zone("America/Los_Angeles");
        // 2024-03-09 02:30 PST plus a day: 02:30 on the 10th is in the gap, so 03:30 PDT.
        let t = micros(2024, 3, 9, 2, 30, -8);
        let day = Interval {
            months: 0,
            days: 1,
            micros: 0,
        };
        assert_eq!(
            add_to_timestamp(&la, t, day),
            Some(micros(2024, 3, 10, 3, 30, -7))
        );
        // 2024-11-02 01:30 PDT plus a day: 01:30 on the 3rd happens twice; PDT (-7) is kept.
        let t = micros(2024, 11, 2, 1, 30, -7);
        assert_eq!(
            add_to_timestamp(&la, t, day),
            Some(micros(2024, 11, 3, 1, 30, -7))
        );
        // From 2024-11-04 01:30 PST minus a day: PST (-8) is valid then too, and kept.
        let t = micros(2024, 11, 4, 1, 30, -8);
        let back = Interval { days: -1, ..day };
        assert_eq!(
            add_to_timestamp(&la, t, back),
            Some(micros(2024, 11, 3, 1, 30, -8))
        );
    }

    #[test]
    fn months_clamp_the_day_then_days_and_microseconds_follow() {
        let utc = zone("UTC");
        let t = micros(2024, 1, 31, 10, 0, 0);
        let interval = Interval {
            months: 1,
            days: 1,
            micros: HOUR,
        };
        // Jan 31 + 1 month = Feb 29, + 1 day = Mar 1, + 1 hour.
        assert_eq!(
            add_to_timestamp(&utc, t, interval),
            Some(micros(2024, 3, 1, 11, 0, 0))
        );
        assert_eq!(
            add_to_date(
                days_from_civil(2023, 3, 31) as i32,
                Interval {
                    days: 0,
                    micros: 0,
                    ..interval
                }
            ),
            Some(days_from_civil(2023, 4, 30) as i32)
        );
    }

    #[test]
    fn timestampadd_units_overflow_as_math_does() {
        assert_eq!(
            DateTimeUnit::Hour.interval(2),
            Ok(Interval {
                months: 0,
                days: 0,
                micros: 2 * HOUR
            })
        );
        assert_eq!(
            DateTimeUnit::Millisecond.interval(i64::MAX / 999),
            Err("long overflow")
        );
        assert_eq!(
            DateTimeUnit::Microsecond
                .interval(i64::MIN)
                .map(|i| i.micros),
            Ok(i64::MIN)
        );
        assert_eq!(DateTimeUnit::Day.interval(1 << 31), Err("integer overflow"));
        assert_eq!(
            DateTimeUnit::Week.interval(-306_783_379),
            Err("integer overflow")
        );
        assert_eq!(
            DateTimeUnit::Week.interval(-306_783_378).map(|i| i.days),
            Ok(-2_147_483_646)
        );
        assert_eq!(
            DateTimeUnit::Year.interval(178_956_970).map(|i| i.months),
            Ok(2_147_483_640)
        );
        assert_eq!(
            DateTimeUnit::Year.interval(178_956_971),
            Err("integer overflow")
        );
        assert_eq!(DateTimeUnit::parse("dayofyear"), Some(DateTimeUnit::Day));
        assert_eq!(DateTimeUnit::parse("FORTNIGHT"), None);
    }

    #[test]
    fn timestampdiff_counts_as_local_date_time_until() {
        let local = |y, mo, d, h, mi| i128::from(micros(y, mo, d, h, mi, 0));
        let (a, b) = (local(2024, 1, 31, 10, 0), local(2024, 2, 29, 9, 59));
        // The end's time of day before the start's: a day short, so not yet a month.
        assert_eq!(local_between(a, b, DateTimeUnit::Month), Some(0));
        assert_eq!(local_between(a, b, DateTimeUnit::Day), Some(28));
        assert_eq!(local_between(a, b, DateTimeUnit::Hour), Some(28 * 24 + 23));
        assert_eq!(
            local_between(b, a, DateTimeUnit::Hour),
            Some(-(28 * 24 + 23))
        );
        assert_eq!(local_between(b, a, DateTimeUnit::Day), Some(-28));
        // Jan 31 to Feb 29 at a later time: packed months say 0 (29 < 31).
        let c = local(2024, 2, 29, 11, 0);
        assert_eq!(local_between(a, c, DateTimeUnit::Month), Some(0));
        assert_eq!(
            local_between(a, local(2024, 3, 31, 10, 0), DateTimeUnit::Month),
            Some(2)
        );
        assert_eq!(
            local_between(a, local(2025, 1, 31, 10, 0), DateTimeUnit::Year),
            Some(1)
        );
        assert_eq!(
            local_between(a, local(2024, 7, 31, 9, 0), DateTimeUnit::Quarter),
            Some(1)
        );
        assert_eq!(
            local_between(a, local(2024, 2, 14, 10, 0), DateTimeUnit::Week),
            Some(2)
        );
        // Toward zero: -1.5 seconds is -1.
        assert_eq!(local_between(1_500_000, 0, DateTimeUnit::Second), Some(-1));
        // A long's microseconds apart: Math.multiplyExact fails.
        assert_eq!(
            local_between(
                i128::from(i64::MIN),
                i128::from(i64::MAX),
                DateTimeUnit::Microsecond
            ),
            None
        );
        assert!(
            local_between(
                i128::from(i64::MIN),
                i128::from(i64::MAX),
                DateTimeUnit::Second
            )
            .is_some()
        );
        assert_eq!(DateTimeUnit::parse_for_diff("dayofyear"), None);
    }

    #[test]
    fn past_a_long_or_an_int_is_none() {
        let utc = zone("UTC");
        let hour = Interval::day_time(HOUR);
        assert_eq!(
            add_to_timestamp(&utc, i64::MAX - HOUR, hour),
            Some(i64::MAX)
        );
        assert_eq!(add_to_timestamp(&utc, i64::MAX - HOUR + 1, hour), None);
        assert_eq!(
            add_to_timestamp(&utc, i64::MIN, Interval::day_time(-1)),
            None
        );
        // Far past a long in between, back by the microseconds.
        let there_and_back = Interval {
            months: 12 * 300_000,
            days: 0,
            micros: i64::MIN,
        };
        assert!(add_to_timestamp(&utc, 0, there_and_back).is_some());
        let years = Interval {
            months: i32::MAX,
            days: 0,
            micros: 0,
        };
        assert_eq!(add_to_timestamp(&zone("Europe/Paris"), 0, years), None);
        assert_eq!(add_to_date(0, years), None);
        assert_eq!(
            add_to_date(
                i32::MAX - 1,
                Interval {
                    months: 0,
                    days: 1,
                    micros: 0
                }
            ),
            Some(i32::MAX)
        );
        // An int's days moved past an int by the months and back by the days.
        let late = i32::MAX - 10;
        assert_eq!(crate::datetime::shift_months(late, 1, false), None);
        let back = add_to_date(
            late,
            Interval {
                months: 1,
                days: -31,
                micros: 0,
            },
        );
        assert_eq!(
            back.map(i64::from),
            Some(shift_months_wide(late, 1, false) - 31)
        );
    }
}
