// The HA view (FillHaStatus) over two HaManagers on the in-memory group store.
#include "api/ha_service.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

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

}  // namespace
}  // namespace nvmeof::api
