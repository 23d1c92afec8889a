// Load balancing of namespaces over ANA groups: the hand-over of one namespace from its
// group's owner to the new group's owner (BalanceStep, on every gateway) and the leader's
// rebalancing (RebalanceStep). The policy is load_balance.h; docs/ha.md "Load balancing"
// has the protocol. Runs on the LoadBalancer's thread (load_balancer.h) or the caller's
// (tests), taking the RPC lock for each change and never while draining or reading the store.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/service_internal.h"

namespace nvmeof::api {

using namespace internal;

void GatewayService::SetLoadBalancing(LoadBalancing lb) {
  std::lock_guard<std::mutex> lk(mu_);
  lb_ = std::move(lb);
}

bool GatewayService::BalanceStep() {
  struct Pending {
    std::string nqn;
    uint32_t nsid, cur, want;
  };
  std::vector<Pending> pending;
  std::set<uint32_t> owned;
  uint64_t drain_timeout = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!lb_.groups) return false;
    owned = lb_.owned ? lb_.owned() : std::set<uint32_t>{};
    drain_timeout = lb_.drain_timeout_ns;
    for (const auto& s : target_->Subsystems()) {
      if (s->is_discovery()) continue;
      for (const auto& ns : s->Namespaces()) {
        auto it = state_.find(NamespaceKey(s->nqn(), ns->nsid()));
        if (it == state_.end()) continue;
        const uint32_t want = StateGroupOf(it->first, it->second);
        if (want && want != ns->anagrpid()) pending.push_back({s->nqn(), ns->nsid(), ns->anagrpid(), want});
      }
    }
  }
  // The hand-over records (store only; without a store nothing is ever handed over).
  std::map<std::pair<std::string, uint32_t>, std::pair<LbHandover, std::string>> handovers;
  if (store_) {
    uint64_t v = 0;
    auto all = store_->ReadAll(&v);
    if (!all.ok()) {
      LOG_WARN("load balancing: cannot read the group state: %s", all.status().ToString().c_str());
      return !pending.empty();
    }
    for (auto it = all->lower_bound(kLbHandoverPrefix); it != all->end() && StartsWith(it->first, kLbHandoverPrefix);
         ++it) {
      if (auto h = ParseLbHandover(it->first, it->second)) handovers[{h->nqn, h->nsid}] = {*h, it->second};
    }
  }
  bool waiting = false;
  std::vector<std::pair<LbHandover, std::string>> drained;  // to drain here, then acknowledge
  for (const auto& p : pending) {
    auto ho = handovers.find({p.nqn, p.nsid});
    const bool recorded = ho != handovers.end();
    // Before the old owner drained, only the gateway that serves the namespace's current
    // group may move it (it stops serving it); the others wait.
    if (recorded && !owned.count(p.cur)) {
      waiting = true;
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto s = target_->FindSubsystem(p.nqn);
      auto ns = s ? s->GetNamespace(p.nsid) : nullptr;
      auto it = state_.find(NamespaceKey(p.nqn, p.nsid));
      if (!ns || ns->anagrpid() != p.cur || it == state_.end() || StateGroupOf(it->first, it->second) != p.want)
        continue;
      if (Status st = target_->SetNamespaceAnaGroup(p.nqn, p.nsid, p.want); !st.ok()) {
        LOG_WARN("load balancing: namespace %u of %s: ANA group %u -> %u: %s", p.nsid, p.nqn.c_str(), p.cur, p.want,
                 st.ToString().c_str());
        waiting = true;
        continue;
      }
    }
    LOG_INFO("load balancing: namespace %u of %s: ANA group %u -> %u on gateway %s%s", p.nsid, p.nqn.c_str(), p.cur,
             p.want, opts_.gateway_name.c_str(),
             owned.count(p.cur) && !owned.count(p.want) ? " (stops serving it here)"
             : !owned.count(p.cur) && owned.count(p.want) ? " (serves it here)" : "");
    if (recorded && owned.count(ho->second.first.from)) drained.push_back(ho->second);
  }
  // Records of moves this gateway no longer serves the old group of (moved earlier, or a
  // restart added the namespace in its new group): acknowledged without a drain.
  std::set<std::pair<std::string, uint32_t>> acked;
  for (const auto& d : drained) acked.insert({d.first.nqn, d.first.nsid});
  std::vector<std::pair<LbHandover, std::string>> settled;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [id, rec] : handovers) {
      const LbHandover& h = rec.first;
      if (acked.count(id) || !owned.count(h.from)) continue;
      auto s = target_->FindSubsystem(h.nqn);
      auto ns = s ? s->GetNamespace(h.nsid) : nullptr;
      if (ns && ns->anagrpid() == h.from) continue;  // still served here: moved above or next pass
      settled.push_back(rec);
    }
  }
  for (const auto& [h, value] : drained) {
    Status st = target_->DrainNamespace(h.nqn, h.nsid, drain_timeout);
    if (!st.ok())
      LOG_WARN("load balancing: namespace %u of %s: draining on gateway %s: %s; handing over anyway", h.nsid,
               h.nqn.c_str(), opts_.gateway_name.c_str(), st.ToString().c_str());
    settled.push_back({h, value});
  }
  for (const auto& [h, value] : settled) {
    Status st = RemoveHandover(LbHandoverKey(h.nqn, h.nsid), value);
    if (!st.ok()) {
      LOG_WARN("load balancing: namespace %u of %s: cannot record the hand-over from ANA group %u: %s", h.nsid,
               h.nqn.c_str(), h.from, st.ToString().c_str());
      waiting = true;
      continue;
    }
    LOG_INFO("load balancing: namespace %u of %s: ANA group %u's owner %s has drained it; group %u's owner serves it",
             h.nsid, h.nqn.c_str(), h.from, opts_.gateway_name.c_str(), h.to);
  }
  return waiting;
}

