// Load balancing through GatewayService (api/balance.cc) with two gateways on one memory
// state store: each gateway has its own Target, service and follower; the tests replay the
// store onto a gateway (Sync) and run its BalanceStep / RebalanceStep by hand, so every
// interleaving is chosen and nothing waits on time. HA is stood for by the sets of groups
// (what the members can own, what each gateway serves) and the leader flag.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "api/load_balancer.h"
#include "api/service.h"
#include "api/state_json.h"
#include "gateway/common/log.h"
#include "gateway/protocol/nvme.h"
#include "gateway/state/state_keys.h"

namespace nvmeof::api {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
const char kNqn[] = "nqn.2016-06.io.spdk:cnode1";

struct Gateway {
  std::unique_ptr<Target> target;
  std::unique_ptr<GatewayService> svc;
  std::unique_ptr<StateFollower> follower;
  std::set<uint32_t> owned;
  bool leader = false;
};

class BalanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kWarning);
    store = NewMemoryStateStore();
    Make(gw1, "gw1", {1});
    Make(gw2, "gw2", {2});
    gw1.leader = true;
  }

  void Make(Gateway& g, const std::string& name, std::set<uint32_t> owned) {
    g.target = std::make_unique<Target>(TargetOptions{});
    ServiceOptions o;
    o.gateway_name = name;
    o.hostname = name;
    g.svc = std::make_unique<GatewayService>(g.target.get(), store.get(), o);
    g.follower = std::make_unique<StateFollower>(nullptr, g.svc.get(), &g.svc->rpc_mutex());
    g.svc->SetStateFollower(g.follower.get());
    g.owned = std::move(owned);
    // What HA decides: the owned groups OPTIMIZED here, the others INACCESSIBLE.
    for (uint32_t grp = 1; grp <= 3; grp++)
      g.target->SetAnaGroupState(grp, g.owned.count(grp) ? nvme::kAnaOptimized : nvme::kAnaInaccessible);
    LoadBalancing lb;
    lb.groups = [this] { return groups; };
    lb.owned = [&g] { return g.owned; };
    lb.leader = [&g] { return g.leader; };
    lb.max_ns_to_change_lb_grp = 8;
    g.svc->SetLoadBalancing(std::move(lb));
  }

  void Sync(Gateway& g) {
    uint64_t v = 0;
    auto m = store->ReadAll(&v);
    ASSERT_TRUE(m.ok());
    g.follower->Replay(*m, v);
  }

  void CreateSubsystem(Gateway& g) {
    create_subsystem_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_no_group_append(true);
    r.set_enable_ha(true);
    subsys_status rep;
    g.svc->create_subsystem(nullptr, &r, &rep);
    ASSERT_EQ(rep.status(), 0) << rep.error_message();
  }

  nsid_status AddNs(Gateway& g, int32_t anagrpid = 0) {
    namespace_add_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_block_size(4096);
    r.set_backend("memory");
    r.set_memory_size(4 * kMiB);
    if (anagrpid) r.set_anagrpid(anagrpid);
    nsid_status rep;
    EXPECT_TRUE(g.svc->namespace_add(nullptr, &r, &rep).ok());
    return rep;
  }

  req_status ChangeGroup(Gateway& g, uint32_t nsid, int32_t anagrpid) {
    namespace_change_load_balancing_group_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_nsid(nsid);
    r.set_anagrpid(anagrpid);
    req_status rep;
    EXPECT_TRUE(g.svc->namespace_change_load_balancing_group(nullptr, &r, &rep).ok());
    return rep;
  }

  // The namespace's group on a gateway's target (0: absent).
  uint32_t GroupOn(Gateway& g, uint32_t nsid) {
    auto s = g.target->FindSubsystem(kNqn);
    auto ns = s ? s->GetNamespace(nsid) : nullptr;
    return ns ? ns->anagrpid() : 0;
  }
  // The group state's namespaces per group, and its hand-over records.
  std::map<uint32_t, size_t> StoredLoads() {
    uint64_t v;
    std::map<uint32_t, size_t> loads;
    const StateMap all = store->ReadAll(&v).value();
    for (auto& [k, val] : all) {
      namespace_add_req r;
      if (k.rfind("namespace_", 0) == 0 && JsonToRequest(val, &r).ok()) loads[static_cast<uint32_t>(r.anagrpid())]++;
    }
    return loads;
  }
  size_t Handovers() {
    uint64_t v;
    size_t n = 0;
    const StateMap all = store->ReadAll(&v).value();
    for (auto& [k, val] : all)
      if (ParseLbHandover(k, val)) n++;
    return n;
  }

  std::unique_ptr<StateStore> store;
  std::set<uint32_t> groups = {1, 2};
  Gateway gw1, gw2;
};

