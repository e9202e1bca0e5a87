//! The device side of expressions: encoding a [`Program`] for the interpreter kernel
//! (`kernels/cuda/expr/eval.cu`), its launcher, and its GPU self-check.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use cinder_cuda::driver::{CUevent_flags, DevicePtr, DevicePtrMut, PushKernelArg, SyncOnDrop};
use cinder_cuda::{ColumnBody, CudaError, DeviceBatch, DeviceBuffer, DeviceColumn, MemoryPool};
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;

use super::host::{Fault, pow10, rescale_plan};
use super::program::{ArithOp, CmpOp, DatePart, Instr, Program, Scalar, ValueType};
use super::{evaluate, translate};
use crate::abi::{ColumnView, ExprInstr, ExprProgram};
use crate::embedded::DeviceKernels;
use crate::launch::{self, LaunchTime, Timing, as_bytes, read_ptr};
use crate::selfcheck::{CheckEnv, CheckOutcome, compare};
use crate::{KernelError, Result};

/// The module holding the interpreter.
pub const MODULE: &str = "expr/eval";
/// The interpreter kernel.
pub const EXPR_EVAL: &str = "cinder_expr_eval";

/// Opcodes, as `cinder::ExprOp` in abi.cuh (a test compares the two).
pub mod opcode {
    /// Load a column.
    pub const COLUMN: i32 = 1;
    /// A constant.
    pub const LITERAL: i32 = 2;
    /// `+`
    pub const ADD: i32 = 10;
    /// `-`
    pub const SUB: i32 = 11;
    /// `*`
    pub const MUL: i32 = 12;
    /// `/`
    pub const DIV: i32 = 13;
    /// `%`
    pub const REM: i32 = 14;
    /// unary `-`
    pub const NEGATE: i32 = 15;
    /// `=`
    pub const EQ: i32 = 20;
    /// `<>`
    pub const NOT_EQ: i32 = 21;
    /// `<`
    pub const LT: i32 = 22;
    /// `<=`
    pub const LT_EQ: i32 = 23;
    /// `>`
    pub const GT: i32 = 24;
    /// `>=`
    pub const GT_EQ: i32 = 25;
    /// AND
    pub const AND: i32 = 30;
    /// OR
    pub const OR: i32 = 31;
    /// NOT
    pub const NOT: i32 = 32;
    /// IS NULL
    pub const IS_NULL: i32 = 33;
    /// IS NOT NULL
    pub const IS_NOT_NULL: i32 = 34;
    /// [NOT] IN
    pub const IN_LIST: i32 = 35;
    /// a cast
    pub const CAST: i32 = 40;
    /// CASE
    pub const CASE: i32 = 41;
    /// date_part
    pub const DATE_PART: i32 = 42;
    /// [NOT] LIKE
    pub const LIKE: i32 = 43;
    /// substr
    pub const SUBSTR: i32 = 44;
    /// character_length
    pub const CHAR_LENGTH: i32 = 45;
}

/// Type codes, as `cinder::ExprType`.
pub mod type_code {
    /// Boolean
    pub const BOOL: i32 = 1;
    /// Int32
    pub const I32: i32 = 2;
    /// Int64
    pub const I64: i32 = 3;
    /// Float64
    pub const F64: i32 = 4;
    /// Date32
    pub const DATE32: i32 = 5;
    /// Decimal128
    pub const DECIMAL: i32 = 6;
    /// A string
    pub const STR: i32 = 7;
}

/// Date part codes (`ExprInstr::p0` of [`opcode::DATE_PART`]), as `cinder::EXPR_PART_*`.
pub mod part_code {
    /// year
    pub const YEAR: i32 = 1;
    /// quarter
    pub const QUARTER: i32 = 2;
    /// month
    pub const MONTH: i32 = 3;
    /// day
    pub const DAY: i32 = 4;
}

const FLAG_CHECKED: i32 = 1;
const FLAG_NEGATED: i32 = 2;
const FLAG_LIST_HAS_NULL: i32 = 4;
const FLAG_NULL_LITERAL: i32 = 8;
const FLAG_SAFE: i32 = 16;
const FLAG_CHECK: i32 = 32;
const ERROR_DIVIDE_BY_ZERO: u32 = 1;
const ERROR_OVERFLOW: u32 = 2;
const ERROR_CAST: u32 = 4;

fn code(ty: ValueType) -> i32 {
    match ty {
        ValueType::Bool => type_code::BOOL,
        ValueType::I32 => type_code::I32,
        ValueType::I64 => type_code::I64,
        ValueType::F64 => type_code::F64,
        ValueType::Date32 => type_code::DATE32,
        ValueType::Decimal128 { .. } => type_code::DECIMAL,
        ValueType::Str => type_code::STR,
    }
}

/// The two 64-bit halves (low, high) of a 128-bit value.
fn halves(v: i128) -> (i64, i64) {
    (v as i64, (v >> 64) as i64)
}

