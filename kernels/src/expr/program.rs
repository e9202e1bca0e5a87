//! The device program: typed registers, one instruction per expression node.

use std::fmt;

/// The type of a register. Each maps to one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Arrow `Boolean`.
    Bool,
    /// Arrow `Int32`.
    I32,
    /// Arrow `Int64`.
    I64,
    /// Arrow `Float64`.
    F64,
    /// Arrow `Date32` (days since the epoch).
    Date32,
    /// A string from a `Utf8`, `LargeUtf8` or `Utf8View` column, a literal, or a substring
    /// of one. As a program's result it is built as [`Program::string_output`].
    Str,
    /// Arrow `Decimal128(precision, scale)`: an `i128` count of `10^-scale` units.
    Decimal128 {
        /// Decimal digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision (negative scales are not supported).
        scale: i8,
    },
}

impl ValueType {
    /// The Arrow type of a register of this type.
    pub fn arrow_type(self) -> arrow::datatypes::DataType {
        use arrow::datatypes::DataType;
        match self {
            ValueType::Bool => DataType::Boolean,
            ValueType::I32 => DataType::Int32,
            ValueType::I64 => DataType::Int64,
            ValueType::F64 => DataType::Float64,
            ValueType::Date32 => DataType::Date32,
            ValueType::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
            ValueType::Str => DataType::Utf8,
        }
    }

    /// The register type for an Arrow type, if there is one.
    pub fn from_arrow(data_type: &arrow::datatypes::DataType) -> Option<Self> {
        use arrow::datatypes::DataType;
        match data_type {
            DataType::Boolean => Some(ValueType::Bool),
            DataType::Int32 => Some(ValueType::I32),
            DataType::Int64 => Some(ValueType::I64),
            DataType::Float64 => Some(ValueType::F64),
            DataType::Date32 => Some(ValueType::Date32),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ValueType::Str),
            DataType::Decimal128(precision, scale)
                if (1..=38).contains(precision) && (0..=*precision as i8).contains(scale) =>
            {
                Some(ValueType::Decimal128 {
                    precision: *precision,
                    scale: *scale,
                })
            }
            _ => None,
        }
    }

    /// Whether arithmetic is defined on it.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ValueType::I32 | ValueType::I64 | ValueType::F64 | ValueType::Decimal128 { .. }
        )
    }

    /// The scale of a decimal, `None` for other types.
    pub fn decimal_scale(self) -> Option<i8> {
        match self {
            ValueType::Decimal128 { scale, .. } => Some(scale),
            _ => None,
        }
    }
}

/// A non-null constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A double.
    F64(f64),
    /// Days since the epoch.
    Date32(i32),
    /// A decimal's unscaled value, with its type.
    Decimal128(i128, u8, i8),
    /// A string: its index in [`Program::strings`].
    Str(u32),
}

impl Scalar {
    /// Its type.
    pub fn value_type(self) -> ValueType {
        match self {
            Scalar::Bool(_) => ValueType::Bool,
            Scalar::I32(_) => ValueType::I32,
            Scalar::I64(_) => ValueType::I64,
            Scalar::F64(_) => ValueType::F64,
            Scalar::Date32(_) => ValueType::Date32,
            Scalar::Decimal128(_, precision, scale) => ValueType::Decimal128 { precision, scale },
            Scalar::Str(_) => ValueType::Str,
        }
    }
}

/// A register: the index of the instruction that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reg(pub u16);

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: integer division truncates; dividing by zero is an error for integers.
    Div,
    /// `%`: remainder with the dividend's sign; by zero is an error for integers.
    Rem,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// One instruction; its result is the register with its own index.
