// The NVMe-oF core's counters: per namespace (NsStats, in each Namespace) and per target
// (NvmfProbe, owned by the Target). Counters only: whoever exports them reads them.
//
// Threads: reactors add to them on the command path with relaxed atomic adds (no lock,
// no allocation; the target-wide ones only on controller events and failed commands, not
// on every command); any thread reads them (each value on its own, not a consistent
// snapshot).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace nvmeof {

// Per-namespace I/O statistics (reference API: namespace_get_io_stats). Latencies are
// NowNs() nanoseconds (gateway/common/clock.h).
struct NsStats {
  std::atomic<uint64_t> read_ops{0}, write_ops{0}, read_bytes{0}, write_bytes{0};
  std::atomic<uint64_t> read_ns{0}, write_ns{0}, unmap_ops{0}, errors{0};
};

struct NvmfProbe {
  std::atomic<uint64_t> controllers_created{0};    // admin queue connected
  std::atomic<uint64_t> controllers_destroyed{0};  // admin queue gone
  std::atomic<uint64_t> keep_alive_timeouts{0};    // controllers torn down by their KATO
  std::atomic<uint64_t> ana_changes{0};            // ANA state changes (one per group change)
  // Commands of connected queues completed with an error, by status code type (index =
  // SCT: 0 generic, 1 command specific, 2 media and data integrity, 3 path, 7 vendor).
  std::array<std::atomic<uint64_t>, 8> errors_by_sct{};

  void Count(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace nvmeof
