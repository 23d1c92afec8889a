// Management-plane tests with the group state in RADOS (ctest label ceph): a throw-away
// single-node cluster from tests/tools/ceph-local.sh (started by the ctest fixture; its
// directory in $NVMEOF_MGMT_CEPH_DIR), real gateways, real gwcli.
//   * restart after SIGKILL: everything configured through the API comes back (same NSIDs,
//     UUIDs, hosts, QoS, RBD and memory namespaces, listeners re-opened);
//   * two gateways in one group: a change made through either is applied by the other
//     within one second; a listener for the other gateway is opened by it; cross-gateway
//     EEXIST;
//   * 200 concurrent namespace adds, then deletes racing adds, then deletes, through both
//     gateways: after each phase both gateways and the RADOS object hold the same namespaces;
//   * RBD namespaces (when the rbd backend is built in): existing image, created image,
//     missing pool / image; RBD trash on delete (only images the gateway created).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway/protocol/nvme.h"
#include "tests/host/nvmf_host.h"
#include "tests/mgmt/mgmt_harness.h"

namespace nvmeof::mgmt_test {
namespace {

using json = nlohmann::json;

const char kNqn[] = "nqn.2016-06.io.spdk:ceph1";
const char kHost1[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
const char kHost2[] = "nqn.2014-08.org.nvmexpress:uuid:66666666-2222-3333-4444-555555555555";

std::string CephDir() {
  const char* d = getenv("NVMEOF_MGMT_CEPH_DIR");
  return d ? d : "";
}
std::string CephLocal() {
  const char* d = getenv("NVMEOF_CEPH_LOCAL");
  return d ? d : "";
}

class MgmtCeph : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (CephDir().empty()) return;
    // The pool of the state object (and of the RBD tests), with one image.
    CliResult r = mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/img0", "64M"});
    ASSERT_EQ(r.rc, 0) << r.all();
  }
  void SetUp() override {
    if (CephDir().empty()) GTEST_SKIP() << "NVMEOF_MGMT_CEPH_DIR is not set (run through ctest -L ceph)";
    // A group of its own per test (the state object is nvmeof.<group>.state).
    group_ = std::string("t") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
             std::to_string(getpid());
    for (auto& c : group_)
      if (c == '_') c = '-';
  }
  void TearDown() override {
    for (auto* g : {&a_, &b_})
      if (HasFailure()) fprintf(stderr, "---- gateway log ----\n%s\n", g->Log().c_str());
    a_.Stop();
    b_.Stop();
  }
  void Start(Gateway& g, const std::string& name, const std::vector<std::string>& extra = {}) {
    std::string err;
    std::vector<std::string> args = {"--name", name, "--hostname", name, "--group", group_, "--state-pool", "rbd",
                                     "--ceph-conf", CephDir() + "/ceph.conf", "--discovery", "none", "--reactors", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(g.Start(args, &err)) << err;
    ASSERT_NE(g.Log().find("group state in RADOS, pool rbd, object nvmeof." + group_ + ".state"), std::string::npos)
        << g.Log();
  }
  static json J(Gateway& g, const std::vector<std::string>& a) {
    CliResult r = GwcliJson(g.grpc_port(), a);
    try {
      return json::parse(r.out);
    } catch (...) {
      ADD_FAILURE() << r.all();
      return json();
    }
  }
  // Polls `fn` until it is true or `sec` seconds passed.
  template <typename F>
  static bool Eventually(F fn, int sec = 30) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(sec);
    while (std::chrono::steady_clock::now() < end) {
      if (fn()) return true;
      usleep(200000);
    }
    return fn();
  }
  // A change made through one gateway must be applied by the other: polls `fn` back to
  // back (each poll is a gwcli call, ~20 ms) from the moment the change's RPC returned,
  // prints the time it took (a figure for the reader, not asserted: tests make no timed
  // assertions) and fails the test if it is not applied within a generous 10 s.
  template <typename F>
  static void AppliedByTheOther(const std::string& what, F fn) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto end = t0 + std::chrono::seconds(10);
    bool ok = false;
    while (!(ok = fn()) && std::chrono::steady_clock::now() < end) {
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    printf("  applied by the other gateway: %-40s %5lld ms\n", what.c_str(), static_cast<long long>(ms));
    EXPECT_TRUE(ok) << what << ": not applied by the other gateway within 10 s";
  }
  static std::map<int, std::string> NsUuids(Gateway& g, const std::string& nqn) {
    std::map<int, std::string> m;
    json l = J(g, {"namespace", "list", "-n", nqn});
    if (!l.contains("namespaces")) return m;
    for (auto& n : l["namespaces"]) m[n["nsid"].get<int>()] = n["uuid"].get<std::string>();
    return m;
  }

  // NSID -> UUID of the namespaces of `nqn` in the group's RADOS object, read directly
  // (python3-rados, a dependency of ceph-common), not through a gateway.
  std::map<int, std::string> StateNamespaces(const std::string& nqn) {
    static const char kRead[] = R"(
import json, rados, sys
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx(sys.argv[2])
with rados.ReadOpCtx() as op:
    it, _ = io.get_omap_vals(op, "", "namespace_", 1000000)
    io.operate_read_op(op, sys.argv[3])
    print(json.dumps({k: json.loads(v) for k, v in it}))
)";
    std::map<int, std::string> m;
    CliResult r = mgmt_test::Run({"/usr/bin/python3", "-c", kRead, CephDir() + "/ceph.conf", "rbd", "nvmeof." + group_ + ".state"});
    if (r.rc != 0) {
      ADD_FAILURE() << "reading the state object: " << r.all();
      return m;
    }
    try {
      const json doc = json::parse(r.out);
      for (const json& v : doc)
        if (v.value("subsystem_nqn", "") == nqn) m[v.value("nsid", 0)] = v.value("uuid", "");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.all();
    }
    return m;
  }

  // Every omap value of the group's RADOS object, read directly (python3-rados).
  std::map<std::string, std::string> StateValues() {
    static const char kRead[] = R"(
import json, rados, sys
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx(sys.argv[2])
with rados.ReadOpCtx() as op:
    it, _ = io.get_omap_vals(op, "", "", 1000000)
    io.operate_read_op(op, sys.argv[3])
    print(json.dumps({k: v.decode() for k, v in it}))
)";
    std::map<std::string, std::string> m;
    CliResult r = mgmt_test::Run({"/usr/bin/python3", "-c", kRead, CephDir() + "/ceph.conf", "rbd", "nvmeof." + group_ + ".state"});
    if (r.rc != 0) {
      ADD_FAILURE() << "reading the state object: " << r.all();
      return m;
    }
    try {
      const json doc = json::parse(r.out);
      for (auto it = doc.begin(); it != doc.end(); ++it) m[it.key()] = it->get<std::string>();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.all();
    }
    return m;
  }

  std::string group_;
  Gateway a_, b_;
};

#define EXPECT_CLI(res_expr, code, substr)                                            \
  do {                                                                                \
    const CliResult _r = (res_expr);                                                  \
    EXPECT_EQ(_r.rc, (code)) << _r.all();                                             \
    EXPECT_NE(_r.all().find(substr), std::string::npos) << "want: " << (substr) << "\n" << _r.all(); \
  } while (0)

