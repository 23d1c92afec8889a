// Management-plane end-to-end tests (ctest label mgmt): a real nvmeof-gateway (memory
// backends, group state in memory) driven through the real gwcli binary, every RPC, text
// and JSON output, bad inputs answered with the reference's errno and message, and
// ceph-csi's call sequence. The same tests run again with the group state in RADOS on a
// real cluster (label ceph, test names prefixed "rados."; see RadosDir below), where the
// every-RPC and ceph-csi tests put their namespaces on new RBD images (WithBacking).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include <grpcpp/grpcpp.h>

#include "api/gateway.grpc.pb.h"
#include "tests/host/nvmf_host.h"
#include "tests/mgmt/mgmt_harness.h"

namespace nvmeof::mgmt_test {
namespace {

using json = nlohmann::json;

const char kNqn[] = "nqn.2016-06.io.spdk:cnode1";
const char kHost1[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
const char kHost2[] = "nqn.2014-08.org.nvmexpress:uuid:66666666-2222-3333-4444-555555555555";

// With $NVMEOF_MGMT_RADOS_DIR (a tests/tools/ceph-local.sh cluster: ctest's "rados."
// copies of these tests, label ceph) the gateways keep the group state in RADOS (pool rbd)
// instead of in memory, and every test starts from an empty state object. (The pool is
// created by the cluster fixture, tests/tools/ceph-local.sh start.)
std::string RadosDir() {
  const char* d = getenv("NVMEOF_MGMT_RADOS_DIR");
  return d ? d : "";
}

class Mgmt : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RadosDir().empty()) {
      // The state objects of the groups these tests use, left by the previous test.
      for (const char* obj : {"nvmeof.state", "nvmeof.grp1.state"}) {
        CliResult r = mgmt_test::Run({"rados", "-c", RadosDir() + "/ceph.conf", "-p", "rbd", "rm", obj});
        ASSERT_TRUE(r.rc == 0 || r.all().find("No such file") != std::string::npos) << r.all();
      }
    }
    StartGateway({});
  }
  void TearDown() override {
    if (HasFailure()) fprintf(stderr, "---- gateway log ----\n%s\n", gw.Log().c_str());
    gw.Stop();
  }
  void StartGateway(std::vector<std::string> extra) {
    std::vector<std::string> args{"--name", "gwA", "--hostname", "hostA", "--discovery", "none", "--reactors", "1"};
    if (!RadosDir().empty()) args.insert(args.end(), {"--state-pool", "rbd", "--ceph-conf", RadosDir() + "/ceph.conf"});
    args.insert(args.end(), extra.begin(), extra.end());
    std::string err;
    ASSERT_TRUE(gw.Start(args, &err)) << err;
    if (!RadosDir().empty()) {
      ASSERT_NE(gw.Log().find("group state in RADOS, pool rbd"), std::string::npos) << gw.Log();
    }
  }
  CliResult Cli(const std::vector<std::string>& a) { return Gwcli(gw.grpc_port(), a); }
  // `args` plus the backing of a new namespace of `size`: a memory device, or in the rados.
  // tests a new RBD image (pool rbd) on the cluster.
  std::vector<std::string> WithBacking(std::vector<std::string> args, const std::string& size) {
    if (RadosDir().empty()) {
      args.insert(args.end(), {"--memory-size", size});
    } else {
      static int images = 0;
      args.insert(args.end(), {"-p", "rbd", "-i", "mgmt-" + std::to_string(getpid()) + "-" + std::to_string(++images),
                               "--rbd-create-image", "--size", size});
    }
    return args;
  }
  const char* Backend() const { return RadosDir().empty() ? "memory" : "rbd"; }
  json Json(const std::vector<std::string>& a, int want_rc = 0) {
    CliResult r = GwcliJson(gw.grpc_port(), a);
    EXPECT_EQ(r.rc, want_rc) << r.all();
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.all();
      return json();
    }
  }
  void MustPass(const std::vector<std::string>& a) {
    CliResult r = Cli(a);
    ASSERT_EQ(r.rc, 0) << r.all();
  }
  Gateway gw;
};

// Exit code (the errno) and a message substring.
#define EXPECT_CLI(res_expr, code, substr)                                            \
  do {                                                                                \
    const CliResult _r = (res_expr);                                                  \
    EXPECT_EQ(_r.rc, (code)) << _r.all();                                             \
    EXPECT_NE(_r.all().find(substr), std::string::npos) << "want: " << (substr) << "\n" << _r.all(); \
  } while (0)

// ------------------------------------------------------------------------------ gateway

TEST_F(Mgmt, GatewayInfoVersionAndLogLevel) {
  EXPECT_CLI(Cli({"gw", "info"}), 0, "Gateway's name: gwA");
  EXPECT_CLI(Cli({"gw", "info"}), 0, "Gateway's host name: hostA");
  json info = Json({"gw", "info"});
  EXPECT_EQ(info["name"], "gwA");
  EXPECT_EQ(info["hostname"], "hostA");
  EXPECT_EQ(info["addr"], "127.0.0.1");
  EXPECT_EQ(info["load_balancing_group"], 1);
  EXPECT_EQ(info["status"], 0);
  EXPECT_CLI(Cli({"gw", "version"}), 0, "Gateway's version: ");
  EXPECT_CLI(Cli({"gw", "set_log_level", "-l", "debug"}), 0, "Successful");
  json lvl = Json({"gw", "get_log_level"});
  EXPECT_EQ(lvl["log_level"], "debug");
  EXPECT_CLI(Cli({"gw", "set_log_level", "-l", "info"}), 0, "Successful");
  // SPDK log controls: accepted, no-op.
  EXPECT_CLI(Cli({"spdk_log_level", "set", "-l", "debug"}), 0, "Successful");
  json sp = Json({"spdk_log_level", "get"});
  EXPECT_EQ(sp["log_level"], "DEBUG");
  EXPECT_CLI(Cli({"spdk_log_level", "disable"}), 0, "Successful");
  EXPECT_EQ(Json({"spdk_log_level", "get"})["log_level"], "NOTICE");
}

// ------------------------------------------------------------------------------ subsystems

