# csi: the exact call sequence ceph-csi's NVMe-oF driver makes (through gwcli, on the
# host) to provision a volume — subsystem with no_group_append, listener, namespace with
# block size 4096, host — each repeated to see the "already exists" answer it tolerates;
# then the Linux host connects and finds the disk by its UUID the way udev names it
# (/dev/disk/by-id/nvme-<wwid>, wwid = "uuid.<UUID>"); then the reverse, with the "not
# found" answers on repeats.
CASE_DESC="ceph-csi provisioning sequence, then the host finds the disk by UUID"
CASE_GROUP=csi
CASE_GRPC=yes
CASE_NEEDS="gwcli grpc"
CASE_TARGETS=gateway
CASE_TIMEOUT=180

CSI_NQN=nqn.2016-06.io.nvmeof-gateway:csi-vol-0001

# Runs on the host. Exit codes of gwcli are the reply's errno.
host_action() {
    local g=(${GWCLI_CMD} --server-address 127.0.0.1 --server-port "$GRPC_PORT")
    expect_rc() { # want cmd...
        local want=$1 rc=0; shift
        "$@" >/tmp/csi-out.$$ 2>&1 || rc=$?
        if [ "$rc" != "$want" ]; then
            echo "FAILED: $* -> exit $rc, wanted $want:"; cat /tmp/csi-out.$$; rm -f /tmp/csi-out.$$; exit 1
        fi
        rm -f /tmp/csi-out.$$
    }
    case $1 in
        csi-provision)
            local hostnqn=$2 ns_args
            if [ -n "${CEPH_CONF:-}" ]; then
                ns_args=(-p "${E2E_RBD_POOL:-rbd}" -i "csi-e2e-$$" --rbd-create-image --size 64M)
            else
                ns_args=(--memory-size 64M)
            fi
            expect_rc 0  "${g[@]}" subsystem add -n "$CSI_NQN" -s "Ceph$RANDOM" --no-group-append
            expect_rc 17 "${g[@]}" subsystem add -n "$CSI_NQN" -s "Ceph$RANDOM" --no-group-append
            expect_rc 0  "${g[@]}" listener add -n "$CSI_NQN" -t "$(hostname)" -a 127.0.0.1 -s "$IO_PORT" -f ipv4
            expect_rc 17 "${g[@]}" listener add -n "$CSI_NQN" -t "$(hostname)" -a 127.0.0.1 -s "$IO_PORT" -f ipv4
            expect_rc 0  "${g[@]}" namespace add -n "$CSI_NQN" "${ns_args[@]}" -s 4096
            expect_rc 0  "${g[@]}" host add -n "$CSI_NQN" -t "$hostnqn"
            expect_rc 17 "${g[@]}" host add -n "$CSI_NQN" -t "$hostnqn"
            # ceph-csi reads the UUID from list_namespaces.
            "${g[@]}" --output stdio --format json namespace list -n "$CSI_NQN" |
                python3 -c 'import json,sys; print("UUID=" + json.load(sys.stdin)["namespaces"][0]["uuid"])'
            ;;
        csi-delete)
            local hostnqn=$2 rc=0
            expect_rc 0 "${g[@]}" host del -n "$CSI_NQN" -t "$hostnqn"
            "${g[@]}" host del -n "$CSI_NQN" -t "$hostnqn" >/dev/null 2>&1 || rc=$?
            [ "$rc" = 2 ] || [ "$rc" = 16 ] || { echo "FAILED: second host del -> $rc, wanted ENOENT or EBUSY"; exit 1; }
            expect_rc 0 "${g[@]}" namespace del -n "$CSI_NQN" --nsid 1
            rc=0; "${g[@]}" namespace del -n "$CSI_NQN" --nsid 1 >/dev/null 2>&1 || rc=$?
            [ "$rc" = 2 ] || [ "$rc" = 19 ] || { echo "FAILED: second namespace del -> $rc, wanted ENOENT or ENODEV"; exit 1; }
            expect_rc 0 "${g[@]}" listener del -n "$CSI_NQN" -t "$(hostname)" -a 127.0.0.1 -s "$IO_PORT" -f ipv4 --force
            expect_rc 2 "${g[@]}" listener del -n "$CSI_NQN" -t "$(hostname)" -a 127.0.0.1 -s "$IO_PORT" -f ipv4 --force
            expect_rc 0 "${g[@]}" subsystem del -n "$CSI_NQN"
            expect_rc 2 "${g[@]}" subsystem del -n "$CSI_NQN"
            echo "deleted"
            ;;
        *) echo "unknown request $1"; exit 2 ;;
    esac
}

guest() {
    local hostnqn out uuid
    hostnqn=$(cat /etc/nvme/hostnqn)
    out=$(host_request csi-provision "$hostnqn") || { echo "$out"; check "ceph-csi provisioning through gwcli" false; }
    uuid=$(printf '%s\n' "$out" | sed -n 's/^UUID=//p' | tail -1)
    check "list_namespaces returned a UUID" test -n "$uuid"
    check "connect to the provisioned subsystem" \
        nvme connect -t tcp -a "$E2E_HOST" -s "$E2E_IO_PORT" -n "nqn.2016-06.io.nvmeof-gateway:csi-vol-0001" -l 1800
    check "namespace appears" wait-dev /dev/nvme0n1 15
    expect_eq "wwid (udev: /dev/disk/by-id/nvme-<wwid>)" "$(cat /sys/block/nvme0n1/wwid)" "uuid.$uuid"
    expect_eq "block size 4096" "$(cat /sys/block/nvme0n1/queue/logical_block_size)" 4096
    check "nvme ns-descs shows the same UUID" bash -c "nvme ns-descs /dev/nvme0n1 | grep -qi 'uuid *: *$uuid'"
    check "disconnect" nvme disconnect -n nqn.2016-06.io.nvmeof-gateway:csi-vol-0001
    out=$(host_request csi-delete "$hostnqn") || { echo "$out"; check "ceph-csi deletion through gwcli" false; }
}
