// Group and join keys on the device: hashing and equality of rows of AggKey columns, shared
// by hash aggregation (aggregate/groupby.cu) and hash join (join/hash_join.cu).
//
// Host reference: kernels/src/aggregate/host.rs and kernels/src/join/mod.rs (Arrow's row
// format compares the same way: nulls equal each other; Float64 keys fold -0.0 into +0.0).
#pragma once

#include "cinder/abi.cuh"
#include "cinder/hash.cuh"
#include "cinder/rows.cuh"

namespace cinder {

// -0.0 and +0.0 group together, as +0.0 (DataFusion's group values canonicalise floats).
__device__ __forceinline__ uint64_t canonical_f64(uint64_t bits) { return (bits << 1) == 0 ? 0 : bits; }

__device__ inline uint64_t key_hash(const AggKey& k, int64_t row, uint64_t seed) {
  const uint64_t mixed = mix_seed(seed);
  if (!valid_at(k.validity, row)) return hash_null(mixed);
  switch (k.kind) {
    case AGG_KEY_BOOL:
      return hash_u64(bit_at(k.data, row) ? 1 : 0, mixed);
    case AGG_KEY_4:
      return hash_u64(
          static_cast<uint64_t>(static_cast<int64_t>(reinterpret_cast<const int32_t*>(k.data)[row])), mixed);
    case AGG_KEY_8:
      return hash_u64(reinterpret_cast<const uint64_t*>(k.data)[row], mixed);
    case AGG_KEY_F64:
      return hash_u64(canonical_f64(reinterpret_cast<const uint64_t*>(k.data)[row]), mixed);
    case AGG_KEY_16: {
      const uint64_t* w = reinterpret_cast<const uint64_t*>(k.data) + 2 * row;
      return hash_combine(hash_u64(w[0], mixed), hash_u64(w[1], mixed));
    }
    default: {  // AGG_KEY_STR: the length, then 8-byte little-endian chunks
      const int64_t start = row_offset(k, row);
      const int64_t len = row_offset(k, row + 1) - start;
      const uint8_t* s = reinterpret_cast<const uint8_t*>(k.bytes) + start;
      uint64_t h = hash_u64(static_cast<uint64_t>(len), mixed);
      uint64_t word = 0;
      int n = 0;
      for (int64_t i = 0; i < len; ++i) {
        word |= static_cast<uint64_t>(s[i]) << (8 * n);
        if (++n == 8) {
          h = hash_combine(h, hash_u64(word, mixed));
          word = 0;
          n = 0;
        }
      }
      if (n > 0) h = hash_combine(h, hash_u64(word, mixed));
      return h;
    }
  }
}

// Whether rows a and b hold the same key: null equals null; floats by canonical bits.
__device__ inline bool key_equal(const AggKey& ka, int64_t a, const AggKey& kb, int64_t b) {
  const bool va = valid_at(ka.validity, a);
  const bool vb = valid_at(kb.validity, b);
  if (!va || !vb) return va == vb;
  switch (ka.kind) {
    case AGG_KEY_BOOL:
      return bit_at(ka.data, a) == bit_at(kb.data, b);
    case AGG_KEY_4:
      return reinterpret_cast<const int32_t*>(ka.data)[a] == reinterpret_cast<const int32_t*>(kb.data)[b];
    case AGG_KEY_8:
      return reinterpret_cast<const uint64_t*>(ka.data)[a] == reinterpret_cast<const uint64_t*>(kb.data)[b];
    case AGG_KEY_F64:
      return canonical_f64(reinterpret_cast<const uint64_t*>(ka.data)[a]) ==
             canonical_f64(reinterpret_cast<const uint64_t*>(kb.data)[b]);
    case AGG_KEY_16: {
      const uint64_t* x = reinterpret_cast<const uint64_t*>(ka.data) + 2 * a;
      const uint64_t* y = reinterpret_cast<const uint64_t*>(kb.data) + 2 * b;
      return x[0] == y[0] && x[1] == y[1];
    }
    default: {
      const int64_t sa = row_offset(ka, a), sb = row_offset(kb, b);
      const int64_t la = row_offset(ka, a + 1) - sa, lb = row_offset(kb, b + 1) - sb;
      if (la != lb) return false;
      const uint8_t* x = reinterpret_cast<const uint8_t*>(ka.bytes) + sa;
      const uint8_t* y = reinterpret_cast<const uint8_t*>(kb.bytes) + sb;
      for (int64_t i = 0; i < la; ++i) {
        if (x[i] != y[i]) return false;
      }
      return true;
    }
  }
}

// The hash of a row's keys (n of them): each key hashed with its position as the seed, the
// hashes folded with hash_combine. Equal keys in different columns of the same kinds hash
// alike, so a probe side finds a build side's slots.
__device__ inline uint64_t keys_hash(const AggKey* keys, int32_t n, int64_t row) {
  uint64_t h = 0;
  for (int32_t i = 0; i < n; ++i) {
    const uint64_t hk = key_hash(keys[i], row, static_cast<uint64_t>(i));
    h = i == 0 ? hk : hash_combine(h, hk);
  }
  return h;
}

// Whether row a of keys `ka` equals row b of keys `kb` (same kinds, n keys).
__device__ inline bool keys_equal(const AggKey* ka, int64_t a, const AggKey* kb, int64_t b, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (!key_equal(ka[i], a, kb[i], b)) return false;
  }
  return true;
}

// Whether any of the row's keys is null.
__device__ inline bool any_key_null(const AggKey* keys, int32_t n, int64_t row) {
  for (int32_t i = 0; i < n; ++i) {
    if (!valid_at(keys[i].validity, row)) return true;
  }
  return false;
}

}  // namespace cinder
