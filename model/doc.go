// Package model owns what a checkpoint is: the architectures sota serves
// (Llama, Mistral, Qwen2), their config.json and generation_config.json, the
// names and shapes of their tensors, and loading those tensors from
// safetensors files (one file or a sharded index), from an fs.FS (the
// embedded demo model) or generating them (--random-weights).
//
// Entry points:
//   - ParseConfig / LoadConfigFile read config.json in either the
//     transformers v4 form (rope_theta, rope_scaling, torch_dtype) or the v5
//     form (rope_parameters, dtype, layer_types), applying the defaults
//     transformers applies, and Validate it.
//   - Config.ExpectedTensors is the single source of truth for tensor names
//     and shapes; Load, LoadFS and Random all bind tensors through it.
//   - ParseHeader / ReadHeader parse and check a safetensors header.
//   - Load memory-maps every shard read-only (reading it into memory where
//     mmap is unavailable); LoadFS reads files into memory; Random makes
//     deterministic generated tensors that take no memory until converted.
//
// Concurrency: a *Model and its Tensors are immutable after Load, LoadFS or
// Random returns and may be read from any number of goroutines. Close must
// not run concurrently with readers: it unmaps the files, after which every
// Tensor of the model is invalid. Nothing in this package starts goroutines.
//
// Invariants:
//   - every Tensor of a loaded Model has the dtype and exactly the shape
//     ExpectedTensors names, and its raw bytes lie inside its file;
//   - a Config returned by ParseConfig has passed Validate;
//   - Weights.LMHead is the same *Tensor as Weights.Embed when the config
//     ties word embeddings (an lm_head.weight in such a checkpoint is
//     ignored, as transformers ignores it);
//   - generated tensors depend only on (seed, tensor name, element index).
//
// Errors wrap the package sentinels (ErrInvalidConfig, ErrMissingTensor, ...)
// with the file and tensor they concern; nothing here panics on bad input.
package model
