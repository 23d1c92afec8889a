// The target: subsystems, namespaces, hosts, listeners; runtime changes and the events they
// raise to connected hosts.
#include "gateway/nvmf/target.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "gateway/common/clock.h"
#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/auth_keys.h"
#include "gateway/nvmf/tls_psk.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/transport.h"

namespace nvmeof {

// ----------------------------------------------------------------------------- Target

Target::Target(TargetOptions opts) : opts_(std::move(opts)), ana_(opts_.unset_ana_state) {
  SubsystemSpec d;
  d.nqn = nvme::kDiscoveryNqn;
  d.model = "Ceph NVMe-oF discovery";
  d.allow_any_host = true;
  d.serial = "discovery";
  discovery_ = std::make_shared<Subsystem>(this, d, true);
}

Target::~Target() = default;

std::shared_ptr<Subsystem> Target::FindSubsystemLocked(const std::string& nqn) {
  if (nqn == nvme::kDiscoveryNqn) return discovery_;
  auto it = subsystems_.find(nqn);
  return it == subsystems_.end() ? nullptr : it->second;
}

std::shared_ptr<Subsystem> Target::FindSubsystem(const std::string& nqn) {
  std::lock_guard<std::mutex> lk(mu_);
  return FindSubsystemLocked(nqn);
}

std::vector<std::shared_ptr<Subsystem>> Target::Subsystems() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Subsystem>> v;
  for (auto& [n, s] : subsystems_) v.push_back(s);
  return v;
}

size_t Target::DisconnectAll(const char* reason, uint64_t timeout_ns) {
  auto left = [this] {
    size_t n = 0;
    for (auto& s : Subsystems()) n += s->Controllers().size();
    return n;
  };
  for (auto& s : Subsystems())
    for (auto& c : s->Controllers()) c->Shutdown(reason);
  const uint64_t deadline = NowNs() + timeout_ns;
  size_t n = left();
  while (n > 0 && NowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    n = left();
  }
  if (n > 0) LOG_WARN("%zu controller(s) still connected after %llu ms (%s)", n,
                      static_cast<unsigned long long>(timeout_ns / 1000000), reason);
  return n;
}

Status Target::AddSubsystem(const SubsystemSpec& spec) {
  if (spec.nqn.empty() || spec.nqn.size() > 223)
    return Status::Error(nvmf::errc::kInvalidNqn, "subsystem NQN must be 1 to 223 characters");
  if (spec.nqn == nvme::kDiscoveryNqn)
    return Status::Error(nvmf::errc::kInvalidNqn, "the discovery NQN cannot be used as a subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  if (subsystems_.count(spec.nqn)) return Status::Error(nvmf::errc::kSubsystemExists, "subsystem " + spec.nqn + " already exists");
  SubsystemSpec s = spec;
  if (s.serial.empty()) s.serial = RandomSerialNumber();
  if (s.max_namespaces == 0) s.max_namespaces = 1024;
  subsystems_[s.nqn] = std::make_shared<Subsystem>(this, s, false);
  LOG_INFO("subsystem %s created (serial %s, max namespaces %u, %s)", s.nqn.c_str(), s.serial.c_str(),
           s.max_namespaces, s.allow_any_host ? "any host allowed" : "host list");
  DiscoveryChanged();
  return Status::OK();
}

Status Target::RemoveSubsystem(const std::string& nqn, bool force) {
  std::shared_ptr<Subsystem> s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = FindSubsystemLocked(nqn);
    if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
    if (!force && s->namespace_count() > 0)
      return Status::Error(nvmf::errc::kSubsystemHasNamespaces, "subsystem " + nqn + " still has namespaces; remove them first or use force");
    subsystems_.erase(nqn);
    if (auto p = peer_listeners_.find(nqn); p != peer_listeners_.end()) {
      for (auto& k : p->second) DropPeerListenerLocked(k);
      peer_listeners_.erase(p);
    }
  }
  for (auto& c : s->Controllers()) c->Shutdown("subsystem deleted");
  std::set<ListenerSpec> ls;
  size_t removed_namespaces;
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    ls = s->listeners_;
    s->listeners_.clear();
    removed_namespaces = s->namespaces_.size();
    for (auto& [nsid, ns] : s->namespaces_) ReleaseIoSlot(*ns);
    s->namespaces_.clear();
    s->BumpGeneration();
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& l : ls) ClosePortIfUnused(l);
  }
  total_namespaces_.fetch_sub(static_cast<uint32_t>(removed_namespaces));
  LOG_INFO("subsystem %s deleted", nqn.c_str());
  DiscoveryChanged();
  return Status::OK();
}

