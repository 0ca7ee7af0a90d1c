// Command kernelgen writes matmul_amd64.s: AVX2/FMA micro-kernels that
// multiply m rows of activations (m = 1..6) by one 16-column panel of a
// packed weight matrix. Run it through `go generate ./backend/cpu`.
//
// Every output element is one sequential chain of fused multiply-adds over k,
// starting from zero, in the same order in every kernel, so a row's result
// does not depend on how many other rows share its kernel call (batch
// invariance).
package main
