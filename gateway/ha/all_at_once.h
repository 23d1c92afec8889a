// RunAllAtOnce: runs fn(0) .. fn(n-1), each on a thread of its own, and returns when all
// returned. No call starts before every thread is running, so n blocking requests (e.g. one
// mon command per address to blocklist) reach the server together instead of in waves
// (the monitor folds requests that arrive together into one OSD map; one that arrives
// after a proposal started waits for the next, up to paxos_propose_interval later).
// fn runs on the n threads, concurrently: it must be thread-safe. Any thread may call this.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace nvmeof::ha {

template <typename F>
void RunAllAtOnce(size_t n, F fn) {
  std::mutex mu;
  std::condition_variable cv;
  size_t started = 0;
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      {
        std::unique_lock lk(mu);
        if (++started == n) cv.notify_all();
        cv.wait(lk, [&] { return started == n; });
      }
      fn(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace nvmeof::ha