Result<size_t> GatewayService::RebalanceStep() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!lb_.groups || !store_) return size_t{0};
  if (lb_.leader && !lb_.leader()) return size_t{0};
  const std::set<uint32_t> groups = lb_.groups();
  const size_t max_moves = lb_.max_ns_to_change_lb_grp;
  std::vector<LbMove> planned;
  Status st = PersistComputed([&](const StateMap& current, StateMap* puts, std::vector<std::string>* removes) {
    planned.clear();
    std::set<std::pair<std::string, uint32_t>> busy;
    for (auto it = current.lower_bound(kLbHandoverPrefix);
         it != current.end() && StartsWith(it->first, kLbHandoverPrefix); ++it) {
      auto h = ParseLbHandover(it->first, it->second);
      if (!h || !current.count(NamespaceKey(h->nqn, h->nsid))) {
        removes->push_back(it->first);  // its namespace is gone
        continue;
      }
      busy.insert({h->nqn, h->nsid});
    }
    const size_t room = busy.size() < max_moves ? max_moves - busy.size() : 0;
    planned = PlanRebalance(LbNamespaces(current), groups, room, busy);
    for (const auto& m : planned) {
      const std::string key = NamespaceKey(m.nqn, m.nsid);
      namespace_add_req add;
      if (Status j = JsonToRequest(current.at(key), &add); !j.ok()) return j;
      add.set_anagrpid(static_cast<int32_t>(m.to));
      (*puts)[key] = RewriteStateJson(current.at(key), add);
      (*puts)[LbHandoverKey(m.nqn, m.nsid)] = LbHandoverJson({m.nqn, m.nsid, m.from, m.to});
    }
    return Status::OK();
  });
  if (!st.ok()) {
    LOG_WARN("load balancing: rebalancing on gateway %s: %s", opts_.gateway_name.c_str(), st.ToString().c_str());
    return st;
  }
  for (const auto& m : planned)
    LOG_INFO("load balancing: gateway %s moves namespace %u of %s from ANA group %u to %u (%s)",
             opts_.gateway_name.c_str(), m.nsid, m.nqn.c_str(), m.from, m.to,
             groups.count(m.from) ? "rebalancing" : "no gateway owns the old group");
  return planned.size();
}

}  // namespace nvmeof::api
