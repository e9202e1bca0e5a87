//! Spark's `round`, `bround`, `floor` and `ceil` ([`SparkRound`]), `sqrt`, `exp`, `ln`, `pow`
//! and the like ([`SparkUnaryMath`], [`SparkBinaryMath`]), and
//! `greatest` and `least` ([`SparkGreatest`]), as Spark 4.0 evaluates them.
//!
//! `round(x, d)` and `bround(x, d)` (`RoundBase`) round half up and half even to `d` decimal
//! places (`d` < 0: to a multiple of `10^-d`):
//! - an integer through `java.math.BigDecimal`: exact, then its low bits in the integer's type
//!   (legacy mode) or `ARITHMETIC_OVERFLOW` where it does not fit (ANSI mode); `d` ≥ 0 leaves
//!   it as it is;
//! - a decimal with `Decimal.toPrecision` into Spark's result type (the plugin keeps on Spark
//!   the roundings that can overflow it, which fail in both modes);
//! - a double (and a float, widened to a double) through `BigDecimal.valueOf`, which reads
//!   `Double.toString`'s digits (crate::java_float), then back to the nearest double (float):
//!   so `round(2.675, 2)` is 2.68, a zero is `0.0` (never `-0.0`), and NaN and the infinities
//!   stay as they are.
//!
//! `floor` and `ceil` of a double are `(long) Math.floor(x)` (Java's saturating conversion,
//! NaN to 0), of a decimal its floor or ceiling into `decimal(p - s + 1, 0)`, of a bigint the
//! bigint.
//!
//! `sqrt`, `exp`, the logarithms and the other functions of one double ([`SparkUnaryMath`]),
//! and `pow` and `log(base, x)` ([`SparkBinaryMath`]), with `Math`'s and `StrictMath`'s results
//! (crate::strict_math); `hash` and `xxhash64`
//! ([`SparkHashExpr`]) are Spark's Murmur3 and xxHash64 of the row's values; `lpad` and `rpad`
//! ([`SparkPad`]) count code points, as `UTF8String` does.
//!
//! `greatest` and `least` skip nulls (null where every argument is), order floats as Spark does
//! (`-0.0 = 0.0`, NaN largest) and keep the first of equal values.

use std::cmp::Ordering;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int64Array,
    PrimitiveArray,
};
use datafusion::arrow::compute::kernels::{cmp, zip::zip};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Schema,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::java_float::java_double_digits;
use crate::planner::normalize_array;
use crate::spark_hash::{HashFamily, Murmur3, XxHash64, update_hashes};
use crate::strict_math;
use crate::unary::{evaluate_unary, only_child};

/// How [`SparkRound`] rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoundMode {
    /// `round`: half away from zero.
    HalfUp,
    /// `bround`: half to the even neighbour.
    HalfEven,
    /// `floor`: toward negative infinity.
    Floor,
    /// `ceil`: toward positive infinity.
    Ceiling,
}

impl RoundMode {
    /// The mode named `half_up`, `half_even`, `floor` or `ceiling`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "half_up" => Self::HalfUp,
            "half_even" => Self::HalfEven,
            "floor" => Self::Floor,
            "ceiling" => Self::Ceiling,
            _ => return None,
        })
    }

    /// Whether `quotient` (truncated toward zero) moves one away from zero, given the sign of
    /// the value and how the dropped part compares with half a unit.
    fn rounds_away(self, negative: bool, quotient_odd: bool, rest: Ordering, exact: bool) -> bool {
        match self {
            Self::HalfUp => rest != Ordering::Less,
            Self::HalfEven => {
                rest == Ordering::Greater || (rest == Ordering::Equal && quotient_odd)
            }
            Self::Floor => negative && !exact,
            Self::Ceiling => !negative && !exact,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::HalfUp => "round",
            Self::HalfEven => "bround",
            Self::Floor => "floor",
            Self::Ceiling => "ceil",
        }
    }
}

/// `10^n` where it fits an i128 (n ≤ 38).
fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `value / 10^drop` rounded by `mode`.
fn round_div(value: i128, drop: u32, mode: RoundMode) -> i128 {
    if drop == 0 {
        return value;
    }
    let negative = value < 0;
    let Some(unit) = pow10(drop) else {
        // |value| < 2^127 < half of 10^39: below half a unit.
        let away = mode.rounds_away(negative, false, Ordering::Less, value == 0);
        return if away {
            if negative { -1 } else { 1 }
        } else {
            0
        };
    };
    let quotient = value / unit;
    let rest = (value % unit).unsigned_abs();
    // rest < unit ≤ 10^38, so 2 × rest fits a u128.
    let against_half = (2 * rest).cmp(&unit.unsigned_abs());
    let away = mode.rounds_away(negative, quotient % 2 != 0, against_half, rest == 0);
    match (away, negative) {
        (false, _) => quotient,
        (true, true) => quotient - 1,
        (true, false) => quotient + 1,
    }
}

/// An unscaled decimal of scale `from_scale` rounded by `mode` to `places` decimal places
/// (below 0: to a multiple of `10^-places`), as an unscaled decimal of scale `to_scale`; None
/// where that does not fit `to_precision` digits.
pub fn round_decimal(
    value: i128,
    from_scale: i32,
    places: i64,
    mode: RoundMode,
    to_precision: u8,
    to_scale: i32,
) -> Option<i128> {
    // Round at the unit 10^-kept (kept ≤ from_scale), then scale to `to_scale` ≥ kept.
    let kept = places.min(i64::from(from_scale));
    let drop = u32::try_from(i64::from(from_scale) - kept).unwrap_or(u32::MAX);
    let rounded = round_div(value, drop, mode);
    let up = i64::from(to_scale) - kept;
    let result = if rounded == 0 {
        0
    } else {
        let up = u32::try_from(up).ok()?;
        rounded.checked_mul(pow10(up)?)?
    };
    let limit = pow10(u32::from(to_precision))?;
    (result.abs() < limit).then_some(result)
}

/// An integer rounded by `mode` to a multiple of `10^-places` (`places` < 0; else the
/// integer), exactly (the caller narrows it to its type).
pub fn round_integer(value: i64, places: i64, mode: RoundMode) -> i128 {
    if places >= 0 {
        return i128::from(value);
    }
    let drop = u32::try_from(-places).unwrap_or(u32::MAX);
    let rounded = round_div(i128::from(value), drop, mode);
    // |rounded × 10^drop| ≤ |value| + 10^drop / 2 + ... fits where rounded ≠ 0 (drop ≤ 19).
    if rounded == 0 {
        0
    } else {
        rounded * pow10(drop).unwrap_or(0)
    }
}

/// `java.math.BigDecimal.valueOf(v).setScale(places, mode).doubleValue()` for a finite `v`,
/// rounded half up or half even (a zero is `0.0`).
pub fn round_double(v: f64, places: i64, half_even: bool) -> f64 {
    round_double_text(v, places, half_even).map_or(v, |t| t.parse().unwrap_or(v))
}

