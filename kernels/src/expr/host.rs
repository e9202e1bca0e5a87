//! Host reference of the expression interpreter: every instruction, row by row, with the
//! semantics the device interpreter must match (and which the tests hold to DataFusion's).
//!
//! A register holds a value, a null, or a *fault* (division by zero, overflow, a value that
//! does not fit a cast). A fault spreads to every instruction that reads it, except that
//! `CASE` reads only the conditions up to the branch it takes and that branch's value; a
//! fault in the result fails the evaluation. That is how DataFusion behaves: it evaluates a
//! CASE branch only on the rows that take it, and fails a batch on an error in any row it
//! evaluates.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int32Builder, Int64Builder, RecordBatch,
};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type};

use super::program::{ArithOp, CmpOp, DatePart, Instr, Program, Scalar, ValueType};
use crate::{KernelError, Result};

/// A register's value in one row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    B(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    D(i128),
    /// Bytes `start..start + len` of a string in the current row (or a constant).
    S(StrSrc, usize, usize),
}

/// Where a string register's bytes live.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StrSrc {
    /// The current row of input column `i`.
    Column(usize),
    /// `Program::strings[i]`.
    Constant(u32),
}

/// What a row's string registers point into.
struct Row<'a> {
    program: &'a Program,
    batch: &'a RecordBatch,
    row: usize,
}

impl<'a> Row<'a> {
    fn bytes(&self, v: V) -> &'a [u8] {
        let V::S(src, start, len) = v else {
            unreachable!("not a string register: {v:?}")
        };
        let whole: &'a [u8] = match src {
            StrSrc::Constant(i) => self.program.strings[i as usize].as_bytes(),
            StrSrc::Column(i) => {
                let column = self.batch.column(i);
                match column.data_type() {
                    DataType::Utf8 => column.as_string::<i32>().value(self.row).as_bytes(),
                    DataType::LargeUtf8 => column.as_string::<i64>().value(self.row).as_bytes(),
                    DataType::Utf8View => column.as_string_view().value(self.row).as_bytes(),
                    other => unreachable!("the translator admits no {other} string column"),
                }
            }
        };
        &whole[start..start + len]
    }
}

/// Why a register holds no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    /// Integer or decimal division or remainder by zero.
    DivideByZero,
    /// Checked arithmetic overflowed.
    Overflow,
    /// A cast's value does not fit the target type.
    Cast,
}

impl Fault {
    pub(crate) fn error(self) -> KernelError {
        KernelError::Execution(
            match self {
                Fault::DivideByZero => "Divide by zero error",
                Fault::Overflow => "Arithmetic overflow",
                Fault::Cast => "Cast error: value does not fit the target type",
            }
            .to_string(),
        )
    }
}

/// One register in one row.
type Slot = std::result::Result<Option<V>, Fault>;

impl From<Scalar> for V {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => V::B(b),
            Scalar::I32(v) | Scalar::Date32(v) => V::I32(v),
            Scalar::I64(v) => V::I64(v),
            Scalar::F64(v) => V::F64(v),
            Scalar::Decimal128(v, _, _) => V::D(v),
            Scalar::Str(_) => unreachable!("string constants need their program: see `constant`"),
        }
    }
}

/// A constant as a register value.
fn constant(program: &Program, s: Scalar) -> V {
    match s {
        Scalar::Str(i) => V::S(StrSrc::Constant(i), 0, program.strings[i as usize].len()),
        s => V::from(s),
    }
}

/// Evaluates `program` on every row of `batch` into an array of the program's result type.
///
/// A fault in the result of any row (integer division or remainder by zero, overflow in
/// checked or decimal arithmetic, a cast that does not fit) fails the whole evaluation, as in
/// DataFusion; null rows never fail.
pub fn evaluate(program: &Program, batch: &RecordBatch) -> Result<ArrayRef> {
    let rows = batch.num_rows();
    if program.result_type() == ValueType::Str {
        return evaluate_strings(program, batch);
    }
    let mut regs: Vec<Slot> = vec![Ok(None); program.instrs.len()];
    let mut out = Output::new(program.result_type(), rows);
    for row in 0..rows {
        for i in 0..program.instrs.len() {
            regs[i] = step(program, i, &regs, batch, row);
        }
        out.push(regs[program.result.0 as usize].map_err(Fault::error)?);
    }
    Ok(out.finish())
}

