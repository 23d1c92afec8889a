#!/usr/bin/env bash
# bench-ipio.sh: instructions the gateway executes per I/O, build A (the baseline) against
# build B, counted by valgrind's callgrind: a figure that does not move with the machine's
# load, unlike IOPS on a shared VM.
#
#   tests/bench/bench-ipio.sh BUILD_A BUILD_B [--time SECONDS] [--rounds N]
#
# For each build and each workload of bench-dataplane.sh (4K random read and write, 128K
# sequential read and write, queue depth 32, one connection): the gateway runs under
# callgrind with one reactor over a 16 MiB memory namespace; nvmf-perf (from BUILD_B, native)
# fills the whole namespace first (so reads copy real data and never fault in fresh memory),
# then callgrind's counters are zeroed, the workload runs for SECONDS, and the counters are
# dumped. Instructions per I/O = instructions of the whole process / I/Os completed.
# Prints each run, then per workload the median of each build and the ratio A/B (above 1:
# B executes fewer instructions per I/O), for the whole process and for the reactor thread
# alone (the busiest thread).
#
#   tests/bench/bench-ipio.sh BUILD BUILD --metrics [--time SECONDS] [--rounds N]
#
# The cost of metrics: B runs with the Prometheus exporter on (prometheus_stats_interval 0:
# a full collection on every scrape) and a scraper fetches its /metrics every second while
# the workload runs; A has the same configuration file with the exporter off. The scraper's
# work inside the gateway (the HTTP thread, the collection) is in B's count; under callgrind
# the gateway runs some 50 times slower than natively, so one scrape a second weighs about
# 50 times more per I/O here than on real hardware. Benchmarks are not tests: nothing
# passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
TIME=4 ROUNDS=1 METRICS=0
args=()
for a in "$@"; do if [[ $a == --metrics ]]; then METRICS=1; else args+=("$a"); fi; done
ab_args "$0" "${args[@]}"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "bench-ipio: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
PERF=${ARGS[1]}/tests/host/nvmf-perf
for b in "${ARGS[@]}"; do [[ -x $b/gateway/nvmeof-gateway ]] || { echo "missing $b/gateway/nvmeof-gateway: build first" >&2; exit 2; }; done
[[ -x $PERF ]] || { echo "missing $PERF: build first" >&2; exit 2; }
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
SIZE=16M
WORK=$(mktemp -d /tmp/bench-ipio.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RES=$WORK/results.tsv

perf() { taskset -c "$C1" "$PERF" --addr 127.0.0.1 --port "$1" --nqn "$NQN" --qd 32 "${@:2}"; }

# B's configuration with --metrics: the exporter on a free loopback port; A's: the same
# file with the exporter off.
MPORT=$(free_port)
metrics_confs "$WORK" "$MPORT"

# run BUILD RW BS [SIDE]: prints the instructions per I/O (SIDE B with --metrics: exporter on
# and scraped).
run() {
  local gw=$1/gateway/nvmeof-gateway port dport gpid ios ir extra=()
  port=$(free_port); dport=$(free_port)
  if ((METRICS)); then
    extra=(--config "$WORK/off.conf" --state-pool none)
    [[ ${4:-} == B ]] && extra=(--config "$WORK/metrics.conf" --state-pool none)
  fi
  taskset -c "$C0" valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/cg.%p" "$gw" --reactors 1 \
    --listen 127.0.0.1:"$port" --discovery 127.0.0.1:"$dport" --grpc none --subsystem "$NQN" \
    --namespace memory:$SIZE:4096 "${extra[@]}" >"$WORK/gw.log" 2>&1 &
  gpid=$!
  for _ in $(seq 900); do grep -q ready "$WORK/gw.log" 2>/dev/null && break; sleep 0.2; done
  grep -q ready "$WORK/gw.log" || { echo "gateway did not start: $(tail -3 "$WORK/gw.log")" >&2; kill $gpid; return 1; }
  # Fill the whole namespace: 128K sequential writes over it, twice the time it needs.
  perf "$port" --bs 128k --rw write --size $SIZE --time 8 >/dev/null
  SCRAPER=
  if ((METRICS)) && [[ ${4:-} == B ]]; then scraper_start "$C1" "$MPORT" "$WORK/scrapes"; sleep 1; fi
  callgrind_control -z $gpid >/dev/null 2>&1
  ios=$(perf "$port" --bs "$3" --rw "$2" --size $SIZE --time "$TIME" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["ios"])')
  callgrind_control -d $gpid >/dev/null 2>&1
  if [[ $SCRAPER ]]; then kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true; fi
  kill $gpid; wait $gpid 2>/dev/null || true
  # One file per thread: the whole process is their sum, the reactor the busiest thread.
  read -r ir top < <(grep -h '^summary:' "$WORK"/cg.$gpid.1-* |
                     awk '{s += $2; if ($2 > m) m = $2} END {printf "%.0f %.0f\n", s, m}')
  rm -f "$WORK"/cg.$gpid*
  echo "$(num "$ir / $ios" '.0f') $(num "$top / $ios" '.0f')"
}

echo "bench-ipio: A = ${ARGS[0]}"
echo "            B = ${ARGS[1]}"
echo "  callgrind instructions per I/O; $ROUNDS round(s) x 4 workloads x ${TIME}s per build"
((METRICS)) && echo "  --metrics: A exporter off; B exporter on (prometheus_stats_interval 0), GET /metrics every second"
: >"$WORK/scrapes"
for ((r = 1; r <= ROUNDS; r++)); do
  for w in "randread 4k" "randwrite 4k" "read 128k" "write 128k"; do
    set -- $w
    read -r a ar < <(run "${ARGS[0]}" "$1" "$2" A); read -r b br < <(run "${ARGS[1]}" "$1" "$2" B)
    printf '  round %d %-9s %-4s A %8s  B %8s  A/B %s   reactor thread: A %8s  B %8s  A/B %s\n' "$r" "$1" "$2" \
      "$a" "$b" "$(num "$a / $b" '.3f')" "$ar" "$br" "$(num "$ar / $br" '.3f')"
    printf '%s %s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$a" "$b" "$ar" "$br" >>"$RES"
  done
done
echo "workload        A ins/IO   B ins/IO   A/B (median over rounds)   reactor thread: A    B    A/B"
python3 - "$RES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    w, *v = line.rstrip("\n").split("\t")
    rows.setdefault(w, []).append([float(x) for x in v])
for w, v in rows.items():
    a, b, ar, br = (statistics.median(x[i] for x in v) for i in range(4))
    print(f"{w:<15} {a:9.0f}  {b:9.0f}   {a / b:.3f}                      {ar:9.0f} {br:9.0f}   {ar / br:.3f}")
PY
((METRICS)) && echo "scrapes of B answered during the measured windows: $(wc -l <"$WORK/scrapes")"
