# rbd-fio: data integrity over an RBD-backed namespace (real Ceph cluster).
# Needs E2E_BACKEND=rbd and CEPH_CONF (the ctest fixture ceph_e2e sets both;
# by hand: tests/tools/ceph-local.sh start DIR && E2E_BACKEND=rbd
# CEPH_CONF=DIR/ceph.conf tests/e2e/run-e2e.sh BUILD rbd-fio).
# All rbd-* VM cases share one boot and one gateway (group rbd) with two
# images: nsid 1 (128 MiB) for data, nsid 2 (64 MiB) for crosscheck/resize.
CASE_DESC="RBD: fio 4K randwrite + 128K seq write, crc32c verify, 2 jobs x QD32; data lands in the image"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=240

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    check "connect with 2 I/O queues" connect --nr-io-queues=2
    expect_eq "namespace size" "$(dev_bytes nvme0n1)" $((128 << 20))
    # 2 jobs x 16 MiB each for 4K random and 128K sequential: every block
    # written once, read back, crc32c checked (verify_fatal).
    E2E_FIO_4K_SIZE=16M E2E_FIO_128K_SIZE=16M fio_verify_pair /dev/nvme0n1
    check "nvme flush" nvme flush /dev/nvme0n1 -n 1
    # The writes really went to the RBD image: at least the 32 MiB both
    # runs covered are allocated in it (rbd diff, on the host).
    local used
    used=$(host_request rbd-allocated 1 | tail -1)
    expect_match "allocated bytes in the RBD image >= 32 MiB (rbd diff)" "$used" '^[0-9]+$'
    check "allocated $used >= $((32 << 20))" test "$used" -ge $((32 << 20))
    check "disconnect" disconnect
}

# Host side (rbd_image_of N, from run-e2e.sh: POOL/IMAGE behind nsid N, in the order of
# the gateway's --namespace rbd:... arguments).
host_action() {
    case "$1" in
        rbd-allocated)
            local img; img=$(rbd_image_of "$2") || return 1
            rbd diff --format json "$img" | jq '[.[].length] | add // 0' ;;
        *) echo "unknown host request '$1'"; return 2 ;;
    esac
}
