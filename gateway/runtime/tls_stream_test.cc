// TlsStream over a non-blocking socket pair: the PSK handshake both ways, gathered sends
// larger than a TLS record, a wrong key, an unknown identity and a plain (non-TLS) peer.
#include "gateway/runtime/tls_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nvmeof {
namespace {

constexpr char kIdentity[] = "NVMe1R01 nqn.host nqn.sub digest";

TlsPsk Key(uint8_t fill, uint8_t hash = 1) {
  return TlsPsk{std::vector<uint8_t>(hash == 2 ? 48 : 32, fill), hash};
}

struct Pair {
  std::unique_ptr<TlsStream> server, client;
  int lookups = 0;
};

Pair MakePair(TlsPsk server_key, TlsPsk client_key, std::string client_identity = kIdentity) {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  for (int fd : sv) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  Pair p;
  auto sctx = TlsContext::Server(
      [server_key, &p](std::string_view id) -> Result<TlsPsk> {
        p.lookups++;
        if (id != kIdentity) return Status::NotFound("unknown identity");
        return server_key;
      },
      false);
  auto cctx = TlsContext::Client(client_identity, client_key, false);
  EXPECT_TRUE(sctx.ok() && cctx.ok());
  p.server = std::move(TlsStream::Make(sv[0], sctx.value(), "client").value());
  p.client = std::move(TlsStream::Make(sv[1], cctx.value(), "server").value());
  return p;
}

// Drives both handshakes until done or one fails: 0 or the first failure.
int Handshake(Pair& p) {
  for (int i = 0; i < 100; i++) {
    int c = p.client->Handshake();
    int s = p.server->Handshake();
    if (c == 0 && s == 0) return 0;
    if (c != 0 && c != -EAGAIN) return c;
    if (s != 0 && s != -EAGAIN) return s;
  }
  return -ETIMEDOUT;
}

TEST(TlsStream, PskHandshakeAndData) {
  for (uint8_t hash : {1, 2}) {
    Pair p = MakePair(Key(7, hash), Key(7, hash));
    ASSERT_EQ(Handshake(p), 0);
    EXPECT_EQ(p.server->identity(), kIdentity);
    EXPECT_EQ(p.lookups, 1);

    // 200 KiB in three gathered pieces, received through small and large buffers.
    std::vector<uint8_t> a(24), b(200 * 1024), c(4);
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<uint8_t>(i * 7 + hash);
    memset(a.data(), 0xa5, a.size());
    memset(c.data(), 0x5a, c.size());
    std::vector<uint8_t> want;
    for (auto* v : {&a, &b, &c}) want.insert(want.end(), v->begin(), v->end());
    std::vector<uint8_t> got(want.size());
    size_t sent = 0, recvd = 0;
    for (int round = 0; round < 10000 && recvd < want.size(); round++) {
      if (sent < want.size()) {
        struct iovec iov[3];
        int n = 0;
        size_t skip = sent;
        for (auto* v : {&a, &b, &c}) {
          if (skip >= v->size()) {
            skip -= v->size();
            continue;
          }
          iov[n++] = {v->data() + skip, v->size() - skip};
          skip = 0;
        }
        ssize_t w = p.client->SendV(iov, n);
        ASSERT_TRUE(w > 0 || w == -EAGAIN) << w;
        if (w > 0) sent += static_cast<size_t>(w);
      }
      size_t want_len = (round % 2) ? 8 : 64 * 1024;
      ssize_t r = p.server->Recv(got.data() + recvd, std::min(want_len, got.size() - recvd));
      ASSERT_TRUE(r > 0 || r == -EAGAIN) << r;
      if (r > 0) recvd += static_cast<size_t>(r);
    }
    ASSERT_EQ(recvd, want.size());
    EXPECT_EQ(got, want);
    EXPECT_FALSE(p.server->Buffered());

    // The other way, and the peer's close.
    struct iovec one = {a.data(), a.size()};
    ASSERT_EQ(p.server->SendV(&one, 1), static_cast<ssize_t>(a.size()));
    uint8_t back[64];
    ssize_t r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) r = p.client->Recv(back, sizeof(back));
    ASSERT_EQ(r, static_cast<ssize_t>(a.size()));
    p.client->ShutdownWrite();
    r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) r = p.server->Recv(back, sizeof(back));
    EXPECT_EQ(r, 0);
  }
}

TEST(TlsStream, WrongKeyFailsTheHandshake) {
  Pair p = MakePair(Key(7), Key(8));
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Handshake(p), -ECONNABORTED);
  const std::string log = ::testing::internal::GetCapturedStderr();
  uint8_t buf[16];
  EXPECT_EQ(p.server->Recv(buf, sizeof(buf)), -ECONNABORTED);
  // The operator's line names the peer and the identity it offered (host and subsystem
  // NQN), so a wrong key is told apart from an unknown host.
  EXPECT_NE(log.find("TLS handshake with client (PSK identity \"" + std::string(kIdentity) + "\") failed"),
            std::string::npos)
      << log;
}

TEST(TlsStream, UnknownIdentityFailsTheHandshake) {
  Pair p = MakePair(Key(7), Key(7), "NVMe1R01 nqn.other nqn.sub digest");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Handshake(p), -ECONNABORTED);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(p.lookups, 1);
  // The refusal says why; an identity nobody knows is not echoed as if accepted.
  EXPECT_NE(log.find("TLS handshake with client failed: PSK identity refused: unknown identity"), std::string::npos)
      << log;
}

TEST(TlsStream, HashMismatchFailsTheHandshake) {
  Pair p = MakePair(Key(7, 2), Key(7, 1));
  EXPECT_EQ(Handshake(p), -ECONNABORTED);
}

TEST(TlsStream, PlainPeerIsRefused) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  auto sctx = TlsContext::Server([](std::string_view) -> Result<TlsPsk> { return Key(1); }, false).value();
  auto server = std::move(TlsStream::Make(sv[0], sctx, "plain host").value());
  uint8_t buf[16];
  EXPECT_EQ(server->Recv(buf, sizeof(buf)), -EAGAIN);
  uint8_t icreq[128] = {0x00, 0x00, 128, 0};  // an ICReq's first bytes
  ASSERT_EQ(write(sv[1], icreq, sizeof(icreq)), static_cast<ssize_t>(sizeof(icreq)));
  EXPECT_EQ(server->Recv(buf, sizeof(buf)), -ECONNABORTED);
  close(sv[1]);
}

}  // namespace
}  // namespace nvmeof
