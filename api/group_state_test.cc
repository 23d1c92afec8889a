// What one gateway of a group changes and every other gateway must follow, with two
// gateways (each its own Target, GatewayService and StateFollower) on one memory state
// store; the tests replay the store onto a gateway by hand (Sync), so nothing waits on time:
//   * every gateway lists the others' auto-listeners (subsystem network masks) in
//     list_listeners and its discovery log page, and stale ones are withdrawn;
//   * a removed gateway's auto-listeners are withdrawn by the gateway that removes it;
//   * set_keep_host_connected / remove_host keep_connections keep the host connected on
//     every gateway (gw2's Target has a connected controller: TargetTest's fake queues).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/service.h"
#include "gateway/common/log.h"
#include "gateway/nvmf/target_test_util.h"
#include "gateway/state/state_keys.h"

namespace nvmeof::api {
namespace {

using nvmeof::test::kHost;
using nvmeof::test::kNqn;

struct Gateway {
  std::unique_ptr<Target> own_target;  // unset: the fixture's
  Target* target = nullptr;
  std::unique_ptr<GatewayService> svc;
  std::unique_ptr<StateFollower> follower;
};

class GroupStateTest : public nvmeof::test::TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    SetLogLevel(LogLevel::kWarning);
    store = NewMemoryStateStore();
    Make(gw1, "gw1", std::make_unique<Target>(TargetOptions{}), {"127.0.0.1"});
    Make(gw2, "gw2", nullptr, {"192.0.2.2"});  // the fixture's Target
  }
  void TearDown() override {
    gw1.svc->SetStateFollower(nullptr);
    gw2.svc->SetStateFollower(nullptr);
    TargetTest::TearDown();
  }

  void Make(Gateway& g, const std::string& name, std::unique_ptr<Target> t, std::vector<std::string> addrs) {
    g.own_target = std::move(t);
    g.target = g.own_target ? g.own_target.get() : target_.get();
    ServiceOptions o;
    o.gateway_name = name;
    o.hostname = "host-" + name;
    g.svc = std::make_unique<GatewayService>(g.target, store.get(), o);
    g.svc->SetAddressSource([addrs] { return addrs; });
    g.follower = std::make_unique<StateFollower>(nullptr, g.svc.get(), &g.svc->rpc_mutex());
    g.svc->SetStateFollower(g.follower.get());
  }

  void Sync(Gateway& g) {
    uint64_t v = 0;
    auto m = store->ReadAll(&v);
    ASSERT_TRUE(m.ok());
    g.follower->Replay(*m, v);
  }
  StateMap Stored() {
    uint64_t v = 0;
    return store->ReadAll(&v).value();
  }
  std::set<std::string> StoredAutoListeners() {
    std::set<std::string> out;
    for (auto& [k, v] : Stored())
      if (k.rfind("auto-listener_", 0) == 0) out.insert(k);
    return out;
  }

  void CreateMasked(Gateway& g, std::vector<std::string> masks) {
    create_subsystem_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_enable_ha(true);
    r.set_no_group_append(true);
    for (auto& m : masks) r.add_network_mask(m);
    r.set_port(4430);
    subsys_status rep;
    g.svc->create_subsystem(nullptr, &r, &rep);
    ASSERT_EQ(rep.status(), 0) << rep.error_message();
  }
  req_status DelNet(Gateway& g, const std::string& mask) {
    del_subsystem_network_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_network_mask(mask);
    req_status rep;
    g.svc->del_subsystem_network(nullptr, &r, &rep);
    return rep;
  }
  // "host_name traddr:trsvcid active/manual" of list_listeners.
  std::set<std::string> Listed(Gateway& g) {
    list_listeners_req r;
    r.set_subsystem(kNqn);
    listeners_info rep;
    g.svc->list_listeners(nullptr, &r, &rep);
    EXPECT_EQ(rep.status(), 0) << rep.error_message();
    std::set<std::string> out;
    for (auto& l : rep.listeners())
      out.insert(l.host_name() + " " + l.traddr() + ":" + std::to_string(l.trsvcid()) + (l.active() ? " active" : "") +
                 (l.manual() ? " manual" : ""));
    return out;
  }
  // "traddr:trsvcid" of the other gateways' listeners in g's discovery log page.
  std::set<std::string> Advertised(Gateway& g) {
    std::set<std::string> out;
    for (auto& [l, portid] : g.target->PeerListeners(kNqn)) out.insert(l.traddr + ":" + l.trsvcid);
    return out;
  }
  size_t ConnectedHosts() { return target_->Connections(kNqn).size(); }

