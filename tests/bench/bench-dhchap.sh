#!/usr/bin/env bash
# bench-dhchap.sh: DH-HMAC-CHAP connect time per queue against connecting without
# authentication, same gateway, same queue count.
#
#   tests/bench/bench-dhchap.sh [BUILD_DIR] [--rounds N] [--associations A] [--queues Q]
#
# One gateway over a memory namespace, one reactor pinned to CPU 0, state in memory, gRPC on
# loopback: gwcli adds two hosts, one with a DH-HMAC-CHAP host key and controller key (SHA-256
# transformed secrets, as `nvme gen-dhchap-key -m 1` makes), one without keys. nvmf-perf
# --connect-timing on CPU 1 connects A associations one after the other, each an admin queue
# and Q I/O queues (default 20 x (1 + 4)), and times every queue's TCP connect + ICReq +
# Connect (+ the whole authentication transaction). Per round each configuration runs once,
# back to back: no authentication (the baseline), then sha256/null, sha256/ffdhe2048,
# sha384/ffdhe3072, sha512/ffdhe4096, sha512/ffdhe8192, one-way and bidirectional (the host
# offers only that hash and group). Printed: per configuration the median over rounds of the
# per-run median and p99 per queue (admin and I/O together), the authentication's own median,
# and the paired ratios to the baseline of the same round. Benchmarks are not tests: nothing
# here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
ROUNDS=3
ASSOC=20
QUEUES=4
while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --associations) ASSOC=$2; shift 2 ;;
    --queues) QUEUES=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway
PERF=$BUILD/tests/host/nvmf-perf
GWCLI=$BUILD/cli/gwcli
for b in "$GW" "$PERF" "$GWCLI"; do [[ -x $b ]] || { echo "build first: $b is needed" >&2; exit 2; }; done
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
HOST_AUTH=nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-0000000000d1
HOST_PLAIN=nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-0000000000d2
WORK=$(mktemp -d /tmp/bench-dhchap.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# DHHC-1 secrets (hash 01: 32 bytes; key bytes fixed: benchmark keys, not secrets).
secret() { "$PY" -c '
import base64, struct, sys, zlib
k = bytes(range(int(sys.argv[1]), int(sys.argv[1]) + 32))
print("DHHC-1:01:" + base64.b64encode(k + struct.pack("<I", zlib.crc32(k))).decode() + ":")' "$1"; }
KEY=$(secret 16)
CKEY=$(secret 128)

PORT=$(free_port); DPORT=$(free_port); GRPC=$(free_port)
taskset -c "$C0" "$GW" --name bench --hostname bench --reactors 1 --listen 127.0.0.1:"$PORT" \
  --discovery 127.0.0.1:"$DPORT" --grpc 127.0.0.1:"$GRPC" --state-pool none --subsystem "$NQN" \
  --namespace memory:1G:4096 --log-level warning >"$WORK/gw.log" 2>&1 &
PIDS+=("$!")
cli() { "$GWCLI" --server-address 127.0.0.1 --server-port "$GRPC" --output stdio "$@"; }
for _ in $(seq 100); do cli subsystem list >/dev/null 2>&1 && break; sleep 0.1; done
cli host add -n "$NQN" -t "$HOST_AUTH" --dhchap-key "$KEY" --dhchap-ctrlr-key "$CKEY" >/dev/null \
  || { echo "gwcli host add failed; gateway log:" >&2; cat "$WORK/gw.log" >&2; exit 1; }
cli host add -n "$NQN" -t "$HOST_PLAIN" >/dev/null

# timing ARGS...: prints "median_us p99_us auth_median_us" per queue (admin and I/O together).
timing() {
  taskset -c "$C1" "$PERF" --addr 127.0.0.1 --port "$PORT" --nqn "$NQN" --queues "$QUEUES" --qd 32 \
    --connect-timing "$ASSOC" --json "$@" | "$PY" -c '
import json,sys
d=json.load(sys.stdin)["connect_timing"]
print(d["all"]["median_us"], d["all"]["p99_us"], d["auth"]["median_us"])'
}
CONFIGS=("plain" "sha256 null" "sha256 ffdhe2048" "sha384 ffdhe3072" "sha512 ffdhe4096" "sha512 ffdhe8192")
# Warm up (first connections, page faults).
timing --hostnqn "$HOST_PLAIN" >/dev/null
timing --hostnqn "$HOST_AUTH" --dhchap-secret "$KEY" >/dev/null

echo "bench-dhchap: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  gateway: 1 reactor on CPU $C0; host: nvmf-perf --connect-timing on CPU $C1"
echo "  $ROUNDS rounds x $ASSOC associations x (1 admin + $QUEUES I/O queues) per configuration"
RES=$WORK/results
for r in $(seq "$ROUNDS"); do
  for cfg in "${CONFIGS[@]}"; do
    set -- $cfg
    if [[ $1 == plain ]]; then
      printf '%s\t%s\t%s\n' "$r" "no authentication" "$(timing --hostnqn "$HOST_PLAIN")" >>"$RES"
      continue
    fi
    A=(--hostnqn "$HOST_AUTH" --dhchap-secret "$KEY" --dhchap-digests "$1" --dhchap-dhgroups "$2")
    printf '%s\t%s\t%s\n' "$r" "$1/$2 one-way" "$(timing "${A[@]}")" >>"$RES"
    printf '%s\t%s\t%s\n' "$r" "$1/$2 bidirectional" "$(timing "${A[@]}" --dhchap-ctrl-secret "$CKEY")" >>"$RES"
  done
done
echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$RES" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order, runs = [], {}
for rnd, cfg, vals in rows:
    med, p99, auth = map(float, vals.split())
    if cfg not in order: order.append(cfg)
    runs.setdefault(cfg, {})[rnd] = (med, p99, auth)
base = runs["no authentication"]
print()
print(f"  {'per queue (ms)':<32} {'median':>8} {'p99':>8} {'auth':>8}   {'median/base':>11} {'p99/base':>9}")
for cfg in order:
    rs = runs[cfg]
    med = statistics.median(v[0] for v in rs.values()) / 1e3
    p99 = statistics.median(v[1] for v in rs.values()) / 1e3
    auth = statistics.median(v[2] for v in rs.values()) / 1e3
    rm = statistics.median(rs[r][0] / base[r][0] for r in rs if r in base)
    rp = statistics.median(rs[r][1] / base[r][1] for r in rs if r in base)
    print(f"  {cfg:<32} {med:8.3f} {p99:8.3f} {auth:8.3f}   {rm:11.2f} {rp:9.2f}")
print("  (median, p99: medians over rounds of each run's figure; auth: the transaction alone;")
print("   ratios: median over rounds of the run's figure / the baseline's in the same round)")
PY
