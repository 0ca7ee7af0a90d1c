#!/usr/bin/env bash
# Makes bench/peers/models/llama-110m: a Llama checkpoint with random weights
# in the shape of testdata/shapes/llama-110m.json (HF config.json +
# model.safetensors + the tokenizer of ../shared/models/$TOKENIZER), and
# model.gguf converted from the same tensors by llama.cpp's converter (in
# the llama-cpp-python sdist's vendor tree, fetched with pip download).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
PY=.venv/bin/python
OUT=models/llama-110m
TOKENIZER=${TOKENIZER:-$ROOT/../shared/models/stories260k}
mkdir -p "$OUT"
"$PY" - "$ROOT/testdata/shapes/llama-110m.json" "$OUT" <<'PY'
import json, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg = json.load(open(sys.argv[1]))
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in cfg.items() if not k.startswith("_")}))
model.save_pretrained(sys.argv[2], safe_serialization=True)
PY
cp "$TOKENIZER"/tokenizer* "$OUT"/ 2>/dev/null || true
if [[ ! -d .src/llama-cpp-python ]]; then
	mkdir -p .src && "$PY" -m pip download --no-deps --no-binary :all: llama-cpp-python -d .src
	tar -xzf .src/llama_cpp_python-*.tar.gz -C .src && mv .src/llama_cpp_python-*/ .src/llama-cpp-python
fi
"$PY" .src/llama-cpp-python/vendor/llama.cpp/convert_hf_to_gguf.py "$OUT" --outtype f32 --outfile "$OUT/model.gguf"
