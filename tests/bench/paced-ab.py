#!/usr/bin/env python3
"""paced-ab.py: one workload against two gateways, A and B, in alternating slices.

    paced-ab.py PERF PORT_A PORT_B RW BS --pairs N --slice S --cpu C --out FILE --round R
                [--scrape-port P] [--ba-first]

Starts two nvmf-perf processes with --phases-stdin on CPU C, one connected to each gateway
(queue depth 32, one connection, I/O over the first GiB), then asks them for slices of S
seconds in turn: first one warm-up slice each (not counted), then N pairs, AB and BA
alternately, so that the machine's swings, slower than a pair,
fall on A and B alike; --ba-first makes B the first in everything (started, warmed up,
first slice). Only one side is loaded at a time. With --scrape-port, B's exporter is
scraped (GET /metrics) once a second of wall time, always 10 ms into a B slice: the first B
slice that starts a second or more after the previous scrape carries one. Its collection
runs on B's CPU during B's measured time, and the client's own work on CPU C (nvmf-perf's)
too: B, loaded half the time, carries the scrapes of the whole run, twice the rate per
second of its load.
Appends one line per slice to FILE: ROUND.PAIR, SIDE, "RW BS", IOPS, MiB/s (tab-separated,
bench-ab.sh's format). Prints nothing else but errors; exits 1 if a slice fails.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time

NQN = "nqn.2016-06.io.nvmeof-gateway:bench"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("perf")
    ap.add_argument("port_a", type=int)
    ap.add_argument("port_b", type=int)
    ap.add_argument("rw")
    ap.add_argument("bs")
    ap.add_argument("--pairs", type=int, required=True)
    ap.add_argument("--slice", type=float, required=True)
    ap.add_argument("--cpu", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--round", required=True)
    ap.add_argument("--scrape-port", type=int)
    ap.add_argument("--ba-first", action="store_true")
    a = ap.parse_args()

    first = "BA" if a.ba_first else "AB"  # which side goes first in everything
    procs = {}
    for side in first:
        port = a.port_a if side == "A" else a.port_b
        p = subprocess.Popen(
            ["taskset", "-c", a.cpu, a.perf, "--addr", "127.0.0.1", "--port", str(port), "--nqn", NQN,
             "--qd", "32", "--bs", a.bs, "--rw", a.rw, "--size", "1G", "--json", "--phases-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        if p.stdout.readline().strip() != "ready":
            sys.exit(f"paced-ab: nvmf-perf against {side} (port {port}) did not start")
        procs[side] = p

    scrapes = 0

    def scrape():
        nonlocal scrapes
        c = http.client.HTTPConnection("127.0.0.1", a.scrape_port, timeout=30)
        c.request("GET", "/metrics")
        body = c.getresponse().read()
        c.close()
        if b"ceph_nvmeof_gateway_info" not in body:
            sys.exit("paced-ab: B's /metrics does not hold ceph_nvmeof_gateway_info")
        scrapes += 1

    last_scrape = [-1e9]

    def slice_(side, seconds):
        p = procs[side]
        p.stdin.write(f"{seconds}\n")
        p.stdin.flush()
        # A scrape 10 ms into a B slice, once a second of wall time: the first B slice that
        # starts a second or more after the previous scrape carries one (warm-up included).
        if side == "B" and a.scrape_port and time.monotonic() - last_scrape[0] >= 1.0:
            last_scrape[0] = time.monotonic()
            time.sleep(min(0.01, seconds / 10))  # into the slice: its load has started
            scrape()
        line = p.stdout.readline()
        if not line:
            sys.exit(f"paced-ab: nvmf-perf against {side} ended (exit {p.wait()})")
        return json.loads(line)

    for side in first:  # warm-up, not counted
        slice_(side, max(a.slice, 0.5))
    with open(a.out, "a") as out:
        for i in range(a.pairs):
            order = "AB" if (i % 2 == 0) != a.ba_first else "BA"
            for side in order:
                r = slice_(side, a.slice)
                out.write(f"{a.round}.{i + 1}\t{side}\t{a.rw} {a.bs}\t{r['iops']}\t{r['mibps']}\n")
    for p in procs.values():
        p.stdin.close()
        if p.wait() != 0:
            sys.exit("paced-ab: nvmf-perf reported an error")
    if a.scrape_port:
        with open(a.out + ".scrapes", "a") as f:
            f.write(f"{scrapes}\n")


if __name__ == "__main__":
    main()
