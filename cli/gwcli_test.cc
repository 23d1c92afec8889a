// gwcli end to end without a server: argument parsing, the requests built,
// the rendering of canned replies, messages and exit codes.
#include "cli/gwcli.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "api/gateway.grpc.pb.h"
#include "api/gateway.pb.h"
#include "api/gateway_ha.pb.h"

namespace nvmeof::cli {
namespace {

using google::protobuf::Message;

struct Recorded {
  std::string method;
  std::unique_ptr<Message> request;
};

// Answers each RPC with a canned reply (default: an empty reply, status 0),
// or with a gRPC error; records every request.
class FakeTransport : public Transport {
 public:
  std::vector<Recorded> calls;
  std::map<std::string, std::vector<std::unique_ptr<Message>>> replies;  // consumed in order
  std::map<std::string, grpc::Status> errors;

  grpc::Status Call(std::string_view method, const Message& request, Message* reply) override {
    Recorded r{std::string(method), std::unique_ptr<Message>(request.New())};
    r.request->CopyFrom(request);
    calls.push_back(std::move(r));
    if (auto e = errors.find(std::string(method)); e != errors.end()) return e->second;
    auto& queue = replies[std::string(method)];
    if (!queue.empty()) {
      reply->CopyFrom(*queue.front());
      if (queue.size() > 1) queue.erase(queue.begin());
    }
    return grpc::Status::OK;
  }
};

class GwcliTest : public ::testing::Test {
 protected:
  FakeTransport fake;
  ConnectOptions connected;
  int factory_calls = 0;
  std::map<std::string, std::string> env;
  std::string out, err;

  int Run(std::vector<std::string> args) {
    std::ostringstream o, e;
    const TransportFactory factory = [this](const ConnectOptions& opts) {
      connected = opts;
      ++factory_calls;
      // The fixture keeps the fake alive; hand out a forwarding wrapper.
      struct Forward : Transport {
        FakeTransport* f;
        explicit Forward(FakeTransport* t) : f(t) {}
        grpc::Status Call(std::string_view m, const Message& q, Message* r) override {
          return f->Call(m, q, r);
        }
      };
      return std::unique_ptr<Transport>(new Forward(&fake));
    };
    const GetEnv getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    const int rc = nvmeof::cli::Run(args, o, e, factory, getenv);
    out = o.str();
    err = e.str();
    return rc;
  }

  // Runs with results on stdout (--output stdio).
  int RunStdio(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "stdio"});
    return Run(std::move(args));
  }

  template <typename T>
  void Reply(const std::string& method, const T& msg) {
    fake.replies[method].push_back(std::make_unique<T>(msg));
  }

  template <typename T>
  const T& Req(std::size_t i = 0) {
    EXPECT_LT(i, fake.calls.size());
    const T* r = dynamic_cast<const T*>(fake.calls.at(i).request.get());
    EXPECT_NE(r, nullptr) << "request type " << fake.calls.at(i).request->GetTypeName();
    return *r;
  }
};

const std::string kNqn = "nqn.2016-06.io.spdk:cnode1";

// ---- global options, help, usage errors ----

TEST_F(GwcliTest, HelpOnEveryLevelExitsZero) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"ns", "--help"}, {"namespace", "add", "--help"}, {"listener", "add", "-h"},
           {"gw", "set_log_level", "--help"}, {"--help-all"}}) {
    EXPECT_EQ(Run(args), 0) << args[0];
    EXPECT_NE(out.find("Usage: gwcli"), std::string::npos) << out;
  }
  Run({"namespace", "add", "--help"});
  EXPECT_NE(out.find("--rbd-create-image"), std::string::npos);
  EXPECT_NE(out.find("--memory-size"), std::string::npos);
  EXPECT_NE(out.find("--file"), std::string::npos);
  EXPECT_EQ(factory_calls, 0);
}

TEST_F(GwcliTest, NoCommandPrintsHelp) {
  EXPECT_EQ(Run({}), 255);
  EXPECT_NE(out.find("Subcommands:"), std::string::npos);
}

TEST_F(GwcliTest, MissingActionIsAUsageError) {
  EXPECT_EQ(Run({"subsystem"}), 2);
  EXPECT_EQ(err, "error: missing action for subsystem command (choose from 'add', 'del', 'list', 'change_key', 'del_key', 'add_network', 'del_network')\n");
  EXPECT_EQ(Run({"ns"}), 2);
  EXPECT_NE(err.find("missing action for namespace command"), std::string::npos);
  EXPECT_TRUE(fake.calls.empty());
}

TEST_F(GwcliTest, ParseErrorsExitTwo) {
  EXPECT_EQ(Run({"subsystem", "list", "--bogus"}), 2);
  EXPECT_NE(err.find("error: "), std::string::npos);
  EXPECT_EQ(Run({"subsystem", "add"}), 2);  // -n is required
  EXPECT_NE(err.find("subsystem"), std::string::npos);
  EXPECT_EQ(Run({"--format", "xml", "version"}), 2);
  EXPECT_EQ(Run({"ns", "del", "-n", kNqn, "--nsid", "abc"}), 2);
  EXPECT_EQ(Run({"bogus"}), 2);
  EXPECT_TRUE(fake.calls.empty());
}

TEST_F(GwcliTest, ServerAddressFromEnvironmentAndFlags) {
  EXPECT_EQ(Run({"subsystem", "list"}), 0);
  EXPECT_EQ(connected.address, "localhost");
  EXPECT_EQ(connected.port, 5500);
  EXPECT_EQ(ServerTarget(connected), "localhost:5500");

  env["CEPH_NVMEOF_SERVER_ADDRESS"] = "2001:db8::3";
  env["CEPH_NVMEOF_SERVER_PORT"] = "5501";
  EXPECT_EQ(Run({"subsystem", "list"}), 0);
  EXPECT_EQ(connected.address, "2001:db8::3");
  EXPECT_EQ(connected.port, 5501);
  EXPECT_EQ(ServerTarget(connected), "[2001:db8::3]:5501");

  EXPECT_EQ(Run({"--server-address", "10.0.0.5", "--server-port", "6000", "subsystem", "list"}), 0);
  EXPECT_EQ(connected.address, "10.0.0.5");
  EXPECT_EQ(connected.port, 6000);

  env["CEPH_NVMEOF_SERVER_PORT"] = "55x";
  EXPECT_EQ(Run({"subsystem", "list"}), 2);
  env.erase("CEPH_NVMEOF_SERVER_PORT");
  EXPECT_EQ(Run({"--server-port", "70000", "subsystem", "list"}), 2);
}

TEST_F(GwcliTest, GlobalOptionsAfterTheCommand) {
  EXPECT_EQ(Run({"subsystem", "list", "--format", "json", "--output", "stdio"}), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["status"], 0);
}

TEST_F(GwcliTest, OutputLogGoesToStderrStdioToStdout) {
  subsys_status ok;
  ok.set_nqn(kNqn);
  Reply("create_subsystem", ok);
  EXPECT_EQ(Run({"subsystem", "add", "-n", kNqn}), 0);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "Adding subsystem " + kNqn + ": Successful\n");

  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn}), 0);
  EXPECT_EQ(out, "Adding subsystem " + kNqn + ": Successful\n");
  EXPECT_EQ(err, "");

  // --log-level error hides results in log mode, not errors.
  EXPECT_EQ(Run({"--log-level", "error", "subsystem", "add", "-n", kNqn}), 0);
  EXPECT_EQ(out + err, "");
}

TEST_F(GwcliTest, MtlsOptions) {
  EXPECT_EQ(Run({"--client-key", "/nonexistent/key", "subsystem", "list"}), 2);
  EXPECT_NE(err.find("--client-key and --client-cert must be given together"), std::string::npos);
  EXPECT_EQ(Run({"--client-key", "/nonexistent/key", "--client-cert", "/nonexistent/cert",
                 "subsystem", "list"}),
            2);
  EXPECT_NE(err.find("can't open '/nonexistent/key'"), std::string::npos);

  const std::string dir = ::testing::TempDir();
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  const std::string key = write("gwcli_key.pem", "KEY");
  const std::string cert = write("gwcli_cert.pem", "CERT");
  const std::string ca = write("gwcli_ca.pem", "CA");
  EXPECT_EQ(RunStdio({"--client-key", key, "--client-cert", cert, "--server-cert", ca, "subsystem",
                      "list"}),
            0);
  EXPECT_EQ(connected.client_key, "KEY");
  EXPECT_EQ(connected.client_cert, "CERT");
  EXPECT_EQ(connected.server_cert, "CA");
  EXPECT_NE(out.find("Enable server auth since both --client-key and --client-cert are provided"),
            std::string::npos);
  EXPECT_EQ(RunStdio({"--client-key", key, "--client-cert", cert, "subsystem", "list"}), 0);
  EXPECT_NE(err.find("No server certificate file was provided"), std::string::npos);
}

// ---- version / gw ----

TEST_F(GwcliTest, Version) {
  EXPECT_EQ(RunStdio({"version"}), 0);
  EXPECT_EQ(out, "CLI version: " + BuildVersion() + "\n");
  EXPECT_EQ(RunStdio({"--format", "json", "version"}), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["version"], BuildVersion());
  EXPECT_EQ(factory_calls, 0);
}

