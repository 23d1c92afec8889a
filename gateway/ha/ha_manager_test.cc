// HaManager against the in-memory GroupStore: several managers (gateways) on one
// MemoryCluster, real threads, short leases. Waits are for conditions (bounded), never for
// fixed times.
#include "gateway/ha/ha_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
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
  // Two ANA changes for the takeover: Change from the decision (before fencing), then OPTIMIZED.
  EXPECT_EQ(b.ana.Changes(1), changes + 2);
  auto h = b.ana.History(1);
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h[h.size() - 2], nvme::kAnaChange);
  EXPECT_EQ(h.back(), nvme::kAnaOptimized);
}

TEST_F(HaManagerTest, PlannedStopHandsOverWithoutFencing) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  a.ha->Stop(true);
  EXPECT_FALSE(a.ana.Optimized(1));
  // The holder: taken (Change, OPTIMIZED), then ANA Change while it drained, INACCESSIBLE once drained.
  EXPECT_EQ(a.ana.History(1), (std::vector<uint8_t>{nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaOptimized,
                                                    nvme::kAnaChange, nvme::kAnaInaccessible}));
  EXPECT_EQ(a.ana.Drains(1), 1u);
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  auto h = b.ana.History(1);  // the taker: Change, then OPTIMIZED
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h[h.size() - 2], nvme::kAnaChange);
  EXPECT_EQ(h.back(), nvme::kAnaOptimized);
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
  ana->SetGroupState(3, nvme::kAnaInaccessible);
  EXPECT_EQ(target.ana().change_count(), c0 + 1);
  EXPECT_EQ(target.AnaState("nqn.2016-06.io.test:any", 3), nvme::kAnaInaccessible);
  ana->SetGroupState(3, nvme::kAnaInaccessible);
  EXPECT_EQ(target.ana().change_count(), c0 + 1);
  ana->SetGroupState(3, nvme::kAnaChange);
  EXPECT_EQ(target.ana().change_count(), c0 + 2);
  EXPECT_EQ(target.AnaState("nqn.2016-06.io.test:any", 3), nvme::kAnaChange);
  ana->SetGroupState(3, nvme::kAnaOptimized);
  EXPECT_EQ(target.ana().change_count(), c0 + 3);
  EXPECT_EQ(target.AnaState("nqn.2016-06.io.test:any", 3), nvme::kAnaOptimized);
}

// Drain is the Target's: an idle group drains at once, a group unknown to the core is
// logged and the hand-over goes on.
TEST(TargetAnaControl, DrainUsesTheTarget) {
  Target target{TargetOptions{}};
  auto ana = NewTargetAnaControl(target, 0);
  ana->SetGroupState(3, nvme::kAnaInaccessible);
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


// A memory store whose Blocklist waits until the test opens the gate (a fence that takes
// long: an OSD busy dropping the fenced gateway's watches), and that counts renewals.
class SlowFenceStore final : public GroupStore {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    bool fencing = false;  // a Blocklist call is waiting at the gate
    std::atomic<uint64_t> renewals{0};
  };
  SlowFenceStore(std::unique_ptr<GroupStore> s, std::shared_ptr<Shared> sh) : s_(std::move(s)), sh_(std::move(sh)) {}
  Result<MemberInfo> Register(const MemberInfo& me, MemberInfo* prev) override { return s_->Register(me, prev); }
  Status UpdateMember(const MemberInfo& me) override { return s_->UpdateMember(me); }
  Status RemoveMember(const std::string& name) override { return s_->RemoveMember(name); }
  Result<std::vector<MemberInfo>> Members() override { return s_->Members(); }
  Status Heartbeat(const Holder& me, uint64_t d) override { return s_->Heartbeat(me, d); }
  Status Leave(const Holder& me) override { return s_->Leave(me); }
  Result<std::vector<Holder>> Alive() override { return s_->Alive(); }
  Result<LeaseView> ReadLease(uint32_t g) override { return s_->ReadLease(g); }
  LeaseResult Acquire(uint32_t g, const Holder& me, const std::vector<std::string>& a, uint64_t d) override {
    return s_->Acquire(g, me, a, d);
  }
  LeaseResult Renew(uint32_t g, const Holder& me, uint64_t d) override {
    sh_->renewals++;
    return s_->Renew(g, me, d);
  }
  Status UpdateRecord(uint32_t g, const Holder& me, const std::vector<std::string>& a,
                      const std::string& to) override {
    return s_->UpdateRecord(g, me, a, to);
  }
  LeaseResult Release(uint32_t g, const Holder& me) override { return s_->Release(g, me); }
  Status RemoveRecords(uint32_t g, const std::vector<std::string>& n) override { return s_->RemoveRecords(g, n); }
  Status Blocklist(const std::vector<std::string>& a, uint32_t e) override {
    {
      std::unique_lock lk(sh_->mu);
      sh_->fencing = true;
      sh_->cv.notify_all();
      sh_->cv.wait(lk, [&] { return sh_->open; });
      sh_->fencing = false;
    }
    return s_->Blocklist(a, e);
  }
  Status Notify() override { return s_->Notify(); }
  void Watch(std::function<void()> cb) override { s_->Watch(std::move(cb)); }
  std::vector<std::string> Addresses() override { return s_->Addresses(); }
  Status Reconnect() override { return s_->Reconnect(); }

 private:
  std::unique_ptr<GroupStore> s_;
  std::shared_ptr<Shared> sh_;
};

