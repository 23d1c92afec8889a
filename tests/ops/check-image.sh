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
#      (from the image) and serves metrics, and exits 0 on SIGTERM;
#   4. with a real cluster and a Linux host: a throw-away Ceph cluster
#      (tests/tools/ceph-local.sh, memstore) with an RBD image and a cephx user named as
#      cephadm names the gateway's; the gateway started from the image as cephadm runs it:
#      tests/data/cephadm-ceph-nvmeof.conf (changed only in addresses, ports and a new
#      group name) at /src/ceph-nvmeof.conf, the cluster's minimal ceph.conf at
#      /etc/ceph/ceph.conf, the user's keyring at /etc/ceph/keyring, the mTLS files at
#      /server.key, ... (made here), the group state in the pool; gwcli from the image
#      (mTLS) exports the image; the Linux NVMe/TCP host in QEMU (tests/tools/nvme-vm.sh)
#      connects, runs fio write + crc32c verify and writes a random 16 MiB blob with dd,
#      whose sha256 equals the image's bytes read back with `rbd export`; the metrics count
#      the writes; SIGTERM: exit 0. Skipped (reported, not failed) without the Ceph
#      daemons or QEMU.
# Exit 77 (skipped) when not root or mmdebstrap/umoci are missing.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath "$1")
OUT=$BUILD/image-test
for tool in mmdebstrap umoci unshare chroot; do
  command -v $tool >/dev/null || { echo "skipped: $tool is missing"; exit 77; }
