// Reading and writing rows of Arrow columns on the device: bitmap bits, string offsets and
// fixed-width values. Shared by the kernels that move rows (join/gather.cu, copy/concat.cu)
// and by the key functions (keys.cuh).
#pragma once

#include "cinder/abi.cuh"

namespace cinder {

// Bit `row` of an Arrow bitmap (LSB first).
__device__ __forceinline__ bool bit_at(uint64_t bitmap, int64_t row) {
  return ((reinterpret_cast<const uint8_t*>(bitmap)[row >> 3] >> (row & 7)) & 1) != 0;
}

// Whether `row` is valid: no validity bitmap (0) means every row is.
__device__ __forceinline__ bool valid_at(uint64_t validity, int64_t row) {
  return validity == 0 || bit_at(validity, row);
}

// The descriptor functions below take any column descriptor with `data` (input values or
// offsets), `out_data` (output values or offsets), `width` (bytes per value) and
// `offset_width` (4 or 8): GatherColumn and ConcatColumn.

// Input string offset `i`.
template <class Column>
__device__ __forceinline__ int64_t row_offset(const Column& c, int64_t i) {
  return c.offset_width == 4 ? reinterpret_cast<const int32_t*>(c.data)[i]
                             : reinterpret_cast<const int64_t*>(c.data)[i];
}

// Writes output string offset `i`.
template <class Column>
__device__ __forceinline__ void set_row_offset(const Column& c, int64_t i, uint64_t value) {
  if (c.offset_width == 4) {
    reinterpret_cast<int32_t*>(c.out_data)[i] = static_cast<int32_t>(value);
  } else {
    reinterpret_cast<int64_t*>(c.out_data)[i] = static_cast<int64_t>(value);
  }
}

// Copies the value of input row `from` to output row `to` (`width` 1, 2, 4, 8 or 16 bytes),
// or writes zeros where `from` is negative.
template <class Column>
__device__ __forceinline__ void copy_row_value(const Column& c, int64_t from, int64_t to) {
  typedef unsigned long long ull;
  switch (c.width) {
    case 1:
      reinterpret_cast<uint8_t*>(c.out_data)[to] =
          from < 0 ? 0 : reinterpret_cast<const uint8_t*>(c.data)[from];
      break;
    case 2:
      reinterpret_cast<unsigned short*>(c.out_data)[to] =
          from < 0 ? 0 : reinterpret_cast<const unsigned short*>(c.data)[from];
      break;
    case 4:
      reinterpret_cast<uint32_t*>(c.out_data)[to] =
          from < 0 ? 0 : reinterpret_cast<const uint32_t*>(c.data)[from];
      break;
    case 8:
      reinterpret_cast<ull*>(c.out_data)[to] =
          from < 0 ? 0 : reinterpret_cast<const ull*>(c.data)[from];
      break;
    default: {  // 16: decimals
      ull* dst = reinterpret_cast<ull*>(c.out_data) + 2 * to;
      if (from < 0) {
        dst[0] = 0;
        dst[1] = 0;
      } else {
        const ull* src = reinterpret_cast<const ull*>(c.data) + 2 * from;
        dst[0] = src[0];
        dst[1] = src[1];
      }
      break;
    }
  }
}

}  // namespace cinder
