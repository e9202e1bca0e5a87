// Filter compaction: keep the rows a predicate selects (true, not null), in order, for every
// column, validity included.
//
// Launches over blocks of FILTER_ROWS_PER_BLOCK rows: cinder_filter_count counts each block's
// selected rows (and, per string column, their bytes); cinder_filter_scan (one block) turns
// counts into each block's first output row (or byte) and the total, once for the rows and
// once per string column; cinder_filter_gather gives every selected row its output position
// (ballot and popcount within a warp, the warps' counts within a block) and moves all
// fixed-width columns in one pass over the tiles, then each string column in one more (its
// output offsets from a block-wide scan of the kept lengths, then its bytes). Consecutive
// selected rows of a warp go to consecutive output rows: writes coalesce.
// Host reference: kernels/src/filter.rs (`filter_host`, which is Arrow's filter kernel).

#include "cinder/abi.cuh"

namespace {

using cinder::FilterColumn;
using cinder::FilterParams;

__device__ __forceinline__ bool selected(const FilterParams& p, int64_t row) {
  if (row >= p.rows) return false;
  const uint32_t word = reinterpret_cast<const uint32_t*>(p.values)[row >> 5] &
                        reinterpret_cast<const uint32_t*>(p.validity)[row >> 5];
  return (word >> (row & 31)) & 1;
}

__device__ __forceinline__ bool bit(uint64_t bitmap, int64_t i) {
  return ((reinterpret_cast<const uint8_t*>(bitmap)[i >> 3] >> (i & 7)) & 1) != 0;
}

__device__ __forceinline__ void set_bit(uint64_t words, int64_t i) {
  atomicOr(reinterpret_cast<unsigned int*>(words) + (i >> 5), 1u << (i & 31));
}

__device__ __forceinline__ int64_t string_offset(const FilterColumn& c, int64_t i) {
  return c.offset_width == 4 ? reinterpret_cast<const int32_t*>(c.data)[i]
                             : reinterpret_cast<const int64_t*>(c.data)[i];
}

__device__ __forceinline__ int64_t string_length(const FilterColumn& c, int64_t row) {
  return string_offset(c, row + 1) - string_offset(c, row);
}

__device__ __forceinline__ void set_offset(const FilterColumn& c, int64_t i, int64_t value) {
  if (c.offset_width == 4) {
    reinterpret_cast<int32_t*>(c.out_data)[i] = static_cast<int32_t>(value);
  } else {
    reinterpret_cast<int64_t*>(c.out_data)[i] = value;
  }
}

// Sum of `value` over the warp (every lane gets it).
__device__ __forceinline__ uint64_t warp_sum(uint64_t value) {
  for (int d = 16; d > 0; d >>= 1) value += __shfl_xor_sync(0xFFFFFFFFu, value, d);
  return value;
}

// Inclusive prefix sum of `value` over the warp's lanes.
__device__ __forceinline__ uint64_t warp_inclusive_scan(uint64_t value, int lane) {
  for (int d = 1; d < 32; d <<= 1) {
    const uint64_t up = __shfl_up_sync(0xFFFFFFFFu, value, d);
    if (lane >= d) value += up;
  }
  return value;
}

__device__ __forceinline__ void copy_value(const FilterColumn& c, int64_t from, int64_t to) {
  switch (c.width) {
    case 1: reinterpret_cast<uint8_t*>(c.out_data)[to] = reinterpret_cast<const uint8_t*>(c.data)[from]; break;
    case 2: reinterpret_cast<unsigned short*>(c.out_data)[to] = reinterpret_cast<const unsigned short*>(c.data)[from]; break;
    case 4: reinterpret_cast<uint32_t*>(c.out_data)[to] = reinterpret_cast<const uint32_t*>(c.data)[from]; break;
    case 8: reinterpret_cast<uint64_t*>(c.out_data)[to] = reinterpret_cast<const uint64_t*>(c.data)[from]; break;
    case 16: {
      const uint64_t* src = reinterpret_cast<const uint64_t*>(c.data) + 2 * from;
      uint64_t* dst = reinterpret_cast<uint64_t*>(c.out_data) + 2 * to;
      dst[0] = src[0];
      dst[1] = src[1];
      break;
    }
    default:  // 0: a bitmap (Boolean values)
      if (bit(c.data, from)) set_bit(c.out_data, to);
      break;
  }
}

}  // namespace

