# Helpers shared by the benchmark scripts (sourced, not run).
PY=/usr/bin/python3
# A free TCP port on 127.0.0.1.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# num EXPR FORMAT: the arithmetic expression formatted with Python's format spec.
num() { "$PY" -c "import sys; print(format(eval(sys.argv[1]), sys.argv[2]))" "$1" "$2"; }

# The data-plane set-up shared by bench-dataplane.sh and bench-ab.sh: one gateway reactor
# pinned to CPU $C0 over a 4 GiB memory namespace; nvmf-perf pinned to CPU $C1, one
# connection, queue depth 32. Callers set C0, C1, NQN.
# dp_start GATEWAY PORT DPORT LOG [ARGS...]: starts it in the background (pid in GWPID), with
# ARGS added to its command line, and waits until its I/O listener is open.
dp_start() {
  taskset -c "$C0" "$1" --reactors 1 --listen 127.0.0.1:"$2" --discovery 127.0.0.1:"$3" \
    --grpc none --subsystem "$NQN" --namespace memory:4G:4096 --log-level warning "${@:5}" >"$4" 2>&1 &
  GWPID=$!
  dp_wait_listening "$2" "$4"
}
# dp_wait_listening PORT LOG: waits up to 60 s until something listens on 127.0.0.1:PORT
# (the gateway opens its listeners last; at --log-level warning it logs no "ready" line),
# or LOG says "ready"; returns 1 if neither happened.
dp_wait_listening() {
  for _ in $(seq 600); do
    if command -v ss >/dev/null; then
      [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]] && return 0
    fi
    grep -q ready "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# dp_prefill PERF PORT: writes every block of the first GiB once (--verify's fill phase,
# then a tenth of a second of verified writes), so that reads return real data and no
# measured write is the first to touch its memory, however fast the machine is today.
dp_prefill() {
  taskset -c "$C1" "$1" --addr 127.0.0.1 --port "$2" --nqn "$NQN" --qd 32 --bs 128k --rw write \
    --verify --time 0.1 --size 1G >/dev/null
}
# dp_run PERF PORT RW BS SECONDS: prints "iops mibs p50_us".
dp_run() {
  taskset -c "$C1" "$1" --addr 127.0.0.1 --port "$2" --nqn "$NQN" --qd 32 --bs "$4" --rw "$3" \
    --time "$5" --size 1G --json | "$PY" -c '
import json,sys
d=json.load(sys.stdin); t=d.get("total",d)
lat=t.get("latency_us",{})
print(t["iops"], t["mibps"], lat.get("p50",0))'
}

# ab_summary RESULTS: the A/B scripts' summary. RESULTS has one line per run, tab-separated:
# ROUND SIDE(A|B) WORKLOAD IOPS MIBS (WORKLOAD "RW BS"; 128K workloads compare MiB/s, the
# others IOPS). Prints per workload the medians of A and B, their ratio, and the median of
# the per-round ratios B/A (each A and B run back to back: the figure least moved by drift).
ab_summary() {
  "$PY" - "$1" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order, vals = [], {}
for rnd, side, w, iops, mib in rows:
    if w not in order: order.append(w)
    v = float(mib) if w.endswith("128k") else float(iops)
    vals.setdefault(w, {}).setdefault(rnd, {})[side] = v
print()
print(f"  {'workload (qd 32)':<16} {'A median':>14} {'B median':>14}   B/A of medians   median of paired B/A")
worst = None
for w in order:
    unit = "MiB/s" if w.endswith("128k") else "IOPS"
    pairs = [p for p in vals[w].values() if "A" in p and "B" in p]
    a = statistics.median(p["A"] for p in pairs); b = statistics.median(p["B"] for p in pairs)
    paired = statistics.median(p["B"] / p["A"] for p in pairs)
    worst = paired if worst is None else min(worst, paired)
    print(f"  {w:<16} {a:>9.0f} {unit:<5}{b:>9.0f} {unit:<5}  {b / a:14.3f}   {paired:20.3f}")
print(f"  lowest median paired ratio B/A: {worst:.3f}")
PY
}

