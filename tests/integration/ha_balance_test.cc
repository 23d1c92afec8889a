// Load balancing and member removal of gateway-group HA with real daemons on a real Ceph
// cluster (ctest label ceph, entry ha_daemons_test_balance; the cluster from the fixture
// ha_daemons_ceph, its directory in $NVMEOF_HA_DAEMONS_CEPH_DIR). `nvmeof-gateway` processes
// with `[gateway] ha = builtin` in one group, RBD namespaces added through the gRPC API
// without a load-balancing group, hosts (the project's host library) on each gateway.
//   * NewNamespacesSpreadOverHomeGroups: four namespaces go to home groups 1, 2, 1, 2; each
//     gateway is OPTIMIZED for its own group and INACCESSIBLE for the other, in the hosts'
//     ANA log pages and in both gateways' HA views; I/O is admitted on the owner only.
//   * ChangeGroupUnderWrites: a write stream through the old owner while
//     namespace_change_load_balancing_group moves the namespace to the other gateway's
//     group: the old owner's writes end with ANA path statuses only, the new owner's
//     succeed, the data is the last written; the hand-over record is gone from the state.
//   * ChangeGroupUnderQueuedWrites: the same with eight writes always queued (one LBA each):
//     every completion is a success or an ANA path status; each LBA holds its last success.
//   * RemoveStoppedMember, RemoveKilledMember: a live member (and the gateway itself) cannot
//     be removed (EBUSY, the message), an unknown one is ENOENT; one stopped (SIGTERM) or
//     killed (SIGKILL, removable once its membership lease expired) is removed: its record leaves
//     the members object's omap, its namespaces are moved to the survivor's group, and the
//     next new gateway gets its home group, serves it and gets two namespaces back.
//   * RebalanceWhenAGatewayJoins: six namespaces on one gateway; a second joins; the leader
//     moves three (the highest NSIDs) to it, at most max_ns_to_change_lb_grp hand-overs at
//     once in the group state (6 and 5, then 4 after one of them was drained), ending 3/3
//     on both gateways.
// Every wait is a poll with a generous bound; nothing is asserted about durations. With
// HB_DUMP set in the environment every test prints the daemons' logs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "gateway/ha/rados_group_store.h"
#include "gateway/state/state_keys.h"
#include "tests/integration/ha_daemons.h"

namespace nvmeof::ha_daemons {
namespace {

const char kNqn[] = "nqn.2016-06.io.spdk:habalance";
constexpr uint32_t kBlock = 4096;
constexpr uint64_t kImageSize = 16ull << 20;

using Groups = std::map<uint32_t, uint32_t>;  // NSID -> ANA group

std::string Show(const std::optional<Groups>& g) {
  if (!g) return "(no answer)";
  std::string s;
  for (const auto& [n, a] : *g) s += " " + std::to_string(n) + ":" + std::to_string(a);
  return s.empty() ? "(none)" : s;
}

std::vector<uint8_t> Block(uint32_t v) { return PatternBlock(v, kBlock); }

class HaBalance : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = CephDirFromEnv("NVMEOF_HA_DAEMONS_CEPH_DIR");
    if (dir_.empty()) GTEST_SKIP() << "NVMEOF_HA_DAEMONS_CEPH_DIR is not set (run through ctest -L ceph)";
    test_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    group_ = "hb" + test_ + std::to_string(getpid());
    ASSERT_TRUE(BlocklistClear(dir_));
    obs_ = std::make_unique<Observer>(dir_, "rbd", group_);
    ASSERT_TRUE(obs_->ok()) << obs_->error();
  }
  void TearDown() override {
    if (HasFailure() || getenv("HB_DUMP"))
      for (auto& g : gw_) fprintf(stderr, "---- %s ----\n%s\n", g->name().c_str(), g->LogTail(30000).c_str());
    for (auto& h : host_) h.reset();
    for (auto& g : gw_) g->Stop();
  }