TEST_F(BalanceTest, NamespaceAddWithoutGroupTakesTheLeastLoaded) {
  CreateSubsystem(gw1);
  EXPECT_EQ(AddNs(gw1).status(), 0);  // 0/0: the lowest
  EXPECT_EQ(GroupOn(gw1, 1), 1u);
  EXPECT_EQ(AddNs(gw1).status(), 0);
  EXPECT_EQ(GroupOn(gw1, 2), 2u);
  EXPECT_EQ(AddNs(gw1, 2).status(), 0);  // explicit: 1/2
  EXPECT_EQ(GroupOn(gw1, 3), 2u);
  Sync(gw2);
  EXPECT_EQ(GroupOn(gw2, 3), 2u);
  // Every gateway counts the whole group's namespaces.
  EXPECT_EQ(AddNs(gw2).status(), 0);
  EXPECT_EQ(GroupOn(gw2, 4), 1u);
  // A third member joins: its group is the least loaded.
  groups = {1, 2, 3};
  EXPECT_EQ(AddNs(gw2).status(), 0);
  EXPECT_EQ(GroupOn(gw2, 5), 3u);
}

// Adds through two gateways, the second not having applied the first's: the group is chosen
// on the group state under its lock, not on the gateway's copy.
TEST_F(BalanceTest, NamespaceAddCountsTheGroupStateNotTheLocalCopy) {
  CreateSubsystem(gw1);
  Sync(gw2);
  EXPECT_EQ(AddNs(gw1).status(), 0);
  EXPECT_EQ(GroupOn(gw1, 1), 1u);
  nsid_status rep = AddNs(gw2);  // gw2 has not seen namespace 1
  EXPECT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_EQ(rep.nsid(), 2u);
  EXPECT_EQ(GroupOn(gw2, 2), 2u);
  EXPECT_EQ(StoredLoads(), (std::map<uint32_t, size_t>{{1, 1}, {2, 1}}));
  EXPECT_EQ(AddNs(gw1).status(), 0);  // gw1 has not seen namespace 2
  EXPECT_EQ(GroupOn(gw1, 3), 1u);
  EXPECT_EQ(AddNs(gw2).status(), 0);
  EXPECT_EQ(StoredLoads(), (std::map<uint32_t, size_t>{{1, 2}, {2, 2}}));
  Sync(gw1);
  Sync(gw2);
  for (uint32_t nsid = 1; nsid <= 4; ++nsid) EXPECT_EQ(GroupOn(gw1, nsid), GroupOn(gw2, nsid)) << nsid;
  // Nothing to rebalance, nothing handed over.
  gw1.svc->BalanceStep();
  gw2.svc->BalanceStep();
  EXPECT_EQ(gw1.svc->RebalanceStep().value(), 0u);
  EXPECT_EQ(Handovers(), 0u);
}

TEST_F(BalanceTest, AGroupNoGatewayCanOwnIsRefused) {
  CreateSubsystem(gw1);
  nsid_status rep = AddNs(gw1, 3);
  EXPECT_EQ(rep.status(), ENODEV);
  EXPECT_EQ(rep.error_message(), std::string("Failure adding namespace to ") + kNqn +
                                     ": Load balancing group 3 doesn't exist");
  EXPECT_EQ(AddNs(gw1, 2).status(), 0);
  req_status c = ChangeGroup(gw1, 1, 3);
  EXPECT_EQ(c.status(), ENODEV);
  EXPECT_EQ(c.error_message(), std::string("Failure changing load balancing group for namespace with NSID 1 in ") +
                                   kNqn + ": Load balancing group 3 doesn't exist");
  EXPECT_EQ(Handovers(), 0u);
  EXPECT_EQ(GroupOn(gw1, 1), 2u);
}

