#!/usr/bin/env bash
# One tenant floods at 10× its cap (issue 11): do the others notice?
# `sota serve --backend fake --fake-step-delay 10ms` with the built-in tiers;
# tenants beta (team, 10 streams) and gamma (platform, 50 streams) run at
# their caps, first alone (unloaded), then while flood (solo, 3 streams)
# sends 30 concurrent requests that retry after each 429's Retry-After.
# Writes OUT-unloaded.json and OUT-loaded.json; compare beta's and gamma's
# TTFT p50 between them.
#
#   bench/results/admission-fairness.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]
set -euo pipefail
OUT=${1:?usage: admission-fairness.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]}
SOTA=${2:-bin/sota}
BENCH=${3:-bin/sota-bench}
PROMPTS=${PROMPTS:-3000}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
key() { "$SOTA" keys create --db "$WORK/sota.db" --tenant "$1" --tier "$2" 2>/dev/null; }
FLOOD=$(key flood solo) BETA=$(key beta team) GAMMA=$(key gamma platform)
"$SOTA" serve --host 127.0.0.1 --port 0 --backend fake --fake-step-delay 10ms --max-num-seqs 2048 \
	--db "$WORK/sota.db" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	BASE=$(sed -n 's/.*msg=serving url=\(http:[^ ]*\).*/\1/p' "$WORK/log" | head -n1)
	[[ -n $BASE ]] && break
	sleep 0.1
done
[[ -n ${BASE:-} ]] || { cat "$WORK/log"; exit 1; }
common=(--base-url "sota=$BASE" --model stories260k --endpoint /v1/completions --random-input-len 32
	--random-output-len 64 --seed 1 --retry-after honour --max-retries 50 --server-pid "$PID" --disable-tqdm
	--metadata "server=sota serve --backend fake --fake-step-delay 10ms --max-num-seqs 2048 (built-in tiers)")
others=(--tenant "name=beta,key=$BETA,weight=1,share=1,max-concurrency=10"
	--tenant "name=gamma,key=$GAMMA,weight=5,share=5,max-concurrency=50")
"$BENCH" "${common[@]}" --num-prompts "$PROMPTS" "${others[@]}" \
	--metadata "load=unloaded: beta and gamma at their caps" --result-filename "$OUT-unloaded.json" ${COMMIT:+--commit "$COMMIT"}
# The same beta and gamma requests, plus flood's (weight 6 of 12: as many requests as the others together).
"$BENCH" "${common[@]}" --num-prompts $((PROMPTS * 2)) "${others[@]}" \
	--tenant "name=flood,key=$FLOOD,weight=6,share=0.5,max-concurrency=30" \
	--metadata "load=loaded: flood (solo: 3 streams) at 30 concurrent requests" --result-filename "$OUT-loaded.json" ${COMMIT:+--commit "$COMMIT"}
