# rbd-crosscheck: the gateway neither loses nor invents data between the
# NVMe host and the RBD image.  Group rbd (see rbd-fio.sh): nsid 1 and 2 are
# RBD images; needs E2E_BACKEND=rbd and CEPH_CONF.
#   host -> gateway -> RBD: the guest writes known data through the gateway
#       (8 MiB at 40 MiB, 4 KiB at an odd 512-byte offset), the host reads
#       the image with `rbd export` and with librbd (python3-rbd): equal.
#   RBD -> gateway -> host: the host writes known data straight into the
#       second image with librbd (8 MiB at 3 MiB, 4 KiB at an odd offset)
#       while the gateway has it open; the guest reads it through the gateway
#       with O_DIRECT: equal.
CASE_DESC="RBD: gateway writes = rbd export/librbd reads; librbd writes = reads through the gateway"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=180

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    check "connect" connect
    check "/dev/nvme0n2 (second image) present" wait-dev /dev/nvme0n2 10
    local lbs; lbs=$(cat /sys/block/nvme0n1/queue/logical_block_size)
    # Odd offsets: block 3 of MiB 100 (ns1) / MiB 50 (ns2), in logical blocks.
    local odd1=$(( (100 << 20) / lbs + 3 )) odd2=$(( (50 << 20) / lbs + 5 ))

    # --- host -> gateway -> RBD
    dd if=/dev/urandom of=/tmp/xc-big bs=1M count=8 status=none
    dd if=/dev/urandom of=/tmp/xc-small bs=4096 count=1 status=none
    check "write 8 MiB at 40 MiB through the gateway (O_DIRECT)" \
        dd if=/tmp/xc-big of=/dev/nvme0n1 bs=1M seek=40 oflag=direct status=none
    check "write 4 KiB at byte $((odd1 * lbs)) through the gateway (O_DIRECT)" \
        dd if=/tmp/xc-small of=/dev/nvme0n1 bs="$lbs" seek="$odd1" oflag=direct status=none
    check "nvme flush" nvme flush /dev/nvme0n1 -n 1
    cp /tmp/xc-big /tmp/xc-small /host/
    check "host: rbd export and librbd reads of image 1 equal what was written" \
        host_request rbd-compare 1 "$((40 << 20)):xc-big" "$((odd1 * lbs)):xc-small"

    # --- RBD -> gateway -> host
    check "host: librbd writes 8 MiB at 3 MiB + 4 KiB at byte $((odd2 * lbs)) into image 2" \
        host_request rbd-write 2 "$((3 << 20)):8388608:xc-direct-big" "$((odd2 * lbs)):4096:xc-direct-small"
    check "read back through the gateway (O_DIRECT) = librbd's 8 MiB" bash -c \
        "dd if=/dev/nvme0n2 bs=1M skip=3 count=8 iflag=direct status=none | cmp - /host/xc-direct-big"
    check "read back through the gateway (O_DIRECT) = librbd's 4 KiB" bash -c \
        "dd if=/dev/nvme0n2 bs=$lbs skip=$odd2 count=$((4096 / lbs)) iflag=direct status=none | cmp - /host/xc-direct-small"
    # And the gateway did not return stale or shifted data around it.
    head -c 1048576 /dev/zero > /tmp/zero1m
    check "the MiB before librbd's 8 MiB reads as zeroes (fresh image)" bash -c \
        "dd if=/dev/nvme0n2 bs=1M skip=2 count=1 iflag=direct status=none | cmp - /tmp/zero1m"
    rm -f /host/xc-*
    check "disconnect" disconnect
}

host_action() {
    local act=$1 img py=/usr/bin/python3   # python3-rbd is installed for the system python
    img=$(rbd_image_of "$2") || return 1
    shift 2
    case "$act" in
        rbd-compare)    # OFFSET:FILE (in the shared dir)...
            local exp=$WORK/xc-export.img spec off f rc=0
            rbd export --no-progress "$img" "$exp" || return 1
            for spec in "$@"; do
                off=${spec%%:*} f=$SHARE/${spec#*:}
                if cmp <(tail -c +"$((off + 1))" "$exp" | head -c "$(stat -c %s "$f")") "$f"; then
                    echo "rbd export $img: $(stat -c %s "$f") bytes at $off identical"
                else
                    echo "rbd export $img: bytes at $off DIFFER from what the host wrote"; rc=1
                fi
            done
            rm -f "$exp"
            "$py" - "$img" "$SHARE" "$@" <<'PY' || rc=1
import os, sys, rados, rbd
img, share, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
pool, name = img.split("/", 1)
bad = 0
with rados.Rados(conffile=os.environ["CEPH_CONF"]) as cl, cl.open_ioctx(pool) as io, rbd.Image(io, name, read_only=True) as im:
    for s in specs:
        off, f = s.split(":", 1)
        want = open(f"{share}/{f}", "rb").read()
        got = im.read(int(off), len(want))
        ok = got == want
        bad += not ok
        print(f"librbd read {img}: {len(want)} bytes at {off} {'identical' if ok else 'DIFFER'}")
sys.exit(1 if bad else 0)
PY
            return $rc ;;
        rbd-write)      # OFFSET:LENGTH:FILE...: random data written with librbd and saved to FILE
            "$py" - "$img" "$SHARE" "$@" <<'PY'
import os, sys, rados, rbd
img, share, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
pool, name = img.split("/", 1)
with rados.Rados(conffile=os.environ["CEPH_CONF"]) as cl, cl.open_ioctx(pool) as io, rbd.Image(io, name) as im:
    for s in specs:
        off, length, f = s.split(":", 2)
        data = os.urandom(int(length))
        assert im.write(data, int(off)) == len(data)
        with open(f"{share}/{f}", "wb") as out:
            out.write(data)
        print(f"librbd wrote {len(data)} bytes at {off} of {img}")
    im.flush()
PY
            ;;
        *) echo "unknown host request '$act'"; return 2 ;;
    esac
}
