#include "cli/gwcli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "api/gateway.pb.h"
#include "api/gateway_ha.pb.h"
#include "api/validate.h"
#include "cli/output.h"
#include "gateway/common/strings.h"

#ifndef NVMEOF_VERSION_STRING
#define NVMEOF_VERSION_STRING "0.0.0"
#endif

namespace nvmeof::cli {
namespace {

// ---------------------------------------------------------------------------
// Invocation context: global options, output routing, transport.
// ---------------------------------------------------------------------------

struct Globals {
  std::string format = "text";  // text | json | yaml | plain
  std::string output = "log";   // log (everything on stderr, like the reference) | stdio
  std::string log_level = "info";
  std::string server_address = "localhost";
  int server_port = 5500;
  std::string client_key, client_cert, server_cert;  // paths
  bool verbose = false;
};

// A command line mistake detected after parsing: "error: <msg>", exit 2.
struct UsageError {
  std::string message;
};

int LogLevelValue(const std::string& name) {
  static const std::map<std::string, int> levels = {
      {"debug", 10}, {"info", 20}, {"warning", 30}, {"error", 40}, {"critical", 50}};
  const auto it = levels.find(name);
  return it == levels.end() ? 20 : it->second;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

std::string DescribeRpcError(const grpc::Status& s) {
  return std::string("gRPC error ") + GrpcCodeName(s.error_code()) + ": " + s.error_message();
}

class Ctx {
 public:
  Ctx(Globals g, std::ostream& out, std::ostream& err, const TransportFactory& factory,
      ConnectOptions connect)
      : g_(std::move(g)), out_(out), err_(err), factory_(factory), connect_(std::move(connect)) {}

  const Globals& g() const { return g_; }
  bool text() const { return g_.format == "text" || g_.format == "plain"; }
  TableStyle style() const { return g_.format == "text" ? TableStyle::kGrid : TableStyle::kPlain; }

  // Normal output (the reference's logger.info / print).
  void Out(const std::string& s) {
    if (g_.output == "stdio") {
      out_ << s << '\n';
    } else if (LogLevelValue(g_.log_level) <= 20) {
      err_ << s << '\n';
    }
    out_.flush();
    err_.flush();
  }
  // Warning output (the reference's logger.warning / print to stderr).
  void Warn(const std::string& s) {
    if (g_.output == "stdio" || LogLevelValue(g_.log_level) <= 30) err_ << s << '\n';
    err_.flush();
  }
  // Error output (the reference's logger.error / print to stderr).
  void Err(const std::string& s) {
    if (g_.output == "stdio" || LogLevelValue(g_.log_level) <= 40) err_ << s << '\n';
    err_.flush();
  }

  // The JSON or YAML rendering of a reply (--format json|yaml).
  void Dump(const google::protobuf::Message& m) {
    if (g_.format == "json") {
      Out(MessageToJson(m));
    } else {
      std::string y = MessageToYaml(m);
      while (!y.empty() && y.back() == '\n') y.pop_back();
      Out(y);
    }
  }

  void set_connect(ConnectOptions connect) {
    connect_ = std::move(connect);
    transport_.reset();
  }

  Transport& transport() {
    if (!transport_) transport_ = factory_(connect_);
    return *transport_;
  }

 private:
  Globals g_;
  std::ostream& out_;
  std::ostream& err_;
  const TransportFactory& factory_;
  ConnectOptions connect_;
  std::unique_ptr<Transport> transport_;
};

// Calls an RPC; a transport failure becomes a reply with status EINVAL and
// "<failure>:\n<gRPC error>", like the reference CLI.
template <typename Rep, typename Req>
Rep Invoke(Ctx& c, const char* method, const Req& req, const std::string& failure) {
  Rep rep;
  const grpc::Status s = c.transport().Call(method, req, &rep);
  if (!s.ok()) {
    rep.Clear();
    rep.set_status(EINVAL);
    rep.set_error_message(failure + ":\n" + DescribeRpcError(s));
  }
  return rep;
}

// Prints a reply: the success text (text/plain) or error_message, or the
// reply itself (json/yaml). Returns the exit code.
template <typename Rep, typename F>
int Report(Ctx& c, const Rep& rep, F&& on_success) {
  if (c.text()) {
    if (rep.status() == 0)
      on_success();
    else
      c.Err(rep.error_message());
  } else {
    c.Dump(rep);
  }
  return rep.status();
}

// Calls an RPC that answers req_status and reports it, printing `success` on success.
// Returns the exit code.
template <typename Req>
int StatusCall(Ctx& c, const char* method, const Req& req, const std::string& failure,
               const std::string& success) {
  const auto rep = Invoke<req_status>(c, method, req, failure);
  return Report(c, rep, [&] { c.Out(success); });
}

// Runs one(host) for each host, in order; the first non-zero exit code is the result.
template <typename F>
int ForEachHost(const std::vector<std::string>& hosts, F&& one) {
  int rc = 0;
  for (const auto& h : hosts) {
    const int r = one(h);
    if (rc == 0) rc = r;
  }
  return rc;
}

std::string QosValue(std::uint64_t v) { return v == 0 ? "unlimited" : std::to_string(v); }

std::uint64_t SizeArg(const std::string& text) {
  auto r = api::ParseSize(text);
  if (!r.ok()) throw UsageError{r.status().message()};
  return *r;
}

void RequirePositive(long long v, const char* what) {
  if (v <= 0) throw UsageError{std::string(what) + " value must be positive"};
}

std::uint32_t NsidArg(long long nsid) {
  RequirePositive(nsid, "nsid");
  if (nsid > 0xfffffffeLL) throw UsageError{"nsid value must be smaller than 4294967295"};
  return static_cast<std::uint32_t>(nsid);
}

std::string FormatAdrfam(AddressFamily f) { return f == ipv6 ? "IPv6" : "IPv4"; }

// "ADDR:PORT", an IPv6 address in brackets (the reference's escape_address_if_ipv6).
std::string AddressCell(AddressFamily f, const std::string& traddr, uint32_t trsvcid) {
  const bool bracket = f == ipv6 && !traddr.empty() && traddr.front() != '[';
  return (bracket ? "[" + traddr + "]" : traddr) + ":" + std::to_string(trsvcid);
}

std::string DhchapControllerText(::DHCHAPControllerKeyOrigin o) {
  switch (o) {
    case ::no_key: return "No Key";
    case ::host_specific: return "Host Specific";
    case ::subsystem_implicit: return "Subsystem Implicit";
    default: return "<unknown>";
  }
}

// ---------------------------------------------------------------------------
// Commands. Each action parses into an Args struct; its handler runs after a
// successful parse.
// ---------------------------------------------------------------------------

using Handler = std::function<int(Ctx&)>;

std::string ChoicesText(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s;
}

// ---- version / gw / spdk_log_level ----

gateway_info GetGatewayInfo(Ctx& c, const std::string& failure) {
  get_gateway_info_req req;
  // The reference sends its version; an empty one is accepted by every
  // gateway version while an "older" one is refused, so only an explicit
  // NVMEOF_VERSION is sent.
  if (const char* v = std::getenv("NVMEOF_VERSION"); v && *v) req.set_cli_version(v);
  auto rep = Invoke<gateway_info>(c, "get_gateway_info", req, failure);
  return rep;
}

int GwInfo(Ctx& c) {
  const gateway_info info = GetGatewayInfo(c, "Failure getting gateway's information");
  if (c.text()) {
    if (info.status() == 0) {
      if (!info.cli_version().empty()) c.Out("CLI's version: " + info.cli_version());
      if (!info.version().empty()) c.Out("Gateway's version: " + info.version());
      if (!info.name().empty()) c.Out("Gateway's name: " + info.name());
      c.Out("Gateway's location: " + (info.location().empty() ? std::string("<default>") : info.location()));
      if (!info.group().empty()) c.Out("Gateway's group: " + info.group());
      if (!info.hostname().empty()) c.Out("Gateway's host name: " + info.hostname());
      if (!info.gateway_initialization_over()) c.Out("Gateway's initialization is still in progress");
      c.Out("Gateway's load balancing group: " + std::to_string(info.load_balancing_group()));
      c.Out("Gateway's address: " + info.addr());
      c.Out("Gateway's port: " + info.port());
      if (info.max_subsystems()) c.Out("Gateway's max subsystems: " + std::to_string(info.max_subsystems()));
      if (info.max_hosts()) c.Out("Gateway's max hosts: " + std::to_string(info.max_hosts()));
      if (info.max_namespaces()) c.Out("Gateway's max namespaces: " + std::to_string(info.max_namespaces()));
      if (info.max_namespaces_per_subsystem())
        c.Out("Gateway's max namespaces per subsystem: " + std::to_string(info.max_namespaces_per_subsystem()));
      if (info.max_hosts_per_subsystem())
        c.Out("Gateway's max hosts per subsystem: " + std::to_string(info.max_hosts_per_subsystem()));
      c.Out(std::string("Gateway's IO statistics is ") + (info.io_stats_enabled() ? "enabled" : "disabled"));
      if (info.has_spdk_version() && !info.spdk_version().empty())
        c.Out("SPDK version: " + info.spdk_version());
      if (!info.bool_status()) c.Err("Getting gateway's information returned status mismatch");
    } else {
      c.Err(info.error_message());
      if (info.bool_status()) c.Err("Getting gateway's information returned status mismatch");
    }
  } else {
    c.Dump(info);
  }
  return info.status();
}

int GwVersion(Ctx& c) {
  const gateway_info info = GetGatewayInfo(c, "Failure getting gateway's version");
  gw_version ver;
  ver.set_status(info.status());
  ver.set_error_message(info.error_message());
  ver.set_version(info.version());
  return Report(c, ver, [&] { c.Out("Gateway's version: " + ver.version()); });
}

int GwGetLogLevel(Ctx& c) {
  const auto rep = Invoke<gateway_log_level_info>(c, "get_gateway_log_level",
                                                  get_gateway_log_level_req(),
                                                  "Failure getting gateway log level");
  return Report(c, rep, [&] {
    c.Out("Gateway log level is \"" + GwLogLevel_Name(rep.log_level()) + "\"");
  });
}

int GwSetLogLevel(Ctx& c, const std::string& level_in) {
  const std::string level = Lower(level_in);
  GwLogLevel value;
  if (!GwLogLevel_Parse(level, &value) || value == notset)
    throw UsageError{"invalid log level " + level_in};
  set_gateway_log_level_req req;
  req.set_log_level(value);
  const auto rep = Invoke<req_status>(c, "set_gateway_log_level", req,
                                      "Failure setting gateway log level");
  return Report(c, rep,
                [&] { c.Out("Set gateway log level to \"" + level + "\": Successful"); });
}

// (ext) set_ana_state, the RPC the Ceph monitor client drives: one ANA group of one
// subsystem on this gateway. The reply's status is 1 on success (the reference's quirk).
// gw refresh_network: this gateway's auto-listeners of a subsystem against its addresses now.
int GwRefreshNetwork(Ctx& c, const std::string& nqn) {
  gw_refresh_network_req req;
  req.set_subsystem_nqn(nqn);
  const auto rep = Invoke<gw_refresh_network_status>(c, "gw_refresh_network", req,
                                                     "Failure refreshing network for subsystem " + nqn);
  return Report(c, rep, [&] {
    auto list = [](const auto& v) {
      std::string s;
      for (const auto& a : v) s += (s.empty() ? "" : ", ") + a;
      return s.empty() ? std::string("none") : s;
    };
    c.Out("Refreshing network for subsystem " + nqn + ": Successful\nAdded listeners: " + list(rep.added()) +
          "\nRemoved listeners: " + list(rep.removed()));
  });
}

int GwSetAnaState(Ctx& c, const std::string& nqn, std::uint32_t group, const std::string& state_in) {
  ana_state value;
  if (!ana_state_Parse(Upper(state_in), &value) || value == UNSET) throw UsageError{"invalid ANA state " + state_in};
  if (group == 0) throw UsageError{"the ANA group must be 1 or more"};
  ana_info req;
  nqn_ana_states* s = req.add_states();
  s->set_nqn(nqn);
  ana_group_state* g = s->add_states();
  g->set_grp_id(group);
  g->set_state(value);
  auto rep = Invoke<req_status>(c, "set_ana_state", req, "Failure setting ANA state");
  const bool ok = rep.status() == 1 || rep.status() == 0;
  if (!c.text()) {
    c.Dump(rep);
  } else if (ok) {
    c.Out("Setting ANA state of group " + std::to_string(group) + " in " + nqn + " to " + Lower(state_in) +
          ": Successful");
  } else {
    c.Err(rep.error_message());
  }
  return ok ? 0 : rep.status();
}

// get_gateway_stats: one row per poll group (reactor).
int GwGetStats(Ctx& c) {
  const auto rep = Invoke<gateway_stats_info>(c, "get_gateway_stats", get_gateway_stats_req(),
                                              "Failure getting gateway's NVMf statistics");
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows;
    for (const auto& g : rep.poll_groups()) {
      std::string transports;
      for (const auto& t : g.transports()) transports += (transports.empty() ? "" : ", ") + t.trtype();
      rows.push_back({g.name(), g.admin_qpairs(), g.io_qpairs(), g.current_admin_qpairs(), g.current_io_qpairs(),
                      g.pending_bdev_io(), g.completed_nvme_io(), transports});
    }
    c.Out("Gateway's NVMf statistics (tick rate " + std::to_string(rep.tick_rate()) + "):\n" +
          RenderTable({"Poll Group", "Admin\nQPairs", "IO\nQPairs", "Current\nAdmin\nQPairs", "Current\nIO\nQPairs",
                       "Pending\nIO", "Completed\nIO", "Transports"},
                      rows, c.style()));
  });
}

// get_thread_stats: busy and idle time of each reactor thread.
int GwGetThreadStats(Ctx& c) {
  const auto rep = Invoke<thread_stats_info>(c, "get_thread_stats", get_thread_stats_req(),
                                             "Failure getting gateway's thread statistics");
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows;
    for (const auto& t : rep.threads()) {
      const uint64_t all = t.busy() + t.idle();
      char pct[16];
      snprintf(pct, sizeof(pct), "%.2f", all ? 100.0 * static_cast<double>(t.busy()) / static_cast<double>(all) : 0.0);
      rows.push_back({t.name(), t.busy(), t.idle(), std::string(pct)});
    }
    c.Out("Gateway's thread statistics (tick rate " + std::to_string(rep.tick_rate()) + "):\n" +
          RenderTable({"Thread", "Busy\nTicks", "Idle\nTicks", "Busy %"}, rows, c.style()));
  });
}

