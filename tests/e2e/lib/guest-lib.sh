# guest-lib.sh - helpers for the guest side of the e2e cases.
#
# run-e2e.sh concatenates: an environment header, this file, the guest()
# function of each case (renamed e2e_case_<name>), and a call to e2e_main.
# The result runs with bash as the guest's command script (nvme-vm.sh).
#
# Environment from the host (see run-e2e.sh):
#   E2E_HOST        the host's loopback as seen from the guest (10.0.2.2)
#   E2E_IO_PORT     I/O listener port of the target
#   E2E_DISC_PORT   discovery port of the target
#   E2E_NQN         the subsystem under test
#   E2E_NS_SIZES    sizes in bytes of its namespaces (nsid 1, 2, ...)
#   E2E_TARGET      gateway | guest-nvmet | none
#   E2E_BACKEND     memory | file | rbd (what backs the namespaces)
#
# Conventions for a case's guest() function:
#   - it runs in a subshell with "set -eE -o pipefail": the first failing
#     command fails the case, and the ERR trap prints which line/command;
#   - use check / expect_eq / expect_match for named checks: they print
#     "ok - ..." / "not ok - ..." so a failure says what was being checked;
#   - skip "reason" ends the case as SKIP;
#   - host_request ACTION [ARGS] asks run-e2e.sh to do something on the host
#     (gateway-kill, gateway-start, gateway-stop, gateway-args ARGS... (added
#     to the next starts), gwcli ..., gateway-log-grep ERE,
#     gateway-log-grep-current ERE (since the last start), or a case's own
#     host_action) and waits for it;
#   - leave nothing connected or mounted (e2e_main cleans up anyway);
#   - prefer bash -c to sh -c: busybox sh runs its own applets first (its dd
#     lacks oflag=sync, ...), bash finds the real programs.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
E2E_CASE=

e2e_now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "[e2e $(e2e_now)] $*"; }

# check DESCRIPTION COMMAND [ARGS...]: run a command as a named check.
check() {
    local desc=$1 rc=0; shift
    "$@" || rc=$?
    if [ "$rc" = 0 ]; then
        echo "  ok - $desc"
    else
        echo "  not ok - $desc (exit $rc: $*)"
        echo "@@E2E-CHECK-FAILED:$E2E_CASE:$desc@@"
        return 1
    fi
}

# expect_eq DESCRIPTION ACTUAL EXPECTED
expect_eq() {
    if [ "$2" = "$3" ]; then
        echo "  ok - $1 ($2)"
    else
        echo "  not ok - $1: got '$2', expected '$3'"
        echo "@@E2E-CHECK-FAILED:$E2E_CASE:$1@@"
        return 1
    fi
}

# expect_match DESCRIPTION ACTUAL ERE
expect_match() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        echo "  ok - $1 ($2)"
    else
        echo "  not ok - $1: '$2' does not match /$3/"
        echo "@@E2E-CHECK-FAILED:$E2E_CASE:$1@@"
        return 1
    fi
}

skip() { echo "  SKIP: $*"; exit 77; }

