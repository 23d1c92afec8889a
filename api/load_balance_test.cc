// Unit tests of the load-balancing policy (api/load_balance.h).
#include "api/load_balance.h"

#include <gtest/gtest.h>

namespace nvmeof::api {
namespace {

const std::string kA = "nqn.2016-06.io.spdk:a";
const std::string kB = "nqn.2016-06.io.spdk:b";

std::vector<LbNamespace> InGroup(const std::string& nqn, uint32_t first_nsid, size_t n, uint32_t group) {
  std::vector<LbNamespace> v;
  for (size_t i = 0; i < n; i++) v.push_back({nqn, first_nsid + static_cast<uint32_t>(i), group});
  return v;
}

std::vector<LbNamespace> Cat(std::vector<LbNamespace> a, const std::vector<LbNamespace>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<LbNamespace> Applied(std::vector<LbNamespace> ns, const std::vector<LbMove>& moves) {
  for (const auto& m : moves)
    for (auto& n : ns)
      if (n.nqn == m.nqn && n.nsid == m.nsid) {
        EXPECT_EQ(n.group, m.from);
        n.group = m.to;
      }
  return ns;
}

TEST(LoadBalance, LeastLoadedGroupTiesGoToTheLowestId) {
  EXPECT_EQ(LeastLoadedGroup({}, {}), 0u);
  EXPECT_EQ(LeastLoadedGroup({}, {3, 2, 5}), 2u);
  auto ns = Cat(InGroup(kA, 1, 2, 1), InGroup(kA, 10, 1, 2));
  EXPECT_EQ(LeastLoadedGroup(ns, {1, 2}), 2u);
  EXPECT_EQ(LeastLoadedGroup(ns, {1, 2, 3}), 3u);
  ns.push_back({kB, 1, 2});
  EXPECT_EQ(LeastLoadedGroup(ns, {1, 2}), 1u);  // 2 and 2: the lowest
  // Namespaces in groups nobody can own do not make an eligible group less loaded.
  ns = Cat(InGroup(kA, 1, 5, 7), InGroup(kA, 10, 1, 1));
  EXPECT_EQ(LeastLoadedGroup(ns, {1, 2}), 2u);
  auto loads = GroupLoads(ns, {1, 2});
  EXPECT_EQ(loads[1], 1u);
  EXPECT_EQ(loads[2], 0u);
  EXPECT_EQ(loads[7], 5u);
}

TEST(LoadBalance, BalancedOrEmptyMovesNothing) {
  EXPECT_TRUE(PlanRebalance({}, {1, 2}, 8).empty());
  EXPECT_TRUE(PlanRebalance(InGroup(kA, 1, 4, 1), {}, 8).empty());
  auto ns = Cat(InGroup(kA, 1, 3, 1), InGroup(kA, 10, 2, 2));  // 3 and 2: within one
  EXPECT_TRUE(PlanRebalance(ns, {1, 2}, 8).empty());
  EXPECT_TRUE(PlanRebalance(InGroup(kA, 1, 4, 1), {1}, 8).empty());
}

TEST(LoadBalance, AJoinedGroupGetsItsShareAtMostMaxMovesAtATime) {
  const auto ns = InGroup(kA, 1, 20, 1);
  auto moves = PlanRebalance(ns, {1, 2}, 8);
  ASSERT_EQ(moves.size(), 8u);
  for (const auto& m : moves) {
    EXPECT_EQ(m.from, 1u);
    EXPECT_EQ(m.to, 2u);
  }
  EXPECT_EQ(moves[0].nsid, 20u);  // the highest NSIDs first
  auto after = Applied(ns, moves);
  moves = PlanRebalance(after, {1, 2}, 8);
  ASSERT_EQ(moves.size(), 2u);  // 12/8 -> 10/10
  after = Applied(after, moves);
  EXPECT_TRUE(PlanRebalance(after, {1, 2}, 8).empty());
  auto loads = GroupLoads(after, {1, 2});
  EXPECT_EQ(loads[1], 10u);
  EXPECT_EQ(loads[2], 10u);
}

TEST(LoadBalance, ThreeGroupsEvenOut) {
  auto ns = InGroup(kA, 1, 9, 1);
  for (int round = 0; round < 10; round++) {
    auto moves = PlanRebalance(ns, {1, 2, 3}, 2);
    EXPECT_LE(moves.size(), 2u);
    if (moves.empty()) break;
    ns = Applied(ns, moves);
  }
  auto loads = GroupLoads(ns, {1, 2, 3});
  EXPECT_EQ(loads[1], 3u);
  EXPECT_EQ(loads[2], 3u);
  EXPECT_EQ(loads[3], 3u);
}

TEST(LoadBalance, ALeftGroupIsEmptiedFirstIntoTheLeastLoaded) {
  // Group 3's member left: its namespaces go to 1 and 2, the least loaded each time.
  auto ns = Cat(Cat(InGroup(kA, 1, 2, 1), InGroup(kA, 10, 1, 2)), InGroup(kB, 1, 5, 3));
  auto moves = PlanRebalance(ns, {1, 2}, 3);
  ASSERT_EQ(moves.size(), 3u);
  EXPECT_EQ(moves[0], (LbMove{kB, 1, 3, 2}));
  EXPECT_EQ(moves[1], (LbMove{kB, 2, 3, 1}));
  EXPECT_EQ(moves[2], (LbMove{kB, 3, 3, 2}));
  ns = Applied(ns, moves);
  moves = PlanRebalance(ns, {1, 2}, 8);
  ASSERT_EQ(moves.size(), 2u);
  ns = Applied(ns, moves);
  auto loads = GroupLoads(ns, {1, 2});
  EXPECT_EQ(loads[3], 0u);
  EXPECT_EQ(loads[1], 4u);
  EXPECT_EQ(loads[2], 4u);
}

TEST(LoadBalance, BusyNamespacesStayPut) {
  auto ns = InGroup(kA, 1, 4, 1);
  std::set<std::pair<std::string, uint32_t>> busy = {{kA, 4}, {kA, 3}};
  auto moves = PlanRebalance(ns, {1, 2}, 8, busy);
  ASSERT_EQ(moves.size(), 2u);  // 4/0 -> 2/2 with the free ones, highest NSID first
  EXPECT_EQ(moves[0].nsid, 2u);
  EXPECT_EQ(moves[1].nsid, 1u);
  busy = {{kA, 1}, {kA, 2}, {kA, 3}, {kA, 4}};
  EXPECT_TRUE(PlanRebalance(ns, {1, 2}, 8, busy).empty());
  // A busy namespace in a left group is not moved again.
  EXPECT_TRUE(PlanRebalance({{kA, 1, 9}}, {1}, 8, {{kA, 1}}).empty());
}

TEST(LoadBalance, MovesSpreadEachSubsystem) {
  // Group 1 holds 4 of a and 4 of b; group 2 joins: a and b each give 2.
  auto ns = Cat(InGroup(kA, 1, 4, 1), InGroup(kB, 1, 4, 1));
  auto moves = PlanRebalance(ns, {1, 2}, 8);
  ASSERT_EQ(moves.size(), 4u);
  size_t a = 0, b = 0;
  for (const auto& m : moves) (m.nqn == kA ? a : b)++;
  EXPECT_EQ(a, 2u);
  EXPECT_EQ(b, 2u);
}

TEST(LoadBalance, ZeroMaxMovesMovesNothing) { EXPECT_TRUE(PlanRebalance(InGroup(kA, 1, 4, 1), {1, 2}, 0).empty()); }

}  // namespace
}  // namespace nvmeof::api
