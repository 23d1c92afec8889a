// SocketStream over a socketpair: receive, gathered send, would-block, half-close, close;
// SocketListener: listen, accept, peer and local addresses.
#include "gateway/runtime/socket_stream.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace nvmeof {
namespace {

TEST(SocketStream, RecvSendShutdownClose) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  SocketStream s(sv[0]);
  EXPECT_EQ(s.fd(), sv[0]);
  char buf[64];
  EXPECT_EQ(s.Recv(buf, sizeof(buf)), -EAGAIN);

  const char a[] = "head", b[] = "er+data";
  struct iovec iov[2] = {{const_cast<char*>(a), 4}, {const_cast<char*>(b), 7}};
  EXPECT_EQ(s.SendV(iov, 2), 11);
  EXPECT_EQ(read(sv[1], buf, sizeof(buf)), 11);
  EXPECT_EQ(std::string(buf, 11), "header+data");

  ASSERT_EQ(write(sv[1], "xyz", 3), 3);
  EXPECT_EQ(s.Recv(buf, sizeof(buf)), 3);
  EXPECT_EQ(std::string(buf, 3), "xyz");

  // Fill the peer's buffer: a send that cannot go now is -EAGAIN.
  std::vector<char> big(1 << 20, 'x');
  struct iovec one{big.data(), big.size()};
  ssize_t n;
  while ((n = s.SendV(&one, 1)) > 0) {
  }
  EXPECT_EQ(n, -EAGAIN);

  s.ShutdownWrite();  // the peer reads what was sent, then end of stream
  while (read(sv[1], big.data(), big.size()) > 0) {
  }
  EXPECT_EQ(read(sv[1], buf, sizeof(buf)), 0);
  ASSERT_EQ(write(sv[1], "k", 1), 1);  // receiving goes on
  EXPECT_EQ(s.Recv(buf, sizeof(buf)), 1);

  close(sv[1]);
  EXPECT_EQ(s.Recv(buf, sizeof(buf)), 0);
  // A send to a closed peer is an error value, not SIGPIPE.
  EXPECT_EQ(s.SendV(iov, 2), -EPIPE);
  s.Close();
  EXPECT_EQ(s.fd(), -1);
  s.Close();  // idempotent
}

TEST(SocketListener, AcceptsWithAddresses) {
  auto l = SocketListener::Listen("127.0.0.1", "0", false);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  AcceptedStream a;
  EXPECT_EQ(l.value()->Accept(&a), -EAGAIN);
  struct sockaddr_in sin{};
  socklen_t sl = sizeof(sin);
  ASSERT_EQ(getsockname(l.value()->fd(), reinterpret_cast<sockaddr*>(&sin), &sl), 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  int rc = -EAGAIN;
  for (int i = 0; i < 100 && rc == -EAGAIN; i++) {
    rc = l.value()->Accept(&a);
    if (rc == -EAGAIN) usleep(10000);
  }
  ASSERT_EQ(rc, 0);
  ASSERT_NE(a.stream, nullptr);
  EXPECT_EQ(a.local_addr, "127.0.0.1");
  EXPECT_EQ(a.peer.rfind("127.0.0.1:", 0), 0u) << a.peer;
  EXPECT_TRUE(fcntl(a.stream->fd(), F_GETFL) & O_NONBLOCK);
  close(c);

  auto bad = SocketListener::Listen("not-an-address", "4420", false);
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

}  // namespace
}  // namespace nvmeof
