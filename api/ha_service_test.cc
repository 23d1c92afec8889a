// The HA view (FillHaStatus) over two HaManagers on the in-memory group store.
#include "api/ha_service.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <thread>

#include "gateway/common/clock.h"
#include "gateway/ha/ha_manager.h"
#include "gateway/ha/ha_test_util.h"

namespace nvmeof::api {
namespace {

using namespace nvmeof::ha;

TEST(HaStatus, WithoutHaAnswersEnodev) {
  ::nvmeof::ha::ha_status rep;
  FillHaStatus(nullptr, "g", &rep);
  EXPECT_EQ(rep.status(), ENODEV);
  EXPECT_EQ(rep.group(), "g");
}

TEST(HaStatus, OwnersMembersAndListenerStates) {
  auto cluster = NewMemoryCluster(NowNs);
  FakeAna ana_a, ana_b;
  auto make = [&](const std::string& name, const std::string& addr, FakeAna* ana) {
    HaOptions o;
    o.name = name;
    o.timing.lease_ns = 1'000'000'000;
    o.timing.renew_ns = 250'000'000;
    o.timing.margin_ns = 250'000'000;
    o.listeners = [addr] { return std::vector<std::string>{"tcp:" + addr + ":4420"}; };
    return std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster), ana);
  };
  auto a = make("a", "10.0.0.1", &ana_a);
  auto b = make("b", "10.0.0.2", &ana_b);
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());
  auto settled = [&] {
    ::nvmeof::ha::ha_status rep;
    FillHaStatus(a.get(), "g", &rep);
    if (rep.members_size() != 2 || rep.groups_size() != 2) return false;
    for (const auto& g : rep.groups())
      if (g.owner() != (g.grp_id() == 1 ? "a" : "b")) return false;
    return true;
  };
  ASSERT_TRUE(WaitFor(settled));
  ::nvmeof::ha::ha_status rep;
  FillHaStatus(a.get(), "g", &rep);
  EXPECT_EQ(rep.status(), 0);
  EXPECT_EQ(rep.gateway(), "a");
  EXPECT_EQ(rep.lease_ms(), 1000u);
  for (const auto& g : rep.groups()) {
    EXPECT_EQ(g.role(), std::string(g.grp_id() == 1 ? "owner" : "standby"));
    if (g.grp_id() == 1) {
      EXPECT_LT(g.lease_age_ms(), 1000u);
    }
  }
  for (const auto& m : rep.members()) {
    const bool is_a = m.name() == "a";
    EXPECT_TRUE(m.alive());
    EXPECT_EQ(m.home_group(), is_a ? 1u : 2u);
    EXPECT_LT(m.min_cntlid(), m.max_cntlid());
    ASSERT_EQ(m.owned_groups_size(), 1);
    EXPECT_EQ(m.owned_groups(0), is_a ? 1u : 2u);
    ASSERT_EQ(m.listeners_size(), 1);
    const auto& l = m.listeners(0);
    EXPECT_EQ(l.trtype(), "tcp");
    EXPECT_EQ(l.traddr(), is_a ? "10.0.0.1" : "10.0.0.2");
    EXPECT_EQ(l.trsvcid(), "4420");
    ASSERT_EQ(l.states_size(), 2);
    for (const auto& st : l.states())
      EXPECT_EQ(st.state(), (st.grp_id() == m.home_group()) ? "OPTIMIZED" : "INACCESSIBLE");
  }
  b->Stop(true);
  a->Stop(true);
}

// A hand-over in progress (the holder's drain held): every gateway's view shows the group in
// CHANGE on the holder's and the taker's listeners (from the lease record's mark), and
// INACCESSIBLE on the others'.
TEST(HaStatus, HandOverInProgressIsChangeOnBothGateways) {
  auto cluster = NewMemoryCluster(NowNs);
  GatedAna ana[3];
  std::unique_ptr<HaManager> gw[3];
  struct OpenGates {
    GatedAna* ana;
    ~OpenGates() {
      for (int i = 0; i < 3; ++i) ana[i].Hold(false);
    }
  } gates{ana};
  const char* names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i) {
    HaOptions o;
    o.name = names[i];
    o.timing.lease_ns = 1'000'000'000;
    o.timing.renew_ns = 250'000'000;
    o.timing.margin_ns = 250'000'000;
    const std::string addr = "10.0.0." + std::to_string(i + 1);
    o.listeners = [addr] { return std::vector<std::string>{"tcp:" + addr + ":4420"}; };
    gw[i] = std::make_unique<HaManager>(o, NewMemoryGroupStore(cluster), &ana[i]);
    ASSERT_TRUE(gw[i]->Start().ok());
  }
  // Every gateway serves its home group, and a has read that (it names its taker from it).
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 3; ++i)
      if (!ana[i].rec.Optimized(i + 1)) return false;
    for (const auto& g : gw[0]->Groups())
      if (g.owner != names[g.group - 1]) return false;
    return true;
  }));
  // a stops; its drain of group 1 is held; b (the candidate: fewest groups, then name) takes it.
  ana[0].Hold(true);
  std::thread stop([&] { gw[0]->Stop(true); });
  auto state_of = [](const ::nvmeof::ha::ha_status& rep, const std::string& member, uint32_t g) {
    for (const auto& m : rep.members())
      if (m.name() == member && m.listeners_size() == 1)
        for (const auto& st : m.listeners(0).states())
          if (st.grp_id() == g) return st.state();
    return std::string("none");
  };
  ::nvmeof::ha::ha_status rep_b, rep_c;
  const bool seen = WaitFor([&] {
    rep_b.Clear();
    rep_c.Clear();
    FillHaStatus(gw[1].get(), "g", &rep_b);
    FillHaStatus(gw[2].get(), "g", &rep_c);
    return state_of(rep_b, "b", 1) == "CHANGE" && state_of(rep_c, "a", 1) == "CHANGE" &&
           state_of(rep_c, "b", 1) == "CHANGE";
  });
  EXPECT_TRUE(seen) << "b's view: a " << state_of(rep_b, "a", 1) << ", b " << state_of(rep_b, "b", 1) << "; c's view: a "
                    << state_of(rep_c, "a", 1) << ", b " << state_of(rep_c, "b", 1);
  EXPECT_EQ(state_of(rep_b, "a", 1), "CHANGE");
  EXPECT_EQ(state_of(rep_c, "c", 1), "INACCESSIBLE");
  EXPECT_EQ(state_of(rep_c, "c", 3), "OPTIMIZED");
  ana[0].Hold(false);
  stop.join();
  EXPECT_TRUE(WaitFor([&] {
    rep_c.Clear();
    FillHaStatus(gw[2].get(), "g", &rep_c);
    return state_of(rep_c, "b", 1) == "OPTIMIZED";
  }));
  gw[2]->Stop(true);
  gw[1]->Stop(true);
}

}  // namespace
}  // namespace nvmeof::api
