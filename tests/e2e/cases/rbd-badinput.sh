#!/usr/bin/env bash
# rbd-badinput.sh - the gateway started with bad RBD inputs (host side, no VM):
#
#   tests/e2e/cases/rbd-badinput.sh BUILD_DIR        (needs CEPH_CONF; ctest
#   e2e_rbd_badinput, label ceph, runs it on the ceph_e2e fixture's cluster)
#
# Each scenario starts its own gateway (127.0.0.1, --grpc none) with one
# subsystem holding a bad RBD namespace, a good RBD namespace (where the
# Ceph connection itself works) and a memory namespace, and checks that:
#   - the gateway logs "namespace 'rbd:...' not added: <reason>" naming what
#     is wrong (pool, image, user + keyring, mon address), within a bound;
#   - it still starts, listens and serves its other namespaces: nvmf-perf
#     write + verify on each of them;
#   - SIGTERM stops it with exit status 0.
# Scenarios: missing pool, missing image, bogus key, user whose caps do not
# cover the pool, user without any caps, unreachable mon (closed port).
#
# Sourced by run-e2e.sh (it lives among the cases so that it shares their
# naming): it then only declares itself host-side, which run-e2e.sh skips.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    CASE_DESC="host-side: run tests/e2e/cases/rbd-badinput.sh BUILD_DIR (ctest -R e2e_rbd_badinput)"
    CASE_TARGETS=host-side
    guest() { skip "host-side test"; }
    return 0
fi
set -uo pipefail

BUILD=${1:?usage: rbd-badinput.sh BUILD_DIR}
GW=$BUILD/gateway/nvmeof-gateway
PERF=$BUILD/tests/host/nvmf-perf
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
NQN=nqn.2016-06.io.nvmeof-gateway:e2e-badinput
POOL=${E2E_RBD_POOL:-rbd}

[ -n "${CEPH_CONF:-}" ] || { echo "SKIP: needs a Ceph cluster: set CEPH_CONF"; exit 77; }
for b in "$GW" "$PERF"; do [ -x "$b" ] || { echo "SKIP: no $b (build nvmeof-gateway nvmf-perf)"; exit 77; }; done
grep -q -- '--ceph-conf' <<<"$("$GW" --help 2>&1)" || { echo "SKIP: the gateway has no --ceph-conf"; exit 77; }
export CEPH_CONF