TEST_F(GwcliTest, GwInfoAndLogLevel) {
  gateway_info info;
  info.set_version("1.3.3");
  info.set_name("gw1");
  info.set_group("g");
  info.set_addr("10.0.0.1");
  info.set_port("5500");
  info.set_bool_status(true);
  info.set_load_balancing_group(2);
  info.set_hostname("host1");
  Reply("get_gateway_info", info);
  EXPECT_EQ(RunStdio({"gw", "info"}), 0);
  EXPECT_NE(out.find("Gateway's version: 1.3.3\n"), std::string::npos);
  EXPECT_NE(out.find("Gateway's name: gw1\n"), std::string::npos);
  EXPECT_NE(out.find("Gateway's load balancing group: 2\n"), std::string::npos);
  EXPECT_NE(out.find("Gateway's port: 5500\n"), std::string::npos);
  EXPECT_EQ(err, "");
  // The reference CLI's order and wording (newest cli.py): location after the name, the
  // initialization note after the host name, the IO statistics mode after the limits.
  EXPECT_NE(out.find("Gateway's name: gw1\nGateway's location: <default>\nGateway's group: g\nGateway's host name: "
                     "host1\nGateway's initialization is still in progress\nGateway's load balancing group: 2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Gateway's port: 5500\nGateway's IO statistics is disabled\n"), std::string::npos) << out;
  info.set_location("site-a");
  info.set_gateway_initialization_over(true);
  info.set_io_stats_enabled(true);
  fake.replies.clear();
  Reply("get_gateway_info", info);
  EXPECT_EQ(RunStdio({"gw", "info"}), 0);
  EXPECT_NE(out.find("Gateway's location: site-a\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("initialization"), std::string::npos) << out;
  EXPECT_NE(out.find("Gateway's IO statistics is enabled\n"), std::string::npos) << out;

  EXPECT_EQ(RunStdio({"gw", "version"}), 0);
  EXPECT_EQ(out, "Gateway's version: 1.3.3\n");

  gateway_log_level_info lvl;
  lvl.set_log_level(warning);
  Reply("get_gateway_log_level", lvl);
  EXPECT_EQ(RunStdio({"gw", "get_log_level"}), 0);
  EXPECT_EQ(out, "Gateway log level is \"warning\"\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"gw", "set_log_level", "-l", "DEBUG"}), 0);
  EXPECT_EQ(Req<set_gateway_log_level_req>().log_level(), debug);
  EXPECT_EQ(out, "Set gateway log level to \"debug\": Successful\n");
  EXPECT_EQ(Run({"gw", "set_log_level", "-l", "notset"}), 2);
}

TEST_F(GwcliTest, GwSetAnaStateStatusOneIsSuccess) {
  req_status one;
  one.set_status(1);  // the reference's success answer for set_ana_state
  Reply("set_ana_state", one);
  EXPECT_EQ(RunStdio({"gw", "set_ana_state", "-n", kNqn, "-g", "2", "-s", "Inaccessible"}), 0);
  const auto& r = Req<ana_info>();
  ASSERT_EQ(r.states_size(), 1);
  EXPECT_EQ(r.states(0).nqn(), kNqn);
  ASSERT_EQ(r.states(0).states_size(), 1);
  EXPECT_EQ(r.states(0).states(0).grp_id(), 2u);
  EXPECT_EQ(r.states(0).states(0).state(), INACCESSIBLE);
  EXPECT_EQ(out, "Setting ANA state of group 2 in " + kNqn + " to inaccessible: Successful\n");

  req_status bad;
  bad.set_status(EINVAL);
  bad.set_error_message("no");
  fake.replies.clear();
  Reply("set_ana_state", bad);
  EXPECT_EQ(RunStdio({"gw", "set_ana_state", "-n", kNqn, "-g", "1", "-s", "optimized"}), EINVAL);
  EXPECT_EQ(err, "no\n");
  EXPECT_EQ(Run({"gw", "set_ana_state", "-n", kNqn, "-g", "0", "-s", "optimized"}), 2);
  EXPECT_EQ(Run({"gw", "set_ana_state", "-n", kNqn, "-g", "1", "-s", "unset"}), 2);
}

// ---- subsystem ----

TEST_F(GwcliTest, SubsystemAddBuildsTheReferenceRequest) {
  subsys_status ok;
  ok.set_nqn(kNqn + ".group1");  // the gateway appended its group
  Reply("create_subsystem", ok);
  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn, "-s", "Ceph123"}), 0);
  const auto& r = Req<create_subsystem_req>();
  EXPECT_EQ(r.subsystem_nqn(), kNqn);
  EXPECT_EQ(r.serial_number(), "Ceph123");
  EXPECT_EQ(r.max_namespaces(), 256u);
  EXPECT_TRUE(r.enable_ha());
  EXPECT_FALSE(r.no_group_append());
  EXPECT_EQ(out, "Adding subsystem " + kNqn + ".group1: Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"subsystem", "create", "-n", kNqn, "-m", "1024", "--no-group-append"}), 0);
  EXPECT_EQ(Req<create_subsystem_req>().max_namespaces(), 1024u);
  EXPECT_TRUE(Req<create_subsystem_req>().no_group_append());

  EXPECT_EQ(Run({"subsystem", "add", "-n", kNqn, "-m", "0"}), 2);
  EXPECT_NE(err.find("--max-namespaces value must be positive"), std::string::npos);
  EXPECT_EQ(Run({"subsystem", "add", "-n", "nqn.2014-08.org.nvmexpress.discovery"}), 2);
  EXPECT_NE(err.find("Can't add a discovery subsystem"), std::string::npos);
}

TEST_F(GwcliTest, FailedRpcExitsWithErrnoAndItsMessage) {
  subsys_status bad;
  bad.set_status(EEXIST);
  bad.set_error_message("Failure creating subsystem " + kNqn + ": Subsystem already exists");
  Reply("create_subsystem", bad);
  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn}), EEXIST);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, bad.error_message() + "\n");

  // json: the reply itself, still the errno as exit code
  EXPECT_EQ(RunStdio({"--format", "json", "subsystem", "add", "-n", kNqn}), EEXIST);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"], EEXIST);
  EXPECT_EQ(j["error_message"], bad.error_message());
  EXPECT_EQ(j["nqn"], "");
}

TEST_F(GwcliTest, UnreachableGatewayIsEinval) {
  fake.errors["list_subsystems"] = grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  EXPECT_EQ(RunStdio({"subsystem", "list"}), EINVAL);
  EXPECT_EQ(err, "Failure listing subsystems:\ngRPC error UNAVAILABLE: connection refused\n");
}

TEST_F(GwcliTest, SubsystemListTable) {
  EXPECT_EQ(RunStdio({"subsystem", "list"}), 0);
  EXPECT_EQ(out, "No subsystems\n");
  EXPECT_EQ(RunStdio({"subsystem", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "No subsystem " + kNqn + "\n");

  subsystems_info_cli info;
  auto* s = info.add_subsystems();
  s->set_nqn(kNqn);
  s->set_enable_ha(true);
  s->set_serial_number("Ceph00000000000001");
  s->set_subtype("NVMe");
  s->set_min_cntlid(1);
  s->set_max_cntlid(2040);
  s->set_namespace_count(3);
  s->set_max_namespaces(256);
  Reply("list_subsystems", info);
  EXPECT_EQ(RunStdio({"subsystem", "list"}), 0);
  EXPECT_EQ(out.rfind("Subsystems:\n╒", 0), 0u) << out;
  EXPECT_NE(out.find("│ NVMe    │ " + kNqn + " │ Ceph00000000000001 │ 1-2040         │         3 │        256 │ No "),
            std::string::npos)
      << out;
  // The reference's columns (newest cli.py): Allow Any Host, DHCHAP Key, Network Mask (one
  // mask a line), and Created Without Key only when a subsystem was.
  s->set_allow_any_host(true);
  s->add_network_mask("10.0.0.0/24");
  s->add_network_mask("fd00::/64");
  auto* s2 = info.add_subsystems();
  s2->set_nqn(kNqn + "x");
  s2->set_serial_number("Ceph2");
  s2->set_subtype("NVMe");
  s2->set_has_dhchap_key(true);
  fake.replies.clear();
  Reply("list_subsystems", info);
  EXPECT_EQ(RunStdio({"--format", "plain", "subsystem", "list"}), 0);
  EXPECT_EQ(out,
            "Subsystems:\n"
            "Subtype  NQN                          Serial              Controller IDs  Namespace         Max  Allow     "
            "DHCHAP  Network\n"
            "                                      Number                                  Count  Namespaces  Any Host  "
            "Key     Mask\n"
            "NVMe     " + kNqn + "   Ceph00000000000001  1-2040                  3         256  Yes       No      "
            "10.0.0.0/24\n" + std::string(115, ' ') + "fd00::/64\n"
            "NVMe     " + kNqn + "x  Ceph2               0-0                     0           0  No        Yes\n");
  s2->set_created_without_key(true);
  fake.replies.clear();
  Reply("list_subsystems", info);
  EXPECT_EQ(RunStdio({"--format", "plain", "subsystem", "list"}), 0);
  EXPECT_NE(out.find("Created"), std::string::npos) << out;
  EXPECT_NE(out.find("Without Key"), std::string::npos) << out;
  info.mutable_subsystems()->RemoveLast();
  fake.replies.clear();
  Reply("list_subsystems", info);
  EXPECT_EQ(RunStdio({"--format", "plain", "subsystem", "list", "-s", "Ceph00000000000001"}), 0);
  EXPECT_EQ(out.rfind("Subsystems with serial number Ceph00000000000001:\nSubtype", 0), 0u) << out;
  EXPECT_EQ(out.find("╒"), std::string::npos);
  // A reply for another subsystem than asked for
  EXPECT_EQ(RunStdio({"subsystem", "list", "-n", "nqn.2016-06.io.spdk:other"}), ENODEV);
}

// ---- listener ----

TEST_F(GwcliTest, ListenerAddDefaultsAndIpv6) {
  EXPECT_EQ(RunStdio({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "10.0.0.1"}), 0);
  const auto& r = Req<create_listener_req>();
  EXPECT_EQ(r.nqn(), kNqn);
  EXPECT_EQ(r.host_name(), "gw1");
  EXPECT_EQ(r.traddr(), "10.0.0.1");
  EXPECT_FALSE(r.has_trsvcid());  // unset, as the reference: the gateway's default, 4420
  EXPECT_TRUE(r.has_adrfam());
  EXPECT_EQ(r.adrfam(), ipv4);
  EXPECT_FALSE(r.secure());
  EXPECT_EQ(out, "Adding " + kNqn + " listener at 10.0.0.1: Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "::1", "-s", "5001", "-f",
                      "IPV6", "--secure"}),
            0);
  EXPECT_EQ(Req<create_listener_req>().traddr(), "[::1]");
  EXPECT_EQ(Req<create_listener_req>().adrfam(), ipv6);
  EXPECT_TRUE(Req<create_listener_req>().secure());
  EXPECT_EQ(out, "Adding " + kNqn + " listener at [::1]:5001: Successful\n");
  EXPECT_FALSE(Req<create_listener_req>().verify_host_name());
  EXPECT_FALSE(Req<create_listener_req>().force());

  // Another gateway's listener (EREMOTE): stored; a warning and exit 0, as the reference.
  req_status remote;
  remote.set_status(EREMOTE);
  remote.set_error_message("Gateway's host name must match current host (gw0), the listener was stored for gateway gw1");
  Reply("create_listener", remote);
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "10.0.0.1", "-y", "--force"}), 0);
  EXPECT_TRUE(Req<create_listener_req>().verify_host_name());
  EXPECT_TRUE(Req<create_listener_req>().force());
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "Adding " + kNqn + " listener at 10.0.0.1: listener will only be active when appropriate "
                 "gateway is up\n");
  Reply("create_listener", remote);
  EXPECT_EQ(RunStdio({"--format", "json", "listener", "add", "-n", kNqn, "-t", "gw1", "-a", "10.0.0.1"}), 0);
  EXPECT_NE(out.find("\"status\": 0"), std::string::npos) << out;

  EXPECT_EQ(Run({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "1.1.1.1", "-s", "-2000"}), 2);
  EXPECT_NE(err.find("trsvcid value must be positive"), std::string::npos);
  EXPECT_EQ(Run({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "1.1.1.1", "-s", "70000"}), 2);
  EXPECT_NE(err.find("trsvcid value must be smaller than 65536"), std::string::npos);
  EXPECT_EQ(Run({"listener", "add", "-n", kNqn, "-t", "gw1", "-a", "1.1.1.1", "-f", "JUNK"}), 2);
  // A host name that is no DNS name is refused before any call, as the reference's CLI.
  for (const char* bad : {"-gw1", "gw1-", "gw..1", "gw_1", "gw 1", "gw1.", ""}) {
    fake.calls.clear();
    EXPECT_EQ(Run({"listener", "add", "-n", kNqn, "-t", bad, "-a", "1.1.1.1"}), 2) << bad;
    EXPECT_NE(err.find(std::string("invalid host name ") + bad), std::string::npos) << err;
    EXPECT_TRUE(fake.calls.empty()) << bad;
  }
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"listener", "add", "-n", kNqn, "-t", "ceph-node-1.example.com", "-a", "1.1.1.1"}), 0);
  EXPECT_EQ(Req<create_listener_req>().host_name(), "ceph-node-1.example.com");
}