/// As [`round_double`], for a float (widened to a double, back to the nearest float).
pub fn round_float(v: f32, places: i64, half_even: bool) -> f32 {
    round_double_text(f64::from(v), places, half_even).map_or(v, |t| t.parse().unwrap_or(v))
}

/// The rounded value of [`round_double`] as decimal text, or None where rounding keeps `v`.
fn round_double_text(v: f64, places: i64, half_even: bool) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    if v == 0.0 {
        return Some("0".to_owned());
    }
    let (digits, exponent) = java_double_digits(v);
    // The digits kept: those above 10^-places (|v| = d.ddd × 10^exponent).
    let keep = i64::from(exponent) + 1 + places;
    if keep >= digits.len() as i64 {
        return None;
    }
    let (kept, rest): (&[u8], &[u8]) = if keep < 0 {
        (&[], &[])
    } else {
        digits.split_at(keep as usize)
    };
    let kept_value = kept.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let against_half = match rest.first() {
        // Below a tenth of the unit.
        None => Ordering::Less,
        Some(&first) => first.cmp(&b'5').then_with(|| {
            if rest[1..].iter().any(|&d| d != b'0') {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }),
    };
    let mode = if half_even {
        RoundMode::HalfEven
    } else {
        RoundMode::HalfUp
    };
    let away = mode.rounds_away(v < 0.0, kept_value % 2 == 1, against_half, false);
    let magnitude = kept_value + u64::from(away);
    if magnitude == 0 {
        return Some("0".to_owned());
    }
    let sign = if v < 0.0 { "-" } else { "" };
    Some(format!("{sign}{magnitude}e{}", -places))
}

/// Spark's `round`, `bround`, `floor` and `ceil` of `child` (see the module docs) into
/// `target`.
#[derive(Debug, Eq)]
pub struct SparkRound {
    child: Arc<dyn PhysicalExpr>,
    mode: RoundMode,
    places: i64,
    target: DataType,
    ansi: bool,
}

impl PartialEq for SparkRound {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
            && self.mode == other.mode
            && self.places == other.places
            && self.target == other.target
            && self.ansi == other.ansi
    }
}

impl Hash for SparkRound {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
        self.mode.hash(state);
        self.places.hash(state);
        self.target.hash(state);
        self.ansi.hash(state);
    }
}

impl SparkRound {
    /// `child` (of type `from`) rounded by `mode` to `places` into `target`; an error for the
    /// types Spark does not round so.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        from: &DataType,
        mode: RoundMode,
        places: i64,
        target: DataType,
        ansi: bool,
    ) -> Result<Self> {
        let half = matches!(mode, RoundMode::HalfUp | RoundMode::HalfEven);
        let ok = match (from, &target) {
            (DataType::Int8, DataType::Int8)
            | (DataType::Int16, DataType::Int16)
            | (DataType::Int32, DataType::Int32) => half,
            (DataType::Int64, DataType::Int64) => half || places == 0,
            (DataType::Float32, DataType::Float32) | (DataType::Float64, DataType::Float64) => half,
            (DataType::Float64, DataType::Int64) => !half && places == 0,
            (DataType::Decimal128(..), DataType::Decimal128(..)) => true,
            _ => false,
        };
        if !ok {
            return exec_err!(
                "{} of {from} to {places} places into {target} is not Spark's",
                mode.name()
            );
        }
        Ok(Self {
            child,
            mode,
            places,
            target,
            ansi,
        })
    }

    fn round_array(&self, array: &ArrayRef) -> Result<ArrayRef> {
        let (mode, places) = (self.mode, self.places);
        let half_even = mode == RoundMode::HalfEven;
        Ok(match (array.data_type(), &self.target) {
            (DataType::Int8, _) => self.integers::<Int8Type>(array, |v| v as i8)?,
            (DataType::Int16, _) => self.integers::<Int16Type>(array, |v| v as i16)?,
            (DataType::Int32, _) => self.integers::<Int32Type>(array, |v| v as i32)?,
            (DataType::Int64, DataType::Int64) => {
                self.integers::<Int64Type>(array, |v| v as i64)?
            }
            (DataType::Float64, DataType::Float64) => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(|v| round_double(v, places, half_even)),
            ),
            (DataType::Float32, DataType::Float32) => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(|v| round_float(v, places, half_even)),
            ),
            (DataType::Float64, DataType::Int64) => {
                let a: &Float64Array = array.as_primitive::<Float64Type>();
                // Java's (long) of a double: toward zero, saturating, NaN to 0; as Rust's `as`.
                let out: Int64Array = if mode == RoundMode::Floor {
                    a.unary(|v| v.floor() as i64)
                } else {
                    a.unary(|v| v.ceil() as i64)
                };
                Arc::new(out)
            }
            (DataType::Decimal128(_, from_scale), DataType::Decimal128(precision, scale)) => {
                let a: &Decimal128Array = array.as_primitive::<Decimal128Type>();
                let (from_scale, precision, scale) = (i32::from(*from_scale), *precision, *scale);
                let out: PrimitiveArray<Decimal128Type> = a.try_unary(|v| {
                    round_decimal(v, from_scale, places, mode, precision, i32::from(scale))
                        .ok_or_else(|| {
                            DataFusionError::Execution(format!(
                                "{} of the decimal {v} (scale {from_scale}) to {places} places \
                                 does not fit decimal({precision}, {scale})",
                                mode.name()
                            ))
                        })
                })?;
                Arc::new(out.with_precision_and_scale(precision, scale)?)
            }
            (from, to) => {
                return internal_err!("{} of {from} into {to}", mode.name());
            }
        })
    }

    /// Integers of type `T` rounded, then narrowed by `wrap` (legacy mode: the low bits) or
    /// checked (ANSI mode).
    fn integers<T>(&self, array: &ArrayRef, wrap: impl Fn(i128) -> T::Native) -> Result<ArrayRef>
    where
        T: datafusion::arrow::datatypes::ArrowPrimitiveType,
        T::Native: Into<i64> + TryFrom<i128>,
    {
        let a = array.as_primitive::<T>();
        if self.places >= 0 {
            return Ok(Arc::clone(array));
        }
        let (places, mode) = (self.places, self.mode);
        let out: PrimitiveArray<T> = if self.ansi {
            a.try_unary(|v| {
                let exact = round_integer(v.into(), places, mode);
                T::Native::try_from(exact).map_err(|_| {
                    DataFusionError::Execution(
                        "[ARITHMETIC_OVERFLOW] Overflow. If necessary set \
                         \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. \
                         SQLSTATE: 22003"
                            .to_owned(),
                    )
                })
            })?
        } else {
            a.unary(|v| wrap(round_integer(v.into(), places, mode)))
        };
        Ok(Arc::new(out))
    }
}

impl fmt::Display for SparkRound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_{}({}, {})",
            self.mode.name(),
            self.child,
            self.places
        )
    }
}

impl PhysicalExpr for SparkRound {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(self.target.clone())
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| self.round_array(a))
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
            mode: self.mode,
            places: self.places,
            target: self.target.clone(),
            ansi: self.ansi,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.mode.name())?;
        self.child.fmt_sql(f)?;
        write!(f, ", {})", self.places)
    }
}

