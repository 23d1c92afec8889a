#!/usr/bin/env bash
# bench-takeover.sh: gateway-group HA takeover time with real daemons on a real cluster, for
# a small and a large configuration, in one run.
#
#   tests/bench/bench-takeover.sh [BUILD_DIR] [--events N] [--large SxN] [--ceph-dir DIR] [--keep] [--trace]
#
# Cluster: a throw-away single-node cluster (tests/tools/ceph-local.sh: 1 mon, 1 memstore
# OSD, no mgr) in a new /tmp/nvmeof-bench-takeover.* directory, destroyed at the end (--keep
# leaves it); or --ceph-dir DIR, an existing ceph-local.sh cluster.
# Gateways: two nvmeof-gateway processes with `[gateway] ha = builtin` and the HA defaults
# (lease 2 s), one gateway group per configuration, run by BUILD/tests/integration/
# ha_takeover_bench (tests/integration/ha_daemons.h): the subsystems, their listeners and
# RBD namespaces (4 MiB images created through gw1's gRPC API, all in ANA group 1, gw1's
# home group) are served by both gateways.
# Takeover time of one event: from SIGKILL of the owner (gw1) to the first write completed
# through the survivor (gw2), written by a host (tests/host) to the first namespace every
# 5 ms; the write completes once gw2 fenced gw1, took the lease, turned the group
# OPTIMIZED and took the image's RBD exclusive lock. gw1 is then restarted and takes its
# group back (failback) before the next event.
# Configurations: 1 subsystem x 1 namespace, and --large (default 100x10: 1000 images;
# creating them through the API takes minutes here, progress on stderr). N events each
# (default 5): median and max, and the ratio large/small of the medians (target <= 1.2).
# Each event's line splits the time (OPTIMIZED seen by the host, then the write); --trace
# also prints the survivor's debug log of each event (fencing, lease, ANA change).
#
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
EVENTS=5 LARGE=100x10 CEPH_DIR= KEEP=0 TRACE=()
while (($#)); do
  case $1 in
    --events) EVENTS=$2; shift 2 ;;
    --large) LARGE=$2; shift 2 ;;
    --ceph-dir) CEPH_DIR=$(realpath "$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    --trace) TRACE=(--trace); shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
BENCH=$BUILD/tests/integration/ha_takeover_bench
CEPH_LOCAL=$ROOT/tests/tools/ceph-local.sh
[[ -x $BENCH && -x $BUILD/gateway/nvmeof-gateway ]] || { echo "build first: $BENCH and nvmeof-gateway are needed" >&2; exit 2; }
[[ $LARGE =~ ^([0-9]+)x([0-9]+)$ ]] || { echo "--large wants SUBSYSTEMSxNAMESPACES" >&2; exit 2; }
LS=${BASH_REMATCH[1]} LN=${BASH_REMATCH[2]}

WORK=$(mktemp -d /tmp/nvmeof-bench-takeover.XXXXXX)
OWN_CLUSTER=0
[[ -n $CEPH_DIR ]] || { CEPH_DIR=$WORK/c; OWN_CLUSTER=1; }
cleanup() {
  bench_cluster_destroy
  if ((KEEP)); then echo "kept: $WORK (cluster $CEPH_DIR)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_cluster_start --no-mgr
export NVMEOF_GATEWAY_BIN=$BUILD/gateway/nvmeof-gateway

# run S N: prints the bench's event lines; sets MED and MAX.
run() {
  echo "== $1 subsystem(s) x $2 namespace(s), $EVENTS events"
  "$BENCH" --ceph-dir "$CEPH_DIR" --subsystems "$1" --namespaces "$2" --events "$EVENTS" "${TRACE[@]}" | tee "$WORK/out"
  read -r MED MAX < <(awk '/^takeover_ms/ {print $3, $5}' "$WORK/out")
}
run 1 1
SMALL_MED=$MED SMALL_MAX=$MAX
run "$LS" "$LN"
echo
printf '%-28s %10s %10s\n' "configuration" "median ms" "max ms"
printf '%-28s %10s %10s\n' "1 x 1" "$SMALL_MED" "$SMALL_MAX"
printf '%-28s %10s %10s\n' "$LS x $LN" "$MED" "$MAX"
echo "ratio of the medians (large / small): $(num "$MED / $SMALL_MED" .2f) (target <= 1.2)"
