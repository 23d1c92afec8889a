// Test helpers for gateway/ha: an AnaControl that records what HA told it, one whose drains
// wait while the test holds them, and a bounded wait for a condition.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/ha/ha_manager.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof::ha {

class FakeAna final : public AnaControl {
 public:
  void SetGroupState(uint32_t g, uint8_t ana_state) override {
    std::lock_guard lk(mu_);
    auto [it, added] = state_.emplace(g, ana_state);
    if (added || it->second != ana_state) {
      changes_[g]++;
      history_[g].push_back(ana_state);
    }
    it->second = ana_state;
  }
  void Drain(uint32_t g) override {
    std::lock_guard lk(mu_);
    drains_[g]++;
  }
  bool Optimized(uint32_t g) { return State(g) == nvme::kAnaOptimized; }
  // The last state reported for group g (0 = none yet).
  uint8_t State(uint32_t g) {
    std::lock_guard lk(mu_);
    auto it = state_.find(g);
    return it == state_.end() ? 0 : it->second;
  }
  // State changes of group g so far (the first report counts as one).
  uint32_t Changes(uint32_t g) {
    std::lock_guard lk(mu_);
    return changes_[g];
  }
  // Every state group g was put in, in order (repeats of the same state left out).
  std::vector<uint8_t> History(uint32_t g) {
    std::lock_guard lk(mu_);
    return history_[g];
  }
  uint32_t Drains(uint32_t g) {
    std::lock_guard lk(mu_);
    return drains_[g];
  }

 private:
  std::mutex mu_;
  std::map<uint32_t, uint8_t> state_;
  std::map<uint32_t, uint32_t> changes_, drains_;
  std::map<uint32_t, std::vector<uint8_t>> history_;
};

// An AnaControl whose drains wait while the test holds them (a holder draining for as long
// as the test wants); what HA told it is in `rec`.
class GatedAna final : public AnaControl {
 public:
  void SetGroupState(uint32_t g, uint8_t ana_state) override { rec.SetGroupState(g, ana_state); }
  void Drain(uint32_t g) override {
    std::unique_lock lk(mu_);
    draining_++;
    cv_.wait(lk, [&] { return !hold_; });
    draining_--;
    rec.Drain(g);
  }
  void Hold(bool hold) {
    std::lock_guard lk(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  bool Draining() {
    std::lock_guard lk(mu_);
    return draining_ > 0;
  }
  FakeAna rec;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int draining_ = 0;
};

// Polls `pred` until it holds or `seconds` passed; returns its last value.
template <typename F>
bool WaitFor(F pred, int seconds = 20) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace nvmeof::ha
