// DH-HMAC-CHAP over NVMe/TCP, in-process: a real Target with a memory namespace behind a
// TcpListener, hosts from tests/host authenticating every queue (admin and I/O) with the host
// library's DH-HMAC-CHAP. One-way and bidirectional for each hash with the NULL group and
// FFDHE2048 (and one FFDHE3072 case), with verified I/O; a wrong host key (the controller's
// Failure1 "authentication failed"), a wrong controller key (the host's Failure2 after a
// mismatching R2), no key (Authentication Required), and no hash in common (Failure1 "no
// usable hash function"), each with the queue left unauthenticated.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/nvmf/auth_keys.h"
#include "gateway/protocol/nvme_auth.h"
#include "gateway/transport/tcp/engine_test_util.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.test:dhchap";
constexpr char kHost[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000c1";
constexpr char kPlainHost[] = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000c2";

// A DHHC-1 secret: `len` bytes from `first` upward, transformed with hash `hh`.
std::string Secret(uint8_t hh, size_t len, uint8_t first) {
  auth::DhchapSecret s;
  s.hash = hh;
  for (size_t i = 0; i < len; i++) s.key.push_back(static_cast<uint8_t>(first + i));
  return auth::FormatDhchapSecret(s);
}

class DhchapTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kError);
    group_.Start();
    host_key_ = Secret(1, 32, 0x10);
    ctrl_key_ = Secret(3, 64, 0x80);
    lt_ = std::make_unique<test::ListeningTarget>(group_, Options(), kNqn);
    Target& t = lt_->target;
    ASSERT_TRUE(t.AddHost(kNqn, HostEntry{kHost, host_key_, ctrl_key_, {}}).ok());
    ASSERT_TRUE(t.AddHost(kNqn, kPlainHost).ok());
    NamespaceSpec ns;
    ns.nsid = 1;
    ns.block_size = 512;
    ASSERT_TRUE(t.AddNamespace(kNqn, ns, OpenMemoryDevice(16 << 20)).ok());
  }
  void TearDown() override {
    test::SettleReactor(group_);
    lt_->transports.CloseAll();
    group_.Stop();
  }
  virtual TargetOptions Options() { return TargetOptions{}; }

  host::ControllerOptions HostOptions(const std::string& secret, const std::string& ctrl_secret, uint8_t hash,
                                      uint8_t group) {
    host::ControllerOptions o;
    o.port = lt_->port;
    o.subnqn = kNqn;
    o.hostnqn = kHost;
    o.dhchap.secret = secret;
    o.dhchap.ctrl_secret = ctrl_secret;
    o.dhchap.hashes = {hash};
    o.dhchap.dhgroups = {group};
    return o;
  }

  ReactorGroup group_{2};
  std::unique_ptr<test::ListeningTarget> lt_;
  std::string host_key_, ctrl_key_;
};

// An I/O queue that has not authenticated refuses commands with Authentication Required.
void ExpectAuthRequired(host::Connection& q) {
  nvme::Sqe s = host::cmd::PropertyGet(nvme::kPropCap, true);
  host::Completion c = q.Execute(s);
  ASSERT_TRUE(c.transport_ok) << c.error;
  EXPECT_EQ(c.status.sct, nvme::kSctCommandSpecific) << c.ToString();
  EXPECT_EQ(c.status.sc, nvme::kScAuthRequired) << c.ToString();
}

TEST_F(DhchapTransportTest, EveryQueueAuthenticatesAndRunsVerifiedIo) {
  struct Case {
    uint8_t hash, group;
  };
  std::vector<Case> cases;
  for (uint8_t h : {nvme::kHashSha256, nvme::kHashSha384, nvme::kHashSha512})
    for (uint8_t g : {nvme::kDhGroupNull, nvme::kDhGroup2048}) cases.push_back({h, g});
  cases.push_back({nvme::kHashSha384, nvme::kDhGroup3072});
  int round = 0;
  for (const Case& k : cases) {
    for (bool bidi : {false, true}) {
      SCOPED_TRACE(std::string(auth::HashName(k.hash)) + " " + auth::DhGroupName(k.group) +
                   (bidi ? " bidirectional" : " one-way"));
      round++;
      host::Controller c(HostOptions(host_key_, bidi ? ctrl_key_ : "", k.hash, k.group));
      std::string err;
      ASSERT_TRUE(c.Open(&err)) << err;
      EXPECT_TRUE(c.last_auth().attempted);
      EXPECT_TRUE(c.last_auth().ok);
      EXPECT_EQ(c.last_auth().hash, k.hash);
      EXPECT_EQ(c.last_auth().dhgroup, k.group);
      EXPECT_EQ(c.last_auth().bidirectional, bidi);
      for (int i = 0; i < 2; i++) {
        auto q = c.AddIoQueue();
        ASSERT_TRUE(q.ok()) << q.ToString();
        EXPECT_TRUE(c.last_auth().ok);
        EXPECT_EQ(c.last_auth().bidirectional, bidi);
      }
      // Each I/O queue writes its own blocks (in-capsule and by R2T), both read them back.
      for (size_t i = 0; i < c.io_count(); i++) {
        std::vector<uint8_t> small(4096), big(64 << 10);
        for (size_t j = 0; j < small.size(); j++) small[j] = static_cast<uint8_t>(j * 7 + round + i);
        for (size_t j = 0; j < big.size(); j++) big[j] = static_cast<uint8_t>(j * 11 + round + i);
        uint64_t lba = 1024 * i;
        auto w = c.Write(c.io(i), 1, lba, 8, small.data(), small.size());
        ASSERT_TRUE(w.ok()) << w.ToString();
        auto w2 = c.Write(c.io(i), 1, lba + 8, 128, big.data(), big.size());
        ASSERT_TRUE(w2.ok()) << w2.ToString();
        for (size_t r = 0; r < c.io_count(); r++) {
          std::vector<uint8_t> in(small.size()), in2(big.size());
          auto rd = c.Read(c.io(r), 1, lba, 8, in.data(), in.size());
          ASSERT_TRUE(rd.ok()) << rd.ToString();
          EXPECT_EQ(in, small);
          auto rd2 = c.Read(c.io(r), 1, lba + 8, 128, in2.data(), in2.size());
          ASSERT_TRUE(rd2.ok()) << rd2.ToString();
          EXPECT_EQ(in2, big);
        }
      }
      // Re-authentication on a working queue.
      host::AuthOutcome again;
      EXPECT_TRUE(c.io(0).Authenticate(c.options().dhchap, kHost, kNqn, &again)) << again.error;
    }
  }
}

