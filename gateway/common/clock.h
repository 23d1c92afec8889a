// The monotonic clock in nanoseconds: keep alive deadlines, I/O latency and the tick
// count the management API reports (tick rate 10^9). Any thread; no system call beyond
// clock_gettime (vDSO), no allocation.
#pragma once

#include <chrono>
#include <cstdint>

namespace nvmeof {

inline uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace nvmeof
