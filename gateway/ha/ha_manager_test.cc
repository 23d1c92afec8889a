// HaManager against the in-memory GroupStore: several managers (gateways) on one
// MemoryCluster, real threads, short leases. Waits are for conditions (bounded), never for
// fixed times.
#include "gateway/ha/ha_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/common/clock.h"
#include "gateway/ha/ha_test_util.h"
#include "gateway/nvmf/target.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof::ha {
namespace {

constexpr uint64_t kMs = 1'000'000;

// Short, with half a second of slack for a renewal on a loaded machine.
Timing Short() {
  Timing t;
  t.lease_ns = 1000 * kMs;
  t.renew_ns = 250 * kMs;
  t.margin_ns = 250 * kMs;
  return t;
}

struct Gw {
  std::string name;
  FakeAna ana;
  std::unique_ptr<HaManager> ha;
  std::vector<std::string> addrs;  // as registered
};

class HaManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_ = NewMemoryCluster(NowNs); }

  Gw& Start(const std::string& name) {
    auto gw = std::make_unique<Gw>();
    gw->name = name;
    HaOptions o;
    o.name = name;
    o.timing = Short();
    o.listeners = {"tcp:127.0.0.1:4420"};
    gw->ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster_), &gw->ana);
    Status s = gw->ha->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    gw->addrs = gw->ha->member().addresses;
    gws_.push_back(std::move(gw));
    return *gws_.back();
  }

  // Each group served by exactly one of the running gateways (by their ANA tables).
  bool OneOwnerEach(const std::vector<Gw*>& running, const std::set<uint32_t>& groups) {
    for (uint32_t g : groups) {
      int owners = 0;
      for (Gw* gw : running) owners += gw->ana.Optimized(g) ? 1 : 0;
      if (owners != 1) return false;
    }
    return true;
  }
  bool Owns(Gw& gw, std::set<uint32_t> groups) {
    auto o = gw.ha->Owned();
    return std::set<uint32_t>(o.begin(), o.end()) == groups;
  }

  std::shared_ptr<MemoryCluster> cluster_;
  std::vector<std::unique_ptr<Gw>> gws_;
};

TEST_F(HaManagerTest, HomeGroupsAndControllerRangesAreDisjointAndKept) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  EXPECT_EQ(a.ha->member().home_group, 1u);
  EXPECT_EQ(b.ha->member().home_group, 2u);
  EXPECT_LT(a.ha->member().max_cntlid, b.ha->member().min_cntlid);
  a.ha->Stop(true);
  Gw& a2 = Start("a");  // a restart keeps the home group
  EXPECT_EQ(a2.ha->member().home_group, 1u);
  EXPECT_TRUE(MemoryBlocklist(*cluster_).empty());  // a planned stop leaves nothing to fence
}

TEST_F(HaManagerTest, EachGatewayOwnsItsHomeGroup) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  EXPECT_TRUE(OneOwnerEach({&a, &b}, {1, 2}));
}

TEST_F(HaManagerTest, KilledOwnerIsFencedAndItsGroupTakenOver) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  uint32_t changes = b.ana.Changes(1);
  a.ha->Stop(false);  // no release: its leases run out
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  auto bl = MemoryBlocklist(*cluster_);
  EXPECT_EQ(bl, std::set<std::string>(a.addrs.begin(), a.addrs.end()));
  EXPECT_EQ(b.ana.Changes(1), changes + 1);  // one ANA change for the takeover
}

TEST_F(HaManagerTest, PlannedStopHandsOverWithoutFencing) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  a.ha->Stop(true);
  EXPECT_FALSE(a.ana.Optimized(1));
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  EXPECT_TRUE(MemoryBlocklist(*cluster_).empty());
}

TEST_F(HaManagerTest, ReturningHomeGatewayGetsItsGroupBack) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  a.ha->Stop(true);
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  Gw& a2 = Start("a");
  ASSERT_TRUE(WaitFor([&] { return Owns(a2, {1}) && Owns(b, {2}); }));
  EXPECT_TRUE(OneOwnerEach({&a2, &b}, {1, 2}));
  EXPECT_TRUE(MemoryBlocklist(*cluster_).empty());
}

TEST_F(HaManagerTest, BlocklistedOwnerSelfFencesAndRecovers) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  MemoryBlocklistAdd(*cluster_, a.addrs.at(0));  // a Ceph-side partition of a's client
  ASSERT_TRUE(WaitFor([&] { return a.ha->reconnects() >= 1; }));
  // a is still the home gateway and alive (its new client heartbeats): it takes its group
  // again once its old lease ran out and it drained.
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  EXPECT_NE(a.ha->member().addresses, a.addrs);  // a new client
  EXPECT_TRUE(OneOwnerEach({&a, &b}, {1, 2}));
}

TEST_F(HaManagerTest, FourGatewaysTwoKilled) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  Gw& c = Start("c");
  Gw& d = Start("d");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}) && Owns(c, {3}) && Owns(d, {4}); }));
  a.ha->Stop(false);
  b.ha->Stop(false);
  ASSERT_TRUE(WaitFor([&] {
    auto oc = c.ha->Owned(), od = d.ha->Owned();
    return oc.size() + od.size() == 4 && OneOwnerEach({&c, &d}, {1, 2, 3, 4});
  }));
  // The survivors share the orphans: fewest groups held first.
  EXPECT_EQ(c.ha->Owned().size(), 2u);
  EXPECT_EQ(d.ha->Owned().size(), 2u);
  std::set<std::string> expect(a.addrs.begin(), a.addrs.end());
  expect.insert(b.addrs.begin(), b.addrs.end());
  EXPECT_EQ(MemoryBlocklist(*cluster_), expect);
  // The two come back and get their groups.
  Gw& a2 = Start("a");
  Gw& b2 = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a2, {1}) && Owns(b2, {2}) && Owns(c, {3}) && Owns(d, {4}); }));
}

// On the real ANA table: one change per transition, none when nothing changes.
TEST(TargetAnaControl, OneChangePerTransition) {
  Target target{TargetOptions{}};
  auto ana = NewTargetAnaControl(target);
  uint64_t c0 = target.ana().change_count();
  ana->SetGroupOptimized(3, false);
  EXPECT_EQ(target.ana().change_count(), c0 + 1);
  EXPECT_EQ(target.AnaState("nqn.2016-06.io.test:any", 3), nvme::kAnaInaccessible);
  ana->SetGroupOptimized(3, false);
  EXPECT_EQ(target.ana().change_count(), c0 + 1);
  ana->SetGroupOptimized(3, true);
  EXPECT_EQ(target.ana().change_count(), c0 + 2);
  EXPECT_EQ(target.AnaState("nqn.2016-06.io.test:any", 3), nvme::kAnaOptimized);
}

// What load balancing reads: the members (home groups) and the live ones, as last read.
TEST_F(HaManagerTest, MembersAndLiveMembersAsLastRead) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  auto both = [&](Gw& gw) {
    std::set<uint32_t> homes;
    for (const auto& m : gw.ha->Members()) homes.insert(m.home_group);
    return homes == std::set<uint32_t>{1, 2} && gw.ha->AliveMembers() == std::set<std::string>{"a", "b"};
  };
  EXPECT_TRUE(WaitFor([&] { return both(a) && both(b); }));
  b.ha->Stop(true);  // left the membership lease; its record (home group) stays
  EXPECT_TRUE(WaitFor([&] { return a.ha->AliveMembers() == std::set<std::string>{"a"}; }));
  EXPECT_EQ(a.ha->Members().size(), 2u);
}

}  // namespace
}  // namespace nvmeof::ha