TEST_F(Mgmt, SubsystemLifecycleTextAndJson) {
  EXPECT_CLI(Cli({"subsystem", "add", "-n", kNqn, "-s", "SN0001", "-m", "64"}), 0,
             std::string("Adding subsystem ") + kNqn + ": Successful");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", kNqn}), EEXIST, "Subsystem already exists");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.2016-06.io.spdk:cnode2", "-s", "SN0001"}), EEXIST,
             "Serial number SN0001 already used by subsystem nqn.2016-06.io.spdk:cnode1");
  CliResult list = Cli({"subsystem", "list"});
  EXPECT_EQ(list.rc, 0) << list.all();
  EXPECT_NE(list.all().find(kNqn), std::string::npos) << list.all();
  EXPECT_NE(list.all().find("SN0001"), std::string::npos) << list.all();
  json j = Json({"subsystem", "list"});
  ASSERT_EQ(j["subsystems"].size(), 1u) << j.dump();
  EXPECT_EQ(j["subsystems"][0]["nqn"], kNqn);
  EXPECT_EQ(j["subsystems"][0]["serial_number"], "SN0001");
  EXPECT_EQ(j["subsystems"][0]["max_namespaces"], 64);
  EXPECT_EQ(j["subsystems"][0]["enable_ha"], true);
  EXPECT_EQ(j["subsystems"][0]["subtype"], "NVMe");
  EXPECT_EQ(Json({"subsystem", "list", "-s", "SN0001"})["subsystems"].size(), 1u);
  EXPECT_CLI(Cli({"subsystem", "list", "-n", "nqn.2016-06.io.spdk:none"}), 0, "No subsystem nqn.2016-06.io.spdk:none");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", kNqn}), 0, std::string("Deleting subsystem ") + kNqn + ": Successful");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", kNqn}), ENOENT, "No such subsystem");
  EXPECT_CLI(Cli({"subsystem", "list"}), 0, "No subsystems");
}

TEST_F(Mgmt, SubsystemBadNqns) {
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.2016-06.io.spdk:cnode_1"}), EINVAL, "contains invalid characters");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.16-06.io.spdk:x"}), EINVAL, "Invalid NQN");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "iqn.2016-06.io.spdk:x"}), EINVAL, "doesn't start with \"nqn.\"");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.x"}), EINVAL, "too short");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.2016-06.io.spdk:" + std::string(220, 'a')}), EINVAL, "too long");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", "nqn.2016-06.io.spdk:nope"}), ENOENT, "No such subsystem");
  EXPECT_EQ(Json({"subsystem", "list"})["subsystems"].size(), 0u);
}

TEST_F(Mgmt, GroupNameAppended) {
  gw.Stop();
  StartGateway({"--group", "grp1"});
  EXPECT_CLI(Cli({"subsystem", "add", "-n", kNqn}), 0, std::string("Adding subsystem ") + kNqn + ".grp1: Successful");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", "nqn.2016-06.io.spdk:cnode2", "--no-group-append"}), 0,
             "Adding subsystem nqn.2016-06.io.spdk:cnode2: Successful");
  json j = Json({"subsystem", "list"});
  ASSERT_EQ(j["subsystems"].size(), 2u);
  EXPECT_EQ(j["subsystems"][0]["nqn"], std::string(kNqn) + ".grp1");
  EXPECT_EQ(Json({"gw", "info"})["group"], "grp1");
}

// ------------------------------------------------------------------------------ namespaces

TEST_F(Mgmt, NamespacesEveryRpc) {
  MustPass({"subsystem", "add", "-n", kNqn});
  EXPECT_CLI(Cli(WithBacking({"namespace", "add", "-n", kNqn, "-s", "4096", "-u", "01234567-89ab-cdef-0123-456789abcdef"},
                             "16M")),
             0, std::string("Adding namespace 1 to ") + kNqn + ": Successful");
  EXPECT_CLI(Cli(WithBacking({"ns", "add", "-n", kNqn, "--nsid", "5"}, "8M")), 0,
             std::string("Adding namespace 5 to ") + kNqn + ": Successful");
  // list: text and JSON
  CliResult t = Cli({"namespace", "list", "-n", kNqn});
  EXPECT_EQ(t.rc, 0) << t.all();
  EXPECT_NE(t.all().find("01234567-89ab-"), std::string::npos) << t.all();  // the table wraps it
  EXPECT_NE(t.all().find("16 MiB"), std::string::npos) << t.all();
  json l = Json({"namespace", "list", "-n", kNqn});
  ASSERT_EQ(l["namespaces"].size(), 2u) << l.dump();
  EXPECT_EQ(l["namespaces"][0]["nsid"], 1);
  EXPECT_EQ(l["namespaces"][0]["uuid"], "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(l["namespaces"][0]["block_size"], 4096);
  EXPECT_EQ(l["namespaces"][0]["rbd_image_size"], "16777216");
  EXPECT_EQ(l["namespaces"][0].value("backend", "rbd"), Backend());  // set for non-RBD backends only
  EXPECT_EQ(l["namespaces"][1]["nsid"], 5);
  EXPECT_EQ(l["namespaces"][1]["block_size"], 512);
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn, "--nsid", "5"})["namespaces"].size(), 1u);
  json by_uuid = Json({"namespace", "list", "-n", kNqn, "--uuid", "01234567-89ab-cdef-0123-456789abcdef"});
  ASSERT_EQ(by_uuid["namespaces"].size(), 1u) << by_uuid.dump();
  EXPECT_EQ(by_uuid["namespaces"][0]["nsid"], 1);
  // resize (MiB, grow only)
  EXPECT_CLI(Cli({"namespace", "resize", "-n", kNqn, "--nsid", "1", "--size", "32M"}), 0, "Successful");
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn, "--nsid", "1"})["namespaces"][0]["rbd_image_size"], "33554432");
  EXPECT_CLI(Cli({"namespace", "resize", "-n", kNqn, "--nsid", "1", "--size", "8M"}), EINVAL,
             "new size 8388608 bytes is smaller than current size 33554432 bytes");
  EXPECT_CLI(Cli({"namespace", "resize", "-n", kNqn, "--nsid", "9", "--size", "64M"}), ENODEV, "Can't find namespace");
  // QoS
  EXPECT_CLI(Cli({"namespace", "set_qos", "-n", kNqn, "--nsid", "1", "--rw-ios-per-second", "2000"}), 0, "Successful");
  EXPECT_CLI(Cli({"namespace", "set_qos", "-n", kNqn, "--nsid", "1", "--r-megabytes-per-second", "10"}), 0,
             "Successful");
  json q = Json({"namespace", "list", "-n", kNqn, "--nsid", "1"})["namespaces"][0];
  EXPECT_EQ(q["rw_ios_per_second"], "2000");
  EXPECT_EQ(q["r_mbytes_per_second"], "10");
  EXPECT_CLI(Cli({"namespace", "set_qos", "-n", kNqn, "--nsid", "7", "--rw-ios-per-second", "1000"}), ENODEV,
             "Can't find namespace");
  // I/O statistics
  json st = Json({"namespace", "get_io_stats", "-n", kNqn, "--nsid", "1"});
  EXPECT_EQ(st["status"], 0);
  EXPECT_EQ(st["nsid"], 1);
  EXPECT_EQ(st["uuid"], "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(st["tick_rate"], "1000000000");
  EXPECT_CLI(Cli({"namespace", "get_io_stats", "-n", kNqn, "--nsid", "1"}), 0, "IO statistics");
  EXPECT_CLI(Cli({"namespace", "get_io_stats", "-n", kNqn, "--nsid", "4"}), ENODEV, "Can't find namespace");
  // load balancing group
  EXPECT_CLI(Cli({"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "5", "-l", "2"}), 0, "Successful");
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn, "--nsid", "5"})["namespaces"][0]["load_balancing_group"], 2);
  EXPECT_CLI(Cli({"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "6", "-l", "2"}), ENOENT,
             "Can't find entry for namespace 6");
  EXPECT_CLI(Cli({"namespace", "change_load_balancing_group", "-n", kNqn, "--nsid", "5", "-l", "9999"}), ENODEV,
             "Load balancing group 9999 doesn't exist");
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "-l", "9999"}), EINVAL,
             "Group ID 9999 is bigger than configured maximum 256");
  // delete
  EXPECT_CLI(Cli({"namespace", "del", "-n", kNqn, "--nsid", "5"}), 0, "Successful");
  EXPECT_CLI(Cli({"namespace", "del", "-n", kNqn, "--nsid", "5"}), ENODEV, "Can't find namespace");
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn})["namespaces"].size(), 1u);
  // get_subsystems (SPDK shape)
  CliResult gs = GwcliJson(gw.grpc_port(), {"get_subsystems"});
  EXPECT_EQ(gs.rc, 0) << gs.all();
  EXPECT_NE(gs.out.find("bdev_01234567-89ab-cdef-0123-456789abcdef"), std::string::npos) << gs.out;
}

