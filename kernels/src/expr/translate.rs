//! DataFusion `PhysicalExpr` -> [`Program`], or the precise reason it cannot be.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, Literal, NegativeExpr,
    NotExpr,
};

use super::program::{ArithOp, CmpOp, Instr, Program, Reg, Scalar, ValueType};

/// Why an expression stays on the CPU; displays as `not supported on GPU: <expr>: <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The (sub)expression that cannot be translated.
    pub expr: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not supported on GPU: {}: {}", self.expr, self.reason)
    }
}

impl std::error::Error for Unsupported {}

/// Most registers one program may use; the device interpreter keeps them per thread.
pub const MAX_REGISTERS: usize = 64;

/// Translates `expr`, evaluated against batches of `schema`, into a [`Program`].
pub fn translate(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Program, Unsupported> {
    let mut builder = Builder {
        schema,
        program: Program {
            instrs: Vec::new(),
            types: Vec::new(),
            result: Reg(0),
        },
    };
    let result = builder.visit(expr)?;
    builder.program.result = result;
    Ok(builder.program)
}

struct Builder<'a> {
    schema: &'a Schema,
    program: Program,
}

fn unsupported(expr: &dyn PhysicalExpr, reason: impl Into<String>) -> Unsupported {
    Unsupported {
        expr: expr.to_string(),
        reason: reason.into(),
    }
}

