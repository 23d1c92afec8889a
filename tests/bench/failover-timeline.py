#!/usr/bin/env python3
# failover-timeline.py: one timeline per event of a kept bench-failover.sh run, on the host's
# clock: the gateways' log lines (gateway1.log, gateway2.log; run with E2E_LOG_LEVEL=debug for
# the ANA log page reads and queue connects), librbd's lock and watch lines (if the cluster's
# ceph.conf has `[client] debug rbd = 10` and `log file = DIR/client.$name.$pid.log`), and the
# guest's probe completions and nvme dmesg lines.
#
#   tests/bench/failover-timeline.py WORKDIR/e2e/ha-bench [OFFSET_MS] [LIBRBD_LOG_DIR]
#
# The guest's clock is shifted onto the host's by OFFSET_MS; by default the smallest
# difference between a guest event mark and the host's "==== SIGx sent" line, which
# includes the request's latency (~0.1-0.4 s): align by eye on a pair such as a gateway's
# "ANA log page read" and the guest's "ANA group N: ..." that follows it, and pass that.
# Per event: the longest completion gap, and every line from 1.5 s before it to 0.3 s after.
import sys, os, re, glob, datetime, bisect
W = sys.argv[1]
def find(name):
    r = glob.glob(os.path.join(W, '**', name), recursive=True)
    return r[0] if r else None
def iso(s):
    s = s.rstrip('Z')
    d = datetime.datetime.strptime(s[:19], '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
    frac = s[19:]
    return d.timestamp() * 1000 + (float(frac) * 1000 if frac else 0)
host = []
for gi in (1, 2):
    p = find('gateway%d.log' % gi)
    if not p: continue
    for line in open(p, errors='replace'):
        m = re.match(r'(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+(\S+)\s+(.*)', line)
        if m:
            host.append((iso(m.group(1)), 'gw%d' % gi, m.group(3)))
        m = re.match(r'==== (SIG\w+) sent at (\S+)', line)
        if m:
            host.append((iso(m.group(2)), 'gw%d' % gi, '==== %s sent' % m.group(1)))
# librbd client logs (level <= 10 lock lines)
for p in glob.glob(sys.argv[3] + '/client.*.log') if len(sys.argv) > 3 else []:
    pid = p.split('.')[-2]
    for line in open(p, errors='replace'):
        if not re.search(r'exclusive_lock|ManagedLock|ImageWatcher|notify|lock', line): continue
        m = re.match(r'(\d{4}-\d\d-\d\dT[\d:.]+)([+-]\d{4})\s+(.*)', line)
        if m:
            host.append((iso(m.group(1)), 'rbd%s' % pid, m.group(3)[:200]))
host.sort()
guest = []
ev = [(l.split()[0], int(l.split()[1])) for l in open(find('events'))]
lat = []
for l in open(find('probe_lat.1.log')):
    f = l.split(',')
    lat.append((int(f[0]), int(f[1]) / 1e6))
clk = open(find('clock')).read().split()
unix0, up0 = float(clk[0]) * 1000, float(clk[1]) * 1000
for l in open(find('dmesg.txt'), errors='replace'):
    m = re.match(r'\[\s*([\d.]+)\]\s+(.*)', l)
    if m and 'nvme' in m.group(2):
        guest.append((float(m.group(1)) * 1000 - up0 + unix0, 'dmesg', m.group(2)))
off = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
if off is None:
    # offset: host "SIG sent" - guest event mark, smallest (request latency >= 0)
    sig = [t for t, g, m in host if m.startswith('==== SIG')]
    cands = []
    for k, t in ev:
        if k in ('kill', 'handover'):
            after = [s - t for s in sig]
            cands.append(min(after, key=abs))
    off = min(cands) if cands else 0
    print('offset guest->host (min over SIG marks, includes request latency): %.0f ms' % off)
G = [(t + off, w, m) for t, w, m in guest]
lat_t = [t + off for t, _ in lat]
for i in range(len(ev) - 1):
    k, t = ev[i]; t0 = t + off; t1 = ev[i + 1][1] + off
    # largest gap
    best, bs, be, last = 0, t0, t0, t0
    for j in range(bisect.bisect_right(lat_t, t0), len(lat_t)):
        c = lat_t[j]
        if c >= t1: break
        if c - last > best: best, bs, be = c - last, last, c
        last = c
    print('\n===== %s #%d at %.0f: longest gap %.0f ms from %+.0f to %+.0f' % (k, i, t0, best, bs - t0, be - t0))
    lo, hi = bs - 1500, be + 300
    if k in ('handover', 'kill'): lo = min(lo, t0 - 100)
    rows = [(t, w, m) for t, w, m in host + G if lo <= t <= hi]
    rows += [(bs, 'probe', 'last completion before the gap'), (be, 'probe', 'first completion after the gap')]
    rows.sort()
    for t, w, m in rows:
        print('%+8.0f %-8s %s' % (t - t0, w, m[:170]))
