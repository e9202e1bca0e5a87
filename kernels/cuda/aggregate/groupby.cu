// Hash aggregation: group numbering and accumulation (see GroupParams and AccumulateParams in
// cinder/abi.cuh for the pipeline).
//
// Groups are numbered in the order their keys first appear, as the host reference does:
// the hash table's slots keep the smallest row of their key (atomicMin after a match), so
// exactly one row per key is flagged, and compacting the flagged rows in row order numbers
// the groups. Accumulation uses atomics, so integer and decimal results do not depend on
// the order rows land in (wrapping sums, min and max commute); double sums do.
//
// Host reference: kernels/src/aggregate/host.rs (group_host, accumulate_host).

#include "cinder/abi.cuh"
#include "cinder/keys.cuh"

namespace {

using cinder::AccumulateParams;
using cinder::AggKey;
using cinder::AggOp;
using cinder::GroupParams;

typedef unsigned long long ull;

// Operations a block can accumulate in shared memory at once (device.rs SHARED_MAX_OPS).
constexpr int32_t kSharedMaxOps = 32;

using cinder::bit_at;
using cinder::valid_at;

__device__ __forceinline__ uint64_t row_hash(const GroupParams& p, int64_t row) {
  return cinder::keys_hash(reinterpret_cast<const AggKey*>(p.keys), p.n_keys, row);
}

__device__ __forceinline__ bool rows_equal(const GroupParams& p, int64_t a, int64_t b) {
  const AggKey* keys = reinterpret_cast<const AggKey*>(p.keys);
  return cinder::keys_equal(keys, a, keys, b, p.n_keys);
}

__device__ __forceinline__ bool is_wide_min_max(int32_t kind) {
  return kind == cinder::AGG_OP_MIN128 || kind == cinder::AGG_OP_MAX128;
}

__device__ __forceinline__ bool is_wide(int32_t kind) {
  return kind == cinder::AGG_OP_SUM128 || is_wide_min_max(kind);
}

// The 64-bit input of an operation at `row`.
__device__ __forceinline__ int64_t read64(const AggOp& op, int64_t row) {
  switch (op.read) {
    case cinder::AGG_READ_I32:
      return reinterpret_cast<const int32_t*>(op.data)[row];
    case cinder::AGG_READ_BOOL:
      return bit_at(op.data, row) ? 1 : 0;
    case cinder::AGG_READ_F64_ORDERED: {
      const int64_t b = reinterpret_cast<const int64_t*>(op.data)[row];
      return b ^ static_cast<int64_t>(static_cast<uint64_t>(b >> 63) >> 1);
    }
    default:  // AGG_READ_I64 (and the bits of a double)
      return reinterpret_cast<const int64_t*>(op.data)[row];
  }
}

// Wrapping 128-bit atomic add of (lo, hi) to the words at w: the low word's carry goes to the
// high word. Each addition's carry is added exactly once, so the sum is exact mod 2^128.
__device__ __forceinline__ void atomic_add128(ull* w, uint64_t lo, uint64_t hi) {
  const ull old = atomicAdd(w, static_cast<ull>(lo));
  const ull carry = (old + lo) < old ? 1ull : 0ull;
  const ull high = hi + carry;
  if (high != 0) atomicAdd(w + 1, high);
}

__device__ __forceinline__ void init_values(int32_t kind, ull* values, int64_t g) {
  switch (kind) {
    case cinder::AGG_OP_MIN64:
      values[g] = 0x7FFFFFFFFFFFFFFFull;
      break;
    case cinder::AGG_OP_MAX64:
      values[g] = 0x8000000000000000ull;
      break;
    case cinder::AGG_OP_MIN128:
      values[2 * g] = ~0ull;
      values[2 * g + 1] = 0x7FFFFFFFFFFFFFFFull;
      break;
    case cinder::AGG_OP_MAX128:
      values[2 * g] = 0;
      values[2 * g + 1] = 0x8000000000000000ull;
      break;
    case cinder::AGG_OP_SUM128:
      values[2 * g] = 0;
      values[2 * g + 1] = 0;
      break;
    default:  // counts, 64-bit sums, double sums (+0.0)
      values[g] = 0;
  }
}

// Folds row `row` of `op` into group g of (values, seen), which are global or shared.
// `result` is the global values (pass 1 compares against their final high words).
__device__ __forceinline__ void apply(const AggOp& op, ull* values, uint32_t* seen, int64_t g, int64_t row,
                                      int32_t pass, const ull* result) {
  if (!valid_at(op.validity, row)) return;
  if (pass == 1) {
    if (!is_wide_min_max(op.kind)) return;
    const int64_t* w = reinterpret_cast<const int64_t*>(op.data) + 2 * row;
    if (w[1] != static_cast<int64_t>(result[2 * g + 1])) return;
    if (op.kind == cinder::AGG_OP_MIN128) {
      atomicMin(values + 2 * g, static_cast<ull>(w[0]));
    } else {
      atomicMax(values + 2 * g, static_cast<ull>(w[0]));
    }
  } else {
    switch (op.kind) {
      case cinder::AGG_OP_COUNT:
        atomicAdd(values + g, 1ull);
        break;
      case cinder::AGG_OP_SUM64:
        atomicAdd(values + g, static_cast<ull>(read64(op, row)));
        break;
      case cinder::AGG_OP_SUMF64:
        atomicAdd(reinterpret_cast<double*>(values + g), reinterpret_cast<const double*>(op.data)[row]);
        break;
      case cinder::AGG_OP_MIN64:
        atomicMin(reinterpret_cast<long long*>(values + g), static_cast<long long>(read64(op, row)));
        break;
      case cinder::AGG_OP_MAX64:
        atomicMax(reinterpret_cast<long long*>(values + g), static_cast<long long>(read64(op, row)));
        break;
      case cinder::AGG_OP_SUM128: {
        const uint64_t* w = reinterpret_cast<const uint64_t*>(op.data) + 2 * row;
        atomic_add128(values + 2 * g, w[0], w[1]);
        break;
      }
      case cinder::AGG_OP_MIN128: {
        const int64_t* w = reinterpret_cast<const int64_t*>(op.data) + 2 * row;
        atomicMin(reinterpret_cast<long long*>(values + 2 * g + 1), static_cast<long long>(w[1]));
        break;
      }
      case cinder::AGG_OP_MAX128: {
        const int64_t* w = reinterpret_cast<const int64_t*>(op.data) + 2 * row;
        atomicMax(reinterpret_cast<long long*>(values + 2 * g + 1), static_cast<long long>(w[1]));
        break;
      }
      default:
        return;
    }
  }
  seen[g] = 1;  // every writer stores 1
}

// Merges a block's shared partial for group g into the global result.
__device__ __forceinline__ void merge_into(const AggOp& op, const ull* part, ull* out, int64_t g, int32_t pass) {
  if (pass == 1) {
    if (op.kind == cinder::AGG_OP_MIN128) atomicMin(out + 2 * g, part[2 * g]);
    if (op.kind == cinder::AGG_OP_MAX128) atomicMax(out + 2 * g, part[2 * g]);
    return;
  }
  switch (op.kind) {
    case cinder::AGG_OP_COUNT:
    case cinder::AGG_OP_SUM64:
      atomicAdd(out + g, part[g]);
      break;
    case cinder::AGG_OP_SUMF64:
      atomicAdd(reinterpret_cast<double*>(out + g), reinterpret_cast<const double*>(part)[g]);
      break;
    case cinder::AGG_OP_MIN64:
      atomicMin(reinterpret_cast<long long*>(out + g), static_cast<long long>(part[g]));
      break;
    case cinder::AGG_OP_MAX64:
      atomicMax(reinterpret_cast<long long*>(out + g), static_cast<long long>(part[g]));
      break;
    case cinder::AGG_OP_SUM128:
      atomic_add128(out + 2 * g, part[2 * g], part[2 * g + 1]);
      break;
    case cinder::AGG_OP_MIN128:
      atomicMin(reinterpret_cast<long long*>(out + 2 * g + 1), static_cast<long long>(part[2 * g + 1]));
      break;
    case cinder::AGG_OP_MAX128:
      atomicMax(reinterpret_cast<long long*>(out + 2 * g + 1), static_cast<long long>(part[2 * g + 1]));
      break;
    default:
      break;
  }
}


// Warp reductions (butterfly: every lane gets the result). All 32 lanes must take part.
constexpr unsigned kFullWarp = 0xFFFFFFFFu;

__device__ __forceinline__ ull warp_sum(ull v) {
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(kFullWarp, v, d);
  return v;
}

__device__ __forceinline__ double warp_sum_f64(double v) {
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(kFullWarp, v, d);
  return v;
}

__device__ __forceinline__ long long warp_min(long long v) {
  for (int d = 16; d > 0; d >>= 1) v = min(v, __shfl_xor_sync(kFullWarp, v, d));
  return v;
}

__device__ __forceinline__ long long warp_max(long long v) {
  for (int d = 16; d > 0; d >>= 1) v = max(v, __shfl_xor_sync(kFullWarp, v, d));
  return v;
}

__device__ __forceinline__ ull warp_min_u(ull v) {
  for (int d = 16; d > 0; d >>= 1) v = min(v, __shfl_xor_sync(kFullWarp, v, d));
  return v;
}

__device__ __forceinline__ ull warp_max_u(ull v) {
  for (int d = 16; d > 0; d >>= 1) v = max(v, __shfl_xor_sync(kFullWarp, v, d));
  return v;
}

// Wrapping 128-bit sum over the warp: the low words' carries go to the high words.
__device__ __forceinline__ void warp_sum128(ull* lo, ull* hi) {
  for (int d = 16; d > 0; d >>= 1) {
    const ull other_lo = __shfl_xor_sync(kFullWarp, *lo, d);
    const ull other_hi = __shfl_xor_sync(kFullWarp, *hi, d);
    const ull sum = *lo + other_lo;
    *hi += other_hi + (sum < *lo ? 1ull : 0ull);
    *lo = sum;
  }
}

// Few groups (at most kWarpCombineGroups): the lanes of a warp that hold rows of group g
// (`mine`) fold their values with warp reductions first, and the leader lane applies the
// warp's result with one atomic, instead of up to 32 atomics on one address. Every lane of
// the warp calls this with the same op, g and pass.
constexpr int64_t kWarpCombineGroups = 32;

__device__ __forceinline__ void warp_apply(const AggOp& op, ull* values, uint32_t* seen, int64_t g, int64_t row,
                                           bool mine, bool leader, int32_t pass, const ull* result) {
  const bool valid = mine && valid_at(op.validity, row);
  if (pass == 1) {
    if (!is_wide_min_max(op.kind)) return;
    const bool is_min = op.kind == cinder::AGG_OP_MIN128;
    bool take = false;
    ull lo = is_min ? ~0ull : 0ull;
    if (valid) {
      const int64_t* w = reinterpret_cast<const int64_t*>(op.data) + 2 * row;
      take = w[1] == static_cast<int64_t>(result[2 * g + 1]);
      if (take) lo = static_cast<ull>(w[0]);
    }
    lo = is_min ? warp_min_u(lo) : warp_max_u(lo);
    if (__any_sync(kFullWarp, take) && leader) {
      if (is_min) {
        atomicMin(values + 2 * g, lo);
      } else {
        atomicMax(values + 2 * g, lo);
      }
      seen[g] = 1;
    }
    return;
  }
  const bool any = __any_sync(kFullWarp, valid);
  switch (op.kind) {
    case cinder::AGG_OP_COUNT: {
      const ull n = warp_sum(valid ? 1ull : 0ull);
      if (any && leader) atomicAdd(values + g, n);
      break;
    }
    case cinder::AGG_OP_SUM64: {
      const ull v = warp_sum(valid ? static_cast<ull>(read64(op, row)) : 0ull);
      if (any && leader) atomicAdd(values + g, v);
      break;
    }
    case cinder::AGG_OP_SUMF64: {
      const double v = warp_sum_f64(valid ? reinterpret_cast<const double*>(op.data)[row] : 0.0);
      if (any && leader) atomicAdd(reinterpret_cast<double*>(values + g), v);
      break;
    }
    case cinder::AGG_OP_MIN64: {
      const long long v = warp_min(valid ? static_cast<long long>(read64(op, row)) : 0x7FFFFFFFFFFFFFFFll);
      if (any && leader) atomicMin(reinterpret_cast<long long*>(values + g), v);
      break;
    }
    case cinder::AGG_OP_MAX64: {
      const long long v =
          warp_max(valid ? static_cast<long long>(read64(op, row)) : static_cast<long long>(0x8000000000000000ull));
      if (any && leader) atomicMax(reinterpret_cast<long long*>(values + g), v);
      break;
    }
    case cinder::AGG_OP_SUM128: {
      ull lo = 0, hi = 0;
      if (valid) {
        const uint64_t* w = reinterpret_cast<const uint64_t*>(op.data) + 2 * row;
        lo = w[0];
        hi = w[1];
      }
      warp_sum128(&lo, &hi);
      if (any && leader) atomic_add128(values + 2 * g, lo, hi);
      break;
    }
    case cinder::AGG_OP_MIN128: {
      const long long h =
          warp_min(valid ? reinterpret_cast<const long long*>(op.data)[2 * row + 1] : 0x7FFFFFFFFFFFFFFFll);
      if (any && leader) atomicMin(reinterpret_cast<long long*>(values + 2 * g + 1), h);
      break;
    }
    case cinder::AGG_OP_MAX128: {
      const long long h = warp_max(valid ? reinterpret_cast<const long long*>(op.data)[2 * row + 1]
                                         : static_cast<long long>(0x8000000000000000ull));
      if (any && leader) atomicMax(reinterpret_cast<long long*>(values + 2 * g + 1), h);
      break;
    }
    default:
      return;
  }
  if (any && leader) seen[g] = 1;
}

}  // namespace