  // A daemon (not started) that rebalances every second, at most max_moves at once.
  Daemon& AddGw(const std::string& name, int max_moves = -1) {
    DaemonConfig c;
    c.name = name;
    c.group = group_;
    c.ceph_dir = dir_;
    c.rebalance_period_sec = 1;
    c.max_ns_to_change_lb_grp = max_moves;
    gw_.push_back(std::make_unique<Daemon>(c));
    host_.emplace_back();
    return *gw_.back();
  }
  void StartGw(size_t i) {
    std::string err;
    ASSERT_TRUE(gw_[i]->Start(&err)) << err;
  }
  // gw1 and gw2 started in that order (home groups 1 and 2), the subsystem with a listener on
  // each and n namespaces added through gw1 without a group.
  void TwoGatewaysWith(int n) {
    AddGw("gw1");
    AddGw("gw2");
    StartGw(0);
    StartGw(1);
    ASSERT_EQ(gw_[0]->Member(*obs_)->home_group, 1u);
    ASSERT_EQ(gw_[1]->Member(*obs_)->home_group, 2u);
    ASSERT_EQ(CreateRbdSubsystem(*gw_[0], {gw_[0].get(), gw_[1].get()}, kNqn, Images(n), kImageSize, 0), "");
  }
  std::vector<std::string> Images(int n) {
    std::vector<std::string> v;
    for (int k = 1; k <= n; ++k) v.push_back("hb-" + test_ + "-" + std::to_string(getpid()) + "-" + std::to_string(k));
    return v;
  }

  std::optional<Groups> GroupsOn(size_t i) { return gw_[i]->api().NamespaceGroups(kNqn); }
  bool WaitGroups(size_t i, const Groups& want, int timeout_ms = 30000) {
    std::optional<Groups> last;
    bool ok = WaitUntil([&] { return (last = GroupsOn(i)) == want; }, timeout_ms, 50);
    if (!ok) ADD_FAILURE() << gw_[i]->name() << " serves" << Show(last) << ", want" << Show(want);
    return ok;
  }

  void ConnectHost(size_t i) {
    std::string err;
    // The listener is opened when the gateway applies the state change.
    WaitUntil([&] { return (host_[i] = Connect(gw_[i]->io_port(), kNqn, &err, 30000)) != nullptr; }, 20000, 100);
    ASSERT_TRUE(host_[i]) << gw_[i]->name() << ": " << err;
  }
  bool WaitAna(size_t i, uint32_t g, uint8_t state, int timeout_ms = 30000) {
    std::optional<uint8_t> last;
    bool ok = WaitUntil([&] { return (last = AnaGroupState(*host_[i], g)) == state; }, timeout_ms, 20);
    if (!ok)
      ADD_FAILURE() << gw_[i]->name() << ": ANA group " << g << " state " << (last ? int(*last) : -1) << ", want "
                    << int(state);
    return ok;
  }

  host::Completion Write(size_t i, uint32_t nsid, uint32_t v) {
    auto b = Block(v);
    return host_[i]->Write(host_[i]->io(), nsid, 0, 1, b.data(), kBlock);
  }
  // The word LBA 0 of nsid holds through gateway i; nullopt when the read failed or the
  // block is not one value.
  std::optional<uint32_t> Read(size_t i, uint32_t nsid) {
    std::vector<uint8_t> b(kBlock);
    host::Completion c = host_[i]->Read(host_[i]->io(), nsid, 0, 1, b.data(), kBlock);
    if (!c.ok()) return std::nullopt;
    uint32_t v;
    memcpy(&v, b.data(), 4);
    return b == Block(v) ? std::optional<uint32_t>(v) : std::nullopt;
  }

  // The hand-over records in the group state object's omap; nullopt on error.
  std::optional<size_t> Handovers() {
    auto keys = OmapKeys(dir_, "rbd", StateObjectName(group_));
    if (!keys) return std::nullopt;
    return static_cast<size_t>(std::count_if(keys->begin(), keys->end(), [](const std::string& k) {
      return k.rfind(kLbHandoverPrefix, 0) == 0;
    }));
  }

