// Cinder's row hash: the one hash function that hash join and hash aggregation share.
//
// Host reference: kernels/src/hash.rs implements the same functions bit for bit.
// 64-bit values are mixed with MurmurHash3's fmix64 finaliser after xor-ing in a mixed seed;
// a null hashes to a fixed value per seed; multi-column keys fold column hashes together
// with hash_combine (the 64-bit variant of boost::hash_combine).
#pragma once

#include "cinder/abi.cuh"

namespace cinder {

constexpr uint64_t kGoldenRatio64 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kNullTag = 0xA5A5A5A5A5A5A5A5ull;

__device__ __forceinline__ uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ull;
  k ^= k >> 33;
  return k;
}

__device__ __forceinline__ uint64_t mix_seed(uint64_t seed) { return fmix64(seed + kGoldenRatio64); }

__device__ __forceinline__ uint64_t hash_u64(uint64_t value, uint64_t mixed_seed) {
  return fmix64(value ^ mixed_seed);
}

__device__ __forceinline__ uint64_t hash_null(uint64_t mixed_seed) { return fmix64(mixed_seed ^ kNullTag); }

__device__ __forceinline__ uint64_t hash_combine(uint64_t acc, uint64_t h) {
  return acc ^ (h + kGoldenRatio64 + (acc << 6) + (acc >> 2));
}

}  // namespace cinder
