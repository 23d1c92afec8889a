// Monitor-client mode ([gateway] ha = monitor, label mgmt, no Ceph): the test makes the
// calls Ceph's monitor client (src/nvmeof/NVMeofGwMonitorClient.cc) makes, over gRPC and as
// its protocol specifies, against a real gateway:
//   - before the group id: the Gateway API is not served (UNAVAILABLE);
//   - MonitorGroup.group_id on [gateway] port - 1: an index out of range is refused, the
//     first valid one taken (controller IDs index * 2040 + 1.., ANA group index + 1), the
//     same again OK, another FAILED_PRECONDITION;
//   - get_subsystems, the fields the client beacons (nqn, namespaces' anagrpid and nonce,
//     listen_addresses' adrfam, traddr, trsvcid);
//   - set_ana_state for several groups and subsystems (status 1 on success, which the
//     client requires), checked in a connected host's ANA log page; every group inaccessible
//     before; the client's partial request (a subsystem dropped from the map) per subsystem;
//     group 0 INTERNAL; an unknown subsystem kept for later.
// Nothing asserts on durations; waits are bounded.
#include <arpa/inet.h>
#include <google/protobuf/empty.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/gateway.grpc.pb.h"
#include "api/monitor.grpc.pb.h"
#include "gateway/protocol/nvme.h"
#include "tests/host/nvmf_host.h"
#include "tests/mgmt/mgmt_harness.h"