/// A register encoding of a constant: integers sign-extended, doubles as their bits, decimals
/// as two halves, strings as (offset in the string pool, length); the high half is 0 for the
/// others.
fn bits(s: Scalar, pool: &StringPool) -> (i64, i64) {
    match s {
        Scalar::Str(i) => pool.entry(i),
        Scalar::Bool(b) => (i64::from(b), 0),
        Scalar::I32(v) | Scalar::Date32(v) => (i64::from(v), 0),
        Scalar::I64(v) => (v, 0),
        Scalar::F64(v) => (v.to_bits() as i64, 0),
        Scalar::Decimal128(v, _, _) => halves(v),
    }
}

/// A program's string constants back to back, with each one's (offset, length).
struct StringPool {
    bytes: Vec<u8>,
    entries: Vec<(i64, i64)>,
}

impl StringPool {
    fn new(strings: &[String]) -> Self {
        let mut bytes = Vec::new();
        let mut entries = Vec::with_capacity(strings.len());
        for s in strings {
            entries.push((bytes.len() as i64, s.len() as i64));
            bytes.extend_from_slice(s.as_bytes());
        }
        Self { bytes, entries }
    }

    fn entry(&self, i: u32) -> (i64, i64) {
        self.entries[i as usize]
    }
}

/// A program encoded for the interpreter.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The instructions.
    pub instrs: Vec<ExprInstr>,
    /// Constants (IN list items, CASE branches, precision bounds, LIKE segments), referenced
    /// by `list_start`/`list_len`.
    pub constants: Vec<i64>,
    /// The string constants back to back (`ExprProgram::strings`).
    pub strings: Vec<u8>,
}

