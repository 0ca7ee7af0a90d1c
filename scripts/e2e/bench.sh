#!/usr/bin/env bash
# End-to-end check of sota-bench (run by `make e2e` after run.sh): a short
# benchmark of `bin/sota serve --backend fake --fake-step-delay 10ms` on a
# free port, streaming chat and completions, 40 prompts at concurrency 8 with
# a Poisson rate. It fails if any request fails (--fail-on-error), if the
# result JSON lacks what it must record, or if it takes 30 s or more.
#
# Builds nothing: it needs bin/sota and bin/sota-bench (make build). Override
# with $SOTA_BIN and $SOTA_BENCH_BIN. The server it starts is always stopped
# on exit; on failure its log is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SOTA_BIN=${SOTA_BIN:-$ROOT/bin/sota}
BENCH_BIN=${SOTA_BENCH_BIN:-$ROOT/bin/sota-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sota-e2e-bench.XXXXXX")
SERVER_PID=
LOG=$WORK/server.log

log() { printf 'e2e-bench: %s\n' "$*"; }
fail() {
	echo "e2e-bench: FAIL: $*" >&2
	if [[ -s $LOG ]]; then
		echo "----- server log (last 40 lines) -----" >&2
		tail -n 40 "$LOG" >&2
	fi
	exit 1
}
cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x $SOTA_BIN ]] || fail "$SOTA_BIN not found: run 'make build'"
[[ -x $BENCH_BIN ]] || fail "$BENCH_BIN not found: run 'make build'"
t0=$SECONDS

# Port 0: the server picks a free one and logs it (msg=serving url=...).
"$SOTA_BIN" serve --host 127.0.0.1 --port 0 --backend fake --fake-step-delay 10ms >"$LOG" 2>&1 &
SERVER_PID=$!
BASE=
for _ in $(seq 300); do
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited before serving"
	BASE=$(sed -n 's/.*msg=serving url=\(http:[^ ]*\).*/\1/p' "$LOG" | head -n1)
	[[ -n $BASE ]] && break
	sleep 0.1
done
[[ -n $BASE ]] || fail "the server did not log its address within 30 s"
for _ in $(seq 100); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/health" || true) == 200 ]] && break
	sleep 0.1
done
log "server at $BASE (fake backend, 10 ms steps)"

run_bench() { # run_bench NAME [flags...]
	local name=$1
	shift
	timeout 30 "$BENCH_BIN" --base-url "sota=$BASE" --model stories260k --num-prompts 40 --max-concurrency 8 \
		--random-input-len 32 --random-output-len 16 --seed 1 --goodput ttft:1000 tpot:200 \
		--disable-tqdm --fail-on-error --result-filename "$WORK/$name.json" "$@" >"$WORK/$name.out" 2>&1 ||
		{ cat "$WORK/$name.out" >&2; fail "$name: sota-bench failed (status $?)"; }
}

run_bench completions --endpoint /v1/completions
run_bench chat --endpoint /v1/chat/completions --request-rate 200
for name in completions chat; do
	f=$WORK/$name.json
	python3 - "$f" "$name" <<'PY' || fail "$name: the result JSON is incomplete (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["points"][0]["targets"][0]
problems = []
if s["completed"] != 40 or s["failed"] != 0: problems.append(f"completed {s['completed']}, failed {s['failed']}: want 40, 0")
if s["total_output_tokens"] != 40 * 16: problems.append(f"{s['total_output_tokens']} output tokens, want 640")
if s["output_tokens_from"] != "usage": problems.append(f"output tokens from {s['output_tokens_from']}, want usage")
if not (s["max_concurrent_requests"] <= 8): problems.append(f"peak concurrency {s['max_concurrent_requests']} > 8")
# 16 tokens at 10 ms a step: TPOT can't beat the step delay.
if not (9.5 <= s["median_tpot_ms"] <= 200): problems.append(f"median TPOT {s['median_tpot_ms']} ms")
for k in ("p99_ttft_ms", "p99_itl_ms", "p99_e2el_ms", "request_goodput", "output_throughput"):
    if k not in s: problems.append(f"no {k}")
if not r["machine"]["cpu_model"] or r["machine"]["cores"] < 1: problems.append("no machine")
if not r["command_line"]: problems.append("no command line")
for p in problems: print(f"{sys.argv[2]}: {p}", file=sys.stderr)
print(f"{sys.argv[2]}: 40 requests ok, TTFT p50 {s['median_ttft_ms']:.1f} ms, TPOT p50 {s['median_tpot_ms']:.2f} ms, ITL p99 {s['p99_itl_ms']:.1f} ms, {s['output_throughput']:.0f} tok/s")
sys.exit(1 if problems else 0)
PY
	[[ -s $WORK/$name-latency.png && -s $WORK/$name-throughput.png ]] || fail "$name: charts not written"
done
elapsed=$((SECONDS - t0))
((elapsed < 30)) || fail "took ${elapsed}s, want < 30s"
log "PASS in ${elapsed}s"
