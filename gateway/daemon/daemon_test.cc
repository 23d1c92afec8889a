// Unit tests for the Daemon's start-up (gateway/daemon/daemon.h): in process, no gRPC port,
// no discovery port, the group state in memory.
#include "gateway/daemon/daemon.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

#include "gateway/daemon/config.h"
#include "gateway/daemon/management.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {
namespace {

const char kExporterListening[] = "prometheus exporter listening on 127.0.0.1:";

DaemonOptions Quiet(const std::string& file_text) {
  std::vector<std::string> w;
  auto file = ParseGatewayConfig(file_text, "t.conf", &w);
  EXPECT_TRUE(file.ok()) << file.status().message();
  CommandLine flags;
  flags.grpc = "none";
  flags.discovery = "none";
  flags.reactors = 1;
  flags.shutdown_timeout = 0;  // Stop() must not arm the exit timer in a test process
  flags.state_pool = "none";
  auto o = ResolveOptions(&file.value(), flags);
  EXPECT_TRUE(o.ok()) << o.status().message();
  return o.value();
}

// Starts and stops a daemon; returns what it logged.
std::string StartAndStop(const DaemonOptions& o, std::function<void(Daemon&)> check = nullptr) {
  testing::internal::CaptureStderr();
  auto d = Daemon::Start(o);
  EXPECT_TRUE(d.ok()) << d.status().message();
  if (d.ok()) {
    if (check) check(*d.value());
    d.value()->Stop();
    d.value().reset();
  }
  return testing::internal::GetCapturedStderr();
}

TEST(Daemon, PrometheusExporterFollowsItsSetting) {
  DaemonOptions o = Quiet("[gateway]\nprometheus_exporter_ssl = false\n");  // a file turns the exporter on
  EXPECT_TRUE(o.enable_prometheus_exporter);
  o.grpc_addr = "127.0.0.1";
  o.prometheus_port = 0;
  const std::string log = StartAndStop(o);
  EXPECT_NE(log.find(kExporterListening), std::string::npos) << log;
  EXPECT_EQ(log.find("(HTTPS)"), std::string::npos) << log;
  EXPECT_NE(log.find("ready"), std::string::npos) << log;
  const std::string off = StartAndStop(Quiet("[gateway]\nenable_prometheus_exporter = false\n"));
  EXPECT_EQ(off.find("prometheus exporter"), std::string::npos) << off;
}

// A file asks for HTTPS by default (the reference's prometheus_exporter_ssl = True); without
// the [mtls] certificate the gateway serves without metrics, and says which file is missing.
TEST(Daemon, AnExporterWithoutItsCertificateIsLoggedAndTheGatewayServes) {
  DaemonOptions o = Quiet("[gateway]\n[mtls]\nserver_cert = /nonexistent/server.cert\n");
  EXPECT_TRUE(o.prometheus_exporter_ssl);
  o.grpc_addr = "127.0.0.1";
  o.prometheus_port = 0;
  const std::string log = StartAndStop(o);
  EXPECT_NE(log.find("prometheus exporter: certificate /nonexistent/server.cert: No such file or directory "
                     "(prometheus_exporter_ssl: [mtls] server_cert and server_key); serving without metrics"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(kExporterListening), std::string::npos) << log;
  EXPECT_NE(log.find("ready"), std::string::npos) << log;
}

TEST(Daemon, AnExporterPortInUseIsLoggedAndTheGatewayServes) {
  DaemonOptions o = Quiet("[gateway]\nprometheus_exporter_ssl = false\n");
  o.grpc_addr = "127.0.0.1";
  o.prometheus_port = 0;
  StartAndStop(o, [&](Daemon&) {
    // The first daemon holds a port; a second one asked for it serves without metrics.
    const std::string first_log = testing::internal::GetCapturedStderr();
    const auto at = first_log.find(kExporterListening);
    ASSERT_NE(at, std::string::npos) << first_log;
    DaemonOptions o2 = o;
    o2.prometheus_port = static_cast<uint16_t>(std::stoi(first_log.substr(at + strlen(kExporterListening))));
    const std::string log2 = StartAndStop(o2);
    EXPECT_NE(log2.find("prometheus exporter: cannot listen on 127.0.0.1:"), std::string::npos) << log2;
    EXPECT_NE(log2.find("serving without metrics"), std::string::npos) << log2;
    EXPECT_NE(log2.find("ready"), std::string::npos) << log2;
    testing::internal::CaptureStderr();
  });
}

TEST(Daemon, CommandLineSubsystemsAndNamespaces) {
  DaemonOptions o = Quiet("[gateway]\nenable_prometheus_exporter = false\n");
  o.subsystems.push_back({"nqn.2016-06.io.spdk:d1", "SN1", {"memory:4M", "memory:8M:4096", "tape:1"}, {}});
  o.listen.push_back({"127.0.0.1", "0"});  // a failed namespace with nothing to serve would stop the start
  const std::string log = StartAndStop(o, [](Daemon& d) {
    auto s = d.target().FindSubsystem("nqn.2016-06.io.spdk:d1");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->spec().serial, "SN1");
    ASSERT_TRUE(s->GetNamespace(1));
    ASSERT_TRUE(s->GetNamespace(2));
    EXPECT_EQ(s->GetNamespace(2)->block_size(), 4096u);
    EXPECT_EQ(s->namespace_count(), 2u);
    EXPECT_EQ(d.target().Ports().size(), 1u);
  });
  EXPECT_NE(log.find("listening on 127.0.0.1:0 (NVMe/TCP, port id 1)"), std::string::npos) << log;
  EXPECT_NE(log.find("namespace 'tape:1' not added: unknown namespace kind 'tape'"), std::string::npos) << log;
}

TEST(Daemon, ABusyListenerStopsTheStart) {
  DaemonOptions o = Quiet("[gateway]\nenable_prometheus_exporter = false\n");
  o.subsystems.push_back({"nqn.2016-06.io.spdk:d2", "", {}, {}});
  o.listen.push_back({"256.0.0.1", "4420"});  // not an address
  testing::internal::CaptureStderr();
  auto d = Daemon::Start(o);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(d.ok());
  EXPECT_NE(log.find("a listener could not be opened; exiting"), std::string::npos) << log;
}

TEST(Daemon, FlagsThisBuildCannotHonour) {
  CommandLine flags;
  flags.grpc = "none";
  EXPECT_TRUE(CheckBuildSupports(flags).ok());
  flags.config = "x.conf";
  EXPECT_EQ(CheckBuildSupports(flags).ok(), ManagementPlane::BuiltIn());
}

}  // namespace
}  // namespace nvmeof
