// The load-balancing policy: see load_balance.h.
#include "api/load_balance.h"

namespace nvmeof::api {

std::map<uint32_t, size_t> GroupLoads(const std::vector<LbNamespace>& ns, const std::set<uint32_t>& groups) {
  std::map<uint32_t, size_t> loads;
  for (uint32_t g : groups) loads[g] = 0;
  for (const auto& n : ns) loads[n.group]++;
  return loads;
}

namespace {

uint32_t LeastOf(const std::map<uint32_t, size_t>& loads, const std::set<uint32_t>& groups) {
  uint32_t best = 0;
  size_t best_load = 0;
  for (uint32_t g : groups) {  // ascending: the first of equal loads wins
    auto it = loads.find(g);
    size_t l = it == loads.end() ? 0 : it->second;
    if (best == 0 || l < best_load) {
      best = g;
      best_load = l;
    }
  }
  return best;
}

uint32_t MostOf(const std::map<uint32_t, size_t>& loads, const std::set<uint32_t>& groups) {
  uint32_t best = 0;
  size_t best_load = 0;
  for (uint32_t g : groups) {
    auto it = loads.find(g);
    size_t l = it == loads.end() ? 0 : it->second;
    if (best == 0 || l > best_load) {
      best = g;
      best_load = l;
    }
  }
  return best;
}

// The namespace of `from` to move to `to` (see the header); nullptr when none is free.
LbNamespace* Pick(std::vector<LbNamespace>& ns, uint32_t from, uint32_t to,
                  const std::set<std::pair<std::string, uint32_t>>& busy) {
  std::map<std::string, long> surplus;  // by subsystem: in `from` minus in `to`
  for (const auto& n : ns) {
    if (n.group == from && !busy.count({n.nqn, n.nsid})) surplus[n.nqn] += 1;
  }
  if (surplus.empty()) return nullptr;
  for (const auto& n : ns)
    if (n.group == to && surplus.count(n.nqn)) surplus[n.nqn] -= 1;
  std::string nqn;
  long best = 0;
  for (const auto& [q, s] : surplus) {  // ascending NQN: the first of equal surpluses wins
    if (nqn.empty() || s > best) {
      nqn = q;
      best = s;
    }
  }
  LbNamespace* pick = nullptr;
  for (auto& n : ns)
    if (n.group == from && n.nqn == nqn && !busy.count({n.nqn, n.nsid}) && (!pick || n.nsid > pick->nsid)) pick = &n;
  return pick;
}

}  // namespace

uint32_t LeastLoadedGroup(const std::vector<LbNamespace>& ns, const std::set<uint32_t>& groups) {
  return LeastOf(GroupLoads(ns, groups), groups);
}

std::vector<LbMove> PlanRebalance(const std::vector<LbNamespace>& in, const std::set<uint32_t>& groups,
                                  size_t max_moves, const std::set<std::pair<std::string, uint32_t>>& busy) {
  std::vector<LbMove> moves;
  if (groups.empty()) return moves;
  std::vector<LbNamespace> ns = in;
  std::map<uint32_t, size_t> loads = GroupLoads(ns, groups);
  std::set<std::pair<std::string, uint32_t>> moved = busy;
  auto move = [&](LbNamespace& n, uint32_t to) {
    moves.push_back({n.nqn, n.nsid, n.group, to});
    loads[n.group]--;
    loads[to]++;
    n.group = to;
    moved.insert({n.nqn, n.nsid});
  };
  // 1. Namespaces in groups no gateway can own, in (NQN, NSID) order of the input.
  for (auto& n : ns) {
    if (moves.size() >= max_moves) return moves;
    if (groups.count(n.group) || moved.count({n.nqn, n.nsid})) continue;
    move(n, LeastOf(loads, groups));
  }
  // 2. From the most loaded to the least loaded while they differ by two or more.
  while (moves.size() < max_moves) {
    uint32_t from = MostOf(loads, groups), to = LeastOf(loads, groups);
    if (from == to || loads[from] < loads[to] + 2) break;
    LbNamespace* n = Pick(ns, from, to, moved);
    if (!n) break;  // what is left of the most loaded group is being moved already
    move(*n, to);
  }
  return moves;
}

}  // namespace nvmeof::api