namespace {

// The namespace limits; nsid 0: not chosen yet.
Status NamespaceLimits(uint32_t gateway_namespaces, uint32_t gateway_max, size_t subsystem_namespaces,
                       uint32_t subsystem_max, uint32_t nsid) {
  if (nsid > subsystem_max)
    return Status::Error(nvmf::errc::kNsidOutOfRange, "Requested ID " + std::to_string(nsid) +
                                                          " is bigger than the maximal one (" +
                                                          std::to_string(subsystem_max) + ")");
  if (subsystem_namespaces >= subsystem_max)
    return Status::Error(nvmf::errc::kTooManyNamespaces, "Subsystem's maximal number of namespaces (" +
                                                             std::to_string(subsystem_max) +
                                                             ") has already been reached");
  if (gateway_namespaces >= gateway_max)
    return Status::Error(nvmf::errc::kTooManyNamespaces, "Maximal number of namespaces (" +
                                                             std::to_string(gateway_max) +
                                                             ") has already been reached");
  return Status::OK();
}

}  // namespace

Status Target::CheckNamespaceLimits(const std::string& nqn, uint32_t nsid) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  std::lock_guard<std::mutex> lk(s->mu_);
  return NamespaceLimits(total_namespaces_.load(), opts_.max_namespaces_per_gateway, s->namespaces_.size(),
                         s->spec().max_namespaces, nsid);
}

Result<uint32_t> Target::AddNamespace(const std::string& nqn, const NamespaceSpec& spec,
                                      std::unique_ptr<BlockDevice> dev) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  if (spec.block_size != 512 && spec.block_size != 4096)
    return Status::Error(nvmf::errc::kBadBlockSize, "block size must be 512 or 4096, not " + std::to_string(spec.block_size));
  if (!dev) return Status::Error(nvmf::errc::kBadDevice, "no device");
  if (dev->size() < spec.block_size)
    return Status::Error(nvmf::errc::kBadDevice, "device is smaller than one block");
  uint32_t nsid;
  std::shared_ptr<Namespace> ns;
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    nsid = spec.nsid;
    if (nsid == 0 && s->namespaces_.size() < s->spec().max_namespaces) {
      nsid = 1;
      while (s->NsidUsedLocked(nsid)) nsid++;
    }
    if (Status st = NamespaceLimits(total_namespaces_.load(), opts_.max_namespaces_per_gateway, s->namespaces_.size(),
                                    s->spec().max_namespaces, nsid);
        !st.ok())
      return st;
    if (s->NsidUsedLocked(nsid))
      return Status::Error(nvmf::errc::kNsidInUse, "NSID " + std::to_string(nsid) + " is already in use in " + nqn);
    // Without a UUID from the caller, derive one from what the namespace is: the same
    // configuration yields the same identity after a restart.
    Uuid uuid = spec.uuid ? *spec.uuid
                          : NameUuid(nqn + "|" + std::to_string(nsid) + "|" + dev->info().kind + "|" +
                                     dev->info().description + "|" + std::to_string(spec.block_size));
    if (uint32_t id = s->UuidUserLocked(uuid))
      return Status::Error(nvmf::errc::kUuidInUse, "UUID " + UuidToString(uuid) + " is already in use by NSID " + std::to_string(id));
    ns = std::make_shared<Namespace>(nsid, spec, uuid, std::move(dev));
    if (Status st = AllocateIoSlot(*ns); !st.ok()) return st;
    s->namespaces_[nsid] = ns;
    s->BumpGeneration();
  }
  total_namespaces_.fetch_add(1);
  Subsystem* sp = s.get();
  std::weak_ptr<Subsystem> ws = s;
  ns->dev().set_resize_callback([this, ws, nsid](uint64_t size) {
    if (auto s2 = ws.lock()) {
      LOG_INFO("subsystem %s namespace %u: size changed to %llu bytes", s2->nqn().c_str(), nsid,
               static_cast<unsigned long long>(size));
      NotifyNamespaceChanged(*s2, nsid);
    }
  });
  LOG_INFO("subsystem %s namespace %u added (%s %s, %llu bytes, block size %u, UUID %s)", nqn.c_str(), nsid,
           ns->dev().info().kind.c_str(), ns->dev().info().description.c_str(),
           static_cast<unsigned long long>(ns->dev().size()), ns->block_size(), UuidToString(ns->uuid()).c_str());
  NotifyNamespaceChanged(*sp, nsid);
  return nsid;
}

