#!/usr/bin/env bash
# End-to-end check of stream caps shared across replicas through Redis (run
# by `make e2e`; needs bin/sota and redis-server, which `make redis` installs).
#
# One redis-server (no persistence) on a free port, one SQLite key database
# with tenant acme on tier solo (3 streams, queue 1, queue_wait 2s), and two
# `sota serve --backend fake --fake-step-delay 50ms --redis-url ...
# --redis-lease-ttl 2s` replicas, A and B, on different ports:
#
#   1. two long streams on A and a short one on B run (3 across replicas);
#      a fourth, on A, waits, and starts when B's short stream ends (the
#      hand-over crosses replicas); meanwhile a fifth, on B, gets 429 at once;
#   2. SIGKILL A while it holds 3 streams: B sees the tenant's slots come
#      free within the lease TTL (2 s, plus a poll), then serves 3 streams at
#      once again, and a further request on B waits (the cap is back to 3).
#
# Override with $SOTA_BIN, $REDIS_SERVER, $PYTHON. Any failure prints the
# replicas' logs and exits 1; everything it started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SOTA_BIN=${SOTA_BIN:-$ROOT/bin/sota}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
PYTHON=${PYTHON:-python3}
TTL_MS=2000

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sota-e2e-redis.XXXXXX")
PIDS=() # servers and clients to stop on exit
REDIS_PID= A_PID= B_PID= A= B=

log() { printf 'e2e-redis: %s\n' "$*"; }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

fail() {
	echo "e2e-redis: FAIL: $*" >&2
	for f in "$WORK"/replica-*.log; do
		[[ -s $f ]] || continue
		echo "----- $(basename "$f") (last 40 lines) -----" >&2
		tail -n 40 "$f" >&2
	done
	exit 1
}

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}" $A_PID $B_PID $REDIS_PID; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x $SOTA_BIN ]] || fail "$SOTA_BIN not found: run 'make build'"
command -v "$REDIS_SERVER" >/dev/null || fail "redis-server not found: run 'make redis'"
command -v curl >/dev/null || fail "curl not found"

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------------ setup
RPORT=$(free_port)
"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
	--logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$RPORT") 2>/dev/null && break
	sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$RPORT") 2>/dev/null || fail "redis-server did not listen on $RPORT"
log "redis-server on port $RPORT (pid $REDIS_PID)"

DB=$WORK/sota.db TIERS=$WORK/tiers.yaml
cat >"$TIERS" <<'EOF'
tiers:
  solo: {streams: 3, queue: 1, queue_wait: 2s, retry_after: 5, models: ["*"], priorities: [slow, medium], weight: 1}
EOF
KEY=$("$SOTA_BIN" keys create --db "$DB" --tiers "$TIERS" --tenant acme --tier solo)
[[ $KEY == sk-sota-* ]] || fail "keys create printed '$KEY'"

# start_replica NAME: sets REPLICA_PID and REPLICA_BASE.
start_replica() {
	local name=$1 port
	port=$(free_port)
	REPLICA_BASE=http://127.0.0.1:$port
	"$SOTA_BIN" serve --host 127.0.0.1 --port "$port" --backend fake --fake-step-delay 50ms \
		--db "$DB" --tiers "$TIERS" --redis-url "redis://127.0.0.1:$RPORT/0" --redis-lease-ttl "${TTL_MS}ms" \
		>"$WORK/replica-$name.log" 2>&1 &
	REPLICA_PID=$!
	local deadline=$((SECONDS + 60))
	until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health" || true) == 200 ]]; do
		kill -0 "$REPLICA_PID" 2>/dev/null || fail "replica $name exited before /health answered 200"
		((SECONDS < deadline)) || fail "replica $name: /health not 200 within 60s"
		sleep 0.1
	done
}

start_replica A
A=$REPLICA_BASE A_PID=$REPLICA_PID
start_replica B
B=$REPLICA_BASE B_PID=$REPLICA_PID
log "replicas A $A (pid $A_PID), B $B (pid $B_PID), lease TTL ${TTL_MS}ms"

# stream NAME BASE MAX_TOKENS: a streaming completion in the background,
# headers and body into $WORK/NAME.out.
stream() {
	local body
	body=$(printf '{"model":"stories260k","prompt":"Once upon a time","max_tokens":%d,"stream":true,"ignore_eos":true}' "$3")
	curl -sN -D - --max-time 60 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
		-d "$body" "$2/v1/completions" >"$WORK/$1.out" 2>&1 &
	PIDS+=($!)
	eval "PID_$1=$!"
}