// While a fence is stuck, the gateway keeps renewing the group it owns (it does not
// self-fence it), and takes the dead peer's group once the fence completes.
TEST_F(HaManagerTest, SlowFenceHoldsNoRenewalBack) {
  Gw& a = Start("a");
  auto sh = std::make_shared<SlowFenceStore::Shared>();
  Gw b;
  b.name = "b";
  HaOptions o;
  o.name = "b";
  o.timing = Short();
  b.ha = std::make_unique<HaManager>(o, std::make_unique<SlowFenceStore>(NewMemoryGroupStore(cluster_), sh), &b.ana);
  struct OpenAtExit {  // a failed assertion must not leave b's fencer stuck at the gate
    SlowFenceStore::Shared& sh;
    ~OpenAtExit() {
      std::lock_guard lk(sh.mu);
      sh.open = true;
      sh.cv.notify_all();
    }
  } open_at_exit{*sh};
  ASSERT_TRUE(b.ha->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }));
  a.ha->Stop(false);  // its lease runs out; b fences it, and the fence hangs
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(sh->mu);
    return sh->fencing;
  }));
  // Several lease durations' worth of renewals while the fence waits: group 2 stays b's.
  const uint64_t before = sh->renewals.load();
  ASSERT_TRUE(WaitFor([&] { return sh->renewals.load() >= before + 8; }));
  {
    std::lock_guard lk(sh->mu);
    EXPECT_TRUE(sh->fencing);
  }
  EXPECT_TRUE(Owns(b, {2}));
  EXPECT_TRUE(b.ana.Optimized(2));
  EXPECT_FALSE(b.ana.Optimized(1));
  {
    std::lock_guard lk(sh->mu);
    sh->open = true;
    sh->cv.notify_all();
  }
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }));
  b.ha->Stop(false);
}

}  // namespace
}  // namespace nvmeof::ha

