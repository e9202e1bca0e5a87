// The expression interpreter: one kernel evaluates any translated expression program.
//
// Each warp takes 32 consecutive rows at a time; each thread runs every instruction for its
// row with registers in thread-local memory (at most 64 of 64 bits, a second 64-bit half for
// decimals, validity and "fault" in one 64-bit mask each), then the warp packs the result's
// validity (and boolean values) into 32-bit words with a ballot.
//
// A fault (division by zero, overflow, a cast that does not fit) poisons its register; every
// instruction that reads a poisoned register is poisoned, except CASE, which reads only the
// conditions up to the branch it takes and that branch's value. A poisoned result fails the
// evaluation: the error word gets the first failing row's fault, as on the host. This is
// DataFusion's behaviour: it evaluates a CASE branch only on the rows that take it.
// Host reference: kernels/src/expr/host.rs, whose semantics the tests hold to DataFusion's.

#include "cinder/abi.cuh"

namespace {

using cinder::ColumnView;
using cinder::ExprInstr;
using cinder::ExprProgram;

typedef __int128 i128;
typedef unsigned __int128 u128;

constexpr int kMaxRegisters = 64;

__device__ __forceinline__ double as_f64(int64_t bits) { return __longlong_as_double(bits); }
__device__ __forceinline__ int64_t f64_bits(double v) { return __double_as_longlong(v); }

// Register r's two-bit fault code from the two masks.
__device__ __forceinline__ uint32_t fault_code(uint64_t lo, uint64_t hi, int32_t r) {
  return static_cast<uint32_t>(((lo >> r) & 1) | (((hi >> r) & 1) << 1));
}

__device__ __forceinline__ i128 make_i128(int64_t lo, int64_t hi) {
  return static_cast<i128>((static_cast<u128>(static_cast<uint64_t>(hi)) << 64) | static_cast<uint64_t>(lo));
}
__device__ __forceinline__ int64_t lo64(i128 v) { return static_cast<int64_t>(static_cast<uint64_t>(static_cast<u128>(v))); }
__device__ __forceinline__ int64_t hi64(i128 v) { return static_cast<int64_t>(static_cast<uint64_t>(static_cast<u128>(v) >> 64)); }
__device__ __forceinline__ bool fits_i64(i128 v) { return v == static_cast<i128>(lo64(v)); }

// IEEE total order key, as Rust's f64::total_cmp.
__device__ __forceinline__ int64_t total_order_key(int64_t bits) {
  return bits ^ static_cast<int64_t>(static_cast<uint64_t>(bits >> 63) >> 1);
}

// -1, 0 or 1 comparing two register values of type `type`, as Arrow's kernels do: floats
// by total order except that -0.0 equals 0.0; decimals by their 128-bit values.
__device__ __forceinline__ int compare(int32_t type, int64_t a, int64_t a_hi, int64_t b, int64_t b_hi) {
  if (type == cinder::EXPR_F64) {
    const double x = as_f64(a), y = as_f64(b);
    if (x == y) return 0;
    const int64_t kx = total_order_key(a), ky = total_order_key(b);
    return kx < ky ? -1 : (kx > ky ? 1 : 0);
  }
  if (type == cinder::EXPR_DECIMAL) {
    const i128 x = make_i128(a, a_hi), y = make_i128(b, b_hi);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return a < b ? -1 : (a > b ? 1 : 0);
}

__device__ __forceinline__ int64_t load(const ColumnView& col, int32_t type, int64_t row, int64_t* hi) {
  switch (type) {
    case cinder::EXPR_BOOL: {
      const uint8_t* bits = reinterpret_cast<const uint8_t*>(col.data);
      return (bits[row >> 3] >> (row & 7)) & 1;
    }
    case cinder::EXPR_I32:
    case cinder::EXPR_DATE32:
      return reinterpret_cast<const int32_t*>(col.data)[row];
    case cinder::EXPR_DECIMAL: {
      const int64_t* words = reinterpret_cast<const int64_t*>(col.data);
      *hi = words[2 * row + 1];
      return words[2 * row];
    }
    case cinder::EXPR_STR: {
      int64_t start, end;
      if (col.offset_width == 4) {
        start = reinterpret_cast<const int32_t*>(col.data)[row];
        end = reinterpret_cast<const int32_t*>(col.data)[row + 1];
      } else {
        start = reinterpret_cast<const int64_t*>(col.data)[row];
        end = reinterpret_cast<const int64_t*>(col.data)[row + 1];
      }
      *hi = end - start;
      return static_cast<int64_t>(col.bytes) + start;
    }
    default:  // EXPR_I64, EXPR_F64: 64-bit values
      return reinterpret_cast<const int64_t*>(col.data)[row];
  }
}

// Integer arithmetic with DataFusion's semantics; returns a fault code (0 for none): division
// by zero, or overflow (always for division, only when `checked` otherwise).
__device__ uint32_t int_arith(int32_t op, int32_t type, int64_t a, int64_t b, bool checked, int64_t* out) {
  const bool is32 = type == cinder::EXPR_I32 || type == cinder::EXPR_DATE32;
  const int64_t min = is32 ? -2147483648LL : static_cast<int64_t>(0x8000000000000000ULL);
  *out = 0;
  switch (op) {
    case cinder::EXPR_DIV:
    case cinder::EXPR_REM:
      if (b == 0) return cinder::EXPR_ERROR_DIVIDE_BY_ZERO;
      if (b == -1) {
        if (op == cinder::EXPR_REM) return 0;
        if (a == min) return cinder::EXPR_ERROR_OVERFLOW;
        *out = -a;
        return 0;
      }
      *out = op == cinder::EXPR_DIV ? a / b : a % b;
      return 0;
    default:
      break;
  }
  if (is32) {
    int64_t wide = op == cinder::EXPR_ADD ? a + b : (op == cinder::EXPR_SUB ? a - b : a * b);
    const int32_t wrapped = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(wide)));
    *out = wrapped;
    return checked && wide != wrapped ? cinder::EXPR_ERROR_OVERFLOW : 0;
  }
  const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  switch (op) {
    case cinder::EXPR_ADD: {
      const int64_t r = static_cast<int64_t>(ua + ub);
      *out = r;
      return checked && ((a ^ r) & (b ^ r)) < 0 ? cinder::EXPR_ERROR_OVERFLOW : 0;
    }
    case cinder::EXPR_SUB: {
      const int64_t r = static_cast<int64_t>(ua - ub);
      *out = r;
      return checked && ((a ^ b) & (a ^ r)) < 0 ? cinder::EXPR_ERROR_OVERFLOW : 0;
    }
    default: {  // EXPR_MUL
      const int64_t r = static_cast<int64_t>(ua * ub);
      *out = r;
      // The exact product fits in 64 bits iff its high half is the sign extension of r.
      return checked && __mul64hi(a, b) != (r >> 63) ? cinder::EXPR_ERROR_OVERFLOW : 0;
    }
  }
}

