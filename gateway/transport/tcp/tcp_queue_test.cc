// TcpQueue in-process: a real Target with a memory namespace behind a real listener on one
// reactor, a host from tests/host over loopback. Connect, a write and a read (in-capsule,
// R2T + H2CData, C2HData), and a fatal error: the C2HTermReq's contents, then the close.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/transport/tcp/engine_test_util.h"
#include "gateway/transport/tcp/tcp_probe.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.test:tcpqueue";

class TcpQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kError);
    group_.Start();
    lt_ = std::make_unique<test::ListeningTarget>(group_, TargetOptions{}, kNqn);
    NamespaceSpec ns;
    ns.nsid = 1;
    ns.block_size = 512;
    ASSERT_TRUE(lt_->target.AddNamespace(kNqn, ns, OpenMemoryDevice(16 << 20)).ok());
  }
  void TearDown() override {
    test::SettleReactor(group_);
    lt_.reset();
    group_.Stop();
  }
  host::ControllerOptions Options() {
    host::ControllerOptions o;
    o.port = lt_->port;
    o.subnqn = kNqn;
    return o;
  }
  // Connects and sends the ICReq (asking for header digests when hdgst).
  void Open(host::Connection& conn, bool hdgst = false) {
    ASSERT_TRUE(conn.Connect("127.0.0.1", lt_->port));
    host::IcOptions ic;
    ic.hdgst = hdgst;
    ASSERT_TRUE(conn.Initialize(ic)) << conn.last_error();
  }
  // A controller-to-host PDU type sent by the host: Invalid PDU Header Field at offset 0.
  static tcp::R2THeader MisdirectedR2T() {
    tcp::R2THeader bad{};
    bad.ch.pdu_type = tcp::kR2T;
    bad.ch.hlen = sizeof(bad);
    bad.ch.plen = sizeof(bad);
    return bad;
  }
  // A Keep Alive capsule whose header digest is wrong.
  static std::vector<uint8_t> KeepAliveWithBadHdgst(host::Connection& conn) {
    nvme::Sqe sqe{};
    sqe.opcode = nvme::kAdminKeepAlive;
    host::Connection::BuildOpts bo;
    bo.corrupt_hdgst = true;
    return conn.BuildCapsuleCmd(sqe, nullptr, 0, bo);
  }

  ReactorGroup group_{1};
  std::unique_ptr<test::ListeningTarget> lt_;
};

TEST_F(TcpQueueTest, ConnectWriteRead) {
  for (bool digests : {false, true}) {
    SCOPED_TRACE(digests);
    host::ControllerOptions o = Options();
    o.ic.hdgst = o.ic.ddgst = digests;
    host::Controller c(o);
    std::string err;
    ASSERT_TRUE(c.Open(&err)) << err;
    auto q = c.AddIoQueue();
    ASSERT_TRUE(q.ok()) << q.ToString();
    std::vector<uint8_t> small(4096), big(256 << 10), in(256 << 10);
    for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 13 + digests);
    for (size_t i = 0; i < small.size(); i++) small[i] = static_cast<uint8_t>(i * 5 + 1);
    auto w = c.Write(c.io(), 1, 0, 512, big.data(), big.size());  // R2T + H2CData
    ASSERT_TRUE(w.ok()) << w.ToString();
    auto w2 = c.Write(c.io(), 1, 1024, 8, small.data(), small.size());  // in-capsule
    ASSERT_TRUE(w2.ok()) << w2.ToString();
    auto r = c.Read(c.io(), 1, 0, 512, in.data(), in.size());  // C2HData
    ASSERT_TRUE(r.ok()) << r.ToString();
    EXPECT_EQ(in, big);
    auto r2 = c.Read(c.io(), 1, 1024, 8, in.data(), 4096);
    ASSERT_TRUE(r2.ok()) << r2.ToString();
    EXPECT_EQ(0, memcmp(in.data(), small.data(), 4096));
    c.io().Close();
    c.admin().Close();
  }
}

// Disconnect on an I/O queue: the host gets its completion (success), then the queue is
// closed (NVMe over Fabrics, Disconnect command); on the admin queue it is refused.
TEST_F(TcpQueueTest, DisconnectCompletesThenCloses) {
  for (int i = 0; i < 20; i++) {  // the completion and the close race inside the reactor
    host::Controller c(Options());
    std::string err;
    ASSERT_TRUE(c.Open(&err)) << err;
    ASSERT_TRUE(c.AddIoQueue().ok());
    auto d = c.Disconnect(c.io());
    ASSERT_TRUE(d.transport_ok) << "no completion for Disconnect: " << d.ToString();
    EXPECT_TRUE(d.ok()) << d.ToString();
    auto a = c.Disconnect(c.admin());
    ASSERT_TRUE(a.transport_ok) << a.ToString();
    EXPECT_FALSE(a.ok());  // Invalid Queue Type: the admin queue goes with the association
    c.io().Close();
    c.admin().Close();
  }
}

