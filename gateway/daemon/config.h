// The daemon's configuration file: the INI file cephadm renders for the reference gateway
// (ceph-nvmeof.conf), read the way Python's configparser reads it, plus this gateway's own
// [data-plane] section.
//
//   [gateway]       name, group, addr, port, enable_auth, state_update_notify,
//                   state_update_interval_sec, enable_prometheus_exporter (default true in
//                   a file), prometheus_port, prometheus_exporter_ssl (default true in a
//                   file: HTTPS with [mtls] server_cert and server_key),
//                   prometheus_stats_interval, prometheus_bdev_pools,
//                   verify_nqns, omap_file_lock_duration, override_hostname,
//                   enable_key_encryption, encryption_key, auto_listener_addresses, ...
//   [gateway-logs]  log_level
//   [discovery]     addr, port
//   [ceph]          pool, config_file, id
//   [mtls]          server_key, client_key, server_cert, client_cert (root_ca_cert)
//   [data-plane]    reactors, queue_depth, cntlid_range, max_io_queues,
//                   in_capsule_data_size, bdevs_per_cluster, poll_window_us, listen,
//                   shutdown_timeout
//   [spdk], [monitor]   the reference's SPDK / monitor-client settings: accepted, ignored
//                   (one warning naming the sections and their keys), except [spdk]
//                   bdevs_per_cluster and transport_tcp_options (its in_capsule_data_size,
//                   max_io_qpairs_per_ctrlr, max_queue_depth; [data-plane] wins).
// The reference's keys this gateway accepts but does not implement (gateway-wide limits,
// log files) are named in one warning when set; its keys about its own
// machinery (SPDK ping, lock retries, caches) are accepted silently.
//
// Syntax (configparser): `[section]`, `key = value` or `key: value`, keys case-insensitive,
// full-line comments with '#' or ';', indented lines continue the previous value; booleans
// 1/yes/true/on and 0/no/false/off. Duplicate sections or keys, and values that do not
// parse, are errors naming the file and line. Unknown sections and keys are warnings (the
// reference's newer knobs must not stop a gateway from starting). Each key sets one field
// of DaemonOptions (options.h), which holds its default.
//
// Control path: may throw nothing; errors are Status values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/daemon/options.h"

namespace nvmeof {

// Parses `text` (named `filename` in messages) into the settings it gives over the
// defaults of DaemonOptions ([ceph] pool defaults to kConfigFileStatePool, the exporter is
// on). Warnings
// (unknown keys, ignored sections) are appended to *warnings. Errors: InvalidArgument
// "FILE:LINE: ...".
Result<DaemonOptions> ParseGatewayConfig(const std::string& text, const std::string& filename,
                                         std::vector<std::string>* warnings);
// Reads and parses a file (ENOENT/EACCES... when it cannot be read).
Result<DaemonOptions> LoadGatewayConfig(const std::string& path, std::vector<std::string>* warnings);

// Value parsers shared with the command line (false = not valid).
bool ParseConfigBool(const std::string& s, bool* out);
bool ParseConfigUint(const std::string& s, uint64_t max, uint64_t* out);
// "MIN-MAX" within 1-65519, both whole numbers (blanks around them allowed, nothing else).
bool ParseCntlidRange(const std::string& s, uint16_t* lo, uint16_t* hi);
// "ADDR,ADDR,...": numeric IPv4 or IPv6 addresses (blanks around them allowed); *why says
// which one is not.
bool ParseAddressList(const std::string& s, std::vector<std::string>* out, std::string* why);

}  // namespace nvmeof