int GwSetIoStatsMode(Ctx& c, const std::string& enabled_in) {
  const std::string v = Lower(enabled_in);
  set_gateway_io_stats_mode_req req;
  req.set_enabled(v == "true" || v == "yes" || v == "on" || v == "1");
  return StatusCall(c, "set_gateway_io_stats_mode", req, "Failure setting gateway's IO stats mode",
                    std::string("Setting gateway's IO stats mode to ") + (req.enabled() ? "enabled" : "disabled") +
                        ": Successful");
}

int SpdkLogGet(Ctx& c, bool all_flags) {
  get_spdk_nvmf_log_flags_and_level_req req;
  req.set_all_log_flags(all_flags);
  const auto rep = Invoke<spdk_nvmf_log_flags_and_level_info>(
      c, "get_spdk_nvmf_log_flags_and_level", req, "Failure getting SPDK log levels and nvmf log flags");
  return Report(c, rep, [&] {
    for (const auto& f : rep.nvmf_log_flags())
      c.Out("SPDK log flag \"" + f.name() + "\" is " + (f.enabled() ? "enabled" : "disabled"));
    c.Out("SPDK log level is " + LogLevel_Name(rep.log_level()));
    c.Out("SPDK log print level is " + LogLevel_Name(rep.log_print_level()));
  });
}

int SpdkLogSet(Ctx& c, const std::string& level, const std::string& print, const std::vector<std::string>& extra) {
  set_spdk_nvmf_logs_req req;
  for (const auto& f : extra) req.add_extra_log_flags(f);
  LogLevel v;
  if (!level.empty()) {
    if (!LogLevel_Parse(Upper(level), &v)) throw UsageError{"invalid log level " + level};
    req.set_log_level(v);
  }
  if (!print.empty()) {
    if (!LogLevel_Parse(Upper(print), &v)) throw UsageError{"invalid log level " + print};
    req.set_print_level(v);
  }
  const auto rep = Invoke<req_status>(c, "set_spdk_nvmf_logs", req,
                                      "Failure setting SPDK log levels and nvmf log flags");
  return Report(c, rep, [&] { c.Out("Set SPDK log levels and nvmf log flags: Successful"); });
}

int SpdkLogDisable(Ctx& c, const std::vector<std::string>& extra) {
  disable_spdk_nvmf_logs_req req;
  for (const auto& f : extra) req.add_extra_log_flags(f);
  const auto rep =
      Invoke<req_status>(c, "disable_spdk_nvmf_logs", req, "Failure disabling SPDK nvmf log flags");
  return Report(c, rep, [&] { c.Out("Disable SPDK nvmf log flags: Successful"); });
}

// ---- subsystem ----

struct SubsystemArgs {
  std::string nqn, serial, dhchap_key;
  long long max_namespaces = 0;
  CLI::Option* max_ns_opt = nullptr;
  bool no_group_append = false;
  bool force = false;
  std::vector<std::string> network_masks;  // subsystem add --network-mask
  std::string network_mask;                // add_network / del_network
  long long port = 0;                      // of the auto-listeners
  CLI::Option* port_opt = nullptr;
  bool secure_listeners = false;
  bool i_am_sure = false;  // del: confirms moving namespaces' RBD images to the trash
};

int SubsystemAdd(Ctx& c, const SubsystemArgs& a) {
  long long max_ns = 256;
  if (a.max_ns_opt && a.max_ns_opt->count() > 0) max_ns = a.max_namespaces;
  if (max_ns <= 0) throw UsageError{"--max-namespaces value must be positive"};
  if (max_ns > 0xffffffffLL) throw UsageError{"--max-namespaces value is too large"};
  if (api::IsDiscoveryNqn(a.nqn)) throw UsageError{"Can't add a discovery subsystem"};
  create_subsystem_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_serial_number(a.serial);
  req.set_max_namespaces(static_cast<std::uint32_t>(max_ns));
  req.set_enable_ha(true);
  req.set_no_group_append(a.no_group_append);
  if (!a.dhchap_key.empty()) req.set_dhchap_key(a.dhchap_key);
  const bool port_given = a.port_opt && a.port_opt->count() > 0;
  if (a.network_masks.empty()) {
    if (port_given) throw UsageError{"Port cannot be set without a network mask"};
    if (a.secure_listeners) throw UsageError{"Secure listeners cannot be set without a network mask"};
  }
  for (const auto& m : a.network_masks) req.add_network_mask(m);
  if (port_given) {
    if (Status s = api::ValidatePort(a.port); !s.ok()) throw UsageError{s.message()};
    req.set_port(static_cast<std::uint32_t>(a.port));
  }
  if (a.secure_listeners) req.set_secure_listeners(true);
  const auto rep = Invoke<subsys_status>(c, "create_subsystem", req,
                                         "Failure adding subsystem " + a.nqn);
  const std::string nqn = rep.nqn().empty() ? a.nqn : rep.nqn();
  return Report(c, rep, [&] { c.Out("Adding subsystem " + nqn + ": Successful"); });
}

// subsystem change_key / del_key: the subsystem's DH-HMAC-CHAP key (the controller key of
// its hosts); an empty key deletes it.
int SubsystemChangeKey(Ctx& c, const SubsystemArgs& a, bool del) {
  if (!del && a.dhchap_key.empty()) throw UsageError{"DH-HMAC-CHAP key can't be empty"};
  change_subsystem_key_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_dhchap_key(del ? "" : a.dhchap_key);
  const std::string verb = del ? "Deleting" : "Changing";
  return StatusCall(c, "change_subsystem_key", req,
                    std::string(del ? "Failure deleting" : "Failure changing") + " DH-HMAC-CHAP key for subsystem " + a.nqn,
                    verb + " DH-HMAC-CHAP key for subsystem " + a.nqn + ": Successful");
}

// subsystem add_network / del_network: the subsystem's network masks (auto-listeners).
int SubsystemNetwork(Ctx& c, const SubsystemArgs& a, bool del) {
  if (del) {
    del_subsystem_network_req req;
    req.set_subsystem_nqn(a.nqn);
    req.set_network_mask(a.network_mask);
    return StatusCall(c, "del_subsystem_network", req,
                      "Failure in deleting network " + a.network_mask + " for subsystem " + a.nqn,
                      "Network mask " + a.network_mask + " deleted for subsystem " + a.nqn + ": Successful");
  }
  add_subsystem_network_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_network_mask(a.network_mask);
  return StatusCall(c, "add_subsystem_network", req, "Failure in adding network for subsystem " + a.nqn,
                    "Network mask " + a.network_mask + " added to subsystem " + a.nqn + ": Successful");
}

int SubsystemDel(Ctx& c, const SubsystemArgs& a) {
  if (api::IsDiscoveryNqn(a.nqn)) throw UsageError{"Can't delete a discovery subsystem"};
  delete_subsystem_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_force(a.force);
  req.set_i_am_sure(a.i_am_sure);
  const auto rep = Invoke<req_status>(c, "delete_subsystem", req,
                                      "Failure deleting subsystem " + a.nqn);
  return Report(c, rep, [&] { c.Out("Deleting subsystem " + a.nqn + ": Successful"); });
}

int SubsystemList(Ctx& c, const SubsystemArgs& a) {
  list_subsystems_req req;
  if (!a.nqn.empty()) req.set_subsystem_nqn(a.nqn);
  if (!a.serial.empty()) req.set_serial_number(a.serial);
  const auto rep = Invoke<subsystems_info_cli>(c, "list_subsystems", req,
                                               "Failure listing subsystems");
  if (!c.text()) {
    c.Dump(rep);
    return rep.status();
  }
  if (rep.status() != 0) {
    c.Err(rep.error_message());
    return rep.status();
  }
  std::vector<std::vector<Cell>> rows;
  bool created_without_key = false;
  for (const auto& s : rep.subsystems()) created_without_key = created_without_key || s.created_without_key();
  for (const auto& s : rep.subsystems()) {
    if (!a.nqn.empty() && a.nqn != s.nqn()) {
      c.Err("Failure listing subsystem " + a.nqn + ": Got subsystem " + s.nqn() + " instead");
      return ENODEV;
    }
    if (!a.serial.empty() && a.serial != s.serial_number()) {
      c.Err("Failure listing subsystem with serial number " + a.serial + ": Got serial number " +
            s.serial_number() + " instead");
      return ENODEV;
    }
    std::string masks;
    for (const auto& m : s.network_mask()) masks += (masks.empty() ? "" : "\n") + m;
    rows.push_back({s.subtype(), s.nqn(), s.serial_number(),
                    std::to_string(s.min_cntlid()) + "-" + std::to_string(s.max_cntlid()),
                    s.namespace_count(), s.max_namespaces(), s.allow_any_host() ? "Yes" : "No",
                    s.has_dhchap_key() ? "Yes" : "No", masks});
    if (created_without_key) rows.back().push_back(s.created_without_key() ? "Yes" : "No");
  }
  if (rows.empty()) {
    if (!a.nqn.empty())
      c.Out("No subsystem " + a.nqn);
    else if (!a.serial.empty())
      c.Out("No subsystem with serial number " + a.serial);
    else
      c.Out("No subsystems");
    return 0;
  }
  std::string prefix = a.nqn.empty() ? "Subsystems" : "Subsystem " + a.nqn;
  if (!a.serial.empty()) prefix += " with serial number " + a.serial;
  std::vector<std::string> headers = {"Subtype",          "NQN",           "Serial\nNumber",
                                      "Controller IDs",   "Namespace\nCount", "Max\nNamespaces",
                                      "Allow\nAny Host", "DHCHAP\nKey",     "Network\nMask"};
  if (created_without_key) headers.push_back("Created\nWithout Key");
  c.Out(prefix + ":\n" + RenderTable(headers, rows, c.style()));
  return 0;
}

// ---- listener ----

struct ListenerArgs {
  std::string nqn, host_name, traddr, adrfam;
  long long trsvcid = 0;
  CLI::Option* trsvcid_opt = nullptr;
  bool secure = false;
  bool force = false;
  bool verify_host_name = false;  // add
};

AddressFamily AdrfamArg(const std::string& s) {
  if (s.empty() || Lower(s) == "ipv4") return ipv4;
  if (Lower(s) == "ipv6") return ipv6;
  throw UsageError{"argument --adrfam/-f: invalid choice: '" + s + "' (choose from 'ipv4', 'ipv6')"};
}