/// [`evaluate`] for a program whose result is a string, built as its declared Arrow type.
fn evaluate_strings(program: &Program, batch: &RecordBatch) -> Result<ArrayRef> {
    use arrow::array::{LargeStringBuilder, StringBuilder, StringViewBuilder};
    let rows = batch.num_rows();
    let mut regs: Vec<Slot> = vec![Ok(None); program.instrs.len()];
    let mut values: Vec<Option<&str>> = Vec::with_capacity(rows);
    for row in 0..rows {
        for i in 0..program.instrs.len() {
            regs[i] = step(program, i, &regs, batch, row);
        }
        let here = Row {
            program,
            batch,
            row,
        };
        let value = regs[program.result.0 as usize].map_err(Fault::error)?;
        values.push(match value {
            Some(v) => Some(std::str::from_utf8(here.bytes(v)).map_err(|e| {
                KernelError::Execution(format!("a string result is not UTF-8: {e}"))
            })?),
            None => None,
        });
    }
    Ok(match program.result_arrow_type() {
        DataType::LargeUtf8 => {
            let mut b = LargeStringBuilder::with_capacity(rows, 0);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        DataType::Utf8View => {
            let mut b = StringViewBuilder::with_capacity(rows);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::with_capacity(rows, 0);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
    })
}

fn step(program: &Program, i: usize, regs: &[Slot], batch: &RecordBatch, row: usize) -> Slot {
    let reg = |r: super::Reg| regs[r.0 as usize];
    let ty = |r: super::Reg| program.types[r.0 as usize];
    let here = Row {
        program,
        batch,
        row,
    };
    Ok(match &program.instrs[i] {
        Instr::Column { index } => read(batch.column(*index), *index, row),
        Instr::Literal(value) => value.map(|s| constant(program, s)),
        Instr::Arith {
            op,
            left,
            right,
            checked,
        } => match (reg(*left)?, reg(*right)?) {
            (Some(V::D(a)), Some(V::D(b))) => {
                let scales = (scale(ty(*left)), scale(ty(*right)));
                Some(V::D(decimal_arith(*op, a, b, scales)?))
            }
            (Some(a), Some(b)) => Some(arith(*op, a, b, *checked)?),
            _ => None,
        },
        Instr::Negate(value) => reg(*value)?.map(|v| match v {
            V::I32(x) => V::I32(x.wrapping_neg()),
            V::I64(x) => V::I64(x.wrapping_neg()),
            V::F64(x) => V::F64(-x),
            V::D(x) => V::D(x.wrapping_neg()),
            other => other,
        }),
        Instr::Cmp { op, left, right } => match (reg(*left)?, reg(*right)?) {
            (Some(a @ V::S(..)), Some(b)) => {
                Some(V::B(ordered(*op, here.bytes(a).cmp(here.bytes(b)))))
            }
            (Some(a), Some(b)) => Some(V::B(compare(*op, a, b))),
            _ => None,
        },
        Instr::And(l, r) => match (as_bool(reg(*l)?), as_bool(reg(*r)?)) {
            (Some(false), _) | (_, Some(false)) => Some(V::B(false)),
            (Some(true), Some(true)) => Some(V::B(true)),
            _ => None,
        },
        Instr::Or(l, r) => match (as_bool(reg(*l)?), as_bool(reg(*r)?)) {
            (Some(true), _) | (_, Some(true)) => Some(V::B(true)),
            (Some(false), Some(false)) => Some(V::B(false)),
            _ => None,
        },
        Instr::Not(value) => as_bool(reg(*value)?).map(|b| V::B(!b)),
        Instr::IsNull(value) => Some(V::B(reg(*value)?.is_none())),
        Instr::IsNotNull(value) => Some(V::B(reg(*value)?.is_some())),
        Instr::InList {
            value,
            list,
            list_has_null,
            negated,
        } => reg(*value)?.and_then(|v| {
            let matches = |item: V| match v {
                V::S(..) => here.bytes(v) == here.bytes(item),
                _ => in_list_match(v, item),
            };
            if list.iter().any(|&item| matches(constant(program, item))) {
                Some(V::B(!negated))
            } else if *list_has_null {
                None
            } else {
                Some(V::B(*negated))
            }
        }),
        Instr::Cast { value, to, safe } => match reg(*value)? {
            None => None,
            Some(v) => match cast(v, ty(*value), *to) {
                Ok(v) => Some(v),
                Err(_) if *safe => None,
                Err(fault) => return Err(fault),
            },
        },
        Instr::Case {
            branches,
            otherwise,
        } => {
            for (condition, value) in branches {
                if as_bool(reg(*condition)?) == Some(true) {
                    return reg(*value);
                }
            }
            match otherwise {
                Some(value) => reg(*value)?,
                None => None,
            }
        }
        Instr::Like {
            value,
            segments,
            open_start,
            open_end,
            negated,
        } => reg(*value)?.map(|v| {
            let segments: Vec<&[u8]> = segments
                .iter()
                .map(|&i| program.strings[i as usize].as_bytes())
                .collect();
            V::B(like(here.bytes(v), &segments, *open_start, *open_end) != *negated)
        }),
        Instr::Substr {
            value,
            start,
            count,
        } => reg(*value)?.map(|v| {
            let V::S(src, offset, _) = v else {
                unreachable!("substr of a string register")
            };
            let (from, to) = substr_bytes(here.bytes(v), *start, *count);
            V::S(src, offset + from, to - from)
        }),
        Instr::CharLength(value) => reg(*value)?.map(|v| {
            let chars = char_count(here.bytes(v));
            match program.types[i] {
                ValueType::I64 => V::I64(chars as i64),
                _ => V::I32(chars as i32),
            }
        }),
        Instr::DatePart { value, part } => match reg(*value)? {
            Some(V::I32(days)) => date_part(days, *part).map(V::I32),
            None => None,
            Some(other) => {
                unreachable!("the translator admits date_part only on Date32, not {other:?}")
            }
        },
    })
}

fn scale(ty: ValueType) -> i8 {
    ty.decimal_scale().expect("a decimal register")
}

fn as_bool(v: Option<V>) -> Option<bool> {
    match v {
        Some(V::B(b)) => Some(b),
        _ => None,
    }
}

fn read(column: &ArrayRef, index: usize, row: usize) -> Option<V> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Utf8 => V::S(
            StrSrc::Column(index),
            0,
            column.as_string::<i32>().value(row).len(),
        ),
        DataType::LargeUtf8 => V::S(
            StrSrc::Column(index),
            0,
            column.as_string::<i64>().value(row).len(),
        ),
        DataType::Utf8View => V::S(
            StrSrc::Column(index),
            0,
            column.as_string_view().value(row).len(),
        ),
        DataType::Boolean => V::B(column.as_boolean().value(row)),
        DataType::Int32 => V::I32(column.as_primitive::<Int32Type>().value(row)),
        DataType::Date32 => V::I32(column.as_primitive::<Date32Type>().value(row)),
        DataType::Int64 => V::I64(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => V::F64(column.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, _) => V::D(column.as_primitive::<Decimal128Type>().value(row)),
        other => unreachable!("the translator admits no {other} column"),
    })
}

