# ha-bench: the host-visible failover times of gateway-group HA, for
# tests/bench/bench-failover.sh (not in ORDER: a benchmark, not a test).
# Two gateways, a multipath host connected to both; a probe writes 4K blocks
# to namespace 1 (ANA group 1, home gw1) one after the other (dd oflag=direct,
# queue depth 1; 10-30 ms per write in the emulated guest), stamping each
# completion with /proc/uptime (10 ms resolution).  Events on gw1, each followed by the wait until the
# host sees the group through the expected gateway:
#   E2E_BENCH_KILLS (10) x: SIGKILL, then restart (failback)
#   E2E_BENCH_PLANNED (5) x: SIGTERM (planned hand-over), then restart (failback)
# For each event: the time from the event (guest clock, just before asking
# the host) to the first write completed after the longest gap in completions
# that follows it - for a SIGKILL, the failover time as the host sees it; for
# a hand-over or failback, the longest I/O pause.  Lines "BENCH ..." carry the
# figures; bench-failover.sh collects them.
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
    # The probe: one 4K O_DIRECT write after another (dd, queue depth 1), each
    # completion stamped with /proc/uptime, the clock of the event marks.
    dd if=/dev/urandom of=/tmp/blk bs=4k count=1 status=none
    ( set +eE; trap - ERR
      i=0; : > /tmp/wlog; rm -f /tmp/wstop
      while [ ! -e /tmp/wstop ]; do
          dd if=/tmp/blk of="$dev" bs=4k count=1 seek=$((i % 8192)) oflag=direct status=none
          rc=$?
          read -r up _ < /proc/uptime
          echo "$up $rc" >> /tmp/wlog
          i=$((i + 1))
      done ) &
    local wpid=$!
    sleep 3
    : > /tmp/events
    ev() { # ev KIND: the event about to be asked for, at the guest's time now
        echo "$1 $(e2e_now)" >> /tmp/events
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
    touch /tmp/wstop; wait "$wpid" || true
    cp /tmp/wlog /tmp/events /host/ 2>/dev/null || true   # (kept in the work directory: bench-failover.sh --keep)
    say "probe: $(wc -l < /tmp/wlog) writes, $(awk '$2 != 0' /tmp/wlog | wc -l) failed"
    check "every probe write succeeded" awk '$2 != 0 { exit 1 }' /tmp/wlog
    # Per event window [event, next event): the longest time from the event or
    # a completion to the next completion.
    awk '
        FILENAME == "/tmp/events" { kind[++ne] = $1; at[ne] = $2; next }
        { c[++nc] = $1 + 0 }
        END {
            for (e = 1; e < ne; e++) {
                s = at[e]; end_ = at[e + 1]; best = 0; last = s
                for (j = 1; j <= nc; j++) {
                    if (c[j] <= s) continue
                    if (c[j] >= end_) break
                    d = c[j] - last; if (d > best) best = d
                    last = c[j]
                }
                printf "BENCH %s %.2f\n", kind[e], best
            }
        }' /tmp/events /tmp/wlog | tee /tmp/bench.out
    local kind
    for kind in kill handover failback; do
        awk -v k="$kind" '$2 == k { print $3 }' /tmp/bench.out | sort -n | awk -v k="$kind" '
            { v[NR] = $1 } END { if (NR) printf "BENCH-SUMMARY %s n=%d median=%.2f max=%.2f min=%.2f\n", k, NR,
                (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR], v[1] }'
    done
    check "no I/O error on a namespace head (dmesg)" ha_no_host_errors
}
