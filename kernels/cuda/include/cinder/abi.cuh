// Cinder kernel ABI: the structs that cross from Rust to device code.
//
// Every struct here has a #[repr(C)] mirror in kernels/src/abi.rs; a unit test parses this
// file and checks that field names, order, sizes and offsets agree. Change both together.
//
// NVRTC ships no C standard headers, so the fixed-width integer types are defined here.
#pragma once

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

namespace cinder {

// One column on the device, in Arrow's layout.
struct ColumnView {
  uint64_t data;             // device address of row 0's value (the array's offset applied);
                             // for strings, of row 0's offset
  uint64_t validity;         // device address of the Arrow validity bitmap; 0 = no nulls
  int64_t validity_offset;   // bit index of row 0 in the validity bitmap
  int64_t len;               // number of rows
  uint64_t bytes;            // strings: device address of the bytes the offsets index
  int32_t offset_width;      // strings: 4 or 8 bytes per offset; 0 otherwise
  int32_t reserved;
};

// Arrow validity: bit i (LSB first) set means row i is valid. A null bitmap means all valid.
__device__ __forceinline__ bool is_valid(const uint8_t* validity, int64_t bit) {
  return validity == nullptr || ((validity[bit >> 3] >> (bit & 7)) & 1) != 0;
}

// Grid-stride loop bounds: the first row this thread handles and the stride between rows.
__device__ __forceinline__ int64_t grid_first_row() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(blockDim.x) * gridDim.x;
}

}  // namespace cinder

