#!/usr/bin/env bash
# run-e2e.sh - end-to-end tests: the real Linux NVMe/TCP initiator (in a QEMU
# guest, tests/tools/nvme-vm.sh) against nvmeof-gateway running on this host.
#
# Usage: tests/e2e/run-e2e.sh BUILD_DIR [CASE...]
#        tests/e2e/run-e2e.sh --list
#
# CASE is a file name under tests/e2e/cases/ without .sh (default: all, in
# the order of cases/ORDER).  Consecutive cases of the same CASE_GROUP and
# the same gateway configuration share one gateway and one VM boot (booting
# under TCG costs seconds); E2E_SPLIT=1 boots once per case instead.
#
# For each boot group: pick free ports, create the namespaces' backing
# (files / RBD images), start the gateway on 127.0.0.1, wait for its
# "listening on" lines, boot the guest with the cases' guest() functions,
# serve the guest's host requests (kill/restart the gateway, gwcli, ...),
# stop the gateway with SIGTERM and check it exits cleanly.
#
# Output: one line per case, "PASS|FAIL|SKIP name (seconds)", the failing
# case's console section and the gateway log's tail on failure, and finally
# "e2e: N passed, N failed, N skipped" (XFAIL, a known target bug, counts as
# skipped).  Exit status: 1 if anything failed,
# 77 if everything was skipped, else 0.
#
# Environment:
#   E2E_TARGET=gateway|guest-nvmet  what the guest talks to (default gateway).
#         guest-nvmet: the Linux target inside the guest, reached through a
#         host port forward - the reference behaviour for the test scripts.
#   E2E_GATEWAY=CMD       gateway command (default BUILD_DIR/gateway/nvmeof-gateway)
#   E2E_GWCLI=CMD         gwcli (default BUILD_DIR/cli/gwcli)
#   E2E_BACKEND=memory|file|rbd   namespace backing (default memory; cases that
#         need data to survive a gateway restart get a file unless rbd)
#   CEPH_CONF, E2E_RBD_POOL (default rbd)  Ceph cluster for E2E_BACKEND=rbd or
#         cases with CASE_NEEDS=ceph; without CEPH_CONF they SKIP
#   E2E_REACTORS (2), E2E_LOG_LEVEL (info)  passed to the gateway
#   E2E_VM_ARGS           extra nvme-vm.sh options (e.g. --verbose)
#   E2E_WORK              work directory (default: a new /tmp/nvmeof-e2e.*;
#                         kept when something failed or E2E_KEEP=1)
#   E2E_SPLIT=1           one VM boot per case
#   E2E_HA_*, E2E_BENCH_* passed to the guest (knobs of the ha-* cases)
#   E2E_HA_LEASE_MS, E2E_HA_FAILBACK_DELAY_MS  HA timing of CASE_GATEWAYS groups
#
# A case file (cases/NAME.sh) sets CASE_* variables and defines guest(),
# which runs inside the VM (see lib/guest-lib.sh for its helpers), and may
# define host_action() for requests the built-in ones do not cover:
#   CASE_DESC        one line
#   CASE_GROUP       boot group (default: the case name)
#   CASE_TARGETS     targets it makes sense for (default "gateway guest-nvmet";
#                    "none" = needs no target at all, e.g. selftest)
#   CASE_NS_SIZES    namespaces of the subsystem (default "256M")
#   CASE_PERSISTENT  yes = data must survive a gateway restart
#   CASE_GRPC        yes = start the gateway with --grpc
#   CASE_NEEDS       words: gwcli, grpc (the gateway's --help lists --grpc), ceph,
#                    tls-psk (BUILD_DIR/tests/host/nvmf-tls-psk)
#   CASE_TIMEOUT     seconds for the guest part (default 300)
#   CASE_KERNEL      a Debian kernel series for the guest (e.g. 6.12, for NVMe
#                    in-band authentication), booted from its own nvme-vm cache
#                    ($NVME_VM_CACHE-SERIES) so the default kernel's stays; empty
#                    (default): the default kernel
#   CASE_TLSHD       yes = the guest has tlshd and keyctl (nvme-vm.sh NVME_VM_TLSHD=1,
#                    for the kernel's NVMe/TCP TLS host), booted from its own cache
#                    ($NVME_VM_CACHE[-SERIES]-tlshd)
#   CASE_GATEWAYS    N >= 2: N gateways in one HA group (ha = builtin) on a
#                    real cluster, configured through gwcli (lib/multi-gw.sh);
#                    needs CEPH_CONF, gwcli, rados, jq; the guest gets
#                    E2E_IO_PORTS and asks for events with host_request gw ...;
#                    case_gateway_conf I (optional) prints extra [gateway]
#                    lines of gateway I's configuration file
#   CASE_XFAIL_CHECK an ERE: a known target bug.  If the case's first failing
#                    check matches it, the case is reported XFAIL (counted as
#                    skipped) instead of FAIL; any other failure stays FAIL.
#                    CASE_XFAIL_REASON says why.  E2E_STRICT=1 turns it off.
set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$E2E_DIR/../.." && pwd)
NVME_VM=$SRC_DIR/tests/tools/nvme-vm.sh
# shellcheck source=lib/multi-gw.sh
source "$E2E_DIR/lib/multi-gw.sh"

usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; }

all_cases() {
    if [ -s "$E2E_DIR/cases/ORDER" ]; then
        grep -v '^#' "$E2E_DIR/cases/ORDER" | awk 'NF { print $1 }'
    else
        (cd "$E2E_DIR/cases" && ls -- *.sh | sed 's/\.sh$//')
    fi
}

case "${1:-}" in
    --list)
        for c in $(all_cases); do
            ( source "$E2E_DIR/cases/$c.sh"; printf '%-12s %s\n' "$c" "${CASE_DESC:-}" )
        done
        exit 0 ;;
    -h|--help|"") usage; [ -n "${1:-}" ]; exit $? ;;
esac

BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "run-e2e: no build directory '$1'" >&2; exit 2; }
shift
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || mapfile -t CASES < <(all_cases)
for c in "${CASES[@]}"; do
    [ -f "$E2E_DIR/cases/$c.sh" ] || { echo "run-e2e: no case '$c' (try --list)" >&2; exit 2; }
done

E2E_TARGET=${E2E_TARGET:-gateway}
E2E_BACKEND=${E2E_BACKEND:-memory}
E2E_RBD_POOL=${E2E_RBD_POOL:-rbd}
GATEWAY_CMD=${E2E_GATEWAY:-$BUILD_DIR/gateway/nvmeof-gateway}
GWCLI_CMD=${E2E_GWCLI:-$BUILD_DIR/cli/gwcli}
NQN_BASE=nqn.2016-06.io.nvmeof-gateway:e2e

KEEP_WORK=${E2E_KEEP:-0}
if [ -n "${E2E_WORK:-}" ]; then
    WORK=$E2E_WORK; mkdir -p "$WORK"; KEEP_WORK=1
else
    WORK=$(mktemp -d /tmp/nvmeof-e2e.XXXXXX)
fi