namespace nvmeof::ha {
namespace {

// An AnaControl whose PrepareToServe opens a "new RADOS client" (an address the gateway
// reports from then on), as the daemon's reopening of blocklisted images does; at every
// OPTIMIZED it checks, through a store of its own, that the member record and the group's
// lease record already hold every address reported.
class PreparingAna final : public AnaControl {
 public:
  explicit PreparingAna(std::shared_ptr<MemoryCluster> cluster) : observer_(NewMemoryGroupStore(std::move(cluster))) {}
  void SetGroupState(uint32_t g, uint8_t ana_state) override {
    if (ana_state == nvme::kAnaOptimized) {
      std::vector<std::string> want = Addresses();
      bool in_member = false, in_record = false;
      if (auto ms = observer_->Members(); ms.ok())
        for (auto& m : *ms)
          if (m.name == "a") in_member = Contains(m.addresses, want);
      if (auto lv = observer_->ReadLease(g); lv.ok())
        if (auto it = lv->records.find("a"); it != lv->records.end()) in_record = Contains(it->second.addresses, want);
      std::lock_guard lk(mu_);
      if (!in_member || !in_record) unregistered_at_optimized_++;
    }
    inner_.SetGroupState(g, ana_state);
  }
  void Drain(uint32_t g) override { inner_.Drain(g); }
  Status PrepareToServe(uint32_t g) override {
    std::lock_guard lk(mu_);
    prepared_[g]++;
    if (inner_.Optimized(g)) prepared_while_optimized_++;
    if (reopen_) {  // the images move to a new client
      addresses_.push_back("rbd-client-" + std::to_string(++clients_));
      reopen_ = false;
    }
    return Status::OK();
  }
  std::vector<std::string> Addresses() {
    std::lock_guard lk(mu_);
    return addresses_;
  }
  void AddAddress(const std::string& a) {
    std::lock_guard lk(mu_);
    addresses_.push_back(a);
  }
  void ReopenAtNextPrepare() {
    std::lock_guard lk(mu_);
    reopen_ = true;
  }
  uint32_t Prepared(uint32_t g) {
    std::lock_guard lk(mu_);
    return prepared_[g];
  }
  uint32_t unregistered_at_optimized() {
    std::lock_guard lk(mu_);
    return unregistered_at_optimized_;
  }
  uint32_t prepared_while_optimized() {
    std::lock_guard lk(mu_);
    return prepared_while_optimized_;
  }
  bool Optimized(uint32_t g) { return inner_.Optimized(g); }

 private:
  static bool Contains(const std::vector<std::string>& have, const std::vector<std::string>& want) {
    for (auto& w : want)
      if (std::find(have.begin(), have.end(), w) == have.end()) return false;
    return true;
  }
  FakeAna inner_;
  std::unique_ptr<GroupStore> observer_;
  std::mutex mu_;
  std::vector<std::string> addresses_{"rbd-client-0"};
  uint32_t clients_ = 0;
  bool reopen_ = true;  // the first preparation opens a new client
  std::map<uint32_t, uint32_t> prepared_;
  uint32_t unregistered_at_optimized_ = 0;
  uint32_t prepared_while_optimized_ = 0;
};

struct PreparingGw {
  std::unique_ptr<PreparingAna> ana;
  std::unique_ptr<HaManager> ha;
};

PreparingGw StartPreparing(std::shared_ptr<MemoryCluster> cluster) {
  PreparingGw gw;
  gw.ana = std::make_unique<PreparingAna>(cluster);
  HaOptions o;
  o.name = "a";
  o.timing = Short();
  PreparingAna* ana = gw.ana.get();
  o.client_addresses = [ana] { return ana->Addresses(); };
  gw.ha = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster), ana);
  Status s = gw.ha->Start();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return gw;
}

// Before a group turns OPTIMIZED the backend is asked to move off blocklisted clients, and
// the clients it then uses are registered (member record and lease record) first.
TEST(HaManagerPrepare, PrepareToServeBeforeOptimizedAndItsClientsRegisteredFirst) {
  auto cluster = NewMemoryCluster(NowNs);
  PreparingGw a = StartPreparing(cluster);
  ASSERT_TRUE(WaitFor([&] { return a.ana->Optimized(1); }));
  EXPECT_GE(a.ana->Prepared(1), 1u);
  EXPECT_EQ(a.ana->prepared_while_optimized(), 0u);
  EXPECT_EQ(a.ana->unregistered_at_optimized(), 0u);
  auto addrs = a.ha->member().addresses;
  EXPECT_EQ(std::count(addrs.begin(), addrs.end(), "rbd-client-1"), 1);

  // Fenced from outside: self-fences, rejoins as a new client; the backend moves to a new
  // client while rejoining and again before the group is served, each registered first.
  const uint32_t before = a.ana->Prepared(1);
  a.ana->ReopenAtNextPrepare();
  for (const auto& x : a.ha->member().addresses) MemoryBlocklistAdd(*cluster, x);
  ASSERT_TRUE(WaitFor([&] { return a.ha->reconnects() >= 1; }));
  ASSERT_TRUE(WaitFor([&] { return a.ana->Optimized(1) && a.ana->Prepared(1) >= before + 2; }));
  EXPECT_EQ(a.ana->unregistered_at_optimized(), 0u);
  addrs = a.ha->member().addresses;
  EXPECT_EQ(std::count(addrs.begin(), addrs.end(), "rbd-client-2"), 1);
  a.ha->Stop(true);
}

