#!/usr/bin/env bash
# Multi-tenant admission under overload (issue 11): `sota serve --backend fake
# --fake-step-delay 10ms` with 100 tenants of 20 streams and a queue of 5
# each (2,000 streams in all), every tenant driven by sota-bench at 30
# concurrent requests (1.5× its cap): 20 run, 5 wait, the rest get 429 at
# once and retry after the Retry-After they are given (RETRY=ignore: they do
# not). Reports per-tenant 200/408/429 counts, time to reject, TTFT and ITL,
# and the server's CPU per token. Writes OUT.json and its charts.
#
#   bench/results/admission-overload.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]
set -euo pipefail
OUT=${1:?usage: admission-overload.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]}
SOTA=${2:-bin/sota}
BENCH=${3:-bin/sota-bench}
TENANTS=${TENANTS:-100}
PROMPTS=${PROMPTS:-20000}
WORK=$(mktemp -d)
ADMIN=overload-admin-token-$RANDOM$RANDOM
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
cat >"$WORK/tiers.yaml" <<'YAML'
tiers:
  bench: {streams: 20, queue: 5, queue_wait: 60s, retry_after: 1, models: ["*"], priorities: [slow, medium], weight: 1}
YAML
args=()
for i in $(seq -w 1 "$TENANTS"); do
	key=$("$SOTA" keys create --db "$WORK/sota.db" --tiers "$WORK/tiers.yaml" --tenant "t$i" --tier bench 2>/dev/null)
	args+=(--tenant "name=t$i,key=$key,weight=1,max-concurrency=30")
done
"$SOTA" serve --host 127.0.0.1 --port 0 --backend fake --fake-step-delay 10ms --max-num-seqs 2048 \
	--db "$WORK/sota.db" --tiers "$WORK/tiers.yaml" --admin-token "$ADMIN" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
	BASE=$(sed -n 's/.*msg=serving url=\(http:[^ ]*\).*/\1/p' "$WORK/log" | head -n1)
	[[ -n $BASE ]] && break
	sleep 0.1
done
[[ -n ${BASE:-} ]] || { cat "$WORK/log"; exit 1; }
"$BENCH" --base-url "sota=$BASE" --model stories260k --endpoint /v1/completions \
	--random-input-len 32 --random-output-len 64 --num-prompts "$PROMPTS" --seed 1 "${args[@]}" \
	--retry-after "${RETRY:-honour}" --max-retries 10 --server-pid "$PID" --disable-tqdm \
	--metadata "server=sota serve --backend fake --fake-step-delay 10ms --max-num-seqs 2048" \
	--metadata "load=$TENANTS tenants of 20 streams and a queue of 5; 30 concurrent requests each" \
	--result-filename "$OUT.json" ${COMMIT:+--commit "$COMMIT"}
# Every request ended (200, 408 or 429 in the table) and no slot is held.
live=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/admin/v1/live")
echo "live slots after the run: $live"
[[ $live == '{"object":"list","data":[]}' ]] || { echo "slots still held after the run" >&2; exit 1; }
