# multi-gw.sh - host side of the multi-gateway (HA) e2e cases, sourced by
# run-e2e.sh (and tests/bench/bench-failover.sh through it).
#
# A case with CASE_GATEWAYS=N (N >= 2) gets N gateways with `[gateway] ha =
# builtin`, each with its own name (gw1..gwN), configuration file, gRPC,
# discovery and I/O port, all in one gateway group (state pool E2E_RBD_POOL,
# group e2e<boot group>x<pid>) of the Ceph cluster at CEPH_CONF.  mg_setup starts them
# one after the other (so gwI registers with home ANA group I; a case may add
# [gateway] lines per gateway with a case_gateway_conf I function), then creates
# through gwcli on gw1: the subsystem (any host), one RBD namespace per
# gateway with load-balancing group I (so every home group has one) and one
# listener per gateway (-t gwI, created through gwI: another gateway answers
# EREMOTE); the others get them through the group state.
#
# The current gateway of run-e2e.sh's gateway_start/gateway_stop (GW_PID,
# GW_LOG, GW_ARGS, GW_STARTS) is switched with mg_use I / mg_save I, so the
# same functions start and stop each of them.
#
# Guest requests (host_request gw WORD N ...), see mg_request:
#   kill N | freeze N | cont N | term N | start N   SIGKILL, SIGSTOP, SIGCONT,
#       SIGTERM (clean exit required), start again with the same arguments
#   blocklist N       ceph osd blocklist add of every address of gwN's member
#                     record (omap gw_gwN of nvmeof.<group>.ha.members)
#   (kill ... blocklist take several gateways: done one after the other at once)
#   mark              remember `ceph osd blocklist ls`, every member record's
#                     addresses and the length of every gateway's log
#   bl-new-is N       the entries added since the mark are exactly gwN's member
#                     record addresses (as they were at the mark)
#   log-new N ERE     lines of gwN's log written since the mark matching ERE
#   lease G           name of the gateway holding ANA group G's lease
#   alive N           yes/no

MG_N=0
MG_PIDS=() MG_LOGS=() MG_STARTS=() MG_IO_PORTS=() MG_GRPC_PORTS=() MG_CONFS=()
MG_GROUP=
MG_NQN=

mg_name() { echo "gw$1"; }

# Extra [gateway] lines of gateway I: what the case's case_gateway_conf I prints, if it has one.
mg_gateway_conf() { if declare -F case_gateway_conf >/dev/null; then case_gateway_conf "$1"; fi; }

mg_use() { # mg_use I: make gateway I run-e2e's current gateway
    GW_PID=${MG_PIDS[$1]:-} GW_LOG=${MG_LOGS[$1]} GW_STARTS=${MG_STARTS[$1]:-0}
    GW_ARGS=(--config "${MG_CONFS[$1]}") GW_LISTENERS=1 GW_READY_RE=' ready$'
}
mg_save() { MG_PIDS[$1]=$GW_PID MG_STARTS[$1]=$GW_STARTS; }

mg_start() { local rc=0; mg_use "$1"; gateway_start || rc=$?; mg_save "$1"; return $rc; }
mg_stop() { local rc=0; mg_use "$1"; gateway_stop "$2" || rc=$?; mg_save "$1"; return $rc; }

# Every gateway still running: SIGCONT (a frozen one cannot exit), SIGTERM.
mg_cleanup() {
    local i n   # (no word splitting here: this runs from the EXIT trap, maybe inside "IFS= read")
    for ((i = 1; i <= MG_N; i++)); do
        [ -n "${MG_PIDS[$i]:-}" ] || continue
        kill -CONT "${MG_PIDS[$i]}" 2>/dev/null
        kill -TERM "${MG_PIDS[$i]}" 2>/dev/null
    done
    for ((i = 1; i <= MG_N; i++)); do
        [ -n "${MG_PIDS[$i]:-}" ] || continue
        for ((n = 0; n < 100; n++)); do kill -0 "${MG_PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${MG_PIDS[$i]}" 2>/dev/null
        MG_PIDS[$i]=
    done
}

mg_gwcli() { # mg_gwcli I ARGS...: gwcli against gateway I
    local i=$1; shift
    # shellcheck disable=SC2086
    $GWCLI_CMD --server-address 127.0.0.1 --server-port "${MG_GRPC_PORTS[$i]}" "$@"
}

