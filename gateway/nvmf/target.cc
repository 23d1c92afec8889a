// The target model: subsystems, namespaces, hosts, listeners; runtime changes and the
// events they raise to connected hosts.
#include "gateway/nvmf/target.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string_view>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/transport.h"

namespace nvmeof {

// ----------------------------------------------------------------------------- UUIDs

std::string UuidToString(const Uuid& u) {
  char b[37];
  snprintf(b, sizeof(b), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
           u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
           u[15]);
  return b;
}

bool ParseUuid(const std::string& s, Uuid* out) {
  if (s.size() != 36) return false;
  int j = 0;
  for (size_t i = 0; i < s.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      i++;
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i]), lo = hex(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[j++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return j == 16;
}

// A name-based UUID (RFC 9562 version 8): the same name always gives the same UUID, so a
// namespace defined by configuration keeps its identity across restarts.
Uuid NameUuid(const std::string& name) {
  auto mix = [](uint64_t h, uint64_t seed) {
    for (unsigned char c : std::string_view(reinterpret_cast<const char*>(&seed), 8)) h = (h ^ c) * 0x100000001b3ull;
    return h;
  };
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (unsigned char c : name) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ c) * 0x100000001b3ull;
    b ^= b >> 29;
  }
  a = mix(a, b);
  b = mix(b, a);
  Uuid u;
  memcpy(u.data(), &a, 8);
  memcpy(u.data() + 8, &b, 8);
  u[6] = (u[6] & 0x0F) | 0x80;  // version 8
  u[8] = (u[8] & 0x3F) | 0x80;  // RFC variant
  return u;
}

