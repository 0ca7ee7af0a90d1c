// Package cuda runs the forward pass on an NVIDIA GPU through libsota_cuda.so,
// the C ABI in cuda/include/sota.h, behind backend.Backend.
//
// It is the only package of sota that imports "C". The library is not linked:
// it is dlopened at run time (path from Options.Library, else next to the
// executable, in ../build beside it, in ./build, then the loader's search
// path), so the same sota binary builds and runs on machines without CUDA;
// there New fails with ErrLibraryNotFound or ErrNoGPU, saying which. Built
// with CGO_ENABLED=0 the package still compiles and New fails with
// ErrLibraryNotFound.
//
// What it owns: the library handle (loaded once per process), the model on
// the device (BF16 weights, the paged BF16 KV cache, activations), and the
// packing of a backend.Batch into the flat arrays of sota_batch: per sample
// row, the logit-bias entries (sorted by id) and the distinct ids of
// prompt ∪ output with their output counts, so the GPU sampler applies the
// penalties of sample.Sampler without a hash map.
//
// One cgo call per engine step: Forward packs the batch on the host, and the
// library copies it to the device in one transfer, runs every layer, samples,
// and returns the tokens (and log-probabilities) in one call.
//
// Concurrency: one goroutine drives a Backend; it starts no goroutines and
// reads no clock. The library's last-error string is per OS thread, so each
// native call and its error read happen on one locked thread.
//
// Invariants: Forward validates the batch against the geometry before any
// native call (the library checks again whatever a kernel would index
// with); weights are checked complete before the cache is allocated; after
// Close every call fails with ErrClosed.
package cuda
