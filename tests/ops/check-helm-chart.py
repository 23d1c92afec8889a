#!/usr/bin/env python3
"""Static checks of the Helm chart in helm/ (helm itself is not packaged in Debian).

  check-helm-chart.py SOURCE_DIR

1. Chart.yaml, values.yaml and values.schema.json parse; values.yaml is valid under the
   schema (python3-jsonschema); the chart's appVersion is the project's VERSION.
2. Every .Values.a.b... a template names exists in values.yaml (or lies under a map that
   values.yaml leaves free-form, {}), and every value of values.yaml is named by a template.
3. Every template's actions are balanced: each {{ has its }}, if/range/with/define/block
   each have their end, else only inside if/with/range.
4. The templates' static YAML parses (actions alone on a line dropped, inline actions
   replaced by a scalar) and each document has apiVersion and kind; the StatefulSet runs
   on the host network with gRPC probes; the PDB allows one disruption; the grace period
   covers the hand-over.
5. The configuration file the chart writes names only keys the daemon knows
   (gateway/daemon/config.cc), and the files the chart ships through symlinks (dashboard,
   alert rules) resolve inside the repository and parse.
Prints one line per failure and "N passed, N failed"; exit status 1 on any failure.
"""
import json
import os
import re
import sys

import yaml

try:
    import jsonschema
except ImportError:  # the test suite installs it (gateway/scripts/install-deps.sh)
    jsonschema = None

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
CHART = os.path.join(ROOT, "helm")
TEMPLATES = os.path.join(CHART, "templates")

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def template_files():
    return sorted(os.path.join(TEMPLATES, n) for n in os.listdir(TEMPLATES)
                  if n.endswith((".yaml", ".tpl", ".txt")))


def read(path):
    with open(path) as f:
        return f.read()


ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)


# ---------------------------------------------------------------- 1. chart, values, schema
chart = load_yaml(os.path.join(CHART, "Chart.yaml"))
values = load_yaml(os.path.join(CHART, "values.yaml"))
with open(os.path.join(CHART, "values.schema.json")) as f:
    schema = json.load(f)
check(chart.get("apiVersion") == "v2" and chart.get("name") == "nvmeof-gateway", "Chart.yaml: apiVersion v2, name nvmeof-gateway")
m = re.search(r"project\(nvmeof-gateway VERSION ([0-9.]+)", read(os.path.join(ROOT, "CMakeLists.txt")))
check(m and str(chart.get("appVersion")) == m.group(1),
      f"Chart.yaml appVersion {chart.get('appVersion')} is the project's VERSION {m and m.group(1)}")
if jsonschema is None:
    check(False, "python3-jsonschema is not installed: values.yaml not validated")
else:
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate(values, schema)
        check(True, "")
    except jsonschema.exceptions.SchemaError as e:
        check(False, f"values.schema.json is not a valid draft-07 schema: {e.message}")
    except jsonschema.ValidationError as e:
        check(False, f"values.yaml is not valid under values.schema.json: {'.'.join(map(str, e.path))}: {e.message}")
    # The schema refuses what the chart cannot use.
    for bad, why in ((lambda v: v["ports"].update(grpc=70000), "a port above 65535"),
                     (lambda v: v["ha"].update(mode="spdk"), "an unknown ha.mode"),
                     (lambda v: v.update(replicaCount=3), "an unknown top-level key")):
        v = yaml.safe_load(yaml.safe_dump(values))
        bad(v)
        check(not jsonschema.Draft7Validator(schema).is_valid(v), f"values.schema.json accepts {why}")

# ---------------------------------------------------------------- 2. .Values references
refs = set()
for path in template_files():
    for m in re.finditer(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", read(path)):
        refs.add((os.path.basename(path), tuple(m.group(1).split(".")[1:])))


def lookup(tree, keys):
    """'ok' when keys lead to a value (or under a free-form {}), else the missing key."""
    node = tree
    for i, k in enumerate(keys):
        if isinstance(node, dict) and not node and i > 0:
            return "ok"  # a free-form map: anything under it is the user's
        if not isinstance(node, dict) or k not in node:
            return ".".join(keys[: i + 1])
        node = node[k]
    return "ok"


for name, keys in sorted(refs):
    r = lookup(values, keys)
    check(r == "ok", f"{name}: .Values.{'.'.join(keys)} is not in values.yaml ({r} missing)")


def leaves(tree, prefix=()):
    if isinstance(tree, dict) and tree:
        for k, v in tree.items():
            yield from leaves(v, prefix + (k,))
    else:
        yield prefix


used = {keys for _, keys in refs}
for leaf in leaves(values):
    check(any(leaf[: len(u)] == u or u[: len(leaf)] == leaf for u in used), f"values.yaml: {'.'.join(leaf)} is named by no template")

# ---------------------------------------------------------------- 3. balanced actions
OPENERS = ("if", "range", "with", "define", "block")
for path in template_files():
    text = read(path)
    name = os.path.basename(path)
    check(text.count("{{") == text.count("}}"), f"{name}: {text.count('{{')} '{{{{' but {text.count('}}')} '}}}}'")
    stack, ok = [], True
    for m in ACTION.finditer(text):
        body = m.group(2).strip()
        if "{{" in body:
            ok = False
            print(f"FAIL: {name}: '{{{{' inside an action at offset {m.start()}")
            continue
        if body.startswith("/*"):
            ok = ok and body.endswith("*/")
            continue
        word = body.split()[0] if body.split() else ""
        if word in OPENERS:
            stack.append(word)
        elif word == "else":
            if not stack or stack[-1] not in ("if", "with", "range"):
                ok = False
                print(f"FAIL: {name}: 'else' outside if/with/range at offset {m.start()}")
        elif word == "end":
            if not stack:
                ok = False
                print(f"FAIL: {name}: 'end' without an opening action at offset {m.start()}")
            else:
                stack.pop()
    check(ok and not stack, f"{name}: unbalanced actions (still open: {stack})")

# ---------------------------------------------------------------- 4. static YAML of the manifests
manifests = {}
for path in template_files():
    name = os.path.basename(path)
    if not name.endswith(".yaml"):
        continue
    lines = []
    for line in read(path).splitlines():
        if ACTION.sub("", line).strip() == "":
            if line.strip():
                continue  # an action alone on its line
        lines.append(ACTION.sub("X", line))
    try:
        docs = [d for d in yaml.safe_load_all("\n".join(lines)) if d is not None]
        check(docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs),
              f"{name}: a document without apiVersion/kind")
        for d in docs:
            manifests.setdefault(d.get("kind"), []).append(d)
    except yaml.YAMLError as e:
        check(False, f"{name}: static YAML does not parse: {e}")