namespace cinder {

// Expression programs (kernels/src/expr/program.rs, encoded by kernels/src/expr/device.rs).
// Opcodes and type codes are mirrored as constants in kernels/src/expr/device.rs.
enum ExprOp : int32_t {
  EXPR_COLUMN = 1,
  EXPR_LITERAL = 2,
  EXPR_ADD = 10,
  EXPR_SUB = 11,
  EXPR_MUL = 12,
  EXPR_DIV = 13,
  EXPR_REM = 14,
  EXPR_NEGATE = 15,
  EXPR_EQ = 20,
  EXPR_NOT_EQ = 21,
  EXPR_LT = 22,
  EXPR_LT_EQ = 23,
  EXPR_GT = 24,
  EXPR_GT_EQ = 25,
  EXPR_AND = 30,
  EXPR_OR = 31,
  EXPR_NOT = 32,
  EXPR_IS_NULL = 33,
  EXPR_IS_NOT_NULL = 34,
  EXPR_IN_LIST = 35,
  EXPR_CAST = 40,
  EXPR_CASE = 41,
  EXPR_DATE_PART = 42,
  EXPR_LIKE = 43,
  EXPR_SUBSTR = 44,
  EXPR_CHAR_LENGTH = 45,
};

enum ExprType : int32_t {
  EXPR_BOOL = 1,
  EXPR_I32 = 2,
  EXPR_I64 = 3,
  EXPR_F64 = 4,
  EXPR_DATE32 = 5,
  EXPR_DECIMAL = 6,  // Decimal128: 16 bytes, little-endian two's complement
  EXPR_STR = 7,      // a string: register = address of its first byte, high half = length
};

// Flags of an ExprInstr.
constexpr int32_t EXPR_FLAG_CHECKED = 1;        // integer overflow is an error
constexpr int32_t EXPR_FLAG_NEGATED = 2;        // NOT IN
constexpr int32_t EXPR_FLAG_LIST_HAS_NULL = 4;  // the IN list held a null
constexpr int32_t EXPR_FLAG_NULL_LITERAL = 8;   // the literal is null
constexpr int32_t EXPR_FLAG_SAFE = 16;          // a cast that does not fit gives null (TRY_CAST)
constexpr int32_t EXPR_FLAG_CHECK = 32;         // check a decimal result against its bound

// Fault kinds (ExprProgram::error holds the first failing row's).
constexpr uint32_t EXPR_ERROR_DIVIDE_BY_ZERO = 1;
constexpr uint32_t EXPR_ERROR_OVERFLOW = 2;
constexpr uint32_t EXPR_ERROR_CAST = 4;

// Date parts (ExprInstr::p0 of EXPR_DATE_PART), and the Date32 range Arrow's date_part takes a
// field of (chrono's dates); outside it the field is null.
constexpr int32_t EXPR_PART_YEAR = 1;
constexpr int32_t EXPR_PART_QUARTER = 2;
constexpr int32_t EXPR_PART_MONTH = 3;
constexpr int32_t EXPR_PART_DAY = 4;
constexpr int32_t EXPR_DATE_PART_MIN_DAYS = -96465292;
constexpr int32_t EXPR_DATE_PART_MAX_DAYS = 95026236;

// One instruction; instruction i writes register i. Registers are 64-bit, with a second
// 64-bit half used by decimals only.
//
// Per opcode (see kernels/src/expr/device.rs, which encodes them):
// - EXPR_LITERAL: imm (and imm_hi for a decimal) is the value.
// - arithmetic on EXPR_DECIMAL: imm:imm_hi is the factor (10^k) that rescales operand a
//   (p0 = 0) or b (p0 = 1) first: +, -, % to the common scale, / to the quotient's scale.
// - EXPR_IN_LIST: list_len items at constants[list_start], two words each for decimals.
// - EXPR_CAST: from arg_type to type. Integer -> decimal: multiply by imm:imm_hi. Decimal ->
//   decimal: multiply (p0 = 1) or divide rounding half away from zero (p0 = 0) by imm:imm_hi.
//   With EXPR_FLAG_CHECK the result must lie within +-constants[list_start..+2] (10^p - 1).
//   Decimal -> F64: divide by the double whose bits are imm (10^scale). F64 -> decimal:
//   round(imm as a double (10^scale) * x), always checked against the bound. F64 -> I64/I32:
//   truncate, refusing NaN and values out of range.
// - EXPR_CASE: list_len (condition, value) register pairs at constants[list_start]; b is the
//   ELSE register, or -1 for null.
// - EXPR_DATE_PART: p0 is an EXPR_PART_*.
// - Strings: an EXPR_STR literal is imm:imm_hi = (offset in ExprProgram::strings, length); so
//   are the IN list items and the EXPR_LIKE segments (list_len pairs at constants[list_start];
//   p0 bit 0: the pattern starts with %, bit 1: it ends with %). EXPR_SUBSTR: start in imm,
//   count in imm_hi when p0 = 1 (else to the end). EXPR_CHAR_LENGTH: characters, as `type`.
struct ExprInstr {
  int32_t opcode;      // ExprOp
  int32_t type;        // ExprType of the result
  int32_t a;           // first operand register; the column index for EXPR_COLUMN
  int32_t b;           // second operand register
  int32_t arg_type;    // ExprType of operand a (comparisons, casts, IN lists)
  int32_t flags;       // EXPR_FLAG_*
  int32_t list_start;  // first of this instruction's entries in ExprProgram::constants
  int32_t list_len;    // number of entries (items or pairs)
  int64_t imm;         // literal bits: integers sign-extended, doubles as their bits, bool 0/1
  int32_t p0;          // instruction-specific parameter
  int32_t p1;          // instruction-specific parameter
  int64_t imm_hi;      // high half of a 128-bit imm
};

// A program bound to its input columns and output buffers.
struct ExprProgram {
  uint64_t instrs;        // device address of ExprInstr[n_instrs]
  uint64_t constants;     // device address of the int64 constants the instructions refer to
  uint64_t columns;       // device address of ColumnView[] (the input batch's columns)
  int32_t n_instrs;
  int32_t result;         // register holding the result
  int64_t rows;
  uint64_t out_values;    // result values: bit-packed for EXPR_BOOL, else 4, 8 or 16 bytes per
                          // row (EXPR_STR: the string's address and length)
  uint64_t out_validity;  // result validity bitmap, in 32-bit words (ceil(rows / 32) of them)
  uint64_t error;         // device address of one uint64: the smallest (row << 3) | EXPR_ERROR_*
                          // over failing rows; all ones before launch (no failure)
  uint64_t null_count;    // device address of one uint64 count of null results, zeroed before launch
  uint64_t strings;       // device address of the program's string constants, back to back
};

}  // namespace cinder

