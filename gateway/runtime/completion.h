// Completion: the cross-thread hand-off of finished work back to the reactor that owns it.
//
// Work submitted from a reactor (a block I/O, for instance) may finish on any thread. The
// submitter embeds a Completion in its request, names the reactor (sink) and itself
// (handler), and whoever finishes the work calls sink->complete(c). The sink queues it
// (lock-free, allocation-free: the links are intrusive) and calls handler->OnComplete(c)
// later on its own thread, never from inside complete(), so the finisher never re-enters
// the submitter.
//
// This is the runtime's only notion of "completion": the layers above (block devices, the
// NVMe-oF core) embed it; the runtime knows nothing of what finished.
#pragma once

#include <atomic>

namespace nvmeof {

struct Completion;

// The owner of a Completion: told on its reactor's thread that the work is done.
class CompletionHandler {
 public:
  virtual ~CompletionHandler() = default;
  virtual void OnComplete(Completion* c) = 0;
};

// Where finished work is handed back: implemented by the reactor.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // Thread-safe. Called exactly once per submission of the work c belongs to.
  virtual void complete(Completion* c) = 0;
};

struct Completion {
  CompletionSink* sink = nullptr;           // the owning reactor
  CompletionHandler* handler = nullptr;     // called there
  Completion* cq_next = nullptr;            // the sink's local list
  std::atomic<Completion*> cq_mpsc_next{nullptr};  // the sink's lock-free stack
};

}  // namespace nvmeof