TEST_F(BalanceTest, WithoutHaAnyGroupIsTakenAndAChangeAppliesAtOnce) {
  Target t{TargetOptions{}};
  ServiceOptions o;
  o.gateway_name = "solo";
  GatewayService solo(&t, store.get(), o);
  create_subsystem_req cs;
  cs.set_subsystem_nqn(kNqn);
  cs.set_no_group_append(true);
  cs.set_enable_ha(true);
  subsys_status srep;
  solo.create_subsystem(nullptr, &cs, &srep);
  ASSERT_EQ(srep.status(), 0);
  namespace_add_req r;
  r.set_subsystem_nqn(kNqn);
  r.set_block_size(4096);
  r.set_backend("memory");
  r.set_memory_size(4 * kMiB);
  nsid_status rep;
  solo.namespace_add(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0);
  EXPECT_EQ(t.FindSubsystem(kNqn)->GetNamespace(1)->anagrpid(), 1u);  // load_balancing_group
  r.set_anagrpid(7);
  solo.namespace_add(nullptr, &r, &rep);
  ASSERT_EQ(rep.status(), 0);
  namespace_change_load_balancing_group_req c;
  c.set_subsystem_nqn(kNqn);
  c.set_nsid(1);
  c.set_anagrpid(5);
  req_status crep;
  solo.namespace_change_load_balancing_group(nullptr, &c, &crep);
  EXPECT_EQ(crep.status(), 0);
  EXPECT_EQ(t.FindSubsystem(kNqn)->GetNamespace(1)->anagrpid(), 5u);
  EXPECT_EQ(Handovers(), 0u);
  EXPECT_FALSE(solo.BalanceStep());
  EXPECT_EQ(*solo.RebalanceStep(), 0u);
}

// The new group's owner serves the namespace only after the old group's owner stopped
// serving it and drained it.
TEST_F(BalanceTest, ChangeIsHandedOverAfterTheOldOwnerDrained) {
  CreateSubsystem(gw1);
  ASSERT_EQ(AddNs(gw1, 1).status(), 0);
  Sync(gw2);
  ASSERT_EQ(GroupOn(gw2, 1), 1u);

  // Asked on gw2 (any gateway may take the request).
  req_status rep = ChangeGroup(gw2, 1, 2);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_EQ(Handovers(), 1u);
  EXPECT_EQ(StoredLoads()[2], 1u);
  // A second change while the first is in progress is refused.
  rep = ChangeGroup(gw1, 1, 1);
  EXPECT_EQ(rep.status(), EBUSY);

  // gw2 (owner of the new group) waits for the old owner.
  Sync(gw2);
  EXPECT_TRUE(gw2.svc->BalanceStep());
  EXPECT_EQ(GroupOn(gw2, 1), 1u);
  EXPECT_EQ(gw2.target->AnaState(kNqn, GroupOn(gw2, 1)), nvme::kAnaInaccessible);

  // gw1 (owner of the old group) stops serving it, drains, removes the record.
  Sync(gw1);
  EXPECT_EQ(GroupOn(gw1, 1), 1u);  // the replay leaves the move to BalanceStep
  EXPECT_FALSE(gw1.svc->BalanceStep());
  EXPECT_EQ(GroupOn(gw1, 1), 2u);
  EXPECT_EQ(gw1.target->AnaState(kNqn, GroupOn(gw1, 1)), nvme::kAnaInaccessible);
  EXPECT_EQ(Handovers(), 0u);

  // Now gw2 serves it.
  EXPECT_FALSE(gw2.svc->BalanceStep());
  EXPECT_EQ(GroupOn(gw2, 1), 2u);
  EXPECT_EQ(gw2.target->AnaState(kNqn, GroupOn(gw2, 1)), nvme::kAnaOptimized);
  list_namespaces_req l;
  l.set_subsystem(kNqn);
  namespaces_info li;
  gw2.svc->list_namespaces(nullptr, &l, &li);
  ASSERT_EQ(li.namespaces_size(), 1);
  EXPECT_EQ(li.namespaces(0).load_balancing_group(), 2u);

  // A change to the group it is in changes nothing.
  EXPECT_EQ(ChangeGroup(gw1, 1, 2).status(), 0);
  EXPECT_EQ(Handovers(), 0u);
}

// The old owner died before it drained: the survivor that took its group over does it.
TEST_F(BalanceTest, ASurvivorOfTheOldGroupFinishesTheHandOver) {
  CreateSubsystem(gw1);
  ASSERT_EQ(AddNs(gw1, 1).status(), 0);
  Sync(gw2);
  ASSERT_EQ(ChangeGroup(gw1, 1, 2).status(), 0);
  Sync(gw2);
  EXPECT_TRUE(gw2.svc->BalanceStep());  // gw1 still owns group 1
  EXPECT_EQ(GroupOn(gw2, 1), 1u);
  gw1.owned.clear();  // gw1 is gone; gw2 took group 1 over (after fencing gw1)
  gw2.owned = {1, 2};
  EXPECT_FALSE(gw2.svc->BalanceStep());
  EXPECT_EQ(GroupOn(gw2, 1), 2u);
  EXPECT_EQ(Handovers(), 0u);
}

