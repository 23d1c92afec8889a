// Test helpers for gateway/ha: an AnaControl that records what HA told it, and a bounded
// wait for a condition.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

#include "gateway/ha/ha_manager.h"

namespace nvmeof::ha {

class FakeAna final : public AnaControl {
 public:
  void SetGroupOptimized(uint32_t g, bool optimized) override {
    std::lock_guard lk(mu_);
    auto [it, added] = state_.emplace(g, optimized);
    if (added || it->second != optimized) changes_[g]++;
    it->second = optimized;
  }
  void Drain(uint32_t g) override {
    std::lock_guard lk(mu_);
    drains_[g]++;
  }
  bool Optimized(uint32_t g) {
    std::lock_guard lk(mu_);
    auto it = state_.find(g);
    return it != state_.end() && it->second;
  }
  // State changes of group g so far (the first report counts as one).
  uint32_t Changes(uint32_t g) {
    std::lock_guard lk(mu_);
    return changes_[g];
  }
  uint32_t Drains(uint32_t g) {
    std::lock_guard lk(mu_);
    return drains_[g];
  }

 private:
  std::mutex mu_;
  std::map<uint32_t, bool> state_;
  std::map<uint32_t, uint32_t> changes_, drains_;
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