  std::unique_ptr<StateStore> store;
  Gateway gw1, gw2;
};

TEST_F(GroupStateTest, EveryGatewayListsAndAdvertisesTheOthersAutoListeners) {
  CreateMasked(gw1, {"127.0.0.0/8", "192.0.2.0/24"});
  const std::string k1 = AutoListenerKey(kNqn, "gw1", "127.0.0.1", "4430");
  const std::string k2 = AutoListenerKey(kNqn, "gw2", "192.0.2.2", "4430");
  EXPECT_EQ(StoredAutoListeners(), (std::set<std::string>{k1}));
  Sync(gw2);  // opens 192.0.2.2:4430 and publishes it
  EXPECT_EQ(StoredAutoListeners(), (std::set<std::string>{k1, k2}));
  Sync(gw1);
  EXPECT_EQ(Listed(gw1), (std::set<std::string>{"gw1 127.0.0.1:4430 active", "gw2 192.0.2.2:4430 active"}));
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"192.0.2.2:4430"}));
  Sync(gw2);
  EXPECT_EQ(Listed(gw2), (std::set<std::string>{"gw1 127.0.0.1:4430 active", "gw2 192.0.2.2:4430 active",
                                                "gw2 127.0.0.1:4420 active"}));  // the fixture's own
  EXPECT_EQ(Advertised(gw2), (std::set<std::string>{"127.0.0.1:4430"}));

  // The mask that covers gw2's address goes: gw2 closes its listener and withdraws it.
  EXPECT_EQ(DelNet(gw1, "192.0.2.0/24").status(), 0);
  Sync(gw2);
  EXPECT_EQ(StoredAutoListeners(), (std::set<std::string>{k1}));
  Sync(gw1);
  EXPECT_EQ(Listed(gw1), (std::set<std::string>{"gw1 127.0.0.1:4430 active"}));
  EXPECT_TRUE(Advertised(gw1).empty());
}

TEST_F(GroupStateTest, StaleAutoListenersAreWithdrawnByTheirGatewayAndWithTheSubsystem) {
  CreateMasked(gw1, {"127.0.0.0/8", "192.0.2.0/24"});
  // gw2 ran before with another address: its old entry is in the group state.
  const std::string stale = AutoListenerKey(kNqn, "gw2", "198.51.100.7", "4430");
  ASSERT_TRUE(store
                  ->Mutate(
                      [&](const StateMap&, uint64_t, StateMap* puts, std::vector<std::string>*) {
                        (*puts)[stale] = R"({"nqn": ")" + std::string(kNqn) +
                                         R"(", "host_name": "gw2", "traddr": "198.51.100.7", "trsvcid": 4430})";
                        return Status::OK();
                      },
                      nullptr)
                  .ok());
  Sync(gw1);
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"198.51.100.7:4430"}));
  Sync(gw2);  // starts: rewrites its own entries
  const std::string k2 = AutoListenerKey(kNqn, "gw2", "192.0.2.2", "4430");
  EXPECT_EQ(StoredAutoListeners(), (std::set<std::string>{AutoListenerKey(kNqn, "gw1", "127.0.0.1", "4430"), k2}));
  Sync(gw1);
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"192.0.2.2:4430"}));

  // Deleting the subsystem removes every gateway's entries.
  delete_subsystem_req d;
  d.set_subsystem_nqn(kNqn);
  req_status rep;
  gw1.svc->delete_subsystem(nullptr, &d, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_TRUE(StoredAutoListeners().empty());
  Sync(gw2);
  EXPECT_TRUE(StoredAutoListeners().empty());
}