/// Encodes `program` for the interpreter kernel.
pub fn encode(program: &Program) -> Encoded {
    let pool = StringPool::new(&program.strings);
    let mut constants = Vec::new();
    let instrs = program
        .instrs
        .iter()
        .zip(&program.types)
        .map(|(instr, &ty)| {
            let mut e = ExprInstr {
                ty: code(ty),
                a: -1,
                b: -1,
                ..ExprInstr::default()
            };
            let reg_type = |r: super::Reg| code(program.types[r.0 as usize]);
            let scale =
                |r: super::Reg| i32::from(program.types[r.0 as usize].decimal_scale().unwrap_or(0));
            match instr {
                Instr::Column { index } => {
                    e.opcode = opcode::COLUMN;
                    e.a = *index as i32;
                }
                Instr::Literal(value) => {
                    e.opcode = opcode::LITERAL;
                    match value {
                        Some(s) => (e.imm, e.imm_hi) = bits(*s, &pool),
                        None => e.flags = FLAG_NULL_LITERAL,
                    }
                }
                Instr::Arith {
                    op,
                    left,
                    right,
                    checked,
                } => {
                    e.opcode = match op {
                        ArithOp::Add => opcode::ADD,
                        ArithOp::Sub => opcode::SUB,
                        ArithOp::Mul => opcode::MUL,
                        ArithOp::Div => opcode::DIV,
                        ArithOp::Rem => opcode::REM,
                    };
                    (e.a, e.b, e.arg_type) =
                        (i32::from(left.0), i32::from(right.0), reg_type(*left));
                    if *checked {
                        e.flags = FLAG_CHECKED;
                    }
                    if ty.decimal_scale().is_some() {
                        // The factor that rescales one operand first (host.rs decimal_arith).
                        let (s1, s2) = (scale(*left), scale(*right));
                        let (exp, scale_b) = match op {
                            ArithOp::Mul => (0, false),
                            ArithOp::Div => {
                                let exp = (s1 + 4).min(38) - s1 + s2;
                                (exp.abs(), exp < 0)
                            }
                            _ => ((s1 - s2).abs(), s2 < s1),
                        };
                        (e.imm, e.imm_hi) = halves(pow10(exp));
                        e.p0 = i32::from(scale_b);
                    }
                }
                Instr::Negate(value) => {
                    e.opcode = opcode::NEGATE;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                }
                Instr::Cmp { op, left, right } => {
                    e.opcode = match op {
                        CmpOp::Eq => opcode::EQ,
                        CmpOp::NotEq => opcode::NOT_EQ,
                        CmpOp::Lt => opcode::LT,
                        CmpOp::LtEq => opcode::LT_EQ,
                        CmpOp::Gt => opcode::GT,
                        CmpOp::GtEq => opcode::GT_EQ,
                    };
                    (e.a, e.b, e.arg_type) =
                        (i32::from(left.0), i32::from(right.0), reg_type(*left));
                }
                Instr::And(l, r) => {
                    (e.opcode, e.a, e.b) = (opcode::AND, i32::from(l.0), i32::from(r.0))
                }
                Instr::Or(l, r) => {
                    (e.opcode, e.a, e.b) = (opcode::OR, i32::from(l.0), i32::from(r.0))
                }
                Instr::Not(v) => (e.opcode, e.a) = (opcode::NOT, i32::from(v.0)),
                Instr::IsNull(v) => (e.opcode, e.a) = (opcode::IS_NULL, i32::from(v.0)),
                Instr::IsNotNull(v) => (e.opcode, e.a) = (opcode::IS_NOT_NULL, i32::from(v.0)),
                Instr::InList {
                    value,
                    list,
                    list_has_null,
                    negated,
                } => {
                    e.opcode = opcode::IN_LIST;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                    e.list_start = constants.len() as i32;
                    e.list_len = list.len() as i32;
                    for item in list {
                        let (lo, hi) = bits(*item, &pool);
                        constants.push(lo);
                        if matches!(item, Scalar::Decimal128(..) | Scalar::Str(_)) {
                            constants.push(hi);
                        }
                    }
                    if *negated {
                        e.flags |= FLAG_NEGATED;
                    }
                    if *list_has_null {
                        e.flags |= FLAG_LIST_HAS_NULL;
                    }
                }
                Instr::Cast { value, to, safe } => {
                    e.opcode = opcode::CAST;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                    if *safe {
                        e.flags |= FLAG_SAFE;
                    }
                    let from = program.types[value.0 as usize];
                    match (from, *to) {
                        (
                            ValueType::Decimal128 { precision, scale },
                            ValueType::Decimal128 {
                                precision: p2,
                                scale: s2,
                            },
                        ) => {
                            let plan = rescale_plan((precision, scale), (p2, s2));
                            (e.imm, e.imm_hi) = halves(plan.factor);
                            e.p0 = i32::from(plan.up);
                            if plan.check {
                                e.flags |= FLAG_CHECK;
                                push_bound(&mut e, &mut constants, p2);
                            }
                        }
                        (ValueType::F64, ValueType::Decimal128 { precision, scale }) => {
                            // Arrow's multiplier, bit for bit; the precision is always checked.
                            e.imm = 10f64.powi(i32::from(scale)).to_bits() as i64;
                            e.flags |= FLAG_CHECK;
                            push_bound(&mut e, &mut constants, precision);
                        }
                        (_, ValueType::Decimal128 { precision, scale }) => {
                            (e.imm, e.imm_hi) = halves(pow10(i32::from(scale)));
                            e.p0 = 1;
                            e.flags |= FLAG_CHECK;
                            push_bound(&mut e, &mut constants, precision);
                        }
                        (ValueType::Decimal128 { scale, .. }, ValueType::F64) => {
                            // The divisor Arrow uses, bit for bit.
                            e.imm = 10f64.powi(i32::from(scale)).to_bits() as i64;
                        }
                        _ => {}
                    }
                }
                Instr::Case {
                    branches,
                    otherwise,
                } => {
                    e.opcode = opcode::CASE;
                    e.b = otherwise.map_or(-1, |r| i32::from(r.0));
                    e.list_start = constants.len() as i32;
                    e.list_len = branches.len() as i32;
                    for (condition, value) in branches {
                        constants.push(i64::from(condition.0));
                        constants.push(i64::from(value.0));
                    }
                }
                Instr::Like {
                    value,
                    segments,
                    open_start,
                    open_end,
                    negated,
                } => {
                    e.opcode = opcode::LIKE;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                    e.list_start = constants.len() as i32;
                    e.list_len = segments.len() as i32;
                    for &segment in segments {
                        let (offset, len) = pool.entry(segment);
                        constants.extend([offset, len]);
                    }
                    e.p0 = i32::from(*open_start) | (i32::from(*open_end) << 1);
                    if *negated {
                        e.flags |= FLAG_NEGATED;
                    }
                }
                Instr::Substr {
                    value,
                    start,
                    count,
                } => {
                    e.opcode = opcode::SUBSTR;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                    e.imm = *start;
                    if let Some(count) = count {
                        (e.imm_hi, e.p0) = (*count, 1);
                    }
                }
                Instr::CharLength(value) => {
                    e.opcode = opcode::CHAR_LENGTH;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                }
                Instr::DatePart { value, part } => {
                    e.opcode = opcode::DATE_PART;
                    (e.a, e.arg_type) = (i32::from(value.0), reg_type(*value));
                    e.p0 = match part {
                        DatePart::Year => part_code::YEAR,
                        DatePart::Quarter => part_code::QUARTER,
                        DatePart::Month => part_code::MONTH,
                        DatePart::Day => part_code::DAY,
                    };
                }
            }
            e
        })
        .collect();
    Encoded {
        instrs,
        constants,
        strings: pool.bytes,
    }
}

/// Appends the bound `10^precision - 1` a checked decimal result must lie within.
fn push_bound(e: &mut ExprInstr, constants: &mut Vec<i64>, precision: u8) {
    e.list_start = constants.len() as i32;
    let (lo, hi) = halves(pow10(i32::from(precision)) - 1);
    constants.extend([lo, hi]);
}