// A client opened while the gateway serves a group (a namespace added, an image reopened):
// AddressesChanged() returns once its address is in the member record and in the record of
// every lease held, not at the next round.
TEST(HaManagerPrepare, AddressesChangedRegistersBeforeReturning) {
  auto cluster = NewMemoryCluster(NowNs);
  PreparingGw a = StartPreparing(cluster);
  ASSERT_TRUE(WaitFor([&] { return a.ana->Optimized(1); }));
  auto observer = NewMemoryGroupStore(cluster);
  for (int i = 0; i < 5; ++i) {
    const std::string addr = "rbd-late-" + std::to_string(i);
    a.ana->AddAddress(addr);
    a.ha->AddressesChanged();
    auto ms = observer->Members();
    ASSERT_TRUE(ms.ok());
    ASSERT_EQ(ms->size(), 1u);
    EXPECT_EQ(std::count((*ms)[0].addresses.begin(), (*ms)[0].addresses.end(), addr), 1) << addr;
    auto lv = observer->ReadLease(1);
    ASSERT_TRUE(lv.ok());
    auto it = lv->records.find("a");
    ASSERT_NE(it, lv->records.end());
    EXPECT_EQ(std::count(it->second.addresses.begin(), it->second.addresses.end(), addr), 1) << addr;
  }
  EXPECT_GE(a.ha->address_updates(), 5u);
  a.ha->Stop(true);
  a.ha->AddressesChanged();  // after Stop: returns at once
}

}  // namespace
}  // namespace nvmeof::ha

namespace nvmeof::ha {
namespace {

// An operator removes a dead gateway's record: refused while it is alive (and for the
// gateway itself), its home group free afterwards (the next new gateway gets it).
TEST(HaManagerRemoveMember, OnlyDeadMembersAndTheirHomeGroupIsFreed) {
  auto cluster = NewMemoryCluster(NowNs);
  std::vector<std::unique_ptr<FakeAna>> anas;
  auto start = [&](const std::string& name) {
    HaOptions o;
    o.name = name;
    o.timing = Short();
    anas.push_back(std::make_unique<FakeAna>());
    auto m = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster), anas.back().get());
    EXPECT_TRUE(m->Start().ok());
    return m;
  };
  auto a = start("a");
  auto b = start("b");
  ASSERT_EQ(b->member().home_group, 2u);
  ASSERT_TRUE(WaitFor([&] { return a->AliveMembers().count("b") == 1; }));
  EXPECT_TRUE(a->RemoveMember("b").Is(errc::kMemberAlive));
  EXPECT_TRUE(a->RemoveMember("a").Is(errc::kMemberAlive));
  EXPECT_TRUE(a->RemoveMember("nobody").Is(errc::kMemberNotFound));
  b->Stop(false);  // dies
  ASSERT_TRUE(WaitFor([&] { return a->AliveMembers().count("b") == 0; }));
  ASSERT_TRUE(a->RemoveMember("b").ok());
  ASSERT_TRUE(WaitFor([&] { return a->Members().size() == 1; }));
  auto c = start("c");
  EXPECT_EQ(c->member().home_group, 2u);  // b's group, free again
  c->Stop(true);
  a->Stop(true);
}

}  // namespace
}  // namespace nvmeof::ha

