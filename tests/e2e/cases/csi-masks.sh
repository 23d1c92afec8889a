# csi-masks: ceph-csi's provisioning sequence WITH a network mask and a RADOS
# namespace, on a two-gateway group (lib/multi-gw.sh): no create_listener;
# every gateway opens auto-listeners on its own addresses inside the
# subsystem's masks, on the subsystem's port.  Both gateways run on this
# machine, so [gateway] auto_listener_addresses keeps them apart: gw1
# considers 127.0.0.1 only (the guest reaches it at 10.0.2.2), gw2 the
# machine's first non-loopback IPv4 address only (the guest reaches it
# directly through QEMU user networking); both listen on the same port.  The
# subsystem is created with mask 127.0.0.0/8 (gw1 opens 127.0.0.1:P), then
# `subsystem add_network ADDR/32` reaches gw2 through the group state (gw2
# opens ADDR:P).  gw2 publishes its auto-listener in the group state: ceph-csi
# asks `listener list` of gw1 only, gets gw2's ADDR:P too, and the host
# connects to gw2 at the address learned that way; a discovery log read
# through gw1 lists it as well.  The host connects to both (native multipath), finds the
# disk by /dev/disk/by-id/nvme-uuid.<UUID of list_namespaces> (the head's
# wwid, what udev names the link after: the guest has no udev); `rbd resize`
# of the image (grow) while connected is then seen through each gateway's
# controller (nvme id-ns on each controller, each path's sysfs size) and on
# the multipath head.  Then ceph-csi's deletion.  Skips when the machine has
# no non-loopback IPv4 address.
CASE_DESC="ceph-csi with a network mask + RADOS namespace on 2 gateways: auto-listeners, multipath, rbd resize seen through each gateway"
CASE_GROUP=csi-masks
CASE_GATEWAYS=2
CASE_NS_SIZES="64M"
CASE_TARGETS=gateway
CASE_NEEDS="ceph gwcli"
CASE_TIMEOUT=300

MASKS_NQN=nqn.2016-06.io.nvmeof-gateway:csi-vol-masks
MASKS_RNS=csimasks   # (guest() spells both out: only the function reaches the guest)

# The machine's first non-loopback IPv4 address (empty: none).
masks_host_ip() {
    { ip -4 -o addr show up 2>/dev/null | awk '{ sub("/.*", "", $4); print $4 }'
      hostname -I 2>/dev/null | tr ' ' '\n'; } | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | grep -v '^127\.' | head -1
}

# lib/multi-gw.sh: extra [gateway] lines of gateway I.
case_gateway_conf() {
    local ip
    ip=$(masks_host_ip)
    if [ "$1" = 1 ]; then echo "auto_listener_addresses = 127.0.0.1"
    else echo "auto_listener_addresses = ${ip:-::1}"; fi   # (::1: no IPv4 mask covers it)
}

