// Subsystems and namespaces: see subsystem.h.
#include "gateway/nvmf/subsystem.h"

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

Subsystem::Subsystem(Target* target, SubsystemSpec spec, bool discovery)
    : target_(target), spec_(std::move(spec)), discovery_(discovery) {}

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

std::shared_ptr<const NsTable> Subsystem::BuildTable(const std::string& hostnqn, const PortInfo& port) {
  auto t = std::make_shared<NsTable>();
  std::lock_guard<std::mutex> lk(mu);
  t->gen = ns_gen();
  uint32_t max = namespaces.empty() ? 0 : namespaces.rbegin()->first;
  t->by_nsid.resize(max + 1);
  t->ana_state.resize(max + 1, nvme::kAnaOptimized);
  auto pit = ana.find(AnaPortKey(port.traddr, port.trsvcid));
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

}  // namespace nvmeof
