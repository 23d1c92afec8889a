# rbd-fs: ext4 on an RBD-backed namespace survives umount, disconnect and a
# new connection; the host then checks the same filesystem straight out of
# the RBD image (rbd export + e2fsck -fn + debugfs).  Group rbd (see
# rbd-fio.sh); needs E2E_BACKEND=rbd and CEPH_CONF.
CASE_DESC="RBD: mkfs.ext4, files + sha256, umount, disconnect, reconnect, mount, sums match; host fsck of the image"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=240

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    check "ext4 module" modprobe ext4
    check "connect" connect
    check "mkfs.ext4" mkfs.ext4 -F -q /dev/nvme0n1
    mkdir -p /mnt/fs
    check "mount" mount -t ext4 /dev/nvme0n1 /mnt/fs
    check "write a 16 MiB random file" dd if=/dev/urandom of=/mnt/fs/big bs=1M count=16 status=none
    mkdir -p /mnt/fs/dir/sub
    local i
    for i in $(seq 100); do echo "file $i $RANDOM" > "/mnt/fs/dir/sub/f$i"; done
    check "write 100 small files" test -f /mnt/fs/dir/sub/f100
    dd if=/dev/urandom of=/mnt/fs/dir/odd bs=4097 count=33 status=none
    (cd /mnt/fs && find . -type f | sort | xargs sha256sum) > /tmp/sums
    say "$(wc -l < /tmp/sums) files checksummed"
    sync
    local uuid; uuid=$(blkid -s UUID -o value /dev/nvme0n1)
    check "umount" umount /mnt/fs
    check "disconnect" disconnect
    check "connect again" connect
    expect_eq "same filesystem UUID after reconnect" "$(blkid -s UUID -o value /dev/nvme0n1)" "$uuid"
    check "mount again" mount -t ext4 /dev/nvme0n1 /mnt/fs
    check "all checksums match" sh -c 'cd /mnt/fs && sha256sum -c -s /tmp/sums'
    check "umount" umount /mnt/fs
    check "disconnect" disconnect
    # The host reads the filesystem out of the image: clean, same UUID, same files.
    cp /tmp/sums /host/fs-sums
    check "host: e2fsck -fn and debugfs on the exported image agree" \
        host_request rbd-fsck 1 "$uuid" fs-sums
    rm -f /host/fs-sums
}

host_action() {
    case "$1" in
        rbd-fsck)   # N UUID SUMS: export, fsck, compare the UUID and every file's sha256
            local img exp=$WORK/fs-export.img rc=0 sum f got n=0
            img=$(rbd_image_of "$2") || return 1
            rbd export --no-progress "$img" "$exp" || return 1
            e2fsck -fn "$exp" || { echo "e2fsck -fn: exit $? (not clean)"; rc=1; }
            got=$(blkid -s UUID -o value "$exp")
            if [ "$got" = "$3" ]; then echo "filesystem UUID $got as in the guest"; else echo "UUID $got, guest saw $3"; rc=1; fi
            while read -r sum f; do
                got=$(debugfs -R "cat /${f#./}" "$exp" 2>/dev/null | sha256sum | cut -d' ' -f1)
                if [ "$got" = "$sum" ]; then n=$((n + 1)); else echo "$f: sha256 $got in the image, $sum in the guest"; rc=1; fi
            done < "$SHARE/$4"
            echo "$n files read with debugfs from the exported image match the guest's sha256"
            rm -f "$exp"
            return $rc ;;
        *) echo "unknown host request '$1'"; return 2 ;;
    esac
}
