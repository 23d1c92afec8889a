# auth: NVMe in-band authentication (DH-HMAC-CHAP) with the Linux host, which has it
# from Linux 6.x (CONFIG_NVME_HOST_AUTH; Debian's 6.12 kernel, hence CASE_KERNEL) and
# nvme-cli's --dhchap-secret / --dhchap-ctrl-secret.
#
# The Linux host offers every hash and DH group; the controller picks. So each round
# restarts the gateway with --dhchap-digests / --dhchap-dhgroups naming one of each (the
# state is in memory: the host's subsystem is provisioned again through gwcli), connects
# one-way and bidirectionally with two I/O queues (each queue authenticates), runs a fio
# write + crc32c verify, and checks in the gateway's log which hash and group every queue
# negotiated. The keys' own transformation (DHHC-1:00..03) varies independently of the
# negotiated hash. The first round also shows a wrong host key, a wrong controller key
# and no key refused; the last, with the gateway's default preferences, rotates the key
# through gwcli while the host is connected and doing I/O (the controller stays, the host
# re-authenticates its live queues with the new key), then reconnects with the old key
# (refused) and the new one; then the subsystem's key (gwcli subsystem change_key) serves as
# the controller key of the host, whose own controller key is deleted.
CASE_DESC="DH-HMAC-CHAP: every hash, NULL and FFDHE groups, one-way and bidirectional, refusals, key rotation"
CASE_GROUP=auth
CASE_GRPC=yes
CASE_NEEDS="gwcli grpc"
CASE_TARGETS=gateway
CASE_KERNEL=6.12
CASE_TIMEOUT=600

# Runs on the host: the subsystem the host authenticates to, on the running gateway.
host_action() {
    local g=(${GWCLI_CMD} --server-address 127.0.0.1 --server-port "$GRPC_PORT")
    case $1 in
        auth-provision) # NQN HOSTNQN KEY CTRL_KEY
            local AUTH_NQN=$2; shift
            "${g[@]}" subsystem add -n "$AUTH_NQN" -s AUTH0001 --no-group-append >/dev/null &&
            "${g[@]}" listener add -n "$AUTH_NQN" -t "$(hostname)" -a 127.0.0.1 -s "$IO_PORT" -f ipv4 >/dev/null &&
            "${g[@]}" namespace add -n "$AUTH_NQN" --memory-size 64M >/dev/null &&
            "${g[@]}" host add -n "$AUTH_NQN" -t "$2" -k "$3" -c "$4" >/dev/null &&
            echo "provisioned $AUTH_NQN for $2 (host and controller key)" ;;
        *) echo "unknown request $1"; exit 2 ;;
    esac
}

