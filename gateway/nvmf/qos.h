// Per-namespace QoS: IOPS and bandwidth limits enforced in the data plane.
//
// Each limit is a GCRA (generic cell rate algorithm) limiter over one atomic "theoretical
// arrival time", shared by every reactor: an I/O conforms when admitting it keeps the TAT
// within a small burst tolerance of now. No lock, no allocation; an I/O that does not
// conform waits on its queue (see io_cmds.cc) until it does.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace nvmeof {

class RateLimiter {
 public:
  static constexpr int64_t kBurstNs = 50'000'000;  // 50 ms worth of the rate

  void Set(uint64_t per_second) {
    rate_.store(per_second, std::memory_order_relaxed);
    tat_.store(0, std::memory_order_relaxed);
  }
  uint64_t rate() const { return rate_.load(std::memory_order_relaxed); }

  // Earliest time (ns, same clock as now) at which `amount` conforms.
  int64_t Earliest(uint64_t amount, int64_t now) const {
    uint64_t r = rate();
    if (r == 0) return now;
    int64_t tat = std::max(tat_.load(std::memory_order_relaxed), now);
    int64_t cost = Cost(amount, r);
    // The tolerance is at least one I/O's cost, or an I/O dearer than the burst would
    // never conform.
    return tat + cost - std::max(kBurstNs, cost);
  }
  void Commit(uint64_t amount, int64_t now) {
    uint64_t r = rate();
    if (r == 0) return;
    int64_t cost = Cost(amount, r);
    int64_t tat = tat_.load(std::memory_order_relaxed);
    while (!tat_.compare_exchange_weak(tat, std::max(tat, now) + cost, std::memory_order_relaxed)) {
    }
  }

 private:
  static int64_t Cost(uint64_t amount, uint64_t rate) {
    return static_cast<int64_t>(static_cast<__int128>(amount) * 1'000'000'000 / rate);
  }
  std::atomic<uint64_t> rate_{0};
  std::atomic<int64_t> tat_{0};
};

struct QosLimiters {
  RateLimiter rw_ios, rw_bytes, r_bytes, w_bytes;
  std::atomic<bool> active{false};

  // Returns 0 and charges the I/O if it conforms now, else the ns to wait.
  int64_t Admit(bool is_read, bool is_write, uint64_t bytes, int64_t now) {
    int64_t e = rw_ios.Earliest(1, now);
    if (bytes) {
      e = std::max(e, rw_bytes.Earliest(bytes, now));
      if (is_read) e = std::max(e, r_bytes.Earliest(bytes, now));
      if (is_write) e = std::max(e, w_bytes.Earliest(bytes, now));
    }
    if (e > now) return e - now;
    rw_ios.Commit(1, now);
    if (bytes) {
      rw_bytes.Commit(bytes, now);
      if (is_read) r_bytes.Commit(bytes, now);
      if (is_write) w_bytes.Commit(bytes, now);
    }
    return 0;
  }
};

}  // namespace nvmeof