/// Spark's `greatest` (or `least`) of `args`, all of one type (see the module docs).
#[derive(Debug, Eq)]
pub struct SparkGreatest {
    args: Vec<Arc<dyn PhysicalExpr>>,
    least: bool,
}

impl PartialEq for SparkGreatest {
    fn eq(&self, other: &Self) -> bool {
        self.least == other.least && self.args == other.args
    }
}

impl Hash for SparkGreatest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.args.hash(state);
        self.least.hash(state);
    }
}

impl SparkGreatest {
    /// `greatest` (or, with `least`, `least`) of `args`, which must share one type over
    /// `schema`.
    pub fn try_new(args: Vec<Arc<dyn PhysicalExpr>>, least: bool, schema: &Schema) -> Result<Self> {
        let Some(first) = args.first() else {
            return exec_err!("greatest and least take at least one argument");
        };
        let t = first.data_type(schema)?;
        for a in &args[1..] {
            let other = a.data_type(schema)?;
            if other != t {
                return exec_err!("greatest and least of a {t} and a {other}");
            }
        }
        Ok(Self { args, least })
    }

    fn name(&self) -> &'static str {
        if self.least { "least" } else { "greatest" }
    }
}

impl fmt::Display for SparkGreatest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.name())?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{a}")?;
        }
        write!(f, ")")
    }
}

impl PhysicalExpr for SparkGreatest {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        self.args[0].data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        for a in &self.args {
            if !a.nullable(input_schema)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        // Spark evaluates every argument, in order.
        let arrays = self
            .args
            .iter()
            .map(|a| a.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let mut best = Arc::clone(&arrays[0]);
        for next in &arrays[1..] {
            // Floats with -0.0 as 0.0 and NaN canonical: Arrow's total order is then Spark's.
            let normalize = |a: &ArrayRef| {
                normalize_array(a).map_err(|e| DataFusionError::Execution(e.to_string()))
            };
            let (n, b) = (normalize(next)?, normalize(&best)?);
            let better = if self.least {
                cmp::lt(&n, &b)?
            } else {
                cmp::gt(&n, &b)?
            };
            // Take `next` where it is not null and `best` is null or it is strictly better
            // (so the first of equal values stays).
            let take: BooleanArray = (0..rows)
                .map(|i| {
                    Some(
                        next.is_valid(i)
                            && (best.is_null(i) || (better.is_valid(i) && better.value(i))),
                    )
                })
                .collect();
            best = zip(&take, next, &best)?;
        }
        Ok(ColumnarValue::Array(best))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.args.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.args.len() {
            return internal_err!("{} takes {} children", self.name(), self.args.len());
        }
        Ok(Arc::new(Self {
            args: children,
            least: self.least,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.name())?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            a.fmt_sql(f)?;
        }
        write!(f, ")")
    }
}

/// A function of one double whose result is Spark's: see [`UnaryMath`].
#[derive(Debug, Eq)]
pub struct SparkUnaryMath {
    child: Arc<dyn PhysicalExpr>,
    func: UnaryMath,
}

/// The functions of one double that [`SparkUnaryMath`] computes, each as Spark 4.0 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryMath {
    /// `Math.sqrt`: IEEE's correctly rounded square root, NaN below zero (DataFusion's `sqrt`
    /// fails there).
    Sqrt,
    /// `StrictMath.exp`.
    Exp,
    /// `StrictMath.expm1`.
    Expm1,
    /// `ln` (`Log`): `StrictMath.log`, null at or below zero.
    Ln,
    /// `StrictMath.log10`, null at or below zero.
    Log10,
    /// `StrictMath.log(x) / StrictMath.log(2)`, null at or below zero.
    Log2,
    /// `StrictMath.log1p`, null at or below -1.
    Log1p,
    /// `StrictMath.log(x + Math.sqrt(x * x + 1.0))`, and -∞ for -∞.
    Asinh,
    /// `StrictMath.log(x + Math.sqrt(x * x - 1.0))`.
    Acosh,
    /// `0.5 * (StrictMath.log1p(x) - StrictMath.log1p(-x))`.
    Atanh,
    /// `Math.signum`: -1.0, 1.0, or the zero or NaN itself.
    Signum,
    /// `Math.toDegrees`: `x * 57.29577951308232`.
    Degrees,
    /// `Math.toRadians`: `x * 0.017453292519943295`.
    Radians,
    /// `Math.rint`: the nearest integer, ties to even.
    Rint,
    /// `Math.atan`, `Math.asin`, `Math.acos`, `Math.sinh`, `Math.cosh`, `Math.tanh` and
    /// `Math.cbrt`: `StrictMath`'s on the JVMs the plugin runs them for (its rule checks).
    Atan,
    /// See [`UnaryMath::Atan`].
    Asin,
    /// See [`UnaryMath::Atan`].
    Acos,
    /// See [`UnaryMath::Atan`].
    Sinh,
    /// See [`UnaryMath::Atan`].
    Cosh,
    /// See [`UnaryMath::Atan`].
    Tanh,
    /// See [`UnaryMath::Atan`].
    Cbrt,
}

impl UnaryMath {
    /// The function's name in the plan message.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sqrt" => Self::Sqrt,
            "exp" => Self::Exp,
            "expm1" => Self::Expm1,
            "ln" => Self::Ln,
            "log10" => Self::Log10,
            "log2" => Self::Log2,
            "log1p" => Self::Log1p,
            "asinh" => Self::Asinh,
            "acosh" => Self::Acosh,
            "atanh" => Self::Atanh,
            "signum" => Self::Signum,
            "degrees" => Self::Degrees,
            "radians" => Self::Radians,
            "rint" => Self::Rint,
            "atan" => Self::Atan,
            "asin" => Self::Asin,
            "acos" => Self::Acos,
            "sinh" => Self::Sinh,
            "cosh" => Self::Cosh,
            "tanh" => Self::Tanh,
            "cbrt" => Self::Cbrt,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sqrt => "sqrt",
            Self::Exp => "exp",
            Self::Expm1 => "expm1",
            Self::Ln => "ln",
            Self::Log10 => "log10",
            Self::Log2 => "log2",
            Self::Log1p => "log1p",
            Self::Asinh => "asinh",
            Self::Acosh => "acosh",
            Self::Atanh => "atanh",
            Self::Signum => "signum",
            Self::Degrees => "degrees",
            Self::Radians => "radians",
            Self::Rint => "rint",
            Self::Atan => "atan",
            Self::Asin => "asin",
            Self::Acos => "acos",
            Self::Sinh => "sinh",
            Self::Cosh => "cosh",
            Self::Tanh => "tanh",
            Self::Cbrt => "cbrt",
        }
    }

    /// The logarithms are null at or below their asymptote (Spark's `UnaryLogExpression`, as
    /// Hive); the other functions are null only for null.
    fn null_below(self) -> Option<f64> {
        match self {
            Self::Ln | Self::Log10 | Self::Log2 => Some(0.0),
            Self::Log1p => Some(-1.0),
            _ => None,
        }
    }

    /// Spark's value of the function at `x` (before the logarithms' null check).
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Self::Sqrt => x.sqrt(),
            Self::Exp => strict_math::exp(x),
            Self::Expm1 => strict_math::expm1(x),
            Self::Ln => strict_math::log(x),
            Self::Log10 => strict_math::log10(x),
            Self::Log2 => strict_math::log(x) / strict_math::log(2.0),
            Self::Log1p => strict_math::log1p(x),
            Self::Asinh if x == f64::NEG_INFINITY => x,
            Self::Asinh => strict_math::log(x + (x * x + 1.0).sqrt()),
            Self::Acosh => strict_math::log(x + (x * x - 1.0).sqrt()),
            Self::Atanh => 0.5 * (strict_math::log1p(x) - strict_math::log1p(-x)),
            Self::Signum if x == 0.0 || x.is_nan() => x,
            Self::Signum => 1.0f64.copysign(x),
            Self::Degrees => x * 57.295_779_513_082_32,
            Self::Radians => x * 0.017_453_292_519_943_295,
            Self::Rint => x.round_ties_even(),
            Self::Atan => strict_math::atan(x),
            Self::Asin => strict_math::asin(x),
            Self::Acos => strict_math::acos(x),
            Self::Sinh => strict_math::sinh(x),
            Self::Cosh => strict_math::cosh(x),
            Self::Tanh => strict_math::tanh(x),
            Self::Cbrt => strict_math::cbrt(x),
        }
    }
}