Status Target::RemoveNamespace(const std::string& nqn, uint32_t nsid) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    auto it = s->namespaces_.find(nsid);
    if (it == s->namespaces_.end())
      return Status::Error(nvmf::errc::kNamespaceNotFound, "namespace " + std::to_string(nsid) + " does not exist in " + nqn);
    ReleaseIoSlot(*it->second);
    s->namespaces_.erase(it);
    s->BumpGeneration();
  }
  total_namespaces_.fetch_sub(1);
  LOG_INFO("subsystem %s namespace %u removed", nqn.c_str(), nsid);
  NotifyNamespaceChanged(*s, nsid);
  return Status::OK();
}

Status Target::ResizeNamespace(const std::string& nqn, uint32_t nsid, uint64_t new_size) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  auto ns = s->GetNamespace(nsid);
  if (!ns) return Status::Error(nvmf::errc::kNamespaceNotFound, "namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  if (new_size < ns->dev().size())
    return Status::Error(nvmf::errc::kShrinkRefused, "new size " + std::to_string(new_size) + " bytes is smaller than current size " +
                                   std::to_string(ns->dev().size()) + " bytes");
  if (new_size == ns->dev().size()) return Status::OK();
  // The device's resize callback raises the notice.
  return ns->dev().resize(new_size);
}

Status Target::SetNamespaceAnaGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid) {
  if (anagrpid == 0 || anagrpid > opts_.anagrpmax)
    return Status::Error(nvmf::errc::kBadAnaGroupId, "ANA group must be 1 to " + std::to_string(opts_.anagrpmax));
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  auto ns = s->GetNamespace(nsid);
  if (!ns) return Status::Error(nvmf::errc::kNamespaceNotFound, "namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  ns->anagrpid_.store(anagrpid);
  s->BumpGeneration();
  NotifyAnaChanged(*s);
  return Status::OK();
}

Status Target::WithNamespaceLocked(const std::string& nqn, uint32_t nsid,
                                   const std::function<Status(Subsystem&, Namespace&)>& fn,
                                   std::shared_ptr<Subsystem>* subsystem) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  if (subsystem) *subsystem = s;
  std::lock_guard<std::mutex> lk(s->mu_);
  auto it = s->namespaces_.find(nsid);
  if (it == s->namespaces_.end())
    return Status::Error(nvmf::errc::kNamespaceNotFound, "namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  return fn(*s, *it->second);
}

Status Target::AddNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  std::shared_ptr<Subsystem> s;
  Status st = WithNamespaceLocked(nqn, nsid, [&](Subsystem& sub, Namespace& ns) {
    if (ns.auto_visible())
      return Status::Error(nvmf::errc::kNamespaceAutoVisible, "namespace " + std::to_string(nsid) +
                                     " is visible to all hosts (it was not added with no_auto_visible)");
    if (!ns.hosts_.emplace(host, HostEntry{host, {}, {}, {}}).second)
      return Status::Error(nvmf::errc::kNamespaceHostExists, "host " + host + " already sees namespace " + std::to_string(nsid));
    sub.BumpGeneration();
    return Status::OK();
  }, &s);
  if (st.ok()) NotifyNamespaceChanged(*s, nsid);
  return st;
}