log() { echo "run-e2e: $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ----------------------------------------------------------------------------
# Everything this script starts is recorded here and stopped on exit.
# ----------------------------------------------------------------------------
GW_PID=
VM_PID=
cleanup() {
    [ -z "$VM_PID" ] || kill "$VM_PID" 2>/dev/null
    mg_cleanup
    if [ -n "$GW_PID" ]; then
        kill -TERM "$GW_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$GW_PID" 2>/dev/null
    fi
    local img
    # (ns_spec runs in $(...): it records the images it creates in a file)
    if [ -s "$WORK/rbd-images" ]; then
        while read -r img; do
            rbd rm --no-progress "$img" >/dev/null 2>&1 || log "could not remove RBD image $img"
        done < "$WORK/rbd-images"
        rm -f "$WORK/rbd-images"
    fi
    if [ "$KEEP_WORK" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ----------------------------------------------------------------------------
# Case metadata
# ----------------------------------------------------------------------------
# Loads a case's CASE_* variables into the current shell (defaults first).
# For cases' host_action(): POOL/IMAGE behind namespace N of the current gateway (its
# --namespace rbd:... arguments, in order).
rbd_image_of() {
    local n=0 a
    for a in "${GW_ARGS[@]}"; do
        case "$a" in rbd:*) n=$((n + 1)); if [ "$n" = "$1" ]; then a=${a#rbd:}; echo "${a%%:*}"; return 0; fi ;; esac
    done
    echo "no RBD namespace $1 among the gateway's arguments" >&2; return 1
}

load_case_meta() {
    CASE_DESC= CASE_GROUP=$1 CASE_TARGETS="gateway guest-nvmet" CASE_NS_SIZES=256M
    CASE_PERSISTENT=no CASE_GRPC=no CASE_NEEDS= CASE_TIMEOUT=300
    CASE_XFAIL_CHECK= CASE_XFAIL_REASON= CASE_GATEWAYS=1 CASE_KERNEL= CASE_TLSHD=no
    unset -f guest host_action case_gateway_conf
    # shellcheck disable=SC1090
    source "$E2E_DIR/cases/$1.sh"
}

# Why a case cannot run here (empty: it can).
skip_reason() {
    local need
    case " $CASE_TARGETS " in
        *" none "*) ;;
        *" $E2E_TARGET "*) ;;
        *) echo "needs target ${CASE_TARGETS// / or }, running against $E2E_TARGET"; return ;;
    esac
    if [ "$E2E_TARGET" = gateway ] && [[ " $CASE_TARGETS " != *" none "* ]] \
        && ! [ -x "${GATEWAY_CMD%% *}" ]; then
        echo "no gateway binary at ${GATEWAY_CMD%% *} (build target nvmeof-gateway)"; return
    fi
    for need in $CASE_NEEDS; do
        case "$need" in
            gwcli) [ -x "${GWCLI_CMD%% *}" ] || { echo "no gwcli at ${GWCLI_CMD%% *} (NVMEOF_WITH_GRPC=OFF?)"; return; } ;;
            ceph)  [ -n "${CEPH_CONF:-}" ] || { echo "needs a Ceph cluster: set CEPH_CONF"; return; } ;;
            tls-psk) [ -x "$BUILD_DIR/tests/host/nvmf-tls-psk" ] \
                       || { echo "no $BUILD_DIR/tests/host/nvmf-tls-psk (build target nvmf-tls-psk)"; return; } ;;
            grpc)  [ "$E2E_TARGET" != gateway ] || grep -q -- '--grpc' <<<"$("${GATEWAY_CMD%% *}" --help 2>&1)" \
                       || { echo "the gateway's --help has no --grpc option yet"; return; } ;;
        esac
    done
    if [ "$CASE_GATEWAYS" -gt 1 ]; then
        [ "$E2E_TARGET" = gateway ] || { echo "$CASE_GATEWAYS gateways: needs E2E_TARGET=gateway"; return; }
        [ -n "${CEPH_CONF:-}" ] || { echo "$CASE_GATEWAYS gateways in an HA group need a Ceph cluster: set CEPH_CONF"; return; }
        [ -x "${GWCLI_CMD%% *}" ] || { echo "$CASE_GATEWAYS gateways are configured through gwcli: none at ${GWCLI_CMD%% *}"; return; }
        command -v jq >/dev/null && command -v rados >/dev/null || { echo "needs jq and rados"; return; }
    fi
    if [ "$E2E_BACKEND" = rbd ] && [ -z "${CEPH_CONF:-}" ]; then
        echo "E2E_BACKEND=rbd needs CEPH_CONF"; return
    fi
}

# Cases that may share a boot must agree on everything the target depends on.
group_key() {
    echo "$CASE_GROUP|$CASE_TARGETS|$CASE_NS_SIZES|$CASE_PERSISTENT|$CASE_GRPC|$CASE_NEEDS|$CASE_GATEWAYS|$CASE_KERNEL|$CASE_TLSHD"
}

# ----------------------------------------------------------------------------
# Ports, namespaces, gateway
# ----------------------------------------------------------------------------
PICKED_PORTS=" "
free_port() {
    local p
    for _ in $(seq 100); do
        if command -v python3 >/dev/null; then
            p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        else
            p=$(( 20000 + RANDOM % 30000 ))
            ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || continue
        fi
        [[ "$PICKED_PORTS" == *" $p "* ]] && continue
        PICKED_PORTS+="$p "
        echo "$p"; return 0
    done
    return 1
}

to_bytes() {
    local v=$1 n=${1%[KkMmGgTt]}
    case "$v" in
        *[Kk]) echo $((n << 10)) ;; *[Mm]) echo $((n << 20)) ;;
        *[Gg]) echo $((n << 30)) ;; *[Tt]) echo $((n << 40)) ;; *) echo "$v" ;;
    esac
}

