//! `#[repr(C)]` mirrors of the structs in `kernels/cuda/include/cinder/abi.cuh`.
//!
//! A unit test parses the header and checks that every mirrored struct has the same fields in
//! the same order at the same offsets, so the two cannot drift apart silently.

use cinder_cuda::driver::DeviceRepr;

/// One fixed-width column on the device, in Arrow's layout (`cinder::ColumnView`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColumnView {
    /// Device address of row 0's value (the array's offset already applied).
    pub data: u64,
    /// Device address of the Arrow validity bitmap; 0 when there are no nulls.
    pub validity: u64,
    /// Bit index of row 0 in the validity bitmap.
    pub validity_offset: i64,
    /// Number of rows.
    pub len: i64,
    /// Strings: device address of the bytes the offsets index.
    pub bytes: u64,
    /// Strings: 4 or 8 bytes per offset; 0 otherwise.
    pub offset_width: i32,
    /// Unused.
    pub reserved: i32,
}

// SAFETY: `ColumnView` is `#[repr(C)]`, `Copy`, holds only plain integers, and has the exact
// layout of `cinder::ColumnView` in abi.cuh (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for ColumnView {}

/// One expression instruction (`cinder::ExprInstr`); see `expr::device` for the encoding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExprInstr {
    /// `EXPR_*` opcode.
    pub opcode: i32,
    /// Result type code.
    pub ty: i32,
    /// First operand register, or the column index.
    pub a: i32,
    /// Second operand register.
    pub b: i32,
    /// Type code of operand `a`.
    pub arg_type: i32,
    /// `EXPR_FLAG_*` bits.
    pub flags: i32,
    /// First entry of this instruction's constants (IN list items, CASE branches, a
    /// precision bound).
    pub list_start: i32,
    /// Number of items at `list_start`.
    pub list_len: i32,
    /// Literal bits (the low half of a decimal), or a decimal scaling factor.
    pub imm: i64,
    /// An instruction-specific parameter.
    pub p0: i32,
    /// A second instruction-specific parameter.
    pub p1: i32,
    /// The high half of a 128-bit `imm`.
    pub imm_hi: i64,
}

/// A program bound to its inputs and outputs (`cinder::ExprProgram`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExprProgram {
    /// Device address of the instructions.
    pub instrs: u64,
    /// Device address of the IN list constants.
    pub constants: u64,
    /// Device address of the input `ColumnView`s.
    pub columns: u64,
    /// Number of instructions.
    pub n_instrs: i32,
    /// Result register.
    pub result: i32,
    /// Rows.
    pub rows: i64,
    /// Device address of the result values.
    pub out_values: u64,
    /// Device address of the result validity words.
    pub out_validity: u64,
    /// Device address of the error word.
    pub error: u64,
    /// Device address of the count of null results.
    pub null_count: u64,
    /// Device address of the program's string constants.
    pub strings: u64,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::ExprProgram`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for ExprProgram {}

/// One column to compact (`cinder::FilterColumn`); see `filter` for its use.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterColumn {
    /// Device address of the values (a bitmap when `width` is 0).
    pub data: u64,
    /// Device address of the validity bitmap; 0 when there are no nulls.
    pub validity: u64,
    /// Device address of the output values.
    pub out_data: u64,
    /// Device address of the output validity words (zeroed).
    pub out_validity: u64,
    /// Device address of the output null count (zeroed).
    pub null_count: u64,
    /// Strings: device address of the input bytes.
    pub bytes: u64,
    /// Strings: device address of the output bytes.
    pub out_bytes: u64,
    /// Strings: device address of the per-block kept byte counts.
    pub block_bytes: u64,
    /// Strings: device address of their exclusive scan (plus the total).
    pub block_byte_offsets: u64,
    /// Bytes per value, 0 for a bitmap, -1 for strings.
    pub width: i32,
    /// Strings: 4 or 8 bytes per offset.
    pub offset_width: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::FilterColumn`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for FilterColumn {}

/// A filter's selection and block bookkeeping (`cinder::FilterParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterParams {
    /// Device address of the predicate's value words.
    pub values: u64,
    /// Device address of the predicate's validity words.
    pub validity: u64,
    /// Device address of the per-block counts.
    pub block_counts: u64,
    /// Device address of the per-block output offsets (plus the total).
    pub block_offsets: u64,
    /// Device address of the `FilterColumn`s.
    pub columns: u64,
    /// Input rows.
    pub rows: i64,
    /// Blocks.
    pub n_blocks: i64,
    /// Columns.
    pub n_columns: i32,
    /// Unused.
    pub reserved: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::FilterParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for FilterParams {}

