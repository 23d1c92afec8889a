// The load-balancing policy: which ANA group (load-balancing group) a new namespace gets,
// and which namespaces move where when the groups gateways can own change. Pure: the
// namespaces with their groups and the eligible groups in, a choice or a plan out; no
// clock, no store, no threads (any thread may call). The driver that applies the plans is
// GatewayService (BalanceStep, RebalanceStep) run by LoadBalancer (load_balancer.h);
// docs/ha.md "Load balancing" has the protocol.
//
// The load of a group is its number of namespaces (every subsystem counted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace nvmeof::api {

struct LbNamespace {
  std::string nqn;
  uint32_t nsid = 0;
  uint32_t group = 0;  // its ANA group as the group state says
};

struct LbMove {
  std::string nqn;
  uint32_t nsid = 0;
  uint32_t from = 0, to = 0;
  bool operator==(const LbMove&) const = default;
};

// Namespaces per group, for every group in `groups` (0 when empty) and every group a
// namespace is in.
std::map<uint32_t, size_t> GroupLoads(const std::vector<LbNamespace>& ns, const std::set<uint32_t>& groups);

// The least loaded of `groups` (ties: the lowest group ID); 0 when `groups` is empty.
uint32_t LeastLoadedGroup(const std::vector<LbNamespace>& ns, const std::set<uint32_t>& groups);

// At most `max_moves` moves, each of one namespace not in `busy` (namespaces being moved):
//  1. namespaces in a group outside `groups` (no gateway can own it: its member left) go
//     to the least loaded group, one at a time (loads updated after each move);
//  2. then, while the most loaded group has at least two namespaces more than the least
//     loaded one, one namespace goes from the most loaded (ties: lowest ID) to the least
//     loaded (ties: lowest ID).
// Which namespace of a source group moves: one of the subsystem with the most namespaces
// in the source group minus those in the destination (ties: lowest NQN), its highest NSID.
// Empty `groups`: no moves.
std::vector<LbMove> PlanRebalance(const std::vector<LbNamespace>& ns, const std::set<uint32_t>& groups,
                                  size_t max_moves, const std::set<std::pair<std::string, uint32_t>>& busy = {});

}  // namespace nvmeof::api
