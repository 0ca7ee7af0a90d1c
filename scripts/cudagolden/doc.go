// Command cudagolden writes the values of sample.Uniform and model.Random
// that cuda/tests/host_tests.cpp checks the CUDA library's copies of those
// streams against:
//
//	go run ./scripts/cudagolden cuda/tests
//
// It is a generator run by hand (never by CI); it has no state and no
// concurrency. Invariant: the files it writes are a pure function of the Go
// code of sample.Uniform and model.Random, so rerunning it after a change
// there keeps the C++ host tests in step.
package main
