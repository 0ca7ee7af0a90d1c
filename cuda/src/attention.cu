// Paged attention over the KV cache, for decode and chunked prefill alike:
// causal, grouped-query, optional sliding window, split over the key range
// (split-K, "flash decoding") when the step has too few work items to fill
// the GPU, with a combine kernel merging the partial softmaxes.
//
// A block handles one work item (up to attn_tile_tokens(G) consecutive
// tokens of one sequence) for one KV head, i.e. tokens × G query rows that
// share every K/V tile: a tile of 32 keys is gathered through the block
// table into shared memory once and used by all rows. Each warp owns rows
// (r = warp, warp+4, ...) and runs an online softmax per row: lane j scores
// key j of the tile, then lanes accumulate P·V over the head dimension.
//
// This is the portable FP32-FMA path, the same on sm_90a, sm_100a and sm_103a.
// Tensor-core variants (wgmma on Hopper, tcgen05 on Blackwell) for long
// prefills belong behind __CUDA_ARCH__ next to it.
#include <climits>
#include <string>

#include "index.h"
#include "kernels.h"
#include "reduce.cuh"

namespace sota {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kKeys = 32;  // keys per tile: one per lane

size_t smem_bytes(int D, int rows) {
  return sizeof(float) * (2 * (size_t)rows * D + (size_t)kKeys * (2 * D + 1) + 2 * (size_t)rows);
}

int max_rows(int group) { return attn_tile_tokens(group) * group; }

template <int D>
__global__ void __launch_bounds__(kThreads) attention_kernel(AttnParams p, int G, int maxRows) {
  constexpr int DPL = (D + 31) / 32;  // head dimensions per lane in P·V
  extern __shared__ float smem[];
  float *q_s = smem;                        // [maxRows][D], pre-scaled
  float *acc_s = q_s + maxRows * D;         // [maxRows][D]
  float *k_s = acc_s + maxRows * D;         // [kKeys][D+1] (padded: lane j reads row j)
  float *v_s = k_s + kKeys * (D + 1);       // [kKeys][D]
  float *m_s = v_s + kKeys * D;             // [maxRows]
  float *l_s = m_s + maxRows;               // [maxRows]

  const AttnItem it = p.items[blockIdx.x];
  const int kvh = blockIdx.y, split = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int rows = it.ntok * G;
  const int HD = p.H * D;

  const int pos0 = p.positions[it.tok0];
  const int lo = p.window > 0 ? max(0, pos0 - p.window + 1) : 0;
  const int hi = pos0 + it.ntok;  // keys [lo, hi) are visible to some row
  const int kbeg = lo + split * p.chunk;
  // chunk is 2^30 without split-K: form the end in 64 bits.
  const long long kend_ll = (long long)kbeg + p.chunk;
  const int kend = kend_ll < hi ? (int)kend_ll : hi;
  const int32_t *bt = p.block_tables + p.seq_bt_start[it.seq];

  for (int idx = tid; idx < rows * D; idx += kThreads) {
    const int r = idx / D, d = idx % D;
    const int qt = r / G, h = kvh * G + r % G;
    q_s[idx] = p.q[(int64_t)(it.tok0 + qt) * HD + h * D + d] * p.scale;
    acc_s[idx] = 0.f;
  }
  for (int r = tid; r < rows; r += kThreads) {
    m_s[r] = -INFINITY;
    l_s[r] = 0.f;
  }

  for (int kt = kbeg; kt < kend; kt += kKeys) {
    const int nk = min(kKeys, kend - kt);
    __syncthreads();  // the previous tile is no longer read; q_s is written
    for (int idx = tid; idx < kKeys * D; idx += kThreads) {
      const int j = idx / D, d = idx % D;
      float kv = 0.f, vv = 0.f;
      if (j < nk) {
        const int key = kt + j;
        const int blk = bt[key / p.block_size];
        const int64_t off = kv_offset(blk, kvh, key % p.block_size, p.KVH, p.block_size, D) + d;
        kv = __bfloat162float(p.k_cache[off]);
        vv = __bfloat162float(p.v_cache[off]);
      }
      k_s[j * (D + 1) + d] = kv;
      v_s[j * D + d] = vv;
    }
    __syncthreads();

    for (int r = warp; r < rows; r += kWarps) {  // r is warp-uniform
      const int qpos = pos0 + r / G;
      const int rlo = p.window > 0 ? qpos - p.window + 1 : 0;
      const int key = kt + lane;
      const bool valid = lane < nk && key <= qpos && key >= rlo;
      float s = -INFINITY;
      if (valid) {
        const float *qr = q_s + r * D;
        const float *kr = k_s + lane * (D + 1);
        float a = 0.f;
#pragma unroll 8
        for (int d = 0; d < D; ++d) a = fmaf(qr[d], kr[d], a);
        s = a;
      }
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, warp_max(s));
      if (m_new == -INFINITY) continue;  // nothing visible yet: warp-uniform
      const float pr = valid ? expf(s - m_new) : 0.f;
      const float alpha = m_old == -INFINITY ? 0.f : expf(m_old - m_new);
      const float psum = warp_sum(pr);
      float a[DPL];
#pragma unroll
      for (int i = 0; i < DPL; ++i) {
        const int d = lane + 32 * i;
        a[i] = d < D ? acc_s[r * D + d] * alpha : 0.f;
      }
      for (int j = 0; j < nk; ++j) {
        const float pj = __shfl_sync(0xffffffffu, pr, j);
        if (pj == 0.f) continue;  // masked key (warp-uniform): never multiply stale cache
#pragma unroll
        for (int i = 0; i < DPL; ++i) {
          const int d = lane + 32 * i;
          if (d < D) a[i] = fmaf(pj, v_s[j * D + d], a[i]);
        }
      }
#pragma unroll
      for (int i = 0; i < DPL; ++i) {
        const int d = lane + 32 * i;
        if (d < D) acc_s[r * D + d] = a[i];
      }
      __syncwarp();  // every lane has read m_s[r] and l_s[r]
      if (lane == 0) {
        m_s[r] = m_new;
        l_s[r] = l_s[r] * alpha + psum;
      }
      __syncwarp();
    }
  }
  __syncthreads();

