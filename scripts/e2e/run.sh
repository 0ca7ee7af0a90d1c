#!/usr/bin/env bash
# End-to-end checks of `sota serve` with the official OpenAI SDKs (run by
# `make e2e`, which builds bin/sota and installs the SDKs first).
#
# Phase 1: the built-in demo model. Start bin/sota serve on a free port, wait
#   for /health 200, run scripts/e2e/python_sdk.py (Python SDK) and
#   scripts/e2e/node/sdk.mjs (Node SDK), then SIGTERM: the server exits 0.
# Phase 2: --backend fake --fake-step-delay 20ms. Concurrent streaming
#   requests all complete (and run side by side); SIGTERM while a stream runs:
#   /health and a new request get 503 while the running stream still finishes
#   (finish_reason "length", data: [DONE]); then the server exits 0.
#
# Builds nothing: it needs bin/sota, .venv with scripts/e2e/requirements.txt
# and scripts/e2e/node/node_modules (npm ci). Override with $SOTA_BIN, $PYTHON,
# $NODE. Any failure prints the server's log and exits 1; the servers and
# clients it started are always stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SOTA_BIN=${SOTA_BIN:-$ROOT/bin/sota}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
NODE=${NODE:-node}
HEALTH_WAIT=${E2E_HEALTH_WAIT:-60} # seconds for /health to turn 200
EXIT_WAIT=${E2E_EXIT_WAIT:-20}     # seconds for the server to exit after SIGTERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sota-e2e.XXXXXX")
SERVER_PID= SERVER_LOG= BASE=
BG_PIDS=()

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
log() { printf 'e2e: %s\n' "$*"; }

server_log() {
	if [[ -n $SERVER_LOG && -s $SERVER_LOG ]]; then
		echo "----- server log ($SERVER_LOG, last 60 lines) -----"
		tail -n 60 "$SERVER_LOG"
		echo "----- end of server log -----"
	fi
}

fail() {
	echo "e2e: FAIL: $*" >&2
	server_log >&2
	exit 1
}