// EREMOTE (stored for another gateway, which opens it) is a success with a warning, as the
// reference's CLI has it.
int ListenerAdd(Ctx& c, const ListenerArgs& a) {
  // Without -s the port is left unset, as the reference's CLI leaves it: the gateway uses
  // its default (4420), and the messages name the address alone.
  const bool port_given = a.trsvcid_opt && a.trsvcid_opt->count() > 0;
  if (port_given) {
    if (Status s = api::ValidatePort(a.trsvcid); !s.ok()) throw UsageError{s.message()};
  }
  const AddressFamily fam = AdrfamArg(a.adrfam);
  // The gateway's rule (a DNS host name), checked before asking, as the reference's CLI does.
  if (!api::ValidateHostName(a.host_name).ok()) throw UsageError{"invalid host name " + a.host_name};
  const std::string traddr = api::EscapeAddressIfIpv6(a.traddr);
  create_listener_req req;
  req.set_nqn(a.nqn);
  req.set_host_name(a.host_name);
  req.set_traddr(traddr);
  req.set_adrfam(fam);
  if (port_given) req.set_trsvcid(static_cast<std::uint32_t>(a.trsvcid));
  req.set_secure(a.secure);
  req.set_verify_host_name(a.verify_host_name);
  req.set_force(a.force);
  const std::string where =
      a.nqn + " listener at " + traddr + (port_given ? ":" + std::to_string(a.trsvcid) : std::string());
  auto rep = Invoke<req_status>(c, "create_listener", req, "Failure adding " + where);
  if (rep.status() == EREMOTE) {
    rep.set_status(0);
    if (!c.text()) return Report(c, rep, [] {});
    c.Warn("Adding " + where + ": listener will only be active when appropriate gateway is up");
    return 0;
  }
  return Report(c, rep, [&] { c.Out("Adding " + where + ": Successful"); });
}

int ListenerDel(Ctx& c, const ListenerArgs& a) {
  if (Status s = api::ValidatePort(a.trsvcid); !s.ok()) throw UsageError{s.message()};
  const AddressFamily fam = AdrfamArg(a.adrfam);
  if (a.host_name == "*" && !a.force)
    throw UsageError{"must use --force when setting host name to *"};
  const std::string traddr = api::EscapeAddressIfIpv6(a.traddr);
  delete_listener_req req;
  req.set_nqn(a.nqn);
  req.set_host_name(a.host_name);
  req.set_traddr(traddr);
  req.set_adrfam(fam);
  req.set_trsvcid(static_cast<std::uint32_t>(a.trsvcid));
  req.set_force(a.force);
  const std::string what = "listener " + traddr + ":" + std::to_string(a.trsvcid) + " from " + a.nqn;
  const auto rep = Invoke<req_status>(c, "delete_listener", req, "Failure deleting " + what);
  return Report(c, rep, [&] {
    const std::string host_msg =
        a.host_name == "*" ? "for all hosts" : "for host " + a.host_name;
    c.Out("Deleting " + what + " " + host_msg + ": Successful");
  });
}

int ListenerList(Ctx& c, const ListenerArgs& a) {
  list_listeners_req req;
  req.set_subsystem(a.nqn);
  const auto rep = Invoke<listeners_info>(c, "list_listeners", req, "Failure listing listeners");
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows;
    for (const auto& l : rep.listeners())
      rows.push_back({l.host_name(), l.trtype(), FormatAdrfam(l.adrfam()),
                      AddressCell(l.adrfam(), l.traddr(), l.trsvcid()), l.secure() ? "Yes" : "No",
                      l.active() ? "Yes" : "No", l.manual() ? "Yes" : "No"});
    if (rows.empty()) {
      c.Out("No listeners for " + a.nqn);
      return;
    }
    c.Out("Listeners for " + a.nqn + ":\n" +
          RenderTable({"Host", "Transport", "Address Family", "Address", "Secure", "Active", "Manual"}, rows,
                      c.style()));
  });
}

// ---- host ----

struct HostArgs {
  std::string nqn;
  std::vector<std::string> hosts;
  std::string psk, dhchap_key, dhchap_ctrlr_key;
  bool keep_connections = false;
};

int HostAdd(Ctx& c, const HostArgs& a) {
  if (!a.psk.empty()) {
    if (a.hosts.size() > 1)
      throw UsageError{"Can't have more than one host NQN when PSK keys are used"};
    if (!a.dhchap_key.empty()) throw UsageError{"PSK and DH-HMAC-CHAP keys are mutually exclusive"};
  }
  if (!a.dhchap_key.empty() && a.hosts.size() > 1)
    throw UsageError{"Can't have more than one host NQN when DH-HMAC-CHAP keys are used"};
  if (!a.dhchap_ctrlr_key.empty() && a.dhchap_key.empty())
    throw UsageError{"DH-HMAC-CHAP controller keys can not be used without DH-HMAC-CHAP keys"};
  return ForEachHost(a.hosts, [&](const std::string& h) {
    if (h == "*" && !a.psk.empty()) throw UsageError{"PSK key is only allowed for specific hosts"};
    if (h == "*" && !a.dhchap_key.empty())
      throw UsageError{"DH-HMAC-CHAP key is only allowed for specific hosts"};
    add_host_req req;
    req.set_subsystem_nqn(a.nqn);
    req.set_host_nqn(h);
    if (!a.psk.empty()) req.set_psk(a.psk);
    if (!a.dhchap_key.empty()) req.set_dhchap_key(a.dhchap_key);
    if (!a.dhchap_ctrlr_key.empty()) req.set_dhchap_ctrlr_key(a.dhchap_ctrlr_key);
    return StatusCall(c, "add_host", req,
                      h == "*" ? "Failure allowing open host access to " + a.nqn
                               : "Failure adding host " + h + " to " + a.nqn,
                      h == "*" ? "Allowing open host access to " + a.nqn + ": Successful"
                               : "Adding host " + h + " to " + a.nqn + ": Successful");
  });
}

// host change_key / del_key (the host's key; an empty one deletes it) and
// change_controller_key / del_controller_key (the controller key): one host; the key the
// command does not name stays.
int HostChangeKey(Ctx& c, const HostArgs& a, bool del, bool controller) {
  if (a.hosts.size() != 1) throw UsageError{"Exactly one host NQN is needed"};
  const std::string& h = a.hosts[0];
  const std::string& key = controller ? a.dhchap_ctrlr_key : a.dhchap_key;
  if (!del && key.empty()) throw UsageError{"DH-HMAC-CHAP key can't be empty"};
  if (h == "*")
    throw UsageError{std::string("Can't ") + (del ? "delete" : "change") + (controller ? " controller" : "") +
                     " DH-HMAC-CHAP key for host NQN '*', please use a real NQN"};
  change_host_key_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_host_nqn(h);
  if (controller) {
    req.set_dhchap_ctrlr_key(del ? "" : key);
  } else {
    req.set_dhchap_key(del ? "" : key);
    if (!del && !a.dhchap_ctrlr_key.empty()) req.set_dhchap_ctrlr_key(a.dhchap_ctrlr_key);
  }
  const std::string what = std::string("DH-HMAC-CHAP key for ") + (controller ? "controller of host " : "host ") + h +
                           " on subsystem " + a.nqn;
  return StatusCall(c, "change_host_key", req, std::string(del ? "Failure deleting " : "Failure changing ") + what,
                    std::string(del ? "Deleting " : "Changing ") + what + ": Successful");
}

int HostDel(Ctx& c, const HostArgs& a) {
  return ForEachHost(a.hosts, [&](const std::string& h) {
    remove_host_req req;
    req.set_subsystem_nqn(a.nqn);
    req.set_host_nqn(h);
    if (a.keep_connections) req.set_keep_connections(true);
    auto rep = Invoke<req_status>(c, "remove_host", req,
                                  h == "*" ? "Failure disabling open host access to " + a.nqn
                                           : "Failure removing host " + h + " access to " + a.nqn);
    // EBUSY is a warning (the reference's CLI): the removal is reported done.
    const bool busy = rep.status() == EBUSY;
    if (busy) rep.set_status(0);
    return Report(c, rep, [&] {
      c.Out(h == "*" ? "Disabling open host access to " + a.nqn + ": Successful"
                     : "Removing host " + h + " access from " + a.nqn + ": Successful");
      if (busy) c.Warn(rep.error_message());
    });
  });
}

// set_keep_host_connected: the host's connections outlive its removal.
int HostKeepConnected(Ctx& c, const HostArgs& a) {
  return ForEachHost(a.hosts, [&](const std::string& h) {
    set_keep_host_connected_req req;
    req.set_subsystem_nqn(a.nqn);
    req.set_host_nqn(h);
    return StatusCall(c, "set_keep_host_connected", req,
                      "Failure setting keep connected flag for host " + h + " in " + a.nqn,
                      "Setting keep connected flag for host " + h + " in " + a.nqn + ": Successful");
  });
}

int HostList(Ctx& c, const HostArgs& a) {
  list_hosts_req req;
  req.set_subsystem(a.nqn);
  req.set_clear_alerts(false);  // as the reference sends it
  const auto rep = Invoke<hosts_info>(c, "list_hosts", req, "Failure listing hosts");
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows;
    bool timeout = false;  // the column only when a host was disconnected by keep-alive
    for (const auto& h : rep.hosts()) timeout = timeout || h.disconnected_due_to_keepalive_timeout();
    if (rep.allow_any_host()) {
      rows.push_back({"Any host", "n/a", "n/a", "n/a"});
      if (timeout) rows.back().push_back("n/a");
    }
    for (const auto& h : rep.hosts()) {
      rows.push_back({h.nqn(), h.use_psk() ? "Yes" : "No", h.use_dhchap() ? "Yes" : "No",
                      DhchapControllerText(h.dhchap_controller_origin())});
      if (timeout) rows.back().push_back(h.disconnected_due_to_keepalive_timeout() ? "Yes" : "No");
    }
    if (rows.empty()) {
      c.Out("No hosts are allowed to access " + a.nqn);
      return;
    }
    c.Out("Hosts allowed to access " + a.nqn + ":\n" +
          RenderTable(timeout ? std::vector<std::string>{"Host NQN", "Uses PSK", "Uses DHCHAP", "DHCHAP Controller",
                                                         "Keepalive\nTimeout"}
                              : std::vector<std::string>{"Host NQN", "Uses PSK", "Uses DHCHAP", "DHCHAP Controller"},
                      rows, c.style(), StringAlign::kCenter));
  });
}

// ---- connection ----

// Without -n ("*"): every subsystem's connections, with a Subsystem column first.
int ConnectionList(Ctx& c, const std::string& nqn_arg) {
  const std::string nqn = nqn_arg.empty() ? "*" : nqn_arg;
  list_connections_req req;
  req.set_subsystem(nqn);
  req.set_clear_alerts(false);  // as the reference sends it
  const auto rep = Invoke<connections_info>(c, "list_connections", req,
                                            "Failure listing connections");
  return Report(c, rep, [&] {
    const bool all = rep.subsystem_nqn() == "*";
    std::vector<std::vector<Cell>> rows;
    bool timeout = false;  // the column only when a host was disconnected by keep-alive
    for (const auto& k : rep.connections()) timeout = timeout || k.disconnected_due_to_keepalive_timeout();
    for (const auto& k : rep.connections()) {
      const bool up = k.connected();
      rows.emplace_back();
      if (all) rows.back().push_back(k.subsystem());
      rows.back().insert(rows.back().end(), {k.host_deleted() ? k.nqn() + " (deleted)" : k.nqn(),
                      up ? AddressCell(k.adrfam(), k.traddr(), k.trsvcid()) : "<n/a>", up ? "Yes" : "No",
                      up ? Cell(k.qpairs_count()) : Cell("<n/a>"), up ? Cell(k.controller_id()) : Cell("<n/a>"),
                      up ? (k.secure() ? "Yes" : "No") : "<n/a>", k.use_psk() ? "Yes" : "No",
                      k.use_dhchap() ? "Yes" : "No", DhchapControllerText(k.dhchap_controller_origin())});
      if (timeout) rows.back().push_back(k.disconnected_due_to_keepalive_timeout() ? "Yes" : "No");
    }
    if (rows.empty()) {
      c.Out("No connections for " + (all ? std::string("any subsystem") : rep.subsystem_nqn()));
      return;
    }
    std::vector<std::string> headers;
    if (all) headers.push_back("Subsystem");
    for (const char* h : {"Host NQN", "Address", "Connected", "QPairs Count", "Controller ID", "Secure", "Uses\nPSK",
                          "Uses\nDHCHAP", "DHCHAP\nController"})
      headers.push_back(h);
    if (timeout) headers.push_back("Keepalive\nTimeout");
    c.Out("Connections for " + (all ? std::string("all subsystems") : rep.subsystem_nqn()) + ":\n" +
          RenderTable(headers, rows, c.style()));
  });
}