impl Builder<'_> {
    fn push(
        &mut self,
        expr: &dyn PhysicalExpr,
        instr: Instr,
        ty: ValueType,
    ) -> Result<Reg, Unsupported> {
        if self.program.instrs.len() >= MAX_REGISTERS {
            return Err(unsupported(
                expr,
                format!("needs more than {MAX_REGISTERS} registers"),
            ));
        }
        self.program.instrs.push(instr);
        self.program.types.push(ty);
        Ok(Reg((self.program.instrs.len() - 1) as u16))
    }

    fn ty(&self, reg: Reg) -> ValueType {
        self.program.types[reg.0 as usize]
    }

    fn visit(&mut self, expr: &Arc<dyn PhysicalExpr>) -> Result<Reg, Unsupported> {
        let e = expr.as_ref();
        if let Some(column) = e.downcast_ref::<Column>() {
            let field = self
                .schema
                .fields()
                .get(column.index())
                .ok_or_else(|| unsupported(e, "column index is outside the input schema"))?;
            let ty = ValueType::from_arrow(field.data_type()).ok_or_else(|| {
                unsupported(
                    e,
                    format!("type {} is not supported yet", field.data_type()),
                )
            })?;
            return self.push(
                e,
                Instr::Column {
                    index: column.index(),
                },
                ty,
            );
        }
        if let Some(literal) = e.downcast_ref::<Literal>() {
            let (value, ty) = scalar(literal.value()).ok_or_else(|| {
                unsupported(
                    e,
                    format!(
                        "literal of type {} is not supported yet",
                        literal.value().data_type()
                    ),
                )
            })?;
            return self.push(e, Instr::Literal(value), ty);
        }
        if let Some(binary) = e.downcast_ref::<BinaryExpr>() {
            return self.binary(e, binary);
        }
        if let Some(not) = e.downcast_ref::<NotExpr>() {
            let arg = self.visit(not.arg())?;
            self.expect(e, arg, ValueType::Bool)?;
            return self.push(e, Instr::Not(arg), ValueType::Bool);
        }
        if let Some(is_null) = e.downcast_ref::<IsNullExpr>() {
            let arg = self.visit(is_null.arg())?;
            return self.push(e, Instr::IsNull(arg), ValueType::Bool);
        }
        if let Some(is_not_null) = e.downcast_ref::<IsNotNullExpr>() {
            let arg = self.visit(is_not_null.arg())?;
            return self.push(e, Instr::IsNotNull(arg), ValueType::Bool);
        }
        if let Some(negative) = e.downcast_ref::<NegativeExpr>() {
            let arg = self.visit(negative.arg())?;
            let ty = self.ty(arg);
            if !ty.is_numeric() {
                return Err(unsupported(e, format!("negation of {ty:?}")));
            }
            return self.push(e, Instr::Negate(arg), ty);
        }
        if let Some(in_list) = e.downcast_ref::<InListExpr>() {
            return self.in_list(e, in_list);
        }
        if let Some(cast) = e.downcast_ref::<CastExpr>() {
            let value = self.visit(cast.expr())?;
            let from = self.ty(value);
            let to = ValueType::from_arrow(cast.cast_type()).ok_or_else(|| {
                unsupported(
                    e,
                    format!("cast to {} is not supported yet", cast.cast_type()),
                )
            })?;
            if from == to {
                return Ok(value);
            }
            let widening = matches!(
                (from, to),
                (ValueType::I32, ValueType::I64)
                    | (ValueType::I32, ValueType::F64)
                    | (ValueType::I64, ValueType::F64)
            );
            if !widening {
                return Err(unsupported(
                    e,
                    format!(
                        "cast from {from:?} to {to:?} is not supported yet (only widening numeric casts)"
                    ),
                ));
            }
            return self.push(e, Instr::Cast { value, to }, to);
        }
        Err(unsupported(
            e,
            "this kind of expression is not supported yet",
        ))
    }

    fn expect(&self, e: &dyn PhysicalExpr, reg: Reg, ty: ValueType) -> Result<(), Unsupported> {
        let got = self.ty(reg);
        if got == ty {
            Ok(())
        } else {
            Err(unsupported(
                e,
                format!("expected a {ty:?} operand, got {got:?}"),
            ))
        }
    }

    fn binary(&mut self, e: &dyn PhysicalExpr, binary: &BinaryExpr) -> Result<Reg, Unsupported> {
        let op = *binary.op();
        let arith = match op {
            Operator::Plus => Some(ArithOp::Add),
            Operator::Minus => Some(ArithOp::Sub),
            Operator::Multiply => Some(ArithOp::Mul),
            Operator::Divide => Some(ArithOp::Div),
            Operator::Modulo => Some(ArithOp::Rem),
            _ => None,
        };
        let cmp = match op {
            Operator::Eq => Some(CmpOp::Eq),
            Operator::NotEq => Some(CmpOp::NotEq),
            Operator::Lt => Some(CmpOp::Lt),
            Operator::LtEq => Some(CmpOp::LtEq),
            Operator::Gt => Some(CmpOp::Gt),
            Operator::GtEq => Some(CmpOp::GtEq),
            _ => None,
        };
        if arith.is_none() && cmp.is_none() && !matches!(op, Operator::And | Operator::Or) {
            return Err(unsupported(
                e,
                format!("operator {op} is not supported yet"),
            ));
        }
        let left = self.visit(binary.left())?;
        let right = self.visit(binary.right())?;
        let (lt, rt) = (self.ty(left), self.ty(right));
        if lt != rt {
            return Err(unsupported(
                e,
                format!("operands of different types ({lt:?} {op} {rt:?})"),
            ));
        }
        if let Some(op) = arith {
            if !lt.is_numeric() {
                return Err(unsupported(e, format!("arithmetic on {lt:?}")));
            }
            // BinaryExpr hides its overflow mode; an equal expression built without it tells.
            let wrapping = BinaryExpr::new(
                Arc::clone(binary.left()),
                *binary.op(),
                Arc::clone(binary.right()),
            );
            let checked = *binary != wrapping;
            return self.push(
                e,
                Instr::Arith {
                    op,
                    left,
                    right,
                    checked,
                },
                lt,
            );
        }
        if let Some(op) = cmp {
            return self.push(e, Instr::Cmp { op, left, right }, ValueType::Bool);
        }
        self.expect(e, left, ValueType::Bool)?;
        let instr = if op == Operator::And {
            Instr::And(left, right)
        } else {
            Instr::Or(left, right)
        };
        self.push(e, instr, ValueType::Bool)
    }

    fn in_list(&mut self, e: &dyn PhysicalExpr, in_list: &InListExpr) -> Result<Reg, Unsupported> {
        let value = self.visit(in_list.expr())?;
        let ty = self.ty(value);
        let mut list = Vec::with_capacity(in_list.list().len());
        let mut list_has_null = false;
        for item in in_list.list() {
            let constant =
                constant(item).ok_or_else(|| unsupported(e, "IN list items must be literals"))?;
            match scalar(&constant) {
                Some((Some(s), t)) if t == ty => list.push(s),
                Some((None, _)) => list_has_null = true,
                _ => {
                    return Err(unsupported(
                        e,
                        format!("IN list item {constant} does not have the type {ty:?}"),
                    ));
                }
            }
        }
        self.push(
            e,
            Instr::InList {
                value,
                list,
                list_has_null,
                negated: in_list.negated(),
            },
            ValueType::Bool,
        )
    }
}

/// The value of a constant expression: a literal, or casts of one (type coercion wraps IN list
/// items, e.g. `CAST(NULL AS Int64)`).
fn constant(expr: &Arc<dyn PhysicalExpr>) -> Option<ScalarValue> {
    if let Some(literal) = expr.downcast_ref::<Literal>() {
        return Some(literal.value().clone());
    }
    let cast = expr.downcast_ref::<CastExpr>()?;
    constant(cast.expr())?.cast_to(cast.cast_type()).ok()
}

/// A DataFusion scalar as a program constant: `(None, type)` for a typed null.
fn scalar(value: &ScalarValue) -> Option<(Option<Scalar>, ValueType)> {
    Some(match value {
        ScalarValue::Boolean(v) => (v.map(Scalar::Bool), ValueType::Bool),
        ScalarValue::Int32(v) => (v.map(Scalar::I32), ValueType::I32),
        ScalarValue::Int64(v) => (v.map(Scalar::I64), ValueType::I64),
        ScalarValue::Float64(v) => (v.map(Scalar::F64), ValueType::F64),
        ScalarValue::Date32(v) => (v.map(Scalar::Date32), ValueType::Date32),
        _ => return None,
    })
}
