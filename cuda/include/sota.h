/*
 * sota.h: the C ABI of libsota_cuda, the CUDA forward pass of sota.
 *
 * C only: opaque handles, status codes, a thread-local last-error string and
 * flat int32 arrays that mirror Go's backend.Batch. Nothing here names a CUDA
 * type, so the header compiles without the CUDA toolkit (backend/cuda's cgo
 * preamble includes it and dlopens the library at run time).
 *
 * Life of a model:
 *   sota_model_create(config, device)            weights memory allocated
 *   sota_model_upload / sota_model_random_weight  for every tensor, by name
 *   sota_model_init_cache(options, &geometry)     weights checked, KV cache sized
 *   sota_forward (one call per engine step)       ... repeatedly
 *   sota_model_destroy
 *
 * Threads: a model is driven by one thread at a time. sota_last_error is
 * per thread and describes the last failing call on that thread.
 */
#ifndef SOTA_H
#define SOTA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SOTA_ABI_VERSION changes whenever a struct or signature below changes;
 * backend/cuda refuses a library whose sota_abi_version() differs. */
#define SOTA_ABI_VERSION 1

#if defined(__GNUC__)
#define SOTA_API __attribute__((visibility("default")))
#else
#define SOTA_API
#endif

typedef enum {
  SOTA_OK = 0,
  SOTA_ERR_INVALID_ARGUMENT = 1, /* a caller error: sizes, ids, names */
  SOTA_ERR_NO_DEVICE = 2,        /* no CUDA device, or no usable driver */
  SOTA_ERR_OUT_OF_MEMORY = 3,    /* device (or pinned host) memory */
  SOTA_ERR_CUDA = 4,             /* any other CUDA runtime error */
  SOTA_ERR_CUBLAS = 5,           /* cuBLASLt failed or found no algorithm */
  SOTA_ERR_UNSUPPORTED = 6,      /* a model shape the kernels do not cover */
  SOTA_ERR_NO_CANDIDATES = 7,    /* a sampled row has no logit above -Inf */
  SOTA_ERR_STATE = 8             /* call out of order (e.g. forward before init_cache) */
} sota_status;

/* Element types, as safetensors names them. */
typedef enum { SOTA_F32 = 0, SOTA_F16 = 1, SOTA_BF16 = 2 } sota_dtype;

/* The most top log-probabilities one sample row can return (OpenAI's limit). */
#define SOTA_MAX_TOP_LOGPROBS 20

typedef struct sota_model sota_model;

/* ---- library and devices ------------------------------------------------ */

SOTA_API int32_t sota_abi_version(void);
/* Last error of this thread ("" when none); valid until the next call. */
SOTA_API const char *sota_last_error(void);
/* Number of CUDA devices; 0 (and SOTA_OK) when the driver sees none.
 * SOTA_ERR_NO_DEVICE when no driver is installed. */
SOTA_API sota_status sota_device_count(int32_t *count);

typedef struct {
  char name[256];
  int64_t total_memory; /* bytes */
  int64_t free_memory;  /* bytes, now */
  int32_t major, minor; /* compute capability */
  int32_t multiprocessors;
  int32_t l2_bytes;
  int32_t driver_version;  /* e.g. 13000 */
  int32_t runtime_version; /* the runtime linked into the library */
} sota_device_info;

SOTA_API sota_status sota_device_info_get(int32_t device, sota_device_info *out);

/* ---- model -------------------------------------------------------------- */

/* The architecture, in Hugging Face's terms (model.Config). */
typedef struct {
  int32_t vocab_size;
  int32_t hidden_size;
  int32_t intermediate_size;
  int32_t num_layers;
  int32_t num_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
  int32_t max_position_embeddings;
  double rms_norm_eps;
  int32_t tie_word_embeddings; /* lm_head is the embedding */
  int32_t attention_bias;      /* q/k/v have biases */
  int32_t attention_out_bias;  /* o_proj has a bias */
  int32_t mlp_bias;            /* gate/up/down have biases */
  /* [num_layers] sliding window of each layer in tokens; 0 = full. NULL = all full. */
  const int32_t *layer_windows;
  /* [head_dim/2] RoPE inverse frequencies, scaling (llama3, linear) applied:
   * model.Config.RopeInvFreq() rounded to float32. */
  const float *rope_inv_freq;
} sota_model_config;

