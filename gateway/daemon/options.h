// Every setting of the daemon, each default written once (DaemonOptions), and how the
// three sources combine: defaults < configuration file (config.h) < command line.
//
//   ParseCommandLine(args)        the flags as given (CommandLine: unset = not given)
//   LoadGatewayConfig(path)       the file's settings over the defaults (config.h)
//   ResolveOptions(file, flags)   the effective settings: the file's (or the defaults when
//                                 there is no file), the flags over them, then the derived
//                                 values (host name, reactor count, the target's names)
//
// Pure functions of their arguments (ResolveOptions reads the host name and the CPU
// count); errors are InvalidArgument with the message the daemon prints before exiting 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/common/status.h"
#include "gateway/nvmf/target.h"
#include "gateway/runtime/reactor.h"

namespace nvmeof {

struct HostPort {
  std::string addr;  // without the brackets of "[::1]:4420"
  std::string port;
  bool operator==(const HostPort&) const = default;
};
// "ADDR:PORT" or "[ADDR]:PORT" (the last ':' separates); false when either part is empty.
bool SplitHostPort(const std::string& s, HostPort* out);

// A --subsystem given on the command line and the options that follow it.
struct SubsystemOption {
  std::string nqn, serial;
  std::vector<std::string> namespaces;  // device specs (rbd-backend/device_factory.h)
  std::vector<std::string> hosts;
  std::vector<std::pair<std::string, std::string>> psk_hosts;  // host NQN, TLS PSK (interchange format)
};

struct DaemonOptions {
  // ---------------------------------------------------------------- identity
  std::string name;      // this gateway's name; empty: the host name
  std::string hostname;  // listeners are matched against it; empty: gethostname()
  std::string group;     // gateway group: appended to subsystem NQNs, names the state object
  LogLevel log_level = LogLevel::kInfo;

  // ---------------------------------------------------------------- management API
  bool grpc_enabled = true;
  std::string grpc_addr = "0.0.0.0";
  std::string grpc_port = "5500";  // "0": any free port
  bool enable_auth = false;        // mutual TLS on the gRPC port
  std::string server_key = "./server.key";
  std::string client_key = "./client.key";
  std::string server_cert = "./server.crt";
  std::string client_cert = "./client.crt";
  std::string root_ca_cert;  // CA that signs client certificates; empty: client_cert
  bool verify_nqns = true;
  // Local addresses auto-listeners (subsystem network masks) may open on; empty: every
  // address of the interfaces that are up.
  std::vector<std::string> auto_listener_addresses;
  // ---------------------------------------------------------------- metrics
  // The Prometheus exporter on grpc_addr:prometheus_port (gateway/metrics). Off without a
  // configuration file unless --prometheus-port; a file turns it on, over HTTPS with
  // server_cert and server_key, unless it says otherwise (the reference's defaults).
  bool enable_prometheus_exporter = false;
  uint16_t prometheus_port = 10008;  // 0: any free port (logged)
  bool prometheus_exporter_ssl = false;  // HTTPS (server_cert, server_key) instead of HTTP
  uint32_t prometheus_stats_interval = 10;  // seconds a collection serves scrapes (0: none)
  std::vector<std::string> prometheus_bdev_pools;  // bdev metrics only for these pools; empty: all

  // ---------------------------------------------------------------- group state and Ceph
  // Pool of the group state object; empty: the state is kept in memory. A configuration
  // file names the reference's default pool (kConfigFileStatePool) unless it says otherwise.
  std::string state_pool;
  std::string ceph_conf = "/etc/ceph/ceph.conf";
  std::string ceph_id;  // cephx user without "client."; empty: admin
  uint32_t bdevs_per_cluster = 32;  // RBD images per RADOS connection
  bool state_update_notify = true;  // watch the state object (else poll only)
  uint32_t state_update_interval_sec = 5;
  uint32_t state_update_timeout_in_msec = 2000;
  uint32_t omap_file_lock_duration = 20;
  // Keys at rest (docs/state.md, "Keys at rest"): DH-HMAC-CHAP keys and PSKs are written to
  // the group state in RADOS encrypted with the key in `encryption_key` (the reference's
  // format; cephadm mounts it at /encryption.key). Without a key, hosts with keys are
  // refused (as the reference does) unless enable_key_encryption is false, which keeps keys
  // in clear. Nothing is at rest when the state is in memory: keys stay in this process.
  bool enable_key_encryption = true;
  std::string encryption_key;