// Inserts every row's key: the slot of an equal key (keeping the smaller row) or the first
// empty slot after the key's hash. The table holds more slots than rows, so probing ends.
//
// Each slot is read before any atomic. A slot only ever goes from empty to a row of one key,
// then to smaller rows of that same key, so any value read, however stale, names the slot's
// key, and the slot holds that row or a smaller one: a row whose key is there with a row no
// larger than its own has nothing to write. Atomics are left for claiming an empty slot and
// for lowering a larger row. With few keys (TPC-H Q1's 4) nearly every row finds its key's
// slot settled, so the rows no longer queue on a handful of addresses.
extern "C" __global__ void cinder_agg_insert(GroupParams p) {
  uint32_t* slots = reinterpret_cast<uint32_t*>(p.slots);
  uint32_t* row_slot = reinterpret_cast<uint32_t*>(p.row_slot);
  for (int64_t row = cinder::grid_first_row(); row < p.rows; row += cinder::grid_stride()) {
    const uint32_t mine = static_cast<uint32_t>(row) + 1;
    uint64_t s = row_hash(p, row) & p.mask;
    while (true) {
      uint32_t cur = *reinterpret_cast<volatile const uint32_t*>(slots + s);
      if (cur == cinder::AGG_EMPTY_SLOT) {
        cur = atomicCAS(slots + s, cinder::AGG_EMPTY_SLOT, mine);
        if (cur == cinder::AGG_EMPTY_SLOT) break;
      }
      if (rows_equal(p, static_cast<int64_t>(cur) - 1, row)) {
        if (mine < cur) atomicMin(slots + s, mine);
        break;
      }
      s = (s + 1) & p.mask;
    }
    row_slot[row] = static_cast<uint32_t>(s);
  }
}