TEST_F(MgmtCeph, RestartReplaysTheState) {
  Start(a_, "gwA");
  const uint16_t p = a_.grpc_port();
  const std::string port = std::to_string(FreePort());
  EXPECT_CLI(Gwcli(p, {"subsystem", "add", "-n", kNqn, "-s", "SNR1", "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "--memory-size", "16M", "-s", "4096", "-u",
                       "01234567-89ab-cdef-0123-456789abcdef"}),
             0, "Adding namespace 1");
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "--nsid", "7", "--memory-size", "8M", "--no-auto-visible"}), 0,
             "Adding namespace 7");
  EXPECT_CLI(Gwcli(p, {"namespace", "add_host", "-n", kNqn, "--nsid", "7", "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"namespace", "set_qos", "-n", kNqn, "--nsid", "1", "--rw-ios-per-second", "3000",
                       "--rw-megabytes-per-second", "40", "--r-megabytes-per-second", "30",
                       "--w-megabytes-per-second", "20"}),
             0, "Successful");
  // An RBD namespace too, when the rbd backend is built in.
  CliResult rbd = Gwcli(p, {"namespace", "add", "-n", kNqn, "--nsid", "9", "-p", "rbd", "-i", "rs-" + group_,
                            "--rbd-create-image", "--size", "16M", "-s", "4096"});
  const bool with_rbd = rbd.all().find("RBD namespaces are not available") == std::string::npos;
  if (with_rbd) {
    EXPECT_EQ(rbd.rc, 0) << rbd.all();
  }
  EXPECT_CLI(Gwcli(p, {"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "7", "-l", "3"}), 0,
             "Successful");
  EXPECT_CLI(Gwcli(p, {"host", "add", "-n", kNqn, "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port}), 0, "Successful");
  const json before = J(a_, {"namespace", "list", "-n", kNqn});
  // Killed, not stopped: nothing is written on the way out.
  a_.Kill();

  Start(a_, "gwA");
  EXPECT_TRUE(a_.WaitForLog("listening on 127.0.0.1:" + port, 5000)) << a_.Log();
  const json subs = J(a_, {"subsystem", "list"});
  ASSERT_EQ(subs["subsystems"].size(), 1u) << subs.dump();
  EXPECT_EQ(subs["subsystems"][0]["serial_number"], "SNR1");
  const json after = J(a_, {"namespace", "list", "-n", kNqn});
  EXPECT_EQ(after["namespaces"], before["namespaces"]) << before.dump() << "\n" << after.dump();
  ASSERT_EQ(after["namespaces"].size(), with_rbd ? 3u : 2u);
  EXPECT_EQ(after["namespaces"][0]["uuid"], "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(after["namespaces"][0]["rw_ios_per_second"], "3000");
  EXPECT_EQ(after["namespaces"][0]["rw_mbytes_per_second"], "40");
  EXPECT_EQ(after["namespaces"][0]["r_mbytes_per_second"], "30");
  EXPECT_EQ(after["namespaces"][0]["w_mbytes_per_second"], "20");
  if (with_rbd) {
    EXPECT_EQ(after["namespaces"][2]["nsid"], 9);
    EXPECT_EQ(after["namespaces"][2]["rbd_image_name"], "rs-" + group_);
  }
  EXPECT_EQ(after["namespaces"][1]["load_balancing_group"], 3);
  EXPECT_EQ(after["namespaces"][1]["hosts"].size(), 1u);
  EXPECT_EQ(J(a_, {"host", "list", "-n", kNqn})["hosts"].size(), 1u);
  EXPECT_EQ(J(a_, {"listener", "list", "-n", kNqn})["listeners"].size(), 1u);
  // Changes after the restart are persisted as well.
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
  a_.Stop();
  Start(a_, "gwA");
  EXPECT_EQ(J(a_, {"subsystem", "list"})["subsystems"].size(), 0u);
}

TEST_F(MgmtCeph, TwoGatewaysInOneGroup) {
  Start(a_, "gwA");
  Start(b_, "gwB");
  const uint16_t pa = a_.grpc_port(), pb = b_.grpc_port();
  const std::string port_b = std::to_string(FreePort());
  EXPECT_CLI(Gwcli(pa, {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  AppliedByTheOther("subsystem add (A -> B)", [&] { return J(b_, {"subsystem", "list"})["subsystems"].size() == 1; });
  EXPECT_CLI(Gwcli(pb, {"subsystem", "add", "-n", kNqn, "--no-group-append"}), EEXIST, "Subsystem already exists");
  // A listener for gateway B, created through A: EREMOTE (a warning in gwcli), and B opens it.
  EXPECT_CLI(Gwcli(pa, {"listener", "add", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.1", "-s", port_b}), 0,
             "listener will only be active when appropriate gateway is up");
  AppliedByTheOther("listener add for B (A -> B opens it)",
                  [&] { return b_.Log().find("listening on 127.0.0.1:" + port_b) != std::string::npos; });
  EXPECT_EQ(J(a_, {"listener", "list", "-n", kNqn})["listeners"].size(), 1u);
  // A namespace added through B shows on A with the same UUID.
  EXPECT_CLI(Gwcli(pb, {"namespace", "add", "-n", kNqn, "--memory-size", "8M", "-s", "4096"}), 0, "Adding namespace 1");
  AppliedByTheOther("namespace add (B -> A)", [&] { return NsUuids(a_, kNqn).size() == 1; });
  EXPECT_EQ(NsUuids(a_, kNqn), NsUuids(b_, kNqn));
  // NSID taken in the group: EEXIST on the other gateway too.
  EXPECT_CLI(Gwcli(pa, {"namespace", "add", "-n", kNqn, "--nsid", "1", "--memory-size", "8M"}), EEXIST,
             "NSID 1 is already in use");
  EXPECT_CLI(Gwcli(pa, {"host", "add", "-n", kNqn, "-t", kHost1}), 0, "Successful");
  AppliedByTheOther("host add (A -> B)", [&] { return J(b_, {"host", "list", "-n", kNqn})["hosts"].size() == 1; });
  auto ns1 = [&](Gateway& g) {
    json l = J(g, {"namespace", "list", "-n", kNqn, "--nsid", "1"});
    return l.contains("namespaces") && l["namespaces"].size() == 1 ? l["namespaces"][0] : json();
  };
  EXPECT_CLI(Gwcli(pb, {"namespace", "set_qos", "-n", kNqn, "--nsid", "1", "--rw-ios-per-second", "2000"}), 0,
             "Successful");
  AppliedByTheOther("namespace set_qos (B -> A)", [&] { return ns1(a_).value("rw_ios_per_second", "") == "2000"; });
  EXPECT_CLI(Gwcli(pa, {"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "1", "-l", "2"}), 0,
             "Successful");
  AppliedByTheOther("namespace change_load_balancing_group (A -> B)",
                  [&] { return ns1(b_).value("load_balancing_group", 0) == 2; });
  // Removals travel too.
  EXPECT_CLI(Gwcli(pb, {"host", "del", "-n", kNqn, "-t", kHost1}), 0, "Successful");
  AppliedByTheOther("host del (B -> A)", [&] { return J(a_, {"host", "list", "-n", kNqn})["hosts"].empty(); });
  EXPECT_CLI(Gwcli(pa, {"namespace", "del", "-n", kNqn, "--nsid", "1"}), 0, "Successful");
  AppliedByTheOther("namespace del (A -> B)", [&] { return NsUuids(b_, kNqn).empty(); });
  EXPECT_CLI(Gwcli(pb, {"listener", "del", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.1", "-s", port_b}), 0,
             "Successful");
  AppliedByTheOther("listener del (B -> A)",
                  [&] { return J(a_, {"listener", "list", "-n", kNqn})["listeners"].empty(); });
  EXPECT_CLI(Gwcli(pa, {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
  AppliedByTheOther("subsystem del (A -> B)", [&] { return J(b_, {"subsystem", "list"})["subsystems"].empty(); });
}

// Network masks on two gateways in one RADOS group: gwA opens its auto-listener on
// 127.0.0.1, gwB on ::1 (auto_listener_addresses keeps them apart on one machine); each
// publishes it in the group state, so `listener list` through either gateway lists both
// (what ceph-csi asks one gateway), and gwB's goes when its mask does. A keep-connected mark
// set through gwA is stored for every gateway.
TEST_F(MgmtCeph, AutoListenersAndKeepConnectedReachEveryGateway) {
  Start(a_, "gwA", {"--auto-listener-addresses", "127.0.0.1"});
  Start(b_, "gwB", {"--auto-listener-addresses", "::1"});
  const std::string port = std::to_string(FreePort());
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append", "--network-mask",
                                    "127.0.0.0/8", "--network-mask", "::1/128", "-p", port}),
             0, "Successful");
  auto listed = [&](Gateway& g) {
    std::set<std::string> out;
    json l = J(g, {"listener", "list", "-n", kNqn});
    for (const auto& e : l.value("listeners", json::array()))
      if (e.value("active", false) && !e.value("manual", true))
        out.insert(e.value("host_name", "") + " " + e.value("traddr", "") + ":" + std::to_string(e.value("trsvcid", 0)));
    return out;
  };
  const std::set<std::string> both = {"gwA 127.0.0.1:" + port, "gwB [::1]:" + port};
  AppliedByTheOther("gwB's auto-listener listed by gwA", [&] { return listed(a_) == both; });
  AppliedByTheOther("gwA's auto-listener listed by gwB", [&] { return listed(b_) == both; });
  EXPECT_EQ(listed(a_), both);
  EXPECT_EQ(StateValues().count("auto-listener_" + std::string(kNqn) + "_gwB_TCP_[::1]_" + port), 1u);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del_network", "-n", kNqn, "--network-mask", "::1/128"}), 0,
             "Successful");
  AppliedByTheOther("gwB withdraws its auto-listener",
                  [&] { return listed(a_) == std::set<std::string>{"gwA 127.0.0.1:" + port}; });
  EXPECT_EQ(listed(a_), std::set<std::string>{"gwA 127.0.0.1:" + port});

  EXPECT_CLI(Gwcli(a_.grpc_port(), {"host", "add", "-n", kNqn, "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"host", "keep_connected", "-n", kNqn, "-t", kHost1}), 0, "");
  EXPECT_EQ(StateValues().count("keep-connected_" + std::string(kNqn) + "_" + kHost1), 1u);
  EXPECT_CLI(Gwcli(b_.grpc_port(), {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
  const auto left = StateValues();
  for (const auto& [k, v] : left) EXPECT_EQ(k.find(kNqn), std::string::npos) << k;
}

// A gateway removed from the HA group for good (`gw ha_remove_member`) takes its
// auto-listeners with it: the removing gateway withdraws them from the group state at once,
// and every other gateway stops listing them (and advertising them in discovery). Three
// gateways with ha = builtin: gwA on 127.0.0.1, gwB on ::1, gwC with no auto-listener.
TEST_F(MgmtCeph, RemovedMemberTakesItsAutoListeners) {
  char path[] = "/tmp/nvmeof-mgmt-ha-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string conf = "[gateway]\nha = builtin\nha_lease_ms = 2000\n";
  ASSERT_EQ(write(fd, conf.data(), conf.size()), static_cast<ssize_t>(conf.size()));
  close(fd);
  Gateway c;
  Start(a_, "gwA", {"--config", path, "--grpc", "127.0.0.1:0", "--auto-listener-addresses", "127.0.0.1"});
  Start(b_, "gwB", {"--config", path, "--grpc", "127.0.0.1:0", "--auto-listener-addresses", "::1"});
  Start(c, "gwC", {"--config", path, "--grpc", "127.0.0.1:0", "--auto-listener-addresses", "192.0.2.254"});
  unlink(path);
  const std::string port = std::to_string(FreePort());
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append", "--network-mask",
                                    "127.0.0.0/8", "--network-mask", "::1/128", "-p", port}),
             0, "Successful");
  auto listed = [&](Gateway& g) {
    std::set<std::string> out;
    json l = J(g, {"listener", "list", "-n", kNqn});
    for (const auto& e : l.value("listeners", json::array()))
      if (e.value("active", false) && !e.value("manual", true))
        out.insert(e.value("host_name", "") + " " + e.value("traddr", "") + ":" + std::to_string(e.value("trsvcid", 0)));
    return out;
  };
  const std::set<std::string> both = {"gwA 127.0.0.1:" + port, "gwB [::1]:" + port};
  const std::set<std::string> only_a = {"gwA 127.0.0.1:" + port};
  AppliedByTheOther("auto-listeners of gwA and gwB listed by gwC", [&] { return listed(c) == both; });
  EXPECT_TRUE(Eventually([&] { return listed(a_) == both; })) << J(a_, {"listener", "list", "-n", kNqn}).dump();
  const std::string key_b = "auto-listener_" + std::string(kNqn) + "_gwB_TCP_[::1]_" + port;
  EXPECT_EQ(StateValues().count(key_b), 1u);
  // gwB goes for good: once its lease ran out, gwA removes its member record.
  b_.Stop();
  EXPECT_EQ(StateValues().count(key_b), 1u);  // a stopped gateway keeps its entries (it may come back)
  CliResult r;
  EXPECT_TRUE(Eventually([&] {
    r = Gwcli(a_.grpc_port(), {"gw", "ha_remove_member", "-n", "gwB"});
    return r.rc == 0;
  })) << r.all();
  EXPECT_NE(r.all().find("Removing HA member gwB: Successful"), std::string::npos) << r.all();
  EXPECT_EQ(StateValues().count(key_b), 0u);
  EXPECT_EQ(listed(a_), only_a);
  AppliedByTheOther("gwB's auto-listener dropped by gwC", [&] { return listed(c) == only_a; });
  EXPECT_NE(a_.Log().find("auto-listeners of gateway gwB: 1 withdrawn from the group state (gateway removed)"),
            std::string::npos)
      << a_.Log();
  if (HasFailure()) fprintf(stderr, "---- gateway gwC log ----\n%s\n", c.Log().c_str());
  c.Stop();
}

// Two daemons with [gateway] ha = builtin in one group: the registered home groups and
// controller-ID ranges, one owner per ANA group as `gwcli gw ha` shows it on both, load
// balancing of new namespaces over the home groups (nobody's group refused), the other
// gateway's listener in the member view and in the discovery log's source (peer listeners).
TEST_F(MgmtCeph, HaBuiltinTwoGateways) {
  char path[] = "/tmp/nvmeof-mgmt-ha-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string conf = "[gateway]\nha = builtin\nha_lease_ms = 2000\n";
  ASSERT_EQ(write(fd, conf.data(), conf.size()), static_cast<ssize_t>(conf.size()));
  close(fd);
  auto start = [&](Gateway& g, const std::string& name) {
    std::string err;
    ASSERT_TRUE(g.Start({"--config", path, "--grpc", "127.0.0.1:0", "--name", name, "--hostname", name, "--group",
                         group_, "--state-pool", "rbd", "--ceph-conf", CephDir() + "/ceph.conf", "--discovery", "none",
                         "--reactors", "1"},
                        &err))
        << err;
  };
  start(a_, "gwA");
  start(b_, "gwB");
  unlink(path);
  EXPECT_NE(a_.Log().find("ha: builtin, gateway gwA, home ANA group 1, controller IDs 1-2048"), std::string::npos)
      << a_.Log();
  EXPECT_NE(b_.Log().find("ha: builtin, gateway gwB, home ANA group 2, controller IDs 2049-4096"), std::string::npos)
      << b_.Log();
  // get_gateway_info reports the home group as the gateway's load-balancing group.
  EXPECT_EQ(J(a_, {"gw", "info"}).value("load_balancing_group", 0), 1);
  EXPECT_EQ(J(b_, {"gw", "info"}).value("load_balancing_group", 0), 2);
  auto owners = [&](Gateway& g) {
    std::map<int, std::string> o;
    json j = J(g, {"gw", "ha"});
    if (j.contains("groups"))
      for (auto& x : j["groups"]) o[x.value("grp_id", 0)] = x.value("owner", "");
    return o;
  };
  auto within = [](int seconds, auto fn) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!fn() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return fn();
  };
  const std::map<int, std::string> two{{1, "gwA"}, {2, "gwB"}};
  ASSERT_TRUE(within(30, [&] { return owners(a_) == two && owners(b_) == two; })) << J(a_, {"gw", "ha"}).dump();
  json ha = J(b_, {"gw", "ha"});
  ASSERT_EQ(ha["members"].size(), 2u) << ha.dump();
  for (auto& m : ha["members"]) {
    EXPECT_TRUE(m.value("alive", false)) << m.dump();
    EXPECT_EQ(m.value("home_group", 0), m.value("name", "") == "gwA" ? 1 : 2) << m.dump();
  }
  // A listener of gwA reaches gwA's member record (seen from gwB) and gwB's discovery source.
  const std::string port_a = std::to_string(FreePort());
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port_a}), 0,
             "Successful");
  EXPECT_TRUE(within(30, [&] {
    json j = J(b_, {"gw", "ha"});
    for (auto& m : j["members"])
      if (m.value("name", "") == "gwA")
        for (auto& l : m["listeners"])
          if (l.value("trsvcid", "") == port_a) return true;
    return false;
  })) << J(b_, {"gw", "ha"}).dump();
  EXPECT_TRUE(within(10, [&] { return b_.Log().find("listener 127.0.0.1:" + port_a + " of gateway gwA listed") !=
                                      std::string::npos; }))
      << b_.Log();
  // Load balancing: a namespace added without a group goes to the least loaded of the
  // members' home groups (group 1 on a tie); group 3, nobody's home group, is refused like
  // the reference (a namespace can never be in a group no gateway can own).
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "--memory-size", "8M"}), 0, "Adding namespace 1");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "1", "-l", "3"}),
             19, "Load balancing group 3 doesn't exist");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "--memory-size", "8M"}), 0, "Adding namespace 2");
  EXPECT_TRUE(within(30, [&] {
    json l = J(b_, {"namespace", "list", "-n", kNqn});
    if (!l.contains("namespaces") || l["namespaces"].size() != 2) return false;
    std::set<int> groups;
    for (auto& ns : l["namespaces"]) groups.insert(ns.value("load_balancing_group", 0));
    return groups == std::set<int>{1, 2};
  })) << J(b_, {"namespace", "list", "-n", kNqn}).dump();
  // gwA stops (hand-over): gwB serves every group.
  a_.Stop();
  const std::map<int, std::string> all_b{{1, "gwB"}, {2, "gwB"}};
  EXPECT_TRUE(within(30, [&] { return owners(b_) == all_b; })) << J(b_, {"gw", "ha"}).dump();
  // ANA Change during the hand-over: gwA reported group 1 in Change while it drained, then
  // INACCESSIBLE; gwB reported it in Change from gwA's hand-over mark (gwA draining) until it
  // took the lease, then OPTIMIZED.
  const std::string log_a = a_.Log(), log_b = b_.Log();
  const size_t a_change = log_a.rfind("ANA group 1 is now changing");
  ASSERT_NE(a_change, std::string::npos) << log_a;
  EXPECT_NE(log_a.find("ANA group 1 is now inaccessible", a_change), std::string::npos) << log_a;
  const size_t b_change = log_b.rfind("ANA group 1 is now changing");
  ASSERT_NE(b_change, std::string::npos) << log_b;
  EXPECT_NE(log_b.find("ANA group 1 is now optimized", b_change), std::string::npos) << log_b;
}

// 200 namespace additions and deletions issued concurrently through both gateways (gwcli
// processes, 4 threads, two per gateway): first 200 adds; then 100 deletes of the odd NSIDs
// racing 100 new adds; then deletes of everything. After each phase both gateways and the
// RADOS object hold the same, correct namespaces: nothing lost, nothing duplicated.
TEST_F(MgmtCeph, ConcurrentAddsAndDeletesThroughBoth) {
  constexpr int kTotal = 200, kThreads = 4;
  Start(a_, "gwA");
  Start(b_, "gwB");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append", "-m", "1024"}), 0,
             "Successful");
  ASSERT_TRUE(Eventually([&] { return J(b_, {"subsystem", "list"})["subsystems"].size() == 1; }));
  using Args = std::vector<std::string>;
  const Args add{"namespace", "add", "-n", kNqn, "--memory-size", "1M"};
  auto del = [](int nsid) { return Args{"namespace", "del", "-n", kNqn, "--nsid", std::to_string(nsid)}; };
  // Op i runs on thread i % kThreads, through gateway A for threads 0 and 1, B for 2 and 3.
  auto run = [&](const std::vector<Args>& ops) {
    std::atomic<int> failures{0};
    std::mutex mu;
    std::string first_error;
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++) {
      ts.emplace_back([&, t] {
        Gateway& g = t < kThreads / 2 ? a_ : b_;
        for (size_t i = t; i < ops.size(); i += kThreads) {
          CliResult r = Gwcli(g.grpc_port(), ops[i]);
          if (r.rc != 0 && failures++ == 0) {
            std::lock_guard<std::mutex> lk(mu);
            first_error = r.all();
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(failures.load(), 0) << first_error;
  };
  // Both gateways and the state object agree on `want` NSIDs (and the same UUIDs).
  auto converged = [&](size_t want) {
    std::map<int, std::string> ua, ub;
    const bool same = Eventually([&] {
      ua = NsUuids(a_, kNqn);
      ub = NsUuids(b_, kNqn);
      return ua.size() == want && ua == ub;
    }, 60);
    EXPECT_TRUE(same) << "A has " << ua.size() << ", B has " << ub.size() << ", want " << want;
    EXPECT_EQ(StateNamespaces(kNqn), ua) << "the RADOS object differs from the gateways";
    return ua;
  };

  std::vector<Args> ops(kTotal, add);
  run(ops);
  auto first = converged(kTotal);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.begin()->first, 1);
  EXPECT_EQ(first.rbegin()->first, kTotal);  // NSIDs 1..200, none lost or duplicated

  ops.clear();
  for (int j = 0; j < kTotal / 2; j++) {
    ops.push_back(del(2 * j + 1));
    ops.push_back(add);
  }
  run(ops);
  auto mixed = converged(kTotal);
  for (int nsid = 2; nsid <= kTotal; nsid += 2)
    EXPECT_EQ(mixed[nsid], first[nsid]) << "namespace " << nsid << " was not deleted and must keep its UUID";
  int fresh = 0;
  for (const auto& [nsid, uuid] : mixed) {
    auto old = first.find(nsid);
    if (old == first.end() || old->second != uuid) fresh++;
  }
  EXPECT_EQ(fresh, kTotal / 2) << "new namespaces";

  ops.clear();
  for (const auto& [nsid, uuid] : mixed) ops.push_back(del(nsid));
  run(ops);
  converged(0);
}

TEST_F(MgmtCeph, RbdNamespaces) {
  Start(a_, "gwA");
  const uint16_t p = a_.grpc_port();
  EXPECT_CLI(Gwcli(p, {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  CliResult r = Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "img0", "-s", "4096"});
  if (r.all().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  EXPECT_EQ(r.rc, 0) << r.all();
  json l = J(a_, {"namespace", "list", "-n", kNqn});
  ASSERT_EQ(l["namespaces"].size(), 1u);
  EXPECT_EQ(l["namespaces"][0]["rbd_pool_name"], "rbd");
  EXPECT_EQ(l["namespaces"][0]["rbd_image_name"], "img0");
  EXPECT_EQ(l["namespaces"][0]["rbd_image_size"], std::to_string(64 << 20));
  // The same image again: EEXIST unless --force.
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "img0"}), EEXIST,
             "RBD image rbd/img0 is already used by a namespace in subsystem");
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "--nsid", "3", "-p", "rbd", "-i", "img0", "--force"}), 0,
             "Adding namespace 3");
  EXPECT_CLI(Gwcli(p, {"namespace", "del", "-n", kNqn, "--nsid", "3"}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "img-" + group_, "--rbd-create-image",
                       "--size", "16M"}),
             0, "Adding namespace 2");
  CliResult np = Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "nopool", "-i", "x"});
  EXPECT_EQ(np.rc, ENOENT) << np.all();
  EXPECT_NE(np.all().find("nopool"), std::string::npos) << np.all();
  CliResult ni = Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "missing-image"});
  EXPECT_EQ(ni.rc, ENOENT) << ni.all();
  EXPECT_NE(ni.all().find("missing-image"), std::string::npos) << ni.all();
  EXPECT_CLI(Gwcli(p, {"namespace", "resize", "-n", kNqn, "--nsid", "2", "--size", "32M"}), 0, "Successful");
  EXPECT_EQ(J(a_, {"namespace", "list", "-n", kNqn, "--nsid", "2"})["namespaces"][0]["rbd_image_size"],
            std::to_string(32 << 20));
  EXPECT_CLI(Gwcli(p, {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// The current reference's namespace_add fields on a real cluster: an image in a RADOS
// namespace (the same image name in the default namespace is another image), a missing
// RADOS namespace refused, an image created with a data pool (checked with `rbd info`), a
// read-only namespace (the image opened read-only).
TEST_F(MgmtCeph, RbdRadosNamespaceDataPoolReadOnly) {
  Start(a_, "gwA");
  const uint16_t p = a_.grpc_port();
  EXPECT_CLI(Gwcli(p, {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  const std::string img = "nsimg-" + group_;
  CliResult r = mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/tenant1/" + img, "16M"});
  ASSERT_EQ(r.rc, 0) << r.all();
  r = Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "--rados-namespace", "tenant1", "-i", img});
  if (r.all().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  EXPECT_EQ(r.rc, 0) << r.all();
  json l = J(a_, {"namespace", "list", "-n", kNqn, "--nsid", "1"});
  ASSERT_EQ(l["namespaces"].size(), 1u);
  EXPECT_EQ(l["namespaces"][0]["rados_namespace_name"], "tenant1");
  EXPECT_EQ(l["namespaces"][0]["rbd_image_size"], std::to_string(16 << 20));
  EXPECT_CLI(Gwcli(p, {"--format", "plain", "namespace", "list", "-n", kNqn}), 0, "rbd/tenant1/" + img);
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "--rados-namespace", "tenant1", "-i", img}),
             EEXIST, "RBD image rbd/tenant1/" + img + " is already used");
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "--rados-namespace", "nosuch", "-i", img}),
             ENOENT, "Namespace nosuch doesn't exist in pool rbd");
  // The same name in the pool's default namespace does not exist yet: another image.
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", img}), ENOENT, img);

  // A data pool for a created image.
  r = mgmt_test::Run({"/bin/bash", "-c",
                      "eval \"$(" + CephLocal() + " env " + CephDir() +
                          ")\" && (ceph osd pool ls | grep -qx rbddata || ceph osd pool create rbddata 8) >/dev/null 2>&1"
                          " && rbd pool init rbddata"});
  ASSERT_EQ(r.rc, 0) << r.all();
  const std::string dimg = "dpimg-" + group_;
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", dimg, "--rbd-create-image", "--size", "16M",
                       "--rbd-data-pool", "rbddata"}),
             0, "Adding namespace 2");
  r = mgmt_test::Run({"/bin/bash", "-c",
                      "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && rbd info --format json rbd/" + dimg});
  ASSERT_EQ(r.rc, 0) << r.all();
  EXPECT_EQ(json::parse(r.out).value("data_pool", ""), "rbddata") << r.out;
  EXPECT_EQ(J(a_, {"namespace", "list", "-n", kNqn, "--nsid", "2"})["namespaces"][0]["rbd_data_pool_name"], "rbddata");

  // Read-only: opened read-only (no exclusive lock), reported read-only.
  const std::string rimg = "roimg-" + group_;
  ASSERT_EQ(mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/" + rimg, "16M"}).rc, 0);
  EXPECT_CLI(Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", rimg, "--read-only"}), 0,
             "Adding namespace 3");
  EXPECT_EQ(J(a_, {"namespace", "list", "-n", kNqn, "--nsid", "3"})["namespaces"][0]["read_only"], true);
  EXPECT_NE(a_.Log().find("rbd rbd/" + rimg + ": opened read-only"), std::string::npos) << a_.Log();
  EXPECT_CLI(Gwcli(p, {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// A namespace resize (grow only) reaches every gateway of the group: for an RBD namespace
// through each gateway's watch on the image (resize is not part of the group state, as in
// the reference gateway).
TEST_F(MgmtCeph, RbdResizeReachesEveryGateway) {
  Start(a_, "gwA");
  Start(b_, "gwB");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "grow-" + group_,
                                    "--rbd-create-image", "--size", "16M", "-s", "4096"}),
             0, "Adding namespace 1");
  auto size_on = [&](Gateway& g) -> std::string {
    json l = J(g, {"namespace", "list", "-n", kNqn, "--nsid", "1"});
    if (!l.contains("namespaces") || l["namespaces"].empty()) return "";
    return l["namespaces"][0]["rbd_image_size"].get<std::string>();
  };
  ASSERT_TRUE(Eventually([&] { return size_on(b_) == std::to_string(16 << 20); })) << "B did not get the namespace";
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "resize", "-n", kNqn, "--nsid", "1", "--size", "48M"}), 0,
             "Successful");
  EXPECT_EQ(size_on(a_), std::to_string(48 << 20));
  EXPECT_TRUE(Eventually([&] { return size_on(b_) == std::to_string(48 << 20); }, 10))
      << "gateway B still reports " << size_on(b_);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// Auto-resize (on by default): an image grown from outside (`rbd resize`) grows the