TEST_F(GwcliTest, ListenerDelAndList) {
  EXPECT_EQ(Run({"listener", "del", "-n", kNqn, "-t", "*", "-a", "10.0.0.1", "-s", "4420"}), 2);
  EXPECT_NE(err.find("must use --force when setting host name to *"), std::string::npos);
  EXPECT_EQ(RunStdio({"listener", "del", "-n", kNqn, "-t", "*", "-a", "10.0.0.1", "-s", "4420",
                      "--force"}),
            0);
  EXPECT_TRUE(Req<delete_listener_req>().force());
  EXPECT_EQ(out, "Deleting listener 10.0.0.1:4420 from " + kNqn + " for all hosts: Successful\n");

  listeners_info li;
  auto* l = li.add_listeners();
  l->set_host_name("gw1");
  l->set_trtype("TCP");
  l->set_adrfam(ipv4);
  l->set_traddr("10.0.0.1");
  l->set_trsvcid(4420);
  Reply("list_listeners", li);
  EXPECT_EQ(RunStdio({"--format", "plain", "listener", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "Listeners for " + kNqn +
                     ":\n"
                     "Host  Transport  Address Family  Address        Secure  Active  Manual\n"
                     "gw1   TCP        IPv4            10.0.0.1:4420  No      No      No\n");
  l->set_active(true);
  l->set_manual(true);
  auto* l6 = li.add_listeners();
  l6->set_host_name("gw2");
  l6->set_trtype("TCP");
  l6->set_adrfam(ipv6);
  l6->set_traddr("fd00::5");
  l6->set_trsvcid(4420);
  l6->set_secure(true);
  fake.replies.clear();
  Reply("list_listeners", li);
  EXPECT_EQ(RunStdio({"--format", "plain", "listener", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "Listeners for " + kNqn +
                     ":\n"
                     "Host  Transport  Address Family  Address         Secure  Active  Manual\n"
                     "gw1   TCP        IPv4            10.0.0.1:4420   No      Yes     Yes\n"
                     "gw2   TCP        IPv6            [fd00::5]:4420  Yes     No      No\n");
}

// ---- host / connection ----

TEST_F(GwcliTest, HostAddSeveralHostsFirstErrorIsTheExitCode) {
  req_status ok, exists;
  exists.set_status(EEXIST);
  exists.set_error_message("Failure adding host h2: Host is already added");
  Reply("add_host", ok);
  Reply("add_host", exists);
  EXPECT_EQ(RunStdio({"host", "add", "-n", kNqn, "-t", "*", "nqn.2016-06.io.spdk:h2"}), EEXIST);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(Req<add_host_req>(0).host_nqn(), "*");
  EXPECT_EQ(Req<add_host_req>(1).host_nqn(), "nqn.2016-06.io.spdk:h2");
  EXPECT_FALSE(Req<add_host_req>(0).has_psk());
  EXPECT_EQ(out, "Allowing open host access to " + kNqn + ": Successful\n");
  EXPECT_EQ(err, exists.error_message() + "\n");

  EXPECT_EQ(Run({"host", "add", "-n", kNqn, "-t", "a", "b", "--psk", "k"}), 2);
  EXPECT_NE(err.find("Can't have more than one host NQN when PSK keys are used"), std::string::npos);
  EXPECT_EQ(Run({"host", "add", "-n", kNqn, "-t", "*", "--dhchap-key", "k"}), 2);
  EXPECT_NE(err.find("DH-HMAC-CHAP key is only allowed for specific hosts"), std::string::npos);
  EXPECT_EQ(Run({"host", "add", "-n", kNqn, "-t", "a", "-c", "k"}), 2);

  fake.calls.clear();
  fake.replies.clear();
  EXPECT_EQ(RunStdio({"host", "add", "-n", kNqn, "-t", "h1", "-k", "DHHC-1:00:x", "-c", "DHHC-1:00:y"}),
            0);
  EXPECT_EQ(Req<add_host_req>().dhchap_key(), "DHHC-1:00:x");
  EXPECT_EQ(Req<add_host_req>().dhchap_ctrlr_key(), "DHHC-1:00:y");
}

TEST_F(GwcliTest, HostChangeAndDeleteKey) {
  EXPECT_EQ(RunStdio({"host", "change_key", "-n", kNqn, "-t", "h1", "--dhchap-key", "DHHC-1:00:x", "-c",
                      "DHHC-1:00:y"}),
            0);
  EXPECT_EQ(Req<change_host_key_req>().host_nqn(), "h1");
  EXPECT_EQ(Req<change_host_key_req>().dhchap_key(), "DHHC-1:00:x");
  EXPECT_EQ(Req<change_host_key_req>().dhchap_ctrlr_key(), "DHHC-1:00:y");
  EXPECT_EQ(out, "Changing DH-HMAC-CHAP key for host h1 on subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"host", "del_key", "-n", kNqn, "-t", "h1"}), 0);
  EXPECT_TRUE(Req<change_host_key_req>().has_dhchap_key());
  EXPECT_EQ(Req<change_host_key_req>().dhchap_key(), "");
  EXPECT_FALSE(Req<change_host_key_req>().has_dhchap_ctrlr_key());
  EXPECT_EQ(out, "Deleting DH-HMAC-CHAP key for host h1 on subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"host", "change_controller_key", "-n", kNqn, "-t", "h1", "--dhchap-controller-key",
                      "DHHC-1:00:z"}),
            0);
  EXPECT_FALSE(Req<change_host_key_req>().has_dhchap_key()) << "the host key stays";
  EXPECT_EQ(Req<change_host_key_req>().dhchap_ctrlr_key(), "DHHC-1:00:z");
  EXPECT_EQ(out, "Changing DH-HMAC-CHAP key for controller of host h1 on subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"host", "del_controller_key", "-n", kNqn, "-t", "h1"}), 0);
  EXPECT_FALSE(Req<change_host_key_req>().has_dhchap_key());
  EXPECT_TRUE(Req<change_host_key_req>().has_dhchap_ctrlr_key());
  EXPECT_EQ(Req<change_host_key_req>().dhchap_ctrlr_key(), "");
  EXPECT_EQ(out, "Deleting DH-HMAC-CHAP key for controller of host h1 on subsystem " + kNqn + ": Successful\n");
  EXPECT_EQ(Run({"host", "change_controller_key", "-n", kNqn, "-t", "h1"}), 2);  // the key is required
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"subsystem", "change_key", "-n", kNqn, "--dhchap-key", "DHHC-1:00:s"}), 0);
  EXPECT_EQ(Req<change_subsystem_key_req>().dhchap_key(), "DHHC-1:00:s");
  EXPECT_EQ(out, "Changing DH-HMAC-CHAP key for subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"subsystem", "del_key", "-n", kNqn}), 0);
  EXPECT_TRUE(Req<change_subsystem_key_req>().has_dhchap_key());
  EXPECT_EQ(Req<change_subsystem_key_req>().dhchap_key(), "");
  EXPECT_EQ(out, "Deleting DH-HMAC-CHAP key for subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn, "--dhchap-key", "DHHC-1:00:s"}), 0);
  EXPECT_EQ(Req<create_subsystem_req>().dhchap_key(), "DHHC-1:00:s");
  EXPECT_EQ(Run({"host", "change_key", "-n", kNqn, "-t", "h1", "--dhchap-key", ""}), 2);
  EXPECT_NE(err.find("DH-HMAC-CHAP key can't be empty"), std::string::npos);
  EXPECT_EQ(Run({"host", "change_key", "-n", kNqn, "-t", "h1"}), 2);  // --dhchap-key required
  fake.calls.clear();  // '*' is no host: a usage error, as the reference's
  EXPECT_EQ(Run({"host", "change_key", "-n", kNqn, "-t", "*", "--dhchap-key", "DHHC-1:00:x"}), 2);
  EXPECT_NE(err.find("Can't change DH-HMAC-CHAP key for host NQN '*', please use a real NQN"), std::string::npos)
      << err;
  EXPECT_EQ(Run({"host", "del_key", "-n", kNqn, "-t", "*"}), 2);
  EXPECT_NE(err.find("Can't delete DH-HMAC-CHAP key for host NQN '*', please use a real NQN"), std::string::npos)
      << err;
  EXPECT_TRUE(fake.calls.empty());
  req_status missing;
  missing.set_status(ENOENT);
  missing.set_error_message("Failure changing DH-HMAC-CHAP key for host h2 on subsystem " + kNqn +
                            ": Can't find host on subsystem");
  Reply("change_host_key", missing);
  EXPECT_EQ(RunStdio({"host", "change_key", "-n", kNqn, "-t", "h2", "-k", "DHHC-1:00:x"}), ENOENT);
  EXPECT_EQ(err, missing.error_message() + "\n");
}

TEST_F(GwcliTest, HostDelAndList) {
  EXPECT_EQ(RunStdio({"host", "del", "-n", kNqn, "-t", "h1", "*"}), 0);
  EXPECT_EQ(out, "Removing host h1 access from " + kNqn + ": Successful\nDisabling open host access to " +
                     kNqn + ": Successful\n");
  // EBUSY (the host is still connected) is a warning, as the reference's CLI.
  req_status busy;
  busy.set_status(EBUSY);
  busy.set_error_message("Host h1 is still connected");
  Reply("remove_host", busy);
  EXPECT_EQ(RunStdio({"host", "del", "-n", kNqn, "-t", "h1"}), 0);
  EXPECT_EQ(out, "Removing host h1 access from " + kNqn + ": Successful\n");
  EXPECT_EQ(err, "Host h1 is still connected\n");
  EXPECT_EQ(RunStdio({"host", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "No hosts are allowed to access " + kNqn + "\n");
  hosts_info hi;
  hi.set_allow_any_host(true);
  hi.add_hosts()->set_nqn("nqn.2016-06.io.spdk:host1");
  Reply("list_hosts", hi);
  EXPECT_EQ(RunStdio({"host", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("Any host"), std::string::npos);
  EXPECT_NE(out.find("nqn.2016-06.io.spdk:host1"), std::string::npos);
  EXPECT_EQ(RunStdio({"--format", "plain", "host", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "Hosts allowed to access " + kNqn +
                     ":\n"
                     "        Host NQN           Uses PSK  Uses DHCHAP  DHCHAP Controller\n"
                     "        Any host             n/a         n/a             n/a\n"
                     "nqn.2016-06.io.spdk:host1     No         No            No Key\n");
  // The Keepalive Timeout column only when a host was disconnected by keep-alive.
  hi.mutable_hosts(0)->set_disconnected_due_to_keepalive_timeout(true);
  fake.replies.clear();
  Reply("list_hosts", hi);
  EXPECT_EQ(RunStdio({"--format", "plain", "host", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("DHCHAP Controller  Keepalive"), std::string::npos) << out;
  EXPECT_NE(out.find("Timeout"), std::string::npos) << out;
}

TEST_F(GwcliTest, ConnectionList) {
  connections_info ci;
  auto* k = ci.add_connections();
  k->set_nqn("nqn.2016-06.io.spdk:host1");
  k->set_traddr("10.0.0.9");
  k->set_trsvcid(33000);
  k->set_connected(true);
  k->set_qpairs_count(3);
  k->set_controller_id(7);
  ci.add_connections()->set_nqn("nqn.2016-06.io.spdk:host2");
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("10.0.0.9:33000"), std::string::npos) << out;
  EXPECT_NE(out.find("<n/a>"), std::string::npos) << out;
  // The reference's columns (newest cli.py): ... Uses DHCHAP, DHCHAP Controller, and
  // Keepalive Timeout only when a connection ended by keep-alive; IPv6 in brackets.
  EXPECT_NE(out.find("DHCHAP\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Controller\n"), std::string::npos) << out;
  EXPECT_NE(out.find("No Key"), std::string::npos) << out;
  EXPECT_EQ(out.find("Keepalive"), std::string::npos) << out;
  k->set_adrfam(ipv6);
  k->set_traddr("fd00::9");
  k->set_dhchap_controller_origin(::host_specific);
  ci.mutable_connections(1)->set_disconnected_due_to_keepalive_timeout(true);
  fake.replies.clear();
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("[fd00::9]:33000"), std::string::npos) << out;
  EXPECT_NE(out.find("Host Specific"), std::string::npos) << out;
  EXPECT_NE(out.find("Keepalive"), std::string::npos) << out;
}

// Without -n, the reference's "*": every subsystem's connections with a Subsystem column.
TEST_F(GwcliTest, ConnectionListAllSubsystems) {
  connections_info ci;
  ci.set_subsystem_nqn("*");
  auto* k = ci.add_connections();
  k->set_nqn("nqn.2016-06.io.spdk:host1");
  k->set_subsystem("nqn.2016-06.io.spdk:a");
  k->set_traddr("10.0.0.9");
  k->set_trsvcid(33000);
  k->set_connected(true);
  k->set_qpairs_count(3);
  k->set_controller_id(7);
  auto* d = ci.add_connections();
  d->set_nqn("nqn.2016-06.io.spdk:host2");
  d->set_subsystem("nqn.2016-06.io.spdk:b");
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "list"}), 0);
  EXPECT_EQ(Req<list_connections_req>().subsystem(), "*");
  EXPECT_TRUE(Req<list_connections_req>().has_clear_alerts());
  EXPECT_FALSE(Req<list_connections_req>().clear_alerts());
  EXPECT_EQ(out.rfind("Connections for all subsystems:\n", 0), 0u) << out;
  const std::string head = out.substr(0, out.find("nqn.2016-06.io.spdk:a"));
  EXPECT_LT(head.find("Subsystem"), head.find("Host NQN")) << out;
  EXPECT_NE(out.find("nqn.2016-06.io.spdk:a  nqn.2016-06.io.spdk:host1"), std::string::npos) << out;
  EXPECT_NE(out.find("nqn.2016-06.io.spdk:b  nqn.2016-06.io.spdk:host2"), std::string::npos) << out;
  // One subsystem: no Subsystem column even though the connections name it.
  ci.set_subsystem_nqn(kNqn);
  fake.replies.clear();
  fake.calls.clear();
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out.rfind("Connections for " + kNqn + ":\n", 0), 0u) << out;
  EXPECT_EQ(out.find("Subsystem"), std::string::npos) << out;
  // Empty: "No connections for any subsystem".
  connections_info none;
  none.set_subsystem_nqn("*");
  fake.replies.clear();
  Reply("list_connections", none);
  EXPECT_EQ(RunStdio({"connection", "list"}), 0);
  EXPECT_EQ(out, "No connections for any subsystem\n");
  // json: the reply itself.
  ci.set_subsystem_nqn("*");
  fake.replies.clear();
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "json", "connection", "list"}), 0);
  EXPECT_NE(out.find("\"subsystem_nqn\": \"*\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"subsystem\": \"nqn.2016-06.io.spdk:b\""), std::string::npos) << out;
  // host list sends clear_alerts false too, as the reference.
  fake.calls.clear();
  Reply("list_hosts", hosts_info{});
  EXPECT_EQ(RunStdio({"host", "list", "-n", kNqn}), 0);
  EXPECT_TRUE(Req<list_hosts_req>().has_clear_alerts());
  EXPECT_FALSE(Req<list_hosts_req>().clear_alerts());
}

// The gRPC transport calls every RPC of the Gateway service (a command whose RPC is
// missing from its table would fail against a real gateway with UNIMPLEMENTED).
TEST(GwcliTransport, KnowsEveryGatewayRpc) {
  const auto* svc = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("Gateway");
  ASSERT_NE(svc, nullptr);
  ASSERT_GE(svc->method_count(), 47);
  for (int i = 0; i < svc->method_count(); i++)
    EXPECT_TRUE(GatewayRpcKnown(svc->method(i)->name())) << svc->method(i)->name();
}

// ---- namespace ----

// --rados-namespace, --rbd-data-pool (with --rbd-create-image) and --read-only reach the
// request; misuses are usage errors.
TEST_F(GwcliTest, NsAddRadosNamespaceDataPoolReadOnly) {
  nsid_status ok;
  ok.set_nsid(1);
  Reply("namespace_add", ok);
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "--rados-namespace", "tenant1",
                      "--rbd-create-image", "--size", "16M", "--rbd-data-pool", "ecdata", "--read-only"}),
            0);
  const auto& r = Req<namespace_add_req>();
  EXPECT_EQ(r.rados_namespace_name(), "tenant1");
  EXPECT_EQ(r.rbd_data_pool_name(), "ecdata");
  EXPECT_TRUE(r.read_only());
  EXPECT_NE(RunStdio({"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "--rbd-data-pool", "ecdata"}), 0);
  EXPECT_NE(err.find("--rbd-data-pool is used only with --rbd-create-image"), std::string::npos) << err;
  EXPECT_NE(RunStdio({"ns", "add", "-n", kNqn, "--memory-size", "1M", "--rados-namespace", "x"}), 0);
  EXPECT_NE(err.find("--rados-namespace and --rbd-data-pool are for RBD namespaces"), std::string::npos) << err;
}

TEST_F(GwcliTest, NsAddRbd) {
  nsid_status ok;
  ok.set_nsid(1);
  Reply("namespace_add", ok);
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "--rbd-create-image",
                      "--size", "16", "-s", "4096", "-l", "2", "-u",
                      "948878ee-c3b2-4d58-a29b-2cff713fc02d", "--no-auto-visible"}),
            0);
  const auto& r = Req<namespace_add_req>();
  EXPECT_EQ(r.rbd_pool_name(), "rbd");
  EXPECT_EQ(r.rbd_image_name(), "img");
  EXPECT_EQ(r.subsystem_nqn(), kNqn);
  EXPECT_FALSE(r.has_nsid());
  EXPECT_EQ(r.block_size(), 4096u);
  EXPECT_EQ(r.uuid(), "948878ee-c3b2-4d58-a29b-2cff713fc02d");
  EXPECT_EQ(r.anagrpid(), 2);
  EXPECT_TRUE(r.create_image());
  EXPECT_EQ(r.size(), 16ull << 20);  // a bare number is MiB
  EXPECT_TRUE(r.no_auto_visible());
  EXPECT_FALSE(r.has_backend());
  EXPECT_EQ(out, "Adding namespace 1 to " + kNqn + ": Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"namespace", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "--nsid", "5"}), 0);
  EXPECT_EQ(Req<namespace_add_req>().nsid(), 5u);
  EXPECT_EQ(Req<namespace_add_req>().block_size(), 512u);  // the reference default
  EXPECT_EQ(Req<namespace_add_req>().size(), 0u);
}

