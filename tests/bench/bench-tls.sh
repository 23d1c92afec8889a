#!/usr/bin/env bash
# bench-tls.sh: the cost of NVMe/TCP over TLS 1.3 (a secure listener, PSK) against plain
# NVMe/TCP, same gateway build, same connection count.
#
#   tests/bench/bench-tls.sh [BUILD_DIR] [--time SECONDS] [--rounds N] [--queues N]
#
# Two gateways over memory namespaces, each with one reactor pinned to CPU 0: one plain,
# one with --secure and a host PSK (SHA-256: TLS_AES_128_GCM_SHA256). nvmf-perf on CPU 1
# (one thread, --queues connections, queue depth 32), with --tls-psk-file for the secure
# one. Per round, back to back on each: 128K sequential read (MiB/s) and 4K random read
# (IOPS). Printed: per workload the medians and the median of the paired ratios TLS/plain.
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
TIME=10
ROUNDS=3
QUEUES=1
while (($#)); do
  case $1 in
    --time) TIME=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --queues) QUEUES=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway
PERF=$BUILD/tests/host/nvmf-perf
[[ -x $GW && -x $PERF ]] || { echo "build first: $GW and $PERF are needed" >&2; exit 2; }
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-0000000000b1
WORK=$(mktemp -d /tmp/bench-tls.XXXXXX)
# A SHA-256 configured PSK (bytes 00..1f; a benchmark key, not a secret).
echo "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:" >"$WORK/psk"
chmod 600 "$WORK/psk"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

PPORT=$(free_port); PDPORT=$(free_port); SPORT=$(free_port); SDPORT=$(free_port)
dp_start "$GW" "$PPORT" "$PDPORT" "$WORK/plain.log"; PIDS+=("$GWPID")
dp_start "$GW" "$SPORT" "$SDPORT" "$WORK/tls.log" --secure --host-psk "$HOSTNQN=$WORK/psk"; PIDS+=("$GWPID")
# Up when the port accepts (the gateways log at warning level: no "ready" line).
for p in "$PPORT" "$SPORT"; do
  for _ in $(seq 300); do "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$p),1)" 2>/dev/null && break; sleep 0.1; done
done

# perf PORT RW BS SECONDS [ARGS...]: prints "iops mibs".
perf() {
  taskset -c "$C1" "$PERF" --addr 127.0.0.1 --port "$1" --nqn "$NQN" --hostnqn "$HOSTNQN" --qd 32 \
    --queues "$QUEUES" --bs "$3" --rw "$2" --time "$4" --size 1G --json "${@:5}" | "$PY" -c '
import json,sys
d=json.load(sys.stdin); t=d.get("total",d)
print(t["iops"], t["mibps"])'
}
TLS=(--tls-psk-file "$WORK/psk")
perf "$PPORT" write 128k 2 >/dev/null
perf "$SPORT" write 128k 2 "${TLS[@]}" >/dev/null

echo "bench-tls: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; ${TIME}s per run, $ROUNDS rounds"
echo "  gateway: 1 reactor on CPU $C0; load: nvmf-perf on CPU $C1 ($QUEUES connection(s), qd 32); A = plain, B = TLS"
RES=$WORK/results
for r in $(seq "$ROUNDS"); do
  for w in "read 128k" "randread 4k"; do
    set -- $w
    read -r IOPS MIB < <(perf "$PPORT" "$1" "$2" "$TIME")
    printf '%s\tA\t%s %s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" >>"$RES"
    read -r IOPS MIB < <(perf "$SPORT" "$1" "$2" "$TIME" "${TLS[@]}")
    printf '%s\tB\t%s %s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" >>"$RES"
  done
done
ab_summary "$RES"
