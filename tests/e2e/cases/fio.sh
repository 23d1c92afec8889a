# fio: data integrity through the gateway with several queues and jobs.
CASE_DESC="fio write+verify (crc32c): 4K randwrite and 128K sequential, iodepth 32, 2 jobs"
CASE_GROUP=basic
CASE_TIMEOUT=400

guest() {
    check "connect" connect --nr-io-queues=2
    expect_eq "2 I/O queues (queue_count)" "$(cat /sys/class/nvme/nvme0/queue_count)" 3
    fio_verify_pair /dev/nvme0n1
    check "disconnect" disconnect
}
