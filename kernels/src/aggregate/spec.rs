//! What an aggregate computes: DataFusion 55.2's types and state layouts
//! (docs/design/aggregation.md §1), and the accumulator operations that compute them.

use arrow::datatypes::DataType;

/// The aggregate functions Cinder computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `count(x)` (rows where `x` is not null) and `count(*)`.
    Count,
    /// `sum(x)`.
    Sum,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `avg(x)`.
    Avg,
}

impl AggFunc {
    /// The function for a DataFusion aggregate UDF name, if Cinder computes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "avg" | "mean" => AggFunc::Avg,
            _ => return None,
        })
    }
}

/// How an accumulator operation reads its input column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueRead {
    /// Int32 or Date32, sign-extended to 64 bits.
    I32,
    /// Int64 or UInt64, as 64 bits.
    I64,
    /// Boolean, as 0 or 1.
    Bool,
    /// Float64, as its value (for sums).
    F64,
    /// Float64 as the signed 64-bit key of its IEEE total order (`f64::total_cmp`), for
    /// min/max.
    F64Ordered,
    /// Decimal128, as 128 bits.
    I128,
}

impl ValueRead {
    /// The read for a column of `data_type` feeding a min/max or integer sum.
    fn of(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Int32 | DataType::Date32 => ValueRead::I32,
            DataType::Int64 | DataType::UInt64 => ValueRead::I64,
            DataType::Boolean => ValueRead::Bool,
            DataType::Float64 => ValueRead::F64Ordered,
            DataType::Decimal128(..) => ValueRead::I128,
            _ => return None,
        })
    }
}

/// One accumulator operation, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Counts the rows whose input is valid (every row when there is no input).
    Count,
    /// Wrapping 64-bit sum.
    Sum64,
    /// Wrapping 128-bit sum.
    Sum128,
    /// Float64 sum.
    SumF64,
    /// Signed 64-bit minimum.
    Min64,
    /// Signed 64-bit maximum.
    Max64,
    /// Signed 128-bit minimum.
    Min128,
    /// Signed 128-bit maximum.
    Max128,
}

impl OpKind {
    /// Whether the operation keeps 128-bit values.
    pub fn is_wide(self) -> bool {
        matches!(self, OpKind::Sum128 | OpKind::Min128 | OpKind::Max128)
    }
}

/// An accumulator operation over one input column (or over the rows, for `count(*)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op {
    /// What it computes.
    pub kind: OpKind,
    /// The index of its input among the evaluated inputs; `None` counts rows.
    pub input: Option<usize>,
    /// How the input is read.
    pub read: ValueRead,
}

/// One aggregate's types: what it reads, returns and keeps as state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggregateSpec {
    /// The function.
    pub func: AggFunc,
    /// The argument's type as planned (after DataFusion's coercion); `None` for `count(*)`.
    pub input: Option<DataType>,
    /// The final value's type.
    pub result: DataType,
    /// The state columns' types, in DataFusion's order.
    pub state: Vec<DataType>,
}

/// Largest decimal precision of Decimal128.
const MAX_PRECISION: u8 = 38;

impl AggregateSpec {
    /// The spec of `func` over an argument of type `input` (`None`: `count(*)`), with
    /// DataFusion 55.2's result and state types; `Err` says why Cinder does not compute it.
    /// `grouped` is whether the aggregate has GROUP BY keys (float min/max differ there).
    pub fn new(
        func: AggFunc,
        input: Option<&DataType>,
        grouped: bool,
    ) -> std::result::Result<Self, String> {
        let unsupported = |what: &str| {
            Err(format!(
                "{}({}) {what}",
                format!("{func:?}").to_lowercase(),
                input.map_or("*".to_string(), |t| t.to_string())
            ))
        };
        let (result, state) = match (func, input) {
            (AggFunc::Count, None) => (DataType::Int64, vec![DataType::Int64]),
            (AggFunc::Count, Some(t)) => {
                if matches!(t, DataType::Dictionary(..) | DataType::Null) {
                    return unsupported("is not computed on the GPU");
                }
                (DataType::Int64, vec![DataType::Int64])
            }
            (_, None) => return unsupported("needs an argument"),
            (AggFunc::Sum, Some(t)) => match t {
                DataType::Int64 | DataType::Float64 => (t.clone(), vec![t.clone()]),
                DataType::Decimal128(p, s) => {
                    let r = DataType::Decimal128((*p + 10).min(MAX_PRECISION), *s);
                    (r.clone(), vec![r])
                }
                _ => return unsupported("is not computed on the GPU"),
            },
            (AggFunc::Min | AggFunc::Max, Some(t)) => match t {
                DataType::Int32
                | DataType::Int64
                | DataType::Date32
                | DataType::Boolean
                | DataType::Decimal128(..) => (t.clone(), vec![t.clone()]),
                // With GROUP BY, DataFusion's float min/max depends on row order around NaN
                // and -0.0 (apache/datafusion#24432); without, it is IEEE total order.
                DataType::Float64 if !grouped => (t.clone(), vec![t.clone()]),
                DataType::Float64 => {
                    return unsupported(
                        "with GROUP BY: DataFusion's grouped float min/max depends on row order",
                    );
                }
                _ => return unsupported("is not computed on the GPU"),
            },
            (AggFunc::Avg, Some(t)) => match t {
                DataType::Float64 => (DataType::Float64, vec![DataType::UInt64, DataType::Float64]),
                DataType::Decimal128(p, s) if *p <= 25 => (
                    DataType::Decimal128(
                        (*p + 4).min(MAX_PRECISION),
                        (*s + 4).min(MAX_PRECISION as i8),
                    ),
                    vec![DataType::UInt64, DataType::Decimal128(MAX_PRECISION, *s)],
                ),
                DataType::Decimal128(..) => {
                    return unsupported("keeps a Decimal256 sum, which the GPU does not compute");
                }
                _ => return unsupported("is not computed on the GPU"),
            },
        };
        Ok(AggregateSpec {
            func,
            input: input.cloned(),
            result,
            state,
        })
    }