// get_connection_io_statistics: reads and writes of one host by size bucket, the times in
// nanoseconds; with reset, the statistics start over after the reply.
int ConnectionIoStatistics(Ctx& c, const std::string& nqn, const std::string& host, bool reset) {
  get_connection_io_statistics_req req;
  req.set_subsystem_nqn(nqn);
  req.set_host_nqn(host);
  if (reset) req.set_reset(true);
  const auto rep = Invoke<connection_io_statistics>(
      c, "get_connection_io_statistics", req,
      std::string(reset ? "Failure resetting" : "Failure getting") + " IO statistics for host " + host + " in " + nqn);
  return Report(c, rep, [&] {
    if (reset) {
      c.Out("Resetting host's " + host + " in " + nqn + " IO statistics: Successful");
      return;
    }
    auto lat = [](const latency_stats& l) {
      return std::to_string(l.min()) + " / " + std::to_string(l.mean()) + " / " + std::to_string(l.max());
    };
    std::vector<std::vector<Cell>> rows;
    for (const auto& b : rep.buckets()) {
      for (const auto* g : {&b.read(), &b.write()}) {
        if (g->io_count() == 0) continue;
        rows.push_back({std::to_string(b.size()) + " KiB", g == &b.read() ? "Read" : "Write", g->io_count(),
                        lat(g->total()), lat(g->bdev()), lat(g->net()), lat(g->qos())});
      }
    }
    if (rows.empty()) {
      c.Out("No IO statistics for host " + host + " in " + nqn);
      return;
    }
    c.Out("IO statistics for host " + host + " in " + nqn + " (" + std::to_string(rep.total_num_ios()) +
          " IOs; times in ns, min / mean / max):\n" +
          RenderTable({"Size\nup to", "Op", "IOs", "Total", "Bdev", "Net", "QoS"}, rows, c.style()));
  });
}

// ---- namespace ----

struct NsArgs {
  std::string nqn, uuid, pool, image, size, memory_size, file, rados_namespace, data_pool;
  bool read_only = false;
  bool trash_on_delete = false;  // add: --rbd-trash-image-on-delete
  bool i_am_sure = false;        // del: confirms moving the RBD image to the trash
  long long nsid = 0;
  CLI::Option* nsid_opt = nullptr;
  bool create_image = false;
  long long block_size = 512;
  long long lb_group = 0;
  bool force = false;
  bool no_auto_visible = false;
  std::string auto_visible, trash_image, auto_resize, location;  // yes/no, yes/no, yes/no, site
  long long rw_ios = 0, rw_mb = 0, r_mb = 0, w_mb = 0;
  CLI::Option *rw_ios_opt = nullptr, *rw_mb_opt = nullptr, *r_mb_opt = nullptr,
              *w_mb_opt = nullptr;
  std::vector<std::string> hosts;
};

bool Given(const CLI::Option* o) { return o != nullptr && o->count() > 0; }

int NsAdd(Ctx& c, const NsArgs& a) {
  if (a.block_size <= 0) throw UsageError{"block-size value must be positive"};
  if (a.block_size > 0xffffffffLL) throw UsageError{"block-size value is too large"};
  if (a.lb_group < 0) throw UsageError{"load-balancing-group value must be positive"};
  if (a.lb_group > 0x7fffffffLL) throw UsageError{"load-balancing-group value is too large"};
  if (Given(a.nsid_opt)) NsidArg(a.nsid);

  const bool memory = !a.memory_size.empty();
  const bool file = !a.file.empty();
  const bool rbd = !a.pool.empty() || !a.image.empty();
  if (memory + file + rbd > 1)
    throw UsageError{"--rbd-pool/--rbd-image, --memory-size and --file are mutually exclusive"};
  if (!memory && !file && (a.pool.empty() || a.image.empty()))
    throw UsageError{
        "the following arguments are required: --rbd-pool/-p, --rbd-image/-i "
        "(or --memory-size, or --file)"};

  namespace_add_req req;
  req.set_subsystem_nqn(a.nqn);
  if (Given(a.nsid_opt)) req.set_nsid(static_cast<std::uint32_t>(a.nsid));
  req.set_block_size(static_cast<std::uint32_t>(a.block_size));
  if (!a.uuid.empty()) req.set_uuid(a.uuid);
  req.set_anagrpid(static_cast<std::int32_t>(a.lb_group));
  req.set_force(a.force);
  req.set_no_auto_visible(a.no_auto_visible);
  if (a.read_only) req.set_read_only(true);
  if ((memory || file) && (!a.rados_namespace.empty() || !a.data_pool.empty()))
    throw UsageError{"--rados-namespace and --rbd-data-pool are for RBD namespaces"};

  if (memory) {
    if (a.create_image) throw UsageError{"--rbd-create-image can't be used with --memory-size"};
    if (!a.size.empty()) throw UsageError{"--size can't be used with --memory-size"};
    const std::uint64_t bytes = SizeArg(a.memory_size);
    if (bytes == 0) throw UsageError{"memory-size value must be positive"};
    req.set_backend("memory");
    req.set_memory_size(bytes);
  } else if (file) {
    if (a.create_image) throw UsageError{"--rbd-create-image can't be used with --file"};
    req.set_backend("file");
    req.set_file_path(a.file);
    if (!a.size.empty()) {
      const std::uint64_t bytes = SizeArg(a.size);
      if (bytes == 0) throw UsageError{"size value must be positive"};
      req.set_file_size(bytes);
    }
  } else {
    req.set_rbd_pool_name(a.pool);
    req.set_rbd_image_name(a.image);
    if (!a.rados_namespace.empty()) req.set_rados_namespace_name(a.rados_namespace);
    if (!a.data_pool.empty()) {
      if (!a.create_image) throw UsageError{"--rbd-data-pool is used only with --rbd-create-image"};
      req.set_rbd_data_pool_name(a.data_pool);
    }
    req.set_create_image(a.create_image);
    if (a.trash_on_delete && !a.create_image)
      throw UsageError{"Can't trash associated RBD image on delete if it wasn't created automatically by the gateway"};
    req.set_trash_image(a.trash_on_delete);
    std::uint64_t bytes = 0;
    if (a.create_image) {
      if (a.size.empty())
        throw UsageError{
            "--size argument is mandatory for add command when RBD image creation is enabled"};
      // A leading '-' is a negative size: the reference's message for it.
      if (a.size.find_first_not_of(" ") != std::string::npos &&
          a.size[a.size.find_first_not_of(" ")] == '-')
        throw UsageError{"size value must be positive"};
      bytes = SizeArg(a.size);
      if (Status s = api::ValidateImageSize(bytes); !s.ok())
        throw UsageError{s.message() == "image size must be aligned to MiBs"
                             ? "size value must be aligned to MiBs"
                             : s.message()};
    } else if (!a.size.empty()) {
      throw UsageError{
          "--size argument is not allowed for add command when RBD image creation is disabled"};
    }
    req.set_size(bytes);
  }

  const std::string nsid_msg = Given(a.nsid_opt) ? "using NSID " + std::to_string(a.nsid) + " " : "";
  const auto rep = Invoke<nsid_status>(c, "namespace_add", req,
                                       "Failure adding namespace " + nsid_msg + "to " + a.nqn);
  return Report(c, rep, [&] {
    c.Out("Adding namespace " + std::to_string(rep.nsid()) + " to " + a.nqn + ": Successful");
  });
}

int NsDel(Ctx& c, const NsArgs& a) {
  namespace_delete_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(NsidArg(a.nsid));
  req.set_i_am_sure(a.i_am_sure);
  const auto rep = Invoke<req_status>(c, "namespace_delete", req, "Failure deleting namespace");
  return Report(c, rep, [&] {
    c.Out("Deleting namespace " + std::to_string(a.nsid) + " from " + a.nqn + ": Successful");
  });
}

int NsResize(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  const auto first = a.size.find_first_not_of(" ");
  if (first != std::string::npos && a.size[first] == '-')
    throw UsageError{"size value must be positive"};
  const std::uint64_t bytes = SizeArg(a.size);
  if (bytes == 0) throw UsageError{"size value must be positive"};
  constexpr std::uint64_t kMiB = 1024 * 1024;
  if (bytes % kMiB) throw UsageError{"size value must be aligned to MiBs"};
  namespace_resize_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_new_size(bytes / kMiB);
  const auto rep = Invoke<req_status>(c, "namespace_resize", req, "Failure resizing namespace");
  return Report(c, rep, [&] {
    c.Out("Resizing namespace " + std::to_string(nsid) + " in " + a.nqn + " to " +
          api::FormatSize(bytes) + ": Successful");
  });
}

int NsRefreshSize(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_resize_req req;  // new_size 0: refresh to the image's current size
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  const auto rep = Invoke<req_status>(c, "namespace_resize", req, "Failure refreshing namespace size");
  return Report(c, rep, [&] {
    c.Out("Refreshing size for namespace " + std::to_string(nsid) + " in " + a.nqn + ": Successful");
  });
}

enum class NsView { kFull, kHosts, kLocations };

// The title line of `ns list` and its views: which namespaces of which subsystems.
std::string NsListTitle(const NsArgs& a, bool by_nsid) {
  std::string prefix = "Namespaces in";
  if (by_nsid)
    prefix = "Namespace " + std::to_string(a.nsid) + " in";
  else if (!a.uuid.empty())
    prefix = "Namespace with UUID " + a.uuid + " in";
  return prefix + (a.nqn == "*" ? std::string(" all subsystems") : " subsystem " + a.nqn);
}

// `ns list_locations`: the count of namespaces per subsystem, load-balancing group and
// location (a subsystem's NQN on its first row only).
int NsLocations(Ctx& c, const NsArgs& a, const namespaces_info& rep, bool by_nsid) {
  std::map<std::string, std::map<uint32_t, std::map<std::string, int>>> count;
  for (const auto& ns : rep.namespaces()) {
    if (ns.ns_subsystem_nqn().empty()) throw UsageError{"Found a namespace without a subsystem NQN"};
    count[ns.ns_subsystem_nqn()][ns.load_balancing_group()][ns.location().empty() ? "<default>" : ns.location()]++;
  }
  std::vector<std::vector<Cell>> rows;
  for (const auto& [nqn, groups] : count) {
    bool first = true;
    for (const auto& [lb, locations] : groups)
      for (const auto& [loc, n] : locations) {
        rows.push_back({first ? nqn : "", lb ? Cell(lb) : Cell("<n/a>"), loc, n});
        first = false;
      }
  }
  const bool all = a.nqn == "*";
  if (rows.empty()) {
    c.Out(all ? "No namespaces in any subsystem" : "No namespaces in subsystem " + a.nqn);
    return 0;
  }
  c.Out(NsListTitle(a, by_nsid) + ":\n" +
        RenderTable({"Subsystem", "Load\nBalancing\nGroup", "Location", "Count"}, rows, c.style()));
  return 0;
}

