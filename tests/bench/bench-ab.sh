#!/usr/bin/env bash
# bench-ab.sh: the data plane of two builds of the gateway, A (the baseline: the previous
# binary) against B (the new one), alternating in one run on the same machine.
#
#   tests/bench/bench-ab.sh BUILD_A BUILD_B [--time SECONDS] [--rounds N]
#
# Both gateways run at once, each with one reactor on CPU 0 over its own memory namespace
# (the idle one sleeps); nvmf-perf from BUILD_B runs on CPU 1 (one connection, queue depth
# 32). Each round runs the four workloads of bench-dataplane.sh (4K random read and write,
# 128K sequential read and write), each against A and against B back to back, in the order
# AB in odd rounds and BA in even ones, so that the machine's drift (large on a shared VM
# host) falls on both alike. Prints every run, then per workload the medians of A and B,
# their ratio, and the median of the per-round ratios B/A (each A and B run back to back:
# the figure least moved by drift).
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
TIME=5 ROUNDS=4
ab_args "$0" "$@"
GW_A=${ARGS[0]}/gateway/nvmeof-gateway GW_B=${ARGS[1]}/gateway/nvmeof-gateway
PERF=${ARGS[1]}/tests/host/nvmf-perf
for f in "$GW_A" "$GW_B" "$PERF"; do [[ -x $f ]] || { echo "missing $f: build first" >&2; exit 2; }; done
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
RES=$(mktemp /tmp/bench-ab.XXXXXX.tsv)

echo "bench-ab: A = $GW_A"
echo "          B = $GW_B"
echo "  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; $ROUNDS rounds x 4 workloads x ${TIME}s per build, interleaved"
WORKLOADS=("randread 4k" "randwrite 4k" "read 128k" "write 128k")

LOG_A=$(mktemp /tmp/bench-ab-a.XXXXXX.log) LOG_B=$(mktemp /tmp/bench-ab-b.XXXXXX.log)
cleanup() { kill ${PID_A:-} ${PID_B:-} 2>/dev/null; rm -f "$RES" "$LOG_A" "$LOG_B"; }
trap cleanup EXIT
PORT_A=$(free_port); PORT_B=$(free_port)
dp_start "$GW_A" "$PORT_A" "$(free_port)" "$LOG_A"; PID_A=$GWPID
dp_start "$GW_B" "$PORT_B" "$(free_port)" "$LOG_B"; PID_B=$GWPID
GWPID=
dp_prefill "$PERF" "$PORT_A"
dp_prefill "$PERF" "$PORT_B"

once() { # SIDE ROUND RW BS
  local port=$PORT_A line iops mib
  [[ $1 == B ]] && port=$PORT_B
  line=$(dp_run "$PERF" "$port" "$3" "$4" "$TIME")
  read -r iops mib _ <<<"$line"
  printf '%s\t%s\t%s %s\t%s\t%s\n' "$2" "$1" "$3" "$4" "$iops" "$mib" >>"$RES"
  printf '  round %d %s  %-14s %10.0f IOPS %8.0f MiB/s\n' "$2" "$1" "$3 $4" "$iops" "$mib"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for w in "${WORKLOADS[@]}"; do
    read -r rw bs <<<"$w"
    if ((r % 2)); then once A "$r" "$rw" "$bs"; once B "$r" "$rw" "$bs"
    else once B "$r" "$rw" "$bs"; once A "$r" "$rw" "$bs"; fi
  done
done

ab_summary "$RES"
