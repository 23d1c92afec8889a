// ReqPool: per-I/O backend state without per-I/O heap allocation.
//
// A lock-free LIFO free list of T (multi-producer, multi-consumer: get() runs on reactor
// threads, put() on the backend's completion threads). It grows by one chunk when it runs
// empty, i.e. only when more I/Os are in flight than ever before on this device, and it
// never shrinks: in steady state get()/put() are two CAS operations and allocate nothing.
//
// T must have `uint32_t pool_index` and `std::atomic<uint32_t> pool_next` members and be
// default-constructible. Nodes are addressed by index; the head packs (index + 1, tag) in
// 64 bits and the tag changes on every push and pop, which defeats ABA.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace nvmeof {

template <typename T, uint32_t kChunk = 64, uint32_t kMaxChunks = 2048>
class ReqPool {
 public:
  ReqPool() {
    for (auto& c : chunks_) c.store(nullptr, std::memory_order_relaxed);
  }
  ~ReqPool() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }
  ReqPool(const ReqPool&) = delete;
  ReqPool& operator=(const ReqPool&) = delete;

  // Returns nullptr only when kChunk * kMaxChunks objects are in use (or on bad_alloc).
  T* get() {
    for (;;) {
      uint64_t h = head_.load(std::memory_order_acquire);
      while (static_cast<uint32_t>(h) != 0) {
        T* n = at(static_cast<uint32_t>(h) - 1);
        // n may be popped (and pushed again) by another thread meanwhile: then the tag in
        // the head has changed and the CAS below fails, so a stale `next` is never used.
        const uint32_t next = n->pool_next.load(std::memory_order_relaxed);
        const uint64_t nh = (((h >> 32) + 1) << 32) | next;
        if (head_.compare_exchange_weak(h, nh, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
          return n;
      }
      bool retry = false;
      T* n = grow(&retry);
      if (!retry) return n;
    }
  }

  void put(T* n) {
    uint64_t h = head_.load(std::memory_order_relaxed);
    for (;;) {
      n->pool_next.store(static_cast<uint32_t>(h), std::memory_order_relaxed);
      const uint64_t nh = (((h >> 32) + 1) << 32) | (uint64_t{n->pool_index} + 1);
      if (head_.compare_exchange_weak(h, nh, std::memory_order_release,
                                      std::memory_order_relaxed))
        return;
    }
  }

  // Objects allocated so far (a high-water mark of concurrent I/Os, rounded up to kChunk).
  uint32_t capacity() const { return nchunks_.load(std::memory_order_acquire) * kChunk; }

  // Visits every object ever allocated (control path only, e.g. to free buffers).
  template <typename F>
  void for_each(F&& f) {
    const uint32_t n = nchunks_.load(std::memory_order_acquire);
    for (uint32_t c = 0; c < n; ++c) {
      T* chunk = chunks_[c].load(std::memory_order_acquire);
      for (uint32_t i = 0; i < kChunk; ++i) f(chunk[i]);
    }
  }

 private:
  T* at(uint32_t index) const {
    return &chunks_[index / kChunk].load(std::memory_order_acquire)[index % kChunk];
  }

  T* grow(bool* retry) {
    std::lock_guard<std::mutex> lk(grow_mu_);  // not steady state: only on a new high-water mark
    // Someone else may have grown (or returned objects) while we waited.
    if (static_cast<uint32_t>(head_.load(std::memory_order_acquire)) != 0) {
      *retry = true;
      return nullptr;
    }
    const uint32_t c = nchunks_.load(std::memory_order_relaxed);
    if (c == kMaxChunks) return nullptr;
    T* chunk = new (std::nothrow) T[kChunk];
    if (chunk == nullptr) return nullptr;
    for (uint32_t i = 0; i < kChunk; ++i) chunk[i].pool_index = c * kChunk + i;
    chunks_[c].store(chunk, std::memory_order_release);
    nchunks_.store(c + 1, std::memory_order_release);
    for (uint32_t i = 1; i < kChunk; ++i) put(&chunk[i]);
    return &chunk[0];
  }

  std::atomic<uint64_t> head_{0};
  std::atomic<uint32_t> nchunks_{0};
  std::mutex grow_mu_;
  std::atomic<T*> chunks_[kMaxChunks];
};

}  // namespace nvmeof