# Field of "nvme id-ctrl"/"nvme id-ns" style output: "name   : value".
nvme_field() { # nvme_field NAME < output
    awk -v k="$1" -F: '{ n = $1; gsub(/[ \t]/, "", n) }
        n == k { v = substr($0, index($0, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }'
}

# Connect to the subsystem under test; extra nvme-connect options may follow.
# Waits for the controller and, unless E2E_NO_WAIT_NS=1, for nvme0n1.
connect() {
    local port=${E2E_CONNECT_PORT:-$E2E_IO_PORT}
    say "nvme connect -t tcp -a $E2E_HOST -s $port -n $E2E_NQN $*"
    nvme connect -t tcp -a "$E2E_HOST" -s "$port" -n "$E2E_NQN" "$@"
    [ "${E2E_NO_WAIT_NS:-0}" = 1 ] || wait-dev /dev/nvme0n1 10
}

disconnect() { # disconnect [NQN]
    local out
    out=$(nvme disconnect -n "${1:-$E2E_NQN}") || { echo "$out"; return 1; }
    echo "$out"
    # The controller device goes away asynchronously.
    local i
    for i in $(seq 50); do [ -e /sys/class/nvme/nvme0 ] || return 0; sleep 0.2; done
    echo "disconnect: /sys/class/nvme/nvme0 still present" >&2
    return 1
}

# ctrl_state [CTRL]: live, connecting, resetting, deleting, ...
ctrl_state() { cat "/sys/class/nvme/${1:-nvme0}/state" 2>/dev/null || echo absent; }

# wait_state STATE SECONDS [CTRL]
wait_state() {
    local want=$1 n=$(( $2 * 5 )) ctrl=${3:-nvme0}
    while [ "$(ctrl_state "$ctrl")" != "$want" ]; do
        [ "$n" -gt 0 ] || { echo "wait_state: $ctrl is '$(ctrl_state "$ctrl")', not '$want'" >&2; return 1; }
        n=$((n - 1)); sleep 0.2
    done
}

# Size in bytes of a block device.
dev_bytes() { echo $(( $(cat "/sys/block/${1#/dev/}/size") * 512 )); }

# Run fio; extra options given as arguments.  Prints the summary lines only
# (the full output when it fails).
run_fio() {
    local out rc=0
    out=$(fio --ioengine=libaio --direct=1 --eta=never --group_reporting "$@" 2>&1) || rc=$?
    if [ "$rc" != 0 ]; then
        printf '%s\n' "$out"
        return "$rc"
    fi
    printf '%s\n' "$out" | grep -E 'err=|IOPS=|verify|^ +(READ|WRITE):' || true
}

# fio_verify_pair DEV: the two write+verify runs of the fio and digests cases.
# 2 jobs x iodepth 32, each job on its own region (offset_increment), every
# block written once and read back with its crc32c checked.  Sizes are kept
# small: the guest CPU is emulated.
fio_verify_pair() {
    local dev=$1 s4k=${E2E_FIO_4K_SIZE:-32M} s128k=${E2E_FIO_128K_SIZE:-32M}
    check "fio 4K randwrite + verify crc32c, 2 jobs x $s4k, iodepth 32" run_fio \
        --name=rand4k --filename="$dev" --rw=randwrite --bs=4k --iodepth=32 --numjobs=2 \
        --size="$s4k" --offset_increment="$s4k" --verify=crc32c --verify_fatal=1
    check "fio 128K sequential write + verify crc32c, 2 jobs x $s128k, iodepth 32" run_fio \
        --name=seq128k --filename="$dev" --rw=write --bs=128k --iodepth=32 --numjobs=2 \
        --size="$s128k" --offset_increment="$s128k" --verify=crc32c --verify_fatal=1
}

# host_request ACTION [ARGS...]: ask run-e2e.sh (on the host) to do ACTION.
# The request and the answer go through the shared directory /host.  Prints
# what the action printed and returns its exit status.
host_request() {
    [ -d /host/requests ] || { echo "host_request: no /host/requests (not run by run-e2e.sh?)" >&2; return 2; }
    local id n
    id=$(cat /proc/sys/kernel/random/uuid)
    say "host request: $*"
    printf '%s\n' "$E2E_CASE" "$@" > "/host/requests/.$id"
    mv "/host/requests/.$id" "/host/requests/$id.req"
    n=$(( ${E2E_REQUEST_TIMEOUT:-180} * 5 ))
    while [ ! -e "/host/requests/$id.rc" ]; do
        [ "$n" -gt 0 ] || { echo "host_request: no answer to '$*'" >&2; return 2; }
        n=$((n - 1)); sleep 0.2
    done
    cat "/host/requests/$id.out" 2>/dev/null || true
    return "$(cat "/host/requests/$id.rc")"
}

# What to print when a case fails: enough to see what the kernel thought.
e2e_diagnostics() {
    echo "---- diagnostics for $E2E_CASE ----"
    echo "# nvme list-subsys"; nvme list-subsys 2>&1 | head -40 || true
    local c
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c" ] || continue
        echo "# $c: state=$(cat "$c/state" 2>/dev/null) queue_count=$(cat "$c/queue_count" 2>/dev/null) cntlid=$(cat "$c/cntlid" 2>/dev/null)"
    done
    echo "# dmesg (last 60 lines)"; dmesg | tail -60
    echo "---- end of diagnostics ----"
}

# Leave the guest clean for the next case.
e2e_cleanup() {
    local m
    for m in $(awk '$2 ~ "^/mnt" { print $2 }' /proc/mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    nvme disconnect-all >/dev/null 2>&1 || true
    for m in $(seq 50); do ls /sys/class/nvme/ 2>/dev/null | grep -q . || break; sleep 0.2; done
}

# The reference target for E2E_TARGET=guest-nvmet: the Linux nvmet in this
# guest, listening on E2E_IO_PORT (run-e2e.sh forwards the host's port to
# it, so the initiator goes guest -> host 127.0.0.1 -> guest nvmet, like it
# would to the gateway).  Namespaces are files on tmpfs.
e2e_start_guest_nvmet() {
    local T=/sys/kernel/config/nvmet nsid=0 size
    mkdir "$T/subsystems/$E2E_NQN"
    echo 1 > "$T/subsystems/$E2E_NQN/attr_allow_any_host"
    for size in $E2E_NS_SIZES; do
        nsid=$((nsid + 1))
        truncate -s "$size" "/tmp/nvmet-ns$nsid.img"
        mkdir "$T/subsystems/$E2E_NQN/namespaces/$nsid"
        echo "/tmp/nvmet-ns$nsid.img" > "$T/subsystems/$E2E_NQN/namespaces/$nsid/device_path"
        echo 1 > "$T/subsystems/$E2E_NQN/namespaces/$nsid/buffered_io"
        echo 1 > "$T/subsystems/$E2E_NQN/namespaces/$nsid/enable"
    done
    mkdir "$T/ports/1"
    echo tcp > "$T/ports/1/addr_trtype"; echo ipv4 > "$T/ports/1/addr_adrfam"
    echo 0.0.0.0 > "$T/ports/1/addr_traddr"; echo "$E2E_IO_PORT" > "$T/ports/1/addr_trsvcid"
    ln -s "$T/subsystems/$E2E_NQN" "$T/ports/1/subsystems/$E2E_NQN"
    say "guest nvmet: $E2E_NQN with $nsid namespace(s) on port $E2E_IO_PORT"
}

# e2e_main CASE...: run each case in a subshell, report each result.
e2e_main() {
    local c rc t0 t1
    say "guest: $(uname -r), $(nproc) vCPU(s), target=$E2E_TARGET backend=$E2E_BACKEND"
    if [ "$E2E_TARGET" = guest-nvmet ]; then e2e_start_guest_nvmet; fi
    for c in "$@"; do
        E2E_CASE=$c
        echo "@@E2E-BEGIN:$c@@"
        say "case $c"
        t0=$(e2e_now)
        # Not "( ... ) || rc=$?": bash ignores set -e inside a subshell that
        # is the left side of || or &&.
        (
            set -eE -o pipefail
            trap 'rc=$?; echo "  FAILED in case $E2E_CASE at line $LINENO: $BASH_COMMAND (exit $rc)"' ERR
            cd /tmp
            "e2e_case_${c//-/_}"
        )
        rc=$?
        t1=$(e2e_now)
        if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then e2e_diagnostics; fi
        e2e_cleanup
        echo "@@E2E-RESULT:$c:$rc:$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')@@"
    done
    return 0
}

# ---------------------------------------------------------------------------
# Several gateways (CASE_GATEWAYS=N, lib/multi-gw.sh on the host): gateway I
# (1..N) listens on word I of E2E_IO_PORTS and is the home of ANA group I,
# which holds namespace I.  host_request gw kill|freeze|cont|term|start|
# blocklist I... performs events, host_request gw mark / log-new I ERE look
# at what the gateways logged since the mark.
# ---------------------------------------------------------------------------
# Connect to every gateway's listener (one subsystem: native multipath makes
# one /dev/nvme0nX per namespace); waits for all namespaces.
ha_connect_all() {
    local port n=0 i
    for port in $E2E_IO_PORTS; do
        say "nvme connect -t tcp -a $E2E_HOST -s $port -n $E2E_NQN --reconnect-delay=1 $*"
        nvme connect -t tcp -a "$E2E_HOST" -s "$port" -n "$E2E_NQN" --reconnect-delay=1 "$@" || return 1
        n=$((n + 1))
    done
    for i in $(seq "$n"); do wait-dev "/dev/nvme0n$i" 20 || return 1; done
}

# The multipath head (/dev/nvme0nX) of namespace NSID.
ha_head() {
    local d
    for d in /sys/block/nvme0n*; do
        [ "$(cat "$d/nsid" 2>/dev/null)" = "$1" ] && { echo "/dev/${d##*/}"; return 0; }
    done
    return 1
}

# Gateways through which the host sees namespace NSID optimized (space-
# separated): live controllers only.  Builtins only (read, no cat/grep): forks
# are slow in an emulated guest, and this runs in polling loops.
ha_served_by() {
    local c st addr port p ns ana i j out=
    for c in /sys/class/nvme/nvme*; do
        read -r st 2>/dev/null < "$c/state" || continue
        [ "$st" = live ] || continue
        read -r addr 2>/dev/null < "$c/address" || continue
        port=${addr#*trsvcid=}; port=${port%%,*}
        i=0 j=0
        for p in $E2E_IO_PORTS; do j=$((j + 1)); [ "$p" != "$port" ] || i=$j; done
        [ "$i" != 0 ] || continue
        for p in "$c"/nvme*c*n*; do
            read -r ns 2>/dev/null < "$p/nsid" || continue
            [ "$ns" = "$1" ] || continue
            read -r ana 2>/dev/null < "$p/ana_state" || continue
            [ "$ana" != optimized ] || out+="$i "
        done
    done
    echo "${out% }"
}

# ha_wait_served NSID "I [J...]" SECONDS: until the host sees NSID optimized
# through exactly one gateway, one of I J ...  Prints how long it took.
ha_wait_served() {
    local nsid=$1 want=" $2 " n=$(( $3 * 10 )) t0 s
    t0=$(e2e_now)
    while :; do
        s=$(ha_served_by "$nsid")
        if [ -n "$s" ] && [[ "$s" != *" "* ]] && [[ "$want" == *" $s "* ]]; then
            say "namespace $nsid served by gw$s (after $(awk -v a="$t0" -v b="$(e2e_now)" 'BEGIN { printf "%.1f", b - a }') s)"
            return 0
        fi
        [ "$n" -gt 0 ] || { echo "namespace $nsid: served by '${s}', wanted one of$want" >&2; return 1; }
        n=$((n - 1)); sleep 0.1   # (n counts rounds: a round itself takes some time in the guest)
    done
}

# fio write + crc32c verify on every namespace head, round after round, in the
# background until ha_fio_stop.  Each round: 8 MiB per namespace of 4K random
# writes at iodepth 4 (rate-capped: the guest is emulated), then the read-back
# verify.  /tmp/hafio.rcs: "round status" lines.
ha_fio_start() {
    local args=() nsid d
    for nsid in $(seq "$E2E_GATEWAYS"); do
        d=$(ha_head "$nsid") || return 1
        args+=(--name="ns$nsid" --filename="$d")
    done
    rm -f /tmp/hafio.*; : > /tmp/hafio.rcs
    ( set +eE; trap - ERR
      n=0
      while [ ! -e /tmp/hafio.stop ]; do
          n=$((n + 1))
          fio --ioengine=libaio --direct=1 --eta=never --rw=randwrite --bs=4k --iodepth=4 \
              --size=8M --offset=$(( (n % 4) * 8 ))M --verify=crc32c --do_verify=1 --verify_fatal=1 \
              --rate_iops="${E2E_HA_FIO_IOPS:-250}" "${args[@]}" > "/tmp/hafio.out.$n" 2>&1
          rc=$?
          echo "$n $rc" >> /tmp/hafio.rcs
          [ "$rc" = 0 ] || break
      done ) &
    HA_FIO_PID=$!
    say "fio verify loop started (pid $HA_FIO_PID) on ${args[*]}"
}

ha_fio_running() { kill -0 "$HA_FIO_PID" 2>/dev/null && ! awk '$2 != 0 { f = 1 } END { exit !f }' /tmp/hafio.rcs; }

# Stops the loop after its current round; checks every round passed.
ha_fio_stop() {
    touch /tmp/hafio.stop
    local n=0
    while kill -0 "$HA_FIO_PID" 2>/dev/null && [ $n -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done
    kill -0 "$HA_FIO_PID" 2>/dev/null && { echo "fio round did not end within 120 s"; return 1; }
    local rounds bad last
    rounds=$(wc -l < /tmp/hafio.rcs)
    bad=$(awk '$2 != 0 { print $1 }' /tmp/hafio.rcs | head -1)
    if [ -n "$bad" ]; then
        echo "fio round $bad failed:"; cat "/tmp/hafio.out.$bad"; return 1
    fi
    last=$(tail -1 /tmp/hafio.rcs | cut -d' ' -f1)
    grep -hE 'err=|verify' "/tmp/hafio.out.$last" | head -8
    say "fio: $rounds rounds of write + verify, all passed"
    [ "$rounds" -gt 0 ]
}

# No I/O error reached a namespace head (errors of single paths are expected:
# the host retries them on another path).
ha_no_host_errors() {
    local e
    e=$(dmesg | grep -E 'I/O error, dev nvme[0-9]+n[0-9]+,|Buffer I/O error' || true)
    [ -z "$e" ] || { echo "$e" | head -20; return 1; }
}

# ha_wait_log I ERE SECONDS: until gateway I has logged a line matching ERE
# since the last "host_request gw mark".
ha_wait_log() {
    local end; end=$(awk -v t="$(e2e_now)" -v s="$3" 'BEGIN { print t + s }')
    while ! host_request gw log-new "$1" "$2" >/tmp/ha-log-match 2>&1; do
        awk -v t="$(e2e_now)" -v e="$end" 'BEGIN { exit !(t < e) }' \
            || { echo "gw$1 logged nothing matching /$2/ within $3 s" >&2; return 1; }
        sleep 0.5
    done
    head -3 /tmp/ha-log-match
}
