#include "rbd-backend/deferred_completer.h"

namespace nvmeof {

DeferredCompleter& DeferredCompleter::Instance() {
  static DeferredCompleter instance;
  return instance;
}

DeferredCompleter::DeferredCompleter() : thread_([this] { Run(); }) {}

DeferredCompleter::~DeferredCompleter() {
  stop_.store(true);
  seq_.fetch_add(1);
  seq_.notify_one();
  thread_.join();
}

void DeferredCompleter::Complete(BdevIo* io, int32_t result) {
  io->result = result;
  BdevIo* h = head_.load(std::memory_order_relaxed);
  do {
    io->next = h;
  } while (!head_.compare_exchange_weak(h, io, std::memory_order_release,
                                        std::memory_order_relaxed));
  seq_.fetch_add(1, std::memory_order_release);
  seq_.notify_one();
}

void DeferredCompleter::Run() {
  for (;;) {
    const uint32_t seen = seq_.load(std::memory_order_acquire);
    BdevIo* list = head_.exchange(nullptr, std::memory_order_acquire);
    if (list == nullptr) {
      if (stop_.load()) return;
      seq_.wait(seen, std::memory_order_acquire);
      continue;
    }
    // The stack is LIFO: reverse it so that I/Os complete in the order they failed.
    BdevIo* fifo = nullptr;
    while (list != nullptr) {
      BdevIo* n = list->next;
      list->next = fifo;
      fifo = list;
      list = n;
    }
    while (fifo != nullptr) {
      BdevIo* n = fifo->next;
      fifo->next = nullptr;
      fifo->Finish();
      fifo = n;
    }
  }
}

}  // namespace nvmeof