namespace nvmeof::mgmt_test {
namespace {

constexpr char kNqnA[] = "nqn.2016-06.io.spdk:mon-a";
constexpr char kNqnB[] = "nqn.2016-06.io.spdk:mon-b";
constexpr char kNqnLater[] = "nqn.2016-06.io.spdk:mon-later";

bool PortFree(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// A gRPC port P whose monitor port P - 1 is free too.
uint16_t FreePortPair() {
  for (int i = 0; i < 100; i++) {
    uint16_t p = FreePort();
    if (p > 1024 && PortFree(p - 1)) return p;
  }
  return 0;
}

// The ANA states of a connected host's ANA log page, by group.
std::map<uint32_t, uint8_t> AnaStates(host::Controller& c, uint64_t* change_count = nullptr) {
  std::vector<uint8_t> buf(4096);
  auto done = c.GetLogPage(nvme::kLogAna, buf.data(), static_cast<uint32_t>(buf.size()));
  EXPECT_TRUE(done.ok()) << done.ToString();
  nvme::AnaLogHeader h;
  memcpy(&h, buf.data(), sizeof(h));
  if (change_count) *change_count = h.change_count;
  std::map<uint32_t, uint8_t> out;
  size_t off = sizeof(h);
  for (int i = 0; i < h.num_descriptors && off + sizeof(nvme::AnaGroupDescriptor) <= buf.size(); i++) {
    nvme::AnaGroupDescriptor d;
    memcpy(&d, buf.data() + off, sizeof(d));
    out[d.anagrpid] = d.state;
    off += sizeof(d) + 4u * d.num_nsids;
  }
  return out;
}

class MonitorMode : public ::testing::Test {
 protected:
  void SetUp() override { StartGateway("monitor_client = /nonexistent/ceph-nvmeof-monitor-client\n"); }
  // Starts the gateway in monitor mode with `extra` [gateway] lines, up to the wait for the
  // group id.
  void StartGateway(const std::string& extra) {
    port_ = FreePortPair();
    ASSERT_NE(port_, 0) << "no free port pair";
    io_port_ = FreePort();
    dir_ = std::filesystem::temp_directory_path() / ("nvmeof-monitor-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    const std::string conf = (dir_ / "ceph-nvmeof.conf").string();
    std::ofstream(conf) << "[gateway]\nname = gw-mon\naddr = 127.0.0.1\nport = " << port_
                        << "\nha = monitor\nenable_prometheus_exporter = False\n"
                        << extra << "[monitor]\ntimeout = 1.0\n";
    std::string err;
    ASSERT_TRUE(child_.Start({GatewayBin(), "--config", conf, "--state-pool", "none", "--discovery", "none",
                              "--reactors", "1"},
                             &err))
        << err;
    ASSERT_TRUE(child_.WaitForLog("waiting for the Ceph monitor client's group id", 20000)) << child_.LogTail();
    gw_ = ::Gateway::NewStub(Channel(port_));
    mon_ = ::MonitorGroup::NewStub(Channel(port_ - 1));
  }
  // A channel of its own (the client opens one per call): no reconnection backoff left
  // over from calls made before the server listened.
  static std::shared_ptr<grpc::Channel> Channel(uint16_t port) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args);
  }
  // Once the gateway is ready: the API on a fresh channel.
  void Reconnect() { gw_ = ::Gateway::NewStub(Channel(port_)); }
  void TearDown() override {
    child_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  grpc::Status GroupId(uint32_t id) {
    grpc::ClientContext ctx;
    group_id_req r;
    r.set_id(id);
    google::protobuf::Empty e;
    return mon_->group_id(&ctx, r, &e);
  }
  // set_ana_state as the client builds it: per subsystem, the groups that changed.
  grpc::Status SetAna(const std::map<std::string, std::map<uint32_t, bool>>& states, req_status* rep) {
    ana_info ai;
    for (auto& [nqn, groups] : states) {
      nqn_ana_states* nas = ai.add_states();
      nas->set_nqn(nqn);
      for (auto& [grp, optimized] : groups) {
        ana_group_state* gs = nas->add_states();
        gs->set_grp_id(grp);
        gs->set_state(optimized ? ::OPTIMIZED : ::INACCESSIBLE);
      }
    }
    grpc::ClientContext ctx;
    return gw_->set_ana_state(&ctx, ai, rep);
  }
  // The client's success test (NVMeofGwClient::set_ana_state): gRPC OK and status != 0.
  bool SetAnaAsClient(const std::map<std::string, std::map<uint32_t, bool>>& states) {
    req_status rep;
    grpc::Status st = SetAna(states, &rep);
    return st.ok() && rep.status();
  }
  void CreateSubsystem(const std::string& nqn, const std::vector<uint32_t>& groups) {
    grpc::ClientContext c1;
    create_subsystem_req cs;
    cs.set_subsystem_nqn(nqn);
    cs.set_enable_ha(true);
    cs.set_no_group_append(true);
    subsys_status ss;
    ASSERT_TRUE(gw_->create_subsystem(&c1, cs, &ss).ok());
    ASSERT_EQ(ss.status(), 0) << ss.error_message();
    grpc::ClientContext c2;
    create_listener_req cl;
    cl.set_nqn(nqn);
    cl.set_host_name("gw-mon");
    cl.set_traddr("127.0.0.1");
    cl.set_trsvcid(io_port_);
    cl.set_adrfam(::ipv4);
    req_status ls;
    ASSERT_TRUE(gw_->create_listener(&c2, cl, &ls).ok());
    ASSERT_EQ(ls.status(), 0) << ls.error_message();
    for (uint32_t g : groups) {
      grpc::ClientContext c3;
      namespace_add_req na;
      na.set_subsystem_nqn(nqn);
      na.set_block_size(512);
      na.set_backend("memory");
      na.set_memory_size(1 << 20);
      na.set_anagrpid(g);
      nsid_status ns;
      ASSERT_TRUE(gw_->namespace_add(&c3, na, &ns).ok());
      ASSERT_EQ(ns.status(), 0) << ns.error_message();
    }
    grpc::ClientContext c4;
    add_host_req ah;
    ah.set_subsystem_nqn(nqn);
    ah.set_host_nqn("*");
    req_status hs;
    ASSERT_TRUE(gw_->add_host(&c4, ah, &hs).ok());
    ASSERT_EQ(hs.status(), 0) << hs.error_message();
  }
  std::unique_ptr<host::Controller> Connect(const std::string& nqn) {
    host::ControllerOptions o;
    o.port = io_port_;
    o.subnqn = nqn;
    auto c = std::make_unique<host::Controller>(o);
    std::string err;
    EXPECT_TRUE(c->Open(&err)) << err << "\n" << child_.LogTail();
    return c;
  }

  uint16_t port_ = 0, io_port_ = 0;
  std::filesystem::path dir_;
  nvmeof::testing::ChildProcess child_;
  std::unique_ptr<::Gateway::Stub> gw_;
  std::unique_ptr<::MonitorGroup::Stub> mon_;
};

TEST_F(MonitorMode, GroupIdThenSetAnaStateDrivesTheAnaLogPage) {
  // The Gateway API waits for the group id, like the reference (it starts SPDK and its API
  // only then).
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    subsystems_info si;
    EXPECT_FALSE(gw_->get_subsystems(&ctx, get_subsystems_req(), &si).ok());
    req_status rep;
    EXPECT_EQ(SetAna({{kNqnA, {{1, true}}}}, &rep).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // Index 32 would need controller IDs past 65519.
  EXPECT_EQ(GroupId(32).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Index 1: ANA group 2, controller IDs 2041-4080.
  ASSERT_TRUE(GroupId(1).ok()) << child_.LogTail();
  EXPECT_TRUE(GroupId(1).ok()) << "a restarted monitor client sends the same id again";
  EXPECT_EQ(GroupId(0).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(child_.WaitForLog("health: ", 20000)) << child_.LogTail();
  Reconnect();
  EXPECT_NE(child_.Log().find("ANA group 2 (monitor group id 1), controller IDs 2041-4080"), std::string::npos)
      << child_.LogTail();
  EXPECT_NE(child_.Log().find("waiting for a monitor client started beside the gateway"), std::string::npos)
      << child_.LogTail();

  {
    grpc::ClientContext ctx;
    get_gateway_info_req r;
    gateway_info gi;
    ASSERT_TRUE(gw_->get_gateway_info(&ctx, r, &gi).ok());
    EXPECT_EQ(gi.load_balancing_group(), 2u);
  }

  CreateSubsystem(kNqnA, {1, 2, 3});
  CreateSubsystem(kNqnB, {1, 2});

  // What the client beacons: get_subsystems' nqn, namespaces' anagrpid and nonce,
  // listen_addresses' adrfam, traddr and trsvcid.
  {
    grpc::ClientContext ctx;
    subsystems_info si;
    ASSERT_TRUE(gw_->get_subsystems(&ctx, get_subsystems_req(), &si).ok());
    std::map<std::string, const subsystem*> by_nqn;
    for (auto& s : si.subsystems()) by_nqn[s.nqn()] = &s;
    ASSERT_TRUE(by_nqn.count(kNqnA) && by_nqn.count(kNqnB));
    const subsystem& a = *by_nqn[kNqnA];
    ASSERT_EQ(a.namespaces_size(), 3);
    for (int i = 0; i < 3; i++) EXPECT_EQ(a.namespaces(i).anagrpid(), static_cast<uint32_t>(i + 1));
    ASSERT_EQ(a.listen_addresses_size(), 1);
    EXPECT_EQ(a.listen_addresses(0).traddr(), "127.0.0.1");
    EXPECT_EQ(a.listen_addresses(0).trsvcid(), std::to_string(io_port_));
    EXPECT_EQ(a.listen_addresses(0).adrfam(), "IPv4");  // as SPDK spells it for the reference
  }

  // Before the monitor client sets anything, every group is inaccessible; the controller ID
  // comes from the assigned range.
  auto host_a = Connect(kNqnA);
  auto host_b = Connect(kNqnB);
  ASSERT_TRUE(host_a && host_b);
  EXPECT_GE(host_a->cntlid(), 2041);
  EXPECT_LE(host_a->cntlid(), 4080);
  EXPECT_EQ(AnaStates(*host_a), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaInaccessible},
                                                              {2, nvme::kAnaInaccessible},
                                                              {3, nvme::kAnaInaccessible}}));

  // The client's first map: this gateway's group and group 3 optimized, for every
  // subsystem. One AnaTable change per group.
  uint64_t before = 0, after = 0;
  AnaStates(*host_a, &before);
  ASSERT_TRUE(SetAnaAsClient({{kNqnA, {{2, true}, {3, true}}}, {kNqnB, {{2, true}, {3, true}}}}))
      << child_.LogTail();
  EXPECT_EQ(AnaStates(*host_a, &after), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaInaccessible},
                                                                      {2, nvme::kAnaOptimized},
                                                                      {3, nvme::kAnaOptimized}}));
  EXPECT_EQ(after - before, 2u);
  EXPECT_EQ(AnaStates(*host_b), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaInaccessible}, {2, nvme::kAnaOptimized}}));

  // Failover of group 1 to this gateway, group 3 back to its owner.
  ASSERT_TRUE(SetAnaAsClient({{kNqnA, {{1, true}, {3, false}}}, {kNqnB, {{1, true}, {3, false}}}}));
  EXPECT_EQ(AnaStates(*host_a), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaOptimized},
                                                              {2, nvme::kAnaOptimized},
                                                              {3, nvme::kAnaInaccessible}}));
  EXPECT_EQ(AnaStates(*host_b), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaOptimized}, {2, nvme::kAnaOptimized}}));

  // A subsystem the monitor dropped from its map: the client sends inaccessible for it alone.
  // That subsystem only, the others keep their states.
  ASSERT_TRUE(SetAnaAsClient({{kNqnB, {{1, false}, {2, false}}}}));
  EXPECT_EQ(AnaStates(*host_b), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaInaccessible}, {2, nvme::kAnaInaccessible}}));
  EXPECT_EQ(AnaStates(*host_a), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaOptimized},
                                                              {2, nvme::kAnaOptimized},
                                                              {3, nvme::kAnaInaccessible}}));
  // ... and back in the map: the group-wide state again.
  ASSERT_TRUE(SetAnaAsClient({{kNqnA, {{2, true}}}, {kNqnB, {{2, true}}}}));
  EXPECT_EQ(AnaStates(*host_b), (std::map<uint32_t, uint8_t>{{1, nvme::kAnaInaccessible}, {2, nvme::kAnaOptimized}}));

  // A subsystem not created yet: accepted (status 1), kept until it is.
  ASSERT_TRUE(SetAnaAsClient({{kNqnLater, {{3, true}}}}));
  CreateSubsystem(kNqnLater, {3});
  auto host_later = Connect(kNqnLater);
  ASSERT_TRUE(host_later);
  EXPECT_EQ(AnaStates(*host_later), (std::map<uint32_t, uint8_t>{{3, nvme::kAnaOptimized}}));

  // ANA group 0 on a subsystem with a listener: the reference's error (gRPC INTERNAL).
  req_status rep;
  EXPECT_EQ(SetAna({{kNqnA, {{0, true}}}}, &rep).error_code(), grpc::StatusCode::INTERNAL);
}

