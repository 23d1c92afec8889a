# ha-four: four gateways in one HA group, a multipath host connected to all
# four, fio write + crc32c verify on the four namespaces (one per home ANA
# group) throughout:
#   1. gw1 and gw2 SIGKILLed at once: the survivors gw3 and gw4 serve all four
#      groups (the host sees namespaces 1 and 2 through them); both restarted:
#      each gets its group back;
#   2. a random run of E2E_HA_EVENTS (default 20) events - kill, freeze, stop
#      (SIGTERM), restart, resume, blocklist - on random gateways, at most two
#      down at a time; after each, every namespace must be served through a
#      gateway that is up.  The seed (E2E_HA_SEED, default random) is printed.
#      At the end everything is restarted and every group goes home.
# Zero fio verify errors, zero I/O errors on the namespace heads.
CASE_DESC="HA, 4 gateways: two killed at once, then N random kill/freeze/stop/start/blocklist events; fio verify throughout"
CASE_GROUP=ha4
CASE_GATEWAYS=4
CASE_NS_SIZES="64M"
CASE_TARGETS=gateway
CASE_NEEDS="ceph gwcli"
CASE_TIMEOUT=900

guest() {
    local i
    check "connect to the four gateways" ha_connect_all
    for i in 1 2 3 4; do check "initially namespace $i through gw$i" ha_wait_served "$i" "$i" 30; done
    ha_fio_start
    sleep 4

    say "1. gw1 and gw2 SIGKILLed at once"
    check "gw1 and gw2 SIGKILLed" host_request gw kill 1 2
    check "namespace 1 through a survivor" ha_wait_served 1 "3 4" 40
    check "namespace 2 through a survivor" ha_wait_served 2 "3 4" 40
    check "namespace 3 still through gw3" ha_wait_served 3 3 5
    check "namespace 4 still through gw4" ha_wait_served 4 4 5
    say "groups 1 and 2 went to gw$(ha_served_by 1) and gw$(ha_served_by 2)"
    check "gw1 and gw2 restarted" host_request gw start 1 2
    for i in 1 2; do check "failback: namespace $i through gw$i" ha_wait_served "$i" "$i" 60; done
    check "fio still running, no failed round" ha_fio_running

    local seed=${E2E_HA_SEED:-$(( $(date +%s) % 32768 ))} events=${E2E_HA_EVENTS:-20}
    say "2. $events random events, seed $seed (E2E_HA_SEED=$seed reproduces the sequence)"
    RANDOM=$seed
    # state[i]: up | killed | stopped | frozen
    local state=(x up up up up) n ev g down up_list
    for n in $(seq "$events"); do
        down=0; for i in 1 2 3 4; do [ "${state[$i]}" = up ] || down=$((down + 1)); done
        g=$(( RANDOM % 4 + 1 ))
        case "${state[$g]}" in
            up)
                if [ "$down" -ge 2 ]; then ev=none
                else ev=$(echo kill freeze term blocklist | cut -d' ' -f$(( RANDOM % 4 + 1 ))); fi ;;
            killed|stopped) ev=start ;;
            frozen) ev=cont ;;
        esac
        [ "$ev" != none ] || { g=0; for i in 1 2 3 4; do [ "${state[$i]}" = up ] || { g=$i; break; }; done
                               case "${state[$g]}" in frozen) ev=cont ;; *) ev=start ;; esac; }
        say "event $n/$events: $ev gw$g"
        check "event $n: $ev gw$g" host_request gw "$ev" "$g"
        case "$ev" in
            kill) state[$g]=killed ;; term) state[$g]=stopped ;; freeze) state[$g]=frozen ;;
            start|cont|blocklist) state[$g]=up ;;
        esac
        up_list=; for i in 1 2 3 4; do [ "${state[$i]}" != up ] || up_list+="$i "; done
        sleep $(( RANDOM % 3 + 1 ))
        for i in 1 2 3 4; do
            check "event $n: namespace $i served through a gateway that is up ($up_list)" \
                ha_wait_served "$i" "$up_list" 90
        done
        check "event $n: fio still running, no failed round" ha_fio_running
    done
    say "restarting what is down"
    for i in 1 2 3 4; do
        case "${state[$i]}" in
            killed|stopped) check "gw$i restarted" host_request gw start "$i" ;;
            frozen) check "gw$i resumed" host_request gw cont "$i" ;;
        esac
    done
    for i in 1 2 3 4; do check "finally namespace $i through gw$i" ha_wait_served "$i" "$i" 90; done
    check "every fio write + verify round passed" ha_fio_stop
    check "no I/O error on a namespace head (dmesg)" ha_no_host_errors
}