// namespace on every gateway of the group; turned off through one gateway, no gateway
// follows a growth until the size is refreshed; a shrink from outside is flagged
// (image_was_shrunk), never applied.
TEST_F(MgmtCeph, RbdAutoResizeAndShrinkFromOutside) {
  Start(a_, "gwA");
  Start(b_, "gwB");
  const std::string img = "ar-" + group_;
  ASSERT_EQ(mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/" + img, "16M"}).rc, 0);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  CliResult r = Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", img});
  if (r.all().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  ASSERT_EQ(r.rc, 0) << r.all();
  auto ns_on = [&](Gateway& g) -> json {
    json l = J(g, {"namespace", "list", "-n", kNqn, "--nsid", "1"});
    if (!l.contains("namespaces") || l["namespaces"].empty()) return json::object();
    return l["namespaces"][0];
  };
  auto size_on = [&](Gateway& g) { return ns_on(g).value("rbd_image_size", std::string()); };
  auto rbd = [&](const std::string& args) {
    CliResult c = mgmt_test::Run(
        {"/bin/bash", "-c", "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && rbd " + args + " rbd/" + img});
    EXPECT_EQ(c.rc, 0) << c.all();
  };
  ASSERT_TRUE(Eventually([&] { return size_on(b_) == std::to_string(16 << 20); })) << "B did not get the namespace";
  rbd("resize --size 32M");
  EXPECT_TRUE(Eventually([&] { return size_on(a_) == std::to_string(32 << 20); }, 10)) << size_on(a_);
  EXPECT_TRUE(Eventually([&] { return size_on(b_) == std::to_string(32 << 20); }, 10)) << size_on(b_);

  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "set_auto_resize", "-n", kNqn, "--nsid", "1",
                                    "--auto-resize-enabled", "no"}),
             0, "Successful");
  ASSERT_TRUE(Eventually([&] { return ns_on(b_).value("disable_auto_resize", false); })) << ns_on(b_).dump();
  rbd("resize --size 48M");
  for (Gateway* g : {&a_, &b_})
    EXPECT_TRUE(Eventually([&] { return g->Log().find("auto-resize is off, the namespace keeps") != std::string::npos; },
                           10))
        << g->Log();
  EXPECT_EQ(size_on(a_), std::to_string(32 << 20));
  EXPECT_EQ(size_on(b_), std::to_string(32 << 20));
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "refresh_size", "-n", kNqn, "--nsid", "1"}), 0, "Successful");
  EXPECT_EQ(size_on(a_), std::to_string(48 << 20));

  rbd("resize --allow-shrink --size 16M");
  EXPECT_TRUE(Eventually([&] { return ns_on(a_).value("image_was_shrunk", false); }, 10)) << ns_on(a_).dump();
  EXPECT_EQ(size_on(a_), std::to_string(48 << 20)) << "a shrink is never applied";
  EXPECT_NE(a_.Log().find("image shrunk from outside"), std::string::npos);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// A read-only RBD namespace follows a resize from outside too (its librbd handle gets no