namespace cinder {

// Filter compaction (kernels/cuda/filter/compact.cu, launched by kernels/src/filter.rs).
// Rows are taken in blocks of FILTER_ROWS_PER_BLOCK: a count pass, a scan of the per-block
// counts, then one gather pass that moves every column.
constexpr int32_t FILTER_THREADS = 256;
constexpr int32_t FILTER_TILES = 8;
constexpr int32_t FILTER_ROWS_PER_BLOCK = FILTER_THREADS * FILTER_TILES;

// One column to compact. Rows start at bit/element 0 (device columns are normalised).
struct FilterColumn {
  uint64_t data;                // values (`width` bytes each), a bitmap (width 0), or offsets (width -1)
  uint64_t validity;            // input validity bitmap; 0 = no nulls (then out_validity is 0 too)
  uint64_t out_data;            // output values or offsets (bitmaps zeroed before launch)
  uint64_t out_validity;        // output validity bitmap in 32-bit words, zeroed before launch
  uint64_t null_count;          // device address of a uint64 count of output nulls, zeroed
  uint64_t bytes;               // strings: the bytes the input offsets index
  uint64_t out_bytes;           // strings: the output bytes
  uint64_t block_bytes;         // strings: uint64 per block, kept bytes (the count pass writes)
  uint64_t block_byte_offsets;  // strings: uint64 per block + 1, their exclusive scan
  int32_t width;                // bytes per value: 1, 2, 4, 8 or 16; 0 for a bitmap; -1 for strings
  int32_t offset_width;         // strings: 4 or 8 bytes per offset (output as input)
};

// The selection and where each block's rows go.
struct FilterParams {
  uint64_t values;        // predicate result bits, 32-bit words
  uint64_t validity;      // predicate validity bits, 32-bit words (null does not select)
  uint64_t block_counts;  // uint64 per block: selected rows (count pass writes)
  uint64_t block_offsets; // uint64 per block + 1: exclusive scan of the counts (scan writes)
  uint64_t columns;       // device address of FilterColumn[n_columns]
  int64_t rows;
  int64_t n_blocks;
  int32_t n_columns;
  int32_t reserved;
};

}  // namespace cinder

namespace cinder {

// Building a string column from an expression's string result (kernels/cuda/expr/strings.cu):
// the interpreter writes each row's (address, length); blocks of FILTER_ROWS_PER_BLOCK rows
// sum their lengths, cinder_filter_scan scans the sums, and the build pass writes offsets
// and copies bytes.
struct StringBuildParams {
  uint64_t refs;           // int64 (address, length) pairs, one per row (length 0 for nulls)
  uint64_t block_bytes;    // uint64 per block: the bytes of its rows
  uint64_t block_offsets;  // uint64 per block + 1: their exclusive scan
  uint64_t out_offsets;    // rows + 1 offsets of offset_width bytes
  uint64_t out_bytes;      // the bytes (0 when there are none)
  int64_t rows;
  int32_t offset_width;    // 4 or 8
  int32_t reserved;
};

}  // namespace cinder

