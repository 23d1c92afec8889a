// ANA state and the ANA log page: see ana.h.
#include "gateway/nvmf/ana.h"

#include <cstring>
#include <map>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

uint8_t AnaTable::State(const std::string& nqn, uint32_t grpid) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto s = subsystems_.find(nqn); s != subsystems_.end()) {
    if (auto g = s->second.find(grpid); g != s->second.end()) return g->second;
  }
  auto g = groups_.find(grpid);
  return g == groups_.end() ? unset_ : g->second;
}

bool AnaTable::SetGroup(uint32_t grpid, uint8_t state) {
  std::lock_guard<std::mutex> lk(mu_);
  auto [it, added] = groups_.emplace(grpid, unset_);
  if (it->second == state) return false;
  it->second = state;
  change_count_++;
  return true;
}

bool AnaTable::SetForSubsystem(const std::string& nqn, uint32_t grpid, uint8_t state) {
  std::lock_guard<std::mutex> lk(mu_);
  // Changed if it differs from what the subsystem reported before: its own, or the group's.
  auto& groups = subsystems_[nqn];
  uint8_t cur = unset_;
  if (auto g = groups.find(grpid); g != groups.end()) {
    cur = g->second;
  } else if (auto gw = groups_.find(grpid); gw != groups_.end()) {
    cur = gw->second;
  }
  groups[grpid] = state;
  if (cur == state) return false;
  change_count_++;
  return true;
}

void AnaTable::ForgetSubsystem(const std::string& nqn) {
  std::lock_guard<std::mutex> lk(mu_);
  subsystems_.erase(nqn);
}

uint64_t AnaTable::change_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return change_count_;
}

Status CheckAnaState(uint8_t state) {
  if (state != nvme::kAnaOptimized && state != nvme::kAnaNonOptimized && state != nvme::kAnaInaccessible &&
      state != nvme::kAnaPersistentLoss && state != nvme::kAnaChange)
    return Status::Error(nvmf::errc::kBadAnaState, "invalid ANA state");
  return Status::OK();
}

const char* AnaStateName(uint8_t state) {
  switch (state) {
    case nvme::kAnaOptimized: return "optimized";
    case nvme::kAnaNonOptimized: return "non-optimized";
    case nvme::kAnaInaccessible: return "inaccessible";
    case nvme::kAnaPersistentLoss: return "persistent loss";
    default: return "changing";
  }
}

Status Target::SetAnaGroupState(uint32_t grpid, uint8_t state) {
  if (grpid == 0 || grpid > opts_.anagrpmax) return Status::Error(nvmf::errc::kAnaGroupNotFound, "ANA group " + std::to_string(grpid) + " is invalid");
  if (Status st = CheckAnaState(state); !st.ok()) return st;
  if (!ana_.SetGroup(grpid, state)) return Status::OK();
  probe_.Count(probe_.ana_changes);
  LOG_INFO("ANA group %u is now %s", grpid, AnaStateName(state));
  for (auto& s : Subsystems()) {
    s->BumpGeneration();
    NotifyAnaChanged(*s);
  }
  return Status::OK();
}

Status Target::SetAnaState(const std::string& nqn, uint32_t grpid, uint8_t state) {
  if (nqn == nvme::kDiscoveryNqn) return Status::Error(nvmf::errc::kDiscoveryHasNoAna, "the discovery subsystem has no ANA groups");
  if (grpid == 0 || grpid > opts_.anagrpmax) return Status::Error(nvmf::errc::kAnaGroupNotFound, "ANA group " + std::to_string(grpid) + " is invalid");
  if (Status st = CheckAnaState(state); !st.ok()) return st;
  if (!ana_.SetForSubsystem(nqn, grpid, state)) return Status::OK();
  probe_.Count(probe_.ana_changes);
  LOG_INFO("subsystem %s: ANA group %u is now %s", nqn.c_str(), grpid, AnaStateName(state));
  // The table is written before the generation moves: a queue that sees the new generation
  // builds its snapshot from the new state.
  if (auto s = FindSubsystem(nqn)) {
    s->BumpGeneration();
    NotifyAnaChanged(*s);
  }
  return Status::OK();
}

void Target::ForgetAnaState(const std::string& nqn) { ana_.ForgetSubsystem(nqn); }

uint8_t Target::AnaState(const std::string& nqn, uint32_t grpid) const { return ana_.State(nqn, grpid); }

void Target::NotifyAnaChanged(Subsystem& s) {
  for (auto& c : s.Controllers()) {
    std::weak_ptr<Controller> w = c;
    c->admin_reactor()->Run([w] {
        if (auto c2 = w.lock()) c2->RaiseEvent(nvme::kAerNotice, nvme::kAenAnaChange, nvme::kLogAna);
      });
  }
}

std::vector<uint8_t> AnaLogPage(Controller& c, bool groups_only) {
  using namespace nvme;
  Subsystem& s = c.subsystem();
  auto table = s.BuildTable(c.hostnqn());
  std::map<uint32_t, std::vector<uint32_t>> groups;
  for (uint32_t nsid : table->active) groups[table->by_nsid[nsid]->anagrpid()].push_back(nsid);
  const uint64_t change_count = c.target()->ana().change_count();
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
    d.state = table->ana_state[nsids.front()];  // the group's state in the same snapshot
    size_t at = out.size();
    out.resize(at + sizeof(d) + d.num_nsids * 4);
    memcpy(out.data() + at, &d, sizeof(d));
    if (!groups_only) memcpy(out.data() + at + sizeof(d), nsids.data(), nsids.size() * 4);
  }
  return out;
}

}  // namespace nvmeof