# mg_setup GDIR N NQN SIZE: configuration files, gateways, subsystem; prints
# progress; non-zero when something could not be set up.
mg_setup() {
    local gdir=$1 size=$4 i
    # (one gateway group and one set of images per boot group of this run)
    MG_N=$2 MG_NQN=$3 MG_GROUP=e2e$(basename "$gdir" | tr -cd 'a-z0-9')x$$
    [ "$size" != "" ] || size=64M
    rbd pool stats "$E2E_RBD_POOL" >/dev/null 2>&1 || {
        ceph osd pool create "$E2E_RBD_POOL" 8 >/dev/null 2>&1; rbd pool init "$E2E_RBD_POOL"; } >&2
    for i in $(seq "$MG_N"); do
        MG_IO_PORTS[$i]=$(free_port) MG_GRPC_PORTS[$i]=$(free_port)
        local disc; disc=$(free_port)
        MG_LOGS[$i]=$gdir/gateway$i.log; : > "${MG_LOGS[$i]}"
        MG_CONFS[$i]=$gdir/gw$i.conf
        cat > "${MG_CONFS[$i]}" <<EOF
[gateway]
name = $(mg_name "$i")
group = $MG_GROUP
addr = 127.0.0.1
port = ${MG_GRPC_PORTS[$i]}
enable_prometheus_exporter = False
state_update_interval_sec = 2
ha = builtin
ha_lease_ms = ${E2E_HA_LEASE_MS:-2000}
ha_failback_delay_ms = ${E2E_HA_FAILBACK_DELAY_MS:-0}
$(mg_gateway_conf "$i")

[gateway-logs]
log_level = ${E2E_LOG_LEVEL:-info}

[discovery]
addr = 127.0.0.1
port = $disc

[ceph]
pool = $E2E_RBD_POOL
config_file = $CEPH_CONF

[data-plane]
reactors = ${E2E_REACTORS:-2}
EOF
    done
    # One after the other: gwI registers with home ANA group I.
    for i in $(seq "$MG_N"); do
        mg_start "$i" || { echo "gw$i did not start"; tail -20 "${MG_LOGS[$i]}"; return 1; }
        grep -h 'ha: builtin' "${MG_LOGS[$i]}" | tail -1
    done
    mg_gwcli 1 subsystem add -n "$MG_NQN" --no-group-append || return 1
    mg_gwcli 1 host add -n "$MG_NQN" -t '*' || return 1
    for i in $(seq "$MG_N"); do
        local img=$MG_GROUP-ns$i
        rbd create --size "$(( $(to_bytes "$size") >> 20 ))" "$E2E_RBD_POOL/$img" || return 1
        echo "$E2E_RBD_POOL/$img" >> "$WORK/rbd-images"
        mg_gwcli 1 namespace add -n "$MG_NQN" --nsid "$i" -p "$E2E_RBD_POOL" -i "$img" -l "$i" || return 1
    done
    for i in $(seq "$MG_N"); do
        mg_gwcli "$i" listener add -n "$MG_NQN" -t "$(mg_name "$i")" -a 127.0.0.1 -s "${MG_IO_PORTS[$i]}" -f ipv4 || return 1
    done
    # Each gateway opens its listener (from the group state) and owns its home group.
    local t0=$SECONDS
    for i in $(seq "$MG_N"); do
        until grep -q "listening on 127.0.0.1:${MG_IO_PORTS[$i]}" "${MG_LOGS[$i]}"; do
            [ $((SECONDS - t0)) -lt 60 ] || { echo "gw$i: no listener on ${MG_IO_PORTS[$i]} after 60 s"; return 1; }
            sleep 0.2
        done
        until [ "$(mg_lease_holder "$i")" = "$(mg_name "$i")" ]; do
            [ $((SECONDS - t0)) -lt 60 ] || { echo "gw$i does not own ANA group $i after 60 s"; return 1; }
            sleep 0.2
        done
    done
    echo "gateways gw1..gw$MG_N up: I/O ports ${MG_IO_PORTS[*]:1}, group $MG_GROUP, namespaces 1..$MG_N in ANA groups 1..$MG_N"
}

