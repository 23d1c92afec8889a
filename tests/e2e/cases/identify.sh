# identify: connect, nvme list, Identify Controller / Namespace, namespace
# identification descriptors, ANA log, number of I/O queues.
CASE_DESC="connect + nvme list + id-ctrl + id-ns + ns-descs + ana-log + I/O queues"
CASE_GROUP=basic
CASE_TIMEOUT=120

guest() {
    local size=${E2E_NS_SIZES%% *}
    check "connect with 2 I/O queues" connect --nr-io-queues=2
    check "controller is live" wait_state live 10

    local list; list=$(nvme list); echo "$list"
    expect_match "nvme list shows /dev/nvme0n1" "$(echo "$list" | grep /dev/nvme0n1 || true)" "nvme0n1"

    # Identify Controller
    local idc; idc=$(nvme id-ctrl /dev/nvme0)
    echo "$idc" | grep -E '^(vid|ssvid|sn|mn|fr|rab|ieee|cmic|mdts|cntlid|ver|oacs|aerl|lpa|sqes|cqes|nn|oncs|vwc|sgls|anacap|anagrpmax|nanagrpid|subnqn|ioccsz|iorcsz|icdoff|maxcmd) '
    expect_eq "id-ctrl subnqn" "$(echo "$idc" | nvme_field subnqn)" "$E2E_NQN"
    expect_match "id-ctrl mn is set" "$(echo "$idc" | nvme_field mn)" '[^ ]'
    expect_match "id-ctrl sn is set" "$(echo "$idc" | nvme_field sn)" '[^ ]'
    expect_eq "id-ctrl cntlid matches sysfs" "$(( $(echo "$idc" | nvme_field cntlid) ))" \
        "$(cat /sys/class/nvme/nvme0/cntlid)"
    expect_eq "sysfs subsysnqn" "$(cat /sys/class/nvme/nvme0/subsysnqn)" "$E2E_NQN"
    expect_eq "sysfs transport" "$(cat /sys/class/nvme/nvme0/transport)" tcp
    local cmic; cmic=$(( $(echo "$idc" | nvme_field cmic) ))
    check "id-ctrl cmic has ANA reporting (bit 3, cmic=$cmic)" test $(( cmic & 8 )) -ne 0

    # Identify Namespace: size = nsze * block size of the LBA format in use.
    local idn nsze lbads
    idn=$(nvme id-ns /dev/nvme0n1); echo "$idn" | grep -E '^(nsze|ncap|nuse|nsfeat|nlbaf|flbas|nmic|anagrpid|nguid|eui64|lbaf .*in use)'
    nsze=$(( $(echo "$idn" | nvme_field nsze) ))
    lbads=$(echo "$idn" | sed -n 's/.*lbads:\([0-9]*\).*(in use).*/\1/p')
    expect_match "id-ns has an LBA format in use" "${lbads:-none}" '^[0-9]+$'
    expect_eq "id-ns nsze * block size = namespace size" "$(( nsze << lbads ))" "$size"
    expect_eq "block device size" "$(dev_bytes nvme0n1)" "$size"
    expect_eq "logical block size in sysfs" "$(cat /sys/block/nvme0n1/queue/logical_block_size)" "$((1 << lbads))"

    # Namespace identification descriptors: a UUID, consistent with sysfs.
    local descs uuid nguid
    descs=$(nvme ns-descs /dev/nvme0n1); echo "$descs"
    uuid=$(echo "$descs" | nvme_field uuid)
    nguid=$(echo "$descs" | nvme_field nguid)
    expect_match "ns-descs has a UUID" "${uuid:-none}" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    expect_eq "UUID equals /sys/block/nvme0n1/uuid" "$uuid" "$(cat /sys/block/nvme0n1/uuid)"
    if [ -n "$nguid" ]; then
        expect_eq "ns-descs NGUID equals id-ns nguid" "$nguid" "$(echo "$idn" | nvme_field nguid)"
        expect_eq "NGUID equals /sys/block/nvme0n1/nguid" "$nguid" "$(tr -d '-' < /sys/block/nvme0n1/nguid)"
    fi

    # ANA: the namespace is in an optimized group.
    local ana grp
    ana=$(nvme ana-log /dev/nvme0); echo "$ana"
    grp=$(( $(echo "$idn" | nvme_field anagrpid) ))
    expect_match "ana-log: group $grp (of nsid 1) is optimized and lists nsid 1" \
        "$(echo "$ana" | awk -F: -v g="$grp" '{ k = $1; gsub(/[ \t]/, "", k); v = $2; gsub(/[ \t]/, "", v) }
            k == "grpid" { cur = (v == g) } cur && k == "state" { st = v } cur && k == "nsid" { ns = ns " " v }
            END { print st ":" ns }')" '^optimized:.* 1( |$)'
    if [ -e /sys/block/nvme0c0n1/ana_state ]; then
        expect_eq "sysfs ana_state of the path" "$(cat /sys/block/nvme0c0n1/ana_state)" optimized
    fi

    # I/O queues: queue_count counts the admin queue too.
    expect_eq "queue_count (admin + 2 I/O queues)" "$(cat /sys/class/nvme/nvme0/queue_count)" 3

    check "disconnect" disconnect
}