// A gateway removed for good (HA member removal): the gateway that removes it withdraws its
// auto-listeners from the group state; every gateway stops listing and advertising them.
TEST_F(GroupStateTest, AutoListenersOfARemovedGatewayAreWithdrawn) {
  CreateMasked(gw1, {"127.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"});
  Sync(gw2);
  // gw3 (now dead) had published its auto-listener.
  const std::string k3 = AutoListenerKey(kNqn, "gw3", "198.51.100.3", "4430");
  ASSERT_TRUE(store
                  ->Mutate(
                      [&](const StateMap&, uint64_t, StateMap* puts, std::vector<std::string>*) {
                        (*puts)[k3] = R"({"nqn": ")" + std::string(kNqn) +
                                      R"(", "host_name": "gw3", "traddr": "198.51.100.3", "trsvcid": 4430})";
                        return Status::OK();
                      },
                      nullptr)
                  .ok());
  Sync(gw1);
  Sync(gw2);
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"192.0.2.2:4430", "198.51.100.3:4430"}));
  EXPECT_EQ(Advertised(gw2), (std::set<std::string>{"127.0.0.1:4430", "198.51.100.3:4430"}));
  EXPECT_TRUE(Listed(gw2).count("gw3 198.51.100.3:4430 active"));

  EXPECT_FALSE(gw1.svc->WithdrawGatewayAutoListeners("gw1").ok());  // not its own
  auto w = gw1.svc->WithdrawGatewayAutoListeners("gw3");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, 1u);
  EXPECT_EQ(StoredAutoListeners(), (std::set<std::string>{AutoListenerKey(kNqn, "gw1", "127.0.0.1", "4430"),
                                                          AutoListenerKey(kNqn, "gw2", "192.0.2.2", "4430")}));
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"192.0.2.2:4430"}));  // at once on the removing gateway
  EXPECT_FALSE(Listed(gw1).count("gw3 198.51.100.3:4430 active"));
  Sync(gw2);  // the others when they apply the removal
  EXPECT_EQ(Advertised(gw2), (std::set<std::string>{"127.0.0.1:4430"}));
  EXPECT_FALSE(Listed(gw2).count("gw3 198.51.100.3:4430 active"));
  Sync(gw1);  // a replay after the write changes nothing
  EXPECT_EQ(Advertised(gw1), (std::set<std::string>{"192.0.2.2:4430"}));
  w = gw1.svc->WithdrawGatewayAutoListeners("gw3");  // again: nothing left
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 0u);
}

class KeepConnectedTest : public GroupStateTest {
 protected:
  void SetUp() override {
    GroupStateTest::SetUp();
    CreateMasked(gw1, {});
    add_host_req h;
    h.set_subsystem_nqn(kNqn);
    h.set_host_nqn(kHost);
    req_status rep;
    gw1.svc->add_host(nullptr, &h, &rep);
    ASSERT_EQ(rep.status(), 0) << rep.error_message();
    Sync(gw2);
    admin = EnableWithIo().first;  // the host is connected to gw2
    ASSERT_EQ(ConnectedHosts(), 1u);
  }
  bool Disconnected() { return admin->closed_; }  // gw2 shut the controller down
  nvmeof::test::FakeQueue* admin = nullptr;
  req_status RemoveHost(bool keep) {
    remove_host_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_host_nqn(kHost);
    if (keep) r.set_keep_connections(true);
    req_status rep;
    gw1.svc->remove_host(nullptr, &r, &rep);
    return rep;
  }
};

TEST_F(KeepConnectedTest, RemovalOnAnotherGatewayDisconnectsTheHost) {
  EXPECT_EQ(RemoveHost(false).status(), 0);
  Sync(gw2);
  EXPECT_TRUE(Disconnected());
}

TEST_F(KeepConnectedTest, RemoveHostKeepConnectionsHoldsOnEveryGateway) {
  EXPECT_EQ(RemoveHost(true).status(), 0);
  EXPECT_TRUE(Stored().count(KeepConnectedKey(kNqn, kHost)));
  Sync(gw2);
  EXPECT_FALSE(Disconnected());
  auto c = target_->Connections(kNqn);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].host_allowed);
}

TEST_F(KeepConnectedTest, SetKeepHostConnectedHoldsOnEveryGatewayUntilTheHostIsAddedAgain) {
  set_keep_host_connected_req k;
  k.set_subsystem_nqn(kNqn);
  k.set_host_nqn(kHost);
  req_status rep;
  gw1.svc->set_keep_host_connected(nullptr, &k, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  Sync(gw2);  // the mark arrives on its own
  EXPECT_EQ(RemoveHost(false).status(), 0);
  Sync(gw2);
  EXPECT_FALSE(Disconnected());
  auto c = target_->Connections(kNqn);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].host_allowed);
  // Added again: the mark goes, a later removal disconnects.
  add_host_req h;
  h.set_subsystem_nqn(kNqn);
  h.set_host_nqn(kHost);
  gw1.svc->add_host(nullptr, &h, &rep);
  ASSERT_EQ(rep.status(), 0) << rep.error_message();
  EXPECT_FALSE(Stored().count(KeepConnectedKey(kNqn, kHost)));
  Sync(gw2);
  EXPECT_EQ(RemoveHost(false).status(), 0);
  Sync(gw2);
  EXPECT_TRUE(Disconnected());
}

}  // namespace
}  // namespace nvmeof::api
