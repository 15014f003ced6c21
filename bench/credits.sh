#!/usr/bin/env bash
# Credits on versus off, alternated back to back (issue 4's figure): gateway req/s at one
# concurrency with every request reserving and settling from a grant, then without credits.
# The machine's speed drifts by tens of percent within minutes, so only pairs run back to back
# are comparable; each line also gives the share of CPU time busy during the measured run.
#
#   bench/credits.sh                 # 3 rounds, c=64, JSON, 10 s each (release build required)
#
# Environment: ROUNDS=3, BENCH_CONCURRENCY=64, BENCH_DURATION=10, BENCH_WARMUP=3, and those of
# bench/run.sh (which this calls with BENCH_ONLY=nuri BENCH_MODES=json BENCH_NO_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
export BENCH_ONLY=nuri BENCH_MODES=json BENCH_NO_BUILD=1
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-64} BENCH_DURATION=${BENCH_DURATION:-10}
export BENCH_WARMUP=${BENCH_WARMUP:-3}

cpu() { head -1 /proc/stat; }
busy() { # two /proc/stat cpu lines -> percent busy between them
  python3 -c "
import sys
a = list(map(int, sys.argv[1].split()[1:])); b = list(map(int, sys.argv[2].split()[1:]))
d = [y - x for x, y in zip(a, b)]
print(f'{100 * (sum(d) - d[3] - d[4]) / sum(d):.0f}')" "$1" "$2"
}

printf '| round | credits off (req/s) | credits on (req/s) | on vs off | CPU busy off / on |\n'
printf '| --- | --- | --- | --- | --- |\n'
declare -A rps cpu_busy
for round in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    out=$(mktemp)
    BENCH_CREDITS=$mode bench/run.sh >"$out" 2>/dev/null &
    runner=$!
    sleep $((BENCH_WARMUP + 3)); before=$(cpu)
    sleep $((BENCH_DURATION - 3)); after=$(cpu)
    wait "$runner"
    rps[$mode]=$(awk -F'|' '/^\| nuri/ {gsub(/ /, "", $5); print $5; exit}' "$out")
    cpu_busy[$mode]=$(busy "$before" "$after")
    rm -f "$out"
  done
  ratio=$(python3 -c "print(f'{100 * (${rps[on]} / ${rps[off]} - 1):+.0f} %')")
  printf '| %s | %s | %s | %s | %s %% / %s %% |\n' "$round" "${rps[off]}" "${rps[on]}" "$ratio" \
    "${cpu_busy[off]}" "${cpu_busy[on]}"
done
