// One engine step: pack and check the batch, run the layers, sample.
#include <algorithm>
#include <cstring>

#include "index.h"
#include "model.h"

namespace sota {

namespace {

[[noreturn]] void bad(const std::string &msg) { fail(SOTA_ERR_INVALID_ARGUMENT, "batch: " + msg); }

// Host staging of one step: typed arrays appended at 16-byte offsets.
struct HostPack {
  std::vector<char> bytes;
  template <typename T>
  size_t put(const T *src, size_t n) {
    const size_t off = (bytes.size() + 15) & ~size_t(15);
    bytes.resize(off + std::max<size_t>(n, 1) * sizeof(T));
    if (n) std::memcpy(bytes.data() + off, src, n * sizeof(T));
    return off;
  }
  template <typename T>
  size_t put(const std::vector<T> &v) { return put(v.data(), v.size()); }
};

// starts must be [n+1], non-decreasing, from 0; returns the total.
int32_t check_starts(const char *what, const int32_t *starts, int n) {
  if (!starts) bad(std::string(what) + " missing");
  if (starts[0] != 0) bad(std::string(what) + " do not start at 0");
  for (int i = 0; i < n; ++i) {
    if (starts[i + 1] < starts[i]) bad(std::string(what) + " decrease at " + std::to_string(i));
  }
  return starts[n];
}

std::string str(long long v) { return std::to_string(v); }

}  // namespace

Model::Packed Model::pack(const sota_batch &b, PackMode mode) {
  if (!ready_) fail(SOTA_ERR_STATE, "forward before sota_model_init_cache");
  Packed p;
  HostPack h;
  const int V = cfg_.vocab_size;
  size_t o_tokens = 0, o_pos = 0, o_tseq = 0, o_btstart = 0, o_bt = 0, o_items = 0, o_rows = 0;
  if (mode != kSamplesOnly) {
    const int T = b.num_tokens, S = b.num_seqs;
    if (T < 1 || T > geo_.max_batch_tokens) bad(str(T) + " tokens, want 1.." + str(geo_.max_batch_tokens));
    if (S < 1 || S > geo_.max_seqs) bad(str(S) + " sequences, want 1.." + str(geo_.max_seqs));
    if (!b.tokens || !b.positions) bad("tokens or positions missing");
    if (check_starts("sequence starts", b.seq_starts, S) != T) bad("sequence starts do not cover the tokens");
    const int32_t nbt = check_starts("block table starts", b.block_table_starts, S);
    if (nbt > 0 && !b.block_tables) bad("block tables missing");
    p.T = T;
    p.S = S;
    std::vector<int32_t> tseq(T), btstart(S);
    const int G = cfg_.num_heads / cfg_.num_kv_heads;
    const int tile = attn_tile_tokens(G);
    const int bs = geo_.block_size;
    for (int s = 0; s < S; ++s) {
      const int t0 = b.seq_starts[s], t1 = b.seq_starts[s + 1];
      if (t1 <= t0) bad("sequence " + str(s) + " has no tokens");
      const int32_t *bt = b.block_tables + b.block_table_starts[s];
      const int nblk = b.block_table_starts[s + 1] - b.block_table_starts[s];
      for (int t = t0; t < t1; ++t) {
        if (b.tokens[t] < 0 || b.tokens[t] >= V) bad("token id " + str(b.tokens[t]) + " outside the vocabulary");
        const int pos = b.positions[t];
        if (pos < 0 || pos >= geo_.max_model_len) bad("position " + str(pos) + " outside [0, " + str(geo_.max_model_len) + ")");
        if (t > t0 && pos != b.positions[t - 1] + 1) bad("sequence " + str(s) + ": positions are not consecutive");
        tseq[t] = s;
      }
      if (b.positions[t1 - 1] / bs >= nblk) {
        bad("sequence " + str(s) + ": " + str(nblk) + " blocks do not cover position " + str(b.positions[t1 - 1]));
      }
      for (int j = 0; j < nblk; ++j) {
        if (bt[j] < 0 || bt[j] >= geo_.num_blocks) bad("block id " + str(bt[j]) + " outside [0, " + str(geo_.num_blocks) + ")");
      }
      btstart[s] = b.block_table_starts[s];
      for (int t = t0; t < t1; t += tile) {
        p.host_items.push_back(AttnItem{s, t, std::min(tile, t1 - t), 0});
        p.item_pos0.push_back(b.positions[t]);
      }
    }
    p.num_items = (int)p.host_items.size();
    o_tokens = h.put(b.tokens, T);
    o_pos = h.put(b.positions, T);
    o_tseq = h.put(tseq);
    o_btstart = h.put(btstart);
    o_bt = h.put(b.block_tables, nbt);
    o_items = h.put(p.host_items);
    if (mode == kAllRows) {
      std::vector<int32_t> rows(T);
      for (int t = 0; t < T; ++t) rows[t] = t;
      o_rows = h.put(rows);
    }
  }

  size_t o_params = 0, o_bstart = 0, o_bids = 0, o_bval = 0, o_pstart = 0, o_pids = 0, o_pcnt = 0;
  if (mode != kAllRows) {
    const int R = b.num_samples;
    if (R < 0 || R > geo_.max_seqs) bad(str(R) + " sample rows, want 0.." + str(geo_.max_seqs));
    p.R = R;
    if (R > 0 && !b.params) bad("sample params missing");
    std::vector<int32_t> rows(R);
    for (int r = 0; r < R; ++r) {
      const sota_sample_params &sp = b.params[r];
      if (sp.top_logprobs < 0 || sp.top_logprobs > SOTA_MAX_TOP_LOGPROBS) bad("top_logprobs outside 0..20");
      if (!(sp.temperature >= 0) || sp.output_len < 0) bad("temperature or output length negative");
      if (mode == kSampleLast) {
        if (!b.sample_seqs) bad("sample sequences missing");
        const int s = b.sample_seqs[r];
        if (s < 0 || s >= p.S) bad("sample row " + str(r) + " names sequence " + str(s));
        rows[r] = b.seq_starts[s + 1] - 1;
      }
    }
    const int32_t nb = R > 0 ? check_starts("logit bias starts", b.bias_starts, R) : 0;
    const int32_t np = R > 0 ? check_starts("penalty starts", b.penalty_starts, R) : 0;
    if ((nb > 0 && (!b.bias_ids || !b.bias_values)) || (np > 0 && (!b.penalty_ids || !b.penalty_counts))) {
      bad("logit bias or penalty arrays missing");
    }
    for (int i = 0; i < nb; ++i) {
      if (b.bias_ids[i] < 0 || b.bias_ids[i] >= V) bad("logit_bias id " + str(b.bias_ids[i]) + " outside the vocabulary");
    }
    for (int i = 0; i < np; ++i) {
      if (b.penalty_ids[i] < 0 || b.penalty_ids[i] >= V) bad("penalty token " + str(b.penalty_ids[i]) + " outside the vocabulary");
    }
    if (mode == kSampleLast) o_rows = h.put(rows);
    o_params = h.put(b.params, R);
    std::vector<int32_t> zero(R + 1, 0);
    o_bstart = h.put(R > 0 ? b.bias_starts : zero.data(), R + 1);
    o_bids = h.put(b.bias_ids, nb);
    o_bval = h.put(b.bias_values, nb);
    o_pstart = h.put(R > 0 ? b.penalty_starts : zero.data(), R + 1);
    o_pids = h.put(b.penalty_ids, np);
    o_pcnt = h.put(b.penalty_counts, np);
  }

  // The step buffers are reused: a previous call that failed after enqueuing
  // work (a launch error, a cuBLASLt failure) may still have its copy from
  // step_.host or kernels reading step_.dev in flight. Idle in the normal
  // case, so this costs nothing there.
  SOTA_CUDA(cudaStreamSynchronize(stream_));
  step_.reserve(h.bytes.size());
  std::memcpy(step_.host, h.bytes.data(), h.bytes.size());
  SOTA_CUDA(cudaMemcpyAsync(step_.dev, step_.host, h.bytes.size(), cudaMemcpyHostToDevice, stream_));
  char *d = static_cast<char *>(step_.dev);
  auto at = [d](size_t off) { return d + off; };
  if (mode != kSamplesOnly) {
    p.tokens = reinterpret_cast<int32_t *>(at(o_tokens));
    p.positions = reinterpret_cast<int32_t *>(at(o_pos));
    p.token_seq = reinterpret_cast<int32_t *>(at(o_tseq));
    p.seq_bt_start = reinterpret_cast<int32_t *>(at(o_btstart));
    p.block_tables = reinterpret_cast<int32_t *>(at(o_bt));
    p.items = reinterpret_cast<AttnItem *>(at(o_items));
  }
  if (mode != kSamplesOnly) p.rows = reinterpret_cast<int32_t *>(at(o_rows));
  if (mode != kAllRows) {
    p.params = reinterpret_cast<sota_sample_params *>(at(o_params));
    p.bias_starts = reinterpret_cast<int32_t *>(at(o_bstart));
    p.bias_ids = reinterpret_cast<int32_t *>(at(o_bids));
    p.bias_values = reinterpret_cast<float *>(at(o_bval));
    p.pen_starts = reinterpret_cast<int32_t *>(at(o_pstart));
    p.pen_ids = reinterpret_cast<int32_t *>(at(o_pids));
    p.pen_counts = reinterpret_cast<int32_t *>(at(o_pcnt));
  }
  return p;
}

// attention_split chooses split-K for a layer with the given window: split
// the key range when the items alone would not give each multiprocessor two
// blocks, keeping at least 128 keys per split.
void Model::attention_split(const Packed &p, int window, int *splits, int *chunk) const {
  int max_range = 0;
  for (int i = 0; i < p.num_items; ++i) {
    const int pos0 = p.item_pos0[i];
    const int lo = window > 0 ? std::max(0, pos0 - window + 1) : 0;
    max_range = std::max(max_range, pos0 + p.host_items[i].ntok - lo);
  }
  split_plan((int64_t)p.num_items * cfg_.num_kv_heads, sms_, max_range, part_rows_,
             (int64_t)p.T * cfg_.num_heads, splits, chunk);
}

void Model::run_layers(const Packed &p) {
  const int T = p.T, hidden = cfg_.hidden_size, inter = cfg_.intermediate_size;
  const int H = cfg_.num_heads, KVH = cfg_.num_kv_heads, D = cfg_.head_dim;
  const double eps = cfg_.rms_norm_eps;
  const size_t layer_kv = (size_t)geo_.num_blocks * KVH * geo_.block_size * D;
  launch_embed(p.tokens, embed_, x_, T, hidden, stream_);
  launch_rope_table(p.positions, inv_freq_, cos_, sin_, T, D / 2, stream_);
  int last_window = -1, splits = 1, chunk = 1 << 30;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerWeights &w = layers_[l];
    if (l == 0) {
      launch_add_rmsnorm(x_, nullptr, nullptr, w.attn_norm, h_, T, hidden, eps, stream_);
    } else {
      launch_add_rmsnorm(x_, d_, layers_[l - 1].down_bias, w.attn_norm, h_, T, hidden, eps, stream_);
    }
    gemm_->run(h_, w.qkv, qkv_, T, qkvDim_, hidden, stream_);
    KVWrite kw{};
    kw.positions = p.positions;
    kw.token_seq = p.token_seq;
    kw.seq_bt_start = p.seq_bt_start;
    kw.block_tables = p.block_tables;
    kw.k_cache = kv_ + (2 * l) * layer_kv;
    kw.v_cache = kv_ + (2 * l + 1) * layer_kv;
    kw.block_size = geo_.block_size;
    launch_rope_kv(qkv_, w.qkv_bias, cos_, sin_, q_, kw, T, H, KVH, D, stream_);

    if (w.window != last_window) {
      attention_split(p, w.window, &splits, &chunk);
      last_window = w.window;
    }
    AttnParams ap{};
    ap.q = q_;
    ap.k_cache = kw.k_cache;
    ap.v_cache = kw.v_cache;
    ap.positions = p.positions;
    ap.seq_bt_start = p.seq_bt_start;
    ap.block_tables = p.block_tables;
    ap.items = p.items;
    ap.num_items = p.num_items;
    ap.T = T;
    ap.H = H;
    ap.KVH = KVH;
    ap.D = D;
    ap.block_size = geo_.block_size;
    ap.window = w.window;
    ap.splits = splits;
    ap.chunk = chunk;
    ap.scale = (float)(1.0 / std::sqrt((double)D));
    ap.out = attn_;
    ap.part_acc = part_acc_;
    ap.part_ml = part_ml_;
    launch_attention(ap, stream_);

    gemm_->run(attn_, w.o, d_, T, hidden, qDim_, stream_);
    launch_add_rmsnorm(x_, d_, w.o_bias, w.mlp_norm, h_, T, hidden, eps, stream_);
    gemm_->run(h_, w.gate_up, gu_, T, 2 * inter, hidden, stream_);
    launch_swiglu(gu_, w.gu_bias, act_, T, inter, stream_);
    gemm_->run(act_, w.down, d_, T, hidden, inter, stream_);
  }
  launch_add_rmsnorm(x_, d_, layers_.back().down_bias, final_norm_, h_, T, hidden, eps, stream_);
}