impl PartialEq for SparkUnaryMath {
    fn eq(&self, other: &Self) -> bool {
        self.func == other.func && self.child.eq(&other.child)
    }
}

impl Hash for SparkUnaryMath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.func.hash(state);
        self.child.hash(state);
    }
}

impl SparkUnaryMath {
    /// `func` of `child`, a double.
    pub fn new(child: Arc<dyn PhysicalExpr>, func: UnaryMath) -> Self {
        Self { child, func }
    }
}

impl fmt::Display for SparkUnaryMath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({})", self.func.name(), self.child)
    }
}

impl PhysicalExpr for SparkUnaryMath {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(self.func.null_below().is_some() || self.child.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            if a.data_type() != &DataType::Float64 {
                return internal_err!("spark_{} of {}", self.func.name(), a.data_type());
            }
            let a = a.as_primitive::<Float64Type>();
            let func = self.func;
            let out: Float64Array = match func.null_below() {
                None => a.unary(|x| func.eval(x)),
                Some(asymptote) => a
                    .iter()
                    .map(|x| {
                        x.filter(|&x| x > asymptote || x.is_nan())
                            .map(|x| func.eval(x))
                    })
                    .collect(),
            };
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
        Ok(Arc::new(Self::new(only_child(&self, children)?, self.func)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.func.name())?;
        self.child.fmt_sql(f)?;
        write!(f, ")")
    }
}

/// Spark's `!(x <= limit)`, as its logarithms test their arguments: true for NaN.
fn not_at_or_below(x: f64, limit: f64) -> bool {
    x > limit || x.is_nan()
}

/// A function of two doubles whose result is Spark's: see [`BinaryMath`].
#[derive(Debug, Eq)]
pub struct SparkBinaryMath {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    func: BinaryMath,
}

/// The functions of two doubles that [`SparkBinaryMath`] computes, each as Spark 4.0 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryMath {
    /// `pow(x, y)`: `StrictMath.pow`.
    Pow,
    /// `log(base, x)` (`Logarithm`): `StrictMath.log(x) / StrictMath.log(base)`, null where
    /// either is at or below zero.
    Log,
    /// `atan2(y, x)`: `Math.atan2(y + 0.0, x + 0.0)` (Spark adds the zeros, so `-0.0` is `0.0`).
    Atan2,
    /// `hypot(x, y)`: `Math.hypot`.
    Hypot,
}

impl BinaryMath {
    /// The function's name in the plan message.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "pow" => Self::Pow,
            "log" => Self::Log,
            "atan2" => Self::Atan2,
            "hypot" => Self::Hypot,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pow => "pow",
            Self::Log => "log",
            Self::Atan2 => "atan2",
            Self::Hypot => "hypot",
        }
    }

    /// Spark's value at `(a, b)`; `None` for null.
    pub fn eval(self, a: f64, b: f64) -> Option<f64> {
        match self {
            Self::Pow => Some(strict_math::pow(a, b)),
            Self::Log => (not_at_or_below(a, 0.0) && not_at_or_below(b, 0.0))
                .then(|| strict_math::log(b) / strict_math::log(a)),
            Self::Atan2 => Some(strict_math::atan2(a + 0.0, b + 0.0)),
            Self::Hypot => Some(strict_math::hypot(a, b)),
        }
    }
}

impl PartialEq for SparkBinaryMath {
    fn eq(&self, other: &Self) -> bool {
        self.func == other.func && self.left.eq(&other.left) && self.right.eq(&other.right)
    }
}

impl Hash for SparkBinaryMath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.func.hash(state);
        self.left.hash(state);
        self.right.hash(state);
    }
}

impl SparkBinaryMath {
    /// `func(left, right)`, of two doubles.
    pub fn new(
        left: Arc<dyn PhysicalExpr>,
        right: Arc<dyn PhysicalExpr>,
        func: BinaryMath,
    ) -> Self {
        Self { left, right, func }
    }

    fn name(&self) -> &'static str {
        self.func.name()
    }
}

impl fmt::Display for SparkBinaryMath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({}, {})", self.name(), self.left, self.right)
    }
}

impl PhysicalExpr for SparkBinaryMath {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(self.func == BinaryMath::Log
            || self.left.nullable(input_schema)?
            || self.right.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let left = self.left.evaluate(batch)?.into_array(rows)?;
        let right = self.right.evaluate(batch)?.into_array(rows)?;
        if left.data_type() != &DataType::Float64 || right.data_type() != &DataType::Float64 {
            return internal_err!(
                "spark_{} of {} and {}",
                self.name(),
                left.data_type(),
                right.data_type()
            );
        }
        let (left, right) = (
            left.as_primitive::<Float64Type>(),
            right.as_primitive::<Float64Type>(),
        );
        let func = self.func;
        let out: Float64Array = left
            .iter()
            .zip(right.iter())
            .map(|(a, b)| func.eval(a?, b?))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right] = <[_; 2]>::try_from(children)
            .map_err(|_| DataFusionError::Internal(format!("{self} takes two children")))?;
        Ok(Arc::new(Self::new(left, right, self.func)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.name())?;
        self.left.fmt_sql(f)?;
        write!(f, ", ")?;
        self.right.fmt_sql(f)?;
        write!(f, ")")
    }
}

