// Reactor: one thread, one epoll set, the connections it owns.
//
// Everything a connection does happens on its reactor's thread. Other threads talk to a
// reactor in two ways only:
//   * complete(Completion*): work the reactor submitted (a block I/O) finished. Lock-free
//     (Treiber stack drained by exchange); on the reactor's own thread it is a plain list
//     append. The handler runs on the reactor's thread (completion.h).
//   * Post(fn): control-plane work (namespace added, controller torn down...). A mutex
//     protected queue: never on the I/O fast path.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/runtime/buffer_pool.h"
#include "gateway/runtime/completion.h"
#include "gateway/runtime/reactor_probe.h"

namespace nvmeof {

// Default adaptive-polling window of a reactor (see Reactor::set_poll_window).
inline constexpr uint32_t kDefaultPollWindowUs = 100;

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvents(uint32_t events) = 0;
};

class Reactor final : public CompletionSink {
 public:
  explicit Reactor(int index);
  ~Reactor() override;
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  int index() const { return index_; }
  void Start();  // spawns the thread
  void Stop();   // asks the loop to end and joins
  bool OnThread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // fd registration (reactor thread only).
  bool Add(int fd, uint32_t events, EventHandler* h);
  bool Modify(int fd, uint32_t events, EventHandler* h);
  void Remove(int fd);

  // CompletionSink: c->handler->OnComplete(c) runs later on this reactor's thread.
  void complete(Completion* c) override;

  // Runs fn on this reactor's thread (from any thread).
  void Post(std::function<void()> fn);
  // Runs fn on this reactor's thread and returns once it has run (from any thread but this
  // one's it blocks the caller). When the reactor's loop is not running (not started, or
  // over), nothing else can run on it: fn runs on the caller's thread.
  void RunSync(std::function<void()> fn);
  // Runs fn on the reactor thread now if already there, else posts it.
  void Run(std::function<void()> fn) {
    if (OnThread()) fn(); else Post(std::move(fn));
  }

  // Calls fn every period on the reactor thread until it returns false.
  void Every(std::chrono::milliseconds period, std::function<bool()> fn);

  // Deferred work for the end of this loop iteration (reactor thread only), e.g. flushing
  // a connection's send queue once per batch of events.
  void Defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

  BufferPool& buffers() { return buffers_; }

  // Adaptive polling: after a loop turn that did work, keep polling (epoll_wait with no
  // timeout, yielding the CPU between empty polls) for up to this long before sleeping.
  // A host's next command or a backend's completion that arrives within the window is
  // picked up without a wake-up. 0 = always sleep. Set before Start().
  void set_poll_window(std::chrono::microseconds w) { poll_window_ = w; }

  // What this reactor has done (busy/idle time, loops, events, completions, posted work).
  const ReactorProbe& probe() const { return probe_; }

 private:
  void Loop();
  void Wake();
  void DrainCompletions();
  void RunPosted();
  void RunTimers();

  int index_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> stop_{false};

  // Completions from other threads.
  std::atomic<Completion*> remote_{nullptr};
  // Completions from this thread (delivered after the current handler returns).
  Completion* local_head_ = nullptr;
  Completion* local_tail_ = nullptr;

  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  bool looping_ = false;  // under post_mu_: the loop will still run what is posted
  std::vector<std::function<void()>> deferred_, deferred_run_;

  struct Timer {
    std::chrono::steady_clock::time_point next;
    std::chrono::milliseconds period;
    std::function<bool()> fn;
  };
  std::vector<Timer> timers_;  // reactor thread only

  std::chrono::microseconds poll_window_{0};
  ReactorProbe probe_;
  BufferPool buffers_;
};

// The set of reactors of a gateway.
class ReactorGroup {
 public:
  explicit ReactorGroup(int n);
  ~ReactorGroup();
  void Start();
  void Stop();
  int size() const { return static_cast<int>(reactors_.size()); }
  Reactor& at(int i) { return *reactors_[i]; }
  // Round-robin choice for a new connection.
  Reactor& Next();
  void set_poll_window(std::chrono::microseconds w) {
    for (auto& r : reactors_) r->set_poll_window(w);
  }

 private:
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::atomic<uint32_t> next_{0};
};

}  // namespace nvmeof