// Without -n ("*"): every subsystem's namespaces. kHosts: `ns list_hosts` (NQN, NSID, the
// hosts); kLocations: `ns list_locations`.
int NsListView(Ctx& c, const NsArgs& given, NsView view) {
  NsArgs a = given;
  if (a.nqn.empty()) a.nqn = "*";
  list_namespaces_req req;
  req.set_subsystem(a.nqn);
  const bool by_nsid = Given(a.nsid_opt);
  if (by_nsid) req.set_nsid(NsidArg(a.nsid));
  if (!a.uuid.empty()) req.set_uuid(a.uuid);
  const auto rep = Invoke<namespaces_info>(c, "list_namespaces", req,
                                           "Failure listing namespaces");
  if (!c.text()) {
    c.Dump(rep);
    return rep.status();
  }
  if (rep.status() != 0) {
    c.Err(rep.error_message());
    return rep.status();
  }
  if (by_nsid && rep.namespaces_size() > 1)
    c.Err("Got more than one namespace for NSID " + std::to_string(a.nsid));
  if (!a.uuid.empty() && rep.namespaces_size() > 1)
    c.Err("Got more than one namespace for UUID " + a.uuid);
  if (view == NsView::kLocations) return NsLocations(c, a, rep, by_nsid);
  const bool show_hosts = view == NsView::kHosts;
  const bool all = a.nqn == "*";  // every subsystem's namespaces
  std::vector<std::vector<Cell>> rows;
  for (const auto& ns : rep.namespaces()) {
    if (by_nsid && static_cast<long long>(ns.nsid()) != a.nsid) {
      c.Err("Failure listing namespace " + std::to_string(a.nsid) + ": Got namespace " +
            std::to_string(ns.nsid()) + " instead");
      return ENODEV;
    }
    if (!a.uuid.empty() && a.uuid != ns.uuid()) {
      c.Err("Failure listing namespace with UUID " + a.uuid + ": Got namespace " + ns.uuid() +
            " instead");
      return ENODEV;
    }
    // The hosts only in the hosts view; the full view says Restrictive.
    std::string visibility = "All Hosts";
    if (!ns.auto_visible()) {
      if (!show_hosts || ns.hosts_size() == 0) {
        visibility = show_hosts ? "None" : "Restrictive";
      } else {
        visibility.clear();
        bool relied_on_open = false;
        for (const auto& h : ns.hosts()) {
          if (h == "*")
            relied_on_open = true;
          else
            visibility += h + "\n";
        }
        if (relied_on_open) visibility += "\nOne of the hosts relied on the subsystem being open for all hosts";
      }
    }
    std::string image = ns.rbd_pool_name() + "/" +
                        (ns.rados_namespace_name().empty() ? "" : ns.rados_namespace_name() + "/") +
                        ns.rbd_image_name();
    if (ns.has_backend() && ns.backend() == "memory") image = "<memory>";
    if (ns.has_backend() && ns.backend() == "file") image = ns.file_path();
    if (!ns.rbd_data_pool_name().empty()) image += "\nData pool " + ns.rbd_data_pool_name();
    std::string mode = ns.read_only() ? "Read-Only" : "Read-Write";
    if (ns.trash_image()) mode += "\nTrash on delete";
    if (ns.disable_auto_resize()) mode += "\nDisable auto resize";
    std::string encryption;
    for (const auto& e : ns.encryption_entries())
      if (e.format() != ::none) encryption += (encryption.empty() ? "" : "\n") + Upper(::EncryptionFormat_Name(e.format()));
    if (encryption.empty()) encryption = "None";
    std::string lb_group = ns.load_balancing_group() == 0 ? "<n/a>" : std::to_string(ns.load_balancing_group());
    if (c.g().verbose) {
      std::string configured = ns.configured_load_balancing_group() == 0
                                   ? "<n/a>"
                                   : std::to_string(ns.configured_load_balancing_group());
      // A configured group other than the served one in reverse video (not with --output stdio).
      if (configured != "<n/a>" && configured != lb_group && c.g().output != "stdio")
        configured = "\x1b[7m" + configured + "\x1b[27m";
      lb_group += " (" + configured + ")";
    }
    std::string subsys = rep.subsystem_nqn().empty() ? a.nqn : rep.subsystem_nqn();
    if (all) {  // "*": each namespace says its subsystem
      if (ns.ns_subsystem_nqn().empty()) c.Err("Got namespace with ID " + std::to_string(ns.nsid()) + " on an unknown subsystem");
      subsys = ns.ns_subsystem_nqn().empty() ? "<n/a>" : ns.ns_subsystem_nqn();
    }
    if (show_hosts) {
      rows.push_back({subsys, ns.nsid(), visibility});
      continue;
    }
    rows.push_back({subsys, ns.nsid(), BreakString(ns.bdev_name(), '-', 2), image, mode,
                    api::FormatSize(ns.rbd_image_size()), api::FormatSize(ns.block_size()),
                    BreakString(ns.uuid(), '-', 3), lb_group, ns.location().empty() ? "<default>" : ns.location(),
                    visibility, encryption, QosValue(ns.rw_ios_per_second()),
                    QosValue(ns.rw_mbytes_per_second()) + "\n" + QosValue(ns.r_mbytes_per_second()) + "\n" +
                        QosValue(ns.w_mbytes_per_second())});
    if (c.g().verbose) rows.back().push_back(ns.cluster_name().empty() ? "<n/a>" : ns.cluster_name());
  }
  if (rows.empty()) {
    const std::string where = all ? "any subsystem" : "subsystem " + a.nqn;
    if (by_nsid)
      c.Out("No namespace " + std::to_string(a.nsid) + " in " + where);
    else if (!a.uuid.empty())
      c.Out("No namespace with UUID " + a.uuid + " in " + where);
    else
      c.Out("No namespaces in " + where);
    return 0;
  }
  std::vector<std::string> headers = {"NQN", "NSID", "Hosts"};
  if (!show_hosts) headers = {"NQN",
                                      "NSID",
                                      "Bdev\nName",
                                      "RBD\nImage",
                                      "Mode",
                                      "Image\nSize",
                                      "Block\nSize",
                                      "UUID",
                                      c.g().verbose ? "Load\nBalancing\nGroup\n(Configured)" : "Load\nBalancing\nGroup",
                                      "Location",
                                      "Visibility",
                                      "Encryption",
                                      "IOs per\nsecond",
                                      "R/W, R, W MBs\nper second"};
  if (c.g().verbose && !show_hosts) headers.push_back("Cluster\nName");
  c.Out(NsListTitle(a, by_nsid) + ":\n" +
        RenderTable(headers, rows, c.style()));
  return 0;
}

int NsList(Ctx& c, const NsArgs& a) { return NsListView(c, a, NsView::kFull); }
int NsListHosts(Ctx& c, const NsArgs& a) { return NsListView(c, a, NsView::kHosts); }
int NsListLocations(Ctx& c, const NsArgs& a) { return NsListView(c, a, NsView::kLocations); }

int NsGetIoStats(Ctx& c, const NsArgs& a) {
  namespace_get_io_stats_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(NsidArg(a.nsid));
  auto rep = Invoke<namespace_io_stats_info>(c, "namespace_get_io_stats", req,
                                             "Failure getting namespace's IO stats");
  if (rep.status() == 0) {
    if (rep.subsystem_nqn() != a.nqn) {
      rep.set_status(ENODEV);
      rep.set_error_message("Failure getting namespace's IO stats: Returned subsystem " +
                            rep.subsystem_nqn() + " differs from requested one " + a.nqn);
    } else if (static_cast<long long>(rep.nsid()) != a.nsid) {
      rep.set_status(ENODEV);
      rep.set_error_message("Failure getting namespace's IO stats: Returned namespace NSID " +
                            std::to_string(rep.nsid()) + " differs from requested one " +
                            std::to_string(a.nsid));
    }
  }
  if (!c.g().verbose) rep.clear_io_error();  // I/O errors only in verbose mode
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows = {
        {"Tick Rate", rep.tick_rate()},
        {"Ticks", rep.ticks()},
        {"Bytes Read", rep.bytes_read()},
        {"Num Read Ops", rep.num_read_ops()},
        {"Bytes Written", rep.bytes_written()},
        {"Num Write Ops", rep.num_write_ops()},
        {"Bytes Unmapped", rep.bytes_unmapped()},
        {"Num Unmap Ops", rep.num_unmap_ops()},
        {"Read Latency Ticks", rep.read_latency_ticks()},
        {"Max Read Latency Ticks", rep.max_read_latency_ticks()},
        {"Min Read Latency Ticks", rep.min_read_latency_ticks()},
        {"Write Latency Ticks", rep.write_latency_ticks()},
        {"Max Write Latency Ticks", rep.max_write_latency_ticks()},
        {"Min Write Latency Ticks", rep.min_write_latency_ticks()},
        {"Unmap Latency Ticks", rep.unmap_latency_ticks()},
        {"Max Unmap Latency Ticks", rep.max_unmap_latency_ticks()},
        {"Min Unmap Latency Ticks", rep.min_unmap_latency_ticks()},
        {"Copy Latency Ticks", rep.copy_latency_ticks()},
        {"Max Copy Latency Ticks", rep.max_copy_latency_ticks()},
        {"Min Copy Latency Ticks", rep.min_copy_latency_ticks()},
    };
    for (const auto& e : rep.io_error())
      if (e.value()) rows.push_back({"IO Error - " + e.name(), e.value()});
    c.Out("IO statistics for namespace " + std::to_string(a.nsid) + " in " + a.nqn + ", bdev " +
          rep.bdev_name() + ":\n" + RenderTable({"Stat", "Value"}, rows, c.style()));
  });
}

int NsChangeLbGroup(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  RequirePositive(a.lb_group, "load-balancing-group");
  if (a.lb_group > 0x7fffffffLL) throw UsageError{"load-balancing-group value is too large"};
  namespace_change_load_balancing_group_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_anagrpid(static_cast<std::int32_t>(a.lb_group));
  const auto rep = Invoke<req_status>(c, "namespace_change_load_balancing_group", req,
                                      "Failure changing namespace load balancing group");
  return Report(c, rep, [&] {
    c.Out("Changing load balancing group of namespace " + std::to_string(nsid) + " in " + a.nqn +
          " to " + std::to_string(a.lb_group) + ": Successful");
  });
}

int NsSetQos(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  if (!Given(a.rw_ios_opt) && !Given(a.rw_mb_opt) && !Given(a.r_mb_opt) && !Given(a.w_mb_opt))
    throw UsageError{"At least one QOS limit should be set"};
  for (auto [opt, v, name] : {std::tuple{a.rw_ios_opt, a.rw_ios, "rw-ios-per-second"},
                              std::tuple{a.rw_mb_opt, a.rw_mb, "rw-megabytes-per-second"},
                              std::tuple{a.r_mb_opt, a.r_mb, "r-megabytes-per-second"},
                              std::tuple{a.w_mb_opt, a.w_mb, "w-megabytes-per-second"}}) {
    if (Given(opt) && v < 0)
      throw UsageError{std::string(name) + " value must be positive or 0 (unlimited)"};
  }
  if (c.text() && Given(a.rw_ios_opt) && a.rw_ios != 0 && a.rw_ios % 1000 != 0) {
    const long long rounded = (a.rw_ios + 1000) / 1000 * 1000;
    c.Err("IOs per second " + std::to_string(a.rw_ios) + " will be rounded up to " +
          std::to_string(rounded));
  }
  namespace_set_qos_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  if (Given(a.rw_ios_opt)) req.set_rw_ios_per_second(static_cast<std::uint64_t>(a.rw_ios));
  if (Given(a.rw_mb_opt)) req.set_rw_mbytes_per_second(static_cast<std::uint64_t>(a.rw_mb));
  if (Given(a.r_mb_opt)) req.set_r_mbytes_per_second(static_cast<std::uint64_t>(a.r_mb));
  if (Given(a.w_mb_opt)) req.set_w_mbytes_per_second(static_cast<std::uint64_t>(a.w_mb));
  const auto rep = Invoke<req_status>(c, "namespace_set_qos_limits", req,
                                      "Failure setting namespaces QOS limits");
  return Report(c, rep, [&] {
    c.Out("Setting QOS limits of namespace " + std::to_string(nsid) + " in " + a.nqn +
          ": Successful");
  });
}

// namespace add_host / del_host: one RPC per host; the first error is the exit code.
template <typename Req>
int NsHostOp(Ctx& c, const NsArgs& a, const char* rpc, const char* failure, const std::string& verb,
             const std::string& preposition) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  return ForEachHost(a.hosts, [&](const std::string& h) {
    Req req;
    req.set_subsystem_nqn(a.nqn);
    req.set_nsid(nsid);
    req.set_host_nqn(h);
    return StatusCall(c, rpc, req, failure,
                      verb + " host " + h + " " + preposition + " namespace " +
                          std::to_string(nsid) + " on " + a.nqn + ": Successful");
  });
}

int NsAddHost(Ctx& c, const NsArgs& a) {
  return NsHostOp<namespace_add_host_req>(c, a, "namespace_add_host", "Failure adding host to namespace", "Adding",
                                          "to");
}

int NsDelHost(Ctx& c, const NsArgs& a) {
  return NsHostOp<namespace_delete_host_req>(c, a, "namespace_delete_host", "Failure deleting host from namespace",
                                             "Deleting", "from");
}