namespace nvmeof::ha {
namespace {

// A store that fails every call once cut off (a gateway the cluster no longer hears: its
// leases run out, its records stay).
class CutOffStore final : public GroupStore {
 public:
  CutOffStore(std::unique_ptr<GroupStore> s, std::shared_ptr<std::atomic<bool>> cut) : s_(std::move(s)), cut_(cut) {}
  Result<MemberInfo> Register(const MemberInfo& me, MemberInfo* prev) override {
    if (*cut_) return Err();
    return s_->Register(me, prev);
  }
  Status UpdateMember(const MemberInfo& me) override { return *cut_ ? Err() : s_->UpdateMember(me); }
  Status RemoveMember(const std::string& name) override { return *cut_ ? Err() : s_->RemoveMember(name); }
  Result<std::vector<MemberInfo>> Members() override {
    if (*cut_) return Err();
    return s_->Members();
  }
  Status Heartbeat(const Holder& me, uint64_t d) override { return *cut_ ? Err() : s_->Heartbeat(me, d); }
  Status Leave(const Holder& me) override { return *cut_ ? Err() : s_->Leave(me); }
  Result<std::vector<Holder>> Alive() override {
    if (*cut_) return Err();
    return s_->Alive();
  }
  Result<LeaseView> ReadLease(uint32_t g) override {
    if (*cut_) return Err();
    return s_->ReadLease(g);
  }
  LeaseResult Acquire(uint32_t g, const Holder& me, const std::vector<std::string>& a, uint64_t d) override {
    return *cut_ ? LeaseResult::kError : s_->Acquire(g, me, a, d);
  }
  LeaseResult Renew(uint32_t g, const Holder& me, uint64_t d) override {
    return *cut_ ? LeaseResult::kError : s_->Renew(g, me, d);
  }
  Status UpdateRecord(uint32_t g, const Holder& me, const std::vector<std::string>& a,
                      const std::string& to) override {
    return *cut_ ? Err() : s_->UpdateRecord(g, me, a, to);
  }
  LeaseResult Release(uint32_t g, const Holder& me) override {
    return *cut_ ? LeaseResult::kError : s_->Release(g, me);
  }
  Status RemoveRecords(uint32_t g, const std::vector<std::string>& n) override {
    return *cut_ ? Err() : s_->RemoveRecords(g, n);
  }
  Status Blocklist(const std::vector<std::string>& a, uint32_t e) override { return *cut_ ? Err() : s_->Blocklist(a, e); }
  Status Notify() override { return *cut_ ? Err() : s_->Notify(); }
  void Watch(std::function<void()> cb) override { s_->Watch(std::move(cb)); }
  std::vector<std::string> Addresses() override { return s_->Addresses(); }
  Status Reconnect() override { return s_->Reconnect(); }