__device__ int64_t float_arith(int32_t op, int64_t a, int64_t b) {
  const double x = as_f64(a), y = as_f64(b);
  switch (op) {
    case cinder::EXPR_ADD: return f64_bits(x + y);
    case cinder::EXPR_SUB: return f64_bits(x - y);
    case cinder::EXPR_MUL: return f64_bits(x * y);
    case cinder::EXPR_DIV: return f64_bits(x / y);
    default: return f64_bits(fmod(x, y));  // EXPR_REM: the dividend's sign, as Rust's %
  }
}

// 128-bit arithmetic, checked as Rust's i128::checked_* (false on overflow).
__device__ __forceinline__ bool add128(i128 a, i128 b, i128* r) {
  *r = static_cast<i128>(static_cast<u128>(a) + static_cast<u128>(b));
  return ((a ^ *r) & (b ^ *r)) >= 0;
}
__device__ __forceinline__ bool sub128(i128 a, i128 b, i128* r) {
  *r = static_cast<i128>(static_cast<u128>(a) - static_cast<u128>(b));
  return ((a ^ b) & (a ^ *r)) >= 0;
}
__device__ __forceinline__ i128 wrapping_mul128(i128 a, i128 b) {
  return static_cast<i128>(static_cast<u128>(a) * static_cast<u128>(b));
}
__device__ bool mul128(i128 a, i128 b, i128* r) {
  *r = wrapping_mul128(a, b);
  // Two factors of at most 64 bits have a product of at most 127 bits: no overflow.
  if (fits_i64(a) && fits_i64(b)) return true;
  if (a == 0 || b == 0) return true;
  const i128 min = static_cast<i128>(static_cast<u128>(1) << 127);
  if ((a == -1 && b == min) || (b == -1 && a == min)) return false;
  return *r / b == a;
}
// Quotient and remainder truncating toward zero; 64-bit hardware division when both fit.
__device__ __forceinline__ void divrem128(i128 a, i128 b, i128* q, i128* r) {
  if (fits_i64(a) && fits_i64(b)) {
    const int64_t x = lo64(a), y = lo64(b);
    if (!(x == static_cast<int64_t>(0x8000000000000000ULL) && y == -1)) {
      *q = x / y;
      *r = x % y;
      return;
    }
  }
  *q = a / b;
  *r = a % b;
}

