// Weight conversion on upload (F32/F16/BF16 → BF16 or FP32), random weights
// generated on the device exactly as Go's model.Random, and the copy kernel
// that measures memory bandwidth.
#include <cuda_fp16.h>

#include "kernels.h"

namespace sota {

namespace {

template <typename Src>
__device__ inline float to_float(Src v);
template <>
__device__ inline float to_float<float>(float v) { return v; }
template <>
__device__ inline float to_float<__half>(__half v) { return __half2float(v); }
template <>
__device__ inline float to_float<bf16>(bf16 v) { return __bfloat162float(v); }

template <typename Src>
__global__ void convert_kernel(const Src *src, void *dst, bool dst_bf16, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const float v = to_float<Src>(src[i]);
    if (dst_bf16) {
      static_cast<bf16 *>(dst)[i] = __float2bfloat16_rn(v);
    } else {
      static_cast<float *>(dst)[i] = v;
    }
  }
}

__global__ void random_kernel(void *dst, bool dst_bf16, int64_t n, uint64_t key, bool norm) {
  // uniform on [-a, a] has standard deviation a/sqrt(3): a = float32(0.02*sqrt(3))
  const float a = (float)(0.02 * 1.7320508075688772);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = 1.f;
    if (!norm) {
      const float u = weight_uniform(key, (uint64_t)i);
      v = __fmul_rn(__fsub_rn(__fmul_rn(2.f, u), 1.f), a);
    }
    if (dst_bf16) {
      static_cast<bf16 *>(dst)[i] = __float2bfloat16_rn(v);
    } else {
      static_cast<float *>(dst)[i] = v;
    }
  }
}

__global__ void copy_kernel(const uint4 *src, uint4 *dst, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    dst[i] = src[i];
  }
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = ceil_div(n, threads);
  return (unsigned)(blocks < 65536 ? blocks : 65536);
}

}  // namespace

void launch_convert(const void *src, sota_dtype dtype, void *dst, bool dst_bf16, int64_t n,
                    cudaStream_t stream) {
  if (n == 0) return;
  const unsigned g = grid_for(n, 256);
  switch (dtype) {
    case SOTA_F32:
      convert_kernel<float><<<g, 256, 0, stream>>>(static_cast<const float *>(src), dst, dst_bf16, n);
      break;
    case SOTA_F16:
      convert_kernel<__half><<<g, 256, 0, stream>>>(static_cast<const __half *>(src), dst, dst_bf16, n);
      break;
    case SOTA_BF16:
      convert_kernel<bf16><<<g, 256, 0, stream>>>(static_cast<const bf16 *>(src), dst, dst_bf16, n);
      break;
    default:
      fail(SOTA_ERR_INVALID_ARGUMENT, "unknown dtype " + std::to_string((int)dtype));
  }
  SOTA_CHECK_LAUNCH("convert");
}

void launch_random_fill(void *dst, bool dst_bf16, int64_t n, uint64_t key, bool norm,
                        cudaStream_t stream) {
  if (n == 0) return;
  random_kernel<<<grid_for(n, 256), 256, 0, stream>>>(dst, dst_bf16, n, key, norm);
  SOTA_CHECK_LAUNCH("random_fill");
}

void launch_copy(const void *src, void *dst, int64_t bytes, cudaStream_t stream) {
  const int64_t n = bytes / 16;
  copy_kernel<<<grid_for(n, 512), 512, 0, stream>>>(static_cast<const uint4 *>(src),
                                                    static_cast<uint4 *>(dst), n);
  SOTA_CHECK_LAUNCH("copy");
}

}  // namespace sota
