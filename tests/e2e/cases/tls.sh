# tls: NVMe/TCP over TLS 1.3 (TP 8011, pre-shared keys) with the Linux host: the kernel's
# nvme-tcp (CONFIG_NVME_TCP_TLS, Debian's 6.12 kernel, hence CASE_KERNEL) hands each queue's
# handshake to tlshd (ktls-utils, GnuTLS; from trixie: CASE_TLSHD, see nvme-vm.sh), which
# takes the PSK from the kernel's ".nvme" keyring and gives the session to kernel TLS.
#
# The subsystem is provisioned through gwcli: a secure listener (TLS only) on its own port
# and the host with a PSK made by nvme-cli (gen-tls-key). The guest loads into ".nvme" a key
# of type "psk" whose description is the PSK identity and whose payload is the TLS PSK (both
# derived on the host by the test host library's own code, nvmf-tls-psk; Linux 6.12 looks
# the key up by "NVMe1R<hh> <hostnqn> <subnqn>", then the version 0 identity), and connects
# through /dev/nvme-fabrics with "tls" (nvme-cli 2.3 has no --tls; nor does it name TREQ 5,
# "required" with SQ flow control disable: the raw discovery log page is read instead).
# Checked: with a SHA-256 PSK and identity version 1, a tlshd handshake per queue and fio
# write + crc32c verify (4K random, 128K and 256K sequential writes: R2T), again with header
# and data digests; the discovery log gives the listener TREQ "required" and sectype TLS
# 1.3; a plain connect and a wrong PSK (version 1: another digest; version 0: the same
# identity, another key) are refused, no controller left; identity version 0; DH-HMAC-CHAP
# inside TLS (the host has a DH-HMAC-CHAP key and a PSK): connect, fio verify, every queue
# authenticated in the gateway's log, a wrong or missing DH-HMAC-CHAP key refused; last a
# SHA-384 PSK: with a tlshd built against GnuTLS < 3.8.11, as trixie's is, only its refusal
# (such a tlshd makes SHA-256 binders for every PSK).
CASE_DESC="TLS 1.3 PSK with the Linux host (kernel TLS + tlshd): fio verify, digests, SHA-256/384, TREQ, refusals, with DH-HMAC-CHAP"
CASE_GROUP=tls
CASE_GRPC=yes
CASE_NEEDS="gwcli grpc tls-psk"
CASE_TARGETS=gateway
CASE_KERNEL=6.12
CASE_TLSHD=yes
CASE_TIMEOUT=900

# Runs on the host.
host_action() {
    local g=(${GWCLI_CMD} --server-address 127.0.0.1 --server-port "$GRPC_PORT")
    case $1 in
        tls-provision) # NQN HOSTNQN PSK: subsystem, secure listener on a new port, namespace, host
            local port
            port=$(free_port) &&
            "${g[@]}" subsystem add -n "$2" -s TLS00001 --no-group-append >/dev/null &&
            "${g[@]}" listener add -n "$2" -t "$(hostname)" -a 127.0.0.1 -s "$port" -f ipv4 --secure >/dev/null &&
            "${g[@]}" namespace add -n "$2" --memory-size 64M >/dev/null &&
            "${g[@]}" host add -n "$2" -t "$3" --psk "$4" >/dev/null &&
            echo "tls-port $port" ;;
        tls-derive) # PSK HOSTNQN SUBNQN VERSION: identity and TLS PSK (hex)
            "$BUILD_DIR/tests/host/nvmf-tls-psk" --psk "$2" --hostnqn "$3" --subnqn "$4" --identity-version "$5" ;;
        *) echo "unknown request $1"; exit 2 ;;
    esac
}

