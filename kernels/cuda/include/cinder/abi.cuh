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

// One fixed-width column on the device, in Arrow's layout.
struct ColumnView {
  uint64_t data;             // device address of row 0's value (the array's offset applied)
  uint64_t validity;         // device address of the Arrow validity bitmap; 0 = no nulls
  int64_t validity_offset;   // bit index of row 0 in the validity bitmap
  int64_t len;               // number of rows
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
