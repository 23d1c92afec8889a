#!/usr/bin/env bash
# demo.sh: the main job on one machine (README: the first command).
#
#   gateway/scripts/demo.sh [start]   install packages, build, start a local Ceph, create a
#                                     pool and an image, start a gateway exporting it
#   gateway/scripts/demo.sh stop      stop the gateway and the local Ceph (data kept)
#   gateway/scripts/demo.sh destroy   stop everything and delete the demo's data
#   gateway/scripts/demo.sh status
#
# Everything lives under $NVMEOF_DEMO_DIR (default ~/.cache/nvmeof-gateway/demo):
# the Ceph cluster, the gateway's log and pid file. Ports: NVMe/TCP 127.0.0.1:4420,
# discovery 127.0.0.1:8009, gRPC 127.0.0.1:5500. Environment knobs: NVMEOF_DEMO_IMAGE_SIZE
# (default 1G), NVMEOF_DEMO_NQN, NVMEOF_DEMO_ADDR (default 127.0.0.1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${NVMEOF_DEMO_DIR:-$HOME/.cache/nvmeof-gateway/demo}
CEPH_DIR=$DIR/ceph
BUILD=$ROOT/build
NQN=${NVMEOF_DEMO_NQN:-nqn.2016-06.io.nvmeof-gateway:demo}
ADDR=${NVMEOF_DEMO_ADDR:-127.0.0.1}
SIZE=${NVMEOF_DEMO_IMAGE_SIZE:-1G}
POOL=rbd IMAGE=demo
GW_LOG=$DIR/gateway.log GW_PID=$DIR/gateway.pid

step() { printf '\033[1m[%s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
ceph_local() { bash "$ROOT/tests/tools/ceph-local.sh" "$@"; }
gw_running() { [[ -s $GW_PID ]] && kill -0 "$(cat "$GW_PID")" 2>/dev/null; }

stop_gateway() {
  if gw_running; then
    kill "$(cat "$GW_PID")"
    for _ in $(seq 50); do gw_running || break; sleep 0.1; done
    gw_running && kill -9 "$(cat "$GW_PID")"
    echo "gateway stopped"
  fi
  rm -f "$GW_PID"
}

cmd_start() {
  mkdir -p "$DIR"
  step "1/5 installing packages (Debian)"
  bash "$ROOT/gateway/scripts/install-deps.sh"
  step "2/5 building (build/, a few minutes the first time)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$DIR/configure.log" 2>&1 ||
    { cat "$DIR/configure.log"; die "cmake failed"; }
  ninja -C "$BUILD" nvmeof-gateway gwcli 2>&1 | awk '/^\[[0-9]+\/[0-9]+\]/ { if (++n % 20 == 0) print "  " $1 " ..."; next } { print }'
  step "3/5 starting a single-node Ceph cluster in $CEPH_DIR"
  ceph_local start "$CEPH_DIR"
  eval "$(ceph_local env "$CEPH_DIR")"
  step "4/5 creating image $POOL/$IMAGE ($SIZE)"
  if rbd -c "$CEPH_CONF" info "$POOL/$IMAGE" >/dev/null 2>&1; then
    echo "image $POOL/$IMAGE exists; keeping its data"
  else
    rbd -c "$CEPH_CONF" create --size "$SIZE" "$POOL/$IMAGE"
  fi
  step "5/5 starting the gateway"
  stop_gateway >/dev/null
  setsid "$BUILD/gateway/nvmeof-gateway" --name demo \
    --ceph-conf "$CEPH_CONF" --state-pool "$POOL" \
    --listen "$ADDR:4420" --discovery "$ADDR:8009" --grpc "$ADDR:5500" \
    --subsystem "$NQN" --namespace "rbd:$POOL/$IMAGE:4096" \
    </dev/null >"$GW_LOG" 2>&1 &
  echo $! >"$GW_PID"
  for _ in $(seq 100); do
    grep -q ' ready' "$GW_LOG" 2>/dev/null && break
    gw_running || { tail -20 "$GW_LOG"; die "the gateway did not start (log: $GW_LOG)"; }
    sleep 0.1
  done
  grep -q ' ready' "$GW_LOG" || { tail -20 "$GW_LOG"; die "the gateway is not ready after 10 s (log: $GW_LOG)"; }
  cat <<MSG

The gateway is serving RBD image $POOL/$IMAGE as namespace 1 of $NQN.

Connect from a Linux host (nvme-cli; modprobe nvme-tcp first):
  nvme discover -t tcp -a $ADDR -s 8009
  nvme connect  -t tcp -a $ADDR -s 4420 -n $NQN
Manage it:
  $BUILD/cli/gwcli --server-address $ADDR --server-port 5500 namespace list -n $NQN
Look at it:
  tail -f $GW_LOG
  eval "\$(tests/tools/ceph-local.sh env $CEPH_DIR)"; rbd info $POOL/$IMAGE
Stop it (data kept):  gateway/scripts/demo.sh stop
Remove everything:    gateway/scripts/demo.sh destroy
MSG
}

cmd_stop() {
  stop_gateway
  if [[ -f $CEPH_DIR/.ceph-local ]]; then ceph_local stop "$CEPH_DIR" && echo "ceph stopped"; fi
  return 0
}

cmd_destroy() {
  stop_gateway
  [[ -d $CEPH_DIR ]] && ceph_local destroy "$CEPH_DIR"
  rm -rf "$DIR"
  echo "demo removed"
}

cmd_status() {
  if gw_running; then echo "gateway: running (pid $(cat "$GW_PID"), log $GW_LOG)"; else echo "gateway: stopped"; fi
  [[ -d $CEPH_DIR ]] && ceph_local status "$CEPH_DIR" || echo "ceph: none"
}

case ${1:-start} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  destroy) cmd_destroy ;;
  status) cmd_status ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
  *) die "unknown command '$1' (start, stop, destroy, status)" ;;
esac