// Flags each key's first row (one bit per row, a warp's 32 rows per word) and writes
// row_index. Whole warps step together, so the ballot sees all 32 lanes.
extern "C" __global__ void cinder_agg_mark(GroupParams p) {
  const uint32_t* slots = reinterpret_cast<const uint32_t*>(p.slots);
  const uint32_t* row_slot = reinterpret_cast<const uint32_t*>(p.row_slot);
  uint32_t* rep_bits = reinterpret_cast<uint32_t*>(p.rep_bits);
  int32_t* row_index = reinterpret_cast<int32_t*>(p.row_index);
  const int lane = threadIdx.x & 31;
  const int64_t warp = cinder::grid_first_row() >> 5;
  const int64_t warps = cinder::grid_stride() >> 5;
  for (int64_t base = warp * 32; base < p.rows; base += warps * 32) {
    const int64_t row = base + lane;
    bool first = false;
    if (row < p.rows) {
      first = slots[row_slot[row]] == static_cast<uint32_t>(row) + 1;
      row_index[row] = static_cast<int32_t>(row);
    }
    const uint32_t bits = __ballot_sync(0xFFFFFFFFu, first);
    if (lane == 0) rep_bits[base >> 5] = bits;
  }
}

// Group g starts at first_rows[g]: that row's entry of rep_group is g.
extern "C" __global__ void cinder_agg_scatter(GroupParams p) {
  const int32_t* first_rows = reinterpret_cast<const int32_t*>(p.first_rows);
  uint32_t* rep_group = reinterpret_cast<uint32_t*>(p.rep_group);
  for (int64_t g = cinder::grid_first_row(); g < p.n_groups; g += cinder::grid_stride()) {
    rep_group[first_rows[g]] = static_cast<uint32_t>(g);
  }
}

