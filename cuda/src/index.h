// Index and ordering arithmetic shared by the kernels, the host code and the
// host tests (tests/host_tests.cpp checks it without a GPU).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.h"

namespace sota {

// Element offset of (block, kv head, slot) in one layer's K (or V) cache,
// laid out [num_blocks][KVH][block_size][D]: the CPU backend's
// kvCache.offset. 64-bit: a layer of a large model exceeds 2^31 elements.
__host__ __device__ inline int64_t kv_offset(int blk, int kvh, int slot, int KVH, int block_size,
                                             int D) {
  return (((int64_t)blk * KVH + kvh) * block_size + slot) * D;
}

// ---- the sampler's ranking (sample/doc.go) ----

// The reading rule: NaN counts as -Inf, +Inf as the largest finite float.
__host__ __device__ inline float read_logit(float v) {
  if (v <= FLT_MAX) return v;  // finite or -Inf
  if (v != v) return -INFINITY;
  return FLT_MAX;
}

// Order-preserving bits of a float (larger float, larger key).
__host__ __device__ inline uint32_t order_key(float x) {
  if (x == 0.f) x = 0.f;  // -0 ranks with +0 (ties go by id)
#ifdef __CUDA_ARCH__
  const uint32_t b = __float_as_uint(x);
#else
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
#endif
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Larger key = earlier in the ranking (logit descending, then id
// ascending); all keys of a row are distinct. x must be read_logit'ed.
__host__ __device__ inline uint64_t rank_key(float x, int i) {
  return ((uint64_t)order_key(x) << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)i);
}

__host__ __device__ inline int key_token(uint64_t key) { return (int)(0xFFFFFFFFu - (uint32_t)key); }

// ---- split-K planning of the attention ----

// split_plan chooses how many parts the key range of a layer is split into:
// only when the work items alone (blocks = items × KV heads) would not give
// each multiprocessor two blocks and the longest range has more than 256
// keys; at least 128 keys per split, at most 64 splits, and never more
// partial rows (splits × rows_per_split) than part_rows. chunk is the keys
// per split, a multiple of 32 (2^30 with no split).
inline void split_plan(int64_t blocks, int sms, int max_range, int64_t part_rows,
                       int64_t rows_per_split, int *splits, int *chunk) {
  int64_t s = 1;
  if (blocks > 0 && blocks < 2 * (int64_t)sms && max_range > 256) {
    s = ceil_div(2 * (int64_t)sms, blocks);
    s = s < ceil_div(max_range, 128) ? s : ceil_div(max_range, 128);
    s = s < 64 ? s : 64;
    const int64_t cap = rows_per_split > 0 ? part_rows / rows_per_split : 1;
    s = s < cap ? s : cap;
    s = s > 1 ? s : 1;
  }
  *splits = (int)s;
  *chunk = s == 1 ? (1 << 30) : (int)(ceil_div(ceil_div(max_range, s), 32) * 32);
}

}  // namespace sota
