#!/usr/bin/env bash
# What metrics and access logs cost (issue 14): `sota serve --backend fake
# --fake-step-delay 10ms --max-num-seqs 2048` at 1,000 concurrent streams of
# 64 tokens, measured by sota-bench, alternately with observability off
# (--no-metrics --no-access-log --stats-interval 0) and on (the defaults:
# metrics, one access-log line per request to a file, the stats line every
# 10 s, and /metrics scraped once a second). ROUNDS pairs (default 3), in the
# order off, on, off, on, ... Writes OUT-off-N.json and OUT-on-N.json.
#
#   bench/results/observe-overhead.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]
set -euo pipefail
OUT=${1:?usage: observe-overhead.sh OUT_PREFIX [SOTA_BIN] [SOTA_BENCH_BIN]}
SOTA=${2:-bin/sota}
BENCH=${3:-bin/sota-bench}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
PID=
SCRAPER=
cleanup() {
	[[ -n $SCRAPER ]] && kill "$SCRAPER" 2>/dev/null || true
	[[ -n $PID ]] && kill "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

one() { # MODE N
	local mode=$1 n=$2 flags=()
	[[ $mode == off ]] && flags=(--no-metrics --no-access-log --stats-interval 0)
	"$SOTA" serve --host 127.0.0.1 --port 0 --backend fake --fake-step-delay 10ms --max-num-seqs 2048 \
		"${flags[@]}" >"$WORK/log" 2>&1 &
	PID=$!
	local base=
	for _ in $(seq 100); do
		base=$(sed -n 's/.*msg=serving url=\(http:[^ ]*\).*/\1/p' "$WORK/log" | head -n1)
		[[ -n $base ]] && break
		sleep 0.1
	done
	[[ -n $base ]] || { cat "$WORK/log"; exit 1; }
	if [[ $mode == on ]]; then
		(while sleep 1; do curl -s -o /dev/null "$base/metrics" || true; done) &
		SCRAPER=$!
	fi
	"$BENCH" --base-url "sota=$base" --model stories260k --endpoint /v1/completions \
		--random-input-len 32 --random-output-len 64 --num-prompts 4000 --max-concurrency 1000 \
		--seed 1 --server-pid "$PID" --disable-tqdm \
		--metadata "server=sota serve --backend fake --fake-step-delay 10ms --max-num-seqs 2048 ${flags[*]}" "observability=$mode" \
		--result-filename "$OUT-$mode-$n.json" ${COMMIT:+--commit "$COMMIT"}
	if [[ -n $SCRAPER ]]; then kill "$SCRAPER" 2>/dev/null || true; wait "$SCRAPER" 2>/dev/null || true; SCRAPER=; fi
	echo "$mode $n: $(grep -c 'msg=request ' "$WORK/log" || true) access-log lines, $(grep -c 'msg="engine stats"' "$WORK/log" || true) stats lines"
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
}

for n in $(seq "$ROUNDS"); do
	one off "$n"
	one on "$n"
done