guest() {
    local TLS_NQN=nqn.2016-06.io.nvmeof-gateway:tls-sub hostnqn hostid TLS_PORT
    hostnqn=$(cat /etc/nvme/hostnqn); hostid=$(cat /etc/nvme/hostid)
    command -v tlshd >/dev/null && command -v keyctl >/dev/null \
        || skip "no tlshd/keyctl in the guest (nvme-vm.sh NVME_VM_TLSHD=1)"
    keyctl show %:.nvme >/dev/null 2>&1 || modprobe nvme-keyring 2>/dev/null
    keyctl show %:.nvme >/dev/null 2>&1 || skip "this kernel ($(uname -r)) has no .nvme keyring (CONFIG_NVME_TCP_TLS)"

    say "starting tlshd"
    tlshd -s > /tmp/tlshd.log 2>&1 &
    local i
    for i in $(seq 50); do grep -q "linked into our session keyring" /tmp/tlshd.log && break; sleep 0.2; done
    cat /tmp/tlshd.log
    check "tlshd linked the .nvme keyring" grep -q "Keyring '.nvme' linked" /tmp/tlshd.log

    local k256 k384 wrong
    k256=$(nvme gen-tls-key -m 1); k384=$(nvme gen-tls-key -m 2); wrong=$(nvme gen-tls-key -m 1)
    expect_match "nvme gen-tls-key makes interchange PSKs" "${k384:0:16}" '^NVMeTLSkey-1:02:'

    local out
    out=$(host_request tls-provision "$TLS_NQN" "$hostnqn" "$k256")
    printf '%s\n' "$out"
    TLS_PORT=$(printf '%s\n' "$out" | awk '$1 == "tls-port" { print $2 }')
    expect_match "subsystem with a secure listener provisioned through gwcli" "$TLS_PORT" '^[0-9]+$'

    # psk_load PSK VERSION [HOSTPSK]: the .nvme keyring holds only the key for PSK's identity
    # of that version; with HOSTPSK, that identity carries HOSTPSK's TLS PSK instead.
    psk_load() {
        local d id hex
        d=$(host_request tls-derive "$1" "$hostnqn" "$TLS_NQN" "$2" | grep -v '^\[e2e ') || return 1
        id=$(printf '%s\n' "$d" | sed -n 1p)
        if [ -n "${3:-}" ]; then
            d=$(host_request tls-derive "$3" "$hostnqn" "$TLS_NQN" "$2" | grep -v '^\[e2e ') || return 1
        fi
        hex=$(printf '%s\n' "$d" | sed -n 2p)
        [ -n "$id" ] && [ -n "$hex" ] || { echo "no identity/key derived"; return 1; }
        keyctl clear %:.nvme
        say "key '$id' into .nvme"
        printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')" | keyctl padd psk "$id" %:.nvme >/dev/null
    }
    # fabrics_connect OPTIONS: "nvme connect" by hand (/dev/nvme-fabrics), TLS port.
    fabrics_connect() {
        local opts="transport=tcp,traddr=$E2E_HOST,trsvcid=$TLS_PORT,nqn=$TLS_NQN,hostnqn=$hostnqn,hostid=$hostid,$1"
        local reply=""
        say "/dev/nvme-fabrics: $opts"
        exec 5<>/dev/nvme-fabrics || return 1
        if ! printf '%s' "$opts" >&5; then exec 5>&-; return 1; fi
        read -r reply <&5 || true
        exec 5>&-
        say "connected: $reply"
    }
    tconnect() { # tconnect [MORE-OPTIONS]: TLS, 2 I/O queues, waits for the namespace
        fabrics_connect "nr_io_queues=2,tls${1:+,$1}" && wait-dev /dev/nvme0n1 15 && wait_state live 10 \
            || { grep -v 'priority string' /tmp/tlshd.log | tail -5; return 1; }
    }
    refused() { # refused OPTIONS: the connect fails, no controller stays
        if fabrics_connect "$1" 2>&1; then echo "connect succeeded"; return 1; fi
        local i
        for i in $(seq 50); do [ -e /sys/class/nvme/nvme0 ] || return 0; sleep 0.2; done
        echo "a controller is left: $(ctrl_state)"; return 1
    }
    tfio() { # 4K random writes, 128K (in-capsule) and 256K (R2T) sequential, crc32c verify
        run_fio --name=t4k --filename=/dev/nvme0n1 --rw=randwrite --bs=4k --iodepth=16 --size=4M \
            --verify=crc32c --verify_fatal=1 &&
        run_fio --name=t128k --filename=/dev/nvme0n1 --rw=write --bs=128k --iodepth=8 --size=8M \
            --offset=8M --verify=crc32c --verify_fatal=1 &&
        run_fio --name=t256k --filename=/dev/nvme0n1 --rw=write --bs=256k --iodepth=8 --size=16M \
            --offset=16M --verify=crc32c --verify_fatal=1
    }
    handshakes() { grep -c "Handshake with .* was successful" /tmp/tlshd.log || true; }
    logged() { host_request gateway-log-grep-current "$1" >/dev/null; }
    nlogged() { { host_request gateway-log-grep-current "$1" || true; } | { grep -vc '^\[e2e ' || true; }; }

    # SHA-256 PSK, identity version 1 (what 6.12 looks up first).
    check "SHA-256 PSK, identity version 1, into .nvme" psk_load "$k256" 1
    local h0; h0=$(handshakes)
    check "TLS connect (SHA-256, identity version 1)" tconnect
    expect_eq "queues on TLS (tlshd handshakes: admin + 2 I/O)" "$(( $(handshakes) - h0 ))" 3
    expect_eq "I/O queues" "$(cat /sys/class/nvme/nvme0/queue_count)" 3
    check "fio write + verify over TLS" tfio
    check "disconnect" disconnect "$TLS_NQN"

    check "TLS connect with header and data digests" tconnect hdr_digest,data_digest
    check "fio write + verify over TLS with digests" tfio
    check "disconnect" disconnect "$TLS_NQN"

    # Discovery (plain discovery port): the secure listener's TREQ and TSAS. nvme-cli 2.3
    # names only TREQ values 0, 1, 2 and 4 ("unrecognized" for 5, required with SQ flow
    # control disable), so TREQ is read from the raw log page: entry i at 1024 * (i + 1),
    # TREQ its byte 3 (bits 1:0 = 01b: required), TRSVCID bytes 32..63, SUBNQN 256..511.
    local out entry treq
    out=$(nvme discover -t tcp -a "$E2E_HOST" -s "$E2E_DISC_PORT")
    nvme discover -t tcp -a "$E2E_HOST" -s "$E2E_DISC_PORT" -r /tmp/disc.raw >/dev/null
    printf '%s\n' "$out" | grep -v '^$' || true
    entry=$(printf '%s\n' "$out" | awk -v n="$TLS_NQN" -v p="$TLS_PORT" '
        /^=+Discovery Log Entry/ { if (hit) exit; blk = ""; s = ""; q = "" }
        { blk = blk $0 "\n" }
        $1 == "subnqn:" && $2 == n { s = 1 }
        $1 == "trsvcid:" && $2 == p { q = 1 }
        s && q { hit = 1 }
        END { if (hit) printf "%s", blk }')
    expect_match "discovery: the secure listener's sectype is TLS 1.3" "$(printf '%s\n' "$entry" | grep '^sectype:')" 'tls1\.?3'
    local n i
    n=$(od -An -tu8 -j 8 -N 8 /tmp/disc.raw | tr -d ' ')
    for i in $(seq 0 $((n - 1))); do
        [ "$(dd if=/tmp/disc.raw bs=1 skip=$((1024 * (i + 1) + 32)) count=32 2>/dev/null | tr -d '\0 ')" = "$TLS_PORT" ] &&
        [ "$(dd if=/tmp/disc.raw bs=1 skip=$((1024 * (i + 1) + 256)) count=256 2>/dev/null | tr -d '\0')" = "$TLS_NQN" ] || continue
        treq=$(od -An -tu1 -j $((1024 * (i + 1) + 3)) -N 1 /tmp/disc.raw | tr -d ' ')
    done
    expect_eq "discovery: the secure listener's TREQ secure channel is required (bits 1:0)" "$(( ${treq:-0} & 3 ))" 1

    # Refusals.
    check "plain (non-TLS) connect to the secure listener refused" refused "nr_io_queues=1"
    check "the gateway logged the plain connection" logged "refused: not a TLS connection"
    check "wrong PSK refused (identity version 1: its digest names another PSK)" \
        eval 'psk_load "$wrong" 1 && refused "nr_io_queues=1,tls"'
    check "wrong PSK refused (identity version 0: the right identity, another key)" \
        eval 'psk_load "$k256" 0 "$wrong" && refused "nr_io_queues=1,tls"'
    check "the gateway logged failed handshakes" logged "TLS handshake with .* failed"
    check "the gateway never logged a key" eval '! logged "NVMeTLSkey"'

    # Identity version 0 (the kernel's second choice), SHA-256.
    check "SHA-256 PSK, identity version 0, into .nvme" psk_load "$k256" 0
    check "TLS connect (SHA-256, identity version 0)" tconnect
    check "fio write + verify over TLS (identity version 0)" run_fio --name=v0 --filename=/dev/nvme0n1 \
        --rw=randwrite --bs=4k --iodepth=16 --size=4M --verify=crc32c --verify_fatal=1
    check "disconnect" disconnect "$TLS_NQN"

    # DH-HMAC-CHAP inside TLS: the host gets a DH-HMAC-CHAP key as well.
    local dh wrongdh
    dh=$(nvme gen-dhchap-key -m 1); wrongdh=$(nvme gen-dhchap-key -m 1)
    check "host DH-HMAC-CHAP key added through gwcli (PSK kept)" \
        host_request gwcli host change_key -n "$TLS_NQN" -t "$hostnqn" -k "$dh"
    check "TLS + DH-HMAC-CHAP connect" tconnect "dhchap_secret=$dh"
    local who="subsystem $TLS_NQN host $hostnqn \\(controller [0-9]+, queue"
    expect_eq "queues authenticated with DH-HMAC-CHAP inside TLS" \
        "$(nlogged "$who [0-2]\\): authenticated \\(DH-HMAC-CHAP")" 3
    check "fio write + verify over TLS + DH-HMAC-CHAP" tfio
    check "disconnect" disconnect "$TLS_NQN"
    check "TLS with a wrong DH-HMAC-CHAP key refused" refused "nr_io_queues=1,tls,dhchap_secret=$wrongdh"
    check "TLS without the DH-HMAC-CHAP key refused" refused "nr_io_queues=1,tls"

    # A SHA-384 PSK: TLS_AES_256_GCM_SHA384 with SHA-384 binders (TP 8011). tlshd sets the
    # binders' hash only when built with GnuTLS >= 3.8.11
    # (gnutls_psk_allocate_client_credentials2); before, every binder is HMAC-SHA256, which
    # no SHA-384 PSK can match: the gateway refuses the ClientHello ("bad extension"), as an
    # OpenSSL-based target such as SPDK does.
    check "host PSK replaced through gwcli (SHA-384)" eval \
        'host_request gwcli host del -n "$TLS_NQN" -t "$hostnqn" && host_request gwcli host add -n "$TLS_NQN" -t "$hostnqn" --psk "$k384"'
    check "SHA-384 PSK, identity version 1, into .nvme" psk_load "$k384" 1
    if grep -q gnutls_psk_allocate_client_credentials2 /opt/*/usr/sbin/tlshd; then
        check "TLS connect (SHA-384: TLS_AES_256_GCM_SHA384)" tconnect
        check "fio write + verify over TLS (SHA-384)" tfio
        check "disconnect" disconnect "$TLS_NQN"
    else
        say "this tlshd (GnuTLS < 3.8.11) makes SHA-256 binders only: a SHA-384 PSK cannot work"
        check "SHA-384 PSK with SHA-256 binders refused" refused "nr_io_queues=1,tls"
        check "the gateway logged the binder's length mismatch" logged "TLS handshake with .* failed: bad extension"
    fi
    grep -v "priority string" /tmp/tlshd.log | tail -3
}