macro_rules! int_arith {
    ($op:expr, $a:expr, $b:expr, $checked:expr, $variant:path) => {{
        let (a, b) = ($a, $b);
        let value = match $op {
            ArithOp::Add if $checked => a.checked_add(b).ok_or(Fault::Overflow)?,
            ArithOp::Sub if $checked => a.checked_sub(b).ok_or(Fault::Overflow)?,
            ArithOp::Mul if $checked => a.checked_mul(b).ok_or(Fault::Overflow)?,
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div | ArithOp::Rem if b == 0 => return Err(Fault::DivideByZero),
            ArithOp::Div => a.checked_div(b).ok_or(Fault::Overflow)?,
            // MIN % -1 is 0 (Arrow's remainder does not overflow).
            ArithOp::Rem => a.wrapping_rem(b),
        };
        $variant(value)
    }};
}

fn arith(op: ArithOp, a: V, b: V, checked: bool) -> std::result::Result<V, Fault> {
    Ok(match (a, b) {
        (V::I32(a), V::I32(b)) => int_arith!(op, a, b, checked, V::I32),
        (V::I64(a), V::I64(b)) => int_arith!(op, a, b, checked, V::I64),
        (V::F64(a), V::F64(b)) => V::F64(match op {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
            ArithOp::Rem => a % b,
        }),
        (a, b) => unreachable!("the translator admits no arithmetic on {a:?} and {b:?}"),
    })
}

/// `10^exp` for `0 <= exp <= 38`.
pub(crate) fn pow10(exp: i32) -> i128 {
    debug_assert!((0..=38).contains(&exp), "10^{exp}");
    10i128.pow(exp as u32)
}