# Runs on the host. Exit codes of gwcli are the reply's errno.
host_action() {
    expect_rc() { # want cmd...
        local want=$1 rc=0; shift
        "$@" >/tmp/csi-masks-out.$$ 2>&1 || rc=$?
        if [ "$rc" != "$want" ]; then
            echo "FAILED: $* -> exit $rc, wanted $want:"; cat /tmp/csi-masks-out.$$; rm -f /tmp/csi-masks-out.$$; exit 1
        fi
        rm -f /tmp/csi-masks-out.$$
    }
    # wait_listener I ADDR PORT: gateway I lists the auto-listener ADDR:PORT, active and not manual.
    wait_listener() {
        local t0=$SECONDS
        until mg_gwcli "$1" --output stdio --format json listener list -n "$MASKS_NQN" 2>/dev/null |
            jq -e --arg a "$2" --argjson p "$3" \
                '[.listeners[] | select(.traddr == $a and .trsvcid == $p and .active == true and .manual == false)] | length == 1' \
                >/dev/null; do
            [ $((SECONDS - t0)) -lt 60 ] || { echo "gw$1 does not list $2:$3 as an active auto-listener:";
                mg_gwcli "$1" --output stdio --format json listener list -n "$MASKS_NQN"; return 1; }
            sleep 0.5
        done
        echo "gw$1 lists the auto-listener $2:$3 (active, not manual)"
    }
    local pool=${E2E_RBD_POOL:-rbd}
    case $1 in
        masks-provision)
            local hostnqn=$2 ip port img
            ip=$(masks_host_ip)
            [ -n "$ip" ] || { echo "NO_HOST_IP"; return 0; }
            port=$(free_port) img=csi-masks-$$
            echo "$pool/$MASKS_RNS/$img" > "$WORK/csi-masks-image"
            rbd namespace create --pool "$pool" --namespace "$MASKS_RNS" 2>/dev/null ||
                rbd namespace ls --pool "$pool" | grep -qx "$MASKS_RNS" || { echo "rbd namespace create failed"; exit 1; }
            expect_rc 0  mg_gwcli 1 subsystem list
            expect_rc 0  mg_gwcli 1 subsystem add -n "$MASKS_NQN" -s "Ceph$RANDOM" --no-group-append \
                             --network-mask 127.0.0.0/8 -p "$port"
            expect_rc 17 mg_gwcli 1 subsystem add -n "$MASKS_NQN" -s "Ceph$RANDOM" --no-group-append \
                             --network-mask 127.0.0.0/8 -p "$port"
            expect_rc 0  mg_gwcli 1 namespace add -n "$MASKS_NQN" -p "$pool" --rados-namespace "$MASKS_RNS" \
                             -i "$img" --rbd-create-image --size 64M -s 4096
            expect_rc 0  mg_gwcli 1 subsystem add_network -n "$MASKS_NQN" --network-mask "$ip/32"
            mg_gwcli 1 --output stdio --format json subsystem list -n "$MASKS_NQN" |
                jq -e --arg m "$ip/32" '.subsystems[0].network_mask == ["127.0.0.0/8", $m]' >/dev/null ||
                { echo "FAILED: subsystem list does not show both masks"; exit 1; }
            wait_listener 1 127.0.0.1 "$port" || exit 1
            wait_listener 2 "$ip" "$port" || exit 1
            # ceph-csi asks one gateway where to connect: gw1 lists gw2's auto-listener too.
            wait_listener 1 "$ip" "$port" || exit 1
            mg_gwcli 1 --output stdio --format json listener list -n "$MASKS_NQN" |
                jq -r --arg a "$ip" '.listeners[] | select(.traddr == $a and .manual == false) |
                    "LEARNED=" + .traddr + ":" + (.trsvcid | tostring) + " FROM=" + .host_name'
            expect_rc 0  mg_gwcli 1 host add -n "$MASKS_NQN" -t "$hostnqn"
            expect_rc 17 mg_gwcli 1 host add -n "$MASKS_NQN" -t "$hostnqn"
            grep -h "Automatically created listener at" "${MG_LOGS[1]}" "${MG_LOGS[2]}"
            echo "PORT=$port"
            echo "IP=$ip"
            mg_gwcli 1 --output stdio --format json namespace list -n "$MASKS_NQN" |
                jq -r '"UUID=" + .namespaces[0].uuid + " RNS=" + .namespaces[0].rados_namespace_name'
            ;;
        masks-resize)   # MiB
            rbd resize --no-progress --size "$2M" "$(cat "$WORK/csi-masks-image")" || exit 1
            rbd info "$(cat "$WORK/csi-masks-image")" | grep -E '^\s*size' ;;
        masks-delete)
            local hostnqn=$2 rc=0
            expect_rc 0 mg_gwcli 1 host del -n "$MASKS_NQN" -t "$hostnqn"
            expect_rc 0 mg_gwcli 1 namespace del -n "$MASKS_NQN" --nsid 1
            rc=0; mg_gwcli 1 namespace del -n "$MASKS_NQN" --nsid 1 >/dev/null 2>&1 || rc=$?
            [ "$rc" = 2 ] || [ "$rc" = 19 ] || { echo "FAILED: second namespace del -> $rc, wanted ENOENT or ENODEV"; exit 1; }
            expect_rc 0 mg_gwcli 1 subsystem del -n "$MASKS_NQN"
            expect_rc 2 mg_gwcli 1 subsystem del -n "$MASKS_NQN"
            rbd rm --no-progress "$(cat "$WORK/csi-masks-image")" >/dev/null 2>&1 || true
            rbd namespace remove --pool "$pool" --namespace "$MASKS_RNS" >/dev/null 2>&1 || true
            echo "deleted" ;;
        *) echo "unknown request $1"; exit 2 ;;
    esac
}

