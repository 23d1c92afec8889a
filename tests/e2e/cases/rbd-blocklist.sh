# rbd-blocklist: the gateway's RADOS client is blocklisted (`ceph osd
# blocklist add ADDR`, the address the gateway logged when it opened the
# image) while a host writes.  The OSDs then refuse every op of that client
# (-ESHUTDOWN); the gateway answers with an NVMe path error (Internal Path
# Error) and, after recovery_delay (2 s), reopens the image on a new client
# instance (docs/ceph.md).  Checked from both kinds of Linux host:
#   A. native NVMe multipath (nvme_core.multipath=Y, the default): a path
#      error is retried by the host, here on the only path, so fio sees a
#      stall of about the recovery time, no error, and its verify passes;
#   B. no multipath (nvme_core reloaded with multipath=N), one path,
#      ctrl-loss-tmo 5: the host gets EIO quickly (within 30 s of the
#      blocklist; no hang), the kernel logs the path error, writes that
#      succeeded read back intact, and I/O works again once the gateway has
#      reopened the image - all without a reconnect.
# Runs last in group rbd (see rbd-fio.sh); needs E2E_BACKEND=rbd, CEPH_CONF.
CASE_DESC="RBD: gateway's RADOS client blocklisted during I/O: multipath host stalls ~2 s, no error; single-path host gets EIO fast, no hang; recovers"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=240

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    since() { awk -v a="$1" -v b="$(e2e_now)" 'BEGIN { printf "%.2f", b - a }'; }
    # nvme_core with multipath on or off (nothing may be connected).
    nvme_multipath() {
        nvme disconnect-all >/dev/null 2>&1 || true
        modprobe -r nvme_tcp nvme_fabrics nvme_core && modprobe nvme_core multipath="$1" && modprobe nvme_tcp
    }
    expect_eq "the guest's nvme_core starts with multipath on" "$(cat /sys/module/nvme_core/parameters/multipath)" Y

    # ---------------- A: multipath host, fio write + verify across the blocklisting
    say "A: multipath host"
    check "connect" connect --nr-io-queues=2
    ( set +eE; trap - ERR
      fio --ioengine=libaio --direct=1 --eta=never --name=bl --filename=/dev/nvme0n1 --rw=randwrite \
          --bs=4k --iodepth=16 --size=24M --rate_iops=,1000 --verify=crc32c --verify_fatal=1 > /tmp/fio.out 2>&1
      echo $? > /tmp/fio.rc ) &
    local fpid=$! t0     # (writes capped at 1000 IOPS: >= 6 s of writing anywhere)
    sleep 2
    check "fio is running when the client is blocklisted" kill -0 "$fpid"
    check "host: ceph osd blocklist add <the gateway's client address>" host_request rbd-blocklist 1
    t0=$(e2e_now)
    local n=0
    while kill -0 "$fpid" 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    say "fio finished $(since "$t0") s after the blocklisting"
    wait "$fpid" || true
    grep -E 'err=|IOPS=|^ +clat \(' /tmp/fio.out || cat /tmp/fio.out
    expect_eq "A: fio exit status" "$(cat /tmp/fio.rc)" 0
    expect_match "A: fio saw no error" "$(grep -o 'err= *[0-9]*' /tmp/fio.out | head -1)" '^err= *0$'
    # The longest write waited for the recovery: bounded (well below the
    # 30 s I/O timeout: no abort, no controller reset).
    local maxw
    maxw=$(awk '/^  write:/ { w = 1 } w && /^ +clat \((usec|msec)\): min=/ {
                u = ($0 ~ /usec/) ? 1e-6 : 1e-3; sub(/.*max=/, ""); v = $0; sub(/,.*/, "", v)
                m = v; if (v ~ /k$/) { sub(/k$/, "", m); m *= 1000 } printf "%.2f", m * u; exit }' /tmp/fio.out)
    say "A: longest write: ${maxw:-?} s"
    check "A: longest write ${maxw:-?} s < 30 s" awk -v m="${maxw:-999}" 'BEGIN { exit !(m < 30) }'
    expect_eq "A: same controller, live" "$(ctrl_state)" live
    check "A: gateway logged the blocklisting (ESHUTDOWN)" host_request gateway-log-grep 'is blocklisted: I/O fails with ESHUTDOWN'
    check "A: gateway reopened the image on a new client instance" host_request rbd-reopened 1
    check "disconnect" disconnect

    # ---------------- B: single-path host without multipath
    say "B: host without multipath"
    trap 'nvme_multipath Y || true' EXIT
    check "reload nvme_core with multipath=N" nvme_multipath N
    check "connect (ctrl-loss-tmo 5, reconnect-delay 1)" connect --ctrl-loss-tmo=5 --reconnect-delay=1
    local dmesg0; dmesg0=$(dmesg | wc -l)
    dd if=/dev/urandom of=/tmp/pat bs=64k count=1 status=none
    check "zero the region used below" dd if=/dev/zero of=/dev/nvme0n1 bs=1M seek=64 count=32 oflag=direct status=none
    # One 64 KiB O_DIRECT write after another, each timed (timeout 60 so a
    # hang shows up as a slow write, not as a stuck case).
    ( set +eE; trap - ERR
      i=0; : > /tmp/wlog; rm -f /tmp/wstop /tmp/werr
      while [ $i -lt 400 ] && [ ! -e /tmp/wstop ]; do
          s=$(e2e_now)
          timeout 60 dd if=/tmp/pat of=/dev/nvme0n1 bs=64k seek=$((1024 + i)) count=1 oflag=direct status=none 2>>/tmp/werr
          rc=$?
          echo "$i $s $(e2e_now) $rc" >> /tmp/wlog
          i=$((i + 1))
      done ) &
    local wpid=$!
    sleep 2
    t0=$(e2e_now)    # (errors may start before the ceph command returns)
    check "B: host: ceph osd blocklist add <the gateway's current client address>" host_request rbd-blocklist 1
    # Keep writing until the gateway has reopened the image and a few more writes succeeded.
    n=0
    while [ $n -lt 150 ]; do
        sleep 0.2; n=$((n + 1))
        awk -v t="$t0" '$2 > t && $4 != 0 { f = 1 } f && $2 > t && $4 == 0 { ok++ } END { exit !(ok >= 5) }' /tmp/wlog && break
    done
    touch /tmp/wstop; wait "$wpid" || true
    local first_err last_err nerr nok maxd
    first_err=$(awk -v t="$t0" '$4 != 0 { printf "%.2f", $3 - t; exit }' /tmp/wlog)
    nerr=$(awk '$4 != 0' /tmp/wlog | wc -l)
    nok=$(awk '$4 == 0' /tmp/wlog | wc -l)
    maxd=$(awk '{ d = $3 - $2; if (d > m) m = d } END { printf "%.2f", m }' /tmp/wlog)
    say "B: $nok writes ok, $nerr failed; first error ${first_err:-none} s after asking for the blocklisting; slowest write $maxd s"
    sort -u /tmp/werr | head -3
    check "B: the host saw I/O errors" test "$nerr" -gt 0
    check "B: first error within 30 s of the blocklisting (${first_err:-none} s)" \
        awk -v e="${first_err:-999}" 'BEGIN { exit !(e >= 0 && e < 30) }'
    check "B: no write hung (slowest $maxd s < 30 s)" awk -v m="$maxd" 'BEGIN { exit !(m < 30) }'
    expect_match "B: the writes failed with EIO" "$(sort -u /tmp/werr | head -1)" 'Input/output error'
    local kmsg; kmsg=$(dmesg | tail -n +"$((dmesg0 + 1))" | grep -E 'nvme0n1' | head -5)
    echo "$kmsg"
    # sct 0x3 = Path Related Status (sc 0x0: Internal Path Error)
    expect_match "B: the kernel logged an NVMe path error (status type 0x3)" "$kmsg" 'sct 0x3|Path'
    check "B: writes succeed again after the gateway reopened the image" \
        awk '{ rc[NR] = $4 } END { for (i = NR - 4; i <= NR; i++) if (rc[i] != 0) exit 1 }' /tmp/wlog
    expect_eq "B: controller still live, no reconnect needed" "$(ctrl_state)" live
    # Every write that succeeded is on the image, intact.
    local i s e rc bad=0 nchk=0
    while read -r i s e rc; do
        [ "$rc" = 0 ] || continue
        nchk=$((nchk + 1))
        dd if=/dev/nvme0n1 bs=64k skip=$((1024 + i)) count=1 iflag=direct status=none | cmp -s - /tmp/pat || bad=$((bad + 1))
    done < /tmp/wlog
    expect_eq "B: all $nchk successful writes read back intact" "$bad" 0
    check "disconnect" disconnect
    check "restore nvme_core multipath=Y" nvme_multipath Y
    trap - EXIT
    host_request rbd-unblocklist >/dev/null || true
}

