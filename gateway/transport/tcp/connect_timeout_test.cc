// Connections that never connect a queue are closed after TargetOptions::connect_timeout_ms;
// a connected one is not.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "gateway/common/log.h"
#include "gateway/transport/tcp/engine_test_util.h"
#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "gateway/protocol/nvme_tcp.h"
#include "gateway/nvmf/target.h"
#include "tests/host/nvmf_host.h"

namespace nvmeof {
namespace {

constexpr char kNqn[] = "nqn.2016-06.io.test:idle";

// True if the peer closed `fd` within ms (reads and drops anything sent before).
bool ClosedWithin(int fd, int ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[512];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
  return false;
}

TEST(ConnectTimeout, IdleConnectionsAreClosedConnectedOnesStay) {
  SetLogLevel(LogLevel::kError);
  ReactorGroup group(1);
  group.Start();
  TargetOptions opts;
  opts.connect_timeout_ms = 300;
  test::ListeningTarget lt(group, opts, kNqn);
  const uint16_t port = lt.port;

  host::Connection silent;  // sends nothing at all
  ASSERT_TRUE(silent.Connect("127.0.0.1", port, 2000)) << silent.last_error();
  host::Connection icreq_only;  // initializes, never connects a queue
  ASSERT_TRUE(icreq_only.Connect("127.0.0.1", port, 2000)) << icreq_only.last_error();
  ASSERT_TRUE(icreq_only.Initialize()) << icreq_only.last_error();
  EXPECT_TRUE(ClosedWithin(silent.fd(), 3000)) << "a silent connection was kept";
  EXPECT_TRUE(icreq_only.WaitForClose(3000)) << "a connection without Connect was kept";
  {
    host::ControllerOptions o;
    o.port = port;
    o.subnqn = kNqn;
    host::Controller ok(o);
    std::string err;
    ASSERT_TRUE(ok.Open(&err)) << err;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // past the deadline
    uint8_t id[4096];
    EXPECT_TRUE(ok.Identify(nvme::kCnsController, 0, id).ok()) << "the connected controller was closed";
  }  // disconnects
  test::SettleReactor(group);
  group.Stop();
}

}  // namespace
}  // namespace nvmeof
