// The RPCs the reference added after 1.3 (ceph-nvmeof v1.7 to v1.9). Implemented over the
// core: list_namespaces_io_stats, namespace_change_visibility, namespace_change_location,
// namespace_set_rbd_trash_image (the flag kept in the namespace's stored request, as the
// reference keeps it) and namespace_set_auto_resize (kept there too, and applied to the
// namespace's device on every gateway: BlockDevice::set_auto_resize), namespace_unpin, show_gateway_listeners_info,
// set_gateway_io_stats_mode (Target::set_conn_io_stats), get_connection_io_statistics
// (Controller::IoStats), get_gateway_stats (Target::PollGroups), set_keep_host_connected,
// change_host_key, change_subsystem_key (the network-mask RPCs are in auto_listeners.cc).
// Answered ENOTSUP with a message that names what is missing: KMIP key servers and, without
// a thread statistics source, get_thread_stats and get_gateway_stats.
// Run on gRPC threads; mutations hold the RPC lock.
#include <map>
#include <set>
#include <string>

#include "api/service_internal.h"
#include "gateway/nvmf/auth_keys.h"
#include "gateway/nvmf/controller.h"

namespace nvmeof::api {

using namespace internal;

namespace {

// The reply for what this gateway does not do yet: ENOTSUP, naming it.
template <class R>
::grpc::Status NotSupported(R* rep, const std::string& prefix, const std::string& what) {
  return Answer(rep, ENOTSUP, prefix + ": " + what + " not supported by this gateway");
}

::ana_state ToProtoAnaState(uint8_t s) {
  switch (s) {
    case nvme::kAnaOptimized: return ::OPTIMIZED;
    case nvme::kAnaNonOptimized: return ::NON_OPTIMIZED;
    case nvme::kAnaInaccessible: return ::INACCESSIBLE;
    default: return ::UNSET;
  }
}

void FillIoStats(Namespace& ns, bdev_io_stats_info* o) {
  const NsStats& st = ns.stats();
  o->set_bdev_name(BdevName(ns.uuid()));
  o->set_bytes_read(st.read_bytes.load());
  o->set_num_read_ops(st.ReadOps());
  o->set_bytes_written(st.write_bytes.load());
  o->set_num_write_ops(st.WriteOps());
  o->set_num_unmap_ops(st.unmap_ops.load());
  o->set_read_latency_ticks(st.read_ns.load());
  o->set_write_latency_ticks(st.write_ns.load());
  if (uint64_t e = st.errors.load()) {
    auto* err = o->add_io_error();
    err->set_name("errors");
    err->set_value(static_cast<uint32_t>(std::min<uint64_t>(e, UINT32_MAX)));
  }
}

void FillLatency(const LatencyAcc& a, uint64_t count, latency_stats* o) {
  o->set_min(a.min);
  o->set_max(a.max);
  o->set_mean(a.Mean(count));
}

void FillLatencyGroup(const LatencyGroup& g, latency_group* o) {
  o->set_io_count(g.count);
  FillLatency(g.total, g.count, o->mutable_total());
  FillLatency(g.bdev, g.count, o->mutable_bdev());
  FillLatency(g.net, g.count, o->mutable_net());
  FillLatency(g.qos, g.count, o->mutable_qos());
}

}  // namespace

Status GatewayService::EditNamespaceRequest(const std::string& nqn, uint32_t nsid,
                                            const std::function<bool(namespace_add_req*)>& edit,
                                            const std::vector<std::string>& also_remove) {
  const std::string key = NamespaceKey(nqn, nsid);
  auto it = state_.find(key);
  if (it == state_.end()) return Status::NotFound("Can't find entry for namespace");
  namespace_add_req add;
  if (Status st = JsonToRequest(it->second, &add); !st.ok()) return Status::NotFound("Can't find entry for namespace");
  if (!edit(&add)) return Status::OK();  // nothing changes
  return Persist({{key, RewriteStateJson(it->second, add)}}, also_remove);
}

// ----------------------------------------------------------------------------- subsystems

// Sets, rotates or (empty) deletes the subsystem's DH-HMAC-CHAP key: the controller key of
// every host of the subsystem (each must have a key of its own and no controller key), from
// their next authentication on, on every gateway of the group (ChangeSubsystem).
::grpc::Status GatewayService::change_subsystem_key(SC* ctx, const change_subsystem_key_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string key = req->has_dhchap_key() ? req->dhchap_key() : "";
  LOG_INFO("Received request to %s the DH-HMAC-CHAP key of subsystem %s%s", key.empty() ? "delete" : "change",
           nqn.c_str(), PeerMsg(ctx).c_str());
  const std::string prefix =
      std::string(key.empty() ? "Failure deleting" : "Failure changing") + " DH-HMAC-CHAP key for subsystem " + nqn;
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure changing DH-HMAC-CHAP key for subsystem, missing subsystem NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN");
  if (!key.empty()) {
    if (auto parsed = auth::ParseDhchapSecret(key); !parsed.ok())
      return Answer(rep, EINVAL, prefix + ": " + parsed.status().message());
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  auto it = state_.find(SubsystemKey(nqn));
  if (!s || s->is_discovery() || it == state_.end()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  create_subsystem_req stored;
  if (Status st = JsonToRequest(it->second, &stored); !st.ok())
    return Answer(rep, EINVAL, prefix + ": can't read the subsystem's state: " + st.message());
  if (!key.empty()) {
    const std::string p = StateKeyPrefix(StateKeyKind::kHost, nqn);
    for (auto h = state_.lower_bound(p); h != state_.end() && StartsWith(h->first, p); ++h) {
      add_host_req host;
      if (!JsonToRequest(h->second, &host).ok() || host.host_nqn() == kAnyHostNqn) continue;
      if (!host.has_dhchap_key() || host.dhchap_key().empty())
        return Answer(rep, ENOKEY, prefix + ": Can't set a subsystem's DH-HMAC-CHAP key when it has hosts with no key, "
                                            "like host " + host.host_nqn());
      if (host.has_dhchap_ctrlr_key() && !host.dhchap_ctrlr_key().empty())
        return Answer(rep, EINVAL, prefix + ": DH-HMAC-CHAP key is not allowed for subsystems which have a host with a "
                                            "DH-HMAC-CHAP controller key. You need to remove host " + host.host_nqn() +
                                            " DH-HMAC-CHAP controller key in order to set a key for the subsystem");
    }
    stored.set_dhchap_key(key);
  } else {
    stored.clear_dhchap_key();
  }
  stored.clear_key_encrypted();
  if (Status st = Persist({{SubsystemKey(nqn), RewriteStateJson(it->second, SealedSubsystem(stored))}}, {}); !st.ok())
    return Answer(rep, EINVAL, "Error persisting the DH-HMAC-CHAP key of subsystem " + nqn + ": " + st.message());
  if (Status st = ApplySubsystemKeyToHosts(nqn); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  LOG_INFO("subsystem %s: DH-HMAC-CHAP key %s", nqn.c_str(), key.empty() ? "deleted" : "set");
  return Ok(rep);
}

::grpc::Status GatewayService::add_kmip_server_endpoints(SC* ctx, const add_kmip_server_endpoints_req* req,
                                                         req_status* rep) {
  LOG_INFO("Received request to add KMIP server %s endpoints%s", req->server_name().c_str(), PeerMsg(ctx).c_str());
  return NotSupported(rep, "Failure adding KMIP server " + req->server_name() + " endpoints",
                      "KMIP key servers (LUKS-encrypted namespaces) are");
}

::grpc::Status GatewayService::del_kmip_server_endpoints(SC* ctx, const del_kmip_server_endpoints_req* req,
                                                         req_status* rep) {
  LOG_INFO("Received request to delete KMIP server %s endpoints%s", req->server_name().c_str(), PeerMsg(ctx).c_str());
  return NotSupported(rep, "Failure deleting KMIP server " + req->server_name() + " endpoints",
                      "KMIP key servers (LUKS-encrypted namespaces) are");
}

::grpc::Status GatewayService::list_kmip_server_endpoints(SC* ctx, const list_kmip_server_endpoints_req*,
                                                          kmip_server_endpoints_info* rep) {
  LOG_DEBUG("Received request to list KMIP server endpoints%s", PeerMsg(ctx).c_str());
  return NotSupported(rep, "Failure listing KMIP server endpoints", "KMIP key servers (LUKS-encrypted namespaces) are");
}

// ----------------------------------------------------------------------------- namespaces

::grpc::Status GatewayService::list_namespaces_io_stats(SC* ctx, const list_namespaces_io_stats_req* req,
                                                        list_namespaces_io_stats_info* rep) {
  LOG_DEBUG("Received request to list namespaces IO stats%s", PeerMsg(ctx).c_str());
  const bool one_subsystem = req->has_subsystem_nqn() && !req->subsystem_nqn().empty() && req->subsystem_nqn() != "*";
  const bool one_nsid = req->has_nsid() && req->nsid() != 0;
  if (one_nsid && !one_subsystem)
    return Answer(rep, EINVAL, "Failure listing namespaces IO stats: an NSID needs a subsystem NQN");
  rep->set_tick_rate(1000000000ull);  // ticks are nanoseconds
  rep->set_ticks(NowNs());
  if (one_subsystem) {
    auto s = target_->FindSubsystem(req->subsystem_nqn());
    if (!s || s->is_discovery())
      return Answer(rep, ENOENT, "Failure listing namespaces IO stats: No such subsystem " + req->subsystem_nqn());
    if (one_nsid && !s->GetNamespace(req->nsid()))
      return Answer(rep, ENODEV, "Failure listing namespaces IO stats: Can't find namespace " + Str(req->nsid()) +
                                     " in " + req->subsystem_nqn());
  }
  for (const auto& s : target_->Subsystems()) {
    if (s->is_discovery() || (one_subsystem && s->nqn() != req->subsystem_nqn())) continue;
    for (const auto& ns : s->Namespaces()) {
      if (one_nsid && ns->nsid() != req->nsid()) continue;
      FillIoStats(*ns, rep->add_namespaces());
    }
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_change_visibility(SC* ctx, const namespace_change_visibility_req* req,
                                                           req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure changing visibility for namespace " + Str(req->nsid()) + " in " + nqn;
  LOG_INFO("Received request to change the visibility of namespace %u in %s to \"%s\", force: %s%s", req->nsid(),
           nqn.c_str(), req->auto_visible() ? "visible to all hosts" : "visible to selected hosts",
           req->force() ? "true" : "false", PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure changing visibility for namespace, missing subsystem NQN");
  if (!req->nsid())
    return Answer(rep, ENODEV, "Failure changing visibility for namespace in " + nqn + ": No namespace ID was given");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENODEV, prefix + ": Can't find subsystem");
  auto info = s->NamespaceInfo(req->nsid());
  if (!info.ok()) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  const std::vector<std::string> hosts = info->hosts;
  if (!hosts.empty() && req->auto_visible()) {
    if (!req->force())
      return Answer(rep, EBUSY, prefix + ": Asking to change visibility of namespace to be visible to all hosts while "
                                         "there are already hosts added to it. Either remove these hosts or use the "
                                         "\"--force\" parameter");
    LOG_WARN("Namespace %u in %s becomes visible to all hosts: its %zu host(s) are removed from it", req->nsid(),
             nqn.c_str(), hosts.size());
  }
  if (!target_->Connections(nqn).empty()) {
    if (!req->force())
      return Answer(rep, EBUSY, prefix + ": Asking to change visibility of namespace while there are active "
                                         "connections on the subsystem, please disconnect them or use the "
                                         "\"--force\" parameter.");
    LOG_WARN("Changing visibility of namespace %u in %s while hosts are connected (\"--force\")", req->nsid(),
             nqn.c_str());
  }
  if (info->auto_visible == req->auto_visible()) {
    LOG_WARN("No change to namespace %u in %s visibility, nothing to do", req->nsid(), nqn.c_str());
    return Ok(rep);
  }
  // The stored request says it for the group; the namespace hosts go with visibility to all.
  const std::string key = NamespaceKey(nqn, req->nsid());
  auto it = state_.find(key);
  if (it != state_.end()) {
    namespace_add_req add;
    if (!JsonToRequest(it->second, &add).ok()) return Answer(rep, ENOENT, prefix + ": Can't find entry for namespace");
    add.set_no_auto_visible(!req->auto_visible());
    std::vector<std::string> removes;
    if (req->auto_visible())
      for (const auto& h : hosts) removes.push_back(NamespaceHostKey(nqn, req->nsid(), h));
    if (Status st = Persist({{key, RewriteStateJson(it->second, add)}}, removes); !st.ok())
      return Answer(rep, EINVAL, "Error persisting visibility change for namespace " + Str(req->nsid()) + " in " +
                                     nqn + ": " + st.message());
  }
  if (Status st = target_->SetNamespaceVisibility(nqn, req->nsid(), req->auto_visible()); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_change_location(SC* ctx, const namespace_change_location_req* req,
                                                         req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure changing location for namespace " + Str(req->nsid()) + " in " + nqn;
  LOG_INFO("Received request to change the location of namespace %u in %s to \"%s\"%s", req->nsid(), nqn.c_str(),
           req->location().c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure changing location for namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure changing location for namespace in " + nqn + ", missing NSID");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (!s->HasNamespace(req->nsid())) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  Status st = EditNamespaceRequest(nqn, req->nsid(), [&](namespace_add_req* a) {
    if (a->location() == req->location()) return false;
    if (req->location().empty()) a->clear_location();
    else a->set_location(req->location());
    return true;
  });
  if (st.IsNotFound()) return Answer(rep, ENOENT, prefix + ": " + st.message());
  if (!st.ok()) return Answer(rep, EINVAL, "Error persisting location of namespace " + Str(req->nsid()) + " in " +
                                               nqn + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_set_rbd_trash_image(SC* ctx, const namespace_set_rbd_trash_image_req* req,
                                                             req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure setting RBD trash image flag for namespace " + Str(req->nsid()) + " in " + nqn;
  LOG_INFO("Received request to set the RBD trash image flag of namespace %u in %s to \"%strash on namespace "
           "deletion\"%s",
           req->nsid(), nqn.c_str(), req->trash_image() ? "" : "do not ", PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure setting RBD trash image flag for namespace, missing ID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure setting RBD trash image flag for namespace " + Str(req->nsid()) +
                                   ", missing subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery() || !s->HasNamespace(req->nsid())) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  Status st = EditNamespaceRequest(nqn, req->nsid(), [&](namespace_add_req* a) {
    if (a->trash_image() == req->trash_image()) {
      LOG_WARN("Namespace %u in %s already has the RBD trash image flag %s, nothing to do", req->nsid(), nqn.c_str(),
               req->trash_image() ? "set" : "reset");
      return false;
    }
    a->set_trash_image(req->trash_image());
    // Kept, as the reference keeps it; deleting the namespace ignores it for such an image.
    if (req->trash_image() && !ImageTrashedOnDelete(*a))
      LOG_WARN("Notice that as image %s was created outside the gateway it won't get trashed on namespace deletion",
               RbdImagePath(*a).c_str());
    return true;
  });
  if (st.IsNotFound()) return Answer(rep, ENOENT, prefix + ": " + st.message());
  if (!st.ok()) return Answer(rep, EINVAL, "Error persisting change for RBD trash image flag of namespace " +
                                               Str(req->nsid()) + " in " + nqn + ": " + st.message());
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_set_auto_resize(SC* ctx, const namespace_set_auto_resize_req* req,
                                                         req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure setting auto resize flag for namespace " + Str(req->nsid()) + " in " + nqn;
  LOG_INFO("Received request to set the auto resize flag of namespace %u in %s to \"%sauto resize namespace\"%s",
           req->nsid(), nqn.c_str(), req->auto_resize() ? "" : "do not ", PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure setting auto resize flag for namespace, missing ID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure setting auto resize flag for namespace " + Str(req->nsid()) +
                                   ", missing subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery() || !s->HasNamespace(req->nsid())) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  // With auto-resize every gateway follows the image by itself: the refresh-size mark of a
  // resize made without it goes (as the reference removes it).
  std::vector<std::string> drop;
  if (req->auto_resize()) drop.push_back(NamespaceRefreshSizeKey(nqn, req->nsid()));
  Status st = EditNamespaceRequest(
      nqn, req->nsid(),
      [&](namespace_add_req* a) {
        if (a->disable_auto_resize() == !req->auto_resize()) return false;
        a->set_disable_auto_resize(!req->auto_resize());
        return true;
      },
      drop);
  if (st.IsNotFound()) return Answer(rep, ENOENT, prefix + ": " + st.message());
  if (!st.ok()) return Answer(rep, EINVAL, "Error persisting change for auto resize flag of namespace " +
                                               Str(req->nsid()) + " in " + nqn + ": " + st.message());
  // The other gateways apply it from the group state (ChangeNamespace); this one here.
  if (auto ns = s->GetNamespace(req->nsid())) ns->dev().set_auto_resize(req->auto_resize());
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_unpin(SC* ctx, const namespace_unpin_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure unpinning namespace " + Str(req->nsid()) + " in " + nqn;
  LOG_INFO("Received request to unpin namespace %u in %s%s", req->nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure unpinning namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure unpinning namespace in " + nqn + ", missing NSID");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (!s->HasNamespace(req->nsid())) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  // This gateway does not move namespaces between load balancing groups by itself: a
  // namespace stays in the group it was given, pinned or not.
  LOG_INFO("Namespace %u in %s unpinned (it stays in load balancing group %u)", req->nsid(), nqn.c_str(),
           s->GetNamespace(req->nsid())->anagrpid());
  return Ok(rep);
}

// ----------------------------------------------------------------------------- hosts

::grpc::Status GatewayService::set_keep_host_connected(SC* ctx, const set_keep_host_connected_req* req,
                                                       req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  LOG_INFO("Received request to keep host %s connected to %s%s", host.c_str(), nqn.c_str(), PeerMsg(ctx).c_str());
  const std::string prefix = "Failure setting keep connected flag for host " + host + " in " + nqn;
  if (nqn.empty()) return Answer(rep, EINVAL, prefix + ": missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, prefix + ": missing host NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as subsystem's");
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  if (host == kAnyHostNqn) return Answer(rep, EINVAL, prefix + ": Host NQN can't be \"*\"");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (!s->HasHost(host)) return Answer(rep, ENOENT, prefix + ": Host is not found");
  // Stored, so that every gateway of the group keeps the host's connections at its removal.
  if (Status st = Persist({{KeepConnectedKey(nqn, host), KeepConnectedJson(nqn, host)}}, {}); !st.ok())
    return Answer(rep, EINVAL, prefix + ": Error persisting the keep connected flag: " + st.message());
  if (Status st = target_->SetKeepHostConnected(nqn, host); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  return Ok(rep);
}

// The reference's semantics: each key the request has replaces the host's (host key:
// dhchap_key, gwcli host change_key; controller key: dhchap_ctrlr_key, host
// change_controller_key) or, empty, removes it (host del_key, del_controller_key); a key the
// request lacks stays. A host keeps a key of its own while it has a controller key or the
// subsystem has a key, and a controller key defined by the subsystem cannot be deleted
// here. The Target applies the keys from the next authentication (connected hosts stay),
// then the host's add_host JSON in the group state carries them to the other gateways and
// to a restart.
::grpc::Status GatewayService::change_host_key(SC* ctx, const change_host_key_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  LOG_INFO("Received request to change the keys of host %s on %s%s", host.c_str(), nqn.c_str(), PeerMsg(ctx).c_str());
  const bool ctrlr_only = req->has_dhchap_ctrlr_key() && !req->has_dhchap_key();
  const bool deleting = ctrlr_only ? req->dhchap_ctrlr_key().empty() : req->has_dhchap_key() && req->dhchap_key().empty();
  const std::string prefix = std::string(deleting ? "Failure deleting" : "Failure changing") + " DH-HMAC-CHAP " +
                             (ctrlr_only ? "controller key" : "key") + " for host " + host + " on subsystem " + nqn;
  if (!req->has_dhchap_key() && !req->has_dhchap_ctrlr_key())
    return Answer(rep, EINVAL, prefix + ": no key given (dhchap_key or dhchap_ctrlr_key)");
  if (nqn.empty()) return Answer(rep, EINVAL, prefix + ": missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, prefix + ": missing host NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as subsystem's");
  if (IsDiscoveryNqn(host)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN as host's");
  if (host == kAnyHostNqn) return Answer(rep, EINVAL, prefix + ": Host NQN can't be \"*\"");
  if (opts_.verify_nqns) {
    if (Status st = ValidateHostNqn(host, false); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  const std::optional<HostEntry> old = s->FindHost(host);
  if (!old) return Answer(rep, ENOENT, prefix + ": Can't find host on subsystem");

  add_host_req stored;
  stored.set_subsystem_nqn(nqn);
  stored.set_host_nqn(host);
  const std::string key = HostKey(nqn, host);
  if (auto it = state_.find(key); it != state_.end()) {
    if (Status st = JsonToRequest(it->second, &stored); !st.ok())
      return Answer(rep, EINVAL, prefix + ": can't read the host's state: " + st.message());
  }
  // The stored keys in clear; sealed again (all of them) before the write.
  if (Status st = secrets_.Open(&stored); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  Result<std::string> opened = OpenSubsystemKey(nqn);
  if (!opened.ok()) return Answer(rep, ToErrno(opened.status()), prefix + ": " + opened.status().message());
  const std::string& subsystem_key = *opened;
  if (req->has_dhchap_key()) {
    if (req->dhchap_key().empty()) stored.clear_dhchap_key();
    else stored.set_dhchap_key(req->dhchap_key());
  }
  if (req->has_dhchap_ctrlr_key()) {
    if (!req->dhchap_ctrlr_key().empty()) {
      stored.set_dhchap_ctrlr_key(req->dhchap_ctrlr_key());
    } else {
      if (ControllerKeyOrigin(stored, subsystem_key) == ::subsystem_implicit)
        return Answer(rep, EINVAL, prefix + ": Can't delete host DH-HMAC-CHAP controller key as it was defined in the subsystem");
      stored.clear_dhchap_ctrlr_key();
    }
  }
  if (stored.has_dhchap_ctrlr_key() && !stored.dhchap_ctrlr_key().empty() &&
      (!stored.has_dhchap_key() || stored.dhchap_key().empty()))
    return Answer(rep, ENOKEY, prefix + ": Host must have a DH-HMAC-CHAP key if the controller has one");
  if (Status st = CheckSubsystemKeyRules(stored, subsystem_key); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  Result<HostEntry> entry = HostEntryFromRequest(stored, subsystem_key);
  if (!entry.ok()) return Answer(rep, EINVAL, prefix + ": " + entry.status().message());
  if (Status st = secrets_.Seal(&stored); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (Status st = target_->ChangeHostKeys(nqn, *entry); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  auto was = state_.find(key);
  if (Status st = Persist({{key, RewriteStateJson(was != state_.end() ? was->second : "", stored)}}, {}); !st.ok()) {
    target_->ChangeHostKeys(nqn, *old);
    return Answer(rep, EINVAL, "Error persisting host " + host + " key change: " + st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::get_connection_io_statistics(SC* ctx, const get_connection_io_statistics_req* req,
                                                            connection_io_statistics* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string& host = req->host_nqn();
  const bool reset = req->has_reset() && req->reset();
  if (reset)
    LOG_INFO("Received request to reset IO statistics of host %s on %s%s", host.c_str(), nqn.c_str(),
             PeerMsg(ctx).c_str());
  else
    LOG_DEBUG("Received request to get IO statistics of host %s on %s%s", host.c_str(), nqn.c_str(),
              PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(nqn);
  rep->set_host_nqn(host);
  const std::string prefix =
      std::string(reset ? "Failure resetting" : "Failure getting") + " IO statistics for host " + host + " on " + nqn;
  if (nqn.empty()) return Answer(rep, EINVAL, prefix + ": missing subsystem NQN");
  if (host.empty()) return Answer(rep, EINVAL, prefix + ": missing host NQN");
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't use a discovery NQN");
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  // A host may have several controllers here (one per path through this gateway): their sum.
  ConnIoSnapshot sum;
  bool connected = false;
  for (const auto& c : s->Controllers()) {
    if (c->hostnqn() != host) continue;
    connected = true;
    sum.Add(c->IoStats(reset));
  }
  if (!connected) return Answer(rep, ENOENT, prefix + ": No connection for host");
  rep->set_total_num_ios(sum.TotalIos());
  for (size_t i = 0; i < ConnIoSnapshot::kBuckets; i++) {
    auto* b = rep->add_buckets();
    b->set_size(static_cast<uint32_t>(ConnIoSnapshot::BucketBytes(i) / 1024));
    FillLatencyGroup(sum.g[ConnIoSnapshot::kRead][i], b->mutable_read());
    FillLatencyGroup(sum.g[ConnIoSnapshot::kWrite][i], b->mutable_write());
  }
  if (reset) LOG_INFO("subsystem %s host %s: IO statistics reset", nqn.c_str(), host.c_str());
  return Ok(rep);
}

// ----------------------------------------------------------------------------- gateway

::grpc::Status GatewayService::show_gateway_listeners_info(SC* ctx, const show_gateway_listeners_info_req* req,
                                                           gateway_listeners_info* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_DEBUG("Received request to show gateway listeners info for %s%s", nqn.c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure listing gateway listeners info, missing subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, "Failure listing gateway listeners info: No such subsystem " + nqn);
  // The groups of the subsystem's namespaces and this gateway's own, in order.
  std::set<uint32_t> groups = {opts_.load_balancing_group};
  for (const auto& ns : s->Namespaces()) groups.insert(ns->anagrpid());
  // Listeners in the group state are manual; the rest were given on the command line or are
  // auto-listeners (network masks).
  std::set<std::string> manual;
  const std::string p = StateKeyPrefix(StateKeyKind::kListener, nqn);
  for (auto it = state_.lower_bound(p); it != state_.end() && StartsWith(it->first, p); ++it) {
    create_listener_req l;
    if (JsonToRequest(it->second, &l).ok() && IsLocal(l.host_name()))
      manual.insert(UnescapeAddress(l.traddr()) + ":" + Str(l.has_trsvcid() ? l.trsvcid() : kDefaultTrsvcid));
  }
  for (const ListenerSpec& l : s->Listeners()) {
    auto* g = rep->add_gw_listeners();
    auto* o = g->mutable_listener();
    FillListenerInfo(l, opts_.gateway_name, o);
    o->set_active(true);
    o->set_manual(manual.count(l.traddr + ":" + l.trsvcid) > 0);
    for (uint32_t grp : groups) {
      auto* st = g->add_lb_states();
      st->set_grp_id(grp);
      st->set_state(ToProtoAnaState(target_->AnaState(nqn, grp)));
    }
  }
  return Ok(rep);
}

::grpc::Status GatewayService::get_gateway_stats(SC* ctx, const get_gateway_stats_req*, gateway_stats_info* rep) {
  LOG_DEBUG("Received request to get gateway's stats%s", PeerMsg(ctx).c_str());
  if (!thread_stats_) return NotSupported(rep, "Failure getting gateway's NVMf statistics", "poll group statistics are");
  rep->set_tick_rate(1000000000ull);  // as get_thread_stats
  const std::vector<ThreadStats> threads = thread_stats_();
  const auto groups = target_->PollGroups(static_cast<int>(threads.size()));
  for (size_t i = 0; i < groups.size(); i++) {
    const Target::PollGroupStats& g = groups[i];
    auto* o = rep->add_poll_groups();
    o->set_name(threads[i].name);
    o->set_admin_qpairs(static_cast<uint32_t>(g.admin_qpairs));
    o->set_io_qpairs(static_cast<uint32_t>(g.io_qpairs));
    o->set_current_admin_qpairs(static_cast<uint32_t>(g.current_admin_qpairs));
    o->set_current_io_qpairs(static_cast<uint32_t>(g.current_io_qpairs));
    o->set_pending_bdev_io(g.pending_io);
    o->set_completed_nvme_io(g.completed_io);
    o->add_transports()->set_trtype(std::string(kTcpTransportName));
  }
  return Ok(rep);
}

::grpc::Status GatewayService::get_thread_stats(SC* ctx, const get_thread_stats_req*, thread_stats_info* rep) {
  LOG_DEBUG("Received request to get gateway's thread stats%s", PeerMsg(ctx).c_str());
  if (!thread_stats_) return NotSupported(rep, "Failure getting thread statistics", "thread statistics are");
  rep->set_tick_rate(1000000000ull);  // busy and idle are nanoseconds
  for (const ThreadStats& t : thread_stats_()) {
    auto* o = rep->add_threads();
    o->set_name(t.name);
    o->set_busy(t.busy_ns);
    o->set_idle(t.idle_ns);
  }
  return Ok(rep);
}

::grpc::Status GatewayService::set_gateway_io_stats_mode(SC* ctx, const set_gateway_io_stats_mode_req* req,
                                                         req_status* rep) {
  LOG_INFO("Received request to set gateway's IO stats mode to %s%s", req->enabled() ? "on" : "off",
           PeerMsg(ctx).c_str());
  // Turns the per-connection timing (get_connection_io_statistics) on or off; the
  // namespace counters (NsStats) cost a relaxed add per I/O and are always kept.
  target_->set_conn_io_stats(req->enabled());
  return Ok(rep);
}

}  // namespace nvmeof::api
