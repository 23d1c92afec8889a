#!/usr/bin/env bash
# bench-ab.sh: the data plane of two builds of the gateway, A (the baseline: the previous
# binary) against B (the new one), alternating in one run on the same machine.
#
#   tests/bench/bench-ab.sh BUILD_A BUILD_B [--time SECONDS] [--rounds N]
#
# Each round starts A's gateway and runs the four workloads of bench-dataplane.sh (4K random
# read and write, 128K sequential read and write; one reactor on CPU 0, nvmf-perf from
# BUILD_B on CPU 1, one connection, queue depth 32), then B's; the order alternates every
# round (AB, BA, AB, ...) so a drift of the machine's speed falls on both alike. Prints each
# round's figures, then per workload the median of A, the median of B and the ratio B/A.
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
TIME=5 ROUNDS=4
ARGS=()
while (($#)); do
  case $1 in
    --time) TIME=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) ARGS+=("$(realpath "$1")"); shift ;;
  esac
done
((${#ARGS[@]} == 2)) || { echo "usage: bench-ab.sh BUILD_A BUILD_B [--time S] [--rounds N]" >&2; exit 2; }
GW_A=${ARGS[0]}/gateway/nvmeof-gateway GW_B=${ARGS[1]}/gateway/nvmeof-gateway
PERF=${ARGS[1]}/tests/host/nvmf-perf
for f in "$GW_A" "$GW_B" "$PERF"; do [[ -x $f ]] || { echo "missing $f: build first" >&2; exit 2; }; done
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
LOG=$(mktemp /tmp/bench-ab.XXXXXX.log)
RES=$(mktemp /tmp/bench-ab.XXXXXX.tsv)
cleanup() { [[ -n ${GWPID:-} ]] && kill "$GWPID" 2>/dev/null; rm -f "$LOG" "$RES"; }
trap cleanup EXIT

echo "bench-ab: A = $GW_A"
echo "          B = $GW_B"
echo "  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; $ROUNDS rounds x 4 workloads x ${TIME}s per build"
WORKLOADS=("randread 4k" "randwrite 4k" "read 128k" "write 128k")

measure() { # SIDE GATEWAY ROUND
  local port dport
  port=$(free_port); dport=$(free_port)
  dp_start "$2" "$port" "$dport" "$LOG"
  dp_prefill "$PERF" "$port"
  local w line
  for w in "${WORKLOADS[@]}"; do
    read -r rw bs <<<"$w"
    line=$(dp_run "$PERF" "$port" "$rw" "$bs" "$TIME")
    read -r iops mib _ <<<"$line"
    printf '%s\t%s\t%s %s\t%s\t%s\n' "$3" "$1" "$rw" "$bs" "$iops" "$mib" >>"$RES"
    printf '  round %d %s  %-14s %10.0f IOPS %8.0f MiB/s\n' "$3" "$1" "$rw $bs" "$iops" "$mib"
  done
  kill "$GWPID"; wait "$GWPID" 2>/dev/null || true; GWPID=
}

for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then measure A "$GW_A" "$r"; measure B "$GW_B" "$r"
  else measure B "$GW_B" "$r"; measure A "$GW_A" "$r"; fi
done

"$PY" - "$RES" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order = []
vals = {}
for rnd, side, w, iops, mib in rows:
    if w not in order: order.append(w)
    key = "MiB/s" if w.endswith("128k") else "IOPS"
    v = float(mib) if key == "MiB/s" else float(iops)
    vals.setdefault((w, side), []).append(v)
print()
print(f"  {'workload (qd 32)':<16} {'A median':>14} {'B median':>14}   B/A")
worst = None
for w in order:
    unit = "MiB/s" if w.endswith("128k") else "IOPS"
    a = statistics.median(vals[(w, "A")]); b = statistics.median(vals[(w, "B")])
    r = b / a
    worst = r if worst is None else min(worst, r)
    print(f"  {w:<16} {a:>9.0f} {unit:<5}{b:>9.0f} {unit:<5}  {r:.3f}")
print(f"  lowest ratio B/A: {worst:.3f}")
PY
