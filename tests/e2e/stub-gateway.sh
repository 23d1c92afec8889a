#!/usr/bin/env bash
# stub-gateway.sh - stands in for nvmeof-gateway when testing run-e2e.sh
# itself: accepts the gateway's command line, prints a "listening on" line
# per listener like the real daemon, serves nothing, exits 0 on SIGTERM.
#   E2E_GATEWAY=tests/e2e/stub-gateway.sh tests/e2e/run-e2e.sh BUILD discover
# STUB_EXIT_ON_TERM=N makes it exit N on SIGTERM (to test shutdown checks).
set -u
echo "stub-gateway: $*" >&2
disc=0.0.0.0:8009
while [ $# -gt 0 ]; do
    case "$1" in
        --listen) echo "stub-gateway: listening on $2" >&2; shift ;;
        --discovery) disc=$2; shift ;;
        --subsystem|--namespace|--host|--grpc|--reactors|--log-level) shift ;;
        *) echo "stub-gateway: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
echo "stub-gateway: discovery listening on $disc" >&2
trap 'echo "stub-gateway: SIGTERM" >&2; exit "${STUB_EXIT_ON_TERM:-0}"' TERM
while :; do sleep 1; done
