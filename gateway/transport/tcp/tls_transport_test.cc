// NVMe/TCP over TLS 1.3 with PSKs, in-process: a real Target with a memory namespace behind a
// secure listener, hosts from tests/host (their own PSK derivation and OpenSSL client) over
// loopback. Verified I/O with and without digests (in-capsule, R2T + H2CData, C2HData) for
// SHA-256 and SHA-384 PSKs and both identity versions; a plain host, a wrong PSK and an
// unknown host refused; the discovery log's TREQ and TSAS over TLS.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/transport/tcp/engine_test_util.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.test:tls";
constexpr char kHost256[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000a1";
constexpr char kHost384[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000a2";
constexpr char kPlainHost[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000a3";
// Key bytes 00..1f (hash 01) and 40..6f (hash 02), as in gateway/nvmf/tls_psk_test.cc.
constexpr char kPsk256[] = "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr char kPsk384[] =
    "NVMeTLSkey-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";
// Key bytes 80..9f, hash 00.
constexpr char kOtherPsk[] = "NVMeTLSkey-1:00:gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp9vmVbU:";

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kError);
    group_.Start();
    ASSERT_TRUE(RegisterTcpTransport(transports_, &target_, group_).ok());
    target_.SetTransports(&transports_);
    SubsystemSpec s;
    s.nqn = kNqn;
    ASSERT_TRUE(target_.AddSubsystem(s).ok());
    ASSERT_TRUE(target_.AddHost(kNqn, HostEntry{kHost256, {}, {}, kPsk256}).ok());
    ASSERT_TRUE(target_.AddHost(kNqn, HostEntry{kHost384, {}, {}, kPsk384}).ok());
    ASSERT_TRUE(target_.AddHost(kNqn, kPlainHost).ok());
    NamespaceSpec ns;
    ns.nsid = 1;
    ns.block_size = 512;
    ASSERT_TRUE(target_.AddNamespace(kNqn, ns, OpenMemoryDevice(16 << 20)).ok());
    for (port_ = static_cast<uint16_t>(26000 + getpid() % 20000);; port_++) {
      ListenerSpec l;
      l.traddr = "127.0.0.1";
      l.trsvcid = std::to_string(port_);
      l.secure = true;
      if (target_.AddListener(kNqn, l).ok()) break;
    }
  }
  void TearDown() override {
    test::SettleReactor(group_);
    transports_.CloseAll();
    group_.Stop();
  }
  host::ControllerOptions Options(const char* hostnqn, const char* psk, int version = 1) {
    host::ControllerOptions o;
    o.port = port_;
    o.subnqn = kNqn;
    o.hostnqn = hostnqn;
    o.tls_psk = psk ? psk : "";
    o.tls_identity_version = version;
    return o;
  }

  ReactorGroup group_{2};
  Target target_{TargetOptions{}};
  TransportRegistry transports_;
  uint16_t port_ = 0;
};

TEST_F(TlsTransportTest, VerifiedIoOverTls) {
  struct Case {
    const char* host;
    const char* psk;
    int version;
    bool digests;
  };
  for (const Case& k : {Case{kHost256, kPsk256, 1, false}, Case{kHost256, kPsk256, 0, true},
                        Case{kHost384, kPsk384, 1, true}, Case{kHost384, kPsk384, 0, false}}) {
    SCOPED_TRACE(std::string(k.host) + " version " + std::to_string(k.version) + (k.digests ? " digests" : ""));
    host::ControllerOptions o = Options(k.host, k.psk, k.version);
    o.ic.hdgst = o.ic.ddgst = k.digests;
    host::Controller c(o);
    std::string err;
    ASSERT_TRUE(c.Open(&err)) << err;
    ASSERT_TRUE(c.admin().tls());
    auto q = c.AddIoQueue();
    ASSERT_TRUE(q.ok()) << q.ToString();
    ASSERT_TRUE(c.io().tls());
    {  // listed as a connection over TLS (list_connections' secure / use_psk)
      auto conns = target_.Connections(kNqn);
      ASSERT_EQ(conns.size(), 1u);
      EXPECT_TRUE(conns[0].secure);
    }
    // 256 KiB writes (R2T, two H2CData PDUs each: MAXH2CDATA is 128 KiB), a small in-capsule write, reads back.
    std::vector<uint8_t> big(256 << 10), small(4096), in(256 << 10);
    for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 13 + k.version + k.digests);
    for (size_t i = 0; i < small.size(); i++) small[i] = static_cast<uint8_t>(i * 5 + 1);
    for (uint64_t lba = 0; lba < 8192; lba += 512) {
      auto w = c.Write(c.io(), 1, lba, 512, big.data(), big.size());
      ASSERT_TRUE(w.ok()) << w.ToString();
    }
    auto w2 = c.Write(c.io(), 1, 10000, 8, small.data(), small.size());
    ASSERT_TRUE(w2.ok()) << w2.ToString();
    for (uint64_t lba = 0; lba < 8192; lba += 512) {
      std::fill(in.begin(), in.end(), 0);
      auto r = c.Read(c.io(), 1, lba, 512, in.data(), in.size());
      ASSERT_TRUE(r.ok()) << r.ToString();
      ASSERT_EQ(in, big);
    }
    auto r2 = c.Read(c.io(), 1, 10000, 8, in.data(), 4096);
    ASSERT_TRUE(r2.ok()) << r2.ToString();
    EXPECT_EQ(0, memcmp(in.data(), small.data(), 4096));
    // Pipelined: 32 reads of 4 KiB in flight.
    std::vector<std::vector<uint8_t>> bufs(32, std::vector<uint8_t>(4096));
    std::vector<uint16_t> cids;
    for (int i = 0; i < 32; i++) {
      nvme::Sqe sqe = host::cmd::Read(1, static_cast<uint64_t>(i) * 8, 8);
      ASSERT_TRUE(c.io().Submit(&sqe, nullptr, 0, bufs[i].data(), 4096));
      cids.push_back(sqe.cid);
    }
    for (int i = 0; i < 32; i++) {
      auto r = c.io().Wait(cids[i]);
      ASSERT_TRUE(r.ok()) << r.ToString();
      EXPECT_EQ(0, memcmp(bufs[i].data(), big.data() + (static_cast<size_t>(i) * 4096) % big.size(), 4096));
    }
    c.io().Close();
    c.admin().Close();
  }
}

