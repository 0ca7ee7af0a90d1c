#!/usr/bin/env bash
# cuda-check.sh: check that build/libsota_cuda.so holds machine code (SASS)
# for every target architecture in every kernel file, and exports the C ABI.
# Run by `make cuda-check` (and so by CI) so the CUDA code cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:?usage: cuda-check.sh TOOLKIT_ROOT}
LIB=${BUILD_DIR:-build}/libsota_cuda.so
ARCHS=${CUDA_CHECK_ARCHS:-sm_90a sm_100a sm_103a}
CUOBJDUMP="$ROOT/bin/cuobjdump"
[[ -x "$CUOBJDUMP" ]] || CUOBJDUMP=$(command -v cuobjdump)

units=$(ls cuda/src/*.cu | wc -l)
elfs=$("$CUOBJDUMP" --list-elf "$LIB")
status=0
for arch in $ARCHS; do
  n=$(grep -c "\.$arch\.cubin" <<<"$elfs" || true)
  # Kernel entry points in this architecture's machine-code (SASS) cubins.
  kernels=$("$CUOBJDUMP" --dump-elf-symbols --gpu-architecture "$arch" "$LIB" 2>/dev/null | grep -c 'STO_ENTRY' || true)
  echo "cuda-check: $arch: $n cubins with SASS (want $units), $kernels kernel entry points"
  if [[ "$n" -lt "$units" || "$kernels" -eq 0 ]]; then status=1; fi
done
exports=$(nm -D --defined-only "$LIB" | awk '$2 == "T" {print $3}' | grep -c '^sota_' || true)
want=$(grep -c '^SOTA_API' cuda/include/sota.h)
echo "cuda-check: $exports of $want C ABI functions exported"
[[ "$exports" -eq "$want" ]] || status=1
# Host-side tests (index math, RNG, rank keys, split-K plans) need no GPU.
HOST_TESTS=${BUILD_DIR:-build}/cuda/sota_host_tests
if [[ -x "$HOST_TESTS" ]]; then
  if out=$("$HOST_TESTS" 2>&1); then
    echo "cuda-check: host tests: $(tail -n 1 <<<"$out")"
  else
    echo "$out" >&2
    echo "cuda-check: host tests FAILED" >&2
    status=1
  fi
else
  echo "cuda-check: $HOST_TESTS was not built" >&2
  status=1
fi
if [[ $status -ne 0 ]]; then echo "cuda-check: FAILED" >&2; fi
exit $status
