#!/usr/bin/env bash
# bench-scale.sh: how the gateway's management plane behaves with many namespaces, in one run.
#
#   tests/bench/bench-scale.sh [BUILD_DIR] [--namespaces N] [--subsystems S] [--rbd R]
#                              [--concurrency C] [--gwcli-sample K] [--ceph-dir DIR]
#                              [--skip-rados] [--keep]
#
# Defaults: N = 10000 memory namespaces over S = 10 subsystems (max_namespaces 1024 each;
# automatic NSIDs; namespace i goes to subsystem i % S + 1, as ceph-csi adds them), R = 1000
# RBD namespaces, C = 8 concurrent gRPC calls, K = 200. Memory namespaces are 64 MiB, sparse
# (nothing is allocated until written), block size 4096. The gateway runs with 1 reactor and
# the default log level (info).
#
# gRPC is driven by tests/bench/scale_client.cc, built here with g++ against BUILD_DIR's
# generated stubs (api/gen/api/gateway.grpc.pb.h, api/libnvmeof_api_proto.a): C threads, one
# channel, synchronous calls. gwcli (one process per call) is compared with it on K adds.
#
# Phases, each printed as it ends:
#   1. K namespace adds to a fresh gateway three ways: gwcli in a loop, scale_client with 1
#      call at a time, scale_client with C concurrent calls.
#   2. State in memory (--state-pool none): S subsystems, then N memory namespaces:
#      namespaces/s, with a line per 1000 (a rate that falls as the count grows = per-call
#      work that grows with the state); gateway RSS before/after (VmRSS from
#      /proc/PID/status) and per namespace; `gwcli namespace list` of a full subsystem and
#      `gwcli subsystem list`; SIGTERM -> exit.
#   3. State in RADOS (a throw-away cluster from tests/tools/ceph-local.sh, or --ceph-dir;
#      pool rbd, group bench<pid>a, object nvmeof.bench<pid>a.state): the same N; then a
#      restart on that state: time from exec to "N item(s) replayed", to "ready", and to the
#      end of the first successful nvmf-perf read of the last namespace added.
#   4. RBD: R images (16 MiB) created beforehand with python3-rbd, then added as RBD
#      namespaces to one subsystem of a fresh gateway (group bench<pid>b, state in RADOS):
#      namespaces/s, RSS per RBD namespace; then the same restart measurement.
# Benchmarks are not tests: nothing here passes or fails. The defaults take ~30 minutes on
# a 2-core machine (the per-add cost grows with the state; see docs/benchmarks.md, Scale).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build
NS=10000 SS=10 RBDN=1000 CONC=8 SAMPLE=200 MEMSIZE=$((64 << 20)) CEPH_DIR= SKIP_RADOS=0 KEEP=0
while (($#)); do
  case $1 in
    --namespaces) NS=$2; shift 2 ;;
    --subsystems) SS=$2; shift 2 ;;
    --rbd) RBDN=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --gwcli-sample) SAMPLE=$2; shift 2 ;;
    --ceph-dir) CEPH_DIR=$(realpath "$2"); shift 2 ;;
    --skip-rados) SKIP_RADOS=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway
GWCLI=$BUILD/cli/gwcli
PERF=$BUILD/tests/host/nvmf-perf
CEPH_LOCAL=$ROOT/tests/tools/ceph-local.sh
for b in "$GW" "$GWCLI" "$PERF"; do [[ -x $b ]] || { echo "build first: $b is needed" >&2; exit 2; }; done
PROTO_LIB=$BUILD/api/libnvmeof_api_proto.a
GEN=$BUILD/api/gen
[[ -f $PROTO_LIB && -f $GEN/api/gateway.grpc.pb.h ]] ||
  { echo "build first: $PROTO_LIB (ninja -C $BUILD nvmeof_api_proto)" >&2; exit 2; }
PER_SS=$(((NS + SS - 1) / SS))
((PER_SS <= 1024 && RBDN <= 1024)) || { echo "at most 1024 namespaces per subsystem" >&2; exit 2; }