TEST_F(DhchapTransportTest, WrongHostKeyIsRefusedByTheController) {
  for (uint8_t g : {nvme::kDhGroupNull, nvme::kDhGroup2048}) {
    SCOPED_TRACE(auth::DhGroupName(g));
    host::Controller c(HostOptions(Secret(1, 32, 0x11), "", nvme::kHashSha256, g));
    host::Completion a = c.ConnectAdmin();
    EXPECT_FALSE(a.ok());
    EXPECT_FALSE(a.transport_ok);
    EXPECT_NE(a.error.find("DH-HMAC-CHAP"), std::string::npos) << a.error;
    const host::AuthOutcome& o = c.last_auth();
    EXPECT_TRUE(o.attempted);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure1, nvme::kAuthExplFailed);
    EXPECT_EQ(o.failure2, 0);
    EXPECT_TRUE(o.status.ok());  // the commands succeeded; the transaction did not
    ASSERT_TRUE(c.has_admin());
    ExpectAuthRequired(c.admin());
  }
}

TEST_F(DhchapTransportTest, WrongControllerKeyIsDetectedByTheHost) {
  for (uint8_t g : {nvme::kDhGroupNull, nvme::kDhGroup2048}) {
    SCOPED_TRACE(auth::DhGroupName(g));
    host::Controller c(HostOptions(host_key_, Secret(3, 64, 0x81), nvme::kHashSha512, g));
    host::Completion a = c.ConnectAdmin();
    EXPECT_FALSE(a.ok());
    const host::AuthOutcome& o = c.last_auth();
    EXPECT_TRUE(o.attempted);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure1, 0);
    EXPECT_EQ(o.failure2, nvme::kAuthExplFailed);
    EXPECT_NE(o.error.find("wrong controller response"), std::string::npos) << o.error;
    // The controller took the Failure2: the queue is not authenticated.
    ASSERT_TRUE(c.has_admin());
    ExpectAuthRequired(c.admin());
  }
}

TEST_F(DhchapTransportTest, HostWithoutKeyGetsAuthenticationRequired) {
  host::ControllerOptions o = HostOptions("", "", nvme::kHashSha256, nvme::kDhGroupNull);
  host::Controller c(o);
  host::Completion a = c.ConnectAdmin();
  ASSERT_TRUE(a.ok()) << a.ToString();
  EXPECT_TRUE(a.cqe.dw0 & nvme::kConnectAuthreqAtr);
  EXPECT_FALSE(c.last_auth().attempted);
  host::Completion e = c.Enable();
  EXPECT_EQ(e.status, nvme::CmdSpecific(nvme::kScAuthRequired)) << e.ToString();
  ExpectAuthRequired(c.admin());
  std::string err;
  host::Controller c2(o);
  EXPECT_FALSE(c2.Open(&err));
  // A host without a key on the subsystem needs none.
  o.hostnqn = kPlainHost;
  host::Controller plain(o);
  ASSERT_TRUE(plain.Open(&err)) << err;
  EXPECT_FALSE(plain.last_auth().attempted);
  auto q = plain.AddIoQueue();
  EXPECT_TRUE(q.ok()) << q.ToString();
}

TEST_F(DhchapTransportTest, HostSecretMustBeWellFormed) {
  host::Controller c(HostOptions("DHHC-1:01:notbase64!:", "", nvme::kHashSha256, nvme::kDhGroupNull));
  host::Completion a = c.ConnectAdmin();
  EXPECT_FALSE(a.ok());
  EXPECT_FALSE(c.last_auth().attempted);
  EXPECT_NE(c.last_auth().error.find("host secret"), std::string::npos) << c.last_auth().error;
}

class DhchapSha512OnlyTest : public DhchapTransportTest {
 protected:
  TargetOptions Options() override {
    TargetOptions o;
    o.dhchap_hashes = {nvme::kHashSha512};
    o.dhchap_dhgroups = {nvme::kDhGroup2048};
    return o;
  }
};

TEST_F(DhchapSha512OnlyTest, NothingInCommonIsRefusedWithTheReason) {
  {
    host::Controller c(HostOptions(host_key_, "", nvme::kHashSha256, nvme::kDhGroup2048));
    EXPECT_FALSE(c.ConnectAdmin().ok());
    EXPECT_EQ(c.last_auth().failure1, nvme::kAuthExplHashUnusable);
  }
  {
    host::Controller c(HostOptions(host_key_, "", nvme::kHashSha512, nvme::kDhGroupNull));
    EXPECT_FALSE(c.ConnectAdmin().ok());
    EXPECT_EQ(c.last_auth().failure1, nvme::kAuthExplDhGroupUnusable);
  }
  host::Controller c(HostOptions(host_key_, ctrl_key_, nvme::kHashSha512, nvme::kDhGroup2048));
  std::string err;
  EXPECT_TRUE(c.Open(&err)) << err;
}

}  // namespace
}  // namespace nvmeof