TEST_F(Mgmt, NamespaceBadInputs) {
  MustPass({"subsystem", "add", "-n", kNqn});
  MustPass({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "-u", "01234567-89ab-cdef-0123-456789abcdef"});
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--nsid", "1", "--memory-size", "4M"}), EEXIST,
             "NSID 1 is already in use");
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "-u", "01234567-89ab-cdef-0123-456789abcdef"}),
             EEXIST, "UUID 01234567-89ab-cdef-0123-456789abcdef is already in use");
  EXPECT_CLI(Cli({"namespace", "add", "-n", "nqn.2016-06.io.spdk:nope", "--memory-size", "4M"}), ENOENT,
             "No such subsystem");
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "-s", "1000"}), EINVAL,
             "block size 1000 is not supported");
  // Block size 0 is refused by gwcli before it reaches the gateway (the gateway's own
  // check, "block size can't be zero", is in api_service_test).
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "-s", "0"}), 2, "block-size");
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4097B", "-s", "4096"}), EINVAL,
             "not a multiple of the block size");
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--file", "relative.img"}), EINVAL, "absolute file_path");
  EXPECT_CLI(Cli({"namespace", "del", "-n", "nqn.2016-06.io.spdk:nope", "--nsid", "1"}), ENOENT, "No such subsystem");
  EXPECT_CLI(Cli({"namespace", "list", "-n", "nqn.2016-06.io.spdk:nope"}), ENOENT, "No such subsystem");
  // An RBD namespace without a reachable Ceph cluster: an error naming the cause, and
  // nothing added.
  CliResult rbd = Cli({"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "img1", "-s", "4096"});
  EXPECT_NE(rbd.rc, 0) << rbd.all();
  EXPECT_NE(rbd.all().find("Failure adding namespace to " + std::string(kNqn)), std::string::npos) << rbd.all();
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn})["namespaces"].size(), 1u);
  // Deleting a subsystem that still has namespaces needs --force.
  EXPECT_CLI(Cli({"subsystem", "del", "-n", kNqn}), EBUSY,
             "Namespace 1 is still using the subsystem. Either remove it or use the '--force' command line option");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", kNqn, "--force"}), 0, "Successful");
}

TEST_F(Mgmt, FileBackedNamespace) {
  char dir[] = "/tmp/nvmeof-mgmt-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/ns.img";
  MustPass({"subsystem", "add", "-n", kNqn});
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--file", path, "--size", "8M", "-s", "4096"}), 0, "Successful");
  json l = Json({"namespace", "list", "-n", kNqn});
  ASSERT_EQ(l["namespaces"].size(), 1u);
  EXPECT_EQ(l["namespaces"][0]["backend"], "file");
  EXPECT_EQ(l["namespaces"][0]["file_path"], path);
  EXPECT_EQ(l["namespaces"][0]["rbd_image_size"], "8388608");
  MustPass({"subsystem", "del", "-n", kNqn, "--force"});
  unlink(path.c_str());
  rmdir(dir);
}

TEST_F(Mgmt, NamespaceVisibilityHosts) {
  MustPass({"subsystem", "add", "-n", kNqn});
  MustPass({"namespace", "add", "-n", kNqn, "--memory-size", "4M", "--no-auto-visible"});
  EXPECT_CLI(Cli({"namespace", "add_host", "-n", kNqn, "--nsid", "1", "-t", kHost1, kHost2}), 0,
             std::string("Adding host ") + kHost1 + " to namespace 1 on " + kNqn + ": Successful");
  EXPECT_CLI(Cli({"namespace", "add_host", "-n", kNqn, "--nsid", "1", "-t", kHost1}), EEXIST, "already");
  json l = Json({"namespace", "list", "-n", kNqn});
  EXPECT_EQ(l["namespaces"][0]["auto_visible"], false);
  EXPECT_EQ(l["namespaces"][0]["hosts"].size(), 2u);
  EXPECT_CLI(Cli({"namespace", "del_host", "-n", kNqn, "--nsid", "1", "-t", kHost2}), 0, "Successful");
  EXPECT_CLI(Cli({"namespace", "del_host", "-n", kNqn, "--nsid", "1", "-t", kHost2}), ENOENT, "Host is not found");
  EXPECT_CLI(Cli({"namespace", "add_host", "-n", kNqn, "--nsid", "1", "-t", "nqn.2014-08.org.nvmexpress:uuid:a_b"}),
             EINVAL, "contains invalid characters");
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn})["namespaces"][0]["hosts"].size(), 1u);
}

// ------------------------------------------------------------------------------ hosts

