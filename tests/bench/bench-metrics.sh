#!/usr/bin/env bash
# bench-metrics.sh: the data-plane cost of metrics. The same build twice in one run:
# A with the Prometheus exporter off, B with it on and scraped every second (the same
# configuration file otherwise).
#
#   tests/bench/bench-metrics.sh [BUILD_DIR] [--time SECONDS] [--rounds N] [--pairs K]
#
# Set-up of bench-ab.sh: both gateways at once, each with one reactor on CPU 0 over its
# own memory namespace (the idle one sleeps); nvmf-perf on CPU 1 (one connection, queue
# depth 32). B's exporter runs with prometheus_stats_interval = 0, so that every scrape is
# a full collection (the worst case: the default, 10 s, answers most scrapes from its
# cache); its HTTP thread shares CPU 0 with the reactor (the process is pinned). While a
# B run lasts, a loop on CPU 1 fetches B's /metrics every second (as Prometheus would,
# with scrape_interval 1s). Each round starts a fresh pair of gateways (A first in odd
# rounds, B first in even ones; each prefilled), so that what one process instance gets by
# chance (where its memory landed, its start order) falls on A and B alike over the rounds
# instead of on one side for the whole run; then it runs the four workloads of
# bench-dataplane.sh, each against A and B back to back, AB in odd rounds and BA in even
# ones, so the machine's drift falls on both alike; --pairs K repeats each workload's A/B
# pair K times in a round (shorter runs, more pairs: the VM's slow swings cancel within a
# pair). Prints every run, then bench-ab.sh's summary (B/A: the
# throughput kept with metrics on; the target is >= 0.98) and the number of scrapes. Then,
# as a figure the machine's load moves little, the CPU time one scrape costs B (all its
# threads, from /proc/PID/task/*/schedstat, idle consumption subtracted): at one scrape per
# second, the share of a core the exporter can take from the reactor.
# Benchmarks are not tests: nothing here passes or fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/bench/common.sh"
BUILD=$ROOT/build TIME=4 ROUNDS=8 PAIRS=1
while (($#)); do
  case $1 in
    --time) TIME=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) BUILD=$(realpath "$1"); shift ;;
  esac
done
GW=$BUILD/gateway/nvmeof-gateway PERF=$BUILD/tests/host/nvmf-perf
for f in "$GW" "$PERF"; do [[ -x $f ]] || { echo "missing $f: build first" >&2; exit 2; }; done
command -v curl >/dev/null || { echo "curl missing" >&2; exit 2; }
NCPU=$(nproc)
C0=0; C1=$((NCPU > 1 ? 1 : 0))
NQN=nqn.2016-06.io.nvmeof-gateway:bench
WORK=$(mktemp -d /tmp/bench-metrics.XXXXXX)
RES=$WORK/results.tsv SCRAPES=$WORK/scrapes
# The scrape loop (on CPU 1, with nvmf-perf), running only while B is measured: one
# long-lived process, as Prometheus is (a curl started every second cost CPU 1 a process
# start, OpenSSL's initialisation included, on each scrape: that charged nvmf-perf, not the
# gateway).
start_scraper() { scraper_start "$C1" "$MPORT" "$SCRAPES"; }
stop_scraper() {
  if [[ -n ${SCRAPER:-} ]]; then kill "$SCRAPER" 2>/dev/null || true; wait "$SCRAPER" 2>/dev/null || true; fi
  SCRAPER=
}

cleanup() { stop_scraper; kill ${PID_A:-} ${PID_B:-} 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# B's exporter: on a free loopback port, a full collection on every scrape.
MPORT=$(free_port)
metrics_confs "$WORK" "$MPORT"  # metrics.conf for B, off.conf for A

echo "bench-metrics: $GW"
echo "  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NCPU cores; $ROUNDS rounds x 4 workloads x $PAIRS pair(s) x ${TIME}s per side, interleaved"
echo "  A: exporter off; B: exporter on 127.0.0.1:$MPORT (prometheus_stats_interval 0), GET /metrics every second"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# A fresh pair per round: start_pair FIRST (A or B starts first), both prefilled.
start_pair() {
  local side
  PORT_A=$(free_port); PORT_B=$(free_port)
  for side in "$1" $([[ $1 == A ]] && echo B || echo A); do
    if [[ $side == A ]]; then
      dp_start "$GW" "$PORT_A" "$(free_port)" "$WORK/a.log" --config "$WORK/off.conf" --state-pool none; PID_A=$GWPID
    else
      dp_start "$GW" "$PORT_B" "$(free_port)" "$WORK/b.log" --config "$WORK/metrics.conf" --state-pool none; PID_B=$GWPID
    fi
  done
  GWPID=
  for _ in $(seq 600); do  # dp_start waits 5 s for "ready"; a loaded machine may need more
    curl -sf "http://127.0.0.1:$MPORT/metrics" | grep -q '^ceph_nvmeof_gateway_info' && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$MPORT/metrics" | grep -q '^ceph_nvmeof_gateway_info' ||
    { echo "B's exporter does not answer:"; cat "$WORK/b.log"; exit 1; }
  for _ in $(seq 600); do grep -q ready "$WORK/a.log" && break; sleep 0.1; done
  dp_prefill "$PERF" "$PORT_A"
  dp_prefill "$PERF" "$PORT_B"
}
stop_pair() {
  kill "$PID_A" "$PID_B" 2>/dev/null || true
  wait "$PID_A" "$PID_B" 2>/dev/null || true
  PID_A= PID_B=
}
: >"$SCRAPES"

once() { # SIDE ROUND RW BS
  local port=$PORT_A line iops mib
  if [[ $1 == B ]]; then port=$PORT_B; start_scraper; sleep 0.5; fi  # the scraper started before the run
  line=$(dp_run "$PERF" "$port" "$3" "$4" "$TIME")
  if [[ $1 == B ]]; then stop_scraper; fi
  read -r iops mib _ <<<"$line"
  printf '%s\t%s\t%s %s\t%s\t%s\n' "$2" "$1" "$3" "$4" "$iops" "$mib" >>"$RES"
  printf '  round %-5s %s  %-14s %10.0f IOPS %8.0f MiB/s\n' "$2" "$1" "$3 $4" "$iops" "$mib"
}

for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then start_pair A; else start_pair B; fi
  for w in "randread 4k" "randwrite 4k" "read 128k" "write 128k"; do
    read -r rw bs <<<"$w"
    for ((k = 1; k <= PAIRS; k++)); do
      id=$r; ((PAIRS == 1)) || id=$r.$k
      if (((r + k) % 2 == 0)); then once A "$id" "$rw" "$bs"; once B "$id" "$rw" "$bs"
      else once B "$id" "$rw" "$bs"; once A "$id" "$rw" "$bs"; fi
    done
  done
  ((r == ROUNDS)) || stop_pair
done

ab_summary "$RES"
echo "  scrapes of B answered: $(wc -l <"$SCRAPES") (last one $(curl -sf "http://127.0.0.1:$MPORT/metrics" | wc -c) bytes)"

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