  // The gateway's HA view says: `owner` serves group g, and every member's listener reports
  // g OPTIMIZED through the owner and INACCESSIBLE through the others.
  bool ViewSays(size_t i, uint32_t g, const std::string& owner) {
    auto st = gw_[i]->api().HaStatus();
    if (!st || st->status() != 0) return false;
    bool found = false;
    for (const auto& x : st->groups())
      if (x.grp_id() == g) found = x.owner() == owner;
    if (!found) return false;
    for (const auto& m : st->members()) {
      if (m.listeners_size() == 0) return false;
      for (const auto& l : m.listeners()) {
        bool seen = false;
        for (const auto& s : l.states())
          if (s.grp_id() == g) {
            seen = true;
            if (s.state() != (m.name() == owner ? "OPTIMIZED" : "INACCESSIBLE")) return false;
          }
        if (!seen) return false;
      }
    }
    return true;
  }

  void RemoveStopped(bool kill);

  std::string dir_, test_, group_;
  std::unique_ptr<Observer> obs_;
  std::vector<std::unique_ptr<Daemon>> gw_;
  std::vector<std::unique_ptr<host::Controller>> host_;
};

TEST_F(HaBalance, NewNamespacesSpreadOverHomeGroups) {
  TwoGatewaysWith(4);
  // Least loaded first, ties to the lowest group: 1, 2, 1, 2; gw2 serves the same by replay.
  const Groups want{{1, 1}, {2, 2}, {3, 1}, {4, 2}};
  ASSERT_TRUE(WaitGroups(0, want));
  ASSERT_TRUE(WaitGroups(1, want));
  ConnectHost(0);
  ConnectHost(1);
  ASSERT_TRUE(WaitAna(0, 1, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(0, 2, nvme::kAnaInaccessible));
  ASSERT_TRUE(WaitAna(1, 2, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(1, 1, nvme::kAnaInaccessible));
  // Both gateways' `gw ha` views agree: gw1 serves 1, gw2 serves 2, per listener.
  for (size_t i : {0u, 1u})
    for (uint32_t g : {1u, 2u})
      EXPECT_TRUE(WaitUntil([&] { return ViewSays(i, g, g == 1 ? "gw1" : "gw2"); }, 20000, 100))
          << gw_[i]->name() << "'s view of group " << g;
  // I/O is admitted by each group's owner only.
  for (uint32_t nsid = 1; nsid <= 4; ++nsid) {
    const size_t owner = nsid % 2 ? 0 : 1;
    host::Completion ok = Write(owner, nsid, 0x1000 + nsid);
    EXPECT_TRUE(ok.ok()) << "nsid " << nsid << " through " << gw_[owner]->name() << ": " << ok.ToString();
    host::Completion no = Write(1 - owner, nsid, 0x2000 + nsid);
    EXPECT_EQ(no.status.sct, nvme::kSctPath) << no.ToString();
    EXPECT_EQ(no.status.sc, nvme::kScAnaInaccessible) << no.ToString();
    EXPECT_EQ(Read(owner, nsid), 0x1000 + nsid);
  }
  // Balanced: the rebalancer (every second) moved nothing.
  EXPECT_EQ(CountOf(gw_[0]->Log() + gw_[1]->Log(), "load balancing: gateway"), 0u);
  EXPECT_EQ(Handovers(), 0u);
}

TEST_F(HaBalance, ChangeGroupUnderWrites) {
  TwoGatewaysWith(2);
  ASSERT_TRUE(WaitGroups(1, {{1, 1}, {2, 2}}));
  ConnectHost(0);
  ConnectHost(1);
  ASSERT_TRUE(WaitAna(0, 1, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(1, 1, nvme::kAnaInaccessible));
  ASSERT_TRUE(WaitAna(1, 2, nvme::kAnaOptimized));

  // The stream: value v to LBA 0 of namespace 1, v + 1 after each success.
  uint32_t v = 1, last_ok = 0;
  int old_path_errors = 0, new_path_errors = 0;
  for (; v <= 20; ++v) {
    host::Completion c = Write(0, 1, v);
    ASSERT_TRUE(c.ok()) << c.ToString();
    last_ok = v;
  }
  // The change, through the other gateway; the stream goes on through the old owner until it
  // stops admitting the namespace.
  ASSERT_EQ(gw_[1]->api().ChangeLbGroup(kNqn, 1, 2), "");
  bool moved_away = WaitUntil([&] {
    host::Completion c = Write(0, 1, v);
    if (c.ok()) {
      last_ok = v++;
      return false;
    }
    EXPECT_TRUE(IsAnaPathStatus(c)) << "a write through the old owner: " << c.ToString();
    if (!IsAnaPathStatus(c)) return true;
    ++old_path_errors;
    return c.status.sc == nvme::kScAnaInaccessible;
  }, 60000, 0);
  ASSERT_TRUE(moved_away) << "gw1 kept admitting namespace 1";
  ASSERT_FALSE(HasFailure());
  // Then through the new owner: path statuses until gw2 serves it, then success.
  bool served = WaitUntil([&] {
    host::Completion c = Write(1, 1, v);
    if (c.ok()) return true;
    EXPECT_TRUE(IsAnaPathStatus(c)) << "a write through the new owner: " << c.ToString();
    ++new_path_errors;
    return !IsAnaPathStatus(c);
  }, 60000, 10);
  ASSERT_TRUE(served);
  ASSERT_FALSE(HasFailure());
  last_ok = v++;
  for (int k = 0; k < 10; ++k, ++v) {
    host::Completion c = Write(1, 1, v);
    ASSERT_TRUE(c.ok()) << c.ToString();
    last_ok = v;
  }
  printf("  %u writes; %d ANA path status(es) through gw1, %d through gw2 before it served the namespace\n",
         last_ok, old_path_errors, new_path_errors);
  EXPECT_EQ(Read(1, 1), last_ok);
  // Both gateways serve it in group 2; the old owner reports group 2 INACCESSIBLE and refuses
  // its I/O; the hand-over record is gone.
  EXPECT_TRUE(WaitGroups(0, {{1, 2}, {2, 2}}));
  EXPECT_TRUE(WaitGroups(1, {{1, 2}, {2, 2}}));
  EXPECT_EQ(AnaGroupState(*host_[0], 2), nvme::kAnaInaccessible);
  EXPECT_EQ(AnaGroupState(*host_[1], 2), nvme::kAnaOptimized);
  host::Completion stale = Write(0, 1, 0xdead);
  EXPECT_EQ(stale.status.sct, nvme::kSctPath) << stale.ToString();
  EXPECT_EQ(stale.status.sc, nvme::kScAnaInaccessible) << stale.ToString();
  EXPECT_EQ(Read(1, 1), last_ok);
  EXPECT_NE(gw_[0]->Log().find("load balancing: namespace 1 of " + std::string(kNqn) +
                               ": ANA group 1's owner gw1 has drained it"),
            std::string::npos);
  EXPECT_TRUE(WaitUntil([&] { return Handovers() == 0u; }, 20000, 100));
  // gw1's HA view: group 2 is gw2's, INACCESSIBLE through gw1's listener.
  EXPECT_TRUE(WaitUntil([&] { return ViewSays(0, 2, "gw2"); }, 20000, 100));
}

// As ChangeGroupUnderWrites with kSlots writes always queued (one LBA each): the old owner
// drains what it admitted; every completion is a success or an ANA path status, and each LBA
// holds its last successful write.
TEST_F(HaBalance, ChangeGroupUnderQueuedWrites) {
  constexpr uint32_t kSlots = 8;
  TwoGatewaysWith(2);
  ASSERT_TRUE(WaitGroups(1, {{1, 1}, {2, 2}}));
  ConnectHost(0);
  ConnectHost(1);
  ASSERT_TRUE(WaitAna(0, 1, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(1, 2, nvme::kAnaOptimized));

  uint32_t next = 1;
  std::vector<uint32_t> last_ok(kSlots, 0);
  std::vector<std::vector<uint8_t>> data(kSlots);
  struct Counts {
    int ok = 0, path = 0;
  } on[2];
  // Runs rounds through gateway i, each slot resubmitted when it completed, until done() (or
  // a completion that is neither a success nor an ANA path status, a failure).
  auto stream = [&](size_t i, auto done) {
    host::Connection& q = host_[i]->io();
    std::vector<uint16_t> cid(kSlots);
    auto submit = [&](uint32_t k) {
      data[k] = Block(next++);
      nvme::Sqe sqe = host::cmd::Write(1, k, 1);
      EXPECT_TRUE(q.Submit(&sqe, data[k].data(), kBlock, nullptr, 0));
      cid[k] = sqe.cid;
    };
    for (uint32_t k = 0; k < kSlots; ++k) submit(k);
    const double end = NowMs() + 60000;
    bool finished = false;
    while (!HasFailure()) {
      for (uint32_t k = 0; k < kSlots; ++k) {
        host::Completion c = q.Wait(cid[k], 20000);
        if (c.ok()) {
          memcpy(&last_ok[k], data[k].data(), 4);
          ++on[i].ok;
        } else if (IsAnaPathStatus(c)) {
          ++on[i].path;
        } else {
          ADD_FAILURE() << gw_[i]->name() << ", LBA " << k << ": " << c.ToString();
        }
        if (finished || HasFailure()) continue;
        submit(k);
      }
      if (finished || HasFailure()) break;
      finished = done() || NowMs() > end;
      if (finished) {
        // Collect the last round.
        for (uint32_t k = 0; k < kSlots; ++k) {
          host::Completion c = q.Wait(cid[k], 20000);
          if (c.ok()) {
            memcpy(&last_ok[k], data[k].data(), 4);
            ++on[i].ok;
          } else if (IsAnaPathStatus(c)) {
            ++on[i].path;
          } else {
            ADD_FAILURE() << gw_[i]->name() << ", LBA " << k << ": " << c.ToString();
          }
        }
        break;
      }
    }
  };
  stream(0, [&] { return on[0].ok >= 10 * int(kSlots); });
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(gw_[1]->api().ChangeLbGroup(kNqn, 1, 2), "");
  // Through gw1 until it refuses a whole round.
  int before = 0;
  stream(0, [&] {
    const bool refused = on[0].path - before >= int(kSlots);
    before = on[0].path;
    return refused;
  });
  ASSERT_FALSE(HasFailure());
  ASSERT_GE(on[0].path, int(kSlots)) << "gw1 kept admitting namespace 1";
  // Through gw2 until ten rounds succeeded.
  const int ok0 = on[1].ok;
  stream(1, [&] { return on[1].ok - ok0 >= 10 * int(kSlots); });
  ASSERT_FALSE(HasFailure());
  printf("  through gw1: %d ok, %d ANA path statuses; through gw2: %d ok, %d ANA path statuses\n", on[0].ok,
         on[0].path, on[1].ok, on[1].path);
  for (uint32_t k = 0; k < kSlots; ++k) {
    std::vector<uint8_t> b(kBlock);
    host::Completion c = host_[1]->Read(host_[1]->io(), 1, k, 1, b.data(), kBlock);
    ASSERT_TRUE(c.ok()) << c.ToString();
    EXPECT_EQ(b, Block(last_ok[k])) << "LBA " << k;
  }
  EXPECT_EQ(AnaGroupState(*host_[0], 2), nvme::kAnaInaccessible);
  EXPECT_TRUE(WaitGroups(0, {{1, 2}, {2, 2}}));
}

// gw2 stopped by SIGTERM (planned: it leaves) or SIGKILL (its membership lease expires and
// gw1 fences it), then removed through gw1.
void HaBalance::RemoveStopped(bool kill) {
  TwoGatewaysWith(4);
  const std::string members = ha::HaMembersObject(group_);
  ASSERT_TRUE(WaitGroups(1, {{1, 1}, {2, 2}, {3, 1}, {4, 2}}));
  ConnectHost(0);
  ASSERT_TRUE(WaitAna(0, 1, nvme::kAnaOptimized));
  ASSERT_EQ(OmapKeys(dir_, "rbd", members), (std::vector<std::string>{"gw_gw1", "gw_gw2"}));

  // A live member, and the gateway itself, cannot be removed; an unknown one does not exist.
  auto r = gw_[0]->api().RemoveMember("gw2");
  EXPECT_EQ(r.first, EBUSY);
  EXPECT_EQ(r.second,
            "Failure removing HA member gw2: gateway gw2 is alive; stop it (and let its lease expire) before removing it");
  r = gw_[0]->api().RemoveMember("gw1");
  EXPECT_EQ(r.first, EBUSY);
  EXPECT_EQ(r.second,
            "Failure removing HA member gw1: gateway gw1 is alive; stop it (and let its lease expire) before removing it");
  r = gw_[0]->api().RemoveMember("gw9");
  EXPECT_EQ(r.first, ENOENT);
  EXPECT_EQ(r.second, "Failure removing HA member gw9: no gateway gw9 in the HA group");
  EXPECT_EQ(OmapKeys(dir_, "rbd", members), (std::vector<std::string>{"gw_gw1", "gw_gw2"}));

  // gw2 stops: gw1 serves its group; a member that is only down keeps its group.
  if (kill)
    gw_[1]->Kill();
  else
    EXPECT_EQ(gw_[1]->Stop(), "exited 0");
  ASSERT_TRUE(WaitAna(0, 2, nvme::kAnaOptimized));
  EXPECT_EQ(GroupsOn(0), (Groups{{1, 1}, {2, 2}, {3, 1}, {4, 2}}));

  // Removed (EBUSY only until its membership lease is gone); its record leaves the omap.
  std::pair<int, std::string> last;
  ASSERT_TRUE(WaitUntil([&] {
    last = gw_[0]->api().RemoveMember("gw2");
    if (last.first != 0) {
      EXPECT_EQ(last.first, EBUSY) << last.second;
    }
    return last.first != EBUSY;
  }, 60000, 200)) << last.second;
  ASSERT_EQ(last.first, 0) << last.second;
  EXPECT_EQ(OmapKeys(dir_, "rbd", members), (std::vector<std::string>{"gw_gw1"}));
  EXPECT_EQ(gw_[0]->api().RemoveMember("gw2").first, ENOENT);
  EXPECT_EQ(CountOf(gw_[0]->Log(), "ha: gw1: removed the member record of gateway gw2 (operator request)"), 1u);

  // Group 2 is nobody's now: the rebalancer moves its namespaces to group 1.
  ASSERT_TRUE(WaitGroups(0, {{1, 1}, {2, 1}, {3, 1}, {4, 1}}));
  EXPECT_EQ(CountOf(gw_[0]->Log(), "from ANA group 2 to 1 (no gateway owns the old group)"), 2u);
  EXPECT_TRUE(WaitUntil([&] { return Handovers() == 0u; }, 20000, 100));
  for (uint32_t nsid = 1; nsid <= 4; ++nsid) {
    host::Completion c = Write(0, nsid, 0x3000 + nsid);
    EXPECT_TRUE(c.ok()) << "nsid " << nsid << ": " << c.ToString();
    EXPECT_EQ(Read(0, nsid), 0x3000 + nsid);
  }
  EXPECT_TRUE(WaitUntil([&] {
    auto st = gw_[0]->api().HaStatus();
    return st && st->members_size() == 1 && st->members(0).name() == "gw1";
  }, 20000, 100));

  // The freed home group goes to the next new gateway: it serves it (failback from gw1) and
  // the rebalancer gives it the two highest NSIDs.
  StartGw(1);
  auto m = gw_[1]->Member(*obs_);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->home_group, 2u);
  const Groups back{{1, 1}, {2, 1}, {3, 2}, {4, 2}};
  ASSERT_TRUE(WaitGroups(0, back));
  ASSERT_TRUE(WaitGroups(1, back));
  EXPECT_TRUE(WaitUntil([&] { return obs_->LeaseHolder(2) == "gw2"; }, 30000, 100));
  ConnectHost(1);
  ASSERT_TRUE(WaitAna(1, 2, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(0, 2, nvme::kAnaInaccessible));
  for (uint32_t nsid = 3; nsid <= 4; ++nsid) {
    EXPECT_EQ(Read(1, nsid), 0x3000 + nsid);
    host::Completion c = Write(1, nsid, 0x6000 + nsid);
    EXPECT_TRUE(c.ok()) << "nsid " << nsid << ": " << c.ToString();
  }
}

TEST_F(HaBalance, RemoveStoppedMember) { RemoveStopped(false); }
TEST_F(HaBalance, RemoveKilledMember) { RemoveStopped(true); }

TEST_F(HaBalance, RebalanceWhenAGatewayJoins) {
  constexpr int kMax = 2;
  AddGw("gw1", kMax);
  AddGw("gw2", kMax);
  StartGw(0);
  ASSERT_EQ(CreateRbdSubsystem(*gw_[0], {gw_[0].get()}, kNqn, Images(6), kImageSize, 0), "");
  const Groups all_in_1{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}};
  ASSERT_TRUE(WaitGroups(0, all_in_1));
  ConnectHost(0);
  ASSERT_TRUE(WaitAna(0, 1, nvme::kAnaOptimized));
  for (uint32_t nsid = 1; nsid <= 6; ++nsid) ASSERT_TRUE(Write(0, nsid, 0x4000 + nsid).ok());

  // gw2 joins (home group 2, empty): gw1, the leader, moves 6/0 -> 3/3, one namespace per
  // step of the plan, at most kMax hand-overs recorded at once.
  StartGw(1);
  ASSERT_EQ(gw_[1]->Member(*obs_)->home_group, 2u);
  ASSERT_EQ(gw_[1]->api().AddListener(kNqn, "gw2", gw_[1]->io_port()), "");
  const Groups balanced{{1, 1}, {2, 1}, {3, 1}, {4, 2}, {5, 2}, {6, 2}};
  size_t most = 0;
  bool done = WaitUntil([&] {
    auto h = Handovers();
    EXPECT_TRUE(h);
    if (!h) return true;
    most = std::max(most, *h);
    EXPECT_LE(*h, size_t{kMax});
    return *h == 0 && GroupsOn(0) == balanced && GroupsOn(1) == balanced;
  }, 90000, 50);
  printf("  at most %zu hand-over(s) recorded at once\n", most);
  EXPECT_TRUE(done) << "gw1" << Show(GroupsOn(0)) << "; gw2" << Show(GroupsOn(1));
  ASSERT_FALSE(HasFailure());
  // Exactly three moves, all by the leader.
  EXPECT_EQ(CountOf(gw_[0]->Log(), "load balancing: gateway gw1 moves namespace"), 3u);
  EXPECT_EQ(CountOf(gw_[0]->Log(), "from ANA group 1 to 2 (rebalancing)"), 3u);
  EXPECT_EQ(CountOf(gw_[1]->Log(), "load balancing: gateway"), 0u);
  // In two batches: 6 and 5 first; 4 only after one of them was handed over (drained by gw1).
  const std::string log = gw_[0]->Log();
  const std::string nqn = kNqn;
  const size_t moves4 = log.find("moves namespace 4 of " + nqn);
  const size_t drained6 = log.find("namespace 6 of " + nqn + ": ANA group 1's owner gw1 has drained it");
  const size_t drained5 = log.find("namespace 5 of " + nqn + ": ANA group 1's owner gw1 has drained it");
  ASSERT_NE(moves4, std::string::npos);
  ASSERT_NE(drained6, std::string::npos);
  ASSERT_NE(drained5, std::string::npos);
  EXPECT_LT(log.find("moves namespace 6 of " + nqn), drained6);
  EXPECT_LT(log.find("moves namespace 5 of " + nqn), drained5);
  EXPECT_GT(moves4, std::min(drained5, drained6));
  // Each gateway serves its half: data written before the moves is read through the new owner.
  ConnectHost(1);
  ASSERT_TRUE(WaitAna(1, 2, nvme::kAnaOptimized));
  ASSERT_TRUE(WaitAna(0, 2, nvme::kAnaInaccessible));
  for (uint32_t nsid = 1; nsid <= 6; ++nsid) {
    const size_t owner = nsid <= 3 ? 0 : 1;
    EXPECT_EQ(Read(owner, nsid), 0x4000 + nsid) << "nsid " << nsid;
    host::Completion c = Write(owner, nsid, 0x5000 + nsid);
    EXPECT_TRUE(c.ok()) << "nsid " << nsid << ": " << c.ToString();
  }
}

}  // namespace
}  // namespace nvmeof::ha_daemons
