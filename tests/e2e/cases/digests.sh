# digests: the fio verify of the fio case with header and data digests.
CASE_DESC="fio write+verify with header and data digest (connect -g -G)"
CASE_GROUP=basic
CASE_TIMEOUT=400

guest() {
    # The kernel refuses the connection if the target's ICResp does not
    # confirm both digests, so a live controller means they are in use.
    check "connect with header + data digest" connect --nr-io-queues=2 -g -G
    check "controller is live" wait_state live 10
    fio_verify_pair /dev/nvme0n1
    check "disconnect" disconnect
}
