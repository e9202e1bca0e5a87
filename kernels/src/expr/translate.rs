//! DataFusion `PhysicalExpr` -> [`Program`], or the precise reason it cannot be.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, LikeExpr,
    Literal, NegativeExpr, NotExpr, TryCastExpr,
};

use super::program::{ArithOp, CmpOp, DatePart, Instr, Program, Reg, Scalar, ValueType};

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
            strings: Vec::new(),
            string_output: None,
        },
    };
    let result = builder.visit(expr)?;
    if builder.ty(result) == ValueType::Str {
        let declared = expr
            .data_type(schema)
            .map_err(|e| unsupported(expr.as_ref(), e.to_string()))?;
        if ValueType::from_arrow(&declared) != Some(ValueType::Str) {
            return Err(unsupported(
                expr.as_ref(),
                format!("a string result typed {declared}"),
            ));
        }
        builder.program.string_output = Some(declared);
    }
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
            let (value, ty) = self.scalar(literal.value()).ok_or_else(|| {
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
        if e.downcast_ref::<CastExpr>().is_some() || e.downcast_ref::<TryCastExpr>().is_some() {
            // A cast of a constant is a constant (the planner's simplifier usually folds it).
            if let Some(value) = constant(expr) {
                let (value, ty) = self.scalar(&value).ok_or_else(|| {
                    unsupported(
                        e,
                        format!(
                            "constant of type {} is not supported yet",
                            value.data_type()
                        ),
                    )
                })?;
                return self.push(e, Instr::Literal(value), ty);
            }
        }
        if let Some(cast) = e.downcast_ref::<CastExpr>() {
            // DataFusion's CAST errs on values that do not fit unless its options say `safe`.
            return self.cast(e, cast.expr(), cast.cast_type(), cast.cast_options().safe);
        }
        if let Some(cast) = e.downcast_ref::<TryCastExpr>() {
            return self.cast(e, cast.expr(), cast.cast_type(), true);
        }
        if let Some(case) = e.downcast_ref::<CaseExpr>() {
            return self.case(e, case);
        }
        if let Some(function) = e.downcast_ref::<ScalarFunctionExpr>() {
            return self.function(e, function);
        }
        if let Some(like) = e.downcast_ref::<LikeExpr>() {
            return self.like(e, like);
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
        if let (Some(ls), Some(rs)) = (lt.decimal_scale(), rt.decimal_scale()) {
            return self.decimal_binary(e, binary, op, (left, ls), (right, rs), arith, cmp);
        }
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

    /// Arithmetic and comparisons on two decimals, which may differ in precision and scale:
    /// Arrow rescales them itself, with the result type the expression declares.
    #[allow(clippy::too_many_arguments)]
    fn decimal_binary(
        &mut self,
        e: &dyn PhysicalExpr,
        binary: &BinaryExpr,
        op: Operator,
        (left, ls): (Reg, i8),
        (right, rs): (Reg, i8),
        arith: Option<ArithOp>,
        cmp: Option<CmpOp>,
    ) -> Result<Reg, Unsupported> {
        if let Some(cmp) = cmp {
            if ls != rs {
                return Err(unsupported(
                    e,
                    format!("comparison of decimals with scales {ls} and {rs}"),
                ));
            }
            return self.push(
                e,
                Instr::Cmp {
                    op: cmp,
                    left,
                    right,
                },
                ValueType::Bool,
            );
        }
        let Some(arith) = arith else {
            return Err(unsupported(e, format!("operator {op} on decimals")));
        };
        let declared = binary
            .data_type(self.schema)
            .map_err(|err| unsupported(e, err.to_string()))?;
        let ty = ValueType::from_arrow(&declared).ok_or_else(|| {
            unsupported(e, format!("result type {declared} is not supported yet"))
        })?;
        let result_scale = ty.decimal_scale().unwrap_or(-1);
        // Arrow's rules (arrow-arith's decimal_op): the scale each operator gives.
        let (expected, factor) = match arith {
            ArithOp::Add | ArithOp::Sub | ArithOp::Rem => (ls.max(rs), i32::from(ls.max(rs))),
            ArithOp::Mul => (ls.saturating_add(rs), 0),
            ArithOp::Div => {
                let scale = ls.saturating_add(4).min(38);
                (scale, i32::from(scale) - i32::from(ls) + i32::from(rs))
            }
        };
        if i32::from(ls) + i32::from(rs) > 38 && arith == ArithOp::Mul {
            return Err(unsupported(e, "the product's scale would exceed 38"));
        }
        if expected != result_scale || factor.abs() > 38 {
            return Err(unsupported(
                e,
                format!("{declared} is not the result Arrow gives for scales {ls} and {rs}"),
            ));
        }
        self.push(
            e,
            Instr::Arith {
                op: arith,
                left,
                right,
                // Arrow's decimal arithmetic is always checked.
                checked: true,
            },
            ty,
        )
    }

    fn cast(
        &mut self,
        e: &dyn PhysicalExpr,
        input: &Arc<dyn PhysicalExpr>,
        to: &arrow::datatypes::DataType,
        safe: bool,
    ) -> Result<Reg, Unsupported> {
        let value = self.visit(input)?;
        let from = self.ty(value);
        let to = ValueType::from_arrow(to)
            .ok_or_else(|| unsupported(e, format!("cast to {to} is not supported yet")))?;
        if from == to {
            return Ok(value);
        }
        use ValueType::*;
        let supported = matches!(
            (from, to),
            (I32, I64)
                | (I32, F64)
                | (I64, F64)
                | (I64, I32)
                | (I32 | I64, Decimal128 { .. })
                | (Decimal128 { .. }, Decimal128 { .. })
                | (Decimal128 { .. }, F64)
                | (F64, I64 | I32 | Decimal128 { .. })
                | (Date32, I32 | I64)
                | (I32 | I64, Date32)
        );
        if !supported {
            return Err(unsupported(
                e,
                format!("cast from {from:?} to {to:?} is not supported yet"),
            ));
        }
        self.push(e, Instr::Cast { value, to, safe }, to)
    }

    fn case(&mut self, e: &dyn PhysicalExpr, case: &CaseExpr) -> Result<Reg, Unsupported> {
        let base = match case.expr() {
            Some(base) => {
                let reg = self.visit(base)?;
                if self.ty(reg) == ValueType::F64 {
                    // DataFusion may match float WHEN values by a lookup table, whose notion
                    // of equality for NaN and -0.0 is not `=`'s.
                    return Err(unsupported(e, "CASE <Float64> WHEN ... is not supported"));
                }
                Some(reg)
            }
            None => None,
        };
        let result_type = |this: &Self, reg: Reg, ty: &mut Option<ValueType>| {
            let t = this.ty(reg);
            match ty {
                Some(expected) if *expected != t => Err(unsupported(
                    e,
                    format!("CASE values of types {expected:?} and {t:?}"),
                )),
                _ => {
                    *ty = Some(t);
                    Ok(())
                }
            }
        };
        let mut ty = None;
        let mut branches = Vec::with_capacity(case.when_then_expr().len());
        for (when, then) in case.when_then_expr() {
            let when = self.visit(when)?;
            let condition = match base {
                Some(base) => {
                    let (bt, wt) = (self.ty(base), self.ty(when));
                    if bt != wt {
                        return Err(unsupported(
                            e,
                            format!("CASE {bt:?} WHEN {wt:?} compares different types"),
                        ));
                    }
                    self.push(
                        e,
                        Instr::Cmp {
                            op: CmpOp::Eq,
                            left: base,
                            right: when,
                        },
                        ValueType::Bool,
                    )?
                }
                None => {
                    self.expect(e, when, ValueType::Bool)?;
                    when
                }
            };
            let then = self.visit(then)?;
            result_type(self, then, &mut ty)?;
            branches.push((condition, then));
        }
        let otherwise = match case.else_expr() {
            Some(other) => {
                let reg = self.visit(other)?;
                result_type(self, reg, &mut ty)?;
                Some(reg)
            }
            None => None,
        };
        let ty = ty.ok_or_else(|| unsupported(e, "CASE without a value"))?;
        self.push(
            e,
            Instr::Case {
                branches,
                otherwise,
            },
            ty,
        )
    }

    fn function(
        &mut self,
        e: &dyn PhysicalExpr,
        function: &ScalarFunctionExpr,
    ) -> Result<Reg, Unsupported> {
        match function.name() {
            "date_part" => {
                let [part, value] = function.args() else {
                    return Err(unsupported(e, "date_part takes two arguments"));
                };
                let part = match constant(part) {
                    Some(ScalarValue::Utf8(Some(p)) | ScalarValue::Utf8View(Some(p))) => p,
                    _ => return Err(unsupported(e, "the date part must be a constant string")),
                };
                let part = match part.to_ascii_lowercase().as_str() {
                    "year" => DatePart::Year,
                    "quarter" => DatePart::Quarter,
                    "month" => DatePart::Month,
                    "day" => DatePart::Day,
                    other => {
                        return Err(unsupported(
                            e,
                            format!("date part {other} is not supported"),
                        ));
                    }
                };
                let value = self.visit(value)?;
                self.expect(e, value, ValueType::Date32)?;
                if function.return_type() != &arrow::datatypes::DataType::Int32 {
                    return Err(unsupported(
                        e,
                        format!("date_part returning {}", function.return_type()),
                    ));
                }
                self.push(e, Instr::DatePart { value, part }, ValueType::I32)
            }
            "substr" => {
                let (value, start, count) = match function.args() {
                    [value, start] => (value, start, None),
                    [value, start, count] => (value, start, Some(count)),
                    _ => return Err(unsupported(e, "substr takes two or three arguments")),
                };
                let int = |arg: &Arc<dyn PhysicalExpr>| match constant(arg) {
                    Some(ScalarValue::Int64(Some(v))) => Some(v),
                    _ => None,
                };
                let start = int(start)
                    .filter(|s| *s != i64::MIN)
                    .ok_or_else(|| unsupported(e, "the substr start must be a constant"))?;
                let count = match count {
                    Some(count) => Some(int(count).filter(|c| *c >= 0).ok_or_else(|| {
                        unsupported(e, "the substr count must be a constant >= 0")
                    })?),
                    None => None,
                };
                let value = self.visit(value)?;
                self.expect(e, value, ValueType::Str)?;
                self.push(
                    e,
                    Instr::Substr {
                        value,
                        start,
                        count,
                    },
                    ValueType::Str,
                )
            }
            "character_length" | "char_length" | "length" => {
                let [value] = function.args() else {
                    return Err(unsupported(e, "character_length takes one argument"));
                };
                let value = self.visit(value)?;
                self.expect(e, value, ValueType::Str)?;
                let ty = match function.return_type() {
                    arrow::datatypes::DataType::Int32 => ValueType::I32,
                    arrow::datatypes::DataType::Int64 => ValueType::I64,
                    other => {
                        return Err(unsupported(
                            e,
                            format!("character_length returning {other}"),
                        ));
                    }
                };
                self.push(e, Instr::CharLength(value), ty)
            }
            name => Err(unsupported(
                e,
                format!("function {name} is not supported yet"),
            )),
        }
    }

    /// A DataFusion scalar as a program constant: `(None, type)` for a typed null. Strings
    /// go into the program's string pool.
    fn scalar(&mut self, value: &ScalarValue) -> Option<(Option<Scalar>, ValueType)> {
        Some(match value {
            ScalarValue::Boolean(v) => (v.map(Scalar::Bool), ValueType::Bool),
            ScalarValue::Int32(v) => (v.map(Scalar::I32), ValueType::I32),
            ScalarValue::Int64(v) => (v.map(Scalar::I64), ValueType::I64),
            ScalarValue::Float64(v) => (v.map(Scalar::F64), ValueType::F64),
            ScalarValue::Date32(v) => (v.map(Scalar::Date32), ValueType::Date32),
            ScalarValue::Decimal128(v, precision, scale) => {
                let ty = ValueType::from_arrow(&value.data_type())?;
                (v.map(|v| Scalar::Decimal128(v, *precision, *scale)), ty)
            }
            ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => (
                v.as_ref().map(|s| Scalar::Str(self.intern(s))),
                ValueType::Str,
            ),
            _ => return None,
        })
    }

    /// The index of `s` in the program's string pool.
    fn intern(&mut self, s: &str) -> u32 {
        let strings = &mut self.program.strings;
        match strings.iter().position(|t| t == s) {
            Some(i) => i as u32,
            None => {
                strings.push(s.to_string());
                (strings.len() - 1) as u32
            }
        }
    }

    fn like(&mut self, e: &dyn PhysicalExpr, like: &LikeExpr) -> Result<Reg, Unsupported> {
        if like.case_insensitive() {
            return Err(unsupported(e, "ILIKE is not supported yet"));
        }
        let pattern = match constant(like.pattern()) {
            Some(ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)))
            | Some(ScalarValue::Utf8View(Some(p))) => p,
            _ => return Err(unsupported(e, "the LIKE pattern must be a constant string")),
        };
        if pattern.contains(['_', '\\']) {
            return Err(unsupported(
                e,
                "LIKE patterns with _ or escapes are not supported yet",
            ));
        }
        let value = self.visit(like.expr())?;
        self.expect(e, value, ValueType::Str)?;
        let open_start = pattern.starts_with('%');
        let open_end = pattern.ends_with('%');
        let pieces: Vec<&str> = pattern.split('%').collect();
        let n = pieces.len();
        let mut segments = Vec::with_capacity(n);
        for (i, piece) in pieces.into_iter().enumerate() {
            // Empty pieces only matter as the anchored first or last segment.
            let anchored = (i == 0 && !open_start) || (i == n - 1 && !open_end);
            if piece.is_empty() && !anchored {
                continue;
            }
            segments.push(self.intern(piece));
        }
        self.push(
            e,
            Instr::Like {
                value,
                segments,
                open_start,
                open_end,
                negated: like.negated(),
            },
            ValueType::Bool,
        )
    }

    fn in_list(&mut self, e: &dyn PhysicalExpr, in_list: &InListExpr) -> Result<Reg, Unsupported> {
        let value = self.visit(in_list.expr())?;
        let ty = self.ty(value);
        let mut list = Vec::with_capacity(in_list.list().len());
        let mut list_has_null = false;
        for item in in_list.list() {
            let constant =
                constant(item).ok_or_else(|| unsupported(e, "IN list items must be literals"))?;
            match self.scalar(&constant) {
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
    if let Some(cast) = expr.downcast_ref::<CastExpr>() {
        return constant(cast.expr())?
            .cast_to_with_options(cast.cast_type(), cast.cast_options())
            .ok();
    }
    let cast = expr.downcast_ref::<TryCastExpr>()?;
    let value = constant(cast.expr())?;
    value
        .cast_to(cast.cast_type())
        .or_else(|_| ScalarValue::try_from(cast.cast_type()))
        .ok()
}