// Decimal + - * / %, as Arrow's decimal_op (always checked). `factor` rescales operand a
// (`scale_b` false) or b first. Returns a fault code.
__device__ uint32_t decimal_arith(int32_t op, i128 a, i128 b, i128 factor, bool scale_b, i128* out) {
  *out = 0;
  if (op != cinder::EXPR_MUL && factor != 1) {
    if (!mul128(scale_b ? b : a, factor, scale_b ? &b : &a)) return cinder::EXPR_ERROR_OVERFLOW;
  }
  switch (op) {
    case cinder::EXPR_ADD: return add128(a, b, out) ? 0 : cinder::EXPR_ERROR_OVERFLOW;
    case cinder::EXPR_SUB: return sub128(a, b, out) ? 0 : cinder::EXPR_ERROR_OVERFLOW;
    case cinder::EXPR_MUL: return mul128(a, b, out) ? 0 : cinder::EXPR_ERROR_OVERFLOW;
    default: {  // EXPR_DIV, EXPR_REM
      if (b == 0) return cinder::EXPR_ERROR_DIVIDE_BY_ZERO;
      const i128 min = static_cast<i128>(static_cast<u128>(1) << 127);
      if (a == min && b == -1) return cinder::EXPR_ERROR_OVERFLOW;
      i128 q, r;
      divrem128(a, b, &q, &r);
      *out = op == cinder::EXPR_DIV ? q : r;
      return 0;
    }
  }
}

// Rust's `i128 as f64`: round to nearest, ties to even.
__device__ double i128_to_f64(i128 v) {
  const bool negative = v < 0;
  const u128 m = negative ? static_cast<u128>(0) - static_cast<u128>(v) : static_cast<u128>(v);
  const uint64_t high = static_cast<uint64_t>(m >> 64);
  double r;
  if (high == 0) {
    r = __ull2double_rn(static_cast<uint64_t>(m));
  } else {
    // Keep the top 64 bits, with every dropped bit folded into the lowest (sticky) bit, so
    // that rounding the 64 bits to 53 rounds the whole value correctly.
    const int shift = 64 - __clzll(static_cast<long long>(high));
    uint64_t top = static_cast<uint64_t>(m >> shift);
    if ((m & ((static_cast<u128>(1) << shift) - 1)) != 0) top |= 1;
    r = scalbn(__ull2double_rn(top), shift);
  }
  return negative ? -r : r;
}

// An integral double of magnitude below 2^127 as an exact i128.
__device__ i128 integral_f64_to_i128(double r) {
  if (r > -9.2e18 && r < 9.2e18) return static_cast<i128>(static_cast<int64_t>(r));
  const uint64_t bits = static_cast<uint64_t>(__double_as_longlong(r));
  const int exponent = static_cast<int>((bits >> 52) & 0x7FF) - 1075;  // value = mantissa * 2^exponent
  const uint64_t mantissa = (bits & 0xFFFFFFFFFFFFFull) | (1ull << 52);
  const i128 magnitude = static_cast<i128>(static_cast<u128>(mantissa) << exponent);
  return (bits >> 63) ? static_cast<i128>(static_cast<u128>(0) - static_cast<u128>(magnitude)) : magnitude;
}