/// Evaluates `program` over `batch` (already in the CUDA pool `pool`) with the interpreter
/// kernel, and downloads the result. A fault (division by zero, overflow, a cast that does not
/// fit) in any row's result is an error, as on the host.
pub fn evaluate_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    program: &Program,
    batch: &DeviceBatch,
    timing: Timing,
) -> Result<(ArrayRef, Option<LaunchTime>)> {
    let (column, time) = evaluate_on_device(kernels, pool, program, batch, timing)?;
    Ok((column.download(pool)?, time))
}

/// Evaluates `program` over `batch` with the interpreter kernel, leaving the result in the
/// pool as a column of the program's result type. Waits for the kernel (to read its error
/// word and null count).
pub fn evaluate_on_device(
    kernels: &DeviceKernels,
    pool: &MemoryPool,
    program: &Program,
    batch: &DeviceBatch,
    timing: Timing,
) -> Result<(DeviceColumn, Option<LaunchTime>)> {
    check_bindings(program, batch)?;
    let device = pool.device().ok_or_else(|| KernelError::InvalidArgument {
        kernel: EXPR_EVAL,
        reason: "the interpreter needs a CUDA pool".to_string(),
    })?;
    let rows = batch.num_rows();
    let result_type = program.result_type();

    let body = |values: DeviceBuffer| match result_type {
        ValueType::Bool => ColumnBody::Boolean { values },
        ty => ColumnBody::Fixed {
            values,
            width: ty.arrow_type().primitive_width().unwrap_or(0),
        },
    };
    if rows == 0 {
        let column = DeviceColumn::empty(pool, program.result_arrow_type())?;
        return Ok((column, None));
    }
    let stream = device.stream();
    let encoded = encode(program);

    // Input column views; the guards order the kernel after the uploads and keep the
    // buffers' read events until the launch is queued.
    let mut guards: Vec<SyncOnDrop<'_>> = Vec::new();
    let mut views = Vec::with_capacity(batch.columns().len());
    for column in batch.columns() {
        let mut view = ColumnView {
            validity: read_ptr(column.validity(), stream, &mut guards),
            len: column.len() as i64,
            ..ColumnView::default()
        };
        match column.body() {
            ColumnBody::Fixed { values, .. } | ColumnBody::Boolean { values } => {
                view.data = read_ptr(Some(values), stream, &mut guards);
            }
            ColumnBody::Strings {
                offsets,
                offset_width,
                bytes,
            } => {
                view.data = read_ptr(Some(offsets), stream, &mut guards);
                view.bytes = read_ptr(Some(bytes), stream, &mut guards);
                view.offset_width = offset_width.bytes() as i32;
            }
            // Never referenced: the translator admits no dictionary column.
            ColumnBody::Dictionary { .. } => {}
        }
        views.push(view);
    }
    let constants = if encoded.constants.is_empty() {
        vec![0]
    } else {
        encoded.constants.clone()
    };
    let instrs_buf = pool.upload(as_bytes(&encoded.instrs))?;
    let constants_buf = pool.upload(as_bytes(&constants))?;
    // One view at least, so that the upload has a device address (a batch without columns).
    if views.is_empty() {
        views.push(ColumnView::default());
    }
    let views_buf = pool.upload(as_bytes(&views))?;
    // One byte at least, so that the pool has a device address.
    let strings_buf = pool.upload(if encoded.strings.is_empty() {
        &[0]
    } else {
        &encoded.strings
    })?;

    let words = rows.div_ceil(32);
    let value_bytes = match result_type {
        ValueType::Bool => words * 4,
        // (address, length) per row, for the string build pass.
        ValueType::Str => rows * 16,
        ty => rows * ty.arrow_type().primitive_width().unwrap_or(8),
    };
    let mut values = pool.allocate(value_bytes)?;
    let mut validity = pool.allocate(words * 4)?;
    // The first failure at byte 0 (all ones: none), the null count at byte 8.
    let mut status = pool.upload(&[[0xFF; 8], [0; 8]].concat())?;
    let missing = || CudaError::InvalidData("a CUDA pool returned a host buffer".to_string());

    let (instrs_ptr, g1) = instrs_buf
        .cuda_slice()
        .ok_or_else(missing)?
        .device_ptr(stream);
    let (constants_ptr, g2) = constants_buf
        .cuda_slice()
        .ok_or_else(missing)?
        .device_ptr(stream);
    let (views_ptr, g3) = views_buf
        .cuda_slice()
        .ok_or_else(missing)?
        .device_ptr(stream);
    let (values_ptr, g4) = values
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    let (validity_ptr, g5) = validity
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    let (status_ptr, g6) = status
        .cuda_slice_mut()
        .ok_or_else(missing)?
        .device_ptr_mut(stream);
    let (strings_ptr, g7) = strings_buf
        .cuda_slice()
        .ok_or_else(missing)?
        .device_ptr(stream);
    let params = ExprProgram {
        instrs: instrs_ptr,
        constants: constants_ptr,
        columns: views_ptr,
        n_instrs: encoded.instrs.len() as i32,
        result: i32::from(program.result.0),
        rows: rows as i64,
        out_values: values_ptr,
        out_validity: validity_ptr,
        error: status_ptr,
        null_count: status_ptr + 8,
        strings: strings_ptr,
    };
    let function = kernels.function(MODULE, EXPR_EVAL)?;
    let config = launch::grid_stride_1d(device, rows);
    let mut builder = stream.launch_builder(&function);
    builder.arg(&params);
    if timing == Timing::Timed {
        builder.record_kernel_launch(CUevent_flags::CU_EVENT_DEFAULT);
    }
    // SAFETY: the kernel takes one `cinder::ExprProgram` by value, mirrored by `params`. Every
    // address in it points into a live pool buffer sized above (instructions, constants, one
    // view per batch column, `value_bytes` of values, ceil(rows / 32) validity words, 16
    // status bytes: the error word and the 8-byte-aligned null count); the column views point
    // into the batch's buffers, which hold `rows` rows. The guards order the launch after the
    // uploads and record the writes for later readers.
    let events = unsafe { builder.launch(config) }
        .map_err(|e| CudaError::driver(format!("launching {EXPR_EVAL}"), e))?;
    drop((g1, g2, g3, g4, g5, g6, g7, guards));
    let time = events.map(|(start, end)| LaunchTime { start, end });

    let status = pool.download(&status)?;
    let first_failure = u64::from_le_bytes(status.as_slice()[..8].try_into().expect("8 bytes"));
    if first_failure != u64::MAX {
        let kind = (first_failure & 7) as u32;
        let fault = match kind {
            ERROR_DIVIDE_BY_ZERO => Fault::DivideByZero,
            ERROR_OVERFLOW => Fault::Overflow,
            ERROR_CAST => Fault::Cast,
            other => {
                return Err(CudaError::InvalidData(format!(
                    "the interpreter reported fault {other}"
                ))
                .into());
            }
        };
        return Err(fault.error());
    }
    let null_count = u64::from_le_bytes(status.as_slice()[8..16].try_into().expect("8 bytes"));
    let null_count = usize::try_from(null_count).unwrap_or(usize::MAX);
    let validity = (null_count > 0).then_some(validity);
    let column = if result_type == ValueType::Str {
        // The pairs point into the batch and the string constants: build the column, and
        // wait for it before the constants go.
        let column = super::strings::build(
            kernels,
            pool,
            &values,
            rows,
            program.result_arrow_type(),
            null_count,
            validity,
        )?;
        device.synchronize()?;
        column
    } else {
        DeviceColumn::from_parts(
            result_type.arrow_type(),
            rows,
            null_count,
            validity,
            body(values),
        )?
    };
    drop((instrs_buf, constants_buf, views_buf, strings_buf));
    Ok((column, time))
}

