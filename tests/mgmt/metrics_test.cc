// The metrics exporter and the health service of a real gateway (label mgmt, no Ceph):
//   - the exporter scraped over HTTP after some I/O, its output passed to
//     `promtool check metrics` (skipped without promtool);
//   - Debian's `prometheus` server scraping the gateway, then asked for
//     ceph_nvmeof_gateway_info through its HTTP API (skipped without prometheus);
//   - the same over HTTPS (prometheus_exporter_ssl with a certificate made by the openssl
//     command), and curl with the CA; plain HTTP to that port is answered 400;
//   - grpc.health.v1.Health/Check on the gRPC port: SERVING once the gateway is ready.
// Waits are bounded (a stuck server fails the test) but nothing asserts on durations.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/host/nvmf_host.h"
#include "tests/mgmt/mgmt_harness.h"

namespace nvmeof::mgmt_test {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.spdk:metrics1";

// GET http://127.0.0.1:port/path (HTTP/1.0: the server closes after the body). The body,
// or empty with *status = 0 if the server could not be reached.
std::string HttpGet(uint16_t port, const std::string& path, int* status) {
  *status = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  auto eol = resp.find("\r\n");
  auto body = resp.find("\r\n\r\n");
  if (eol == std::string::npos || body == std::string::npos) return "";
  std::smatch m;
  const std::string line = resp.substr(0, eol);
  if (std::regex_search(line, m, std::regex(R"(HTTP/\S+ (\d+))"))) *status = std::stoi(m[1]);
  return resp.substr(body + 4);
}

// grpc.health.v1.Health/Check for `service`: 1 SERVING, 2 NOT_SERVING, 0 unknown, -1 the
// call failed. The messages are hand-encoded (one field each) to need no generated code.
int HealthCheck(uint16_t port, const std::string& service) {
  grpc::GenericStub stub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::string req;
  if (!service.empty()) {
    req.push_back(0x0a);  // field 1 (service), length-delimited
    req.push_back(static_cast<char>(service.size()));
    req += service;
  }
  grpc::Slice slice(req);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", in, &cq);
  call->StartCall();
  grpc::Status st;
  call->Finish(&out, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!st.ok()) return -1;
  std::vector<grpc::Slice> slices;
  (void)out.Dump(&slices);
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.size() >= 2 && bytes[0] == 0x08) return bytes[1];  // field 1 (status), varint
  return 0;
}

std::string Which(const char* tool) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
    std::string p = std::string(dir) + tool;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io_port_ = FreePort();
    ASSERT_NE(io_port_, 0);
    std::string err;
    ASSERT_TRUE(gw_.Start({"--prometheus-port", "0", "--listen", "127.0.0.1:" + std::to_string(io_port_),
                           "--discovery", "none", "--reactors", "2", "--state-pool", "none", "--subsystem", kNqn,
                           "--namespace", "memory:16M"},
                          &err))
        << err;
    std::smatch m;
    const std::string log = gw_.Log();
    ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(prometheus exporter listening on 127\.0\.0\.1:(\d+))")))
        << log;
    metrics_port_ = static_cast<uint16_t>(std::stoi(m[1]));
    dir_ = std::filesystem::temp_directory_path() / ("nvmeof-metrics-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    gw_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A few reads and writes, so the I/O counters and histograms have samples.
  void DoSomeIo() {
    host::ControllerOptions o;
    o.port = io_port_;
    o.subnqn = kNqn;
    host::Controller c(o);
    std::string err;
    ASSERT_TRUE(c.Open(&err)) << err;
    ASSERT_TRUE(c.AddIoQueue().ok());
    std::vector<uint8_t> buf(4096, 0x5a);
    for (int i = 0; i < 4; i++) {
      ASSERT_TRUE(c.Write(c.io(), 1, static_cast<uint64_t>(i) * 8, 8, buf.data(), 4096).ok());
      ASSERT_TRUE(c.Read(c.io(), 1, static_cast<uint64_t>(i) * 8, 8, buf.data(), 4096).ok());
    }
  }

  Gateway gw_;
  uint16_t io_port_ = 0, metrics_port_ = 0;
  std::filesystem::path dir_;
};

