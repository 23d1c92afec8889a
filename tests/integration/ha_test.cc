// Gateway-group HA against a real single-node cluster (tests/tools/ceph-local.sh): several
// HaManagers in this process, each with its own RADOS client (plus one more client standing
// for its librbd connection), on one lease pool. Run by ctest (label ceph), whose fixture
// starts the cluster and sets NVMEOF_HA_CEPH_DIR; by hand:
//   tests/tools/ceph-local.sh start /tmp/c1 --no-mgr
//   NVMEOF_HA_CEPH_DIR=/tmp/c1 build/gateway/ha/ha_integration_test
// Waits are for conditions (bounded), never fixed sleeps; the times printed are for reading.
#include <rados/librados.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/ha/ha_manager.h"
#include "gateway/ha/ha_test_util.h"
#include "gateway/ha/rados_group_store.h"
#include "gateway/state/state_store.h"
#include "rbd-backend/device_factory.h"

namespace nvmeof::ha {
namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string CephDir() {
  const char* d = std::getenv("NVMEOF_HA_CEPH_DIR");
  return d ? d : "";
}

// A plain RADOS client: the admin's, or one standing for a gateway's librbd connection.
struct Client {
  rados_t cluster = nullptr;
  rados_ioctx_t io = nullptr;
  std::string address;
  ~Client() {
    if (io) rados_ioctx_destroy(io);
    if (cluster) rados_shutdown(cluster);
  }
  bool Connect(const std::string& conf) {
    if (rados_create(&cluster, "admin") < 0) return false;
    if (rados_conf_read_file(cluster, conf.c_str()) < 0) return false;
    rados_conf_set(cluster, "rados_osd_op_timeout", "10");
    if (rados_connect(cluster) < 0) return false;
    if (rados_ioctx_create(cluster, "rbd", &io) < 0) return false;
    char* a = nullptr;
    if (rados_getaddrs(cluster, &a) == 0 && a) {
      address = a;
      std::free(a);
    }
    return true;
  }
  int Write(const std::string& oid) { return rados_write_full(io, oid.c_str(), "x", 1); }
  std::string Mon(const std::string& cmd) {
    const char* cmds[] = {cmd.c_str()};
    char *out = nullptr, *outs = nullptr;
    size_t out_len = 0, outs_len = 0;
    int r = rados_mon_command(cluster, cmds, 1, "", 0, &out, &out_len, &outs, &outs_len);
    std::string s = out ? std::string(out, out_len) : std::string();
    if (out) rados_buffer_free(out);
    if (outs) rados_buffer_free(outs);
    return r < 0 ? "error " + std::to_string(r) : s;
  }
};

struct Gw {
  std::string name;
  FakeAna ana;
  Client rbd;  // its "librbd" connection: fenced with the rest
  std::unique_ptr<HaManager> ha;
  std::vector<std::string> addrs;  // as registered
};

class HaCephTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CephDir().empty()) GTEST_SKIP() << "NVMEOF_HA_CEPH_DIR not set (run through ctest -L ceph)";
    conf_ = CephDir() + "/ceph.conf";
    ASSERT_TRUE(admin_.Connect(conf_));
    admin_.Mon(R"({"prefix": "osd blocklist clear"})");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    group_ = "ha" + std::to_string(getpid()) + "-" + info->name();
  }
  void TearDown() override {
    for (auto& g : gws_) g->ha.reset();
    if (admin_.cluster) admin_.Mon(R"({"prefix": "osd blocklist clear"})");
  }

  Gw& Start(const std::string& name) {
    auto gw = std::make_unique<Gw>();
    gw->name = name;
    EXPECT_TRUE(gw->rbd.Connect(conf_));
    RadosGroupStoreOptions so;
    so.ceph_conf = conf_;
    so.group = group_;
    auto store = OpenRadosGroupStore(so);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    HaOptions o;
    o.name = name;
    o.listeners = [] { return std::vector<std::string>{"tcp:127.0.0.1:4420"}; };
    std::string rbd_addr = gw->rbd.address;
    o.client_addresses = [rbd_addr] { return std::vector<std::string>{rbd_addr}; };
    gw->ha = std::make_unique<HaManager>(o, std::move(*store), &gw->ana);
    Status s = gw->ha->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    gw->addrs = gw->ha->member().addresses;
    gws_.push_back(std::move(gw));
    return *gws_.back();
  }

  // The gateway dies: no renewal, no release; its RADOS clients go away without unlocking.
  void Kill(Gw& gw) { gw.ha.reset(); }

  std::set<std::string> Blocklist() {
    std::set<std::string> out;
    // Pacific prints the address list and then the (empty) range list: read the first value.
    std::istringstream in(admin_.Mon(R"({"prefix": "osd blocklist ls", "format": "json"})"));
    nlohmann::json j;
    try {
      in >> j;
    } catch (const std::exception&) {
      return out;
    }
    if (!j.is_array()) return out;
    for (auto& e : j) out.insert(e.value("addr", ""));
    return out;
  }

  bool Owns(Gw& gw, std::set<uint32_t> groups) {
    auto o = gw.ha->Owned();
    return std::set<uint32_t>(o.begin(), o.end()) == groups;
  }
  bool OneOwnerEach(const std::vector<Gw*>& running, const std::set<uint32_t>& groups) {
    for (uint32_t g : groups) {
      int owners = 0;
      for (Gw* gw : running) owners += gw->ana.Optimized(g) ? 1 : 0;
      if (owners != 1) return false;
    }
    return true;
  }

  std::string conf_, group_;
  Client admin_;
  std::vector<std::unique_ptr<Gw>> gws_;
};

