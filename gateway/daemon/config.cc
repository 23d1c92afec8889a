// The daemon's configuration file: see config.h.
#include "gateway/daemon/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "gateway/common/strings.h"
#include "gateway/nvmf/auth_keys.h"

namespace nvmeof {

namespace {

// One key of one section: how to store its value (false + *why on a bad value).
using Setter = std::function<bool(DaemonOptions&, const std::string&, std::string* why)>;

// The field a key sets: FIELD(target.max_queue_depth).
#define FIELD(member) [](DaemonOptions& o) -> auto& { return o.member; }

template <typename F>
Setter Str(F field) {
  return [field](DaemonOptions& c, const std::string& v, std::string*) {
    field(c) = v;
    return true;
  };
}
template <typename F>
Setter Bool(F field) {
  return [field](DaemonOptions& c, const std::string& v, std::string* why) {
    if (!ParseConfigBool(v, &field(c))) {
      *why = "not a boolean (true/false, yes/no, on/off, 1/0)";
      return false;
    }
    return true;
  };
}
template <typename F>
Setter Uint(F field, uint64_t min, uint64_t max) {
  return [field, min, max](DaemonOptions& c, const std::string& v, std::string* why) {
    uint64_t x;
    if (!ParseConfigUint(v, max, &x) || x < min) {
      *why = "not an integer from " + std::to_string(min) + " to " + std::to_string(max);
      return false;
    }
    auto& f = field(c);
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(f)>, std::string>)
      f = std::to_string(x);
    else
      f = static_cast<std::remove_reference_t<decltype(f)>>(x);
    return true;
  };
}
template <typename F>
Setter Port(F field) {
  return Uint(field, 1, 65535);
}
Setter Ignored() {
  return [](DaemonOptions&, const std::string&, std::string*) { return true; };
}

struct Section {
  std::map<std::string, Setter> keys;
  bool ignored = false;  // a reference-only section (one warning)
};

// Keys of the reference that are accepted (a cephadm-rendered file loads) but whose
// meaning this gateway does not implement: named in one warning when the file sets them.
// The reference's other accepted keys (its SPDK ping, lock retry loop, caches) describe
// its own machinery and have no meaning here: accepted silently.
bool NotHonoured(const std::string& section, const std::string& key) {
  static const std::set<std::string> keys = [] {
    std::set<std::string> k;
    for (const char* g : {"max_namespaces_with_netmask", "max_gws_in_grp"})
      k.insert(std::string("gateway.") + g);
    for (const char* l : {"log_files_enabled", "log_files_rotation_enabled", "verbose_log_messages",
                          "max_log_file_size_in_mb", "max_log_files_count", "max_log_directory_backups",
                          "log_directory"}) {
      k.insert(std::string("gateway.") + l);
      k.insert(std::string("gateway-logs.") + l);
    }
    return k;
  }();
  return keys.count(section + "." + key) > 0;
}

// "[a] k1, k2; [b] k3" from "section.key" names, in the order given.
std::string NameKeys(const std::vector<std::string>& dotted) {
  std::string out, cur;
  for (const auto& d : dotted) {
    const auto dot = d.find('.');
    const std::string sec = d.substr(0, dot), key = d.substr(dot + 1);
    if (sec != cur) {
      out += (out.empty() ? "[" : "; [") + sec + "] " + key;
      cur = sec;
    } else {
      out += ", " + key;
    }
  }
  return out;
}

const std::map<std::string, Section>& Schema() {
  static const std::map<std::string, Section> schema = [] {
    std::map<std::string, Section> s;
    auto& g = s["gateway"].keys;
    g["name"] = Str(FIELD(name));
    g["group"] = Str(FIELD(group));
    g["addr"] = Str(FIELD(grpc_addr));
    g["port"] = Port(FIELD(grpc_port));
    g["enable_auth"] = Bool(FIELD(enable_auth));
    g["state_update_notify"] = Bool(FIELD(state_update_notify));
    g["state_update_interval_sec"] = Uint(FIELD(state_update_interval_sec), 1, 86400);
    g["state_update_timeout_in_msec"] = Uint(FIELD(state_update_timeout_in_msec), 1, 3600000);
    g["enable_prometheus_exporter"] = Bool(FIELD(enable_prometheus_exporter));
    g["prometheus_port"] = Port(FIELD(prometheus_port));
    g["prometheus_exporter_ssl"] = Bool(FIELD(prometheus_exporter_ssl));
    g["prometheus_stats_interval"] = Uint(FIELD(prometheus_stats_interval), 0, 3600);
    g["prometheus_bdev_pools"] = [](DaemonOptions& cfg, const std::string& v, std::string*) {
      cfg.prometheus_bdev_pools.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ','))
        if (!Trim(item).empty()) cfg.prometheus_bdev_pools.push_back(Trim(item));
      return true;
    };
    g["verify_nqns"] = Bool(FIELD(verify_nqns));
    g["enable_key_encryption"] = Bool(FIELD(enable_key_encryption));
    g["encryption_key"] = Str(FIELD(encryption_key));
    g["auto_listener_addresses"] = [](DaemonOptions& c, const std::string& v, std::string* why) {
      return ParseAddressList(v, &c.auto_listener_addresses, why);
    };
    g["omap_file_lock_duration"] = Uint(FIELD(omap_file_lock_duration), 1, 3600);
    g["override_hostname"] = Str(FIELD(hostname));
    g["ha"] = [](DaemonOptions& c, const std::string& v, std::string* why) {
      if (v != "builtin" && v != "monitor" && v != "none") {
        *why = "not builtin, monitor or none";
        return false;
      }
      c.ha_builtin = v == "builtin";
      c.ha_monitor = v == "monitor";
      return true;
    };
    g["enable_monitor_client"] = [](DaemonOptions& c, const std::string& v, std::string* why) {
      bool b;
      if (!ParseConfigBool(v, &b)) {
        *why = "not a boolean (true/false, yes/no, on/off, 1/0)";
        return false;
      }
      c.enable_monitor_client = b;
      return true;
    };
    g["monitor_client"] = Str(FIELD(monitor_client));
    g["ha_lease_ms"] = Uint(FIELD(ha_lease_ms), 400, 600000);
    g["ha_failback_delay_ms"] = Uint(FIELD(ha_failback_delay_ms), 0, 3600000);
    g["rebalance_period_sec"] = Uint(FIELD(rebalance_period_sec), 0, 86400);
    g["max_ns_to_change_lb_grp"] = Uint(FIELD(max_ns_to_change_lb_grp), 1, 4096);
    g["max_subsystems"] = Uint(FIELD(max_subsystems), 1, 65536);
    g["max_namespaces"] = Uint(FIELD(target.max_namespaces_per_gateway), 1, 65536);
    g["max_namespaces_per_subsystem"] = Uint(FIELD(max_namespaces_per_subsystem), 1, 2048);
    g["max_hosts"] = Uint(FIELD(max_hosts), 1, 1u << 20);
    g["max_hosts_per_subsystem"] = Uint(FIELD(max_hosts_per_subsystem), 1, 1u << 20);
    g["max_hosts_per_namespace"] = Uint(FIELD(max_hosts_per_namespace), 1, 1u << 20);
    // The reference's knobs with no meaning here (SPDK process, monitor client, its own
    // lock retry loop): accepted silently so that a cephadm-rendered file loads cleanly.
    for (const char* k :
         {"enable_spdk_discovery_controller", "omap_file_lock_retries", "omap_file_lock_retry_sleep_interval",
          "omap_file_update_reloads",
          "allowed_consecutive_spdk_ping_failures", "spdk_ping_interval_in_seconds", "ping_spdk_under_lock",
          "monitor_stop_grace", "max_namespaces_with_netmask", "max_gws_in_grp", "break_update_interval_sec",
          "abort_discovery_on_spdk_failure", "io_stats_enabled",
          "subsystem_cache_expiration", "omap_file_ignore_unlock_errors", "omap_file_lock_on_read",
          "log_files_enabled", "log_files_rotation_enabled", "verbose_log_messages", "max_log_file_size_in_mb",
          "max_log_files_count", "max_log_directory_backups", "log_directory"})
      g[k] = Ignored();
    auto& l = s["gateway-logs"].keys;
    l["log_level"] = [](DaemonOptions& c, const std::string& v, std::string* why) {
      if (!ParseLogLevel(v, &c.log_level)) {
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
    d["addr"] = Str(FIELD(discovery.addr));
    d["port"] = Port(FIELD(discovery.port));
    auto& c = s["ceph"].keys;
    c["pool"] = Str(FIELD(state_pool));
    c["config_file"] = Str(FIELD(ceph_conf));
    c["id"] = Str(FIELD(ceph_id));
    auto& m = s["mtls"].keys;
    m["server_key"] = Str(FIELD(server_key));
    m["client_key"] = Str(FIELD(client_key));
    m["server_cert"] = Str(FIELD(server_cert));
    m["client_cert"] = Str(FIELD(client_cert));
    m["root_ca_cert"] = Str(FIELD(root_ca_cert));
    auto& p = s["data-plane"].keys;
    p["reactors"] = Uint(FIELD(reactors), 0, 256);
    p["queue_depth"] = Uint(FIELD(target.max_queue_depth), 32, 1024);  // admin queues need 32 (ASQSZ)
    p["cntlid_range"] = [](DaemonOptions& cfg, const std::string& v, std::string* why) {
      if (!ParseCntlidRange(v, &cfg.target.min_cntlid, &cfg.target.max_cntlid)) {
        *why = "not MIN-MAX within 1-65519";
        return false;
      }
      return true;
    };
    p["max_io_queues"] = Uint(FIELD(target.max_io_queues), 1, 1024);
    p["in_capsule_data_size"] = Uint(FIELD(target.in_capsule_data_size), 0, 1u << 20);
    p["bdevs_per_cluster"] = Uint(FIELD(bdevs_per_cluster), 1, 1u << 16);
    p["poll_window_us"] = Uint(FIELD(poll_window_us), 0, 1000000);
    p["auth_timeout_ms"] = Uint(FIELD(target.auth_timeout_ms), 0, 3600000);
    p["tls_ktls"] = Bool(FIELD(target.tls_ktls));
    p["dhchap_digests"] = [](DaemonOptions& cfg, const std::string& v, std::string* why) {
      auto ids = auth::ParseHashList(v);
      if (!ids.ok()) *why = ids.status().message();
      else cfg.target.dhchap_hashes = *ids;
      return ids.ok();
    };
    p["dhchap_dhgroups"] = [](DaemonOptions& cfg, const std::string& v, std::string* why) {
      auto ids = auth::ParseDhGroupList(v);
      if (!ids.ok()) *why = ids.status().message();
      else cfg.target.dhchap_dhgroups = *ids;
      return ids.ok();
    };
    p["shutdown_timeout"] = Uint(FIELD(shutdown_timeout), 0, 3600);
    p["listen"] = [](DaemonOptions& cfg, const std::string& v, std::string* why) {
      cfg.listen.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        item = Trim(item);
        if (item.empty()) continue;
        HostPort hp;
        if (!SplitHostPort(item, &hp)) {
          *why = "'" + item + "' is not ADDR:PORT";
          return false;
        }
        cfg.listen.push_back(hp);
      }
      return true;
    };
    auto& sp = s["spdk"];
    sp.ignored = true;
    sp.keys["bdevs_per_cluster"] = Uint(FIELD(bdevs_per_cluster), 1, 1u << 16);
    s["monitor"].ignored = true;
    return s;
  }();
  return schema;
}