# ns_spec GROUP INDEX SIZE PERSISTENT -> the gateway's --namespace SPEC
ns_spec() {
    local grp=$1 i=$2 size=$3 persistent=$4 backend=$E2E_BACKEND
    [ "$backend" != memory ] || [ "$persistent" != yes ] || backend=file
    case "$backend" in
        memory) echo "memory:$size" ;;
        file)
            local f=$WORK/$grp-ns$i.img
            rm -f "$f"; truncate -s "$size" "$f"
            echo "file:$f:$size" ;;
        rbd)
            local img=$E2E_RBD_POOL/e2e-$grp-ns$i-$$
            rbd pool stats "$E2E_RBD_POOL" >/dev/null 2>&1 || {
                ceph osd pool create "$E2E_RBD_POOL" 8 >/dev/null 2>&1; rbd pool init "$E2E_RBD_POOL"; } >&2
            rbd create --size "$(( $(to_bytes "$size") >> 20 ))" "$img" >&2 || return 1
            echo "$img" >> "$WORK/rbd-images"
            echo "rbd:$img" ;;
        *) log "unknown E2E_BACKEND '$backend'"; return 1 ;;
    esac
}

GW_ARGS=()
GW_EXTRA_ARGS=()   # the guest's "gateway-args ARGS...": for the next starts of this group
GW_LOG=
GW_STARTS=0
# Starts the gateway with GW_ARGS, waits until it listens on every address.
gateway_start() {
    GW_STARTS=$((GW_STARTS + 1))
    echo "==== start #$GW_STARTS at $(date +%T): $GATEWAY_CMD ${GW_ARGS[*]} ${GW_EXTRA_ARGS[*]}" >> "$GW_LOG"
    # shellcheck disable=SC2086  # E2E_GATEWAY may carry its own arguments
    $GATEWAY_CMD "${GW_ARGS[@]}" "${GW_EXTRA_ARGS[@]}" >>"$GW_LOG" 2>&1 </dev/null &
    GW_PID=$!
    local want=$GW_LISTENERS got t0=$SECONDS
    while :; do
        # count the "listening on" (GW_READY_RE) lines written since this start
        got=$(awk -v n="==== start #$GW_STARTS " -v re="${GW_READY_RE:-listening on}" 'index($0, n) == 1 { on = 1; c = 0; next }
                 on && $0 ~ re { c++ } END { print c + 0 }' "$GW_LOG")
        [ "$got" -lt "$want" ] || break
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            wait "$GW_PID"; local rc=$?
            GW_PID=
            echo "gateway exited with status $rc before listening"
            return 1
        fi
        if [ $((SECONDS - t0)) -ge 30 ]; then
            echo "gateway not listening on all $want addresses after 30 s ($got so far)"
            return 1
        fi
        sleep 0.1
    done
    echo "gateway pid $GW_PID listening ($want listeners) after $((SECONDS - t0)) s"
}

# gateway_stop SIGNAL: stop it, print how it ended; non-zero if a TERM stop
# was not clean (timeout or non-zero exit status).
gateway_stop() {
    local sig=${1:-TERM} rc
    [ -n "$GW_PID" ] || { echo "gateway not running"; return 0; }
    echo "==== SIG$sig sent at $(date -u +%FT%T.%3NZ)" >> "$GW_LOG"   # (the gateway's clock and format: timelines)
    kill -"$sig" "$GW_PID" 2>/dev/null
    # (stderr off: bash would report the killed job as "... Killed ...")
    { for _ in $(seq 150); do kill -0 "$GW_PID" || break; sleep 0.1; done; } 2>/dev/null
    if kill -0 "$GW_PID" 2>/dev/null; then
        kill -KILL "$GW_PID"; { wait "$GW_PID"; } 2>/dev/null
        GW_PID=
        echo "gateway did not exit within 15 s of SIG$sig (killed)"
        return 1
    fi
    { wait "$GW_PID"; rc=$?; } 2>/dev/null      # (no "Killed" job message)
    GW_PID=
    echo "gateway stopped by SIG$sig, exit status $rc"
    echo "==== stopped by SIG$sig at $(date +%T), exit status $rc" >> "$GW_LOG"
    [ "$sig" != TERM ] || [ "$rc" = 0 ]
}

# ----------------------------------------------------------------------------
# Requests from the guest (files in the shared directory, see host_request
# in lib/guest-lib.sh).
# ----------------------------------------------------------------------------
serve_requests() {
    local dir=$SHARE/requests f id rc
    for f in "$dir"/*.req; do
        [ -e "$f" ] || return 0
        id=${f##*/}; id=${id%.req}
        local words=()
        mapfile -t words < "$f"
        rm -f "$f"
        local case=${words[0]}; words=("${words[@]:1}")
        log "guest request from $case: ${words[*]}"
        rc=0
        {
            case "${words[0]}" in
                gateway-kill)  gateway_stop "${words[1]:-KILL}" || rc=$? ;;
                gateway-stop)  gateway_stop TERM || rc=$? ;;
                gateway-start) gateway_start || rc=$? ;;
                gateway-args)  GW_EXTRA_ARGS=("${words[@]:1}"); echo "next gateway starts add: ${GW_EXTRA_ARGS[*]}" ;;
                gateway-alive) if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then echo yes; else echo no; rc=1; fi ;;
                gw) mg_request "${words[@]:1}" || rc=$? ;;
                gateway-log-grep) grep -E -- "${words[1]}" "$GW_LOG" || rc=$? ;;
                gateway-log-grep-current)   # only what the running gateway logged
                    awk -v n="==== start #$GW_STARTS " 'index($0, n) == 1 { on = 1; next } on' "$GW_LOG" \
                        | grep -E -- "${words[1]}" || rc=$? ;;
                gwcli)
                    if [ -x "${GWCLI_CMD%% *}" ]; then
                        # shellcheck disable=SC2086
                        $GWCLI_CMD --server-address 127.0.0.1 --server-port "$GRPC_PORT" "${words[@]:1}" 2>&1 || rc=$?
                    else
                        echo "no gwcli"; rc=77
                    fi ;;
                sleep) sleep "${words[1]}" ;;
                *)
                    ( load_case_meta "$case" >/dev/null
                      if declare -F host_action >/dev/null; then host_action "${words[@]}"
                      else echo "unknown host request '${words[0]}'"; exit 2; fi ) || rc=$? ;;
            esac
        } > "$dir/$id.out.tmp" 2>&1
        sed 's/^/run-e2e:   | /' "$dir/$id.out.tmp" >&2
        mv "$dir/$id.out.tmp" "$dir/$id.out"
        echo "$rc" > "$dir/$id.rc.tmp" && mv "$dir/$id.rc.tmp" "$dir/$id.rc"
    done
}

