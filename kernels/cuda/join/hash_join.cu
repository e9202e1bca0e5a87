// Hash join build and probe (see JoinParams in cinder/abi.cuh), and the exclusive scan they
// use.
//
// Build: the build rows are numbered by group (aggregate/groupby.cu), counted per group
// (cinder_join_count), the counts scanned into offsets (cinder_scan_*), and the rows placed
// per group (cinder_join_fill; their order within a group is unspecified). Probe: each probe
// row finds its key's group through the build slots (cinder_join_probe), its match counts are
// scanned, and each chunk of pairs [pair_start, pair_end) is written by cinder_join_pairs,
// which finds the probe row of pair q by binary search over the probe offsets. The pairs come
// in probe-row order, so the host's assembly keeps DataFusion's probe order.
//
// Host reference: kernels/src/join/mod.rs (BuildTable, Prober).

#include "cinder/abi.cuh"
#include "cinder/keys.cuh"

namespace {

using cinder::AggKey;
using cinder::JoinParams;
using cinder::ScanParams;

typedef unsigned long long ull;

// Exclusive scan of `value` over a block of SCAN_THREADS threads; every thread gets its prefix
// and the block's total.
__device__ ull block_exclusive_scan(ull value, ull* total) {
  __shared__ ull warp_sums[cinder::SCAN_THREADS / 32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  ull inclusive = value;
  for (int d = 1; d < 32; d <<= 1) {
    const ull other = __shfl_up_sync(0xFFFFFFFFu, inclusive, d);
    if (lane >= d) inclusive += other;
  }
  if (lane == 31) warp_sums[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    ull w = lane < cinder::SCAN_THREADS / 32 ? warp_sums[lane] : 0;
    for (int d = 1; d < 32; d <<= 1) {
      const ull other = __shfl_up_sync(0xFFFFFFFFu, w, d);
      if (lane >= d) w += other;
    }
    if (lane < cinder::SCAN_THREADS / 32) warp_sums[lane] = w;  // inclusive over warps
  }
  __syncthreads();
  const ull warp_offset = warp == 0 ? 0 : warp_sums[warp - 1];
  *total = warp_sums[cinder::SCAN_THREADS / 32 - 1];
  __syncthreads();  // warp_sums is reused by the next call
  return warp_offset + inclusive - value;
}

constexpr int kPerThread = cinder::SCAN_TILE / cinder::SCAN_THREADS;
static_assert(cinder::SCAN_THREADS % 32 == 0 && cinder::SCAN_THREADS <= 1024 &&
                  cinder::SCAN_TILE % cinder::SCAN_THREADS == 0,
              "scan geometry: whole warps, at most 32 warps (one warp of warp sums), whole tiles");

}  // namespace

// Per-tile sums (one block per tile).
extern "C" __global__ void cinder_scan_tiles(ScanParams p) {
  const ull* in = reinterpret_cast<const ull*>(p.in);
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cinder::SCAN_TILE + threadIdx.x * kPerThread;
  ull sum = 0;
  for (int i = 0; i < kPerThread; ++i) {
    if (base + i < p.n) sum += in[base + i];
  }
  ull total;
  block_exclusive_scan(sum, &total);
  if (threadIdx.x == 0) reinterpret_cast<ull*>(p.tile_sums)[blockIdx.x] = total;
}

// Exclusive scan of the tile sums in place (one block), and the grand total at out[n].
extern "C" __global__ void cinder_scan_spine(ScanParams p) {
  ull* sums = reinterpret_cast<ull*>(p.tile_sums);
  ull carry = 0;
  for (int64_t start = 0; start < p.n_tiles; start += cinder::SCAN_THREADS) {
    const int64_t i = start + threadIdx.x;
    const ull value = i < p.n_tiles ? sums[i] : 0;
    ull total;
    const ull prefix = block_exclusive_scan(value, &total);
    if (i < p.n_tiles) sums[i] = carry + prefix;
    carry += total;
  }
  if (threadIdx.x == 0) reinterpret_cast<ull*>(p.out)[p.n] = carry;
}

// Each tile's exclusive scan plus its offset (one block per tile).
extern "C" __global__ void cinder_scan_apply(ScanParams p) {
  const ull* in = reinterpret_cast<const ull*>(p.in);
  ull* out = reinterpret_cast<ull*>(p.out);
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cinder::SCAN_TILE + threadIdx.x * kPerThread;
  ull values[kPerThread];
  ull sum = 0;
  for (int i = 0; i < kPerThread; ++i) {
    values[i] = base + i < p.n ? in[base + i] : 0;
    sum += values[i];
  }
  ull total;
  ull running = reinterpret_cast<const ull*>(p.tile_sums)[blockIdx.x] + block_exclusive_scan(sum, &total);
  for (int i = 0; i < kPerThread; ++i) {
    if (base + i < p.n) out[base + i] = running;
    running += values[i];
  }
}

// Counts the build rows of each group.
extern "C" __global__ void cinder_join_count(JoinParams p) {
  const uint32_t* groups = reinterpret_cast<const uint32_t*>(p.build_groups);
  ull* counts = reinterpret_cast<ull*>(p.group_counts);
  for (int64_t row = cinder::grid_first_row(); row < p.build_rows; row += cinder::grid_stride()) {
    atomicAdd(counts + groups[row], 1ull);
  }
}

// Places every build row in its group's range of group_rows.
extern "C" __global__ void cinder_join_fill(JoinParams p) {
  const uint32_t* groups = reinterpret_cast<const uint32_t*>(p.build_groups);
  const ull* offsets = reinterpret_cast<const ull*>(p.group_offsets);
  ull* cursor = reinterpret_cast<ull*>(p.group_cursor);
  uint32_t* rows = reinterpret_cast<uint32_t*>(p.group_rows);
  for (int64_t row = cinder::grid_first_row(); row < p.build_rows; row += cinder::grid_stride()) {
    const uint32_t g = groups[row];
    const ull at = offsets[g] + atomicAdd(cursor + g, 1ull);
    rows[at] = static_cast<uint32_t>(row);
  }
}

// Finds each probe row's group through the build slots, and its number of matches.
extern "C" __global__ void cinder_join_probe(JoinParams p) {
  const AggKey* build_keys = reinterpret_cast<const AggKey*>(p.build_keys);
  const AggKey* probe_keys = reinterpret_cast<const AggKey*>(p.probe_keys);
  const uint32_t* slots = reinterpret_cast<const uint32_t*>(p.slots);
  const uint32_t* rep_group = reinterpret_cast<const uint32_t*>(p.rep_group);
  const ull* group_counts = reinterpret_cast<const ull*>(p.group_counts);
  int32_t* probe_group = reinterpret_cast<int32_t*>(p.probe_group);
  ull* probe_counts = reinterpret_cast<ull*>(p.probe_counts);
  for (int64_t row = cinder::grid_first_row(); row < p.probe_rows; row += cinder::grid_stride()) {
    int32_t group = -1;
    if (p.skip_null_keys == 0 || !cinder::any_key_null(probe_keys, p.n_keys, row)) {
      uint64_t s = cinder::keys_hash(probe_keys, p.n_keys, row) & p.mask;
      // The table has more slots than build rows, so an empty slot ends every search.
      while (slots[s] != cinder::AGG_EMPTY_SLOT) {
        const int64_t build_row = static_cast<int64_t>(slots[s]) - 1;
        if (cinder::keys_equal(probe_keys, row, build_keys, build_row, p.n_keys)) {
          group = static_cast<int32_t>(rep_group[build_row]);
          break;
        }
        s = (s + 1) & p.mask;
      }
    }
    probe_group[row] = group;
    probe_counts[row] = group < 0 ? 0 : group_counts[group];
  }
}

// Writes pairs [pair_start, pair_end): pair q belongs to the probe row r with
// probe_offsets[r] <= q < probe_offsets[r + 1], and is that row's (q - probe_offsets[r])-th
// build row of its group.
extern "C" __global__ void cinder_join_pairs(JoinParams p) {
  const ull* probe_offsets = reinterpret_cast<const ull*>(p.probe_offsets);
  const int32_t* probe_group = reinterpret_cast<const int32_t*>(p.probe_group);
  const ull* group_offsets = reinterpret_cast<const ull*>(p.group_offsets);
  const uint32_t* group_rows = reinterpret_cast<const uint32_t*>(p.group_rows);
  uint32_t* out_build = reinterpret_cast<uint32_t*>(p.out_build);
  uint32_t* out_probe = reinterpret_cast<uint32_t*>(p.out_probe);
  const int64_t n = p.pair_end - p.pair_start;
  for (int64_t i = cinder::grid_first_row(); i < n; i += cinder::grid_stride()) {
    const ull q = static_cast<ull>(p.pair_start + i);
    // The last row whose offset is <= q (it has a match, since q < the total).
    int64_t lo = 0, hi = p.probe_rows;  // probe_offsets[lo] <= q < probe_offsets[hi]
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (probe_offsets[mid] <= q) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const int32_t g = probe_group[lo];
    out_build[i] = group_rows[group_offsets[g] + (q - probe_offsets[lo])];
    out_probe[i] = static_cast<uint32_t>(lo);
  }
}

// Dense keys (one Int32, Int64 or Date32 key over a small range; see JoinParams): the value of
// a row's key, and whether the row takes part (valid, and for probe rows within the range).
__device__ __forceinline__ bool dense_index(const AggKey& key, int64_t row, int64_t min, int64_t range,
                                            int64_t* index) {
  if (!cinder::valid_at(key.validity, row)) return false;
  const int64_t v = key.kind == cinder::AGG_KEY_4 ? static_cast<int64_t>(reinterpret_cast<const int32_t*>(key.data)[row])
                                                  : reinterpret_cast<const int64_t*>(key.data)[row];
  // Unsigned difference: also rejects values below min, without overflow.
  const ull offset = static_cast<ull>(v) - static_cast<ull>(min);
  if (offset >= static_cast<ull>(range)) return false;
  *index = static_cast<int64_t>(offset);
  return true;
}

// Counts the build rows of each key value.
extern "C" __global__ void cinder_join_dense_count(JoinParams p) {
  const AggKey key = reinterpret_cast<const AggKey*>(p.build_keys)[0];
  ull* counts = reinterpret_cast<ull*>(p.group_counts);
  for (int64_t row = cinder::grid_first_row(); row < p.build_rows; row += cinder::grid_stride()) {
    int64_t index;
    if (dense_index(key, row, p.dense_min, p.dense_range, &index)) atomicAdd(counts + index, 1ull);
  }
}

// Places every valid build row in its key value's range of group_rows.
extern "C" __global__ void cinder_join_dense_fill(JoinParams p) {
  const AggKey key = reinterpret_cast<const AggKey*>(p.build_keys)[0];
  const ull* offsets = reinterpret_cast<const ull*>(p.group_offsets);
  ull* cursor = reinterpret_cast<ull*>(p.group_cursor);
  uint32_t* rows = reinterpret_cast<uint32_t*>(p.group_rows);
  for (int64_t row = cinder::grid_first_row(); row < p.build_rows; row += cinder::grid_stride()) {
    int64_t index;
    if (dense_index(key, row, p.dense_min, p.dense_range, &index)) {
      rows[offsets[index] + atomicAdd(cursor + index, 1ull)] = static_cast<uint32_t>(row);
    }
  }
}

// Each probe row's key value (its "group") and number of matches.
extern "C" __global__ void cinder_join_dense_probe(JoinParams p) {
  const AggKey key = reinterpret_cast<const AggKey*>(p.probe_keys)[0];
  const ull* counts = reinterpret_cast<const ull*>(p.group_counts);
  int32_t* probe_group = reinterpret_cast<int32_t*>(p.probe_group);
  ull* probe_counts = reinterpret_cast<ull*>(p.probe_counts);
  for (int64_t row = cinder::grid_first_row(); row < p.probe_rows; row += cinder::grid_stride()) {
    int64_t index;
    const bool hit = dense_index(key, row, p.dense_min, p.dense_range, &index) && counts[index] > 0;
    probe_group[row] = hit ? static_cast<int32_t>(index) : -1;
    probe_counts[row] = hit ? counts[index] : 0;
  }
}
