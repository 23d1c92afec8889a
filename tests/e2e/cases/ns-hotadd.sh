# ns-hotadd: a namespace added through the gRPC API while a host is
# connected shows up on the host without reconnecting (Namespace Attribute
# Changed AEN -> changed namespace list log -> rescan).
CASE_DESC="namespace added with gwcli while connected appears as /dev/nvme0n2"
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
    check "disconnect" disconnect
}
