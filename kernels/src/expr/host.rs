//! Host reference of the expression interpreter: every instruction, row by row, with the
//! semantics the device interpreter must match (and which the tests hold to DataFusion's).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder,
    Int64Builder, RecordBatch,
};
use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type};

use super::program::{ArithOp, CmpOp, Instr, Program, Scalar, ValueType};
use crate::{KernelError, Result};

/// A register's value in one row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    B(bool),
    I32(i32),
    I64(i64),
    F64(f64),
}

impl From<Scalar> for V {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => V::B(b),
            Scalar::I32(v) | Scalar::Date32(v) => V::I32(v),
            Scalar::I64(v) => V::I64(v),
            Scalar::F64(v) => V::F64(v),
        }
    }
}

/// Evaluates `program` on every row of `batch` into an array of the program's result type.
///
/// Integer division or remainder by zero, and overflow in checked arithmetic or integer
/// division, fail the whole evaluation (as DataFusion does); null rows never fail.
pub fn evaluate(program: &Program, batch: &RecordBatch) -> Result<ArrayRef> {
    let rows = batch.num_rows();
    let mut regs: Vec<Option<V>> = vec![None; program.instrs.len()];
    let mut out = Output::new(program.result_type(), rows);
    for row in 0..rows {
        for (i, instr) in program.instrs.iter().enumerate() {
            regs[i] = step(instr, &regs, batch, row)?;
        }
        out.push(regs[program.result.0 as usize]);
    }
    Ok(out.finish())
}

fn step(instr: &Instr, regs: &[Option<V>], batch: &RecordBatch, row: usize) -> Result<Option<V>> {
    let reg = |r: super::Reg| regs[r.0 as usize];
    Ok(match instr {
        Instr::Column { index } => read(batch.column(*index), row),
        Instr::Literal(value) => value.map(V::from),
        Instr::Arith {
            op,
            left,
            right,
            checked,
        } => match (reg(*left), reg(*right)) {
            (Some(a), Some(b)) => Some(arith(*op, a, b, *checked)?),
            _ => None,
        },
        Instr::Negate(value) => reg(*value).map(|v| match v {
            V::I32(x) => V::I32(x.wrapping_neg()),
            V::I64(x) => V::I64(x.wrapping_neg()),
            V::F64(x) => V::F64(-x),
            V::B(b) => V::B(b),
        }),
        Instr::Cmp { op, left, right } => match (reg(*left), reg(*right)) {
            (Some(a), Some(b)) => Some(V::B(compare(*op, a, b))),
            _ => None,
        },
        Instr::And(l, r) => match (as_bool(reg(*l)), as_bool(reg(*r))) {
            (Some(false), _) | (_, Some(false)) => Some(V::B(false)),
            (Some(true), Some(true)) => Some(V::B(true)),
            _ => None,
        },
        Instr::Or(l, r) => match (as_bool(reg(*l)), as_bool(reg(*r))) {
            (Some(true), _) | (_, Some(true)) => Some(V::B(true)),
            (Some(false), Some(false)) => Some(V::B(false)),
            _ => None,
        },
        Instr::Not(value) => as_bool(reg(*value)).map(|b| V::B(!b)),
        Instr::IsNull(value) => Some(V::B(reg(*value).is_none())),
        Instr::IsNotNull(value) => Some(V::B(reg(*value).is_some())),
        Instr::InList {
            value,
            list,
            list_has_null,
            negated,
        } => reg(*value).and_then(|v| {
            if list.iter().any(|&item| in_list_match(v, V::from(item))) {
                Some(V::B(!negated))
            } else if *list_has_null {
                None
            } else {
                Some(V::B(*negated))
            }
        }),
        Instr::Cast { value, to } => reg(*value).map(|v| match (v, to) {
            (V::I32(x), ValueType::I64) => V::I64(i64::from(x)),
            (V::I32(x), ValueType::F64) => V::F64(f64::from(x)),
            (V::I64(x), ValueType::F64) => V::F64(x as f64),
            (v, _) => v,
        }),
    })
}

fn as_bool(v: Option<V>) -> Option<bool> {
    match v {
        Some(V::B(b)) => Some(b),
        _ => None,
    }
}

