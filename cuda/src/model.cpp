#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sota {

namespace {

std::string shape_str(const std::vector<int64_t> &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

[[noreturn]] void bad(const std::string &msg) { fail(SOTA_ERR_INVALID_ARGUMENT, msg); }

size_t dtype_size(sota_dtype d) {
  switch (d) {
    case SOTA_F32: return 4;
    case SOTA_F16: case SOTA_BF16: return 2;
  }
  return 0;
}


}  // namespace

void StepBuffer::reserve(size_t bytes) {
  if (bytes <= cap) return;
  release();
  size_t n = std::max(bytes, size_t(1) << 20);
  n += n / 2;
  SOTA_CUDA(cudaMalloc(&dev, n));
  if (cudaHostAlloc(&host, n, cudaHostAllocDefault) != cudaSuccess) {
    cudaGetLastError();
    cudaFree(dev);
    dev = nullptr;
    fail(SOTA_ERR_OUT_OF_MEMORY, "pinned host memory for the step inputs (" + std::to_string(n) + " bytes)");
  }
  cap = n;
}

void StepBuffer::release() {
  if (dev) cudaFree(dev);
  if (host) cudaFreeHost(host);
  dev = host = nullptr;
  cap = 0;
}


Model::Model(const sota_model_config &cfg, int device) : cfg_(cfg), device_(device) {
  // A constructor that throws runs no destructor: free what was allocated.
  try {
    init(cfg);
  } catch (...) {
    release();
    throw;
  }
}

void Model::init(const sota_model_config &cfg) {
  const int device = device_;
  const auto &c = cfg;
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_layers <= 0 ||
      c.num_heads <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 || c.max_position_embeddings <= 0) {
    bad("model config: every size must be positive");
  }
  if (c.num_heads % c.num_kv_heads != 0) bad("model config: num_heads is not a multiple of num_kv_heads");
  if (c.head_dim % 2 != 0) bad("model config: odd head_dim");
  if (!(c.rms_norm_eps > 0)) bad("model config: rms_norm_eps must be positive");
  if (!c.rope_inv_freq) bad("model config: rope_inv_freq is required");
  if (!attn_supported_head_dim(c.head_dim)) {
    fail(SOTA_ERR_UNSUPPORTED, "head_dim " + std::to_string(c.head_dim) +
                                   " is not supported by the CUDA kernels (8, 16, 32, 64, 128, 256)");
  }
  windows_.assign(c.num_layers, 0);
  if (c.layer_windows) {
    for (int i = 0; i < c.num_layers; ++i) {
      if (c.layer_windows[i] < 0) bad("model config: negative sliding window");
      windows_[i] = c.layer_windows[i];
    }
  }
  cfg_.layer_windows = nullptr;
  cfg_.rope_inv_freq = nullptr;

  int count = 0;
  SOTA_CUDA(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count) {
    fail(SOTA_ERR_NO_DEVICE, "device " + std::to_string(device) + " does not exist (" +
                                 std::to_string(count) + " CUDA devices)");
  }
  SOTA_CUDA(cudaSetDevice(device));
  cudaDeviceProp prop{};
  SOTA_CUDA(cudaGetDeviceProperties(&prop, device));
  sms_ = prop.multiProcessorCount;
  SOTA_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  gemm_ = std::make_unique<Gemm>();
  attn_prepare(c.head_dim, c.num_heads / c.num_kv_heads);

  const int64_t hidden = c.hidden_size, inter = c.intermediate_size, V = c.vocab_size;
  const int D = c.head_dim;
  qDim_ = c.num_heads * D;
  kvDim_ = c.num_kv_heads * D;
  qkvDim_ = qDim_ + 2 * kvDim_;

  inv_freq_ = static_cast<float *>(alloc(sizeof(float) * D / 2));
  SOTA_CUDA(cudaMemcpy(inv_freq_, cfg.rope_inv_freq, sizeof(float) * D / 2, cudaMemcpyHostToDevice));
  staging_ = alloc(staging_bytes_);