// Arrow's casts among the register types (see host.rs `cast`); returns a fault code.
__device__ uint32_t cast(const ExprInstr& in, const int64_t* constants, int64_t a, int64_t a_hi, int64_t* out, int64_t* out_hi) {
  const int32_t from = in.arg_type, to = in.type;
  *out_hi = 0;
  if (to == cinder::EXPR_F64) {
    if (from == cinder::EXPR_DECIMAL) {
      *out = f64_bits(i128_to_f64(make_i128(a, a_hi)) / as_f64(in.imm));
    } else {
      *out = f64_bits(static_cast<double>(a));  // integers round to nearest
    }
    return 0;
  }
  if (from == cinder::EXPR_F64 && to != cinder::EXPR_DECIMAL) {
    // To I64 or I32: truncate toward zero; NaN and values out of range do not fit.
    const double x = as_f64(a);
    const bool fits = to == cinder::EXPR_I64 ? (x >= -9223372036854775808.0 && x < 9223372036854775808.0)
                                            : (x > -2147483649.0 && x < 2147483648.0);
    if (!fits) return cinder::EXPR_ERROR_CAST;
    *out = to == cinder::EXPR_I64 ? static_cast<int64_t>(x) : static_cast<int64_t>(static_cast<int32_t>(x));
    return 0;
  }
  if (to == cinder::EXPR_I32 || to == cinder::EXPR_DATE32) {
    // From I64: the range is checked; from I32 or Date32 the days are reinterpreted.
    *out = static_cast<int32_t>(a);
    return a == static_cast<int64_t>(static_cast<int32_t>(a)) ? 0 : cinder::EXPR_ERROR_CAST;
  }
  if (to != cinder::EXPR_DECIMAL) {  // I32 or Date32 -> I64: registers are already sign-extended
    *out = a;
    return 0;
  }
  const i128 factor = make_i128(in.imm, in.imm_hi);
  i128 v;
  if (from == cinder::EXPR_F64) {
    // round(10^scale * x), half away from zero; imm holds 10^scale's bits.
    const double r = round(as_f64(in.imm) * as_f64(a));
    if (!(r >= -1.7014118346046923e38 && r < 1.7014118346046923e38)) return cinder::EXPR_ERROR_CAST;
    v = integral_f64_to_i128(r);
  } else if (from == cinder::EXPR_DECIMAL && in.p0 == 0) {
    // Divide, rounding half away from zero.
    const i128 x = make_i128(a, a_hi);
    i128 d, r;
    divrem128(x, factor, &d, &r);
    const i128 half = factor / 2;
    if (x >= 0 && r >= half) d += 1;
    else if (x < 0 && r <= -half) d -= 1;
    v = d;
  } else {
    const i128 x = from == cinder::EXPR_DECIMAL ? make_i128(a, a_hi) : static_cast<i128>(a);
    if (in.flags & cinder::EXPR_FLAG_CHECK) {
      if (!mul128(x, factor, &v)) return cinder::EXPR_ERROR_CAST;
    } else {
      v = wrapping_mul128(x, factor);
    }
  }
  if (in.flags & cinder::EXPR_FLAG_CHECK) {
    const i128 bound = make_i128(constants[in.list_start], constants[in.list_start + 1]);
    if (v > bound || v < -bound) return cinder::EXPR_ERROR_CAST;
  }
  *out = lo64(v);
  *out_hi = hi64(v);
  return 0;
}

// The field of a Date32 (host.rs `date_part`, Howard Hinnant's civil_from_days); false when
// the date is outside the range Arrow's date_part takes.
__device__ bool date_part(int32_t days, int32_t part, int64_t* out) {
  if (days < cinder::EXPR_DATE_PART_MIN_DAYS || days > cinder::EXPR_DATE_PART_MAX_DAYS) return false;
  const int64_t z = static_cast<int64_t>(days) + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  switch (part) {
    case cinder::EXPR_PART_YEAR: *out = year; break;
    case cinder::EXPR_PART_QUARTER: *out = (month - 1) / 3 + 1; break;
    case cinder::EXPR_PART_MONTH: *out = month; break;
    default: *out = day; break;  // EXPR_PART_DAY
  }
  return true;
}

// Strings: a register holds the address of the first byte, its high half the length.
__device__ __forceinline__ const uint8_t* str_ptr(int64_t v) { return reinterpret_cast<const uint8_t*>(v); }

