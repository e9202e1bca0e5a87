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
//! Covered: Boolean, Int32, Int64, Float64, Date32, Decimal128 and string (Utf8, LargeUtf8,
//! Utf8View) values; columns, literals, `+ - * / %` (wrapping or checked for integers, as the
//! expression says; always checked for decimals, with Arrow's result precision and scale),
//! comparisons, AND/OR/NOT with three-valued logic, IS [NOT] NULL, IN (literal list),
//! negation, CASE (both forms), casts (integers, Float64, decimals and Date32 among themselves
//! as arrow-cast does them; CAST fails and TRY_CAST gives null on a value that does not fit),
//! `date_part` year, quarter, month and day of a Date32, and on strings LIKE with `%`
//! patterns, `substr` and `character_length`. A string may be the result (built as the type
//! DataFusion declares; on the device by [`strings`]).
//!
//! Faults (division by zero, overflow, a cast that does not fit) follow DataFusion: a fault in
//! a row fails the evaluation, except inside a CASE branch the row does not take. Unlike
//! DataFusion, which skips the right side of AND/OR when the left side decides a whole batch,
//! the interpreter evaluates both sides for every row, so a division by zero there fails the
//! query where DataFusion might not.

pub mod device;
mod host;
mod program;
pub(crate) mod samples;
mod sql;
pub mod strings;
mod translate;

#[cfg(test)]
mod tests;

pub use host::evaluate;
pub use program::{ArithOp, CmpOp, DatePart, Instr, Program, Reg, Scalar, ValueType};
pub use sql::{physical_from_sql, program_from_sql};
pub use translate::{Unsupported, translate};
