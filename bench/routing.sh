#!/usr/bin/env bash
# Routing benchmarks (issue #6), on 127.0.0.1 only, against the mock upstream:
#
#   1. limits: req/s and latency through Nuri at concurrency 64 (JSON chat) with a per-key limit
#      checked in-process vs in Redis (NURI_REDIS_URL, its own key prefix, deleted afterwards).
#   2. fallback: latency of a request whose model's only route is down with its breaker open
#      (answered by the fallback model) vs the same request when the route is healthy.
#
#   bench/routing.sh                               # both parts
#   BENCH_PARTS=limits bench/routing.sh            # or: fallback
#
# Environment (all optional): BENCH_DURATION=20 BENCH_WARMUP=5 BENCH_CONCURRENCY=64
#   BENCH_FALLBACK_N=500 (sequential requests per fallback case) BENCH_PARTS="limits fallback"
#   BENCH_REDIS_URL=redis://127.0.0.1:6379  BENCH_MOCK_PORT=9200 BENCH_NURI_PORT=9201
#   BENCH_NO_BUILD=1  BENCH_OUT=bench/out  CARGO_TARGET_DIR=<repo>/target
# Prints a markdown report and keeps it (and raw wrk output) under $BENCH_OUT/routing-<stamp>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-5}
CONC=${BENCH_CONCURRENCY:-64}
FALLBACK_N=${BENCH_FALLBACK_N:-500}
PARTS=${BENCH_PARTS:-"limits fallback"}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
MOCK_PORT=${BENCH_MOCK_PORT:-9200}
NURI_PORT=${BENCH_NURI_PORT:-9201}
OUT_DIR=${BENCH_OUT:-$ROOT/bench/out}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
LUA=$ROOT/bench/post_chat.lua
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$OUT_DIR/routing-$STAMP
ADMIN_TOKEN=bench-admin-$RANDOM$RANDOM$RANDOM
PREFIX="nuri-bench:$STAMP:$$:"
mkdir -p "$RUN_DIR"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PIDS=()
TMP=$(mktemp -d /tmp/nuri-routing-bench.XXXXXX)
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX*" 2>/dev/null |
      xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in curl python3 wrk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (wrk: apt-get install -y wrk)"
done
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building release binaries (target dir $TARGET_DIR)"
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p nuri -p nuri-testkit >&2)
fi
[ -x "$BIN/nuri" ] && [ -x "$BIN/nuri-mock-upstream" ] || die "release binaries missing in $BIN"

wait_http() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null --max-time 1 "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
to_ms() {
  python3 -c '
import re,sys
m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", sys.argv[1])
if not m: print("nan"); sys.exit()
v, u = float(m.group(1)), m.group(2)
print("%.3f" % (v / 1000 if u == "us" else v if u == "ms" else v * 1000 if u == "s" else v * 60000))' "$1"
}

"$BIN/nuri-mock-upstream" --listen "127.0.0.1:$MOCK_PORT" --workers 1 --chunks 10 \
  2>"$RUN_DIR/mock.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" 10 || die "mock did not start"