Status Target::SetNamespaceVisibility(const std::string& nqn, uint32_t nsid, bool auto_visible) {
  std::shared_ptr<Subsystem> s;
  bool changed = false;
  Status st = WithNamespaceLocked(nqn, nsid, [&](Subsystem& sub, Namespace& ns) {
    if (ns.spec_.auto_visible == auto_visible) return Status::OK();
    ns.spec_.auto_visible = auto_visible;
    if (auto_visible) ns.hosts_.clear();
    sub.BumpGeneration();
    changed = true;
    return Status::OK();
  }, &s);
  if (st.ok() && changed) NotifyNamespaceChanged(*s, nsid);
  return st;
}

Status Target::RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  std::shared_ptr<Subsystem> s;
  Status st = WithNamespaceLocked(nqn, nsid, [&](Subsystem& sub, Namespace& ns) {
    if (!ns.hosts_.erase(host))
      return Status::Error(nvmf::errc::kNamespaceHostNotFound, "host " + host + " was not given namespace " + std::to_string(nsid));
    sub.BumpGeneration();
    return Status::OK();
  }, &s);
  if (st.ok()) NotifyNamespaceChanged(*s, nsid);
  return st;
}

Status Target::SetNamespaceQos(const std::string& nqn, uint32_t nsid, const QosLimits& q) {
  return WithNamespaceLocked(nqn, nsid, [&](Subsystem&, Namespace& ns) { return ApplyQos(nqn, ns, q); }, nullptr);
}

Status Target::ApplyQos(const std::string& nqn, Namespace& ns, const QosLimits& q) {
  uint32_t nsid = ns.nsid();
  ns.qos_ = q;
  QosLimiters& l = ns.limiters();
  l.rw_ios.Set(q.rw_ios_per_second);
  l.rw_bytes.Set(q.rw_mbytes_per_second << 20);
  l.r_bytes.Set(q.r_mbytes_per_second << 20);
  l.w_bytes.Set(q.w_mbytes_per_second << 20);
  l.active.store(q.any());
  LOG_INFO("subsystem %s namespace %u: QoS rw_ios_per_second=%llu rw_mbytes_per_second=%llu "
           "r_mbytes_per_second=%llu w_mbytes_per_second=%llu", nqn.c_str(), nsid,
           (unsigned long long)q.rw_ios_per_second, (unsigned long long)q.rw_mbytes_per_second,
           (unsigned long long)q.r_mbytes_per_second, (unsigned long long)q.w_mbytes_per_second);
  return Status::OK();
}

namespace {

// DH-HMAC-CHAP keys must parse; a controller key needs a host key (bidirectional
// authentication follows a host's own).
Status CheckHostKeys(const HostEntry& h) {
  if (h.dhchap_ctrlr_key && !h.dhchap_key)
    return Status::InvalidArgument("host " + h.nqn + ": a DH-HMAC-CHAP controller key needs a host key");
  for (const auto* k : {&h.dhchap_key, &h.dhchap_ctrlr_key}) {
    if (!*k) continue;
    if (h.nqn == "*") return Status::InvalidArgument("keys need a host NQN, not \"*\"");
    auto parsed = auth::ParseDhchapSecret(**k);
    if (!parsed.ok()) return Status::InvalidArgument("host " + h.nqn + ": " + parsed.status().message());
  }
  if (h.psk) {
    if (h.nqn == "*") return Status::InvalidArgument("keys need a host NQN, not \"*\"");
    auto parsed = tls::ParsePskInterchange(*h.psk);
    if (!parsed.ok()) return Status::InvalidArgument("host " + h.nqn + ": " + parsed.status().message());
  }
  return Status::OK();
}

}  // namespace