# ----------------------------------------------------------------------------
# One boot group
# ----------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0
RESULTS=()
report() { # report PASS|FAIL|SKIP|XFAIL NAME DETAIL
    RESULTS+=("$(printf '%-5s %-16s %s' "$1" "$2" "$3")")
    echo "$(printf '%-5s %-16s %s' "$1" "$2" "$3")"
    case "$1" in PASS) PASSED=$((PASSED + 1)) ;; FAIL) FAILED=$((FAILED + 1)) ;; SKIP|XFAIL) SKIPPED=$((SKIPPED + 1)) ;; esac
}

show_failure_context() { # show_failure_context CASE
    local console=$1
    echo "----- console of case $2 ($console) -----"
    awk -v b="@@E2E-BEGIN:$2@@" -v e="@@E2E-RESULT:$2:" \
        'index($0, b) { on = 1 } on { print } index($0, e) { on = 0 }' "$console" | tail -150
    local l
    for l in $([ "$MG_N" -gt 0 ] && echo "${MG_LOGS[@]:1}" || echo "$GW_LOG"); do
        [ -s "$l" ] || continue
        echo "----- gateway log, last 60 lines ($l) -----"
        tail -60 "$l"
    done
    echo "-----"
}

run_group() { # run_group NAME CASE...
    local grp=$1; shift
    local cases=("$@") c t0=$(now)
    local gdir=$WORK/$grp
    mkdir -p "$gdir"
    SHARE=$gdir/share; mkdir -p "$SHARE/requests"
    GW_LOG=$gdir/gateway.log; : > "$GW_LOG"
    GW_STARTS=0
    local console=$gdir/console.log

    load_case_meta "${cases[0]}"
    local uses_target=yes multi=no
    [[ " $CASE_TARGETS " != *" none "* ]] || uses_target=no
    [ "$CASE_GATEWAYS" -le 1 ] || multi=yes
    GW_READY_RE= MG_N=0 GW_EXTRA_ARGS=()
    local vm_env=() vm_cache=${NVME_VM_CACHE:-$HOME/.cache/nvmeof-gateway/nvme-vm}
    if [ -n "$CASE_KERNEL" ]; then
        vm_cache+=-$CASE_KERNEL
        vm_env=(NVME_VM_KSERIES="$CASE_KERNEL" NVME_VM_CACHE="$vm_cache")
    fi
    if [ "$CASE_TLSHD" = yes ]; then
        vm_env+=(NVME_VM_TLSHD=1 NVME_VM_CACHE="$vm_cache-tlshd")
    fi

    # Ports and the subsystem.
    IO_PORT=$(free_port) DISC_PORT=$(free_port) GRPC_PORT=$(free_port)
    [ "$E2E_TARGET" != guest-nvmet ] || DISC_PORT=$IO_PORT  # nvmet serves discovery on its I/O port
    local nqn=$NQN_BASE-$grp sizes_b="" size i=0
    local vm_args=(--cpus 2 --mem 1024 --share "$SHARE")
    GW_ARGS=(--listen "127.0.0.1:$IO_PORT" --discovery "127.0.0.1:$DISC_PORT"
             --reactors "${E2E_REACTORS:-2}" --log-level "${E2E_LOG_LEVEL:-info}"
             --subsystem "$nqn")
    GW_LISTENERS=2
    for size in $CASE_NS_SIZES; do
        i=$((i + 1))
        sizes_b+="$(to_bytes "$size") "
        if [ "$uses_target" = yes ] && [ "$E2E_TARGET" = gateway ] && [ "$multi" = no ]; then
            local spec
            spec=$(ns_spec "$grp" "$i" "$size" "$CASE_PERSISTENT") || {
                for c in "${cases[@]}"; do report FAIL "$c" "(cannot create namespace backing)"; done; return; }
            GW_ARGS+=(--namespace "$spec")
        fi
    done
    # --grpc prints "grpc listening on ADDR:PORT" when ready: one more line to wait for.
    if [ "$CASE_GRPC" = yes ]; then GW_ARGS+=(--grpc "127.0.0.1:$GRPC_PORT"); GW_LISTENERS=3
    elif grep -q -- '--grpc' <<<"$("${GATEWAY_CMD%% *}" --help 2>&1)"; then GW_ARGS+=(--grpc none); fi
    if [ -n "${CEPH_CONF:-}" ] && [ "$E2E_TARGET" = gateway ] \
        && grep -q -- '--ceph-conf' <<<"$("${GATEWAY_CMD%% *}" --help 2>&1)"; then
        GW_ARGS+=(--ceph-conf "$CEPH_CONF")
    fi

    # Several gateways (lib/multi-gw.sh): started and configured before the guest script is written.
    if [ "$multi" = yes ]; then
        export CEPH_CONF
        echo "== group $grp: setting up $CASE_GATEWAYS gateways"
        if ! mg_setup "$gdir" "$CASE_GATEWAYS" "$nqn" "${CASE_NS_SIZES%% *}" > "$gdir/start.out" 2>&1; then
            cat "$gdir/start.out"
            for c in "${cases[@]}"; do report FAIL "$c" "(gateways could not be set up)"; done
            show_failure_context /dev/null setup
            mg_cleanup
            return
        fi
        log "$(cat "$gdir/start.out")"
        IO_PORT=${MG_IO_PORTS[1]} GRPC_PORT=${MG_GRPC_PORTS[1]}
    fi

    # Guest script: environment, library, the cases' guest() functions, main.
    local script=$gdir/guest.sh
    {
        echo "# generated by run-e2e.sh for group $grp"
        printf 'export E2E_HOST=10.0.2.2 E2E_IO_PORT=%s E2E_DISC_PORT=%s E2E_NQN=%q\n' \
            "$IO_PORT" "$DISC_PORT" "$nqn"
        printf 'export E2E_IO_PORTS=%q E2E_GATEWAYS=%q\n' "${MG_IO_PORTS[*]:1:$MG_N}" "$CASE_GATEWAYS"
        # the cases' knobs (E2E_HA_SEED, E2E_BENCH_KILLS, ...)
        for v in $(compgen -v | grep -E '^E2E_(HA|BENCH)_'); do printf 'export %s=%q\n' "$v" "${!v}"; done
        printf 'export E2E_NS_SIZES=%q E2E_TARGET=%q E2E_BACKEND=%q\n' \
            "${sizes_b% }" "$([ "$uses_target" = yes ] && echo "$E2E_TARGET" || echo none)" "$E2E_BACKEND"
        cat "$E2E_DIR/lib/guest-lib.sh"
        for c in "${cases[@]}"; do
            ( load_case_meta "$c"; declare -f guest | sed "1s/^guest /e2e_case_${c//-/_} /" )
        done
        echo "e2e_main ${cases[*]}"
    } > "$script"
    local timeout
    timeout=$(for c in "${cases[@]}"; do ( load_case_meta "$c"; echo "$CASE_TIMEOUT" ); done \
              | awk '{ s += $1 } END { print s + 60 }')
    vm_args+=(--timeout "$timeout")
    if [ "$uses_target" = yes ] && [ "$E2E_TARGET" = guest-nvmet ]; then
        vm_args+=(--hostfwd "$IO_PORT:$IO_PORT")
    fi
    # shellcheck disable=SC2206
    vm_args+=(${E2E_VM_ARGS:-})

    echo "== group $grp: ${cases[*]} (target $([ "$uses_target" = yes ] && echo "$E2E_TARGET" || echo none); io port $IO_PORT, discovery port $DISC_PORT)"

    # The target.
    GW_PID=
    if [ "$uses_target" = yes ] && [ "$E2E_TARGET" = gateway ] && [ "$multi" = no ]; then
        export CEPH_CONF
        if ! gateway_start > "$gdir/start.out" 2>&1; then
            cat "$gdir/start.out"
            echo "----- gateway log ($GW_LOG) -----"; tail -40 "$GW_LOG"; echo "-----"
            for c in "${cases[@]}"; do report FAIL "$c" "(gateway did not start)"; done
            gateway_stop KILL >/dev/null 2>&1
            return
        fi
        log "$(cat "$gdir/start.out")"
    fi

    # The VM.  Its console is read here line by line (results, per-case
    # sections) while the shared directory is polled for guest requests.
    local results=$gdir/results line buf="" rc
    : > "$results"
    : > "$console"
    exec {vmfd}< <(exec env "${vm_env[@]}" "$NVME_VM" "${vm_args[@]}" --script "$script" 2>&1)
    VM_PID=$!
    while :; do
        if IFS= read -r -t 0.3 -u "$vmfd" line; then
            line=$buf$line; buf=
            printf '%s\n' "$line" >> "$console"
            case "$line" in
                *"@@E2E-RESULT:"*)
                    line=${line#*@@E2E-RESULT:}; echo "${line%%@@*}" >> "$results" ;;
                *"@@E2E-BEGIN:"*) ;;
                "nvme-vm: "*|"run-e2e: "*) log "${line}" ;;
            esac
        else
            rc=$?
            if [ "$rc" -gt 128 ]; then buf+=$line; else break; fi   # timeout vs EOF
        fi
        serve_requests
    done
    exec {vmfd}<&-
    local vm_rc=0
    wait "$VM_PID" || vm_rc=$?
    VM_PID=

    # Stop the target; an unclean stop is a failure of the group.
    local stop_msg="" stop_ok=yes
    if [ "$multi" = yes ]; then
        for i in $(seq "$MG_N"); do
            kill -CONT "${MG_PIDS[$i]:-0}" 2>/dev/null    # (a frozen one is a failure below anyway)
            if [ -z "${MG_PIDS[$i]:-}" ] || ! kill -0 "${MG_PIDS[$i]}" 2>/dev/null; then
                stop_msg+="gw$i was not running at the end; "; stop_ok=no; MG_PIDS[$i]=
            elif ! mg_stop "$i" TERM > "$gdir/stop.out" 2>&1; then
                stop_msg+="gw$i: $(cat "$gdir/stop.out"); "; stop_ok=no
            fi
            ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "${MG_LOGS[$i]}" \
                || { stop_msg+="sanitizer report in ${MG_LOGS[$i]}; "; stop_ok=no; }
        done
        [ "$stop_ok" = no ] || stop_msg="all $MG_N gateways stopped cleanly by SIGTERM"
        log "$stop_msg"
    elif [ "$uses_target" = yes ] && [ "$E2E_TARGET" = gateway ]; then
        if [ -z "$GW_PID" ]; then
            stop_msg="gateway was not running at the end"; stop_ok=no
        elif ! kill -0 "$GW_PID" 2>/dev/null; then
            wait "$GW_PID"; stop_msg="gateway had exited (status $?) before the end"; GW_PID=; stop_ok=no
        else
            # not $(...): the gateway must be waited for by this shell
            gateway_stop TERM > "$gdir/stop.out" 2>&1 || stop_ok=no
            stop_msg=$(cat "$gdir/stop.out")
        fi
        if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$GW_LOG"; then
            stop_msg+="; sanitizer report in the gateway log"; stop_ok=no
        fi
        log "$stop_msg"
    fi

    # Per-case results.
    local r rcase rrc rsec failed_check case_failed=no
    for c in "${cases[@]}"; do
        load_case_meta "$c"
        r=$(grep -m1 "^$c:" "$results" || true)
        if [ -z "$r" ]; then
            report FAIL "$c" "(no result from the guest: nvme-vm exit $vm_rc, timeout ${timeout}s?)"
            show_failure_context "$console" "$c"; case_failed=yes
            continue
        fi
        IFS=: read -r rcase rrc rsec <<< "$r"
        case "$rrc" in
            0)  report PASS "$c" "(${rsec} s${CASE_XFAIL_CHECK:+; expected failure fixed: drop CASE_XFAIL_CHECK from cases/$c.sh})" ;;
            77) report SKIP "$c" "($(awk -v b="@@E2E-BEGIN:$c@@" 'index($0, b) { on = 1 } on && /SKIP:/ { sub(/.*SKIP: /, ""); print; exit }' "$console"))" ;;
            *)  failed_check=$(grep -m1 -o "@@E2E-CHECK-FAILED:$c:[^@]*" "$console" | sed "s/@@E2E-CHECK-FAILED:$c://" || true)
                show_failure_context "$console" "$c"
                if [ -n "$CASE_XFAIL_CHECK" ] && [ "${E2E_STRICT:-0}" != 1 ] && [ -n "$failed_check" ] \
                    && printf '%s\n' "$failed_check" | grep -Eq -- "$CASE_XFAIL_CHECK"; then
                    report XFAIL "$c" "(${rsec} s, known: $failed_check; $CASE_XFAIL_REASON)"
                else
                    report FAIL "$c" "(${rsec} s, exit $rrc: $failed_check)"; case_failed=yes
                fi ;;
        esac
    done
    if [ "$stop_ok" = no ]; then
        report FAIL "$grp/shutdown" "($stop_msg)"
        if [ "$case_failed" = no ]; then
            echo "----- gateway log, last 40 lines ($GW_LOG) -----"; tail -40 "$GW_LOG"; echo "-----"
        fi
    fi
    echo "== group $grp took $(elapsed "$t0" "$(now)") s (boot + cases + shutdown)"
}

