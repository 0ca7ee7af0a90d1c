// Kernel tests, run by CTest on a GPU machine: each kernel against a plain
// CPU reference on fresh random inputs, outputs poisoned before each run.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "reference.h"

using sota::bf16;

namespace {

int failures = 0;
std::mt19937_64 rng(12345);

#define CHECK(cond, ...)                        \
  do {                                          \
    if (!(cond)) {                              \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                 \
      std::printf("\n");                        \
      ++failures;                               \
    }                                           \
  } while (0)

void cuda(cudaError_t e) {
  if (e != cudaSuccess) {
    std::printf("CUDA error: %s\n", cudaGetErrorString(e));
    std::exit(2);
  }
}

std::vector<float> randn(size_t n, float sd = 1.f) {
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}


template <typename T>
T *dev(const std::vector<T> &h) {
  T *d = nullptr;
  cuda(cudaMalloc(&d, std::max<size_t>(h.size(), 1) * sizeof(T)));
  if (!h.empty()) cuda(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

template <typename T>
T *dev_poison(size_t n) {
  T *d = nullptr;
  cuda(cudaMalloc(&d, std::max<size_t>(n, 1) * sizeof(T)));
  cuda(cudaMemset(d, 0xff, n * sizeof(T)));  // NaN for floats
  return d;
}

template <typename T>
std::vector<T> host(const T *d, size_t n) {
  std::vector<T> h(n);
  cuda(cudaDeviceSynchronize());
  cuda(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

std::vector<bf16> to_bf16(const std::vector<float> &v) {
  std::vector<bf16> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __float2bfloat16_rn(v[i]);
  return o;
}

// ‖a − b‖ / ‖b‖; NaN when any element is NaN.
double rel_err(const std::vector<float> &a, const std::vector<double> &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return NAN;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

void test_gemm() {
  sota::Gemm g;
  for (auto [M, N, K] : std::vector<std::tuple<int, int, int>>{{1, 256, 64}, {7, 384, 512}, {64, 1000, 256}}) {
    auto a = randn((size_t)M * K), w = randn((size_t)N * K);
    auto a16 = to_bf16(a), w16 = to_bf16(w);
    bf16 *da = dev(a16), *dw = dev(w16);
    float *dout = dev_poison<float>((size_t)M * N);
    g.run(da, dw, dout, M, N, K, nullptr);
    auto out = host(dout, (size_t)M * N);
    std::vector<double> want((size_t)M * N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += (double)__bfloat162float(a16[(size_t)i * K + k]) * __bfloat162float(w16[(size_t)j * K + k]);
        want[(size_t)i * N + j] = s;
      }
    const double e = rel_err(out, want);
    CHECK(e < 1e-4, "gemm M=%d N=%d K=%d: relative error %g", M, N, K, e);
    cudaFree(da), cudaFree(dw), cudaFree(dout);
  }
}

void test_add_rmsnorm() {
  const int T = 5, n = 1000;
  auto x = randn((size_t)T * n), delta = randn((size_t)T * n), bias = randn(n), w = randn(n);
  float *dx = dev(x), *dd = dev(delta), *db = dev(bias), *dw = dev(w);
  bf16 *dh = dev_poison<bf16>((size_t)T * n);
  sota::launch_add_rmsnorm(dx, dd, db, dw, dh, T, n, 1e-5, nullptr);
  auto hx = host(dx, (size_t)T * n);
  auto hh = host(dh, (size_t)T * n);
  std::vector<float> got(hh.size());
  std::vector<double> want(hh.size()), wantx(hx.size());
  for (int t = 0; t < T; ++t) {
    double ss = 0;
    for (int i = 0; i < n; ++i) {
      const double v = x[t * n + i] + (delta[t * n + i] + bias[i]);
      wantx[t * n + i] = v;
      ss += v * v;
    }
    const double scale = 1 / std::sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; ++i) want[t * n + i] = w[i] * wantx[t * n + i] * scale;
  }
  for (size_t i = 0; i < hh.size(); ++i) got[i] = __bfloat162float(hh[i]);
  CHECK(rel_err(hx, wantx) < 1e-6, "add_rmsnorm residual: %g", rel_err(hx, wantx));
  CHECK(rel_err(got, want) < 8e-3, "add_rmsnorm output: %g", rel_err(got, want));
}

// Paged attention against a direct FP64 computation, over a batch mixing
// decodes and prefill chunks, with and without a window and split-K.
void test_attention(int D, int H, int KVH, int window, int splits) {
  const int bs = 16, G = H / KVH;
  const std::vector<int> ctx = {1, 37, 300, 1200};     // cached positions before the step
  const std::vector<int> ntok = {5, 1, 40, 1};          // new tokens this step
  const int S = (int)ctx.size();
  std::vector<int32_t> positions, token_seq, seq_bt_start, block_tables;
  int nblocks = 0;
  for (int s = 0; s < S; ++s) {
    const int len = ctx[s] + ntok[s];
    seq_bt_start.push_back((int32_t)block_tables.size());
    for (int b = 0; b < (len + bs - 1) / bs; ++b) block_tables.push_back(nblocks++);
    for (int i = 0; i < ntok[s]; ++i) positions.push_back(ctx[s] + i), token_seq.push_back(s);
  }
  // Shuffle block ids so the table matters.
  std::shuffle(block_tables.begin(), block_tables.end(), rng);
  const int T = (int)positions.size();
  const size_t cache_n = (size_t)nblocks * KVH * bs * D;
  auto kc = to_bf16(randn(cache_n)), vc = to_bf16(randn(cache_n));
  auto q = randn((size_t)T * H * D);
  std::vector<sota::AttnItem> items;
  const int tile = sota::attn_tile_tokens(G);
  int t0 = 0;
  for (int s = 0; s < S; ++s) {
    for (int t = 0; t < ntok[s]; t += tile) items.push_back({s, t0 + t, std::min(tile, ntok[s] - t), 0});
    t0 += ntok[s];
  }
  sota::attn_prepare(D, G);
  sota::AttnParams p{};
  p.q = dev(q);
  p.k_cache = dev(kc);
  p.v_cache = dev(vc);
  p.positions = dev(positions);
  p.seq_bt_start = dev(seq_bt_start);
  p.block_tables = dev(block_tables);
  p.items = dev(items);
  p.num_items = (int)items.size();
  p.T = T, p.H = H, p.KVH = KVH, p.D = D, p.block_size = bs, p.window = window;
  p.splits = splits;
  p.chunk = splits == 1 ? (1 << 30) : (int)((1301 / splits + 31) / 32 * 32);
  p.scale = 1.f / std::sqrt((float)D);
  p.out = dev_poison<bf16>((size_t)T * H * D);
  p.part_acc = dev_poison<float>((size_t)splits * T * H * D);
  p.part_ml = dev_poison<float>((size_t)splits * T * H * 2);
  sota::launch_attention(p, nullptr);
  auto out16 = host(p.out, (size_t)T * H * D);
  std::vector<float> got(out16.size());
  for (size_t i = 0; i < got.size(); ++i) got[i] = __bfloat162float(out16[i]);
  std::vector<double> want(got.size());
  for (int t = 0; t < T; ++t) {
    const int s = token_seq[t], pos = positions[t];
    const int lo = window > 0 ? std::max(0, pos - window + 1) : 0;
    for (int h = 0; h < H; ++h) {
      const int kvh = h / G;
      std::vector<double> sc;
      double mx = -INFINITY;
      for (int k = lo; k <= pos; ++k) {
        const int blk = block_tables[seq_bt_start[s] + k / bs];
        const size_t off = (((size_t)blk * KVH + kvh) * bs + k % bs) * D;
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[((size_t)t * H + h) * D + d] * __bfloat162float(kc[off + d]);
        sc.push_back(dot / std::sqrt((double)D));
        mx = std::max(mx, sc.back());
      }
      double sum = 0;
      for (double &v : sc) sum += (v = std::exp(v - mx));
      for (int d = 0; d < D; ++d) {
        double o = 0;
        for (int k = lo; k <= pos; ++k) {
          const int blk = block_tables[seq_bt_start[s] + k / bs];
          const size_t off = (((size_t)blk * KVH + kvh) * bs + k % bs) * D;
          o += sc[k - lo] * __bfloat162float(vc[off + d]);
        }
        want[((size_t)t * H + h) * D + d] = o / sum;
      }
    }
  }
  const double e = rel_err(got, want);
  CHECK(e < 8e-3, "attention D=%d H=%d KVH=%d window=%d splits=%d: relative error %g", D, H, KVH, window, splits, e);
}

void test_sampling() {
  const int V = 5000, R = 8;
  std::vector<sota_sample_params> params(R);
  std::vector<int32_t> bstart = {0}, bids, pstart = {0}, pids, pcnt;
  std::vector<float> bval;
  for (int r = 0; r < R; ++r) {
    sota_sample_params &p = params[r];
    std::memset(&p, 0, sizeof(p));
    p.temperature = r == 0 ? 0.f : 0.5f + 0.25f * r;
    p.top_k = r == 2 ? 40 : (r == 5 ? 3000 : 0);
    p.top_p = r == 3 ? 0.9f : (r == 5 ? 0.5f : 0.f);
    p.min_p = r == 4 ? 0.05f : 0.f;
    p.repetition_penalty = r == 6 ? 1.3f : 0.f;
    p.presence_penalty = r == 7 ? 0.5f : 0.f;
    p.frequency_penalty = r == 7 ? 0.25f : 0.f;
    p.seed = 1000 + r;
    p.output_len = 3 * r;
    p.logprobs = 1;
    p.top_logprobs = r % 3 == 0 ? 5 : 0;
    if (r == 1 || r == 6) bids.push_back(17), bval.push_back(5.f), bids.push_back(4000), bval.push_back(-100.f);
    bstart.push_back((int32_t)bids.size());
    if (r >= 6) {
      for (int k = 0; k < 30; ++k) pids.push_back(k * 7), pcnt.push_back(k % 3);
    }
    pstart.push_back((int32_t)pids.size());
  }
  for (int trial = 0; trial < 20; ++trial) {
    auto logits = randn((size_t)R * V, 1.f + trial * 0.3f);
    logits[5] = INFINITY;  // the reading rule: +Inf as the largest float
    logits[9] = NAN;
    sota::SampleArgs a{};
    a.logits = dev(logits);
    a.proc = dev_poison<float>((size_t)R * V);
    a.R = R, a.V = V;
    a.params = dev(params);
    a.bias_starts = dev(bstart), a.bias_ids = dev(bids), a.bias_values = dev(bval);
    a.pen_starts = dev(pstart), a.pen_ids = dev(pids), a.pen_counts = dev(pcnt);
    a.tokens = dev_poison<int32_t>(R);
    a.logprobs = dev_poison<float>(R);
    a.top_tokens = dev_poison<int32_t>((size_t)R * SOTA_MAX_TOP_LOGPROBS);
    a.top_logprobs = dev_poison<float>((size_t)R * SOTA_MAX_TOP_LOGPROBS);
    a.status = dev_poison<int32_t>(R);
    sota::launch_sample(a, nullptr);
    auto tok = host(a.tokens, R);
    auto lp = host(a.logprobs, R);
    auto top = host(a.top_tokens, (size_t)R * SOTA_MAX_TOP_LOGPROBS);
    auto st = host(a.status, R);
    for (int r = 0; r < R; ++r) {
      std::vector<float> row(logits.begin() + (size_t)r * V, logits.begin() + (size_t)(r + 1) * V);
      std::vector<int> pi(pids.begin() + pstart[r], pids.begin() + pstart[r + 1]);
      std::vector<int> pc(pcnt.begin() + pstart[r], pcnt.begin() + pstart[r + 1]);
      std::vector<int> bi(bids.begin() + bstart[r], bids.begin() + bstart[r + 1]);
      std::vector<float> bv(bval.begin() + bstart[r], bval.begin() + bstart[r + 1]);
      const ref::SampleResult want = ref::sample(row, params[r], pi, pc, bi, bv);
      CHECK(st[r] == SOTA_OK, "trial %d row %d: status %d", trial, r, st[r]);
      CHECK(tok[r] == want.token, "trial %d row %d: token %d, want %d", trial, r, tok[r], want.token);
      CHECK(std::fabs(lp[r] - want.logprob) < 1e-4, "trial %d row %d: logprob %g, want %g", trial, r, lp[r], want.logprob);
      for (size_t k = 0; k < want.top.size(); ++k) {
        CHECK(top[(size_t)r * SOTA_MAX_TOP_LOGPROBS + k] == want.top[k], "trial %d row %d: top %zu is %d, want %d",
              trial, r, k, top[(size_t)r * SOTA_MAX_TOP_LOGPROBS + k], want.top[k]);
      }
    }
  }
}

void test_random_fill() {
  const int64_t n = 100000;
  const uint64_t key = sota::tensor_key(7, "model.layers.0.self_attn.q_proj.weight");
  float *d = dev_poison<float>(n);
  sota::launch_random_fill(d, false, n, key, false, nullptr);
  auto got = host(d, n);
  const float a = (float)(0.02 * 1.7320508075688772);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float u = sota::weight_uniform(key, (uint64_t)i);
    volatile float two_u = 2.f * u;
    const float want = (two_u - 1.f) * a;
    bad += got[i] != want;
  }
  CHECK(bad == 0, "random fill: %d of %lld elements differ from the host formula", bad, (long long)n);
}

}  // namespace

int main() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device: kernel tests need a GPU\n");
    return 1;
  }
  test_gemm();
  test_add_rmsnorm();
  for (int D : {8, 16, 32, 64, 128, 256}) {
    test_attention(D, 8, 2, 0, 1);
  }
  test_attention(128, 32, 8, 0, 6);
  test_attention(128, 32, 8, 64, 1);
  test_attention(128, 32, 8, 64, 4);
  test_attention(64, 14, 2, 0, 3);
  test_attention(128, 8, 8, 0, 1);
  test_sampling();
  test_random_fill();
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
