# rbd-resize: `rbd resize` of an image from outside while a host is
# connected: the gateway's update watch notices, the namespace grows, an
# Namespace Attribute Changed AEN makes the host rescan, and
# /sys/block/nvme0n2/size grows without a reconnect.  The new blocks are
# then written and read back.  Group rbd (see rbd-fio.sh); needs
# E2E_BACKEND=rbd and CEPH_CONF.
CASE_DESC="RBD: rbd resize from outside while connected -> host sees the new size within 15 s, no reconnect"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=120

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    check "connect" connect
    check "/dev/nvme0n2 present" wait-dev /dev/nvme0n2 10
    local old new cntlid lbs t0 n=0
    old=$(dev_bytes nvme0n2)
    lbs=$(cat /sys/block/nvme0n2/queue/logical_block_size)
    new=$((old + (32 << 20)))
    cntlid=$(cat /sys/class/nvme/nvme0/cntlid)
    say "nvme0n2: $old bytes; asking the host to rbd resize its image to $new"
    check "host: rbd resize to $new bytes" host_request rbd-resize 2 "$new"
    t0=$(e2e_now)
    while [ "$(dev_bytes nvme0n2)" != "$new" ] && [ $n -lt 75 ]; do sleep 0.2; n=$((n + 1)); done
    say "size after $(awk -v a="$t0" -v b="$(e2e_now)" 'BEGIN { printf "%.1f", b - a }') s: $(dev_bytes nvme0n2)"
    expect_eq "/sys/block/nvme0n2/size grew within 15 s" "$(dev_bytes nvme0n2)" "$new"
    dmesg | grep -E 'nvme0|capacity' | tail -5
    expect_eq "id-ns nsze * block size" "$(( $(nvme id-ns /dev/nvme0n2 | nvme_field nsze) * lbs ))" "$new"
    expect_eq "same controller, no reconnect (cntlid)" "$(cat /sys/class/nvme/nvme0/cntlid)" "$cntlid"
    expect_eq "controller state" "$(ctrl_state)" live
    expect_eq "one controller" "$(ls /sys/class/nvme | tr '\n' ' ')" "nvme0 "
    check "nvme0n1 unchanged" test "$(dev_bytes nvme0n1)" = $((128 << 20))
    # The new space is usable: the last 4 MiB (all past the old end).
    dd if=/dev/urandom of=/tmp/tail bs=1M count=4 status=none
    check "write the last 4 MiB (past the old end)" \
        dd if=/tmp/tail of=/dev/nvme0n2 bs=1M seek=$(( (new >> 20) - 4 )) oflag=direct status=none
    check "read them back" bash -c \
        "dd if=/dev/nvme0n2 bs=1M skip=$(( (new >> 20) - 4 )) count=4 iflag=direct status=none | cmp - /tmp/tail"
    check "disconnect" disconnect
}

host_action() {
    case "$1" in
        rbd-resize)     # N BYTES
            local img; img=$(rbd_image_of "$2") || return 1
            rbd resize --no-progress --size "$(( $3 >> 20 ))M" "$img" || return 1
            rbd info "$img" | grep -E '^\s*size' ;;
        *) echo "unknown host request '$1'"; return 2 ;;
    esac
}