/// Spark's `hash(args...)` (`Murmur3Hash`, seed 42) or `xxhash64(args...)` (`XxHash64`, seed
/// 42): each row's hash folds its values in order, a null leaving it as it is, exactly as the
/// native shuffle partitions by Murmur3 ([`crate::spark_hash::update_hashes`]).
#[derive(Debug)]
pub struct SparkHashExpr<F: HashFamily> {
    args: Vec<Arc<dyn PhysicalExpr>>,
    seed: F::Hash,
}

/// Spark's `hash(args...)`.
pub type SparkMurmur3Hash = SparkHashExpr<Murmur3>;

/// Spark's `xxhash64(args...)`.
pub type SparkXxHash64 = SparkHashExpr<XxHash64>;

impl<F: HashFamily> PartialEq for SparkHashExpr<F> {
    fn eq(&self, other: &Self) -> bool {
        self.seed == other.seed && self.args == other.args
    }
}

impl<F: HashFamily> Eq for SparkHashExpr<F> {}

impl<F: HashFamily> Hash for SparkHashExpr<F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.args.hash(state);
        self.seed.hash(state);
    }
}

impl<F: HashFamily> SparkHashExpr<F> {
    /// The hash of `args` from `seed`.
    pub fn new(args: Vec<Arc<dyn PhysicalExpr>>, seed: F::Hash) -> Self {
        Self { args, seed }
    }
}

impl<F: HashFamily> fmt::Display for SparkHashExpr<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({}", F::NAME, self.seed)?;
        for a in &self.args {
            write!(f, ", {a}")?;
        }
        write!(f, ")")
    }
}

impl<F: HashFamily> PhysicalExpr for SparkHashExpr<F> {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(F::Arrow::DATA_TYPE)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let mut hashes = vec![self.seed; rows];
        for a in &self.args {
            let values = a.evaluate(batch)?.into_array(rows)?;
            update_hashes::<F>(values.as_ref(), &mut hashes)
                .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        }
        Ok(ColumnarValue::Array(Arc::new(
            PrimitiveArray::<F::Arrow>::from_iter_values(hashes),
        )))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.args.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.args.len() {
            return internal_err!("{} takes {} children", F::NAME, self.args.len());
        }
        Ok(Arc::new(Self::new(children, self.seed)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `UTF8String.lpad` (`left`) or `rpad`: `s` padded to `len` characters (code points) with
/// `pad` repeated (its last copy cut short), or, where `s` has at least `len` characters or
/// `pad` is empty, its first `len` characters ("" for `len` ≤ 0). False, with nothing written,
/// where the result would take more bytes than an int counts (Spark's `Math.toIntExact` fails).
pub fn spark_pad(s: &str, len: i32, pad: &str, left: bool, out: &mut String) -> bool {
    let len = usize::try_from(len).unwrap_or(0);
    let chars = s.chars().count();
    if chars >= len || pad.is_empty() {
        let end = s.char_indices().nth(len).map_or(s.len(), |(i, _)| i);
        out.push_str(&s[..end]);
        return true;
    }
    let spaces = len - chars;
    let pad_chars = pad.chars().count();
    let rest: usize = pad
        .chars()
        .take(spaces % pad_chars)
        .map(char::len_utf8)
        .sum();
    let bytes = s.len() as u64 + pad.len() as u64 * (spaces / pad_chars) as u64 + rest as u64;
    if bytes > i32::MAX as u64 {
        return false;
    }
    let padding = pad.chars().cycle().take(spaces);
    if left {
        out.extend(padding);
        out.push_str(s);
    } else {
        out.push_str(s);
        out.extend(padding);
    }
    true
}

/// Spark's `lpad(str, len, pad)` or `rpad` (see [`spark_pad`]): null where any argument is.
#[derive(Debug, Eq)]
pub struct SparkPad {
    args: [Arc<dyn PhysicalExpr>; 3],
    left: bool,
}

impl PartialEq for SparkPad {
    fn eq(&self, other: &Self) -> bool {
        self.left == other.left && self.args == other.args
    }
}

impl Hash for SparkPad {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.args.hash(state);
        self.left.hash(state);
    }
}

impl SparkPad {
    /// `lpad` (`left`) or `rpad` of a string, an int length and a string pad.
    pub fn new(args: [Arc<dyn PhysicalExpr>; 3], left: bool) -> Self {
        Self { args, left }
    }

    fn name(&self) -> &'static str {
        if self.left { "lpad" } else { "rpad" }
    }
}

impl fmt::Display for SparkPad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [s, len, pad] = &self.args;
        write!(f, "spark_{}({s}, {len}, {pad})", self.name())
    }
}

impl PhysicalExpr for SparkPad {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let [s, len, pad] = &self.args;
        let s = s.evaluate(batch)?.into_array(rows)?;
        let len = len.evaluate(batch)?.into_array(rows)?;
        let pad = pad.evaluate(batch)?.into_array(rows)?;
        let (Some(s), Some(len), Some(pad)) = (
            s.as_string_opt::<i32>(),
            len.as_primitive_opt::<Int32Type>(),
            pad.as_string_opt::<i32>(),
        ) else {
            return internal_err!(
                "{self} of {}, {}, {}",
                s.data_type(),
                len.data_type(),
                pad.data_type()
            );
        };
        let mut out =
            datafusion::arrow::array::StringBuilder::with_capacity(rows, s.value_data().len());
        let mut text = String::new();
        let mut total = 0usize;
        for i in 0..rows {
            if s.is_null(i) || len.is_null(i) || pad.is_null(i) {
                out.append_null();
                continue;
            }
            text.clear();
            if !spark_pad(s.value(i), len.value(i), pad.value(i), self.left, &mut text) {
                // As Spark's Math.toIntExact.
                return Err(crate::error::java_arithmetic(
                    "integer overflow",
                    format_args!(
                        "{}: the result takes more bytes than an int counts",
                        self.name()
                    ),
                ));
            }
            total += text.len();
            if total > i32::MAX as usize {
                return exec_err!(
                    "{} results of one batch take more than 2 GiB (an Arrow string column's limit)",
                    self.name()
                );
            }
            out.append_value(&text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.args.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let args: [Arc<dyn PhysicalExpr>; 3] = children
            .try_into()
            .map_err(|_| DataFusionError::Internal(format!("{} takes 3 children", self.name())))?;
        Ok(Arc::new(Self::new(args, self.left)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Spark's `substring_index(s, delim, count)` (`UTF8String.subStringIndex`): the bytes before
/// the `count`-th `delim` from the left (`count` > 0) or after the `count`-th from the right,
/// each search starting one byte after (before) the last match, so matches may overlap; all
/// of `s` where there are fewer; empty for an empty `delim` or a zero `count`. `None` for
/// `count = i32::MIN`, whose negation Spark's code overflows into a negative array size.
pub fn substring_index<'a>(s: &'a str, delim: &str, count: i32) -> Option<&'a str> {
    let (bytes, d) = (s.as_bytes(), delim.as_bytes());
    if d.is_empty() || count == 0 {
        return Some("");
    }
    let at = |i: usize| bytes[i..].starts_with(d);
    if count > 0 {
        let mut next = 0;
        let mut found = 0;
        for _ in 0..count {
            match (next..=bytes.len().saturating_sub(d.len()))
                .filter(|_| bytes.len() >= d.len())
                .find(|&i| at(i))
            {
                Some(i) => {
                    found = i;
                    next = i + 1;
                }
                None => return Some(s),
            }
        }
        // A match starts on a character (UTF-8 resynchronises), so this is a boundary.
        Some(&s[..found])
    } else {
        if count == i32::MIN {
            return None;
        }
        let mut start = bytes.len() as i64 - d.len() as i64;
        let mut found = 0;
        for _ in 0..-count {
            match (0..=start).rev().find(|&i| at(i as usize)) {
                Some(i) => {
                    found = i as usize;
                    start = i - 1;
                }
                None => return Some(s),
            }
        }
        Some(&s[found + d.len()..])
    }
}

/// Spark's `substring_index` of a string, a delimiter and an int count ([`substring_index`]):
/// null where any argument is.
#[derive(Debug, Eq)]
pub struct SparkSubstringIndex {
    args: [Arc<dyn PhysicalExpr>; 3],
}

impl PartialEq for SparkSubstringIndex {
    fn eq(&self, other: &Self) -> bool {
        self.args == other.args
    }
}

impl Hash for SparkSubstringIndex {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.args.hash(state);
    }
}

impl SparkSubstringIndex {
    /// `substring_index(args[0], args[1], args[2])`.
    pub fn new(args: [Arc<dyn PhysicalExpr>; 3]) -> Self {
        Self { args }
    }
}

impl fmt::Display for SparkSubstringIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [s, delim, count] = &self.args;
        write!(f, "spark_substring_index({s}, {delim}, {count})")
    }
}