namespace cinder {

// Hash aggregation (kernels/cuda/aggregate/groupby.cu, launched by
// kernels/src/aggregate/device.rs). Rows are numbered with 32-bit integers.
constexpr uint32_t AGG_EMPTY_SLOT = 0;  // a slot holds its key's smallest row + 1

// Key kinds (AggKey::kind).
constexpr int32_t AGG_KEY_BOOL = 1;  // a bitmap
constexpr int32_t AGG_KEY_4 = 4;     // 4-byte values (Int32, Date32)
constexpr int32_t AGG_KEY_8 = 8;     // 8-byte integers (Int64)
constexpr int32_t AGG_KEY_F64 = 9;   // Float64: -0.0 is +0.0, NaNs equal by bit pattern
constexpr int32_t AGG_KEY_16 = 16;   // Decimal128
constexpr int32_t AGG_KEY_STR = 20;  // offsets (offset_width bytes each) into bytes

// One group key column. Rows start at element / bit 0 (device columns are normalised).
struct AggKey {
  uint64_t data;         // values, bitmap, or offsets
  uint64_t validity;     // validity bitmap; 0 = no nulls
  uint64_t bytes;        // strings: the bytes the offsets index
  int32_t kind;          // AGG_KEY_*
  int32_t offset_width;  // strings: 4 or 8
};

// Group numbering: insert every row into an open-addressing table whose slots keep the
// smallest row (+ 1) of their key (cinder_agg_insert), flag each key's first row (cinder_agg_mark,
// which also writes row_index = row), compact the keys and row_index by those flags (the
// filter kernels: first_rows, in row order), number the first rows (cinder_agg_scatter), and
// give every row its group (cinder_agg_assign).
struct GroupParams {
  uint64_t keys;        // AggKey[n_keys]
  uint64_t slots;       // uint32 per slot (mask + 1 of them, a power of two), zeroed before
  uint64_t row_slot;    // uint32 per row: the slot of the row's key
  uint64_t rep_bits;    // uint32 words, one bit per row: the row is its key's first row
  uint64_t row_index;   // int32 per row: the row's own number
  uint64_t first_rows;  // int32 per group: its first row (compacted from row_index)
  uint64_t rep_group;   // uint32 per row: the group a first row starts (others unused)
  uint64_t groups;      // uint32 per row: the row's group (output)
  int64_t rows;
  int64_t n_groups;
  uint64_t mask;        // slots - 1
  int32_t n_keys;
  int32_t reserved;
};

// Accumulator operations (AggOp::kind), as kernels/src/aggregate/spec.rs `OpKind`.
constexpr int32_t AGG_OP_COUNT = 1;   // int64 count of valid rows (every row when data = 0)
constexpr int32_t AGG_OP_SUM64 = 2;   // wrapping int64 sum
constexpr int32_t AGG_OP_SUM128 = 3;  // wrapping 128-bit sum
constexpr int32_t AGG_OP_SUMF64 = 4;  // double sum
constexpr int32_t AGG_OP_MIN64 = 5;   // signed 64-bit minimum
constexpr int32_t AGG_OP_MAX64 = 6;   // signed 64-bit maximum
constexpr int32_t AGG_OP_MIN128 = 7;  // signed 128-bit minimum: high words, then low words
constexpr int32_t AGG_OP_MAX128 = 8;  // signed 128-bit maximum: high words, then low words

// How an operation reads its input (AggOp::read), as spec.rs `ValueRead`.
constexpr int32_t AGG_READ_I32 = 1;         // int32 (or Date32), sign-extended
constexpr int32_t AGG_READ_I64 = 2;         // int64 or uint64
constexpr int32_t AGG_READ_BOOL = 3;        // a bitmap, as 0 or 1
constexpr int32_t AGG_READ_F64 = 4;         // double
constexpr int32_t AGG_READ_F64_ORDERED = 5; // double as its total-order key
constexpr int32_t AGG_READ_I128 = 6;        // 16 bytes

// One accumulator operation over one input column.
struct AggOp {
  uint64_t data;      // input values; 0 for count(*)
  uint64_t validity;  // input validity bitmap; 0 = no nulls
  uint64_t values;    // per group: 8 bytes (16 for the 128-bit operations: low word, high word)
  uint64_t seen;      // uint32 per group: a valid input reached the group
  int32_t kind;       // AGG_OP_*
  int32_t read;       // AGG_READ_*
};

// Accumulation over rows already numbered by group. Pass 0 runs every operation (the
// 128-bit min/max on high words only); pass 1 runs the 128-bit min/max on the low words of
// rows whose high word equals their group's result. With shared != 0 every block first
// accumulates in shared memory (n_groups small enough; see device.rs) and then merges into
// the global values.
struct AccumulateParams {
  uint64_t ops;      // AggOp[n_ops]
  uint64_t groups;   // uint32 per row
  int64_t rows;
  int64_t n_groups;
  int32_t n_ops;
  int32_t pass;
  int32_t shared;
  int32_t reserved;
};

}  // namespace cinder

namespace cinder {

// Exclusive scan of uint64 values (kernels/cuda/join/hash_join.cu): out[i] = sum of in[0..i),
// out[n] = the total. Tiles of SCAN_TILE values: per-tile sums, a one-block scan of those,
// then each tile's scan plus its offset.
constexpr int32_t SCAN_THREADS = 256;
constexpr int32_t SCAN_TILE = 2048;

struct ScanParams {
  uint64_t in;         // uint64[n]
  uint64_t out;        // uint64[n + 1]
  uint64_t tile_sums;  // uint64 per tile, then their exclusive scan in place
  int64_t n;
  int64_t n_tiles;
};

// Hash join (kernels/cuda/join/hash_join.cu, launched by kernels/src/join/device.rs). The
// build side is numbered by group with the aggregation's kernels (GroupParams): its slots
// keep each key's smallest build row + 1, rep_group gives that row's group.
struct JoinParams {
  uint64_t build_keys;     // AggKey[n_keys] over the build rows
  uint64_t probe_keys;     // AggKey[n_keys] over the probe rows (same kinds)
  uint64_t slots;          // uint32 per slot (mask + 1): smallest build row + 1 of a key, or 0
  uint64_t rep_group;      // uint32 per build row: the group a key's first row starts
  uint64_t build_groups;   // uint32 per build row: its group
  uint64_t group_counts;   // uint64 per group: build rows (cinder_join_count adds, zeroed before)
  uint64_t group_offsets;  // uint64 per group + 1: their exclusive scan
  uint64_t group_cursor;   // uint64 per group: rows placed so far (zeroed before)
  uint64_t group_rows;     // uint32 per build row: the build rows, grouped
  uint64_t probe_group;    // int32 per probe row: its group, or -1 for no match
  uint64_t probe_counts;   // uint64 per probe row: its matches
  uint64_t probe_offsets;  // uint64 per probe row + 1: their exclusive scan
  uint64_t out_build;      // uint32 per pair of the chunk: the build row
  uint64_t out_probe;      // uint32 per pair of the chunk: the probe row
  uint64_t mask;           // slots - 1
  int64_t build_rows;
  int64_t probe_rows;
  int64_t pair_start;      // the chunk: pairs [pair_start, pair_end) in probe-row order
  int64_t pair_end;
  int64_t dense_min;       // dense keys: the smallest build key (its "group" is 0)
  int64_t dense_range;     // dense keys: max - min + 1 "groups", one per key value
  int32_t n_keys;
  int32_t skip_null_keys;  // a probe row with a null key matches nothing (NullEqualsNothing)
};

// The dense-key fast path (cinder_join_dense_*): one Int32, Int64 or Date32 key whose build
// values span a small range; a key's "group" is its value minus dense_min, so no hashing and
// no key comparison. Null keys never match (only NullEqualsNothing takes this path).

}  // namespace cinder