# ----------------------------------------------------------------------------
# Main: skip what cannot run, batch the rest into boot groups.
# ----------------------------------------------------------------------------
T0=$(now)
if ! "$NVME_VM" --build-only; then
    echo "run-e2e: could not build the nvme-vm cache" >&2
    exit 1
fi

pending=() pending_key= pending_grp=
flush() {
    [ ${#pending[@]} -eq 0 ] || run_group "$pending_grp" "${pending[@]}"
    pending=() pending_key= pending_grp=
}
for c in "${CASES[@]}"; do
    load_case_meta "$c"
    reason=$(skip_reason)
    if [ -n "$reason" ]; then
        report SKIP "$c" "($reason)"
        continue
    fi
    key=$(group_key) grp=$CASE_GROUP
    [ "${E2E_SPLIT:-0}" != 1 ] || grp=$c
    if [ "${E2E_SPLIT:-0}" = 1 ] || [ "$key" != "$pending_key" ]; then
        flush       # (run_group reloads other cases' CASE_* variables)
        pending_key=$key
        pending_grp=$grp
    fi
    pending+=("$c")
done
flush

echo
echo "e2e summary (target $E2E_TARGET, backend $E2E_BACKEND, $(elapsed "$T0" "$(now)") s):"
printf '  %s\n' "${RESULTS[@]}"
[ "$FAILED" = 0 ] || KEEP_WORK=1
echo "e2e: $PASSED passed, $FAILED failed, $SKIPPED skipped"
if [ "$FAILED" -gt 0 ]; then exit 1; fi
if [ "$PASSED" = 0 ] && [ "$SKIPPED" -gt 0 ]; then exit 77; fi
exit 0
