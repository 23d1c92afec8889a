#!/usr/bin/env bash
# check-image.sh BUILD_DIR: builds the container image without a container engine
# (gateway/scripts/build-image.sh: mmdebstrap downloads Debian 12's runtime packages, a few
# minutes) and checks it:
#   1. the OCI layout: oci-layout, index.json -> manifest -> config and layer blobs, each
#      named by the sha256 of its content; the config's Entrypoint/Cmd are the reference's
#      convention (ENTRYPOINT + CMD = "-c /src/ceph-nvmeof.conf") and it exposes 5500, 4420,
#      8009 and 10008;
#   2. unpacked (umoci unpack), the root file system runs `nvmeof-gateway --help` and
#      `gwcli --help` (chroot), with only the image's own libraries;
#   3. started as cephadm starts the reference (its configuration file at
#      /src/ceph-nvmeof.conf, the image's Entrypoint + Cmd, host network; chroot in a
#      private mount namespace), the gateway reads that file, becomes ready, answers gwcli
#      (from the image) and serves metrics, and exits 0 on SIGTERM.
# Exit 77 (skipped) when not root or mmdebstrap/umoci are missing.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath "$1")
OUT=$BUILD/image-test
for tool in mmdebstrap umoci unshare chroot; do
  command -v $tool >/dev/null || { echo "skipped: $tool is missing"; exit 77; }
done
((EUID == 0)) || { echo "skipped: needs root"; exit 77; }
PID= MNT=
cleanup() { [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null; rm -rf "$OUT/bundle"; }
trap cleanup EXIT
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
finish() { echo "image: $PASSED passed, $FAILED failed"; ((FAILED == 0)); exit; }

if ! bash "$SRC/gateway/scripts/build-image.sh" --build "$BUILD" --out "$OUT" --tag test >"$BUILD/image-test.log" 2>&1; then
  tail -30 "$BUILD/image-test.log"; fail "build-image.sh"; finish
fi

# 1. The layout.
python3 - "$OUT/oci" <<'EOF' >"$OUT/layout.txt" 2>&1
import hashlib, json, os, sys
d = sys.argv[1]
def blob(digest):
    algo, hexd = digest.split(":")
    data = open(os.path.join(d, "blobs", algo, hexd), "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, f"blob {digest}: content does not match its name"
    return data
assert json.load(open(os.path.join(d, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
idx = json.load(open(os.path.join(d, "index.json")))
ref = idx["manifests"][0]
assert ref["annotations"]["org.opencontainers.image.ref.name"] == "test", ref
man = json.loads(blob(ref["digest"]))
assert man["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
cfg = json.loads(blob(man["config"]["digest"]))
assert len(man["layers"]) == 1
for layer in man["layers"]:
    blob(layer["digest"])
c = cfg["config"]
assert c["Entrypoint"] == ["/usr/local/bin/nvmeof-entrypoint"], c["Entrypoint"]
assert c["Cmd"] == ["-c", "/src/ceph-nvmeof.conf"], c["Cmd"]
assert set(c["ExposedPorts"]) == {"5500/tcp", "4420/tcp", "8009/tcp", "10008/tcp"}, c["ExposedPorts"]
assert c["Labels"]["io.ceph.version"], c["Labels"]
print(" ".join(c["Entrypoint"] + c["Cmd"]))
EOF
check "the OCI layout: $(tail -2 "$OUT/layout.txt")" test "$(tail -1 "$OUT/layout.txt")" = \
  "/usr/local/bin/nvmeof-entrypoint -c /src/ceph-nvmeof.conf"
read -r -a START <"$OUT/layout.txt"

# 2. The unpacked root file system runs the binaries.
umoci unpack --image "$OUT/oci:test" "$OUT/bundle" >/dev/null || { fail "umoci unpack"; finish; }
R=$OUT/bundle/rootfs
check "nvmeof-gateway --help in the image" sh -c "chroot '$R' /usr/local/bin/nvmeof-entrypoint --help | grep -q '^usage: nvmeof-gateway'"
check "gwcli --help in the image" sh -c "chroot '$R' /usr/local/bin/nvmeof-entrypoint gwcli --help >/dev/null"
check "the image has build tools" test ! -e "$R/usr/bin/g++" -a ! -e "$R/usr/bin/cmake"

# 3. Started the cephadm way: its configuration file in /src, the image's Entrypoint+Cmd.
ports=$(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
[s.bind(("127.0.0.1", 0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r GRPC DISC PROM <<<"$ports"
cat >"$R/src/ceph-nvmeof.conf" <<EOF
# As cephadm renders it for the reference gateway (its SPDK sections are ignored).
[gateway]
name = client.nvmeof.rbd.test.abcdef
group =
addr = 127.0.0.1
port = $GRPC
enable_auth = False
state_update_notify = True
state_update_interval_sec = 5
enable_spdk_discovery_controller = False
enable_prometheus_exporter = True
prometheus_exporter_ssl = False
prometheus_port = $PROM
verify_nqns = True
omap_file_lock_duration = 20

[gateway-logs]
log_level = INFO

[discovery]
addr = 127.0.0.1
port = $DISC

[ceph]
pool = rbd
config_file = /etc/ceph/ceph.conf
id = nvmeof.rbd.test.abcdef

[mtls]
server_key = /server.key
client_key = /client.key
server_cert = /server.cert
client_cert = /client.cert

[spdk]
tgt_path = /usr/local/bin/nvmf_tgt
rpc_socket_dir = /var/tmp/
rpc_socket_name = spdk.sock
timeout = 60.0
bdevs_per_cluster = 32
log_level = WARNING
conn_retries = 10
transports = tcp
transport_tcp_options = {"in_capsule_data_size": 8192, "max_io_qpairs_per_ctrlr": 7}
tgt_cmd_extra_args = --cpumask=0xF

[monitor]
timeout = 1.0
EOF
LOG=$OUT/gateway.log
unshare --mount --propagation private sh -c '
  R=$1; shift
  mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t sysfs sys "$R/sys" || exit 1
  exec chroot "$R" "$@"' sh "$R" "${START[@]}" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 600); do  # up to a minute on a loaded machine
  grep -qE ' ready$' "$LOG" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
check "the gateway in the image did not become ready: $(tail -3 "$LOG")" grep -qE ' ready$' "$LOG"
check "it did not read /src/ceph-nvmeof.conf" grep -q 'using configuration file /src/ceph-nvmeof.conf' "$LOG"
check "gwcli (in the image) gw info" sh -c "chroot '$R' gwcli --server-address 127.0.0.1 --server-port $GRPC gw info >'$OUT/gwinfo.txt' 2>&1"
check "metrics" python3 -c "import urllib.request,sys
body=urllib.request.urlopen('http://127.0.0.1:$PROM/metrics', timeout=10).read().decode()
sys.exit(0 if 'ceph_nvmeof_gateway_info' in body else 1)"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
check "the gateway exited $rc on SIGTERM" test "$rc" = 0
finish