/// Decimal arithmetic as Arrow's `decimal_op` does it (always checked): `+ - %` first bring
/// both operands to the larger scale; `*` multiplies the unscaled values (scales add); `/`
/// scales the dividend (or divisor) so that the quotient has the dividend's scale plus 4.
fn decimal_arith(
    op: ArithOp,
    a: i128,
    b: i128,
    (s1, s2): (i8, i8),
) -> std::result::Result<i128, Fault> {
    let (s1, s2) = (i32::from(s1), i32::from(s2));
    let up = |v: i128, by: i32| v.checked_mul(pow10(by)).ok_or(Fault::Overflow);
    match op {
        ArithOp::Add | ArithOp::Sub | ArithOp::Rem => {
            let scale = s1.max(s2);
            let (a, b) = (up(a, scale - s1)?, up(b, scale - s2)?);
            match op {
                ArithOp::Add => a.checked_add(b).ok_or(Fault::Overflow),
                ArithOp::Sub => a.checked_sub(b).ok_or(Fault::Overflow),
                _ if b == 0 => Err(Fault::DivideByZero),
                _ => a.checked_rem(b).ok_or(Fault::Overflow),
            }
        }
        ArithOp::Mul => a.checked_mul(b).ok_or(Fault::Overflow),
        ArithOp::Div => {
            let exp = (s1 + 4).min(38) - s1 + s2;
            let (a, b) = if exp >= 0 {
                (up(a, exp)?, b)
            } else {
                (a, up(b, -exp)?)
            };
            if b == 0 {
                return Err(Fault::DivideByZero);
            }
            a.checked_div(b).ok_or(Fault::Overflow)
        }
    }
}

/// Whether `v` has at most `precision` digits.
pub(crate) fn fits_precision(v: i128, precision: u8) -> bool {
    let max = pow10(i32::from(precision)) - 1;
    (-max..=max).contains(&v)
}

/// Arrow's cast with `safe: false` semantics (the caller turns a fault into null for
/// TRY_CAST). Decimal rescaling follows arrow-cast: a cast that provably fits is computed
/// without checks, one that may not is checked against the target precision.
fn cast(v: V, from: ValueType, to: ValueType) -> std::result::Result<V, Fault> {
    Ok(match (v, to) {
        (V::I32(x), ValueType::I64) => V::I64(i64::from(x)),
        (V::I32(x), ValueType::F64) => V::F64(f64::from(x)),
        (V::I64(x), ValueType::F64) => V::F64(x as f64),
        // Int64 to Int32 or Date32 checks the range; Date32 <-> Int32 reinterpret the days.
        (V::I64(x), ValueType::I32 | ValueType::Date32) => {
            V::I32(i32::try_from(x).map_err(|_| Fault::Cast)?)
        }
        (V::I32(x), ValueType::I32 | ValueType::Date32) => V::I32(x),
        (V::I32(_) | V::I64(_), ValueType::Decimal128 { precision, scale }) => {
            let x = match v {
                V::I32(x) => i128::from(x),
                V::I64(x) => i128::from(x),
                _ => unreachable!(),
            };
            let d = x.checked_mul(pow10(i32::from(scale))).ok_or(Fault::Cast)?;
            if !fits_precision(d, precision) {
                return Err(Fault::Cast);
            }
            V::D(d)
        }
        (V::D(x), ValueType::Decimal128 { precision, scale }) => {
            let ValueType::Decimal128 {
                precision: p1,
                scale: s1,
            } = from
            else {
                unreachable!("a decimal register")
            };
            V::D(rescale(x, (p1, s1), (precision, scale))?)
        }
        (V::D(x), ValueType::F64) => V::F64(x as f64 / 10f64.powi(i32::from(scale(from)))),
        // Floats to integers truncate toward zero; NaN and values out of range do not fit
        // (num-traits' rules, which Arrow's cast uses).
        (V::F64(x), ValueType::I64) => {
            if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) {
                V::I64(x as i64)
            } else {
                return Err(Fault::Cast);
            }
        }
        (V::F64(x), ValueType::I32) => {
            // Open at both ends: -2^31 - 1 and 2^31 are out, -2^31 - 0.5 truncates in.
            if x > -2_147_483_649.0 && x < 2_147_483_648.0 {
                V::I32(x as i32)
            } else {
                return Err(Fault::Cast);
            }
        }
        // Arrow's single_float_to_decimal: round(10^scale * x), half away from zero, then
        // the target precision.
        (V::F64(x), ValueType::Decimal128 { precision, scale }) => {
            let r = (10f64.powi(i32::from(scale)) * x).round();
            if !(-(2f64.powi(127))..2f64.powi(127)).contains(&r) {
                return Err(Fault::Cast);
            }
            let d = r as i128;
            if !fits_precision(d, precision) {
                return Err(Fault::Cast);
            }
            V::D(d)
        }
        (v, to) => unreachable!("the translator admits no cast of {v:?} to {to:?}"),
    })
}

