// RPCs of the namespace family: namespace_add, namespace_delete, list_namespaces,
// namespace_resize, namespace_get_io_stats, namespace_set_qos_limits,
// namespace_change_load_balancing_group, namespace_add_host, namespace_delete_host.
// Run on gRPC threads; mutations hold the RPC lock.
#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

::grpc::Status GatewayService::namespace_add(SC* ctx, const namespace_add_req* in, nsid_status* rep) {
  namespace_add_req req = *in;
  const std::string& nqn = req.subsystem_nqn();
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding namespace, missing subsystem NQN");
  const std::string nsid_msg = req.has_nsid() && req.nsid() ? "using NSID " + Str(req.nsid()) + " " : "";
  const std::string prefix = "Failure adding namespace " + nsid_msg + "to " + nqn;
  const std::string backend = req.has_backend() ? req.backend() : "rbd";
  const std::string image_path = RbdImagePath(req);
  LOG_INFO("Received request to add namespace %sto %s (%s%s%s%s), ana group %d%s", nsid_msg.c_str(), nqn.c_str(),
           backend.c_str(), backend == "rbd" ? " " : "", backend == "rbd" ? image_path.c_str() : "",
           req.read_only() ? ", read-only" : "", req.anagrpid(), PeerMsg(ctx).c_str());
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't add namespaces to a discovery subsystem");
  if (req.has_nsid() && req.nsid() != 0) {
    if (Status st = ValidateNsid(req.nsid()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (req.has_uuid() && !req.uuid().empty()) {
    if (Status st = ValidateUuid(req.uuid()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  if (Status st = ValidateBlockSize(req.block_size()); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  if (req.anagrpid() < 0) return Answer(rep, EINVAL, prefix + ": Load balancing group can't be negative");
  // Features of the current reference this gateway does not have yet: refused, never ignored.
  auto not_supported = [&](const std::string& what) {
    return Answer(rep, ENOTSUP, prefix + ": " + what + " not supported by this gateway");
  };
  if (req.encryption_entries_size() > 0 || req.encryption_algorithm() != ::no_algorithm)
    return not_supported("encrypted (LUKS) namespaces are");
  if (backend == "rbd") {
    if (req.rbd_pool_name().empty()) return Answer(rep, EINVAL, prefix + ": missing RBD pool name");
    if (req.rbd_image_name().empty()) return Answer(rep, EINVAL, prefix + ": missing RBD image name");
    for (auto [what, name] : {std::pair<const char*, const std::string*>{"RBD image", &req.rbd_image_name()},
                              {"RADOS namespace", &req.rados_namespace_name()}}) {
      if (Status st = ValidateRbdName(what, *name); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
    }
    if (!req.rbd_data_pool_name().empty() && !req.create_image())
      return Answer(rep, EINVAL, prefix + ": an RBD data pool applies only to an image the gateway creates (create_image)");
    if (req.create_image()) {
      if (Status st = ValidateImageSize(req.size()); !st.ok())
        return Answer(rep, EINVAL, prefix + ": " + (req.size() == 0 ? std::string("image size must be positive") : st.message()));
    }
  } else if (!req.rados_namespace_name().empty() || !req.rbd_data_pool_name().empty()) {
    return Answer(rep, EINVAL, prefix + ": a RADOS namespace or an RBD data pool needs the rbd backend");
  } else if (backend == "memory") {
    if (!req.has_memory_size() || req.memory_size() == 0)
      return Answer(rep, EINVAL, prefix + ": the memory backend needs memory_size (bytes)");
    if (Status st = ValidateBackendSize(req.memory_size(), req.block_size()); !st.ok())
      return Answer(rep, EINVAL, prefix + ": memory size: " + st.message());
  } else if (backend == "file") {
    if (req.file_path().empty() || req.file_path()[0] != '/')
      return Answer(rep, EINVAL, prefix + ": the file backend needs an absolute file_path");
    if (req.has_file_size()) {
      if (Status st = ValidateBackendSize(req.file_size(), req.block_size()); !st.ok())
        return Answer(rep, EINVAL, prefix + ": file size: " + st.message());
    }
  } else {
    return Answer(rep, EINVAL, prefix + ": unknown backend \"" + backend + "\" (rbd, memory or file)");
  }

  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (req.has_nsid() && req.nsid() != 0 && s->HasNamespace(req.nsid()))
    return Answer(rep, EEXIST, "Failure adding namespace, NSID " + Str(req.nsid()) + " is already in use");
  // Before the device is opened (an image created for nothing otherwise).
  if (Status st = target_->CheckNamespaceLimits(nqn, req.has_nsid() ? req.nsid() : 0); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (!req.has_uuid() || req.uuid().empty()) {
    req.set_uuid(UuidToString(RandomUuid()));
  } else {
    Uuid u;
    ParseUuid(req.uuid(), &u);
    if (s->NamespaceWithUuid(u))
      return Answer(rep, EEXIST, "Failure adding namespace, UUID " + req.uuid() + " is already in use");
  }
  uint32_t anagrpid = static_cast<uint32_t>(req.anagrpid());
  // With HA, only groups a gateway can own; without a group, the least loaded of them.
  const std::set<uint32_t> lb_groups = lb_.groups ? lb_.groups() : std::set<uint32_t>{};
  // Without a group under HA: the least loaded, counted again on the group state under its
  // lock when the namespace is stored (this gateway may not have applied other adds yet).
  const bool least_loaded = anagrpid == 0 && !lb_groups.empty();
  if (anagrpid == 0) {
    anagrpid = lb_groups.empty() ? opts_.load_balancing_group : LeastLoadedGroup(LbNamespaces(state_), lb_groups);
  } else {
    if (lb_.groups && !lb_groups.count(anagrpid))
      return Answer(rep, ENODEV, prefix + ": Load balancing group " + Str(anagrpid) + " doesn't exist");
    if (anagrpid > s->spec().max_namespaces)
      return Answer(rep, EINVAL, prefix + ": Group ID " + Str(anagrpid) + " is bigger than configured maximum " +
                                     Str(s->spec().max_namespaces));
    if (anagrpid > target_->options().anagrpmax)
      return Answer(rep, ENODEV, prefix + ": Load balancing group " + Str(anagrpid) + " doesn't exist");
  }
  auto image_used = [&](const std::string& used) -> Status {
    std::string what = "RBD image " + image_path +
                       " is already used by a namespace in subsystem " + used;
    if (req.force()) {
      LOG_WARN("%s, will continue as the \"force\" argument was used", what.c_str());
      return Status::OK();
    }
    return Status::Error(errc::kImageInUse, what + ", either delete the namespace or use the \"force\" argument,\nyou can "
                                        "find the offending namespace by using the \"namespace list --subsystem " +
                                 used + "\" CLI command");
  };
  if (backend == "rbd") {
    const std::string used = ImageUsedBy(image_path);
    if (!used.empty()) {
      if (Status st = image_used(used); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    }
  }
  // NSIDs the group has (other gateways may have added namespaces this one has not applied yet).
  const bool auto_nsid = !req.has_nsid() || req.nsid() == 0;
  // The group's NSIDs: this gateway's state, or a fresh read after a conflict (no copy).
  StateMap fresh_group;
  const StateMap* group = &state_;
  uint32_t nsid = 0;
  for (int attempt = 0;; attempt++) {
    if (auto_nsid) {
      uint32_t n = 1;
      while (s->HasNamespace(n) || group->count(NamespaceKey(nqn, n))) n++;
      req.set_nsid(n);
    }
    auto added = AddNamespaceToTarget(req, anagrpid);
    if (!added.ok()) return Answer(rep, ToErrno(added.status()), prefix + ": " + added.status().message());
    nsid = added.value();
    if (attempt == 0) {
      // Only an image this open created is the gateway's own (kept as create_image); only
      // such an image may go to the RBD trash on delete.
      auto ns = s->GetNamespace(nsid);
      const bool created = ns && ns->dev().info().created;
      if (req.create_image() && !created) req.set_create_image(false);
      if (req.trash_image() && !created) {
        if (backend == "rbd")
          LOG_WARN("Notice that as image %s was created outside the gateway it won't get trashed on namespace deletion",
                   image_path.c_str());
        req.set_trash_image(false);
      }
    }
    req.set_nsid(nsid);
    req.set_anagrpid(static_cast<int32_t>(anagrpid));
    bool nsid_taken = false;
    auto check = [&](const StateMap& cur) -> Status {
      if (cur.count(NamespaceKey(nqn, nsid))) {
        nsid_taken = true;
        return Status::Error(errc::kNsidInUse, "NSID " + Str(nsid) + " is already in use");
      }
      const std::string p = StateKeyPrefix(StateKeyKind::kNamespace, nqn);
      Status result;
      ForEachNamespaceKey(cur, [&](const std::string& k, const std::string& v) {
        const NsInfo& o = NamespaceInfo(k, v);
        if (!o.parsed) return true;
        if (o.uuid == req.uuid() && StartsWith(k, p)) {
          result = Status::Error(errc::kUuidInUse, "UUID " + req.uuid() + " is already in use");
          return false;
        }
        if (backend == "rbd" && o.rbd && o.image == image_path) {
          if (Status st = image_used(o.nqn); !st.ok()) {
            result = st;
            return false;
          }
        }
        return true;
      });
      return result;
    };
    bool conflict = false;
    Status st = PersistComputed(
        [&](const StateMap& cur, StateMap* puts, std::vector<std::string>*) -> Status {
          if (Status c = check(cur); !c.ok()) return c;
          if (least_loaded) {
            anagrpid = LeastLoadedGroup(LbNamespaces(cur), lb_groups);
            req.set_anagrpid(static_cast<int32_t>(anagrpid));
          }
          (*puts)[NamespaceKey(nqn, nsid)] = RequestToJson(req);
          return Status::OK();
        },
        &conflict);
    if (st.ok()) {
      if (least_loaded) {
        LOG_INFO("namespace %u of %s: load balancing group %u, the least loaded", nsid, nqn.c_str(), anagrpid);
        auto ns = s->GetNamespace(nsid);
        if (ns && ns->anagrpid() != anagrpid) {
          if (Status g = target_->SetNamespaceAnaGroup(nqn, nsid, anagrpid); !g.ok())
            LOG_WARN("namespace %u of %s: ANA group %u: %s", nsid, nqn.c_str(), anagrpid, g.ToString().c_str());
        }
      }
      break;
    }
    target_->RemoveNamespace(nqn, nsid);
    if (conflict && nsid_taken && auto_nsid && attempt < 16 && store_) {
      // Another gateway took this NSID meanwhile: choose again from the group's state.
      uint64_t v;
      auto fresh = store_->ReadAll(&v);
      if (fresh.ok()) fresh_group = fresh.value();
      else if (group == &state_) fresh_group = state_;
      fresh_group[NamespaceKey(nqn, nsid)] = "";
      group = &fresh_group;
      continue;
    }
    if (conflict) {
      if (nsid_taken) return Answer(rep, EEXIST, "Failure adding namespace, NSID " + Str(nsid) + " is already in use");
      return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    }
    return Answer(rep, EINVAL, "Error persisting namespace " + Str(nsid) + " on " + nqn + ": " + st.message());
  }
  rep->set_nsid(nsid);
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_delete(SC* ctx, const namespace_delete_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure deleting namespace, missing NSID");
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  LOG_INFO("Received request to delete namespace %u from %s%s", req->nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  const std::string prefix = "Failure deleting namespace " + Str(req->nsid()) + " from " + nqn;
  if (IsDiscoveryNqn(nqn)) return Answer(rep, EINVAL, prefix + ": Can't remove a namespace from a discovery subsystem");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  std::weak_ptr<Namespace> ns = s->GetNamespace(req->nsid());
  const bool in_target = !ns.expired();
  auto stored = state_.find(NamespaceKey(nqn, req->nsid()));
  if (!in_target && stored == state_.end()) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  namespace_add_req add;
  const bool trash = stored != state_.end() && JsonToRequest(stored->second, &add).ok() && ImageTrashedOnDelete(add);
  if (trash && !req->i_am_sure()) return Answer(rep, EINVAL, prefix + ": " + TrashConfirmationNeeded(nqn, req->nsid()));
  if (Status st = Persist({}, NamespaceKeys(nqn, req->nsid())); !st.ok())
    return Answer(rep, EINVAL, "Error persisting removing of namespace " + Str(req->nsid()) + " from " + nqn + ": " +
                                   st.message());
  if (in_target) {
    if (Status st = target_->RemoveNamespace(nqn, req->nsid()); !st.ok())
      return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  }
  if (trash) TrashImageOfDeleted(add, ns);
  return Ok(rep);
}

::grpc::Status GatewayService::list_namespaces(SC* ctx, const list_namespaces_req* req, namespaces_info* rep) {
  LOG_DEBUG("Received request to list namespaces of %s%s", req->subsystem().c_str(), PeerMsg(ctx).c_str());
  rep->set_subsystem_nqn(req->subsystem());
  if (req->subsystem().empty()) return Answer(rep, EINVAL, "Failure listing namespaces, missing subsystem NQN");
  // "*": the namespaces of every subsystem (each says its own in ns_subsystem_nqn).
  std::vector<std::pair<std::string, NamespaceView>> listed;
  if (req->subsystem() == "*") {
    for (const auto& s : target_->Subsystems()) {
      if (s->is_discovery()) continue;
      for (auto& ns : s->View().namespaces) listed.emplace_back(s->nqn(), std::move(ns));
    }
  } else {
    auto s = target_->FindSubsystem(req->subsystem());
    if (!s || s->is_discovery())
      return Answer(rep, ENOENT, "Failure listing namespaces: No such subsystem " + req->subsystem());
    for (auto& ns : s->View().namespaces) listed.emplace_back(s->nqn(), std::move(ns));
  }
  std::lock_guard<std::mutex> lk(mu_);  // state_: the flags kept in the stored requests
  for (const auto& [nqn, ns] : listed) {
    if (req->has_nsid() && req->nsid() && req->nsid() != ns.nsid) continue;
    const std::string uuid = UuidToString(ns.uuid);
    if (req->has_uuid() && !req->uuid().empty() && req->uuid() != uuid) continue;
    auto* n = rep->add_namespaces();
    n->set_nsid(ns.nsid);
    n->set_bdev_name(BdevName(ns.uuid));
    n->set_rbd_image_name(ns.spec.rbd_image);
    n->set_rbd_pool_name(ns.spec.rbd_pool);
    n->set_load_balancing_group(ns.anagrpid);
    n->set_block_size(ns.block_size);
    n->set_rbd_image_size(ns.size_bytes);
    n->set_uuid(uuid);
    n->set_rw_ios_per_second(ns.qos.rw_ios_per_second);
    n->set_rw_mbytes_per_second(ns.qos.rw_mbytes_per_second);
    n->set_r_mbytes_per_second(ns.qos.r_mbytes_per_second);
    n->set_w_mbytes_per_second(ns.qos.w_mbytes_per_second);
    n->set_auto_visible(ns.auto_visible);
    for (auto& h : ns.hosts) n->add_hosts(h);
    if (ns.spec.backend != "rbd") n->set_backend(ns.spec.backend);
    if (ns.spec.backend == "file") n->set_file_path(ns.device_description);
    n->set_ns_subsystem_nqn(nqn);
    n->set_read_only(ns.spec.read_only);
    n->set_image_was_shrunk(ns.image_shrunk);
    if (!ns.spec.rados_namespace.empty()) n->set_rados_namespace_name(ns.spec.rados_namespace);
    auto it = state_.find(NamespaceKey(nqn, ns.nsid));
    namespace_add_req add;
    if (it != state_.end() && JsonToRequest(it->second, &add).ok()) {
      n->set_trash_image(add.trash_image());
      n->set_disable_auto_resize(add.disable_auto_resize());
      if (add.anagrpid() > 0) n->set_configured_load_balancing_group(static_cast<uint32_t>(add.anagrpid()));
      if (!add.location().empty()) n->set_location(add.location());
      if (!add.rbd_data_pool_name().empty()) n->set_rbd_data_pool_name(add.rbd_data_pool_name());
    }
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_resize(SC* ctx, const namespace_resize_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_INFO("Received request to resize namespace %u on %s to %llu MiB%s", req->nsid(), nqn.c_str(),
           static_cast<unsigned long long>(req->new_size()), PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure resizing namespace, missing NSID");
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure resizing namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  const std::string prefix = "Failure resizing namespace " + Str(req->nsid()) + " on " + nqn;
  if (req->new_size() == 0) {
    // The reference's "refresh size": follow the image's current size.
    std::lock_guard<std::mutex> lk(mu_);
    auto s = target_->FindSubsystem(nqn);
    if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
    auto ns = s->GetNamespace(req->nsid());
    if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
    if (Status st = ns->dev().refresh_size(); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
    LOG_INFO("Namespace %u on %s refreshed: %llu bytes", req->nsid(), nqn.c_str(),
             static_cast<unsigned long long>(ns->dev().size()));
    return Ok(rep);
  }
  if (req->new_size() > (UINT64_MAX >> 20)) return Answer(rep, EINVAL, prefix + ": new size is too large");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (!s->HasNamespace(req->nsid())) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  const uint64_t bytes = req->new_size() * kMiB;
  if (Status st = target_->ResizeNamespace(nqn, req->nsid(), bytes); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  // The other gateways follow the image by themselves with auto-resize; without it they
  // need the reference's refresh-size mark (a new time on every resize), which they apply
  // as a refresh of the namespace's size (StateTarget::RefreshNamespaceSize).
  auto stored = state_.find(NamespaceKey(nqn, req->nsid()));
  namespace_add_req add;
  if (stored != state_.end() && JsonToRequest(stored->second, &add).ok() && add.disable_auto_resize()) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    if (Status st = Persist({{NamespaceRefreshSizeKey(nqn, req->nsid()), RefreshSizeValue(now.count())}}, {});
        !st.ok())
      LOG_WARN("namespace %u of %s resized here, but the other gateways were not told to refresh its size: %s",
               req->nsid(), nqn.c_str(), st.ToString().c_str());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_get_io_stats(SC* ctx, const namespace_get_io_stats_req* req,
                                                      namespace_io_stats_info* rep) {
  const std::string& nqn = req->subsystem_nqn();
  LOG_DEBUG("Received request to get IO stats for namespace %u on %s%s", req->nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure getting IO stats for namespace, missing NSID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure getting IO stats for namespace " + Str(req->nsid()) + ", missing subsystem NQN");
  const std::string prefix = "Failure getting IO stats for namespace " + Str(req->nsid()) + " on " + nqn;
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  const NsStats& st = ns->stats();
  rep->set_subsystem_nqn(nqn);
  rep->set_nsid(req->nsid());
  rep->set_uuid(UuidToString(ns->uuid()));
  rep->set_bdev_name(BdevName(ns->uuid()));
  rep->set_tick_rate(1000000000ull);  // ticks are nanoseconds
  rep->set_ticks(NowNs());
  rep->set_bytes_read(st.read_bytes.load());
  rep->set_num_read_ops(st.ReadOps());
  rep->set_bytes_written(st.write_bytes.load());
  rep->set_num_write_ops(st.WriteOps());
  rep->set_num_unmap_ops(st.unmap_ops.load());
  rep->set_read_latency_ticks(st.read_ns.load());
  rep->set_write_latency_ticks(st.write_ns.load());
  if (uint64_t e = st.errors.load()) {
    auto* err = rep->add_io_error();
    err->set_name("errors");
    err->set_value(static_cast<uint32_t>(std::min<uint64_t>(e, UINT32_MAX)));
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_set_qos_limits(SC* ctx, const namespace_set_qos_req* in, req_status* rep) {
  namespace_set_qos_req req = *in;
  const std::string nqn = req.subsystem_nqn();
  LOG_INFO("Received request to set QOS limits for namespace %u on %s%s", req.nsid(), nqn.c_str(), PeerMsg(ctx).c_str());
  if (!req.nsid()) return Answer(rep, EINVAL, "Failure setting QOS limits for namespace, missing NSID");
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure setting QOS limits for namespace " + Str(req.nsid()) + ", missing subsystem NQN");
  const std::string prefix = "Failure setting QOS limits for namespace " + Str(req.nsid()) + " on " + nqn;
  if (!req.has_rw_ios_per_second() && !req.has_rw_mbytes_per_second() && !req.has_r_mbytes_per_second() &&
      !req.has_w_mbytes_per_second())
    return Answer(rep, EINVAL, prefix + ": At least one QOS limit should be set");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->NamespaceInfo(req.nsid());
  if (!ns.ok()) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  // Merge with the limits set before (persisted), like the reference.
  auto prev = state_.find(QosKey(nqn, req.nsid()));
  if (prev != state_.end()) {
    namespace_set_qos_req old;
    if (JsonToRequest(prev->second, &old).ok()) {
      if (!req.has_rw_ios_per_second() && old.has_rw_ios_per_second()) req.set_rw_ios_per_second(old.rw_ios_per_second());
      if (!req.has_rw_mbytes_per_second() && old.has_rw_mbytes_per_second())
        req.set_rw_mbytes_per_second(old.rw_mbytes_per_second());
      if (!req.has_r_mbytes_per_second() && old.has_r_mbytes_per_second()) req.set_r_mbytes_per_second(old.r_mbytes_per_second());
      if (!req.has_w_mbytes_per_second() && old.has_w_mbytes_per_second()) req.set_w_mbytes_per_second(old.w_mbytes_per_second());
    }
  }
  const QosLimits before = ns->qos;
  if (Status st = target_->SetNamespaceQos(nqn, req.nsid(), QosFromRequest(req, before)); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (Status st = Persist({{QosKey(nqn, req.nsid()), RequestToJson(req)}}, {}); !st.ok()) {
    target_->SetNamespaceQos(nqn, req.nsid(), before);
    return Answer(rep, EINVAL, "Error persisting namespace QOS settings " + Str(req.nsid()) + " on " + nqn + ": " +
                                   st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_change_load_balancing_group(
    SC* ctx, const namespace_change_load_balancing_group_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure changing load balancing group for namespace with NSID " + Str(req->nsid()) +
                             " in " + nqn;
  LOG_INFO("Received request to change load balancing group for namespace with NSID %u in %s to %d%s", req->nsid(),
           nqn.c_str(), req->anagrpid(), PeerMsg(ctx).c_str());
  if (nqn.empty())
    return Answer(rep, EINVAL, "Failure changing load balancing group for namespace, missing subsystem NQN");
  if (!req->nsid())
    return Answer(rep, ENODEV, "Failure changing load balancing group for namespace in " + nqn + ": No NSID was given");
  const std::string no_group = prefix + ": Load balancing group " + std::to_string(req->anagrpid()) + " doesn't exist";
  if (req->anagrpid() <= 0 || static_cast<uint32_t>(req->anagrpid()) > target_->options().anagrpmax)
    return Answer(rep, ENODEV, no_group);
  std::lock_guard<std::mutex> lk(mu_);
  if (lb_.groups && !lb_.groups().count(static_cast<uint32_t>(req->anagrpid()))) return Answer(rep, ENODEV, no_group);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->GetNamespace(req->nsid());
  if (!ns) return Answer(rep, ENOENT, prefix + ": Can't find entry for namespace " + Str(req->nsid()) + " in " + nqn);
  const uint32_t old_grp = ns->anagrpid();
  const uint32_t grp = static_cast<uint32_t>(req->anagrpid());
  if (lb_.groups && store_) {
    // A drained hand-over (docs/ha.md, "Load balancing"): the new group and the hand-over
    // record in one version step; every gateway's BalanceStep does the rest.
    const std::string key = NamespaceKey(nqn, req->nsid());
    const std::string ho_key = LbHandoverKey(nqn, req->nsid());
    bool conflict = false;
    uint32_t from = 0;
    Status st = PersistComputed(
        [&](const StateMap& current, StateMap* puts, std::vector<std::string>*) -> Status {
          auto it = current.find(key);
          if (it == current.end())
            return Status::NotFound("Can't find entry for namespace " + Str(req->nsid()) + " in " + nqn);
          if (auto h = current.find(ho_key); h != current.end()) {
            auto ho = ParseLbHandover(h->first, h->second);
            return Status::Busy("namespace is being handed over from load balancing group " +
                                                  Str(ho ? ho->from : 0) + " to " + Str(ho ? ho->to : 0) +
                                                  ", try again when it is done");
          }
          namespace_add_req add;
          if (Status j = JsonToRequest(it->second, &add); !j.ok()) return j;
          from = add.anagrpid() > 0 ? static_cast<uint32_t>(add.anagrpid()) : opts_.load_balancing_group;
          if (from == grp) return Status::OK();
          add.set_anagrpid(req->anagrpid());
          (*puts)[key] = RewriteStateJson(it->second, add);
          (*puts)[ho_key] = LbHandoverJson({nqn, req->nsid(), from, grp});
          return Status::OK();
        },
        &conflict);
    if (!st.ok()) {
      if (conflict) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
      return Answer(rep, EINVAL, "Error persisting namespace load balancing group for namespace with NSID " +
                                     Str(req->nsid()) + " in " + nqn + ": " + st.message());
    }
    if (from != grp)
      LOG_INFO("namespace %u of %s: hand-over from load balancing group %u to %u recorded", req->nsid(), nqn.c_str(),
               from, grp);
    return Ok(rep);
  }
  if (Status st = target_->SetNamespaceAnaGroup(nqn, req->nsid(), grp); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  const std::string key = NamespaceKey(nqn, req->nsid());
  auto it = state_.find(key);
  if (it != state_.end()) {
    namespace_add_req add;
    if (JsonToRequest(it->second, &add).ok()) {
      add.set_anagrpid(req->anagrpid());
      if (Status st = Persist({{key, RewriteStateJson(it->second, add)}}, {}); !st.ok()) {
        target_->SetNamespaceAnaGroup(nqn, req->nsid(), old_grp);
        return Answer(rep, EINVAL, "Error persisting namespace load balancing group for namespace with NSID " +
                                       Str(req->nsid()) + " in " + nqn + ": " + st.message());
      }
    }
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_add_host(SC* ctx, const namespace_add_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix = "Failure adding host " + req->host_nqn() + " to namespace " + Str(req->nsid()) + " on " + nqn;
  LOG_INFO("Received request to add host %s to namespace %u on %s%s", req->host_nqn().c_str(), req->nsid(), nqn.c_str(),
           PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure adding host to namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure adding host to namespace on " + nqn + ", missing NSID");
  if (req->host_nqn() == "*") return Answer(rep, EINVAL, prefix + ": Host NQN can't be \"*\"");
  if (StateKeyElementHasSeparator(req->host_nqn()))
    return Answer(rep, EINVAL, prefix + ": Invalid host NQN \"" + req->host_nqn() + "\", contains invalid characters");
  if (opts_.verify_nqns) {
    if (Status st = ValidateHostNqn(req->host_nqn(), false); !st.ok()) return Answer(rep, EINVAL, prefix + ": " + st.message());
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  if (Status st = NamespaceHostLimit(s, req->nsid()); !st.ok()) return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (Status st = target_->AddNamespaceHost(nqn, req->nsid(), req->host_nqn()); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  if (Status st = Persist({{NamespaceHostKey(nqn, req->nsid(), req->host_nqn()), RequestToJson(*req)}}, {});
      !st.ok()) {
    target_->RemoveNamespaceHost(nqn, req->nsid(), req->host_nqn());
    return Answer(rep, EINVAL, "Error persisting host " + req->host_nqn() + " for namespace " + Str(req->nsid()) + ": " +
                                   st.message());
  }
  return Ok(rep);
}

::grpc::Status GatewayService::namespace_delete_host(SC* ctx, const namespace_delete_host_req* req, req_status* rep) {
  const std::string& nqn = req->subsystem_nqn();
  const std::string prefix =
      "Failure deleting host " + req->host_nqn() + " from namespace " + Str(req->nsid()) + " on " + nqn;
  LOG_INFO("Received request to delete host %s from namespace %u on %s%s", req->host_nqn().c_str(), req->nsid(),
           nqn.c_str(), PeerMsg(ctx).c_str());
  if (nqn.empty()) return Answer(rep, EINVAL, "Failure deleting host from namespace, missing subsystem NQN");
  if (!req->nsid()) return Answer(rep, EINVAL, "Failure deleting host from namespace on " + nqn + ", missing NSID");
  std::lock_guard<std::mutex> lk(mu_);
  auto s = target_->FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Answer(rep, ENOENT, prefix + ": No such subsystem");
  auto ns = s->NamespaceInfo(req->nsid());
  if (!ns.ok()) return Answer(rep, ENODEV, prefix + ": Can't find namespace");
  if (!std::binary_search(ns->hosts.begin(), ns->hosts.end(), req->host_nqn()))
    return Answer(rep, ENOENT, prefix + ": Host is not found in namespace's host list");
  if (Status st = Persist({}, {NamespaceHostKey(nqn, req->nsid(), req->host_nqn())}); !st.ok())
    return Answer(rep, EINVAL, "Error persisting deletion of host " + req->host_nqn() + " for namespace " +
                                   Str(req->nsid()) + ": " + st.message());
  if (Status st = target_->RemoveNamespaceHost(nqn, req->nsid(), req->host_nqn()); !st.ok())
    return Answer(rep, ToErrno(st), prefix + ": " + st.message());
  return Ok(rep);
}

}  // namespace nvmeof::api
