#!/usr/bin/env bash
# check-cephadm-config.sh GATEWAY_BIN GWCLI_BIN SOURCE_DIR: the gateway serves the
# configuration file cephadm renders for the reference gateway (label mgmt, no Ceph).
#
# tests/data/cephadm-ceph-nvmeof.conf is ceph's cephadm template
# (src/pybind/mgr/cephadm/templates/services/nvmeof/ceph-nvmeof.conf.j2) rendered by hand
# for a service spec with group group1, pool rbd, the default ports, mTLS (enable_auth) and
# the spec's defaults ([spdk] transport options, log files, monitor client). The test
# changes only what cephadm fills in per host: the addresses (127.0.0.1), the ports (free
# ones) and the [mtls] files (a CA, a server and a client certificate made here; cephadm
# mounts them at /server.key, ...); the state pool is overridden on the command line
# (--state-pool none: no Ceph here). Then:
#   1. the gateway becomes ready with the gRPC port on mutual TLS;
#   2. what it cannot honour is logged once, by name: the [spdk]/[monitor] sections with
#      their keys, the log-file keys, enable_monitor_client; no key is unknown, no warning
#      repeats;
#   3. gwcli with the client certificate gets `gw info` (name, group); without one it is
#      refused; the exporter answers /metrics over HTTP (prometheus_exporter_ssl = False);
#   4. SIGTERM: exit 0.
# Prints one line per failure and "N passed, N failed"; exits 77 (skipped) without openssl.
set -uo pipefail
GW=$(realpath "$1") GWCLI=$(realpath "$2") SRC=$(realpath "$3")
command -v openssl >/dev/null || { echo "SKIPPED: openssl is not installed"; exit 77; }
WORK=$(mktemp -d /tmp/nvmeof-cephadm-conf.XXXXXX)
PID=
cleanup() { [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
finish() { echo "cephadm-config: $PASSED passed, $FAILED failed"; ((FAILED == 0)); exit; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The mTLS material, as cephadm would mount it: a CA and two certificates it signs.
cd "$WORK"
{
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out root.ca.cert -days 2 -subj /CN=nvmeof-test-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext &&
  openssl x509 -req -in server.csr -CA root.ca.cert -CAkey ca.key -CAcreateserial -out server.cert -days 2 \
    -extfile server.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client.admin &&
  openssl x509 -req -in client.csr -CA root.ca.cert -CAkey ca.key -CAcreateserial -out client.cert -days 2
} >openssl.log 2>&1 || { cat openssl.log; fail "making the certificates"; finish; }

GRPC=$(free_port) DISC=$(free_port) PROM=$(free_port)
sed -e "s|^addr = .*|addr = 127.0.0.1|" -e "s|^port = 5500$|port = $GRPC|" -e "s|^port = 8009$|port = $DISC|" \
    -e "s|^prometheus_port = 10008$|prometheus_port = $PROM|" \
    -e "s#^\(server_key\|client_key\|server_cert\|client_cert\|root_ca_cert\) = /#\1 = $WORK/#" \
    "$SRC/tests/data/cephadm-ceph-nvmeof.conf" >ceph-nvmeof.conf
# Only those lines differ from the rendered file.
check "the test changed more than addresses, ports and [mtls] paths: $(diff "$SRC/tests/data/cephadm-ceph-nvmeof.conf" ceph-nvmeof.conf | grep '^>' | grep -vE '^> (addr|port|prometheus_port|server_key|client_key|server_cert|client_cert|root_ca_cert) = ')" \
  test -z "$(diff "$SRC/tests/data/cephadm-ceph-nvmeof.conf" ceph-nvmeof.conf | grep '^>' |
             grep -vE '^> (addr|port|prometheus_port|server_key|client_key|server_cert|client_cert|root_ca_cert) = ')"

# 1. Started as cephadm starts it (its file), no Ceph.
"$GW" --config "$WORK/ceph-nvmeof.conf" --state-pool none >gw.log 2>&1 &
PID=$!
for _ in $(seq 600); do  # up to a minute on a loaded machine
  grep -qE ' ready$' gw.log && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
check "the gateway did not become ready on the cephadm file: $(tail -3 gw.log)" grep -qE ' ready$' gw.log
[[ -n $(grep -E ' ready$' gw.log) ]] || finish
check "gRPC not on mutual TLS" grep -q "grpc listening on 127.0.0.1:$GRPC (mTLS)" gw.log

# 2. What it cannot honour: logged once, by name.
once() { [[ $(grep -cF -- "$1" gw.log) == 1 ]]; }
check "no single warning naming [spdk] and [monitor] with their keys: $(grep -F 'SPDK/monitor-only' gw.log)" \
  once "section(s) [spdk], [monitor]: [spdk] tgt_path, rpc_socket, timeout, log_level, protocol_log_level, conn_retries, transports, tgt_cmd_extra_args; [monitor] timeout ("
check "no single warning naming the log-file keys: $(grep -F 'not honoured by' gw.log)" \
  once "not honoured by this gateway, ignored: [gateway-logs] log_files_enabled, log_files_rotation_enabled, verbose_log_messages, max_log_file_size_in_mb, max_log_files_count, max_log_directory_backups, log_directory ("
check "no single warning about enable_monitor_client: $(grep -F enable_monitor_client gw.log)" \
  once "[gateway] enable_monitor_client = true: not honoured"
check "unknown keys or sections: $(grep -i unknown gw.log)" sh -c "! grep -qi unknown gw.log"
check "a warning repeats: $(grep WARN gw.log | cut -d' ' -f2- | sort | uniq -d)" \
  test -z "$(grep WARN gw.log | cut -d' ' -f2- | sort | uniq -d)"
echo "warnings:"; grep WARN gw.log | cut -d' ' -f2- | sed 's/^/  /'

# 3. Served: the API on mTLS, the exporter.
TLS=(--client-key client.key --client-cert client.cert --server-cert server.cert)
"$GWCLI" --server-address 127.0.0.1 --server-port "$GRPC" "${TLS[@]}" gw info >info.txt 2>&1
check "gwcli gw info with the client certificate: $(tail -3 info.txt)" \
  grep -q "Gateway's name: client.nvmeof.rbd.group1.host1.abcdef" info.txt
check "gw info does not give the group: $(cat info.txt)" grep -qi "group.*: group1" info.txt
"$GWCLI" --server-address 127.0.0.1 --server-port "$GRPC" --server-cert server.cert gw info >plain.txt 2>&1
check "gwcli without a client certificate was served" test $? -ne 0
check "the exporter does not answer /metrics" \
  sh -c "curl -sf http://127.0.0.1:$PROM/metrics | grep -q 'group=\"group1\"'"

# 4. Stop.
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
check "exit status $rc on SIGTERM" test "$rc" = 0
finish