// Every row's group: the group its key's first row starts.
extern "C" __global__ void cinder_agg_assign(GroupParams p) {
  const uint32_t* slots = reinterpret_cast<const uint32_t*>(p.slots);
  const uint32_t* row_slot = reinterpret_cast<const uint32_t*>(p.row_slot);
  const uint32_t* rep_group = reinterpret_cast<const uint32_t*>(p.rep_group);
  uint32_t* groups = reinterpret_cast<uint32_t*>(p.groups);
  for (int64_t row = cinder::grid_first_row(); row < p.rows; row += cinder::grid_stride()) {
    groups[row] = rep_group[slots[row_slot[row]] - 1];
  }
}

// Sets every operation's starting values (seen cleared).
extern "C" __global__ void cinder_agg_init(AccumulateParams p) {
  const AggOp* ops = reinterpret_cast<const AggOp*>(p.ops);
  for (int64_t g = cinder::grid_first_row(); g < p.n_groups; g += cinder::grid_stride()) {
    for (int32_t j = 0; j < p.n_ops; ++j) {
      init_values(ops[j].kind, reinterpret_cast<ull*>(ops[j].values), g);
      reinterpret_cast<uint32_t*>(ops[j].seen)[g] = 0;
    }
  }
}

// One pass of every operation over the rows (see AccumulateParams). The shared-memory layout
// per operation: n_groups values (8 or 16 bytes), then n_groups uint32 seen flags, padded to
// 16 bytes; device.rs `shared_bytes` computes the same total.
extern "C" __global__ void cinder_agg_accumulate(AccumulateParams p) {
  const AggOp* ops = reinterpret_cast<const AggOp*>(p.ops);
  const uint32_t* groups = reinterpret_cast<const uint32_t*>(p.groups);
  if (p.shared == 0) {
    for (int64_t row = cinder::grid_first_row(); row < p.rows; row += cinder::grid_stride()) {
      const int64_t g = groups[row];
      for (int32_t j = 0; j < p.n_ops; ++j) {
        ull* values = reinterpret_cast<ull*>(ops[j].values);
        apply(ops[j], values, reinterpret_cast<uint32_t*>(ops[j].seen), g, row, p.pass, values);
      }
    }
    return;
  }
  if (p.n_ops > kSharedMaxOps) __trap();  // device.rs never asks for it
  extern __shared__ ull shared[];
  ull* part_values[kSharedMaxOps];
  uint32_t* part_seen[kSharedMaxOps];
  {
    uint8_t* at = reinterpret_cast<uint8_t*>(shared);
    for (int32_t j = 0; j < p.n_ops; ++j) {
      part_values[j] = reinterpret_cast<ull*>(at);
      at += p.n_groups * (is_wide(ops[j].kind) ? 16 : 8);
      part_seen[j] = reinterpret_cast<uint32_t*>(at);
      at += ((p.n_groups * 4 + 15) / 16) * 16;
    }
  }
  for (int64_t g = threadIdx.x; g < p.n_groups; g += blockDim.x) {
    for (int32_t j = 0; j < p.n_ops; ++j) {
      if (p.pass == 1 && !is_wide_min_max(ops[j].kind)) continue;
      init_values(ops[j].kind, part_values[j], g);
      part_seen[j][g] = 0;
    }
  }
  __syncthreads();
  if (p.n_groups <= kWarpCombineGroups) {
    // Whole warps step through the rows together (the reductions need all 32 lanes); each
    // round takes the group of the lowest lane still to do, until every lane's row is done.
    if ((blockDim.x & 31) != 0) __trap();  // device.rs launches whole warps (256 threads)
    const int lane = threadIdx.x & 31;
    const int64_t warp = cinder::grid_first_row() >> 5;
    const int64_t warps = cinder::grid_stride() >> 5;
    for (int64_t base = warp * 32; base < p.rows; base += warps * 32) {
      const int64_t row = base + lane;
      const bool in_range = row < p.rows;
      const int64_t g = in_range ? static_cast<int64_t>(groups[row]) : -1;
      unsigned todo = __ballot_sync(kFullWarp, in_range);
      while (todo != 0) {
        const int leader = __ffs(todo) - 1;
        const int64_t lead_g = __shfl_sync(kFullWarp, g, leader);
        const bool mine = in_range && g == lead_g;
        todo &= ~__ballot_sync(kFullWarp, mine);
        for (int32_t j = 0; j < p.n_ops; ++j) {
          warp_apply(ops[j], part_values[j], part_seen[j], lead_g, row, mine, lane == leader, p.pass,
                     reinterpret_cast<const ull*>(ops[j].values));
        }
      }
    }
  } else {
    for (int64_t row = cinder::grid_first_row(); row < p.rows; row += cinder::grid_stride()) {
      const int64_t g = groups[row];
      for (int32_t j = 0; j < p.n_ops; ++j) {
        apply(ops[j], part_values[j], part_seen[j], g, row, p.pass, reinterpret_cast<const ull*>(ops[j].values));
      }
    }
  }
  __syncthreads();
  for (int64_t g = threadIdx.x; g < p.n_groups; g += blockDim.x) {
    for (int32_t j = 0; j < p.n_ops; ++j) {
      if (p.pass == 1 && !is_wide_min_max(ops[j].kind)) continue;
      if (part_seen[j][g] == 0) continue;
      merge_into(ops[j], part_values[j], reinterpret_cast<ull*>(ops[j].values), g, p.pass);
      reinterpret_cast<uint32_t*>(ops[j].seen)[g] = 1;
    }
  }
}