void Model::sample(const Packed &p) {
  const int maxS = geo_.max_seqs;
  SampleArgs a{};
  a.logits = logits_;
  a.proc = proc_;
  a.R = p.R;
  a.V = cfg_.vocab_size;
  a.params = p.params;
  a.bias_starts = p.bias_starts;
  a.bias_ids = p.bias_ids;
  a.bias_values = p.bias_values;
  a.pen_starts = p.pen_starts;
  a.pen_ids = p.pen_ids;
  a.pen_counts = p.pen_counts;
  int32_t *o = static_cast<int32_t *>(out_dev_);
  a.tokens = o;
  a.logprobs = reinterpret_cast<float *>(o + maxS);
  a.status = o + 2 * maxS;
  a.top_tokens = o + 3 * maxS;
  a.top_logprobs = reinterpret_cast<float *>(o + (3 + SOTA_MAX_TOP_LOGPROBS) * maxS);
  launch_sample(a, stream_);
}

void Model::read_samples(const Packed &p, const sota_batch &b, sota_output *out) {
  const int maxS = geo_.max_seqs, R = p.R, K = SOTA_MAX_TOP_LOGPROBS;
  SOTA_CUDA(cudaMemcpyAsync(out_host_, out_dev_, (size_t)maxS * kOutPerRow * 4, cudaMemcpyDeviceToHost, stream_));
  SOTA_CUDA(cudaStreamSynchronize(stream_));
  const int32_t *o = static_cast<const int32_t *>(out_host_);
  const float *lp = reinterpret_cast<const float *>(o + maxS);
  const int32_t *status = o + 2 * maxS;
  const int32_t *top_tok = o + 3 * maxS;
  const float *top_lp = reinterpret_cast<const float *>(o + (3 + K) * maxS);
  int failed = -1;
  for (int r = 0; r < R; ++r) {
    if (out->tokens) out->tokens[r] = o[r];
    if (out->logprobs) out->logprobs[r] = lp[r];
    if (out->row_status) out->row_status[r] = status[r];
    if (out->top_tokens) std::memcpy(out->top_tokens + (size_t)r * K, top_tok + (size_t)r * K, K * 4);
    if (out->top_logprobs) std::memcpy(out->top_logprobs + (size_t)r * K, top_lp + (size_t)r * K, K * 4);
    if (status[r] != SOTA_OK && failed < 0) failed = r;
  }
  if (failed >= 0) {
    const int seq = b.sample_seqs ? b.sample_seqs[failed] : failed;
    fail(SOTA_ERR_NO_CANDIDATES, "sample row " + str(failed) + " (sequence " + str(seq) + ") has no logit above -Inf");
  }
}

