// DeferredCompleter: completes BdevIos that never reached the storage (refused or trivial,
// e.g. out of range or zero-length) from a helper thread, because submit() must never
// complete inline. Rare path: one process-wide thread, lock-free push, futex wake-up.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "rbd-backend/block_device.h"

namespace nvmeof {

class DeferredCompleter {
 public:
  // The process-wide instance; its thread starts on first use. Call it once from the
  // control path (device open) so that the thread never starts on a reactor.
  static DeferredCompleter& Instance();

  // Sets io->result = result and delivers io->Finish() later, from the helper
  // thread. Lock-free; uses io->next while it holds the io.
  void Complete(BdevIo* io, int32_t result);

  ~DeferredCompleter();

 private:
  DeferredCompleter();
  void Run();

  std::atomic<BdevIo*> head_{nullptr};
  std::atomic<uint32_t> seq_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace nvmeof
