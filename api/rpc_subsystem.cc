// RPCs of the subsystem family: create_subsystem (its network masks open auto-listeners:
// auto_listeners.cc), delete_subsystem, list_subsystems, get_subsystems. Run on gRPC threads; mutations hold the RPC lock.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/service_internal.h"
#include "gateway/nvmf/auth_keys.h"

namespace nvmeof::api {

using namespace internal;

::grpc::Status GatewayService::create_subsystem(SC* ctx, const create_subsystem_req* in, subsys_status* rep) {
  create_subsystem_req req = *in;
  const std::string prefix = "Failure creating subsystem " + req.subsystem_nqn();
  LOG_INFO("Received request to create subsystem %s, enable_ha: %s, max_namespaces: %u%s",
           req.subsystem_nqn().c_str(), req.enable_ha() ? "True" : "False", req.max_namespaces(),
           PeerMsg(ctx).c_str());
  if (!req.enable_ha()) return Answer(rep, EINVAL, prefix + ": HA must be enabled for subsystems");
  {
    std::vector<std::string> masks;  // as given, without repeats
    for (const auto& m : req.network_mask()) {
      if (!ParseNetworkMask(m).ok()) return Answer(rep, EINVAL, prefix + ": Invalid subnet for network mask \"" + m + "\"");
      if (std::find(masks.begin(), masks.end(), m) == masks.end()) masks.push_back(m);
    }
    req.clear_network_mask();
    for (auto& m : masks) req.add_network_mask(m);
  }
  if (req.has_port()) {
    if (Status st = ValidatePort(req.port()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (req.subsystem_nqn().empty()) return Answer(rep, EINVAL, "Failure creating subsystem, missing subsystem NQN");
  if (Status st = ValidateMaxNamespaces(req.max_namespaces()); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (req.max_namespaces() > target_->options().max_namespaces_per_gateway)
    LOG_WARN("The requested max number of namespaces for subsystem %s (%u) is greater than the global limit on the "
             "number of namespaces (%u), will continue",
             req.subsystem_nqn().c_str(), req.max_namespaces(), target_->options().max_namespaces_per_gateway);
  else if (req.max_namespaces() > opts_.default_max_namespaces)
    LOG_WARN("The requested max number of namespaces for subsystem %s (%u) is greater than the limit on the number of "
             "namespaces per subsystem (%u), will continue",
             req.subsystem_nqn().c_str(), req.max_namespaces(), opts_.default_max_namespaces);
  if (StateKeyElementHasSeparator(req.subsystem_nqn()))
    return Answer(rep, EINVAL, prefix + ": Invalid NQN \"" + req.subsystem_nqn() + "\", contains invalid characters");
  if (opts_.verify_nqns) {
    if (Status st = ValidateNqn(req.subsystem_nqn()); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  }
  if (IsDiscoveryNqn(req.subsystem_nqn())) return Answer(rep, EINVAL, prefix + ": Can't create a discovery subsystem");
  // A key a client sends encrypted (with the group's key) is opened; the stored one is sealed.
  if (Status st = secrets_.Open(&req); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (req.has_dhchap_key() && !req.dhchap_key().empty()) {
    if (auto parsed = auth::ParseDhchapSecret(req.dhchap_key()); !parsed.ok())
      return Answer(rep, EINVAL, prefix + ": " + parsed.status().message());
  }
  if (!opts_.group.empty() && !req.no_group_append()) {
    req.set_subsystem_nqn(req.subsystem_nqn() + "." + opts_.group);
    LOG_INFO("Subsystem NQN will be changed to %s, adding group name", req.subsystem_nqn().c_str());
    if (req.subsystem_nqn().size() > kNqnMaxLength)
      return Answer(rep, EINVAL, prefix + ": NQN \"" + req.subsystem_nqn() + "\" (with the group name appended) is too long, maximal length is " +
                                     std::to_string(kNqnMaxLength));
  }
  if (req.serial_number().empty()) {
    req.set_serial_number(RandomSerialNumber());
    LOG_INFO("No serial number specified for %s, will use %s", req.subsystem_nqn().c_str(),
             req.serial_number().c_str());
  } else if (Status st = ValidateSerialNumber(req.serial_number()); !st.ok()) {
    return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  rep->set_nqn(req.subsystem_nqn());

  std::lock_guard<std::mutex> lk(mu_);
  if (Status st = SubsystemLimit(); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (target_->FindSubsystem(req.subsystem_nqn()) || state_.count(SubsystemKey(req.subsystem_nqn())))
    return Answer(rep, EEXIST, prefix + ": Subsystem already exists");
  for (auto& s : target_->Subsystems())
    if (s->spec().serial == req.serial_number())
      return Answer(rep, EEXIST, prefix + ": Serial number " + req.serial_number() + " already used by subsystem " +
                                     s->nqn());
  SubsystemSpec spec;
  spec.nqn = req.subsystem_nqn();
  spec.serial = req.serial_number();
  spec.max_namespaces = req.max_namespaces() ? req.max_namespaces() : opts_.default_max_namespaces;
  spec.allow_any_host = false;
  spec.enable_ha = true;
  if (Status st = target_->AddSubsystem(spec); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  auto check = [&](const StateMap& cur) -> Status {
    if (cur.count(SubsystemKey(spec.nqn))) return Status::Error(errc::kSubsystemExists, "Subsystem already exists");
    for (auto& [k, v] : cur) {
      if (!StartsWith(k, StateKeyPrefix(StateKeyKind::kSubsystem))) continue;
      create_subsystem_req o;
      if (JsonToRequest(v, &o).ok() && o.serial_number() == spec.serial)
        return Status::Error(errc::kSerialInUse, "Serial number " + spec.serial + " already used by subsystem " + o.subsystem_nqn());
    }
    return Status::OK();
  };
  bool conflict = false;
  if (Status st = Persist({{SubsystemKey(spec.nqn), RequestToJson(SealedSubsystem(req))}}, {}, check, &conflict);
      !st.ok()) {
    target_->RemoveSubsystem(spec.nqn, true);
    if (conflict) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting subsystem " + spec.nqn + ": " + st.message());
  }
  if (req.network_mask_size() > 0) {
    Status st = ReconcileAutoListeners(spec.nqn, &req);
    PublishAutoListeners();
    if (!st.ok())
      return Answer(rep, EAGAIN, "Subsystem " + spec.nqn + " created successfully; Failed to create one or more NVMeoF "
                                 "listeners (network mask). You can try adding these listeners manually.");
  }
  return Ok(rep);
}

::grpc::Status GatewayService::delete_subsystem(SC* ctx, const delete_subsystem_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure deleting subsystem " + nqn;
  LOG_INFO("Received request to delete subsystem %s%s%s", nqn.c_str(), req->force() ? " (force)" : "",
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting subsystem, missing subsystem NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't delete a discovery subsystem");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s && !state_.count(SubsystemKey(nqn)))
    return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (s && !req->force()) {
    auto nss = s->Namespaces();
    if (!nss.empty())
      return Answer(rep, EBUSY, prefix + ": Namespace " + Str(nss.front()->nsid()) +
                                    " is still using the subsystem. Either remove it or use the '--force' command "
                                    "line option");
  }
  for (auto& [k, v] : state_)
    if (StartsWith(k, StateKeyPrefix(StateKeyKind::kListener, nqn))) {
      LOG_WARN("About to delete subsystem %s which has a listener defined", nqn.c_str());
      break;
    }
  // Namespaces deleted with it (force) whose images go to the RBD trash: with i_am_sure they
  // do; without it (as the reference) their deletion fails, the subsystem's goes on.
  std::vector<std::pair<namespace_add_req, std::weak_ptr<Namespace>>> trash;
  ForEachNamespaceKey(state_, [&](const std::string& k, const std::string& v) {
    namespace_add_req add;
    if (StartsWith(k, StateKeyPrefix(StateKeyKind::kNamespace, nqn)) && JsonToRequest(v, &add).ok() &&
        add.subsystem_nqn() == nqn && ImageTrashedOnDelete(add)) {
      if (req->i_am_sure()) {
        std::weak_ptr<Namespace> ns = s ? s->GetNamespace(add.nsid()) : nullptr;
        trash.emplace_back(std::move(add), std::move(ns));
      } else {
        LOG_ERROR("Failure removing namespace %u from %s:\nFailure deleting namespace %u from %s: %s", add.nsid(),
                  nqn.c_str(), add.nsid(), nqn.c_str(), TrashConfirmationNeeded(nqn, add.nsid()).c_str());
        LOG_WARN("Will continue deleting %s anyway", nqn.c_str());
      }
    }
    return true;
  });
  if (Status st = Persist({}, SubsystemKeys(nqn)); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of subsystem " + nqn + ": " + st.message());
  RemoveSubsystemFromTarget(nqn);
  PublishAutoListeners();
  target_->ForgetAnaState(nqn);
  for (const auto& [add, ns] : trash) TrashImageOfDeleted(add, ns);
  return Ok(rep);
}

::grpc::Status GatewayService::list_subsystems(SC* ctx, const list_subsystems_req* req, subsystems_info_cli* rep) {
  LOG_DEBUG("Received request to list subsystems%s", PeerMsg(ctx).c_str());
  std::lock_guard<std::mutex> lk(mu_);  // state_: the subsystems' keys
  const auto& o = target_->options();
  for (auto& s : target_->Subsystems()) {
    if (req->has_subsystem_nqn() && !req->subsystem_nqn().empty() && s->nqn() != req->subsystem_nqn()) continue;
    if (req->has_serial_number() && !req->serial_number().empty() && s->spec().serial != req->serial_number())
      continue;
    auto* c = rep->add_subsystems();
    c->set_nqn(s->nqn());
    c->set_enable_ha(true);
    c->set_serial_number(s->spec().serial);
    c->set_model_number(s->spec().model);
    c->set_min_cntlid(o.min_cntlid);
    c->set_max_cntlid(o.max_cntlid);
    c->set_namespace_count(s->namespace_count());
    c->set_subtype("NVMe");
    c->set_max_namespaces(s->spec().max_namespaces);
    c->set_allow_any_host(s->AllowsAnyHost());
    const std::string key = SubsystemDhchapKey(s->nqn());  // as stored: presence only
    c->set_has_dhchap_key(!key.empty());
    c->set_created_without_key(key == StateSecrets::kUnsealedPlaceholder);
    create_subsystem_req stored;
    if (auto it = state_.find(SubsystemKey(s->nqn())); it != state_.end() && JsonToRequest(it->second, &stored).ok())
      *c->mutable_network_mask() = stored.network_mask();
  }
  return Ok(rep);
}

::grpc::Status GatewayService::get_subsystems(SC* ctx, const get_subsystems_req*, subsystems_info* rep) {
  LOG_DEBUG("Received request to get subsystems%s", PeerMsg(ctx).c_str());
  std::set<std::string> with_key;  // subsystems with a DH-HMAC-CHAP key
  std::map<std::string, std::vector<std::string>> masks;  // subsystems' network masks
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& s : target_->Subsystems()) {
      if (!SubsystemDhchapKey(s->nqn()).empty()) with_key.insert(s->nqn());
      create_subsystem_req stored;
      if (auto it = state_.find(SubsystemKey(s->nqn())); it != state_.end() && JsonToRequest(it->second, &stored).ok())
        masks[s->nqn()].assign(stored.network_mask().begin(), stored.network_mask().end());
    }
  }
  try {
    const auto& o = target_->options();
    auto fill_listener = [](::listen_address* a, const ListenerSpec& l) {
      a->set_trtype(std::string(kTcpTransportName));
      a->set_adrfam(l.adrfam == nvme::kAdrfamIpv6 ? "IPv6" : "IPv4");
      a->set_traddr(l.traddr);
      a->set_trsvcid(l.trsvcid);
      a->set_transport(std::string(kTcpTransportName));
      a->set_secure(l.secure);
    };
    {
      auto* d = rep->add_subsystems();
      d->set_nqn(std::string(kDiscoveryNqn));
      d->set_subtype("Discovery");
      d->set_allow_any_host(true);
      for (auto& [l, portid] : target_->Ports()) fill_listener(d->add_listen_addresses(), l);
    }
    for (auto& s : target_->Subsystems()) {
      const SubsystemView v = s->View();
      auto* out = rep->add_subsystems();
      out->set_nqn(v.spec.nqn);
      out->set_subtype("NVMe");
      out->set_serial_number(v.spec.serial);
      out->set_model_number(v.spec.model);
      out->set_max_namespaces(v.spec.max_namespaces);
      out->set_min_cntlid(o.min_cntlid);
      out->set_max_cntlid(o.max_cntlid);
      out->set_allow_any_host(v.spec.allow_any_host);
      out->set_has_dhchap_key(with_key.count(v.spec.nqn) > 0);
      if (auto m = masks.find(v.spec.nqn); m != masks.end())
        for (auto& mask : m->second) out->add_network_mask(mask);
      for (auto& l : v.listeners) fill_listener(out->add_listen_addresses(), l);
      for (auto& h : v.hosts) out->add_hosts()->set_nqn(h.nqn);
      for (auto& ns : v.namespaces) {
        auto* n = out->add_namespaces();
        n->set_nsid(ns.nsid);
        n->set_name(BdevName(ns.uuid));
        n->set_bdev_name(BdevName(ns.uuid));
        std::string nguid = UuidToString(ns.uuid);  // the NGUID is the UUID's bytes
        nguid.erase(std::remove(nguid.begin(), nguid.end(), '-'), nguid.end());
        std::transform(nguid.begin(), nguid.end(), nguid.begin(), ::toupper);
        n->set_nguid(nguid);
        n->set_uuid(UuidToString(ns.uuid));
        n->set_anagrpid(ns.anagrpid);
        // The Ceph monitor client beacons it; the monitor blocklists it to fence this gateway.
        if (!ns.client_address.empty()) n->set_nonce(ns.client_address);
        n->set_auto_visible(ns.auto_visible);
        if (!ns.spec.rados_namespace.empty()) n->set_rados_namespace_name(ns.spec.rados_namespace);
        for (auto& h : ns.hosts) n->add_hosts(h);
      }
    }
  } catch (const std::exception& e) {
    LOG_ERROR("get_subsystems failed: %s", e.what());
    return ::grpc::Status(::grpc::StatusCode::INTERNAL, e.what());
  }
  return ::grpc::Status::OK;
}

}  // namespace nvmeof::api
