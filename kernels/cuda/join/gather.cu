// Gathering rows by index: output row i of every column is input row indices[i], or null where
// the index is GATHER_NULL_INDEX. The join's output columns (build side and probe side, each by
// its own indices), so that a join's result can stay on the device.
//
// cinder_gather_rows runs over the output rows with a grid stride whose warps cover 32
// consecutive rows: fixed-width values are copied one per thread; Boolean values and validity
// are composed a 32-bit word per warp with a ballot (no zeroing, no atomics), and each warp
// adds its nulls to the column's count; for string columns it writes each row's length. The
// launcher scans the lengths (cinder_scan_* in hash_join.cu) into output offsets, and
// cinder_gather_strings writes the offsets and copies the bytes, one thread per row.
// An index past the input (or a null index where the caller said there are none) is counted
// in `errors` and gives a null or zero row; nothing is read out of bounds.
// Host reference: Arrow's `take` (kernels/src/join/mod.rs, `gather`).
//
// cinder_mark_rows sets the bit of every row its indices name (atomicOr; bits are only ever
// set, so the order of the pairs does not matter) and counts indices past the rows;
// cinder_flip_bits inverts the marks of an anti join, leaving the bits past the last row
// clear. Host reference: mark_rows_host (kernels/src/join/gather.rs).

#include "cinder/abi.cuh"
#include "cinder/rows.cuh"

namespace {

using cinder::GatherColumn;
using cinder::GatherParams;
using cinder::MarkParams;
using cinder::bit_at;
using cinder::copy_row_value;
using cinder::row_offset;
using cinder::set_row_offset;
using cinder::valid_at;

typedef unsigned long long ull;

}  // namespace

// Every column's values, validity and null count; string columns' lengths.
extern "C" __global__ void cinder_gather_rows(GatherParams p) {
  const GatherColumn* columns = reinterpret_cast<const GatherColumn*>(p.columns);
  const uint32_t* indices = reinterpret_cast<const uint32_t*>(p.indices);
  const int lane = threadIdx.x & 31;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t padded = (p.rows + 31) & ~static_cast<int64_t>(31);
  // Block size and stride are multiples of 32, so `i - lane` (the warp's first row) is the
  // same for a whole warp: every lane takes part in every ballot.
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i - lane < padded;
       i += stride) {
    const bool in_range = i < p.rows;
    const uint32_t index = in_range ? indices[i] : cinder::GATHER_NULL_INDEX;
    const bool is_null_index = index == cinder::GATHER_NULL_INDEX;
    const bool bad = in_range && ((!is_null_index && index >= p.source_rows) ||
                                  (is_null_index && p.nullable == 0));
    const bool present = in_range && !is_null_index && !bad;
    if (bad) atomicAdd(reinterpret_cast<ull*>(p.errors), 1ull);
    const uint32_t lanes_in = __ballot_sync(0xFFFFFFFFu, in_range);
    const int64_t word = i >> 5;
    for (int32_t c = 0; c < p.n_columns; ++c) {
      const GatherColumn col = columns[c];
      const bool valid = present && valid_at(col.validity, index);
      if (col.out_validity != 0) {
        const uint32_t bits = __ballot_sync(0xFFFFFFFFu, valid);
        if (lane == 0) {
          reinterpret_cast<uint32_t*>(col.out_validity)[word] = bits;
          const uint32_t nulls = __popc(lanes_in & ~bits);
          if (nulls != 0) atomicAdd(reinterpret_cast<ull*>(col.null_count), static_cast<ull>(nulls));
        }
      }
      if (col.width == 0) {
        const uint32_t bits = __ballot_sync(0xFFFFFFFFu, valid && bit_at(col.data, index));
        if (lane == 0) reinterpret_cast<uint32_t*>(col.out_data)[word] = bits;
      } else if (col.width > 0) {
        if (in_range) copy_row_value(col, present ? static_cast<int64_t>(index) : -1, i);
      } else if (in_range) {
        reinterpret_cast<ull*>(col.lengths)[i] =
            valid ? static_cast<ull>(row_offset(col, index + 1) - row_offset(col, index)) : 0;
      }
    }
  }
}

// String columns: offsets from the scanned lengths, and the bytes.
extern "C" __global__ void cinder_gather_strings(GatherParams p) {
  const GatherColumn* columns = reinterpret_cast<const GatherColumn*>(p.columns);
  const uint32_t* indices = reinterpret_cast<const uint32_t*>(p.indices);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.rows;
       i += stride) {
    for (int32_t c = 0; c < p.n_columns; ++c) {
      const GatherColumn col = columns[c];
      if (col.width != -1) continue;
      const ull* starts = reinterpret_cast<const ull*>(col.starts);
      const ull start = starts[i];
      const ull end = starts[i + 1];
      set_row_offset(col, i, start);
      if (i == p.rows - 1) set_row_offset(col, p.rows, end);
      if (end == start) continue;  // a null, empty or out-of-range row: nothing to copy
      const uint8_t* src =
          reinterpret_cast<const uint8_t*>(col.bytes) + row_offset(col, indices[i]);
      uint8_t* dst = reinterpret_cast<uint8_t*>(col.out_bytes) + start;
      for (ull k = 0; k < end - start; ++k) dst[k] = src[k];
    }
  }
}

// Marks the row of every index (one thread per index, grid stride).
extern "C" __global__ void cinder_mark_rows(MarkParams p) {
  const uint32_t* indices = reinterpret_cast<const uint32_t*>(p.indices);
  uint32_t* words = reinterpret_cast<uint32_t*>(p.bitmap);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n;
       i += stride) {
    const uint32_t row = indices[i];
    if (static_cast<int64_t>(row) >= p.rows) {
      atomicAdd(reinterpret_cast<ull*>(p.errors), 1ull);
      continue;
    }
    atomicOr(words + (row >> 5), 1u << (row & 31));
  }
}

// Inverts the marks of `rows` rows (one thread per word, grid stride); bits past the last row
// stay clear.
extern "C" __global__ void cinder_flip_bits(MarkParams p) {
  uint32_t* words = reinterpret_cast<uint32_t*>(p.bitmap);
  const int64_t n_words = (p.rows + 31) >> 5;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t w = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; w < n_words;
       w += stride) {
    const int64_t used = p.rows - (w << 5);
    const uint32_t mask = used >= 32 ? 0xFFFFFFFFu : ((1u << used) - 1u);
    words[w] = ~words[w] & mask;
  }
}