  auto matrix = [&](int64_t rows, int64_t cols) {
    weight_bytes_ += rows * cols * 2;
    return static_cast<bf16 *>(alloc(sizeof(bf16) * rows * cols));
  };
  auto vec = [&](int64_t n) {
    weight_bytes_ += n * 4;
    return static_cast<float *>(alloc(sizeof(float) * n));
  };
  auto add = [&](const std::string &name, void *dst, bool is_bf16, bool norm,
                 std::vector<int64_t> shape) {
    Slot s;
    s.dst = dst;
    s.bf16 = is_bf16;
    s.norm = norm;
    s.elems = 1;
    for (int64_t d : shape) s.elems *= d;
    s.shape = std::move(shape);
    slots_[name] = s;
  };

  embed_ = matrix(V, hidden);
  add("model.embed_tokens.weight", embed_, true, false, {V, hidden});
  layers_.resize(c.num_layers);
  for (int i = 0; i < c.num_layers; ++i) {
    LayerWeights &w = layers_[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    w.window = windows_[i];
    w.attn_norm = vec(hidden);
    add(p + "input_layernorm.weight", w.attn_norm, false, true, {hidden});
    w.qkv = matrix(qkvDim_, hidden);
    add(p + "self_attn.q_proj.weight", w.qkv, true, false, {qDim_, hidden});
    add(p + "self_attn.k_proj.weight", w.qkv + qDim_ * hidden, true, false, {kvDim_, hidden});
    add(p + "self_attn.v_proj.weight", w.qkv + (qDim_ + kvDim_) * hidden, true, false, {kvDim_, hidden});
    if (c.attention_bias) {
      w.qkv_bias = vec(qkvDim_);
      add(p + "self_attn.q_proj.bias", w.qkv_bias, false, false, {qDim_});
      add(p + "self_attn.k_proj.bias", w.qkv_bias + qDim_, false, false, {kvDim_});
      add(p + "self_attn.v_proj.bias", w.qkv_bias + qDim_ + kvDim_, false, false, {kvDim_});
    }
    w.o = matrix(hidden, qDim_);
    add(p + "self_attn.o_proj.weight", w.o, true, false, {hidden, qDim_});
    if (c.attention_out_bias) {
      w.o_bias = vec(hidden);
      add(p + "self_attn.o_proj.bias", w.o_bias, false, false, {hidden});
    }
    w.mlp_norm = vec(hidden);
    add(p + "post_attention_layernorm.weight", w.mlp_norm, false, true, {hidden});
    w.gate_up = matrix(2 * inter, hidden);
    add(p + "mlp.gate_proj.weight", w.gate_up, true, false, {inter, hidden});
    add(p + "mlp.up_proj.weight", w.gate_up + inter * hidden, true, false, {inter, hidden});
    w.down = matrix(hidden, inter);
    add(p + "mlp.down_proj.weight", w.down, true, false, {hidden, inter});
    if (c.mlp_bias) {
      w.gu_bias = vec(2 * inter);
      add(p + "mlp.gate_proj.bias", w.gu_bias, false, false, {inter});
      add(p + "mlp.up_proj.bias", w.gu_bias + inter, false, false, {inter});
      w.down_bias = vec(hidden);
      add(p + "mlp.down_proj.bias", w.down_bias, false, false, {hidden});
    }
  }
  final_norm_ = vec(hidden);
  add("model.norm.weight", final_norm_, false, true, {hidden});
  if (c.tie_word_embeddings) {
    lm_head_ = embed_;
  } else {
    lm_head_ = matrix(V, hidden);
    add("lm_head.weight", lm_head_, true, false, {V, hidden});
  }
}

Model::~Model() { release(); }

void Model::release() {
  // The calling thread's current device may be another one (Go runs
  // successive calls on whichever OS thread it likes).
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  gemm_.reset();
  step_.release();
  if (out_host_) cudaFreeHost(out_host_);
  out_host_ = nullptr;
  for (void *p : allocs_) cudaFree(p);
  allocs_.clear();
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
  cudaGetLastError();  // leave no error behind for the next call on this thread
}

void *Model::alloc(size_t bytes) {
  void *p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max(bytes, size_t(16)));
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    fail(SOTA_ERR_OUT_OF_MEMORY, "cudaMalloc of " + std::to_string(bytes) + " bytes failed (" +
                                     cudaGetErrorString(e) + "; " + std::to_string(free_b >> 20) +
                                     " MiB free of " + std::to_string(total >> 20) + " MiB)");
  }
  allocs_.push_back(p);
  return p;
}

