#!/usr/bin/env bash
# cuda-toolchain.sh DEST: make a CUDA 13 toolkit (nvcc, headers, CCCL, cudart,
# cuBLAS/cuBLASLt, cuobjdump) usable for compiling and linking at DEST, from
# NVIDIA's wheels on PyPI. Used by `make cuda` when no CUDA toolkit is found.
# Compile and link only: running needs a GPU machine with the NVIDIA driver.
#
# The wheels unpack into one toolkit-shaped root (nvidia/cu13: bin, include,
# lib, nvvm); this script adds the links nvcc.profile and CMake's
# FindCUDAToolkit expect of a system install (targets/x86_64-linux, lib64,
# unversioned .so names), then prints the root.
set -euo pipefail

DEST=${1:?usage: cuda-toolchain.sh DEST}
# One CUDA series for every piece: 13.0 matches the driver (580) and the
# toolkit of the GPU machines we run on; cuobjdump and nvdisasm (which
# cuobjdump --dump-sass calls) have wheels from 13.2 on only, and they only
# read the binaries.
PKGS=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.0.2.14
  nvidia-cuda-cuobjdump==13.2.86
  nvidia-cuda-nvdisasm==13.2.86
)
STAMP="$DEST/.installed"
WANT="${PKGS[*]}"
ROOT="$DEST/site/nvidia/cu13"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  echo "cuda-toolchain: installing ${PKGS[*]} into $DEST" >&2
  rm -rf "$DEST"
  mkdir -p "$DEST"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --target "$DEST/site" "${PKGS[@]}" >&2
  # Layout fixes (relative links, so the tree can move).
  mkdir -p "$ROOT/targets/x86_64-linux"
  ln -sfn ../../include "$ROOT/targets/x86_64-linux/include"
  ln -sfn ../../lib "$ROOT/targets/x86_64-linux/lib"
  ln -sfn lib "$ROOT/lib64"
  for so in "$ROOT"/lib/*.so.*; do
    base=${so%%.so.*}.so
    [[ -e "$base" ]] || ln -sfn "$(basename "$so")" "$base"
  done
  # FindCUDAToolkit reads the version from here when nvcc is not asked.
  ver=$("$ROOT/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
  printf '{"cuda":{"name":"CUDA SDK","version":"%s"}}\n' "$ver" >"$ROOT/version.json"
  echo "$WANT" >"$STAMP"
fi
echo "$(cd "$ROOT" && pwd)"