// Byte-wise comparison, as Rust compares &[u8] (and Arrow compares strings): -1, 0 or 1.
__device__ int bytes_cmp(const uint8_t* a, int64_t la, const uint8_t* b, int64_t lb) {
  const int64_t n = la < lb ? la : lb;
  for (int64_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return la < lb ? -1 : (la > lb ? 1 : 0);
}

__device__ __forceinline__ bool bytes_eq(const uint8_t* a, int64_t la, const uint8_t* b, int64_t lb) {
  return la == lb && bytes_cmp(a, la, b, lb) == 0;
}

// The first position of `needle` in `hay`, or -1.
__device__ int64_t bytes_find(const uint8_t* hay, int64_t lh, const uint8_t* needle, int64_t ln) {
  for (int64_t i = 0; i + ln <= lh; ++i) {
    if (bytes_cmp(hay + i, ln, needle, ln) == 0) return i;
  }
  return -1;
}

// LIKE with literal segments (host.rs `like`): segments are (offset, length) pairs into the
// string pool. No segments at all is a pattern of only `%`s: everything matches.
__device__ bool like(const uint8_t* s, int64_t len, const int64_t* segs, int32_t n, const uint8_t* pool,
                     bool open_start, bool open_end) {
  if (n == 0) return true;
  const uint8_t* seg0 = pool + segs[0];
  if (n == 1 && !open_start && !open_end) return bytes_eq(s, len, seg0, segs[1]);
  int64_t pos = 0, end = len;
  int32_t first = 0, last = n;
  if (!open_start) {
    if (segs[1] > len || bytes_cmp(s, segs[1], seg0, segs[1]) != 0) return false;
    pos = segs[1];
    first = 1;
  }
  if (!open_end && last > first) {
    const uint8_t* tail = pool + segs[2 * (n - 1)];
    const int64_t tail_len = segs[2 * (n - 1) + 1];
    if (tail_len > end - pos || bytes_cmp(s + len - tail_len, tail_len, tail, tail_len) != 0) return false;
    end -= tail_len;
    last = n - 1;
  }
  for (int32_t k = first; k < last; ++k) {
    const int64_t at = bytes_find(s + pos, end - pos, pool + segs[2 * k], segs[2 * k + 1]);
    if (at < 0) return false;
    pos += at + segs[2 * k + 1];
  }
  return true;
}

// DataFusion's substr in characters (host.rs `substr_bytes`): the byte range [*from, *to).
__device__ void substr_bytes(const uint8_t* s, int64_t len, int64_t start, bool has_count, int64_t count,
                             int64_t* from, int64_t* to) {
  const int64_t first_raw = start - 1;
  int64_t end_raw = len;
  if (has_count) {
    // Saturating first_raw + count (count >= 0).
    end_raw = first_raw > static_cast<int64_t>(0x7FFFFFFFFFFFFFFFLL) - count ? static_cast<int64_t>(0x7FFFFFFFFFFFFFFFLL)
                                                                            : first_raw + count;
  }
  const int64_t first = first_raw < 0 ? 0 : (first_raw > len ? len : first_raw);
  const int64_t end = end_raw < 0 ? 0 : (end_raw > len ? len : end_raw);
  *from = len;
  *to = len;
  int64_t chars = 0;
  for (int64_t i = 0; i < len; ++i) {
    if ((s[i] & 0xC0) == 0x80) continue;
    if (chars == first) *from = i;
    if (chars == end) {
      *to = i;
      break;
    }
    ++chars;
  }
  if (*to < *from) *to = *from;
}

__device__ int64_t char_count(const uint8_t* s, int64_t len) {
  int64_t n = 0;
  for (int64_t i = 0; i < len; ++i) n += (s[i] & 0xC0) != 0x80;
  return n;
}

}  // namespace