Slot &Model::slot(const std::string &name) {
  auto it = slots_.find(name);
  if (it == slots_.end()) bad("no tensor named \"" + name + "\" in this model");
  return it->second;
}

void Model::upload(const std::string &name, sota_dtype dtype, const int64_t *shape, int ndim,
                   int64_t offset, int64_t count, const void *data) {
  if (ready_) fail(SOTA_ERR_STATE, "weights are fixed once the cache is initialised");
  SOTA_CUDA(cudaSetDevice(device_));
  Slot &s = slot(name);
  const size_t es = dtype_size(dtype);
  if (es == 0) bad("tensor " + name + ": unknown dtype " + std::to_string((int)dtype));
  std::vector<int64_t> got(shape, shape + std::max(ndim, 0));
  if (!shape || got != s.shape) {
    bad("tensor " + name + ": shape " + shape_str(got) + ", want " + shape_str(s.shape));
  }
  if (offset < 0 || count < 0 || offset > s.elems || count > s.elems - offset) {
    bad("tensor " + name + ": elements [" + std::to_string(offset) + ", " +
        std::to_string(offset + count) + ") outside " + std::to_string(s.elems));
  }
  if (count > 0 && !data) bad("tensor " + name + ": no data");
  if (s.uploaded + count > s.elems) bad("tensor " + name + ": more elements than the tensor has");
  const size_t dst_es = s.bf16 ? 2 : 4;
  const int64_t chunk = (int64_t)(staging_bytes_ / es);
  for (int64_t done = 0; done < count; done += chunk) {
    const int64_t n = std::min(chunk, count - done);
    SOTA_CUDA(cudaMemcpyAsync(staging_, static_cast<const char *>(data) + done * es, n * es,
                              cudaMemcpyHostToDevice, stream_));
    launch_convert(staging_, dtype, static_cast<char *>(s.dst) + (offset + done) * dst_es, s.bf16,
                   n, stream_);
  }
  SOTA_CUDA(cudaStreamSynchronize(stream_));
  s.uploaded += count;
}

void Model::random_weight(const std::string &name, uint64_t seed) {
  if (ready_) fail(SOTA_ERR_STATE, "weights are fixed once the cache is initialised");
  SOTA_CUDA(cudaSetDevice(device_));
  Slot &s = slot(name);
  launch_random_fill(s.dst, s.bf16, s.elems, tensor_key(seed, name), s.norm, stream_);
  SOTA_CUDA(cudaStreamSynchronize(stream_));
  s.uploaded = s.elems;
}

void Model::check_weights() const {
  std::string missing;
  int n = 0;
  for (const auto &kv : slots_) {
    if (kv.second.uploaded == kv.second.elems) continue;
    if (n++ < 5) missing += (missing.empty() ? "" : ", ") + kv.first;
  }
  if (n > 0) {
    bad(std::to_string(n) + " tensors are missing or incomplete: " + missing + (n > 5 ? ", ..." : ""));
  }
}

int64_t Model::decode_weight_bytes() const {
  const int64_t hidden = cfg_.hidden_size, inter = cfg_.intermediate_size;
  int64_t per_layer = (int64_t)qkvDim_ * hidden + hidden * qDim_ + 2 * inter * hidden + hidden * inter;
  return 2 * (per_layer * cfg_.num_layers + (int64_t)cfg_.vocab_size * hidden);
}

