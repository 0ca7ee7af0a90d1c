#!/usr/bin/env bash
# readme-check.sh: the README's first hour, run as printed on a fresh clone of
# what is committed (git clone of this repository into a temporary folder), so
# that a README that drifts from the code fails CI.
#
# It runs the code blocks the README marks:
#   <!-- readme-check: setup -->  the set-up commands: `make run` is started in
#                                 the background (it serves) and waited for on
#                                 /health; the others (`make test`) run after the
#                                 examples, with the server stopped.
#   <!-- readme-check: run -->    an example (```sh or ```python) run as printed
#                                 while `make run` serves; it must exit 0, print
#                                 something, and print no OpenAI error object.
#
# CI time: the README's `make test` is the whole suite, the expensive part of
# CI. Running it here and again in .ci/run would double it, so .ci/run does not
# run `make test` itself: this script's run of it, on a fresh clone, is CI's
# test run (stronger: it tests what is committed, with no build outputs, .venv
# or .tools left from before). README_CHECK_SKIP_TEST=1 skips it (local use).
#
#   README_CHECK_PORT    serve on this port instead of the README's 8080 (for
#                        shared machines; the examples are rewritten to match)
#   README_CHECK_PYTHON  interpreter with the openai package for the Python
#                        examples (default: .venv/bin/python, then python3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/readme-check.XXXXXX")
CLONE=$WORK/sota
SERVER_PGID=
log() { echo "readme-check: $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

stop_server() {
	[[ -n $SERVER_PGID ]] || return 0
	kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.2; done
	kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
	SERVER_PGID=
}
cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PY=${README_CHECK_PYTHON:-}
if [[ -z $PY ]]; then
	for p in "$ROOT/.venv/bin/python" python3; do
		if "$p" -c 'import openai' 2>/dev/null; then PY=$p; break; fi
	done
fi

# ---------------------------------------------------------------- a fresh clone
git clone -q "$ROOT" "$CLONE"
log "clone of $(git -C "$CLONE" rev-parse --short HEAD) in $CLONE"
cd "$CLONE"
if [[ -z ${SOTA_SHARED_MODELS:-} && -d $ROOT/../shared/models ]]; then
	export SOTA_SHARED_MODELS=$ROOT/../shared/models # beside the checkout, not beside the clone
fi

# ---------------------------------------------------------------- the README's blocks
# The committed README's: writes $WORK/blocks/NNN.{setup,run}.{sh,python}, one per marked block.
mkdir -p "$WORK/blocks"
awk -v dir="$WORK/blocks" '
	/^<!-- readme-check: (setup|run) -->$/ { kind = ($3 == "setup:" || $3 == "setup") ? "setup" : "run"; want = 1; next }
	want && /^```/ {
		lang = substr($0, 4); if (lang == "") lang = "sh"
		n++; file = sprintf("%s/%03d.%s.%s", dir, n, kind, lang); inblock = 1; want = 0; next
	}
	inblock && /^```$/ { inblock = 0; close(file); next }
	inblock { print > file }
' "$CLONE/README.md"
mapfile -t BLOCKS < <(ls "$WORK/blocks" | sort)
((${#BLOCKS[@]} > 0)) || fail "README.md marks no blocks (<!-- readme-check: setup|run -->)"
SETUP=("$WORK"/blocks/*.setup.sh)
[[ -f ${SETUP[0]} ]] || fail "README.md marks no set-up block"

PORT=8080
if [[ -n ${README_CHECK_PORT:-} ]]; then
	PORT=$README_CHECK_PORT
	export SOTA_PORT=$PORT
	sed -i "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/g" "$WORK"/blocks/*
fi
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
	fail "port $PORT is in use: stop what listens there, or set README_CHECK_PORT"
fi

# ---------------------------------------------------------------- set-up: make run
LATER=()
while IFS= read -r line; do
	cmd=${line%%#*}
	[[ -n ${cmd// /} ]] || continue
	if [[ $cmd =~ ^make\ run ]]; then
		log "\$ $line   (in the background)"
		setsid bash -c "$cmd" >"$WORK/run.log" 2>&1 &
		SERVER_PGID=$!
	else
		LATER+=("$line")
	fi
done <"${SETUP[0]}"
[[ -n $SERVER_PGID ]] || fail "the set-up block has no 'make run'"
for _ in $(seq 600); do # a cold build takes a while
	[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health") == 200 ]] && break
	kill -0 -- "-$SERVER_PGID" 2>/dev/null || { cat "$WORK/run.log" >&2; fail "make run exited"; }
	sleep 0.5
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health") == 200 ]] || {
	tail -20 "$WORK/run.log" >&2
	fail "make run: /health not 200 on port $PORT"
}
log "make run serves on http://127.0.0.1:$PORT"

# ---------------------------------------------------------------- the examples
for b in "${BLOCKS[@]}"; do
	[[ $b == *.run.* ]] || continue
	f=$WORK/blocks/$b
	case $b in
	*.sh) runner=(bash -euo pipefail "$f") ;;
	*.python)
		if [[ -z $PY ]]; then
			[[ -z ${CI:-} ]] || fail "$b: no Python with the openai package (make e2e-deps installs it into .venv)"
			log "skip $b: no Python with the openai package (pip install openai, or README_CHECK_PYTHON)"
			continue
		fi
		runner=("$PY" "$f")
		;;
	*) fail "$b: a block of a language this script does not run" ;;
	esac
	log "run $b:"
	sed 's/^/    /' "$f" >&2
	if ! out=$(timeout 120 "${runner[@]}" 2>&1); then
		echo "$out" >&2
		fail "$b exited non-zero"
	fi
	echo "$out" | head -c 2000 | sed 's/^/  > /' >&2
	echo >&2
	[[ -n ${out//[[:space:]]/} ]] || fail "$b printed nothing"
	[[ $out != *'"error":'* ]] || fail "$b got an error response"
done
stop_server

# ---------------------------------------------------------------- set-up: the rest (make test)
for line in "${LATER[@]}"; do
	if [[ ${README_CHECK_SKIP_TEST:-} == 1 && $line =~ ^make\ test ]]; then
		log "skip: $line (README_CHECK_SKIP_TEST=1)"
		continue
	fi
	log "\$ $line"
	bash -euo pipefail -c "$line"
done
log "ok: the README's set-up commands and ${#BLOCKS[@]} blocks work as printed"
