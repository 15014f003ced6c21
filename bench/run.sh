#!/usr/bin/env bash
# Gateway overhead benchmark: the mock upstream hit directly vs through Nuri, with wrk.
# Method: shared/docs/performance.md. Everything listens on and talks to 127.0.0.1 only.
#
#   bench/run.sh                     # full run: direct + nuri, JSON + SSE, c = 1 16 64, 20 s each
#   BENCH_ONLY=direct bench/run.sh   # the mock alone (no nuri binary needed)
#
# Environment (all optional):
#   BENCH_DURATION=20        seconds measured per cell        BENCH_WARMUP=5   warm-up seconds per cell
#   BENCH_CONCURRENCY="1 16 64"                               BENCH_MODES="json sse"
#   BENCH_ONLY=all|direct|nuri                                BENCH_NO_BUILD=1 skip cargo build
#   BENCH_MOCK_PORT=9100     BENCH_NURI_PORT=9101             BENCH_TTFB_N=200 curl samples for TTFB
#   BENCH_CREDITS=on|off     on: the priced bench model is paid from a grant (reserve + settle per
#                            request); off: billing.credits = false (metered, not charged)
#   BENCH_OUT=bench/out      CARGO_TARGET_DIR=<repo>/target
# Prints a markdown report on stdout and keeps it (and the raw wrk output) under $BENCH_OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-5}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
MODES=${BENCH_MODES:-"json sse"}
ONLY=${BENCH_ONLY:-all}
MOCK_PORT=${BENCH_MOCK_PORT:-9100}
NURI_PORT=${BENCH_NURI_PORT:-9101}
TTFB_N=${BENCH_TTFB_N:-200}
CREDITS=${BENCH_CREDITS:-on}
OUT_DIR=${BENCH_OUT:-$ROOT/bench/out}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
LUA=$ROOT/bench/post_chat.lua
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$OUT_DIR/$STAMP
mkdir -p "$RUN_DIR"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PIDS=()
TMP_DIRS=()
cleanup() {
  local rc=$? pid d
  for pid in "${PIDS[@]:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]:-}"; do # SIGTERM drains; never leave a process behind on the port
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  for d in "${TMP_DIRS[@]:-}"; do
    if [ -n "$d" ]; then rm -rf "$d"; fi
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ------------------------------------------------------------------------------------
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  log "installing wrk (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then die "wrk is missing; install it with: sudo apt-get install -y wrk"; fi
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
    || die "could not install wrk"
}
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
ensure_wrk

# --- build ------------------------------------------------------------------------------------
HAVE_NURI=0
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building release binaries (target dir $TARGET_DIR)"
  if [ "$ONLY" != direct ] && [ -d "$ROOT/crates/nuri" ]; then
    if ! (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p nuri -p nuri-testkit >&2); then
      log "building nuri failed; falling back to the mock alone"
      (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p nuri-testkit >&2)
    fi
  else
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p nuri-testkit >&2)
  fi
fi
[ -x "$BIN/nuri-mock-upstream" ] || die "$BIN/nuri-mock-upstream not built"
if [ "$ONLY" != direct ] && [ -x "$BIN/nuri" ]; then HAVE_NURI=1; fi
if [ "$ONLY" = nuri ] && [ "$HAVE_NURI" = 0 ]; then die "BENCH_ONLY=nuri but $BIN/nuri is missing"; fi

# --- helpers ----------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # url seconds
  local url=$1 deadline=$((SECONDS + $2))
  until curl -s -o /dev/null --max-time 1 "$url"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

