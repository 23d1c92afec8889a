// The daemon's configuration file: the INI file cephadm renders for the reference gateway
// (ceph-nvmeof.conf), read the way Python's configparser reads it, plus this gateway's own
// [data-plane] section.
//
//   [gateway]       name, group, addr, port, enable_auth, state_update_notify,
//                   state_update_interval_sec, enable_prometheus_exporter, prometheus_port,
//                   verify_nqns, omap_file_lock_duration, override_hostname, ...
//   [gateway-logs]  log_level
//   [discovery]     addr, port
//   [ceph]          pool, config_file, id
//   [mtls]          server_key, client_key, server_cert, client_cert (root_ca_cert)
//   [data-plane]    reactors, queue_depth, cntlid_range, max_io_queues,
//                   in_capsule_data_size, bdevs_per_cluster, poll_window_us, listen,
//                   shutdown_timeout
//   [spdk], [monitor]   the reference's SPDK / monitor-client settings: accepted, ignored
//                   (one warning naming them), except [spdk] bdevs_per_cluster.
//
// Syntax (configparser): `[section]`, `key = value` or `key: value`, keys case-insensitive,
// full-line comments with '#' or ';', indented lines continue the previous value; booleans
// 1/yes/true/on and 0/no/false/off. Duplicate sections or keys, and values that do not
// parse, are errors naming the file and line. Unknown sections and keys are warnings (the
// reference's newer knobs must not stop a gateway from starting).
//
// Control path: may throw nothing; errors are Status values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/common/status.h"
#include "gateway/runtime/reactor.h"  // kDefaultPollWindowUs

namespace nvmeof {

struct GatewayConfig {
  // [gateway]
  std::string name;                 // empty: the host name
  std::string group;
  std::string addr = "0.0.0.0";     // gRPC
  uint16_t port = 5500;
  bool enable_auth = false;         // mTLS on the gRPC port
  bool state_update_notify = true;  // watch the state object (else poll only)
  uint32_t state_update_interval_sec = 5;
  uint32_t state_update_timeout_in_msec = 2000;
  bool enable_prometheus_exporter = true;
  uint16_t prometheus_port = 10008;
  bool verify_nqns = true;
  uint32_t omap_file_lock_duration = 20;
  std::string override_hostname;

  // [gateway-logs]
  LogLevel log_level = LogLevel::kInfo;

  // [discovery]
  std::string discovery_addr = "0.0.0.0";
  uint16_t discovery_port = 8009;

  // [ceph]
  std::string ceph_pool = "rbd";
  std::string ceph_config_file = "/etc/ceph/ceph.conf";
  std::string ceph_id;  // empty: "admin"

  // [mtls]
  std::string server_key = "./server.key";
  std::string client_key = "./client.key";
  std::string server_cert = "./server.crt";
  std::string client_cert = "./client.crt";
  std::string root_ca_cert;  // optional: CA that signs client certificates (else client_cert)

  // [data-plane] (this gateway's own section)
  int reactors = 0;  // 0: one per core
  uint32_t queue_depth = 128;
  uint16_t min_cntlid = 1, max_cntlid = 0xFFEF;
  uint32_t max_io_queues = 16;
  uint32_t in_capsule_data_size = 131072;
  uint32_t bdevs_per_cluster = 32;
  uint32_t poll_window_us = kDefaultPollWindowUs;
  uint32_t shutdown_timeout = 10;  // seconds (main.cc has the same default); 0 = wait for every close
  std::vector<std::string> listen;  // extra ADDR:PORT I/O listeners for --subsystem subsystems

  // Which keys the file set ("section.key"), e.g. to know whether [ceph] pool was given.
  std::vector<std::string> set_keys;
  bool IsSet(const std::string& section_dot_key) const;
};

// Parses `text` (named `filename` in messages). Warnings (unknown keys, ignored sections)
// are appended to *warnings. Errors: InvalidArgument "FILE:LINE: ...".
Result<GatewayConfig> ParseGatewayConfig(const std::string& text, const std::string& filename,
                                         std::vector<std::string>* warnings);
// Reads and parses a file (ENOENT/EACCES... when it cannot be read).
Result<GatewayConfig> LoadGatewayConfig(const std::string& path, std::vector<std::string>* warnings);

// Value parsers shared with the command line (false = not valid).
bool ParseConfigBool(const std::string& s, bool* out);
bool ParseConfigUint(const std::string& s, uint64_t max, uint64_t* out);
bool ParseCntlidRange(const std::string& s, uint16_t* lo, uint16_t* hi);
// "info", "INFO", "warning", "WARN", "20", ... (the reference's log levels).
bool ParseConfigLogLevel(const std::string& s, LogLevel* out);

}  // namespace nvmeof