NURI_URL=http://127.0.0.1:$NURI_PORT
NURI_PID=
# Starts nuri with $1 = extra environment ("redis" or "local"); config below.
start_nuri() {
  local mode=$1 dir=$TMP/$1
  mkdir -p "$dir"
  cat >"$dir/nuri.toml" <<EOF
[server]
listen = "127.0.0.1:$NURI_PORT"
[storage]
data_dir = "$dir/data"
[routing]
retry = { max_retries = 0 }
breaker = { consecutive_failures = 1, cool_down_ms = 3600000 }
[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[[providers]]
name = "dead"
kind = "openai_compatible"
base_url = "http://127.0.0.1:9/v1"
timeouts = { connect_ms = 1000 }
[[models]]
name = "bench-chat"
routes = [{ provider = "mock", model = "mock-model" }]
[[models]]
name = "healthy"
routes = [{ provider = "mock", model = "mock-model" }]
fallbacks = ["bench-chat"]
[[models]]
name = "down"
routes = [{ provider = "dead", model = "mock-model" }]
fallbacks = ["bench-chat"]
EOF
  local env=(NURI_ADMIN_TOKEN="$ADMIN_TOKEN" NURI_LOG=warn)
  [ "$mode" = redis ] && env+=(NURI_REDIS_URL="$REDIS_URL" NURI_REDIS_PREFIX="$PREFIX")
  (cd "$dir" && exec env "${env[@]}" "$BIN/nuri" serve) >"$RUN_DIR/nuri-$mode.log" 2>&1 &
  NURI_PID=$!
  PIDS+=("$NURI_PID")
  wait_http "$NURI_URL/readyz" 30 || die "nuri ($mode) did not start (see $RUN_DIR/nuri-$mode.log)"
}
stop_nuri() { kill "$NURI_PID" 2>/dev/null || true; wait "$NURI_PID" 2>/dev/null || true; }

# Creates org -> project -> key and gives the key a limit high enough never to refuse, so every
# request pays for a limit check (the CLI sets it: nuri admin keys limits).
create_key() {
  export NURI_URL NURI_ADMIN_TOKEN=$ADMIN_TOKEN
  local org project key id
  org=$("$BIN/nuri" admin orgs create --name bench --json | json_get id)
  project=$("$BIN/nuri" admin projects create --org "$org" --name bench --json | json_get id)
  key=$("$BIN/nuri" admin keys create --project "$project" --json)
  id=$(printf '%s' "$key" | json_get id)
  "$BIN/nuri" admin keys limits "$id" --rpm 1000000000 --tpm 1000000000000 --json >/dev/null
  printf '%s' "$key" | json_get key
}

# req/s p50 p99 non-2xx of one wrk cell
wrk_cell() { # name key
  local raw=$RUN_DIR/$1.txt
  NURI_BENCH_KEY=$2 BENCH_MODEL=bench-chat BENCH_STREAM=0 \
    wrk -t1 -c"$CONC" -d"${WARMUP}s" -s "$LUA" "$NURI_URL/v1/chat/completions" >/dev/null 2>&1 || true
  NURI_BENCH_KEY=$2 BENCH_MODEL=bench-chat BENCH_STREAM=0 \
    wrk -t1 -c"$CONC" -d"${DURATION}s" --latency -s "$LUA" "$NURI_URL/v1/chat/completions" >"$raw" 2>&1 || true
  printf '%s %s %s %s\n' "$(awk '/^Requests\/sec:/ { print $2 }' "$raw")" \
    "$(to_ms "$(awk '$1 == "50%" { print $2 }' "$raw")")" \
    "$(to_ms "$(awk '$1 == "99%" { print $2 }' "$raw")")" \
    "$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$raw")"
}

# p50 p99 of curl time_total (ms) over FALLBACK_N sequential requests to model $1
latency() { # model key
  local body='{"model":"'"$1"'","messages":[{"role":"user","content":"hi"}],"max_tokens":16}'
  for ((i = 0; i < FALLBACK_N; i++)); do
    curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}\n' \
      -H 'Content-Type: application/json' -H "Authorization: Bearer $2" -d "$body" \
      "$NURI_URL/v1/chat/completions" || true
  done | python3 -c '
import sys
ok = sorted(float(t) * 1000 for c, t in (l.split() for l in sys.stdin if l.strip()) if c == "200")
q = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))] if ok else float("nan")
print("%.3f %.3f %d" % (q(0.5), q(0.99), len(ok)))'
}

declare -A R
for mode in local redis; do
  [[ " $PARTS " == *" limits "* ]] || [ "$mode" = local ] || continue
  start_nuri "$mode"
  KEY=$(create_key)
  if [[ " $PARTS " == *" limits "* ]]; then
    log "limits ($mode): wrk c=$CONC ${WARMUP}s + ${DURATION}s"
    R[limits,$mode]=$(wrk_cell "limits-$mode" "$KEY")
  fi
  if [ "$mode" = local ] && [[ " $PARTS " == *" fallback "* ]]; then
    log "fallback: opening the breaker of model 'down'"
    FALLBACK_N=3 latency down "$KEY" >/dev/null
    log "fallback: $FALLBACK_N sequential requests per case"
    R[fb,healthy]=$(latency healthy "$KEY")
    R[fb,down]=$(latency down "$KEY")
  fi
  stop_nuri
done

{
  echo "### Routing run $STAMP"
  echo
  echo "- machine: $(nproc) CPUs, $(uname -sr); load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- mock: nuri-mock-upstream --workers 1 --chunks 10; JSON chat; key limit rpm=1e9 (always checked)"
  if [[ " $PARTS " == *" limits "* ]]; then
    echo
    echo "| limits | c | req/s | p50 ms | p99 ms | non-2xx |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for mode in local redis; do
      read -r rps p50 p99 non2xx <<<"${R[limits,$mode]:-nan nan nan nan}"
      echo "| ${mode/local/in-process} | $CONC | $rps | $p50 | $p99 | ${non2xx:-0} |"
    done
  fi
  if [[ " $PARTS " == *" fallback "* ]]; then
    echo
    echo "| fallback case ($FALLBACK_N sequential curl requests) | p50 ms | p99 ms | answered 200 |"
    echo "| --- | --- | --- | --- |"
    read -r h50 h99 hn <<<"${R[fb,healthy]}"
    read -r d50 d99 dn <<<"${R[fb,down]}"
    echo "| first route healthy (model answers itself) | $h50 | $h99 | $hn |"
    echo "| first route down, breaker open (fallback answers) | $d50 | $d99 | $dn |"
  fi
} | tee "$RUN_DIR/report.md"
