#!/usr/bin/env bash
# The write-path benchmark of issue 20: the reference's tool and command against a release
# `orrery cluster --nodes 0`.
#
#   scripts/bench-write-path.sh path/to/release/orrery [duration, default 15s]
#
# Builds nothing: give it the binary (`cargo build --release -p orrery`). Starts the cluster on
# a temporary data dir (a free port), and for each of ../shared/bench's create-configmaps.lua
# and create-pods.lua creates a fresh namespace and runs `wrk -t2 -c16 -d<duration>`, then
# prints creates/s, p50, p99, non-2xx and socket errors as wrk reports them, the objects the
# server actually holds, and the server's CPU seconds (user + system, from /proc) per thousand
# creates. Everything it started is stopped and the data dir removed on exit.
set -euo pipefail

BIN=${1:?usage: $0 path/to/orrery [duration]}
DURATION=${2:-15s}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-$HERE/../../shared/bench}
[ -d "$BENCH_DIR" ] || BENCH_DIR=/work/shared/bench
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is required (scripts/install-test-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 1; }

DATA=$(mktemp -d /tmp/orrery-bench-write.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    # Bounded: a server that ignores SIGTERM for 10 s is killed.
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

RUST_LOG=${RUST_LOG:-warn} "$BIN" cluster --nodes 0 --data-dir "$DATA" --listen 127.0.0.1:0 \
  >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  grep -q '^kubeconfig ' "$DATA/server.log" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
  sleep 0.1
done
KUBECONFIG_FILE=$(sed -n 's/^kubeconfig //p' "$DATA/server.log" | head -1)
[ -n "$KUBECONFIG_FILE" ] || { echo "the server did not start in 30 s" >&2; cat "$DATA/server.log" >&2; exit 1; }
SERVER=$(sed -n 's/^ *server: *//p' "$KUBECONFIG_FILE" | head -1 | tr -d '"')
TOKEN=$(sed -n 's/^ *token: *//p' "$KUBECONFIG_FILE" | head -1 | tr -d '"')
[ -n "$SERVER" ] && [ -n "$TOKEN" ] || { echo "no server or token in $KUBECONFIG_FILE" >&2; exit 1; }

api() { curl -sk --max-time 10 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
for _ in $(seq 100); do
  [ "$(api -o /dev/null -w '%{http_code}' "$SERVER/readyz")" = 200 ] && break
  sleep 0.1
done

TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

echo "binary $BIN; server $SERVER; pid $PID; $(nproc) cores; $(uptime | sed 's/.*load average/load average/')"
for kind in configmaps pods; do
  ns="bench-$kind-$(date +%s)-$RANDOM"
  api -o /dev/null -X POST "$SERVER/api/v1/namespaces" \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
  # PERF_OUT=prefix: also samples the server with `perf record` during the run (flat profile;
  # PERF_ARGS adds e.g. `--call-graph dwarf`), into prefix-<kind>.data.
  perf_pid=
  if [ -n "${PERF_OUT:-}" ]; then
    # shellcheck disable=SC2086
    perf record -F 999 ${PERF_ARGS:-} -p "$PID" -o "$PERF_OUT-$kind.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  before=$(cpu_ticks)
  out=$(TOKEN=$TOKEN NS=$ns wrk -t2 -c16 -d"$DURATION" -s "$BENCH_DIR/create-$kind.lua" "$SERVER")
  after=$(cpu_ticks)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
  fi
  # The objects really created, from the server (a one-item page counts the rest).
  held=$(api "$SERVER/api/v1/namespaces/$ns/$kind?limit=1" |
    jq '(.items | length) + (.metadata.remainingItemCount // 0)')
  cpu=$(awk -v t="$((after - before))" -v hz="$TICKS" 'BEGIN{printf "%.2f", t / hz}')
  per_k=$(awk -v t="$((after - before))" -v hz="$TICKS" -v n="$held" \
    'BEGIN{ if (n > 0) printf "%.3f", t / hz / n * 1000; else print "n/a" }')
  summary=$(grep '^created/s' <<<"$out" || echo "wrk printed no summary")
  socket=$(grep -i 'socket errors' <<<"$out" | sed 's/^ *//' || true)
  echo "$kind: $summary; socket errors: ${socket:-none}; objects held $held; server CPU ${cpu}s = ${per_k} s per 1000 creates"
done