impl PhysicalExpr for SparkSubstringIndex {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        let mut nullable = false;
        for a in &self.args {
            nullable |= a.nullable(input_schema)?;
        }
        Ok(nullable)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let [s, delim, count] = &self.args;
        let s = s.evaluate(batch)?.into_array(rows)?;
        let delim = delim.evaluate(batch)?.into_array(rows)?;
        let count = count.evaluate(batch)?.into_array(rows)?;
        let (Some(s), Some(delim), Some(count)) = (
            s.as_string_opt::<i32>(),
            delim.as_string_opt::<i32>(),
            count.as_primitive_opt::<Int32Type>(),
        ) else {
            return internal_err!(
                "{self} of {}, {}, {}",
                s.data_type(),
                delim.data_type(),
                count.data_type()
            );
        };
        let mut out =
            datafusion::arrow::array::StringBuilder::with_capacity(rows, s.value_data().len());
        for i in 0..rows {
            if s.is_null(i) || delim.is_null(i) || count.is_null(i) {
                out.append_null();
                continue;
            }
            match substring_index(s.value(i), delim.value(i), count.value(i)) {
                Some(part) => out.append_value(part),
                None => {
                    return exec_err!(
                        "substring_index with count -2147483648 fails in Spark \
                         (java.lang.NegativeArraySizeException)"
                    );
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.args.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let args: [Arc<dyn PhysicalExpr>; 3] = children.try_into().map_err(|_| {
            DataFusionError::Internal("substring_index takes 3 children".to_owned())
        })?;
        Ok(Arc::new(Self::new(args)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Float64Array, Int32Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::Column;

    #[test]
    fn doubles_round_their_java_digits() {
        // Spark 4.0.1 (pyspark), round and bround.
        let cases: &[(f64, i64, f64, f64)] = &[
            (2.675, 2, 2.68, 2.68),
            (1.005, 2, 1.01, 1.0),
            (-2.5, 2, -2.5, -2.5),
            (0.125, 2, 0.13, 0.12),
            (-2.5, 0, -3.0, -2.0),
            (0.5, 0, 1.0, 0.0),
            (1.5, 0, 2.0, 2.0),
            (-0.5, 0, -1.0, -0.0),
            (1250.0, -2, 1300.0, 1200.0),
            (2.675, -2, 0.0, 0.0),
            (1e300, -2, 1e300, 1e300),
            (1e300, -400, 0.0, 0.0),
            (-1e-300, 0, 0.0, 0.0),
            (-1e-300, 400, -1e-300, -1e-300),
            (4.9e-324, 0, 0.0, 0.0),
            (f64::MAX, -400, 0.0, 0.0),
            (f64::MAX, -307, f64::INFINITY, f64::INFINITY),
        ];
        for &(v, places, up, even) in cases {
            let (r, b) = (
                round_double(v, places, false),
                round_double(v, places, true),
            );
            assert_eq!((r, b), (up, even), "round({v}, {places})");
            // BigDecimal has no negative zero.
            if r == 0.0 {
                assert!(r.is_sign_positive() && b.is_sign_positive(), "{v}");
            }
        }
        assert_eq!(round_double(-0.0, 2, false).to_bits(), 0.0f64.to_bits());
        assert!(round_double(f64::NAN, 2, false).is_nan());
        assert_eq!(round_double(f64::NEG_INFINITY, 2, false), f64::NEG_INFINITY);
    }

    #[test]
    fn floats_round_their_doubles_digits() {
        // Spark 4.0.1: a float widens to a double before BigDecimal.valueOf.
        assert_eq!(round_float(0.15, 1, false), 0.2);
        assert_eq!(round_float(2.675, 1, false), 2.7);
        assert_eq!(round_float(2.675, 2, false), 2.67);
        assert_eq!(round_float(2.5, 0, true), 2.0);
        assert_eq!(round_float(-1.5, 0, true), -2.0);
        assert_eq!(round_float(1.4e-45, 2, false), 0.0);
        assert_eq!(round_float(f32::MAX, -37, false), 3.4e38);
        assert_eq!(round_float(1e38, 1, false), 1e38);
    }

    #[test]
    fn integers_round_exactly_then_narrow() {
        assert_eq!(round_integer(15, -1, RoundMode::HalfUp), 20);
        assert_eq!(round_integer(-15, -1, RoundMode::HalfUp), -20);
        assert_eq!(round_integer(-25, -1, RoundMode::HalfEven), -20);
        assert_eq!(round_integer(25, -1, RoundMode::HalfEven), 20);
        assert_eq!(round_integer(35, -1, RoundMode::HalfEven), 40);
        assert_eq!(round_integer(7, 3, RoundMode::HalfUp), 7);
        assert_eq!(
            round_integer(i64::MAX, -19, RoundMode::HalfUp),
            10i128.pow(19)
        );
        assert_eq!(
            round_integer(i64::MIN, -19, RoundMode::HalfUp),
            -(10i128.pow(19))
        );
        assert_eq!(round_integer(i64::MAX, -20, RoundMode::HalfUp), 0);
        assert_eq!(round_integer(i64::MAX, -100, RoundMode::HalfUp), 0);
        assert_eq!(
            round_integer(i64::MAX, i64::from(i32::MIN), RoundMode::HalfUp),
            0
        );
        // Spark 4.0.1, legacy mode: the low bits.
        assert_eq!(
            round_integer(2147483647, -1, RoundMode::HalfUp) as i32,
            -2147483646
        );
        assert_eq!(
            round_integer(i64::MAX, -19, RoundMode::HalfUp) as i64,
            -8446744073709551616
        );
    }

    #[test]
    fn decimals_round_into_sparks_type() {
        // 1234.567 as decimal(10, 3).
        let d = 1234567;
        let round = |v, places, mode, p, s| round_decimal(v, 3, places, mode, p, s);
        assert_eq!(round(d, -2, RoundMode::HalfUp, 8, 0), Some(1200));
        assert_eq!(round(d, 1, RoundMode::HalfUp, 9, 1), Some(12346));
        assert_eq!(round(d, 5, RoundMode::HalfUp, 11, 3), Some(d));
        assert_eq!(round(d, 0, RoundMode::HalfUp, 8, 0), Some(1235));
        assert_eq!(round(-50000, -2, RoundMode::HalfUp, 8, 0), Some(-100));
        assert_eq!(round(-49999, -2, RoundMode::HalfUp, 8, 0), Some(0));
        assert_eq!(round(-50, 1, RoundMode::HalfUp, 9, 1), Some(-1));
        assert_eq!(round(-50, 1, RoundMode::HalfEven, 9, 1), Some(0));
        assert_eq!(round(-150, 1, RoundMode::HalfEven, 9, 1), Some(-2));
        assert_eq!(round(d, -40, RoundMode::HalfUp, 38, 0), Some(0));
        assert_eq!(
            round(d, i64::from(i32::MIN), RoundMode::HalfUp, 38, 0),
            Some(0)
        );
        // floor and ceil into decimal(p - s + 1, 0).
        assert_eq!(round(-1, 0, RoundMode::Floor, 8, 0), Some(-1));
        assert_eq!(round(-1, 0, RoundMode::Ceiling, 8, 0), Some(0));
        assert_eq!(round(1, 0, RoundMode::Ceiling, 8, 0), Some(1));
        assert_eq!(round(-2000, 0, RoundMode::Floor, 8, 0), Some(-2));
        assert_eq!(round(9999999, 0, RoundMode::Ceiling, 8, 0), Some(10000));
        // What Spark fails on (the plugin keeps these on Spark): 10^38 in decimal(38, 0).
        let nines = 10i128.pow(38) - 1;
        assert_eq!(round_decimal(nines, 0, -1, RoundMode::HalfUp, 38, 0), None);
        // 0.99..9 (38 nines) rounds to 1.
        assert_eq!(
            round_decimal(nines, 38, 0, RoundMode::HalfUp, 1, 0),
            Some(1)
        );
    }

    fn batch(columns: Vec<ArrayRef>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    fn column(i: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(&format!("c{i}"), i))
    }

    #[test]
    fn integer_overflow_wraps_or_fails() {
        let b = batch(vec![Arc::new(Int32Array::from(vec![
            Some(2147483647),
            Some(15),
            None,
        ]))]);
        let legacy = SparkRound::try_new(
            column(0),
            &DataType::Int32,
            RoundMode::HalfUp,
            -1,
            DataType::Int32,
            false,
        )
        .unwrap();
        let out = legacy.evaluate(&b).unwrap().into_array(3).unwrap();
        let out = out.as_primitive::<Int32Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(-2147483646), Some(20), None]
        );
        let ansi = SparkRound::try_new(
            column(0),
            &DataType::Int32,
            RoundMode::HalfUp,
            -1,
            DataType::Int32,
            true,
        )
        .unwrap();
        let err = ansi.evaluate(&b).unwrap_err().to_string();
        assert!(
            err.contains("[ARITHMETIC_OVERFLOW] Overflow. If necessary"),
            "{err}"
        );
        // Only where the value overflows.
        let fine = batch(vec![Arc::new(Int32Array::from(vec![Some(-25), None]))]);
        let out = ansi.evaluate(&fine).unwrap().into_array(2).unwrap();
        assert_eq!(
            out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            vec![Some(-30), None]
        );
    }

    #[test]
    fn floor_and_ceil_of_doubles_saturate() {
        let b = batch(vec![Arc::new(Float64Array::from(vec![
            Some(-0.1),
            Some(2.5),
            Some(f64::NAN),
            Some(1e300),
            Some(-1e300),
            None,
        ]))]);
        let floor = SparkRound::try_new(
            column(0),
            &DataType::Float64,
            RoundMode::Floor,
            0,
            DataType::Int64,
            false,
        )
        .unwrap();
        let out = floor.evaluate(&b).unwrap().into_array(6).unwrap();
        let out: &Int64Array = out.as_primitive::<Int64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![
                Some(-1),
                Some(2),
                Some(0),
                Some(i64::MAX),
                Some(i64::MIN),
                None
            ]
        );
        assert!(
            SparkRound::try_new(
                column(0),
                &DataType::Float64,
                RoundMode::Floor,
                0,
                DataType::Float64,
                false
            )
            .is_err()
        );
    }

    #[test]
    fn pads_count_code_points() {
        let pad = |s: &str, len, p: &str, left| {
            let mut out = String::new();
            assert!(spark_pad(s, len, p, left, &mut out));
            out
        };
        assert_eq!(pad("hi", 5, "ab", true), "abahi");
        assert_eq!(pad("hi", 5, "ab", false), "hiaba");
        assert_eq!(pad("héllo", 3, "x", true), "hél");
        assert_eq!(pad("héllo", 3, "x", false), "hél");
        assert_eq!(pad("😀", 3, "ß", true), "ßß😀");
        assert_eq!(pad("abc", 0, "x", true), "");
        assert_eq!(pad("abc", -5, "x", false), "");
        assert_eq!(pad("ab", 5, "", true), "ab");
        assert_eq!(pad("", 2, "e\u{301}", false), "e\u{301}");
        // More bytes than an int counts: Spark's Math.toIntExact fails, before any allocation.
        assert!(!spark_pad("x", i32::MAX, "é", true, &mut String::new()));
        assert!(!spark_pad("", 1 << 30, "é", false, &mut String::new()));
    }

    #[test]
    fn sqrt_is_nan_below_zero() {
        let b = batch(vec![Arc::new(Float64Array::from(vec![
            Some(-1.0),
            Some(2.0),
            Some(-0.0),
            None,
        ]))]);
        let out = SparkUnaryMath::new(column(0), UnaryMath::Sqrt)
            .evaluate(&b)
            .unwrap();
        let out = out.into_array(4).unwrap();
        let out: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
        assert!(out[0].unwrap().is_nan());
        assert_eq!(out[1], Some(std::f64::consts::SQRT_2));
        assert_eq!(out[2].map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(out[3], None);
    }

    /// Spark 4.0.1's `substring_index` (`UTF8String.subStringIndex`).
    #[test]
    fn substring_index_as_sparks() {
        let cases: &[(&str, &str, i32, &str)] = &[
            ("www.apache.org", ".", 2, "www.apache"),
            ("www.apache.org", ".", -2, "apache.org"),
            ("www.apache.org", ".", 5, "www.apache.org"),
            ("www.apache.org", ".", -5, "www.apache.org"),
            ("www.apache.org", ".", 0, ""),
            ("www.apache.org", "", 1, ""),
            (".a.", ".", 1, ""),
            (".a.", ".", -1, ""),
            // Matches overlap: each search starts one byte past the last match.
            ("aaaa", "aa", 2, "a"),
            ("aaaa", "aa", -2, "a"),
            ("aaaa", "aa", 3, "aa"),
            ("a", "abc", 1, "a"),
            ("a", "abc", -1, "a"),
            ("héllo wörld ü", "ö", 1, "héllo w"),
            ("héllo wörld ü", " ", -1, "ü"),
            ("😀x😀y", "😀", -1, "y"),
            ("", "x", 1, ""),
        ];
        for &(s, delim, count, want) in cases {
            assert_eq!(
                substring_index(s, delim, count),
                Some(want),
                "{s:?} {delim:?} {count}"
            );
        }
        assert_eq!(substring_index("a.b", ".", i32::MIN), None);
        assert_eq!(substring_index("a.b", ".", i32::MAX), Some("a.b"));
    }

    #[test]
    fn logarithms_are_null_at_or_below_their_asymptote() {
        let b = batch(vec![Arc::new(Float64Array::from(vec![
            Some(-1.0),
            Some(0.0),
            Some(-0.0),
            Some(f64::NAN),
            Some(8.0),
            Some(-0.5),
            None,
        ]))]);
        let eval = |func| -> Vec<Option<f64>> {
            let out = SparkUnaryMath::new(column(0), func).evaluate(&b).unwrap();
            out.into_array(7)
                .unwrap()
                .as_primitive::<Float64Type>()
                .iter()
                .collect()
        };
        let ln = eval(UnaryMath::Ln);
        assert_eq!(ln[..3], [None, None, None]);
        assert!(ln[3].unwrap().is_nan(), "NaN is not at or below zero");
        assert_eq!(ln[4], Some(strict_math::log(8.0)));
        assert_eq!(ln[6], None);
        assert_eq!(eval(UnaryMath::Log2)[4], Some(3.0));
        let log1p = eval(UnaryMath::Log1p);
        assert_eq!(log1p[0], None);
        assert_eq!(log1p[2].map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(log1p[5], Some(-std::f64::consts::LN_2));
        // The others are null only for null.
        let signum = eval(UnaryMath::Signum);
        assert_eq!(signum[0], Some(-1.0));
        assert_eq!(signum[2].map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(signum[6], None);
        assert_eq!(
            eval(UnaryMath::Rint)[5].map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(
            eval(UnaryMath::Asinh)[0],
            Some(-0.8813735870195428),
            "as Spark"
        );
        assert!(
            eval(UnaryMath::Acosh)[4].is_some()
                && eval(UnaryMath::Atanh)[0] == Some(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn pow_and_log_of_a_base() {
        let b = batch(vec![
            Arc::new(Float64Array::from(vec![
                Some(2.0),
                Some(10.0),
                Some(0.0),
                None,
                Some(1.0),
            ])),
            Arc::new(Float64Array::from(vec![
                Some(10.0),
                Some(1000.0),
                Some(5.0),
                Some(1.0),
                Some(f64::NAN),
            ])),
        ]);
        let eval = |func| -> Vec<Option<f64>> {
            let out = SparkBinaryMath::new(column(0), column(1), func)
                .evaluate(&b)
                .unwrap();
            out.into_array(5)
                .unwrap()
                .as_primitive::<Float64Type>()
                .iter()
                .collect()
        };
        let pow = eval(BinaryMath::Pow);
        assert_eq!(pow[..3], [Some(1024.0), Some(f64::INFINITY), Some(0.0)]);
        assert_eq!(pow[3], None);
        assert!(pow[4].unwrap().is_nan(), "1 ** NaN is NaN in Java");
        let log = eval(BinaryMath::Log);
        assert_eq!(log[0], Some(strict_math::log(10.0) / strict_math::log(2.0)));
        assert_eq!(log[1], Some(2.9999999999999996), "Spark's log(10, 1000)");
        assert_eq!(log[2..4], [None, None]);
        // log(1, NaN): NaN / 0.0.
        assert!(log[4].unwrap().is_nan());
        // atan2 reads -0.0 as 0.0 (Spark adds 0.0 to both); hypot of a NaN and an infinity is
        // the infinity.
        assert_eq!(
            BinaryMath::Atan2.eval(-0.0, -1.0),
            Some(std::f64::consts::PI)
        );
        assert_eq!(BinaryMath::Atan2.eval(0.0, -0.0), Some(0.0));
        assert_eq!(
            BinaryMath::Hypot.eval(f64::NAN, f64::NEG_INFINITY),
            Some(f64::INFINITY)
        );
        assert_eq!(BinaryMath::Hypot.eval(3.0, -4.0), Some(5.0));
    }

    #[test]
    fn greatest_skips_nulls_and_keeps_the_first_of_equals() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(-0.0),
            Some(0.0),
            None,
            Some(1.0),
            Some(f64::NAN),
            None,
            Some(f64::INFINITY),
        ]));
        let b: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(-0.0),
            Some(3.0),
            None,
            Some(-f64::NAN),
            None,
            Some(-f64::NAN),
        ]));
        let floats = batch(vec![a, b]);
        let schema = floats.schema();
        let greatest = SparkGreatest::try_new(vec![column(0), column(1)], false, &schema).unwrap();
        let out = greatest.evaluate(&floats).unwrap().into_array(7).unwrap();
        let out: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(out[0].map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(out[1].map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(out[2], Some(3.0));
        assert_eq!(out[3], Some(1.0));
        assert!(out[4].unwrap().is_nan());
        assert_eq!(out[5], None);
        assert!(out[6].unwrap().is_nan(), "NaN is above infinity");
        let least = SparkGreatest::try_new(vec![column(0), column(1)], true, &schema).unwrap();
        let out = least.evaluate(&floats).unwrap().into_array(7).unwrap();
        let out: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(out[0].map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(out[1].map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(out[6], Some(f64::INFINITY));
    }

    #[test]
    fn greatest_of_strings_compares_bytes() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("é"), None]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some("B"), Some("z"), Some("x")]));
        let c: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("w")]));
        let strings = batch(vec![a, b, c]);
        let args = vec![column(0), column(1), column(2)];
        let greatest = SparkGreatest::try_new(args, false, &strings.schema()).unwrap();
        let out = greatest.evaluate(&strings).unwrap().into_array(3).unwrap();
        let out: Vec<Option<&str>> = out.as_string::<i32>().iter().collect();
        assert_eq!(out, vec![Some("ab"), Some("é"), Some("x")]);
        let int: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let mixed = batch(vec![int, Arc::new(StringArray::from(vec!["a", "b", "c"]))]);
        assert!(
            SparkGreatest::try_new(vec![column(0), column(1)], false, &mixed.schema()).is_err()
        );
    }
}