/// Refuses a program the kernel cannot run safely on `batch`: too many registers, or a column
/// reference that does not match the batch (index, type, length).
fn check_bindings(program: &Program, batch: &DeviceBatch) -> Result<()> {
    let invalid = |reason: String| KernelError::InvalidArgument {
        kernel: EXPR_EVAL,
        reason,
    };
    if program.instrs.len() > super::translate::MAX_REGISTERS
        || program.instrs.len() != program.types.len()
    {
        return Err(invalid(format!(
            "{} instructions for {} registers (the interpreter holds {})",
            program.instrs.len(),
            program.types.len(),
            super::translate::MAX_REGISTERS
        )));
    }
    if usize::from(program.result.0) >= program.instrs.len() {
        return Err(invalid(format!(
            "result register r{} does not exist",
            program.result.0
        )));
    }
    for (instr, ty) in program.instrs.iter().zip(&program.types) {
        if let Instr::Column { index } = instr {
            let column = batch
                .columns()
                .get(*index)
                .ok_or_else(|| invalid(format!("column {index} is not in the batch")))?;
            let type_fits = match ty {
                ValueType::Str => ValueType::from_arrow(column.data_type()) == Some(ValueType::Str),
                ty => *column.data_type() == ty.arrow_type(),
            };
            if !type_fits || column.len() != batch.num_rows() {
                return Err(invalid(format!(
                    "column {index} is {} with {} rows; the program expects {:?} with {}",
                    column.data_type(),
                    column.len(),
                    ty,
                    batch.num_rows()
                )));
            }
        }
    }
    Ok(())
}