// The reference CLI's boolean option values ("yes"/"no", also true/false, 1/0).
bool YesNo(const std::string& v, const char* option) {
  std::string l = v;
  for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "yes" || l == "true" || l == "1") return true;
  if (l == "no" || l == "false" || l == "0") return false;
  throw UsageError{std::string("argument ") + option + ": invalid value '" + v + "', use yes or no"};
}

int NsChangeVisibility(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_change_visibility_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_auto_visible(YesNo(a.auto_visible, "--auto-visible"));
  if (a.force) req.set_force(true);
  return StatusCall(c, "namespace_change_visibility", req, "Failure changing namespace visibility",
                    "Changing visibility of namespace " + std::to_string(nsid) + " in " + a.nqn + " to \"" +
                        (req.auto_visible() ? "visible to all hosts" : "visible to selected hosts") +
                        "\": Successful");
}

int NsSetRbdTrashImage(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_set_rbd_trash_image_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_trash_image(YesNo(a.trash_image, "--rbd-trash-image-on-delete"));
  return StatusCall(c, "namespace_set_rbd_trash_image", req, "Failure setting namespace RBD trash image flag",
                    "Setting RBD trash image flag for namespace " + std::to_string(nsid) + " in " + a.nqn +
                        " to \"" + (req.trash_image() ? "" : "do not ") +
                        "trash on namespace deletion\": Successful");
}

int NsSetAutoResize(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_set_auto_resize_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_auto_resize(YesNo(a.auto_resize, "--auto-resize-enabled"));
  return StatusCall(c, "namespace_set_auto_resize", req, "Failure setting namespace auto resize flag",
                    "Setting auto resize flag for namespace " + std::to_string(nsid) + " in " + a.nqn + " to \"" +
                        (req.auto_resize() ? "" : "do not ") + "auto resize namespace\": Successful");
}

int NsChangeLocation(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_change_location_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  req.set_location(a.location);
  return StatusCall(c, "namespace_change_location", req, "Failure changing namespace location",
                    "Changing location of namespace " + std::to_string(nsid) + " in " + a.nqn + " to \"" +
                        a.location + "\": Successful");
}

int NsUnpin(Ctx& c, const NsArgs& a) {
  const std::uint32_t nsid = NsidArg(a.nsid);
  namespace_unpin_req req;
  req.set_subsystem_nqn(a.nqn);
  req.set_nsid(nsid);
  return StatusCall(c, "namespace_unpin", req, "Failure unpinning namespace",
                    "Unpinning load balancing group for namespace " + std::to_string(nsid) + " in " + a.nqn +
                        ": Successful");
}

// "OPTIMIZED" -> "Optimized", "NON_OPTIMIZED" -> "Non_Optimized" (Python's str.title()).
std::string TitleCase(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& ch : out) {
    const bool alpha = std::isalpha(static_cast<unsigned char>(ch)) != 0;
    ch = static_cast<char>(start && alpha ? std::toupper(static_cast<unsigned char>(ch))
                                          : std::tolower(static_cast<unsigned char>(ch)));
    start = !alpha;
  }
  return out;
}

int GwListenerInfo(Ctx& c, const std::string& nqn) {
  show_gateway_listeners_info_req req;
  req.set_subsystem_nqn(nqn);
  const auto rep = Invoke<gateway_listeners_info>(c, "show_gateway_listeners_info", req,
                                                  "Failure listing gateway listeners info");
  return Report(c, rep, [&] {
    std::vector<std::vector<Cell>> rows;
    for (const auto& gl : rep.gw_listeners()) {
      std::string states;
      for (const auto& st : gl.lb_states()) {
        if (!c.g().verbose && st.state() != ::OPTIMIZED) continue;
        states += (states.empty() ? "" : "\n") + std::to_string(st.grp_id()) + ": " +
                  TitleCase(::ana_state_Name(st.state()));
      }
      const auto& l = gl.listener();
      rows.push_back({l.host_name(), l.trtype(), FormatAdrfam(l.adrfam()),
                      AddressCell(l.adrfam(), l.traddr(), l.trsvcid()), l.secure() ? "Yes" : "No",
                      l.active() ? "Yes" : "No", states});
    }
    if (rows.empty()) {
      c.Out("No gateway listeners for " + nqn);
      return;
    }
    c.Out("Gateway listeners for " + nqn + ":\n" +
          RenderTable({"Host", "Transport", "Address Family", "Address", "Secure", "Active",
                       "Load Balancing\nGroup ID/State"},
                      rows, c.style()));
  });
}

// gw ha: this gateway's view of the gateway-group HA (api/gateway_ha.proto).
int GwHa(Ctx& c) {
  const auto rep = Invoke<::nvmeof::ha::ha_status>(c, "get_ha_status", ::nvmeof::ha::get_ha_status_req(),
                                                  "Failure getting the gateway-group HA status");
  return Report(c, rep, [&] {
    auto ms = [](std::uint64_t v) { return v >= 10000 ? std::to_string(v / 1000) + " s" : std::to_string(v) + " ms"; };
    std::vector<std::vector<Cell>> groups;
    for (const auto& g : rep.groups())
      groups.push_back({g.grp_id(), g.owner().empty() ? "-" : g.owner(), g.role(),
                        g.lease_age_ms() ? ms(g.lease_age_ms()) : "-", ms(g.since_ms()) + " ago",
                        g.last_reason().empty() ? "-" : g.last_reason(), g.owner_changes()});
    std::vector<std::vector<Cell>> members;
    for (const auto& m : rep.members()) {
      std::string owns, listeners;
      for (auto g : m.owned_groups()) owns += (owns.empty() ? "" : ", ") + std::to_string(g);
      for (const auto& l : m.listeners()) {
        std::string states;
        for (const auto& st : l.states()) {
          if (!c.g().verbose && st.state() != "OPTIMIZED" && st.state() != "CHANGE") continue;
          states += (states.empty() ? "" : ", ") + std::to_string(st.grp_id()) + ": " + TitleCase(st.state());
        }
        listeners += (listeners.empty() ? "" : "\n") + l.traddr() + ":" + l.trsvcid() +
                     (states.empty() ? "" : " (" + states + ")");
      }
      members.push_back({m.name() + (m.name() == rep.gateway() ? " (this)" : ""), m.home_group(),
                         std::to_string(m.min_cntlid()) + "-" + std::to_string(m.max_cntlid()),
                         m.alive() ? "Yes" : "No", owns.empty() ? "-" : owns, listeners.empty() ? "-" : listeners});
    }
    c.Out("Gateway-group HA as gateway " + rep.gateway() + " sees it (group '" + rep.group() + "', lease " +
          ms(rep.lease_ms()) + "):\n" +
          RenderTable({"ANA Group", "Owner", "Role Here", "Lease Age", "Last Change", "Reason", "Failovers"}, groups,
                      c.style()) +
          "\n" +
          RenderTable({"Gateway", "Home Group", "Controller IDs", "Alive", "Serves", "Listeners (ANA group: state)"},
                      members, c.style()));
  });
}

// gw ha_remove_member: remove a dead gateway's HA member record (its home group is freed).
int GwHaRemoveMember(Ctx& c, const std::string& name) {
  ::nvmeof::ha::remove_member_req req;
  req.set_name(name);
  const auto rep = Invoke<::nvmeof::ha::ha_req_status>(c, "remove_member", req, "Failure removing HA member " + name);
  return Report(c, rep, [&] { c.Out("Removing HA member " + name + ": Successful"); });
}

int GetSubsystems(Ctx& c) {
  subsystems_info rep;
  const grpc::Status s = c.transport().Call("get_subsystems", get_subsystems_req(), &rep);
  if (!s.ok()) throw UsageError{"get_subsystems failed: code=" +
                                std::string(GrpcCodeName(s.error_code())) +
                                " message=" + s.error_message()};
  c.Out("Get subsystems:\n" + MessageToJson(rep));
  return 0;
}

int CliVersion(Ctx& c) {
  cli_version ver;
  ver.set_status(0);
  ver.set_error_message("Success");
  ver.set_version(BuildVersion());
  return Report(c, ver, [&] { c.Out("CLI version: " + ver.version()); });
}

