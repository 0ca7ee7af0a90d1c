// Sampling on the GPU with the semantics of Go's sample.Sampler (see
// sample/doc.go, which this file follows step by step): one block per
// sample row.
//
//  1. logprobs of the RAW row (max, log Σ exp in FP64 sums), top logprobs by
//     repeated block arg-max over the ranking;
//  2. logit_bias; 3. repetition, then presence/frequency penalties (FP32,
//     no fused multiply-add, as the CPU);
//  4. greedy (arg-max, lowest id on ties) or the draw: weights
//     w = float32(e^z), z = (x - m) / T, truncated by top-k, top-p and min-p
//     as prefixes of the ranking, then the inverse-CDF pick at
//     u = Uniform(seed, output_len) (sample.Uniform).
//
// The ranking (logit descending, then id ascending) is never sorted: each
// prefix cut is found by a radix descent over the 64-bit rank key
// (order-preserving bits of the logit, then ~id), 8 bits per pass, carrying
// the count and FP64 mass of everything ranked before the current prefix.
// Per-warp histograms keep shared-memory atomics mostly uncontended.
//
// Numerics: masses are FP64 sums of FP32 weights in a different order than
// the CPU's, and expf may differ from the CPU's exp by an ulp; so a draw can
// differ from the CPU's only when u lands within rounding of a boundary.
// The FP64 atomics inside one warp's histogram make those last bits vary
// between runs too (a later change can use fixed-point masses).
#include <cfloat>

#include "index.h"
#include "kernels.h"
#include "reduce.cuh"

