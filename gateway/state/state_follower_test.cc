// StateFollower (no Ceph): the start-up replay, the snapshot queue, the target lock, the
// reconcile timer and the target's own writes.
#include "gateway/state/state_follower.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/state/state_keys.h"
#include "gateway/state/state_test_util.h"

namespace nvmeof {
namespace {

using namespace std::chrono_literals;

// Records subsystem calls; AddSubsystem fails while fail_adds > 0.
class RecordingTarget : public test::NullStateTarget {
 public:
  Status AddSubsystem(const std::string& json) override {
    std::lock_guard<std::mutex> lk(mu);
    if (fail_adds > 0) {
      --fail_adds;
      return Status::IOError("injected");
    }
    calls.push_back("add " + json);
    return Status::OK();
  }
  Status RemoveSubsystem(const std::string& nqn) override {
    std::lock_guard<std::mutex> lk(mu);
    calls.push_back("remove " + nqn);
    return Status::OK();
  }

  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lk(mu);
    return calls;
  }

  std::mutex mu;
  std::vector<std::string> calls;
  int fail_adds = 0;
};

std::string Subsys(const std::string& nqn) { return "{\"subsystem_nqn\":\"" + nqn + "\"}"; }
std::string Added(const std::string& nqn) { return "add " + Subsys(nqn); }

TEST(StateFollower, StartReturnsOnceTheStoreStateIsApplied) {
  auto store = NewMemoryStateStore();
  ASSERT_TRUE(store->Put(SubsystemKey("nqn.a"), Subsys("nqn.a")).ok());
  RecordingTarget t;
  std::mutex target_mu;
  StateFollower f(store.get(), &t, &target_mu);
  ASSERT_TRUE(f.Start().ok());
  EXPECT_EQ(t.Calls(), std::vector<std::string>{Added("nqn.a")});
  EXPECT_EQ(f.applier().applied(), (StateMap{{SubsystemKey("nqn.a"), Subsys("nqn.a")}}));
  EXPECT_TRUE(f.Start().Is(state::errc::kAlreadyStarted));
  f.Stop();
  f.Stop();  // idempotent
}

// Snapshots are applied holding the target's lock, and only the newest queued one counts.
TEST(StateFollower, NewestSnapshotAppliedUnderTheTargetLock) {
  RecordingTarget t;
  std::mutex target_mu;
  StateFollower f(nullptr, &t, &target_mu);
  ASSERT_TRUE(f.Start().ok());
  const StateMap a = {{SubsystemKey("nqn.a"), Subsys("nqn.a")}};
  StateMap ab = a, ac = a;
  ab[SubsystemKey("nqn.b")] = Subsys("nqn.b");
  ac[SubsystemKey("nqn.c")] = Subsys("nqn.c");
  {
    std::lock_guard<std::mutex> held(target_mu);
    f.OnStateChanged(a, 2);
    std::this_thread::sleep_for(50ms);
    f.OnStateChanged(ab, 3);
    f.OnStateChanged(ac, 4);
    f.OnStateChanged({}, 1);  // older than what is queued: dropped
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(t.Calls().empty());  // waits for the lock
  }
  f.WaitIdle();
  EXPECT_EQ(t.Calls(), (std::vector<std::string>{Added("nqn.a"), Added("nqn.c")}));  // never nqn.b
  EXPECT_EQ(f.applier().applied(), ac);
}

TEST(StateFollower, ReconcilesFailedItemsOnTheInterval) {
  RecordingTarget t;
  t.fail_adds = 2;
  std::mutex target_mu;
  StateFollower f(nullptr, &t, &target_mu, StateFollower::Options{20ms});
  ASSERT_TRUE(f.Start().ok());
  const StateMap a = {{SubsystemKey("nqn.a"), Subsys("nqn.a")}};
  f.OnStateChanged(a, 2);
  f.WaitIdle();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.applier().pending() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(f.applier().pending());
  EXPECT_EQ(t.Calls(), std::vector<std::string>{Added("nqn.a")});
  EXPECT_EQ(f.applier().applied(), a);
}

// The target's own write, recorded with the version it was written as, is neither applied
// again nor undone by an older snapshot; without a version it becomes the state.
TEST(StateFollower, OwnWritesAreRecorded) {
  RecordingTarget t;
  std::mutex target_mu;
  StateFollower f(nullptr, &t, &target_mu);
  ASSERT_TRUE(f.Start().ok());
  const StateMap a = {{SubsystemKey("nqn.a"), Subsys("nqn.a")}};
  {
    std::lock_guard<std::mutex> held(target_mu);
    f.RecordLocal(a, {}, 5);
  }
  f.OnStateChanged({}, 4);
  f.WaitIdle();
  f.Replay({}, 3);
  EXPECT_TRUE(t.Calls().empty());
  EXPECT_EQ(f.applier().applied(), a);
  f.Replay(a, 5);
  EXPECT_TRUE(t.Calls().empty());
  f.Replay({}, 6);  // removed by another gateway
  EXPECT_EQ(t.Calls(), std::vector<std::string>{"remove nqn.a"});

  StateFollower single(nullptr, &t, nullptr);
  single.RecordLocal(a, {}, 0);
  EXPECT_EQ(single.applier().desired(), a);
  single.RecordLocal({}, {SubsystemKey("nqn.a")}, 0);
  EXPECT_TRUE(single.applier().desired().empty());
}

TEST(StateFollower, NothingIsQueuedAfterStop) {
  RecordingTarget t;
  StateFollower f(nullptr, &t, nullptr);
  ASSERT_TRUE(f.Start().ok());
  f.Stop();
  f.OnStateChanged({{SubsystemKey("nqn.a"), Subsys("nqn.a")}}, 2);
  f.WaitIdle();
  EXPECT_TRUE(t.Calls().empty());
}

}  // namespace
}  // namespace nvmeof
