// Package sample owns token sampling: the per-request Params and their
// validation, and the CPU Sampler, which is also the reference the CUDA
// sampler is checked against. The CUDA kernels mirror the steps below in the
// same order and with the same definitions.
//
// # Steps of Sampler.Sample, in order
//
// Reading rule, everywhere: a NaN logit counts as -Inf and +Inf as the
// largest finite float32 (math.MaxFloat32). A row with no logit above -Inf
// fails with ErrNoCandidates; an empty row with ErrEmptyLogits.
//
//  1. Logprobs (when Params.Logprobs or TopLogprobs > 0) are of the RAW row,
//     before bias, penalties and temperature (vLLM's default): logprob(x) =
//     x - m - log Σ exp(x_i - m) with m the largest logit, all in float64.
//     Result.Logprob is the chosen token's; Result.Top holds the TopLogprobs
//     most likely tokens, most likely first, ties by lower id.
//  2. LogitBias[id] is added to logit[id] (float32).
//  3. Repetition penalty (Hugging Face), when not 0 or 1: once per distinct
//     token of prompt ∪ output, logit > 0 → logit / penalty, otherwise logit *
//     penalty. Then presence/frequency penalties (OpenAI) over output only:
//     logit -= float32(frequency*count) + presence*[count > 0].
//     3b. A structured-output mask (SampleMasked), when given, sets the
//     logits of the tokens it does not allow to -Inf.
//  4. Temperature == 0: the argmax (Argmax), lowest id on ties; one pass.
//     Otherwise the draw below.
//
// # The draw (Temperature T > 0)
//
// With m the largest processed logit x:
//
//   - z = (x - m) / T in IEEE float32 (subtraction then division, no fast
//     math), and the weight w = float32(e^z), 0 when z <= -88. The most
//     likely token has w = 1, and w = p / p_max.
//   - The ranking orders tokens by x, largest first, ties by lower id.
//     Top-k, top-p, min-p and the draw each keep a prefix of it.
//   - Top-k (1 <= k < vocab): keep the first k.
//   - Top-p (0 < top_p < 1): keep the shortest prefix whose mass (Σ w in
//     float64) is >= float64(top_p) × the mass kept by top-k.
//   - Min-p (> 0): keep the tokens before the first with w < min_p (never
//     the first token, whose w is 1).
//   - Pick: u = Uniform(Seed, len(output)); the token is the first position
//     of the kept prefix whose running mass is > u × the kept mass. Should
//     float64 rounding leave that unreached, the last kept token with w > 0.
//
// Randomness is counter-based (Uniform): the draw at output index n depends
// only on (Seed, n), so the same seed and history give the same token, a
// replay or recomputation reproduces a request, and the GPU needs no
// generator state. Requests without a client seed should get one from the
// server, not a constant.
//
// # Numerics
//
// Masses are accumulated in float64 from float32 weights. The CPU sums a
// bucket of the ranking at a time (see rank.go), so a running mass can differ
// from a strictly sequential sum by a few float64 ulps; a draw can differ
// from another implementation only when u lands that close to a boundary.
// exp is a table times a short polynomial: relative error below 1e-13 for
// logprobs (expNeg) and below 2e-12 before float32 rounding for weights
// (bucketWeight).
//
// # Cost
//
// Greedy is one pass over the row. Top-k with k <= 1024 is one heap pass plus
// k exps. Otherwise two passes (maximum; bucket and weight of every token),
// then, for each bucket a cut or the draw falls into, one pass over the
// bucket keys to collect it; a bucket of more than 512 tokens is split 256
// ways by a finer key (twice at most) instead of being sorted, so only a
// few hundred tokens are ever sorted, even for flat distributions. The
// vocabulary is never fully sorted. Scratch is reused, so calls do not
// allocate (Result.Top excepted).
//
// # Concurrency
//
// Params and Result are plain values. A Sampler holds scratch and is not safe
// for concurrent use: one per goroutine that samples. Uniform, Argmax and
// LogSoftmax are pure functions.
//
// # Invariants
//
// Sample never panics: Params are validated against the vocabulary (logit_bias
// ids included), and prompt/output ids are checked whenever a penalty reads
// them (ErrTokenOutOfRange). Sample may overwrite the logits it is given.
package sample
