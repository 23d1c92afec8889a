# fs: ext4 on the namespace survives unmount, disconnect and a new connection.
CASE_DESC="mkfs.ext4, files + sha256, umount, disconnect, reconnect, mount, checksums match"
CASE_GROUP=basic
CASE_TIMEOUT=240

guest() {
    check "ext4 module" modprobe ext4
    check "connect" connect
    check "mkfs.ext4" mkfs.ext4 -F -q /dev/nvme0n1
    mkdir -p /mnt/fs
    check "mount" mount -t ext4 /dev/nvme0n1 /mnt/fs
    check "write a 24 MiB random file" dd if=/dev/urandom of=/mnt/fs/big bs=1M count=24 status=none
    mkdir -p /mnt/fs/dir/sub
    local i
    for i in $(seq 200); do echo "file $i $RANDOM" > "/mnt/fs/dir/sub/f$i"; done
    check "write 200 small files" test -f /mnt/fs/dir/sub/f200
    dd if=/dev/urandom of=/mnt/fs/dir/odd bs=4097 count=33 status=none
    (cd /mnt/fs && find . -type f ! -name lost+found | sort | xargs sha256sum) > /tmp/sums
    wc -l < /tmp/sums
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
}
