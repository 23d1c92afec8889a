#!/usr/bin/env bash
# bench-failover.sh: host-visible failover times of gateway-group HA (`[gateway] ha =
# builtin`) with the e2e harness: two gateways on this host, a Linux guest in QEMU with
# native NVMe multipath connected to both (tests/e2e/run-e2e.sh, case ha-bench).
#
#   tests/bench/bench-failover.sh [BUILD_DIR] [--kills N] [--planned N] [--ceph-dir DIR]
#                                 [--lease-ms MS] [--failback-delay-ms MS] [--keep]
#
# A probe in the guest writes 4K blocks one after the other (fio, O_DIRECT, queue depth
# 1) to the namespace of ANA group 1 (home gw1), stamping each completion with the guest's
# clock, while the host SIGKILLs gw1 and restarts it N times (default 10), then stops it
# with SIGTERM and restarts it N times (default 5). Per event, the longest time from the
# event (or a completion after it) to the next completion, before the next event:
#   kill      SIGKILL of the owner -> first write completed through the survivor (target <= 3 s)
#   handover  SIGTERM of the owner: the longest I/O pause (target <= 0.5 s)
#   failback  restart of the home gateway: the longest I/O pause (target <= 0.5 s)
# Printed: every figure, then median / max / min per kind.
#
# Cluster: a throw-away tests/tools/ceph-local.sh cluster (memstore, no mgr) in a new
# /tmp/nvmeof-bench-failover.* directory, destroyed at the end (--keep leaves it and the e2e
# work directory); or --ceph-dir DIR, an existing one.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build KILLS=10 PLANNED=5 CEPH_DIR= KEEP=0 LEASE= FBDELAY=
while (($#)); do
  case $1 in
    --kills) KILLS=$2; shift ;;
    --planned) PLANNED=$2; shift ;;
    --ceph-dir) CEPH_DIR=$2; shift ;;
    --lease-ms) LEASE=$2; shift ;;
    --failback-delay-ms) FBDELAY=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "bench-failover: unknown option $1" >&2; exit 2 ;;
    *) BUILD=$1 ;;
  esac
  shift
done
TMP=$(mktemp -d /tmp/nvmeof-bench-failover.XXXXXX)
own_cluster=no
cleanup() {
  [ "$own_cluster" = no ] || [ "$KEEP" = 1 ] || "$SRC/tests/tools/ceph-local.sh" destroy "$CEPH_DIR" >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then echo "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
if [ -z "$CEPH_DIR" ]; then
  CEPH_DIR=$TMP/ceph own_cluster=yes
  "$SRC/tests/tools/ceph-local.sh" start "$CEPH_DIR" --no-mgr >/dev/null
fi
rc=0
env E2E_WORK=$TMP/e2e E2E_BACKEND=rbd CEPH_CONF=$CEPH_DIR/ceph.conf E2E_BENCH_KILLS=$KILLS \
  E2E_BENCH_PLANNED=$PLANNED ${LEASE:+E2E_HA_LEASE_MS=$LEASE} ${FBDELAY:+E2E_HA_FAILBACK_DELAY_MS=$FBDELAY} \
  "$SRC/tests/e2e/run-e2e.sh" "$BUILD" ha-bench > "$TMP/run.out" 2>&1 || rc=$?
console=$TMP/e2e/ha-bench/console.log
if [ "$rc" != 0 ] || ! grep -q 'BENCH-SUMMARY' "$console" 2>/dev/null; then
  cat "$TMP/run.out"; KEEP=1; exit 1
fi
echo "bench-failover: $KILLS SIGKILL + restart, $PLANNED SIGTERM + restart of the owner (lease ${LEASE:-2000} ms, failback delay ${FBDELAY:-0} ms)"
grep -o 'BENCH .*' "$console" | sed 's/^BENCH /  /'
grep -o 'BENCH-SUMMARY .*' "$console" | sed 's/^BENCH-SUMMARY /  /'