TEST_F(GwcliTest, NsAddRejectsLikeTheReference) {
  const std::vector<std::string> base = {"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--size", "16MB"},
       "--size argument is not allowed for add command when RBD image creation is disabled"},
      {{"-c"}, "--size argument is mandatory for add command when RBD image creation is enabled"},
      {{"-c", "--size", "0"}, "size value must be positive"},
      {{"-c", "--size=-16MB"}, "size value must be positive"},
      {{"-c", "--size", "1026KB"}, "size value must be aligned to MiBs"},
      {{"-c", "--size", "1x6MB"}, "must be numeric"},
      {{"-s", "0"}, "block-size value must be positive"},
      {{"-l", "-1"}, "load-balancing-group value must be positive"},
      {{"--nsid", "0"}, "nsid value must be positive"},
      {{"--memory-size", "1G"}, "mutually exclusive"},
  };
  for (const auto& [extra, message] : cases) {
    EXPECT_EQ(Run(with(extra)), 2) << message;
    EXPECT_NE(err.find(message), std::string::npos) << err;
  }
  EXPECT_EQ(Run({"ns", "add", "-n", kNqn, "-p", "rbd"}), 2);
  EXPECT_NE(err.find("--rbd-image"), std::string::npos);
  EXPECT_TRUE(fake.calls.empty());
}

TEST_F(GwcliTest, NsAddDevelopmentBackends) {
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "--memory-size", "64M", "-s", "4096"}), 0);
  const auto& m = Req<namespace_add_req>();
  EXPECT_EQ(m.backend(), "memory");
  EXPECT_EQ(m.memory_size(), 64ull << 20);
  EXPECT_EQ(m.rbd_pool_name(), "");
  EXPECT_FALSE(m.has_file_path());

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "--file", "/var/tmp/disk.img", "--size", "1G"}), 0);
  const auto& f = Req<namespace_add_req>();
  EXPECT_EQ(f.backend(), "file");
  EXPECT_EQ(f.file_path(), "/var/tmp/disk.img");
  EXPECT_EQ(f.file_size(), 1ull << 30);
  EXPECT_FALSE(f.has_memory_size());

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "--file", "/dev/sdb"}), 0);
  EXPECT_FALSE(Req<namespace_add_req>().has_file_size());

  EXPECT_EQ(Run({"ns", "add", "-n", kNqn, "--memory-size", "0"}), 2);
  EXPECT_EQ(Run({"ns", "add", "-n", kNqn, "--memory-size", "1G", "--file", "/x"}), 2);
  EXPECT_EQ(Run({"ns", "add", "-n", kNqn, "--file", "/x", "-c"}), 2);
}

