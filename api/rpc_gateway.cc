// RPCs about the gateway itself: set_ana_state, get_gateway_info, the gateway's log level,
// and the SPDK log RPCs (accepted, nothing to do: there is no SPDK here). Run on gRPC
// threads; those that keep state hold the RPC lock.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

namespace {

// "a.b.c" -> tuple; nullopt when not three integers.
std::optional<std::tuple<int, int, int>> ParseVersion(const std::string& v) {
  int a, b, c;
  char tail;
  if (sscanf(v.c_str(), "%d.%d.%d%c", &a, &b, &c, &tail) != 3) return std::nullopt;
  return std::make_tuple(a, b, c);
}

// The API level this gateway speaks: the reference's as of 2026 (api/gateway.proto), and the
// oldest gateway version the reference CLI works with (its BASE_GATEWAY_VERSION).
constexpr char kApiVersion[] = "1.9.0";
constexpr std::tuple<int, int, int> kOldestCliAccepted = {1, 1, 0};

// The version get_gateway_info reports. A configured version the reference CLI accepts
// (1.1.0 and later) is reported as it is. This project's own numbering (below 1.1.0) is not
// a reference version: the gateway then reports the API level it speaks, or, to a reference
// CLI between 1.1.0 and that level, the CLI's own version (every such CLI speaks a subset
// of this API; the reference answers a CLI older than the gateway with an error).
std::string ReportedVersion(const std::string& configured, const std::string& cli_version) {
  auto v = ParseVersion(configured);
  if (v && *v >= kOldestCliAccepted) return configured;
  auto cli = ParseVersion(cli_version);
  if (cli && *cli >= kOldestCliAccepted && *cli <= *ParseVersion(kApiVersion)) return cli_version;
  return kApiVersion;
}

}  // namespace