namespace sota {

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;

__device__ inline float weight_of(float x, float m, float temp) {
  const float z = __fdiv_rn(__fsub_rn(x, m), temp);
  return z > -88.f ? expf(z) : 0.f;
}

struct Shared {
  unsigned cnt[kWarps][kBins];
  double mass[kWarps][kBins];
  double dscratch[32];
  unsigned long long uscratch[32];
  float fscratch[32];
  int iscratch[32];
  int choice, chosen_count, tok;
  long long cnt_before;
  double mass_before;
};

enum Mode { kByCount = 0, kMassAtLeast = 1, kMassAbove = 2 };

struct Sel {
  int tok;          // token at the position
  long long pos;    // its position in the ranking (= tokens ranked before it)
  double before;    // mass of the tokens ranked before it
  bool found;
};

// radix_select finds, in the ranking of x (read_logit applied), the token at
// position n (kByCount) or the first position whose running mass, through
// it, reaches target (kMassAtLeast: >=, kMassAbove: >). Called by the whole block.
__device__ Sel radix_select(const float *x, int V, float m, float temp, Mode mode, long long n,
                            double target, Shared &sh) {
  const int tid = threadIdx.x, warp = tid >> 5;
  uint64_t prefix = 0;
  for (int level = 0; level < 8; ++level) {
    const int shift = 56 - 8 * level;
    for (int b = tid; b < kWarps * kBins; b += kThreads) {
      (&sh.cnt[0][0])[b] = 0;
      (&sh.mass[0][0])[b] = 0;
    }
    __syncthreads();
    for (int i = tid; i < V; i += kThreads) {
      const float xi = read_logit(x[i]);
      const uint64_t R = rank_key(xi, i);
      if (level > 0 && (R >> (shift + 8)) != prefix) continue;
      const int d = (int)((R >> shift) & 0xFF);
      atomicAdd(&sh.cnt[warp][d], 1u);
      const float w = weight_of(xi, m, temp);
      if (w != 0.f) atomicAdd(&sh.mass[warp][d], (double)w);
    }
    __syncthreads();
    for (int b = tid; b < kBins; b += kThreads) {
      unsigned c = 0;
      double ms = 0;
      for (int w = 0; w < kWarps; ++w) {
        c += sh.cnt[w][b];
        ms += sh.mass[w][b];
      }
      sh.cnt[0][b] = c;
      sh.mass[0][b] = ms;
    }
    __syncthreads();
    if (tid == 0) {
      long long cb = level == 0 ? 0 : sh.cnt_before;
      double mb = level == 0 ? 0 : sh.mass_before;
      int choice = -1, last = -1;
      long long last_cb = 0;
      double last_mb = 0;
      for (int b = kBins - 1; b >= 0; --b) {
        const unsigned c = sh.cnt[0][b];
        if (c == 0) continue;
        const double through = mb + sh.mass[0][b];
        bool hit;
        if (mode == kByCount) {
          hit = cb + (long long)c > n;
        } else {
          hit = mode == kMassAtLeast ? through >= target : through > target;
        }
        if (hit) {
          choice = b;
          break;
        }
        last = b, last_cb = cb, last_mb = mb;
        cb += c;
        mb = through;
      }
      if (choice < 0 && level > 0 && last >= 0) {
        // Rounding: the bins' masses did not reach a target the parent bin
        // reached. Take the last token of the parent.
        choice = last, cb = last_cb, mb = last_mb;
      }
      sh.choice = choice;
      sh.chosen_count = choice >= 0 ? (int)sh.cnt[0][choice] : 0;
      sh.cnt_before = cb;
      sh.mass_before = mb;
      sh.tok = -1;
    }
    __syncthreads();
    const int choice = sh.choice;
    if (choice < 0) return Sel{-1, 0, 0, false};
    prefix = (prefix << 8) | (uint64_t)choice;
    if (level == 7) return Sel{key_token(prefix), sh.cnt_before, sh.mass_before, true};
    if (sh.chosen_count == 1) {
      for (int i = tid; i < V; i += kThreads) {
        if ((rank_key(read_logit(x[i]), i) >> shift) == prefix) sh.tok = i;
      }
      __syncthreads();
      return Sel{sh.tok, sh.cnt_before, sh.mass_before, true};
    }
  }
  return Sel{-1, 0, 0, false};  // not reached
}

__device__ uint64_t block_max_key(uint64_t v, Shared &sh) {
  return block_max<unsigned long long>((unsigned long long)v, sh.uscratch);
}

__global__ void __launch_bounds__(kThreads) sample_kernel(SampleArgs a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Shared &sh = *reinterpret_cast<Shared *>(smem_raw);
  const int row = blockIdx.x, tid = threadIdx.x;
  const int V = a.V;
  const sota_sample_params P = a.params[row];
  const float *raw = a.logits + (int64_t)row * V;
  int32_t *top_tok = a.top_tokens + (int64_t)row * SOTA_MAX_TOP_LOGPROBS;
  float *top_lp = a.top_logprobs + (int64_t)row * SOTA_MAX_TOP_LOGPROBS;

  // 1. Logprobs of the raw row.
  const bool want_lp = P.logprobs != 0 || P.top_logprobs > 0;
  float m_raw = -INFINITY;
  double log_z = 0;
  if (want_lp) {
    float mx = -INFINITY;
    for (int i = tid; i < V; i += kThreads) mx = fmaxf(mx, read_logit(raw[i]));
    m_raw = block_max(mx, sh.fscratch);
    if (m_raw == -INFINITY) {
      if (tid == 0) a.status[row] = SOTA_ERR_NO_CANDIDATES, a.tokens[row] = -1;
      return;
    }
    // As logNormalizer: the difference and its exp in FP64 (a float
    // difference rounds, and -FLT_MAX - FLT_MAX would overflow to -Inf).
    double s = 0;
    for (int i = tid; i < V; i += kThreads) {
      const double d = (double)read_logit(raw[i]) - (double)m_raw;
      if (d >= -708.0) s += exp(d);
    }
    log_z = log(block_sum(s, sh.dscratch));
    const int ntop = min(P.top_logprobs, min(V, SOTA_MAX_TOP_LOGPROBS));
    uint64_t prev = 0;
    for (int k = 0; k < ntop; ++k) {
      uint64_t best = 0;
      for (int i = tid; i < V; i += kThreads) {
        const uint64_t R = rank_key(read_logit(raw[i]), i);
        if ((k == 0 || R < prev) && R > best) best = R;
      }
      best = block_max_key(best, sh);
      prev = best;
      if (tid == 0) {
        const int t = key_token(best);
        top_tok[k] = t;
        top_lp[k] = (float)((double)read_logit(raw[t]) - (double)m_raw - log_z);
      }
    }
    if (tid == 0) {
      for (int k = ntop; k < SOTA_MAX_TOP_LOGPROBS; ++k) top_tok[k] = -1, top_lp[k] = 0.f;
    }
  }

  // 2. and 3.: bias and penalties on a copy.
  const int b0 = a.bias_starts[row], b1 = a.bias_starts[row + 1];
  const int p0 = a.pen_starts[row], p1 = a.pen_starts[row + 1];
  const bool rep = P.repetition_penalty != 0.f && P.repetition_penalty != 1.f;
  const bool pres = P.presence_penalty != 0.f || P.frequency_penalty != 0.f;
  const float *x = raw;
  if (b1 > b0 || (p1 > p0 && (rep || pres))) {
    float *proc = a.proc + (int64_t)row * V;
    for (int i = tid; i < V; i += kThreads) proc[i] = raw[i];
    __syncthreads();
    for (int e = b0 + tid; e < b1; e += kThreads) {
      const int id = a.bias_ids[e];
      proc[id] = __fadd_rn(proc[id], a.bias_values[e]);
    }
    __syncthreads();
    for (int e = p0 + tid; e < p1; e += kThreads) {
      const int id = a.pen_ids[e];
      const int count = a.pen_counts[e];
      float v = proc[id];
      if (rep) v = v > 0.f ? __fdiv_rn(v, P.repetition_penalty) : __fmul_rn(v, P.repetition_penalty);
      if (pres && count > 0) {
        v = __fsub_rn(v, __fadd_rn(__fmul_rn(P.frequency_penalty, (float)count), P.presence_penalty));
      }
      proc[id] = v;
    }
    __syncthreads();
    x = proc;
  }

  // 4. Choose.
  int tok = -1;
  if (P.temperature == 0.f) {
    uint64_t best = 0;
    for (int i = tid; i < V; i += kThreads) {
      const uint64_t R = rank_key(read_logit(x[i]), i);
      if (R > best) best = R;
    }
    best = block_max_key(best, sh);
    tok = key_token(best);
    if (read_logit(x[tok]) == -INFINITY) tok = -1;
  } else {
    const float temp = P.temperature;
    float mx = -INFINITY;
    for (int i = tid; i < V; i += kThreads) mx = fmaxf(mx, read_logit(x[i]));
    const float m = block_max(mx, sh.fscratch);
    if (m != -INFINITY) {
      long long L = V;
      double zL;
      const int k = P.top_k;
      if (k > 0 && k < V) {
        const Sel s = radix_select(x, V, m, temp, kByCount, k - 1, 0, sh);
        zL = s.before + (double)weight_of(read_logit(x[s.tok]), m, temp);
        L = k;
      } else {
        double s = 0;
        for (int i = tid; i < V; i += kThreads) s += (double)weight_of(read_logit(x[i]), m, temp);
        zL = block_sum(s, sh.dscratch);
      }
      if (P.top_p > 0.f && P.top_p < 1.f) {
        const Sel s = radix_select(x, V, m, temp, kMassAtLeast, 0, (double)P.top_p * zL, sh);
        if (s.found && s.pos < L) {
          L = s.pos + 1;
          zL = s.before + (double)weight_of(read_logit(x[s.tok]), m, temp);
        }
      }
      if (P.min_p > 0.f) {
        int c = 0;
        double ms = 0;
        for (int i = tid; i < V; i += kThreads) {
          const float w = weight_of(read_logit(x[i]), m, temp);
          if (w >= P.min_p) c++, ms += (double)w;
        }
        c = block_sum(c, sh.iscratch);
        ms = block_sum(ms, sh.dscratch);
        if (c < L && c > 0) L = c, zL = ms;
      }
      const double target = uniform_draw(P.seed, P.output_len) * zL;
      const Sel s = radix_select(x, V, m, temp, kMassAbove, 0, target, sh);
      if (s.found && s.pos < L) {
        tok = s.tok;
      } else {
        // Rounding left the target unreached: the last kept token with w > 0.
        int c = 0;
        for (int i = tid; i < V; i += kThreads) c += weight_of(read_logit(x[i]), m, temp) > 0.f;
        c = block_sum(c, sh.iscratch);
        long long last = L - 1;
        if (c < L) last = c - 1;
        if (last < 0) last = 0;
        tok = radix_select(x, V, m, temp, kByCount, last, 0, sh).tok;
      }
    }
  }
  if (tid == 0) {
    if (tok < 0) {
      a.status[row] = SOTA_ERR_NO_CANDIDATES;
      a.tokens[row] = -1;
      return;
    }
    a.status[row] = SOTA_OK;
    a.tokens[row] = tok;
    a.logprobs[row] = want_lp ? (float)((double)read_logit(raw[tok]) - (double)m_raw - log_z) : 0.f;
  }
}

}  // namespace

void launch_sample(const SampleArgs &a, cudaStream_t stream) {
  if (a.R == 0) return;
  static_assert(sizeof(Shared) < 100 * 1024, "sampling shared memory");
  // Cheap, and per device: set on every launch rather than tracking devices.
  SOTA_CUDA(cudaFuncSetAttribute(sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)sizeof(Shared)));
  sample_kernel<<<a.R, kThreads, sizeof(Shared), stream>>>(a);
  SOTA_CHECK_LAUNCH("sample");
}

}  // namespace sota
