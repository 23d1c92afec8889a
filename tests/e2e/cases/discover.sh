# discover: the discovery service on the discovery port and on the I/O port.
CASE_DESC="nvme discover via the discovery port and via the I/O port"
CASE_GROUP=basic
CASE_TIMEOUT=120

guest() {
    # discovery_entry OUTPUT: "subnqn trsvcid trtype subtype" of each log entry
    discovery_entries() {
        awk '/^=====Discovery Log Entry/ { if (nqn != "") print nqn, svc, tr, st; nqn = svc = tr = st = ""; next }
            { i = index($0, ":"); if (i == 0) next
              k = substr($0, 1, i - 1); v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v) }
            k == "subnqn" { nqn = v } k == "trsvcid" { svc = v } k == "trtype" { tr = v }
            k == "subtype" { st = v; gsub(/ /, "_", st) }
            END { if (nqn != "") print nqn, svc, tr, st }'
    }
    local out entries port
    for port in "$E2E_DISC_PORT" "$E2E_IO_PORT"; do
        say "nvme discover -t tcp -a $E2E_HOST -s $port"
        out=$(nvme discover -t tcp -a "$E2E_HOST" -s "$port") || {
            echo "$out"; check "nvme discover via port $port" false; }
        echo "$out"
        entries=$(echo "$out" | discovery_entries)
        expect_match "discovery via port $port lists $E2E_NQN at trsvcid $E2E_IO_PORT over tcp" \
            "$(echo "$entries" | grep -F "$E2E_NQN " || echo "(no entry for $E2E_NQN)")" \
            "^$E2E_NQN $E2E_IO_PORT tcp nvme_subsystem\$"
    done
    # A discovery controller is not a block device: nothing may be left behind.
    expect_eq "no controller left after discover" "$(ls /sys/class/nvme | grep -c . || true)" 0
}