// Gateway 2 joins a group whose namespaces are all in group 1: the leader moves them over
// at most max_ns_to_change_lb_grp at a time, each handed over by group 1's owner.
TEST_F(BalanceTest, RebalancingAfterAMemberJoinsIsGradual) {
  groups = {1};
  CreateSubsystem(gw1);
  for (int i = 0; i < 20; i++) ASSERT_EQ(AddNs(gw1).status(), 0);
  EXPECT_EQ(StoredLoads()[1], 20u);
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 0u);  // one group: nothing to do

  groups = {1, 2};  // gw2 registered
  Sync(gw2);
  EXPECT_EQ(*gw2.svc->RebalanceStep(), 0u);  // not the leader
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 8u);
  EXPECT_EQ(Handovers(), 8u);
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 0u);  // 8 moving: no more until they are done
  Sync(gw2);
  EXPECT_TRUE(gw2.svc->BalanceStep());
  EXPECT_FALSE(gw1.svc->BalanceStep());  // the owner of group 1 hands them over
  EXPECT_EQ(Handovers(), 0u);
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 2u);  // 12/8 -> 10/10
  EXPECT_FALSE(gw1.svc->BalanceStep());
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 0u);
  auto loads = StoredLoads();
  EXPECT_EQ(loads[1], 10u);
  EXPECT_EQ(loads[2], 10u);
  Sync(gw2);
  EXPECT_FALSE(gw2.svc->BalanceStep());
  size_t served_by_gw2 = 0;
  for (uint32_t nsid = 1; nsid <= 20; nsid++) {
    EXPECT_EQ(GroupOn(gw1, nsid), GroupOn(gw2, nsid)) << nsid;
    if (gw2.target->AnaState(kNqn, GroupOn(gw2, nsid)) == nvme::kAnaOptimized) served_by_gw2++;
  }
  EXPECT_EQ(served_by_gw2, 10u);
}

// Gateway 2's record is removed from the group: gw1 serves group 2 meanwhile, and the
// leader moves group 2's namespaces to group 1.
TEST_F(BalanceTest, AMemberLeavingHasItsNamespacesMoved) {
  CreateSubsystem(gw1);
  for (int i = 0; i < 6; i++) ASSERT_EQ(AddNs(gw1).status(), 0);
  EXPECT_EQ(StoredLoads()[2], 3u);
  groups = {1};
  gw1.owned = {1, 2};
  gw1.svc->SetLoadBalancing([this] {
    LoadBalancing lb;
    lb.groups = [this] { return groups; };
    lb.owned = [this] { return gw1.owned; };
    lb.leader = [] { return true; };
    lb.max_ns_to_change_lb_grp = 2;
    return lb;
  }());
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 2u);
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 0u);
  EXPECT_FALSE(gw1.svc->BalanceStep());
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 1u);
  EXPECT_FALSE(gw1.svc->BalanceStep());
  EXPECT_EQ(*gw1.svc->RebalanceStep(), 0u);
  EXPECT_EQ(StoredLoads()[1], 6u);
  EXPECT_EQ(StoredLoads()[2], 0u);
  for (uint32_t nsid = 1; nsid <= 6; nsid++) EXPECT_EQ(GroupOn(gw1, nsid), 1u);
}

// The same with the LoadBalancer thread of the leader: it converges (waited for with a
// generous bound, no timing asserted).
TEST_F(BalanceTest, TheBalancerThreadConverges) {
  groups = {1};
  CreateSubsystem(gw1);
  for (int i = 0; i < 20; i++) ASSERT_EQ(AddNs(gw1).status(), 0);
  groups = {1, 2};
  LoadBalancer::Options o;
  o.tick = std::chrono::milliseconds(1);
  o.rebalance_period = std::chrono::milliseconds(1);
  LoadBalancer balancer(gw1.svc.get(), o);
  balancer.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto loads = StoredLoads();
    if (loads[1] == 10 && loads[2] == 10 && Handovers() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  balancer.Stop();
  EXPECT_EQ(StoredLoads()[2], 10u);
  EXPECT_EQ(Handovers(), 0u);
  for (uint32_t nsid = 1; nsid <= 20; nsid++) EXPECT_NE(GroupOn(gw1, nsid), 0u);
}

}  // namespace
}  // namespace nvmeof::api
