// Unit tests of the MetricsExporter (exporter.h) with a Collectable of its own: HTTP
// requests and their answers, HTTPS with a self-signed certificate made by the openssl
// command and curl as the client, a plain request to the HTTPS port, certificate errors,
// and clients that stall (idle, half a request, a response not read) while others scrape.
// Every wait is bounded by a socket timeout; nothing asserts on durations.
#include "gateway/metrics/exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nvmeof {
namespace {

// `families` gauges named test_metric_N, each with one sample.
class FakeCollectable : public prometheus::Collectable {
 public:
  explicit FakeCollectable(int families) : families_(families) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    for (int i = 0; i < families_; i++) {
      prometheus::MetricFamily f;
      f.name = "test_metric_" + std::to_string(i);
      f.help = "a test gauge";
      f.type = prometheus::MetricType::Gauge;
      prometheus::ClientMetric m;
      m.label.push_back({"padding", std::string(200, 'x')});
      m.gauge.value = i;
      f.metric.push_back(m);
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  int families_;
};

// A connected TCP socket to 127.0.0.1:port with a 10 s receive timeout, or -1; rcvbuf: a
// small receive buffer, so that a response not read stalls the server's writes.
int Connect(uint16_t port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` (plain TCP) and returns everything the server sends until it closes.
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "connect failed";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "send failed";
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  return resp;
}

std::string StatusLine(const std::string& resp) { return resp.substr(0, resp.find("\r\n")); }
std::string Body(const std::string& resp) {
  const size_t at = resp.find("\r\n\r\n");
  return at == std::string::npos ? "" : resp.substr(at + 4);
}

// Runs a shell command; its standard output, and its exit status in *rc.
std::string Shell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

bool Have(const char* tool) {
  int rc;
  Shell(std::string("command -v ") + tool + " >/dev/null 2>&1", &rc);
  return rc == 0;
}

std::shared_ptr<MetricsExporter> StartOrDie(std::shared_ptr<prometheus::Collectable> c,
                                            const std::optional<ExporterTls>& tls = std::nullopt) {
  auto e = MetricsExporter::Start("127.0.0.1", 0, std::move(c), tls);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (!e.ok()) return nullptr;
  return std::shared_ptr<MetricsExporter>(std::move(e.value()));
}

TEST(MetricsExporterHttp, AnswersRequests) {
  auto e = StartOrDie(std::make_shared<FakeCollectable>(3));
  ASSERT_TRUE(e);
  EXPECT_NE(e->port(), 0);
  EXPECT_EQ(e->address(), "127.0.0.1:" + std::to_string(e->port()));
  EXPECT_FALSE(e->tls());

  std::string r = Exchange(e->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK") << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  const std::string body = Body(r);
  EXPECT_NE(body.find("# TYPE test_metric_2 gauge\n"), std::string::npos) << body;
  EXPECT_NE(body.find("test_metric_1{padding=\""), std::string::npos) << body;
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << r;

  // HTTP/1.0, a query string, bare LF line ends.
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics?x=1 HTTP/1.0\n\n")), "HTTP/1.1 200 OK");
  // HEAD: the headers of the GET, no body.
  r = Exchange(e->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK") << r;
  EXPECT_EQ(Body(r), "") << r;
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << r;

  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET / HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metricsx HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
  r = Exchange(e->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 405 Method Not Allowed") << r;
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics HTTP/2.0\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(StatusLine(Exchange(e->port(), "\x16\x03\x01 garbage\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  // A header too large for the request buffer.
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n")),
            "HTTP/1.1 431 Request Header Fields Too Large");
  // A client that closes without a request; then the server still answers.
  close(Connect(e->port()));
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsExporterHttp, PortInUse) {
  auto first = StartOrDie(std::make_shared<FakeCollectable>(1));
  ASSERT_TRUE(first);
  auto second = MetricsExporter::Start("127.0.0.1", first->port(), std::make_shared<FakeCollectable>(1));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().Is(errc::kAddressInUse)) << second.status().ToString();
  EXPECT_NE(second.status().message().find("prometheus exporter: cannot listen on 127.0.0.1:" +
                                           std::to_string(first->port())),
            std::string::npos)
      << second.status().message();
}

// Stalled clients take no scrape's turn: idle connections, half a request, and a large
// response nobody reads, while a scrape goes through; then more idle connections than the
// server keeps, and a scrape still goes through.
TEST(MetricsExporterHttp, StalledClientsDoNotBlockScrapes) {
  auto e = StartOrDie(std::make_shared<FakeCollectable>(20000));  // ~6 MB of text
  ASSERT_TRUE(e);
  std::vector<int> held;
  for (int i = 0; i < 4; i++) held.push_back(Connect(e->port()));
  held.push_back(Connect(e->port()));
  ASSERT_EQ(send(held.back(), "GET /metr", 9, MSG_NOSIGNAL), 9);
  held.push_back(Connect(e->port(), 4096));
  const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(held.back(), req, sizeof(req) - 1, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof(req) - 1));
  for (int i = 0; i < 3; i++) {
    const std::string r = Exchange(e->port(), "GET /metrics HTTP/1.1\r\n\r\n");
    ASSERT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
    EXPECT_NE(Body(r).find("test_metric_19999{"), std::string::npos);
  }
  for (int i = 0; i < 80; i++) held.push_back(Connect(e->port()));
  const std::string r = Exchange(e->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  for (int fd : held)
    if (fd >= 0) close(fd);
}

class MetricsExporterTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Have("openssl")) GTEST_SKIP() << "the openssl command is not installed";
    dir_ = std::filesystem::temp_directory_path() / ("nvmeof-exporter-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "server.cert").string();
    key_ = (dir_ / "server.key").string();
    int rc;
    Shell("cd " + dir_.string() +
            " && openssl req -x509 -newkey rsa:2048 -nodes -keyout server.key -out server.cert -days 2"
            " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >openssl.log 2>&1"
            " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.cert -days 2"
            " -subj /CN=other >>openssl.log 2>&1",
        &rc);
    ASSERT_EQ(rc, 0) << "openssl failed: " << Shell("cat " + dir_.string() + "/openssl.log", &rc);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string Curl(uint16_t port, const std::string& args, int* rc) {
    return Shell("curl -sS --max-time 20 --cacert " + cert_ + " " + args + " https://127.0.0.1:" +
                   std::to_string(port) + "/metrics 2>&1",
               rc);
  }

  std::filesystem::path dir_;
  std::string cert_, key_;
};

TEST_F(MetricsExporterTls, CurlScrapesOverHttps) {
  if (!Have("curl")) GTEST_SKIP() << "curl is not installed";
  auto e = StartOrDie(std::make_shared<FakeCollectable>(2), ExporterTls{cert_, key_});
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->tls());
  int rc;
  std::string out = Curl(e->port(), "", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("# TYPE test_metric_1 gauge\n"), std::string::npos) << out;
  // TLS 1.2 too; a client that does not trust the certificate refuses it.
  out = Curl(e->port(), "--tls-max 1.2", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("test_metric_0{"), std::string::npos) << out;
  out = Shell("curl -sS --max-time 20 https://127.0.0.1:" + std::to_string(e->port()) + "/metrics 2>&1", &rc);
  EXPECT_NE(rc, 0) << out;
  // Stalled clients (idle, a ClientHello's first byte only) while curl scrapes.
  std::vector<int> held{Connect(e->port()), Connect(e->port())};
  ASSERT_EQ(send(held[1], "\x16", 1, MSG_NOSIGNAL), 1);
  out = Curl(e->port(), "-o /dev/null -w '%{http_code}'", &rc);
  EXPECT_EQ(out, "200") << out;
  for (int fd : held) close(fd);
}

TEST_F(MetricsExporterTls, PlainHttpToTheHttpsPortIsRefused) {
  auto e = StartOrDie(std::make_shared<FakeCollectable>(1), ExporterTls{cert_, key_});
  ASSERT_TRUE(e);
  const std::string r = Exchange(e->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 400 Bad Request") << r;
  EXPECT_NE(Body(r).find("This port serves HTTPS"), std::string::npos) << r;
  EXPECT_EQ(Body(r).find("test_metric"), std::string::npos) << r;
  if (Have("curl")) {
    int rc;
    const std::string out = Shell("curl -sS --max-time 20 -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                                    std::to_string(e->port()) + "/metrics 2>&1",
                                &rc);
    EXPECT_EQ(out, "400") << out;
  }
  // A TLS record that is no ClientHello: no HTTP answer, the connection is closed; the
  // server goes on.
  const std::string bad = Exchange(e->port(), std::string("\x16\x03\x01\x00\x05" "hello", 10));
  EXPECT_EQ(bad.find("HTTP/"), std::string::npos) << bad;
  EXPECT_EQ(StatusLine(Exchange(e->port(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 400 Bad Request");
}

TEST_F(MetricsExporterTls, CertificateErrorsNameTheFile) {
  auto c = std::make_shared<FakeCollectable>(1);
  const std::string missing = (dir_ / "missing.cert").string();
  auto r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{missing, key_});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "prometheus exporter: certificate " + missing + ": No such file or directory");

  r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{cert_, missing});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "prometheus exporter: private key " + missing + ": No such file or directory");

  const std::string garbage = (dir_ / "garbage.cert").string();
  std::ofstream(garbage) << "not a certificate\n";
  r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{garbage, key_});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("prometheus exporter: certificate " + garbage + ": ", 0), 0u)
      << r.status().message();

  const std::string other_key = (dir_ / "other.key").string();
  r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{cert_, other_key});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "prometheus exporter: private key " + other_key + " does not match certificate " + cert_);

  r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{cert_, cert_});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("prometheus exporter: private key " + cert_ + ": ", 0), 0u)
      << r.status().message();

  if (geteuid() != 0) {  // root reads any file
    std::filesystem::permissions(key_, std::filesystem::perms::none);
    r = MetricsExporter::Start("127.0.0.1", 0, c, ExporterTls{cert_, key_});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "prometheus exporter: private key " + key_ + ": Permission denied");
  }
}

}  // namespace
}  // namespace nvmeof
