// The expression interpreter: one kernel evaluates any translated expression program.
//
// Each warp takes 32 consecutive rows at a time; each thread runs every instruction for its
// row with registers in thread-local memory (at most 64, validity in one 64-bit mask), then
// the warp packs the result's validity (and boolean values) into 32-bit words with a ballot.
// Host reference: kernels/src/expr/host.rs, whose semantics the tests hold to DataFusion's.

#include "cinder/abi.cuh"

namespace {

using cinder::ColumnView;
using cinder::ExprInstr;
using cinder::ExprProgram;

constexpr int kMaxRegisters = 64;

__device__ __forceinline__ double as_f64(int64_t bits) { return __longlong_as_double(bits); }
__device__ __forceinline__ int64_t f64_bits(double v) { return __double_as_longlong(v); }

// IEEE total order key, as Rust's f64::total_cmp.
__device__ __forceinline__ int64_t total_order_key(int64_t bits) {
  return bits ^ static_cast<int64_t>(static_cast<uint64_t>(bits >> 63) >> 1);
}

// -1, 0 or 1 comparing two register values of type `type`, as Arrow's kernels do: floats
// by total order except that -0.0 equals 0.0.
__device__ __forceinline__ int compare(int32_t type, int64_t a, int64_t b) {
  if (type == cinder::EXPR_F64) {
    const double x = as_f64(a), y = as_f64(b);
    if (x == y) return 0;
    const int64_t kx = total_order_key(a), ky = total_order_key(b);
    return kx < ky ? -1 : (kx > ky ? 1 : 0);
  }
  return a < b ? -1 : (a > b ? 1 : 0);
}

__device__ __forceinline__ int64_t load(const ColumnView& col, int32_t type, int64_t row) {
  switch (type) {
    case cinder::EXPR_BOOL: {
      const uint8_t* bits = reinterpret_cast<const uint8_t*>(col.data);
      return (bits[row >> 3] >> (row & 7)) & 1;
    }
    case cinder::EXPR_I32:
    case cinder::EXPR_DATE32:
      return reinterpret_cast<const int32_t*>(col.data)[row];
    default:  // EXPR_I64, EXPR_F64: 64-bit values
      return reinterpret_cast<const int64_t*>(col.data)[row];
  }
}

// Integer arithmetic with DataFusion's semantics; sets *error on division by zero or on
// overflow (always for division, only when `checked` otherwise).
__device__ int64_t int_arith(int32_t op, int32_t type, int64_t a, int64_t b, bool checked, uint32_t* error) {
  const bool is32 = type == cinder::EXPR_I32 || type == cinder::EXPR_DATE32;
  const int64_t min = is32 ? -2147483648LL : static_cast<int64_t>(0x8000000000000000ULL);
  switch (op) {
    case cinder::EXPR_DIV:
    case cinder::EXPR_REM:
      if (b == 0) {
        *error |= cinder::EXPR_ERROR_DIVIDE_BY_ZERO;
        return 0;
      }
      if (b == -1) {
        if (op == cinder::EXPR_REM) return 0;
        if (a == min) {
          *error |= cinder::EXPR_ERROR_OVERFLOW;
          return 0;
        }
        return -a;
      }
      return op == cinder::EXPR_DIV ? a / b : a % b;
    default:
      break;
  }
  if (is32) {
    int64_t wide = op == cinder::EXPR_ADD ? a + b : (op == cinder::EXPR_SUB ? a - b : a * b);
    const int32_t wrapped = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(wide)));
    if (checked && wide != wrapped) *error |= cinder::EXPR_ERROR_OVERFLOW;
    return wrapped;
  }
  const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  switch (op) {
    case cinder::EXPR_ADD: {
      const int64_t r = static_cast<int64_t>(ua + ub);
      if (checked && ((a ^ r) & (b ^ r)) < 0) *error |= cinder::EXPR_ERROR_OVERFLOW;
      return r;
    }
    case cinder::EXPR_SUB: {
      const int64_t r = static_cast<int64_t>(ua - ub);
      if (checked && ((a ^ b) & (a ^ r)) < 0) *error |= cinder::EXPR_ERROR_OVERFLOW;
      return r;
    }
    default: {  // EXPR_MUL
      const int64_t r = static_cast<int64_t>(ua * ub);
      // The exact product fits in 64 bits iff its high half is the sign extension of r.
      if (checked && __mul64hi(a, b) != (r >> 63)) *error |= cinder::EXPR_ERROR_OVERFLOW;
      return r;
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
    uint64_t valid = 0;
    uint32_t error = 0;
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
        bool ok = false;
        int64_t v = 0;
        switch (in.opcode) {
          case cinder::EXPR_COLUMN: {
            const ColumnView col = columns[in.a];
            ok = cinder::is_valid(reinterpret_cast<const uint8_t*>(col.validity), col.validity_offset + row);
            v = ok ? load(col, in.type, row) : 0;
            break;
          }
          case cinder::EXPR_LITERAL:
            ok = (in.flags & cinder::EXPR_FLAG_NULL_LITERAL) == 0;
            v = in.imm;
            break;
          case cinder::EXPR_ADD:
          case cinder::EXPR_SUB:
          case cinder::EXPR_MUL:
          case cinder::EXPR_DIV:
          case cinder::EXPR_REM:
            ok = va && vb;
            if (ok) {
              v = in.type == cinder::EXPR_F64
                      ? float_arith(in.opcode, a, b)
                      : int_arith(in.opcode, in.type, a, b, (in.flags & cinder::EXPR_FLAG_CHECKED) != 0, &error);
            }
            break;
          case cinder::EXPR_NEGATE:
            ok = va;
            if (in.type == cinder::EXPR_F64) {
              // Flip the sign bit, as Rust's -x does (PTX neg.f64 may canonicalise a NaN).
              v = a ^ static_cast<int64_t>(0x8000000000000000ULL);
            } else if (in.type == cinder::EXPR_I32) {
              v = static_cast<int32_t>(0u - static_cast<uint32_t>(a));
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
            const int c = compare(in.arg_type, a, b);
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
            // (constants are sign-extended, as registers are).
            bool found = false;
            for (int32_t k = 0; k < in.list_len && !found; ++k) {
              found = constants[in.list_start + k] == a;
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
            // Widening only: I32 -> I64 is already sign-extended; integers -> F64 round.
            v = in.type == cinder::EXPR_F64 ? f64_bits(static_cast<double>(a)) : a;
            break;
          default:
            ok = false;
            break;
        }
        reg[i] = v;
        if (ok) valid |= 1ull << i;
      }
    }
    const bool ok = row < p.rows && ((valid >> p.result) & 1);
    const int64_t v = ok ? reg[p.result] : 0;
    const uint32_t valid_word = __ballot_sync(0xFFFFFFFFu, ok);
    const int64_t word = base >> 5;
    if (lane == 0) reinterpret_cast<uint32_t*>(p.out_validity)[word] = valid_word;
    if (result_type == cinder::EXPR_BOOL) {
      const uint32_t value_word = __ballot_sync(0xFFFFFFFFu, ok && v != 0);
      if (lane == 0) reinterpret_cast<uint32_t*>(p.out_values)[word] = value_word;
    } else if (row < p.rows) {
      if (result_type == cinder::EXPR_I32 || result_type == cinder::EXPR_DATE32) {
        reinterpret_cast<int32_t*>(p.out_values)[row] = static_cast<int32_t>(v);
      } else {
        reinterpret_cast<int64_t*>(p.out_values)[row] = v;
      }
    }
    if (error != 0) atomicOr(reinterpret_cast<unsigned int*>(p.error), error);
  }
}
