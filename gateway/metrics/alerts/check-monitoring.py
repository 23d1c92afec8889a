#!/usr/bin/env python3
"""Checks the gateway's alert rules and Grafana dashboard (this folder) offline.

  check-monitoring.py rules|dashboard SOURCE_DIR

rules:
1. `promtool check rules` and `promtool test rules` on nvmeof-gateway.rules.yml and its tests.
dashboard:
2. Every PromQL expression of nvmeof-gateway.dashboard.json (panel targets; the metrics of
   its label_values() variables) parses: they are written, Grafana variables replaced by
   values of their kind, as recording rules into a temporary file for `promtool check rules`.
3. Every metric name the dashboard and the rules use is one gateway/metrics/collector.cc
   exports (or Prometheus' own `up`).

Exits 77 (ctest: skipped) with a message when promtool (or Python's yaml module) is not
installed; 1 on a failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
try:
    import yaml
except ImportError:
    yaml = None
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan", "Inf", "NaN"}
GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def exported_metrics(src):
    """Metric names the collector exports, with a histogram's _bucket/_sum/_count series."""
    collector = open(os.path.join(src, "gateway/metrics/collector.cc")).read()
    prefix = re.search(r'kPrefix\[\]\s*=\s*"([^"]+)"', collector).group(1)
    names = set()
    for name, kind in re.findall(r'Family\(\s*"([a-z0-9_]+)",.*?MetricType::(\w+)\)', collector, re.S):
        names.add(prefix + name)
        if kind == "Histogram":
            names.update(prefix + name + s for s in ("_bucket", "_sum", "_count"))
    # The NVMe/TCP counters: "tcp_<name>_total" for each TcpProbe counter but the request
    # states, which are the labels of tcp_requests (collector.cc).
    probe = open(os.path.join(src, "gateway/transport/tcp/tcp_probe.cc")).read()
    block = re.search(r"kNames\[[^\]]*\]\s*=\s*\{(.*?)\};", probe, re.S).group(1)
    for name in re.findall(r'"([a-z0-9_]+)"', block):
        if not name.startswith("requests_"):
            names.add(prefix + "tcp_" + name + "_total")
    return names


def metric_names(expr):
    """The metric names an expression selects: identifiers outside strings, label matchers,
    grouping clauses and ranges that are neither functions nor keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(GROUPING, " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    out = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        if m.group(2) or m.group(1) in KEYWORDS:
            continue
        out.add(m.group(1))
    return out


def grafana_to_promql(expr):
    """Replaces Grafana's variables: intervals by a duration, the others by a regex."""
    expr = re.sub(r"\$\{?__(?:rate_interval|interval|range)\}?", "5m", expr)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", ".*", expr)


def dashboard_exprs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from dashboard_exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from dashboard_exprs(v)


def variable_selectors(dash):
    """label_values(SELECTOR, label) of the query variables: SELECTOR is PromQL."""
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.match(r"\s*label_values\((.*),\s*\w+\s*\)\s*$", q)
        if m:
            yield m.group(1)


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.returncode == 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("rules", "dashboard"):
        print(__doc__)
        return 2
    mode, src = sys.argv[1], os.path.abspath(sys.argv[2])
    here = os.path.join(src, "gateway/metrics/alerts")
    rules = os.path.join(here, "nvmeof-gateway.rules.yml")
    tests = os.path.join(here, "nvmeof-gateway.rules.test.yml")
    dashboard = os.path.join(here, "nvmeof-gateway.dashboard.json")
    promtool = shutil.which("promtool")
    if not promtool or not yaml:
        print("SKIPPED: " + ("promtool not installed (Debian package prometheus)" if not promtool
                             else "Python's yaml module not installed (Debian package python3-yaml)"))
        return SKIP

    if mode == "rules":
        ok = run([promtool, "check", "rules", rules])
        ok &= run([promtool, "test", "rules", tests], cwd=here)
        print(f"rules and their unit tests: {'OK' if ok else 'FAILED'}")
        return 0 if ok else 1

    ok = True
    dash = json.load(open(dashboard))
    exprs = [grafana_to_promql(e) for e in dashboard_exprs(dash)]
    exprs += [grafana_to_promql(s) for s in variable_selectors(dash)]
    if len(exprs) < 10:
        print(f"FAILED: only {len(exprs)} expressions found in {dashboard}")
        return 1
    generated = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-exprs.rules.yml")
        with open(path, "w") as f:
            yaml.safe_dump(generated, f)
        if not run([promtool, "check", "rules", path]):
            ok = False
            for i, e in enumerate(exprs):
                print(f"  dashboard:expr_{i}: {e}")

    known = exported_metrics(src) | {"up"}
    # The names list of the collector's unit test must be among them (this parse is right).
    unit = open(os.path.join(src, "gateway/metrics/collector_test.cc")).read()
    for name in set(re.findall(r'"(ceph_nvmeof_[a-z0-9_]+)"', unit)) - known:
        print(f"FAILED: {name} (collector_test.cc) not found in collector.cc by this check")
        ok = False
    rule_exprs = [r["expr"] for g in yaml.safe_load(open(rules))["groups"] for r in g["rules"]]
    for where, lst in (("dashboard", exprs), ("rules", rule_exprs)):
        for e in lst:
            for name in sorted(metric_names(e) - known):
                print(f"FAILED: {where}: metric {name} is not exported by the collector: {e}")
                ok = False
    print(f"{len(exprs)} dashboard expressions, {len(rule_exprs)} rules, {len(known)} exported metric names:"
          f" {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