void Model::forward(const sota_batch &b, sota_output *out) {
  SOTA_CUDA(cudaSetDevice(device_));
  const Packed p = pack(b, kSampleLast);
  run_layers(p);
  if (p.R == 0) {
    SOTA_CUDA(cudaStreamSynchronize(stream_));
    return;
  }
  launch_gather_rows(h_, p.rows, rows_, p.R, cfg_.hidden_size, stream_);
  gemm_->run(rows_, lm_head_, logits_, p.R, cfg_.vocab_size, cfg_.hidden_size, stream_);
  sample(p);
  read_samples(p, b, out);
}

void Model::forward_logits(const sota_batch &b, float *logits) {
  SOTA_CUDA(cudaSetDevice(device_));
  if (!logits) fail(SOTA_ERR_INVALID_ARGUMENT, "no logits buffer");
  const Packed p = pack(b, kAllRows);
  run_layers(p);
  const int V = cfg_.vocab_size;
  for (int r0 = 0; r0 < p.T; r0 += geo_.max_seqs) {
    const int n = std::min(geo_.max_seqs, p.T - r0);
    launch_gather_rows(h_, p.rows + r0, rows_, n, cfg_.hidden_size, stream_);
    gemm_->run(rows_, lm_head_, logits_, n, V, cfg_.hidden_size, stream_);
    SOTA_CUDA(cudaMemcpyAsync(logits + (size_t)r0 * V, logits_, (size_t)n * V * 4, cudaMemcpyDeviceToHost, stream_));
    SOTA_CUDA(cudaStreamSynchronize(stream_));  // logits_ is reused by the next chunk
  }
}

