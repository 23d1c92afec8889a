// The daemon's configuration file: see config.h.
#include "gateway/daemon/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "gateway/common/strings.h"

namespace nvmeof {

namespace {

// One key of one section: how to store its value (false + *why on a bad value).
using Setter = std::function<bool(GatewayConfig&, const std::string&, std::string* why)>;

Setter Str(std::string GatewayConfig::*m) {
  return [m](GatewayConfig& c, const std::string& v, std::string*) {
    c.*m = v;
    return true;
  };
}
Setter Bool(bool GatewayConfig::*m) {
  return [m](GatewayConfig& c, const std::string& v, std::string* why) {
    if (!ParseConfigBool(v, &(c.*m))) {
      *why = "not a boolean (true/false, yes/no, on/off, 1/0)";
      return false;
    }
    return true;
  };
}
template <typename T>
Setter Uint(T GatewayConfig::*m, uint64_t min, uint64_t max) {
  return [m, min, max](GatewayConfig& c, const std::string& v, std::string* why) {
    uint64_t x;
    if (!ParseConfigUint(v, max, &x) || x < min) {
      *why = "not an integer from " + std::to_string(min) + " to " + std::to_string(max);
      return false;
    }
    c.*m = static_cast<T>(x);
    return true;
  };
}
Setter Port(uint16_t GatewayConfig::*m) { return Uint(m, 1, 65535); }
Setter Ignored() {
  return [](GatewayConfig&, const std::string&, std::string*) { return true; };
}

struct Section {
  std::map<std::string, Setter> keys;
  bool ignored = false;  // a reference-only section (one warning)
};

const std::map<std::string, Section>& Schema() {
  static const std::map<std::string, Section> schema = [] {
    std::map<std::string, Section> s;
    auto& g = s["gateway"].keys;
    g["name"] = Str(&GatewayConfig::name);
    g["group"] = Str(&GatewayConfig::group);
    g["addr"] = Str(&GatewayConfig::addr);
    g["port"] = Port(&GatewayConfig::port);
    g["enable_auth"] = Bool(&GatewayConfig::enable_auth);
    g["state_update_notify"] = Bool(&GatewayConfig::state_update_notify);
    g["state_update_interval_sec"] = Uint(&GatewayConfig::state_update_interval_sec, 1, 86400);
    g["state_update_timeout_in_msec"] = Uint(&GatewayConfig::state_update_timeout_in_msec, 1, 3600000);
    g["enable_prometheus_exporter"] = Bool(&GatewayConfig::enable_prometheus_exporter);
    g["prometheus_port"] = Port(&GatewayConfig::prometheus_port);
    g["verify_nqns"] = Bool(&GatewayConfig::verify_nqns);
    g["omap_file_lock_duration"] = Uint(&GatewayConfig::omap_file_lock_duration, 1, 3600);
    g["override_hostname"] = Str(&GatewayConfig::override_hostname);
    // The reference's knobs with no meaning here (SPDK process, monitor client, its own
    // lock retry loop): accepted silently so that a cephadm-rendered file loads cleanly.
    for (const char* k :
         {"enable_spdk_discovery_controller", "prometheus_exporter_ssl", "prometheus_stats_interval",
          "omap_file_lock_retries", "omap_file_lock_retry_sleep_interval", "omap_file_update_reloads",
          "allowed_consecutive_spdk_ping_failures", "spdk_ping_interval_in_seconds", "ping_spdk_under_lock",
          "enable_monitor_client", "max_hosts_per_namespace", "max_namespaces_with_netmask",
          "max_subsystems", "max_namespaces", "max_hosts_per_subsystem", "max_namespaces_per_subsystem",
          "rebalance_period_sec", "max_gws_in_grp", "max_ns_to_change_lb_grp", "break_update_interval_sec",
          "enable_key_encryption", "encryption_key", "abort_discovery_on_spdk_failure", "io_stats_enabled",
          "subsystem_cache_expiration", "omap_file_ignore_unlock_errors", "omap_file_lock_on_read",
          "log_files_enabled", "log_files_rotation_enabled", "verbose_log_messages", "max_log_file_size_in_mb",
          "max_log_files_count", "max_log_directory_backups", "log_directory"})
      g[k] = Ignored();
    auto& l = s["gateway-logs"].keys;
    l["log_level"] = [](GatewayConfig& c, const std::string& v, std::string* why) {
      if (!ParseConfigLogLevel(v, &c.log_level)) {
        *why = "not a log level (debug, info, warning, error, critical)";
        return false;
      }
      return true;
    };
    for (const char* k : {"log_files_enabled", "log_files_rotation_enabled", "verbose_log_messages",
                          "max_log_file_size_in_mb", "max_log_files_count", "max_log_directory_backups",
                          "log_directory"})
      l[k] = Ignored();
    auto& d = s["discovery"].keys;
    d["addr"] = Str(&GatewayConfig::discovery_addr);
    d["port"] = Port(&GatewayConfig::discovery_port);
    auto& c = s["ceph"].keys;
    c["pool"] = Str(&GatewayConfig::ceph_pool);
    c["config_file"] = Str(&GatewayConfig::ceph_config_file);
    c["id"] = Str(&GatewayConfig::ceph_id);
    auto& m = s["mtls"].keys;
    m["server_key"] = Str(&GatewayConfig::server_key);
    m["client_key"] = Str(&GatewayConfig::client_key);
    m["server_cert"] = Str(&GatewayConfig::server_cert);
    m["client_cert"] = Str(&GatewayConfig::client_cert);
    m["root_ca_cert"] = Str(&GatewayConfig::root_ca_cert);
    auto& p = s["data-plane"].keys;
    p["reactors"] = Uint(&GatewayConfig::reactors, 0, 256);
    p["queue_depth"] = Uint(&GatewayConfig::queue_depth, 32, 1024);  // admin queues need 32 (ASQSZ)
    p["cntlid_range"] = [](GatewayConfig& cfg, const std::string& v, std::string* why) {
      if (!ParseCntlidRange(v, &cfg.min_cntlid, &cfg.max_cntlid)) {
        *why = "not MIN-MAX within 1-65519";
        return false;
      }
      return true;
    };
    p["max_io_queues"] = Uint(&GatewayConfig::max_io_queues, 1, 1024);
    p["in_capsule_data_size"] = Uint(&GatewayConfig::in_capsule_data_size, 0, 1u << 20);
    p["bdevs_per_cluster"] = Uint(&GatewayConfig::bdevs_per_cluster, 1, 1u << 16);
    p["poll_window_us"] = Uint(&GatewayConfig::poll_window_us, 0, 1000000);
    p["shutdown_timeout"] = Uint(&GatewayConfig::shutdown_timeout, 0, 3600);
    p["listen"] = [](GatewayConfig& cfg, const std::string& v, std::string* why) {
      cfg.listen.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        item = Trim(item);
        if (item.empty()) continue;
        auto pos = item.rfind(':');
        if (pos == std::string::npos || pos == 0 || pos + 1 == item.size()) {
          *why = "'" + item + "' is not ADDR:PORT";
          return false;
        }
        cfg.listen.push_back(item);
      }
      return true;
    };
    auto& sp = s["spdk"];
    sp.ignored = true;
    sp.keys["bdevs_per_cluster"] = Uint(&GatewayConfig::bdevs_per_cluster, 1, 1u << 16);
    s["monitor"].ignored = true;
    return s;
  }();
  return schema;
}

}  // namespace

