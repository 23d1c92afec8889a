# restart: the gateway is SIGKILLed while a host is connected and started
# again with the same arguments; the host reconnects by itself, I/O queued
# during the outage completes, and data written before the kill is intact.
CASE_DESC="gateway SIGKILL + restart while connected: host reconnects, data intact"
CASE_GROUP=restart
CASE_PERSISTENT=yes
CASE_TARGETS=gateway
CASE_TIMEOUT=240

guest() {
    check "connect with ctrl-loss-tmo 60, reconnect-delay 1" connect --ctrl-loss-tmo=60 --reconnect-delay=1
    check "write 32 MiB of random data" sh -c \
        'dd if=/dev/urandom of=/tmp/data bs=1M count=32 status=none &&
         dd if=/tmp/data of=/dev/nvme0n1 bs=1M oflag=direct,sync conv=fsync status=none'
    check "nvme flush" nvme flush /dev/nvme0n1 -n 1
    local sum; sum=$(sha256sum < /tmp/data | cut -d' ' -f1)
    expect_eq "read back before the kill" "$(dd if=/dev/nvme0n1 bs=1M count=32 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$sum"

    check "gateway SIGKILLed" host_request gateway-kill KILL
    # I/O issued while the target is gone waits for the reconnect.
    dd if=/dev/nvme0n1 bs=1M count=32 skip=0 iflag=direct status=none 2>/tmp/dd.err | sha256sum | cut -d' ' -f1 > /tmp/during &
    local reader=$!
    local st n=0
    while [ "$(ctrl_state)" = live ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
    st=$(ctrl_state); say "controller state after the kill: $st"
    expect_match "host noticed the outage" "$st" '^(connecting|resetting)$'
    sleep 3    # a few reconnect attempts against a closed port
    check "gateway restarted with the same arguments" host_request gateway-start
    check "host reconnected by itself within 30 s" wait_state live 30
    expect_eq "still one controller, nvme0" "$(ls /sys/class/nvme | tr '\n' ' ')" "nvme0 "
    check "read issued during the outage completed" wait "$reader"
    expect_eq "data read during the outage" "$(cat /tmp/during)" "$sum"
    expect_eq "data read after the restart" "$(dd if=/dev/nvme0n1 bs=1M count=32 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "$sum"
    check "write after the restart" dd if=/tmp/data of=/dev/nvme0n1 bs=1M seek=64 count=8 oflag=direct status=none
    check "disconnect" disconnect
}
