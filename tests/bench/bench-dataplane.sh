#!/usr/bin/env bash
# bench-dataplane.sh: the data plane's speed on this machine, in one run.
#
#   tests/bench/bench-dataplane.sh [BUILD_DIR] [--time SECONDS]
#
# The gateway runs with one reactor pinned to CPU 0 over a memory namespace; nvmf-perf
# runs pinned to CPU 1 (one thread, one connection, queue depth 32). Measured:
#   4K random read IOPS, 4K random write IOPS, 128K sequential read and write MiB/s
# and, as the ceiling, the raw loopback TCP throughput of the same two cores (iperf3,
# server on CPU 0, client on CPU 1). Each figure is printed with its ratio to the ceiling
# (IOPS converted to bytes). Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
TIME=10
while (($#)); do
  case $1 in
    --time) TIME=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway
PERF=$BUILD/tests/host/nvmf-perf
[[ -x $GW && -x $PERF ]] || { echo "build first: $GW and $PERF are needed" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "iperf3 missing (gateway/scripts/install-deps.sh)" >&2; exit 2; }
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))

PORT=$(free_port); DPORT=$(free_port); IPORT=$(free_port)
NQN=nqn.2016-06.io.nvmeof-gateway:bench
LOG=$(mktemp /tmp/bench-gw.XXXXXX.log)
cleanup() { [[ -n ${GWPID:-} ]] && kill "$GWPID" 2>/dev/null; [[ -n ${IPID:-} ]] && kill "$IPID" 2>/dev/null; rm -f "$LOG"; }
trap cleanup EXIT

echo "bench-dataplane: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; ${TIME}s per run"
echo "  gateway: 1 reactor on CPU $C0; load: nvmf-perf on CPU $C1 (1 connection, qd 32)"

# Ceiling: raw loopback TCP between the same two cores.
taskset -c $C0 iperf3 -s -p "$IPORT" -1 >/dev/null 2>&1 & IPID=$!
sleep 0.5
CEIL_BPS=$(taskset -c $C1 iperf3 -c 127.0.0.1 -p "$IPORT" -t "$TIME" -J 2>/dev/null |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8)')
wait "$IPID" 2>/dev/null || true; IPID=
CEIL_MIB=$(python3 -c "print(f'{$CEIL_BPS/2**20:.0f}')")

dp_start "$GW" "$PORT" "$DPORT" "$LOG"
run() { dp_run "$PERF" "$PORT" "$1" "$2" "$TIME"; }  # rw bs -> "iops mibs p50"
dp_prefill "$PERF" "$PORT"
read -r RR_IOPS RR_MIB RR_P50 < <(run randread 4k)
read -r RW_IOPS RW_MIB RW_P50 < <(run randwrite 4k)
read -r SR_IOPS SR_MIB SR_P50 < <(run read 128k)
read -r SW_IOPS SW_MIB SW_P50 < <(run write 128k)

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
printf '  %-30s %12s   %s\n' "loopback TCP (iperf3) ceiling" "$CEIL_MIB MiB/s" "1.00"
printf '  %-30s %12.0f IOPS (%6.0f MiB/s, p50 %4.0f us)  ratio to ceiling %s\n' "4K random read, qd 32" "$RR_IOPS" "$RR_MIB" "$RR_P50" "$(ratio "$RR_MIB" "$CEIL_MIB")"
printf '  %-30s %12.0f IOPS (%6.0f MiB/s, p50 %4.0f us)  ratio to ceiling %s\n' "4K random write, qd 32" "$RW_IOPS" "$RW_MIB" "$RW_P50" "$(ratio "$RW_MIB" "$CEIL_MIB")"
printf '  %-30s %12.0f MiB/s (%6.0f IOPS, p50 %4.0f us)  ratio to ceiling %s\n' "128K sequential read, qd 32" "$SR_MIB" "$SR_IOPS" "$SR_P50" "$(ratio "$SR_MIB" "$CEIL_MIB")"
printf '  %-30s %12.0f MiB/s (%6.0f IOPS, p50 %4.0f us)  ratio to ceiling %s\n' "128K sequential write, qd 32" "$SW_MIB" "$SW_IOPS" "$SW_P50" "$(ratio "$SW_MIB" "$CEIL_MIB")"