TEST_F(GwcliTest, NsResizeDelChangeLbQos) {
  EXPECT_EQ(RunStdio({"ns", "resize", "-n", kNqn, "--nsid", "1", "--size", "2G"}), 0);
  EXPECT_EQ(Req<namespace_resize_req>().new_size(), 2048u);  // MiB on the wire
  EXPECT_EQ(out, "Resizing namespace 1 in " + kNqn + " to 2 GiB: Successful\n");
  EXPECT_EQ(Run({"ns", "resize", "-n", kNqn, "--nsid", "1", "--size", "1500K"}), 2);
  EXPECT_NE(err.find("size value must be aligned to MiBs"), std::string::npos);

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "refresh_size", "-n", kNqn, "--nsid", "1"}), 0);
  EXPECT_EQ(Req<namespace_resize_req>().new_size(), 0u);  // 0: refresh to the image's size
  EXPECT_EQ(out, "Refreshing size for namespace 1 in " + kNqn + ": Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "del", "-n", kNqn, "--nsid", "3"}), 0);
  EXPECT_EQ(Req<namespace_delete_req>().nsid(), 3u);
  EXPECT_EQ(out, "Deleting namespace 3 from " + kNqn + ": Successful\n");
  EXPECT_EQ(Run({"ns", "del", "-n", kNqn, "--nsid", "-1"}), 2);
  EXPECT_FALSE(Req<namespace_delete_req>().i_am_sure());
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "del", "-n", kNqn, "--nsid", "3", "--i-am-sure"}), 0);
  EXPECT_TRUE(Req<namespace_delete_req>().i_am_sure());
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "-c", "--size", "16M",
                      "--rbd-trash-image-on-delete"}),
            0);
  EXPECT_TRUE(Req<namespace_add_req>().trash_image());
  EXPECT_EQ(Run({"ns", "add", "-n", kNqn, "-p", "rbd", "-i", "img", "--rbd-trash-image-on-delete"}), 2);
  EXPECT_NE(err.find("Can't trash associated RBD image on delete if it wasn't created automatically by the gateway"),
            std::string::npos)
      << err;
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"subsystem", "del", "-n", kNqn, "--force", "--i-am-sure"}), 0);
  EXPECT_TRUE(Req<delete_subsystem_req>().i_am_sure());

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "change_load_balancing_group", "-n", kNqn, "--nsid", "1", "-l", "2"}), 0);
  EXPECT_EQ(Req<namespace_change_load_balancing_group_req>().anagrpid(), 2);
  EXPECT_EQ(out, "Changing load balancing group of namespace 1 in " + kNqn + " to 2: Successful\n");
  EXPECT_EQ(Run({"ns", "change_load_balancing_group", "-n", kNqn, "--nsid", "1", "-l", "0"}), 2);

  fake.calls.clear();
  EXPECT_EQ(Run({"ns", "set_qos", "-n", kNqn, "--nsid", "1"}), 2);
  EXPECT_NE(err.find("At least one QOS limit should be set"), std::string::npos);
  EXPECT_EQ(RunStdio({"ns", "set_qos", "-n", kNqn, "--nsid", "1", "--rw-ios-per-second", "1500",
                      "--r-megabytes-per-second", "0"}),
            0);
  const auto& q = Req<namespace_set_qos_req>();
  EXPECT_EQ(q.rw_ios_per_second(), 1500u);
  EXPECT_TRUE(q.has_r_mbytes_per_second());
  EXPECT_EQ(q.r_mbytes_per_second(), 0u);
  EXPECT_FALSE(q.has_rw_mbytes_per_second());
  EXPECT_FALSE(q.has_w_mbytes_per_second());
  EXPECT_EQ(err, "IOs per second 1500 will be rounded up to 2000\n");
  EXPECT_EQ(out, "Setting QOS limits of namespace 1 in " + kNqn + ": Successful\n");
}

TEST_F(GwcliTest, NsHosts) {
  EXPECT_EQ(RunStdio({"ns", "add_host", "-n", kNqn, "--nsid", "1", "-t", "h1", "h2"}), 0);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(Req<namespace_add_host_req>(1).host_nqn(), "h2");
  EXPECT_EQ(out, "Adding host h1 to namespace 1 on " + kNqn + ": Successful\nAdding host h2 to namespace 1 on " +
                     kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "del_host", "-n", kNqn, "--nsid", "1", "-t", "h1"}), 0);
  EXPECT_EQ(Req<namespace_delete_host_req>().host_nqn(), "h1");
  EXPECT_EQ(out, "Deleting host h1 from namespace 1 on " + kNqn + ": Successful\n");
}

namespaces_info CannedNamespaces() {
  namespaces_info info;
  info.set_subsystem_nqn(kNqn);
  auto* a = info.add_namespaces();
  a->set_nsid(1);
  a->set_bdev_name("bdev_948878ee-c3b2-4d58-a29b-2cff713fc02d");
  a->set_rbd_pool_name("rbd");
  a->set_rbd_image_name("img1");
  a->set_rbd_image_size(16ull << 20);
  a->set_block_size(512);
  a->set_uuid("948878ee-c3b2-4d58-a29b-2cff713fc02d");
  a->set_load_balancing_group(1);
  a->set_rw_ios_per_second(2000);
  a->set_auto_visible(true);
  auto* b = info.add_namespaces();
  b->set_nsid(2);
  b->set_bdev_name("bdev_2");
  b->set_rbd_image_size(1ull << 30);
  b->set_block_size(4096);
  b->set_uuid("11111111-2222-3333-4444-555555555555");
  b->set_auto_visible(false);
  b->add_hosts("nqn.2016-06.io.spdk:host1");
  b->set_backend("memory");
  return info;
}

TEST_F(GwcliTest, NsListText) {
  EXPECT_EQ(RunStdio({"ns", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out, "No namespaces in subsystem " + kNqn + "\n");
  EXPECT_FALSE(Req<list_namespaces_req>().has_nsid());

  Reply("list_namespaces", CannedNamespaces());
  EXPECT_EQ(RunStdio({"ns", "list", "-n", kNqn}), 0);
  EXPECT_EQ(out.rfind("Namespaces in subsystem " + kNqn + ":\n╒", 0), 0u) << out;
  for (const char* want : {"rbd/img1", "16 MiB", "512 Bytes", "4 KiB", "1 GiB", "All Hosts",
                           "unlimited", "2000", "<memory>", "<n/a>", "Restrictive",
                           "948878ee-c3b2-4d58-", "a29b-2cff713fc02d", "Read-Write", "<default>", "None"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  // The reference's columns (newest cli.py), header by header.
  EXPECT_EQ(RunStdio({"--format", "plain", "ns", "list", "-n", kNqn}), 0);
  const std::string head = out.substr(0, out.find("\n" + kNqn));
  for (const char* h : {"NQN", "NSID", "Bdev", "RBD", "Mode", "Image", "Block", "UUID", "Load", "Balancing",
                        "Group", "Location", "Visibility", "Encryption", "IOs per", "R/W, R, W MBs", "per second"})
    EXPECT_NE(head.find(h), std::string::npos) << h << "\n" << out;
  EXPECT_EQ(out.find("Cluster"), std::string::npos) << out;
  EXPECT_EQ(out.find("Selective"), std::string::npos) << out;
  EXPECT_EQ(out.find("nqn.2016-06.io.spdk:host1"), std::string::npos) << out;  // hosts: list_hosts
  auto more = CannedNamespaces();
  auto* c = more.add_namespaces();
  c->set_nsid(3);
  c->set_uuid("33333333-2222-3333-4444-555555555555");
  c->set_auto_visible(false);
  c->set_read_only(true);
  c->set_trash_image(true);
  c->set_disable_auto_resize(true);
  c->set_location("site-b");
  c->set_load_balancing_group(2);
  c->set_configured_load_balancing_group(1);
  c->set_r_mbytes_per_second(7);
  fake.replies.clear();
  Reply("list_namespaces", more);
  EXPECT_EQ(RunStdio({"--verbose", "--format", "plain", "ns", "list", "-n", kNqn}), 0);
  for (const char* want : {"Read-Only", "Trash on delete", "Disable auto resize", "site-b", "Restrictive", "2 (1)",
                           "1 (<n/a>)", "(Configured)", "Cluster"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  EXPECT_EQ(out.find("\x1b["), std::string::npos) << out;  // no escapes with --output stdio
  // To the log (the default output), a configured group other than the served one is in
  // reverse video, as the reference prints it; the escapes take no width in the table.
  fake.replies.clear();
  Reply("list_namespaces", more);
  EXPECT_EQ(Run({"--verbose", "--format", "plain", "ns", "list", "-n", kNqn}), 0);
  EXPECT_NE(err.find("2 (\x1b[7m1\x1b[27m)"), std::string::npos) << err;
  EXPECT_EQ(err.find("\x1b[7m<n/a>"), std::string::npos) << err;
  // "*": every subsystem's namespaces, each with its own subsystem in the NQN column.
  namespaces_info every;
  every.set_subsystem_nqn("*");
  auto* e1 = every.add_namespaces();
  e1->set_nsid(1);
  e1->set_ns_subsystem_nqn("nqn.2016-06.io.spdk:a");
  auto* e2 = every.add_namespaces();
  e2->set_nsid(1);
  e2->set_ns_subsystem_nqn("nqn.2016-06.io.spdk:b");
  fake.replies.clear();
  Reply("list_namespaces", every);
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"--format", "plain", "ns", "list", "-n", "*"}), 0);
  EXPECT_EQ(Req<list_namespaces_req>().subsystem(), "*");
  EXPECT_EQ(out.rfind("Namespaces in all subsystems:\n", 0), 0u) << out;
  EXPECT_NE(out.find("\nnqn.2016-06.io.spdk:a"), std::string::npos) << out;
  EXPECT_NE(out.find("\nnqn.2016-06.io.spdk:b"), std::string::npos) << out;
  fake.replies.clear();
  Reply("list_namespaces", namespaces_info());
  EXPECT_EQ(RunStdio({"ns", "list", "-n", "*"}), 0);
  EXPECT_EQ(out, "No namespaces in any subsystem\n");
  // Without -n: "*", as the reference.
  fake.replies.clear();
  fake.calls.clear();
  Reply("list_namespaces", namespaces_info());
  EXPECT_EQ(RunStdio({"ns", "list"}), 0);
  EXPECT_EQ(Req<list_namespaces_req>().subsystem(), "*");
  EXPECT_EQ(out, "No namespaces in any subsystem\n");

  fake.replies.clear();
  Reply("list_namespaces", CannedNamespaces());
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "list", "-n", kNqn, "--nsid", "1"}), ENODEV);  // reply has 2 namespaces
  EXPECT_EQ(Req<list_namespaces_req>().nsid(), 1u);
  EXPECT_NE(err.find("Got more than one namespace for NSID 1"), std::string::npos);
}