/* Creates a model on device `device` and allocates its weights (BF16
 * matrices, FP32 norms and biases). Every tensor must then be given by
 * sota_model_upload or sota_model_random_weight. */
SOTA_API sota_status sota_model_create(const sota_model_config *config, int32_t device,
                                       sota_model **out);
SOTA_API void sota_model_destroy(sota_model *m);

/* Uploads elements [offset, offset+count) of the tensor `name` (its Hugging
 * Face name, e.g. "model.layers.0.self_attn.q_proj.weight") from host memory,
 * converting dtype to the device type. shape/ndim must be the tensor's full
 * shape. A tensor may come in several pieces; pieces may not overlap. */
SOTA_API sota_status sota_model_upload(sota_model *m, const char *name, sota_dtype dtype,
                                       const int64_t *shape, int32_t ndim, int64_t offset,
                                       int64_t count, const void *data);

/* Generates the tensor `name` on the device exactly as Go's
 * model.Random(cfg, seed) defines it (norm weights 1, everything else
 * uniform with standard deviation 0.02, element i a function of (seed, name, i)),
 * then rounds to the device type. */
SOTA_API sota_status sota_model_random_weight(sota_model *m, const char *name, uint64_t seed);

/* Weight bytes on the device (BF16 matrices + FP32 vectors). */
SOTA_API int64_t sota_model_weight_bytes(const sota_model *m);
/* Bytes one batch-1 decode step reads from the weights: every matrix once. */
SOTA_API int64_t sota_model_decode_weight_bytes(const sota_model *m);

typedef struct {
  int32_t block_size;              /* tokens per KV block; 0 = 16 */
  int32_t num_blocks;              /* 0 = from gpu_memory_utilization */
  double gpu_memory_utilization;   /* share of the device's memory for this model; 0 = 0.9 */
  int32_t max_batch_tokens;        /* most tokens per forward; 0 = 2048 */
  int32_t max_seqs;                /* most sequences (and sample rows) per forward; 0 = 256 */
  int32_t max_model_len;           /* 0 = max_position_embeddings */
} sota_cache_options;

typedef struct {
  int32_t block_size;
  int32_t num_blocks;
  int32_t max_batch_tokens;
  int32_t max_seqs;
  int32_t max_model_len;
  int32_t vocab_size;
  int64_t kv_cache_bytes;
  int64_t workspace_bytes;
} sota_geometry;

/* Checks every weight was given, allocates activations and the paged KV
 * cache ([layer][K|V][block][kv_head][slot][head_dim], BF16), and reports the
 * geometry. With num_blocks 0 the cache takes gpu_memory_utilization of the
 * device's total memory minus what is in use now, capped at max_seqs full
 * contexts. */
SOTA_API sota_status sota_model_init_cache(sota_model *m, const sota_cache_options *opts,
                                           sota_geometry *out);

/* ---- one engine step ---------------------------------------------------- */

typedef struct {
  float temperature;        /* 0 = greedy */
  int32_t top_k;            /* <= 0 or >= vocab: off */
  float top_p;              /* 0 or 1: off */
  float min_p;              /* 0: off */
  float repetition_penalty; /* 0 or 1: off */
  float presence_penalty;
  float frequency_penalty;
  uint64_t seed;
  int32_t output_len;     /* tokens generated so far: selects the draw (sample.Uniform) */
  int32_t logprobs;       /* non-zero: return the chosen token's logprob */
  int32_t top_logprobs;   /* 0..SOTA_MAX_TOP_LOGPROBS */
  int32_t pad_;
} sota_sample_params;