// A stand-in for ceph-nvmeof-monitor-client: records its arguments and pid, then waits.
class MonitorClientChild : public MonitorMode {
 protected:
  void SetUp() override {
    dir0_ = std::filesystem::temp_directory_path() / ("nvmeof-monitor-client-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir0_);
    script_ = (dir0_ / "fake-monitor-client").string();
    args_ = (dir0_ / "args").string();
    std::ofstream(script_) << "#!/bin/sh\necho $$ > " << args_ << ".tmp\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " << args_
                           << ".tmp; done\nmv " << args_ << ".tmp " << args_ << "\nexec sleep 600\n";
    std::filesystem::permissions(script_, std::filesystem::perms::owner_all);
    StartGateway("group = g1\nenable_monitor_client = True\nmonitor_client = " + script_ + "\n");
  }
  void TearDown() override {
    MonitorMode::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir0_, ec);
  }
  std::filesystem::path dir0_;
  std::string script_, args_;
};

TEST_F(MonitorClientChild, TheGatewayRunsTheClientAndEndsWithIt) {
  ASSERT_TRUE(child_.WaitForLog("monitor: started", 10000)) << child_.LogTail();
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && lines.empty(); i++) {
    std::ifstream f(args_);
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    if (lines.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(lines.empty()) << "the monitor client was not started\n" << child_.LogTail();
  const pid_t pid = static_cast<pid_t>(std::stol(lines[0]));
  const std::vector<std::string> args(lines.begin() + 1, lines.end());
  const std::string port = std::to_string(port_);
  const std::vector<std::string> want = {"--gateway-name", "gw-mon",
                                         "--gateway-address", "127.0.0.1:" + port,
                                         "--gateway-pool", "",
                                         "--gateway-group", "g1",
                                         "--monitor-group-address", "127.0.0.1:" + std::to_string(port_ - 1),
                                         "-c", "/etc/ceph/ceph.conf",
                                         "-n", "client.admin",
                                         "-k", "/etc/ceph/keyring"};
  EXPECT_EQ(args, want);
  ASSERT_TRUE(GroupId(0).ok());
  ASSERT_TRUE(child_.WaitForLog("health: ", 20000)) << child_.LogTail();
  // The client ends: so does the gateway, with status 1 (its supervisor restarts both).
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(child_.WaitForLog("the monitor client (pid " + std::to_string(pid) + ") killed by signal 9", 10000))
      << child_.LogTail();
  for (int i = 0; i < 100 && child_.Alive(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(child_.exit_description(), "exited 1") << child_.LogTail();
}

}  // namespace
}  // namespace nvmeof::mgmt_test
