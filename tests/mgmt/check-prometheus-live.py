#!/usr/bin/env python3
"""The repository's dashboard and alert rules against a live gateway (label mgmt, no Ceph).

  check-prometheus-live.py SOURCE_DIR GATEWAY_BIN NVMF_PERF_BIN

1. A gateway (one reactor, a memory namespace, the exporter on a free port) runs under
   load from nvmf-perf (random 4K reads and writes); Debian's `prometheus` server scrapes
   it every second and evaluates the repository's alert rules every second.
2. Every PromQL expression of the repository's Grafana dashboard
   (gateway/metrics/alerts/nvmeof-gateway.dashboard.json, as check-monitoring.py finds
   them) and of the reference's (tests/data/ceph-nvmeof-dashboard-queries.txt) returns data,
   Grafana's variables replaced by the values Grafana would offer.
3. The gateway is killed (SIGKILL) and the alert NVMeoFGatewayDown reaches state firing.
   The rules Prometheus loads are the repository's file with one change: the `for:` of
   NVMeoFGatewayDown shortened to 5s (the expression under test is the file's).

Waits poll with generous overall bounds; nothing asserts on durations. Exits 77 (ctest:
skipped) without prometheus or Python's yaml module, 1 on a failure.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
NQN = "nqn.2016-06.io.spdk:live1"
ALERT = "NVMeoFGatewayDown"
JOB = "nvmeof"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, pred, bound_s, step_s=0.5):
    """Polls pred() until it returns a true value (returned) or bound_s pass (None)."""
    deadline = time.monotonic() + bound_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            print(f"gave up waiting for {what} after {bound_s}s")
            return None
        time.sleep(step_s)


def load_check_monitoring(src):
    """check-monitoring.py's dashboard readers (one copy of how the dashboard is read)."""
    path = os.path.join(src, "gateway/metrics/alerts/check-monitoring.py")
    spec = importlib.util.spec_from_file_location("check_monitoring", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except OSError as e:
            return {"status": "error", "error": str(e)}

    def query(self, expr):
        """The result list of an instant query; None when the query itself fails."""
        d = self.get("/api/v1/query", query=expr)
        return d["data"]["result"] if d.get("status") == "success" else None

    def label_values(self, selector, label):
        d = self.get(f"/api/v1/label/{label}/values", **{"match[]": selector})
        return d.get("data", []) if d.get("status") == "success" else []

    def alert_state(self, name):
        d = self.get("/api/v1/alerts")
        states = [a["state"] for a in d.get("data", {}).get("alerts", []) if a["labels"].get("alertname") == name]
        return states[0] if states else "inactive"


def test_rules(yaml, src, out_path):
    """The repository's rules with NVMeoFGatewayDown's `for` at 5s; its expression."""
    doc = yaml.safe_load(open(os.path.join(src, "gateway/metrics/alerts/nvmeof-gateway.rules.yml")))
    expr = None
    for g in doc["groups"]:
        for r in g["rules"]:
            if r.get("alert") == ALERT:
                expr = r["expr"]
                if "for" in r:
                    r["for"] = "5s"
    with open(out_path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return expr


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    src, gateway, perf = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    prometheus = shutil.which("prometheus")
    try:
        import yaml
    except ImportError:
        yaml = None
    if not prometheus or not yaml:
        print("SKIPPED: " + ("prometheus not installed (Debian package prometheus)" if not prometheus
                             else "Python's yaml module not installed (Debian package python3-yaml)"))
        return SKIP
    cm = load_check_monitoring(src)
    tmp = tempfile.mkdtemp(prefix="nvmeof-prom-live-")
    procs = []
    ok = True
    try:
        # ------------------------------------------------------------------ the gateway
        io_port = free_port()
        gw_log = os.path.join(tmp, "gateway.log")
        gw = subprocess.Popen([gateway, "--name", "gw-live", "--grpc", "127.0.0.1:0", "--discovery", "none",
                               "--reactors", "1", "--state-pool", "none", "--prometheus-port", "0",
                               "--listen", f"127.0.0.1:{io_port}", "--subsystem", NQN, "--namespace", "memory:64M"],
                              stdout=open(gw_log, "w"), stderr=subprocess.STDOUT)
        procs.append(gw)

        def metrics_port():
            m = re.search(r"prometheus exporter listening on 127\.0\.0\.1:(\d+)", open(gw_log).read())
            return int(m.group(1)) if m and "ready" in open(gw_log).read() else None
        mport = wait_for("the gateway's ready line", metrics_port, 60)
        if not mport:
            print(open(gw_log).read())
            return 1
        perf_proc = subprocess.Popen([perf, "--addr", "127.0.0.1", "--port", str(io_port), "--nqn", NQN,
                                      "--rw", "randrw", "--bs", "4k", "--qd", "4", "--size", "32M", "--time", "600"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "perf.log"), "w"))
        procs.append(perf_proc)

        # ------------------------------------------------------------------ prometheus
        rules = os.path.join(tmp, "rules.yml")
        expr = test_rules(yaml, src, rules)
        if not expr:
            print(f"FAILED: no alert {ALERT} in the rules file")
            return 1
        print(f"{ALERT}: {expr} (for: 5s in the test copy)")
        # The target's instance label is HOST:PORT: the reference's dashboard selects a
        # gateway with instance=~"$gateway.*", $gateway being a host name of gateway_info.
        host = socket.gethostname()
        instance = f"{host}:{mport}"
        web = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            yaml.safe_dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [rules],
                "scrape_configs": [{"job_name": JOB, "static_configs": [
                    {"targets": [f"127.0.0.1:{mport}"], "labels": {"instance": instance}}]}],
            }, f)
        prom_log = os.path.join(tmp, "prometheus.log")
        prom = subprocess.Popen([prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
                                 f"--web.listen-address=127.0.0.1:{web}"],
                                stdout=open(prom_log, "w"), stderr=subprocess.STDOUT)
        procs.append(prom)
        p = Prometheus(web)
        if not wait_for("prometheus ready", lambda: "Server is ready to receive web requests" in open(prom_log).read(), 60):
            print(open(prom_log).read()[-4000:])
            return 1

        # ------------------------------------------------------------------ the dashboards
        dash = json.load(open(os.path.join(src, "gateway/metrics/alerts/nvmeof-gateway.dashboard.json")))
        ours = list(cm.dashboard_exprs(dash))
        ours_vars = list(cm.variable_selectors(dash))
        ref = [line.strip() for line in open(os.path.join(src, "tests/data/ceph-nvmeof-dashboard-queries.txt"))
               if line.strip() and not line.startswith("#")]
        ref_vars = [re.match(r"label_values\((.*),\s*(\w+)\)$", q).groups() for q in ref if q.startswith("label_values(")]
        ref = [q for q in ref if not q.startswith("label_values(")]

        # The variables' values, as Grafana would offer them (each must have one).
        if not wait_for("the gateway's series", lambda: p.query(f'up{{job="{JOB}"}} == 1'), 120):
            return 1
        ours_values = {
            "group": p.label_values("ceph_nvmeof_gateway_info", "group"),
            "gateway": p.label_values("ceph_nvmeof_gateway_info", "instance"),
        }
        ref_values = {"gateway": p.label_values(ref_vars[0][0], ref_vars[0][1]),
                      "subsystem": p.label_values(ref_vars[1][0], ref_vars[1][1])}
        for who, vals, want in (("ours", ours_values, {"group": ["_null_"], "gateway": [instance]}),
                                ("reference", ref_values, {"gateway": [host], "subsystem": [NQN]})):
            for name, v in vals.items():
                print(f"{who}: ${name} = {v}")
                if v != want[name]:
                    print(f"FAILED: {who} dashboard variable ${name} should be {want[name]}")
                    ok = False
        if not ok:
            return 1

        def substitute(expr, vals):
            """Grafana's interpolation of a single-valued variable (the values here need no
            regex escaping: '.' stands for itself)."""
            expr = re.sub(r"\$\{?__(?:rate_interval|interval|range)\}?", "1m", expr)
            return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", lambda m: vals[m.group(1)][0], expr)

        queries = [("ours", substitute(e, ours_values)) for e in ours + ours_vars]
        queries += [("reference", substitute(e, ref_values)) for e in ref + [s for s, _ in ref_vars]]
        pending = dict(enumerate(queries))

        def all_have_data():
            for i in list(pending):
                r = p.query(pending[i][1])
                if r:
                    del pending[i]
            return not pending
        # Rates over [30s]/[1m] need a few collections (prometheus_stats_interval: 10 s).
        wait_for("data from every dashboard query", all_have_data, 180, 2)
        for who, q in pending.values():
            print(f"FAILED: {who} dashboard query returns no data: {q}  ->  {p.query(q)}")
            ok = False
        n_ours = sum(1 for w, _ in queries if w == "ours")
        print(f"dashboard queries with data: {n_ours - sum(1 for w, _ in pending.values() if w == 'ours')}/{n_ours} ours,"
              f" {len(queries) - n_ours - sum(1 for w, _ in pending.values() if w == 'reference')}/{len(queries) - n_ours}"
              f" the reference's")

        # ------------------------------------------------------------------ the alert
        state = p.alert_state(ALERT)
        print(f"{ALERT} while the gateway runs: {state}")
        if state != "inactive":
            print(f"FAILED: {ALERT} is {state} while the gateway serves")
            ok = False
        perf_proc.kill()
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        seen = set()

        def firing():
            s = p.alert_state(ALERT)
            seen.add(s)
            return s == "firing"
        if wait_for(f"{ALERT} firing", firing, 120):
            print(f"{ALERT} after SIGKILL: states seen {sorted(seen)}, firing")
        else:
            print(f"FAILED: {ALERT} did not fire (states seen: {sorted(seen)}); up: {p.query('up')}")
            ok = False
        firing_series = p.query(f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}') or []
        if not any(s["metric"].get("instance") == instance for s in firing_series):
            print(f"FAILED: ALERTS has no firing {ALERT} for {instance}: {firing_series}")
            ok = False
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}")


if __name__ == "__main__":
    sys.exit(main())