done
((EUID == 0)) || { echo "skipped: needs root"; exit 77; }
PID= CEPHDIR=
cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null
  [[ -n $CEPHDIR ]] && bash "$SRC/tests/tools/ceph-local.sh" destroy "$CEPHDIR" >/dev/null 2>&1
  rm -rf "$OUT/bundle"
}
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
# in_image CMD...: runs CMD in the image's root file system as a container engine would:
# a private mount namespace with /proc, /dev and /sys, and the files of MOUNTS
# ("HOST_PATH:IMAGE_PATH ...", bind-mounted like cephadm's volumes) in place. Every step
# execs the next, so `in_image ... &` leaves $! the gateway's own PID.
MOUNTS=
in_image() {
  exec unshare --mount --propagation private sh -c '
    R=$1 MOUNTS=$2; shift 2
    mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t sysfs sys "$R/sys" || exit 1
    for m in $MOUNTS; do
      mkdir -p "$(dirname "$R${m#*:}")" && touch "$R${m#*:}" && mount --bind "${m%%:*}" "$R${m#*:}" || exit 1
    done
    exec chroot "$R" "$@"' sh "$R" "$MOUNTS" "$@"
}
# wait_ready LOG: until the gateway logs "ready" (up to a minute on a loaded machine) or exits.
wait_ready() {
  for _ in $(seq 600); do
    grep -qE ' ready$' "$1" && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
}
LOG=$OUT/gateway.log
in_image "${START[@]}" >"$LOG" 2>&1 &
PID=$!
wait_ready "$LOG"
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

# 4. A real cluster, a cephadm-rendered file, a Linux host doing verified I/O.
skip4() { echo "step 4 (real cluster and host) skipped: $*"; finish; }
for tool in ceph-mon ceph-osd ceph rbd qemu-system-x86_64 openssl; do
  command -v $tool >/dev/null || skip4 "$tool is missing"
done
W=$OUT/cephadm
mkdir -p "$W"
FAILED_BEFORE_4=$FAILED
CEPHDIR=$(mktemp -d /tmp/nvmeof-img-ceph.XXXXXX)  # short: the daemons' socket paths
CL=$SRC/tests/tools/ceph-local.sh
if ! bash "$CL" start "$CEPHDIR" --no-mgr >"$W/ceph-start.log" 2>&1; then
  tail -20 "$W/ceph-start.log"; fail "starting the test cluster"; finish
fi
# What cephadm writes for the daemon: the cluster's minimal configuration and the daemon's
# keyring (client.nvmeof.<pool>.<group>.<host>.<id>, the [ceph] id of the rendered file).
GROUP=img$$
GWNAME=client.nvmeof.rbd.$GROUP.host1.abcdef
ceph -c "$CEPHDIR/ceph.conf" --connect-timeout 15 config generate-minimal-conf >"$W/ceph.conf" 2>"$W/minimal-conf.log"
check "ceph config generate-minimal-conf: $(cat "$W/minimal-conf.log")" grep -q mon_host "$W/ceph.conf"
KEYRING=$(bash "$CL" user "$CEPHDIR" "${GWNAME#client.}" rbd 2>>"$W/ceph-start.log")
check "the gateway's cephx user" test -s "$KEYRING"
check "the RBD image rbd/disk1" bash "$CL" image "$CEPHDIR" rbd/disk1 256M
(
  cd "$W" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out root.ca.cert -days 2 -subj /CN=nvmeof-test-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext &&
  openssl x509 -req -in server.csr -CA root.ca.cert -CAkey ca.key -CAcreateserial -out server.cert -days 2 \
    -extfile server.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client.admin &&
  openssl x509 -req -in client.csr -CA root.ca.cert -CAkey ca.key -CAcreateserial -out client.cert -days 2
) >"$W/openssl.log" 2>&1 || { cat "$W/openssl.log"; fail "making the mTLS certificates"; finish; }
ports=$(python3 -c 'import socket
ss=[socket.socket() for _ in range(4)]
[s.bind(("127.0.0.1", 0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r GRPC DISC PROM IO <<<"$ports"
# The rendered file, changed where cephadm fills in per host and cluster: the addresses,
# the ports, and the group (a new one, so that its group state object is new).
sed -e "s|^addr = .*|addr = 127.0.0.1|" -e "s|^port = 5500$|port = $GRPC|" -e "s|^port = 8009$|port = $DISC|" \
    -e "s|^prometheus_port = 10008$|prometheus_port = $PROM|" -e "s|group1|$GROUP|g" \
    "$SRC/tests/data/cephadm-ceph-nvmeof.conf" >"$W/ceph-nvmeof.conf"
changed=$(diff "$SRC/tests/data/cephadm-ceph-nvmeof.conf" "$W/ceph-nvmeof.conf" | grep '^>' |
          grep -vE '^> (addr|port|prometheus_port|name|group|id) = ')
check "the test changed more than addresses, ports and the group: $changed" test -z "$changed"
MOUNTS="$W/ceph-nvmeof.conf:/src/ceph-nvmeof.conf $W/ceph.conf:/etc/ceph/ceph.conf $KEYRING:/etc/ceph/keyring"
for f in server.key client.key server.cert client.cert root.ca.cert; do MOUNTS+=" $W/$f:/$f"; done
LOG=$W/gateway.log
in_image "${START[@]}" >"$LOG" 2>&1 &
PID=$!
wait_ready "$LOG"
check "the gateway on the cluster did not become ready: $(tail -5 "$LOG")" grep -qE ' ready$' "$LOG"
check "the group state is not in RADOS: $(grep -i 'group state' "$LOG")" \
  grep -q "group state in RADOS, pool rbd, object nvmeof.$GROUP.state" "$LOG"
check "gRPC not on mutual TLS" grep -q "grpc listening on 127.0.0.1:$GRPC (mTLS)" "$LOG"
NQN=nqn.2016-06.io.spdk:image-test
gw() {
  (in_image gwcli --server-address 127.0.0.1 --server-port "$GRPC" --client-key /client.key \
    --client-cert /client.cert --server-cert /server.cert "$@") >>"$W/gwcli.log" 2>&1
}
check "gwcli subsystem add" gw subsystem add -n $NQN --no-group-append
check "gwcli listener add" gw listener add -n $NQN -t "$GWNAME" -a 127.0.0.1 -s "$IO"
check "gwcli namespace add (rbd/disk1)" gw namespace add -n $NQN -p rbd -i disk1
check "gwcli host add '*'" gw host add -n $NQN -t '*'
((FAILED == FAILED_BEFORE_4)) || { tail -20 "$W/gwcli.log"; tail -20 "$LOG"; finish; }

# The host: connect, fio write + verify, then a blob written with dd, read back, hashed.
cat >"$W/guest.sh" <<GUEST
set -euo pipefail
nvme connect -t tcp -a \$NVME_VM_HOST -s $IO -n $NQN
wait-dev /dev/nvme0n1 30
echo "@@size \$(cat /sys/block/nvme0n1/size)@@"
fio --name=verify --filename=/dev/nvme0n1 --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio \\
    --direct=1 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 --eta=never --output=/tmp/fio.txt ||
  { cat /tmp/fio.txt; exit 1; }
grep -q 'err= 0' /tmp/fio.txt
echo "@@fio ok@@"
dd if=/dev/urandom of=/tmp/blob bs=1M count=16 status=none
dd if=/tmp/blob of=/dev/nvme0n1 bs=1M seek=64 oflag=direct status=none
dd if=/dev/nvme0n1 of=/tmp/back bs=1M skip=64 count=16 iflag=direct status=none
echo "@@blob \$(sha256sum </tmp/blob | cut -d' ' -f1) \$(sha256sum </tmp/back | cut -d' ' -f1)@@"
nvme disconnect -n $NQN
GUEST
bash "$SRC/tests/tools/nvme-vm.sh" --cpus 2 --mem 1024 --timeout 600 --script "$W/guest.sh" >"$W/vm.log" 2>&1
vm_rc=$?
check "the host in QEMU failed (exit $vm_rc): $(tail -15 "$W/vm.log")" test "$vm_rc" = 0
check "the host sees $(sed -n 's/.*@@size \([0-9]*\)@@.*/\1/p' "$W/vm.log") sectors, not 524288 (256 MiB)" \
  grep -q '@@size 524288@@' "$W/vm.log"
check "fio write + verify" grep -q '@@fio ok@@' "$W/vm.log"
read -r SHA_WRITTEN SHA_READ <<<"$(sed -n 's/.*@@blob \([0-9a-f]*\) \([0-9a-f]*\)@@.*/\1 \2/p' "$W/vm.log")"
check "the host read back other bytes than it wrote" test -n "${SHA_WRITTEN:-}" -a "${SHA_WRITTEN:-}" = "${SHA_READ:-x}"
SHA_RBD=$(rbd -c "$CEPHDIR/ceph.conf" export rbd/disk1 - 2>/dev/null |
          dd bs=1M skip=64 count=16 iflag=fullblock status=none | sha256sum | cut -d' ' -f1)
check "the RBD image does not hold what the host wrote (rbd export: $SHA_RBD, host: ${SHA_WRITTEN:-})" \
  test -n "${SHA_WRITTEN:-}" -a "$SHA_RBD" = "${SHA_WRITTEN:-}"
python3 - "$PROM" >"$W/metrics.txt" 2>&1 <<'PY'
import re, sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
meta = re.search(r'ceph_nvmeof_bdev_metadata\{bdev_name="([^"]+)",pool_name="rbd",namespace="",rbd_name="disk1"', body)
assert meta, "no ceph_nvmeof_bdev_metadata for rbd/disk1"
writes = re.search(r'ceph_nvmeof_bdev_writes_completed_total\{bdev_name="%s"\} (\S+)' % re.escape(meta.group(1)), body)
assert writes and float(writes.group(1)) > 0, "no writes counted"
print("writes", writes.group(1))
PY
check "the metrics: $(tail -2 "$W/metrics.txt")" grep -q '^writes ' "$W/metrics.txt"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
check "the gateway on the cluster exited $rc on SIGTERM" test "$rc" = 0
finish