// header notifications: the gateway reads the size from the image header and reopens the
// image): the listing shows the new size, a connected host gets the Namespace Attribute
// Changed notice and Identify Namespace reports it. With auto-resize off, `refresh_size`
// takes a growth at once.
TEST_F(MgmtCeph, RbdReadOnlyFollowsResizeFromOutside) {
  Start(a_, "gwA");
  const uint16_t p = a_.grpc_port();
  const std::string img = "rogrow-" + group_;
  ASSERT_EQ(mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/" + img, "16M"}).rc, 0);
  const uint16_t port = FreePort();
  EXPECT_CLI(Gwcli(p, {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"host", "add", "-n", kNqn, "-t", "*"}), 0, "Successful");
  EXPECT_CLI(Gwcli(p, {"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", std::to_string(port)}), 0,
             "Successful");
  CliResult r = Gwcli(p, {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", img, "--read-only"});
  if (r.all().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  ASSERT_EQ(r.rc, 0) << r.all();
  auto size_on = [&]() -> std::string {
    json l = J(a_, {"namespace", "list", "-n", kNqn, "--nsid", "1"});
    if (!l.contains("namespaces") || l["namespaces"].empty()) return "";
    return l["namespaces"][0].value("rbd_image_size", std::string());
  };
  auto rbd = [&](const std::string& args) {
    CliResult c = mgmt_test::Run(
        {"/bin/bash", "-c", "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && rbd " + args + " rbd/" + img});
    EXPECT_EQ(c.rc, 0) << c.all();
  };
  ASSERT_EQ(size_on(), std::to_string(16 << 20));
  host::ControllerOptions o;
  o.port = port;
  o.subnqn = kNqn;
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  const uint16_t aer = c.SubmitAer();
  ASSERT_NE(aer, 0);
  rbd("resize --size 32M");
  EXPECT_TRUE(Eventually([&] { return size_on() == std::to_string(32 << 20); })) << size_on();
  host::Completion n = c.admin().Wait(aer, 10000);
  ASSERT_TRUE(n.ok()) << n.ToString();
  EXPECT_EQ(n.cqe.dw0 & 0xFFFFFF, 0x040002u) << std::hex << n.cqe.dw0;  // notice, attribute changed, log page 04h
  nvme::IdentifyNamespace id{};
  ASSERT_TRUE(c.IdentifyNamespace(1, &id).ok());
  EXPECT_EQ(id.nsze, (32u << 20) / 512);
  EXPECT_NE(a_.Log().find("rbd rbd/" + img + ": size changed from outside"), std::string::npos) << a_.Log();

  // Auto-resize off: refresh_size takes the growth at once.
  EXPECT_CLI(Gwcli(p, {"namespace", "set_auto_resize", "-n", kNqn, "--nsid", "1", "--auto-resize-enabled", "no"}), 0,
             "Successful");
  rbd("resize --size 48M");
  EXPECT_CLI(Gwcli(p, {"namespace", "refresh_size", "-n", kNqn, "--nsid", "1"}), 0, "Successful");
  EXPECT_EQ(size_on(), std::to_string(48 << 20));
  ASSERT_TRUE(c.IdentifyNamespace(1, &id).ok());
  EXPECT_EQ(id.nsze, (48u << 20) / 512);
  EXPECT_CLI(Gwcli(p, {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// RBD trash on delete (namespace_add trash_image, namespace_delete i_am_sure): the image the
// gateway created is in `rbd trash ls` after the delete; an image it did not create keeps
// its place, the flag dropped at add.
TEST_F(MgmtCeph, RbdTrashOnDelete) {
  Start(a_, "gwA");
  const std::string made = "trash-" + group_, kept = "keep-" + group_;
  ASSERT_EQ(mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/" + kept, "16M"}).rc, 0);
  auto rbd = [&](const std::string& args) {
    CliResult c = mgmt_test::Run({"/bin/bash", "-c", "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && rbd " + args});
    EXPECT_EQ(c.rc, 0) << c.all();
    return c.out;
  };
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  CliResult r = Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", made, "-c", "--size", "16M",
                                       "--rbd-trash-image-on-delete"});
  if (r.all().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  ASSERT_EQ(r.rc, 0) << r.all();
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", kept, "-c", "--size", "16M",
                                    "--rbd-trash-image-on-delete"}),
             0, "Adding namespace 2");
  EXPECT_TRUE(a_.WaitForLog("Notice that as image rbd/" + kept +
                                " was created outside the gateway it won't get trashed on namespace deletion",
                            5000))
      << a_.Log();
  json l = J(a_, {"namespace", "list", "-n", kNqn});
  ASSERT_EQ(l["namespaces"].size(), 2u) << l.dump();
  EXPECT_TRUE(l["namespaces"][0].value("trash_image", false)) << l.dump();
  EXPECT_FALSE(l["namespaces"][1].value("trash_image", false)) << l.dump();

  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "del", "-n", kNqn, "--nsid", "1"}), EINVAL,
             "Confirmation for trashing RBD image is needed");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "del", "-n", kNqn, "--nsid", "1", "--i-am-sure"}), 0, "Successful");
  EXPECT_NE(rbd("trash ls rbd").find(made), std::string::npos);
  EXPECT_EQ(rbd("ls rbd").find(made), std::string::npos);
  EXPECT_NE(a_.Log().find("RBD image rbd/" + made + " moved to the trash"), std::string::npos) << a_.Log();

  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "del", "-n", kNqn, "--nsid", "2", "--i-am-sure"}), 0, "Successful");
  EXPECT_NE(rbd("ls rbd").find(kept), std::string::npos);
  EXPECT_EQ(rbd("trash ls rbd").find(kept), std::string::npos);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