# What the deployment relies on (issue 12): one gateway per pod on the host network, gRPC
# health probes, one voluntary disruption at a time, a grace period for the hand-over.
sts = (manifests.get("StatefulSet") or [{}])[0]
pod = sts.get("spec", {}).get("template", {}).get("spec", {})
check(pod.get("hostNetwork") is True, "StatefulSet: hostNetwork is not true")
gw = (pod.get("containers") or [{}])[0]
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    check("grpc" in (gw.get(probe) or {}), f"StatefulSet: {probe} is not a gRPC probe")
check(values["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}, "values: the PodDisruptionBudget is not maxUnavailable 1")
check(values["terminationGracePeriodSeconds"] >= values["config"]["data-plane"]["shutdown_timeout"] + 20,
      "values: terminationGracePeriodSeconds does not cover the hand-over and shutdown_timeout")
check("PodDisruptionBudget" in manifests and "ServiceMonitor" in manifests and "ConfigMap" in manifests,
      f"manifests: missing kinds ({sorted(k for k in manifests if k)})")

# ---------------------------------------------------------------- 5. config keys, shipped files
cc = read(os.path.join(ROOT, "gateway", "daemon", "config.cc"))
known = {}
var_section = dict((v, s) for v, s in re.findall(r'auto& (\w+) = s\["([\w-]+)"\]\.keys;', cc))
for v, k in re.findall(r'\b(\w+)\["(\w+)"\] = ', cc):
    if v in var_section:
        known.setdefault(var_section[v], set()).add(k)
check(len(known.get("gateway", ())) > 10, "config.cc: the daemon's keys were not found")

helpers = read(os.path.join(TEMPLATES, "_helpers.tpl"))
start = helpers.index("$derived := dict")
derived_text = helpers[start: helpers.index("-}}", start)]
tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\(|\)|[^\s()]+', derived_text.replace("-}}", " ").replace("{{-", " "))


def parse(toks, i):
    """One expression at toks[i]: ('dict', {key: expr}) for dict calls, else the token."""
    if toks[i] == "(":
        items, i = [], i + 1
        while toks[i] != ")":
            e, i = parse(toks, i)
            items.append(e)
        return (("call", items), i + 1)
    return toks[i], i + 1


def dict_pairs(items):
    if items and items[0] == "dict":
        args = items[1:]
        return {args[j].strip('"'): args[j + 1] for j in range(0, len(args) - 1, 2)}
    return None


top_items, i = [], tokens.index("dict")
while i < len(tokens):
    e, i = parse(tokens, i)
    top_items.append(e)
derived = dict_pairs(top_items)
check(derived and set(derived) >= {"gateway", "ceph", "discovery"}, f"_helpers.tpl: derived sections not found ({derived})")
written = {}
for section, expr in (derived or {}).items():
    keys = dict_pairs(expr[1]) if isinstance(expr, tuple) else None
    check(keys is not None, f"_helpers.tpl: section {section} is not a dict")
    written.setdefault(section, set()).update(keys or {})
for section, key in re.findall(r'set \$derived\.([\w-]+) "(\w+)"', helpers):
    written.setdefault(section, set()).add(key)
for section, keys in (values.get("config") or {}).items():
    written.setdefault(section, set()).update(keys or {})
for section, keys in sorted(written.items()):
    for key in sorted(keys):
        check(key in known.get(section, ()), f"the chart writes [{section}] {key}, which gateway/daemon/config.cc does not know")

files_dir = os.path.join(CHART, "files")
for n in sorted(os.listdir(files_dir)):
    p = os.path.join(files_dir, n)
    real = os.path.realpath(p)
    check(os.path.exists(real) and real.startswith(os.path.realpath(ROOT) + os.sep),
          f"helm/files/{n} does not resolve inside the repository")
    if not os.path.exists(real):
        continue
    if n.endswith(".json"):
        with open(real) as f:
            check("panels" in json.load(f), f"helm/files/{n}: not a Grafana dashboard")
    else:
        check("groups" in (load_yaml(real) or {}), f"helm/files/{n}: not Prometheus rules")
for name, what in (("monitoring.yaml", "files/nvmeof-gateway.dashboard.json"), ("monitoring.yaml", "files/nvmeof-gateway.rules.yml")):
    check(what in read(os.path.join(TEMPLATES, name)), f"{name} does not ship {what}")

print(f"helm-chart: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
