#!/usr/bin/env bash
# bench-metrics.sh: the data-plane cost of metrics. The same build twice in one run:
# A with the Prometheus exporter off, B with it on and scraped (the same configuration
# file otherwise).
#
#   tests/bench/bench-metrics.sh [BUILD_DIR] [--rounds N] [--pairs K] [--slice S] [--control]
#                                [--results FILE]
#
# Set-up of bench-ab.sh: both gateways at once, each with one reactor on CPU 0 over its
# own memory namespace (the idle one sleeps); the load on CPU 1 (nvmf-perf, one connection,
# queue depth 32). B's exporter runs with prometheus_stats_interval = 0, so that every
# scrape is a full collection (the worst case: the default, 10 s, answers most scrapes from
# its cache); its HTTP thread shares CPU 0 with the reactor (the process is pinned).
# Paced slices (tests/bench/paced-ab.py): for each of bench-dataplane.sh's four workloads,
# one nvmf-perf process per gateway stays connected, and the two are loaded in turn, S
# seconds each (default 0.25), K pairs (default 10), AB and BA alternately: only one side
# is loaded at a time, and the VM's swings, slower than a pair, fall on A and B alike
# (whole runs of seconds each, as this script made before, differed by up to 10 % between
# two identical gateways). B is scraped (GET /metrics) once a second of wall time, as
# Prometheus with scrape_interval 1s, always 10 ms into one of B's slices: all of a
# scrape's cost (the collection on CPU 0, the client on CPU 1) lands in B's measured time,
# twice the per-second rate of that interval. Each of the N rounds (default 40) starts a
# fresh pair of gateways, prefilled (every block of the I/O region written once), A first
# in everything in odd rounds (started, prefilled, its load generator started and warmed
# up, the first slice), B first in even ones, so that what one process instance or
# position gets by chance (two gateway instances differ by several per cent here) falls on
# A and B alike. --control runs B with the exporter off and unscraped as well: the
# method's own spread (A against A). --results FILE keeps every slice's line.
# Prints a line per round and workload, then per workload: the medians, the ratio of the
# means of B and A (the throughput kept with metrics on, over every pair of the run; the
# target is >= 0.98) with a 95 % bootstrap interval (rounds resampled, then pairs), and
# the median of the paired ratios; then the scrapes answered, and, as a figure the
# machine's load moves little, the CPU time one scrape costs B (all its threads, from
# /proc/PID/task/*/schedstat, idle consumption subtracted). The defaults take about 21
# minutes.
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build ROUNDS=40 PAIRS=10 SLICE=0.25 CONTROL=0 SAVE=
while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --slice) SLICE=$2; shift 2 ;;
    --control) CONTROL=1; shift ;;
    --results) SAVE=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "bench-metrics.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "bench-metrics.sh: --rounds and --pairs take a positive count" >&2; exit 2; }
[[ $SLICE =~ ^[0-9]*\.?[0-9]+$ ]] && "$PY" -c "import sys; sys.exit(not 0.05 <= float('$SLICE') <= 60)" ||
  { echo "bench-metrics.sh: --slice takes seconds between 0.05 and 60" >&2; exit 2; }
GW=$BUILD/gateway/nvmeof-gateway PERF=$BUILD/tests/host/nvmf-perf
for f in "$GW" "$PERF"; do [[ -x $f ]] || { echo "missing $f: build first" >&2; exit 2; }; done
command -v curl >/dev/null || { echo "curl missing" >&2; exit 2; }
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
WORK=$(mktemp -d /tmp/bench-metrics.XXXXXX)
RES=$WORK/results.tsv

