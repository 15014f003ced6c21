#!/usr/bin/env bash
# Credits on versus off, alternated back to back (issue 4's figure): gateway req/s at one
# concurrency with every request reserving and settling from a grant, then without credits.
# The machine's speed drifts by tens of percent within minutes, so only pairs run back to back
# are comparable; each line also gives the share of CPU time busy during the measured run, and
# the CPU time Nuri's threads spent per request (all of them, and the SQLite writer thread), which
# drifts much less than req/s.
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

# CPU ticks used so far by a process's threads: "all writer" (writer: the SQLite writer thread).
ticks() { # pid
  python3 -c "
import os, sys
pid = sys.argv[1]; total = writer = 0
for t in os.listdir(f'/proc/{pid}/task'):
    try:
        s = open(f'/proc/{pid}/task/{t}/stat').read()
    except OSError:
        continue
    f = s[s.rindex(')') + 2:].split(); n = int(f[11]) + int(f[12]); total += n
    writer += n if 'sqlite-wri' in s[s.index('(') + 1:s.rindex(')')] else 0
print(total, writer)" "$1" 2>/dev/null || echo "0 0"
}

# Microseconds of CPU per request: "all writer", from two `ticks` readings over `secs` at `rps`.
per_request() { # before after secs rps
  python3 -c "
import os, sys
a = list(map(int, sys.argv[1].split())); b = list(map(int, sys.argv[2].split()))
secs, rps = float(sys.argv[3]), float(sys.argv[4] or 0)
hz = os.sysconf('SC_CLK_TCK'); n = max(rps * secs, 1)
print(' '.join(f'{(y - x) / hz * 1e6 / n:.0f}' for x, y in zip(a, b)))" "$1" "$2" "$3" "$4"
}

printf '| round | credits off (req/s) | credits on (req/s) | on vs off | CPU busy off / on | nuri CPU µs/request off / on (SQLite writer) |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
declare -A rps cpu_busy cost
for round in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    out=$(mktemp)
    BENCH_CREDITS=$mode bench/run.sh >"$out" 2>/dev/null &
    runner=$!
    sleep $((BENCH_WARMUP + 3)); before=$(cpu)
    pid=$(pgrep -f 'release/nuri serve' | head -1 || true)
    t0=$(ticks "${pid:-0}")
    sleep $((BENCH_DURATION - 3)); after=$(cpu)
    t1=$(ticks "${pid:-0}")
    wait "$runner"
    rps[$mode]=$(awk -F'|' '/^\| nuri/ {gsub(/ /, "", $5); print $5; exit}' "$out")
    cpu_busy[$mode]=$(busy "$before" "$after")
    cost[$mode]=$(per_request "$t0" "$t1" $((BENCH_DURATION - 3)) "${rps[$mode]}")
    rm -f "$out"
  done
  ratio=$(python3 -c "print(f'{100 * (${rps[on]} / ${rps[off]} - 1):+.0f} %')")
  read -r all_off writer_off <<<"${cost[off]}"
  read -r all_on writer_on <<<"${cost[on]}"
  printf '| %s | %s | %s | %s | %s %% / %s %% | %s / %s (%s / %s) |\n' "$round" "${rps[off]}" \
    "${rps[on]}" "$ratio" "${cpu_busy[off]}" "${cpu_busy[on]}" "$all_off" "$all_on" "$writer_off" \
    "$writer_on"
done