status_of() { head -n1 "$WORK/$1.out" 2>/dev/null | awk '{print $2}'; }

# wait_status NAME: the status of stream NAME once its headers arrived (a
# granted stream's headers go with its first token, a step or more later),
# waiting at most 3 s.
wait_status() {
	local deadline=$(($(now_ms) + 3000))
	while [[ -z $(status_of "$1") ]] && (($(now_ms) < deadline)); do sleep 0.02; done
	status_of "$1"
}

# streams BASE: "running queued" of acme, as the replica at BASE sees them.
streams() {
	curl -s --max-time 5 -H "Authorization: Bearer $KEY" "$1/v1/usage" |
		"$PYTHON" -c 'import json,sys; s=json.load(sys.stdin)["streams"]; print(s["running"], s["queued"])'
}

# wait_streams BASE "R Q" WITHIN_MS WHAT
wait_streams() {
	local deadline=$(($(now_ms) + $3)) got
	while got=$(streams "$1"); [[ $got != "$2" ]]; do
		(($(now_ms) < deadline)) || fail "$4: acme streams (running queued) = '$got', want '$2' within $3 ms"
		sleep 0.02
	done
}

# ------------------------------------------------------------------ 1: the cap holds across replicas
stream s1 "$A" 400 # 20 s
stream s2 "$A" 400
stream s3 "$B" 400
wait_streams "$A" "3 0" 5000 "three streams across A and B"
wait_streams "$B" "3 0" 1000 "B sees A's streams"
stream s4 "$A" 400
wait_streams "$B" "3 1" 1000 "the fourth waits"
t=$(now_ms)
code=$(curl -s -o "$WORK/s5.out" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $KEY" \
	-H 'Content-Type: application/json' -d '{"model":"stories260k","prompt":"x","max_tokens":5}' "$B/v1/completions")
[[ $code == 429 ]] || fail "the fifth (on B) got $code, want 429: $(head -c 300 "$WORK/s5.out")"
grep -q '"stream_capacity_exceeded"' "$WORK/s5.out" || fail "the 429's body: $(head -c 300 "$WORK/s5.out")"
log "1: 3 streams across A and B, a 4th queued, the 5th got 429 in $(($(now_ms) - t)) ms"
[[ $(wait_status s3) == 200 ]] || fail "s3: $(head -c 300 "$WORK/s3.out")"
kill "$PID_s3" # the client goes away: B frees the slot
t=$(now_ms)
wait_streams "$A" "3 0" 1500 "the fourth (on A) takes B's freed slot"
[[ $(wait_status s4) == 200 ]] || fail "s4: status '$(status_of s4)', want 200 (queued, then granted)"
log "1: B's client left and A's queued 4th started $(($(now_ms) - t)) ms later (hand-over across replicas)"

# ------------------------------------------------------------------ 2: a replica dies holding streams
kill -KILL "$A_PID" 2>/dev/null
killed=$(now_ms)
{ wait "$A_PID"; } 2>/dev/null || true
A_PID=
wait_streams "$B" "0 0" $((TTL_MS + 1500)) "A's slots come free within the lease TTL"
freed=$(($(now_ms) - killed))
log "2: SIGKILL A (3 streams): its slots came free after $freed ms (lease TTL $TTL_MS ms)"
stream t1 "$B" 100
stream t2 "$B" 100
stream t3 "$B" 100
wait_streams "$B" "3 0" 3000 "B serves 3 streams after A died"
stream t4 "$B" 5
wait_streams "$B" "3 1" 1000 "a 4th on B waits: the cap is 3 again, not more"
for s in t1 t2 t3; do
	wait "$(eval echo "\$PID_$s")" || fail "$s failed"
	[[ $(status_of $s) == 200 ]] && grep -q 'data: \[DONE\]' "$WORK/$s.out" || fail "$s: $(tail -c 300 "$WORK/$s.out")"
done
log "2: B served 3 streams again, a 4th queued"

kill -TERM "$B_PID"
wait "$B_PID" || fail "replica B exited $? after SIGTERM, want 0"
B_PID=
grep -q '"level":"ERROR"\|level=ERROR' "$WORK/replica-B.log" && fail "replica B logged an error: $(grep -m1 'ERROR' "$WORK/replica-B.log")"
log "PASS"