extern "C" __global__ void cinder_expr_eval(ExprProgram p) {
  const ExprInstr* code = reinterpret_cast<const ExprInstr*>(p.instrs);
  const int64_t* constants = reinterpret_cast<const int64_t*>(p.constants);
  const ColumnView* columns = reinterpret_cast<const ColumnView*>(p.columns);
  const int lane = threadIdx.x & 31;
  const int64_t warp = cinder::grid_first_row() >> 5;
  const int64_t warps = cinder::grid_stride() >> 5;
  const int32_t result_type = code[p.result].type;

  for (int64_t base = warp * 32; base < p.rows; base += warps * 32) {
    const int64_t row = base + lane;
    int64_t reg[kMaxRegisters];
    int64_t reg_hi[kMaxRegisters];
    uint64_t valid = 0;
    uint64_t poison = 0;
    // Each poisoned register's fault, two bits per register: 1 divide by zero, 2 overflow,
    // 3 cast (bit r of fault_lo is the low bit of register r's code).
    uint64_t fault_lo = 0, fault_hi = 0;
    if (row < p.rows) {
      const int32_t n = p.n_instrs < kMaxRegisters ? p.n_instrs : kMaxRegisters;
      for (int32_t i = 0; i < n; ++i) {
        const ExprInstr in = code[i];
        // Operands are earlier registers, except for loads, whose `a` is a column index.
        const bool takes_registers = in.opcode != cinder::EXPR_COLUMN && in.opcode != cinder::EXPR_LITERAL;
        const bool has_a = takes_registers && in.a >= 0 && in.a < i;
        const bool has_b = takes_registers && in.b >= 0 && in.b < i;
        const bool va = has_a && ((valid >> in.a) & 1);
        const bool vb = has_b && ((valid >> in.b) & 1);
        const int64_t a = has_a ? reg[in.a] : 0;
        const int64_t b = has_b ? reg[in.b] : 0;
        const int64_t a_hi = has_a ? reg_hi[in.a] : 0;
        const int64_t b_hi = has_b ? reg_hi[in.b] : 0;
        // A poisoned operand poisons the result with its fault, the first operand's first
        // (CASE decides for itself).
        const bool pa = in.opcode != cinder::EXPR_CASE && has_a && ((poison >> in.a) & 1);
        const bool pb = in.opcode != cinder::EXPR_CASE && has_b && ((poison >> in.b) & 1);
        bool poisoned = pa || pb;
        uint32_t code = pa ? fault_code(fault_lo, fault_hi, in.a) : (pb ? fault_code(fault_lo, fault_hi, in.b) : 0);
        uint32_t fault = 0;
        bool ok = false;
        int64_t v = 0, v_hi = 0;
        switch (in.opcode) {
          case cinder::EXPR_COLUMN: {
            const ColumnView col = columns[in.a];
            ok = cinder::is_valid(reinterpret_cast<const uint8_t*>(col.validity), col.validity_offset + row);
            v = ok ? load(col, in.type, row, &v_hi) : 0;
            break;
          }
          case cinder::EXPR_LITERAL:
            ok = (in.flags & cinder::EXPR_FLAG_NULL_LITERAL) == 0;
            v = in.type == cinder::EXPR_STR ? static_cast<int64_t>(p.strings) + in.imm : in.imm;
            v_hi = in.imm_hi;
            break;
          case cinder::EXPR_ADD:
          case cinder::EXPR_SUB:
          case cinder::EXPR_MUL:
          case cinder::EXPR_DIV:
          case cinder::EXPR_REM:
            ok = va && vb;
            if (!ok || poisoned) break;
            if (in.type == cinder::EXPR_F64) {
              v = float_arith(in.opcode, a, b);
            } else if (in.type == cinder::EXPR_DECIMAL) {
              i128 r;
              fault = decimal_arith(in.opcode, make_i128(a, a_hi), make_i128(b, b_hi),
                                    make_i128(in.imm, in.imm_hi), in.p0 == 1, &r);
              v = lo64(r);
              v_hi = hi64(r);
            } else {
              fault = int_arith(in.opcode, in.type, a, b, (in.flags & cinder::EXPR_FLAG_CHECKED) != 0, &v);
            }
            break;
          case cinder::EXPR_NEGATE:
            ok = va;
            if (in.type == cinder::EXPR_F64) {
              // Flip the sign bit, as Rust's -x does (PTX neg.f64 may canonicalise a NaN).
              v = a ^ static_cast<int64_t>(0x8000000000000000ULL);
            } else if (in.type == cinder::EXPR_I32) {
              v = static_cast<int32_t>(0u - static_cast<uint32_t>(a));
            } else if (in.type == cinder::EXPR_DECIMAL) {
              const i128 r = static_cast<i128>(static_cast<u128>(0) - static_cast<u128>(make_i128(a, a_hi)));
              v = lo64(r);
              v_hi = hi64(r);
            } else {
              v = static_cast<int64_t>(0ull - static_cast<uint64_t>(a));
            }
            break;
          case cinder::EXPR_EQ:
          case cinder::EXPR_NOT_EQ:
          case cinder::EXPR_LT:
          case cinder::EXPR_LT_EQ:
          case cinder::EXPR_GT:
          case cinder::EXPR_GT_EQ: {
            ok = va && vb;
            const int c = in.arg_type == cinder::EXPR_STR
                              ? (ok ? bytes_cmp(str_ptr(a), a_hi, str_ptr(b), b_hi) : 0)
                              : compare(in.arg_type, a, a_hi, b, b_hi);
            switch (in.opcode) {
              case cinder::EXPR_EQ: v = c == 0; break;
              case cinder::EXPR_NOT_EQ: v = c != 0; break;
              case cinder::EXPR_LT: v = c < 0; break;
              case cinder::EXPR_LT_EQ: v = c <= 0; break;
              case cinder::EXPR_GT: v = c > 0; break;
              default: v = c >= 0; break;
            }
            break;
          }
          case cinder::EXPR_AND:
            // false wins over null
            if ((va && a == 0) || (vb && b == 0)) {
              ok = true;
              v = 0;
            } else {
              ok = va && vb;
              v = 1;
            }
            break;
          case cinder::EXPR_OR:
            // true wins over null
            if ((va && a != 0) || (vb && b != 0)) {
              ok = true;
              v = 1;
            } else {
              ok = va && vb;
              v = 0;
            }
            break;
          case cinder::EXPR_NOT:
            ok = va;
            v = a == 0;
            break;
          case cinder::EXPR_IS_NULL:
            ok = true;
            v = !va;
            break;
          case cinder::EXPR_IS_NOT_NULL:
            ok = true;
            v = va;
            break;
          case cinder::EXPR_IN_LIST: {
            ok = va;
            if (!va) break;
            // Floats match by total order, i.e. by identical bits; integers by value
            // (constants are sign-extended, as registers are); decimals by both halves.
            const bool wide = in.arg_type == cinder::EXPR_DECIMAL;
            const bool text = in.arg_type == cinder::EXPR_STR;
            bool found = false;
            for (int32_t k = 0; k < in.list_len && !found; ++k) {
              if (text) {
                const int64_t offset = constants[in.list_start + 2 * k];
                const int64_t len = constants[in.list_start + 2 * k + 1];
                found = bytes_eq(str_ptr(a), a_hi, reinterpret_cast<const uint8_t*>(p.strings) + offset, len);
              } else if (wide) {
                found = constants[in.list_start + 2 * k] == a && constants[in.list_start + 2 * k + 1] == a_hi;
              } else {
                found = constants[in.list_start + k] == a;
              }
            }
            const bool negated = (in.flags & cinder::EXPR_FLAG_NEGATED) != 0;
            if (found) {
              v = !negated;
            } else if (in.flags & cinder::EXPR_FLAG_LIST_HAS_NULL) {
              ok = false;
            } else {
              v = negated;
            }
            break;
          }
          case cinder::EXPR_CAST:
            ok = va;
            if (!ok || poisoned) break;
            fault = cast(in, constants, a, a_hi, &v, &v_hi);
            if (fault != 0 && (in.flags & cinder::EXPR_FLAG_SAFE)) {
              fault = 0;
              ok = false;
            }
            break;
          case cinder::EXPR_CASE: {
            // The first branch whose condition is true; a poisoned condition met on the way,
            // or a poisoned chosen value, poisons the result.
            int32_t chosen = in.b;
            bool decided = false;
            for (int32_t k = 0; k < in.list_len && !decided; ++k) {
              const int32_t c = static_cast<int32_t>(constants[in.list_start + 2 * k]);
              if (c < 0 || c >= i) continue;
              if ((poison >> c) & 1) {
                poisoned = true;
                code = fault_code(fault_lo, fault_hi, c);
                decided = true;
                chosen = -1;
              } else if (((valid >> c) & 1) && reg[c] != 0) {
                chosen = static_cast<int32_t>(constants[in.list_start + 2 * k + 1]);
                decided = true;
              }
            }
            if (chosen >= 0 && chosen < i) {
              ok = (valid >> chosen) & 1;
              if ((poison >> chosen) & 1) {
                poisoned = true;
                code = fault_code(fault_lo, fault_hi, chosen);
              }
              v = reg[chosen];
              v_hi = reg_hi[chosen];
            }
            break;
          }
          case cinder::EXPR_LIKE:
            ok = va;
            if (ok) {
              const bool matched = like(str_ptr(a), a_hi, constants + in.list_start, in.list_len,
                                        reinterpret_cast<const uint8_t*>(p.strings), (in.p0 & 1) != 0,
                                        (in.p0 & 2) != 0);
              v = matched != ((in.flags & cinder::EXPR_FLAG_NEGATED) != 0);
            }
            break;
          case cinder::EXPR_SUBSTR: {
            ok = va;
            if (ok) {
              int64_t from, to;
              substr_bytes(str_ptr(a), a_hi, in.imm, in.p0 == 1, in.imm_hi, &from, &to);
              v = a + from;
              v_hi = to - from;
            }
            break;
          }
          case cinder::EXPR_CHAR_LENGTH:
            ok = va;
            if (ok) {
              const int64_t chars = char_count(str_ptr(a), a_hi);
              // Int32 results wrap as the host's `as i32` does.
              v = in.type == cinder::EXPR_I32 ? static_cast<int64_t>(static_cast<int32_t>(chars)) : chars;
            }
            break;
          case cinder::EXPR_DATE_PART:
            ok = va && date_part(static_cast<int32_t>(a), in.p0, &v);
            break;
          default:
            ok = false;
            break;
        }
        if (fault != 0) {
          poisoned = true;
          code = fault == cinder::EXPR_ERROR_CAST ? 3 : fault;
        }
        reg[i] = v;
        reg_hi[i] = v_hi;
        if (ok) valid |= 1ull << i;
        if (poisoned) {
          poison |= 1ull << i;
          fault_lo |= static_cast<uint64_t>(code & 1) << i;
          fault_hi |= static_cast<uint64_t>((code >> 1) & 1) << i;
        }
      }
    }
    const bool failed = row < p.rows && ((poison >> p.result) & 1);
    const bool ok = row < p.rows && !failed && ((valid >> p.result) & 1);
    const int64_t v = ok ? reg[p.result] : 0;
    const int64_t v_hi = ok ? reg_hi[p.result] : 0;
    const uint32_t valid_word = __ballot_sync(0xFFFFFFFFu, ok);
    const int64_t word = base >> 5;
    if (lane == 0) {
      reinterpret_cast<uint32_t*>(p.out_validity)[word] = valid_word;
      const int64_t in_range = p.rows - base;
      const uint32_t rows_mask = in_range >= 32 ? 0xFFFFFFFFu : ((1u << in_range) - 1);
      const uint32_t nulls = __popc(~valid_word & rows_mask);
      if (nulls != 0) atomicAdd(reinterpret_cast<unsigned long long*>(p.null_count), static_cast<unsigned long long>(nulls));
    }
    if (result_type == cinder::EXPR_BOOL) {
      const uint32_t value_word = __ballot_sync(0xFFFFFFFFu, ok && v != 0);
      if (lane == 0) reinterpret_cast<uint32_t*>(p.out_values)[word] = value_word;
    } else if (row < p.rows) {
      if (result_type == cinder::EXPR_I32 || result_type == cinder::EXPR_DATE32) {
        reinterpret_cast<int32_t*>(p.out_values)[row] = static_cast<int32_t>(v);
      } else if (result_type == cinder::EXPR_DECIMAL || result_type == cinder::EXPR_STR) {
        // Decimals: low and high halves. Strings: address and length (0 and 0 for nulls).
        reinterpret_cast<int64_t*>(p.out_values)[2 * row] = v;
        reinterpret_cast<int64_t*>(p.out_values)[2 * row + 1] = v_hi;
      } else {
        reinterpret_cast<int64_t*>(p.out_values)[row] = v;
      }
    }
    // A poisoned result fails the evaluation; like the host, report the first failing row's
    // fault: the smallest (row << 3) | EXPR_ERROR_* wins.
    if (failed) {
      const uint32_t c = fault_code(fault_lo, fault_hi, p.result);
      const uint64_t kind = c == 3 ? cinder::EXPR_ERROR_CAST : (c == 0 ? cinder::EXPR_ERROR_OVERFLOW : c);
      atomicMin(reinterpret_cast<unsigned long long*>(p.error),
                static_cast<unsigned long long>((static_cast<uint64_t>(row) << 3) | kind));
    }
  }
}
