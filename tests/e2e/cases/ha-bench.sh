# ha-bench: the host-visible failover times of gateway-group HA, for
# tests/bench/bench-failover.sh (not in ORDER: a benchmark, not a test).
# Two gateways, a multipath host connected to both; a probe writes 4K blocks
# to namespace 1 (ANA group 1, home gw1) one after the other (fio, O_DIRECT,
# queue depth 1, at most 200 per second; 10-30 ms per write in the emulated
# guest), each completion logged in the guest's Unix time (ms).  Events on gw1,
# each followed by the wait until the
# host sees the group through the expected gateway:
#   E2E_BENCH_KILLS (10) x: SIGKILL, then restart (failback)
#   E2E_BENCH_PLANNED (5) x: SIGTERM (planned hand-over), then restart (failback)
# For each event: the time from the event (guest clock, just before asking
# the host) to the first write completed after the longest gap in completions
# that follows it - for a SIGKILL, the failover time as the host sees it; for
# a hand-over or failback, the longest I/O pause.  Lines "BENCH ..." carry the
# figures; bench-failover.sh collects them.  Kept for a timeline (with
# bench-failover.sh --keep, in the work directory): probe_lat.1.log, events,
# dmesg.txt (nvme_core debug messages: ANA states, reconnects) and clock
# ("unix-time uptime" at one moment, to place dmesg's times).
CASE_DESC="HA benchmark: host-visible failover / hand-over / failback pauses (tests/bench/bench-failover.sh)"
CASE_GROUP=ha-bench
CASE_GATEWAYS=2
CASE_NS_SIZES="64M"
CASE_TARGETS=gateway
CASE_NEEDS="ceph gwcli"
CASE_TIMEOUT=1500

guest() {
    local kills=${E2E_BENCH_KILLS:-10} planned=${E2E_BENCH_PLANNED:-5} k dev
    check "connect to both gateways" ha_connect_all
    check "namespace 1 through gw1" ha_wait_served 1 1 30
    dev=$(ha_head 1)
    # The host's ANA, reconnect and path decisions in dmesg (nvme_core's debug
    # messages, when the kernel has dynamic debug), for the per-event timeline.
    [ -e /sys/kernel/debug/dynamic_debug ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
    echo 'module nvme_core +p' > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true
    echo 'module nvme_tcp +p' > /sys/kernel/debug/dynamic_debug/control 2>/dev/null || true
    # The probe: fio, one 4K O_DIRECT write after another (queue depth 1),
    # each completion logged with the guest's Unix time in ms (log_unix_epoch),
    # the clock of the event marks.
    fio --name=probe --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
        --iodepth=1 --rate_iops=200 --size=32M --time_based --runtime=3000 --log_unix_epoch=1 \
        --write_lat_log=/tmp/probe --log_avg_msec=0 > /tmp/probe.out 2>&1 &
    local fpid=$!
    sleep 3
    : > /tmp/events
    ev() { # ev KIND: the event about to be asked for, at the guest's Unix time now (ms)
        local t=${EPOCHREALTIME/./}
        echo "$1 ${t:0:-3}" >> /tmp/events
    }
    for k in $(seq "$kills"); do
        ev kill;     check "kill $k: gw1 SIGKILLed" host_request gw kill 1
        check "kill $k: namespace 1 through gw2" ha_wait_served 1 2 30
        sleep 1
        ev failback; check "kill $k: gw1 restarted" host_request gw start 1
        check "kill $k: failback to gw1" ha_wait_served 1 1 60
        sleep 1
    done
    for k in $(seq "$planned"); do
        ev handover; check "planned $k: gw1 stopped by SIGTERM" host_request gw term 1
        check "planned $k: namespace 1 through gw2" ha_wait_served 1 2 30
        sleep 1
        ev failback; check "planned $k: gw1 restarted" host_request gw start 1
        check "planned $k: failback to gw1" ha_wait_served 1 1 60
        sleep 1
    done
    ev end
    kill -INT "$fpid"; wait "$fpid" || true
    grep -E 'err=|IOPS=' /tmp/probe.out || cat /tmp/probe.out
    # dmesg's clock (seconds since boot) against the Unix time, for the timeline.
    echo "$EPOCHREALTIME $(cut -d' ' -f1 /proc/uptime)" > /tmp/clock
    dmesg > /tmp/dmesg.txt
    cp /tmp/probe_lat.1.log /tmp/events /tmp/clock /tmp/dmesg.txt /host/ 2>/dev/null || true   # (kept in the work directory: bench-failover.sh --keep)
    check "fio wrote its latency log" test -s /tmp/probe_lat.1.log
    check "fio saw no error" grep -q 'err= 0' /tmp/probe.out
    # lat log: "time_ms, latency_ns, ddir, bs, offset[, prio]" per write, time
    # of the completion in Unix ms.  Per event window [event, next event): the
    # longest time from the event or a completion to the next completion.
    awk '
        FILENAME == "/tmp/events" { kind[++ne] = $1; at[ne] = $2; next }
        { sub(/,.*/, "", $1); c[++nc] = $1 + 0 }
        END {
            for (e = 1; e < ne; e++) {
                s = at[e]; end_ = at[e + 1]; best = 0; last = s
                for (j = 1; j <= nc; j++) {
                    if (c[j] <= s) continue
                    if (c[j] >= end_) break
                    d = c[j] - last; if (d > best) best = d
                    last = c[j]
                }
                printf "BENCH %s %.3f\n", kind[e], best / 1000
            }
        }' /tmp/events /tmp/probe_lat.1.log | tee /tmp/bench.out
    local kind
    for kind in kill handover failback; do
        awk -v k="$kind" '$2 == k { print $3 }' /tmp/bench.out | sort -n | awk -v k="$kind" '
            { v[NR] = $1 } END { if (NR) printf "BENCH-SUMMARY %s n=%d median=%.2f max=%.2f min=%.2f\n", k, NR,
                (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR], v[1] }'
    done
    check "no I/O error on a namespace head (dmesg)" ha_no_host_errors
}
