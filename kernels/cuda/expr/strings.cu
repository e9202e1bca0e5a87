// String results: turns the interpreter's per-row (address, length) pairs into an Arrow
// string column (offsets and bytes) on the device.
//
// cinder_string_lengths sums each block's lengths; cinder_filter_scan (filter/compact.cu)
// scans the sums; cinder_string_build gives each row its first byte (the block's offset plus
// a block-wide scan of lengths, tile by tile), writes its end offset and copies its bytes.
// Host reference: kernels/src/expr/host.rs (`evaluate_strings`).

#include "cinder/abi.cuh"

namespace {

using cinder::StringBuildParams;

__device__ __forceinline__ int64_t length_of(const StringBuildParams& p, int64_t row) {
  return row < p.rows ? reinterpret_cast<const int64_t*>(p.refs)[2 * row + 1] : 0;
}

__device__ __forceinline__ uint64_t warp_sum(uint64_t value) {
  for (int d = 16; d > 0; d >>= 1) value += __shfl_xor_sync(0xFFFFFFFFu, value, d);
  return value;
}

}  // namespace

// Bytes per block of FILTER_ROWS_PER_BLOCK rows.
extern "C" __global__ void cinder_string_lengths(StringBuildParams p) {
  __shared__ unsigned long long block_bytes;
  if (threadIdx.x == 0) block_bytes = 0;
  __syncthreads();
  const int64_t first = static_cast<int64_t>(blockIdx.x) * cinder::FILTER_ROWS_PER_BLOCK;
  for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
    const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
    const uint64_t sum = warp_sum(static_cast<uint64_t>(length_of(p, row)));
    if ((threadIdx.x & 31) == 0 && sum != 0) atomicAdd(&block_bytes, static_cast<unsigned long long>(sum));
  }
  __syncthreads();
  if (threadIdx.x == 0) reinterpret_cast<uint64_t*>(p.block_bytes)[blockIdx.x] = block_bytes;
}

// Offsets and bytes.
extern "C" __global__ void cinder_string_build(StringBuildParams p) {
  constexpr int kWarps = cinder::FILTER_THREADS / 32;
  __shared__ uint64_t warp_bytes[kWarps];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * cinder::FILTER_ROWS_PER_BLOCK;
  int64_t next = static_cast<int64_t>(reinterpret_cast<const uint64_t*>(p.block_offsets)[blockIdx.x]);
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    if (p.offset_width == 4) {
      reinterpret_cast<int32_t*>(p.out_offsets)[0] = 0;
    } else {
      reinterpret_cast<int64_t*>(p.out_offsets)[0] = 0;
    }
  }
  for (int tile = 0; tile < cinder::FILTER_TILES; ++tile) {
    const int64_t row = first + tile * cinder::FILTER_THREADS + threadIdx.x;
    const uint64_t len = static_cast<uint64_t>(length_of(p, row));
    uint64_t inclusive = len;
    for (int d = 1; d < 32; d <<= 1) {
      const uint64_t up = __shfl_up_sync(0xFFFFFFFFu, inclusive, d);
      if (lane >= d) inclusive += up;
    }
    if (lane == 31) warp_bytes[warp] = inclusive;
    __syncthreads();
    int64_t before = 0, tile_bytes = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (w < warp) before += warp_bytes[w];
      tile_bytes += warp_bytes[w];
    }
    if (row < p.rows) {
      const int64_t start = next + before + static_cast<int64_t>(inclusive - len);
      const int64_t end = start + static_cast<int64_t>(len);
      if (p.offset_width == 4) {
        reinterpret_cast<int32_t*>(p.out_offsets)[row + 1] = static_cast<int32_t>(end);
      } else {
        reinterpret_cast<int64_t*>(p.out_offsets)[row + 1] = end;
      }
      const uint8_t* src = reinterpret_cast<const uint8_t*>(reinterpret_cast<const int64_t*>(p.refs)[2 * row]);
      uint8_t* dst = reinterpret_cast<uint8_t*>(p.out_bytes) + start;
      for (uint64_t i = 0; i < len; ++i) dst[i] = src[i];
    }
    next += tile_bytes;
    __syncthreads();  // warp_bytes is rewritten by the next tile
  }
}