/// How a decimal-to-decimal cast is computed: multiply or divide (rounding half away from
/// zero) by `factor`, then check the target precision unless the cast provably fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rescale {
    /// `10^|scale change|`.
    pub factor: i128,
    /// Whether the scale grows (multiply) or shrinks (divide).
    pub up: bool,
    /// Whether the result must be checked against the target precision.
    pub check: bool,
}

/// The plan for casting `(p1, s1)` to `(p2, s2)`, as arrow-cast's make_upscaler and
/// make_downscaler decide it.
pub(crate) fn rescale_plan((p1, s1): (u8, i8), (p2, s2): (u8, i8)) -> Rescale {
    let (p1, s1, p2, s2) = (i32::from(p1), i32::from(s1), i32::from(p2), i32::from(s2));
    if s2 >= s1 {
        let delta = s2 - s1;
        Rescale {
            factor: pow10(delta),
            up: true,
            check: p1 + delta > p2,
        }
    } else {
        let delta = s1 - s2;
        Rescale {
            factor: pow10(delta),
            up: false,
            check: p1 - delta >= p2,
        }
    }
}

fn rescale(x: i128, from: (u8, i8), to: (u8, i8)) -> std::result::Result<i128, Fault> {
    let plan = rescale_plan(from, to);
    let v = if plan.up {
        if plan.check {
            x.checked_mul(plan.factor).ok_or(Fault::Cast)?
        } else {
            x.wrapping_mul(plan.factor)
        }
    } else {
        let (d, r) = (x / plan.factor, x % plan.factor);
        let half = plan.factor / 2;
        if x >= 0 && r >= half {
            d + 1
        } else if x < 0 && r <= -half {
            d - 1
        } else {
            d
        }
    };
    if plan.check && !fits_precision(v, to.0) {
        return Err(Fault::Cast);
    }
    Ok(v)
}

/// The civil date of a day count (Howard Hinnant's `civil_from_days`): (year, month, day).
pub(crate) fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

/// The first and last Date32 Arrow's `date_part` takes a field of (chrono's date range);
/// outside it the field is null.
pub(crate) const DATE_PART_DAYS: (i32, i32) = (-96_465_292, 95_026_236);

fn date_part(days: i32, part: DatePart) -> Option<i32> {
    if !(DATE_PART_DAYS.0..=DATE_PART_DAYS.1).contains(&days) {
        return None;
    }
    let (year, month, day) = civil_from_days(days);
    Some(match part {
        DatePart::Year => year,
        DatePart::Quarter => (month as i32 - 1) / 3 + 1,
        DatePart::Month => month as i32,
        DatePart::Day => day as i32,
    })
}

/// Characters of UTF-8 `bytes`: the bytes that do not continue a character.
pub(crate) fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// Byte range of DataFusion's `substr(s, start, count)` (PostgreSQL's rules, in characters):
/// characters `start - 1 .. start - 1 + count`, clamped to the string.
pub(crate) fn substr_bytes(s: &[u8], start: i64, count: Option<i64>) -> (usize, usize) {
    let len = s.len() as i64;
    let first = start - 1;
    let end = count.map_or(len, |c| first.saturating_add(c));
    let (first, end) = (first.clamp(0, len) as usize, end.clamp(0, len) as usize);
    let (mut from, mut to) = (s.len(), s.len());
    let mut chars = 0usize;
    for (byte, &b) in s.iter().enumerate() {
        if b & 0xC0 == 0x80 {
            continue;
        }
        if chars == first {
            from = byte;
        }
        if chars == end {
            to = byte;
            break;
        }
        chars += 1;
    }
    (from, to.max(from))
}