TEST_F(Mgmt, HostsAndConnections) {
  MustPass({"subsystem", "add", "-n", kNqn});
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", kHost1}), 0,
             std::string("Adding host ") + kHost1 + " to " + kNqn + ": Successful");
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", kHost1}), EEXIST, "Host is already added");
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", "*"}), 0, "Allowing open host access to " + std::string(kNqn) + ": Successful");
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", "*"}), EEXIST, "Open host access is already allowed");
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", "nqn.2014-08.org.nvmexpress:uuid:a_b"}), EINVAL,
             "contains invalid characters");
  EXPECT_CLI(Cli({"host", "add", "-n", kNqn, "-t", "nqn.bad"}), EINVAL, "NQN \"nqn.bad\" is too short");
  EXPECT_CLI(Cli({"host", "add", "-n", "nqn.2016-06.io.spdk:nope", "-t", kHost2}), ENOENT, "No such subsystem");
  json h = Json({"host", "list", "-n", kNqn});
  EXPECT_EQ(h["allow_any_host"], true);
  ASSERT_EQ(h["hosts"].size(), 1u);
  EXPECT_EQ(h["hosts"][0]["nqn"], kHost1);
  EXPECT_CLI(Cli({"host", "list", "-n", kNqn}), 0, kHost1);
  // Allowed but not connected hosts show in the connection list.
  json c = Json({"connection", "list", "-n", kNqn});
  ASSERT_EQ(c["connections"].size(), 1u) << c.dump();
  EXPECT_EQ(c["connections"][0]["nqn"], kHost1);
  EXPECT_EQ(c["connections"][0]["connected"], false);
  EXPECT_CLI(Cli({"connection", "list", "-n", "nqn.2016-06.io.spdk:nope"}), ENOENT, "No such subsystem");
  // Without -n: every subsystem's connections, each naming its subsystem.
  json all = Json({"connection", "list"});
  EXPECT_EQ(all["subsystem_nqn"], "*");
  ASSERT_EQ(all["connections"].size(), 1u) << all.dump();
  EXPECT_EQ(all["connections"][0]["subsystem"], kNqn);
  EXPECT_EQ(all["connections"][0]["nqn"], kHost1);
  EXPECT_CLI(Cli({"connection", "list"}), 0, "Connections for all subsystems:");
  EXPECT_CLI(Cli({"host", "del", "-n", kNqn, "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Cli({"host", "del", "-n", kNqn, "-t", kHost1}), ENOENT, "Host is not found");
  EXPECT_CLI(Cli({"host", "del", "-n", kNqn, "-t", "*"}), 0, "Successful");
  EXPECT_CLI(Cli({"host", "del", "-n", kNqn, "-t", "*"}), ENOENT, "Open host access is not allowed");
  h = Json({"host", "list", "-n", kNqn});
  EXPECT_EQ(h["allow_any_host"], false);
  EXPECT_EQ(h["hosts"].size(), 0u);
}

// ------------------------------------------------------------------------------ listeners

TEST_F(Mgmt, Listeners) {
  const std::string port = std::to_string(FreePort());
  MustPass({"subsystem", "add", "-n", kNqn});
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port}), 0,
             "Adding " + std::string(kNqn) + " listener at 127.0.0.1:" + port + ": Successful");
  EXPECT_TRUE(gw.WaitForLog("listening on 127.0.0.1:" + port, 2000)) << gw.Log();
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port}), EEXIST,
             "Subsystem already listens on this address");
  // The host name works as well as the gateway name.
  const std::string port2 = std::to_string(FreePort());
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "hostA", "-a", "127.0.0.1", "-s", port2}), 0, "Successful");
  // Another gateway's listener: stored for it, answered EREMOTE, which gwcli reports as a
  // success with a warning (the reference's CLI); the reply says why.
  json stored = Json({"listener", "add", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.2", "-s", "4420"});
  EXPECT_EQ(stored["status"], 0) << stored.dump();
  EXPECT_NE(stored.value("error_message", "").find("Gateway's host name must match current host (hostA)"),
            std::string::npos)
      << stored.dump();
  // gwcli refuses a name that is no DNS host name before asking (the reference's CLI does);
  // the gateway's own refusal of it is ServiceTest's.
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gw_B", "-a", "127.0.0.2", "-s", "4420"}), 2,
             "invalid host name gw_B");
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "300.1.1.1", "-s", "4420"}), EINVAL,
             "Invalid IP address");
  EXPECT_CLI(Cli({"listener", "add", "-n", "nqn.2016-06.io.spdk:nope", "-t", "gwA", "-a", "127.0.0.1"}), ENOENT,
             "No such subsystem");
  json l = Json({"listener", "list", "-n", kNqn});
  ASSERT_EQ(l["listeners"].size(), 3u) << l.dump();
  CliResult t = Cli({"listener", "list", "-n", kNqn});
  EXPECT_NE(t.all().find("127.0.0.2:4420"), std::string::npos) << t.all();
  EXPECT_NE(t.all().find("gwB"), std::string::npos) << t.all();
  // Deleting another gateway's listener needs --force.
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.2", "-s", "4420"}), ENOENT,
             "You can continue to delete the listener by adding the `--force` parameter");
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.2", "-s", "4420", "--force"}), 0,
             "Successful");
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port}), 0, "Successful");
  EXPECT_TRUE(gw.WaitForLog("stopped listening on 127.0.0.1:" + port, 2000)) << gw.Log();
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port}), ENOENT,
             "No such listener");
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "*", "-a", "127.0.0.1", "-s", port2, "--force"}), 0,
             "Successful");
  EXPECT_EQ(Json({"listener", "list", "-n", kNqn})["listeners"].size(), 0u);
}