Status Target::AddHost(const std::string& nqn, const std::string& hostnqn) {
  return AddHost(nqn, HostEntry{hostnqn, {}, {}, {}});
}

Status Target::AddHost(const std::string& nqn, const HostEntry& host) {
  const std::string& hostnqn = host.nqn;
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  if (Status k = CheckHostKeys(host); !k.ok()) return k;
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    if (hostnqn == "*") {
      if (s->allow_any_host_) return Status::Error(nvmf::errc::kAnyHostAlreadyAllowed, "subsystem " + nqn + " already allows any host");
      s->allow_any_host_ = true;
    } else if (!s->hosts_.emplace(hostnqn, host).second) {
      return Status::Error(nvmf::errc::kHostExists, "host " + hostnqn + " is already allowed on " + nqn);
    }
  }
  LOG_INFO("subsystem %s: host %s allowed", nqn.c_str(), hostnqn.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::ChangeHostKeys(const std::string& nqn, const HostEntry& host) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  if (Status k = CheckHostKeys(host); !k.ok()) return k;
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    auto it = s->hosts_.find(host.nqn);
    if (it == s->hosts_.end()) return Status::Error(nvmf::errc::kHostNotAllowed, "host " + host.nqn + " is not allowed on " + nqn);
    it->second = host;
  }
  LOG_INFO("subsystem %s: host %s keys changed (DH-HMAC-CHAP %s%s, PSK %s)", nqn.c_str(), host.nqn.c_str(),
           host.dhchap_key ? "set" : "none", host.dhchap_ctrlr_key ? ", controller key set" : "",
           host.psk ? "set" : "none");
  return Status::OK();
}

Status Target::SetKeepHostConnected(const std::string& nqn, const std::string& hostnqn) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    if (!s->hosts_.count(hostnqn))
      return Status::Error(nvmf::errc::kHostNotAllowed, "host " + hostnqn + " is not allowed on " + nqn);
    s->keep_connected_.insert(hostnqn);
  }
  LOG_INFO("subsystem %s: host %s keeps its connections when removed", nqn.c_str(), hostnqn.c_str());
  return Status::OK();
}

Status Target::RemoveHost(const std::string& nqn, const std::string& hostnqn, bool keep_connections) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    if (s->keep_connected_.erase(hostnqn)) keep_connections = true;
    if (hostnqn == "*") {
      if (!s->allow_any_host_) return Status::Error(nvmf::errc::kAnyHostNotAllowed, "subsystem " + nqn + " does not allow any host");
      s->allow_any_host_ = false;
    } else if (!s->hosts_.erase(hostnqn)) {
      return Status::Error(nvmf::errc::kHostNotAllowed, "host " + hostnqn + " is not allowed on " + nqn);
    }
  }
  // Existing controllers of a host no longer allowed are disconnected, or kept.
  if (!keep_connections) {
    for (auto& c : s->Controllers()) {
      if (!s->HostAllowed(c->hostnqn())) c->Shutdown("host access revoked");
    }
  }
  LOG_INFO("subsystem %s: host %s removed%s", nqn.c_str(), hostnqn.c_str(),
           keep_connections ? " (its connections are kept)" : "");
  DiscoveryChanged();
  return Status::OK();
}