# The paced A/B scripts (paced-ab.py's RESULTS: one line per slice, ROUND.PAIR SIDE WORKLOAD
# IOPS MIBS; 128K workloads compare MiB/s, the others IOPS). paced_round_line RESULTS ROUND
# WORKLOAD prints that round's means of A and B and their ratio; paced_summary RESULTS prints
# per workload, over every pair of the run: the medians, the ratio of the means (B/A: with
# slices of equal length, B's I/Os over A's), its 95 % bootstrap interval (rounds, then
# pairs within them, resampled; fixed seed), and the median of the paired ratios.
paced_round_line() {
  "$PY" - "$@" <<'PY'
import statistics, sys
path, rnd, w = sys.argv[1:]
col = 4 if w.endswith("128k") else 3
rows = [l.rstrip("\n").split("\t") for l in open(path)]
v = {s: [float(r[col]) for r in rows if r[0].split(".")[0] == rnd and r[2] == w and r[1] == s] for s in "AB"}
unit = "MiB/s" if col == 4 else "IOPS"
a, b = statistics.fmean(v["A"]), statistics.fmean(v["B"])
print(f"  round {rnd:<3} {w:<14} {len(v['A']):3d} pairs   A {a:9.0f} {unit:<5}  B {b:9.0f} {unit:<5}  B/A {b / a:.3f}")
PY
}
paced_summary() {
  "$PY" - "$1" <<'PY'
import random, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order, pairs = [], {}
for pid, side, w, iops, mib in rows:
    if w not in order: order.append(w)
    pairs.setdefault(w, {}).setdefault(pid, {})[side] = float(mib) if w.endswith("128k") else float(iops)
print()
print(f"  {'workload (qd 32)':<16} {'pairs':>5} {'A median':>15} {'B median':>15}   B/A of means (95 %)     median paired B/A")
worst = None
rng = random.Random(1)
for w in order:
    ps = [p for p in pairs[w].values() if "A" in p and "B" in p]
    unit = "MiB/s" if w.endswith("128k") else "IOPS"
    a = [p["A"] for p in ps]; b = [p["B"] for p in ps]
    ratio = statistics.fmean(b) / statistics.fmean(a)
    # Resample whole rounds (a round's pairs share two gateway processes, and what those
    # got by chance), then the pairs within each chosen round.
    rounds = {}
    for pid, p in pairs[w].items():
        if "A" in p and "B" in p: rounds.setdefault(pid.split(".")[0], []).append(p)
    rl = list(rounds.values())
    boot = []
    for _ in range(2000):
        sa = sb = 0.0
        for _ in rl:
            r = rl[rng.randrange(len(rl))]
            for _ in r:
                p = r[rng.randrange(len(r))]
                sa += p["A"]; sb += p["B"]
        boot.append(sb / sa)
    boot.sort()
    lo, hi = boot[int(0.025 * len(boot))], boot[int(0.975 * len(boot)) - 1]
    paired = statistics.median(p["B"] / p["A"] for p in ps)
    worst = ratio if worst is None else min(worst, ratio)
    print(f"  {w:<16} {len(ps):5d} {statistics.median(a):>9.0f} {unit:<5} {statistics.median(b):>9.0f} {unit:<5}"
          f"   {ratio:6.3f} ({lo:.3f} - {hi:.3f})   {paired:17.3f}")
print(f"  lowest B/A of means: {worst:.3f}")
PY
}

# The A/B scripts' command line: `SCRIPT BUILD_A BUILD_B [--time S] [--rounds N] [-h]`.
# ab_args SCRIPT "$@" sets ARGS (the two build folders, absolute), and TIME and ROUNDS
# when given (callers set their defaults first); -h prints the script's header comment.
ab_args() {
  local script=$1; shift
  ARGS=()
  while (($#)); do
    case $1 in
      --time) TIME=$2; shift 2 ;;
      --rounds) ROUNDS=$2; shift 2 ;;
      -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$script"; exit 0 ;;
      *) ARGS+=("$(realpath "$1")"); shift ;;
    esac
  done
  ((${#ARGS[@]} == 2)) || { echo "usage: $(basename "$script") BUILD_A BUILD_B [--time S] [--rounds N]" >&2; exit 2; }
}

# A throw-away Ceph cluster for a benchmark: with OWN_CLUSTER=1, bench_cluster_start starts
# one in $CEPH_DIR (ceph-local.sh start ARGS; its log in $WORK/ceph-start.log, shown and
# exit 1 on failure) and bench_cluster_destroy removes it unless KEEP=1.
bench_cluster_start() {
  ((OWN_CLUSTER)) || return 0
  "$CEPH_LOCAL" start "$CEPH_DIR" "$@" >"$WORK/ceph-start.log" 2>&1 ||
    { cat "$WORK/ceph-start.log"; exit 1; }
}
bench_cluster_destroy() {
  if ((OWN_CLUSTER && !KEEP)); then "$CEPH_LOCAL" destroy "$CEPH_DIR" >/dev/null 2>&1 || true; fi
}

# The cost of metrics (bench-metrics.sh, bench-ipio.sh --metrics). metrics_confs DIR PORT
# writes DIR/metrics.conf (the exporter on 127.0.0.1:PORT, a full collection on every
# scrape) and DIR/off.conf (the same file with the exporter off).
metrics_confs() {
  cat >"$1/metrics.conf" <<EOF
[gateway]
addr = 127.0.0.1
enable_prometheus_exporter = True
prometheus_exporter_ssl = False
prometheus_port = $2
prometheus_stats_interval = 0
EOF
  sed 's/^enable_prometheus_exporter = True/enable_prometheus_exporter = False/' "$1/metrics.conf" >"$1/off.conf"
}
# scraper_start CPU PORT FILE: one long-lived scraper on CPU (as Prometheus is), GET
# /metrics every second, a line in FILE per answer holding the gateway's metrics; its pid
# in SCRAPER.
scraper_start() {
  taskset -c "$1" python3 -c '
import http.client, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/metrics")
        body = c.getresponse().read()
        c.close()
        if b"ceph_nvmeof_gateway_info" in body:
            with open(out, "a") as f: f.write("\n")
    except OSError:
        pass
    time.sleep(1)' "$2" "$3" &
  SCRAPER=$!
}