namespace cinder {

// Gathering rows by index (kernels/cuda/join/gather.cu, launched by kernels/src/join/gather.rs):
// output row i is input row indices[i], or null where indices[i] is GATHER_NULL_INDEX (the
// build or probe side of an outer join's unmatched rows). An index past the input is counted
// as an error and gives a null (or zero) row; nothing is read out of bounds.
constexpr uint32_t GATHER_NULL_INDEX = 0xFFFFFFFFu;

struct GatherColumn {
  uint64_t data;          // values (`width` bytes each), a bitmap (width 0), or offsets (width -1); 0 for no rows
  uint64_t validity;      // input validity bitmap from bit 0; 0 = no nulls
  uint64_t out_data;      // output values, bitmap words (width 0), or offsets (width -1)
  uint64_t out_validity;  // output validity in 32-bit words; 0 when no output row can be null
  uint64_t null_count;    // device address of a uint64 count of output nulls, zeroed before
  uint64_t bytes;         // strings: the bytes the input offsets index
  uint64_t out_bytes;     // strings: the output bytes (0 when there are none)
  uint64_t lengths;       // strings: uint64 per output row, its length (the rows pass writes)
  uint64_t starts;        // strings: uint64 per output row + 1, their exclusive scan
  int32_t width;          // bytes per value: 1, 2, 4, 8 or 16; 0 for a bitmap; -1 for strings
  int32_t offset_width;   // strings: 4 or 8 bytes per offset (output as input)
};

struct GatherParams {
  uint64_t indices;      // uint32 per output row: an input row or GATHER_NULL_INDEX
  uint64_t columns;      // device address of GatherColumn[n_columns]
  uint64_t errors;       // device address of a uint64 count of indices past the input, zeroed
  int64_t rows;          // output rows
  int64_t source_rows;   // input rows
  int32_t n_columns;
  int32_t nullable;      // 0: a GATHER_NULL_INDEX is an error (the output has no null rows)
};

// Concatenating batches on the device (cinder_concat_rows): one piece (an input batch) at a
// time, each column of the piece written at output row `at`.
struct ConcatColumn {
  uint64_t data;          // input: fixed-width values, a Boolean bitmap, or string offsets
  uint64_t validity;      // input validity bitmap, or 0 (no nulls)
  uint64_t bytes;         // strings: input bytes
  uint64_t out_data;      // output: values, a zeroed Boolean bitmap, or string offsets
  uint64_t out_validity;  // output validity bitmap (zeroed), or 0 when no output row is null
  uint64_t out_bytes;     // strings: output bytes
  uint64_t byte_base;     // strings: the output byte where this piece's bytes start
  int32_t width;          // bytes per value: 1, 2, 4, 8 or 16; 0 for Boolean; -1 for strings
  int32_t offset_width;   // strings: 4 or 8 bytes per offset (input and output alike)
};

struct ConcatParams {
  uint64_t columns;  // device address of ConcatColumn[n_columns]
  int64_t rows;      // rows of this piece
  int64_t at;        // the output row of its first row
  int64_t total;     // output rows (the piece that ends there writes the closing offset)
  int32_t n_columns;
  int32_t reserved;
};

// Marking rows named by indices (cinder_mark_rows), and flipping the marks (cinder_flip_bits):
// which build or probe rows a semi, anti or outer join's pairs matched.
struct MarkParams {
  uint64_t indices;  // uint32 per index: a row below `rows`
  uint64_t bitmap;   // uint32 words, one bit per row (LSB first), ceil(rows / 32) of them
  uint64_t errors;   // device address of a uint64 count of indices at or past `rows`, zeroed
  int64_t n;         // indices
  int64_t rows;      // rows the bitmap covers
};

}  // namespace cinder
