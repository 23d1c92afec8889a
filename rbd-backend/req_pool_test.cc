#include "rbd-backend/req_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace nvmeof {
namespace {

struct Obj {
  uint32_t pool_index = 0;
  std::atomic<uint32_t> pool_next{0};
  std::atomic<int> owners{0};
  uint64_t payload = 0;
};

TEST(ReqPool, GrowsByChunksAndReuses) {
  ReqPool<Obj, 4, 8> pool;
  EXPECT_EQ(pool.capacity(), 0u);
  Obj* a = pool.get();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.capacity(), 4u);
  pool.put(a);
  EXPECT_EQ(pool.get(), a);  // LIFO: the warm object comes back
  std::vector<Obj*> all = {a};
  for (int i = 0; i < 31; ++i) all.push_back(pool.get());
  for (Obj* o : all) ASSERT_NE(o, nullptr);
  EXPECT_EQ(pool.capacity(), 32u);
  EXPECT_EQ(pool.get(), nullptr);  // kChunk * kMaxChunks in use
  for (Obj* o : all) pool.put(o);
  for (int i = 0; i < 100; ++i) pool.put(pool.get());
  EXPECT_EQ(pool.capacity(), 32u);
}

// Threads take and return objects concurrently: an object is never handed out twice, and
// the pool never holds more than the peak number in use (rounded up to a chunk).
TEST(ReqPool, ConcurrentGetPutNeverSharesAnObject) {
  ReqPool<Obj, 16> pool;
  constexpr int kThreads = 4, kIters = 200000, kHold = 8;
  std::atomic<int> errors{0};
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      Obj* held[kHold] = {};
      for (int i = 0; i < kIters; ++i) {
        const int k = (i * 7 + t) % kHold;
        if (held[k] != nullptr) {
          if (held[k]->payload != uint64_t(t) * 1000000 + k) errors.fetch_add(1);
          if (held[k]->owners.fetch_sub(1) != 1) errors.fetch_add(1);
          pool.put(held[k]);
          held[k] = nullptr;
        } else {
          Obj* o = pool.get();
          if (o == nullptr || o->owners.fetch_add(1) != 0) errors.fetch_add(1);
          if (o != nullptr) o->payload = uint64_t(t) * 1000000 + k;
          held[k] = o;
        }
      }
      for (Obj* o : held)
        if (o != nullptr) {
          o->owners.fetch_sub(1);
          pool.put(o);
        }
    });
  }
  for (auto& x : th) x.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(pool.capacity(), uint32_t(kThreads * kHold + 16));
}

}  // namespace
}  // namespace nvmeof