# Name of the gateway holding ANA group G's lease ("" if nobody).
mg_lease_holder() {
    rados -p "$E2E_RBD_POOL" lock info "nvmeof.$MG_GROUP.ha.ana.$1" ha_lease 2>/dev/null |
        jq -r '.lockers[0].cookie // "" | split("/")[0]' 2>/dev/null
}

# Addresses in gateway I's member record, one per line.
mg_member_addresses() {
    local f; f=$(mktemp)
    rados -p "$E2E_RBD_POOL" getomapval "nvmeof.$MG_GROUP.ha.members" "gw_$(mg_name "$1")" "$f" >/dev/null 2>&1 || { rm -f "$f"; return 1; }
    jq -r '.addresses[]' "$f"; rm -f "$f"
}

mg_blocklist_ls() { ceph osd blocklist ls 2>/dev/null | awk '/^listed/ { next } NF { print $1 }' | sort -u; }

mg_request() { # mg_request WORD [N... | N ARGS...]
    local w=$1 i rc=0; shift
    case "$w" in
        kill|freeze|cont|term|start|blocklist|alive|log-new|bl-new-is)
            [ $# -gt 0 ] || { echo "gw $w: which gateway?"; return 2; }
            for i in "$@"; do
                [ "$w" != log-new ] || [ "$i" = "$1" ] || break
                [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$MG_N" ] || { echo "no gateway '$i'"; return 2; }
            done ;;
    esac
    case "$w" in
        kill|term|start|freeze|cont|blocklist|alive)    # each gateway named, in order
            for i in "$@"; do mg_event "$w" "$i" || rc=$?; done
            return $rc ;;
        mark)   # blocklist, member addresses and log lengths now, for bl-new-is and log-new
            mg_blocklist_ls > "$WORK/mg-bl-mark"
            for i in $(seq "$MG_N"); do
                mg_member_addresses "$i" | sort > "$WORK/mg-addr-$i"
                wc -l < "${MG_LOGS[$i]}" > "$WORK/mg-log-mark-$i"
            done ;;
        bl-new-is)  # N: the blocklist entries added since the mark are exactly gwN's addresses then
            local new want
            new=$(mg_blocklist_ls | comm -13 "$WORK/mg-bl-mark" -)
            want=$(cat "$WORK/mg-addr-$1")
            echo "new blocklist entries: $(echo $new)"
            echo "gw$1's member record:  $(echo $want)"
            [ -n "$want" ] && [ "$new" = "$want" ] ;;
        log-new)    # N ERE: lines of gwN's log since the mark that match
            tail -n +"$(( $(cat "$WORK/mg-log-mark-$1" 2>/dev/null || echo 0) + 1 ))" "${MG_LOGS[$1]}" | grep -E -- "$2" ;;
        lease)  mg_lease_holder "$1" ;;
        *) echo "unknown gw request '$w'"; return 2 ;;
    esac
}

mg_event() { # mg_event WORD I
    local i=$2
    case "$1" in
        kill)   mg_stop "$i" KILL ;;
        term)   mg_stop "$i" TERM ;;
        freeze) kill -STOP "${MG_PIDS[$i]}" && echo "==== SIGSTOP at $(date +%T)" >> "${MG_LOGS[$i]}" && echo "gw$i frozen" ;;
        cont)   kill -CONT "${MG_PIDS[$i]}" && echo "==== SIGCONT at $(date +%T)" >> "${MG_LOGS[$i]}" && echo "gw$i resumed" ;;
        start)  mg_start "$i" ;;
        alive)  if [ -n "${MG_PIDS[$i]:-}" ] && kill -0 "${MG_PIDS[$i]}" 2>/dev/null; then echo yes; else echo no; return 1; fi ;;
        blocklist)
            local a n=0
            for a in $(mg_member_addresses "$i"); do
                ceph osd blocklist add "$a" 2>&1 || return 1
                n=$((n + 1))
            done
            [ "$n" -gt 0 ] || { echo "no addresses in gw$i's member record"; return 1; }
            echo "==== blocklisted from outside at $(date +%T): $n addresses" >> "${MG_LOGS[$i]}" ;;
    esac
}