Uuid RandomUuid() {
  Uuid u;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, u.data(), u.size()) : -1;
  if (fd >= 0) close(fd);
  if (n != static_cast<ssize_t>(u.size())) {
    std::random_device rd;
    for (auto& b : u) b = static_cast<uint8_t>(rd());
  }
  u[6] = (u[6] & 0x0F) | 0x40;  // version 4
  u[8] = (u[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return u;
}

// ----------------------------------------------------------------------------- Namespace

Namespace::Namespace(uint32_t nsid, const NamespaceSpec& spec, Uuid uuid, std::unique_ptr<BlockDevice> dev)
    : nsid_(nsid), spec_(spec), uuid_(uuid), block_size_(spec.block_size),
      anagrpid_(spec.anagrpid ? spec.anagrpid : 1), dev_(std::move(dev)) {
  lbads_ = 0;
  while ((1u << lbads_) < block_size_) lbads_++;
  // EUI-64: a stable 8-byte identifier derived from the UUID (IEEE OUI bits left local).
  for (int i = 0; i < 8; i++) eui64_[i] = uuid_[i] ^ uuid_[i + 8];
  eui64_[0] = (eui64_[0] & 0xFC) | 0x02;  // locally administered, unicast
}

// ----------------------------------------------------------------------------- Subsystem

Subsystem::Subsystem(Target* target, SubsystemSpec spec, bool discovery)
    : target_(target), spec_(std::move(spec)), discovery_(discovery) {}

static std::string PortKey(const std::string& traddr, const std::string& trsvcid) {
  return traddr + ":" + trsvcid;
}

bool Subsystem::HostAllowed(const std::string& hostnqn) {
  if (discovery_) return true;
  std::lock_guard<std::mutex> lk(mu);
  return spec_.allow_any_host || hosts.count(hostnqn) > 0;
}

bool Subsystem::OnPort(const PortInfo& port) {
  if (discovery_) return true;
  std::lock_guard<std::mutex> lk(mu);
  for (const auto& l : listeners) {
    if (l.Serves(port)) return true;
  }
  return false;
}

uint8_t Subsystem::AnaState(const PortInfo& port, uint32_t grpid) {
  std::lock_guard<std::mutex> lk(mu);
  auto it = ana.find(PortKey(port.traddr, port.trsvcid));
  if (it == ana.end()) return nvme::kAnaOptimized;
  auto g = it->second.find(grpid);
  return g == it->second.end() ? static_cast<uint8_t>(nvme::kAnaOptimized) : g->second;
}

std::shared_ptr<const NsTable> Subsystem::BuildTable(const std::string& hostnqn, const PortInfo& port) {
  auto t = std::make_shared<NsTable>();
  std::lock_guard<std::mutex> lk(mu);
  t->gen = ns_gen();
  uint32_t max = namespaces.empty() ? 0 : namespaces.rbegin()->first;
  t->by_nsid.resize(max + 1);
  t->ana_state.resize(max + 1, nvme::kAnaOptimized);
  auto pit = ana.find(PortKey(port.traddr, port.trsvcid));
  for (auto& [nsid, ns] : namespaces) {
    if (!ns->auto_visible() && !ns->hosts.count(hostnqn)) continue;
    t->by_nsid[nsid] = ns;
    t->active.push_back(nsid);
    if (pit != ana.end()) {
      auto g = pit->second.find(ns->anagrpid());
      if (g != pit->second.end()) t->ana_state[nsid] = g->second;
    }
  }
  return t;
}

std::shared_ptr<Namespace> Subsystem::GetNamespace(uint32_t nsid) {
  std::lock_guard<std::mutex> lk(mu);
  auto it = namespaces.find(nsid);
  return it == namespaces.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Namespace>> Subsystem::Namespaces() {
  std::lock_guard<std::mutex> lk(mu);
  std::vector<std::shared_ptr<Namespace>> v;
  for (auto& [id, ns] : namespaces) v.push_back(ns);
  return v;
}

uint32_t Subsystem::namespace_count() {
  std::lock_guard<std::mutex> lk(mu);
  return static_cast<uint32_t>(namespaces.size());
}

std::vector<std::shared_ptr<Controller>> Subsystem::Controllers() {
  std::lock_guard<std::mutex> lk(mu);
  std::vector<std::shared_ptr<Controller>> v;
  for (auto& [id, w] : controllers)
    if (auto c = w.lock()) v.push_back(c);
  return v;
}

Result<uint16_t> Subsystem::AllocateCntlid(const std::shared_ptr<Controller>& c) {
  const auto& o = target_->options();
  std::lock_guard<std::mutex> lk(mu);
  uint32_t range = o.max_cntlid - o.min_cntlid + 1u;
  for (uint32_t i = 0; i < range; i++) {
    uint16_t id = static_cast<uint16_t>(o.min_cntlid + (next_cntlid_ + i) % range);
    auto it = controllers.find(id);
    if (it == controllers.end() || it->second.expired()) {
      controllers[id] = c;
      next_cntlid_ = static_cast<uint16_t>((next_cntlid_ + i + 1) % range);
      return id;
    }
  }
  return Status::Busy("no free controller ID in " + std::to_string(o.min_cntlid) + "-" +
                      std::to_string(o.max_cntlid));
}

void Subsystem::ReleaseCntlid(uint16_t cntlid) {
  std::lock_guard<std::mutex> lk(mu);
  controllers.erase(cntlid);
}

std::shared_ptr<Controller> Subsystem::FindController(uint16_t cntlid) {
  std::lock_guard<std::mutex> lk(mu);
  auto it = controllers.find(cntlid);
  return it == controllers.end() ? nullptr : it->second.lock();
}

// ----------------------------------------------------------------------------- Target

Target::Target(TargetOptions opts) : opts_(std::move(opts)) {
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

static std::string RandomSerial() {
  Uuid u = RandomUuid();
  std::string s = "SPDK";
  static const char* hex = "0123456789ABCDEF";
  for (int i = 0; i < 8; i++) s += hex[u[i] & 0xF];
  return s;
}

Status Target::AddSubsystem(const SubsystemSpec& spec) {
  if (spec.nqn.empty() || spec.nqn.size() > 223)
    return Status::InvalidArgument("subsystem NQN must be 1 to 223 characters");
  if (spec.nqn == nvme::kDiscoveryNqn)
    return Status::InvalidArgument("the discovery NQN cannot be used as a subsystem NQN");
  std::lock_guard<std::mutex> lk(mu_);
  if (subsystems_.count(spec.nqn)) return Status::AlreadyExists("subsystem " + spec.nqn + " already exists");
  SubsystemSpec s = spec;
  if (s.serial.empty()) s.serial = RandomSerial();
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
    if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
    if (!force && s->namespace_count() > 0)
      return Status::Busy("subsystem " + nqn + " still has namespaces; remove them first or use force");
    subsystems_.erase(nqn);
  }
  for (auto& c : s->Controllers()) c->Shutdown("subsystem deleted");
  std::set<ListenerSpec> ls;
  size_t removed_namespaces;
  {
    std::lock_guard<std::mutex> lk(s->mu);
    ls = s->listeners;
    s->listeners.clear();
    removed_namespaces = s->namespaces.size();
    s->namespaces.clear();
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

Result<uint32_t> Target::AddNamespace(const std::string& nqn, const NamespaceSpec& spec,
                                      std::unique_ptr<BlockDevice> dev) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  if (spec.block_size != 512 && spec.block_size != 4096)
    return Status::InvalidArgument("block size must be 512 or 4096, not " + std::to_string(spec.block_size));
  if (!dev) return Status::InvalidArgument("no device");
  if (dev->size() < spec.block_size)
    return Status::InvalidArgument("device is smaller than one block");
  if (total_namespaces_.load() >= opts_.max_namespaces_per_gateway)
    return Status::Error(ENOSPC, "the gateway already has its maximum of " +
                                     std::to_string(opts_.max_namespaces_per_gateway) + " namespaces");
  uint32_t nsid;
  std::shared_ptr<Namespace> ns;
  {
    std::lock_guard<std::mutex> lk(s->mu);
    if (s->namespaces.size() >= s->spec().max_namespaces)
      return Status::Error(ENOSPC, "subsystem " + nqn + " already has its maximum of " +
                                       std::to_string(s->spec().max_namespaces) + " namespaces");
    nsid = spec.nsid;
    if (nsid == 0) {
      nsid = 1;
      while (s->namespaces.count(nsid)) nsid++;
    }
    if (nsid > s->spec().max_namespaces)
      return Status::InvalidArgument("NSID " + std::to_string(nsid) + " is larger than the subsystem's " +
                                     "maximum of " + std::to_string(s->spec().max_namespaces));
    if (s->namespaces.count(nsid))
      return Status::AlreadyExists("NSID " + std::to_string(nsid) + " is already in use in " + nqn);
    // Without a UUID from the caller, derive one from what the namespace is: the same
    // configuration yields the same identity after a restart.
    Uuid uuid = spec.uuid ? *spec.uuid
                          : NameUuid(nqn + "|" + std::to_string(nsid) + "|" + dev->info().kind + "|" +
                                     dev->info().description + "|" + std::to_string(spec.block_size));
    for (auto& [id, other] : s->namespaces)
      if (other->uuid() == uuid)
        return Status::AlreadyExists("UUID " + UuidToString(uuid) + " is already in use by NSID " +
                                     std::to_string(id));
    ns = std::make_shared<Namespace>(nsid, spec, uuid, std::move(dev));
    s->namespaces[nsid] = ns;
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
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu);
    auto it = s->namespaces.find(nsid);
    if (it == s->namespaces.end())
      return Status::NoDevice("namespace " + std::to_string(nsid) + " does not exist in " + nqn);
    s->namespaces.erase(it);
    s->BumpGeneration();
  }
  total_namespaces_.fetch_sub(1);
  LOG_INFO("subsystem %s namespace %u removed", nqn.c_str(), nsid);
  NotifyNamespaceChanged(*s, nsid);
  return Status::OK();
}

Status Target::ResizeNamespace(const std::string& nqn, uint32_t nsid, uint64_t new_size) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  auto ns = s->GetNamespace(nsid);
  if (!ns) return Status::NoDevice("namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  if (new_size < ns->dev().size())
    return Status::InvalidArgument("new size " + std::to_string(new_size) + " is smaller than the current " +
                                   std::to_string(ns->dev().size()) + ": namespaces can only grow");
  if (new_size == ns->dev().size()) return Status::OK();
  // The device's resize callback raises the notice.
  return ns->dev().resize(new_size);
}

Status Target::SetNamespaceAnaGroup(const std::string& nqn, uint32_t nsid, uint32_t anagrpid) {
  if (anagrpid == 0 || anagrpid > opts_.anagrpmax)
    return Status::InvalidArgument("ANA group must be 1 to " + std::to_string(opts_.anagrpmax));
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  auto ns = s->GetNamespace(nsid);
  if (!ns) return Status::NoDevice("namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  ns->anagrpid_.store(anagrpid);
  s->BumpGeneration();
  NotifyAnaChanged(*s);
  return Status::OK();
}

Status Target::WithNamespaceLocked(const std::string& nqn, uint32_t nsid,
                                   const std::function<Status(Subsystem&, Namespace&)>& fn,
                                   std::shared_ptr<Subsystem>* subsystem) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  if (subsystem) *subsystem = s;
  std::lock_guard<std::mutex> lk(s->mu);
  auto it = s->namespaces.find(nsid);
  if (it == s->namespaces.end())
    return Status::NoDevice("namespace " + std::to_string(nsid) + " does not exist in " + nqn);
  return fn(*s, *it->second);
}

Status Target::AddNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  std::shared_ptr<Subsystem> s;
  Status st = WithNamespaceLocked(nqn, nsid, [&](Subsystem& sub, Namespace& ns) {
    if (ns.auto_visible())
      return Status::InvalidArgument("namespace " + std::to_string(nsid) +
                                     " is visible to all hosts (it was not added with no_auto_visible)");
    if (!ns.hosts.insert(host).second)
      return Status::AlreadyExists("host " + host + " already sees namespace " + std::to_string(nsid));
    sub.BumpGeneration();
    return Status::OK();
  }, &s);
  if (st.ok()) NotifyNamespaceChanged(*s, nsid);
  return st;
}

Status Target::RemoveNamespaceHost(const std::string& nqn, uint32_t nsid, const std::string& host) {
  std::shared_ptr<Subsystem> s;
  Status st = WithNamespaceLocked(nqn, nsid, [&](Subsystem& sub, Namespace& ns) {
    if (!ns.hosts.erase(host))
      return Status::NotFound("host " + host + " was not given namespace " + std::to_string(nsid));
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
  ns.qos = q;
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

Status Target::AddHost(const std::string& nqn, const std::string& hostnqn) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu);
    if (hostnqn == "*") {
      if (s->mutable_spec().allow_any_host) return Status::AlreadyExists("subsystem " + nqn + " already allows any host");
      s->mutable_spec().allow_any_host = true;
    } else if (!s->hosts.insert(hostnqn).second) {
      return Status::AlreadyExists("host " + hostnqn + " is already allowed on " + nqn);
    }
  }
  LOG_INFO("subsystem %s: host %s allowed", nqn.c_str(), hostnqn.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::RemoveHost(const std::string& nqn, const std::string& hostnqn) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk(s->mu);
    if (hostnqn == "*") {
      if (!s->mutable_spec().allow_any_host) return Status::NotFound("subsystem " + nqn + " does not allow any host");
      s->mutable_spec().allow_any_host = false;
    } else if (!s->hosts.erase(hostnqn)) {
      return Status::NotFound("host " + hostnqn + " is not allowed on " + nqn);
    }
  }
  // Existing controllers of a host no longer allowed are disconnected.
  for (auto& c : s->Controllers()) {
    if (!s->HostAllowed(c->hostnqn())) c->Shutdown("host access revoked");
  }
  LOG_INFO("subsystem %s: host %s removed", nqn.c_str(), hostnqn.c_str());
  DiscoveryChanged();
  return Status::OK();
}

Status Target::OpenPort(const ListenerSpec& l) {
  auto it = ports_.find(l);
  if (it != ports_.end()) {
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
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  {
    std::lock_guard<std::mutex> lk2(s->mu);
    if (s->listeners.count(l))
      return Status::AlreadyExists("listener " + l.traddr + ":" + l.trsvcid + " already exists on " + nqn);
  }
  Status st = OpenPort(l);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lk2(s->mu);
    s->listeners.insert(l);
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
    if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
    {
      std::lock_guard<std::mutex> lk2(s->mu);
      if (!s->listeners.erase(l))
        return Status::NotFound("listener " + l.traddr + ":" + l.trsvcid + " does not exist on " + nqn);
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

std::vector<std::pair<ListenerSpec, uint16_t>> Target::Ports() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<ListenerSpec, uint16_t>> v;
  for (auto& [l, p] : ports_) v.push_back({l, p.portid});
  return v;
}

Status Target::SetAnaState(const std::string& nqn, const std::string& traddr, const std::string& trsvcid,
                           uint32_t grpid, uint8_t state) {
  auto s = FindSubsystem(nqn);
  if (!s || s->is_discovery()) return Status::NotFound("subsystem " + nqn + " does not exist");
  if (grpid == 0 || grpid > opts_.anagrpmax) return Status::NoDevice("ANA group " + std::to_string(grpid) + " is invalid");
  if (state != nvme::kAnaOptimized && state != nvme::kAnaNonOptimized && state != nvme::kAnaInaccessible &&
      state != nvme::kAnaPersistentLoss && state != nvme::kAnaChange)
    return Status::InvalidArgument("invalid ANA state");
  {
    std::lock_guard<std::mutex> lk(s->mu);
    auto& cur = s->ana[PortKey(traddr, trsvcid)][grpid];
    if (cur == state) return Status::OK();
    cur = state;
    s->ana_change_count++;
    s->BumpGeneration();
  }
  LOG_INFO("subsystem %s listener %s:%s: ANA group %u is now %s", nqn.c_str(), traddr.c_str(), trsvcid.c_str(),
           grpid,
           state == nvme::kAnaOptimized ? "optimized"
           : state == nvme::kAnaNonOptimized ? "non-optimized"
           : state == nvme::kAnaInaccessible ? "inaccessible" : "changing");
  NotifyAnaChanged(*s);
  return Status::OK();
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
    v.push_back(ci);
  }
  return v;
}

void Target::DiscoveryChanged() {
  genctr_.fetch_add(1);
  for (auto& c : discovery_->Controllers()) {
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock())
          c2->RaiseEvent(nvme::kAerNotice, nvme::kAenDiscoveryLogChange, nvme::kLogDiscovery);
      });
  }
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

void Target::NotifyAnaChanged(Subsystem& s) {
  for (auto& c : s.Controllers()) {
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock()) c2->RaiseEvent(nvme::kAerNotice, nvme::kAenAnaChange, nvme::kLogAna);
      });
  }
}

}  // namespace nvmeof