// A group whose RADOS state the reference gateway wrote (tests/data/reference-group-state.json,
// loaded with the rados CLI) is served unchanged: every subsystem, namespace (NSID, UUID, ANA
// group, block size, visibility, read-only), QoS limit, host, namespace host and listener.
// What this gateway writes into that object stays in the reference's format: the keys and
// field names the reference writes, its values left byte for byte where nothing changed,
// keys it does not know and fields it does not know kept.
TEST_F(MgmtCeph, ReferenceGroupStateIsServedUnchanged) {
  const std::string obj = "nvmeof." + group_ + ".state";
  const std::string port = std::to_string(FreePort());
  for (const char* n : {"1", "5", "3"})
    ASSERT_EQ(mgmt_test::Run({CephLocal(), "image", CephDir(), "rbd/mig-" + group_ + "-" + n,
                              std::string(n) == "5" ? "32M" : "16M"}).rc, 0);
  // Renders each value as the reference does (json.dumps(indent=2)) and stores it with rados.
  static const char kLoad[] = R"(
import json, subprocess, sys
path, conf, pool, obj, group, gw, port = sys.argv[1:8]
text = open(path).read().replace("@GROUP@", group).replace("@GATEWAY@", gw).replace("@PORT@", port)
doc = json.loads(text)
def put(key, value):
    subprocess.run(["rados", "-c", conf, "-p", pool, "setomapval", obj, key], input=value.encode(), check=True)
for key, value in doc["keys"].items():
    put(key, json.dumps(value, indent=2))
put("omap_version", doc["omap_version"])
print(json.dumps({k: json.dumps(v, indent=2) for k, v in doc["keys"].items()}))
)";
  CliResult load = mgmt_test::Run({"/bin/bash", "-c",
                                   "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && exec /usr/bin/python3 -c '" +
                                       std::string(kLoad) + "' \"$@\"",
                                   "load", std::string(NVMEOF_TEST_DATA_DIR) + "/reference-group-state.json",
                                   CephDir() + "/ceph.conf", "rbd", obj, group_, "gwA", port});
  ASSERT_EQ(load.rc, 0) << load.all();
  const json written = json::parse(load.out);
  auto omap = [&]() -> json {
    static const char kRead[] = R"(
import json, rados, sys
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx(sys.argv[2])
with rados.ReadOpCtx() as op:
    it, _ = io.get_omap_vals(op, "", "", 1000000)
    io.operate_read_op(op, sys.argv[3])
    print(json.dumps({k: v.decode() for k, v in it}))
)";
    CliResult r = mgmt_test::Run({"/usr/bin/python3", "-c", kRead, CephDir() + "/ceph.conf", "rbd", obj});
    EXPECT_EQ(r.rc, 0) << r.all();
    return r.rc == 0 ? json::parse(r.out) : json::object();
  };

  Start(a_, "gwA");
  const std::string n1 = "nqn.2016-06.io.spdk:mig1", n2 = "nqn.2016-06.io.spdk:mig2";
  const std::string h1 = "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  json ns1;
  const bool all_ns = Eventually([&] {
    ns1 = J(a_, {"namespace", "list", "-n", n1});
    return ns1.contains("namespaces") && ns1["namespaces"].size() == 2;
  }, 20);
  if (!all_ns && a_.Log().find("RBD namespaces are not available") != std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  // Subsystems.
  json subs = J(a_, {"subsystem", "list"});
  ASSERT_EQ(subs["subsystems"].size(), 2u) << subs.dump();
  for (const json& sub : subs["subsystems"]) {
    if (sub["nqn"] == n1) {
      EXPECT_EQ(sub["serial_number"], "Ceph70412963084127");
      EXPECT_EQ(sub["max_namespaces"], 256);
    } else {
      EXPECT_EQ(sub["nqn"], n2);
      EXPECT_EQ(sub["serial_number"], "Ceph3141592653589");
      EXPECT_EQ(sub["max_namespaces"], 32);
    }
  }
  // Namespaces: NSIDs, UUIDs, ANA groups, block sizes, visibility, QoS, namespace hosts.
  ASSERT_EQ(ns1["namespaces"].size(), 2u) << ns1.dump() << a_.Log();
  const json& a = ns1["namespaces"][0];
  const json& b = ns1["namespaces"][1];
  EXPECT_EQ(a["nsid"], 1);
  EXPECT_EQ(a["uuid"], "7a1d5f3e-2b4c-4e8a-9f10-3c2b1a0d9e81");
  EXPECT_EQ(a["load_balancing_group"], 1);
  EXPECT_EQ(a["block_size"], 512);
  EXPECT_EQ(a["rbd_image_name"], "mig-" + group_ + "-1");
  EXPECT_EQ(a["rw_ios_per_second"], "2000");
  EXPECT_EQ(a["rw_mbytes_per_second"], "100");
  EXPECT_TRUE(a["auto_visible"].get<bool>());
  EXPECT_EQ(b["nsid"], 5);
  EXPECT_EQ(b["uuid"], "0c9e4b7a-61d2-4f35-8a0b-5d6e7f809a1b");
  EXPECT_EQ(b["load_balancing_group"], 2);
  EXPECT_EQ(b["block_size"], 4096);
  EXPECT_EQ(b["rbd_image_size"], std::to_string(32 << 20));
  EXPECT_FALSE(b.value("auto_visible", false));
  ASSERT_EQ(b["hosts"].size(), 1u) << b.dump();
  EXPECT_EQ(b["hosts"][0], h1);
  EXPECT_EQ(b.value("location", ""), "site-a");
  EXPECT_TRUE(b.value("trash_image", false)) << b.dump();
  EXPECT_FALSE(b.value("disable_auto_resize", true)) << b.dump();
  json ns2 = J(a_, {"namespace", "list", "-n", n2});
  ASSERT_EQ(ns2["namespaces"].size(), 1u) << ns2.dump();
  EXPECT_EQ(ns2["namespaces"][0]["nsid"], 3);
  EXPECT_EQ(ns2["namespaces"][0]["uuid"], "5f0e1d2c-3b4a-4958-8677-a6b5c4d3e2f1");
  EXPECT_TRUE(ns2["namespaces"][0].value("read_only", false));
  EXPECT_TRUE(ns2["namespaces"][0].value("disable_auto_resize", false));
  // Hosts.
  json hosts1 = J(a_, {"host", "list", "-n", n1});
  EXPECT_EQ(hosts1["allow_any_host"], false);
  ASSERT_EQ(hosts1["hosts"].size(), 1u) << hosts1.dump();
  EXPECT_EQ(hosts1["hosts"][0]["nqn"], h1);
  EXPECT_EQ(J(a_, {"host", "list", "-n", n2})["allow_any_host"], true);
  // Listeners: this gateway's is open, the other gateway's is listed as the other's.
  EXPECT_TRUE(a_.WaitForLog("listening on 127.0.0.1:" + port, 5000)) << a_.Log();
  json l1 = J(a_, {"listener", "list", "-n", n1});
  ASSERT_EQ(l1["listeners"].size(), 1u) << l1.dump();
  EXPECT_EQ(l1["listeners"][0]["host_name"], "gwA");
  EXPECT_EQ(l1["listeners"][0]["trsvcid"], std::stoi(port));
  CliResult l2 = Gwcli(a_.grpc_port(), {"listener", "list", "-n", n2});
  EXPECT_NE(l2.all().find("other-gw"), std::string::npos) << l2.all();
  // Nothing was rewritten by serving it.
  json now = omap();
  for (auto it = written.begin(); it != written.end(); ++it)
    EXPECT_EQ(now.value(it.key(), std::string("<missing>")), it.value().get<std::string>()) << it.key();
  EXPECT_EQ(now["omap_version"], "42");

  // The subsystem's network mask, in the JSON listing and in the text table's Network Mask
  // column (the reference CLI's).
  for (const json& sub : subs["subsystems"]) {
    if (sub["nqn"] == n2) {
      EXPECT_EQ(sub["network_mask"], json::array({"10.99.0.0/24"})) << sub.dump();
    }
  }
  CliResult sl = Gwcli(a_.grpc_port(), {"--format", "plain", "subsystem", "list", "-n", n2});
  EXPECT_NE(sl.all().find("Network"), std::string::npos) << sl.all();
  EXPECT_NE(sl.all().find("10.99.0.0/24"), std::string::npos) << sl.all();

  // ns-refresh-size_: the gateway came up with the mark there and opened namespace 1 (auto-resize
  // off) at its image's size (no refresh needed). A reference gateway resizes the image and
  // writes a new mark: this gateway reads the image's size again.
  const std::string mark = "ns-refresh-size_" + n1 + "_1";
  auto size1 = [&] {
    json l = J(a_, {"namespace", "list", "-n", n1, "--nsid", "1"});
    return l.contains("namespaces") && l["namespaces"].size() == 1 ? l["namespaces"][0].value("rbd_image_size", "")
                                                                    : std::string();
  };
  EXPECT_EQ(size1(), std::to_string(16 << 20));
  auto sh = [&](const std::string& cmd) {
    CliResult c = mgmt_test::Run({"/bin/bash", "-c", "eval \"$(" + CephLocal() + " env " + CephDir() + ")\" && " + cmd});
    EXPECT_EQ(c.rc, 0) << cmd << "\n" << c.all();
  };
  sh("rbd resize --size 24M rbd/mig-" + group_ + "-1");
  sh("rados -p rbd setomapval " + obj + " '" + mark + "' 1764820100.5 && rados -p rbd setomapval " + obj +
     " omap_version 43 && (rados -p rbd notify " + obj + " refresh >/dev/null 2>&1 || true)");
  EXPECT_TRUE(Eventually([&] { return size1() == std::to_string(24 << 20); }, 20)) << size1() << a_.Log();
  // A resize through this gateway writes the mark the reference's gateways act on (a new
  // time); turning auto-resize on removes it, as the reference does.
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "resize", "-n", n1, "--nsid", "1", "--size", "32M"}), 0, "Successful");
  now = omap();
  ASSERT_TRUE(now.contains(mark)) << now.dump();
  EXPECT_GT(std::stod(now[mark].get<std::string>()), 1764820100.5) << now[mark];
  EXPECT_NE(now[mark].get<std::string>().find('.'), std::string::npos) << now[mark];
  EXPECT_EQ(size1(), std::to_string(32 << 20));
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "set_auto_resize", "-n", n1, "--nsid", "1", "--auto-resize-enabled",
                                    "yes"}),
             0, "Successful");
  now = omap();
  EXPECT_FALSE(now.contains(mark)) << now.dump();

  // Changes through this gateway: written in the reference's keys and format.
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "change_location", "-n", n1, "--nsid", "5", "--location", "site-b"}),
             0, "Successful");
  const std::string h2 = "nqn.2014-08.org.nvmexpress:uuid:2c5f39cb-3fb2-22e3-994f-1127e4ddb538";
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"host", "add", "-n", n1, "-t", h2}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add_host", "-n", n1, "--nsid", "5", "-t", h2}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "add", "-n", n2, "-p", "rbd", "-i", "mig-" + group_ + "-new", "-c",
                                    "--size", "16M", "--nsid", "4"}),
             0, "Adding namespace 4");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"namespace", "set_qos", "-n", n2, "--nsid", "4", "--rw-ios-per-second", "3000"}),
             0, "Successful");
  now = omap();
  EXPECT_GT(std::stoull(now["omap_version"].get<std::string>()), 42u);
  // Keys this gateway does not know are still there, unchanged.
  for (const char* k : {"lbgroup_nqn.2016-06.io.spdk:mig1_5",
                        "key-host_nqn.2016-06.io.spdk:mig1_nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-"
                        "0016d3cca427"})
    EXPECT_EQ(now.value(k, std::string("<missing>")), written[k].get<std::string>()) << k;
  // The rewritten namespace keeps the field it does not know, and its own in the reference's spelling.
  json ns5 = json::parse(now["namespace_" + n1 + "_5"].get<std::string>());
  EXPECT_EQ(ns5["location"], "site-b");
  EXPECT_EQ(ns5["future_field"], json({{"kept", "yes"}}));
  EXPECT_EQ(ns5["uuid"], "0c9e4b7a-61d2-4f35-8a0b-5d6e7f809a1b");
  EXPECT_EQ(ns5["size"], "33554432");
  EXPECT_EQ(ns5["encryption_entries"], json::array());
  // New items: the reference's keys, field names and value types.
  const std::string nk = "namespace_" + n2 + "_4";
  ASSERT_TRUE(now.contains(nk)) << now.dump();
  const std::string raw = now[nk].get<std::string>();
  EXPECT_EQ(raw.rfind("{\n  \"", 0), 0u) << raw;  // json.dumps(indent=2) layout
  json nv = json::parse(raw);
  for (const char* f : {"rbd_pool_name", "rbd_image_name", "subsystem_nqn", "nsid", "block_size", "uuid", "anagrpid",
                        "create_image", "size"})
    EXPECT_TRUE(nv.contains(f)) << f << ": " << raw;
  EXPECT_FALSE(nv.contains("backend")) << raw;
  EXPECT_EQ(nv["nsid"], 4);
  EXPECT_EQ(nv["size"], std::to_string(16 << 20));
  json qv = json::parse(now.value("qos_" + n2 + "_4", std::string("{}")));
  EXPECT_EQ(qv["rw_ios_per_second"], "3000") << qv.dump();
  json hv = json::parse(now.value("host_" + n1 + "_" + h2, std::string("{}")));
  EXPECT_EQ(hv["subsystem_nqn"], n1);
  EXPECT_EQ(hv["host_nqn"], h2);
  json nh = json::parse(now.value("ns_host_" + n1 + "_5_" + h2, std::string("{}")));
  EXPECT_EQ(nh["nsid"], 5) << now.dump();
  EXPECT_EQ(nh["host_nqn"], h2);
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", n1, "--force"}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "del", "-n", n2, "--force"}), 0, "Successful");
}

