# selftest: the harness itself, no gateway: the guest's own Linux nvmet
# (null_blk, memory backed) over the guest's loopback; connect, fio verify,
# a short randread for a speed reference.  If this fails, nothing else can
# be trusted.
CASE_DESC="harness self test against the guest's own nvmet (no gateway)"
CASE_GROUP=selftest
CASE_TARGETS=none
CASE_TIMEOUT=240

guest() {
    local nqn=nqn.2024-01.io.nvmeof-gateway:selftest T=/sys/kernel/config/nvmet
    check "null_blk loads" modprobe null_blk nr_devices=0
    mkdir /sys/kernel/config/nullb/nullb0
    echo 256 > /sys/kernel/config/nullb/nullb0/size          # MiB
    echo 4096 > /sys/kernel/config/nullb/nullb0/blocksize
    echo 1 > /sys/kernel/config/nullb/nullb0/memory_backed
    echo 1 > /sys/kernel/config/nullb/nullb0/power
    wait-dev /dev/nullb0
    mkdir "$T/subsystems/$nqn"
    echo 1 > "$T/subsystems/$nqn/attr_allow_any_host"
    mkdir "$T/subsystems/$nqn/namespaces/1"
    echo /dev/nullb0 > "$T/subsystems/$nqn/namespaces/1/device_path"
    echo 1 > "$T/subsystems/$nqn/namespaces/1/enable"
    mkdir "$T/ports/1"
    echo tcp > "$T/ports/1/addr_trtype"; echo ipv4 > "$T/ports/1/addr_adrfam"
    echo 127.0.0.1 > "$T/ports/1/addr_traddr"; echo 4420 > "$T/ports/1/addr_trsvcid"
    ln -s "$T/subsystems/$nqn" "$T/ports/1/subsystems/$nqn"

    local disc
    disc=$(nvme discover -t tcp -a 127.0.0.1 -s 4420)
    expect_match "discovery lists the subsystem" "$(echo "$disc" | grep -F "$nqn")" "$nqn"
    check "connect" nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$nqn"
    check "namespace appears" wait-dev /dev/nvme0n1 10
    expect_eq "namespace size" "$(dev_bytes nvme0n1)" $((256 << 20))
    check "fio 4K randwrite + crc32c verify" run_fio --name=verify --filename=/dev/nvme0n1 \
        --rw=randwrite --bs=4k --size=32M --iodepth=16 --verify=crc32c --verify_fatal=1
    check "fio 4K randread, 10 s" run_fio --name=randread --filename=/dev/nvme0n1 \
        --rw=randread --bs=4k --iodepth=32 --runtime=10 --time_based
    check "disconnect" disconnect "$nqn"
}