guest() {
    local hostnqn out uuid port ip dev c n
    hostnqn=$(cat /etc/nvme/hostnqn)
    out=$(host_request masks-provision "$hostnqn") || { echo "$out"; check "ceph-csi provisioning with a network mask" false; }
    if printf '%s\n' "$out" | grep -q '^NO_HOST_IP'; then
        skip "the host machine has no non-loopback IPv4 address: the second gateway has no address of its own"
    fi
    uuid=$(printf '%s\n' "$out" | sed -n 's/^UUID=\([^ ]*\).*/\1/p' | tail -1)
    port=$(printf '%s\n' "$out" | sed -n 's/^PORT=//p' | tail -1)
    ip=$(printf '%s\n' "$out" | sed -n 's/^IP=//p' | tail -1)
    check "list_namespaces returned a UUID" test -n "$uuid"
    check "the namespace is in RADOS namespace csimasks" bash -c "printf '%s\n' \"\$1\" | grep -q 'RNS=csimasks'" _ "$out"
    say "auto-listeners: gw1 127.0.0.1:$port (10.0.2.2:$port from here), gw2 $ip:$port"
    check "connect through gw1's auto-listener" \
        nvme connect -t tcp -a "$E2E_HOST" -s "$port" -n nqn.2016-06.io.nvmeof-gateway:csi-vol-masks -l 1800
    # gw2's path as ceph-csi learns it: from gw1's list_listeners, and in gw1's discovery log.
    local learned
    learned=$(printf '%s\n' "$out" | sed -n 's/^LEARNED=\([^ ]*\).*/\1/p' | tail -1)
    say "gw1's list_listeners: $(printf '%s\n' "$out" | grep '^LEARNED=' | tail -1)"
    expect_eq "gw1's list_listeners has gw2's auto-listener" "$learned" "$ip:$port"
    check "the discovery log read through gw1 lists gw2's auto-listener" bash -c \
        "nvme discover -t tcp -a $E2E_HOST -s $port | grep -Eq 'traddr: +$ip\$'"
    check "connect through gw2's auto-listener, learned from gw1" \
        nvme connect -t tcp -a "${learned%:*}" -s "${learned##*:}" -n nqn.2016-06.io.nvmeof-gateway:csi-vol-masks -l 1800
    # (no udev in the guest: the head's wwid is what udev names /dev/disk/by-id/nvme-<wwid> after)
    dev=/dev/nvme0n1
    check "the multipath head appears" wait-dev "$dev" 20
    expect_eq "wwid (udev: /dev/disk/by-id/nvme-<wwid>)" "$(cat /sys/block/nvme0n1/wwid)" "uuid.$uuid"
    if [ -d /dev/disk/by-id ]; then check "/dev/disk/by-id/nvme-uuid.$uuid" test -b "/dev/disk/by-id/nvme-uuid.$uuid"; fi
    n=0
    for c in /sys/class/nvme/nvme*; do [ "$(cat "$c/state")" = live ] && n=$((n + 1)); done
    expect_eq "two live controllers (one per gateway)" "$n" 2
    expect_eq "one multipath head, 64 MiB" "$(blockdev --getsize64 "$dev")" $((64 << 20))

    check "host: rbd resize of the image to 96 MiB" host_request masks-resize 96
    local want=$((96 << 20)) t0 p
    t0=$(e2e_now)
    for c in /sys/class/nvme/nvme*; do
        c=${c##*/}
        for n in $(seq 150); do
            [ "$(( $(nvme id-ns "/dev/$c" -n 1 | nvme_field nsze) * 4096 ))" = "$want" ] && break
            sleep 0.2
        done
        expect_eq "$c ($(sed 's/,.*//' "/sys/class/nvme/$c/address")): id-ns nsze * 4096" \
            "$(( $(nvme id-ns "/dev/$c" -n 1 | nvme_field nsze) * 4096 ))" "$want"
        for p in /sys/class/nvme/"$c"/nvme*c*n*; do
            for n in $(seq 150); do
                [ "$(( $(cat "$p/size") * 512 ))" = "$want" ] && break
                sleep 0.2
            done
            expect_eq "path ${p##*/}: sysfs size" "$(( $(cat "$p/size") * 512 ))" "$want"
        done
    done
    say "every controller saw the new size after $(awk -v a="$t0" -v b="$(e2e_now)" 'BEGIN { printf "%.1f", b - a }') s"
    expect_eq "the multipath head grew" "$(blockdev --getsize64 "$dev")" "$want"
    check "write and read back the last MiB (past the old end)" bash -c \
        "dd if=/dev/urandom of=/tmp/tail bs=1M count=1 status=none &&
         dd if=/tmp/tail of=$dev bs=1M seek=95 oflag=direct status=none &&
         dd if=$dev bs=1M skip=95 count=1 iflag=direct status=none | cmp - /tmp/tail"
    check "disconnect" nvme disconnect -n nqn.2016-06.io.nvmeof-gateway:csi-vol-masks
    out=$(host_request masks-delete "$hostnqn") || { echo "$out"; check "ceph-csi deletion" false; }
}
