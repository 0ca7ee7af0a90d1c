#!/usr/bin/env bash
# The server's own overhead on TTFT and ITL beyond the engine step (issue 15,
# result 1): `sota serve --backend fake --fake-step-delay 10ms --max-num-seqs
# 2048` under 100, 1,000 and 2,000 concurrent streams of 64 output tokens,
# measured by sota-bench on the same machine. Writes OUT.json and its charts.
#
#   bench/results/fake-overhead.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]
set -euo pipefail
OUT=${1:?usage: fake-overhead.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]}
SOTA=${2:-bin/sota}
BENCH=${3:-bin/sota-bench}
LOG=$(mktemp)
"$SOTA" serve --host 127.0.0.1 --port 0 --backend fake --fake-step-delay 10ms --max-num-seqs 2048 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do
	BASE=$(sed -n 's/.*msg=serving url=\(http:[^ ]*\).*/\1/p' "$LOG" | head -n1)
	[[ -n $BASE ]] && break
	sleep 0.1
done
[[ -n ${BASE:-} ]] || { cat "$LOG"; exit 1; }
# One sweep: 4,000 requests per point (two waves at 2,000), 32-word prompts.
"$BENCH" --base-url "sota=$BASE" --model stories260k --endpoint /v1/completions \
	--random-input-len 32 --random-output-len 64 --num-prompts 4000 --max-concurrency 100,1000,2000 \
	--seed 1 --server-pid "$PID" --disable-tqdm --metadata "server=sota serve --backend fake --fake-step-delay 10ms --max-num-seqs 2048" \
	--result-filename "$OUT.json" ${COMMIT:+--commit "$COMMIT"}
