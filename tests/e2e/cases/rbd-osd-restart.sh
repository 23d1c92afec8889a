# rbd-osd-restart: the (only) OSD is stopped and restarted in the middle of a
# fio write + verify through the gateway.  librados holds the I/O while the
# OSD is down and resends it when it is back, so the host must see a stall,
# not an error: fio reports err=0 and its crc32c verify passes.  Needs a
# cluster made by tests/tools/ceph-local.sh (CEPH_CONF=DIR/ceph.conf; memstore
# keeps its data over a clean stop) and E2E_BACKEND=rbd.  Group rbd (see
# rbd-fio.sh).
CASE_DESC="RBD: OSD stopped + restarted during fio write+verify: stall, no error, verify passes"
CASE_GROUP=rbd
CASE_NS_SIZES="128M 64M"
CASE_TARGETS=gateway
CASE_NEEDS=ceph
CASE_TIMEOUT=240

guest() {
    [ "$E2E_BACKEND" = rbd ] || skip "needs E2E_BACKEND=rbd (namespaces backed by RBD images)"
    local dmesg0; dmesg0=$(dmesg | wc -l)
    check "connect" connect --nr-io-queues=2
    # I/O in flight at the path device (the multipath head is bio based and
    # counts nothing).
    local path=/sys/block/nvme0n1
    for path in /sys/block/nvme0c*n1 /sys/block/nvme0n1; do [ -e "$path/inflight" ] && break; done
    ( set +eE; trap - ERR
      fio --ioengine=libaio --direct=1 --eta=never --name=osd --filename=/dev/nvme0n1 \
          --rw=randwrite --bs=4k --iodepth=16 --size=32M --offset=16M --rate_iops=,1000 \
          --verify=crc32c --verify_fatal=1 > /tmp/fio.out 2>&1
      echo $? > /tmp/fio.rc ) &
    # (writes capped at 1000 IOPS: the write phase lasts >= 8 s on any machine)
    local fpid=$! t0 t1 inflight
    sleep 2
    check "fio is running when the OSD is stopped" kill -0 "$fpid"
    local out rc=0
    out=$(host_request osd-stop) || rc=$?
    echo "$out"
    [ "$rc" != 77 ] || { kill "$fpid" 2>/dev/null; wait "$fpid" || true; skip "$out"; }
    check "host: ceph-local.sh stop DIR osd.0" test "$rc" = 0
    t0=$(e2e_now)
    sleep 2
    inflight=$(cat "$path/inflight")
    say "in flight at $path with the OSD down: $inflight (reads writes)"
    check "writes are pending while the OSD is down (not failed)" test "$(echo "$inflight" | awk '{ print $1 + $2 }')" -gt 0
    check "fio still running (waiting, not failed)" kill -0 "$fpid"
    expect_eq "controller still live" "$(ctrl_state)" live
    check "host: ceph-local.sh start DIR (OSD back, PGs active+clean)" host_request osd-start
    t1=$(e2e_now)
    say "OSD down for $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a + 0 }') s (+ stop time) as seen from here"
    wait "$fpid" || true
    grep -E 'err=|IOPS=|clat \(|lat \((u|m)sec\): min' /tmp/fio.out || cat /tmp/fio.out
    expect_eq "fio exit status" "$(cat /tmp/fio.rc)" 0
    expect_match "fio: no errors" "$(grep -o 'err= *[0-9]*' /tmp/fio.out | head -1)" '^err= *0$'
    check "fio verified every block (no verify failure)" bash -c '! grep -qiE "verify: bad|verify failed|bad magic" /tmp/fio.out'
    local errs; errs=$(dmesg | tail -n +"$((dmesg0 + 1))" | grep -iE "nvme.*(error|reset|reconnect|timeout)" || true)
    [ -z "$errs" ] || echo "$errs"
    expect_eq "no nvme errors, resets or timeouts in dmesg during the case" "$(echo -n "$errs" | grep -c . || true)" 0
    expect_eq "controller state after the restart" "$(ctrl_state)" live
    check "disconnect" disconnect
}

host_action() {
    # The cluster must be a ceph-local.sh one: its directory holds ceph.conf.
    local dir=${CEPH_CONF%/*} tool=$SRC_DIR/tests/tools/ceph-local.sh
    if [ ! -f "$dir/.ceph-local" ]; then
        echo "CEPH_CONF=$CEPH_CONF is not a tests/tools/ceph-local.sh cluster: cannot stop its OSD"; return 77
    fi
    case "$1" in
        osd-stop)  time "$tool" stop "$dir" osd.0 ;;
        osd-start) time "$tool" start "$dir" && ceph osd stat ;;
        *) echo "unknown host request '$1'"; return 2 ;;
    esac
}
