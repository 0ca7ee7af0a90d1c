// Embedding gather, residual add fused with RMSNorm, row gather, SwiGLU.
#include "kernels.h"
#include "reduce.cuh"

namespace sota {

namespace {

__global__ void embed_kernel(const int32_t *tokens, const bf16 *embed, float *x, int n) {
  const int t = blockIdx.x;
  const bf16 *src = embed + (int64_t)tokens[t] * n;
  float *dst = x + (int64_t)t * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = __bfloat162float(src[i]);
}

// One block per row. The CPU backend computes x + (delta + bias) and the
// same float32 products; the sum of squares is FP64 in both.
__global__ void add_rmsnorm_kernel(float *x, const float *delta, const float *bias,
                                   const float *w, bf16 *h, int n, double eps) {
  __shared__ double scratch[32];
  const int64_t row = (int64_t)blockIdx.x * n;
  float *xr = x + row;
  double ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = xr[i];
    if (delta) {
      float d = delta[row + i];
      if (bias) d = __fadd_rn(d, bias[i]);
      v = __fadd_rn(v, d);
      xr[i] = v;
    }
    ss += (double)v * (double)v;
  }
  ss = block_sum(ss, scratch);
  const float scale = (float)(1.0 / sqrt(ss / n + eps));
  bf16 *hr = h + row;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    hr[i] = __float2bfloat16_rn(__fmul_rn(w[i], __fmul_rn(xr[i], scale)));
  }
}

__global__ void gather_rows_kernel(const bf16 *src, const int32_t *rows, bf16 *dst, int n) {
  const int r = blockIdx.x;
  const bf16 *s = src + (int64_t)rows[r] * n;
  bf16 *d = dst + (int64_t)r * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) d[i] = s[i];
}

__global__ void swiglu_kernel(const float *gu, const float *bias, bf16 *act, int inter) {
  const int64_t t = blockIdx.y;
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= inter) return;
  const float *row = gu + t * 2 * inter;
  float g = row[j], u = row[inter + j];
  if (bias) {
    g = __fadd_rn(g, bias[j]);
    u = __fadd_rn(u, bias[inter + j]);
  }
  // CPU: g / (1 + exp(-g)) * u
  const float s = __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
  act[t * inter + j] = __float2bfloat16_rn(__fmul_rn(s, u));
}

int norm_threads(int n) {
  if (n >= 4096) return 1024;
  if (n >= 1024) return 512;
  return 256;
}

}  // namespace

void launch_embed(const int32_t *tokens, const bf16 *embed, float *x, int T, int n,
                  cudaStream_t stream) {
  if (T == 0) return;
  embed_kernel<<<T, norm_threads(n), 0, stream>>>(tokens, embed, x, n);
  SOTA_CHECK_LAUNCH("embed");
}

void launch_add_rmsnorm(float *x, const float *delta, const float *bias, const float *w, bf16 *h,
                        int T, int n, double eps, cudaStream_t stream) {
  if (T == 0) return;
  add_rmsnorm_kernel<<<T, norm_threads(n), 0, stream>>>(x, delta, bias, w, h, n, eps);
  SOTA_CHECK_LAUNCH("add_rmsnorm");
}

void launch_gather_rows(const bf16 *src, const int32_t *rows, bf16 *dst, int R, int n,
                        cudaStream_t stream) {
  if (R == 0) return;
  gather_rows_kernel<<<R, 256, 0, stream>>>(src, rows, dst, n);
  SOTA_CHECK_LAUNCH("gather_rows");
}

void launch_swiglu(const float *gu, const float *bias, bf16 *act, int T, int inter,
                   cudaStream_t stream) {
  if (T == 0) return;
  dim3 grid((unsigned)ceil_div(inter, 256), (unsigned)T);
  swiglu_kernel<<<grid, 256, 0, stream>>>(gu, bias, act, inter);
  SOTA_CHECK_LAUNCH("swiglu");
}

}  // namespace sota
