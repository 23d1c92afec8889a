// Subsystems and namespaces_: see subsystem.h.
#include "gateway/nvmf/subsystem.h"

#include <random>

#include "gateway/nvmf/ana.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

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

std::string BdevName(const Uuid& u) { return "bdev_" + UuidToString(u); }

std::string RandomSerialNumber() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<uint64_t> dist(2, 99999999999999ull);
  return "Ceph" + std::to_string(dist(gen));
}

Subsystem::Subsystem(Target* target, SubsystemSpec spec, bool discovery)
    : target_(target), spec_(std::move(spec)), discovery_(discovery), allow_any_host_(spec_.allow_any_host) {}

bool Subsystem::HostAllowed(const std::string& hostnqn) {
  if (discovery_) return true;
  std::lock_guard<std::mutex> lk(mu_);
  return allow_any_host_ || hosts_.count(hostnqn) > 0;
}

bool Subsystem::OnPort(const PortInfo& port) {
  if (discovery_) return true;
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& l : listeners_) {
    if (l.Serves(port)) return true;
  }
  return false;
}

std::shared_ptr<const NsTable> Subsystem::BuildTable(const std::string& hostnqn) {
  auto t = std::make_shared<NsTable>();
  std::lock_guard<std::mutex> lk(mu_);
  t->gen = ns_gen();
  uint32_t max = namespaces_.empty() ? 0 : namespaces_.rbegin()->first;
  t->by_nsid.resize(max + 1);
  t->ana_state.resize(max + 1, nvme::kAnaOptimized);
  for (auto& [nsid, ns] : namespaces_) {
    if (!ns->auto_visible() && !ns->hosts_.count(hostnqn)) continue;
    t->by_nsid[nsid] = ns;
    t->active.push_back(nsid);
    t->ana_state[nsid] = target_->AnaState(spec_.nqn, ns->anagrpid());
  }
  return t;
}

NamespaceView Subsystem::ViewLocked(const Namespace& ns) const {
  NamespaceView v;
  v.nsid = ns.nsid();
  v.uuid = ns.uuid();
  v.block_size = ns.block_size();
  v.size_bytes = ns.dev().size();
  v.anagrpid = ns.anagrpid();
  v.auto_visible = ns.auto_visible();
  v.spec = ns.spec();
  v.device_description = ns.dev().info().description;
  v.client_address = ns.dev().client_address();
  v.image_shrunk = ns.dev().shrunk_from_outside();
  v.qos = ns.qos_;
  for (auto& [nqn, h] : ns.hosts_) v.hosts.push_back(nqn);
  return v;
}

SubsystemView Subsystem::View() {
  SubsystemView v;
  v.spec = spec_;
  std::lock_guard<std::mutex> lk(mu_);
  v.spec.allow_any_host = allow_any_host_;
  v.listeners.assign(listeners_.begin(), listeners_.end());
  for (auto& [nqn, h] : hosts_) v.hosts.push_back(HostView{nqn, h.dhchap_key.has_value(), h.psk.has_value()});
  for (auto& [nsid, ns] : namespaces_) v.namespaces.push_back(ViewLocked(*ns));
  return v;
}

Result<NamespaceView> Subsystem::NamespaceInfo(uint32_t nsid) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = namespaces_.find(nsid);
  if (it == namespaces_.end())
    return Status::Error(nvmf::errc::kNamespaceNotFound, "namespace " + std::to_string(nsid) + " does not exist in " + spec_.nqn);
  return ViewLocked(*it->second);
}

bool Subsystem::HasNamespace(uint32_t nsid) {
  std::lock_guard<std::mutex> lk(mu_);
  return NsidUsedLocked(nsid);
}

uint32_t Subsystem::UuidUserLocked(const Uuid& uuid) const {
  for (auto& [id, ns] : namespaces_)
    if (ns->uuid() == uuid) return id;
  return 0;
}

std::optional<uint32_t> Subsystem::NamespaceWithUuid(const Uuid& uuid) {
  std::lock_guard<std::mutex> lk(mu_);
  if (uint32_t id = UuidUserLocked(uuid)) return id;
  return std::nullopt;
}

bool Subsystem::AllowsAnyHost() {
  std::lock_guard<std::mutex> lk(mu_);
  return allow_any_host_;
}

bool Subsystem::HasHost(const std::string& hostnqn) {
  std::lock_guard<std::mutex> lk(mu_);
  return hosts_.count(hostnqn) > 0;
}

std::optional<HostEntry> Subsystem::FindHost(const std::string& hostnqn) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = hosts_.find(hostnqn);
  if (it == hosts_.end()) return std::nullopt;
  return it->second;
}

bool Subsystem::HasListener(const ListenerSpec& l) {
  std::lock_guard<std::mutex> lk(mu_);
  return listeners_.count(l) > 0;
}

std::vector<ListenerSpec> Subsystem::Listeners() {
  std::lock_guard<std::mutex> lk(mu_);
  return {listeners_.begin(), listeners_.end()};
}

std::shared_ptr<Namespace> Subsystem::GetNamespace(uint32_t nsid) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = namespaces_.find(nsid);
  return it == namespaces_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Namespace>> Subsystem::Namespaces() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Namespace>> v;
  for (auto& [id, ns] : namespaces_) v.push_back(ns);
  return v;
}

uint32_t Subsystem::namespace_count() {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<uint32_t>(namespaces_.size());
}

std::vector<std::shared_ptr<Controller>> Subsystem::Controllers() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Controller>> v;
  for (auto& [id, w] : controllers_)
    if (auto c = w.lock()) v.push_back(c);
  return v;
}

Result<uint16_t> Subsystem::AllocateCntlid(const std::shared_ptr<Controller>& c) {
  const auto& o = target_->options();
  std::lock_guard<std::mutex> lk(mu_);
  uint32_t range = o.max_cntlid - o.min_cntlid + 1u;
  for (uint32_t i = 0; i < range; i++) {
    uint16_t id = static_cast<uint16_t>(o.min_cntlid + (next_cntlid_ + i) % range);
    auto it = controllers_.find(id);
    if (it == controllers_.end() || it->second.expired()) {
      controllers_[id] = c;
      kato_timed_out_.erase(c->hostnqn());
      next_cntlid_ = static_cast<uint16_t>((next_cntlid_ + i + 1) % range);
      return id;
    }
  }
  return Status::Error(nvmf::errc::kNoFreeCntlid, "no free controller ID in " + std::to_string(o.min_cntlid) + "-" +
                      std::to_string(o.max_cntlid));
}

void Subsystem::NoteKeepAliveTimeout(const std::string& hostnqn) {
  std::lock_guard<std::mutex> lk(mu_);
  kato_timed_out_.insert(hostnqn);
}

std::set<std::string> Subsystem::KeepAliveTimedOutHosts() {
  std::lock_guard<std::mutex> lk(mu_);
  return kato_timed_out_;
}

void Subsystem::ReleaseCntlid(uint16_t cntlid) {
  std::lock_guard<std::mutex> lk(mu_);
  controllers_.erase(cntlid);
}

std::shared_ptr<Controller> Subsystem::FindController(uint16_t cntlid) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = controllers_.find(cntlid);
  return it == controllers_.end() ? nullptr : it->second.lock();
}

}  // namespace nvmeof