/// Building a string column from a string result (`cinder::StringBuildParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StringBuildParams {
    /// Device address of the (address, length) pairs.
    pub refs: u64,
    /// Device address of the per-block byte counts.
    pub block_bytes: u64,
    /// Device address of their exclusive scan (plus the total).
    pub block_offsets: u64,
    /// Device address of the output offsets.
    pub out_offsets: u64,
    /// Device address of the output bytes (0 when there are none).
    pub out_bytes: u64,
    /// Rows.
    pub rows: i64,
    /// 4 or 8 bytes per offset.
    pub offset_width: i32,
    /// Unused.
    pub reserved: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::StringBuildParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for StringBuildParams {}

/// One group key column (`cinder::AggKey`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggKey {
    /// Device address of the values, bitmap or offsets.
    pub data: u64,
    /// Device address of the validity bitmap; 0 when there are no nulls.
    pub validity: u64,
    /// Strings: device address of the bytes.
    pub bytes: u64,
    /// `AGG_KEY_*`.
    pub kind: i32,
    /// Strings: 4 or 8 bytes per offset.
    pub offset_width: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::AggKey` (checked by
// `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for AggKey {}

/// Group numbering buffers (`cinder::GroupParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupParams {
    /// Device address of the `AggKey`s.
    pub keys: u64,
    /// Device address of the hash table's slots (zeroed).
    pub slots: u64,
    /// Device address of each row's slot.
    pub row_slot: u64,
    /// Device address of the first-row flags (32-bit words).
    pub rep_bits: u64,
    /// Device address of each row's number (Int32).
    pub row_index: u64,
    /// Device address of each group's first row (Int32).
    pub first_rows: u64,
    /// Device address of the group each first row starts.
    pub rep_group: u64,
    /// Device address of each row's group (output).
    pub groups: u64,
    /// Rows.
    pub rows: i64,
    /// Groups (known after the compaction).
    pub n_groups: i64,
    /// Slots - 1.
    pub mask: u64,
    /// Key columns.
    pub n_keys: i32,
    /// Unused.
    pub reserved: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::GroupParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for GroupParams {}

/// One accumulator operation (`cinder::AggOp`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggOp {
    /// Device address of the input values; 0 for `count(*)`.
    pub data: u64,
    /// Device address of the input validity bitmap; 0 when there are no nulls.
    pub validity: u64,
    /// Device address of the per-group values.
    pub values: u64,
    /// Device address of the per-group seen flags.
    pub seen: u64,
    /// `AGG_OP_*`.
    pub kind: i32,
    /// `AGG_READ_*`.
    pub read: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::AggOp` (checked by
// `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for AggOp {}

/// One accumulation pass (`cinder::AccumulateParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccumulateParams {
    /// Device address of the `AggOp`s.
    pub ops: u64,
    /// Device address of each row's group.
    pub groups: u64,
    /// Rows.
    pub rows: i64,
    /// Groups.
    pub n_groups: i64,
    /// Operations.
    pub n_ops: i32,
    /// 0 or 1.
    pub pass: i32,
    /// Whether blocks accumulate in shared memory first.
    pub shared: i32,
    /// Unused.
    pub reserved: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::AccumulateParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for AccumulateParams {}

/// An exclusive scan (`cinder::ScanParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanParams {
    /// Device address of the `n` input values (u64).
    pub r#in: u64,
    /// Device address of the `n + 1` outputs.
    pub out: u64,
    /// Device address of the per-tile sums.
    pub tile_sums: u64,
    /// Values.
    pub n: i64,
    /// Tiles.
    pub n_tiles: i64,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::ScanParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for ScanParams {}