 private:
  static Status Err() { return Status::Error(errc::kCeph, "cut off from the cluster", ETIMEDOUT); }
  std::unique_ptr<GroupStore> s_;
  std::shared_ptr<std::atomic<bool>> cut_;
};

struct GatedGw {
  GatedAna ana;
  std::unique_ptr<HaManager> ha;
};

std::unique_ptr<HaManager> NewGated(const std::string& name, std::unique_ptr<GroupStore> store, GatedAna& ana,
                                    uint64_t change_max_ns = Timing{}.change_max_ns) {
  HaOptions o;
  o.name = name;
  o.timing = Short();
  o.timing.change_max_ns = change_max_ns;
  auto ha = std::make_unique<HaManager>(o, std::move(store), &ana);
  Status s = ha->Start();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ha;
}

std::optional<HaManager::GroupStatus> GroupOf(HaManager& ha, uint32_t g) {
  for (auto& s : ha.Groups())
    if (s.group == g) return s;
  return std::nullopt;
}

// Opens every gate when the test ends (a failed assertion must not leave a drain waiting:
// the managers' threads are joined at their destruction).
struct OpenGates {
  std::vector<GatedAna*> anas;
  ~OpenGates() {
    for (auto* a : anas) a->Hold(false);
  }
};

// A planned stop: the taker reports ANA Change while the holder still drains (it read the
// holder's mark), then OPTIMIZED once the holder released; one Change on each side, no
// fencing. Both show the hand-over in Groups().
TEST(HaManagerHandover, TakerReportsChangeWhileTheHolderDrains) {
  auto cluster = NewMemoryCluster(NowNs);
  GatedGw a, b;
  OpenGates gates{{&a.ana, &b.ana}};
  a.ha = NewGated("a", NewMemoryGroupStore(cluster), a.ana);
  b.ha = NewGated("b", NewMemoryGroupStore(cluster), b.ana);
  ASSERT_TRUE(WaitFor([&] { return a.ana.rec.Optimized(1) && b.ana.rec.Optimized(2); }));
  a.ana.Hold(true);
  std::thread stop([&] { a.ha->Stop(true); });
  EXPECT_TRUE(WaitFor([&] { return a.ana.Draining() && b.ana.rec.State(1) == nvme::kAnaChange; }));
  EXPECT_EQ(a.ana.rec.State(1), nvme::kAnaChange);  // both paths in Change while a drains
  auto st = GroupOf(*b.ha, 1);
  EXPECT_TRUE(st);
  if (st) {
    EXPECT_EQ(st->role, Role::kReceiving);
    EXPECT_EQ(st->ana_state, nvme::kAnaChange);
    EXPECT_EQ(st->owner, "a");
    EXPECT_EQ(st->handover_from, "a");
    EXPECT_EQ(st->handover_to, "b");
  }
  a.ana.Hold(false);
  stop.join();
  ASSERT_TRUE(WaitFor([&] { return b.ana.rec.Optimized(1); }));
  EXPECT_EQ(b.ana.rec.History(1), (std::vector<uint8_t>{nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaOptimized}));
  EXPECT_EQ(a.ana.rec.History(1), (std::vector<uint8_t>{nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaOptimized,
                                                        nvme::kAnaChange, nvme::kAnaInaccessible}));
  EXPECT_TRUE(MemoryBlocklist(*cluster).empty());
  ASSERT_TRUE(WaitFor([&] { return GroupOf(*b.ha, 1)->handover_to.empty(); }));
  b.ha->Stop(false);
}

// A failback whose holder is cut off from the cluster mid-drain: the taker (the home
// gateway) reports Change from the holder's mark; its window (short here) is cut to
// INACCESSIBLE while the holder still drains; the holder's lease then expires with its
// marked record, and the taker fences it and serves, without a second Change.
TEST(HaManagerHandover, HolderCutOffMidDrainIsFencedAndTheTakersWindowStaysCapped) {
  auto cluster = NewMemoryCluster(NowNs);
  auto cut = std::make_shared<std::atomic<bool>>(false);
  GatedGw a, b, a2;
  OpenGates gates{{&a.ana, &b.ana, &a2.ana}};
  a.ha = NewGated("a", NewMemoryGroupStore(cluster), a.ana);
  b.ha = NewGated("b", std::make_unique<CutOffStore>(NewMemoryGroupStore(cluster), cut), b.ana);
  ASSERT_TRUE(WaitFor([&] { return a.ana.rec.Optimized(1) && b.ana.rec.Optimized(2); }));
  a.ha->Stop(true);
  ASSERT_TRUE(WaitFor([&] { return b.ana.rec.Optimized(1); }));
  std::vector<std::string> b_addrs = b.ha->member().addresses;
  // a comes back; b's failback drain hangs.
  b.ana.Hold(true);
  a2.ha = NewGated("a", NewMemoryGroupStore(cluster), a2.ana, 600 * kMs);
  const std::vector<uint8_t> cut_window{nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaInaccessible};
  ASSERT_TRUE(WaitFor([&] { return a2.ana.rec.History(1) == cut_window; })) << a2.ana.rec.History(1).size();
  EXPECT_TRUE(b.ana.Draining());
  EXPECT_EQ(GroupOf(*a2.ha, 1)->role, Role::kReceiving);
  // b is cut off (its lease runs out; its record, with the mark, stays), then its drain ends.
  *cut = true;
  b.ana.Hold(false);
  ASSERT_TRUE(WaitFor([&] { return a2.ana.rec.Optimized(1); }));
  EXPECT_EQ(a2.ana.rec.History(1),
            (std::vector<uint8_t>{nvme::kAnaInaccessible, nvme::kAnaChange, nvme::kAnaInaccessible,
                                  nvme::kAnaOptimized}));
  auto bl = MemoryBlocklist(*cluster);
  for (const auto& addr : b_addrs) EXPECT_EQ(bl.count(addr), 1u) << addr;
  b.ha->Stop(false);
  a2.ha->Stop(false);
}

}  // namespace
}  // namespace nvmeof::ha
