// The frontend path every client mutation takes (validate -> apply to the Target -> persist,
// see service.h): Persist, the state lookups the checks use, the Target steps shared with
// the state backend, and the reply conventions and conversions of service_internal.h.
// Runs on gRPC threads with the RPC lock held (and, for the shared Target steps, on the
// StateFollower's thread with the same lock).
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

namespace {

uint8_t ToNvmeAdrfam(int proto_adrfam) {
  return proto_adrfam == ::ipv6 ? nvme::kAdrfamIpv6 : nvme::kAdrfamIpv4;
}

}  // namespace

// ----------------------------------------------------------------------------- helpers

namespace internal {

std::string PeerMsg(::grpc::ServerContext* ctx) {
  if (!ctx) return "";
  return ", client address: " + ctx->peer();
}

std::string Str(uint32_t v) { return std::to_string(v); }

std::string RbdImagePath(const namespace_add_req& r) {
  return r.rbd_pool_name() + "/" + (r.rados_namespace_name().empty() ? "" : r.rados_namespace_name() + "/") +
         r.rbd_image_name();
}

bool ImageTrashedOnDelete(const namespace_add_req& r) {
  return (!r.has_backend() || r.backend() == "rbd") && r.create_image() && r.trash_image();
}

std::string TrashConfirmationNeeded(const std::string& nqn, uint32_t nsid) {
  return "Confirmation for trashing RBD image is needed.\nIn order to delete the namespace either repeat the command "
         "using the \"--i-am-sure\" parameter,\nor reset the RBD trash image flag using the \"namespace "
         "set_rbd_trash_image \" CLI command on subsystem " +
         nqn + " and NSID " + Str(nsid);
}

std::string KeyAddress(const std::string& traddr) { return EscapeAddressIfIpv6(UnescapeAddress(traddr)); }

std::string KeepConnectedJson(const std::string& nqn, const std::string& host) {
  set_keep_host_connected_req r;
  r.set_subsystem_nqn(nqn);
  r.set_host_nqn(host);
  return RequestToJson(r);
}

void FillListenerInfo(const ListenerSpec& l, const std::string& host_name, listener_info* o) {
  o->set_host_name(host_name);
  o->set_trtype(std::string(kTcpTransportName));
  o->set_adrfam(l.adrfam == nvme::kAdrfamIpv6 ? ::ipv6 : ::ipv4);
  o->set_traddr(KeyAddress(l.traddr));
  o->set_trsvcid(static_cast<uint32_t>(std::strtoul(l.trsvcid.c_str(), nullptr, 10)));
  o->set_secure(l.secure);
}

std::string ListenerStateKey(const std::string& nqn, const std::string& host_name, const std::string& traddr,
                             uint32_t trsvcid) {
  return ListenerKey(nqn, host_name, KeyAddress(traddr), Str(trsvcid));
}

ListenerSpec MakeListenerSpec(const std::string& host_name, const std::string& traddr, uint32_t trsvcid,
                              int proto_adrfam) {
  ListenerSpec l;
  l.host_name = host_name;
  l.traddr = UnescapeAddress(traddr);
  l.trsvcid = std::to_string(trsvcid);
  l.adrfam = ToNvmeAdrfam(proto_adrfam);
  return l;
}

QosLimits QosFromRequest(const namespace_set_qos_req& r, QosLimits base) {
  if (r.has_rw_ios_per_second()) base.rw_ios_per_second = r.rw_ios_per_second();
  if (r.has_rw_mbytes_per_second()) base.rw_mbytes_per_second = r.rw_mbytes_per_second();
  if (r.has_r_mbytes_per_second()) base.r_mbytes_per_second = r.r_mbytes_per_second();
  if (r.has_w_mbytes_per_second()) base.w_mbytes_per_second = r.w_mbytes_per_second();
  return base;
}

}  // namespace internal

// ----------------------------------------------------------------------------- frontend

bool GatewayService::IsLocal(const std::string& host_name) const {
  return host_name == opts_.hostname || host_name == opts_.gateway_name;
}

Status GatewayService::Persist(const StateMap& puts, const std::vector<std::string>& removes, const Check& check,
                               bool* conflict) {
  return PersistComputed(
      [&](const StateMap& current, StateMap* p, std::vector<std::string>* r) -> Status {
        if (check) {
          if (Status c = check(current); !c.ok()) return c;
        }
        *p = puts;
        for (auto& k : removes)
          if (current.count(k)) r->push_back(k);
        return Status::OK();
      },
      conflict);
}