/// Hash join build and probe buffers (`cinder::JoinParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JoinParams {
    /// Device address of the build keys' `AggKey`s.
    pub build_keys: u64,
    /// Device address of the probe keys' `AggKey`s.
    pub probe_keys: u64,
    /// Device address of the build table's slots.
    pub slots: u64,
    /// Device address of the group of each key's first build row.
    pub rep_group: u64,
    /// Device address of each build row's group.
    pub build_groups: u64,
    /// Device address of the per-group build row counts.
    pub group_counts: u64,
    /// Device address of their exclusive scan.
    pub group_offsets: u64,
    /// Device address of the per-group fill cursors.
    pub group_cursor: u64,
    /// Device address of the grouped build rows.
    pub group_rows: u64,
    /// Device address of each probe row's group (-1: none).
    pub probe_group: u64,
    /// Device address of each probe row's match count.
    pub probe_counts: u64,
    /// Device address of their exclusive scan.
    pub probe_offsets: u64,
    /// Device address of the chunk's build rows.
    pub out_build: u64,
    /// Device address of the chunk's probe rows.
    pub out_probe: u64,
    /// Slots - 1.
    pub mask: u64,
    /// Build rows.
    pub build_rows: i64,
    /// Probe rows.
    pub probe_rows: i64,
    /// First pair of the chunk.
    pub pair_start: i64,
    /// One past the chunk's last pair.
    pub pair_end: i64,
    /// Dense keys: the smallest build key.
    pub dense_min: i64,
    /// Dense keys: max - min + 1.
    pub dense_range: i64,
    /// Key columns.
    pub n_keys: i32,
    /// Whether a probe row with a null key matches nothing.
    pub skip_null_keys: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::JoinParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for JoinParams {}

