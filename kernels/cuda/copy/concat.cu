// Concatenating device batches: every column of one input piece written at output row `at`,
// so that small batches (a selective filter's or a join's output) become one large batch
// before the next kernels run, without leaving the device.
//
// cinder_concat_rows runs over the piece's rows with a grid stride whose warps cover 32
// consecutive rows. Fixed-width values are copied one per thread. Boolean values and validity
// are composed a 32-bit word per warp with a ballot and OR-ed into the zeroed output bitmap at
// the piece's bit offset (at most two output words per warp; atomics, because a neighbouring
// piece may share the boundary word). String offsets are rebased to the piece's first output
// byte (input offsets start at 0), and each thread copies its row's bytes; the piece that
// ends at the last output row also writes the closing offset.
// Host reference: Arrow's `concat_batches` (kernels/src/concat.rs).

#include "cinder/abi.cuh"
#include "cinder/rows.cuh"

namespace {

using cinder::ConcatColumn;
using cinder::ConcatParams;
using cinder::bit_at;
using cinder::copy_row_value;
using cinder::row_offset;
using cinder::set_row_offset;
using cinder::valid_at;


// ORs the 32 bits of `bits` (bit k for output row first + k) into the bitmap at `bitmap`.
__device__ __forceinline__ void or_bits(uint64_t bitmap, int64_t first, uint32_t bits) {
  if (bits == 0) return;
  uint32_t* words = reinterpret_cast<uint32_t*>(bitmap);
  const int64_t w = first >> 5;
  const int s = static_cast<int>(first & 31);
  atomicOr(words + w, bits << s);
  if (s != 0) {
    const uint32_t high = bits >> (32 - s);
    if (high != 0) atomicOr(words + w + 1, high);
  }
}

}  // namespace

extern "C" __global__ void cinder_concat_rows(ConcatParams p) {
  const ConcatColumn* columns = reinterpret_cast<const ConcatColumn*>(p.columns);
  const int lane = threadIdx.x & 31;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t padded = (p.rows + 31) & ~static_cast<int64_t>(31);
  // Block size and stride are multiples of 32, so `i - lane` (the warp's first row) is the
  // same for a whole warp: every lane takes part in every ballot.
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i - lane < padded;
       i += stride) {
    const bool in_range = i < p.rows;
    const int64_t first = p.at + (i - lane);  // the output row of the warp's first row
    for (int32_t c = 0; c < p.n_columns; ++c) {
      const ConcatColumn col = columns[c];
      if (col.out_validity != 0) {
        const bool valid = in_range && valid_at(col.validity, i);
        const uint32_t bits = __ballot_sync(0xFFFFFFFFu, valid);
        if (lane == 0) or_bits(col.out_validity, first, bits);
      }
      if (col.width == 0) {
        const uint32_t bits = __ballot_sync(0xFFFFFFFFu, in_range && bit_at(col.data, i));
        if (lane == 0) or_bits(col.out_data, first, bits);
      } else if (col.width > 0) {
        if (in_range) copy_row_value(col, i, p.at + i);
      } else if (in_range) {
        const int64_t start = row_offset(col, i);
        const int64_t end = row_offset(col, i + 1);
        set_row_offset(col, p.at + i, col.byte_base + static_cast<uint64_t>(start));
        if (p.at + i == p.total - 1) {
          set_row_offset(col, p.total, col.byte_base + static_cast<uint64_t>(end));
        }
        const uint8_t* src = reinterpret_cast<const uint8_t*>(col.bytes) + start;
        uint8_t* dst = reinterpret_cast<uint8_t*>(col.out_bytes) + col.byte_base + start;
        for (int64_t k = 0; k < end - start; ++k) dst[k] = src[k];
      }
    }
  }
}
