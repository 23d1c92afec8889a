// HaService: see ha_service.h.
#include "api/ha_service.h"

#include <cerrno>
#include <map>
#include <set>

#include "api/errc.h"
#include "api/service.h"
#include "gateway/common/log.h"
#include "gateway/ha/ha_manager.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof::api {

namespace pb = ::nvmeof::ha;

namespace {

// "tcp:10.0.0.1:4420" (IPv6 addresses keep their colons: the port is after the last one).
void SplitListener(const std::string& l, std::string* trtype, std::string* traddr, std::string* trsvcid) {
  const size_t a = l.find(':');
  const size_t b = l.rfind(':');
  if (a == std::string::npos || b == a) {
    *traddr = l;
    return;
  }
  *trtype = l.substr(0, a);
  *traddr = l.substr(a + 1, b - a - 1);
  *trsvcid = l.substr(b + 1);
}

}  // namespace

void FillHaStatus(const ha::HaManager* ha, const std::string& group, pb::ha_status* rep) {
  rep->set_group(group);
  if (!ha) {
    rep->set_status(ENODEV);
    rep->set_error_message("gateway-group HA is not enabled on this gateway ([gateway] ha = builtin)");
    return;
  }
  rep->set_status(0);
  rep->set_gateway(ha->options().name);
  rep->set_lease_ms(ha->options().timing.lease_ns / 1'000'000);
  std::map<std::string, std::set<uint32_t>> owned;  // by gateway
  std::vector<uint32_t> groups;
  std::map<uint32_t, uint8_t> here;  // the ANA state this gateway reports, by group
  std::map<uint32_t, std::set<std::string>> handing;  // gateways in a marked hand-over, by group
  for (const auto& g : ha->Groups()) {
    here[g.group] = g.ana_state;
    if (!g.handover_to.empty()) handing[g.group] = {g.handover_from, g.handover_to};
    auto* o = rep->add_groups();
    o->set_grp_id(g.group);
    o->set_owner(g.owner);
    o->set_role(ha::RoleName(g.role));
    o->set_lease_age_ms(g.lease_age_ns / 1'000'000);
    o->set_since_ms(g.since_ns / 1'000'000);
    o->set_last_reason(g.last_reason);
    o->set_owner_changes(g.owner_changes);
    if (!g.owner.empty()) owned[g.owner].insert(g.group);
    groups.push_back(g.group);
  }
  for (const auto& m : ha->Members()) {
    auto* o = rep->add_members();
    o->set_name(m.info.name);
    o->set_home_group(m.info.home_group);
    o->set_min_cntlid(m.info.min_cntlid);
    o->set_max_cntlid(m.info.max_cntlid);
    o->set_alive(m.alive);
    o->set_epoch(m.info.epoch);
    for (const auto& a : m.info.addresses) o->add_addresses(a);
    const std::set<uint32_t>& mine = owned[m.info.name];
    for (uint32_t g : mine) o->add_owned_groups(g);
    // A listener of a gateway serves a group OPTIMIZED when that gateway owns it, CHANGE
    // while a hand-over marked in the lease involves it (the holder draining, the gateway it
    // hands the group to); this gateway's own listeners show what it reports (CHANGE while
    // it takes a group over or hands it over).
    const bool self = m.info.name == ha->options().name;
    for (const auto& l : m.info.listeners) {
      auto* lo = o->add_listeners();
      std::string trtype, traddr, trsvcid;
      SplitListener(l, &trtype, &traddr, &trsvcid);
      lo->set_trtype(trtype);
      lo->set_traddr(traddr);
      lo->set_trsvcid(trsvcid);
      for (uint32_t g : groups) {
        auto* st = lo->add_states();
        st->set_grp_id(g);
        const char* state = handing[g].count(m.info.name) ? "CHANGE" : mine.count(g) ? "OPTIMIZED" : "INACCESSIBLE";
        if (self) state = here[g] == nvme::kAnaOptimized ? "OPTIMIZED"
                          : here[g] == nvme::kAnaChange  ? "CHANGE"
                                                         : "INACCESSIBLE";
        st->set_state(state);
      }
    }
  }
}

::grpc::Status HaService::get_ha_status(::grpc::ServerContext*, const pb::get_ha_status_req*, pb::ha_status* rep) {
  LOG_DEBUG("Received request to get the HA status");
  FillHaStatus(ha_, group_, rep);
  return ::grpc::Status::OK;
}

::grpc::Status HaService::remove_member(::grpc::ServerContext*, const pb::remove_member_req* req,
                                        pb::ha_req_status* rep) {
  LOG_INFO("Received request to remove the HA member record of gateway %s", req->name().c_str());
  if (!ha_) {
    rep->set_status(ENODEV);
    rep->set_error_message("gateway-group HA is not enabled on this gateway ([gateway] ha = builtin)");
    return ::grpc::Status::OK;
  }
  if (req->name().empty()) {
    rep->set_status(EINVAL);
    rep->set_error_message("Failure removing HA member: no gateway name");
    return ::grpc::Status::OK;
  }
  Status s = ha_->RemoveMember(req->name());
  if (s.ok()) {
    rep->set_status(0);
    rep->set_error_message("Success");
    // Its auto-listeners go with it: no gateway lists them or serves them in discovery.
    if (gateway_) {
      auto w = gateway_->WithdrawGatewayAutoListeners(req->name());
      if (!w.ok())
        LOG_WARN("ha: member %s removed, but its auto-listeners stay in the group state: %s", req->name().c_str(),
                 w.status().message().c_str());
    }
  } else {
    rep->set_status(ToErrno(s));
    std::string why = s.message();
    if (s.Is(ha::errc::kMemberAlive))
      why = "gateway " + req->name() + " is alive; stop it (and let its lease expire) before removing it";
    else if (s.Is(ha::errc::kMemberNotFound))
      why = "no gateway " + req->name() + " in the HA group";
    rep->set_error_message("Failure removing HA member " + req->name() + ": " + why);
    LOG_ERROR("%s", rep->error_message().c_str());
  }
  return ::grpc::Status::OK;
}

}  // namespace nvmeof::api
