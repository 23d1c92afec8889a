// RPCs of the listener family: create_listener, delete_listener, list_listeners. Run on
// gRPC threads; mutations hold the RPC lock.
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

::grpc::Status GatewayService::create_listener(SC* ctx, const create_listener_req* req, req_status* rep) {
  const uint32_t port = req->has_trsvcid() ? req->trsvcid() : kDefaultTrsvcid;
  const std::string& nqn = req->nqn();
  const std::string prefix = "Failure adding " + nqn + " listener at " + req->traddr() + ":" + Str(port);
  if (!::AddressFamily_IsValid(req->adrfam()))
    return Answer(rep, ENOKEY, prefix + ": Unknown address family " + std::to_string(req->adrfam()));
  LOG_INFO("Received request to create %s TCP %s listener for %s at %s:%u%s", req->host_name().c_str(),
           req->adrfam() == ::ipv6 ? "ipv6" : "ipv4", nqn.c_str(), req->traddr().c_str(), port, PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding listener, missing subsystem NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't create a listener for a discovery subsystem");
  if (StateKeyElementHasSeparator(req->host_name()))
    return Answer(rep, EINVAL, prefix + ": Host name \"" + req->host_name() + "\" contains invalid characters");
  if (Status st = ValidateHostName(req->host_name()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (Status st = ValidateListenerAddress(req->traddr(), static_cast<api::AddressFamily>(req->adrfam())); !st.ok())
    return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (Status st = ValidatePort(port); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());

  create_listener_req stored = *req;
  stored.set_trsvcid(port);
  stored.set_adrfam(req->adrfam());
  stored.set_traddr(KeyAddress(req->traddr()));
  const std::string key = ListenerStateKey(nqn, req->host_name(), req->traddr(), port);

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (state_.count(key)) return Answer(rep, EEXIST, prefix + ": Subsystem already listens on this address");
  auto listener_check = [&](const StateMap& cur) -> Status {
    if (cur.count(key)) return Status::Error(errc::kListenerExists, "Subsystem already listens on this address");
    return Status::OK();
  };
  if (!IsLocal(req->host_name())) {
    // Another gateway of the group opens it: store it (that gateway applies it from the state).
    bool conflict = false;
    if (Status st = Persist({{key, RequestToJson(stored)}}, {}, listener_check, &conflict); !st.ok()) {
      if (conflict) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
      return Answer(rep, EINVAL, "Error persisting listener " + req->traddr() + ":" + Str(port) + ": " + st.message());
    }
    // Listed in this gateway's discovery log page too.
    ListenerSpec peer = MakeListenerSpec(req->host_name(), req->traddr(), port, req->adrfam());
    peer.secure = req->secure();
    target_->AddPeerListener(nqn, peer);
    return Answer(rep, EREMOTE, prefix + ": Gateway's host name must match current host (" + opts_.hostname +
                                    "); the listener was stored for gateway " + req->host_name() +
                                    ", which opens it");
  }
  ListenerSpec l = MakeListenerSpec(req->host_name(), req->traddr(), port, req->adrfam());
  l.secure = req->secure();  // TLS only: the hosts' PSKs (add_host psk) choose who connects
  if (s->HasListener(l)) return Answer(rep, EEXIST, prefix + ": Subsystem already listens on this address");
  if (Status st = target_->AddListener(nqn, l); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  bool conflict = false;
  if (Status st = Persist({{key, RequestToJson(stored)}}, {}, listener_check, &conflict); !st.ok()) {
    target_->RemoveListener(nqn, l);
    if (conflict) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    return Answer(rep, EINVAL, "Error persisting listener " + req->traddr() + ":" + Str(port) + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::delete_listener(SC* ctx, const delete_listener_req* req, req_status* rep) {
  const uint32_t port = req->has_trsvcid() ? req->trsvcid() : kDefaultTrsvcid;
  const std::string& nqn = req->nqn();
  const std::string traddr = KeyAddress(req->traddr());
  const std::string prefix = "Listener " + traddr + ":" + Str(port) + " failed to delete from " + nqn;
  if (!::AddressFamily_IsValid(req->adrfam()))
    return Answer(rep, ENOKEY, prefix + ". Unknown address family " + std::to_string(req->adrfam()));
  LOG_INFO("Received request to delete TCP listener of %s for subsystem %s at %s:%u%s%s",
           req->host_name() == "*" ? "all hosts" : ("host " + req->host_name()).c_str(), nqn.c_str(), traddr.c_str(),
           port, req->force() ? " forcefully" : "", PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting listener, missing subsystem NQN");
  if (req->host_name() == "*" && !req->force())
    return Answer(rep, EINVAL, prefix + ". Must use the \"--force\" parameter when setting the host name to \"*\".");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ". Can't delete a listener from a discovery subsystem");
  if (req->host_name().empty()) return Answer(rep, EINVAL, prefix + ". Missing host name");
  if (Status st = ValidatePort(port); !st.ok()) return Answer(rep, EINVAL, prefix + ". " + st.message());

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ". No such subsystem");
  ListenerSpec l = MakeListenerSpec(opts_.gateway_name, req->traddr(), port, req->adrfam());
  const bool mine = IsLocal(req->host_name()) || req->host_name() == "*";
  const bool in_target = mine && s->HasListener(l);
  if (mine && IsAutoListener(nqn, l) && !state_.count(ListenerStateKey(nqn, opts_.gateway_name, req->traddr(), port)) &&
      !state_.count(ListenerStateKey(nqn, opts_.hostname, req->traddr(), port)))
    return Answer(rep, EINVAL, "Failed to delete listener " + traddr + ":" + Str(port) + " from " + nqn +
                                   ": Listener was created automatically as part of the subsystem's network mask. "
                                   "To remove it, modify the network mask.");
  if (!req->force() && in_target) {
    if (target_->HasConnectionsThrough(nqn, l))
      return Answer(rep, ENOTEMPTY, prefix + " due to active connections for " + req->traddr() + ":" + Str(port) +
                                        ". Deleting the listener terminates active connections. You can continue to "
                                        "delete the listener by adding the `--force` parameter.");
  }
  std::vector<std::string> remove;
  if (req->host_name() == "*") {
    remove = ListenerKeysAt(state_, nqn, traddr, Str(port));
  } else {
    const std::string key = ListenerStateKey(nqn, req->host_name(), req->traddr(), port);
    if (state_.count(key)) remove.push_back(key);
  }
  if (remove.empty() && !in_target) return Answer(rep, ENOENT, prefix + ". No such listener");
  if (!IsLocal(req->host_name()) && req->host_name() != "*" && !req->force())
    return Answer(rep, ENOENT, prefix + ". Gateway's host name must match current host (" + opts_.hostname +
                                   "). You can continue to delete the listener by adding the `--force` parameter.");
  std::vector<create_listener_req> peers;  // other gateways' listeners among those removed
  for (const auto& k : remove) {
    create_listener_req l;
    if (auto it = state_.find(k); it != state_.end() && JsonToRequest(it->second, &l).ok() && !IsLocal(l.host_name()))
      peers.push_back(l);
  }
  if (Status st = Persist({}, remove); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of listener " + traddr + ":" + Str(port) + " from " + nqn +
                                   ": " + st.message());
  for (const auto& l : peers)
    target_->RemovePeerListener(
        nqn, MakeListenerSpec(l.host_name(), l.traddr(), l.has_trsvcid() ? l.trsvcid() : kDefaultTrsvcid, l.adrfam()));
  if (in_target) {
    if (Status st = target_->RemoveListener(nqn, l); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::list_listeners(SC* ctx, const list_listeners_req* req, listeners_info* rep) {
  LOG_DEBUG("Received request to list listeners for %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing listeners, missing subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(req->subsystem());
  if ((!s || s->is_discovery()) && !state_.count(SubsystemKey(req->subsystem())))
    return Answer(rep, ENOENT, "Failure listing listeners: No such subsystem " + req->subsystem());
  const std::string p = StateKeyPrefix(StateKeyKind::kListener, req->subsystem());
  std::set<std::string> listed;  // this gateway's, "traddr:trsvcid"
  for (auto& [k, v] : state_) {
    if (!StartsWith(k, p)) continue;
    create_listener_req l;
    if (!JsonToRequest(v, &l).ok()) continue;
    auto* o = rep->add_listeners();
    o->set_host_name(l.host_name());
    o->set_trtype(std::string(kTcpTransportName));
    o->set_adrfam(l.adrfam());
    o->set_traddr(l.traddr());
    o->set_trsvcid(l.has_trsvcid() ? l.trsvcid() : kDefaultTrsvcid);
    o->set_secure(l.secure());
    o->set_manual(true);
    const bool local = IsLocal(l.host_name());
    if (local) listed.insert(UnescapeAddress(l.traddr()) + ":" + Str(o->trsvcid()));
    o->set_active(local && s && s->HasListener(MakeListenerSpec(l.host_name(), l.traddr(), o->trsvcid(), l.adrfam())));
  }
  // Other gateways' auto-listeners (subsystem network masks), as each published them.
  const std::string ap = StateKeyPrefix(StateKeyKind::kAutoListener, req->subsystem());
  for (auto it = state_.lower_bound(ap); it != state_.end() && StartsWith(it->first, ap); ++it) {
    create_listener_req l;
    if (!JsonToRequest(it->second, &l).ok() || l.host_name() == opts_.gateway_name) continue;
    auto* o = rep->add_listeners();
    o->set_host_name(l.host_name());
    o->set_trtype(std::string(kTcpTransportName));
    o->set_adrfam(l.adrfam());
    o->set_traddr(l.traddr());
    o->set_trsvcid(l.has_trsvcid() ? l.trsvcid() : kDefaultTrsvcid);
    o->set_secure(l.secure());
    o->set_active(true);  // published while open on its gateway
    o->set_manual(false);
  }
  // Listeners this gateway has that are not in the group state (--subsystem/--listen).
  if (s && !s->is_discovery()) {
    for (auto& l : s->Listeners()) {
      if (listed.count(l.traddr + ":" + l.trsvcid)) continue;
      auto* o = rep->add_listeners();
      FillListenerInfo(l, opts_.gateway_name, o);
      o->set_active(true);
      o->set_manual(false);  // the command line's, or an auto-listener
    }
  }
  return Ok(rep);
}

}  // namespace nvmeof::api
