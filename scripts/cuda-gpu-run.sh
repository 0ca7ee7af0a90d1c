#!/usr/bin/env bash
# cuda-gpu-run.sh: everything a GPU session checks, in one call on the device
# machine (which has nvcc, CMake and a driver but no Go). Build the Go test
# binary here first and carry it:
#
#   go test -tags cuda -c -o bin/cuda.test ./backend/cuda
#   device run (carry bin) command: bash scripts/cuda-gpu-run.sh
#
# It builds libsota_cuda.so for sm_90a with the machine's toolkit, runs the
# CTest kernel tests, the Go GPU tests (logits against the CPU backend, the
# sampler, stories260k greedy text) and the Llama-3.1-8B decode benchmark
# beside the copy-bandwidth roofline. Logs go to $OUT (or ./gpu-logs).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-logs}
mkdir -p "$OUT"
export BUILD_DIR=build-gpu CUDA_ARCHS=${CUDA_ARCHS:-90a}
LIB=$PWD/$BUILD_DIR/libsota_cuda.so
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
scripts/cuda-build.sh >"$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
echo "== build ok ($CUDA_ARCHS)"

(cd "$BUILD_DIR" && ctest --output-on-failure) >"$OUT/ctest.log" 2>&1 || status=1
tail -15 "$OUT/ctest.log"

(cd backend/cuda && ../../bin/cuda.test -test.v -test.run . -cuda-lib "$LIB") >"$OUT/gotest.log" 2>&1 || status=1
grep -E '^(=== RUN|--- |PASS|FAIL|ok)|worst relative|identical|differ' "$OUT/gotest.log" | tail -40

(cd backend/cuda && ../../bin/cuda.test -test.run '^$' -test.bench DecodeLlama8B -test.benchtime 30x -test.v \
  -cuda-lib "$LIB") >"$OUT/bench.log" 2>&1 || status=1
grep -E 'Benchmark|decode at|roofline' "$OUT/bench.log" | tail -5
echo "== status $status (logs in $OUT)"
exit $status