void Model::sample_logits(const sota_batch &b, const float *logits, sota_output *out) {
  SOTA_CUDA(cudaSetDevice(device_));
  const Packed p = pack(b, kSamplesOnly);
  if (p.R == 0) return;
  if (!logits) fail(SOTA_ERR_INVALID_ARGUMENT, "no logits");
  SOTA_CUDA(cudaMemcpyAsync(logits_, logits, (size_t)p.R * cfg_.vocab_size * 4, cudaMemcpyHostToDevice, stream_));
  sample(p);
  read_samples(p, b, out);
}

double Model::time_forward(const sota_batch &b, int iters) {
  SOTA_CUDA(cudaSetDevice(device_));
  if (iters < 1) fail(SOTA_ERR_INVALID_ARGUMENT, "iters must be positive");
  const Packed p = pack(b, kSampleLast);
  auto step = [&]() {
    run_layers(p);
    if (p.R > 0) {
      launch_gather_rows(h_, p.rows, rows_, p.R, cfg_.hidden_size, stream_);
      gemm_->run(rows_, lm_head_, logits_, p.R, cfg_.vocab_size, cfg_.hidden_size, stream_);
      sample(p);
    }
  };
  step();
  step();
  SOTA_CUDA(cudaStreamSynchronize(stream_));
  cudaEvent_t start, stop;
  SOTA_CUDA(cudaEventCreate(&start));
  SOTA_CUDA(cudaEventCreate(&stop));
  std::vector<float> ms(iters);
  try {
    for (int i = 0; i < iters; ++i) {
      SOTA_CUDA(cudaEventRecord(start, stream_));
      step();
      SOTA_CUDA(cudaEventRecord(stop, stream_));
      SOTA_CUDA(cudaEventSynchronize(stop));
      SOTA_CUDA(cudaEventElapsedTime(&ms[i], start, stop));
    }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2];
}

}  // namespace sota
