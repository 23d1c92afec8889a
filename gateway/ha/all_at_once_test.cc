#include "gateway/ha/all_at_once.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace nvmeof::ha {
namespace {

TEST(RunAllAtOnce, EachIndexOnce) {
  constexpr size_t kN = 70;
  std::vector<std::atomic<int>> ran(kN);
  RunAllAtOnce(kN, [&](size_t i) { ran[i]++; });
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(ran[i].load(), 1) << i;
}

// More calls than a batch of 32 would take, and each waits inside fn until all are inside: this
// returns only if no call was held back until another one returned (a batch would hang;
// ctest's timeout reports that).
TEST(RunAllAtOnce, CallsOverlap) {
  constexpr size_t kN = 40;
  std::mutex mu;
  std::condition_variable cv;
  size_t inside = 0;
  RunAllAtOnce(kN, [&](size_t) {
    std::unique_lock lk(mu);
    if (++inside == kN) cv.notify_all();
    cv.wait(lk, [&] { return inside == kN; });
  });
  EXPECT_EQ(inside, kN);
}

TEST(RunAllAtOnce, NoCallsForZero) {
  int calls = 0;
  RunAllAtOnce(0, [&](size_t) { calls++; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace nvmeof::ha