// `ns list_hosts`: NQN, NSID and the hosts (All Hosts, one a line, or None);
// `ns list_locations`: the count per subsystem, load-balancing group and location.
TEST_F(GwcliTest, NsListHostsAndLocations) {
  namespaces_info r;
  r.set_subsystem_nqn("*");
  auto add = [&](const std::string& nqn, uint32_t nsid, uint32_t lb, const std::string& loc) {
    auto* n = r.add_namespaces();
    n->set_ns_subsystem_nqn(nqn);
    n->set_nsid(nsid);
    n->set_load_balancing_group(lb);
    if (!loc.empty()) n->set_location(loc);
    return n;
  };
  add("nqn.2016-06.io.spdk:a", 1, 1, "")->set_auto_visible(true);
  auto* b = add("nqn.2016-06.io.spdk:a", 2, 1, "site-b");
  b->add_hosts("nqn.2016-06.io.spdk:host1");
  b->add_hosts("nqn.2016-06.io.spdk:host2");
  add("nqn.2016-06.io.spdk:b", 1, 2, "site-b");
  add("nqn.2016-06.io.spdk:b", 2, 2, "site-b");
  Reply("list_namespaces", r);
  EXPECT_EQ(RunStdio({"--format", "plain", "ns", "list_hosts"}), 0);
  EXPECT_EQ(Req<list_namespaces_req>().subsystem(), "*");
  EXPECT_EQ(out,
            "Namespaces in all subsystems:\n"
            "NQN                    NSID  Hosts\n"
            "nqn.2016-06.io.spdk:a     1  All Hosts\n"
            "nqn.2016-06.io.spdk:a     2  nqn.2016-06.io.spdk:host1\n"
            "                             nqn.2016-06.io.spdk:host2\n"
            "\n"
            "nqn.2016-06.io.spdk:b     1  None\n"
            "nqn.2016-06.io.spdk:b     2  None\n")
      << out;
  fake.replies.clear();
  Reply("list_namespaces", r);
  EXPECT_EQ(RunStdio({"--format", "plain", "ns", "list_locations"}), 0);
  EXPECT_EQ(out,
            "Namespaces in all subsystems:\n"
            "Subsystem                   Load  Location   Count\n"
            "                       Balancing\n"
            "                           Group\n"
            "nqn.2016-06.io.spdk:a          1  <default>      1\n"
            "                               1  site-b         1\n"
            "nqn.2016-06.io.spdk:b          2  site-b         2\n")
      << out;
  fake.replies.clear();
  Reply("list_namespaces", namespaces_info());
  EXPECT_EQ(RunStdio({"ns", "list_locations", "-n", kNqn}), 0);
  EXPECT_EQ(out, "No namespaces in subsystem " + kNqn + "\n");
  fake.calls.clear();
  Reply("list_namespaces", namespaces_info());
  EXPECT_EQ(RunStdio({"ns", "list_hosts", "-n", kNqn, "--nsid", "3"}), 0);
  EXPECT_EQ(Req<list_namespaces_req>().nsid(), 3u);
  EXPECT_EQ(out, "No namespace 3 in subsystem " + kNqn + "\n");
}

TEST_F(GwcliTest, NsListJsonAndYaml) {
  Reply("list_namespaces", CannedNamespaces());
  EXPECT_EQ(RunStdio({"--format", "json", "ns", "list", "-n", kNqn}), 0);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["subsystem_nqn"], kNqn);
  ASSERT_EQ(j["namespaces"].size(), 2u);
  EXPECT_EQ(j["namespaces"][0]["uuid"], "948878ee-c3b2-4d58-a29b-2cff713fc02d");
  EXPECT_EQ(j["namespaces"][0]["rbd_image_size"], "16777216");
  EXPECT_EQ(j["namespaces"][0]["w_mbytes_per_second"], "0");
  EXPECT_FALSE(j["namespaces"][0].contains("backend"));
  EXPECT_EQ(j["namespaces"][1]["backend"], "memory");

  EXPECT_EQ(RunStdio({"--format", "yaml", "ns", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("subsystem_nqn: " + kNqn), std::string::npos) << out;
  EXPECT_NE(out.find("uuid: 948878ee-c3b2-4d58-a29b-2cff713fc02d"), std::string::npos) << out;
}

TEST_F(GwcliTest, NsIoStats) {
  namespace_io_stats_info st;
  st.set_subsystem_nqn(kNqn);
  st.set_nsid(1);
  st.set_bdev_name("bdev_1");
  st.set_bytes_read(4096);
  auto* e = st.add_io_error();
  e->set_name("timeout");
  e->set_value(3);
  Reply("namespace_get_io_stats", st);
  EXPECT_EQ(RunStdio({"--format", "plain", "ns", "get_io_stats", "-n", kNqn, "--nsid", "1"}), 0);
  EXPECT_EQ(out.rfind("IO statistics for namespace 1 in " + kNqn + ", bdev bdev_1:\n", 0), 0u);
  EXPECT_NE(out.find("Bytes Read"), std::string::npos);
  EXPECT_EQ(out.find("IO Error - timeout"), std::string::npos);  // only with --verbose
  EXPECT_EQ(RunStdio({"--verbose", "--format", "plain", "ns", "get_io_stats", "-n", kNqn, "--nsid",
                      "1"}),
            0);
  EXPECT_NE(out.find("IO Error - timeout"), std::string::npos);
  EXPECT_EQ(RunStdio({"ns", "get_io_stats", "-n", kNqn, "--nsid", "2"}), ENODEV);
  EXPECT_NE(err.find("Returned namespace NSID 1 differs from requested one 2"), std::string::npos);
}

TEST_F(GwcliTest, GetSubsystems) {
  subsystems_info si;
  si.add_subsystems()->set_nqn(kNqn);
  Reply("get_subsystems", si);
  EXPECT_EQ(RunStdio({"get_subsystems"}), 0);
  EXPECT_EQ(out.rfind("Get subsystems:\n{", 0), 0u);
  EXPECT_EQ(nlohmann::json::parse(out.substr(out.find('{')))["subsystems"][0]["nqn"], kNqn);
  fake.errors["get_subsystems"] = grpc::Status(grpc::StatusCode::INTERNAL, "boom");
  EXPECT_EQ(RunStdio({"get_subsystems"}), 2);
  EXPECT_NE(err.find("get_subsystems failed: code=INTERNAL message=boom"), std::string::npos);
}

TEST_F(GwcliTest, SpdkLogLevel) {
  EXPECT_EQ(RunStdio({"spdk_log_level", "set", "-l", "debug", "-p", "notice"}), 0);
  EXPECT_EQ(Req<set_spdk_nvmf_logs_req>().log_level(), DEBUG);
  EXPECT_EQ(Req<set_spdk_nvmf_logs_req>().print_level(), NOTICE);
  EXPECT_EQ(out, "Set SPDK log levels and nvmf log flags: Successful\n");
  EXPECT_EQ(RunStdio({"spdk_log_level", "get"}), 0);
  EXPECT_EQ(out, "SPDK log level is ERROR\nSPDK log print level is ERROR\n");
  EXPECT_FALSE(Req<get_spdk_nvmf_log_flags_and_level_req>(1).all_log_flags());
  // The reference's --all-log-flags and --extra-log-flags reach the requests.
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"spdk_log_level", "get", "-a"}), 0);
  EXPECT_TRUE(Req<get_spdk_nvmf_log_flags_and_level_req>().all_log_flags());
  EXPECT_EQ(RunStdio({"spdk_log_level", "set", "-l", "info", "-e", "bdev", "thread"}), 0);
  EXPECT_EQ(Req<set_spdk_nvmf_logs_req>(1).extra_log_flags_size(), 2);
  EXPECT_EQ(RunStdio({"spdk_log_level", "disable", "--extra-log-flags", "bdev"}), 0);
  ASSERT_EQ(Req<disable_spdk_nvmf_logs_req>(2).extra_log_flags_size(), 1);
  EXPECT_EQ(Req<disable_spdk_nvmf_logs_req>(2).extra_log_flags(0), "bdev");
  spdk_nvmf_log_flags_and_level_info flags;
  auto* f = flags.add_nvmf_log_flags();
  f->set_name("nvmf");
  f->set_enabled(true);
  Reply("get_spdk_nvmf_log_flags_and_level", flags);
  EXPECT_EQ(RunStdio({"spdk_log_level", "get"}), 0);
  EXPECT_EQ(out.rfind("SPDK log flag \"nvmf\" is enabled\n", 0), 0u) << out;  // the newest reference's words
}

TEST_F(GwcliTest, GwHa) {
  ::nvmeof::ha::ha_status st;
  st.set_gateway("gw1");
  st.set_group("grp");
  st.set_lease_ms(2000);
  auto* g1 = st.add_groups();
  g1->set_grp_id(1);
  g1->set_owner("gw1");
  g1->set_role("owner");
  g1->set_lease_age_ms(120);
  g1->set_since_ms(65000);
  g1->set_last_reason("acquired");
  g1->set_owner_changes(1);
  auto* g2 = st.add_groups();
  g2->set_grp_id(2);
  g2->set_owner("gw2");
  g2->set_role("standby");
  g2->set_owner_changes(3);
  for (int i = 1; i <= 2; i++) {
    auto* m = st.add_members();
    m->set_name("gw" + std::to_string(i));
    m->set_home_group(i);
    m->set_min_cntlid(i == 1 ? 1 : 2049);
    m->set_max_cntlid(i == 1 ? 2048 : 4096);
    m->set_alive(true);
    m->add_owned_groups(i);
    auto* l = m->add_listeners();
    l->set_trtype("tcp");
    l->set_traddr("10.0.0." + std::to_string(i));
    l->set_trsvcid("4420");
    for (int g = 1; g <= 2; g++) {
      auto* s = l->add_states();
      s->set_grp_id(g);
      s->set_state(g == i ? "OPTIMIZED" : "INACCESSIBLE");
    }
  }
  Reply("get_ha_status", st);
  EXPECT_EQ(RunStdio({"--format", "plain", "gw", "ha"}), 0);
  EXPECT_EQ(fake.calls.back().method, "get_ha_status");
  EXPECT_NE(out.find("Gateway-group HA as gateway gw1 sees it (group 'grp', lease 2000 ms)"), std::string::npos) << out;
  EXPECT_NE(out.find("gw1 (this)"), std::string::npos) << out;
  EXPECT_NE(out.find("2049-4096"), std::string::npos) << out;
  EXPECT_NE(out.find("10.0.0.2:4420 (2: Optimized)"), std::string::npos) << out;
  EXPECT_NE(out.find("65 s ago"), std::string::npos) << out;
  EXPECT_EQ(out.find("Inaccessible"), std::string::npos) << out;  // only with --verbose
  EXPECT_EQ(RunStdio({"--verbose", "--format", "plain", "gw", "ha"}), 0);
  EXPECT_NE(out.find("1: Inaccessible"), std::string::npos) << out;
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "ha"}), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["groups"][1]["owner"], "gw2");
  EXPECT_EQ(j["members"][1]["listeners"][0]["traddr"], "10.0.0.2");
  // HA off on that gateway: its error, its code.
  ::nvmeof::ha::ha_status off;
  off.set_status(ENODEV);
  off.set_error_message("gateway-group HA is not enabled on this gateway ([gateway] ha = builtin)");
  fake.replies["get_ha_status"].clear();
  Reply("get_ha_status", off);
  EXPECT_EQ(RunStdio({"gw", "ha"}), ENODEV);
  EXPECT_NE(err.find("not enabled"), std::string::npos) << err;
  EXPECT_EQ(Run({"gw", "ha", "--help"}), 0);
  EXPECT_NE(out.find("ANA group"), std::string::npos) << out;
}

