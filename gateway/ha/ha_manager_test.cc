// HaManager against the in-memory GroupStore: several managers (gateways) on one
// MemoryCluster, real threads, short leases. Waits are for conditions (bounded), never for
// fixed times.
#include "gateway/ha/ha_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
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
    o.listeners = [] { return std::vector<std::string>{"tcp:127.0.0.1:4420"}; };
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

TEST_F(HaManagerTest, FailbackWaitsUntilTheHomeHasTheHosts) {
  // Hosts served per gateway (every group), changed by the test.
  auto mu = std::make_shared<std::mutex>();
  auto hosts = std::make_shared<std::map<std::string, std::vector<std::string>>>();
  auto start = [&](const std::string& name) -> Gw& {
    auto gw = std::make_unique<Gw>();
    gw->name = name;
    HaOptions o;
    o.name = name;
    o.timing = Short();
    o.timing.failback_host_wait_ns = 3'600'000 * kMs;  // never within the test
    o.hosts = [hosts, mu, name](uint32_t) {
      std::lock_guard lk(*mu);
      return (*hosts)[name];
    };
    gw->ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster_), &gw->ana);
    EXPECT_TRUE(gw->ha->Start().ok());
    gws_.push_back(std::move(gw));
    return *gws_.back();
  };
  auto set_hosts = [&](const std::string& name, std::vector<std::string> h) {
    std::lock_guard lk(*mu);
    (*hosts)[name] = std::move(h);
  };
  set_hosts("a", {"nqn.s host1"});
  set_hosts("b", {"nqn.s host1"});
  Gw& a = start("a");
  Gw& b = start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  a.ha->Stop(true);
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  // a restarts; host1 has not reconnected to it yet.
  set_hosts("a", {});
  Gw& a2 = start("a");
  auto a_seen_by_b = [&](const std::vector<std::string>& want) {
    for (auto& m : b.ha->Members())
      if (m.info.name == "a") return m.alive && m.info.hosts == want;
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return a_seen_by_b({}); }));
  EXPECT_TRUE(Owns(b, {1, 2}));  // b keeps serving a's group: the host has no path to a yet
  EXPECT_FALSE(a2.ana.Optimized(1));
  // host1 reconnects to a (another host connected to a only does not matter): b fails back.
  set_hosts("a", {"nqn.s host0", "nqn.s host1"});
  ASSERT_TRUE(WaitFor([&] { return Owns(a2, {1}) && Owns(b, {2}); }));
  EXPECT_TRUE(OneOwnerEach({&a2, &b}, {1, 2}));
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

// Gateways registering at once (two new daemons started together) get distinct home groups
// and so disjoint controller-ID ranges: the registration is serialised in the store.
TEST_F(HaManagerTest, ConcurrentRegistrationsGetDistinctHomeGroups) {
  constexpr int kN = 6;
  std::vector<std::unique_ptr<Gw>> gws;
  for (int i = 0; i < kN; i++) {
    auto gw = std::make_unique<Gw>();
    HaOptions o;
    o.name = "gw" + std::to_string(i);
    o.timing = Short();
    gw->ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster_), &gw->ana);
    gws.push_back(std::move(gw));
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(kN);
  for (int i = 0; i < kN; i++) threads.emplace_back([&, i] { results[i] = gws[i]->ha->Register(); });
  for (auto& t : threads) t.join();
  std::set<uint32_t> homes;
  std::vector<std::pair<uint16_t, uint16_t>> ranges;
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    MemberInfo m = gws[i]->ha->member();
    homes.insert(m.home_group);
    ranges.emplace_back(m.min_cntlid, m.max_cntlid);
  }
  EXPECT_EQ(homes, (std::set<uint32_t>{1, 2, 3, 4, 5, 6}));
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) EXPECT_LT(ranges[i - 1].second, ranges[i].first);
  // Registered, not alive: nobody takes a lease before Start; Start keeps the home group.
  for (auto& gw : gws) EXPECT_TRUE(gw->ha->Owned().empty());
  uint32_t home0 = gws[0]->ha->member().home_group;
  ASSERT_TRUE(gws[0]->ha->Start().ok());
  EXPECT_EQ(gws[0]->ha->member().home_group, home0);
  ASSERT_TRUE(WaitFor([&] { return gws[0]->ha->Owned().size() == kN; }));  // it serves the orphans
}

