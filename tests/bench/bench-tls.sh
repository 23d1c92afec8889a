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
# (IOPS). Printed: per workload the medians and the median of the paired ratios TLS/plain;
# then the CPU time each end spent per MiB (128K) or per I/O (4K), which a loaded machine
# moves less than the rates: the ratio plain/TLS of that cost is the rate ratio two
# CPU-bound ends would reach.
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
dp_start "$GW" "$PPORT" "$PDPORT" "$WORK/plain.log"; PIDS+=("$GWPID"); PGW=$GWPID
dp_start "$GW" "$SPORT" "$SDPORT" "$WORK/tls.log" --secure --host-psk "$HOSTNQN=$WORK/psk"; PIDS+=("$GWPID"); SGW=$GWPID
# Up when the port accepts (the gateways log at warning level: no "ready" line).
for p in "$PPORT" "$SPORT"; do
  for _ in $(seq 300); do "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$p),1)" 2>/dev/null && break; sleep 0.1; done
done

# cpu_s PID: the process's user + system CPU seconds so far.
cpu_s() { "$PY" -c 'import os,sys; f=open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")",1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK"))' "$1"; }
# perf GWPID PORT RW BS SECONDS [ARGS...]: prints "iops mibs gateway_cpu_s nvmf_perf_cpu_s".
perf() {
  local g0 g1 out
  g0=$(cpu_s "$1")
  out=$(taskset -c "$C1" "$PY" -c '
import json,resource,subprocess,sys
r=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,check=True)
u=resource.getrusage(resource.RUSAGE_CHILDREN)
d=json.loads(r.stdout); t=d.get("total",d)
print(t["iops"], t["mibps"], u.ru_utime+u.ru_stime)' "$PERF" --addr 127.0.0.1 --port "$2" --nqn "$NQN" \
    --hostnqn "$HOSTNQN" --qd 32 --queues "$QUEUES" --bs "$4" --rw "$3" --time "$5" --size 1G --json "${@:6}")
  g1=$(cpu_s "$1")
  read -r IOPS_ MIB_ PCPU_ <<<"$out"
  echo "$IOPS_ $MIB_ $("$PY" -c "print($g1-$g0)") $PCPU_"
}
TLS=(--tls-psk-file "$WORK/psk")
perf "$PGW" "$PPORT" write 128k 2 >/dev/null
perf "$SGW" "$SPORT" write 128k 2 "${TLS[@]}" >/dev/null

echo "bench-tls: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; ${TIME}s per run, $ROUNDS rounds"
echo "  gateway: 1 reactor on CPU $C0; load: nvmf-perf on CPU $C1 ($QUEUES connection(s), qd 32); A = plain, B = TLS"
RES=$WORK/results
for r in $(seq "$ROUNDS"); do
  for w in "read 128k" "randread 4k"; do
    set -- $w
    read -r IOPS MIB GC PC < <(perf "$PGW" "$PPORT" "$1" "$2" "$TIME")
    printf '%s\tA\t%s %s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" >>"$RES"
    printf '%s\tA\t%s %s\t%s\t%s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" "$GC" "$PC" >>"$RES.cpu"
    read -r IOPS MIB GC PC < <(perf "$SGW" "$SPORT" "$1" "$2" "$TIME" "${TLS[@]}")
    printf '%s\tB\t%s %s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" >>"$RES"
    printf '%s\tB\t%s %s\t%s\t%s\t%s\t%s\n' "$r" "$1" "$2" "$IOPS" "$MIB" "$GC" "$PC" >>"$RES.cpu"
  done
done
ab_summary "$RES"
"$PY" - "$RES.cpu" "$TIME" <<'PY'
import statistics, sys
secs = float(sys.argv[2])
cost = {}
for l in open(sys.argv[1]):
    rnd, side, w, iops, mib, gc, pc = l.rstrip("\n").split("\t")
    unit = float(mib) * secs if w.endswith("128k") else float(iops) * secs  # MiB or I/Os done
    cost.setdefault(w, {}).setdefault(side, []).append((float(gc) / unit * 1e6, float(pc) / unit * 1e6))
print()
print(f"  {'CPU per unit':<16} {'A gateway':>10} {'A perf':>8} {'B gateway':>10} {'B perf':>8}   A/B gateway   A/B perf")
for w, sides in cost.items():
    unit = "us/MiB" if w.endswith("128k") else "us/IO"
    m = {s: (statistics.median(g for g, _ in v), statistics.median(p for _, p in v)) for s, v in sides.items()}
    (ag, ap), (bg, bp) = m["A"], m["B"]
    print(f"  {w + ' ' + unit:<16} {ag:10.2f} {ap:8.2f} {bg:10.2f} {bp:8.2f}   {ag / bg:11.3f}   {ap / bp:8.3f}")
PY