/// `s LIKE pattern` for a pattern of literal `segments` separated by `%` (see `Instr::Like`).
pub(crate) fn like(s: &[u8], segments: &[&[u8]], open_start: bool, open_end: bool) -> bool {
    let n = segments.len();
    if n == 1 && !open_start && !open_end {
        return s == segments[0];
    }
    let (mut pos, mut end) = (0, s.len());
    let (mut first, mut last) = (0, n);
    if !open_start {
        if !s.starts_with(segments[0]) {
            return false;
        }
        pos = segments[0].len();
        first = 1;
    }
    if !open_end && last > first {
        let tail = segments[n - 1];
        if tail.len() > end - pos || !s.ends_with(tail) {
            return false;
        }
        end -= tail.len();
        last = n - 1;
    }
    for segment in &segments[first..last] {
        match find(&s[pos..end], segment) {
            Some(at) => pos += at + segment.len(),
            None => return false,
        }
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn ordered(op: CmpOp, ordering: Ordering) -> bool {
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::NotEq => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::LtEq => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::GtEq => ordering != Ordering::Less,
    }
}

/// Comparison as Arrow's kernels do it: floats by IEEE total order (a NaN equals a NaN with
/// the same bits; positive NaNs sort above every number, negative ones below), except that
/// -0.0 and 0.0 are equal.
fn compare(op: CmpOp, a: V, b: V) -> bool {
    let ordering = match (a, b) {
        (V::B(a), V::B(b)) => a.cmp(&b),
        (V::I32(a), V::I32(b)) => a.cmp(&b),
        (V::I64(a), V::I64(b)) => a.cmp(&b),
        (V::D(a), V::D(b)) => a.cmp(&b),
        (V::F64(a), V::F64(b)) if a == b => Ordering::Equal,
        (V::F64(a), V::F64(b)) => a.total_cmp(&b),
        (a, b) => unreachable!("the translator admits no comparison of {a:?} and {b:?}"),
    };
    ordered(op, ordering)
}

/// Membership in an IN list, as DataFusion's IN does it: floats match by total order, so
/// -0.0 does not match 0.0 (unlike `=`).
fn in_list_match(v: V, item: V) -> bool {
    match (v, item) {
        (V::F64(a), V::F64(b)) => a.total_cmp(&b) == Ordering::Equal,
        (a, b) => compare(CmpOp::Eq, a, b),
    }
}

/// The result column under construction.
enum Output {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Date32(Date32Builder),
    Decimal(Decimal128Builder, u8, i8),
}

impl Output {
    fn new(ty: ValueType, rows: usize) -> Self {
        match ty {
            ValueType::Bool => Output::Bool(BooleanBuilder::with_capacity(rows)),
            ValueType::I32 => Output::I32(Int32Builder::with_capacity(rows)),
            ValueType::I64 => Output::I64(Int64Builder::with_capacity(rows)),
            ValueType::F64 => Output::F64(Float64Builder::with_capacity(rows)),
            ValueType::Date32 => Output::Date32(Date32Builder::with_capacity(rows)),
            ValueType::Decimal128 { precision, scale } => {
                Output::Decimal(Decimal128Builder::with_capacity(rows), precision, scale)
            }
            ValueType::Str => unreachable!("`evaluate` refuses string results"),
        }
    }

    fn push(&mut self, v: Option<V>) {
        match (self, v) {
            (Output::Bool(b), Some(V::B(x))) => b.append_value(x),
            (Output::I32(b), Some(V::I32(x))) => b.append_value(x),
            (Output::Date32(b), Some(V::I32(x))) => b.append_value(x),
            (Output::I64(b), Some(V::I64(x))) => b.append_value(x),
            (Output::F64(b), Some(V::F64(x))) => b.append_value(x),
            (Output::Decimal(b, _, _), Some(V::D(x))) => b.append_value(x),
            (Output::Bool(b), None) => b.append_null(),
            (Output::I32(b), None) => b.append_null(),
            (Output::Date32(b), None) => b.append_null(),
            (Output::I64(b), None) => b.append_null(),
            (Output::F64(b), None) => b.append_null(),
            (Output::Decimal(b, _, _), None) => b.append_null(),
            (_, v) => unreachable!("register type mismatch: {v:?}"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Output::Bool(mut b) => Arc::new(b.finish()),
            Output::I32(mut b) => Arc::new(b.finish()),
            Output::I64(mut b) => Arc::new(b.finish()),
            Output::F64(mut b) => Arc::new(b.finish()),
            Output::Date32(mut b) => Arc::new(b.finish()),
            Output::Decimal(mut b, precision, scale) => Arc::new(
                b.finish()
                    .with_precision_and_scale(precision, scale)
                    .expect("a validated decimal type"),
            ),
        }
    }
}