guest() {
    local AUTH_NQN=nqn.2016-06.io.nvmeof-gateway:dhchap-sub hostnqn
    hostnqn=$(cat /etc/nvme/hostnqn)
    [ -d /sys/module/nvme_auth ] || modprobe nvme-auth 2>/dev/null \
        || skip "this kernel ($(uname -r)) has no NVMe authentication (nvme-auth)"

    # Keys: the host's, with each transformation, and controller keys.
    local k0 k1 k2 k3 c1 c3 wrong wrongc
    k0=$(nvme gen-dhchap-key -m 0); k1=$(nvme gen-dhchap-key -m 1)
    k2=$(nvme gen-dhchap-key -m 2); k3=$(nvme gen-dhchap-key -m 3)
    c1=$(nvme gen-dhchap-key -m 1 -n "$AUTH_NQN"); c3=$(nvme gen-dhchap-key -m 3 -n "$AUTH_NQN")
    wrong=$(nvme gen-dhchap-key -m 1); wrongc=$(nvme gen-dhchap-key -m 1 -n "$AUTH_NQN")
    expect_match "nvme gen-dhchap-key makes DHHC-1 secrets" "${k2:0:10}" '^DHHC-1:02:'

    # Who: "subsystem NQN host HOSTNQN (controller N, queue Q): authenticated (...)".
    local who="subsystem $AUTH_NQN host $hostnqn \\(controller [0-9]+, queue"

    # restart_gateway [ARGS...]: the gateway again with ARGS, the subsystem provisioned again.
    restart_gateway() {
        host_request gateway-stop >/dev/null && host_request gateway-args "$@" >/dev/null &&
            host_request gateway-start >/dev/null && host_request auth-provision "$AUTH_NQN" "$hostnqn" "$KEY" "$CKEY"
    }
    aconnect() { # aconnect NVME-CONNECT-ARGS...
        say "nvme connect -t tcp -a $E2E_HOST -s $E2E_IO_PORT -n $AUTH_NQN --nr-io-queues=2 $*"
        nvme connect -t tcp -a "$E2E_HOST" -s "$E2E_IO_PORT" -n "$AUTH_NQN" --nr-io-queues=2 "$@" &&
            wait-dev /dev/nvme0n1 15 && wait_state live 10
    }
    refused() { # refused NVME-CONNECT-ARGS...: the connect fails, no controller stays
        say "nvme connect -n $AUTH_NQN $* (expecting a refusal)"
        if nvme connect -t tcp -a "$E2E_HOST" -s "$E2E_IO_PORT" -n "$AUTH_NQN" "$@" 2>&1; then
            echo "connect succeeded"; return 1
        fi
        local i
        for i in $(seq 50); do [ -e /sys/class/nvme/nvme0 ] || return 0; sleep 0.2; done
        echo "a controller is left: $(ctrl_state)"; return 1
    }
    afio() {
        run_fio --name=a4k --filename=/dev/nvme0n1 --rw=randwrite --bs=4k --iodepth=16 --size=4M \
            --verify=crc32c --verify_fatal=1 &&
        run_fio --name=a128k --filename=/dev/nvme0n1 --rw=write --bs=128k --iodepth=16 --size=8M \
            --offset=16M --verify=crc32c --verify_fatal=1
    }
    logged() { host_request gateway-log-grep-current "$1" >/dev/null; }
    nlogged() { # (host_request's own "[e2e ...] host request" line left out)
        { host_request gateway-log-grep-current "$1" || true; } | { grep -vc '^\[e2e ' || true; }; }
    nothing_logged() { ! logged "$1"; }

    # Rounds: negotiated hash, DH group, the host key's transformation (key), controller key.
    local round hash group KEY CKEY refusals=yes
    for round in "sha256 null $k1 $c1" "sha256 ffdhe2048 $k0 $c3" "sha384 null $k2 $c1" \
                 "sha384 ffdhe3072 $k3 $c1" "sha512 null $k3 $c3" "sha512 ffdhe4096 $k1 $c3"; do
        read -r hash group KEY CKEY <<< "$round"
        say "round: $hash / $group, host key DHHC-1:${KEY:7:2}"
        check "gateway restarted with --dhchap-digests $hash --dhchap-dhgroups $group" \
            restart_gateway --dhchap-digests "$hash" --dhchap-dhgroups "$group"

        check "one-way connect ($hash, $group)" aconnect --dhchap-secret="$KEY"
        check "fio write + verify (one-way, $hash, $group)" afio
        expect_eq "queues authenticated one-way with $hash, $group" \
            "$(nlogged "$who [0-2]\\): authenticated \\(DH-HMAC-CHAP $hash, $group\\)")" 3
        dmesg | grep -E 'authenticated with hash' | tail -1 || true
        check "disconnect" disconnect "$AUTH_NQN"

        check "bidirectional connect ($hash, $group)" aconnect --dhchap-secret="$KEY" --dhchap-ctrl-secret="$CKEY"
        check "fio write + verify (bidirectional, $hash, $group)" afio
        expect_eq "queues authenticated bidirectionally with $hash, $group" \
            "$(nlogged "$who [0-2]\\): authenticated \\(DH-HMAC-CHAP $hash, $group, bidirectional\\)")" 3
        check "disconnect" disconnect "$AUTH_NQN"

        if [ "$refusals" = yes ]; then
            refusals=no
            check "wrong host key refused" refused --dhchap-secret="$wrong"
            check "the gateway logged the wrong host response" logged "$who 0\\): DH-HMAC-CHAP authentication failed: wrong host response"
            check "wrong controller key refused" refused --dhchap-secret="$KEY" --dhchap-ctrl-secret="$wrongc"
            check "the gateway logged the host's Failure2" logged "$who 0\\): the host ended DH-HMAC-CHAP authentication"
            check "no key refused" refused
            check "the gateway never logged a key" nothing_logged 'DHHC-1'
        fi
    done

    # Rotation, with the gateway's default preferences (SHA-512, the NULL group first).
    local old=$k2 new=$k3
    KEY=$old CKEY=$c1
    check "gateway restarted with its default DH-HMAC-CHAP preferences" restart_gateway
    check "bidirectional connect with the old key" aconnect --dhchap-secret="$old" --dhchap-ctrl-secret="$CKEY"
    check "default preferences: SHA-512, NULL group" logged "$who 0\\): authenticated \\(DH-HMAC-CHAP sha512, null, bidirectional\\)"
    local cntlid; cntlid=$(cat /sys/class/nvme/nvme0/cntlid)
    say "fio in the background while the key changes"
    run_fio --name=rot --filename=/dev/nvme0n1 --rw=randwrite --bs=4k --iodepth=4 --size=8M --offset=32M \
        --rate_iops=400 --verify=crc32c --verify_fatal=1 > /tmp/auth-rot.fio 2>&1 &
    local fio_pid=$!
    sleep 1
    check "host change_key through gwcli while connected" \
        host_request gwcli host change_key -n "$AUTH_NQN" -t "$hostnqn" -k "$new" -c "$CKEY"
    local frc=0
    wait "$fio_pid" || frc=$?
    grep -E 'err=|verify' /tmp/auth-rot.fio || cat /tmp/auth-rot.fio
    expect_eq "fio write + verify across the key change" "$frc" 0
    expect_eq "controller still live" "$(ctrl_state)" live
    expect_eq "same controller (not reconnected)" "$(cat /sys/class/nvme/nvme0/cntlid)" "$cntlid"
    # The host re-authenticates its live queues with the new key (sysfs, Linux >= 6.0).
    say "host: new key into /sys/class/nvme/nvme0/dhchap_secret (re-authentication)"
    echo "$new" > /sys/class/nvme/nvme0/dhchap_secret
    local i ok=no
    for i in $(seq 50); do
        if [ "$(nlogged "$who [0-2]\\): re-authenticated")" -ge 3 ]; then ok=yes; break; fi
        sleep 0.2
    done
    expect_eq "admin and I/O queues re-authenticated with the new key" "$ok" yes
    check "fio write + verify after re-authentication" afio
    expect_eq "same controller after re-authentication" "$(cat /sys/class/nvme/nvme0/cntlid)" "$cntlid"
    check "disconnect" disconnect "$AUTH_NQN"
    check "reconnect with the old key refused" refused --dhchap-secret="$old" --dhchap-ctrl-secret="$CKEY"
    check "reconnect with the new key" aconnect --dhchap-secret="$new" --dhchap-ctrl-secret="$CKEY"
    check "fio write + verify with the new key" afio
    check "disconnect" disconnect "$AUTH_NQN"

    # The subsystem's key (gwcli subsystem change_key) as the controller key of a host
    # without one of its own.
    check "host controller key deleted through gwcli" \
        host_request gwcli host del_controller_key -n "$AUTH_NQN" -t "$hostnqn"
    check "subsystem key set through gwcli" host_request gwcli subsystem change_key -n "$AUTH_NQN" -k "$c3"
    check "bidirectional connect with the subsystem's key" aconnect --dhchap-secret="$new" --dhchap-ctrl-secret="$c3"
    check "fio write + verify (subsystem key)" afio
    check "disconnect" disconnect "$AUTH_NQN"
    check "the host's former controller key refused" refused --dhchap-secret="$new" --dhchap-ctrl-secret="$c1"
    host_request gateway-args >/dev/null
}