/* One engine step, flat (backend.Batch). Sequence i owns
 * tokens[seq_starts[i]:seq_starts[i+1]] and the block table
 * block_tables[block_table_starts[i]:block_table_starts[i+1]]. */
typedef struct {
  int32_t num_tokens;
  int32_t num_seqs;
  const int32_t *tokens;             /* [num_tokens] */
  const int32_t *positions;          /* [num_tokens] */
  const int32_t *seq_starts;         /* [num_seqs+1] */
  const int32_t *block_tables;       /* [block_table_starts[num_seqs]] */
  const int32_t *block_table_starts; /* [num_seqs+1] */

  /* Sample rows: the last token of sequence sample_seqs[r] is sampled. */
  int32_t num_samples;
  const int32_t *sample_seqs;          /* [num_samples] */
  const sota_sample_params *params;    /* [num_samples] */
  /* logit_bias of row r: bias_ids/bias_values[bias_starts[r]:bias_starts[r+1]], distinct ids. */
  const int32_t *bias_starts;          /* [num_samples+1] */
  const int32_t *bias_ids;
  const float *bias_values;
  /* Penalty history of row r: the DISTINCT ids of prompt ∪ output,
   * penalty_ids[penalty_starts[r]:penalty_starts[r+1]], each with its count
   * among the output tokens (0: seen in the prompt only). The repetition
   * penalty applies to every entry, presence/frequency to count > 0. */
  const int32_t *penalty_starts;       /* [num_samples+1] */
  const int32_t *penalty_ids;
  const int32_t *penalty_counts;
} sota_batch;

typedef struct {
  int32_t *tokens;       /* [num_samples] */
  float *logprobs;       /* [num_samples], when asked for */
  int32_t *top_tokens;   /* [num_samples * SOTA_MAX_TOP_LOGPROBS] */
  float *top_logprobs;   /* [num_samples * SOTA_MAX_TOP_LOGPROBS] */
  int32_t *row_status;   /* [num_samples] SOTA_OK or SOTA_ERR_NO_CANDIDATES */
} sota_output;

/* Runs the forward pass over every token of the batch (writing K/V into the
 * cache blocks its tables name) and samples one token per sample row, in one
 * call. A row without candidates sets row_status and the call returns
 * SOTA_ERR_NO_CANDIDATES after filling the other rows. */
SOTA_API sota_status sota_forward(sota_model *m, const sota_batch *batch, sota_output *out);

/* Like sota_forward but returns the FP32 logits of every token of the batch,
 * [num_tokens, vocab] row-major, instead of sampling (tests, prompt logprobs).
 * Sample fields of the batch are ignored. */
SOTA_API sota_status sota_forward_logits(sota_model *m, const sota_batch *batch, float *logits);

/* Samples rows of caller-given logits ([num_samples, vocab] FP32, host) with
 * the GPU sampler; for tests of the sampler against the CPU reference.
 * Only the sample fields of the batch are read (sample_seqs ignored). */
SOTA_API sota_status sota_sample_logits(sota_model *m, const sota_batch *batch,
                                        const float *logits, sota_output *out);

/* ---- measurement -------------------------------------------------------- */

/* Device-to-device copy bandwidth over `bytes` per buffer, median of `iters`
 * timed copies by a vectorised copy kernel, in GB/s counting bytes read plus
 * written. The roofline for decode is weight bytes / this. */
SOTA_API sota_status sota_measure_copy_bandwidth(int32_t device, int64_t bytes, int32_t iters,
                                                 double *gbps);

/* Median device time of one forward step (batch as given) over iters runs
 * after warm-up, timed with CUDA events; sampled, results discarded. The KV
 * cache is written (the same positions each time). */
SOTA_API sota_status sota_time_forward(sota_model *m, const sota_batch *batch, int32_t iters,
                                       double *ms);

#ifdef __cplusplus
}
#endif

#endif /* SOTA_H */