WORK=$(mktemp -d /tmp/nvmeof-bench-scale.XXXXXX)
OWN_CLUSTER=0
GWPID= PERFPID=
GROUP_A=bench$$a GROUP_B=bench$$b
cleanup() {
  [[ -n $PERFPID ]] && { kill "$PERFPID" 2>/dev/null; wait "$PERFPID" 2>/dev/null || true; }
  [[ -n $GWPID ]] && { kill "$GWPID" 2>/dev/null; wait "$GWPID" 2>/dev/null || true; }
  if [[ -n $CEPH_DIR && -f $CEPH_DIR/ceph.conf ]] && ((!OWN_CLUSTER)); then
    # Someone else's cluster: remove what we made.
    for g in "$GROUP_A" "$GROUP_B"; do rados -c "$CEPH_DIR/ceph.conf" -p rbd rm "nvmeof.$g.state" >/dev/null 2>&1 || true; done
    if [[ -s $WORK/images ]]; then
      "$PY" - "$CEPH_DIR/ceph.conf" "$WORK/images" <<'EOF' || true
import sys, rados, rbd
c = rados.Rados(conffile=sys.argv[1]); c.connect(); io = c.open_ioctx("rbd")
for n in open(sys.argv[2]).read().split():
    try: rbd.RBD().remove(io, n)
    except Exception: pass
EOF
    fi
  fi
  bench_cluster_destroy
  if ((KEEP)); then echo "kept: $WORK${CEPH_DIR:+ (cluster $CEPH_DIR)}"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mib() { num "$1/1024" .1f; }
# seconds from $2 (epoch) to the timestamp of the first log line containing $1
log_at() {
  local ts; ts=$(grep -m1 -- "$1" "$GWLOG" | cut -d' ' -f1)
  [[ -n $ts ]] && num "$(date -d "$ts" +%s.%N)-$2" .2f || echo "?"
}

# ------------------------------------------------------------------ scale_client
CLIENT=$BUILD/bench-scale/scale_client
if [[ ! -x $CLIENT || $ROOT/tests/bench/scale_client.cc -nt $CLIENT || $PROTO_LIB -nt $CLIENT ]]; then
  mkdir -p "$BUILD/bench-scale"
  # shellcheck disable=SC2046
  g++ -std=c++20 -O2 -o "$CLIENT" -isystem "$GEN" "$ROOT/tests/bench/scale_client.cc" "$PROTO_LIB" \
    $(pkg-config --cflags --libs grpc++ protobuf) -lpthread
fi

# ------------------------------------------------------------------ gateway control
GWLOG= GRPC= T_START=
# start_gw LOGNAME ARGS...: starts the gateway and waits for "ready"; sets GWPID, GRPC, T_START.
start_gw() {
  GWLOG=$WORK/$1.log; shift
  GRPC=$(free_port)
  T_START=$(now)
  "$GW" --name gwA --hostname gwA --discovery none --reactors 1 --grpc "127.0.0.1:$GRPC" "$@" \
    >"$GWLOG" 2>&1 </dev/null &
  GWPID=$!
  for _ in $(seq 30000); do
    grep -qs ' ready$' "$GWLOG" && return 0
    kill -0 "$GWPID" 2>/dev/null || { echo "gateway exited:" >&2; tail -20 "$GWLOG" >&2; exit 1; }
    sleep 0.02
  done
  echo "gateway not ready after 600 s" >&2; tail -20 "$GWLOG" >&2; exit 1
}
stop_gw() { # prints the seconds from SIGTERM to exit
  local t0; t0=$(now)
  kill "$GWPID"; wait "$GWPID" 2>/dev/null || true; GWPID=
  num "$(now)-$t0" .2f
}
cli() { "$GWCLI" --server-address 127.0.0.1 --server-port "$GRPC" --output stdio "$@"; }
client() { "$CLIENT" --server "127.0.0.1:$GRPC" "$@"; }
result() { sed -n 's/^RESULT .* '"$1"'=\([^ ]*\).*/\1/p' "$2"; }
NQN=nqn.2016-06.io.nvmeof-gateway:scale

# memory_namespaces TAG: S subsystems + N memory namespaces on the running gateway.
# Sets SS_SECS, NS_SECS, NS_RATE, RSS0 (after the subsystems), RSS1 (after the namespaces).
memory_namespaces() {
  client subsystems --prefix "$NQN" --count "$SS" --max-ns 1024 --concurrency 1 --batch 1000000 >"$WORK/$1-ss.out"
  SS_SECS=$(result seconds "$WORK/$1-ss.out")
  RSS0=$(rss_kib "$GWPID")
  echo "  $NS memory namespaces over $SS subsystems, $CONC concurrent calls (scale_client), per 1000:"
  client namespaces --prefix "$NQN" --subsystems "$SS" --count "$NS" --memory-size "$MEMSIZE" \
    --concurrency "$CONC" --batch 1000 | tee "$WORK/$1-ns.out" | grep --line-buffered -v '^RESULT' | sed 's/^/    /'
  NS_SECS=$(result seconds "$WORK/$1-ns.out")
  NS_RATE=$(result rate "$WORK/$1-ns.out")
  RSS1=$(rss_kib "$GWPID")
}

# restart NAME NQN NSID ARGS...: stops the gateway, starts it again with ARGS on the same
# state, and times exec -> replayed, ready, first successful read of NSID (nvmf-perf, 4k
# randread qd1 for 10 ms, retried every 50 ms from exec on; the time is taken when such a
# run has exited successfully, so it includes its own start, connect and 10 ms). One line.
restart() {
  local name=$1 nqn=$2 nsid=$3; shift 3
  local stop_s; stop_s=$(stop_gw)
  local t0; t0=$(now)
  # Poll for I/O from exec on, in the background.
  (
    while :; do
      if "$PERF" --addr 127.0.0.1 --port "$IOPORT" --nqn "$nqn" --nsid "$nsid" --rw randread --bs 4k --qd 1 \
        --time 0.01 --json >"$WORK/$name-perf.json" 2>/dev/null; then
        num "$(now)-$t0" .2f >"$WORK/$name-io"
        exit 0
      fi
      sleep 0.05
    done
  ) &
  PERFPID=$!
  start_gw "$name" "$@"
  T_START=$t0
  for _ in $(seq 6000); do [[ -s $WORK/$name-io ]] && break; sleep 0.05; done
  kill "$PERFPID" 2>/dev/null || true; wait "$PERFPID" 2>/dev/null || true; PERFPID=
  local items; items=$(grep -m1 -o '[0-9]* item(s) replayed' "$GWLOG" | cut -d' ' -f1)
  printf '  %-44s stop %s s; exec -> %s items replayed %s s, ready %s s, read of %s nsid %s OK %s s (RSS %s MiB)\n' \
    "restart on the RADOS state" "$stop_s" "$items" "$(log_at 'item(s) replayed' "$t0")" "$(log_at ' ready$' "$t0")" \
    "${nqn##*:}" "$nsid" "$(cat "$WORK/$name-io" 2>/dev/null || echo 'not within 300 s')" "$(mib "$(rss_kib "$GWPID")")"
}

echo "bench-scale: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  gateway: 1 reactor, log level info; memory namespaces $((MEMSIZE >> 20)) MiB (sparse), block size 4096; $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ 1. gwcli vs scale_client
echo
echo "1. $SAMPLE namespace adds to one subsystem of a fresh gateway (state in memory)"
sample_way() { # LABEL gwcli|CONCURRENCY -> seconds
  start_gw "sample-$1" --state-pool none
  cli subsystem add -n "${NQN}1" --no-group-append -m 1024 >/dev/null
  local t0 s; t0=$(now)
  if [[ $2 == gwcli ]]; then
    for ((i = 0; i < SAMPLE; i++)); do cli namespace add -n "${NQN}1" --memory-size "${MEMSIZE}B" -s 4096 >/dev/null; done
  else
    client namespaces --prefix "$NQN" --subsystems 1 --count "$SAMPLE" --memory-size "$MEMSIZE" \
      --concurrency "$2" --batch 1000000 >/dev/null
  fi
  s=$(num "$(now)-$t0" .3f)
  stop_gw >/dev/null
  echo "$s"
}
S_CLI=$(sample_way gwcli gwcli)
S_C1=$(sample_way c1 1)
S_CN=$(sample_way cn "$CONC")
printf '  %-44s %7.2f s  %8.1f namespaces/s\n' "gwcli namespace add, one after the other" "$S_CLI" "$(num "$SAMPLE/$S_CLI" .1f)"
printf '  %-44s %7.2f s  %8.1f namespaces/s\n' "scale_client, 1 call at a time" "$S_C1" "$(num "$SAMPLE/$S_C1" .1f)"
printf '  %-44s %7.2f s  %8.1f namespaces/s\n' "scale_client, $CONC concurrent calls" "$S_CN" "$(num "$SAMPLE/$S_CN" .1f)"

# ------------------------------------------------------------------ 2. state in memory
echo
echo "2. state in memory (--state-pool none)"
start_gw mem --state-pool none
RSS_START=$(rss_kib "$GWPID")
memory_namespaces mem
t0=$(now)
LISTED=$(cli --format json namespace list -n "${NQN}1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["namespaces"]))')
LIST_S=$(num "$(now)-$t0" .2f)
t0=$(now)
cli --format json subsystem list >/dev/null
SLIST_S=$(num "$(now)-$t0" .2f)
STOP_S=$(stop_gw)
printf '  %-44s %s s\n' "$SS subsystems created" "$SS_SECS"
printf '  %-44s %s s: %s namespaces/s\n' "$NS memory namespaces created" "$NS_SECS" "$NS_RATE"
printf '  %-44s %s MiB at start, %s MiB before the namespaces, %s MiB after: %s bytes per namespace\n' \
  "gateway RSS" "$(mib "$RSS_START")" "$(mib "$RSS0")" "$(mib "$RSS1")" "$(num "($RSS1-$RSS0)*1024/$NS" .0f)"
printf '  %-44s %s s (%s namespaces); subsystem list %s s\n' "gwcli namespace list of subsystem 1" "$LIST_S" "$LISTED" "$SLIST_S"
printf '  %-44s %s s\n' "SIGTERM -> exit" "$STOP_S"

((SKIP_RADOS)) && exit 0

# ------------------------------------------------------------------ 3. state in RADOS
echo
if [[ -z $CEPH_DIR ]]; then
  CEPH_DIR=$WORK/c; OWN_CLUSTER=1
  bench_cluster_start --fresh --no-mgr
fi
CONF=$CEPH_DIR/ceph.conf
echo "3. state in RADOS (tests/tools/ceph-local.sh cluster: Ceph $(ceph --version | awk '{ print $3 }'), 1 memstore OSD; object nvmeof.$GROUP_A.state in pool rbd)"
RADOS_A=(--state-pool rbd --ceph-conf "$CONF" --group "$GROUP_A")
start_gw rados "${RADOS_A[@]}"
RSS_START=$(rss_kib "$GWPID")
memory_namespaces rados
printf '  %-44s %s s\n' "$SS subsystems created" "$SS_SECS"
printf '  %-44s %s s: %s namespaces/s\n' "$NS memory namespaces created" "$NS_SECS" "$NS_RATE"
printf '  %-44s %s MiB at start, %s MiB before the namespaces, %s MiB after: %s bytes per namespace\n' \
  "gateway RSS" "$(mib "$RSS_START")" "$(mib "$RSS0")" "$(mib "$RSS1")" "$(num "($RSS1-$RSS0)*1024/$NS" .0f)"
# The subsystem of the last namespace gets a listener and any host, to read it after the restart.
IOPORT=$(free_port)
LAST_SS=$(((NS - 1) % SS + 1)) LAST_NSID=$(((NS - 1) / SS + 1))
cli host add -n "$NQN$LAST_SS" -t '*' >/dev/null
cli listener add -n "$NQN$LAST_SS" -t gwA -a 127.0.0.1 -s "$IOPORT" >/dev/null
restart rados-restart "$NQN$LAST_SS" "$LAST_NSID" "${RADOS_A[@]}"
stop_gw >/dev/null

# ------------------------------------------------------------------ 4. RBD namespaces
((RBDN > 0)) || exit 0
echo
IMGP=scale-$$-
t0=$(now)
"$PY" - "$CONF" "$IMGP" "$RBDN" "$WORK/images" <<'EOF'
import sys, rados, rbd
conf, prefix, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = rados.Rados(conffile=conf); c.connect(); io = c.open_ioctx("rbd")
with open(out, "w") as f:
    for i in range(n):
        rbd.RBD().create(io, f"{prefix}{i}", 16 << 20, old_format=False)
        f.write(f"{prefix}{i}\n")
EOF
IMG_S=$(num "$(now)-$t0" .1f)
echo "4. $RBDN RBD namespaces (16 MiB images in pool rbd, created beforehand with python3-rbd in $IMG_S s), one subsystem, state in RADOS (group $GROUP_B)"
RADOS_B=(--state-pool rbd --ceph-conf "$CONF" --group "$GROUP_B")
start_gw rbd "${RADOS_B[@]}"
IOPORT=$(free_port)
RSS_START=$(rss_kib "$GWPID")
RBD_SS=$NQN-rbd
cli subsystem add -n "$RBD_SS" --no-group-append -m 1024 >/dev/null
cli host add -n "$RBD_SS" -t '*' >/dev/null
cli listener add -n "$RBD_SS" -t gwA -a 127.0.0.1 -s "$IOPORT" >/dev/null
RSS0=$(rss_kib "$GWPID")
THR0=$(awk '/^Threads:/ { print $2 }' "/proc/$GWPID/status")
echo "  per 100:"
client namespaces --nqn "$RBD_SS" --count "$RBDN" --backend rbd --pool rbd \
  --image-prefix "$IMGP" --concurrency "$CONC" --batch 100 | tee "$WORK/rbd-ns.out" | grep --line-buffered -v '^RESULT' | sed 's/^/    /' || true
RSS1=$(rss_kib "$GWPID")
THR1=$(awk '/^Threads:/ { print $2 }' "/proc/$GWPID/status")
printf '  %-44s %s s: %s namespaces/s (%s errors)\n' "$RBDN RBD namespaces created" "$(result seconds "$WORK/rbd-ns.out")" \
  "$(result rate "$WORK/rbd-ns.out")" "$(result errors "$WORK/rbd-ns.out")"
printf '  %-44s %s MiB at start, %s MiB before the namespaces, %s MiB after: %s KiB per namespace; threads %s -> %s\n' \
  "gateway RSS" "$(mib "$RSS_START")" "$(mib "$RSS0")" "$(mib "$RSS1")" "$(num "($RSS1-$RSS0)/$RBDN" .0f)" "$THR0" "$THR1"
restart rbd-restart "$RBD_SS" "$RBDN" "${RADOS_B[@]}"
stop_gw >/dev/null
