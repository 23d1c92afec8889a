// RPCs of the host family: add_host, remove_host, list_hosts, list_connections. Run on
// gRPC threads; mutations hold the RPC lock.
#include <cstdlib>
#include <set>
#include <string>

#include <google/protobuf/unknown_field_set.h>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

namespace {

// Field 5 of add_host_req is `bool psk_encrypted`; a client built on the 2024 development
// proto this gateway once spoke sends the DH-CHAP controller key there as a string, which
// the parser keeps as an unknown length-delimited field 5. Such a string is read as the
// controller key (field 7), unless the request has one there too.
add_host_req WithLegacyControllerKey(const add_host_req& in) {
  add_host_req req = in;
  auto* unknown = req.GetReflection()->MutableUnknownFields(&req);
  for (int i = 0; i < unknown->field_count(); i++) {
    const auto& f = unknown->field(i);
    if (f.number() == 5 && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED &&
        !req.has_dhchap_ctrlr_key())
      req.set_dhchap_ctrlr_key(f.length_delimited());
  }
  unknown->DeleteByNumber(5);
  return req;
}

}  // namespace

namespace internal {

namespace {
bool Has(const std::string* k) { return k && !k->empty(); }
}  // namespace

Status CheckSubsystemKeyRules(const add_host_req& r, const std::string& subsystem_key) {
  if (r.host_nqn() == kAnyHostNqn) return Status::OK();
  const bool key = r.has_dhchap_key() && !r.dhchap_key().empty();
  const bool ctrlr_key = r.has_dhchap_ctrlr_key() && !r.dhchap_ctrlr_key().empty();
  if (!key && (ctrlr_key || !subsystem_key.empty()))
    return Status::Error(errc::kHostKeyMissing, "Host must have a DH-HMAC-CHAP key if the controller or subsystem has one");
  if (ctrlr_key && !subsystem_key.empty())
    return Status::Error(errc::kKeyConflict,
                         "Host DH-HMAC-CHAP controller keys and subsystem DH-HMAC-CHAP keys are mutually exclusive");
  return Status::OK();
}

::DHCHAPControllerKeyOrigin ControllerKeyOrigin(const add_host_req& r, const std::string& subsystem_key) {
  if (r.has_dhchap_ctrlr_key() && !r.dhchap_ctrlr_key().empty()) return ::host_specific;
  if (r.has_dhchap_key() && !r.dhchap_key().empty() && Has(&subsystem_key)) return ::subsystem_implicit;
  return ::no_key;
}

Result<HostEntry> HostEntryFromRequest(const add_host_req& r, const std::string& subsystem_key) {
  const bool psk = r.has_psk() && !r.psk().empty();
  const bool key = r.has_dhchap_key() && !r.dhchap_key().empty();
  const bool ctrlr_key = r.has_dhchap_ctrlr_key() && !r.dhchap_ctrlr_key().empty();
  if ((key && r.key_encrypted()) || (ctrlr_key && r.ctrlr_key_encrypted()) || (psk && r.psk_encrypted()))
    return Status::InvalidArgument("the host's keys are still encrypted (open them first: StateSecrets::Open)");
  HostEntry h;
  h.nqn = r.host_nqn();
  if (key) h.dhchap_key = r.dhchap_key();
  if (ctrlr_key) h.dhchap_ctrlr_key = r.dhchap_ctrlr_key();
  if (psk) h.psk = r.psk();
  else if (key && !subsystem_key.empty()) h.dhchap_ctrlr_key = subsystem_key;
  return h;
}

}  // namespace internal