WORK=$(mktemp -d /tmp/nvmeof-badinput.XXXXXX)
GW_PID=
GOOD=e2e-badinput-good-$$
USERS=()
cleanup() {
    if [ -n "$GW_PID" ]; then kill -KILL "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; fi
    rbd rm --no-progress "$POOL/$GOOD" >/dev/null 2>&1
    local u; for u in "${USERS[@]}"; do ceph auth rm "client.$u" >/dev/null 2>&1; done
    if [ "$FAILED" = 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
FAILED=0 PASSED=0
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ok()  { echo "  ok - $*"; }
bad() { echo "  not ok - $*"; SCEN_FAILED=1; }

# conf_with KEY VALUE: a copy of CEPH_CONF with "KEY = VALUE" in [global]
conf_with() {
    local out=$WORK/ceph-${1// /_}-$RANDOM.conf
    awk -v k="$1" -v v="$2" '
        { key = $0; sub(/[ \t]*=.*/, "", key); gsub(/[ _]+/, " ", key) }
        key == k { print k " = " v; done = 1; next } { print }
        END { if (!done) { print "[global]"; print k " = " v } }' "$CEPH_CONF" > "$out"
    echo "$out"
}

# scenario NAME BOUND_S ERE BAD_SPEC [gateway options...]
#   ERE: what the "not added" line must say.  BAD_SPEC: the bad namespace.
#   GOOD_RBD=no in the environment: no good RBD namespace (the whole
#   cluster connection is bad).
scenario() {
    local name=$1 bound=$2 ere=$3 spec=$4; shift 4
    local port log=$WORK/$name.log t0 t1 line nsids=() n i
    SCEN_FAILED=0
    port=$(free_port)
    local args=(--listen "127.0.0.1:$port" --discovery none --grpc none --reactors 1
                --log-level info --subsystem "$NQN" --namespace "$spec")
    n=0
    if [ "${GOOD_RBD:-yes}" = yes ]; then args+=(--namespace "rbd:$POOL/$GOOD"); n=$((n + 1)); fi
    args+=(--namespace memory:64M); n=$((n + 1))
    echo "== $name: $GW ${args[*]} $*"
    t0=$EPOCHREALTIME
    "$GW" "${args[@]}" "$@" > "$log" 2>&1 < /dev/null &
    GW_PID=$!
    # The error line; then the gateway's "ready" line (the listener opens before the
    # command line's namespaces are all added, "ready" comes after them).
    while :; do
        line=$(grep -m1 -F "namespace '$spec' not added" "$log")
        [ -z "$line" ] || break
        kill -0 "$GW_PID" 2>/dev/null || break
        awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$bound" 'BEGIN { exit !(b - a > m) }' && break
        sleep 0.05
    done
    t1=$EPOCHREALTIME
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    if [ -n "$line" ]; then
        echo "    ${line#* ERROR*  }"
        ok "error logged after $secs s (bound $bound s)"
        if printf '%s\n' "$line" | grep -Eq -- "$ere"; then ok "it names the cause: /$ere/"
        else bad "the message does not match /$ere/"; fi
    else
        bad "no \"namespace '$spec' not added\" line within $bound s"
    fi
    for i in $(seq 200); do grep -q "INFO *ready$" "$log" && break; kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    if grep -q "listening on 127.0.0.1:$port" "$log"; then ok "gateway listening"; else bad "gateway not listening"; tail -20 "$log"; fi
    if grep -q "INFO *ready$" "$log"; then ok "gateway ready"; else bad "no \"ready\" line within 20 s"; tail -20 "$log"; fi
    if kill -0 "$GW_PID" 2>/dev/null; then ok "gateway still running"; else bad "gateway exited"; fi
    # The other namespaces are there and serve I/O. NSIDs follow the command line (the
    # bad namespace, given first, keeps NSID 1 unused), so they do not shift when an
    # image cannot be opened.
    for i in $(seq 2 $((n + 1))); do
        local out rc=0
        out=$("$PERF" --addr 127.0.0.1 --port "$port" --nqn "$NQN" --nsid "$i" --rw randrw --bs 4k \
              --qd 8 --time 2 --size $((16 << 20)) --verify 2>&1) || rc=$?
        if [ "$rc" = 0 ] && grep -q 'errors 0, verify errors 0' <<< "$out"; then
            ok "nsid $i: nvmf-perf randrw + verify, $(awk '/^  total/ { print $3, "IOPS"; exit }' <<< "$out"), 0 errors"
        else
            bad "nsid $i: nvmf-perf exit $rc"; echo "$out" | tail -5
        fi
    done
    local extra=1 out
    if out=$("$PERF" --addr 127.0.0.1 --port "$port" --nqn "$NQN" --nsid "$extra" --rw read --time 1 2>&1); then
        bad "nsid $extra exists: the bad namespace was added anyway?"
    else
        ok "no nsid $extra (the bad namespace is not there)"
    fi
    kill -TERM "$GW_PID"
    local rc
    for i in $(seq 150); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$GW_PID" 2>/dev/null; then
        bad "gateway did not exit within 15 s of SIGTERM"; kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
    else
        wait "$GW_PID"; rc=$?
        if [ "$rc" = 0 ]; then ok "SIGTERM: exit status 0"; else bad "SIGTERM: exit status $rc"; fi
    fi
    GW_PID=
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then bad "sanitizer report in $log"; fi
    if [ "$SCEN_FAILED" = 0 ]; then PASSED=$((PASSED + 1)); echo "PASS  $name ($secs s to the error)"
    else FAILED=$((FAILED + 1)); echo "FAIL  $name"; echo "----- $log -----"; tail -30 "$log"; echo "-----"; fi
}

T0=$SECONDS
rbd create --size 64M "$POOL/$GOOD" || { echo "cannot create $POOL/$GOOD"; exit 1; }

# Pool and image.
scenario missing-pool 15 "pool 'e2e-nosuchpool' does not exist" "rbd:e2e-nosuchpool/img" --ceph-conf "$CEPH_CONF"
scenario missing-image 15 "image '$POOL/e2e-no-such-image' does not exist" "rbd:$POOL/e2e-no-such-image" --ceph-conf "$CEPH_CONF"

# Credentials.  A bogus key for client.admin:
kr=$WORK/bogus.keyring
printf '[client.admin]\n\tkey = %s\n' "$(ceph-authtool --gen-print-key)" > "$kr"
GOOD_RBD=no scenario bogus-key 15 "authentication as client.admin .*failed.*wrong key.*keyring $kr" \
    "rbd:$POOL/$GOOD" --ceph-conf "$(conf_with keyring "$kr")"
# A user whose caps cover another pool only:
u=e2e-otherpool-$$; USERS+=("$u")
ceph auth get-or-create "client.$u" mon 'profile rbd' osd 'profile rbd pool=e2e-otherpool' -o "$WORK/$u.keyring" >/dev/null
GOOD_RBD=no scenario wrong-caps 15 "permission denied opening image '$POOL/$GOOD' as client.$u" \
    "rbd:$POOL/$GOOD" --ceph-conf "$(conf_with keyring "$WORK/$u.keyring")" --ceph-id "$u"
# A user without any caps:
u=e2e-nocaps-$$; USERS+=("$u")
ceph auth get-or-create "client.$u" -o "$WORK/$u.keyring" >/dev/null
GOOD_RBD=no scenario no-caps 15 "client.$u" \
    "rbd:$POOL/$GOOD" --ceph-conf "$(conf_with keyring "$WORK/$u.keyring")" --ceph-id "$u"

# Unreachable mon: a closed port on 127.0.0.1 (connect timeout: 10 s).
closed=$(free_port)
GOOD_RBD=no scenario mon-unreachable 30 "cannot reach the Ceph monitors at .*127.0.0.1:$closed" \
    "rbd:$POOL/$GOOD" --ceph-conf "$(conf_with "mon host" "127.0.0.1:$closed")"

echo
echo "rbd-badinput: $PASSED passed, $FAILED failed ($((SECONDS - T0)) s)"
[ "$FAILED" = 0 ]