// [spdk] transport_tcp_options, the JSON object cephadm renders from the spec's
// transport_tcp_options (SPDK's nvmf_create_transport parameters): the ones this gateway
// has are applied unless [data-plane] sets them (`set` holds "section.key" applied); the
// others are appended to *not_honoured as "spdk.transport_tcp_options.NAME". False + *why
// when the value is not a JSON object or a known option is out of range.
bool ApplyTransportTcpOptions(const std::string& value, const std::set<std::string>& set, DaemonOptions* cfg,
                              std::vector<std::string>* not_honoured, std::string* why) {
  const nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    *why = "not a JSON object";
    return false;
  }
  struct Known {
    const char* spdk;
    const char* data_plane;
    uint64_t min, max;
    std::function<void(DaemonOptions&, uint64_t)> set;
  };
  const Known known[] = {
      {"in_capsule_data_size", "in_capsule_data_size", 0, 1u << 20,
       [](DaemonOptions& c, uint64_t v) { c.target.in_capsule_data_size = static_cast<uint32_t>(v); }},
      {"max_io_qpairs_per_ctrlr", "max_io_queues", 1, 1024,
       [](DaemonOptions& c, uint64_t v) { c.target.max_io_queues = static_cast<uint32_t>(v); }},
      {"max_queue_depth", "queue_depth", 32, 1024,
       [](DaemonOptions& c, uint64_t v) { c.target.max_queue_depth = static_cast<uint32_t>(v); }},
  };
  for (const auto& [name, v] : j.items()) {
    const Known* k = nullptr;
    for (const auto& x : known)
      if (name == x.spdk) k = &x;
    if (!k) {
      not_honoured->push_back("spdk.transport_tcp_options." + name);
      continue;
    }
    if (!v.is_number_unsigned() || v.get<uint64_t>() < k->min || v.get<uint64_t>() > k->max) {
      *why = "\"" + name + "\" is not an integer from " + std::to_string(k->min) + " to " + std::to_string(k->max);
      return false;
    }
    if (!set.count(std::string("data-plane.") + k->data_plane)) k->set(*cfg, v.get<uint64_t>());
  }
  return true;
}

}  // namespace

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