cleanup() {
	local rc=$?
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
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

# Preconditions, with the command that fixes each.
[[ -x $SOTA_BIN ]] || fail "$SOTA_BIN not found: run 'make build' (or 'make e2e')"
"$PYTHON" -c 'import openai' 2>/dev/null || fail "the openai Python SDK is not importable by $PYTHON: run 'make e2e-deps'"
command -v "$NODE" >/dev/null || fail "node not found"
[[ -d scripts/e2e/node/node_modules/openai ]] || fail "scripts/e2e/node/node_modules is missing: run 'make e2e-deps' (npm ci)"
command -v curl >/dev/null || fail "curl not found"

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_status URL [curl args...]: prints the HTTP status (000 when no answer).
http_status() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# start_server NAME [serve flags...]: starts bin/sota serve on a free port and
# waits (bounded) for /health 200. Sets SERVER_PID, SERVER_LOG, BASE.
start_server() {
	local name=$1
	shift
	local attempt port
	for attempt in 1 2 3; do
		port=$(free_port)
		SERVER_LOG=$WORK/$name.log
		BASE=http://127.0.0.1:$port
		"$SOTA_BIN" serve --host 127.0.0.1 --port "$port" "$@" >"$SERVER_LOG" 2>&1 &
		SERVER_PID=$!
		log "$name: started $SOTA_BIN serve --port $port${*:+ $*} (pid $SERVER_PID)"
		local deadline=$((SECONDS + HEALTH_WAIT)) status=
		while ((SECONDS < deadline)); do
			if ! kill -0 "$SERVER_PID" 2>/dev/null; then
				wait "$SERVER_PID" && status=0 || status=$?
				if grep -qi 'address already in use' "$SERVER_LOG" && ((attempt < 3)); then
					log "$name: port $port was taken meanwhile; trying another"
					SERVER_PID=
					continue 2
				fi
				SERVER_PID=
				fail "$name: the server exited (status $status) before /health answered 200"
			fi
			if [[ $(http_status "$BASE/health") == 200 ]]; then
				log "$name: /health 200 after $((SECONDS - deadline + HEALTH_WAIT))s"
				return 0
			fi
			sleep 0.2
		done
		fail "$name: /health did not answer 200 within ${HEALTH_WAIT}s (last status $(http_status "$BASE/health"))"
	done
}

# stop_server NAME: SIGTERM, then the server must exit 0 within EXIT_WAIT.
stop_server() {
	local name=$1
	kill -TERM "$SERVER_PID"
	wait_server_exit "$name"
}

wait_server_exit() {
	local name=$1 rc deadline=$((SECONDS + EXIT_WAIT))
	while kill -0 "$SERVER_PID" 2>/dev/null; do
		((SECONDS < deadline)) || fail "$name: the server did not exit within ${EXIT_WAIT}s of SIGTERM"
		sleep 0.1
	done
	wait "$SERVER_PID" && rc=0 || rc=$?
	SERVER_PID=
	[[ $rc == 0 ]] || fail "$name: the server exited with status $rc after SIGTERM, want 0"
	log "$name: server exited 0 after SIGTERM"
}

# check_stream FILE WHAT: FILE is a curl -D- dump of one SSE response that must
# be a 200 ending in data: [DONE] with finish_reason "length" for its choice.
check_stream() {
	local f=$1 what=$2
	[[ $(head -n1 "$f") == *' 200'* ]] || fail "$what: status $(head -n1 "$f"), want 200; response: $(head -c 600 "$f")"
	grep -q '"finish_reason":"length"' "$f" || fail "$what: no finish_reason \"length\"; tail: $(tail -c 600 "$f")"
	[[ $(grep '^data: ' "$f" | tail -n1 | tr -d '\r') == 'data: [DONE]' ]] ||
		fail "$what: does not end with data: [DONE]; tail: $(tail -c 600 "$f")"
	if grep -q '"error"' "$f"; then fail "$what: an error event in the stream: $(grep '"error"' "$f" | head -n1)"; fi
}

MODEL=stories260k
chat_body() { # chat_body MAX_TOKENS
	printf '{"model":"%s","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":%d,"stream":true,"ignore_eos":true}' "$MODEL" "$1"
}

t0=$SECONDS

# ---------------------------------------------------------------- phase 1: demo model, both SDKs
start_server demo
log "demo: Python SDK ($("$PYTHON" -c 'import openai; print(openai.__version__)'))"
"$PYTHON" -u scripts/e2e/python_sdk.py --base-url "$BASE/v1" --model "$MODEL" || fail "Python SDK checks failed"
log "demo: Node SDK (node $("$NODE" --version))"
"$NODE" scripts/e2e/node/sdk.mjs --base-url "$BASE/v1" --model "$MODEL" || fail "Node SDK checks failed"
stop_server demo
t1=$SECONDS

# ---------------------------------------------------------------- phase 2: fake backend, concurrency and drain
start_server fake --backend fake --fake-step-delay 20ms

# 16 concurrent streams (chat and completions) of 40 tokens each: at 20 ms a
# step they take ~0.8 s side by side and 12.8 s one after another.
N=16 TOKENS=40
start=$(now_ms)
pids=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		url=$BASE/v1/chat/completions body=$(chat_body "$TOKENS")
	else
		url=$BASE/v1/completions
		body=$(printf '{"model":"%s","prompt":"Once upon a time","max_tokens":%d,"stream":true,"ignore_eos":true}' "$MODEL" "$TOKENS")
	fi
	curl -sN -D - --max-time 60 -H 'Content-Type: application/json' -d "$body" "$url" >"$WORK/c$i.out" 2>&1 &
	pids+=($!)
	BG_PIDS+=($!)
done
for i in $(seq "$N"); do
	wait "${pids[$((i - 1))]}" || fail "concurrent stream $i: curl failed (status $?); output: $(tail -c 400 "$WORK/c$i.out")"
	check_stream "$WORK/c$i.out" "concurrent stream $i"
done
BG_PIDS=()
elapsed=$(($(now_ms) - start)) serial=$((N * TOKENS * 20))
log "fake: $N concurrent streams of $TOKENS tokens all completed in ${elapsed} ms (one after another: ${serial} ms)"
((elapsed < serial / 2)) || fail "concurrent streams took ${elapsed} ms: not run side by side (one after another: ${serial} ms)"

# Drain: a 150-token stream (~3 s) is running when SIGTERM comes.
curl -sN -D - --max-time 60 -H 'Content-Type: application/json' -d "$(chat_body 150)" \
	"$BASE/v1/chat/completions" >"$WORK/drain.out" 2>&1 &
stream_pid=$!
BG_PIDS+=("$stream_pid")
deadline=$((SECONDS + 10))
until [[ $(grep -c '"content"' "$WORK/drain.out" 2>/dev/null) -ge 3 ]]; do
	((SECONDS < deadline)) || fail "drain: the long stream did not start within 10s; output: $(head -c 600 "$WORK/drain.out")"
	sleep 0.05
done
kill -TERM "$SERVER_PID"
log "fake: SIGTERM sent while a stream runs"
deadline=$((SECONDS + 5))
until [[ $(http_status "$BASE/health") == 503 ]]; do
	((SECONDS < deadline)) || fail "drain: /health did not turn 503 within 5s of SIGTERM"
	sleep 0.05
done
status=$(curl -s -o "$WORK/refused.out" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
	-d "$(chat_body 5)" "$BASE/v1/chat/completions" || true)
[[ $status == 503 ]] || fail "drain: a new request got status $status, want 503; body: $(head -c 400 "$WORK/refused.out")"
grep -q '"error"' "$WORK/refused.out" || fail "drain: the 503 body is not an OpenAI error: $(head -c 400 "$WORK/refused.out")"
kill -0 "$stream_pid" 2>/dev/null || fail "drain: the running stream had already ended when the 503 came (too short to test drain)"
log "fake: during drain /health and a new request got 503 while the stream was still running"
wait "$stream_pid" || fail "drain: the running stream's curl failed (status $?); tail: $(tail -c 600 "$WORK/drain.out")"
BG_PIDS=()
check_stream "$WORK/drain.out" "drain: the running stream"
log "fake: the running stream finished during drain ($(grep -c '"content"' "$WORK/drain.out") content chunks, finish_reason length, [DONE])"
wait_server_exit fake
t2=$SECONDS

log "PASS in $((t2 - t0))s (demo model + SDKs $((t1 - t0))s, fake backend concurrency + drain $((t2 - t1))s)"
