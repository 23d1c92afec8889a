// ReactorProbe: what one reactor has done since it started, for operators and tests.
//
//   busy_ns       handling events, completions, posted work, timers and deferred work
//   idle_ns       waiting in epoll_wait (or polling within the poll window)
//   loops         turns of the event loop
//   events        epoll events handled (the reactor's own wake-ups excluded)
//   completions   completions delivered to their handlers (complete(), completion.h)
//   posted        functions run from Post()
//
// Threads: written by the reactor's thread only (relaxed loads and stores: no lock, no
// read-modify-write, nothing allocated), read from any thread. Values only grow; a reader
// sees each counter's value at some recent moment, not the counters of one instant.
#pragma once

#include <atomic>
#include <cstdint>

namespace nvmeof {

class ReactorProbe {
 public:
  uint64_t busy_ns() const { return busy_ns_.load(std::memory_order_relaxed); }
  uint64_t idle_ns() const { return idle_ns_.load(std::memory_order_relaxed); }
  uint64_t loops() const { return loops_.load(std::memory_order_relaxed); }
  uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  uint64_t completions() const { return completions_.load(std::memory_order_relaxed); }
  uint64_t posted() const { return posted_.load(std::memory_order_relaxed); }

  // The reactor's thread only.
  void AddBusy(uint64_t ns) { Add(busy_ns_, ns); }
  void AddIdle(uint64_t ns) { Add(idle_ns_, ns); }
  void CountLoop() { Add(loops_, 1); }
  void CountEvents(uint64_t n) { Add(events_, n); }
  void CountCompletion() { Add(completions_, 1); }
  void CountPosted(uint64_t n) { Add(posted_, n); }

 private:
  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> busy_ns_{0}, idle_ns_{0}, loops_{0}, events_{0}, completions_{0}, posted_{0};
};

}  // namespace nvmeof
