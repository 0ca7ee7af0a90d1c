// Shared by the host code and the kernels of libsota_cuda: error handling,
// BF16 helpers, and the counter-based random numbers that mirror Go.
#pragma once

#include <cstdint>
#include <string>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "sota.h"

namespace sota {

using bf16 = __nv_bfloat16;

// Error is thrown inside the library and caught at the C ABI boundary, which
// turns it into a status code and the thread's last-error string.
struct Error {
  sota_status status;
  std::string msg;
};

[[noreturn]] void fail(sota_status s, const std::string &msg);
// check_cuda throws Error for any CUDA error, classified (memory, no device).
void check_cuda(cudaError_t e, const char *what);

#define SOTA_CUDA(call) ::sota::check_cuda((call), #call)
#define SOTA_CHECK_LAUNCH(what) ::sota::check_cuda(cudaGetLastError(), what)

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- counter-based random numbers (Go: model/random.go, sample/rng.go) ----

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

__host__ __device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// sample.Uniform(seed, n): the draw for output index n.
__host__ __device__ inline double uniform_draw(uint64_t seed, int64_t n) {
  uint64_t bits = mix64(mix64(seed) + (uint64_t)(n + 1) * kGolden);
  return (double)(bits >> 11) * 0x1p-53;
}

// model.uniform(key, i): element i of a random tensor's stream, in [0, 1).
__host__ __device__ inline float weight_uniform(uint64_t key, uint64_t i) {
  return (float)(mix64(key + (i + 1) * kGolden) >> 40) * (1.0f / 16777216.0f);
}

// model.tensorKey(seed, name): FNV-1a 64 of the name, mixed with the seed.
inline uint64_t tensor_key(uint64_t seed, const std::string &name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return mix64(seed ^ mix64(h));
}

}  // namespace sota
