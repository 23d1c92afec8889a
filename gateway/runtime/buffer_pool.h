// Per-reactor data buffers in power-of-two size classes (4 KiB .. 1 MiB), 4 KiB aligned
// (O_DIRECT friendly). Buffers are allocated on first demand and recycled forever after:
// the data path allocates nothing in steady state. Reactor thread only.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace nvmeof {

class BufferPool {
 public:
  static constexpr int kMinShift = 12;  // 4 KiB
  static constexpr int kMaxShift = 20;  // 1 MiB
  static constexpr int kClasses = kMaxShift - kMinShift + 1;

  ~BufferPool() {
    for (auto& l : free_)
      for (void* p : l) free(p);
  }

  // Returns nullptr if len is larger than the largest class or memory is exhausted.
  uint8_t* Get(uint32_t len, int* cls) {
    int c = ClassOf(len);
    if (c < 0) return nullptr;
    *cls = c;
    auto& l = free_[c];
    if (!l.empty()) {
      void* p = l.back();
      l.pop_back();
      return static_cast<uint8_t*>(p);
    }
    allocated_bytes_ += size_t{1} << (c + kMinShift);
    return static_cast<uint8_t*>(aligned_alloc(4096, size_t{1} << (c + kMinShift)));
  }
  void Put(uint8_t* p, int cls) {
    if (p) free_[cls].push_back(p);
  }
  size_t allocated_bytes() const { return allocated_bytes_; }

  static int ClassOf(uint32_t len) {
    if (len > (1u << kMaxShift)) return -1;
    int c = 0;
    while ((1u << (c + kMinShift)) < len) c++;
    return c;
  }

 private:
  std::vector<void*> free_[kClasses];
  size_t allocated_bytes_ = 0;
};

}  // namespace nvmeof
