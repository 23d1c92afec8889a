// The NVMe-oF core's counters: per namespace (NsStats, in each Namespace) and per target
// (NvmfProbe, owned by the Target). Counters only: whoever exports them reads them.
//
// Threads: reactors add to them on the command path with relaxed atomic adds (no lock,
// no allocation; the target-wide ones only on controller events and failed commands, not
// on every command); any thread reads them (each value on its own, not a consistent
// snapshot).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace nvmeof {

// Per-namespace I/O statistics (reference API: namespace_get_io_stats). Latencies are
// NowNs() nanoseconds (gateway/common/clock.h), from the command's start to the device's
// completion. Latency histograms: bucket i < kLatencyBuckets - 1 counts completed reads
// (writes) that took at most LatencyBucketBoundNs(i) and more than the bound below; the
// last bucket counts the rest. The number of completed reads (writes) is the histogram's
// total (ReadOps(), WriteOps()): one counter per I/O, not two.
struct NsStats {
  static constexpr size_t kLatencyBuckets = 20;
  static constexpr unsigned kFirstBoundLog2 = 13;  // 8.192 us, then doubling up to ~2.1 s
  static constexpr uint64_t LatencyBucketBoundNs(size_t i) { return uint64_t{1} << (kFirstBoundLog2 + i); }
  static constexpr size_t LatencyBucket(uint64_t ns) {
    const uint64_t above = (ns == 0 ? 0 : ns - 1) >> kFirstBoundLog2;
    return std::min<size_t>(static_cast<size_t>(std::bit_width(above)), kLatencyBuckets - 1);
  }
  using Histogram = std::array<std::atomic<uint64_t>, kLatencyBuckets>;

  static uint64_t Total(const Histogram& h) {
    uint64_t n = 0;
    for (const auto& b : h) n += b.load(std::memory_order_relaxed);
    return n;
  }
  uint64_t ReadOps() const { return Total(read_latency); }
  uint64_t WriteOps() const { return Total(write_latency); }

  std::atomic<uint64_t> read_bytes{0}, write_bytes{0};
  std::atomic<uint64_t> read_ns{0}, write_ns{0}, unmap_ops{0}, errors{0};
  Histogram read_latency{}, write_latency{};
};

// One reactor's queues and I/O commands ("poll group" in the reference API's
// get_gateway_stats). Written only on that reactor (relaxed load + store); any thread reads.
struct alignas(64) PollGroupCounters {
  std::atomic<uint64_t> admin_qpairs{0}, io_qpairs{0};                  // bound since start
  std::atomic<uint64_t> current_admin_qpairs{0}, current_io_qpairs{0};  // bound now
  std::atomic<uint64_t> pending_io{0};                                  // I/O commands in the target
  std::atomic<uint64_t> completed_io{0};                                // I/O commands completed

  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
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
