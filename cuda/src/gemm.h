// GEMMs through cuBLASLt: BF16 inputs, FP32 accumulation and FP32 output.
#pragma once

#include <cublasLt.h>

#include <map>
#include <tuple>

#include "common.h"

namespace sota {

class Gemm {
 public:
  Gemm();
  ~Gemm();
  Gemm(const Gemm &) = delete;
  Gemm &operator=(const Gemm &) = delete;

  // out[M, N] = act[M, K] · W[N, K]ᵀ, all row-major (W in Hugging Face's
  // [out, in] layout). The algorithm is chosen by cuBLASLt's heuristic once
  // per shape and cached.
  void run(const bf16 *act, const bf16 *w, float *out, int M, int N, int K, cudaStream_t stream);

  size_t workspace_bytes() const { return ws_size_; }

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  Plan &plan(int M, int N, int K);

  cublasLtHandle_t handle_ = nullptr;
  void *ws_ = nullptr;
  size_t ws_size_ = 32u << 20;
  std::map<std::tuple<int, int, int>, Plan> plans_;
};

}  // namespace sota