    /// The operations that fold raw rows into this aggregate's state, reading input `arg`
    /// (`None` for `count(*)`).
    pub fn update_ops(&self, arg: Option<usize>) -> Vec<Op> {
        let input = self.input.as_ref();
        let count = Op {
            kind: OpKind::Count,
            input: arg,
            read: ValueRead::I64,
        };
        match self.func {
            AggFunc::Count => vec![count],
            AggFunc::Sum | AggFunc::Avg => {
                let t = input.expect("sum and avg have an argument");
                let sum = match t {
                    DataType::Float64 => Op {
                        kind: OpKind::SumF64,
                        input: arg,
                        read: ValueRead::F64,
                    },
                    DataType::Decimal128(..) => Op {
                        kind: OpKind::Sum128,
                        input: arg,
                        read: ValueRead::I128,
                    },
                    _ => Op {
                        kind: OpKind::Sum64,
                        input: arg,
                        read: ValueRead::I64,
                    },
                };
                if self.func == AggFunc::Avg {
                    vec![count, sum]
                } else {
                    vec![sum]
                }
            }
            AggFunc::Min | AggFunc::Max => {
                let t = input.expect("min and max have an argument");
                vec![min_max(self.func, t, arg)]
            }
        }
    }

    /// The operations that merge state columns (the first at input `first`) into this
    /// aggregate's state.
    pub fn merge_ops(&self, first: usize) -> Vec<Op> {
        match self.func {
            // Counts are summed (they are never null).
            AggFunc::Count => vec![Op {
                kind: OpKind::Sum64,
                input: Some(first),
                read: ValueRead::I64,
            }],
            AggFunc::Sum => self.update_ops(Some(first)),
            AggFunc::Min | AggFunc::Max => vec![min_max(self.func, &self.state[0], Some(first))],
            AggFunc::Avg => {
                let mut ops = self.update_ops(Some(first + 1));
                ops[0] = Op {
                    kind: OpKind::Sum64,
                    input: Some(first),
                    read: ValueRead::I64,
                };
                ops
            }
        }
    }
}

fn min_max(func: AggFunc, t: &DataType, arg: Option<usize>) -> Op {
    let read = ValueRead::of(t).expect("a min/max type the spec accepted");
    let wide = read == ValueRead::I128;
    let kind = match (func, wide) {
        (AggFunc::Min, false) => OpKind::Min64,
        (AggFunc::Min, true) => OpKind::Min128,
        (_, false) => OpKind::Max64,
        (_, true) => OpKind::Max128,
    };
    Op {
        kind,
        input: arg,
        read,
    }
}

/// What an aggregation consumes and emits (DataFusion's `AggregateMode`, by input and output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Raw rows in, state out (`Partial`).
    Partial,
    /// State in, final values out (`Final`, `FinalPartitioned`).
    Final,
    /// Raw rows in, final values out (`Single`, `SinglePartitioned`).
    Single,
}

impl Stage {
    /// Whether the stage reads raw rows (else state columns).
    pub fn raw_input(self) -> bool {
        matches!(self, Stage::Partial | Stage::Single)
    }

    /// Whether the stage emits final values (else state columns).
    pub fn final_output(self) -> bool {
        matches!(self, Stage::Final | Stage::Single)
    }
}
