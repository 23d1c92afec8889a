// StateFollower: keeps this gateway in step with the group state. It subscribes to a
// StateStore, keeps the newest snapshot the store hands over (each one is the full state, so
// older ones queued behind it are dropped), and applies it through a StateApplier onto a
// StateTarget on its own thread; on the same thread, every `reconcile_interval`, it retries
// the items that failed to apply (StateApplier::Reconcile). The target's own changes, which
// it wrote to the store itself, are recorded with RecordLocal so that they are neither
// applied twice nor undone by an older snapshot.
//
// Threads: the store's thread only queues (OnStateChanged never waits for the target). The
// follower's thread makes every applier call that reaches the target, holding `target_mu`
// (the target's own lock, e.g. the management API's RPC lock) around each, so the target
// sees group changes one at a time and never interleaved with its other callers. Replay and
// Reconcile run the same way on the caller's thread. RecordLocal is called by the target
// with `target_mu` held; it reaches the applier only (lock order: target_mu, then the
// applier's lock). Nothing here runs on a reactor.
//
// Errors: Start() returns the store's start error; items that fail to apply are logged and
// stay pending (retried), they are not errors of the follower.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/state/state_applier.h"
#include "gateway/state/state_store.h"

namespace nvmeof {

class StateFollower {
 public:
  struct Options {
    std::chrono::milliseconds reconcile_interval{std::chrono::seconds(5)};
  };

  // `store` may be null (no group state: snapshots come only through OnStateChanged/Replay,
  // e.g. tests). `target_mu` may be null (a target without a lock of its own). None is
  // owned; all must outlive the follower.
  StateFollower(StateStore* store, StateTarget* target, std::mutex* target_mu, Options opts);
  StateFollower(StateStore* store, StateTarget* target, std::mutex* target_mu)
      : StateFollower(store, target, target_mu, Options{}) {}
  ~StateFollower();  // Stop()
  StateFollower(const StateFollower&) = delete;
  StateFollower& operator=(const StateFollower&) = delete;

  // Starts the thread, subscribes to the store and starts it (the store hands over the
  // current state), and returns once that state is applied (start-up replay, before the
  // gateway serves). Call once.
  Status Start();
  // Stops the store (no more snapshots), then the thread; queued snapshots are dropped.
  // Idempotent; also done by the destructor.
  void Stop();

  // The store's callback: queues the snapshot (only the newest is kept) and returns.
  void OnStateChanged(const StateMap& state, uint64_t version);
  // Waits until every queued snapshot is applied (or the follower stopped).
  void WaitIdle();
  // Applies a full snapshot now, on the caller's thread (holding target_mu).
  void Replay(const StateMap& state, uint64_t version);
  // Retries pending items now, on the caller's thread (holding target_mu); the thread does
  // it every reconcile_interval.
  void Reconcile();

  // The target wrote this change to the store as `version` (0: there is no store) and has
  // already applied it. Caller holds target_mu.
  void RecordLocal(const StateMap& puts, const std::vector<std::string>& removes, uint64_t version);

  // Called after each Replay and each Reconcile (applied or not), on the same thread and
  // holding target_mu, once the applier is done: the target may write to the store here
  // (and RecordLocal), which it must not do from the StateTarget calls. Set before Start().
  void SetAfterApply(std::function<void()> fn) { after_apply_ = std::move(fn); }

  // The applier (what is applied and desired), for diagnostics and tests.
  const StateApplier& applier() const { return applier_; }

 private:
  void Loop();
  std::unique_lock<std::mutex> LockTarget();  // target_mu (nothing when null)

  StateStore* store_;
  std::mutex* target_mu_;
  const Options opts_;
  StateApplier applier_;
  std::function<void()> after_apply_;

  // Snapshot queue (store thread -> follower thread).
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::optional<std::pair<StateMap, uint64_t>> pending_;
  bool applying_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace nvmeof
