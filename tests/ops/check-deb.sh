#!/usr/bin/env bash
# check-deb.sh BUILD_DIR: the Debian package (cmake/packaging.cmake) of a built tree.
#   1. `cpack -G DEB` makes nvmeof-gateway_<version>_<arch>.deb;
#   2. `dpkg-deb -c` lists the daemon, gwcli (when built), the systemd unit and the
#      configuration; `dpkg-deb -I` names the package, its shlibdeps dependencies (librbd1,
#      librados2, libc6), the conffile and the maintainer scripts;
#   3. the unit runs the packaged binary on the packaged configuration, restarts on
#      failure, stops with SIGTERM within a TimeoutStopSec that covers the hand-over, and
#      logs to the journal (systemd-analyze verify, where systemd is installed);
#   4. the packaged daemon, on the packaged configuration (no Ceph: --state-pool none,
#      loopback ports), starts, becomes ready and exits 0 on SIGTERM.
# Prints one line per failure and "N passed, N failed".
set -uo pipefail
BUILD=$(realpath "$1")
WORK=$(mktemp -d "$BUILD/deb-test.XXXXXX")
PID=
cleanup() { [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
finish() { echo "deb: $PASSED passed, $FAILED failed"; ((FAILED == 0)); exit; }

# 1. The package.
if ! (cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1); then
  cat "$WORK/cpack.log"; fail "cpack -G DEB"; finish
fi
DEB=$(ls "$WORK"/out/nvmeof-gateway_*.deb 2>/dev/null | head -1)
check "cpack made no nvmeof-gateway_*.deb" test -n "$DEB"
[[ -n $DEB ]] || finish

# 2. Contents and control information.
dpkg-deb -c "$DEB" | awk '{print $6}' >"$WORK/contents"
dpkg-deb -I "$DEB" >"$WORK/info"
has() { grep -qxF -- "$2" "$1"; }
for f in ./usr/bin/nvmeof-gateway ./usr/lib/systemd/system/nvmeof-gateway.service \
         ./etc/nvmeof-gateway/ceph-nvmeof.conf ./usr/share/doc/nvmeof-gateway/operations.md; do
  check "the package lacks $f" has "$WORK/contents" "$f"
done
if [[ -x $BUILD/cli/gwcli ]]; then
  check "the package lacks ./usr/bin/gwcli" has "$WORK/contents" ./usr/bin/gwcli
fi
check "Package: nvmeof-gateway" grep -q '^ Package: nvmeof-gateway$' "$WORK/info"
DEPENDS=$(sed -n 's/^ Depends: //p' "$WORK/info")
for d in libc6 librbd1 librados2; do
  check "Depends ($DEPENDS) lacks $d" grep -qE "(^|, )$d( |,|$)" <<<"$DEPENDS"
done
dpkg-deb -e "$DEB" "$WORK/control"
check "conffiles does not list the configuration" has "$WORK/control/conffiles" /etc/nvmeof-gateway/ceph-nvmeof.conf
for s in postinst prerm postrm; do
  check "maintainer script $s missing or not executable" test -x "$WORK/control/$s"
  check "maintainer script $s is not valid sh" sh -n "$WORK/control/$s"
done

# 3. The unit.
dpkg-deb -x "$DEB" "$WORK/root"
UNIT=$WORK/root/usr/lib/systemd/system/nvmeof-gateway.service
key() { sed -n "s/^$1=//p" "$UNIT"; }
check "ExecStart is $(key ExecStart)" test "$(key ExecStart)" = "/usr/bin/nvmeof-gateway --config /etc/nvmeof-gateway/ceph-nvmeof.conf"
check "Restart is not on-failure" test "$(key Restart)" = on-failure
check "KillSignal is not SIGTERM" test "$(key KillSignal)" = SIGTERM
check "TimeoutStopSec $(key TimeoutStopSec) does not cover hand-over (10 s) + shutdown_timeout (10 s)" \
  test "$(key TimeoutStopSec)" -ge 30
check "logs do not go to the journal" test "$(key StandardError)" = journal
check "no [Install] WantedBy" test -n "$(key WantedBy)"
if command -v systemd-analyze >/dev/null; then  # syntax, with ExecStart at the extracted binary
  mkdir -p "$WORK/unit"
  sed "s|/usr/bin/nvmeof-gateway|$WORK/root/usr/bin/nvmeof-gateway|" "$UNIT" >"$WORK/unit/nvmeof-gateway.service"
  check "systemd-analyze verify: $(systemd-analyze verify "$WORK/unit/nvmeof-gateway.service" 2>&1 | head -3)" \
    systemd-analyze verify "$WORK/unit/nvmeof-gateway.service"
fi

# 4. The packaged daemon on the packaged configuration.
BIN=$WORK/root/usr/bin/nvmeof-gateway
check "the packaged nvmeof-gateway --help fails" sh -c "'$BIN' --help | grep -q '^usage: nvmeof-gateway'"
"$BIN" --config "$WORK/root/etc/nvmeof-gateway/ceph-nvmeof.conf" --state-pool none --ceph-conf /nonexistent \
  --grpc 127.0.0.1:0 --discovery none --prometheus-port none >"$WORK/gw.log" 2>&1 &
PID=$!
for _ in $(seq 600); do  # up to a minute on a loaded machine
  grep -qE ' ready$' "$WORK/gw.log" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
check "the packaged daemon did not become ready on the packaged configuration: $(tail -3 "$WORK/gw.log")" \
  grep -qE ' ready$' "$WORK/gw.log"
check "the packaged configuration was not read" grep -q 'using configuration file' "$WORK/gw.log"
kill -TERM "$PID" 2>/dev/null
wait "$PID"
rc=$?
PID=
check "the daemon exited $rc on SIGTERM" test "$rc" = 0
check "the packaged configuration gave warnings: $(grep -i warn "$WORK/gw.log" | head -2)" \
  sh -c "! grep -qi 'unknown' '$WORK/gw.log'"
finish