// A gateway told to stop after its Ceph cluster went away exits within --shutdown-timeout
// (closing an RBD image would otherwise wait rados_osd_op_timeout). Stops the cluster and
// starts it again afterwards, so it runs last.
TEST_F(MgmtCeph, ShutdownIsBoundedWhenCephIsGone) {
  if (mgmt_test::Run({GatewayBin(), "--help"}).out.find("rbd:POOL") == std::string::npos)
    GTEST_SKIP() << "the rbd backend is not built into this gateway";
  std::string err;
  ASSERT_TRUE(a_.Start({"--name", "gwA", "--hostname", "gwA", "--state-pool", "none", "--ceph-conf",
                        CephDir() + "/ceph.conf", "--discovery", "none", "--reactors", "1", "--shutdown-timeout", "3",
                        "--subsystem", kNqn, "--namespace", "rbd:rbd/img0:4096", "--listen",
                        "127.0.0.1:" + std::to_string(FreePort())},
                       &err))
      << err;
  ASSERT_EQ(J(a_, {"namespace", "list", "-n", kNqn})["namespaces"].size(), 1u) << a_.Log();
  CliResult stop = mgmt_test::Run({CephLocal(), "stop", CephDir()});
  ASSERT_EQ(stop.rc, 0) << stop.all();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string how = a_.Stop(30000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("  SIGTERM -> exit with the cluster stopped: %.1f s (%s)\n", s, how.c_str());
  EXPECT_LT(s, 3 + 5.0) << a_.Log();
  EXPECT_EQ(how, "exited 0") << a_.Log();
  EXPECT_NE(a_.Log().find("shutdown not finished after 3 s"), std::string::npos) << a_.Log();
  CliResult start = mgmt_test::Run({CephLocal(), "start", CephDir(), "--no-mgr"});
  EXPECT_EQ(start.rc, 0) << start.all();
}

// Keys at rest (docs/state.md): with the key file, the omap values hold no key in clear, only
// what the reference's format seals; a restart with the file serves the same host with its
// key; a restart without it does not serve the host and says, once, exactly what is missing.
TEST_F(MgmtCeph, KeysAtRest) {
  static const char kKeyText[] =
      "-----BEGIN NVMEOF KEY-----\n"
      "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd\n"
      "Xl9gYWJjZGVmZ2hpamtsbW5v\n"
      "-----END NVMEOF KEY-----\n";
  static const char kKey[] = "DHHC-1:00:MWPqcx1Ug1debg8fPIGpkqbQhLcYUt39k7UWirkblaKEH1kE:";
  const std::string key_file = CephDir() + "/" + group_ + ".key";
  {
    FILE* f = fopen(key_file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(kKeyText, f);
    fclose(f);
  }
  Start(a_, "gwA", {"--encryption-key", key_file});
  EXPECT_NE(a_.Log().find("DH-HMAC-CHAP keys and PSKs are encrypted with the key in " + key_file), std::string::npos)
      << a_.Log();
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"subsystem", "add", "-n", kNqn, "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"host", "add", "-n", kNqn, "-t", kHost1, "-k", kKey}), 0, "Successful");
  const std::map<std::string, std::string> omap = StateValues();
  const std::string host_key = std::string("host_") + kNqn + "_" + kHost1;
  ASSERT_TRUE(omap.count(host_key)) << json(omap).dump();
  for (auto& [k, v] : omap) {
    EXPECT_EQ(v.find(kKey), std::string::npos) << k << ": " << v;
    EXPECT_EQ(v.find("DHHC-1"), std::string::npos) << k << ": " << v;
  }
  const json stored = json::parse(omap.at(host_key));
  EXPECT_EQ(stored.value("key_encrypted", false), true) << stored.dump();
  EXPECT_FALSE(stored.value("dhchap_key", "").empty());

  // Restarted with the key file: the same host, with its key.
  a_.Kill();
  Start(a_, "gwA", {"--encryption-key", key_file});
  json hosts = J(a_, {"host", "list", "-n", kNqn});
  ASSERT_EQ(hosts["hosts"].size(), 1u) << hosts.dump();
  EXPECT_EQ(hosts["hosts"][0]["nqn"], kHost1);
  EXPECT_EQ(hosts["hosts"][0]["use_dhchap"], true);

  // Restarted without it: not served, and the log says what is missing, once.
  a_.Stop();
  Start(a_, "gwA");
  const std::string missing = std::string("group state: host ") + kHost1 + " of subsystem " + kNqn +
                              " is not served: No encryption key or the wrong key was found but we need to decrypt "
                              "host " + kHost1 + " DH-HMAC-CHAP key ([gateway] encryption_key is not set)";
  const std::string log = a_.Log();
  const size_t at = log.find(missing);
  EXPECT_NE(at, std::string::npos) << log;
  if (at != std::string::npos) {
    EXPECT_EQ(log.find(missing, at + 1), std::string::npos) << "said once:\n" << log;
  }
  hosts = J(a_, {"host", "list", "-n", kNqn});
  EXPECT_EQ(hosts["hosts"].size(), 0u) << hosts.dump();
  EXPECT_CLI(Gwcli(a_.grpc_port(), {"host", "add", "-n", kNqn, "-t", kHost2, "-k", kKey}), ENOKEY,
             "No encryption key or the wrong key was found but we need to encrypt host " + std::string(kHost2) +
                 " DH-HMAC-CHAP key ([gateway] encryption_key is not set");
  EXPECT_EQ(a_.Log().find(kKey), std::string::npos) << "a key in the log";
  unlink(key_file.c_str());
}

}  // namespace
}  // namespace nvmeof::mgmt_test