#[derive(Debug, Clone, PartialEq)]
pub enum Instr {
    /// Column `index` of the input batch.
    Column {
        /// Column index in the input schema.
        index: usize,
    },
    /// A constant; `None` is a typed null.
    Literal(Option<Scalar>),
    /// `left op right` on two registers of the same numeric type. `checked` makes integer
    /// overflow an error instead of wrapping (DataFusion's `fail_on_overflow`).
    Arith {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        left: Reg,
        /// Right operand.
        right: Reg,
        /// Whether integer overflow is an error.
        checked: bool,
    },
    /// `-value` (wrapping for integers).
    Negate(Reg),
    /// `left op right` on two registers of the same type; null if either is null.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        left: Reg,
        /// Right operand.
        right: Reg,
    },
    /// SQL AND (false wins over null).
    And(Reg, Reg),
    /// SQL OR (true wins over null).
    Or(Reg, Reg),
    /// SQL NOT.
    Not(Reg),
    /// `value IS NULL` (never null).
    IsNull(Reg),
    /// `value IS NOT NULL` (never null).
    IsNotNull(Reg),
    /// `value [NOT] IN (list)`: null if `value` is null, or if it matches nothing and the list
    /// holds a null.
    InList {
        /// The probed value.
        value: Reg,
        /// The non-null constants.
        list: Vec<Scalar>,
        /// Whether the list held a null.
        list_has_null: bool,
        /// NOT IN.
        negated: bool,
    },
    /// A conversion with the semantics of Arrow's cast: widening integer and integer-to-float
    /// casts, narrowing Int64 to Int32, Int32/Int64 to a decimal, decimal to decimal
    /// (rescaling, rounding half away from zero), decimal to Float64. The register types say
    /// which. A value that does not fit the target is an error, or null when `safe`
    /// (`TRY_CAST`).
    Cast {
        /// The value.
        value: Reg,
        /// The target type.
        to: ValueType,
        /// Null instead of an error when the value does not fit.
        safe: bool,
    },
    /// `CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ... ELSE e END`: the first branch whose condition
    /// is true (not null). Like DataFusion, only the conditions up to the chosen branch and
    /// the chosen value are evaluated for a row: an error elsewhere does not count.
    Case {
        /// `(condition, value)` pairs, in order.
        branches: Vec<(Reg, Reg)>,
        /// The value when no condition is true; `None` is null.
        otherwise: Option<Reg>,
    },
    /// `value [NOT] LIKE pattern` for a constant pattern without `_` or escapes: the pattern
    /// split at its `%`s into literal segments (indices into [`Program::strings`]) that must
    /// appear in order, the first at the start unless the pattern starts with `%`, the last at
    /// the end unless it ends with `%`.
    Like {
        /// The string.
        value: Reg,
        /// The literal segments, in order (a pattern without `%` has one).
        segments: Vec<u32>,
        /// Whether the pattern starts with `%`.
        open_start: bool,
        /// Whether the pattern ends with `%`.
        open_end: bool,
        /// NOT LIKE.
        negated: bool,
    },
    /// DataFusion's `substr(value, start [, count])` with constant `start` and `count`:
    /// characters (not bytes), 1-based, PostgreSQL's rules for a start before the string.
    Substr {
        /// The string.
        value: Reg,
        /// The first character, 1-based (may be 0 or negative).
        start: i64,
        /// How many characters (from `start`, counting positions before the string); `None`
        /// to the end.
        count: Option<i64>,
    },
    /// The number of characters of a string, as Int32 (or Int64 for LargeUtf8, as DataFusion's
    /// `character_length` types it).
    CharLength(Reg),
    /// A field of a Date32 (DataFusion's `date_part` / `EXTRACT`), as Int32.
    DatePart {
        /// The date.
        value: Reg,
        /// Which field.
        part: DatePart,
    },
}

/// The fields `date_part` can take from a Date32 on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// The year (proleptic Gregorian).
    Year,
    /// The quarter, 1..=4.
    Quarter,
    /// The month, 1..=12.
    Month,
    /// The day of the month, 1..=31.
    Day,
}

/// A translated expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The instructions; instruction `i` writes register `i`.
    pub instrs: Vec<Instr>,
    /// Each register's type.
    pub types: Vec<ValueType>,
    /// The register holding the result.
    pub result: Reg,
    /// String constants ([`Scalar::Str`] and LIKE segments refer to them by index).
    pub strings: Vec<String>,
    /// The Arrow type of a string result (Utf8, LargeUtf8 or Utf8View, as DataFusion types
    /// the expression); `None` when the result is not a string.
    pub string_output: Option<arrow::datatypes::DataType>,
}

impl Program {
    /// The result's type.
    pub fn result_type(&self) -> ValueType {
        self.types[self.result.0 as usize]
    }

    /// The Arrow type of the result column.
    pub fn result_arrow_type(&self) -> arrow::datatypes::DataType {
        match (&self.string_output, self.result_type()) {
            (Some(t), ValueType::Str) => t.clone(),
            (_, t) => t.arrow_type(),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (instr, ty)) in self.instrs.iter().zip(&self.types).enumerate() {
            writeln!(f, "r{i}: {ty:?} = {instr:?}")?;
        }
        for (i, s) in self.strings.iter().enumerate() {
            writeln!(f, "s{i} = {s:?}")?;
        }
        write!(f, "result r{}", self.result.0)
    }
}
