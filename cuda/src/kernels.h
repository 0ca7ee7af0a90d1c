// Launchers of the kernels in src/*.cu. Every launcher enqueues on `stream`
// and throws sota::Error on a launch failure; none synchronises.
//
// Shapes: T tokens of the step, R sample rows, V vocabulary, D head_dim,
// H query heads, KVH key/value heads. Activations are row-major per token.
#pragma once

#include "common.h"

namespace sota {

// ---- norm.cu ----

// x[t] = embed[tokens[t]] (BF16 → FP32).                    x: [T, n]
void launch_embed(const int32_t *tokens, const bf16 *embed, float *x, int T, int n,
                  cudaStream_t stream);
// For each row t: x[t] += delta[t] + bias (when delta is given; bias may be
// null), then h[t] = BF16(w * x[t] / rms(x[t])). The sum of squares is FP64.
void launch_add_rmsnorm(float *x, const float *delta, const float *bias, const float *w, bf16 *h,
                        int T, int n, double eps, cudaStream_t stream);
// dst[r] = src[rows[r]].                                       [R, n]
void launch_gather_rows(const bf16 *src, const int32_t *rows, bf16 *dst, int R, int n,
                        cudaStream_t stream);
// act[t, j] = BF16(silu(g) * u), g = gu[t, j] + bias[j], u = gu[t, I+j] + bias[I+j].
void launch_swiglu(const float *gu, const float *bias, bf16 *act, int T, int inter,
                   cudaStream_t stream);

// ---- rope.cu ----

// cos/sin[t, i] of angle float(positions[t]) * inv_freq[i] (FP32 product,
// FP64 cos/sin, as the CPU backend).                       [T, D/2]
void launch_rope_table(const int32_t *positions, const float *inv_freq, float *cos_t,
                       float *sin_t, int T, int half, cudaStream_t stream);

struct KVWrite {
  const int32_t *positions;     // [T]
  const int32_t *token_seq;     // [T] sequence of each token
  const int32_t *seq_bt_start;  // [S] offset of the sequence's table in block_tables
  const int32_t *block_tables;
  bf16 *k_cache, *v_cache;      // this layer: [num_blocks][KVH][block_size][D]
  int block_size;
};
// Adds the q/k/v bias, rotates q and k (rotate-half RoPE) and writes q to
// q_out [T, H*D] (FP32) and k, v into the paged cache.   qkv: [T, (H+2KVH)*D]
void launch_rope_kv(const float *qkv, const float *bias, const float *cos_t, const float *sin_t,
                    float *q_out, const KVWrite &kv, int T, int H, int KVH, int D,
                    cudaStream_t stream);

// ---- attention.cu ----

// A work item: ntok consecutive tokens of one sequence starting at token tok0.
struct AttnItem {
  int32_t seq, tok0, ntok, pad;
};

struct AttnParams {
  const float *q;               // [T, H*D], RoPE applied
  const bf16 *k_cache, *v_cache;
  const int32_t *positions;     // [T]
  const int32_t *seq_bt_start;  // [S]
  const int32_t *block_tables;
  const AttnItem *items;        // [num_items]
  int num_items, T, H, KVH, D, block_size;
  int window;                   // 0 = full
  int splits;                   // > 1: partial results, then combine
  int chunk;                    // keys per split, a multiple of 32
  float scale;                  // 1/sqrt(D)
  bf16 *out;                    // [T, H*D]
  float *part_acc;              // [splits, T, H, D] when splits > 1
  float *part_ml;               // [splits, T, H, 2]
};
// Rows of one item: tokens × (H/KVH) query heads; the host tiles sequences
// into items of at most attn_tile_tokens(G) tokens.
int attn_tile_tokens(int group);
bool attn_supported_head_dim(int D);
// Configures shared memory limits once per device; throws when D is unsupported.
void attn_prepare(int D, int group);
void launch_attention(const AttnParams &p, cudaStream_t stream);

// ---- sampling.cu ----

struct SampleArgs {
  const float *logits;               // [R, V] raw
  float *proc;                       // [R, V] scratch for processed rows
  int R, V;
  const sota_sample_params *params;  // [R]
  const int32_t *bias_starts, *bias_ids;
  const float *bias_values;
  const int32_t *pen_starts, *pen_ids, *pen_counts;
  int32_t *tokens;                   // [R]
  float *logprobs;                   // [R]
  int32_t *top_tokens;               // [R, SOTA_MAX_TOP_LOGPROBS]
  float *top_logprobs;               // [R, SOTA_MAX_TOP_LOGPROBS]
  int32_t *status;                   // [R]
};
void launch_sample(const SampleArgs &a, cudaStream_t stream);

// ---- weights.cu ----

// dst[i] = convert(src[i]) for n elements; src of dtype, dst BF16 or FP32.
void launch_convert(const void *src, sota_dtype dtype, void *dst, bool dst_bf16, int64_t n,
                    cudaStream_t stream);
// model.Random: dst[i] = 1 (norm) or (2u-1)*0.02*sqrt(3), u = weight_uniform(key, i).
void launch_random_fill(void *dst, bool dst_bf16, int64_t n, uint64_t key, bool norm,
                        cudaStream_t stream);
// A vectorised device-to-device copy (16-byte loads), for the bandwidth roofline.
void launch_copy(const void *src, void *dst, int64_t bytes, cudaStream_t stream);

}  // namespace sota