// Every gateway's discovery log page lists the subsystem's listeners on all gateways of the
// group (`nvme connect-all` through any gateway finds every path), each with its own port
// ID; adding another gateway's listener raises the Discovery Log Page Change notice.
TEST_F(Mgmt, DiscoveryListsEveryGatewaysListeners) {
  const uint16_t port = FreePort();
  MustPass({"subsystem", "add", "-n", kNqn});
  MustPass({"host", "add", "-n", kNqn, "-t", "*"});
  MustPass({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", std::to_string(port)});
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.2", "-s", "4420"}), 0,
             "Adding " + std::string(kNqn) + " listener at 127.0.0.2:4420: " + "listener will only be active when appropriate gateway is up");
  host::ControllerOptions o;
  o.port = port;
  o.subnqn = "nqn.2014-08.org.nvmexpress.discovery";
  o.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-000000000002";
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  uint16_t aer = c.SubmitAer();
  ASSERT_NE(aer, 0);
  EXPECT_CLI(Cli({"listener", "add", "-n", kNqn, "-t", "gwC", "-a", "127.0.0.3", "-s", "4421"}), 0, "listener will only be active when appropriate gateway is up");
  host::Completion n = c.admin().Wait(aer, 10000);
  ASSERT_TRUE(n.ok()) << n.ToString();
  EXPECT_EQ(n.cqe.dw0 & 0xFFFFFF, 0x70F002u) << std::hex << n.cqe.dw0;  // notice, log change, log page 70h
  auto entries = [&] {
    std::vector<std::pair<std::string, uint16_t>> out;  // "traddr:trsvcid", port ID
    std::vector<uint8_t> log(8192);
    if (!c.GetLogPage(0x70, log.data(), static_cast<uint32_t>(log.size())).ok()) return out;
    uint64_t numrec;
    memcpy(&numrec, &log[8], 8);
    for (uint64_t i = 0; i < numrec && 1024 * (i + 2) <= log.size(); i++) {
      const uint8_t* e = &log[1024 * (i + 1)];
      if (e[2] != 2) continue;  // subtype: NVM subsystems only (not the discovery subsystem itself)
      uint16_t portid;
      memcpy(&portid, e + 4, 2);
      std::string svc(reinterpret_cast<const char*>(e + 32), strnlen(reinterpret_cast<const char*>(e + 32), 32));
      std::string addr(reinterpret_cast<const char*>(e + 512), strnlen(reinterpret_cast<const char*>(e + 512), 256));
      out.push_back({addr + ":" + svc, portid});
    }
    return out;
  };
  auto v = entries();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].first, "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(v[1].first, "127.0.0.2:4420");
  EXPECT_EQ(v[2].first, "127.0.0.3:4421");
  std::set<uint16_t> ids{v[0].second, v[1].second, v[2].second};
  EXPECT_EQ(ids.size(), 3u);
  MustPass({"listener", "del", "-n", kNqn, "-t", "gwB", "-a", "127.0.0.2", "-s", "4420", "--force"});
  v = entries();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].first, "127.0.0.3:4421");
  // HA is off on this gateway: gw ha says so.
  EXPECT_CLI(Cli({"gw", "ha"}), ENODEV, "HA is not enabled");
}

// ------------------------------------------------------------------------------ data path

