// Unit test for the reactor's cross-thread calls (gateway/runtime/reactor.h): RunSync runs
// on the reactor's thread while its loop runs, and on the caller's when it does not.
#include "gateway/runtime/reactor.h"

#include <gtest/gtest.h>

#include <thread>

namespace nvmeof {
namespace {

TEST(Reactor, RunSyncRunsOnTheReactorThreadAndWaits) {
  Reactor r(0);
  r.Start();
  std::thread::id ran_on;
  bool on_thread = false;
  r.RunSync([&] {
    ran_on = std::this_thread::get_id();
    on_thread = r.OnThread();
  });
  EXPECT_TRUE(on_thread);
  EXPECT_NE(ran_on, std::this_thread::get_id());
  // From the reactor's own thread it runs inline (no self-wait).
  int depth = 0;
  r.RunSync([&] { r.RunSync([&] { depth = 2; }); });
  EXPECT_EQ(depth, 2);
  r.Stop();
}

TEST(Reactor, RunSyncRunsOnTheCallerWhenTheLoopIsNotRunning) {
  Reactor r(0);
  std::thread::id before, after;
  r.RunSync([&] { before = std::this_thread::get_id(); });  // never started
  EXPECT_EQ(before, std::this_thread::get_id());
  r.Start();
  r.Stop();
  r.RunSync([&] { after = std::this_thread::get_id(); });  // loop over
  EXPECT_EQ(after, std::this_thread::get_id());
}

}  // namespace
}  // namespace nvmeof