Status Target::OpenPort(const ListenerSpec& l) {
  auto it = ports_.find(l);
  if (it != ports_.end()) {
    // One port is TLS or plain for all its subsystems.
    if (it->first.secure != l.secure)
      return Status::InvalidArgument("port " + l.traddr + ":" + l.trsvcid + " is already open " +
                                     (it->first.secure ? "secure (TLS)" : "without TLS") + " for another subsystem");
    it->second.users++;
    return Status::OK();
  }
  uint16_t portid = next_portid_++;
  if (transports_) {
    Status st = transports_->Listen(l, portid);
    if (!st.ok()) return st;
  }
  ports_[l] = Port{portid, 1, false};
  return Status::OK();
}

void Target::ClosePortIfUnused(const ListenerSpec& l) {
  auto it = ports_.find(l);
  if (it == ports_.end()) return;
  if (--it->second.users > 0) return;
  if (transports_) transports_->StopListening(l);
  ports_.erase(it);
}

Status Target::AddListener(const std::string& nqn, const ListenerSpec& l) {
  std::lock_guard<std::mutex> lk(mu_);
  auto s = FindSubsystemLocked(nqn);
  if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk2(s->mu_);
    if (s->listeners_.count(l))
      return Status::Error(nvmf::errc::kListenerExists, "listener " + l.traddr + ":" + l.trsvcid + " already exists on " + nqn);
  }
  Status st = OpenPort(l);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lk2(s->mu_);
    s->listeners_.insert(l);
  }
  LOG_INFO("subsystem %s: listener %s:%s added", nqn.c_str(), l.traddr.c_str(), l.trsvcid.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::RemoveListener(const std::string& nqn, const ListenerSpec& l) {
  std::shared_ptr<Subsystem> s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = FindSubsystemLocked(nqn);
    if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
    {
      std::lock_guard<std::mutex> lk2(s->mu_);
      if (!s->listeners_.erase(l))
        return Status::Error(nvmf::errc::kListenerNotFound, "listener " + l.traddr + ":" + l.trsvcid + " does not exist on " + nqn);
    }
    ClosePortIfUnused(l);
  }
  // Controllers connected through that listener lose their path.
  for (auto& c : s->Controllers()) {
    if (l.Serves(c->port())) c->Shutdown("listener removed");
  }
  LOG_INFO("subsystem %s: listener %s:%s removed", nqn.c_str(), l.traddr.c_str(), l.trsvcid.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::AddDiscoveryListener(const ListenerSpec& l) {
  std::lock_guard<std::mutex> lk(mu_);
  Status st = OpenPort(l);
  if (!st.ok()) return st;
  ports_[l].discovery_listener = true;
  return Status::OK();
}

Status Target::AddPeerListener(const std::string& nqn, const ListenerSpec& l) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto s = FindSubsystemLocked(nqn);
    if (!s || s->is_discovery()) return Status::Error(nvmf::errc::kSubsystemNotFound, "subsystem " + nqn + " does not exist");
    PeerKey k{l.host_name, l};
    if (!peer_listeners_[nqn].insert(k).second)
      return Status::Error(nvmf::errc::kListenerExists, "listener " + l.traddr + ":" + l.trsvcid + " of gateway " +
                                                            l.host_name + " already exists on " + nqn);
    auto [it, added] = peer_ports_.try_emplace(k, Port{0, 0, false});
    if (added) it->second.portid = next_portid_++;
    it->second.users++;
  }
  LOG_INFO("subsystem %s: listener %s:%s of gateway %s listed for discovery", nqn.c_str(), l.traddr.c_str(),
           l.trsvcid.c_str(), l.host_name.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::RemovePeerListener(const std::string& nqn, const ListenerSpec& l) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    PeerKey k{l.host_name, l};
    auto p = peer_listeners_.find(nqn);
    if (p == peer_listeners_.end() || !p->second.erase(k))
      return Status::Error(nvmf::errc::kListenerNotFound, "listener " + l.traddr + ":" + l.trsvcid + " of gateway " +
                                                              l.host_name + " does not exist on " + nqn);
    if (p->second.empty()) peer_listeners_.erase(p);
    DropPeerListenerLocked(k);
  }
  LOG_INFO("subsystem %s: listener %s:%s of gateway %s no longer listed", nqn.c_str(), l.traddr.c_str(),
           l.trsvcid.c_str(), l.host_name.c_str());
  DiscoveryChanged();
  return Status::OK();
}

