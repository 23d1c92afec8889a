// Unit test for the reactor's probe (gateway/runtime/reactor_probe.h): a running reactor
// counts its loops, posted work and completions, and its busy and idle time.
#include "gateway/runtime/reactor_probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "gateway/runtime/reactor.h"

namespace nvmeof {
namespace {

struct CountingHandler : CompletionHandler {
  std::atomic<int> done{0};
  void OnComplete(Completion*) override { done++; }
};

TEST(ReactorProbe, CountsWhatTheReactorDid) {
  Reactor r(0);
  r.Start();
  const ReactorProbe& p = r.probe();
  const uint64_t posted0 = p.posted();
  // Posted work.
  for (int i = 0; i < 10; i++) {
    std::promise<void> ran;
    r.Post([&] { ran.set_value(); });
    ran.get_future().wait();
  }
  // Completions from another thread and from the reactor's own.
  CountingHandler h;
  Completion remote[5], local[3];
  for (auto& c : remote) {
    c.sink = &r;
    c.handler = &h;
    r.complete(&c);
  }
  r.Post([&] {
    for (auto& c : local) {
      c.sink = &r;
      c.handler = &h;
      r.complete(&c);
    }
  });
  for (int i = 0; i < 200 && h.done < 8; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(h.done, 8);
  // One more turn, so that the counts of the turn that delivered them are stored.
  std::promise<void> turn;
  r.Post([&] { turn.set_value(); });
  turn.get_future().wait();
  // An event: a readable pipe registered on the reactor.
  struct Reader : EventHandler {
    int fd;
    std::atomic<int> seen{0};
    void OnEvents(uint32_t) override {
      char b[16];
      if (read(fd, b, sizeof(b)) > 0) seen++;
    }
  } reader;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  reader.fd = fds[0];
  std::promise<void> added;
  r.Post([&] {
    r.Add(fds[0], EPOLLIN, &reader);
    added.set_value();
  });
  added.get_future().wait();
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  for (int i = 0; i < 200 && reader.seen == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::promise<void> removed;
  r.Post([&] {
    r.Remove(fds[0]);
    removed.set_value();
  });
  removed.get_future().wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  r.Stop();
  close(fds[0]);
  close(fds[1]);

  EXPECT_GE(p.posted() - posted0, 14u);  // 10 + 1 + 1 (add) + 1 (remove) + the completions' poster
  EXPECT_EQ(p.completions(), 8u);
  EXPECT_GE(p.events(), 1u);
  EXPECT_GT(p.loops(), 0u);
  EXPECT_GT(p.idle_ns(), 0u);
  EXPECT_GT(p.busy_ns(), 0u);
}

}  // namespace
}  // namespace nvmeof