bool GatewayConfig::IsSet(const std::string& k) const {
  return std::find(set_keys.begin(), set_keys.end(), k) != set_keys.end();
}

bool ParseConfigBool(const std::string& s, bool* out) {
  const std::string v = Lower(Trim(s));
  if (v == "1" || v == "yes" || v == "true" || v == "on") {
    *out = true;
    return true;
  }
  if (v == "0" || v == "no" || v == "false" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseConfigUint(const std::string& s, uint64_t max, uint64_t* out) {
  const std::string v = Trim(s);
  if (v.empty() || v.size() > 20) return false;
  uint64_t x = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return false;
    if (x > (UINT64_MAX - 9) / 10) return false;
    x = x * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (x > max) return false;
  *out = x;
  return true;
}

bool ParseCntlidRange(const std::string& s, uint16_t* lo, uint16_t* hi) {
  const std::string v = Trim(s);
  auto dash = v.find('-');
  if (dash == std::string::npos) return false;
  uint64_t a, b;
  if (!ParseConfigUint(v.substr(0, dash), 0xFFEF, &a) || !ParseConfigUint(v.substr(dash + 1), 0xFFEF, &b)) return false;
  if (a < 1 || a > b) return false;
  *lo = static_cast<uint16_t>(a);
  *hi = static_cast<uint16_t>(b);
  return true;
}

bool ParseConfigLogLevel(const std::string& s, LogLevel* out) {
  const std::string v = Lower(Trim(s));
  if (v == "warn") return ParseConfigLogLevel("warning", out);
  if (v == "fatal") return ParseConfigLogLevel("critical", out);
  if (v == "critical") {
    *out = LogLevel::kCritical;
    return true;
  }
  uint64_t n;
  if (ParseConfigUint(v, 50, &n)) {
    switch (n) {
      case 10: *out = LogLevel::kDebug; return true;
      case 20: *out = LogLevel::kInfo; return true;
      case 30: *out = LogLevel::kWarning; return true;
      case 40: *out = LogLevel::kError; return true;
      case 50: *out = LogLevel::kCritical; return true;
      default: return false;
    }
  }
  return ParseLogLevel(v, out);
}

Result<GatewayConfig> ParseGatewayConfig(const std::string& text, const std::string& filename,
                                         std::vector<std::string>* warnings) {
  GatewayConfig cfg;
  const auto& schema = Schema();
  std::set<std::string> sections_seen;
  std::vector<std::string> ignored_sections;
  std::set<std::string> keys_seen;  // "section.key"

  // Pending key (values may continue on indented lines): applied when complete.
  std::string cur_section;
  bool in_section = false;
  std::string pend_key, pend_value;
  int pend_line = 0;
  bool have_pend = false;

  auto err = [&](int line, const std::string& msg) {
    return Status::InvalidArgument(filename + ":" + std::to_string(line) + ": " + msg);
  };
  auto flush = [&]() -> Status {
    if (!have_pend) return Status::OK();
    have_pend = false;
    auto sit = schema.find(cur_section);
    if (sit == schema.end()) return Status::OK();  // unknown section: warned once already
    auto kit = sit->second.keys.find(pend_key);
    if (kit == sit->second.keys.end()) {
      if (!sit->second.ignored && warnings)
        warnings->push_back(filename + ":" + std::to_string(pend_line) + ": unknown key '" + pend_key +
                            "' in [" + cur_section + "], ignored");
      return Status::OK();
    }
    std::string why;
    if (!kit->second(cfg, pend_value, &why))
      return err(pend_line, "[" + cur_section + "] " + pend_key + " = '" + pend_value + "': " + why);
    cfg.set_keys.push_back(cur_section + "." + pend_key);
    return Status::OK();
  };

  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    lineno++;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = Trim(raw);
    const bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    if (line.empty()) {
      continue;  // configparser keeps blank lines inside values only with empty_lines_in_values; trailing is trimmed
    }
    if (line[0] == '#' || line[0] == ';') continue;
    if (indented && have_pend) {  // continuation of the previous value
      pend_value += (pend_value.empty() ? "" : "\n") + line;
      continue;
    }
    if (Status st = flush(); !st.ok()) return st;
    if (line[0] == '[') {
      if (line.back() != ']') return err(lineno, "malformed section header '" + line + "'");
      cur_section = Lower(Trim(line.substr(1, line.size() - 2)));
      if (cur_section.empty()) return err(lineno, "empty section name");
      if (!sections_seen.insert(cur_section).second)
        return err(lineno, "section [" + cur_section + "] appears twice");
      in_section = true;
      auto sit = schema.find(cur_section);
      if (sit == schema.end()) {
        if (cur_section != "default" && warnings)
          warnings->push_back(filename + ":" + std::to_string(lineno) + ": unknown section [" + cur_section +
                              "], ignored");
      } else if (sit->second.ignored) {
        ignored_sections.push_back("[" + cur_section + "]");
      }
      continue;
    }
    if (!in_section) return err(lineno, "'" + line + "' is outside any [section]");
    size_t sep = line.find_first_of("=:");
    if (sep == std::string::npos) return err(lineno, "expected 'key = value', got '" + line + "'");
    std::string key = Lower(Trim(line.substr(0, sep)));
    if (key.empty()) return err(lineno, "missing key name before '" + std::string(1, line[sep]) + "'");
    if (!keys_seen.insert(cur_section + "." + key).second)
      return err(lineno, "key '" + key + "' appears twice in [" + cur_section + "]");
    pend_key = key;
    pend_value = Trim(line.substr(sep + 1));
    pend_line = lineno;
    have_pend = true;
  }
  if (Status st = flush(); !st.ok()) return st;
  if (!ignored_sections.empty() && warnings) {
    std::string list;
    for (auto& s : ignored_sections) list += (list.empty() ? "" : ", ") + s;
    warnings->push_back(filename + ": ignoring the reference gateway's SPDK/monitor-only section(s) " + list +
                        " (this gateway has no SPDK process; its data-plane settings are in [data-plane]" +
                        (cfg.IsSet("spdk.bdevs_per_cluster") ? "; [spdk] bdevs_per_cluster is used" : "") + ")");
  }
  return cfg;
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path, std::vector<std::string>* warnings) {
  std::ifstream f(path);
  if (!f) {
    int e = errno ? errno : ENOENT;
    return Status::Error(e, "cannot read configuration file " + path + ": " + std::strerror(e));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseGatewayConfig(ss.str(), path, warnings);
}

}  // namespace nvmeof