std::string ReadFileArg(const std::string& path, const char* option) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    throw UsageError{std::string("argument ") + option + ": can't open '" + path +
                     "': " + std::strerror(errno)};
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string BuildVersion() {
  if (const char* v = std::getenv("NVMEOF_VERSION"); v && *v) return v;
  return NVMEOF_VERSION_STRING;
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const TransportFactory& factory, const GetEnv& getenv) {
  Globals g;
  if (auto v = getenv("CEPH_NVMEOF_SERVER_ADDRESS"); v && !v->empty()) g.server_address = *v;
  if (auto v = getenv("CEPH_NVMEOF_SERVER_PORT"); v && !v->empty()) {
    try {
      std::size_t used = 0;
      g.server_port = std::stoi(*v, &used);
      if (used != v->size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      err << "error: invalid CEPH_NVMEOF_SERVER_PORT value '" << *v << "'\n";
      return 2;
    }
  }

  CLI::App app{"CLI to manage NVMe gateways (nvmeof-gateway gwcli, compatible with nvmeof-cli)",
               "gwcli"};
  app.fallthrough();  // global options are accepted after the command too
  app.set_help_all_flag("--help-all", "Show the help of every command and action");

  app.add_option("--format", g.format, "CLI output format")
      ->check(CLI::IsMember({"text", "json", "yaml", "plain"}))
      ->capture_default_str();
  app.add_option("--output", g.output,
                 "CLI output method: 'log' writes everything to stderr like the reference "
                 "CLI's logger, 'stdio' writes results to stdout and errors to stderr")
      ->check(CLI::IsMember({"log", "stdio"}))
      ->capture_default_str();
  app.add_option("--log-level", g.log_level, "CLI log level (with --output log)")
      ->check(CLI::IsMember({"debug", "info", "warning", "error", "critical"}, CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--server-address", g.server_address,
                 "Server address (default: CEPH_NVMEOF_SERVER_ADDRESS env variable or "
                 "'localhost')");
  app.add_option("--server-port", g.server_port,
                 "Server port (default: CEPH_NVMEOF_SERVER_PORT env variable or '5500')");
  app.add_option("--client-key", g.client_key, "Path to the client key file (mTLS)");
  app.add_option("--client-cert", g.client_cert, "Path to the client certificate file (mTLS)");
  app.add_option("--server-cert", g.server_cert,
                 "Path to the server certificate file (mTLS trust root)");
  app.add_flag("--verbose", g.verbose, "Run CLI in verbose mode");

  Handler handler;
  std::string missing_action;
  std::vector<std::pair<CLI::App*, std::vector<std::string>>> commands;
  auto command = [&](const std::string& name, const std::string& help) {
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->require_subcommand(0, 1);
    commands.push_back({cmd, {}});
    return cmd;
  };
  auto action = [&](CLI::App* cmd, const std::string& name, const std::string& help,
                    std::function<int(Ctx&)> fn) {
    CLI::App* act = cmd->add_subcommand(name, help);
    for (auto& [c, names] : commands)
      if (c == cmd) names.push_back(name);
    act->callback([&handler, fn = std::move(fn)] { handler = fn; });
    return act;
  };

  // version
  CLI::App* version_cmd = app.add_subcommand("version", "Get CLI version");
  version_cmd->callback([&] { handler = CliVersion; });

  // gw
  std::string gw_level;
  CLI::App* gw = command("gw", "Gateway commands");
  action(gw, "version", "Display gateway's version", GwVersion);
  action(gw, "info", "Display gateway's information", GwInfo);
  action(gw, "get_log_level", "Get gateway's log level", GwGetLogLevel);
  action(gw, "set_log_level", "Set gateway's log level",
         [&gw_level](Ctx& c) { return GwSetLogLevel(c, gw_level); })
      ->add_option("-l,--level", gw_level, "Gateway log level")
      ->required()
      ->check(CLI::IsMember({"debug", "info", "warning", "error", "critical"}, CLI::ignore_case));
  std::string rn_nqn;
  action(gw, "refresh_network",
         "Rescan this gateway's network interfaces and update the subsystem's auto-listeners (network masks)",
         [&rn_nqn](Ctx& c) { return GwRefreshNetwork(c, rn_nqn); })
      ->add_option("-n,--subsystem", rn_nqn, "Subsystem NQN")
      ->required();
  std::string li_nqn;
  action(gw, "listener_info", "Show listeners information for the gateway",
         [&li_nqn](Ctx& c) { return GwListenerInfo(c, li_nqn); })
      ->add_option("-n,--subsystem", li_nqn, "Subsystem NQN")
      ->required();
  action(gw, "ha",
         "(ext) Show the gateway-group HA as this gateway sees it: which gateway serves each ANA group "
         "(role here, lease age, last change and its reason, failovers) and the members (home group, "
         "controller-ID range, alive, groups served, listeners with the ANA state of each group; only "
         "the optimized ones without --verbose). Needs [gateway] ha = builtin",
         GwHa);
  std::string ha_member;
  action(gw, "ha_remove_member",
         "(ext) Remove a dead gateway's record from the gateway-group HA: its home ANA group is freed "
         "for the next new gateway (its namespaces move to the other groups). Refused (EBUSY) while "
         "that gateway is alive. Needs [gateway] ha = builtin",
         [&ha_member](Ctx& c) { return GwHaRemoveMember(c, ha_member); })
      ->add_option("-n,--name", ha_member, "Gateway name")
      ->required();
  action(gw, "get_stats", "Get gateway's NVMf statistics (per poll group)", GwGetStats);
  action(gw, "get_thread_stats", "Get gateway's thread statistics (busy and idle time)", GwGetThreadStats);
  std::string io_stats_mode;
  action(gw, "set_io_stats_mode", "Turn the gateway's per-connection IO statistics on or off",
         [&io_stats_mode](Ctx& c) { return GwSetIoStatsMode(c, io_stats_mode); })
      ->add_option("-e,--enabled", io_stats_mode, "IO statistics on or off")
      ->required()
      ->check(CLI::IsMember({"true", "false", "yes", "no", "on", "off"}, CLI::ignore_case));
  std::string ana_nqn, ana_state_name;
  std::uint32_t ana_group = 0;
  CLI::App* gw_ana = action(gw, "set_ana_state",
                            "(ext) Set the ANA state of one load balancing group of a subsystem on this "
                            "gateway (what the Ceph monitor client does)",
                            [&](Ctx& c) { return GwSetAnaState(c, ana_nqn, ana_group, ana_state_name); });
  gw_ana->add_option("-n,--subsystem", ana_nqn, "Subsystem NQN")->required();
  gw_ana->add_option("-g,--group", ana_group, "Load balancing (ANA) group ID")->required();
  gw_ana->add_option("-s,--state", ana_state_name, "ANA state")
      ->required()
      ->check(CLI::IsMember({"optimized", "non_optimized", "inaccessible"}, CLI::ignore_case));

  // spdk_log_level
  std::string spdk_level, spdk_print;
  std::vector<std::string> spdk_extra;
  bool spdk_all = false;
  const std::vector<std::string> spdk_levels = {"ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"};
  CLI::App* spdk = command("spdk_log_level", "SPDK nvmf log level commands (accepted for "
                                             "compatibility; mapped onto the gateway's logs)");
  action(spdk, "get", "Get SPDK log levels and nvmf log flags", [&](Ctx& c) { return SpdkLogGet(c, spdk_all); })
      ->add_flag("-a,--all-log-flags", spdk_all, "Get all log flags, not just the NVMF ones");
  CLI::App* spdk_set = action(spdk, "set", "Set SPDK log levels and nvmf log flags",
                              [&](Ctx& c) { return SpdkLogSet(c, spdk_level, spdk_print, spdk_extra); });
  spdk_set->add_option("-e,--extra-log-flags", spdk_extra, "Extra log flags to set, not NVMF ones");
  spdk_set->add_option("-l,--level", spdk_level, "SPDK nvmf log level")
      ->check(CLI::IsMember(spdk_levels, CLI::ignore_case));
  spdk_set->add_option("-p,--print", spdk_print, "SPDK nvmf log print level")
      ->check(CLI::IsMember(spdk_levels, CLI::ignore_case));
  action(spdk, "disable", "Disable SPDK nvmf log flags", [&](Ctx& c) { return SpdkLogDisable(c, spdk_extra); })
      ->add_option("-e,--extra-log-flags", spdk_extra, "Extra log flags to reset, not NVMF ones");

  // subsystem
  SubsystemArgs sa;
  CLI::App* subsystem = command("subsystem", "Subsystem commands");
  CLI::App* sub_add = action(subsystem, "add", "Create a subsystem",
                             [&sa](Ctx& c) { return SubsystemAdd(c, sa); });
  sub_add->alias("create");
  sub_add->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  sub_add->add_option("-s,--serial-number", sa.serial,
                      "Serial number (default: generated by the gateway)");
  sa.max_ns_opt = sub_add->add_option("-m,--max-namespaces", sa.max_namespaces,
                                      "Maximum number of namespaces (default: 256)");
  sub_add->add_flag("--no-group-append", sa.no_group_append,
                    "Do not append gateway group name to the NQN");
  sub_add->add_option("-k,--dhchap-key", sa.dhchap_key,
                      "Subsystem DH-HMAC-CHAP key: the controller key of its hosts (each needs a key)");
  sub_add->add_option("--network-mask", sa.network_masks,
                      "For this subnet, automatically create listeners for this subsystem (one or more CIDRs)");
  sa.port_opt = sub_add->add_option("-p,--port", sa.port, "Port to use for the created listeners (default: 4420)");
  sub_add->add_flag("--secure-listeners", sa.secure_listeners,
                    "Make all the auto-listeners for this subsystem secure");
  CLI::App* sub_del = action(subsystem, "del", "Delete a subsystem",
                             [&sa](Ctx& c) { return SubsystemDel(c, sa); });
  sub_del->alias("delete");
  sub_del->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  sub_del->add_flag("--force", sa.force,
                    "Delete subsytem's namespaces if any, then delete subsystem. If not set a "
                    "subsystem deletion would fail in case it contains namespaces");
  sub_del->add_flag("--i-am-sure", sa.i_am_sure, "Confirmation for deleting the namespace associated RBD image");
  CLI::App* sub_list = action(subsystem, "list", "List subsystems",
                              [&sa](Ctx& c) { return SubsystemList(c, sa); });
  sub_list->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN");
  sub_list->add_option("-s,--serial-number", sa.serial, "Serial number");
  CLI::App* sub_ck = action(subsystem, "change_key", "Change subsystem's DH-HMAC-CHAP key",
                            [&sa](Ctx& c) { return SubsystemChangeKey(c, sa, false); });
  sub_ck->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  sub_ck->add_option("-k,--dhchap-key", sa.dhchap_key, "Subsystem DH-HMAC-CHAP key")->required();
  CLI::App* sub_dk = action(subsystem, "del_key", "Delete subsystem's DH-HMAC-CHAP key",
                            [&sa](Ctx& c) { return SubsystemChangeKey(c, sa, true); });
  sub_dk->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  CLI::App* sub_an = action(subsystem, "add_network", "Add a network mask to the subsystem",
                            [&sa](Ctx& c) { return SubsystemNetwork(c, sa, false); });
  sub_an->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  sub_an->add_option("--network-mask", sa.network_mask, "New network mask to add")->required();
  CLI::App* sub_dn = action(subsystem, "del_network", "Delete a network mask from the subsystem",
                            [&sa](Ctx& c) { return SubsystemNetwork(c, sa, true); });
  sub_dn->add_option("-n,--subsystem", sa.nqn, "Subsystem NQN")->required();
  sub_dn->add_option("--network-mask", sa.network_mask, "Existing network mask to delete")->required();

  // listener
  ListenerArgs la;
  const auto adrfam_check = CLI::IsMember({"ipv4", "ipv6"}, CLI::ignore_case);
  CLI::App* listener = command("listener", "Listener commands");
  CLI::App* l_add = action(listener, "add", "Create a listener",
                           [&la](Ctx& c) { return ListenerAdd(c, la); });
  l_add->add_option("-n,--subsystem", la.nqn, "Subsystem NQN")->required();
  l_add->add_option("-t,--host-name", la.host_name,
                    "Host name of the gateway that opens the listener")
      ->required();
  l_add->add_option("-a,--traddr", la.traddr, "NVMe host IP")->required();
  la.trsvcid_opt = l_add->add_option("-s,--trsvcid", la.trsvcid, "Port number (default: 4420)");
  l_add->add_option("-f,--adrfam", la.adrfam, "Address family (default: ipv4)")
      ->check(adrfam_check);
  l_add->add_flag("--secure", la.secure, "Use secure channel");
  l_add->add_flag("-y,--verify-host-name", la.verify_host_name,
                  "Fail in case the listener's host name is different than the gateway's");
  l_add->add_flag("--force", la.force, "Allow contradiction in security with existing listeners");
  CLI::App* l_del = action(listener, "del", "Delete a listener",
                           [&la](Ctx& c) { return ListenerDel(c, la); });
  l_del->alias("delete");
  l_del->add_option("-n,--subsystem", la.nqn, "Subsystem NQN")->required();
  l_del->add_option("-t,--host-name", la.host_name, "Host name ('*' with --force: all gateways)")
      ->required();
  l_del->add_option("-a,--traddr", la.traddr, "NVMe host IP")->required();
  l_del->add_option("-s,--trsvcid", la.trsvcid, "Port number")->required();
  l_del->add_option("-f,--adrfam", la.adrfam, "Address family (default: ipv4)")
      ->check(adrfam_check);
  l_del->add_flag("--force", la.force,
                  "Delete listener even if there are active connections for the address, or "
                  "the host name doesn't match");
  CLI::App* l_list = action(listener, "list", "List listeners",
                            [&la](Ctx& c) { return ListenerList(c, la); });
  l_list->add_option("-n,--subsystem", la.nqn, "Subsystem NQN")->required();

  // host
  HostArgs ha;
  CLI::App* host = command("host", "Host commands");
  CLI::App* h_add = action(host, "add", "Add host access to a subsystem",
                           [&ha](Ctx& c) { return HostAdd(c, ha); });
  h_add->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_add->add_option("-t,--host-nqn", ha.hosts, "Host NQN list ('*': allow any host)")
      ->required()
      ->expected(1, -1);
  h_add->add_option("-p,--psk", ha.psk, "Hosts PSK key");
  h_add->add_option("-k,--dhchap-key", ha.dhchap_key, "Host DH-HMAC-CHAP key");
  h_add->add_option("-c,--dhchap-ctrlr-key,--dhchap-controller-key", ha.dhchap_ctrlr_key,
                    "Host DH-HMAC-CHAP controller key");
  CLI::App* h_del = action(host, "del", "Remove host access from a subsystem",
                           [&ha](Ctx& c) { return HostDel(c, ha); });
  h_del->alias("delete");
  h_del->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_del->add_option("-t,--host-nqn", ha.hosts, "Host NQN list ('*': disable open access)")
      ->required()
      ->expected(1, -1);
  h_del->add_flag("--keep-connections", ha.keep_connections,
                  "Keep the host's existing connections (they end on their own; new ones are refused)");
  CLI::App* h_keep = action(host, "keep_connected", "Keep the host's connections when it is removed",
                            [&ha](Ctx& c) { return HostKeepConnected(c, ha); });
  h_keep->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_keep->add_option("-t,--host-nqn", ha.hosts, "Host NQN list")->required()->expected(1, -1);
  CLI::App* h_ck = action(host, "change_key", "Change host's DH-HMAC-CHAP key",
                          [&ha](Ctx& c) { return HostChangeKey(c, ha, false, false); });
  h_ck->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_ck->add_option("-t,--host-nqn", ha.hosts, "Host NQN")->required();
  h_ck->add_option("-k,--dhchap-key", ha.dhchap_key, "Host DH-HMAC-CHAP key")->required();
  h_ck->add_option("-c,--dhchap-ctrlr-key", ha.dhchap_ctrlr_key, "Host DH-HMAC-CHAP controller key");
  CLI::App* h_dk = action(host, "del_key", "Delete host's DH-HMAC-CHAP key",
                          [&ha](Ctx& c) { return HostChangeKey(c, ha, true, false); });
  h_dk->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_dk->add_option("-t,--host-nqn", ha.hosts, "Host NQN")->required();
  CLI::App* h_cck = action(host, "change_controller_key", "Change the DH-HMAC-CHAP controller key of a host",
                           [&ha](Ctx& c) { return HostChangeKey(c, ha, false, true); });
  h_cck->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_cck->add_option("-t,--host-nqn", ha.hosts, "Host NQN")->required();
  h_cck->add_option("-c,--dhchap-controller-key,--dhchap-ctrlr-key", ha.dhchap_ctrlr_key,
                    "Host DH-HMAC-CHAP controller key")
      ->required();
  CLI::App* h_dck = action(host, "del_controller_key", "Delete the DH-HMAC-CHAP controller key of a host",
                           [&ha](Ctx& c) { return HostChangeKey(c, ha, true, true); });
  h_dck->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();
  h_dck->add_option("-t,--host-nqn", ha.hosts, "Host NQN")->required();
  CLI::App* h_list = action(host, "list", "List subsystem's host access",
                            [&ha](Ctx& c) { return HostList(c, ha); });
  h_list->add_option("-n,--subsystem", ha.nqn, "Subsystem NQN")->required();

  // connection
  std::string conn_nqn;
  CLI::App* connection = command("connection", "Connection commands");
  CLI::App* conn_list = action(connection, "list", "List active connections", [&](Ctx& c) {
    return ConnectionList(c, conn_nqn);
  });
  conn_list->add_option("-n,--subsystem", conn_nqn, "Subsystem NQN (default: every subsystem)");
  std::string conn_host;
  for (const bool reset : {false, true}) {
    CLI::App* a = action(connection, reset ? "reset_io_statistics" : "get_io_statistics",
                         reset ? "Reset the IO statistics of a host's connections"
                               : "Get the IO statistics of a host's connections (latencies by IO size)",
                         [&conn_nqn, &conn_host, reset](Ctx& c) {
                           return ConnectionIoStatistics(c, conn_nqn, conn_host, reset);
                         });
    a->add_option("-n,--subsystem", conn_nqn, "Subsystem NQN")->required();
    a->add_option("-t,--host-nqn", conn_host, "Host NQN")->required();
  }

  // namespace | ns
  NsArgs na;
  CLI::App* ns = command("namespace", "Namespace commands");
  ns->alias("ns");
  auto ns_action = [&](const std::string& name, const std::string& help, int (*fn)(Ctx&, const NsArgs&),
                       bool nqn_required = true) {
    CLI::App* act = action(ns, name, help, [&na, fn](Ctx& c) { return fn(c, na); });
    CLI::Option* nqn = act->add_option("-n,--subsystem", na.nqn, nqn_required ? "Subsystem NQN"
                                                                               : "Subsystem NQN (default: every subsystem)");
    if (nqn_required) nqn->required();
    return act;
  };
  CLI::App* ns_add = ns_action("add", "Create a namespace", NsAdd);
  CLI::Option* ns_add_nsid =
      ns_add->add_option("--nsid", na.nsid, "Namespace ID (default: first free)");
  ns_add->add_option("-u,--uuid", na.uuid, "UUID (default: generated)");
  ns_add->add_option("-p,--rbd-pool", na.pool, "RBD pool name (required for RBD namespaces)");
  ns_add->add_option("-i,--rbd-image", na.image, "RBD image name (required for RBD namespaces)");
  ns_add->add_flag("-c,--rbd-create-image", na.create_image, "Create RBD image if needed");
  ns_add->add_option("--rados-namespace", na.rados_namespace,
                     "RADOS namespace of the RBD image (default: the pool's default namespace)");
  ns_add->add_option("--rbd-data-pool", na.data_pool,
                     "Data pool of the image to create (e.g. an erasure-coded pool; with --rbd-create-image)");
  ns_add->add_flag("--read-only", na.read_only,
                   "Read-only namespace: hosts see it write protected, the RBD image is opened read-only");
  ns_add->add_option("-s,--block-size", na.block_size, "Block size: 512 or 4096")
      ->capture_default_str();
  ns_add->add_option("-l,--load-balancing-group", na.lb_group,
                     "Load balancing group (default: chosen by the gateway)");
  ns_add->add_option("--size", na.size,
                     "Size in bytes or specified unit (K, KB, M, MB, G, GB, T, TB, P, PB); a bare "
                     "number is MiB. With --rbd-create-image: the image size. With --file: "
                     "create the file with this size if it doesn't exist");
  ns_add->add_flag("--force", na.force,
                   "Create a namespace even when its image is already used by another namespace");
  ns_add->add_flag("--no-auto-visible", na.no_auto_visible,
                   "Make the namespace visible only to specific hosts");
  ns_add->add_flag("--rbd-trash-image-on-delete", na.trash_on_delete,
                   "Trash associated RBD image on namespace deletion. Only applies to images created "
                   "automatically by the gateway");
  ns_add->add_option("--memory-size", na.memory_size,
                     "nvmeof-gateway extension: a RAM-backed namespace of this size (units as "
                     "--size); for development and tests, content is lost on restart");
  ns_add->add_option("--file", na.file,
                     "nvmeof-gateway extension: a namespace backed by this file or block device "
                     "on the gateway host");

  CLI::App* ns_del = ns_action("del", "Delete a namespace", NsDel);
  ns_del->alias("delete");
  ns_del->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_del->add_flag("--i-am-sure", na.i_am_sure, "Confirmation for deleting the namespace associated RBD image");

  CLI::App* ns_resize = ns_action("resize", "Resize a namespace", NsResize);
  ns_resize->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_resize->add_option("--size", na.size,
                        "New size in bytes or specified unit (K, KB, M, MB, G, GB, T, TB, P, PB); "
                        "a bare number is MiB; MiB aligned, grow only")
      ->required();

  CLI::App* ns_refresh = ns_action("refresh_size", "Refresh a namespace to its image's current size",
                                   NsRefreshSize);
  ns_refresh->add_option("--nsid", na.nsid, "Namespace ID")->required();

  CLI::App* ns_list = ns_action("list", "List namespaces", NsList, /*nqn_required=*/false);
  CLI::Option* list_nsid = ns_list->add_option("--nsid", na.nsid, "Namespace ID");
  ns_list->add_option("-u,--uuid", na.uuid, "UUID");
  CLI::App* ns_list_hosts = ns_action("list_hosts", "List namespace's hosts", NsListHosts, false);
  CLI::Option* list_hosts_nsid = ns_list_hosts->add_option("--nsid", na.nsid, "Namespace ID");
  ns_list_hosts->add_option("-u,--uuid", na.uuid, "UUID");
  CLI::App* ns_list_loc =
      ns_action("list_locations", "List namespace distribution by site location", NsListLocations, false);
  CLI::Option* list_loc_nsid = ns_list_loc->add_option("--nsid", na.nsid, "Namespace ID");
  ns_list_loc->add_option("-u,--uuid", na.uuid, "UUID");

  CLI::App* ns_stats = ns_action("get_io_stats", "Get I/O stats for a namespace", NsGetIoStats);
  ns_stats->add_option("--nsid", na.nsid, "Namespace ID")->required();

  CLI::App* ns_lb = ns_action("change_load_balancing_group",
                              "Change load balancing group for a namespace", NsChangeLbGroup);
  ns_lb->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_lb->add_option("-l,--load-balancing-group", na.lb_group, "Load balancing group")->required();

  CLI::App* ns_qos = ns_action("set_qos", "Set QOS limits for a namespace", NsSetQos);
  ns_qos->add_option("--nsid", na.nsid, "Namespace ID")->required();
  na.rw_ios_opt = ns_qos->add_option("--rw-ios-per-second", na.rw_ios,
                                     "R/W IOs per second limit, 0 means unlimited");
  na.rw_mb_opt = ns_qos->add_option("--rw-megabytes-per-second", na.rw_mb,
                                    "R/W megabytes per second limit, 0 means unlimited");
  na.r_mb_opt = ns_qos->add_option("--r-megabytes-per-second", na.r_mb,
                                   "Read megabytes per second limit, 0 means unlimited");
  na.w_mb_opt = ns_qos->add_option("--w-megabytes-per-second", na.w_mb,
                                   "Write megabytes per second limit, 0 means unlimited");

  CLI::App* ns_add_host = ns_action("add_host", "Add a host to a namespace", NsAddHost);
  ns_add_host->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_add_host->add_option("-t,--host-nqn", na.hosts, "Host NQN list")->required()->expected(1, -1);

  CLI::App* ns_del_host = ns_action("del_host", "Delete a host from a namespace", NsDelHost);
  ns_del_host->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_del_host->add_option("-t,--host-nqn", na.hosts, "Host NQN list")->required()->expected(1, -1);

  CLI::App* ns_vis = ns_action("change_visibility", "Change visibility for a namespace", NsChangeVisibility);
  ns_vis->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_vis->add_option("--auto-visible", na.auto_visible, "Visible to all hosts (yes or no)")->required();
  ns_vis->add_flag("--force", na.force, "Change visibility even with hosts connected or added to the namespace");

  CLI::App* ns_trash = ns_action("set_rbd_trash_image",
                                 "Set the RBD trash image on namespace deletion flag", NsSetRbdTrashImage);
  ns_trash->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_trash->add_option("--rbd-trash-image-on-delete", na.trash_image,
                       "Move the RBD image to the trash when the namespace is deleted (yes or no)")
      ->required();

  CLI::App* ns_ar = ns_action("set_auto_resize", "Set the auto resize flag of a namespace", NsSetAutoResize);
  ns_ar->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_ar->add_option("--auto-resize-enabled", na.auto_resize,
                    "Follow the RBD image's size when it grows (yes or no)")
      ->required();

  CLI::App* ns_loc = ns_action("change_location", "Change the location of a namespace", NsChangeLocation);
  ns_loc->add_option("--nsid", na.nsid, "Namespace ID")->required();
  ns_loc->add_option("--location", na.location, "Location (site) of the namespace")->required();

  CLI::App* ns_unpin = ns_action("unpin", "Unpin a namespace's load balancing group", NsUnpin);
  ns_unpin->add_option("--nsid", na.nsid, "Namespace ID")->required();

  // get_subsystems
  app.add_subcommand("get_subsystems", "Get subsystems (the full SPDK-style description, as JSON)")
      ->callback([&] { handler = GetSubsystems; });

  // Set last: subcommands created before do not inherit it.
  app.footer(
      "Commands take an action: gwcli <command> <action> [options], e.g.\n"
      "  gwcli subsystem add -n nqn.2016-06.io.spdk:cnode1\n"
      "  gwcli --format json namespace list -n nqn.2016-06.io.spdk:cnode1\n"
      "Run 'gwcli <command> --help' or 'gwcli <command> <action> --help' for details.\n"
      "Exit code: 0 on success, the gateway's errno on failure, 2 on a usage error.");

  // ---- parse ----
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\n";
    err << "Run with --help for more information.\n";
    return 2;
  }
  // --nsid is optional for ns add and the ns list views: remember which one was given.
  na.nsid_opt = ns_add->parsed()          ? ns_add_nsid
                : ns_list->parsed()       ? list_nsid
                : ns_list_hosts->parsed() ? list_hosts_nsid
                : ns_list_loc->parsed()   ? list_loc_nsid
                                          : nullptr;

  for (auto& [cmd, names] : commands) {
    if (cmd->parsed() && !handler) {
      err << "error: missing action for " << cmd->get_name() << " command (choose from "
          << ChoicesText(names) << ")\n";
      return 2;
    }
  }
  if (!handler) {
    out << app.help();
    return 255;
  }

  g.log_level = Lower(g.log_level);
  ConnectOptions connect;
  connect.address = g.server_address;
  connect.port = g.server_port;
  Ctx ctx(g, out, err, factory, connect);
  try {
    if (g.server_port <= 0 || g.server_port > 65535)
      throw UsageError{"--server-port value must be between 1 and 65535"};
    const bool key = !g.client_key.empty(), cert = !g.client_cert.empty();
    if (key != cert) throw UsageError{"--client-key and --client-cert must be given together"};
    if (key && cert) {
      ConnectOptions tls = connect;
      tls.client_key = ReadFileArg(g.client_key, "--client-key");
      tls.client_cert = ReadFileArg(g.client_cert, "--client-cert");
      if (ctx.text()) ctx.Out("Enable server auth since both --client-key and --client-cert are provided");
      if (!g.server_cert.empty())
        tls.server_cert = ReadFileArg(g.server_cert, "--server-cert");
      else
        ctx.Err("No server certificate file was provided");
      ctx.set_connect(std::move(tls));
    }
    return handler(ctx);
  } catch (const UsageError& e) {
    err << "error: " << e.message << "\n";
    return 2;
  }
}

}  // namespace nvmeof::cli