TEST_F(HaCephTest, TwoGatewaysOneOwnerPerGroup) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  EXPECT_EQ(a.ha->member().home_group, 1u);
  EXPECT_EQ(b.ha->member().home_group, 2u);
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }, 30));
  EXPECT_TRUE(OneOwnerEach({&a, &b}, {1, 2}));
  EXPECT_EQ(a.addrs.size(), 2u);  // the HA client and the "librbd" one
  // The lease as any RADOS client sees it.
  int exclusive = 0;
  char tag[256], clients[256], cookies[256], addrs[256];
  size_t tl = sizeof tag, cl = sizeof clients, kl = sizeof cookies, al = sizeof addrs;
  ASSERT_EQ(rados_list_lockers(admin_.io, HaLeaseObject(group_, 1).c_str(), "ha_lease", &exclusive, tag, &tl,
                               clients, &cl, cookies, &kl, addrs, &al),
            1);
  EXPECT_EQ(std::string(cookies).rfind("a/", 0), 0u);
}

// Two new gateways registering at the same time (the daemon registers before it creates
// its target): distinct home groups, disjoint controller-ID ranges, on the real ha_members lock.
TEST_F(HaCephTest, ConcurrentRegistrationsGetDistinctHomeGroups) {
  constexpr int kN = 3;
  std::vector<std::unique_ptr<HaManager>> ms;
  std::vector<FakeAna> anas(kN);
  for (int i = 0; i < kN; i++) {
    RadosGroupStoreOptions so;
    so.ceph_conf = conf_;
    so.group = group_;
    auto store = OpenRadosGroupStore(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    HaOptions o;
    o.name = "r" + std::to_string(i);
    ms.push_back(std::make_unique<HaManager>(o, std::move(*store), &anas[i]));
  }
  std::vector<Status> results(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; i++) threads.emplace_back([&, i] { results[i] = ms[i]->Register(); });
  for (auto& t : threads) t.join();
  std::set<uint32_t> homes;
  std::set<uint16_t> mins;
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    homes.insert(ms[i]->member().home_group);
    mins.insert(ms[i]->member().min_cntlid);
  }
  EXPECT_EQ(homes, (std::set<uint32_t>{1, 2, 3}));
  EXPECT_EQ(mins.size(), size_t{kN});
}

TEST_F(HaCephTest, KilledOwnerIsFencedThenTakenOver) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }, 30));
  ASSERT_EQ(a.rbd.Write(group_ + ".data"), 0);
  std::vector<std::string> victim = a.addrs;
  auto t0 = Clock::now();
  Client& a_rbd = a.rbd;  // stays connected: the zombie's librbd client
  a.ha.reset();           // a dies (its HA client goes away without unlocking)
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }, 30));
  std::printf("takeover after kill: %.2f s (lease %.1f s)\n", Secs(Clock::now() - t0), 2.0);
  EXPECT_EQ(Blocklist(), std::set<std::string>(victim.begin(), victim.end()));
  // The old owner's other client can write nothing any more.
  EXPECT_EQ(a_rbd.Write(group_ + ".data"), -ESHUTDOWN);
  EXPECT_TRUE(OneOwnerEach({&b}, {1, 2}));
}

TEST_F(HaCephTest, BlocklistedOwnerSelfFencesAndRecoversAsANewClient) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }, 30));
  uint32_t changes = a.ana.Changes(1);
  std::string ha_addr;
  for (auto& x : a.addrs)
    if (x != a.rbd.address) ha_addr = x;
  // A Ceph-side partition: a's HA client is blocklisted from outside.
  admin_.Mon(R"({"prefix": "osd blocklist", "blocklistop": "add", "addr": ")" + ha_addr +
             R"(", "expire": 600.0})");
  ASSERT_TRUE(WaitFor([&] { return a.ha->reconnects() >= 1; }, 30));
  EXPECT_GE(a.ana.Changes(1), changes + 1);  // it went inaccessible
  EXPECT_NE(a.ha->member().addresses, a.addrs);
  // It serves its home group again, as a new client.
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }, 30));
  EXPECT_TRUE(OneOwnerEach({&a, &b}, {1, 2}));
}

