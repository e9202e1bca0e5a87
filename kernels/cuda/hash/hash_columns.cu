// Row hashing of key columns, the first step of hash join build/probe and hash aggregation.
//
// Host reference: kernels/src/hash.rs (hash_i64_host).

#include "cinder/abi.cuh"
#include "cinder/hash.cuh"

// Hashes an Int64 (or any 64-bit fixed-width) column.
//
// out[i] = h(row i)                        when combine == 0
// out[i] = hash_combine(out[i], h(row i))  otherwise (multi-column keys, one launch per column)
// where h(row) is hash_u64(value, mix_seed(seed)) for a valid row and hash_null(mix_seed(seed))
// for a null one.
extern "C" __global__ void cinder_hash_i64(cinder::ColumnView col, uint64_t seed, uint64_t* out,
                                           int32_t combine) {
  const uint64_t* values = reinterpret_cast<const uint64_t*>(col.data);
  const uint8_t* validity = reinterpret_cast<const uint8_t*>(col.validity);
  const uint64_t mixed = cinder::mix_seed(seed);
  const uint64_t null_hash = cinder::hash_null(mixed);
  for (int64_t row = cinder::grid_first_row(); row < col.len; row += cinder::grid_stride()) {
    const uint64_t h = cinder::is_valid(validity, col.validity_offset + row)
                           ? cinder::hash_u64(values[row], mixed)
                           : null_hash;
    out[row] = combine != 0 ? cinder::hash_combine(out[row], h) : h;
  }
}