int64_t Requests(TcpCounter c, const TcpProbe::Values& base) {
  return static_cast<int64_t>(TcpProbe::Totals()[TcpProbe::Index(c)] - base[TcpProbe::Index(c)]);
}

// Every state change goes through SetState: once the I/O is done every request of both
// queues is back in kFree, and once the queues are gone no request is counted anywhere.
TEST_F(TcpQueueTest, RequestStateCounts) {
  const TcpProbe::Values base = TcpProbe::Totals();
  host::Controller c(Options());
  std::string err;
  ASSERT_TRUE(c.Open(&err)) << err;
  ASSERT_TRUE(c.AddIoQueue().ok());
  std::vector<uint8_t> buf(256 << 10, 0x42);
  ASSERT_TRUE(c.Write(c.io(), 1, 0, 512, buf.data(), buf.size()).ok());
  ASSERT_TRUE(c.Write(c.io(), 1, 0, 8, buf.data(), 4096).ok());
  ASSERT_TRUE(c.Read(c.io(), 1, 0, 512, buf.data(), buf.size()).ok());
  test::SettleReactor(group_);
  const int64_t per_queue = lt_->target.options().max_queue_depth + 1;
  EXPECT_EQ(Requests(TcpCounter::kRequestsFree, base), 2 * per_queue);
  EXPECT_EQ(Requests(TcpCounter::kRequestsRecvCapsuleData, base), 0);
  EXPECT_EQ(Requests(TcpCounter::kRequestsAwaitH2C, base), 0);
  EXPECT_EQ(Requests(TcpCounter::kRequestsExecuting, base), 0);
  EXPECT_EQ(Requests(TcpCounter::kRequestsSending, base), 0);
  c.io().Close();
  c.admin().Close();
  test::SettleReactor(group_);
  for (size_t i = 0; i < TcpProbe::kCount; i++) {
    auto k = static_cast<TcpCounter>(i);
    if (i >= TcpProbe::Index(TcpCounter::kRequestsFree) && i <= TcpProbe::Index(TcpCounter::kRequestsSending)) {
      EXPECT_EQ(Requests(k, base), 0) << TcpCounterName(k);
    }
  }
}

TEST_F(TcpQueueTest, FatalErrorSendsTermReqThenCloses) {
  host::Connection conn;
  ASSERT_NO_FATAL_FAILURE(Open(conn));
  const tcp::R2THeader bad = MisdirectedR2T();
  ASSERT_TRUE(conn.SendRaw(&bad, sizeof(bad)));
  host::TermReq t;
  ASSERT_TRUE(conn.WaitForTermReq(&t, 5000)) << conn.last_error();
  EXPECT_EQ(t.pdu_type, tcp::kC2HTermReq);
  EXPECT_EQ(t.fes, tcp::kFesInvalidHeaderField);
  EXPECT_EQ(t.fei, 0u);
  ASSERT_GE(t.offending.size(), sizeof(tcp::CommonHeader));
  EXPECT_EQ(0, memcmp(t.offending.data(), &bad, sizeof(tcp::CommonHeader)));
  // The target half-closes after the terminate request; what the host still sends is
  // dropped, not answered.
  nvme::Sqe sqe{};
  sqe.opcode = nvme::kAdminKeepAlive;
  conn.SendRaw(conn.BuildCapsuleCmd(sqe, nullptr, 0));
  EXPECT_TRUE(conn.WaitForClose(5000));
}

TEST_F(TcpQueueTest, HeaderDigestErrorEchoesTheDigest) {
  host::Connection conn;
  ASSERT_NO_FATAL_FAILURE(Open(conn, /*hdgst=*/true));
  auto pdu = KeepAliveWithBadHdgst(conn);
  ASSERT_EQ(pdu.size(), sizeof(tcp::CapsuleCmdHeader) + 4);
  uint32_t sent;
  memcpy(&sent, pdu.data() + sizeof(tcp::CapsuleCmdHeader), 4);
  ASSERT_TRUE(conn.SendRaw(pdu));
  host::TermReq t;
  ASSERT_TRUE(conn.WaitForTermReq(&t, 5000)) << conn.last_error();
  EXPECT_EQ(t.fes, tcp::kFesHeaderDigestError);
  EXPECT_EQ(t.fei, sent);
  EXPECT_EQ(t.offending, pdu);
  EXPECT_TRUE(conn.WaitForClose(5000));
}

int64_t Delta(TcpCounter c, const TcpProbe::Values& base) { return Requests(c, base); }

