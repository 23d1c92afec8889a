#!/usr/bin/env bash
# bench-rbd.sh: the RBD path through the gateway against librbd used directly, on the same
# image, the same cluster and the same machine, in one run.
#
#   tests/bench/bench-rbd.sh [BUILD_DIR] [--time SECONDS] [--repeat N] [--size SIZE]
#                            [--host-cpu CPUS] [--ceph-dir DIR] [--keep]
#
# Cluster: a throw-away single-node cluster (tests/tools/ceph-local.sh: 1 mon, 1 memstore
# OSD with page-set objects, no mgr) in a new /tmp/nvmeof-bench-rbd.* directory, destroyed at the end (--keep
# leaves it); or --ceph-dir DIR, an existing ceph-local.sh cluster (not pinned, not stopped).
# Image: one SIZE image (default 1G) in pool rbd, written sequentially once before the runs
# (reads return data), removed at the end.
#
# Two ways to the image, each with a QD32 and a QD1 load:
#   gateway: nvmf-perf (1 connection) -> NVMe/TCP on 127.0.0.1 -> nvmeof-gateway
#            (1 reactor, namespace rbd:POOL/IMAGE:4096) -> librbd -> OSD
#   direct:  fio --ioengine=rbd (librbd in fio) -> OSD; rbd_cache off, as the gateway
#            forces it off for its own librbd
# Pinning, on a 2-core machine: CPU 1 runs the cluster (ceph-mon + ceph-osd, every thread,
# taskset -a); CPU 0 runs the gateway (reactor and librbd threads) or fio (and its
# librbd): each way gets the same core for itself and its librbd. nvmf-perf, standing in
# for the remote host, runs on CPU 0 too (default --host-cpu 0): everything the gateway
# path adds, the host's side of NVMe/TCP included, is charged to the gateway's core.
# --host-cpu 1 puts it on the cluster's core instead, where it takes CPU from the OSD
# (measured: worse for every cluster-bound workload, better for 128K writes). With 1 core
# nothing is pinned.
#
# Workloads (each measured both ways back to back; with --repeat N the pairs are repeated
# N times, alternating which side goes first, and the median of each side is printed):
#   4K random read and 4K random write, QD32: IOPS
#   128K sequential read and write, QD32: MiB/s
#   (before the 4K random write pairs: one unmeasured 4K random write run, see below)
#   4K random read and write, QD1: median latency (us) - nvmf-perf's per-command latency
#     (capsule queued -> completion) against fio's total latency (lat_ns: submission ->
#     completion); added latency = gateway p50 - direct p50 (target: <= 30 us)
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
TIME=10 REPEAT=1 SIZE=1G CEPH_DIR= KEEP=0 HOST_CPU=
while (($#)); do
  case $1 in
    --time) TIME=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --host-cpu) HOST_CPU=$2; shift 2 ;;
    --ceph-dir) CEPH_DIR=$(realpath "$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway
PERF=$BUILD/tests/host/nvmf-perf
CEPH_LOCAL=$ROOT/tests/tools/ceph-local.sh
[[ -x $GW && -x $PERF ]] || { echo "build first: $GW and $PERF are needed" >&2; exit 2; }
# (whole outputs captured first: grep -q on a pipe may end the writer by SIGPIPE, which
# pipefail reports as a failure)
grep -q 'rbd:POOL' <<<"$("$GW" --help 2>&1)" || { echo "$GW has no rbd namespaces (NVMEOF_WITH_RBD=OFF?)" >&2; exit 2; }
grep -qx '[[:space:]]*rbd' <<<"$(fio --enghelp 2>/dev/null)" || { echo "fio has no rbd engine (fio package with librbd)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq missing" >&2; exit 2; }
NCPU=$(nproc)
if ((NCPU > 1)); then
  CLIENT_CPU=0 CLUSTER_CPU=1; PIN=(taskset -c 0)
  HOST_CPU=${HOST_CPU:-$CLIENT_CPU}; HOST_PIN=(taskset -c "$HOST_CPU")
else
  PIN=() HOST_PIN=() HOST_CPU=any
fi

WORK=$(mktemp -d /tmp/nvmeof-bench-rbd.XXXXXX)
OWN_CLUSTER=0
[[ -n $CEPH_DIR ]] || { CEPH_DIR=$WORK/c; OWN_CLUSTER=1; }
POOL=rbd IMG=bench-rbd-$$
GWPID=
cleanup() {
  [[ -n $GWPID ]] && { kill "$GWPID" 2>/dev/null; wait "$GWPID" 2>/dev/null || true; }
  if [[ -f $CEPH_DIR/ceph.conf ]]; then
    rbd -c "$CEPH_DIR/ceph.conf" rm --no-progress "$POOL/$IMG" >/dev/null 2>&1 || true
  fi
  bench_cluster_destroy
  if ((KEEP)); then echo "kept: $WORK (cluster $CEPH_DIR)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------------ cluster and image
bench_cluster_start --no-mgr
export CEPH_CONF=$CEPH_DIR/ceph.conf
PINNED="not pinned"
if ((OWN_CLUSTER && NCPU > 1)); then
  for d in mon.a osd.0; do taskset -a -cp "$CLUSTER_CPU" "$(cat "$CEPH_DIR/run/$d.pid")" >/dev/null; done
  PINNED="mon + osd on CPU $CLUSTER_CPU"
fi
# fio's librbd reads CEPH_CONF: the same cluster with rbd_cache off (as in the gateway).
FIO_CONF=$WORK/fio-ceph.conf
{ cat "$CEPH_CONF"; printf '\n[client]\nrbd cache = false\n'; } > "$FIO_CONF"

SIZE_B=$(numfmt --from=iec "$SIZE")
rbd create --size "$((SIZE_B >> 20))M" "$POOL/$IMG"
T0=$SECONDS
rbd bench --io-type write --io-size 4M --io-threads 8 --io-total "$SIZE_B" --io-pattern seq "$POOL/$IMG" >/dev/null
PREFILL_S=$((SECONDS - T0))

# ------------------------------------------------------------------ gateway
PORT=$(free_port)
NQN=nqn.2016-06.io.nvmeof-gateway:bench-rbd
GWLOG=$WORK/gateway.log
"${PIN[@]}" "$GW" --reactors 1 --listen "127.0.0.1:$PORT" --discovery none --grpc none \
  --ceph-conf "$CEPH_CONF" --subsystem "$NQN" --namespace "rbd:$POOL/$IMG:4096" \
  --log-level warning >"$GWLOG" 2>&1 </dev/null &
GWPID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$GWPID" 2>/dev/null || { cat "$GWLOG"; exit 1; }
  sleep 0.1
done

echo "bench-rbd: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  Ceph $(ceph --version | awk '{ print $3 }'), 1 memstore OSD; image $POOL/$IMG, $SIZE, prefilled in ${PREFILL_S}s"
echo "  pinning: cluster ($PINNED); CPU ${CLIENT_CPU:-any}: gateway (1 reactor) | fio + librbd; nvmf-perf (the host) on CPU $HOST_CPU"
echo "  ${TIME}s per run, $REPEAT pair(s) per workload, median shown"

# gw RW BS QD -> "iops mibps p50_us"
gw() {
  "${HOST_PIN[@]}" "$PERF" --addr 127.0.0.1 --port "$PORT" --nqn "$NQN" --rw "$1" --bs "$2" --qd "$3" \
    --time "$TIME" --json | jq -r '"\(.total.iops) \(.total.mibps) \(.total.latency_us.p50)"'
}
# direct RW BS QD -> "iops mibps p50_us"
direct() {
  local dir=read
  [[ $1 == *write ]] && dir=write
  CEPH_CONF=$FIO_CONF "${PIN[@]}" fio --name=direct --ioengine=rbd --clientname=admin --pool="$POOL" \
    --rbdname="$IMG" --rw="$1" --bs="$2" --iodepth="$3" --time_based --runtime="$TIME" \
    --lat_percentiles=1 --output-format=json 2>/dev/null |
    jq -r --arg d "$dir" '.jobs[0][$d] | "\(.iops) \(.bw_bytes / 1048576) \(.lat_ns.percentile["50.000000"] / 1000)"'
}
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME RW BS QD FIELD(1 iops, 2 mibps, 3 p50) -> sets G and D (medians)
measure() {
  local gs=() ds=() i g d
  for ((i = 0; i < REPEAT; i++)); do
    # ABBA: odd repeats run the direct load first, so a drift in the machine's load
    # does not always favour the same side.
    if ((i % 2)); then d=$(direct "$2" "$3" "$4") || { echo "fio failed ($1)" >&2; exit 1; }; fi
    g=$(gw "$2" "$3" "$4") || { echo "nvmf-perf failed ($1)" >&2; tail -5 "$GWLOG" >&2; exit 1; }
    if ((i % 2 == 0)); then d=$(direct "$2" "$3" "$4") || { echo "fio failed ($1)" >&2; exit 1; }; fi
    gs+=("$(cut -d' ' -f"$5" <<<"$g")"); ds+=("$(cut -d' ' -f"$5" <<<"$d")")
  done
  G=$(median <<<"${gs[*]}"); D=$(median <<<"${ds[*]}")
  RUNS+=("$1: gateway ${gs[*]} | direct ${ds[*]}")
}
RUNS=()
row() { printf '  %-34s %12s %12s %10s\n' "$@"; }
echo
row "" "gateway" "direct (fio)" "gw/direct"
measure "4K randread QD32 IOPS" randread 4k 32 1
row "4K random read, QD32 (IOPS)" "$(num "$G" .0f)" "$(num "$D" .0f)" "$(num "$G/$D" .2f)"
# Random writes on a freshly (sequentially) written memstore image run 2-3x faster the first
# time than from the second run on (measured: fio alone, 4 runs in a row: 6738, 3018, 1426,
# 2208 IOPS), so whichever side ran first would win: one unmeasured 4K random write run
# (direct) first.
direct randwrite 4k 32 >/dev/null
measure "4K randwrite QD32 IOPS" randwrite 4k 32 1
row "4K random write, QD32 (IOPS)" "$(num "$G" .0f)" "$(num "$D" .0f)" "$(num "$G/$D" .2f)"
measure "128K read QD32 MiB/s" read 128k 32 2
row "128K sequential read, QD32 (MiB/s)" "$(num "$G" .1f)" "$(num "$D" .1f)" "$(num "$G/$D" .2f)"
measure "128K write QD32 MiB/s" write 128k 32 2
row "128K sequential write, QD32 (MiB/s)" "$(num "$G" .1f)" "$(num "$D" .1f)" "$(num "$G/$D" .2f)"
measure "4K randread QD1 p50 us" randread 4k 1 3
row "4K random read, QD1 p50 (us)" "$(num "$G" .1f)" "$(num "$D" .1f)" "$(num "$G-$D" +.1f) us"
R_ADD=$(num "$G-$D" .1f)
measure "4K randwrite QD1 p50 us" randwrite 4k 1 3
row "4K random write, QD1 p50 (us)" "$(num "$G" .1f)" "$(num "$D" .1f)" "$(num "$G-$D" +.1f) us"
W_ADD=$(num "$G-$D" .1f)
echo
echo "  added median latency at QD1 (gateway - direct): read $R_ADD us, write $W_ADD us (target <= 30 us)"
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  every run (gateway | direct, in order of the repeats):"
printf '    %s\n' "${RUNS[@]}"
if grep -qE 'ERROR|WARNING' "$GWLOG"; then echo "  gateway log:"; sed 's/^/    /' "$GWLOG" | tail -10; fi
