#include "gateway/runtime/reactor.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>

#include "gateway/common/log.h"

namespace nvmeof {

Reactor::Reactor(int index) : index_(index) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || evfd_ < 0) LOG_FATAL("reactor %d: cannot create epoll/eventfd: %s", index, strerror(errno));
  struct epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up eventfd
  epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev);
}

Reactor::~Reactor() {
  Stop();
  if (epfd_ >= 0) close(epfd_);
  if (evfd_ >= 0) close(evfd_);
}

void Reactor::Start() {
  {
    std::lock_guard<std::mutex> lk(post_mu_);
    looping_ = true;
  }
  thread_ = std::thread([this] {
    thread_id_.store(std::this_thread::get_id());
    std::string name = "reactor-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.c_str());
    Loop();
  });
  while (thread_id_.load() == std::thread::id()) std::this_thread::yield();
}

void Reactor::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  Wake();
  thread_.join();
}

bool Reactor::Add(int fd, uint32_t events, EventHandler* h) {
  struct epoll_event ev{};
  ev.events = events;
  ev.data.ptr = h;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool Reactor::Modify(int fd, uint32_t events, EventHandler* h) {
  struct epoll_event ev{};
  ev.events = events;
  ev.data.ptr = h;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void Reactor::Remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void Reactor::Wake() {
  uint64_t one = 1;
  ssize_t r = write(evfd_, &one, sizeof(one));
  (void)r;
}

void Reactor::complete(Completion* c) {
  if (OnThread()) {
    c->cq_next = nullptr;
    if (local_tail_) local_tail_->cq_next = c; else local_head_ = c;
    local_tail_ = c;
    return;
  }
  Completion* top = remote_.load(std::memory_order_relaxed);
  do {
    c->cq_mpsc_next.store(top, std::memory_order_relaxed);
  } while (!remote_.compare_exchange_weak(top, c, std::memory_order_release, std::memory_order_relaxed));
  // Only the producer that made the stack non-empty wakes the reactor: the reactor
  // empties the stack with one exchange, so a later push sees it empty again.
  if (top == nullptr) Wake();
}

void Reactor::DrainCompletions() {
  for (int rounds = 0; rounds < 64; rounds++) {
    Completion* list = remote_.exchange(nullptr, std::memory_order_acquire);
    // The stack is newest-first: reverse it to complete in arrival order.
    Completion* ordered = nullptr;
    while (list) {
      Completion* next = list->cq_mpsc_next.load(std::memory_order_relaxed);
      list->cq_next = ordered;
      ordered = list;
      list = next;
    }
    while (ordered) {
      Completion* next = ordered->cq_next;
      probe_.CountCompletion();
      ordered->handler->OnComplete(ordered);
      ordered = next;
    }
    if (!local_head_) {
      if (remote_.load(std::memory_order_relaxed) == nullptr) return;
      continue;
    }
    Completion* l = local_head_;
    local_head_ = local_tail_ = nullptr;
    while (l) {
      Completion* next = l->cq_next;
      probe_.CountCompletion();
      l->handler->OnComplete(l);
      l = next;
    }
  }
}

void Reactor::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(post_mu_);
    posted_.push_back(std::move(fn));
  }
  Wake();
}

void Reactor::RunSync(std::function<void()> fn) {
  if (OnThread()) return fn();
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool ran = false;
  };
  auto done = std::make_shared<Done>();
  bool posted = false;
  {
    std::lock_guard<std::mutex> lk(post_mu_);
    if (looping_) {
      posted_.push_back([&fn, done] {
        fn();
        std::lock_guard<std::mutex> dl(done->mu);
        done->ran = true;
        done->cv.notify_one();
      });
      posted = true;
    }
  }
  if (!posted) return fn();  // the loop is not running: nothing else runs on this reactor
  Wake();
  std::unique_lock<std::mutex> dl(done->mu);
  done->cv.wait(dl, [&] { return done->ran; });
}

