// The model on one device: weights, paged KV cache, activations and the
// step that runs the forward pass over a batch.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "kernels.h"

struct sota_model;  // the C handle, defined in api.cpp

namespace sota {

// A tensor's place on the device: part of a (possibly fused) buffer.
struct Slot {
  void *dst = nullptr;  // first element of this tensor inside its buffer
  bool bf16 = true;     // else FP32
  bool norm = false;    // model.Random fills norm weights with 1
  std::vector<int64_t> shape;
  int64_t elems = 0;
  int64_t uploaded = 0;  // elements given so far
};

struct LayerWeights {
  bf16 *qkv = nullptr;      // [qDim+2*kvDim, hidden]
  bf16 *o = nullptr;        // [hidden, qDim]
  bf16 *gate_up = nullptr;  // [2*inter, hidden]
  bf16 *down = nullptr;     // [hidden, inter]
  float *attn_norm = nullptr, *mlp_norm = nullptr;  // [hidden]
  float *qkv_bias = nullptr;   // [qDim+2*kvDim] or null
  float *o_bias = nullptr;     // [hidden] or null
  float *gu_bias = nullptr;    // [2*inter] or null
  float *down_bias = nullptr;  // [hidden] or null
  int window = 0;
};

// Device and pinned-host memory that grows on demand (step inputs).
struct StepBuffer {
  void *dev = nullptr;
  void *host = nullptr;
  size_t cap = 0;
  void reserve(size_t bytes);
  void release();
};

class Model {
 public:
  Model(const sota_model_config &cfg, int device);
  ~Model();

  void upload(const std::string &name, sota_dtype dtype, const int64_t *shape, int ndim,
              int64_t offset, int64_t count, const void *data);
  void random_weight(const std::string &name, uint64_t seed);
  void init_cache(const sota_cache_options &opts, sota_geometry *out);
  void forward(const sota_batch &b, sota_output *out);
  void forward_logits(const sota_batch &b, float *logits);
  void sample_logits(const sota_batch &b, const float *logits, sota_output *out);
  double time_forward(const sota_batch &b, int iters);

  int64_t weight_bytes() const { return weight_bytes_; }
  int64_t decode_weight_bytes() const;
  int device() const { return device_; }

 private:
  struct Packed;  // the step's inputs on the device (model_step.cpp)

  void init(const sota_model_config &cfg);  // the constructor's body
  void release();                           // frees everything (destructor, failed constructor)
  void *alloc(size_t bytes);  // device memory freed with the model
  Slot &slot(const std::string &name);
  void check_weights() const;
  enum PackMode { kSampleLast, kAllRows, kSamplesOnly };
  Packed pack(const sota_batch &b, PackMode mode);
  void attention_split(const Packed &p, int window, int *splits, int *chunk) const;
  void run_layers(const Packed &p);
  void sample(const Packed &p);
  void read_samples(const Packed &p, const sota_batch &b, sota_output *out);

  // configuration
  sota_model_config cfg_{};
  std::vector<int32_t> windows_;
  int device_ = 0;
  int sms_ = 1;
  int qDim_ = 0, kvDim_ = 0, qkvDim_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Gemm> gemm_;

  // weights
  std::vector<void *> allocs_;
  std::unordered_map<std::string, Slot> slots_;
  bf16 *embed_ = nullptr, *lm_head_ = nullptr;
  float *final_norm_ = nullptr;
  float *inv_freq_ = nullptr;
  std::vector<LayerWeights> layers_;
  int64_t weight_bytes_ = 0;
  void *staging_ = nullptr;  // device staging for uploads
  size_t staging_bytes_ = 64u << 20;

  // cache and activations (init_cache)
  bool ready_ = false;
  sota_geometry geo_{};
  bf16 *kv_ = nullptr;  // [layers][2][blocks][KVH][block_size][D]
  float *x_ = nullptr, *qkv_ = nullptr, *q_ = nullptr, *d_ = nullptr, *gu_ = nullptr;
  bf16 *h_ = nullptr, *attn_ = nullptr, *act_ = nullptr, *rows_ = nullptr;
  float *cos_ = nullptr, *sin_ = nullptr;
  float *logits_ = nullptr, *proc_ = nullptr;
  float *part_acc_ = nullptr, *part_ml_ = nullptr;
  int64_t part_rows_ = 0;  // (split, token, head) rows the partials hold
  void *out_dev_ = nullptr, *out_host_ = nullptr;  // sampled results
  StepBuffer step_;
  int64_t workspace_bytes_ = 0;
};

// The step's inputs on the device, and what the host keeps of them.
struct Model::Packed {
  int T = 0, S = 0, R = 0, num_items = 0;
  int32_t *tokens = nullptr, *positions = nullptr, *token_seq = nullptr;
  int32_t *seq_bt_start = nullptr, *block_tables = nullptr, *rows = nullptr;
  AttnItem *items = nullptr;
  sota_sample_params *params = nullptr;
  int32_t *bias_starts = nullptr, *bias_ids = nullptr, *pen_starts = nullptr;
  int32_t *pen_ids = nullptr, *pen_counts = nullptr;
  float *bias_values = nullptr;
  std::vector<AttnItem> host_items;
  std::vector<int32_t> item_pos0;
};

// 4-byte fields per sample row in the results buffer: token, logprob,
// status, top tokens, top logprobs.
constexpr int kOutPerRow = 3 + 2 * SOTA_MAX_TOP_LOGPROBS;

}  // namespace sota