TEST_F(HaCephTest, PlannedStopHandsOverAtOnceAndFailbackFollows) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}); }, 30));
  auto t0 = Clock::now();
  a.ha->Stop(true);
  EXPECT_FALSE(a.ana.Optimized(1));
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }, 30));
  double handover = Secs(Clock::now() - t0);
  std::printf("planned hand-over: %.3f s\n", handover);
  EXPECT_TRUE(Blocklist().empty());
  a.ha.reset();
  t0 = Clock::now();
  Gw& a2 = Start("a");
  EXPECT_EQ(a2.ha->member().home_group, 1u);
  ASSERT_TRUE(WaitFor([&] { return Owns(a2, {1}) && Owns(b, {2}); }, 30));
  std::printf("failback: %.3f s\n", Secs(Clock::now() - t0));
  EXPECT_TRUE(Blocklist().empty());
}

TEST_F(HaCephTest, FourGatewaysTwoKilled) {
  Gw& a = Start("a");
  Gw& b = Start("b");
  Gw& c = Start("c");
  Gw& d = Start("d");
  ASSERT_TRUE(WaitFor([&] { return Owns(a, {1}) && Owns(b, {2}) && Owns(c, {3}) && Owns(d, {4}); }, 30));
  std::set<std::string> victims(a.addrs.begin(), a.addrs.end());
  victims.insert(b.addrs.begin(), b.addrs.end());
  Kill(a);
  Kill(b);
  ASSERT_TRUE(WaitFor([&] { return c.ha->Owned().size() + d.ha->Owned().size() == 4; }, 30));
  EXPECT_TRUE(OneOwnerEach({&c, &d}, {1, 2, 3, 4}));
  EXPECT_EQ(c.ha->Owned().size(), 2u);
  EXPECT_EQ(d.ha->Owned().size(), 2u);
  EXPECT_EQ(Blocklist(), victims);
  Gw& a2 = Start("a");
  Gw& b2 = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(a2, {1}) && Owns(b2, {2}) && Owns(c, {3}) && Owns(d, {4}); }, 30));
}

// Every RADOS client a real gateway uses (its state store, its librbd connections) is
// registered, and fenced when it dies.
TEST_F(HaCephTest, RegistersAndFencesTheStateAndLibrbdClients) {
  RadosStateOptions so;
  so.ceph_conf = conf_;
  so.group = group_;
  auto state = OpenRadosStateStore(so);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  CephClientOptions co;
  co.conf_path = conf_;
  DeviceFactory devices(NewRbdOpener(co));
  EXPECT_TRUE(devices.ClientAddresses().empty());  // connects on the first open
  DeviceSpec img;
  img.pool = "rbd";
  img.image = group_ + "-img";
  img.create_image = true;
  img.create_size = 4 << 20;
  auto dev = devices.Open(img);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  std::vector<std::string> others = (*state)->ClientAddresses();
  ASSERT_EQ(others.size(), 1u);
  auto rbd = devices.ClientAddresses();
  ASSERT_EQ(rbd.size(), 1u);
  others.push_back(rbd[0]);

  RadosGroupStoreOptions gso;
  gso.ceph_conf = conf_;
  gso.group = group_;
  auto store = OpenRadosGroupStore(gso);
  ASSERT_TRUE(store.ok());
  FakeAna ana;
  HaOptions o;
  o.name = "a";
  o.client_addresses = [&] {
    auto v = (*state)->ClientAddresses();
    for (auto& x : devices.ClientAddresses()) v.push_back(x);
    return v;
  };
  auto a = std::make_unique<HaManager>(o, std::move(*store), &ana);
  ASSERT_TRUE(a->Start().ok());
  auto registered = a->member().addresses;
  for (const auto& x : others) EXPECT_TRUE(std::count(registered.begin(), registered.end(), x)) << x;
  EXPECT_EQ(registered.size(), 3u);
  ASSERT_TRUE(WaitFor([&] { return a->Owned() == std::vector<uint32_t>{1}; }, 30));
  Gw& b = Start("b");
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {2}); }, 30));
  a.reset();  // dies
  ASSERT_TRUE(WaitFor([&] { return Owns(b, {1, 2}); }, 30));
  EXPECT_EQ(Blocklist(), std::set<std::string>(registered.begin(), registered.end()));
  dev->reset();  // the image stays: the fixture's cluster is thrown away
}

}  // namespace
}  // namespace nvmeof::ha