// A group that appears after the start (a namespace added in another ANA group) is managed
// from the next round: one owner, and listed in Groups().
TEST_F(HaManagerTest, GroupAddedLaterIsManaged) {
  auto extra = std::make_shared<std::atomic<uint32_t>>(0);
  auto start = [&](const std::string& name) -> Gw& {
    auto gw = std::make_unique<Gw>();
    HaOptions o;
    o.name = name;
    o.timing = Short();
    o.groups = [extra] { return extra->load() ? std::vector<uint32_t>{extra->load()} : std::vector<uint32_t>{}; };
    gw->ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster_), &gw->ana);
    EXPECT_TRUE(gw->ha->Start().ok());
    gws_.push_back(std::move(gw));
    return *gws_.back();
  };
  Gw& a = start("a");
  Gw& b = start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  extra->store(7);
  auto listed = [](Gw& gw) {
    for (auto& g : gw.ha->Groups())
      if (g.group == 7) return true;
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return OneOwnerEach({&a, &b}, {1, 2, 7}) && listed(a) && listed(b); }));
}

// Listener changes after the start reach the member record; Members() shows every member
// with its home group, range, listeners and liveness; Groups() the owner, its lease age and
// the owner changes.
TEST_F(HaManagerTest, StatusAndListenerChanges) {
  auto listeners = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"tcp:10.0.0.1:4420"});
  auto mu = std::make_shared<std::mutex>();
  auto gw = std::make_unique<Gw>();
  HaOptions o;
  o.name = "a";
  o.timing = Short();
  o.listeners = [listeners, mu] {
    std::lock_guard lk(*mu);
    return *listeners;
  };
  gw->ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster_), &gw->ana);
  ASSERT_TRUE(gw->ha->Start().ok());
  gws_.push_back(std::move(gw));
  Gw& a = *gws_.back();
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  {
    std::lock_guard lk(*mu);
    listeners->push_back("tcp:10.0.0.2:4420");
  }
  auto a_listeners_seen_by_b = [&] {
    for (auto& m : b.ha->Members())
      if (m.info.name == "a") return m.info.listeners;
    return std::vector<std::string>{};
  };
  ASSERT_TRUE(WaitFor([&] { return a_listeners_seen_by_b().size() == 2; }));
  EXPECT_EQ(a_listeners_seen_by_b(), (std::vector<std::string>{"tcp:10.0.0.1:4420", "tcp:10.0.0.2:4420"}));
  auto ms = b.ha->Members();
  ASSERT_EQ(ms.size(), 2u);
  for (auto& m : ms) {
    EXPECT_TRUE(m.alive);
    EXPECT_EQ(m.info.home_group, m.info.name == "a" ? 1u : 2u);
    EXPECT_NE(m.info.min_cntlid, 0);
  }
  for (auto& g : a.ha->Groups()) {
    if (g.group != 1) continue;
    EXPECT_EQ(g.owner, "a");
    EXPECT_EQ(g.role, Role::kOwner);
    EXPECT_LT(g.lease_age_ns, Short().lease_ns);
    EXPECT_FALSE(g.last_reason.empty());
  }
  a.ha->Stop(false);
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  for (auto& g : b.ha->Groups()) {
    if (g.group != 1) continue;
    EXPECT_EQ(g.owner, "b");
    EXPECT_GE(g.owner_changes, 2u);  // nobody -> a (observed), a -> b
  }
  ASSERT_TRUE(WaitFor([&] {
    for (auto& m : b.ha->Members())
      if (m.info.name == "a") return !m.alive;
    return false;
  }));
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

// Drain is the Target's: an idle group drains at once, a group unknown to the core is
// logged and the hand-over goes on.
TEST(TargetAnaControl, DrainUsesTheTarget) {
  Target target{TargetOptions{}};
  auto ana = NewTargetAnaControl(target, 0);
  ana->SetGroupOptimized(3, false);
  ana->Drain(3);
  ana->Drain(0);
}

// What load balancing reads: the members (home groups) and the live ones, as last read.
TEST_F(HaManagerTest, MembersAndLiveMembersAsLastRead) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  auto both = [&](Gw& gw) {
    std::set<uint32_t> homes;
    for (const auto& m : gw.ha->Members()) homes.insert(m.info.home_group);
    return homes == std::set<uint32_t>{1, 2} && gw.ha->AliveMembers() == std::set<std::string>{"a", "b"};
  };
  EXPECT_TRUE(WaitFor([&] { return both(a) && both(b); }));
  b.ha->Stop(true);  // left the membership lease; its record (home group) stays
  EXPECT_TRUE(WaitFor([&] { return a.ha->AliveMembers() == std::set<std::string>{"a"}; }));
  EXPECT_EQ(a.ha->Members().size(), 2u);
}

}  // namespace
}  // namespace nvmeof::ha