rss_kb() { # pid field (VmHWM = peak, VmRSS = now)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

json_get() { # key  (reads JSON on stdin, prints .key)
  python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# wrk latency string (e.g. 123.45us, 1.20ms, 2.00s) -> milliseconds
to_ms() {
  python3 -c '
import re,sys
m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", sys.argv[1])
if not m: print("nan"); sys.exit()
v, u = float(m.group(1)), m.group(2)
print("%.3f" % (v / 1000 if u == "us" else v if u == "ms" else v * 1000 if u == "s" else v * 60000))' "$1"
}

# Runs one wrk cell; prints "req_s p50_ms p99_ms non2xx socket_errors".
run_cell() { # name url mode conc model key
  local name=$1 url=$2 mode=$3 conc=$4 model=$5 key=$6 raw
  local stream=0
  [ "$mode" = sse ] && stream=1
  raw=$RUN_DIR/$name-$mode-c$conc.txt
  if [ "$WARMUP" -gt 0 ]; then
    BENCH_STREAM=$stream BENCH_MODEL=$model NURI_BENCH_KEY=$key \
      timeout $((WARMUP + 15)) wrk -t1 -c"$conc" -d"${WARMUP}s" -s "$LUA" "$url" >/dev/null 2>&1 || true
  fi
  BENCH_STREAM=$stream BENCH_MODEL=$model NURI_BENCH_KEY=$key \
    timeout $((DURATION + 30)) wrk -t1 -c"$conc" -d"${DURATION}s" --latency -s "$LUA" "$url" >"$raw" 2>&1 || true
  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
  p50=$(awk '$1 == "50%" { print $2 }' "$raw")
  p99=$(awk '$1 == "99%" { print $2 }' "$raw")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$raw")
  errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$raw")
  printf '%s %s %s %s %s\n' "${rps:-0}" "$(to_ms "${p50:-x}")" "$(to_ms "${p99:-x}")" \
    "${non2xx:-0}" "${errors:-0}"
}

# p50 of curl's time_starttransfer (ms) over $TTFB_N sequential streaming requests.
ttfb_p50() { # url model key
  local i body
  body='{"model":"'"$2"'","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"stream":true}'
  local deadline=$((SECONDS + 60)) # bounded even when the target hangs
  for ((i = 0; i < TTFB_N && SECONDS < deadline; i++)); do
    curl -s -o /dev/null --max-time 2 -w '%{time_starttransfer}\n' \
      -H 'Content-Type: application/json' -H "Authorization: Bearer $3" -d "$body" "$1" || true
  done | python3 -c '
import statistics,sys
v = sorted(float(x) * 1000 for x in sys.stdin if x.strip() and float(x) > 0)
print("%.3f" % statistics.median(v) if v else "nan")'
}

# --- the mock ---------------------------------------------------------------------------------
port_free "$MOCK_PORT" || die "port $MOCK_PORT is busy"
"$BIN/nuri-mock-upstream" --listen "127.0.0.1:$MOCK_PORT" --workers 1 --chunks 10 \
  2>"$RUN_DIR/mock.log" &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models" 10 || die "mock did not start (see $RUN_DIR/mock.log)"
log "mock upstream pid $MOCK_PID on 127.0.0.1:$MOCK_PORT"

# --- nuri -------------------------------------------------------------------------------------
NURI_PID=
NURI_KEY=
ADMIN_TOKEN=bench-admin-$RANDOM$RANDOM$RANDOM
NURI_URL=http://127.0.0.1:$NURI_PORT

# Creates org -> project -> key with the `nuri admin` CLI and prints the key.
# Falls back to the admin HTTP API (contract: POST /admin/v1/orgs, /orgs/{id}/projects,
# /projects/{id}/keys) when the CLI's shape differs. Adjust here if the CLI changes.
create_key() {
  local org project key
  export NURI_URL NURI_ADMIN_TOKEN=$ADMIN_TOKEN
  if org=$("$BIN/nuri" admin orgs create --name bench --json 2>>"$RUN_DIR/admin.log" | json_get id) &&
    project=$("$BIN/nuri" admin projects create --org "$org" --name bench --json 2>>"$RUN_DIR/admin.log" | json_get id) &&
    key=$("$BIN/nuri" admin keys create --project "$project" --json 2>>"$RUN_DIR/admin.log" | json_get key) &&
    grant_credits "$org"; then
    printf '%s\n' "$key"
    return 0
  fi
  log "nuri admin CLI failed (see $RUN_DIR/admin.log); trying the admin API"
  local auth="Authorization: Bearer $ADMIN_TOKEN"
  org=$(curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
    "$NURI_URL/admin/v1/orgs" | json_get id) || return 1
  project=$(curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
    "$NURI_URL/admin/v1/orgs/$org/projects" | json_get id) || return 1
  curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
    "$NURI_URL/admin/v1/projects/$project/keys" | json_get key
}

# With credits on, gives the organisation a programme's grant big enough for the whole run.
grant_credits() { # org
  [ "$CREDITS" = on ] || return 0
  local programme
  programme=$("$BIN/nuri" admin programmes create --name bench --sponsor bench --budget 1000000000000000 \
    --json 2>>"$RUN_DIR/admin.log" | json_get id) &&
    "$BIN/nuri" admin grants create --programme "$programme" --org "$1" --amount 1000000000000000 \
      --json >>"$RUN_DIR/admin.log" 2>&1
}

start_nuri() {
  port_free "$NURI_PORT" || die "port $NURI_PORT is busy"
  local dir
  dir=$(mktemp -d /tmp/nuri-bench.XXXXXX)
  TMP_DIRS+=("$dir")
  cat >"$dir/nuri.toml" <<EOF
[server]
listen = "127.0.0.1:$NURI_PORT"

[storage]
data_dir = "$dir/data"

[billing]
credits = $([ "$CREDITS" = on ] && echo true || echo false)

[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"

[[models]]
name = "bench-chat"
routes = [{ provider = "mock", model = "mock-model" }]
price = { input_per_million = 1000, output_per_million = 3000 }
max_output_tokens = 4096
EOF
  # nuri reads nuri.toml from its working directory; the env vars say the same for safety.
  (cd "$dir" && NURI_ADMIN_TOKEN=$ADMIN_TOKEN NURI_LISTEN=127.0.0.1:$NURI_PORT \
    NURI_DATA_DIR=$dir/data RUST_LOG=${RUST_LOG:-warn} exec "$BIN/nuri" serve) \
    >"$RUN_DIR/nuri.log" 2>&1 &
  NURI_PID=$!
  PIDS+=("$NURI_PID")
  if ! wait_http "$NURI_URL/readyz" 30; then
    log "nuri did not become ready (see $RUN_DIR/nuri.log)"
    return 1
  fi
  NURI_KEY=$(create_key) || { log "could not create an API key"; return 1; }
  local code
  code=$(curl -s -o "$RUN_DIR/nuri-smoke.json" -w '%{http_code}' -H "Authorization: Bearer $NURI_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"model":"bench-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":64}' \
    "$NURI_URL/v1/chat/completions")
  [ "$code" = 200 ] || { log "smoke request through nuri answered $code"; return 1; }
  log "nuri pid $NURI_PID on $NURI_URL, key ${NURI_KEY:0:12}…"
}

if [ "$HAVE_NURI" = 1 ]; then
  start_nuri || { log "nuri unusable; measuring the mock alone"; HAVE_NURI=0; }
fi

# --- cells ------------------------------------------------------------------------------------
TARGETS=()
[ "$ONLY" != nuri ] && TARGETS+=(direct)
[ "$HAVE_NURI" = 1 ] && TARGETS+=(nuri)
declare -A RESULT
for target in "${TARGETS[@]}"; do
  if [ "$target" = direct ]; then
    url=http://127.0.0.1:$MOCK_PORT/v1/chat/completions model=mock-model key=sk-bench-direct
  else
    url=$NURI_URL/v1/chat/completions model=bench-chat key=$NURI_KEY
  fi
  for mode in $MODES; do
    for c in $CONCURRENCY; do
      log "$target $mode c=$c (${WARMUP}s warm-up + ${DURATION}s)"
      RESULT[$target,$mode,$c]=$(run_cell "$target" "$url" "$mode" "$c" "$model" "$key")
    done
  done
  if [[ " $MODES " == *" sse "* ]]; then
    log "$target time to first byte, $TTFB_N sequential curl requests"
    RESULT[$target,ttfb]=$(ttfb_p50 "$url" "$model" "$key")
  fi
done
MOCK_HWM=$(rss_kb "$MOCK_PID" VmHWM)
NURI_HWM=
[ -n "$NURI_PID" ] && [ "$HAVE_NURI" = 1 ] && NURI_HWM=$(rss_kb "$NURI_PID" VmHWM)

# --- report -----------------------------------------------------------------------------------
{
  echo "### Run $STAMP"
  echo
  echo "- machine: $(nproc) CPUs, $(uname -sr); load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- wrk -t1 -cC --latency -d${DURATION}s (after ${WARMUP}s warm-up), bench/post_chat.lua;" \
    "mock: nuri-mock-upstream --workers 1 --chunks 10"
  echo "- latency is time to last byte (also for SSE); req/s and p50/p99 per cell; credits: $CREDITS"
  echo
  echo "| target | mode | c | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for target in "${TARGETS[@]}"; do
    for mode in $MODES; do
      for c in $CONCURRENCY; do
        read -r rps p50 p99 non2xx errors <<<"${RESULT[$target,$mode,$c]}"
        echo "| $target | $mode | $c | $rps | $p50 | $p99 | $non2xx | $errors |"
      done
    done
  done
  echo
  if [ -n "${RESULT[direct,ttfb]:-}" ] || [ -n "${RESULT[nuri,ttfb]:-}" ]; then
    echo "- SSE time to first byte, p50 of $TTFB_N sequential curl requests (new connection each):" \
      "direct ${RESULT[direct,ttfb]:-n/a} ms, nuri ${RESULT[nuri,ttfb]:-n/a} ms"
  fi
  if [ "$HAVE_NURI" = 1 ] && [ "$ONLY" != nuri ]; then
    for mode in $MODES; do
      read -r _ d50 d99 _ _ <<<"${RESULT[direct,$mode,1]:-0 nan nan 0 0}"
      read -r _ n50 n99 _ _ <<<"${RESULT[nuri,$mode,1]:-0 nan nan 0 0}"
      echo "- added latency at c=1 ($mode): p50 $(python3 -c "print('%+.3f' % ($n50 - $d50))") ms," \
        "p99 $(python3 -c "print('%+.3f' % ($n99 - $d99))") ms"
    done
  fi
  echo "- peak RSS (VmHWM): mock $((MOCK_HWM / 1024)) MiB${NURI_HWM:+, nuri $((NURI_HWM / 1024)) MiB}"
  [ "$HAVE_NURI" = 1 ] || echo "- nuri: not measured (binary missing or unusable; see $RUN_DIR)"
} | tee "$RUN_DIR/report.md"
cp "$RUN_DIR/report.md" "$OUT_DIR/latest.md"