TEST_F(MetricsTest, ScrapePassesPromtool) {
  DoSomeIo();
  int status = 0;
  const std::string text = HttpGet(metrics_port_, "/metrics", &status);
  ASSERT_EQ(status, 200) << text;
  EXPECT_NE(text.find("# TYPE ceph_nvmeof_gateway_info gauge"), std::string::npos) << text;
  EXPECT_NE(text.find("ceph_nvmeof_subsystem_metadata{nqn=\"" + std::string(kNqn) + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("ceph_nvmeof_reactor_seconds_total{name=\"nvmf_tgt_poll_group_001\",mode=\"busy\"}"),
            std::string::npos)
      << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(ceph_nvmeof_bdev_reads_completed_total\{bdev_name="bdev_[0-9a-f-]+"\} (\d+))")))
      << text;
  EXPECT_EQ(m[1], "4");
  EXPECT_TRUE(std::regex_search(
      text, std::regex(R"(ceph_nvmeof_bdev_write_latency_seconds_count\{bdev_name="bdev_[0-9a-f-]+"\} 4)")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(ceph_nvmeof_tcp_connections_accepted_total 2)"))) << text;

  const std::string promtool = Which("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const std::string file = (dir_ / "metrics.txt").string();
  std::ofstream(file) << text;
  CliResult r = mgmt_test::Run({"/bin/sh", "-c", promtool + " check metrics < " + file});
  // Exit 1 is a format error; 3 lists lint problems. The only ones allowed are the
  // reference's gauge names ending in "_count", kept as they are for the dashboards.
  ASSERT_TRUE(r.rc == 0 || r.rc == 3) << r.all();
  std::istringstream lines(r.all());
  std::string line;
  const std::regex allowed(
      R"(ceph_nvmeof_subsystem_(host|listener|namespace)_count non-histogram and non-summary metrics should not have "_count" suffix)");
  while (std::getline(lines, line)) {
    if (!line.empty()) {
      EXPECT_TRUE(std::regex_match(line, allowed)) << line;
    }
  }
}

// Debian's prometheus server scrapes 127.0.0.1:metrics_port (`scrape_options`: more keys of
// the scrape job, e.g. its scheme) until ceph_nvmeof_gateway_info is in; the target is up.
void PrometheusScrapes(const std::string& prometheus, const std::filesystem::path& dir, uint16_t metrics_port,
                       const std::string& scrape_options) {
  const uint16_t web_port = FreePort();
  ASSERT_NE(web_port, 0);
  const std::string config = (dir / "prometheus.yml").string();
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        << "scrape_configs:\n  - job_name: nvmeof\n" << scrape_options << "    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << metrics_port << "']\n";
  nvmeof::testing::ChildProcess server;
  std::string err;
  ASSERT_TRUE(server.Start({prometheus, "--config.file=" + config, "--storage.tsdb.path=" + (dir / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(web_port)},
                           &err))
      << err;
  ASSERT_TRUE(server.WaitForLog("Server is ready to receive web requests", 60000)) << server.LogTail();
  // Until one scrape is in: the query answers an empty result before.
  std::string body;
  bool found = false;
  for (int i = 0; i < 120 && !found; i++) {
    int status = 0;
    body = HttpGet(web_port, "/api/v1/query?query=ceph_nvmeof_gateway_info", &status);
    found = status == 200 && body.find("\"__name__\":\"ceph_nvmeof_gateway_info\"") != std::string::npos;
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(found) << body << "\n" << server.LogTail();
  EXPECT_NE(body.find("\"group\":\"_null_\""), std::string::npos) << body;
  int status = 0;
  body = HttpGet(web_port, "/api/v1/query?query=up%7Bjob%3D%22nvmeof%22%7D", &status);
  EXPECT_NE(body.find("\"1\"]"), std::string::npos) << body;  // the target is up
  server.Stop();
}

TEST_F(MetricsTest, PrometheusServerScrapesTheGateway) {
  const std::string prometheus = Which("prometheus");
  if (prometheus.empty()) GTEST_SKIP() << "prometheus not installed (Debian package prometheus)";
  PrometheusScrapes(prometheus, dir_, metrics_port_, "");
}

// The exporter over HTTPS: a gateway started from a configuration file that leaves
// prometheus_exporter_ssl at the reference's default (True) with [mtls] server_cert and
// server_key (signed by a CA made here with the openssl command); curl and Debian's
// prometheus scrape it with the CA; plain HTTP is refused.
class MetricsHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Which("openssl").empty()) GTEST_SKIP() << "openssl not installed";
    dir_ = std::filesystem::temp_directory_path() / ("nvmeof-metrics-tls-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    CliResult r = mgmt_test::Run(
        {"/bin/sh", "-c",
         "cd " + dir_.string() +
             " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.cert -days 2 -subj /CN=test-ca"
             " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost"
             " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >server.ext"
             " && openssl x509 -req -in server.csr -CA ca.cert -CAkey ca.key -CAcreateserial -out server.cert"
             " -days 2 -extfile server.ext"});
    ASSERT_EQ(r.rc, 0) << r.all();
    const std::string conf = (dir_ / "ceph-nvmeof.conf").string();
    std::ofstream(conf) << "[gateway]\naddr = 127.0.0.1\n"
                        << "[mtls]\nserver_cert = " << (dir_ / "server.cert").string()
                        << "\nserver_key = " << (dir_ / "server.key").string() << "\n";
    std::string err;
    ASSERT_TRUE(gw_.Start({"--config", conf, "--grpc", "127.0.0.1:0", "--prometheus-port", "0", "--discovery", "none",
                           "--reactors", "1", "--state-pool", "none"},
                          &err))
        << err;
    std::smatch m;
    const std::string log = gw_.Log();
    ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(prometheus exporter listening on 127\.0\.0\.1:(\d+) \(HTTPS\))")))
        << log;
    metrics_port_ = static_cast<uint16_t>(std::stoi(m[1]));
  }
  void TearDown() override {
    gw_.Stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  Gateway gw_;
  uint16_t metrics_port_ = 0;
  std::filesystem::path dir_;
};

TEST_F(MetricsHttpsTest, CurlAndPrometheusScrapeOverHttps) {
  int status = 0;
  const std::string plain = HttpGet(metrics_port_, "/metrics", &status);
  EXPECT_EQ(status, 400) << plain;
  EXPECT_NE(plain.find("This port serves HTTPS"), std::string::npos) << plain;
  if (!Which("curl").empty()) {
    CliResult r = mgmt_test::Run({"curl", "-sS", "--max-time", "20", "--cacert", (dir_ / "ca.cert").string(),
                                  "https://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics"});
    ASSERT_EQ(r.rc, 0) << r.all();
    EXPECT_NE(r.all().find("# TYPE ceph_nvmeof_gateway_info gauge"), std::string::npos) << r.all();
  }
  const std::string prometheus = Which("prometheus");
  if (prometheus.empty()) GTEST_SKIP() << "prometheus not installed (Debian package prometheus)";
  PrometheusScrapes(prometheus, dir_, metrics_port_,
                    "    scheme: https\n    tls_config:\n      ca_file: " + (dir_ / "ca.cert").string() + "\n");
}

TEST_F(MetricsTest, HealthServiceSaysServingOnceReady) {
  ASSERT_TRUE(gw_.WaitForLog("health: SERVING", 5000)) << gw_.Log();
  EXPECT_EQ(HealthCheck(gw_.grpc_port(), ""), 1);
  EXPECT_EQ(HealthCheck(gw_.grpc_port(), "Gateway"), 1);
  EXPECT_EQ(HealthCheck(gw_.grpc_port(), "no.such.Service"), -1);  // NOT_FOUND
}

}  // namespace
}  // namespace nvmeof::mgmt_test