fn read(column: &ArrayRef, row: usize) -> Option<V> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        arrow::datatypes::DataType::Boolean => V::B(column.as_boolean().value(row)),
        arrow::datatypes::DataType::Int32 => V::I32(column.as_primitive::<Int32Type>().value(row)),
        arrow::datatypes::DataType::Date32 => {
            V::I32(column.as_primitive::<Date32Type>().value(row))
        }
        arrow::datatypes::DataType::Int64 => V::I64(column.as_primitive::<Int64Type>().value(row)),
        arrow::datatypes::DataType::Float64 => {
            V::F64(column.as_primitive::<Float64Type>().value(row))
        }
        other => unreachable!("the translator admits no {other} column"),
    })
}

fn overflow(op: ArithOp, a: impl std::fmt::Display, b: impl std::fmt::Display) -> KernelError {
    KernelError::Execution(format!("Arithmetic overflow: {a} {op:?} {b}"))
}

fn divide_by_zero() -> KernelError {
    KernelError::Execution("Divide by zero error".to_string())
}

macro_rules! int_arith {
    ($op:expr, $a:expr, $b:expr, $checked:expr, $variant:path) => {{
        let (a, b) = ($a, $b);
        let value = match $op {
            ArithOp::Add if $checked => a.checked_add(b).ok_or_else(|| overflow($op, a, b))?,
            ArithOp::Sub if $checked => a.checked_sub(b).ok_or_else(|| overflow($op, a, b))?,
            ArithOp::Mul if $checked => a.checked_mul(b).ok_or_else(|| overflow($op, a, b))?,
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div if b == 0 => return Err(divide_by_zero()),
            ArithOp::Rem if b == 0 => return Err(divide_by_zero()),
            ArithOp::Div => a.checked_div(b).ok_or_else(|| overflow($op, a, b))?,
            // MIN % -1 is 0 (Arrow's remainder does not overflow).
            ArithOp::Rem => a.wrapping_rem(b),
        };
        $variant(value)
    }};
}

fn arith(op: ArithOp, a: V, b: V, checked: bool) -> Result<V> {
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

/// Comparison as Arrow's kernels do it: floats by IEEE total order (a NaN equals a NaN with
/// the same bits; positive NaNs sort above every number, negative ones below), except that
/// -0.0 and 0.0 are equal.
fn compare(op: CmpOp, a: V, b: V) -> bool {
    let ordering = match (a, b) {
        (V::B(a), V::B(b)) => a.cmp(&b),
        (V::I32(a), V::I32(b)) => a.cmp(&b),
        (V::I64(a), V::I64(b)) => a.cmp(&b),
        (V::F64(a), V::F64(b)) if a == b => Ordering::Equal,
        (V::F64(a), V::F64(b)) => a.total_cmp(&b),
        (a, b) => unreachable!("the translator admits no comparison of {a:?} and {b:?}"),
    };
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::NotEq => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::LtEq => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::GtEq => ordering != Ordering::Less,
    }
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
}

impl Output {
    fn new(ty: ValueType, rows: usize) -> Self {
        match ty {
            ValueType::Bool => Output::Bool(BooleanBuilder::with_capacity(rows)),
            ValueType::I32 => Output::I32(Int32Builder::with_capacity(rows)),
            ValueType::I64 => Output::I64(Int64Builder::with_capacity(rows)),
            ValueType::F64 => Output::F64(Float64Builder::with_capacity(rows)),
            ValueType::Date32 => Output::Date32(Date32Builder::with_capacity(rows)),
        }
    }

    fn push(&mut self, v: Option<V>) {
        match (self, v) {
            (Output::Bool(b), Some(V::B(x))) => b.append_value(x),
            (Output::I32(b), Some(V::I32(x))) => b.append_value(x),
            (Output::Date32(b), Some(V::I32(x))) => b.append_value(x),
            (Output::I64(b), Some(V::I64(x))) => b.append_value(x),
            (Output::F64(b), Some(V::F64(x))) => b.append_value(x),
            (Output::Bool(b), None) => b.append_null(),
            (Output::I32(b), None) => b.append_null(),
            (Output::Date32(b), None) => b.append_null(),
            (Output::I64(b), None) => b.append_null(),
            (Output::F64(b), None) => b.append_null(),
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
        }
    }
}
