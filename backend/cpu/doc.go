// Package cpu is the pure-Go forward pass of the Llama, Mistral and Qwen2
// architectures behind backend.Backend: the numerical reference for every
// other backend and the embedded default, so sota runs on any machine.
//
// What it owns: copies of the weights in the Options.Weights format —
// float32, bfloat16, or int8 with a float32 scale per output and 32 inputs —
// (q/k/v and gate/up fused, matrices packed into 16-column panels for the
// matmul micro-kernels, which widen every format to float32 and accumulate
// in float32), the
// paged KV cache (blocks addressed only through each Batch's block tables —
// allocation belongs to the engine), and per-step scratch buffers.
//
// Concurrency: one goroutine drives a Backend. Inside a call the matmuls and
// attention fork work across Options.Threads goroutines and join before
// returning; nothing runs in the background and nothing reads a clock.
//
// Invariants:
//   - Batch invariance: a token's logits are bit-identical whether it runs
//     alone or beside other sequences. Every output element of a matmul is one
//     fused multiply-add chain over k computed by one kernel call, attention
//     is computed per (token, head) in a fixed order, and the kernel family
//     (AVX2+FMA assembly, or the portable Go kernel under the purego build
//     tag or on other CPUs) is fixed for the life of the process. This holds
//     in every weight format: a bfloat16 or int8 matmul equals, bit for bit,
//     the float32 one on the weights it stands for.
//   - Decode reads each weight matrix once per step whatever the number of
//     sequences, so batched decode is bounded by compute, not bandwidth.
//   - The backend keeps no reference to the model.Model it was built from.
package cpu
