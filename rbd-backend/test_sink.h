// TestSink: a CompletionSink for backend tests. Records which thread completed each I/O and
// lets the test wait for completions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "rbd-backend/block_device.h"

namespace nvmeof::testing {

class TestSink final : public CompletionSink {
 public:
  void complete(Completion* c) override {
    auto* io = BdevIo::From(c);
    std::lock_guard<std::mutex> lk(mu_);
    if (std::this_thread::get_id() == submitter_) ++inline_completions_;
    if (!done_.insert(io).second) ++double_completions_;
    ++count_;
    cv_.notify_all();
  }

  // Submits io to dev and records the submitting thread (to catch inline completion).
  void Submit(BlockDevice& dev, BdevIo* io) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_.erase(io);
      submitter_ = std::this_thread::get_id();
    }
    io->done.sink = this;
    io->result = 1;  // anything but a valid result
    dev.submit(io);
    std::lock_guard<std::mutex> lk(mu_);
    submitter_ = std::thread::id();
  }

  // Waits until io has completed; false on timeout.
  bool Wait(BdevIo* io, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return done_.count(io) != 0; });
  }

  // Waits until `n` completions in total have been seen.
  bool WaitCount(uint64_t n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return count_ >= n; });
  }

  // Forgets completed I/Os (before they are submitted again without Submit()).
  void Reset() {
    std::lock_guard<std::mutex> lk(mu_);
    done_.clear();
  }

  bool Done(BdevIo* io) {
    std::lock_guard<std::mutex> lk(mu_);
    return done_.count(io) != 0;
  }
  uint64_t count() {
    std::lock_guard<std::mutex> lk(mu_);
    return count_;
  }
  uint64_t inline_completions() {
    std::lock_guard<std::mutex> lk(mu_);
    return inline_completions_;
  }
  uint64_t double_completions() {
    std::lock_guard<std::mutex> lk(mu_);
    return double_completions_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<BdevIo*> done_;
  std::thread::id submitter_;
  uint64_t count_ = 0;
  uint64_t inline_completions_ = 0;
  uint64_t double_completions_ = 0;
};

// Runs one I/O synchronously: submit, wait, return io.result (or -ETIME on timeout).
inline int32_t RunIo(TestSink& sink, BlockDevice& dev, BdevOp op, uint64_t off, uint64_t len,
                     const struct iovec* iov = nullptr, int iovcnt = 0, bool fua = false,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  BdevIo io;
  io.op = op;
  io.offset = off;
  io.length = len;
  io.iov = iov;
  io.iovcnt = iovcnt;
  io.fua = fua;
  sink.Submit(dev, &io);
  if (!sink.Wait(&io, timeout)) {
    // The io lives on this stack frame: it must not complete after we return.
    if (!sink.Wait(&io, std::chrono::minutes(5))) std::abort();
    return -ETIME;
  }
  return io.result;
}

}  // namespace nvmeof::testing