TEST_F(TlsTransportTest, PlainHostIsRefused) {
  host::Connection conn;
  ASSERT_TRUE(conn.Connect("127.0.0.1", port_));
  EXPECT_FALSE(conn.Initialize());
  EXPECT_TRUE(conn.WaitForClose(5000));
  // And through the controller path, for a host without a PSK.
  host::Controller c(Options(kPlainHost, nullptr));
  EXPECT_FALSE(c.Open());
}

TEST_F(TlsTransportTest, WrongPskIsRefused) {
  for (int version : {0, 1}) {
    host::Controller c(Options(kHost256, kOtherPsk, version));
    std::string err;
    EXPECT_FALSE(c.Open(&err));
    EXPECT_NE(err.find("TLS handshake failed"), std::string::npos) << err;
  }
  // A host the subsystem knows without a PSK, and one it does not know.
  host::Controller plain(Options(kPlainHost, kPsk256));
  EXPECT_FALSE(plain.Open());
  host::Controller stranger(Options("nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000ff", kPsk256));
  EXPECT_FALSE(stranger.Open());
}

TEST_F(TlsTransportTest, ConnectMustNameTheIdentitysHost) {
  // TLS with kHost256's PSK, then a Connect as kPlainHost (allowed, but not who the PSK
  // authenticated): refused.
  host::TlsClientPsk psk;
  std::string err;
  ASSERT_TRUE(host::DeriveTlsClientPsk(kPsk256, kHost256, kNqn, 1, &psk, &err)) << err;
  host::Connection conn;
  ASSERT_TRUE(conn.Connect("127.0.0.1", port_));
  ASSERT_TRUE(conn.StartTls(psk)) << conn.last_error();
  ASSERT_TRUE(conn.Initialize()) << conn.last_error();
  host::ControllerOptions o = Options(kPlainHost, nullptr);
  nvme::ConnectData data = host::cmd::MakeConnectData(o.hostid, 0xFFFF, kNqn, kPlainHost);
  conn.set_in_capsule_limit(8192);
  auto c = conn.Execute(host::cmd::Connect(0, 31, 0), &data, sizeof(data));
  ASSERT_TRUE(c.transport_ok) << c.error;
  EXPECT_EQ(c.status.sc, nvme::kScConnectInvalidHost);
  // The same connection's own host is accepted.
  data = host::cmd::MakeConnectData(o.hostid, 0xFFFF, kNqn, kHost256);
  c = conn.Execute(host::cmd::Connect(0, 31, 0), &data, sizeof(data));
  EXPECT_TRUE(c.ok()) << c.ToString();
}

TEST_F(TlsTransportTest, DiscoveryLogSaysTlsRequired) {
  host::ControllerOptions o = Options(kHost256, kPsk256);
  o.subnqn = nvme::kDiscoveryNqn;
  host::Controller c(o);
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  std::vector<uint8_t> page(4096);
  auto r = c.GetLogPage(nvme::kLogDiscovery, page.data(), static_cast<uint32_t>(page.size()), 0);
  ASSERT_TRUE(r.ok()) << r.ToString();
  nvme::DiscoveryLogHeader h;
  memcpy(&h, page.data(), sizeof(h));
  ASSERT_EQ(h.numrec, 2u);  // the discovery subsystem as reached, and the subsystem
  for (uint64_t i = 0; i < h.numrec; i++) {
    nvme::DiscoveryLogEntry e;
    memcpy(&e, page.data() + sizeof(h) + i * sizeof(e), sizeof(e));
    EXPECT_EQ(e.treq & 3, nvme::kTreqRequired);
    EXPECT_EQ(e.tsas[0], nvme::kTcpSectypeTls13);
    EXPECT_EQ(std::string(e.trsvcid), std::to_string(port_));
  }
}

TEST_F(TlsTransportTest, PortIsTlsOrPlainForAllItsSubsystems) {
  SubsystemSpec s;
  s.nqn = "nqn.2016-06.io.test:tls2";
  ASSERT_TRUE(target_.AddSubsystem(s).ok());
  ListenerSpec l;
  l.traddr = "127.0.0.1";
  l.trsvcid = std::to_string(port_);
  Status st = target_.AddListener(s.nqn, l);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.message();
  l.secure = true;
  EXPECT_TRUE(target_.AddListener(s.nqn, l).ok());
}

}  // namespace
}  // namespace nvmeof