// Selected rows per block, and per string column the bytes they hold.
extern "C" __global__ void cinder_filter_count(FilterParams p) {
  __shared__ unsigned long long block_bytes;
  const FilterColumn* columns = reinterpret_cast<const FilterColumn*>(p.columns);
  const int64_t first = static_cast<int64_t>(blockIdx.x) * cinder::FILTER_ROWS_PER_BLOCK;
  int64_t count = 0;
  for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
    const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
    count += __syncthreads_count(selected(p, row));
  }
  if (threadIdx.x == 0) reinterpret_cast<uint64_t*>(p.block_counts)[blockIdx.x] = count;
  for (int32_t c = 0; c < p.n_columns; ++c) {
    const FilterColumn col = columns[c];
    if (col.width != -1) continue;
    if (threadIdx.x == 0) block_bytes = 0;
    __syncthreads();
    for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
      const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
      const uint64_t len = selected(p, row) ? static_cast<uint64_t>(string_length(col, row)) : 0;
      const uint64_t sum = warp_sum(len);
      if ((threadIdx.x & 31) == 0 && sum != 0) atomicAdd(&block_bytes, static_cast<unsigned long long>(sum));
    }
    __syncthreads();
    if (threadIdx.x == 0) reinterpret_cast<uint64_t*>(col.block_bytes)[blockIdx.x] = block_bytes;
    __syncthreads();
  }
}

// Exclusive scan of the block counts, in one block of FILTER_THREADS threads; the total goes
// to block_offsets[n_blocks].
extern "C" __global__ void cinder_filter_scan(FilterParams p) {
  __shared__ uint64_t sums[cinder::FILTER_THREADS];
  const uint64_t* counts = reinterpret_cast<const uint64_t*>(p.block_counts);
  uint64_t* offsets = reinterpret_cast<uint64_t*>(p.block_offsets);
  uint64_t carry = 0;
  for (int64_t base = 0; base < p.n_blocks; base += cinder::FILTER_THREADS) {
    const int64_t i = base + threadIdx.x;
    const uint64_t own = i < p.n_blocks ? counts[i] : 0;
    sums[threadIdx.x] = own;
    __syncthreads();
    // Hillis-Steele inclusive scan over the chunk.
    for (int d = 1; d < cinder::FILTER_THREADS; d <<= 1) {
      const uint64_t add = threadIdx.x >= d ? sums[threadIdx.x - d] : 0;
      __syncthreads();
      sums[threadIdx.x] += add;
      __syncthreads();
    }
    if (i < p.n_blocks) offsets[i] = carry + sums[threadIdx.x] - own;
    carry += sums[cinder::FILTER_THREADS - 1];
    __syncthreads();
  }
  if (threadIdx.x == 0) offsets[p.n_blocks] = carry;
}

