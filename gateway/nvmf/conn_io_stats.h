// Per-connection I/O statistics (reference API: get_connection_io_statistics): for each
// controller, reads and writes by I/O size bucket, each with its count and the min, max and
// sum of four times (nanoseconds, NowNs()):
//   total  the command capsule received -> its completion sent (end to end in the gateway)
//   bdev   submitted to the device -> the device's completion
//   net    moving the data on the transport: R2T sent -> last H2CData received (writes),
//          C2HData queued -> sent (reads)
//   qos    waiting for the namespace's QoS limits
// Size bucket i holds I/Os of at most 2 KiB << i bytes (and more than the bound below);
// the last bucket (4 MiB) holds everything larger.
//
// Threads: QueueIoStats lives in its queue pair and has one writer, the queue's reactor
// (relaxed load + store, no lock, no allocation). Any thread reads it (relaxed loads: a
// value may be one I/O behind). Reset is an epoch: the reader bumps the controller's epoch
// (ConnIoEpoch) and the writer zeroes its cells at its next I/O; a reader counts only
// queues already in the current epoch.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace nvmeof {

struct IoTimes {
  uint64_t total_ns = 0, bdev_ns = 0, net_ns = 0, qos_ns = 0;
};

// Min, max and sum of one time over a bucket's I/Os (min is 0 while count is 0).
struct LatencyAcc {
  uint64_t min = 0, max = 0, sum = 0;
  uint64_t Mean(uint64_t count) const { return count ? sum / count : 0; }
};

struct LatencyGroup {
  uint64_t count = 0;
  LatencyAcc total, bdev, net, qos;
};

struct ConnIoSnapshot {
  static constexpr size_t kBuckets = 12;
  static constexpr uint32_t kFirstBoundLog2 = 11;  // 2 KiB
  // Upper bound of bucket i in bytes (the reference reports it in KiB: 2, 4, ... 4096).
  static constexpr uint64_t BucketBytes(size_t i) { return uint64_t{1} << (kFirstBoundLog2 + i); }
  static constexpr size_t Bucket(uint64_t bytes) {
    const uint64_t above = (bytes == 0 ? 0 : bytes - 1) >> kFirstBoundLog2;
    return std::min<size_t>(static_cast<size_t>(std::bit_width(above)), kBuckets - 1);
  }
  enum Dir { kRead = 0, kWrite = 1 };

  std::array<std::array<LatencyGroup, kBuckets>, 2> g{};

  uint64_t TotalIos() const {
    uint64_t n = 0;
    for (const auto& d : g)
      for (const auto& b : d) n += b.count;
    return n;
  }
  void Add(const ConnIoSnapshot& o) {
    for (size_t d = 0; d < 2; d++)
      for (size_t b = 0; b < kBuckets; b++) Merge(g[d][b], o.g[d][b]);
  }
  static void Merge(LatencyGroup& into, const LatencyGroup& from) {
    if (from.count == 0) return;
    auto m = [&](LatencyAcc& a, const LatencyAcc& f) {
      a.min = into.count ? std::min(a.min, f.min) : f.min;
      a.max = std::max(a.max, f.max);
      a.sum += f.sum;
    };
    m(into.total, from.total);
    m(into.bdev, from.bdev);
    m(into.net, from.net);
    m(into.qos, from.qos);
    into.count += from.count;
  }
};

class QueueIoStats {
 public:
  // The queue's reactor only. `epoch`: the controller's current ConnIoEpoch.
  void Record(uint32_t epoch, ConnIoSnapshot::Dir dir, uint64_t bytes, const IoTimes& t) {
    if (epoch_.load(std::memory_order_relaxed) != epoch) [[unlikely]] {
      for (auto& d : cells_)
        for (auto& b : d)
          for (auto& c : b) c.store(0, std::memory_order_relaxed);
      epoch_.store(epoch, std::memory_order_release);
    }
    auto& b = cells_[dir][ConnIoSnapshot::Bucket(bytes)];
    const bool first = b[kCount].load(std::memory_order_relaxed) == 0;
    Acc(b, kTotal, t.total_ns, first);
    Acc(b, kBdev, t.bdev_ns, first);
    Acc(b, kNet, t.net_ns, first);
    Acc(b, kQos, t.qos_ns, first);
    Put(b[kCount], b[kCount].load(std::memory_order_relaxed) + 1);
  }

  // Any thread: adds this queue's figures to `out` if it is in epoch `epoch`.
  void AddTo(uint32_t epoch, ConnIoSnapshot* out) const {
    if (epoch_.load(std::memory_order_acquire) != epoch) return;
    ConnIoSnapshot s;
    for (size_t d = 0; d < 2; d++) {
      for (size_t i = 0; i < ConnIoSnapshot::kBuckets; i++) {
        const auto& b = cells_[d][i];
        LatencyGroup& o = s.g[d][i];
        o.count = b[kCount].load(std::memory_order_relaxed);
        Get(b, kTotal, &o.total);
        Get(b, kBdev, &o.bdev);
        Get(b, kNet, &o.net);
        Get(b, kQos, &o.qos);
      }
    }
    out->Add(s);
  }

 private:
  // Per bucket: count, then min, max, sum of each time.
  enum { kCount = 0, kTotal = 1, kBdev = 4, kNet = 7, kQos = 10, kCells = 13 };
  using Cells = std::array<std::atomic<uint64_t>, kCells>;
  static void Put(std::atomic<uint64_t>& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
  static void Acc(Cells& b, int at, uint64_t v, bool first) {
    if (first || v < b[at].load(std::memory_order_relaxed)) Put(b[at], v);
    if (v > b[at + 1].load(std::memory_order_relaxed)) Put(b[at + 1], v);
    Put(b[at + 2], b[at + 2].load(std::memory_order_relaxed) + v);
  }
  static void Get(const Cells& b, int at, LatencyAcc* a) {
    a->min = b[at].load(std::memory_order_relaxed);
    a->max = b[at + 1].load(std::memory_order_relaxed);
    a->sum = b[at + 2].load(std::memory_order_relaxed);
  }
  std::atomic<uint32_t> epoch_{0};
  std::array<std::array<Cells, ConnIoSnapshot::kBuckets>, 2> cells_{};
};

}  // namespace nvmeof