void Reactor::RunPosted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lk(post_mu_);
    if (posted_.empty()) return;
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
  probe_.CountPosted(work.size());
}

void Reactor::Every(std::chrono::milliseconds period, std::function<bool()> fn) {
  auto add = [this, period, fn = std::move(fn)]() mutable {
    timers_.push_back(Timer{std::chrono::steady_clock::now() + period, period, std::move(fn)});
  };
  Run(std::move(add));
}

void Reactor::RunTimers() {
  if (timers_.empty()) return;
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < timers_.size();) {
    if (timers_[i].next <= now) {
      timers_[i].next = now + timers_[i].period;
      // The callback may add timers: do not hold a reference across it.
      auto fn = std::move(timers_[i].fn);
      bool keep = fn();
      if (keep) {
        timers_[i].fn = std::move(fn);
        i++;
      } else {
        timers_.erase(timers_.begin() + i);
      }
    } else {
      i++;
    }
  }
}

void Reactor::Loop() {
  constexpr int kMaxEvents = 128;
  struct epoll_event events[kMaxEvents];
  using clock = std::chrono::steady_clock;
  auto last_work = clock::now() - std::chrono::hours(1);
  bool spun = false;
  while (!stop_.load(std::memory_order_relaxed)) {
    int timeout = 100;
    if (!timers_.empty()) {
      auto next = timers_.front().next;
      for (auto& t : timers_) next = std::min(next, t.next);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, 100));
    }
    bool pending = local_head_ != nullptr || !deferred_.empty();
    if (pending) timeout = 0;
    auto t0 = clock::now();
    bool polling = false;
    if (timeout > 0 && poll_window_.count() > 0 && t0 - last_work < poll_window_) {
      // Within the poll window: look without sleeping, and let the backend's and the
      // host's threads on this CPU run in between (counted as idle time).
      if (spun) sched_yield();
      polling = true;
      timeout = 0;
    }
    int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
    auto t1 = clock::now();
    bool remote = remote_.load(std::memory_order_relaxed) != nullptr;
    if (n > 0 || remote || pending) {
      last_work = t1;
      spun = false;
    } else {
      spun = polling;
    }
    probe_.CountLoop();
    probe_.AddIdle(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    for (int i = 0; i < n; i++) {
      auto* h = static_cast<EventHandler*>(events[i].data.ptr);
      if (h == nullptr) {
        uint64_t v;
        ssize_t r = read(evfd_, &v, sizeof(v));
        (void)r;
        continue;
      }
      probe_.CountEvents(1);
      h->OnEvents(events[i].events);
    }
    DrainCompletions();
    RunPosted();
    DrainCompletions();
    RunTimers();
    while (!deferred_.empty()) {
      // Two vectors swapped back and forth: no allocation once they have grown.
      deferred_run_.swap(deferred_);
      for (auto& fn : deferred_run_) fn();
      deferred_run_.clear();
      DrainCompletions();
    }
    probe_.AddBusy(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t1).count());
  }
  // Run what was posted before the stop (e.g. connection shutdown), and what that defers
  // (the deletion of closed connections). From here on RunSync runs work on its caller.
  {
    std::lock_guard<std::mutex> lk(post_mu_);
    looping_ = false;
  }
  RunPosted();
  while (!deferred_.empty()) {
    deferred_run_.swap(deferred_);
    for (auto& fn : deferred_run_) fn();
    deferred_run_.clear();
  }
}

ReactorGroup::ReactorGroup(int n) {
  for (int i = 0; i < n; i++) reactors_.push_back(std::make_unique<Reactor>(i));
}
ReactorGroup::~ReactorGroup() { Stop(); }
void ReactorGroup::Start() {
  for (auto& r : reactors_) r->Start();
}
void ReactorGroup::Stop() {
  for (auto& r : reactors_) r->Stop();
}
Reactor& ReactorGroup::Next() {
  return *reactors_[next_.fetch_add(1, std::memory_order_relaxed) % reactors_.size()];
}

}  // namespace nvmeof