void Target::DropPeerListenerLocked(const PeerKey& k) {
  auto it = peer_ports_.find(k);
  if (it != peer_ports_.end() && --it->second.users <= 0) peer_ports_.erase(it);
}

std::vector<std::pair<ListenerSpec, uint16_t>> Target::PeerListeners(const std::string& nqn) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<ListenerSpec, uint16_t>> v;
  auto p = peer_listeners_.find(nqn);
  if (p == peer_listeners_.end()) return v;
  for (auto& k : p->second) {
    auto it = peer_ports_.find(k);
    v.push_back({k.second, it == peer_ports_.end() ? uint16_t{0} : it->second.portid});
  }
  return v;
}

std::vector<std::pair<ListenerSpec, uint16_t>> Target::Ports() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<ListenerSpec, uint16_t>> v;
  for (auto& [l, p] : ports_) v.push_back({l, p.portid});
  return v;
}

std::vector<ConnectionInfo> Target::Connections(const std::string& nqn) {
  std::vector<ConnectionInfo> v;
  auto s = FindSubsystem(nqn);
  if (!s) return v;
  for (auto& c : s->Controllers()) {
    ConnectionInfo ci;
    ci.hostnqn = c->hostnqn();
    ci.cntlid = c->cntlid();
    ci.traddr = c->port().traddr;
    ci.trsvcid = c->port().trsvcid;
    ci.num_io_queues = static_cast<uint32_t>(c->io_queue_count());
    ci.peer = c->peer();
    ci.host_allowed = s->HostAllowed(ci.hostnqn);
    ci.secure = c->port().secure;
    v.push_back(ci);
  }
  return v;
}

bool Target::HasConnectionsThrough(const std::string& nqn, const ListenerSpec& l) {
  auto s = FindSubsystem(nqn);
  if (!s) return false;
  for (auto& c : s->Controllers())
    if (l.Serves(c->port())) return true;
  return false;
}

void Target::NotifyNamespaceChanged(Subsystem& s, uint32_t nsid) {
  for (auto& c : s.Controllers()) {
    c->AddChangedNs(nsid);
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock()) c2->RaiseEvent(nvme::kAerNotice, nvme::kAenNsAttrChanged, nvme::kLogChangedNsList);
      });
  }
}

Result<TlsPsk> Target::TlsPskFor(std::string_view identity) {
  auto id = tls::ParsePskIdentity(identity);
  if (!id.ok()) return id.status();
  // The discovery subsystem has no hosts of its own: a host reaches it with the PSK it has
  // for any subsystem.
  std::vector<std::shared_ptr<Subsystem>> candidates;
  if (id->subnqn == nvme::kDiscoveryNqn) {
    candidates = Subsystems();
  } else if (auto s = FindSubsystem(id->subnqn)) {
    candidates.push_back(std::move(s));
  } else {
    return Status::NotFound("subsystem " + id->subnqn + " does not exist");
  }
  std::string why = "host " + id->hostnqn + " has no PSK on subsystem " + id->subnqn;
  for (auto& s : candidates) {
    auto host = s->FindHost(id->hostnqn);
    if (!host || !host->psk) continue;
    auto psk = tls::ParsePskInterchange(*host->psk);
    if (!psk.ok()) continue;  // AddHost checked it
    auto d = tls::AcceptIdentity(*id, psk.value());
    OPENSSL_cleanse(psk.value().key.data(), psk.value().key.size());
    if (!d.ok()) {
      why = "host " + id->hostnqn + " on subsystem " + s->nqn() + ": " + d.status().message();
      continue;
    }
    return TlsPsk{std::move(d.value().key), d.value().hash};
  }
  return Status::NotFound(why);
}

}  // namespace nvmeof
