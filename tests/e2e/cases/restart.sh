# restart: the gateway is SIGKILLed while a host is connected and started
# again with the same arguments; the host reconnects by itself, I/O queued
# during the outage completes, and data written before the kill is intact.
CASE_DESC="gateway SIGKILL + restart while connected: host reconnects, data intact"
CASE_GROUP=restart
CASE_PERSISTENT=yes
CASE_TARGETS=gateway
CASE_TIMEOUT=240
# (Namespace identifiers must survive the restart: with new ones Linux logs
# "identifiers changed for nsid 1" and drops the namespace.)

guest() {
    check "connect with ctrl-loss-tmo 60, reconnect-delay 1" connect --ctrl-loss-tmo=60 --reconnect-delay=1
    check "write 32 MiB of random data" bash -c \
        'dd if=/dev/urandom of=/tmp/data bs=1M count=32 status=none &&
         dd if=/tmp/data of=/dev/nvme0n1 bs=1M oflag=direct,sync conv=fsync status=none'
    check "nvme flush" nvme flush /dev/nvme0n1 -n 1
    local sum; sum=$(sha256sum < /tmp/data | cut -d' ' -f1)
    expect_eq "read back before the kill" "$(dd if=/dev/nvme0n1 bs=1M count=32 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$sum"

    local uuid nguid
    uuid=$(cat /sys/block/nvme0n1/uuid); nguid=$(cat /sys/block/nvme0n1/nguid 2>/dev/null || true)

    check "gateway SIGKILLed" host_request gateway-kill KILL
    # I/O issued while the target is gone waits for the reconnect.
    ( set +eE; trap - ERR
      dd if=/dev/nvme0n1 of=/tmp/during bs=1M count=32 iflag=direct status=none 2>/tmp/during.err
      echo $? > /tmp/during.rc ) &
    local reader=$!
    local st n=0
    while [ "$(ctrl_state)" = live ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
    st=$(ctrl_state); say "controller state after the kill: $st"
    expect_match "host noticed the outage" "$st" '^(connecting|resetting)$'
    sleep 3    # a few reconnect attempts against a closed port
    check "gateway restarted with the same arguments" host_request gateway-start
    check "host reconnected by itself within 30 s" wait_state live 30
    expect_eq "still one controller, nvme0" "$(ls /sys/class/nvme | tr '\n' ' ')" "nvme0 "
    sleep 1    # the kernel rescans namespaces right after the reconnect
    dmesg | grep -E 'nvme|nvme0n1' | tail -20
    check "no 'identifiers changed' from the kernel" bash -c '! dmesg | grep -q "identifiers changed"'
    check "/dev/nvme0n1 still exists" test -b /dev/nvme0n1
    expect_eq "namespace UUID unchanged by the restart" "$(cat /sys/block/nvme0n1/uuid)" "$uuid"
    [ -z "$nguid" ] || expect_eq "namespace NGUID unchanged by the restart" "$(cat /sys/block/nvme0n1/nguid)" "$nguid"
    wait "$reader" || true
    cat /tmp/during.err
    expect_eq "read issued during the outage completed without error" "$(cat /tmp/during.rc)" 0
    expect_eq "data read during the outage" "$(sha256sum < /tmp/during | cut -d' ' -f1)" "$sum"
    expect_eq "data read after the restart" "$(dd if=/dev/nvme0n1 bs=1M count=32 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$sum"
    check "write after the restart" dd if=/tmp/data of=/dev/nvme0n1 bs=1M seek=64 count=8 oflag=direct status=none
    check "disconnect" disconnect
}