host_action() {
    case "$1" in
        rbd-blocklist)  # N: blocklist the client instance the image is open on now
            local img line addr
            img=$(rbd_image_of "$2") || return 1
            # "rbd POOL/IMAGE: opened, ... on client.N (ADDR)" or "... reopened on client.N (ADDR) after ..."
            line=$(grep -E "rbd $img: (re)?opened" "$GW_LOG" | tail -1)
            addr=$(echo "$line" | sed -n 's/.* on client\.[0-9]* (\([^)]*\)).*/\1/p')
            [ -n "$addr" ] || { echo "no client address for $img in the gateway log"; return 1; }
            echo "gateway log: $line"
            ceph osd blocklist add "$addr" || return 1
            echo "$addr" >> "$WORK/rbd-blocklisted" ;;
        rbd-reopened)   # N: the gateway reopened the image after a blocklisting
            local img; img=$(rbd_image_of "$2") || return 1
            grep -E "rbd $img: reopened on client" "$GW_LOG" ;;
        rbd-unblocklist)
            local a
            [ -s "$WORK/rbd-blocklisted" ] || return 0
            while read -r a; do ceph osd blocklist rm "$a"; done < "$WORK/rbd-blocklisted"
            rm -f "$WORK/rbd-blocklisted" ;;
        *) echo "unknown host request '$1'"; return 2 ;;
    esac
}