void Model::init_cache(const sota_cache_options &o, sota_geometry *out) {
  if (ready_) fail(SOTA_ERR_STATE, "the cache is already initialised");
  check_weights();
  SOTA_CUDA(cudaSetDevice(device_));
  const int bs = o.block_size ? o.block_size : 16;
  const int maxT = o.max_batch_tokens ? o.max_batch_tokens : 2048;
  const int maxS = o.max_seqs ? o.max_seqs : 256;
  const int maxLen = o.max_model_len ? o.max_model_len : cfg_.max_position_embeddings;
  const double util = o.gpu_memory_utilization != 0 ? o.gpu_memory_utilization : 0.9;
  if (bs < 1 || bs > 4096) bad("block_size " + std::to_string(bs) + " outside 1..4096");
  if (maxT < 1 || maxT > 65535) bad("max_batch_tokens " + std::to_string(maxT) + " outside 1..65535");
  if (maxS < 1 || maxS > 65535) bad("max_seqs " + std::to_string(maxS) + " outside 1..65535");
  if (maxLen < 1 || maxLen > cfg_.max_position_embeddings) {
    bad("max_model_len " + std::to_string(maxLen) + " outside 1.." +
        std::to_string(cfg_.max_position_embeddings));
  }
  if (!(util > 0 && util <= 1)) bad("gpu_memory_utilization must be in (0, 1]");
  if (o.num_blocks < 0) bad("negative num_blocks");

  const int64_t hidden = cfg_.hidden_size, inter = cfg_.intermediate_size, V = cfg_.vocab_size;
  const int D = cfg_.head_dim;
  int64_t ws = 0;
  auto f32 = [&](int64_t n) { ws += n * 4; return static_cast<float *>(alloc(sizeof(float) * n)); };
  auto b16 = [&](int64_t n) { ws += n * 2; return static_cast<bf16 *>(alloc(sizeof(bf16) * n)); };
  x_ = f32(maxT * hidden);
  h_ = b16(maxT * hidden);
  qkv_ = f32((int64_t)maxT * qkvDim_);
  q_ = f32((int64_t)maxT * qDim_);
  attn_ = b16((int64_t)maxT * qDim_);
  d_ = f32(maxT * hidden);
  gu_ = f32(maxT * 2 * inter);
  act_ = b16(maxT * inter);
  rows_ = b16(maxS * hidden);
  cos_ = f32((int64_t)maxT * D / 2);
  sin_ = f32((int64_t)maxT * D / 2);
  logits_ = f32(maxS * V);
  proc_ = f32(maxS * V);
  part_rows_ = (64ll << 20) / (4 * (D + 2));  // split-K partials: 64 MiB
  part_acc_ = f32(part_rows_ * D);
  part_ml_ = f32(part_rows_ * 2);
  out_dev_ = alloc((size_t)maxS * kOutPerRow * 4);
  ws += (int64_t)maxS * kOutPerRow * 4 + (int64_t)gemm_->workspace_bytes();
  if (cudaHostAlloc(&out_host_, (size_t)maxS * kOutPerRow * 4, cudaHostAllocDefault) != cudaSuccess) {
    cudaGetLastError();
    out_host_ = nullptr;
    fail(SOTA_ERR_OUT_OF_MEMORY, "pinned host memory for sampled tokens");
  }
  step_.reserve(1 << 20);

  const int64_t per_block = (int64_t)cfg_.num_layers * 2 * cfg_.num_kv_heads * bs * D * 2;
  int64_t nb = o.num_blocks;
  if (nb == 0) {
    size_t free_b = 0, total = 0;
    SOTA_CUDA(cudaMemGetInfo(&free_b, &total));
    const int64_t headroom = 256ll << 20;  // step buffers, cuBLAS plans, fragmentation
    const int64_t budget = (int64_t)(util * (double)total) - (int64_t)(total - free_b) - headroom;
    if (budget < per_block) {
      fail(SOTA_ERR_OUT_OF_MEMORY,
           "gpu_memory_utilization " + std::to_string(util) + " leaves no room for the KV cache: " +
               std::to_string((total - free_b) >> 20) + " MiB of " + std::to_string(total >> 20) +
               " MiB in use (weights " + std::to_string(weight_bytes_ >> 20) + " MiB)");
    }
    nb = budget / per_block;
    nb = std::min<int64_t>(nb, (int64_t)maxS * ceil_div(maxLen, bs));
    nb = std::min<int64_t>(nb, INT32_MAX);
  }
  kv_ = static_cast<bf16 *>(alloc((size_t)nb * per_block));
  SOTA_CUDA(cudaMemsetAsync(kv_, 0, (size_t)nb * per_block, stream_));
  SOTA_CUDA(cudaStreamSynchronize(stream_));

  geo_.block_size = bs;
  geo_.num_blocks = (int32_t)nb;
  geo_.max_batch_tokens = maxT;
  geo_.max_seqs = maxS;
  geo_.max_model_len = maxLen;
  geo_.vocab_size = (int32_t)V;
  geo_.kv_cache_bytes = nb * per_block;
  geo_.workspace_bytes = ws;
  workspace_bytes_ = ws;
  ready_ = true;
  if (out) *out = geo_;
}

}  // namespace sota