Status GatewayService::PersistComputed(const Compute& fn, bool* conflict) {
  if (conflict) *conflict = false;
  uint64_t version = 0;
  StateMap puts;
  std::vector<std::string> removes;
  if (!store_) {
    if (Status st = fn(state_, &puts, &removes); !st.ok()) {
      if (conflict) *conflict = true;
      return st;
    }
  } else {
    bool fn_failed = false;
    Status st = store_->Mutate(
        [&](const StateMap& current, uint64_t, StateMap* p, std::vector<std::string>* r) -> Status {
          puts.clear();
          removes.clear();
          if (Status c = fn(current, &puts, &removes); !c.ok()) {
            fn_failed = true;
            return c;
          }
          *p = puts;
          *r = removes;
          return Status::OK();
        },
        &version);
    if (!st.ok()) {
      if (conflict) *conflict = fn_failed;
      return st;
    }
  }
  // Hand-over records stay in the store: the applier does not follow them.
  for (auto it = puts.begin(); it != puts.end();) it = StartsWith(it->first, kLbHandoverPrefix) ? puts.erase(it) : ++it;
  removes.erase(std::remove_if(removes.begin(), removes.end(),
                               [](const std::string& k) { return StartsWith(k, kLbHandoverPrefix); }),
                removes.end());
  for (auto& [k, v] : puts) state_[k] = v;
  for (auto& k : removes) state_.erase(k);
  if (follower_) follower_->RecordLocal(puts, removes, version);
  return Status::OK();
}

Status GatewayService::RemoveHandover(const std::string& key, const std::string& value) {
  if (!store_) return Status::OK();
  return store_->Mutate(
      [&](const StateMap& current, uint64_t, StateMap*, std::vector<std::string>* r) -> Status {
        auto it = current.find(key);
        if (it != current.end() && it->second == value) r->push_back(key);
        return Status::OK();
      },
      nullptr);
}

uint32_t GatewayService::StateGroupOf(const std::string& key, const std::string& json) {
  const NsInfo& n = NamespaceInfo(key, json);
  if (!n.parsed) return 0;
  return n.group ? n.group : opts_.load_balancing_group;
}

std::vector<LbNamespace> GatewayService::LbNamespaces(const StateMap& m) {
  std::vector<LbNamespace> out;
  ForEachNamespaceKey(m, [&](const std::string& k, const std::string& v) {
    const NsInfo& n = NamespaceInfo(k, v);
    if (n.parsed && n.nsid) out.push_back({n.nqn, n.nsid, n.group ? n.group : opts_.load_balancing_group});
    return true;
  });
  return out;
}

std::vector<std::string> GatewayService::SubsystemKeys(const std::string& nqn) { return SubsystemItemKeys(state_, nqn); }

std::vector<std::string> GatewayService::NamespaceKeys(const std::string& nqn, uint32_t nsid) {
  return NamespaceItemKeys(state_, nqn, nsid);
}

const GatewayService::NsInfo& GatewayService::NamespaceInfo(const std::string& key, const std::string& json) {
  std::lock_guard<std::mutex> lk(ns_cache_mu_);
  NsInfo& info = ns_cache_[key];
  if (info.json != json || (!info.parsed && !json.empty())) {
    info = NsInfo{};
    info.json = json;
    namespace_add_req r;
    if (JsonToRequest(json, &r).ok()) {
      info.parsed = true;
      info.nqn = r.subsystem_nqn();
      info.uuid = r.uuid();
      info.image = RbdImagePath(r);
      info.rbd = !r.has_backend() || r.backend() == "rbd";
      info.nsid = r.nsid();
      info.group = r.anagrpid() > 0 ? static_cast<uint32_t>(r.anagrpid()) : 0;
    }
  }
  return info;
}

std::string GatewayService::ImageUsedBy(const std::string& image) {
  std::string used;
  ForEachNamespaceKey(state_, [&](const std::string& k, const std::string& v) {
    const NsInfo& r = NamespaceInfo(k, v);
    if (r.parsed && r.rbd && r.image == image) {
      used = r.nqn;
      return false;
    }
    return true;
  });
  return used;
}

Status GatewayService::SubsystemLimit() {
  size_t n = 0;
  for (const auto& s : target_->Subsystems()) n += s->is_discovery() ? 0 : 1;
  return CheckSubsystemLimit(n, opts_.max_subsystems);
}

Status GatewayService::HostLimits(const std::shared_ptr<Subsystem>& s) {
  if (Status st = CheckSubsystemHostLimit(s->View().hosts.size(), opts_.max_hosts_per_subsystem); !st.ok()) return st;
  size_t all = 0;
  for (const auto& o : target_->Subsystems()) all += o->is_discovery() ? 0 : o->View().hosts.size();
  return CheckHostLimit(all, opts_.max_hosts);
}

Status GatewayService::NamespaceHostLimit(const std::shared_ptr<Subsystem>& s, uint32_t nsid) {
  auto ns = s->NamespaceInfo(nsid);
  if (!ns.ok()) return Status::OK();  // the Target's own answer follows
  return CheckNamespaceHostLimit(ns->hosts.size(), opts_.max_hosts_per_namespace);
}

void GatewayService::RemoveSubsystemFromTarget(const std::string& nqn) {
  if (auto_listeners_.erase(nqn)) auto_published_ = false;  // closed with the subsystem
  auto s = target_->FindSubsystem(nqn);
  if (!s) return;
  for (auto& ns : s->Namespaces()) {
    Status st = target_->RemoveNamespace(nqn, ns->nsid());
    if (!st.ok()) LOG_WARN("subsystem %s: removing namespace %u: %s", nqn.c_str(), ns->nsid(), st.ToString().c_str());
  }
  Status st = target_->RemoveSubsystem(nqn, true);
  if (!st.ok()) LOG_WARN("removing subsystem %s: %s", nqn.c_str(), st.ToString().c_str());
}

}  // namespace nvmeof::api
