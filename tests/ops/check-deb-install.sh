#!/usr/bin/env bash
# check-deb-install.sh BUILD_DIR: the Debian package installs into a fresh Debian 12 root
# file system and the daemon starts from it.
#   1. `cpack -G DEB` makes the package from the build tree;
#   2. a minimal bookworm root file system (mmdebstrap, variant apt, this host's apt
#      sources) is made once and kept in ${XDG_CACHE_HOME:-~/.cache}/nvmeof-gateway/
#      deb-install/ (made again when the sources change or after 7 days), and unpacked;
#   3. inside it (chroot, in a private mount namespace with its own /proc):
#      `apt-get install ./nvmeof-gateway_*.deb` resolves the dependencies (librbd1,
#      librados2, gRPC, ...) from the package registry; dpkg says "install ok installed";
#   4. the installed daemon, started in the chroot on the installed configuration (no Ceph:
#      --state-pool none, loopback ports), becomes ready ("ready", "health: SERVING" in its
#      log), its exporter answers /metrics from the host, the installed gwcli gets
#      `gw info` from it over gRPC; it exits 0 on SIGTERM.
# Runs as root (mmdebstrap root mode, chroot); exits 77 (ctest: skipped) when not root or
# without mmdebstrap or unshare. Needs the package registry (apt) the first time and at
# every run for the package's dependencies. Prints one line per failure and
# "N passed, N failed".
set -uo pipefail
BUILD=$(realpath "$1")
SKIP=77
((EUID == 0)) || { echo "SKIPPED: needs root (chroot)"; exit $SKIP; }
for tool in mmdebstrap unshare chroot cpack curl; do
  command -v $tool >/dev/null || { echo "SKIPPED: $tool is missing (gateway/scripts/install-deps.sh)"; exit $SKIP; }
done
WORK=$(mktemp -d "$BUILD/deb-install-test.XXXXXX")
PID=
cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
finish() { echo "deb-install: $PASSED passed, $FAILED failed"; ((FAILED == 0)); exit; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# 1. The package.
if ! (cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1); then
  cat "$WORK/cpack.log"; fail "cpack -G DEB"; finish
fi
DEB=$(ls "$WORK"/out/nvmeof-gateway_*.deb 2>/dev/null | head -1)
check "cpack made no nvmeof-gateway_*.deb" test -n "$DEB"
[[ -n $DEB ]] || finish
echo "package: $(basename "$DEB")"

# 2. The base root file system (cached).
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/nvmeof-gateway/deb-install
mkdir -p "$CACHE"
SOURCES=$WORK/host.sources
cat /etc/apt/sources.list.d/*.sources 2>/dev/null >"$SOURCES" || true
if [[ ! -s $SOURCES ]]; then
  SOURCES=$WORK/host.list
  grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null >"$SOURCES" || true
fi
[[ -s $SOURCES ]] || { fail "no apt sources on this host"; finish; }
KEY=$(sha256sum "$SOURCES" | cut -c1-16)
BASE=$CACHE/bookworm-apt-$KEY.tar
if [[ -f $BASE && -n $(find "$BASE" -mtime -7) ]]; then
  echo "base root file system: $BASE (cached)"
else
  rm -f "$CACHE"/bookworm-apt-*.tar
  if ! mmdebstrap --mode=root --variant=apt --format=tar --quiet bookworm "$BASE.part" "$SOURCES" \
      >"$WORK/mmdebstrap.log" 2>&1; then
    tail -20 "$WORK/mmdebstrap.log"; rm -f "$BASE.part"; fail "mmdebstrap bookworm"; finish
  fi
  mv "$BASE.part" "$BASE"
  echo "base root file system: $BASE (made, $(du -m "$BASE" | cut -f1) MiB)"
fi
R=$WORK/root
mkdir -p "$R"
tar -C "$R" -xf "$BASE" || { fail "unpacking $BASE"; finish; }
cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
cp "$DEB" "$R/tmp/"
# in_root CMD...: CMD in the chroot, in a private mount namespace with /proc mounted (the
# mount goes with the namespace). exec keeps the process id.
in_root() {
  unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" "$@"
}

# 3. apt installs the package and its dependencies.
if ! in_root apt-get update -q >"$WORK/apt.log" 2>&1 ||
   ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       "/tmp/$(basename "$DEB")" >>"$WORK/apt.log" 2>&1; then
  tail -30 "$WORK/apt.log"; fail "apt-get install ./$(basename "$DEB") in the chroot"; finish
fi
ok
echo "installed with $(grep -oE '[0-9]+ newly installed' "$WORK/apt.log" | tail -1)"
STATUS=$(in_root dpkg-query -W -f='${Status}' nvmeof-gateway 2>&1)
check "dpkg-query: nvmeof-gateway is '$STATUS'" test "$STATUS" = "install ok installed"
for f in /usr/bin/nvmeof-gateway /usr/bin/gwcli /etc/nvmeof-gateway/ceph-nvmeof.conf \
         /usr/lib/systemd/system/nvmeof-gateway.service; do
  check "$f not installed" test -e "$R$f"
done
in_root ldd /usr/bin/nvmeof-gateway >"$WORK/ldd.log" 2>&1
check "the installed nvmeof-gateway has unresolved libraries: $(grep 'not found' "$WORK/ldd.log")" \
  sh -c "! grep -q 'not found' '$WORK/ldd.log'"

# 4. The installed daemon, from the chroot, on the installed configuration.
GRPC=$(free_port) METRICS=$(free_port)
# (not through in_root: a function in the background is a subshell, and PID must be the
# daemon's: unshare, sh and chroot each exec the next)
unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" \
  /usr/bin/nvmeof-gateway --config /etc/nvmeof-gateway/ceph-nvmeof.conf --state-pool none \
  --ceph-conf /nonexistent --grpc 127.0.0.1:"$GRPC" --discovery none --prometheus-port "$METRICS" \
  >"$WORK/gw.log" 2>&1 &
PID=$!
for _ in $(seq 600); do  # up to a minute on a loaded machine
  grep -qE ' ready$' "$WORK/gw.log" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
check "the installed daemon did not become ready: $(tail -3 "$WORK/gw.log")" grep -qE ' ready$' "$WORK/gw.log"
check "the installed configuration was not read" grep -q 'using configuration file /etc/nvmeof-gateway/ceph-nvmeof.conf' "$WORK/gw.log"
check "no health: SERVING in the log" grep -q 'health: SERVING' "$WORK/gw.log"
check "the exporter does not answer /metrics" \
  sh -c "curl -sf http://127.0.0.1:$METRICS/metrics | grep -q '^ceph_nvmeof_gateway_info{'"
# The installed gwcli, in the chroot, asks the daemon over gRPC.
in_root gwcli --server-address 127.0.0.1 --server-port "$GRPC" gw info >"$WORK/gwcli.log" 2>&1
check "gwcli gw info in the chroot failed: $(tail -2 "$WORK/gwcli.log")" test $? = 0
kill -TERM "$PID" 2>/dev/null
wait "$PID"
rc=$?
PID=
check "the daemon exited $rc on SIGTERM" test "$rc" = 0
finish