  for (int r = warp; r < rows; r += kWarps) {
    const int t = it.tok0 + r / G, h = kvh * G + r % G;
    const float m = m_s[r], l = l_s[r];
    if (p.splits == 1) {
      const float inv = l > 0.f ? 1.f / l : 0.f;
      for (int d = lane; d < D; d += 32) {
        p.out[(int64_t)t * HD + h * D + d] = __float2bfloat16_rn(acc_s[r * D + d] * inv);
      }
    } else {
      const size_t base = ((size_t)split * p.T + t) * p.H + h;
      for (int d = lane; d < D; d += 32) p.part_acc[base * D + d] = acc_s[r * D + d];
      if (lane == 0) {
        p.part_ml[base * 2] = m;
        p.part_ml[base * 2 + 1] = l;
      }
    }
  }
}

// One block per (token, query head): merges the splits' partial softmaxes.
__global__ void combine_kernel(const float *acc, const float *ml, bf16 *out, int T, int H, int D,
                               int splits) {
  const int t = blockIdx.x, h = blockIdx.y;
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, ml[(((size_t)s * T + t) * H + h) * 2]);
  float L = 0.f;
  for (int s = 0; s < splits; ++s) {
    const size_t b = ((size_t)s * T + t) * H + h;
    const float m = ml[b * 2];
    if (m != -INFINITY) L += expf(m - M) * ml[b * 2 + 1];
  }
  const float inv = L > 0.f ? 1.f / L : 0.f;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0.f;
    for (int s = 0; s < splits; ++s) {
      const size_t b = ((size_t)s * T + t) * H + h;
      const float m = ml[b * 2];
      if (m != -INFINITY) o += expf(m - M) * acc[b * D + d];
    }
    out[((size_t)t * H + h) * D + d] = __float2bfloat16_rn(o * inv);
  }
}

template <int D>
void launch_d(const AttnParams &p, cudaStream_t stream) {
  const int G = p.H / p.KVH;
  const int rows = max_rows(G);
  dim3 grid((unsigned)p.num_items, (unsigned)p.KVH, (unsigned)p.splits);
  attention_kernel<D><<<grid, kThreads, smem_bytes(D, rows), stream>>>(p, G, rows);
  SOTA_CHECK_LAUNCH("attention");
}

// The limit is an attribute of the kernel on the current device, shared by
// every model there: setting it to exactly this model's need would lower it
// below what another live model (same D, other group size) launches with.
// So it is raised to the device's opt-in maximum once the need fits.
template <int D>
void prepare_d(int G) {
  int dev = 0, optin = 0;
  SOTA_CUDA(cudaGetDevice(&dev));
  SOTA_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  const size_t need = smem_bytes(D, max_rows(G));
  if (need > (size_t)optin) {
    fail(SOTA_ERR_UNSUPPORTED, "attention with head_dim " + std::to_string(D) + " and " +
                                   std::to_string(G) + " query heads per KV head needs " +
                                   std::to_string(need) + " bytes of shared memory; the device has " +
                                   std::to_string(optin));
  }
  SOTA_CUDA(cudaFuncSetAttribute(attention_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
}

}  // namespace

int attn_tile_tokens(int group) { return group >= 32 ? 1 : 32 / group; }

bool attn_supported_head_dim(int D) {
  switch (D) {
    case 8: case 16: case 32: case 64: case 128: case 256:
      return true;
  }
  return false;
}

void attn_prepare(int D, int G) {
  switch (D) {
    case 8: prepare_d<8>(G); return;
    case 16: prepare_d<16>(G); return;
    case 32: prepare_d<32>(G); return;
    case 64: prepare_d<64>(G); return;
    case 128: prepare_d<128>(G); return;
    case 256: prepare_d<256>(G); return;
  }
  fail(SOTA_ERR_UNSUPPORTED, "head_dim " + std::to_string(D) +
                                 " is not supported by the CUDA attention kernels (8, 16, 32, 64, 128, 256)");
}

void launch_attention(const AttnParams &p, cudaStream_t stream) {
  if (p.num_items == 0) return;
  switch (p.D) {
    case 8: launch_d<8>(p, stream); break;
    case 16: launch_d<16>(p, stream); break;
    case 32: launch_d<32>(p, stream); break;
    case 64: launch_d<64>(p, stream); break;
    case 128: launch_d<128>(p, stream); break;
    case 256: launch_d<256>(p, stream); break;
    default: fail(SOTA_ERR_UNSUPPORTED, "head_dim " + std::to_string(p.D) + " not supported");
  }
  if (p.splits > 1) {
    dim3 grid((unsigned)p.T, (unsigned)p.H);
    combine_kernel<<<grid, p.D >= 128 ? 128 : 64, 0, stream>>>(p.part_acc, p.part_ml, p.out, p.T,
                                                              p.H, p.D, p.splits);
    SOTA_CHECK_LAUNCH("attention combine");
  }
}

}  // namespace sota