::grpc::Status GatewayService::add_host(SC* ctx, const add_host_req* in, req_status* rep) {
  add_host_req upgraded = WithLegacyControllerKey(*in);
  const add_host_req* req = &upgraded;
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  const bool any = host == kAnyHostNqn;
  const std::string prefix = any ? "Failure allowing open host access to " + nqn
                                 : "Failure adding host " + host + " to " + nqn;
  LOG_INFO("Received request to %s%s", any ? ("allow any host access for " + nqn).c_str() : ("add host " + host + " to " + nqn).c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding host, missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, "Failure adding host to " + nqn + ", missing host NQN");
  if (StateKeyElementHasSeparator(host))
    return Answer(rep, EINVAL, prefix + ": Invalid host NQN \"" + host + "\", contains invalid characters");
  if (StateKeyElementHasSeparator(nqn))
    return Answer(rep, EINVAL, prefix + ": Invalid subsystem NQN \"" + nqn + "\", contains invalid characters");
  if (IsDiscoveryNqn(nqn))
    return Answer(rep, EINVAL, prefix + (any ? ": Can't allow host access to a discovery subsystem"
                                             : ": Can't add host to a discovery subsystem"));
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  if (opts_.verify_nqns) {
    if (Status st = ValidateHostNqn(host, true); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  // Keys a client sends encrypted (with the group's key) are opened; what is stored is sealed.
  if (Status st = secrets_.Open(&upgraded); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (any && ((req->has_psk() && !req->psk().empty()) || (req->has_dhchap_key() && !req->dhchap_key().empty())))
    return Answer(rep, EINVAL, prefix + ": PSK and DH-HMAC-CHAP keys are only allowed for specific hosts");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  Result<std::string> subsystem_key = OpenSubsystemKey(nqn);
  if (!subsystem_key.ok())
    return Answer(rep, ToErrno(subsystem_key.status()), prefix + ": " + subsystem_key.status().message());
  if (Status st = CheckSubsystemKeyRules(*req, *subsystem_key); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  Result<HostEntry> entry = HostEntryFromRequest(*req, *subsystem_key);
  if (!entry.ok()) return Answer(rep, EINVAL, prefix + ": " + entry.status().message());
  if (any ? s->AllowsAnyHost() : s->HasHost(host))
    return Answer(rep, EEXIST, prefix + (any ? ": Open host access is already allowed" : ": Host is already added"));
  add_host_req stored = upgraded;
  if (Status st = secrets_.Seal(&stored); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (!any) {
    if (Status st = HostLimits(s); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  }
  if (Status st = target_->AddHost(nqn, *entry); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  auto check = [&](const StateMap& cur) -> Status {
    if (cur.count(HostKey(nqn, host)))
      return Status::Error(errc::kHostExists, any ? "Open host access is already allowed" : "Host is already added");
    return Status::OK();
  };
  bool conflict = false;
  // A host added again starts without a keep-connected mark.
  if (Status st = Persist({{HostKey(nqn, host), RequestToJson(stored)}}, {KeepConnectedKey(nqn, host)}, check, &conflict);
      !st.ok()) {
    target_->RemoveHost(nqn, host);
    if (conflict) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting host " + host + " access addition: " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::remove_host(SC* ctx, const remove_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  const bool any = host == kAnyHostNqn;
  const std::string prefix = any ? "Failure disabling open host access to " + nqn
                                 : "Failure removing host " + host + " access from " + nqn;
  LOG_INFO("Received request to %s%s",
           any ? ("disable open host access to " + nqn).c_str() : ("remove host " + host + " access from " + nqn).c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure removing host, missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, "Failure removing host from " + nqn + ", missing host NQN");
  if (IsDiscoveryNqn(nqn))
    return Answer(rep, EINVAL, prefix + (any ? ": Can't disable open host access to a discovery subsystem"
                                             : ": Can't remove host access from a discovery subsystem"));
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (!(any ? s->AllowsAnyHost() : s->HasHost(host)))
    return Answer(rep, ENOENT, prefix + (any ? ": Open host access is not allowed" : ": Host is not found"));
  const bool keep = req->has_keep_connections() && req->keep_connections();
  // keep_connections: the mark goes with the removal, so every gateway keeps the
  // connections (the group state's replay adds marks before it removes hosts).
  StateMap mark;
  if (keep && !any) mark[KeepConnectedKey(nqn, host)] = KeepConnectedJson(nqn, host);
  if (Status st = Persist(mark, {HostKey(nqn, host)}); !st.ok())
    return Answer(rep, EINVAL, "Error persisting host " + host + " access removal: " + st.message());
  if (Status st = target_->RemoveHost(nqn, host, keep); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::list_hosts(SC* ctx, const list_hosts_req* req, hosts_info* rep) {
  LOG_DEBUG("Received request to list hosts for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing hosts, missing subsystem NQN");
  auto s = target_->FindSubsystem(req->subsystem());
  if (!s || s->is_discovery())
    return Answer(rep, ENOENT, "Failure listing hosts, can't get subsystems: No such subsystem " + req->subsystem());
  const SubsystemView v = s->View();
  std::lock_guard<std::mutex> lk(mu_);  // state_: the stored keys
  const std::string subsystem_key = SubsystemDhchapKey(req->subsystem());
  rep->set_allow_any_host(v.spec.allow_any_host);
  for (auto& h : v.hosts) {
    auto* o = rep->add_hosts();
    o->set_nqn(h.nqn);
    o->set_use_psk(h.psk);
    o->set_use_dhchap(h.dhchap);
    add_host_req stored;
    auto it = state_.find(HostKey(req->subsystem(), h.nqn));
    if (it != state_.end()) (void)JsonToRequest(it->second, &stored);
    o->set_dhchap_controller_origin(ControllerKeyOrigin(stored, subsystem_key));
  }
  return Ok(rep);
}

::grpc::Status GatewayService::list_connections(SC* ctx, const list_connections_req* req, connections_info* rep) {
  LOG_DEBUG("Received request to list connections for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing connections, missing subsystem NQN");
  // "*": the connections of every subsystem (each says its own in `subsystem`).
  std::vector<std::shared_ptr<Subsystem>> listed;
  if (req->subsystem() == "*") {
    for (auto& s : target_->Subsystems())
      if (!s->is_discovery()) listed.push_back(std::move(s));
  } else {
    auto s = target_->FindSubsystem(req->subsystem());
    if (!s || s->is_discovery())
      return Answer(rep, ENOENT,
                    "Failure listing connections, can't get subsystems: No such subsystem " + req->subsystem());
    listed.push_back(std::move(s));
  }
  std::lock_guard<std::mutex> lk(mu_);  // state_: the stored keys
  for (const auto& s : listed) {
    const std::string& nqn = s->nqn();
    std::set<std::string> hosts;
    for (auto& h : s->View().hosts) hosts.insert(h.nqn);
    const std::string subsystem_key = SubsystemDhchapKey(nqn);
    auto stored_host = [&](const std::string& h) {
      add_host_req r;
      auto it = state_.find(HostKey(nqn, h));
      if (it != state_.end()) (void)JsonToRequest(it->second, &r);
      return r;
    };
    for (auto& c : target_->Connections(nqn)) {
      auto* o = rep->add_connections();
      o->set_nqn(c.hostnqn);
      o->set_traddr(c.traddr);
      o->set_trsvcid(static_cast<uint32_t>(std::strtoul(c.trsvcid.c_str(), nullptr, 10)));
      o->set_trtype(std::string(kTcpTransportName));
      o->set_adrfam(c.traddr.find(':') != std::string::npos ? ::ipv6 : ::ipv4);
      o->set_connected(true);
      o->set_qpairs_count(static_cast<int32_t>(c.num_io_queues));
      o->set_controller_id(c.cntlid);
      if (!c.host_allowed) o->set_host_deleted(true);
      o->set_secure(c.secure);
      o->set_use_psk(c.secure);
      const add_host_req stored = stored_host(c.hostnqn);
      o->set_use_dhchap(stored.has_dhchap_key() && !stored.dhchap_key().empty());
      o->set_dhchap_controller_origin(ControllerKeyOrigin(stored, subsystem_key));
      o->set_subsystem(nqn);
      hosts.erase(c.hostnqn);
    }
    for (auto& h : hosts) {
      auto* o = rep->add_connections();
      o->set_nqn(h);
      o->set_connected(false);
      o->set_traddr("<n/a>");
      o->set_trsvcid(0);
      o->set_qpairs_count(-1);
      o->set_controller_id(-1);
      o->set_subsystem(nqn);
    }
  }
  return Ok(rep);
}

}  // namespace nvmeof::api
