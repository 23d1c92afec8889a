# ns-hotadd: a namespace added, resized and removed through the gRPC API while
# a host is connected: the host sees each change without reconnecting
# (Namespace Attribute Changed AEN -> changed namespace list log -> rescan).
CASE_DESC="namespace added, grown and removed with gwcli while connected: the host follows"
CASE_GROUP=ns-hotadd
CASE_GRPC=yes
CASE_NEEDS="gwcli grpc"
CASE_TARGETS=gateway
CASE_TIMEOUT=120

guest() {
    check "connect" connect
    check "only nvme0n1 before" test ! -e /dev/nvme0n2
    host_request gwcli namespace add -n "$E2E_NQN" --memory-size 64M || {
        rc=$?; [ "$rc" != 77 ] || skip "no gwcli on the host"; check "gwcli namespace add" false; }
    check "/dev/nvme0n2 appears within 10 s" wait-dev /dev/nvme0n2 10
    expect_eq "new namespace size" "$(dev_bytes nvme0n2)" $((64 << 20))
    expect_eq "still the same controller (no reconnect)" "$(ls /sys/class/nvme | tr '\n' ' ')" "nvme0 "
    check "write + read back on the new namespace" bash -c \
        'dd if=/dev/urandom of=/tmp/blk bs=64k count=16 status=none &&
         dd if=/tmp/blk of=/dev/nvme0n2 bs=64k oflag=direct status=none &&
         dd if=/dev/nvme0n2 of=/tmp/back bs=64k count=16 iflag=direct status=none &&
         cmp /tmp/blk /tmp/back'
    host_request gwcli namespace resize -n "$E2E_NQN" --nsid 2 --size 128M ||
        check "gwcli namespace resize" false
    check "/dev/nvme0n2 grows to 128 MiB within 10 s" bash -c \
        'for i in $(seq 50); do [ "$(cat /sys/block/nvme0n2/size)" = 262144 ] && exit 0; sleep 0.2; done; exit 1'
    host_request gwcli namespace del -n "$E2E_NQN" --nsid 2 || check "gwcli namespace del" false
    check "/dev/nvme0n2 goes away within 10 s" bash -c \
        'for i in $(seq 50); do [ -e /dev/nvme0n2 ] || exit 0; sleep 0.2; done; exit 1'
    check "nvme0n1 still there" test -b /dev/nvme0n1
    expect_eq "still the same controller (no reconnect)" "$(ls /sys/class/nvme | tr '\n' ' ')" "nvme0 "
    check "disconnect" disconnect
}