cleanup() { kill ${PID_A:-} ${PID_B:-} 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# metrics.conf for B (its exporter on a free loopback port, chosen afresh each round by
# start_pair, a full collection on every scrape), off.conf for A.
B_CONF=$WORK/metrics.conf
((CONTROL)) && B_CONF=$WORK/off.conf

echo "bench-metrics: $GW"
echo "  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; $ROUNDS rounds x 4 workloads x $PAIRS pairs of ${SLICE} s slices, A and B in turn"
if ((CONTROL)); then
  echo "  control: A and B both with the exporter off, nothing scraped (the method's own spread)"
else
  echo "  A: exporter off; B: exporter on (prometheus_stats_interval 0), GET /metrics once a second, in B's slices"
fi
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# B's exporter answers with its metrics (the whole body read first: grep -q would close the
# pipe early and fail curl, and the pipeline with it, under pipefail).
exporter_answers() {
  local body
  body=$(curl -sf "http://127.0.0.1:$MPORT/metrics") && [[ $body == *ceph_nvmeof_gateway_info* ]]
}
# A fresh pair per round: start_pair FIRST (A or B starts first), both prefilled.
start_pair() {
  local side
  PORT_A=$(free_port); PORT_B=$(free_port)
  # B's exporter on a port chosen afresh (the last round's may be some connection's now).
  MPORT=$(free_port)
  metrics_confs "$WORK" "$MPORT"
  for side in "$1" $([[ $1 == A ]] && echo B || echo A); do
    if [[ $side == A ]]; then
      dp_start "$GW" "$PORT_A" "$(free_port)" "$WORK/a.log" --config "$WORK/off.conf" --state-pool none; PID_A=$GWPID
    else
      dp_start "$GW" "$PORT_B" "$(free_port)" "$WORK/b.log" --config "$B_CONF" --state-pool none; PID_B=$GWPID
    fi
  done
  GWPID=
  dp_wait_listening "$PORT_A" "$WORK/a.log" || { echo "gateway A did not start:"; cat "$WORK/a.log"; exit 1; }
  dp_wait_listening "$PORT_B" "$WORK/b.log" || { echo "gateway B did not start:"; cat "$WORK/b.log"; exit 1; }
  if ((!CONTROL)); then
    for _ in $(seq 100); do exporter_answers && break; sleep 0.1; done
    exporter_answers || { echo "B's exporter does not answer:"; cat "$WORK/b.log"; exit 1; }
  fi
  if [[ $1 == A ]]; then dp_prefill "$PERF" "$PORT_A"; dp_prefill "$PERF" "$PORT_B"
  else dp_prefill "$PERF" "$PORT_B"; dp_prefill "$PERF" "$PORT_A"; fi
}
stop_pair() {
  kill "$PID_A" "$PID_B" 2>/dev/null || true
  wait "$PID_A" "$PID_B" 2>/dev/null || true
  PID_A= PID_B=
}

for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then start_pair A; else start_pair B; fi
  scrape=(); ((CONTROL)) || scrape=(--scrape-port "$MPORT")
  first=(); ((r % 2)) || first=(--ba-first)
  for w in "randread 4k" "randwrite 4k" "read 128k" "write 128k"; do
    read -r rw bs <<<"$w"
    "$PY" "$ROOT/tests/bench/paced-ab.py" "$PERF" "$PORT_A" "$PORT_B" "$rw" "$bs" --pairs "$PAIRS" \
      --slice "$SLICE" --cpu "$C1" --out "$RES" --round "$r" "${scrape[@]}" "${first[@]}"
    paced_round_line "$RES" "$r" "$rw $bs"
  done
  ((r == ROUNDS)) || stop_pair
done

paced_summary "$RES"
[[ -z $SAVE ]] || { cp "$RES" "$SAVE"; echo "  every slice: $SAVE"; }
if ((CONTROL)); then exit 0; fi
echo "  scrapes of B answered during B's slices: $(awk '{s += $1} END {print s}' "$RES.scrapes") (the last $(curl -sf "http://127.0.0.1:$MPORT/metrics" | wc -c) bytes)"

# The CPU one scrape costs B (all its threads, from /proc/PID/task/*/schedstat: ns on a
# CPU), idle, against its idle consumption over the same time: a figure the machine's load
# moves little. At one scrape per second, that CPU time is what the exporter can take from
# the reactor's core per second.
cpu_ns() { cat /proc/"$PID_B"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
now_ns() { date +%s%N; }
c0=$(cpu_ns) t0=$(now_ns); sleep 5; c1=$(cpu_ns) t1=$(now_ns)
N=200
c2=$(cpu_ns) t2=$(now_ns)
for ((i = 0; i < N; i++)); do curl -sf -o /dev/null "http://127.0.0.1:$MPORT/metrics"; done
c3=$(cpu_ns) t3=$(now_ns)
"$PY" - "$c0" "$c1" "$t0" "$t1" "$c2" "$c3" "$t2" "$t3" "$N" <<'PY'
import sys
c0, c1, t0, t1, c2, c3, t2, t3, n = map(int, sys.argv[1:])
idle = (c1 - c0) / (t1 - t0)                      # CPU ns per ns, idle
per = ((c3 - c2) - idle * (t3 - t2)) / n          # CPU ns per scrape
print(f"  B idle: {idle * 1e3:.2f} ms CPU per s; one scrape (full collection, {n} in a row): {per / 1e6:.3f} ms CPU")
print(f"  at one scrape per second: {per / 1e9 * 100:.3f} % of a core, throughput kept >= {1 - per / 1e9:.4f}"
      " if the reactor's core is the bottleneck")
PY
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