TEST_F(GwcliTest, GwHaRemoveMember) {
  ::nvmeof::ha::ha_req_status ok;
  ok.set_status(0);
  ok.set_error_message("Success");
  Reply("remove_member", ok);
  EXPECT_EQ(RunStdio({"gw", "ha_remove_member", "-n", "gw3"}), 0);
  EXPECT_EQ(fake.calls.back().method, "remove_member");
  EXPECT_EQ(Req<::nvmeof::ha::remove_member_req>().name(), "gw3");
  EXPECT_EQ(out, "Removing HA member gw3: Successful\n");
  ::nvmeof::ha::ha_req_status busy;
  busy.set_status(EBUSY);
  busy.set_error_message("Failure removing HA member gw2: gateway gw2 is alive; stop it (and let its lease expire) "
                         "before removing it");
  fake.replies["remove_member"].clear();
  Reply("remove_member", busy);
  EXPECT_EQ(RunStdio({"gw", "ha_remove_member", "--name", "gw2"}), EBUSY);
  EXPECT_NE(err.find("gw2 is alive"), std::string::npos) << err;
  fake.replies["remove_member"].clear();
  Reply("remove_member", busy);
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "ha_remove_member", "-n", "gw2"}), EBUSY);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["status"], EBUSY);
  EXPECT_EQ(Run({"gw", "ha_remove_member", "--help"}), 0);
  EXPECT_NE(out.find("alive"), std::string::npos) << out;
  EXPECT_NE(Run({"gw", "ha_remove_member"}), 0);  // the name is required
}

// ---- network masks (auto-listeners) ----

TEST_F(GwcliTest, SubsystemAddWithNetworkMasksAndPort) {
  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn, "--network-mask", "10.0.0.0/24", "fd00::/64", "-p", "4500"}), 0);
  const auto& r = Req<create_subsystem_req>();
  ASSERT_EQ(r.network_mask_size(), 2);
  EXPECT_EQ(r.network_mask(0), "10.0.0.0/24");
  EXPECT_EQ(r.network_mask(1), "fd00::/64");
  EXPECT_TRUE(r.has_port());
  EXPECT_EQ(r.port(), 4500u);
  EXPECT_FALSE(r.secure_listeners());
  EXPECT_EQ(out, "Adding subsystem " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(Run({"subsystem", "add", "-n", kNqn, "--port", "4700"}), 2);
  EXPECT_NE(err.find("Port cannot be set without a network mask"), std::string::npos);
  EXPECT_EQ(Run({"subsystem", "add", "-n", kNqn, "--secure-listeners"}), 2);
  EXPECT_NE(err.find("Secure listeners cannot be set without a network mask"), std::string::npos);
  EXPECT_EQ(Run({"subsystem", "add", "-n", kNqn, "--network-mask", "10.0.0.0/8", "-p", "70000"}), 2);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(RunStdio({"subsystem", "add", "-n", kNqn}), 0);
  EXPECT_EQ(Req<create_subsystem_req>().network_mask_size(), 0);
  EXPECT_FALSE(Req<create_subsystem_req>().has_port());
}

TEST_F(GwcliTest, SubsystemAddAndDelNetwork) {
  EXPECT_EQ(RunStdio({"subsystem", "add_network", "-n", kNqn, "--network-mask", "10.0.0.0/24"}), 0);
  EXPECT_EQ(fake.calls.at(0).method, "add_subsystem_network");
  EXPECT_EQ(Req<add_subsystem_network_req>().subsystem_nqn(), kNqn);
  EXPECT_EQ(Req<add_subsystem_network_req>().network_mask(), "10.0.0.0/24");
  EXPECT_EQ(out, "Network mask 10.0.0.0/24 added to subsystem " + kNqn + ": Successful\n");
  EXPECT_EQ(RunStdio({"subsystem", "del_network", "--subsystem", kNqn, "--network-mask", "10.0.0.0/24"}), 0);
  EXPECT_EQ(fake.calls.at(1).method, "del_subsystem_network");
  EXPECT_EQ(Req<del_subsystem_network_req>(1).network_mask(), "10.0.0.0/24");
  EXPECT_EQ(out, "Network mask 10.0.0.0/24 deleted for subsystem " + kNqn + ": Successful\n");
  req_status bad;
  bad.set_status(EADDRNOTAVAIL);
  bad.set_error_message("Failure adding network mask for subsystem " + kNqn + ": Invalid subnet \"x\"");
  Reply("add_subsystem_network", bad);
  EXPECT_EQ(Run({"subsystem", "add_network", "-n", kNqn, "--network-mask", "x"}), EADDRNOTAVAIL);
  EXPECT_EQ(err, bad.error_message() + "\n");
  EXPECT_EQ(Run({"subsystem", "del_network", "-n", kNqn}), 2);  // --network-mask is required
  EXPECT_EQ(RunStdio({"--format", "json", "subsystem", "add_network", "-n", kNqn, "--network-mask", "x"}),
            EADDRNOTAVAIL);
  EXPECT_EQ(nlohmann::json::parse(out)["status"], EADDRNOTAVAIL);
}

TEST_F(GwcliTest, GwRefreshNetwork) {
  gw_refresh_network_status rep;
  rep.add_added("192.0.2.9:4420");
  rep.add_added("[fd00::5]:4420");
  rep.add_removed("192.0.2.2:4420");
  Reply("gw_refresh_network", rep);
  EXPECT_EQ(RunStdio({"gw", "refresh_network", "-n", kNqn}), 0);
  EXPECT_EQ(Req<gw_refresh_network_req>().subsystem_nqn(), kNqn);
  EXPECT_EQ(out, "Refreshing network for subsystem " + kNqn +
                     ": Successful\nAdded listeners: 192.0.2.9:4420, [fd00::5]:4420\nRemoved listeners: "
                     "192.0.2.2:4420\n");
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "refresh_network", "--subsystem", kNqn}), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["added"].size(), 2u);
  EXPECT_EQ(j["removed"][0], "192.0.2.2:4420");
  fake.replies.clear();
  EXPECT_EQ(RunStdio({"gw", "refresh_network", "-n", kNqn}), 0);
  EXPECT_EQ(out, "Refreshing network for subsystem " + kNqn +
                     ": Successful\nAdded listeners: none\nRemoved listeners: none\n");
  EXPECT_EQ(Run({"gw", "refresh_network"}), 2);
}

}  // namespace
}  // namespace nvmeof::cli

// ---- over real gRPC, against an in-process server on loopback ----

