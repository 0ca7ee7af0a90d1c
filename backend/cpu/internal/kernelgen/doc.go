// Command kernelgen writes matmul_amd64.s: AVX2/FMA micro-kernels that
// multiply m rows of activations (m = 1..6) by one 16-column panel of a
// packed weight matrix; and matmul_bf16_amd64.s and matmul_q8_amd64.s, the
// same for panels stored as bfloat16 or as int8 with per-block scales
// (widened to float32 in registers, accumulated in float32). Run it through
// `go generate ./backend/cpu`.
//
// Every output element is one sequential chain of fused multiply-adds over k,
// starting from zero, in the same order in every kernel, so a row's result
// does not depend on how many other rows share its kernel call (batch
// invariance).
package main