/// Expressions the GPU self-check runs (all translate; see the tests for DataFusion parity).
const CHECK_EXPRESSIONS: &[&str] = &[
    "a + b",
    "c * d",
    "x / y",
    "x % y",
    "-a",
    "-x < y",
    "a / nz",
    "c % nz64",
    "a / b",
    "x < y",
    "x = y",
    "p AND q",
    "NOT p OR q",
    "a IN (1, 2, NULL)",
    "x NOT IN (0.0, -0.0)",
    "a + c",
    "c * x",
    "dt >= dt AND a BETWEEN -5 AND 5",
    "(c + d) * 2 > c - 1",
    "p IS NULL OR (q AND a IS NOT NULL)",
    "m + n",
    "m * (1 - dsc) * (1 + dsc)",
    "m / dnz",
    "n % dnz",
    "-m",
    "m < n",
    "dsc BETWEEN 0.05 AND 0.07",
    "m IN (1.5, 2, -3.25)",
    "w + w",
    "CAST(dnz AS DECIMAL(38, 10)) / dnz",
    "CAST(w AS DOUBLE)",
    "CAST(m AS DOUBLE) * x",
    "TRY_CAST(m AS DECIMAL(10, 1))",
    "CAST(n AS DECIMAL(20, 6))",
    "TRY_CAST(c AS DECIMAL(20, 2))",
    "TRY_CAST(c AS INT)",
    "TRY_CAST(x AS BIGINT)",
    "TRY_CAST(x * 0.01 AS DECIMAL(38, 15))",
    "CAST(CAST(m AS DOUBLE) * 0.2 AS DECIMAL(30, 15))",
    "CAST(dt AS BIGINT) * 86400",
    "CAST(a AS DATE) < dt",
    "TRY_CAST(c AS DATE) IS NULL",
    "date_part('year', dt) * 100 + date_part('month', dt)",
    "date_part('day', dt) + date_part('quarter', dt)",
    "CASE WHEN b <> 0 AND b <> -1 THEN a / b ELSE 0 END",
    "CASE a WHEN 1 THEN x WHEN 2 THEN y ELSE 0.5 END",
    "CASE WHEN p THEN m END",
];

/// `cinder gpu-check` for [`EXPR_EVAL`]: every check expression on a random batch, on the
/// device and on the host reference; results (or errors) must agree.
pub(crate) fn check_expr_eval(env: &CheckEnv<'_>, rows: usize, seed: u64) -> Result<CheckOutcome> {
    let ctx = SessionContext::new();
    let mut outcome = CheckOutcome::default();
    // The mixed-type sample, then string expressions on their own batch (every Arrow string
    // type; string results are check_string_results').
    let batch = super::samples::batch(rows, 3, seed);
    let strings = super::samples::string_batch(rows);
    let cases = [
        (&batch, CHECK_EXPRESSIONS),
        (&strings, super::samples::STRING_EXPRESSIONS),
    ];
    for (batch, expressions) in cases {
        let on_device = DeviceBatch::upload(env.pool, batch)?;
        for sql in expressions {
            let program = program_for(&ctx, sql, batch)?;
            if program.result_type() == ValueType::Str {
                continue;
            }
            let host = evaluate(&program, batch);
            // Warm-up, then the timed run.
            let _ = evaluate_device(env.kernels, env.pool, &program, &on_device, Timing::Untimed);
            let device =
                evaluate_device(env.kernels, env.pool, &program, &on_device, Timing::Timed);
            match (host, device) {
                (Ok(expected), Ok((got, time))) => {
                    if let Some(time) = time {
                        outcome.device_ms += time.elapsed_ms()?;
                    }
                    outcome.merge(compare_rows(sql, &expected, &got));
                }
                // Both fail: with the same fault (the first failing row's, on both sides).
                (Err(h), Err(d)) => outcome.merge(CheckOutcome {
                    compared: rows,
                    mismatches: usize::from(h.to_string() != d.to_string()),
                    first_mismatch: (h.to_string() != d.to_string())
                        .then(|| format!("{sql}: host fails with {h}, device with {d}")),
                    ..CheckOutcome::default()
                }),
                (host, device) => outcome.merge(CheckOutcome {
                    compared: rows,
                    mismatches: rows.max(1),
                    first_mismatch: Some(format!(
                        "{sql}: host {:?}, device {:?}",
                        host.map(|_| "ok"),
                        device.map(|_| "ok")
                    )),
                    ..CheckOutcome::default()
                }),
            }
        }
    }
    outcome.rows = rows;
    // Per row and expression, roughly: the columns an expression reads (~2 x 8 bytes) and
    // the result it writes (8 bytes).
    outcome.bytes = rows * CHECK_EXPRESSIONS.len() * 24;
    Ok(outcome)
}

/// `cinder gpu-check` for the string build kernels: every sample expression with a string
/// result (each Arrow string type), on the device and on the host reference.
pub(crate) fn check_string_results(
    env: &CheckEnv<'_>,
    rows: usize,
    _seed: u64,
) -> Result<CheckOutcome> {
    let ctx = SessionContext::new();
    let strings = super::samples::string_batch(rows);
    let on_device = DeviceBatch::upload(env.pool, &strings)?;
    let mut outcome = CheckOutcome {
        rows,
        ..CheckOutcome::default()
    };
    for sql in super::samples::STRING_EXPRESSIONS {
        let program = program_for(&ctx, sql, &strings)?;
        if program.result_type() != ValueType::Str {
            continue;
        }
        let expected = evaluate(&program, &strings)?;
        let (got, _) =
            evaluate_device(env.kernels, env.pool, &program, &on_device, Timing::Untimed)?;
        outcome.merge(compare_rows(sql, &expected, &got));
        outcome.bytes += expected.get_array_memory_size() * 2;
    }
    Ok(outcome)
}