// What the API configured is what a host sees: access control, the namespace UUID in the
// Identify descriptors (ceph-csi finds the disk by it), I/O, connections and statistics.
TEST_F(Mgmt, HostSeesWhatTheApiConfigured) {
  const uint16_t port = FreePort();
  const std::string hostnqn = "nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-000000000001";
  MustPass({"subsystem", "add", "-n", kNqn});
  MustPass({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", std::to_string(port)});
  MustPass({"namespace", "add", "-n", kNqn, "--memory-size", "16M", "-s", "4096", "-u",
            "01234567-89ab-cdef-0123-456789abcdef"});
  host::ControllerOptions o;
  o.port = port;
  o.subnqn = kNqn;
  o.hostnqn = hostnqn;
  {
    host::Controller denied(o);
    std::string err;
    EXPECT_FALSE(denied.Open(&err)) << "a host that was not added connected";
  }
  MustPass({"host", "add", "-n", kNqn, "-t", hostnqn});
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  std::vector<uint32_t> active;
  ASSERT_TRUE(c.ActiveNamespaces(0, &active).ok());
  ASSERT_EQ(active, std::vector<uint32_t>{1});
  std::vector<uint8_t> desc(4096);
  ASSERT_TRUE(c.NamespaceDescriptors(1, desc.data()).ok());
  const uint8_t want[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  bool found = false;
  for (size_t off = 0; off + 4 <= desc.size() && desc[off] != 0;) {
    const uint8_t type = desc[off], len = desc[off + 1];
    if (type == 3 && len == 16 && memcmp(&desc[off + 4], want, 16) == 0) found = true;  // NIDT 3 = UUID
    off += 4 + len;
  }
  EXPECT_TRUE(found) << "the namespace UUID is not in the Identify descriptor list";
  ASSERT_TRUE(c.AddIoQueue().ok());
  std::vector<uint8_t> buf(8 * 4096, 0xA5), back(8 * 4096);
  ASSERT_TRUE(c.Write(c.io(0), 1, 0, 8, buf.data(), static_cast<uint32_t>(buf.size())).ok());
  ASSERT_TRUE(c.Read(c.io(0), 1, 0, 8, back.data(), static_cast<uint32_t>(back.size())).ok());
  EXPECT_EQ(buf, back);

  json conns = Json({"connection", "list", "-n", kNqn});
  ASSERT_EQ(conns["connections"].size(), 1u) << conns.dump();
  EXPECT_EQ(conns["connections"][0]["nqn"], hostnqn);
  EXPECT_EQ(conns["connections"][0]["connected"], true);
  EXPECT_EQ(conns["connections"][0]["traddr"], "127.0.0.1");
  EXPECT_EQ(conns["connections"][0]["trsvcid"], port);
  EXPECT_EQ(conns["connections"][0]["controller_id"], c.cntlid());
  EXPECT_EQ(conns["connections"][0]["qpairs_count"], 1);
  json st = Json({"namespace", "get_io_stats", "-n", kNqn, "--nsid", "1"});
  EXPECT_EQ(st["num_write_ops"], "1");
  EXPECT_EQ(st["bytes_written"], "32768");
  EXPECT_EQ(st["num_read_ops"], "1");
  EXPECT_EQ(st["bytes_read"], "32768");
  // A listener with a connection is not deleted without --force.
  EXPECT_CLI(Cli({"listener", "del", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", std::to_string(port)}),
             ENOTEMPTY, "due to active connections");
  // A namespace added now appears to the connected host.
  MustPass({"namespace", "add", "-n", kNqn, "--memory-size", "4M"});
  active.clear();
  ASSERT_TRUE(c.ActiveNamespaces(0, &active).ok());
  EXPECT_EQ(active, (std::vector<uint32_t>{1, 2}));

  // set_ana_state (gwcli gw set_ana_state, an extension: the Ceph monitor client's RPC):
  // what it sets is what the host reads in the ANA log page (group 1 = this gateway's).
  auto group1_state = [&]() -> int {
    std::vector<uint8_t> log(4096);
    if (!c.GetLogPage(0x0C, log.data(), static_cast<uint32_t>(log.size())).ok()) return -1;
    const uint16_t ngrps = static_cast<uint16_t>(log[8] | log[9] << 8);
    size_t off = 16;  // header: change count, number of descriptors, reserved
    for (uint16_t i = 0; i < ngrps && off + 32 <= log.size(); i++) {
      uint32_t grp, nnsids;
      memcpy(&grp, &log[off], 4);
      memcpy(&nnsids, &log[off + 4], 4);
      if (grp == 1) return log[off + 16] & 0x0F;
      off += 32 + 4 * size_t{nnsids};
    }
    return -2;
  };
  EXPECT_EQ(group1_state(), 0x01);  // optimized
  EXPECT_CLI(Cli({"gw", "set_ana_state", "-n", kNqn, "-g", "1", "-s", "inaccessible"}), 0,
             std::string("Setting ANA state of group 1 in ") + kNqn + " to inaccessible: Successful");
  EXPECT_EQ(group1_state(), 0x03);
  json ana = Json({"gw", "set_ana_state", "-n", kNqn, "-g", "1", "-s", "optimized"});
  EXPECT_EQ(ana["status"], 1) << "the reference answers status 1 on success";
  EXPECT_EQ(group1_state(), 0x01);
  EXPECT_CLI(Cli({"gw", "set_ana_state", "-n", kNqn, "-g", "1", "-s", "gone"}), 2, "--state");
}

// ------------------------------------------------------------------------------ raw API

// What gwcli cannot send (it refuses it first, or has no option for it), sent as raw gRPC
// requests to the running gateway: the gateway's own answer, errno and message.
TEST_F(Mgmt, RawApiBadInputs) {
  auto stub = ::Gateway::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(gw.grpc_port()),
                                                     grpc::InsecureChannelCredentials()));
  // One call; the errors travel in the reply's status.
  auto call = [&](auto method, const auto& req, auto rep) {
    grpc::ClientContext ctx;
    EXPECT_TRUE(((*stub).*method)(&ctx, req, &rep).ok());
    return rep;
  };
  auto create = [&](const std::string& nqn, bool ha) {
    create_subsystem_req r;
    r.set_subsystem_nqn(nqn);
    r.set_enable_ha(ha);
    r.set_no_group_append(true);
    return call(&::Gateway::Stub::create_subsystem, r, subsys_status());
  };
  subsys_status st = create(kNqn, false);
  EXPECT_EQ(st.status(), EINVAL);
  EXPECT_NE(st.error_message().find("HA must be enabled for subsystems"), std::string::npos) << st.error_message();
  st = create("nqn.2016-06.io.spdk:bad_name", true);
  EXPECT_EQ(st.status(), EINVAL);
  EXPECT_NE(st.error_message().find("contains invalid characters"), std::string::npos) << st.error_message();
  ASSERT_EQ(create(kNqn, true).status(), 0);

  auto add = [&](uint32_t block_size, const std::string& pool, const std::string& image) {
    namespace_add_req r;
    r.set_subsystem_nqn(kNqn);
    r.set_block_size(block_size);
    r.set_rbd_pool_name(pool);
    r.set_rbd_image_name(image);
    return call(&::Gateway::Stub::namespace_add, r, nsid_status());
  };
  nsid_status ns = add(0, "rbd", "img");
  EXPECT_EQ(ns.status(), EINVAL);
  EXPECT_NE(ns.error_message().find("block size can't be zero"), std::string::npos) << ns.error_message();
  ns = add(4096, "", "img");
  EXPECT_EQ(ns.status(), EINVAL) << ns.error_message();
  EXPECT_NE(ns.error_message().find("pool"), std::string::npos) << ns.error_message();
  ns = add(4096, "rbd", "");
  EXPECT_EQ(ns.status(), EINVAL) << ns.error_message();
  EXPECT_NE(ns.error_message().find("image"), std::string::npos) << ns.error_message();

  // get_subsystems (whose failures are gRPC errors, not a status field) answers.
  call(&::Gateway::Stub::get_subsystems, get_subsystems_req(), subsystems_info());
}

// ------------------------------------------------------------------------------ ceph-csi

// The calls ceph-csi's NVMe-oF driver makes, in its order, with the answers it tolerates.
TEST_F(Mgmt, CephCsiCallSequence) {
  const std::string nqn = "nqn.2016-06.io.spdk:csi-vol-1";
  const std::string port = std::to_string(FreePort());
  // CreateSubsystem{enable_ha, no_group_append, serial "Ceph<random>"}: EEXIST is fine.
  EXPECT_CLI(Cli({"subsystem", "add", "-n", nqn, "-s", "Ceph4711", "--no-group-append"}), 0, "Successful");
  EXPECT_CLI(Cli({"subsystem", "add", "-n", nqn, "-s", "Ceph4711", "--no-group-append"}), EEXIST, "already");
  // CreateListener{nqn, host_name, traddr, trsvcid, ipv4}: EEXIST / EREMOTE are fine.
  EXPECT_CLI(Cli({"listener", "add", "-n", nqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port, "-f", "ipv4"}), 0,
             "Successful");
  EXPECT_CLI(Cli({"listener", "add", "-n", nqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port, "-f", "ipv4"}), EEXIST,
             "already");
  EXPECT_CLI(Cli({"listener", "add", "-n", nqn, "-t", "gwB", "-a", "127.0.0.1", "-s", port, "-f", "ipv4"}), 0,
             "listener will only be active when appropriate gateway is up");
  // NamespaceAdd{block_size 4096}; ListNamespaces reads the UUID.
  EXPECT_CLI(Cli(WithBacking({"namespace", "add", "-n", nqn, "-s", "4096"}, "16M")), 0, "Successful");
  json ns = Json({"namespace", "list", "-n", nqn});
  ASSERT_EQ(ns["namespaces"].size(), 1u);
  EXPECT_EQ(ns["namespaces"][0]["uuid"].get<std::string>().size(), 36u);
  // AddHost: EEXIST is fine.
  EXPECT_CLI(Cli({"host", "add", "-n", nqn, "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Cli({"host", "add", "-n", nqn, "-t", kHost1}), EEXIST, "already");
  // ... and the reverse: RemoveHost (ENOENT fine), NamespaceDelete (ENOENT/ENODEV fine),
  // DeleteListener{force} (ENOENT fine), DeleteSubsystem (ENOENT fine).
  EXPECT_CLI(Cli({"host", "del", "-n", nqn, "-t", kHost1}), 0, "Successful");
  EXPECT_CLI(Cli({"host", "del", "-n", nqn, "-t", kHost1}), ENOENT, "not found");
  EXPECT_CLI(Cli({"namespace", "del", "-n", nqn, "--nsid", "1"}), 0, "Successful");
  EXPECT_CLI(Cli({"namespace", "del", "-n", nqn, "--nsid", "1"}), ENODEV, "Can't find namespace");
  EXPECT_CLI(Cli({"listener", "del", "-n", nqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port, "--force"}), 0,
             "Successful");
  EXPECT_CLI(Cli({"listener", "del", "-n", nqn, "-t", "gwA", "-a", "127.0.0.1", "-s", port, "--force"}), ENOENT,
             "No such listener");
  EXPECT_CLI(Cli({"listener", "del", "-n", nqn, "-t", "gwB", "-a", "127.0.0.1", "-s", port, "--force"}), 0,
             "Successful");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", nqn}), 0, "Successful");
  EXPECT_CLI(Cli({"subsystem", "del", "-n", nqn}), ENOENT, "No such subsystem");
  EXPECT_CLI(Cli({"namespace", "del", "-n", nqn, "--nsid", "1"}), ENOENT, "No such subsystem");
}

// ------------------------------------------------------------------------------ configuration

TEST_F(Mgmt, ConfigFileAndOverrides) {
  gw.Stop();
  char path[] = "/tmp/nvmeof-mgmt-conf-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const uint16_t port = FreePort();
  const std::string conf = "[gateway]\nname = gwconf\ngroup = g9\naddr = 127.0.0.1\nport = " + std::to_string(port) +
                           "\nenable_auth = False\nverify_nqns = True\nfuture_knob = 1\n"
                           "[gateway-logs]\nlog_level = info\n[discovery]\naddr = 127.0.0.1\nport = " +
                           std::to_string(FreePort()) +
                           "\n[ceph]\npool = rbd\nconfig_file = /nonexistent/ceph.conf\n"
                           "[spdk]\ntgt_path = /usr/local/bin/nvmf_tgt\n[data-plane]\nreactors = 1\n";
  ASSERT_EQ(write(fd, conf.data(), conf.size()), static_cast<ssize_t>(conf.size()));
  close(fd);
  std::string err;
  ASSERT_TRUE(gw.Start({"--config", path, "--hostname", "hostC"}, &err)) << err;
  unlink(path);
  EXPECT_EQ(gw.grpc_port(), port);
  const std::string log = gw.Log();
  EXPECT_NE(log.find("unknown key 'future_knob' in [gateway]"), std::string::npos) << log;
  EXPECT_NE(log.find("ignoring the reference gateway's SPDK/monitor-only section(s) [spdk]"), std::string::npos) << log;
  EXPECT_NE(log.find("keeping the state in memory"), std::string::npos) << log;
  json info = Json({"gw", "info"});
  EXPECT_EQ(info["name"], "gwconf");
  EXPECT_EQ(info["group"], "g9");
  EXPECT_EQ(info["hostname"], "hostC");
  EXPECT_EQ(info["port"], std::to_string(port));
  EXPECT_CLI(Cli({"subsystem", "add", "-n", kNqn}), 0, std::string(kNqn) + ".g9");
}

// [gateway] enable_auth: the gRPC port requires a client certificate (mutual TLS).
TEST_F(Mgmt, MutualTls) {
  gw.Stop();
  char dir[] = "/tmp/nvmeof-mgmt-tls-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  for (const std::string who : {"server", "client"}) {
    std::vector<std::string> cmd{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                 d + "/" + who + ".key", "-out", d + "/" + who + ".crt", "-days", "2", "-subj",
                                 "/CN=" + (who == "server" ? std::string("localhost") : who)};
    if (who == "server") {
      cmd.push_back("-addext");
      cmd.push_back("subjectAltName=IP:127.0.0.1,DNS:localhost");
    }
    CliResult r = mgmt_test::Run(cmd);
    if (r.rc == 127) GTEST_SKIP() << "openssl is not installed";
    ASSERT_EQ(r.rc, 0) << r.all();
  }
  const uint16_t port = FreePort();
  const std::string conf = "[gateway]\nname = gwtls\naddr = 127.0.0.1\nport = " + std::to_string(port) +
                           "\nenable_auth = True\n[discovery]\naddr = 127.0.0.1\nport = " + std::to_string(FreePort()) +
                           "\n[ceph]\nconfig_file = /nonexistent/ceph.conf\n[mtls]\nserver_key = " + d +
                           "/server.key\nserver_cert = " + d + "/server.crt\nclient_key = " + d +
                           "/client.key\nclient_cert = " + d + "/client.crt\n[data-plane]\nreactors = 1\n";
  const std::string path = d + "/gw.conf";
  {
    std::ofstream f(path);
    f << conf;
  }
  std::string err;
  ASSERT_TRUE(gw.Start({"--config", path}, &err)) << err;
  EXPECT_NE(gw.Log().find("(mTLS)"), std::string::npos) << gw.Log();
  const std::vector<std::string> tls{"--client-key", d + "/client.key", "--client-cert", d + "/client.crt",
                                     "--server-cert", d + "/server.crt"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin(), tls.begin(), tls.end());
    return a;
  };
  EXPECT_CLI(Gwcli(port, with({"subsystem", "add", "-n", kNqn})), 0, "Successful");
  EXPECT_CLI(Gwcli(port, with({"gw", "info"})), 0, "Gateway's name: gwtls");
  // Without a client certificate (or without TLS) the gateway cannot be used.
  CliResult plain = Gwcli(port, {"subsystem", "list"});
  EXPECT_NE(plain.rc, 0) << plain.all();
  CliResult no_cert = Gwcli(port, {"--server-cert", d + "/server.crt", "subsystem", "list"});
  EXPECT_NE(no_cert.rc, 0) << no_cert.all();
  EXPECT_EQ(no_cert.all().find(kNqn), std::string::npos) << no_cert.all();
  for (const char* f : {"server.key", "server.crt", "client.key", "client.crt", "gw.conf"}) unlink((d + "/" + f).c_str());
  rmdir(dir);
}

TEST(MgmtStartup, BadConfigIsRejectedWithFileAndLine) {
  char path[] = "/tmp/nvmeof-mgmt-conf-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string conf = "[gateway]\nname = x\nport = 70000\n";
  ASSERT_EQ(write(fd, conf.data(), conf.size()), static_cast<ssize_t>(conf.size()));
  close(fd);
  CliResult r = mgmt_test::Run({GatewayBin(), "--config", path});
  unlink(path);
  EXPECT_EQ(r.rc, 2) << r.all();
  EXPECT_NE(r.all().find(std::string(path) + ":3: [gateway] port = '70000'"), std::string::npos) << r.all();
  CliResult h = mgmt_test::Run({GatewayBin(), "--help"});
  EXPECT_EQ(h.rc, 0);
  for (const char* opt : {"--config", "--grpc", "--listen", "--discovery", "--reactors", "--cntlid-range",
                          "--queue-depth", "--subsystem", "--namespace", "--host", "--serial", "--name",
                          "--log-level", "--group", "--state-pool", "--ceph-conf", "--ceph-id", "--hostname"})
    EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
}

// The flags the e2e tests use keep working next to the API: a --subsystem given on the
// command line is listed and manageable.
TEST_F(Mgmt, CommandLineSubsystemIsManageable) {
  gw.Stop();
  const std::string port = std::to_string(FreePort());
  StartGateway({"--listen", "127.0.0.1:" + port, "--subsystem", kNqn, "--namespace", "memory:8M:4096", "--serial",
                "SNCLI"});
  EXPECT_TRUE(gw.WaitForLog("listening on 127.0.0.1:" + port, 2000));
  json j = Json({"subsystem", "list"});
  ASSERT_EQ(j["subsystems"].size(), 1u);
  EXPECT_EQ(j["subsystems"][0]["serial_number"], "SNCLI");
  EXPECT_EQ(Json({"namespace", "list", "-n", kNqn})["namespaces"].size(), 1u);
  EXPECT_CLI(Cli({"namespace", "add", "-n", kNqn, "--memory-size", "4M"}), 0, "Adding namespace 2");
  json l = Json({"listener", "list", "-n", kNqn});
  ASSERT_EQ(l["listeners"].size(), 1u) << l.dump();
  EXPECT_EQ(l["listeners"][0]["host_name"], "gwA");
  EXPECT_EQ(l["listeners"][0]["trsvcid"], std::stoi(port));
}

// ------------------------------------------------------------------------------ statistics

// Real I/O through the gateway (the project's host library over NVMe/TCP), then the
// per-connection statistics through gwcli: exact counts in the right size buckets, reset,
// the I/O stats mode, the poll group counters, and a host removed with its connections kept.
TEST_F(Mgmt, ConnectionIoStatisticsMatchTheIo) {
  const uint16_t port = FreePort();
  const std::string hostnqn = "nqn.2014-08.org.nvmexpress:uuid:6e766d66-686f-7374-0000-000000000002";
  MustPass({"subsystem", "add", "-n", kNqn});
  MustPass({"listener", "add", "-n", kNqn, "-t", "gwA", "-a", "127.0.0.1", "-s", std::to_string(port)});
  MustPass(WithBacking({"namespace", "add", "-n", kNqn, "-s", "4096"}, "16M"));
  MustPass({"host", "add", "-n", kNqn, "-t", hostnqn});
  host::ControllerOptions o;
  o.port = port;
  o.subnqn = kNqn;
  o.hostnqn = hostnqn;
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  ASSERT_TRUE(c.AddIoQueue().ok());
  std::vector<uint8_t> buf(32 * 4096, 0x5A);
  auto io = [&](bool write, uint32_t blocks, int times) {
    for (int i = 0; i < times; i++) {
      const uint32_t len = blocks * 4096;
      auto r = write ? c.Write(c.io(0), 1, 0, blocks, buf.data(), len) : c.Read(c.io(0), 1, 0, blocks, buf.data(), len);
      ASSERT_TRUE(r.ok());
    }
  };
  io(true, 1, 3);    // 4 KiB writes
  io(true, 8, 2);    // 32 KiB writes
  io(false, 1, 1);   // 4 KiB read
  io(false, 32, 4);  // 128 KiB reads
  auto num = [](const json& v) { return v.is_string() ? std::stoull(v.get<std::string>()) : v.get<uint64_t>(); };
  // Bucket index by size in KiB (2, 4, 8, ... 4096).
  auto bucket = [&](const json& st, uint32_t kib) -> json {
    for (const auto& b : st["buckets"])
      if (b["size"] == kib) return b;
    ADD_FAILURE() << "no bucket of " << kib << " KiB in " << st.dump();
    return json();
  };
  const std::vector<std::string> get = {"connection", "get_io_statistics", "-n", kNqn, "-t", hostnqn};
  json st = Json(get);
  EXPECT_EQ(num(st["total_num_ios"]), 10u) << st.dump();
  EXPECT_EQ(st["buckets"].size(), 12u);
  EXPECT_EQ(num(bucket(st, 4)["write"]["io_count"]), 3u);
  EXPECT_EQ(num(bucket(st, 4)["read"]["io_count"]), 1u);
  EXPECT_EQ(num(bucket(st, 32)["write"]["io_count"]), 2u);
  EXPECT_EQ(num(bucket(st, 128)["read"]["io_count"]), 4u);
  EXPECT_EQ(num(bucket(st, 8)["read"]["io_count"]), 0u);
  const json w4 = bucket(st, 4)["write"];
  EXPECT_GE(num(w4["total"]["min"]), num(w4["bdev"]["min"])) << w4.dump();  // end to end covers the device
  EXPECT_LE(num(w4["total"]["min"]), num(w4["total"]["max"]));
  EXPECT_CLI(Cli(get), 0, "IO statistics for host " + hostnqn + " in " + kNqn + " (10 IOs");

  // Reset: read once more, then zero.
  EXPECT_CLI(Cli({"connection", "reset_io_statistics", "-n", kNqn, "-t", hostnqn}), 0,
             "Resetting host's " + hostnqn + " in " + kNqn + " IO statistics: Successful");
  EXPECT_EQ(num(Json(get)["total_num_ios"]), 0u);
  // Off: I/O is not timed for them; on again: it is.
  MustPass({"gw", "set_io_stats_mode", "--enabled", "off"});
  EXPECT_EQ(Json({"gw", "info"})["io_stats_enabled"], false);
  io(true, 1, 1);
  EXPECT_EQ(num(Json(get)["total_num_ios"]), 0u);
  MustPass({"gw", "set_io_stats_mode", "--enabled", "on"});
  io(true, 1, 1);
  EXPECT_EQ(num(Json(get)["total_num_ios"]), 1u);

  // The poll group (one reactor) saw both queues and every I/O command.
  json gs = Json({"gw", "get_stats"});
  ASSERT_EQ(gs["poll_groups"].size(), 1u) << gs.dump();
  const json& pg = gs["poll_groups"][0];
  EXPECT_EQ(pg["current_admin_qpairs"], 1);
  EXPECT_EQ(pg["current_io_qpairs"], 1);
  EXPECT_EQ(num(pg["completed_nvme_io"]), 12u);
  EXPECT_EQ(num(pg["pending_bdev_io"]), 0u);
  EXPECT_EQ(pg["transports"][0]["trtype"], "TCP");
  EXPECT_EQ(Json({"gw", "get_thread_stats"})["threads"].size(), 1u);

  // Removed with its connections kept: the host stays connected (listed as deleted) and its
  // I/O goes on; a new connection is refused.
  MustPass({"host", "del", "-n", kNqn, "-t", hostnqn, "--keep-connections"});
  json conns = Json({"connection", "list", "-n", kNqn});
  ASSERT_EQ(conns["connections"].size(), 1u) << conns.dump();
  EXPECT_EQ(conns["connections"][0]["connected"], true);
  EXPECT_EQ(conns["connections"][0]["host_deleted"], true);
  io(false, 1, 1);
  {
    host::Controller again(o);
    EXPECT_FALSE(again.Open(&err)) << "a removed host connected again";
  }
  EXPECT_EQ(num(Json(get)["total_num_ios"]), 2u);
}

}  // namespace
}  // namespace nvmeof::mgmt_test
