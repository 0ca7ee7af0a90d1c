// RoPE (rotate-half) fused with the q/k/v bias and the write of K and V into
// the paged cache through the block tables.
#include "index.h"
#include "kernels.h"

namespace sota {

namespace {

__global__ void rope_table_kernel(const int32_t *positions, const float *inv_freq, float *cos_t,
                                  float *sin_t, int half) {
  const int t = blockIdx.x;
  const float p = (float)positions[t];
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    // The angle is a float32 product, as transformers and the CPU backend form it.
    const double angle = (double)__fmul_rn(p, inv_freq[i]);
    double s, c;
    sincos(angle, &s, &c);
    cos_t[(int64_t)t * half + i] = (float)c;
    sin_t[(int64_t)t * half + i] = (float)s;
  }
}

// One block per token. Work units: (H + KVH) * D/2 rotation pairs, then
// KVH * D value elements.
__global__ void rope_kv_kernel(const float *qkv, const float *bias, const float *cos_t,
                               const float *sin_t, float *q_out, KVWrite kv, int H, int KVH,
                               int D) {
  const int t = blockIdx.x;
  const int half = D / 2;
  const int qDim = H * D, kvDim = KVH * D, qkvDim = qDim + 2 * kvDim;
  const float *row = qkv + (int64_t)t * qkvDim;
  const float *ct = cos_t + (int64_t)t * half;
  const float *st = sin_t + (int64_t)t * half;

  const int pos = kv.positions[t];
  const int seq = kv.token_seq[t];
  const int blk = kv.block_tables[kv.seq_bt_start[seq] + pos / kv.block_size];
  const int slot = pos % kv.block_size;
  // Start of (blk, head 0, slot) in the cache; a head adds block_size*D.
  const int64_t base = kv_offset(blk, 0, slot, KVH, kv.block_size, D);
  const int64_t head_stride = (int64_t)kv.block_size * D;

  const int pairs = (H + KVH) * half;
  for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
    const int head = p / half, i = p % half;
    const int off = head * D + i;  // q heads then k heads, contiguous in the row
    float a = row[off], b = row[off + half];
    if (bias) {
      a = __fadd_rn(a, bias[off]);
      b = __fadd_rn(b, bias[off + half]);
    }
    const float c = ct[i], s = st[i];
    const float ra = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
    const float rb = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
    if (head < H) {
      float *q = q_out + (int64_t)t * qDim + head * D;
      q[i] = ra;
      q[i + half] = rb;
    } else {
      bf16 *k = kv.k_cache + base + (head - H) * head_stride;
      k[i] = __float2bfloat16_rn(ra);
      k[i + half] = __float2bfloat16_rn(rb);
    }
  }
  for (int e = threadIdx.x; e < kvDim; e += blockDim.x) {
    const int head = e / D, d = e % D;
    float v = row[qDim + kvDim + e];
    if (bias) v = __fadd_rn(v, bias[qDim + kvDim + e]);
    kv.v_cache[base + head * head_stride + d] = __float2bfloat16_rn(v);
  }
}

}  // namespace

void launch_rope_table(const int32_t *positions, const float *inv_freq, float *cos_t,
                       float *sin_t, int T, int half, cudaStream_t stream) {
  if (T == 0) return;
  rope_table_kernel<<<T, 64, 0, stream>>>(positions, inv_freq, cos_t, sin_t, half);
  SOTA_CHECK_LAUNCH("rope_table");
}

void launch_rope_kv(const float *qkv, const float *bias, const float *cos_t, const float *sin_t,
                    float *q_out, const KVWrite &kv, int T, int H, int KVH, int D,
                    cudaStream_t stream) {
  if (T == 0) return;
  rope_kv_kernel<<<T, 256, 0, stream>>>(qkv, bias, cos_t, sin_t, q_out, kv, H, KVH, D);
  SOTA_CHECK_LAUNCH("rope_kv");
}

}  // namespace sota
