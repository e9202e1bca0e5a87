//! Expressions on the device: a compact program translated from a DataFusion `PhysicalExpr`,
//! and its host reference evaluator.
//!
//! The execution model is a **register program interpreted per row**: the translator turns an
//! expression tree into a flat list of typed instructions ([`Program`]); one interpreter
//! evaluates every instruction for a row before moving to the next row. On the device that is
//! one kernel for any expression (no compilation at query time, no per-operator pass over
//! memory), with registers in thread-local storage; on the host it is [`evaluate`], the
//! reference the device is checked against.
//!
//! The translator ([`translate`]) accepts only what it can evaluate with DataFusion's exact
//! semantics and otherwise returns a [`Unsupported`] reason of the form
//! `not supported on GPU: <expr>: <why>`, which the planner shows in EXPLAIN.
//!
//! The device interpreter is `kernels/cuda/expr/eval.cu`, launched by
//! [`device::evaluate_device`] and checked against [`evaluate`] by `cinder gpu-check`.
//!
//! Status: this is the first cut, covering Boolean, Int32, Int64, Float64 and Date32 values:
//! columns, literals, `+ - * / %` (wrapping or checked, as the expression says), comparisons,
//! AND/OR/NOT with three-valued logic, IS [NOT] NULL, IN (literal list), negation, and
//! widening numeric casts. Decimals, strings, CASE, narrowing casts and the date functions
//! come next. Unlike DataFusion, which skips the right side of AND/OR when the left side
//! decides a whole batch, the interpreter evaluates every instruction for every row, so a
//! division by zero there fails the query where DataFusion might not.

pub mod device;
mod host;
mod program;
mod samples;
mod translate;

#[cfg(test)]
mod tests;

pub use host::evaluate;
pub use program::{ArithOp, CmpOp, Instr, Program, Reg, Scalar, ValueType};
pub use translate::{Unsupported, translate};