bool ParseAddressList(const std::string& s, std::vector<std::string>* out, std::string* why) {
  std::vector<std::string> list;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const std::string a = Trim(item);
    unsigned char buf[16];
    if (inet_pton(AF_INET, a.c_str(), buf) != 1 && inet_pton(AF_INET6, a.c_str(), buf) != 1) {
      *why = "\"" + a + "\" is not a numeric IPv4 or IPv6 address";
      return false;
    }
    list.push_back(a);
  }
  if (list.empty()) {
    *why = "no address";
    return false;
  }
  *out = std::move(list);
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

Result<DaemonOptions> ParseGatewayConfig(const std::string& text, const std::string& filename,
                                         std::vector<std::string>* warnings) {
  DaemonOptions cfg;
  cfg.state_pool = kConfigFileStatePool;
  cfg.enable_prometheus_exporter = true;
  cfg.prometheus_exporter_ssl = true;
  std::set<std::string> keys_set;  // "section.key" applied
  std::vector<std::string> ignored_keys, not_honoured;  // "section.key", in file order
  std::string tcp_options;  // [spdk] transport_tcp_options
  int tcp_options_line = 0;
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
    if (cur_section == "spdk" && pend_key == "transport_tcp_options") {
      tcp_options = pend_value;  // applied at the end, under [data-plane]
      tcp_options_line = pend_line;
      return Status::OK();
    }
    if (kit == sit->second.keys.end()) {
      if (sit->second.ignored) ignored_keys.push_back(cur_section + "." + pend_key);
      if (!sit->second.ignored && warnings)
        warnings->push_back(filename + ":" + std::to_string(pend_line) + ": unknown key '" + pend_key +
                            "' in [" + cur_section + "], ignored");
      return Status::OK();
    }
    std::string why;
    if (!kit->second(cfg, pend_value, &why))
      return err(pend_line, "[" + cur_section + "] " + pend_key + " = '" + pend_value + "': " + why);
    keys_set.insert(cur_section + "." + pend_key);
    if (NotHonoured(cur_section, pend_key)) not_honoured.push_back(cur_section + "." + pend_key);
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
  if (!tcp_options.empty()) {
    std::string why;
    if (!ApplyTransportTcpOptions(tcp_options, keys_set, &cfg, &not_honoured, &why))
      return err(tcp_options_line, "[spdk] transport_tcp_options = '" + tcp_options + "': " + why);
  }
  if (!ignored_sections.empty() && warnings) {
    std::string list;
    for (auto& s : ignored_sections) list += (list.empty() ? "" : ", ") + s;
    warnings->push_back(filename + ": ignoring the reference gateway's SPDK/monitor-only section(s) " + list +
                        (ignored_keys.empty() ? "" : ": " + NameKeys(ignored_keys)) +
                        " (this gateway has no SPDK process; its data-plane settings are in [data-plane]" +
                        (keys_set.count("spdk.bdevs_per_cluster") ? "; [spdk] bdevs_per_cluster is used" : "") +
                        (tcp_options.empty() ? ""
                                             : "; [spdk] transport_tcp_options gives in_capsule_data_size, "
                                               "max_io_qpairs_per_ctrlr and max_queue_depth unless [data-plane] does") +
                        ")");
  }
  if (!not_honoured.empty() && warnings) {
    // Why, for the kinds of keys named: limits, log files, transport options.
    const char* const kWhy[] = {"limits this gateway does not apply",
                                "logs go to stderr, the journal under systemd", "no such NVMe/TCP setting here"};
    bool kinds[3] = {};
    for (const auto& k : not_honoured) {
      if (k.rfind("spdk.transport_tcp_options.", 0) == 0) kinds[2] = true;
      else if (k.find("log") != std::string::npos) kinds[1] = true;
      else kinds[0] = true;
    }
    std::string reasons;
    for (int i = 0; i < 3; i++)
      if (kinds[i]) reasons += (reasons.empty() ? "" : "; ") + std::string(kWhy[i]);
    warnings->push_back(filename + ": not honoured by this gateway, ignored: " + NameKeys(not_honoured) + " (" +
                        reasons + ")");
  }
  return cfg;
}

Result<DaemonOptions> LoadGatewayConfig(const std::string& path, std::vector<std::string>* warnings) {
  std::ifstream f(path);
  if (!f) {
    int e = errno ? errno : ENOENT;
    return Status::Error(errc::kSystem, "cannot read configuration file " + path + ": " + std::strerror(e), e);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseGatewayConfig(ss.str(), path, warnings);
}

}  // namespace nvmeof
