#!/usr/bin/env bash
# One interleaved sweep (concurrency 1, 4, 16, 64) over sota, vLLM (CPU) and
# llama.cpp's server on the same checkpoint and prompts; the ratios in the
# result are to sota (the first target). Needs install.sh and make-model.sh.
#   bench/peers/side-by-side.sh OUT_PREFIX
set -euo pipefail
OUT=${1:?usage: side-by-side.sh OUT_PREFIX}
cd "$(dirname "$0")"
PEERS=$PWD
ROOT=$(cd ../.. && pwd)
MODEL=$PEERS/models/llama-110m
THREADS=${THREADS:-$(nproc)}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
"$ROOT/bin/sota" serve --host 127.0.0.1 --port 18001 --model "llama=$MODEL" --threads "$THREADS" --max-num-seqs 64 >"$PEERS/sota.log" 2>&1 &
PIDS+=($!)
VLLM_CPU_OMP_THREADS_BIND=all VLLM_CPU_KVCACHE_SPACE=2 "$PEERS/.venv/bin/vllm" serve "$MODEL" --served-model-name llama \
	--host 127.0.0.1 --port 18002 --max-num-seqs 64 --max-model-len 1024 >"$PEERS/vllm.log" 2>&1 &
PIDS+=($!)
"$PEERS/.venv/bin/python" -m llama_cpp.server --model "$MODEL/model.gguf" --model_alias llama --host 127.0.0.1 --port 18003 \
	--n_threads "$THREADS" --n_ctx 4096 >"$PEERS/llamacpp.log" 2>&1 &
PIDS+=($!)
for port in 18001 18002 18003; do
	for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break; sleep 1; done
done
"$ROOT/bin/sota-bench" --base-url sota=http://127.0.0.1:18001 --base-url vllm=http://127.0.0.1:18002 \
	--base-url llamacpp=http://127.0.0.1:18003 --model llama --endpoint /v1/completions \
	--random-input-len 128 --random-output-len 64 --num-prompts 64 --max-concurrency 1,4,16,64 --num-warmups 2 \
	--server-pid "$(IFS=,; echo "${PIDS[*]}")" --seed 1 --result-filename "$OUT.json" \
	--metadata "threads=$THREADS" "note=the three servers share this machine's CPU"