// The transport's counters (tcp_probe.h) follow what happens on the wire.
TEST_F(TcpQueueTest, ProbeCounts) {
  const TcpProbe::Values base = TcpProbe::Totals();
  {
    host::ControllerOptions o = Options();
    o.ic.hdgst = o.ic.ddgst = true;
    host::Controller c(o);
    std::string err;
    ASSERT_TRUE(c.Open(&err)) << err;
    ASSERT_TRUE(c.AddIoQueue().ok());
    std::vector<uint8_t> buf(256 << 10, 0x17);
    ASSERT_TRUE(c.Write(c.io(), 1, 0, 512, buf.data(), buf.size()).ok());  // R2T, 2 H2CData
    ASSERT_TRUE(c.Read(c.io(), 1, 0, 512, buf.data(), buf.size()).ok());
    c.io().Close();
    c.admin().Close();
  }
  test::SettleReactor(group_);
  EXPECT_EQ(Delta(TcpCounter::kConnectionsAccepted, base), 2);
  EXPECT_EQ(Delta(TcpCounter::kConnectionsClosed, base), 2);
  EXPECT_EQ(Delta(TcpCounter::kPdusIcReq, base), 2);
  EXPECT_GE(Delta(TcpCounter::kPdusCapsuleCmd, base), 5);  // 2 Connect, CC.EN, Identify, I/O
  EXPECT_EQ(Delta(TcpCounter::kPdusH2CData, base), 2);
  EXPECT_EQ(Delta(TcpCounter::kR2tSent, base), 1);
  EXPECT_GT(Delta(TcpCounter::kBytesIn, base), 256 << 10);
  EXPECT_GT(Delta(TcpCounter::kBytesOut, base), 256 << 10);
  EXPECT_EQ(Delta(TcpCounter::kDataDigestErrors, base), 0);
  EXPECT_EQ(Delta(TcpCounter::kFatalInvalidHeaderField, base), 0);

  // A data digest error fails the command, counted; the connection stays.
  {
    host::Connection conn;
    ASSERT_TRUE(conn.Connect("127.0.0.1", lt_->port));
    host::IcOptions ic;
    ic.ddgst = true;
    ASSERT_TRUE(conn.Initialize(ic)) << conn.last_error();
    nvme::Sqe sqe{};
    sqe.opcode = nvme::kIoWrite;
    sqe.flags = 0x40;
    sqe.cid = 9;
    sqe.nsid = 1;
    sqe.sgl1.id = nvme::kSglDataBlockOffset;
    sqe.sgl1.length = 512;
    std::vector<uint8_t> data(512, 1);
    host::Connection::BuildOpts bo;
    bo.corrupt_ddgst = true;
    ASSERT_TRUE(conn.SendRaw(conn.BuildCapsuleCmd(sqe, data.data(), 512, bo)));
    host::Pdu rsp;
    ASSERT_EQ(conn.RecvPdu(&rsp), host::RecvStatus::kOk);
    ASSERT_EQ(rsp.type(), tcp::kCapsuleResp);
    auto r = rsp.header<tcp::CapsuleRespHeader>();
    EXPECT_EQ(nvme::Status::Decode(r.cqe.status).sc, nvme::kScTransientTransportError);
  }
  test::SettleReactor(group_);
  EXPECT_EQ(Delta(TcpCounter::kDataDigestErrors, base), 1);

  // Fatal errors, by FES; a header digest error is both.
  {
    host::Connection conn;
    ASSERT_NO_FATAL_FAILURE(Open(conn));
    const tcp::R2THeader bad = MisdirectedR2T();
    ASSERT_TRUE(conn.SendRaw(&bad, sizeof(bad)));
    host::TermReq t;
    ASSERT_TRUE(conn.WaitForTermReq(&t, 5000));
  }
  {
    host::Connection conn;
    ASSERT_NO_FATAL_FAILURE(Open(conn, /*hdgst=*/true));
    ASSERT_TRUE(conn.SendRaw(KeepAliveWithBadHdgst(conn)));
    host::TermReq t;
    ASSERT_TRUE(conn.WaitForTermReq(&t, 5000));
  }
  test::SettleReactor(group_);
  EXPECT_EQ(Delta(TcpCounter::kFatalInvalidHeaderField, base), 1);
  EXPECT_EQ(Delta(TcpCounter::kFatalHeaderDigestError, base), 1);
  EXPECT_EQ(Delta(TcpCounter::kHeaderDigestErrors, base), 1);
  EXPECT_EQ(Delta(TcpCounter::kFatalPduSequenceError, base), 0);
  EXPECT_EQ(Delta(TcpCounter::kConnectionsAccepted, base), 5);
  EXPECT_EQ(Delta(TcpCounter::kConnectionsClosed, base), 5);
  EXPECT_STREQ(TcpCounterName(TcpCounter::kR2tSent), "r2t_sent");
  EXPECT_STREQ(TcpCounterName(TcpCounter::kRequestsSending), "requests_sending");
}

}  // namespace
}  // namespace nvmeof