/// Compares two arrays row by row (only when they differ as a whole).
fn compare_rows(sql: &str, expected: &ArrayRef, got: &ArrayRef) -> CheckOutcome {
    let rows = expected.len();
    if expected.to_data() == got.to_data() {
        return CheckOutcome {
            compared: rows,
            ..CheckOutcome::default()
        };
    }
    if got.len() != rows || got.data_type() != expected.data_type() {
        return compare(
            sql,
            &[expected.data_type().clone()],
            &[got.data_type().clone()],
        );
    }
    let mut outcome = CheckOutcome {
        compared: rows,
        ..CheckOutcome::default()
    };
    for row in 0..rows {
        let (e, g) = (expected.slice(row, 1), got.slice(row, 1));
        if e.to_data() != g.to_data() {
            outcome.mismatches += 1;
            if outcome.first_mismatch.is_none() {
                outcome.first_mismatch =
                    Some(format!("{sql}: row {row}: host {e:?}, device {g:?}"));
            }
        }
    }
    outcome
}

pub(crate) fn program_for(ctx: &SessionContext, sql: &str, batch: &RecordBatch) -> Result<Program> {
    let schema = batch.schema();
    let invalid = |e: String| KernelError::InvalidArgument {
        kernel: EXPR_EVAL,
        reason: e,
    };
    let df_schema = DFSchema::try_from(Arc::clone(&schema)).map_err(|e| invalid(e.to_string()))?;
    let logical = ctx
        .parse_sql_expr(sql, &df_schema)
        .map_err(|e| invalid(e.to_string()))?;
    let physical = ctx
        .create_physical_expr(logical, &df_schema)
        .map_err(|e| invalid(e.to_string()))?;
    translate(&physical, &schema).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../../cuda/include/cinder/abi.cuh");

    /// The value of `NAME = value,` or `constexpr ... NAME = value;` in abi.cuh.
    fn header_constant(name: &str) -> i64 {
        let line = HEADER
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .find(|l| l.split_whitespace().any(|w| w == name) && l.contains('='))
            .unwrap_or_else(|| panic!("{name} not in abi.cuh"));
        let value = line.split('=').nth(1).unwrap().trim();
        value
            .trim_end_matches([',', ';'])
            .parse()
            .unwrap_or_else(|e| panic!("{name} = {value}: {e}"))
    }

    #[test]
    fn opcodes_types_and_flags_match_the_header() {
        let pairs: &[(&str, i64)] = &[
            ("EXPR_COLUMN", opcode::COLUMN.into()),
            ("EXPR_LITERAL", opcode::LITERAL.into()),
            ("EXPR_ADD", opcode::ADD.into()),
            ("EXPR_SUB", opcode::SUB.into()),
            ("EXPR_MUL", opcode::MUL.into()),
            ("EXPR_DIV", opcode::DIV.into()),
            ("EXPR_REM", opcode::REM.into()),
            ("EXPR_NEGATE", opcode::NEGATE.into()),
            ("EXPR_EQ", opcode::EQ.into()),
            ("EXPR_NOT_EQ", opcode::NOT_EQ.into()),
            ("EXPR_LT", opcode::LT.into()),
            ("EXPR_LT_EQ", opcode::LT_EQ.into()),
            ("EXPR_GT", opcode::GT.into()),
            ("EXPR_GT_EQ", opcode::GT_EQ.into()),
            ("EXPR_AND", opcode::AND.into()),
            ("EXPR_OR", opcode::OR.into()),
            ("EXPR_NOT", opcode::NOT.into()),
            ("EXPR_IS_NULL", opcode::IS_NULL.into()),
            ("EXPR_IS_NOT_NULL", opcode::IS_NOT_NULL.into()),
            ("EXPR_IN_LIST", opcode::IN_LIST.into()),
            ("EXPR_CAST", opcode::CAST.into()),
            ("EXPR_CASE", opcode::CASE.into()),
            ("EXPR_DATE_PART", opcode::DATE_PART.into()),
            ("EXPR_DECIMAL", type_code::DECIMAL.into()),
            ("EXPR_STR", type_code::STR.into()),
            ("EXPR_LIKE", opcode::LIKE.into()),
            ("EXPR_SUBSTR", opcode::SUBSTR.into()),
            ("EXPR_CHAR_LENGTH", opcode::CHAR_LENGTH.into()),
            ("EXPR_PART_YEAR", part_code::YEAR.into()),
            ("EXPR_PART_QUARTER", part_code::QUARTER.into()),
            ("EXPR_PART_MONTH", part_code::MONTH.into()),
            ("EXPR_PART_DAY", part_code::DAY.into()),
            ("EXPR_FLAG_SAFE", FLAG_SAFE.into()),
            ("EXPR_FLAG_CHECK", FLAG_CHECK.into()),
            ("EXPR_ERROR_CAST", ERROR_CAST.into()),
            (
                "EXPR_DATE_PART_MIN_DAYS",
                super::super::host::DATE_PART_DAYS.0.into(),
            ),
            (
                "EXPR_DATE_PART_MAX_DAYS",
                super::super::host::DATE_PART_DAYS.1.into(),
            ),
            ("EXPR_BOOL", type_code::BOOL.into()),
            ("EXPR_I32", type_code::I32.into()),
            ("EXPR_I64", type_code::I64.into()),
            ("EXPR_F64", type_code::F64.into()),
            ("EXPR_DATE32", type_code::DATE32.into()),
            ("EXPR_FLAG_CHECKED", FLAG_CHECKED.into()),
            ("EXPR_FLAG_NEGATED", FLAG_NEGATED.into()),
            ("EXPR_FLAG_LIST_HAS_NULL", FLAG_LIST_HAS_NULL.into()),
            ("EXPR_FLAG_NULL_LITERAL", FLAG_NULL_LITERAL.into()),
            ("EXPR_ERROR_DIVIDE_BY_ZERO", ERROR_DIVIDE_BY_ZERO.into()),
            ("EXPR_ERROR_OVERFLOW", ERROR_OVERFLOW.into()),
        ];
        for (name, value) in pairs {
            assert_eq!(header_constant(name), *value, "{name}");
        }
    }

    #[test]
    fn every_check_expression_translates_and_encodes() {
        let ctx = SessionContext::new();
        let batch = super::super::samples::batch(10, 0, 1);
        let strings = super::super::samples::string_batch(10);
        let all = CHECK_EXPRESSIONS.iter().map(|sql| (sql, &batch)).chain(
            super::super::samples::STRING_EXPRESSIONS
                .iter()
                .map(|sql| (sql, &strings)),
        );
        for (sql, batch) in all {
            let program = program_for(&ctx, sql, batch).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let encoded = encode(&program);
            assert_eq!(encoded.instrs.len(), program.instrs.len());
            for (i, instr) in encoded.instrs.iter().enumerate() {
                assert!(instr.opcode != 0, "{sql}: instruction {i} has no opcode");
                // Operands always refer to earlier registers.
                for r in [instr.a, instr.b] {
                    if instr.opcode != opcode::COLUMN {
                        assert!(r < i as i32, "{sql}: r{i} reads r{r}");
                    }
                }
            }
        }
    }

    #[test]
    fn programs_that_do_not_fit_the_batch_are_refused() {
        use cinder_cuda::{MemoryPool, PoolConfig};
        // check_bindings runs before anything touches a device, so the host pool serves.
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let ctx = SessionContext::new();
        let sample = super::super::samples::batch(10, 0, 1);
        let narrow = DeviceBatch::upload(&pool, &sample.project(&[0, 1]).unwrap()).unwrap();
        let full = DeviceBatch::upload(&pool, &sample).unwrap();

        let program = program_for(&ctx, "c + d", &sample).unwrap();
        check_bindings(&program, &full).unwrap();
        let err = check_bindings(&program, &narrow).unwrap_err().to_string();
        assert!(err.contains("column 2 is not in the batch"), "{err}");

        let mut wrong = program_for(&ctx, "a + b", &sample).unwrap();
        wrong.types[0] = ValueType::I64;
        let err = check_bindings(&wrong, &full).unwrap_err().to_string();
        assert!(err.contains("column 0 is Int32"), "{err}");

        let mut long = program_for(&ctx, "a + b", &sample).unwrap();
        long.instrs = vec![Instr::Literal(None); 65];
        long.types = vec![ValueType::I32; 65];
        let err = check_bindings(&long, &full).unwrap_err().to_string();
        assert!(err.contains("65 instructions"), "{err}");

        // The launcher checks the bindings first, then refuses a host pool.
        let none = DeviceKernels::empty();
        let err = evaluate_device(&none, &pool, &program, &narrow, Timing::Untimed).unwrap_err();
        assert!(
            err.to_string().contains("column 2 is not in the batch"),
            "{err}"
        );
        let err = evaluate_device(&none, &pool, &program, &full, Timing::Untimed).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA pool"), "{err}");
    }

    #[test]
    fn in_lists_share_one_constant_pool() {
        let ctx = SessionContext::new();
        let batch = super::super::samples::batch(10, 0, 1);
        let program = program_for(&ctx, "a IN (1, 2) OR c IN (7, 8, 9)", &batch).unwrap();
        let encoded = encode(&program);
        assert_eq!(encoded.constants, [1, 2, 7, 8, 9]);
        let lists: Vec<(i32, i32)> = encoded
            .instrs
            .iter()
            .filter(|i| i.opcode == opcode::IN_LIST)
            .map(|i| (i.list_start, i.list_len))
            .collect();
        assert_eq!(lists, [(0, 2), (2, 3)]);
    }
}