namespace nvmeof::cli {
namespace {

class TinyGateway final : public Gateway::Service {
 public:
  std::string last_nqn;
  grpc::Status create_subsystem(grpc::ServerContext*, const create_subsystem_req* req,
                                subsys_status* rep) override {
    last_nqn = req->subsystem_nqn();
    rep->set_status(0);
    rep->set_error_message("Success");
    rep->set_nqn(req->subsystem_nqn() + ".grp");
    return grpc::Status::OK;
  }
  grpc::Status delete_subsystem(grpc::ServerContext*, const delete_subsystem_req* req,
                                req_status* rep) override {
    rep->set_status(ENOENT);
    rep->set_error_message("Failure deleting subsystem " + req->subsystem_nqn() +
                           ": No such subsystem");
    return grpc::Status::OK;
  }
};

TEST(GrpcWire, ServiceNameHasNoPackage) {
  EXPECT_STREQ(Gateway::service_full_name(), "Gateway");
}

TEST(GrpcWire, GwcliTalksToAGatewayServer) {
  TinyGateway service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  const GetEnv no_env = [](const std::string&) -> std::optional<std::string> { return {}; };
  std::ostringstream out, err;
  const std::vector<std::string> add = {"--output", "stdio", "--server-address", "127.0.0.1",
                                        "--server-port", std::to_string(port), "subsystem", "add",
                                        "-n", kNqn};
  EXPECT_EQ(nvmeof::cli::Run(add, out, err, MakeGrpcTransport, no_env), 0) << err.str();
  EXPECT_EQ(out.str(), "Adding subsystem " + kNqn + ".grp: Successful\n");
  EXPECT_EQ(service.last_nqn, kNqn);

  std::ostringstream out2, err2;
  const std::vector<std::string> del = {"--output", "stdio", "--server-address", "127.0.0.1",
                                        "--server-port", std::to_string(port), "subsystem", "del",
                                        "-n", kNqn};
  EXPECT_EQ(nvmeof::cli::Run(del, out2, err2, MakeGrpcTransport, no_env), ENOENT);
  EXPECT_EQ(err2.str(), "Failure deleting subsystem " + kNqn + ": No such subsystem\n");

  // An RPC the server does not implement: gRPC UNIMPLEMENTED becomes EINVAL.
  std::ostringstream out3, err3;
  const std::vector<std::string> list = {"--output", "stdio", "--server-address", "127.0.0.1",
                                         "--server-port", std::to_string(port), "host", "list",
                                         "-n", kNqn};
  EXPECT_EQ(nvmeof::cli::Run(list, out3, err3, MakeGrpcTransport, no_env), EINVAL);
  EXPECT_NE(err3.str().find("UNIMPLEMENTED"), std::string::npos) << err3.str();
  server->Shutdown();
}

// ---- commands of the current reference CLI ----

TEST_F(GwcliTest, NsVisibilityTrashAutoResizeLocationUnpin) {
  EXPECT_EQ(RunStdio({"ns", "change_visibility", "-n", kNqn, "--nsid", "1", "--auto-visible", "no"}), 0);
  EXPECT_FALSE(Req<namespace_change_visibility_req>().auto_visible());
  EXPECT_FALSE(Req<namespace_change_visibility_req>().has_force());
  EXPECT_EQ(out, "Changing visibility of namespace 1 in " + kNqn + " to \"visible to selected hosts\": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "change_visibility", "-n", kNqn, "--nsid", "1", "--auto-visible", "YES", "--force"}), 0);
  EXPECT_TRUE(Req<namespace_change_visibility_req>().auto_visible());
  EXPECT_TRUE(Req<namespace_change_visibility_req>().force());
  EXPECT_EQ(out, "Changing visibility of namespace 1 in " + kNqn + " to \"visible to all hosts\": Successful\n");
  EXPECT_EQ(Run({"ns", "change_visibility", "-n", kNqn, "--nsid", "1", "--auto-visible", "maybe"}), 2);
  EXPECT_EQ(Run({"ns", "change_visibility", "-n", kNqn, "--nsid", "1"}), 2);

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "set_rbd_trash_image", "-n", kNqn, "--nsid", "2", "--rbd-trash-image-on-delete", "yes"}), 0);
  EXPECT_TRUE(Req<namespace_set_rbd_trash_image_req>().trash_image());
  EXPECT_EQ(out, "Setting RBD trash image flag for namespace 2 in " + kNqn +
                     " to \"trash on namespace deletion\": Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "set_auto_resize", "-n", kNqn, "--nsid", "2", "--auto-resize-enabled", "no"}), 0);
  EXPECT_FALSE(Req<namespace_set_auto_resize_req>().auto_resize());
  EXPECT_EQ(out, "Setting auto resize flag for namespace 2 in " + kNqn +
                     " to \"do not auto resize namespace\": Successful\n");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "change_location", "-n", kNqn, "--nsid", "2", "--location", "site-a"}), 0);
  EXPECT_EQ(Req<namespace_change_location_req>().location(), "site-a");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"ns", "unpin", "-n", kNqn, "--nsid", "3"}), 0);
  EXPECT_EQ(Req<namespace_unpin_req>().nsid(), 3u);
  EXPECT_EQ(out, "Unpinning load balancing group for namespace 3 in " + kNqn + ": Successful\n");

  // A failure prints the gateway's message and exits with its status.
  req_status bad;
  bad.set_status(ENOTSUP);
  bad.set_error_message("Failure: not supported");
  Reply("namespace_unpin", bad);
  EXPECT_EQ(RunStdio({"ns", "unpin", "-n", kNqn, "--nsid", "3"}), ENOTSUP);
  EXPECT_EQ(err, "Failure: not supported\n");
}

TEST_F(GwcliTest, GwListenerInfo) {
  EXPECT_EQ(RunStdio({"gw", "listener_info", "-n", kNqn}), 0);
  EXPECT_EQ(out, "No gateway listeners for " + kNqn + "\n");
  gateway_listeners_info li;
  auto* g = li.add_gw_listeners();
  g->mutable_listener()->set_host_name("gw1");
  g->mutable_listener()->set_trtype("TCP");
  g->mutable_listener()->set_traddr("10.0.0.1");
  g->mutable_listener()->set_trsvcid(4420);
  g->mutable_listener()->set_active(true);
  auto* s1 = g->add_lb_states();
  s1->set_grp_id(1);
  s1->set_state(OPTIMIZED);
  auto* s2 = g->add_lb_states();
  s2->set_grp_id(2);
  s2->set_state(INACCESSIBLE);
  Reply("show_gateway_listeners_info", li);
  EXPECT_EQ(RunStdio({"--format", "plain", "gw", "listener_info", "-n", kNqn}), 0);
  EXPECT_NE(out.find("Gateway listeners for " + kNqn + ":"), std::string::npos) << out;
  EXPECT_NE(out.find("10.0.0.1:4420"), std::string::npos) << out;
  EXPECT_NE(out.find("1: Optimized"), std::string::npos) << out;
  EXPECT_EQ(out.find("2: Inaccessible"), std::string::npos) << out;  // only with --verbose
  EXPECT_EQ(RunStdio({"--verbose", "--format", "plain", "gw", "listener_info", "-n", kNqn}), 0);
  EXPECT_NE(out.find("2: Inaccessible"), std::string::npos) << out;
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "listener_info", "-n", kNqn}), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["gw_listeners"][0]["listener"]["traddr"], "10.0.0.1");
  EXPECT_EQ(Run({"gw", "listener_info"}), 2);
}

// ---- statistics and keep-connected ----

TEST_F(GwcliTest, ConnectionIoStatistics) {
  const std::string host = "nqn.2016-06.io.spdk:host1";
  connection_io_statistics st;
  st.set_subsystem_nqn(kNqn);
  st.set_host_nqn(host);
  st.set_total_num_ios(3);
  auto* b = st.add_buckets();
  b->set_size(4);
  b->mutable_read()->set_io_count(2);
  b->mutable_read()->mutable_total()->set_min(1000);
  b->mutable_read()->mutable_total()->set_mean(1500);
  b->mutable_read()->mutable_total()->set_max(2000);
  b->mutable_write()->set_io_count(1);
  st.add_buckets()->set_size(8);  // no I/O: no row
  Reply("get_connection_io_statistics", st);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "get_io_statistics", "-n", kNqn, "-t", host}), 0);
  const auto& req = Req<get_connection_io_statistics_req>();
  EXPECT_EQ(req.subsystem_nqn(), kNqn);
  EXPECT_EQ(req.host_nqn(), host);
  EXPECT_FALSE(req.has_reset());
  EXPECT_NE(out.find("IO statistics for host " + host + " in " + kNqn + " (3 IOs"), std::string::npos) << out;
  EXPECT_NE(out.find("1000 / 1500 / 2000"), std::string::npos) << out;
  EXPECT_NE(out.find("Write"), std::string::npos) << out;
  EXPECT_EQ(out.find("8 KiB"), std::string::npos) << out;
  EXPECT_EQ(RunStdio({"--format", "json", "connection", "get_io_statistics", "-n", kNqn, "-t", host}), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["total_num_ios"], "3");
  EXPECT_EQ(j["buckets"][0]["read"]["io_count"], "2");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"connection", "reset_io_statistics", "-n", kNqn, "-t", host}), 0);
  EXPECT_TRUE(Req<get_connection_io_statistics_req>().reset());
  EXPECT_EQ(out, "Resetting host's " + host + " in " + kNqn + " IO statistics: Successful\n");
  connection_io_statistics none;
  none.set_status(ENOENT);
  none.set_error_message("Failure getting IO statistics for host h on n: No connection for host");
  fake.replies["get_connection_io_statistics"].clear();
  Reply("get_connection_io_statistics", none);
  EXPECT_EQ(RunStdio({"connection", "get_io_statistics", "-n", kNqn, "-t", host}), ENOENT);
  EXPECT_EQ(err, none.error_message() + "\n");
  EXPECT_EQ(Run({"connection", "get_io_statistics", "-n", kNqn}), 2);  // -t is required
}

TEST_F(GwcliTest, GwStatsThreadStatsIoStatsMode) {
  gateway_stats_info gs;
  gs.set_tick_rate(1000000000);
  auto* g = gs.add_poll_groups();
  g->set_name("reactor_0");
  g->set_admin_qpairs(2);
  g->set_io_qpairs(5);
  g->set_current_io_qpairs(4);
  g->set_completed_nvme_io(12345);
  g->add_transports()->set_trtype("TCP");
  Reply("get_gateway_stats", gs);
  EXPECT_EQ(RunStdio({"--format", "plain", "gw", "get_stats"}), 0);
  EXPECT_NE(out.find("tick rate 1000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("reactor_0"), std::string::npos) << out;
  EXPECT_NE(out.find("12345"), std::string::npos) << out;
  EXPECT_NE(out.find("TCP"), std::string::npos) << out;
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "get_stats"}), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["poll_groups"][0]["completed_nvme_io"], "12345");

  thread_stats_info ts;
  ts.set_tick_rate(1000000000);
  auto* t = ts.add_threads();
  t->set_name("reactor_0");
  t->set_busy(25);
  t->set_idle(75);
  Reply("get_thread_stats", ts);
  EXPECT_EQ(RunStdio({"--format", "plain", "gw", "get_thread_stats"}), 0);
  EXPECT_NE(out.find("25.00"), std::string::npos) << out;
  EXPECT_EQ(RunStdio({"--format", "json", "gw", "get_thread_stats"}), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["threads"][0]["busy"], "25");

  fake.calls.clear();
  EXPECT_EQ(RunStdio({"gw", "set_io_stats_mode", "--enabled", "no"}), 0);
  EXPECT_FALSE(Req<set_gateway_io_stats_mode_req>().enabled());
  EXPECT_EQ(out, "Setting gateway's IO stats mode to disabled: Successful\n");
  EXPECT_EQ(RunStdio({"gw", "set_io_stats_mode", "-e", "True"}), 0);
  EXPECT_TRUE(Req<set_gateway_io_stats_mode_req>(1).enabled());
  EXPECT_EQ(Run({"gw", "set_io_stats_mode", "-e", "maybe"}), 2);
}

TEST_F(GwcliTest, HostKeepConnections) {
  EXPECT_EQ(RunStdio({"host", "del", "-n", kNqn, "-t", "h1", "--keep-connections"}), 0);
  EXPECT_TRUE(Req<remove_host_req>().keep_connections());
  EXPECT_EQ(out, "Removing host h1 access from " + kNqn + ": Successful\n");
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"host", "del", "-n", kNqn, "-t", "h1"}), 0);
  EXPECT_FALSE(Req<remove_host_req>().has_keep_connections());
  fake.calls.clear();
  EXPECT_EQ(RunStdio({"host", "keep_connected", "-n", kNqn, "-t", "h1", "h2"}), 0);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(Req<set_keep_host_connected_req>(1).host_nqn(), "h2");
  EXPECT_EQ(out, "Setting keep connected flag for host h1 in " + kNqn + ": Successful\nSetting keep connected flag for host h2 in " +
                     kNqn + ": Successful\n");
  connections_info ci;
  auto* k = ci.add_connections();
  k->set_nqn("nqn.2016-06.io.spdk:gone");
  k->set_connected(true);
  k->set_host_deleted(true);
  Reply("list_connections", ci);
  EXPECT_EQ(RunStdio({"--format", "plain", "connection", "list", "-n", kNqn}), 0);
  EXPECT_NE(out.find("nqn.2016-06.io.spdk:gone (deleted)"), std::string::npos) << out;
}

}  // namespace
}  // namespace nvmeof::cli
