#!/usr/bin/env bash
# cuda-build.sh: configure and build libsota_cuda.so (and the kernel tests)
# into build/ with CMake. The CUDA toolkit is, in order: $CUDA_HOME, the nvcc
# on PATH, /usr/local/cuda, else CUDA 13 from NVIDIA's PyPI wheels installed
# into .tools/cuda (scripts/cuda-toolchain.sh). Prints the toolkit root last.
#
#   CUDA_ARCHS   CMAKE_CUDA_ARCHITECTURES (default 90a;100a;103a)
#   BUILD_DIR    build directory (default build)
set -euo pipefail
cd "$(dirname "$0")/.."

find_toolkit() {
  if [[ -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" ]]; then echo "$CUDA_HOME"; return; fi
  if command -v nvcc >/dev/null 2>&1; then
    dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")"; return
  fi
  if [[ -x /usr/local/cuda/bin/nvcc ]]; then echo /usr/local/cuda; return; fi
  scripts/cuda-toolchain.sh .tools/cuda
}

ROOT=$(find_toolkit)
ARCHS=${CUDA_ARCHS:-90a;100a;103a}
BUILD=${BUILD_DIR:-build}
echo "cuda-build: toolkit $ROOT ($("$ROOT/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')), architectures $ARCHS" >&2
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_COMPILER="$ROOT/bin/nvcc" -DCUDAToolkit_ROOT="$ROOT" \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" >&2
cmake --build "$BUILD" -j "$(nproc)" >&2
echo "$ROOT"