::grpc::Status GatewayService::set_ana_state(SC* ctx, const ana_info* req, req_status* rep) {
  LOG_INFO("Received request to set ana states for %d subsystem(s)%s", req->states_size(), PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  // Like the reference: optimized, or else inaccessible.
  auto state_of = [](const ana_group_state& gs) -> uint8_t {
    return gs.state() == ::OPTIMIZED ? nvme::kAnaOptimized : nvme::kAnaInaccessible;
  };
  std::set<uint32_t> by_group;  // groups set for the whole gateway
  if (opts_.ana_by_group) {
    std::map<uint32_t, std::pair<uint8_t, std::set<std::string>>> groups;  // state, subsystems
    std::set<uint32_t> mixed;
    for (auto& nas : req->states())
      for (auto& gs : nas.states()) {
        auto [it, added] = groups.try_emplace(gs.grp_id(), state_of(gs), std::set<std::string>{});
        if (!added && it->second.first != state_of(gs)) mixed.insert(gs.grp_id());
        it->second.second.insert(nas.nqn());
      }
    for (auto& [grp, g] : groups) {
      if (mixed.count(grp)) continue;
      bool all = true;
      for (auto& s : target_->Subsystems())
        if (!s->is_discovery() && !g.second.count(s->nqn())) all = false;
      if (all && target_->SetAnaGroupState(grp, g.first).ok()) by_group.insert(grp);
    }
  }
  for (auto& nas : req->states()) {
    // A subsystem not created yet gets the states when it is (the target keeps them).
    auto s = target_->FindSubsystem(nas.nqn());
    for (auto& gs : nas.states()) {
      uint8_t state = state_of(gs);
      // Set for the whole gateway: only a subsystem's own earlier state still differs.
      if (by_group.count(gs.grp_id()) && target_->AnaState(nas.nqn(), gs.grp_id()) == state) continue;
      Status st = target_->SetAnaState(nas.nqn(), gs.grp_id(), state);
      if (st.ok() || !s || s->is_discovery()) continue;
      // A refused state fails the request where a listener would have carried it.
      const std::vector<ListenerSpec> ls = s->Listeners();
      if (ls.empty()) continue;
      const ListenerSpec& l = ls.front();
      LOG_ERROR("set_ana_state %s %s:%s group %u: %s", nas.nqn().c_str(), l.traddr.c_str(), l.trsvcid.c_str(),
                gs.grp_id(), st.ToString().c_str());
      return ::grpc::Status(::grpc::StatusCode::INTERNAL,
                            "setting ANA state of group " + Str(gs.grp_id()) + " on " + nas.nqn() + " " + l.traddr +
                                ":" + l.trsvcid + ": " + st.message());
    }
  }
  rep->set_status(1);  // the reference answers True
  rep->set_error_message("");
  return ::grpc::Status::OK;
}

::grpc::Status GatewayService::get_spdk_nvmf_log_flags_and_level(SC* ctx, const get_spdk_nvmf_log_flags_and_level_req*,
                                                                  spdk_nvmf_log_flags_and_level_info* rep) {
  LOG_INFO("Received request to get SPDK nvmf log flags and level%s", PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  // There is no SPDK here: report the levels last set (no-op), and one "nvmf" flag that
  // says whether the gateway logs at debug level.
  auto* f = rep->add_nvmf_log_flags();
  f->set_name("nvmf");
  f->set_enabled(GetLogLevel() == nvmeof::LogLevel::kDebug);
  rep->set_log_level(static_cast<::LogLevel>(spdk_log_level_));
  rep->set_log_print_level(static_cast<::LogLevel>(spdk_print_level_));
  return Ok(rep);
}

::grpc::Status GatewayService::disable_spdk_nvmf_logs(SC* ctx, const disable_spdk_nvmf_logs_req*, req_status* rep) {
  LOG_INFO("Received request to disable SPDK nvmf logs%s (no SPDK in this gateway: accepted, nothing to do)",
           PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  spdk_log_level_ = ::NOTICE;
  spdk_print_level_ = ::INFO;
  return Ok(rep);
}

::grpc::Status GatewayService::set_spdk_nvmf_logs(SC* ctx, const set_spdk_nvmf_logs_req* req, req_status* rep) {
  if (req->has_log_level() && !::LogLevel_IsValid(req->log_level()))
    return Answer(rep, ENOKEY, "Unknown log level " + std::to_string(req->log_level()));
  if (req->has_print_level() && !::LogLevel_IsValid(req->print_level()))
    return Answer(rep, ENOKEY, "Unknown print level " + std::to_string(req->print_level()));
  LOG_INFO("Received request to set SPDK nvmf logs%s (no SPDK in this gateway: accepted, nothing to do; use "
           "set_gateway_log_level)",
           PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);
  if (req->has_log_level()) spdk_log_level_ = req->log_level();
  if (req->has_print_level()) spdk_print_level_ = req->print_level();
  return Ok(rep);
}

::grpc::Status GatewayService::get_gateway_info(SC* ctx, const get_gateway_info_req* req, gateway_info* rep) {
  LOG_INFO("Received request to get gateway's info%s", PeerMsg(ctx).c_str());
  std::string version = opts_.version;
  if (const char* v = getenv("NVMEOF_VERSION"); v && *v) version = v;
  if (!version.empty()) version = ReportedVersion(version, req->cli_version());
  rep->set_cli_version(req->cli_version());
  rep->set_version(version);
  rep->set_name(opts_.gateway_name);
  rep->set_group(opts_.group);
  rep->set_addr(opts_.addr);
  rep->set_port(opts_.port);
  rep->set_load_balancing_group(opts_.load_balancing_group);
  rep->set_hostname(opts_.hostname);
  rep->set_max_subsystems(opts_.max_subsystems);
  rep->set_max_namespaces(target_->options().max_namespaces_per_gateway);
  rep->set_max_hosts_per_subsystem(opts_.max_hosts_per_subsystem);
  rep->set_max_namespaces_per_subsystem(opts_.default_max_namespaces);
  rep->set_max_hosts(opts_.max_hosts);
  rep->set_gateway_initialization_over(true);  // serving: the group state was replayed
  rep->set_io_stats_enabled(target_->conn_io_stats());
  if (!opts_.location.empty()) rep->set_location(opts_.location);
  rep->set_bool_status(true);
  rep->set_status(0);
  rep->set_error_message(kSuccess);
  auto cli = ParseVersion(req->cli_version());
  auto gw = ParseVersion(version);
  if (cli && gw && *cli < *gw) {
    rep->set_bool_status(false);
    rep->set_status(EINVAL);
    rep->set_error_message("CLI version " + req->cli_version() + " is older than gateway's version " + version);
  } else if (version.empty()) {
    rep->set_bool_status(false);
    rep->set_status(ENOKEY);
    rep->set_error_message("Gateway's version not found");
  } else if (!gw) {
    rep->set_bool_status(false);
    rep->set_status(EINVAL);
    rep->set_error_message("Invalid gateway's version " + version);
  }
  return ::grpc::Status::OK;
}

::grpc::Status GatewayService::get_gateway_log_level(SC* ctx, const get_gateway_log_level_req*,
                                                     gateway_log_level_info* rep) {
  const int level = static_cast<int>(GetLogLevel());
  LOG_INFO("Received request to get gateway's log level. Level is %s%s", LogLevelName(GetLogLevel()),
           PeerMsg(ctx).c_str());
  if (!::GwLogLevel_IsValid(level)) return Answer(rep, ENOKEY, "Invalid gateway log level");
  rep->set_log_level(static_cast<::GwLogLevel>(level));
  return Ok(rep);
}

::grpc::Status GatewayService::set_gateway_log_level(SC* ctx, const set_gateway_log_level_req* req, req_status* rep) {
  const int v = req->log_level();
  if (!::GwLogLevel_IsValid(v) || v == ::notset) return Answer(rep, ENOKEY, "Unknown log level " + std::to_string(v));
  LOG_INFO("Received request to set gateway's log level to %s%s", ::GwLogLevel_Name(req->log_level()).c_str(),
           PeerMsg(ctx).c_str());
  SetLogLevel(static_cast<nvmeof::LogLevel>(v));
  return Ok(rep);
}

}  // namespace nvmeof::api