/// One column to gather (`cinder::GatherColumn`); see `join::gather` for its use.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatherColumn {
    /// Device address of the values (a bitmap when `width` is 0, offsets when -1); 0 for none.
    pub data: u64,
    /// Device address of the validity bitmap; 0 when there are no nulls.
    pub validity: u64,
    /// Device address of the output values, bitmap words or offsets.
    pub out_data: u64,
    /// Device address of the output validity words; 0 when no output row can be null.
    pub out_validity: u64,
    /// Device address of the output null count (zeroed).
    pub null_count: u64,
    /// Strings: device address of the input bytes.
    pub bytes: u64,
    /// Strings: device address of the output bytes (0 when there are none).
    pub out_bytes: u64,
    /// Strings: device address of the per-row output lengths (u64).
    pub lengths: u64,
    /// Strings: device address of their exclusive scan (plus the total).
    pub starts: u64,
    /// Bytes per value, 0 for a bitmap, -1 for strings.
    pub width: i32,
    /// Strings: 4 or 8 bytes per offset.
    pub offset_width: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::GatherColumn`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for GatherColumn {}

/// Rows gathered by index (`cinder::GatherParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatherParams {
    /// Device address of the u32 indices, one per output row (`u32::MAX`: a null row).
    pub indices: u64,
    /// Device address of the `GatherColumn`s.
    pub columns: u64,
    /// Device address of the u64 count of bad indices (zeroed).
    pub errors: u64,
    /// Output rows.
    pub rows: i64,
    /// Input rows.
    pub source_rows: i64,
    /// Columns.
    pub n_columns: i32,
    /// Whether null indices are allowed (1) or errors (0).
    pub nullable: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::GatherParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for GatherParams {}

/// One column of one piece of a concatenation (`cinder::ConcatColumn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConcatColumn {
    /// Input values, Boolean bitmap or string offsets.
    pub data: u64,
    /// Input validity bitmap, or 0.
    pub validity: u64,
    /// Strings: input bytes.
    pub bytes: u64,
    /// Output values, zeroed Boolean bitmap or string offsets.
    pub out_data: u64,
    /// Output validity bitmap (zeroed), or 0 when no output row is null.
    pub out_validity: u64,
    /// Strings: output bytes.
    pub out_bytes: u64,
    /// Strings: the output byte where this piece's bytes start.
    pub byte_base: u64,
    /// Bytes per value (1, 2, 4, 8, 16); 0 for Boolean; -1 for strings.
    pub width: i32,
    /// Strings: bytes per offset (4 or 8).
    pub offset_width: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::ConcatColumn`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for ConcatColumn {}

/// One piece of a concatenation (`cinder::ConcatParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConcatParams {
    /// Device address of the `ConcatColumn`s.
    pub columns: u64,
    /// Rows of this piece.
    pub rows: i64,
    /// The output row of its first row.
    pub at: i64,
    /// Output rows.
    pub total: i64,
    /// Columns.
    pub n_columns: i32,
    /// Zero.
    pub reserved: i32,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::ConcatParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for ConcatParams {}

/// Rows marked by index, or the marks flipped (`cinder::MarkParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarkParams {
    /// Device address of the u32 indices.
    pub indices: u64,
    /// Device address of the bitmap words (one bit per row).
    pub bitmap: u64,
    /// Device address of the u64 count of indices past the rows (zeroed).
    pub errors: u64,
    /// Indices.
    pub n: i64,
    /// Rows the bitmap covers.
    pub rows: i64,
}

// SAFETY: `#[repr(C)]`, `Copy`, plain integers only, laid out as `cinder::MarkParams`
// (checked by `abi_header_matches_rust_mirrors`).
unsafe impl DeviceRepr for MarkParams {}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    const HEADER: &str = include_str!("../cuda/include/cinder/abi.cuh");

    /// `(field, size)` pairs of `struct NAME { ... };` in the header, in declaration order.
    fn header_fields(name: &str) -> Vec<(String, usize)> {
        let start = HEADER
            .find(&format!("struct {name} {{"))
            .unwrap_or_else(|| panic!("struct {name} not in abi.cuh"));
        let body = &HEADER[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("};").unwrap()];
        body.lines()
            .map(|l| l.split("//").next().unwrap().trim())
            .filter(|l| !l.is_empty())
            .map(|l| {
                let decl = l.strip_suffix(';').expect("one field per line");
                let (ty, field) = decl.rsplit_once(' ').expect("TYPE NAME");
                let size = match ty.trim() {
                    "uint64_t" | "int64_t" => 8,
                    "uint32_t" | "int32_t" => 4,
                    "uint8_t" | "int8_t" => 1,
                    other => panic!("abi.cuh uses an unmapped type {other}"),
                };
                (field.trim().to_string(), size)
            })
            .collect()
    }

    /// C layout of `fields`: offsets with natural alignment, and the padded total size.
    fn c_layout(fields: &[(String, usize)]) -> (Vec<usize>, usize) {
        let mut offset = 0usize;
        let mut offsets = Vec::new();
        let mut align = 1;
        for (_, size) in fields {
            offset = offset.next_multiple_of(*size);
            offsets.push(offset);
            offset += size;
            align = align.max(*size);
        }
        (offsets, offset.next_multiple_of(align))
    }

    #[test]
    fn abi_header_matches_rust_mirrors() {
        let fields = header_fields("ColumnView");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "data",
                "validity",
                "validity_offset",
                "len",
                "bytes",
                "offset_width",
                "reserved"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(ColumnView, data),
                offset_of!(ColumnView, validity),
                offset_of!(ColumnView, validity_offset),
                offset_of!(ColumnView, len),
                offset_of!(ColumnView, bytes),
                offset_of!(ColumnView, offset_width),
                offset_of!(ColumnView, reserved),
            ]
        );
        assert_eq!(size, size_of::<ColumnView>());

        let fields = header_fields("ExprInstr");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "opcode",
                "type",
                "a",
                "b",
                "arg_type",
                "flags",
                "list_start",
                "list_len",
                "imm",
                "p0",
                "p1",
                "imm_hi"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(ExprInstr, opcode),
                offset_of!(ExprInstr, ty),
                offset_of!(ExprInstr, a),
                offset_of!(ExprInstr, b),
                offset_of!(ExprInstr, arg_type),
                offset_of!(ExprInstr, flags),
                offset_of!(ExprInstr, list_start),
                offset_of!(ExprInstr, list_len),
                offset_of!(ExprInstr, imm),
                offset_of!(ExprInstr, p0),
                offset_of!(ExprInstr, p1),
                offset_of!(ExprInstr, imm_hi),
            ]
        );
        assert_eq!(size, size_of::<ExprInstr>());

        let fields = header_fields("ExprProgram");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "instrs",
                "constants",
                "columns",
                "n_instrs",
                "result",
                "rows",
                "out_values",
                "out_validity",
                "error",
                "null_count",
                "strings"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(ExprProgram, instrs),
                offset_of!(ExprProgram, constants),
                offset_of!(ExprProgram, columns),
                offset_of!(ExprProgram, n_instrs),
                offset_of!(ExprProgram, result),
                offset_of!(ExprProgram, rows),
                offset_of!(ExprProgram, out_values),
                offset_of!(ExprProgram, out_validity),
                offset_of!(ExprProgram, error),
                offset_of!(ExprProgram, null_count),
                offset_of!(ExprProgram, strings),
            ]
        );
        assert_eq!(size, size_of::<ExprProgram>());

        let fields = header_fields("FilterColumn");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "data",
                "validity",
                "out_data",
                "out_validity",
                "null_count",
                "bytes",
                "out_bytes",
                "block_bytes",
                "block_byte_offsets",
                "width",
                "offset_width"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(FilterColumn, data),
                offset_of!(FilterColumn, validity),
                offset_of!(FilterColumn, out_data),
                offset_of!(FilterColumn, out_validity),
                offset_of!(FilterColumn, null_count),
                offset_of!(FilterColumn, bytes),
                offset_of!(FilterColumn, out_bytes),
                offset_of!(FilterColumn, block_bytes),
                offset_of!(FilterColumn, block_byte_offsets),
                offset_of!(FilterColumn, width),
                offset_of!(FilterColumn, offset_width),
            ]
        );
        assert_eq!(size, size_of::<FilterColumn>());

        let fields = header_fields("FilterParams");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "values",
                "validity",
                "block_counts",
                "block_offsets",
                "columns",
                "rows",
                "n_blocks",
                "n_columns",
                "reserved"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(FilterParams, values),
                offset_of!(FilterParams, validity),
                offset_of!(FilterParams, block_counts),
                offset_of!(FilterParams, block_offsets),
                offset_of!(FilterParams, columns),
                offset_of!(FilterParams, rows),
                offset_of!(FilterParams, n_blocks),
                offset_of!(FilterParams, n_columns),
                offset_of!(FilterParams, reserved),
            ]
        );
        assert_eq!(size, size_of::<FilterParams>());

        let fields = header_fields("StringBuildParams");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "refs",
                "block_bytes",
                "block_offsets",
                "out_offsets",
                "out_bytes",
                "rows",
                "offset_width",
                "reserved"
            ]
        );
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(StringBuildParams, refs),
                offset_of!(StringBuildParams, block_bytes),
                offset_of!(StringBuildParams, block_offsets),
                offset_of!(StringBuildParams, out_offsets),
                offset_of!(StringBuildParams, out_bytes),
                offset_of!(StringBuildParams, rows),
                offset_of!(StringBuildParams, offset_width),
                offset_of!(StringBuildParams, reserved),
            ]
        );
        assert_eq!(size, size_of::<StringBuildParams>());

        // The aggregation structs, checked the same way by a macro.
        macro_rules! layout {
            ($ty:ident, [$($field:ident),* $(,)?]) => {{
                let fields = header_fields(stringify!($ty));
                let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, [$(stringify!($field)),*], stringify!($ty));
                let (offsets, size) = c_layout(&fields);
                assert_eq!(offsets, [$(offset_of!($ty, $field)),*], stringify!($ty));
                assert_eq!(size, size_of::<$ty>(), stringify!($ty));
            }};
        }
        layout!(AggKey, [data, validity, bytes, kind, offset_width]);
        layout!(
            GroupParams,
            [
                keys, slots, row_slot, rep_bits, row_index, first_rows, rep_group, groups, rows,
                n_groups, mask, n_keys, reserved
            ]
        );
        layout!(AggOp, [data, validity, values, seen, kind, read]);
        layout!(
            GatherColumn,
            [
                data,
                validity,
                out_data,
                out_validity,
                null_count,
                bytes,
                out_bytes,
                lengths,
                starts,
                width,
                offset_width
            ]
        );
        layout!(
            GatherParams,
            [
                indices,
                columns,
                errors,
                rows,
                source_rows,
                n_columns,
                nullable
            ]
        );
        layout!(MarkParams, [indices, bitmap, errors, n, rows]);
        layout!(
            ConcatColumn,
            [
                data,
                validity,
                bytes,
                out_data,
                out_validity,
                out_bytes,
                byte_base,
                width,
                offset_width
            ]
        );
        layout!(
            ConcatParams,
            [columns, rows, at, total, n_columns, reserved]
        );
        layout!(
            AccumulateParams,
            [ops, groups, rows, n_groups, n_ops, pass, shared, reserved]
        );
        let fields = header_fields("ScanParams");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["in", "out", "tile_sums", "n", "n_tiles"]);
        let (offsets, size) = c_layout(&fields);
        assert_eq!(
            offsets,
            [
                offset_of!(ScanParams, r#in),
                offset_of!(ScanParams, out),
                offset_of!(ScanParams, tile_sums),
                offset_of!(ScanParams, n),
                offset_of!(ScanParams, n_tiles),
            ]
        );
        assert_eq!(size, size_of::<ScanParams>());
        layout!(
            JoinParams,
            [
                build_keys,
                probe_keys,
                slots,
                rep_group,
                build_groups,
                group_counts,
                group_offsets,
                group_cursor,
                group_rows,
                probe_group,
                probe_counts,
                probe_offsets,
                out_build,
                out_probe,
                mask,
                build_rows,
                probe_rows,
                pair_start,
                pair_end,
                dense_min,
                dense_range,
                n_keys,
                skip_null_keys
            ]
        );
    }
}
