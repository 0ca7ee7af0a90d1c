#include "gemm.h"

#include <string>

namespace sota {

namespace {

void check_lt(cublasStatus_t s, const char *what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  const sota_status code = s == CUBLAS_STATUS_ALLOC_FAILED ? SOTA_ERR_OUT_OF_MEMORY : SOTA_ERR_CUBLAS;
  fail(code, std::string(what) + ": cuBLASLt status " + std::to_string((int)s));
}

#define SOTA_LT(call) check_lt((call), #call)

}  // namespace

Gemm::Gemm() {
  SOTA_LT(cublasLtCreate(&handle_));
  SOTA_CUDA(cudaMalloc(&ws_, ws_size_));
}

Gemm::~Gemm() {
  for (auto &kv : plans_) {
    Plan &p = kv.second;
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    if (p.op) cublasLtMatmulDescDestroy(p.op);
  }
  if (ws_) cudaFree(ws_);
  if (handle_) cublasLtDestroy(handle_);
}

// In cuBLASLt's column-major terms the row-major product out = act · Wᵀ is
// outᵀ[N, M] = W_cm[K, N]ᵀ · act_cm[K, M]: A = W transposed ("TN").
Gemm::Plan &Gemm::plan(int M, int N, int K) {
  const auto key = std::make_tuple(M, N, K);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  Plan p;
  try {
    SOTA_LT(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    SOTA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
    SOTA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof(n)));
    SOTA_LT(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, K, N, K));
    SOTA_LT(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, K, M, K));
    SOTA_LT(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, N, M, N));
    cublasLtMatmulPreference_t pref = nullptr;
    SOTA_LT(cublasLtMatmulPreferenceCreate(&pref));
    cublasLtMatmulHeuristicResult_t res{};
    int found = 0;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_size_, sizeof(ws_size_));
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, 1, &res, &found);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    SOTA_LT(st);
    if (found == 0) {
      fail(SOTA_ERR_CUBLAS, "cuBLASLt has no BF16 algorithm for M=" + std::to_string(M) +
                                " N=" + std::to_string(N) + " K=" + std::to_string(K));
    }
    p.algo = res.algo;
  } catch (...) {
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    if (p.op) cublasLtMatmulDescDestroy(p.op);
    throw;
  }
  return plans_.emplace(key, p).first->second;
}

void Gemm::run(const bf16 *act, const bf16 *w, float *out, int M, int N, int K,
               cudaStream_t stream) {
  if (M == 0) return;
  Plan &p = plan(M, N, K);
  const float alpha = 1.f, beta = 0.f;
  SOTA_LT(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, act, p.b, &beta, out, p.c, out, p.c,
                         &p.algo, ws_, ws_size_, stream));
}

}  // namespace sota
