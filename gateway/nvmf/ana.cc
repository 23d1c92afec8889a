// ANA state and the ANA log page: see ana.h.
#include "gateway/nvmf/ana.h"

#include <cstring>
#include <map>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

std::string AnaPortKey(const std::string& traddr, const std::string& trsvcid) { return traddr + ":" + trsvcid; }

uint8_t Subsystem::AnaState(const PortInfo& port, uint32_t grpid) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = ana_.find(AnaPortKey(port.traddr, port.trsvcid));
  if (it == ana_.end()) return nvme::kAnaOptimized;
  auto g = it->second.find(grpid);
  return g == it->second.end() ? static_cast<uint8_t>(nvme::kAnaOptimized) : g->second;
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
    std::lock_guard<std::mutex> lk(s->mu_);
    auto& cur = s->ana_[AnaPortKey(traddr, trsvcid)][grpid];
    if (cur == state) return Status::OK();
    cur = state;
    s->ana_change_count_++;
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

void Target::NotifyAnaChanged(Subsystem& s) {
  for (auto& c : s.Controllers()) {
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock()) c2->RaiseEvent(nvme::kAerNotice, nvme::kAenAnaChange, nvme::kLogAna);
      });
  }
}

std::vector<uint8_t> AnaLogPage(Controller& c, const PortInfo& port, bool groups_only) {
  using namespace nvme;
  Subsystem& s = c.subsystem();
  auto table = s.BuildTable(c.hostnqn(), port);
  std::map<uint32_t, std::vector<uint32_t>> groups;
  for (uint32_t nsid : table->active) groups[table->by_nsid[nsid]->anagrpid()].push_back(nsid);
  const uint64_t change_count = s.ana_change_count();
  std::vector<uint8_t> out(sizeof(AnaLogHeader));
  AnaLogHeader h{};
  h.change_count = change_count;
  h.num_descriptors = static_cast<uint16_t>(groups.size());
  memcpy(out.data(), &h, sizeof(h));
  for (auto& [grp, nsids] : groups) {
    AnaGroupDescriptor d{};
    d.anagrpid = grp;
    d.num_nsids = groups_only ? 0 : static_cast<uint32_t>(nsids.size());
    d.change_count = change_count;
    d.state = s.AnaState(port, grp);
    size_t at = out.size();
    out.resize(at + sizeof(d) + d.num_nsids * 4);
    memcpy(out.data() + at, &d, sizeof(d));
    if (!groups_only) memcpy(out.data() + at + sizeof(d), nsids.data(), nsids.size() * 4);
  }
  return out;
}

}  // namespace nvmeof