// Moves every column's selected rows to their output positions.
extern "C" __global__ void cinder_filter_gather(FilterParams p) {
  constexpr int kWarps = cinder::FILTER_THREADS / 32;
  __shared__ uint32_t warp_counts[kWarps];
  const FilterColumn* columns = reinterpret_cast<const FilterColumn*>(p.columns);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const uint32_t lanes_below = (1u << lane) - 1;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * cinder::FILTER_ROWS_PER_BLOCK;
  int64_t next = static_cast<int64_t>(reinterpret_cast<const uint64_t*>(p.block_offsets)[blockIdx.x]);
  for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
    const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
    const bool keep = selected(p, row);
    const uint32_t ballot = __ballot_sync(0xFFFFFFFFu, keep);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int64_t warp_start = next;
    int64_t tile_count = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (w < warp) warp_start += warp_counts[w];
      tile_count += warp_counts[w];
    }
    const int64_t out = warp_start + __popc(ballot & lanes_below);
    for (int32_t c = 0; c < p.n_columns; ++c) {
      const FilterColumn col = columns[c];
      if (col.width == -1 && keep) {
        // Strings: validity and nulls here; offsets and bytes in the pass below.
        const bool valid = col.validity == 0 || bit(col.validity, row);
        if (valid && col.validity != 0) set_bit(col.out_validity, out);
      }
      if (col.width == -1) {
        const bool valid = !keep || col.validity == 0 || bit(col.validity, row);
        const uint32_t nulls = __ballot_sync(0xFFFFFFFFu, !valid);
        if (lane == 0 && nulls != 0) {
          atomicAdd(reinterpret_cast<unsigned long long*>(col.null_count), static_cast<unsigned long long>(__popc(nulls)));
        }
        continue;
      }
      bool valid = true;
      if (keep) {
        valid = col.validity == 0 || bit(col.validity, row);
        copy_value(col, row, out);
        if (valid && col.validity != 0) set_bit(col.out_validity, out);
      }
      const uint32_t nulls = __ballot_sync(0xFFFFFFFFu, keep && !valid);
      if (lane == 0 && nulls != 0) {
        atomicAdd(reinterpret_cast<unsigned long long*>(col.null_count), static_cast<unsigned long long>(__popc(nulls)));
      }
    }
    next += tile_count;
    __syncthreads();  // warp_counts is rewritten by the next tile
  }

  // Strings, one column at a time: each kept row's end offset is the block's first output
  // byte plus the kept bytes before it (a block-wide scan of lengths per tile), then its
  // bytes follow.
  __shared__ uint64_t warp_bytes[kWarps];
  for (int32_t c = 0; c < p.n_columns; ++c) {
    const FilterColumn col = columns[c];
    if (col.width != -1) continue;
    if (blockIdx.x == 0 && threadIdx.x == 0) set_offset(col, 0, 0);
    int64_t out_row = static_cast<int64_t>(reinterpret_cast<const uint64_t*>(p.block_offsets)[blockIdx.x]);
    int64_t out_byte = static_cast<int64_t>(reinterpret_cast<const uint64_t*>(col.block_byte_offsets)[blockIdx.x]);
    for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
      const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
      const bool keep = selected(p, row);
      const uint32_t ballot = __ballot_sync(0xFFFFFFFFu, keep);
      const uint64_t len = keep ? static_cast<uint64_t>(string_length(col, row)) : 0;
      const uint64_t inclusive = warp_inclusive_scan(len, lane);
      if (lane == 31) warp_bytes[warp] = inclusive;
      if (lane == 0) warp_counts[warp] = __popc(ballot);
      __syncthreads();
      int64_t rows_before = 0, bytes_before = 0, tile_rows = 0, tile_bytes = 0;
      for (int w = 0; w < kWarps; ++w) {
        if (w < warp) {
          rows_before += warp_counts[w];
          bytes_before += warp_bytes[w];
        }
        tile_rows += warp_counts[w];
        tile_bytes += warp_bytes[w];
      }
      if (keep) {
        const int64_t out = out_row + rows_before + __popc(ballot & lanes_below);
        const int64_t start = out_byte + bytes_before + static_cast<int64_t>(inclusive - len);
        set_offset(col, out + 1, start + static_cast<int64_t>(len));
        const uint8_t* src = reinterpret_cast<const uint8_t*>(col.bytes) + string_offset(col, row);
        uint8_t* dst = reinterpret_cast<uint8_t*>(col.out_bytes) + start;
        for (uint64_t i = 0; i < len; ++i) dst[i] = src[i];
      }
      out_row += tile_rows;
      out_byte += tile_bytes;
      __syncthreads();  // warp_counts and warp_bytes are rewritten by the next tile
    }
  }
}