  // ---------------------------------------------------------------- high availability
  // [gateway] ha = builtin: gateway-group HA with leases in the state pool (gateway/ha,
  // docs/ha.md); needs state_pool. none (the default): every ANA group stays OPTIMIZED
  // unless set_ana_state says otherwise.
  bool ha_builtin = false;
  uint32_t ha_lease_ms = 2000;           // lease duration; renewals and self-fence margin L/4
  uint32_t ha_failback_delay_ms = 0;     // home gateway seen alive this long before failback
  // Load balancing with ha = builtin (docs/ha.md "Load balancing"; the reference's names
  // and defaults): the leader rebalances every rebalance_period_sec (0: never), with at
  // most max_ns_to_change_lb_grp namespaces being moved at once.
  uint32_t rebalance_period_sec = 7;
  uint32_t max_ns_to_change_lb_grp = 8;
  // The reference's limits ([gateway] keys and defaults; api::ServiceOptions). [gateway]
  // max_namespaces is target.max_namespaces_per_gateway.
  uint32_t max_subsystems = 128;
  uint32_t max_namespaces_per_subsystem = 512;
  uint32_t max_hosts = 2048;
  uint32_t max_hosts_per_subsystem = 128;
  uint32_t max_hosts_per_namespace = 16;
  // [gateway] ha = monitor: the Ceph monitor client (Ceph >= 19) decides (monitor_group.h):
  // the gateway waits for its group_id on grpc_addr:grpc_port-1 before serving, every ANA
  // group is inaccessible until set_ana_state says otherwise. Excludes ha_builtin.
  bool ha_monitor = false;
  // [gateway] enable_monitor_client as the file gave it (the reference's default is true):
  // refused with ha = builtin when true; logged as not honoured with ha = none.
  std::optional<bool> enable_monitor_client;
  // The monitor client the gateway starts in monitor mode when enable_monitor_client is
  // true or not given ([gateway] monitor_client; the reference runs this path). When it
  // does not exist and enable_monitor_client is not given, the gateway waits for a client
  // started beside it.
  std::string monitor_client = "/usr/bin/ceph-nvmeof-monitor-client";
  // This gateway's ANA group once known (monitor mode: the monitor's group index + 1; ha =
  // builtin: its registered home group); 0: not assigned. get_gateway_info reports it;
  // without HA's load balancing, new namespaces without a group get it.
  uint32_t ana_group = 0;

  // ---------------------------------------------------------------- data plane
  bool discovery_enabled = true;
  HostPort discovery{"0.0.0.0", "8009"};
  int reactors = 0;  // 0: one per core
  uint32_t poll_window_us = kDefaultPollWindowUs;
  uint32_t shutdown_timeout = 10;  // seconds; 0 = wait for every RBD image to close
  // queue depth, controller ID range, I/O queues, in-capsule data size: the target's own
  // defaults (TargetOptions); gateway_name and group are set from the fields above.
  TargetOptions target;
  std::vector<HostPort> listen;  // I/O listeners of the command line's subsystems
  bool listen_secure = false;    // those listeners take TLS only (--secure)

  // ---------------------------------------------------------------- initial configuration
  std::vector<SubsystemOption> subsystems;
};

// The [ceph] pool a configuration file implies when it does not name one.
inline constexpr const char kConfigFileStatePool[] = "rbd";

// Command-line values as given; unset = take the configuration file's (or the default).
struct CommandLine {
  bool help = false;
  std::optional<std::string> config, grpc, name, hostname, group, state_pool, ceph_conf, ceph_id, discovery;
  std::optional<std::string> encryption_key;
  std::optional<std::vector<std::string>> auto_listener_addresses;
  std::optional<int> reactors;
  std::optional<uint16_t> min_cntlid, max_cntlid;
  std::optional<uint32_t> queue_depth, bdevs_per_cluster, in_capsule_data_size, poll_window_us, shutdown_timeout;
  std::optional<uint16_t> prometheus_port;  // --prometheus-port N (turns the exporter on)
  bool no_prometheus = false;               // --prometheus-port none
  std::optional<LogLevel> log_level;
  std::optional<std::vector<uint8_t>> dhchap_digests, dhchap_dhgroups;  // wire identifiers
  bool no_verify_nqns = false;
  bool secure = false;
  std::vector<HostPort> listens;
  std::vector<SubsystemOption> subsystems;
};

// The --help text.
const char* UsageText();

// Parses argv[1..] ("--opt value" or "--opt=value"). Errors name the flag and what it
// wants ("--reactors wants 1 to 256, not '0'").
Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The effective settings: `file` (the configuration file's settings, null when there is
// none) or the defaults, the flags over them, then derived values. Errors: a --grpc or
// --discovery that is neither ADDR:PORT nor "none".
Result<DaemonOptions> ResolveOptions(const DaemonOptions* file, const CommandLine& flags);

}  // namespace nvmeof
